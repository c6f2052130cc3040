//! The ECR service in process: a datastore, IAM, the registry and [`wharf_ecr::Ecr`] wired as
//! `wharf up` wires them, called through the `Service` trait with real request contexts.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wharf_aws::{AwsError, Caller, Input, Output, RequestContext, Service};
use wharf_ecr::{Ecr, RegistryAuthorizer};
use wharf_iam::{Iam, IamConfig};
use wharf_registry::{Authorizer, LocalAuthorizer, Registry, RegistryConfig, Resource};
use wharf_store::sqlite::SqliteStore;
use wharf_store::KvStore;

const ADMIN: &str = "admin-token";

struct Env {
    _dir: tempfile::TempDir,
    store: Arc<dyn KvStore>,
    iam: Arc<Iam>,
    registry: Arc<Registry>,
    authz: Arc<RegistryAuthorizer>,
    ecr: Ecr,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn KvStore> = Arc::new(SqliteStore::open(&dir.path().join("store")).unwrap());
    let iam = Arc::new(Iam::open(store.clone(), IamConfig { account_id: Some("111122223333".into()) }).await.unwrap());
    let authz = Arc::new(RegistryAuthorizer::new(store.clone(), iam.clone(), "us-east-1", LocalAuthorizer::new(store.clone(), ADMIN)));
    let registry = Arc::new(Registry::open(RegistryConfig::new(dir.path().join("registry")), store.clone(), authz.clone()).await.unwrap());
    let ecr = Ecr::new(registry.clone(), authz.clone(), store.clone());
    ecr.set_registry_endpoint("https://127.0.0.1:7443");
    Env { _dir: dir, store, iam, registry, authz, ecr }
}

impl Env {
    fn ctx(&self, caller: Caller, op: &str) -> RequestContext {
        RequestContext {
            request_id: "test".into(),
            caller,
            region: "us-east-1".into(),
            operation: op.into(),
            source_ip: None,
            identity: self.iam.clone(),
            now: wharf_aws::time::now_unix(),
        }
    }

    async fn call_as(&self, caller: Caller, op: &str, input: Value) -> Result<Value, AwsError> {
        match self.ecr.call(&self.ctx(caller, op), op, Input::Json(input)).await? {
            Output::Json(v) => Ok(v),
            other => panic!("unexpected output {other:?}"),
        }
    }

    async fn call(&self, op: &str, input: Value) -> Result<Value, AwsError> {
        self.call_as(self.iam.root_caller(), op, input).await
    }

