//! The front door: recognizes an AWS request, finds its service and operation, verifies
//! SigV4, runs the operation and envelopes the result.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited};

use crate::error::{AuthFailure, AwsError};
use crate::protocol::Protocol;
use crate::query::QueryParams;
use crate::service::{Caller, Identity, Input, RequestContext, Service};
use crate::sigv4;
use crate::time::now_unix;

/// The response body type.
pub type Body = BoxBody<Bytes, Infallible>;

/// Largest request body accepted by default.
pub const DEFAULT_MAX_BODY: usize = 32 * 1024 * 1024;

/// The client address, put in request extensions by the listener (for `aws:SourceIp`).
#[derive(Debug, Clone, Copy)]
pub struct RemoteAddr(pub SocketAddr);

fn is_form(parts: &http::request::Parts) -> bool {
    parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// Whether a request is AWS-shaped: it carries SigV4 (header or presigned query), an
/// `X-Amz-Target`, or is a `POST /` form (unsigned query-protocol calls).
pub fn is_aws_request(parts: &http::request::Parts) -> bool {
    sigv4::is_signed(parts)
        || parts.headers.contains_key("x-amz-target")
        || (parts.method == Method::POST && parts.uri.path() == "/" && is_form(parts))
        || (parts.method == Method::GET && parts.uri.path() == "/" && {
            let q = sigv4::query_pairs(parts.uri.query().unwrap_or(""));
            q.iter().any(|(k, _)| k == "Action") && q.iter().any(|(k, _)| k == "Version")
        })
}

/// The AWS endpoint: a set of services and the identity provider.
pub struct FrontDoor {
    services: Vec<Arc<dyn Service>>,
    identity: Arc<dyn Identity>,
    default_region: String,
    max_body: usize,
}

impl std::fmt::Debug for FrontDoor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontDoor")
            .field("services", &self.services.iter().map(|s| s.signing_name()).collect::<Vec<_>>())
            .field("default_region", &self.default_region)
            .finish()
    }
}

struct Routed {
    service: Arc<dyn Service>,
    operation: String,
    input: Input,
}

/// The protocol of a request that matched no service, for its error envelope.
fn fallback_protocol(form: bool) -> Protocol {
    if form {
        Protocol::Query { version: "", xmlns: "" }
    } else {
        Protocol::Json { json_version: "1.1", target_prefix: "", query_compatible: false }
    }
}

impl FrontDoor {
    /// A front door without services.
    pub fn new(identity: Arc<dyn Identity>, default_region: impl Into<String>) -> Self {
        Self { services: Vec::new(), identity, default_region: default_region.into(), max_body: DEFAULT_MAX_BODY }
    }

    /// Registers a service.
    pub fn register(mut self, service: Arc<dyn Service>) -> Self {
        self.services.push(service);
        self
    }

    /// Sets the largest accepted request body.
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The identity provider.
    pub fn identity(&self) -> &Arc<dyn Identity> {
        &self.identity
    }

