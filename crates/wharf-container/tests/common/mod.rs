//! Test fixtures: a busybox rootfs, per-test state dirs, and Drop guards that remove every shim,
//! sandbox, cgroup and directory a test created, even when it fails.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use wharf_container::shim::{ShimClient, ShimConfig};
use wharf_container::spec::{write_bundle, ContainerSpec};
use wharf_container::{cgroups, RuntimeConfig, RuntimeKind, Sandbox, SandboxConfig, ShimCommand};

const APPLETS: &[&str] = &[
    "sh", "echo", "sleep", "cat", "head", "tail", "hostname", "id", "grep", "readlink", "ls", "true",
    "false", "env", "pwd", "touch", "stat", "kill", "yes", "dd", "wc", "ps", "trap",
];

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

/// The shim example binary, built by `cargo test` next to the test executables.
pub fn shim_command() -> ShimCommand {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().unwrap().parent().unwrap();
    let p = debug.join("examples").join("shim");
    assert!(p.exists(), "shim example not built at {}", p.display());
    ShimCommand::new(p, &[])
}

pub fn assert_root() {
    assert!(nix::unistd::Uid::effective().is_root(), "these tests need root (CI runs as root)");
}

/// Everything one test creates; dropping it removes all of it.
pub struct Env {
    pub kind: RuntimeKind,
    pub tmp: tempfile::TempDir,
    pub pod_uid: String,
    /// A node parent cgroup of this test alone, removed with everything under it.
    pub cgroup_parent: String,
    pub runtime: RuntimeConfig,
    pub shims: Vec<ShimClient>,
    pub sandboxes: Vec<Sandbox>,
}

impl Env {
    pub fn new(kind: RuntimeKind) -> Env {
        assert_root();
        let tmp = tempfile::Builder::new().prefix("wharf-ctr-").tempdir().unwrap();
        let runtime = RuntimeConfig::new(kind, tmp.path().join("runtime"));
        Env {
            kind,
            pod_uid: unique("t"),
            cgroup_parent: format!("/{}", unique("wharftest")),
            runtime,
            tmp,
            shims: Vec::new(),
            sandboxes: Vec::new(),
        }
    }

    pub fn shim_root(&self) -> PathBuf {
        self.tmp.path().join("shims")
    }

    /// A fresh busybox rootfs for one container.
    pub fn rootfs(&self, name: &str) -> PathBuf {
        let root = self.tmp.path().join("bundles").join(name).join("rootfs");
        for d in ["bin", "proc", "dev", "sys", "tmp", "etc", "root"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
        for a in APPLETS {
            let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(a));
        }
        std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        root
    }

    /// Copies a dynamically linked host program and the libraries `ldd` lists into `root`.
    pub fn copy_with_libs(&self, root: &Path, program: &str) {
        let out = std::process::Command::new("ldd").arg(program).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let mut files = vec![program.to_string()];
        for l in text.lines() {
            if let Some(p) = l.split_whitespace().find(|w| w.starts_with('/')) {
                files.push(p.to_string());
            }
        }
        for f in files {
            let dest = root.join(f.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            // Follow symlinks: copy the target's bytes under the linked name.
            std::fs::copy(&f, &dest).unwrap();
        }
    }

    pub fn spec(&self, name: &str, script: &str) -> ContainerSpec {
        ContainerSpec {
            args: vec!["/bin/sh".into(), "-c".into(), script.into()],
            cgroup_path: cgroups::container_path(&self.cgroup_parent, &self.pod_uid, name),
            ..Default::default()
        }
    }

    pub fn config(&self, name: &str, spec: &ContainerSpec) -> ShimConfig {
        let rootfs = self.rootfs(name);
        let bundle = rootfs.parent().unwrap().to_path_buf();
        write_bundle(&bundle, &spec.to_oci(&rootfs).unwrap()).unwrap();
        let id = unique(name);
        ShimConfig {
            dir: self.shim_root().join(&id),
            id,
            bundle,
            runtime: self.runtime.clone(),
            log_path: self.tmp.path().join("logs").join(format!("{name}.log")),
            log_max_size: 10 << 20,
            log_max_files: 2,
            cgroup_path: spec.cgroup_path.clone(),
            shim: shim_command(),
            stdin: false,
            tty: false,
        }
    }

    /// Starts a container through a shim; the guard deletes it.
    pub fn run(&mut self, name: &str, spec: &ContainerSpec) -> (ShimClient, ShimConfig) {
        let cfg = self.config(name, spec);
        let client = wharf_container::shim::spawn(&cfg).unwrap_or_else(|e| panic!("start {name}: {e}"));
        self.shims.push(client.clone());
        (client, cfg)
    }

    /// Starts a container from a prepared config; the guard deletes it.
    pub fn run_config(&mut self, cfg: &ShimConfig) -> ShimClient {
        let client = wharf_container::shim::spawn(cfg).unwrap_or_else(|e| panic!("start {}: {e}", cfg.id));
        self.shims.push(client.clone());
        client
    }

    pub fn sandbox(&mut self, hostname: &str) -> Sandbox {
        let sb = Sandbox::create(SandboxConfig {
            pod_uid: self.pod_uid.clone(),
            hostname: hostname.into(),
            dir: self.tmp.path().join("sandboxes").join(&self.pod_uid),
            cgroup_path: self.pod_cgroup(),
            shim: shim_command(),
        })
        .unwrap();
        self.sandboxes.push(sb.clone());
        sb
    }

    pub fn pod_cgroup(&self) -> String {
        cgroups::pod_path(&self.cgroup_parent, &self.pod_uid)
    }

    pub fn log_messages(&self, cfg: &ShimConfig) -> Vec<String> {
        wharf_container::crilog::read_records(&cfg.log_path)
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.message)
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for s in self.shims.drain(..) {
            if s.dir().exists() {
                let _ = s.kill(libc::SIGKILL, true);
                let _ = s.delete();
            }
        }
        // Anything left by shims that died.
        if let Ok(found) = wharf_container::shim::discover(&self.shim_root()) {
            for f in found {
                if let Some(c) = &f.client {
                    let _ = c.kill(libc::SIGKILL, true);
                    let _ = c.delete();
                } else {
                    let _ = wharf_container::shim::cleanup_dead(&f);
                }
            }
        }
        for sb in self.sandboxes.drain(..) {
            let _ = sb.destroy();
        }
        let _ = cgroups::remove(&self.cgroup_parent);
    }
}

pub fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| s.contains(") Z ")).unwrap_or(true)
}
