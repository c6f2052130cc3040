//! The EKS service in-process over a real datastore and IAM, with a recording host: the
//! cluster state machine, FAILED with a reason, restart, access entries and the
//! authenticator's decisions.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{json, Value};
use wharf_aws::{AwsError, Identity, Input, Output, RequestContext, Service};
use wharf_eks::{ClusterEndpoint, ClusterHost, ClusterSpec, Eks, EksConfig, HostError};
use wharf_iam::{Iam, IamConfig};
use wharf_store::{sqlite::SqliteStore, KvStore};

/// A host that records what it was asked and fails clusters named `fail-*`.
#[derive(Default)]
struct FakeHost {
    running: Mutex<HashMap<String, usize>>,
    purged: Mutex<Vec<String>>,
    rbac: Mutex<HashMap<String, Vec<Value>>>,
    started: Mutex<usize>,
    aws_auth: Mutex<Option<std::collections::BTreeMap<String, String>>>,
}

#[async_trait]
impl ClusterHost for FakeHost {
    async fn start(&self, name: &str, _spec: &ClusterSpec) -> Result<ClusterEndpoint, HostError> {
        if name.starts_with("fail-") {
            return Err(HostError("listen on 127.0.0.1:1: address in use".into()));
        }
        *self.started.lock().unwrap() += 1;
        let mut r = self.running.lock().unwrap();
        let n = r.len() + 1;
        r.insert(name.into(), n);
        Ok(ClusterEndpoint { endpoint: format!("https://127.0.0.1:{}", 7000 + n), ca_pem: format!("CA of {name}") })
    }
    async fn stop(&self, name: &str, purge: bool) -> Result<(), HostError> {
        self.running.lock().unwrap().remove(name);
        if purge {
            self.purged.lock().unwrap().push(name.into());
        }
        Ok(())
    }
    async fn aws_auth(&self, _name: &str) -> Result<Option<std::collections::BTreeMap<String, String>>, HostError> {
        Ok(self.aws_auth.lock().unwrap().clone())
    }
    async fn sync_rbac(&self, name: &str, objects: Vec<Value>) -> Result<(), HostError> {
        self.rbac.lock().unwrap().insert(name.into(), objects);
        Ok(())
    }
    async fn set_nodegroup(&self, _c: &str, _n: &str, _spec: Option<&wharf_eks::nodegroup::NodegroupSpec>) -> Result<wharf_eks::nodegroup::NodegroupNodes, HostError> {
        Err(HostError("this host runs no node agents".into()))
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<dyn KvStore>,
    iam: Arc<Iam>,
    host: Arc<FakeHost>,
    eks: Eks,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn KvStore> = Arc::new(SqliteStore::open(&dir.path().join("store")).unwrap());
    let iam = Arc::new(Iam::open(store.clone(), IamConfig { account_id: Some("123456789012".into()) }).await.unwrap());
    let host = Arc::new(FakeHost::default());
    let eks = Eks::new(iam.clone(), store.clone(), host.clone(), Arc::new(wharf_eks::AcceptAnyNetwork), EksConfig::new("us-east-1", "https://wharf.test/oidc"));
    Fixture { _dir: dir, store, iam, host, eks }
}

impl Fixture {
    async fn call(&self, method: &str, path: &str, body: Value) -> Result<Value, AwsError> {
        let svc = self.eks.service();
        let method: http::Method = method.parse().unwrap();
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let op = svc.resolve_rest(&method, path).unwrap_or_else(|| panic!("no operation for {method} {path}"));
        let ctx = RequestContext {
            request_id: "r".into(),
            caller: self.iam.root_caller(),
            region: "us-east-1".into(),
            operation: op.clone(),
            source_ip: None,
            identity: self.iam.clone() as Arc<dyn Identity>,
            now: wharf_aws::time::now_unix(),
        };
        let query = query.split('&').filter(|q| !q.is_empty()).filter_map(|q| q.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let input = Input::Rest { method, path: path.into(), query, headers: Default::default(), body: body.to_string().into() };
        match svc.call(&ctx, &op, input).await? {
            Output::Json(v) | Output::JsonStatus(_, v) => Ok(v),
            other => panic!("unexpected output {other:?}"),
        }
    }

    async fn status(&self, name: &str) -> Option<String> {
        match self.call("GET", &format!("/clusters/{name}"), json!({})).await {
            Ok(v) => Some(v["cluster"]["status"].as_str().unwrap().to_string()),
            Err(e) if e.code == "ResourceNotFoundException" => None,
            Err(e) => panic!("{e}"),
        }
    }

    async fn until(&self, name: &str, want: Option<&str>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.status(name).await;
            if s.as_deref() == want {
                return;
            }
            assert!(Instant::now() < deadline, "cluster {name} is {s:?}, wanted {want:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn role(&self) -> String {
        // Through IAM's own API, as `aws iam create-role` does.
        if self.iam.state().role("eks").await.unwrap().is_none() {
            let svc = wharf_iam::IamService::new(self.iam.clone());
            let ctx = RequestContext {
                request_id: "r".into(),
                caller: self.iam.root_caller(),
                region: "us-east-1".into(),
                operation: "CreateRole".into(),
                source_ip: None,
                identity: self.iam.clone() as Arc<dyn Identity>,
                now: wharf_aws::time::now_unix(),
            };
            let q = wharf_aws::QueryParams::parse(b"RoleName=eks&AssumeRolePolicyDocument=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D");
            svc.call(&ctx, "CreateRole", Input::Query(q)).await.unwrap();
        }
        "arn:aws:iam::123456789012:role/eks".into()
    }
}

fn create_body(name: &str, role: &str) -> Value {
    json!({"name": name, "roleArn": role, "resourcesVpcConfig": {"subnetIds": ["subnet-1"]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_go_from_creating_to_active_and_from_deleting_to_gone() {
    let f = fixture().await;
    let role = f.role().await;
    let c = f.call("POST", "/clusters", create_body("a", &role)).await.unwrap();
    assert_eq!(c["cluster"]["status"], "CREATING");
    assert_eq!(c["cluster"]["arn"], "arn:aws:eks:us-east-1:123456789012:cluster/a");
    f.until("a", Some("ACTIVE")).await;
    let d = f.call("GET", "/clusters/a", json!({})).await.unwrap();
    assert_eq!(d["cluster"]["endpoint"], "https://127.0.0.1:7001");
    assert_eq!(d["cluster"]["certificateAuthority"]["data"], "Q0Egb2YgYQ==");
    assert!(d["cluster"]["identity"]["oidc"]["issuer"].as_str().unwrap().starts_with("https://wharf.test/oidc/id/"));
    // The creator's admin entry is applied as RBAC.
    let rbac = f.host.rbac.lock().unwrap().get("a").cloned().unwrap();
    assert!(rbac.iter().any(|o| o["kind"] == "ClusterRoleBinding" && o["roleRef"]["name"] == "wharf-eks:cluster-admin"));

    let e = f.call("POST", "/clusters", create_body("a", &role)).await.unwrap_err();
    assert_eq!(e.code, "ResourceInUseException");
    f.call("DELETE", "/clusters/a", json!({})).await.unwrap();
    f.until("a", None).await;
    assert_eq!(*f.host.purged.lock().unwrap(), vec!["a".to_string()]);
    let e = f.call("DELETE", "/clusters/a", json!({})).await.unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");
    // Its access entries are gone with it.
    let left = f.store.range(wharf_store::RangeRequest { key: b"/eks/".to_vec(), range_end: wharf_store::prefix_end(b"/eks/"), ..Default::default() }).await.unwrap();
    assert!(left.kvs.is_empty(), "records left: {:?}", left.kvs.iter().map(|k| String::from_utf8_lossy(&k.key).into_owned()).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_plane_that_cannot_start_leaves_the_cluster_failed_with_the_reason() {
    let f = fixture().await;
    let role = f.role().await;
    f.call("POST", "/clusters", create_body("fail-1", &role)).await.unwrap();
    f.until("fail-1", Some("FAILED")).await;
    let d = f.call("GET", "/clusters/fail-1", json!({})).await.unwrap();
    assert!(d["cluster"]["health"]["issues"][0]["message"].as_str().unwrap().contains("address in use"), "{d}");
    // A failed cluster can be deleted.
    f.call("DELETE", "/clusters/fail-1", json!({})).await.unwrap();
    f.until("fail-1", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_is_refused_with_the_models_errors() {
    let f = fixture().await;
    let role = f.role().await;
    let e = f.call("POST", "/clusters", create_body("a", "arn:aws:iam::123456789012:role/nope")).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
    let e = f.call("POST", "/clusters", json!({"name": "a", "roleArn": role})).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
    let e = f.call("POST", "/clusters", create_body("-bad", &role)).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
    let mut b = create_body("a", &role);
    b["version"] = json!("1.20");
    assert_eq!(f.call("POST", "/clusters", b).await.unwrap_err().code, "InvalidParameterException");
    let mut b = create_body("a", &role);
    b["kubernetesNetworkConfig"] = json!({"serviceIpv4Cidr": "8.8.0.0/16"});
    assert_eq!(f.call("POST", "/clusters", b).await.unwrap_err().code, "InvalidParameterException");
    assert_eq!(f.call("GET", "/clusters/none", json!({})).await.unwrap_err().code, "ResourceNotFoundException");
    assert_eq!(f.call("GET", "/clusters?maxResults=0", json!({})).await.unwrap_err().code, "InvalidParameterException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_starts_active_clusters_again() {
    let f = fixture().await;
    let role = f.role().await;
    f.call("POST", "/clusters", create_body("a", &role)).await.unwrap();
    f.until("a", Some("ACTIVE")).await;
    // A new process: a fresh host and manager over the same datastore.
    let host = Arc::new(FakeHost::default());
    let eks = Eks::new(f.iam.clone(), f.store.clone(), host.clone(), Arc::new(wharf_eks::AcceptAnyNetwork), EksConfig::new("us-east-1", "https://x"));
    eks.resume().await.unwrap();
    assert_eq!(*host.started.lock().unwrap(), 1);
    assert!(host.running.lock().unwrap().contains_key("a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_entries_and_policies_map_to_groups_and_bindings() {
    let f = fixture().await;
    let role = f.role().await;
    let mut b = create_body("a", &role);
    b["accessConfig"] = json!({"bootstrapClusterCreatorAdminPermissions": false, "authenticationMode": "API"});
    f.call("POST", "/clusters", b).await.unwrap();
    f.until("a", Some("ACTIVE")).await;
    let entries = f.call("GET", "/clusters/a/access-entries", json!({})).await.unwrap();
    assert_eq!(entries["accessEntries"], json!([]), "no creator entry when bootstrap is off");

    let principal = "arn:aws:iam::123456789012:role/eks";
    let enc = "arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Feks";
    let e = f.call("POST", "/clusters/a/access-entries", json!({"principalArn": principal, "kubernetesGroups": ["devs"]})).await.unwrap();
    assert_eq!(e["accessEntry"]["username"], "arn:aws:sts::123456789012:assumed-role/eks/{{SessionName}}");
    assert_eq!(f.call("POST", "/clusters/a/access-entries", json!({"principalArn": principal})).await.unwrap_err().code, "ResourceInUseException");
    let bad = f.call("POST", "/clusters/a/access-entries", json!({"principalArn": "arn:aws:iam::123456789012:user/ghost"})).await.unwrap_err();
    assert_eq!(bad.code, "InvalidParameterException");
    let bad = f.call("POST", "/clusters/a/access-entries", json!({"principalArn": "arn:aws:iam::123456789012:root", "kubernetesGroups": ["system:masters"]})).await.unwrap_err();
    assert_eq!(bad.code, "InvalidParameterException", "system: groups cannot be granted by an entry");

    let assoc = json!({"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy", "accessScope": {"type": "namespace", "namespaces": ["team"]}});
    let r = f.call("POST", &format!("/clusters/a/access-entries/{enc}/access-policies"), assoc).await.unwrap();
    assert_eq!(r["associatedAccessPolicy"]["accessScope"]["namespaces"], json!(["team"]));
    let rbac = f.host.rbac.lock().unwrap().get("a").cloned().unwrap();
    let rb: Vec<&Value> = rbac.iter().filter(|o| o["kind"] == "RoleBinding").collect();
    assert_eq!(rb.len(), 1);
    assert_eq!(rb[0]["metadata"]["namespace"], "team");
    assert_eq!(rb[0]["roleRef"]["name"], "wharf-eks:edit");
    let listed = f.call("GET", &format!("/clusters/a/access-entries/{enc}/access-policies"), json!({})).await.unwrap();
    assert_eq!(listed["associatedAccessPolicies"].as_array().unwrap().len(), 1);
    let filtered = f.call("GET", "/clusters/a/access-entries?associatedPolicyArn=arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", json!({})).await.unwrap();
    assert_eq!(filtered["accessEntries"], json!([]));
    let bad = json!({"policyArn": "arn:aws:eks::aws:cluster-access-policy/Nope", "accessScope": {"type": "cluster"}});
    assert_eq!(f.call("POST", &format!("/clusters/a/access-entries/{enc}/access-policies"), bad).await.unwrap_err().code, "InvalidParameterException");

    f.call("DELETE", &format!("/clusters/a/access-entries/{enc}/access-policies/arn%3Aaws%3Aeks%3A%3Aaws%3Acluster-access-policy%2FAmazonEKSEditPolicy"), json!({}))
        .await
        .unwrap();
    let rbac = f.host.rbac.lock().unwrap().get("a").cloned().unwrap();
    assert!(rbac.iter().all(|o| o["kind"] == "ClusterRole"), "only the policy roles remain: {rbac:?}");
    f.call("DELETE", &format!("/clusters/a/access-entries/{enc}"), json!({})).await.unwrap();
    assert_eq!(f.call("GET", &format!("/clusters/a/access-entries/{enc}"), json!({})).await.unwrap_err().code, "ResourceNotFoundException");

    let policies = f.call("GET", "/access-policies", json!({})).await.unwrap();
    assert_eq!(policies["accessPolicies"].as_array().unwrap().len(), 4);
    // An invalid token never authenticates.
    assert!(f.eks.authenticator("a").authenticate("k8s-aws-v1.bm90LWEtdXJs").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_and_version_updates_are_recorded_and_validated() {
    let f = fixture().await;
    let role = f.role().await;
    f.call("POST", "/clusters", create_body("a", &role)).await.unwrap();
    f.until("a", Some("ACTIVE")).await;
    let u = f.call("POST", "/clusters/a/update-config", json!({"accessConfig": {"authenticationMode": "API"}})).await.unwrap();
    assert_eq!(u["update"]["type"], "AccessConfigUpdate");
    let id = u["update"]["id"].as_str().unwrap();
    let d = f.call("GET", &format!("/clusters/a/updates/{id}"), json!({})).await.unwrap();
    assert_eq!(d["update"]["status"], "Successful");
    let c = f.call("GET", "/clusters/a", json!({})).await.unwrap();
    assert_eq!(c["cluster"]["accessConfig"]["authenticationMode"], "API");
    // The mode only moves towards API.
    let e = f.call("POST", "/clusters/a/update-config", json!({"accessConfig": {"authenticationMode": "CONFIG_MAP"}})).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
    // Only the next minor version, and only one Wharf serves.
    let e = f.call("POST", "/clusters/a/updates", json!({"version": "1.34"})).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
    let e = f.call("POST", "/clusters/a/updates", json!({"version": "1.33"})).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
    let ids = f.call("GET", "/clusters/a/updates", json!({})).await.unwrap();
    assert_eq!(ids["updateIds"], json!([id]));
    assert_eq!(f.call("GET", "/clusters/a/updates/nope", json!({})).await.unwrap_err().code, "ResourceNotFoundException");
}

/// A token as `aws eks get-token --cluster-name <cluster>` makes it, signed with `key`.
fn token(key_id: &str, secret: &str, cluster: &str) -> String {
    use base64::Engine;
    let uri: http::Uri = "https://127.0.0.1:4443/?Action=GetCallerIdentity&Version=2011-06-15".parse().unwrap();
    let creds = wharf_aws::sigv4::SigningCredentials { access_key_id: key_id, secret_access_key: secret, session_token: None };
    let q = wharf_aws::sigv4::presign_query(&http::Method::GET, &uri, &[("x-k8s-aws-id", cluster)], &creds, "us-east-1", "sts", wharf_aws::time::now_unix(), 60);
    let url = format!("https://127.0.0.1:4443/?{q}");
    format!("k8s-aws-v1.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_map_through_access_entries_or_aws_auth_by_authentication_mode() {
    let f = fixture().await;
    let role = f.role().await;
    let admin = f.iam.admin_credentials().clone();
    let root_token = token(&admin.access_key_id, &admin.secret_access_key, "api");
    f.call("POST", "/clusters", create_body("api", &role)).await.unwrap();
    f.until("api", Some("ACTIVE")).await;
    let id = f.eks.authenticator("api").authenticate(&root_token).await.expect("the creator's entry authenticates");
    assert_eq!(id.username, "arn:aws:iam::123456789012:root");
    assert!(id.groups.iter().any(|g| g.starts_with("wharf-eks:entry:")), "{id:?}");
    // Signed for another cluster.
    assert!(f.eks.authenticator("api").authenticate(&token(&admin.access_key_id, &admin.secret_access_key, "other")).await.is_none());
    // Without its entry, the creator is refused.
    f.call("DELETE", "/clusters/api/access-entries/arn%3Aaws%3Aiam%3A%3A123456789012%3Aroot", json!({})).await.unwrap();
    assert!(f.eks.authenticator("api").authenticate(&root_token).await.is_none());

    // CONFIG_MAP: the creator is a hidden admin; others come from aws-auth.
    let mut b = create_body("cm", &role);
    b["accessConfig"] = json!({"authenticationMode": "CONFIG_MAP"});
    f.call("POST", "/clusters", b).await.unwrap();
    f.until("cm", Some("ACTIVE")).await;
    let e = f.call("POST", "/clusters/cm/access-entries", json!({"principalArn": "arn:aws:iam::123456789012:root"})).await.unwrap_err();
    assert_eq!(e.code, "InvalidRequestException");
    let cm_token = token(&admin.access_key_id, &admin.secret_access_key, "cm");
    let id = f.eks.authenticator("cm").authenticate(&cm_token).await.expect("creator");
    assert_eq!(id.groups, vec!["system:masters".to_string()]);
    // An IAM user mapped in aws-auth.
    let svc = wharf_iam::IamService::new(f.iam.clone());
    let ctx = RequestContext {
        request_id: "r".into(),
        caller: f.iam.root_caller(),
        region: "us-east-1".into(),
        operation: "CreateUser".into(),
        source_ip: None,
        identity: f.iam.clone() as Arc<dyn Identity>,
        now: wharf_aws::time::now_unix(),
    };
    svc.call(&ctx, "CreateUser", Input::Query(wharf_aws::QueryParams::parse(b"UserName=ops"))).await.unwrap();
    let out = svc.call(&ctx, "CreateAccessKey", Input::Query(wharf_aws::QueryParams::parse(b"UserName=ops"))).await.unwrap();
    let Output::Xml(xml) = out else { panic!("xml expected") };
    let field = |tag: &str| xml.split(&format!("<{tag}>")).nth(1).unwrap().split(&format!("</{tag}>")).next().unwrap().to_string();
    let ops_token = token(&field("AccessKeyId"), &field("SecretAccessKey"), "cm");
    assert!(f.eks.authenticator("cm").authenticate(&ops_token).await.is_none(), "not mapped yet");
    let mut data = std::collections::BTreeMap::new();
    data.insert("mapUsers".to_string(), "- userarn: arn:aws:iam::123456789012:user/ops\n  username: ops\n  groups: [ops-team]\n".to_string());
    *f.host.aws_auth.lock().unwrap() = Some(data);
    let id = f.eks.authenticator("cm").authenticate(&ops_token).await.expect("mapped by aws-auth");
    assert_eq!((id.username.as_str(), id.groups.clone()), ("ops", vec!["ops-team".to_string()]));
    // API_AND_CONFIG_MAP (the default) falls back to aws-auth; API ignores it.
    let api_token = token(&field("AccessKeyId"), &field("SecretAccessKey"), "api");
    assert!(f.eks.authenticator("api").authenticate(&api_token).await.is_some());
    f.call("POST", "/clusters/api/update-config", json!({"accessConfig": {"authenticationMode": "API"}})).await.unwrap();
    assert!(f.eks.authenticator("api").authenticate(&token(&field("AccessKeyId"), &field("SecretAccessKey"), "api")).await.is_none());
}
