//! AWS Signature Version 4: parsing the signature a request carries (the `Authorization`
//! header or a presigned query string), rebuilding the canonical request exactly as the
//! signer did, and checking the signature, the clock skew and the payload hash.
//!
//! Every service except S3 signs the URI path encoded twice (the path as sent, then
//! URI-encoded again with `/` kept) after removing dot segments and empty segments, which is
//! what [`canonical_uri`] does. S3's single encoding is not implemented.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::AuthFailure;
use crate::time::{format_amz_date, parse_amz_date};

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Hex SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The payload hash a signer uses when it does not sign the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// How far a signature's timestamp may be from the server's clock, in seconds.
pub const MAX_SKEW_SECS: i64 = 15 * 60;
/// The longest `X-Amz-Expires` AWS accepts (7 days).
pub const MAX_PRESIGN_EXPIRES: i64 = 7 * 24 * 3600;

type HmacSha256 = Hmac<Sha256>;

/// The signature a request claims to carry, before it is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The access key id from the credential scope.
    pub access_key_id: String,
    /// `YYYYMMDD` from the scope.
    pub scope_date: String,
    /// The region from the scope.
    pub region: String,
    /// The signing name of the service from the scope (`iam`, `sts`, `ecr`, `eks`, ...).
    pub service: String,
    /// The signed header names, lowercase, as listed.
    pub signed_headers: Vec<String>,
    /// The hex signature.
    pub signature: String,
    /// `X-Amz-Date`.
    pub amz_date: String,
    /// `X-Amz-Date` in seconds since the epoch.
    pub timestamp: i64,
    /// `X-Amz-Expires` for a presigned request; `None` for header authentication.
    pub presigned_expires: Option<i64>,
    /// `X-Amz-Security-Token`, if any.
    pub security_token: Option<String>,
}

impl SignedRequest {
    /// `date/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.scope_date, self.region, self.service)
    }
}

/// Whether the request carries SigV4 in its header or query (without checking it).
pub fn is_signed(parts: &http::request::Parts) -> bool {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-"));
    header || query_pairs(parts.uri.query().unwrap_or("")).iter().any(|(k, _)| k == "X-Amz-Algorithm")
}

/// Decodes `%XX` sequences (not `+`), as SigV4 reads query components.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hexval(b[i + 1]), hexval(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// URI-encodes per SigV4: unreserved characters stay, everything else is `%XX` (uppercase);
/// `/` stays only when `keep_slash`.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The raw query split into decoded `(name, value)` pairs.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// The canonical URI of a (non-S3) request path: dot segments and empty segments removed,
/// then the path as sent is URI-encoded again with `/` kept.
pub fn canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".into();
    }
    let mut out: Vec<&str> = Vec::new();
    for seg in raw_path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut path = format!("/{}", out.join("/"));
    if raw_path.ends_with('/') && path != "/" {
        path.push('/');
    }
    uri_encode(&path, true)
}

/// The canonical query string: every parameter except `X-Amz-Signature`, names and values
/// URI-encoded, sorted by name then value.
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(query)
        .into_iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (uri_encode(&k, false), uri_encode(&v, false)))
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn canonical_header_value(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical headers block (each `name:value\n`) for the signed header names.
pub fn canonical_headers(parts: &http::request::Parts, signed: &[String]) -> String {
    let mut out = String::new();
    for name in signed {
        let values: Vec<String> =
            parts.headers.get_all(name.as_str()).iter().map(|v| canonical_header_value(v.as_bytes())).collect();
        let value = if values.is_empty() && name == "host" {
            parts.uri.authority().map(|a| a.as_str().to_string()).unwrap_or_default()
        } else {
            values.join(",")
        };
        out.push_str(name);
        out.push(':');
        out.push_str(&value);
        out.push('\n');
    }
    out
}

/// The canonical request of `parts` for the given signed headers and payload hash.
pub fn canonical_request(parts: &http::request::Parts, signed_headers: &[String], payload_hash: &str) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        parts.method.as_str(),
        canonical_uri(parts.uri.path()),
        canonical_query(parts.uri.query().unwrap_or("")),
        canonical_headers(parts, signed_headers),
        signed_headers.join(";"),
        payload_hash
    )
}

/// Hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The string to sign.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("hmac accepts any key length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The derived signing key for a secret, date (`YYYYMMDD`), region and service.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// The hex signature of a string to sign.
pub fn signature(key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac(key, string_to_sign.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn parse_scope(credential: &str) -> Result<(String, String, String, String), AuthFailure> {
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() != 5 || parts.iter().any(|p| p.is_empty()) {
        return Err(AuthFailure::Incomplete(format!(
            "Credential should be scoped to a valid region. Credential={credential}"
        )));
    }
    if parts[4] != "aws4_request" {
        return Err(AuthFailure::SignatureMismatch(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            parts[4]
        )));
    }
    Ok((parts[0].into(), parts[1].into(), parts[2].into(), parts[3].into()))
}

fn signed_header_list(s: &str) -> Vec<String> {
    s.split(';').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect()
}

/// Reads the signature a request carries. `Ok(None)`: the request is not signed.
pub fn parse(parts: &http::request::Parts) -> Result<Option<SignedRequest>, AuthFailure> {
    if let Some(auth) = parts.headers.get(http::header::AUTHORIZATION) {
        let auth = auth.to_str().map_err(|_| AuthFailure::Incomplete("Authorization header is not ASCII".into()))?;
        if auth.starts_with("AWS4-") || auth.starts_with("AWS ") {
            return parse_header(parts, auth).map(Some);
        }
    }
    let query = query_pairs(parts.uri.query().unwrap_or(""));
    if query.iter().any(|(k, _)| k == "X-Amz-Algorithm") {
        return parse_presigned(&query).map(Some);
    }
    Ok(None)
}

fn parse_header(parts: &http::request::Parts, auth: &str) -> Result<SignedRequest, AuthFailure> {
    let (alg, rest) = auth.split_once(' ').unwrap_or((auth, ""));
    if alg != ALGORITHM {
        return Err(AuthFailure::Incomplete(format!("Unsupported AWS 'algorithm': '{alg}'")));
    }
    let (mut credential, mut signed, mut sig) = (None, None, None);
    for kv in rest.split(',') {
        if let Some((k, v)) = kv.trim().split_once('=') {
            match k.trim() {
                "Credential" => credential = Some(v.trim()),
                "SignedHeaders" => signed = Some(v.trim()),
                "Signature" => sig = Some(v.trim()),
                _ => {}
            }
        }
    }
    let amz_date = parts.headers.get("x-amz-date").and_then(|v| v.to_str().ok());
    let mut missing = String::new();
    if credential.is_none() {
        missing.push_str("Authorization header requires 'Credential' parameter. ");
    }
    if sig.is_none() {
        missing.push_str("Authorization header requires 'Signature' parameter. ");
    }
    if signed.is_none() {
        missing.push_str("Authorization header requires 'SignedHeaders' parameter. ");
    }
    if amz_date.is_none() {
        missing.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
    }
    let (Some(credential), Some(signed), Some(sig), Some(amz_date)) = (credential, signed, sig, amz_date) else {
        return Err(AuthFailure::Incomplete(format!("{missing}Authorization={ALGORITHM} {rest}")));
    };
    let (access_key_id, scope_date, region, service) = parse_scope(credential)?;
    let timestamp = parse_amz_date(amz_date)
        .ok_or_else(|| AuthFailure::Incomplete(format!("Date must be in ISO-8601 'basic format'. Got '{amz_date}'.")))?;
    let security_token = parts.headers.get("x-amz-security-token").and_then(|v| v.to_str().ok()).map(str::to_string);
    Ok(SignedRequest {
        access_key_id,
        scope_date,
        region,
        service,
        signed_headers: signed_header_list(signed),
        signature: sig.to_string(),
        amz_date: amz_date.to_string(),
        timestamp,
        presigned_expires: None,
        security_token,
    })
}

fn parse_presigned(query: &[(String, String)]) -> Result<SignedRequest, AuthFailure> {
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let mut missing = Vec::new();
    for k in ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"] {
        if get(k).is_none() {
            missing.push(format!("AWS query-string parameters must include '{k}'."));
        }
    }
    let (Some(alg), Some(credential), Some(sig), Some(signed), Some(amz_date)) = (
        get("X-Amz-Algorithm"),
        get("X-Amz-Credential"),
        get("X-Amz-Signature"),
        get("X-Amz-SignedHeaders"),
        get("X-Amz-Date"),
    ) else {
        return Err(AuthFailure::Incomplete(format!("{} Re-examine the query-string parameters.", missing.join(" "))));
    };
    if alg != ALGORITHM {
        return Err(AuthFailure::Incomplete(format!("Unsupported AWS 'algorithm': '{alg}'")));
    }
    let (access_key_id, scope_date, region, service) = parse_scope(credential)?;
    let timestamp = parse_amz_date(amz_date)
        .ok_or_else(|| AuthFailure::Incomplete(format!("Date must be in ISO-8601 'basic format'. Got '{amz_date}'.")))?;
    let expires = match get("X-Amz-Expires") {
        Some(e) => e
            .parse::<i64>()
            .ok()
            .filter(|e| (0..=MAX_PRESIGN_EXPIRES).contains(e))
            .ok_or_else(|| AuthFailure::Incomplete(format!("X-Amz-Expires must be between 0 and 604800, got '{e}'")))?,
        None => MAX_SKEW_SECS,
    };
    Ok(SignedRequest {
        access_key_id,
        scope_date,
        region,
        service,
        signed_headers: signed_header_list(signed),
        signature: sig.to_string(),
        amz_date: amz_date.to_string(),
        timestamp,
        presigned_expires: Some(expires),
        security_token: get("X-Amz-Security-Token").map(str::to_string),
    })
}

