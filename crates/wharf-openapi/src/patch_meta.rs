//! Patch metadata (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`) of the
//! built-in definitions, read from Wharf's own table in `wharf-api/src/patch/schema.rs`.
//!
//! That table is what the API server's strategic merge patch runs on, so publishing it keeps
//! kubectl's client-side patches and the server's merging in agreement. It is private to
//! `wharf-api` (the `patch::schema` module is not exported), so this module reads its source
//! text at compile time (`include_str!`) and parses the rows: each `static` node carries a doc
//! comment naming its Go type (`` /// `core/v1.PodSpec` ``) and rows
//! `F("field", S::Strategy, "mergeKey", …)`. Nodes without such a comment (test structs, maps,
//! the shared "metadata only" node) are skipped. Tests check that what is parsed agrees with
//! the behaviour of `wharf_api::patch::strategic_merge_patch`, so a change of the table's
//! layout that this parser no longer understands fails loudly rather than silently.

use std::sync::OnceLock;

/// The source of Wharf's patch metadata table.
const TABLE_SOURCE: &str = include_str!("../../wharf-api/src/patch/schema.rs");

/// The patch metadata of one field of one definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatchField {
    /// The OpenAPI definition name of the struct, e.g. `io.k8s.api.core.v1.PodSpec`.
    pub(crate) definition: String,
    /// The JSON name of the field.
    pub(crate) field: String,
    /// `x-kubernetes-patch-strategy` (`merge`, `merge,retainKeys`, `retainKeys`, `replace`).
    pub(crate) strategy: &'static str,
    /// `x-kubernetes-patch-merge-key`, if any.
    pub(crate) merge_key: Option<String>,
}

/// Every field of the table that has a patch strategy.
pub(crate) fn fields() -> &'static [PatchField] {
    static FIELDS: OnceLock<Vec<PatchField>> = OnceLock::new();
    FIELDS.get_or_init(|| parse(TABLE_SOURCE))
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

/// The strategy tag a `Strategy` variant stands for; `None` for no strategy.
fn strategy_tag(variant: &str) -> Option<&'static str> {
    match variant {
        "Merge" => Some("merge"),
        "MergeRetainKeys" => Some("merge,retainKeys"),
        "RetainKeys" => Some("retainKeys"),
        "Replace" => Some("replace"),
        _ => None,
    }
}

/// Parses the table source.
pub(crate) fn parse(source: &str) -> Vec<PatchField> {
    let mut out = Vec::new();
    let mut doc_type: Option<String> = None;
    let mut in_test_item = false;
    let mut body: Option<(String, String)> = None; // (definition, text so far)
    for line in source.lines() {
        let trimmed = line.trim();
        if let Some((definition, text)) = body.as_mut() {
            text.push_str(trimmed);
            text.push('\n');
            if trimmed.ends_with("};") {
                parse_rows(definition, text, &mut out);
                body = None;
            }
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]") {
            in_test_item = true;
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix("///") {
            let comment = comment.trim();
            if let Some(inner) = comment.strip_prefix('`').and_then(|c| c.strip_suffix('`')) {
                doc_type = definition_name(inner);
            } else {
                doc_type = None;
            }
            continue;
        }
        let is_node = trimmed.contains("static ") && trimmed.contains(": Node");
        if is_node {
            let definition = doc_type.take();
            let test = std::mem::take(&mut in_test_item);
            if let (Some(definition), false) = (definition, test) {
                let text = format!("{trimmed}\n");
                if trimmed.ends_with("};") {
                    parse_rows(&definition, &text, &mut out);
                } else {
                    body = Some((definition, text));
                }
            }
            continue;
        }
        if !trimmed.is_empty() {
            doc_type = None;
            in_test_item = false;
        }
    }
    out
}

