//! InterPodAffinity: required pod affinity/anti-affinity (both the incoming pod's and existing
//! pods') by topology key filter; preferred terms score.

use std::collections::HashMap;

use serde_json::Value;
use wharf_api::selector::LabelSelector;

use crate::framework::{
    CycleState, Filter, NodeScore, Plugin, PreFilter, PreScore, Score, Status, StatusCode,
    MAX_NODE_SCORE,
};
use crate::snapshot::{NodeInfo, PodInfo, Snapshot};

/// Plugin name.
pub const NAME: &str = "InterPodAffinity";
/// The incoming pod's affinity is not satisfied.
pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// The incoming pod's anti-affinity is violated.
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// An existing pod's anti-affinity would be violated.
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
/// Weight of existing pods' required affinity terms in scoring (`hardPodAffinityWeight`).
pub const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

const PRE_FILTER_KEY: &str = "PreFilterInterPodAffinity";
const PRE_SCORE_KEY: &str = "PreScoreInterPodAffinity";

/// The InterPodAffinity plugin.
pub struct InterPodAffinity;

impl Plugin for InterPodAffinity {
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

/// A parsed `PodAffinityTerm`, with the namespace of the pod that declared it.
#[derive(Debug, Clone)]
pub struct Term {
    selector: Option<LabelSelector>,
    /// `None` means all namespaces (an empty namespaceSelector).
    namespaces: Option<Vec<String>>,
    topology_key: String,
    weight: i64,
}

impl Term {
    fn parse(t: &Value, owner_ns: &str, weight: i64) -> Self {
        let mut namespaces: Vec<String> = t
            .get("namespaces")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let ns_sel = t.get("namespaceSelector").filter(|s| !s.is_null());
        let all = ns_sel.is_some_and(|s| {
            s.as_object().is_some_and(|o| {
                o.values().all(|v| {
                    v.as_object().is_some_and(|m| m.is_empty())
                        || v.as_array().is_some_and(|a| a.is_empty())
                })
            })
        });
        if namespaces.is_empty() && ns_sel.is_none() {
            namespaces.push(owner_ns.to_string());
        }
        Self {
            selector: t
                .get("labelSelector")
                .filter(|s| !s.is_null())
                .and_then(|s| LabelSelector::from_object(s).ok()),
            namespaces: if all { None } else { Some(namespaces) },
            topology_key: t
                .get("topologyKey")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            weight,
        }
    }

    /// Whether the term selects `pod`.
    pub fn matches(&self, pod: &PodInfo) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|ns| ns.contains(&pod.namespace))
            && self
                .selector
                .as_ref()
                .is_some_and(|s| s.matches(Some(&pod.labels)))
    }
}

/// Required terms of `kind` (`podAffinity` or `podAntiAffinity`).
fn required(pod: &PodInfo, kind: &str) -> Vec<Term> {
    crate::snapshot::at(
        pod.spec(),
        &[
            "affinity",
            kind,
            "requiredDuringSchedulingIgnoredDuringExecution",
        ],
    )
    .and_then(Value::as_array)
    .map(|a| {
        a.iter()
            .map(|t| Term::parse(t, &pod.namespace, 1))
            .collect()
    })
    .unwrap_or_default()
}

/// Preferred terms of `kind`, with weights.
fn preferred(pod: &PodInfo, kind: &str) -> Vec<Term> {
    crate::snapshot::at(
        pod.spec(),
        &[
            "affinity",
            kind,
            "preferredDuringSchedulingIgnoredDuringExecution",
        ],
    )
    .and_then(Value::as_array)
    .map(|a| {
        a.iter()
            .filter_map(|w| {
                let t = w.get("podAffinityTerm")?;
                Some(Term::parse(
                    t,
                    &pod.namespace,
                    w.get("weight").and_then(Value::as_i64).unwrap_or(0),
                ))
            })
            .collect()
    })
    .unwrap_or_default()
}

type Pairs = HashMap<(String, String), i64>;

fn bump(pairs: &mut Pairs, node: &NodeInfo, key: &str, by: i64) {
    if let Some(v) = node.label(key) {
        *pairs.entry((key.to_string(), v.to_string())).or_insert(0) += by;
    }
}

fn node_total(pairs: &Pairs, node: &NodeInfo) -> i64 {
    node.labels
        .iter()
        .filter_map(|(k, v)| {
            v.as_str()
                .and_then(|v| pairs.get(&(k.clone(), v.to_string())))
        })
        .sum()
}

struct FilterState {
    affinity: Vec<Term>,
    anti: Vec<Term>,
    affinity_counts: Pairs,
    anti_counts: Pairs,
    existing_anti_counts: Pairs,
}

