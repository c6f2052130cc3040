//! Who may push and pull: ECR authorization tokens and the registry [`Authorizer`] that
//! judges them by IAM policy evaluation plus the repository policy.
//!
//! `GetAuthorizationToken` issues a password `ecr.<id>.<secret>` (no `:`, as the CLI splits
//! the decoded `AWS:<password>` on it). The record under `/ecr/tokens/<id>` keeps the secret's
//! SHA-256, the calling principal and the expiry (12 hours, or sooner when the caller's own
//! credentials expire sooner), so tokens survive a restart and are never stored in clear.
//! The registry identity of a token is `ecr-token/<id>`; every request is judged again
//! against the principal's *current* policies, so attaching or detaching a policy takes
//! effect on tokens already issued.
//!
//! Pull needs `ecr:BatchGetImage` and `ecr:GetDownloadUrlForLayer`; push needs `ecr:PutImage`,
//! `ecr:InitiateLayerUpload`, `ecr:UploadLayerPart` and `ecr:CompleteLayerUpload`, each
//! on the repository's ARN. As in AWS within one account, an action is allowed when the
//! identity policies or the repository policy allow it and neither denies it explicitly.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use wharf_aws::{Caller, Decision, PrincipalKind};
use wharf_iam::policy::{condition_holds, glob_match, Context, Effect, Patterns, PolicyDocument};
use wharf_iam::Iam;
use wharf_registry::{Actions, AuthError, Authorizer, Identity, LocalAuthorizer, Resource};
use wharf_store::KvStore;

use crate::record::{self, RepoRecord, StoredCaller, TokenRecord};
use crate::{Error, Result};

/// How long an authorization token lives (ECR: 12 hours).
pub const TOKEN_TTL_SECS: i64 = 12 * 3600;
/// The actions a pull needs.
pub const PULL_ACTIONS: [&str; 2] = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"];
/// The actions a push needs.
pub const PUSH_ACTIONS: [&str; 4] =
    ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"];

const PASSWORD_PREFIX: &str = "ecr.";
const IDENTITY_PREFIX: &str = "ecr-token/";

/// An issued authorization token.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The Basic password for user `AWS`.
    pub password: String,
    /// Expiry, seconds since the epoch.
    pub expires_at: i64,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// The registry's [`Authorizer`] under IAM: ECR tokens judged by policy evaluation, with the
/// local admin credential (and named local credentials) still accepted through `local`.
pub struct RegistryAuthorizer {
    store: Arc<dyn KvStore>,
    iam: Arc<Iam>,
    region: String,
    local: LocalAuthorizer,
}

