//! API errors and their one mapping to `metav1.Status` (the only place that knows HTTP codes).

use serde_json::{json, Value};
use wharf_api::errors::{status_failure, status_invalid};
use wharf_api::FieldError;
use wharf_store::StoreError;

/// A failed API request. Every variant becomes a `metav1.Status` at the edge.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid credentials.
    #[error("Unauthorized")]
    Unauthorized,
    /// 403: the identity may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404 for an object.
    #[error("{resource} \"{name}\" not found")]
    NotFound {
        /// Qualified resource, e.g. `deployments.apps`.
        resource: String,
        /// Group of the resource.
        group: String,
        /// Plural name.
        kind: String,
        /// Object name.
        name: String,
    },
    /// 404 for a path that serves nothing.
    #[error("the server could not find the requested resource")]
    NoRoute,
    /// 405.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the object already exists.
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists {
        /// Qualified resource.
        resource: String,
        /// Group.
        group: String,
        /// Plural.
        kind: String,
        /// Name.
        name: String,
    },
    /// 409: optimistic concurrency failed.
    #[error("Operation cannot be fulfilled on {resource} \"{name}\": {detail}")]
    Conflict {
        /// Qualified resource.
        resource: String,
        /// Group.
        group: String,
        /// Plural.
        kind: String,
        /// Name.
        name: String,
        /// Why.
        detail: String,
    },
    /// 409 from server-side apply: fields owned by other managers.
    #[error("{message}")]
    ApplyConflict {
        /// The message listing conflicts.
        message: String,
        /// One cause per conflicting field.
        causes: Vec<Value>,
    },
    /// 410: the requested resource version is compacted.
    #[error("{0}")]
    Gone(String),
    /// 410 for an expired continue token.
    #[error("{0}")]
    Expired(String),
    /// 429: the request would violate a disruption budget, or the server is busy.
    #[error("{0}")]
    TooManyRequests(String),
    /// 413.
    #[error("Request entity too large: limit is {0}")]
    TooLarge(usize),
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 406.
    #[error("{0}")]
    NotAcceptable(String),
    /// 422 with field errors.
    #[error("{kind} {name:?} is invalid")]
    Invalid {
        /// Group of the kind.
        group: String,
        /// Kind.
        kind: String,
        /// Name.
        name: String,
        /// Every field error.
        errors: Vec<FieldError>,
    },
    /// 422 without field detail (e.g. a patch that does not apply).
    #[error("{0}")]
    Unprocessable(String),
    /// 504: could not reach the requested resource version in time.
    #[error("{0}")]
    Timeout(String),
    /// 500.
    #[error("{0}")]
    Internal(String),
}

/// `Result` with [`ApiError`].
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Compacted { .. } => ApiError::Gone(format!("The resourceVersion for the provided list is too old. {e}")),
            StoreError::FutureRevision => ApiError::Timeout("Too large resource version".into()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Unauthorized => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound { .. } | Self::NoRoute => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::NotAcceptable(_) => 406,
            Self::AlreadyExists { .. } | Self::Conflict { .. } | Self::ApplyConflict { .. } => 409,
            Self::Gone(_) | Self::Expired(_) => 410,
            Self::TooLarge(_) => 413,
            Self::TooManyRequests(_) => 429,
            Self::UnsupportedMediaType(_) => 415,
            Self::Invalid { .. } | Self::Unprocessable(_) => 422,
            Self::Internal(_) => 500,
            Self::Timeout(_) => 504,
        }
    }

    /// The `metav1.Status` body.
    pub fn status(&self) -> Value {
        let msg = self.to_string();
        match self {
            Self::BadRequest(_) => status_failure(400, "BadRequest", &msg, None),
            Self::Unauthorized => status_failure(401, "Unauthorized", &msg, None),
            Self::Forbidden(_) => status_failure(403, "Forbidden", &msg, None),
            Self::NotFound { group, kind, name, .. } => {
                status_failure(404, "NotFound", &msg, Some(json!({"name": name, "group": group, "kind": kind})))
            }
            Self::NoRoute => status_failure(404, "NotFound", &msg, Some(json!({}))),
            Self::MethodNotAllowed(_) => status_failure(405, "MethodNotAllowed", &msg, None),
            Self::NotAcceptable(_) => status_failure(406, "NotAcceptable", &msg, None),
            Self::AlreadyExists { group, kind, name, .. } => {
                status_failure(409, "AlreadyExists", &msg, Some(json!({"name": name, "group": group, "kind": kind})))
            }
            Self::Conflict { group, kind, name, .. } => {
                status_failure(409, "Conflict", &msg, Some(json!({"name": name, "group": group, "kind": kind})))
            }
            Self::ApplyConflict { causes, .. } => status_failure(409, "Conflict", &msg, Some(json!({"causes": causes}))),
            Self::Gone(_) => status_failure(410, "Gone", &msg, None),
            Self::Expired(_) => status_failure(410, "Expired", &msg, None),
            Self::TooManyRequests(_) => status_failure(429, "TooManyRequests", &msg, None),
            Self::TooLarge(_) => status_failure(413, "RequestEntityTooLarge", &msg, None),
            Self::UnsupportedMediaType(_) => status_failure(415, "UnsupportedMediaType", &msg, None),
            Self::Invalid { group, kind, name, errors } => status_invalid(group, kind, name, errors),
            Self::Unprocessable(_) => status_failure(422, "Invalid", &msg, None),
            Self::Internal(_) => status_failure(500, "InternalError", &msg, None),
            Self::Timeout(_) => status_failure(504, "Timeout", &msg, None),
        }
    }
}
