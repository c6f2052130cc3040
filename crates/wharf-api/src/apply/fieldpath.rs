//! Field paths, sets of field paths and their `FieldsV1` encoding, with the semantics of
//! `sigs.k8s.io/structured-merge-diff/v6/fieldpath`.
//!
//! A path is a list of [`PathElement`]s: a map field (`f:name`), an associative-list item by
//! its keys (`k:{"name":"x"}`), a set member by value (`v:"x"`) or an atomic-list index
//! (`i:0`). A [`Set`] is a tree: the elements that are members at each level, and the subtrees
//! of the elements that have members below them. Children are never empty.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// One step of a field path.
#[derive(Debug, Clone)]
pub(super) enum PathElement {
    /// A field of a map or struct (`f:<name>`).
    Field(String),
    /// An item of an associative list, by its key fields sorted by name (`k:{...}`).
    Key(Vec<(String, Value)>),
    /// A member of a set (list of scalars), by value (`v:<json>`).
    Value(Value),
    /// An item of an atomic list by index (`i:<n>`); only ever read from stored sets.
    Index(usize),
}

impl PathElement {
    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The element as a `FieldsV1` key (`f:name`, `k:{"name":"x"}`, `v:"x"`, `i:0`).
    pub(super) fn to_fields_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let mut out = String::from("k:{");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    crate::schema::gofmt::json_string(&mut out, name);
                    out.push(':');
                    go_json(value, &mut out);
                }
                out.push('}');
                out
            }
            PathElement::Value(value) => {
                let mut out = String::from("v:");
                go_json(value, &mut out);
                out
            }
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a `FieldsV1` key; `Ok(None)` for an unknown element type, which Kubernetes skips.
    fn from_fields_key(key: &str) -> Result<Option<PathElement>, String> {
        let (kind, rest) = match key.split_at_checked(2) {
            Some((kind, rest)) if kind.ends_with(':') => (kind, rest),
            _ => return Err(format!("invalid path element {key:?}")),
        };
        match kind {
            "f:" => Ok(Some(PathElement::Field(rest.to_string()))),
            "k:" => {
                let parsed: Value = serde_json::from_str(rest).map_err(|e| format!("invalid key {rest:?}: {e}"))?;
                let Value::Object(map) = parsed else { return Err(format!("invalid key {rest:?}: not an object")) };
                let mut fields: Vec<(String, Value)> = map.into_iter().collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(Some(PathElement::Key(fields)))
            }
            "v:" => {
                let parsed: Value = serde_json::from_str(rest).map_err(|e| format!("invalid value {rest:?}: {e}"))?;
                Ok(Some(PathElement::Value(parsed)))
            }
            "i:" => rest
                .parse::<usize>()
                .map(|i| Some(PathElement::Index(i)))
                .map_err(|e| format!("invalid index {rest:?}: {e}")),
            _ => Ok(None),
        }
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => compare_field_lists(a, b),
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl std::fmt::Display for PathElement {
    /// As Kubernetes prints a path element: `.name`, `[name="x",port=80]`, `[="x"]`, `[0]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                f.write_str("[")?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{name}={}", go_value_string(value))?;
                }
                f.write_str("]")
            }
            PathElement::Value(value) => write!(f, "[={}]", go_value_string(value)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path as Kubernetes prints it in conflicts: `.spec.containers[name="nginx"].image`.
pub(super) fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of field paths (`fieldpath.Set`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Set {
    /// Elements that are members of the set at this level.
    pub(super) members: BTreeSet<PathElement>,
    /// Elements with members below them; never empty sets.
    pub(super) children: BTreeMap<PathElement, Set>,
}

impl Set {
    /// The empty set.
    pub(super) fn new() -> Set {
        Set::default()
    }

    /// Adds `path` (not its parents); the empty path (the whole object) is never tracked.
    pub(super) fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether the set has no members at any level.
    pub(super) fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(Set::is_empty)
    }

    /// The subtree below `pe` (empty when there is none).
    pub(super) fn with_prefix(&self, pe: &PathElement) -> Option<&Set> {
        self.children.get(pe)
    }

    /// Paths in either set.
    pub(super) fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    /// Paths in both sets (leaf-wise: a parent member does not cover its children).
    pub(super) fn intersection(&self, other: &Set) -> Set {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if let Some(theirs) = other.children.get(pe) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    children.insert(pe.clone(), both);
                }
            }
        }
        Set { members, children }
    }

    /// Paths in `self` but not in `other` (leaf-wise: `parent - child = parent`,
    /// `child - parent = child`).
    pub(super) fn difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            match other.children.get(pe) {
                Some(theirs) => {
                    let rest = child.difference(theirs);
                    if !rest.is_empty() {
                        children.insert(pe.clone(), rest);
                    }
                }
                None => {
                    children.insert(pe.clone(), child.clone());
                }
            }
        }
        Set { members, children }
    }

    /// Paths in `self` that are neither in `other` nor below a member of `other`.
    pub(super) fn recursive_difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            match other.children.get(pe) {
                Some(theirs) => {
                    let rest = child.recursive_difference(theirs);
                    if !rest.is_empty() {
                        children.insert(pe.clone(), rest);
                    }
                }
                None => {
                    children.insert(pe.clone(), child.clone());
                }
            }
        }
        Set { members, children }
    }

    /// Every member path, members before children at each level, in element order.
    pub(super) fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for pe in &self.members {
            let mut path = prefix.clone();
            path.push(pe.clone());
            out.push(path);
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The `FieldsV1` encoding of the set, keys in Kubernetes' order.
    pub(super) fn to_fields_v1(&self) -> Value {
        Value::Object(self.fields_v1_contents(false))
    }

    fn fields_v1_contents(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self && !self.is_empty() {
            out.insert(".".to_string(), Value::Object(Map::new()));
        }
        let mut elements: BTreeSet<&PathElement> = self.members.iter().collect();
        elements.extend(self.children.keys());
        for pe in elements {
            let value = match self.children.get(pe) {
                Some(child) => Value::Object(child.fields_v1_contents(self.members.contains(pe))),
                None => Value::Object(Map::new()),
            };
            out.insert(pe.to_fields_key(), value);
        }
        out
    }

    /// Reads a `FieldsV1` value.
    pub(super) fn from_fields_v1(value: &Value) -> Result<Set, String> {
        let Value::Object(map) = value else { return Err("fieldsV1 must be an object".to_string()) };
        Ok(read_fields(map)?.0.unwrap_or_default())
    }
}

