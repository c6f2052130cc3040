//! The schemas of the built-in kinds, generated once from k8s-openapi's `schemars::JsonSchema`
//! implementations (themselves generated from Kubernetes' published v1.32 OpenAPI document) and
//! post-processed into the shapes kube-apiserver publishes in `/openapi/v3`:
//!
//! - a `$ref` with sibling keywords (a field's description) becomes `allOf: [{$ref}]` beside
//!   them, as kube-openapi writes it;
//! - every kind and its list carry `x-kubernetes-group-version-kind`; k8s-openapi's
//!   Rust-side `required: ["metadata"]` on kinds is dropped (Kubernetes does not require it);
//! - list definitions (`io.k8s.api.apps.v1.DeploymentList`, which k8s-openapi models as a
//!   generic `List<T>` without a schema) are synthesised with Kubernetes' list shape;
//! - `IntOrString` and `Quantity` carry the `oneOf` types kube-openapi writes in v3 (v2 gets
//!   `type: string`), the `JSON` and `JSONSchemaPropsOr…` wrappers are untyped, as in
//!   Kubernetes;
//! - patch metadata comes from Wharf's own strategic merge patch table ([`crate::patch_meta`]).
//!
//! Definitions are kept in the v3 form (`#/components/schemas/…`); [`crate::render`] rewrites
//! them for v2.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use k8s_openapi::{api, apiextensions_apiserver, apimachinery, kube_aggregator};
use schemars::gen::SchemaGenerator;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use crate::patch_meta;

/// Prefix of a v3 reference.
pub(crate) const REF_PREFIX: &str = "#/components/schemas/";
/// `ObjectMeta`.
pub(crate) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
/// `ListMeta`.
pub(crate) const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
/// `Status`.
pub(crate) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
/// `DeleteOptions`.
pub(crate) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
/// `Patch`, the request body of PATCH operations.
pub(crate) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
/// `WatchEvent`, what the watch operations answer with.
pub(crate) const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
/// `APIResourceList`, what `GET /apis/<group>/<version>/` answers with.
pub(crate) const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
/// `autoscaling/v1` `Scale`, the body of the `scale` subresource.
pub(crate) const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
/// `IntOrString`.
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
/// `Quantity`.
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// Description of `apiVersion` in every kind.
pub(crate) const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
/// Description of `kind` in every kind.
pub(crate) const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
/// Description of `metadata` in every kind.
pub(crate) const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
/// Description of `metadata` in every list.
pub(crate) const LIST_METADATA_DESCRIPTION: &str =
    "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// One built-in kind k8s-openapi knows.
#[derive(Debug, Clone)]
pub(crate) struct Kind {
    /// API group, empty for core.
    pub(crate) group: &'static str,
    /// Version.
    pub(crate) version: &'static str,
    /// Kind.
    pub(crate) kind: &'static str,
    /// Definition name, e.g. `io.k8s.api.apps.v1.Deployment`.
    pub(crate) definition: String,
    /// Definition name of its list, for listable kinds.
    pub(crate) list_definition: Option<String>,
}

/// The built-in kinds and every definition they reach.
#[derive(Debug)]
pub(crate) struct Builtin {
    /// The kinds, in registration order.
    pub(crate) kinds: Vec<Kind>,
    /// Definitions by name, in the v3 form.
    pub(crate) definitions: BTreeMap<String, Value>,
}

impl Builtin {
    /// The built-in kind `group/version, Kind=kind`, if k8s-openapi has it.
    pub(crate) fn kind(&self, group: &str, version: &str, kind: &str) -> Option<&Kind> {
        self.kinds.iter().find(|k| k.group == group && k.version == version && k.kind == kind)
    }
}

/// The built-in schemas, generated on first use.
pub(crate) fn builtin() -> &'static Builtin {
    static BUILTIN: OnceLock<Builtin> = OnceLock::new();
    BUILTIN.get_or_init(generate)
}

/// Collects kinds while generating their schemas.
struct Registrar {
    gen: SchemaGenerator,
    kinds: Vec<Kind>,
}

