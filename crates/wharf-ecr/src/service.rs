//! The ECR operations, each authorized as `ecr:<Operation>` on the repository's ARN, over
//! the registry's repositories, manifests and tags and ECR's own records ([`crate::record`]).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use wharf_aws::{AwsError, ConditionKeys, Decision, Input, Output, Protocol, RequestContext, Service};
use wharf_registry::{valid_digest, valid_name, valid_tag, ImageInfo, Registry, RegistryError};
use wharf_store::KvStore;

use crate::authz::{self, RegistryAuthorizer};
use crate::lifecycle::{Candidate, LifecyclePolicy};
use crate::record::{self, RepoRecord};

const OPERATIONS: &[&str] = &[
    "CreateRepository",
    "DescribeRepositories",
    "DeleteRepository",
    "DescribeImages",
    "ListImages",
    "BatchGetImage",
    "BatchDeleteImage",
    "PutImage",
    "BatchCheckLayerAvailability",
    "GetAuthorizationToken",
    "PutLifecyclePolicy",
    "GetLifecyclePolicy",
    "DeleteLifecyclePolicy",
    "SetRepositoryPolicy",
    "GetRepositoryPolicy",
    "DeleteRepositoryPolicy",
    "PutImageTagMutability",
    "PutImageScanningConfiguration",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "DescribeRegistry",
];

/// Default page size of the listing operations.
const DEFAULT_PAGE: usize = 100;

/// The ECR service: register it on the front door (`FrontDoor::register`).
pub struct Ecr {
    registry: Arc<Registry>,
    authz: Arc<RegistryAuthorizer>,
    store: Arc<dyn KvStore>,
    endpoint: RwLock<String>,
}

type AwsResult<T> = Result<T, AwsError>;

fn bad(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::bad_request(code, message)
}

fn invalid(message: impl Into<String>) -> AwsError {
    bad("InvalidParameterException", message)
}

fn internal(e: impl std::fmt::Display) -> AwsError {
    AwsError::internal(e)
}

fn json_input(input: Input) -> AwsResult<Value> {
    match input {
        Input::Json(v) if v.is_object() => Ok(v),
        Input::Json(Value::Null) => Ok(json!({})),
        _ => Err(invalid("the request body must be a JSON object")),
    }
}

fn text<'a>(input: &'a Value, field: &str) -> Option<&'a str> {
    input.get(field).and_then(Value::as_str)
}

fn required<'a>(input: &'a Value, field: &str) -> AwsResult<&'a str> {
    text(input, field).ok_or_else(|| {
        invalid(format!("1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"))
    })
}

fn repo_name(input: &Value) -> AwsResult<String> {
    let name = required(input, "repositoryName")?;
    if name.len() < 2 || name.len() > 256 || !valid_name(name) {
        return Err(invalid(format!(
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*''; got {name:?}"
        )));
    }
    Ok(name.to_string())
}

fn now_millis() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn secs(millis: u64) -> f64 {
    millis as f64 / 1000.0
}

/// An `imageId` as given: digest and/or tag.
#[derive(Debug, Clone, Default)]
struct ImageId {
    digest: Option<String>,
    tag: Option<String>,
}

impl ImageId {
    fn parse(v: &Value) -> Self {
        Self {
            digest: text(v, "imageDigest").map(String::from),
            tag: text(v, "imageTag").map(String::from),
        }
    }
    fn json(&self) -> Value {
        let mut o = serde_json::Map::new();
        if let Some(d) = &self.digest {
            o.insert("imageDigest".into(), json!(d));
        }
        if let Some(t) = &self.tag {
            o.insert("imageTag".into(), json!(t));
        }
        Value::Object(o)
    }
    fn failure(&self, code: &str, reason: &str) -> Value {
        json!({ "imageId": self.json(), "failureCode": code, "failureReason": reason })
    }
    fn describe(&self) -> String {
        format!(
            "{{imageDigest:'{}', imageTag:'{}'}}",
            self.digest.as_deref().unwrap_or("null"),
            self.tag.as_deref().unwrap_or("null")
        )
    }
}

/// What an image id names among a repository's images.
enum Lookup<'a> {
    Found(&'a ImageInfo),
    Failure(&'static str, &'static str),
}

fn lookup<'a>(images: &'a [ImageInfo], id: &ImageId) -> Lookup<'a> {
    if id.digest.is_none() && id.tag.is_none() {
        return Lookup::Failure("MissingDigestAndTag", "Invalid request parameters: both tag and digest cannot be null");
    }
    if let Some(d) = &id.digest {
        if !valid_digest(d) {
            return Lookup::Failure("InvalidImageDigest", "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'");
        }
    }
    if let Some(t) = &id.tag {
        if !valid_tag(t) {
            return Lookup::Failure("InvalidImageTag", "Invalid request parameters: invalid image tag");
        }
    }
    let by_tag = id.tag.as_ref().and_then(|t| images.iter().find(|i| i.tags.contains(t)));
    let by_digest = id.digest.as_ref().and_then(|d| images.iter().find(|i| &i.digest == d));
    match (id.tag.is_some(), id.digest.is_some(), by_tag, by_digest) {
        (true, true, Some(a), Some(b)) if a.digest != b.digest => {
            Lookup::Failure("ImageTagDoesNotMatchDigest", "Invalid request parameters: given tag does not map to the given digest")
        }
        (true, true, Some(_), None) => {
            Lookup::Failure("ImageTagDoesNotMatchDigest", "Invalid request parameters: given tag does not map to the given digest")
        }
        (true, _, Some(a), _) => Lookup::Found(a),
        (false, true, _, Some(b)) => Lookup::Found(b),
        _ => Lookup::Failure("ImageNotFound", "Requested image not found"),
    }
}

