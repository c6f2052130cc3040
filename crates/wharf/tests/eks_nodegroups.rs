//! EKS managed node groups on `wharf up` (root only; skipped otherwise), driven by the real
//! aws CLI and kubectl 1.32: create-nodegroup starts real node agents in VPC instances of the
//! cluster, `aws eks wait nodegroup-active` returns once they are Ready, the Nodes carry EKS's
//! names, labels, capacity and taints, update-nodegroup-config scales in (cordon + drain) and
//! relabels, delete-cluster is refused while the node group exists, and delete-nodegroup
//! removes every node.

mod common;

use std::path::Path;
use std::process::Command;

use common::awscli::{aws, aws_env, json, kubectl_out, ok, run};
use common::images::is_root;
use common::{eventually, Wharf};

fn kubectl(env: &[(String, String)], kubeconfig: &Path, args: &[&str]) -> String {
    ok(kubectl_out(env, kubeconfig, args), &format!("kubectl {args:?}"))
}

/// The cluster's Nodes as JSON items.
fn nodes(env: &[(String, String)], kc: &Path) -> Vec<serde_json::Value> {
    json(&kubectl(env, kc, &["get", "nodes", "-o", "json"]))["items"].as_array().cloned().unwrap_or_default()
}

fn ready(n: &serde_json::Value) -> bool {
    n["status"]["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// Stops `wharf up` gracefully (which stops the node agents and removes their instances and
/// the VPC), and whatever happens removes the VPC's kernel objects left by a killed server.
struct Guard {
    wharf: Wharf,
    /// Keeps the data directory across restarts; removed last.
    _dir: tempfile::TempDir,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.wharf.stop();
        let tag = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            self.wharf.dir.hash(&mut h);
            format!("{:08x}", h.finish() & 0xffff_ffff)
        };
        if let Err(e) = wharf_net::Vpc::cleanup(&tag, &self.wharf.dir.join("vpc")) {
            eprintln!("cleaning up the VPC: {e}");
        }
    }
}

