//! Assembling the documents: resolving the served set to schemas and paths, picking the
//! definitions each document reaches, the v2 (Swagger 2.0) form of schemas, and the content
//! hash that names a v3 group-version document in the root listing.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use crate::builtin::{self, REF_PREFIX};
use crate::paths::{self, Paths, Target};
use crate::{crd, ServedResource};

/// `info` of every document.
fn info() -> Value {
    json!({"title": "Kubernetes", "version": "v1.32.0"})
}

/// The bearer-token security scheme kube-apiserver declares.
fn bearer_token() -> Value {
    json!({"description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey"})
}

/// A group version: (group, version).
pub(crate) type GroupVersion = (String, String);

/// The served set, resolved: custom definitions and the paths of each group version, plus the
/// documents built from them on demand.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// Definitions of custom (and unknown) kinds, in the v3 form.
    custom_definitions: BTreeMap<String, Value>,
    /// Paths of each served group version.
    paths: BTreeMap<GroupVersion, Paths>,
    /// The v3 document of each group version and its hash, built on first use.
    v3: BTreeMap<GroupVersion, OnceLock<(Value, String)>>,
    /// The v2 document, built on first use.
    v2: OnceLock<Value>,
}

impl Resolved {
    /// Resolves a served set.
    pub(crate) fn new(served: &[ServedResource<'_>]) -> Resolved {
        let b = builtin::builtin();
        let mut custom_definitions = BTreeMap::new();
        let mut paths: BTreeMap<GroupVersion, Paths> = BTreeMap::new();
        for s in served {
            let info = s.info;
            let gv = (info.group.clone(), info.version.clone());
            let builtin_kind = if s.crd_version.is_none() { b.kind(&info.group, &info.version, &info.kind) } else { None };
            let target = match builtin_kind {
                Some(kind) => {
                    let list_definition = match &kind.list_definition {
                        Some(list) => list.clone(),
                        None => {
                            // A kind k8s-openapi has no list for (reviews), served with list verbs.
                            let list_kind = format!("{}List", kind.kind);
                            let list = format!("{}List", kind.definition);
                            let schema =
                                builtin::list_schema(kind.kind, &kind.definition, kind.group, kind.version, &list_kind);
                            custom_definitions.insert(list.clone(), schema);
                            list
                        }
                    };
                    Target { info, definition: kind.definition.clone(), list_definition, custom: false }
                }
                None => {
                    let definition = crd::definition_name(&info.group, &info.version, &info.kind);
                    let list_kind = format!("{}List", info.kind);
                    let list_definition = crd::definition_name(&info.group, &info.version, &list_kind);
                    custom_definitions
                        .insert(definition.clone(), crd::kind_schema(&info.group, &info.version, &info.kind, s.crd_version));
                    custom_definitions.insert(
                        list_definition.clone(),
                        crd::list_kind_schema(&info.group, &info.version, &info.kind, &list_kind),
                    );
                    Target { info, definition, list_definition, custom: true }
                }
            };
            let gv_paths = paths.entry(gv).or_insert_with(|| {
                let mut p = Paths::new();
                paths::add_group_root(&mut p, &info.group, &info.version);
                p
            });
            paths::add_resource(gv_paths, &target);
        }
        let v3 = paths.keys().map(|gv| (gv.clone(), OnceLock::new())).collect();
        Resolved { custom_definitions, paths, v3, v2: OnceLock::new() }
    }

    /// A definition by name (v3 form).
    fn definition(&self, name: &str) -> Option<&Value> {
        self.custom_definitions.get(name).or_else(|| builtin::builtin().definitions.get(name))
    }

    /// The names of every definition reachable from `roots` (the `$ref`s found in them).
    fn reachable(&self, roots: &Value, prefix: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut pending = Vec::new();
        collect_refs(roots, prefix, &mut pending);
        while let Some(name) = pending.pop() {
            if seen.contains(&name) {
                continue;
            }
            if let Some(def) = self.definition(&name) {
                collect_refs(def, REF_PREFIX, &mut pending);
            }
            seen.insert(name);
        }
        seen
    }

    /// The served group versions, in order.
    pub(crate) fn group_versions(&self) -> impl Iterator<Item = &GroupVersion> {
        self.paths.keys()
    }

    /// The v3 document of a group version and its hash, if it is served.
    pub(crate) fn v3(&self, group: &str, version: &str) -> Option<&(Value, String)> {
        let key = (group.to_string(), version.to_string());
        let cell = self.v3.get(&key)?;
        let paths = self.paths.get(&key)?;
        Some(cell.get_or_init(|| {
            let rendered = paths::render_v3(paths);
            let mut schemas = Map::new();
            for name in self.reachable(&rendered, REF_PREFIX) {
                if let Some(def) = self.definition(&name) {
                    schemas.insert(name, def.clone());
                }
            }
            let doc = json!({
                "components": {"schemas": schemas, "securitySchemes": {"BearerToken": bearer_token()}},
                "info": info(),
                "openapi": "3.0.0",
                "paths": rendered,
                "security": [{"BearerToken": []}],
            });
            let hash = content_hash(&doc);
            (doc, hash)
        }))
    }

    /// The v3 root listing.
    pub(crate) fn v3_root(&self) -> Value {
        let mut listing = Map::new();
        for (group, version) in self.group_versions() {
            let path = paths::prefix(group, version);
            let path = path.trim_start_matches('/');
            if let Some((_, hash)) = self.v3(group, version) {
                listing.insert(path.to_string(), json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}));
            }
        }
        json!({"paths": listing})
    }

    /// The v2 document.
    pub(crate) fn v2(&self) -> &Value {
        self.v2.get_or_init(|| {
            let mut all_paths = Map::new();
            for paths in self.paths.values() {
                if let Value::Object(rendered) = paths::render_v2(paths) {
                    all_paths.extend(rendered);
                }
            }
            let all_paths = Value::Object(all_paths);
            let mut definitions = Map::new();
            for name in self.reachable(&all_paths, "#/definitions/") {
                if let Some(def) = self.definition(&name) {
                    definitions.insert(name, v2_schema(def));
                }
            }
            json!({
                "definitions": definitions,
                "info": info(),
                "paths": all_paths,
                "security": [{"BearerToken": []}],
                "securityDefinitions": {"BearerToken": bearer_token()},
                "swagger": "2.0",
            })
        })
    }
}

