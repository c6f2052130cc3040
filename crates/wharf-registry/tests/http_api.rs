//! The `/v2/` API driven directly over HTTP.
#![allow(clippy::unwrap_used)]

mod common;

use common::{descriptor, push_blob, push_manifest, request, sha256, start};
use serde_json::json;
use wharf_registry::Auth;

const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

#[tokio::test]
async fn base_endpoint_should_announce_the_distribution_api_version() {
    let s = start(Auth::None).await;
    let r = request(s.addr, "GET", "/v2/", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("docker-distribution-api-version"), Some("registry/2.0"));
}

#[tokio::test]
async fn upload_with_wrong_digest_should_fail_with_digest_invalid_and_leave_nothing_visible() {
    let s = start(Auth::None).await;
    let data = b"hello blob";
    let wrong = sha256(b"something else");
    let r = request(s.addr, "POST", &format!("/v2/team/app/blobs/uploads/?digest={wrong}"), &[], data).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "DIGEST_INVALID");

    let r = request(s.addr, "POST", "/v2/team/app/blobs/uploads/", &[], b"").await;
    let loc = r.header("location").unwrap().to_string();
    let r = request(s.addr, "PUT", &format!("{loc}?digest={wrong}"), &[], data).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "DIGEST_INVALID");

    for d in [wrong, sha256(data)] {
        let r = request(s.addr, "HEAD", &format!("/v2/team/app/blobs/{d}"), &[], b"").await;
        assert_eq!(r.status, 404);
    }
    let blobs = s.dir.path().join("registry/blobs/sha256");
    assert_eq!(std::fs::read_dir(&blobs).unwrap().count(), 0);
    let uploads = s.dir.path().join("registry/uploads");
    assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 0);
}

#[tokio::test]
async fn chunked_upload_should_follow_content_range_and_report_status() {
    let s = start(Auth::None).await;
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let r = request(s.addr, "POST", "/v2/team/app/blobs/uploads/", &[], b"").await;
    assert_eq!(r.status, 202);
    let uuid = r.header("docker-upload-uuid").unwrap().to_string();
    let loc = r.header("location").unwrap().to_string();
    assert!(loc.ends_with(&uuid));

    let r = request(
        s.addr,
        "PATCH",
        &loc,
        &[("Content-Range", "0-999"), ("Content-Type", "application/octet-stream")],
        &data[..1000],
    )
    .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.header("range"), Some("0-999"));

    let r = request(s.addr, "GET", &loc, &[], b"").await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("range"), Some("0-999"));
    assert_eq!(r.header("docker-upload-uuid"), Some(uuid.as_str()));

    // A chunk that does not continue at the current offset is refused.
    let r = request(s.addr, "PATCH", &loc, &[("Content-Range", "500-999")], &data[500..1000]).await;
    assert_eq!(r.status, 416);

    let r = request(s.addr, "PATCH", &loc, &[("Content-Range", "1000-2999")], &data[1000..]).await;
    assert_eq!(r.status, 202);
    assert_eq!(r.header("range"), Some("0-2999"));

    let digest = sha256(&data);
    let r = request(s.addr, "PUT", &format!("{loc}?digest={digest}"), &[], b"").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));

    let r = request(s.addr, "GET", &format!("/v2/team/app/blobs/{digest}"), &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, data);
    let r = request(s.addr, "GET", &format!("/v2/team/app/blobs/{digest}"), &[("Range", "bytes=10-19")], b"").await;
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &data[10..20]);
    assert_eq!(r.header("content-range"), Some("bytes 10-19/3000"));

    let r = request(s.addr, "GET", &loc, &[], b"").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn blob_should_mount_across_repositories_and_disappear_after_delete() {
    let s = start(Auth::None).await;
    let d = push_blob(s.addr, "team/app", b"shared layer").await;
    let r = request(s.addr, "HEAD", &format!("/v2/other/app/blobs/{d}"), &[], b"").await;
    assert_eq!(r.status, 404);
    let r = request(s.addr, "POST", &format!("/v2/other/app/blobs/uploads/?mount={d}&from=team/app"), &[], b"").await;
    assert_eq!(r.status, 201);
    let r = request(s.addr, "HEAD", &format!("/v2/other/app/blobs/{d}"), &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("12"));
    let r = request(s.addr, "DELETE", &format!("/v2/other/app/blobs/{d}"), &[], b"").await;
    assert_eq!(r.status, 202);
    let r = request(s.addr, "GET", &format!("/v2/other/app/blobs/{d}"), &[], b"").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "BLOB_UNKNOWN");
}

