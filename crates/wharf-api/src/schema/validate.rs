//! OpenAPI value validation of a custom resource, mirroring kube-openapi's `validate` package
//! (validator order, match counts for `anyOf`/`oneOf`, de-duplicated messages, "in body"
//! messages) and apiextensions' conversion of its results into field errors.

use super::gofmt::{self, Num};
use super::{formats, regex, Ap, S};
use crate::errors::FieldError;
use serde_json::Value;

/// kube-openapi's error codes (those a CRD schema can produce).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Code {
    InvalidType,
    Required,
    TooLong,
    TooShort,
    Pattern,
    Enum,
    MultipleOf,
    Max,
    Min,
    Unique,
    MaxItems,
    MinItems,
    TooFewProperties,
    TooManyProperties,
    Unallowed,
    MultipleOfPositive,
}

/// One kube-openapi error: a `*errors.Validation` (with a code) or a plain error.
#[derive(Debug, Clone)]
struct OErr {
    code: Option<Code>,
    name: String,
    value: Option<Value>,
    valid: Option<i64>,
    values: Vec<Value>,
    msg: String,
}

impl OErr {
    fn v(code: Code, name: &str, value: Option<Value>, msg: String) -> Self {
        OErr { code: Some(code), name: name.to_string(), value, valid: None, values: Vec::new(), msg }
    }
    fn plain(msg: String) -> Self {
        OErr { code: None, name: String::new(), value: None, valid: None, values: Vec::new(), msg }
    }
    fn valid(mut self, v: i64) -> Self {
        self.valid = Some(v);
        self
    }
}

/// `validate.Result`: errors (de-duplicated by message) and the match count used to pick the
/// best failing alternative of `anyOf`/`oneOf`.
#[derive(Debug, Default)]
pub(super) struct Res {
    errs: Vec<OErr>,
    mc: usize,
}

impl Res {
    fn err(e: OErr) -> Self {
        Res { errs: vec![e], mc: 0 }
    }
    fn add(&mut self, e: OErr) {
        if !self.errs.iter().any(|x| x.msg == e.msg) {
            self.errs.push(e);
        }
    }
    fn merge(&mut self, o: Res) {
        for e in o.errs {
            self.add(e);
        }
        self.mc += o.mc;
    }
    fn inc(&mut self) {
        self.mc += 1;
    }
    fn is_valid(&self) -> bool {
        self.errs.is_empty()
    }
}

fn invalid_type(path: &str, type_name: &str, value: &str) -> OErr {
    OErr::v(
        Code::InvalidType,
        path,
        Some(Value::String(value.to_string())),
        format!("{path} in body must be of type {type_name}: {}", gofmt::quote(value)),
    )
}

/// Go's `swag.IsFloat64AJSONInteger`.
pub(super) fn is_json_integer(f: f64) -> bool {
    const MAX: f64 = 9_007_199_254_740_991.0;
    if !f.is_finite() || !(-MAX..=MAX).contains(&f) {
        return false;
    }
    let t = f.trunc();
    if f == t {
        return true;
    }
    if t == 0.0 {
        return false;
    }
    let diff = (f - t).abs();
    diff / (f.abs() + t.abs()) < 1e-9
}

/// The JSON type (and Go format) kube-openapi infers for a decoded value.
fn schema_info(data: &Value) -> (&'static str, &'static str) {
    match data {
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(_) => match gofmt::num(data) {
            Some(Num::I(_)) => ("integer", "int64"),
            _ => ("number", "float64"),
        },
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
        Value::Null => ("", ""),
    }
}

fn type_applies(s: S) -> bool {
    !s.types().is_empty() || !s.format().is_empty()
}

