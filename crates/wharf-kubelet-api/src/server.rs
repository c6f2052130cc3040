//! The HTTPS listener and request routing of the kubelet API.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::logs::LogOptions;
use crate::tls::{common_name, APISERVER_CLIENT_CN};
use crate::{ws, NodeRuntime, PodRef, RuntimeError, StreamOptions};

type Body = BoxBody<Bytes, Infallible>;

fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code});
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn runtime_error(e: &RuntimeError) -> Response<Body> {
    let reason = match e.code() {
        404 => "NotFound",
        400 => "BadRequest",
        _ => "InternalError",
    };
    status(e.code(), reason, &e.to_string())
}

fn flag(q: &[(String, String)], k: &str) -> bool {
    q.iter().any(|(n, v)| n == k && (v == "true" || v == "1"))
}

/// Serves the kubelet API on `listener` until `shutdown` turns true. Only clients whose
/// certificate (verified by `tls`, see [`crate::server_config`]) names the API server's
/// kubelet-client identity are served.
pub async fn serve(listener: TcpListener, tls: Arc<rustls::ServerConfig>, runtime: Arc<dyn NodeRuntime>, mut shutdown: watch::Receiver<bool>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "kubelet api accept failed");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let runtime = runtime.clone();
        conns.spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "kubelet api tls handshake failed");
                    return;
                }
            };
            let cn = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(|c| common_name(c.as_ref()));
            let allowed = cn.as_deref() == Some(APISERVER_CLIENT_CN);
            let svc = service_fn(move |req: Request<Incoming>| {
                let runtime = runtime.clone();
                let cn = cn.clone();
                async move {
                    if !allowed {
                        let who = cn.unwrap_or_else(|| "anonymous".into());
                        return Ok::<_, Infallible>(status(403, "Forbidden", &format!("user {who:?} may not use the kubelet api")));
                    }
                    Ok(route(runtime, req).await)
                }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), svc).with_upgrades().await {
                tracing::debug!(%peer, error = %e, "kubelet api connection ended with error");
            }
        });
        while conns.try_join_next().is_some() {}
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

fn pod_and_container(rest: &[&str]) -> Option<(PodRef, String)> {
    let (ns, pod, uid, container) = match rest {
        [ns, pod, container] => (ns, pod, None, container),
        [ns, pod, uid, container] => (ns, pod, Some(uid.to_string()), container),
        _ => return None,
    };
    Some((PodRef { namespace: ns.to_string(), name: pod.to_string(), uid }, container.to_string()))
}

async fn route(runtime: Arc<dyn NodeRuntime>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let segs: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let query: Vec<(String, String)> = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    match segs.as_slice() {
        ["healthz"] => Response::new(Full::new(Bytes::from_static(b"ok")).boxed()),
        ["containerLogs", rest @ ..] => match pod_and_container(rest) {
            Some((pod, c)) => logs(runtime, pod, c, &query).await,
            None => status(404, "NotFound", "not found"),
        },
        [kind @ ("exec" | "attach"), rest @ ..] => match pod_and_container(rest) {
            Some((pod, c)) => remote_command(runtime, kind == &"exec", pod, c, &query, req).await,
            None => status(404, "NotFound", "not found"),
        },
        ["portForward", ns, pod] => port_forward(runtime, PodRef { namespace: ns.to_string(), name: pod.to_string(), uid: None }, &query, req).await,
        ["portForward", ns, pod, uid] => port_forward(runtime, PodRef { namespace: ns.to_string(), name: pod.to_string(), uid: Some(uid.to_string()) }, &query, req).await,
        _ => status(404, "NotFound", "not found"),
    }
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

async fn logs(runtime: Arc<dyn NodeRuntime>, pod: PodRef, container: String, query: &[(String, String)]) -> Response<Body> {
    let q: HashMap<String, String> = query.iter().cloned().collect();
    let opts = match LogOptions::from_query(&q) {
        Ok(o) => o,
        Err(e) => return status(400, "BadRequest", &e),
    };
    let file = match runtime.log_file(&pod, &container, opts.previous).await {
        Ok(f) => f,
        Err(e) => return runtime_error(&e),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let handle = tokio::runtime::Handle::current();
    let check = {
        let (runtime, pod, container) = (runtime.clone(), pod.clone(), container.clone());
        Box::new(move || handle.block_on(runtime.container_running(&pod, &container)))
    };
    tokio::task::spawn_blocking(move || crate::logs::stream(file.path, opts, check, tx));
    let body = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx)) });
    let mut r = Response::new(StreamBody::new(body).boxed());
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

