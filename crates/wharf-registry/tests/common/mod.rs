//! Test harness: a registry on 127.0.0.1:0 and a tiny raw HTTP/1.1 client.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wharf_registry::{Auth, Registry};
use wharf_store::sqlite::SqliteStore;

pub struct Server {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start(auth: Auth) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("store")).unwrap());
    let reg = Arc::new(Registry::new(&dir.path().join("registry"), store, auth).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let reg = reg.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let reg = reg.clone();
                    async move { Ok::<_, Infallible>(reg.handle(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    Server { addr, dir, task }
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

/// Sends one request on a fresh connection (`Connection: close`) and reads the whole reply.
pub async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
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
