//! `x-kubernetes-embedded-resource`: validation of the `apiVersion`, `kind` and `metadata` of
//! embedded objects (apiextensions' `schema/objectmeta`), and the `metadata` fields that are not
//! part of `ObjectMeta` (which the apiserver drops and reports as unknown).

use super::gofmt;
use super::{kchild, kindex, kkey, S};
use crate::errors::FieldError;
use crate::meta;
use serde_json::{Map, Value};

#[derive(Clone, Copy, PartialEq)]
enum T {
    Str,
    Int,
    Bool,
    Time,
    StrMap,
    StrList,
    OwnerRefs,
    ManagedFields,
    Raw,
}

const OBJECT_META: &[(&str, T)] = &[
    ("name", T::Str),
    ("generateName", T::Str),
    ("namespace", T::Str),
    ("selfLink", T::Str),
    ("uid", T::Str),
    ("resourceVersion", T::Str),
    ("generation", T::Int),
    ("creationTimestamp", T::Time),
    ("deletionTimestamp", T::Time),
    ("deletionGracePeriodSeconds", T::Int),
    ("labels", T::StrMap),
    ("annotations", T::StrMap),
    ("ownerReferences", T::OwnerRefs),
    ("finalizers", T::StrList),
    ("managedFields", T::ManagedFields),
];

const OWNER_REFERENCE: &[(&str, T)] =
    &[("apiVersion", T::Str), ("kind", T::Str), ("name", T::Str), ("uid", T::Str), ("controller", T::Bool), ("blockOwnerDeletion", T::Bool)];

const MANAGED_FIELDS: &[(&str, T)] = &[
    ("manager", T::Str),
    ("operation", T::Str),
    ("apiVersion", T::Str),
    ("time", T::Time),
    ("fieldsType", T::Str),
    ("fieldsV1", T::Raw),
    ("subresource", T::Str),
];

fn lookup(fields: &[(&str, T)], k: &str) -> Option<T> {
    fields.iter().find(|(n, _)| *n == k).map(|(_, t)| *t)
}

fn retain_known(m: &mut Map<String, Value>, fields: &[(&str, T)], prefix: &str, out: &mut Vec<String>) {
    let unknown: Vec<String> = m.keys().filter(|k| lookup(fields, k).is_none()).cloned().collect();
    for k in unknown {
        out.push(format!("{prefix}{k}"));
        m.shift_remove(&k);
    }
}

/// Removes the fields of a `metadata` object that `ObjectMeta` does not have (also inside
/// `ownerReferences` and `managedFields` entries); returns their paths under `prefix`
/// (`metadata.foo`, `metadata.ownerReferences[0].bar`), as strict decoding reports them.
pub(super) fn prune_unknown_meta(m: &mut Map<String, Value>, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    retain_known(m, OBJECT_META, &format!("{prefix}."), &mut out);
    for (field, inner) in [("ownerReferences", OWNER_REFERENCE), ("managedFields", MANAGED_FIELDS)] {
        if let Some(Value::Array(items)) = m.get_mut(field) {
            for (i, item) in items.iter_mut().enumerate() {
                if let Value::Object(o) = item {
                    retain_known(o, inner, &format!("{prefix}.{field}[{i}]."), &mut out);
                }
            }
        }
    }
    out
}

