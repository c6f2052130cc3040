//! The scheduling framework: extension-point traits, `Status`, the plugin registry, the default
//! profile, `schedule_one` and the FailedScheduling message.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};

use crate::plugins;
use crate::snapshot::{NodeInfo, PodInfo, Snapshot};

/// The highest score a Score plugin may give after normalization.
pub const MAX_NODE_SCORE: i64 = 100;

/// Outcome class of a plugin call (Kubernetes' `framework.Code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    /// The plugin passed.
    Success,
    /// The pod does not fit now; preemption may help.
    Unschedulable,
    /// The pod does not fit and preemption cannot help.
    UnschedulableAndUnresolvable,
    /// An internal error.
    Error,
}

/// A plugin result with its reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The code.
    pub code: StatusCode,
    /// Human reasons, as they appear in FailedScheduling.
    pub reasons: Vec<String>,
    /// The plugin that failed, when not successful.
    pub plugin: &'static str,
}

impl Status {
    /// Success.
    pub fn success() -> Self {
        Self {
            code: StatusCode::Success,
            reasons: Vec::new(),
            plugin: "",
        }
    }
    /// A failure with one reason.
    pub fn new(code: StatusCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reasons: vec![reason.into()],
            plugin: "",
        }
    }
    /// Whether the code is `Success`.
    pub fn is_success(&self) -> bool {
        self.code == StatusCode::Success
    }
}

/// Per-cycle data plugins pass from PreFilter/PreScore to Filter/Score.
#[derive(Default)]
pub struct CycleState {
    data: HashMap<&'static str, Box<dyn Any + Send + Sync>>,
}

impl CycleState {
    /// Stores data under a key.
    pub fn write<T: Any + Send + Sync>(&mut self, key: &'static str, v: T) {
        self.data.insert(key, Box::new(v));
    }
    /// Reads data by key.
    pub fn read<T: Any>(&self, key: &'static str) -> Option<&T> {
        self.data.get(key).and_then(|b| b.downcast_ref())
    }
}

/// A node and its score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeScore {
    /// Node name.
    pub name: String,
    /// Score.
    pub score: i64,
}

/// Orders the active queue.
pub trait QueueSort: Send + Sync {
    /// Whether `a` should be popped before `b`.
    fn less(&self, a: &crate::queue::QueuedPodInfo, b: &crate::queue::QueuedPodInfo) -> bool;
}

/// Runs once per pod before filtering.
pub trait PreFilter: Send + Sync {
    /// Computes cycle state; a failure rejects every node.
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snapshot: &Snapshot) -> Status;
}

/// Decides whether a node can host the pod.
pub trait Filter: Send + Sync {
    /// The verdict for one node.
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

/// Runs once before scoring, over the feasible nodes.
pub trait PreScore: Send + Sync {
    /// Computes cycle state for Score.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nodes: &[&NodeInfo],
    ) -> Status;
}

/// Ranks feasible nodes.
pub trait Score: Send + Sync {
    /// The raw score of one node.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64;
    /// Maps raw scores into `0..=MAX_NODE_SCORE`; the default leaves them as they are.
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, _scores: &mut [NodeScore]) {}
}

/// A plugin: a name and the extension points it implements.
pub trait Plugin: Send + Sync {
    /// The plugin name, as in Kubernetes' profiles.
    fn name(&self) -> &'static str;
    /// The QueueSort implementation, if any.
    fn as_queue_sort(&self) -> Option<&dyn QueueSort> {
        None
    }
    /// The PreFilter implementation, if any.
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        None
    }
    /// The Filter implementation, if any.
    fn as_filter(&self) -> Option<&dyn Filter> {
        None
    }
    /// The PreScore implementation, if any.
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        None
    }
    /// The Score implementation, if any.
    fn as_score(&self) -> Option<&dyn Score> {
        None
    }
}

/// Builds a plugin.
pub type Factory = fn() -> Box<dyn Plugin>;

/// Plugin name → factory.
#[derive(Clone, Default)]
pub struct Registry {
    factories: BTreeMap<&'static str, Factory>,
}

impl Registry {
    /// Registers a factory under a name.
    pub fn register(&mut self, name: &'static str, f: Factory) {
        self.factories.insert(name, f);
    }
    /// Builds a plugin by name.
    pub fn build(&self, name: &str) -> Option<Box<dyn Plugin>> {
        self.factories.get(name).map(|f| f())
    }
    /// Registered names.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.factories.keys().copied()
    }
}