/// Checks a parsed signature against the request, its body and the secret, at time `now`
/// (seconds since the epoch): the scope date, the clock skew (or presign expiry), the
/// payload hash and the signature itself.
pub fn verify(
    parts: &http::request::Parts,
    signed: &SignedRequest,
    body: &[u8],
    secret: &str,
    now: i64,
) -> Result<(), AuthFailure> {
    if !signed.amz_date.starts_with(&signed.scope_date) {
        return Err(AuthFailure::SignatureMismatch(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            signed.scope_date,
            &signed.amz_date[..8.min(signed.amz_date.len())],
            signed.amz_date
        )));
    }
    if !signed.signed_headers.iter().any(|h| h == "host") {
        return Err(AuthFailure::SignatureMismatch("'Host' must be a 'SignedHeader' in the AWS Authorization.".into()));
    }
    match signed.presigned_expires {
        None => {
            if signed.timestamp < now - MAX_SKEW_SECS {
                return Err(AuthFailure::SignatureMismatch(format!(
                    "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                    signed.amz_date,
                    format_amz_date(now - MAX_SKEW_SECS),
                    format_amz_date(now)
                )));
            }
            if signed.timestamp > now + MAX_SKEW_SECS {
                return Err(AuthFailure::SignatureMismatch(format!(
                    "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                    signed.amz_date,
                    format_amz_date(now + MAX_SKEW_SECS),
                    format_amz_date(now)
                )));
            }
        }
        Some(expires) => {
            if signed.timestamp > now + MAX_SKEW_SECS {
                return Err(AuthFailure::SignatureMismatch(format!(
                    "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                    signed.amz_date,
                    format_amz_date(now + MAX_SKEW_SECS),
                    format_amz_date(now)
                )));
            }
            if now > signed.timestamp + expires {
                return Err(AuthFailure::RequestExpired);
            }
        }
    }
    let body_hash = sha256_hex(body);
    let payload_hash = match parts.headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()) {
        Some(h) if h == UNSIGNED_PAYLOAD => h.to_string(),
        Some(h) => {
            if !h.eq_ignore_ascii_case(&body_hash) {
                return Err(AuthFailure::SignatureMismatch(
                    "The provided 'x-amz-content-sha256' header does not match what was computed.".into(),
                ));
            }
            h.to_string()
        }
        None => body_hash,
    };
    let creq = canonical_request(parts, &signed.signed_headers, &payload_hash);
    let sts = string_to_sign(&signed.amz_date, &signed.scope(), &creq);
    let key = signing_key(secret, &signed.scope_date, &signed.region, &signed.service);
    let expected = signature(&key, &sts);
    if !constant_time_eq(expected.as_bytes(), signed.signature.to_ascii_lowercase().as_bytes()) {
        // The canonical request may hold a session token: log only what is not secret.
        tracing::debug!(string_to_sign = %sts, signed_headers = ?signed.signed_headers, "sigv4 signature mismatch");
        return Err(AuthFailure::SignatureMismatch(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
        ));
    }
    Ok(())
}

/// Credentials a client signs with.
#[derive(Debug, Clone)]
pub struct SigningCredentials<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
    /// Session token of temporary credentials.
    pub session_token: Option<&'a str>,
}

