//! The STS API (query protocol, version 2011-06-15): GetCallerIdentity, AssumeRole (trust
//! policy checked) and GetSessionToken. Temporary credentials are stored on a datastore
//! lease that ends when they expire.

use std::sync::Arc;

use async_trait::async_trait;
use wharf_aws::time::format_iso8601;
use wharf_aws::xml::XmlWriter;
use wharf_aws::{AwsError, Caller, Decision, Input, Output, PrincipalKind, Protocol, QueryParams, RequestContext, Service};

use crate::model::{OidcProvider, Session, SessionOwner};
use crate::oidc::{audiences, peek_claims, verify_jwt, JwtError};
use crate::state::{issuer_host_path, oidc_key};
use crate::policy::{evaluate_trust, PolicyDocument, PrincipalFacts, PrincipalMatch};
use crate::state::{new_id, new_secret, session_key};
use crate::{request_context_keys, role_arn, Iam};

/// The STS service for the front door.
#[derive(Debug, Clone)]
pub struct StsService {
    iam: Arc<Iam>,
}

impl StsService {
    /// STS over an account.
    pub fn new(iam: Arc<Iam>) -> Self {
        Self { iam }
    }
}

const OPERATIONS: &[&str] = &["GetCallerIdentity", "AssumeRole", "GetSessionToken", "AssumeRoleWithWebIdentity", "GetAccessKeyInfo"];

fn credentials_xml(w: &mut XmlWriter, s: &Session) {
    w.open("Credentials")
        .elem("AccessKeyId", &s.access_key_id)
        .elem("SecretAccessKey", &s.secret)
        .elem("SessionToken", &s.token)
        .elem("Expiration", format_iso8601(s.expires_at))
        .close("Credentials");
}

fn duration(q: &QueryParams, default: i64, min: i64, max: i64) -> Result<i64, AwsError> {
    let d = q.get_i64("DurationSeconds")?.unwrap_or(default);
    if d < min {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {min}"
        )));
    }
    if d > max {
        return Err(AwsError::validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role."));
    }
    Ok(d)
}

impl StsService {
    async fn store_session(&self, s: &Session, ttl: i64) -> Result<(), AwsError> {
        let store = self.iam.state().store();
        let lease = store.lease_grant(ttl.max(1), 0).await.map_err(AwsError::internal)?;
        if !self.iam.state().put_if(&session_key(&s.access_key_id), s, 0, lease.id).await.map_err(AwsError::internal)? {
            return Err(AwsError::internal("session access key id collision"));
        }
        Ok(())
    }

    fn new_session(&self, ctx: &RequestContext, ttl: i64, owner: SessionOwner) -> Session {
        Session {
            access_key_id: new_id("ASIA", 16),
            secret: new_secret(40),
            token: format!("IQoJb3JpZ2luX2Vj{}", new_secret(340)),
            expires_at: ctx.now + ttl,
            issued_at: ctx.now,
            owner,
        }
    }

    fn get_caller_identity(&self, ctx: &RequestContext) -> Result<Output, AwsError> {
        let mut w = XmlWriter::new();
        w.elem("UserId", &ctx.caller.user_id).elem("Account", &ctx.caller.account).elem("Arn", &ctx.caller.arn);
        Ok(Output::Xml(w.finish()))
    }

