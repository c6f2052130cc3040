//! CRD schema checks (apiextensions' `ValidateCustomResourceDefinitionOpenAPISchema`,
//! `NewStructural`, `ValidateStructural` and `defaulting.ValidateDefaults`).

use super::gofmt;
use super::{kchild, kindex, kkey, objectmeta, prune, regex, validate, Ap, S};
use crate::errors::FieldError;
use serde_json::{Map, Value};

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Root,
    Item,
    Field,
}

fn non_empty(s: S, k: &str) -> bool {
    match s.get(k) {
        None | Some(Value::Null) => false,
        Some(Value::String(x)) => !x.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(_) => true,
    }
}

fn present(s: S, k: &str) -> bool {
    s.get(k).is_some_and(|v| !v.is_null())
}

fn schema_list<'a>(s: S<'a>, k: &str) -> Vec<S<'a>> {
    s.schemas(k).collect()
}

// ---------- NewStructural: unsupported fields ----------

fn unsupported_here(s: S) -> Option<&'static str> {
    if non_empty(s, "id") {
        return Some("OpenAPIV3Schema 'id' is not supported");
    }
    if non_empty(s, "$schema") {
        return Some("OpenAPIV3Schema 'schema' is not supported");
    }
    if non_empty(s, "$ref") {
        return Some("OpenAPIV3Schema '$ref' is not supported");
    }
    if non_empty(s, "patternProperties") {
        return Some("OpenAPIV3Schema 'patternProperties' is not supported");
    }
    if non_empty(s, "dependencies") {
        return Some("OpenAPIV3Schema 'dependencies' is not supported");
    }
    if present(s, "additionalItems") {
        return Some("OpenAPIV3Schema 'additionalItems' is not supported");
    }
    if non_empty(s, "definitions") {
        return Some("OpenAPIV3Schema 'definitions' is not supported");
    }
    None
}

fn value_validation_unsupported(s: S) -> Option<&'static str> {
    if let Some(not) = s.get("not").filter(|v| v.is_object()) {
        if let Some(e) = nested_unsupported(S(not)) {
            return Some(e);
        }
    }
    for k in ["allOf", "anyOf", "oneOf"] {
        for x in s.schemas(k) {
            if let Some(e) = nested_unsupported(x) {
                return Some(e);
            }
        }
    }
    None
}

fn children_unsupported(s: S, rec: fn(S) -> Option<&'static str>) -> Option<&'static str> {
    if s.get("items").is_some_and(Value::is_array) {
        return Some("OpenAPIV3Schema 'items' must be a schema, but is an array");
    }
    if let Some(e) = s.items().and_then(rec) {
        return Some(e);
    }
    if let Some(props) = s.props() {
        for p in props.values() {
            if let Some(e) = rec(S(p)) {
                return Some(e);
            }
        }
    }
    s.ap_schema().and_then(rec)
}

fn nested_unsupported(s: S) -> Option<&'static str> {
    unsupported_here(s).or_else(|| value_validation_unsupported(s)).or_else(|| children_unsupported(s, nested_unsupported))
}

fn structural_unsupported(s: S) -> Option<&'static str> {
    unsupported_here(s).or_else(|| value_validation_unsupported(s)).or_else(|| children_unsupported(s, structural_unsupported))
}

// ---------- ValidateStructural: invariants ----------

fn is_int_or_string_any_of(any_of: &[S]) -> bool {
    let only_type = |s: S, t: &str| s.0.as_object().is_some_and(|o| o.len() == 1 && o.get("type").and_then(Value::as_str) == Some(t));
    any_of.len() == 2 && only_type(any_of[0], "integer") && only_type(any_of[1], "string")
}

