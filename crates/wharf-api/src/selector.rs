//! Label selectors (`app=web,tier in (a,b),!legacy`) and field selectors
//! (`metadata.name=x,status.phase!=Running`), parsed from query strings or from a
//! `LabelSelector` object, and matched against objects.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A selector that failed to parse.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("unable to parse requirement: {0}")]
pub struct SelectorError(pub String);

/// One operator of a label requirement.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `key=value` / `key==value` / `key in (..)`.
    In(Vec<String>),
    /// `key!=value` / `key notin (..)`: also matches when the key is absent.
    NotIn(Vec<String>),
    /// `key`.
    Exists,
    /// `!key`.
    DoesNotExist,
    /// `key>n`.
    Gt(i64),
    /// `key<n`.
    Lt(i64),
}

/// One requirement on a label key.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// What it must satisfy.
    pub op: Op,
}

/// A conjunction of label requirements; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    /// All must hold.
    pub requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses the string form used in `?labelSelector=`.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            reqs.push(parse_requirement(part)?);
        }
        Ok(Self { requirements: reqs })
    }

    /// Builds a selector from a `metav1.LabelSelector` object (matchLabels, matchExpressions).
    pub fn from_object(sel: &Value) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in m {
                reqs.push(Requirement { key: k.clone(), op: Op::In(vec![v.as_str().unwrap_or_default().to_string()]) });
            }
        }
        if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e.get("key").and_then(Value::as_str).unwrap_or_default().to_string();
                let values: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                let op = match e.get("operator").and_then(Value::as_str).unwrap_or_default() {
                    "In" => Op::In(values),
                    "NotIn" => Op::NotIn(values),
                    "Exists" => Op::Exists,
                    "DoesNotExist" => Op::DoesNotExist,
                    other => return Err(SelectorError(format!("{other:?} is not a valid label selector operator"))),
                };
                reqs.push(Requirement { key, op });
            }
        }
        Ok(Self { requirements: reqs })
    }

    /// True when there are no requirements.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether `labels` (an object of string values, or null) satisfy every requirement.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        self.requirements.iter().all(|r| {
            let v = labels.and_then(|l| l.get(&r.key)).and_then(Value::as_str);
            match &r.op {
                Op::In(vals) => v.is_some_and(|v| vals.iter().any(|x| x == v)),
                Op::NotIn(vals) => v.is_none_or(|v| !vals.iter().any(|x| x == v)),
                Op::Exists => v.is_some(),
                Op::DoesNotExist => v.is_none(),
                Op::Gt(n) => v.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v > *n),
                Op::Lt(n) => v.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v < *n),
            }
        })
    }

    /// Matches against a map of labels.
    pub fn matches_map(&self, labels: &BTreeMap<String, String>) -> bool {
        let m: Map<String, Value> = labels.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        self.matches(Some(&m))
    }
}

fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 316 && k.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn parse_set(s: &str) -> Result<Vec<String>, SelectorError> {
    let s = s.trim();
    let inner = s
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| SelectorError(format!("found '{s}', expected: '('")))?;
    let vals: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    for v in &vals {
        if !valid_value(v) {
            return Err(SelectorError(format!("invalid label value: {v:?}")));
        }
    }
    Ok(vals)
}

fn parse_requirement(part: &str) -> Result<Requirement, SelectorError> {
    if let Some(key) = part.strip_prefix('!') {
        let key = key.trim();
        if !valid_key(key) {
            return Err(SelectorError(format!("invalid label key {key:?}")));
        }
        return Ok(Requirement { key: key.to_string(), op: Op::DoesNotExist });
    }
    for (tok, kind) in [("!=", 0), ("==", 1), ("=", 1), (">", 2), ("<", 3)] {
        if let Some(idx) = part.find(tok) {
            let key = part[..idx].trim();
            let val = part[idx + tok.len()..].trim();
            if !valid_key(key) {
                return Err(SelectorError(format!("invalid label key {key:?}")));
            }
            let op = match kind {
                0 | 1 => {
                    if !valid_value(val) {
                        return Err(SelectorError(format!("invalid label value: {val:?}")));
                    }
                    if kind == 0 { Op::NotIn(vec![val.to_string()]) } else { Op::In(vec![val.to_string()]) }
                }
                _ => {
                    let n = val.parse::<i64>().map_err(|_| SelectorError(format!("for 'Gt', 'Lt' operators, the value must be an integer: {val:?}")))?;
                    if kind == 2 { Op::Gt(n) } else { Op::Lt(n) }
                }
            };
            return Ok(Requirement { key: key.to_string(), op });
        }
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if words.len() == 2 {
        let key = words[0].trim();
        let rest = words[1].trim();
        if !valid_key(key) {
            return Err(SelectorError(format!("invalid label key {key:?}")));
        }
        if let Some(set) = rest.strip_prefix("notin") {
            return Ok(Requirement { key: key.to_string(), op: Op::NotIn(parse_set(set)?) });
        }
        if let Some(set) = rest.strip_prefix("in") {
            return Ok(Requirement { key: key.to_string(), op: Op::In(parse_set(set)?) });
        }
        return Err(SelectorError(format!("found '{rest}', expected: in, notin, =, ==, !=, gt, lt")));
    }
    let key = part.trim();
    if !valid_key(key) {
        return Err(SelectorError(format!("invalid label key {key:?}")));
    }
    Ok(Requirement { key: key.to_string(), op: Op::Exists })
}

/// A field selector: `path=value` / `path!=value` terms, all of which must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    /// (field path, value, negated)
    pub terms: Vec<(String, String, bool)>,
}

