//! The front door's JSON, query-compatible JSON and REST-JSON routing and envelopes, driven
//! by the real `aws` CLI against small test services (the real ECR, CloudWatch and EKS
//! handlers live in other crates).
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use wharf_aws::{
    AwsError, Caller, Credential, Decision, FrontDoor, Identity, Input, Output, PrincipalKind, Protocol, RequestContext,
    Service,
};

const KEY: &str = "AKIATESTTESTTESTTEST";
const SECRET: &str = "testsecrettestsecrettestsecrettestsecret";

/// One known key; every action allowed except `ecr:DeleteRepository`.
struct TestIdentity;

#[async_trait]
impl Identity for TestIdentity {
    async fn credential(&self, id: &str) -> Result<Option<Credential>, AwsError> {
        Ok((id == KEY).then(|| Credential {
            secret_access_key: SECRET.into(),
            session_token: None,
            expires_at: None,
            caller: Caller {
                account: "111111111111".into(),
                arn: "arn:aws:iam::111111111111:user/tester".into(),
                user_id: "AIDATEST".into(),
                access_key_id: Some(KEY.into()),
                kind: PrincipalKind::User { name: "tester".into() },
            },
        }))
    }
    async fn authorize(&self, _: &RequestContext, action: &str, _: &str, _: &wharf_aws::ConditionKeys) -> Result<Decision, AwsError> {
        Ok(if action == "ecr:DeleteRepository" { Decision::ExplicitDeny } else { Decision::Allow })
    }
}

struct Ecr;

#[async_trait]
impl Service for Ecr {
    fn signing_name(&self) -> &'static str {
        "ecr"
    }
    fn protocol(&self) -> Protocol {
        Protocol::Json { json_version: "1.1", target_prefix: "AmazonEC2ContainerRegistry_V20150921", query_compatible: false }
    }
    fn has_operation(&self, op: &str) -> bool {
        matches!(op, "DescribeRepositories" | "CreateRepository" | "DeleteRepository")
    }
    async fn call(&self, ctx: &RequestContext, op: &str, input: Input) -> Result<Output, AwsError> {
        let Input::Json(v) = input else { panic!("ECR got {input:?}") };
        let arn = |n: &str| format!("arn:aws:ecr:{}:111111111111:repository/{n}", ctx.region);
        match op {
            "DescribeRepositories" => {
                let repos: Vec<Value> = v["repositoryNames"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|n| json!({"repositoryName": n, "repositoryArn": arn(n.as_str().unwrap())}))
                    .collect();
                Ok(Output::Json(json!({ "repositories": repos })))
            }
            "CreateRepository" if v["repositoryName"] == "taken" => Err(AwsError::bad_request(
                "RepositoryAlreadyExistsException",
                "The repository with name 'taken' already exists in the registry with id '111111111111'",
            )),
            "CreateRepository" => Ok(Output::Json(json!({"repository": {"repositoryName": v["repositoryName"], "createdAt": 1.7e9}}))),
            _ => {
                ctx.authorize("ecr:DeleteRepository", &arn(v["repositoryName"].as_str().unwrap_or(""))).await?;
                Ok(Output::Json(json!({})))
            }
        }
    }
}

struct CloudWatch;

#[async_trait]
impl Service for CloudWatch {
    fn signing_name(&self) -> &'static str {
        "monitoring"
    }
    fn protocol(&self) -> Protocol {
        Protocol::Json { json_version: "1.0", target_prefix: "GraniteServiceVersion20100801", query_compatible: true }
    }
    fn has_operation(&self, op: &str) -> bool {
        op == "ListMetrics"
    }
    async fn call(&self, _: &RequestContext, _: &str, input: Input) -> Result<Output, AwsError> {
        let Input::Json(v) = input else { panic!() };
        if v["Namespace"] == "bad" {
            return Err(AwsError::bad_request("InvalidParameterValue", "The parameter Namespace is not valid."));
        }
        Ok(Output::Json(json!({"Metrics": [{"Namespace": v["Namespace"], "MetricName": "m"}]})))
    }
}

/// A REST-JSON service that claims every `/clusters` path (as EKS does).
struct Eks;

#[async_trait]
impl Service for Eks {
    fn signing_name(&self) -> &'static str {
        "eks"
    }
    fn protocol(&self) -> Protocol {
        Protocol::RestJson
    }
    fn has_operation(&self, op: &str) -> bool {
        op == "ListClusters" || op == "DescribeCluster"
    }
    fn resolve_rest(&self, method: &http::Method, path: &str) -> Option<String> {
        match (method.as_str(), path) {
            ("GET", "/clusters") => Some("ListClusters".into()),
            ("GET", p) if p.starts_with("/clusters/") => Some("DescribeCluster".into()),
            (_, p) if p.starts_with("/clusters/") => Some("Unknown".into()),
            _ => None,
        }
    }
    async fn call(&self, _: &RequestContext, op: &str, input: Input) -> Result<Output, AwsError> {
        let Input::Rest { path, .. } = input else { panic!() };
        match op {
            "ListClusters" => Ok(Output::Json(json!({"clusters": ["one", "two"]}))),
            _ => Err(AwsError::new(
                http::StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                format!("No cluster found for name: {}.", path.trim_start_matches("/clusters/")),
            )),
        }
    }
}

struct EksAuth;

