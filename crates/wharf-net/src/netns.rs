//! Network namespaces: persistent (bind-mounted) namespaces, and running code, binding sockets and
//! spawning processes inside one.
//!
//! Code runs in a namespace on a fresh OS thread (never a pooled one) that `setns`es and then ends,
//! so the switch never leaks into the rest of the process. Sockets and child processes keep the
//! namespace they were created in, which is what makes `bind_tcp_in` and `spawn_in` work without
//! `unsafe` `pre_exec` hooks.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

use crate::error::{Error, Result};

/// Runs `f` on a new thread inside the network namespace whose file is `netns`, and returns its value.
pub fn run_in_netns<T: Send + 'static>(netns: &Path, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let file = File::open(netns).map_err(|e| Error::io("open netns", netns, e))?;
    let path = netns.to_path_buf();
    let thread_path = path.clone();
    let handle = std::thread::Builder::new()
        .name("wharf-netns".into())
        .spawn(move || -> Result<T> {
            nix::sched::setns(&file, CloneFlags::CLONE_NEWNET)
                .map_err(|source| Error::Namespace { op: "setns", path: thread_path, source })?;
            Ok(f())
        })
        .map_err(|e| Error::Thread { path: path.clone(), detail: e.to_string() })?;
    handle.join().map_err(|_| Error::Thread { path, detail: "panicked".into() })?
}

/// Binds a TCP listener whose socket lives in the network namespace `netns`.
pub fn bind_tcp_in(netns: &Path, addr: SocketAddr) -> Result<TcpListener> {
    run_in_netns(netns, move || TcpListener::bind(addr))?.map_err(|e| Error::io("bind tcp in netns", netns, e))
}

/// Spawns `command` so that the child process starts in the network namespace `netns`.
pub fn spawn_in(netns: &Path, mut command: Command) -> Result<Child> {
    run_in_netns(netns, move || command.spawn())?.map_err(|e| Error::io("spawn in netns", netns, e))
}

/// Whether `path` is a mounted network namespace file (nsfs).
pub fn is_netns(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).map(|s| s.filesystem_type() == nix::sys::statfs::NSFS_MAGIC).unwrap_or(false)
}

/// Creates a persistent network namespace bind-mounted at `path`; a namespace already mounted there
/// is adopted as is (idempotent). Parent directories are created.
pub fn create_netns(path: &Path) -> Result<()> {
    if is_netns(path) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io("create dir", parent, e))?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io("create netns file", path, e))?;
    let target = path.to_path_buf();
    let thread_target = target.clone();
    let handle = std::thread::Builder::new()
        .name("wharf-netns-new".into())
        .spawn(move || -> Result<()> {
            let path = thread_target;
            nix::sched::unshare(CloneFlags::CLONE_NEWNET)
                .map_err(|source| Error::Namespace { op: "unshare", path: path.clone(), source })?;
            nix::mount::mount(Some("/proc/thread-self/ns/net"), &path, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .map_err(|source| Error::Namespace { op: "mount", path, source })
        })
        .map_err(|e| Error::Thread { path: target.clone(), detail: e.to_string() })?;
    let res = handle.join().map_err(|_| Error::Thread { path: target.clone(), detail: "panicked".into() })?;
    if res.is_err() {
        let _ = std::fs::remove_file(&target);
    }
    res
}

/// Unmounts and removes a persistent network namespace file. Missing files are fine (idempotent).
/// The namespace itself goes away once no process or socket holds it any more.
pub fn remove_netns(path: &Path) -> Result<()> {
    while is_netns(path) {
        nix::mount::umount2(path, MntFlags::MNT_DETACH)
            .map_err(|source| Error::Namespace { op: "umount", path: path.to_path_buf(), source })?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove netns file", path, e)),
    }
}

/// Writes a sysctl under `/proc/sys` (e.g. `net/ipv4/ip_forward`) in the current thread's network
/// namespace. Call it inside [`run_in_netns`] for a namespace's own value.
pub(crate) fn write_sysctl(key: &str, value: &str) -> Result<()> {
    let path = PathBuf::from("/proc/sys").join(key);
    std::fs::write(&path, value).map_err(|e| Error::io("write sysctl", path, e))
}
