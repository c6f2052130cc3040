//! The registry client: OCI Distribution / Docker Registry v2 over HTTP and HTTPS, with
//! anonymous, Basic and bearer-token authentication and streaming, verified blob downloads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::AsyncWriteExt;

use crate::auth::{parse_challenges, Credentials};
use crate::digest::{Digest, Verifier};
use crate::error::{Error, Result};
use crate::manifest::{parse_manifest, ManifestKind, MANIFEST_ACCEPT};
use crate::reference::Reference;

/// Manifests larger than this are refused (the distribution spec suggests 4 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
const MAX_REDIRECTS: usize = 5;

/// How the client connects.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// PEM bundles of extra CA certificates to trust.
    pub extra_ca_pem: Vec<Vec<u8>>,
    /// Trust the system's CA certificates too.
    pub system_roots: bool,
    /// Registries (`host[:port]`) spoken to over plain HTTP. Loopback registries are tried
    /// over HTTPS first and fall back to HTTP, as Docker does.
    pub insecure_registries: Vec<String>,
    /// Longest wait for the next chunk of a response.
    pub idle_timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            extra_ca_pem: Vec::new(),
            system_roots: true,
            insecure_registries: Vec::new(),
            idle_timeout: Duration::from_secs(60),
            user_agent: concat!("wharf/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// A registry client shared by all pulls of a node; cheap to clone.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: HttpClient,
    config: ClientConfig,
    /// `registry` → `http` for registries found to speak plain HTTP.
    schemes: Mutex<HashMap<String, &'static str>>,
    /// `registry/repository` → the last Authorization header that worked.
    auth_cache: Mutex<HashMap<String, String>>,
}

/// A manifest as fetched, with its verified digest.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The digest of `body`.
    pub digest: Digest,
    /// The raw bytes (what the digest covers).
    pub body: Bytes,
    /// The parsed content.
    pub kind: ManifestKind,
}

/// Authentication state for the pulls of one repository with a given set of credentials.
pub struct Session {
    reference: Reference,
    candidates: Vec<Option<Credentials>>,
    current: usize,
    authorization: Option<String>,
}

impl Session {
    /// A session for `reference` trying `creds` in order (anonymous when empty).
    pub fn new(reference: &Reference, creds: Vec<Credentials>) -> Session {
        let candidates = if creds.is_empty() { vec![None] } else { creds.into_iter().map(Some).collect() };
        Session { reference: reference.clone(), candidates, current: 0, authorization: None }
    }

    /// The auth cache is per repository *and* credential, so a token or header obtained with
    /// one pod's pull secret is never reused for a pull without it.
    fn cache_key(&self) -> String {
        let who = match self.candidates.get(self.current) {
            Some(Some(c)) => Digest::sha256_of(format!("{}\0{}", c.username, c.password).as_bytes()).to_string(),
            _ => "anonymous".to_string(),
        };
        format!("{}|{who}", self.reference.name())
    }
}