impl PreFilter for InterPodAffinity {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status {
        let affinity = required(pod, "podAffinity");
        let anti = required(pod, "podAntiAffinity");
        let mut s = FilterState {
            affinity,
            anti,
            affinity_counts: Pairs::new(),
            anti_counts: Pairs::new(),
            existing_anti_counts: Pairs::new(),
        };
        // Without terms of its own, only existing pods' anti-affinity can matter.
        let own_terms = !s.affinity.is_empty() || !s.anti.is_empty();
        for node in snapshot.nodes() {
            if !own_terms && node.affinity_pods == 0 {
                continue;
            }
            for e in &node.pods {
                if e.has_required_anti_affinity {
                    for t in required(e, "podAntiAffinity") {
                        if t.matches(pod) {
                            bump(&mut s.existing_anti_counts, node, &t.topology_key, 1);
                        }
                    }
                }
                for t in &s.affinity {
                    if t.matches(e) {
                        bump(&mut s.affinity_counts, node, &t.topology_key, 1);
                    }
                }
                for t in &s.anti {
                    if t.matches(e) {
                        bump(&mut s.anti_counts, node, &t.topology_key, 1);
                    }
                }
            }
        }
        state.write(PRE_FILTER_KEY, s);
        Status::success()
    }
}

fn count_at(pairs: &Pairs, node: &NodeInfo, key: &str) -> Option<i64> {
    node.label(key).map(|v| {
        pairs
            .get(&(key.to_string(), v.to_string()))
            .copied()
            .unwrap_or(0)
    })
}

impl Filter for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<FilterState>(PRE_FILTER_KEY) else {
            return Status::success();
        };
        if !s.affinity.is_empty() {
            let mut pods_exist = true;
            for t in &s.affinity {
                match count_at(&s.affinity_counts, node, &t.topology_key) {
                    None => {
                        return Status::new(
                            StatusCode::UnschedulableAndUnresolvable,
                            REASON_AFFINITY,
                        )
                    }
                    Some(c) if c <= 0 => pods_exist = false,
                    Some(_) => {}
                }
            }
            // The first pod of a group that selects itself may go anywhere the keys exist.
            let self_selecting =
                s.affinity_counts.is_empty() && s.affinity.iter().all(|t| t.matches(pod));
            if !pods_exist && !self_selecting {
                return Status::new(StatusCode::UnschedulableAndUnresolvable, REASON_AFFINITY);
            }
        }
        if s.anti
            .iter()
            .any(|t| count_at(&s.anti_counts, node, &t.topology_key).is_some_and(|c| c > 0))
        {
            return Status::new(StatusCode::Unschedulable, REASON_ANTI_AFFINITY);
        }
        if !s.existing_anti_counts.is_empty() && node_total(&s.existing_anti_counts, node) > 0 {
            return Status::new(StatusCode::Unschedulable, REASON_EXISTING_ANTI_AFFINITY);
        }
        Status::success()
    }
}

impl PreScore for InterPodAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        _: &[&NodeInfo],
    ) -> Status {
        let pref = preferred(pod, "podAffinity");
        let pref_anti = preferred(pod, "podAntiAffinity");
        let mut scores = Pairs::new();
        // Without preferred terms of its own, only existing pods' affinity can score.
        let own_terms = !pref.is_empty() || !pref_anti.is_empty();
        for node in snapshot.nodes() {
            if !own_terms && node.affinity_pods == 0 {
                continue;
            }
            for e in &node.pods {
                for t in &pref {
                    if t.matches(e) {
                        bump(&mut scores, node, &t.topology_key, t.weight);
                    }
                }
                for t in &pref_anti {
                    if t.matches(e) {
                        bump(&mut scores, node, &t.topology_key, -t.weight);
                    }
                }
                if e.spec().get("affinity").is_none() {
                    continue;
                }
                for t in required(e, "podAffinity") {
                    if t.matches(pod) {
                        bump(&mut scores, node, &t.topology_key, HARD_POD_AFFINITY_WEIGHT);
                    }
                }
                for t in preferred(e, "podAffinity") {
                    if t.matches(pod) {
                        bump(&mut scores, node, &t.topology_key, t.weight);
                    }
                }
                for t in preferred(e, "podAntiAffinity") {
                    if t.matches(pod) {
                        bump(&mut scores, node, &t.topology_key, -t.weight);
                    }
                }
            }
        }
        state.write(PRE_SCORE_KEY, scores);
        Status::success()
    }
}

