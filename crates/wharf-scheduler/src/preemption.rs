//! Default preemption (PostFilter) as pure logic: on the nodes where removing pods could help,
//! find the minimal set of lower-priority victims that lets the pod fit, honouring
//! PodDisruptionBudgets given as input, and pick one node the way Kubernetes does.

use serde_json::Value;
use wharf_api::selector::LabelSelector;

use crate::framework::{CycleState, FitError, Scheduler, StatusCode};
use crate::snapshot::{PodInfo, Snapshot};

/// A PodDisruptionBudget reduced to what preemption needs.
#[derive(Debug, Clone)]
pub struct Pdb {
    /// Its namespace.
    pub namespace: String,
    /// `spec.selector`.
    pub selector: LabelSelector,
    /// `status.disruptionsAllowed`.
    pub disruptions_allowed: i64,
}

impl Pdb {
    /// Reads a `policy/v1` PodDisruptionBudget object.
    pub fn from_object(pdb: &Value) -> Option<Self> {
        Some(Self {
            namespace: pdb
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string(),
            selector: LabelSelector::from_object(pdb.pointer("/spec/selector")?).ok()?,
            disruptions_allowed: pdb
                .pointer("/status/disruptionsAllowed")
                .and_then(Value::as_i64)
                .unwrap_or(0),
        })
    }

    fn covers(&self, pod: &PodInfo) -> bool {
        // An empty selector matches no pods for a policy/v1 PDB's purposes here.
        pod.namespace == self.namespace
            && !self.selector.is_empty()
            && self.selector.matches(Some(&pod.labels))
    }
}

/// The node chosen for preemption and the pods to evict there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preemption {
    /// The nominated node.
    pub node: String,
    /// `namespace/name` of each victim.
    pub victims: Vec<String>,
    /// How many victims' eviction violates a PDB.
    pub pdb_violations: usize,
}

struct Candidate {
    node: String,
    victims: Vec<PodInfo>,
    pdb_violations: usize,
}

impl Scheduler {
    /// Whether `pod` passes PreFilter and Filter on `node` in `snapshot`.
    fn fits_on(&self, pod: &PodInfo, snapshot: &Snapshot, node: &str) -> bool {
        let mut state = CycleState::default();
        if !self
            .framework
            .run_pre_filter(&mut state, pod, snapshot)
            .is_success()
        {
            return false;
        }
        snapshot
            .get(node)
            .is_some_and(|n| self.framework.run_filter(&state, pod, n).is_success())
    }

    /// Tries preemption after `schedule_one` failed with `fit`. `None` when no node can be made
    /// to fit by evicting lower-priority pods (or the pod has `preemptionPolicy: Never`).
    pub fn preempt(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        fit: &FitError,
        pdbs: &[Pdb],
    ) -> Option<Preemption> {
        self.preempt_with_reasons(pod, snapshot, fit, pdbs).0
    }

    /// Runs preemption after `schedule_one` failed and rewrites `fit.post_filter_message` the
    /// way the default PostFilter reports: no suffix when a node was nominated, otherwise
    /// `0/N nodes are available: ...` with, per node, "Preemption is not helpful for
    /// scheduling" (unresolvable), "No preemption victims found for incoming pod" (no
    /// lower-priority pods) or the filter reasons that remain with every candidate evicted.
    pub fn post_filter(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        fit: &mut FitError,
        pdbs: &[Pdb],
    ) -> Option<Preemption> {
        if pod.spec().get("preemptionPolicy").and_then(Value::as_str) == Some("Never") {
            fit.post_filter_message =
                Some("not eligible due to preemptionPolicy=Never".to_string());
            return None;
        }
        let (result, reasons) = self.preempt_with_reasons(pod, snapshot, fit, pdbs);
        fit.post_filter_message = match &result {
            Some(_) => None,
            None => Some(format!(
                "0/{} nodes are available: {}.",
                fit.num_all_nodes,
                crate::framework::reasons_histogram(reasons)
            )),
        };
        result
    }

