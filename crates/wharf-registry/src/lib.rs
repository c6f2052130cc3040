//! Wharf's OCI registry: the OCI Distribution Spec v1.1 data plane under `/v2/`.
//!
//! [`Registry::handle`] serves one HTTP request; the binary mounts it on a hyper listener.
//! Blobs (and manifests, which are blobs too) live content-addressed on disk under
//! `data_dir/blobs/sha256/ab/abcdef…`; an upload streams into `data_dir/uploads/` while it is
//! hashed, is fsynced, verified against the client's digest and only then renamed into place.
//! Which repository holds which blob, tags, manifest metadata and referrers are keys in the
//! [`wharf_store::KvStore`] under `/oci/`:
//!
//! - `/oci/catalog/<name>` — the repository exists
//! - `/oci/repos/<name>/_blobs/<digest>` — the blob is linked into the repository (value: size)
//! - `/oci/repos/<name>/_manifests/<digest>` — manifest metadata (JSON)
//! - `/oci/repos/<name>/_tags/<tag>` — the tag's digest
//! - `/oci/repos/<name>/_referrers/<subject>/<digest>` — a referrer's descriptor (JSON)
//!
//! Repository path components never start with `_`, so these keys cannot collide.

mod names;

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use wharf_store::{prefix_end, KvStore, Op, RangeRequest, TxnRequest};

pub use names::{valid_digest, valid_name, valid_tag};

/// The response body type of [`Registry::handle`].
pub type Body = BoxBody<Bytes, Infallible>;

/// Largest manifest accepted by `PUT /v2/<name>/manifests/<reference>`.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const MANIFEST_TYPES: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/// How clients authenticate. Designed to grow IAM-backed bearer tokens later.
#[derive(Debug, Clone)]
pub enum Auth {
    /// Every request is allowed.
    None,
    /// HTTP Basic with one user.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
}

/// Errors of setting up or running the registry outside one request's protocol errors.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A file or directory under the data directory could not be used.
    #[error("registry storage at {path} failed: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key-value store failed.
    #[error("registry metadata store failed: {0}")]
    Store(#[from] wharf_store::StoreError),
}

/// A protocol error: HTTP status plus an OCI error code.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    detail: Value,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), detail: Value::Null }
    }
    fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
    fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "registry internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", "internal error")
    }
    fn name_unknown(name: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "repository name not known to registry")
            .detail(json!({ "name": name }))
    }
    fn blob_unknown(digest: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown to registry").detail(json!({ "digest": digest }))
    }
    fn upload_unknown() -> Self {
        Self::new(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
    }
    fn digest_invalid(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", msg)
    }
    fn manifest_unknown(reference: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", "manifest unknown to registry")
            .detail(json!({ "reference": reference }))
    }
    fn response(self) -> Response<Body> {
        let body = json!({ "errors": [{ "code": self.code, "message": self.message, "detail": self.detail }] });
        let mut b = Response::builder().status(self.status).header(header::CONTENT_TYPE, "application/json");
        if self.code == "UNAUTHORIZED" {
            b = b.header(header::WWW_AUTHENTICATE, r#"Basic realm="wharf""#);
        }
        finish(b, Bytes::from(body.to_string()))
    }
}

impl From<wharf_store::StoreError> for ApiError {
    fn from(e: wharf_store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::internal(e)
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn finish(b: http::response::Builder, body: Bytes) -> Response<Body> {
    b.header("Docker-Distribution-API-Version", "registry/2.0").body(Full::new(body).boxed()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "building registry response");
        let mut r = Response::new(Full::new(Bytes::new()).boxed());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// Streams `len` bytes of `file` (already positioned) as the response body, 64 KiB at a time.
fn stream_file(b: http::response::Builder, file: tokio::fs::File, len: u64, digest: String) -> Response<Body> {
    const CHUNK: u64 = 64 * 1024;
    let stream = futures::stream::unfold((file, len), move |(mut file, remaining)| {
        let digest = digest.clone();
        async move {
            if remaining == 0 {
                return None;
            }
            let mut buf = vec![0u8; remaining.min(CHUNK) as usize];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((
                        Ok::<_, Infallible>(hyper::body::Frame::data(Bytes::from(buf))),
                        (file, remaining - n as u64),
                    ))
                }
                Err(e) => {
                    tracing::error!(error = %e, %digest, "reading blob");
                    None
                }
            }
        }
    });
    b.header("Docker-Distribution-API-Version", "registry/2.0")
        .body(http_body_util::StreamBody::new(stream).boxed())
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "building registry response");
            let mut r = Response::new(Full::new(Bytes::new()).boxed());
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}

/// An upload in progress (kept in memory; uploads do not survive a restart).
#[derive(Clone)]
struct Upload {
    repo: String,
    offset: u64,
    hasher: Sha256,
    /// A request is writing to this upload; others are refused until it ends.
    busy: bool,
}

/// Ends an upload when dropped: forgets its state and removes its temp file (if any).
/// Request paths that keep the upload alive `mem::forget` it and put the state back.
struct UploadGuard<'a> {
    registry: &'a Registry,
    id: &'a str,
}

