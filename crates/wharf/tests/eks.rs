//! EKS on `wharf up`, driven by the real aws CLI and kubectl 1.32: clusters created with
//! `aws eks create-cluster` get their own control plane, `aws eks update-kubeconfig` +
//! kubectl log in with IAM tokens (`aws eks get-token` run by kubectl's exec plugin, which
//! inherits `AWS_ENDPOINT_URL` and the credentials from kubectl's environment), access
//! entries decide who may do what, and delete-cluster removes everything.

mod common;

use common::awscli::{aws, aws_env, default_subnets, json, kubectl_out as kubectl, ok, run, with};
use common::Wharf;
use std::process::Command;

fn create_cluster(env: &[(String, String)], name: &str, role_arn: &str) -> serde_json::Value {
    let subnets = default_subnets(env);
    json(&aws(env, &["eks", "create-cluster", "--name", name, "--role-arn", role_arn, "--resources-vpc-config", &subnets, "--output", "json"]))
}

#[test]
fn eks_clusters_are_created_logged_into_with_iam_isolated_and_deleted_through_the_aws_cli() {
    let w = Wharf::start();
    let env = aws_env(&w);
    let account = aws(&env, &["sts", "get-caller-identity", "--query", "Account", "--output", "text"]).trim().to_string();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role_arn = aws(&env, &["iam", "create-role", "--role-name", "eks-cluster", "--assume-role-policy-document", trust, "--query", "Role.Arn", "--output", "text"]).trim().to_string();

    // A role that does not exist is refused, as EKS does.
    let subnets = default_subnets(&env);
    let o = run("aws", &env, &["eks", "create-cluster", "--name", "x", "--role-arn", &format!("arn:aws:iam::{account}:role/missing"), "--resources-vpc-config", &subnets]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("InvalidParameterException"), "{}", String::from_utf8_lossy(&o.stderr));
    // So are subnets that the EC2 records do not have, or that sit in one zone.
    for bad in ["subnetIds=subnet-0123456789abcdef0,subnet-0123456789abcdef1", subnets.split(',').next().unwrap_or_default()] {
        let o = run("aws", &env, &["eks", "create-cluster", "--name", "x", "--role-arn", &role_arn, "--resources-vpc-config", bad]);
        assert!(String::from_utf8_lossy(&o.stderr).contains("InvalidParameterException"), "{bad}: {}", String::from_utf8_lossy(&o.stderr));
    }

    let created = create_cluster(&env, "alpha", &role_arn);
    assert_eq!(created["cluster"]["status"], "CREATING");
    assert_eq!(created["cluster"]["arn"], format!("arn:aws:eks:us-east-1:{account}:cluster/alpha"));
    create_cluster(&env, "beta", &role_arn);
    let o = run("aws", &env, &["eks", "create-cluster", "--name", "alpha", "--role-arn", &role_arn, "--resources-vpc-config", &subnets]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("ResourceInUseException"), "{}", String::from_utf8_lossy(&o.stderr));

    aws(&env, &["eks", "wait", "cluster-active", "--name", "alpha"]);
    aws(&env, &["eks", "wait", "cluster-active", "--name", "beta"]);
    let alpha = json(&aws(&env, &["eks", "describe-cluster", "--name", "alpha", "--output", "json"]))["cluster"].clone();
    let beta = json(&aws(&env, &["eks", "describe-cluster", "--name", "beta", "--output", "json"]))["cluster"].clone();
    assert_eq!(alpha["status"], "ACTIVE");
    assert_eq!(alpha["version"], "1.32");
    assert_eq!(alpha["kubernetesNetworkConfig"]["serviceIpv4Cidr"], "10.100.0.0/16");
    assert!(alpha["endpoint"].as_str().expect("endpoint").starts_with("https://127.0.0.1:"));
    assert_ne!(alpha["endpoint"], beta["endpoint"]);
    assert_ne!(alpha["certificateAuthority"]["data"], beta["certificateAuthority"]["data"]);
    let listed = json(&aws(&env, &["eks", "list-clusters", "--page-size", "1", "--output", "json"]));
    assert_eq!(listed["clusters"], serde_json::json!(["alpha", "beta"]), "the CLI follows nextToken: {listed}");

    // IAM login: update-kubeconfig writes an exec plugin that runs `aws eks get-token`.
    let kc_alpha = w.dir.join("kc-alpha");
    let kc_beta = w.dir.join("kc-beta");
    aws(&env, &["eks", "update-kubeconfig", "--name", "alpha", "--kubeconfig", kc_alpha.to_str().expect("path")]);
    aws(&env, &["eks", "update-kubeconfig", "--name", "beta", "--kubeconfig", kc_beta.to_str().expect("path")]);
    let ns = ok(kubectl(&env, &kc_alpha, &["get", "ns"]), "kubectl get ns on alpha");
    assert!(ns.contains("kube-system"), "{ns}");
    assert!(ok(kubectl(&env, &kc_alpha, &["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]), "whoami").contains(&format!("arn:aws:iam::{account}:root")));

    // Two clusters share nothing: a namespace created in alpha is absent in beta.
    ok(kubectl(&env, &kc_alpha, &["create", "namespace", "only-in-alpha"]), "create ns");
    let o = kubectl(&env, &kc_beta, &["get", "namespace", "only-in-alpha"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("NotFound"), "{}", String::from_utf8_lossy(&o.stderr));

    // An IAM user without an access entry is refused; with a view entry it reads pods but
    // cannot delete them, nor read Secrets.
    aws(&env, &["iam", "create-user", "--user-name", "viewer"]);
    let key = json(&aws(&env, &["iam", "create-access-key", "--user-name", "viewer", "--output", "json"]))["AccessKey"].clone();
    let viewer = with(
        &env,
        &[("AWS_ACCESS_KEY_ID", key["AccessKeyId"].as_str().expect("key id")), ("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"].as_str().expect("secret"))],
    );
    let o = kubectl(&viewer, &kc_alpha, &["get", "pods", "-A"]);
    assert!(!o.status.success(), "a principal without an access entry must be refused");
    assert!(String::from_utf8_lossy(&o.stderr).contains("Unauthorized") || String::from_utf8_lossy(&o.stderr).contains("must be logged in"), "{}", String::from_utf8_lossy(&o.stderr));
    let viewer_arn = format!("arn:aws:iam::{account}:user/viewer");
    aws(&env, &["eks", "create-access-entry", "--cluster-name", "alpha", "--principal-arn", &viewer_arn]);
    aws(
        &env,
        &[
            "eks", "associate-access-policy", "--cluster-name", "alpha", "--principal-arn", &viewer_arn,
            "--policy-arn", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", "--access-scope", "type=cluster",
        ],
    );
    ok(kubectl(&env, &kc_alpha, &["run", "web", "--image", "nginx", "-n", "only-in-alpha"]), "admin creates a pod");
    ok(kubectl(&env, &kc_alpha, &["create", "secret", "generic", "s", "-n", "only-in-alpha", "--from-literal", "k=v"]), "admin creates a secret");
    let pods = ok(kubectl(&viewer, &kc_alpha, &["get", "pods", "-n", "only-in-alpha", "-o", "name"]), "viewer lists pods");
    assert!(pods.contains("pod/web"), "{pods}");
    let o = kubectl(&viewer, &kc_alpha, &["delete", "pod", "web", "-n", "only-in-alpha"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("Forbidden"), "{}", String::from_utf8_lossy(&o.stderr));
    let o = kubectl(&viewer, &kc_alpha, &["get", "secrets", "-n", "only-in-alpha"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("Forbidden"), "{}", String::from_utf8_lossy(&o.stderr));
    // The entry is for alpha only.
    let o = kubectl(&viewer, &kc_beta, &["get", "pods", "-A"]);
    assert!(!o.status.success(), "the viewer has no entry in beta");
    // Removing the entry revokes access.
    aws(&env, &["eks", "delete-access-entry", "--cluster-name", "alpha", "--principal-arn", &viewer_arn]);
    let o = kubectl(&viewer, &kc_alpha, &["get", "pods", "-n", "only-in-alpha"]);
    assert!(!o.status.success(), "a deleted entry must not authenticate");

    // A namespace-scoped edit policy covers a namespace created after the association, and
    // only that namespace.
    aws(&env, &["iam", "create-user", "--user-name", "editor"]);
    let key = json(&aws(&env, &["iam", "create-access-key", "--user-name", "editor", "--output", "json"]))["AccessKey"].clone();
    let editor = with(
        &env,
        &[("AWS_ACCESS_KEY_ID", key["AccessKeyId"].as_str().expect("key id")), ("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"].as_str().expect("secret"))],
    );
    let editor_arn = format!("arn:aws:iam::{account}:user/editor");
    aws(&env, &["eks", "create-access-entry", "--cluster-name", "alpha", "--principal-arn", &editor_arn]);
    aws(
        &env,
        &[
            "eks", "associate-access-policy", "--cluster-name", "alpha", "--principal-arn", &editor_arn,
            "--policy-arn", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy", "--access-scope", "type=namespace,namespaces=later",
        ],
    );
    ok(kubectl(&env, &kc_alpha, &["create", "namespace", "later"]), "create ns later");
    common::eventually(20, "the editor may write in its namespace", || {
        kubectl(&editor, &kc_alpha, &["create", "configmap", "c", "-n", "later"]).status.success()
    });
    let o = kubectl(&editor, &kc_alpha, &["create", "configmap", "c", "-n", "only-in-alpha"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).to_lowercase().contains("forbidden"), "{}", String::from_utf8_lossy(&o.stderr));

    // Updates and tags.
    let update = json(&aws(
        &env,
        &["eks", "update-cluster-config", "--name", "alpha", "--logging", r#"{"clusterLogging":[{"types":["api","audit"],"enabled":true}]}"#, "--output", "json"],
    ));
    let id = update["update"]["id"].as_str().expect("update id").to_string();
    assert_eq!(update["update"]["type"], "LoggingUpdate");
    let described = json(&aws(&env, &["eks", "describe-update", "--name", "alpha", "--update-id", &id, "--output", "json"]));
    assert_eq!(described["update"]["status"], "Successful");
    assert!(aws(&env, &["eks", "list-updates", "--name", "alpha", "--output", "json"]).contains(&id));
    let logging = json(&aws(&env, &["eks", "describe-cluster", "--name", "alpha", "--query", "cluster.logging", "--output", "json"]));
    assert_eq!(logging["clusterLogging"][0]["types"], serde_json::json!(["api", "audit"]));
    let arn = alpha["arn"].as_str().expect("arn");
    aws(&env, &["eks", "tag-resource", "--resource-arn", arn, "--tags", "team=core,env=dev"]);
    aws(&env, &["eks", "untag-resource", "--resource-arn", arn, "--tag-keys", "env"]);
    let tags = json(&aws(&env, &["eks", "list-tags-for-resource", "--resource-arn", arn, "--output", "json"]));
    assert_eq!(tags["tags"], serde_json::json!({"team": "core"}));

    // Deletion: the cluster goes away with its data; beta is untouched.
    let deleted = json(&aws(&env, &["eks", "delete-cluster", "--name", "alpha", "--output", "json"]));
    assert_eq!(deleted["cluster"]["status"], "DELETING");
    aws(&env, &["eks", "wait", "cluster-deleted", "--name", "alpha"]);
    let o = run("aws", &env, &["eks", "describe-cluster", "--name", "alpha"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("ResourceNotFoundException"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!w.dir.join("clusters/alpha").exists(), "the cluster's state directory is removed");
    assert!(ok(kubectl(&env, &kc_beta, &["get", "ns"]), "beta still serves").contains("default"));
    // A new cluster of the same name starts empty.
    create_cluster(&env, "alpha", &role_arn);
    aws(&env, &["eks", "wait", "cluster-active", "--name", "alpha"]);
    aws(&env, &["eks", "update-kubeconfig", "--name", "alpha", "--kubeconfig", kc_alpha.to_str().expect("path")]);
    let o = kubectl(&env, &kc_alpha, &["get", "namespace", "only-in-alpha"]);
    assert!(!o.status.success(), "a re-created cluster holds none of the old one's objects");
}

#[test]
fn active_clusters_come_back_after_a_restart_on_their_endpoint() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = Wharf::start_in(dir.path());
    let env = aws_env(&w);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role_arn = aws(&env, &["iam", "create-role", "--role-name", "r", "--assume-role-policy-document", trust, "--query", "Role.Arn", "--output", "text"]).trim().to_string();
    create_cluster(&env, "keep", &role_arn);
    aws(&env, &["eks", "wait", "cluster-active", "--name", "keep"]);
    let kc = dir.path().join("kc-keep");
    aws(&env, &["eks", "update-kubeconfig", "--name", "keep", "--kubeconfig", kc.to_str().expect("path")]);
    ok(kubectl(&env, &kc, &["create", "namespace", "survives"]), "create ns");
    let before = aws(&env, &["eks", "describe-cluster", "--name", "keep", "--query", "cluster.endpoint", "--output", "text"]);
    w.stop();

    // The front door's port changes (port 0): read the new aws.env.
    let w = Wharf::start_in(dir.path());
    let env = aws_env(&w);
    let status = aws(&env, &["eks", "describe-cluster", "--name", "keep", "--query", "[cluster.status,cluster.endpoint]", "--output", "text"]);
    assert!(status.starts_with("ACTIVE"), "{status}");
    assert!(status.contains(before.trim()), "the cluster keeps its port when free: {status} vs {before}");
    ok(kubectl(&env, &kc, &["get", "namespace", "survives"]), "the old kubeconfig still works");
}

#[test]
fn config_map_clusters_map_iam_users_through_aws_auth() {
    let w = Wharf::start();
    let env = aws_env(&w);
    let account = aws(&env, &["sts", "get-caller-identity", "--query", "Account", "--output", "text"]).trim().to_string();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role_arn = aws(&env, &["iam", "create-role", "--role-name", "r", "--assume-role-policy-document", trust, "--query", "Role.Arn", "--output", "text"]).trim().to_string();
    let subnets = default_subnets(&env);
    aws(
        &env,
        &[
            "eks", "create-cluster", "--name", "cm", "--role-arn", &role_arn, "--resources-vpc-config", &subnets,
            "--access-config", "authenticationMode=CONFIG_MAP",
        ],
    );
    aws(&env, &["eks", "wait", "cluster-active", "--name", "cm"]);
    let kc = w.dir.join("kc-cm");
    aws(&env, &["eks", "update-kubeconfig", "--name", "cm", "--kubeconfig", kc.to_str().expect("path")]);
    // The creator is an implicit admin.
    ok(kubectl(&env, &kc, &["get", "ns"]), "creator lists namespaces");

    aws(&env, &["iam", "create-user", "--user-name", "ops"]);
    let key = json(&aws(&env, &["iam", "create-access-key", "--user-name", "ops", "--output", "json"]))["AccessKey"].clone();
    let ops = with(
        &env,
        &[("AWS_ACCESS_KEY_ID", key["AccessKeyId"].as_str().expect("key id")), ("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"].as_str().expect("secret"))],
    );
    assert!(!kubectl(&ops, &kc, &["get", "ns"]).status.success(), "ops is not mapped yet");
    let aws_auth = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aws-auth\n  namespace: kube-system\ndata:\n  mapUsers: |\n    - userarn: arn:aws:iam::{account}:user/ops\n      username: ops\n      groups:\n        - ops-team\n"
    );
    let mut cmd = Command::new("kubectl");
    cmd.env_clear().envs(env.iter().map(|(k, v)| (k, v))).arg("--kubeconfig").arg(&kc).args(["apply", "-f", "-"]);
    let mut child = cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("kubectl");
    {
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(aws_auth.as_bytes()).expect("write");
    }
    ok(child.wait_with_output().expect("kubectl apply"), "apply aws-auth");
    ok(kubectl(&env, &kc, &["create", "clusterrolebinding", "ops-view", "--clusterrole", "wharf-eks:view", "--group", "ops-team"]), "bind ops-team");
    let who = ok(kubectl(&ops, &kc, &["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]), "ops whoami");
    assert_eq!(who.trim(), "ops");
    ok(kubectl(&ops, &kc, &["get", "ns"]), "ops lists namespaces through its aws-auth group");
    // Access entries are refused in CONFIG_MAP mode, as EKS does.
    let o = run("aws", &env, &["eks", "create-access-entry", "--cluster-name", "cm", "--principal-arn", &format!("arn:aws:iam::{account}:user/ops")]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("InvalidRequestException"), "{}", String::from_utf8_lossy(&o.stderr));
}
