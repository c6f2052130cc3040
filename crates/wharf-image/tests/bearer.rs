//! The bearer-token flow against a real registry: Debian's docker-registry behind a small
//! in-test gate that issues `WWW-Authenticate: Bearer` challenges and runs a token endpoint
//! (Docker Hub's shape). An end-to-end test against Wharf's own registry follows once it
//! issues tokens.
#![allow(clippy::unwrap_used)]

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use common::*;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use wharf_image::{ClientConfig, Error, ImageStore, Keyring, Platform, RegistryClient};

type Body = BoxBody<Bytes, hyper::Error>;

struct Gate {
    upstream: String,
    realm: String,
    token_requests: AtomicUsize,
    scopes: std::sync::Mutex<Vec<String>>,
}

fn full(status: u16, body: &str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())).map_err(|e: Infallible| match e {}).boxed());
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
    r
}

async fn handle(gate: Arc<Gate>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if path == "/token" {
        gate.token_requests.fetch_add(1, Ordering::SeqCst);
        let want = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("bob:t0ken"));
        if auth != want {
            return Ok(full(401, r#"{"details":"incorrect username or password"}"#));
        }
        let query = req.uri().query().unwrap_or("");
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        if get("service") != "wharf-test" {
            return Ok(full(400, "bad service"));
        }
        let scope = get("scope");
        gate.scopes.lock().unwrap().push(scope.clone());
        return Ok(full(200, &format!(r#"{{"token":"tok|{scope}","expires_in":300}}"#)));
    }
    // /v2/<repo>/(manifests|blobs)/<ref>
    let repo = path
        .strip_prefix("/v2/")
        .and_then(|p| p.rsplit_once("/manifests/").or_else(|| p.rsplit_once("/blobs/")))
        .map(|(r, _)| r.to_string());
    let scope = repo.as_ref().map(|r| format!("repository:{r}:pull"));
    let authorized = scope.as_ref().is_some_and(|s| auth == format!("Bearer tok|{s}"));
    if !authorized {
        let mut r = full(401, r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#);
        let mut challenge = format!(r#"Bearer realm="{}",service="wharf-test""#, gate.realm);
        if let Some(s) = scope {
            challenge.push_str(&format!(r#",scope="{s}""#));
        }
        r.headers_mut().insert("www-authenticate", challenge.parse().unwrap());
        return Ok(r);
    }
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut up = Request::get(format!("{}{}", gate.upstream, path));
    if let Some(a) = req.headers().get("accept") {
        up = up.header("accept", a);
    }
    match client.request(up.body(Empty::new()).unwrap()).await {
        Ok(resp) => Ok(resp.map(|b| b.boxed())),
        Err(e) => Ok(full(502, &e.to_string())),
    }
}

async fn start_gate(upstream: String) -> (Arc<Gate>, String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gate = Arc::new(Gate {
        upstream,
        realm: format!("http://{addr}/token"),
        token_requests: AtomicUsize::new(0),
        scopes: std::sync::Mutex::new(Vec::new()),
    });
    let g = gate.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let g = g.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| handle(g.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    (gate, addr.to_string(), task)
}

/// Aborts the gate's accept loop when the test ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tokio::test]
async fn bearer_challenge_should_fetch_a_scoped_token_with_the_pull_secret_and_reuse_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut layout = Layout::new(&tmp.path().join("layout"));
    let built = layout.image("amd64", &busybox_layers(), busybox_config());
    layout.tag("v1", MANIFEST, &built.manifest_digest, built.manifest_size);
    let reg = Registry::start(None);
    reg.push(&layout.dir, "v1", "team/app:v1", false);
    let (gate, host, task) = start_gate(format!("http://{}", reg.host())).await;
    let _abort = AbortOnDrop(task);

    let client = RegistryClient::new(ClientConfig::default()).unwrap();
    let amd64 = Platform { architecture: "amd64".into(), os: "linux".into(), variant: None };
    let store = ImageStore::open(tmp.path().join("store"), client, amd64).unwrap();
    let image = format!("{host}/team/app:v1");

    // Anonymous: the token server refuses, and so does the pull.
    let err = store.pull(&image, &Keyring::new()).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");

    let secret = format!(
        r#"{{"auths":{{"{host}":{{"auth":"{}"}}}}}}"#,
        base64::engine::general_purpose::STANDARD.encode("bob:t0ken")
    );
    let mut keyring = Keyring::new();
    keyring.add_docker_config_json(secret.as_bytes()).unwrap();
    let before = gate.token_requests.load(Ordering::SeqCst);
    let pulled = store.pull(&image, &keyring).await.unwrap();
    assert_eq!(pulled.manifest_digest.to_string(), built.manifest_digest);
    assert_eq!(pulled.layers.len(), 3);
    assert_eq!(gate.token_requests.load(Ordering::SeqCst) - before, 1, "one token serves the manifest, config and layers");
    assert_eq!(gate.scopes.lock().unwrap().last().unwrap(), "repository:team/app:pull");

    // A pull without the secret must not ride on the cached token.
    let err = store.pull(&format!("{host}/team/app@{}", built.manifest_digest), &Keyring::new()).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
}