fn value_validation(s: S, skip_any_of: bool, skip_first_all_of_any_of: bool, lvl: Level, path: &str, errs: &mut Vec<FieldError>) {
    if !skip_any_of {
        for (i, a) in s.schemas("anyOf").enumerate() {
            nested_value_validation(a, false, lvl, &kindex(&kchild(path, "anyOf"), i), errs);
        }
    }
    for (i, a) in s.schemas("allOf").enumerate() {
        nested_value_validation(a, skip_first_all_of_any_of && i == 0, lvl, &kindex(&kchild(path, "allOf"), i), errs);
    }
    for (i, a) in s.schemas("oneOf").enumerate() {
        nested_value_validation(a, false, lvl, &kindex(&kchild(path, "oneOf"), i), errs);
    }
    if let Some(not) = s.get("not").filter(|v| v.is_object()) {
        nested_value_validation(S(not), false, lvl, &kchild(path, "not"), errs);
    }
    let pattern = s.str("pattern");
    if !pattern.is_empty() {
        if let Err(regex::Error::Invalid(e)) = &*regex::cached(pattern) {
            errs.push(gofmt::invalid(kchild(path, "pattern"), &Value::from(pattern), format!("must be a valid regular expression, but isn't: {e}")));
        }
    }
}

fn nested_value_validation(v: S, skip_any_of: bool, lvl: Level, path: &str, errs: &mut Vec<FieldError>) {
    value_validation(v, skip_any_of, false, lvl, path, errs);
    if let Some(items) = v.items() {
        nested_value_validation(items, false, lvl, &kchild(path, "items"), errs);
    }
    if let Some(props) = v.props() {
        for (k, p) in props {
            nested_value_validation(S(p), false, Level::Field, &kkey(&kchild(path, "properties"), k), errs);
        }
    }
    let forbid = |errs: &mut Vec<FieldError>, field: &str, detail: &str| errs.push(FieldError::forbidden(kchild(path, field), detail));
    if non_empty(v, "type") {
        forbid(errs, "type", "must be empty to be structural");
    }
    if present(v, "additionalProperties") {
        forbid(errs, "additionalProperties", "must be undefined to be structural");
    }
    if v.default().is_some() {
        forbid(errs, "default", "must be undefined to be structural");
    }
    if non_empty(v, "title") {
        forbid(errs, "title", "must be empty to be structural");
    }
    if non_empty(v, "description") {
        forbid(errs, "description", "must be empty to be structural");
    }
    if v.nullable() {
        forbid(errs, "nullable", "must be false to be structural");
    }
    if v.preserve() {
        forbid(errs, "x-kubernetes-preserve-unknown-fields", "must be false to be structural");
    }
    if v.embedded() {
        forbid(errs, "x-kubernetes-embedded-resource", "must be false to be structural");
    }
    if v.flag("x-kubernetes-int-or-string") {
        forbid(errs, "x-kubernetes-int-or-string", "must be false to be structural");
    }
    if non_empty(v, "x-kubernetes-list-map-keys") {
        forbid(errs, "x-kubernetes-list-map-keys", "must be empty to be structural");
    }
    if present(v, "x-kubernetes-list-type") {
        forbid(errs, "x-kubernetes-list-type", "must be undefined to be structural");
    }
    if present(v, "x-kubernetes-map-type") {
        forbid(errs, "x-kubernetes-map-type", "must be undefined to be structural");
    }
    if non_empty(v, "x-kubernetes-validations") {
        forbid(errs, "x-kubernetes-validations", "must be empty to be structural");
    }
    if v.prop("metadata").is_some() {
        errs.push(FieldError::forbidden(kkey(&kchild(path, "properties"), "metadata"), "must not be specified in a nested context"));
    }
}

/// Whether a root `metadata` schema says more than "type: object" plus name/generateName rules.
fn metadata_specifies_more(m: S) -> bool {
    let Some(o) = m.0.as_object() else { return false };
    for (k, v) in o {
        let zero = match k.as_str() {
            "type" | "default" => true,
            "properties" => {
                let keys: Vec<&String> = v.as_object().map(|p| p.keys().collect()).unwrap_or_default();
                keys.iter().all(|k| *k == "name" || *k == "generateName")
            }
            "additionalProperties" => v.is_null(),
            _ if !KNOWN_KEYS.contains(&k.as_str()) => true,
            _ => match v {
                Value::Null | Value::Bool(false) => true,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(_) | Value::Number(_) | Value::Bool(true) => false,
            },
        };
        if !zero {
            return true;
        }
    }
    false
}

