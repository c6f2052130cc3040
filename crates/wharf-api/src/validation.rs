//! Kind-specific validation, as Kubernetes 1.32 performs it in its `Validate*` functions
//! (`pkg/apis/core/validation`, `pkg/apis/apps/validation`, `pkg/apis/batch/validation`, ...).
//!
//! This module owns:
//! * [`name_rule`]: which rule `metadata.name` follows for each kind (the generic
//!   `metadata` checks themselves live in [`crate::meta::validate_object_meta`] and are not
//!   repeated here);
//! * [`validate`]: the per-kind checks of everything outside `metadata`, on create
//!   (`old = None`) and on update (`old = Some(previous)`), returning every error with a
//!   Kubernetes field path such as `spec.template.spec.containers[0].image`;
//! * [`Quantity`]: a Kubernetes `resource.Quantity` (parsing, comparison and the canonical
//!   form the API server writes back), also used by [`crate::defaults`].
//!
//! Objects are expected to have been defaulted with [`crate::defaults::apply_defaults`]
//! first, exactly as Kubernetes defaults before it validates.

use crate::errors::{FieldError, FieldErrorType};
use crate::meta::{self, NameRule};
use crate::selector::LabelSelector;
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

/// The name rule for objects of this kind (Namespace → Label, Service → Dns1035, RBAC kinds →
/// PathSegment, most → Subdomain ...).
pub fn name_rule(group: &str, kind: &str) -> NameRule {
    match (group, kind) {
        ("", "Namespace") => NameRule::Label,
        ("", "Service") => NameRule::Dns1035,
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding") => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    }
}

/// Kind-specific validation on create (old = None) or update (old = Some(previous object)):
/// every error, with field paths like Kubernetes' (`spec.template.spec.containers[0].image`),
/// never stopping at the first.
pub fn validate(group: &str, kind: &str, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut e = Vec::new();
    match (group, kind) {
        ("", "Pod") => validate_pod(obj, old, &mut e),
        ("", "PodTemplate") => validate_pod_template_object(obj, &mut e),
        ("", "ReplicationController") => validate_replication_controller(obj, old, &mut e),
        ("", "Service") => validate_service(obj, old, &mut e),
        ("", "ConfigMap") => validate_config_map(obj, old, &mut e),
        ("", "Secret") => validate_secret(obj, old, &mut e),
        ("", "Namespace") => validate_namespace(obj, &mut e),
        ("", "Node") => validate_node(obj, old, &mut e),
        ("", "Endpoints") => validate_endpoints(obj, &mut e),
        ("", "Event") => validate_event_legacy(obj, &mut e),
        ("events.k8s.io", "Event") => validate_event_strict(obj, old, &mut e),
        ("", "PersistentVolume") => validate_persistent_volume(obj, old, &mut e),
        ("", "PersistentVolumeClaim") => validate_persistent_volume_claim(obj, old, &mut e),
        ("", "LimitRange") => validate_limit_range(obj, &mut e),
        ("", "ResourceQuota") => validate_resource_quota(obj, old, &mut e),
        ("apps", "Deployment") => validate_deployment(obj, old, &mut e),
        ("apps", "ReplicaSet") => validate_replica_set(obj, old, &mut e),
        ("apps", "StatefulSet") => validate_stateful_set(obj, old, &mut e),
        ("apps", "DaemonSet") => validate_daemon_set(obj, old, &mut e),
        ("apps", "ControllerRevision") => validate_controller_revision(obj, old, &mut e),
        ("batch", "Job") => validate_job(obj, old, &mut e),
        ("batch", "CronJob") => validate_cron_job(obj, old, &mut e),
        ("coordination.k8s.io", "Lease") => validate_lease(obj, &mut e),
        ("policy", "PodDisruptionBudget") => validate_pdb(obj, &mut e),
        ("autoscaling", "HorizontalPodAutoscaler") => validate_hpa(obj, &mut e),
        ("rbac.authorization.k8s.io", "Role") => validate_rules(obj, true, &mut e),
        ("rbac.authorization.k8s.io", "ClusterRole") => validate_cluster_role(obj, &mut e),
        ("rbac.authorization.k8s.io", "RoleBinding") => validate_role_binding(obj, old, true, &mut e),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => validate_role_binding(obj, old, false, &mut e),
        ("storage.k8s.io", "StorageClass") => validate_storage_class(obj, old, &mut e),
        ("scheduling.k8s.io", "PriorityClass") => validate_priority_class(obj, old, &mut e),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => validate_crd(obj, old, &mut e),
        ("discovery.k8s.io", "EndpointSlice") => validate_endpoint_slice(obj, old, &mut e),
        _ => {}
    }
    e
}

// ---------------------------------------------------------------------------------------------
// Small helpers: JSON access, paths, error constructors, Kubernetes string checks
// ---------------------------------------------------------------------------------------------

type Errs = Vec<FieldError>;

const NON_NEGATIVE_MSG: &str = "must be greater than or equal to 0";
const IMMUTABLE_MSG: &str = "field is immutable";
const PORT_RANGE_MSG: &str = "must be between 1 and 65535, inclusive";
const MAX_INT32: i64 = 2_147_483_647;
const MAX_SECRET_SIZE: usize = 1024 * 1024;

fn child(p: &str, c: &str) -> String {
    if p.is_empty() {
        c.to_string()
    } else {
        format!("{p}.{c}")
    }
}

fn index(p: &str, i: usize) -> String {
    format!("{p}[{i}]")
}

fn keyed(p: &str, k: &str) -> String {
    format!("{p}[{k}]")
}

/// A present, non-null member.
fn get<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
    v.get(k).filter(|x| !x.is_null())
}

/// A string member, or "" (Go's zero value).
fn st<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// An optional string member (a Go `*string`).
fn opt_str<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// A list member, or the empty list.
fn list<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// A map member, when present.
fn map<'a>(v: &'a Value, k: &str) -> Option<&'a Map<String, Value>> {
    v.get(k).and_then(Value::as_object)
}

fn as_int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18).map(|f| f as i64))
}

/// An integer member (a Go `*int`).
fn int(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(as_int)
}

/// An integer member, or 0 (Go's zero value).
fn int0(v: &Value, k: &str) -> i64 {
    int(v, k).unwrap_or(0)
}

fn boolean(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn required(path: impl Into<String>, detail: &str) -> FieldError {
    FieldError::required(path, detail)
}

fn invalid(path: impl Into<String>, value: Value, detail: impl Into<String>) -> FieldError {
    FieldError::invalid(path, value, detail)
}

fn forbidden(path: impl Into<String>, detail: impl Into<String>) -> FieldError {
    FieldError::forbidden(path, detail)
}

fn not_supported(path: impl Into<String>, value: Value, supported: &[&str]) -> FieldError {
    FieldError::not_supported(path, value, supported)
}

fn duplicate(path: impl Into<String>, value: Value) -> FieldError {
    FieldError::duplicate(path, value)
}

/// `field.NotFound(path, value)`: the value is shown as Kubernetes shows it.
fn not_found(path: impl Into<String>, value: &str) -> FieldError {
    FieldError { kind: FieldErrorType::NotFound, field: path.into(), value: Some(json!(value)), detail: format!("\"{value}\"") }
}

/// `field.TooMany(path, actual, max)`.
fn too_many(path: impl Into<String>, actual: usize, max: usize) -> FieldError {
    FieldError { kind: FieldErrorType::TooMany, field: path.into(), value: Some(json!(actual)), detail: format!("{actual}: must have at most {max} items") }
}

fn too_long(path: impl Into<String>, max: usize) -> FieldError {
    FieldError::too_long(path, max)
}

fn non_negative(v: i64, path: impl Into<String>, e: &mut Errs) {
    if v < 0 {
        e.push(invalid(path, json!(v), NON_NEGATIVE_MSG));
    }
}

fn immutable(new: Option<&Value>, old: Option<&Value>, path: &str, e: &mut Errs) {
    if !sem_eq(new, old) {
        e.push(invalid(path, new.cloned().unwrap_or(Value::Null), IMMUTABLE_MSG));
    }
}

fn dns_label(s: &str, path: &str, e: &mut Errs) {
    for m in meta::dns1123_label(s) {
        e.push(invalid(path, json!(s), m));
    }
}

fn dns_subdomain(s: &str, path: &str, e: &mut Errs) {
    for m in meta::dns1123_subdomain(s) {
        e.push(invalid(path, json!(s), m));
    }
}

fn qualified_name(s: &str, path: &str, e: &mut Errs) {
    for m in meta::qualified_name(s) {
        e.push(invalid(path, json!(s), m));
    }
}

/// `NameIsDNSSubdomain(name, prefix=true)`: a trailing dash is allowed for generated names.
fn subdomain_prefix_errors(s: &str) -> Vec<String> {
    let masked = match s.strip_suffix('-') {
        Some(rest) => format!("{rest}a"),
        None => s.to_string(),
    };
    meta::dns1123_subdomain(&masked)
}

/// `ValidateLabels`: keys are qualified names, values label values, all reported at `path`.
fn validate_labels(labels: Option<&Value>, path: &str, e: &mut Errs) {
    let Some(m) = labels.and_then(Value::as_object) else { return };
    for (k, v) in m {
        for msg in meta::qualified_name(k) {
            e.push(invalid(path, json!(k), msg));
        }
        match v.as_str() {
            Some(s) => {
                for msg in meta::label_value(s) {
                    e.push(invalid(path, json!(s), msg));
                }
            }
            None => e.push(invalid(path, v.clone(), "label values must be strings")),
        }
    }
}

fn validate_annotations(ann: Option<&Value>, path: &str, e: &mut Errs) {
    let Some(m) = ann.and_then(Value::as_object) else { return };
    let mut total = 0usize;
    for (k, v) in m {
        for msg in meta::qualified_name(&k.to_ascii_lowercase()) {
            e.push(invalid(path, json!(k), msg));
        }
        total += k.len() + v.as_str().map(str::len).unwrap_or(0);
    }
    if total > 256 * 1024 {
        e.push(too_long(path, 256 * 1024));
    }
}

/// `ValidateLabelSelector` (`metav1.LabelSelector`).
fn validate_label_selector(sel: Option<&Value>, path: &str, e: &mut Errs) {
    let Some(sel) = sel else { return };
    validate_labels(get(sel, "matchLabels"), &child(path, "matchLabels"), e);
    for (i, r) in list(sel, "matchExpressions").iter().enumerate() {
        let rp = index(&child(path, "matchExpressions"), i);
        let op = st(r, "operator");
        let values = list(r, "values");
        match op {
            "In" | "NotIn" => {
                if values.is_empty() {
                    e.push(required(child(&rp, "values"), "must be specified when `operator` is 'In' or 'NotIn'"));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    e.push(forbidden(child(&rp, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
                }
            }
            _ => e.push(invalid(child(&rp, "operator"), json!(op), "not a valid selector operator")),
        }
        qualified_name(st(r, "key"), &child(&rp, "key"), e);
        for (j, v) in values.iter().enumerate() {
            let s = v.as_str().unwrap_or_default();
            for msg in meta::label_value(s) {
                e.push(invalid(index(&child(&rp, "values"), j), json!(s), msg));
            }
        }
    }
}

/// Number of requirements of a `metav1.LabelSelector`.
fn selector_size(sel: &Value) -> usize {
    map(sel, "matchLabels").map(Map::len).unwrap_or(0) + list(sel, "matchExpressions").len()
}

/// Whether `sel` (None = nil selector, which matches nothing) selects `labels`.
fn selector_matches(sel: Option<&Value>, labels: Option<&Value>) -> Option<bool> {
    let sel = sel?;
    let parsed = LabelSelector::from_object(sel).ok()?;
    Some(parsed.matches(labels.and_then(Value::as_object)))
}

fn port_name_errors(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if name.len() > 15 {
        out.push("must be no more than 15 characters".to_string());
    }
    if name.is_empty() || !name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') {
        out.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string());
    } else if !name.bytes().any(|c| c.is_ascii_lowercase()) {
        out.push("must contain at least one letter (a-z)".to_string());
    }
    if name.contains("--") {
        out.push("must not contain consecutive hyphens".to_string());
    }
    if name.starts_with('-') || name.ends_with('-') {
        out.push("must not begin or end with a hyphen".to_string());
    }
    out
}

fn valid_port(n: i64) -> bool {
    (1..=65535).contains(&n)
}

/// `ValidatePortNumOrName` for an `IntOrString`.
fn validate_port_num_or_name(v: Option<&Value>, path: &str, e: &mut Errs) {
    match v {
        Some(Value::String(s)) => {
            for m in port_name_errors(s) {
                e.push(invalid(path, json!(s), m));
            }
        }
        Some(n) if as_int(n).is_some() => {
            let n = as_int(n).unwrap_or(0);
            if !valid_port(n) {
                e.push(invalid(path, json!(n), PORT_RANGE_MSG));
            }
        }
        other => e.push(invalid(path, other.cloned().unwrap_or(json!(0)), PORT_RANGE_MSG)),
    }
}

fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let ex: Vec<String> = examples.iter().map(|x| format!("'{x}', ")).collect();
    format!("{msg} (e.g. {}regex used for validation is '{fmt}')", ex.join(" or "))
}

fn config_map_key_errors(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    if key.len() > 253 {
        out.push("must be no more than 253 characters".to_string());
    }
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)) {
        out.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+",
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if key == "." {
        out.push("must not be '.'".to_string());
    } else if key == ".." {
        out.push("must not be '..'".to_string());
    } else if key.starts_with("..") {
        out.push("must not start with '..'".to_string());
    }
    out
}

fn percent_value(v: &Value) -> Option<i64> {
    v.as_str().and_then(|s| s.strip_suffix('%')).and_then(|n| n.parse::<i64>().ok())
}

/// `ValidatePositiveIntOrPercent`.
fn validate_int_or_percent(v: Option<&Value>, path: &str, e: &mut Errs) {
    match v {
        None => {}
        Some(Value::String(s)) => {
            let ok = s.len() > 1 && s.ends_with('%') && s[..s.len() - 1].bytes().all(|c| c.is_ascii_digit());
            if !ok {
                e.push(invalid(
                    path,
                    json!(s),
                    regex_error("a valid percent string must be a numeric string followed by an ending '%'", "[0-9]+%", &["1%", "93%"]),
                ));
            }
        }
        Some(n) if as_int(n).is_some() => non_negative(as_int(n).unwrap_or(0), path, e),
        Some(other) => e.push(invalid(path, other.clone(), "must be an integer or percentage (e.g '5%')")),
    }
}

fn is_not_more_than_100_percent(v: Option<&Value>, path: &str, e: &mut Errs) {
    if let Some(p) = v.and_then(percent_value) {
        if p > 100 {
            e.push(invalid(path, v.cloned().unwrap_or(Value::Null), "must not be greater than 100%"));
        }
    }
}

fn int_or_percent_value(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::String(_)) => v.and_then(percent_value).unwrap_or(0),
        Some(n) => as_int(n).unwrap_or(0),
        None => 0,
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok().or_else(|| {
        // Go's ParseIPSloppy accepts leading zeros in IPv4 octets.
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        let mut oct = [0u8; 4];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            oct[i] = p.parse::<u8>().ok()?;
        }
        Some(IpAddr::from(oct))
    })
}

fn validate_ip(s: &str, path: &str, e: &mut Errs) -> bool {
    if parse_ip(s).is_none() {
        e.push(invalid(path, json!(s), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
        return false;
    }
    true
}

/// `ValidateNonSpecialIP`.
fn validate_non_special_ip(s: &str, path: &str, e: &mut Errs) {
    let Some(ip) = parse_ip(s) else {
        e.push(invalid(path, json!(s), "must be a valid IP address"));
        return;
    };
    if ip.is_unspecified() {
        e.push(invalid(path, json!(s), format!("may not be unspecified ({s})")));
    }
    if ip.is_loopback() {
        e.push(invalid(path, json!(s), "may not be in the loopback range (127.0.0.0/8, ::1/128)"));
    }
    let (link_local, ll_multicast) = match ip {
        IpAddr::V4(v4) => (v4.is_link_local(), v4.octets()[..3] == [224, 0, 0]),
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            ((seg[0] & 0xffc0) == 0xfe80, (seg[0] & 0xff0f) == 0xff02)
        }
    };
    if link_local {
        e.push(invalid(path, json!(s), "may not be in the link-local range (169.254.0.0/16, fe80::/10)"));
    }
    if ll_multicast {
        e.push(invalid(path, json!(s), "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"));
    }
}

fn validate_cidr(s: &str, path: &str, e: &mut Errs) {
    let ok = s.split_once('/').is_some_and(|(ip, bits)| {
        parse_ip(ip).is_some_and(|ip| {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            bits.parse::<u32>().is_ok_and(|b| b <= max)
        })
    });
    if !ok {
        e.push(invalid(path, json!(s), "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"));
    }
}

fn is_zeroish(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_zeroish),
    }
}

/// Semantic equality as `apiequality.Semantic.DeepEqual` sees the Go structs behind the JSON:
/// an absent member, `null`, `""`, `0`, `false`, `[]` and `{}` are all the zero value.
/// Quantities compare as strings: defaulting has already written them canonically.
fn sem_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), None) | (None, Some(x)) => is_zeroish(x),
        (Some(x), Some(y)) => match (x, y) {
            (Value::Object(m1), Value::Object(m2)) => {
                m1.iter().all(|(k, v)| sem_eq(Some(v), m2.get(k))) && m2.iter().all(|(k, v)| m1.contains_key(k) || is_zeroish(v))
            }
            (Value::Array(a1), Value::Array(a2)) => a1.len() == a2.len() && a1.iter().zip(a2).all(|(p, q)| sem_eq(Some(p), Some(q))),
            (Value::Number(n1), Value::Number(n2)) => n1.as_f64() == n2.as_f64(),
            _ if is_zeroish(x) && is_zeroish(y) => true,
            _ => x == y,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Quantity
// ---------------------------------------------------------------------------------------------

/// How a [`Quantity`] was written, which decides the suffixes of its canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityFormat {
    /// `e3`, `E-2` exponents.
    DecimalExponent,
    /// Power-of-two suffixes: `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`.
    BinarySI,
    /// Decimal suffixes: `n`, `u`, `m`, none, `k`, `M`, `G`, `T`, `P`, `E`.
    DecimalSI,
}

/// Why a string is not a quantity; the messages are Kubernetes'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The string does not have the shape of a quantity.
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    Format,
    /// The suffix is not one Kubernetes knows.
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// A Kubernetes `resource.Quantity`: an exact decimal value (rounded up to nano precision, as
/// Kubernetes does when parsing) together with the format its suffix implied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    /// The value is `mantissa * 10^scale`.
    mantissa: i128,
    scale: i32,
    /// The format the quantity was written in.
    pub format: QuantityFormat,
}

const QUANTITY_MAX: i128 = i64::MAX as i128;

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// Divides `m` by `10^n`, rounding away from zero.
fn div_round_up(m: i128, n: u32) -> i128 {
    match pow10(n) {
        Some(d) => {
            let q = m / d;
            if m % d != 0 {
                q + m.signum()
            } else {
                q
            }
        }
        None => m.signum(),
    }
}

impl Quantity {
    /// Parses a quantity such as `100m`, `1.5Gi`, `2e3` or `0.5`.
    pub fn parse(s: &str) -> Result<Self, QuantityError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(QuantityError::Format);
        }
        let b = s.as_bytes();
        let mut pos = 0;
        let mut negative = false;
        if b[0] == b'-' || b[0] == b'+' {
            negative = b[0] == b'-';
            pos = 1;
        }
        let num_start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        let num = &s[num_start..pos];
        let mut denom = "";
        if pos < b.len() && b[pos] == b'.' {
            pos += 1;
            let d_start = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                pos += 1;
            }
            denom = &s[d_start..pos];
        }
        // Like Go, an empty numeral reads as zero ("m" is 0); only the suffix shape is checked below.
        // Suffix: letters from the set, then an optional signed integer.
        let suffix_start = pos;
        while pos < b.len() && b"eEinumkKMGTP".contains(&b[pos]) {
            pos += 1;
        }
        if pos < b.len() && (b[pos] == b'-' || b[pos] == b'+') {
            pos += 1;
        }
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos != b.len() {
            return Err(QuantityError::Format);
        }
        let suffix = &s[suffix_start..];
        let (base2, exp, format) = match suffix {
            "" => (false, 0, QuantityFormat::DecimalSI),
            "n" => (false, -9, QuantityFormat::DecimalSI),
            "u" => (false, -6, QuantityFormat::DecimalSI),
            "m" => (false, -3, QuantityFormat::DecimalSI),
            "k" => (false, 3, QuantityFormat::DecimalSI),
            "M" => (false, 6, QuantityFormat::DecimalSI),
            "G" => (false, 9, QuantityFormat::DecimalSI),
            "T" => (false, 12, QuantityFormat::DecimalSI),
            "P" => (false, 15, QuantityFormat::DecimalSI),
            "E" => (false, 18, QuantityFormat::DecimalSI),
            "Ki" => (true, 10, QuantityFormat::BinarySI),
            "Mi" => (true, 20, QuantityFormat::BinarySI),
            "Gi" => (true, 30, QuantityFormat::BinarySI),
            "Ti" => (true, 40, QuantityFormat::BinarySI),
            "Pi" => (true, 50, QuantityFormat::BinarySI),
            "Ei" => (true, 60, QuantityFormat::BinarySI),
            other => {
                let rest = other.strip_prefix(['e', 'E']).ok_or(QuantityError::Suffix)?;
                let e: i32 = rest.parse().map_err(|_| QuantityError::Suffix)?;
                if !(-1000..=1000).contains(&e) {
                    return Err(QuantityError::Suffix);
                }
                (false, e, QuantityFormat::DecimalExponent)
            }
        };
        // Digits into an i128 mantissa, saturating: anything that large is capped below anyway.
        let mut m: i128 = 0;
        let mut scale: i32 = -(denom.len() as i32);
        let mut saturated = false;
        for c in num.bytes().chain(denom.bytes()) {
            match m.checked_mul(10).and_then(|x| x.checked_add(i128::from(c - b'0'))) {
                Some(x) if !saturated => m = x,
                _ => {
                    saturated = true;
                    scale += 1;
                }
            }
        }
        if base2 {
            m = m.checked_mul(1i128 << exp).unwrap_or(i128::MAX / 2);
        } else {
            scale += exp;
        }
        if negative {
            m = -m;
        }
        let mut q = Quantity { mantissa: m, scale, format };
        q.normalize();
        if q.scale < -9 {
            q = q.rounded_up(-9);
        }
        q.cap();
        Ok(q)
    }

    /// Parses a JSON value: a string, or a number as some clients send.
    pub fn from_value(v: &Value) -> Result<Self, QuantityError> {
        match v {
            Value::String(s) => Self::parse(s),
            Value::Number(n) => Self::parse(&n.to_string()),
            _ => Err(QuantityError::Format),
        }
    }

    fn normalize(&mut self) {
        if self.mantissa == 0 {
            self.scale = 0;
            return;
        }
        while self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.scale += 1;
        }
    }

    fn cap(&mut self) {
        if self.cmp_value(&Quantity { mantissa: QUANTITY_MAX, scale: 0, format: self.format }) == Ordering::Greater {
            self.mantissa = QUANTITY_MAX;
            self.scale = 0;
        } else if self.cmp_value(&Quantity { mantissa: -QUANTITY_MAX, scale: 0, format: self.format }) == Ordering::Less {
            self.mantissa = -QUANTITY_MAX;
            self.scale = 0;
        }
    }

    /// The quantity rounded away from zero to `10^scale` precision (Go's `RoundUp`).
    pub fn rounded_up(&self, scale: i32) -> Self {
        if self.scale >= scale {
            return *self;
        }
        let diff = (scale - self.scale) as u32;
        let mut q = Quantity { mantissa: div_round_up(self.mantissa, diff), scale, format: self.format };
        q.normalize();
        q
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Whether the value is a whole number.
    pub fn is_integer(&self) -> bool {
        self.scale >= 0 || self.mantissa == 0
    }

    /// The value as an integer, when it is one and fits.
    pub fn as_integer(&self) -> Option<i128> {
        if self.scale < 0 {
            return None;
        }
        pow10(self.scale as u32).and_then(|p| self.mantissa.checked_mul(p))
    }

    /// Compares values (formats are ignored).
    pub fn cmp_value(&self, other: &Quantity) -> Ordering {
        let s = self.scale.min(other.scale);
        let scaled = |q: &Quantity| pow10((q.scale - s) as u32).and_then(|p| q.mantissa.checked_mul(p));
        match (scaled(self), scaled(other)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => {
                let f = |q: &Quantity| q.mantissa as f64 * 10f64.powi(q.scale);
                f(self).partial_cmp(&f(other)).unwrap_or(Ordering::Equal)
            }
        }
    }

    /// The canonical form Kubernetes writes back (`Quantity.String()`): `0.5` → `500m`,
    /// `1024Mi` → `1Gi`, `1000m` → `1`, `1.5Gi` → `1536Mi`.
    pub fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".to_string();
        }
        let mut format = self.format;
        let mut integer = None;
        if format == QuantityFormat::BinarySI {
            let lt_1024 = self.cmp_value(&Quantity { mantissa: 1024, scale: 0, format }) == Ordering::Less
                && self.cmp_value(&Quantity { mantissa: -1024, scale: 0, format }) == Ordering::Greater;
            match self.as_integer() {
                Some(i) if !lt_1024 => integer = Some(i),
                _ => format = QuantityFormat::DecimalSI,
            }
        }
        if let (QuantityFormat::BinarySI, Some(mut v)) = (format, integer) {
            let mut exp = 0;
            while exp < 6 && v % 1024 == 0 {
                v /= 1024;
                exp += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exp];
            return format!("{v}{suffix}");
        }
        let mut m = self.mantissa;
        let mut e = self.scale;
        match e.rem_euclid(3) {
            1 => {
                m *= 10;
                e -= 1;
            }
            2 => {
                m *= 100;
                e -= 2;
            }
            _ => {}
        }
        let suffix = match (format, e) {
            (QuantityFormat::DecimalExponent, 0) => String::new(),
            (QuantityFormat::DecimalExponent, e) => format!("e{e}"),
            (_, -9) => "n".into(),
            (_, -6) => "u".into(),
            (_, -3) => "m".into(),
            (_, 0) => String::new(),
            (_, 3) => "k".into(),
            (_, 6) => "M".into(),
            (_, 9) => "G".into(),
            (_, 12) => "T".into(),
            (_, 15) => "P".into(),
            (_, 18) => "E".into(),
            (_, e) => format!("e{e}"),
        };
        format!("{m}{suffix}")
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.canonical())
    }
}

/// Parses a quantity member for validation, reporting a parse failure at `path`.
fn quantity_at(v: &Value, path: &str, e: &mut Errs) -> Option<Quantity> {
    match Quantity::from_value(v) {
        Ok(q) => Some(q),
        Err(err) => {
            e.push(invalid(path, v.clone(), err.to_string()));
            None
        }
    }
}

fn nonnegative_quantity(q: &Quantity, path: &str, e: &mut Errs) {
    if q.is_negative() {
        e.push(invalid(path, json!(q.canonical()), NON_NEGATIVE_MSG));
    }
}

// ---------------------------------------------------------------------------------------------
// Cron schedules (robfig/cron's standard parser, as the CronJob validation uses it)
// ---------------------------------------------------------------------------------------------