    /// Uploads a blob into `repo` through `/v2/` as the admin.
    async fn blob(&self, repo: &str, data: &[u8]) -> Value {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(data)));
        let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("AWS:{ADMIN}")));
        let req = http::Request::post(format!("/v2/{repo}/blobs/uploads/?digest={digest}"))
            .header("Authorization", auth)
            .body(Full::new(Bytes::copy_from_slice(data)))
            .unwrap();
        let resp = self.registry.handle(req).await;
        assert_eq!(resp.status(), 201, "{:?}", resp.into_body().collect().await.unwrap().to_bytes());
        json!({ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": data.len() })
    }

    async fn manifest(&self, repo: &str, layer: &[u8]) -> String {
        let mut config = self.blob(repo, br#"{"os":"linux"}"#).await;
        config["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
        let layer = self.blob(repo, layer).await;
        json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": [layer] }).to_string()
    }
}

fn code(r: Result<Value, AwsError>) -> String {
    r.expect_err("expected an error").code
}

#[tokio::test]
async fn put_image_refuses_duplicates_moved_immutable_tags_and_missing_layers() {
    let e = env().await;
    e.call("CreateRepository", json!({ "repositoryName": "app", "imageTagMutability": "IMMUTABLE" })).await.unwrap();
    let m1 = e.manifest("app", b"one").await;
    let out = e.call("PutImage", json!({ "repositoryName": "app", "imageManifest": m1, "imageTag": "v1" })).await.unwrap();
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(m1.as_bytes())));
    assert_eq!(out["image"]["imageId"]["imageDigest"], digest.as_str());
    assert_eq!(out["image"]["imageManifestMediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(code(e.call("PutImage", json!({ "repositoryName": "app", "imageManifest": m1, "imageTag": "v1" })).await), "ImageAlreadyExistsException");
    let m2 = e.manifest("app", b"two").await;
    assert_eq!(code(e.call("PutImage", json!({ "repositoryName": "app", "imageManifest": m2, "imageTag": "v1" })).await), "ImageTagAlreadyExistsException");
    let missing = json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", "0".repeat(64)), "size": 2 }, "layers": [] });
    assert_eq!(code(e.call("PutImage", json!({ "repositoryName": "app", "imageManifest": missing.to_string(), "imageTag": "v9" })).await), "LayersNotFoundException");
    assert_eq!(code(e.call("PutImage", json!({ "repositoryName": "nope", "imageManifest": m2 })).await), "RepositoryNotFoundException");
    // Once mutable, the tag moves.
    e.call("PutImageTagMutability", json!({ "repositoryName": "app", "imageTagMutability": "MUTABLE" })).await.unwrap();
    e.call("PutImage", json!({ "repositoryName": "app", "imageManifest": m2, "imageTag": "v1" })).await.unwrap();
    let untagged = e.call("ListImages", json!({ "repositoryName": "app", "filter": { "tagStatus": "UNTAGGED" } })).await.unwrap();
    assert_eq!(untagged["imageIds"], json!([{ "imageDigest": digest }]));
}

#[tokio::test]
async fn layer_availability_reports_sizes_of_present_layers_and_unavailable_ones() {
    let e = env().await;
    e.call("CreateRepository", json!({ "repositoryName": "app" })).await.unwrap();
    let layer = e.blob("app", b"some layer").await;
    let absent = format!("sha256:{}", "1".repeat(64));
    let out = e
        .call("BatchCheckLayerAvailability", json!({ "repositoryName": "app", "layerDigests": [layer["digest"], absent, "bogus"] }))
        .await
        .unwrap();
    assert_eq!(out["layers"][0]["layerAvailability"], "AVAILABLE");
    assert_eq!(out["layers"][0]["layerSize"], 10);
    assert_eq!(out["layers"][1]["layerAvailability"], "UNAVAILABLE");
    assert_eq!(out["failures"][0]["failureCode"], "InvalidLayerDigest");
}

#[tokio::test]
async fn describe_repositories_pages_with_max_results_and_next_token() {
    let e = env().await;
    for n in ["a1", "b2", "c3"] {
        e.call("CreateRepository", json!({ "repositoryName": n })).await.unwrap();
    }
    let p1 = e.call("DescribeRepositories", json!({ "maxResults": 2 })).await.unwrap();
    assert_eq!(p1["repositories"].as_array().unwrap().len(), 2);
    let token = p1["nextToken"].as_str().unwrap();
    let p2 = e.call("DescribeRepositories", json!({ "maxResults": 2, "nextToken": token })).await.unwrap();
    assert_eq!(p2["repositories"][0]["repositoryName"], "c3");
    assert_eq!(p2["repositories"][0]["repositoryUri"], "127.0.0.1:7443/c3");
    assert!(p2.get("nextToken").is_none());
    assert_eq!(code(e.call("DescribeRepositories", json!({ "maxResults": 0 })).await), "InvalidParameterException");
    assert_eq!(code(e.call("DescribeRepositories", json!({ "nextToken": "garbage!" })).await), "InvalidParameterException");
}

#[tokio::test]
async fn authorization_tokens_are_stored_hashed_survive_a_restart_and_refuse_tampering() {
    let e = env().await;
    let out = e.call("GetAuthorizationToken", json!({})).await.unwrap();
    let data = &out["authorizationData"][0];
    assert_eq!(data["proxyEndpoint"], "https://127.0.0.1:7443");
    let expires = data["expiresAt"].as_i64().unwrap();
    let now = wharf_aws::time::now_unix();
    assert!((now + 12 * 3600 - 5..=now + 12 * 3600 + 5).contains(&expires), "expiresAt {expires}");
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data["authorizationToken"].as_str().unwrap()).unwrap()).unwrap();
    let password = decoded.strip_prefix("AWS:").unwrap().to_string();
    assert!(!password.contains(':'));
    let secret = password.rsplit('.').next().unwrap();
    let stored = e
        .store
        .range(wharf_store::RangeRequest { key: b"/ecr/".to_vec(), range_end: wharf_store::prefix_end(b"/ecr/"), ..Default::default() })
        .await
        .unwrap();
    assert!(!stored.kvs.is_empty());
    assert!(stored.kvs.iter().all(|kv| !String::from_utf8_lossy(&kv.value).contains(secret)), "the secret is stored in clear");

    let id = e.authz.authenticate(&password).await.unwrap().expect("token accepted");
    let repo = Resource::Repository("app".into());
    assert_eq!(e.authz.allowed(&id, &repo).await.unwrap(), wharf_registry::Actions::ALL);
    let tampered = format!("{}x", password);
    assert!(e.authz.authenticate(&tampered).await.unwrap().is_none());

    // A restart: a new authorizer over the same store accepts it.
    let again = RegistryAuthorizer::new(e.store.clone(), e.iam.clone(), "us-east-1", LocalAuthorizer::new(e.store.clone(), ADMIN));
    assert!(again.authenticate(&password).await.unwrap().is_some());
    // The admin token keeps working.
    assert!(again.authenticate(ADMIN).await.unwrap().is_some());
}

#[tokio::test]
async fn tokens_of_temporary_credentials_expire_with_them() {
    let e = env().await;
    let past = wharf_aws::time::now_unix() - 1;
    let t = e.authz.issue(&e.iam.root_caller(), Some(past)).await.unwrap();
    assert_eq!(t.expires_at, past);
    assert!(e.authz.authenticate(&t.password).await.unwrap().is_none());
    assert_eq!(e.authz.sweep_tokens().await.unwrap(), 1);
}