/// Applies `maxResults`/`nextToken` (an opaque offset) to a listing.
fn paginate<T>(items: Vec<T>, input: &Value) -> AwsResult<(Vec<T>, Option<String>)> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let max = match input.get("maxResults") {
        None | Some(Value::Null) => DEFAULT_PAGE,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=1000) => n as usize,
            _ => return Err(invalid("Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and 1000'")),
        },
    };
    let start = match text(input, "nextToken") {
        None => 0,
        Some(t) => b64
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse::<usize>().ok()))
            .ok_or_else(|| invalid("Invalid parameter at 'nextToken' failed to satisfy constraint: 'the token is not valid'"))?,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = (start + page.len() < total).then(|| b64.encode(format!("offset:{}", start + page.len())));
    Ok((page, next))
}

fn with_token(mut v: Value, next: Option<String>) -> Value {
    if let Some(t) = next {
        v["nextToken"] = json!(t);
    }
    v
}

impl Ecr {
    /// The service over `registry`, authorizing with `authz` (which also issues tokens) and
    /// keeping its records in `store`.
    pub fn new(registry: Arc<Registry>, authz: Arc<RegistryAuthorizer>, store: Arc<dyn KvStore>) -> Self {
        Self { registry, authz, store, endpoint: RwLock::new("https://localhost".into()) }
    }

    /// Sets the registry's HTTPS URL (`https://host:port`), once the listener is bound:
    /// `repositoryUri`s and `proxyEndpoint` are derived from it.
    pub fn set_registry_endpoint(&self, url: &str) {
        let mut e = self.endpoint.write().unwrap_or_else(|p| p.into_inner());
        *e = url.trim_end_matches('/').to_string();
    }

