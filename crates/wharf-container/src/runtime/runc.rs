//! The `runc` binary as an [`OciRuntime`].

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use oci_spec::runtime::Process;

use super::{ContainerIo, ExecProcess, OciRuntime, RuntimeState, Status};
use crate::error::{Error, IoContext, Result};

/// Runs containers with the `runc` binary, state under its own `--root`.
#[derive(Debug, Clone)]
pub struct Runc {
    binary: PathBuf,
    root: PathBuf,
}

fn stdio(fd: Option<std::os::fd::OwnedFd>) -> Stdio {
    fd.map(Stdio::from).unwrap_or_else(Stdio::null)
}

impl Runc {
    /// A runc runtime using `binary` with state under `root`.
    pub fn new(binary: PathBuf, root: PathBuf) -> Self {
        Runc { binary, root }
    }

    fn cmd(&self, log: Option<&Path>) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("--root").arg(&self.root);
        if let Some(l) = log {
            c.arg("--log").arg(l).arg("--log-format").arg("json");
        }
        c
    }

    fn run(&self, op: &'static str, id: &str, args: &[&str]) -> Result<Vec<u8>> {
        let out = self
            .cmd(None)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .ctx("run", &self.binary)?;
        if !out.status.success() {
            return Err(Error::Runtime {
                runtime: "runc",
                op,
                id: id.to_string(),
                message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(out.stdout)
    }

    fn log_message(log: &Path) -> String {
        // runc's json log: the last "error"-level message says why it failed.
        let text = std::fs::read_to_string(log).unwrap_or_default();
        text.lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["level"] == "error" || v["level"] == "fatal")
            .filter_map(|v| v["msg"].as_str().map(str::to_string))
            .next()
            .unwrap_or_else(|| text.trim().to_string())
    }
}

impl OciRuntime for Runc {
    fn name(&self) -> &'static str {
        "runc"
    }

    fn create(&self, id: &str, bundle: &Path, io: ContainerIo) -> Result<i32> {
        if self.state(id).is_ok() {
            return Err(Error::Exists(id.into()));
        }
        let pid_file = self.root.join(format!("{id}.pid"));
        let log = self.root.join(format!("{id}.create.log"));
        let _ = std::fs::remove_file(&log);
        let mut cmd = self.cmd(Some(&log));
        cmd.arg("create");
        if let Some(sock) = &io.console_socket {
            cmd.arg("--console-socket").arg(sock);
        }
        let status = cmd
            .arg("--bundle")
            .arg(bundle)
            .arg("--pid-file")
            .arg(&pid_file)
            .arg(id)
            .stdin(stdio(io.stdin))
            .stdout(stdio(io.stdout))
            .stderr(stdio(io.stderr))
            .status()
            .ctx("run", &self.binary)?;
        let result = if status.success() {
            std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
                .ok_or_else(|| Error::Runtime {
                    runtime: "runc",
                    op: "create",
                    id: id.into(),
                    message: format!("no pid in {}", pid_file.display()),
                })
        } else {
            Err(Error::Runtime { runtime: "runc", op: "create", id: id.into(), message: Self::log_message(&log) })
        };
        let _ = std::fs::remove_file(&pid_file);
        let _ = std::fs::remove_file(&log);
        if result.is_err() {
            // runc cleans up after itself on most failures; make sure nothing is left.
            let _ = self.run("delete", id, &["delete", "--force", id]);
        }
        result
    }

    fn start(&self, id: &str) -> Result<()> {
        self.run("start", id, &["start", id]).map(|_| ())
    }

    fn state(&self, id: &str) -> Result<RuntimeState> {
        let out = self.run("state", id, &["state", id])?;
        let v: serde_json::Value =
            serde_json::from_slice(&out).map_err(|source| Error::Json { what: format!("runc state {id}"), source })?;
        let status = match v["status"].as_str().unwrap_or("") {
            "creating" => Status::Creating,
            "created" => Status::Created,
            "running" => Status::Running,
            "paused" => Status::Paused,
            _ => Status::Stopped,
        };
        let pid = v["pid"].as_i64().filter(|p| *p > 0).map(|p| p as i32);
        Ok(RuntimeState {
            id: id.into(),
            status,
            pid: if status == Status::Stopped { None } else { pid },
            bundle: PathBuf::from(v["bundle"].as_str().unwrap_or_default()),
        })
    }

    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let sig = signal.to_string();
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.push(id);
        args.push(&sig);
        self.run("kill", id, &args).map(|_| ())
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut args = vec!["delete"];
        if force {
            args.push("--force");
        }
        args.push(id);
        match self.run("delete", id, &args) {
            Err(Error::Runtime { message, .. }) if message.contains("does not exist") => Ok(()),
            r => r.map(|_| ()),
        }
    }

    fn exec(
        &self,
        id: &str,
        process: &Process,
        io: ContainerIo,
        console_socket: Option<&Path>,
    ) -> Result<Box<dyn ExecProcess>> {
        let dir = self.root.join("exec");
        std::fs::create_dir_all(&dir).ctx("create", &dir)?;
        let file = tempfile_in(&dir, id)?;
        let text = serde_json::to_vec(process).map_err(|source| Error::Json { what: "exec process".into(), source })?;
        std::fs::write(&file, text).ctx("write", &file)?;
        let mut cmd = self.cmd(None);
        cmd.arg("exec").arg("--process").arg(&file);
        if let Some(sock) = console_socket {
            // runc hands a terminal to a console socket only for a detached process; it is then
            // reparented to the caller, which must be a child subreaper to wait for it.
            let pid_file = file.with_extension("pid");
            let out = cmd
                .arg("--detach")
                .arg("--tty")
                .arg("--console-socket")
                .arg(sock)
                .arg("--pid-file")
                .arg(&pid_file)
                .arg(id)
                .stdin(Stdio::null())
                .output()
                .ctx("run", &self.binary);
            let _ = std::fs::remove_file(&file);
            let pid = std::fs::read_to_string(&pid_file).ok().and_then(|p| p.trim().parse::<i32>().ok());
            let _ = std::fs::remove_file(&pid_file);
            let out = out?;
            return match pid {
                Some(pid) if out.status.success() => {
                    Ok(Box::new(super::PidExec { id: id.to_string(), pid: nix::unistd::Pid::from_raw(pid) }))
                }
                _ => Err(Error::Runtime {
                    runtime: "runc",
                    op: "exec",
                    id: id.into(),
                    message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                }),
            };
        }
        let child = cmd
            .arg(id)
            .stdin(stdio(io.stdin))
            .stdout(stdio(io.stdout))
            .stderr(stdio(io.stderr))
            .spawn()
            .ctx("run", &self.binary);
        match child {
            Ok(child) => Ok(Box::new(RuncExec { child, file })),
            Err(e) => {
                let _ = std::fs::remove_file(&file);
                Err(e)
            }
        }
    }
}

fn tempfile_in(dir: &Path, id: &str) -> Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    Ok(dir.join(format!("{id}-{}-{nanos}.json", std::process::id())))
}

struct RuncExec {
    child: std::process::Child,
    file: PathBuf,
}

impl ExecProcess for RuncExec {
    fn wait(mut self: Box<Self>) -> Result<i32> {
        let status = self.child.wait().ctx("wait for runc exec", &self.file);
        let _ = std::fs::remove_file(&self.file);
        let status = status?;
        use std::os::unix::process::ExitStatusExt;
        Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
    }
}
