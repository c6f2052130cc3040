//! The OCI registry on the main listener: skopeo pushes and pulls over HTTPS on the same port
//! kubectl uses, with ECR-style Basic credentials.

mod common;

use common::Wharf;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn write_blob(dir: &Path, data: &[u8]) -> String {
    let d = sha(data);
    let path = dir.join("blobs/sha256").join(d.trim_start_matches("sha256:"));
    std::fs::write(path, data).expect("blob");
    d
}

/// A one-layer OCI image layout tagged `v1`.
fn oci_layout(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("blobs/sha256")).expect("layout dir");
    // A tar archive with one file, written by hand: a 512-byte header, the data, padding, and
    // two zero blocks.
    let content = b"hello from wharf\n";
    let mut header = [0u8; 512];
    header[..9].copy_from_slice(b"hello.txt");
    header[100..107].copy_from_slice(b"0000644");
    header[108..115].copy_from_slice(b"0000000");
    header[116..123].copy_from_slice(b"0000000");
    header[124..135].copy_from_slice(format!("{:011o}", content.len()).as_bytes());
    header[136..147].copy_from_slice(b"00000000000");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut layer = header.to_vec();
    layer.extend_from_slice(content);
    layer.resize(layer.len().div_ceil(512) * 512 + 1024, 0);
    let diff_id = sha(&layer);
    // Compressed, as registries store layers (skopeo would otherwise compress it on push and
    // change the manifest's digest).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &layer).expect("gzip");
    let layer = gz.finish().expect("gzip");
    let layer_digest = write_blob(dir, &layer);
    let config = serde_json::json!({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": [diff_id]}});
    let config = serde_json::to_vec(&config).expect("config");
    let config_digest = write_blob(dir, &config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
    });
    let manifest = serde_json::to_vec(&manifest).expect("manifest");
    let manifest_digest = write_blob(dir, &manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).expect("index")).expect("index");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("oci-layout");
    manifest_digest
}

fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new("skopeo").args(args).output().expect("run skopeo")
}

#[test]
fn skopeo_pushes_and_pulls_through_the_api_servers_port_with_ecr_style_credentials() {
    let w = Wharf::start();
    let tmp = tempfile::tempdir().expect("tmp");
    let layout = tmp.path().join("layout");
    let digest = oci_layout(&layout);
    let certs = tmp.path().join("certs");
    std::fs::create_dir_all(&certs).expect("certs dir");
    std::fs::copy(w.ca_file(), certs.join("ca.crt")).expect("ca");
    let host = w.endpoint.trim_start_matches("https://").to_string();
    let token = std::fs::read_to_string(w.dir.join("registry/admin.token")).expect("registry token");
    let creds = format!("AWS:{}", token.trim());
    let dest = format!("docker://{host}/team/app:v1");
    let certs = certs.to_string_lossy().to_string();

    let anon = skopeo(&["copy", "--dest-cert-dir", &certs, &format!("oci:{}:v1", layout.display()), &dest]);
    assert!(!anon.status.success(), "an anonymous push must be refused");

    let push = skopeo(&["copy", "--dest-cert-dir", &certs, "--dest-creds", &creds, &format!("oci:{}:v1", layout.display()), &dest]);
    assert!(push.status.success(), "push failed: {}", String::from_utf8_lossy(&push.stderr));
    let inspect = skopeo(&["inspect", "--cert-dir", &certs, "--creds", &creds, &dest]);
    assert!(inspect.status.success(), "inspect failed: {}", String::from_utf8_lossy(&inspect.stderr));
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("inspect json");
    assert_eq!(v["Digest"], digest.as_str());
    // The Kubernetes API keeps working on the same port.
    assert!(w.ok(&["get", "namespaces"]).contains("default"));
}
