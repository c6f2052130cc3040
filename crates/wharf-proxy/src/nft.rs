//! Running `nft` inside a network namespace.
//!
//! A fresh OS thread (never a pooled one) `setns`es into the target namespace and spawns `nft`
//! from there: a child process inherits the network namespace of the thread that forks it. The
//! thread then ends, so the switch never leaks into the rest of the process.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Error, Result};

/// Runs `nft <args>` with `stdin` as its standard input, in the network namespace at `netns`
/// (`None`: the caller's). Returns standard output.
pub fn run(netns: Option<&Path>, args: &[&str], stdin: &str) -> Result<String> {
    let Some(path) = netns else {
        return run_here(args, stdin);
    };
    let file = std::fs::File::open(path).map_err(|source| Error::Netns {
        path: path.to_path_buf(),
        source,
    })?;
    let path: PathBuf = path.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let stdin = stdin.to_string();
    let h = std::thread::Builder::new()
        .name("nft-netns".into())
        .spawn(move || {
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|source| Error::Setns { path, source })?;
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_here(&args, &stdin)
        })
        .map_err(Error::Spawn)?;
    h.join().map_err(|_| Error::Thread)?
}

fn run_here(args: &[&str], stdin: &str) -> Result<String> {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(Error::Spawn)?;
    if let Some(mut input) = child.stdin.take() {
        // A write error (nft exited early) shows up as nft's own exit status and message below.
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().map_err(Error::Spawn)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // nft echoes the failing line: keep the message bounded.
        let stderr: String = stderr.chars().take(4000).collect();
        return Err(Error::Nft {
            status: out.status.to_string(),
            stderr,
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Applies a script (`nft -f -`).
pub fn apply(netns: Option<&Path>, script: &str) -> Result<()> {
    run(netns, &["-f", "-"], script).map(|_| ())
}

/// Checks a script without applying it (`nft -c -f -`).
pub fn check(netns: Option<&Path>, script: &str) -> Result<()> {
    run(netns, &["-c", "-f", "-"], script).map(|_| ())
}
