//! Custom resources against their CRD version's `openAPIV3Schema`, as kube-apiserver's
//! apiextensions-apiserver handles them: pruning of unknown fields, defaulting, OpenAPI value
//! validation (kube-openapi semantics and messages), `x-kubernetes-*` extensions, and the
//! structural-schema checks a CRD must pass.
//!
//! The server runs these in Kubernetes' order: [`prune`] (on decode; its paths feed
//! `fieldValidation=Strict|Warn`), then [`apply_defaults`], then [`validate`]. CRD creation and
//! update call [`validate_structural`] for every version's schema.
//!
//! Semantics and messages are those of Kubernetes v1.32 (the version Wharf reports):
//! `k8s.io/apiextensions-apiserver/pkg/apiserver/schema` (pruning, defaulting, objectmeta,
//! listtype, structural validation) and `k8s.io/kube-openapi/pkg/validation/validate` (validator
//! order, `anyOf`/`oneOf` best-failure selection, de-duplicated messages), rendered like
//! apimachinery's `field.Error`. One addition from v1.36: `int32`/`float` formats reject
//! out-of-range numbers (`validate::NUMERIC_FORMAT_RANGES`). Patterns use Go's RE2 syntax, like
//! the apiserver, through a small engine in this module (`regex.rs` lists its limits).
//!
//! Out of scope: CEL rules (`x-kubernetes-validations` are only checked for their static shape
//! in [`validate_structural`], never evaluated), validation ratcheting on update, the status
//! subresource's root-schema restrictions, and `x-kubernetes-map-type`/list-type merge semantics
//! (those belong to server-side apply).

mod formats;
pub(crate) mod gofmt;
mod listtype;
mod objectmeta;
mod prune;
mod regex;
mod structural;
mod validate;

#[cfg(test)]
mod tests;

use crate::errors::FieldError;
use serde_json::{Map, Value};

/// A schema node (`JSONSchemaProps` as JSON); accessors tolerate missing or ill-typed keywords.
#[derive(Clone, Copy, Debug)]
struct S<'a>(&'a Value);

/// `additionalProperties`: absent, a boolean, or a schema.
#[derive(Clone, Copy, Debug)]
enum Ap<'a> {
    Absent,
    Bool(bool),
    Schema(S<'a>),
}

impl<'a> S<'a> {
    fn get(self, k: &str) -> Option<&'a Value> {
        self.0.get(k)
    }
    fn str(self, k: &str) -> &'a str {
        self.get(k).and_then(Value::as_str).unwrap_or("")
    }
    fn flag(self, k: &str) -> bool {
        self.get(k).and_then(Value::as_bool).unwrap_or(false)
    }
    fn ty(self) -> &'a str {
        self.str("type")
    }
    /// The OpenAPI types the validator sees (`x-kubernetes-int-or-string` is integer or string).
    fn types(self) -> Vec<&'a str> {
        if self.flag("x-kubernetes-int-or-string") {
            return vec!["integer", "string"];
        }
        match self.ty() {
            "" => Vec::new(),
            t => vec![t],
        }
    }
    /// `format`, after apiextensions strips the formats it does not support.
    fn format(self) -> &'a str {
        formats::effective(self.str("format"))
    }
    fn nullable(self) -> bool {
        self.flag("nullable")
    }
    fn props(self) -> Option<&'a Map<String, Value>> {
        self.get("properties").and_then(Value::as_object)
    }
    fn prop(self, k: &str) -> Option<S<'a>> {
        self.props()?.get(k).map(S)
    }
    fn ap(self) -> Ap<'a> {
        match self.get("additionalProperties") {
            Some(Value::Bool(b)) => Ap::Bool(*b),
            Some(v @ Value::Object(_)) => Ap::Schema(S(v)),
            _ => Ap::Absent,
        }
    }
    /// Whether `additionalProperties` is set at all (`true`, `false` or a schema).
    fn has_ap(self) -> bool {
        !matches!(self.ap(), Ap::Absent)
    }
    fn ap_schema(self) -> Option<S<'a>> {
        match self.ap() {
            Ap::Schema(s) => Some(s),
            _ => None,
        }
    }
    fn items(self) -> Option<S<'a>> {
        self.get("items").filter(|v| v.is_object()).map(S)
    }
    /// The `default` value, unless absent or `null`.
    fn default(self) -> Option<&'a Value> {
        self.get("default").filter(|v| !v.is_null())
    }
    fn preserve(self) -> bool {
        self.flag("x-kubernetes-preserve-unknown-fields")
    }
    fn embedded(self) -> bool {
        self.flag("x-kubernetes-embedded-resource")
    }
    fn f64(self, k: &str) -> Option<f64> {
        self.get(k).and_then(Value::as_f64)
    }
    fn i64(self, k: &str) -> Option<i64> {
        let v = self.get(k)?;
        v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
    }
    fn list(self, k: &str) -> &'a [Value] {
        self.get(k).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
    }
    fn schemas(self, k: &str) -> impl Iterator<Item = S<'a>> {
        self.list(k).iter().filter(|v| v.is_object()).map(S)
    }
    fn strings(self, k: &str) -> Vec<&'a str> {
        self.list(k).iter().filter_map(Value::as_str).collect()
    }
}

