//! youki's `libcontainer` as an [`OciRuntime`], in-process.
//!
//! Not thread-safe (libcontainer changes the working directory while creating): only the
//! single-threaded shim and the exec helper call it. Seccomp is compiled in (feature `libseccomp`).

use std::path::{Path, PathBuf};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::{Container, ContainerStatus};
use libcontainer::syscall::syscall::SyscallType;
use oci_spec::runtime::Process;

use super::{ContainerIo, ExecProcess, OciRuntime, RuntimeState, Status};
use crate::error::{Error, IoContext, Result};

/// Runs containers with libcontainer, state under `root`.
#[derive(Debug, Clone)]
pub struct Youki {
    root: PathBuf,
}

fn err(op: &'static str, id: &str, e: impl std::fmt::Display) -> Error {
    Error::Runtime { runtime: "libcontainer", op, id: id.to_string(), message: e.to_string() }
}

impl Youki {
    /// A libcontainer runtime with state under `root`.
    pub fn new(root: PathBuf) -> Self {
        Youki { root }
    }

    fn load(&self, op: &'static str, id: &str) -> Result<Container> {
        Container::load(self.root.join(id)).map_err(|e| err(op, id, e))
    }

    fn builder(&self, op: &'static str, id: &str, io: ContainerIo) -> Result<ContainerBuilder> {
        let mut b = ContainerBuilder::new(id.to_string(), SyscallType::default())
            .with_console_socket(io.console_socket)
            .with_root_path(&self.root)
            .map_err(|e| err(op, id, e))?
            .validate_id()
            .map_err(|e| err(op, id, e))?;
        if let Some(fd) = io.stdin {
            b = b.with_stdin(fd);
        }
        if let Some(fd) = io.stdout {
            b = b.with_stdout(fd);
        }
        if let Some(fd) = io.stderr {
            b = b.with_stderr(fd);
        }
        Ok(b)
    }

    /// Removes whatever a failed create left: the init process, cgroups and the state directory.
    fn clean_failed_create(&self, id: &str, bundle: &Path) {
        if let Ok(mut c) = Container::load(self.root.join(id)) {
            let _ = c.delete(true);
        }
        if let Ok(spec) = crate::spec::read_bundle(bundle) {
            if let Some(path) = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone()) {
                let _ = crate::cgroups::remove(&path.to_string_lossy());
            }
        }
        let _ = std::fs::remove_dir_all(self.root.join(id));
    }
}

impl OciRuntime for Youki {
    fn name(&self) -> &'static str {
        "libcontainer"
    }

    fn create(&self, id: &str, bundle: &Path, io: ContainerIo) -> Result<i32> {
        if self.root.join(id).exists() {
            return Err(Error::Exists(id.into()));
        }
        let built = self
            .builder("create", id, io)?
            .as_init(bundle)
            .with_systemd(false)
            .with_detach(true)
            .build();
        match built {
            Ok(c) => match c.pid() {
                Some(pid) => Ok(pid.as_raw()),
                None => {
                    self.clean_failed_create(id, bundle);
                    Err(err("create", id, "container has no pid"))
                }
            },
            Err(e) => {
                self.clean_failed_create(id, bundle);
                Err(err("create", id, e))
            }
        }
    }

    fn start(&self, id: &str) -> Result<()> {
        self.load("start", id)?.start().map_err(|e| err("start", id, e))
    }

    fn state(&self, id: &str) -> Result<RuntimeState> {
        let mut c = self.load("state", id)?;
        c.refresh_status().map_err(|e| err("state", id, e))?;
        let status = match c.status() {
            ContainerStatus::Creating => Status::Creating,
            ContainerStatus::Created => Status::Created,
            ContainerStatus::Running => Status::Running,
            ContainerStatus::Paused => Status::Paused,
            ContainerStatus::Stopped => Status::Stopped,
        };
        Ok(RuntimeState {
            id: id.into(),
            status,
            pid: if status == Status::Stopped { None } else { c.pid().map(|p| p.as_raw()) },
            bundle: c.bundle().clone(),
        })
    }

    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let sig = libcontainer::signal::Signal::try_from(signal).map_err(|e| err("kill", id, e))?;
        self.load("kill", id)?.kill(sig, all).map_err(|e| err("kill", id, e))
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        if !self.root.join(id).exists() {
            return Ok(());
        }
        self.load("delete", id)?.delete(force).map_err(|e| err("delete", id, e))
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
        let file = dir.join(format!("{id}-{}.json", std::process::id()));
        let text = serde_json::to_vec(process).map_err(|source| Error::Json { what: "exec process".into(), source })?;
        std::fs::write(&file, text).ctx("write", &file)?;
        let built = self
            .builder("exec", id, ContainerIo { console_socket: console_socket.map(Path::to_path_buf), ..io })?
            .as_tenant()
            .with_process(Some(&file))
            // A terminal is handed to the console socket only for a detached process (reparented
            // to the caller, which must be a child subreaper to wait for it).
            .with_detach(console_socket.is_some())
            .build();
        let _ = std::fs::remove_file(&file);
        let pid = built.map_err(|e| err("exec", id, e))?;
        Ok(Box::new(super::PidExec { id: id.to_string(), pid }))
    }
}
