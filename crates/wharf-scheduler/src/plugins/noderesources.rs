//! NodeResourcesFit (filter on requests and pod count, LeastAllocated score) and
//! NodeResourcesBalancedAllocation.

use crate::framework::{CycleState, Filter, Plugin, Score, Status, StatusCode, MAX_NODE_SCORE};
use crate::resources::Resources;
use crate::snapshot::{NodeInfo, PodInfo};

/// NodeResourcesFit plugin name.
pub const FIT_NAME: &str = "NodeResourcesFit";
/// NodeResourcesBalancedAllocation plugin name.
pub const BALANCED_NAME: &str = "NodeResourcesBalancedAllocation";

/// NodeResourcesFit with the LeastAllocated scoring strategy (cpu and memory, weight 1 each).
pub struct Fit;

/// The reasons a pod does not fit a node's free resources, in Kubernetes' order.
pub fn insufficient(pod: &Resources, node: &NodeInfo) -> Vec<String> {
    let mut reasons = Vec::new();
    if node.pods.len() as i64 + 1 > node.allocatable.pods {
        reasons.push("Too many pods".to_string());
    }
    if pod.milli_cpu == 0 && pod.memory == 0 && pod.ephemeral_storage == 0 {
        return reasons;
    }
    let (a, r) = (&node.allocatable, &node.requested);
    if pod.milli_cpu > 0 && pod.milli_cpu > a.milli_cpu - r.milli_cpu {
        reasons.push("Insufficient cpu".to_string());
    }
    if pod.memory > 0 && pod.memory > a.memory - r.memory {
        reasons.push("Insufficient memory".to_string());
    }
    if pod.ephemeral_storage > 0
        && pod.ephemeral_storage > a.ephemeral_storage - r.ephemeral_storage
    {
        reasons.push("Insufficient ephemeral-storage".to_string());
    }
    reasons
}

impl Plugin for Fit {
    fn name(&self) -> &'static str {
        FIT_NAME
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl Filter for Fit {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let reasons = insufficient(&pod.requests, node);
        if reasons.is_empty() {
            Status::success()
        } else {
            Status {
                code: StatusCode::Unschedulable,
                reasons,
                plugin: FIT_NAME,
            }
        }
    }
}

fn least_allocated(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

impl Score for Fit {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let cpu = least_allocated(
            node.non_zero_requested.milli_cpu + pod.non_zero_requests.milli_cpu,
            node.allocatable.milli_cpu,
        );
        let mem = least_allocated(
            node.non_zero_requested.memory + pod.non_zero_requests.memory,
            node.allocatable.memory,
        );
        (cpu + mem) / 2
    }
}

/// NodeResourcesBalancedAllocation: favours nodes whose cpu and memory use stay even.
pub struct BalancedAllocation;

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        BALANCED_NAME
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl Score for BalancedAllocation {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let frac = |req: i64, cap: i64| {
            if cap == 0 {
                0.0
            } else {
                (req as f64 / cap as f64).min(1.0)
            }
        };
        let cpu = frac(
            node.requested.milli_cpu + pod.requests.milli_cpu,
            node.allocatable.milli_cpu,
        );
        let mem = frac(
            node.requested.memory + pod.requests.memory,
            node.allocatable.memory,
        );
        let std = (cpu - mem).abs() / 2.0;
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::*;
    use serde_json::json;

    fn pod_req(cpu: &str, mem: &str) -> PodInfo {
        PodInfo::new(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"resources": {"requests": {"cpu": cpu, "memory": mem}}}]}}),
        )
    }

    #[test]
    fn node_resources_fit_should_reject_when_cpu_is_insufficient() {
        let mut n = NodeInfo::new(node("n", "2", "4Gi", json!({})));
        n.add_pod(pod_req("1500m", "1Gi"));
        let cases = [
            (pod_req("500m", "1Gi"), vec![]),
            (pod_req("600m", "1Gi"), vec!["Insufficient cpu"]),
            (
                pod_req("600m", "4Gi"),
                vec!["Insufficient cpu", "Insufficient memory"],
            ),
            (pod_req("0", "3Gi"), vec![]),
        ];
        for (p, want) in cases {
            let s = Fit.filter(&CycleState::default(), &p, &n);
            assert_eq!(s.reasons, want);
            assert_eq!(
                s.code,
                if want.is_empty() {
                    StatusCode::Success
                } else {
                    StatusCode::Unschedulable
                }
            );
        }
    }

    #[test]
    fn node_resources_fit_should_reject_when_the_node_has_too_many_pods() {
        let mut n = node("n", "2", "4Gi", json!({}));
        n["status"]["allocatable"]["pods"] = json!("1");
        let mut n = NodeInfo::new(n);
        assert!(Fit
            .filter(&CycleState::default(), &pod_req("0", "0"), &n)
            .is_success());
        n.add_pod(pod_req("0", "0"));
        assert_eq!(
            Fit.filter(&CycleState::default(), &pod_req("0", "0"), &n)
                .reasons,
            vec!["Too many pods"]
        );
    }

    #[test]
    fn least_allocated_and_balanced_allocation_should_score_like_kubernetes() {
        // Kubernetes' example: node 4000m/10000 bytes... here 4 cores / 10Gi, pod 1 core / 2.5Gi.
        let n = NodeInfo::new(node("n", "4", "10Gi", json!({})));
        let p = pod_req("1", "2560Mi");
        // cpu: (4000-1000)*100/4000 = 75; mem: 75 → 75
        assert_eq!(Fit.score(&CycleState::default(), &p, &n), 75);
        assert_eq!(
            BalancedAllocation.score(&CycleState::default(), &p, &n),
            100
        );
        let p2 = pod_req("2", "2560Mi");
        // fractions 0.5 and 0.25: std 0.125 → 87
        assert_eq!(
            BalancedAllocation.score(&CycleState::default(), &p2, &n),
            87
        );
        // no requests: defaults 100m / 200Mi count for LeastAllocated
        let empty = PodInfo::new(json!({"metadata": {"name": "e"}, "spec": {"containers": [{}]}}));
        let want =
            ((4000 - 100) * 100 / 4000 + ((10i64 << 30) - (200 << 20)) * 100 / (10 << 30)) / 2;
        assert_eq!(Fit.score(&CycleState::default(), &empty, &n), want);
    }
}
