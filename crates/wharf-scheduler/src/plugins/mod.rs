//! The in-tree plugins of the default profile, one module each.

pub mod interpodaffinity;
pub mod nodeaffinity;
pub mod nodename;
pub mod noderesources;
pub mod nodeunschedulable;
pub mod podtopologyspread;
pub mod queuesort;
pub mod tainttoleration;

use serde_json::Value;

use crate::framework::{NodeScore, MAX_NODE_SCORE};

/// Whether a toleration tolerates a taint (Kubernetes' `ToleratesTaint`).
pub fn tolerates(toleration: &Value, taint: &Value) -> bool {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let (t_effect, taint_effect) = (s(toleration, "effect"), s(taint, "effect"));
    if !t_effect.is_empty() && t_effect != taint_effect {
        return false;
    }
    let t_key = s(toleration, "key");
    if !t_key.is_empty() && t_key != s(taint, "key") {
        return false;
    }
    match s(toleration, "operator").as_str() {
        "Exists" => true,
        "" | "Equal" => s(toleration, "value") == s(taint, "value"),
        _ => false,
    }
}

/// Whether any of the pod's tolerations tolerates the taint.
pub fn pod_tolerates(pod_spec: &Value, taint: &Value) -> bool {
    pod_spec
        .get("tolerations")
        .and_then(Value::as_array)
        .is_some_and(|ts| ts.iter().any(|t| tolerates(t, taint)))
}

/// Kubernetes' `DefaultNormalizeScore`: scale to `0..=max`, reversed when asked.
pub fn default_normalize(scores: &mut [NodeScore], reverse: bool) {
    let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
    if max == 0 {
        if reverse {
            for s in scores.iter_mut() {
                s.score = MAX_NODE_SCORE;
            }
        }
        return;
    }
    for s in scores.iter_mut() {
        s.score = MAX_NODE_SCORE * s.score / max;
        if reverse {
            s.score = MAX_NODE_SCORE - s.score;
        }
    }
}

/// Test helpers shared by the plugin modules.
#[cfg(test)]
pub(crate) mod testutil {
    use serde_json::{json, Value};

    pub fn node(name: &str, cpu: &str, mem: &str, labels: Value) -> Value {
        json!({"metadata": {"name": name, "labels": labels},
               "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": "110"}}})
    }

    pub fn pod(name: &str, cpu: &str, labels: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "labels": labels},
               "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}})
    }
}
