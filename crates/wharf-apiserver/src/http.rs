//! The REST edge: parses Kubernetes API paths and queries, authenticates and authorizes,
//! dispatches to the generic store, negotiates the output (JSON, YAML, Table,
//! PartialObjectMetadata) and streams watches. Errors become `metav1.Status` only here.

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{combinators::{BoxBody, UnsyncBoxBody}, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use wharf_api::selector::{FieldSelector, LabelSelector};

use crate::auth::{self, Attributes, TokenAuthenticator, UserInfo};
use crate::cache::{CacheEvent, CachedObject, EventKind};
use crate::discovery;
use crate::error::{ApiError, Result};
use crate::registry::{DeleteOptions, FieldValidation, ListOptions, ReadAt, Registry, Served, WriteOptions};
use crate::strategy::Part;

/// Response body type of the API server.
pub type Body = BoxBody<Bytes, Infallible>;

/// Request body type inside the API server: any transport's body, boxed (hyper's `Incoming`
/// from the listener, kube-rs's body from the in-process client).
pub type RequestBody = UnsyncBoxBody<Bytes, BoxError>;

/// A transport's body error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Largest request body accepted (kube-apiserver's limit).
pub const MAX_REQUEST_BYTES: usize = 3 * 1024 * 1024;

/// The API server of one control plane, independent of its listener.
pub struct ApiServer {
    /// The generic store.
    pub registry: Arc<Registry>,
    /// Bearer tokens.
    pub tokens: TokenAuthenticator,
    /// host:port clients reach this server at.
    pub server_address: String,
    /// Services sharing the listener, asked in order before Kubernetes routing.
    pub mounts: Vec<Arc<dyn crate::mount::Mount>>,
    /// Compiled RBAC state.
    pub rbac: auth::RbacCache,
    /// Client for the kubelet-backed pod subresources (`pods/log`, `pods/exec`, ...).
    pub kubelet: Option<Arc<crate::nodeproxy::KubeletClient>>,
    /// Asked for bearer tokens the static table does not know (set once, after start).
    pub token_reviewer: std::sync::OnceLock<Arc<dyn auth::TokenReviewer>>,
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).boxed()
}

fn respond(code: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    respond(code, "application/json", serde_json::to_vec(v).unwrap_or_default())
}

fn error_response(e: &ApiError) -> Response<Body> {
    if let ApiError::Internal(msg) = e {
        tracing::error!(error = %msg, "internal error");
    }
    json_response(e.code(), &e.status())
}

/// How the client wants objects rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Json,
    Yaml,
    Table,
    Meta,
}

fn negotiate(headers: &HeaderMap) -> Result<Output> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if accept.trim().is_empty() {
        return Ok(Output::Json);
    }
    for part in accept.split(',') {
        let p = part.trim().to_ascii_lowercase();
        let media = p.split(';').next().unwrap_or("").trim();
        let as_ = p.split(';').find_map(|x| x.trim().strip_prefix("as=").map(str::to_string));
        match (media, as_.as_deref()) {
            ("application/json" | "*/*" | "application/*", Some("table")) => return Ok(Output::Table),
            ("application/json" | "*/*" | "application/*", Some("partialobjectmetadata" | "partialobjectmetadatalist")) => return Ok(Output::Meta),
            ("application/json" | "*/*" | "application/*" | "application/json-patch+json" | "application/merge-patch+json", None) => return Ok(Output::Json),
            ("application/yaml", None) => return Ok(Output::Yaml),
            _ => continue,
        }
    }
    Err(ApiError::NotAcceptable(format!("only the following media types are accepted: application/json, application/yaml (got {accept})")))
}

fn render(out: Output, code: u16, v: &Value) -> Response<Body> {
    match out {
        Output::Yaml => respond(code, "application/yaml", serde_yaml::to_string(v).unwrap_or_default()),
        _ => json_response(code, v),
    }
}

/// A parsed resource path.
#[derive(Debug, Default, Clone)]
struct ResourcePath {
    group: String,
    version: String,
    namespace: Option<String>,
    resource: String,
    name: Option<String>,
    subresource: Option<String>,
    legacy_watch: bool,
}

fn parse_resource_path(segs: &[&str]) -> Option<ResourcePath> {
    let (group, version, rest) = match segs {
        ["api", v, rest @ ..] => (String::new(), v.to_string(), rest),
        ["apis", g, v, rest @ ..] => (g.to_string(), v.to_string(), rest),
        _ => return None,
    };
    let mut rest = rest.to_vec();
    let mut p = ResourcePath { group, version, ..Default::default() };
    if rest.first() == Some(&"watch") {
        p.legacy_watch = true;
        rest.remove(0);
    }
    match rest.as_slice() {
        [] => return None,
        ["namespaces", ns, resource, tail @ ..] if !matches!(*resource, "status" | "finalize") || !tail.is_empty() => {
            p.namespace = Some(ns.to_string());
            p.resource = resource.to_string();
            p.name = tail.first().map(|s| s.to_string());
            p.subresource = tail.get(1).map(|s| s.to_string());
            if tail.len() > 2 {
                return None;
            }
        }
        [resource, tail @ ..] => {
            p.resource = resource.to_string();
            p.name = tail.first().map(|s| s.to_string());
            p.subresource = tail.get(1).map(|s| s.to_string());
            if tail.len() > 2 {
                return None;
            }
        }
    }
    Some(p)
}

