//! Per-kind strategies for the generic store, in Kubernetes' fixed hook order:
//! prepare-for-create / prepare-for-update (system fields, status rules, generation) →
//! defaults → validate (every field error, nothing changed) → canonicalize.
//! The status subresource is a second strategy that keeps everything but `status` from the
//! old object. Kind-specific pure logic lives in `wharf_api::{defaults, validation}`.
//!
//! A served version that shares another version's storage (`events.k8s.io/v1` Events are
//! stored as core Events) converts at the storage edge ([`Strategy::to_storage`],
//! [`Strategy::to_served`]) and selects fields on the stored form ([`Strategy::fields_match`]):
//! everything between those edges sees the served version.

use serde_json::{json, Map, Value};
use wharf_api::events;
use wharf_api::meta::{self, NameRule};
use wharf_api::selector::FieldSelector;
use wharf_api::{FieldError, ResourceInfo};

use crate::cache::CachedObject;

/// The strategy of one served resource.
#[derive(Debug, Clone)]
pub struct Strategy {
    group: String,
    version: String,
    kind: String,
    namespaced: bool,
    status_subresource: bool,
    custom: bool,
    name_rule: NameRule,
    /// For custom resources: the version's `openAPIV3Schema`.
    schema: Option<Value>,
    /// How this version's objects relate to the stored form.
    storage: StorageForm,
}

/// The stored form of a served version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StorageForm {
    /// Stored as served; field selectors read JSON paths.
    AsServed,
    /// A core/v1 Event, stored as served; field selectors read the Event's selectable fields.
    CoreEvent,
    /// An events.k8s.io/v1 Event, stored as a core/v1 Event.
    EventsV1Event,
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The main resource: everything but `status` (when there is a status subresource).
    Main,
    /// The `status` subresource: only `status`.
    Status,
    /// A server-side write (binding, eviction bookkeeping) that may change spec and status;
    /// system metadata is still kept from the old object.
    Internal,
}

/// Metadata fields only the server sets; kept from the old object on update.
const SYSTEM_META: &[&str] = &["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink"];

fn spec_part(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("metadata");
        o.remove("status");
    }
    v
}

impl Strategy {
    /// The strategy for a resource; `crd_version` is the CRD version object serving a custom resource.
    pub fn for_resource(info: &ResourceInfo, crd_version: Option<&Value>) -> Self {
        let custom = crd_version.is_some();
        Self {
            group: info.group.clone(),
            version: info.version.clone(),
            kind: info.kind.clone(),
            namespaced: info.namespaced,
            status_subresource: info.has_subresource("status"),
            custom,
            name_rule: if custom { NameRule::Subdomain } else { wharf_api::validation::name_rule(&info.group, &info.kind) },
            schema: crd_version.and_then(|v| v.pointer("/schema/openAPIV3Schema")).cloned(),
            storage: match (custom, info.group.as_str(), info.kind.as_str()) {
                (false, "", "Event") => StorageForm::CoreEvent,
                (false, events::EVENTS_GROUP, "Event") => StorageForm::EventsV1Event,
                _ => StorageForm::AsServed,
            },
        }
    }

    /// Whether objects are stored in another version's form.
    pub fn converts(&self) -> bool {
        self.storage == StorageForm::EventsV1Event
    }

    /// The stored form of an object of this version.
    pub fn to_storage(&self, obj: Value) -> Value {
        match self.storage {
            StorageForm::EventsV1Event => events::events_v1_to_core(obj),
            StorageForm::AsServed | StorageForm::CoreEvent => obj,
        }
    }

    /// This version's form of a stored object.
    pub fn to_served(&self, stored: Value) -> Value {
        match self.storage {
            StorageForm::EventsV1Event => events::core_to_events_v1(stored),
            StorageForm::AsServed | StorageForm::CoreEvent => stored,
        }
    }

