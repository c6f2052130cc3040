//! The pod subresources served by the pod's kubelet: `pods/log`, `pods/exec`, `pods/attach`
//! and `pods/portforward`. The API server checks the pod and container, finds the node's
//! kubelet endpoint (`status.addresses` InternalIP, `status.daemonEndpoints.kubeletEndpoint`),
//! connects over TLS with its kubelet-client certificate, and either streams the kubelet's
//! response (logs) or forwards the upgrade and splices both directions (exec, attach,
//! port-forward), as kube-apiserver's upgrade-aware proxy does.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::error::{ApiError, Result};
use crate::http::{Body, RequestBody};
use crate::pki::CertPair;
use crate::registry::{ReadAt, Registry};

/// The kubelet-client identity's common name (kubeadm's name; the kubelet admits only it).
pub const KUBELET_CLIENT_CN: &str = "kube-apiserver-kubelet-client";

/// The kubelet's port when a Node does not publish one.
pub const DEFAULT_KUBELET_PORT: u16 = 10250;

const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// The subresources served by the kubelet.
pub const SUBRESOURCES: &[&str] = &["log", "exec", "attach", "portforward"];

/// Connects to kubelets as the API server.
pub struct KubeletClient {
    connector: tokio_rustls::TlsConnector,
}

impl KubeletClient {
    /// A client trusting kubelet serving certificates issued by `ca_pem` and presenting `cert`.
    pub fn new(ca_pem: &str, cert: &CertPair) -> std::result::Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
            roots.add(c.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        }
        let chain: Vec<_> = rustls_pemfile::certs(&mut cert.cert_pem.as_bytes()).collect::<std::result::Result<_, _>>().map_err(|e| e.to_string())?;
        let key = rustls_pemfile::private_key(&mut cert.key_pem.as_bytes()).map_err(|e| e.to_string())?.ok_or("no private key")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| e.to_string())?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self { connector: tokio_rustls::TlsConnector::from(Arc::new(cfg)) })
    }

    async fn connect(&self, host: &str, port: u16) -> Result<hyper::client::conn::http1::SendRequest<Body>> {
        let dial = |e: &dyn std::fmt::Display| ApiError::Internal(format!("error dialing backend: dial tcp {host}:{port}: {e}"));
        let tcp = match tokio::time::timeout(DIAL_TIMEOUT, tokio::net::TcpStream::connect((host, port))).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => return Err(dial(&e)),
            Err(_) => return Err(dial(&"i/o timeout")),
        };
        let _ = tcp.set_nodelay(true);
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => rustls::pki_types::ServerName::IpAddress(ip.into()),
            Err(_) => rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| dial(&e))?,
        };
        let tls = self.connector.connect(name, tcp).await.map_err(|e| dial(&e))?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| dial(&e))?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "kubelet connection ended");
            }
        });
        Ok(send)
    }
}

fn str_at<'a>(v: &'a Value, p: &str) -> Option<&'a str> {
    v.pointer(p).and_then(Value::as_str)
}

fn container_names(pod: &Value) -> Vec<String> {
    ["/spec/containers", "/spec/initContainers", "/spec/ephemeralContainers"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// The container a request means: the `container` parameter, the
/// `kubectl.kubernetes.io/default-container` annotation, or the only container.
fn pick_container(pod: &Value, name: &str, asked: Option<&str>) -> Result<String> {
    let all = container_names(pod);
    if let Some(c) = asked.filter(|c| !c.is_empty()) {
        if !all.iter().any(|n| n == c) {
            return Err(ApiError::BadRequest(format!("container {c} is not valid for pod {name}")));
        }
        return Ok(c.to_string());
    }
    if let Some(d) = str_at(pod, "/metadata/annotations/kubectl.kubernetes.io~1default-container") {
        if all.iter().any(|n| n == d) {
            return Ok(d.to_string());
        }
    }
    let main: Vec<&str> = pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten().filter_map(|c| c.get("name").and_then(Value::as_str)).collect();
    match main.as_slice() {
        [one] => Ok(one.to_string()),
        many => Err(ApiError::BadRequest(format!("a container name must be specified for pod {name}, choose one of: [{}]", many.join(" ")))),
    }
}

/// The kubelet endpoint of `node`: its InternalIP (else ExternalIP, else Hostname) and port.
fn kubelet_endpoint(node: &Value) -> Option<(String, u16)> {
    let addrs = node.pointer("/status/addresses").and_then(Value::as_array)?;
    let by_type = |t: &str| addrs.iter().find(|a| a.get("type").and_then(Value::as_str) == Some(t)).and_then(|a| a.get("address").and_then(Value::as_str));
    let host = by_type("InternalIP").or_else(|| by_type("ExternalIP")).or_else(|| by_type("Hostname"))?;
    let port = node.pointer("/status/daemonEndpoints/kubeletEndpoint/Port").and_then(Value::as_u64).and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0).unwrap_or(DEFAULT_KUBELET_PORT);
    Some((host.to_string(), port))
}

fn encode_query(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs.iter()).finish()
}

