//! Running a short piece of blocking network code inside a pod's network namespace.
//!
//! A fresh OS thread (never a pooled one) `setns`es into the sandbox's netns and runs the closure;
//! the thread then ends, so the namespace switch never leaks into the rest of the agent.

use std::path::Path;

/// Runs `f` on a new thread inside the network namespace at `netns`.
pub(crate) fn run_in<T: Send + 'static>(netns: &Path, f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let file = std::fs::File::open(netns).map_err(|e| format!("open {}: {e}", netns.display()))?;
    let h = std::thread::Builder::new()
        .name("netns".into())
        .spawn(move || {
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns: {e}"))?;
            Ok(f())
        })
        .map_err(|e| format!("spawn thread: {e}"))?;
    h.join().map_err(|_| "netns thread panicked".to_string())?
}
