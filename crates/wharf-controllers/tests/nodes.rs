#![allow(clippy::unwrap_used)]
mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use wharf_controllers::ControllersConfig;

fn cfg() -> ControllersConfig {
    ControllersConfig {
        node_monitor_grace_period: Duration::from_secs(2),
        node_monitor_period: Duration::from_millis(200),
        ..only(&["replicaset", "nodelifecycle", "podgc"])
    }
}

async fn heartbeat(nodes: &Api<Node>, name: &str) {
    let now = k8s_openapi::chrono::Utc::now()
        .to_rfc3339_opts(k8s_openapi::chrono::SecondsFormat::Secs, true);
    let st = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now, "lastTransitionTime": now}]}});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&st))
        .await
        .expect("heartbeat");
}

async fn bind(pods: &Api<Pod>, name: &str, node: &str) {
    let b = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}, "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
    pods.create_subresource::<serde_json::Value>(
        "binding",
        name,
        &PostParams::default(),
        serde_json::to_vec(&b).unwrap(),
    )
    .await
    .expect("bind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_leave_a_node_whose_heartbeats_stop_and_are_recreated() {
    let env = Env::start(cfg()).await;
    let nodes: Api<Node> = Api::all(env.client.clone());
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "default");
    nodes
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "n1"}})).unwrap(),
        )
        .await
        .expect("node");
    heartbeat(&nodes, "n1").await;
    // A tolerating pod stays 3 s; the ReplicaSet's pod (tolerating for 0 s, overriding the
    // 300 s DefaultTolerationSeconds adds) goes at once and is replaced.
    let patient: Pod = serde_json::from_value(json!({"metadata": {"name": "patient"}, "spec": {"containers": container(),
        "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 3}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &patient)
        .await
        .expect("patient");
    bind(&pods, "patient", "n1").await;
    let rs: ReplicaSet = serde_json::from_value(json!({"metadata": {"name": "app"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "app"}},
                 "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": container(),
                 "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0}]}}}}))
    .unwrap();
    rss.create(&PostParams::default(), &rs).await.expect("rs");
    let first = eventually(20, "rs pod", || async {
        pods.list(&ListParams::default().labels("app=app"))
            .await
            .ok()?
            .items
            .into_iter()
            .next()
    })
    .await;
    bind(&pods, &first.name_any(), "n1").await;
    mark_ready(&pods, &first.name_any()).await.expect("ready");
    // Heartbeats keep the node healthy for a while.
    for _ in 0..6 {
        heartbeat(&nodes, "n1").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let n = nodes.get("n1").await.expect("node");
    assert!(
        n.spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .is_none_or(|t| t.is_empty()),
        "healthy node has no taints"
    );
    // Heartbeats stop.
    let n = eventually(20, "node unknown and tainted", || async {
        let n = nodes.get("n1").await.ok()?;
        let ready = n
            .status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "Ready")?
            .clone();
        let tainted = n
            .spec
            .as_ref()?
            .taints
            .as_ref()?
            .iter()
            .any(|t| t.key == "node.kubernetes.io/unreachable" && t.effect == "NoExecute");
        (ready.status == "Unknown" && tainted).then_some(n)
    })
    .await;
    let ready = n
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
    assert_eq!(
        ready.message.as_deref(),
        Some("Kubelet stopped posting node status.")
    );
    let evicted = eventually(20, "rs pod evicted", || async {
        let p = pods.get(&first.name_any()).await.ok()?;
        p.metadata.deletion_timestamp.is_some().then_some(p)
    })
    .await;
    assert!(
        !wharf_controllers::util::pod_is_ready(&evicted),
        "pods on an unreachable node are marked not ready"
    );
    assert!(
        pods.get("patient")
            .await
            .expect("patient")
            .metadata
            .deletion_timestamp
            .is_none(),
        "tolerating pod stays for now"
    );
    eventually(20, "replacement", || async {
        let l = pods
            .list(&ListParams::default().labels("app=app"))
            .await
            .ok()?
            .items;
        l.iter()
            .any(|p| p.metadata.deletion_timestamp.is_none() && p.name_any() != first.name_any())
            .then_some(())
    })
    .await;
    eventually(20, "patient evicted after its toleration", || async {
        pods.get("patient")
            .await
            .ok()?
            .metadata
            .deletion_timestamp
            .map(|_| ())
    })
    .await;
    // The node comes back: the taints go.
    heartbeat(&nodes, "n1").await;
    eventually(20, "untainted", || async {
        let n = nodes.get("n1").await.ok()?;
        n.spec
            .as_ref()?
            .taints
            .as_ref()
            .is_none_or(|t| t.is_empty())
            .then_some(())
    })
    .await;
    // The node is deleted: its terminating pods are force-deleted.
    nodes
        .delete("n1", &DeleteParams::default())
        .await
        .expect("delete node");
    eventually(20, "orphans removed", || async {
        let gone = pods.get_opt(&first.name_any()).await.ok()?.is_none()
            && pods.get_opt("patient").await.ok()?.is_none();
        gone.then_some(())
    })
    .await;
    env.shutdown().await;
}
