//! Server-side apply and `metadata.managedFields`, as pure functions over `serde_json::Value`:
//! what `k8s.io/apimachinery/pkg/util/managedfields` and `sigs.k8s.io/structured-merge-diff`
//! do inside the Kubernetes API server.
//!
//! - [`server_side_apply`] merges an applied configuration (the body of a PATCH with content
//!   type `application/apply-patch+yaml`) into the live object for a field manager: associative
//!   lists merge item by item, atomic lists and maps are replaced, fields the manager applied
//!   before and no longer applies are removed unless another manager owns them, and changing a
//!   field another manager owns is a [conflict](ApplyError::Conflicts) unless `force` is set, in
//!   which case the field changes hands.
//! - [`track_update`] does the ownership bookkeeping of every other write (create, update,
//!   JSON/merge/strategic patch), recorded with operation `Update`.
//!
//! Both maintain `metadata.managedFields` exactly as Kubernetes writes it: one entry per manager,
//! operation (`Apply` entries are keyed without their apiVersion, `Update` entries with it) and
//! subresource, each with its `FieldsV1` set (`f:<field>`, `k:{"name":"x"}` for items of
//! associative lists, `v:<value>` for members of sets, `.` for a node that is itself owned),
//! sorted Apply first, then by time, manager, apiVersion and subresource; entries left without
//! fields are dropped, `Update` entries beyond ten are folded into `ancient-changes`. Fields
//! nobody owns (`apiVersion`, `kind`, `metadata.name`, `namespace`, `uid`, `resourceVersion`,
//! `generation`, `creationTimestamp`, `managedFields`) are never recorded, nor `status` for
//! writes to the main resource of a kind with a status subresource (nor `spec` for writes to
//! its status subresource), as the reset fields of the Kubernetes strategies have it. A write
//! that changes nothing does not touch an entry's time.
//!
//! Which lists are associative (and on which keys), which are sets, and which structs and maps
//! are atomic comes from tables of the built-in kinds derived from the Kubernetes API markers
//! (`builtin`), or for custom resources from the CRD's `openAPIV3Schema`
//! (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`,
//! `x-kubernetes-preserve-unknown-fields`) given in [`ListSchema`]; without one every list of a
//! custom resource is atomic.
//!
//! This module owns the algorithms and the tables; it knows nothing of HTTP or storage. The API
//! server maps an [`ApplyError`] to a `Status` with [`ApplyError::status`].

mod builtin;
mod fieldpath;
mod typed;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use serde_json::{json, Map, Value};

use fieldpath::{go_quote, path_string, values_equal, PathElement, Set};
use typed::{Comparison, Ty};

/// One conflict: another manager owns `field` (a path like `.spec.replicas` or
/// `.spec.containers[name="nginx"].image`) and the apply would change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's name, e.g. `kubectl-client-side-apply`.
    pub manager: String,
    /// The path of the field, as Kubernetes prints it.
    pub field: String,
    /// The operation of the other manager's entry: `Apply` or `Update`.
    pub operation: String,
    /// The apiVersion of the other manager's entry.
    pub api_version: String,
    /// The subresource of the other manager's entry, if any.
    pub subresource: Option<String>,
}

impl Conflict {
    /// The message of the `FieldManagerConflict` status cause, as Kubernetes writes it:
    /// `conflict with "kubectl-client-side-apply" using apps/v1` for an `Update` manager,
    /// `conflict with "other-applier"` for an `Apply` one (plus `with subresource "status"`).
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.describe_manager())
    }

    /// The manager as Kubernetes names it in conflict messages.
    fn describe_manager(&self) -> String {
        let mut out = go_quote(&self.manager);
        if let Some(sub) = &self.subresource {
            out.push_str(&format!(" with subresource {}", go_quote(sub)));
        }
        if self.operation == "Update" {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }
}

/// Why a server-side apply was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// Fields owned by other managers would change; message formatted as Kubernetes does:
    /// `Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas`
    /// (with several, `Apply failed with 2 conflicts: conflicts with "m" using apps/v1:` and one
    /// `- <field>` line per field, managers in order, lines joined by `\n`).
    #[error("{message}")]
    Conflicts {
        /// The whole message.
        message: String,
        /// Every conflicting field, grouped by manager.
        conflicts: Vec<Conflict>,
    },
    /// The applied configuration is malformed (e.g. not an object, missing apiVersion/kind/name,
    /// duplicate keys in an associative list), or the live object's managedFields cannot be read.
    #[error("{0}")]
    Invalid(String),
}