/// Pushes the definition names of every `"$ref": "<prefix><name>"` in `value`.
fn collect_refs(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix(prefix) {
                            out.push(name.to_string());
                        }
                    }
                    _ => collect_refs(v, prefix, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, prefix, out)),
        _ => {}
    }
}

/// A v3 reference rewritten for v2.
fn v2_ref(reference: &str) -> String {
    match reference.strip_prefix(REF_PREFIX) {
        Some(name) => format!("#/definitions/{name}"),
        None => reference.to_string(),
    }
}

/// A schema in the Swagger 2.0 form: `$ref`s into `#/definitions/`, `allOf: [{$ref}]` back to
/// a `$ref` beside its siblings, and the keywords Swagger 2.0 lacks (`nullable`, `oneOf`,
/// `anyOf`, `not`) dropped, as kube-apiserver drops them from custom resource schemas in v2;
/// a `nullable` schema loses its `type` so that `null` stays valid.
pub(crate) fn v2_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else { return schema.clone() };
    let nullable = map.get("nullable") == Some(&Value::Bool(true));
    let mut out = Map::with_capacity(map.len());
    // `oneOf` primitive types (IntOrString, Quantity) are published as `type: string` in v2.
    let one_of_types: Vec<&str> =
        map.get("oneOf").and_then(Value::as_array).into_iter().flatten().filter_map(|s| s.get("type")?.as_str()).collect();
    if !map.contains_key("type") && one_of_types.contains(&"string") {
        out.insert("type".into(), json!("string"));
    }
    for (key, value) in map {
        match key.as_str() {
            "$ref" => {
                let value = value.as_str().map(|r| Value::String(v2_ref(r))).unwrap_or_else(|| value.clone());
                out.insert(key.clone(), value);
            }
            "allOf" => {
                let single_ref = match value.as_array().map(Vec::as_slice) {
                    Some([Value::Object(only)]) if only.len() == 1 => only.get("$ref").and_then(Value::as_str),
                    _ => None,
                };
                match single_ref {
                    Some(r) => {
                        out.insert("$ref".into(), Value::String(v2_ref(r)));
                    }
                    None => {
                        let items = value.as_array().map(|a| a.iter().map(v2_schema).collect()).unwrap_or_default();
                        out.insert(key.clone(), Value::Array(items));
                    }
                }
            }
            "nullable" | "oneOf" | "anyOf" | "not" => {}
            "type" if nullable => {}
            "properties" | "patternProperties" | "definitions" => {
                let mapped = match value {
                    Value::Object(props) => Value::Object(props.iter().map(|(k, v)| (k.clone(), v2_schema(v))).collect()),
                    other => other.clone(),
                };
                out.insert(key.clone(), mapped);
            }
            "items" | "additionalProperties" | "additionalItems" => {
                out.insert(key.clone(), v2_schema(value));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    out.sort_keys();
    Value::Object(out)
}

/// 128-bit FNV-1a, fed through `io::Write` so documents hash without being serialized to a
/// buffer first.
#[derive(Debug)]
pub(crate) struct Fnv128(u128);

impl Fnv128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

    /// A fresh hasher.
    pub(crate) fn new() -> Fnv128 {
        Fnv128(Self::OFFSET)
    }

    /// Feeds bytes.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u128::from(*b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// The hash so far.
    pub(crate) fn finish(&self) -> u128 {
        self.0
    }
}

impl io::Write for Fnv128 {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The hash that names a document's content: 32 upper-case hex digits.
pub(crate) fn content_hash(doc: &Value) -> String {
    let mut h = Fnv128::new();
    // Writing into the hasher cannot fail.
    let _ = serde_json::to_writer(&mut h, doc);
    format!("{:032X}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_schema_unwraps_all_of_refs_and_drops_what_swagger_2_lacks() {
        let v3 = json!({
            "properties": {
                "metadata": {"allOf": [{"$ref": "#/components/schemas/x.Meta"}], "description": "d"},
                "maybe": {"type": "string", "nullable": true},
                "either": {"oneOf": [{"type": "string"}], "type": "object", "properties": {"oneOf": {"type": "string"}}},
            }
        });
        let v2 = v2_schema(&v3);
        assert_eq!(v2["properties"]["metadata"], json!({"$ref": "#/definitions/x.Meta", "description": "d"}));
        assert_eq!(v2["properties"]["maybe"], json!({}));
        // `oneOf` the keyword goes; a property named `oneOf` stays.
        assert_eq!(v2["properties"]["either"], json!({"properties": {"oneOf": {"type": "string"}}, "type": "object"}));
        let int_or_string = json!({"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]});
        assert_eq!(v2_schema(&int_or_string), json!({"format": "int-or-string", "type": "string"}));
    }

    #[test]
    fn content_hash_differs_for_different_documents() {
        assert_ne!(content_hash(&json!({"a": 1})), content_hash(&json!({"a": 2})));
        assert_eq!(content_hash(&json!({"a": 1})).len(), 32);
    }
}