fn now_secs() -> i64 {
    wharf_aws::time::now_unix()
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl RegistryAuthorizer {
    /// An authorizer for the account of `iam` in `region`, falling back to `local`.
    pub fn new(store: Arc<dyn KvStore>, iam: Arc<Iam>, region: impl Into<String>, local: LocalAuthorizer) -> Self {
        Self { store, iam, region: region.into(), local }
    }

    /// The region repository ARNs are in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The account id.
    pub fn account_id(&self) -> &str {
        self.iam.account_id()
    }

    /// `arn:aws:ecr:REGION:ACCOUNT:repository/NAME`.
    pub fn repository_arn(&self, name: &str) -> String {
        format!("arn:aws:ecr:{}:{}:repository/{name}", self.region, self.iam.account_id())
    }

    /// Issues a token acting as `caller`, expiring after 12 hours or at `not_after`.
    pub async fn issue(&self, caller: &Caller, not_after: Option<i64>) -> Result<IssuedToken> {
        use rand::Rng as _;
        let id: [u8; 12] = rand::thread_rng().gen();
        let secret: [u8; 32] = rand::thread_rng().gen();
        let id = hex::encode(id);
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let mut expires_at = now_secs() + TOKEN_TTL_SECS;
        if let Some(limit) = not_after {
            expires_at = expires_at.min(limit);
        }
        let rec = TokenRecord { secret_sha256: sha256_hex(&secret), expires_at, caller: StoredCaller::from(caller) };
        if !record::put_if(self.store.as_ref(), record::token_key(&id), &rec, 0).await? {
            return Err(Error::Encode("token id collision".into()));
        }
        Ok(IssuedToken { password: format!("{PASSWORD_PREFIX}{id}.{secret}"), expires_at })
    }

    /// Deletes expired token records; returns how many.
    pub async fn sweep_tokens(&self) -> Result<usize> {
        let prefix = record::TOKEN_PREFIX.as_bytes().to_vec();
        let r = self
            .store
            .range(wharf_store::RangeRequest {
                range_end: wharf_store::prefix_end(&prefix),
                key: prefix,
                ..Default::default()
            })
            .await?;
        let now = now_secs();
        let mut n = 0;
        for kv in r.kvs {
            let expired = serde_json::from_slice::<TokenRecord>(&kv.value).map(|t| t.expires_at <= now).unwrap_or(true);
            if expired {
                record::delete(self.store.as_ref(), kv.key).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// The principal behind a live token id.
    async fn token_caller(&self, id: &str) -> Result<Option<(TokenRecord, Caller)>> {
        let Some((rec, _)) = record::get::<TokenRecord>(self.store.as_ref(), record::token_key(id)).await? else {
            return Ok(None);
        };
        if rec.expires_at <= now_secs() {
            return Ok(None);
        }
        let caller = rec.caller.to_caller();
        Ok(Some((rec, caller)))
    }

    /// The decision for `caller` doing `action` on repository `name`: identity policies and
    /// the repository policy combined (explicit deny in either wins, then an allow in either).
    pub async fn decide(&self, caller: &Caller, action: &str, name: &str, ctx: &Context) -> Result<Decision> {
        let arn = self.repository_arn(name);
        let identity = self.iam.authorize(caller, action, &arn, ctx).await?;
        let resource = self.repository_policy_decision(caller, action, name, &arn, ctx).await?;
        Ok(combine(identity, resource))
    }

    /// What the repository policy of `name` says about `caller` doing `action`.
    pub async fn repository_policy_decision(
        &self,
        caller: &Caller,
        action: &str,
        name: &str,
        arn: &str,
        ctx: &Context,
    ) -> Result<Decision> {
        let Some((rec, _)) = record::get::<RepoRecord>(self.store.as_ref(), record::repo_key(name)).await? else {
            return Ok(Decision::ImplicitDeny);
        };
        let Some(text) = rec.policy else { return Ok(Decision::ImplicitDeny) };
        let Ok(doc) = PolicyDocument::parse(&text, false) else {
            tracing::warn!(repository = name, "stored repository policy does not parse; ignoring it");
            return Ok(Decision::ImplicitDeny);
        };
        Ok(resource_policy_decision(&doc, caller, action, arn, ctx))
    }

    async fn all_allowed(&self, caller: &Caller, actions: &[&str], name: &str, ctx: &Context) -> Result<bool> {
        for a in actions {
            if self.decide(caller, a, name, ctx).await? != Decision::Allow {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn allowed_for(&self, caller: &Caller, resource: &Resource) -> Result<Actions> {
        let mut ctx = Context::new();
        let now = now_secs();
        ctx.set("aws:RequestedRegion", self.region.clone())
            .set("aws:CurrentTime", wharf_aws::time::format_iso8601(now))
            .set("aws:EpochTime", now.to_string());
        let name = match resource {
            Resource::Repository(n) => n.clone(),
            Resource::Catalog => {
                // Listing repositories: DescribeRepositories on every repository.
                let d = self.iam.authorize(caller, "ecr:DescribeRepositories", &self.repository_arn("*"), &ctx).await?;
                return Ok(if d == Decision::Allow { Actions::PULL } else { Actions::NONE });
            }
        };
        let pull = self.all_allowed(caller, &PULL_ACTIONS, &name, &ctx).await?;
        let push = self.all_allowed(caller, &PUSH_ACTIONS, &name, &ctx).await?;
        Ok(Actions { pull, push })
    }
}

/// Same-account combination of an identity-policy and a resource-policy decision.
pub fn combine(identity: Decision, resource: Decision) -> Decision {
    if identity == Decision::ExplicitDeny || resource == Decision::ExplicitDeny {
        Decision::ExplicitDeny
    } else if identity == Decision::Allow || resource == Decision::Allow {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// The ARNs that name `caller` in a Principal element.
fn caller_arns(caller: &Caller) -> Vec<String> {
    let mut arns = vec![caller.arn.clone()];
    if let PrincipalKind::AssumedRole { role_name, .. } = &caller.kind {
        arns.push(format!("arn:aws:iam::{}:role/{role_name}", caller.account));
    }
    arns
}

fn patterns_match(p: &Patterns, text: &str, fold: bool) -> bool {
    match p {
        Patterns::Is(v) => v.iter().any(|x| glob_match(x, text, fold)),
        Patterns::Not(v) => !v.iter().any(|x| glob_match(x, text, fold)),
    }
}

/// Evaluates a repository policy. A statement naming the caller's ARN or `*` grants; one
/// naming only the account (its id or `:root`) delegates to identity policies and grants
/// nothing by itself, but its Deny still applies.
pub fn resource_policy_decision(doc: &PolicyDocument, caller: &Caller, action: &str, arn: &str, ctx: &Context) -> Decision {
    let arns = caller_arns(caller);
    let root = format!("arn:aws:iam::{}:root", caller.account);
    let mut allowed = false;
    for s in &doc.statements {
        let Some((not, p)) = &s.principal else { continue };
        let specific = p.any || p.aws.iter().any(|a| a == "*" || arns.contains(a));
        let account = p.aws.iter().any(|a| *a == caller.account || *a == root);
        let named = if *not { !specific && !account } else { specific || account };
        let applies = named
            && s.action.as_ref().is_some_and(|a| patterns_match(a, action, true))
            && s.resource.as_ref().is_none_or(|r| patterns_match(r, arn, false))
            && s.conditions.iter().all(|c| condition_holds(c, ctx));
        if !applies {
            continue;
        }
        match s.effect {
            Effect::Deny => return Decision::ExplicitDeny,
            Effect::Allow if *not || specific => allowed = true,
            Effect::Allow => {}
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

#[async_trait]
impl Authorizer for RegistryAuthorizer {
    async fn authenticate(&self, password: &str) -> Result<Option<Identity>, AuthError> {
        let Some(rest) = password.strip_prefix(PASSWORD_PREFIX) else { return self.local.authenticate(password).await };
        let Some((id, secret)) = rest.split_once('.') else { return Ok(None) };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let found = self.token_caller(id).await.map_err(|e| AuthError::Corrupt { name: format!("ecr token {id}"), reason: e.to_string() })?;
        let Some((rec, _)) = found else { return Ok(None) };
        let ok = constant_time_eq(rec.secret_sha256.as_bytes(), sha256_hex(secret).as_bytes());
        Ok(ok.then(|| Identity { name: format!("{IDENTITY_PREFIX}{id}") }))
    }

    async fn allowed(&self, identity: &Identity, resource: &Resource) -> Result<Actions, AuthError> {
        let Some(id) = identity.name.strip_prefix(IDENTITY_PREFIX) else {
            return self.local.allowed(identity, resource).await;
        };
        let corrupt = |e: Error| AuthError::Corrupt { name: format!("ecr token {id}"), reason: e.to_string() };
        let Some((_, caller)) = self.token_caller(id).await.map_err(corrupt)? else { return Ok(Actions::NONE) };
        self.allowed_for(&caller, resource).await.map_err(corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Caller {
        Caller {
            account: "111122223333".into(),
            arn: format!("arn:aws:iam::111122223333:user/{name}"),
            user_id: "AIDA".into(),
            access_key_id: None,
            kind: PrincipalKind::User { name: name.into() },
        }
    }

    const ARN: &str = "arn:aws:ecr:us-east-1:111122223333:repository/app";

    #[test]
    fn a_repository_policy_grants_to_named_principals_and_denies_explicitly() {
        let doc = PolicyDocument::parse(
            r#"{"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]},
              {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/mallory"},"Action":"ecr:*"}]}"#,
            false,
        )
        .unwrap();
        let ctx = Context::new();
        assert_eq!(resource_policy_decision(&doc, &user("alice"), "ecr:BatchGetImage", ARN, &ctx), Decision::Allow);
        assert_eq!(resource_policy_decision(&doc, &user("alice"), "ecr:PutImage", ARN, &ctx), Decision::ImplicitDeny);
        assert_eq!(resource_policy_decision(&doc, &user("bob"), "ecr:BatchGetImage", ARN, &ctx), Decision::ImplicitDeny);
        assert_eq!(resource_policy_decision(&doc, &user("mallory"), "ecr:BatchGetImage", ARN, &ctx), Decision::ExplicitDeny);
    }

    #[test]
    fn naming_the_account_in_a_repository_policy_only_delegates_to_identity_policies() {
        let doc = PolicyDocument::parse(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"ecr:*"}]}"#,
            false,
        )
        .unwrap();
        assert_eq!(resource_policy_decision(&doc, &user("bob"), "ecr:BatchGetImage", ARN, &Context::new()), Decision::ImplicitDeny);
        let public = PolicyDocument::parse(r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}"#, false).unwrap();
        assert_eq!(resource_policy_decision(&public, &user("bob"), "ecr:BatchGetImage", ARN, &Context::new()), Decision::Allow);
    }

    #[test]
    fn an_explicit_deny_in_either_policy_wins_over_an_allow_in_the_other() {
        use Decision::*;
        assert_eq!(combine(Allow, ExplicitDeny), ExplicitDeny);
        assert_eq!(combine(ExplicitDeny, Allow), ExplicitDeny);
        assert_eq!(combine(ImplicitDeny, Allow), Allow);
        assert_eq!(combine(Allow, ImplicitDeny), Allow);
        assert_eq!(combine(ImplicitDeny, ImplicitDeny), ImplicitDeny);
    }
}
