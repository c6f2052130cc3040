//! The patch algorithms of the Kubernetes API server, as pure functions over `serde_json::Value`:
//!
//! - [`json_patch`]: RFC 6902 JSON Patch (`application/json-patch+json`);
//! - [`merge_patch`]: RFC 7386 JSON Merge Patch (`application/merge-patch+json`);
//! - [`strategic_merge_patch`]: Kubernetes' strategic merge patch
//!   (`application/strategic-merge-patch+json`), with the patch metadata (`patchStrategy` and
//!   `patchMergeKey` struct tags) of the built-in kinds, applied as
//!   `k8s.io/apimachinery/pkg/util/strategicpatch` applies it on the server.
//!
//! This module owns the algorithms and the per-kind patch metadata (published through
//! [`strategy_table`] for the OpenAPI documents); it knows nothing of HTTP,
//! of content types or of the datastore. The API server picks the function from the request's
//! content type and maps a [`PatchError`] to a status with [`PatchError::status_code`].

mod rfc6902;
mod rfc7386;
mod schema;
mod strategic;

use serde_json::Value;

/// A patch that cannot be applied.
///
/// Map it to HTTP at the edge with [`PatchError::status_code`]: the API server answers
/// `Malformed` with 400 Bad Request, `Invalid` and `Conflict` (a JSON Patch `test` operation
/// that failed) with 422 Unprocessable Entity, and `UnsupportedKind` with 415 Unsupported Media
/// Type, as Kubernetes does.
///
/// Every `path` is a JSON pointer (RFC 6901) into the document being patched; the empty string
/// is the document root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document does not have the shape its patch type requires: a JSON Patch that is
    /// not an array of objects, a strategic merge patch that is not an object, or a directive
    /// (`$patch`, `$retainKeys`, `$setElementOrder/…`, `$deleteFromPrimitiveList/…`) or merge
    /// list item written wrongly.
    #[error("malformed patch at {}: {message}", at(.path))]
    Malformed {
        /// Where in the document the malformed part of the patch applies.
        path: String,
        /// What is wrong, lowercase.
        message: String,
    },
    /// The patch is well-formed but cannot be applied to this document: a JSON Patch operation
    /// whose target does not exist or whose pointer is bad, or a strategic merge patch that meets
    /// values it cannot merge (items without their merge key, lists of lists, mixed item types).
    #[error("cannot apply patch at {}: {message}", at(.path))]
    Invalid {
        /// Where in the document the patch failed.
        path: String,
        /// Why, lowercase.
        message: String,
    },
    /// A JSON Patch `test` operation found a different value, or no value, at its path.
    #[error("test operation failed at {}: {message}", at(.path))]
    Conflict {
        /// The path the `test` operation tested.
        path: String,
        /// The difference found, lowercase.
        message: String,
    },
    /// There is no strategic merge patch metadata for this kind (custom resources, or a
    /// built-in kind not in the tables).
    #[error("strategic merge patch is not supported for kind {kind:?} in api group {group:?}")]
    UnsupportedKind {
        /// The API group asked for ("" for core).
        group: String,
        /// The kind asked for.
        kind: String,
    },
}

impl PatchError {
    /// The HTTP status the API server answers with for this error, as Kubernetes does:
    /// 400 for `Malformed`, 422 for `Invalid` and `Conflict`, 415 for `UnsupportedKind`.
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::Malformed { .. } => 400,
            PatchError::Invalid { .. } | PatchError::Conflict { .. } => 422,
            PatchError::UnsupportedKind { .. } => 415,
        }
    }

    /// The JSON pointer of the place the error is about, if it is about a place.
    pub fn path(&self) -> Option<&str> {
        match self {
            PatchError::Malformed { path, .. }
            | PatchError::Invalid { path, .. }
            | PatchError::Conflict { path, .. } => Some(path),
            PatchError::UnsupportedKind { .. } => None,
        }
    }

    /// A [`PatchError::Malformed`] at `path`.
    pub(crate) fn malformed(path: impl Into<String>, message: impl Into<String>) -> Self {
        PatchError::Malformed { path: path.into(), message: message.into() }
    }

    /// A [`PatchError::Invalid`] at `path`.
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        PatchError::Invalid { path: path.into(), message: message.into() }
    }

    /// A [`PatchError::Conflict`] at `path`.
    pub(crate) fn conflict(path: impl Into<String>, message: impl Into<String>) -> Self {
        PatchError::Conflict { path: path.into(), message: message.into() }
    }
}

/// How a path reads in an error message.
fn at(path: &str) -> String {
    if path.is_empty() {
        "the document root".to_string()
    } else {
        format!("{path:?}")
    }
}

/// `path` extended by one object key or array index, escaped as RFC 6901 requires.
pub(crate) fn child_path(path: &str, token: &str) -> String {
    let mut out = String::with_capacity(path.len() + token.len() + 1);
    out.push_str(path);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

/// RFC 6902 JSON Patch: applies the operations of `patch` (an array of `add`, `remove`,
/// `replace`, `move`, `copy` and `test` operations) to a copy of `doc`, in order, and returns
/// the result; if any operation fails, nothing is applied.
///
/// Paths are RFC 6901 JSON pointers (`~0` is `~`, `~1` is `/`); `-` as the last token of an
/// `add` path appends to an array. `test` compares by JSON value (numbers by numeric value,
/// objects regardless of member order).
///
/// Errors: [`PatchError::Malformed`] when `patch` is not an array of objects (Kubernetes fails
/// to decode such a patch, 400); [`PatchError::Conflict`] when a `test` fails;
/// [`PatchError::Invalid`] for any other operation that cannot be applied (unknown `op`, missing
/// member, bad pointer, missing target), which Kubernetes answers with 422.
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    rfc6902::apply(doc, patch)
}