    /// Serves one request.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (parts, body) = req.into_parts();
        let form = is_form(&parts);
        let body = match Limited::new(body, self.max_body).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                let err = if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                    AwsError::new(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", "Request body is too large")
                } else {
                    AwsError::bad_request("MalformedInput", format!("could not read the request body: {e}"))
                };
                return into_body(fallback_protocol(form).error_response(&err, &request_id));
            }
        };
        into_body(self.handle_bytes(&parts, body, request_id).await)
    }

    /// Serves one request whose body is already read.
    pub async fn handle_bytes(&self, parts: &http::request::Parts, body: Bytes, request_id: String) -> Response<Bytes> {
        let signed = sigv4::parse(parts);
        let scope_service = signed.as_ref().ok().and_then(|s| s.as_ref()).map(|s| s.service.clone());
        let routed = match self.route(parts, &body, scope_service.as_deref()) {
            Ok(r) => r,
            Err((protocol, err)) => return protocol.error_response(&err, &request_id),
        };
        let protocol = routed.service.protocol();
        let now = now_unix();
        let signed = match signed {
            Ok(s) => s,
            Err(f) => return protocol.error_response(&protocol.auth_error(&f), &request_id),
        };
        let (caller, region) = match signed {
            None if routed.service.is_unauthenticated(&routed.operation) => (Caller::anonymous(), self.default_region.clone()),
            None => return protocol.error_response(&protocol.auth_error(&AuthFailure::Missing), &request_id),
            Some(s) => match self.authenticate(parts, &s, &body, routed.service.signing_name(), now).await {
                Ok(c) => (c, s.region.clone()),
                Err(e) => return protocol.error_response(&e.into_aws(&protocol), &request_id),
            },
        };
        if !routed.service.has_operation(&routed.operation) {
            return protocol.error_response(&protocol.unknown_operation(&routed.operation), &request_id);
        }
        let ctx = RequestContext {
            request_id: request_id.clone(),
            caller,
            region,
            operation: routed.operation.clone(),
            source_ip: parts.extensions.get::<RemoteAddr>().map(|a| a.0.ip()),
            identity: self.identity.clone(),
            now,
        };
        tracing::debug!(service = routed.service.signing_name(), operation = %routed.operation, caller = %ctx.caller.arn, "aws call");
        match routed.service.call(&ctx, &routed.operation, routed.input).await {
            Ok(out) => protocol.success_response(&routed.operation, out, &request_id),
            Err(e) => protocol.error_response(&e, &request_id),
        }
    }

    /// Verifies a parsed signature and resolves the caller.
    pub async fn authenticate(
        &self,
        parts: &http::request::Parts,
        signed: &sigv4::SignedRequest,
        body: &[u8],
        expected_service: &str,
        now: i64,
    ) -> Result<Caller, AuthError> {
        let cred = match self.identity.credential(&signed.access_key_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Err(AuthError::Auth(AuthFailure::InvalidToken)),
            Err(e) => return Err(AuthError::Service(e)),
        };
        if let Some(tok) = &cred.session_token {
            if signed.security_token.as_deref() != Some(tok.as_str()) {
                return Err(AuthError::Auth(AuthFailure::InvalidToken));
            }
        }
        if signed.service != expected_service {
            return Err(AuthError::Auth(AuthFailure::SignatureMismatch(format!(
                "Credential should be scoped to correct service: '{expected_service}'. "
            ))));
        }
        sigv4::verify(parts, signed, body, &cred.secret_access_key, now).map_err(AuthError::Auth)?;
        if cred.expires_at.is_some_and(|e| e <= now) {
            return Err(AuthError::Auth(AuthFailure::ExpiredToken));
        }
        Ok(cred.caller)
    }

    fn route(
        &self,
        parts: &http::request::Parts,
        body: &Bytes,
        scope_service: Option<&str>,
    ) -> Result<Routed, (Protocol, AwsError)> {
        let form = is_form(parts);
        if let Some(target) = parts.headers.get("x-amz-target") {
            let target = target.to_str().unwrap_or_default();
            let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
            let svc = self.services.iter().find(|s| {
                matches!(s.protocol(), Protocol::Json { target_prefix, .. } if target_prefix == prefix)
            });
            let Some(svc) = svc else {
                let p = fallback_protocol(false);
                return Err((p, p.unknown_operation(target)));
            };
            let input = if body.is_empty() {
                serde_json::json!({})
            } else {
                match serde_json::from_slice::<serde_json::Value>(body) {
                    Ok(v) if v.is_object() => v,
                    _ => {
                        return Err((
                            svc.protocol(),
                            AwsError::bad_request("SerializationException", "Start of structure or map found where not expected."),
                        ))
                    }
                }
            };
            return Ok(Routed { service: svc.clone(), operation: op.to_string(), input: Input::Json(input) });
        }
        let mut params = if parts.method == Method::POST && form {
            QueryParams::parse(body)
        } else if parts.method == Method::GET || parts.method == Method::POST {
            let mut q = QueryParams::parse(parts.uri.query().unwrap_or("").as_bytes());
            q.0.retain(|(k, _)| !k.starts_with("X-Amz-"));
            q
        } else {
            QueryParams::default()
        };
        if parts.method == Method::POST && form {
            // Query parameters may also sit in the URL of a POST.
            for (k, v) in QueryParams::parse(parts.uri.query().unwrap_or("").as_bytes()).0 {
                if !k.starts_with("X-Amz-") && params.get(&k).is_none() {
                    params.0.push((k, v));
                }
            }
        }
        if let Some(action) = params.get("Action").map(str::to_string) {
            let version = params.get("Version").unwrap_or_default().to_string();
            let by_version = |s: &&Arc<dyn Service>| match s.protocol() {
                Protocol::Query { version: v, .. } | Protocol::Ec2 { version: v, .. } => v == version,
                _ => false,
            };
            let candidates: Vec<&Arc<dyn Service>> = self.services.iter().filter(by_version).collect();
            let svc = candidates
                .iter()
                .find(|s| Some(s.signing_name()) == scope_service)
                .or_else(|| candidates.first())
                .copied();
            let Some(svc) = svc else {
                // Unknown version: answer in the shape of the service the signature names, if any.
                let p = self
                    .services
                    .iter()
                    .find(|s| Some(s.signing_name()) == scope_service)
                    .map(|s| s.protocol())
                    .unwrap_or(fallback_protocol(true));
                return Err((
                    p,
                    AwsError::bad_request("InvalidAction", format!("Could not find operation {action} for version {version}")),
                ));
            };
            params.0.retain(|(k, _)| k != "Action" && k != "Version");
            return Ok(Routed { service: svc.clone(), operation: action, input: Input::Query(params) });
        }
        let path = parts.uri.path();
        let mut rest: Vec<(&Arc<dyn Service>, String)> = self
            .services
            .iter()
            .filter(|s| s.protocol() == Protocol::RestJson)
            .filter_map(|s| s.resolve_rest(&parts.method, path).map(|op| (s, op)))
            .collect();
        if rest.len() > 1 {
            if let Some(i) = rest.iter().position(|(s, _)| Some(s.signing_name()) == scope_service) {
                rest = vec![rest.swap_remove(i)];
            }
        }
        if let Some((svc, op)) = rest.into_iter().next() {
            return Ok(Routed {
                service: svc.clone(),
                operation: op,
                input: Input::Rest {
                    method: parts.method.clone(),
                    path: path.to_string(),
                    query: sigv4::query_pairs(parts.uri.query().unwrap_or("")),
                    headers: parts.headers.clone(),
                    body: body.clone(),
                },
            });
        }
        if form {
            let p = self
                .services
                .iter()
                .find(|s| Some(s.signing_name()) == scope_service)
                .map(|s| s.protocol())
                .unwrap_or(fallback_protocol(true));
            return Err((p, AwsError::bad_request("MissingAction", "Missing Action")));
        }
        let p = fallback_protocol(false);
        Err((p, AwsError::new(StatusCode::NOT_FOUND, "UnknownOperationException", format!("Unknown operation {} {path}", parts.method))))
    }
}

/// Why [`FrontDoor::authenticate`] failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The signature or credentials were rejected.
    #[error(transparent)]
    Auth(AuthFailure),
    /// The identity provider failed.
    #[error(transparent)]
    Service(AwsError),
}

impl AuthError {
    /// The AWS error in the protocol's vocabulary.
    pub fn into_aws(self, protocol: &Protocol) -> AwsError {
        match self {
            AuthError::Auth(f) => protocol.auth_error(&f),
            AuthError::Service(e) => e,
        }
    }
}

fn into_body(r: Response<Bytes>) -> Response<Body> {
    r.map(|b| Full::new(b).boxed())
}

/// Serves the front door over plain HTTP/1.1 on `listener` until `shutdown` completes
/// (for tests and loopback use; Wharf's main listener mounts [`FrontDoor::handle`]).
/// Open connections are closed when it returns.
pub async fn serve<F>(listener: tokio::net::TcpListener, front_door: Arc<FrontDoor>, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()>,
{
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let fd = front_door.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                        let fd = fd.clone();
                        req.extensions_mut().insert(RemoteAddr(peer));
                        async move { Ok::<_, Infallible>(fd.handle(req).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await {
                        tracing::debug!(error = %e, "aws connection ended");
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
    Ok(())
}
