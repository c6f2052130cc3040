//! The generic store (Kubernetes' `registry/generic/registry/store.go`): create, get, list,
//! update, patch and delete for every kind, with optimistic concurrency, generateName,
//! finalizers and graceful deletion. Kinds differ only through their [`Strategy`].

use base64::Engine;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use wharf_api::meta;
use wharf_api::selector::{FieldSelector, LabelSelector};
use wharf_api::ResourceInfo;
use wharf_store::{Compare, KvStore, Op, RangeRequest, TxnRequest};

use crate::cache::{set_resource_version, CachedObject, WatchCache};
use crate::error::{ApiError, Result};
use crate::strategy::{Part, Strategy};

/// Largest object the store accepts (etcd's default request limit).
pub const MAX_OBJECT_BYTES: usize = 1536 * 1024;

/// `fieldValidation`: what to do with fields the schema does not declare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn (the default).
    #[default]
    Warn,
    /// Refuse the request.
    Strict,
}

/// Options shared by writes, and the warnings a write produced.
#[derive(Debug, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: run every step but the write.
    pub dry_run: bool,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `force` for server-side apply.
    pub force: bool,
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
    /// A server-side apply: `metadata.managedFields` is computed by the apply itself.
    pub apply: bool,
    /// Warnings for the client (`Warning: 299 - "..."` headers).
    pub warnings: std::sync::Mutex<Vec<String>>,
}

impl WriteOptions {
    /// Records field ownership for an ordinary write (`Update` in managedFields).
    pub fn track(&self, s: &Served, old: Option<&Value>, new: &mut Value, part: Part) {
        if self.apply || part == Part::Internal {
            return;
        }
        let manager = self.field_manager.as_deref().unwrap_or("unknown");
        let sub = if part == Part::Status { Some("status") } else { None };
        wharf_api::apply::track_update(old, new, manager, &s.info.api_version(), &s.list_schema(), &meta::now_rfc3339(), sub);
    }

    /// Records a warning for the response.
    pub fn warn(&self, w: String) {
        if let Ok(mut ws) = self.warnings.lock() {
            if !ws.contains(&w) {
                ws.push(w);
            }
        }
    }

    /// Handles fields the schema does not declare, as `fieldValidation` asks.
    pub fn unknown_fields(&self, fields: Vec<String>) -> Result<()> {
        if fields.is_empty() {
            return Ok(());
        }
        match self.field_validation {
            FieldValidation::Ignore => Ok(()),
            FieldValidation::Warn => {
                for f in fields {
                    self.warn(format!("unknown field \"{}\"", f.trim_start_matches('.')));
                }
                Ok(())
            }
            FieldValidation::Strict => {
                let list: Vec<String> = fields.iter().map(|f| format!("unknown field \"{}\"", f.trim_start_matches('.'))).collect();
                Err(ApiError::BadRequest(format!("strict decoding error: {}", list.join(", "))))
            }
        }
    }
}

/// `DeleteOptions` as the store uses them.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// Override of the grace period.
    pub grace_period_seconds: Option<i64>,
    /// `Orphan`, `Background` or `Foreground`.
    pub propagation_policy: Option<String>,
    /// Precondition on uid.
    pub uid: Option<String>,
    /// Precondition on resourceVersion.
    pub resource_version: Option<String>,
    /// Dry run.
    pub dry_run: bool,
}

/// What a list returns.
pub struct ListResult {
    /// The list's resourceVersion.
    pub rev: i64,
    /// The items.
    pub items: Vec<Arc<CachedObject>>,
    /// The continue token for the next page.
    pub continue_token: Option<String>,
}

/// `resourceVersion` / `resourceVersionMatch` semantics of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAt {
    /// `""`: the latest state (consistent read).
    Latest,
    /// `"0"`: any state the server has.
    Any,
    /// `NotOlderThan N` (default for a non-zero resourceVersion).
    NotOlderThan(i64),
    /// `Exact N`.
    Exact(i64),
}

/// A list request after parsing.
#[derive(Debug, Clone)]
pub struct ListOptions {
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
    /// Page size; 0 for all.
    pub limit: usize,
    /// Continue token.
    pub continue_token: Option<String>,
    /// Which state to read.
    pub at: ReadAt,
}

/// A served resource with its strategy.
#[derive(Debug, Clone)]
pub struct Served {
    /// The resource.
    pub info: ResourceInfo,
    /// Its strategy.
    pub strategy: Strategy,
    /// Whether a CustomResourceDefinition serves it.
    pub custom: bool,
    /// For custom resources: the version's schema and printer columns.
    pub crd_version: Option<Value>,
}