    /// This version's form of a cached (stored) object, or `None` when it is served as stored.
    pub fn to_served_cached(&self, o: &CachedObject) -> Option<CachedObject> {
        if !self.converts() {
            return None;
        }
        let stored = o.value().ok()?;
        let mut served = self.to_served(stored);
        Some(CachedObject::from_value(o.key.clone(), o.rev, &mut served))
    }

    /// Whether a stored object satisfies a field selector written in this version's labels
    /// (whose support the caller has checked).
    pub fn fields_match(&self, sel: &FieldSelector, stored: &Value) -> bool {
        match self.storage {
            StorageForm::AsServed => sel.matches(stored),
            StorageForm::CoreEvent | StorageForm::EventsV1Event => sel.matches_with(|label| match events::stored_field_label(&self.group, label) {
                Some(f) => events::stored_field_value(stored, f),
                None => String::new(),
            }),
        }
    }

    fn tracks_generation(&self) -> bool {
        self.custom || (self.status_subresource && !matches!(self.kind.as_str(), "Namespace" | "Node" | "PersistentVolume" | "PersistentVolumeClaim"))
    }

    /// System fields and status rules for a new object.
    pub fn prepare_for_create(&self, obj: &mut Value) {
        let m = meta::metadata_mut(obj);
        m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        m.insert("creationTimestamp".into(), json!(meta::now_rfc3339()));
        for f in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
            m.remove(f);
        }
        if self.tracks_generation() {
            m.insert("generation".into(), json!(1));
        } else {
            m.remove("generation");
        }
        if !self.namespaced {
            m.remove("namespace");
        }
        let Some(o) = obj.as_object_mut() else { return };
        if self.status_subresource && !matches!(self.kind.as_str(), "Node" | "PersistentVolume" | "PersistentVolumeClaim") {
            o.remove("status");
        }
        match (self.group.as_str(), self.kind.as_str()) {
            ("", "Pod") => {
                let qos = qos_class(o.get("spec"));
                o.insert("status".into(), json!({"phase": "Pending", "qosClass": qos}));
            }
            ("", "Namespace") => {
                o.insert("status".into(), json!({"phase": "Active"}));
            }
            ("", "PersistentVolumeClaim") => {
                o.insert("status".into(), json!({"phase": "Pending"}));
            }
            ("", "PersistentVolume") => {
                o.insert("status".into(), json!({"phase": "Pending"}));
            }
            ("apiextensions.k8s.io", "CustomResourceDefinition") => crd_status(o),
            _ => {}
        }
    }

    /// Keeps system metadata and the other half of the object from `old`; bumps generation on spec change.
    pub fn prepare_for_update(&self, new: &mut Value, old: &Value, part: Part) {
        if part == Part::Status {
            let status = new.get("status").cloned();
            let mut merged = old.clone();
            if let Some(o) = merged.as_object_mut() {
                match status {
                    Some(s) => o.insert("status".into(), s),
                    None => o.remove("status"),
                };
            }
            // Status writes may carry resourceVersion as a precondition; keep it for the caller.
            if let Some(rv) = new.pointer("/metadata/resourceVersion").cloned() {
                meta::metadata_mut(&mut merged).insert("resourceVersion".into(), rv);
            }
            *new = merged;
            return;
        }
        let old_meta = old.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default();
        let m = meta::metadata_mut(new);
        for f in SYSTEM_META {
            match old_meta.get(*f) {
                Some(v) => m.insert((*f).to_string(), v.clone()),
                None => m.remove(*f),
            };
        }
        if let Some(o) = new.as_object_mut() {
            if self.status_subresource && part == Part::Main {
                match old.get("status") {
                    Some(s) => o.insert("status".into(), s.clone()),
                    None => o.remove("status"),
                };
            }
            if self.kind == "CustomResourceDefinition" {
                crd_status(o);
            }
            if self.kind == "Namespace" && part == Part::Main {
                // Only the `finalize` subresource changes a namespace's spec.finalizers.
                let fins = old.pointer("/spec/finalizers").cloned();
                if let Some(spec) = o.get_mut("spec").and_then(Value::as_object_mut) {
                    match fins {
                        Some(f) => spec.insert("finalizers".into(), f),
                        None => spec.remove("finalizers"),
                    };
                }
            }
        }
        if self.tracks_generation() && spec_part(new) != spec_part(old) {
            let g = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0) + 1;
            meta::metadata_mut(new).insert("generation".into(), json!(g));
        }
    }

    /// Kubernetes' defaulting for the kind (for custom resources: the schema's defaults).
    /// A version stored in another's form is first normalized through that form, as decoding
    /// into the stored type does in Kubernetes, so validation compares what will be stored.
    pub fn default(&self, obj: &mut Value) {
        if self.converts() {
            *obj = self.to_served(self.to_storage(obj.take()));
        }
        match &self.schema {
            Some(schema) => wharf_api::schema::apply_defaults(obj, schema),
            None if !self.custom => wharf_api::defaults::apply_defaults(&self.group, &self.kind, obj),
            None => {}
        }
    }

    /// Removes fields the kind's schema does not declare and returns their paths
    /// (custom resources are pruned by their structural schema).
    pub fn prune_unknown(&self, obj: &mut Value) -> Vec<String> {
        match &self.schema {
            Some(schema) => wharf_api::schema::prune(obj, schema),
            None if self.custom => Vec::new(),
            None => {
                // Built-in kinds: what decoding into the typed object would drop.
                let unknown = wharf_openapi::unknown_fields(&self.group, &self.version, &self.kind, obj);
                crate::openapi::remove_paths(obj, &unknown);
                unknown
            }
        }
    }

    /// Every validation error: generic metadata, then the kind's own rules.
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(obj, self.namespaced, self.name_rule);
        if let Some(old) = old {
            for f in ["name", "namespace"] {
                let (a, b) = (obj.pointer(&format!("/metadata/{f}")), old.pointer(&format!("/metadata/{f}")));
                if a != b && b.is_some() {
                    errs.push(FieldError::invalid(format!("metadata.{f}"), a.cloned().unwrap_or(Value::Null), "field is immutable"));
                }
            }
        }
        match &self.schema {
            Some(schema) => errs.extend(wharf_api::schema::validate(obj, schema)),
            None if !self.custom => errs.extend(wharf_api::validation::validate(&self.group, &self.kind, obj, old)),
            None => {}
        }
        errs
    }
}

