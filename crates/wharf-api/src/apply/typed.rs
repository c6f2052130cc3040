//! Walks over objects guided by their schema, with the semantics of
//! `sigs.k8s.io/structured-merge-diff/v6/typed`: the set of fields an object sets
//! (`ToFieldSet`), the fields two objects differ in (`Compare`), the merge of an applied
//! configuration into a live object (`Merge`), the removal of a set of fields (`RemoveItems`),
//! and the struct fields a set implies (`EnsureNamedFieldsAreMembers`).
//!
//! A [`Ty`] says how a place in an object is tracked; values are classified by their JSON type
//! first (as structured-merge-diff deduces the atom of a value), so a value whose type does not
//! match its schema is treated as a leaf rather than rejected.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::builtin::{DEDUCED, OBJECT_META, PLAIN, T};
use super::fieldpath::{path_string, values_equal, PathElement, Set};

/// How the value at a place in an object is tracked.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ty<'s> {
    /// A place in the built-in tables.
    Builtin(&'static T),
    /// A node of a CRD `openAPIV3Schema`; the flag is `x-kubernetes-preserve-unknown-fields`
    /// in force here (set on this node or an ancestor).
    Crd(&'s Value, bool),
    /// The root of a custom resource: `apiVersion`, `kind` and `metadata` (`ObjectMeta`) are
    /// known; the rest comes from the schema when there is one, else is schemaless.
    CrRoot(Option<&'s Value>, bool),
    /// No schema: objects are maps whose fields are all undeclared, lists are atomic.
    Deduced,
}

/// How a list is merged.
#[derive(Debug, Clone)]
pub(super) enum ListKind {
    /// Replaced as a whole.
    Atomic,
    /// A set of scalars, items identified by value.
    Set,
    /// Items identified by these key fields (name, default when the item omits it).
    Keyed(Vec<(String, Option<Value>)>),
}

/// What a value is, for a walk.
enum Node {
    /// A scalar, or an atomic map or list.
    Leaf,
    /// A granular map or struct.
    Map,
    /// A granular (set or associative) list.
    List(ListKind),
}

fn preserves_unknown(schema: &Value) -> bool {
    schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
}

impl<'s> Ty<'s> {
    /// The type of the root of an object: the built-in table (`builtin`) of a built-in kind, or
    /// a custom resource with an optional `openAPIV3Schema`.
    pub(super) fn root(builtin: Option<&'static T>, crd_schema: Option<&'s Value>) -> Ty<'s> {
        match (builtin, crd_schema) {
            (Some(t), None) => Ty::Builtin(t),
            (_, schema) => Ty::CrRoot(schema, schema.is_some_and(preserves_unknown)),
        }
    }

    fn crd(schema: &'s Value, inherited: bool) -> Ty<'s> {
        Ty::Crd(schema, inherited || preserves_unknown(schema))
    }

    /// Whether an object at this place is atomic.
    fn map_is_atomic(self) -> bool {
        match self {
            Ty::Builtin(T::Atomic) => true,
            Ty::Crd(schema, _) => schema.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic"),
            _ => false,
        }
    }

    /// The type of field `name` of an object at this place, and whether it is a declared
    /// (struct) field rather than a key of a map.
    pub(super) fn field(self, name: &str) -> (Ty<'s>, bool) {
        match self {
            Ty::Builtin(T::Struct(st)) => (Ty::Builtin(st.get(name).unwrap_or(&PLAIN)), true),
            Ty::Builtin(T::Deduced) | Ty::Deduced => (Ty::Deduced, false),
            Ty::Builtin(_) => (Ty::Builtin(&PLAIN), true),
            Ty::Crd(schema, preserve) => crd_field(schema, preserve, name),
            Ty::CrRoot(schema, preserve) => match name {
                "apiVersion" | "kind" => (Ty::Builtin(&PLAIN), true),
                "metadata" => (Ty::Builtin(&OBJECT_META), true),
                _ => match schema {
                    Some(schema) => crd_field(schema, preserve, name),
                    None => (Ty::Deduced, false),
                },
            },
        }
    }

    /// How a list at this place is merged.
    pub(super) fn list_kind(self) -> ListKind {
        match self {
            Ty::Builtin(T::Set) => ListKind::Set,
            Ty::Builtin(T::Assoc(keys, _)) => ListKind::Keyed(
                keys.iter()
                    .map(|k| (k.0.to_string(), k.1.and_then(|d| serde_json::from_str::<Value>(d).ok())))
                    .collect(),
            ),
            Ty::Crd(schema, _) => match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => ListKind::Set,
                Some("map") => {
                    let names = schema.get("x-kubernetes-list-map-keys").and_then(Value::as_array);
                    let item_props = schema.get("items").and_then(|i| i.get("properties"));
                    ListKind::Keyed(
                        names
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(|name| {
                                let default =
                                    item_props.and_then(|p| p.get(name)).and_then(|p| p.get("default")).cloned();
                                (name.to_string(), default)
                            })
                            .collect(),
                    )
                }
                _ => ListKind::Atomic,
            },
            _ => ListKind::Atomic,
        }
    }

    /// The type of the items of a list at this place.
    pub(super) fn item(self) -> Ty<'s> {
        match self {
            Ty::Builtin(T::Assoc(_, item)) => Ty::Builtin(item),
            Ty::Builtin(T::Deduced) | Ty::Deduced | Ty::CrRoot(..) => Ty::Builtin(&DEDUCED),
            Ty::Builtin(_) => Ty::Builtin(&PLAIN),
            Ty::Crd(schema, preserve) => match schema.get("items") {
                Some(items @ Value::Object(_)) => Ty::crd(items, preserve),
                _ => Ty::Deduced,
            },
        }
    }
}

