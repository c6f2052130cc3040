//! Registry credentials: docker `config.json` keyrings (what `imagePullSecrets` of type
//! `kubernetes.io/dockerconfigjson` and `kubernetes.io/dockercfg` hold) and
//! `WWW-Authenticate` challenge parsing for the Basic and bearer-token flows.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;

use crate::reference::Reference;

/// A username and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

impl Credentials {
    /// The `Authorization: Basic ...` header value.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
    }
}

/// Why a pull secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The secret is not JSON of the expected shape.
    #[error("invalid docker config json: {0}")]
    Json(#[source] serde_json::Error),
    /// An `auth` field is not base64 of `user:password`.
    #[error("invalid auth field for registry {0:?}")]
    Auth(String),
}

#[derive(Debug, Clone)]
struct Entry {
    /// Lowercased host labels; a label may be a `*` glob pattern.
    host: String,
    port: Option<String>,
    path: String,
    creds: Credentials,
}

/// Credentials keyed by registry (and optional repository path prefix), as the kubelet's
/// credential keyring matches them.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    entries: Vec<Entry>,
}

#[derive(serde::Deserialize)]
struct ConfigJson {
    auths: Option<BTreeMap<String, AuthEntry>>,
}

#[derive(serde::Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl Keyring {
    /// An empty keyring (anonymous pulls).
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// A keyring from the values of a pod's `imagePullSecrets` (each the `.dockerconfigjson`
    /// or `.dockercfg` data of one secret), in order.
    pub fn from_pull_secrets<'a>(secrets: impl IntoIterator<Item = &'a [u8]>) -> Result<Keyring, KeyringError> {
        let mut k = Keyring::new();
        for s in secrets {
            k.add_docker_config_json(s)?;
        }
        Ok(k)
    }

    /// Reads a `.dockerconfigjson` (`{"auths":{...}}`) or legacy `.dockercfg` (`{host: {...}}`)
    /// secret value and adds its credentials.
    pub fn add_docker_config_json(&mut self, json: &[u8]) -> Result<(), KeyringError> {
        let value: serde_json::Value = serde_json::from_slice(json).map_err(KeyringError::Json)?;
        let auths: BTreeMap<String, AuthEntry> = if value.get("auths").is_some() {
            let c: ConfigJson = serde_json::from_value(value).map_err(KeyringError::Json)?;
            c.auths.unwrap_or_default()
        } else {
            serde_json::from_value(value).map_err(KeyringError::Json)?
        };
        for (key, entry) in auths {
            let creds = match (&entry.auth, &entry.username, &entry.password) {
                (Some(auth), _, _) if !auth.is_empty() => {
                    let raw = base64::engine::general_purpose::STANDARD
                        .decode(auth.trim())
                        .map_err(|_| KeyringError::Auth(key.clone()))?;
                    let raw = String::from_utf8(raw).map_err(|_| KeyringError::Auth(key.clone()))?;
                    let (u, p) = raw.split_once(':').ok_or_else(|| KeyringError::Auth(key.clone()))?;
                    Credentials { username: u.to_string(), password: p.to_string() }
                }
                (_, Some(u), Some(p)) => Credentials { username: u.clone(), password: p.clone() },
                _ => continue,
            };
            self.add(&key, creds);
        }
        Ok(())
    }

    /// Adds credentials for a registry key such as `host:port`, `https://host/v2/`,
    /// `*.example.com` or `host/repo/prefix`.
    pub fn add(&mut self, key: &str, creds: Credentials) {
        let mut k = key.trim();
        for scheme in ["https://", "http://"] {
            if let Some(rest) = k.strip_prefix(scheme) {
                k = rest;
            }
        }
        let (hostport, path) = match k.split_once('/') {
            Some((h, p)) => (h, p.trim_end_matches('/')),
            None => (k, ""),
        };
        let path = if path == "v1" || path == "v2" { "" } else { path };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p.to_string())),
            _ => (hostport, None),
        };
        let host = host.to_ascii_lowercase();
        let host = match host.as_str() {
            "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io".to_string(),
            _ => host,
        };
        self.entries.push(Entry { host, port, path: path.to_string(), creds });
        // Most specific first: longer host patterns and paths win, as in the kubelet.
        self.entries.sort_by_key(|e| std::cmp::Reverse(e.host.len() + e.path.len()));
    }

    /// True when no credentials are configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every set of credentials that applies to `reference`, most specific first.
    pub fn lookup(&self, reference: &Reference) -> Vec<Credentials> {
        let (host, port) = match reference.registry().rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h.to_ascii_lowercase(), Some(p)),
            _ => (reference.registry().to_ascii_lowercase(), None),
        };
        let repo = reference.repository();
        let mut out: Vec<Credentials> = Vec::new();
        for e in &self.entries {
            if e.port.as_deref() != port || !host_matches(&e.host, &host) {
                continue;
            }
            if !(e.path.is_empty() || repo == e.path || repo.starts_with(&format!("{}/", e.path))) {
                continue;
            }
            if !out.contains(&e.creds) {
                out.push(e.creds.clone());
            }
        }
        out
    }
}

