//! NodeUnschedulable: cordoned nodes reject pods that do not tolerate the unschedulable taint.

use serde_json::json;

use crate::framework::{CycleState, Filter, Plugin, Status, StatusCode};
use crate::plugins::pod_tolerates;
use crate::snapshot::{NodeInfo, PodInfo};

/// Plugin name.
pub const NAME: &str = "NodeUnschedulable";
/// The failure reason.
pub const REASON: &str = "node(s) were unschedulable";

/// The NodeUnschedulable plugin.
pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
}

impl Filter for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.unschedulable {
            return Status::success();
        }
        let taint = json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"});
        if pod_tolerates(pod.spec(), &taint) {
            Status::success()
        } else {
            Status::new(StatusCode::UnschedulableAndUnresolvable, REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::*;

    #[test]
    fn node_unschedulable_should_reject_cordoned_nodes_unless_tolerated() {
        let cases = [
            (false, json!([]), true),
            (true, json!([]), false),
            (
                true,
                json!([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]),
                true,
            ),
            (true, json!([{"operator": "Exists"}]), true),
        ];
        for (cordoned, tolerations, ok) in cases {
            let mut n = node("n", "1", "1Gi", json!({}));
            n["spec"] = json!({"unschedulable": cordoned});
            let mut p = pod("p", "1", json!({}));
            p["spec"]["tolerations"] = tolerations;
            let s = NodeUnschedulable.filter(
                &CycleState::default(),
                &PodInfo::new(p),
                &NodeInfo::new(n),
            );
            assert_eq!(s.is_success(), ok);
        }
    }
}