impl ApplyError {
    /// The HTTP status to answer with: 409 for conflicts, 400 for an invalid configuration.
    ///
    /// (Kubernetes answers 400 for the checks of apiVersion, kind and `managedFields`, and 500
    /// for configurations its typed conversion rejects, such as duplicate list keys; 400 is the
    /// honest answer for both.)
    pub fn status_code(&self) -> u16 {
        match self {
            ApplyError::Conflicts { .. } => 409,
            ApplyError::Invalid(_) => 400,
        }
    }

    /// The `metav1.Status` body for this error. Conflicts give code 409, reason `Conflict`, and
    /// one `details.causes[]` entry per field: `{"reason": "FieldManagerConflict", "message":
    /// "conflict with \"<manager>\" using <apiVersion>", "field": ".spec.replicas"}`; an invalid
    /// configuration gives 400 `BadRequest`.
    pub fn status(&self) -> Value {
        match self {
            ApplyError::Conflicts { message, conflicts } => {
                let causes: Vec<Value> = conflicts
                    .iter()
                    .map(|c| json!({"reason": "FieldManagerConflict", "message": c.cause_message(), "field": c.field}))
                    .collect();
                crate::errors::status_failure(409, "Conflict", message, Some(json!({ "causes": causes })))
            }
            ApplyError::Invalid(message) => crate::errors::status_failure(400, "BadRequest", message, None),
        }
    }
}

/// What [`server_side_apply`] and [`track_update`] need to know about the kind: the group and
/// kind pick the built-in tables; a custom resource brings its schema.
#[derive(Debug, Clone, Copy)]
pub struct ListSchema<'a> {
    /// The API group ("" for core).
    pub group: &'a str,
    /// The kind, e.g. `Deployment`.
    pub kind: &'a str,
    /// For a custom resource, the `schema.openAPIV3Schema` of the served version of its CRD.
    /// Without it (and for kinds the built-in tables do not know) lists are atomic and objects
    /// schemaless maps. Given for a built-in kind, it replaces the built-in tables.
    pub crd_schema: Option<&'a Value>,
    /// Whether the resource has a `status` subresource: writes to the main resource then never
    /// own `status`, and writes to the status subresource never own `spec`.
    pub status_subresource: bool,
}

impl<'a> ListSchema<'a> {
    /// The schema of `group`/`kind`, without a status subresource or CRD schema.
    pub fn new(group: &'a str, kind: &'a str) -> Self {
        ListSchema { group, kind, crd_schema: None, status_subresource: false }
    }

    /// The same, with or without a status subresource.
    pub fn with_status_subresource(self, status_subresource: bool) -> Self {
        ListSchema { status_subresource, ..self }
    }

    /// The same, for a custom resource whose CRD version has this `openAPIV3Schema`.
    pub fn with_crd_schema(self, schema: &'a Value) -> Self {
        ListSchema { crd_schema: Some(schema), ..self }
    }

    /// Whether the built-in tables know this kind (otherwise it is treated as a custom resource).
    pub fn is_builtin(&self) -> bool {
        builtin::for_kind(self.group, self.kind).is_some()
    }
}

/// The field manager of a write that names none, as Kubernetes derives it from the
/// `User-Agent` header: the part before the first `/`, without unprintable characters, at
/// most 128 bytes (`kubectl/v1.31.0 (linux/amd64)` gives `kubectl`).
pub fn field_manager_from_user_agent(user_agent: &str) -> String {
    let prefix = user_agent.split('/').next().unwrap_or_default();
    let mut out = String::new();
    for c in prefix.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > 128 {
            break;
        }
        out.push(c);
    }
    out
}

