//! `aws` and `iam-eval`: the AWS front door under load (issue 8).
//!
//! * `aws`: N keep-alive HTTPS clients, each signing every request freshly with SigV4, call STS
//!   `GetCallerIdentity` (query protocol) and ECR `DescribeRepositories` (JSON 1.1) for D seconds
//!   each, first with the admin key (the account root: no policy evaluation), then with an IAM
//!   user that has 100 policies (10 attached managed + 80 managed through 8 groups + 10 inline),
//!   all created through the front door with the admin key.
//! * `iam-eval`: the same 100 policy documents evaluated in-process against one request.

use crate::{lat_summary, r3, Client, Meter, Target};
use anyhow::{anyhow, bail, Context as _, Result};
use bytes::Bytes;
use clap::Args;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Map, Value};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wharf_aws::sigv4::{sign_request, SigningCredentials};

#[derive(Args, Clone)]
pub(crate) struct AwsArgs {
    /// `aws.env` written by `wharf up` (default: the spawned server's `DATA_DIR/aws.env`).
    #[arg(long)]
    pub aws_env: Option<PathBuf>,
    /// Concurrent clients, each with its own keep-alive HTTP/1.1 connection.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Seconds each operation is driven for.
    #[arg(long, default_value_t = 10.0)]
    pub duration_s: f64,
    /// ECR repositories created before `DescribeRepositories` (which lists them all).
    #[arg(long, default_value_t = 5)]
    pub repositories: usize,
    /// Skip the run with the 100-policy IAM user.
    #[arg(long)]
    pub no_policy_user: bool,
}

#[derive(Args, Clone)]
pub(crate) struct IamEvalArgs {
    /// Evaluations to time.
    #[arg(long, default_value_t = 20_000)]
    pub iterations: usize,
    /// Policy documents the caller has.
    #[arg(long, default_value_t = 100)]
    pub policies: usize,
}

/// What `aws.env` holds.
#[derive(Clone)]
pub(crate) struct AwsEnv {
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
    pub ca: Option<PathBuf>,
}

