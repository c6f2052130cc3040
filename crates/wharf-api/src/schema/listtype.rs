//! `x-kubernetes-list-type: set|map` uniqueness (apiextensions' `schema/listtype`).

use super::gofmt::{self, Num};
use super::{kchild, kindex, kkey, S};
use crate::errors::FieldError;
use serde_json::{Map, Value};

/// A hashable identity with Go's semantics: scalars compare by dynamic type and value (so `1`
/// and `1.0` differ), compound values by their JSON encoding.
#[derive(PartialEq)]
enum Key {
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(String),
    Compound(String),
    Unspecified,
}

fn key_of(v: &Value) -> Key {
    match v {
        Value::Null => Key::Null,
        Value::Bool(b) => Key::Bool(*b),
        Value::String(s) => Key::Str(s.clone()),
        Value::Number(_) => match gofmt::num(v) {
            Some(Num::I(i)) => Key::Int(i),
            Some(Num::F(f)) => Key::Float(if f == 0.0 { 0 } else { f.to_bits() }),
            None => Key::Null,
        },
        Value::Array(_) | Value::Object(_) => Key::Compound(gofmt::json(v)),
    }
}

/// Indices of the second occurrence of every repeated key (later repeats are not reported).
fn non_unique(keys: &[Key]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let before = keys[..i].iter().filter(|x| *x == k).count();
        if before == 1 {
            out.push(i);
        }
    }
    out
}

fn validate_map(path: &str, s: S, items: &[Value], errs: &mut Vec<FieldError>) {
    for (i, x) in items.iter().enumerate() {
        if !x.is_null() && !x.is_object() {
            errs.push(gofmt::invalid(kindex(path, i), x, "must be an object for an array of list-type map"));
            return;
        }
    }
    if items.len() <= 1 {
        return;
    }
    let key_fields = s.strings("x-kubernetes-list-map-keys");
    if key_fields.len() == 1 {
        let field = key_fields[0];
        let keys: Vec<Key> = items.iter().map(|x| x.get(field).map(key_of).unwrap_or(Key::Unspecified)).collect();
        for i in non_unique(&keys) {
            let mut m = Map::new();
            if let Some(k) = items[i].get(field) {
                m.insert(field.to_string(), k.clone());
            }
            errs.push(gofmt::duplicate(kindex(path, i), &Value::Object(m)));
        }
        return;
    }
    let key_maps: Vec<Value> = items
        .iter()
        .map(|x| {
            let mut m = Map::new();
            for f in &key_fields {
                if let Some(k) = x.get(*f) {
                    m.insert((*f).to_string(), k.clone());
                }
            }
            Value::Object(m)
        })
        .collect();
    let keys: Vec<Key> = key_maps.iter().map(key_of).collect();
    for i in non_unique(&keys) {
        errs.push(gofmt::duplicate(kindex(path, i), &key_maps[i]));
    }
}

fn validate_array(path: &str, s: S, items: &[Value], errs: &mut Vec<FieldError>) {
    match s.str("x-kubernetes-list-type") {
        "set" if items.len() > 1 => {
            let keys: Vec<Key> = items.iter().map(key_of).collect();
            for i in non_unique(&keys) {
                errs.push(gofmt::duplicate(kindex(path, i), &items[i]));
            }
        }
        "map" => validate_map(path, s, items, errs),
        _ => {}
    }
    if let Some(item_schema) = s.items() {
        for (i, x) in items.iter().enumerate() {
            validate_value(&kindex(path, i), item_schema, x, errs);
        }
    }
}

fn validate_value(path: &str, s: S, x: &Value, errs: &mut Vec<FieldError>) {
    match x {
        Value::Array(a) => validate_array(path, s, a, errs),
        Value::Object(m) => validate_object(path, s, m, errs),
        _ => {}
    }
}

/// `ValidateListSetsAndMaps`: walks an object along properties and additionalProperties.
pub(super) fn validate_object(path: &str, s: S, obj: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    if let Some(ap) = s.ap_schema() {
        for (k, v) in obj {
            validate_value(&kkey(path, k), ap, v, errs);
        }
    }
    if s.props().is_some() {
        for (k, v) in obj {
            if let Some(p) = s.prop(k) {
                validate_value(&kchild(path, k), p, v, errs);
            }
        }
    }
}
