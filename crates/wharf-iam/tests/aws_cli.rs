//! IAM and STS through the front door with the real `aws` CLI (and raw HTTP for requests
//! the CLI cannot send malformed).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wharf_aws::sigv4::{self, SigningCredentials};
use wharf_iam::{Iam, IamConfig};
use wharf_store::sqlite::SqliteStore;

const ACCOUNT: &str = "123456789012";

/// A front door on a loopback port, stopped and cleaned up on drop.
struct Server {
    endpoint: String,
    addr: std::net::SocketAddr,
    iam: Arc<Iam>,
    dir: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn start_in(dir: tempfile::TempDir) -> Server {
    let store = Arc::new(SqliteStore::open(&dir.path().join("store")).unwrap());
    let iam = Arc::new(Iam::open(store, IamConfig { account_id: Some(ACCOUNT.into()) }).await.unwrap());
    let fd = wharf_iam::front_door(iam.clone(), "us-east-1");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let _ = wharf_aws::serve(listener, Arc::new(fd), async {
            let _ = rx.await;
        })
        .await;
    });
    Server { endpoint: format!("http://{addr}"), addr, iam, dir: Some(dir), stop: Some(tx), task: Some(task) }
}

async fn start() -> Server {
    start_in(tempfile::tempdir().unwrap()).await
}

#[derive(Clone)]
struct Creds {
    id: String,
    secret: String,
    token: Option<String>,
}

impl Server {
    fn path(&self) -> &Path {
        self.dir.as_ref().map(|d| d.path()).unwrap_or(Path::new("/nonexistent"))
    }

    /// Stops the server and hands back its data directory.
    fn stop(mut self) -> tempfile::TempDir {
        self.dir.take().unwrap()
    }

    fn admin(&self) -> Creds {
        let a = self.iam.admin_credentials();
        Creds { id: a.access_key_id.clone(), secret: a.secret_access_key.clone(), token: None }
    }
}

struct CliResult {
    ok: bool,
    json: Value,
    stderr: String,
}

fn aws_command(endpoint: &str, home: &Path) -> Command {
    let mut c = Command::new("aws");
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_PAGER", "");
    c
}