/// Undoes `wharf_iam`'s shell quoting (`'…'` with `'\''` for a quote); bare words pass.
fn shell_unquote(v: &str) -> String {
    let mut out = String::new();
    let mut in_q = false;
    let mut it = v.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\'' => in_q = !in_q,
            '\\' if !in_q => {
                if let Some(n) = it.next() {
                    out.push(n);
                }
            }
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn parse_aws_env(text: &str) -> Result<AwsEnv> {
    let mut m = std::collections::HashMap::new();
    for line in text.lines() {
        let l = line.trim();
        let l = l.strip_prefix("export ").unwrap_or(l);
        if let Some((k, v)) = l.split_once('=') {
            m.insert(k.trim().to_string(), shell_unquote(v.trim()));
        }
    }
    let get = |k: &str| m.get(k).cloned().ok_or_else(|| anyhow!("aws.env has no {k}"));
    Ok(AwsEnv {
        endpoint: get("AWS_ENDPOINT_URL")?,
        access_key_id: get("AWS_ACCESS_KEY_ID")?,
        secret_access_key: get("AWS_SECRET_ACCESS_KEY")?,
        region: m.get("AWS_REGION").or_else(|| m.get("AWS_DEFAULT_REGION")).cloned().unwrap_or_else(|| "us-east-1".into()),
        ca: m.get("AWS_CA_BUNDLE").map(PathBuf::from),
    })
}

pub(crate) fn read_aws_env(path: &Path) -> Result<AwsEnv> {
    parse_aws_env(&std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?)
}

/// Access key and secret.
#[derive(Clone)]
struct Creds {
    id: String,
    secret: String,
}

/// One of the two measured operations (or a setup call).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    /// Query protocol (form body) of `service` (`sts`, `iam`).
    Query(&'static str),
    /// JSON 1.1 of ECR with this `X-Amz-Target`.
    EcrJson(&'static str),
}

/// Builds and signs one request; returns it and the time spent signing (building included).
fn signed(authority: &str, region: &str, creds: &Creds, proto: Proto, body: &[u8]) -> Result<(Request<Full<Bytes>>, Duration)> {
    let t0 = Instant::now();
    let mut b = Request::builder().method(Method::POST).uri("/").header(header::HOST, authority);
    let service = match proto {
        Proto::Query(svc) => {
            b = b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded; charset=utf-8");
            svc
        }
        Proto::EcrJson(target) => {
            b = b.header(header::CONTENT_TYPE, "application/x-amz-json-1.1").header("x-amz-target", target);
            "ecr"
        }
    };
    let (mut parts, ()) = b.body(())?.into_parts();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64;
    sign_request(&mut parts, body, &SigningCredentials { access_key_id: &creds.id, secret_access_key: &creds.secret, session_token: None }, region, service, now);
    let req = Request::from_parts(parts, Full::new(Bytes::copy_from_slice(body)));
    Ok((req, t0.elapsed()))
}

async fn send(c: &mut Client, req: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes)> {
    tokio::time::timeout(crate::REQUEST_TIMEOUT, async {
        let resp = c.send(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok::<_, anyhow::Error>((status, body))
    })
    .await
    .map_err(|_| anyhow!("request timed out"))?
}

/// A form body (`Action=…&Version=…&k=v…`), values form-encoded.
fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

/// Text of the first `<tag>…</tag>` in an XML answer.
fn xml_text(body: &[u8], tag: &str) -> Option<String> {
    let s = std::str::from_utf8(body).ok()?;
    let open = format!("<{tag}>");
    let i = s.find(&open)? + open.len();
    let j = s[i..].find(&format!("</{tag}>"))? + i;
    Some(s[i..j].to_string())
}

/// A sequential admin-side caller for the setup.
struct Setup<'a> {
    c: Client,
    authority: &'a str,
    region: &'a str,
    creds: Creds,
    calls: usize,
}

impl Setup<'_> {
    async fn call(&mut self, proto: Proto, body: &[u8]) -> Result<Bytes> {
        let (req, _) = signed(self.authority, self.region, &self.creds, proto, body)?;
        let (st, b) = send(&mut self.c, req).await?;
        self.calls += 1;
        if !st.is_success() {
            bail!("setup call failed: {st}: {}", crate::short(&b));
        }
        Ok(b)
    }

    async fn iam(&mut self, action: &str, params: &[(&str, &str)]) -> Result<Bytes> {
        let mut p = vec![("Action", action), ("Version", "2010-05-08")];
        p.extend_from_slice(params);
        self.call(Proto::Query("iam"), &form(&p)).await
    }
}

const GCI: Proto = Proto::Query("sts");
const GCI_BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";
const DESCRIBE_REPOS: Proto = Proto::EcrJson("AmazonEC2ContainerRegistry_V20150921.DescribeRepositories");

/// Where each of the 100 policies goes: attached to the user, attached to a group, inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    UserManaged,
    Group(usize),
    Inline,
}

/// Placement of policy `i` of `n`: the first 10 attached to the user (AWS's default quota of
/// managed policies per user), the last 10 inline, the rest attached to groups of 10 (AWS's
/// default per group; at most 10 groups per user).
pub(crate) fn placement(i: usize, n: usize) -> Placement {
    if i < 10.min(n) {
        Placement::UserManaged
    } else if i + 10 >= n && n > 20 {
        Placement::Inline
    } else {
        Placement::Group((i - 10) / 10)
    }
}