fn type_validate(s: S, data: &Value, path: &str) -> Res {
    let types = s.types();
    let fmt = s.format();
    if data.is_null() {
        if !types.is_empty() && !types.contains(&"null") && !s.nullable() {
            return Res::err(invalid_type(path, &types.join(","), "null"));
        }
        return Res { errs: Vec::new(), mc: 1 };
    }
    let (sch_type, dfmt) = schema_info(data);
    let string_or_slice = matches!(data, Value::String(_) | Value::Array(_));
    let is_float_int = sch_type == "number" && gofmt::num(data).is_some_and(|n| is_json_integer(n.as_f64())) && types.contains(&"integer");
    let is_int_float = sch_type == "integer" && types.contains(&"number");
    let is_lower_int = fmt == "int64" && dfmt == "int32";
    let is_lower_float = fmt == "float64" && dfmt == "float32";
    if !string_or_slice
        && !fmt.is_empty()
        && !(types.contains(&sch_type) || dfmt == fmt || is_float_int || is_int_float || is_lower_int || is_lower_float)
    {
        return Res::err(invalid_type(path, fmt, dfmt));
    }
    if string_or_slice && !(fmt.is_empty() || types.contains(&"number") || types.contains(&"integer")) {
        return Res { errs: Vec::new(), mc: 1 };
    }
    if !(types.contains(&sch_type) || is_float_int || is_int_float) {
        return Res::err(invalid_type(path, &types.join(","), sch_type));
    }
    Res { errs: Vec::new(), mc: 1 }
}

fn props_validate(s: S, data: &Value, path: &str) -> Res {
    let mut main = Res::default();
    let q = gofmt::quote(path);

    let any_of: Vec<S> = s.schemas("anyOf").collect();
    if !any_of.is_empty() {
        let mut best: Option<Res> = None;
        let mut first_success: Option<Res> = None;
        for alt in any_of {
            let r = schema_validate(alt, data, path);
            if r.is_valid() {
                best = None;
                first_success = Some(r);
                break;
            }
            if best.as_ref().is_none_or(|b| r.mc > b.mc) {
                best = Some(r);
            }
        }
        if first_success.is_none() {
            main.add(OErr::plain(format!("{q} must validate at least one schema (anyOf)")));
        }
        if let Some(b) = best {
            main.merge(b);
        } else if let Some(f) = first_success {
            main.merge(f);
        }
    }

    let one_of: Vec<S> = s.schemas("oneOf").collect();
    if !one_of.is_empty() {
        let mut best: Option<Res> = None;
        let mut first_success: Option<Res> = None;
        let mut validated = 0usize;
        for alt in one_of {
            let r = schema_validate(alt, data, path);
            if r.is_valid() {
                validated += 1;
                best = None;
                if first_success.is_none() {
                    first_success = Some(r);
                }
                continue;
            }
            if validated == 0 && best.as_ref().is_none_or(|b| r.mc > b.mc) {
                best = Some(r);
            }
        }
        if validated != 1 {
            let extra = if validated == 0 { "Found none valid".to_string() } else { format!("Found {validated} valid alternatives") };
            main.add(OErr::plain(format!("{q} must validate one and only one schema (oneOf). {extra}")));
            if let Some(b) = best {
                main.merge(b);
            }
        } else if let Some(f) = first_success {
            main.merge(f);
        }
    }

    let all_of: Vec<S> = s.schemas("allOf").collect();
    if !all_of.is_empty() {
        let total = all_of.len();
        let mut validated = 0usize;
        for alt in all_of {
            let r = schema_validate(alt, data, path);
            if r.is_valid() {
                validated += 1;
            }
            main.merge(r);
        }
        if validated != total {
            let extra = if validated == 0 { ". None validated" } else { "" };
            main.add(OErr::plain(format!("{q} must validate all the schemas (allOf){extra}")));
        }
    }

    if let Some(not) = s.get("not").filter(|v| v.is_object()).map(S) {
        if schema_validate(not, data, path).is_valid() {
            main.add(OErr::plain(format!("{q} must not validate the schema (not)")));
        }
    }

    main.inc();
    main
}

fn string_validate(s: S, data: &str, path: &str) -> Res {
    let len = i64::try_from(data.chars().count()).unwrap_or(i64::MAX);
    let value = || Some(Value::String(data.to_string()));
    if let Some(max) = s.i64("maxLength") {
        if len > max {
            return Res::err(OErr::v(Code::TooLong, path, value(), format!("{path} in body should be at most {max} chars long")).valid(max));
        }
    }
    if let Some(min) = s.i64("minLength") {
        if len < min {
            return Res::err(OErr::v(Code::TooShort, path, value(), format!("{path} in body should be at least {min} chars long")).valid(min));
        }
    }
    let pattern = s.str("pattern");
    if !pattern.is_empty() {
        match &*regex::cached(pattern) {
            Ok(re) => {
                if !re.is_match(data) {
                    return Res::err(OErr::v(Code::Pattern, path, value(), format!("{path} in body should match '{pattern}'")));
                }
            }
            Err(regex::Error::Invalid(e)) => {
                return Res::err(OErr::v(Code::Pattern, path, value(), format!("{path} in body should match '{pattern}, but pattern is invalid: {e}'")));
            }
            Err(regex::Error::Unsupported(_)) => {}
        }
    }
    Res::default()
}

