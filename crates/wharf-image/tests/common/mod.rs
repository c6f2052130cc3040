//! Test fixtures: a tiny busybox image written as an OCI layout, Debian's `docker-registry`
//! started on 127.0.0.1 (killed by PID on drop), and pushes with `skopeo`.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::Digest as _;

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// One entry of a test layer.
pub enum E<'a> {
    Dir(&'a str, u32),
    File(&'a str, &'a [u8], u32),
    Owned(&'a str, &'a [u8], u32, u64, u64),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    CharDev(&'a str, u32, u32),
    /// A file carrying a `user.*` xattr in a PAX header.
    XattrFile(&'a str, &'a [u8], &'a str, &'a [u8]),
}

pub fn tar_layer(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        match e {
            E::Dir(p, mode) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                h.set_size(0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::File(p, data, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Owned(p, data, mode, uid, gid) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_uid(*uid);
                h.set_gid(*gid);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Symlink(p, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            E::HardLink(p, target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            E::CharDev(p, major, minor) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_mode(0o666);
                h.set_size(0);
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::XattrFile(p, data, name, value) => {
                let key = format!("SCHILY.xattr.{name}");
                b.append_pax_extensions([(key.as_str(), *value)]).unwrap();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    g.write_all(data).unwrap();
    g.finish().unwrap()
}

/// An OCI image layout directory being assembled.
pub struct Layout {
    pub dir: PathBuf,
    refs: Vec<serde_json::Value>,
}

pub struct Built {
    pub manifest_digest: String,
    pub config_digest: String,
    pub layer_digests: Vec<String>,
    pub manifest_size: usize,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout { dir: dir.to_path_buf(), refs: Vec::new() }
    }

    pub fn blob(&self, data: &[u8]) -> String {
        let hex = sha256_hex(data);
        std::fs::write(self.dir.join("blobs/sha256").join(&hex), data).unwrap();
        format!("sha256:{hex}")
    }

    /// Writes an image: `layers` are (uncompressed tar, gzip?) bottom first.
    pub fn image(&self, arch: &str, layers: &[(Vec<u8>, bool)], config: serde_json::Value) -> Built {
        let raw: Vec<_> = layers
            .iter()
            .map(|(tar, gz)| {
                if *gz {
                    (tar.clone(), gzip(tar), "application/vnd.oci.image.layer.v1.tar+gzip")
                } else {
                    (tar.clone(), tar.clone(), "application/vnd.oci.image.layer.v1.tar")
                }
            })
            .collect();
        self.image_raw(arch, &raw, config)
    }

    /// Writes an image from (uncompressed tar, blob as stored, media type) layers.
    pub fn image_raw(&self, arch: &str, layers: &[(Vec<u8>, Vec<u8>, &str)], config: serde_json::Value) -> Built {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        let mut layer_digests = Vec::new();
        for (tar, data, mt) in layers {
            diff_ids.push(format!("sha256:{}", sha256_hex(tar)));
            let d = self.blob(data);
            layer_digests.push(d.clone());
            descs.push(serde_json::json!({"mediaType": mt, "digest": d, "size": data.len()}));
        }
        let cfg = serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let cfg_bytes = serde_json::to_vec(&cfg).unwrap();
        let config_digest = self.blob(&cfg_bytes);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": cfg_bytes.len()},
            "layers": descs,
        });
        let m = serde_json::to_vec(&manifest).unwrap();
        let manifest_digest = self.blob(&m);
        Built { manifest_digest, config_digest, layer_digests, manifest_size: m.len() }
    }

    pub fn tag(&mut self, name: &str, media_type: &str, digest: &str, size: usize) {
        self.refs.push(serde_json::json!({
            "mediaType": media_type, "digest": digest, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": name},
        }));
        let index = serde_json::json!({"schemaVersion": 2, "manifests": self.refs});
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    }

    /// Writes an index over `(platform arch, built image)` and returns (digest, size).
    pub fn index(&self, entries: &[(&str, &Built)]) -> (String, usize) {
        let manifests: Vec<_> = entries
            .iter()
            .map(|(arch, b)| {
                serde_json::json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": b.manifest_digest, "size": b.manifest_size,
                    "platform": {"architecture": arch, "os": "linux"},
                })
            })
            .collect();
        let idx = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests,
        });
        let bytes = serde_json::to_vec(&idx).unwrap();
        (self.blob(&bytes), bytes.len())
    }
}

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The three-layer busybox test image: layer 1 the base (busybox, a symlink, a hard link,
/// a device node, owned and setuid files), layer 2 an uncompressed tar with a whiteout and
/// an opaque directory, layer 3 a small gzip layer.
pub fn busybox_layers() -> Vec<(Vec<u8>, bool)> {
    let busybox = std::fs::read("/bin/busybox").expect("Debian's busybox-static provides /bin/busybox");
    let base = tar_layer(&[
        E::Dir("./", 0o755),
        E::Dir("bin/", 0o755),
        E::File("bin/busybox", &busybox, 0o755),
        E::Symlink("bin/sh", "busybox"),
        E::HardLink("bin/ls", "bin/busybox"),
        E::Dir("etc/", 0o755),
        E::File("etc/removed.txt", b"gone", 0o644),
        E::Owned("etc/owned", b"secret", 0o640, 1234, 5678),
        E::Owned("bin/suid", b"x", 0o4755, 0, 0),
        E::XattrFile("etc/tagged", b"t", "user.wharf", b"yes"),
        E::Dir("data/", 0o755),
        E::File("data/keep.txt", b"keep", 0o644),
        E::Dir("olddir/", 0o755),
        E::File("olddir/a.txt", b"a", 0o644),
        E::File("olddir/b.txt", b"b", 0o644),
        E::Dir("dev/", 0o755),
        E::CharDev("dev/null", 1, 3),
        E::Dir("tmp/", 0o1777),
    ]);
    let second = tar_layer(&[
        E::File("etc/.wh.removed.txt", b"", 0o644),
        E::File("olddir/.wh..wh..opq", b"", 0o644),
        E::File("olddir/new.txt", b"new", 0o644),
        E::File("data/added.txt", b"added", 0o644),
    ]);
    let third = tar_layer(&[E::Dir("etc/", 0o755), E::File("etc/hostname", b"wharf\n", 0o644)]);
    vec![(base, true), (second, false), (third, true)]
}

pub fn busybox_config() -> serde_json::Value {
    serde_json::json!({
        "Entrypoint": ["/bin/sh"], "Cmd": ["-c", "echo hello"],
        "Env": ["PATH=/bin", "GREETING=hi"], "WorkingDir": "/data", "User": "0:0",
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `docker-registry` process on 127.0.0.1, killed (by PID) and cleaned up on drop.
pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub creds: Option<(String, String)>,
}

impl Registry {
    pub fn start(basic_auth: Option<(&str, &str)>) -> Registry {
        Registry::start_with(basic_auth, None)
    }

    /// `tls`: (certificate PEM, key PEM) to serve HTTPS.
    pub fn start_with(basic_auth: Option<(&str, &str)>, tls: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: wharf-test\n",
            dir.path().join("data").display()
        );
        if let Some((cert, key)) = tls {
            std::fs::write(dir.path().join("tls.crt"), cert).unwrap();
            std::fs::write(dir.path().join("tls.key"), key).unwrap();
            cfg.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.path().join("tls.crt").display(),
                dir.path().join("tls.key").display()
            ));
        }
        if let Some((user, pass)) = basic_auth {
            let hash = bcrypt::hash(pass, 4).unwrap();
            std::fs::write(dir.path().join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: wharf-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        std::fs::write(dir.path().join("config.yml"), cfg).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("Debian's docker-registry is installed");
        let reg = Registry { child, port, dir, creds: basic_auth.map(|(u, p)| (u.to_string(), p.to_string())) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start listening");
            std::thread::sleep(Duration::from_millis(25));
        }
        reg
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `skopeo copy oci:LAYOUT:TAG docker://HOST/REPO` (plain HTTP or unverified TLS).
    pub fn push(&self, layout: &Path, tag: &str, repo: &str, all: bool) {
        self.push_with(layout, tag, repo, all, &["--preserve-digests"]);
    }

    /// `push` with other skopeo flags (e.g. `--format v2s2` to convert to Docker schema 2).
    pub fn push_with(&self, layout: &Path, tag: &str, repo: &str, all: bool, extra: &[&str]) {
        let mut cmd = Command::new("skopeo");
        cmd.args(["copy", "--quiet", "--dest-tls-verify=false"]).args(extra);
        if all {
            cmd.arg("--all");
        }
        if let Some((u, p)) = &self.creds {
            cmd.arg("--dest-creds").arg(format!("{u}:{p}"));
        }
        cmd.arg(format!("oci:{}:{tag}", layout.display())).arg(format!("docker://{}/{repo}", self.host()));
        let out = cmd.output().expect("skopeo is installed");
        assert!(out.status.success(), "skopeo copy failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The path of a blob in the registry's storage.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir.path().join("data/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Unmounts anything still mounted under a directory when dropped (backstop for panics).
pub struct UnmountGuard(pub PathBuf);

impl Drop for UnmountGuard {
    fn drop(&mut self) {
        let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return };
        let prefix = self.0.to_string_lossy().into_owned();
        let mut points: Vec<&str> = info.lines().filter_map(|l| l.split(' ').nth(4)).filter(|p| p.starts_with(&prefix)).collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = rustix::mount::unmount(p, rustix::mount::UnmountFlags::DETACH);
        }
    }
}

/// A CA and a serving certificate for 127.0.0.1: (ca PEM, cert PEM, key PEM).
pub fn tls_pair() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "wharf-image test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    leaf.distinguished_name.push(DnType::CommonName, "registry");
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
    (ca_cert.pem(), leaf_cert.pem(), leaf_key.serialize_pem())
}