#[tokio::test]
async fn manifest_referring_to_an_unknown_blob_should_fail_with_manifest_blob_unknown() {
    let s = start(Auth::None).await;
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    push_blob(s.addr, "team/app", config).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor(CONFIG, config),
        "layers": [descriptor(LAYER, b"never uploaded")],
    });
    let r = push_manifest(s.addr, "team/app", "v1", &manifest).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "MANIFEST_BLOB_UNKNOWN");
    let r = request(s.addr, "GET", "/v2/team/app/manifests/v1", &[], b"").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn oversized_manifest_should_be_refused_with_size_invalid() {
    let s = start(Auth::None).await;
    let big = vec![b' '; wharf_registry::MAX_MANIFEST_BYTES + 1];
    let r = request(
        s.addr,
        "PUT",
        "/v2/team/app/manifests/v1",
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &big,
    )
    .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.error_code(), "SIZE_INVALID");
}

#[tokio::test]
async fn path_traversal_in_repository_name_should_fail_with_name_invalid() {
    let s = start(Auth::None).await;
    for path in ["/v2/a/../b/manifests/v1", "/v2/a/%2e%2e/b/tags/list", "/v2/Team/app/blobs/uploads/"] {
        let method = if path.ends_with("uploads/") { "POST" } else { "GET" };
        let r = request(s.addr, method, path, &[], b"").await;
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(r.error_code(), "NAME_INVALID", "{path}");
    }
}

async fn push_image(
    addr: std::net::SocketAddr,
    repo: &str,
    reference: &str,
    layer: &[u8],
) -> (String, serde_json::Value) {
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    push_blob(addr, repo, config).await;
    push_blob(addr, repo, layer).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor(CONFIG, config),
        "layers": [descriptor(LAYER, layer)],
    });
    let r = push_manifest(addr, repo, reference, &manifest).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    (r.header("docker-content-digest").unwrap().to_string(), manifest)
}