fn crd_status(o: &mut Map<String, Value>) {
    let view = Value::Object(o.clone());
    let names = view.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let storage: Vec<Value> = view
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| vs.iter().filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true)).filter_map(|v| v.get("name").cloned()).collect())
        .unwrap_or_default();
    let now = meta::now_rfc3339();
    let mut stored: Vec<Value> = view.pointer("/status/storedVersions").and_then(Value::as_array).cloned().unwrap_or_default();
    for s in storage {
        if !stored.contains(&s) {
            stored.push(s);
        }
    }
    o.insert(
        "status".into(),
        json!({
            "acceptedNames": names,
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now}
            ],
            "storedVersions": stored,
        }),
    );
}

/// The pod's QoS class from its containers' requests and limits.
fn qos_class(spec: Option<&Value>) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| spec.and_then(|s| s.get(*f)).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        let req = c.pointer("/resources/requests").and_then(Value::as_object);
        let lim = c.pointer("/resources/limits").and_then(Value::as_object);
        for r in ["cpu", "memory"] {
            let (q, l) = (req.and_then(|m| m.get(r)), lim.and_then(|m| m.get(r)));
            if q.is_some() || l.is_some() {
                any = true;
            }
            match (q, l) {
                (_, None) => guaranteed = false,
                (Some(q), Some(l)) if q != l => guaranteed = false,
                _ => {}
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_class_follows_requests_and_limits() {
        assert_eq!(qos_class(Some(&json!({"containers":[{"name":"a"}]}))), "BestEffort");
        assert_eq!(qos_class(Some(&json!({"containers":[{"resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]}))), "Guaranteed");
        assert_eq!(qos_class(Some(&json!({"containers":[{"resources":{"requests":{"cpu":"1"}}}]}))), "Burstable");
    }
}