/// The 101 response accepting a WebSocket upgrade with `protocol`.
fn switching(req: &Request<Incoming>, protocol: &str) -> Result<Response<Body>, Box<Response<Body>>> {
    let key = req.headers().get(header::SEC_WEBSOCKET_KEY).and_then(|v| v.to_str().ok()).ok_or_else(|| Box::new(status(400, "BadRequest", "missing Sec-WebSocket-Key")))?;
    let mut r = Response::new(Full::new(Bytes::new()).boxed());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    let accept = HeaderValue::from_str(&ws::accept_key(key)).map_err(|_| Box::new(status(400, "BadRequest", "bad Sec-WebSocket-Key")))?;
    h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    if let Ok(p) = HeaderValue::from_str(protocol) {
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    Ok(r)
}

fn negotiate(req: &Request<Incoming>, supported: &[&str]) -> Result<String, Box<Response<Body>>> {
    if !ws::is_upgrade(req.headers()) {
        return Err(Box::new(status(400, "BadRequest", "the kubelet api streams over websocket only (upgrade: websocket)")));
    }
    ws::choose_protocol(req.headers(), supported).ok_or_else(|| Box::new(status(400, "BadRequest", &format!("websocket subprotocol must be one of {}", supported.join(", ")))))
}

async fn remote_command(runtime: Arc<dyn NodeRuntime>, exec: bool, pod: PodRef, container: String, query: &[(String, String)], mut req: Request<Incoming>) -> Response<Body> {
    let protocol = match negotiate(&req, crate::stream::PROTOCOLS) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let opts = StreamOptions { stdin: flag(query, "stdin"), stdout: flag(query, "stdout"), stderr: flag(query, "stderr"), tty: flag(query, "tty") };
    let opts = StreamOptions { stderr: opts.stderr && !opts.tty, ..opts };
    if !opts.stdin && !opts.stdout && !opts.stderr {
        return status(400, "BadRequest", "you must specify at least 1 of stdin, stdout, stderr");
    }
    let process = if exec {
        let command: Vec<String> = query.iter().filter(|(k, _)| k == "command").map(|(_, v)| v.clone()).collect();
        if command.is_empty() {
            return status(400, "BadRequest", "you must specify a command");
        }
        runtime.exec(&pod, &container, command, opts).await
    } else {
        runtime.attach(&pod, &container, opts).await
    };
    let process = match process {
        Ok(p) => p,
        Err(e) => return runtime_error(&e),
    };
    let resp = match switching(&req, &protocol) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(up) => crate::stream::run(TokioIo::new(up), &protocol, process).await,
            Err(e) => tracing::debug!(error = %e, "exec upgrade failed"),
        }
    });
    resp
}

fn is_spdy_upgrade(h: &http::HeaderMap) -> bool {
    h.get_all(header::UPGRADE).iter().filter_map(|v| v.to_str().ok()).any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(crate::spdy::UPGRADE_TOKEN)))
}

async fn port_forward(runtime: Arc<dyn NodeRuntime>, pod: PodRef, query: &[(String, String)], mut req: Request<Incoming>) -> Response<Body> {
    // kubectl's SPDY: tunnelled through a WebSocket (its default), or on an upgraded connection.
    if ws::is_upgrade(req.headers()) && ws::choose_protocol(req.headers(), &[crate::spdy::WS_TUNNEL_PROTOCOL]).is_some() {
        let resp = match switching(&req, crate::spdy::WS_TUNNEL_PROTOCOL) {
            Ok(r) => r,
            Err(r) => return *r,
        };
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            match upgrade.await {
                Ok(up) => crate::spdy::serve_ws_tunnel(TokioIo::new(up), pod, runtime).await,
                Err(e) => tracing::debug!(error = %e, "port-forward upgrade failed"),
            }
        });
        return resp;
    }
    if is_spdy_upgrade(req.headers()) {
        let offered = req.headers().get_all("x-stream-protocol-version").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|p| p.trim() == crate::spdy::STREAM_PROTOCOL);
        if !offered {
            return status(400, "BadRequest", &format!("port-forward needs X-Stream-Protocol-Version {}", crate::spdy::STREAM_PROTOCOL));
        }
        let mut r = Response::new(Full::new(Bytes::new()).boxed());
        *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = r.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static(crate::spdy::UPGRADE_TOKEN));
        h.insert("x-stream-protocol-version", HeaderValue::from_static(crate::spdy::STREAM_PROTOCOL));
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            match upgrade.await {
                Ok(up) => crate::spdy::serve_spdy(TokioIo::new(up), pod, runtime).await,
                Err(e) => tracing::debug!(error = %e, "port-forward upgrade failed"),
            }
        });
        return r;
    }
    let protocol = match negotiate(&req, crate::portforward::PROTOCOLS) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let mut ports = Vec::new();
    for (k, v) in query.iter().filter(|(k, _)| k == "port") {
        match v.parse::<u16>() {
            Ok(p) if p > 0 => ports.push(p),
            _ => return status(400, "BadRequest", &format!("invalid {k}: {v}")),
        }
    }
    if ports.is_empty() || ports.len() > 127 {
        return status(400, "BadRequest", "query parameter \"port\" is required (at most 127 ports)");
    }
    let mut conns = Vec::new();
    for p in &ports {
        conns.push(runtime.port_forward(&pod, *p).await.map_err(|e| e.to_string()));
    }
    let resp = match switching(&req, &protocol) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(up) => crate::portforward::run(TokioIo::new(up), ports, conns).await,
            Err(e) => tracing::debug!(error = %e, "port-forward upgrade failed"),
        }
    });
    resp
}
