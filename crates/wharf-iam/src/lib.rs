//! Wharf's identity: the account, IAM (users, access keys, roles with trust policies,
//! customer-managed, AWS-managed and inline policies, tags) and STS (caller identity,
//! role sessions and session tokens), with IAM policy evaluation for every AWS call.
//!
//! [`Iam::open`] creates the account (12-digit id, configurable) and the admin (root)
//! access key on first start and keeps them in the datastore under `/aws/`; it implements
//! [`wharf_aws::Identity`], so the front door authenticates SigV4 and services authorize
//! through it. [`IamService`] and [`StsService`] are the query-protocol APIs;
//! [`write_aws_env`] writes `DIR/aws.env`; [`Iam::verify_eks_token`] checks the bearer tokens
//! `aws eks get-token` makes, for the clusters' authenticators.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod api;
pub mod eks_token;
pub mod managed;
pub mod model;
pub mod oidc;
pub mod policy;
pub mod state;
mod sts;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use wharf_aws::{AwsError, Caller, ConditionKeys, Credential, Decision, Identity, PrincipalKind, RequestContext};
use wharf_store::{KvStore, StoreError};

pub use api::IamService;
pub use sts::StsService;

use model::{AccessKey, Account, KeyOwner, Session, SessionOwner};
use policy::Context;
use state::{access_key_key, new_id, new_secret, session_key, State, ACCOUNT_KEY};

/// Errors of the identity layer.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// The datastore failed.
    #[error("datastore: {0}")]
    Store(#[from] StoreError),
    /// A stored record does not decode.
    #[error("stored record {key} does not decode")]
    Corrupt {
        /// The key.
        key: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The configured account id is not 12 digits.
    #[error("account id {0:?} is not 12 digits")]
    InvalidAccountId(String),
    /// The datastore belongs to another account.
    #[error("the data directory holds account {stored}, not the configured {configured}")]
    AccountMismatch {
        /// Stored account id.
        stored: String,
        /// Configured account id.
        configured: String,
    },
    /// Writing `aws.env` failed.
    #[error("writing {path}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with [`IamError`].
pub type Result<T, E = IamError> = std::result::Result<T, E>;

/// How the account is created.
#[derive(Debug, Clone, Default)]
pub struct IamConfig {
    /// The account id to create (12 digits); random when `None`. Must match the stored one.
    pub account_id: Option<String>,
}

/// The admin access key of the account. `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCredentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// The account's identity service.
pub struct Iam {
    state: State,
    account_id: String,
    admin: AdminCredentials,
    issuer_keys: std::sync::RwLock<std::collections::HashMap<String, Vec<oidc::Jwk>>>,
}

impl std::fmt::Debug for Iam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iam").field("account_id", &self.account_id).finish()
    }
}

fn random_account_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let first = rng.gen_range(1..10);
    let rest: String = (0..11).map(|_| char::from(b'0' + rng.gen_range(0..10))).collect();
    format!("{first}{rest}")
}