/// The in-tree plugins.
pub fn default_registry() -> Registry {
    let mut r = Registry::default();
    r.register(plugins::queuesort::NAME, || {
        Box::new(plugins::queuesort::PrioritySort)
    });
    r.register(plugins::nodename::NAME, || {
        Box::new(plugins::nodename::NodeName)
    });
    r.register(plugins::nodeunschedulable::NAME, || {
        Box::new(plugins::nodeunschedulable::NodeUnschedulable)
    });
    r.register(plugins::tainttoleration::NAME, || {
        Box::new(plugins::tainttoleration::TaintToleration)
    });
    r.register(plugins::nodeaffinity::NAME, || {
        Box::new(plugins::nodeaffinity::NodeAffinity)
    });
    r.register(plugins::noderesources::FIT_NAME, || {
        Box::new(plugins::noderesources::Fit)
    });
    r.register(plugins::noderesources::BALANCED_NAME, || {
        Box::new(plugins::noderesources::BalancedAllocation)
    });
    r.register(plugins::podtopologyspread::NAME, || {
        Box::new(plugins::podtopologyspread::PodTopologySpread)
    });
    r.register(plugins::interpodaffinity::NAME, || {
        Box::new(plugins::interpodaffinity::InterPodAffinity)
    });
    r
}

/// The default profile: plugins in Kubernetes' filter order with their score weights.
pub const DEFAULT_PROFILE: &[(&str, i64)] = &[
    (plugins::queuesort::NAME, 0),
    (plugins::nodeunschedulable::NAME, 0),
    (plugins::nodename::NAME, 0),
    (plugins::tainttoleration::NAME, 3),
    (plugins::nodeaffinity::NAME, 2),
    (plugins::noderesources::FIT_NAME, 1),
    (plugins::podtopologyspread::NAME, 2),
    (plugins::interpodaffinity::NAME, 2),
    (plugins::noderesources::BALANCED_NAME, 1),
];

/// A profile: instantiated plugins with score weights.
pub struct Framework {
    plugins: Vec<(Box<dyn Plugin>, i64)>,
}

/// Why a profile could not be built.
#[derive(Debug, thiserror::Error)]
pub enum FrameworkError {
    /// A profile names a plugin the registry does not have.
    #[error("plugin {0:?} is not registered")]
    UnknownPlugin(String),
}

impl Framework {
    /// Builds a profile from `(plugin name, score weight)` pairs.
    pub fn new(registry: &Registry, profile: &[(&str, i64)]) -> Result<Self, FrameworkError> {
        let plugins = profile
            .iter()
            .map(|(n, w)| {
                registry
                    .build(n)
                    .map(|p| (p, *w))
                    .ok_or_else(|| FrameworkError::UnknownPlugin(n.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { plugins })
    }

    /// The default profile over the default registry.
    pub fn default_profile() -> Self {
        let registry = default_registry();
        let plugins = DEFAULT_PROFILE
            .iter()
            .filter_map(|(n, w)| registry.build(n).map(|p| (p, *w)))
            .collect();
        Self { plugins }
    }

    /// The QueueSort plugin, if any.
    pub fn queue_sort(&self) -> Option<&dyn QueueSort> {
        self.plugins.iter().find_map(|(p, _)| p.as_queue_sort())
    }

    /// Runs all PreFilter plugins; the first failure is returned.
    pub fn run_pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Status {
        for (p, _) in &self.plugins {
            if let Some(f) = p.as_pre_filter() {
                let mut s = f.pre_filter(state, pod, snapshot);
                if !s.is_success() {
                    s.plugin = p.name();
                    return s;
                }
            }
        }
        Status::success()
    }

    /// Runs Filter plugins on one node, stopping at the first failure.
    pub fn run_filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for (p, _) in &self.plugins {
            if let Some(f) = p.as_filter() {
                let mut s = f.filter(state, pod, node);
                if !s.is_success() {
                    s.plugin = p.name();
                    return s;
                }
            }
        }
        Status::success()
    }

    /// Runs PreScore and Score with normalization and weights; returns the summed scores.
    pub fn run_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nodes: &[&NodeInfo],
    ) -> Vec<NodeScore> {
        for (p, _) in &self.plugins {
            if let Some(ps) = p.as_pre_score() {
                ps.pre_score(state, pod, snapshot, nodes);
            }
        }
        let mut total: Vec<NodeScore> = nodes
            .iter()
            .map(|n| NodeScore {
                name: n.name.clone(),
                score: 0,
            })
            .collect();
        for (p, w) in &self.plugins {
            if let Some(sc) = p.as_score() {
                let mut scores: Vec<NodeScore> = nodes
                    .iter()
                    .map(|n| NodeScore {
                        name: String::new(),
                        score: sc.score(state, pod, n),
                    })
                    .collect();
                sc.normalize(state, pod, &mut scores);
                for (t, s) in total.iter_mut().zip(&scores) {
                    t.score += s.score * w;
                }
            }
        }
        total
    }
}

/// Where a pod was placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The chosen node.
    pub node: String,
    /// How many nodes passed the filters.
    pub feasible: usize,
    /// How many nodes were filtered.
    pub evaluated: usize,
}