/// RFC 7386 JSON Merge Patch: a patch that is an object is merged into `doc` member by member
/// (`null` deletes the member, objects merge recursively, any other value replaces); a patch
/// that is not an object replaces the document. Existing members keep their order; new members
/// are appended in the patch's order.
pub fn merge_patch(doc: &Value, patch: &Value) -> Value {
    rfc7386::apply(doc, patch)
}

/// Kubernetes strategic merge patch for a built-in kind. `group` is the API group ("" for
/// core), `kind` e.g. "Deployment".
///
/// Behaves as `strategicpatch.StrategicMergeMapPatch` does in the API server: maps merge
/// recursively and `null` deletes a key; lists whose field has `patchStrategy:"merge"` merge by
/// their `patchMergeKey` (lists of objects) or as sets (lists of primitives), other lists are
/// replaced; maps with `patchStrategy:"replace"` are replaced. The directives `$patch: replace`
/// / `$patch: delete` (in maps and in merge list items), `$retainKeys`, `$setElementOrder/<field>`
/// and `$deleteFromPrimitiveList/<field>` are honoured; `$patch: merge` is refused, as Kubernetes
/// refuses it, and (as in Kubernetes) a map carrying `$patch` for a key the object does not have
/// is dropped rather than added.
///
/// Merged lists are ordered as Kubernetes orders them, which is not "existing items first": the
/// items the patch names come in the patch's order, the items only the object has keep the
/// object's order, and the two are interleaved, an object-only item going before the next patch
/// item only when both are in the object's list and it comes first there. So a lone new item
/// comes first (`[new, a, b]`), and a new item named after an existing one follows it.
/// `$setElementOrder/<field>` orders the items it names in the same way, before the others.
///
/// Directive keys never appear in the result, and `null` members of values the patch adds are
/// dropped, as decoding the result into the Go type does in Kubernetes.
///
/// Returns [`PatchError::UnsupportedKind`] for kinds without patch metadata (custom resources:
/// the server answers 415 then, as Kubernetes does).
pub fn strategic_merge_patch(doc: &Value, patch: &Value, group: &str, kind: &str) -> Result<Value, PatchError> {
    let schema = schema::Schema::for_kind(group, kind)
        .ok_or_else(|| PatchError::UnsupportedKind { group: group.to_string(), kind: kind.to_string() })?;
    strategic::apply(doc, patch, schema)
}

/// Whether [`strategic_merge_patch`] has patch metadata for this kind (when it does not, it
/// returns [`PatchError::UnsupportedKind`]).
pub fn supports_strategic_merge_patch(group: &str, kind: &str) -> bool {
    schema::Schema::for_kind(group, kind).is_some()
}

/// The patch metadata of one field of a built-in Go type: what its OpenAPI definition
/// publishes as `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchField {
    /// The Go type as `group/version.Name`: `core/v1.PodSpec`, `meta/v1.ObjectMeta`,
    /// `apiextensions/v1.JSONSchemaProps`.
    pub go_type: &'static str,
    /// The JSON name of the field.
    pub field: &'static str,
    /// The patch strategy: `merge`, `merge,retainKeys`, `retainKeys` or `replace`.
    pub strategy: &'static str,
    /// The merge key of a merged list of objects.
    pub merge_key: Option<&'static str>,
}

/// Every field with a patch strategy in the metadata [`strategic_merge_patch`] runs on, once
/// per Go type (fields that only lead to nested metadata are not listed).
pub fn strategy_table() -> Vec<PatchField> {
    schema::patch_fields()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_errors_should_map_to_the_http_statuses_kubernetes_answers_with() {
        let cases = [
            (PatchError::malformed("", "x"), 400),
            (PatchError::invalid("/a", "x"), 422),
            (PatchError::conflict("/a", "x"), 422),
            (PatchError::UnsupportedKind { group: "example.com".into(), kind: "Foo".into() }, 415),
        ];
        for (error, status) in cases {
            assert_eq!(error.status_code(), status, "{error}");
        }
    }

    #[test]
    fn patch_error_messages_should_be_lowercase_and_name_the_path() {
        let cases = [
            (PatchError::invalid("/spec/containers", "boom"), "cannot apply patch at \"/spec/containers\": boom"),
            (PatchError::malformed("", "not an object"), "malformed patch at the document root: not an object"),
            (PatchError::conflict("/a~1b", "differs"), "test operation failed at \"/a~1b\": differs"),
            (
                PatchError::UnsupportedKind { group: "example.com".into(), kind: "Widget".into() },
                "strategic merge patch is not supported for kind \"Widget\" in api group \"example.com\"",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn child_path_should_escape_tilde_and_slash_as_rfc_6901_requires() {
        assert_eq!(child_path("", "a/b~c"), "/a~1b~0c");
        assert_eq!(child_path("/x", "0"), "/x/0");
    }

    #[test]
    fn supports_strategic_merge_patch_should_know_every_builtin_kind_and_no_custom_one() {
        // Review kinds are create-only and never patched.
        for info in crate::resources::builtin().into_iter().filter(|i| !crate::resources::REVIEW_GROUPS.contains(&i.group.as_str())) {
            assert!(supports_strategic_merge_patch(&info.group, &info.kind), "{}/{}", info.group, info.kind);
        }
        assert!(!supports_strategic_merge_patch("example.com", "Widget"));
        assert!(!supports_strategic_merge_patch("", "Deployment"));
    }
}