    fn preempt_with_reasons(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        fit: &FitError,
        pdbs: &[Pdb],
    ) -> (Option<Preemption>, Vec<Vec<String>>) {
        let mut reasons: Vec<Vec<String>> = Vec::new();
        if pod.spec().get("preemptionPolicy").and_then(Value::as_str) == Some("Never") {
            return (None, reasons);
        }
        let mut work = snapshot.clone();
        let mut candidates = Vec::new();
        for (name, status) in &fit.node_statuses {
            if status.code != StatusCode::Unschedulable {
                reasons.push(vec!["Preemption is not helpful for scheduling".to_string()]);
                continue;
            }
            let Some(node) = snapshot.get(name) else {
                continue;
            };
            let mut potential: Vec<PodInfo> = node
                .pods
                .iter()
                .filter(|p| p.priority < pod.priority)
                .cloned()
                .collect();
            if potential.is_empty() {
                reasons.push(vec![
                    "No preemption victims found for incoming pod".to_string()
                ]);
                continue;
            }
            for v in &potential {
                work.remove_pod(&v.key, name);
            }
            if !self.fits_on(pod, &work, name) {
                reasons.push(self.failure_reasons(pod, &work, name));
                for v in potential {
                    work.assume(v, name);
                }
                continue;
            }
            // Highest priority first: those are the ones we most want to keep.
            potential.sort_by_key(|p| std::cmp::Reverse(p.priority));
            let mut budgets: Vec<i64> = pdbs.iter().map(|p| p.disruptions_allowed).collect();
            let (violating, safe): (Vec<PodInfo>, Vec<PodInfo>) =
                potential.into_iter().partition(|v| {
                    let mut violates = false;
                    for (i, pdb) in pdbs.iter().enumerate() {
                        if pdb.covers(v) {
                            budgets[i] -= 1;
                            violates |= budgets[i] < 0;
                        }
                    }
                    violates
                });
            let mut victims = Vec::new();
            let mut pdb_violations = 0;
            for (v, violates) in violating
                .into_iter()
                .map(|v| (v, true))
                .chain(safe.into_iter().map(|v| (v, false)))
            {
                let key = v.key.clone();
                work.assume(v, name);
                if !self.fits_on(pod, &work, name) {
                    if let Some(v) = work.remove_pod(&key, name) {
                        pdb_violations += usize::from(violates);
                        victims.push(v);
                    }
                }
            }
            for v in &victims {
                work.assume(v.clone(), name);
            }
            candidates.push(Candidate {
                node: name.clone(),
                victims,
                pdb_violations,
            });
        }
        // Kubernetes' pickOneNodeForPreemption: fewest PDB violations, lowest highest-priority
        // victim, smallest priority sum, fewest victims, then the first.
        let key = |c: &Candidate| {
            let highest = c
                .victims
                .iter()
                .map(|v| v.priority)
                .max()
                .unwrap_or(i32::MIN);
            let sum: i64 = c
                .victims
                .iter()
                .map(|v| i64::from(v.priority) + i64::from(i32::MAX) + 1)
                .sum();
            (c.pdb_violations, highest, sum, c.victims.len())
        };
        let best = candidates
            .into_iter()
            .min_by_key(key)
            .map(|best| Preemption {
                node: best.node,
                victims: best.victims.iter().map(|v| v.key.clone()).collect(),
                pdb_violations: best.pdb_violations,
            });
        (best, reasons)
    }

