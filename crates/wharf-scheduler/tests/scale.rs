//! 5,000 nodes in three zones, 2,000 pods scheduled one after another through the snapshot.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::json;
use wharf_scheduler::{PodInfo, Scheduler, Snapshot};

#[test]
fn scheduler_should_place_two_thousand_pods_on_five_thousand_nodes_within_max_skew() {
    const NODES: usize = 5_000;
    const PODS: usize = 2_000;
    const MAX_SKEW: usize = 1;
    let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
    let nodes = (0..NODES).map(|i| {
        json!({
            "metadata": {"name": format!("node-{i}"), "labels": {
                "topology.kubernetes.io/zone": zones[i % 3], "kubernetes.io/hostname": format!("node-{i}")}},
            "status": {"allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"}}
        })
    });
    let mut snapshot = Snapshot::new(nodes.collect::<Vec<_>>(), Vec::new());
    let mut scheduler = Scheduler::default();
    let start = Instant::now();
    let mut evaluated = 0;
    for i in 0..PODS {
        let pod = PodInfo::new(json!({
            "metadata": {"name": format!("web-{i}"), "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "c", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}],
                "topologySpreadConstraints": [{
                    "maxSkew": MAX_SKEW, "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}
                }]
            }
        }));
        let result = scheduler.schedule_one(&pod, &snapshot);
        let result = match result {
            Ok(r) => r,
            Err(e) => panic!("pod {i} was not placed: {e}"),
        };
        evaluated += result.evaluated;
        assert!(snapshot.assume(pod, &result.node));
    }
    let elapsed = start.elapsed();
    println!(
        "scheduled {PODS} pods on {NODES} nodes in {elapsed:?}: {:.0} pods/s, {} nodes evaluated per pod",
        PODS as f64 / elapsed.as_secs_f64(),
        evaluated / PODS
    );
    let mut per_zone: BTreeMap<&str, usize> = BTreeMap::new();
    for n in snapshot.nodes() {
        *per_zone
            .entry(n.label("topology.kubernetes.io/zone").unwrap_or(""))
            .or_default() += n.pods.len();
    }
    assert_eq!(per_zone.values().sum::<usize>(), PODS);
    let (min, max) = (
        per_zone.values().min().copied().unwrap_or(0),
        per_zone.values().max().copied().unwrap_or(0),
    );
    assert!(max - min <= MAX_SKEW, "zones {per_zone:?}");
}
