//! The registry driven by the real `skopeo` CLI (apt package `skopeo`).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{request, sha256, start, start_with, ADMIN_TOKEN};
use serde_json::json;
use wharf_registry::{Actions, Challenge, Grant};

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

/// Writes an image (config + `layers` gzipped layers) into `layout`; returns its descriptor.
fn image(work: &Path, layout: &Path, arch: &str, layers: usize) -> serde_json::Value {
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for i in 0..layers {
        let (gz, diff_id) = layer(work, i + if arch == "arm64" { 100 } else { 0 });
        let mut d = write_blob(layout, &gz);
        d["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
        descs.push(d);
        diff_ids.push(diff_id);
    }
    let config = json!({
        "architecture": arch,
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
        "layers": descs,
    });
    let mut desc = write_blob(layout, &serde_json::to_vec(&manifest).unwrap());
    desc["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
    desc
}

/// Writes the layout's `index.json` naming `desc` as tag `v1`.
fn tag_v1(layout: &Path, mut desc: serde_json::Value) {
    desc["annotations"] = json!({ "org.opencontainers.image.ref.name": "v1" });
    let index = json!({ "schemaVersion": 2, "manifests": [desc] });
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// Writes an OCI image layout with three layers tagged `v1`; returns the manifest digest.
fn oci_layout(work: &Path, layout: &Path) -> String {
    let desc = image(work, layout, "amd64", 3);
    let digest = desc["digest"].as_str().unwrap().to_string();
    tag_v1(layout, desc);
    digest
}

/// Runs skopeo (off the async runtime) and requires success.
async fn skopeo(args: &[&str]) -> std::process::Output {
    let out = skopeo_try(args).await;
    assert!(out.status.success(), "skopeo {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

async fn skopeo_try(args: &[&str]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || Command::new("skopeo").arg("--insecure-policy").args(&args).output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_should_copy_inspect_copy_back_and_delete_a_multi_layer_image() {
    let s = start().await;
    let creds = format!("AWS:{ADMIN_TOKEN}");
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let digest = oci_layout(work.path(), &src);
    let image = format!("docker://{}/team/app:v1", s.addr);
    let src_ref = format!("oci:{}:v1", src.display());

    // Without credentials the push is refused.
    let denied = skopeo_try(&["copy", "--dest-tls-verify=false", &src_ref, &image]).await;
    assert!(!denied.status.success());

    skopeo(&["copy", "--dest-tls-verify=false", "--dest-creds", &creds, &src_ref, &image]).await;
    let out = skopeo(&["inspect", "--tls-verify=false", "--creds", &creds, &image]).await;
    let inspect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspect["Digest"], json!(digest));
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 3);
    assert_eq!(inspect["Architecture"], json!("amd64"));

    let back = work.path().join("back");
    let back_ref = format!("oci:{}:v1", back.display());
    skopeo(&["copy", "--src-tls-verify=false", "--src-creds", &creds, &image, &back_ref]).await;
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(back.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], json!(digest));
    for entry in std::fs::read_dir(src.join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        let copied = std::fs::read(back.join("blobs/sha256").join(entry.file_name())).unwrap();
        assert_eq!(copied, std::fs::read(entry.path()).unwrap());
    }

    skopeo(&["delete", "--tls-verify=false", "--creds", &creds, &image]).await;
    let r = request(s.addr, "GET", &format!("/v2/team/app/manifests/{digest}"), &[], b"").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "MANIFEST_UNKNOWN");
    let r = request(s.addr, "GET", "/v2/team/app/manifests/v1", &[], b"").await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_should_use_the_bearer_token_flow_and_a_pull_only_credential_should_pull_but_not_push() {
    let s = start_with(|c| c.challenge = Challenge::Bearer).await;
    let admin = format!("AWS:{ADMIN_TOKEN}");
    let node_token = s
        .authorizer
        .create_credential("node-1", &[Grant { repositories: "*".into(), actions: Actions::PULL }])
        .await
        .unwrap();
    let node = format!("AWS:{node_token}");
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    oci_layout(work.path(), &src);
    let image = format!("docker://{}/team/app:v2", s.addr);
    let src_ref = format!("oci:{}:v1", src.display());

    let r = common::anon_request(s.addr, "GET", "/v2/", &[], b"").await;
    assert_eq!(r.status, 401);
    let challenge = r.header("www-authenticate").unwrap();
    assert!(challenge.starts_with(&format!(r#"Bearer realm="http://{}/v2/token""#, s.addr)), "{challenge}");

    skopeo(&["copy", "--format", "v2s2", "--dest-tls-verify=false", "--dest-creds", &admin, &src_ref, &image]).await;
    let r = request(s.addr, "GET", "/v2/team/app/manifests/v2", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/vnd.docker.distribution.manifest.v2+json"));
    assert_eq!(r.header("docker-content-digest"), Some(sha256(&r.body).as_str()));

    let out = skopeo(&["inspect", "--tls-verify=false", "--creds", &node, &image]).await;
    let inspect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 3);
    let back = work.path().join("back");
    skopeo(&["copy", "--src-tls-verify=false", "--src-creds", &node, &image, &format!("oci:{}:v1", back.display())])
        .await;

    let other = format!("docker://{}/team/other:v1", s.addr);
    let denied = skopeo_try(&["copy", "--dest-tls-verify=false", "--dest-creds", &node, &src_ref, &other]).await;
    assert!(!denied.status.success());
    let r = request(s.addr, "GET", "/v2/team/other/manifests/v1", &[], b"").await;
    assert_eq!(r.status, 404);
    let wrong = format!("AWS:{node_token}x");
    let denied = skopeo_try(&["inspect", "--tls-verify=false", "--creds", &wrong, &image]).await;
    assert!(!denied.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_should_copy_a_two_platform_index_and_resolve_each_platform() {
    let s = start().await;
    let creds = format!("AWS:{ADMIN_TOKEN}");
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let mut amd = image(work.path(), &src, "amd64", 2);
    let mut arm = image(work.path(), &src, "arm64", 2);
    amd["platform"] = json!({ "architecture": "amd64", "os": "linux" });
    arm["platform"] = json!({ "architecture": "arm64", "os": "linux" });
    let index =
        json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [amd, arm] });
    let mut index_desc = write_blob(&src, &serde_json::to_vec(&index).unwrap());
    index_desc["mediaType"] = json!("application/vnd.oci.image.index.v1+json");
    let index_digest = index_desc["digest"].as_str().unwrap().to_string();
    tag_v1(&src, index_desc);

    let image_ref = format!("docker://{}/team/multi:v1", s.addr);
    let src_ref = format!("oci:{}:v1", src.display());
    skopeo(&["copy", "--all", "--dest-tls-verify=false", "--dest-creds", &creds, &src_ref, &image_ref]).await;

    let out = skopeo(&["inspect", "--raw", "--tls-verify=false", "--creds", &creds, &image_ref]).await;
    assert_eq!(sha256(&out.stdout), index_digest);
    for (arch, desc) in [("amd64", &amd), ("arm64", &arm)] {
        let out =
            skopeo(&["--override-arch", arch, "inspect", "--tls-verify=false", "--creds", &creds, &image_ref]).await;
        let inspect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(inspect["Architecture"], json!(arch));
        // skopeo reports the index's digest; the layers are the chosen platform's.
        assert_eq!(inspect["Digest"], json!(index_digest));
        let hex = desc["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(src.join("blobs/sha256").join(hex)).unwrap()).unwrap();
        let layers: Vec<serde_json::Value> =
            manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].clone()).collect();
        assert_eq!(inspect["Layers"], json!(layers));
    }
    let r = request(s.addr, "HEAD", "/v2/team/multi/manifests/v1", &[], b"").await;
    assert_eq!(r.header("content-type"), Some("application/vnd.oci.image.index.v1+json"));
}

#[tokio::test(flavor = "multi_thread")]
async fn referrer_artifact_should_be_listed_for_its_subject_and_readable_with_skopeo() {
    let s = start().await;
    let creds = format!("AWS:{ADMIN_TOKEN}");
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let digest = oci_layout(work.path(), &src);
    let image_ref = format!("docker://{}/team/app:v1", s.addr);
    let src_ref = format!("oci:{}:v1", src.display());
    skopeo(&["copy", "--dest-tls-verify=false", "--dest-creds", &creds, &src_ref, &image_ref]).await;
    let subject = request(s.addr, "GET", "/v2/team/app/manifests/v1", &[], b"").await.body;

    // An SBOM artifact whose subject is the image.
    let empty = b"{}";
    let sbom = br#"{"spdxVersion":"SPDX-2.3"}"#;
    common::push_blob(s.addr, "team/app", empty).await;
    common::push_blob(s.addr, "team/app", sbom).await;
    let artifact = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/spdx+json",
        "config": common::descriptor("application/vnd.oci.empty.v1+json", empty),
        "layers": [common::descriptor("application/spdx+json", sbom)],
        "subject": { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": subject.len() },
        "annotations": { "org.opencontainers.image.created": "2026-01-01T00:00:00Z" },
    });
    let artifact_bytes = serde_json::to_vec(&artifact).unwrap();
    let artifact_digest = sha256(&artifact_bytes);
    let r = common::push_manifest(s.addr, "team/app", &artifact_digest, &artifact).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("oci-subject"), Some(digest.as_str()));

    let r = request(s.addr, "GET", &format!("/v2/team/app/referrers/{digest}"), &[], b"").await;
    let list = r.json()["manifests"].clone();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["digest"], json!(artifact_digest));
    assert_eq!(list[0]["artifactType"], json!("application/spdx+json"));
    assert_eq!(list[0]["annotations"]["org.opencontainers.image.created"], json!("2026-01-01T00:00:00Z"));

    let by_digest = format!("docker://{}/team/app@{artifact_digest}", s.addr);
    let out = skopeo(&["inspect", "--raw", "--tls-verify=false", "--creds", &creds, &by_digest]).await;
    assert_eq!(out.stdout, artifact_bytes);
}
