//! Schemas of custom resources, built from their CRD version's `schema.openAPIV3Schema` as
//! apiextensions-apiserver builds them: the CRD's schema with `apiVersion`, `kind` and a
//! `metadata` that refers to `ObjectMeta`, the group-version-kind extension, and a list type.

use serde_json::{json, Map, Value};

use crate::builtin::{
    gvk_extension, list_schema, ref_property, API_VERSION_DESCRIPTION, KIND_DESCRIPTION, METADATA_DESCRIPTION,
    OBJECT_META,
};

/// The definition name of a custom kind: the group's DNS labels reversed, then version and
/// kind (`stable.example.com/v1 CronTab` → `com.example.stable.v1.CronTab`), as Kubernetes
/// names them.
pub(crate) fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let mut name: Vec<&str> = group.split('.').filter(|s| !s.is_empty()).rev().collect();
    name.push(version);
    name.push(kind);
    name.join(".")
}

/// The schema of a custom kind. `crd_version` is the CRD's version object; without a schema
/// (or without a CRD, for a resource Wharf serves but has no schema for) the kind accepts any
/// fields.
pub(crate) fn kind_schema(group: &str, version: &str, kind: &str, crd_version: Option<&Value>) -> Value {
    let schema = crd_version.and_then(|v| v.pointer("/schema/openAPIV3Schema")).and_then(Value::as_object);
    let mut def: Map<String, Value> = match schema {
        Some(schema) => schema.clone(),
        None => {
            let mut m = Map::new();
            m.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
            m
        }
    };
    def.insert("type".into(), json!("object"));
    let properties = def.entry("properties").or_insert_with(|| json!({}));
    if let Value::Object(properties) = properties {
        properties.insert("apiVersion".into(), json!({"description": API_VERSION_DESCRIPTION, "type": "string"}));
        properties.insert("kind".into(), json!({"description": KIND_DESCRIPTION, "type": "string"}));
        properties.insert("metadata".into(), ref_property(OBJECT_META, METADATA_DESCRIPTION));
        properties.sort_keys();
    }
    def.insert("x-kubernetes-group-version-kind".into(), gvk_extension(group, version, kind));
    def.sort_keys();
    Value::Object(def)
}

/// The schema of a custom kind's list.
pub(crate) fn list_kind_schema(group: &str, version: &str, kind: &str, list_kind: &str) -> Value {
    list_schema(kind, &definition_name(group, version, kind), group, version, list_kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_definition_names_reverse_the_group() {
        assert_eq!(definition_name("stable.example.com", "v1", "CronTab"), "com.example.stable.v1.CronTab");
    }

    #[test]
    fn custom_kind_without_schema_accepts_anything() {
        let def = kind_schema("example.com", "v1", "Widget", None);
        assert_eq!(def["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(def["properties"]["metadata"]["allOf"][0]["$ref"], format!("#/components/schemas/{OBJECT_META}"));
    }
}
