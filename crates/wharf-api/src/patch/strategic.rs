//! Applying a Kubernetes strategic merge patch, with the semantics of
//! `k8s.io/apimachinery/pkg/util/strategicpatch` as the API server uses it
//! (`StrategicMergeMapPatch`: parallel lists merged, unmatched `null`s ignored).
//!
//! Where Kubernetes keeps raw patch content in its intermediate map (nulls and directives
//! inside values the patch adds or replaces wholesale) and relies on decoding into the Go type
//! to drop them, this implementation drops them itself, since Wharf stores the map.

use super::schema::{FieldMeta, Schema};
use super::{child_path, PatchError};
use serde_json::{Map, Value};

/// `$patch`: `replace` or `delete` a map or a merge list item (`merge` is refused).
const DIRECTIVE: &str = "$patch";
/// `$retainKeys`: the keys of the map to keep; every other key of the object is cleared.
const RETAIN_KEYS: &str = "$retainKeys";
/// `$deleteFromPrimitiveList/<field>`: values to remove from a list of primitives.
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
/// `$setElementOrder/<field>`: the order of the merged list.
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

type Object = Map<String, Value>;

/// Applies `patch` to a copy of `doc`, whose root has the schema `root`.
pub(super) fn apply(doc: &Value, patch: &Value, root: Schema) -> Result<Value, PatchError> {
    let patch = match patch {
        Value::Object(patch) => patch.clone(),
        // Kubernetes decodes a `null` patch into an empty one.
        Value::Null => return Ok(doc.clone()),
        _ => return Err(PatchError::malformed("", "a strategic merge patch must be a json object")),
    };
    let original = match doc {
        Value::Object(doc) => doc.clone(),
        Value::Null => Object::new(),
        _ => return Err(PatchError::invalid("", "the document to patch is not a json object")),
    };
    merge_map(original, patch, root, "").map(Value::Object)
}

/// The JSON type of a value as Go's `reflect.TypeOf` sees a decoded one: integers and floats
/// are different types, and values of different types are never merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Int,
    Float,
    String,
    List,
    Map,
}

fn kind_of(value: &Value) -> Kind {
    match value {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        Value::Number(n) if n.is_i64() => Kind::Int,
        Value::Number(_) => Kind::Float,
        Value::String(_) => Kind::String,
        Value::Array(_) => Kind::List,
        Value::Object(_) => Kind::Map,
    }
}

/// Merges the map `patch` into the map `original` (Go's `mergeMap`).
fn merge_map(mut original: Object, mut patch: Object, schema: Schema, path: &str) -> Result<Object, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE);
                Ok(clean_map(patch))
            }
            Some("delete") => Ok(Object::new()),
            _ => Err(PatchError::malformed(
                path,
                format!("unknown patch type {directive} in a map: expected \"replace\" or \"delete\""),
            )),
        };
    }

    apply_retain_keys(&mut original, &mut patch, path)?;
    apply_set_element_order(&mut original, &mut patch, schema, path)?;

    for (key, patch_value) in patch {
        let (key, delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(rest) => match rest.strip_prefix('/') {
                Some(field) => (field.to_string(), true),
                None => {
                    return Err(PatchError::malformed(
                        path,
                        format!("invalid patch format of primitive list: {key:?} must be \"{DELETE_FROM_PRIMITIVE_LIST}/<field>\""),
                    ))
                }
            },
            None => (key, false),
        };

        // `null` deletes the key; a `null` for a key the object does not have is ignored.
        if patch_value.is_null() {
            original.shift_remove(&key);
            continue;
        }

        let Some(current) = original.get_mut(&key) else {
            // Not in the object: take the patch's value (a deletion list has nothing to delete).
            if !delete_list {
                if let Some(value) = clean(patch_value) {
                    original.insert(key, value);
                }
            }
            continue;
        };

        if kind_of(current) != kind_of(&patch_value) {
            if !delete_list {
                match clean(patch_value) {
                    Some(value) => *current = value,
                    None => {
                        original.shift_remove(&key);
                    }
                }
            }
            continue;
        }

        let field_path = child_path(path, &key);
        match (std::mem::take(current), patch_value) {
            (Value::Object(current_map), Value::Object(patch_map)) => {
                let meta = schema.field(&key);
                *current = Value::Object(if meta.replaces_maps() {
                    clean_map(patch_map)
                } else {
                    merge_map(current_map, patch_map, meta.schema, &field_path)?
                });
            }
            (Value::Array(current_list), Value::Array(patch_list)) => {
                let meta = schema.field(&key);
                *current = Value::Array(if meta.merges_lists() || delete_list {
                    merge_list(current_list, patch_list, meta, delete_list, &field_path)?
                } else {
                    clean_list(patch_list)
                });
            }
            (_, scalar) => *current = scalar,
        }
    }
    Ok(original)
}

/// `$retainKeys`: checks that the patch sets only retained keys, then clears every other key
/// of `original` (Go's `applyRetainKeysDirective`).
fn apply_retain_keys(original: &mut Object, patch: &mut Object, path: &str) -> Result<(), PatchError> {
    let Some(retained) = patch.shift_remove(RETAIN_KEYS) else { return Ok(()) };
    let Value::Array(retained) = retained else {
        return Err(PatchError::malformed(path, "invalid patch format of retainKeys: $retainKeys must be a list"));
    };
    let is_retained = |key: &str| retained.iter().any(|k| k.as_str() == Some(key));
    for (key, value) in patch.iter() {
        if value.is_null() || key.starts_with(DELETE_FROM_PRIMITIVE_LIST) || key.starts_with(SET_ELEMENT_ORDER) {
            continue;
        }
        if !is_retained(key) {
            return Err(PatchError::malformed(
                path,
                format!("invalid patch format of retainKeys: the patch sets {key:?}, which $retainKeys does not list"),
            ));
        }
    }
    original.retain(|key, _| is_retained(key));
    Ok(())
}

/// `$setElementOrder/<field>`: merges the patch's list for each such field into the object's
/// and orders the result (Go's `mergePatchIntoOriginal`). The order it sets takes precedence
/// over the order in the patch list, which takes precedence over the order in the object.
fn apply_set_element_order(
    original: &mut Object,
    patch: &mut Object,
    schema: Schema,
    path: &str,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch.keys().filter(|k| k.starts_with(SET_ELEMENT_ORDER)).cloned().collect();
    for key in keys {
        let Some(order) = patch.shift_remove(&key) else { continue };
        let field = key[SET_ELEMENT_ORDER.len()..].strip_prefix('/').map(str::to_string).ok_or_else(|| {
            PatchError::malformed(
                path,
                format!(
                    "invalid patch format of setElementOrder list: {key:?} must be \"{SET_ELEMENT_ORDER}/<field>\""
                ),
            )
        })?;
        let field_path = child_path(path, &field);
        let Value::Array(order) = order else {
            return Err(PatchError::malformed(
                field_path,
                format!("invalid patch format of setElementOrder list: {key} must be a list"),
            ));
        };

        let original_list = match original.get(&field) {
            None => None,
            Some(Value::Array(list)) => Some(list.clone()),
            Some(_) => {
                return Err(PatchError::invalid(field_path, format!("{key} applies to a field that is not a list")));
            }
        };
        let patch_list = match patch.shift_remove(&field) {
            None => None,
            Some(Value::Array(list)) => Some(list),
            Some(_) => {
                return Err(PatchError::malformed(
                    field_path,
                    format!("{key} comes with a value for the field that is not a list"),
                ));
            }
        };

        let meta = schema.field(&field);
        check_order_matches_patch(patch_list.as_deref().unwrap_or_default(), &order, meta.merge_key, &field_path)?;
        let kind = element_kind(
            original_list.as_deref().unwrap_or_default(),
            patch_list.as_deref().unwrap_or_default(),
            &field_path,
        )?;

        let server_order = original_list.clone().unwrap_or_default();
        let merged = match (original_list, patch_list) {
            (Some(current), None) => current,
            (None, Some(patch_list)) => clean_list(patch_list),
            (Some(current), Some(patch_list)) if meta.merges_lists() => {
                merge_list(current, patch_list, meta, false, &field_path)?
            }
            (Some(_), Some(patch_list)) => clean_list(patch_list),
            (None, None) => continue,
        };

        // Kubernetes fails here on a list with no items at all; there is nothing to order.
        let ordered = match kind {
            None => merged,
            Some(kind) => {
                let (named, server_only) = partition(merged, &order, meta.merge_key, &field_path)?;
                normalize_order(named, server_only, &order, &server_order, meta.merge_key, kind, &field_path)?
            }
        };
        original.insert(field, Value::Array(ordered));
    }
    Ok(())
}

