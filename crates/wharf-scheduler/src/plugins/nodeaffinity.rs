//! NodeAffinity: `spec.nodeSelector` and required node affinity filter; preferred terms score.

use serde_json::Value;

use crate::framework::{CycleState, Filter, NodeScore, Plugin, Score, Status, StatusCode};
use crate::plugins::default_normalize;
use crate::snapshot::{NodeInfo, PodInfo};

/// Plugin name.
pub const NAME: &str = "NodeAffinity";
/// The failure reason.
pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

/// The NodeAffinity plugin.
pub struct NodeAffinity;

impl Plugin for NodeAffinity {
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

fn requirement_matches(req: &Value, value: Option<&str>) -> bool {
    let values: Vec<&str> = req
        .get("values")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let int = |s: &str| s.parse::<i64>().ok();
    match req.get("operator").and_then(Value::as_str).unwrap_or("") {
        "In" => value.is_some_and(|v| values.contains(&v)),
        "NotIn" => value.is_none_or(|v| !values.contains(&v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => {
            matches!((value.and_then(int), values.first().and_then(|v| int(v))), (Some(a), Some(b)) if a > b)
        }
        "Lt" => {
            matches!((value.and_then(int), values.first().and_then(|v| int(v))), (Some(a), Some(b)) if a < b)
        }
        _ => false,
    }
}

/// Whether a `NodeSelectorTerm` matches: all expressions and fields hold; an empty term matches nothing.
pub fn term_matches(term: &Value, node: &NodeInfo) -> bool {
    let exprs = term
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let fields = term
        .get("matchFields")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs.iter().all(|r| {
        requirement_matches(
            r,
            r.get("key")
                .and_then(Value::as_str)
                .and_then(|k| node.label(k)),
        )
    }) && fields.iter().all(|r| {
        let v = match r.get("key").and_then(Value::as_str) {
            Some("metadata.name") => Some(node.name.as_str()),
            _ => None,
        };
        r.get("key").and_then(Value::as_str) == Some("metadata.name") && requirement_matches(r, v)
    })
}

/// Whether the node satisfies the pod's nodeSelector and required node affinity.
pub fn required_matches(pod: &PodInfo, node: &NodeInfo) -> bool {
    let spec = pod.spec();
    if let Some(sel) = spec.get("nodeSelector").and_then(Value::as_object) {
        if !sel.iter().all(|(k, v)| node.label(k) == v.as_str()) {
            return false;
        }
    }
    match crate::snapshot::at(
        spec,
        &[
            "affinity",
            "nodeAffinity",
            "requiredDuringSchedulingIgnoredDuringExecution",
            "nodeSelectorTerms",
        ],
    ) {
        Some(Value::Array(terms)) => terms.iter().any(|t| term_matches(t, node)),
        _ => true,
    }
}

impl Filter for NodeAffinity {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if required_matches(pod, node) {
            Status::success()
        } else {
            Status::new(StatusCode::UnschedulableAndUnresolvable, REASON)
        }
    }
}

impl Score for NodeAffinity {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        crate::snapshot::at(
            pod.spec(),
            &[
                "affinity",
                "nodeAffinity",
                "preferredDuringSchedulingIgnoredDuringExecution",
            ],
        )
        .and_then(Value::as_array)
        .map(|terms| {
            terms
                .iter()
                .filter(|t| t.get("preference").is_some_and(|p| term_matches(p, node)))
                .map(|t| t.get("weight").and_then(Value::as_i64).unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
    }
    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) {
        default_normalize(scores, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::*;
    use serde_json::json;

    fn with_affinity(terms: Value) -> PodInfo {
        let mut p = pod("p", "1", json!({}));
        p["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}});
        PodInfo::new(p)
    }

    #[test]
    fn node_affinity_should_match_required_terms_with_every_operator() {
        let n = NodeInfo::new(node("n1", "1", "1Gi", json!({"zone": "a", "gen": "5"})));
        let expr = |op: &str, vals: Value| json!([{"matchExpressions": [{"key": "zone", "operator": op, "values": vals}]}]);
        let gen = |op: &str, v: &str| json!([{"matchExpressions": [{"key": "gen", "operator": op, "values": [v]}]}]);
        let cases = [
            (expr("In", json!(["a", "b"])), true),
            (expr("In", json!(["b"])), false),
            (expr("NotIn", json!(["b"])), true),
            (expr("NotIn", json!(["a"])), false),
            (expr("Exists", json!([])), true),
            (expr("DoesNotExist", json!([])), false),
            (gen("Gt", "4"), true),
            (gen("Gt", "5"), false),
            (gen("Lt", "6"), true),
            (gen("Lt", "x"), false),
            (
                json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]),
                true,
            ),
            (
                json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]),
                false,
            ),
            (json!([{}]), false),
            (
                json!([{}, {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}]),
                true,
            ),
        ];
        for (terms, ok) in cases {
            let s = NodeAffinity.filter(&CycleState::default(), &with_affinity(terms.clone()), &n);
            assert_eq!(s.is_success(), ok, "{terms}");
        }
    }

    #[test]
    fn node_affinity_should_honour_node_selector() {
        let n = NodeInfo::new(node("n1", "1", "1Gi", json!({"disk": "ssd"})));
        for (sel, ok) in [
            (json!({"disk": "ssd"}), true),
            (json!({"disk": "hdd"}), false),
            (json!({"gpu": "x"}), false),
        ] {
            let mut p = pod("p", "1", json!({}));
            p["spec"]["nodeSelector"] = sel;
            let s = NodeAffinity.filter(&CycleState::default(), &PodInfo::new(p), &n);
            assert_eq!(s.is_success(), ok);
            if !ok {
                assert_eq!(s.reasons, vec![REASON.to_string()]);
            }
        }
    }

    #[test]
    fn node_affinity_should_score_preferred_terms_by_weight() {
        let mut p = pod("p", "1", json!({}));
        p["spec"]["affinity"] = json!({"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
            {"weight": 30, "preference": {"matchExpressions": [{"key": "ssd", "operator": "Exists"}]}}
        ]}});
        let p = PodInfo::new(p);
        let nodes = [
            NodeInfo::new(node("a", "1", "1Gi", json!({"zone": "a"}))),
            NodeInfo::new(node("b", "1", "1Gi", json!({"zone": "a", "ssd": "1"}))),
            NodeInfo::new(node("c", "1", "1Gi", json!({}))),
        ];
        let mut scores: Vec<NodeScore> = nodes
            .iter()
            .map(|n| NodeScore {
                name: n.name.clone(),
                score: NodeAffinity.score(&CycleState::default(), &p, n),
            })
            .collect();
        NodeAffinity.normalize(&CycleState::default(), &p, &mut scores);
        assert_eq!(
            scores.iter().map(|s| s.score).collect::<Vec<_>>(),
            vec![25, 100, 0]
        );
    }
}