/// Server-side apply by `manager`; `live` is None when the object does not exist yet.
/// `api_version` is the request's group/version.
/// Returns the new object including updated `metadata.managedFields` (times = `now`, RFC 3339).
///
/// The result is the live object with the configuration merged in and the fields this manager
/// stopped applying removed (unless another manager owns them); it still has to go through
/// the ordinary update path (defaulting, `status` reset, validation, admission, and the
/// resourceVersion precondition when the configuration carries one). When the apply changes
/// nothing, the result equals `live` (managedFields included, no time bumped), so the caller
/// can skip the write. `subresource` is the subresource the request addressed (`status`),
/// recorded in the manager's entry. A `metadata.managedFields` in `live` that cannot be read
/// is an error, as in Kubernetes.
///
/// As in Kubernetes: the fields of an existing object that has no managedFields at all are
/// first attributed to an `Update` manager `before-first-apply`; and the manager `kubectl`
/// (`kubectl apply --server-side`) takes over without conflict the fields its client-side
/// `kubectl.kubernetes.io/last-applied-configuration` annotation still matches, and keeps that
/// annotation, when the object has one, equal to the configuration it applies.
///
/// Errors: [`ApplyError::Invalid`] when `applied` is not an object, has another apiVersion or
/// kind than the request, has no `metadata.name`, sets `metadata.managedFields`, or has items
/// without (or with duplicate) keys in an associative list; [`ApplyError::Conflicts`] when,
/// without `force`, it would change fields other managers own.
#[allow(clippy::too_many_arguments)]
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    api_version: &str,
    schema: &ListSchema,
    now: &str,
    subresource: Option<&str>,
) -> Result<Value, ApplyError> {
    validate_applied(applied, api_version, schema)?;
    let ctx = Ctx::new(schema, subresource);
    let request = ApplyRequest { live, applied, manager, api_version, ctx: &ctx, now, subresource };
    let mut out = match apply_once(&request, force) {
        Err(ApplyFailure::Conflicts(conflicts)) if manager == KUBECTL => {
            // `kubectl apply --server-side` over an object kubectl managed client-side: the
            // fields its last-applied annotation still matches are not conflicts
            // (`lastAppliedManager`).
            let allowed = live.and_then(|live| allowed_by_last_applied(live, api_version, &ctx)).unwrap_or_default();
            let remaining: Vec<(Identity, String, Set)> = conflicts
                .into_iter()
                .map(|(id, version, set)| (id, version, set.difference(&allowed)))
                .filter(|(_, _, set)| !set.is_empty())
                .collect();
            if remaining.is_empty() {
                apply_once(&request, true).map_err(ApplyFailure::into_error)?
            } else {
                return Err(conflicts_error(remaining));
            }
        }
        result => result.map_err(ApplyFailure::into_error)?,
    };
    if manager == KUBECTL {
        sync_last_applied(&mut out, applied);
    }
    Ok(out)
}

/// The field manager kubectl uses for `apply --server-side`, which Kubernetes treats specially
/// to keep client-side apply working (the `last-applied-configuration` annotation).
const KUBECTL: &str = "kubectl";

/// The annotation of kubectl's client-side apply.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The inputs of one server-side apply.
struct ApplyRequest<'r, 's> {
    live: Option<&'r Value>,
    applied: &'r Value,
    manager: &'r str,
    api_version: &'r str,
    ctx: &'r Ctx<'s>,
    now: &'r str,
    subresource: Option<&'r str>,
}

/// Why one attempt at an apply failed.
enum ApplyFailure {
    Conflicts(Vec<(Identity, String, Set)>),
    Invalid(ApplyError),
}

impl ApplyFailure {
    fn into_error(self) -> ApplyError {
        match self {
            ApplyFailure::Conflicts(conflicts) => conflicts_error(conflicts),
            ApplyFailure::Invalid(e) => e,
        }
    }
}

fn invalid(message: String) -> ApplyFailure {
    ApplyFailure::Invalid(ApplyError::Invalid(message))
}

/// `Updater.Apply` and the managedFields layers around it, for one value of `force`.
fn apply_once(r: &ApplyRequest<'_, '_>, force: bool) -> Result<Value, ApplyFailure> {
    let ctx = r.ctx;
    let id = Identity::new(r.manager, true, r.api_version, r.subresource);
    let mut managed = match r.live.and_then(managed_fields_of) {
        Some(encoded) => {
            decode_managed(encoded).map_err(|e| invalid(format!("failed to decode managed fields: {e}")))?
        }
        None => Managed::default(),
    };
    let live_obj = r.live.map(without_managed_fields).unwrap_or_else(|| Value::Object(Map::new()));
    if managed.fields.is_empty() && r.live.is_some() {
        // Fields of an object nobody manages yet belong to `before-first-apply`, so applying
        // other values to them is a conflict (`skipNonAppliedManager`).
        let before = Identity::new("before-first-apply", false, r.api_version, r.subresource);
        record_update(&mut managed, &ctx.zero(), &live_obj, &before, ctx, r.now)
            .map_err(|e| invalid(format!("failed to create manager for existing fields: {e}")))?;
    }

    // The configuration on its own: keys, duplicates, and the fields it sets.
    let typed_error = |e: String| ApplyFailure::Invalid(typed_patch_error(r.applied, ctx.kind, &e));
    typed::merge(None, Some(r.applied), ctx.ty).map_err(typed_error)?;
    let config_set = typed::to_field_set(r.applied, ctx.ty).map_err(typed_error)?;

    let merged = typed::merge(Some(&live_obj), Some(r.applied), ctx.ty)
        .map_err(|e| invalid(format!("failed to merge config: {e}")))?
        .unwrap_or_else(|| Value::Object(Map::new()));
    let last = managed.fields.get(&id).map(|e| e.set.clone());
    let new_set = config_set.recursive_difference(&ctx.ignored);
    managed.fields.insert(id.clone(), Entry { set: new_set, api_version: r.api_version.to_string() });
    let merged =
        prune(merged, &managed, last.as_ref(), ctx.ty).map_err(|e| invalid(format!("failed to prune fields: {e}")))?;

    update_ownership(&live_obj, &merged, &mut managed, Some(&id), force, ctx).map_err(|e| match e {
        OwnershipError::Conflicts(conflicts) => ApplyFailure::Conflicts(conflicts),
        OwnershipError::Invalid(e) => invalid(format!("failed to compare objects: {e}")),
    })?;
    strip_meta(&mut managed, &id);

    let mut out = if values_equal(&live_obj, &merged) {
        live_obj
    } else {
        managed.times.insert(id, r.now.to_string());
        merged
    };
    set_managed_fields(&mut out, encode_managed(&managed), managed_fields_position(r.live));
    Ok(out)
}