/// Walks `x` along the structural schema, removing unknown metadata fields of embedded
/// resources (apiextensions' `objectmeta.Coerce`); paths use `field.Path` notation.
pub(super) fn prune_embedded_meta(path: &str, x: &mut Value, s: Option<S>, out: &mut Vec<String>) {
    let Some(s) = s else { return };
    match x {
        Value::Object(m) => {
            if s.embedded() {
                if let Some(Value::Object(meta)) = m.get_mut("metadata") {
                    out.extend(prune_unknown_meta(meta, &kchild(path, "metadata")));
                }
            }
            for (k, v) in m.iter_mut() {
                if let Some(p) = s.prop(k) {
                    prune_embedded_meta(&kchild(path, k), v, Some(p), out);
                } else if s.has_ap() {
                    prune_embedded_meta(&kkey(path, k), v, s.ap_schema(), out);
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter_mut().enumerate() {
                prune_embedded_meta(&kindex(path, i), v, s.items(), out);
            }
        }
        _ => {}
    }
}

fn json_kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(_) => "number".into(),
        Value::String(_) => "string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

fn is_rfc3339(s: &str) -> bool {
    s.len() > 10 && s.as_bytes().get(10) == Some(&b'T') && super::formats::is_date(&s[..10]) && {
        let t = &s[11..];
        super::regex::matches(r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$", t).unwrap_or(false)
    }
}

/// The error Go's `json.Unmarshal` gives decoding `v` as type `t` at `field` of `strukt`.
fn type_error(strukt: &str, field: &str, t: T, v: &Value) -> Option<String> {
    let mismatch_of = |x: &Value, go_type: &str| Some(format!("json: cannot unmarshal {} into Go struct field {strukt}.{field} of type {go_type}", json_kind(x)));
    let mismatch = |go_type: &str| mismatch_of(v, go_type);
    if v.is_null() {
        return None;
    }
    match t {
        T::Raw => None,
        T::Str => (!v.is_string()).then(|| mismatch("string")).flatten(),
        T::Bool => (!v.is_boolean()).then(|| mismatch("bool")).flatten(),
        T::Int => match v {
            Value::Number(_) if v.as_i64().is_some() => None,
            Value::Number(n) => Some(format!("json: cannot unmarshal number {n} into Go struct field {strukt}.{field} of type int64")),
            _ => mismatch("int64"),
        },
        T::Time => match v {
            Value::String(s) if is_rfc3339(s) => None,
            Value::String(s) => Some(format!("parsing time {} as \"2006-01-02T15:04:05Z07:00\": cannot parse {} as \"2006\"", gofmt::quote(s), gofmt::quote(s))),
            _ => Some(format!("json: cannot unmarshal {} into Go value of type string", json_kind(v))),
        },
        T::StrMap => match v {
            Value::Object(m) => m.values().find_map(|x| (!x.is_null() && !x.is_string()).then(|| mismatch_of(x, "string")).flatten()),
            _ => mismatch("map[string]string"),
        },
        T::StrList => match v {
            Value::Array(a) => a.iter().find_map(|x| (!x.is_null() && !x.is_string()).then(|| mismatch_of(x, "string")).flatten()),
            _ => mismatch("[]string"),
        },
        T::OwnerRefs | T::ManagedFields => {
            let (item_type, inner, name) = if t == T::OwnerRefs {
                ("[]v1.OwnerReference", OWNER_REFERENCE, "OwnerReference")
            } else {
                ("[]v1.ManagedFieldsEntry", MANAGED_FIELDS, "ManagedFieldsEntry")
            };
            let Value::Array(items) = v else { return mismatch(item_type) };
            for item in items {
                match item {
                    Value::Null => {}
                    Value::Object(o) => {
                        for (k, x) in o {
                            if let Some(e) = lookup(inner, k).and_then(|it| type_error(name, &format!("{field}.{k}"), it, x)) {
                                return Some(e);
                            }
                        }
                    }
                    other => return Some(format!("json: cannot unmarshal {} into Go struct field {strukt}.{field} of type v1.{name}", json_kind(other))),
                }
            }
            None
        }
    }
}

/// The error decoding `metadata` into `ObjectMeta` gives, if any.
fn decode_error(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Object(m) => m.iter().find_map(|(k, x)| lookup(OBJECT_META, k).and_then(|t| type_error("ObjectMeta", k, t, x))),
        other => Some(format!("json: cannot unmarshal {} into Go value of type v1.ObjectMeta", json_kind(other))),
    }
}

fn str_of<'a>(m: &'a Map<String, Value>, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

/// `ValidateObjectMeta` for an embedded object (name optional, path-segment name rules).
fn validate_meta(path: &str, m: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    let generate_name = str_of(m, "generateName");
    if !generate_name.is_empty() {
        for msg in meta::path_segment_name(generate_name).into_iter().filter(|e| e.starts_with("may not contain")) {
            errs.push(gofmt::invalid(kchild(path, "generateName"), &Value::from(generate_name), msg));
        }
    }
    let name = match str_of(m, "name") {
        "" => "fakename",
        n => n,
    };
    for msg in meta::path_segment_name(name) {
        errs.push(gofmt::invalid(kchild(path, "name"), &Value::from(name), msg));
    }
    let namespace = str_of(m, "namespace");
    if !namespace.is_empty() {
        for msg in meta::dns1123_label(namespace) {
            errs.push(gofmt::invalid(kchild(path, "namespace"), &Value::from(namespace), msg));
        }
    }
    if let Some(g) = m.get("generation").and_then(Value::as_i64).filter(|g| *g < 0) {
        errs.push(gofmt::invalid(kchild(path, "generation"), &Value::from(g), "must be greater than or equal to 0"));
    }
    let labels_path = kchild(path, "labels");
    if let Some(Value::Object(labels)) = m.get("labels") {
        for (k, v) in labels {
            for msg in meta::qualified_name(k) {
                errs.push(gofmt::invalid(&labels_path, &Value::from(k.as_str()), msg));
            }
            let v = v.as_str().unwrap_or("");
            for msg in meta::label_value(v) {
                errs.push(gofmt::invalid(&labels_path, &Value::from(v), msg));
            }
        }
    }
    let ann_path = kchild(path, "annotations");
    if let Some(Value::Object(ann)) = m.get("annotations") {
        let mut total = 0usize;
        for (k, v) in ann {
            for msg in meta::qualified_name(&k.to_lowercase()) {
                errs.push(gofmt::invalid(&ann_path, &Value::from(k.as_str()), msg));
            }
            total += k.len() + v.as_str().map_or(0, str::len);
        }
        if total > 256 * 1024 {
            errs.push(gofmt::too_long(&ann_path, 256 * 1024));
        }
    }
    if let Some(Value::Array(refs)) = m.get("ownerReferences") {
        let refs_path = kchild(path, "ownerReferences");
        for (i, r) in refs.iter().enumerate() {
            let Value::Object(r) = r else { continue };
            let p = kindex(&refs_path, i);
            let api_version = str_of(r, "apiVersion");
            let version_missing = match api_version.matches('/').count() {
                0 => api_version.is_empty(),
                1 => api_version.split('/').nth(1).unwrap_or("").is_empty(),
                _ => true,
            };
            if version_missing {
                errs.push(gofmt::invalid(kchild(&p, "apiVersion"), &Value::from(api_version), "version must not be empty"));
            }
            for (field, what) in [("kind", "kind"), ("name", "name"), ("uid", "uid")] {
                if str_of(r, field).is_empty() {
                    errs.push(gofmt::invalid(kchild(&p, field), &Value::from(""), format!("{what} must not be empty")));
                }
            }
        }
    }
    if let Some(Value::Array(fins)) = m.get("finalizers") {
        let fin_path = kchild(path, "finalizers");
        for (i, f) in fins.iter().enumerate() {
            let f = f.as_str().unwrap_or("");
            for msg in meta::qualified_name(f) {
                errs.push(gofmt::invalid(kindex(&fin_path, i), &Value::from(f), msg));
            }
        }
    }
}

fn validate_embedded_resource(path: &str, x: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    if !x.contains_key("apiVersion") {
        errs.push(FieldError::required(kchild(path, "apiVersion"), "must not be empty"));
    }
    if !x.contains_key("kind") {
        errs.push(FieldError::required(kchild(path, "kind"), "must not be empty"));
    }
    for (k, v) in x {
        match k.as_str() {
            "apiVersion" => {
                let p = kchild(path, "apiVersion");
                match v.as_str() {
                    None => errs.push(gofmt::invalid(p, v, "must be a string")),
                    Some("") => errs.push(gofmt::invalid(p, v, "must not be empty")),
                    Some(av) if av != "/" && av.matches('/').count() > 1 => {
                        errs.push(gofmt::invalid(p, v, format!("unexpected GroupVersion string: {av}")));
                    }
                    Some(_) => {}
                }
            }
            "kind" => {
                let p = kchild(path, "kind");
                match v.as_str() {
                    None => errs.push(gofmt::invalid(p, v, "must be a string")),
                    Some("") => errs.push(gofmt::invalid(p, v, "must not be empty")),
                    Some(kind) => {
                        let problems = meta::dns1035_label(&kind.to_lowercase());
                        if !problems.is_empty() {
                            errs.push(gofmt::invalid(p, v, format!("may have mixed case, but should otherwise match: {}", problems.join(","))));
                        }
                    }
                }
            }
            "metadata" => {
                let p = kchild(path, "metadata");
                if let Some(e) = decode_error(v) {
                    errs.push(gofmt::invalid(p, v, e));
                } else if let Value::Object(m) = v {
                    validate_meta(&p, m, errs);
                } else {
                    validate_meta(&p, &Map::new(), errs);
                }
            }
            _ => {}
        }
    }
}

/// apiextensions' `objectmeta.Validate(path, obj, schema, false)`: every embedded resource.
pub(super) fn validate(path: &str, x: &Value, s: Option<S>, errs: &mut Vec<FieldError>) {
    validate_inner(path, x, s, false, errs);
}

/// `objectmeta.Validate(path, obj, schema, true)`: `obj` itself is a resource (its apiVersion,
/// kind and metadata are checked), and so is every embedded resource inside it.
pub(super) fn validate_as_resource(path: &str, x: &Value, s: Option<S>, errs: &mut Vec<FieldError>) {
    if s.is_none() {
        if let Value::Object(m) = x {
            validate_embedded_resource(path, m, errs);
        }
        return;
    }
    validate_inner(path, x, s, true, errs);
}

fn validate_inner(path: &str, x: &Value, s: Option<S>, force_embedded: bool, errs: &mut Vec<FieldError>) {
    let Some(s) = s else { return };
    match x {
        Value::Object(m) => {
            if force_embedded || s.embedded() {
                validate_embedded_resource(path, m, errs);
            }
            for (k, v) in m {
                if let Some(p) = s.prop(k) {
                    validate(&kchild(path, k), v, Some(p), errs);
                } else if s.has_ap() {
                    validate(&kkey(path, k), v, s.ap_schema(), errs);
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                validate(&kindex(path, i), v, s.items(), errs);
            }
        }
        _ => {}
    }
}