impl Registrar {
    /// A kind without a list type (`Scale`, `Eviction`, `Binding`).
    fn kind<T: k8s_openapi::Resource + JsonSchema>(&mut self) {
        self.gen.subschema_for::<T>();
        self.kinds.push(Kind {
            group: T::GROUP,
            version: T::VERSION,
            kind: T::KIND,
            definition: T::schema_name(),
            list_definition: None,
        });
    }

    /// A kind with a list type.
    fn listable<T: k8s_openapi::ListableResource + JsonSchema>(&mut self) {
        self.gen.subschema_for::<T>();
        let definition = T::schema_name();
        let prefix = definition.strip_suffix(T::KIND).unwrap_or(&definition);
        let list_definition = format!("{prefix}{}", T::LIST_KIND);
        self.kinds.push(Kind {
            group: T::GROUP,
            version: T::VERSION,
            kind: T::KIND,
            definition,
            list_definition: Some(list_definition),
        });
    }
}

macro_rules! listable {
    ($registrar:expr; $($t:ty),* $(,)?) => { $( $registrar.listable::<$t>(); )* };
}

/// Generates and post-processes every built-in definition.
fn generate() -> Builtin {
    let mut r = Registrar { gen: schemars::gen::SchemaSettings::openapi3().into_generator(), kinds: Vec::new() };
    listable!(r;
        api::core::v1::ConfigMap, api::core::v1::Endpoints, api::core::v1::Event, api::core::v1::LimitRange,
        api::core::v1::Namespace, api::core::v1::Node, api::core::v1::PersistentVolume,
        api::core::v1::PersistentVolumeClaim, api::core::v1::Pod, api::core::v1::PodTemplate,
        api::core::v1::ReplicationController, api::core::v1::ResourceQuota, api::core::v1::Secret,
        api::core::v1::Service, api::core::v1::ServiceAccount, api::core::v1::ComponentStatus,
        api::apps::v1::ControllerRevision, api::apps::v1::DaemonSet, api::apps::v1::Deployment,
        api::apps::v1::ReplicaSet, api::apps::v1::StatefulSet,
        api::autoscaling::v1::HorizontalPodAutoscaler, api::autoscaling::v2::HorizontalPodAutoscaler,
        api::batch::v1::CronJob, api::batch::v1::Job,
        api::certificates::v1::CertificateSigningRequest,
        api::coordination::v1::Lease,
        api::discovery::v1::EndpointSlice,
        api::events::v1::Event,
        api::flowcontrol::v1::FlowSchema, api::flowcontrol::v1::PriorityLevelConfiguration,
        api::networking::v1::Ingress, api::networking::v1::IngressClass, api::networking::v1::NetworkPolicy,
        api::node::v1::RuntimeClass,
        api::policy::v1::PodDisruptionBudget,
        api::rbac::v1::ClusterRole, api::rbac::v1::ClusterRoleBinding, api::rbac::v1::Role, api::rbac::v1::RoleBinding,
        api::scheduling::v1::PriorityClass,
        api::storage::v1::CSIDriver, api::storage::v1::CSINode, api::storage::v1::CSIStorageCapacity,
        api::storage::v1::StorageClass, api::storage::v1::VolumeAttachment,
        api::admissionregistration::v1::MutatingWebhookConfiguration,
        api::admissionregistration::v1::ValidatingWebhookConfiguration,
        api::admissionregistration::v1::ValidatingAdmissionPolicy,
        api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
        apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        kube_aggregator::pkg::apis::apiregistration::v1::APIService,
    );
    // Kinds that are only created (reviews).
    r.kind::<api::authentication::v1::SelfSubjectReview>();
    r.kind::<api::authentication::v1::TokenReview>();
    r.kind::<api::authorization::v1::LocalSubjectAccessReview>();
    r.kind::<api::authorization::v1::SelfSubjectAccessReview>();
    r.kind::<api::authorization::v1::SelfSubjectRulesReview>();
    r.kind::<api::authorization::v1::SubjectAccessReview>();
    // Bodies of subresources.
    r.kind::<api::autoscaling::v1::Scale>();
    r.kind::<api::policy::v1::Eviction>();
    r.kind::<api::core::v1::Binding>();
    // Types the operations name.
    r.gen.subschema_for::<apimachinery::pkg::apis::meta::v1::Status>();
    r.gen.subschema_for::<apimachinery::pkg::apis::meta::v1::DeleteOptions>();
    r.gen.subschema_for::<apimachinery::pkg::apis::meta::v1::Patch>();
    r.gen.subschema_for::<apimachinery::pkg::apis::meta::v1::WatchEvent<api::core::v1::Pod>>();
    r.gen.subschema_for::<apimachinery::pkg::apis::meta::v1::APIResourceList>();

    let mut definitions: BTreeMap<String, Value> = BTreeMap::new();
    for (name, schema) in r.gen.take_definitions() {
        // A schema that cannot be turned into JSON (it always can) is left out.
        if let Ok(value) = serde_json::to_value(&schema) {
            definitions.insert(name, wrap_refs(value));
        }
    }
    fix_special_types(&mut definitions);
    for kind in &r.kinds {
        if let Some(Value::Object(def)) = definitions.get_mut(&kind.definition) {
            mark_kind(def, kind.group, kind.version, kind.kind);
        }
        if let Some(list) = &kind.list_definition {
            let list_kind = list.rsplit('.').next().unwrap_or_default().to_string();
            let def = list_schema(kind.kind, &kind.definition, kind.group, kind.version, &list_kind);
            definitions.insert(list.clone(), def);
        }
    }
    apply_patch_metadata(&mut definitions);
    Builtin { kinds: r.kinds, definitions }
}