    async fn assume_role(&self, ctx: &RequestContext, q: &QueryParams) -> Result<Output, AwsError> {
        let arn = q.require("RoleArn")?;
        let session_name = session_name(q)?;
        if q.get("Policy").is_some() || !q.list("PolicyArns", "member").is_empty() || !q.structs("PolicyArns", "member").is_empty() {
            return Err(AwsError::validation("Session policies are not supported by this endpoint."));
        }
        let denied = || {
            AwsError::access_denied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {arn}",
                ctx.caller.arn
            ))
        };
        if ctx.caller.kind == PrincipalKind::Root {
            return Err(AwsError::access_denied("Roles may not be assumed by root accounts."));
        }
        let name = arn.rsplit('/').next().unwrap_or_default();
        let role = self.iam.state().role(name).await.map_err(AwsError::internal)?;
        let Some(role) = role.filter(|r| role_arn(self.iam.account_id(), &r.path, &r.name) == arn) else {
            return Err(denied());
        };
        let trust = PolicyDocument::parse(&role.trust_policy, false).map_err(|_| denied())?;
        let mut facts = PrincipalFacts { account: ctx.caller.account.clone(), arns: vec![ctx.caller.arn.clone()], ..Default::default() };
        if let PrincipalKind::AssumedRole { role_name, .. } = &ctx.caller.kind {
            facts.arns.push(format!("arn:aws:iam::{}:role/{role_name}", ctx.caller.account));
            if let Ok(Some(r)) = self.iam.state().role(role_name).await {
                facts.arns.push(role_arn(&ctx.caller.account, &r.path, &r.name));
            }
        }
        let mut keys = request_context_keys(ctx);
        keys.set("sts:RoleSessionName", session_name);
        if let Some(e) = q.get("ExternalId") {
            keys.set("sts:ExternalId", e);
        }
        let (trust_decision, how) = evaluate_trust(&trust, &facts, "sts:AssumeRole", &keys);
        if trust_decision != Decision::Allow {
            return Err(denied());
        }
        let identity = self.iam.authorize(&ctx.caller, "sts:AssumeRole", arn, &keys).await.map_err(AwsError::internal)?;
        let allowed = match how {
            PrincipalMatch::Specific => identity != Decision::ExplicitDeny,
            _ => identity == Decision::Allow,
        };
        if !allowed {
            return Err(denied());
        }
        let ttl = duration(q, 3600, 900, role.max_session_duration)?;
        let s = self.new_session(
            ctx,
            ttl,
            SessionOwner::Role { role_name: role.name.clone(), role_id: role.role_id.clone(), session_name: session_name.into() },
        );
        self.store_session(&s, ttl).await?;
        let mut w = XmlWriter::new();
        credentials_xml(&mut w, &s);
        w.open("AssumedRoleUser")
            .elem("AssumedRoleId", format!("{}:{session_name}", role.role_id))
            .elem("Arn", format!("arn:aws:sts::{}:assumed-role/{}/{session_name}", self.iam.account_id(), role.name))
            .close("AssumedRoleUser");
        Ok(Output::Xml(w.finish()))
    }

    async fn assume_role_with_web_identity(&self, ctx: &RequestContext, q: &QueryParams) -> Result<Output, AwsError> {
        let arn = q.require("RoleArn")?;
        let session_name = session_name(q)?;
        let token = q.require("WebIdentityToken")?;
        let unverified = peek_claims(token).map_err(|e| invalid_token(e.to_string()))?;
        let iss = unverified["iss"].as_str().unwrap_or_default().to_string();
        let url = issuer_host_path(&iss);
        let no_provider = || invalid_token(format!("No OpenIDConnect provider found in your account for {iss}"));
        if url.is_empty() {
            return Err(no_provider());
        }
        let Some((provider, _)) = self.iam.state().get::<OidcProvider>(&oidc_key(&url)).await.map_err(AwsError::internal)? else {
            return Err(no_provider());
        };
        let keys = self.iam.issuer_keys(&iss);
        if keys.is_empty() {
            return Err(invalid_token(
                "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
            ));
        }
        let claims = match verify_jwt(token, &keys, ctx.now) {
            Ok(c) => c,
            Err(JwtError::Expired) => {
                return Err(AwsError::bad_request("ExpiredTokenException", "Token expired: current date/time must be before the expiration date/time"))
            }
            Err(e) => return Err(invalid_token(e.to_string())),
        };
        let auds = audiences(&claims);
        let Some(aud) = auds.iter().find(|a| provider.client_ids.contains(a)).cloned() else {
            return Err(invalid_token("Incorrect token audience"));
        };
        let sub = claims["sub"].as_str().unwrap_or_default().to_string();
        let denied = || AwsError::access_denied("Not authorized to perform sts:AssumeRoleWithWebIdentity");
        let name = arn.rsplit('/').next().unwrap_or_default();
        let role = self.iam.state().role(name).await.map_err(AwsError::internal)?;
        let Some(role) = role.filter(|r| role_arn(self.iam.account_id(), &r.path, &r.name) == arn) else {
            return Err(denied());
        };
        let trust = PolicyDocument::parse(&role.trust_policy, false).map_err(|_| denied())?;
        let provider_arn = format!("arn:aws:iam::{}:oidc-provider/{url}", self.iam.account_id());
        let facts = PrincipalFacts { federated: Some(provider_arn), ..Default::default() };
        let mut keys = request_context_keys(ctx);
        keys.set(&format!("{url}:sub"), sub.clone()).set(&format!("{url}:aud"), aud.clone()).set("sts:RoleSessionName", session_name);
        if evaluate_trust(&trust, &facts, "sts:AssumeRoleWithWebIdentity", &keys).0 != Decision::Allow {
            return Err(denied());
        }
        let ttl = duration(q, 3600, 900, role.max_session_duration)?;
        let s = self.new_session(
            ctx,
            ttl,
            SessionOwner::Role { role_name: role.name.clone(), role_id: role.role_id.clone(), session_name: session_name.into() },
        );
        self.store_session(&s, ttl).await?;
        let mut w = XmlWriter::new();
        credentials_xml(&mut w, &s);
        w.elem("SubjectFromWebIdentityToken", &sub);
        w.open("AssumedRoleUser")
            .elem("AssumedRoleId", format!("{}:{session_name}", role.role_id))
            .elem("Arn", format!("arn:aws:sts::{}:assumed-role/{}/{session_name}", self.iam.account_id(), role.name))
            .close("AssumedRoleUser");
        w.elem("Provider", &iss).elem("Audience", &aud);
        Ok(Output::Xml(w.finish()))
    }

    async fn get_session_token(&self, ctx: &RequestContext, q: &QueryParams) -> Result<Output, AwsError> {
        let (owner, max) = match (&ctx.caller.kind, caller_has_long_term_key(&ctx.caller)) {
            (PrincipalKind::Root, true) => (SessionOwner::Root, 3600),
            (PrincipalKind::User { name }, true) => (SessionOwner::User { name: name.clone() }, 129600),
            _ => return Err(AwsError::access_denied("Cannot call GetSessionToken with session credentials")),
        };
        let ttl = duration(q, 43200.min(max), 900, max)?;
        let s = self.new_session(ctx, ttl, owner);
        self.store_session(&s, ttl).await?;
        let mut w = XmlWriter::new();
        credentials_xml(&mut w, &s);
        Ok(Output::Xml(w.finish()))
    }
}

