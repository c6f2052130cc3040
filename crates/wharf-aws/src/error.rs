//! AWS errors as services raise them, and the authentication failures of SigV4. How each
//! becomes a wire envelope is decided in one place, [`crate::protocol`].

use http::StatusCode;

/// An error a service returns to the caller: the AWS error code, its message and status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AwsError {
    /// The AWS error code (`NoSuchEntity`, `AccessDenied`, `RepositoryNotFoundException`, ...).
    pub code: String,
    /// The human-readable message.
    pub message: String,
    /// The HTTP status.
    pub status: StatusCode,
    /// Whether the caller is at fault (`Sender`) rather than the service (`Receiver`).
    pub sender_fault: bool,
}

impl AwsError {
    /// A caller-fault error.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), status, sender_fault: status.is_client_error() }
    }
    /// 400 with the given code.
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// IAM/STS-style `ValidationError` (400).
    pub fn validation(message: impl Into<String>) -> Self {
        Self::bad_request("ValidationError", message)
    }
    /// A required parameter is absent (`ValidationError`, AWS's wording).
    pub fn missing_parameter(member: &str) -> Self {
        Self::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(member)
        ))
    }
    /// `AccessDenied` (403).
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDenied", message)
    }
    /// A service-side failure (500, `InternalFailure`); the detail is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal failure serving an AWS request");
        Self {
            code: "InternalFailure".into(),
            message: "The request processing has failed because of an unknown error, exception or failure.".into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
            sender_fault: false,
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Why SigV4 authentication failed. Each protocol names these differently
/// (`SignatureDoesNotMatch` in query services, `InvalidSignatureException` in JSON ones,
/// `AuthFailure` in EC2); [`crate::protocol::Protocol::auth_error`] does the naming.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No Authorization header, no presigned query and the operation needs one.
    #[error("request is missing authentication token")]
    Missing,
    /// The signature parameters are incomplete or malformed.
    #[error("incomplete signature: {0}")]
    Incomplete(String),
    /// The access key id is unknown (or the session token does not belong to it).
    #[error("the security token included in the request is invalid")]
    InvalidToken,
    /// The temporary credentials have expired.
    #[error("the security token included in the request is expired")]
    ExpiredToken,
    /// The signature does not match; the message says why.
    #[error("{0}")]
    SignatureMismatch(String),
    /// A presigned request is past its `X-Amz-Expires`.
    #[error("request has expired")]
    RequestExpired,
}