impl RegistryClient {
    /// Builds a client (loads the CA bundles once).
    pub fn new(config: ClientConfig) -> Result<RegistryClient> {
        let mut roots = rustls::RootCertStore::empty();
        if config.system_roots {
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                // Unparseable system certificates are skipped, as every TLS client does.
                let _ = roots.add(cert);
            }
        }
        for pem in &config.extra_ca_pem {
            let mut found = false;
            for cert in rustls_pemfile::certs(&mut &pem[..]) {
                let cert = cert.map_err(|e| Error::Tls(format!("reading CA bundle: {e}")))?;
                roots.add(cert).map_err(|e| Error::Tls(format!("adding CA certificate: {e}")))?;
                found = true;
            }
            if !found {
                return Err(Error::Tls("CA bundle has no certificates".into()));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(30)));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(https);
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                http: client,
                config,
                schemes: Mutex::new(HashMap::new()),
                auth_cache: Mutex::new(HashMap::new()),
            }),
        })
    }

    fn scheme_for(&self, registry: &str) -> &'static str {
        if self.inner.config.insecure_registries.iter().any(|r| r == registry) {
            return "http";
        }
        let known = self.inner.schemes.lock().map(|m| m.get(registry).copied()).unwrap_or(None);
        known.unwrap_or("https")
    }

    fn may_fall_back_to_http(&self, registry: &str) -> bool {
        let host = match registry.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => registry,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost" || host.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
    }

    /// Fetches the manifest `reference` names (tag or digest) from `repository` of the
    /// session's registry, verifying it against the digest when one is pinned.
    pub async fn fetch_manifest(&self, session: &mut Session, reference: &str) -> Result<FetchedManifest> {
        let path = format!("/v2/{}/manifests/{}", session.reference.repository(), reference);
        let resp = self.get(session, &path, Some(MANIFEST_ACCEPT)).await?;
        let what = format!("{}:{}", session.reference.name(), reference);
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Err(Error::NotFound { what });
        }
        if !status.is_success() {
            return Err(status_error("GET", &path, resp, self.inner.config.idle_timeout).await);
        }
        let content_type = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Digest>().ok());
        let body = read_limited(resp, MAX_MANIFEST_BYTES, &what, self.inner.config.idle_timeout).await?;
        let digest = match reference.parse::<Digest>() {
            Ok(expected) => {
                let actual = expected.same_algorithm_of(&body);
                if actual != expected {
                    return Err(Error::DigestMismatch { what: format!("manifest {what}"), expected, actual });
                }
                actual
            }
            Err(_) => {
                let computed = Digest::sha256_of(&body);
                if let Some(h) = header_digest {
                    let actual = h.same_algorithm_of(&body);
                    if actual != h {
                        return Err(Error::DigestMismatch { what: format!("manifest {what}"), expected: h, actual });
                    }
                }
                computed
            }
        };
        let kind = parse_manifest(content_type.as_deref(), &body)
            .map_err(|source| Error::Manifest { reference: what, source })?;
        Ok(FetchedManifest { digest, body, kind })
    }

    /// Fetches a small blob (an image config) into memory, verifying its digest.
    pub async fn fetch_blob_bytes(&self, session: &mut Session, digest: &Digest, limit: u64) -> Result<Bytes> {
        let path = format!("/v2/{}/blobs/{}", session.reference.repository(), digest);
        let resp = self.get(session, &path, None).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(Error::NotFound { what: format!("{}@{}", session.reference.name(), digest) });
        }
        if !resp.status().is_success() {
            return Err(status_error("GET", &path, resp, self.inner.config.idle_timeout).await);
        }
        let body = read_limited(resp, limit, &digest.to_string(), self.inner.config.idle_timeout).await?;
        let actual = digest.same_algorithm_of(&body);
        if &actual != digest {
            return Err(Error::DigestMismatch { what: format!("blob {digest}"), expected: digest.clone(), actual });
        }
        Ok(body)
    }

    /// Streams a blob into `file`, hashing as it goes; fails (leaving the caller to discard
    /// the file) unless the bytes match `digest` and, when given, `size`. The file is synced.
    pub async fn fetch_blob_to_file(
        &self,
        session: &mut Session,
        digest: &Digest,
        size: Option<u64>,
        file: &mut tokio::fs::File,
    ) -> Result<u64> {
        let path = format!("/v2/{}/blobs/{}", session.reference.repository(), digest);
        let resp = self.get(session, &path, None).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(Error::NotFound { what: format!("{}@{}", session.reference.name(), digest) });
        }
        if !resp.status().is_success() {
            return Err(status_error("GET", &path, resp, self.inner.config.idle_timeout).await);
        }
        let mut body = resp.into_body();
        // Large buffered writes: each write to a tokio file is a hop to the blocking pool.
        let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let mut verifier = Verifier::new(digest.algorithm());
        let mut written: u64 = 0;
        let idle = self.inner.config.idle_timeout;
        let io_err = |source| Error::Io { op: "write blob", path: digest.to_string().into(), source };
        loop {
            let frame = match tokio::time::timeout(idle, body.frame()).await {
                Err(_) => return Err(Error::Timeout { url: path }),
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    return Err(Error::Transport { method: "GET", url: path, source: Box::new(e) });
                }
                Ok(Some(Ok(f))) => f,
            };
            let Ok(data) = frame.into_data() else { continue };
            written += data.len() as u64;
            if let Some(expected) = size {
                if written > expected {
                    return Err(Error::SizeMismatch { digest: digest.clone(), expected, actual: written });
                }
            }
            verifier.update(&data);
            out.write_all(&data).await.map_err(io_err)?;
        }
        if let Some(expected) = size {
            if written != expected {
                return Err(Error::SizeMismatch { digest: digest.clone(), expected, actual: written });
            }
        }
        let actual = verifier.finish();
        if &actual != digest {
            return Err(Error::DigestMismatch { what: format!("blob {digest}"), expected: digest.clone(), actual });
        }
        out.flush().await.map_err(io_err)?;
        out.get_mut().sync_all().await.map_err(io_err)?;
        Ok(written)
    }

    /// GET `path` on the session's registry, handling the 401 challenge (Basic or bearer
    /// token, trying each credential in turn) and redirects.
    async fn get(&self, session: &mut Session, path: &str, accept: Option<&str>) -> Result<Response<Incoming>> {
        let registry = session.reference.api_host().to_string();
        if session.authorization.is_none() {
            session.authorization =
                self.inner.auth_cache.lock().ok().and_then(|m| m.get(&session.cache_key()).cloned());
        }
        // The header came from the cache: on 401 it is retried fresh with the same candidate.
        let mut from_cache = session.authorization.is_some();
        // Whether the current candidate has been tried (a 401 then moves to the next one).
        let mut tried = false;
        loop {
            let resp = self.send(&registry, path, accept, session.authorization.as_deref()).await?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                if let Some(a) = &session.authorization {
                    if let Ok(mut m) = self.inner.auth_cache.lock() {
                        m.insert(session.cache_key(), a.clone());
                    }
                }
                return Ok(resp);
            }
            let challenges: Vec<_> = resp
                .headers()
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(parse_challenges)
                .collect();
            let server_message = error_message(resp, self.inner.config.idle_timeout).await;
            if from_cache {
                from_cache = false;
            } else if tried {
                session.current += 1;
            }
            tried = true;
            session.authorization = None;
            let unauthorized = |reason: String| Error::Unauthorized { registry: session.reference.registry().to_string(), reason };
            let Some(candidate) = session.candidates.get(session.current).cloned() else {
                let reason = if server_message.is_empty() { "401 Unauthorized".to_string() } else { server_message };
                return Err(unauthorized(reason));
            };
            if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
                let scope = format!("repository:{}:pull", session.reference.repository());
                match self.fetch_token(session, bearer, &scope, candidate.as_ref()).await {
                    Ok(t) => session.authorization = Some(format!("Bearer {t}")),
                    Err(Error::Unauthorized { .. }) if session.current + 1 < session.candidates.len() => {
                        // This candidate was refused by the token server: re-challenge with the next.
                        session.current += 1;
                        tried = false;
                    }
                    Err(e) => return Err(e),
                }
            } else if challenges.iter().any(|c| c.scheme == "basic") {
                match candidate {
                    Some(c) => session.authorization = Some(c.basic_header()),
                    None => return Err(unauthorized("registry requires basic authentication and no credentials match".into())),
                }
            } else {
                return Err(unauthorized(format!("401 without a supported challenge: {server_message}")));
            }
        }
    }

    async fn fetch_token(
        &self,
        session: &Session,
        challenge: &crate::auth::Challenge,
        default_scope: &str,
        creds: Option<&Credentials>,
    ) -> Result<String> {
        let registry = session.reference.registry().to_string();
        let Some(realm) = challenge.param("realm") else {
            return Err(Error::Unauthorized { registry, reason: "bearer challenge without realm".into() });
        };
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(service) = challenge.param("service") {
            query.append_pair("service", service);
        }
        query.append_pair("scope", challenge.param("scope").unwrap_or(default_scope));
        let sep = if realm.contains('?') { '&' } else { '?' };
        let url = format!("{realm}{sep}{}", query.finish());
        let uri: Uri = url.parse().map_err(|_| Error::Unauthorized { registry: registry.clone(), reason: format!("bad realm {realm:?}") })?;
        let resp = self.send_uri(uri, None, creds.map(Credentials::basic_header).as_deref(), 0).await?;
        if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
            let msg = error_message(resp, self.inner.config.idle_timeout).await;
            return Err(Error::Unauthorized { registry, reason: format!("token request rejected: {msg}") });
        }
        if !resp.status().is_success() {
            return Err(status_error("GET", &url, resp, self.inner.config.idle_timeout).await);
        }
        let body = read_limited(resp, 1 << 20, "token", self.inner.config.idle_timeout).await?;
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: Token = serde_json::from_slice(&body)
            .map_err(|e| Error::Unauthorized { registry: registry.clone(), reason: format!("bad token response: {e}") })?;
        t.token.or(t.access_token).filter(|t| !t.is_empty()).ok_or(Error::Unauthorized {
            registry,
            reason: "token response has no token".into(),
        })
    }

    /// One logical request to the registry: scheme choice (with loopback HTTP fallback).
    async fn send(
        &self,
        registry: &str,
        path: &str,
        accept: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<Response<Incoming>> {
        let scheme = self.scheme_for(registry);
        let uri: Uri = format!("{scheme}://{registry}{path}")
            .parse()
            .map_err(|e: http::uri::InvalidUri| Error::Transport { method: "GET", url: path.to_string(), source: Box::new(e) })?;
        match self.send_uri(uri, accept, authorization, 0).await {
            Err(Error::Transport { source, .. })
                if scheme == "https" && self.may_fall_back_to_http(registry) && !is_certificate_error(source.as_ref()) =>
            {
                let uri: Uri = format!("http://{registry}{path}").parse().map_err(|e: http::uri::InvalidUri| {
                    Error::Transport { method: "GET", url: path.to_string(), source: Box::new(e) }
                })?;
                let resp = self.send_uri(uri, accept, authorization, 0).await?;
                if let Ok(mut m) = self.inner.schemes.lock() {
                    m.insert(registry.to_string(), "http");
                }
                Ok(resp)
            }
            other => other,
        }
    }

    /// GET `uri`, following redirects (dropping credentials when the host changes).
    fn send_uri<'a>(
        &'a self,
        uri: Uri,
        accept: Option<&'a str>,
        authorization: Option<&'a str>,
        redirects: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response<Incoming>>> + Send + 'a>> {
        Box::pin(async move {
            let url = uri.to_string();
            let mut req = Request::builder().method(Method::GET).uri(uri.clone()).header(header::USER_AGENT, &self.inner.config.user_agent);
            if let Some(a) = accept {
                req = req.header(header::ACCEPT, a);
            }
            if let Some(a) = authorization {
                req = req.header(header::AUTHORIZATION, a);
            }
            let req = req
                .body(Empty::new())
                .map_err(|e| Error::Transport { method: "GET", url: url.clone(), source: Box::new(e) })?;
            let resp = tokio::time::timeout(self.inner.config.idle_timeout, self.inner.http.request(req))
                .await
                .map_err(|_| Error::Timeout { url: url.clone() })?
                .map_err(|e| Error::Transport { method: "GET", url: url.clone(), source: Box::new(e) })?;
            if resp.status().is_redirection() && resp.status() != StatusCode::NOT_MODIFIED {
                if redirects >= MAX_REDIRECTS {
                    return Err(Error::TooManyRedirects(redirects));
                }
                let Some(location) = resp.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()) else {
                    return Ok(resp);
                };
                let next: Uri = if location.starts_with('/') {
                    let scheme = uri.scheme_str().unwrap_or("https");
                    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
                    format!("{scheme}://{authority}{location}")
                } else {
                    location.to_string()
                }
                .parse()
                .map_err(|e: http::uri::InvalidUri| Error::Transport { method: "GET", url: location.to_string(), source: Box::new(e) })?;
                let same_host = next.authority() == uri.authority();
                let auth = if same_host { authorization } else { None };
                return self.send_uri(next, accept, auth, redirects + 1).await;
            }
            Ok(resp)
        })
    }
}