fn format_validate(fmt: &str, data: &str, path: &str) -> Res {
    if formats::validates(fmt, data) {
        return Res::default();
    }
    Res::err(invalid_type(path, fmt, data))
}

/// Whether `format: int32` (on `type: integer`) and `format: float` (on `type: number`) reject
/// values outside their range. Kubernetes v1.32 strips both formats and accepts any value; v1.36+
/// rejects overflow with `Checked value must be of type integer with format int32 in <path>`.
/// On by default because Wharf wants the range check; turn off for strict v1.32 behaviour.
pub(super) const NUMERIC_FORMAT_RANGES: bool = true;

/// The v1.36 range check for `int32`/`float` formats (see [`NUMERIC_FORMAT_RANGES`]).
fn range_error(s: S, val: Num, path: &str) -> Option<OErr> {
    if !NUMERIC_FORMAT_RANGES {
        return None;
    }
    let (type_name, format) = match (s.types().as_slice(), s.str("format")) {
        (["integer"], "int32") => ("integer", "int32"),
        (["number"], "float") => ("number", "float"),
        _ => return None,
    };
    let ok = match val {
        Num::I(i) if format == "int32" => i32::try_from(i).is_ok(),
        Num::F(f) if format == "int32" => format!("{f}").parse::<i32>().is_ok(),
        n => (n.as_f64() as f32).is_finite(),
    };
    (!ok).then(|| OErr::plain(format!("Checked value must be of type {type_name} with format {format} in {path}")))
}

/// Go's float64 → int64 conversion (truncating; saturating here).
fn go_int(f: f64) -> i64 {
    f as i64
}

/// `MultipleOfNativeType`: integer data against the factor truncated to an integer.
fn multiple_of(path: &str, data: Num, factor: f64) -> Option<OErr> {
    let data_v = gofmt::num_value(data);
    match data {
        Num::I(i) => {
            let f = go_int(factor);
            if f <= 0 {
                return Some(OErr::v(Code::MultipleOfPositive, path, Some(Value::from(f)), format!("factor MultipleOf declared for {path} must be positive: {f}")));
            }
            if i.wrapping_div(f).wrapping_mul(f) != i {
                return Some(OErr::v(Code::MultipleOf, path, Some(data_v), format!("{path} in body should be a multiple of {f}")));
            }
            None
        }
        _ => {
            let d = data.as_f64();
            if factor <= 0.0 {
                let fv = gofmt::num_value(Num::F(factor));
                return Some(OErr::v(Code::MultipleOfPositive, path, Some(fv), format!("factor MultipleOf declared for {path} must be positive: {}", gofmt::float_v(factor))));
            }
            let mult = if factor < 1.0 { 1.0 / factor * d } else { d / factor };
            if !is_json_integer(mult) {
                let dv = gofmt::num_value(Num::F(d));
                return Some(OErr::v(Code::MultipleOf, path, Some(dv), format!("{path} in body should be a multiple of {}", gofmt::float_v(factor))));
            }
            None
        }
    }
}

/// `MaximumNativeType`/`MinimumNativeType`: integer data against the bound truncated to an integer.
fn bound(path: &str, data: Num, limit: f64, exclusive: bool, is_max: bool) -> Option<OErr> {
    let (word_inc, word_exc, code) = if is_max { ("less than or equal to", "less than", Code::Max) } else { ("greater than or equal to", "greater than", Code::Min) };
    let word = if exclusive { word_exc } else { word_inc };
    match data {
        Num::I(i) => {
            let l = go_int(limit);
            let fails = if is_max { (!exclusive && i > l) || (exclusive && i >= l) } else { (!exclusive && i < l) || (exclusive && i <= l) };
            fails.then(|| OErr::v(code, path, Some(Value::from(i)), format!("{path} in body should be {word} {l}")))
        }
        _ => {
            let d = data.as_f64();
            let fails = if is_max { (!exclusive && d > limit) || (exclusive && d >= limit) } else { (!exclusive && d < limit) || (exclusive && d <= limit) };
            fails.then(|| OErr::v(code, path, Some(gofmt::num_value(Num::F(d))), format!("{path} in body should be {word} {}", gofmt::float_v(limit))))
        }
    }
}

