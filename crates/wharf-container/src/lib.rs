//! `wharf-container` owns running one container on this machine: the OCI runtime trait and its two
//! implementations (youki's `libcontainer` in-process, Debian's `runc` binary), the per-container shim
//! that owns a container for its whole life (creates and starts it, reaps it, records its exit status,
//! writes its stdout/stderr as CRI log files with rotation and outlives the node agent), pod sandboxes
//! (the pause process holding a pod's network, IPC and UTS namespaces), OCI spec generation from
//! Kubernetes-shaped settings (resources, securityContext, the RuntimeDefault seccomp profile), exec
//! into running containers, and per-container CPU/memory statistics read from cgroups.
//!
//! It knows nothing about the Kubernetes API: the node agent (`wharf-node`) maps pods onto the types here.
//!
//! How a node agent uses it:
//! 1. the binary routes a hidden subcommand to [`shim_main`] (`wharf shim <args>`), and the agent
//!    builds `ShimCommand::new(current_exe, &["shim"])`;
//! 2. per node: [`cgroups::ensure`] on its parent cgroup with its budget; per pod: [`Sandbox::create`]
//!    (pause process, cgroup `<parent>/pod<uid>/pause`), then per container
//!    [`ContainerSpec`] with `namespaces = sandbox.namespaces()` → `spec::write_bundle` → [`shim::spawn`];
//! 3. [`ShimClient`] for `status`/`kill`/`wait`/`stop(grace)`/`delete`; [`exec::spawn`] /
//!    [`exec::spawn_tty`] for `kubectl exec` and exec probes; [`cgroups::stats`] for container or pod
//!    CPU/memory;
//! 4. after a restart: [`shim::discover`] and [`Sandbox::adopt`] re-adopt, [`shim::cleanup_dead`] and
//!    [`sandbox::destroy_dir`] clean up what has no live owner.
//!
//! Architecture invariant: `libcontainer` is never called from a multi-threaded process. It runs only in
//! the single-threaded shim (`shim_main`) and in the short-lived exec helper it re-executes; the agent
//! talks to shims over unix sockets.

pub mod cgroups;
pub mod crilog;
mod error;
pub mod exec;
pub mod runtime;
pub mod sandbox;
pub mod seccomp;
pub mod shim;
pub mod spec;
mod sys;

pub use error::{Error, Result};
pub use runtime::{OciRuntime, RuntimeConfig, RuntimeKind};
pub use sandbox::{Sandbox, SandboxConfig};
pub use shim::{shim_main, ExitInfo, ShimClient, ShimCommand, ShimConfig, ShimStatus};
pub use spec::{ContainerSpec, Resources};
