//! Node groups through the EKS service in-process with a host that records the node
//! agents it was asked to run: validation, CREATING → ACTIVE, scaling, labels and taints,
//! CREATE_FAILED with a reason, DeleteCluster refused while node groups exist, restart.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{json, Value};
use wharf_aws::{AwsError, Identity, Input, Output, RequestContext, Service};
use wharf_eks::nodegroup::{NodegroupNodes, NodegroupSpec};
use wharf_eks::{ClusterEndpoint, ClusterHost, ClusterSpec, Eks, EksConfig, HostError};
use wharf_iam::{Iam, IamConfig};
use wharf_store::{sqlite::SqliteStore, KvStore};

/// Runs clusters trivially and records each node group's spec; node groups whose first
/// label `fail` is set cannot start.
#[derive(Default)]
struct NgHost {
    groups: Mutex<HashMap<String, NodegroupSpec>>,
}

#[async_trait]
impl ClusterHost for NgHost {
    async fn start(&self, name: &str, _spec: &ClusterSpec) -> Result<ClusterEndpoint, HostError> {
        Ok(ClusterEndpoint { endpoint: "https://127.0.0.1:7001".into(), ca_pem: format!("CA of {name}") })
    }
    async fn stop(&self, _name: &str, _purge: bool) -> Result<(), HostError> {
        Ok(())
    }
    async fn aws_auth(&self, _name: &str) -> Result<Option<std::collections::BTreeMap<String, String>>, HostError> {
        Ok(None)
    }
    async fn sync_rbac(&self, _name: &str, _objects: Vec<Value>) -> Result<(), HostError> {
        Ok(())
    }
    async fn set_nodegroup(&self, cluster: &str, nodegroup: &str, spec: Option<&NodegroupSpec>) -> Result<NodegroupNodes, HostError> {
        let key = format!("{cluster}/{nodegroup}");
        let mut g = self.groups.lock().unwrap();
        match spec {
            None => {
                g.remove(&key);
                Ok(NodegroupNodes::default())
            }
            Some(s) if s.labels.contains_key("fail") => Err(HostError("no address left in the subnet".into())),
            Some(s) => {
                g.insert(key, s.clone());
                Ok(NodegroupNodes { nodes: (0..s.desired).map(|i| format!("ip-172-31-0-{}.us-east-1.compute.internal", 10 + i)).collect() })
            }
        }
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<dyn KvStore>,
    iam: Arc<Iam>,
    host: Arc<NgHost>,
    eks: Eks,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn KvStore> = Arc::new(SqliteStore::open(&dir.path().join("store")).unwrap());
    let iam = Arc::new(Iam::open(store.clone(), IamConfig { account_id: Some("123456789012".into()) }).await.unwrap());
    let host = Arc::new(NgHost::default());
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

    #[allow(dead_code)]
    async fn status(&self, name: &str) -> Option<String> {
        match self.call("GET", &format!("/clusters/{name}"), json!({})).await {
            Ok(v) => Some(v["cluster"]["status"].as_str().unwrap().to_string()),
            Err(e) if e.code == "ResourceNotFoundException" => None,
            Err(e) => panic!("{e}"),
        }
    }

    #[allow(dead_code)]
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



impl Fixture {
    async fn ng_status(&self, cluster: &str, ng: &str) -> Option<String> {
        match self.call("GET", &format!("/clusters/{cluster}/node-groups/{ng}"), json!({})).await {
            Ok(v) => Some(v["nodegroup"]["status"].as_str().unwrap().to_string()),
            Err(e) if e.code == "ResourceNotFoundException" => None,
            Err(e) => panic!("{e}"),
        }
    }

    async fn ng_until(&self, cluster: &str, ng: &str, want: Option<&str>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.ng_status(cluster, ng).await;
            if s.as_deref() == want {
                return;
            }
            assert!(Instant::now() < deadline, "node group {ng} is {s:?}, wanted {want:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn active_cluster(&self, name: &str) {
        let role = self.role().await;
        self.call("POST", "/clusters", json!({"name": name, "roleArn": role, "resourcesVpcConfig": {"subnetIds": ["subnet-1", "subnet-2"]}})).await.unwrap();
        self.until(name, Some("ACTIVE")).await;
    }

    fn spec(&self, cluster: &str, ng: &str) -> Option<NodegroupSpec> {
        self.host.groups.lock().unwrap().get(&format!("{cluster}/{ng}")).cloned()
    }
}

fn ng_body(name: &str, role: &str, desired: u32) -> Value {
    json!({"nodegroupName": name, "nodeRole": role, "subnets": ["subnet-1", "subnet-2"], "scalingConfig": {"minSize": 0, "maxSize": 3, "desiredSize": desired}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_groups_go_active_with_the_instance_types_capacity_and_eks_labels() {
    let f = fixture().await;
    f.active_cluster("c1").await;
    let role = f.role().await;
    let mut body = ng_body("ng1", &role, 2);
    body["instanceTypes"] = json!(["m5.large"]);
    body["labels"] = json!({"team": "blue"});
    body["taints"] = json!([{"key": "dedicated", "value": "gpu", "effect": "NO_SCHEDULE"}]);
    let created = f.call("POST", "/clusters/c1/node-groups", body).await.unwrap();
    let ng = &created["nodegroup"];
    assert_eq!(ng["status"], "CREATING");
    assert!(ng["nodegroupArn"].as_str().unwrap().starts_with("arn:aws:eks:us-east-1:123456789012:nodegroup/c1/ng1/"));
    assert_eq!(ng["capacityType"], "ON_DEMAND");
    f.ng_until("c1", "ng1", Some("ACTIVE")).await;
    let spec = f.spec("c1", "ng1").unwrap();
    assert_eq!(spec.desired, 2);
    assert_eq!((spec.instance_type.vcpu, spec.instance_type.memory_mib, spec.instance_type.max_pods()), (2, 8192, 29));
    assert_eq!(spec.labels["eks.amazonaws.com/nodegroup"], "ng1");
    assert_eq!(spec.labels["eks.amazonaws.com/capacityType"], "ON_DEMAND");
    assert_eq!(spec.labels["node.kubernetes.io/instance-type"], "m5.large");
    assert_eq!(spec.labels["team"], "blue");
    assert_eq!(spec.taints[0].to_kube(), json!({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}));
    assert_eq!(spec.subnets.iter().map(|s| s.availability_zone.as_str()).collect::<Vec<_>>(), vec!["us-east-1a", "us-east-1b"]);
    let d = f.call("GET", "/clusters/c1/node-groups/ng1", json!({})).await.unwrap();
    assert!(d["nodegroup"]["resources"]["autoScalingGroups"][0]["name"].as_str().unwrap().starts_with("eks-ng1-"));
    assert_eq!(d["nodegroup"]["health"]["issues"], json!([]));
    let l = f.call("GET", "/clusters/c1/node-groups", json!({})).await.unwrap();
    assert_eq!(l["nodegroups"], json!(["ng1"]));
    // Default instance type t3.medium.
    f.call("POST", "/clusters/c1/node-groups", ng_body("ng2", &role, 1)).await.unwrap();
    f.ng_until("c1", "ng2", Some("ACTIVE")).await;
    assert_eq!(f.spec("c1", "ng2").unwrap().instance_type.name, "t3.medium");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_node_groups_are_refused_with_the_models_errors() {
    let f = fixture().await;
    f.active_cluster("c1").await;
    let role = f.role().await;
    let err = |r: Result<Value, AwsError>| r.unwrap_err().code;
    let mut bad = ng_body("ng", &role, 5);
    assert_eq!(err(f.call("POST", "/clusters/c1/node-groups", bad.clone()).await), "InvalidParameterException");
    bad = ng_body("ng", "arn:aws:iam::123456789012:role/missing", 1);
    assert_eq!(err(f.call("POST", "/clusters/c1/node-groups", bad).await), "InvalidParameterException");
    bad = ng_body("ng", &role, 1);
    bad["instanceTypes"] = json!(["z9.huge"]);
    assert_eq!(err(f.call("POST", "/clusters/c1/node-groups", bad).await), "InvalidParameterException");
    bad = ng_body("ng", &role, 1);
    bad["taints"] = json!([{"key": "k", "effect": "NoSchedule"}]);
    assert_eq!(err(f.call("POST", "/clusters/c1/node-groups", bad).await), "InvalidParameterException");
    assert_eq!(err(f.call("POST", "/clusters/nope/node-groups", ng_body("ng", &role, 1)).await), "ResourceNotFoundException");
    f.call("POST", "/clusters/c1/node-groups", ng_body("ng", &role, 1)).await.unwrap();
    assert_eq!(err(f.call("POST", "/clusters/c1/node-groups", ng_body("ng", &role, 1)).await), "ResourceInUseException");
    assert_eq!(err(f.call("GET", "/clusters/c1/node-groups/other", json!({})).await), "ResourceNotFoundException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_updates_rescale_and_relabel_and_are_recorded() {
    let f = fixture().await;
    f.active_cluster("c1").await;
    let role = f.role().await;
    let mut body = ng_body("ng", &role, 2);
    body["labels"] = json!({"a": "1", "b": "2"});
    f.call("POST", "/clusters/c1/node-groups", body).await.unwrap();
    f.ng_until("c1", "ng", Some("ACTIVE")).await;
    let u = f
        .call(
            "POST",
            "/clusters/c1/node-groups/ng/update-config",
            json!({"scalingConfig": {"desiredSize": 1}, "labels": {"addOrUpdateLabels": {"c": "3"}, "removeLabels": ["a"]}, "taints": {"addOrUpdateTaints": [{"key": "t", "effect": "NO_EXECUTE"}]}}),
        )
        .await
        .unwrap();
    assert_eq!(u["update"]["type"], "ConfigUpdate");
    let id = u["update"]["id"].as_str().unwrap().to_string();
    f.ng_until("c1", "ng", Some("ACTIVE")).await;
    let spec = f.spec("c1", "ng").unwrap();
    assert_eq!(spec.desired, 1);
    assert!(!spec.labels.contains_key("a"));
    assert_eq!((spec.labels["b"].as_str(), spec.labels["c"].as_str()), ("2", "3"));
    assert_eq!(spec.taints[0].to_kube(), json!({"key": "t", "effect": "NoExecute"}));
    let d = f.call("GET", &format!("/clusters/c1/updates/{id}?nodegroupName=ng"), json!({})).await.unwrap();
    assert_eq!(d["update"]["id"], id.as_str());
    let l = f.call("GET", "/clusters/c1/updates?nodegroupName=ng", json!({})).await.unwrap();
    assert_eq!(l["updateIds"], json!([id]));
    // Sizes are checked against the current ones.
    let e = f.call("POST", "/clusters/c1/node-groups/ng/update-config", json!({"scalingConfig": {"desiredSize": 9}})).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
    let e = f.call("POST", "/clusters/c1/node-groups/ng/update-config", json!({})).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_groups_that_cannot_start_fail_with_the_reason() {
    let f = fixture().await;
    f.active_cluster("c1").await;
    let role = f.role().await;
    let mut body = ng_body("bad", &role, 1);
    body["labels"] = json!({"fail": "yes"});
    f.call("POST", "/clusters/c1/node-groups", body).await.unwrap();
    f.ng_until("c1", "bad", Some("CREATE_FAILED")).await;
    let d = f.call("GET", "/clusters/c1/node-groups/bad", json!({})).await.unwrap();
    assert_eq!(d["nodegroup"]["health"]["issues"][0]["code"], "NodeCreationFailure");
    assert!(d["nodegroup"]["health"]["issues"][0]["message"].as_str().unwrap().contains("no address left"));
    f.call("DELETE", "/clusters/c1/node-groups/bad", json!({})).await.unwrap();
    f.ng_until("c1", "bad", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_cluster_is_refused_while_node_groups_exist() {
    let f = fixture().await;
    f.active_cluster("c1").await;
    let role = f.role().await;
    f.call("POST", "/clusters/c1/node-groups", ng_body("ng", &role, 1)).await.unwrap();
    f.ng_until("c1", "ng", Some("ACTIVE")).await;
    let e = f.call("DELETE", "/clusters/c1", json!({})).await.unwrap_err();
    assert_eq!(e.code, "ResourceInUseException");
    let d = f.call("DELETE", "/clusters/c1/node-groups/ng", json!({})).await.unwrap();
    assert_eq!(d["nodegroup"]["status"], "DELETING");
    f.ng_until("c1", "ng", None).await;
    assert!(f.spec("c1", "ng").is_none());
    f.call("DELETE", "/clusters/c1", json!({})).await.unwrap();
    f.until("c1", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_runs_node_groups_again_after_a_restart() {
    let f = fixture().await;
    f.active_cluster("c1").await;
    let role = f.role().await;
    f.call("POST", "/clusters/c1/node-groups", ng_body("ng", &role, 2)).await.unwrap();
    f.ng_until("c1", "ng", Some("ACTIVE")).await;
    // A new process over the same datastore: a fresh host, nothing running.
    let host = Arc::new(NgHost::default());
    let eks = Eks::new(f.iam.clone(), f.store.clone(), host.clone(), Arc::new(wharf_eks::AcceptAnyNetwork), EksConfig::new("us-east-1", "https://wharf.test/oidc"));
    eks.resume().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while host.groups.lock().unwrap().get("c1/ng").map(|s| s.desired) != Some(2) {
        assert!(Instant::now() < deadline, "the node group was not resumed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_update_leaves_the_group_degraded_until_a_later_update_succeeds() {
    let f = fixture().await;
    f.active_cluster("c1").await;
    let role = f.role().await;
    f.call("POST", "/clusters/c1/node-groups", ng_body("ng", &role, 1)).await.unwrap();
    f.ng_until("c1", "ng", Some("ACTIVE")).await;
    f.call("POST", "/clusters/c1/node-groups/ng/update-config", json!({"labels": {"addOrUpdateLabels": {"fail": "yes"}}})).await.unwrap();
    f.ng_until("c1", "ng", Some("DEGRADED")).await;
    let d = f.call("GET", "/clusters/c1/node-groups/ng", json!({})).await.unwrap();
    assert_eq!(d["nodegroup"]["health"]["issues"][0]["code"], "NodeCreationFailure");
    f.call("POST", "/clusters/c1/node-groups/ng/update-config", json!({"labels": {"removeLabels": ["fail"]}})).await.unwrap();
    f.ng_until("c1", "ng", Some("ACTIVE")).await;
    let d = f.call("GET", "/clusters/c1/node-groups/ng", json!({})).await.unwrap();
    assert_eq!(d["nodegroup"]["health"]["issues"], json!([]));
}
