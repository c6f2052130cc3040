//! Go formatting, so messages match kube-apiserver byte for byte: `fmt`'s `%v`, `%#v` and `%q`
//! on the values of an unstructured object (`int64`, `float64`, `string`, `bool`, `nil`,
//! `[]interface{}`, `map[string]interface{}`) and `encoding/json`'s `Marshal`.

use crate::errors::{FieldError, FieldErrorType};
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// A JSON number as the apiserver's unstructured decoder holds it: `int64` when the literal is
/// an integer that fits, `float64` otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    /// `int64`.
    I(i64),
    /// `float64`.
    F(f64),
}

impl Num {
    /// The value as `float64` (Go's conversion).
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
}

/// The Go number a JSON value decodes to, if it is a number.
pub(crate) fn num(v: &Value) -> Option<Num> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(Num::I(i));
    }
    n.as_f64().map(Num::F)
}

/// A `Value` holding a Go number.
pub(crate) fn num_value(n: Num) -> Value {
    match n {
        Num::I(i) => Value::from(i),
        Num::F(f) => serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null),
    }
}

/// Splits Rust's shortest `{:e}` rendering into (mantissa, exponent).
fn sci_parts(f: f64) -> (String, i32) {
    let s = format!("{:e}", f.abs());
    match s.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse().unwrap_or(0)),
        None => (s, 0),
    }
}

fn go_exp(f: f64, mantissa: &str, exp: i32, min_digits: usize) -> String {
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let esign = if exp < 0 { '-' } else { '+' };
    let digits = exp.unsigned_abs().to_string();
    let pad = "0".repeat(min_digits.saturating_sub(digits.len()));
    format!("{sign}{mantissa}e{esign}{pad}{digits}")
}

/// `fmt.Sprintf("%v", f)` for a `float64`: shortest digits, exponent form when the decimal
/// exponent is below -4 or at least 6 (`1e+06`, `1.5`, `0.0001`).
pub(crate) fn float_v(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let (m, e) = sci_parts(f);
    if !(-4..6).contains(&e) {
        go_exp(f, &m, e, 2)
    } else {
        format!("{f}")
    }
}

/// `encoding/json`'s rendering of a `float64` (`1`, `1.5`, `1e+21`, `1e-7`).
pub(crate) fn float_json(f: f64) -> String {
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let (m, e) = sci_parts(f);
        go_exp(f, &m, e, 1)
    } else if f == 0.0 {
        if f.is_sign_negative() { "-0".into() } else { "0".into() }
    } else {
        format!("{f}")
    }
}

/// `%v` of a Go number.
pub(crate) fn num_v(n: Num) -> String {
    match n {
        Num::I(i) => i.to_string(),
        Num::F(f) => float_v(f),
    }
}

fn is_print(c: char) -> bool {
    // An approximation of Go's unicode.IsPrint: graphic characters and the ASCII space.
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    // Format characters, surrogates/private use and non-characters are not printable.
    !matches!(u, 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xFFFE | 0xFFFF
        | 0xF0000..=0x10FFFF | 0xE0001 | 0xE0020..=0xE007F)
}

/// The inside of `strconv.Quote(s)` (without the surrounding quotes).
pub(crate) fn quote_inner(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_print(c) => out.push(c),
            c if (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out
}

/// `strconv.Quote(s)` / `%q`.
pub(crate) fn quote(s: &str) -> String {
    format!("\"{}\"", quote_inner(s))
}

/// `%#v` of a value held in an `interface{}` inside an unstructured object.
pub(crate) fn sharp_v(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".into(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => quote(s),
        Value::Number(_) => num(v).map(num_v).unwrap_or_default(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(sharp_v).collect();
            format!("[]interface {{}}{{{}}}", items.join(", "))
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> =
                keys.iter().map(|k| format!("{}:{}", quote(k), m.get(k.as_str()).map(sharp_v).unwrap_or_default())).collect();
            format!("map[string]interface {{}}{{{}}}", items.join(", "))
        }
    }
}

/// `%#v` of a `[]string`.
pub(crate) fn sharp_v_strings(items: &[&str]) -> String {
    let q: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[]string{{{}}}", q.join(", "))
}

/// How `field.Error` renders a bad value: strings quoted, simple types with `%v`,
/// `null` for nil, anything else with `%#v`.
pub(crate) fn error_value(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => quote(s),
        Value::Number(_) => num(v).map(num_v).unwrap_or_default(),
        other => sharp_v(other),
    }
}

/// Appends `s` as Go's `encoding/json` writes a string (HTML-safe escapes included).
pub(crate) fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_into(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(_) => match num(v) {
            Some(Num::I(i)) => out.push_str(&i.to_string()),
            Some(Num::F(f)) => out.push_str(&float_json(f)),
            None => out.push_str("null"),
        },
        Value::String(s) => json_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_into(out, x);
            }
            out.push(']');
        }
        Value::Object(m) => json_object(out, m),
    }
}

fn json_object(out: &mut String, m: &Map<String, Value>) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    out.push('{');
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(out, k);
        out.push(':');
        if let Some(x) = m.get(k.as_str()) {
            json_into(out, x);
        }
    }
    out.push('}');
}

