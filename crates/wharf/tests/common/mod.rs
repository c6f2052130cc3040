//! Test harness: runs the real `wharf up` binary in a temporary data directory and drives it
//! with the real `kubectl`. Every process a test starts is ended by PID when the test ends.

#![allow(dead_code)]

pub mod awscli;
pub mod images;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A VPC block for one test's `wharf up --nodes`, distinct from every other test of this process
/// and from every block already on a host link (another test run's VPC), since VPCs on one
/// machine must not overlap.
pub fn test_vpc_cidr() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let in_use = Command::new("ip").args(["-4", "-o", "addr", "show"]).output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    loop {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let second = 128 + (std::process::id() + n) % 64;
        if n >= 64 || !in_use.contains(&format!(" 10.{second}.")) {
            return format!("10.{second}.0.0/16");
        }
    }
}

/// A running `wharf up`.
pub struct Wharf {
    child: Option<Child>,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub endpoint: String,
}

fn ready_line(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains("ready") => return l,
            Ok(_) => continue,
            Err(_) => panic!("wharf up did not print a ready line within 60s"),
        }
    }
}

impl Wharf {
    /// Starts `wharf up` in a fresh directory on a free port.
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut w = Self::start_in(&dir);
        w._tmp = Some(tmp);
        w
    }

    /// Starts `wharf up` on an existing data directory.
    pub fn start_in(dir: &Path) -> Self {
        Self::start_with(dir, "127.0.0.1:0")
    }

    /// Starts `wharf up` on `dir` listening on `listen`.
    pub fn start_with(dir: &Path, listen: &str) -> Self {
        Self::start_args(dir, listen, &[])
    }

    /// Starts `wharf up` in a fresh directory with extra flags (e.g. `--simulated-nodes 3`).
    pub fn start_flags(flags: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut w = Self::start_args(&dir, "127.0.0.1:0", flags);
        w._tmp = Some(tmp);
        w
    }

    /// Starts `wharf up` on an existing data directory with extra flags (a restart).
    pub fn start_in_flags(dir: &Path, flags: &[&str]) -> Self {
        Self::start_args(dir, "127.0.0.1:0", flags)
    }

    fn start_args(dir: &Path, listen: &str, flags: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(["up", "--data-dir"])
            .arg(dir)
            .args(["--listen", listen])
            .args(flags)
            .env("WHARF_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn wharf");
        let line = ready_line(&mut child);
        let endpoint = line.split_whitespace().find(|w| w.starts_with("https://")).expect("endpoint in ready line").to_string();
        Self { child: Some(child), dir: dir.to_path_buf(), _tmp: None, endpoint }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.dir.join("clusters/default/admin.token")).expect("admin token").trim().to_string()
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("clusters/default/pki/ca.crt")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Runs kubectl with this cluster's kubeconfig.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, None)
    }

    /// Runs kubectl with `stdin` as standard input.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        kubectl_with(&self.kubeconfig(), args, stdin)
    }

    /// Runs kubectl and returns stdout, failing the test on a non-zero exit.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.kubectl(args);
        assert!(o.status.success(), "kubectl {args:?} failed: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs kubectl with stdin and returns stdout, failing the test on a non-zero exit.
    pub fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let o = self.kubectl_stdin(args, Some(stdin));
        assert!(o.status.success(), "kubectl {args:?} failed: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.kubectl(args);
        assert!(!o.status.success(), "kubectl {args:?} unexpectedly succeeded: {}", String::from_utf8_lossy(&o.stdout));
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// Sends SIGTERM and waits; returns the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        // SAFETY-free: `kill` via the command line keeps unsafe code out of tests.
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return st.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server with SIGKILL.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Wharf {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs kubectl with a kubeconfig.
pub fn kubectl_with(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new("kubectl");
    cmd.arg("--kubeconfig").arg(kubeconfig).args(args).env_remove("KUBECONFIG");
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn kubectl");
    if let Some(input) = stdin {
        // kubectl may stop reading early (e.g. after a server error): a broken pipe is fine.
        let _ = child.stdin.take().expect("stdin").write_all(input.as_bytes());
    }
    child.wait_with_output().expect("kubectl output")
}

/// Polls `f` until it returns true or `secs` pass.
pub fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}