struct CronBounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MONTH_NAMES: &[(&str, u32)] = &[
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];
const DOW_NAMES: &[(&str, u32)] = &[("sun", 0), ("mon", 1), ("tue", 2), ("wed", 3), ("thu", 4), ("fri", 5), ("sat", 6)];

fn cron_int(expr: &str) -> Result<u32, String> {
    match expr.parse::<i64>() {
        Ok(n) if n < 0 => Err(format!("negative number ({n}) not allowed: {expr}")),
        Ok(n) => u32::try_from(n).map_err(|_| format!("failed to parse int from {expr}: strconv.Atoi: parsing \"{expr}\": value out of range")),
        Err(_) => Err(format!("failed to parse int from {expr}: strconv.Atoi: parsing \"{expr}\": invalid syntax")),
    }
}

fn cron_int_or_name(expr: &str, b: &CronBounds) -> Result<u32, String> {
    let lower = expr.to_ascii_lowercase();
    if let Some((_, n)) = b.names.iter().find(|(name, _)| *name == lower) {
        return Ok(*n);
    }
    cron_int(expr)
}

fn cron_range(expr: &str, b: &CronBounds) -> Result<(), String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_high.len() == 1;
    let (start, mut end) = if low_high[0] == "*" || low_high[0] == "?" {
        (b.min, b.max)
    } else {
        let start = cron_int_or_name(low_high[0], b)?;
        let end = match low_high.len() {
            1 => start,
            2 => cron_int_or_name(low_high[1], b)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = cron_int(range_and_step[1])?;
            if single {
                end = b.max;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return Err(format!("beginning of range ({start}) below minimum ({}): {expr}", b.min));
    }
    if end > b.max {
        return Err(format!("end of range ({end}) above maximum ({}): {expr}", b.max));
    }
    if start > end {
        return Err(format!("beginning of range ({start}) beyond end of range ({end}): {expr}"));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(())
}

/// Go's `time.ParseDuration`, for `@every`.
fn parse_go_duration(s: &str) -> bool {
    let mut rest = s.strip_prefix(['+', '-']).unwrap_or(s);
    if rest == "0" {
        return true;
    }
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..n];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return false;
        }
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        if !matches!(&rest[..u], "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h") {
            return false;
        }
        rest = &rest[u..];
    }
    true
}

/// Parses a standard 5-field cron schedule or an `@hourly`-style descriptor, returning
/// robfig/cron's error text on failure.
fn parse_cron(schedule: &str) -> Result<(), String> {
    let mut spec = schedule;
    if spec.is_empty() {
        return Err("empty spec string".to_string());
    }
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        spec = match spec.find(' ') {
            Some(i) => spec[i..].trim(),
            None => "",
        };
    }
    if spec.starts_with('@') {
        return match spec {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly" => Ok(()),
            _ => match spec.strip_prefix("@every ") {
                Some(d) if parse_go_duration(d) => Ok(()),
                Some(d) => Err(format!("failed to parse duration {spec}: time: invalid duration \"{d}\"")),
                None => Err(format!("unrecognized descriptor: {spec}")),
            },
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
    }
    let bounds = [
        CronBounds { min: 0, max: 59, names: &[] },
        CronBounds { min: 0, max: 23, names: &[] },
        CronBounds { min: 1, max: 31, names: &[] },
        CronBounds { min: 1, max: 12, names: MONTH_NAMES },
        CronBounds { min: 0, max: 6, names: DOW_NAMES },
    ];
    for (field, b) in fields.iter().zip(bounds.iter()) {
        for expr in field.split(',').filter(|x| !x.is_empty()) {
            cron_range(expr, b)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Pods and pod templates
// ---------------------------------------------------------------------------------------------

/// The volume source members of a `Volume`, in Kubernetes' checking order, with the path
/// segment Kubernetes names in its "may not specify more than 1 volume type" errors.
pub(crate) const VOLUME_SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const UPDATABLE_POD_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// What the containers of one pod spec can see while they are validated.
struct PodCtx<'a> {
    /// Valid volumes by name, with their source member.
    volumes: HashMap<&'a str, &'a str>,
    /// `terminationGracePeriodSeconds`.
    grace: Option<i64>,
    /// Whether the top-level object is a Pod rather than a template.
    is_pod: bool,
}

fn validate_path_no_backsteps(target: &str, path: &str, e: &mut Errs) {
    if target.split('/').any(|p| p == "..") {
        e.push(invalid(path, json!(target), "must not contain '..'"));
    }
}

fn validate_local_descending_path(target: &str, path: &str, e: &mut Errs) {
    if target.starts_with('/') {
        e.push(invalid(path, json!(target), "must be a relative path"));
    }
    validate_path_no_backsteps(target, path, e);
}

fn validate_local_non_reserved_path(target: &str, path: &str, e: &mut Errs) {
    validate_local_descending_path(target, path, e);
    if target.starts_with("..") && !target.starts_with("../") {
        e.push(invalid(path, json!(target), "must not start with '..'"));
    }
}

fn validate_file_mode(v: &Value, k: &str, p: &str, e: &mut Errs) {
    if let Some(m) = int(v, k) {
        if !(0..=0o777).contains(&m) {
            e.push(invalid(child(p, k), json!(m), FILE_MODE_MSG));
        }
    }
}

fn validate_key_to_paths(src: &Value, p: &str, e: &mut Errs) {
    for (i, kp) in list(src, "items").iter().enumerate() {
        let ip = index(&child(p, "items"), i);
        if st(kp, "key").is_empty() {
            e.push(required(child(&ip, "key"), ""));
        }
        let path = st(kp, "path");
        if path.is_empty() {
            e.push(required(child(&ip, "path"), ""));
        }
        validate_local_non_reserved_path(path, &child(&ip, "path"), e);
        validate_file_mode(kp, "mode", &ip, e);
    }
}

fn validate_csi_driver_name(driver: &str, p: &str, e: &mut Errs) {
    if driver.is_empty() {
        e.push(required(p, ""));
    }
    if driver.len() > 63 {
        e.push(too_long(p, 63));
    }
    for m in meta::dns1123_subdomain(&driver.to_ascii_lowercase()) {
        e.push(invalid(p, json!(driver), m));
    }
}

/// Validates the one source of a volume; returns the member name of the source that counted.
fn validate_volume_source(v: &Value, p: &str, e: &mut Errs) -> Option<&'static str> {
    let mut found: Option<&'static str> = None;
    for (key, err_child) in VOLUME_SOURCES {
        let Some(src) = get(v, key) else { continue };
        if found.is_some() {
            e.push(forbidden(child(p, err_child), "may not specify more than 1 volume type"));
            continue;
        }
        found = Some(key);
        let sp = child(p, key);
        match *key {
            "emptyDir" => {
                if let Some(limit) = get(src, "sizeLimit") {
                    match Quantity::from_value(limit) {
                        Ok(q) if q.is_negative() => e.push(forbidden(child(&sp, "sizeLimit"), "SizeLimit field must be a valid resource quantity")),
                        Ok(_) => {}
                        Err(err) => e.push(invalid(child(&sp, "sizeLimit"), limit.clone(), err.to_string())),
                    }
                }
            }
            "hostPath" => {
                let path = st(src, "path");
                if path.is_empty() {
                    e.push(required(child(&sp, "path"), ""));
                } else {
                    validate_path_no_backsteps(path, &child(&sp, "path"), e);
                    if let Some(t) = opt_str(src, "type") {
                        let supported = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"];
                        if !supported.contains(&t) {
                            e.push(not_supported(child(&sp, "type"), json!(t), &supported));
                        }
                    }
                }
            }
            "gitRepo" => {
                if st(src, "repository").is_empty() {
                    e.push(required(child(&sp, "repository"), ""));
                }
                validate_local_descending_path(st(src, "directory"), &child(&sp, "directory"), e);
            }
            "secret" => {
                if st(src, "secretName").is_empty() {
                    e.push(required(child(&sp, "secretName"), ""));
                }
                validate_file_mode(src, "defaultMode", &sp, e);
                validate_key_to_paths(src, &sp, e);
            }
            "configMap" => {
                if st(src, "name").is_empty() {
                    e.push(required(child(&sp, "name"), ""));
                }
                validate_file_mode(src, "defaultMode", &sp, e);
                validate_key_to_paths(src, &sp, e);
            }
            "nfs" => {
                if st(src, "server").is_empty() {
                    e.push(required(child(&sp, "server"), ""));
                }
                let path = st(src, "path");
                if path.is_empty() {
                    e.push(required(child(&sp, "path"), ""));
                } else if !path.starts_with('/') {
                    e.push(invalid(child(&sp, "path"), json!(path), "must be an absolute path"));
                }
            }
            "persistentVolumeClaim" if st(src, "claimName").is_empty() => e.push(required(child(&sp, "claimName"), "")),
            "downwardAPI" => {
                validate_file_mode(src, "defaultMode", &sp, e);
                for (i, item) in list(src, "items").iter().enumerate() {
                    let ip = index(&child(&sp, "items"), i);
                    let path = st(item, "path");
                    if path.is_empty() {
                        e.push(required(child(&ip, "path"), ""));
                    }
                    validate_local_non_reserved_path(path, &child(&ip, "path"), e);
                    validate_file_mode(item, "mode", &ip, e);
                }
            }
            "projected" => {
                validate_file_mode(src, "defaultMode", &sp, e);
                for (i, s) in list(src, "sources").iter().enumerate() {
                    let ip = index(&child(&sp, "sources"), i);
                    let mut n = 0;
                    for k in ["secret", "configMap", "downwardAPI", "serviceAccountToken", "clusterTrustBundle"] {
                        let Some(x) = get(s, k) else { continue };
                        n += 1;
                        if n > 1 {
                            e.push(forbidden(child(&ip, k), "may not specify more than 1 volume type per source"));
                            continue;
                        }
                        let kp = child(&ip, k);
                        match k {
                            "secret" | "configMap" => {
                                if st(x, "name").is_empty() {
                                    e.push(required(child(&kp, "name"), ""));
                                }
                                validate_key_to_paths(x, &kp, e);
                            }
                            "serviceAccountToken" => {
                                if let Some(exp) = int(x, "expirationSeconds") {
                                    if exp < 600 {
                                        e.push(invalid(child(&kp, "expirationSeconds"), json!(exp), "may not specify a duration less than 10 minutes"));
                                    } else if exp > 1 << 32 {
                                        e.push(invalid(child(&kp, "expirationSeconds"), json!(exp), "may not specify a duration larger than 2^32 seconds"));
                                    }
                                }
                                if st(x, "path").is_empty() {
                                    e.push(required(child(&kp, "path"), ""));
                                }
                            }
                            _ => {}
                        }
                    }
                    if n == 0 {
                        e.push(required(ip, "must specify exactly 1 volume type"));
                    }
                }
            }
            "csi" => validate_csi_driver_name(st(src, "driver"), &child(&sp, "driver"), e),
            "ephemeral" => match get(src, "volumeClaimTemplate") {
                None => e.push(required(child(&sp, "volumeClaimTemplate"), "")),
                Some(t) => {
                    let tp = child(&sp, "volumeClaimTemplate");
                    validate_labels(t.pointer("/metadata/labels"), &child(&child(&tp, "metadata"), "labels"), e);
                    validate_pvc_spec(t.get("spec").unwrap_or(&Value::Null), &child(&tp, "spec"), e);
                }
            },
            "image" => {
                if st(src, "reference").is_empty() {
                    e.push(required(child(&sp, "reference"), ""));
                }
                if let Some(pp) = opt_str(src, "pullPolicy") {
                    let supported = ["Always", "IfNotPresent", "Never"];
                    if !supported.contains(&pp) {
                        e.push(not_supported(child(&sp, "pullPolicy"), json!(pp), &supported));
                    }
                }
            }
            _ => {}
        }
    }
    if found.is_none() {
        e.push(required(p, "must specify a volume type"));
    }
    found
}

/// `ValidateVolumes`: a volume with any error does not count as defined for the mounts.
fn validate_volumes<'a>(vols: &'a [Value], p: &str, e: &mut Errs) -> HashMap<&'a str, &'a str> {
    let mut out = HashMap::new();
    for (i, v) in vols.iter().enumerate() {
        let ip = index(p, i);
        let np = child(&ip, "name");
        let mut el = Vec::new();
        let source = validate_volume_source(v, &ip, &mut el);
        let name = st(v, "name");
        if name.is_empty() {
            el.push(required(&np, ""));
        } else {
            dns_label(name, &np, &mut el);
        }
        if out.contains_key(name) {
            el.push(duplicate(&np, json!(name)));
        }
        if el.is_empty() {
            out.insert(name, source.unwrap_or_default());
        } else {
            e.extend(el);
        }
    }
    out
}

fn validate_container_ports(ports: &[Value], p: &str, e: &mut Errs) {
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let ip = index(p, i);
        let name = st(port, "name");
        if !name.is_empty() {
            let msgs = port_name_errors(name);
            if !msgs.is_empty() {
                for m in msgs {
                    e.push(invalid(child(&ip, "name"), json!(name), m));
                }
            } else if !names.insert(name) {
                e.push(duplicate(child(&ip, "name"), json!(name)));
            }
        }
        let cp = int0(port, "containerPort");
        if cp == 0 {
            e.push(required(child(&ip, "containerPort"), ""));
        } else if !valid_port(cp) {
            e.push(invalid(child(&ip, "containerPort"), json!(cp), PORT_RANGE_MSG));
        }
        let hp = int0(port, "hostPort");
        if hp != 0 && !valid_port(hp) {
            e.push(invalid(child(&ip, "hostPort"), json!(hp), PORT_RANGE_MSG));
        }
        validate_protocol(port, &ip, e);
    }
}

fn validate_protocol(port: &Value, p: &str, e: &mut Errs) {
    let proto = st(port, "protocol");
    if proto.is_empty() {
        e.push(required(child(p, "protocol"), ""));
    } else if !["SCTP", "TCP", "UDP"].contains(&proto) {
        e.push(not_supported(child(p, "protocol"), json!(proto), &["SCTP", "TCP", "UDP"]));
    }
}

/// Environment variable names as 1.32 checks them (`RelaxedEnvironmentVariableValidation` is on).
fn env_name_errors(name: &str) -> Vec<String> {
    if name.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        return vec!["a valid environment variable name must consist only of printable ASCII characters other than '='".to_string()];
    }
    Vec::new()
}

const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const CONVERTIBLE_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

fn validate_object_field_selector(fs: &Value, p: &str, e: &mut Errs) {
    if st(fs, "apiVersion").is_empty() {
        e.push(required(child(p, "apiVersion"), ""));
        return;
    }
    let fp = st(fs, "fieldPath");
    if fp.is_empty() {
        e.push(required(child(p, "fieldPath"), ""));
        return;
    }
    // metadata.labels['key'] / metadata.annotations['key']
    if let Some(open) = fp.find("['") {
        if fp.ends_with("']") && open + 2 <= fp.len() - 2 {
            let (path, sub) = (&fp[..open], &fp[open + 2..fp.len() - 2]);
            match path {
                "metadata.annotations" => qualified_name(&sub.to_ascii_lowercase(), p, e),
                "metadata.labels" => qualified_name(sub, p, e),
                _ if CONVERTIBLE_FIELD_PATHS.contains(&path) => e.push(invalid(p, json!(path), "does not support subscript")),
                _ => e.push(invalid(child(p, "fieldPath"), json!(fp), format!("error converting fieldPath: field label not supported: {path}"))),
            }
            return;
        }
    }
    if !CONVERTIBLE_FIELD_PATHS.contains(&fp) {
        e.push(invalid(child(p, "fieldPath"), json!(fp), format!("error converting fieldPath: field label not supported: {fp}")));
    } else if !ENV_FIELD_PATHS.contains(&fp) {
        e.push(not_supported(child(p, "fieldPath"), json!(fp), ENV_FIELD_PATHS));
    }
}

fn validate_key_selector(sel: &Value, p: &str, e: &mut Errs) {
    let name = st(sel, "name");
    for m in meta::dns1123_subdomain(name) {
        e.push(invalid(child(p, "name"), json!(name), m));
    }
    let key = st(sel, "key");
    if key.is_empty() {
        e.push(required(child(p, "key"), ""));
    } else {
        for m in config_map_key_errors(key) {
            e.push(invalid(child(p, "key"), json!(key), m));
        }
    }
}

/// A preferred scheduling term's `weight` must be in 1..=100.
fn validate_weight(term: &Value, p: &str, e: &mut Errs) {
    let w = int0(term, "weight");
    if !(1..=100).contains(&w) {
        e.push(invalid(child(p, "weight"), json!(w), "must be in the range 1-100"));
    }
}

fn validate_env(env: &[Value], p: &str, e: &mut Errs) {
    for (i, ev) in env.iter().enumerate() {
        let ip = index(p, i);
        let name = st(ev, "name");
        if name.is_empty() {
            e.push(required(child(&ip, "name"), ""));
        } else {
            for m in env_name_errors(name) {
                e.push(invalid(child(&ip, "name"), json!(name), m));
            }
        }
        let Some(vf) = get(ev, "valueFrom") else { continue };
        let vp = child(&ip, "valueFrom");
        let mut n = 0;
        if let Some(fr) = get(vf, "fieldRef") {
            n += 1;
            validate_object_field_selector(fr, &child(&vp, "fieldRef"), e);
        }
        if let Some(rr) = get(vf, "resourceFieldRef") {
            n += 1;
            let rp = child(&vp, "resourceFieldRef");
            let res = st(rr, "resource");
            let supported = ["limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory"];
            if res.is_empty() {
                e.push(required(child(&rp, "resource"), ""));
            } else if !supported.contains(&res) && !res.starts_with("requests.hugepages-") && !res.starts_with("limits.hugepages-") {
                e.push(not_supported(child(&rp, "resource"), json!(res), &supported));
            }
        }
        if let Some(cm) = get(vf, "configMapKeyRef") {
            n += 1;
            validate_key_selector(cm, &child(&vp, "configMapKeyRef"), e);
        }
        if let Some(sk) = get(vf, "secretKeyRef") {
            n += 1;
            validate_key_selector(sk, &child(&vp, "secretKeyRef"), e);
        }
        if n == 0 {
            e.push(invalid(&vp, json!(""), "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
        } else if !st(ev, "value").is_empty() {
            e.push(invalid(&vp, json!(""), "may not be specified when `value` is not empty"));
        } else if n > 1 {
            e.push(invalid(&vp, json!(""), "may not have more than one field specified at a time"));
        }
    }
}

fn validate_env_from(env_from: &[Value], p: &str, e: &mut Errs) {
    for (i, ev) in env_from.iter().enumerate() {
        let ip = index(p, i);
        let prefix = st(ev, "prefix");
        if !prefix.is_empty() {
            for m in env_name_errors(prefix) {
                e.push(invalid(child(&ip, "prefix"), json!(prefix), m));
            }
        }
        let mut n = 0;
        for k in ["configMapRef", "secretRef"] {
            if let Some(r) = get(ev, k) {
                n += 1;
                let rp = child(&ip, k);
                let name = st(r, "name");
                if name.is_empty() {
                    e.push(required(child(&rp, "name"), ""));
                } else {
                    for m in subdomain_prefix_errors(name) {
                        e.push(invalid(child(&rp, "name"), json!(name), m));
                    }
                }
            }
        }
        if n == 0 {
            e.push(invalid(p, json!(""), "must specify one of: `configMapRef` or `secretRef`"));
        } else if n > 1 {
            e.push(invalid(p, json!(""), "may not have more than one field specified at a time"));
        }
    }
}

fn validate_volume_mounts(c: &Value, p: &str, ctx: &PodCtx, e: &mut Errs) {
    let devices: HashMap<&str, &str> = list(c, "volumeDevices").iter().map(|d| (st(d, "name"), st(d, "devicePath"))).collect();
    let privileged = c.pointer("/securityContext/privileged").and_then(Value::as_bool).unwrap_or(false);
    let mut mount_points = HashSet::new();
    for (i, m) in list(c, "volumeMounts").iter().enumerate() {
        let ip = index(p, i);
        let name = st(m, "name");
        if name.is_empty() {
            e.push(required(child(&ip, "name"), ""));
        }
        if !ctx.volumes.contains_key(name) {
            e.push(not_found(child(&ip, "name"), name));
        }
        let mount_path = st(m, "mountPath");
        if mount_path.is_empty() {
            e.push(required(child(&ip, "mountPath"), ""));
        }
        if !mount_points.insert(mount_path) {
            e.push(invalid(child(&ip, "mountPath"), json!(mount_path), "must be unique"));
        }
        if devices.contains_key(name) {
            e.push(invalid(child(&ip, "name"), json!(name), "must not already exist in volumeDevices"));
        }
        if devices.values().any(|d| *d == mount_path) {
            e.push(invalid(child(&ip, "mountPath"), json!(mount_path), "must not already exist as a path in volumeDevices"));
        }
        let sub_path = st(m, "subPath");
        let sub_path_expr = st(m, "subPathExpr");
        if ctx.volumes.get(name) == Some(&"image") {
            if !sub_path.is_empty() {
                e.push(invalid(child(&ip, "subPath"), json!(sub_path), "not allowed in image volume sources"));
            }
            if !sub_path_expr.is_empty() {
                e.push(invalid(child(&ip, "subPathExpr"), json!(sub_path_expr), "not allowed in image volume sources"));
            }
        }
        if !sub_path.is_empty() {
            validate_local_descending_path(sub_path, &child(p, "subPath"), e);
        }
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                e.push(invalid(child(&ip, "subPathExpr"), json!(sub_path_expr), "subPathExpr and subPath are mutually exclusive"));
            }
            validate_local_descending_path(sub_path_expr, &child(p, "subPathExpr"), e);
        }
        if let Some(mp) = opt_str(m, "mountPropagation") {
            let pp = child(p, "mountPropagation");
            let supported = ["Bidirectional", "HostToContainer", "None"];
            if !supported.contains(&mp) {
                e.push(not_supported(&pp, json!(mp), &supported));
            }
            if mp == "Bidirectional" && !privileged {
                e.push(forbidden(&pp, "Bidirectional mount propagation is available only to privileged containers"));
            }
        }
        if let Some(rro) = opt_str(m, "recursiveReadOnly") {
            let rp = child(p, "recursiveReadOnly");
            let supported = ["Disabled", "Enabled", "IfPossible"];
            if !supported.contains(&rro) {
                e.push(not_supported(&rp, json!(rro), &supported));
            } else if rro != "Disabled" {
                if !boolean(m, "readOnly") {
                    e.push(forbidden(&rp, "may only be specified when readOnly is true"));
                }
                if rro == "Enabled" && opt_str(m, "mountPropagation").is_some_and(|x| x != "None") {
                    e.push(forbidden(&rp, "may only be specified when mountPropagation is None or not specified"));
                }
            }
        }
    }
}

fn validate_volume_devices(c: &Value, p: &str, ctx: &PodCtx, e: &mut Errs) {
    let mounts: HashMap<&str, &str> = list(c, "volumeMounts").iter().map(|m| (st(m, "name"), st(m, "mountPath"))).collect();
    let mut names = HashSet::new();
    let mut paths = HashSet::new();
    for (i, d) in list(c, "volumeDevices").iter().enumerate() {
        let ip = index(p, i);
        let name = st(d, "name");
        let dev_path = st(d, "devicePath");
        if name.is_empty() {
            e.push(required(child(&ip, "name"), ""));
        }
        if names.contains(name) {
            e.push(invalid(child(&ip, "name"), json!(name), "must be unique"));
        }
        match ctx.volumes.get(name) {
            Some(src) if *src != "persistentVolumeClaim" && *src != "ephemeral" => e.push(invalid(
                child(&ip, "name"),
                json!(name),
                "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
            )),
            Some(_) => {}
            None => e.push(not_found(child(&ip, "name"), name)),
        }
        if dev_path.is_empty() {
            e.push(required(child(&ip, "devicePath"), ""));
        }
        if paths.contains(dev_path) {
            e.push(invalid(child(&ip, "devicePath"), json!(dev_path), "must be unique"));
        }
        if dev_path.split('/').any(|x| x == "..") {
            e.push(invalid(child(&ip, "devicePath"), json!(dev_path), "can not contain backsteps ('..')"));
        } else {
            paths.insert(dev_path);
        }
        if mounts.contains_key(name) {
            e.push(invalid(child(&ip, "name"), json!(name), "must not already exist in volumeMounts"));
        }
        if mounts.values().any(|m| *m == dev_path) {
            e.push(invalid(child(&ip, "devicePath"), json!(dev_path), "must not already exist as a path in volumeMounts"));
        }
        if !name.is_empty() {
            names.insert(name);
        }
    }
}

const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];
const INTEGER_RESOURCES: &[&str] = &[
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_extended_resource(name: &str) -> bool {
    !is_native_resource(name) && !name.starts_with("requests.") && meta::qualified_name(&format!("requests.{name}")).is_empty()
}

fn is_overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !is_hugepages(name)
}

fn is_integer_resource(name: &str) -> bool {
    INTEGER_RESOURCES.contains(&name) || is_extended_resource(name)
}

/// `validateResourceName`; returns whether the name passed.
fn validate_resource_name(name: &str, p: &str, e: &mut Errs) -> bool {
    let q = meta::qualified_name(name);
    if !q.is_empty() {
        for m in q {
            e.push(invalid(p, json!(name), m));
        }
        return false;
    }
    let standard = STANDARD_RESOURCES.contains(&name) || is_hugepages(name) || name.starts_with("requests.hugepages-");
    if !name.contains('/') && !standard {
        e.push(invalid(p, json!(name), "must be a standard resource type or fully qualified"));
        return false;
    }
    true
}

