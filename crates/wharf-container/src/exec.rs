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
    let bin: PathBuf;
    let mut cmd = match runtime.kind {
        RuntimeKind::Runc => {
            bin = match &runtime.runc_binary {
                Some(b) => b.clone(),
                None => PathBuf::from("runc"),
            };
            let dir = runtime.root.join("exec");
            std::fs::create_dir_all(&dir).ctx("create", &dir)?;
            let file = dir.join(format!("{id}-{}-{}.json", std::process::id(), unique()));
            write_process(&file, process)?;
            let mut c = std::process::Command::new(&bin);
            c.arg("--root").arg(&runtime.root).arg("exec").arg("--process").arg(&file).arg(id);
            remove_stale_exec_files(&dir);
            let child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
            let child = match child {
                Ok(c) => c,
                Err(e) => {
                    let _ = std::fs::remove_file(&file);
                    return Err(e).ctx("run", &bin);
                }
            };
            return Ok(Exec { child });
        }
        RuntimeKind::Libcontainer => {
            let dir = runtime.root.join("exec");
            std::fs::create_dir_all(&dir).ctx("create", &dir)?;
            let file = dir.join(format!("req-{id}-{}-{}.json", std::process::id(), unique()));
            let req = ExecRequest { runtime: runtime.clone(), id: id.to_string(), process: process.clone() };
            let text = serde_json::to_vec(&req).map_err(|source| Error::Json { what: "exec request".into(), source })?;
            std::fs::write(&file, text).ctx("write", &file)?;
            let mut c = shim.command("exec");
            c.arg(&file);
            c
        }
    };
    let child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ctx("run", &shim.program)?;
    Ok(Exec { child })
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
    };
    let result = req.runtime.open().and_then(|rt| rt.exec(&req.id, &req.process, io)).and_then(|p| p.wait());
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("exec: {e}");
            126
        }
    }
}