fn last_applied_of(obj: &Value) -> Option<&str> {
    obj.get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The fields kubectl's last-applied annotation on `live` sets to the values `live` still
/// has: those kubectl owns in all but name, so taking them over is not a conflict.
fn allowed_by_last_applied(live: &Value, api_version: &str, ctx: &Ctx<'_>) -> Option<Set> {
    let last_applied: Value = serde_json::from_str(last_applied_of(live)?).ok()?;
    if last_applied.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    let live = ctx.with_zero_fields(&without_managed_fields(live));
    let set = typed::to_field_set(&last_applied, ctx.ty).ok()?;
    let cmp = typed::compare(Some(&last_applied), Some(&live), ctx.ty).ok()?;
    Some(set.difference(&cmp.modified).difference(&cmp.added).difference(&cmp.removed))
}

/// Keeps kubectl's last-applied annotation, where the object has one, equal to what kubectl
/// applied server-side (`lastAppliedUpdater`), so that a later client-side apply computes the
/// right patch.
fn sync_last_applied(obj: &mut Value, applied: &Value) {
    if last_applied_of(obj).is_none() {
        return;
    }
    let mut config = applied.clone();
    if let Some(Value::Object(annotations)) = config.get_mut("metadata").and_then(|m| m.get_mut("annotations")) {
        annotations.shift_remove(LAST_APPLIED);
    }
    let mut encoded = fieldpath::go_json_text(&config);
    encoded.push('\n');
    if let Some(Value::Object(annotations)) = obj.get_mut("metadata").and_then(|m| m.get_mut("annotations")) {
        annotations.insert(LAST_APPLIED.to_string(), Value::String(encoded));
    }
}

/// Ownership bookkeeping for an ordinary write by `manager` (operation Update): sets
/// `metadata.managedFields` on `new`.
///
/// `old` is the object before the write (None for a create); `new` the object about to be
/// stored (after defaulting). The manager comes to own every field the write added or changed
/// (on top of what its entry for this apiVersion and subresource already owned); every other
/// manager loses the fields the write changed or removed. The entry's time becomes `now` only
/// if the write changed something it tracks. `subresource` is the subresource the request
/// addressed (`status`, `scale`), recorded in the entry.
///
/// As in Kubernetes, managedFields the client sent in `new` are honoured (that is how clients
/// edit or, with `[]` or `[{}]`, reset them); when it sent none, or for a subresource, those of
/// `old` are used. An existing object (with a `metadata.uid`) that ends up with no managers is
/// not tracked until it is next applied. If the objects cannot be tracked (an associative list
/// item without its keys), `new` gets `old`'s managedFields unchanged.
pub fn track_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    schema: &ListSchema,
    now: &str,
    subresource: Option<&str>,
) {
    let position = managed_fields_position(Some(new)).or_else(|| managed_fields_position(old));
    let entries = match track(old, new, manager, api_version, schema, now, subresource) {
        Ok(entries) => entries,
        Err(_) => old.and_then(managed_fields_of).and_then(Value::as_array).cloned().unwrap_or_default(),
    };
    set_managed_fields(new, entries, position);
}

fn track(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    api_version: &str,
    schema: &ListSchema,
    now: &str,
    subresource: Option<&str>,
) -> Result<Vec<Value>, String> {
    let ctx = Ctx::new(schema, subresource);
    let id = Identity::new(manager, false, api_version, subresource);
    let mut managed = decode_live_or_new(old, new, subresource.is_some());
    let old_uid = old.and_then(|o| o.get("metadata")).and_then(|m| m.get("uid")).and_then(Value::as_str);
    if managed.fields.is_empty() && old_uid.is_some_and(|uid| !uid.is_empty()) {
        // An existing object nobody manages stays untracked until it is first applied
        // (`skipNonAppliedManager`).
        return Ok(Vec::new());
    }
    let old_obj = match old {
        Some(old) => without_managed_fields(old),
        None => ctx.zero(),
    };
    record_update(&mut managed, &old_obj, &without_managed_fields(new), &id, &ctx, now)?;
    Ok(encode_managed(&managed))
}