    fn proxy_endpoint(&self) -> String {
        self.endpoint.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `host:port/name`.
    pub fn repository_uri(&self, name: &str) -> String {
        let e = self.proxy_endpoint();
        let host = e.split_once("://").map(|(_, h)| h).unwrap_or(&e).to_string();
        format!("{host}/{name}")
    }

    fn account(&self) -> &str {
        self.authz.account_id()
    }

    fn not_found(&self, name: &str) -> AwsError {
        bad(
            "RepositoryNotFoundException",
            format!("The repository with name '{name}' does not exist in the registry with id '{}'", self.account()),
        )
    }

    /// Authorizes `action` on repository `name` (or on `resource` when given, for
    /// account-wide calls): identity policies and the repository policy combined.
    async fn authorize(&self, ctx: &RequestContext, action: &str, name: &str) -> AwsResult<()> {
        let arn = self.authz.repository_arn(name);
        let identity = ctx.identity.authorize(ctx, action, &arn, &ConditionKeys::new()).await?;
        let mut pctx = wharf_iam::request_context_keys(ctx);
        pctx.set("aws:PrincipalAccount", ctx.caller.account.clone());
        let resource = self
            .authz
            .repository_policy_decision(&ctx.caller, action, name, &arn, &pctx)
            .await
            .map_err(internal)?;
        match authz::combine(identity, resource) {
            Decision::Allow => Ok(()),
            _ if identity != Decision::Allow => ctx.authorize(action, &arn).await.and(Err(AwsError::access_denied(format!(
                "User: {} is not authorized to perform: {action} on resource: {arn} because no identity-based policy allows the {action} action",
                ctx.caller.arn
            )))),
            _ => Err(AwsError::access_denied(format!(
                "User: {} is not authorized to perform: {action} on resource: {arn} with an explicit deny in a resource-based policy",
                ctx.caller.arn
            ))),
        }
    }

    /// The repository's ECR record (implicit for repositories created by a `/v2/` push) and
    /// its revision (0 when implicit); `None` if the repository does not exist.
    async fn record(&self, name: &str) -> AwsResult<Option<(RepoRecord, i64)>> {
        if let Some(r) = record::get::<RepoRecord>(self.store.as_ref(), record::repo_key(name)).await.map_err(internal)? {
            return Ok(Some(r));
        }
        if self.registry.repository_exists(name).await.map_err(internal)? {
            let immutable = self.registry.is_immutable(name).await.map_err(internal)?;
            return Ok(Some((RepoRecord::implicit(immutable), 0)));
        }
        Ok(None)
    }

    async fn existing(&self, name: &str) -> AwsResult<RepoRecord> {
        self.record(name).await?.map(|(r, _)| r).ok_or_else(|| self.not_found(name))
    }

    /// Changes a repository's record with `f`, retrying on concurrent writes.
    async fn update(&self, name: &str, f: impl Fn(&mut RepoRecord) -> AwsResult<()>) -> AwsResult<RepoRecord> {
        for _ in 0..16 {
            let (mut rec, rev) = self.record(name).await?.ok_or_else(|| self.not_found(name))?;
            f(&mut rec)?;
            if record::put_if(self.store.as_ref(), record::repo_key(name), &rec, rev).await.map_err(internal)? {
                return Ok(rec);
            }
        }
        Err(internal(format!("repository {name} record kept changing")))
    }

    fn repo_json(&self, name: &str, rec: &RepoRecord) -> Value {
        let mut enc = json!({ "encryptionType": rec.encryption_type });
        if let Some(k) = &rec.kms_key {
            enc["kmsKey"] = json!(k);
        }
        json!({
            "repositoryArn": self.authz.repository_arn(name),
            "registryId": self.account(),
            "repositoryName": name,
            "repositoryUri": self.repository_uri(name),
            "createdAt": rec.created_at,
            "imageTagMutability": rec.image_tag_mutability,
            "imageScanningConfiguration": { "scanOnPush": rec.scan_on_push },
            "encryptionConfiguration": enc,
        })
    }

    fn image_json(&self, name: &str, i: &ImageInfo) -> Value {
        let mut v = json!({
            "registryId": self.account(),
            "repositoryName": name,
            "imageDigest": i.digest,
            "imageSizeInBytes": i.size,
            "imagePushedAt": secs(i.pushed_at_millis),
            "imageManifestMediaType": i.media_type,
            "artifactMediaType": i.artifact_type,
        });
        if !i.tags.is_empty() {
            v["imageTags"] = json!(i.tags);
        }
        v
    }

    async fn images(&self, name: &str) -> AwsResult<Vec<ImageInfo>> {
        self.registry.images(name).await.map_err(internal)
    }

    fn parse_tags(input: &Value) -> AwsResult<Vec<(String, String)>> {
        let mut out: Vec<(String, String)> = Vec::new();
        for t in input.get("tags").and_then(Value::as_array).into_iter().flatten() {
            let k = text(t, "Key").ok_or_else(|| invalid("a tag needs a Key"))?;
            let v = text(t, "Value").unwrap_or_default();
            if k.is_empty() || k.len() > 128 || v.len() > 256 || k.starts_with("aws:") {
                return Err(bad("InvalidTagParameterException", format!("invalid tag key {k:?} or value")));
            }
            out.retain(|(x, _)| x != k);
            out.push((k.to_string(), v.to_string()));
        }
        Ok(out)
    }

    fn name_from_arn(&self, arn: &str) -> AwsResult<String> {
        let prefix = format!("arn:aws:ecr:{}:{}:repository/", self.authz.region(), self.account());
        arn.strip_prefix(&prefix)
            .filter(|n| valid_name(n))
            .map(String::from)
            .ok_or_else(|| invalid(format!("Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN': {arn}")))
    }

    /// Applies the lifecycle policy of `name`, if any: deletes the images it expires and
    /// returns their digests.
    pub async fn apply_lifecycle(&self, name: &str) -> crate::Result<Vec<String>> {
        let Some((rec, _)) = record::get::<RepoRecord>(self.store.as_ref(), record::repo_key(name)).await? else {
            return Ok(Vec::new());
        };
        let Some(text) = rec.lifecycle_policy else { return Ok(Vec::new()) };
        let policy = match LifecyclePolicy::parse(&text) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(repository = name, error = %e, "stored lifecycle policy is invalid; not applying it");
                return Ok(Vec::new());
            }
        };
        let images = self.registry.images(name).await?;
        // Manifests an index in this repository lists are part of that image, not images of
        // their own: expiring them would break the index.
        let mut children = std::collections::HashSet::new();
        for i in images.iter().filter(|i| i.media_type.contains("index") || i.media_type.contains("manifest.list")) {
            if let Some(m) = self.registry.manifest(name, &i.digest).await? {
                let doc: Value = serde_json::from_slice(&m.bytes).unwrap_or_default();
                for c in doc["manifests"].as_array().into_iter().flatten() {
                    if let Some(d) = c["digest"].as_str() {
                        children.insert(d.to_string());
                    }
                }
            }
        }
        let candidates: Vec<Candidate> = images
            .iter()
            .filter(|i| !children.contains(&i.digest))
            .map(|i| Candidate { digest: i.digest.clone(), tags: i.tags.clone(), pushed_at_millis: i.pushed_at_millis })
            .collect();
        let expired = policy.expired(&candidates, now_millis());
        for d in &expired {
            self.registry.delete_image(name, d).await?;
            tracing::info!(repository = name, digest = %d, "lifecycle policy expired an image");
        }
        // Record the evaluation time; a concurrent change of the record wins.
        if let Some((mut rec, rev)) = record::get::<RepoRecord>(self.store.as_ref(), record::repo_key(name)).await? {
            rec.lifecycle_evaluated_at = Some(secs(now_millis()));
            record::put_if(self.store.as_ref(), record::repo_key(name), &rec, rev).await?;
        }
        Ok(expired)
    }

    /// Applies every repository's lifecycle policy.
    pub async fn apply_all_lifecycles(&self) -> crate::Result<()> {
        for name in self.registry.repositories().await? {
            self.apply_lifecycle(&name).await?;
        }
        Ok(())
    }

    /// Applies lifecycle policies after every push and every `every`, and removes expired
    /// authorization tokens, until `shutdown` completes.
    pub async fn run_lifecycle(self: Arc<Self>, every: Duration, shutdown: impl std::future::Future<Output = ()>) {
        use tokio::sync::broadcast::error::RecvError;
        let mut pushes = self.registry.subscribe_pushes();
        let mut tick = tokio::time::interval(every);
        let mut open = true;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                r = pushes.recv(), if open => {
                    let res = match r {
                        Ok(name) => self.apply_lifecycle(&name).await.map(|_| ()),
                        Err(RecvError::Lagged(_)) => self.apply_all_lifecycles().await,
                        Err(RecvError::Closed) => { open = false; Ok(()) }
                    };
                    if let Err(e) = res {
                        tracing::warn!(error = %e, "applying a lifecycle policy after a push failed");
                    }
                }
                _ = tick.tick() => {
                    if let Err(e) = self.apply_all_lifecycles().await {
                        tracing::warn!(error = %e, "applying lifecycle policies failed");
                    }
                    if let Err(e) = self.authz.sweep_tokens().await {
                        tracing::warn!(error = %e, "removing expired ECR tokens failed");
                    }
                }
            }
        }
    }

    // ---- operations ----

    async fn create_repository(&self, ctx: &RequestContext, input: &Value) -> AwsResult<Value> {
        let name = repo_name(input)?;
        self.authorize(ctx, "ecr:CreateRepository", &name).await?;
        let tags = Self::parse_tags(input)?;
        if !tags.is_empty() {
            self.authorize(ctx, "ecr:TagResource", &name).await?;
        }
        let mutability = text(input, "imageTagMutability").unwrap_or("MUTABLE");
        if mutability != "MUTABLE" && mutability != "IMMUTABLE" {
            return Err(invalid(format!("Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [MUTABLE, IMMUTABLE]'; got {mutability}")));
        }
        let enc = input.get("encryptionConfiguration");
        let encryption_type = enc.and_then(|e| text(e, "encryptionType")).unwrap_or("AES256");
        if !["AES256", "KMS", "KMS_DSSE"].contains(&encryption_type) {
            return Err(invalid(format!("invalid encryptionType {encryption_type}")));
        }
        let rec = RepoRecord {
            created_at: secs(now_millis()),
            image_tag_mutability: mutability.into(),
            scan_on_push: input["imageScanningConfiguration"]["scanOnPush"].as_bool().unwrap_or(false),
            encryption_type: encryption_type.into(),
            kms_key: enc.and_then(|e| text(e, "kmsKey")).map(String::from),
            tags,
            ..RepoRecord::default()
        };
        let exists = || {
            bad(
                "RepositoryAlreadyExistsException",
                format!("The repository with name '{name}' already exists in the registry with id '{}'", self.account()),
            )
        };
        if self.registry.repository_exists(&name).await.map_err(internal)? {
            return Err(exists());
        }
        if !record::put_if(self.store.as_ref(), record::repo_key(&name), &rec, 0).await.map_err(internal)? {
            return Err(exists());
        }
        self.registry.create_repository(&name, mutability == "IMMUTABLE").await.map_err(internal)?;
        Ok(json!({ "repository": self.repo_json(&name, &rec) }))
    }

    async fn describe_repositories(&self, ctx: &RequestContext, input: &Value) -> AwsResult<Value> {
        let names: Option<Vec<String>> = input
            .get("repositoryNames")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect());
        let mut out = Vec::new();
        match names {
            Some(names) => {
                for n in &names {
                    if !valid_name(n) {
                        return Err(self.not_found(n));
                    }
                    self.authorize(ctx, "ecr:DescribeRepositories", n).await?;
                    let rec = self.existing(n).await?;
                    out.push(self.repo_json(n, &rec));
                }
                Ok(json!({ "repositories": out }))
            }
            None => {
                self.authorize(ctx, "ecr:DescribeRepositories", "*").await?;
                let all = self.registry.repositories().await.map_err(internal)?;
                let (page, next) = paginate(all, input)?;
                for n in &page {
                    if let Some((rec, _)) = self.record(n).await? {
                        out.push(self.repo_json(n, &rec));
                    }
                }
                Ok(with_token(json!({ "repositories": out }), next))
            }
        }
    }

    async fn delete_repository(&self, ctx: &RequestContext, input: &Value) -> AwsResult<Value> {
        let name = repo_name(input)?;
        self.authorize(ctx, "ecr:DeleteRepository", &name).await?;
        let rec = self.existing(&name).await?;
        let force = input["force"].as_bool().unwrap_or(false);
        if !force && !self.images(&name).await?.is_empty() {
            return Err(bad(
                "RepositoryNotEmptyException",
                format!("The repository with name '{name}' in registry with id '{}' cannot be deleted because it still contains images", self.account()),
            ));
        }
        self.registry.delete_repository(&name).await.map_err(internal)?;
        record::delete(self.store.as_ref(), record::repo_key(&name)).await.map_err(internal)?;
        Ok(json!({ "repository": self.repo_json(&name, &rec) }))
    }

    fn tag_status_filter(input: &Value) -> AwsResult<&str> {
        let s = input["filter"]["tagStatus"].as_str().unwrap_or("ANY");
        if ["TAGGED", "UNTAGGED", "ANY"].contains(&s) {
            Ok(s)
        } else {
            Err(invalid(format!("Invalid parameter at 'filter.tagStatus' failed to satisfy constraint: 'Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]'; got {s}")))
        }
    }

    async fn describe_images(&self, ctx: &RequestContext, input: &Value) -> AwsResult<Value> {
        let name = repo_name(input)?;
        self.authorize(ctx, "ecr:DescribeImages", &name).await?;
        self.existing(&name).await?;
        let status = Self::tag_status_filter(input)?;
        let mut images = self.images(&name).await?;
        images.sort_by(|a, b| b.pushed_at_millis.cmp(&a.pushed_at_millis).then_with(|| a.digest.cmp(&b.digest)));
        if let Some(ids) = input.get("imageIds").and_then(Value::as_array) {
            let mut out = Vec::new();
            for v in ids {
                let id = ImageId::parse(v);
                match lookup(&images, &id) {
                    Lookup::Found(i) => {
                        if !out.iter().any(|o: &Value| o["imageDigest"] == json!(i.digest)) {
                            out.push(self.image_json(&name, i));
                        }
                    }
                    Lookup::Failure(..) => {
                        return Err(bad(
                            "ImageNotFoundException",
                            format!(
                                "The image with imageId {} does not exist within the repository with name '{name}' in the registry with id '{}'",
                                id.describe(),
                                self.account()
                            ),
                        ))
                    }
                }
            }
            return Ok(json!({ "imageDetails": out }));
        }
        let selected: Vec<&ImageInfo> = images
            .iter()
            .filter(|i| match status {
                "TAGGED" => !i.tags.is_empty(),
                "UNTAGGED" => i.tags.is_empty(),
                _ => true,
            })
            .collect();
        let (page, next) = paginate(selected, input)?;
        let details: Vec<Value> = page.iter().map(|i| self.image_json(&name, i)).collect();
        Ok(with_token(json!({ "imageDetails": details }), next))
    }

    async fn list_images(&self, ctx: &RequestContext, input: &Value) -> AwsResult<Value> {
        let name = repo_name(input)?;
        self.authorize(ctx, "ecr:ListImages", &name).await?;
        self.existing(&name).await?;
        let status = Self::tag_status_filter(input)?;
        let images = self.images(&name).await?;
        let mut ids = Vec::new();
        for i in &images {
            if i.tags.is_empty() {
                if status != "TAGGED" {
                    ids.push(json!({ "imageDigest": i.digest }));
                }
            } else if status != "UNTAGGED" {
                for t in &i.tags {
                    ids.push(json!({ "imageDigest": i.digest, "imageTag": t }));
                }
            }
        }
        let (page, next) = paginate(ids, input)?;
        Ok(with_token(json!({ "imageIds": page }), next))
    }

    async fn batch_get_image(&self, ctx: &RequestContext, input: &Value) -> AwsResult<Value> {
        let name = repo_name(input)?;
        self.authorize(ctx, "ecr:BatchGetImage", &name).await?;
        self.existing(&name).await?;
        let accepted: Option<Vec<&str>> =
            input.get("acceptedMediaTypes").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect());
        let images = self.images(&name).await?;
        let (mut out, mut failures) = (Vec::new(), Vec::new());
        for v in input.get("imageIds").and_then(Value::as_array).into_iter().flatten() {
            let id = ImageId::parse(v);
            match lookup(&images, &id) {
                Lookup::Failure(code, reason) => failures.push(id.failure(code, reason)),
                Lookup::Found(i) => {
                    let Some(m) = self.registry.manifest(&name, &i.digest).await.map_err(internal)? else {
                        failures.push(id.failure("ImageNotFound", "Requested image not found"));
                        continue;
                    };
                    if accepted.as_ref().is_some_and(|a| !a.contains(&m.media_type.as_str())) {
                        failures.push(id.failure("UnsupportedImageType", "The image's media type is not among the accepted media types"));
                        continue;
                    }
                    let mut image_id = json!({ "imageDigest": m.digest });
                    if let Some(t) = &id.tag {
                        image_id["imageTag"] = json!(t);
                    }
                    out.push(json!({
                        "registryId": self.account(),
                        "repositoryName": name,
                        "imageId": image_id,
                        "imageManifest": String::from_utf8_lossy(&m.bytes),
                        "imageManifestMediaType": m.media_type,
                    }));
                }
            }
        }
        Ok(json!({ "images": out, "failures": failures }))
    }

    async fn batch_delete_image(&self, ctx: &RequestContext, input: &Value) -> AwsResult<Value> {
        let name = repo_name(input)?;
        self.authorize(ctx, "ecr:BatchDeleteImage", &name).await?;
        self.existing(&name).await?;
        let (mut deleted, mut failures) = (Vec::new(), Vec::new());
        for v in input.get("imageIds").and_then(Value::as_array).into_iter().flatten() {
            let id = ImageId::parse(v);
            // Look up afresh: an earlier entry may have deleted this image.
            let images = self.images(&name).await?;
            match lookup(&images, &id) {
                Lookup::Failure(code, reason) => failures.push(id.failure(code, reason)),
                Lookup::Found(i) => {
                    let reference = match &id.tag {
                        // By tag: only the tag goes (the image stays if other tags or its
                        // digest still name it), as ECR.
                        Some(t) if i.tags.len() > 1 => t.clone(),
                        _ => i.digest.clone(),
                    };
                    if !self.registry.delete_image(&name, &reference).await.map_err(internal)? {
                        failures.push(id.failure("ImageNotFound", "Requested image not found"));
                        continue;
                    }
                    if reference == i.digest && id.tag.is_none() {
                        // By digest: every tag went with it.
                        if i.tags.is_empty() {
                            deleted.push(json!({ "imageDigest": i.digest }));
                        }
                        for t in &i.tags {
                            deleted.push(json!({ "imageDigest": i.digest, "imageTag": t }));
                        }
                    } else {
                        deleted.push(json!({ "imageDigest": i.digest, "imageTag": id.tag }));
                    }
                }
            }
        }
        Ok(json!({ "imageIds": deleted, "failures": failures }))
    }

    async fn put_image(&self, ctx: &RequestContext, input: &Value) -> AwsResult<Value> {
        let name = repo_name(input)?;
        self.authorize(ctx, "ecr:PutImage", &name).await?;
        self.existing(&name).await?;
        let manifest = required(input, "imageManifest")?.to_string();
        let media_type = text(input, "imageManifestMediaType")
            .map(String::from)
            .or_else(|| serde_json::from_str::<Value>(&manifest).ok().and_then(|v| v["mediaType"].as_str().map(String::from)));
        let tag = text(input, "imageTag");
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(invalid(format!("Invalid parameter at 'imageTag' failed to satisfy constraint: 'must satisfy regular expression'; got {t}")));
            }
        }
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(manifest.as_bytes())));
        if let Some(d) = text(input, "imageDigest") {
            if d != digest {
                return Err(bad(
                    "ImageDigestDoesNotMatchException",
                    format!("The specified digest '{d}' does not match the digest '{digest}' of the manifest"),
                ));
            }
        }
        let images = self.images(&name).await?;
        let already = images.iter().find(|i| i.digest == digest);
        if let Some(i) = already {
            let same = match tag {
                Some(t) => i.tags.iter().any(|x| x == t),
                None => true,
            };
            if same {
                return Err(bad(
                    "ImageAlreadyExistsException",
                    format!(
                        "Image with digest '{digest}' and tag '{}' already exists in the repository with name '{name}' in registry with id '{}'",
                        tag.unwrap_or("null"),
                        self.account()
                    ),
                ));
            }
        }
        let reference = tag.unwrap_or(&digest);
        match self.registry.put_manifest_bytes(&name, reference, media_type.as_deref(), Bytes::from(manifest.clone())).await {
            Ok(_) => {}
            Err(RegistryError::Refused { code: "TAG_INVALID", .. }) if tag.is_some() => {
                return Err(bad(
                    "ImageTagAlreadyExistsException",
                    format!(
                        "The image tag '{}' already exists in the '{name}' repository and cannot be overwritten because the repository is immutable.",
                        tag.unwrap_or_default()
                    ),
                ))
            }
            Err(RegistryError::Refused { code: "MANIFEST_BLOB_UNKNOWN", message }) => {
                return Err(bad("LayersNotFoundException", format!("Layers referenced by the manifest are not in the repository: {message}")))
            }
            Err(RegistryError::Refused { code, message }) => return Err(invalid(format!("Invalid parameter at 'imageManifest': {code}: {message}"))),
            Err(e) => return Err(internal(e)),
        }
        let mut image_id = json!({ "imageDigest": digest });
        if let Some(t) = tag {
            image_id["imageTag"] = json!(t);
        }
        Ok(json!({ "image": {
            "registryId": self.account(),
            "repositoryName": name,
            "imageId": image_id,
            "imageManifest": manifest,
            "imageManifestMediaType": media_type,
        }}))
    }

    async fn batch_check_layer_availability(&self, ctx: &RequestContext, input: &Value) -> AwsResult<Value> {
        let name = repo_name(input)?;
        self.authorize(ctx, "ecr:BatchCheckLayerAvailability", &name).await?;
        self.existing(&name).await?;
        let (mut layers, mut failures) = (Vec::new(), Vec::new());
        for d in input.get("layerDigests").and_then(Value::as_array).into_iter().flatten() {
            let Some(d) = d.as_str() else { continue };
            if !valid_digest(d) {
                failures.push(json!({ "layerDigest": d, "failureCode": "InvalidLayerDigest", "failureReason": "Invalid layer digest" }));
                continue;
            }
            match self.registry.blob_size(&name, d).await.map_err(internal)? {
                Some(size) => layers.push(json!({ "layerDigest": d, "layerAvailability": "AVAILABLE", "layerSize": size })),
                None => layers.push(json!({ "layerDigest": d, "layerAvailability": "UNAVAILABLE" })),
            }
        }
        Ok(json!({ "layers": layers, "failures": failures }))
    }

    async fn get_authorization_token(&self, ctx: &RequestContext) -> AwsResult<Value> {
        ctx.authorize("ecr:GetAuthorizationToken", "*").await?;
        // Temporary credentials cap the token's life.
        let not_after = match &ctx.caller.access_key_id {
            Some(k) => ctx.identity.credential(k).await?.and_then(|c| c.expires_at),
            None => None,
        };
        let token = self.authz.issue(&ctx.caller, not_after).await.map_err(internal)?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{}", token.password));
        Ok(json!({ "authorizationData": [{
            "authorizationToken": encoded,
            "expiresAt": token.expires_at,
            "proxyEndpoint": self.proxy_endpoint(),
        }]}))
    }

    async fn put_lifecycle_policy(&self, ctx: &RequestContext, input: &Value) -> AwsResult<Value> {
        let name = repo_name(input)?;
        self.authorize(ctx, "ecr:PutLifecyclePolicy", &name).await?;
        let text = required(input, "lifecyclePolicyText")?.to_string();
        LifecyclePolicy::parse(&text).map_err(|e| {
            invalid(format!("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: {e}'"))
        })?;
        let t = text.clone();
        self.update(&name, move |r| {
            r.lifecycle_policy = Some(t.clone());
            Ok(())
        })
        .await?;
        // Applied at once (ECR applies within 24 hours), then after every push and periodically.
        self.apply_lifecycle(&name).await.map_err(internal)?;
        Ok(json!({ "registryId": self.account(), "repositoryName": name, "lifecyclePolicyText": text }))
    }

    async fn lifecycle_policy(&self, ctx: &RequestContext, input: &Value, delete: bool) -> AwsResult<Value> {
        let name = repo_name(input)?;
        let action = if delete { "ecr:DeleteLifecyclePolicy" } else { "ecr:GetLifecyclePolicy" };
        self.authorize(ctx, action, &name).await?;
        let rec = self.existing(&name).await?;
        let missing = || {
            bad(
                "LifecyclePolicyNotFoundException",
                format!("Lifecycle policy does not exist for the repository with name '{name}' in the registry with id '{}'", self.account()),
            )
        };
        let text = rec.lifecycle_policy.clone().ok_or_else(missing)?;
        if delete {
            self.update(&name, |r| {
                r.lifecycle_policy = None;
                Ok(())
            })
            .await?;
        }
        let mut out = json!({ "registryId": self.account(), "repositoryName": name, "lifecyclePolicyText": text });
        if let Some(t) = rec.lifecycle_evaluated_at {
            out["lastEvaluatedAt"] = json!(t);
        }
        Ok(out)
    }

    async fn set_repository_policy(&self, ctx: &RequestContext, input: &Value) -> AwsResult<Value> {
        let name = repo_name(input)?;
        self.authorize(ctx, "ecr:SetRepositoryPolicy", &name).await?;
        let text = required(input, "policyText")?.to_string();
        wharf_iam::policy::PolicyDocument::parse(&text, false)
            .map_err(|e| invalid(format!("Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided': {}", e.0)))?;
        let t = text.clone();
        self.update(&name, move |r| {
            r.policy = Some(t.clone());
            Ok(())
        })
        .await?;
        Ok(json!({ "registryId": self.account(), "repositoryName": name, "policyText": text }))
    }

    async fn repository_policy(&self, ctx: &RequestContext, input: &Value, delete: bool) -> AwsResult<Value> {
        let name = repo_name(input)?;
        let action = if delete { "ecr:DeleteRepositoryPolicy" } else { "ecr:GetRepositoryPolicy" };
        self.authorize(ctx, action, &name).await?;
        let rec = self.existing(&name).await?;
        let text = rec.policy.ok_or_else(|| {
            bad(
                "RepositoryPolicyNotFoundException",
                format!("Repository policy does not exist for the repository with name '{name}' in the registry with id '{}'", self.account()),
            )
        })?;
        if delete {
            self.update(&name, |r| {
                r.policy = None;
                Ok(())
            })
            .await?;
        }
        Ok(json!({ "registryId": self.account(), "repositoryName": name, "policyText": text }))
    }

    async fn put_image_tag_mutability(&self, ctx: &RequestContext, input: &Value) -> AwsResult<Value> {
        let name = repo_name(input)?;
        self.authorize(ctx, "ecr:PutImageTagMutability", &name).await?;
        let m = required(input, "imageTagMutability")?.to_string();
        if m != "MUTABLE" && m != "IMMUTABLE" {
            return Err(invalid(format!("Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [MUTABLE, IMMUTABLE]'; got {m}")));
        }
        let m2 = m.clone();
        self.update(&name, move |r| {
            r.image_tag_mutability = m2.clone();
            Ok(())
        })
        .await?;
        self.registry.create_repository(&name, m == "IMMUTABLE").await.map_err(internal)?;
        Ok(json!({ "registryId": self.account(), "repositoryName": name, "imageTagMutability": m }))
    }

    async fn put_image_scanning_configuration(&self, ctx: &RequestContext, input: &Value) -> AwsResult<Value> {
        let name = repo_name(input)?;
        self.authorize(ctx, "ecr:PutImageScanningConfiguration", &name).await?;
        let scan = input["imageScanningConfiguration"]["scanOnPush"].as_bool().unwrap_or(false);
        self.update(&name, move |r| {
            r.scan_on_push = scan;
            Ok(())
        })
        .await?;
        Ok(json!({ "registryId": self.account(), "repositoryName": name, "imageScanningConfiguration": { "scanOnPush": scan } }))
    }

    async fn tags_op(&self, ctx: &RequestContext, operation: &str, input: &Value) -> AwsResult<Value> {
        let name = self.name_from_arn(required(input, "resourceArn")?)?;
        self.authorize(ctx, &format!("ecr:{operation}"), &name).await?;
        match operation {
            "TagResource" => {
                let tags = Self::parse_tags(input)?;
                self.update(&name, move |r| {
                    for (k, v) in &tags {
                        r.tags.retain(|(x, _)| x != k);
                        r.tags.push((k.clone(), v.clone()));
                    }
                    if r.tags.len() > 50 {
                        return Err(bad("TooManyTagsException", "a repository can have at most 50 tags"));
                    }
                    Ok(())
                })
                .await?;
                Ok(json!({}))
            }
            "UntagResource" => {
                let keys: Vec<String> =
                    input["tagKeys"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect();
                self.update(&name, move |r| {
                    r.tags.retain(|(k, _)| !keys.contains(k));
                    Ok(())
                })
                .await?;
                Ok(json!({}))
            }
            _ => {
                let rec = self.existing(&name).await?;
                let tags: Vec<Value> = rec.tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect();
                Ok(json!({ "tags": tags }))
            }
        }
    }
}