impl Served {
    /// How server-side apply sees this resource's lists and maps.
    pub fn list_schema(&self) -> wharf_api::apply::ListSchema<'_> {
        let ls = wharf_api::apply::ListSchema::new(&self.info.group, &self.info.kind).with_status_subresource(self.info.has_subresource("status"));
        match self.crd_version.as_ref().and_then(|v| v.pointer("/schema/openAPIV3Schema")) {
            Some(schema) => ls.with_crd_schema(schema),
            None => ls,
        }
    }
}

/// The generic store of one control plane.
pub struct Registry {
    store: Arc<dyn KvStore>,
    cache: Arc<WatchCache>,
    served: RwLock<Vec<Arc<Served>>>,
    /// The service cluster IP range: (base address, prefix length).
    service_cidr: ([u8; 4], u8),
}

fn qualified(info: &ResourceInfo) -> String {
    if info.group.is_empty() {
        info.resource.clone()
    } else {
        format!("{}.{}", info.resource, info.group)
    }
}

fn not_found(info: &ResourceInfo, name: &str) -> ApiError {
    ApiError::NotFound { resource: qualified(info), group: info.group.clone(), kind: info.resource.clone(), name: name.to_string() }
}

fn conflict(info: &ResourceInfo, name: &str, detail: &str) -> ApiError {
    ApiError::Conflict { resource: qualified(info), group: info.group.clone(), kind: info.resource.clone(), name: name.to_string(), detail: detail.to_string() }
}

const MODIFIED: &str = "the object has been modified; please apply your changes to the latest version and try again";

fn decode(kv_value: &[u8], key: &str) -> Result<Value> {
    serde_json::from_slice(kv_value).map_err(|e| ApiError::Internal(format!("decoding {key}: {e}")))
}

/// The stored bytes of an object of the served version `s`.
fn encode(s: &Served, obj: &Value) -> Result<Vec<u8>> {
    let mut v = s.strategy.to_storage(obj.clone());
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("selfLink");
    }
    let bytes = serde_json::to_vec(&v).map_err(|e| ApiError::Internal(e.to_string()))?;
    if bytes.len() > MAX_OBJECT_BYTES {
        return Err(ApiError::TooLarge(MAX_OBJECT_BYTES));
    }
    Ok(bytes)
}

fn random_suffix() -> String {
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::thread_rng();
    (0..5).map(|_| ALPHA[rng.gen_range(0..ALPHA.len())] as char).collect()
}

fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn resource_version(obj: &Value) -> Option<i64> {
    obj.pointer("/metadata/resourceVersion").and_then(Value::as_str).filter(|s| !s.is_empty()).map(|s| s.parse::<i64>().unwrap_or(-1))
}

/// The continue token Kubernetes uses: base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":KEY}`.
pub fn encode_continue(rev: i64, start: &str) -> String {
    let j = json!({"v": "meta.k8s.io/v1", "rv": rev, "start": start});
    base64::engine::general_purpose::URL_SAFE.encode(j.to_string())
}

fn decode_continue(token: &str) -> Result<(i64, String)> {
    let bad = || ApiError::BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into());
    let raw = base64::engine::general_purpose::URL_SAFE.decode(token).or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token)).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rev = v.get("rv").and_then(Value::as_i64).ok_or_else(bad)?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(bad)?.to_string();
    if start.contains("..") {
        return Err(bad());
    }
    Ok((rev, start))
}

/// Field selectors each resource supports beyond `metadata.name` / `metadata.namespace`.
fn supported_fields(info: &ResourceInfo) -> Vec<&'static str> {
    match (info.group.as_str(), info.resource.as_str()) {
        ("", "pods") => vec!["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"],
        ("", "events") | (wharf_api::events::EVENTS_GROUP, "events") => wharf_api::events::field_labels(&info.group),
        ("", "secrets") => vec!["type"],
        ("", "nodes") => vec!["spec.unschedulable"],
        ("", "namespaces") => vec!["status.phase"],
        ("", "replicationcontrollers") | ("apps", "replicasets") => vec!["status.replicas"],
        ("batch", "jobs") => vec!["status.successful"],
        ("", "persistentvolumeclaims") | ("", "persistentvolumes") => vec!["status.phase"],
        _ => Vec::new(),
    }
}

/// Refuses a field selector on a label the resource does not support (400, as Kubernetes).
pub fn check_field_selector(s: &Served, fields: &FieldSelector) -> Result<()> {
    let supported = supported_fields(&s.info);
    for (f, _, _) in &fields.terms {
        if f != "metadata.name" && f != "metadata.namespace" && !supported.contains(&f.as_str()) {
            return Err(ApiError::BadRequest(format!("field label not supported: {f}")));
        }
    }
    Ok(())
}

