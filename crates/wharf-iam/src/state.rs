//! The account and everything IAM/STS stores, over the [`KvStore`]: typed reads,
//! compare-and-swap writes, id and secret generation, and policy collection for a caller.

use std::sync::Arc;

use rand::Rng;
use serde::{de::DeserializeOwned, Serialize};
use wharf_aws::{AwsError, Caller, PrincipalKind};
use wharf_store::{prefix_end, Compare, KvStore, Op, RangeRequest, TxnRequest};

use crate::model::*;
use crate::policy::PolicyDocument;
use crate::{managed, IamError, Result};

/// Key of the account record.
pub const ACCOUNT_KEY: &str = "/aws/iam/account";
/// Prefix of users (`/aws/iam/users/<lowercase name>`).
pub const USERS: &str = "/aws/iam/users/";
/// Prefix of access keys (`/aws/iam/access-keys/<id>`).
pub const ACCESS_KEYS: &str = "/aws/iam/access-keys/";
/// Prefix of groups.
pub const GROUPS: &str = "/aws/iam/groups/";
/// Prefix of roles.
pub const ROLES: &str = "/aws/iam/roles/";
/// Prefix of customer-managed policies.
pub const POLICIES: &str = "/aws/iam/policies/";
/// Prefix of OIDC providers (`/aws/iam/oidc-providers/<url without scheme>`).
pub const OIDC_PROVIDERS: &str = "/aws/iam/oidc-providers/";
/// Prefix of STS sessions (`/aws/sts/sessions/<access key id>`), each on a lease.
pub const SESSIONS: &str = "/aws/sts/sessions/";

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A random id: `prefix` and `len` characters of AWS's id alphabet.
pub fn new_id(prefix: &str, len: usize) -> String {
    let mut rng = rand::thread_rng();
    let mut s = String::from(prefix);
    for _ in 0..len {
        s.push(ID_ALPHABET[rng.gen_range(0..ID_ALPHABET.len())] as char);
    }
    s
}

/// A random secret of `len` characters.
pub fn new_secret(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len).map(|_| SECRET_ALPHABET[rng.gen_range(0..SECRET_ALPHABET.len())] as char).collect()
}

/// Typed access to the datastore.
#[derive(Clone)]
pub struct State {
    store: Arc<dyn KvStore>,
}

impl State {
    /// Wraps a store.
    pub fn new(store: Arc<dyn KvStore>) -> Self {
        Self { store }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn KvStore> {
        &self.store
    }

    /// Reads a record and its mod revision.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<(T, i64)>> {
        match self.store.get(key.as_bytes().to_vec()).await? {
            None => Ok(None),
            Some(kv) => {
                let v = serde_json::from_slice(&kv.value).map_err(|e| IamError::Corrupt { key: key.into(), source: e })?;
                Ok(Some((v, kv.mod_revision)))
            }
        }
    }

    /// Every record under a prefix, in key order.
    pub async fn list<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<T>> {
        let r = self
            .store
            .range(RangeRequest { key: prefix.as_bytes().to_vec(), range_end: prefix_end(prefix.as_bytes()), ..Default::default() })
            .await?;
        r.kvs
            .iter()
            .map(|kv| {
                serde_json::from_slice(&kv.value)
                    .map_err(|e| IamError::Corrupt { key: String::from_utf8_lossy(&kv.key).into_owned(), source: e })
            })
            .collect()
    }

    /// Writes `value` if the key's mod revision is still `rev` (0: absent). False on conflict.
    pub async fn put_if<T: Serialize>(&self, key: &str, value: &T, rev: i64, lease: i64) -> Result<bool> {
        let bytes = serde_json::to_vec(value).map_err(|e| IamError::Corrupt { key: key.into(), source: e })?;
        let r = self
            .store
            .txn(TxnRequest {
                compare: vec![Compare::mod_revision(key.as_bytes().to_vec(), rev)],
                success: vec![Op::Put { key: key.as_bytes().to_vec(), value: bytes, lease }],
                failure: vec![],
            })
            .await?;
        Ok(r.succeeded)
    }

    /// Deletes a key if its mod revision is still `rev`.
    pub async fn delete_if(&self, key: &str, rev: i64) -> Result<bool> {
        let r = self
            .store
            .txn(TxnRequest {
                compare: vec![Compare::mod_revision(key.as_bytes().to_vec(), rev)],
                success: vec![Op::delete(key.as_bytes().to_vec())],
                failure: vec![],
            })
            .await?;
        Ok(r.succeeded)
    }