#[async_trait]
impl Service for EksAuth {
    fn signing_name(&self) -> &'static str {
        "eks-auth"
    }
    fn protocol(&self) -> Protocol {
        Protocol::RestJson
    }
    fn has_operation(&self, op: &str) -> bool {
        op == "AssumeRoleForPodIdentity"
    }
    fn resolve_rest(&self, method: &http::Method, path: &str) -> Option<String> {
        (method == http::Method::POST && path.starts_with("/clusters/") && path.ends_with("/assume-role-for-pod-identity"))
            .then(|| "AssumeRoleForPodIdentity".into())
    }
    async fn call(&self, _: &RequestContext, _: &str, input: Input) -> Result<Output, AwsError> {
        let Input::Rest { body, .. } = input else { panic!() };
        let v: Value = serde_json::from_slice(&body).unwrap();
        Ok(Output::Json(json!({"audience": "pods.eks.amazonaws.com", "subject": {"namespace": v["token"], "serviceAccount": "sa"}})))
    }
}

struct Server {
    endpoint: String,
    home: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

async fn start() -> Server {
    let fd = FrontDoor::new(Arc::new(TestIdentity), "us-east-1")
        .register(Arc::new(Ecr))
        .register(Arc::new(CloudWatch))
        .register(Arc::new(Eks))
        .register(Arc::new(EksAuth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = wharf_aws::serve(listener, Arc::new(fd), async {
            let _ = rx.await;
        })
        .await;
    });
    let home = std::env::temp_dir().join(format!("wharf-aws-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&home).unwrap();
    Server { endpoint: format!("http://{addr}"), home, stop: Some(tx), task }
}

async fn aws(s: &Server, secret: &str, args: &[&str]) -> (bool, Value, String) {
    let mut c = Command::new("aws");
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &s.home)
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .args(args)
        .args(["--output", "json"]);
    let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.success(), json, String::from_utf8_lossy(&out.stderr).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_services_are_routed_by_target_and_errors_carry_their_type() {
    let s = start().await;
    let (ok, v, err) = aws(&s, SECRET, &["ecr", "describe-repositories", "--repository-names", "aa", "bb"]).await;
    assert!(ok, "{err}");
    assert_eq!(v["repositories"][1]["repositoryArn"], "arn:aws:ecr:eu-west-1:111111111111:repository/bb");
    let (ok, _, err) = aws(&s, SECRET, &["ecr", "create-repository", "--repository-name", "taken"]).await;
    assert!(!ok);
    assert!(err.contains("(RepositoryAlreadyExistsException) when calling the CreateRepository operation: The repository with name 'taken'"), "{err}");
    let (ok, _, err) = aws(&s, SECRET, &["ecr", "delete-repository", "--repository-name", "xx"]).await;
    assert!(!ok);
    assert!(
        err.contains("(AccessDeniedException) when calling the DeleteRepository operation: User: arn:aws:iam::111111111111:user/tester is not authorized to perform: ecr:DeleteRepository on resource: arn:aws:ecr:eu-west-1:111111111111:repository/xx with an explicit deny"),
        "{err}"
    );
    let (ok, _, err) = aws(&s, SECRET, &["ecr", "list-images", "--repository-name", "xx"]).await;
    assert!(!ok);
    assert!(err.contains("(UnknownOperationException)"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_services_name_signature_failures_as_json_services_do() {
    let s = start().await;
    let (ok, _, err) = aws(&s, "wrongwrongwrongwrongwrongwrongwrongwrong", &["ecr", "describe-repositories"]).await;
    assert!(!ok);
    assert!(err.contains("(InvalidSignatureException)"), "{err}");
    let (ok, _, err) = aws(&s, SECRET, &["logs", "describe-log-groups"]).await;
    assert!(!ok);
    assert!(err.contains("(UnknownOperationException)"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_compatible_json_errors_report_the_query_error_code() {
    let s = start().await;
    let (ok, v, err) = aws(&s, SECRET, &["cloudwatch", "list-metrics", "--namespace", "app"]).await;
    assert!(ok, "{err}");
    assert_eq!(v["Metrics"][0]["Namespace"], "app");
    let (ok, _, err) = aws(&s, SECRET, &["cloudwatch", "list-metrics", "--namespace", "bad"]).await;
    assert!(!ok);
    assert!(err.contains("(InvalidParameterValue) when calling the ListMetrics operation: The parameter Namespace is not valid."), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_json_services_sharing_a_path_are_told_apart_by_the_signing_scope() {
    let s = start().await;
    let (ok, v, err) = aws(&s, SECRET, &["eks", "list-clusters"]).await;
    assert!(ok, "{err}");
    assert_eq!(v["clusters"], json!(["one", "two"]));
    let (ok, _, err) = aws(&s, SECRET, &["eks", "describe-cluster", "--name", "nope"]).await;
    assert!(!ok);
    assert!(err.contains("(ResourceNotFoundException) when calling the DescribeCluster operation: No cluster found for name: nope."), "{err}");
    let (ok, v, err) =
        aws(&s, SECRET, &["eks-auth", "assume-role-for-pod-identity", "--cluster-name", "c1", "--token", "tok"]).await;
    assert!(ok, "{err}");
    assert_eq!(v["audience"], "pods.eks.amazonaws.com");
    assert_eq!(v["subject"]["namespace"], "tok");
}