/// The served form of a cached object.
fn served(s: &Served, o: Arc<CachedObject>) -> Arc<CachedObject> {
    match s.strategy.to_served_cached(&o) {
        Some(c) => Arc::new(c),
        None => o,
    }
}

impl Registry {
    /// A registry over `store` with its cache.
    pub fn new(store: Arc<dyn KvStore>, cache: Arc<WatchCache>, service_cidr: ([u8; 4], u8)) -> Self {
        let served = wharf_api::resources::builtin()
            .into_iter()
            .map(|info| Arc::new(Served { strategy: Strategy::for_resource(&info, None), info, custom: false, crd_version: None }))
            .collect();
        Self { store, cache, served: RwLock::new(served), service_cidr }
    }

    /// The service cluster IP range.
    pub fn service_cidr(&self) -> ([u8; 4], u8) {
        self.service_cidr
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<WatchCache> {
        &self.cache
    }

    /// Every served resource.
    pub fn served(&self) -> Vec<Arc<Served>> {
        self.served.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Looks a resource up by group, version and plural name.
    pub fn lookup(&self, group: &str, version: &str, resource: &str) -> Option<Arc<Served>> {
        self.served.read().ok()?.iter().find(|s| s.info.group == group && s.info.version == version && s.info.resource == resource).cloned()
    }

    /// Replaces the custom resources with those the stored CRDs define.
    pub fn refresh_custom_resources(&self) {
        let (_, crds, _) = self.cache.list("/registry/apiextensions.k8s.io/customresourcedefinitions/", None, |_| true, usize::MAX);
        let mut custom = Vec::new();
        for c in crds {
            let Ok(crd) = c.value() else { continue };
            if crd.pointer("/metadata/deletionTimestamp").is_some() {
                continue;
            }
            let spec = crd.get("spec").cloned().unwrap_or_default();
            let group = spec.get("group").and_then(Value::as_str).unwrap_or_default().to_string();
            let names = spec.get("names").cloned().unwrap_or_default();
            let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let list = |v: &Value, k: &str| -> Vec<String> { v.get(k).and_then(Value::as_array).map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default() };
            let namespaced = spec.get("scope").and_then(Value::as_str) == Some("Namespaced");
            for ver in spec.get("versions").and_then(Value::as_array).cloned().unwrap_or_default() {
                if ver.get("served").and_then(Value::as_bool) != Some(true) {
                    continue;
                }
                let mut subresources = Vec::new();
                if ver.pointer("/subresources/status").is_some() {
                    subresources.push("status".to_string());
                }
                if ver.pointer("/subresources/scale").is_some() {
                    subresources.push("scale".to_string());
                }
                let info = ResourceInfo {
                    group: group.clone(),
                    version: s(&ver, "name"),
                    resource: s(&names, "plural"),
                    singular: { let x = s(&names, "singular"); if x.is_empty() { s(&names, "kind").to_ascii_lowercase() } else { x } },
                    kind: s(&names, "kind"),
                    namespaced,
                    short_names: list(&names, "shortNames"),
                    categories: list(&names, "categories"),
                    verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"].iter().map(|v| v.to_string()).collect(),
                    subresources,
                    storage_group: group.clone(),
                };
                custom.push(Arc::new(Served { strategy: Strategy::for_resource(&info, Some(&ver)), info, custom: true, crd_version: Some(ver) }));
            }
        }
        if let Ok(mut served) = self.served.write() {
            served.retain(|s| !s.custom);
            served.extend(custom);
        }
    }

    /// The latest state of an object, in the served form of `s`.
    async fn read_latest(&self, s: &Served, key: &str) -> Result<Option<(Value, i64)>> {
        let r = self.store.range(RangeRequest { key: key.as_bytes().to_vec(), ..Default::default() }).await?;
        match r.kvs.into_iter().next() {
            Some(kv) => {
                let mut v = s.strategy.to_served(decode(&kv.value, key)?);
                set_resource_version(&mut v, kv.mod_revision);
                Ok(Some((v, kv.mod_revision)))
            }
            None => Ok(None),
        }
    }

    /// Reads one object (consistently unless `at` allows a cached state).
    pub async fn get(&self, s: &Served, ns: Option<&str>, name: &str, at: ReadAt) -> Result<Arc<CachedObject>> {
        let key = s.info.key(ns, name);
        match at {
            ReadAt::Any => {}
            ReadAt::Latest => {
                self.cache.sync().await?;
            }
            ReadAt::NotOlderThan(rev) | ReadAt::Exact(rev) => self.cache.wait_for(rev, Duration::from_secs(3)).await?,
        }
        self.cache.get(&key).map(|o| served(s, o)).ok_or_else(|| not_found(&s.info, name))
    }

    /// Lists objects with selectors and pagination.
    pub async fn list(&self, s: &Served, ns: Option<&str>, opts: &ListOptions) -> Result<ListResult> {
        check_field_selector(s, &opts.fields)?;
        let mut ns = ns.map(str::to_string);
        if ns.is_none() && s.info.namespaced {
            ns = opts.fields.exact("metadata.namespace").map(str::to_string);
        }
        let prefix = match &ns {
            Some(n) if s.info.namespaced => s.info.namespace_prefix(n),
            _ => s.info.key_prefix(),
        };
        let needs_body = !opts.fields.is_empty();
        let keep = |o: &CachedObject| -> bool {
            if !opts.labels.is_empty() && !opts.labels.matches(o.labels.as_ref()) {
                return false;
            }
            if needs_body {
                return o.value().map(|v| s.strategy.fields_match(&opts.fields, &v)).unwrap_or(false);
            }
            true
        };
        let limit = if opts.limit == 0 { usize::MAX } else { opts.limit };
        let (start, pinned) = match &opts.continue_token {
            Some(t) => {
                let (rev, start) = decode_continue(t)?;
                (Some(format!("{}{start}", s.info.key_prefix())), Some(rev))
            }
            None => (None, None),
        };
        let at_rev = match (pinned, opts.at) {
            (Some(rev), _) => Some(rev),
            (None, ReadAt::Exact(rev)) => Some(rev),
            (None, ReadAt::Latest) => {
                self.cache.sync().await?;
                None
            }
            (None, ReadAt::NotOlderThan(rev)) => {
                self.cache.wait_for(rev, Duration::from_secs(3)).await?;
                None
            }
            (None, ReadAt::Any) => None,
        };
        let (rev, items, more) = match at_rev {
            Some(rev) if rev != self.cache.revision() => self.list_from_store(&prefix, start.as_deref(), rev, &keep, limit).await?,
            _ => self.cache.list(&prefix, start.as_deref(), keep, limit),
        };
        let rev = at_rev.unwrap_or(rev);
        let continue_token = match (more, items.last()) {
            (true, Some(last)) => {
                let rel = last.key.strip_prefix(&s.info.key_prefix()).unwrap_or(&last.key);
                Some(encode_continue(rev, &format!("{rel}\u{0}")))
            }
            _ => None,
        };
        let items = if s.strategy.converts() { items.into_iter().map(|o| served(s, o)).collect() } else { items };
        Ok(ListResult { rev, items, continue_token })
    }

    async fn list_from_store(
        &self,
        prefix: &str,
        start: Option<&str>,
        rev: i64,
        keep: &(dyn Fn(&CachedObject) -> bool + Sync),
        limit: usize,
    ) -> Result<(i64, Vec<Arc<CachedObject>>, bool)> {
        let r = self
            .store
            .range(RangeRequest {
                key: start.unwrap_or(prefix).as_bytes().to_vec(),
                range_end: wharf_store::prefix_end(prefix.as_bytes()),
                revision: rev,
                ..Default::default()
            })
            .await
            .map_err(|e| match e {
                wharf_store::StoreError::Compacted { .. } => ApiError::Expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.".into(),
                ),
                other => other.into(),
            })?;
        let mut out = Vec::new();
        let mut more = false;
        for kv in r.kvs {
            let key = String::from_utf8_lossy(&kv.key).into_owned();
            let o = CachedObject::from_stored(key, kv.mod_revision, &kv.value)?;
            if !keep(&o) {
                continue;
            }
            if out.len() == limit {
                more = true;
                break;
            }
            out.push(Arc::new(o));
        }
        Ok((rev, out, more))
    }

    /// The NamespaceLifecycle admission check. A namespace missing from the cache gets a live
    /// lookup (the cache catching up to the store) before the create is refused, as
    /// kube-apiserver's plugin does: a namespace created just before must be visible.
    async fn check_namespace(&self, s: &Served, ns: Option<&str>, name: &str) -> Result<()> {
        let Some(ns) = ns.filter(|_| s.info.namespaced) else { return Ok(()) };
        let key = format!("/registry/core/namespaces/{ns}");
        let cached = match self.cache.get(&key) {
            Some(o) => Some(o),
            None => {
                self.cache.sync().await?;
                self.cache.get(&key)
            }
        };
        let Some(nso) = cached else {
            return Err(ApiError::NotFound { resource: "namespaces".into(), group: String::new(), kind: "namespaces".into(), name: ns.to_string() });
        };
        if nso.value().ok().and_then(|v| v.pointer("/metadata/deletionTimestamp").cloned()).is_some() {
            return Err(ApiError::Forbidden(format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                qualified(&s.info)
            )));
        }
        Ok(())
    }