#[async_trait]
impl Service for Ecr {
    fn signing_name(&self) -> &'static str {
        "ecr"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Json { target_prefix: "AmazonEC2ContainerRegistry_V20150921", json_version: "1.1", query_compatible: false }
    }

    fn has_operation(&self, operation: &str) -> bool {
        OPERATIONS.contains(&operation)
    }

    async fn call(&self, ctx: &RequestContext, operation: &str, input: Input) -> Result<Output, AwsError> {
        let input = json_input(input)?;
        let out = match operation {
            "CreateRepository" => self.create_repository(ctx, &input).await?,
            "DescribeRepositories" => self.describe_repositories(ctx, &input).await?,
            "DeleteRepository" => self.delete_repository(ctx, &input).await?,
            "DescribeImages" => self.describe_images(ctx, &input).await?,
            "ListImages" => self.list_images(ctx, &input).await?,
            "BatchGetImage" => self.batch_get_image(ctx, &input).await?,
            "BatchDeleteImage" => self.batch_delete_image(ctx, &input).await?,
            "PutImage" => self.put_image(ctx, &input).await?,
            "BatchCheckLayerAvailability" => self.batch_check_layer_availability(ctx, &input).await?,
            "GetAuthorizationToken" => self.get_authorization_token(ctx).await?,
            "PutLifecyclePolicy" => self.put_lifecycle_policy(ctx, &input).await?,
            "GetLifecyclePolicy" => self.lifecycle_policy(ctx, &input, false).await?,
            "DeleteLifecyclePolicy" => self.lifecycle_policy(ctx, &input, true).await?,
            "SetRepositoryPolicy" => self.set_repository_policy(ctx, &input).await?,
            "GetRepositoryPolicy" => self.repository_policy(ctx, &input, false).await?,
            "DeleteRepositoryPolicy" => self.repository_policy(ctx, &input, true).await?,
            "PutImageTagMutability" => self.put_image_tag_mutability(ctx, &input).await?,
            "PutImageScanningConfiguration" => self.put_image_scanning_configuration(ctx, &input).await?,
            "TagResource" | "UntagResource" | "ListTagsForResource" => self.tags_op(ctx, operation, &input).await?,
            "DescribeRegistry" => {
                ctx.authorize("ecr:DescribeRegistry", "*").await?;
                json!({ "registryId": self.account(), "replicationConfiguration": { "rules": [] } })
            }
            other => return Err(bad("UnknownOperationException", format!("operation {other} is not supported"))),
        };
        Ok(Output::Json(out))
    }
}
