//! The IAM API (query protocol, version 2010-05-08): users, access keys, roles, managed and
//! inline policies, attachments and tags.

use std::sync::Arc;

use async_trait::async_trait;
use http::StatusCode;
use wharf_aws::sigv4::uri_encode;
use wharf_aws::time::format_iso8601;
use wharf_aws::xml::XmlWriter;
use wharf_aws::{AwsError, ConditionKeys, Input, Output, PrincipalKind, Protocol, QueryParams, RequestContext, Service};

use crate::managed::{self, ManagedPolicy};
use crate::model::*;
use crate::policy::PolicyDocument;
use crate::state::*;
use crate::{role_arn, user_arn, Iam};

/// The IAM service for the front door.
#[derive(Debug, Clone)]
pub struct IamService {
    iam: Arc<Iam>,
}

impl IamService {
    /// IAM over an account.
    pub fn new(iam: Arc<Iam>) -> Self {
        Self { iam }
    }
}

const OPERATIONS: &[&str] = &[
    "CreateUser",
    "GetUser",
    "ListUsers",
    "DeleteUser",
    "TagUser",
    "UntagUser",
    "ListUserTags",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "CreateRole",
    "GetRole",
    "ListRoles",
    "DeleteRole",
    "UpdateAssumeRolePolicy",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
    "CreatePolicy",
    "GetPolicy",
    "GetPolicyVersion",
    "ListPolicies",
    "DeletePolicy",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "ListAttachedUserPolicies",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedRolePolicies",
    "PutUserPolicy",
    "GetUserPolicy",
    "ListUserPolicies",
    "DeleteUserPolicy",
    "PutRolePolicy",
    "GetRolePolicy",
    "ListRolePolicies",
    "DeleteRolePolicy",
    "CreatePolicyVersion",
    "ListPolicyVersions",
    "SetDefaultPolicyVersion",
    "DeletePolicyVersion",
    "CreateGroup",
    "GetGroup",
    "ListGroups",
    "DeleteGroup",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "ListGroupsForUser",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
    "ListAttachedGroupPolicies",
    "CreateServiceLinkedRole",
    "CreateOpenIDConnectProvider",
    "GetOpenIDConnectProvider",
    "ListOpenIDConnectProviders",
    "DeleteOpenIDConnectProvider",
];

type R = Result<Output, AwsError>;

fn no_such_entity(message: String) -> AwsError {
    AwsError::new(StatusCode::NOT_FOUND, "NoSuchEntity", message)
}
fn already_exists(message: String) -> AwsError {
    AwsError::new(StatusCode::CONFLICT, "EntityAlreadyExists", message)
}
fn delete_conflict(message: &str) -> AwsError {
    AwsError::new(StatusCode::CONFLICT, "DeleteConflict", message)
}
fn internal(e: impl std::fmt::Display) -> AwsError {
    AwsError::internal(e)
}

fn valid_name(name: &str, max: usize, member: &str) -> Result<(), AwsError> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AwsError::validation(format!(
            "1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        )))
    }
}

fn valid_path(q: &QueryParams) -> Result<String, AwsError> {
    let path = q.get("Path").unwrap_or("/");
    let ok = path.starts_with('/') && path.ends_with('/') && path.len() <= 512 && path.chars().all(|c| ('!'..='~').contains(&c));
    if !ok {
        return Err(AwsError::validation(format!(
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters. (got {path})"
        )));
    }
    Ok(path.to_string())
}

fn document_param(q: &QueryParams, member: &str, identity: bool) -> Result<String, AwsError> {
    let doc = q.require(member)?;
    PolicyDocument::parse(doc, identity)
        .map_err(|e| AwsError::bad_request("MalformedPolicyDocument", e.0))?;
    Ok(doc.to_string())
}

fn tags_param(q: &QueryParams) -> Result<Vec<Tag>, AwsError> {
    q.structs("Tags", "member")
        .iter()
        .map(|t| Ok(Tag { key: t.require("Key")?.to_string(), value: t.get("Value").unwrap_or("").to_string() }))
        .collect()
}

fn merge_tags(existing: &mut Vec<Tag>, new: Vec<Tag>) -> Result<(), AwsError> {
    for t in new {
        match existing.iter_mut().find(|e| e.key == t.key) {
            Some(e) => e.value = t.value,
            None => existing.push(t),
        }
    }
    if existing.len() > 50 {
        return Err(AwsError::new(StatusCode::CONFLICT, "LimitExceeded", "Cannot exceed quota for TagsPerResource: 50"));
    }
    Ok(())
}

/// `aws:RequestTag/<key>` and `aws:TagKeys` for a request carrying tags.
fn tag_keys(tags: &[Tag]) -> ConditionKeys {
    let mut k = ConditionKeys::new();
    for t in tags {
        k = k.with(format!("aws:RequestTag/{}", t.key), t.value.clone());
    }
    if !tags.is_empty() {
        k = k.with_all("aws:TagKeys", tags.iter().map(|t| t.key.clone()).collect());
    }
    k
}

fn tags_xml(w: &mut XmlWriter, tags: &[Tag]) {
    w.open("Tags");
    for t in tags {
        w.open("member").elem("Key", &t.key).elem("Value", &t.value).close("member");
    }
    w.close("Tags");
}

/// Marker/MaxItems paging over items sorted by `key`.
fn paginate<T>(mut items: Vec<T>, q: &QueryParams, key: impl Fn(&T) -> String) -> Result<(Vec<T>, Option<String>), AwsError> {
    let max = q.get_i64("MaxItems")?.unwrap_or(100);
    if !(1..=1000).contains(&max) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{max}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"
        )));
    }
    items.sort_by_key(|i| key(i));
    if let Some(m) = q.get("Marker") {
        items.retain(|i| key(i).as_str() >= m);
    }
    let next = if items.len() > max as usize { Some(key(&items[max as usize])) } else { None };
    items.truncate(max as usize);
    Ok((items, next))
}

fn page_end(w: &mut XmlWriter, next: Option<String>) {
    w.elem("IsTruncated", if next.is_some() { "true" } else { "false" });
    w.opt("Marker", next);
}

impl IamService {
    fn acct(&self) -> &str {
        self.iam.account_id()
    }

    fn user_xml(&self, w: &mut XmlWriter, tag: &str, u: &User, with_tags: bool) {
        w.open(tag)
            .elem("Path", &u.path)
            .elem("UserName", &u.name)
            .elem("UserId", &u.user_id)
            .elem("Arn", user_arn(self.acct(), &u.path, &u.name))
            .elem("CreateDate", format_iso8601(u.create_date));
        if with_tags && !u.tags.is_empty() {
            tags_xml(w, &u.tags);
        }
        w.close(tag);
    }

    fn role_xml(&self, w: &mut XmlWriter, tag: &str, r: &Role) {
        w.open(tag)
            .elem("Path", &r.path)
            .elem("RoleName", &r.name)
            .elem("RoleId", &r.role_id)
            .elem("Arn", role_arn(self.acct(), &r.path, &r.name))
            .elem("CreateDate", format_iso8601(r.create_date))
            .elem("AssumeRolePolicyDocument", uri_encode(&r.trust_policy, false))
            .opt("Description", r.description.as_ref())
            .elem("MaxSessionDuration", r.max_session_duration.to_string());
        if !r.tags.is_empty() {
            tags_xml(w, &r.tags);
        }
        w.close(tag);
    }