    fn check_type(&self, s: &Served, obj: &mut Value) -> Result<()> {
        if !obj.is_object() {
            return Err(ApiError::BadRequest("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml".into()));
        }
        let want_av = s.info.api_version();
        let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string();
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
        if kind.is_empty() && av.is_empty() {
            obj["apiVersion"] = json!(want_av);
            obj["kind"] = json!(s.info.kind);
            return Ok(());
        }
        if kind.is_empty() {
            return Err(ApiError::BadRequest(format!("Object 'Kind' is missing in '{}'", truncate(&obj.to_string()))));
        }
        if !av.is_empty() && av != want_av {
            return Err(ApiError::BadRequest(format!("the API version in the data ({av}) does not match the expected API version ({want_av})")));
        }
        if kind != s.info.kind {
            return Err(ApiError::BadRequest(format!("the kind in the data ({kind}) does not match the expected kind ({})", s.info.kind)));
        }
        obj["apiVersion"] = json!(want_av);
        Ok(())
    }

    fn set_namespace(&self, s: &Served, ns: Option<&str>, obj: &mut Value) -> Result<()> {
        if !s.info.namespaced {
            return Ok(());
        }
        let body_ns = meta::namespace(obj).to_string();
        match ns {
            Some(ns) if !body_ns.is_empty() && body_ns != ns => {
                Err(ApiError::BadRequest("the namespace of the provided object does not match the namespace sent on the request".into()))
            }
            Some(ns) => {
                meta::metadata_mut(obj).insert("namespace".into(), json!(ns));
                Ok(())
            }
            None => Err(ApiError::BadRequest("the server could not find the requested resource".into())),
        }
    }

