//! NodeName: a pod with `spec.nodeName` fits only that node.

use serde_json::Value;

use crate::framework::{CycleState, Filter, Plugin, Status, StatusCode};
use crate::snapshot::{NodeInfo, PodInfo};

/// Plugin name.
pub const NAME: &str = "NodeName";
/// The failure reason.
pub const REASON: &str = "node(s) didn't match the requested node name";

/// The NodeName plugin.
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
}

impl Filter for NodeName {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match pod.spec().get("nodeName").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && n != node.name => {
                Status::new(StatusCode::UnschedulableAndUnresolvable, REASON)
            }
            _ => Status::success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::*;
    use serde_json::json;

    #[test]
    fn node_name_should_only_accept_the_requested_node() {
        let cases = [
            (None, "a", true),
            (Some("a"), "a", true),
            (Some("a"), "b", false),
        ];
        for (want, node_name, ok) in cases {
            let mut p = pod("p", "1", json!({}));
            if let Some(w) = want {
                p["spec"]["nodeName"] = json!(w);
            }
            let s = NodeName.filter(
                &CycleState::default(),
                &PodInfo::new(p),
                &NodeInfo::new(node(node_name, "1", "1Gi", json!({}))),
            );
            assert_eq!(s.is_success(), ok);
        }
    }
}