    fn policy_arn(&self, p: &Policy) -> String {
        format!("arn:aws:iam::{}:policy{}{}", self.acct(), p.path, p.name)
    }

    /// How many users, roles and groups each policy ARN is attached to.
    async fn attachment_counts(&self) -> Result<std::collections::HashMap<String, usize>, AwsError> {
        let users: Vec<User> = self.iam.state().list(USERS).await.map_err(internal)?;
        let roles: Vec<Role> = self.iam.state().list(ROLES).await.map_err(internal)?;
        let groups: Vec<Group> = self.iam.state().list(GROUPS).await.map_err(internal)?;
        let mut counts = std::collections::HashMap::new();
        let all = users.iter().map(|u| &u.attached).chain(roles.iter().map(|r| &r.attached)).chain(groups.iter().map(|g| &g.attached));
        for arn in all.flatten() {
            *counts.entry(arn.clone()).or_insert(0) += 1;
        }
        Ok(counts)
    }

    async fn attachment_count(&self, arn: &str) -> Result<usize, AwsError> {
        Ok(self.attachment_counts().await?.get(arn).copied().unwrap_or(0))
    }

    async fn policy_xml(&self, w: &mut XmlWriter, tag: &str, p: &Policy) -> Result<(), AwsError> {
        let count = self.attachment_count(&self.policy_arn(p)).await?;
        self.policy_xml_counted(w, tag, p, count);
        Ok(())
    }

    fn policy_xml_counted(&self, w: &mut XmlWriter, tag: &str, p: &Policy, count: usize) {
        let arn = self.policy_arn(p);
        w.open(tag)
            .elem("PolicyName", &p.name)
            .elem("PolicyId", &p.policy_id)
            .elem("Arn", &arn)
            .elem("Path", &p.path)
            .elem("DefaultVersionId", &p.default_version)
            .elem("AttachmentCount", count.to_string())
            .elem("PermissionsBoundaryUsageCount", "0")
            .elem("IsAttachable", "true")
            .opt("Description", p.description.as_ref())
            .elem("CreateDate", format_iso8601(p.create_date))
            .elem("UpdateDate", format_iso8601(p.update_date));
        if !p.tags.is_empty() {
            tags_xml(w, &p.tags);
        }
        w.close(tag);
    }

    async fn managed_xml(&self, w: &mut XmlWriter, tag: &str, m: &ManagedPolicy) -> Result<(), AwsError> {
        let count = self.attachment_count(&m.arn()).await?;
        Self::managed_xml_counted(w, tag, m, count);
        Ok(())
    }

    fn managed_xml_counted(w: &mut XmlWriter, tag: &str, m: &ManagedPolicy, count: usize) {
        w.open(tag)
            .elem("PolicyName", m.name)
            .elem("PolicyId", m.id())
            .elem("Arn", m.arn())
            .elem("Path", m.path)
            .elem("DefaultVersionId", "v1")
            .elem("AttachmentCount", count.to_string())
            .elem("PermissionsBoundaryUsageCount", "0")
            .elem("IsAttachable", "true")
            .elem("Description", m.description)
            .elem("CreateDate", "2015-02-06T18:40:00Z")
            .elem("UpdateDate", "2015-02-06T18:40:00Z")
            .close(tag);
    }

    /// The user a call names, or the caller's own user when `UserName` is absent.
    fn target_user<'a>(&self, ctx: &'a RequestContext, q: &'a QueryParams) -> Result<Option<&'a str>, AwsError> {
        match q.get("UserName") {
            Some(n) => Ok(Some(n)),
            None => match &ctx.caller.kind {
                PrincipalKind::User { name } | PrincipalKind::UserSession { name } => Ok(Some(name.as_str())),
                PrincipalKind::Root => Ok(None),
                _ => Err(AwsError::validation("Must specify userName when calling with non-User credentials")),
            },
        }
    }

    async fn require_user(&self, ctx: &RequestContext, action: &str, name: &str) -> Result<User, AwsError> {
        let u = self.iam.state().user(name).await.map_err(internal)?;
        let arn = user_arn(self.acct(), u.as_ref().map(|u| u.path.as_str()).unwrap_or("/"), name);
        ctx.authorize(action, &arn).await?;
        u.ok_or_else(|| no_such_entity(format!("The user with name {name} cannot be found.")))
    }

    async fn require_role(&self, ctx: &RequestContext, action: &str, name: &str) -> Result<Role, AwsError> {
        let r = self.iam.state().role(name).await.map_err(internal)?;
        let arn = role_arn(self.acct(), r.as_ref().map(|r| r.path.as_str()).unwrap_or("/"), name);
        ctx.authorize(action, &arn).await?;
        r.ok_or_else(|| no_such_entity(format!("The role with name {name} cannot be found.")))
    }

    /// A policy ARN that can be attached: AWS-managed or an existing customer policy.
    async fn attachable(&self, arn: &str) -> Result<(), AwsError> {
        if managed::by_arn(arn).is_some() {
            return Ok(());
        }
        let prefix = format!("arn:aws:iam::{}:policy/", self.acct());
        if arn.starts_with(&prefix) {
            if let Some(name) = arn.rsplit('/').next() {
                if let Some(p) = self.iam.state().policy(name).await.map_err(internal)? {
                    if self.policy_arn(&p) == arn {
                        return Ok(());
                    }
                }
            }
        }
        Err(no_such_entity(format!("Policy {arn} does not exist or is not attachable.")))
    }

    async fn create_user(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let name = q.require("UserName")?;
        valid_name(name, 64, "userName")?;
        let path = valid_path(q)?;
        let tags = tags_param(q)?;
        ctx.authorize_with("iam:CreateUser", &user_arn(self.acct(), &path, name), &tag_keys(&tags)).await?;
        let u = User {
            name: name.into(),
            user_id: new_id("AIDA", 17),
            path,
            create_date: ctx.now,
            attached: vec![],
            inline: Default::default(),
            tags,
            groups: vec![],
        };
        if !self.iam.state().put_if(&user_key(name), &u, 0, 0).await.map_err(internal)? {
            return Err(already_exists(format!("User with name {name} already exists.")));
        }
        let mut w = XmlWriter::new();
        self.user_xml(&mut w, "User", &u, true);
        Ok(Output::Xml(w.finish()))
    }

    async fn get_user(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let mut w = XmlWriter::new();
        match self.target_user(ctx, q)? {
            Some(name) => {
                let u = self.require_user(ctx, "iam:GetUser", name).await?;
                self.user_xml(&mut w, "User", &u, true);
            }
            None => {
                w.open("User")
                    .elem("UserId", self.acct())
                    .elem("Arn", format!("arn:aws:iam::{}:root", self.acct()))
                    .elem("CreateDate", format_iso8601(ctx.now))
                    .close("User");
            }
        }
        Ok(Output::Xml(w.finish()))
    }

