//! The `/v2/` API driven directly over HTTP.
#![allow(clippy::unwrap_used)]

mod common;

use common::{anon_request, basic, descriptor, push_blob, push_manifest, request, sha256, start, start_with};
use serde_json::json;
use wharf_registry::{Actions, Challenge, Grant};

const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

#[tokio::test]
async fn base_endpoint_should_announce_the_distribution_api_version() {
    let s = start().await;
    let r = request(s.addr, "GET", "/v2/", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("docker-distribution-api-version"), Some("registry/2.0"));
}

#[tokio::test]
async fn upload_with_wrong_digest_should_fail_with_digest_invalid_and_leave_nothing_visible() {
    let s = start().await;
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
    let s = start().await;
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
    let s = start().await;
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
    let s = start().await;
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
    let s = start().await;
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
    let s = start().await;
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
    let s = start().await;
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
    let s = start().await;
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
async fn image_index_should_require_its_child_manifests_and_serve_its_media_type() {
    let s = start().await;
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
    let s = start().await;
    let r = request(s.addr, "POST", "/v2/team/app/blobs/uploads/", &[], b"").await;
    let loc = r.header("location").unwrap().to_string();
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: 100000\r\n\r\n",
        common::admin_basic()
    );
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

#[tokio::test]
async fn every_request_should_need_credentials_and_basic_should_take_user_aws_with_a_token() {
    let s = start().await;
    let r = anon_request(s.addr, "GET", "/v2/", &[], b"").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some(r#"Basic realm="wharf-registry""#));
    assert_eq!(r.error_code(), "UNAUTHORIZED");
    for path in ["/v2/_catalog", "/v2/team/app/tags/list", &format!("/v2/team/app/blobs/{}", sha256(b"x"))] {
        assert_eq!(anon_request(s.addr, "GET", path, &[], b"").await.status, 401, "{path}");
    }
    let wrong_user = {
        use base64::Engine as _;
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("root:{}", common::ADMIN_TOKEN)))
    };
    for auth in [basic("wrong"), wrong_user, "Bearer not-a-token".to_string()] {
        let r = anon_request(s.addr, "GET", "/v2/", &[("Authorization", &auth)], b"").await;
        assert_eq!(r.status, 401, "{auth}");
    }
    assert_eq!(request(s.addr, "GET", "/v2/", &[], b"").await.status, 200);

    // An ECR-style token issued for the admin works as the Basic password.
    let token =
        s.registry.issue_token(&wharf_registry::Identity { name: "admin".into() }, std::time::Duration::from_secs(60));
    let r = anon_request(s.addr, "GET", "/v2/_catalog", &[("Authorization", &basic(&token))], b"").await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn pull_only_credential_should_pull_and_be_denied_push_delete_and_catalog() {
    let s = start().await;
    let (digest, _) = push_image(s.addr, "team/app", "v1", b"layer").await;
    let token = s
        .authorizer
        .create_credential("node-1", &[Grant { repositories: "team/*".into(), actions: Actions::PULL }])
        .await
        .unwrap();
    let node = basic(&token);
    let h = [("Authorization", node.as_str())];
    assert_eq!(request(s.addr, "GET", "/v2/team/app/manifests/v1", &h, b"").await.status, 200);
    assert_eq!(request(s.addr, "GET", "/v2/team/app/tags/list", &h, b"").await.status, 200);
    for (method, path) in [
        ("POST", "/v2/team/app/blobs/uploads/".to_string()),
        ("DELETE", format!("/v2/team/app/manifests/{digest}")),
        ("GET", "/v2/_catalog".to_string()),
        ("GET", "/v2/other/app/tags/list".to_string()),
    ] {
        let r = request(s.addr, method, &path, &h, b"").await;
        assert_eq!(r.status, 403, "{method} {path}");
        assert_eq!(r.error_code(), "DENIED");
    }
    s.authorizer.delete_credential("node-1").await.unwrap();
    assert_eq!(request(s.addr, "GET", "/v2/team/app/manifests/v1", &h, b"").await.status, 401);
}

#[tokio::test]
async fn token_endpoint_should_grant_only_the_allowed_part_of_the_requested_scope() {
    let s = start_with(|c| c.challenge = Challenge::Bearer).await;
    push_image(s.addr, "team/app", "v1", b"layer").await;
    let r = anon_request(s.addr, "GET", "/v2/team/app/manifests/v1", &[], b"").await;
    assert_eq!(r.status, 401);
    let challenge = r.header("www-authenticate").unwrap().to_string();
    assert_eq!(
        challenge,
        format!(
            r#"Bearer realm="http://{}/v2/token",service="wharf-registry",scope="repository:team/app:pull""#,
            s.addr
        )
    );
    // The token endpoint itself wants Basic credentials.
    let r =
        anon_request(s.addr, "GET", "/v2/token?service=wharf-registry&scope=repository:team/app:pull", &[], b"").await;
    assert_eq!(r.status, 401);

    let token = s
        .authorizer
        .create_credential("node-1", &[Grant { repositories: "*".into(), actions: Actions::PULL }])
        .await
        .unwrap();
    let r = anon_request(
        s.addr,
        "GET",
        "/v2/token?service=wharf-registry&scope=repository:team/app:pull,push",
        &[("Authorization", &basic(&token))],
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    let bearer = format!("Bearer {}", r.json()["token"].as_str().unwrap());
    assert_eq!(r.json()["access_token"], r.json()["token"]);
    let h = [("Authorization", bearer.as_str())];
    assert_eq!(anon_request(s.addr, "GET", "/v2/team/app/manifests/v1", &h, b"").await.status, 200);
    // Push was asked for but not granted: 401 with insufficient_scope, as Docker's spec says.
    let r = anon_request(s.addr, "POST", "/v2/team/app/blobs/uploads/", &h, b"").await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().ends_with(r#"error="insufficient_scope""#));
    // The token names one repository only.
    assert_eq!(anon_request(s.addr, "GET", "/v2/other/tags/list", &h, b"").await.status, 401);
    // A tampered token is rejected.
    let tampered = format!("{}x", bearer);
    assert_eq!(anon_request(s.addr, "GET", "/v2/", &[("Authorization", &tampered)], b"").await.status, 401);
}

#[tokio::test]
async fn cross_repository_mount_should_need_pull_on_the_source() {
    let s = start().await;
    let d = push_blob(s.addr, "secret/app", b"private layer").await;
    let token = s
        .authorizer
        .create_credential("ci", &[Grant { repositories: "team/*".into(), actions: Actions::ALL }])
        .await
        .unwrap();
    let h = basic(&token);
    let r = request(
        s.addr,
        "POST",
        &format!("/v2/team/app/blobs/uploads/?mount={d}&from=secret/app"),
        &[("Authorization", &h)],
        b"",
    )
    .await;
    assert_eq!(r.status, 202, "a refused mount falls back to an ordinary upload");
    let r = request(s.addr, "HEAD", &format!("/v2/team/app/blobs/{d}"), &[], b"").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn immutable_repository_should_refuse_moving_a_tag_with_tag_invalid() {
    let s = start().await;
    s.registry.set_immutable("team/app", true).await.unwrap();
    let (d1, m1) = push_image(s.addr, "team/app", "v1", b"layer one").await;
    // Re-pushing the same manifest under the same tag is fine.
    let r = push_manifest(s.addr, "team/app", "v1", &m1).await;
    assert_eq!(r.status, 201);
    let layer = b"layer two";
    push_blob(s.addr, "team/app", layer).await;
    let mut m2 = m1.clone();
    m2["layers"] = json!([descriptor(LAYER, layer)]);
    let r = push_manifest(s.addr, "team/app", "v1", &m2).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "TAG_INVALID");
    let r = request(s.addr, "HEAD", "/v2/team/app/manifests/v1", &[], b"").await;
    assert_eq!(r.header("docker-content-digest"), Some(d1.as_str()));
    // A mutable repository moves the tag.
    let (_, m) = push_image(s.addr, "team/mutable", "v1", b"layer one").await;
    push_blob(s.addr, "team/mutable", layer).await;
    let mut m3 = m.clone();
    m3["layers"] = json!([descriptor(LAYER, layer)]);
    assert_eq!(push_manifest(s.addr, "team/mutable", "v1", &m3).await.status, 201);
}

#[tokio::test]
async fn chunk_shorter_than_its_content_range_should_be_refused_and_leave_the_upload_as_it_was() {
    let s = start().await;
    let data: Vec<u8> = (0..2000u32).map(|i| (i % 253) as u8).collect();
    let r = request(s.addr, "POST", "/v2/team/app/blobs/uploads/", &[], b"").await;
    let loc = r.header("location").unwrap().to_string();
    let r = request(s.addr, "PATCH", &loc, &[("Content-Range", "0-999")], &data[..1000]).await;
    assert_eq!(r.status, 202);
    let r = request(s.addr, "PATCH", &loc, &[("Content-Range", "1000-1999")], &data[1000..1500]).await;
    assert_eq!(r.status, 416);
    assert_eq!(r.header("range"), Some("0-999"));
    let r = request(s.addr, "PATCH", &loc, &[("Content-Range", "1000-1999")], &data[1000..]).await;
    assert_eq!(r.status, 202);
    let digest = sha256(&data);
    let r = request(s.addr, "PUT", &format!("{loc}?digest={digest}"), &[], b"").await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(request(s.addr, "GET", &format!("/v2/team/app/blobs/{digest}"), &[], b"").await.body, data);
}

#[tokio::test]
async fn truncated_final_put_should_leave_no_blob_and_end_the_upload() {
    use tokio::io::AsyncWriteExt;
    let s = start().await;
    let data = vec![9u8; 100_000];
    let digest = sha256(&data);
    let r = request(s.addr, "POST", "/v2/team/app/blobs/uploads/", &[], b"").await;
    let loc = r.header("location").unwrap().to_string();
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "PUT {loc}?digest={digest} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
        common::admin_basic(),
        data.len()
    );
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(&data[..40_000]).await.unwrap();
    c.flush().await.unwrap();
    drop(c);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = request(s.addr, "GET", &loc, &[], b"").await;
        let empty = std::fs::read_dir(s.dir.path().join("registry/uploads")).unwrap().count() == 0;
        if r.status == 404 && empty {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "upload still present");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let r = request(s.addr, "HEAD", &format!("/v2/team/app/blobs/{digest}"), &[], b"").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn idle_uploads_should_expire_and_their_files_be_removed() {
    let s = start_with(|c| c.upload_expiry = std::time::Duration::from_millis(200)).await;
    let r = request(s.addr, "POST", "/v2/team/app/blobs/uploads/", &[], b"").await;
    let loc = r.header("location").unwrap().to_string();
    assert_eq!(request(s.addr, "PATCH", &loc, &[], b"some data").await.status, 202);
    assert_eq!(s.registry.sweep_uploads(), 0, "a fresh upload survives the sweep");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while s.registry.sweep_uploads() == 0 {
        assert!(std::time::Instant::now() < deadline, "upload never expired");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let r = request(s.addr, "GET", &loc, &[], b"").await;
    assert_eq!(r.error_code(), "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(std::fs::read_dir(s.dir.path().join("registry/uploads")).unwrap().count(), 0);
}

fn blob_files(s: &common::Server) -> usize {
    let root = s.dir.path().join("registry/blobs/sha256");
    std::fs::read_dir(root).unwrap().map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count()).sum()
}

#[tokio::test]
async fn garbage_collection_should_delete_unreferenced_blobs_and_keep_referenced_and_young_ones() {
    let s = start_with(|c| c.gc_grace = std::time::Duration::ZERO).await;
    let (keep, _) = push_image(s.addr, "team/app", "v1", b"kept layer").await;
    let (gone, _) = push_image(s.addr, "team/app", "v2", b"deleted layer").await;
    let orphan = push_blob(s.addr, "team/app", b"never referenced").await;
    assert_eq!(request(s.addr, "DELETE", &format!("/v2/team/app/manifests/{gone}"), &[], b"").await.status, 202);
    assert_eq!(blob_files(&s), 4); // config (shared), two layers, orphan

    // Blobs written just now are younger than the clock slack: spared.
    let report = s.registry.collect_garbage().await.unwrap();
    assert_eq!(report.deleted, 0);
    assert_eq!(report.spared, 2);
    // Age the files past the cutoff, as if they were written long ago.
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for d in [sha256(b"deleted layer"), orphan.clone(), sha256(b"kept layer")] {
        let p = s.dir.path().join("registry/blobs/sha256").join(&d[7..9]).join(&d[7..]);
        std::fs::File::open(p).unwrap().set_modified(old).unwrap();
    }
    let report = s.registry.collect_garbage().await.unwrap();
    assert_eq!(report.deleted, 2);
    assert_eq!(report.referenced, 2);
    assert_eq!(blob_files(&s), 2);
    let r = request(s.addr, "HEAD", &format!("/v2/team/app/blobs/{orphan}"), &[], b"").await;
    assert_eq!(r.status, 404);
    let r = request(s.addr, "GET", &format!("/v2/team/app/blobs/{}", sha256(b"kept layer")), &[], b"").await;
    assert_eq!(r.body, b"kept layer");
    let r = request(s.addr, "GET", &format!("/v2/team/app/manifests/{keep}"), &[], b"").await;
    assert_eq!(r.status, 200);

    // A manifest that refers to a collected blob is refused; re-uploading it makes it whole.
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let m = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor(CONFIG, config),
        "layers": [descriptor(LAYER, b"never referenced")],
    });
    assert_eq!(push_manifest(s.addr, "team/app", "v3", &m).await.error_code(), "MANIFEST_BLOB_UNKNOWN");
    push_blob(s.addr, "team/app", b"never referenced").await;
    assert_eq!(push_manifest(s.addr, "team/app", "v3", &m).await.status, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn garbage_collection_running_during_pushes_should_never_break_a_pushed_image() {
    let s = start_with(|c| c.gc_grace = std::time::Duration::ZERO).await;
    // Old, unreferenced blobs that pushes will start referring to (by mount and re-link) while
    // the collector runs.
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let mut shared = Vec::new();
    for i in 0..20 {
        let data = format!("shared layer {i}").into_bytes();
        let d = push_blob(s.addr, "base/lib", &data).await;
        let p = s.dir.path().join("registry/blobs/sha256").join(&d[7..9]).join(&d[7..]);
        std::fs::File::open(p).unwrap().set_modified(old).unwrap();
        shared.push((d, data));
    }
    let addr = s.addr;
    let pushes = tokio::spawn(async move {
        let mut pushed = Vec::new();
        for (i, (d, data)) in shared.into_iter().enumerate() {
            let repo = format!("app/n{i}");
            let r =
                request(addr, "POST", &format!("/v2/{repo}/blobs/uploads/?mount={d}&from=base/lib"), &[], b"").await;
            let config = format!(r#"{{"architecture":"amd64","os":"linux","n":{i}}}"#).into_bytes();
            push_blob(addr, &repo, &config).await;
            if r.status != 201 {
                push_blob(addr, &repo, &data).await; // collected before the mount: upload again
            }
            let m = json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": descriptor(CONFIG, &config),
                "layers": [descriptor(LAYER, &data)],
            });
            let mut r = push_manifest(addr, &repo, "v1", &m).await;
            if r.status == 400 {
                // Collected between mount and manifest: the push is refused; upload and retry.
                assert_eq!(r.error_code(), "MANIFEST_BLOB_UNKNOWN");
                push_blob(addr, &repo, &data).await;
                r = push_manifest(addr, &repo, "v1", &m).await;
            }
            assert_eq!(r.status, 201);
            pushed.push((repo, d));
        }
        pushed
    });
    while !pushes.is_finished() {
        s.registry.collect_garbage().await.unwrap();
    }
    let pushed = pushes.await.unwrap();
    s.registry.collect_garbage().await.unwrap();
    for (repo, d) in pushed {
        let r = request(s.addr, "GET", &format!("/v2/{repo}/blobs/{d}"), &[], b"").await;
        assert_eq!(r.status, 200, "{repo} lost {d}");
        assert_eq!(sha256(&r.body), d);
    }
}

#[tokio::test]
async fn large_blob_should_stream_in_and_out_intact() {
    let s = start().await;
    // 5 MiB + 3 bytes: several disk chunks and a ragged end.
    let data: Vec<u8> = (0..(5 * 1024 * 1024 + 3) as u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    let d = push_blob(s.addr, "team/big", &data).await;
    let r = request(s.addr, "GET", &format!("/v2/team/big/blobs/{d}"), &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), data.len());
    assert_eq!(sha256(&r.body), d);
    let r =
        request(s.addr, "GET", &format!("/v2/team/big/blobs/{d}"), &[("Range", "bytes=1048570-2097160")], b"").await;
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &data[1048570..=2097160]);
}

#[tokio::test]
async fn malformed_manifests_and_references_should_get_the_specs_error_codes() {
    let s = start().await;
    let ct = [("Content-Type", "application/vnd.oci.image.manifest.v1+json")];
    let r = request(s.addr, "PUT", "/v2/team/app/manifests/v1", &ct, b"not json").await;
    assert_eq!(r.error_code(), "MANIFEST_INVALID");
    let r = request(s.addr, "PUT", "/v2/team/app/manifests/v1", &ct, br#"{"schemaVersion":2}"#).await;
    assert_eq!(r.error_code(), "MANIFEST_INVALID");
    let r =
        request(s.addr, "PUT", "/v2/team/app/manifests/-bad", &ct, br#"{"schemaVersion":2,"config":{},"layers":[]}"#)
            .await;
    assert_eq!(r.error_code(), "TAG_INVALID");
    let r = request(s.addr, "GET", "/v2/team/app/blobs/sha256:zz", &[], b"").await;
    assert_eq!(r.error_code(), "DIGEST_INVALID");
    let r = request(s.addr, "POST", "/v2/team/app/blobs/uploads/?digest=md5:abc", &[], b"x").await;
    assert_eq!(r.error_code(), "DIGEST_INVALID");
    let r = request(s.addr, "GET", "/v2/team/app/blobs/uploads/../../../etc", &[], b"").await;
    assert_eq!(r.status, 404);
    let r = request(s.addr, "PATCH", "/v2/team/app/blobs/uploads/..", &[], b"x").await;
    assert_eq!(r.error_code(), "BLOB_UPLOAD_UNKNOWN");
    let r = request(s.addr, "GET", "/v2/nobody/manifests/v1", &[], b"").await;
    assert_eq!(r.error_code(), "NAME_UNKNOWN");
    let r = request(s.addr, "PATCH", "/v2/team/app/manifests/v1", &[], b"").await;
    assert_eq!(r.error_code(), "UNSUPPORTED");
}

#[tokio::test]
async fn ecr_side_calls_should_list_images_delete_them_and_delete_a_repository_but_not_its_children() {
    let s = start().await;
    let (d1, m1) = push_image(s.addr, "team/app", "v1", b"layer one").await;
    push_image(s.addr, "team/app/sub", "v1", b"nested").await;
    let r = push_manifest(s.addr, "team/app", "latest", &m1).await;
    assert_eq!(r.status, 201);
    s.registry.create_repository("team/empty", true).await.unwrap();
    assert_eq!(s.registry.repositories().await.unwrap(), vec!["team/app", "team/app/sub", "team/empty"]);

    let images = s.registry.images("team/app").await.unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].digest, d1);
    assert_eq!(images[0].tags, vec!["latest", "v1"]);
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let manifest_len = serde_json::to_vec(&m1).unwrap().len();
    assert_eq!(images[0].size, (manifest_len + config.len() + b"layer one".len()) as u64);
    assert!(images[0].pushed_at > 1_700_000_000);

    assert!(s.registry.delete_image("team/app", "latest").await.unwrap());
    assert!(!s.registry.delete_image("team/app", "latest").await.unwrap());
    assert_eq!(s.registry.images("team/app").await.unwrap()[0].tags, vec!["v1"]);

    assert!(s.registry.delete_repository("team/app").await.unwrap());
    assert!(!s.registry.repository_exists("team/app").await.unwrap());
    assert_eq!(request(s.addr, "GET", "/v2/team/app/tags/list", &[], b"").await.error_code(), "NAME_UNKNOWN");
    assert_eq!(request(s.addr, "GET", "/v2/team/app/sub/manifests/v1", &[], b"").await.status, 200);
    assert!(s.registry.images("team/app").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_should_speak_h2c_and_stream_a_blob_over_it() {
    use http_body_util::{BodyExt, Empty};
    let s = start().await;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 249) as u8).collect();
    let d = push_blob(s.addr, "team/h2", &data).await;

    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let req = http::Request::get(format!("http://{}/v2/team/h2/blobs/{d}", s.addr))
        .header("Authorization", common::admin_basic())
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), data.len());
    assert_eq!(sha256(&body), d);
    drop(send);
    conn.abort();
}