async fn aws(s: &Server, creds: &Creds, args: &[&str]) -> CliResult {
    let mut c = aws_command(&s.endpoint, s.path());
    c.env("AWS_ACCESS_KEY_ID", &creds.id).env("AWS_SECRET_ACCESS_KEY", &creds.secret);
    if let Some(t) = &creds.token {
        c.env("AWS_SESSION_TOKEN", t);
    }
    c.args(args).args(["--output", "json"]);
    let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    CliResult {
        ok: out.status.success(),
        json: if stdout.trim().is_empty() { Value::Null } else { serde_json::from_str(&stdout).unwrap_or(Value::String(stdout)) },
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

async fn aws_ok(s: &Server, creds: &Creds, args: &[&str]) -> Value {
    let r = aws(s, creds, args).await;
    assert!(r.ok, "aws {args:?} failed: {}", r.stderr);
    r.json
}

async fn aws_err(s: &Server, creds: &Creds, args: &[&str]) -> String {
    let r = aws(s, creds, args).await;
    assert!(!r.ok, "aws {args:?} unexpectedly succeeded: {}", r.json);
    r.stderr
}

async fn user_with_key(s: &Server, name: &str) -> Creds {
    let admin = s.admin();
    aws_ok(s, &admin, &["iam", "create-user", "--user-name", name]).await;
    let k = aws_ok(s, &admin, &["iam", "create-access-key", "--user-name", name]).await;
    Creds {
        id: k["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
        secret: k["AccessKey"]["SecretAccessKey"].as_str().unwrap().into(),
        token: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_key_identifies_as_the_account_root() {
    let s = start().await;
    let id = aws_ok(&s, &s.admin(), &["sts", "get-caller-identity"]).await;
    assert_eq!(id["Account"], ACCOUNT);
    assert_eq!(id["Arn"], format!("arn:aws:iam::{ACCOUNT}:root"));
    assert_eq!(id["UserId"], ACCOUNT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_user_lifecycle_works_with_the_cli() {
    let s = start().await;
    let admin = s.admin();
    let u = aws_ok(&s, &admin, &["iam", "create-user", "--user-name", "alice", "--tags", "Key=team,Value=a"]).await;
    assert_eq!(u["User"]["Arn"], format!("arn:aws:iam::{ACCOUNT}:user/alice"));
    assert!(u["User"]["UserId"].as_str().unwrap().starts_with("AIDA"));
    let err = aws_err(&s, &admin, &["iam", "create-user", "--user-name", "ALICE"]).await;
    assert!(err.contains("EntityAlreadyExists"), "{err}");
    aws_ok(&s, &admin, &["iam", "create-user", "--user-name", "bob", "--path", "/ops/"]).await;
    let list = aws_ok(&s, &admin, &["iam", "list-users"]).await;
    let names: Vec<&str> = list["Users"].as_array().unwrap().iter().map(|u| u["UserName"].as_str().unwrap()).collect();
    assert_eq!(names, ["alice", "bob"]);
    let page = aws_ok(&s, &admin, &["iam", "list-users", "--max-items", "1"]).await;
    assert_eq!(page["Users"].as_array().unwrap().len(), 1);
    assert!(page["NextToken"].is_string(), "{page}");
    let ops = aws_ok(&s, &admin, &["iam", "list-users", "--path-prefix", "/ops/"]).await;
    assert_eq!(ops["Users"][0]["Arn"], format!("arn:aws:iam::{ACCOUNT}:user/ops/bob"));
    let got = aws_ok(&s, &admin, &["iam", "get-user", "--user-name", "alice"]).await;
    assert_eq!(got["User"]["Tags"][0]["Key"], "team");

    let key = aws_ok(&s, &admin, &["iam", "create-access-key", "--user-name", "alice"]).await;
    let alice = Creds {
        id: key["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
        secret: key["AccessKey"]["SecretAccessKey"].as_str().unwrap().into(),
        token: None,
    };
    assert!(alice.id.starts_with("AKIA") && alice.secret.len() == 40);
    let keys = aws_ok(&s, &admin, &["iam", "list-access-keys", "--user-name", "alice"]).await;
    assert_eq!(keys["AccessKeyMetadata"][0]["AccessKeyId"], alice.id.as_str());
    assert_eq!(keys["AccessKeyMetadata"][0]["Status"], "Active");
    let me = aws_ok(&s, &alice, &["sts", "get-caller-identity"]).await;
    assert_eq!(me["Arn"], format!("arn:aws:iam::{ACCOUNT}:user/alice"));

    let err = aws_err(&s, &admin, &["iam", "delete-user", "--user-name", "alice"]).await;
    assert!(err.contains("DeleteConflict") && err.contains("access keys"), "{err}");
    aws_ok(&s, &admin, &["iam", "update-access-key", "--user-name", "alice", "--access-key-id", &alice.id, "--status", "Inactive"]).await;
    let err = aws_err(&s, &alice, &["sts", "get-caller-identity"]).await;
    assert!(err.contains("InvalidClientTokenId"), "{err}");
    aws_ok(&s, &admin, &["iam", "delete-access-key", "--user-name", "alice", "--access-key-id", &alice.id]).await;
    aws_ok(&s, &admin, &["iam", "delete-user", "--user-name", "alice"]).await;
    let err = aws_err(&s, &admin, &["iam", "get-user", "--user-name", "alice"]).await;
    assert!(err.contains("NoSuchEntity") && err.contains("The user with name alice cannot be found."), "{err}");

    let r = aws_ok(&s, &admin, &["iam", "create-service-linked-role", "--aws-service-name", "eks.amazonaws.com"]).await;
    assert_eq!(r["Role"]["Arn"], format!("arn:aws:iam::{ACCOUNT}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"));
    assert_eq!(r["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"], "eks.amazonaws.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_is_denied_until_a_policy_allows_and_again_by_an_explicit_deny() {
    let s = start().await;
    let admin = s.admin();
    let bob = user_with_key(&s, "bob").await;
    let err = aws_err(&s, &bob, &["iam", "list-users"]).await;
    assert!(
        err.contains(&format!(
            "An error occurred (AccessDenied) when calling the ListUsers operation: User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::{ACCOUNT}:user/ because no identity-based policy allows the iam:ListUsers action"
        )),
        "{err}"
    );
    aws_ok(&s, &admin, &["iam", "attach-user-policy", "--user-name", "bob", "--policy-arn", "arn:aws:iam::aws:policy/IAMReadOnlyAccess"]).await;
    let users = aws_ok(&s, &bob, &["iam", "list-users"]).await;
    assert_eq!(users["Users"][0]["UserName"], "bob");
    let err = aws_err(&s, &bob, &["iam", "create-user", "--user-name", "mallory"]).await;
    assert!(err.contains("AccessDenied") && err.contains("iam:CreateUser"), "{err}");
    // An inline policy allowing CreateUser only for requests tagged team=a.
    let tagged = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateUser","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/team":"a"}}}]}"#;
    aws_ok(&s, &admin, &["iam", "put-user-policy", "--user-name", "bob", "--policy-name", "tagged", "--policy-document", tagged]).await;
    aws_err(&s, &bob, &["iam", "create-user", "--user-name", "mallory", "--tags", "Key=team,Value=b"]).await;
    aws_ok(&s, &bob, &["iam", "create-user", "--user-name", "mallory", "--tags", "Key=team,Value=a"]).await;
    let inline = aws_ok(&s, &admin, &["iam", "get-user-policy", "--user-name", "bob", "--policy-name", "tagged"]).await;
    assert_eq!(inline["PolicyDocument"]["Statement"][0]["Action"], "iam:CreateUser");
    aws_ok(&s, &admin, &["iam", "delete-user-policy", "--user-name", "bob", "--policy-name", "tagged"]).await;

    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:List*","Resource":"*"}]}"#;
    let p = aws_ok(&s, &admin, &["iam", "create-policy", "--policy-name", "no-list", "--policy-document", deny]).await;
    let arn = p["Policy"]["Arn"].as_str().unwrap().to_string();
    assert_eq!(arn, format!("arn:aws:iam::{ACCOUNT}:policy/no-list"));
    aws_ok(&s, &admin, &["iam", "attach-user-policy", "--user-name", "bob", "--policy-arn", &arn]).await;
    let err = aws_err(&s, &bob, &["iam", "list-users"]).await;
    assert!(err.contains("with an explicit deny in an identity-based policy"), "{err}");
    let attached = aws_ok(&s, &admin, &["iam", "list-attached-user-policies", "--user-name", "bob"]).await;
    assert_eq!(attached["AttachedPolicies"].as_array().unwrap().len(), 2);
    let got = aws_ok(&s, &admin, &["iam", "get-policy", "--policy-arn", &arn]).await;
    assert_eq!(got["Policy"]["AttachmentCount"], 1);
    let v = aws_ok(&s, &admin, &["iam", "get-policy-version", "--policy-arn", &arn, "--version-id", "v1"]).await;
    assert_eq!(v["PolicyVersion"]["Document"]["Statement"][0]["Effect"], "Deny");
    let err = aws_err(&s, &admin, &["iam", "delete-policy", "--policy-arn", &arn]).await;
    assert!(err.contains("DeleteConflict"), "{err}");
    aws_ok(&s, &admin, &["iam", "detach-user-policy", "--user-name", "bob", "--policy-arn", &arn]).await;
    aws_ok(&s, &bob, &["iam", "list-users"]).await;
    aws_ok(&s, &admin, &["iam", "delete-policy", "--policy-arn", &arn]).await;
    let err = aws_err(&s, &admin, &["iam", "attach-user-policy", "--user-name", "bob", "--policy-arn", "arn:aws:iam::aws:policy/Nope"]).await;
    assert!(err.contains("NoSuchEntity"), "{err}");
    let err = aws_err(&s, &admin, &["iam", "create-policy", "--policy-name", "bad", "--policy-document", "{\"Statement\":[]"]).await;
    assert!(err.contains("MalformedPolicyDocument"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_and_unknown_key_are_rejected_as_aws_does() {
    let s = start().await;
    let mut bad = s.admin();
    bad.secret = "x".repeat(40);
    let err = aws_err(&s, &bad, &["sts", "get-caller-identity"]).await;
    assert!(err.contains("(SignatureDoesNotMatch)") && err.contains("The request signature we calculated does not match"), "{err}");
    let err = aws_err(&s, &bad, &["iam", "list-users"]).await;
    assert!(err.contains("(SignatureDoesNotMatch)"), "{err}");
    let unknown = Creds { id: "AKIAUNKNOWNUNKNOWN00".into(), secret: "y".repeat(40), token: None };
    let err = aws_err(&s, &unknown, &["sts", "get-caller-identity"]).await;
    assert!(err.contains("(InvalidClientTokenId)") && err.contains("The security token included in the request is invalid"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assume_role_returns_credentials_that_act_as_the_role() {
    let s = start().await;
    let admin = s.admin();
    let alice = user_with_key(&s, "alice").await;
    let carol = user_with_key(&s, "carol").await;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/alice"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let r = aws_ok(&s, &admin, &["iam", "create-role", "--role-name", "deployer", "--assume-role-policy-document", &trust]).await;
    let role_arn = r["Role"]["Arn"].as_str().unwrap().to_string();
    assert_eq!(r["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Action"], "sts:AssumeRole");
    aws_ok(&s, &admin, &["iam", "attach-role-policy", "--role-name", "deployer", "--policy-arn", "arn:aws:iam::aws:policy/IAMReadOnlyAccess"]).await;
    let listed = aws_ok(&s, &admin, &["iam", "list-attached-role-policies", "--role-name", "deployer"]).await;
    assert_eq!(listed["AttachedPolicies"][0]["PolicyName"], "IAMReadOnlyAccess");

    let a = aws_ok(&s, &alice, &["sts", "assume-role", "--role-arn", &role_arn, "--role-session-name", "ci"]).await;
    assert_eq!(a["AssumedRoleUser"]["Arn"], format!("arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci"));
    let c = &a["Credentials"];
    let session = Creds {
        id: c["AccessKeyId"].as_str().unwrap().into(),
        secret: c["SecretAccessKey"].as_str().unwrap().into(),
        token: Some(c["SessionToken"].as_str().unwrap().into()),
    };
    assert!(session.id.starts_with("ASIA"));
    assert!(c["Expiration"].is_string());
    let me = aws_ok(&s, &session, &["sts", "get-caller-identity"]).await;
    assert_eq!(me["Arn"], format!("arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci"));
    assert!(me["UserId"].as_str().unwrap().ends_with(":ci"));
    aws_ok(&s, &session, &["iam", "list-roles"]).await;
    let err = aws_err(&s, &session, &["iam", "create-user", "--user-name", "x"]).await;
    assert!(err.contains(&format!("User: arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci is not authorized")), "{err}");

    let mut no_token = session.clone();
    no_token.token = None;
    let err = aws_err(&s, &no_token, &["sts", "get-caller-identity"]).await;
    assert!(err.contains("InvalidClientTokenId"), "{err}");

    let err = aws_err(&s, &carol, &["sts", "assume-role", "--role-arn", &role_arn, "--role-session-name", "xx"]).await;
    assert!(
        err.contains(&format!("User: arn:aws:iam::{ACCOUNT}:user/carol is not authorized to perform: sts:AssumeRole on resource: {role_arn}")),
        "{err}"
    );
    let err = aws_err(&s, &admin, &["sts", "assume-role", "--role-arn", &role_arn, "--role-session-name", "xx"]).await;
    assert!(err.contains("AccessDenied"), "{err}");
    let err = aws_err(&s, &alice, &["sts", "assume-role", "--role-arn", &role_arn, "--role-session-name", "xx", "--duration-seconds", "7200"]).await;
    assert!(err.contains("ValidationError") && err.contains("MaxSessionDuration"), "{err}");

    let info = aws_ok(&s, &carol, &["sts", "get-access-key-info", "--access-key-id", &alice.id]).await;
    assert_eq!(info["Account"], ACCOUNT);
    let err = aws_err(&s, &carol, &["sts", "get-access-key-info", "--access-key-id", "AKIANOTAKEYNOTAKEY00"]).await;
    assert!(err.contains("InvalidAccessKeyId"), "{err}");

    let t = aws_ok(&s, &alice, &["sts", "get-session-token", "--duration-seconds", "900"]).await;
    let tc = &t["Credentials"];
    let st = Creds {
        id: tc["AccessKeyId"].as_str().unwrap().into(),
        secret: tc["SecretAccessKey"].as_str().unwrap().into(),
        token: Some(tc["SessionToken"].as_str().unwrap().into()),
    };
    let me = aws_ok(&s, &st, &["sts", "get-caller-identity"]).await;
    assert_eq!(me["Arn"], format!("arn:aws:iam::{ACCOUNT}:user/alice"));
    let err = aws_err(&s, &st, &["sts", "get-session-token"]).await;
    assert!(err.contains("Cannot call GetSessionToken with session credentials"), "{err}");
}

/// Sends one HTTP/1.1 request and returns status, headers and body.
async fn raw(addr: std::net::SocketAddr, req: http::Request<Vec<u8>>) -> (u16, String, String) {
    let (parts, body) = req.into_parts();
    let mut head = format!("{} {} HTTP/1.1\r\n", parts.method, parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    for (k, v) in &parts.headers {
        head.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    head.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&body).await.unwrap();
    let mut out = Vec::new();
    sock.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let (h, b) = text.split_once("\r\n\r\n").unwrap();
    let status = h.split(' ').nth(1).unwrap().parse().unwrap();
    (status, h.to_ascii_lowercase(), b.to_string())
}

fn signed_form(s: &Server, creds: &Creds, service: &str, body: &str, now: i64) -> http::Request<Vec<u8>> {
    let req = http::Request::builder()
        .method("POST")
        .uri(format!("{}/", s.endpoint))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(body.as_bytes().to_vec())
        .unwrap();
    let (mut parts, body) = req.into_parts();
    let c = SigningCredentials { access_key_id: &creds.id, secret_access_key: &creds.secret, session_token: creds.token.as_deref() };
    sigv4::sign_request(&mut parts, &body, &c, "us-east-1", service, now);
    http::Request::from_parts(parts, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_unknown_tampered_and_expired_requests_get_the_aws_errors() {
    let s = start().await;
    let admin = s.admin();
    let now = wharf_aws::time::now_unix();

    let (st, h, b) = raw(s.addr, signed_form(&s, &admin, "iam", "Action=Frobnicate&Version=2010-05-08", now)).await;
    assert_eq!(st, 400);
    assert!(b.contains("<Code>InvalidAction</Code><Message>Could not find operation Frobnicate for version 2010-05-08</Message>"), "{b}");
    assert!(h.contains("x-amzn-requestid:"), "{h}");

    let unsigned = http::Request::builder()
        .method("POST")
        .uri("/")
        .header("host", "x")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"Action=GetCallerIdentity&Version=2011-06-15".to_vec())
        .unwrap();
    let (st, _, b) = raw(s.addr, unsigned).await;
    assert_eq!(st, 403);
    assert!(b.contains("<Code>MissingAuthenticationToken</Code>"), "{b}");

    let incomplete = http::Request::builder()
        .method("POST")
        .uri("/")
        .header("host", "x")
        .header("authorization", "AWS4-HMAC-SHA256 Credential=AKIAX/20250101/us-east-1/sts/aws4_request")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"Action=GetCallerIdentity&Version=2011-06-15".to_vec())
        .unwrap();
    let (st, _, b) = raw(s.addr, incomplete).await;
    assert_eq!(st, 400);
    assert!(b.contains("<Code>IncompleteSignature</Code>"), "{b}");

    // Signed for one body, sent with another.
    let mut tampered = signed_form(&s, &admin, "iam", "Action=ListUsers&Version=2010-05-08", now);
    *tampered.body_mut() = b"Action=ListUsers&Version=2010-05-08&PathPrefix=/x/".to_vec();
    let (st, _, b) = raw(s.addr, tampered).await;
    assert_eq!(st, 403);
    assert!(b.contains("<Code>SignatureDoesNotMatch</Code>"), "{b}");

    // Signed 20 minutes ago.
    let (st, _, b) = raw(s.addr, signed_form(&s, &admin, "sts", "Action=GetCallerIdentity&Version=2011-06-15", now - 1200)).await;
    assert_eq!(st, 403);
    assert!(b.contains("Signature expired"), "{b}");

    // Signed for the wrong service.
    let (st, _, b) = raw(s.addr, signed_form(&s, &admin, "ecr", "Action=GetCallerIdentity&Version=2011-06-15", now)).await;
    assert_eq!(st, 403);
    assert!(b.contains("Credential should be scoped to correct service: 'sts'"), "{b}");

    // A presigned GetCallerIdentity (what `aws eks get-token` makes): valid, then expired.
    let c = SigningCredentials { access_key_id: &admin.id, secret_access_key: &admin.secret, session_token: None };
    let uri: http::Uri = format!("{}/?Action=GetCallerIdentity&Version=2011-06-15", s.endpoint).parse().unwrap();
    let host = uri.authority().unwrap().to_string();
    for (at, want) in [(now, 200), (now - 120, 400)] {
        let q = sigv4::presign_query(&http::Method::GET, &uri, &[], &c, "us-east-1", "sts", at, 60);
        let req = http::Request::builder().method("GET").uri(format!("/?{q}")).header("host", &host).body(Vec::new()).unwrap();
        let (st, _, b) = raw(s.addr, req).await;
        assert_eq!(st, want, "{b}");
        if want == 200 {
            assert!(b.contains(&format!("<Arn>arn:aws:iam::{ACCOUNT}:root</Arn>")), "{b}");
        } else {
            assert!(b.contains("<Code>RequestExpired</Code>"), "{b}");
        }
    }

    // An X-Amz-Target nobody serves.
    let mut req = http::Request::builder()
        .method("POST")
        .uri(format!("{}/", s.endpoint))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "Nobody_20200101.DoThing")
        .body(b"{}".to_vec())
        .unwrap();
    let (mut parts, body) = std::mem::take(&mut req).into_parts();
    sigv4::sign_request(&mut parts, &body, &c, "us-east-1", "nobody", now);
    let (st, h, b) = raw(s.addr, http::Request::from_parts(parts, body)).await;
    assert_eq!(st, 400);
    assert!(h.contains("x-amzn-errortype: unknownoperationexception"), "{h}");
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["__type"], "UnknownOperationException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_keys_and_users_survive_a_restart() {
    let s = start().await;
    let admin = s.admin();
    aws_ok(&s, &admin, &["iam", "create-user", "--user-name", "keep"]).await;
    let dir = s.stop();
    let s2 = start_in(dir).await;
    assert_eq!(s2.admin().id, admin.id);
    assert_eq!(s2.iam.account_id(), ACCOUNT);
    let u = aws_ok(&s2, &admin, &["iam", "get-user", "--user-name", "keep"]).await;
    assert_eq!(u["User"]["UserName"], "keep");
    let dir = s2.stop();
    let store = Arc::new(SqliteStore::open(&dir.path().join("store")).unwrap());
    let mismatch = Iam::open(store, IamConfig { account_id: Some("999999999999".into()) }).await;
    assert!(mismatch.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_env_file_configures_an_unmodified_cli() {
    let s = start().await;
    let env: PathBuf = s.path().join("aws.env");
    wharf_iam::write_aws_env(&env, &s.endpoint, "eu-west-1", s.iam.admin_credentials(), None).unwrap();
    let text = std::fs::read_to_string(&env).unwrap();
    assert!(text.contains("export AWS_DEFAULT_REGION='eu-west-1'"), "{text}");
    let mut c = Command::new("bash");
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", s.path())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .arg("-c")
        .arg(format!(". {} && aws sts get-caller-identity --query Arn --output text", env.display()));
    let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("arn:aws:iam::{ACCOUNT}:root"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eks_tokens_from_the_cli_prove_the_caller_for_that_cluster_only() {
    let s = start().await;
    let admin = s.admin();
    let t = aws_ok(&s, &admin, &["eks", "get-token", "--cluster-name", "demo"]).await;
    let token = t["status"]["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("k8s-aws-v1."), "{token}");
    let now = wharf_aws::time::now_unix();
    let caller = s.iam.verify_eks_token(&token, "demo", now).await.unwrap();
    assert_eq!(caller.arn, format!("arn:aws:iam::{ACCOUNT}:root"));
    // Still valid after the URL's 60 s, as EKS honours 15 minutes.
    s.iam.verify_eks_token(&token, "demo", now + 300).await.unwrap();
    assert!(matches!(s.iam.verify_eks_token(&token, "other", now).await, Err(wharf_iam::eks_token::TokenError::Invalid(_))));
    assert_eq!(s.iam.verify_eks_token(&token, "demo", now + 16 * 60).await, Err(wharf_iam::eks_token::TokenError::Expired));
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert!(s.iam.verify_eks_token(&tampered, "demo", now).await.is_err());
    assert!(s.iam.verify_eks_token("Bearer nope", "demo", now).await.is_err());

    // A role session's token proves the assumed-role ARN.
    let alice = user_with_key(&s, "alice").await;
    let trust = format!(r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/alice"}},"Action":"sts:AssumeRole"}}]}}"#);
    aws_ok(&s, &admin, &["iam", "create-role", "--role-name", "eks-admin", "--assume-role-policy-document", &trust]).await;
    let t = aws_ok(&s, &alice, &["eks", "get-token", "--cluster-name", "demo", "--role-arn", &format!("arn:aws:iam::{ACCOUNT}:role/eks-admin")]).await;
    let caller = s.iam.verify_eks_token(t["status"]["token"].as_str().unwrap(), "demo", now).await.unwrap();
    assert_eq!(caller.arn, format!("arn:aws:sts::{ACCOUNT}:assumed-role/eks-admin/EKSGetTokenAuth"));
}

fn es256_token(key: &ring::signature::EcdsaKeyPair, claims: &Value) -> String {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let head = b.encode(br#"{"alg":"ES256","kid":"k1","typ":"JWT"}"#);
    let body = b.encode(claims.to_string());
    let msg = format!("{head}.{body}");
    let sig = key.sign(&ring::rand::SystemRandom::new(), msg.as_bytes()).unwrap();
    format!("{msg}.{}", b.encode(sig.as_ref()))
}

fn es256_key() -> (ring::signature::EcdsaKeyPair, wharf_iam::oidc::Jwk) {
    use base64::Engine as _;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let p = key.public_key().as_ref().to_vec();
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwk = wharf_iam::oidc::Jwk {
        kty: "EC".into(),
        kid: Some("k1".into()),
        crv: Some("P-256".into()),
        x: Some(b.encode(&p[1..33])),
        y: Some(b.encode(&p[33..65])),
        ..Default::default()
    };
    (key, jwk)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_identity_tokens_of_a_registered_provider_assume_roles_their_trust_allows() {
    let s = start().await;
    let admin = s.admin();
    let issuer = "https://oidc.wharf.test/id/ABC";
    let (key, jwk) = es256_key();
    s.iam.set_issuer_keys(issuer, vec![jwk]);
    let p = aws_ok(
        &s,
        &admin,
        &["iam", "create-open-id-connect-provider", "--url", issuer, "--client-id-list", "sts.amazonaws.com", "--thumbprint-list", "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
    )
    .await;
    let provider_arn = format!("arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.wharf.test/id/ABC");
    assert_eq!(p["OpenIDConnectProviderArn"], provider_arn.as_str());
    let got = aws_ok(&s, &admin, &["iam", "get-open-id-connect-provider", "--open-id-connect-provider-arn", &provider_arn]).await;
    assert_eq!(got["Url"], "oidc.wharf.test/id/ABC");
    assert_eq!(got["ClientIDList"][0], "sts.amazonaws.com");
    let list = aws_ok(&s, &admin, &["iam", "list-open-id-connect-providers"]).await;
    assert_eq!(list["OpenIDConnectProviderList"][0]["Arn"], provider_arn.as_str());

    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider_arn}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"oidc.wharf.test/id/ABC:sub":"system:serviceaccount:default:app","oidc.wharf.test/id/ABC:aud":"sts.amazonaws.com"}}}}}}]}}"#
    );
    let r = aws_ok(&s, &admin, &["iam", "create-role", "--role-name", "app", "--assume-role-policy-document", &trust]).await;
    let role = r["Role"]["Arn"].as_str().unwrap().to_string();
    let now = wharf_aws::time::now_unix();
    let claims = |sub: &str, exp: i64| serde_json::json!({"iss": issuer, "sub": sub, "aud": ["sts.amazonaws.com"], "iat": now, "exp": exp});
    let token = es256_token(&key, &claims("system:serviceaccount:default:app", now + 600));
    let a = aws_ok(&s, &admin, &["sts", "assume-role-with-web-identity", "--role-arn", &role, "--role-session-name", "pod", "--web-identity-token", &token]).await;
    assert_eq!(a["AssumedRoleUser"]["Arn"], format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/pod"));
    assert_eq!(a["SubjectFromWebIdentityToken"], "system:serviceaccount:default:app");
    let c = &a["Credentials"];
    let session = Creds {
        id: c["AccessKeyId"].as_str().unwrap().into(),
        secret: c["SecretAccessKey"].as_str().unwrap().into(),
        token: Some(c["SessionToken"].as_str().unwrap().into()),
    };
    let me = aws_ok(&s, &session, &["sts", "get-caller-identity"]).await;
    assert_eq!(me["Arn"], format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/pod"));

    let other = es256_token(&key, &claims("system:serviceaccount:default:other", now + 600));
    let err = aws_err(&s, &admin, &["sts", "assume-role-with-web-identity", "--role-arn", &role, "--role-session-name", "pod", "--web-identity-token", &other]).await;
    assert!(err.contains("(AccessDenied)") && err.contains("Not authorized to perform sts:AssumeRoleWithWebIdentity"), "{err}");
    let (stranger, _) = es256_key();
    let forged = es256_token(&stranger, &claims("system:serviceaccount:default:app", now + 600));
    let err = aws_err(&s, &admin, &["sts", "assume-role-with-web-identity", "--role-arn", &role, "--role-session-name", "pod", "--web-identity-token", &forged]).await;
    assert!(err.contains("(InvalidIdentityToken)"), "{err}");
    let expired = es256_token(&key, &claims("system:serviceaccount:default:app", now - 10));
    let err = aws_err(&s, &admin, &["sts", "assume-role-with-web-identity", "--role-arn", &role, "--role-session-name", "pod", "--web-identity-token", &expired]).await;
    assert!(err.contains("(ExpiredTokenException)"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_policies_and_policy_versions_change_what_a_user_may_do() {
    let s = start().await;
    let admin = s.admin();
    let dana = user_with_key(&s, "dana").await;
    aws_ok(&s, &admin, &["iam", "create-group", "--group-name", "readers"]).await;
    aws_ok(&s, &admin, &["iam", "attach-group-policy", "--group-name", "readers", "--policy-arn", "arn:aws:iam::aws:policy/IAMReadOnlyAccess"]).await;
    aws_err(&s, &dana, &["iam", "list-users"]).await;
    aws_ok(&s, &admin, &["iam", "add-user-to-group", "--group-name", "readers", "--user-name", "dana"]).await;
    aws_ok(&s, &dana, &["iam", "list-users"]).await;
    let g = aws_ok(&s, &admin, &["iam", "get-group", "--group-name", "readers"]).await;
    assert_eq!(g["Users"][0]["UserName"], "dana");
    assert_eq!(g["Group"]["Arn"], format!("arn:aws:iam::{ACCOUNT}:group/readers"));
    let mine = aws_ok(&s, &admin, &["iam", "list-groups-for-user", "--user-name", "dana"]).await;
    assert_eq!(mine["Groups"][0]["GroupName"], "readers");
    let err = aws_err(&s, &admin, &["iam", "delete-group", "--group-name", "readers"]).await;
    assert!(err.contains("DeleteConflict"), "{err}");
    aws_ok(&s, &admin, &["iam", "remove-user-from-group", "--group-name", "readers", "--user-name", "dana"]).await;
    aws_err(&s, &dana, &["iam", "list-users"]).await;

    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}"#;
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:ListUsers","Resource":"*"}]}"#;
    let p = aws_ok(&s, &admin, &["iam", "create-policy", "--policy-name", "lister", "--policy-document", allow]).await;
    let arn = p["Policy"]["Arn"].as_str().unwrap().to_string();
    aws_ok(&s, &admin, &["iam", "attach-user-policy", "--user-name", "dana", "--policy-arn", &arn]).await;
    aws_ok(&s, &dana, &["iam", "list-users"]).await;
    let v = aws_ok(&s, &admin, &["iam", "create-policy-version", "--policy-arn", &arn, "--policy-document", deny, "--set-as-default"]).await;
    assert_eq!(v["PolicyVersion"]["VersionId"], "v2");
    let err = aws_err(&s, &dana, &["iam", "list-users"]).await;
    assert!(err.contains("explicit deny"), "{err}");
    let versions = aws_ok(&s, &admin, &["iam", "list-policy-versions", "--policy-arn", &arn]).await;
    assert_eq!(versions["Versions"].as_array().unwrap().len(), 2);
    aws_ok(&s, &admin, &["iam", "set-default-policy-version", "--policy-arn", &arn, "--version-id", "v1"]).await;
    aws_ok(&s, &dana, &["iam", "list-users"]).await;
    let err = aws_err(&s, &admin, &["iam", "delete-policy-version", "--policy-arn", &arn, "--version-id", "v1"]).await;
    assert!(err.contains("DeleteConflict"), "{err}");
    aws_ok(&s, &admin, &["iam", "delete-policy-version", "--policy-arn", &arn, "--version-id", "v2"]).await;

    let local = aws_ok(&s, &admin, &["iam", "list-policies", "--scope", "Local", "--only-attached"]).await;
    assert_eq!(local["Policies"].as_array().unwrap().len(), 1);
    assert_eq!(local["Policies"][0]["PolicyName"], "lister");
    assert_eq!(local["Policies"][0]["AttachmentCount"], 1);
    let aws_managed = aws_ok(&s, &admin, &["iam", "list-policies", "--scope", "AWS"]).await;
    let names: Vec<&str> = aws_managed["Policies"].as_array().unwrap().iter().map(|p| p["PolicyName"].as_str().unwrap()).collect();
    for want in ["AdministratorAccess", "AmazonEKSClusterPolicy", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
}

/// The IAM part of the Amazon EKS getting-started guide, verbatim (trust policies as files).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eks_getting_started_iam_steps_run_verbatim() {
    let s = start().await;
    let admin = s.admin();
    let cluster_trust = s.path().join("eks-cluster-role-trust-policy.json");
    std::fs::write(
        &cluster_trust,
        r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {
        "Service": "eks.amazonaws.com"
      },
      "Action": "sts:AssumeRole"
    }
  ]
}"#,
    )
    .unwrap();
    let node_trust = s.path().join("node-role-trust-policy.json");
    std::fs::write(
        &node_trust,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    )
    .unwrap();
    let file = |p: &PathBuf| format!("file://{}", p.display());
    let r = aws_ok(&s, &admin, &["iam", "create-role", "--role-name", "myAmazonEKSClusterRole", "--assume-role-policy-document", &file(&cluster_trust)]).await;
    assert_eq!(r["Role"]["Arn"], format!("arn:aws:iam::{ACCOUNT}:role/myAmazonEKSClusterRole"));
    aws_ok(&s, &admin, &["iam", "attach-role-policy", "--policy-arn", "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy", "--role-name", "myAmazonEKSClusterRole"]).await;
    aws_ok(&s, &admin, &["iam", "create-role", "--role-name", "myAmazonEKSNodeRole", "--assume-role-policy-document", &file(&node_trust)]).await;
    for p in ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"] {
        aws_ok(&s, &admin, &["iam", "attach-role-policy", "--policy-arn", &format!("arn:aws:iam::aws:policy/{p}"), "--role-name", "myAmazonEKSNodeRole"]).await;
    }
    let attached = aws_ok(&s, &admin, &["iam", "list-attached-role-policies", "--role-name", "myAmazonEKSNodeRole"]).await;
    assert_eq!(attached["AttachedPolicies"].as_array().unwrap().len(), 3);
    let role = aws_ok(&s, &admin, &["iam", "get-role", "--role-name", "myAmazonEKSClusterRole", "--query", "Role.Arn"]).await;
    assert_eq!(role, Value::String(format!("arn:aws:iam::{ACCOUNT}:role/myAmazonEKSClusterRole")));
    let err = aws_err(&s, &admin, &["iam", "delete-role", "--role-name", "myAmazonEKSNodeRole"]).await;
    assert!(err.contains("DeleteConflict"), "{err}");
    for p in ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"] {
        aws_ok(&s, &admin, &["iam", "detach-role-policy", "--policy-arn", &format!("arn:aws:iam::aws:policy/{p}"), "--role-name", "myAmazonEKSNodeRole"]).await;
    }
    aws_ok(&s, &admin, &["iam", "delete-role", "--role-name", "myAmazonEKSNodeRole"]).await;
    let roles = aws_ok(&s, &admin, &["iam", "list-roles"]).await;
    assert_eq!(roles["Roles"].as_array().unwrap().len(), 1);
}