/// No node fits; `Display` is Kubernetes' FailedScheduling message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    /// Number of nodes in the snapshot.
    pub num_all_nodes: usize,
    /// Per-node failure status.
    pub node_statuses: BTreeMap<String, Status>,
    /// The PreFilter failure, when it rejected all nodes.
    pub pre_filter: Option<Status>,
    /// The PostFilter (preemption) message, e.g. `0/3 nodes are available: 3 Preemption is not
    /// helpful for scheduling.`
    pub post_filter_message: Option<String>,
}

impl std::error::Error for FitError {}

/// Kubernetes' histogram: `count reason` strings, sorted.
pub fn reasons_histogram(statuses: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for rs in statuses {
        for r in rs {
            *counts.entry(r).or_default() += 1;
        }
    }
    let mut v: Vec<String> = counts
        .into_iter()
        .map(|(r, c)| format!("{c} {r}"))
        .collect();
    v.sort();
    v.join(", ")
}

impl std::fmt::Display for FitError {
    /// Kubernetes' `FitError.Error()`: `0/N nodes are available:` then ` <reasons>.` and, after
    /// preemption, ` preemption: <its own FitError message>.` — which is why real events end in `..`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0/{} nodes are available:", self.num_all_nodes)?;
        match &self.pre_filter {
            Some(pf) => write!(f, " {}.", pf.reasons.join(", "))?,
            None => write!(
                f,
                " {}.",
                reasons_histogram(self.node_statuses.values().map(|s| s.reasons.clone()))
            )?,
        }
        if let Some(pm) = &self.post_filter_message {
            write!(f, " preemption: {pm}.")?;
        }
        Ok(())
    }
}

/// Kubernetes' adaptive `percentageOfNodesToScore`: how many feasible nodes to find.
pub fn num_feasible_nodes_to_find(num_all_nodes: usize) -> usize {
    const MIN_FEASIBLE: usize = 100;
    if num_all_nodes < MIN_FEASIBLE {
        return num_all_nodes;
    }
    let pct = (50 - (num_all_nodes / 125) as i64).max(5) as usize;
    (num_all_nodes * pct / 100).max(MIN_FEASIBLE)
}

/// A profile plus the round-robin start index Kubernetes keeps between cycles.
pub struct Scheduler {
    /// The profile.
    pub framework: Framework,
    next_start_node_index: usize,
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new(Framework::default_profile())
    }
}

impl Scheduler {
    /// A scheduler over a profile.
    pub fn new(framework: Framework) -> Self {
        Self {
            framework,
            next_start_node_index: 0,
        }
    }