/// `field.Path.Child`: `spec` + `replicas` → `spec.replicas`.
fn kchild(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}.{name}")
    }
}

/// `field.Path.Key`: `spec.labels` + `app` → `spec.labels[app]`.
fn kkey(base: &str, key: &str) -> String {
    format!("{base}[{key}]")
}

/// `field.Path.Index`: `spec.items` + 2 → `spec.items[2]`.
fn kindex(base: &str, i: usize) -> String {
    format!("{base}[{i}]")
}

/// Validates `obj` (a whole custom resource) against a CRD version's `openAPIV3Schema`.
/// Returns every error with Kubernetes' field paths (`spec.replicas`, `spec.items[2].name`) and messages
/// (e.g. `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`,
/// `spec.size: Required value`, `spec.mode: Unsupported value: "x": supported values: "a", "b"`).
/// `apiVersion`, `kind` and `metadata` are checked by the server separately (ObjectMeta rules);
/// of the schema's rules for them only those a CRD may carry apply: `apiVersion`/`kind` as
/// strings and `metadata.name`/`metadata.generateName` constraints.
///
/// Exactly as kube-apiserver, the whole object is validated against the schema, followed by
/// the `apiVersion`/`kind`/`metadata` checks of `x-kubernetes-embedded-resource` objects and
/// `x-kubernetes-list-type: set|map` uniqueness. (On update Kubernetes reports list-type errors
/// only when the old object had none; that ratcheting is the caller's.)
/// Errors that kube-openapi reports without a field (`anyOf`/`oneOf`/`allOf`/`not` failures)
/// carry the field `<nil>`, as in Kubernetes (`<nil>: Invalid value: "": "spec.x" must validate
/// at least one schema (anyOf)`). CEL `x-kubernetes-validations` rules are not evaluated.
pub fn validate(obj: &Value, schema: &Value) -> Vec<FieldError> {
    let s = S(schema);
    let mut errs = validate::validate_value(None, obj, s);
    objectmeta::validate("", obj, Some(s), &mut errs);
    if let Value::Object(m) = obj {
        listtype::validate_object("", s, m, &mut errs);
    }
    errs
}

/// Removes fields the structural schema does not declare (unless `x-kubernetes-preserve-unknown-fields: true`
/// applies at that level), never touching apiVersion/kind/metadata except unknown metadata fields. Returns the
/// removed paths (`spec.unknown`), which the server reports for fieldValidation=Strict (400 BadRequest
/// `strict decoding error: unknown field "spec.unknown"`) or Warn.
///
/// Paths are exactly those kube-apiserver reports, without a leading dot: `spec.unknown`,
/// `spec.items[0].extra`, `metadata.bogus` (fields `ObjectMeta` lacks, at the root or in embedded
/// resources, e.g. `spec.template.metadata.bogus`). Order as Kubernetes: root metadata fields,
/// then pruned fields sorted, then embedded metadata fields sorted. Like the apiserver's decoder,
/// this also drops `null` values of fields that are neither `nullable` nor defaulted (not reported).
pub fn prune(obj: &mut Value, schema: &Value) -> Vec<String> {
    let s = S(schema);
    let mut removed = Vec::new();
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        removed.extend(objectmeta::prune_unknown_meta(meta, "metadata"));
    }
    removed.extend(prune::prune_root(obj, s));
    prune::prune_nulls(obj, Some(s));
    let mut embedded = Vec::new();
    objectmeta::prune_embedded_meta("", obj, Some(s), &mut embedded);
    embedded.sort();
    removed.extend(embedded);
    removed
}

/// Applies `default` values from the schema (on create and update, before validation), as apiextensions does.
///
/// A property is defaulted when it is missing, or `null` while not `nullable`; defaults nested
/// inside a defaulted value apply too. Array items and `additionalProperties` values that are
/// non-nullable `null`s take their schema's default.
pub fn apply_defaults(obj: &mut Value, schema: &Value) {
    prune::default_x(obj, Some(S(schema)));
}

/// Checks that a schema is structural and uses only allowed constructs (as CRD validation requires);
/// returns errors with paths under `spec.versions[i].schema.openAPIV3Schema` given `base_path`.
///
/// `base_path` is the path of the `openAPIV3Schema` itself (e.g.
/// `spec.versions[0].schema.openAPIV3Schema`). Covers: structural invariants and completeness
/// (sorted, as Kubernetes), forbidden constructs (`$ref`, `patternProperties`, `uniqueItems`,
/// `additionalProperties` with `properties`, …), list/map-type rules, metadata restrictions,
/// `pattern` compilability, and `default`s (pruned, valid against their schema, valid metadata).
/// Not covered: CEL compilation/cost of `x-kubernetes-validations` (only the rule shapes are
/// checked) and the root-schema restrictions that apply when the status subresource is enabled.
pub fn validate_structural(schema: &Value, base_path: &str) -> Vec<FieldError> {
    structural::validate_structural(S(schema), base_path)
}
