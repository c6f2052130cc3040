//! EKS IAM authentication tokens (`aws eks get-token`): `k8s-aws-v1.` followed by the
//! base64url of a presigned STS `GetCallerIdentity` URL whose signature covers the
//! `x-k8s-aws-id: <cluster>` header. Verified here as aws-iam-authenticator does: only
//! `Action`, `Version` and `X-Amz-*` parameters, the cluster header signed, and valid for
//! 15 minutes from `X-Amz-Date` (the 60-second `X-Amz-Expires` the CLI writes is not what
//! bounds it).

use base64::Engine as _;
use wharf_aws::sigv4;
use wharf_aws::{AuthFailure, Caller, Identity};

use crate::Iam;

/// The token prefix.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The signed header naming the cluster.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// How long a token is valid after its `X-Amz-Date`.
pub const TOKEN_LIFETIME_SECS: i64 = 15 * 60;

/// Why a token was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a `k8s-aws-v1.` token, or its URL is not a presigned `GetCallerIdentity`.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// Signed for another cluster.
    #[error("token is for another cluster")]
    WrongCluster,
    /// Older than 15 minutes (or from the future).
    #[error("token has expired")]
    Expired,
    /// The signature or the credentials are not valid.
    #[error("token signature is not valid: {0}")]
    Invalid(String),
}

impl Iam {
    /// Verifies an EKS token for `cluster` at time `now`, returning the caller it proves.
    pub async fn verify_eks_token(&self, token: &str, cluster: &str, now: i64) -> Result<Caller, TokenError> {
        let enc = token.strip_prefix(TOKEN_PREFIX).ok_or_else(|| TokenError::Malformed("missing k8s-aws-v1. prefix".into()))?;
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(enc.trim_end_matches('='))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| TokenError::Malformed("token is not base64url".into()))?;
        let uri: http::Uri = url.parse().map_err(|_| TokenError::Malformed("token is not a URL".into()))?;
        let host = uri.authority().ok_or_else(|| TokenError::Malformed("URL has no host".into()))?.to_string();
        if uri.path() != "/" {
            return Err(TokenError::Malformed("URL path must be /".into()));
        }
        let pairs = sigv4::query_pairs(uri.query().unwrap_or(""));
        for (k, v) in &pairs {
            let ok = match k.as_str() {
                "Action" => v == "GetCallerIdentity",
                "Version" => v == "2011-06-15",
                k => k.starts_with("X-Amz-"),
            };
            if !ok {
                return Err(TokenError::Malformed(format!("unexpected query parameter {k}")));
            }
        }
        let mut req = http::Request::builder()
            .method(http::Method::GET)
            .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
            .header(http::header::HOST, host)
            .body(())
            .map_err(|e| TokenError::Malformed(e.to_string()))?;
        let cluster_value = http::HeaderValue::from_str(cluster).map_err(|_| TokenError::WrongCluster)?;
        req.headers_mut().insert(CLUSTER_ID_HEADER, cluster_value);
        let (parts, _) = req.into_parts();
        let mut signed = match sigv4::parse(&parts) {
            Ok(Some(s)) if s.presigned_expires.is_some() => s,
            Ok(_) => return Err(TokenError::Malformed("URL is not presigned".into())),
            Err(e) => return Err(TokenError::Malformed(e.to_string())),
        };
        if !signed.signed_headers.iter().any(|h| h == CLUSTER_ID_HEADER) {
            return Err(TokenError::Malformed(format!("{CLUSTER_ID_HEADER} is not signed")));
        }
        if signed.service != "sts" {
            return Err(TokenError::Malformed("token is not signed for sts".into()));
        }
        if now > signed.timestamp + TOKEN_LIFETIME_SECS {
            return Err(TokenError::Expired);
        }
        signed.presigned_expires = Some(TOKEN_LIFETIME_SECS);
        let cred = self
            .credential(&signed.access_key_id)
            .await
            .map_err(|e| TokenError::Invalid(e.message))?
            .ok_or_else(|| TokenError::Invalid(AuthFailure::InvalidToken.to_string()))?;
        if let Some(tok) = &cred.session_token {
            if signed.security_token.as_deref() != Some(tok.as_str()) {
                return Err(TokenError::Invalid(AuthFailure::InvalidToken.to_string()));
            }
        }
        match sigv4::verify(&parts, &signed, b"", &cred.secret_access_key, now) {
            Ok(()) => {}
            Err(AuthFailure::RequestExpired) => return Err(TokenError::Expired),
            // A different cluster name changes the canonical request: same symptom as tampering.
            Err(e) => return Err(TokenError::Invalid(e.to_string())),
        }
        if cred.expires_at.is_some_and(|e| e <= now) {
            return Err(TokenError::Expired);
        }
        Ok(cred.caller)
    }
}