fn query_map(q: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(q.unwrap_or("").as_bytes()).into_owned().collect()
}

fn flag(q: &HashMap<String, String>, k: &str) -> bool {
    q.get(k).is_some_and(|v| v == "true" || v == "1")
}

fn read_at(q: &HashMap<String, String>) -> Result<ReadAt> {
    let rv = q.get("resourceVersion").map(String::as_str).unwrap_or("");
    let m = q.get("resourceVersionMatch").map(String::as_str).unwrap_or("");
    let parse = |s: &str| s.parse::<i64>().map_err(|_| ApiError::BadRequest(format!("invalid resource version: {s}")));
    Ok(match (rv, m) {
        ("", "") => ReadAt::Latest,
        ("", _) => return Err(ApiError::BadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided".into())),
        ("0", "" | "NotOlderThan") => ReadAt::Any,
        (v, "" | "NotOlderThan") => ReadAt::NotOlderThan(parse(v)?),
        (v, "Exact") => ReadAt::Exact(parse(v)?),
        (_, other) => return Err(ApiError::BadRequest(format!("resourceVersionMatch: Unsupported value: \"{other}\""))),
    })
}

fn list_options(q: &HashMap<String, String>) -> Result<ListOptions> {
    let labels = LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or("")).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let fields = FieldSelector::parse(q.get("fieldSelector").map(String::as_str).unwrap_or("")).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let limit = match q.get("limit") {
        Some(l) if !l.is_empty() => l.parse::<i64>().map_err(|_| ApiError::BadRequest(format!("invalid limit: {l}")))?.max(0) as usize,
        _ => 0,
    };
    let continue_token = q.get("continue").filter(|c| !c.is_empty()).cloned();
    let at = read_at(q)?;
    if continue_token.is_some() && !matches!(at, ReadAt::Latest) {
        return Err(ApiError::BadRequest("specifying resource version is not allowed when using continue".into()));
    }
    Ok(ListOptions { labels, fields, limit, continue_token, at })
}

