//! Events: one stored resource served in two versions. Kubernetes keeps `core/v1` and
//! `events.k8s.io/v1` Events under one storage key (`/registry/.../events/`) in the core shape
//! and converts at the edges (`pkg/apis/events/v1/conversion.go`); field selectors of both
//! versions are evaluated on the stored object after mapping the label
//! (`AddFieldLabelConversionsForEvent`, `pkg/registry/core/event/strategy.go`).
//!
//! This module owns that conversion, the selectable fields of the stored form and the field
//! labels each version accepts. Objects are JSON; a missing or `null` member converts to a
//! missing member, except core/v1's required `involvedObject`, which is always present.

use serde_json::{Map, Value};

use crate::selector::field_value;

/// The group whose Events are converted from the stored core shape.
pub const EVENTS_GROUP: &str = "events.k8s.io";

/// Members whose name differs: (core/v1 name, events.k8s.io/v1 name).
const RENAMED: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

/// Members with the same name and meaning in both versions.
const SHARED: &[&str] = &["metadata", "eventTime", "series", "action", "related", "reason", "type", "reportingInstance"];

/// Field labels `core/v1` Events accept beyond `metadata.name` and `metadata.namespace`
/// (`pkg/apis/core/v1/conversion.go`); they are also the stored form's selectable fields.
pub const CORE_FIELD_LABELS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

/// Field labels `events.k8s.io/v1` Events accept, each with the stored form's field it selects on.
const EVENTS_V1_FIELD_LABELS: &[(&str, &str)] = &[
    ("regarding.kind", "involvedObject.kind"),
    ("regarding.namespace", "involvedObject.namespace"),
    ("regarding.name", "involvedObject.name"),
    ("regarding.uid", "involvedObject.uid"),
    ("regarding.apiVersion", "involvedObject.apiVersion"),
    ("regarding.resourceVersion", "involvedObject.resourceVersion"),
    ("regarding.fieldPath", "involvedObject.fieldPath"),
    ("reportingController", "reportingComponent"),
    ("reason", "reason"),
    ("source", "source"),
    ("type", "type"),
];

fn take(from: &mut Map<String, Value>, key: &str) -> Option<Value> {
    from.remove(key).filter(|v| !v.is_null())
}

/// Converts a stored (core/v1) Event into its `events.k8s.io/v1` form.
pub fn core_to_events_v1(core: Value) -> Value {
    let Value::Object(mut from) = core else { return core };
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(format!("{EVENTS_GROUP}/v1")));
    out.insert("kind".into(), Value::String("Event".into()));
    for k in SHARED {
        if let Some(v) = take(&mut from, k) {
            out.insert((*k).to_string(), v);
        }
    }
    for (core_name, new_name) in RENAMED {
        if let Some(v) = take(&mut from, core_name) {
            out.insert((*new_name).to_string(), v);
        }
    }
    Value::Object(out)
}

/// Converts an `events.k8s.io/v1` Event into the stored (core/v1) form.
pub fn events_v1_to_core(event: Value) -> Value {
    let Value::Object(mut from) = event else { return event };
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String("v1".into()));
    out.insert("kind".into(), Value::String("Event".into()));
    for k in SHARED {
        if let Some(v) = take(&mut from, k) {
            out.insert((*k).to_string(), v);
        }
    }
    for (core_name, new_name) in RENAMED {
        if let Some(v) = take(&mut from, new_name) {
            out.insert((*core_name).to_string(), v);
        }
    }
    // core/v1 `involvedObject` is a required struct (never omitted on the wire); typed
    // clients of core/v1 fail on an Event without it.
    out.entry("involvedObject").or_insert_with(|| Value::Object(Map::new()));
    Value::Object(out)
}

/// The stored-form field a served version's field label selects on, or `None` when that
/// version does not support the label. `metadata.name` and `metadata.namespace` always map
/// to themselves.
pub fn stored_field_label(group: &str, label: &str) -> Option<&'static str> {
    match label {
        "metadata.name" => return Some("metadata.name"),
        "metadata.namespace" => return Some("metadata.namespace"),
        _ => {}
    }
    if group == EVENTS_GROUP {
        EVENTS_V1_FIELD_LABELS.iter().find(|(l, _)| *l == label).map(|(_, stored)| *stored)
    } else {
        CORE_FIELD_LABELS.iter().find(|l| **l == label).copied()
    }
}

/// The field labels a served version of Events accepts (without the `metadata.*` pair).
pub fn field_labels(group: &str) -> Vec<&'static str> {
    if group == EVENTS_GROUP {
        EVENTS_V1_FIELD_LABELS.iter().map(|(l, _)| *l).collect()
    } else {
        CORE_FIELD_LABELS.to_vec()
    }
}