fn number_validate(s: S, data: Num, path: &str) -> Res {
    let mut res = Res::default();
    if let Some(e) = range_error(s, data, path) {
        res.add(e);
    }
    let mut r_multiple = Res::default();
    if let Some(mo) = s.f64("multipleOf") {
        if let Some(e) = multiple_of(path, data, mo) {
            r_multiple.add(e);
        }
    }
    let mut r_max = Res::default();
    if let Some(max) = s.f64("maximum") {
        if let Some(e) = bound(path, data, max, s.flag("exclusiveMaximum"), true) {
            r_max.add(e);
        }
    }
    let mut r_min = Res::default();
    if let Some(min) = s.f64("minimum") {
        if let Some(e) = bound(path, data, min, s.flag("exclusiveMinimum"), false) {
            r_min.add(e);
        }
    }
    res.merge(r_multiple);
    res.merge(r_min);
    res.merge(r_max);
    res.inc();
    res
}

/// Go `reflect.DeepEqual` on decoded values (int64 and float64 differ).
pub(super) fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => gofmt::num(a) == gofmt::num(b),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| deep_equal(p, q)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w))),
        _ => a == b,
    }
}

fn slice_validate(s: S, data: &[Value], path: &str) -> Res {
    let mut r = Res::default();
    if let Some(items) = s.items() {
        for (i, v) in data.iter().enumerate() {
            r.merge(schema_validate(items, v, &format!("{path}[{i}]")));
        }
    }
    let size = i64::try_from(data.len()).unwrap_or(i64::MAX);
    if let Some(min) = s.i64("minItems") {
        if size < min {
            r.add(OErr::v(Code::MinItems, path, Some(Value::from(size)), format!("{path} in body should have at least {min} items")).valid(min));
        }
    }
    if let Some(max) = s.i64("maxItems") {
        if size > max {
            r.add(OErr::v(Code::MaxItems, path, Some(Value::from(size)), format!("{path} in body should have at most {max} items")).valid(max));
        }
    }
    if s.flag("uniqueItems") {
        let dup = data.iter().enumerate().any(|(i, v)| data[..i].iter().any(|u| deep_equal(v, u)));
        if dup {
            r.add(OErr::v(Code::Unique, path, None, format!("{path} in body shouldn't contain duplicates")));
        }
    }
    r.inc();
    r
}

/// Whether `data` equals the enum member `e` after Go's `reflect` conversion to `e`'s type.
fn enum_matches(data: &Value, e: &Value) -> bool {
    match (e, data) {
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Number(_), Value::Number(_)) => match (gofmt::num(e), gofmt::num(data)) {
            (Some(Num::I(x)), Some(Num::I(y))) => x == y,
            (Some(Num::I(x)), Some(Num::F(y))) => go_int(y) == x,
            (Some(Num::F(x)), Some(d)) => d.as_f64() == x,
            _ => false,
        },
        // Go converts an integer to a string as a code point.
        (Value::String(s), Value::Number(_)) => match gofmt::num(data) {
            Some(Num::I(i)) => {
                let c = u32::try_from(i).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
                s.chars().eq(std::iter::once(c))
            }
            _ => false,
        },
        _ => deep_equal(data, e),
    }
}

fn common_validate(s: S, data: &Value, path: &str) -> Res {
    let en = s.list("enum");
    if en.is_empty() || en.iter().any(|e| enum_matches(data, e)) {
        return Res::default();
    }
    let listed: Vec<String> = en.iter().map(gofmt::json).collect();
    let mut e = OErr::v(Code::Enum, path, Some(data.clone()), format!("{path} in body should be one of [{}]", listed.join(" ")));
    e.values = en.to_vec();
    Res::err(e)
}

