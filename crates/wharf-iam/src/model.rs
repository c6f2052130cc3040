//! The records IAM and STS keep in the datastore (JSON values under `/aws/`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The account, created on first start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Account {
    /// The 12-digit account id.
    pub account_id: String,
    /// The admin (root) access key id created with the account.
    pub admin_access_key_id: String,
    /// Creation time (seconds since the epoch).
    pub create_date: i64,
}

/// A resource tag.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// An IAM user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    /// Name (unique ignoring case).
    pub name: String,
    /// `AIDA...`.
    pub user_id: String,
    /// Path (`/`).
    pub path: String,
    /// Creation time.
    pub create_date: i64,
    /// Attached managed policy ARNs.
    #[serde(default)]
    pub attached: Vec<String>,
    /// Inline policies by name.
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Names of the groups the user is in.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// An IAM group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Group {
    /// Name (unique ignoring case).
    pub name: String,
    /// `AGPA...`.
    pub group_id: String,
    /// Path.
    pub path: String,
    /// Creation time.
    pub create_date: i64,
    /// Attached managed policy ARNs.
    #[serde(default)]
    pub attached: Vec<String>,
}

/// Who owns an access key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", content = "name")]
pub enum KeyOwner {
    /// The account root.
    Root,
    /// An IAM user.
    User(String),
}

/// A long-term access key. The secret is stored as is: SigV4 needs it to recompute
/// signatures, so it cannot be hashed. `Debug` leaves it out.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessKey {
    /// `AKIA...`.
    pub id: String,
    /// The secret access key.
    pub secret: String,
    /// The owner.
    pub owner: KeyOwner,
    /// `Active` or `Inactive`.
    pub status: String,
    /// Creation time.
    pub create_date: i64,
}

/// An IAM role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Role {
    /// Name (unique ignoring case).
    pub name: String,
    /// `AROA...`.
    pub role_id: String,
    /// Path.
    pub path: String,
    /// Creation time.
    pub create_date: i64,
    /// The trust policy (JSON as given).
    pub trust_policy: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Longest session, seconds.
    pub max_session_duration: i64,
    /// Attached managed policy ARNs.
    #[serde(default)]
    pub attached: Vec<String>,
    /// Inline policies by name.
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// One version of a customer-managed policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyVersion {
    /// `v1`, `v2`, ...
    pub version_id: String,
    /// The document (JSON as given).
    pub document: String,
    /// Creation time.
    pub create_date: i64,
}

/// A customer-managed policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Policy {
    /// Name (unique ignoring case).
    pub name: String,
    /// `ANPA...`.
    pub policy_id: String,
    /// Path.
    pub path: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Creation time.
    pub create_date: i64,
    /// Last change.
    pub update_date: i64,
    /// The default version id.
    pub default_version: String,
    /// Every version.
    pub versions: Vec<PolicyVersion>,
    /// The next version number.
    pub next_version: u32,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl Policy {
    /// The default version's document.
    pub fn document(&self) -> Option<&str> {
        self.versions.iter().find(|v| v.version_id == self.default_version).map(|v| v.document.as_str())
    }
}

/// Whose temporary credentials these are.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind")]
pub enum SessionOwner {
    /// A role session.
    Role {
        /// Role name.
        role_name: String,
        /// Role id (`AROA...`).
        role_id: String,
        /// Session name.
        session_name: String,
    },
    /// `GetSessionToken` of a user.
    User {
        /// User name.
        name: String,
    },
    /// `GetSessionToken` of the root.
    Root,
}

/// Temporary credentials from STS. `Debug` leaves the secrets out.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    /// `ASIA...`.
    pub access_key_id: String,
    /// The secret.
    pub secret: String,
    /// The session token.
    pub token: String,
    /// Expiry (seconds since the epoch).
    pub expires_at: i64,
    /// Issue time.
    pub issued_at: i64,
    /// Whose.
    pub owner: SessionOwner,
}

/// An OIDC identity provider.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OidcProvider {
    /// The issuer without scheme (`oidc.example.com/id/ABC`).
    pub url: String,
    /// Accepted audiences.
    pub client_ids: Vec<String>,
    /// Certificate thumbprints (recorded; keys are registered in-process).
    pub thumbprints: Vec<String>,
    /// Creation time.
    pub create_date: i64,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("owner", &self.owner)
            .field("status", &self.status)
            .field("create_date", &self.create_date)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("access_key_id", &self.access_key_id)
            .field("expires_at", &self.expires_at)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}