impl Score for InterPodAffinity {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> i64 {
        state
            .read::<Pairs>(PRE_SCORE_KEY)
            .filter(|p| !p.is_empty())
            .map(|p| node_total(p, node))
            .unwrap_or(0)
    }
    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) {
        let min = scores.iter().map(|s| s.score).min().unwrap_or(0);
        let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
        for s in scores.iter_mut() {
            s.score = if max > min {
                MAX_NODE_SCORE * (s.score - min) / (max - min)
            } else {
                0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Scheduler;
    use crate::plugins::testutil::*;
    use serde_json::json;

    fn snapshot_with(existing: Vec<(&str, Value)>) -> Snapshot {
        let nodes = vec![
            node(
                "a0",
                "8",
                "16Gi",
                json!({"zone": "a", "kubernetes.io/hostname": "a0"}),
            ),
            node(
                "a1",
                "8",
                "16Gi",
                json!({"zone": "a", "kubernetes.io/hostname": "a1"}),
            ),
            node(
                "b0",
                "8",
                "16Gi",
                json!({"zone": "b", "kubernetes.io/hostname": "b0"}),
            ),
        ];
        let mut s = Snapshot::new(nodes, Vec::new());
        for (n, p) in existing {
            s.assume(PodInfo::new(p), n);
        }
        s
    }

    fn with_affinity(name: &str, labels: Value, affinity: Value) -> PodInfo {
        let mut p = pod(name, "100m", labels);
        p["spec"]["affinity"] = affinity;
        PodInfo::new(p)
    }

    fn feasible(pod: &PodInfo, snap: &Snapshot) -> Vec<(String, Option<String>)> {
        let mut state = CycleState::default();
        InterPodAffinity.pre_filter(&mut state, pod, snap);
        snap.nodes()
            .iter()
            .map(|n| {
                (
                    n.name.clone(),
                    InterPodAffinity
                        .filter(&state, pod, n)
                        .reasons
                        .first()
                        .cloned(),
                )
            })
            .collect()
    }

    #[test]
    fn inter_pod_affinity_should_filter_by_topology_key() {
        let db = pod("db", "100m", json!({"app": "db"}));
        let snap = snapshot_with(vec![("a0", db)]);
        let term = |key: &str| json!([{"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": key}]);
        let cases = [
            (
                json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": term("zone")}}),
                vec![None, None, Some(REASON_AFFINITY)],
            ),
            (
                json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": term("kubernetes.io/hostname")}}),
                vec![None, Some(REASON_AFFINITY), Some(REASON_AFFINITY)],
            ),
            (
                json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": term("zone")}}),
                vec![Some(REASON_ANTI_AFFINITY), Some(REASON_ANTI_AFFINITY), None],
            ),
            (
                json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": term("rack")}}),
                vec![
                    Some(REASON_AFFINITY),
                    Some(REASON_AFFINITY),
                    Some(REASON_AFFINITY),
                ],
            ),
        ];
        for (affinity, want) in cases {
            let p = with_affinity("web", json!({"app": "web"}), affinity.clone());
            let got: Vec<Option<String>> =
                feasible(&p, &snap).into_iter().map(|(_, r)| r).collect();
            let want: Vec<Option<String>> =
                want.into_iter().map(|r| r.map(str::to_string)).collect();
            assert_eq!(got, want, "{affinity}");
        }
    }

    #[test]
    fn inter_pod_affinity_should_let_the_first_self_selecting_pod_anywhere() {
        let snap = snapshot_with(vec![]);
        let p = with_affinity(
            "web",
            json!({"app": "web"}),
            json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            [{"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}]}}),
        );
        assert!(feasible(&p, &snap).iter().all(|(_, r)| r.is_none()));
    }

    #[test]
    fn inter_pod_affinity_should_respect_existing_pods_anti_affinity() {
        let guard = with_affinity(
            "guard",
            json!({"app": "guard"}),
            json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            [{"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}]}}),
        );
        let mut snap = snapshot_with(vec![]);
        snap.assume(guard, "a0");
        let p = PodInfo::new(pod("web", "100m", json!({"app": "web"})));
        let got: Vec<Option<String>> = feasible(&p, &snap).into_iter().map(|(_, r)| r).collect();
        assert_eq!(
            got,
            vec![
                Some(REASON_EXISTING_ANTI_AFFINITY.to_string()),
                Some(REASON_EXISTING_ANTI_AFFINITY.to_string()),
                None
            ]
        );
    }

    #[test]
    fn inter_pod_affinity_should_prefer_nodes_near_preferred_pods() {
        let snap = snapshot_with(vec![("b0", pod("cache", "100m", json!({"app": "cache"})))]);
        let p = with_affinity(
            "web",
            json!({"app": "web"}),
            json!({"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution":
            [{"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "zone"}}]}}),
        );
        let mut sched = Scheduler::default();
        assert_eq!(
            sched.schedule_one(&p, &snap).map(|r| r.node),
            Ok("b0".to_string())
        );
    }
}