fn object_validate(s: S, data: &serde_json::Map<String, Value>, path: &str) -> Res {
    let mut res = Res::default();
    let n = i64::try_from(data.len()).unwrap_or(i64::MAX);
    if let Some(min) = s.i64("minProperties") {
        if n < min {
            res.add(OErr::v(Code::TooFewProperties, path, Some(Value::from(n)), format!("{path} in body should have at least {min} properties")).valid(min));
        }
    }
    if let Some(max) = s.i64("maxProperties") {
        if n > max {
            res.add(OErr::v(Code::TooManyProperties, path, Some(Value::from(n)), format!("{path} in body should have at most {max} properties")).valid(max));
        }
    }
    let props = s.props();
    let is_prop = |k: &str| props.is_some_and(|p| p.contains_key(k));
    match s.ap() {
        Ap::Bool(false) => {
            for k in data.keys() {
                if !is_prop(k) {
                    res.add(OErr::v(Code::Unallowed, path, Some(Value::String(k.clone())), format!("{path}.{k} in body is a forbidden property")));
                }
            }
        }
        Ap::Schema(ap) => {
            for (k, v) in data {
                if !is_prop(k) {
                    res.merge(schema_validate(ap, v, &format!("{path}.{k}")));
                }
            }
        }
        _ => {}
    }
    if let Some(props) = props {
        for (name, ps) in props {
            if let Some(v) = data.get(name) {
                let rname = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                res.merge(schema_validate(S(ps), v, &rname));
            }
        }
    }
    for k in s.strings("required") {
        if !data.contains_key(k) {
            let name = format!("{path}.{k}");
            res.add(OErr::v(Code::Required, &name, None, format!("{name} in body is required")));
        }
    }
    res
}

/// `SchemaValidator.Validate`: every applicable validator, in kube-openapi's order.
pub(super) fn schema_validate(s: S, data: &Value, path: &str) -> Res {
    let mut r = Res::default();
    if data.is_null() {
        r.merge(type_validate(s, data, path));
        r.merge(common_validate(s, data, path));
        return r;
    }
    if type_applies(s) {
        r.merge(type_validate(s, data, path));
        r.inc();
    }
    r.merge(props_validate(s, data, path));
    r.inc();
    if let Value::String(text) = data {
        r.merge(string_validate(s, text, path));
        r.inc();
        let fmt = s.format();
        if formats::is_known(fmt) {
            r.merge(format_validate(fmt, text, path));
            r.inc();
        }
    }
    if let Some(n) = gofmt::num(data) {
        r.merge(number_validate(s, n, path));
        r.inc();
    }
    if let Value::Array(items) = data {
        r.merge(slice_validate(s, items, path));
        r.inc();
    }
    r.merge(common_validate(s, data, path));
    r.inc();
    if let Value::Object(m) = data {
        r.merge(object_validate(s, m, path));
        r.inc();
    }
    r.inc();
    r
}

/// `field.Path.String()` of `base.Child(name)`; a `None` base is the nil path.
fn child(base: Option<&str>, name: &str) -> String {
    match base {
        None => name.to_string(),
        Some(b) => format!("{b}.{name}"),
    }
}

/// `field.Path.String()`: the nil path prints as `<nil>`.
fn path_string(base: Option<&str>) -> String {
    base.unwrap_or("<nil>").to_string()
}

/// apiextensions' `kubeOpenAPIResultToFieldErrors`, with `base` as the field path prefix
/// (`None`: the nil path, as when validating a whole custom resource).
pub(super) fn to_field_errors(base: Option<&str>, res: Res) -> Vec<FieldError> {
    let mut out = Vec::with_capacity(res.errs.len());
    for e in res.errs {
        let Some(code) = e.code else {
            out.push(gofmt::invalid(path_string(base), &Value::String(String::new()), e.msg));
            continue;
        };
        let path = if e.name.is_empty() || e.name == "." { path_string(base) } else { child(base, e.name.strip_prefix('.').unwrap_or(&e.name)) };
        let value = e.value.clone().filter(|v| !v.is_null()).unwrap_or_else(|| Value::String(String::new()));
        match code {
            Code::Required => out.push(FieldError::required(path, "")),
            Code::Enum => {
                let supported: Vec<String> = e.values.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| gofmt::json(v))).collect();
                out.push(gofmt::not_supported(path, e.value.as_ref().unwrap_or(&Value::Null), &supported));
            }
            Code::TooLong => out.push(gofmt::too_long(path, e.valid.unwrap_or(-1))),
            Code::MaxItems | Code::TooManyProperties => {
                let actual = e.value.as_ref().and_then(Value::as_i64).unwrap_or(-1);
                out.push(gofmt::too_many(path, actual, e.valid.unwrap_or(-1)));
            }
            _ => out.push(gofmt::invalid(path, &value, e.msg)),
        }
    }
    out
}

/// Validates `data` against `s` as `ValidateCustomResource(base, data, validator)` does.
pub(super) fn validate_value(base: Option<&str>, data: &Value, s: S) -> Vec<FieldError> {
    to_field_errors(base, schema_validate(s, data, ""))
}