/// The children set of a `FieldsV1` object and whether the node itself is a member.
fn read_fields(map: &Map<String, Value>) -> Result<(Option<Set>, bool), String> {
    let mut children: Option<Set> = None;
    let mut is_member = false;
    for (key, value) in map {
        if key == "." {
            is_member = true;
            continue;
        }
        let Some(pe) = PathElement::from_fields_key(key)? else { continue };
        let Value::Object(inner) = value else { return Err(format!("{key}: expected an object")) };
        let (grandchildren, child_is_member) = read_fields(inner)?;
        let set = children.get_or_insert_with(Set::new);
        if child_is_member {
            set.members.insert(pe.clone());
        }
        if let Some(grandchildren) = grandchildren.filter(|g| !g.is_empty()) {
            set.children.insert(pe, grandchildren);
        }
    }
    if children.is_none() {
        is_member = true;
    }
    Ok((children, is_member))
}

/// The kind of number a JSON number is for Kubernetes: an int64 or a float64.
enum Num {
    Int(i64),
    Float(f64),
}

fn num(value: &Value) -> Option<Num> {
    let Value::Number(n) = value else { return None };
    if let Some(i) = n.as_i64() {
        return Some(Num::Int(i));
    }
    n.as_f64().map(Num::Float)
}

fn float_cmp(a: f64, b: f64) -> Ordering {
    if a < b {
        Ordering::Less
    } else if a == b {
        Ordering::Equal
    } else {
        Ordering::Greater
    }
}

