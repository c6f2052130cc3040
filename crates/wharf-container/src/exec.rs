//! Exec into a running container (for `kubectl exec` and exec probes).
//!
//! With `runc` the agent runs `runc exec` directly. With libcontainer the exec runs in a fresh
//! single-threaded helper process (the shim binary's `exec` mode), never in the agent.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use oci_spec::runtime::Process;
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::runtime::{ContainerIo, RuntimeConfig, RuntimeKind};
use crate::shim::ShimCommand;

#[derive(Debug, Serialize, Deserialize)]
struct ExecRequest {
    runtime: RuntimeConfig,
    id: String,
    process: Process,
    #[serde(default)]
    console_socket: Option<PathBuf>,
}

/// A process started by [`spawn`]: its pipes (when requested) and the exit code on wait.
#[derive(Debug)]
pub struct Exec {
    /// The `runc exec` or helper process; its stdin/stdout/stderr are the exec'd process's.
    pub child: Child,
}

impl Exec {
    /// Waits for the process; its exit code (128+signal when killed by a signal).
    pub fn wait(mut self) -> Result<i32> {
        let st = self.child.wait().ctx("wait for exec", "exec")?;
        use std::os::unix::process::ExitStatusExt;
        Ok(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)))
    }

    /// Collects stdout/stderr until the process exits (stdin is closed first).
    pub fn output(mut self) -> Result<(i32, Vec<u8>, Vec<u8>)> {
        drop(self.child.stdin.take());
        let out = self.child.wait_with_output().ctx("wait for exec", "exec")?;
        use std::os::unix::process::ExitStatusExt;
        let code = out.status.code().unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
        Ok((code, out.stdout, out.stderr))
    }
}

/// A process to run in a container: argv, environment and working directory (user and
/// capabilities are taken from the container's own process when given).
pub fn process_for(base: Option<&Process>, args: &[String], env: &[String]) -> Result<Process> {
    let mut p = base.cloned().unwrap_or_default();
    p.set_args(Some(args.to_vec()));
    p.set_terminal(Some(false));
    let mut all = p.env().clone().unwrap_or_default();
    all.extend(env.iter().cloned());
    p.set_env(Some(all));
    Ok(p)
}

/// Starts `process` in container `id` with piped stdin/stdout/stderr.
pub fn spawn(runtime: &RuntimeConfig, shim: &ShimCommand, id: &str, process: &Process) -> Result<Exec> {
    let mut p = process.clone();
    p.set_terminal(Some(false));
    let child = start(runtime, shim, id, &p, None)?;
    Ok(Exec { child })
}

/// A process started by [`spawn_tty`]: the terminal's master end carries its input and output.
#[derive(Debug)]
pub struct TtyExec {
    /// The `runc exec` or helper process (its exit code is the exec'd process's).
    pub child: Child,
    /// The terminal master: write input, read output; reads fail with `EIO` once the process exits.
    pub master: std::fs::File,
}

impl TtyExec {
    /// Sets the terminal's window size (`kubectl exec -t` resize events).
    pub fn resize(&self, rows: u16, cols: u16) -> Result<()> {
        crate::sys::set_winsize(&self.master, rows, cols).ctx("resize terminal", "exec")
    }

    /// Waits for the process; its exit code.
    pub fn wait(mut self) -> Result<i32> {
        let st = self.child.wait().ctx("wait for exec", "exec")?;
        use std::os::unix::process::ExitStatusExt;
        Ok(st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)))
    }
}

