//! Who may do what: credentials, signed tokens and the [`Authorizer`] that decides.
//!
//! Every request carries either HTTP Basic (user `AWS`, password a token, as ECR's
//! `GetAuthorizationToken` hands out) or `Authorization: Bearer` with a token from the
//! registry's token endpoint (`/v2/token`, the Docker token flow). A Basic password is either
//! a stored credential (`wharf-cred.<name>.<secret>`), the local admin token, or a signed
//! token (`wharf-token.<claims>.<mac>`) whose identity the authorizer then judges per request.
//! Bearer tokens carry the actions they grant, fixed when issued (the token endpoint asks the
//! authorizer once). IAM later replaces [`LocalAuthorizer`] behind the same trait.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use wharf_store::{KvStore, Op, TxnRequest};

use crate::error::{RegistryError, Result};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const CRED_PREFIX: &str = "wharf-cred.";
const TOKEN_PREFIX: &str = "wharf-token.";
/// The identity of the local admin credential.
pub const ADMIN: &str = "admin";

/// What an identity may do on one repository (or the catalog).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Actions {
    /// Read manifests, blobs, tags and referrers.
    pub pull: bool,
    /// Upload blobs, put and delete manifests and blobs.
    pub push: bool,
}

impl Actions {
    /// Pull and push.
    pub const ALL: Actions = Actions { pull: true, push: true };
    /// Pull only.
    pub const PULL: Actions = Actions { pull: true, push: false };
    /// Nothing.
    pub const NONE: Actions = Actions { pull: false, push: false };

    /// Whether every action in `need` is in `self`.
    pub fn covers(self, need: Actions) -> bool {
        (self.pull || !need.pull) && (self.push || !need.push)
    }
    /// Actions in both.
    pub fn intersect(self, other: Actions) -> Actions {
        Actions { pull: self.pull && other.pull, push: self.push && other.push }
    }
    /// Parses a scope's action list (`pull,push`; `delete` and `*` count as push).
    pub fn parse(list: &str) -> Actions {
        let mut a = Actions::NONE;
        for x in list.split(',') {
            match x.trim() {
                "pull" => a.pull = true,
                "push" | "delete" => a.push = true,
                "*" => a = Actions::ALL,
                _ => {}
            }
        }
        a
    }
    fn names(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.pull {
            v.push("pull");
        }
        if self.push {
            v.push("push");
        }
        v
    }
}

/// What a request acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// One repository by name.
    Repository(String),
    /// The list of all repositories (`/v2/_catalog`; Docker scope `registry:catalog:*`).
    Catalog,
}

/// An authenticated principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The principal's name (a credential name, later an IAM ARN).
    pub name: String,
}

/// Failures of an [`Authorizer`].
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The authorizer's backing store failed.
    #[error("authorizer store failed: {0}")]
    Store(#[from] wharf_store::StoreError),
    /// A stored credential could not be decoded.
    #[error("credential {name} is corrupt: {reason}")]
    Corrupt {
        /// The credential's name.
        name: String,
        /// What was wrong.
        reason: String,
    },
}

/// Turns a credential into an identity and decides what an identity may do.
#[async_trait]
pub trait Authorizer: Send + Sync + 'static {
    /// The identity behind a Basic `password` (the user is always `AWS`); `None` if unknown.
    async fn authenticate(&self, password: &str) -> Result<Option<Identity>, AuthError>;
    /// The actions `identity` may take on `resource`.
    async fn allowed(&self, identity: &Identity, resource: &Resource) -> Result<Actions, AuthError>;
}

/// One grant of a local credential: actions on the repositories a pattern matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `*` (every repository), `prefix/*` (every repository under the prefix) or an exact name.
    pub repositories: String,
    /// What the grant allows.
    pub actions: Actions,
}

impl Grant {
    fn matches(&self, name: &str) -> bool {
        match self.repositories.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => self.repositories == name,
        }
    }
}

/// The authorizer used until IAM exists: one admin token that may do everything, plus named
/// credentials with grants, stored (secret hashed) in the datastore under
/// `/registry-oci/credentials/<name>`.
pub struct LocalAuthorizer {
    store: Arc<dyn KvStore>,
    admin_token: String,
}

fn cred_key(name: &str) -> Vec<u8> {
    format!("/registry-oci/credentials/{name}").into_bytes()
}

fn valid_cred_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name != ADMIN
        && name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

impl LocalAuthorizer {
    /// An authorizer whose admin credential is `admin_token` (use it as the Basic password).
    pub fn new(store: Arc<dyn KvStore>, admin_token: impl Into<String>) -> Self {
        Self { store, admin_token: admin_token.into() }
    }