/// Field `name` of an object described by a CRD schema node.
fn crd_field<'s>(schema: &'s Value, preserve: bool, name: &str) -> (Ty<'s>, bool) {
    if let Some(prop @ Value::Object(_)) = schema.get("properties").and_then(|p| p.get(name)) {
        return (Ty::crd(prop, preserve), true);
    }
    match schema.get("additionalProperties") {
        Some(additional @ Value::Object(_)) => (Ty::crd(additional, preserve), false),
        // `true`, absent with preserve-unknown-fields or without properties: schemaless. An
        // undeclared field where none is allowed would be pruned by the API server; it is
        // treated as schemaless here rather than refused.
        _ => (Ty::Deduced, false),
    }
}

/// What a value at `ty` is for a walk.
fn node_of(ty: Ty<'_>, value: Option<&Value>) -> Node {
    match value {
        Some(Value::Object(_)) if !ty.map_is_atomic() => Node::Map,
        Some(Value::Array(_)) => match ty.list_kind() {
            ListKind::Atomic => Node::Leaf,
            kind => Node::List(kind),
        },
        _ => Node::Leaf,
    }
}

/// What a pair of values at `ty` is: classified by whichever is not null (the new one first);
/// values of different JSON types are compared and merged as leaves.
fn pair_node(ty: Ty<'_>, lhs: Option<&Value>, rhs: Option<&Value>) -> Node {
    let l = lhs.filter(|v| !v.is_null());
    let r = rhs.filter(|v| !v.is_null());
    if let (Some(l), Some(r)) = (l, r) {
        let same = matches!((l, r), (Value::Object(_), Value::Object(_)) | (Value::Array(_), Value::Array(_)))
            || (!l.is_object() && !l.is_array() && !r.is_object() && !r.is_array());
        if !same {
            return Node::Leaf;
        }
    }
    node_of(ty, r.or(l))
}

/// `message` prefixed with the path it is about, as structured-merge-diff reports errors.
fn error_at(path: &[PathElement], message: &str) -> String {
    if path.is_empty() {
        message.to_string()
    } else {
        format!("{}: {message}", path_string(path))
    }
}

