//! Pod sandboxes: a pause process holding the pod's network, IPC and UTS namespaces (hostname = pod
//! name, loopback up). It runs in its own session, reparented to init like a shim, so it outlives
//! the agent; the pod's containers join its namespaces by `/proc/<pid>/ns/...` path.
//! Pod networking (veth, addresses) is done elsewhere on the namespace this creates.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal};
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result, SysContext};
use crate::shim::{report, run_start, ShimCommand};
use crate::spec::NamespacePaths;

/// What a sandbox is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxConfig {
    /// The pod's UID.
    pub pod_uid: String,
    /// Hostname inside the pod (the pod name, or `spec.hostname`).
    pub hostname: String,
    /// The sandbox's state directory.
    pub dir: PathBuf,
    /// The pod's cgroup path ([`crate::cgroups::pod_path`]); the pause process lives in `<path>/pause`.
    pub cgroup_path: String,
    /// How to re-execute the shim binary.
    pub shim: ShimCommand,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SandboxState {
    pid: i32,
    /// Process start time (clock ticks since boot) to tell the pause process from a reused pid.
    start_time: u64,
}

/// A running pod sandbox.
#[derive(Debug, Clone)]
pub struct Sandbox {
    config: SandboxConfig,
    state: SandboxState,
}

fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; starttime is field 22 (index 19 after the name).
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl Sandbox {
    /// Creates the sandbox: starts the pause process and waits until its namespaces are ready.
    pub fn create(config: SandboxConfig) -> Result<Sandbox> {
        if config.hostname.is_empty() || config.hostname.len() > 64 {
            return Err(Error::Invalid { what: "sandbox hostname", message: format!("{:?}", config.hostname) });
        }
        std::fs::create_dir_all(&config.dir).ctx("create sandbox dir", &config.dir)?;
        let cfg_path = config.dir.join("shim.json");
        let text = serde_json::to_vec(&config).map_err(|source| Error::Json { what: "sandbox config".into(), source })?;
        std::fs::write(&cfg_path, text).ctx("write", &cfg_path)?;
        let line = run_start(&config.shim, "pause", &config.dir)?;
        if !line.starts_with("ok ") {
            let _ = crate::cgroups::remove(&config.cgroup_path);
            let _ = std::fs::remove_dir_all(&config.dir);
            return Err(Error::Shim { id: config.pod_uid.clone(), message: line.trim_start_matches("err ").into() });
        }
        let state: SandboxState = read(&config.dir.join("sandbox.json"))?;
        Ok(Sandbox { config, state })
    }

    /// Re-adopts the sandbox recorded in `dir`; `Ok(None)` when its pause process is gone.
    pub fn adopt(dir: &Path) -> Result<Option<Sandbox>> {
        let config: SandboxConfig = read(&dir.join("shim.json"))?;
        let state: SandboxState = match read(&dir.join("sandbox.json")) {
            Ok(s) => s,
            Err(_) => return Ok(None),
        };
        let sb = Sandbox { config, state };
        Ok(sb.is_alive().then_some(sb))
    }

    /// The config it was created with.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Pid of the pause process.
    pub fn pid(&self) -> i32 {
        self.state.pid
    }

    /// Whether the pause process still runs.
    pub fn is_alive(&self) -> bool {
        start_time(self.state.pid) == Some(self.state.start_time)
    }

    /// Namespace paths for the pod's containers to join.
    pub fn namespaces(&self) -> NamespacePaths {
        let p = |ns: &str| Some(PathBuf::from(format!("/proc/{}/ns/{ns}", self.state.pid)));
        NamespacePaths { network: p("net"), ipc: p("ipc"), uts: p("uts"), pid: None }
    }

    /// Path of the network namespace (for pod networking).
    pub fn netns_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.state.pid))
    }

    /// Stops the pause process and removes the pod cgroup tree and the sandbox directory.
    /// Delete the pod's containers first.
    pub fn destroy(self) -> Result<()> {
        destroy_recorded(&self.config, Some(&self.state))
    }
}

fn destroy_recorded(config: &SandboxConfig, state: Option<&SandboxState>) -> Result<()> {
    if let Some(st) = state {
        if start_time(st.pid) == Some(st.start_time) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(st.pid), Signal::SIGKILL);
            let deadline = Instant::now() + Duration::from_secs(5);
            while start_time(st.pid) == Some(st.start_time) {
                if Instant::now() > deadline {
                    return Err(Error::Timeout(Duration::from_secs(5), format!("pause process {} to exit", st.pid)));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    crate::cgroups::remove(&config.cgroup_path)?;
    match std::fs::remove_dir_all(&config.dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).ctx("remove", &config.dir),
        _ => Ok(()),
    }
}

/// Removes a sandbox directory whose pause process may or may not run (orphan cleanup).
pub fn destroy_dir(dir: &Path) -> Result<()> {
    let config: SandboxConfig = read(&dir.join("shim.json"))?;
    let state: Option<SandboxState> = read(&dir.join("sandbox.json")).ok();
    destroy_recorded(&config, state.as_ref())
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read(path).ctx("read", path)?;
    serde_json::from_slice(&text).map_err(|source| Error::Json { what: path.display().to_string(), source })
}

/// The pause process: new namespaces, hostname, loopback up, then sleep until told to stop.
pub(crate) fn pause_main(dir: &Path) -> i32 {
    match pause_setup(dir) {
        Ok(mask) => loop {
            match mask.wait() {
                Ok(Signal::SIGCHLD) => while let Ok(s) = nix::sys::wait::waitpid(
                    nix::unistd::Pid::from_raw(-1),
                    Some(nix::sys::wait::WaitPidFlag::WNOHANG),
                ) {
                    if s == nix::sys::wait::WaitStatus::StillAlive {
                        break;
                    }
                },
                Ok(Signal::SIGTERM) | Ok(Signal::SIGINT) => return 0,
                _ => {}
            }
        },
        Err(e) => {
            report(&format!("err {e}"));
            1
        }
    }
}

fn pause_setup(dir: &Path) -> Result<SigSet> {
    let config: SandboxConfig = read(&dir.join("shim.json"))?;
    nix::unistd::setsid().sys("setsid")?;
    let mut mask = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGCHLD] {
        mask.add(s);
    }
    mask.thread_block().sys("block signals")?;
    crate::cgroups::enter(&format!("{}/pause", config.cgroup_path), std::process::id() as i32)?;
    nix::sched::unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS)
        .sys("unshare network, ipc and uts namespaces")?;
    nix::unistd::sethostname(&config.hostname).sys("sethostname")?;
    crate::sys::link_up("lo").ctx("bring up", "lo")?;
    let pid = std::process::id() as i32;
    let state = SandboxState {
        pid,
        start_time: start_time(pid).ok_or_else(|| Error::Invalid { what: "own process", message: "no start time".into() })?,
    };
    let path = dir.join("sandbox.json");
    let text = serde_json::to_vec(&state).map_err(|source| Error::Json { what: "sandbox state".into(), source })?;
    std::fs::write(&path, text).ctx("write", &path)?;
    // Leave the agent's working directory and mounts alone.
    let _ = std::env::set_current_dir("/");
    report(&format!("ok {pid}"));
    Ok(mask)
}