fn validate_container_resource_name(name: &str, p: &str, e: &mut Errs) {
    validate_resource_name(name, p, e);
    if !name.contains('/') {
        if !["cpu", "memory", "ephemeral-storage"].contains(&name) && !is_hugepages(name) {
            e.push(invalid(p, json!(name), "must be a standard resource for containers"));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        e.push(invalid(p, json!(name), "doesn't follow extended resource name standard"));
    }
}

/// `ValidateResourceQuantityValue`.
fn validate_resource_quantity_value(name: &str, q: &Quantity, p: &str, e: &mut Errs) {
    nonnegative_quantity(q, p, e);
    if is_integer_resource(name) && !q.rounded_up(-3).is_integer() {
        e.push(invalid(p, json!(q.canonical()), "must be an integer"));
    }
}

/// `ValidateContainerResourceRequirements`.
fn validate_resource_requirements(r: Option<&Value>, p: &str, e: &mut Errs) {
    let Some(r) = r else { return };
    let lim_p = child(p, "limits");
    let req_p = child(p, "requests");
    let empty = Map::new();
    let limits = map(r, "limits").unwrap_or(&empty);
    let requests = map(r, "requests").unwrap_or(&empty);
    let (mut lim_cpu_mem, mut req_cpu_mem, mut lim_hp, mut req_hp) = (false, false, false, false);
    let mut parsed_limits: HashMap<&str, Quantity> = HashMap::new();
    for (name, v) in limits {
        let kp = keyed(&lim_p, name);
        validate_container_resource_name(name, &kp, e);
        if let Some(q) = quantity_at(v, &kp, e) {
            validate_resource_quantity_value(name, &q, &kp, e);
            parsed_limits.insert(name, q);
        }
        lim_hp |= is_hugepages(name);
        lim_cpu_mem |= name == "cpu" || name == "memory";
    }
    for (name, v) in requests {
        let kp = keyed(&req_p, name);
        validate_container_resource_name(name, &kp, e);
        let q = quantity_at(v, &kp, e);
        if let Some(q) = &q {
            validate_resource_quantity_value(name, q, &kp, e);
        }
        if limits.contains_key(name) {
            if let (Some(q), Some(l)) = (q, parsed_limits.get(name.as_str())) {
                let ord = q.cmp_value(l);
                if ord != Ordering::Equal && !is_overcommit_allowed(name) {
                    e.push(invalid(&req_p, json!(q.canonical()), format!("must be equal to {name} limit of {}", l.canonical())));
                } else if ord == Ordering::Greater {
                    e.push(invalid(&req_p, json!(q.canonical()), format!("must be less than or equal to {name} limit of {}", l.canonical())));
                }
            }
        } else if !is_overcommit_allowed(name) {
            e.push(required(&lim_p, "Limit must be set for non overcommitable resources"));
        }
        req_hp |= is_hugepages(name);
        req_cpu_mem |= name == "cpu" || name == "memory";
    }
    if !lim_cpu_mem && !req_cpu_mem && (req_hp || lim_hp) {
        e.push(forbidden(p, "HugePages require cpu or memory"));
    }
}

fn validate_handler(h: &Value, kinds: &[&str], grace: Option<i64>, p: &str, e: &mut Errs) {
    let mut n = 0;
    for k in kinds {
        let Some(x) = get(h, k) else { continue };
        let kp = child(p, k);
        if n > 0 {
            e.push(forbidden(&kp, "may not specify more than 1 handler type"));
            continue;
        }
        n += 1;
        match *k {
            "exec" if list(x, "command").is_empty() => e.push(required(child(&kp, "command"), "")),
            "httpGet" => {
                if st(x, "path").is_empty() {
                    e.push(required(child(&kp, "path"), ""));
                }
                validate_port_num_or_name(get(x, "port"), &child(&kp, "port"), e);
                let scheme = st(x, "scheme");
                if !["HTTP", "HTTPS"].contains(&scheme) {
                    e.push(not_supported(child(&kp, "scheme"), json!(scheme), &["HTTP", "HTTPS"]));
                }
                for hdr in list(x, "httpHeaders") {
                    let name = st(hdr, "name");
                    if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
                        e.push(invalid(
                            child(&kp, "httpHeaders"),
                            json!(name),
                            regex_error("a valid HTTP header must consist of alphanumeric characters or '-'", "[-A-Za-z0-9]+", &["X-Header-Name"]),
                        ));
                    }
                }
            }
            "tcpSocket" => validate_port_num_or_name(get(x, "port"), &child(&kp, "port"), e),
            "grpc" => validate_port_num_or_name(Some(&json!(int0(x, "port"))), &child(&kp, "port"), e),
            "sleep" => {
                let secs = int0(x, "seconds");
                if let Some(g) = grace {
                    if secs <= 0 || secs > g {
                        e.push(invalid(
                            &kp,
                            json!(secs),
                            format!("must be greater than 0 and less than terminationGracePeriodSeconds ({g}). Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep."),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if n == 0 {
        e.push(required(p, "must specify a handler type"));
    }
}

fn validate_probe(probe: Option<&Value>, which: &str, grace: Option<i64>, p: &str, e: &mut Errs) {
    let Some(probe) = probe else { return };
    validate_handler(probe, &["exec", "httpGet", "tcpSocket", "grpc"], grace, p, e);
    for k in ["initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"] {
        non_negative(int0(probe, k), child(p, k), e);
    }
    if let Some(t) = int(probe, "terminationGracePeriodSeconds") {
        if t <= 0 {
            e.push(invalid(child(p, "terminationGracePeriodSeconds"), json!(t), "must be greater than 0"));
        }
    }
    match which {
        "readinessProbe" => {
            if let Some(t) = get(probe, "terminationGracePeriodSeconds") {
                e.push(invalid(child(p, "terminationGracePeriodSeconds"), t.clone(), "must not be set for readinessProbes"));
            }
        }
        _ => {
            let s = int0(probe, "successThreshold");
            if s != 1 {
                e.push(invalid(child(p, "successThreshold"), json!(s), "must be 1"));
            }
        }
    }
}

fn validate_lifecycle(c: &Value, grace: Option<i64>, p: &str, e: &mut Errs) {
    let Some(lc) = get(c, "lifecycle") else { return };
    let lp = child(p, "lifecycle");
    for hook in ["postStart", "preStop"] {
        if let Some(h) = get(lc, hook) {
            validate_handler(h, &["exec", "httpGet", "tcpSocket", "sleep"], grace, &child(&lp, hook), e);
        }
    }
    if let Some(sig) = opt_str(lc, "stopSignal") {
        if sig.is_empty() {
            e.push(required(child(&lp, "stopSignal"), ""));
        }
    }
}

fn validate_id(v: &Value, k: &str, p: &str, e: &mut Errs) {
    if let Some(id) = int(v, k) {
        if !(0..=MAX_INT32).contains(&id) {
            e.push(invalid(child(p, k), json!(id), "must be between 0 and 2147483647, inclusive"));
        }
    }
}

fn validate_seccomp_profile(sc: &Value, p: &str, e: &mut Errs) {
    let Some(prof) = get(sc, "seccompProfile") else { return };
    let pp = child(p, "seccompProfile");
    let t = st(prof, "type");
    match t {
        "Localhost" => {
            if opt_str(prof, "localhostProfile").is_none_or(str::is_empty) {
                e.push(required(child(&pp, "localhostProfile"), "must be set when seccomp type is Localhost"));
            }
        }
        "RuntimeDefault" | "Unconfined" => {
            if let Some(lp) = get(prof, "localhostProfile") {
                e.push(invalid(child(&pp, "localhostProfile"), lp.clone(), "can only be set when seccomp type is Localhost"));
            }
        }
        "" => e.push(required(child(&pp, "type"), "type is required when seccompProfile is set")),
        other => e.push(not_supported(child(&pp, "type"), json!(other), &["Localhost", "RuntimeDefault", "Unconfined"])),
    }
}

fn validate_container_security_context(c: &Value, p: &str, e: &mut Errs) {
    let Some(sc) = get(c, "securityContext") else { return };
    let sp = child(p, "securityContext");
    validate_id(sc, "runAsUser", &sp, e);
    validate_id(sc, "runAsGroup", &sp, e);
    if let Some(pm) = opt_str(sc, "procMount") {
        if !["Default", "Unmasked"].contains(&pm) {
            e.push(not_supported(child(&sp, "procMount"), json!(pm), &["Default", "Unmasked"]));
        }
    }
    validate_seccomp_profile(sc, &sp, e);
    if sc.get("allowPrivilegeEscalation").and_then(Value::as_bool) == Some(false) {
        if boolean(sc, "privileged") {
            e.push(invalid(&sp, sc.clone(), "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"));
        }
        if sc.pointer("/capabilities/add").and_then(Value::as_array).is_some_and(|a| a.iter().any(|x| x.as_str() == Some("CAP_SYS_ADMIN"))) {
            e.push(invalid(&sp, sc.clone(), "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"));
        }
    }
}

/// `validateContainerCommon`.
fn validate_container_common(c: &Value, p: &str, ctx: &PodCtx, e: &mut Errs) {
    let name = st(c, "name");
    if name.is_empty() {
        e.push(required(child(p, "name"), ""));
    } else {
        dns_label(name, &child(p, "name"), e);
    }
    if st(c, "image").is_empty() {
        e.push(required(child(p, "image"), ""));
    }
    match st(c, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => e.push(required(child(p, "terminationMessagePolicy"), "")),
        other => e.push(not_supported(child(p, "terminationMessagePolicy"), json!(other), &["File", "FallbackToLogsOnError"])),
    }
    validate_container_ports(list(c, "ports"), &child(p, "ports"), e);
    validate_env(list(c, "env"), &child(p, "env"), e);
    validate_env_from(list(c, "envFrom"), &child(p, "envFrom"), e);
    validate_volume_mounts(c, &child(p, "volumeMounts"), ctx, e);
    validate_volume_devices(c, &child(p, "volumeDevices"), ctx, e);
    match st(c, "imagePullPolicy") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => e.push(required(child(p, "imagePullPolicy"), "")),
        other => e.push(not_supported(child(p, "imagePullPolicy"), json!(other), &["Always", "IfNotPresent", "Never"])),
    }
    validate_resource_requirements(get(c, "resources"), &child(p, "resources"), e);
    validate_container_security_context(c, p, e);
    if ctx.is_pod {
        let image = st(c, "image");
        if image.trim() != image {
            e.push(invalid(child(p, "image"), json!(image), "must not have leading or trailing whitespace"));
        }
    }
}

fn host_port_conflicts(containers: &[Value], p: &str, e: &mut Errs) {
    let mut seen = HashSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in list(c, "ports").iter().enumerate() {
            let hp = int0(port, "hostPort");
            if hp == 0 {
                continue;
            }
            let key = format!("{}/{}/{hp}", st(port, "protocol"), st(port, "hostIP"));
            if !seen.insert(key.clone()) {
                e.push(duplicate(child(&index(&child(&index(p, ci), "ports"), pi), "hostPort"), json!(key)));
            }
        }
    }
}

fn validate_containers(containers: &[Value], p: &str, ctx: &PodCtx, e: &mut Errs) {
    if containers.is_empty() {
        e.push(required(p, ""));
        return;
    }
    let mut names = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        let cp = index(p, i);
        validate_container_common(c, &cp, ctx, e);
        let name = st(c, "name");
        if !names.insert(name) {
            e.push(duplicate(child(&cp, "name"), json!(name)));
        }
        validate_lifecycle(c, ctx.grace, &cp, e);
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            validate_probe(get(c, probe), probe, ctx.grace, &child(&cp, probe), e);
        }
        if get(c, "restartPolicy").is_some() {
            e.push(forbidden(child(&cp, "restartPolicy"), "may not be set for non-init containers"));
        }
    }
    host_port_conflicts(containers, p, e);
}

fn validate_init_containers(inits: &[Value], regular: &[Value], p: &str, ctx: &PodCtx, e: &mut Errs) {
    let mut names: HashSet<&str> = regular.iter().map(|c| st(c, "name")).collect();
    for (i, c) in inits.iter().enumerate() {
        let cp = index(p, i);
        validate_container_common(c, &cp, ctx, e);
        let mut restart_always = false;
        if let Some(rp) = opt_str(c, "restartPolicy") {
            if rp == "Always" {
                restart_always = true;
            } else {
                e.push(not_supported(child(&cp, "restartPolicy"), json!(rp), &["Always"]));
            }
        }
        let name = st(c, "name");
        if names.contains(name) {
            e.push(duplicate(child(&cp, "name"), json!(name)));
        } else if !name.is_empty() {
            names.insert(name);
        }
        host_port_conflicts(std::slice::from_ref(c), p, e);
        if restart_always {
            validate_lifecycle(c, ctx.grace, &cp, e);
            for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                validate_probe(get(c, probe), probe, ctx.grace, &child(&cp, probe), e);
            }
        } else {
            for k in ["lifecycle", "livenessProbe", "readinessProbe", "startupProbe"] {
                if get(c, k).is_some() {
                    e.push(forbidden(child(&cp, k), "may not be set for init containers without restartPolicy=Always"));
                }
            }
        }
    }
}

fn validate_ephemeral_containers(spec: &Value, p: &str, ctx: &PodCtx, e: &mut Errs) {
    let eph = list(spec, "ephemeralContainers");
    if eph.is_empty() {
        return;
    }
    let others: HashSet<&str> = list(spec, "containers").iter().chain(list(spec, "initContainers")).map(|c| st(c, "name")).collect();
    let mut all = others.clone();
    for (i, c) in eph.iter().enumerate() {
        let cp = index(p, i);
        validate_container_common(c, &cp, ctx, e);
        let name = st(c, "name");
        if !all.insert(name) {
            e.push(duplicate(child(&cp, "name"), json!(name)));
        }
        let target = st(c, "targetContainerName");
        if !target.is_empty() && !others.contains(target) {
            e.push(not_found(child(&cp, "targetContainerName"), target));
        }
        for k in ["ports", "resources", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "resizePolicy", "restartPolicy"] {
            if get(c, k).is_some_and(|v| !is_zeroish(v)) {
                e.push(forbidden(child(&cp, k), "cannot be set for an Ephemeral Container"));
            }
        }
    }
}

fn validate_tolerations(tols: &[Value], p: &str, e: &mut Errs) {
    for (i, t) in tols.iter().enumerate() {
        let ip = index(p, i);
        let key = st(t, "key");
        let op = st(t, "operator");
        let effect = st(t, "effect");
        if !key.is_empty() {
            qualified_name(key, &child(&ip, "key"), e);
        }
        if key.is_empty() && op != "Exists" {
            e.push(invalid(child(&ip, "operator"), json!(op), "operator must be Exists when `key` is empty, which means \"match all values and all keys\""));
        }
        if get(t, "tolerationSeconds").is_some() && effect != "NoExecute" {
            e.push(invalid(child(&ip, "effect"), json!(effect), "effect must be 'NoExecute' when `tolerationSeconds` is set"));
        }
        let value = st(t, "value");
        match op {
            "Equal" | "" => {
                let errs = meta::label_value(value);
                if !errs.is_empty() {
                    e.push(invalid(child(&ip, "operator"), json!(value), errs.join(";")));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    e.push(invalid(child(&ip, "operator"), json!(value), "value must be empty when `operator` is 'Exists'"));
                }
            }
            other => e.push(not_supported(child(&ip, "operator"), json!(other), &["Equal", "Exists"])),
        }
        if !effect.is_empty() && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect) {
            e.push(not_supported(child(&ip, "effect"), json!(effect), &["NoSchedule", "PreferNoSchedule", "NoExecute"]));
        }
    }
}

fn validate_node_selector_requirement(r: &Value, p: &str, e: &mut Errs) {
    let values = list(r, "values");
    match st(r, "operator") {
        "In" | "NotIn" => {
            if values.is_empty() {
                e.push(required(child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'"));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                e.push(forbidden(child(p, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
            }
        }
        "Gt" | "Lt" => {
            if values.len() != 1 {
                e.push(required(child(p, "values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"));
            }
        }
        other => e.push(invalid(child(p, "operator"), json!(other), "not a valid selector operator")),
    }
    qualified_name(st(r, "key"), &child(p, "key"), e);
}

fn validate_node_selector_term(term: &Value, p: &str, e: &mut Errs) {
    for (j, r) in list(term, "matchExpressions").iter().enumerate() {
        validate_node_selector_requirement(r, &index(&child(p, "matchExpressions"), j), e);
    }
    for (j, r) in list(term, "matchFields").iter().enumerate() {
        let rp = index(&child(p, "matchFields"), j);
        if st(r, "key") != "metadata.name" {
            e.push(invalid(child(&rp, "key"), json!(st(r, "key")), "not a valid field selector key"));
        }
        let values = list(r, "values");
        match st(r, "operator") {
            "In" | "NotIn" => {
                if values.len() != 1 {
                    e.push(required(child(&rp, "values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"));
                }
            }
            other => e.push(invalid(child(&rp, "operator"), json!(other), "not a valid selector operator")),
        }
    }
}

fn validate_pod_affinity_term(term: &Value, p: &str, e: &mut Errs) {
    validate_label_selector(get(term, "labelSelector"), &child(p, "labelSelector"), e);
    validate_label_selector(get(term, "namespaceSelector"), &child(p, "namespaceSelector"), e);
    for (i, ns) in list(term, "namespaces").iter().enumerate() {
        let s = ns.as_str().unwrap_or_default();
        for m in meta::dns1123_label(s) {
            e.push(invalid(index(&child(p, "namespace"), i), json!(s), m));
        }
    }
    let tk = st(term, "topologyKey");
    if tk.is_empty() {
        e.push(required(child(p, "topologyKey"), "can not be empty"));
    } else {
        qualified_name(tk, &child(p, "topologyKey"), e);
    }
}

fn validate_affinity(spec: &Value, p: &str, e: &mut Errs) {
    let Some(aff) = get(spec, "affinity") else { return };
    let ap = child(p, "affinity");
    if let Some(na) = get(aff, "nodeAffinity") {
        let np = child(&ap, "nodeAffinity");
        if let Some(req) = get(na, "requiredDuringSchedulingIgnoredDuringExecution") {
            let rp = child(&np, "requiredDuringSchedulingIgnoredDuringExecution");
            let terms = list(req, "nodeSelectorTerms");
            if terms.is_empty() {
                e.push(required(child(&rp, "nodeSelectorTerms"), "must have at least one node selector term"));
            }
            for (i, t) in terms.iter().enumerate() {
                validate_node_selector_term(t, &index(&child(&rp, "nodeSelectorTerms"), i), e);
            }
        }
        for (i, t) in list(na, "preferredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
            let tp = index(&child(&np, "preferredDuringSchedulingIgnoredDuringExecution"), i);
            validate_weight(t, &tp, e);
            validate_node_selector_term(t.get("preference").unwrap_or(&Value::Null), &child(&tp, "preference"), e);
        }
    }
    for kind in ["podAffinity", "podAntiAffinity"] {
        let Some(pa) = get(aff, kind) else { continue };
        let kp = child(&ap, kind);
        for (i, t) in list(pa, "requiredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
            validate_pod_affinity_term(t, &index(&child(&kp, "requiredDuringSchedulingIgnoredDuringExecution"), i), e);
        }
        for (i, t) in list(pa, "preferredDuringSchedulingIgnoredDuringExecution").iter().enumerate() {
            let tp = index(&child(&kp, "preferredDuringSchedulingIgnoredDuringExecution"), i);
            validate_weight(t, &tp, e);
            validate_pod_affinity_term(t.get("podAffinityTerm").unwrap_or(&Value::Null), &child(&tp, "podAffinityTerm"), e);
        }
    }
}

fn validate_topology_spread(spec: &Value, p: &str, e: &mut Errs) {
    let cs = list(spec, "topologySpreadConstraints");
    for (i, c) in cs.iter().enumerate() {
        let cp = index(p, i);
        let skew = int0(c, "maxSkew");
        if skew <= 0 {
            e.push(invalid(child(&cp, "maxSkew"), json!(skew), "must be greater than zero"));
        }
        let tk = st(c, "topologyKey");
        if tk.is_empty() {
            e.push(required(child(&cp, "topologyKey"), "can not be empty"));
        } else if let Some(m) = meta::qualified_name(tk).into_iter().next() {
            e.push(invalid(child(&cp, "topologyKey"), json!(tk), m));
        }
        let wu = st(c, "whenUnsatisfiable");
        if !["DoNotSchedule", "ScheduleAnyway"].contains(&wu) {
            e.push(not_supported(child(&cp, "whenUnsatisfiable"), json!(wu), &["DoNotSchedule", "ScheduleAnyway"]));
        }
        if cs[i + 1..].iter().any(|o| st(o, "topologyKey") == tk && st(o, "whenUnsatisfiable") == wu) {
            e.push(duplicate(child(&cp, "{topologyKey, whenUnsatisfiable}"), json!(format!("{{{tk}, {wu}}}"))));
        }
        if let Some(md) = int(c, "minDomains") {
            if md <= 0 {
                e.push(invalid(child(&cp, "minDomains"), json!(md), "must be greater than zero"));
            } else if wu != "DoNotSchedule" {
                e.push(invalid(child(&cp, "minDomains"), json!(md), "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway"));
            }
        }
        validate_label_selector(get(c, "labelSelector"), &child(&cp, "labelSelector"), e);
        for k in ["nodeAffinityPolicy", "nodeTaintsPolicy"] {
            if let Some(v) = opt_str(c, k) {
                if !["Honor", "Ignore"].contains(&v) {
                    e.push(not_supported(child(&cp, k), json!(v), &["Honor", "Ignore"]));
                }
            }
        }
    }
}

fn validate_pod_security_context(spec: &Value, p: &str, e: &mut Errs) {
    let Some(sc) = get(spec, "securityContext") else { return };
    let sp = child(p, "securityContext");
    validate_id(sc, "fsGroup", &sp, e);
    validate_id(sc, "runAsUser", &sp, e);
    validate_id(sc, "runAsGroup", &sp, e);
    for (g, gid) in list(sc, "supplementalGroups").iter().enumerate() {
        let id = as_int(gid).unwrap_or(-1);
        if !(0..=MAX_INT32).contains(&id) {
            e.push(invalid(index(&child(&sp, "supplementalGroups"), g), gid.clone(), "must be between 0 and 2147483647, inclusive"));
        }
    }
    if boolean(spec, "shareProcessNamespace") && boolean(spec, "hostPID") {
        e.push(invalid(child(&sp, "shareProcessNamespace"), json!(true), "ShareProcessNamespace and HostPID cannot both be enabled"));
    }
    let mut names = HashSet::new();
    for (i, s) in list(sc, "sysctls").iter().enumerate() {
        let np = child(&index(&child(&sp, "sysctls"), i), "name");
        let name = st(s, "name");
        let seg_ok = |x: &str| {
            !x.is_empty()
                && x.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
                && x.as_bytes()[0].is_ascii_alphanumeric()
                && x.as_bytes()[x.len() - 1].is_ascii_alphanumeric()
        };
        if name.is_empty() {
            e.push(required(&np, ""));
        } else if name.len() > 253 || !name.split(['.', '/']).all(seg_ok) {
            e.push(invalid(&np, json!(name), "must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$"));
        } else if !names.insert(name) {
            e.push(duplicate(&np, json!(name)));
        }
    }
    if let Some(p2) = opt_str(sc, "fsGroupChangePolicy") {
        if !["Always", "OnRootMismatch"].contains(&p2) {
            e.push(not_supported(child(&sp, "fsGroupChangePolicy"), json!(p2), &["Always", "OnRootMismatch"]));
        }
    }
    validate_seccomp_profile(sc, &sp, e);
    if let Some(pol) = opt_str(sc, "supplementalGroupsPolicy") {
        if !["Merge", "Strict"].contains(&pol) {
            e.push(not_supported(child(&sp, "supplementalGroupsPolicy"), json!(pol), &["Merge", "Strict"]));
        }
    }
}

fn validate_dns_config(spec: &Value, p: &str, e: &mut Errs) {
    let dp = child(p, "dnsConfig");
    let cfg = get(spec, "dnsConfig");
    if st(spec, "dnsPolicy") == "None" {
        match cfg {
            None => {
                e.push(required(&dp, "must provide `dnsConfig` when `dnsPolicy` is None"));
                return;
            }
            Some(c) if list(c, "nameservers").is_empty() => {
                e.push(required(child(&dp, "nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None"));
                return;
            }
            _ => {}
        }
    }
    let Some(c) = cfg else { return };
    let ns = list(c, "nameservers");
    if ns.len() > 3 {
        e.push(invalid(child(&dp, "nameservers"), json!(ns), "must not have more than 3 nameservers"));
    }
    for (i, n) in ns.iter().enumerate() {
        validate_ip(n.as_str().unwrap_or_default(), &index(&child(&dp, "nameservers"), i), e);
    }
    let searches = list(c, "searches");
    if searches.len() > 32 {
        e.push(invalid(child(&dp, "searches"), json!(searches), "must not have more than 32 search paths"));
    }
    let joined: Vec<&str> = searches.iter().filter_map(Value::as_str).collect();
    if joined.join(" ").len() > 2048 {
        e.push(invalid(child(&dp, "searches"), json!(searches), "must not have more than 2048 characters (including spaces) in the search list"));
    }
    for (i, s) in searches.iter().enumerate() {
        let s = s.as_str().unwrap_or_default();
        if s != "." {
            let trimmed = s.strip_suffix('.').unwrap_or(s);
            let masked = trimmed.replace('_', "a");
            for m in meta::dns1123_subdomain(&masked) {
                e.push(invalid(index(&child(&dp, "searches"), i), json!(trimmed), m));
            }
        }
    }
    for (i, o) in list(c, "options").iter().enumerate() {
        if st(o, "name").is_empty() {
            e.push(required(index(&child(&dp, "options"), i), "must not be empty"));
        }
    }
}

/// `ValidatePodSpec` at `p`; `is_pod` adds the checks Kubernetes runs only for Pods.
fn validate_pod_spec(spec: &Value, p: &str, is_pod: bool, e: &mut Errs) {
    if get(spec, "terminationGracePeriodSeconds").is_none() {
        e.push(required(child(p, "terminationGracePeriodSeconds"), ""));
    }
    let volumes = validate_volumes(list(spec, "volumes"), &child(p, "volumes"), e);
    let ctx = PodCtx { volumes, grace: int(spec, "terminationGracePeriodSeconds"), is_pod };
    let containers = list(spec, "containers");
    validate_containers(containers, &child(p, "containers"), &ctx, e);
    validate_init_containers(list(spec, "initContainers"), containers, &child(p, "initContainers"), &ctx, e);
    validate_ephemeral_containers(spec, &child(p, "ephemeralContainers"), &ctx, e);
    if boolean(spec, "hostNetwork") {
        for (i, c) in containers.iter().enumerate() {
            for (j, port) in list(c, "ports").iter().enumerate() {
                let (hp, cp) = (int0(port, "hostPort"), int0(port, "containerPort"));
                if (is_pod || hp != 0) && hp != cp {
                    let pp = child(&index(&child(&index(&child(p, "containers"), i), "ports"), j), "hostPort");
                    e.push(invalid(pp, json!(hp), "must match `containerPort` when `hostNetwork` is true"));
                }
            }
        }
    }
    match st(spec, "restartPolicy") {
        "Always" | "OnFailure" | "Never" => {}
        "" => e.push(required(child(p, "restartPolicy"), "")),
        other => e.push(not_supported(child(p, "restartPolicy"), json!(other), &["Always", "OnFailure", "Never"])),
    }
    match st(spec, "dnsPolicy") {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => e.push(required(child(p, "dnsPolicy"), "")),
        other => e.push(not_supported(child(p, "dnsPolicy"), json!(other), &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"])),
    }
    validate_labels(get(spec, "nodeSelector"), &child(p, "nodeSelector"), e);
    validate_pod_security_context(spec, p, e);
    for (i, s) in list(spec, "imagePullSecrets").iter().enumerate() {
        if s.as_object().is_some_and(|o| o.keys().any(|k| k != "name")) {
            e.push(invalid(index(&child(p, "imagePullSecrets"), i), s.clone(), "only name may be set"));
        }
    }
    validate_affinity(spec, p, e);
    validate_dns_config(spec, p, e);
    for (i, g) in list(spec, "readinessGates").iter().enumerate() {
        qualified_name(st(g, "conditionType"), &child(&index(&child(p, "readinessGates"), i), "conditionType"), e);
    }
    let mut gates = HashSet::new();
    for (i, g) in list(spec, "schedulingGates").iter().enumerate() {
        let name = st(g, "name");
        let gp = index(&child(p, "schedulingGates"), i);
        qualified_name(name, &gp, e);
        if !gates.insert(name) {
            e.push(duplicate(&gp, json!(name)));
        }
    }
    validate_topology_spread(spec, &child(p, "topologySpreadConstraints"), e);
    let sa = st(spec, "serviceAccountName");
    if !sa.is_empty() {
        dns_subdomain(sa, &child(p, "serviceAccountName"), e);
    }
    let node = st(spec, "nodeName");
    if !node.is_empty() {
        dns_subdomain(node, &child(p, "nodeName"), e);
    }
    if let Some(ads) = int(spec, "activeDeadlineSeconds") {
        if !(1..=MAX_INT32).contains(&ads) {
            e.push(invalid(child(p, "activeDeadlineSeconds"), json!(ads), "must be between 1 and 2147483647, inclusive"));
        }
    }
    for k in ["hostname", "subdomain"] {
        let v = st(spec, k);
        if !v.is_empty() {
            dns_label(v, &child(p, k), e);
        }
    }
    validate_tolerations(list(spec, "tolerations"), &child(p, "tolerations"), e);
    for (i, ha) in list(spec, "hostAliases").iter().enumerate() {
        let hp = index(&child(p, "hostAliases"), i);
        validate_ip(st(ha, "ip"), &child(&hp, "ip"), e);
        for (j, h) in list(ha, "hostnames").iter().enumerate() {
            dns_subdomain(h.as_str().unwrap_or_default(), &index(&child(&hp, "hostnames"), j), e);
        }
    }
    let pc = st(spec, "priorityClassName");
    if !pc.is_empty() {
        dns_subdomain(pc, &child(p, "priorityClassName"), e);
    }
    if let Some(rc) = opt_str(spec, "runtimeClassName") {
        dns_subdomain(rc, &child(p, "runtimeClassName"), e);
    }
    if let Some(pp) = opt_str(spec, "preemptionPolicy") {
        validate_preemption_policy(pp, &child(p, "preemptionPolicy"), e);
    }
    if let Some(os) = get(spec, "os") {
        let name = st(os, "name");
        if name.is_empty() {
            e.push(required(child(&child(p, "os"), "name"), ""));
        } else if !["linux", "windows"].contains(&name) {
            e.push(not_supported(child(&child(p, "os"), "name"), json!(name), &["linux", "windows"]));
        }
    }
}

fn validate_preemption_policy(pp: &str, p: &str, e: &mut Errs) {
    match pp {
        "PreemptLowerPriority" | "Never" => {}
        "" => e.push(required(p, "")),
        other => e.push(not_supported(p, json!(other), &["PreemptLowerPriority", "Never"])),
    }
}

/// `ValidatePodTemplateSpec` at `p` (e.g. `spec.template`).
fn validate_pod_template_spec(t: &Value, p: &str, e: &mut Errs) {
    let meta = t.get("metadata").unwrap_or(&Value::Null);
    validate_labels(get(meta, "labels"), &child(p, "labels"), e);
    validate_annotations(get(meta, "annotations"), &child(p, "annotations"), e);
    let spec = t.get("spec").unwrap_or(&Value::Null);
    validate_pod_spec(spec, &child(p, "spec"), false, e);
    if !list(spec, "ephemeralContainers").is_empty() {
        e.push(forbidden(child(&child(p, "spec"), "ephemeralContainers"), "ephemeral containers not allowed in pod template"));
    }
}

fn validate_pod(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    validate_pod_spec(spec, "spec", true, e);
    if st(spec, "serviceAccountName").is_empty() {
        for (vi, v) in list(spec, "volumes").iter().enumerate() {
            let Some(proj) = get(v, "projected") else { continue };
            for (si, s) in list(proj, "sources").iter().enumerate() {
                if get(s, "serviceAccountToken").is_some() {
                    e.push(forbidden(
                        format!("spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken"),
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    match old {
        None => {
            if !list(spec, "ephemeralContainers").is_empty() {
                e.push(forbidden("spec.ephemeralContainers", "cannot be set on create"));
            }
            if !st(spec, "nodeName").is_empty() && !list(spec, "schedulingGates").is_empty() {
                e.push(forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"));
            }
        }
        Some(old) => validate_pod_update(spec, old.get("spec").unwrap_or(&Value::Null), e),
    }
}

fn validate_container_updates(new: &[Value], old: &[Value], p: &str, e: &mut Errs) -> bool {
    if new.len() != old.len() {
        e.push(forbidden(p, "pod updates may not add or remove containers"));
        return false;
    }
    for (i, c) in new.iter().enumerate() {
        let image = st(c, "image");
        if image.is_empty() {
            e.push(required(child(&index(p, i), "image"), ""));
        }
        if image.trim() != image {
            e.push(invalid(child(&index(p, i), "image"), json!(image), "must not have leading or trailing whitespace"));
        }
    }
    true
}

fn spec_diff(old: &Value, new: &Value) -> String {
    let empty = Map::new();
    let (o, n) = (old.as_object().unwrap_or(&empty), new.as_object().unwrap_or(&empty));
    let mut keys: Vec<&String> = o.keys().chain(n.keys().filter(|k| !o.contains_key(*k))).collect();
    keys.dedup();
    let mut out = String::from("  core.PodSpec{\n");
    let mut same = 0;
    for k in keys {
        if sem_eq(o.get(k), n.get(k)) {
            same += 1;
            continue;
        }
        if let Some(v) = o.get(k) {
            out.push_str(&format!("- \t{k}: {v},\n"));
        }
        if let Some(v) = n.get(k) {
            out.push_str(&format!("+ \t{k}: {v},\n"));
        }
    }
    if same > 0 {
        out.push_str(&format!("  \t... // {same} identical fields\n"));
    }
    out.push_str("  }\n");
    out
}

/// `ValidatePodUpdate` for the spec: only images, activeDeadlineSeconds, tolerations
/// additions, scheduling gate removals and a negative grace period becoming 1 may change.
fn validate_pod_update(new: &Value, old: &Value, e: &mut Errs) {
    if !validate_container_updates(list(new, "containers"), list(old, "containers"), "spec.containers", e) {
        return;
    }
    if !validate_container_updates(list(new, "initContainers"), list(old, "initContainers"), "spec.initContainers", e) {
        return;
    }
    match (int(new, "activeDeadlineSeconds"), int(old, "activeDeadlineSeconds")) {
        (Some(n), _) if !(0..=MAX_INT32).contains(&n) => {
            e.push(invalid("spec.activeDeadlineSeconds", json!(n), "must be between 0 and 2147483647, inclusive"));
            return;
        }
        (Some(n), Some(o)) if o < n => {
            e.push(invalid("spec.activeDeadlineSeconds", json!(n), "must be less than or equal to previous value"));
            return;
        }
        (None, Some(_)) => e.push(invalid("spec.activeDeadlineSeconds", Value::Null, "must not update from a positive integer to nil value")),
        _ => {}
    }
    // Tolerations: existing ones may only change their tolerationSeconds.
    let new_tols = list(new, "tolerations");
    for o in list(old, "tolerations") {
        let strip = |t: &Value| {
            let mut t = t.clone();
            if let Some(m) = t.as_object_mut() {
                m.remove("tolerationSeconds");
            }
            t
        };
        if !new_tols.iter().any(|n| sem_eq(Some(&strip(n)), Some(&strip(o)))) {
            e.push(forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"));
            break;
        }
    }
    // Scheduling gates: only deletions.
    let old_gates: HashSet<&str> = list(old, "schedulingGates").iter().map(|g| st(g, "name")).collect();
    for (i, g) in list(new, "schedulingGates").iter().enumerate() {
        let name = st(g, "name");
        if !old_gates.contains(name) {
            e.push(forbidden(format!("spec.schedulingGates[{i}].name"), format!("only deletion is allowed, but found new scheduling gate '{name}'")));
        }
    }
    if sem_eq(Some(new), Some(old)) {
        return;
    }
    let mut munged = new.clone();
    if let Some(m) = munged.as_object_mut() {
        for k in ["containers", "initContainers"] {
            if let Some(cs) = m.get_mut(k).and_then(Value::as_array_mut) {
                for (c, oc) in cs.iter_mut().zip(list(old, k)) {
                    if let Some(cm) = c.as_object_mut() {
                        match oc.get("image") {
                            Some(img) => cm.insert("image".into(), img.clone()),
                            None => cm.remove("image"),
                        };
                    }
                }
            }
        }
        // Binding a pod sets nodeName once; the API cannot tell that write from a user's, so
        // the first assignment is allowed here.
        if st(old, "nodeName").is_empty() {
            m.remove("nodeName");
        }
        for k in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
            match old.get(k) {
                Some(v) => m.insert(k.into(), v.clone()),
                None => m.remove(k),
            };
        }
        if int(old, "terminationGracePeriodSeconds").is_some_and(|g| g < 0) && int(new, "terminationGracePeriodSeconds") == Some(1) {
            if let Some(g) = old.get("terminationGracePeriodSeconds") {
                m.insert("terminationGracePeriodSeconds".into(), g.clone());
            }
        }
        if !list(old, "schedulingGates").is_empty() {
            // Gated pods may gain node selector entries and node affinity.
            if let (Some(nsel), Some(osel)) = (map(new, "nodeSelector"), map(old, "nodeSelector")) {
                for (k, v) in osel {
                    if nsel.get(k) != Some(v) {
                        e.push(invalid("spec.nodeSelector", json!(nsel), "only additions to spec.nodeSelector are allowed (no mutations or deletions)"));
                        break;
                    }
                }
            }
            match old.get("nodeSelector") {
                Some(v) => m.insert("nodeSelector".into(), v.clone()),
                None => m.remove("nodeSelector"),
            };
            let old_na = old.pointer("/affinity/nodeAffinity").cloned();
            if let Some(aff) = m.get_mut("affinity").and_then(Value::as_object_mut) {
                match old_na {
                    Some(na) => aff.insert("nodeAffinity".into(), na),
                    None => aff.remove("nodeAffinity"),
                };
            }
        }
    }
    if !sem_eq(Some(&munged), Some(old)) {
        e.push(forbidden("spec", format!("pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n{}", spec_diff(old, &munged))));
    }
}

fn validate_pod_template_object(obj: &Value, e: &mut Errs) {
    validate_pod_template_spec(obj.get("template").unwrap_or(&Value::Null), "template", e);
}

// ---------------------------------------------------------------------------------------------
// Workload controllers: ReplicationController, Deployment, ReplicaSet, StatefulSet, DaemonSet
// ---------------------------------------------------------------------------------------------

const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";

fn template_labels(t: Option<&Value>) -> Option<&Value> {
    t.and_then(|t| t.pointer("/metadata/labels")).filter(|v| !v.is_null())
}

fn labels_json(t: Option<&Value>) -> Value {
    template_labels(t).cloned().unwrap_or(Value::Null)
}

fn validate_replication_controller(obj: &Value, _old: Option<&Value>, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    non_negative(int0(spec, "minReadySeconds"), "spec.minReadySeconds", e);
    let selector = map(spec, "selector").filter(|m| !m.is_empty());
    if selector.is_none() {
        e.push(required("spec.selector", ""));
    }
    non_negative(int0(spec, "replicas"), "spec.replicas", e);
    match get(spec, "template") {
        None => e.push(required("spec.template", "")),
        Some(t) => {
            if let Some(sel) = selector {
                let labels = template_labels(Some(t)).and_then(Value::as_object);
                if !sel.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v)) {
                    e.push(invalid("spec.template.metadata.labels", labels_json(Some(t)), SELECTOR_MISMATCH));
                }
            }
            validate_pod_template_spec(t, "spec.template", e);
            let rp = t.pointer("/spec/restartPolicy").and_then(Value::as_str).unwrap_or_default();
            if rp != "Always" {
                e.push(not_supported("spec.template.spec.restartPolicy", json!(rp), &["Always"]));
            }
            if t.pointer("/spec/activeDeadlineSeconds").is_some_and(|v| !v.is_null()) {
                e.push(forbidden("spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in ReplicationController is not Supported"));
            }
        }
    }
}

/// The selector checks shared by Deployment, ReplicaSet and StatefulSet; returns whether the
/// selector can be used to check the template labels (and so whether to check them).
fn validate_workload_selector(spec: &Value, what: &str, e: &mut Errs) -> bool {
    match get(spec, "selector") {
        None => {
            e.push(required("spec.selector", ""));
            true
        }
        Some(sel) => {
            validate_label_selector(Some(sel), "spec.selector", e);
            if selector_size(sel) == 0 {
                e.push(invalid("spec.selector", sel.clone(), format!("empty selector is invalid for {what}")));
            }
            if LabelSelector::from_object(sel).is_err() {
                e.push(invalid("spec.selector", sel.clone(), "invalid label selector"));
                return false;
            }
            true
        }
    }
}

/// Selector-against-template-labels: a nil selector matches nothing, an empty one is skipped.
fn check_template_matches_selector(spec: &Value, template: Option<&Value>, e: &mut Errs) {
    let sel = get(spec, "selector");
    if sel.is_some_and(|s| selector_size(s) == 0) {
        return;
    }
    if selector_matches(sel, template_labels(template)) != Some(true) {
        e.push(invalid("spec.template.metadata.labels", labels_json(template), SELECTOR_MISMATCH));
    }
}

/// `ValidatePodTemplateSpecForReplicaSet` (Deployments and ReplicaSets).
fn validate_replica_set_template(spec: &Value, selector_ok: bool, e: &mut Errs) {
    let t = get(spec, "template");
    if selector_ok {
        check_template_matches_selector(spec, t, e);
    }
    let tv = t.unwrap_or(&Value::Null);
    validate_pod_template_spec(tv, "spec.template", e);
    let rp = tv.pointer("/spec/restartPolicy").and_then(Value::as_str).unwrap_or_default();
    if rp != "Always" {
        e.push(not_supported("spec.template.spec.restartPolicy", json!(rp), &["Always"]));
    }
    if let Some(ads) = tv.pointer("/spec/activeDeadlineSeconds").filter(|v| !v.is_null()) {
        e.push(invalid("spec.template.spec.activeDeadlineSeconds", ads.clone(), "activeDeadlineSeconds in ReplicaSet is not Supported"));
    }
}

fn validate_deployment(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    non_negative(int0(spec, "replicas"), "spec.replicas", e);
    let selector_ok = validate_workload_selector(spec, "deployment", e);
    validate_replica_set_template(spec, selector_ok, e);
    // Strategy.
    let strategy = spec.get("strategy").unwrap_or(&Value::Null);
    match st(strategy, "type") {
        "Recreate" => {
            if get(strategy, "rollingUpdate").is_some() {
                e.push(forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"));
            }
        }
        "RollingUpdate" => match get(strategy, "rollingUpdate") {
            None => e.push(required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil")),
            Some(ru) => {
                let (mu, ms) = (get(ru, "maxUnavailable"), get(ru, "maxSurge"));
                validate_int_or_percent(mu, "spec.strategy.rollingUpdate.maxUnavailable", e);
                validate_int_or_percent(ms, "spec.strategy.rollingUpdate.maxSurge", e);
                if int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0 {
                    e.push(invalid("spec.strategy.rollingUpdate.maxUnavailable", mu.cloned().unwrap_or(json!(0)), "may not be 0 when `maxSurge` is 0"));
                }
                is_not_more_than_100_percent(mu, "spec.strategy.rollingUpdate.maxUnavailable", e);
            }
        },
        _ => e.push(not_supported("spec.strategy", strategy.clone(), &["Recreate", "RollingUpdate"])),
    }
    let min_ready = int0(spec, "minReadySeconds");
    non_negative(min_ready, "spec.minReadySeconds", e);
    if let Some(r) = int(spec, "revisionHistoryLimit") {
        non_negative(r, "spec.revisionHistoryLimit", e);
    }
    if let Some(pd) = int(spec, "progressDeadlineSeconds") {
        non_negative(pd, "spec.progressDeadlineSeconds", e);
        if pd <= min_ready {
            e.push(invalid("spec.progressDeadlineSeconds", json!(pd), "must be greater than minReadySeconds"));
        }
    }
    if let Some(old) = old {
        immutable(spec.get("selector"), old.pointer("/spec/selector"), "spec.selector", e);
    }
}

fn validate_replica_set(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    non_negative(int0(spec, "replicas"), "spec.replicas", e);
    non_negative(int0(spec, "minReadySeconds"), "spec.minReadySeconds", e);
    let selector_ok = validate_workload_selector(spec, "deployment", e);
    validate_replica_set_template(spec, selector_ok, e);
    if let Some(old) = old {
        immutable(spec.get("selector"), old.pointer("/spec/selector"), "spec.selector", e);
    }
}

fn validate_stateful_set(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    match st(spec, "podManagementPolicy") {
        "" => e.push(required("spec.podManagementPolicy", "")),
        "OrderedReady" | "Parallel" => {}
        other => e.push(invalid("spec.podManagementPolicy", json!(other), "must be 'OrderedReady' or 'Parallel'")),
    }
    let us = spec.get("updateStrategy").unwrap_or(&Value::Null);
    match st(us, "type") {
        "" => e.push(required("spec.updateStrategy", "")),
        "OnDelete" => {
            if let Some(ru) = get(us, "rollingUpdate") {
                e.push(invalid("spec.updateStrategy.rollingUpdate", ru.clone(), "only allowed for updateStrategy 'RollingUpdate'"));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = get(us, "rollingUpdate") {
                non_negative(int0(ru, "partition"), "spec.updateStrategy.rollingUpdate.partition", e);
                if let Some(mu) = get(ru, "maxUnavailable") {
                    validate_int_or_percent(Some(mu), "spec.updateStrategy.rollingUpdate.maxUnavailable", e);
                    if int_or_percent_value(Some(mu)) == 0 {
                        e.push(invalid("spec.updateStrategy.rollingUpdate.maxUnavailable", mu.clone(), "must be greater than 0"));
                    }
                    is_not_more_than_100_percent(Some(mu), "spec.updateStrategy.rollingUpdate.maxUnavailable", e);
                }
            }
        }
        _ => e.push(invalid("spec.updateStrategy", us.clone(), "must be 'RollingUpdate' or 'OnDelete'")),
    }
    if let Some(policy) = get(spec, "persistentVolumeClaimRetentionPolicy") {
        for k in ["whenDeleted", "whenScaled"] {
            let v = st(policy, k);
            if !["Retain", "Delete"].contains(&v) {
                e.push(not_supported(format!("spec.persistentVolumeClaimRetentionPolicy.{k}"), json!(v), &["Retain", "Delete"]));
            }
        }
    }
    non_negative(int0(spec, "replicas"), "spec.replicas", e);
    non_negative(int0(spec, "minReadySeconds"), "spec.minReadySeconds", e);
    if let Some(ord) = get(spec, "ordinals") {
        non_negative(int0(ord, "start"), "spec.ordinals.start", e);
    }
    let selector_ok = validate_workload_selector(spec, "statefulset", e);
    let t = get(spec, "template");
    if selector_ok {
        check_template_matches_selector(spec, t, e);
    }
    // Kubernetes 1.32 checks only the template's labels and annotations here, not its pod spec.
    let tv = t.unwrap_or(&Value::Null);
    validate_labels(tv.pointer("/metadata/labels"), "spec.template.labels", e);
    validate_annotations(tv.pointer("/metadata/annotations"), "spec.template.annotations", e);
    let rp = tv.pointer("/spec/restartPolicy").and_then(Value::as_str).unwrap_or_default();
    if rp != "Always" {
        e.push(not_supported("spec.template.spec.restartPolicy", json!(rp), &["Always"]));
    }
    if tv.pointer("/spec/activeDeadlineSeconds").is_some_and(|v| !v.is_null()) {
        e.push(forbidden("spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in StatefulSet is not Supported"));
    }
    if let Some(old) = old {
        let strip = |s: Option<&Value>| {
            let mut s = s.cloned().unwrap_or(json!({}));
            if let Some(m) = s.as_object_mut() {
                for k in ["replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit", "persistentVolumeClaimRetentionPolicy", "minReadySeconds"] {
                    m.remove(k);
                }
            }
            s
        };
        if !sem_eq(Some(&strip(obj.get("spec"))), Some(&strip(old.get("spec")))) {
            e.push(forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
}

fn validate_daemon_set(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let sel = get(spec, "selector");
    validate_label_selector(sel, "spec.selector", e);
    let t = get(spec, "template");
    if sel.is_none_or(|s| LabelSelector::from_object(s).is_ok()) && selector_matches(sel, template_labels(t)) != Some(true) {
        e.push(invalid("spec.template.metadata.labels", labels_json(t), SELECTOR_MISMATCH));
    }
    if let Some(s) = sel {
        if selector_size(s) == 0 {
            e.push(invalid("spec.selector", s.clone(), "empty selector is invalid for daemonset"));
        }
    }
    let tv = t.unwrap_or(&Value::Null);
    validate_pod_template_spec(tv, "spec.template", e);
    let rp = tv.pointer("/spec/restartPolicy").and_then(Value::as_str).unwrap_or_default();
    if rp != "Always" {
        e.push(not_supported("spec.template.spec.restartPolicy", json!(rp), &["Always"]));
    }
    if let Some(ads) = tv.pointer("/spec/activeDeadlineSeconds").filter(|v| !v.is_null()) {
        e.push(invalid("spec.template.spec.activeDeadlineSeconds", ads.clone(), "activeDeadlineSeconds in DaemonSet is not Supported"));
    }
    non_negative(int0(spec, "minReadySeconds"), "spec.minReadySeconds", e);
    non_negative(int0(spec, "templateGeneration"), "spec.templateGeneration", e);
    let us = spec.get("updateStrategy").unwrap_or(&Value::Null);
    match st(us, "type") {
        "OnDelete" => {}
        "RollingUpdate" => match get(us, "rollingUpdate") {
            None => e.push(required("spec.updateStrategy.rollingUpdate", "")),
            Some(ru) => {
                let (mu, ms) = (get(ru, "maxUnavailable"), get(ru, "maxSurge"));
                let base = "spec.updateStrategy.rollingUpdate";
                validate_int_or_percent(mu, &child(base, "maxUnavailable"), e);
                validate_int_or_percent(ms, &child(base, "maxSurge"), e);
                is_not_more_than_100_percent(mu, &child(base, "maxUnavailable"), e);
                is_not_more_than_100_percent(ms, &child(base, "maxSurge"), e);
                match (int_or_percent_value(mu) != 0, int_or_percent_value(ms) != 0) {
                    (true, true) => e.push(invalid(child(base, "maxSurge"), ms.cloned().unwrap_or(Value::Null), "may not be set when maxUnavailable is non-zero")),
                    (false, false) => e.push(required(child(base, "maxUnavailable"), "cannot be 0 when maxSurge is 0")),
                    _ => {}
                }
            }
        },
        _ => e.push(not_supported("spec.updateStrategy", us.clone(), &["RollingUpdate", "OnDelete"])),
    }
    if let Some(r) = int(spec, "revisionHistoryLimit") {
        non_negative(r, "spec.revisionHistoryLimit", e);
    }
    if let Some(old) = old {
        immutable(spec.get("selector"), old.pointer("/spec/selector"), "spec.selector", e);
    }
}

fn validate_controller_revision(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    if get(obj, "data").is_none() {
        e.push(required("data", "data is mandatory"));
    }
    non_negative(int0(obj, "revision"), "revision", e);
    if let Some(old) = old {
        immutable(obj.get("data"), old.get("data"), "data", e);
    }
}

// ---------------------------------------------------------------------------------------------
// Jobs and CronJobs
// ---------------------------------------------------------------------------------------------

const JOB_LEGACY_UID: &str = "controller-uid";
const JOB_UID: &str = "batch.kubernetes.io/controller-uid";
const JOB_LEGACY_NAME: &str = "job-name";
const JOB_NAME: &str = "batch.kubernetes.io/job-name";

/// `validateJobSpec` at `p` (`spec` for Jobs, `spec.jobTemplate.spec` for CronJobs).
fn validate_job_spec(spec: &Value, p: &str, e: &mut Errs) {
    for k in ["parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"] {
        if let Some(v) = int(spec, k) {
            non_negative(v, child(p, k), e);
        }
    }
    let mode = opt_str(spec, "completionMode");
    let indexed = mode == Some("Indexed");
    if let Some(b) = int(spec, "backoffLimitPerIndex") {
        non_negative(b, child(p, "backoffLimitPerIndex"), e);
        if !indexed {
            e.push(invalid(child(p, "backoffLimitPerIndex"), json!(b), "requires indexed completion mode"));
        }
    }
    if let Some(m) = int(spec, "maxFailedIndexes") {
        if get(spec, "backoffLimitPerIndex").is_none() {
            e.push(required(child(p, "backoffLimitPerIndex"), "when maxFailedIndexes is specified"));
        }
        non_negative(m, child(p, "maxFailedIndexes"), e);
        if let Some(c) = int(spec, "completions") {
            if m > c {
                e.push(invalid(child(p, "maxFailedIndexes"), json!(m), "must be less than or equal to completions"));
            }
        }
    }
    if let Some(mode) = mode {
        if mode != "NonIndexed" && mode != "Indexed" {
            e.push(not_supported(child(p, "completionMode"), json!(mode), &["NonIndexed", "Indexed"]));
        }
        if indexed {
            match int(spec, "completions") {
                None => e.push(required(child(p, "completions"), "when completion mode is Indexed")),
                Some(c) if c > 100_000 => e.push(invalid(child(p, "completions"), json!(c), "must be less than or equal to 100000 when completion mode is Indexed")),
                _ => {}
            }
            if let Some(par) = int(spec, "parallelism") {
                if par > 100_000 {
                    e.push(invalid(child(p, "parallelism"), json!(par), "must be less than or equal to 100000 when completion mode is Indexed"));
                }
            }
        }
    }
    let pfp = get(spec, "podFailurePolicy");
    if let Some(pfp) = pfp {
        let pp = child(p, "podFailurePolicy");
        let rules = list(pfp, "rules");
        if rules.len() > 20 {
            e.push(too_many(child(&pp, "rules"), rules.len(), 20));
        }
        for (i, r) in rules.iter().enumerate() {
            let rp = index(&child(&pp, "rules"), i);
            let action = st(r, "action");
            if !["Count", "FailIndex", "FailJob", "Ignore"].contains(&action) {
                e.push(not_supported(child(&rp, "action"), json!(action), &["Count", "FailIndex", "FailJob", "Ignore"]));
            } else if action == "FailIndex" && get(spec, "backoffLimitPerIndex").is_none() {
                e.push(forbidden(child(&rp, "action"), "requires the backoffLimitPerIndex to be set"));
            }
            match (get(r, "onExitCodes"), get(r, "onPodConditions")) {
                (Some(_), Some(_)) => e.push(invalid(&rp, json!("specifying both OnExitCodes and OnPodConditions is not supported"), "specifying both OnExitCodes and OnPodConditions is not supported")),
                (None, None) => e.push(invalid(&rp, json!("specifying one of OnExitCodes and OnPodConditions is required"), "specifying one of OnExitCodes and OnPodConditions is required")),
                (Some(oe), None) => {
                    let op = st(oe, "operator");
                    if !["In", "NotIn"].contains(&op) {
                        e.push(not_supported(child(&child(&rp, "onExitCodes"), "operator"), json!(op), &["In", "NotIn"]));
                    }
                    if list(oe, "values").is_empty() {
                        e.push(invalid(child(&child(&rp, "onExitCodes"), "values"), json!([]), "at least one value is required"));
                    }
                }
                (None, Some(_)) => {}
            }
        }
    }
    if get(spec, "successPolicy").is_some() && !indexed {
        e.push(invalid(child(p, "successPolicy"), spec.get("successPolicy").cloned().unwrap_or(Value::Null), "requires indexed completion mode"));
    }
    if let Some(prp) = opt_str(spec, "podReplacementPolicy") {
        if pfp.is_some() {
            if prp != "Failed" {
                e.push(not_supported(child(p, "podReplacementPolicy"), json!(prp), &["Failed"]));
            }
        } else if !["Failed", "TerminatingOrFailed"].contains(&prp) {
            e.push(not_supported(child(p, "podReplacementPolicy"), json!(prp), &["Failed", "TerminatingOrFailed"]));
        }
    }
    if let Some(mb) = opt_str(spec, "managedBy") {
        if mb.len() > 63 {
            e.push(too_long(child(p, "managedBy"), 63));
        }
        let (prefix, path) = mb.split_once('/').unwrap_or(("", mb));
        if prefix.is_empty() || !meta::dns1123_subdomain(prefix).is_empty() || path.is_empty() {
            e.push(invalid(child(p, "managedBy"), json!(mb), "must be a domain-prefixed path (such as \"acme.io/foo\")"));
        }
    }
    let tp = child(p, "template");
    let t = spec.get("template").unwrap_or(&Value::Null);
    validate_pod_template_spec(t, &tp, e);
    let rp = t.pointer("/spec/restartPolicy").and_then(Value::as_str).unwrap_or_default();
    if pfp.is_some() && rp != "Never" {
        e.push(invalid(child(&child(&tp, "spec"), "restartPolicy"), json!(rp), "only \"Never\" is supported when podFailurePolicy is specified"));
    } else if rp != "OnFailure" && rp != "Never" {
        e.push(not_supported(child(&child(&tp, "spec"), "restartPolicy"), json!(rp), &["OnFailure", "Never"]));
    }
}

fn validate_has_label(t: &Value, key: &str, expected: &str, e: &mut Errs) {
    let labels = t.pointer("/metadata/labels");
    let path = format!("spec.template.metadata.labels[{key}]");
    match labels.and_then(|l| l.get(key)).and_then(Value::as_str) {
        None => e.push(required(path, &format!("must be '{expected}'"))),
        Some(v) if v != expected => e.push(invalid(path, labels.cloned().unwrap_or(Value::Null), format!("must be '{expected}'"))),
        _ => {}
    }
}

fn validate_job(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let name = meta::name(obj);
    let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
    let t = spec.get("template").unwrap_or(&Value::Null);
    let manual = spec.get("manualSelector").and_then(Value::as_bool) == Some(true);
    // Generated selectors: checked once the server has assigned the uid.
    if !manual && template_labels(Some(t)).is_some() && get(spec, "selector").is_some() && !uid.is_empty() {
        for (k, v) in [(JOB_LEGACY_UID, uid), (JOB_LEGACY_NAME, name), (JOB_UID, uid), (JOB_NAME, name)] {
            validate_has_label(t, k, v, e);
        }
        let expected = json!({ JOB_UID: uid });
        if selector_matches(get(spec, "selector"), Some(&expected)) != Some(true) {
            e.push(invalid("spec.selector", spec.get("selector").cloned().unwrap_or(Value::Null), "`selector` not auto-generated"));
        }
    }
    validate_job_spec(spec, "spec", e);
    match get(spec, "selector") {
        None => {
            // Without a uid the server has not generated the selector yet; do not report it.
            if manual || !uid.is_empty() {
                e.push(required("spec.selector", ""));
            }
        }
        Some(sel) => {
            validate_label_selector(Some(sel), "spec.selector", e);
            if LabelSelector::from_object(sel).is_ok() && selector_matches(Some(sel), template_labels(Some(t))) != Some(true) {
                e.push(invalid("spec.template.metadata.labels", labels_json(Some(t)), SELECTOR_MISMATCH));
            }
        }
    }
    if opt_str(spec, "completionMode") == Some("Indexed") {
        if let Some(c) = int(spec, "completions").filter(|c| *c > 0) {
            let host = format!("{name}-{}", c - 1);
            if !meta::dns1123_label(&host).is_empty() {
                e.push(invalid("metadata.name", json!(name), format!("will not able to create pod with invalid DNS label: {host}")));
            }
        }
    }
    let Some(old) = old else { return };
    let os = old.get("spec").unwrap_or(&Value::Null);
    let indexed = opt_str(spec, "completionMode") == Some("Indexed");
    if !sem_eq(spec.get("completions"), os.get("completions")) {
        if !indexed {
            immutable(spec.get("completions"), os.get("completions"), "spec.completions", e);
        } else if let Some(c) = int(spec, "completions") {
            if Some(c) != int(spec, "parallelism") {
                e.push(invalid("spec.completions", json!(c), "can only be modified in tandem with spec.parallelism"));
            }
        }
    }
    immutable(spec.get("selector"), os.get("selector"), "spec.selector", e);
    // The template is immutable, except scheduling directives of a suspended job that never started.
    let mutable_scheduling = boolean(os, "suspend") && old.pointer("/status/startTime").is_none_or(Value::is_null);
    let mut new_t = t.clone();
    let mut old_t = os.get("template").cloned().unwrap_or(Value::Null);
    if mutable_scheduling {
        for tv in [&mut new_t, &mut old_t] {
            if let Some(m) = tv.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("labels");
                m.remove("annotations");
            }
            if let Some(s) = tv.get_mut("spec").and_then(Value::as_object_mut) {
                for k in ["nodeSelector", "tolerations", "schedulingGates"] {
                    s.remove(k);
                }
                if let Some(a) = s.get_mut("affinity").and_then(Value::as_object_mut) {
                    a.remove("nodeAffinity");
                }
            }
        }
    }
    if !sem_eq(Some(&new_t), Some(&old_t)) {
        e.push(invalid("spec.template", t.clone(), IMMUTABLE_MSG));
    }
    for k in ["completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy", "podReplacementPolicy"] {
        immutable(spec.get(k), os.get(k), &child("spec", k), e);
    }
}

fn validate_time_zone(tz: Option<&Value>, e: &mut Errs) {
    let Some(tz) = tz.filter(|v| !v.is_null()) else { return };
    let s = tz.as_str().unwrap_or_default();
    let p = "spec.timeZone";
    if s.is_empty() {
        e.push(invalid(p, json!(s), "timeZone must be nil or non-empty string"));
        return;
    }
    for part in s.split('/') {
        let ok = part != "."
            && part != ".."
            && !part.starts_with('-')
            && (1..=14).contains(&part.len())
            && part.chars().all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c));
        if !ok {
            e.push(invalid(p, json!(s), format!("unknown time zone {s}")));
            return;
        }
    }
    if s.eq_ignore_ascii_case("local") {
        e.push(invalid(p, json!(s), "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"));
    }
}

fn validate_cron_job(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let os = old.and_then(|o| o.get("spec"));
    let schedule = st(spec, "schedule");
    if schedule.is_empty() {
        e.push(required("spec.schedule", ""));
    } else {
        if let Err(msg) = parse_cron(schedule) {
            e.push(invalid("spec.schedule", json!(schedule), msg));
        }
        let allow_tz = os.is_some_and(|o| st(o, "schedule").contains("TZ"));
        if allow_tz && schedule.contains("TZ") && get(spec, "timeZone").is_some() {
            e.push(invalid("spec.schedule", json!(schedule), "cannot use both timeZone field and TZ or CRON_TZ in schedule"));
        } else if !allow_tz && schedule.contains("TZ") {
            e.push(invalid("spec.schedule", json!(schedule), "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
        }
    }
    if let Some(s) = int(spec, "startingDeadlineSeconds") {
        non_negative(s, "spec.startingDeadlineSeconds", e);
    }
    if os.is_none_or(|o| !sem_eq(o.get("timeZone"), spec.get("timeZone"))) {
        validate_time_zone(spec.get("timeZone"), e);
    }
    match st(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => e.push(required("spec.concurrencyPolicy", "")),
        other => e.push(not_supported("spec.concurrencyPolicy", json!(other), &["Allow", "Forbid", "Replace"])),
    }
    let jt = spec.pointer("/jobTemplate/spec").unwrap_or(&Value::Null);
    validate_job_spec(jt, "spec.jobTemplate.spec", e);
    if let Some(sel) = get(jt, "selector") {
        e.push(invalid("spec.jobTemplate.spec.selector", sel.clone(), "`selector` will be auto-generated"));
    }
    if jt.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        e.push(not_supported("spec.jobTemplate.spec.manualSelector", json!(true), &["nil", "false"]));
    }
    for k in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        if let Some(v) = int(spec, k) {
            non_negative(v, child("spec", k), e);
        }
    }
    let name = meta::name(obj);
    if old.is_none() && name.len() > 52 {
        e.push(invalid("metadata.name", json!(name), "must be no more than 52 characters"));
    }
}

// ---------------------------------------------------------------------------------------------
// Services and endpoints
// ---------------------------------------------------------------------------------------------

fn cluster_ips(spec: &Value) -> Vec<&str> {
    let ips: Vec<&str> = list(spec, "clusterIPs").iter().filter_map(Value::as_str).collect();
    if ips.is_empty() && !st(spec, "clusterIP").is_empty() {
        return vec![st(spec, "clusterIP")];
    }
    ips
}

fn is_headless(spec: &Value) -> bool {
    cluster_ips(spec) == ["None"]
}

fn externally_accessible(spec: &Value) -> bool {
    let t = st(spec, "type");
    t == "LoadBalancer" || t == "NodePort" || (t == "ClusterIP" && !list(spec, "externalIPs").is_empty())
}

fn validate_service_port(sp: &Value, require_name: bool, names: &mut HashSet<String>, p: &str, e: &mut Errs) {
    let name = st(sp, "name");
    if require_name && name.is_empty() {
        e.push(required(child(p, "name"), ""));
    } else if !name.is_empty() {
        dns_label(name, &child(p, "name"), e);
        if !names.insert(name.to_string()) {
            e.push(duplicate(child(p, "name"), json!(name)));
        }
    }
    let port = int0(sp, "port");
    if !valid_port(port) {
        e.push(invalid(child(p, "port"), json!(port), PORT_RANGE_MSG));
    }
    validate_protocol(sp, p, e);
    validate_port_num_or_name(get(sp, "targetPort"), &child(p, "targetPort"), e);
    if let Some(ap) = opt_str(sp, "appProtocol") {
        qualified_name(ap, &child(p, "appProtocol"), e);
    }
}

fn validate_cluster_ips_related(spec: &Value, e: &mut Errs) {
    if st(spec, "type") == "ExternalName" {
        return;
    }
    let ips = cluster_ips(spec);
    let explicit: Vec<&str> = list(spec, "clusterIPs").iter().filter_map(Value::as_str).collect();
    let cip = st(spec, "clusterIP");
    if !cip.is_empty() {
        if explicit.is_empty() {
            // Kubernetes' strategy syncs clusterIPs from clusterIP before validating.
        } else if explicit[0] != cip {
            e.push(invalid("spec.clusterIPs", json!(explicit), "first value must match `clusterIP`"));
        }
    } else if !explicit.is_empty() {
        e.push(invalid("spec.clusterIPs", json!(explicit), "must be empty when `clusterIP` is not specified"));
    }
    let mut seen = HashSet::new();
    for (i, fam) in list(spec, "ipFamilies").iter().enumerate() {
        let f = fam.as_str().unwrap_or_default();
        if !["IPv4", "IPv6"].contains(&f) {
            e.push(not_supported(index("spec.ipFamilies", i), json!(f), &["IPv4", "IPv6"]));
        }
        if !seen.insert(f) {
            e.push(duplicate(index("spec.ipFamilies", i), json!(f)));
        }
    }
    if let Some(pol) = opt_str(spec, "ipFamilyPolicy") {
        let supported = ["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !supported.contains(&pol) {
            e.push(not_supported("spec.ipFamilyPolicy", json!(pol), &supported));
        }
    }
    let mut bad = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && *ip == "None" {
            if ips.len() > 1 {
                bad = true;
                e.push(invalid("spec.clusterIPs", json!(ips), "'None' must be the first and only value"));
            }
            continue;
        }
        bad |= !validate_ip(ip, &index("spec.clusterIPs", i), e);
    }
    if ips.len() > 2 {
        e.push(invalid("spec.clusterIPs", json!(ips), "may only hold up to 2 values"));
    }
    if bad {
        return;
    }
    if ips.len() > 1 {
        let v6: Vec<bool> = ips.iter().map(|ip| parse_ip(ip).is_some_and(|a| a.is_ipv6())).collect();
        if v6.iter().all(|x| *x) || v6.iter().all(|x| !*x) {
            e.push(invalid("spec.clusterIPs", json!(ips), "may specify no more than one IP for each IP family"));
        }
    }
    if !is_headless(spec) {
        for (i, (ip, fam)) in ips.iter().zip(list(spec, "ipFamilies")).enumerate() {
            let is_v6 = parse_ip(ip).is_some_and(|a| a.is_ipv6());
            match fam.as_str() {
                Some("IPv4") if is_v6 => e.push(invalid(index("spec.clusterIPs", i), json!(ip), format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"))),
                Some("IPv6") if !is_v6 => e.push(invalid(index("spec.clusterIPs", i), json!(ip), format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"))),
                _ => {}
            }
        }
    }
}

fn validate_service(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let typ = st(spec, "type");
    let headless = is_headless(spec);
    let ann = obj.pointer("/metadata/annotations");
    let hints = ann.and_then(|a| a.get("service.kubernetes.io/topology-aware-hints")).and_then(Value::as_str);
    let mode = ann.and_then(|a| a.get("service.kubernetes.io/topology-mode")).and_then(Value::as_str);
    if let (Some(h), Some(m)) = (hints, mode) {
        if h != m {
            e.push(invalid(
                "metadata.annotations[service.kubernetes.io/topology-mode]",
                json!(m),
                "must match annotations[service.kubernetes.io/topology-aware-hints] when both are specified",
            ));
        }
    }
    let ports = list(spec, "ports");
    if ports.is_empty() && !headless && typ != "ExternalName" {
        e.push(required("spec.ports", ""));
    }
    match typ {
        "LoadBalancer" if headless => e.push(invalid("spec.clusterIPs[0]", json!("None"), "may not be set to 'None' for LoadBalancer services")),
        "NodePort" if headless => e.push(invalid("spec.clusterIPs[0]", json!("None"), "may not be set to 'None' for NodePort services")),
        "ExternalName" => {
            if !cluster_ips(spec).is_empty() {
                e.push(forbidden("spec.clusterIPs", "may not be set for ExternalName services"));
            }
            if !list(spec, "ipFamilies").is_empty() {
                e.push(forbidden("spec.ipFamilies", "may not be set for ExternalName services"));
            }
            if get(spec, "ipFamilyPolicy").is_some() {
                e.push(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"));
            }
            let cname = st(spec, "externalName");
            let cname = cname.strip_suffix('.').unwrap_or(cname);
            if cname.is_empty() {
                e.push(required("spec.externalName", ""));
            } else {
                dns_subdomain(cname, "spec.externalName", e);
            }
        }
        _ => {}
    }
    let mut names = HashSet::new();
    for (i, sp) in ports.iter().enumerate() {
        validate_service_port(sp, ports.len() > 1, &mut names, &index("spec.ports", i), e);
    }
    validate_labels(get(spec, "selector"), "spec.selector", e);
    match st(spec, "sessionAffinity") {
        "" => e.push(required("spec.sessionAffinity", "")),
        "ClientIP" => match spec.pointer("/sessionAffinityConfig/clientIP/timeoutSeconds").and_then(as_int) {
            _ if get(spec, "sessionAffinityConfig").is_none() => e.push(required("spec.sessionAffinityConfig", "when session affinity type is ClientIP")),
            _ if spec.pointer("/sessionAffinityConfig/clientIP").is_none_or(Value::is_null) => {
                e.push(required("spec.sessionAffinityConfig.clientIP", "when session affinity type is ClientIP"))
            }
            None => e.push(required("spec.sessionAffinityConfig.clientIP.timeoutSeconds", "when session affinity type is ClientIP")),
            Some(t) if t <= 0 || t > 86400 => e.push(invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", json!(t), "must be greater than 0 and less than 86400")),
            Some(_) => {}
        },
        "None" => {
            if get(spec, "sessionAffinityConfig").is_some() {
                e.push(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"));
            }
        }
        other => e.push(not_supported("spec.sessionAffinity", json!(other), &["ClientIP", "None"])),
    }
    validate_cluster_ips_related(spec, e);
    for (i, ip) in list(spec, "externalIPs").iter().enumerate() {
        let ip = ip.as_str().unwrap_or_default();
        let p = index("spec.externalIPs", i);
        if validate_ip(ip, &p, e) {
            validate_non_special_ip(ip, &p, e);
        }
    }
    match typ {
        "" => e.push(required("spec.type", "")),
        "ClusterIP" | "ExternalName" | "LoadBalancer" | "NodePort" => {}
        other => e.push(not_supported("spec.type", json!(other), &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"])),
    }
    if typ == "ClusterIP" {
        for (i, sp) in ports.iter().enumerate() {
            if int0(sp, "nodePort") != 0 {
                e.push(forbidden(child(&index("spec.ports", i), "nodePort"), "may not be used when `type` is 'ClusterIP'"));
            }
        }
    }
    let mut node_ports = HashSet::new();
    let mut port_keys = HashSet::new();
    for (i, sp) in ports.iter().enumerate() {
        let np = int0(sp, "nodePort");
        if np != 0 && !node_ports.insert((st(sp, "protocol"), np)) {
            e.push(duplicate(child(&index("spec.ports", i), "nodePort"), json!(np)));
        }
        if !port_keys.insert((st(sp, "protocol"), int0(sp, "port"))) {
            e.push(duplicate(index("spec.ports", i), json!({"port": int0(sp, "port"), "protocol": st(sp, "protocol")})));
        }
    }
    let ranges = list(spec, "loadBalancerSourceRanges");
    if !ranges.is_empty() {
        if typ != "LoadBalancer" {
            e.push(forbidden("spec.LoadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'"));
        }
        for (i, r) in ranges.iter().enumerate() {
            validate_cidr(r.as_str().unwrap_or_default().trim(), &index("spec.LoadBalancerSourceRanges", i), e);
        }
    } else if let Some(v) = ann.and_then(|a| a.get("service.beta.kubernetes.io/load-balancer-source-ranges")).and_then(Value::as_str) {
        let p = "metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]";
        if typ != "LoadBalancer" {
            e.push(forbidden(p, "may only be used when `type` is 'LoadBalancer'"));
        }
        let v = v.trim();
        if !v.is_empty() {
            for c in v.split(',') {
                validate_cidr(c.trim(), p, e);
            }
        }
    }
    if get(spec, "allocateLoadBalancerNodePorts").is_some() && typ != "LoadBalancer" {
        e.push(forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"));
    }
    if typ == "LoadBalancer" && get(spec, "allocateLoadBalancerNodePorts").is_none() {
        e.push(required("allocateLoadBalancerNodePorts", ""));
    }
    // loadBalancerClass.
    if let Some(old) = old {
        let os = old.get("spec").unwrap_or(&Value::Null);
        if st(os, "type") == "LoadBalancer" && typ == "LoadBalancer" && !sem_eq(os.get("loadBalancerClass"), spec.get("loadBalancerClass")) {
            e.push(invalid("spec.loadBalancerClass", spec.get("loadBalancerClass").cloned().unwrap_or(Value::Null), "may not change once set"));
        }
    }
    if let Some(lbc) = opt_str(spec, "loadBalancerClass") {
        if typ == "LoadBalancer" {
            qualified_name(lbc, "spec.loadBalancerClass", e);
        } else {
            e.push(forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"));
        }
    }
    // Traffic policies.
    let etp = st(spec, "externalTrafficPolicy");
    if !externally_accessible(spec) {
        if !etp.is_empty() {
            e.push(invalid("spec.externalTrafficPolicy", json!(etp), "may only be set for externally-accessible services"));
        }
    } else if etp.is_empty() {
        e.push(required("spec.externalTrafficPolicy", ""));
    } else if !["Cluster", "Local"].contains(&etp) {
        e.push(not_supported("spec.externalTrafficPolicy", json!(etp), &["Cluster", "Local"]));
    }
    let hc = int0(spec, "healthCheckNodePort");
    let needs_hc = typ == "LoadBalancer" && etp == "Local";
    if !needs_hc && hc != 0 {
        e.push(invalid("spec.healthCheckNodePort", json!(hc), "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
    } else if needs_hc && hc != 0 && !valid_port(hc) {
        e.push(invalid("spec.healthCheckNodePort", json!(hc), PORT_RANGE_MSG));
    }
    match opt_str(spec, "internalTrafficPolicy") {
        None if ["NodePort", "LoadBalancer", "ClusterIP"].contains(&typ) => e.push(required("spec.internalTrafficPolicy", "")),
        Some(itp) if !["Cluster", "Local"].contains(&itp) => e.push(not_supported("spec.internalTrafficPolicy", json!(itp), &["Cluster", "Local"])),
        _ => {}
    }
    if let Some(td) = opt_str(spec, "trafficDistribution") {
        if td != "PreferClose" {
            e.push(not_supported("spec.trafficDistribution", json!(td), &["PreferClose"]));
        }
    }
    if let Some(old) = old {
        validate_service_update(spec, old.get("spec").unwrap_or(&Value::Null), e);
    }
}

fn validate_service_update(new: &Value, old: &Value, e: &mut Errs) {
    if st(new, "type") != "ExternalName" && st(old, "type") != "ExternalName" && !(is_headless(new) && is_headless(old)) {
        let (o, n) = (cluster_ips(old), cluster_ips(new));
        // An update that leaves the addresses out keeps the allocated ones.
        if !n.is_empty() {
            let changed = || e_changed(&o, &n);
            if o.len() == n.len() {
                if changed() {
                    e.push(invalid("spec.clusterIPs[0]", json!(n), "may not change once set"));
                }
            } else if o.len() > n.len() {
                if o[0] != n[0] {
                    e.push(invalid("spec.clusterIPs[0]", json!(n), "may not change once set"));
                }
                if n.len() == 1 && opt_str(new, "ipFamilyPolicy") != Some("SingleStack") {
                    e.push(invalid("spec.clusterIPs[0]", json!(n), "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary clusterIP"));
                }
            } else if !o.is_empty() && o[0] != n[0] {
                e.push(invalid("spec.clusterIPs[0]", json!(n), "may not change once set"));
            }
        }
        let (of, nf) = (list(old, "ipFamilies"), list(new, "ipFamilies"));
        if !of.is_empty() && !nf.is_empty() && of[0] != nf[0] {
            e.push(invalid("spec.ipFamilies[0]", nf[0].clone(), "may not change once set"));
        }
    }
    let needs = |s: &Value| st(s, "type") == "LoadBalancer" && st(s, "externalTrafficPolicy") == "Local";
    if needs(old) && needs(new) && int0(new, "healthCheckNodePort") != 0 && int0(new, "healthCheckNodePort") != int0(old, "healthCheckNodePort") {
        e.push(forbidden("spec.healthCheckNodePort", IMMUTABLE_MSG));
    }
}

fn e_changed(o: &[&str], n: &[&str]) -> bool {
    o.iter().zip(n).any(|(a, b)| a != b)
}

fn validate_endpoints(obj: &Value, e: &mut Errs) {
    for (i, ss) in list(obj, "subsets").iter().enumerate() {
        let sp = index("subsets", i);
        let (addrs, not_ready) = (list(ss, "addresses"), list(ss, "notReadyAddresses"));
        if addrs.is_empty() && not_ready.is_empty() {
            e.push(required(&sp, "must specify `addresses` or `notReadyAddresses`"));
        }
        for (k, set) in [("addresses", addrs), ("notReadyAddresses", not_ready)] {
            for (j, a) in set.iter().enumerate() {
                let ap = index(&child(&sp, k), j);
                let ip = st(a, "ip");
                validate_ip(ip, &child(&ap, "ip"), e);
                let host = st(a, "hostname");
                if !host.is_empty() {
                    dns_label(host, &child(&ap, "hostname"), e);
                }
                if let Some(n) = opt_str(a, "nodeName") {
                    dns_subdomain(n, &child(&ap, "nodeName"), e);
                }
                validate_non_special_ip(ip, &child(&ap, "ip"), e);
            }
        }
        let ports = list(ss, "ports");
        for (j, port) in ports.iter().enumerate() {
            let pp = index(&child(&sp, "ports"), j);
            let name = st(port, "name");
            if ports.len() > 1 && name.is_empty() {
                e.push(required(child(&pp, "name"), ""));
            } else if !name.is_empty() {
                dns_label(name, &child(&pp, "name"), e);
            }
            let n = int0(port, "port");
            if !valid_port(n) {
                e.push(invalid(child(&pp, "port"), json!(n), PORT_RANGE_MSG));
            }
            validate_protocol(port, &pp, e);
            if let Some(ap) = opt_str(port, "appProtocol") {
                qualified_name(ap, &child(&pp, "appProtocol"), e);
            }
        }
    }
}

fn validate_endpoint_slice(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let at = st(obj, "addressType");
    let supported = ["FQDN", "IPv4", "IPv6"];
    if at.is_empty() {
        e.push(required("addressType", ""));
    } else if !supported.contains(&at) {
        e.push(not_supported("addressType", json!(at), &supported));
    }
    let eps = list(obj, "endpoints");
    if eps.len() > 1000 {
        e.push(too_many("endpoints", eps.len(), 1000));
    } else {
        for (i, ep) in eps.iter().enumerate() {
            let ip = index("endpoints", i);
            let ap = child(&ip, "addresses");
            let addrs = list(ep, "addresses");
            if addrs.is_empty() {
                e.push(required(&ap, "must contain at least 1 address"));
            } else if addrs.len() > 100 {
                e.push(too_many(&ap, addrs.len(), 100));
            }
            for (j, a) in addrs.iter().enumerate() {
                let a = a.as_str().unwrap_or_default();
                let p = index(&ap, j);
                match at {
                    "IPv4" => match parse_ip(a) {
                        Some(IpAddr::V4(_)) => validate_non_special_ip(a, &p, e),
                        _ => e.push(invalid(&p, json!(a), "must be a valid IPv4 address")),
                    },
                    "IPv6" => match a.parse::<IpAddr>() {
                        Ok(IpAddr::V6(_)) => validate_non_special_ip(a, &p, e),
                        _ => e.push(invalid(&p, json!(a), "must be a valid IPv6 address")),
                    },
                    "FQDN" => {
                        let name = a.strip_suffix('.').unwrap_or(a);
                        if name.is_empty() {
                            e.push(required(&p, ""));
                        } else {
                            dns_subdomain(name, &p, e);
                            if name.split('.').count() < 2 {
                                e.push(invalid(&p, json!(a), "should be a domain with at least two segments separated by dots"));
                            }
                        }
                    }
                    _ => {}
                }
            }
            if let Some(n) = opt_str(ep, "nodeName") {
                dns_subdomain(n, &child(&ip, "nodeName"), e);
            }
            if let Some(h) = opt_str(ep, "hostname") {
                dns_label(h, &child(&ip, "hostname"), e);
            }
        }
    }
    let ports = list(obj, "ports");
    if ports.len() > 20000 {
        e.push(too_many("ports", ports.len(), 20000));
    } else {
        let mut names = HashSet::new();
        for (i, port) in ports.iter().enumerate() {
            let pp = index("ports", i);
            let name = st(port, "name");
            if !name.is_empty() {
                dns_label(name, &child(&pp, "name"), e);
            }
            if !names.insert(name) {
                e.push(duplicate(child(&pp, "name"), json!(name)));
            }
            match opt_str(port, "protocol") {
                None => e.push(required(child(&pp, "protocol"), "")),
                Some(pr) if !["SCTP", "TCP", "UDP"].contains(&pr) => e.push(not_supported(child(&pp, "protocol"), json!(pr), &["SCTP", "TCP", "UDP"])),
                _ => {}
            }
            if let Some(ap) = opt_str(port, "appProtocol") {
                qualified_name(ap, &child(&pp, "appProtocol"), e);
            }
        }
    }
    if let Some(old) = old {
        immutable(obj.get("addressType"), old.get("addressType"), "addressType", e);
    }
}

// ---------------------------------------------------------------------------------------------
// ConfigMaps, Secrets, Namespaces, Nodes, Events
// ---------------------------------------------------------------------------------------------

/// Decodes standard base64 (with padding), as Go's `encoding/json` does for `[]byte`.
pub(crate) fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    fn val(c: u8) -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return Err(format!("illegal base64 data at input byte {}", b.len() - b.len() % 4));
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (ci, chunk) in b.chunks(4).enumerate() {
        let last = ci == b.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return Err(format!("illegal base64 data at input byte {}", ci * 4 + 4 - pad));
        }
        let mut n: u32 = 0;
        for (i, c) in chunk.iter().enumerate() {
            let v = if i >= 4 - pad { 0 } else { val(*c).ok_or_else(|| format!("illegal base64 data at input byte {}", ci * 4 + i))? };
            n = (n << 6) | u32::from(v);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Ok(out)
}

fn immutable_data_rules(obj: &Value, old: &Value, keys: &[&str], e: &mut Errs) {
    if old.get("immutable").and_then(Value::as_bool) == Some(true) {
        if obj.get("immutable").and_then(Value::as_bool) != Some(true) {
            e.push(forbidden("immutable", "field is immutable when `immutable` is set"));
        }
        for k in keys {
            if !sem_eq(obj.get(*k), old.get(*k)) {
                e.push(forbidden(*k, "field is immutable when `immutable` is set"));
            }
        }
    }
}

fn validate_config_map(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    if let Some(old) = old {
        immutable_data_rules(obj, old, &["data", "binaryData"], e);
    }
    let mut total = 0usize;
    let binary = map(obj, "binaryData");
    for (k, v) in map(obj, "data").into_iter().flatten() {
        let p = keyed("data", k);
        for m in config_map_key_errors(k) {
            e.push(invalid(&p, json!(k), m));
        }
        if binary.is_some_and(|b| b.contains_key(k)) {
            e.push(invalid(&p, json!(k), "duplicate of key present in binaryData"));
        }
        match v.as_str() {
            Some(s) => total += s.len(),
            None => e.push(invalid(&p, v.clone(), "must be a string")),
        }
    }
    for (k, v) in binary.into_iter().flatten() {
        let p = keyed("binaryData", k);
        for m in config_map_key_errors(k) {
            e.push(invalid(&p, json!(k), m));
        }
        match v.as_str().map(base64_decode) {
            Some(Ok(bytes)) => total += bytes.len(),
            Some(Err(msg)) => e.push(invalid(&p, json!("<binary data redacted>"), msg)),
            None => e.push(invalid(&p, v.clone(), "must be a base64 string")),
        }
    }
    if total > MAX_SECRET_SIZE {
        e.push(too_long("", MAX_SECRET_SIZE));
    }
}

fn validate_secret(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    if let Some(old) = old {
        immutable(obj.get("type"), old.get("type"), "type", e);
        immutable_data_rules(obj, old, &["data"], e);
    }
    let mut total = 0usize;
    let mut decoded: HashMap<&str, Vec<u8>> = HashMap::new();
    for (k, v) in map(obj, "data").into_iter().flatten() {
        let p = keyed("data", k);
        for m in config_map_key_errors(k) {
            e.push(invalid(&p, json!(k), m));
        }
        match v.as_str().map(base64_decode) {
            Some(Ok(bytes)) => {
                total += bytes.len();
                decoded.insert(k, bytes);
            }
            Some(Err(msg)) => e.push(invalid(&p, json!("<secret contents redacted>"), msg)),
            None if v.is_null() => {
                decoded.insert(k, Vec::new());
            }
            None => e.push(invalid(&p, json!("<secret contents redacted>"), "must be a base64 string")),
        }
    }
    if total > MAX_SECRET_SIZE {
        e.push(too_long("data", MAX_SECRET_SIZE));
    }
    let json_key = |key: &str, e: &mut Errs| match decoded.get(key) {
        None => e.push(required(keyed("data", key), "")),
        Some(bytes) => {
            if let Err(err) = serde_json::from_slice::<Map<String, Value>>(bytes) {
                e.push(invalid(keyed("data", key), json!("<secret contents redacted>"), err.to_string()));
            }
        }
    };
    match st(obj, "type") {
        "kubernetes.io/service-account-token" => {
            let sa = obj.pointer("/metadata/annotations/kubernetes.io~1service-account.name").and_then(Value::as_str).unwrap_or_default();
            if sa.is_empty() {
                e.push(required("metadata.annotations[kubernetes.io/service-account.name]", ""));
            }
        }
        "kubernetes.io/dockercfg" => json_key(".dockercfg", e),
        "kubernetes.io/dockerconfigjson" => json_key(".dockerconfigjson", e),
        "kubernetes.io/basic-auth" if !decoded.contains_key("username") && !decoded.contains_key("password") => {
            e.push(required("data[username]", ""));
            e.push(required("data[password]", ""));
        }
        "kubernetes.io/ssh-auth" if decoded.get("ssh-privatekey").is_none_or(Vec::is_empty) => e.push(required("data[ssh-privatekey]", "")),
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !decoded.contains_key(k) {
                    e.push(required(keyed("data", k), ""));
                }
            }
        }
        _ => {}
    }
}

fn validate_finalizer_name(name: &str, p: &str, e: &mut Errs) {
    qualified_name(name, p, e);
    if !name.contains('/') && !["kubernetes", "orphan", "foregroundDeletion"].contains(&name) {
        e.push(invalid(p, json!(name), "name is neither a standard finalizer name nor is it fully qualified"));
    }
}

fn validate_namespace(obj: &Value, e: &mut Errs) {
    for f in list(obj.get("spec").unwrap_or(&Value::Null), "finalizers") {
        validate_finalizer_name(f.as_str().unwrap_or_default(), "spec.finalizers", e);
    }
}

fn validate_taints(taints: &[Value], p: &str, e: &mut Errs) {
    let mut seen = HashSet::new();
    for (i, t) in taints.iter().enumerate() {
        let ip = index(p, i);
        qualified_name(st(t, "key"), &child(&ip, "key"), e);
        let value = st(t, "value");
        let errs = meta::label_value(value);
        if !errs.is_empty() {
            e.push(invalid(child(&ip, "value"), json!(value), errs.join(";")));
        }
        let effect = st(t, "effect");
        if effect.is_empty() {
            e.push(required(child(&ip, "effect"), ""));
        } else if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect) {
            e.push(not_supported(child(&ip, "effect"), json!(effect), &["NoSchedule", "PreferNoSchedule", "NoExecute"]));
        }
        if !seen.insert((effect, st(t, "key"))) {
            e.push(FieldError { kind: FieldErrorType::Duplicate, field: ip, value: Some(t.clone()), detail: "taints must be unique by key and effect pair".into() });
        }
    }
}

fn validate_node(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    // Kubernetes reports node taints under `metadata.taints`.
    validate_taints(list(spec, "taints"), "metadata.taints", e);
    for k in ["capacity", "allocatable"] {
        for (name, v) in map(obj.get("status").unwrap_or(&Value::Null), k).into_iter().flatten() {
            let p = format!("status.{k}.{name}");
            if let Some(q) = quantity_at(v, &p, e) {
                validate_resource_quantity_value(name, &q, &p, e);
            }
        }
    }
    let cidrs = list(spec, "podCIDRs");
    for (i, c) in cidrs.iter().enumerate() {
        validate_cidr(c.as_str().unwrap_or_default(), &index("spec.podCIDRs", i), e);
    }
    if cidrs.len() > 1 {
        let v6: Vec<bool> = cidrs.iter().map(|c| c.as_str().unwrap_or_default().contains(':')).collect();
        if cidrs.len() > 2 || v6.iter().all(|x| *x) || v6.iter().all(|x| !*x) {
            e.push(invalid("spec.podCIDRs", json!(cidrs), "may specify no more than one CIDR for each IP family"));
        }
        let mut seen = HashSet::new();
        for (i, c) in cidrs.iter().enumerate() {
            if !seen.insert(c.as_str().unwrap_or_default()) {
                e.push(duplicate(index("spec.podCIDRs", i), c.clone()));
            }
        }
    }
    let Some(old) = old else { return };
    let os = old.get("spec").unwrap_or(&Value::Null);
    let old_cidrs = list(os, "podCIDRs");
    if !old_cidrs.is_empty() && (old_cidrs.len() != cidrs.len() || old_cidrs.iter().zip(cidrs).any(|(a, b)| a != b)) {
        e.push(forbidden("spec.podCIDRs", "node updates may not change podCIDR except from \"\" to valid"));
    }
    let old_pid = st(os, "providerID");
    if !old_pid.is_empty() && old_pid != st(spec, "providerID") {
        e.push(forbidden("spec.providerID", "node updates may not change providerID except from \"\" to valid"));
    }
    if st(os, "externalID") != st(spec, "externalID") {
        e.push(forbidden("spec.externalID", "may not be updated"));
    }
    let mut seen = HashSet::new();
    for (i, a) in list(obj.get("status").unwrap_or(&Value::Null), "addresses").iter().enumerate() {
        if !seen.insert((st(a, "type"), st(a, "address"))) {
            e.push(duplicate(index("status.addresses", i), a.clone()));
        }
    }
}

fn time_is_zero(v: &Value, k: &str) -> bool {
    get(v, k).is_none_or(|t| t.as_str().is_some_and(str::is_empty))
}

/// Checks shared by both Event APIs; `controller_field` is how the request's API names the
/// reporting controller, `involved` and `message` the members holding those values.
fn legacy_event_checks(obj: &Value, controller_field: &str, involved: &str, message: &str, e: &mut Errs) {
    let ns = meta::namespace(obj);
    let io_ns = obj.get(involved).map(|io| st(io, "namespace")).unwrap_or_default();
    if time_is_zero(obj, "eventTime") {
        let mismatch = if io_ns.is_empty() { !ns.is_empty() && ns != "default" } else { ns != io_ns };
        if mismatch {
            e.push(invalid("involvedObject.namespace", json!(io_ns), "does not match event.namespace"));
        }
    } else {
        if io_ns.is_empty() && ns != "default" && ns != "kube-system" {
            e.push(invalid("involvedObject.namespace", json!(io_ns), "does not match event.namespace"));
        }
        let rc = st(obj, controller_field);
        if rc.is_empty() {
            e.push(required(controller_field, ""));
        }
        qualified_name(rc, controller_field, e);
        for (k, max) in [("reportingInstance", 128), ("action", 128), ("reason", 128)] {
            let v = st(obj, k);
            if v.is_empty() {
                e.push(required(k, ""));
            }
            if v.len() > max {
                e.push(invalid(k, json!(""), format!("can have at most {max} characters")));
            }
        }
        if st(obj, message).len() > 1024 {
            e.push(invalid("message", json!(""), "can have at most 1024 characters"));
        }
    }
    dns_subdomain(ns, "namespace", e);
}

fn validate_event_legacy(obj: &Value, e: &mut Errs) {
    legacy_event_checks(obj, "reportingComponent", "involvedObject", "message", e);
}

fn validate_event_strict(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    legacy_event_checks(obj, "reportingController", "regarding", "note", e);
    if let Some(series) = get(obj, "series") {
        if int0(series, "count") < 2 {
            e.push(invalid("series.count", json!(""), "should be at least 2"));
        }
        if time_is_zero(series, "lastObservedTime") {
            e.push(required("series.lastObservedTime", ""));
        }
    }
    if time_is_zero(obj, "eventTime") {
        e.push(required("eventTime", ""));
    }
    let t = st(obj, "type");
    if t != "Normal" && t != "Warning" {
        e.push(invalid("type", json!(""), format!("has invalid value: {t}")));
    }
    for (k, internal) in [("deprecatedFirstTimestamp", "firstTimestamp"), ("deprecatedLastTimestamp", "lastTimestamp")] {
        if !time_is_zero(obj, k) {
            e.push(invalid(internal, json!(""), "needs to be unset"));
        }
    }
    if int0(obj, "deprecatedCount") != 0 {
        e.push(invalid("count", json!(""), "needs to be unset"));
    }
    if get(obj, "deprecatedSource").is_some_and(|s| !st(s, "component").is_empty() || !st(s, "host").is_empty()) {
        e.push(invalid("source", json!(""), "needs to be unset"));
    }
    if let Some(old) = old {
        for (k, internal) in [
            ("regarding", "involvedObject"),
            ("reason", "reason"),
            ("note", "message"),
            ("type", "type"),
            ("eventTime", "eventTime"),
            ("action", "action"),
            ("related", "related"),
            ("reportingController", "reportingController"),
            ("reportingInstance", "reportingInstance"),
        ] {
            immutable(obj.get(k), old.get(k), internal, e);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Storage: PersistentVolume, PersistentVolumeClaim, StorageClass; LimitRange, ResourceQuota
// ---------------------------------------------------------------------------------------------

const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];

fn validate_access_modes(spec: &Value, p: &str, e: &mut Errs) {
    let (mut rwop, mut others) = (false, false);
    for m in list(spec, "accessModes") {
        let m = m.as_str().unwrap_or_default();
        if !ACCESS_MODES.contains(&m) {
            e.push(not_supported(child(p, "accessModes"), json!(m), ACCESS_MODES));
        } else if m == "ReadWriteOncePod" {
            rwop = true;
        } else {
            others = true;
        }
    }
    if rwop && others {
        e.push(forbidden(child(p, "accessModes"), "may not use ReadWriteOncePod with other access modes"));
    }
}

fn validate_data_source(ds: &Value, p: &str, e: &mut Errs) {
    if st(ds, "name").is_empty() {
        e.push(required(child(p, "name"), ""));
    }
    let kind = st(ds, "kind");
    if kind.is_empty() {
        e.push(required(child(p, "kind"), ""));
    }
    let group = st(ds, "apiGroup");
    if group.is_empty() && kind != "PersistentVolumeClaim" {
        e.push(invalid(p, json!(kind), "must be 'PersistentVolumeClaim' when referencing the default apiGroup"));
    }
    if !group.is_empty() {
        dns_subdomain(group, &child(p, "apiGroup"), e);
    }
}

/// `ValidatePersistentVolumeClaimSpec`.
fn validate_pvc_spec(spec: &Value, p: &str, e: &mut Errs) {
    if list(spec, "accessModes").is_empty() {
        e.push(required(child(p, "accessModes"), "at least 1 access mode is required"));
    }
    validate_label_selector(get(spec, "selector"), &child(p, "selector"), e);
    validate_access_modes(spec, p, e);
    let sp = keyed(&child(p, "resources"), "storage");
    match spec.pointer("/resources/requests/storage") {
        None => e.push(required(&sp, "")),
        Some(v) => {
            if let Some(q) = quantity_at(v, &sp, e) {
                if q.is_negative() || q.is_zero() {
                    e.push(invalid(&sp, json!(q.canonical()), "must be greater than zero"));
                } else {
                    validate_resource_quantity_value("storage", &q, &sp, e);
                }
            }
        }
    }
    if let Some(sc) = opt_str(spec, "storageClassName").filter(|s| !s.is_empty()) {
        dns_subdomain(sc, &child(p, "storageClassName"), e);
    }
    if let Some(vm) = opt_str(spec, "volumeMode") {
        if !["Block", "Filesystem"].contains(&vm) {
            e.push(not_supported(child(p, "volumeMode"), json!(vm), &["Block", "Filesystem"]));
        }
    }
    if let Some(ds) = get(spec, "dataSource") {
        validate_data_source(ds, &child(p, "dataSource"), e);
    }
    if let Some(dsr) = get(spec, "dataSourceRef") {
        validate_data_source(dsr, &child(p, "dataSourceRef"), e);
        let ns = st(dsr, "namespace");
        if !ns.is_empty() {
            dns_label(ns, &child(&child(p, "dataSourceRef"), "namespace"), e);
            if get(spec, "dataSource").is_some() {
                e.push(invalid(p, json!(child(p, "dataSource")), "may not be specified when dataSourceRef.namespace is specified"));
            }
        } else if let Some(ds) = get(spec, "dataSource") {
            if st(ds, "apiGroup") != st(dsr, "apiGroup") || st(ds, "kind") != st(dsr, "kind") || st(ds, "name") != st(dsr, "name") {
                e.push(invalid(p, json!(child(p, "dataSource")), "must match dataSourceRef"));
            }
        }
    }
}

fn validate_persistent_volume_claim(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    validate_pvc_spec(spec, "spec", e);
    let Some(old) = old else { return };
    let os = old.get("spec").unwrap_or(&Value::Null);
    let mut new_c = spec.clone();
    let mut old_c = os.clone();
    if st(os, "volumeName").is_empty() {
        if let Some(m) = old_c.as_object_mut() {
            match spec.get("volumeName") {
                Some(v) => m.insert("volumeName".into(), v.clone()),
                None => m.remove("volumeName"),
            };
        }
    }
    // A claim without a class may get one once (the beta annotation upgrade path is not modelled).
    if get(os, "storageClassName").is_none() {
        if let Some(m) = old_c.as_object_mut() {
            if let Some(v) = spec.get("storageClassName") {
                m.insert("storageClassName".into(), v.clone());
            }
        }
    }
    let phase = obj.pointer("/status/phase").or_else(|| old.pointer("/status/phase")).and_then(Value::as_str).unwrap_or_default();
    if phase == "Bound" {
        if let Some(req) = new_c.pointer_mut("/resources/requests").and_then(Value::as_object_mut) {
            match os.pointer("/resources/requests/storage") {
                Some(v) => req.insert("storage".into(), v.clone()),
                None => req.remove("storage"),
            };
        }
        if let Some(m) = new_c.as_object_mut() {
            match os.get("volumeAttributesClassName") {
                Some(v) => m.insert("volumeAttributesClassName".into(), v.clone()),
                None => m.remove("volumeAttributesClassName"),
            };
        }
    }
    if !sem_eq(Some(&new_c), Some(&old_c)) {
        e.push(forbidden(
            "spec",
            format!("spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{}", spec_diff(&old_c, &new_c).replace("core.PodSpec", "core.PersistentVolumeClaimSpec")),
        ));
    }
    let size = |s: &Value| s.pointer("/resources/requests/storage").and_then(|v| Quantity::from_value(v).ok());
    if let (Some(n), Some(o)) = (size(spec), size(os)) {
        if n.cmp_value(&o) == Ordering::Less {
            e.push(forbidden("spec.resources.requests.storage", "field can not be less than previous value"));
        }
    }
    immutable(spec.get("volumeMode"), os.get("volumeMode"), "volumeMode", e);
}

const PV_SOURCES: &[(&str, &str)] = &[
    ("hostPath", "hostPath"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("nfs", "nfs"),
    ("rbd", "rbd"),
    ("quobyte", "quobyte"),
    ("cephfs", "cephFS"),
    ("iscsi", "iscsi"),
    ("cinder", "cinder"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("scaleIO", "scaleIO"),
    ("local", "local"),
    ("storageos", "storageos"),
    ("csi", "csi"),
];

fn validate_persistent_volume(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    if list(spec, "accessModes").is_empty() {
        e.push(required("spec.accessModes", ""));
    }
    validate_access_modes(spec, "spec", e);
    let cap = map(spec, "capacity");
    if cap.is_none_or(Map::is_empty) {
        e.push(required("spec.capacity", ""));
    }
    if cap.is_none_or(|c| !c.contains_key("storage") || c.len() > 1) {
        e.push(not_supported("spec.capacity", spec.get("capacity").cloned().unwrap_or(Value::Null), &["storage"]));
    }
    for (k, v) in cap.into_iter().flatten() {
        let p = keyed("spec.capacity", k);
        if let Some(q) = quantity_at(v, &p, e) {
            if q.is_negative() {
                e.push(invalid(&p, json!(q.canonical()), "must be a valid resource quantity"));
            }
            if q.is_negative() || q.is_zero() {
                e.push(invalid(&p, json!(q.canonical()), "must be greater than zero"));
            }
        }
    }
    let policy = st(spec, "persistentVolumeReclaimPolicy");
    if !policy.is_empty() && !["Delete", "Recycle", "Retain"].contains(&policy) {
        e.push(not_supported("spec.persistentVolumeReclaimPolicy", json!(policy), &["Delete", "Recycle", "Retain"]));
    }
    let node_affinity = get(spec, "nodeAffinity");
    if let Some(na) = node_affinity {
        if let Some(req) = get(na, "required") {
            let terms = list(req, "nodeSelectorTerms");
            if terms.is_empty() {
                e.push(required("spec.nodeAffinity.required.nodeSelectorTerms", "must have at least one node selector term"));
            }
            for (i, t) in terms.iter().enumerate() {
                validate_node_selector_term(t, &index("spec.nodeAffinity.required.nodeSelectorTerms", i), e);
            }
        }
    }
    let mut n = 0;
    for (key, err_child) in PV_SOURCES {
        let Some(src) = get(spec, key) else { continue };
        let sp = child("spec", key);
        if n > 0 {
            e.push(forbidden(child("spec", err_child), "may not specify more than 1 volume type"));
            continue;
        }
        n += 1;
        match *key {
            "hostPath" | "local" => {
                let path = st(src, "path");
                if path.is_empty() {
                    e.push(required(child(&sp, "path"), ""));
                } else {
                    validate_path_no_backsteps(path, &child(&sp, "path"), e);
                }
                if *key == "local" && node_affinity.is_none() {
                    e.push(required("spec.nodeAffinity", "Local volume requires node affinity"));
                }
            }
            "nfs" => {
                if st(src, "server").is_empty() {
                    e.push(required(child(&sp, "server"), ""));
                }
                let path = st(src, "path");
                if path.is_empty() {
                    e.push(required(child(&sp, "path"), ""));
                } else if !path.starts_with('/') {
                    e.push(invalid(child(&sp, "path"), json!(path), "must be an absolute path"));
                }
            }
            "csi" => {
                validate_csi_driver_name(st(src, "driver"), &child(&sp, "driver"), e);
                if st(src, "volumeHandle").is_empty() {
                    e.push(required(child(&sp, "volumeHandle"), ""));
                }
            }
            _ => {}
        }
    }
    if n == 0 {
        e.push(required("spec", "must specify a volume type"));
    }
    if policy == "Recycle" && spec.pointer("/hostPath/path").and_then(Value::as_str).is_some_and(|p| p.trim_end_matches('/').is_empty()) {
        e.push(forbidden("spec.persistentVolumeReclaimPolicy", "may not be 'recycle' for a hostPath mount of '/'"));
    }
    let sc = st(spec, "storageClassName");
    if !sc.is_empty() {
        dns_subdomain(sc, "spec.storageClassName", e);
    }
    if let Some(vm) = opt_str(spec, "volumeMode") {
        if !["Block", "Filesystem"].contains(&vm) {
            e.push(not_supported("spec.volumeMode", json!(vm), &["Block", "Filesystem"]));
        }
    }
    let Some(old) = old else { return };
    let os = old.get("spec").unwrap_or(&Value::Null);
    let source = |s: &Value| -> Value {
        let mut m = Map::new();
        for (k, _) in PV_SOURCES {
            if let Some(v) = get(s, k) {
                m.insert((*k).to_string(), v.clone());
            }
        }
        Value::Object(m)
    };
    let (mut ns, osrc) = (source(spec), source(os));
    // A CSI controllerExpandSecretRef may be added.
    if os.pointer("/csi/controllerExpandSecretRef").is_none_or(Value::is_null) {
        if let Some(csi) = ns.get_mut("csi").and_then(Value::as_object_mut) {
            csi.remove("controllerExpandSecretRef");
        }
    }
    if !sem_eq(Some(&ns), Some(&osrc)) {
        e.push(forbidden(
            "spec.persistentvolumesource",
            format!("spec.persistentvolumesource is immutable after creation\n{}", spec_diff(&osrc, &ns).replace("core.PodSpec", "core.PersistentVolumeSource")),
        ));
    }
    immutable(spec.get("volumeMode"), os.get("volumeMode"), "volumeMode", e);
    if get(os, "nodeAffinity").is_some() && !sem_eq(spec.get("nodeAffinity"), os.get("nodeAffinity")) {
        e.push(invalid("nodeAffinity", spec.get("nodeAffinity").cloned().unwrap_or(Value::Null), "field is immutable, except for updating from beta label to GA"));
    }
}

fn validate_storage_class(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let prov = st(obj, "provisioner");
    if prov.is_empty() {
        e.push(required("provisioner", ""));
    } else {
        for m in meta::qualified_name(&prov.to_ascii_lowercase()) {
            e.push(invalid("provisioner", json!(prov), m));
        }
    }
    if let Some(params) = map(obj, "parameters") {
        if params.len() > 512 {
            e.push(too_long("parameters", 512));
        } else {
            let mut total = 0usize;
            for (k, v) in params {
                if k.is_empty() {
                    e.push(invalid("parameters", json!(k), "field can not be empty."));
                }
                total += k.len() + v.as_str().map(str::len).unwrap_or(0);
            }
            if total > 256 * 1024 {
                e.push(too_long("parameters", 256 * 1024));
            }
        }
    }
    let rp = st(obj, "reclaimPolicy");
    if !rp.is_empty() && !["Delete", "Retain"].contains(&rp) {
        e.push(not_supported("reclaimPolicy", json!(rp), &["Delete", "Retain"]));
    }
    match opt_str(obj, "volumeBindingMode") {
        None => e.push(required("volumeBindingMode", "")),
        Some(m) if !["Immediate", "WaitForFirstConsumer"].contains(&m) => e.push(not_supported("volumeBindingMode", json!(m), &["Immediate", "WaitForFirstConsumer"])),
        _ => {}
    }
    for (i, t) in list(obj, "allowedTopologies").iter().enumerate() {
        let tp = index("allowedTopologies", i);
        let exprs = list(t, "matchLabelExpressions");
        if exprs.is_empty() {
            e.push(required(child(&tp, "matchLabelExpressions"), "must have at least one label expression"));
        }
        for (j, x) in exprs.iter().enumerate() {
            let xp = index(&child(&tp, "matchLabelExpressions"), j);
            qualified_name(st(x, "key"), &child(&xp, "key"), e);
            if list(x, "values").is_empty() {
                e.push(required(child(&xp, "values"), "must specify as least one value"));
            }
        }
    }
    let Some(old) = old else { return };
    if !sem_eq(obj.get("parameters"), old.get("parameters")) {
        e.push(forbidden("parameters", "updates to parameters are forbidden."));
    }
    if prov != st(old, "provisioner") {
        e.push(forbidden("provisioner", "updates to provisioner are forbidden."));
    }
    if rp != st(old, "reclaimPolicy") {
        e.push(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."));
    }
    immutable(obj.get("volumeBindingMode"), old.get("volumeBindingMode"), "volumeBindingMode", e);
}

fn validate_limit_range(obj: &Value, e: &mut Errs) {
    let mut types = HashSet::new();
    for (i, item) in list(obj.get("spec").unwrap_or(&Value::Null), "limits").iter().enumerate() {
        let ip = index("spec.limits", i);
        let t = st(item, "type");
        let q = meta::qualified_name(t);
        if !q.is_empty() {
            for m in q {
                e.push(invalid(child(&ip, "type"), json!(t), m));
            }
        } else if !t.contains('/') && !["Pod", "Container", "PersistentVolumeClaim"].contains(&t) {
            e.push(invalid(child(&ip, "type"), json!(t), "must be a standard limit type or fully qualified"));
        }
        if !types.insert(t) {
            e.push(duplicate(child(&ip, "type"), json!(t)));
        }
        let mut quantities: HashMap<&str, HashMap<&str, Quantity>> = HashMap::new();
        let mut keys: BTreeSet<&str> = BTreeSet::new();
        for section in ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"] {
            let Some(m) = map(item, section) else { continue };
            if t == "Pod" && (section == "default" || section == "defaultRequest") {
                if !m.is_empty() {
                    e.push(forbidden(child(&ip, section), "may not be specified when `type` is 'Pod'"));
                }
                continue;
            }
            for (k, v) in m {
                let kp = keyed(&child(&ip, section), k);
                if t == "Pod" || t == "Container" {
                    validate_container_resource_name(k, &kp, e);
                } else {
                    validate_resource_name(k, &kp, e);
                }
                keys.insert(k);
                if let Some(q) = quantity_at(v, &kp, e) {
                    quantities.entry(section).or_default().insert(k, q);
                }
            }
        }
        if t == "PersistentVolumeClaim" && !map(item, "min").is_some_and(|m| m.contains_key("storage")) && !map(item, "max").is_some_and(|m| m.contains_key("storage")) {
            e.push(required(child(&ip, "limits"), "either minimum or maximum storage value is required, but neither was provided"));
        }
        let q = |s: &str, k: &str| quantities.get(s).and_then(|m| m.get(k)).copied();
        for k in keys {
            let (min, max, def, def_req, ratio) = (q("min", k), q("max", k), q("default", k), q("defaultRequest", k), q("maxLimitRequestRatio", k));
            let gt = |a: Option<Quantity>, b: Option<Quantity>| matches!((a, b), (Some(a), Some(b)) if a.cmp_value(&b) == Ordering::Greater);
            if gt(min, max) {
                e.push(invalid(keyed(&child(&ip, "min"), k), json!(min.map(|x| x.canonical())), format!("min value {} is greater than max value {}", fmt_q(min), fmt_q(max))));
            }
            if gt(min, def_req) {
                e.push(invalid(keyed(&child(&ip, "defaultRequest"), k), json!(def_req.map(|x| x.canonical())), format!("min value {} is greater than default request value {}", fmt_q(min), fmt_q(def_req))));
            }
            if gt(def_req, max) {
                e.push(invalid(keyed(&child(&ip, "defaultRequest"), k), json!(def_req.map(|x| x.canonical())), format!("default request value {} is greater than max value {}", fmt_q(def_req), fmt_q(max))));
            }
            if gt(def_req, def) {
                e.push(invalid(keyed(&child(&ip, "defaultRequest"), k), json!(def_req.map(|x| x.canonical())), format!("default request value {} is greater than default limit value {}", fmt_q(def_req), fmt_q(def))));
            }
            if gt(min, def) {
                e.push(invalid(keyed(&child(&ip, "default"), k), json!(min.map(|x| x.canonical())), format!("min value {} is greater than default value {}", fmt_q(min), fmt_q(def))));
            }
            if gt(def, max) {
                e.push(invalid(keyed(&child(&ip, "default"), k), json!(max.map(|x| x.canonical())), format!("default value {} is greater than max value {}", fmt_q(def), fmt_q(max))));
            }
            if let Some(r) = ratio {
                if r.cmp_value(&Quantity { mantissa: 1, scale: 0, format: QuantityFormat::DecimalSI }) == Ordering::Less {
                    e.push(invalid(keyed(&child(&ip, "maxLimitRequestRatio"), k), json!(r.canonical()), format!("ratio {} is less than 1", r.canonical())));
                }
            }
            if !is_overcommit_allowed(k) {
                if let (Some(d), Some(dr)) = (def, def_req) {
                    if d.cmp_value(&dr) != Ordering::Equal {
                        e.push(invalid(
                            keyed(&child(&ip, "defaultRequest"), k),
                            json!(dr.canonical()),
                            format!("default value {} must equal to defaultRequest value {} in {k}", d.canonical(), dr.canonical()),
                        ));
                    }
                }
            }
        }
    }
}

fn fmt_q(q: Option<Quantity>) -> String {
    q.map(|q| q.canonical()).unwrap_or_default()
}

const QUOTA_SCOPES: &[&str] = &["Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity", "VolumeAttributesClass"];

fn validate_resource_quota(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    for (section, base) in [(spec.get("hard"), "spec.hard"), (obj.pointer("/status/hard"), "status.hard"), (obj.pointer("/status/used"), "status.used")] {
        for (k, v) in section.and_then(Value::as_object).into_iter().flatten() {
            let p = keyed(base, k);
            if validate_resource_name(k, &p, e) && !k.contains('/') && !STANDARD_RESOURCES.contains(&k.as_str()) && !is_hugepages(k) && !k.starts_with("requests.hugepages-") {
                e.push(invalid(&p, json!(k), "must be a standard resource for quota"));
            }
            if let Some(q) = quantity_at(v, &p, e) {
                validate_resource_quantity_value(k, &q, &p, e);
            }
        }
    }
    let scopes: Vec<&str> = list(spec, "scopes").iter().filter_map(Value::as_str).collect();
    if scopes.iter().any(|s| !QUOTA_SCOPES.contains(s)) {
        e.push(invalid("spec.scopes", json!(scopes), "unsupported scope"));
    }
    for pair in [["BestEffort", "NotBestEffort"], ["Terminating", "NotTerminating"]] {
        if pair.iter().all(|p| scopes.contains(p)) {
            e.push(invalid("spec.scopes", json!(scopes), "conflicting scopes"));
        }
    }
    if let Some(old) = old {
        let o: BTreeSet<&str> = list(old.get("spec").unwrap_or(&Value::Null), "scopes").iter().filter_map(Value::as_str).collect();
        let n: BTreeSet<&str> = scopes.iter().copied().collect();
        if o != n {
            e.push(invalid("spec.scopes", json!(scopes), IMMUTABLE_MSG));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Coordination, policy, autoscaling, RBAC, scheduling, apiextensions
// ---------------------------------------------------------------------------------------------

fn validate_lease(obj: &Value, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    if let Some(d) = int(spec, "leaseDurationSeconds") {
        if d <= 0 {
            e.push(invalid("spec.leaseDurationSeconds", json!(d), "must be greater than 0"));
        }
    }
    if let Some(t) = int(spec, "leaseTransitions") {
        if t < 0 {
            e.push(invalid("spec.leaseTransitions", json!(t), NON_NEGATIVE_MSG));
        }
    }
}

fn validate_pdb(obj: &Value, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let (min, max) = (get(spec, "minAvailable"), get(spec, "maxUnavailable"));
    if min.is_some() && max.is_some() {
        e.push(invalid("spec", spec.clone(), "minAvailable and maxUnavailable cannot be both set"));
    }
    for (v, p) in [(min, "spec.minAvailable"), (max, "spec.maxUnavailable")] {
        if v.is_some() {
            validate_int_or_percent(v, p, e);
            is_not_more_than_100_percent(v, p, e);
        }
    }
    validate_label_selector(get(spec, "selector"), "spec.selector", e);
    if let Some(p) = opt_str(spec, "unhealthyPodEvictionPolicy") {
        if !["AlwaysAllow", "IfHealthyBudget"].contains(&p) {
            e.push(not_supported("spec.unhealthyPodEvictionPolicy", json!(p), &["AlwaysAllow", "IfHealthyBudget"]));
        }
    }
}

fn validate_cross_version_ref(r: &Value, p: &str, e: &mut Errs) {
    for k in ["kind", "name"] {
        let v = st(r, k);
        if v.is_empty() {
            e.push(required(child(p, k), ""));
        } else {
            for m in meta::path_segment_name(v) {
                e.push(invalid(child(p, k), json!(v), m));
            }
        }
    }
}

fn validate_metric_target(t: &Value, p: &str, e: &mut Errs) {
    let typ = st(t, "type");
    if typ.is_empty() {
        e.push(required(child(p, "type"), "must specify a metric target type"));
    }
    if !["Utilization", "Value", "AverageValue"].contains(&typ) {
        e.push(invalid(child(p, "type"), json!(typ), "must be either Utilization, Value, or AverageValue"));
    }
    for k in ["value", "averageValue"] {
        if let Some(v) = get(t, k) {
            match Quantity::from_value(v) {
                Ok(q) if q.is_negative() || q.is_zero() => e.push(invalid(child(p, k), v.clone(), "must be positive")),
                Ok(_) => {}
                Err(err) => e.push(invalid(child(p, k), v.clone(), err.to_string())),
            }
        }
    }
    if let Some(u) = int(t, "averageUtilization") {
        if u < 1 {
            e.push(invalid(child(p, "averageUtilization"), json!(u), "must be greater than 0"));
        }
    }
}

fn validate_metric_identifier(m: &Value, p: &str, e: &mut Errs) {
    let name = st(m, "name");
    if name.is_empty() {
        e.push(required(child(p, "name"), "must specify a metric name"));
    } else {
        for msg in meta::path_segment_name(name) {
            e.push(invalid(child(p, "name"), json!(name), msg));
        }
    }
    validate_label_selector(get(m, "selector"), &child(p, "selector"), e);
}

fn validate_metric(m: &Value, p: &str, e: &mut Errs) {
    let types = ["ContainerResource", "External", "Object", "Pods", "Resource"];
    let typ = st(m, "type");
    if typ.is_empty() {
        e.push(required(child(p, "type"), "must specify a metric source type"));
    } else if !types.contains(&typ) {
        e.push(not_supported(child(p, "type"), json!(typ), &types));
    }
    let fields = [("object", "Object"), ("pods", "Pods"), ("resource", "Resource"), ("external", "External"), ("containerResource", "ContainerResource")];
    let present: Vec<&str> = fields.iter().filter(|(f, _)| get(m, f).is_some()).map(|(f, _)| *f).collect();
    if let Some(first) = present.first() {
        let src = m.get(*first).unwrap_or(&Value::Null);
        let sp = child(p, first);
        let target = src.get("target").unwrap_or(&Value::Null);
        let tp = child(&sp, "target");
        match *first {
            "object" => {
                validate_cross_version_ref(src.get("describedObject").unwrap_or(&Value::Null), &child(&sp, "describedObject"), e);
                validate_metric_identifier(src.get("metric").unwrap_or(&Value::Null), &child(&sp, "metric"), e);
                validate_metric_target(target, &tp, e);
                if get(target, "value").is_none() && get(target, "averageValue").is_none() {
                    e.push(required(child(&tp, "averageValue"), "must set either a target value or averageValue"));
                }
            }
            "pods" | "external" => {
                validate_metric_identifier(src.get("metric").unwrap_or(&Value::Null), &child(&sp, "metric"), e);
                validate_metric_target(target, &tp, e);
                if *first == "pods" && get(target, "averageValue").is_none() {
                    e.push(required(child(&tp, "averageValue"), "must specify a positive target averageValue"));
                }
                if *first == "external" && get(target, "value").is_none() && get(target, "averageValue").is_none() {
                    e.push(required(child(&tp, "averageValue"), "must set either a target value for metric or a per-pod target"));
                }
            }
            _ => {
                if st(src, "name").is_empty() {
                    e.push(required(child(&sp, "name"), "must specify a resource name"));
                }
                if *first == "containerResource" {
                    let c = st(src, "container");
                    if c.is_empty() {
                        e.push(required(child(&sp, "container"), "must specify a container"));
                    } else {
                        dns_label(c, &child(&sp, "container"), e);
                    }
                }
                validate_metric_target(target, &tp, e);
                let (av, au) = (get(target, "averageValue"), get(target, "averageUtilization"));
                if av.is_none() && au.is_none() {
                    e.push(required(child(&tp, "averageUtilization"), "must set either a target raw value or a target utilization"));
                }
                if av.is_some() && au.is_some() {
                    e.push(forbidden(child(&tp, "averageValue"), "may not set both a target raw value and a target utilization"));
                }
            }
        }
    }
    let expected = fields.iter().find(|(_, t)| *t == typ).map(|(f, _)| *f);
    if let Some(exp) = expected {
        if get(m, exp).is_none() {
            e.push(required(child(p, exp), "must populate information for the given metric source"));
        }
    }
    if present.len() != 1 {
        for f in present.iter().filter(|f| Some(**f) != expected) {
            e.push(forbidden(child(p, f), "must populate the given metric source only"));
        }
    }
}

fn validate_scaling_rules(r: Option<&Value>, p: &str, e: &mut Errs) {
    let Some(r) = r else { return };
    if let Some(w) = int(r, "stabilizationWindowSeconds") {
        if w < 0 {
            e.push(invalid(child(p, "stabilizationWindowSeconds"), json!(w), "must be greater than or equal to zero"));
        } else if w > 3600 {
            e.push(invalid(child(p, "stabilizationWindowSeconds"), json!(w), "must be less than or equal to 3600"));
        }
    }
    if let Some(sp) = opt_str(r, "selectPolicy") {
        if !["Disabled", "Max", "Min"].contains(&sp) {
            e.push(not_supported(child(p, "selectPolicy"), json!(sp), &["Disabled", "Max", "Min"]));
        }
    }
    let policies = list(r, "policies");
    if policies.is_empty() {
        e.push(required(child(p, "policies"), "must specify at least one Policy"));
    }
    for (i, pol) in policies.iter().enumerate() {
        let pp = index(&child(p, "policies"), i);
        let t = st(pol, "type");
        if t != "Pods" && t != "Percent" {
            e.push(invalid(child(&pp, "type"), json!(t), "must be either Pods or Percent"));
        }
        let v = int0(pol, "value");
        if v <= 0 {
            e.push(invalid(child(&pp, "value"), json!(v), "must be greater than zero"));
        }
        let ps = int0(pol, "periodSeconds");
        if ps <= 0 {
            e.push(invalid(child(&pp, "periodSeconds"), json!(ps), "must be greater than zero"));
        } else if ps > 1800 {
            e.push(invalid(child(&pp, "periodSeconds"), json!(ps), "must be less than or equal to 1800"));
        }
    }
}

fn validate_hpa(obj: &Value, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let min = int(spec, "minReplicas");
    if let Some(m) = min {
        if m < 1 {
            e.push(invalid("spec.minReplicas", json!(m), "must be greater than or equal to 1"));
        }
    }
    let max = int0(spec, "maxReplicas");
    if max < 1 {
        e.push(invalid("spec.maxReplicas", json!(max), "must be greater than 0"));
    }
    if min.is_some_and(|m| max < m) {
        e.push(invalid("spec.maxReplicas", json!(max), "must be greater than or equal to `minReplicas`"));
    }
    validate_cross_version_ref(spec.get("scaleTargetRef").unwrap_or(&Value::Null), "spec.scaleTargetRef", e);
    for (i, m) in list(spec, "metrics").iter().enumerate() {
        validate_metric(m, &index("spec.metrics", i), e);
    }
    if let Some(b) = get(spec, "behavior") {
        validate_scaling_rules(get(b, "scaleUp"), "spec.behavior.scaleUp", e);
        validate_scaling_rules(get(b, "scaleDown"), "spec.behavior.scaleDown", e);
    }
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn validate_rules(obj: &Value, namespaced: bool, e: &mut Errs) {
    for (i, rule) in list(obj, "rules").iter().enumerate() {
        let rp = index("rules", i);
        if list(rule, "verbs").is_empty() {
            e.push(required(child(&rp, "verbs"), "verbs must contain at least one value"));
        }
        let urls = list(rule, "nonResourceURLs");
        if !urls.is_empty() {
            if namespaced {
                e.push(invalid(child(&rp, "nonResourceURLs"), json!(urls), "namespaced rules cannot apply to non-resource URLs"));
            }
            if !list(rule, "apiGroups").is_empty() || !list(rule, "resources").is_empty() || !list(rule, "resourceNames").is_empty() {
                e.push(invalid(child(&rp, "nonResourceURLs"), json!(urls), "rules cannot apply to both regular resources and non-resource URLs"));
            }
            continue;
        }
        if list(rule, "apiGroups").is_empty() {
            e.push(required(child(&rp, "apiGroups"), "resource rules must supply at least one api group"));
        }
        if list(rule, "resources").is_empty() {
            e.push(required(child(&rp, "resources"), "resource rules must supply at least one resource"));
        }
    }
}

fn validate_cluster_role(obj: &Value, e: &mut Errs) {
    validate_rules(obj, false, e);
    if let Some(ar) = get(obj, "aggregationRule") {
        let sels = list(ar, "clusterRoleSelectors");
        if sels.is_empty() {
            e.push(required("aggregationRule.clusterRoleSelectors", "at least one clusterRoleSelector required if aggregationRule is non-nil"));
        }
        for (i, s) in sels.iter().enumerate() {
            let p = index("aggregationRule.clusterRoleSelectors", i);
            validate_label_selector(Some(s), &p, e);
            if LabelSelector::from_object(s).is_err() {
                e.push(invalid(&p, s.clone(), "invalid label selector."));
            }
        }
    }
}

fn validate_role_binding(obj: &Value, old: Option<&Value>, namespaced: bool, e: &mut Errs) {
    let rr = obj.get("roleRef").unwrap_or(&Value::Null);
    let group = st(rr, "apiGroup");
    if group != RBAC_GROUP {
        e.push(not_supported("roleRef.apiGroup", json!(group), &[RBAC_GROUP]));
    }
    let kind = st(rr, "kind");
    let kinds: &[&str] = if namespaced { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    if !kinds.contains(&kind) {
        e.push(not_supported("roleRef.kind", json!(kind), kinds));
    }
    let name = st(rr, "name");
    if name.is_empty() {
        e.push(required("roleRef.name", ""));
    } else {
        for m in meta::path_segment_name(name) {
            e.push(invalid("roleRef.name", json!(name), m));
        }
    }
    for (i, s) in list(obj, "subjects").iter().enumerate() {
        let sp = index("subjects", i);
        let sname = st(s, "name");
        if sname.is_empty() {
            e.push(required(child(&sp, "name"), ""));
        }
        let sgroup = st(s, "apiGroup");
        match st(s, "kind") {
            "ServiceAccount" => {
                if !sname.is_empty() {
                    dns_subdomain(sname, &child(&sp, "name"), e);
                }
                if !sgroup.is_empty() {
                    e.push(not_supported(child(&sp, "apiGroup"), json!(sgroup), &[""]));
                }
                if !namespaced && st(s, "namespace").is_empty() {
                    e.push(required(child(&sp, "namespace"), ""));
                }
            }
            "User" | "Group" => {
                if sgroup != RBAC_GROUP {
                    e.push(not_supported(child(&sp, "apiGroup"), json!(sgroup), &[RBAC_GROUP]));
                }
            }
            other => e.push(not_supported(child(&sp, "kind"), json!(other), &["ServiceAccount", "User", "Group"])),
        }
    }
    if let Some(old) = old {
        if !sem_eq(obj.get("roleRef"), old.get("roleRef")) {
            e.push(invalid("roleRef", rr.clone(), "cannot change roleRef"));
        }
    }
}

fn validate_priority_class(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let name = meta::name(obj);
    let value = int0(obj, "value");
    let global_default = boolean(obj, "globalDefault");
    if name.starts_with("system-") {
        let known = [("system-node-critical", 2_000_001_000i64), ("system-cluster-critical", 2_000_000_000i64)];
        let err = match known.iter().find(|(n, _)| *n == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some((n, v)) if *v != value => Some(format!("value of {n} PriorityClass must be {v}")),
            Some((n, _)) if global_default => Some(format!("globalDefault of {n} PriorityClass must be false")),
            _ => None,
        };
        if let Some(err) = err {
            e.push(forbidden("metadata.name", format!("priority class names with 'system-' prefix are reserved for system use only. error: {err}")));
        }
    } else if value > 1_000_000_000 {
        e.push(forbidden("value", "maximum allowed value of a user defined priority is 1000000000"));
    }
    if let Some(pp) = opt_str(obj, "preemptionPolicy") {
        validate_preemption_policy(pp, "preemptionPolicy", e);
    }
    if let Some(old) = old {
        if value != int0(old, "value") {
            e.push(forbidden("value", "may not be changed in an update."));
        }
        immutable(obj.get("preemptionPolicy"), old.get("preemptionPolicy"), "preemptionPolicy", e);
    }
}

fn dns1035_joined(s: &str) -> Option<String> {
    let errs = meta::dns1035_label(s);
    (!errs.is_empty()).then(|| errs.join(","))
}

fn validate_crd(obj: &Value, old: Option<&Value>, e: &mut Errs) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let names = spec.get("names").unwrap_or(&Value::Null);
    let group = st(spec, "group");
    let plural = st(names, "plural");
    let name = meta::name(obj);
    if !name.is_empty() && name != format!("{plural}.{group}") {
        e.push(invalid("metadata.name", json!(name), "must be spec.names.plural+\".\"+spec.group"));
    }
    if group.is_empty() {
        e.push(required("spec.group", ""));
    } else {
        let errs = meta::dns1123_subdomain(group);
        if !errs.is_empty() {
            e.push(invalid("spec.group", json!(group), errs.join(",")));
        } else if !group.contains('.') {
            e.push(invalid("spec.group", json!(group), "should be a domain with at least one dot"));
        }
    }
    match st(spec, "scope") {
        "" => e.push(required("spec.scope", "")),
        "Cluster" | "Namespaced" => {}
        other => e.push(not_supported("spec.scope", json!(other), &["Cluster", "Namespaced"])),
    }
    let versions = list(spec, "versions");
    if versions.is_empty() {
        e.push(required("spec.versions", "must have exactly one version marked as storage version"));
    }
    let mut storage = 0;
    let mut seen = HashSet::new();
    let mut unique = true;
    for (i, v) in versions.iter().enumerate() {
        let vp = index("spec.versions", i);
        let vname = st(v, "name");
        if boolean(v, "storage") {
            storage += 1;
        }
        if !seen.insert(vname) {
            unique = false;
        }
        if let Some(msg) = dns1035_joined(vname) {
            e.push(invalid(child(&vp, "name"), json!(vname), msg));
        }
        if v.pointer("/schema/openAPIV3Schema").is_none_or(Value::is_null) {
            e.push(required(child(&child(&vp, "schema"), "openAPIV3Schema"), "schemas are required"));
        }
        for (j, col) in list(v, "additionalPrinterColumns").iter().enumerate() {
            let cp = index(&child(&vp, "additionalPrinterColumns"), j);
            for k in ["name", "type", "jsonPath"] {
                if st(col, k).is_empty() {
                    e.push(required(child(&cp, k), ""));
                }
            }
        }
    }
    if !unique {
        e.push(invalid("spec.versions", json!(versions), "must contain unique version names"));
    }
    if storage != 1 {
        e.push(invalid("spec.versions", json!(versions), "must have exactly one version marked as storage version"));
    }
    // Names.
    for (k, mixed_case) in [("plural", false), ("singular", false), ("kind", true), ("listKind", true)] {
        let v = st(names, k);
        if v.is_empty() {
            e.push(required(format!("spec.names.{k}"), ""));
            continue;
        }
        let check = if mixed_case { v.to_ascii_lowercase() } else { v.to_string() };
        if let Some(msg) = dns1035_joined(&check) {
            let msg = if mixed_case { format!("may have mixed case, but should otherwise match: {msg}") } else { msg };
            e.push(invalid(format!("spec.names.{k}"), json!(v), msg));
        }
    }
    for k in ["shortNames", "categories"] {
        for (i, s) in list(names, k).iter().enumerate() {
            let s = s.as_str().unwrap_or_default();
            if let Some(msg) = dns1035_joined(s) {
                e.push(invalid(index(&format!("spec.names.{k}"), i), json!(s), msg));
            }
        }
    }
    let kind = st(names, "kind");
    if !kind.is_empty() && kind == st(names, "listKind") {
        e.push(invalid("spec.names.listKind", json!(kind), "kind and listKind may not be the same"));
    }
    // Conversion.
    if let Some(conv) = get(spec, "conversion") {
        let strategy = st(conv, "strategy");
        if strategy != "None" && strategy != "Webhook" {
            e.push(not_supported("spec.conversion.strategy", json!(strategy), &["None", "Webhook"]));
        }
        let webhook = get(conv, "webhook");
        if strategy == "Webhook" {
            if webhook.and_then(|w| get(w, "clientConfig")).is_none() {
                e.push(required("spec.conversion.webhookClientConfig", "required when strategy is set to Webhook"));
            }
            let versions = webhook.map(|w| list(w, "conversionReviewVersions")).unwrap_or(&[]);
            if !versions.iter().any(|v| matches!(v.as_str(), Some("v1" | "v1beta1"))) {
                e.push(required("spec.conversion.conversionReviewVersions", "must include at least one of v1, v1beta1"));
            }
        } else if webhook.and_then(|w| get(w, "clientConfig")).is_some() {
            e.push(forbidden("spec.conversion.webhookClientConfig", "should not be set when strategy is not set to Webhook"));
        }
    }
    let Some(old) = old else { return };
    let os = old.get("spec").unwrap_or(&Value::Null);
    let established = list(old.get("status").unwrap_or(&Value::Null), "conditions").iter().any(|c| st(c, "type") == "Established" && st(c, "status") == "True");
    if established {
        immutable(spec.get("scope"), os.get("scope"), "spec.scope", e);
        immutable(names.get("kind"), os.pointer("/names/kind"), "spec.names.kind", e);
    }
    immutable(spec.get("group"), os.get("group"), "spec.group", e);
    immutable(names.get("plural"), os.pointer("/names/plural"), "spec.names.plural", e);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::apply_defaults;

    /// Defaults then validates, as the API server does.
    fn check(group: &str, kind: &str, mut obj: Value, old: Option<Value>) -> Vec<FieldError> {
        apply_defaults(group, kind, &mut obj);
        let old = old.map(|mut o| {
            apply_defaults(group, kind, &mut o);
            o
        });
        validate(group, kind, &obj, old.as_ref())
    }

    fn has(errs: &[FieldError], field: &str, kind: FieldErrorType) -> bool {
        errs.iter().any(|e| e.field == field && e.kind == kind)
    }

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": spec})
    }

    fn web_pod() -> Value {
        pod(json!({"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}))
    }

    fn deployment(selector: Value, labels: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
            "spec": {"selector": selector, "template": {"metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    }

    #[test]
    fn name_rules_follow_the_kind() {
        let cases = [
            ("", "Namespace", NameRule::Label),
            ("", "Service", NameRule::Dns1035),
            ("rbac.authorization.k8s.io", "ClusterRole", NameRule::PathSegment),
            ("rbac.authorization.k8s.io", "RoleBinding", NameRule::PathSegment),
            ("", "Pod", NameRule::Subdomain),
            ("apps", "Deployment", NameRule::Subdomain),
            ("example.com", "Widget", NameRule::Subdomain),
        ];
        for (group, kind, rule) in cases {
            assert_eq!(name_rule(group, kind), rule, "{group}/{kind}");
        }
    }

    #[test]
    fn pod_should_be_invalid_when_its_spec_breaks_a_rule() {
        let cases: Vec<(&str, Value, &str, FieldErrorType)> = vec![
            ("containers are missing", json!({}), "spec.containers", FieldErrorType::Required),
            ("containers are empty", json!({"containers": []}), "spec.containers", FieldErrorType::Required),
            ("the image is missing", json!({"containers": [{"name": "a"}]}), "spec.containers[0].image", FieldErrorType::Required),
            ("the container name is not a label", json!({"containers": [{"name": "Web_1", "image": "x"}]}), "spec.containers[0].name", FieldErrorType::Invalid),
            (
                "container names repeat",
                json!({"containers": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]}),
                "spec.containers[1].name",
                FieldErrorType::Duplicate,
            ),
            (
                "a port is out of range",
                json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 70000}]}]}),
                "spec.containers[0].ports[0].containerPort",
                FieldErrorType::Invalid,
            ),
            (
                "a protocol is unknown",
                json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "protocol": "ICMP"}]}]}),
                "spec.containers[0].ports[0].protocol",
                FieldErrorType::NotSupported,
            ),
            (
                "an env name contains '='",
                json!({"containers": [{"name": "a", "image": "x", "env": [{"name": "A=B", "value": "1"}]}]}),
                "spec.containers[0].env[0].name",
                FieldErrorType::Invalid,
            ),
            (
                "a mount names no volume",
                json!({"containers": [{"name": "a", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]}),
                "spec.containers[0].volumeMounts[0].name",
                FieldErrorType::NotFound,
            ),
            (
                "volume names repeat",
                json!({"containers": [{"name": "a", "image": "x"}], "volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]}),
                "spec.volumes[1].name",
                FieldErrorType::Duplicate,
            ),
            (
                "a volume has two sources",
                json!({"containers": [{"name": "a", "image": "x"}], "volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]}),
                "spec.volumes[0].hostPath",
                FieldErrorType::Forbidden,
            ),
            ("restartPolicy is unknown", json!({"restartPolicy": "Sometimes", "containers": [{"name": "a", "image": "x"}]}), "spec.restartPolicy", FieldErrorType::NotSupported),
            ("dnsPolicy is unknown", json!({"dnsPolicy": "Google", "containers": [{"name": "a", "image": "x"}]}), "spec.dnsPolicy", FieldErrorType::NotSupported),
            (
                "requests exceed limits",
                json!({"containers": [{"name": "a", "image": "x", "resources": {"limits": {"cpu": "500m"}, "requests": {"cpu": "1"}}}]}),
                "spec.containers[0].resources.requests",
                FieldErrorType::Invalid,
            ),
            (
                "a quantity does not parse",
                json!({"containers": [{"name": "a", "image": "x", "resources": {"limits": {"memory": "1x"}}}]}),
                "spec.containers[0].resources.limits[memory]",
                FieldErrorType::Invalid,
            ),
            (
                "a resource name is not standard",
                json!({"containers": [{"name": "a", "image": "x", "resources": {"limits": {"gpu": "1"}}}]}),
                "spec.containers[0].resources.limits[gpu]",
                FieldErrorType::Invalid,
            ),
            (
                "a toleration has no key but uses Equal",
                json!({"containers": [{"name": "a", "image": "x"}], "tolerations": [{"operator": "Equal", "value": "v"}]}),
                "spec.tolerations[0].operator",
                FieldErrorType::Invalid,
            ),
            (
                "a liveness probe has no handler",
                json!({"containers": [{"name": "a", "image": "x", "livenessProbe": {"periodSeconds": 5}}]}),
                "spec.containers[0].livenessProbe",
                FieldErrorType::Required,
            ),
            (
                "host ports collide",
                json!({"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                                      {"name": "b", "image": "y", "ports": [{"containerPort": 81, "hostPort": 8080}]}]}),
                "spec.containers[1].ports[0].hostPort",
                FieldErrorType::Duplicate,
            ),
        ];
        for (what, spec, field, kind) in cases {
            let errs = check("", "Pod", pod(spec), None);
            assert!(has(&errs, field, kind), "when {what}: expected {kind:?} at {field}, got {errs:#?}");
        }
    }

    #[test]
    fn pod_should_be_valid_when_well_formed_and_defaulted() {
        let errs = check("", "Pod", web_pod(), None);
        assert!(errs.is_empty(), "{errs:#?}");
    }

    #[test]
    fn pod_should_report_every_error_with_kubernetes_messages() {
        let errs = check(
            "",
            "Pod",
            pod(json!({"containers": [{"name": "a", "ports": [{"containerPort": 0}],
                "resources": {"limits": {"cpu": "500m"}, "requests": {"cpu": "1"}}}]})),
            None,
        );
        let msgs: Vec<String> = errs.iter().map(FieldError::message).collect();
        assert!(msgs.contains(&"spec.containers[0].image: Required value".to_string()), "{msgs:#?}");
        assert!(msgs.contains(&"spec.containers[0].ports[0].containerPort: Required value".to_string()), "{msgs:#?}");
        assert!(
            msgs.contains(&"spec.containers[0].resources.requests: Invalid value: \"1\": must be less than or equal to cpu limit of 500m".to_string()),
            "{msgs:#?}"
        );
    }

    #[test]
    fn pod_update_should_only_allow_the_mutable_fields() {
        let base = web_pod();
        let with = |f: &dyn Fn(&mut Value)| {
            let mut p = base.clone();
            f(&mut p);
            p
        };
        let ok: Vec<(&str, Value)> = vec![
            ("the image changes", with(&|p| p["spec"]["containers"][0]["image"] = json!("nginx:1.28"))),
            ("a toleration is added", with(&|p| p["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists"}]))),
            ("activeDeadlineSeconds is set", with(&|p| p["spec"]["activeDeadlineSeconds"] = json!(60))),
            ("only labels change", with(&|p| p["metadata"]["labels"] = json!({"a": "b"}))),
        ];
        for (what, new) in ok {
            let errs = check("", "Pod", new, Some(base.clone()));
            assert!(errs.is_empty(), "when {what}: {errs:#?}");
        }
        let bad: Vec<(&str, Value, &str, FieldErrorType)> = vec![
            ("the host network changes", with(&|p| p["spec"]["hostNetwork"] = json!(true)), "spec", FieldErrorType::Forbidden),
            ("a port changes", with(&|p| p["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(81)), "spec", FieldErrorType::Forbidden),
            (
                "a container is added",
                with(&|p| p["spec"]["containers"].as_array_mut().into_iter().for_each(|a| a.push(json!({"name": "b", "image": "x"})))),
                "spec.containers",
                FieldErrorType::Forbidden,
            ),
        ];
        for (what, new, field, kind) in bad {
            let errs = check("", "Pod", new, Some(base.clone()));
            assert!(has(&errs, field, kind), "when {what}: {errs:#?}");
        }
        let bound = with(&|p| p["spec"]["nodeName"] = json!("n1"));
        assert!(check("", "Pod", bound.clone(), Some(base.clone())).is_empty(), "binding sets nodeName once");
        let mut moved = bound.clone();
        moved["spec"]["nodeName"] = json!("n2");
        let errs = check("", "Pod", moved, Some(bound));
        let msg = errs.iter().map(FieldError::message).collect::<Vec<_>>().join("\n");
        assert!(msg.starts_with("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"), "{msg}");
    }

    #[test]
    fn pod_update_should_refuse_changed_tolerations_and_longer_deadlines() {
        let mut old = web_pod();
        old["spec"]["tolerations"] = json!([{"key": "k", "operator": "Equal", "value": "a", "effect": "NoSchedule"}]);
        old["spec"]["activeDeadlineSeconds"] = json!(30);
        let mut retoleration = old.clone();
        retoleration["spec"]["tolerations"][0]["value"] = json!("b");
        let errs = check("", "Pod", retoleration, Some(old.clone()));
        assert!(has(&errs, "spec.tolerations", FieldErrorType::Forbidden), "{errs:#?}");
        // Like Kubernetes, a longer deadline stops the update checks right there.
        let mut longer = old.clone();
        longer["spec"]["activeDeadlineSeconds"] = json!(60);
        let errs = check("", "Pod", longer, Some(old));
        assert_eq!(errs.iter().map(FieldError::message).collect::<Vec<_>>(), vec!["spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous value".to_string()]);
    }

    #[test]
    fn deployment_should_be_invalid_when_selector_does_not_match_template_labels() {
        let errs = check("apps", "Deployment", deployment(json!({"matchLabels": {"app": "a"}}), json!({"app": "b"})), None);
        let msgs: Vec<String> = errs.iter().map(FieldError::message).collect();
        assert_eq!(msgs, vec!["spec.template.metadata.labels: Invalid value: {\"app\":\"b\"}: `selector` does not match template `labels`".to_string()]);
    }

    #[test]
    fn deployment_should_be_invalid_in_these_cases() {
        let good = deployment(json!({"matchLabels": {"app": "a"}}), json!({"app": "a"}));
        let mut missing_selector = good.clone();
        missing_selector["spec"].as_object_mut().map(|s| s.remove("selector"));
        let mut negative = good.clone();
        negative["spec"]["replicas"] = json!(-1);
        let mut zero_zero = good.clone();
        zero_zero["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}});
        let mut bad_percent = good.clone();
        bad_percent["spec"]["strategy"] = json!({"rollingUpdate": {"maxUnavailable": "150%"}});
        let mut always_not = good.clone();
        always_not["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        let mut empty = good.clone();
        empty["spec"]["selector"] = json!({});
        let cases = [
            ("the selector is missing", missing_selector.clone(), "spec.selector", FieldErrorType::Required),
            ("the selector is missing (labels cannot match)", missing_selector, "spec.template.metadata.labels", FieldErrorType::Invalid),
            ("replicas are negative", negative, "spec.replicas", FieldErrorType::Invalid),
            ("maxSurge and maxUnavailable are both 0", zero_zero, "spec.strategy.rollingUpdate.maxUnavailable", FieldErrorType::Invalid),
            ("maxUnavailable is over 100%", bad_percent, "spec.strategy.rollingUpdate.maxUnavailable", FieldErrorType::Invalid),
            ("the template does not restart always", always_not, "spec.template.spec.restartPolicy", FieldErrorType::NotSupported),
            ("the selector is empty", empty, "spec.selector", FieldErrorType::Invalid),
        ];
        for (what, obj, field, kind) in cases {
            let errs = check("apps", "Deployment", obj, None);
            assert!(has(&errs, field, kind), "when {what}: {errs:#?}");
        }
        assert!(check("apps", "Deployment", good, None).is_empty());
    }

    #[test]
    fn deployment_selector_should_be_immutable_on_update() {
        let old = deployment(json!({"matchLabels": {"app": "a"}}), json!({"app": "a", "tier": "x"}));
        let new = deployment(json!({"matchLabels": {"app": "a", "tier": "x"}}), json!({"app": "a", "tier": "x"}));
        let errs = check("apps", "Deployment", new, Some(old.clone()));
        assert!(has(&errs, "spec.selector", FieldErrorType::Invalid), "{errs:#?}");
        let mut scaled = old.clone();
        scaled["spec"]["replicas"] = json!(5);
        assert!(check("apps", "Deployment", scaled, Some(old)).is_empty());
    }

    #[test]
    fn replica_set_and_daemon_set_should_check_selectors_and_strategies() {
        let rs = json!({"metadata": {"name": "r", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"a": "1"}},
            "template": {"metadata": {"labels": {"a": "2"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        assert!(has(&check("apps", "ReplicaSet", rs, None), "spec.template.metadata.labels", FieldErrorType::Invalid));
        let ds = json!({"metadata": {"name": "r", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"a": "1"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}},
            "template": {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let errs = check("apps", "DaemonSet", ds, None);
        assert!(has(&errs, "spec.updateStrategy.rollingUpdate.maxSurge", FieldErrorType::Invalid), "{errs:#?}");
    }

    #[test]
    fn stateful_set_update_should_refuse_changes_outside_the_mutable_fields() {
        let old = json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {"serviceName": "s", "selector": {"matchLabels": {"a": "1"}},
            "template": {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}});
        assert!(check("apps", "StatefulSet", old.clone(), None).is_empty(), "{:#?}", check("apps", "StatefulSet", old.clone(), None));
        let mut grown = old.clone();
        grown["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        let errs = check("apps", "StatefulSet", grown, Some(old.clone()));
        assert!(errs.iter().any(|e| e.field == "spec" && e.detail.starts_with("updates to statefulset spec for fields other than 'replicas'")), "{errs:#?}");
        let mut scaled = old.clone();
        scaled["spec"]["replicas"] = json!(3);
        scaled["spec"]["template"]["spec"]["containers"][0]["image"] = json!("j");
        assert!(check("apps", "StatefulSet", scaled, Some(old)).is_empty());
    }

    fn job(restart: &str) -> Value {
        json!({"metadata": {"name": "pi", "namespace": "d", "uid": "u-1"},
            "spec": {"template": {"spec": {"restartPolicy": restart, "containers": [{"name": "pi", "image": "perl"}]}}}})
    }

    #[test]
    fn job_should_require_on_failure_or_never_restarts() {
        let errs = check("batch", "Job", job("Always"), None);
        let msgs: Vec<String> = errs.iter().map(FieldError::message).collect();
        assert!(msgs.contains(&"spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"".to_string()), "{msgs:#?}");
        for ok in ["Never", "OnFailure"] {
            let errs = check("batch", "Job", job(ok), None);
            assert!(errs.is_empty(), "{ok}: {errs:#?}");
        }
    }

    #[test]
    fn job_update_should_keep_selector_completions_and_template_fixed() {
        let old = job("Never");
        let mut new = old.clone();
        apply_defaults("batch", "Job", &mut new);
        new["spec"]["completions"] = json!(3);
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:5");
        let errs = check("batch", "Job", new, Some(old));
        assert!(has(&errs, "spec.completions", FieldErrorType::Invalid), "{errs:#?}");
        assert!(has(&errs, "spec.template", FieldErrorType::Invalid), "{errs:#?}");
    }

    #[test]
    fn cron_schedules_should_parse_like_robfig_cron() {
        let cases: [(&str, Result<(), &str>); 11] = [
            ("*/5 * * * *", Ok(())),
            ("0 0 1 jan-mar mon-fri", Ok(())),
            ("@hourly", Ok(())),
            ("@every 1h30m", Ok(())),
            ("0,15,30,45 * * * ?", Ok(())),
            ("61 * * * *", Err("end of range (61) above maximum (59): 61")),
            ("* * * *", Err("expected exactly 5 fields, found 4: [* * * *]")),
            ("@fortnightly", Err("unrecognized descriptor: @fortnightly")),
            ("x * * * *", Err("failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax")),
            ("5-1 * * * *", Err("beginning of range (5) beyond end of range (1): 5-1")),
            ("*/0 * * * *", Err("step of range should be a positive number: */0")),
        ];
        for (schedule, want) in cases {
            assert_eq!(parse_cron(schedule), want.map_err(str::to_string), "{schedule}");
        }
    }

    #[test]
    fn cron_job_should_be_invalid_when_schedule_or_policy_is_wrong() {
        let cj = |schedule: &str, policy: &str| {
            json!({"metadata": {"name": "c", "namespace": "d"}, "spec": {"schedule": schedule, "concurrencyPolicy": policy,
                "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "i"}]}}}}}})
        };
        assert!(check("batch", "CronJob", cj("*/1 * * * *", "Forbid"), None).is_empty());
        let cases = [
            (cj("every minute", "Allow"), "spec.schedule", FieldErrorType::Invalid),
            (cj("TZ=UTC * * * * *", "Allow"), "spec.schedule", FieldErrorType::Invalid),
            (cj("", "Allow"), "spec.schedule", FieldErrorType::Required),
            (cj("* * * * *", "Sometimes"), "spec.concurrencyPolicy", FieldErrorType::NotSupported),
        ];
        for (obj, field, kind) in cases {
            let errs = check("batch", "CronJob", obj, None);
            assert!(has(&errs, field, kind), "{errs:#?}");
        }
    }

    fn service(spec: Value) -> Value {
        json!({"metadata": {"name": "s", "namespace": "d"}, "spec": spec})
    }

    #[test]
    fn service_should_be_invalid_in_these_cases() {
        let cases: Vec<(&str, Value, &str, FieldErrorType)> = vec![
            ("ports are missing", json!({"selector": {"a": "b"}}), "spec.ports", FieldErrorType::Required),
            ("a port is 0", json!({"ports": [{"port": 0}]}), "spec.ports[0].port", FieldErrorType::Invalid),
            ("two ports have no names", json!({"ports": [{"port": 80}, {"port": 81}]}), "spec.ports[0].name", FieldErrorType::Required),
            ("port names repeat", json!({"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]}), "spec.ports[1].name", FieldErrorType::Duplicate),
            ("the type is unknown", json!({"type": "Magic", "ports": [{"port": 80}]}), "spec.type", FieldErrorType::NotSupported),
            ("an ExternalName has no name", json!({"type": "ExternalName"}), "spec.externalName", FieldErrorType::Required),
            ("a ClusterIP sets a nodePort", json!({"ports": [{"port": 80, "nodePort": 30080}]}), "spec.ports[0].nodePort", FieldErrorType::Forbidden),
            ("ports repeat", json!({"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]}), "spec.ports[1]", FieldErrorType::Duplicate),
        ];
        for (what, spec, field, kind) in cases {
            let errs = check("", "Service", service(spec), None);
            assert!(has(&errs, field, kind), "when {what}: {errs:#?}");
        }
        for ok in [
            json!({"ports": [{"port": 80}]}),
            json!({"clusterIP": "None", "selector": {"a": "b"}}),
            json!({"type": "ExternalName", "externalName": "example.com"}),
            json!({"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": "https"}]}),
        ] {
            let errs = check("", "Service", service(ok.clone()), None);
            assert!(errs.is_empty(), "{ok}: {errs:#?}");
        }
    }

    #[test]
    fn service_update_should_keep_the_cluster_ip() {
        let old = service(json!({"clusterIP": "10.0.0.10", "ports": [{"port": 80}]}));
        let moved = service(json!({"clusterIP": "10.0.0.11", "ports": [{"port": 80}]}));
        assert!(has(&check("", "Service", moved, Some(old.clone())), "spec.clusterIPs[0]", FieldErrorType::Invalid));
        let omitted = service(json!({"ports": [{"port": 8080}]}));
        assert!(check("", "Service", omitted, Some(old)).is_empty());
    }

    #[test]
    fn config_maps_and_secrets_should_check_keys_sizes_and_immutability() {
        let cm = |data: Value| json!({"metadata": {"name": "c", "namespace": "d"}, "data": data});
        assert!(has(&check("", "ConfigMap", cm(json!({"bad key": "v"})), None), "data[bad key]", FieldErrorType::Invalid));
        let big = "x".repeat(MAX_SECRET_SIZE + 1);
        let errs = check("", "ConfigMap", cm(json!({"big": big})), None);
        assert_eq!(errs.iter().map(FieldError::message).collect::<Vec<_>>(), vec![": Too long: may not be more than 1048576 bytes".to_string()]);
        let mut frozen = cm(json!({"a": "1"}));
        frozen["immutable"] = json!(true);
        let mut changed = frozen.clone();
        changed["data"]["a"] = json!("2");
        assert!(has(&check("", "ConfigMap", changed, Some(frozen)), "data", FieldErrorType::Forbidden));

        let secret = |t: &str, data: Value| json!({"metadata": {"name": "s", "namespace": "d"}, "type": t, "data": data});
        assert!(has(&check("", "Secret", secret("Opaque", json!({"k": "not base64!"})), None), "data[k]", FieldErrorType::Invalid));
        let tls = check("", "Secret", secret("kubernetes.io/tls", json!({"tls.crt": "Y2VydA=="})), None);
        assert!(has(&tls, "data[tls.key]", FieldErrorType::Required), "{tls:#?}");
        let errs = check("", "Secret", secret("kubernetes.io/basic-auth", json!({"username": "dQ=="})), Some(secret("Opaque", json!({}))));
        assert!(has(&errs, "type", FieldErrorType::Invalid), "{errs:#?}");
    }

    #[test]
    fn rbac_objects_should_need_verbs_resources_and_a_fixed_role_ref() {
        let role = json!({"metadata": {"name": "r", "namespace": "d"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}, {"verbs": ["get"]}, {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]});
        let errs = check("rbac.authorization.k8s.io", "Role", role, None);
        assert!(has(&errs, "rules[0].verbs", FieldErrorType::Required));
        assert!(has(&errs, "rules[1].apiGroups", FieldErrorType::Required));
        assert!(has(&errs, "rules[1].resources", FieldErrorType::Required));
        assert!(has(&errs, "rules[2].nonResourceURLs", FieldErrorType::Invalid));
        let rb = |role: &str| {
            json!({"metadata": {"name": "b", "namespace": "d"}, "roleRef": {"kind": "Role", "name": role},
                "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "default"}]})
        };
        assert!(check("rbac.authorization.k8s.io", "RoleBinding", rb("r"), None).is_empty());
        assert!(has(&check("rbac.authorization.k8s.io", "RoleBinding", rb("r2"), Some(rb("r"))), "roleRef", FieldErrorType::Invalid));
        let no_ref = json!({"metadata": {"name": "b"}, "subjects": []});
        let errs = check("rbac.authorization.k8s.io", "ClusterRoleBinding", no_ref, None);
        assert!(has(&errs, "roleRef.kind", FieldErrorType::NotSupported) && has(&errs, "roleRef.name", FieldErrorType::Required), "{errs:#?}");
    }

    #[test]
    fn volumes_and_claims_should_need_access_modes_and_storage() {
        let pvc = json!({"metadata": {"name": "c", "namespace": "d"}, "spec": {}});
        let errs = check("", "PersistentVolumeClaim", pvc, None);
        assert!(has(&errs, "spec.accessModes", FieldErrorType::Required));
        assert!(has(&errs, "spec.resources[storage]", FieldErrorType::Required));
        let good = json!({"metadata": {"name": "c", "namespace": "d"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
        assert!(check("", "PersistentVolumeClaim", good.clone(), None).is_empty());
        let mut changed = good.clone();
        changed["spec"]["accessModes"] = json!(["ReadWriteMany"]);
        assert!(has(&check("", "PersistentVolumeClaim", changed, Some(good)), "spec", FieldErrorType::Forbidden));
        let pv = json!({"metadata": {"name": "v"}, "spec": {"capacity": {"storage": "1Gi"}}});
        let errs = check("", "PersistentVolume", pv, None);
        assert!(has(&errs, "spec.accessModes", FieldErrorType::Required) && has(&errs, "spec", FieldErrorType::Required), "{errs:#?}");
    }

    #[test]
    fn cluster_scoped_kinds_should_validate_their_own_rules() {
        let sc = check("storage.k8s.io", "StorageClass", json!({"metadata": {"name": "s"}}), None);
        assert!(has(&sc, "provisioner", FieldErrorType::Required), "{sc:#?}");
        let pc = check("scheduling.k8s.io", "PriorityClass", json!({"metadata": {"name": "system-mine"}, "value": 5}), None);
        assert!(has(&pc, "metadata.name", FieldErrorType::Forbidden), "{pc:#?}");
        let high = check("scheduling.k8s.io", "PriorityClass", json!({"metadata": {"name": "high"}, "value": 2_000_000_000}), None);
        assert!(has(&high, "value", FieldErrorType::Forbidden), "{high:#?}");
        let ns = check("", "Namespace", json!({"metadata": {"name": "n"}, "spec": {"finalizers": ["custom"]}}), None);
        assert!(has(&ns, "spec.finalizers", FieldErrorType::Invalid), "{ns:#?}");
    }

    #[test]
    fn custom_resource_definitions_should_be_named_after_plural_and_group() {
        let crd = |name: &str, versions: Value| {
            json!({"metadata": {"name": name}, "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget"}, "versions": versions}})
        };
        let schema = json!({"openAPIV3Schema": {"type": "object"}});
        let v1 = json!([{"name": "v1", "served": true, "storage": true, "schema": schema}]);
        assert!(check("apiextensions.k8s.io", "CustomResourceDefinition", crd("widgets.example.com", v1.clone()), None).is_empty());
        let errs = check("apiextensions.k8s.io", "CustomResourceDefinition", crd("widget.example.com", v1), None);
        assert_eq!(errs.iter().map(FieldError::message).collect::<Vec<_>>(), vec!["metadata.name: Invalid value: \"widget.example.com\": must be spec.names.plural+\".\"+spec.group".to_string()]);
        let two = json!([{"name": "v1", "served": true, "storage": true, "schema": schema}, {"name": "v2", "served": true, "storage": true, "schema": schema}]);
        assert!(has(&check("apiextensions.k8s.io", "CustomResourceDefinition", crd("widgets.example.com", two), None), "spec.versions", FieldErrorType::Invalid));
    }

    #[test]
    fn other_namespaced_kinds_should_validate_their_specs() {
        let cases: Vec<(&str, &str, Value, &str, FieldErrorType)> = vec![
            ("coordination.k8s.io", "Lease", json!({"metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseDurationSeconds": 0}}), "spec.leaseDurationSeconds", FieldErrorType::Invalid),
            ("policy", "PodDisruptionBudget", json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"minAvailable": 1, "maxUnavailable": 1}}), "spec", FieldErrorType::Invalid),
            (
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"metadata": {"name": "h", "namespace": "d"}, "spec": {"minReplicas": 5, "maxReplicas": 2, "scaleTargetRef": {"kind": "Deployment", "name": "web"}}}),
                "spec.maxReplicas",
                FieldErrorType::Invalid,
            ),
            ("", "Endpoints", json!({"metadata": {"name": "e", "namespace": "d"}, "subsets": [{"addresses": [{"ip": "not-an-ip"}]}]}), "subsets[0].addresses[0].ip", FieldErrorType::Invalid),
            (
                "discovery.k8s.io",
                "EndpointSlice",
                json!({"metadata": {"name": "e", "namespace": "d"}, "addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.1"]}]}),
                "endpoints[0].addresses[0]",
                FieldErrorType::Invalid,
            ),
            ("", "Node", json!({"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}}), "metadata.taints[0].effect", FieldErrorType::NotSupported),
            ("", "Event", json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "b"}}), "involvedObject.namespace", FieldErrorType::Invalid),
        ];
        for (group, kind, obj, field, ty) in cases {
            let errs = check(group, kind, obj, None);
            assert!(has(&errs, field, ty), "{kind}: {errs:#?}");
        }
    }

    #[test]
    fn quantities_should_parse_and_print_canonically() {
        let cases = [
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("1500", "1500"),
            ("2000", "2k"),
            ("100u", "100u"),
            ("0", "0"),
            ("-1", "-1"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("123Mi", "123Mi"),
            ("1.1", "1100m"),
            ("0.0000000001", "1n"),
        ];
        for (input, canonical) in cases {
            let q = Quantity::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(q.canonical(), canonical, "{input}");
        }
        for bad in ["", "1x", "abc", "1.2.3", "1Gix", "--1"] {
            assert!(Quantity::parse(bad).is_err(), "{bad} should not parse");
        }
        let q = |s: &str| Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(q("1Gi").cmp_value(&q("1G")), Ordering::Greater);
        assert_eq!(q("500m").cmp_value(&q("0.5")), Ordering::Equal);
        assert_eq!(q("100u").rounded_up(-3).canonical(), "1m");
    }

    #[test]
    fn base64_decoding_should_follow_the_standard_alphabet_with_padding() {
        assert_eq!(base64_decode("aGVsbG8="), Ok(b"hello".to_vec()));
        assert_eq!(base64_decode(""), Ok(Vec::new()));
        assert!(base64_decode("aGVsbG8").is_err());
        assert!(base64_decode("a$==").is_err());
    }
}
