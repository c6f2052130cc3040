//! A tiny busybox OCI image built from Debian's `busybox-static`, served by Debian's
//! `docker-registry` on 127.0.0.1 (pushed with `skopeo`), and a `wharf up --nodes 1` node that
//! pulls from it. Every process is ended by PID on drop.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha2::Digest as _;

use super::{eventually, kubectl_with};

/// Whether this process runs as root (real containers need it).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))).unwrap_or(false)
}

const APPLETS: &[&str] = &[
    "sh", "echo", "sleep", "cat", "dd", "touch", "test", "false", "true", "env", "ls", "trap", "kill", "nc", "httpd", "wget", "hostname", "seq", "head", "tail", "grep", "printf", "mkdir", "date", "tty", "nslookup", "sed",
];

fn sha(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

fn hdr() -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

/// Writes a one-layer busybox image as an OCI layout in `dir` (tag `1`).
pub fn busybox_layout(dir: &Path) {
    let mut b = tar::Builder::new(Vec::new());
    let add_dir = |b: &mut tar::Builder<Vec<u8>>, p: &str, mode: u32| {
        let mut h = hdr();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        b.append_data(&mut h, p, std::io::empty()).unwrap();
    };
    for (d, m) in [("bin/", 0o755), ("tmp/", 0o1777), ("etc/", 0o755), ("proc/", 0o755), ("dev/", 0o755), ("sys/", 0o755)] {
        add_dir(&mut b, d, m);
    }
    let busybox = std::fs::read("/bin/busybox").expect("Debian's busybox-static provides /bin/busybox");
    let mut h = hdr();
    h.set_mode(0o755);
    h.set_size(busybox.len() as u64);
    b.append_data(&mut h, "bin/busybox", &busybox[..]).unwrap();
    for a in APPLETS {
        let mut h = hdr();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        b.append_link(&mut h, format!("bin/{a}"), "busybox").unwrap();
    }
    let mut h = hdr();
    let passwd = b"root:x:0:0:root:/root:/bin/sh\n";
    h.set_mode(0o644);
    h.set_size(passwd.len() as u64);
    b.append_data(&mut h, "etc/passwd", &passwd[..]).unwrap();
    let layer = b.into_inner().unwrap();
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let d = sha(data);
        std::fs::write(blobs.join(&d), data).unwrap();
        (format!("sha256:{d}"), data.len())
    };
    let (ld, ls) = put(&layer);
    let config = serde_json::json!({
        "architecture": match std::env::consts::ARCH { "aarch64" => "arm64", _ => "amd64" }, "os": "linux",
        "config": {"Env": ["PATH=/bin", "FROM_IMAGE=yes"], "Cmd": ["sh", "-c", "echo default-cmd"], "WorkingDir": "/tmp"},
        "rootfs": {"type": "layers", "diff_ids": [ld]},
    });
    let (cd, cs) = put(&serde_json::to_vec(&config).unwrap());
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}],
    });
    let (md, ms) = put(&serde_json::to_vec(&manifest).unwrap());
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
        "annotations": {"org.opencontainers.image.ref.name": "1"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// Debian's `docker-registry` on 127.0.0.1 holding `busybox:1`; killed by PID on drop.
pub struct Registry {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cfg = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: wharf-test\n",
            dir.path().join("data").display()
        );
        std::fs::write(dir.path().join("config.yml"), cfg).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Debian's docker-registry is installed");
        let reg = Registry { child, port, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start listening");
            std::thread::sleep(Duration::from_millis(25));
        }
        let layout = reg._dir.path().join("layout");
        busybox_layout(&layout);
        let out = Command::new("skopeo")
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:1", layout.display()))
            .arg(format!("docker://127.0.0.1:{port}/busybox:1"))
            .output()
            .expect("skopeo is installed");
        assert!(out.status.success(), "skopeo copy failed: {}", String::from_utf8_lossy(&out.stderr));
        reg
    }

    pub fn image(&self) -> String {
        format!("127.0.0.1:{}/busybox:1", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `wharf up --nodes N` (1 unless [`Node::start_many`]) on a data directory that outlives
/// restarts of the process.
pub struct Node {
    child: Option<Child>,
    pub dir: PathBuf,
    registry: String,
    count: usize,
    /// The VPC block of this node's `wharf up` (unique among concurrent tests).
    pub vpc_cidr: String,
}

impl Node {
    pub fn start(dir: &Path, registry: &str) -> Node {
        Self::start_many(dir, registry, 1)
    }

    /// `count` node agents (`wharf-node-0` …), each in its own VPC instance.
    pub fn start_many(dir: &Path, registry: &str, count: usize) -> Node {
        let mut n = Node { child: None, dir: dir.to_path_buf(), registry: registry.into(), count, vpc_cidr: super::test_vpc_cidr() };
        n.launch();
        n
    }

    pub fn launch(&mut self) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(["up", "--data-dir"])
            .arg(&self.dir)
            .args(["--listen", "127.0.0.1:0", "--nodes", &self.count.to_string(), "--insecure-registry", &self.registry, "--vpc-cidr", &self.vpc_cidr])
            .env("WHARF_LOG", "warn,wharf_agent=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn wharf");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(l) if l.contains("ready") => break,
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("wharf up did not become ready");
                }
            }
        }
        self.child = Some(child);
        for i in 0..self.count {
            let node = format!("node/wharf-node-{i}");
            eventually(60, &format!("{node} Ready"), || self.get(&node, "{.status.conditions[?(@.type=='Ready')].status}") == "True");
        }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        let o = kubectl_with(&self.kubeconfig(), args, stdin);
        assert!(o.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn apply(&self, yaml: &str) {
        self.kubectl(&["apply", "-f", "-"], Some(yaml));
    }

    pub fn get(&self, what: &str, jsonpath: &str) -> String {
        let o = kubectl_with(&self.kubeconfig(), &["get", what, "-o", &format!("jsonpath={jsonpath}")], None);
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn pod_log(&self, pod: &str, container: &str, attempt: u32) -> String {
        let uid = self.get(&format!("pod/{pod}"), "{.metadata.uid}");
        let p = self.dir.join(format!("nodes/wharf-node-0/logs/default_{pod}_{uid}/{container}/{attempt}.log"));
        std::fs::read_to_string(p).unwrap_or_default()
    }

    /// SIGTERM and wait (the agent stops the node's containers on shutdown).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(40);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn shim_processes(&self) -> usize {
        let needle = self.dir.join("nodes").to_string_lossy().into_owned();
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
            .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle)))
            .count()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
        // Backstop: anything a failed test left mounted under the data directory.
        if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
            let prefix = self.dir.to_string_lossy().into_owned();
            let mut points: Vec<&str> = info.lines().filter_map(|l| l.split(' ').nth(4)).filter(|p| p.starts_with(&prefix)).collect();
            points.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for p in points {
                let _ = Command::new("umount").args(["-l", p]).status();
            }
        }
    }
}