    fn invalid(&self, s: &Served, obj: &Value, errors: Vec<wharf_api::FieldError>) -> Result<()> {
        if errors.is_empty() {
            return Ok(());
        }
        Err(ApiError::Invalid { group: s.info.group.clone(), kind: s.info.kind.clone(), name: meta::name(obj).to_string(), errors })
    }

    /// Creates an object (POST).
    pub async fn create(&self, s: &Served, ns: Option<&str>, mut obj: Value, opts: &WriteOptions) -> Result<Value> {
        self.check_type(s, &mut obj)?;
        self.set_namespace(s, ns, &mut obj)?;
        let generate = meta::name(&obj).is_empty()
            && obj.pointer("/metadata/generateName").and_then(Value::as_str).is_some_and(|g| !g.is_empty());
        opts.unknown_fields(s.strategy.prune_unknown(&mut obj))?;
        // System fields (uid) first: some defaults derive from them (a Job's generated selector).
        s.strategy.prepare_for_create(&mut obj);
        s.strategy.default(&mut obj);
        for attempt in 0..8 {
            if generate {
                let base = obj.pointer("/metadata/generateName").and_then(Value::as_str).unwrap_or_default();
                let base = if base.len() > 58 { &base[..58] } else { base };
                let name = format!("{base}{}", random_suffix());
                meta::metadata_mut(&mut obj).insert("name".into(), json!(name));
            }
            self.admit_create(s, &mut obj)?;
            opts.track(s, None, &mut obj, Part::Main);
            let errs = s.strategy.validate(&obj, None);
            self.invalid(s, &obj, errs)?;
            let name = meta::name(&obj).to_string();
            self.check_namespace(s, ns, &name).await?;
            let key = s.info.key(ns, &name);
            if opts.dry_run {
                return Ok(obj);
            }
            let bytes = encode(s, &obj)?;
            let r = self
                .store
                .txn(TxnRequest { compare: vec![Compare::mod_revision(key.clone(), 0)], success: vec![Op::put(key, bytes)], failure: vec![] })
                .await?;
            if r.succeeded {
                set_resource_version(&mut obj, r.revision);
                return Ok(obj);
            }
            if !generate || attempt == 7 {
                return Err(ApiError::AlreadyExists { resource: qualified(&s.info), group: s.info.group.clone(), kind: s.info.resource.clone(), name });
            }
        }
        Err(ApiError::Internal("could not generate a unique name".into()))
    }

    /// Kind-specific admission on create (service IP allocation).
    fn admit_create(&self, s: &Served, obj: &mut Value) -> Result<()> {
        if s.info.group.is_empty() && s.info.kind == "Service" {
            self.allocate_service(obj)?;
        }
        if s.info.group.is_empty() && s.info.kind == "Pod" {
            self.admit_priority(obj)?;
            default_toleration_seconds(obj);
        }
        Ok(())
    }