/// `x-kubernetes-group-version-kind` of a definition (a list of one).
pub(crate) fn gvk_extension(group: &str, version: &str, kind: &str) -> Value {
    json!([{"group": group, "kind": kind, "version": version}])
}

/// A v3 reference to a definition.
pub(crate) fn reference(definition: &str) -> Value {
    json!({"$ref": format!("{REF_PREFIX}{definition}")})
}

/// A property that refers to a definition and has its own description.
pub(crate) fn ref_property(definition: &str, description: &str) -> Value {
    json!({"allOf": [reference(definition)], "description": description})
}

/// Marks a definition as the schema of a kind: its group-version-kind, and no `required`
/// `metadata` (k8s-openapi requires it because its Rust field is not optional).
fn mark_kind(def: &mut Map<String, Value>, group: &str, version: &str, kind: &str) {
    def.insert("x-kubernetes-group-version-kind".into(), gvk_extension(group, version, kind));
    if let Some(Value::Array(required)) = def.get_mut("required") {
        required.retain(|r| r != "metadata");
        if required.is_empty() {
            def.shift_remove("required");
        }
    }
}

/// The schema of `<Kind>List`: apiVersion, items, kind, metadata, as Kubernetes lists are.
pub(crate) fn list_schema(kind: &str, item_definition: &str, group: &str, version: &str, list_kind: &str) -> Value {
    json!({
        "description": format!("{list_kind} is a list of {kind} objects."),
        "properties": {
            "apiVersion": {"description": API_VERSION_DESCRIPTION, "type": "string"},
            "items": {"description": format!("List of {kind} objects."), "items": reference(item_definition), "type": "array"},
            "kind": {"description": KIND_DESCRIPTION, "type": "string"},
            "metadata": ref_property(LIST_META, LIST_METADATA_DESCRIPTION),
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": gvk_extension(group, version, list_kind),
    })
}

/// Rewrites `{"$ref": R, …siblings}` into `{"allOf": [{"$ref": R}], …siblings}` everywhere, as
/// kube-openapi writes v3 documents (a `$ref` with siblings is not valid OpenAPI 3.0).
fn wrap_refs(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            let mut reference = None;
            let has_siblings = map.len() > 1;
            for (key, value) in map {
                if key == "$ref" && has_siblings && value.is_string() {
                    reference = Some(value);
                } else {
                    out.insert(key, wrap_refs(value));
                }
            }
            if let Some(reference) = reference {
                out.insert("allOf".into(), json!([{"$ref": reference}]));
                out.sort_keys();
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(wrap_refs).collect()),
        other => other,
    }
}

