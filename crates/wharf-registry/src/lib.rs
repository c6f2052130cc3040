//! Wharf's OCI registry (ECR's data plane): the OCI Distribution Spec v1.1 under `/v2/`, a
//! content-addressed blob store on disk, repository metadata in the datastore, authentication
//! and authorization of every request, and garbage collection.
//!
//! # Serving
//! [`Registry::handle`] serves one `http::Request` whose body is any
//! `http_body::Body<Data = Bytes>`; bodies stream both ways. Wharf mounts it under `/v2/` on the
//! main HTTPS listener, the one that serves the Kubernetes API and the AWS front door: "one
//! listener, every protocol". One port means one certificate, one place for TLS and
//! connection limits, and an ECR `repositoryUri` (`host:port/name`) that is the same endpoint
//! the AWS CLI already trusts; the paths cannot collide (`/v2/` is not a Kubernetes or AWS
//! path). [`serve`] runs the handler alone on a plain HTTP/1.1 + h2c listener, for loopback
//! use, tests and the benchmark.
//!
//! ```no_run
//! # async fn wire(store: std::sync::Arc<wharf_store::sqlite::SqliteStore>) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use wharf_registry::{LocalAuthorizer, Registry, RegistryConfig};
//! let authorizer = Arc::new(LocalAuthorizer::new(store.clone(), LocalAuthorizer::generate_token()));
//! let registry = Arc::new(Registry::open(RegistryConfig::new("/var/lib/wharf/registry"), store, authorizer).await?);
//! // Upload expiry every minute, garbage collection hourly, until shutdown.
//! let shutdown = std::future::pending::<()>();
//! tokio::spawn(registry.clone().maintain(Some(std::time::Duration::from_secs(3600)), shutdown));
//! // In the main listener's router: a path that is `/v2` or starts with `/v2/` goes to
//! // `registry.handle(request).await`.
//! # Ok(()) }
//! ```
//!
//! # Storage
//! Blobs are files at `data_dir/blobs/sha256/<ab>/<abcdef…>`. An upload streams into
//! `data_dir/uploads/<id>` through a bounded channel to a blocking thread that hashes while it
//! writes; only when the digest matches is the file fsynced and renamed to its address, and
//! only then linked into the repository. Uploads die with their connection or after
//! [`RegistryConfig::upload_expiry`] idle ([`Registry::sweep_uploads`]) and leave nothing
//! visible ([`Registry::maintain`] runs the sweep and periodic garbage collection).
//! Manifests (≤ [`MAX_MANIFEST_BYTES`], as distribution) are kept in the datastore with their
//! metadata, so a manifest push is one durable transaction. Keys under `/registry-oci/`:
//!
//! - `catalog/<name>` — the repository exists
//! - `settings/<name>` — repository settings (JSON: `immutableTags`)
//! - `repos/<name>/_blobs/<digest>` — the blob is linked into the repository (value: size)
//! - `repos/<name>/_manifests/<digest>` — metadata JSON, a newline, then the manifest bytes
//! - `repos/<name>/_tags/<tag>` — the tag's digest
//! - `repos/<name>/_referrers/<subject>/<digest>` — a referrer's descriptor (JSON)
//! - `credentials/<name>`, `token-signing-key` — see [`auth`]
//!
//! Repository path components never start with `_`, so these keys cannot collide.
//!
//! # Garbage collection
//! [`Registry::collect_garbage`] deletes blob files that no manifest in any repository
//! references (mark and sweep), and is safe while pushes run. Its argument: every operation
//! that makes a blob reachable — committing an upload, a cross-repository mount, a manifest
//! put — holds a shared lock while it (a) sets the blob file's modification time to now and
//! (b) checks the file exists and records the reference. The collector deletes a candidate
//! only under the exclusive lock, after re-reading its modification time and finding it older
//! than the collection's start minus [`RegistryConfig::gc_grace`]. So either the collector
//! deleted first, and the pusher's existence check then fails (the push is refused, nothing
//! dangles), or the pusher touched first, and the collector spares the blob. Blobs uploaded
//! for a manifest that has not arrived yet are younger than the grace period and survive.
//!
//! # Authentication
//! See [`auth`]: Basic (user `AWS`, password a token, as ECR) and the Docker bearer-token flow
//! (`/v2/token`), decided by an [`Authorizer`].

mod admin;
pub mod auth;
mod blobs;
mod error;
mod gc;
mod names;
mod server;

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use wharf_store::{prefix_end, Compare, KvStore, Op, RangeRequest, TxnRequest};

pub use admin::{ImageInfo, StoredManifest};
pub use auth::{Actions, AuthError, Authorizer, Claims, Grant, Identity, LocalAuthorizer, Resource};
pub use error::{RegistryError, Result};
pub use gc::GcReport;
pub use names::{valid_digest, valid_name, valid_tag};
pub use server::serve;

use auth::TokenSigner;
use blobs::{next_chunk, valid_upload_id, BlobStore, Written};
use error::{ApiError, ApiResult};

/// The response body type of [`Registry::handle`].
pub type Body = BoxBody<Bytes, Infallible>;

/// Largest manifest accepted by `PUT /v2/<name>/manifests/<reference>` (distribution's limit).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const MANIFEST_TYPES: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];
const PREFIX: &str = "/registry-oci";

/// Which challenge a 401 carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// `WWW-Authenticate: Basic` — clients send user `AWS` and a token, as with ECR.
    Basic,
    /// `WWW-Authenticate: Bearer realm=…/v2/token` — clients fetch a scoped token first.
    Bearer,
}

/// How a [`Registry`] is set up.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Where blobs and uploads live.
    pub data_dir: PathBuf,
    /// The challenge sent with 401 answers.
    pub challenge: Challenge,
    /// The `service` named in bearer challenges and tokens.
    pub service: String,
    /// The token endpoint's URL for bearer challenges; `None` derives it from the request's
    /// `Host` as `<scheme>://<host>/v2/token`.
    pub token_realm: Option<String>,
    /// The scheme clients reach the registry by (for the derived token realm).
    pub scheme: String,
    /// Lifetime of tokens from the token endpoint.
    pub token_ttl: Duration,
    /// An upload idle this long is removed.
    pub upload_expiry: Duration,
    /// Blobs younger than this survive garbage collection even when unreferenced.
    pub gc_grace: Duration,
}

