//! The contract between the front door and the crates that implement AWS services
//! ([`Service`]), and the identity provider that authenticates and authorizes callers
//! ([`Identity`], implemented by `wharf-iam`).

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::AwsError;
use crate::protocol::Protocol;
use crate::query::QueryParams;

/// What kind of principal made a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// An unsigned call to an operation that allows it.
    Anonymous,
    /// The account root (Wharf's admin key).
    Root,
    /// An IAM user.
    User {
        /// The user name.
        name: String,
    },
    /// A role session from `AssumeRole*`.
    AssumedRole {
        /// The role's name.
        role_name: String,
        /// The session name.
        session_name: String,
    },
    /// A user's `GetSessionToken` credentials (acts as the user).
    UserSession {
        /// The user name.
        name: String,
    },
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The 12-digit account id.
    pub account: String,
    /// The principal's ARN (as `GetCallerIdentity` reports it).
    pub arn: String,
    /// The unique id (`AIDA...`, `AROA...:session`, or the account id for root).
    pub user_id: String,
    /// The access key the request was signed with.
    pub access_key_id: Option<String>,
    /// What kind of principal.
    pub kind: PrincipalKind,
}

impl Caller {
    /// The caller of an unsigned request.
    pub fn anonymous() -> Self {
        Self { account: String::new(), arn: "anonymous".into(), user_id: String::new(), access_key_id: None, kind: PrincipalKind::Anonymous }
    }
}

/// What an access key id resolves to. `Debug` leaves the secrets out.
#[derive(Clone)]
pub struct Credential {
    /// The secret the request must be signed with.
    pub secret_access_key: String,
    /// The session token temporary credentials require.
    pub session_token: Option<String>,
    /// Expiry of temporary credentials (seconds since the epoch).
    pub expires_at: Option<i64>,
    /// Whom the key belongs to.
    pub caller: Caller,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("expires_at", &self.expires_at)
            .field("caller", &self.caller)
            .finish()
    }
}

/// The outcome of policy evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An Allow statement matched and no Deny did.
    Allow,
    /// No statement allowed the action.
    ImplicitDeny,
    /// A Deny statement matched.
    ExplicitDeny,
}

/// Request-specific condition keys a service passes to authorization
/// (`aws:RequestTag/team`, `aws:TagKeys`, `iam:AWSServiceName`, `ecr:...`), each with its values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConditionKeys(pub Vec<(String, Vec<String>)>);

impl ConditionKeys {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a single-valued key.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.push((key.into(), vec![value.into()]));
        self
    }
    /// Adds a multi-valued key.
    pub fn with_all(mut self, key: impl Into<String>, values: Vec<String>) -> Self {
        self.0.push((key.into(), values));
        self
    }
}

/// Authentication and authorization, as IAM provides them.
#[async_trait]
pub trait Identity: Send + Sync + 'static {
    /// The credential behind an access key id; `None` if unknown.
    async fn credential(&self, access_key_id: &str) -> Result<Option<Credential>, AwsError>;
    /// Whether the request's caller may perform `action` (`service:Operation`) on `resource`,
    /// given the request's own condition keys (global keys are the identity's business).
    async fn authorize(&self, ctx: &RequestContext, action: &str, resource: &str, keys: &ConditionKeys) -> Result<Decision, AwsError>;
}

/// Everything a service knows about the request besides its input.
#[derive(Clone)]
pub struct RequestContext {
    /// The request id echoed in headers and bodies.
    pub request_id: String,
    /// Who is calling.
    pub caller: Caller,
    /// The region from the signature scope (or the front door's default).
    pub region: String,
    /// The operation name (`CreateUser`).
    pub operation: String,
    /// The client address, when the listener supplied it.
    pub source_ip: Option<IpAddr>,
    /// The identity provider, for authorization.
    pub identity: Arc<dyn Identity>,
    /// Seconds since the epoch when the request arrived.
    pub now: i64,
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("request_id", &self.request_id)
            .field("caller", &self.caller)
            .field("region", &self.region)
            .field("operation", &self.operation)
            .finish()
    }
}

impl RequestContext {
    /// Authorizes `action` on `resource`, or returns AWS's `AccessDenied` naming both.
    pub async fn authorize(&self, action: &str, resource: &str) -> Result<(), AwsError> {
        self.authorize_with(action, resource, &ConditionKeys::default()).await
    }

    /// [`RequestContext::authorize`] with request-specific condition keys.
    pub async fn authorize_with(&self, action: &str, resource: &str, keys: &ConditionKeys) -> Result<(), AwsError> {
        match self.identity.authorize(self, action, resource, keys).await? {
            Decision::Allow => Ok(()),
            Decision::ImplicitDeny => Err(AwsError::access_denied(format!(
                "User: {} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action",
                self.caller.arn
            ))),
            Decision::ExplicitDeny => Err(AwsError::access_denied(format!(
                "User: {} is not authorized to perform: {action} on resource: {resource} with an explicit deny in an identity-based policy",
                self.caller.arn
            ))),
        }
    }
}

/// A request's input, decoded per protocol.
#[derive(Debug, Clone)]
pub enum Input {
    /// Query and EC2 protocols: the form parameters (without `Action`/`Version`).
    Query(QueryParams),
    /// JSON protocol: the body (`{}` when empty).
    Json(serde_json::Value),
    /// REST-JSON: the request as received.
    Rest {
        /// Method.
        method: http::Method,
        /// Path as sent (percent-encoded).
        path: String,
        /// Decoded query pairs.
        query: Vec<(String, String)>,
        /// Headers.
        headers: http::HeaderMap,
        /// Body.
        body: Bytes,
    },
}

/// A service's successful result, serialized by the front door per protocol.
#[derive(Debug, Clone)]
pub enum Output {
    /// Query: the inside of `<OpResult>`; EC2: the inside of `<OpResponse>` after `requestId`.
    Xml(String),
    /// Query: a response without a result element.
    Empty,
    /// JSON and REST-JSON: the body.
    Json(serde_json::Value),
    /// REST-JSON: a body with an explicit status.
    JsonStatus(http::StatusCode, serde_json::Value),
}

/// An AWS service the front door routes to.
#[async_trait]
pub trait Service: Send + Sync + 'static {
    /// The SigV4 signing name (`iam`, `sts`, `ecr`, `eks`, `ec2`, `logs`, `monitoring`).
    fn signing_name(&self) -> &'static str;
    /// The wire protocol and how requests are recognized.
    fn protocol(&self) -> Protocol;
    /// Whether the service implements `operation`.
    fn has_operation(&self, operation: &str) -> bool;
    /// Operations callable without a signature (`AssumeRoleWithWebIdentity`).
    fn is_unauthenticated(&self, _operation: &str) -> bool {
        false
    }
    /// REST-JSON: the operation a method and path name, if this service serves it.
    fn resolve_rest(&self, _method: &http::Method, _path: &str) -> Option<String> {
        None
    }
    /// Runs an operation.
    async fn call(&self, ctx: &RequestContext, operation: &str, input: Input) -> Result<Output, AwsError>;
}