#[tokio::test]
async fn tag_list_should_paginate_with_n_last_and_link() {
    let s = start(Auth::None).await;
    let (digest, _) = push_image(s.addr, "team/app", "a", b"layer").await;
    for t in ["b", "c", "d", "e"] {
        let body = request(s.addr, "GET", &format!("/v2/team/app/manifests/{digest}"), &[], b"").await.body;
        let r = request(
            s.addr,
            "PUT",
            &format!("/v2/team/app/manifests/{t}"),
            &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
            &body,
        )
        .await;
        assert_eq!(r.status, 201);
    }
    let r = request(s.addr, "GET", "/v2/team/app/tags/list?n=2", &[], b"").await;
    assert_eq!(r.json(), json!({ "name": "team/app", "tags": ["a", "b"] }));
    assert_eq!(r.header("link"), Some(r#"</v2/team/app/tags/list?n=2&last=b>; rel="next""#));
    let r = request(s.addr, "GET", "/v2/team/app/tags/list?n=2&last=b", &[], b"").await;
    assert_eq!(r.json()["tags"], json!(["c", "d"]));
    let r = request(s.addr, "GET", "/v2/team/app/tags/list?n=2&last=d", &[], b"").await;
    assert_eq!(r.json()["tags"], json!(["e"]));
    assert_eq!(r.header("link"), None);

    let r = request(s.addr, "GET", "/v2/_catalog", &[], b"").await;
    assert_eq!(r.json(), json!({ "repositories": ["team/app"] }));
    let r = request(s.addr, "GET", "/v2/nobody/tags/list", &[], b"").await;
    assert_eq!(r.error_code(), "NAME_UNKNOWN");
}

#[tokio::test]
async fn referrers_should_list_manifests_with_subject_and_filter_by_artifact_type() {
    let s = start(Auth::None).await;
    let (subject, manifest) = push_image(s.addr, "team/app", "v1", b"layer").await;
    let subject_desc = json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": serde_json::to_vec(&manifest).unwrap().len() });
    let empty = b"{}";
    push_blob(s.addr, "team/app", empty).await;
    let mut digests = Vec::new();
    for artifact in ["application/vnd.example.sbom", "application/vnd.example.signature"] {
        let m = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": artifact,
            "config": descriptor("application/vnd.oci.empty.v1+json", empty),
            "layers": [descriptor("application/vnd.oci.empty.v1+json", empty)],
            "subject": subject_desc,
        });
        let d = sha256(&serde_json::to_vec(&m).unwrap());
        let r = push_manifest(s.addr, "team/app", &d, &m).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.header("oci-subject"), Some(subject.as_str()));
        digests.push(d);
    }
    let r = request(s.addr, "GET", &format!("/v2/team/app/referrers/{subject}"), &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/vnd.oci.image.index.v1+json"));
    assert_eq!(r.json()["manifests"].as_array().unwrap().len(), 2);

    let r = request(
        s.addr,
        "GET",
        &format!("/v2/team/app/referrers/{subject}?artifactType=application/vnd.example.sbom"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.header("oci-filters-applied"), Some("artifactType"));
    let list = r.json()["manifests"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["digest"], json!(digests[0]));
    assert_eq!(list[0]["artifactType"], json!("application/vnd.example.sbom"));

    let r = request(s.addr, "DELETE", &format!("/v2/team/app/manifests/{}", digests[0]), &[], b"").await;
    assert_eq!(r.status, 202);
    let r = request(s.addr, "GET", &format!("/v2/team/app/referrers/{subject}"), &[], b"").await;
    assert_eq!(r.json()["manifests"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn basic_auth_should_answer_401_without_credentials_and_serve_with_them() {
    let s = start(Auth::Basic { user: "wharf".into(), password: "s3cret".into() }).await;
    let r = request(s.addr, "GET", "/v2/", &[], b"").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some(r#"Basic realm="wharf""#));
    assert_eq!(r.error_code(), "UNAUTHORIZED");
    // base64("wharf:wrong") and base64("wharf:s3cret")
    let r = request(s.addr, "GET", "/v2/", &[("Authorization", "Basic d2hhcmY6d3Jvbmc=")], b"").await;
    assert_eq!(r.status, 401);
    let r = request(s.addr, "GET", "/v2/", &[("Authorization", "Basic d2hhcmY6czNjcmV0")], b"").await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn image_index_should_require_its_child_manifests_and_serve_its_media_type() {
    let s = start(Auth::None).await;
    let (amd, m1) = push_image(s.addr, "team/multi", "amd64", b"amd64 layer").await;
    let (arm, m2) = push_image(s.addr, "team/multi", "arm64", b"arm64 layer").await;
    let size = |m: &serde_json::Value| serde_json::to_vec(m).unwrap().len();
    let mt = "application/vnd.oci.image.manifest.v1+json";
    let unknown = sha256(b"no such manifest");
    let index = |extra: Option<&str>| {
        let mut manifests = vec![
            json!({ "mediaType": mt, "digest": amd, "size": size(&m1), "platform": { "architecture": "amd64", "os": "linux" } }),
            json!({ "mediaType": mt, "digest": arm, "size": size(&m2), "platform": { "architecture": "arm64", "os": "linux" } }),
        ];
        if let Some(d) = extra {
            manifests.push(json!({ "mediaType": mt, "digest": d, "size": 10 }));
        }
        serde_json::to_vec(&json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests })).unwrap()
    };
    let ct = [("Content-Type", "application/vnd.oci.image.index.v1+json")];
    let r = request(s.addr, "PUT", "/v2/team/multi/manifests/latest", &ct, &index(Some(&unknown))).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "MANIFEST_BLOB_UNKNOWN");

    let body = index(None);
    let r = request(s.addr, "PUT", "/v2/team/multi/manifests/latest", &ct, &body).await;
    assert_eq!(r.status, 201);
    let digest = sha256(&body);
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));

    let r = request(s.addr, "HEAD", "/v2/team/multi/manifests/latest", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/vnd.oci.image.index.v1+json"));
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
    assert_eq!(r.header("content-length"), Some(body.len().to_string().as_str()));
    let r = request(s.addr, "GET", &format!("/v2/team/multi/manifests/{digest}"), &[], b"").await;
    assert_eq!(r.body, body);

    // A manifest pushed by digest must match that digest.
    let r = request(s.addr, "PUT", &format!("/v2/team/multi/manifests/{unknown}"), &ct, &body).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "DIGEST_INVALID");
}

#[tokio::test]
async fn upload_whose_connection_dies_midway_should_leave_nothing_behind() {
    use tokio::io::AsyncWriteExt;
    let s = start(Auth::None).await;
    let r = request(s.addr, "POST", "/v2/team/app/blobs/uploads/", &[], b"").await;
    let loc = r.header("location").unwrap().to_string();
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = format!("PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(&[7u8; 5000]).await.unwrap();
    c.flush().await.unwrap();
    drop(c);

    let uploads = s.dir.path().join("registry/uploads");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let r = request(s.addr, "GET", &loc, &[], b"").await;
        let empty = std::fs::read_dir(&uploads).unwrap().count() == 0;
        if r.status == 404 && empty {
            assert_eq!(r.error_code(), "BLOB_UPLOAD_UNKNOWN");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "upload still present: {} {}", r.status, empty);
        tokio::task::yield_now().await;
    }
    assert_eq!(std::fs::read_dir(s.dir.path().join("registry/blobs/sha256")).unwrap().count(), 0);
}