impl RegistryConfig {
    /// Defaults: Basic challenge, https, 5-minute tokens, 1-hour upload expiry and GC grace.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            challenge: Challenge::Basic,
            service: "wharf-registry".into(),
            token_realm: None,
            scheme: "https".into(),
            token_ttl: Duration::from_secs(300),
            upload_expiry: Duration::from_secs(3600),
            gc_grace: Duration::from_secs(3600),
        }
    }
}

/// An upload in progress (kept in memory; uploads do not survive a restart).
#[derive(Clone)]
struct Upload {
    repo: String,
    offset: u64,
    hasher: Sha256,
    /// A request is writing to this upload; others are refused until it ends.
    busy: bool,
    touched: Instant,
}

/// Ends an upload when dropped while armed: forgets its state and removes its file. A
/// request that keeps the upload alive disarms it and puts the state back.
struct UploadGuard<'a> {
    registry: &'a Registry,
    id: &'a str,
    armed: bool,
}

impl Drop for UploadGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            if let Ok(mut map) = self.registry.uploads.lock() {
                map.remove(self.id);
            }
            let _ = std::fs::remove_file(self.registry.blobs.upload_path(self.id));
        }
    }
}

/// The OCI registry over a data directory, a metadata store and an authorizer.
pub struct Registry {
    config: RegistryConfig,
    blobs: BlobStore,
    store: Arc<dyn KvStore>,
    authorizer: Arc<dyn Authorizer>,
    signer: TokenSigner,
    uploads: Mutex<HashMap<String, Upload>>,
    /// Shared by operations that make a blob reachable; exclusive while GC deletes one.
    gc_lock: tokio::sync::RwLock<()>,
    /// Announces the repository of every manifest pushed ([`Registry::subscribe_pushes`]).
    pushes: tokio::sync::broadcast::Sender<String>,
}

/// What a `/v2/...` path addresses.
enum Route {
    Base,
    Token,
    Catalog,
    Uploads(String),
    Upload(String, String),
    Blob(String, String),
    Manifest(String, String),
    Tags(String),
    Referrers(String, String),
}

impl Route {
    /// The resource and actions a request needs; `None` for "any authenticated identity".
    fn needs(&self, method: &Method) -> Option<(Resource, Actions)> {
        let read = matches!(*method, Method::GET | Method::HEAD);
        let repo = |n: &String| Resource::Repository(n.clone());
        let act = if read { Actions::PULL } else { Actions { pull: false, push: true } };
        match self {
            Route::Base | Route::Token => None,
            Route::Catalog => Some((Resource::Catalog, Actions::PULL)),
            Route::Uploads(n) | Route::Upload(n, _) => Some((repo(n), Actions { pull: false, push: true })),
            Route::Blob(n, _) | Route::Manifest(n, _) => Some((repo(n), act)),
            Route::Tags(n) | Route::Referrers(n, _) => Some((repo(n), Actions::PULL)),
        }
    }
}

fn route(path: &str) -> ApiResult<Route> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint");
    let rest = match path {
        "/v2" | "/v2/" => return Ok(Route::Base),
        "/v2/token" => return Ok(Route::Token),
        "/v2/_catalog" => return Ok(Route::Catalog),
        p => p.strip_prefix("/v2/").ok_or_else(not_found)?,
    };
    let segs: Vec<&str> = rest.split('/').collect();
    let n = segs.len();
    let name_of = |k: usize| -> ApiResult<String> {
        let name = segs[..k].join("/");
        if valid_name(&name) {
            Ok(name)
        } else {
            Err(ApiError::name_invalid(&name))
        }
    };
    if n >= 3 && segs[n - 2] == "blobs" && segs[n - 1] == "uploads" {
        return Ok(Route::Uploads(name_of(n - 2)?));
    }
    if n >= 4 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads" {
        if segs[n - 1].is_empty() {
            return Ok(Route::Uploads(name_of(n - 3)?));
        }
        return Ok(Route::Upload(name_of(n - 3)?, segs[n - 1].to_string()));
    }
    if n >= 3 {
        let last = segs[n - 1].to_string();
        match segs[n - 2] {
            "blobs" => return Ok(Route::Blob(name_of(n - 2)?, last)),
            "manifests" => return Ok(Route::Manifest(name_of(n - 2)?, last)),
            "referrers" => return Ok(Route::Referrers(name_of(n - 2)?, last)),
            "tags" if last == "list" => return Ok(Route::Tags(name_of(n - 2)?)),
            _ => {}
        }
    }
    Err(not_found())
}