/// Parses every `F("field", S::Strategy, "key", …)` row of one node's text.
fn parse_rows(definition: &str, text: &str, out: &mut Vec<PatchField>) {
    let mut rest = text;
    while let Some(at) = rest.find("F(") {
        // `F(` must start a token (not e.g. the end of another identifier).
        let preceded_by_ident = rest[..at].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        rest = &rest[at + 2..];
        if preceded_by_ident {
            continue;
        }
        let Some((field, after)) = string_literal(rest) else { continue };
        let Some(after) = after.trim_start().strip_prefix(',') else { continue };
        let Some(after) = after.trim_start().strip_prefix("S::") else { continue };
        let end = after.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(after.len());
        let variant = &after[..end];
        let Some(after) = after[end..].trim_start().strip_prefix(',') else { continue };
        let Some((key, after)) = string_literal(after) else { continue };
        rest = after;
        if let Some(strategy) = strategy_tag(variant) {
            out.push(PatchField {
                definition: definition.to_string(),
                field: field.to_string(),
                strategy,
                merge_key: (!key.is_empty()).then(|| key.to_string()),
            });
        }
    }
}

/// A `"…"` literal (without escapes) at the start of `text` (after whitespace), and the rest.
fn string_literal(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start().strip_prefix('"')?;
    let end = text.find('"')?;
    let value = &text[..end];
    (!value.contains('\\')).then_some((value, &text[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(definition: &str, field: &str) -> Option<&'static PatchField> {
        fields().iter().find(|f| f.definition == definition && f.field == field)
    }

    #[test]
    fn table_of_wharf_api_is_parsed_with_strategies_and_merge_keys() {
        let containers = find("io.k8s.api.core.v1.PodSpec", "containers").expect("PodSpec.containers");
        assert_eq!(containers.strategy, "merge");
        assert_eq!(containers.merge_key.as_deref(), Some("name"));
        let volumes = find("io.k8s.api.core.v1.PodSpec", "volumes").expect("PodSpec.volumes");
        assert_eq!(volumes.strategy, "merge,retainKeys");
        let strategy = find("io.k8s.api.apps.v1.DeploymentSpec", "strategy").expect("DeploymentSpec.strategy");
        assert_eq!((strategy.strategy, strategy.merge_key.as_deref()), ("retainKeys", None));
        let finalizers = find("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers").expect("finalizers");
        assert_eq!((finalizers.strategy, finalizers.merge_key.as_deref()), ("merge", None));
        let selector =
            find("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "selector").expect("PodDisruptionBudgetSpec.selector");
        assert_eq!(selector.strategy, "replace");
        let rules = find("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps", "x-kubernetes-validations")
            .expect("JSONSchemaProps.x-kubernetes-validations");
        assert_eq!(rules.merge_key.as_deref(), Some("rule"));
        // Fields without a strategy (they only lead to nested metadata) are not listed.
        assert!(find("io.k8s.api.apps.v1.DeploymentSpec", "template").is_none());
        // The test-only structs of the table are not listed.
        assert!(!fields().iter().any(|f| f.field == "mergingList"));
        assert!(fields().len() > 40, "only {} fields parsed", fields().len());
    }

    #[test]
    fn parser_reads_single_line_and_multi_line_nodes_and_skips_unnamed_ones() {
        let source = r#"
/// `core/v1.ServiceSpec`
static A: Node = Node { fields: &[F("ports", S::Merge, "port", None)], values: None };

/// `apps/v1.DeploymentSpec`
static B: Node = Node {
    fields: &[
        F("template", S::None, "", Some(&X)),
        F("strategy", S::RetainKeys, "", None),
    ],
    values: None,
};

/// Kinds whose only patch metadata is in `metadata`.
static C: Node = Node { fields: &[F("finalizers", S::Merge, "", None)], values: None };

#[cfg(test)]
static D: Node = Node { fields: &[F("x", S::Merge, "", None)], values: None };
"#;
        let parsed = parse(source);
        assert_eq!(
            parsed,
            vec![
                PatchField {
                    definition: "io.k8s.api.core.v1.ServiceSpec".into(),
                    field: "ports".into(),
                    strategy: "merge",
                    merge_key: Some("port".into()),
                },
                PatchField {
                    definition: "io.k8s.api.apps.v1.DeploymentSpec".into(),
                    field: "strategy".into(),
                    strategy: "retainKeys",
                    merge_key: None,
                },
            ]
        );
    }
}