/// Label-wise glob match (`*.example.com` matches `a.example.com`, not `a.b.example.com`).
fn host_matches(pattern: &str, host: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let h: Vec<&str> = host.split('.').collect();
    p.len() == h.len() && p.iter().zip(&h).all(|(p, h)| glob(p, h))
}

fn glob(p: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|k| go(&p[1..], &s[k..])),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(p.as_bytes(), s.as_bytes())
}

/// One authentication challenge from a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lowercased (`bearer`, `basic`).
    pub scheme: String,
    /// The auth-params with lowercased names (`realm`, `service`, `scope`, `error`).
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// A parameter by (lowercase) name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Parses a `WWW-Authenticate` header value into its challenges (RFC 7235: several
/// challenges may share one header, separated by commas).
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let b = header.as_bytes();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t' || b[*i] == b',') {
            *i += 1;
        }
    };
    let token = |i: &mut usize| -> String {
        let start = *i;
        while *i < b.len() && !matches!(b[*i], b' ' | b'\t' | b',' | b'=' | b'"') {
            *i += 1;
        }
        header[start..*i].to_string()
    };
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            break;
        }
        let word = token(&mut i);
        if word.is_empty() {
            i += 1;
            continue;
        }
        // Is this a new scheme or a parameter of the current challenge?
        let mut j = i;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        let is_param = j < b.len() && b[j] == b'=' && !out.is_empty() && !(j + 1 < b.len() && b[j + 1] == b'=');
        if !is_param {
            out.push(Challenge { scheme: word.to_ascii_lowercase(), params: BTreeMap::new() });
            continue;
        }
        i = j + 1;
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            let mut chars = header[i..].char_indices();
            let mut consumed = header.len() - i;
            while let Some((k, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        consumed = k + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            i += consumed;
            v
        } else {
            token(&mut i)
        };
        if let Some(c) = out.last_mut() {
            c.params.insert(word.to_ascii_lowercase(), value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn challenge_parser_should_read_docker_hub_bearer_challenge() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(c[0].param("scope"), Some("repository:library/busybox:pull"));
    }

    #[test]
    fn challenge_parser_should_handle_several_challenges_escapes_and_unquoted_values() {
        let c = parse_challenges(
            r#"Basic realm="Registry \"Realm\"", Bearer realm=https://t.example/token, error="invalid_token",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some("Registry \"Realm\""));
        assert_eq!(c[1].scheme, "bearer");
        assert_eq!(c[1].param("realm"), Some("https://t.example/token"));
        assert_eq!(c[1].param("error"), Some("invalid_token"));
        assert_eq!(c[1].param("scope"), Some("repository:a/b:pull,push"));
        assert!(parse_challenges("").is_empty());
        assert_eq!(parse_challenges("Negotiate")[0].scheme, "negotiate");
    }

    #[test]
    fn keyring_should_read_dockerconfigjson_and_match_host_port_exactly() {
        let json = format!(
            r#"{{"auths":{{"127.0.0.1:5000":{{"auth":"{}"}},"https://index.docker.io/v1/":{{"username":"hub","password":"pw"}}}}}}"#,
            b64("alice:s3cr:et")
        );
        let mut k = Keyring::new();
        k.add_docker_config_json(json.as_bytes()).unwrap();
        let local = Reference::parse("127.0.0.1:5000/app:1").unwrap();
        assert_eq!(k.lookup(&local), vec![Credentials { username: "alice".into(), password: "s3cr:et".into() }]);
        assert!(k.lookup(&Reference::parse("127.0.0.1:5001/app").unwrap()).is_empty());
        assert_eq!(k.lookup(&Reference::parse("busybox").unwrap())[0].username, "hub");
    }

    #[test]
    fn keyring_should_match_globs_and_path_prefixes_most_specific_first() {
        let mut k = Keyring::new();
        k.add("*.example.com", Credentials { username: "any".into(), password: "1".into() });
        k.add("reg.example.com/team", Credentials { username: "team".into(), password: "2".into() });
        let found = k.lookup(&Reference::parse("reg.example.com/team/app").unwrap());
        assert_eq!(found.iter().map(|c| c.username.as_str()).collect::<Vec<_>>(), ["team", "any"]);
        let other = k.lookup(&Reference::parse("reg.example.com/other/app").unwrap());
        assert_eq!(other.iter().map(|c| c.username.as_str()).collect::<Vec<_>>(), ["any"]);
        assert!(k.lookup(&Reference::parse("a.b.example.com/x").unwrap()).is_empty());
    }

    #[test]
    fn keyring_should_accept_legacy_dockercfg_and_reject_bad_auth() {
        let mut k = Keyring::new();
        k.add_docker_config_json(format!(r#"{{"quay.io":{{"auth":"{}"}}}}"#, b64("u:p")).as_bytes()).unwrap();
        assert_eq!(k.lookup(&Reference::parse("quay.io/x/y").unwrap()).len(), 1);
        assert!(k.add_docker_config_json(br#"{"auths":{"h":{"auth":"%%%"}}}"#).is_err());
        assert!(k.add_docker_config_json(b"[1]").is_err());
    }
}
