//! The registry driven by the real `skopeo` CLI (apt package `skopeo`).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{request, sha256, start};
use serde_json::json;
use wharf_registry::Auth;

fn write_blob(layout: &Path, data: &[u8]) -> serde_json::Value {
    let digest = sha256(data);
    let hex = digest.trim_start_matches("sha256:");
    std::fs::write(layout.join("blobs/sha256").join(hex), data).unwrap();
    json!({ "digest": digest, "size": data.len() })
}

/// A gzipped tar with one file; returns (compressed bytes, diff id).
fn layer(work: &Path, i: usize) -> (Vec<u8>, String) {
    let root = work.join(format!("layer{i}"));
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join(format!("etc/file{i}")), format!("content of layer {i}\n").repeat(100)).unwrap();
    let tar = work.join(format!("layer{i}.tar"));
    let st = Command::new("tar").arg("--mtime=@0").arg("-cf").arg(&tar).arg("-C").arg(&root).arg(".").status().unwrap();
    assert!(st.success());
    let raw = std::fs::read(&tar).unwrap();
    let gz = Command::new("gzip").arg("-n").arg("-c").arg(&tar).output().unwrap();
    assert!(gz.status.success());
    (gz.stdout, sha256(&raw))
}

/// Writes an OCI image layout with three layers tagged `v1`; returns the manifest digest.
fn oci_layout(work: &Path, layout: &Path) -> String {
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for i in 0..3 {
        let (gz, diff_id) = layer(work, i);
        let mut d = write_blob(layout, &gz);
        d["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
        layers.push(d);
        diff_ids.push(diff_id);
    }
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Cmd": ["/bin/sh"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    let mut config_desc = write_blob(layout, &serde_json::to_vec(&config).unwrap());
    config_desc["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": layers,
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let mut desc = write_blob(layout, &bytes);
    desc["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
    desc["annotations"] = json!({ "org.opencontainers.image.ref.name": "v1" });
    let index = json!({ "schemaVersion": 2, "manifests": [desc] });
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    sha256(&bytes)
}

fn skopeo(args: &[&str]) -> std::process::Output {
    let out = Command::new("skopeo").arg("--insecure-policy").args(args).output().unwrap();
    assert!(out.status.success(), "skopeo {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_should_copy_inspect_copy_back_and_delete_an_oci_image() {
    let s = start(Auth::None).await;
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let digest = oci_layout(work.path(), &src);
    let image = format!("docker://{}/team/app:v1", s.addr);

    let src_ref = format!("oci:{}:v1", src.display());
    let (a, i) = (src_ref.clone(), image.clone());
    tokio::task::spawn_blocking(move || skopeo(&["copy", "--dest-tls-verify=false", &a, &i])).await.unwrap();

    let i = image.clone();
    let out = tokio::task::spawn_blocking(move || skopeo(&["inspect", "--tls-verify=false", &i])).await.unwrap();
    let inspect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspect["Digest"], json!(digest));
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 3);
    assert_eq!(inspect["Architecture"], json!("amd64"));

    let back = work.path().join("back");
    let back_ref = format!("oci:{}:v1", back.display());
    let i = image.clone();
    tokio::task::spawn_blocking(move || skopeo(&["copy", "--src-tls-verify=false", &i, &back_ref])).await.unwrap();
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(back.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], json!(digest));
    for entry in std::fs::read_dir(src.join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        let copied = std::fs::read(back.join("blobs/sha256").join(entry.file_name())).unwrap();
        assert_eq!(copied, std::fs::read(entry.path()).unwrap());
    }

    let i = image.clone();
    tokio::task::spawn_blocking(move || skopeo(&["delete", "--tls-verify=false", &i])).await.unwrap();
    let r = request(s.addr, "GET", &format!("/v2/team/app/manifests/{digest}"), &[], b"").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "MANIFEST_UNKNOWN");
    let r = request(s.addr, "GET", "/v2/team/app/manifests/v1", &[], b"").await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_should_push_a_docker_schema2_image_with_basic_credentials() {
    let s = start(Auth::Basic { user: "wharf".into(), password: "s3cret".into() }).await;
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    oci_layout(work.path(), &src);
    let image = format!("docker://{}/team/app:v2", s.addr);
    let src_ref = format!("oci:{}:v1", src.display());

    let (a, i) = (src_ref.clone(), image.clone());
    let denied = tokio::task::spawn_blocking(move || {
        Command::new("skopeo").args(["--insecure-policy", "copy", "--dest-tls-verify=false", &a, &i]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(!denied.status.success());

    let (a, i) = (src_ref.clone(), image.clone());
    tokio::task::spawn_blocking(move || {
        skopeo(&["copy", "--format", "v2s2", "--dest-tls-verify=false", "--dest-creds", "wharf:s3cret", &a, &i])
    })
    .await
    .unwrap();
    let r =
        request(s.addr, "GET", "/v2/team/app/manifests/v2", &[("Authorization", "Basic d2hhcmY6czNjcmV0")], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/vnd.docker.distribution.manifest.v2+json"));
    assert_eq!(r.header("docker-content-digest"), Some(sha256(&r.body).as_str()));

    let i = image.clone();
    let out =
        tokio::task::spawn_blocking(move || skopeo(&["inspect", "--tls-verify=false", "--creds", "wharf:s3cret", &i]))
            .await
            .unwrap();
    let inspect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 3);
}