#[tokio::test]
async fn a_user_without_policies_is_denied_and_a_repository_policy_can_grant_him() {
    let e = env().await;
    e.call("CreateRepository", json!({ "repositoryName": "app" })).await.unwrap();
    let iam = wharf_iam::IamService::new(e.iam.clone());
    let form = wharf_aws::QueryParams(vec![("UserName".into(), "carol".into())]);
    iam.call(&e.ctx(e.iam.root_caller(), "CreateUser"), "CreateUser", Input::Query(form)).await.unwrap();
    let carol = Caller {
        account: "111122223333".into(),
        arn: "arn:aws:iam::111122223333:user/carol".into(),
        user_id: "AIDACAROL".into(),
        access_key_id: None,
        kind: wharf_aws::PrincipalKind::User { name: "carol".into() },
    };
    let denied = e.call_as(carol.clone(), "ListImages", json!({ "repositoryName": "app" })).await.unwrap_err();
    assert_eq!(denied.code, "AccessDenied");
    assert!(denied.message.contains("ecr:ListImages"), "{}", denied.message);
    let policy = json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": { "AWS": carol.arn }, "Action": "ecr:ListImages" }] });
    e.call("SetRepositoryPolicy", json!({ "repositoryName": "app", "policyText": policy.to_string() })).await.unwrap();
    e.call_as(carol.clone(), "ListImages", json!({ "repositoryName": "app" })).await.unwrap();
    let got = e.call("GetRepositoryPolicy", json!({ "repositoryName": "app" })).await.unwrap();
    assert_eq!(got["policyText"], policy.to_string());
    e.call("DeleteRepositoryPolicy", json!({ "repositoryName": "app" })).await.unwrap();
    assert_eq!(code(e.call("GetRepositoryPolicy", json!({ "repositoryName": "app" })).await), "RepositoryPolicyNotFoundException");
    assert_eq!(e.call_as(carol, "ListImages", json!({ "repositoryName": "app" })).await.unwrap_err().code, "AccessDenied");
}

#[tokio::test]
async fn lifecycle_policies_expire_images_but_not_the_manifests_an_index_lists() {
    let e = env().await;
    e.call("CreateRepository", json!({ "repositoryName": "multi" })).await.unwrap();
    let amd = e.manifest("multi", b"amd64").await;
    let arm = e.manifest("multi", b"arm64").await;
    let desc = |m: &str| json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", hex::encode(Sha256::digest(m.as_bytes()))), "size": m.len() });
    for m in [&amd, &arm] {
        e.call("PutImage", json!({ "repositoryName": "multi", "imageManifest": m })).await.unwrap();
    }
    let index = json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [desc(&amd), desc(&arm)] }).to_string();
    e.call("PutImage", json!({ "repositoryName": "multi", "imageManifest": index, "imageTag": "v1" })).await.unwrap();
    let stray = e.manifest("multi", b"stray").await;
    e.call("PutImage", json!({ "repositoryName": "multi", "imageManifest": stray })).await.unwrap();
    // Expire every untagged image at once.
    let policy = json!({ "rules": [{ "rulePriority": 1, "selection": { "tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1 }, "action": { "type": "expire" } }] });
    let untagged_before = e.call("ListImages", json!({ "repositoryName": "multi", "filter": { "tagStatus": "UNTAGGED" } })).await.unwrap();
    assert_eq!(untagged_before["imageIds"].as_array().unwrap().len(), 3);
    let strays = [desc(&stray)["digest"].clone()];
    e.call("PutLifecyclePolicy", json!({ "repositoryName": "multi", "lifecyclePolicyText": policy.to_string() })).await.unwrap();
    // The stray is the newest untagged image and the only one the rule considers (the index's
    // children are not candidates), so nothing is expired yet.
    let after = e.call("ListImages", json!({ "repositoryName": "multi" })).await.unwrap();
    assert_eq!(after["imageIds"].as_array().unwrap().len(), 4, "{after}");
    let newer = e.manifest("multi", b"newer stray").await;
    e.call("PutImage", json!({ "repositoryName": "multi", "imageManifest": newer })).await.unwrap();
    let expired = e.ecr.apply_lifecycle("multi").await.unwrap();
    // Of the two strays the first pushed goes (if the push had not applied it already).
    let listed = e.call("ListImages", json!({ "repositoryName": "multi" })).await.unwrap();
    assert_eq!(listed["imageIds"].as_array().unwrap().len(), 4, "{listed}");
    assert!(!listed["imageIds"].as_array().unwrap().iter().any(|i| i["imageDigest"] == strays[0]), "{listed}");
    assert!(expired.len() <= 1);
    let got = e.call("BatchGetImage", json!({ "repositoryName": "multi", "imageIds": [{ "imageTag": "v1" }] })).await.unwrap();
    assert_eq!(got["images"].as_array().unwrap().len(), 1);
    for m in [&amd, &arm] {
        let id = desc(m)["digest"].clone();
        let r = e.call("BatchGetImage", json!({ "repositoryName": "multi", "imageIds": [{ "imageDigest": id }] })).await.unwrap();
        assert_eq!(r["images"].as_array().unwrap().len(), 1, "an index child was expired");
    }
}
