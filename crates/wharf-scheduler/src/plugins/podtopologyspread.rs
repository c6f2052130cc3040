//! PodTopologySpread: `topologySpreadConstraints` with DoNotSchedule filter and ScheduleAnyway score.

use std::collections::HashMap;

use serde_json::{json, Value};
use wharf_api::selector::LabelSelector;

use crate::framework::{
    CycleState, Filter, NodeScore, Plugin, PreFilter, PreScore, Score, Status, StatusCode,
    MAX_NODE_SCORE,
};
use crate::plugins::nodeaffinity::required_matches;
use crate::snapshot::{NodeInfo, PodInfo, Snapshot};

/// Plugin name.
pub const NAME: &str = "PodTopologySpread";
/// Reason when the skew would exceed maxSkew.
pub const REASON_SKEW: &str = "node(s) didn't match pod topology spread constraints";
/// Reason when the node lacks a topology key.
pub const REASON_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

const PRE_FILTER_KEY: &str = "PreFilterPodTopologySpread";
const PRE_SCORE_KEY: &str = "PreScorePodTopologySpread";

/// The PodTopologySpread plugin.
pub struct PodTopologySpread;

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

/// One parsed constraint.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// maxSkew.
    pub max_skew: i64,
    /// topologyKey.
    pub topology_key: String,
    /// Whether whenUnsatisfiable is DoNotSchedule.
    pub hard: bool,
    /// labelSelector (with matchLabelKeys folded in); `None` matches nothing.
    pub selector: Option<LabelSelector>,
    /// minDomains (1 when unset).
    pub min_domains: i64,
}

/// The pod's constraints.
pub fn constraints(pod: &PodInfo) -> Vec<Constraint> {
    let Some(list) = pod
        .spec()
        .get("topologySpreadConstraints")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .map(|c| {
            let selector = c
                .get("labelSelector")
                .filter(|s| !s.is_null())
                .and_then(|s| {
                    let mut s = s.clone();
                    if let Some(keys) = c.get("matchLabelKeys").and_then(Value::as_array) {
                        for k in keys.iter().filter_map(Value::as_str) {
                            if let (Some(v), Some(obj)) =
                                (pod.labels.get(k).and_then(Value::as_str), s.as_object_mut())
                            {
                                let exprs =
                                    obj.entry("matchExpressions").or_insert_with(|| json!([]));
                                if let Some(a) = exprs.as_array_mut() {
                                    a.push(json!({"key": k, "operator": "In", "values": [v]}));
                                }
                            }
                        }
                    }
                    LabelSelector::from_object(&s).ok()
                });
            Constraint {
                max_skew: c.get("maxSkew").and_then(Value::as_i64).unwrap_or(1),
                topology_key: c
                    .get("topologyKey")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                hard: c.get("whenUnsatisfiable").and_then(Value::as_str) != Some("ScheduleAnyway"),
                selector,
                min_domains: c.get("minDomains").and_then(Value::as_i64).unwrap_or(1),
            }
        })
        .collect()
}

fn count_matching(c: &Constraint, pod: &PodInfo, node: &NodeInfo) -> i64 {
    let Some(sel) = &c.selector else { return 0 };
    node.pods
        .iter()
        .filter(|p| p.namespace == pod.namespace && !p.terminating && sel.matches(Some(&p.labels)))
        .count() as i64
}

/// Per constraint: topology value → matching pod count, over eligible nodes.
fn count_domains(
    cs: &[Constraint],
    pod: &PodInfo,
    nodes: &[NodeInfo],
) -> Vec<HashMap<String, i64>> {
    let mut counts = vec![HashMap::new(); cs.len()];
    for node in nodes {
        if !required_matches(pod, node) || cs.iter().any(|c| node.label(&c.topology_key).is_none())
        {
            continue;
        }
        for (i, c) in cs.iter().enumerate() {
            if let Some(v) = node.label(&c.topology_key) {
                let n = count_matching(c, pod, node);
                match counts[i].get_mut(v) {
                    Some(x) => *x += n,
                    None => {
                        counts[i].insert(v.to_string(), n);
                    }
                }
            }
        }
    }
    counts
}

struct FilterState {
    constraints: Vec<Constraint>,
    counts: Vec<HashMap<String, i64>>,
    min: Vec<i64>,
}

impl PreFilter for PodTopologySpread {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        let cs: Vec<Constraint> = constraints(pod).into_iter().filter(|c| c.hard).collect();
        if cs.is_empty() {
            return Status::success();
        }
        let counts = count_domains(&cs, pod, snapshot.nodes());
        let min = cs
            .iter()
            .zip(&counts)
            .map(|(c, m)| {
                if (m.len() as i64) < c.min_domains {
                    0
                } else {
                    m.values().copied().min().unwrap_or(0)
                }
            })
            .collect();
        state.write(
            PRE_FILTER_KEY,
            FilterState {
                constraints: cs,
                counts,
                min,
            },
        );
        Status::success()
    }
}

impl Filter for PodTopologySpread {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<FilterState>(PRE_FILTER_KEY) else {
            return Status::success();
        };
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(v) = node.label(&c.topology_key) else {
                return Status::new(StatusCode::UnschedulableAndUnresolvable, REASON_LABEL);
            };
            let self_match = i64::from(
                c.selector
                    .as_ref()
                    .is_some_and(|sel| sel.matches(Some(&pod.labels))),
            );
            let matching = s.counts[i].get(v).copied().unwrap_or(0);
            if matching + self_match - s.min[i] > c.max_skew {
                return Status::new(StatusCode::Unschedulable, REASON_SKEW);
            }
        }
        Status::success()
    }
}