const KNOWN_KEYS: &[&str] = &[
    "description", "format", "title", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
    "maxItems", "minItems", "uniqueItems", "multipleOf", "enum", "maxProperties", "minProperties", "required", "items", "allOf", "oneOf",
    "anyOf", "not", "externalDocs", "example", "nullable", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-map-type",
    "x-kubernetes-validations",
];

fn invariants(s: S, lvl: Level, path: &str, errs: &mut Vec<FieldError>) {
    let ty = s.ty();
    let embedded = s.embedded();
    if ty == "array" && s.items().is_none() {
        errs.push(FieldError::required(kchild(path, "items"), "must be specified"));
    }
    if let Some(items) = s.items() {
        invariants(items, Level::Item, &kchild(path, "items"), errs);
    }
    if let Some(props) = s.props() {
        for (k, p) in props {
            invariants(S(p), Level::Field, &kkey(&kchild(path, "properties"), k), errs);
        }
    }
    if s.has_ap() {
        if lvl == Level::Root {
            errs.push(FieldError::forbidden(kchild(path, "additionalProperties"), "must not be used at the root"));
        }
        if let Some(ap) = s.ap_schema() {
            invariants(ap, Level::Field, &kchild(path, "additionalProperties"), errs);
        }
    }
    let int_or_string = s.flag("x-kubernetes-int-or-string");
    if int_or_string && s.preserve() {
        errs.push(FieldError::invalid(kchild(path, "x-kubernetes-preserve-unknown-fields"), Value::Bool(true), "must be false if x-kubernetes-int-or-string is true"));
    }
    if int_or_string && embedded {
        errs.push(FieldError::invalid(kchild(path, "x-kubernetes-embedded-resource"), Value::Bool(true), "must be false if x-kubernetes-int-or-string is true"));
    }
    let any_of = schema_list(s, "anyOf");
    let skip_any_of = is_int_or_string_any_of(&any_of);
    let skip_first_all_of_any_of = s.schemas("allOf").next().is_some_and(|a| is_int_or_string_any_of(&schema_list(a, "anyOf")));
    value_validation(s, skip_any_of, skip_first_all_of_any_of, lvl, path, errs);

    let check_metadata = lvl == Level::Root || embedded;
    if embedded && ty != "object" {
        if ty.is_empty() {
            errs.push(FieldError::required(kchild(path, "type"), "must be object if x-kubernetes-embedded-resource is true"));
        } else {
            errs.push(FieldError::invalid(kchild(path, "type"), Value::from(ty), "must be object if x-kubernetes-embedded-resource is true"));
        }
    } else if ty.is_empty() && !int_or_string && !s.preserve() {
        let detail = match lvl {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(FieldError::required(kchild(path, "type"), detail));
    }
    if embedded && s.has_ap() {
        errs.push(FieldError::forbidden(kchild(path, "additionalProperties"), "must not be used if x-kubernetes-embedded-resource is set"));
    }
    if lvl == Level::Root && !ty.is_empty() && ty != "object" {
        errs.push(FieldError::invalid(kchild(path, "type"), Value::from(ty), "must be object at the root"));
    }
    for k in ["kind", "apiVersion"] {
        if let Some(p) = s.prop(k).filter(|_| check_metadata) {
            if p.ty() != "string" {
                errs.push(gofmt::invalid(kchild(&kkey(&kchild(path, "properties"), k), "type"), &Value::from(p.ty()), "must be string"));
            }
        }
    }
    if let Some(m) = s.prop("metadata") {
        let mpath = kkey(&kchild(path, "properties"), "metadata");
        if check_metadata && m.ty() != "object" {
            errs.push(gofmt::invalid(kchild(&mpath, "type"), &Value::from(m.ty()), "must be object"));
        }
        if lvl == Level::Root && metadata_specifies_more(m) {
            errs.push(FieldError::forbidden(mpath, "must not specify anything other than name and generateName, but metadata is implicitly specified"));
        }
    }
    if embedded && !s.preserve() && s.props().is_none_or(Map::is_empty) {
        errs.push(FieldError::required(
            kchild(path, "properties"),
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

// ---------- ValidateStructural: completeness ----------

fn required_because(s_path: &str, v_path: &str) -> FieldError {
    FieldError::required(s_path, format!("because it is defined in {v_path}"))
}

fn value_completeness(v: S, s: S, s_path: &str, v_path: &str, errs: &mut Vec<FieldError>) {
    if let Some(not) = v.get("not").filter(|x| x.is_object()) {
        nested_completeness(S(not), Some(s), s_path, &kchild(v_path, "not"), errs);
    }
    for k in ["allOf", "anyOf", "oneOf"] {
        for (i, a) in v.schemas(k).enumerate() {
            nested_completeness(a, Some(s), s_path, &kindex(&kchild(v_path, k), i), errs);
        }
    }
}

fn nested_completeness(v: S, s: Option<S>, s_path: &str, v_path: &str, errs: &mut Vec<FieldError>) {
    let Some(s) = s else {
        errs.push(required_because(s_path, v_path));
        return;
    };
    value_completeness(v, s, s_path, v_path, errs);
    if let Some(items) = v.items() {
        nested_completeness(items, s.items(), &kchild(s_path, "items"), &kchild(v_path, "items"), errs);
    }
    if let Some(props) = v.props() {
        for (k, vf) in props {
            let sp = kkey(&kchild(s_path, "properties"), k);
            let vp = kkey(&kchild(v_path, "properties"), k);
            match s.prop(k) {
                None => errs.push(required_because(&sp, &vp)),
                Some(sf) => nested_completeness(S(vf), Some(sf), &sp, &vp, errs),
            }
        }
    }
}

// ---------- ValidateDefaults ----------

/// Wraps a default that lives inside resource metadata into an object rooted at its embedded
/// resource, as apiextensions' `SurroundingObjectFunc` does.
fn surround(rel: &[Option<String>], default: &Value) -> Value {
    let mut v = default.clone();
    for step in rel.iter().rev() {
        v = match step {
            Some(k) => {
                let mut m = Map::new();
                m.insert(k.clone(), v);
                Value::Object(m)
            }
            None => Value::Array(vec![v]),
        };
    }
    if let Value::Object(m) = &mut v {
        m.insert("apiVersion".into(), Value::from("validation/v1"));
        m.insert("kind".into(), Value::from("Validation"));
    }
    v
}

fn aggregate(errs: &[FieldError]) -> String {
    let msgs: Vec<String> = errs.iter().map(FieldError::message).collect();
    if msgs.len() == 1 {
        msgs.into_iter().next().unwrap_or_default()
    } else {
        format!("[{}]", msgs.join(", "))
    }
}

#[derive(Clone, Copy)]
struct DefaultsCtx<'a> {
    root: S<'a>,
    root_is_override: bool,
}

fn validate_defaults<'a>(path: &str, s: S<'a>, mut ctx: DefaultsCtx<'a>, mut inside_meta: bool, mut rel: Vec<Option<String>>, errs: &mut Vec<FieldError>) {
    let embedded = (ctx.root_is_override && std::ptr::eq(s.0, ctx.root.0)) || s.embedded();
    if s.embedded() {
        inside_meta = false;
        rel.clear();
        ctx = DefaultsCtx { root: s, root_is_override: false };
    }
    if let Some(d) = s.default() {
        let dpath = kchild(path, "default");
        if inside_meta {
            let obj = surround(&rel, d);
            let mut meta_errs = Vec::new();
            objectmeta::validate_as_resource("", &obj, Some(ctx.root), &mut meta_errs);
            if !meta_errs.is_empty() {
                errs.push(gofmt::invalid(kchild(path, "default"), d, format!("must result in valid metadata: {}", aggregate(&meta_errs))));
            } else {
                errs.extend(validate::validate_value(Some(&dpath), d, s));
            }
        } else {
            let mut pruned = d.clone();
            prune::prune_value(&mut pruned, s, embedded);
            if pruned != *d {
                errs.push(gofmt::invalid(&dpath, d, "must not have unknown fields"));
            }
            let mut meta_errs = Vec::new();
            if embedded {
                objectmeta::validate_as_resource(&dpath, d, Some(s), &mut meta_errs);
            } else {
                objectmeta::validate(&dpath, d, Some(s), &mut meta_errs);
            }
            if !meta_errs.is_empty() {
                errs.extend(meta_errs);
            } else {
                errs.extend(validate::validate_value(Some(&dpath), d, s));
            }
        }
    }
    if let Some(items) = s.items() {
        let mut r = rel.clone();
        r.push(None);
        validate_defaults(&kchild(path, "items"), items, ctx, inside_meta, r, errs);
    }
    if let Some(props) = s.props() {
        for (k, p) in props {
            let sub_inside_meta = inside_meta || (embedded && META_FIELDS.contains(&k.as_str()));
            let mut r = rel.clone();
            r.push(Some(k.clone()));
            validate_defaults(&kkey(&kchild(path, "properties"), k), S(p), ctx, sub_inside_meta, r, errs);
        }
    }
}

// ---------- ValidateCustomResourceDefinitionOpenAPISchema ----------

#[derive(Clone)]
struct Ssv {
    allow_defaults: bool,
    disallow_reason: String,
    inside_meta: bool,
}

impl Ssv {
    fn forbid_defaults(&self, reason: String) -> Ssv {
        Ssv { allow_defaults: false, disallow_reason: reason, inside_meta: self.inside_meta }
    }
    fn with_inside_meta(&self) -> Ssv {
        Ssv { inside_meta: true, ..self.clone() }
    }

    fn validate(&self, s: S, path: &str, errs: &mut Vec<FieldError>) {
        let ty = s.ty();
        const TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];
        if !ty.is_empty() && !TYPES.contains(&ty) {
            let supported: Vec<String> = TYPES.iter().map(|t| t.to_string()).collect();
            errs.push(gofmt::not_supported(kchild(path, "type"), &Value::from(ty), &supported));
        }
        if s.get("default").is_some() && !self.allow_defaults {
            let detail = if self.disallow_reason.is_empty() { "must not be set".to_string() } else { format!("must not be set {}", self.disallow_reason) };
            errs.push(FieldError::forbidden(kchild(path, "default"), detail));
        }
        let forbid = |errs: &mut Vec<FieldError>, k: &str, detail: &str| errs.push(FieldError::forbidden(kchild(path, k), detail));
        if non_empty(s, "id") {
            forbid(errs, "id", "id is not supported");
        }
        if present(s, "additionalItems") {
            forbid(errs, "additionalItems", "additionalItems is not supported");
        }
        if non_empty(s, "patternProperties") {
            forbid(errs, "patternProperties", "patternProperties is not supported");
        }
        if non_empty(s, "definitions") {
            forbid(errs, "definitions", "definitions is not supported");
        }
        if present(s, "dependencies") {
            forbid(errs, "dependencies", "dependencies is not supported");
        }
        if present(s, "$ref") {
            forbid(errs, "$ref", "$ref is not supported");
        }
        if ty == "null" {
            forbid(errs, "type", "type cannot be set to null, use nullable as an alternative");
        }
        if s.get("items").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
            forbid(errs, "items", "items must be a schema object and not an array");
        }
        if self.inside_meta && s.embedded() {
            forbid(errs, "x-kubernetes-embedded-resource", "must not be used inside of resource meta");
        }
    }
}

fn invalid_strings(path: String, items: &[&str], detail: &str) -> FieldError {
    FieldError { kind: crate::errors::FieldErrorType::Invalid, field: path, value: None, detail: format!("{}: {detail}", gofmt::sharp_v_strings(items)) }
}

fn openapi_checks(s: S, path: &str, ssv: &Ssv, is_root: bool, errs: &mut Vec<FieldError>) {
    ssv.validate(s, path, errs);
    if s.flag("uniqueItems") {
        errs.push(FieldError::forbidden(kchild(path, "uniqueItems"), "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"));
    }
    let ap = s.ap();
    if !matches!(ap, Ap::Absent) {
        if s.props().is_some_and(|p| !p.is_empty()) && matches!(ap, Ap::Bool(false) | Ap::Schema(_)) {
            errs.push(FieldError::forbidden(kchild(path, "additionalProperties"), "additionalProperties and properties are mutual exclusive"));
        }
        let sub = if ssv.inside_meta { ssv.forbid_defaults("inside additionalProperties applying to object metadata".into()) } else { ssv.clone() };
        if let Ap::Schema(aps) = ap {
            openapi_checks(aps, &kchild(path, "additionalProperties"), &sub, false, errs);
        }
    }
    if let Some(props) = s.props() {
        for (k, p) in props {
            let mut sub = ssv.clone();
            if (is_root || s.embedded()) && META_FIELDS.contains(&k.as_str()) {
                sub = sub.with_inside_meta();
                if is_root {
                    sub = sub.forbid_defaults(format!("in top-level {k}"));
                }
            }
            openapi_checks(S(p), &kkey(&kchild(path, "properties"), k), &sub, false, errs);
        }
    }
    if let Some(not) = s.get("not").filter(|v| v.is_object()) {
        openapi_checks(S(not), &kchild(path, "not"), ssv, false, errs);
    }
    for k in ["allOf", "oneOf", "anyOf"] {
        for (i, x) in s.schemas(k).enumerate() {
            openapi_checks(x, &kindex(&kchild(path, k), i), ssv, false, errs);
        }
    }
    if let Some(items) = s.items() {
        openapi_checks(items, &kchild(path, "items"), ssv, false, errs);
    } else if let Some(items) = s.get("items").and_then(Value::as_array) {
        for (i, x) in items.iter().enumerate() {
            openapi_checks(S(x), &kindex(&kchild(path, "items"), i), ssv, false, errs);
        }
    }
    if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        errs.push(FieldError::invalid(kchild(path, "x-kubernetes-preserve-unknown-fields"), Value::Bool(false), "must be true or undefined"));
    }
    let ty = s.ty();
    if let Some(mt) = s.get("x-kubernetes-map-type").filter(|v| !v.is_null()) {
        if ty != "object" {
            if ty.is_empty() {
                errs.push(FieldError::required(kchild(path, "type"), "must be object if x-kubernetes-map-type is specified"));
            } else {
                errs.push(FieldError::invalid(kchild(path, "type"), Value::from(ty), "must be object if x-kubernetes-map-type is specified"));
            }
        }
        let mt = mt.as_str().unwrap_or("");
        if mt != "atomic" && mt != "granular" {
            errs.push(gofmt::not_supported(kchild(path, "x-kubernetes-map-type"), &Value::from(mt), &["atomic".into(), "granular".into()]));
        }
    }
    let list_type = s.get("x-kubernetes-list-type").filter(|v| !v.is_null()).map(|v| v.as_str().unwrap_or(""));
    if let Some(lt) = list_type {
        if ty != "array" {
            if ty.is_empty() {
                errs.push(FieldError::required(kchild(path, "type"), "must be array if x-kubernetes-list-type is specified"));
            } else {
                errs.push(FieldError::invalid(kchild(path, "type"), Value::from(ty), "must be array if x-kubernetes-list-type is specified"));
            }
        } else if lt == "set" {
            if let Some(is) = s.items() {
                let ipath = kchild(path, "items");
                match is.ty() {
                    "array" => {
                        if let Some(ilt) = is.get("x-kubernetes-list-type").and_then(Value::as_str).filter(|t| *t != "atomic") {
                            errs.push(gofmt::invalid(kchild(&ipath, "x-kubernetes-list-type"), &Value::from(ilt), "must be atomic as item of a list with x-kubernetes-list-type=set"));
                        }
                    }
                    "object" if is.str("x-kubernetes-map-type") != "atomic" => {
                        // Kubernetes shows the item's list-type here (usually unset, so null).
                        let shown = is.get("x-kubernetes-list-type").cloned().unwrap_or(Value::Null);
                        errs.push(gofmt::invalid(kchild(&ipath, "x-kubernetes-map-type"), &shown, "must be atomic as item of a list with x-kubernetes-list-type=set"));
                    }
                    _ => {}
                }
            }
        }
        if !["atomic", "set", "map"].contains(&lt) {
            errs.push(gofmt::not_supported(kchild(path, "x-kubernetes-list-type"), &Value::from(lt), &["atomic".into(), "set".into(), "map".into()]));
        }
    }
    let keys = s.strings("x-kubernetes-list-map-keys");
    if !keys.is_empty() {
        match list_type {
            None => errs.push(FieldError::required(kchild(path, "x-kubernetes-list-type"), "must be map if x-kubernetes-list-map-keys is non-empty")),
            Some(lt) if lt != "map" => {
                errs.push(FieldError::invalid(kchild(path, "x-kubernetes-list-type"), Value::from(lt), "must be map if x-kubernetes-list-map-keys is non-empty"))
            }
            _ => {}
        }
    }
    if list_type == Some("map") {
        let keys_path = kchild(path, "x-kubernetes-list-map-keys");
        if keys.is_empty() {
            errs.push(FieldError::required(&keys_path, "must not be empty if x-kubernetes-list-type is map"));
        }
        let items_v = s.get("items").filter(|v| !v.is_null());
        if items_v.is_none() {
            errs.push(FieldError::required(kchild(path, "items"), "must have a schema if x-kubernetes-list-type is map"));
        }
        if let Some(arr @ Value::Array(_)) = items_v {
            errs.push(gofmt::invalid(kchild(path, "items"), arr, "must only have a single schema if x-kubernetes-list-type is map"));
        }
        if let Some(is) = s.items() {
            let ipath = kchild(path, "items");
            if is.ty() != "object" {
                errs.push(gofmt::invalid(kchild(&ipath, "type"), &Value::from(is.ty()), "must be object if parent array's x-kubernetes-list-type is map"));
            } else {
                let mut seen: Vec<&str> = Vec::new();
                for k in &keys {
                    match is.prop(k) {
                        Some(kp) => {
                            if kp.ty() == "array" || kp.ty() == "object" {
                                errs.push(gofmt::invalid(
                                    kchild(&kkey(&kchild(&ipath, "properties"), k), "type"),
                                    &Value::from(is.ty()),
                                    "must be a scalar type if parent array's x-kubernetes-list-type is map",
                                ));
                            }
                        }
                        None => errs.push(invalid_strings(keys_path.clone(), &keys, "entries must all be names of item properties")),
                    }
                    if seen.contains(k) {
                        errs.push(invalid_strings(keys_path.clone(), &keys, "must not contain duplicate entries"));
                    }
                    seen.push(k);
                }
            }
        }
    }
    // validateMapListKeysMapSet
    if let (Some(is), Some(lt)) = (s.items(), list_type) {
        if lt == "set" || lt == "map" {
            let ipath = kchild(path, "items");
            if is.nullable() {
                errs.push(FieldError::forbidden(kchild(&ipath, "nullable"), format!("cannot be nullable when x-kubernetes-list-type is {lt}")));
            }
            if lt == "map" {
                let required = is.strings("required");
                for k in &keys {
                    let Some(kp) = is.prop(k) else { continue };
                    let kpath = kkey(&kchild(&ipath, "properties"), k);
                    if !required.contains(k) && kp.get("default").is_none() {
                        errs.push(FieldError::required(
                            kchild(&kpath, "default"),
                            "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                        ));
                    }
                    if kp.nullable() {
                        errs.push(FieldError::forbidden(kchild(&kpath, "nullable"), "this property is in x-kubernetes-list-map-keys, so it cannot be nullable"));
                    }
                }
            }
        }
    }
    x_validations_checks(s, path, errs);
}

/// The non-CEL checks of `x-kubernetes-validations` rules (CEL compilation is out of scope).
fn x_validations_checks(s: S, path: &str, errs: &mut Vec<FieldError>) {
    let has_newlines = |t: &str| t.contains(['\n', '\r']);
    for (i, rule) in s.list("x-kubernetes-validations").iter().enumerate() {
        let rpath = kindex(&kchild(path, "x-kubernetes-validations"), i);
        let r = S(rule);
        let rule_text = r.str("rule");
        let message = r.str("message");
        let (trimmed_rule, trimmed_msg) = (rule_text.trim(), message.trim());
        if trimmed_rule.is_empty() {
            errs.push(FieldError::required(kchild(&rpath, "rule"), "rule is not specified"));
        } else if !message.is_empty() && trimmed_msg.is_empty() {
            errs.push(gofmt::invalid(kchild(&rpath, "message"), &Value::from(message), "message must be non-empty if specified"));
        } else if has_newlines(trimmed_msg) {
            errs.push(gofmt::invalid(kchild(&rpath, "message"), &Value::from(message), "message must not contain line breaks"));
        } else if has_newlines(trimmed_rule) && trimmed_msg.is_empty() {
            errs.push(FieldError::required(kchild(&rpath, "message"), "message must be specified if rule contains line breaks"));
        }
        let msg_expr = r.str("messageExpression");
        if !msg_expr.is_empty() && msg_expr.trim().is_empty() {
            errs.push(FieldError::required(kchild(&rpath, "messageExpression"), "messageExpression must be non-empty if specified"));
        }
        if let Some(reason) = r.get("reason").and_then(Value::as_str) {
            let supported = ["FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"];
            if !supported.contains(&reason) {
                let list: Vec<String> = supported.iter().map(|s| s.to_string()).collect();
                errs.push(gofmt::not_supported(kchild(&rpath, "reason"), &Value::from(reason), &list));
            }
        }
        let field_path = r.str("fieldPath");
        if !field_path.is_empty() && field_path.trim().is_empty() {
            errs.push(gofmt::invalid(kchild(&rpath, "fieldPath"), &Value::from(field_path), "fieldPath must be non-empty if specified"));
        }
        if has_newlines(field_path) {
            errs.push(gofmt::invalid(kchild(&rpath, "fieldPath"), &Value::from(field_path), "fieldPath must not contain line breaks"));
        }
    }
}

/// `validateCustomResourceDefinitionValidation` for one version's `openAPIV3Schema`.
pub(super) fn validate_structural(schema: S, base: &str) -> Vec<FieldError> {
    let mut all = Vec::new();
    if schema.nullable() {
        all.push(FieldError::forbidden(kchild(base, "nullable"), "nullable cannot be true at the root"));
    }
    let init_err = structural_unsupported(schema);
    if init_err.is_none() {
        let mut serrs = Vec::new();
        invariants(schema, Level::Root, base, &mut serrs);
        value_completeness(schema, schema, base, base, &mut serrs);
        serrs.sort_by_key(FieldError::message);
        if !serrs.is_empty() {
            all.extend(serrs);
        } else {
            let ctx = DefaultsCtx { root: schema, root_is_override: true };
            validate_defaults(base, schema, ctx, false, Vec::new(), &mut all);
        }
    }
    let ssv = Ssv { allow_defaults: true, disallow_reason: String::new(), inside_meta: false };
    openapi_checks(schema, base, &ssv, true, &mut all);
    if all.is_empty() {
        if let Some(e) = init_err {
            all.push(FieldError::invalid(base, Value::from(""), e));
        }
    }
    all
}