/// Signs a request in place with the `Authorization` header, as AWS SDKs do (adds
/// `X-Amz-Date`, `X-Amz-Security-Token` and `Host` if absent; signs every header present).
/// For tests and for Wharf's own clients.
pub fn sign_request(
    parts: &mut http::request::Parts,
    body: &[u8],
    creds: &SigningCredentials<'_>,
    region: &str,
    service: &str,
    now: i64,
) {
    let amz_date = format_amz_date(now);
    if let Ok(v) = http::HeaderValue::from_str(&amz_date) {
        parts.headers.insert("x-amz-date", v);
    }
    if let Some(tok) = creds.session_token.and_then(|t| http::HeaderValue::from_str(t).ok()) {
        parts.headers.insert("x-amz-security-token", tok);
    }
    if !parts.headers.contains_key(http::header::HOST) {
        if let Some(a) = parts.uri.authority().and_then(|a| http::HeaderValue::from_str(a.as_str()).ok()) {
            parts.headers.insert(http::header::HOST, a);
        }
    }
    let mut names: Vec<String> = parts
        .headers
        .keys()
        .map(|k| k.as_str().to_string())
        .filter(|k| k != "authorization" && k != "user-agent")
        .collect();
    names.sort();
    names.dedup();
    let payload = parts
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| sha256_hex(body));
    let creq = canonical_request(parts, &names, &payload);
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let sig = signature(&signing_key(creds.secret_access_key, date, region, service), &string_to_sign(&amz_date, &scope, &creq));
    let auth = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={sig}",
        creds.access_key_id,
        names.join(";")
    );
    if let Ok(v) = http::HeaderValue::from_str(&auth) {
        parts.headers.insert(http::header::AUTHORIZATION, v);
    }
}