/// Records a write from `old` to `new` by the `Update` manager `id` (the managedFields layers
/// around `Updater.Update`): other managers lose what changed, `id` gains it.
fn record_update(
    managed: &mut Managed,
    old: &Value,
    new: &Value,
    id: &Identity,
    ctx: &Ctx<'_>,
    now: &str,
) -> Result<(), String> {
    let cmp = update_ownership(old, new, managed, None, true, ctx).map_err(|e| match e {
        OwnershipError::Invalid(e) => e,
        OwnershipError::Conflicts(_) => "unexpected conflicts".to_string(),
    })?;
    let current = cmp.modified.union(&cmp.added).recursive_difference(&ctx.ignored).difference(&strip_set());
    if !current.is_empty() {
        let set = match managed.fields.get(id) {
            Some(previous) => current.union(&previous.set),
            None => current,
        };
        managed.fields.insert(id.clone(), Entry { set, api_version: id.api_version.clone() });
        managed.times.insert(id.clone(), now.to_string());
    }
    cap_update_managers(managed);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Managers and their entries
// ---------------------------------------------------------------------------------------------

/// How Kubernetes tells managedFields entries apart (`BuildManagerIdentifier`): manager,
/// operation, subresource, and for `Update` entries the apiVersion.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Identity {
    manager: String,
    applied: bool,
    /// Empty for `Apply` entries.
    api_version: String,
    subresource: String,
}

impl Identity {
    fn new(manager: &str, applied: bool, api_version: &str, subresource: Option<&str>) -> Identity {
        Identity {
            manager: if manager.is_empty() { "unknown".to_string() } else { manager.to_string() },
            applied,
            api_version: if applied { String::new() } else { api_version.to_string() },
            subresource: subresource.unwrap_or_default().to_string(),
        }
    }

    fn operation(&self) -> &'static str {
        if self.applied {
            "Apply"
        } else {
            "Update"
        }
    }

    /// The identifier as Kubernetes spells it (a JSON object), which orders managers in
    /// conflict messages and when capping update managers.
    fn key(&self) -> String {
        let mut m = Map::new();
        if !self.manager.is_empty() {
            m.insert("manager".into(), Value::String(self.manager.clone()));
        }
        m.insert("operation".into(), Value::String(self.operation().into()));
        if !self.api_version.is_empty() {
            m.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        }
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), Value::String(self.subresource.clone()));
        }
        Value::Object(m).to_string()
    }
}

/// The fields of one entry and the apiVersion they were recorded at.
#[derive(Debug, Clone)]
struct Entry {
    set: Set,
    api_version: String,
}

/// Decoded managedFields: the sets, and the times (entries without a time have none).
#[derive(Debug, Default)]
struct Managed {
    fields: BTreeMap<Identity, Entry>,
    times: BTreeMap<Identity, String>,
}

fn managed_fields_of(obj: &Value) -> Option<&Value> {
    obj.get("metadata").and_then(|m| m.get("managedFields")).filter(|v| !v.is_null())
}

fn decode_managed(encoded: &Value) -> Result<Managed, String> {
    let mut managed = Managed::default();
    let Value::Array(entries) = encoded else { return Err("managedFields must be a list".to_string()) };
    for (i, entry) in entries.iter().enumerate() {
        let Value::Object(entry) = entry else { return Err(format!("managed fields entry {i} is not an object")) };
        let text = |name: &str| entry.get(name).and_then(Value::as_str).unwrap_or_default();
        let applied = match text("operation") {
            "Apply" => true,
            "Update" => false,
            _ => return Err("operation must be `Apply` or `Update`".to_string()),
        };
        let api_version = text("apiVersion");
        if api_version.is_empty() {
            return Err("apiVersion must not be empty".to_string());
        }
        match text("fieldsType") {
            "FieldsV1" => {}
            "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
            other => return Err(format!("invalid fieldsType {other:?} in managed fields entry {i}")),
        }
        let set = match entry.get("fieldsV1") {
            Some(Value::Null) | None => Set::new(),
            Some(fields) => Set::from_fields_v1(fields).map_err(|e| format!("error decoding set: {e}"))?,
        };
        let subresource = text("subresource");
        let id = Identity {
            manager: text("manager").to_string(),
            applied,
            api_version: if applied { String::new() } else { api_version.to_string() },
            subresource: subresource.to_string(),
        };
        match entry.get("time").and_then(Value::as_str) {
            Some(time) => managed.times.insert(id.clone(), time.to_string()),
            None => managed.times.remove(&id),
        };
        managed.fields.insert(id, Entry { set, api_version: api_version.to_string() });
    }
    Ok(managed)
}