/// Starts `process` in container `id` on a new terminal.
pub fn spawn_tty(runtime: &RuntimeConfig, shim: &ShimCommand, id: &str, process: &Process) -> Result<TtyExec> {
    let dir = runtime.root.join("exec");
    std::fs::create_dir_all(&dir).ctx("create", &dir)?;
    let sock = dir.join(format!("tty-{}-{}.sock", std::process::id(), unique()));
    let listener = std::os::unix::net::UnixListener::bind(&sock).ctx("bind", &sock)?;
    let result = (|| {
        listener.set_nonblocking(true).ctx("nonblocking", &sock)?;
        let mut p = process.clone();
        p.set_terminal(Some(true));
        let mut child = start(runtime, shim, id, &p, Some(&sock))?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match listener.accept() {
                Ok((conn, _)) => {
                    conn.set_nonblocking(false).ctx("blocking", &sock)?;
                    let master = crate::sys::recv_fd(&conn).ctx("receive terminal", &sock)?;
                    return Ok(TtyExec { child, master: std::fs::File::from(master) });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e).ctx("accept", &sock),
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                return Err(Error::Runtime {
                    runtime: runtime.kind.name(),
                    op: "exec",
                    id: id.to_string(),
                    message: format!("exited with {status} before handing over the terminal: {}", err.trim()),
                });
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Timeout(std::time::Duration::from_secs(30), format!("terminal of exec in {id}")));
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    })();
    let _ = std::fs::remove_file(&sock);
    result
}

/// Spawns `runc exec` or the exec helper for `process`.
fn start(
    runtime: &RuntimeConfig,
    shim: &ShimCommand,
    id: &str,
    process: &Process,
    console_socket: Option<&Path>,
) -> Result<Child> {
    let dir = runtime.root.join("exec");
    std::fs::create_dir_all(&dir).ctx("create", &dir)?;
    let tty = console_socket.is_some();
    // A terminal needs a detached process, reparented to a waiting subreaper: the helper.
    let via_helper = tty || runtime.kind == RuntimeKind::Libcontainer;
    let (mut cmd, program) = match via_helper {
        false => {
            let bin = runtime.runc_binary.clone().unwrap_or_else(|| PathBuf::from("runc"));
            remove_stale_exec_files(&dir);
            let file = dir.join(format!("{id}-{}-{}.json", std::process::id(), unique()));
            write_process(&file, process)?;
            let mut c = std::process::Command::new(&bin);
            c.arg("--root").arg(&runtime.root).arg("exec").arg("--process").arg(&file).arg(id);
            (c, bin)
        }
        true => {
            let file = dir.join(format!("req-{id}-{}-{}.json", std::process::id(), unique()));
            let req = ExecRequest {
                runtime: runtime.clone(),
                id: id.to_string(),
                process: process.clone(),
                console_socket: console_socket.map(Path::to_path_buf),
            };
            let text = serde_json::to_vec(&req).map_err(|source| Error::Json { what: "exec request".into(), source })?;
            std::fs::write(&file, text).ctx("write", &file)?;
            let mut c = shim.command("exec");
            c.arg(&file);
            (c, shim.program.clone())
        }
    };
    if tty {
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    } else {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    cmd.spawn().ctx("run", &program)
}

fn unique() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default()
}

fn write_process(file: &Path, process: &Process) -> Result<()> {
    let text = serde_json::to_vec(process).map_err(|source| Error::Json { what: "exec process".into(), source })?;
    std::fs::write(file, text).ctx("write", file)
}

/// runc reads `--process` before it starts the exec'd process, so files older than a minute are
/// no longer needed; they are removed on the next exec.
fn remove_stale_exec_files(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    for e in rd.flatten() {
        if e.metadata().and_then(|m| m.modified()).map(|t| t < old).unwrap_or(false) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The `exec` helper: runs one exec request with this process's stdio and exits with its code.
pub(crate) fn exec_main(file: &Path) -> i32 {
    let req: Result<ExecRequest> = std::fs::read(file)
        .ctx("read", file)
        .and_then(|t| serde_json::from_slice(&t).map_err(|source| Error::Json { what: "exec request".into(), source }));
    let _ = std::fs::remove_file(file);
    let req = match req {
        Ok(r) => r,
        Err(e) => {
            eprintln!("exec: {e}");
            return 126;
        }
    };
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let io = ContainerIo {
        stdin: std::io::stdin().as_fd().try_clone_to_owned().ok(),
        stdout: std::io::stdout().as_fd().try_clone_to_owned().ok(),
        stderr: std::io::stderr().as_fd().try_clone_to_owned().ok(),
        console_socket: None,
    };
    let result = req.runtime.open().and_then(|rt| rt.exec(&req.id, &req.process, io, req.console_socket.as_deref())).and_then(|p| p.wait());
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("exec: {e}");
            126
        }
    }
}
