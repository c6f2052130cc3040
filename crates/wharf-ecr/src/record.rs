//! What ECR keeps in the datastore besides the registry's own keys, under `/ecr/`:
//!
//! - `/ecr/repositories/<name>` — a [`RepoRecord`] (JSON): creation time, tag mutability,
//!   scan and encryption settings, resource tags, repository and lifecycle policies
//! - `/ecr/tokens/<id>` — a [`TokenRecord`] (JSON): an authorization token's hashed secret,
//!   its principal and expiry

use serde::{Deserialize, Serialize};
use wharf_aws::{Caller, PrincipalKind};
use wharf_store::{Compare, KvStore, Op, TxnRequest};

use crate::{Error, Result};

/// ECR's settings of one repository.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RepoRecord {
    /// Creation time, seconds since the epoch (fractional).
    pub created_at: f64,
    /// `MUTABLE` or `IMMUTABLE`.
    pub image_tag_mutability: String,
    /// `imageScanningConfiguration.scanOnPush` (recorded; Wharf does not scan).
    pub scan_on_push: bool,
    /// `encryptionConfiguration.encryptionType` (recorded).
    pub encryption_type: String,
    /// `encryptionConfiguration.kmsKey` (recorded).
    pub kms_key: Option<String>,
    /// Resource tags, in insertion order.
    pub tags: Vec<(String, String)>,
    /// The repository policy text.
    pub policy: Option<String>,
    /// The lifecycle policy text.
    pub lifecycle_policy: Option<String>,
    /// When the lifecycle policy was last applied, seconds since the epoch.
    pub lifecycle_evaluated_at: Option<f64>,
}

impl RepoRecord {
    /// The settings of a repository ECR did not create (pushed to through `/v2/` directly).
    pub fn implicit(immutable: bool) -> Self {
        Self {
            image_tag_mutability: if immutable { "IMMUTABLE" } else { "MUTABLE" }.into(),
            encryption_type: "AES256".into(),
            ..Self::default()
        }
    }
}

/// An authorization token as stored: never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    /// SHA-256 of the secret, hex.
    pub secret_sha256: String,
    /// Expiry, seconds since the epoch.
    pub expires_at: i64,
    /// The principal the token acts as.
    pub caller: StoredCaller,
}

/// A [`Caller`] in a storable form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCaller {
    /// Account id.
    pub account: String,
    /// Principal ARN.
    pub arn: String,
    /// Unique id.
    pub user_id: String,
    /// Access key the token was requested with.
    pub access_key_id: Option<String>,
    /// `root`, `user`, `user-session`, `assumed-role`.
    pub kind: String,
    /// User or role name.
    pub name: Option<String>,
    /// Role session name.
    pub session_name: Option<String>,
}

impl From<&Caller> for StoredCaller {
    fn from(c: &Caller) -> Self {
        let (kind, name, session_name) = match &c.kind {
            PrincipalKind::Anonymous => ("anonymous", None, None),
            PrincipalKind::Root => ("root", None, None),
            PrincipalKind::User { name } => ("user", Some(name.clone()), None),
            PrincipalKind::UserSession { name } => ("user-session", Some(name.clone()), None),
            PrincipalKind::AssumedRole { role_name, session_name } => {
                ("assumed-role", Some(role_name.clone()), Some(session_name.clone()))
            }
        };
        Self {
            account: c.account.clone(),
            arn: c.arn.clone(),
            user_id: c.user_id.clone(),
            access_key_id: c.access_key_id.clone(),
            kind: kind.into(),
            name,
            session_name,
        }
    }
}

impl StoredCaller {
    /// Back to a [`Caller`]; an unknown kind becomes anonymous (which IAM allows nothing).
    pub fn to_caller(&self) -> Caller {
        let name = self.name.clone().unwrap_or_default();
        let kind = match self.kind.as_str() {
            "root" => PrincipalKind::Root,
            "user" => PrincipalKind::User { name },
            "user-session" => PrincipalKind::UserSession { name },
            "assumed-role" => {
                PrincipalKind::AssumedRole { role_name: name, session_name: self.session_name.clone().unwrap_or_default() }
            }
            _ => PrincipalKind::Anonymous,
        };
        Caller {
            account: self.account.clone(),
            arn: self.arn.clone(),
            user_id: self.user_id.clone(),
            access_key_id: self.access_key_id.clone(),
            kind,
        }
    }
}

/// The key of a repository's record.
pub fn repo_key(name: &str) -> Vec<u8> {
    format!("/ecr/repositories/{name}").into_bytes()
}

/// The key of a token's record.
pub fn token_key(id: &str) -> Vec<u8> {
    format!("/ecr/tokens/{id}").into_bytes()
}

/// The prefix of every token record.
pub const TOKEN_PREFIX: &str = "/ecr/tokens/";

/// Reads a JSON record and its mod revision.
pub async fn get<T: serde::de::DeserializeOwned>(store: &dyn KvStore, key: Vec<u8>) -> Result<Option<(T, i64)>> {
    let Some(kv) = store.get(key).await? else { return Ok(None) };
    let v = serde_json::from_slice(&kv.value)
        .map_err(|source| Error::Corrupt { key: String::from_utf8_lossy(&kv.key).into_owned(), source })?;
    Ok(Some((v, kv.mod_revision)))
}

/// Writes a JSON record if its mod revision is still `rev` (0: absent); `false` if not.
pub async fn put_if<T: Serialize>(store: &dyn KvStore, key: Vec<u8>, value: &T, rev: i64) -> Result<bool> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::Encode(e.to_string()))?;
    let r = store
        .txn(TxnRequest {
            compare: vec![Compare::mod_revision(key.clone(), rev)],
            success: vec![Op::put(key, bytes)],
            failure: vec![],
        })
        .await?;
    Ok(r.succeeded)
}

/// Deletes a key.
pub async fn delete(store: &dyn KvStore, key: Vec<u8>) -> Result<()> {
    store.txn(TxnRequest { compare: vec![], success: vec![Op::delete(key)], failure: vec![] }).await?;
    Ok(())
}