/// Serves a kubelet-backed pod subresource (already authorized).
pub async fn serve(reg: &Registry, kubelet: Option<&KubeletClient>, ns: &str, name: &str, sub: &str, mut req: Request<RequestBody>) -> Result<Response<Body>> {
    let kubelet = kubelet.ok_or_else(|| ApiError::BadRequest(format!("pods/{sub} is not available: this control plane has no kubelet client")))?;
    let pods = reg.lookup("", "v1", "pods").ok_or(ApiError::NoRoute)?;
    let pod = reg.get(&pods, Some(ns), name, ReadAt::Latest).await?.value()?;
    let query: Vec<(String, String)> = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    let q: HashMap<&str, &str> = query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let node_name = str_at(&pod, "/spec/nodeName").unwrap_or_default().to_string();
    let path = match sub {
        "portforward" => format!("/portForward/{ns}/{name}"),
        _ => {
            let container = pick_container(&pod, name, q.get("container").copied())?;
            if node_name.is_empty() {
                return Err(ApiError::BadRequest(format!("pod {name} does not have a host assigned")));
            }
            if sub != "log" {
                if let Some(phase @ ("Succeeded" | "Failed")) = str_at(&pod, "/status/phase") {
                    return Err(ApiError::BadRequest(format!("cannot {sub} into a container in a completed pod; current phase is {phase}")));
                }
            }
            let kind = if sub == "log" { "containerLogs" } else { sub };
            format!("/{kind}/{ns}/{name}/{container}")
        }
    };
    if node_name.is_empty() {
        return Err(ApiError::BadRequest(format!("pod {name} does not have a host assigned")));
    }
    let nodes = reg.lookup("", "v1", "nodes").ok_or(ApiError::NoRoute)?;
    let node = reg.get(&nodes, None, &node_name, ReadAt::Latest).await?.value()?;
    let (host, port) = kubelet_endpoint(&node).ok_or_else(|| ApiError::BadRequest(format!("node {node_name} has no address")))?;
    let forwarded: Vec<(String, String)> = query.into_iter().filter(|(k, _)| k != "container").collect();
    let qs = encode_query(&forwarded);
    let uri = if qs.is_empty() { path } else { format!("{path}?{qs}") };
    let mut send = kubelet.connect(&host, port).await?;
    let upgrade = req.headers().contains_key(header::UPGRADE);
    let method = if upgrade { Method::GET } else { req.method().clone() };
    let mut out = Request::builder().method(method).uri(uri.as_str());
    for h in [header::CONNECTION, header::UPGRADE, header::SEC_WEBSOCKET_KEY, header::SEC_WEBSOCKET_VERSION, header::SEC_WEBSOCKET_PROTOCOL] {
        for v in req.headers().get_all(&h) {
            out = out.header(&h, v);
        }
    }
    if let Some(v) = req.headers().get("x-stream-protocol-version") {
        out = out.header("x-stream-protocol-version", v);
    }
    out = out.header(header::HOST, format!("{host}:{port}"));
    let out = out.body(Empty::<Bytes>::new().boxed()).map_err(|e| ApiError::Internal(format!("kubelet request: {e}")))?;
    let mut resp = send.send_request(out).await.map_err(|e| ApiError::Internal(format!("error trying to reach the kubelet at {host}:{port}: {e}")))?;
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let client_up = hyper::upgrade::on(&mut req);
        let kubelet_up = hyper::upgrade::on(&mut resp);
        let mut r = Response::new(Empty::<Bytes>::new().boxed());
        *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        for (k, v) in resp.headers() {
            if k != header::CONTENT_LENGTH && k != header::TRANSFER_ENCODING {
                r.headers_mut().append(k.clone(), v.clone());
            }
        }
        tokio::spawn(async move {
            let (client, backend) = match tokio::join!(client_up, kubelet_up) {
                (Ok(c), Ok(b)) => (c, b),
                (c, b) => {
                    tracing::debug!(client = c.is_ok(), kubelet = b.is_ok(), "pod stream upgrade failed");
                    return;
                }
            };
            let (mut c, mut b) = (TokioIo::new(client), TokioIo::new(backend));
            if let Err(e) = tokio::io::copy_bidirectional(&mut c, &mut b).await {
                tracing::debug!(error = %e, "pod stream ended");
            }
        });
        return Ok(r);
    }
    // Anything else (logs, or the kubelet refusing the stream): relay status and body.
    let code = resp.status();
    let ct = resp.headers().get(header::CONTENT_TYPE).cloned().unwrap_or(HeaderValue::from_static("text/plain"));
    let mut body = resp.into_body();
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return };
            if let Ok(data) = frame.into_data() {
                if tx.send(data).await.is_err() {
                    return;
                }
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx)) });
    let mut r = Response::new(StreamBody::new(stream).boxed());
    *r.status_mut() = code;
    r.headers_mut().insert(header::CONTENT_TYPE, ct);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_container_defaults_to_the_only_one_and_unknown_names_are_rejected() {
        let pod = json!({"spec": {"containers": [{"name": "app"}], "initContainers": [{"name": "init"}]}});
        assert_eq!(pick_container(&pod, "p", None).ok().as_deref(), Some("app"));
        assert_eq!(pick_container(&pod, "p", Some("init")).ok().as_deref(), Some("init"));
        let e = pick_container(&pod, "p", Some("x")).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("container x is not valid for pod p"));
        let two = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        assert!(pick_container(&two, "p", None).is_err());
    }

    #[test]
    fn the_kubelet_endpoint_prefers_the_internal_ip_and_published_port() {
        let node = json!({"status": {"addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.7"}], "daemonEndpoints": {"kubeletEndpoint": {"Port": 12345}}}});
        assert_eq!(kubelet_endpoint(&node), Some(("10.0.0.7".into(), 12345)));
        let bare = json!({"status": {"addresses": [{"type": "Hostname", "address": "n1"}]}});
        assert_eq!(kubelet_endpoint(&bare), Some(("n1".into(), DEFAULT_KUBELET_PORT)));
    }
}