    fn failure_reasons(&self, pod: &PodInfo, snapshot: &Snapshot, node: &str) -> Vec<String> {
        let mut state = CycleState::default();
        let pre = self.framework.run_pre_filter(&mut state, pod, snapshot);
        if !pre.is_success() {
            return pre.reasons;
        }
        snapshot
            .get(node)
            .map(|n| self.framework.run_filter(&state, pod, n).reasons)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::*;
    use serde_json::json;

    fn prio(name: &str, cpu: &str, priority: i64, labels: Value) -> PodInfo {
        let mut p = pod(name, cpu, labels);
        p["spec"]["priority"] = json!(priority);
        PodInfo::new(p)
    }

    fn setup() -> Snapshot {
        let mut s = Snapshot::new(
            vec![
                node("a", "4", "8Gi", json!({})),
                node("b", "4", "8Gi", json!({})),
            ],
            Vec::new(),
        );
        s.assume(prio("a-low1", "1", 0, json!({"app": "x"})), "a");
        s.assume(prio("a-low2", "1", 0, json!({"app": "x"})), "a");
        s.assume(prio("a-mid", "2", 50, json!({"app": "y"})), "a");
        s.assume(prio("b-high", "3", 1000, json!({})), "b");
        s.assume(prio("b-low", "1", 0, json!({})), "b");
        s
    }

    #[test]
    fn preemption_should_pick_the_fewest_lowest_priority_victims() {
        let snap = setup();
        let mut sched = Scheduler::default();
        let p = prio("urgent", "2", 100, json!({}));
        let Err(fit) = sched.schedule_one(&p, &snap) else {
            panic!("should not fit")
        };
        // Node a: evicting a-low1 + a-low2 (priority 0) frees 2 cores; node b cannot help (b-high outranks).
        assert_eq!(
            sched.preempt(&p, &snap, &fit, &[]),
            Some(Preemption {
                node: "a".into(),
                victims: vec!["default/a-low1".into(), "default/a-low2".into()],
                pdb_violations: 0
            })
        );
    }

    #[test]
    fn post_filter_should_report_why_preemption_cannot_help_like_kubernetes() {
        let mut snap = setup();
        let mut tainted = node("t", "8", "8Gi", json!({}));
        tainted["spec"] =
            json!({"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]});
        snap.add_node(tainted);
        let mut sched = Scheduler::default();
        // Priority 10 outranks only the priority-0 pods: on a, evicting them frees 2 of the 3 cores
        // needed; on b, the same; t is tainted.
        let p = prio("big", "3", 10, json!({}));
        let Err(mut fit) = sched.schedule_one(&p, &snap) else {
            panic!("should not fit")
        };
        assert_eq!(sched.post_filter(&p, &snap, &mut fit, &[]), None);
        assert_eq!(
            fit.to_string(),
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. \
             preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 Insufficient cpu.."
        );
        let urgent = prio("urgent", "2", 100, json!({}));
        let Err(mut fit) = sched.schedule_one(&urgent, &snap) else {
            panic!("should not fit")
        };
        assert!(sched.post_filter(&urgent, &snap, &mut fit, &[]).is_some());
        assert_eq!(
            fit.to_string(),
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu."
        );
    }

    #[test]
    fn preemption_should_avoid_pdb_violations_when_it_can() {
        let snap = setup();
        let mut sched = Scheduler::default();
        let p = prio("urgent", "1", 100, json!({}));
        let Err(fit) = sched.schedule_one(&p, &snap) else {
            panic!("should not fit")
        };
        let pdb = Pdb::from_object(&json!({"metadata": {"namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "x"}}}, "status": {"disruptionsAllowed": 0}}));
        let pdbs: Vec<Pdb> = pdb.into_iter().collect();
        // Node a would evict a protected pod; node b's b-low is unprotected.
        assert_eq!(
            sched.preempt(&p, &snap, &fit, &pdbs),
            Some(Preemption {
                node: "b".into(),
                victims: vec!["default/b-low".into()],
                pdb_violations: 0
            })
        );
    }

    #[test]
    fn preemption_should_not_help_pods_with_policy_never_or_without_lower_priority_victims() {
        let snap = setup();
        let mut sched = Scheduler::default();
        let low = prio("low", "2", 0, json!({}));
        let Err(fit) = sched.schedule_one(&low, &snap) else {
            panic!("should not fit")
        };
        assert_eq!(sched.preempt(&low, &snap, &fit, &[]), None);
        let mut never = pod("never", "2", json!({}));
        never["spec"]["priority"] = json!(100);
        never["spec"]["preemptionPolicy"] = json!("Never");
        let never = PodInfo::new(never);
        assert_eq!(sched.preempt(&never, &snap, &fit, &[]), None);
    }
}
