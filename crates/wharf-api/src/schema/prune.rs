//! Pruning of unknown fields (apiextensions' `schema/pruning`), removal of non-nullable nulls
//! (`PruneNonNullableNullsWithoutDefaults`) and defaulting (`schema/defaulting`).

use super::S;
use serde_json::Value;

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// The pruning path being walked: `spec.items[0].name` pieces.
struct PathBuf {
    parts: Vec<String>,
}

impl PathBuf {
    fn len(&self) -> usize {
        self.parts.len()
    }
    fn truncate(&mut self, n: usize) {
        self.parts.truncate(n);
    }
    fn push_key(&mut self, k: &str) {
        if !self.parts.is_empty() {
            self.parts.push(".".into());
        }
        self.parts.push(k.to_string());
    }
    fn push_index(&mut self, i: usize) {
        self.parts.push(format!("[{i}]"));
    }
    fn record(&mut self, k: &str, out: &mut Vec<String>) {
        let n = self.len();
        self.push_key(k);
        out.push(self.parts.concat());
        self.truncate(n);
    }
}

/// `prune(x, s)`; `root_embedded` treats `s` as `x-kubernetes-embedded-resource: true` (the
/// resource root).
fn prune_x(x: &mut Value, s: Option<S>, root_embedded: bool, path: &mut PathBuf, out: &mut Vec<String>) {
    if let Some(s) = s.filter(|s| s.preserve()) {
        skip_prune(x, s, root_embedded, path, out);
        return;
    }
    let base = path.len();
    match x {
        Value::Object(m) => {
            let Some(s) = s else {
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    path.record(&k, out);
                }
                m.clear();
                return;
            };
            let embedded = root_embedded || s.embedded();
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(p) = s.prop(&k) {
                    path.push_key(&k);
                    if let Some(v) = m.get_mut(&k) {
                        prune_x(v, Some(p), false, path, out);
                    }
                    path.truncate(base);
                } else if s.has_ap() {
                    path.push_key(&k);
                    if let Some(v) = m.get_mut(&k) {
                        prune_x(v, s.ap_schema(), false, path, out);
                    }
                    path.truncate(base);
                } else {
                    if !META_FIELDS.contains(&k.as_str()) || base > 0 {
                        path.record(&k, out);
                    }
                    m.shift_remove(&k);
                }
            }
        }
        Value::Array(a) => {
            let items = s.and_then(|s| s.items());
            for (i, v) in a.iter_mut().enumerate() {
                path.push_index(i);
                prune_x(v, items, false, path, out);
                path.truncate(base);
            }
        }
        _ => {}
    }
}

/// Under `x-kubernetes-preserve-unknown-fields`: unknown fields stay, known ones are pruned.
fn skip_prune(x: &mut Value, s: S, root_embedded: bool, path: &mut PathBuf, out: &mut Vec<String>) {
    let base = path.len();
    match x {
        Value::Object(m) => {
            let embedded = root_embedded || s.embedded();
            for (k, v) in m.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(p) = s.prop(k) {
                    path.push_key(k);
                    prune_x(v, Some(p), false, path, out);
                    path.truncate(base);
                } else if s.has_ap() {
                    path.push_key(k);
                    prune_x(v, s.ap_schema(), false, path, out);
                    path.truncate(base);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = s.items() {
                for (i, v) in a.iter_mut().enumerate() {
                    path.push_index(i);
                    skip_prune(v, items, false, path, out);
                    path.truncate(base);
                }
            }
        }
        _ => {}
    }
}

/// Prunes `obj` (the resource root) and returns the sorted paths of removed fields.
pub(super) fn prune_root(obj: &mut Value, schema: S) -> Vec<String> {
    let mut out = Vec::new();
    let mut path = PathBuf { parts: Vec::new() };
    prune_x(obj, Some(schema), true, &mut path, &mut out);
    out.sort();
    out
}

/// Prunes a value at a schema node (used for `default` values; `root_embedded` as for a root).
pub(super) fn prune_value(x: &mut Value, s: S, root_embedded: bool) {
    let mut out = Vec::new();
    let mut path = PathBuf { parts: Vec::new() };
    prune_x(x, Some(s), root_embedded, &mut path, &mut out);
}

fn field_schema<'a>(k: &str, s: Option<S<'a>>) -> Option<S<'a>> {
    let s = s?;
    if let Some(p) = s.prop(k) {
        return Some(p);
    }
    s.ap_schema()
}

/// `PruneNonNullableNullsWithoutDefaults`: drops `null`s where the schema is neither nullable
/// nor defaulted.
pub(super) fn prune_nulls(x: &mut Value, s: Option<S>) {
    match x {
        Value::Object(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let fs = field_schema(&k, s);
                let drop = m.get(&k).is_some_and(Value::is_null) && fs.is_some_and(|f| !f.nullable() && f.default().is_none());
                if drop {
                    m.shift_remove(&k);
                } else if let Some(v) = m.get_mut(&k) {
                    prune_nulls(v, fs);
                }
            }
        }
        Value::Array(a) => {
            let items = s.and_then(|s| s.items());
            for v in a.iter_mut() {
                prune_nulls(v, items);
            }
        }
        _ => {}
    }
}

fn is_non_nullable_null(x: &Value, s: Option<S>) -> bool {
    x.is_null() && s.is_some_and(|s| !s.nullable())
}

/// `defaulting.Default`: fills missing (or non-nullable `null`) properties from `default`,
/// then recurses, so defaults nested inside a defaulted value apply too.
pub(super) fn default_x(x: &mut Value, s: Option<S>) {
    let Some(s) = s else { return };
    match x {
        Value::Object(m) => {
            if let Some(props) = s.props() {
                for (k, p) in props {
                    let p = S(p);
                    let Some(d) = p.default() else { continue };
                    let missing = match m.get(k) {
                        None => true,
                        Some(v) => is_non_nullable_null(v, Some(p)),
                    };
                    if missing {
                        m.insert(k.clone(), d.clone());
                    }
                }
            }
            for (k, v) in m.iter_mut() {
                if let Some(p) = s.prop(k) {
                    default_x(v, Some(p));
                } else if s.has_ap() {
                    let ap = s.ap_schema();
                    if is_non_nullable_null(v, ap) {
                        *v = ap.and_then(|a| a.default()).cloned().unwrap_or(Value::Null);
                    }
                    default_x(v, ap);
                }
            }
        }
        Value::Array(a) => {
            let items = s.items();
            for v in a.iter_mut() {
                if is_non_nullable_null(v, items) {
                    *v = items.and_then(|i| i.default()).cloned().unwrap_or(Value::Null);
                }
                default_x(v, items);
            }
        }
        _ => {}
    }
}