/// Policy document `i` of `n` for `account`/`region`. Every one has distinct statements that
/// the benchmarked requests must be checked against (ECR actions on other repositories, a
/// conditional S3 deny, STS on other roles); only the last one allows the benchmarked calls.
/// Inline ones are kept small (AWS limits a user's inline policies to 2,048 characters).
pub(crate) fn policy_doc(i: usize, n: usize, account: &str, region: &str) -> String {
    if i + 1 == n {
        return json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "BenchAllow", "Effect": "Allow", "Action": ["ecr:DescribeRepositories", "sts:GetCallerIdentity"], "Resource": "*"}
        ]})
        .to_string();
    }
    if placement(i, n) == Placement::Inline {
        return json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::bench-{i}/*")}
        ]})
        .to_string();
    }
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": format!("Repo{i}"), "Effect": "Allow", "Action": ["ecr:Describe*", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
         "Resource": format!("arn:aws:ecr:{region}:{account}:repository/team-{i}/*")},
        {"Sid": format!("NoDelete{i}"), "Effect": "Deny", "Action": ["s3:DeleteObject", "s3:DeleteBucket"],
         "Resource": [format!("arn:aws:s3:::bench-{i}"), format!("arn:aws:s3:::bench-{i}/*")],
         "Condition": {"StringNotEquals": {"aws:username": format!("owner-{i}")}}},
        {"Sid": format!("Assume{i}"), "Effect": "Allow", "Action": "sts:AssumeRole",
         "Resource": format!("arn:aws:iam::{account}:role/bench-role-{i}"),
         "Condition": {"Bool": {"aws:SecureTransport": "true"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
    ]})
    .to_string()
}

/// Creates user `name` with the policies of [`policy_doc`] placed per [`placement`]; returns its key.
async fn create_policy_user(s: &mut Setup<'_>, name: &str, n: usize, account: &str) -> Result<(Creds, Value)> {
    s.iam("CreateUser", &[("UserName", name)]).await?;
    let (mut user_managed, mut groups, mut inline) = (0, 0, 0);
    let mut group_policies: std::collections::BTreeMap<usize, usize> = Default::default();
    for i in 0..n {
        let doc = policy_doc(i, n, account, s.region);
        let pname = format!("{name}-p{i:03}");
        match placement(i, n) {
            Placement::Inline => {
                s.iam("PutUserPolicy", &[("UserName", name), ("PolicyName", &pname), ("PolicyDocument", &doc)]).await?;
                inline += 1;
            }
            p => {
                let out = s.iam("CreatePolicy", &[("PolicyName", &pname), ("PolicyDocument", &doc)]).await?;
                let arn = xml_text(&out, "Arn").ok_or_else(|| anyhow!("CreatePolicy answer has no Arn: {}", crate::short(&out)))?;
                if let Placement::Group(g) = p {
                    let gname = format!("{name}-g{g}");
                    if !group_policies.contains_key(&g) {
                        s.iam("CreateGroup", &[("GroupName", &gname)]).await?;
                        s.iam("AddUserToGroup", &[("GroupName", &gname), ("UserName", name)]).await?;
                        groups += 1;
                    }
                    s.iam("AttachGroupPolicy", &[("GroupName", &gname), ("PolicyArn", &arn)]).await?;
                    *group_policies.entry(g).or_default() += 1;
                } else {
                    s.iam("AttachUserPolicy", &[("UserName", name), ("PolicyArn", &arn)]).await?;
                    user_managed += 1;
                }
            }
        }
    }
    let out = s.iam("CreateAccessKey", &[("UserName", name)]).await?;
    let creds = Creds {
        id: xml_text(&out, "AccessKeyId").ok_or_else(|| anyhow!("CreateAccessKey answer has no AccessKeyId"))?,
        secret: xml_text(&out, "SecretAccessKey").ok_or_else(|| anyhow!("CreateAccessKey answer has no SecretAccessKey"))?,
    };
    let layout = json!({
        "user": name,
        "policies": n,
        "attached_to_user": user_managed,
        "groups": groups,
        "attached_through_groups": group_policies.values().sum::<usize>(),
        "inline": inline,
    });
    Ok((creds, layout))
}

/// Drives `proto` with `clients` clients for `dur`; every request is signed just before it is sent.
async fn drive(t: &Arc<Target>, pids: &[u32], region: &str, creds: &Creds, (proto, body): (Proto, &'static [u8]), clients: usize, dur: Duration) -> Result<Value> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Client::connect(t, false).await?);
    }
    // One warm-up request per connection (TLS session and server caches), not counted.
    for c in conns.iter_mut() {
        let (req, _) = signed(&t.authority, region, creds, proto, body)?;
        let (st, b) = send(c, req).await?;
        if st != StatusCode::OK {
            bail!("warm-up request failed: {st}: {}", crate::short(&b));
        }
    }
    let meter = Meter::start(pids);
    let deadline = Instant::now() + dur;
    let mut tasks = Vec::new();
    for mut c in conns {
        let t = t.clone();
        let creds = creds.clone();
        let region = region.to_string();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut sign, mut errors, mut first_error) = (Vec::new(), Vec::new(), 0usize, None::<String>);
            while Instant::now() < deadline {
                let (req, st) = match signed(&t.authority, &region, &creds, proto, body) {
                    Ok(x) => x,
                    Err(e) => return Err(e),
                };
                sign.push(st.as_secs_f64());
                let t0 = Instant::now();
                match send(&mut c, req).await {
                    Ok((s, _)) if s == StatusCode::OK => lat.push(t0.elapsed().as_secs_f64()),
                    Ok((s, b)) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{s}: {}", crate::short(&b)));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                        // The connection may be gone: a fresh one, as an SDK would.
                        c = Client::connect(&t, false).await?;
                    }
                }
            }
            Ok::<_, anyhow::Error>((lat, sign, errors, first_error))
        }));
    }
    let (mut lat, mut sign, mut errors, mut first_error) = (Vec::new(), Vec::new(), 0, None);
    for task in tasks {
        let (l, s, e, f) = task.await??;
        lat.extend(l);
        sign.extend(s);
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    let cpu = meter.finish(lat.len() + errors);
    let wall = cpu.get("wall_s").and_then(Value::as_f64).unwrap_or(f64::NAN);
    let mut sign_us: Vec<f64> = sign.iter().map(|s| s * 1e6).collect();
    sign_us.sort_by(|a, b| a.total_cmp(b));
    let mean_sign = sign_us.iter().sum::<f64>() / sign_us.len().max(1) as f64;
    Ok(json!({
        "clients": clients,
        "ok": lat.len(),
        "errors": errors,
        "first_error": first_error,
        "requests_per_s": r3(lat.len() as f64 / wall),
        "latency": lat_summary(&lat),
        "signing_us": {"mean": r3(mean_sign), "p50": r3(crate::pct(&sign_us, 50.0)), "p99": r3(crate::pct(&sign_us, 99.0))},
        "cpu": cpu,
    }))
}

/// The `aws` command.
pub(crate) async fn run_aws(t: &Arc<Target>, env: &AwsEnv, pids: &[u32], a: &AwsArgs) -> Result<Value> {
    let dur = Duration::from_secs_f64(a.duration_s);
    let admin = Creds { id: env.access_key_id.clone(), secret: env.secret_access_key.clone() };
    let mut setup = Setup { c: Client::connect(t, false).await?, authority: &t.authority, region: &env.region, creds: admin.clone(), calls: 0 };
    let who = setup.call(GCI, GCI_BODY).await?;
    let account = xml_text(&who, "Account").ok_or_else(|| anyhow!("GetCallerIdentity answer has no Account: {}", crate::short(&who)))?;
    let tag = crate::rand_hex();
    for i in 0..a.repositories {
        let body = json!({"repositoryName": format!("bench-{tag}/repo-{i}")}).to_string();
        setup.call(Proto::EcrJson("AmazonEC2ContainerRegistry_V20150921.CreateRepository"), body.as_bytes()).await?;
    }
    let mut res = Map::new();
    res.insert("endpoint".into(), json!(env.endpoint));
    res.insert("region".into(), json!(env.region));
    res.insert("repositories_created".into(), json!(a.repositories));
    let mut admin_res = Map::new();
    admin_res.insert("GetCallerIdentity".into(), drive(t, pids, &env.region, &admin, (GCI, GCI_BODY), a.clients, dur).await?);
    admin_res.insert("DescribeRepositories".into(), drive(t, pids, &env.region, &admin, (DESCRIBE_REPOS, b"{}"), a.clients, dur).await?);
    res.insert("admin_root".into(), Value::Object(admin_res));
    if !a.no_policy_user {
        let t0 = Instant::now();
        let calls0 = setup.calls;
        let (creds, layout) = create_policy_user(&mut setup, &format!("bench-{tag}"), 100, &account).await?;
        let mut u = Map::new();
        u.insert("layout".into(), layout);
        u.insert("setup".into(), json!({"calls": setup.calls - calls0, "seconds": r3(t0.elapsed().as_secs_f64())}));
        u.insert("GetCallerIdentity".into(), drive(t, pids, &env.region, &creds, (GCI, GCI_BODY), a.clients, dur).await?);
        u.insert("DescribeRepositories".into(), drive(t, pids, &env.region, &creds, (DESCRIBE_REPOS, b"{}"), a.clients, dur).await?);
        res.insert("user_100_policies".into(), Value::Object(u));
    }
    Ok(Value::Object(res))
}

/// The `iam-eval` command: one request against `policies` parsed documents.
pub(crate) fn run_iam_eval(a: &IamEvalArgs) -> Result<Value> {
    use wharf_iam::policy::{evaluate, Context, PolicyDocument, Request as PReq};
    let (account, region) = ("123456789012", "us-east-1");
    let texts: Vec<String> = (0..a.policies).map(|i| policy_doc(i, a.policies, account, region)).collect();
    let docs: Vec<PolicyDocument> = texts.iter().map(|t| PolicyDocument::parse(t, true)).collect::<Result<_, _>>().map_err(|e| anyhow!("policy does not parse: {e:?}"))?;
    let statements: usize = docs.iter().map(|d| d.statements.len()).sum();
    // The condition keys the server adds for an IAM user, plus the request's.
    let mut ctx = Context::new();
    ctx.set("aws:PrincipalAccount", account)
        .set("aws:userid", "AIDAEXAMPLE")
        .set("aws:username", "bench")
        .set("aws:PrincipalArn", format!("arn:aws:iam::{account}:user/bench"))
        .set("aws:PrincipalType", "User")
        .set("aws:RequestedRegion", region)
        .set("aws:SourceIp", "127.0.0.1")
        .set("aws:SecureTransport", "true")
        .set("aws:CurrentTime", "2026-11-25T16:00:00Z");
    let resource = format!("arn:aws:ecr:{region}:{account}:repository/*");
    let req = PReq { action: "ecr:DescribeRepositories", resource: &resource, context: &ctx };
    let denied_req = PReq { action: "ecr:PutImage", resource: &resource, context: &ctx };
    let allowed = evaluate(docs.iter(), &req);
    let denied = evaluate(docs.iter(), &denied_req);
    anyhow::ensure!(allowed == wharf_aws::Decision::Allow, "the benchmark request should be allowed, got {allowed:?}");
    anyhow::ensure!(denied != wharf_aws::Decision::Allow, "ecr:PutImage should not be allowed");
    let n = a.iterations.max(1);
    let time = |f: &dyn Fn()| {
        f(); // warm
        let t0 = Instant::now();
        for _ in 0..n {
            f();
        }
        t0.elapsed().as_secs_f64() * 1e9 / n as f64
    };
    let eval_ns = time(&|| {
        black_box(evaluate(black_box(&docs).iter(), black_box(&req)));
    });
    let eval_denied_ns = time(&|| {
        black_box(evaluate(black_box(&docs).iter(), black_box(&denied_req)));
    });
    // What the server does per request today: parse every stored document, then evaluate.
    let parse_n = (n / 20).max(1);
    let t0 = Instant::now();
    for _ in 0..parse_n {
        let d: Vec<PolicyDocument> = black_box(&texts).iter().filter_map(|t| PolicyDocument::parse(t, true).ok()).collect();
        black_box(evaluate(d.iter(), &req));
    }
    let parse_eval_ns = t0.elapsed().as_secs_f64() * 1e9 / parse_n as f64;
    Ok(json!({
        "policies": a.policies,
        "statements": statements,
        "policy_bytes": texts.iter().map(String::len).sum::<usize>(),
        "iterations": n,
        "evaluate_allowed_ns": r3(eval_ns),
        "evaluate_implicit_deny_ns": r3(eval_denied_ns),
        "parse_and_evaluate_ns": r3(parse_eval_ns),
        "parse_and_evaluate_iterations": parse_n,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn aws_env_as_wharf_writes_it_is_read_back() {
        let e = parse_aws_env("export AWS_ENDPOINT_URL='https://127.0.0.1:6443'\nexport AWS_ACCESS_KEY_ID='AKIA1'\nexport AWS_SECRET_ACCESS_KEY='a'\\''b'\nexport AWS_DEFAULT_REGION='eu-west-1'\nexport AWS_REGION='eu-west-1'\nexport AWS_CA_BUNDLE='/d/ca.crt'\n").unwrap();
        assert_eq!(e.endpoint, "https://127.0.0.1:6443");
        assert_eq!(e.secret_access_key, "a'b");
        assert_eq!(e.region, "eu-west-1");
        assert_eq!(e.ca.as_deref(), Some(Path::new("/d/ca.crt")));
        assert!(parse_aws_env("export AWS_ACCESS_KEY_ID=x\n").is_err());
    }

    #[test]
    fn hundred_policies_fit_aws_default_quotas() {
        let p: Vec<Placement> = (0..100).map(|i| placement(i, 100)).collect();
        assert_eq!(p.iter().filter(|x| **x == Placement::UserManaged).count(), 10);
        assert_eq!(p.iter().filter(|x| **x == Placement::Inline).count(), 10);
        let mut per_group = std::collections::BTreeMap::new();
        for x in &p {
            if let Placement::Group(g) = x {
                *per_group.entry(*g).or_insert(0) += 1;
            }
        }
        assert_eq!(per_group.len(), 8);
        assert!(per_group.values().all(|n| *n == 10));
        // Inline policies together stay under AWS's 2,048 characters per user.
        let inline: usize = (0..100).filter(|i| placement(*i, 100) == Placement::Inline).map(|i| policy_doc(i, 100, "123456789012", "us-east-1").len()).sum();
        assert!(inline < 2048, "{inline}");
    }

    #[test]
    fn only_the_last_policy_allows_the_benchmarked_calls() {
        let r = run_iam_eval(&IamEvalArgs { iterations: 10, policies: 100 }).unwrap();
        assert_eq!(r["policies"], 100);
        let docs: std::collections::HashSet<String> = (0..100).map(|i| policy_doc(i, 100, "1", "r")).collect();
        assert_eq!(docs.len(), 100, "every policy is distinct");
        let r = run_iam_eval(&IamEvalArgs { iterations: 10, policies: 99 });
        assert!(r.is_ok());
    }

    #[test]
    fn signed_requests_carry_sigv4_for_their_service() {
        let creds = Creds { id: "AKIDEXAMPLE".into(), secret: "s".into() };
        let (r, _) = signed("127.0.0.1:1", "us-east-1", &creds, DESCRIBE_REPOS, b"{}").unwrap();
        let auth = r.headers()[header::AUTHORIZATION].to_str().unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
        assert!(auth.contains("/us-east-1/ecr/aws4_request"));
        assert!(auth.contains("x-amz-target"));
        let (r, _) = signed("127.0.0.1:1", "us-east-1", &creds, GCI, GCI_BODY).unwrap();
        assert!(r.headers()[header::AUTHORIZATION].to_str().unwrap().contains("/sts/aws4_request"));
    }
}