/// Whether a transport error is a TLS certificate rejection (which must not be "fixed" by
/// retrying over plain HTTP; other TLS failures usually mean the server speaks HTTP).
fn is_certificate_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<rustls::Error>() {
            return matches!(
                t,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented | rustls::Error::UnsupportedNameType
            );
        }
        // io::Error hides a wrapped error from `source()`: look inside it instead.
        cur = match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

async fn read_limited(resp: Response<Incoming>, limit: u64, what: &str, idle: Duration) -> Result<Bytes> {
    let mut body = resp.into_body();
    let mut out = Vec::new();
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(Error::Timeout { url: what.to_string() }),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(Error::Transport { method: "GET", url: what.to_string(), source: Box::new(e) }),
            Ok(Some(Ok(f))) => f,
        };
        if let Ok(data) = frame.into_data() {
            if out.len() as u64 + data.len() as u64 > limit {
                return Err(Error::TooLarge { what: what.to_string(), limit });
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(out))
}

/// The registry's error text (`{"errors":[{"code","message"}]}`), or the body's first line.
async fn error_message(resp: Response<Incoming>, idle: Duration) -> String {
    let Ok(body) = read_limited(resp, 64 << 10, "error body", idle).await else { return String::new() };
    #[derive(serde::Deserialize)]
    struct Errs {
        errors: Vec<E>,
    }
    #[derive(serde::Deserialize)]
    struct E {
        code: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_slice::<Errs>(&body) {
        Ok(errs) => errs
            .errors
            .iter()
            .map(|e| match (&e.code, &e.message) {
                (Some(c), Some(m)) => format!("{}: {m}", c.to_lowercase().replace('_', " ")),
                (Some(c), None) => c.to_lowercase().replace('_', " "),
                (None, Some(m)) => m.clone(),
                (None, None) => String::new(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        Err(_) => String::from_utf8_lossy(&body).lines().next().unwrap_or("").chars().take(200).collect(),
    }
}

async fn status_error(method: &'static str, url: &str, resp: Response<Incoming>, idle: Duration) -> Error {
    let status = resp.status().as_u16();
    let message = error_message(resp, idle).await;
    Error::Status { method, url: url.to_string(), status, message }
}