fn write_options(q: &HashMap<String, String>, headers: &HeaderMap) -> Result<WriteOptions> {
    let dry_run = match q.get("dryRun").map(String::as_str) {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => return Err(ApiError::BadRequest(format!("Invalid dry run value: {other}, supported values: All"))),
    };
    let apply = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.starts_with("application/apply-patch"));
    let field_manager = q.get("fieldManager").filter(|m| !m.is_empty()).cloned();
    if apply && field_manager.is_none() {
        return Err(ApiError::BadRequest("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into()));
    }
    let field_manager = field_manager.or_else(|| {
        headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(wharf_api::apply::field_manager_from_user_agent).filter(|m| !m.is_empty())
    });
    if let Some(fm) = &field_manager {
        if fm.len() > 128 {
            return Err(ApiError::BadRequest("fieldManager: Too long: must have at most 128 bytes".into()));
        }
    }
    let field_validation = match q.get("fieldValidation").map(String::as_str) {
        None | Some("") | Some("Warn") => FieldValidation::Warn,
        Some("Ignore") => FieldValidation::Ignore,
        Some("Strict") => FieldValidation::Strict,
        Some(other) => return Err(ApiError::BadRequest(format!("fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""))),
    };
    Ok(WriteOptions { dry_run, field_manager, force: flag(q, "force"), field_validation, apply, warnings: Default::default() })
}

fn decode_body(headers: &HeaderMap, body: &[u8]) -> Result<Value> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("the body of the request was empty".into()));
    }
    if ct.contains("yaml") {
        return serde_yaml::from_slice(body).map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")));
    }
    if ct.contains("application/vnd.kubernetes.protobuf") {
        return wharf_proto::decode(body).map_err(|e| ApiError::BadRequest(format!("decoding protobuf body: {e}")));
    }
    if !ct.contains("json") && !ct.is_empty() && !ct.starts_with("*/*") {
        return Err(ApiError::UnsupportedMediaType(format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {ct})")));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("json: {e}")))
}

async fn read_body(mut body: RequestBody) -> Result<Bytes> {
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::BadRequest(format!("reading request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > MAX_REQUEST_BYTES {
                return Err(ApiError::TooLarge(MAX_REQUEST_BYTES));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

fn list_kind(s: &Served) -> String {
    format!("{}List", s.info.kind)
}

/// Builds a list body by splicing the cached JSON of each item.
fn list_body(s: &Served, rev: i64, cont: Option<&str>, items: &[Arc<CachedObject>]) -> Bytes {
    let mut meta = json!({"resourceVersion": rev.to_string()});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    let head = format!("{{\"kind\":{},\"apiVersion\":{},\"metadata\":{},\"items\":[", json!(list_kind(s)), json!(s.info.api_version()), meta);
    let mut out = Vec::with_capacity(head.len() + items.iter().map(|i| i.json.len() + 1).sum::<usize>() + 2);
    out.extend_from_slice(head.as_bytes());
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&it.json);
    }
    out.extend_from_slice(b"]}");
    Bytes::from(out)
}

fn partial_meta(v: &Value) -> Value {
    let mut m = v.get("metadata").cloned().unwrap_or(json!({}));
    if let Some(o) = m.as_object_mut() {
        o.remove("managedFields");
    }
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": m})
}

/// Renders objects as a `meta.k8s.io/v1` Table.
fn table(s: &Served, objs: &[Value], rev: Option<i64>, cont: Option<&str>, include: &str, headers: bool) -> Value {
    let now = SystemTime::now();
    let (columns, cells): (Vec<Value>, crate::tables::CellFn) = match &s.crd_version {
        Some(ver) => crate::tables::crd_columns(ver),
        None => {
            let (g, r) = (s.info.group.clone(), s.info.resource.clone());
            (wharf_api::table::columns(&g, &r), Box::new(move |o: &Value| wharf_api::table::cells(&g, &r, o, now)))
        }
    };
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| {
            let object = match include {
                "None" => Value::Null,
                "Object" => o.clone(),
                _ => partial_meta(o),
            };
            json!({"cells": cells(o), "object": object})
        })
        .collect();
    let mut meta = json!({});
    if let Some(r) = rev {
        meta["resourceVersion"] = json!(r.to_string());
    }
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    let mut t = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "rows": rows});
    t["columnDefinitions"] = if headers { json!(columns) } else { json!([]) };
    t
}

impl ApiServer {
    /// Handles one HTTP request. `cert_user` is the identity of a verified client certificate.
    pub fn handle<B>(self: Arc<Self>, req: Request<B>, cert_user: Option<UserInfo>) -> impl std::future::Future<Output = Response<Body>> + Send
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.handle_boxed(req.map(|b| b.map_err(|e| -> BoxError { e.into() }).boxed_unsync()), cert_user)
    }

    async fn handle_boxed(self: Arc<Self>, req: Request<RequestBody>, cert_user: Option<UserInfo>) -> Response<Body> {
        let started = std::time::Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let (head, body) = req.into_parts();
        if let Some(m) = self.mounts.iter().find(|m| m.claims(&head)) {
            return m.serve(Request::from_parts(head, body)).await;
        }
        let req = Request::from_parts(head, body);
        let resp = match self.clone().route(req, cert_user).await {
            Ok(r) => r,
            Err(e) => error_response(&e),
        };
        tracing::debug!(%method, %path, status = resp.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "request");
        resp
    }

    async fn authenticate(&self, headers: &HeaderMap, cert_user: Option<UserInfo>) -> Result<UserInfo> {
        // As kube-apiserver's union authenticator: a verified client certificate wins.
        if let Some(u) = cert_user {
            return Ok(u);
        }
        if let Some(h) = headers.get(header::AUTHORIZATION) {
            let v = h.to_str().map_err(|_| ApiError::Unauthorized)?;
            let token = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).ok_or(ApiError::Unauthorized)?.trim();
            if let Some(u) = self.tokens.authenticate(token) {
                return Ok(u);
            }
            return match self.token_reviewer.get() {
                Some(r) => r.review(token).await.ok_or(ApiError::Unauthorized),
                None => Err(ApiError::Unauthorized),
            };
        }
        Ok(UserInfo::anonymous())
    }

    /// Applies `Impersonate-User`/`Impersonate-Group` headers after checking the `impersonate` verb.
    fn impersonate(&self, headers: &HeaderMap, user: UserInfo) -> Result<UserInfo> {
        let Some(as_user) = headers.get("impersonate-user").and_then(|v| v.to_str().ok()).map(str::to_string) else {
            if headers.contains_key("impersonate-group") {
                return Err(ApiError::BadRequest("requested impersonation of groups without impersonating a user".into()));
            }
            return Ok(user);
        };
        let groups: Vec<String> = headers.get_all("impersonate-group").iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect();
        let check = |resource: &str, namespace: &str, name: &str| -> Result<()> {
            let attrs = Attributes {
                verb: "impersonate".into(),
                resource_request: true,
                resource: resource.into(),
                namespace: namespace.into(),
                name: name.into(),
                ..Default::default()
            };
            if auth::authorize(self.registry.cache(), &self.rbac, &user, &attrs) {
                Ok(())
            } else {
                Err(ApiError::Forbidden(attrs.forbidden_message(&user)))
            }
        };
        let mut as_groups: Vec<String> = Vec::new();
        match as_user.strip_prefix("system:serviceaccount:").and_then(|r| r.split_once(':')) {
            Some((ns, name)) => {
                check("serviceaccounts", ns, name)?;
                as_groups.extend(["system:serviceaccounts".to_string(), format!("system:serviceaccounts:{ns}")]);
            }
            None => check("users", "", &as_user)?,
        }
        for g in &groups {
            check("groups", "", g)?;
            as_groups.push(g.clone());
        }
        let refs: Vec<&str> = as_groups.iter().map(String::as_str).collect();
        Ok(UserInfo::new(as_user, &refs))
    }

    async fn route(self: Arc<Self>, req: Request<RequestBody>, cert_user: Option<UserInfo>) -> Result<Response<Body>> {
        let user = self.authenticate(req.headers(), cert_user).await?;
        let user = self.impersonate(req.headers(), user)?;
        let path = req.uri().path().trim_end_matches('/').to_string();
        let q = query_map(req.uri().query());
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let anonymous = user.name == "system:anonymous";
        // Non-resource endpoints.
        match segs.as_slice() {
            ["healthz" | "livez" | "readyz", ..] => return Ok(respond(200, "text/plain; charset=utf-8", "ok")),
            ["version"] => return Ok(json_response(200, &discovery::version())),
            _ => {}
        }
        if anonymous {
            return Err(ApiError::Unauthorized);
        }
        let served = self.registry.served();
        let discovery_accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let aggregated = ["v2", "v2beta1"].into_iter().find(|v| {
            discovery_accept.split(',').any(|p| p.contains("as=APIGroupDiscoveryList") && p.contains("g=apidiscovery.k8s.io") && p.contains(&format!("v={v}")))
        });
        let discovery_doc = |core: bool| -> Response<Body> {
            match aggregated {
                Some(v) => respond(
                    200,
                    &format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"),
                    serde_json::to_vec(&discovery::aggregated(&served, core, &format!("apidiscovery.k8s.io/{v}"))).unwrap_or_default(),
                ),
                None if core => json_response(200, &discovery::api_versions(&self.server_address)),
                None => json_response(200, &discovery::api_group_list(&served)),
            }
        };
        match segs.as_slice() {
            ["api"] => return Ok(discovery_doc(true)),
            ["apis"] => return Ok(discovery_doc(false)),
            ["apis", g] => return discovery::api_group(&served, g).map(|d| json_response(200, &d)).ok_or(ApiError::NoRoute),
            ["api", v] => return discovery::resource_list(&served, "", v).map(|d| json_response(200, &d)).ok_or(ApiError::NoRoute),
            ["apis", g, v] => return discovery::resource_list(&served, g, v).map(|d| json_response(200, &d)).ok_or(ApiError::NoRoute),
            ["openapi", ..] => return crate::openapi::serve(&served, &segs, &q).map(|d| json_response(200, &d)),
            _ => {}
        }
        let Some(rp) = parse_resource_path(&segs) else {
            let attrs = Attributes { verb: method_verb(req.method()).into(), path: path.clone(), ..Default::default() };
            if !auth::authorize(self.registry.cache(), &self.rbac, &user, &attrs) {
                return Err(ApiError::Forbidden(attrs.forbidden_message(&user)));
            }
            return Err(ApiError::NoRoute);
        };
        let Some(s) = self.registry.lookup(&rp.group, &rp.version, &rp.resource) else {
            return Err(ApiError::NoRoute);
        };
        if let Some(sub) = &rp.subresource {
            if !s.info.has_subresource(sub) {
                return Err(ApiError::NoRoute);
            }
        }
        if rp.namespace.is_some() && !s.info.namespaced {
            return Err(ApiError::NoRoute);
        }
        let watch = rp.legacy_watch || flag(&q, "watch");
        let verb = match (req.method().clone(), rp.name.is_some()) {
            (Method::GET, _) if watch => "watch",
            (Method::GET, true) => "get",
            (Method::GET, false) => "list",
            (Method::POST, _) => "create",
            (Method::PUT, _) => "update",
            (Method::PATCH, _) => "patch",
            (Method::DELETE, true) => "delete",
            (Method::DELETE, false) => "deletecollection",
            (m, _) => return Err(ApiError::MethodNotAllowed(format!("the server does not allow this method on the requested resource: {m}"))),
        };
        // Streaming pod subresources are authorized as `create` whatever the method (a
        // WebSocket upgrade is a GET), as kube-apiserver does since 1.30.
        let kubelet_sub = rp.group.is_empty() && rp.resource == "pods" && rp.subresource.as_deref().is_some_and(|s| crate::nodeproxy::SUBRESOURCES.contains(&s));
        let verb = if kubelet_sub && rp.subresource.as_deref() != Some("log") { "create" } else { verb };
        let attrs = Attributes {
            verb: verb.into(),
            resource_request: true,
            api_group: rp.group.clone(),
            resource: rp.resource.clone(),
            subresource: rp.subresource.clone().unwrap_or_default(),
            namespace: rp.namespace.clone().unwrap_or_default(),
            name: rp.name.clone().unwrap_or_default(),
            path: path.clone(),
        };
        if !auth::authorize(self.registry.cache(), &self.rbac, &user, &attrs) {
            return Err(ApiError::Forbidden(attrs.forbidden_message(&user)));
        }
        if let (true, Some(ns), Some(name), Some(sub)) = (kubelet_sub, rp.namespace.as_deref(), rp.name.as_deref(), rp.subresource.as_deref()) {
            return crate::nodeproxy::serve(&self.registry, self.kubelet.as_deref(), ns, name, sub, req).await;
        }
        let out = negotiate(req.headers())?;
        let (parts, body) = req.into_parts();
        let ns = rp.namespace.as_deref();
        let name = rp.name.clone().unwrap_or_default();
        let sub = rp.subresource.as_deref();
        match verb {
            "watch" => self.watch(&s, ns, rp.name.as_deref(), &q, out).await,
            "list" => self.list(&s, ns, &q, out).await,
            "get" => self.get(&s, ns, &name, sub, &q, out).await,
            "create" if wharf_api::resources::REVIEW_GROUPS.contains(&s.info.group.as_str()) => {
                let body = read_body(body).await?;
                let obj = decode_body(&parts.headers, &body)?;
                Ok(json_response(201, &self.review(&s, &user, ns, obj)?))
            }
            _ if wharf_api::resources::REVIEW_GROUPS.contains(&s.info.group.as_str()) => {
                Err(ApiError::MethodNotAllowed(format!("{verb} is not supported on {}", s.info.resource)))
            }
            "create" => {
                let body = read_body(body).await?;
                let obj = decode_body(&parts.headers, &body)?;
                let opts = write_options(&q, &parts.headers)?;
                match (sub, rp.name.as_deref()) {
                    (Some("binding"), Some(n)) => self.bind(&s, ns, n, obj, &opts).await,
                    (Some("eviction"), Some(n)) => self.evict(&s, ns, n, obj, &opts).await,
                    (None, None) => {
                        let created = self.registry.create(&s, ns, obj, &opts).await?;
                        Ok(with_warnings(self.render_object(&s, out, 201, created, &q), &opts))
                    }
                    _ => Err(ApiError::MethodNotAllowed("the server does not allow this method on the requested resource".into())),
                }
            }
            "update" => {
                let body = read_body(body).await?;
                let obj = decode_body(&parts.headers, &body)?;
                let opts = write_options(&q, &parts.headers)?;
                let v = match sub {
                    None => self.registry.update(&s, ns, &name, obj, Part::Main, &opts).await?,
                    Some("status") => self.registry.update(&s, ns, &name, obj, Part::Status, &opts).await?,
                    Some("finalize") => self.finalize(&s, &name, obj, &opts).await?,
                    Some("scale") => crate::subresources::update_scale(&self.registry, &s, ns, &name, obj, &opts).await?,
                    Some(_) => return Err(ApiError::MethodNotAllowed("the server does not allow this method on the requested resource".into())),
                };
                Ok(with_warnings(self.render_object(&s, out, 200, v, &q), &opts))
            }
            "patch" => {
                let body = read_body(body).await?;
                let ct = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let opts = write_options(&q, &parts.headers)?;
                let (v, created) = crate::subresources::patch(&self.registry, &s, ns, &name, sub, &ct, &body, &opts).await?;
                Ok(with_warnings(self.render_object(&s, out, if created { 201 } else { 200 }, v, &q), &opts))
            }
            "delete" => {
                let body = read_body(body).await?;
                let opts = delete_options(&parts.headers, &body, &q)?;
                let v = self.registry.delete(&s, ns, &name, &opts).await?;
                Ok(render(out, 200, &v))
            }
            "deletecollection" => {
                let body = read_body(body).await?;
                let opts = delete_options(&parts.headers, &body, &q)?;
                let lo = list_options(&q)?;
                let items = self.registry.delete_collection(&s, ns, &lo, &opts).await?;
                let rev = self.registry.cache().revision();
                Ok(render(out, 200, &json!({"kind": list_kind(&s), "apiVersion": s.info.api_version(), "metadata": {"resourceVersion": rev.to_string()}, "items": items})))
            }
            _ => Err(ApiError::NoRoute),
        }
    }

    /// Answers access reviews (`kubectl auth can-i`) and self reviews (`kubectl auth whoami`).
    fn review(&self, s: &Served, user: &UserInfo, ns: Option<&str>, mut obj: Value) -> Result<Value> {
        if s.info.kind == "SelfSubjectReview" {
            obj["status"] = json!({"userInfo": {"username": user.name, "groups": user.groups}});
            return Ok(obj);
        }
        let spec = obj.get("spec").cloned().unwrap_or_default();
        let subject = match s.info.kind.as_str() {
            "SelfSubjectAccessReview" => user.clone(),
            _ => {
                let name = spec.get("user").and_then(Value::as_str).unwrap_or_default();
                let groups: Vec<&str> = spec.get("groups").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                UserInfo::new(name, &groups)
            }
        };
        let attrs = match (spec.get("resourceAttributes"), spec.get("nonResourceAttributes")) {
            (Some(r), _) => {
                let f = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                let namespace = if s.info.kind == "LocalSubjectAccessReview" { ns.unwrap_or_default().to_string() } else { f("namespace") };
                Attributes {
                    verb: f("verb"),
                    resource_request: true,
                    api_group: f("group"),
                    resource: f("resource"),
                    subresource: f("subresource"),
                    namespace,
                    name: f("name"),
                    path: String::new(),
                }
            }
            (None, Some(n)) => Attributes {
                verb: n.get("verb").and_then(Value::as_str).unwrap_or_default().to_string(),
                path: n.get("path").and_then(Value::as_str).unwrap_or_default().to_string(),
                ..Default::default()
            },
            (None, None) => {
                return Err(ApiError::Invalid {
                    group: s.info.group.clone(),
                    kind: s.info.kind.clone(),
                    name: String::new(),
                    errors: vec![wharf_api::FieldError::invalid("spec.resourceAttributes", Value::Null, "exactly one of nonResourceAttributes or resourceAttributes must be specified")],
                })
            }
        };
        let allowed = auth::authorize(self.registry.cache(), &self.rbac, &subject, &attrs);
        obj["status"] = if allowed {
            json!({"allowed": true, "reason": "RBAC: allowed"})
        } else {
            json!({"allowed": false})
        };
        Ok(obj)
    }

    fn render_object(&self, s: &Served, out: Output, code: u16, v: Value, q: &HashMap<String, String>) -> Response<Body> {
        match out {
            Output::Table => json_response(code, &table(s, std::slice::from_ref(&v), None, None, q.get("includeObject").map(String::as_str).unwrap_or("Metadata"), !flag(q, "noHeaders"))),
            Output::Meta => json_response(code, &partial_meta(&v)),
            _ => render(out, code, &v),
        }
    }

    async fn get(&self, s: &Served, ns: Option<&str>, name: &str, sub: Option<&str>, q: &HashMap<String, String>, out: Output) -> Result<Response<Body>> {
        let at = read_at(q)?;
        let obj = self.registry.get(s, ns, name, at).await?;
        match sub {
            Some("scale") => Ok(json_response(200, &crate::subresources::scale_of(s, &obj.value()?)?)),
            _ if out == Output::Json => Ok(respond(200, "application/json", obj.json.clone())),
            _ => Ok(self.render_object(s, out, 200, obj.value()?, q)),
        }
    }

    async fn list(&self, s: &Served, ns: Option<&str>, q: &HashMap<String, String>, out: Output) -> Result<Response<Body>> {
        let opts = list_options(q)?;
        let r = self.registry.list(s, ns, &opts).await?;
        match out {
            Output::Json => Ok(respond(200, "application/json", list_body(s, r.rev, r.continue_token.as_deref(), &r.items))),
            Output::Table => {
                let objs: Vec<Value> = r.items.iter().filter_map(|o| o.value().ok()).collect();
                let include = q.get("includeObject").map(String::as_str).unwrap_or("Metadata");
                Ok(json_response(200, &table(s, &objs, Some(r.rev), r.continue_token.as_deref(), include, !flag(q, "noHeaders"))))
            }
            Output::Meta => {
                let items: Vec<Value> = r.items.iter().filter_map(|o| o.value().ok()).map(|v| partial_meta(&v)).collect();
                let mut meta = json!({"resourceVersion": r.rev.to_string()});
                if let Some(c) = &r.continue_token {
                    meta["continue"] = json!(c);
                }
                Ok(json_response(200, &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items})))
            }
            Output::Yaml => {
                let v: Value = serde_json::from_slice(&list_body(s, r.rev, r.continue_token.as_deref(), &r.items)).unwrap_or_default();
                Ok(render(out, 200, &v))
            }
        }
    }

    async fn finalize(&self, s: &Served, name: &str, obj: Value, opts: &WriteOptions) -> Result<Value> {
        let fins = obj.pointer("/spec/finalizers").cloned();
        self.registry
            .guaranteed_update(s, None, name, None, opts, |old| {
                let mut new = old.clone();
                match &fins {
                    Some(f) => new["spec"]["finalizers"] = f.clone(),
                    None => {
                        if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                            spec.remove("finalizers");
                        }
                    }
                }
                Ok(new)
            }, Part::Main)
            .await
    }

    async fn bind(&self, s: &Served, ns: Option<&str>, name: &str, binding: Value, opts: &WriteOptions) -> Result<Response<Body>> {
        let node = binding.pointer("/target/name").and_then(Value::as_str).unwrap_or_default().to_string();
        if node.is_empty() {
            return Err(ApiError::Invalid {
                group: String::new(),
                kind: "Binding".into(),
                name: name.into(),
                errors: vec![wharf_api::FieldError::required("target.name", "")],
            });
        }
        crate::subresources::bind(&self.registry, s, ns, name, &node, opts).await?;
        Ok(json_response(201, &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})))
    }

    async fn evict(&self, s: &Served, ns: Option<&str>, name: &str, eviction: Value, opts: &WriteOptions) -> Result<Response<Body>> {
        crate::subresources::evict(&self.registry, s, ns, name, &eviction, opts).await?;
        Ok(json_response(201, &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})))
    }

    async fn watch(&self, s: &Served, ns: Option<&str>, name: Option<&str>, q: &HashMap<String, String>, out: Output) -> Result<Response<Body>> {
        let mut opts = list_options(q)?;
        crate::registry::check_field_selector(s, &opts.fields)?;
        if let Some(n) = name {
            opts.fields.terms.push(("metadata.name".into(), n.to_string(), false));
        }
        let rv = q.get("resourceVersion").map(String::as_str).unwrap_or("");
        let send_initial = match q.get("sendInitialEvents").map(String::as_str) {
            Some("true") => true,
            Some(_) => false,
            None => rv.is_empty() || rv == "0",
        };
        let from: i64 = if rv.is_empty() || rv == "0" { 0 } else { rv.parse().map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv}")))? };
        if rv.is_empty() && send_initial {
            self.registry.cache().sync().await?;
        }
        let prefix = match ns {
            Some(n) => s.info.namespace_prefix(n),
            None => s.info.key_prefix(),
        };
        let bookmarks = flag(q, "allowWatchBookmarks");
        let initial_end_bookmark = q.get("sendInitialEvents").map(String::as_str) == Some("true");
        let timeout = q.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).unwrap_or(1800).min(3600);
        let include = q.get("includeObject").cloned().unwrap_or_else(|| "Metadata".into());
        let (tx, rx) = mpsc::channel::<Bytes>(64);
        let reg = self.registry.clone();
        let s = s.clone();
        let watch = match reg.cache().watch_with_snapshot(&prefix, from, send_initial) {
            Ok(w) => w,
            Err(e @ ApiError::Gone(_)) => {
                // Kubernetes reports an expired watch as an ERROR event on a 200 stream.
                let line = format!("{}\n", json!({"type": "ERROR", "object": e.status()}));
                return Ok(respond(200, "application/json;stream=watch", line));
            }
            Err(e) => return Err(e),
        };
        tokio::spawn(async move {
            let mut w = WatchSender { tx, s: &s, opts: &opts, out, include: &include, first: true };
            let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
            let mut last_rev = watch.rev.max(from);
            for o in &watch.snapshot {
                if w.matches(o) && !w.send_object(EventKind::Added, o).await {
                    return;
                }
            }
            if initial_end_bookmark && !w.bookmark(last_rev, true).await {
                return;
            }
            for ev in &watch.backlog {
                if !w.send_event(ev).await {
                    return;
                }
                last_rev = last_rev.max(ev.rev);
            }
            let mut rx = watch.rx;
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            tick.tick().await;
            loop {
                tokio::select! {
                    ev = rx.recv() => match ev {
                        Some(ev) => {
                            if ev.rev <= from {
                                continue;
                            }
                            last_rev = last_rev.max(ev.rev);
                            if !w.send_event(&ev).await {
                                return;
                            }
                        }
                        None => return,
                    },
                    _ = tick.tick(), if bookmarks => {
                        let rev = reg.cache().revision();
                        if rx.is_empty() && rev > last_rev {
                            last_rev = rev;
                        }
                        if !w.bookmark(last_rev, false).await {
                            return;
                        }
                    }
                    _ = tokio::time::sleep_until(deadline) => {
                        if bookmarks {
                            w.bookmark(last_rev, false).await;
                        }
                        return;
                    }
                    _ = w.tx.closed() => return,
                }
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx)) });
        let mut r = Response::new(StreamBody::new(stream).boxed());
        r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json;stream=watch"));
        Ok(r)
    }
}