/// Checks that the items of the patch list appear in `$setElementOrder` in the same relative
/// order (Go's `validatePatchWithSetOrderList`); items deleted or carrying `$patch` are skipped.
fn check_order_matches_patch(
    patch_list: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
    path: &str,
) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let items: Vec<&Value> = match merge_key {
        Some(_) => {
            let mut kept = Vec::with_capacity(patch_list.len());
            for item in patch_list {
                let Value::Object(map) = item else {
                    return Err(PatchError::malformed(
                        path,
                        format!("expected an object in a list merged by key, found {item}"),
                    ));
                };
                if map.get(DIRECTIVE).and_then(Value::as_str) != Some("delete") {
                    kept.push(item);
                }
            }
            kept
        }
        None => patch_list.iter().collect(),
    };
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        if items[p].as_object().is_some_and(|m| m.contains_key(DIRECTIVE)) {
            p += 1;
            continue;
        }
        if same_item(items[p], &order[o], merge_key, path)? {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() {
        return Err(PatchError::malformed(
            path,
            "the order of the items in the patch list doesn't match the $setElementOrder list",
        ));
    }
    Ok(())
}

/// Whether two items are the same list entry: by value, or by merge key (Go's
/// `mergeKeyValueEqual`).
fn same_item(a: &Value, b: &Value, merge_key: Option<&str>, path: &str) -> Result<bool, PatchError> {
    let Some(key) = merge_key else { return Ok(a == b) };
    Ok(merge_key_value(a, key, path, Blame::Patch)? == merge_key_value(b, key, path, Blame::Patch)?)
}

/// Which side a value that breaks the patch's expectations came from.
#[derive(Debug, Clone, Copy)]
enum Blame {
    /// The patch: the patch is malformed (400).
    Patch,
    /// The object being patched: the patch cannot be applied to it (422).
    Object,
}

impl Blame {
    fn error(self, path: &str, message: String) -> PatchError {
        match self {
            Blame::Patch => PatchError::malformed(path, message),
            Blame::Object => PatchError::invalid(path, message),
        }
    }
}

/// The merge key's value of a list item that must have one.
fn merge_key_value<'a>(item: &'a Value, key: &str, path: &str, blame: Blame) -> Result<&'a Value, PatchError> {
    let Value::Object(map) = item else {
        return Err(blame.error(path, format!("expected an object in a list merged by {key:?}, found {item}")));
    };
    map.get(key).ok_or_else(|| blame.error(path, format!("map: {item} does not contain declared merge key: {key}")))
}

/// The kind of the items of both lists, which must all be of one kind and not lists (Go's
/// `sliceElementType`); `None` when neither list has an item.
fn element_kind(a: &[Value], b: &[Value], path: &str) -> Result<Option<Kind>, PatchError> {
    let mut found = None;
    for item in a.iter().chain(b) {
        let kind = kind_of(item);
        match found {
            None if kind == Kind::List => return Err(PatchError::invalid(path, "lists of lists are not supported")),
            None if kind == Kind::Null => {
                return Err(PatchError::invalid(path, "lists with null items cannot be merged"));
            }
            None => found = Some(kind),
            Some(first) if first != kind => {
                return Err(PatchError::invalid(path, "list element types are not identical"));
            }
            Some(_) => {}
        }
    }
    Ok(found)
}

/// Merges a list with `patchStrategy: merge` (or a `$deleteFromPrimitiveList`) into the
/// object's list (Go's `mergeSlice`).
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    meta: FieldMeta,
    delete_list: bool,
    path: &str,
) -> Result<Vec<Value>, PatchError> {
    let Some(kind) = element_kind(&original, &patch, path)? else { return Ok(original) };

    if kind != Kind::Map {
        if delete_list {
            return Ok(original.into_iter().filter(|item| !patch.contains(item)).collect());
        }
        // A set union; the order is settled below.
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for item in original.iter().chain(&patch) {
            if !merged.contains(item) {
                merged.push(item.clone());
            }
        }
        let (named, server_only) = partition(merged, &patch, meta.merge_key, path)?;
        return normalize_order(named, server_only, &patch, &original, meta.merge_key, kind, path);
    }

    let Some(merge_key) = meta.merge_key else {
        return Err(PatchError::invalid(path, "cannot merge a list of objects without a merge key"));
    };
    let (original, patch) = apply_list_directives(original, patch, merge_key, path)?;
    let merged = merge_items(original.clone(), &patch, merge_key, meta.schema, path)?;
    let (named, server_only) = partition(merged, &patch, Some(merge_key), path)?;
    normalize_order(named, server_only, &patch, &original, Some(merge_key), kind, path)
}

/// Handles the items of a merge list that carry `$patch` (Go's `mergeSliceWithSpecialElements`):
/// `delete` removes the object's items with that merge key value, `replace` makes the patch's
/// other items the whole list. Returns the object's list and the patch's remaining items.
fn apply_list_directives(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    path: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.as_object().and_then(|m| m.get(DIRECTIVE)) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let value = merge_key_value(&item, merge_key, path, Blame::Patch)?;
                original.retain(|o| o.as_object().and_then(|o| o.get(merge_key)) != Some(value));
            }
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(PatchError::malformed(path, "merging lists cannot yet be specified in the patch"));
            }
            _ => {
                return Err(PatchError::malformed(
                    path,
                    format!("unknown patch type {directive} in a list item: expected \"replace\" or \"delete\""),
                ));
            }
        }
    }
    if replace {
        return Ok((clean_list(plain), Vec::new()));
    }
    Ok((original, plain))
}

/// Merges each patch item into the object's item with the same merge key value, or appends it
/// (Go's `mergeSliceWithoutSpecialElements`).
fn merge_items(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    schema: Schema,
    path: &str,
) -> Result<Vec<Value>, PatchError> {
    for item in patch {
        let value = merge_key_value(item, merge_key, path, Blame::Patch)?;
        let found = original.iter().position(|o| o.as_object().and_then(|o| o.get(merge_key)) == Some(value));
        match (found, item) {
            (Some(index), Value::Object(patch_map)) => {
                let Value::Object(current) = std::mem::take(&mut original[index]) else {
                    return Err(PatchError::invalid(path, "list element types are not identical"));
                };
                original[index] = Value::Object(merge_map(
                    current,
                    patch_map.clone(),
                    schema,
                    &child_path(path, &index.to_string()),
                )?);
            }
            _ => {
                if let Some(added) = clean(item.clone()) {
                    original.push(added);
                }
            }
        }
    }
    Ok(original)
}

/// The key an item is compared by: its merge key's value for objects, itself otherwise (Go's
/// `index`); a missing key compares equal to a missing key, as Go's `nil == nil`.
fn order_key<'a>(item: &'a Value, merge_key: Option<&str>, kind: Kind) -> Option<&'a Value> {
    match (kind, merge_key) {
        (Kind::Map, Some(key)) => item.as_object().and_then(|m| m.get(key)),
        (Kind::Map, None) => None,
        _ => Some(item),
    }
}

fn position_in(list: &[Value], item: &Value, merge_key: Option<&str>, kind: Kind) -> Option<usize> {
    let key = order_key(item, merge_key, kind);
    list.iter().position(|other| order_key(other, merge_key, kind) == key)
}

/// Splits `merged` into the items `by` names and the others, keeping their order (Go's
/// `partitionPrimitivesByPresentInList` / `partitionMapsByPresentInList`).
fn partition(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: Option<&str>,
    path: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut named = Vec::with_capacity(merged.len());
    let mut others = Vec::with_capacity(merged.len());
    for item in merged {
        let present = match merge_key {
            None => by.contains(&item),
            Some(key) => {
                let value = merge_key_value(&item, key, path, Blame::Object)?;
                let mut present = false;
                for candidate in by {
                    let Value::Object(candidate) = candidate else {
                        return Err(PatchError::malformed(
                            path,
                            format!("expected an object in a list merged by {key:?}, found {candidate}"),
                        ));
                    };
                    if candidate.get(key) == Some(value) {
                        present = true;
                        break;
                    }
                }
                present
            }
        };
        if present {
            named.push(item);
        } else {
            others.push(item);
        }
    }
    Ok((named, others))
}

/// Orders the merged list (Go's `normalizeElementOrder`): the items the patch (or
/// `$setElementOrder`) names in its order, the items only the object has in the object's
/// order, then both interleaved by their positions in the object's list.
fn normalize_order(
    named: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
    kind: Kind,
    path: &str,
) -> Result<Vec<Value>, PatchError> {
    let named = sort_by_order(named, patch_order, Blame::Patch, merge_key, kind, path)?;
    let server_only = sort_by_order(server_only, server_order, Blame::Object, merge_key, kind, path)?;
    Ok(merge_sorted(server_only, named, server_order, merge_key, kind))
}