fn session_name(q: &QueryParams) -> Result<&str, AwsError> {
    let name = q.require("RoleSessionName")?;
    if name.len() < 2 || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    Ok(name)
}

fn invalid_token(message: impl Into<String>) -> AwsError {
    AwsError::bad_request("InvalidIdentityToken", message)
}

fn caller_has_long_term_key(c: &Caller) -> bool {
    c.access_key_id.as_deref().is_some_and(|k| k.starts_with("AKIA"))
}

#[async_trait]
impl Service for StsService {
    fn signing_name(&self) -> &'static str {
        "sts"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Query { version: "2011-06-15", xmlns: "https://sts.amazonaws.com/doc/2011-06-15/" }
    }

    fn has_operation(&self, operation: &str) -> bool {
        OPERATIONS.contains(&operation)
    }

    fn is_unauthenticated(&self, operation: &str) -> bool {
        operation == "AssumeRoleWithWebIdentity"
    }

    async fn call(&self, ctx: &RequestContext, operation: &str, input: Input) -> Result<Output, AwsError> {
        let Input::Query(q) = input else {
            return Err(AwsError::internal("STS received a non-query input"));
        };
        match operation {
            "GetCallerIdentity" => self.get_caller_identity(ctx),
            "AssumeRole" => self.assume_role(ctx, &q).await,
            "GetSessionToken" => self.get_session_token(ctx, &q).await,
            "AssumeRoleWithWebIdentity" => self.assume_role_with_web_identity(ctx, &q).await,
            "GetAccessKeyInfo" => {
                let id = q.require("AccessKeyId")?;
                let known = self.iam.credential_exists(id).await.map_err(AwsError::internal)?;
                if !known {
                    return Err(AwsError::new(http::StatusCode::BAD_REQUEST, "InvalidAccessKeyId", "The access key ID you provided does not exist in our records."));
                }
                let mut w = XmlWriter::new();
                w.elem("Account", self.iam.account_id());
                Ok(Output::Xml(w.finish()))
            }
            op => Err(self.protocol().unknown_operation(op)),
        }
    }
}