/// The managedFields to work from for an update: the client's, unless it sent none (or this
/// is a subresource write), in which case the live object's; `[]` and `[{}]` reset them.
fn decode_live_or_new(old: Option<&Value>, new: &Value, is_subresource: bool) -> Managed {
    let live = || old.and_then(managed_fields_of).and_then(|mf| decode_managed(mf).ok()).unwrap_or_default();
    if is_subresource {
        return live();
    }
    let sent = managed_fields_of(new);
    let reset = match sent {
        Some(Value::Array(entries)) => match entries.as_slice() {
            [] => true,
            [Value::Object(only)] => only.values().all(|v| v.is_null() || v.as_str() == Some("")),
            _ => false,
        },
        _ => false,
    };
    if reset {
        return Managed::default();
    }
    match sent.map(decode_managed) {
        Some(Ok(managed)) if !managed.fields.is_empty() => managed,
        _ => live(),
    }
}

fn unix_seconds(time: &str) -> i64 {
    match crate::meta::parse_time(time) {
        Some(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        },
        None => 0,
    }
}

/// The entries as Kubernetes writes them: Apply before Update, then by time (seconds),
/// manager, apiVersion and subresource.
fn encode_managed(managed: &Managed) -> Vec<Value> {
    let mut entries: Vec<(&Identity, &Entry, Option<&String>)> =
        managed.fields.iter().map(|(id, entry)| (id, entry, managed.times.get(id))).collect();
    entries.sort_by(|a, b| {
        a.0.operation()
            .cmp(b.0.operation())
            .then_with(|| a.2.map_or(0, |t| unix_seconds(t)).cmp(&b.2.map_or(0, |t| unix_seconds(t))))
            .then_with(|| a.0.manager.cmp(&b.0.manager))
            .then_with(|| a.1.api_version.cmp(&b.1.api_version))
            .then_with(|| a.0.subresource.cmp(&b.0.subresource))
    });
    entries
        .into_iter()
        .map(|(id, entry, time)| {
            let mut m = Map::new();
            if !id.manager.is_empty() {
                m.insert("manager".into(), Value::String(id.manager.clone()));
            }
            m.insert("operation".into(), Value::String(id.operation().into()));
            m.insert("apiVersion".into(), Value::String(entry.api_version.clone()));
            if let Some(time) = time {
                m.insert("time".into(), Value::String(time.clone()));
            }
            m.insert("fieldsType".into(), Value::String("FieldsV1".into()));
            m.insert("fieldsV1".into(), entry.set.to_fields_v1());
            if !id.subresource.is_empty() {
                m.insert("subresource".into(), Value::String(id.subresource.clone()));
            }
            Value::Object(m)
        })
        .collect()
}

/// Where `metadata.managedFields` sits among the metadata fields of `obj`, if it has them.
fn managed_fields_position(obj: Option<&Value>) -> Option<usize> {
    obj?.get("metadata")?.as_object()?.keys().position(|k| k == "managedFields")
}

/// Sets (or, for no entries, removes) `metadata.managedFields`: in place if the object has
/// them, else at `position` (where the object it came from had them), else last.
fn set_managed_fields(obj: &mut Value, entries: Vec<Value>, position: Option<usize>) {
    let Value::Object(root) = obj else { return };
    if entries.is_empty() {
        if let Some(Value::Object(meta)) = root.get_mut("metadata") {
            meta.shift_remove("managedFields");
        }
        return;
    }
    let meta = root.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    if let Value::Object(meta) = meta {
        match position {
            Some(at) if !meta.contains_key("managedFields") => {
                meta.shift_insert(at.min(meta.len()), "managedFields".into(), Value::Array(entries));
            }
            _ => {
                meta.insert("managedFields".into(), Value::Array(entries));
            }
        }
    }
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(Value::Object(meta)) = out.get_mut("metadata") {
        meta.shift_remove("managedFields");
    }
    out
}

/// Fields no manager ever owns (`stripMetaManager`).
fn strip_set() -> Set {
    let mut set = Set::new();
    let field = |name: &str| PathElement::Field(name.to_string());
    set.insert(&[field("apiVersion")]);
    set.insert(&[field("kind")]);
    set.insert(&[field("metadata")]);
    for name in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        set.insert(&[field("metadata"), field(name)]);
    }
    set
}

fn strip_meta(managed: &mut Managed, id: &Identity) {
    if let Some(entry) = managed.fields.get_mut(id) {
        entry.set = entry.set.difference(&strip_set());
        if entry.set.is_empty() {
            managed.fields.remove(id);
        }
    }
}