    /// The Priority admission plugin: resolves `priorityClassName` (or the global default
    /// class) into `spec.priority` and `spec.preemptionPolicy`.
    fn admit_priority(&self, obj: &mut Value) -> Result<()> {
        let Some(pcs) = self.lookup("scheduling.k8s.io", "v1", "priorityclasses") else { return Ok(()) };
        let class_name = obj.pointer("/spec/priorityClassName").and_then(Value::as_str).filter(|n| !n.is_empty()).map(str::to_string);
        let class = match &class_name {
            Some(n) => match self.cache.get(&pcs.info.key(None, n)).and_then(|c| c.value().ok()) {
                Some(c) => Some(c),
                None => {
                    return Err(ApiError::Forbidden(format!(
                        "pods \"{}\" is forbidden: no PriorityClass with name {n} was found",
                        meta::name(obj)
                    )))
                }
            },
            None => {
                let (_, all, _) = self.cache.list(&pcs.info.key_prefix(), None, |_| true, usize::MAX);
                all.iter().filter_map(|c| c.value().ok()).find(|c| c.get("globalDefault").and_then(Value::as_bool) == Some(true))
            }
        };
        let (priority, policy) = match &class {
            Some(c) => (
                c.get("value").and_then(Value::as_i64).unwrap_or(0),
                c.get("preemptionPolicy").and_then(Value::as_str).unwrap_or("PreemptLowerPriority").to_string(),
            ),
            None => (0, "PreemptLowerPriority".to_string()),
        };
        if let Some(given) = obj.pointer("/spec/priority").and_then(Value::as_i64) {
            if given != priority {
                return Err(ApiError::Forbidden(format!(
                    "pods \"{}\" is forbidden: the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name",
                    meta::name(obj)
                )));
            }
        }
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("priority".into(), json!(priority));
            spec.entry("preemptionPolicy").or_insert(json!(policy));
            if let (Some(c), None) = (&class, &class_name) {
                spec.insert("priorityClassName".into(), c.pointer("/metadata/name").cloned().unwrap_or(Value::Null));
            }
        }
        Ok(())
    }

    fn allocate_service(&self, obj: &mut Value) -> Result<()> {
        let ty = obj.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
        if ty == "ExternalName" {
            return Ok(());
        }
        let (_, services, _) = self.cache.list("/registry/core/services/", None, |_| true, usize::MAX);
        let mut used_ips = std::collections::HashSet::new();
        let mut used_ports = std::collections::HashSet::new();
        for svc in &services {
            if let Ok(v) = svc.value() {
                if let Some(ip) = v.pointer("/spec/clusterIP").and_then(Value::as_str) {
                    used_ips.insert(ip.to_string());
                }
                for p in v.pointer("/spec/ports").and_then(Value::as_array).cloned().unwrap_or_default() {
                    if let Some(np) = p.get("nodePort").and_then(Value::as_i64) {
                        used_ports.insert(np);
                    }
                }
            }
        }
        let spec = obj.get_mut("spec").and_then(Value::as_object_mut);
        let Some(spec) = spec else { return Ok(()) };
        let cur = spec.get("clusterIP").and_then(Value::as_str).unwrap_or_default().to_string();
        if cur.is_empty() {
            let (base, bits) = self.service_cidr;
            let size = 1u32 << (32 - bits as u32);
            let base_n = u32::from_be_bytes(base);
            let mut rng = rand::thread_rng();
            let mut chosen = None;
            for _ in 0..size.min(100_000) {
                let off = rng.gen_range(10..size.saturating_sub(1).max(11));
                let ip = std::net::Ipv4Addr::from(base_n + off).to_string();
                if !used_ips.contains(&ip) {
                    chosen = Some(ip);
                    break;
                }
            }
            let ip = chosen.ok_or_else(|| ApiError::Internal("failed to allocate a serviceIP: range is full".into()))?;
            spec.insert("clusterIP".into(), json!(ip));
            spec.insert("clusterIPs".into(), json!([ip]));
        } else if cur != "None" && used_ips.contains(&cur) {
            return Err(ApiError::Invalid {
                group: String::new(),
                kind: "Service".into(),
                name: meta::name(obj).to_string(),
                errors: vec![wharf_api::FieldError::invalid("spec.clusterIPs", json!([cur]), format!("failed to allocate IP {cur}: provided IP is already allocated"))],
            });
        } else if !spec.contains_key("clusterIPs") {
            spec.insert("clusterIPs".into(), json!([cur]));
        }
        if ty == "NodePort" || ty == "LoadBalancer" {
            let mut rng = rand::thread_rng();
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports {
                    if p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) == 0 {
                        let mut np = rng.gen_range(30000..32768);
                        while used_ports.contains(&np) {
                            np = rng.gen_range(30000..32768);
                        }
                        used_ports.insert(np);
                        p["nodePort"] = json!(np);
                    }
                }
            }
        }
        Ok(())
    }

    /// Replaces an object (PUT), on the main resource or the status subresource.
    pub async fn update(&self, s: &Served, ns: Option<&str>, name: &str, mut obj: Value, part: Part, opts: &WriteOptions) -> Result<Value> {
        self.check_type(s, &mut obj)?;
        if s.info.namespaced {
            self.set_namespace(s, ns, &mut obj)?;
        }
        let body_name = meta::name(&obj).to_string();
        if body_name.is_empty() {
            meta::metadata_mut(&mut obj).insert("name".into(), json!(name));
        } else if body_name != name {
            return Err(ApiError::BadRequest(format!("the name of the object ({body_name}) does not match the name on the URL ({name})")));
        }
        let precondition = resource_version(&obj);
        self.guaranteed_update(s, ns, name, precondition, opts, |_old| Ok(obj.clone()), part).await
    }

    /// Reads, transforms and writes an object, retrying on conflicts when there is no
    /// resourceVersion precondition (Kubernetes' `GuaranteedUpdate`).
    #[allow(clippy::too_many_arguments)]
    pub async fn guaranteed_update(
        &self,
        s: &Served,
        ns: Option<&str>,
        name: &str,
        precondition: Option<i64>,
        opts: &WriteOptions,
        transform: impl Fn(&Value) -> Result<Value>,
        part: Part,
    ) -> Result<Value> {
        let key = s.info.key(ns, name);
        loop {
            let Some((old, rev)) = self.read_latest(s, &key).await? else {
                return Err(not_found(&s.info, name));
            };
            if precondition.is_some_and(|want| want != rev) {
                return Err(conflict(&s.info, name, MODIFIED));
            }
            let mut new = transform(&old)?;
            self.check_type(s, &mut new)?;
            if s.info.namespaced {
                if let Some(n) = ns {
                    meta::metadata_mut(&mut new).insert("namespace".into(), json!(n));
                }
            }
            if meta::name(&new).is_empty() {
                meta::metadata_mut(&mut new).insert("name".into(), json!(name));
            }
            opts.unknown_fields(s.strategy.prune_unknown(&mut new))?;
            s.strategy.prepare_for_update(&mut new, &old, part);
            s.strategy.default(&mut new);
            opts.track(s, Some(&old), &mut new, part);
            let errs = s.strategy.validate(&new, Some(&old));
            self.invalid(s, &new, errs)?;
            set_resource_version(&mut new, rev);
            if new == old {
                return Ok(old);
            }
            if opts.dry_run {
                return Ok(new);
            }
            let deleting = ready_to_delete(&new);
            let op = if deleting { Op::delete(key.clone()) } else { Op::put(key.clone(), encode(s, &new)?) };
            let r = self.store.txn(TxnRequest { compare: vec![Compare::mod_revision(key.clone(), rev)], success: vec![op], failure: vec![] }).await?;
            if r.succeeded {
                set_resource_version(&mut new, r.revision);
                return Ok(new);
            }
            if precondition.is_some() {
                return Err(conflict(&s.info, name, MODIFIED));
            }
        }
    }

    /// Deletes an object, or marks it for deletion when finalizers or a grace period hold it.
    pub async fn delete(&self, s: &Served, ns: Option<&str>, name: &str, opts: &DeleteOptions) -> Result<Value> {
        let key = s.info.key(ns, name);
        loop {
            let Some((old, rev)) = self.read_latest(s, &key).await? else {
                return Err(not_found(&s.info, name));
            };
            if let Some(uid) = &opts.uid {
                if old.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid.as_str()) {
                    return Err(conflict(&s.info, name, &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", old.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default())));
                }
            }
            if let Some(want) = &opts.resource_version {
                if *want != rev.to_string() {
                    return Err(conflict(&s.info, name, &format!("Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {rev}")));
                }
            }
            let mut fins = finalizers(&old);
            match opts.propagation_policy.as_deref() {
                Some("Foreground") if !fins.iter().any(|f| f == "foregroundDeletion") => fins.push("foregroundDeletion".into()),
                Some("Orphan") if !fins.iter().any(|f| f == "orphan") => fins.push("orphan".into()),
                _ => {}
            }
            let is_pod = s.info.group.is_empty() && s.info.kind == "Pod";
            let is_ns = s.info.group.is_empty() && s.info.kind == "Namespace";
            let already = old.pointer("/metadata/deletionTimestamp").is_some();
            let grace = if is_pod { pod_grace(&old, opts.grace_period_seconds) } else { 0 };
            let ns_finalizers = is_ns && old.pointer("/spec/finalizers").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
            let mark = if grace > 0 {
                // Graceful pod deletion: the node agent finishes it. A grace period may only shrink.
                let current = old.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64);
                !(already && current.is_some_and(|c| c <= grace))
            } else if !fins.is_empty() || ns_finalizers {
                !already || fins != finalizers(&old)
            } else {
                false
            };
            if grace > 0 || !fins.is_empty() || ns_finalizers {
                if !mark {
                    return Ok(old);
                }
                let mut new = old.clone();
                let m = meta::metadata_mut(&mut new);
                if !already || grace > 0 {
                    let when = std::time::SystemTime::now() + Duration::from_secs(grace as u64);
                    m.insert("deletionTimestamp".into(), json!(humantime::format_rfc3339_seconds(when).to_string()));
                }
                m.insert("deletionGracePeriodSeconds".into(), json!(grace));
                if !fins.is_empty() {
                    m.insert("finalizers".into(), json!(fins));
                }
                if is_ns {
                    new["status"] = json!({"phase": "Terminating"});
                }
                if opts.dry_run {
                    return Ok(new);
                }
                let r = self
                    .store
                    .txn(TxnRequest { compare: vec![Compare::mod_revision(key.clone(), rev)], success: vec![Op::put(key.clone(), encode(s, &new)?)], failure: vec![] })
                    .await?;
                if r.succeeded {
                    set_resource_version(&mut new, r.revision);
                    return Ok(new);
                }
                continue;
            }
            if opts.dry_run {
                return Ok(old);
            }
            let r = self.store.txn(TxnRequest { compare: vec![Compare::mod_revision(key.clone(), rev)], success: vec![Op::delete(key.clone())], failure: vec![] }).await?;
            if r.succeeded {
                let mut gone = old;
                set_resource_version(&mut gone, r.revision);
                return Ok(gone);
            }
        }
    }

    /// Deletes every object a list selects (DELETE on a collection).
    pub async fn delete_collection(&self, s: &Served, ns: Option<&str>, list: &ListOptions, opts: &DeleteOptions) -> Result<Vec<Value>> {
        let mut all = ListOptions { limit: 0, continue_token: None, ..list.clone() };
        all.at = ReadAt::Latest;
        let items = self.list(s, ns, &all).await?.items;
        let mut out = Vec::new();
        for it in items {
            let v = it.value()?;
            let (n, name) = (meta::namespace(&v).to_string(), meta::name(&v).to_string());
            let nsr = if s.info.namespaced { Some(n.as_str()) } else { None };
            match self.delete(s, nsr, &name, opts).await {
                Ok(v) => out.push(v),
                Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Names of every namespaced resource, for namespace cleanup.
    pub fn namespaced_resources(&self) -> Vec<Arc<Served>> {
        let mut seen = HashMap::new();
        for s in self.served() {
            if s.info.namespaced {
                seen.entry(s.info.key_prefix()).or_insert(s);
            }
        }
        seen.into_values().collect()
    }

    /// The underlying store (for subsystems that keep their own keys, e.g. leases).
    pub fn store(&self) -> &Arc<dyn KvStore> {
        &self.store
    }
}

/// Whether an object marked for deletion has nothing left holding it: no finalizers (nor
/// namespace spec finalizers) and no grace period still running.
fn ready_to_delete(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some()
        && finalizers(obj).is_empty()
        && obj.pointer("/spec/finalizers").and_then(Value::as_array).is_none_or(|a| a.is_empty() || obj.get("kind").and_then(Value::as_str) != Some("Namespace"))
        && obj.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(0) == 0
}

/// The grace period a pod deletion gets: none when the pod never ran on a node or has finished.
fn pod_grace(pod: &Value, requested: Option<i64>) -> i64 {
    let default = pod.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(30);
    let bound = pod.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
    let finished = matches!(pod.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"));
    if bound && !finished {
        requested.unwrap_or(default).max(0)
    } else {
        0
    }
}

fn truncate(s: &str) -> String {
    if s.len() > 200 {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.to_string()
    }
}

/// The DefaultTolerationSeconds admission plugin: pods tolerate `not-ready` and `unreachable`
/// NoExecute taints for 300 s unless they say otherwise.
fn default_toleration_seconds(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    let Some(list) = tolerations.as_array_mut() else { return };
    for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        let covered = list.iter().any(|t| {
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or_default();
            let tkey = t.get("key").and_then(Value::as_str).unwrap_or_default();
            (effect.is_empty() || effect == "NoExecute") && (tkey == key || (tkey.is_empty() && t.get("operator").and_then(Value::as_str) == Some("Exists")))
        });
        if !covered {
            list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
}
