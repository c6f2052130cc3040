//! OIDC identity providers for `AssumeRoleWithWebIdentity`: JSON Web Token verification
//! (RS256 and ES256 over JWKS keys) and the in-memory registry of issuer keys. Wharf's own
//! clusters are the issuers (service-account tokens), so their keys are registered
//! in-process with [`crate::Iam::set_issuer_keys`] instead of being fetched over HTTPS.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One JSON Web Key (the fields RS256 and ES256 need).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Jwk {
    /// `RSA` or `EC`.
    pub kty: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// RSA modulus (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA exponent (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// EC curve (`P-256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// Why a web identity token was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not a JWT, or its header or claims do not decode.
    #[error("{0}")]
    Malformed(String),
    /// No key of the issuer verifies the signature.
    #[error("the token signature is not valid")]
    BadSignature,
    /// Past `exp` (or before `nbf`).
    #[error("token is expired")]
    Expired,
}

fn b64(s: &str) -> Result<Vec<u8>, JwtError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| JwtError::Malformed("token segment is not base64url".into()))
}

/// The unverified claims of a JWT (to find its issuer before verifying).
pub fn peek_claims(token: &str) -> Result<Value, JwtError> {
    let mut parts = token.split('.');
    let (Some(_), Some(claims), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed("token is not a JWT".into()));
    };
    serde_json::from_slice(&b64(claims)?).map_err(|_| JwtError::Malformed("token claims are not JSON".into()))
}

fn verify_with(alg: &str, key: &Jwk, msg: &[u8], sig: &[u8]) -> bool {
    use ring::signature;
    match (alg, key.kty.as_str()) {
        ("RS256", "RSA") => {
            let (Some(n), Some(e)) = (key.n.as_deref().and_then(|n| b64(n).ok()), key.e.as_deref().and_then(|e| b64(e).ok())) else {
                return false;
            };
            signature::RsaPublicKeyComponents { n: &n, e: &e }.verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig).is_ok()
        }
        ("ES256", "EC") if key.crv.as_deref() == Some("P-256") => {
            let (Some(x), Some(y)) = (key.x.as_deref().and_then(|x| b64(x).ok()), key.y.as_deref().and_then(|y| b64(y).ok())) else {
                return false;
            };
            let mut point = vec![4u8];
            point.extend(x);
            point.extend(y);
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(msg, sig).is_ok()
        }
        _ => false,
    }
}

/// Verifies a JWT's signature against `keys` and its `exp`/`nbf` at `now`; returns the claims.
pub fn verify_jwt(token: &str, keys: &[Jwk], now: i64) -> Result<Value, JwtError> {
    let segs: Vec<&str> = token.split('.').collect();
    if segs.len() != 3 {
        return Err(JwtError::Malformed("token is not a JWT".into()));
    }
    let header: Value = serde_json::from_slice(&b64(segs[0])?).map_err(|_| JwtError::Malformed("token header is not JSON".into()))?;
    let alg = header["alg"].as_str().unwrap_or_default();
    let kid = header["kid"].as_str();
    let sig = b64(segs[2])?;
    let msg = format!("{}.{}", segs[0], segs[1]);
    let ok = keys
        .iter()
        .filter(|k| kid.is_none() || k.kid.is_none() || k.kid.as_deref() == kid)
        .any(|k| verify_with(alg, k, msg.as_bytes(), &sig));
    if !ok {
        return Err(JwtError::BadSignature);
    }
    let claims: Value = serde_json::from_slice(&b64(segs[1])?).map_err(|_| JwtError::Malformed("token claims are not JSON".into()))?;
    let exp = claims["exp"].as_i64().ok_or_else(|| JwtError::Malformed("token has no exp".into()))?;
    if now >= exp || claims["nbf"].as_i64().is_some_and(|nbf| now < nbf - 60) {
        return Err(JwtError::Expired);
    }
    Ok(claims)
}

/// The audiences of a token (`aud` is a string or a list).
pub fn audiences(claims: &Value) -> Vec<String> {
    match &claims["aud"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => vec![],
    }
}