/// Sorts `items` stably by their positions in `order` (Go's `normalizeSliceOrder`); for lists
/// of objects every item must have the merge key, and items marked `$patch: delete` go last.
fn sort_by_order(
    items: Vec<Value>,
    order: &[Value],
    order_from: Blame,
    merge_key: Option<&str>,
    kind: Kind,
    path: &str,
) -> Result<Vec<Value>, PatchError> {
    let mut deleted = Vec::new();
    let mut items = if kind == Kind::Map {
        let Some(key) = merge_key else {
            return Err(PatchError::invalid(path, "cannot order a list of objects without a merge key"));
        };
        for item in &items {
            merge_key_value(item, key, path, Blame::Object)?;
        }
        for item in order {
            merge_key_value(item, key, path, order_from)?;
        }
        let (kept, to_delete): (Vec<Value>, Vec<Value>) = items.into_iter().partition(|item| {
            item.as_object().and_then(|m| m.get(DIRECTIVE)).and_then(Value::as_str) != Some("delete")
        });
        deleted = to_delete;
        kept
    } else {
        items
    };
    // Items `order` does not name (which the callers never pass) go last.
    items.sort_by_cached_key(|item| position_in(order, item, merge_key, kind).unwrap_or(usize::MAX));
    items.extend(deleted);
    Ok(items)
}