fn query(req_uri: &http::Uri) -> HashMap<String, String> {
    req_uri.query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

fn repo_key(name: &str, kind: &str, rest: &str) -> Vec<u8> {
    format!("{PREFIX}/repos/{name}/{kind}/{rest}").into_bytes()
}

fn catalog_key(name: &str) -> Vec<u8> {
    format!("{PREFIX}/catalog/{name}").into_bytes()
}

fn settings_key(name: &str) -> Vec<u8> {
    format!("{PREFIX}/settings/{name}").into_bytes()
}

fn txn(ops: Vec<Op>) -> TxnRequest {
    TxnRequest { compare: vec![], success: ops, failure: vec![] }
}

/// Adds the API version header and a fixed body.
pub(crate) fn finish(b: http::response::Builder, body: Bytes) -> Response<Body> {
    with_body(b, Full::new(body).boxed())
}

fn with_body(b: http::response::Builder, body: Body) -> Response<Body> {
    b.header("Docker-Distribution-API-Version", "registry/2.0").body(body).unwrap_or_else(|e| {
        tracing::error!(error = %e, "building registry response");
        let mut r = Response::new(Full::new(Bytes::new()).boxed());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// Splits a stored manifest record into its metadata and its bytes.
fn split_manifest(value: &[u8]) -> ApiResult<(Value, &[u8])> {
    let nl =
        value.iter().position(|&b| b == b'\n').ok_or_else(|| ApiError::internal("manifest record has no header"))?;
    let meta = serde_json::from_slice(&value[..nl]).map_err(ApiError::internal)?;
    Ok((meta, &value[nl + 1..]))
}

/// The blob digests (config and layers) a manifest refers to; index children are manifests.
fn manifest_blob_refs(doc: &Value) -> Vec<String> {
    let config = doc.get("config").into_iter();
    config
        .chain(doc["layers"].as_array().into_iter().flatten())
        .filter(|d| d.get("urls").is_none()) // foreign layers are not stored here
        .map(|d| d["digest"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// An authenticated request's credential.
enum Caller {
    /// Judged by the authorizer on every request.
    Identity(Identity),
    /// A bearer token with fixed access.
    Token(Claims),
}

impl Registry {
    /// Opens the registry: the blob store under `config.data_dir` (uploads left by a previous
    /// run are removed), metadata in `store`, decisions by `authorizer`.
    pub async fn open(
        config: RegistryConfig,
        store: Arc<dyn KvStore>,
        authorizer: Arc<dyn Authorizer>,
    ) -> Result<Self> {
        let blobs = BlobStore::open(&config.data_dir)?;
        let signer = TokenSigner::load(store.as_ref()).await?;
        Ok(Self {
            config,
            blobs,
            store,
            authorizer,
            signer,
            uploads: Mutex::new(HashMap::new()),
            gc_lock: tokio::sync::RwLock::new(()),
            pushes: tokio::sync::broadcast::channel(256).0,
        })
    }

    /// Issues a signed token for `identity` valid for `ttl` whose rights the authorizer decides
    /// per request (ECR's `GetAuthorizationToken`: use it as the Basic password of user `AWS`).
    pub fn issue_token(&self, identity: &Identity, ttl: Duration) -> String {
        self.signer.sign(&Claims { subject: identity.name.clone(), expires: auth::expiry(ttl), access: None })
    }

    /// Creates `name` if needed and sets whether its tags are immutable (a pushed tag can then
    /// not be moved to another manifest: `TAG_INVALID`, ECR's `ImageTagAlreadyExistsException`).
    pub async fn set_immutable(&self, name: &str, immutable: bool) -> Result<()> {
        if !valid_name(name) {
            return Err(RegistryError::Invalid { what: "repository name", value: name.to_string() });
        }
        let settings = json!({ "immutableTags": immutable }).to_string();
        self.store
            .txn(txn(vec![Op::put(catalog_key(name), Vec::new()), Op::put(settings_key(name), settings)]))
            .await?;
        Ok(())
    }

    /// Serves one request under `/v2/`.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        match self.serve_request(req).await {
            Ok(r) => r,
            Err(e) => e.response(),
        }
    }

    /// Removes uploads idle longer than [`RegistryConfig::upload_expiry`]; returns how many.
    pub fn sweep_uploads(&self) -> usize {
        let expired: Vec<String> = match self.uploads.lock() {
            Ok(mut map) => {
                let expiry = self.config.upload_expiry;
                let ids: Vec<String> = map
                    .iter()
                    .filter(|(_, u)| !u.busy && u.touched.elapsed() >= expiry)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in &ids {
                    map.remove(id);
                }
                ids
            }
            Err(_) => return 0,
        };
        for id in &expired {
            let _ = std::fs::remove_file(self.blobs.upload_path(id));
        }
        expired.len()
    }

    /// Runs upload expiry every minute (at most) and garbage collection every `gc_every`
    /// until `shutdown` completes.
    pub async fn maintain(
        self: Arc<Self>,
        gc_every: Option<Duration>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let tick = (self.config.upload_expiry / 4).clamp(Duration::from_millis(10), Duration::from_secs(60));
        let mut sweep = tokio::time::interval(tick);
        let mut gc = tokio::time::interval(gc_every.unwrap_or(Duration::from_secs(86400 * 365)));
        gc.tick().await;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = sweep.tick() => { self.sweep_uploads(); }
                _ = gc.tick(), if gc_every.is_some() => {
                    if let Err(e) = self.collect_garbage().await {
                        tracing::warn!(error = %e, "registry garbage collection failed");
                    }
                }
            }
        }
    }

    // ---- authentication ----

    fn challenge<B>(&self, req: &Request<B>, scope: Option<&(Resource, Actions)>) -> String {
        match self.config.challenge {
            Challenge::Basic => r#"Basic realm="wharf-registry""#.to_string(),
            Challenge::Bearer => {
                let realm = self.config.token_realm.clone().unwrap_or_else(|| {
                    let host = req
                        .headers()
                        .get(header::HOST)
                        .and_then(|h| h.to_str().ok())
                        .map(String::from)
                        .or_else(|| req.uri().authority().map(|a| a.to_string()))
                        .unwrap_or_else(|| "localhost".into());
                    format!("{}://{host}/v2/token", self.config.scheme)
                });
                let mut c = format!(r#"Bearer realm="{realm}",service="{}""#, self.config.service);
                if let Some((resource, actions)) = scope {
                    let s = match resource {
                        Resource::Repository(n) => {
                            let a = if actions.push { "pull,push" } else { "pull" };
                            format!("repository:{n}:{a}")
                        }
                        Resource::Catalog => "registry:catalog:*".to_string(),
                    };
                    c.push_str(&format!(r#",scope="{s}""#));
                }
                c
            }
        }
    }

    /// The caller behind the `Authorization` header, if it is valid.
    async fn caller(&self, headers: &http::HeaderMap) -> ApiResult<Option<Caller>> {
        use base64::Engine as _;
        let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return Ok(None) };
        let (scheme, cred) = v.split_once(' ').unwrap_or((v, ""));
        let cred = cred.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            return Ok(self.signer.verify(cred).map(Caller::Token));
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Ok(None);
        }
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(cred) else { return Ok(None) };
        let Ok(raw) = String::from_utf8(raw) else { return Ok(None) };
        let Some((user, password)) = raw.split_once(':') else { return Ok(None) };
        if user != "AWS" {
            return Ok(None);
        }
        if let Some(claims) = self.signer.verify(password) {
            return Ok(Some(match claims.access {
                None => Caller::Identity(Identity { name: claims.subject }),
                Some(_) => Caller::Token(claims),
            }));
        }
        let id = self.authorizer.authenticate(password).await.map_err(ApiError::internal)?;
        Ok(id.map(Caller::Identity))
    }

    async fn allowed(&self, caller: &Caller, resource: &Resource) -> ApiResult<Actions> {
        match caller {
            Caller::Token(c) => Ok(c.granted(resource).unwrap_or(Actions::NONE)),
            Caller::Identity(id) => self.authorizer.allowed(id, resource).await.map_err(ApiError::internal),
        }
    }

    /// `GET /v2/token?service=…&scope=…`: a bearer token for the scopes the caller may have.
    async fn token<B>(&self, req: &Request<B>, caller: Option<Caller>) -> ApiResult<Response<Body>> {
        let Some(caller) = caller else {
            return Err(ApiError::unauthorized(format!(r#"Basic realm="{}""#, self.config.service)));
        };
        let subject = match &caller {
            Caller::Identity(id) => id.name.clone(),
            Caller::Token(c) => c.subject.clone(),
        };
        let scopes: Vec<String> = req
            .uri()
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .filter(|(k, _)| k == "scope")
                    .map(|(_, v)| v.into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let mut access = Vec::new();
        for (resource, wanted) in auth::parse_scopes(scopes.iter().map(String::as_str)) {
            let have = self.allowed(&caller, &resource).await?;
            let granted = wanted.intersect(have);
            if granted != Actions::NONE {
                access.push((resource, granted));
            }
        }
        let ttl = self.config.token_ttl;
        let token = self.signer.sign(&Claims { subject, expires: auth::expiry(ttl), access: Some(access) });
        let body = json!({ "token": token, "access_token": token, "expires_in": ttl.as_secs() });
        Ok(finish(Response::builder().header(header::CONTENT_TYPE, "application/json"), Bytes::from(body.to_string())))
    }

    // ---- dispatch ----

    async fn serve_request<B>(&self, req: Request<B>) -> ApiResult<Response<Body>>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let route = route(req.uri().path())?;
        let method = req.method().clone();
        let caller = self.caller(req.headers()).await?;
        if let Route::Token = route {
            return self.token(&req, caller).await;
        }
        let need = route.needs(&method);
        let Some(caller) = caller else {
            return Err(ApiError::unauthorized(self.challenge(&req, need.as_ref())));
        };
        if let Some((resource, actions)) = &need {
            if !self.allowed(&caller, resource).await?.covers(*actions) {
                if let Caller::Token(_) = caller {
                    let mut e = ApiError::unauthorized(self.challenge(&req, need.as_ref()));
                    e.challenge = e.challenge.map(|c| format!(r#"{c},error="insufficient_scope""#).into_boxed_str());
                    return Err(e);
                }
                return Err(ApiError::denied("requested access to the resource is denied"));
            }
        }
        let q = query(req.uri());
        let head = method == Method::HEAD;
        match (route, method) {
            (Route::Base, Method::GET | Method::HEAD) => {
                Ok(finish(Response::builder().header(header::CONTENT_TYPE, "application/json"), Bytes::from("{}")))
            }
            (Route::Catalog, Method::GET) => self.catalog(&q).await,
            (Route::Tags(name), Method::GET) => self.tags(&name, &q).await,
            (Route::Blob(name, digest), Method::GET | Method::HEAD) => {
                self.get_blob(&name, &digest, req.headers(), head).await
            }
            (Route::Blob(name, digest), Method::DELETE) => self.delete_blob(&name, &digest).await,
            (Route::Uploads(name), Method::POST) => {
                let may_mount = match q.get("from") {
                    Some(from) if valid_name(from) => {
                        self.allowed(&caller, &Resource::Repository(from.clone())).await?.pull
                    }
                    _ => false,
                };
                self.start_upload(&name, &q, may_mount, req.into_body()).await
            }
            (Route::Upload(name, id), Method::GET) => self.upload_status(&name, &id),
            (Route::Upload(name, id), Method::PATCH) => {
                let range = req.headers().get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).map(String::from);
                self.patch_upload(&name, &id, range.as_deref(), req.into_body()).await
            }
            (Route::Upload(name, id), Method::PUT) => self.finish_upload(&name, &id, &q, req.into_body()).await,
            (Route::Upload(name, id), Method::DELETE) => self.cancel_upload(&name, &id),
            (Route::Manifest(name, reference), Method::GET | Method::HEAD) => {
                self.get_manifest(&name, &reference, head).await
            }
            (Route::Manifest(name, reference), Method::PUT) => {
                let ct = req
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(|s| s.split(';').next().unwrap_or("").trim().to_string());
                let len = req
                    .headers()
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<usize>().ok());
                self.put_manifest(&name, &reference, ct, len, req.into_body()).await
            }
            (Route::Manifest(name, reference), Method::DELETE) => self.delete_manifest(&name, &reference).await,
            (Route::Referrers(name, digest), Method::GET) => self.referrers(&name, &digest, &q).await,
            _ => Err(ApiError::unsupported()),
        }
    }

    // ---- storage helpers ----

    async fn repo_exists(&self, name: &str) -> ApiResult<bool> {
        Ok(self.store.get(catalog_key(name)).await?.is_some())
    }

    async fn link(&self, name: &str, digest: &str, size: u64) -> ApiResult<()> {
        self.store
            .txn(txn(vec![
                Op::put(catalog_key(name), Vec::new()),
                Op::put(repo_key(name, "_blobs", digest), size.to_string()),
            ]))
            .await?;
        Ok(())
    }

    /// Verifies and commits a finished upload, then links it into `name` (under the GC lock).
    async fn commit_and_link(&self, name: &str, id: &str, written: Written, size: u64, digest: &str) -> ApiResult<()> {
        let _gc = self.gc_lock.read().await;
        self.blobs.commit(id, written, digest).await?;
        self.link(name, digest, size).await
    }

    fn require_digest(q: &HashMap<String, String>) -> ApiResult<String> {
        let d = q.get("digest").ok_or_else(|| ApiError::digest_invalid("digest parameter missing"))?;
        if !valid_digest(d) {
            return Err(ApiError::digest_invalid("unsupported or malformed digest").detail(json!({ "digest": d })));
        }
        Ok(d.clone())
    }

    fn upload_response(status: StatusCode, name: &str, id: &str, offset: u64) -> Response<Body> {
        let b = Response::builder()
            .status(status)
            .header(header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}"))
            .header("Docker-Upload-UUID", id)
            .header(header::CONTENT_LENGTH, "0")
            .header(header::RANGE, format!("0-{}", offset.saturating_sub(1)));
        finish(b, Bytes::new())
    }

    fn created_blob(name: &str, digest: &str) -> Response<Body> {
        finish(
            Response::builder()
                .status(StatusCode::CREATED)
                .header(header::LOCATION, format!("/v2/{name}/blobs/{digest}"))
                .header("Docker-Content-Digest", digest)
                .header(header::CONTENT_LENGTH, "0"),
            Bytes::new(),
        )
    }

    fn new_upload_id() -> String {
        use rand::Rng as _;
        let bytes: [u8; 16] = rand::thread_rng().gen();
        hex::encode(bytes)
    }

    // ---- blobs ----

    async fn get_blob(
        &self,
        name: &str,
        digest: &str,
        headers: &http::HeaderMap,
        head: bool,
    ) -> ApiResult<Response<Body>> {
        if !valid_digest(digest) {
            return Err(ApiError::digest_invalid("malformed digest").detail(json!({ "digest": digest })));
        }
        if self.store.get(repo_key(name, "_blobs", digest)).await?.is_none() {
            // A manifest is content-addressed too: fetching it as a blob by its digest works.
            let Some(record) = self.store.get(repo_key(name, "_manifests", digest)).await? else {
                return Err(ApiError::blob_unknown(digest));
            };
            let (_, data) = split_manifest(&record.value)?;
            let b = Response::builder()
                .header("Docker-Content-Digest", digest)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::ETAG, format!("\"{digest}\""))
                .header(header::CONTENT_LENGTH, data.len().to_string());
            return Ok(finish(b, if head { Bytes::new() } else { Bytes::copy_from_slice(data) }));
        }
        let Some(size) = self.blobs.size(digest).await? else { return Err(ApiError::blob_unknown(digest)) };
        let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(|r| parse_range(r, size));
        let b = Response::builder()
            .header("Docker-Content-Digest", digest)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::ACCEPT_RANGES, "bytes")
            .header(header::ETAG, format!("\"{digest}\""));
        if headers.contains_key(header::RANGE) && range.is_none() {
            return Ok(finish(
                b.status(StatusCode::RANGE_NOT_SATISFIABLE).header(header::CONTENT_RANGE, format!("bytes */{size}")),
                Bytes::new(),
            ));
        }
        let (status, start, end) = match range {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
            None => (StatusCode::OK, 0, size.saturating_sub(1)),
        };
        let len = if size == 0 { 0 } else { end - start + 1 };
        let mut b = b.status(status).header(header::CONTENT_LENGTH, len.to_string());
        if status == StatusCode::PARTIAL_CONTENT {
            b = b.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
        }
        if head || len == 0 {
            return Ok(finish(b, Bytes::new()));
        }
        let path = self.blobs.path(digest);
        if len <= 64 * 1024 {
            // Small blobs (configs, tiny layers): one read beats a reader thread.
            let data = tokio::fs::read(&path).await?;
            let slice =
                data.get(start as usize..(start + len) as usize).ok_or_else(|| ApiError::internal("blob shrank"))?;
            return Ok(finish(b, Bytes::copy_from_slice(slice)));
        }
        Ok(with_body(b, blobs::stream_file(path, start, len)))
    }

    async fn delete_blob(&self, name: &str, digest: &str) -> ApiResult<Response<Body>> {
        if !valid_digest(digest) {
            return Err(ApiError::digest_invalid("malformed digest").detail(json!({ "digest": digest })));
        }
        if self.store.get(repo_key(name, "_blobs", digest)).await?.is_none() {
            return Err(ApiError::blob_unknown(digest));
        }
        self.store.txn(txn(vec![Op::delete(repo_key(name, "_blobs", digest))])).await?;
        Ok(finish(Response::builder().status(StatusCode::ACCEPTED).header(header::CONTENT_LENGTH, "0"), Bytes::new()))
    }

    async fn start_upload<B>(
        &self,
        name: &str,
        q: &HashMap<String, String>,
        may_mount: bool,
        mut body: B,
    ) -> ApiResult<Response<Body>>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        if let (Some(mount), Some(from), true) = (q.get("mount"), q.get("from"), may_mount) {
            if valid_digest(mount) && self.store.get(repo_key(from, "_blobs", mount)).await?.is_some() {
                let _gc = self.gc_lock.read().await;
                if self.blobs.touch(mount).await? {
                    let size = self.blobs.size(mount).await?.unwrap_or(0);
                    self.link(name, mount, size).await?;
                    return Ok(Self::created_blob(name, mount));
                }
            }
        }
        let id = Self::new_upload_id();
        if q.contains_key("digest") {
            // Monolithic upload in one POST.
            let digest = Self::require_digest(q)?;
            let _guard = UploadGuard { registry: self, id: &id, armed: true };
            let file = self.blobs.open_upload(&id, 0).await?;
            let written = blobs::write_body(file, Sha256::new(), &mut body).await?;
            let size = written.len;
            self.commit_and_link(name, &id, written, size, &digest).await?;
            return Ok(Self::created_blob(name, &digest));
        }
        let up =
            Upload { repo: name.to_string(), offset: 0, hasher: Sha256::new(), busy: false, touched: Instant::now() };
        self.uploads.lock().map_err(ApiError::internal)?.insert(id.clone(), up);
        Ok(Self::upload_response(StatusCode::ACCEPTED, name, &id, 0))
    }

    /// Marks the upload busy and returns a copy of its state; the caller ends with
    /// [`Self::put_back`] (the upload goes on) or lets an armed [`UploadGuard`] end it.
    fn take_upload(&self, name: &str, id: &str) -> ApiResult<Upload> {
        if !valid_upload_id(id) {
            return Err(ApiError::upload_unknown());
        }
        let mut map = self.uploads.lock().map_err(ApiError::internal)?;
        match map.get_mut(id) {
            Some(u) if u.repo == name && u.busy => Err(ApiError::new(
                StatusCode::CONFLICT,
                "BLOB_UPLOAD_INVALID",
                "another request is writing to this upload",
            )),
            Some(u) if u.repo == name => {
                u.busy = true;
                Ok(u.clone())
            }
            _ => Err(ApiError::upload_unknown()),
        }
    }

    fn put_back(&self, id: &str, mut up: Upload) -> ApiResult<()> {
        up.busy = false;
        up.touched = Instant::now();
        self.uploads.lock().map_err(ApiError::internal)?.insert(id.to_string(), up);
        Ok(())
    }

    fn upload_status(&self, name: &str, id: &str) -> ApiResult<Response<Body>> {
        let map = self.uploads.lock().map_err(ApiError::internal)?;
        match map.get(id) {
            Some(u) if u.repo == name => Ok(Self::upload_response(StatusCode::NO_CONTENT, name, id, u.offset)),
            _ => Err(ApiError::upload_unknown()),
        }
    }

    async fn patch_upload<B>(&self, name: &str, id: &str, range: Option<&str>, mut body: B) -> ApiResult<Response<Body>>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let mut up = self.take_upload(name, id)?;
        let mut guard = UploadGuard { registry: self, id, armed: true };
        let range = range.map(parse_content_range);
        if let Some(r) = range {
            if r.map(|(start, _)| start) != Some(up.offset) {
                let offset = up.offset;
                guard.armed = false;
                self.put_back(id, up)?;
                return Ok(Self::upload_response(StatusCode::RANGE_NOT_SATISFIABLE, name, id, offset));
            }
        }
        // Any failure below (including the request being dropped) kills the upload via the guard.
        let file = self.blobs.open_upload(id, up.offset).await?;
        let before = up.hasher.clone();
        let written = blobs::write_body(file, up.hasher, &mut body).await?;
        if let Some(Some((start, end))) = range {
            if start + written.len != end + 1 {
                // The chunk is not the range it claimed: drop it, keep the upload as it was.
                let offset = up.offset;
                written.file.set_len(offset)?;
                up.hasher = before;
                guard.armed = false;
                self.put_back(id, up)?;
                return Ok(Self::upload_response(StatusCode::RANGE_NOT_SATISFIABLE, name, id, offset));
            }
        }
        up.offset += written.len;
        up.hasher = written.hasher;
        let offset = up.offset;
        guard.armed = false;
        self.put_back(id, up)?;
        Ok(Self::upload_response(StatusCode::ACCEPTED, name, id, offset))
    }

    async fn finish_upload<B>(
        &self,
        name: &str,
        id: &str,
        q: &HashMap<String, String>,
        mut body: B,
    ) -> ApiResult<Response<Body>>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let up = self.take_upload(name, id)?;
        let digest = match Self::require_digest(q) {
            Ok(d) => d,
            Err(e) => {
                self.put_back(id, up)?;
                return Err(e);
            }
        };
        // From here on the upload ends, whatever happens: the guard removes its state and file.
        let _guard = UploadGuard { registry: self, id, armed: true };
        let file = self.blobs.open_upload(id, up.offset).await?;
        let written = blobs::write_body(file, up.hasher, &mut body).await?;
        let size = up.offset + written.len;
        self.commit_and_link(name, id, written, size, &digest).await?;
        Ok(Self::created_blob(name, &digest))
    }

    fn cancel_upload(&self, name: &str, id: &str) -> ApiResult<Response<Body>> {
        self.take_upload(name, id)?;
        drop(UploadGuard { registry: self, id, armed: true });
        Ok(finish(Response::builder().status(StatusCode::NO_CONTENT), Bytes::new()))
    }

    // ---- manifests ----

    async fn resolve(&self, name: &str, reference: &str) -> ApiResult<String> {
        if valid_digest(reference) {
            return Ok(reference.to_string());
        }
        if !valid_tag(reference) {
            return Err(ApiError::manifest_invalid("invalid tag").detail(json!({ "reference": reference })));
        }
        let kv = self.store.get(repo_key(name, "_tags", reference)).await?;
        let kv = kv.ok_or_else(|| ApiError::manifest_unknown(reference))?;
        String::from_utf8(kv.value).map_err(ApiError::internal)
    }

    async fn get_manifest(&self, name: &str, reference: &str, head: bool) -> ApiResult<Response<Body>> {
        if !self.repo_exists(name).await? {
            return Err(ApiError::name_unknown(name));
        }
        let digest = self.resolve(name, reference).await?;
        let record = self.store.get(repo_key(name, "_manifests", &digest)).await?;
        let record = record.ok_or_else(|| ApiError::manifest_unknown(reference))?;
        let (meta, data) = split_manifest(&record.value)?;
        let media_type = meta["mediaType"].as_str().unwrap_or(OCI_MANIFEST).to_string();
        let b = Response::builder()
            .header(header::CONTENT_TYPE, media_type)
            .header("Docker-Content-Digest", &digest)
            .header(header::ETAG, format!("\"{digest}\""))
            .header(header::CONTENT_LENGTH, data.len().to_string());
        Ok(finish(b, if head { Bytes::new() } else { Bytes::copy_from_slice(data) }))
    }

    async fn put_manifest<B>(
        &self,
        name: &str,
        reference: &str,
        content_type: Option<String>,
        content_length: Option<usize>,
        mut body: B,
    ) -> ApiResult<Response<Body>>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let too_big = || {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID", "manifest exceeds the size limit")
                .detail(json!({ "limit": MAX_MANIFEST_BYTES }))
        };
        if content_length.is_some_and(|l| l > MAX_MANIFEST_BYTES) {
            return Err(too_big());
        }
        let mut buf = Vec::new();
        while let Some(chunk) = next_chunk(&mut body).await? {
            if buf.len() + chunk.len() > MAX_MANIFEST_BYTES {
                return Err(too_big());
            }
            buf.extend_from_slice(&chunk);
        }
        let invalid = |msg: &str| ApiError::manifest_invalid(msg.to_string());
        let doc: Value = serde_json::from_slice(&buf).map_err(|e| invalid(&format!("manifest is not JSON: {e}")))?;
        if !doc.is_object() || doc["schemaVersion"].as_i64() != Some(2) {
            return Err(invalid("manifest must be an object with schemaVersion 2"));
        }
        let media_type = content_type
            .filter(|c| MANIFEST_TYPES.contains(&c.as_str()))
            .or_else(|| doc["mediaType"].as_str().filter(|m| MANIFEST_TYPES.contains(m)).map(String::from))
            .ok_or_else(|| invalid("unsupported manifest media type"))?;
        if let Some(m) = doc["mediaType"].as_str() {
            if m != media_type {
                return Err(invalid("mediaType does not match Content-Type"));
            }
        }
        let is_index = media_type == OCI_INDEX || media_type == DOCKER_LIST;
        if is_index && !doc["manifests"].is_array() {
            return Err(invalid("an index needs a manifests array"));
        }
        if !is_index && (!doc["config"].is_object() || !doc["layers"].is_array()) {
            return Err(invalid("an image manifest needs config and layers"));
        }
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&buf)));
        let tag = if valid_digest(reference) {
            if reference != digest {
                return Err(ApiError::digest_invalid("manifest digest does not match reference")
                    .detail(json!({ "expected": reference, "actual": digest })));
            }
            None
        } else if valid_tag(reference) {
            Some(reference.to_string())
        } else {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "TAG_INVALID", "invalid tag")
                .detail(json!({ "tag": reference })));
        };

        // From the reference check to the commit, GC may not delete what we refer to.
        let _gc = self.gc_lock.read().await;
        let mut missing = Vec::new();
        if is_index {
            for m in doc["manifests"].as_array().into_iter().flatten() {
                let d = m["digest"].as_str().unwrap_or_default();
                if !valid_digest(d) || self.store.get(repo_key(name, "_manifests", d)).await?.is_none() {
                    missing.push(d.to_string());
                }
            }
        } else {
            let refs = manifest_blob_refs(&doc);
            for d in &refs {
                if !valid_digest(d)
                    || self.store.get(repo_key(name, "_blobs", d)).await?.is_none()
                    || !self.blobs.touch(d).await?
                {
                    missing.push(d.clone());
                }
            }
        }
        if let Some(first) = missing.first() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "MANIFEST_BLOB_UNKNOWN",
                "manifest references a blob unknown to the registry",
            )
            .detail(json!({ "digest": first, "missing": missing })));
        }

        let subject = doc["subject"]["digest"].as_str().filter(|d| valid_digest(d)).map(String::from);
        let artifact_type = doc["artifactType"]
            .as_str()
            .or_else(|| doc["config"]["mediaType"].as_str())
            .unwrap_or(&media_type)
            .to_string();
        let blobs_size: u64 = if is_index {
            0
        } else {
            let config = doc.get("config").into_iter();
            config.chain(doc["layers"].as_array().into_iter().flatten()).filter_map(|d| d["size"].as_u64()).sum()
        };
        let meta = json!({
            "mediaType": media_type,
            "size": buf.len(),
            "blobsSize": blobs_size,
            "artifactType": artifact_type,
            "subject": subject,
            "pushedAt": auth::now_secs(),
            "pushedAtMillis": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        });
        let mut record = meta.to_string().into_bytes();
        record.push(b'\n');
        record.extend_from_slice(&buf);
        let mut ops =
            vec![Op::put(catalog_key(name), Vec::new()), Op::put(repo_key(name, "_manifests", &digest), record)];
        let mut compare = Vec::new();
        if let Some(t) = &tag {
            let key = repo_key(name, "_tags", t);
            if self.immutable(name).await? {
                if let Some(kv) = self.store.get(key.clone()).await? {
                    if kv.value != digest.as_bytes() {
                        return Err(Self::tag_exists(name, t));
                    }
                }
                let rev = self.store.get(key.clone()).await?.map(|kv| kv.mod_revision).unwrap_or(0);
                compare.push(Compare::mod_revision(key.clone(), rev));
            }
            ops.push(Op::put(key, digest.clone()));
        }
        if let Some(s) = &subject {
            let mut desc =
                json!({ "mediaType": media_type, "digest": digest, "size": buf.len(), "artifactType": artifact_type });
            if let Some(a) = doc.get("annotations") {
                desc["annotations"] = a.clone();
            }
            ops.push(Op::put(repo_key(name, "_referrers", &format!("{s}/{digest}")), desc.to_string()));
        }
        let r = self.store.txn(TxnRequest { compare, success: ops, failure: vec![] }).await?;
        if !r.succeeded {
            // Only an immutable tag has a compare: someone else pushed it meanwhile.
            return Err(Self::tag_exists(name, tag.as_deref().unwrap_or_default()));
        }
        // Nobody listening is fine.
        let _ = self.pushes.send(name.to_string());
        let mut b = Response::builder()
            .status(StatusCode::CREATED)
            .header(header::LOCATION, format!("/v2/{name}/manifests/{digest}"))
            .header("Docker-Content-Digest", &digest)
            .header(header::CONTENT_LENGTH, "0");
        if let Some(s) = &subject {
            b = b.header("OCI-Subject", s);
        }
        Ok(finish(b, Bytes::new()))
    }

    fn tag_exists(name: &str, tag: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "TAG_INVALID",
            format!("the image tag '{tag}' already exists in the '{name}' repository and cannot be overwritten because the repository is immutable"),
        )
        .detail(json!({ "tag": tag }))
    }

    async fn immutable(&self, name: &str) -> ApiResult<bool> {
        let Some(kv) = self.store.get(settings_key(name)).await? else { return Ok(false) };
        let v: Value = serde_json::from_slice(&kv.value).map_err(ApiError::internal)?;
        Ok(v["immutableTags"].as_bool().unwrap_or(false))
    }

    async fn delete_manifest(&self, name: &str, reference: &str) -> ApiResult<Response<Body>> {
        let accepted = || {
            finish(Response::builder().status(StatusCode::ACCEPTED).header(header::CONTENT_LENGTH, "0"), Bytes::new())
        };
        if !valid_digest(reference) {
            // Deleting a tag removes only the tag.
            if !valid_tag(reference) || self.store.get(repo_key(name, "_tags", reference)).await?.is_none() {
                return Err(ApiError::manifest_unknown(reference));
            }
            self.store.txn(txn(vec![Op::delete(repo_key(name, "_tags", reference))])).await?;
            return Ok(accepted());
        }
        let record = self.store.get(repo_key(name, "_manifests", reference)).await?;
        let record = record.ok_or_else(|| ApiError::manifest_unknown(reference))?;
        let (meta, _) = split_manifest(&record.value)?;
        let mut ops = vec![Op::delete(repo_key(name, "_manifests", reference))];
        let prefix = repo_key(name, "_tags", "");
        let tags = self
            .store
            .range(RangeRequest { range_end: prefix_end(&prefix), key: prefix, ..Default::default() })
            .await?;
        for kv in tags.kvs {
            if kv.value == reference.as_bytes() {
                ops.push(Op::delete(kv.key));
            }
        }
        if let Some(s) = meta["subject"].as_str() {
            ops.push(Op::delete(repo_key(name, "_referrers", &format!("{s}/{reference}"))));
        }
        self.store.txn(txn(ops)).await?;
        Ok(accepted())
    }

    // ---- listings ----

    async fn list_keys(&self, prefix: &[u8]) -> ApiResult<Vec<String>> {
        let r = self
            .store
            .range(RangeRequest { key: prefix.to_vec(), range_end: prefix_end(prefix), ..Default::default() })
            .await?;
        Ok(r.kvs.iter().filter_map(|kv| std::str::from_utf8(&kv.key[prefix.len()..]).ok().map(String::from)).collect())
    }

    async fn tags(&self, name: &str, q: &HashMap<String, String>) -> ApiResult<Response<Body>> {
        if !self.repo_exists(name).await? {
            return Err(ApiError::name_unknown(name));
        }
        let all = self.list_keys(&repo_key(name, "_tags", "")).await?;
        let (page, link) = paginate(all, q, &format!("/v2/{name}/tags/list"));
        let b = Response::builder().header(header::CONTENT_TYPE, "application/json");
        let b = if let Some(l) = link { b.header(header::LINK, l) } else { b };
        Ok(finish(b, Bytes::from(json!({ "name": name, "tags": page }).to_string())))
    }

    async fn catalog(&self, q: &HashMap<String, String>) -> ApiResult<Response<Body>> {
        let all = self.list_keys(format!("{PREFIX}/catalog/").as_bytes()).await?;
        let (page, link) = paginate(all, q, "/v2/_catalog");
        let b = Response::builder().header(header::CONTENT_TYPE, "application/json");
        let b = if let Some(l) = link { b.header(header::LINK, l) } else { b };
        Ok(finish(b, Bytes::from(json!({ "repositories": page }).to_string())))
    }

    async fn referrers(&self, name: &str, digest: &str, q: &HashMap<String, String>) -> ApiResult<Response<Body>> {
        if !valid_digest(digest) {
            return Err(ApiError::digest_invalid("malformed digest").detail(json!({ "digest": digest })));
        }
        let prefix = repo_key(name, "_referrers", &format!("{digest}/"));
        let r = self
            .store
            .range(RangeRequest { range_end: prefix_end(&prefix), key: prefix, ..Default::default() })
            .await?;
        let filter = q.get("artifactType");
        let mut manifests = Vec::new();
        for kv in r.kvs {
            let desc: Value = serde_json::from_slice(&kv.value).map_err(ApiError::internal)?;
            if filter.is_none_or(|f| desc["artifactType"].as_str() == Some(f.as_str())) {
                manifests.push(desc);
            }
        }
        let mut b = Response::builder().header(header::CONTENT_TYPE, OCI_INDEX);
        if filter.is_some() {
            b = b.header("OCI-Filters-Applied", "artifactType");
        }
        let body = json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests });
        Ok(finish(b, Bytes::from(body.to_string())))
    }
}