/// A presigned URL query for `method` + `uri` (which must carry the host), as
/// `aws eks get-token` builds for STS `GetCallerIdentity`: returns the full query string
/// to append (already including the caller's parameters).
#[allow(clippy::too_many_arguments)] // mirrors the signer's inputs one to one
pub fn presign_query(
    method: &http::Method,
    uri: &http::Uri,
    extra_signed_headers: &[(&str, &str)],
    creds: &SigningCredentials<'_>,
    region: &str,
    service: &str,
    now: i64,
    expires: i64,
) -> String {
    let amz_date = format_amz_date(now);
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let mut headers: Vec<(String, String)> = vec![(
        "host".into(),
        uri.authority().map(|a| a.as_str().to_string()).unwrap_or_default(),
    )];
    for (k, v) in extra_signed_headers {
        headers.push((k.to_ascii_lowercase(), v.to_string()));
    }
    headers.sort();
    let signed = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let mut q: Vec<String> = uri.query().filter(|q| !q.is_empty()).map(|q| vec![q.to_string()]).unwrap_or_default();
    q.push(format!("X-Amz-Algorithm={ALGORITHM}"));
    q.push(format!("X-Amz-Credential={}", uri_encode(&format!("{}/{scope}", creds.access_key_id), false)));
    q.push(format!("X-Amz-Date={amz_date}"));
    q.push(format!("X-Amz-Expires={expires}"));
    if let Some(t) = creds.session_token {
        q.push(format!("X-Amz-Security-Token={}", uri_encode(t, false)));
    }
    q.push(format!("X-Amz-SignedHeaders={}", uri_encode(&signed, false)));
    let query = q.join("&");
    let canon_headers: String = headers.iter().map(|(k, v)| format!("{k}:{}\n", canonical_header_value(v.as_bytes()))).collect();
    let creq = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.as_str(),
        canonical_uri(uri.path()),
        canonical_query(&query),
        canon_headers,
        signed,
        EMPTY_SHA256
    );
    let sig = signature(&signing_key(creds.secret_access_key, date, region, service), &string_to_sign(&amz_date, &scope, &creq));
    format!("{query}&X-Amz-Signature={sig}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    // AWS SigV4 test suite, `get-vanilla`.
    #[test]
    fn get_vanilla_vector_verifies() {
        let p = parts(
            "GET",
            "/",
            &[
                ("host", "example.amazonaws.com"),
                ("x-amz-date", "20150830T123600Z"),
                ("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
            ],
        );
        let s = parse(&p).unwrap().unwrap();
        assert_eq!(
            canonical_request(&p, &s.signed_headers, EMPTY_SHA256),
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let now = parse_amz_date("20150830T123600Z").unwrap();
        verify(&p, &s, b"", SECRET, now).unwrap();
        assert!(matches!(verify(&p, &s, b"", "wrong", now), Err(AuthFailure::SignatureMismatch(_))));
    }

    // AWS general reference: the IAM ListUsers example (signing key and signature).
    #[test]
    fn iam_list_users_example_signs_as_documented() {
        let key = signing_key(SECRET, "20150830", "us-east-1", "iam");
        assert_eq!(hex::encode(key), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
        let p = parts(
            "GET",
            "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
            &[
                ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
                ("host", "iam.amazonaws.com"),
                ("x-amz-date", "20150830T123600Z"),
            ],
        );
        let signed: Vec<String> = ["content-type", "host", "x-amz-date"].map(String::from).to_vec();
        let creq = canonical_request(&p, &signed, EMPTY_SHA256);
        assert_eq!(sha256_hex(creq.as_bytes()), "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
        let sts = string_to_sign("20150830T123600Z", "20150830/us-east-1/iam/aws4_request", &creq);
        assert_eq!(signature(&key, &sts), "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    }

    // Amazon S3 API reference, "GET Object" example (a path without characters to encode,
    // so single and double encoding agree).
    #[test]
    fn s3_get_object_example_signs_as_documented() {
        let p = parts(
            "GET",
            "/test.txt",
            &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("range", "bytes=0-9"),
                ("x-amz-content-sha256", EMPTY_SHA256),
                ("x-amz-date", "20130524T000000Z"),
            ],
        );
        let signed: Vec<String> = ["host", "range", "x-amz-content-sha256", "x-amz-date"].map(String::from).to_vec();
        let creq = canonical_request(&p, &signed, EMPTY_SHA256);
        let sts = string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", &creq);
        assert!(sts.ends_with("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"));
        let key = signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3");
        assert_eq!(signature(&key, &sts), "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    }

    #[test]
    fn paths_are_normalized_and_encoded_twice() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/example/.."), "/");
        assert_eq!(canonical_uri("//example//"), "/example/");
        assert_eq!(canonical_uri("/./example"), "/example");
        assert_eq!(canonical_uri("/clusters/my%20c"), "/clusters/my%2520c");
        assert_eq!(canonical_uri("/-._~"), "/-._~");
    }

    #[test]
    fn query_is_sorted_and_encoded() {
        assert_eq!(canonical_query("Param2=value2&Param1=value1"), "Param1=value1&Param2=value2");
        assert_eq!(canonical_query("Param1=value2&Param1=Value1"), "Param1=Value1&Param1=value2");
        assert_eq!(canonical_query("a=b%20c&X-Amz-Signature=x&k"), "a=b%20c&k=");
        assert_eq!(canonical_query("%E1%88%B4=bar"), "%E1%88%B4=bar");
    }

    #[test]
    fn header_values_are_trimmed_and_joined() {
        let p = parts("GET", "/", &[("host", "h"), ("my-header1", "  a   b   c "), ("my-header2", "x"), ("my-header2", "y")]);
        assert_eq!(
            canonical_headers(&p, &["host".into(), "my-header1".into(), "my-header2".into()]),
            "host:h\nmy-header1:a b c\nmy-header2:x,y\n"
        );
    }

    #[test]
    fn skewed_and_expired_requests_are_rejected() {
        let now = 1_700_000_000;
        let mut p = parts("POST", "http://localhost:1/", &[("content-type", "application/x-www-form-urlencoded")]);
        let c = SigningCredentials { access_key_id: "AKID", secret_access_key: "s", session_token: None };
        sign_request(&mut p, b"Action=X", &c, "us-east-1", "sts", now - 16 * 60);
        let s = parse(&p).unwrap().unwrap();
        let e = verify(&p, &s, b"Action=X", "s", now).unwrap_err();
        assert!(matches!(&e, AuthFailure::SignatureMismatch(m) if m.starts_with("Signature expired")), "{e:?}");
        verify(&p, &s, b"Action=X", "s", now - 16 * 60).unwrap();
        let e = verify(&p, &s, b"Action=Y", "s", now - 16 * 60).unwrap_err();
        assert!(matches!(e, AuthFailure::SignatureMismatch(_)));

        let uri: http::Uri = "http://localhost:1/?Action=GetCallerIdentity&Version=2011-06-15".parse().unwrap();
        let q = presign_query(&http::Method::GET, &uri, &[("x-k8s-aws-id", "c")], &c, "us-east-1", "sts", now, 60);
        let p = parts("GET", &format!("http://localhost:1/?{q}"), &[("host", "localhost:1"), ("x-k8s-aws-id", "c")]);
        let s = parse(&p).unwrap().unwrap();
        verify(&p, &s, b"", "s", now + 30).unwrap();
        assert_eq!(verify(&p, &s, b"", "s", now + 61), Err(AuthFailure::RequestExpired));
    }

    #[test]
    fn incomplete_headers_are_reported() {
        let p = parts("GET", "/", &[("authorization", "AWS4-HMAC-SHA256 Credential=A/20150830/us-east-1/sts/aws4_request")]);
        let e = parse(&p).unwrap_err();
        assert!(matches!(&e, AuthFailure::Incomplete(m) if m.contains("'Signature'") && m.contains("'SignedHeaders'")));
        let p = parts("GET", "/", &[("authorization", "AWS4-HMAC-SHA256 Credential=A/x, SignedHeaders=host, Signature=00"), ("x-amz-date", "20150830T123600Z")]);
        assert!(matches!(parse(&p), Err(AuthFailure::Incomplete(_))));
    }
}
