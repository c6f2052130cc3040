//! The OpenAPI documents kube-apiserver publishes, for kubectl and other clients:
//!
//! - `/openapi/v2`: one Swagger 2.0 document with every served path and definition ([`v2`]);
//! - `/openapi/v3`: the root listing of group versions, each with a `serverRelativeURL` whose
//!   `hash` changes whenever that group version's document changes ([`v3_root`]);
//! - `/openapi/v3/api/v1`, `/openapi/v3/apis/<group>/<version>`: one OpenAPI 3.0 document per
//!   group version ([`v3_group_version`]).
//!
//! kubectl reads them to decide on server-side field validation (the `fieldValidation`
//! parameter of a kind's PATCH operation), for `kubectl explain` (`components.schemas` with
//! `x-kubernetes-group-version-kind`, descriptions, `$ref`s) and for client-side
//! `kubectl apply` (`x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key`).
//!
//! This crate owns those documents and [`unknown_fields`], the schema check behind
//! `fieldValidation=Strict|Warn` for built-in kinds. It does no I/O: the API server serves
//! what these functions return (as JSON; kubectl asks `/openapi/v2` for protobuf, which is the
//! HTTP layer's business).
//!
//! Where things come from:
//! - built-in schemas are generated from the `k8s-openapi` crate (Kubernetes v1.32, through
//!   its `schemars::JsonSchema` implementations) and post-processed into kube-openapi's shapes;
//! - patch metadata comes from Wharf's strategic merge patch table in `wharf-api`, so clients
//!   compute patches the way the server applies them;
//! - custom resource schemas come from each CRD version's `schema.openAPIV3Schema`.
//!
//! Documents are built once per served set and kept in a small memo keyed by a fingerprint
//! of the set, so repeated requests only clone the finished document.

mod builtin;
mod crd;
mod patch_meta;
mod paths;
mod render;
mod unknown;

use std::sync::{Arc, Mutex};

use render::{Fnv128, Resolved};

/// One served resource and, for custom resources, its CRD version object (with `schema.openAPIV3Schema`).
#[derive(Debug, Clone, Copy)]
pub struct ServedResource<'a> {
    /// The resource as the API server serves it (group, version, plural, kind, scope, verbs,
    /// subresources).
    pub info: &'a wharf_api::ResourceInfo,
    /// For a custom resource, the object of its version in the CRD's `spec.versions` (its
    /// `schema.openAPIV3Schema` is the kind's schema); `None` for a built-in resource.
    pub crd_version: Option<&'a serde_json::Value>,
}

/// `/openapi/v2` (Swagger 2.0) for everything served.
pub fn v2(served: &[ServedResource]) -> serde_json::Value {
    resolved(served).v2().clone()
}

/// `/openapi/v3` root document.
pub fn v3_root(served: &[ServedResource]) -> serde_json::Value {
    resolved(served).v3_root()
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`; None if not served.
pub fn v3_group_version(served: &[ServedResource], group: &str, version: &str) -> Option<serde_json::Value> {
    resolved(served).v3(group, version).map(|(doc, _)| doc.clone())
}

/// Fields of a built-in object that its schema does not declare (paths like `.spec.replicass`), for fieldValidation=Strict|Warn.
///
/// Paths start at the object's root with a `.` per field and `[i]` per list item
/// (`.spec.template.spec.containers[0].imagee`); keys of maps (labels, `data`) are never
/// unknown. Objects of kinds this crate has no built-in schema for (custom resources) have no
/// unknown fields here.
pub fn unknown_fields(group: &str, version: &str, kind: &str, obj: &serde_json::Value) -> Vec<String> {
    unknown::unknown_fields(group, version, kind, obj)
}

/// How many resolved served sets the memo keeps.
const MEMO_ENTRIES: usize = 2;

/// The memo: (fingerprint of a served set, its documents), least recently used first.
type Memo = Mutex<Vec<(u128, Arc<Resolved>)>>;

/// The resolved documents of a served set, from the memo or built now.
fn resolved(served: &[ServedResource<'_>]) -> Arc<Resolved> {
    static MEMO: Memo = Mutex::new(Vec::new());
    let memo = &MEMO;
    let key = fingerprint(served);
    {
        let mut entries = memo.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(at) = entries.iter().position(|(k, _)| *k == key) {
            let entry = entries.remove(at);
            let found = Arc::clone(&entry.1);
            entries.push(entry);
            return found;
        }
    }
    let built = Arc::new(Resolved::new(served));
    let mut entries = memo.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, existing)) = entries.iter().find(|(k, _)| *k == key) {
        return Arc::clone(existing);
    }
    if entries.len() >= MEMO_ENTRIES {
        entries.remove(0);
    }
    entries.push((key, Arc::clone(&built)));
    built
}

/// A fingerprint of everything in the served set the documents depend on.
fn fingerprint(served: &[ServedResource<'_>]) -> u128 {
    let mut h = Fnv128::new();
    for s in served {
        let i = s.info;
        for part in [&i.group, &i.version, &i.resource, &i.kind] {
            h.update(part.as_bytes());
            h.update(&[0]);
        }
        h.update(&[u8::from(i.namespaced), 1]);
        for list in [&i.verbs, &i.subresources] {
            for item in list {
                h.update(item.as_bytes());
                h.update(&[0]);
            }
            h.update(&[1]);
        }
        if let Some(crd_version) = s.crd_version {
            // Writing into the hasher cannot fail.
            let _ = serde_json::to_writer(&mut h, crd_version);
        }
        h.update(&[2]);
    }
    h.finish()
}
