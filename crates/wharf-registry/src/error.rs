//! Errors: [`RegistryError`] for setting up and maintaining the registry, and the protocol
//! error ([`ApiError`]) that becomes the Distribution Spec's JSON error body in one place.

use std::path::PathBuf;

use bytes::Bytes;
use http::{header, Response, StatusCode};
use serde_json::{json, Value};

use crate::{finish, Body};

/// Errors of setting up or maintaining the registry, outside one request's protocol errors.
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
    /// A stored record could not be decoded.
    #[error("registry metadata at {key} is corrupt: {reason}")]
    Corrupt {
        /// The key holding the record.
        key: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A name given to a registry operation is not acceptable.
    #[error("invalid {what} {value:?}")]
    Invalid {
        /// What kind of name (repository, credential, ...).
        what: &'static str,
        /// The rejected value.
        value: String,
    },
    /// A registry operation was refused with a Distribution Spec error.
    #[error("registry refused the operation: {code}: {message}")]
    Refused {
        /// The OCI error code.
        code: &'static str,
        /// The message.
        message: String,
    },
    /// A background task of the registry panicked or was cancelled.
    #[error("registry background task failed: {0}")]
    Task(String),
}

/// `Result` with [`RegistryError`].
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// A protocol error: HTTP status plus an OCI error code (and, for 401, the challenge).
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub detail: Box<Value>,
    pub challenge: Option<Box<str>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), detail: Box::new(Value::Null), challenge: None }
    }
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = Box::new(detail);
        self
    }
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "registry internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", "internal error")
    }
    pub fn unauthorized(challenge: String) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "authentication required");
        e.challenge = Some(challenge.into_boxed_str());
        e
    }
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "DENIED", message)
    }
    pub fn name_unknown(name: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "repository name not known to registry")
            .detail(json!({ "name": name }))
    }
    pub fn blob_unknown(digest: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown to registry").detail(json!({ "digest": digest }))
    }
    pub fn upload_unknown() -> Self {
        Self::new(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
    }
    pub fn upload_invalid(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID", msg)
    }
    pub fn digest_invalid(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", msg)
    }
    pub fn manifest_invalid(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", msg)
    }
    pub fn manifest_unknown(reference: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", "manifest unknown to registry")
            .detail(json!({ "reference": reference }))
    }
    pub fn name_invalid(name: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "NAME_INVALID", "invalid repository name").detail(json!({ "name": name }))
    }
    pub fn unsupported() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", "the operation is unsupported")
    }

    /// The Distribution Spec error body.
    pub fn response(self) -> Response<Body> {
        let body = json!({ "errors": [{ "code": self.code, "message": self.message, "detail": self.detail }] });
        let mut b = Response::builder().status(self.status).header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = &self.challenge {
            b = b.header(header::WWW_AUTHENTICATE, c.as_ref());
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

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        ApiError::internal(e)
    }
}

pub(crate) type ApiResult<T> = std::result::Result<T, ApiError>;
