//! Unknown fields of built-in objects: the fields a strict decode into the Go type would
//! reject (`fieldValidation=Strict`) or warn about (`Warn`).

use serde_json::Value;

use crate::builtin::{self, REF_PREFIX};

/// Nesting past which the walk stops (objects are never this deep; it bounds recursive schemas).
const MAX_DEPTH: usize = 64;

/// The unknown fields of `obj`, an object of a built-in kind, as paths from its root.
pub(crate) fn unknown_fields(group: &str, version: &str, kind: &str, obj: &Value) -> Vec<String> {
    let b = builtin::builtin();
    let Some(k) = b.kind(group, version, kind) else { return Vec::new() };
    let Some(schema) = b.definitions.get(&k.definition) else { return Vec::new() };
    let mut out = Vec::new();
    let mut path = String::new();
    walk(schema, obj, &mut path, &mut out, 0);
    out
}

/// The schema `schema` stands for, with `$ref` and single-`allOf` indirections followed.
fn resolve(mut schema: &Value) -> &Value {
    let defs = &builtin::builtin().definitions;
    for _ in 0..8 {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            match r.strip_prefix(REF_PREFIX).and_then(|name| defs.get(name)) {
                Some(def) => schema = def,
                None => return schema,
            }
        } else if let Some([inner]) = schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
            schema = inner;
        } else {
            return schema;
        }
    }
    schema
}

fn walk(schema: &Value, value: &Value, path: &mut String, out: &mut Vec<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let schema = resolve(schema);
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    let len = path.len();
    match value {
        Value::Object(map) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (key, v) in map {
                    path.push('.');
                    path.push_str(key);
                    match properties.get(key) {
                        Some(s) => walk(s, v, path, out, depth + 1),
                        None => out.push(path.clone()),
                    }
                    path.truncate(len);
                }
            } else if let Some(values) = schema.get("additionalProperties").filter(|s| s.is_object()) {
                for (key, v) in map {
                    path.push('.');
                    path.push_str(key);
                    walk(values, v, path, out, depth + 1);
                    path.truncate(len);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) {
                for (i, v) in items.iter().enumerate() {
                    path.push_str(&format!("[{i}]"));
                    walk(item_schema, v, path, out, depth + 1);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}