    /// Read-modify-write with retry on conflict. `Ok(None)`: the record does not exist.
    pub async fn update<T, F>(&self, key: &str, mut f: F) -> std::result::Result<Option<T>, AwsError>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(&mut T) -> std::result::Result<(), AwsError>,
    {
        loop {
            let Some((mut v, rev)) = self.get::<T>(key).await.map_err(AwsError::internal)? else {
                return Ok(None);
            };
            f(&mut v)?;
            if self.put_if(key, &v, rev, 0).await.map_err(AwsError::internal)? {
                return Ok(Some(v));
            }
        }
    }

    /// A user by name (case-insensitive).
    pub async fn user(&self, name: &str) -> Result<Option<User>> {
        Ok(self.get::<User>(&user_key(name)).await?.map(|(u, _)| u))
    }

    /// A group by name (case-insensitive).
    pub async fn group(&self, name: &str) -> Result<Option<Group>> {
        Ok(self.get::<Group>(&group_key(name)).await?.map(|(g, _)| g))
    }

    /// A role by name (case-insensitive).
    pub async fn role(&self, name: &str) -> Result<Option<Role>> {
        Ok(self.get::<Role>(&role_key(name)).await?.map(|(r, _)| r))
    }

    /// A customer-managed policy by name.
    pub async fn policy(&self, name: &str) -> Result<Option<Policy>> {
        Ok(self.get::<Policy>(&policy_key(name)).await?.map(|(p, _)| p))
    }

    /// The policy documents that apply to a caller (attached managed + inline); `None` for
    /// the root, which is not subject to identity policies.
    pub async fn policies_for(&self, caller: &Caller) -> Result<Option<Vec<PolicyDocument>>> {
        let (attached, inline) = match &caller.kind {
            PrincipalKind::Root => return Ok(None),
            PrincipalKind::Anonymous => return Ok(Some(Vec::new())),
            PrincipalKind::User { name } | PrincipalKind::UserSession { name } => match self.user(name).await? {
                Some(u) => {
                    let mut attached = u.attached;
                    for g in &u.groups {
                        if let Some(g) = self.group(g).await? {
                            attached.extend(g.attached);
                        }
                    }
                    (attached, u.inline)
                }
                None => return Ok(Some(Vec::new())),
            },
            PrincipalKind::AssumedRole { role_name, .. } => match self.role(role_name).await? {
                Some(r) => (r.attached, r.inline),
                None => return Ok(Some(Vec::new())),
            },
        };
        let mut docs = Vec::new();
        for arn in attached {
            if let Some(d) = managed::parsed(&arn) {
                docs.push(d.clone());
                continue;
            }
            let text = if let Some(name) = arn.rsplit('/').next() {
                self.policy(name).await?.and_then(|p| p.document().map(str::to_string))
            } else {
                None
            };
            if let Some(t) = text {
                match PolicyDocument::parse(&t, true) {
                    Ok(d) => docs.push(d),
                    Err(e) => tracing::warn!(policy = %arn, error = %e, "stored policy does not parse; ignored"),
                }
            }
        }
        for (name, text) in inline {
            match PolicyDocument::parse(&text, true) {
                Ok(d) => docs.push(d),
                Err(e) => tracing::warn!(policy = %name, error = %e, "stored inline policy does not parse; ignored"),
            }
        }
        Ok(Some(docs))
    }
}

/// Key of a user.
pub fn user_key(name: &str) -> String {
    format!("{USERS}{}", name.to_lowercase())
}
/// Key of a group.
pub fn group_key(name: &str) -> String {
    format!("{GROUPS}{}", name.to_lowercase())
}
/// Key of a role.
pub fn role_key(name: &str) -> String {
    format!("{ROLES}{}", name.to_lowercase())
}
/// Key of a customer-managed policy.
pub fn policy_key(name: &str) -> String {
    format!("{POLICIES}{}", name.to_lowercase())
}
/// Key of an access key.
pub fn access_key_key(id: &str) -> String {
    format!("{ACCESS_KEYS}{id}")
}
/// Key of a session.
pub fn session_key(id: &str) -> String {
    format!("{SESSIONS}{id}")
}
/// Key of an OIDC provider.
pub fn oidc_key(url: &str) -> String {
    format!("{OIDC_PROVIDERS}{url}")
}

/// An issuer URL without `https://` and trailing `/`, as IAM names providers.
pub fn issuer_host_path(url: &str) -> String {
    url.trim_start_matches("https://").trim_end_matches('/').to_string()
}