/// Parses `Content-Range` of a chunk: `a-b` or `bytes a-b` (inclusive end).
fn parse_content_range(r: &str) -> Option<(u64, u64)> {
    let r = r.trim();
    let r = r.strip_prefix("bytes").map(str::trim_start).unwrap_or(r);
    let r = r.split('/').next().unwrap_or(r);
    let (a, b) = r.split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

/// Applies `n`/`last` pagination to a sorted list; returns the page and the `Link` header.
fn paginate(all: Vec<String>, q: &HashMap<String, String>, path: &str) -> (Vec<String>, Option<String>) {
    let last = q.get("last");
    let mut items: Vec<String> = all.into_iter().filter(|t| last.is_none_or(|l| t.as_str() > l.as_str())).collect();
    let n = q.get("n").and_then(|n| n.parse::<usize>().ok());
    let mut link = None;
    if let Some(n) = n {
        if items.len() > n {
            items.truncate(n);
            if let Some(l) = items.last() {
                let v = HeaderValue::from_str(&format!("<{path}?n={n}&last={l}>; rel=\"next\""));
                link = v.ok().and_then(|v| v.to_str().ok().map(String::from));
            }
        }
    }
    (items, link)
}

/// Parses `bytes=a-b`, `bytes=a-` or `bytes=-n` against `size`; `None` if unsatisfiable.
fn parse_range(r: &str, size: u64) -> Option<(u64, u64)> {
    let spec = r.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    if size == 0 {
        return None;
    }
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        (size.saturating_sub(n), size - 1)
    } else {
        let s: u64 = a.parse().ok()?;
        let e: u64 = if b.is_empty() { size - 1 } else { b.parse::<u64>().ok()?.min(size - 1) };
        (s, e)
    };
    (start <= end && start < size).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_should_be_clamped_to_the_blob_size() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    fn chunk_content_ranges_should_parse_with_or_without_unit() {
        assert_eq!(parse_content_range("0-999"), Some((0, 999)));
        assert_eq!(parse_content_range("bytes 1000-1999/*"), Some((1000, 1999)));
        assert_eq!(parse_content_range("5-1"), None);
        assert_eq!(parse_content_range("x"), None);
    }

    #[test]
    fn pagination_should_start_after_last_and_link_to_the_next_page() {
        let all: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let q = HashMap::from([("n".to_string(), "1".to_string()), ("last".to_string(), "a".to_string())]);
        let (page, link) = paginate(all.clone(), &q, "/v2/_catalog");
        assert_eq!(page, vec!["b"]);
        assert_eq!(link.as_deref(), Some("</v2/_catalog?n=1&last=b>; rel=\"next\""));
        let (page, link) = paginate(all, &HashMap::new(), "/v2/_catalog");
        assert_eq!(page.len(), 3);
        assert_eq!(link, None);
    }

    #[test]
    fn routes_should_refuse_names_outside_the_grammar() {
        assert!(matches!(route("/v2/a/../b/manifests/v1"), Err(e) if e.code == "NAME_INVALID"));
        assert!(matches!(route("/v2/team/app/blobs/uploads/"), Ok(Route::Uploads(n)) if n == "team/app"));
        assert!(matches!(route("/v2/token"), Ok(Route::Token)));
    }
}
