//! Test harness: a registry on 127.0.0.1:0 and a tiny raw HTTP/1.1 client.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wharf_registry::{Challenge, LocalAuthorizer, Registry, RegistryConfig};
use wharf_store::sqlite::SqliteStore;

/// The admin token of every test registry (Basic user `AWS`).
pub const ADMIN_TOKEN: &str = "test-admin-token";
/// `Basic base64("AWS:test-admin-token")`.
pub fn admin_basic() -> String {
    basic(ADMIN_TOKEN)
}

pub fn basic(password: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}")))
}

pub struct Server {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub registry: Arc<Registry>,
    pub authorizer: Arc<LocalAuthorizer>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

pub async fn start() -> Server {
    start_with(|_| {}).await
}

pub async fn start_with(tune: impl FnOnce(&mut RegistryConfig)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("store")).unwrap());
    let authorizer = Arc::new(LocalAuthorizer::new(store.clone(), ADMIN_TOKEN));
    let mut config = RegistryConfig::new(dir.path().join("registry"));
    config.scheme = "http".into();
    config.challenge = Challenge::Basic;
    tune(&mut config);
    let registry = Arc::new(Registry::open(config, store, authorizer.clone()).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(wharf_registry::serve(listener, registry.clone(), async move {
        let _ = rx.await;
    }));
    Server { addr, dir, registry, authorizer, stop: Some(tx), task }
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn error_code(&self) -> String {
        self.json()["errors"][0]["code"].as_str().unwrap_or_default().to_string()
    }
}

/// Sends one request as the admin (unless `headers` carry `Authorization`).
pub async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    if headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization")) {
        return anon_request(addr, method, path, headers, body).await;
    }
    let auth = admin_basic();
    let mut h = headers.to_vec();
    h.push(("Authorization", &auth));
    anon_request(addr, method, path, &h, body).await
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the whole reply.
pub async fn anon_request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (e.g. 413) and close before reading a large body.
    let _ = s.write_all(body).await;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = if method == "HEAD" { Vec::new() } else { raw[split + 4..].to_vec() };
    Resp { status, headers, body }
}

/// Uploads a blob monolithically (POST then PUT) and returns its digest.
pub async fn push_blob(addr: SocketAddr, repo: &str, data: &[u8]) -> String {
    let digest = sha256(data);
    let r = request(addr, "POST", &format!("/v2/{repo}/blobs/uploads/"), &[], b"").await;
    assert_eq!(r.status, 202);
    let loc = r.header("location").unwrap().to_string();
    let r = request(addr, "PUT", &format!("{loc}?digest={digest}"), &[], data).await;
    assert_eq!(r.status, 201, "{:?}", String::from_utf8_lossy(&r.body));
    digest
}

/// Pushes an image manifest with the given config blob and layers; returns its digest.
pub async fn push_manifest(addr: SocketAddr, repo: &str, reference: &str, manifest: &serde_json::Value) -> Resp {
    let body = serde_json::to_vec(manifest).unwrap();
    request(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &body,
    )
    .await
}

pub fn descriptor(media_type: &str, data: &[u8]) -> serde_json::Value {
    serde_json::json!({ "mediaType": media_type, "digest": sha256(data), "size": data.len() })
}