impl Iam {
    /// Opens the account, creating it and its admin key on first start.
    pub async fn open(store: Arc<dyn KvStore>, config: IamConfig) -> Result<Self> {
        if let Some(id) = &config.account_id {
            if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(IamError::InvalidAccountId(id.clone()));
            }
        }
        let state = State::new(store);
        loop {
            if let Some((account, _)) = state.get::<Account>(ACCOUNT_KEY).await? {
                if let Some(c) = &config.account_id {
                    if *c != account.account_id {
                        return Err(IamError::AccountMismatch { stored: account.account_id, configured: c.clone() });
                    }
                }
                let key = state
                    .get::<AccessKey>(&access_key_key(&account.admin_access_key_id))
                    .await?
                    .map(|(k, _)| k)
                    .ok_or_else(|| IamError::Store(StoreError::Backend("the admin access key is missing".into())))?;
                return Ok(Self {
                    state,
                    account_id: account.account_id,
                    admin: AdminCredentials { access_key_id: key.id, secret_access_key: key.secret },
                    issuer_keys: Default::default(),
                });
            }
            let now = wharf_aws::time::now_unix();
            let key = AccessKey {
                id: new_id("AKIA", 16),
                secret: new_secret(40),
                owner: KeyOwner::Root,
                status: "Active".into(),
                create_date: now,
            };
            let account = Account {
                account_id: config.account_id.clone().unwrap_or_else(random_account_id),
                admin_access_key_id: key.id.clone(),
                create_date: now,
            };
            // The key first: an account record never points at a missing key.
            state.put_if(&access_key_key(&key.id), &key, 0, 0).await?;
            if state.put_if(ACCOUNT_KEY, &account, 0, 0).await? {
                tracing::info!(account = %account.account_id, "created the AWS account and its admin access key");
            } else {
                state.delete_if(&access_key_key(&key.id), state.get::<AccessKey>(&access_key_key(&key.id)).await?.map(|(_, r)| r).unwrap_or(0)).await?;
            }
        }
    }

    /// The 12-digit account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The admin (root) access key.
    pub fn admin_credentials(&self) -> &AdminCredentials {
        &self.admin
    }

    /// Registers (replaces) the signing keys of an OIDC issuer (`https://host/path`), which
    /// `AssumeRoleWithWebIdentity` verifies tokens with. Wharf's clusters register their
    /// service-account issuers here.
    pub fn set_issuer_keys(&self, issuer: &str, keys: Vec<oidc::Jwk>) {
        let mut m = self.issuer_keys.write().unwrap_or_else(|p| p.into_inner());
        m.insert(state::issuer_host_path(issuer), keys);
    }

    /// The registered keys of an issuer.
    pub fn issuer_keys(&self, issuer: &str) -> Vec<oidc::Jwk> {
        let m = self.issuer_keys.read().unwrap_or_else(|p| p.into_inner());
        m.get(&state::issuer_host_path(issuer)).cloned().unwrap_or_default()
    }

    /// The stored state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The caller of the account root.
    pub fn root_caller(&self) -> Caller {
        Caller {
            account: self.account_id.clone(),
            arn: format!("arn:aws:iam::{}:root", self.account_id),
            user_id: self.account_id.clone(),
            access_key_id: Some(self.admin.access_key_id.clone()),
            kind: PrincipalKind::Root,
        }
    }

    /// Evaluates the caller's identity policies for `action` on `resource` with the
    /// condition keys in `ctx` (global keys about the caller are added). The root is allowed
    /// everything; otherwise explicit deny wins, then allow, else implicit deny.
    pub async fn authorize(&self, caller: &Caller, action: &str, resource: &str, ctx: &Context) -> Result<Decision> {
        let Some(docs) = self.state.policies_for(caller).await? else {
            return Ok(Decision::Allow);
        };
        let mut ctx = ctx.clone();
        caller_context(caller, &mut ctx);
        Ok(policy::evaluate(docs.iter(), &policy::Request { action, resource, context: &ctx }))
    }

    /// [`Iam::authorize`] as a yes/no, with no extra condition keys.
    pub async fn is_allowed(&self, caller: &Caller, action: &str, resource: &str) -> Result<bool> {
        Ok(self.authorize(caller, action, resource, &Context::new()).await? == Decision::Allow)
    }

    /// The caller of a role session or session token.
    fn session_caller(&self, s: &Session) -> Caller {
        let acct = &self.account_id;
        let (arn, user_id, kind) = match &s.owner {
            SessionOwner::Role { role_name, role_id, session_name } => (
                format!("arn:aws:sts::{acct}:assumed-role/{role_name}/{session_name}"),
                format!("{role_id}:{session_name}"),
                PrincipalKind::AssumedRole { role_name: role_name.clone(), session_name: session_name.clone() },
            ),
            SessionOwner::User { name } => {
                (format!("arn:aws:iam::{acct}:user/{name}"), String::new(), PrincipalKind::UserSession { name: name.clone() })
            }
            SessionOwner::Root => (format!("arn:aws:iam::{acct}:root"), acct.clone(), PrincipalKind::Root),
        };
        Caller { account: acct.clone(), arn, user_id, access_key_id: Some(s.access_key_id.clone()), kind }
    }

    /// Whether an access key id (long-term or temporary) belongs to this account.
    pub async fn credential_exists(&self, access_key_id: &str) -> Result<bool> {
        if access_key_id.starts_with("ASIA") {
            return Ok(self.state.get::<Session>(&session_key(access_key_id)).await?.is_some());
        }
        Ok(self.state.get::<AccessKey>(&access_key_key(access_key_id)).await?.is_some())
    }

    async fn lookup(&self, access_key_id: &str) -> Result<Option<Credential>> {
        if access_key_id.starts_with("ASIA") {
            let Some((s, _)) = self.state.get::<Session>(&session_key(access_key_id)).await? else {
                return Ok(None);
            };
            let mut caller = self.session_caller(&s);
            if let SessionOwner::User { name } = &s.owner {
                caller.user_id = self.state.user(name).await?.map(|u| u.user_id).unwrap_or_default();
            }
            return Ok(Some(Credential {
                secret_access_key: s.secret,
                session_token: Some(s.token),
                expires_at: Some(s.expires_at),
                caller,
            }));
        }
        let Some((key, _)) = self.state.get::<AccessKey>(&access_key_key(access_key_id)).await? else {
            return Ok(None);
        };
        if key.status != "Active" {
            return Ok(None);
        }
        let caller = match &key.owner {
            KeyOwner::Root => self.root_caller(),
            KeyOwner::User(name) => {
                let Some(u) = self.state.user(name).await? else { return Ok(None) };
                Caller {
                    account: self.account_id.clone(),
                    arn: user_arn(&self.account_id, &u.path, &u.name),
                    user_id: u.user_id,
                    access_key_id: Some(key.id.clone()),
                    kind: PrincipalKind::User { name: u.name },
                }
            }
        };
        Ok(Some(Credential { secret_access_key: key.secret, session_token: None, expires_at: None, caller }))
    }
}