/// The path element identifying `item` in a list of `kind`.
pub(super) fn item_element(kind: &ListKind, item: &Value) -> Result<PathElement, String> {
    match kind {
        ListKind::Atomic => Err("invalid indexing of non-associative list".to_string()),
        ListKind::Set => match item {
            Value::Object(_) => Err("associative list without keys has an element that's a map type".to_string()),
            Value::Array(_) => Err("not supported: associative list with lists as elements".to_string()),
            Value::Null => Err("associative list without keys has an element that's an explicit null".to_string()),
            v => Ok(PathElement::Value(v.clone())),
        },
        ListKind::Keyed(keys) => {
            let map = match item {
                Value::Object(map) => map,
                Value::Null => return Err("associative list with keys may not have a null element".to_string()),
                _ => return Err("associative list with keys may not have non-map elements".to_string()),
            };
            let mut fields: Vec<(String, Value)> = Vec::new();
            for (name, default) in keys {
                if let Some(v) = map.get(name) {
                    fields.push((name.clone(), v.clone()));
                } else if let Some(d) = default {
                    fields.push((name.clone(), d.clone()));
                }
            }
            if !keys.is_empty() && fields.is_empty() {
                let names: Vec<String> = keys.iter().map(|(n, _)| format!("{n:?}")).collect();
                return Err(format!(
                    "associative list with keys has an element that omits all key fields [{}] (and doesn't have default values for any key fields)",
                    names.join(" ")
                ));
            }
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(PathElement::Key(fields))
        }
    }
}

/// The path elements of the items of a list, or the first item that has none.
fn item_elements(kind: &ListKind, items: &[Value], path: &[PathElement]) -> Result<Vec<PathElement>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| item_element(kind, item).map_err(|e| error_at(path, &format!("element {i}: {e}"))))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// ToFieldSet
// ---------------------------------------------------------------------------------------------