/// The value of a selectable field of a stored Event (Kubernetes' `ToSelectableFields`):
/// `source` is `source.component`, or the reporting controller when that is empty.
pub fn stored_field_value(stored: &Value, stored_label: &str) -> String {
    match stored_label {
        "source" => {
            let component = field_value(stored, "source.component");
            if component.is_empty() {
                field_value(stored, "reportingComponent")
            } else {
                component
            }
        }
        other => field_value(stored, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn recorder_event() -> Value {
        json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "default"},
            "eventTime": "2026-01-02T03:04:05.000006Z",
            "series": {"count": 2, "lastObservedTime": "2026-01-02T03:05:05.000006Z"},
            "reportingController": "wharf.dev/scheduler", "reportingInstance": "scheduler-0",
            "action": "Binding", "reason": "Scheduled", "type": "Normal",
            "regarding": {"kind": "Pod", "name": "web", "namespace": "default", "uid": "u-1", "apiVersion": "v1"},
            "related": {"kind": "Node", "name": "n1"},
            "note": "assigned default/web to n1",
            "deprecatedSource": {"component": "old", "host": "h"},
            "deprecatedFirstTimestamp": "2026-01-02T03:04:05Z", "deprecatedLastTimestamp": "2026-01-02T03:04:06Z", "deprecatedCount": 3
        })
    }

    #[test]
    fn events_v1_fields_map_onto_core_fields_as_upstream_converts_them() {
        let core = events_v1_to_core(recorder_event());
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["uid"], "u-1");
        assert_eq!(core["message"], "assigned default/web to n1");
        assert_eq!(core["reportingComponent"], "wharf.dev/scheduler");
        assert_eq!(core["reportingInstance"], "scheduler-0");
        assert_eq!(core["source"], json!({"component": "old", "host": "h"}));
        assert_eq!(core["firstTimestamp"], "2026-01-02T03:04:05Z");
        assert_eq!(core["lastTimestamp"], "2026-01-02T03:04:06Z");
        assert_eq!(core["count"], 3);
        assert_eq!(core["series"]["count"], 2);
        assert_eq!(core["related"]["name"], "n1");
        for gone in ["regarding", "note", "reportingController", "deprecatedSource", "deprecatedCount"] {
            assert!(core.get(gone).is_none(), "{gone} must not survive conversion");
        }
    }

    #[test]
    fn conversion_round_trips_in_both_directions() {
        let ev = recorder_event();
        assert_eq!(core_to_events_v1(events_v1_to_core(ev.clone())), ev);
        let core = json!({
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": "x", "namespace": "d"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Pulled", "message": "pulled",
            "source": {"component": "kubelet", "host": "n1"}, "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-01T00:00:01Z", "count": 1, "type": "Normal"
        });
        assert_eq!(events_v1_to_core(core_to_events_v1(core.clone())), core);
    }

    #[test]
    fn an_event_without_regarding_is_stored_with_an_empty_involved_object() {
        let core = events_v1_to_core(json!({"metadata": {"name": "x"}, "reason": "R"}));
        assert_eq!(core["involvedObject"], json!({}));
        assert_eq!(core_to_events_v1(core)["regarding"], json!({}));
    }

    #[test]
    fn null_members_do_not_survive_conversion() {
        let core = json!({"metadata": {"name": "x"}, "firstTimestamp": null, "eventTime": null, "reason": "R"});
        let ev = core_to_events_v1(core);
        assert!(ev.get("deprecatedFirstTimestamp").is_none());
        assert!(ev.get("eventTime").is_none());
        assert_eq!(ev["reason"], "R");
    }

    #[test]
    fn field_labels_of_each_version_select_on_the_stored_form() {
        assert_eq!(stored_field_label(EVENTS_GROUP, "regarding.name"), Some("involvedObject.name"));
        assert_eq!(stored_field_label(EVENTS_GROUP, "reportingController"), Some("reportingComponent"));
        assert_eq!(stored_field_label(EVENTS_GROUP, "involvedObject.name"), None);
        assert_eq!(stored_field_label("", "involvedObject.name"), Some("involvedObject.name"));
        assert_eq!(stored_field_label("", "regarding.name"), None);
        assert_eq!(stored_field_label("", "metadata.namespace"), Some("metadata.namespace"));
        assert!(field_labels("").contains(&"reportingComponent"));
        assert!(field_labels(EVENTS_GROUP).contains(&"regarding.uid"));
    }

    #[test]
    fn source_selects_the_component_or_else_the_reporting_controller() {
        let stored = events_v1_to_core(recorder_event());
        assert_eq!(stored_field_value(&stored, "source"), "old");
        let mut stored = stored;
        stored["source"] = json!({});
        assert_eq!(stored_field_value(&stored, "source"), "wharf.dev/scheduler");
        assert_eq!(stored_field_value(&stored, "involvedObject.name"), "web");
    }
}