    /// A fresh random admin token.
    pub fn generate_token() -> String {
        use rand::Rng as _;
        let bytes: [u8; 24] = rand::thread_rng().gen();
        hex::encode(bytes)
    }

    /// Creates (or replaces) credential `name` with `grants`; returns its token, the Basic
    /// password for user `AWS`. A node gets `Grant { repositories: "*", actions: Actions::PULL }`.
    pub async fn create_credential(&self, name: &str, grants: &[Grant]) -> Result<String> {
        if !valid_cred_name(name) {
            return Err(RegistryError::Invalid { what: "credential name", value: name.to_string() });
        }
        let secret = Self::generate_token();
        let grants: Vec<Value> =
            grants.iter().map(|g| json!({ "repositories": g.repositories, "actions": g.actions.names() })).collect();
        let record = json!({ "secretSha256": hex::encode(Sha256::digest(secret.as_bytes())), "grants": grants });
        self.store.put(cred_key(name), record.to_string().into_bytes()).await?;
        Ok(format!("{CRED_PREFIX}{name}.{secret}"))
    }

    /// Deletes credential `name`; tokens already issued to it stay valid until they expire.
    pub async fn delete_credential(&self, name: &str) -> Result<()> {
        self.store
            .txn(TxnRequest { compare: vec![], success: vec![Op::delete(cred_key(name))], failure: vec![] })
            .await?;
        Ok(())
    }

    async fn record(&self, name: &str) -> Result<Option<Value>, AuthError> {
        let Some(kv) = self.store.get(cred_key(name)).await? else { return Ok(None) };
        serde_json::from_slice(&kv.value)
            .map(Some)
            .map_err(|e| AuthError::Corrupt { name: name.to_string(), reason: e.to_string() })
    }
}

#[async_trait]
impl Authorizer for LocalAuthorizer {
    async fn authenticate(&self, password: &str) -> Result<Option<Identity>, AuthError> {
        if constant_time_eq(password.as_bytes(), self.admin_token.as_bytes()) {
            return Ok(Some(Identity { name: ADMIN.to_string() }));
        }
        let Some(rest) = password.strip_prefix(CRED_PREFIX) else { return Ok(None) };
        let Some((name, secret)) = rest.split_once('.') else { return Ok(None) };
        if !valid_cred_name(name) {
            return Ok(None);
        }
        let Some(rec) = self.record(name).await? else { return Ok(None) };
        let want = rec["secretSha256"].as_str().unwrap_or_default();
        let got = hex::encode(Sha256::digest(secret.as_bytes()));
        Ok(constant_time_eq(want.as_bytes(), got.as_bytes()).then(|| Identity { name: name.to_string() }))
    }

