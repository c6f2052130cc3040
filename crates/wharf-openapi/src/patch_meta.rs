//! Patch metadata (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`) of the
//! built-in definitions, from Wharf's own table (`wharf_api::patch::strategy_table`).
//!
//! That table is what the API server's strategic merge patch runs on, so publishing it keeps
//! kubectl's client-side patches and the server's merging in agreement. This module only maps
//! the table's Go type names (`core/v1.PodSpec`) onto OpenAPI definition names.

use std::sync::OnceLock;

/// The patch metadata of one field of one definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatchField {
    /// The OpenAPI definition name of the struct, e.g. `io.k8s.api.core.v1.PodSpec`.
    pub(crate) definition: String,
    /// The JSON name of the field.
    pub(crate) field: &'static str,
    /// `x-kubernetes-patch-strategy` (`merge`, `merge,retainKeys`, `retainKeys`, `replace`).
    pub(crate) strategy: &'static str,
    /// `x-kubernetes-patch-merge-key`, if any.
    pub(crate) merge_key: Option<&'static str>,
}

/// Every field of the table that has a patch strategy.
pub(crate) fn fields() -> &'static [PatchField] {
    static FIELDS: OnceLock<Vec<PatchField>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        wharf_api::patch::strategy_table()
            .into_iter()
            .filter_map(|f| {
                Some(PatchField { definition: definition_name(f.go_type)?, field: f.field, strategy: f.strategy, merge_key: f.merge_key })
            })
            .collect()
    })
}

/// The OpenAPI definition name of a Go type named as the table names it (`core/v1.PodSpec`).
fn definition_name(go_type: &str) -> Option<String> {
    let (package, name) = go_type.split_once('.')?;
    let (group, version) = package.split_once('/')?;
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    if !valid(group) || !valid(version) || !valid(name) {
        return None;
    }
    Some(match group {
        "meta" => format!("io.k8s.apimachinery.pkg.apis.meta.{version}.{name}"),
        "apiextensions" => format!("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{name}"),
        "apiregistration" => format!("io.k8s.kube-aggregator.pkg.apis.apiregistration.{version}.{name}"),
        _ => format!("io.k8s.api.{group}.{version}.{name}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(definition: &str, field: &str) -> Option<&'static PatchField> {
        fields().iter().find(|f| f.definition == definition && f.field == field)
    }

    #[test]
    fn table_of_wharf_api_is_published_with_strategies_and_merge_keys() {
        let containers = find("io.k8s.api.core.v1.PodSpec", "containers").expect("PodSpec.containers");
        assert_eq!(containers.strategy, "merge");
        assert_eq!(containers.merge_key, Some("name"));
        let volumes = find("io.k8s.api.core.v1.PodSpec", "volumes").expect("PodSpec.volumes");
        assert_eq!(volumes.strategy, "merge,retainKeys");
        let strategy = find("io.k8s.api.apps.v1.DeploymentSpec", "strategy").expect("DeploymentSpec.strategy");
        assert_eq!((strategy.strategy, strategy.merge_key), ("retainKeys", None));
        let finalizers = find("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers").expect("finalizers");
        assert_eq!((finalizers.strategy, finalizers.merge_key), ("merge", None));
        let selector =
            find("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "selector").expect("PodDisruptionBudgetSpec.selector");
        assert_eq!(selector.strategy, "replace");
        let rules = find("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "x-kubernetes-validations")
            .expect("JSONSchemaProps.x-kubernetes-validations");
        assert_eq!(rules.merge_key, Some("rule"));
        assert!(find("io.k8s.api.apps.v1.DeploymentSpec", "template").is_none());
        assert!(fields().len() > 40, "only {} fields", fields().len());
    }

    #[test]
    fn every_go_type_of_the_table_names_a_definition() {
        let table = wharf_api::patch::strategy_table();
        for f in &table {
            assert!(definition_name(f.go_type).is_some(), "{f:?}");
        }
        assert_eq!(fields().len(), table.len());
    }
}