/// Interleaves the object-only items (`left`) into the patch's items (`right`), both already
/// ordered, keeping the relative order of each (Go's `mergeSortedSlice`): an object-only item
/// goes first only when both it and the next patch item are in the object's list and it came
/// first there.
fn merge_sorted(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: Option<&str>,
    kind: Kind,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                match (position_in(server_order, l, merge_key, kind), position_in(server_order, r, merge_key, kind)) {
                    (Some(li), Some(ri)) => li < ri,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// Whether a key is a patch directive rather than a field.
fn is_directive_key(key: &str) -> bool {
    key == DIRECTIVE
        || key == RETAIN_KEYS
        || key.starts_with(SET_ELEMENT_ORDER)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

/// A value the patch adds as is, without what only makes sense in a patch: `None` for a map
/// carrying `$patch` (Go's `removeDirectives` drops those), maps without `null` members
/// (Go's `discardNullValuesFromPatch`) nor directive keys, recursively.
fn clean(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) if map.contains_key(DIRECTIVE) => None,
        Value::Object(map) => Some(Value::Object(clean_map(map))),
        Value::Array(list) => Some(Value::Array(clean_list(list))),
        other => Some(other),
    }
}

fn clean_map(map: Object) -> Object {
    map.into_iter()
        .filter(|(key, value)| !value.is_null() && !is_directive_key(key))
        .filter_map(|(key, value)| clean(value).map(|value| (key, value)))
        .collect()
}

fn clean_list(list: Vec<Value>) -> Vec<Value> {
    list.into_iter().filter_map(clean).collect()
}

#[cfg(test)]
mod tests {
    use super::super::schema::merge_item_for_tests;
    use super::super::{strategic_merge_patch, PatchError};
    use super::apply;
    use serde_json::{json, Value};

    fn patched(group: &str, kind: &str, doc: &Value, patch: &Value) -> Value {
        match strategic_merge_patch(doc, patch, group, kind) {
            Ok(v) => v,
            Err(e) => panic!("{group}/{kind}: patch {patch} on {doc} failed: {e}"),
        }
    }

    fn failed(group: &str, kind: &str, doc: &Value, patch: &Value) -> PatchError {
        match strategic_merge_patch(doc, patch, group, kind) {
            Ok(v) => panic!("{group}/{kind}: patch {patch} on {doc} should fail, gave {v}"),
            Err(e) => e,
        }
    }

    fn keys(v: &Value) -> Vec<String> {
        v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    fn deployment(containers: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": containers}}}
        })
    }

    fn containers_of(deployment: &Value) -> Value {
        deployment["spec"]["template"]["spec"]["containers"].clone()
    }

    #[test]
    fn strategic_merge_should_merge_containers_by_name_and_keep_unpatched_ones() {
        let doc = deployment(json!([
            {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "envoy"}
        ]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}});
        let out = patched("apps", "Deployment", &doc, &patch);
        assert_eq!(
            containers_of(&out),
            json!([
                {"name": "web", "image": "nginx:2", "ports": [{"containerPort": 80}]},
                {"name": "sidecar", "image": "envoy"}
            ])
        );
        assert_eq!(out["spec"]["replicas"], json!(1));
        assert_eq!(out["metadata"], doc["metadata"]);
    }

    #[test]
    fn strategic_merge_should_put_a_lone_new_container_first_as_kubernetes_does() {
        // The "update a Deployment using a strategic merge patch" example of the Kubernetes
        // documentation: the added container comes out before the existing one.
        let doc = deployment(json!([{"name": "patch-demo-ctr", "image": "nginx"}]));
        let patch =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}}}});
        let out = patched("apps", "Deployment", &doc, &patch);
        assert_eq!(
            containers_of(&out),
            json!([{"name": "patch-demo-ctr-2", "image": "redis"}, {"name": "patch-demo-ctr", "image": "nginx"}])
        );
    }

    #[test]
    fn strategic_merge_should_order_merged_lists_as_kubernetes_does() {
        // (name, object's list, patch list, result) for metadata.finalizers (primitives) and
        // containers (objects merged by name).
        let finalizers = [
            ("new value comes first", json!(["a", "b"]), json!(["c"]), json!(["c", "a", "b"])),
            ("new value after a named existing one", json!(["a", "b"]), json!(["b", "c"]), json!(["a", "b", "c"])),
            (
                "appended after the last named one",
                json!(["a", "b", "c"]),
                json!(["c", "d"]),
                json!(["a", "b", "c", "d"]),
            ),
            (
                "patch order wins for named values",
                json!(["a", "b", "c"]),
                json!(["d", "a"]),
                json!(["d", "a", "b", "c"]),
            ),
            ("duplicates collapse", json!(["a", "a", "b"]), json!(["b", "b"]), json!(["a", "b"])),
            ("into an empty list", json!([]), json!(["a"]), json!(["a"])),
        ];
        for (name, current, patch, want) in finalizers {
            let doc = json!({"metadata": {"name": "x", "finalizers": current}});
            let out = patched("", "ConfigMap", &doc, &json!({"metadata": {"finalizers": patch}}));
            assert_eq!(out["metadata"]["finalizers"], want, "finalizers: {name}");
        }

        let c = |name: &str| json!({"name": name});
        let containers = [
            (
                "patch order wins for named items",
                json!([c("x"), c("y"), c("z")]),
                json!([c("z"), c("x")]),
                json!([c("y"), c("z"), c("x")]),
            ),
            (
                "new item after a named one",
                json!([c("x"), c("y"), c("z")]),
                json!([c("y"), c("w")]),
                json!([c("x"), c("y"), c("w"), c("z")]),
            ),
            ("several new items first", json!([c("x")]), json!([c("b"), c("a")]), json!([c("b"), c("a"), c("x")])),
        ];
        for (name, current, patch, want) in containers {
            let out = patched(
                "apps",
                "Deployment",
                &deployment(current),
                &json!({"spec": {"template": {"spec": {"containers": patch}}}}),
            );
            assert_eq!(containers_of(&out), want, "containers: {name}");
        }
    }

    #[test]
    fn strategic_merge_should_merge_env_by_name_and_delete_with_a_patch_delete_directive() {
        let doc = deployment(json!([{
            "name": "app",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}]
        }]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [{
            "name": "app",
            "env": [{"name": "B", "$patch": "delete"}, {"name": "A", "value": "10"}, {"name": "D", "value": "4"}]
        }]}}}});
        let out = patched("apps", "Deployment", &doc, &patch);
        assert_eq!(
            containers_of(&out),
            json!([{
                "name": "app",
                "env": [{"name": "A", "value": "10"}, {"name": "D", "value": "4"}, {"name": "C", "value": "3"}]
            }])
        );
    }

    #[test]
    fn strategic_merge_should_merge_service_ports_by_port() {
        let doc = json!({"spec": {
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "https", "port": 443, "targetPort": 8443}]
        }});
        let patch = json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}});
        let out = patched("", "Service", &doc, &patch);
        assert_eq!(
            out["spec"]["ports"],
            json!([{"name": "http", "port": 80, "targetPort": 9090}, {"name": "https", "port": 443, "targetPort": 8443}])
        );
        assert_eq!(out["spec"]["selector"], json!({"app": "web"}));
    }

    #[test]
    fn strategic_merge_should_replace_lists_without_a_merge_strategy() {
        // (group, kind, object, patch, result)
        let cases = [
            (
                "apps",
                "Deployment",
                json!({"spec": {"template": {"spec": {"tolerations": [{"key": "a", "operator": "Exists"}]}}}}),
                json!({"spec": {"template": {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}}}),
                json!({"spec": {"template": {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}}}),
            ),
            (
                "",
                "Node",
                json!({"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]}}),
                json!({"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]}}),
                json!({"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]}}),
            ),
            (
                "",
                "Pod",
                json!({"spec": {"containers": [{"name": "c", "args": ["a", "b"], "envFrom": [{"configMapRef": {"name": "x"}}]}]}}),
                json!({"spec": {"containers": [{"name": "c", "args": ["z"], "envFrom": [{"secretRef": {"name": "y"}}]}]}}),
                json!({"spec": {"containers": [{"name": "c", "args": ["z"], "envFrom": [{"secretRef": {"name": "y"}}]}]}}),
            ),
            (
                "",
                "Endpoints",
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]}),
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.2"}]}]}),
                json!({"subsets": [{"addresses": [{"ip": "10.0.0.2"}]}]}),
            ),
            (
                "rbac.authorization.k8s.io",
                "Role",
                json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
                json!({"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]}),
                json!({"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]}),
            ),
            (
                "",
                "Service",
                json!({"spec": {"externalIPs": ["1.1.1.1"]}}),
                json!({"spec": {"externalIPs": ["2.2.2.2"]}}),
                json!({"spec": {"externalIPs": ["2.2.2.2"]}}),
            ),
            (
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                json!({"spec": {"versions": [{"name": "v1", "served": true}]}}),
                json!({"spec": {"versions": [{"name": "v2", "served": true}]}}),
                json!({"spec": {"versions": [{"name": "v2", "served": true}]}}),
            ),
        ];
        for (group, kind, doc, patch, want) in cases {
            assert_eq!(patched(group, kind, &doc, &patch), want, "{group}/{kind}");
        }
    }

    #[test]
    fn strategic_merge_should_use_the_patch_metadata_of_each_builtin_kind() {
        // (group, kind, object, patch, result)
        let cases = [
            (
                "",
                "Pod",
                json!({"spec": {"initContainers": [{"name": "init", "image": "a"}], "containers": [{"name": "c"}]}}),
                json!({"spec": {"initContainers": [{"name": "init", "image": "b"}]}}),
                json!({"spec": {"initContainers": [{"name": "init", "image": "b"}], "containers": [{"name": "c"}]}}),
            ),
            (
                "",
                "Pod",
                json!({"spec": {"volumes": [{"name": "data", "emptyDir": {}}]}}),
                json!({"spec": {"volumes": [{"name": "cfg", "configMap": {"name": "c"}}]}}),
                json!({"spec": {"volumes": [{"name": "cfg", "configMap": {"name": "c"}}, {"name": "data", "emptyDir": {}}]}}),
            ),
            (
                "",
                "Pod",
                json!({"spec": {"containers": [{"name": "c", "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}]}]}}),
                json!({"spec": {"containers": [{"name": "c", "volumeMounts": [{"name": "data2", "mountPath": "/data"}]}]}}),
                json!({"spec": {"containers": [{"name": "c", "volumeMounts": [{"name": "data2", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}]}]}}),
            ),
            (
                "",
                "Pod",
                json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http"}], "volumeDevices": [{"name": "d", "devicePath": "/dev/a"}]}]}}),
                json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "protocol": "TCP"}], "volumeDevices": [{"name": "e", "devicePath": "/dev/a"}]}]}}),
                json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}], "volumeDevices": [{"name": "e", "devicePath": "/dev/a"}]}]}}),
            ),
            (
                "",
                "Pod",
                json!({"spec": {"imagePullSecrets": [{"name": "a"}], "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a"]}]}}),
                json!({"spec": {"imagePullSecrets": [{"name": "b"}], "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["b"]}]}}),
                json!({"spec": {"imagePullSecrets": [{"name": "b"}, {"name": "a"}], "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["b"]}]}}),
            ),
            (
                "",
                "Pod",
                json!({"spec": {"topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 1}], "ephemeralContainers": [{"name": "debug", "image": "busybox"}]}}),
                json!({"spec": {"topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}], "ephemeralContainers": [{"name": "debug", "tty": true}]}}),
                json!({"spec": {"topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}], "ephemeralContainers": [{"name": "debug", "image": "busybox", "tty": true}]}}),
            ),
            (
                "",
                "Pod",
                json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]}}),
                json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
                json!({"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}}),
            ),
            (
                "",
                "Pod",
                // A generic ephemeral volume's claim template carries an ObjectMeta of its own.
                json!({"spec": {"volumes": [{"name": "v", "ephemeral": {"volumeClaimTemplate": {"metadata": {"finalizers": ["a"]}}}}]}}),
                json!({"spec": {"volumes": [{"name": "v", "ephemeral": {"volumeClaimTemplate": {"metadata": {"finalizers": ["b"]}}}}]}}),
                json!({"spec": {"volumes": [{"name": "v", "ephemeral": {"volumeClaimTemplate": {"metadata": {"finalizers": ["b", "a"]}}}}]}}),
            ),
            (
                "",
                "PodTemplate",
                json!({"template": {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}),
                json!({"template": {"metadata": {"labels": {"b": "2"}}, "spec": {"containers": [{"name": "b", "image": "x"}]}}}),
                json!({"template": {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "a"}, {"name": "b", "image": "x"}]}}}),
            ),
            (
                "",
                "ReplicationController",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}]}}}}),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "2"}]}}}}),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "2"}]}}}}),
            ),
            (
                "apps",
                "StatefulSet",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}]}}, "volumeClaimTemplates": [{"metadata": {"name": "a"}}]}}),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}]}}, "volumeClaimTemplates": [{"metadata": {"name": "b"}}]}}),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}, {"name": "X", "value": "1"}]}]}}, "volumeClaimTemplates": [{"metadata": {"name": "b"}}]}}),
            ),
            (
                "apps",
                "DaemonSet",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}, "status": {"conditions": [{"type": "X", "status": "True"}]}}),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "i"}]}}}, "status": {"conditions": [{"type": "Y", "status": "True"}]}}),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "i"}]}}}, "status": {"conditions": [{"type": "Y", "status": "True"}, {"type": "X", "status": "True"}]}}),
            ),
            (
                "apps",
                "ReplicaSet",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}}),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "$patch": "delete"}]}}}}),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}),
            ),
            (
                "apps",
                "Deployment",
                json!({"status": {"conditions": [{"type": "Available", "status": "False"}, {"type": "Progressing", "status": "True"}]}}),
                json!({"status": {"conditions": [{"type": "Available", "status": "True"}]}}),
                json!({"status": {"conditions": [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True"}]}}),
            ),
            (
                "batch",
                "Job",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}, "status": {"conditions": [{"type": "Complete", "status": "False"}]}}),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "i"}]}}}, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}),
                json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "i"}]}}}, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}),
            ),
            (
                "batch",
                "CronJob",
                json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b"}]}}}}}}),
                json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "2"}]}}}}}}),
                json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "2"}, {"name": "b"}]}}}}}}),
            ),
            (
                "",
                "Node",
                json!({"spec": {"podCIDRs": ["10.0.0.0/24"]}, "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}], "conditions": [{"type": "Ready", "status": "False"}]}}),
                json!({"spec": {"podCIDRs": ["fd00::/64"]}, "status": {"addresses": [{"type": "Hostname", "address": "n1"}], "conditions": [{"type": "Ready", "status": "True"}]}}),
                json!({"spec": {"podCIDRs": ["fd00::/64", "10.0.0.0/24"]}, "status": {"addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.1"}], "conditions": [{"type": "Ready", "status": "True"}]}}),
            ),
            (
                "",
                "Namespace",
                json!({"spec": {"finalizers": ["kubernetes"]}, "status": {"conditions": [{"type": "A", "status": "True"}]}}),
                json!({"spec": {"finalizers": ["other"]}, "status": {"conditions": [{"type": "A", "status": "False"}]}}),
                // spec.finalizers has no merge strategy (metadata.finalizers has).
                json!({"spec": {"finalizers": ["other"]}, "status": {"conditions": [{"type": "A", "status": "False"}]}}),
            ),
            (
                "",
                "ServiceAccount",
                json!({"secrets": [{"name": "s1"}], "imagePullSecrets": [{"name": "p1"}]}),
                json!({"secrets": [{"name": "s1", "namespace": "x"}], "imagePullSecrets": [{"name": "p2"}]}),
                json!({"secrets": [{"name": "s1", "namespace": "x"}], "imagePullSecrets": [{"name": "p2"}]}),
            ),
            (
                "",
                "PersistentVolumeClaim",
                json!({"status": {"conditions": [{"type": "Resizing", "status": "True"}]}}),
                json!({"status": {"conditions": [{"type": "FileSystemResizePending", "status": "True"}]}}),
                json!({"status": {"conditions": [{"type": "FileSystemResizePending", "status": "True"}, {"type": "Resizing", "status": "True"}]}}),
            ),
            (
                "",
                "ConfigMap",
                json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}),
                json!({"data": {"b": null, "c": "3"}}),
                json!({"metadata": {"name": "c"}, "data": {"a": "1", "c": "3"}}),
            ),
            (
                "",
                "Secret",
                json!({"metadata": {"ownerReferences": [{"uid": "u1", "name": "a"}, {"uid": "u2", "name": "b"}]}}),
                json!({"metadata": {"ownerReferences": [{"uid": "u1", "controller": true}]}}),
                json!({"metadata": {"ownerReferences": [{"uid": "u1", "name": "a", "controller": true}, {"uid": "u2", "name": "b"}]}}),
            ),
            (
                "policy",
                "PodDisruptionBudget",
                json!({"spec": {"minAvailable": 1, "selector": {"matchLabels": {"a": "1"}}}, "status": {"conditions": [{"type": "DisruptionAllowed", "status": "False"}]}}),
                json!({"spec": {"selector": {"matchLabels": {"b": "2"}}}, "status": {"conditions": [{"type": "DisruptionAllowed", "status": "True"}]}}),
                // spec.selector has patchStrategy "replace".
                json!({"spec": {"minAvailable": 1, "selector": {"matchLabels": {"b": "2"}}}, "status": {"conditions": [{"type": "DisruptionAllowed", "status": "True"}]}}),
            ),
            (
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"spec": {"metrics": [{"type": "Resource"}]}, "status": {"conditions": [{"type": "AbleToScale", "status": "True"}, {"type": "ScalingActive", "status": "False"}]}}),
                json!({"spec": {"metrics": [{"type": "Pods"}]}, "status": {"conditions": [{"type": "ScalingActive", "status": "True"}]}}),
                json!({"spec": {"metrics": [{"type": "Pods"}]}, "status": {"conditions": [{"type": "AbleToScale", "status": "True"}, {"type": "ScalingActive", "status": "True"}]}}),
            ),
            (
                "coordination.k8s.io",
                "Lease",
                json!({"spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}),
                json!({"spec": {"holderIdentity": "b"}}),
                json!({"spec": {"holderIdentity": "b", "leaseDurationSeconds": 15}}),
            ),
            (
                "storage.k8s.io",
                "StorageClass",
                json!({"parameters": {"type": "gp2"}, "mountOptions": ["a"]}),
                json!({"parameters": {"fsType": "ext4"}, "mountOptions": ["b"]}),
                json!({"parameters": {"type": "gp2", "fsType": "ext4"}, "mountOptions": ["b"]}),
            ),
            (
                "discovery.k8s.io",
                "EndpointSlice",
                json!({"metadata": {"finalizers": ["a"]}, "endpoints": [{"addresses": ["10.0.0.1"]}]}),
                json!({"metadata": {"finalizers": ["a", "b"]}, "endpoints": [{"addresses": ["10.0.0.2"]}]}),
                json!({"metadata": {"finalizers": ["a", "b"]}, "endpoints": [{"addresses": ["10.0.0.2"]}]}),
            ),
            (
                "events.k8s.io",
                "Event",
                json!({"note": "a", "metadata": {"ownerReferences": [{"uid": "1"}]}}),
                json!({"note": "b", "metadata": {"ownerReferences": [{"uid": "1", "kind": "Pod"}]}}),
                json!({"note": "b", "metadata": {"ownerReferences": [{"uid": "1", "kind": "Pod"}]}}),
            ),
            (
                "scheduling.k8s.io",
                "PriorityClass",
                json!({"value": 1000, "description": "x"}),
                json!({"value": 2000}),
                json!({"value": 2000, "description": "x"}),
            ),
        ];
        for (group, kind, doc, patch, want) in cases {
            assert_eq!(patched(group, kind, &doc, &patch), want, "{group}/{kind}: {patch}");
        }
    }

    #[test]
    fn strategic_merge_should_order_a_list_as_set_element_order_says() {
        let c = |name: &str| json!({"name": name});
        // (name, object's containers, patch of the pod spec, resulting containers)
        let cases = [
            (
                "reorder only",
                json!([c("a"), c("b"), c("c")]),
                json!({"$setElementOrder/containers": [c("c"), c("a"), c("b")]}),
                json!([c("c"), c("a"), c("b")]),
            ),
            (
                "change one and reorder, keeping a server-only item",
                json!([c("a"), c("b"), c("c")]),
                json!({"$setElementOrder/containers": [c("b"), c("a")], "containers": [{"name": "a", "image": "x"}]}),
                json!([c("b"), {"name": "a", "image": "x"}, c("c")]),
            ),
            (
                "add in the middle",
                json!([c("a"), c("b")]),
                json!({"$setElementOrder/containers": [c("a"), c("n"), c("b")], "containers": [c("n")]}),
                json!([c("a"), c("n"), c("b")]),
            ),
            (
                "delete and reorder",
                json!([c("a"), c("b"), c("c")]),
                json!({"$setElementOrder/containers": [c("c"), c("a")], "containers": [{"name": "b", "$patch": "delete"}]}),
                json!([c("c"), c("a")]),
            ),
        ];
        for (name, current, patch, want) in cases {
            let doc = json!({"spec": {"containers": current}});
            let out = patched("", "Pod", &doc, &json!({"spec": patch}));
            assert_eq!(out["spec"]["containers"], want, "{name}");
            assert_eq!(keys(&out["spec"]), ["containers"], "{name}: no directive key left");
        }
    }

    #[test]
    fn strategic_merge_should_delete_from_a_primitive_list_such_as_finalizers() {
        // (name, finalizers, patch of metadata, resulting metadata)
        let cases = [
            (
                "delete one",
                json!(["a", "b", "c"]),
                json!({"$deleteFromPrimitiveList/finalizers": ["b"]}),
                json!({"finalizers": ["a", "c"]}),
            ),
            (
                "delete every duplicate",
                json!(["a", "b", "b"]),
                json!({"$deleteFromPrimitiveList/finalizers": ["b"]}),
                json!({"finalizers": ["a"]}),
            ),
            (
                "delete a missing value",
                json!(["a"]),
                json!({"$deleteFromPrimitiveList/finalizers": ["z"]}),
                json!({"finalizers": ["a"]}),
            ),
            (
                "delete and order",
                json!(["a", "b", "c"]),
                json!({"$setElementOrder/finalizers": ["b", "a"], "$deleteFromPrimitiveList/finalizers": ["c"]}),
                json!({"finalizers": ["b", "a"]}),
            ),
            (
                "add one and delete another",
                json!(["a", "b"]),
                json!({"$setElementOrder/finalizers": ["a", "c"], "$deleteFromPrimitiveList/finalizers": ["b"], "finalizers": ["c"]}),
                json!({"finalizers": ["a", "c"]}),
            ),
        ];
        for (name, current, patch, want) in cases {
            let doc = json!({"metadata": {"finalizers": current}});
            let out = patched("", "Namespace", &doc, &json!({"metadata": patch}));
            assert_eq!(out["metadata"], want, "{name}");
        }
        // Nothing to delete from: the list is not created.
        let out = patched(
            "",
            "Namespace",
            &json!({"metadata": {"name": "n"}}),
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        );
        assert_eq!(out, json!({"metadata": {"name": "n"}}));
    }

    #[test]
    fn strategic_merge_should_clear_the_keys_retain_keys_does_not_list() {
        let doc = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}});
        // (name, patch of the strategy, resulting strategy)
        let cases = [
            (
                "switch the union member",
                json!({"$retainKeys": ["type"], "type": "Recreate"}),
                json!({"type": "Recreate"}),
            ),
            (
                "keep and merge a retained key",
                json!({"$retainKeys": ["type", "rollingUpdate"], "rollingUpdate": {"maxSurge": 2}}),
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}}),
            ),
            (
                "no directive merges as usual",
                json!({"type": "Recreate"}),
                json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}),
            ),
            (
                "a null is not checked",
                json!({"$retainKeys": ["type"], "rollingUpdate": null}),
                json!({"type": "RollingUpdate"}),
            ),
        ];
        for (name, patch, want) in cases {
            let out = patched("apps", "Deployment", &doc, &json!({"spec": {"strategy": patch}}));
            assert_eq!(out["spec"]["strategy"], want, "{name}");
        }

        // Volumes (merge,retainKeys): a volume changing its source.
        let doc = json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}});
        let patch = json!({"spec": {"volumes": [{"name": "v", "$retainKeys": ["name", "configMap"], "configMap": {"name": "c"}}]}});
        let out = patched("", "Pod", &doc, &patch);
        assert_eq!(out["spec"]["volumes"], json!([{"name": "v", "configMap": {"name": "c"}}]));
    }

    #[test]
    fn strategic_merge_should_refuse_a_patch_setting_keys_retain_keys_does_not_list() {
        let doc = json!({"spec": {"strategy": {"type": "RollingUpdate"}}});
        for strategy in [
            json!({"$retainKeys": ["type"], "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}),
            json!({"$retainKeys": "type", "type": "Recreate"}),
        ] {
            let error = failed("apps", "Deployment", &doc, &json!({"spec": {"strategy": strategy}}));
            assert!(matches!(&error, PatchError::Malformed { .. }), "{error:?}");
            assert_eq!(error.path(), Some("/spec/strategy"));
            assert!(error.to_string().contains("retainKeys"), "{error}");
        }
    }

    #[test]
    fn strategic_merge_should_replace_a_map_with_a_patch_replace_directive() {
        let doc = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "annotations": {"x": "y"}}});
        let patch = json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}});
        let out = patched("", "ConfigMap", &doc, &patch);
        assert_eq!(out, json!({"metadata": {"labels": {"c": "3"}, "annotations": {"x": "y"}}}));

        // At the root, the whole object is replaced.
        let out = patched("", "ConfigMap", &doc, &json!({"$patch": "replace", "data": {"k": "v"}}));
        assert_eq!(out, json!({"data": {"k": "v"}}));
    }

    #[test]
    fn strategic_merge_should_empty_a_map_with_a_patch_delete_directive() {
        let doc = json!({"metadata": {"name": "c", "annotations": {"x": "y"}}});
        let out = patched("", "ConfigMap", &doc, &json!({"metadata": {"annotations": {"$patch": "delete"}}}));
        assert_eq!(out, json!({"metadata": {"name": "c", "annotations": {}}}));
    }

    #[test]
    fn strategic_merge_should_replace_a_merge_list_with_a_patch_replace_item() {
        let doc = deployment(json!([{"name": "a", "image": "1"}, {"name": "b"}]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "c", "image": null}]}}}});
        let out = patched("apps", "Deployment", &doc, &patch);
        assert_eq!(containers_of(&out), json!([{"name": "c"}]));

        let patch = json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}]}}}});
        assert_eq!(containers_of(&patched("apps", "Deployment", &doc, &patch)), json!([]));
    }

    #[test]
    fn strategic_merge_should_delete_a_key_given_null_and_ignore_null_for_a_missing_one() {
        let doc = json!({"metadata": {"name": "c", "labels": {"app": "web", "tier": "front"}}});
        let patch = json!({"metadata": {"labels": {"tier": null, "absent": null}, "annotations": null}});
        let out = patched("", "ConfigMap", &doc, &patch);
        assert_eq!(out, json!({"metadata": {"name": "c", "labels": {"app": "web"}}}));
    }

    #[test]
    fn strategic_merge_should_keep_key_order_and_append_new_keys() {
        let doc = json!({"metadata": {"name": "c", "labels": {"b": "1", "a": "2", "c": "3"}}, "data": {}});
        let out = patched("", "ConfigMap", &doc, &json!({"metadata": {"labels": {"d": "4", "b": null, "a": "5"}}}));
        assert_eq!(keys(&out), ["metadata", "data"]);
        assert_eq!(keys(&out["metadata"]["labels"]), ["a", "c", "d"]);
    }

    #[test]
    fn strategic_merge_should_replace_values_of_another_type() {
        // (object, patch, result)
        let cases = [
            (json!({"data": {"a": "1"}}), json!({"data": {"a": 1}}), json!({"data": {"a": 1}})),
            (json!({"spec": {"replicas": 1}}), json!({"spec": {"replicas": 1.5}}), json!({"spec": {"replicas": 1.5}})),
            (
                json!({"spec": {"x": ["a"]}}),
                json!({"spec": {"x": {"k": "v", "n": null}}}),
                json!({"spec": {"x": {"k": "v"}}}),
            ),
            (json!({"spec": {"x": {"k": "v"}}}), json!({"spec": {"x": "s"}}), json!({"spec": {"x": "s"}})),
            (json!({"spec": null}), json!({"spec": {"a": 1}}), json!({"spec": {"a": 1}})),
        ];
        for (doc, patch, want) in cases {
            assert_eq!(patched("apps", "Deployment", &doc, &patch), want, "{patch}");
        }
    }

    #[test]
    fn strategic_merge_should_never_leave_directives_or_nulls_in_what_it_adds() {
        let doc = deployment(json!([{"name": "a"}]));
        let patch = json!({
            "metadata": {"annotations": {"$patch": "replace", "x": "y"}},
            "spec": {
                "paused": null,
                "template": {"spec": {
                    "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                    "containers": [{
                        "name": "b",
                        "image": null,
                        "env": [{"name": "X", "$patch": "delete"}, {"name": "Y", "value": "1"}],
                        "securityContext": {"$retainKeys": ["runAsUser"], "runAsUser": 1, "runAsGroup": null},
                        "$deleteFromPrimitiveList/args": ["x"]
                    }],
                    "securityContext": {"$patch": "delete"}
                }}
            }
        });
        let out = patched("apps", "Deployment", &doc, &patch);
        // A map with `$patch` for a key the object does not have is dropped, as Kubernetes does.
        assert_eq!(out["metadata"], json!({"name": "web", "labels": {"app": "web"}}));
        assert_eq!(
            containers_of(&out),
            json!([{"name": "a"}, {"name": "b", "env": [{"name": "Y", "value": "1"}], "securityContext": {"runAsUser": 1}}])
        );
        assert_eq!(keys(&out["spec"]["template"]["spec"]), ["containers"]);
        assert!(!out.to_string().contains('$'), "{out}");
    }

    #[test]
    fn strategic_merge_should_treat_unknown_fields_as_fields_without_a_strategy() {
        let doc =
            json!({"spec": {"containers": [{"name": "a"}], "futureList": [{"name": "x"}], "futureMap": {"a": 1}}});
        let patch = json!({"spec": {"futureList": [{"name": "y"}], "futureMap": {"b": 2}}});
        let out = patched("", "Pod", &doc, &patch);
        assert_eq!(
            out,
            json!({"spec": {"containers": [{"name": "a"}], "futureList": [{"name": "y"}], "futureMap": {"a": 1, "b": 2}}})
        );
    }

    #[test]
    fn strategic_merge_should_answer_unsupported_kind_for_kinds_without_a_schema() {
        let doc = json!({"spec": {}});
        for (group, kind) in
            [("example.com", "Widget"), ("", "Deployment"), ("apps", "Pod"), ("stable.example.com", "CronTab")]
        {
            let error = failed(group, kind, &doc, &json!({"spec": {"a": 1}}));
            assert_eq!(error, PatchError::UnsupportedKind { group: group.into(), kind: kind.into() });
            assert_eq!(error.status_code(), 415);
        }
    }

    #[test]
    fn strategic_merge_should_treat_a_null_patch_as_empty_and_refuse_other_non_objects() {
        let doc = json!({"metadata": {"name": "c"}});
        assert_eq!(patched("", "ConfigMap", &doc, &Value::Null), doc);
        for patch in [json!([{"op": "add"}]), json!("x"), json!(1)] {
            let error = failed("", "ConfigMap", &doc, &patch);
            assert!(matches!(&error, PatchError::Malformed { .. }), "{patch}: {error:?}");
            assert_eq!(error.status_code(), 400);
        }
        let error = failed("", "ConfigMap", &json!([1]), &json!({"a": 1}));
        assert!(matches!(error, PatchError::Invalid { .. }), "{error:?}");
    }

    #[test]
    fn strategic_merge_should_refuse_malformed_directives_and_merge_items() {
        let doc = deployment(json!([{"name": "a", "env": [{"name": "X"}]}]));
        let spec = |pod_spec: Value| json!({"spec": {"template": {"spec": pod_spec}}});
        // (name, patch, failing path, text in the message)
        let cases = [
            (
                "merge item without its merge key",
                spec(json!({"containers": [{"image": "x"}]})),
                "/spec/template/spec/containers",
                "does not contain declared merge key: name",
            ),
            (
                "$patch: merge in a map it meets",
                json!({"metadata": {"labels": {"$patch": "merge"}}}),
                "/metadata/labels",
                "unknown patch type",
            ),
            (
                "$patch: merge in a list",
                spec(json!({"containers": [{"$patch": "merge"}]})),
                "/spec/template/spec/containers",
                "merging lists cannot yet be specified",
            ),
            (
                "unknown $patch in a list",
                spec(json!({"containers": [{"name": "a", "$patch": "frob"}]})),
                "/spec/template/spec/containers",
                "unknown patch type",
            ),
            (
                "$patch: delete without merge key",
                spec(json!({"containers": [{"$patch": "delete"}]})),
                "/spec/template/spec/containers",
                "merge key",
            ),
            (
                "bad $deleteFromPrimitiveList key",
                json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}),
                "/metadata",
                "primitive list",
            ),
            (
                "bad $setElementOrder key",
                json!({"metadata": {"$setElementOrder": ["a"]}}),
                "/metadata",
                "setElementOrder",
            ),
            (
                "$setElementOrder not a list",
                json!({"metadata": {"$setElementOrder/finalizers": "a"}}),
                "/metadata/finalizers",
                "setElementOrder",
            ),
            (
                "$setElementOrder not matching the patch order",
                spec(
                    json!({"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}], "containers": [{"name": "b"}, {"name": "a"}]}),
                ),
                "/spec/template/spec/containers",
                "doesn't match",
            ),
        ];
        for (name, patch, path, text) in cases {
            let error = failed("apps", "Deployment", &doc, &patch);
            assert!(matches!(&error, PatchError::Malformed { .. }), "{name}: {error:?}");
            assert_eq!(error.path(), Some(path), "{name}: {error}");
            assert!(error.to_string().contains(text), "{name}: {error}");
        }
    }

    #[test]
    fn strategic_merge_should_drop_a_directive_map_for_a_key_the_object_lacks_as_kubernetes_does() {
        // Kubernetes' `removeDirectives` drops a map carrying `$patch` when the object has no
        // value to apply it to, whatever the directive, so nothing is added and nothing fails.
        let doc = json!({"metadata": {"name": "c"}});
        for directive in ["replace", "delete", "merge"] {
            let patch = json!({"metadata": {"labels": {"$patch": directive, "a": "1"}}});
            assert_eq!(patched("", "ConfigMap", &doc, &patch), doc, "$patch: {directive}");
        }
    }

    #[test]
    fn strategic_merge_should_refuse_lists_it_cannot_merge() {
        // (name, object, patch, failing path, text in the message)
        let cases = [
            (
                "lists of lists",
                json!({"metadata": {"finalizers": [["a"]]}}),
                json!({"metadata": {"finalizers": [["b"]]}}),
                "/metadata/finalizers",
                "lists of lists",
            ),
            (
                "mixed item types",
                json!({"metadata": {"finalizers": ["a"]}}),
                json!({"metadata": {"finalizers": [1]}}),
                "/metadata/finalizers",
                "not identical",
            ),
            (
                "object item without merge key",
                json!({"metadata": {"ownerReferences": [{"name": "x"}]}}),
                json!({"metadata": {"ownerReferences": [{"uid": "1"}]}}),
                "/metadata/ownerReferences",
                "does not contain declared merge key: uid",
            ),
            (
                "primitives in a list merged by key",
                json!({"metadata": {"ownerReferences": ["x"]}}),
                json!({"metadata": {"ownerReferences": ["y"]}}),
                "/metadata/ownerReferences",
                "expected an object",
            ),
        ];
        for (name, doc, patch, path, text) in cases {
            let error = failed("", "ConfigMap", &doc, &patch);
            assert!(matches!(&error, PatchError::Invalid { .. }), "{name}: {error:?}");
            assert_eq!(error.path(), Some(path), "{name}");
            assert!(error.to_string().contains(text), "{name}: {error}");
            assert_eq!(error.status_code(), 422, "{name}");
        }
    }

    /// Cases of `strategicpatch`'s own tests (patch_test.go: the raw test cases, applying the
    /// three-way patch to the current object, and the custom ones), replayed against the same
    /// test schema (`MergeItem`). Raw cases compare list order exactly.
    #[test]
    fn strategic_merge_should_reproduce_the_results_of_kubernetes_own_test_cases() {
        let n = |name: i64| json!({"name": name});
        // (description, current, patch, result)
        let cases = [
            (
                "merge lists of maps",
                json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
                json!({"$setElementOrder/mergingList": [n(4), n(1), n(2), n(3)], "mergingList": [{"name": 4, "value": 4}, {"name": 3, "value": 3}]}),
                json!({"mergingList": [{"name": 4, "value": 4}, {"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}, {"name": 3, "value": 3}]}),
            ),
            (
                "merge lists of scalars",
                json!({"mergingIntList": [1, 2, 4]}),
                json!({"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3]}),
                json!({"mergingIntList": [1, 2, 3, 4]}),
            ),
            (
                "nested patch merge with empty list",
                json!({"name": "hi", "mergingList": [{"name": "hello2"}]}),
                json!({"$setElementOrder/mergingList": [{"name": "hello"}, {"name": "doesntexist"}], "mergingList": [{"name": "hello"}]}),
                json!({"name": "hi", "mergingList": [{"name": "hello"}, {"name": "hello2"}]}),
            ),
            (
                "delete items in lists of scalars",
                json!({"mergingIntList": [1, 2, 3, 4]}),
                json!({"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]}),
                json!({"mergingIntList": [1, 2, 4]}),
            ),
            (
                "delete all duplicate items in lists of scalars",
                json!({"mergingIntList": [1, 2, 3, 3, 4]}),
                json!({"$setElementOrder/mergingIntList": [1, 2], "$deleteFromPrimitiveList/mergingIntList": [3]}),
                json!({"mergingIntList": [1, 2, 4]}),
            ),
            (
                "add an item in a list of primitives and preserve order",
                json!({"mergingIntList": [1, 4, 2]}),
                json!({"$setElementOrder/mergingIntList": [3, 1, 2], "mergingIntList": [3]}),
                json!({"mergingIntList": [3, 1, 4, 2]}),
            ),
            (
                "delete an item in a list of primitives and preserve order",
                json!({"mergingIntList": [1, 2, 3]}),
                json!({"$setElementOrder/mergingIntList": [2, 1], "$deleteFromPrimitiveList/mergingIntList": [3]}),
                json!({"mergingIntList": [2, 1]}),
            ),
            (
                "add an item in a list and preserve order",
                json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
                json!({"$setElementOrder/mergingList": [n(3), n(1), n(2)], "mergingList": [{"name": 3, "value": 3}]}),
                json!({"mergingList": [{"name": 3, "value": 3}, {"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
            ),
            (
                "add multiple items in a list and preserve order",
                json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
                json!({"$setElementOrder/mergingList": [n(1), n(4), n(2), n(3)], "mergingList": [{"name": 4, "value": 4}, {"name": 3, "value": 3}]}),
                json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 4, "value": 4}, {"name": 2, "value": 2, "other": "b"}, {"name": 3, "value": 3}]}),
            ),
            (
                "set elements order in a list",
                json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 3, "value": 3}, {"name": 4, "value": 4}, {"name": 2, "value": 2}]}),
                json!({"$setElementOrder/mergingList": [n(4), n(2), n(3), n(1)]}),
                json!({"mergingList": [{"name": 4, "value": 4}, {"name": 2, "value": 2}, {"name": 3, "value": 3}, {"name": 1, "other": "a"}]}),
            ),
            (
                "set elements order in a list with server-only items",
                json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 3, "value": 3}, {"name": 4, "value": 4}, {"name": 2, "value": 2}, n(9)]}),
                json!({"$setElementOrder/mergingList": [n(4), n(2), n(3), n(1)]}),
                json!({"mergingList": [{"name": 4, "value": 4}, {"name": 2, "value": 2}, {"name": 3, "value": 3}, {"name": 1, "other": "a"}, n(9)]}),
            ),
            (
                "set elements order in a list with server-only items 2",
                json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2}, n(9), {"name": 3, "value": 3}, {"name": 4, "value": 4}]}),
                json!({"$setElementOrder/mergingList": [n(2), n(1), n(4), n(3)]}),
                json!({"mergingList": [{"name": 2, "value": 2}, {"name": 1, "other": "a"}, n(9), {"name": 4, "value": 4}, {"name": 3, "value": 3}]}),
            ),
            (
                "set elements order in a list with server-only items 3",
                json!({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2}, n(7), n(9), n(8), {"name": 3, "value": 3}, {"name": 4, "value": 4}]}),
                json!({"$setElementOrder/mergingList": [n(2), n(1), n(4), n(3)]}),
                json!({"mergingList": [{"name": 2, "value": 2}, {"name": 1, "other": "a"}, n(7), n(9), n(8), {"name": 4, "value": 4}, {"name": 3, "value": 3}]}),
            ),
            (
                "behavior of set element order for a merging list with duplicate",
                json!({"mergingList": [n(1), {"name": 2, "value": "dup1"}, n(3), {"name": 2, "value": "dup2"}, n(4)]}),
                json!({"$setElementOrder/mergingList": [n(2), n(1), n(4), n(3), n(2)]}),
                json!({"mergingList": [{"name": 2, "value": "dup1"}, {"name": 2, "value": "dup2"}, n(1), n(4), n(3)]}),
            ),
            (
                "behavior of set element order for a merging int list with duplicate",
                json!({"mergingIntList": [1, 2, 3, 2, 4]}),
                json!({"$setElementOrder/mergingIntList": [2, 1, 4, 3, 2]}),
                json!({"mergingIntList": [2, 2, 1, 4, 3]}),
            ),
            (
                "delete and reorder in one list, reorder in another",
                json!({"mergingList": [{"name": "a", "value": "a"}, {"name": "b", "value": "b"}], "mergeItemPtr": [{"name": "c", "value": "c"}, {"name": "d", "value": "d"}]}),
                json!({
                    "$setElementOrder/mergingList": [{"name": "b"}],
                    "$setElementOrder/mergeItemPtr": [{"name": "d"}, {"name": "c"}],
                    "mergingList": [{"$patch": "delete", "name": "a"}]
                }),
                json!({"mergingList": [{"name": "b", "value": "b"}], "mergeItemPtr": [{"name": "d", "value": "d"}, {"name": "c", "value": "c"}]}),
            ),
            (
                "$setElementOrder contains item that is not present in the list to be merged",
                json!({"mergingList": [n(1), n(3)]}),
                json!({"$setElementOrder/mergingList": [n(3), n(2), n(1)], "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]}),
                json!({"mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]}),
            ),
            (
                "$setElementOrder contains item that is not present in the int list to be merged",
                json!({"mergingIntList": [1, 3]}),
                json!({"$setElementOrder/mergingIntList": [3, 2, 1]}),
                json!({"mergingIntList": [3, 1]}),
            ),
            (
                "$deleteFromPrimitiveList of nonexistent item in primitive list should not add the item to the list",
                json!({"mergingIntList": [1, 2]}),
                json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
                json!({"mergingIntList": [1, 2]}),
            ),
            (
                "$deleteFromPrimitiveList on nonexistent primitive list should not add the primitive list",
                json!({"foo": ["bar"]}),
                json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
                json!({"foo": ["bar"]}),
            ),
            (
                "$deleteFromPrimitiveList should delete item from a list with merge patch strategy",
                json!({"mergingIntList": [1, 2, 3]}),
                json!({"$deleteFromPrimitiveList/mergingIntList": [2]}),
                json!({"mergingIntList": [1, 3]}),
            ),
            (
                "$deleteFromPrimitiveList should delete item from a list without merge patch strategy",
                json!({"nonMergingIntList": [1, 2, 3]}),
                json!({"$deleteFromPrimitiveList/nonMergingIntList": [2]}),
                json!({"nonMergingIntList": [1, 3]}),
            ),
            (
                "retainKeys map should clear defaulted field",
                json!({"retainKeysMap": {"value": "foo"}}),
                json!({"retainKeysMap": {"$retainKeys": ["other"], "other": "bar"}}),
                json!({"retainKeysMap": {"other": "bar"}}),
            ),
            (
                "retainKeys map should clear defaulted field with conflict (discriminated union)",
                json!({"retainKeysMap": {"name": "type1", "value": "foo"}}),
                json!({"retainKeysMap": {"$retainKeys": ["name", "other"], "name": "type2", "other": "bar"}}),
                json!({"retainKeysMap": {"name": "type2", "other": "bar"}}),
            ),
            (
                "retainKeys map adds a field and clear a field",
                json!({"retainKeysMap": {"name": "foo", "other": "a"}}),
                json!({"retainKeysMap": {"$retainKeys": ["name", "value"], "value": "bar"}}),
                json!({"retainKeysMap": {"name": "foo", "value": "bar"}}),
            ),
            (
                "retainKeys list of maps clears a field",
                json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a", "other": "x"}]}),
                json!({"$setElementOrder/retainKeysMergingList": [{"name": "bar"}, {"name": "foo"}], "retainKeysMergingList": [{"$retainKeys": ["name", "value"], "name": "foo"}]}),
                json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a"}]}),
            ),
            (
                "unique scalars when merging lists",
                json!({"mergingIntList": [1, 2]}),
                json!({"mergingIntList": [2, 3]}),
                json!({"mergingIntList": [1, 2, 3]}),
            ),
            (
                "delete map from nested map",
                json!({"simpleMap": {"key1": 1, "key2": 1}}),
                json!({"simpleMap": {"$patch": "delete"}}),
                json!({"simpleMap": {}}),
            ),
            (
                "delete all items from merging list",
                json!({"mergingList": [n(1), n(2)]}),
                json!({"mergingList": [{"$patch": "replace"}]}),
                json!({"mergingList": []}),
            ),
            (
                "merge empty merging lists",
                json!({"mergingList": []}),
                json!({"mergingList": []}),
                json!({"mergingList": []}),
            ),
            ("delete all keys from map", json!({"name": 1, "value": 1}), json!({"$patch": "replace"}), json!({})),
            (
                "add key and delete all keys from map",
                json!({"name": 1, "value": 1}),
                json!({"other": "a", "$patch": "replace"}),
                json!({"other": "a"}),
            ),
            (
                "delete all duplicate entries in a merging list",
                json!({"mergingList": [n(1), n(1), {"name": 2, "value": "a"}, n(3), n(3)]}),
                json!({"mergingList": [{"name": 1, "$patch": "delete"}, {"name": 3, "$patch": "delete"}]}),
                json!({"mergingList": [{"name": 2, "value": "a"}]}),
            ),
            (
                "retainKeys map can delete a field when no retainKeys directive present",
                json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
                json!({"retainKeysMap": {"value": null}}),
                json!({"retainKeysMap": {"name": "foo"}}),
            ),
            (
                "retainKeys list can delete a field when no retainKeys directive present",
                json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo", "value": "a"}]}),
                json!({"retainKeysMergingList": [{"name": "foo", "value": null}]}),
                json!({"retainKeysMergingList": [{"name": "bar"}, {"name": "foo"}]}),
            ),
            (
                "preserve the order from the patch in a merging list",
                json!({"mergingList": [n(1), {"name": 2, "value": "b"}, n(3)]}),
                json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "other": "x"}]}),
                json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}, {"name": 2, "value": "b", "other": "x"}]}),
            ),
            (
                "preserve the order from the patch in a merging list 2",
                json!({"mergingList": [n(1), {"name": 2, "value": "b"}, n(3)]}),
                json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
                json!({"mergingList": [{"name": 2, "value": "b"}, {"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
            ),
            (
                "preserve the order from the patch in a merging int list",
                json!({"mergingIntList": [1, 2, 3]}),
                json!({"mergingIntList": [3, 1]}),
                json!({"mergingIntList": [2, 3, 1]}),
            ),
            (
                "replace a field with patch strategy replace",
                json!({"replacingItem": {"a": 1, "b": 2}}),
                json!({"replacingItem": {"c": 3}}),
                json!({"replacingItem": {"c": 3}}),
            ),
        ];
        for (description, current, patch, want) in cases {
            match apply(&current, &patch, merge_item_for_tests()) {
                Ok(got) => assert_eq!(got, want, "{description}"),
                Err(e) => panic!("{description}: {e}"),
            }
        }
    }

    #[test]
    fn strategic_merge_should_fail_where_kubernetes_own_test_cases_expect_errors() {
        let n = |name: i64| json!({"name": name});
        // (description, current, patch, text in the message)
        let cases = [
            (
                "should check if order in $setElementOrder and patch list match",
                json!({"mergingList": [n(1), n(3), n(2)]}),
                json!({"$setElementOrder/mergingList": [n(1), n(2), n(3)], "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]}),
                "doesn't match",
            ),
            (
                "$setElementOrder contains item that is not present in the int list to be merged",
                json!({"mergingIntList": [1, 3, 2]}),
                json!({"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]}),
                "doesn't match",
            ),
            (
                "missing merge key should error out",
                json!({"mergingList": [{"name": 1, "value": "a"}]}),
                json!({"mergingList": [{"value": "b"}]}),
                "does not contain declared merge key",
            ),
        ];
        for (description, current, patch, text) in cases {
            match apply(&current, &patch, merge_item_for_tests()) {
                Ok(got) => panic!("{description}: should fail, gave {got}"),
                Err(e) => assert!(e.to_string().contains(text), "{description}: {e}"),
            }
        }
    }
}