/// Gives a few special types the shapes Kubernetes publishes for them.
fn fix_special_types(definitions: &mut BTreeMap<String, Value>) {
    // In v3, kube-openapi writes the types these accept as `oneOf` (`OpenAPIV3OneOfTypes`);
    // v2 has `type: string` instead (see `render::v2_schema`).
    if let Some(Value::Object(def)) = definitions.get_mut(INT_OR_STRING) {
        def.shift_remove("x-kubernetes-int-or-string");
        def.shift_remove("type");
        def.insert("format".into(), json!("int-or-string"));
        def.insert("oneOf".into(), json!([{"type": "integer"}, {"type": "string"}]));
        def.sort_keys();
    }
    if let Some(Value::Object(def)) = definitions.get_mut(QUANTITY) {
        def.shift_remove("type");
        def.insert("oneOf".into(), json!([{"type": "string"}, {"type": "number"}]));
        def.sort_keys();
    }
    let apiextensions = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.";
    for name in ["JSON", "JSONSchemaPropsOrArray", "JSONSchemaPropsOrBool", "JSONSchemaPropsOrStringArray"] {
        if let Some(Value::Object(def)) = definitions.get_mut(&format!("{apiextensions}{name}")) {
            def.retain(|key, _| key == "description");
        }
    }
}

/// Adds `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` (and the list type they
/// imply) to the properties Wharf's strategic merge patch table names.
fn apply_patch_metadata(definitions: &mut BTreeMap<String, Value>) {
    for field in patch_meta::fields() {
        let Some(property) = definitions
            .get_mut(&field.definition)
            .and_then(|def| def.get_mut("properties"))
            .and_then(|props| props.get_mut(field.field))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        if let Some(key) = field.merge_key {
            property.insert("x-kubernetes-patch-merge-key".into(), json!(key));
        }
        property.insert("x-kubernetes-patch-strategy".into(), json!(field.strategy));
        let is_list = property.get("type").and_then(Value::as_str) == Some("array");
        if is_list && field.strategy.starts_with("merge") {
            match &field.merge_key {
                Some(key) => {
                    property.insert("x-kubernetes-list-map-keys".into(), json!([key]));
                    property.insert("x-kubernetes-list-type".into(), json!("map"));
                }
                None => {
                    property.insert("x-kubernetes-list-type".into(), json!("set"));
                }
            }
        }
        property.sort_keys();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_resource_of_wharf_has_a_generated_schema() {
        let b = builtin();
        for info in wharf_api::resources::builtin() {
            let kind = b.kind(&info.group, &info.version, &info.kind);
            let Some(kind) = kind else { panic!("no schema for {}/{} {}", info.group, info.version, info.kind) };
            assert!(b.definitions.contains_key(&kind.definition), "{}", kind.definition);
            if let Some(list) = kind.list_definition.as_deref() {
                assert!(b.definitions.contains_key(list), "{list}");
            }
        }
    }

    #[test]
    fn refs_with_descriptions_are_wrapped_in_all_of() {
        let b = builtin();
        let spec = &b.definitions["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"];
        assert_eq!(spec["allOf"][0]["$ref"], "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec");
        assert!(spec["description"].is_string());
        assert!(spec.get("$ref").is_none());
    }

    #[test]
    fn int_or_string_is_published_as_kubernetes_publishes_it() {
        let def = &builtin().definitions[INT_OR_STRING];
        assert!(def.get("type").is_none());
        assert_eq!(def["format"], "int-or-string");
        assert_eq!(def["oneOf"], json!([{"type": "integer"}, {"type": "string"}]));
        assert_eq!(builtin().definitions[QUANTITY]["oneOf"], json!([{"type": "string"}, {"type": "number"}]));
    }
}