    async fn list_users(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        ctx.authorize("iam:ListUsers", &format!("arn:aws:iam::{}:user/", self.acct())).await?;
        let prefix = q.get("PathPrefix").unwrap_or("/");
        let users: Vec<User> = self.iam.state().list(USERS).await.map_err(internal)?;
        let users: Vec<User> = users.into_iter().filter(|u| u.path.starts_with(prefix)).collect();
        let (page, next) = paginate(users, q, |u| u.name.to_lowercase())?;
        let mut w = XmlWriter::new();
        w.open("Users");
        for u in &page {
            self.user_xml(&mut w, "member", u, false);
        }
        w.close("Users");
        page_end(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    async fn delete_user(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let name = q.require("UserName")?;
        let u = self.require_user(ctx, "iam:DeleteUser", name).await?;
        let keys: Vec<AccessKey> = self.iam.state().list(ACCESS_KEYS).await.map_err(internal)?;
        if keys.iter().any(|k| k.owner == KeyOwner::User(u.name.clone())) {
            return Err(delete_conflict("Cannot delete entity, must delete access keys first."));
        }
        if !u.attached.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must detach all policies first."));
        }
        if !u.groups.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must remove users from group first."));
        }
        if !u.inline.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must delete policies first."));
        }
        let rev = self.iam.state().get::<User>(&user_key(name)).await.map_err(internal)?.map(|(_, r)| r).unwrap_or(0);
        if !self.iam.state().delete_if(&user_key(name), rev).await.map_err(internal)? {
            return Err(AwsError::new(StatusCode::CONFLICT, "ConcurrentModification", "The user was modified concurrently; retry."));
        }
        Ok(Output::Empty)
    }

    async fn tag_user(&self, ctx: &RequestContext, q: &QueryParams, untag: bool) -> R {
        let name = q.require("UserName")?;
        let action = if untag { "iam:UntagUser" } else { "iam:TagUser" };
        let tags = if untag { vec![] } else { tags_param(q)? };
        let remove = q.list("TagKeys", "member");
        let u = self.iam.state().user(name).await.map_err(internal)?;
        let arn = user_arn(self.acct(), u.as_ref().map(|u| u.path.as_str()).unwrap_or("/"), name);
        let keys = if untag { ConditionKeys::new().with_all("aws:TagKeys", remove.clone()) } else { tag_keys(&tags) };
        ctx.authorize_with(action, &arn, &keys).await?;
        if u.is_none() {
            return Err(no_such_entity(format!("The user with name {name} cannot be found.")));
        }
        self.iam
            .state()
            .update::<User, _>(&user_key(name), |u| {
                u.tags.retain(|t| !remove.contains(&t.key));
                merge_tags(&mut u.tags, tags.clone())
            })
            .await?;
        Ok(Output::Empty)
    }

    async fn list_user_tags(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let u = self.require_user(ctx, "iam:ListUserTags", q.require("UserName")?).await?;
        let mut w = XmlWriter::new();
        tags_xml(&mut w, &u.tags);
        w.elem("IsTruncated", "false");
        Ok(Output::Xml(w.finish()))
    }

    async fn create_access_key(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let target = self.target_user(ctx, q)?;
        let owner = match target {
            Some(name) => {
                let u = self.require_user(ctx, "iam:CreateAccessKey", name).await?;
                KeyOwner::User(u.name)
            }
            None => KeyOwner::Root,
        };
        let keys: Vec<AccessKey> = self.iam.state().list(ACCESS_KEYS).await.map_err(internal)?;
        if keys.iter().filter(|k| k.owner == owner).count() >= 2 && owner != KeyOwner::Root {
            return Err(AwsError::new(StatusCode::CONFLICT, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2"));
        }
        let key = AccessKey { id: new_id("AKIA", 16), secret: new_secret(40), owner: owner.clone(), status: "Active".into(), create_date: ctx.now };
        self.iam.state().put_if(&access_key_key(&key.id), &key, 0, 0).await.map_err(internal)?;
        let mut w = XmlWriter::new();
        w.open("AccessKey");
        if let KeyOwner::User(n) = &owner {
            w.elem("UserName", n);
        }
        w.elem("AccessKeyId", &key.id)
            .elem("Status", &key.status)
            .elem("SecretAccessKey", &key.secret)
            .elem("CreateDate", format_iso8601(key.create_date))
            .close("AccessKey");
        Ok(Output::Xml(w.finish()))
    }

    async fn key_owner(&self, ctx: &RequestContext, q: &QueryParams, action: &str) -> Result<KeyOwner, AwsError> {
        Ok(match self.target_user(ctx, q)? {
            Some(name) => KeyOwner::User(self.require_user(ctx, action, name).await?.name),
            None => KeyOwner::Root,
        })
    }

    async fn list_access_keys(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let owner = self.key_owner(ctx, q, "iam:ListAccessKeys").await?;
        let keys: Vec<AccessKey> = self.iam.state().list(ACCESS_KEYS).await.map_err(internal)?;
        let keys: Vec<AccessKey> = keys.into_iter().filter(|k| k.owner == owner).collect();
        let (page, next) = paginate(keys, q, |k| k.id.clone())?;
        let mut w = XmlWriter::new();
        w.open("AccessKeyMetadata");
        for k in &page {
            w.open("member");
            if let KeyOwner::User(n) = &k.owner {
                w.elem("UserName", n);
            }
            w.elem("AccessKeyId", &k.id).elem("Status", &k.status).elem("CreateDate", format_iso8601(k.create_date)).close("member");
        }
        w.close("AccessKeyMetadata");
        page_end(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    async fn owned_key(&self, ctx: &RequestContext, q: &QueryParams, action: &str) -> Result<String, AwsError> {
        let owner = self.key_owner(ctx, q, action).await?;
        let id = q.require("AccessKeyId")?;
        match self.iam.state().get::<AccessKey>(&access_key_key(id)).await.map_err(internal)? {
            Some((k, _)) if k.owner == owner => Ok(id.to_string()),
            _ => Err(no_such_entity(format!("The Access Key with id {id} cannot be found."))),
        }
    }

    async fn update_access_key(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let id = self.owned_key(ctx, q, "iam:UpdateAccessKey").await?;
        let status = q.require("Status")?;
        if status != "Active" && status != "Inactive" {
            return Err(AwsError::validation(format!("Value '{status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]")));
        }
        self.iam.state().update::<AccessKey, _>(&access_key_key(&id), |k| {
            k.status = status.to_string();
            Ok(())
        })
        .await?;
        Ok(Output::Empty)
    }

    async fn delete_access_key(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let id = self.owned_key(ctx, q, "iam:DeleteAccessKey").await?;
        if id == self.iam.admin_credentials().access_key_id {
            return Err(delete_conflict("Cannot delete Wharf's admin access key."));
        }
        let rev = self.iam.state().get::<AccessKey>(&access_key_key(&id)).await.map_err(internal)?.map(|(_, r)| r).unwrap_or(0);
        self.iam.state().delete_if(&access_key_key(&id), rev).await.map_err(internal)?;
        Ok(Output::Empty)
    }

    async fn create_role(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let name = q.require("RoleName")?;
        valid_name(name, 64, "roleName")?;
        let path = valid_path(q)?;
        let trust = document_param(q, "AssumeRolePolicyDocument", false)?;
        let max = q.get_i64("MaxSessionDuration")?.unwrap_or(3600);
        if !(3600..=43200).contains(&max) {
            return Err(AwsError::validation(format!("1 validation error detected: Value '{max}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200")));
        }
        let tags = tags_param(q)?;
        ctx.authorize_with("iam:CreateRole", &role_arn(self.acct(), &path, name), &tag_keys(&tags)).await?;
        let r = Role {
            name: name.into(),
            role_id: new_id("AROA", 17),
            path,
            create_date: ctx.now,
            trust_policy: trust,
            description: q.get("Description").map(str::to_string),
            max_session_duration: max,
            attached: vec![],
            inline: Default::default(),
            tags,
        };
        if !self.iam.state().put_if(&role_key(name), &r, 0, 0).await.map_err(internal)? {
            return Err(already_exists(format!("Role with name {name} already exists.")));
        }
        let mut w = XmlWriter::new();
        self.role_xml(&mut w, "Role", &r);
        Ok(Output::Xml(w.finish()))
    }

    async fn get_role(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let r = self.require_role(ctx, "iam:GetRole", q.require("RoleName")?).await?;
        let mut w = XmlWriter::new();
        self.role_xml(&mut w, "Role", &r);
        Ok(Output::Xml(w.finish()))
    }

    async fn list_roles(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        ctx.authorize("iam:ListRoles", &format!("arn:aws:iam::{}:role/", self.acct())).await?;
        let prefix = q.get("PathPrefix").unwrap_or("/");
        let roles: Vec<Role> = self.iam.state().list(ROLES).await.map_err(internal)?;
        let roles: Vec<Role> = roles.into_iter().filter(|r| r.path.starts_with(prefix)).collect();
        let (page, next) = paginate(roles, q, |r| r.name.to_lowercase())?;
        let mut w = XmlWriter::new();
        w.open("Roles");
        for r in &page {
            self.role_xml(&mut w, "member", r);
        }
        w.close("Roles");
        page_end(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    async fn delete_role(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let name = q.require("RoleName")?;
        let r = self.require_role(ctx, "iam:DeleteRole", name).await?;
        if !r.attached.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must detach all policies first."));
        }
        if !r.inline.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must delete policies first."));
        }
        let rev = self.iam.state().get::<Role>(&role_key(name)).await.map_err(internal)?.map(|(_, r)| r).unwrap_or(0);
        self.iam.state().delete_if(&role_key(name), rev).await.map_err(internal)?;
        Ok(Output::Empty)
    }

    async fn update_trust(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let name = q.require("RoleName")?;
        let doc = document_param(q, "PolicyDocument", false)?;
        self.require_role(ctx, "iam:UpdateAssumeRolePolicy", name).await?;
        self.iam.state().update::<Role, _>(&role_key(name), |r| {
            r.trust_policy = doc.clone();
            Ok(())
        })
        .await?;
        Ok(Output::Empty)
    }

    async fn tag_role(&self, ctx: &RequestContext, q: &QueryParams, untag: bool) -> R {
        let name = q.require("RoleName")?;
        let action = if untag { "iam:UntagRole" } else { "iam:TagRole" };
        let tags = if untag { vec![] } else { tags_param(q)? };
        let remove = q.list("TagKeys", "member");
        let r = self.iam.state().role(name).await.map_err(internal)?;
        let arn = role_arn(self.acct(), r.as_ref().map(|r| r.path.as_str()).unwrap_or("/"), name);
        let keys = if untag { ConditionKeys::new().with_all("aws:TagKeys", remove.clone()) } else { tag_keys(&tags) };
        ctx.authorize_with(action, &arn, &keys).await?;
        if r.is_none() {
            return Err(no_such_entity(format!("The role with name {name} cannot be found.")));
        }
        self.iam
            .state()
            .update::<Role, _>(&role_key(name), |r| {
                r.tags.retain(|t| !remove.contains(&t.key));
                merge_tags(&mut r.tags, tags.clone())
            })
            .await?;
        Ok(Output::Empty)
    }

    async fn list_role_tags(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let r = self.require_role(ctx, "iam:ListRoleTags", q.require("RoleName")?).await?;
        let mut w = XmlWriter::new();
        tags_xml(&mut w, &r.tags);
        w.elem("IsTruncated", "false");
        Ok(Output::Xml(w.finish()))
    }

    async fn create_policy(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let name = q.require("PolicyName")?;
        valid_name(name, 128, "policyName")?;
        let path = valid_path(q)?;
        let doc = document_param(q, "PolicyDocument", true)?;
        let p = Policy {
            name: name.into(),
            policy_id: new_id("ANPA", 17),
            path,
            description: q.get("Description").map(str::to_string),
            create_date: ctx.now,
            update_date: ctx.now,
            default_version: "v1".into(),
            versions: vec![PolicyVersion { version_id: "v1".into(), document: doc, create_date: ctx.now }],
            next_version: 2,
            tags: tags_param(q)?,
        };
        ctx.authorize("iam:CreatePolicy", &self.policy_arn(&p)).await?;
        if !self.iam.state().put_if(&policy_key(name), &p, 0, 0).await.map_err(internal)? {
            return Err(already_exists(format!("A policy called {name} already exists. Duplicate names are not allowed.")));
        }
        let mut w = XmlWriter::new();
        self.policy_xml(&mut w, "Policy", &p).await?;
        Ok(Output::Xml(w.finish()))
    }

    async fn customer_policy(&self, arn: &str) -> Result<Option<Policy>, AwsError> {
        let Some(name) = arn.rsplit('/').next() else { return Ok(None) };
        Ok(self.iam.state().policy(name).await.map_err(internal)?.filter(|p| self.policy_arn(p) == arn))
    }

    async fn get_policy(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let arn = q.require("PolicyArn")?;
        ctx.authorize("iam:GetPolicy", arn).await?;
        let mut w = XmlWriter::new();
        if let Some(m) = managed::by_arn(arn) {
            self.managed_xml(&mut w, "Policy", m).await?;
        } else if let Some(p) = self.customer_policy(arn).await? {
            self.policy_xml(&mut w, "Policy", &p).await?;
        } else {
            return Err(no_such_entity(format!("Policy {arn} was not found.")));
        }
        Ok(Output::Xml(w.finish()))
    }

    async fn get_policy_version(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let arn = q.require("PolicyArn")?;
        let version = q.require("VersionId")?;
        ctx.authorize("iam:GetPolicyVersion", arn).await?;
        let (doc, default, created) = if let Some(m) = managed::by_arn(arn).filter(|_| version == "v1") {
            (m.document.to_string(), true, 1423248000)
        } else if let Some(p) = self.customer_policy(arn).await? {
            match p.versions.iter().find(|v| v.version_id == version) {
                Some(v) => (v.document.clone(), v.version_id == p.default_version, v.create_date),
                None => return Err(no_such_entity(format!("Policy {arn} version {version} does not exist or is not attachable."))),
            }
        } else {
            return Err(no_such_entity(format!("Policy {arn} version {version} does not exist or is not attachable.")));
        };
        let mut w = XmlWriter::new();
        w.open("PolicyVersion")
            .elem("Document", uri_encode(&doc, false))
            .elem("VersionId", version)
            .elem("IsDefaultVersion", if default { "true" } else { "false" })
            .elem("CreateDate", format_iso8601(created))
            .close("PolicyVersion");
        Ok(Output::Xml(w.finish()))
    }

    async fn list_policies(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        ctx.authorize("iam:ListPolicies", &format!("arn:aws:iam::{}:policy/", self.acct())).await?;
        let scope = q.get("Scope").unwrap_or("All");
        let only_attached = q.get("OnlyAttached") == Some("true");
        let prefix = q.get("PathPrefix").unwrap_or("/");
        enum P<'a> {
            Aws(&'a ManagedPolicy),
            Local(Policy),
        }
        let mut all: Vec<P> = Vec::new();
        if scope == "All" || scope == "AWS" {
            all.extend(managed::MANAGED_POLICIES.iter().map(P::Aws));
        }
        if scope == "All" || scope == "Local" {
            let local: Vec<Policy> = self.iam.state().list(POLICIES).await.map_err(internal)?;
            all.extend(local.into_iter().map(P::Local));
        }
        let counts = self.attachment_counts().await?;
        let count = |arn: &str| counts.get(arn).copied().unwrap_or(0);
        let mut kept = Vec::new();
        for p in all {
            let (arn, path) = match &p {
                P::Aws(m) => (m.arn(), m.path.to_string()),
                P::Local(l) => (self.policy_arn(l), l.path.clone()),
            };
            if !path.starts_with(prefix) || (only_attached && count(&arn) == 0) {
                continue;
            }
            kept.push(p);
        }
        let (page, next) = paginate(kept, q, |p| match p {
            P::Aws(m) => m.arn(),
            P::Local(l) => format!("arn:aws:iam::{}:policy{}{}", self.acct(), l.path, l.name),
        })?;
        let mut w = XmlWriter::new();
        w.open("Policies");
        for p in &page {
            match p {
                P::Aws(m) => Self::managed_xml_counted(&mut w, "member", m, count(&m.arn())),
                P::Local(l) => self.policy_xml_counted(&mut w, "member", l, count(&self.policy_arn(l))),
            }
        }
        w.close("Policies");
        page_end(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    async fn delete_policy(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let arn = q.require("PolicyArn")?;
        ctx.authorize("iam:DeletePolicy", arn).await?;
        let Some(p) = self.customer_policy(arn).await? else {
            return Err(no_such_entity(format!("Policy {arn} was not found.")));
        };
        if self.attachment_count(arn).await? > 0 {
            return Err(delete_conflict("Cannot delete a policy attached to entities."));
        }
        let rev = self.iam.state().get::<Policy>(&policy_key(&p.name)).await.map_err(internal)?.map(|(_, r)| r).unwrap_or(0);
        self.iam.state().delete_if(&policy_key(&p.name), rev).await.map_err(internal)?;
        Ok(Output::Empty)
    }

    async fn attach(&self, ctx: &RequestContext, q: &QueryParams, role: bool, detach: bool) -> R {
        let arn = q.require("PolicyArn")?.to_string();
        let verb = if detach { "Detach" } else { "Attach" };
        let (key, not_attached) = if role {
            let name = q.require("RoleName")?;
            self.require_role(ctx, &format!("iam:{verb}RolePolicy"), name).await?;
            (role_key(name), format!("Policy {arn} was not found."))
        } else {
            let name = q.require("UserName")?;
            self.require_user(ctx, &format!("iam:{verb}UserPolicy"), name).await?;
            (user_key(name), format!("Policy {arn} was not found."))
        };
        if !detach {
            self.attachable(&arn).await?;
        }
        let edit = |attached: &mut Vec<String>| -> Result<(), AwsError> {
            if detach {
                if !attached.contains(&arn) {
                    return Err(no_such_entity(not_attached.clone()));
                }
                attached.retain(|a| *a != arn);
            } else if !attached.contains(&arn) {
                if attached.len() >= 20 {
                    return Err(AwsError::new(StatusCode::CONFLICT, "LimitExceeded", "Cannot exceed quota for PoliciesPerUser: 20"));
                }
                attached.push(arn.clone());
            }
            Ok(())
        };
        if role {
            self.iam.state().update::<Role, _>(&key, |r| edit(&mut r.attached)).await?;
        } else {
            self.iam.state().update::<User, _>(&key, |u| edit(&mut u.attached)).await?;
        }
        Ok(Output::Empty)
    }

    async fn list_attached(&self, ctx: &RequestContext, q: &QueryParams, role: bool) -> R {
        let attached = if role {
            self.require_role(ctx, "iam:ListAttachedRolePolicies", q.require("RoleName")?).await?.attached
        } else {
            self.require_user(ctx, "iam:ListAttachedUserPolicies", q.require("UserName")?).await?.attached
        };
        let prefix = q.get("PathPrefix").unwrap_or("/");
        let items: Vec<String> = attached
            .into_iter()
            .filter(|a| a.split_once(":policy").map(|(_, p)| p.starts_with(prefix)).unwrap_or(true))
            .collect();
        let (page, next) = paginate(items, q, |a| a.clone())?;
        let mut w = XmlWriter::new();
        w.open("AttachedPolicies");
        for a in &page {
            let name = a.rsplit('/').next().unwrap_or(a);
            w.open("member").elem("PolicyName", name).elem("PolicyArn", a).close("member");
        }
        w.close("AttachedPolicies");
        page_end(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    async fn inline(&self, ctx: &RequestContext, q: &QueryParams, role: bool, op: &str) -> R {
        let (entity, action) = if role { ("Role", format!("iam:{op}")) } else { ("User", format!("iam:{op}")) };
        let name = q.require(&format!("{entity}Name"))?.to_string();
        let mut current = if role {
            self.require_role(ctx, &action, &name).await?.inline
        } else {
            self.require_user(ctx, &action, &name).await?.inline
        };
        let mut w = XmlWriter::new();
        let key = if role { role_key(&name) } else { user_key(&name) };
        match op {
            "PutRolePolicy" | "PutUserPolicy" => {
                let pname = q.require("PolicyName")?.to_string();
                valid_name(&pname, 128, "policyName")?;
                let doc = document_param(q, "PolicyDocument", true)?;
                let set = |m: &mut std::collections::BTreeMap<String, String>| {
                    m.insert(pname.clone(), doc.clone());
                    Ok(())
                };
                if role {
                    self.iam.state().update::<Role, _>(&key, |r| set(&mut r.inline)).await?;
                } else {
                    self.iam.state().update::<User, _>(&key, |u| set(&mut u.inline)).await?;
                }
                return Ok(Output::Empty);
            }
            "GetRolePolicy" | "GetUserPolicy" => {
                let pname = q.require("PolicyName")?;
                let Some(doc) = current.remove(pname) else {
                    return Err(no_such_entity(format!("The {} policy with name {pname} cannot be found.", entity.to_lowercase())));
                };
                w.elem(&format!("{entity}Name"), &name).elem("PolicyName", pname).elem("PolicyDocument", uri_encode(&doc, false));
            }
            "ListRolePolicies" | "ListUserPolicies" => {
                let (page, next) = paginate(current.into_keys().collect(), q, |n: &String| n.clone())?;
                w.open("PolicyNames");
                for n in &page {
                    w.elem("member", n);
                }
                w.close("PolicyNames");
                page_end(&mut w, next);
            }
            _ => {
                let pname = q.require("PolicyName")?.to_string();
                if !current.contains_key(&pname) {
                    return Err(no_such_entity(format!("The {} policy with name {pname} cannot be found.", entity.to_lowercase())));
                }
                let del = |m: &mut std::collections::BTreeMap<String, String>| {
                    m.remove(&pname);
                    Ok(())
                };
                if role {
                    self.iam.state().update::<Role, _>(&key, |r| del(&mut r.inline)).await?;
                } else {
                    self.iam.state().update::<User, _>(&key, |u| del(&mut u.inline)).await?;
                }
                return Ok(Output::Empty);
            }
        }
        Ok(Output::Xml(w.finish()))
    }
}

impl IamService {
    async fn require_customer_policy(&self, ctx: &RequestContext, q: &QueryParams, action: &str) -> Result<Policy, AwsError> {
        let arn = q.require("PolicyArn")?;
        ctx.authorize(action, arn).await?;
        self.customer_policy(arn).await?.ok_or_else(|| no_such_entity(format!("Policy {arn} was not found.")))
    }

    async fn create_policy_version(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let p = self.require_customer_policy(ctx, q, "iam:CreatePolicyVersion").await?;
        let doc = document_param(q, "PolicyDocument", true)?;
        let set_default = q.get("SetAsDefault") == Some("true");
        let now = ctx.now;
        let mut created = None;
        self.iam
            .state()
            .update::<Policy, _>(&policy_key(&p.name), |p| {
                if p.versions.len() >= 5 {
                    return Err(AwsError::new(
                        StatusCode::CONFLICT,
                        "LimitExceeded",
                        "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
                    ));
                }
                let v = PolicyVersion { version_id: format!("v{}", p.next_version), document: doc.clone(), create_date: now };
                p.next_version += 1;
                if set_default {
                    p.default_version = v.version_id.clone();
                }
                p.update_date = now;
                created = Some(v.clone());
                p.versions.push(v);
                Ok(())
            })
            .await?;
        let v = created.ok_or_else(|| AwsError::internal("policy version was not created"))?;
        let mut w = XmlWriter::new();
        w.open("PolicyVersion")
            .elem("VersionId", &v.version_id)
            .elem("IsDefaultVersion", if set_default { "true" } else { "false" })
            .elem("CreateDate", format_iso8601(v.create_date))
            .close("PolicyVersion");
        Ok(Output::Xml(w.finish()))
    }

    async fn list_policy_versions(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let arn = q.require("PolicyArn")?;
        ctx.authorize("iam:ListPolicyVersions", arn).await?;
        let versions: Vec<(String, bool, i64)> = if managed::by_arn(arn).is_some() {
            vec![("v1".into(), true, 1423248000)]
        } else if let Some(p) = self.customer_policy(arn).await? {
            p.versions.iter().rev().map(|v| (v.version_id.clone(), v.version_id == p.default_version, v.create_date)).collect()
        } else {
            return Err(no_such_entity(format!("Policy {arn} was not found.")));
        };
        let mut w = XmlWriter::new();
        w.open("Versions");
        for (id, default, created) in versions {
            w.open("member")
                .elem("VersionId", id)
                .elem("IsDefaultVersion", if default { "true" } else { "false" })
                .elem("CreateDate", format_iso8601(created))
                .close("member");
        }
        w.close("Versions").elem("IsTruncated", "false");
        Ok(Output::Xml(w.finish()))
    }

    async fn set_default_version(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let p = self.require_customer_policy(ctx, q, "iam:SetDefaultPolicyVersion").await?;
        let id = q.require("VersionId")?.to_string();
        let arn = self.policy_arn(&p);
        self.iam
            .state()
            .update::<Policy, _>(&policy_key(&p.name), |p| {
                if !p.versions.iter().any(|v| v.version_id == id) {
                    return Err(no_such_entity(format!("Policy {arn} version {id} does not exist or is not attachable.")));
                }
                p.default_version = id.clone();
                Ok(())
            })
            .await?;
        Ok(Output::Empty)
    }

    async fn delete_policy_version(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let p = self.require_customer_policy(ctx, q, "iam:DeletePolicyVersion").await?;
        let id = q.require("VersionId")?.to_string();
        let arn = self.policy_arn(&p);
        self.iam
            .state()
            .update::<Policy, _>(&policy_key(&p.name), |p| {
                if p.default_version == id {
                    return Err(delete_conflict("Cannot delete the default version of a policy."));
                }
                if !p.versions.iter().any(|v| v.version_id == id) {
                    return Err(no_such_entity(format!("Policy {arn} version {id} does not exist or is not attachable.")));
                }
                p.versions.retain(|v| v.version_id != id);
                Ok(())
            })
            .await?;
        Ok(Output::Empty)
    }

    fn group_arn(&self, g: &Group) -> String {
        format!("arn:aws:iam::{}:group{}{}", self.acct(), g.path, g.name)
    }

    fn group_xml(&self, w: &mut XmlWriter, tag: &str, g: &Group) {
        w.open(tag)
            .elem("Path", &g.path)
            .elem("GroupName", &g.name)
            .elem("GroupId", &g.group_id)
            .elem("Arn", self.group_arn(g))
            .elem("CreateDate", format_iso8601(g.create_date))
            .close(tag);
    }

    async fn require_group(&self, ctx: &RequestContext, action: &str, name: &str) -> Result<Group, AwsError> {
        let g = self.iam.state().group(name).await.map_err(internal)?;
        let arn = format!("arn:aws:iam::{}:group{}{name}", self.acct(), g.as_ref().map(|g| g.path.as_str()).unwrap_or("/"));
        ctx.authorize(action, &arn).await?;
        g.ok_or_else(|| no_such_entity(format!("The group with name {name} cannot be found.")))
    }

    async fn create_group(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let name = q.require("GroupName")?;
        valid_name(name, 128, "groupName")?;
        let path = valid_path(q)?;
        let g = Group { name: name.into(), group_id: new_id("AGPA", 17), path, create_date: ctx.now, attached: vec![] };
        ctx.authorize("iam:CreateGroup", &self.group_arn(&g)).await?;
        if !self.iam.state().put_if(&group_key(name), &g, 0, 0).await.map_err(internal)? {
            return Err(already_exists(format!("Group with name {name} already exists.")));
        }
        let mut w = XmlWriter::new();
        self.group_xml(&mut w, "Group", &g);
        Ok(Output::Xml(w.finish()))
    }

    async fn members(&self, g: &Group) -> Result<Vec<User>, AwsError> {
        let users: Vec<User> = self.iam.state().list(USERS).await.map_err(internal)?;
        Ok(users.into_iter().filter(|u| u.groups.iter().any(|n| n.eq_ignore_ascii_case(&g.name))).collect())
    }

    async fn get_group(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let g = self.require_group(ctx, "iam:GetGroup", q.require("GroupName")?).await?;
        let (page, next) = paginate(self.members(&g).await?, q, |u| u.name.to_lowercase())?;
        let mut w = XmlWriter::new();
        self.group_xml(&mut w, "Group", &g);
        w.open("Users");
        for u in &page {
            self.user_xml(&mut w, "member", u, false);
        }
        w.close("Users");
        page_end(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    async fn list_groups(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        ctx.authorize("iam:ListGroups", &format!("arn:aws:iam::{}:group/", self.acct())).await?;
        let prefix = q.get("PathPrefix").unwrap_or("/");
        let groups: Vec<Group> = self.iam.state().list(GROUPS).await.map_err(internal)?;
        let groups: Vec<Group> = groups.into_iter().filter(|g| g.path.starts_with(prefix)).collect();
        let (page, next) = paginate(groups, q, |g| g.name.to_lowercase())?;
        let mut w = XmlWriter::new();
        w.open("Groups");
        for g in &page {
            self.group_xml(&mut w, "member", g);
        }
        w.close("Groups");
        page_end(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    async fn delete_group(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let name = q.require("GroupName")?;
        let g = self.require_group(ctx, "iam:DeleteGroup", name).await?;
        if !self.members(&g).await?.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must remove users from group first."));
        }
        if !g.attached.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must detach all policies first."));
        }
        let rev = self.iam.state().get::<Group>(&group_key(name)).await.map_err(internal)?.map(|(_, r)| r).unwrap_or(0);
        self.iam.state().delete_if(&group_key(name), rev).await.map_err(internal)?;
        Ok(Output::Empty)
    }

    async fn group_membership(&self, ctx: &RequestContext, q: &QueryParams, add: bool) -> R {
        let action = if add { "iam:AddUserToGroup" } else { "iam:RemoveUserFromGroup" };
        let g = self.require_group(ctx, action, q.require("GroupName")?).await?;
        let user = q.require("UserName")?;
        if self.iam.state().user(user).await.map_err(internal)?.is_none() {
            return Err(no_such_entity(format!("The user with name {user} cannot be found.")));
        }
        self.iam
            .state()
            .update::<User, _>(&user_key(user), |u| {
                let member = u.groups.iter().any(|n| n.eq_ignore_ascii_case(&g.name));
                if add && !member {
                    if u.groups.len() >= 10 {
                        return Err(AwsError::new(StatusCode::CONFLICT, "LimitExceeded", "Cannot exceed quota for GroupsPerUser: 10"));
                    }
                    u.groups.push(g.name.clone());
                } else if !add {
                    if !member {
                        return Err(no_such_entity(format!("The user with name {user} cannot be found.")));
                    }
                    u.groups.retain(|n| !n.eq_ignore_ascii_case(&g.name));
                }
                Ok(())
            })
            .await?;
        Ok(Output::Empty)
    }

    async fn list_groups_for_user(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let u = self.require_user(ctx, "iam:ListGroupsForUser", q.require("UserName")?).await?;
        let mut groups = Vec::new();
        for n in &u.groups {
            if let Some(g) = self.iam.state().group(n).await.map_err(internal)? {
                groups.push(g);
            }
        }
        let (page, next) = paginate(groups, q, |g| g.name.to_lowercase())?;
        let mut w = XmlWriter::new();
        w.open("Groups");
        for g in &page {
            self.group_xml(&mut w, "member", g);
        }
        w.close("Groups");
        page_end(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    async fn attach_group(&self, ctx: &RequestContext, q: &QueryParams, detach: bool) -> R {
        let action = if detach { "iam:DetachGroupPolicy" } else { "iam:AttachGroupPolicy" };
        let g = self.require_group(ctx, action, q.require("GroupName")?).await?;
        let arn = q.require("PolicyArn")?.to_string();
        if !detach {
            self.attachable(&arn).await?;
        }
        self.iam
            .state()
            .update::<Group, _>(&group_key(&g.name), |g| {
                if detach {
                    if !g.attached.contains(&arn) {
                        return Err(no_such_entity(format!("Policy {arn} was not found.")));
                    }
                    g.attached.retain(|a| *a != arn);
                } else if !g.attached.contains(&arn) {
                    g.attached.push(arn.clone());
                }
                Ok(())
            })
            .await?;
        Ok(Output::Empty)
    }

    async fn list_attached_group(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let g = self.require_group(ctx, "iam:ListAttachedGroupPolicies", q.require("GroupName")?).await?;
        let (page, next) = paginate(g.attached, q, |a| a.clone())?;
        let mut w = XmlWriter::new();
        w.open("AttachedPolicies");
        for a in &page {
            w.open("member").elem("PolicyName", a.rsplit('/').next().unwrap_or(a)).elem("PolicyArn", a).close("member");
        }
        w.close("AttachedPolicies");
        page_end(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    async fn create_service_linked_role(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let service = q.require("AWSServiceName")?;
        let Some(base) = service_linked_role_name(service) else {
            return Err(AwsError::bad_request("InvalidInput", format!("Service role name {service} has not been whitelisted or is not in a valid format.")));
        };
        let name = match q.get("CustomSuffix") {
            Some(sfx) => format!("{base}_{sfx}"),
            None => base.to_string(),
        };
        let path = format!("/aws-service-role/{service}/");
        ctx.authorize_with(
            "iam:CreateServiceLinkedRole",
            &role_arn(self.acct(), &path, &name),
            &ConditionKeys::new().with("iam:AWSServiceName", service),
        )
        .await?;
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"{service}"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let r = Role {
            name: name.clone(),
            role_id: new_id("AROA", 17),
            path,
            create_date: ctx.now,
            trust_policy: trust,
            description: q.get("Description").map(str::to_string),
            max_session_duration: 3600,
            attached: vec![],
            inline: Default::default(),
            tags: vec![],
        };
        if !self.iam.state().put_if(&role_key(&name), &r, 0, 0).await.map_err(internal)? {
            return Err(AwsError::bad_request("InvalidInput", format!("Service role name {name} has been taken in this account, please try a different suffix.")));
        }
        let mut w = XmlWriter::new();
        self.role_xml(&mut w, "Role", &r);
        Ok(Output::Xml(w.finish()))
    }

    fn oidc_arn(&self, url: &str) -> String {
        format!("arn:aws:iam::{}:oidc-provider/{url}", self.acct())
    }

    /// The provider an ARN names.
    async fn oidc_from_arn(&self, ctx: &RequestContext, q: &QueryParams, action: &str) -> Result<(OidcProvider, i64), AwsError> {
        let arn = q.require("OpenIDConnectProviderArn")?;
        ctx.authorize(action, arn).await?;
        let prefix = format!("arn:aws:iam::{}:oidc-provider/", self.acct());
        let not_found = || no_such_entity(format!("OpenIDConnect Provider not found for arn {arn}"));
        let url = arn.strip_prefix(&prefix).ok_or_else(not_found)?;
        self.iam.state().get::<OidcProvider>(&oidc_key(url)).await.map_err(internal)?.ok_or_else(not_found)
    }

    async fn create_oidc(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let raw = q.require("Url")?;
        if !raw.starts_with("https://") || raw.len() <= "https://".len() {
            return Err(AwsError::validation("Invalid Openid Connect Provider URL"));
        }
        let url = issuer_host_path(raw);
        let arn = self.oidc_arn(&url);
        ctx.authorize("iam:CreateOpenIDConnectProvider", &arn).await?;
        let p = OidcProvider {
            url: url.clone(),
            client_ids: q.list("ClientIDList", "member"),
            thumbprints: q.list("ThumbprintList", "member"),
            create_date: ctx.now,
            tags: tags_param(q)?,
        };
        if !self.iam.state().put_if(&oidc_key(&url), &p, 0, 0).await.map_err(internal)? {
            return Err(already_exists(format!("Provider with url {raw} already exists.")));
        }
        let mut w = XmlWriter::new();
        w.elem("OpenIDConnectProviderArn", &arn);
        if !p.tags.is_empty() {
            tags_xml(&mut w, &p.tags);
        }
        Ok(Output::Xml(w.finish()))
    }

    async fn get_oidc(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let (p, _) = self.oidc_from_arn(ctx, q, "iam:GetOpenIDConnectProvider").await?;
        let mut w = XmlWriter::new();
        w.elem("Url", &p.url);
        w.open("ClientIDList");
        for c in &p.client_ids {
            w.elem("member", c);
        }
        w.close("ClientIDList").open("ThumbprintList");
        for t in &p.thumbprints {
            w.elem("member", t);
        }
        w.close("ThumbprintList").elem("CreateDate", format_iso8601(p.create_date));
        tags_xml(&mut w, &p.tags);
        Ok(Output::Xml(w.finish()))
    }

    async fn list_oidc(&self, ctx: &RequestContext) -> R {
        ctx.authorize("iam:ListOpenIDConnectProviders", "*").await?;
        let all: Vec<OidcProvider> = self.iam.state().list(OIDC_PROVIDERS).await.map_err(internal)?;
        let mut w = XmlWriter::new();
        w.open("OpenIDConnectProviderList");
        for p in &all {
            w.open("member").elem("Arn", self.oidc_arn(&p.url)).close("member");
        }
        w.close("OpenIDConnectProviderList");
        Ok(Output::Xml(w.finish()))
    }

    async fn delete_oidc(&self, ctx: &RequestContext, q: &QueryParams) -> R {
        let (p, rev) = self.oidc_from_arn(ctx, q, "iam:DeleteOpenIDConnectProvider").await?;
        self.iam.state().delete_if(&oidc_key(&p.url), rev).await.map_err(internal)?;
        Ok(Output::Empty)
    }
}

/// The service-linked role names of the services EKS clusters use.
fn service_linked_role_name(service: &str) -> Option<&'static str> {
    Some(match service {
        "eks.amazonaws.com" => "AWSServiceRoleForAmazonEKS",
        "eks-nodegroup.amazonaws.com" => "AWSServiceRoleForAmazonEKSNodegroup",
        "eks-fargate.amazonaws.com" => "AWSServiceRoleForAmazonEKSForFargate",
        "elasticloadbalancing.amazonaws.com" => "AWSServiceRoleForElasticLoadBalancing",
        "autoscaling.amazonaws.com" => "AWSServiceRoleForAutoScaling",
        "replication.ecr.amazonaws.com" => "AWSServiceRoleForECRReplication",
        _ => return None,
    })
}

#[async_trait]
impl Service for IamService {
    fn signing_name(&self) -> &'static str {
        "iam"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Query { version: "2010-05-08", xmlns: "https://iam.amazonaws.com/doc/2010-05-08/" }
    }

    fn has_operation(&self, operation: &str) -> bool {
        OPERATIONS.contains(&operation)
    }

    async fn call(&self, ctx: &RequestContext, operation: &str, input: Input) -> Result<Output, AwsError> {
        let Input::Query(q) = input else {
            return Err(AwsError::internal("IAM received a non-query input"));
        };
        let q = &q;
        match operation {
            "CreateUser" => self.create_user(ctx, q).await,
            "GetUser" => self.get_user(ctx, q).await,
            "ListUsers" => self.list_users(ctx, q).await,
            "DeleteUser" => self.delete_user(ctx, q).await,
            "TagUser" => self.tag_user(ctx, q, false).await,
            "UntagUser" => self.tag_user(ctx, q, true).await,
            "ListUserTags" => self.list_user_tags(ctx, q).await,
            "CreateAccessKey" => self.create_access_key(ctx, q).await,
            "ListAccessKeys" => self.list_access_keys(ctx, q).await,
            "UpdateAccessKey" => self.update_access_key(ctx, q).await,
            "DeleteAccessKey" => self.delete_access_key(ctx, q).await,
            "CreateRole" => self.create_role(ctx, q).await,
            "GetRole" => self.get_role(ctx, q).await,
            "ListRoles" => self.list_roles(ctx, q).await,
            "DeleteRole" => self.delete_role(ctx, q).await,
            "UpdateAssumeRolePolicy" => self.update_trust(ctx, q).await,
            "TagRole" => self.tag_role(ctx, q, false).await,
            "UntagRole" => self.tag_role(ctx, q, true).await,
            "ListRoleTags" => self.list_role_tags(ctx, q).await,
            "CreatePolicy" => self.create_policy(ctx, q).await,
            "GetPolicy" => self.get_policy(ctx, q).await,
            "GetPolicyVersion" => self.get_policy_version(ctx, q).await,
            "ListPolicies" => self.list_policies(ctx, q).await,
            "DeletePolicy" => self.delete_policy(ctx, q).await,
            "AttachUserPolicy" => self.attach(ctx, q, false, false).await,
            "DetachUserPolicy" => self.attach(ctx, q, false, true).await,
            "AttachRolePolicy" => self.attach(ctx, q, true, false).await,
            "DetachRolePolicy" => self.attach(ctx, q, true, true).await,
            "ListAttachedUserPolicies" => self.list_attached(ctx, q, false).await,
            "ListAttachedRolePolicies" => self.list_attached(ctx, q, true).await,
            op @ ("PutRolePolicy" | "GetRolePolicy" | "ListRolePolicies" | "DeleteRolePolicy") => self.inline(ctx, q, true, op).await,
            op @ ("PutUserPolicy" | "GetUserPolicy" | "ListUserPolicies" | "DeleteUserPolicy") => self.inline(ctx, q, false, op).await,
            "CreatePolicyVersion" => self.create_policy_version(ctx, q).await,
            "ListPolicyVersions" => self.list_policy_versions(ctx, q).await,
            "SetDefaultPolicyVersion" => self.set_default_version(ctx, q).await,
            "DeletePolicyVersion" => self.delete_policy_version(ctx, q).await,
            "CreateGroup" => self.create_group(ctx, q).await,
            "GetGroup" => self.get_group(ctx, q).await,
            "ListGroups" => self.list_groups(ctx, q).await,
            "DeleteGroup" => self.delete_group(ctx, q).await,
            "AddUserToGroup" => self.group_membership(ctx, q, true).await,
            "RemoveUserFromGroup" => self.group_membership(ctx, q, false).await,
            "ListGroupsForUser" => self.list_groups_for_user(ctx, q).await,
            "AttachGroupPolicy" => self.attach_group(ctx, q, false).await,
            "DetachGroupPolicy" => self.attach_group(ctx, q, true).await,
            "ListAttachedGroupPolicies" => self.list_attached_group(ctx, q).await,
            "CreateServiceLinkedRole" => self.create_service_linked_role(ctx, q).await,
            "CreateOpenIDConnectProvider" => self.create_oidc(ctx, q).await,
            "GetOpenIDConnectProvider" => self.get_oidc(ctx, q).await,
            "ListOpenIDConnectProviders" => self.list_oidc(ctx).await,
            "DeleteOpenIDConnectProvider" => self.delete_oidc(ctx, q).await,
            op => Err(self.protocol().unknown_operation(op)),
        }
    }
}