/// `json.Marshal(v)` as Go writes it: sorted keys, HTML-safe escaping, Go float formatting.
pub(crate) fn json(v: &Value) -> String {
    let mut out = String::new();
    json_into(&mut out, v);
    out
}

/// True when errors.rs renders `v` exactly as Go's `field.Error` does.
fn renders_like_go(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(_) => true,
        Value::String(s) => quote_inner(s) == *s,
        Value::Number(_) => matches!(num(v), Some(Num::I(_))),
        _ => false,
    }
}

/// A field error carrying `value`, rendered as Go would: when errors.rs would render the value
/// differently (floats, objects, arrays, strings needing escapes), the Go rendering is put at
/// the front of the detail instead, so `message()` and `cause()` read exactly like Kubernetes.
pub(crate) fn with_value(kind: FieldErrorType, field: impl Into<String>, value: &Value, detail: impl Into<String>) -> FieldError {
    let detail = detail.into();
    if renders_like_go(value) {
        return FieldError { kind, field: field.into(), value: Some(value.clone()), detail };
    }
    let rendered = error_value(value);
    let detail = if detail.is_empty() { rendered } else { format!("{rendered}: {detail}") };
    FieldError { kind, field: field.into(), value: None, detail }
}

/// `field.Invalid(path, value, detail)`.
pub(crate) fn invalid(field: impl Into<String>, value: &Value, detail: impl Into<String>) -> FieldError {
    with_value(FieldErrorType::Invalid, field, value, detail)
}

/// `field.Duplicate(path, value)`.
pub(crate) fn duplicate(field: impl Into<String>, value: &Value) -> FieldError {
    with_value(FieldErrorType::Duplicate, field, value, "")
}

/// `field.NotSupported(path, value, supported)` (each supported value is `strconv.Quote`d).
pub(crate) fn not_supported(field: impl Into<String>, value: &Value, supported: &[String]) -> FieldError {
    let inner: Vec<String> = supported.iter().map(|s| quote_inner(s)).collect();
    let refs: Vec<&str> = inner.iter().map(String::as_str).collect();
    let base = FieldError::not_supported(field, value.clone(), &refs);
    if renders_like_go(value) {
        return base;
    }
    with_value(FieldErrorType::NotSupported, base.field, value, base.detail)
}

/// `field.TooMany(path, actual, max)`: `Too many: 5: must have at most 3 items`.
pub(crate) fn too_many(field: impl Into<String>, actual: i64, max: i64) -> FieldError {
    let detail = if max >= 0 { format!("must have at most {max} items") } else { "has too many items".to_string() };
    let detail = if actual >= 0 { format!("{actual}: {detail}") } else { detail };
    FieldError { kind: FieldErrorType::TooMany, field: field.into(), value: None, detail }
}

/// `field.TooLong(path, "", max)`: `Too long: may not be more than 5 bytes`.
pub(crate) fn too_long(field: impl Into<String>, max: i64) -> FieldError {
    match usize::try_from(max) {
        Ok(max) => FieldError::too_long(field, max),
        Err(_) => FieldError { kind: FieldErrorType::TooLong, field: field.into(), value: None, detail: "value is too long".into() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_like_go_percent_v() {
        let cases = [(1.5, "1.5"), (1.0, "1"), (1e6, "1e+06"), (123456.0, "123456"), (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5e-7, "-2.5e-07"), (1.2345678e7, "1.2345678e+07")];
        for (f, want) in cases {
            assert_eq!(float_v(f), want, "{f}");
        }
    }

    #[test]
    fn floats_marshal_like_go_json() {
        let cases = [(1.0, "1"), (1.5, "1.5"), (1e21, "1e+21"), (1e-7, "1e-7"), (100000000.0, "100000000")];
        for (f, want) in cases {
            assert_eq!(float_json(f), want, "{f}");
        }
    }

    #[test]
    fn maps_render_like_go_sharp_v_with_sorted_keys() {
        let v = json!({"name": "a", "b": [1, 2.5, null], "a": {"x": true}});
        assert_eq!(
            sharp_v(&v),
            r#"map[string]interface {}{"a":map[string]interface {}{"x":true}, "b":[]interface {}{1, 2.5, interface {}(nil)}, "name":"a"}"#
        );
    }

    #[test]
    fn json_marshal_sorts_keys_and_escapes_html() {
        assert_eq!(json(&json!({"b": 1.0, "a": "<x>"})), r#"{"a":"\u003cx\u003e","b":1}"#);
    }

    #[test]
    fn quote_escapes_like_strconv() {
        assert_eq!(quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
    }

    #[test]
    fn compound_values_move_into_the_detail_so_messages_match() {
        let e = duplicate("spec.items[1]", &json!({"name": "a"}));
        assert_eq!(e.message(), r#"spec.items[1]: Duplicate value: map[string]interface {}{"name":"a"}"#);
        let e = invalid("spec.f", &json!(1.0), "bad");
        assert_eq!(e.message(), "spec.f: Invalid value: 1: bad");
        let e = too_many("spec.items", 5, 3);
        assert_eq!(e.message(), "spec.items: Too many: 5: must have at most 3 items");
    }
}