struct ScoreState {
    constraints: Vec<Constraint>,
    counts: Vec<HashMap<String, i64>>,
    weights: Vec<f64>,
}

impl PreScore for PodTopologySpread {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nodes: &[&NodeInfo],
    ) -> Status {
        let cs: Vec<Constraint> = constraints(pod).into_iter().filter(|c| !c.hard).collect();
        if cs.is_empty() {
            return Status::success();
        }
        let weights = cs
            .iter()
            .map(|c| {
                let mut domains: Vec<&str> = nodes
                    .iter()
                    .filter_map(|n| n.label(&c.topology_key))
                    .collect();
                domains.sort_unstable();
                domains.dedup();
                ((domains.len() + 2) as f64).ln()
            })
            .collect();
        let counts = count_domains(&cs, pod, snapshot.nodes());
        state.write(
            PRE_SCORE_KEY,
            ScoreState {
                constraints: cs,
                counts,
                weights,
            },
        );
        Status::success()
    }
}

/// Marks nodes lacking a ScheduleAnyway key, which get the lowest score.
const IGNORED: i64 = -1;

impl Score for PodTopologySpread {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(s) = state.read::<ScoreState>(PRE_SCORE_KEY) else {
            return 0;
        };
        let mut score = 0.0;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(v) = node.label(&c.topology_key) else {
                return IGNORED;
            };
            let cnt = s.counts[i].get(v).copied().unwrap_or(0);
            score += cnt as f64 * s.weights[i] + (c.max_skew - 1) as f64;
        }
        score.round() as i64
    }
    fn normalize(&self, state: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) {
        if state.read::<ScoreState>(PRE_SCORE_KEY).is_none() {
            return;
        }
        let valid = scores
            .iter()
            .filter(|s| s.score != IGNORED)
            .map(|s| s.score);
        let (min, max) = valid.fold((i64::MAX, i64::MIN), |(lo, hi), s| (lo.min(s), hi.max(s)));
        for s in scores.iter_mut() {
            s.score = if s.score == IGNORED {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - s.score) / max
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Scheduler;
    use crate::plugins::testutil::*;

    fn spread_pod(name: &str, when: &str, max_skew: i64) -> PodInfo {
        let mut p = pod(name, "100m", json!({"app": "web"}));
        p["spec"]["topologySpreadConstraints"] = json!([{
            "maxSkew": max_skew, "topologyKey": "zone", "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}}
        }]);
        PodInfo::new(p)
    }

    fn three_zones() -> Snapshot {
        let nodes = ["a", "b", "c"].iter().flat_map(|z| {
            (0..2).map(move |i| node(&format!("{z}{i}"), "8", "16Gi", json!({"zone": z})))
        });
        Snapshot::new(nodes.collect::<Vec<_>>(), Vec::new())
    }

    #[test]
    fn topology_spread_should_balance_across_three_zones() {
        for when in ["DoNotSchedule", "ScheduleAnyway"] {
            let mut snap = three_zones();
            let mut sched = Scheduler::default();
            for i in 0..9 {
                let p = spread_pod(&format!("p{i}"), when, 1);
                let r = sched.schedule_one(&p, &snap).map_err(|e| e.to_string());
                let Ok(r) = r else { panic!("{r:?}") };
                snap.assume(p, &r.node);
            }
            let mut per_zone: HashMap<String, usize> = HashMap::new();
            for n in snap.nodes() {
                *per_zone
                    .entry(n.label("zone").unwrap_or_default().to_string())
                    .or_default() += n.pods.len();
            }
            assert_eq!(
                per_zone.values().copied().collect::<Vec<_>>(),
                vec![3, 3, 3],
                "{when}"
            );
        }
    }

    #[test]
    fn topology_spread_should_reject_nodes_that_exceed_max_skew_or_lack_the_key() {
        let mut snap = three_zones();
        snap.add_node(node("nolabel", "8", "16Gi", json!({})));
        snap.assume(spread_pod("x", "DoNotSchedule", 1), "a0");
        let p = spread_pod("p", "DoNotSchedule", 1);
        let mut state = CycleState::default();
        assert!(PodTopologySpread
            .pre_filter(&mut state, &p, &snap)
            .is_success());
        let verdict = |n: &str| snap.get(n).map(|n| PodTopologySpread.filter(&state, &p, n));
        assert_eq!(
            verdict("a1").map(|s| s.reasons),
            Some(vec![REASON_SKEW.to_string()])
        );
        assert_eq!(verdict("b0").map(|s| s.is_success()), Some(true));
        assert_eq!(
            verdict("nolabel").map(|s| s.code),
            Some(StatusCode::UnschedulableAndUnresolvable)
        );
    }

    #[test]
    fn topology_spread_should_treat_missing_domains_as_empty_with_min_domains() {
        // Only zone a exists; with minDomains 2 the global minimum is 0, so the second pod is rejected.
        let snap = Snapshot::new(
            vec![node("a0", "8", "16Gi", json!({"zone": "a"}))],
            Vec::new(),
        );
        let mut snap = snap;
        let mut p = pod("p", "100m", json!({"app": "web"}));
        p["spec"]["topologySpreadConstraints"] = json!([{
            "maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "minDomains": 2,
            "labelSelector": {"matchLabels": {"app": "web"}}
        }]);
        let mut sched = Scheduler::default();
        let first = PodInfo::new(p.clone());
        assert!(sched.schedule_one(&first, &snap).is_ok());
        snap.assume(first, "a0");
        p["metadata"]["name"] = json!("p2");
        assert!(sched.schedule_one(&PodInfo::new(p), &snap).is_err());
    }
}