impl Drop for UploadGuard<'_> {
    fn drop(&mut self) {
        self.registry.forget(self.id);
        let _ = std::fs::remove_file(self.registry.uploads_dir.join(self.id));
    }
}

/// The OCI registry over a data directory and a metadata store.
pub struct Registry {
    blobs: PathBuf,
    uploads_dir: PathBuf,
    store: Arc<dyn KvStore>,
    auth: Auth,
    uploads: Mutex<HashMap<String, Upload>>,
}

/// What a `/v2/...` path addresses.
enum Route {
    Base,
    Catalog,
    Uploads(String),
    Upload(String, String),
    Blob(String, String),
    Manifest(String, String),
    Tags(String),
    Referrers(String, String),
}

fn route(path: &str) -> ApiResult<Route> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint");
    let rest = match path {
        "/v2" | "/v2/" => return Ok(Route::Base),
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
            Err(ApiError::new(StatusCode::BAD_REQUEST, "NAME_INVALID", "invalid repository name")
                .detail(json!({ "name": name })))
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
    format!("/oci/repos/{name}/{kind}/{rest}").into_bytes()
}

/// Reads the next data chunk of a request body.
async fn next_chunk<B>(body: &mut B) -> ApiResult<Option<Bytes>>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    loop {
        match body.frame().await {
            None => return Ok(None),
            Some(Err(e)) => {
                return Err(ApiError::new(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID", format!("reading body: {e}")))
            }
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

impl Registry {
    /// Opens the registry over `data_dir` (creating `blobs/` and `uploads/`; stale uploads from
    /// a previous run are removed) and the metadata `store`.
    pub fn new(data_dir: &Path, store: Arc<dyn KvStore>, auth: Auth) -> Result<Self, RegistryError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RegistryError::Io { path, source }
        };
        let blobs = data_dir.join("blobs").join("sha256");
        let uploads_dir = data_dir.join("uploads");
        std::fs::create_dir_all(&blobs).map_err(io(&blobs))?;
        if uploads_dir.exists() {
            std::fs::remove_dir_all(&uploads_dir).map_err(io(&uploads_dir))?;
        }
        std::fs::create_dir_all(&uploads_dir).map_err(io(&uploads_dir))?;
        Ok(Self { blobs, uploads_dir, store, auth, uploads: Mutex::new(HashMap::new()) })
    }

    /// Serves one request under `/v2/`.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        match self.serve(req).await {
            Ok(r) => r,
            Err(e) => e.response(),
        }
    }

    fn authorized(&self, headers: &http::HeaderMap) -> bool {
        match &self.auth {
            Auth::None => true,
            Auth::Basic { user, password } => {
                use base64::Engine as _;
                let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
                    return false;
                };
                let Some(b64) = v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")) else {
                    return false;
                };
                let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
                    return false;
                };
                let expected = format!("{user}:{password}");
                constant_time_eq(&raw, expected.as_bytes())
            }
        }
    }

    async fn serve<B>(&self, req: Request<B>) -> ApiResult<Response<Body>>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        if !self.authorized(req.headers()) {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "authentication required"));
        }
        let route = route(req.uri().path())?;
        let q = query(req.uri());
        let method = req.method().clone();
        let head = method == Method::HEAD;
        let unsupported = || ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", "method not allowed");
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
            (Route::Uploads(name), Method::POST) => self.start_upload(&name, &q, req.into_body()).await,
            (Route::Upload(name, id), Method::GET) => self.upload_status(&name, &id),
            (Route::Upload(name, id), Method::PATCH) => {
                let range = req.headers().get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).map(String::from);
                self.patch_upload(&name, &id, range.as_deref(), req.into_body()).await
            }
            (Route::Upload(name, id), Method::PUT) => self.finish_upload(&name, &id, &q, req.into_body()).await,
            (Route::Upload(name, id), Method::DELETE) => self.cancel_upload(&name, &id).await,
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
            _ => Err(unsupported()),
        }
    }

    // ---- storage helpers ----

    fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = hex_of(digest);
        self.blobs.join(&hex[..2.min(hex.len())]).join(hex)
    }

    async fn linked(&self, name: &str, digest: &str) -> ApiResult<bool> {
        Ok(self.store.get(repo_key(name, "_blobs", digest)).await?.is_some()
            && tokio::fs::try_exists(self.blob_path(digest)).await.unwrap_or(false))
    }

    async fn repo_exists(&self, name: &str) -> ApiResult<bool> {
        Ok(self.store.get(format!("/oci/catalog/{name}").into_bytes()).await?.is_some())
    }

    async fn link(&self, name: &str, digest: &str, size: u64) -> ApiResult<()> {
        self.store
            .txn(TxnRequest {
                compare: vec![],
                success: vec![
                    Op::put(format!("/oci/catalog/{name}"), Vec::new()),
                    Op::put(repo_key(name, "_blobs", digest), size.to_string()),
                ],
                failure: vec![],
            })
            .await?;
        Ok(())
    }

    /// Moves a verified, fsynced temp file to its content address.
    async fn commit(&self, tmp: &Path, digest: &str) -> ApiResult<()> {
        let dest = self.blob_path(digest);
        let dir = dest.parent().map(Path::to_path_buf).unwrap_or_else(|| self.blobs.clone());
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::rename(tmp, &dest).await?;
        let d = dir.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(&d).and_then(|f| f.sync_all()))
            .await
            .map_err(ApiError::internal)??;
        Ok(())
    }

    /// Streams `body` to the end of `file`, hashing it; returns bytes written.
    async fn append<B>(file: &mut tokio::fs::File, hasher: &mut Sha256, body: &mut B) -> ApiResult<u64>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let mut n = 0u64;
        while let Some(chunk) = next_chunk(body).await? {
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
            n += chunk.len() as u64;
        }
        Ok(n)
    }

    /// Verifies the hash against `digest`, then fsyncs and commits `tmp`; removes it on failure.
    async fn verify_and_commit(
        &self,
        tmp: &Path,
        file: tokio::fs::File,
        hasher: Sha256,
        digest: &str,
    ) -> ApiResult<()> {
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != digest {
            drop(file);
            let _ = tokio::fs::remove_file(tmp).await;
            return Err(ApiError::digest_invalid("provided digest did not match uploaded content")
                .detail(json!({ "expected": digest, "actual": actual })));
        }
        let res = async {
            file.sync_all().await?;
            drop(file);
            self.commit(tmp, digest).await
        }
        .await;
        if res.is_err() {
            let _ = tokio::fs::remove_file(tmp).await;
        }
        res
    }

    fn require_digest(q: &HashMap<String, String>) -> ApiResult<String> {
        let d = q.get("digest").ok_or_else(|| ApiError::digest_invalid("digest parameter missing"))?;
        if !valid_digest(d) {
            return Err(ApiError::digest_invalid("unsupported or malformed digest").detail(json!({ "digest": d })));
        }
        Ok(d.clone())
    }

    fn upload_response(status: StatusCode, name: &str, id: &str, offset: u64) -> Response<Body> {
        let mut b = Response::builder()
            .status(status)
            .header(header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}"))
            .header("Docker-Upload-UUID", id)
            .header(header::CONTENT_LENGTH, "0");
        b = b.header(header::RANGE, format!("0-{}", offset.saturating_sub(1)));
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
        if !self.linked(name, digest).await? {
            return Err(ApiError::blob_unknown(digest));
        }
        let path = self.blob_path(digest);
        let size = tokio::fs::metadata(&path).await?.len();
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
        if head {
            return Ok(finish(b, Bytes::new()));
        }
        let mut file = tokio::fs::File::open(&path).await?;
        file.seek(std::io::SeekFrom::Start(start)).await?;
        Ok(stream_file(b, file, len, digest.to_string()))
    }

    async fn delete_blob(&self, name: &str, digest: &str) -> ApiResult<Response<Body>> {
        if !valid_digest(digest) {
            return Err(ApiError::digest_invalid("malformed digest"));
        }
        if self.store.get(repo_key(name, "_blobs", digest)).await?.is_none() {
            return Err(ApiError::blob_unknown(digest));
        }
        self.store
            .txn(TxnRequest {
                compare: vec![],
                success: vec![Op::delete(repo_key(name, "_blobs", digest))],
                failure: vec![],
            })
            .await?;
        Ok(finish(Response::builder().status(StatusCode::ACCEPTED).header(header::CONTENT_LENGTH, "0"), Bytes::new()))
    }

    async fn start_upload<B>(&self, name: &str, q: &HashMap<String, String>, mut body: B) -> ApiResult<Response<Body>>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        if let (Some(mount), Some(from)) = (q.get("mount"), q.get("from")) {
            if valid_digest(mount) && valid_name(from) && self.linked(from, mount).await? {
                let size = tokio::fs::metadata(self.blob_path(mount)).await?.len();
                self.link(name, mount, size).await?;
                return Ok(Self::created_blob(name, mount));
            }
        }
        let id = Self::new_upload_id();
        let tmp = self.uploads_dir.join(&id);
        let mut file = tokio::fs::File::create(&tmp).await?;
        if q.contains_key("digest") {
            let digest = match Self::require_digest(q) {
                Ok(d) => d,
                Err(e) => {
                    drop(file);
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(e);
                }
            };
            let mut hasher = Sha256::new();
            let size = match Self::append(&mut file, &mut hasher, &mut body).await {
                Ok(n) => n,
                Err(e) => {
                    drop(file);
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(e);
                }
            };
            self.verify_and_commit(&tmp, file, hasher, &digest).await?;
            self.link(name, &digest, size).await?;
            return Ok(Self::created_blob(name, &digest));
        }
        drop(file);
        self.uploads
            .lock()
            .map_err(ApiError::internal)?
            .insert(id.clone(), Upload { repo: name.to_string(), offset: 0, hasher: Sha256::new(), busy: false });
        Ok(Self::upload_response(StatusCode::ACCEPTED, name, &id, 0))
    }

    /// Marks the upload busy and returns a copy of its state; the caller ends with
    /// [`Self::put_back`] (success) or [`Self::forget`] (the upload is dead).
    fn take_upload(&self, name: &str, id: &str) -> ApiResult<Upload> {
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
        self.uploads.lock().map_err(ApiError::internal)?.insert(id.to_string(), up);
        Ok(())
    }

    fn forget(&self, id: &str) {
        if let Ok(mut map) = self.uploads.lock() {
            map.remove(id);
        }
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
        let guard = UploadGuard { registry: self, id };
        if let Some(r) = range {
            let start =
                r.trim().trim_start_matches("bytes ").split('-').next().and_then(|s| s.trim().parse::<u64>().ok());
            if start != Some(up.offset) {
                let offset = up.offset;
                std::mem::forget(guard);
                self.put_back(id, up)?;
                return Ok(Self::upload_response(StatusCode::RANGE_NOT_SATISFIABLE, name, id, offset));
            }
        }
        // Any failure below (including the request being dropped) kills the upload via the guard.
        let tmp = self.uploads_dir.join(id);
        let mut file = tokio::fs::OpenOptions::new().append(true).open(&tmp).await?;
        up.offset += Self::append(&mut file, &mut up.hasher, &mut body).await?;
        let offset = up.offset;
        std::mem::forget(guard);
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
        let mut up = self.take_upload(name, id)?;
        let digest = match Self::require_digest(q) {
            Ok(d) => d,
            Err(e) => {
                self.put_back(id, up)?;
                return Err(e);
            }
        };
        // From here on the upload ends, whatever happens: the guard removes its state and file.
        let _guard = UploadGuard { registry: self, id };
        let tmp = self.uploads_dir.join(id);
        let mut file = tokio::fs::OpenOptions::new().append(true).open(&tmp).await?;
        up.offset += Self::append(&mut file, &mut up.hasher, &mut body).await?;
        self.verify_and_commit(&tmp, file, up.hasher, &digest).await?;
        self.link(name, &digest, up.offset).await?;
        Ok(Self::created_blob(name, &digest))
    }

    async fn cancel_upload(&self, name: &str, id: &str) -> ApiResult<Response<Body>> {
        self.take_upload(name, id)?;
        drop(UploadGuard { registry: self, id });
        Ok(finish(Response::builder().status(StatusCode::NO_CONTENT), Bytes::new()))
    }

    // ---- manifests ----

    async fn resolve(&self, name: &str, reference: &str) -> ApiResult<String> {
        if valid_digest(reference) {
            return Ok(reference.to_string());
        }
        if !valid_tag(reference) {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", "invalid tag")
                .detail(json!({ "reference": reference })));
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
        let meta = self.store.get(repo_key(name, "_manifests", &digest)).await?;
        let meta = meta.ok_or_else(|| ApiError::manifest_unknown(reference))?;
        let meta: Value = serde_json::from_slice(&meta.value).map_err(ApiError::internal)?;
        let media_type = meta["mediaType"].as_str().unwrap_or(OCI_MANIFEST).to_string();
        let data = tokio::fs::read(self.blob_path(&digest)).await?;
        let b = Response::builder()
            .header(header::CONTENT_TYPE, media_type)
            .header("Docker-Content-Digest", &digest)
            .header(header::ETAG, format!("\"{digest}\""))
            .header(header::CONTENT_LENGTH, data.len().to_string());
        Ok(finish(b, if head { Bytes::new() } else { Bytes::from(data) }))
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
        let invalid = |msg: &str| ApiError::new(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", msg.to_string());
        let doc: Value = serde_json::from_slice(&buf).map_err(|e| invalid(&format!("manifest is not JSON: {e}")))?;
        let media_type = content_type
            .filter(|c| MANIFEST_TYPES.contains(&c.as_str()))
            .or_else(|| doc["mediaType"].as_str().filter(|m| MANIFEST_TYPES.contains(m)).map(String::from))
            .ok_or_else(|| invalid("unsupported manifest media type"))?;
        if let Some(m) = doc["mediaType"].as_str() {
            if m != media_type {
                return Err(invalid("mediaType does not match Content-Type"));
            }
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
            return Err(invalid("invalid tag"));
        };

        // Every referenced blob or child manifest must exist in this repository.
        let is_index = media_type == OCI_INDEX || media_type == DOCKER_LIST;
        let mut missing = Vec::new();
        if is_index {
            for m in doc["manifests"].as_array().into_iter().flatten() {
                let d = m["digest"].as_str().unwrap_or("");
                if self.store.get(repo_key(name, "_manifests", d)).await?.is_none() {
                    missing.push(d.to_string());
                }
            }
        } else {
            let config = doc.get("config").into_iter();
            for desc in config.chain(doc["layers"].as_array().into_iter().flatten()) {
                if desc.get("urls").is_some() {
                    continue; // foreign layer
                }
                let d = desc["digest"].as_str().unwrap_or("");
                if !valid_digest(d) || !self.linked(name, d).await? {
                    missing.push(d.to_string());
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

        // The manifest itself is a blob.
        let tmp = self.uploads_dir.join(Self::new_upload_id());
        let mut file = tokio::fs::File::create(&tmp).await?;
        file.write_all(&buf).await?;
        let mut hasher = Sha256::new();
        hasher.update(&buf);
        self.verify_and_commit(&tmp, file, hasher, &digest).await?;

        let subject = doc["subject"]["digest"].as_str().filter(|d| valid_digest(d)).map(String::from);
        let artifact_type = doc["artifactType"]
            .as_str()
            .or_else(|| doc["config"]["mediaType"].as_str())
            .unwrap_or(&media_type)
            .to_string();
        let meta =
            json!({ "mediaType": media_type, "size": buf.len(), "artifactType": artifact_type, "subject": subject });
        let mut ops = vec![
            Op::put(format!("/oci/catalog/{name}"), Vec::new()),
            Op::put(repo_key(name, "_blobs", &digest), buf.len().to_string()),
            Op::put(repo_key(name, "_manifests", &digest), meta.to_string()),
        ];
        if let Some(t) = &tag {
            ops.push(Op::put(repo_key(name, "_tags", t), digest.clone()));
        }
        if let Some(s) = &subject {
            let mut desc =
                json!({ "mediaType": media_type, "digest": digest, "size": buf.len(), "artifactType": artifact_type });
            if let Some(a) = doc.get("annotations") {
                desc["annotations"] = a.clone();
            }
            ops.push(Op::put(repo_key(name, "_referrers", &format!("{s}/{digest}")), desc.to_string()));
        }
        self.store.txn(TxnRequest { compare: vec![], success: ops, failure: vec![] }).await?;
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

    async fn delete_manifest(&self, name: &str, reference: &str) -> ApiResult<Response<Body>> {
        let accepted = || {
            finish(Response::builder().status(StatusCode::ACCEPTED).header(header::CONTENT_LENGTH, "0"), Bytes::new())
        };
        if !valid_digest(reference) {
            // Deleting a tag removes only the tag.
            if self.store.get(repo_key(name, "_tags", reference)).await?.is_none() {
                return Err(ApiError::manifest_unknown(reference));
            }
            self.store
                .txn(TxnRequest {
                    compare: vec![],
                    success: vec![Op::delete(repo_key(name, "_tags", reference))],
                    failure: vec![],
                })
                .await?;
            return Ok(accepted());
        }
        let meta = self.store.get(repo_key(name, "_manifests", reference)).await?;
        let meta = meta.ok_or_else(|| ApiError::manifest_unknown(reference))?;
        let meta: Value = serde_json::from_slice(&meta.value).map_err(ApiError::internal)?;
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
        self.store.txn(TxnRequest { compare: vec![], success: ops, failure: vec![] }).await?;
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
        let all = self.list_keys(b"/oci/catalog/").await?;
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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
}