#[test]
fn node_groups_run_ready_labelled_nodes_that_scale_in_and_go_away_through_the_aws_cli() {
    if !is_root() {
        eprintln!("skipped: node groups run real node agents, which need root");
        return;
    }
    let vpc = common::test_vpc_cidr();
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = ["--vpc-cidr", vpc.as_str()];
    let mut guard = Guard { wharf: Wharf::start_in_flags(dir.path(), &flags), _dir: dir };
    let w = &guard.wharf;
    let env = aws_env(w);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let cluster_role = aws(&env, &["iam", "create-role", "--role-name", "eks-cluster", "--assume-role-policy-document", trust, "--query", "Role.Arn", "--output", "text"]).trim().to_string();
    let node_role = aws(&env, &["iam", "create-role", "--role-name", "eks-nodes", "--assume-role-policy-document", trust, "--query", "Role.Arn", "--output", "text"]).trim().to_string();
    let ids = aws(&env, &["ec2", "describe-subnets", "--filters", "Name=default-for-az,Values=true", "--query", "Subnets[].SubnetId", "--output", "text"]);
    let subnets: Vec<&str> = ids.split_whitespace().collect();
    assert_eq!(subnets.len(), 3, "{subnets:?}");
    aws(&env, &["eks", "create-cluster", "--name", "ng", "--role-arn", &cluster_role, "--resources-vpc-config", &format!("subnetIds={}", subnets.join(","))]);
    aws(&env, &["eks", "wait", "cluster-active", "--name", "ng"]);
    let kc = w.dir.join("kc-ng");
    aws(&env, &["eks", "update-kubeconfig", "--name", "ng", "--kubeconfig", kc.to_str().expect("path")]);

    // A node role that does not exist is refused.
    let o = run("aws", &env, &["eks", "create-nodegroup", "--cluster-name", "ng", "--nodegroup-name", "x", "--node-role", "arn:aws:iam::000000000000:role/nope", "--subnets", subnets[0]]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("InvalidParameterException"), "{}", String::from_utf8_lossy(&o.stderr));

    let mut args = vec!["eks", "create-nodegroup", "--cluster-name", "ng", "--nodegroup-name", "workers", "--node-role", &node_role, "--subnets"];
    args.extend(subnets.iter().take(2));
    args.extend([
        "--scaling-config",
        "minSize=1,maxSize=3,desiredSize=2",
        "--instance-types",
        "m5.large",
        "--labels",
        "team=blue",
        "--taints",
        "key=dedicated,value=batch,effect=PREFER_NO_SCHEDULE",
        "--output",
        "json",
    ]);
    let created = json(&aws(&env, &args));
    assert_eq!(created["nodegroup"]["status"], "CREATING");
    aws(&env, &["eks", "wait", "nodegroup-active", "--cluster-name", "ng", "--nodegroup-name", "workers"]);
    let described = json(&aws(&env, &["eks", "describe-nodegroup", "--cluster-name", "ng", "--nodegroup-name", "workers", "--output", "json"]));
    assert_eq!(described["nodegroup"]["status"], "ACTIVE");
    assert_eq!(described["nodegroup"]["instanceTypes"], serde_json::json!(["m5.large"]));

    let ns = nodes(&env, &kc);
    assert_eq!(ns.len(), 2, "{ns:?}");
    let prefix = format!("ip-{}-", vpc.split('.').take(2).collect::<Vec<_>>().join("-"));
    let mut zones = Vec::new();
    for n in &ns {
        let name = n["metadata"]["name"].as_str().expect("name");
        assert!(name.starts_with(&prefix) && name.ends_with(".us-east-1.compute.internal"), "{name}");
        assert!(ready(n), "{name} is Ready");
        let l = &n["metadata"]["labels"];
        assert_eq!(l["eks.amazonaws.com/nodegroup"], "workers");
        assert_eq!(l["eks.amazonaws.com/capacityType"], "ON_DEMAND");
        assert_eq!(l["node.kubernetes.io/instance-type"], "m5.large");
        assert_eq!(l["team"], "blue");
        zones.push(l["topology.kubernetes.io/zone"].as_str().expect("zone").to_string());
        let cpu = n["status"]["capacity"]["cpu"].as_str().expect("cpu");
        assert!(cpu == "2" || cpu == "2000m", "m5.large has 2 vCPUs: {cpu}");
        assert_eq!(n["status"]["capacity"]["pods"], "29");
        assert!(n["spec"]["taints"].as_array().expect("taints").iter().any(|t| t["key"] == "dedicated" && t["effect"] == "PreferNoSchedule"), "{n}");
    }
    zones.sort();
    assert_eq!(zones, vec!["us-east-1a", "us-east-1b"], "spread over the subnets' zones");

    // A restart brings the same nodes back (same instances, names and addresses), Ready.
    let before: Vec<String> = ns.iter().map(|n| n["metadata"]["name"].as_str().expect("name").to_string()).collect();
    guard.wharf.stop();
    guard.wharf = Wharf::start_in_flags(guard._dir.path(), &flags);
    let w = &guard.wharf;
    let env = aws_env(w);
    aws(&env, &["eks", "wait", "nodegroup-active", "--cluster-name", "ng", "--nodegroup-name", "workers"]);
    aws(&env, &["eks", "update-kubeconfig", "--name", "ng", "--kubeconfig", kc.to_str().expect("path")]);
    // The Node objects outlive the restart: a fresh Ready heartbeat proves a new agent runs.
    let heartbeat = |n: &serde_json::Value| {
        n["status"]["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == "Ready")).map(|c| c["lastHeartbeatTime"].to_string()).unwrap_or_default()
    };
    let stale: Vec<(String, String)> = nodes(&env, &kc).iter().map(|n| (n["metadata"]["name"].as_str().unwrap_or_default().to_string(), heartbeat(n))).collect();
    eventually(90, "the node group's nodes Ready again after the restart", || {
        let ns = nodes(&env, &kc);
        let mut names: Vec<String> = ns
            .iter()
            .filter(|n| ready(n) && !stale.iter().any(|(name, hb)| n["metadata"]["name"] == name.as_str() && *hb == heartbeat(n)))
            .map(|n| n["metadata"]["name"].as_str().unwrap_or_default().to_string())
            .collect();
        names.sort();
        let mut want = before.clone();
        want.sort();
        names == want && ns.len() == 2
    });

    // EKS refuses to delete a cluster with node groups.
    let o = run("aws", &env, &["eks", "delete-cluster", "--name", "ng"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("ResourceInUseException"), "{}", String::from_utf8_lossy(&o.stderr));

    // An image pushed to Wharf's ECR with the aws CLI and skopeo (the getting-started flow).
    let uri = aws(&env, &["ecr", "create-repository", "--repository-name", "sample", "--query", "repository.repositoryUri", "--output", "text"]).trim().to_string();
    let password = aws(&env, &["ecr", "get-login-password"]).trim().to_string();
    let layout = w.dir.join("sample-layout");
    common::images::busybox_layout(&layout);
    let certs = w.dir.join("certs");
    std::fs::create_dir_all(&certs).expect("certs dir");
    std::fs::copy(w.dir.join("clusters/default/pki/ca.crt"), certs.join("ca.crt")).expect("copy CA");
    let push = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-creds", &format!("AWS:{password}"), "--dest-cert-dir", certs.to_str().expect("path")])
        .arg(format!("oci:{}:1", layout.display()))
        .arg(format!("docker://{uri}:v1"))
        .output()
        .expect("skopeo is installed");
    assert!(push.status.success(), "skopeo push: {}", String::from_utf8_lossy(&push.stderr));

    // One pod bound to each node, running that image (nodes pull from ECR with their own
    // credential); `kubectl logs` reaches each node's kubelet API through the IAM-authenticated
    // kubeconfig. Scale-in then evicts the pod on the node that goes.
    for (i, n) in ns.iter().enumerate() {
        let name = n["metadata"]["name"].as_str().expect("name");
        let pod = format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p{i}","namespace":"default"}},"spec":{{"nodeName":"{name}","terminationGracePeriodSeconds":1,"containers":[{{"name":"c","image":"{uri}:v1","command":["sh","-c","echo hello-from-p{i}; exec sleep 3600"]}}]}}}}"#
        );
        let file = w.dir.join(format!("p{i}.json"));
        std::fs::write(&file, pod).expect("write pod");
        kubectl(&env, &kc, &["apply", "-f", file.to_str().expect("path")]);
    }
    for i in 0..ns.len() {
        let pod = format!("p{i}");
        eventually(90, &format!("{pod} Running from the ECR image"), || {
            String::from_utf8_lossy(&kubectl_out(&env, &kc, &["get", "pod", &pod, "-o", "jsonpath={.status.phase}"]).stdout) == "Running"
        });
        eventually(30, &format!("kubectl logs {pod}"), || String::from_utf8_lossy(&kubectl_out(&env, &kc, &["logs", &pod]).stdout).contains(&format!("hello-from-{pod}")));
    }

    // Scale in to one node and relabel.
    let upd = json(&aws(
        &env,
        &["eks", "update-nodegroup-config", "--cluster-name", "ng", "--nodegroup-name", "workers", "--scaling-config", "desiredSize=1", "--labels", "addOrUpdateLabels={tier=gold},removeLabels=team", "--output", "json"],
    ));
    assert_eq!(upd["update"]["type"], "ConfigUpdate");
    let id = upd["update"]["id"].as_str().expect("id").to_string();
    aws(&env, &["eks", "wait", "nodegroup-active", "--cluster-name", "ng", "--nodegroup-name", "workers"]);
    let u = json(&aws(&env, &["eks", "describe-update", "--name", "ng", "--nodegroup-name", "workers", "--update-id", &id, "--output", "json"]));
    assert_eq!(u["update"]["id"], id.as_str());
    eventually(60, "one node left", || nodes(&env, &kc).len() == 1);
    let left = nodes(&env, &kc);
    assert!(ready(&left[0]));
    assert_eq!(left[0]["metadata"]["labels"]["tier"], "gold");
    assert!(left[0]["metadata"]["labels"].get("team").is_none(), "{}", left[0]["metadata"]["labels"]);
    let kept = left[0]["metadata"]["name"].as_str().expect("name").to_string();
    let pods = kubectl(&env, &kc, &["get", "pods", "-o", "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}"]);
    assert_eq!(pods.lines().collect::<Vec<_>>(), vec![kept.as_str()], "only the pod of the remaining node is left");

    aws(&env, &["eks", "delete-nodegroup", "--cluster-name", "ng", "--nodegroup-name", "workers"]);
    aws(&env, &["eks", "wait", "nodegroup-deleted", "--cluster-name", "ng", "--nodegroup-name", "workers"]);
    assert!(nodes(&env, &kc).is_empty());
    let listed = json(&aws(&env, &["eks", "list-nodegroups", "--cluster-name", "ng", "--output", "json"]));
    assert_eq!(listed["nodegroups"], serde_json::json!([]));
    aws(&env, &["eks", "delete-cluster", "--name", "ng"]);
    aws(&env, &["eks", "wait", "cluster-deleted", "--name", "ng"]);
}
