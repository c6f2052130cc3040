//! Table columns of custom resources: `additionalPrinterColumns` evaluated with the
//! simple JSONPath subset CRDs use (`.spec.replicas`, `.status.conditions[0].type`,
//! `.status.conditions[?(@.type=="Ready")].status`), or Name and Age by default.

use serde_json::{json, Value};
use std::time::SystemTime;

/// Evaluates a CRD printer-column JSONPath against an object.
pub fn eval_path(obj: &Value, path: &str) -> Option<Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}').trim_start_matches('$');
    let mut cur = obj.clone();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            cur = cur.get(&r[..end])?.clone();
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            rest = &r[end + 1..];
            if let Some(filter) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (field, want) = filter.split_once("==")?;
                let want = want.trim().trim_matches(|c| c == '"' || c == '\'');
                let arr = cur.as_array()?;
                cur = arr.iter().find(|e| e.get(field.trim()).and_then(Value::as_str) == Some(want))?.clone();
            } else {
                let i: usize = inner.parse().ok()?;
                cur = cur.get(i)?.clone();
            }
        } else {
            return None;
        }
    }
    Some(cur)
}

fn age(obj: &Value, now: SystemTime) -> Value {
    obj.pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(wharf_api::meta::parse_time)
        .and_then(|t| now.duration_since(t).ok())
        .map(|d| json!(wharf_api::table::human_duration(d)))
        .unwrap_or(json!("<unknown>"))
}

/// Renders the cells of one row.
pub type CellFn = Box<dyn Fn(&Value) -> Vec<Value>>;

/// Column definitions and a cell function for a served CRD version.
pub fn crd_columns(version: &Value) -> (Vec<Value>, CellFn) {
    let cols: Vec<Value> = version.get("additionalPrinterColumns").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut defs = vec![json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0})];
    if cols.is_empty() {
        defs.push(json!({"name": "Age", "type": "date", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0}));
        let f = |o: &Value| vec![json!(wharf_api::meta::name(o)), age(o, SystemTime::now())];
        return (defs, Box::new(f));
    }
    for c in &cols {
        defs.push(json!({
            "name": c.get("name").cloned().unwrap_or(json!("")),
            "type": c.get("type").cloned().unwrap_or(json!("string")),
            "format": c.get("format").cloned().unwrap_or(json!("")),
            "description": c.get("description").cloned().unwrap_or(json!("")),
            "priority": c.get("priority").cloned().unwrap_or(json!(0)),
        }));
    }
    let f = move |o: &Value| {
        let mut cells = vec![json!(wharf_api::meta::name(o))];
        for c in &cols {
            let path = c.get("jsonPath").and_then(Value::as_str).unwrap_or_default();
            let ty = c.get("type").and_then(Value::as_str).unwrap_or("string");
            let v = eval_path(o, path);
            cells.push(match (ty, v) {
                ("date", Some(Value::String(s))) => wharf_api::meta::parse_time(&s)
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .map(|d| json!(wharf_api::table::human_duration(d)))
                    .unwrap_or(json!(s)),
                (_, Some(v)) => v,
                (_, None) => Value::Null,
            });
        }
        cells
    };
    (defs, Box::new(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonpath_subset_reads_fields_indexes_and_filters() {
        let o = json!({"spec":{"replicas":3},"status":{"conditions":[{"type":"A","status":"False"},{"type":"Ready","status":"True"}]}});
        assert_eq!(eval_path(&o, ".spec.replicas"), Some(json!(3)));
        assert_eq!(eval_path(&o, ".status.conditions[0].type"), Some(json!("A")));
        assert_eq!(eval_path(&o, ".status.conditions[?(@.type==\"Ready\")].status"), Some(json!("True")));
        assert_eq!(eval_path(&o, ".spec.missing"), None);
    }
}
