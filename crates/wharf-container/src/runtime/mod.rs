//! The OCI runtime trait (`create/start/state/kill/delete/exec` over a bundle) and its implementations.
//!
//! Implementations are **not** required to be thread-safe: youki's libcontainer changes the process's
//! working directory while creating a container. Call them from the single-threaded shim or from a
//! short-lived helper process only.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Process;

use crate::error::{Error, Result};

mod runc;
#[cfg(feature = "libcontainer")]
mod youki;

pub use runc::Runc;
#[cfg(feature = "libcontainer")]
pub use youki::Youki;

/// Which OCI runtime runs the containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RuntimeKind {
    /// youki's `libcontainer`, in the shim process.
    Libcontainer,
    /// The `runc` binary.
    Runc,
}

impl RuntimeKind {
    /// The runtime's name.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::Libcontainer => "libcontainer",
            RuntimeKind::Runc => "runc",
        }
    }

    /// Every runtime compiled into this binary (with `runc` only when its binary is found).
    pub fn available() -> Vec<RuntimeKind> {
        let mut v = Vec::new();
        if cfg!(feature = "libcontainer") {
            v.push(RuntimeKind::Libcontainer);
        }
        if find_in_path("runc").is_some() {
            v.push(RuntimeKind::Runc);
        }
        v
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Where a runtime keeps its state and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuntimeConfig {
    /// The runtime.
    pub kind: RuntimeKind,
    /// The runtime's state root (`runc --root`, libcontainer's root path); per node agent.
    pub root: PathBuf,
    /// The `runc` binary (found on `PATH` when `None`).
    pub runc_binary: Option<PathBuf>,
}

impl RuntimeConfig {
    /// A config for `kind` with its state under `root`.
    pub fn new(kind: RuntimeKind, root: impl Into<PathBuf>) -> Self {
        RuntimeConfig { kind, root: root.into(), runc_binary: None }
    }

    /// Opens the runtime.
    pub fn open(&self) -> Result<Box<dyn OciRuntime>> {
        std::fs::create_dir_all(&self.root).map_err(|source| Error::Io {
            op: "create runtime root",
            path: self.root.clone(),
            source,
        })?;
        match self.kind {
            RuntimeKind::Runc => {
                let bin = match &self.runc_binary {
                    Some(b) => b.clone(),
                    None => find_in_path("runc").ok_or_else(|| Error::Runtime {
                        runtime: "runc",
                        op: "find",
                        id: String::new(),
                        message: "runc binary not found on PATH".into(),
                    })?,
                };
                Ok(Box::new(Runc::new(bin, self.root.clone())))
            }
            #[cfg(feature = "libcontainer")]
            RuntimeKind::Libcontainer => Ok(Box::new(Youki::new(self.root.clone()))),
            #[cfg(not(feature = "libcontainer"))]
            RuntimeKind::Libcontainer => Err(Error::NotCompiled("libcontainer")),
        }
    }
}

/// The standard streams handed to a container process; `None` is `/dev/null`.
#[derive(Debug, Default)]
pub struct ContainerIo {
    /// Standard input.
    pub stdin: Option<OwnedFd>,
    /// Standard output.
    pub stdout: Option<OwnedFd>,
    /// Standard error.
    pub stderr: Option<OwnedFd>,
    /// For a container whose `process.terminal` is set: the unix socket that receives the
    /// terminal's master end (the streams above are then unused).
    pub console_socket: Option<PathBuf>,
}

/// A container's lifecycle status as the runtime reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created.
    Creating,
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Frozen.
    Paused,
    /// Exited.
    Stopped,
}

/// The runtime's view of one container.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuntimeState {
    /// Container id.
    pub id: String,
    /// Status.
    pub status: Status,
    /// Pid of the container's init process, when it has one.
    pub pid: Option<i32>,
    /// The bundle directory.
    pub bundle: PathBuf,
}

/// A process started inside a running container by [`OciRuntime::exec`].
pub trait ExecProcess {
    /// Waits for the process and returns its exit code (128+signal when killed by a signal).
    fn wait(self: Box<Self>) -> Result<i32>;
}

/// An OCI runtime: container lifecycle over a bundle directory holding `config.json` and the rootfs.
pub trait OciRuntime {
    /// `runc` or `libcontainer`.
    fn name(&self) -> &'static str;
    /// Creates the container (init process waiting to exec the user program); returns its pid.
    /// On failure nothing is left behind: no init process, no cgroup, no runtime state. An id that
    /// already exists is refused without touching the existing container.
    fn create(&self, id: &str, bundle: &Path, io: ContainerIo) -> Result<i32>;
    /// Starts the user program of a created container.
    fn start(&self, id: &str) -> Result<()>;
    /// The runtime's state of the container.
    fn state(&self, id: &str) -> Result<RuntimeState>;
    /// Sends `signal` to the init process (`all`: to every process of the container).
    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()>;
    /// Deletes the container's runtime state and cgroups (`force` kills it first).
    fn delete(&self, id: &str, force: bool) -> Result<()>;
    /// Runs `process` inside the running container with the given streams; when `process.terminal`
    /// is set, the terminal's master end is sent to `console_socket` instead.
    fn exec(
        &self,
        id: &str,
        process: &Process,
        io: ContainerIo,
        console_socket: Option<&Path>,
    ) -> Result<Box<dyn ExecProcess>>;
}

/// Exit code as the kubelet reports it: the code, or 128+signal.
pub(crate) fn exit_code_of(status: nix::sys::wait::WaitStatus) -> Option<(i32, Option<i32>)> {
    use nix::sys::wait::WaitStatus;
    match status {
        WaitStatus::Exited(_, code) => Some((code, None)),
        WaitStatus::Signaled(_, sig, _) => Some((128 + sig as i32, Some(sig as i32))),
        _ => None,
    }
}

/// An exec'd process waited for by pid (a child, or reparented to this child subreaper).
#[cfg_attr(not(feature = "libcontainer"), allow(dead_code))]
pub(crate) struct PidExec {
    pub(crate) id: String,
    pub(crate) pid: nix::unistd::Pid,
}

impl ExecProcess for PidExec {
    fn wait(self: Box<Self>) -> Result<i32> {
        loop {
            match nix::sys::wait::waitpid(self.pid, None) {
                Ok(st) => {
                    if let Some((code, _)) = exit_code_of(st) {
                        return Ok(code);
                    }
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    return Err(Error::Runtime { runtime: "exec", op: "wait", id: self.id.clone(), message: e.to_string() })
                }
            }
        }
    }
}