    async fn allowed(&self, identity: &Identity, resource: &Resource) -> Result<Actions, AuthError> {
        if identity.name == ADMIN {
            return Ok(Actions::ALL);
        }
        let Resource::Repository(repo) = resource else { return Ok(Actions::NONE) };
        let Some(rec) = self.record(&identity.name).await? else { return Ok(Actions::NONE) };
        let mut out = Actions::NONE;
        for g in rec["grants"].as_array().into_iter().flatten() {
            let grant = Grant {
                repositories: g["repositories"].as_str().unwrap_or_default().to_string(),
                actions: Actions::parse(
                    &g["actions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            };
            if grant.matches(repo) {
                out.pull |= grant.actions.pull;
                out.push |= grant.actions.push;
            }
        }
        Ok(out)
    }
}

/// What a signed token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The identity it was issued to.
    pub subject: String,
    /// Expiry, seconds since the Unix epoch.
    pub expires: u64,
    /// The access it grants; `None` means "whatever the authorizer allows the subject" (the
    /// shape of an ECR authorization token).
    pub access: Option<Vec<(Resource, Actions)>>,
}

impl Claims {
    /// The actions granted on `resource`, if the token lists its access.
    pub fn granted(&self, resource: &Resource) -> Option<Actions> {
        self.access.as_ref().map(|list| {
            list.iter()
                .filter(|(r, _)| r == resource)
                .fold(Actions::NONE, |acc, (_, a)| Actions { pull: acc.pull || a.pull, push: acc.push || a.push })
        })
    }
}

/// Signs and verifies tokens with HMAC-SHA256 under a key kept in the datastore (so tokens
/// survive a restart and every replica sharing the store accepts them).
pub(crate) struct TokenSigner {
    key: ring::hmac::Key,
}

impl TokenSigner {
    /// Loads the signing key from the store, creating it on first use.
    pub async fn load(store: &dyn KvStore) -> Result<Self> {
        use rand::Rng as _;
        const KEY: &[u8] = b"/registry-oci/token-signing-key";
        let fresh: [u8; 32] = rand::thread_rng().gen();
        // Create only if absent, so concurrent replicas agree on one key.
        store
            .txn(TxnRequest {
                compare: vec![wharf_store::Compare::mod_revision(KEY.to_vec(), 0)],
                success: vec![Op::put(KEY.to_vec(), fresh.to_vec())],
                failure: vec![],
            })
            .await?;
        let kv = store.get(KEY.to_vec()).await?.ok_or_else(|| RegistryError::Corrupt {
            key: String::from_utf8_lossy(KEY).into_owned(),
            reason: "signing key vanished after creation".into(),
        })?;
        if kv.value.len() < 32 {
            return Err(RegistryError::Corrupt {
                key: String::from_utf8_lossy(KEY).into_owned(),
                reason: "signing key too short".into(),
            });
        }
        Ok(Self { key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &kv.value) })
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let access = claims.access.as_ref().map(|list| {
            list.iter()
                .map(|(r, a)| match r {
                    Resource::Repository(n) => json!({ "type": "repository", "name": n, "actions": a.names() }),
                    Resource::Catalog => json!({ "type": "registry", "name": "catalog", "actions": ["*"] }),
                })
                .collect::<Vec<_>>()
        });
        let body = json!({ "sub": claims.subject, "exp": claims.expires, "access": access });
        let payload = B64.encode(body.to_string());
        let mac = ring::hmac::sign(&self.key, payload.as_bytes());
        format!("{TOKEN_PREFIX}{payload}.{}", B64.encode(mac.as_ref()))
    }

    /// The claims of a well-signed, unexpired token; `None` otherwise.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let rest = token.strip_prefix(TOKEN_PREFIX)?;
        let (payload, mac) = rest.split_once('.')?;
        let mac = B64.decode(mac).ok()?;
        ring::hmac::verify(&self.key, payload.as_bytes(), &mac).ok()?;
        let body: Value = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
        let expires = body["exp"].as_u64()?;
        if expires <= now_secs() {
            return None;
        }
        let access = body["access"].as_array().map(|list| {
            list.iter()
                .filter_map(|a| {
                    let actions: Vec<&str> = a["actions"].as_array()?.iter().filter_map(Value::as_str).collect();
                    let resource = match (a["type"].as_str()?, a["name"].as_str()?) {
                        ("repository", n) => Resource::Repository(n.to_string()),
                        ("registry", "catalog") => Resource::Catalog,
                        _ => return None,
                    };
                    Some((resource, Actions::parse(&actions.join(","))))
                })
                .collect()
        });
        Some(Claims { subject: body["sub"].as_str()?.to_string(), expires, access })
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub(crate) fn expiry(ttl: Duration) -> u64 {
    now_secs() + ttl.as_secs().max(1)
}

/// Parses Docker token scopes (`repository:name:pull,push`, `registry:catalog:*`), several
/// per string separated by spaces.
pub(crate) fn parse_scopes<'a>(scopes: impl Iterator<Item = &'a str>) -> Vec<(Resource, Actions)> {
    let mut out = Vec::new();
    for s in scopes.flat_map(|s| s.split(' ')).filter(|s| !s.is_empty()) {
        // The name may contain ':' only with a registry host prefix, which we do not serve.
        let Some((kind, rest)) = s.split_once(':') else { continue };
        let Some((name, actions)) = rest.rsplit_once(':') else { continue };
        match kind {
            "repository" if crate::valid_name(name) => {
                out.push((Resource::Repository(name.to_string()), Actions::parse(actions)))
            }
            "registry" if name == "catalog" => out.push((Resource::Catalog, Actions::PULL)),
            _ => {}
        }
    }
    out
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_should_parse_repository_and_catalog_entries() {
        let s = parse_scopes(
            ["repository:team/app:pull,push registry:catalog:*", "repository:x:pull", "bogus"].into_iter(),
        );
        assert_eq!(
            s,
            vec![
                (Resource::Repository("team/app".into()), Actions::ALL),
                (Resource::Catalog, Actions::PULL),
                (Resource::Repository("x".into()), Actions::PULL),
            ]
        );
    }

    #[test]
    fn grants_should_match_exact_names_prefixes_and_everything() {
        let g = |p: &str| Grant { repositories: p.into(), actions: Actions::PULL };
        assert!(g("*").matches("a/b"));
        assert!(g("team/*").matches("team/app"));
        assert!(!g("team/*").matches("other/app"));
        assert!(g("team/app").matches("team/app"));
        assert!(!g("team/app").matches("team/app2"));
    }
}
