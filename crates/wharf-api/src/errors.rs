//! Field errors (Kubernetes' `field.Error`) and the `metav1.Status` body they become.

use serde_json::{json, Value};

/// The kind of a field error, as `k8s.io/apimachinery/pkg/util/validation/field.ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorType {
    /// A required field is missing.
    Required,
    /// A value is malformed or out of range.
    Invalid,
    /// A value is not one of the supported values.
    NotSupported,
    /// A value duplicates another that must be unique.
    Duplicate,
    /// A change or value is not permitted.
    Forbidden,
    /// A value is longer than allowed.
    TooLong,
    /// A list has too many items.
    TooMany,
    /// A field is not known to the schema (strict field validation).
    NotFound,
    /// An internal failure while validating.
    Internal,
}

impl FieldErrorType {
    /// The machine-readable reason used in `StatusCause.reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::NotFound => "FieldValueNotFound",
            Self::Internal => "InternalError",
        }
    }

    /// The human-readable prefix Kubernetes puts before the detail.
    pub fn text(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Invalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Duplicate => "Duplicate value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::NotFound => "Not found",
            Self::Internal => "Internal error",
        }
    }
}

/// One validation failure at a JSON path such as `spec.containers[0].image`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// What went wrong.
    pub kind: FieldErrorType,
    /// The field path, dotted with `[i]` / `[key]` indices.
    pub field: String,
    /// The offending value, when there is one to show.
    pub value: Option<Value>,
    /// Detail, e.g. the regex a name must match.
    pub detail: String,
}

impl FieldError {
    fn new(kind: FieldErrorType, field: impl Into<String>, value: Option<Value>, detail: impl Into<String>) -> Self {
        Self { kind, field: field.into(), value, detail: detail.into() }
    }
    /// A required field is missing.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::Required, field, None, detail)
    }
    /// A value is invalid.
    pub fn invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::Invalid, field, Some(value), detail)
    }
    /// A value is not among `supported`.
    pub fn not_supported(field: impl Into<String>, value: Value, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
        Self::new(FieldErrorType::NotSupported, field, Some(value), format!("supported values: {}", list.join(", ")))
    }
    /// A value duplicates another.
    pub fn duplicate(field: impl Into<String>, value: Value) -> Self {
        Self::new(FieldErrorType::Duplicate, field, Some(value), "")
    }
    /// A change or value is forbidden.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::Forbidden, field, None, detail)
    }
    /// A value is too long.
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        Self::new(FieldErrorType::TooLong, field, None, format!("may not be more than {max} bytes"))
    }
    /// A field is unknown to the schema.
    pub fn unknown_field(field: impl Into<String>) -> Self {
        Self::new(FieldErrorType::NotFound, field, None, "field not declared in schema")
    }

    /// The error as Kubernetes prints it: `spec.replicas: Invalid value: -1: must be greater than or equal to 0`.
    pub fn message(&self) -> String {
        let mut s = format!("{}: {}", self.field, self.kind.text());
        if let Some(v) = &self.value {
            if matches!(self.kind, FieldErrorType::Invalid | FieldErrorType::NotSupported | FieldErrorType::Duplicate) {
                s.push_str(": ");
                s.push_str(&render_value(v));
            }
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The `StatusCause` object for this error.
    pub fn cause(&self) -> Value {
        let mut msg = String::new();
        if let Some(v) = &self.value {
            if matches!(self.kind, FieldErrorType::Invalid | FieldErrorType::NotSupported | FieldErrorType::Duplicate) {
                msg.push_str(&format!("{}: {}", self.kind.text(), render_value(v)));
            }
        }
        if msg.is_empty() {
            msg.push_str(self.kind.text());
        }
        if !self.detail.is_empty() {
            msg.push_str(": ");
            msg.push_str(&self.detail);
        }
        json!({"reason": self.kind.reason(), "message": msg, "field": self.field})
    }
}

fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Builds a `metav1.Status` failure body.
pub fn status_failure(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut s = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(d) = details {
        s["details"] = d;
    }
    if reason.is_empty() {
        if let Some(o) = s.as_object_mut() {
            o.remove("reason");
        }
    }
    s
}

/// Builds the 422 `Invalid` Status for `kind` `name` with every field error as a cause.
pub fn status_invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Value {
    let msgs: Vec<String> = errors.iter().map(FieldError::message).collect();
    let joined = if msgs.len() == 1 { msgs[0].clone() } else { format!("[{}]", msgs.join(", ")) };
    let qualified = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
    let message = format!("{qualified} \"{name}\" is invalid: {joined}");
    let causes: Vec<Value> = errors.iter().map(FieldError::cause).collect();
    status_failure(422, "Invalid", &message, Some(json!({"name": name, "group": group, "kind": kind, "causes": causes})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_status_lists_every_cause_in_kubernetes_message_shape() {
        let errs = vec![
            FieldError::invalid("metadata.name", json!("Bad_Name"), "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters"),
            FieldError::required("spec.containers", ""),
        ];
        let s = status_invalid("", "Pod", "Bad_Name", &errs);
        assert_eq!(s["code"], 422);
        assert_eq!(s["reason"], "Invalid");
        let msg = s["message"].as_str().unwrap_or_default();
        assert!(msg.starts_with("Pod \"Bad_Name\" is invalid: [metadata.name: Invalid value: \"Bad_Name\": a lowercase"), "{msg}");
        assert!(msg.ends_with("spec.containers: Required value]"), "{msg}");
        assert_eq!(s["details"]["causes"].as_array().map(Vec::len), Some(2));
    }
}