/// `arn:aws:iam::ACCOUNT:user{path}{name}`.
pub fn user_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user{path}{name}")
}

/// `arn:aws:iam::ACCOUNT:role{path}{name}`.
pub fn role_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role{path}{name}")
}

/// Adds the global condition keys that describe the caller.
fn caller_context(caller: &Caller, ctx: &mut Context) {
    ctx.set("aws:PrincipalAccount", caller.account.clone()).set("aws:userid", caller.user_id.clone());
    match &caller.kind {
        PrincipalKind::User { name } | PrincipalKind::UserSession { name } => {
            ctx.set("aws:username", name.clone()).set("aws:PrincipalArn", caller.arn.clone()).set("aws:PrincipalType", "User");
        }
        PrincipalKind::AssumedRole { role_name, .. } => {
            let role = caller
                .arn
                .strip_prefix("arn:aws:sts::")
                .and_then(|r| r.split_once(':'))
                .map(|(acct, _)| format!("arn:aws:iam::{acct}:role/{role_name}"))
                .unwrap_or_default();
            ctx.set("aws:PrincipalArn", role).set("aws:PrincipalType", "AssumedRole");
        }
        PrincipalKind::Root => {
            ctx.set("aws:PrincipalArn", caller.arn.clone()).set("aws:PrincipalType", "Account");
        }
        PrincipalKind::Anonymous => {
            ctx.set("aws:PrincipalType", "Anonymous");
        }
    }
}

/// The condition keys of a request context.
pub fn request_context_keys(req: &RequestContext) -> Context {
    let mut ctx = Context::new();
    ctx.set("aws:RequestedRegion", req.region.clone())
        .set("aws:CurrentTime", wharf_aws::time::format_iso8601(req.now))
        .set("aws:EpochTime", req.now.to_string());
    if let Some(ip) = req.source_ip {
        ctx.set("aws:SourceIp", ip.to_string());
    }
    ctx
}

#[async_trait]
impl Identity for Iam {
    async fn credential(&self, access_key_id: &str) -> std::result::Result<Option<Credential>, AwsError> {
        self.lookup(access_key_id).await.map_err(AwsError::internal)
    }

    async fn authorize(
        &self,
        ctx: &RequestContext,
        action: &str,
        resource: &str,
        keys: &ConditionKeys,
    ) -> std::result::Result<Decision, AwsError> {
        let mut c = request_context_keys(ctx);
        for (k, v) in &keys.0 {
            c.set_all(k, v.clone());
        }
        Iam::authorize(self, &ctx.caller, action, resource, &c).await.map_err(AwsError::internal)
    }
}

/// A front door serving IAM and STS for `iam`, with `region` as the default region
/// (register further services on it with [`wharf_aws::FrontDoor::register`]).
pub fn front_door(iam: Arc<Iam>, region: &str) -> wharf_aws::FrontDoor {
    wharf_aws::FrontDoor::new(iam.clone(), region)
        .register(Arc::new(IamService::new(iam.clone())))
        .register(Arc::new(StsService::new(iam)))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Writes `path` (`DIR/aws.env`, mode 0600): `export AWS_ENDPOINT_URL=… AWS_ACCESS_KEY_ID=…
/// AWS_SECRET_ACCESS_KEY=… AWS_DEFAULT_REGION=…`, plus `AWS_CA_BUNDLE` when `ca_bundle` is
/// given (an HTTPS endpoint with Wharf's own CA).
pub fn write_aws_env(
    path: &Path,
    endpoint: &str,
    region: &str,
    creds: &AdminCredentials,
    ca_bundle: Option<&Path>,
) -> Result<()> {
    let mut text = String::new();
    for (k, v) in [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", creds.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", creds.secret_access_key.as_str()),
        ("AWS_DEFAULT_REGION", region),
        ("AWS_REGION", region),
    ] {
        text.push_str(&format!("export {k}={}\n", shell_quote(v)));
    }
    if let Some(ca) = ca_bundle {
        text.push_str(&format!("export AWS_CA_BUNDLE={}\n", shell_quote(&ca.display().to_string())));
    }
    let io = |source| IamError::Io { path: path.display().to_string(), source };
    let tmp = path.with_extension("env.tmp");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}
