//! TaintToleration: NoSchedule/NoExecute taints filter; PreferNoSchedule taints lower the score.

use serde_json::Value;

use crate::framework::{CycleState, Filter, NodeScore, Plugin, Score, Status, StatusCode};
use crate::plugins::{default_normalize, pod_tolerates};
use crate::snapshot::{NodeInfo, PodInfo};

/// Plugin name.
pub const NAME: &str = "TaintToleration";

/// The TaintToleration plugin.
pub struct TaintToleration;

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

fn effect(t: &Value) -> &str {
    t.get("effect").and_then(Value::as_str).unwrap_or("")
}

impl Filter for TaintToleration {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let untolerated = node.taints.iter().find(|t| {
            matches!(effect(t), "NoSchedule" | "NoExecute") && !pod_tolerates(pod.spec(), t)
        });
        match untolerated {
            None => Status::success(),
            Some(t) => {
                let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("");
                Status::new(
                    StatusCode::UnschedulableAndUnresolvable,
                    format!(
                        "node(s) had untolerated taint {{{}: {}}}",
                        s("key"),
                        s("value")
                    ),
                )
            }
        }
    }
}

impl Score for TaintToleration {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        // Only tolerations with an empty or PreferNoSchedule effect count, as in Kubernetes.
        let tolerations: Vec<Value> = pod
            .spec()
            .get("tolerations")
            .and_then(Value::as_array)
            .map(|ts| {
                ts.iter()
                    .filter(|t| matches!(effect(t), "" | "PreferNoSchedule"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let spec = serde_json::json!({ "tolerations": tolerations });
        node.taints
            .iter()
            .filter(|t| effect(t) == "PreferNoSchedule" && !pod_tolerates(&spec, t))
            .count() as i64
    }
    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) {
        default_normalize(scores, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::*;
    use serde_json::json;

    fn tainted(taints: Value) -> NodeInfo {
        let mut n = node("n", "1", "1Gi", json!({}));
        n["spec"] = json!({ "taints": taints });
        NodeInfo::new(n)
    }

    #[test]
    fn taint_toleration_should_reject_untolerated_no_schedule_and_no_execute_taints() {
        let cp = json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]);
        let cases = [
            (
                cp.clone(),
                json!([]),
                Some("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"),
            ),
            (
                cp,
                json!([{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]),
                None,
            ),
            (
                json!([{"key": "k", "value": "v", "effect": "NoExecute"}]),
                json!([{"key": "k", "value": "w"}]),
                Some("node(s) had untolerated taint {k: v}"),
            ),
            (
                json!([{"key": "k", "value": "v", "effect": "NoExecute"}]),
                json!([{"key": "k", "operator": "Equal", "value": "v"}]),
                None,
            ),
            (
                json!([{"key": "k", "effect": "PreferNoSchedule"}]),
                json!([]),
                None,
            ),
        ];
        for (taints, tolerations, want) in cases {
            let mut p = pod("p", "1", json!({}));
            p["spec"]["tolerations"] = tolerations;
            let s =
                TaintToleration.filter(&CycleState::default(), &PodInfo::new(p), &tainted(taints));
            assert_eq!(s.reasons.first().map(String::as_str), want);
        }
    }

    #[test]
    fn taint_toleration_should_prefer_nodes_without_prefer_no_schedule_taints() {
        let p = PodInfo::new(pod("p", "1", json!({})));
        let nodes = [
            tainted(json!([])),
            tainted(json!([{"key": "a", "effect": "PreferNoSchedule"}])),
        ];
        let mut scores: Vec<NodeScore> = nodes
            .iter()
            .map(|n| NodeScore {
                name: n.name.clone(),
                score: TaintToleration.score(&CycleState::default(), &p, n),
            })
            .collect();
        TaintToleration.normalize(&CycleState::default(), &p, &mut scores);
        assert_eq!(
            scores.iter().map(|s| s.score).collect::<Vec<_>>(),
            vec![100, 0]
        );
    }
}