/// Folds the oldest `Update` entries into `ancient-changes` (one per apiVersion) while there
/// are more than ten (`capManagersManager`).
fn cap_update_managers(managed: &mut Managed) {
    const MAX_UPDATE_MANAGERS: usize = 10;
    let mut updaters: Vec<Identity> = managed.fields.keys().filter(|id| !id.applied).cloned().collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    let seconds = |id: &Identity| managed.times.get(id).map_or(0, |t| unix_seconds(t));
    updaters.sort_by(|a, b| seconds(a).cmp(&seconds(b)).then_with(|| a.key().cmp(&b.key())));
    let mut first_of_version: BTreeMap<String, Identity> = BTreeMap::new();
    let mut length = updaters.len();
    for id in updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let Some(entry) = managed.fields.get(&id).cloned() else { continue };
        let time = managed.times.get(&id).cloned();
        let bucket = Identity::new("ancient-changes", false, &entry.api_version, None);
        match first_of_version.get(&entry.api_version) {
            Some(first) => {
                if !managed.fields.contains_key(&bucket) {
                    if let Some(first_entry) = managed.fields.remove(first) {
                        managed.fields.insert(bucket.clone(), first_entry);
                    }
                }
                let union = match managed.fields.get(&bucket) {
                    Some(b) => entry.set.union(&b.set),
                    None => entry.set.clone(),
                };
                managed.fields.insert(bucket.clone(), Entry { set: union, api_version: entry.api_version.clone() });
                managed.fields.remove(&id);
                length -= 1;
                match time {
                    Some(time) => managed.times.insert(bucket, time),
                    None => managed.times.remove(&bucket),
                };
            }
            None => {
                first_of_version.insert(entry.api_version.clone(), id);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The algorithms of `merge.Updater`
// ---------------------------------------------------------------------------------------------

/// The schema and the fields nobody owns for one write.
struct Ctx<'s> {
    ty: Ty<'s>,
    /// The kind, for messages.
    kind: &'s str,
    /// Reset fields: excluded (with everything below them) from ownership.
    ignored: Set,
    /// The zero value of the kind, the "old object" of a create.
    zero: Option<&'static str>,
}

impl<'s> Ctx<'s> {
    fn new(schema: &ListSchema<'s>, subresource: Option<&str>) -> Ctx<'s> {
        let table = builtin::for_kind(schema.group, schema.kind);
        let ty = Ty::root(table.map(|(t, _)| t), schema.crd_schema);
        let mut ignored = Set::new();
        match subresource {
            None if schema.status_subresource => ignored.insert(&[PathElement::Field("status".into())]),
            Some("status") => ignored.insert(&[PathElement::Field("spec".into())]),
            _ => {}
        }
        let zero = if schema.crd_schema.is_none() { table.map(|(_, z)| z) } else { None };
        Ctx { ty, kind: schema.kind, ignored, zero }
    }

    fn zero(&self) -> Value {
        self.zero.and_then(|z| serde_json::from_str(z).ok()).unwrap_or_else(|| Value::Object(Map::new()))
    }

    /// `obj` with the fields Go always encodes for this kind (`status: {}`, `spec.template`, …)
    /// filled in where it lacks them, so that comparing two versions sees what Kubernetes sees
    /// when it compares Go objects: such a field is never "added" by a write.
    fn with_zero_fields(&self, obj: &Value) -> Value {
        fn fill(obj: &mut Value, zero: &Value) {
            let (Value::Object(obj), Value::Object(zero)) = (obj, zero) else { return };
            for (name, z) in zero {
                match obj.get_mut(name) {
                    Some(v) => fill(v, z),
                    None => {
                        obj.insert(name.clone(), z.clone());
                    }
                }
            }
        }
        let mut out = obj.clone();
        if self.zero.is_some() {
            fill(&mut out, &self.zero());
        }
        out
    }
}

enum OwnershipError {
    /// Per other manager: its identity, the apiVersion of its entry and the fields in question.
    Conflicts(Vec<(Identity, String, Set)>),
    Invalid(String),
}

/// `Updater.update`: compares `old` with `new`; every manager but `workflow` loses the fields
/// that were removed, and the fields that changed or were added (which, without `force`, are
/// conflicts instead). Managers left without fields are dropped.
fn update_ownership(
    old: &Value,
    new: &Value,
    managed: &mut Managed,
    workflow: Option<&Identity>,
    force: bool,
    ctx: &Ctx<'_>,
) -> Result<Comparison, OwnershipError> {
    let (old, new) = (ctx.with_zero_fields(old), ctx.with_zero_fields(new));
    let cmp = typed::compare(Some(&old), Some(&new), ctx.ty).map_err(OwnershipError::Invalid)?.excluding(&ctx.ignored);
    let changed = cmp.modified.union(&cmp.added);
    let mut conflicts = Vec::new();
    for (id, entry) in &managed.fields {
        if Some(id) == workflow {
            continue;
        }
        let owned = entry.set.intersection(&changed);
        if !owned.is_empty() {
            conflicts.push((id.clone(), entry.api_version.clone(), owned));
        }
    }
    if !force && !conflicts.is_empty() {
        return Err(OwnershipError::Conflicts(conflicts));
    }
    for (id, _, owned) in &conflicts {
        if let Some(entry) = managed.fields.get_mut(id) {
            entry.set = entry.set.difference(owned);
        }
    }
    if !cmp.removed.is_empty() {
        for (id, entry) in managed.fields.iter_mut() {
            if Some(id) != workflow {
                entry.set = entry.set.difference(&cmp.removed);
            }
        }
    }
    managed.fields.retain(|_, entry| !entry.set.is_empty());
    Ok(cmp)
}

/// `Updater.prune`: removes from `merged` what the applier applied last time and no longer
/// applies, unless another manager (or the new configuration) owns it.
fn prune(merged: Value, managed: &Managed, last: Option<&Set>, ty: Ty<'_>) -> Result<Value, String> {
    let Some(last) = last.filter(|s| !s.is_empty()) else { return Ok(merged) };
    let named = |set: &Set| typed::ensure_named_fields(set, ty);
    let field_set = |v: Option<&Value>| -> Result<Set, String> {
        match v {
            Some(v) => Ok(named(&typed::to_field_set(v, ty)?)),
            None => Ok(Set::new()),
        }
    };
    let last = named(last);
    let pruned = typed::remove_items(&merged, &last, ty);

    // Add back what anyone owns.
    let owned = managed.fields.values().fold(Set::new(), |acc, e| acc.union(&e.set));
    let merged_set = field_set(Some(&merged))?;
    let pruned_set = field_set(pruned.as_ref())?;
    let keep = pruned_set.union(&named(&owned));
    let pruned = typed::remove_items(&merged, &merged_set.difference(&keep), ty);

    // Remove only what the applier owned before.
    let pruned_set = field_set(pruned.as_ref())?;
    let remove = merged_set.difference(&pruned_set).intersection(&last);
    Ok(typed::remove_items(&merged, &remove, ty).unwrap_or_else(|| Value::Object(Map::new())))
}

fn conflicts_error(conflicts: Vec<(Identity, String, Set)>) -> ApplyError {
    let mut conflicts = conflicts;
    conflicts.sort_by_key(|(id, _, _)| id.key());
    let mut list = Vec::new();
    let mut lines = Vec::new();
    for (id, api_version, set) in &conflicts {
        let mut first = true;
        for path in set.paths() {
            let c = Conflict {
                manager: id.manager.clone(),
                field: path_string(&path),
                operation: id.operation().to_string(),
                api_version: api_version.clone(),
                subresource: (!id.subresource.is_empty()).then(|| id.subresource.clone()),
            };
            if first {
                lines.push(format!("conflicts with {}:", c.describe_manager()));
                first = false;
            }
            lines.push(format!("- {}", c.field));
            list.push(c);
        }
    }
    let message = match list.as_slice() {
        [only] => format!("Apply failed with 1 conflict: {}: {}", only.cause_message(), only.field),
        _ => format!("Apply failed with {} conflicts: {}", list.len(), lines.join("\n")),
    };
    ApplyError::Conflicts { message, conflicts: list }
}

// ---------------------------------------------------------------------------------------------
// The applied configuration
// ---------------------------------------------------------------------------------------------

fn validate_applied(applied: &Value, api_version: &str, schema: &ListSchema) -> Result<(), ApplyError> {
    let Value::Object(obj) = applied else {
        return Err(ApplyError::Invalid("error decoding patch: the apply configuration must be an object".into()));
    };
    let got_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let got_kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    if got_version != api_version || got_kind != schema.kind {
        let (group, version) = got_version.split_once('/').unwrap_or(("", got_version));
        return Err(ApplyError::Invalid(format!("invalid object type: {group}/{version}, Kind={got_kind}")));
    }
    let meta = obj.get("metadata");
    if meta.and_then(|m| m.get("managedFields")).is_some_and(|mf| !mf.is_null()) {
        return Err(ApplyError::Invalid("metadata.managedFields must be nil".into()));
    }
    if meta.and_then(|m| m.get("name")).and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(ApplyError::Invalid(
            "metadata.name: Required value: name is required in an apply configuration".into(),
        ));
    }
    Ok(())
}

/// An error about the configuration's structure, worded as Kubernetes words it.
fn typed_patch_error(applied: &Value, kind: &str, error: &str) -> ApplyError {
    let meta = applied.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("<unknown>");
    let namespace = meta.and_then(|m| m.get("namespace")).and_then(Value::as_str).unwrap_or_default();
    let api_version = applied.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApplyError::Invalid(format!(
        "failed to create typed patch object ({namespace}/{name}; {group}/{version}, Kind={kind}): {error}"
    ))
}