/// Renders and sends watch events for one watcher.
struct WatchSender<'a> {
    tx: mpsc::Sender<Bytes>,
    s: &'a Served,
    opts: &'a ListOptions,
    out: Output,
    include: &'a str,
    first: bool,
}

impl WatchSender<'_> {
    fn matches(&self, o: &CachedObject) -> bool {
        if !self.opts.labels.is_empty() && !self.opts.labels.matches(o.labels.as_ref()) {
            return false;
        }
        if !self.opts.fields.is_empty() {
            return o.value().map(|v| self.s.strategy.fields_match(&self.opts.fields, &v)).unwrap_or(false);
        }
        true
    }

    async fn send_event(&mut self, ev: &CacheEvent) -> bool {
        let now = self.matches(&ev.obj);
        let before = ev.prev.as_ref().is_some_and(|p| self.matches(p));
        let kind = match (ev.kind, now, before) {
            (EventKind::Added, true, _) => EventKind::Added,
            (EventKind::Modified, true, true) => EventKind::Modified,
            (EventKind::Modified, true, false) => EventKind::Added,
            (EventKind::Modified, false, true) => EventKind::Deleted,
            (EventKind::Deleted, true, _) | (EventKind::Deleted, _, true) => EventKind::Deleted,
            _ => return true,
        };
        self.send_object(kind, &ev.obj).await
    }

    async fn send_object(&mut self, kind: EventKind, o: &CachedObject) -> bool {
        let converted = self.s.strategy.to_served_cached(o);
        let o = converted.as_ref().unwrap_or(o);
        let line = match self.out {
            Output::Json | Output::Yaml => {
                let mut b = Vec::with_capacity(o.json.len() + 32);
                b.extend_from_slice(format!("{{\"type\":\"{}\",\"object\":", kind.as_str()).as_bytes());
                b.extend_from_slice(&o.json);
                b.extend_from_slice(b"}\n");
                Bytes::from(b)
            }
            Output::Table => {
                let Ok(v) = o.value() else { return true };
                let t = table(self.s, &[v], Some(o.rev), None, self.include, self.first);
                self.first = false;
                Bytes::from(format!("{}\n", json!({"type": kind.as_str(), "object": t})))
            }
            Output::Meta => {
                let Ok(v) = o.value() else { return true };
                Bytes::from(format!("{}\n", json!({"type": kind.as_str(), "object": partial_meta(&v)})))
            }
        };
        self.tx.send(line).await.is_ok()
    }

    async fn bookmark(&mut self, rev: i64, initial_end: bool) -> bool {
        let mut meta = json!({"resourceVersion": rev.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = match self.out {
            Output::Table => json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": [], "rows": []}),
            Output::Meta => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}),
            _ => json!({"kind": self.s.info.kind, "apiVersion": self.s.info.api_version(), "metadata": meta}),
        };
        self.tx.send(Bytes::from(format!("{}\n", json!({"type": "BOOKMARK", "object": obj})))).await.is_ok()
    }
}