#[tokio::test]
async fn reopening_the_registry_should_keep_images_and_tokens_and_drop_unfinished_uploads() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let open = || async {
        let store = Arc::new(wharf_store::sqlite::SqliteStore::open(&dir.path().join("store")).unwrap());
        let auth = Arc::new(wharf_registry::LocalAuthorizer::new(store.clone(), common::ADMIN_TOKEN));
        let config = wharf_registry::RegistryConfig::new(dir.path().join("registry"));
        Arc::new(wharf_registry::Registry::open(config, store, auth).await.unwrap())
    };
    let serve = |reg: Arc<wharf_registry::Registry>| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(wharf_registry::serve(listener, reg, async move {
            let _ = rx.await;
        }));
        (addr, tx, task)
    };

    let reg = open().await;
    let token =
        reg.issue_token(&wharf_registry::Identity { name: "admin".into() }, std::time::Duration::from_secs(600));
    let (addr, stop, task) = serve(reg).await;
    let (digest, _) = push_image(addr, "team/app", "v1", b"durable layer").await;
    let r = request(addr, "POST", "/v2/team/app/blobs/uploads/", &[], b"").await;
    let loc = r.header("location").unwrap().to_string();
    assert_eq!(request(addr, "PATCH", &loc, &[], b"half an upload").await.status, 202);
    stop.send(()).unwrap();
    task.await.unwrap();

    let reg = open().await;
    let (addr, stop, task) = serve(reg).await;
    let r = anon_request(addr, "GET", "/v2/team/app/manifests/v1", &[("Authorization", &basic(&token))], b"").await;
    assert_eq!(r.status, 200, "a token signed before the restart is still valid");
    assert_eq!(r.header("docker-content-digest"), Some(digest.as_str()));
    let r = request(addr, "GET", &format!("/v2/team/app/blobs/{}", sha256(b"durable layer")), &[], b"").await;
    assert_eq!(r.body, b"durable layer");
    assert_eq!(request(addr, "GET", &loc, &[], b"").await.error_code(), "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(std::fs::read_dir(dir.path().join("registry/uploads")).unwrap().count(), 0);
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn content_management_should_delete_tags_manifests_blobs_and_uploads() {
    let s = start().await;
    let (digest, m) = push_image(s.addr, "team/app", "v1", b"layer").await;
    assert_eq!(push_manifest(s.addr, "team/app", "v2", &m).await.status, 201);

    let r = request(s.addr, "DELETE", "/v2/team/app/manifests/v1", &[], b"").await;
    assert_eq!(r.status, 202);
    assert_eq!(request(s.addr, "GET", "/v2/team/app/manifests/v1", &[], b"").await.error_code(), "MANIFEST_UNKNOWN");
    assert_eq!(request(s.addr, "GET", "/v2/team/app/manifests/v2", &[], b"").await.status, 200);
    assert_eq!(request(s.addr, "GET", "/v2/team/app/tags/list", &[], b"").await.json()["tags"], json!(["v2"]));

    let r = request(s.addr, "DELETE", &format!("/v2/team/app/manifests/{digest}"), &[], b"").await;
    assert_eq!(r.status, 202);
    assert_eq!(request(s.addr, "GET", "/v2/team/app/manifests/v2", &[], b"").await.status, 404);
    let r = request(s.addr, "DELETE", &format!("/v2/team/app/manifests/{digest}"), &[], b"").await;
    assert_eq!(r.error_code(), "MANIFEST_UNKNOWN");

    let layer = sha256(b"layer");
    assert_eq!(request(s.addr, "DELETE", &format!("/v2/team/app/blobs/{layer}"), &[], b"").await.status, 202);
    let r = request(s.addr, "DELETE", &format!("/v2/team/app/blobs/{layer}"), &[], b"").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "BLOB_UNKNOWN");

    let r = request(s.addr, "POST", "/v2/team/app/blobs/uploads/", &[], b"").await;
    let loc = r.header("location").unwrap().to_string();
    assert_eq!(request(s.addr, "PATCH", &loc, &[], b"partial").await.status, 202);
    assert_eq!(request(s.addr, "DELETE", &loc, &[], b"").await.status, 204);
    assert_eq!(request(s.addr, "GET", &loc, &[], b"").await.error_code(), "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(std::fs::read_dir(s.dir.path().join("registry/uploads")).unwrap().count(), 0);
}

#[tokio::test]
async fn maintain_should_expire_uploads_and_collect_garbage_until_shut_down() {
    let s = start_with(|c| {
        c.upload_expiry = std::time::Duration::from_millis(100);
        c.gc_grace = std::time::Duration::ZERO;
    })
    .await;
    let orphan = push_blob(s.addr, "team/app", b"orphan").await;
    let p = s.dir.path().join("registry/blobs/sha256").join(&orphan[7..9]).join(&orphan[7..]);
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::open(&p).unwrap().set_modified(old).unwrap();
    let r = request(s.addr, "POST", "/v2/team/app/blobs/uploads/", &[], b"").await;
    let loc = r.header("location").unwrap().to_string();
    assert_eq!(request(s.addr, "PATCH", &loc, &[], b"abandoned").await.status, 202);

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let every = Some(std::time::Duration::from_millis(50));
    let task = tokio::spawn(s.registry.clone().maintain(every, async move {
        let _ = stopped.await;
    }));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let upload_gone = request(s.addr, "GET", &loc, &[], b"").await.status == 404;
        if upload_gone && !p.exists() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "maintenance did not run: upload gone {upload_gone}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), task).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_manifest_should_be_fetchable_as_a_blob_by_its_digest() {
    let s = start().await;
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let layer = b"layer bytes";
    push_blob(s.addr, "team/app", config).await;
    push_blob(s.addr, "team/app", layer).await;
    let manifest = json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor(CONFIG, config), "layers": [descriptor(LAYER, layer)] });
    let r = push_manifest(s.addr, "team/app", "v1", &manifest).await;
    assert_eq!(r.status, 201);
    let digest = r.header("docker-content-digest").unwrap().to_string();
    let head = request(s.addr, "HEAD", &format!("/v2/team/app/blobs/{digest}"), &[], b"").await;
    assert_eq!(head.status, 200);
    let get = request(s.addr, "GET", &format!("/v2/team/app/blobs/{digest}"), &[], b"").await;
    assert_eq!(get.status, 200);
    assert_eq!(sha256(&get.body), digest);
    assert_eq!(head.header("content-length"), Some(get.body.len().to_string().as_str()));
    // Not in another repository.
    let other = request(s.addr, "GET", &format!("/v2/team/other/blobs/{digest}"), &[], b"").await;
    assert_eq!(other.error_code(), "BLOB_UNKNOWN");
}