    /// One scheduling cycle for `pod` over `snapshot` (which is not modified; call
    /// [`Snapshot::assume`] with the result to account the pod).
    pub fn schedule_one(
        &mut self,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<ScheduleResult, FitError> {
        let n = snapshot.len();
        let mut state = CycleState::default();
        let pre = self.framework.run_pre_filter(&mut state, pod, snapshot);
        if !pre.is_success() {
            let node_statuses: BTreeMap<String, Status> = snapshot
                .nodes()
                .iter()
                .map(|nd| (nd.name.clone(), pre.clone()))
                .collect();
            let post = preemption_message(n, &node_statuses);
            return Err(FitError {
                num_all_nodes: n,
                node_statuses,
                pre_filter: Some(pre),
                post_filter_message: Some(post),
            });
        }
        let to_find = num_feasible_nodes_to_find(n);
        let mut feasible: Vec<&NodeInfo> = Vec::new();
        let mut statuses = BTreeMap::new();
        let mut evaluated = 0;
        let nodes = snapshot.nodes();
        let start = if n == 0 {
            0
        } else {
            self.next_start_node_index % n
        };
        for i in 0..n {
            let node = &nodes[(start + i) % n];
            evaluated += 1;
            let s = self.framework.run_filter(&state, pod, node);
            if s.is_success() {
                feasible.push(node);
                if feasible.len() >= to_find {
                    break;
                }
            } else {
                statuses.insert(node.name.clone(), s);
            }
        }
        if n > 0 {
            self.next_start_node_index = (start + evaluated) % n;
        }
        if feasible.is_empty() {
            let post = preemption_message(n, &statuses);
            return Err(FitError {
                num_all_nodes: n,
                node_statuses: statuses,
                pre_filter: None,
                post_filter_message: Some(post),
            });
        }
        if feasible.len() == 1 {
            return Ok(ScheduleResult {
                node: feasible[0].name.clone(),
                feasible: 1,
                evaluated,
            });
        }
        let scores = self
            .framework
            .run_score(&mut state, pod, snapshot, &feasible);
        let mut best = &scores[0];
        for s in &scores[1..] {
            if s.score > best.score {
                best = s;
            }
        }
        tracing::trace!(pod = %pod.key, node = %best.name, score = best.score, "scheduled");
        Ok(ScheduleResult {
            node: best.name.clone(),
            feasible: feasible.len(),
            evaluated,
        })
    }
}

/// The message default preemption reports when it finds no victims: nodes whose failure is
/// unresolvable are "Preemption is not helpful for scheduling", the rest "No preemption victims
/// found for incoming pod".
pub fn preemption_message(num_all_nodes: usize, statuses: &BTreeMap<String, Status>) -> String {
    let reasons = statuses.values().map(|s| {
        vec![if s.code == StatusCode::Unschedulable {
            "No preemption victims found for incoming pod".to_string()
        } else {
            "Preemption is not helpful for scheduling".to_string()
        }]
    });
    format!(
        "0/{num_all_nodes} nodes are available: {}.",
        reasons_histogram(reasons)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::*;
    use serde_json::json;

    #[test]
    fn failed_scheduling_message_counts_reasons_like_kubernetes() {
        let mut cp = node("cp", "8", "16Gi", json!({}));
        cp["spec"] = json!({"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]});
        let mut cp2 = cp.clone();
        cp2["metadata"]["name"] = json!("cp2");
        let snap = Snapshot::new(vec![node("w", "1", "2Gi", json!({})), cp, cp2], Vec::new());
        let mut sched = Scheduler::default();
        let err = sched
            .schedule_one(&PodInfo::new(pod("p", "2", json!({}))), &snap)
            .map(|r| r.node);
        let Err(err) = err else {
            panic!("pod should not fit: {err:?}")
        };
        assert_eq!(
            err.to_string(),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. \
             preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.."
        );
    }

    #[test]
    fn failed_scheduling_message_sorts_count_prefixed_strings() {
        let st = |code, rs: &[&str]| Status {
            code,
            reasons: rs.iter().map(|r| r.to_string()).collect(),
            plugin: "",
        };
        let mut node_statuses = BTreeMap::new();
        node_statuses.insert(
            "a".into(),
            st(
                StatusCode::Unschedulable,
                &["Insufficient cpu", "Insufficient memory"],
            ),
        );
        node_statuses.insert(
            "b".into(),
            st(StatusCode::Unschedulable, &["Insufficient memory"]),
        );
        node_statuses.insert(
            "c".into(),
            st(
                StatusCode::UnschedulableAndUnresolvable,
                &["node(s) were unschedulable"],
            ),
        );
        let e = FitError {
            num_all_nodes: 3,
            node_statuses,
            pre_filter: None,
            post_filter_message: None,
        };
        // "1 Insufficient cpu" < "1 node(s)..." < "2 Insufficient memory": sorted as strings, count first.
        assert_eq!(
            e.to_string(),
            "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable, 2 Insufficient memory."
        );
    }

    #[test]
    fn scheduler_should_evaluate_an_adaptive_share_of_large_clusters() {
        let cases = [(3, 3), (100, 100), (1000, 420), (5000, 500), (10_000, 500)];
        for (n, want) in cases {
            assert_eq!(num_feasible_nodes_to_find(n), want, "{n}");
        }
    }

    #[test]
    fn registry_should_build_every_default_plugin_by_name() {
        let r = default_registry();
        for (name, _) in DEFAULT_PROFILE {
            assert_eq!(r.build(name).map(|p| p.name()), Some(*name));
        }
        assert!(Framework::new(&r, &[("NoSuchPlugin", 1)]).is_err());
    }

    #[test]
    fn scheduler_should_prefer_the_least_allocated_node() {
        let mut snap = Snapshot::new(
            vec![
                node("a", "4", "8Gi", json!({})),
                node("b", "4", "8Gi", json!({})),
            ],
            Vec::new(),
        );
        snap.assume(PodInfo::new(pod("busy", "3", json!({}))), "a");
        let r =
            Scheduler::default().schedule_one(&PodInfo::new(pod("p", "500m", json!({}))), &snap);
        assert_eq!(
            r,
            Ok(ScheduleResult {
                node: "b".into(),
                feasible: 2,
                evaluated: 2
            })
        );
    }
}