/// Adds `Warning: 299 - "..."` headers for the warnings a write produced.
fn with_warnings(mut r: Response<Body>, opts: &WriteOptions) -> Response<Body> {
    if let Ok(ws) = opts.warnings.lock() {
        for w in ws.iter() {
            let v = format!("299 - {}", serde_json::Value::String(w.clone()));
            if let Ok(h) = header::HeaderValue::from_str(&v) {
                r.headers_mut().append(header::WARNING, h);
            }
        }
    }
    r
}

fn method_verb(m: &Method) -> &'static str {
    match *m {
        Method::GET | Method::HEAD => "get",
        Method::POST => "post",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "get",
    }
}

fn delete_options(headers: &HeaderMap, body: &[u8], q: &HashMap<String, String>) -> Result<DeleteOptions> {
    let mut o = DeleteOptions::default();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let v = decode_body(headers, body)?;
        o.grace_period_seconds = v.get("gracePeriodSeconds").and_then(Value::as_i64);
        o.propagation_policy = v.get("propagationPolicy").and_then(Value::as_str).map(str::to_string);
        o.uid = v.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_string);
        o.resource_version = v.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(str::to_string);
        o.dry_run = v.get("dryRun").and_then(Value::as_array).is_some_and(|a| a.iter().any(|x| x == "All"));
        if v.get("orphanDependents").and_then(Value::as_bool) == Some(true) && o.propagation_policy.is_none() {
            o.propagation_policy = Some("Orphan".into());
        }
    }
    if let Some(g) = q.get("gracePeriodSeconds") {
        o.grace_period_seconds = Some(g.parse().map_err(|_| ApiError::BadRequest(format!("invalid gracePeriodSeconds: {g}")))?);
    }
    if let Some(p) = q.get("propagationPolicy") {
        o.propagation_policy = Some(p.clone());
    }
    if let Some(p) = &o.propagation_policy {
        if !matches!(p.as_str(), "Orphan" | "Background" | "Foreground") {
            return Err(ApiError::BadRequest(format!("propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\"")));
        }
    }
    if q.get("dryRun").map(String::as_str) == Some("All") {
        o.dry_run = true;
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_into_group_version_namespace_resource_name_and_subresource() {
        let p = parse_resource_path(&["apis", "apps", "v1", "namespaces", "ns", "deployments", "web", "scale"]).unwrap();
        assert_eq!((p.group.as_str(), p.namespace.as_deref(), p.resource.as_str(), p.name.as_deref(), p.subresource.as_deref()), ("apps", Some("ns"), "deployments", Some("web"), Some("scale")));
        let p = parse_resource_path(&["api", "v1", "namespaces", "kube-system"]).unwrap();
        assert_eq!((p.resource.as_str(), p.name.as_deref(), p.namespace), ("namespaces", Some("kube-system"), None));
        let p = parse_resource_path(&["api", "v1", "namespaces", "x", "finalize"]).unwrap();
        assert_eq!((p.resource.as_str(), p.name.as_deref(), p.subresource.as_deref()), ("namespaces", Some("x"), Some("finalize")));
        let p = parse_resource_path(&["api", "v1", "watch", "namespaces", "d", "pods"]).unwrap();
        assert!(p.legacy_watch);
        assert_eq!(p.namespace.as_deref(), Some("d"));
    }

    #[test]
    fn kubectl_table_accept_header_negotiates_table() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, header::HeaderValue::from_static("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"));
        assert_eq!(negotiate(&h).ok(), Some(Output::Table));
        h.insert(header::ACCEPT, header::HeaderValue::from_static("application/vnd.kubernetes.protobuf"));
        assert!(negotiate(&h).is_err());
    }
}