/// The total order of values structured-merge-diff uses (`value.Compare`): numbers (ints and
/// floats compared numerically), then strings, booleans, lists, maps, null.
pub(super) fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (num(a), num(b)) {
        (Some(Num::Float(x)), Some(Num::Float(y))) => return float_cmp(x, y),
        (Some(Num::Float(x)), Some(Num::Int(y))) => return float_cmp(x, y as f64),
        (Some(Num::Int(x)), Some(Num::Float(y))) => return float_cmp(x as f64, y),
        (Some(Num::Int(x)), Some(Num::Int(y))) => return x.cmp(&y),
        (Some(_), None) => return Ordering::Less,
        (None, Some(_)) => return Ordering::Greater,
        (None, None) => {}
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::String(_), _) => Ordering::Less,
        (_, Value::String(_)) => Ordering::Greater,
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Bool(_), _) => Ordering::Less,
        (_, Value::Bool(_)) => Ordering::Greater,
        (Value::Array(x), Value::Array(y)) => {
            for (l, r) in x.iter().zip(y) {
                let c = compare_values(l, r);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Array(_), _) => Ordering::Less,
        (_, Value::Array(_)) => Ordering::Greater,
        (Value::Object(x), Value::Object(y)) => compare_maps(x, y),
        (Value::Object(_), _) => Ordering::Less,
        (_, Value::Object(_)) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

fn compare_maps(x: &Map<String, Value>, y: &Map<String, Value>) -> Ordering {
    if x.is_empty() && y.is_empty() {
        return Ordering::Equal;
    }
    let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
    for (i, key) in keys.into_iter().enumerate() {
        let c = if i == x.len() {
            Ordering::Less
        } else if i == y.len() {
            Ordering::Greater
        } else {
            match (x.get(key), y.get(key)) {
                (None, _) => Ordering::Greater,
                (_, None) => Ordering::Less,
                (Some(l), Some(r)) => compare_values(l, r),
            }
        };
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

fn compare_field_lists(a: &[(String, Value)], b: &[(String, Value)]) -> Ordering {
    for ((an, av), (bn, bv)) in a.iter().zip(b) {
        let c = an.cmp(bn).then_with(|| compare_values(av, bv));
        if c != Ordering::Equal {
            return c;
        }
    }
    a.len().cmp(&b.len())
}

/// Deep equality as structured-merge-diff sees it (`value.Equals`): ints and floats compare
/// numerically, object members regardless of order.
pub(super) fn values_equal(a: &Value, b: &Value) -> bool {
    match (num(a), num(b)) {
        (Some(Num::Int(x)), Some(Num::Int(y))) => return x == y,
        (Some(Num::Float(x)), Some(Num::Float(y))) => return x == y,
        (Some(Num::Float(x)), Some(Num::Int(y))) | (Some(Num::Int(y)), Some(Num::Float(x))) => return x == y as f64,
        (Some(_), None) | (None, Some(_)) => return false,
        (None, None) => {}
    }
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(l, r)| values_equal(l, r)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, l)| y.get(k).is_some_and(|r| values_equal(l, r)))
        }
        _ => a == b,
    }
}

/// `value` as Go's `encoding/json` writes it (see [`go_json`]).
pub(super) fn go_json_text(value: &Value) -> String {
    let mut out = String::new();
    go_json(value, &mut out);
    out
}

/// Writes `value` as Go's `encoding/json` would (object keys sorted, HTML characters escaped,
/// integral floats without a fraction), which is how Kubernetes writes keys in `FieldsV1`.
fn go_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(_) => match num(value) {
            Some(Num::Int(i)) => {
                let _ = write!(out, "{i}");
            }
            Some(Num::Float(f)) => out.push_str(&go_json_float(f)),
            None => out.push_str("null"),
        },
        Value::String(s) => crate::schema::gofmt::json_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                crate::schema::gofmt::json_string(out, key);
                out.push(':');
                if let Some(v) = map.get(key) {
                    go_json(v, out);
                }
            }
            out.push('}');
        }
    }
}

fn go_json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Go writes these with an exponent, without a leading zero in it.
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) if exp.starts_with('-') => format!("{mantissa}e-{}", exp.trim_start_matches('-')),
            Some((mantissa, exp)) => format!("{mantissa}e+{exp}"),
            None => s,
        }
    } else if f.fract() == 0.0 {
        format!("{f:.0}")
    } else {
        format!("{f}")
    }
}


/// A value as Kubernetes prints it in a path (`value.ToString`): strings quoted as Go's `%q`.
fn go_value_string(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(_) => match num(value) {
            Some(Num::Int(i)) => i.to_string(),
            Some(Num::Float(f)) => go_float_v(f),
            None => "null".to_string(),
        },
        Value::String(s) => go_quote(s),
        Value::Array(items) => format!("[{}]", items.iter().map(go_value_string).collect::<Vec<_>>().join(",")),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            keys.into_iter()
                .filter_map(|k| map.get(k).map(|v| format!("{k}={}", go_value_string(v))))
                .collect::<Vec<_>>()
                .join("")
        }
    }
}

/// Go's `%v` of a float64 (shortest representation, with an exponent from 1e6 or below 1e-4).
fn go_float_v(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e6).contains(&abs) {
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) => {
                let (sign, digits) = match exp.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', exp),
                };
                format!("{mantissa}e{sign}{digits:0>2}")
            }
            None => s,
        }
    } else {
        format!("{f}")
    }
}

/// Go's `%q` of a string.
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