/// The set of fields `value` sets: every leaf, every list item, and every map field that is
/// null, an empty object or a key of a map rather than a declared struct field.
pub(super) fn to_field_set(value: &Value, ty: Ty<'_>) -> Result<Set, String> {
    let mut set = Set::new();
    field_set_walk(value, ty, &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn field_set_walk(value: &Value, ty: Ty<'_>, path: &mut Vec<PathElement>, set: &mut Set) -> Result<(), String> {
    match (node_of(ty, Some(value)), value) {
        (Node::Map, Value::Object(map)) => {
            for (name, child) in map {
                let (child_ty, declared) = ty.field(name);
                path.push(PathElement::Field(name.clone()));
                field_set_walk(child, child_ty, path, set)?;
                if child.is_null() || child.as_object().is_some_and(Map::is_empty) || !declared {
                    set.insert(path);
                }
                path.pop();
            }
        }
        (Node::List(kind), Value::Array(items)) => {
            let elements = item_elements(&kind, items, path)?;
            let mut seen = BTreeSet::new();
            let mut duplicates = BTreeSet::new();
            for pe in &elements {
                if !seen.insert(pe) && duplicates.insert(pe) {
                    path.push(pe.clone());
                    set.insert(path);
                    path.pop();
                }
            }
            let item_ty = ty.item();
            for (pe, item) in elements.iter().zip(items) {
                if duplicates.contains(pe) {
                    continue;
                }
                path.push(pe.clone());
                field_set_walk(item, item_ty, path, set)?;
                set.insert(path);
                path.pop();
            }
        }
        _ => set.insert(path),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Compare
// ---------------------------------------------------------------------------------------------

/// The fields two versions of an object differ in. No field is in more than one set.
#[derive(Debug, Default)]
pub(super) struct Comparison {
    /// Fields the new version no longer has.
    pub(super) removed: Set,
    /// Fields both have, with different values.
    pub(super) modified: Set,
    /// Fields only the new version has.
    pub(super) added: Set,
}

impl Comparison {
    /// The comparison without the fields of `ignored` (and everything below them).
    pub(super) fn excluding(self, ignored: &Set) -> Comparison {
        Comparison {
            removed: self.removed.recursive_difference(ignored),
            modified: self.modified.recursive_difference(ignored),
            added: self.added.recursive_difference(ignored),
        }
    }
}

/// Compares `old` (None: absent) with `new`. Lists of either may hold duplicate items.
pub(super) fn compare(old: Option<&Value>, new: Option<&Value>, ty: Ty<'_>) -> Result<Comparison, String> {
    let mut c = Comparison::default();
    compare_walk(&mut c, &mut Vec::new(), old, new, ty)?;
    Ok(c)
}

fn compare_leaf(c: &mut Comparison, path: &[PathElement], lhs: Option<&Value>, rhs: Option<&Value>) {
    match (lhs, rhs) {
        (None, _) => c.added.insert(path),
        (_, None) => c.removed.insert(path),
        (Some(l), Some(r)) => {
            if !values_equal(l, r) {
                c.modified.insert(path);
            }
        }
    }
}

fn compare_walk(
    c: &mut Comparison,
    path: &mut Vec<PathElement>,
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    ty: Ty<'_>,
) -> Result<(), String> {
    let granular = match pair_node(ty, lhs, rhs) {
        Node::Leaf => false,
        Node::Map => {
            let l = lhs.and_then(Value::as_object);
            let r = rhs.and_then(Value::as_object);
            if l.is_none_or(Map::is_empty) && r.is_none_or(Map::is_empty) {
                false
            } else {
                let mut names: Vec<&String> = l.into_iter().flat_map(Map::keys).collect();
                names.extend(r.into_iter().flat_map(Map::keys).filter(|k| !l.is_some_and(|l| l.contains_key(*k))));
                for name in names {
                    let (child_ty, _) = ty.field(name);
                    path.push(PathElement::Field(name.clone()));
                    compare_walk(c, path, l.and_then(|l| l.get(name)), r.and_then(|r| r.get(name)), child_ty)?;
                    path.pop();
                }
                true
            }
        }
        Node::List(kind) => {
            let l = lhs.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            let r = rhs.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            if l.is_empty() && r.is_empty() {
                false
            } else {
                compare_list(c, path, &kind, l, r, ty.item())?;
                true
            }
        }
    };
    if !granular {
        compare_leaf(c, path, lhs, rhs);
    } else if lhs.is_none() {
        c.added.insert(path);
    } else if rhs.is_none() {
        c.removed.insert(path);
    }
    Ok(())
}

/// Items of a list grouped by path element, in order of first appearance.
type Grouped<'v> = Vec<(PathElement, Vec<&'v Value>, Vec<&'v Value>)>;

fn compare_list(
    c: &mut Comparison,
    path: &mut Vec<PathElement>,
    kind: &ListKind,
    lhs: &[Value],
    rhs: &[Value],
    item_ty: Ty<'_>,
) -> Result<(), String> {
    let mut groups: Grouped<'_> = Vec::new();
    let mut index: BTreeMap<PathElement, usize> = BTreeMap::new();
    for (side, items) in [(0, lhs), (1, rhs)] {
        for (pe, item) in item_elements(kind, items, path)?.into_iter().zip(items) {
            let at = match index.get(&pe) {
                Some(at) => *at,
                None => {
                    index.insert(pe.clone(), groups.len());
                    groups.push((pe, Vec::new(), Vec::new()));
                    groups.len() - 1
                }
            };
            if side == 0 {
                groups[at].1.push(item);
            } else {
                groups[at].2.push(item);
            }
        }
    }
    for (pe, l, r) in groups {
        path.push(pe);
        match (l.len(), r.len()) {
            (0..=1, 0..=1) => compare_walk(c, path, l.first().copied(), r.first().copied(), item_ty)?,
            (2.., 2..) => {
                if l.len() != r.len() || l.iter().zip(&r).any(|(a, b)| !values_equal(a, b)) {
                    c.modified.insert(path);
                }
            }
            (2.., _) => {
                if let Some(item) = r.first() {
                    compare_walk(c, path, None, Some(item), item_ty)?;
                }
                c.removed.insert(path);
            }
            (_, _) => {
                if let Some(item) = l.first() {
                    compare_walk(c, path, Some(item), None, item_ty)?;
                }
                c.added.insert(path);
            }
        }
        path.pop();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Merge
// ---------------------------------------------------------------------------------------------

static NULL: Value = Value::Null;

/// Merges the applied configuration `rhs` into `lhs`: granular maps merge field by field,
/// associative lists item by item (in structured-merge-diff's order), anything else is taken
/// from `rhs`. Duplicate items in `rhs` are an error; in `lhs` they are tolerated (the applied
/// item then replaces them). A member the configuration sets to null is dropped, as decoding
/// into the Go types does.
pub(super) fn merge(lhs: Option<&Value>, rhs: Option<&Value>, ty: Ty<'_>) -> Result<Option<Value>, String> {
    merge_walk(&mut Vec::new(), lhs, rhs, ty)
}

fn merge_walk(
    path: &mut Vec<PathElement>,
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    ty: Ty<'_>,
) -> Result<Option<Value>, String> {
    match pair_node(ty, lhs, rhs) {
        Node::Leaf => Ok(rhs.or(lhs).cloned()),
        Node::Map => {
            let l = lhs.and_then(Value::as_object);
            let r = rhs.and_then(Value::as_object);
            if l.is_none_or(Map::is_empty) && r.is_none_or(Map::is_empty) {
                return Ok(rhs.or(lhs).cloned());
            }
            let mut out = Map::new();
            let mut merge_field = |name: &String, lv: Option<&Value>, rv: Option<&Value>| -> Result<(), String> {
                let (child_ty, _) = ty.field(name);
                path.push(PathElement::Field(name.clone()));
                let merged = merge_walk(path, lv, rv, child_ty)?;
                path.pop();
                match merged {
                    Some(Value::Null) if rv.is_some_and(Value::is_null) => {}
                    Some(v) => {
                        out.insert(name.clone(), v);
                    }
                    None => {}
                }
                Ok(())
            };
            for (name, lv) in l.into_iter().flatten() {
                merge_field(name, Some(lv), r.and_then(|r| r.get(name)))?;
            }
            for (name, rv) in r.into_iter().flatten() {
                if !l.is_some_and(|l| l.contains_key(name)) {
                    merge_field(name, None, Some(rv))?;
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        Node::List(kind) => {
            let l = lhs.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            let r = rhs.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            if l.is_empty() && r.is_empty() {
                return Ok(rhs.or(lhs).cloned());
            }
            let out = merge_list(path, &kind, l, r, ty.item())?;
            Ok((!out.is_empty()).then_some(Value::Array(out)))
        }
    }
}

/// Merges two associative lists the way structured-merge-diff orders them: items keep the
/// live order, applied items that are new are inserted where the applied list has them
/// relative to the items both lists share.
fn merge_list(
    path: &mut Vec<PathElement>,
    kind: &ListKind,
    lhs: &[Value],
    rhs: &[Value],
    item_ty: Ty<'_>,
) -> Result<Vec<Value>, String> {
    let rhs_pes = item_elements(kind, rhs, path)?;
    let mut observed_rhs: BTreeMap<&PathElement, &Value> = BTreeMap::new();
    for (pe, item) in rhs_pes.iter().zip(rhs) {
        if observed_rhs.insert(pe, item).is_some() {
            return Err(error_at(path, &format!("duplicate entries for key {pe}")));
        }
    }
    let lhs_pes = item_elements(kind, lhs, path)?;
    let mut observed_lhs: BTreeMap<&PathElement, &Value> = BTreeMap::new();
    for (pe, item) in lhs_pes.iter().zip(lhs) {
        if observed_lhs.insert(pe, item).is_some() {
            // Duplicated live items are not merged with the applied one.
            observed_lhs.insert(pe, &NULL);
        }
    }
    let mut shared = rhs_pes.iter().filter(|pe| observed_lhs.contains_key(pe));
    let mut next_shared = shared.next();
    let mut merged_rhs: BTreeSet<&PathElement> = BTreeSet::new();
    let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
    let mut push = |path: &mut Vec<PathElement>, pe: &PathElement, lv: Option<&Value>, rv: Option<&Value>| {
        path.push(pe.clone());
        let merged = merge_walk(path, lv, rv, item_ty);
        path.pop();
        merged.map(|m| out.extend(m))
    };
    let (mut li, mut ri) = (0, 0);
    while li < lhs_pes.len() || ri < rhs_pes.len() {
        if li < lhs_pes.len() && ri < rhs_pes.len() {
            let pe = &lhs_pes[li];
            if *pe == rhs_pes[ri] {
                merged_rhs.insert(pe);
                push(path, pe, observed_lhs.get(pe).copied(), observed_rhs.get(pe).copied())?;
                li += 1;
                ri += 1;
                next_shared = shared.next();
                continue;
            }
            if observed_rhs.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                // A shared item, but not the one to place in this round.
                li += 1;
                continue;
            }
        }
        if li < lhs_pes.len() {
            let pe = &lhs_pes[li];
            if !observed_rhs.contains_key(pe) {
                push(path, pe, Some(&lhs[li]), None)?;
                li += 1;
                continue;
            } else if merged_rhs.contains(pe) {
                li += 1;
            }
        }
        if ri < rhs_pes.len() {
            let pe = &rhs_pes[ri];
            merged_rhs.insert(pe);
            push(path, pe, observed_lhs.get(pe).copied(), observed_rhs.get(pe).copied())?;
            ri += 1;
            if next_shared.is_some_and(|n| n == pe) {
                next_shared = shared.next();
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// RemoveItems
// ---------------------------------------------------------------------------------------------

/// `value` without the fields of `to_remove` (a member removes its whole subtree). A map or
/// list left empty by the removal is removed too (`None`), as Kubernetes drops it when it
/// decodes the result.
pub(super) fn remove_items(value: &Value, to_remove: &Set, ty: Ty<'_>) -> Option<Value> {
    match (node_of(ty, Some(value)), value) {
        (Node::Map, Value::Object(map)) => {
            let mut out = Map::new();
            for (name, child) in map {
                let pe = PathElement::Field(name.clone());
                if to_remove.members.contains(&pe) {
                    continue;
                }
                match to_remove.with_prefix(&pe) {
                    Some(subset) if !subset.is_empty() => {
                        if let Some(kept) = remove_items(child, subset, ty.field(name).0) {
                            out.insert(name.clone(), kept);
                        }
                    }
                    _ => {
                        out.insert(name.clone(), child.clone());
                    }
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        (Node::List(kind), Value::Array(items)) => {
            let item_ty = ty.item();
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let Ok(pe) = item_element(&kind, item) else {
                    out.push(item.clone());
                    continue;
                };
                if to_remove.members.contains(&pe) {
                    continue;
                }
                match to_remove.with_prefix(&pe) {
                    Some(subset) if !subset.is_empty() => out.extend(remove_items(item, subset, item_ty)),
                    _ => out.push(item.clone()),
                }
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        (_, Value::Object(_) | Value::Array(_) | Value::Null) => None,
        (_, scalar) => Some(scalar.clone()),
    }
}

// ---------------------------------------------------------------------------------------------
// EnsureNamedFieldsAreMembers
// ---------------------------------------------------------------------------------------------

/// `set` plus every declared struct field that has members below it (a map key does not
/// become a member that way).
pub(super) fn ensure_named_fields(set: &Set, ty: Ty<'_>) -> Set {
    let mut out = Set { members: set.members.clone(), children: BTreeMap::new() };
    for (pe, child) in &set.children {
        let child_out = match pe {
            PathElement::Field(name) => {
                let (child_ty, declared) = ty.field(name);
                if declared {
                    out.members.insert(pe.clone());
                }
                ensure_named_fields(child, child_ty)
            }
            PathElement::Key(_) => ensure_named_fields(child, ty.item()),
            _ => child.clone(),
        };
        out.children.insert(pe.clone(), child_out);
    }
    out
}