impl FieldSelector {
    /// Parses `?fieldSelector=`.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut terms = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (f, v, neg) = if let Some(i) = part.find("!=") {
                (&part[..i], &part[i + 2..], true)
            } else if let Some(i) = part.find("==") {
                (&part[..i], &part[i + 2..], false)
            } else if let Some(i) = part.find('=') {
                (&part[..i], &part[i + 1..], false)
            } else {
                return Err(SelectorError(format!("invalid selector: '{part}'; can't understand '{part}'")));
            };
            terms.push((f.trim().to_string(), v.trim().to_string(), neg));
        }
        Ok(Self { terms })
    }

    /// True when there are no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value a term on `field` requires, when the selector pins it exactly.
    pub fn exact(&self, field: &str) -> Option<&str> {
        self.terms.iter().find(|(f, _, neg)| f == field && !neg).map(|(_, v, _)| v.as_str())
    }

    /// Whether the object satisfies every term. A missing field reads as "".
    pub fn matches(&self, obj: &Value) -> bool {
        self.matches_with(|f| field_value(obj, f))
    }

    /// Whether every term holds when `value` reads a field label's value (for kinds whose
    /// selectable fields are not plain JSON paths).
    pub fn matches_with(&self, value: impl Fn(&str) -> String) -> bool {
        self.terms.iter().all(|(f, v, neg)| (value(f) == *v) != *neg)
    }
}

/// Reads a dotted field path (`spec.nodeName`, `metadata.name`) as a string; absent is "".
pub fn field_value(obj: &Value, path: &str) -> String {
    let mut cur = obj;
    for seg in path.split('.') {
        match cur.get(seg) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn label_selector_supports_equality_set_and_existence_terms() {
        let s = LabelSelector::parse("app=web,tier in (front, back),!legacy,env!=prod,team").expect("parse");
        assert_eq!(s.requirements.len(), 5);
        assert!(s.matches(Some(&labels(json!({"app":"web","tier":"back","team":"a"})))));
        assert!(!s.matches(Some(&labels(json!({"app":"web","tier":"back","team":"a","legacy":"1"})))));
        assert!(!s.matches(Some(&labels(json!({"app":"web","tier":"mid","team":"a"})))));
        assert!(!s.matches(Some(&labels(json!({"app":"web","tier":"front","team":"a","env":"prod"})))));
        assert!(!s.matches(None));
        assert!(LabelSelector::parse("").expect("empty").matches(None));
    }

    #[test]
    fn label_selector_rejects_garbage() {
        assert!(LabelSelector::parse("a in b").is_err());
        assert!(LabelSelector::parse("a=b c").is_err());
    }

    #[test]
    fn field_selector_matches_nested_fields_and_negation() {
        let s = FieldSelector::parse("metadata.name=x,status.phase!=Running").expect("parse");
        assert!(s.matches(&json!({"metadata":{"name":"x"},"status":{"phase":"Pending"}})));
        assert!(!s.matches(&json!({"metadata":{"name":"x"},"status":{"phase":"Running"}})));
        assert_eq!(s.exact("metadata.name"), Some("x"));
    }

    #[test]
    fn label_selector_object_form_matches_like_string_form() {
        let s = LabelSelector::from_object(&json!({"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"NotIn","values":["db"]}]})).expect("ok");
        assert!(s.matches(Some(&labels(json!({"app":"web"})))));
        assert!(!s.matches(Some(&labels(json!({"app":"web","tier":"db"})))));
    }
}
