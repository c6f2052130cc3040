#![allow(clippy::unwrap_used)]
mod common;

use std::collections::BTreeMap;

use common::*;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

fn pinned(p: &Pod) -> Option<String> {
    let terms = &p
        .spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|f| f.key == "metadata.name")
        .and_then(|f| f.values.as_ref()?.first().cloned())
}

async fn by_node(pods: &Api<Pod>) -> BTreeMap<String, Vec<Pod>> {
    let mut m: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
    for p in pods
        .list(&ListParams::default().labels("app=agent"))
        .await
        .unwrap()
        .items
    {
        if p.metadata.deletion_timestamp.is_none() {
            m.entry(pinned(&p).unwrap_or_default()).or_default().push(p);
        }
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemonset_runs_one_pod_per_eligible_node_and_rolls_updates() {
    let mut env = Env::start(only(&["daemonset"])).await;
    let nodes: Api<Node> = Api::all(env.client.clone());
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let dss: Api<DaemonSet> = Api::namespaced(env.client.clone(), "default");
    for (name, role) in [("n1", "worker"), ("n2", "worker"), ("n3", "infra")] {
        nodes
            .create(
                &PostParams::default(),
                &serde_json::from_value(
                    json!({"metadata": {"name": name, "labels": {"role": role}}}),
                )
                .unwrap(),
            )
            .await
            .unwrap();
    }
    // A tainted worker is skipped.
    nodes.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "n4", "labels": {"role": "worker"}}, "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}})).unwrap()).await.unwrap();
    let ds: DaemonSet = serde_json::from_value(json!({"metadata": {"name": "agent"}, "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"nodeSelector": {"role": "worker"}, "containers": container()}}}}))
    .unwrap();
    dss.create(&PostParams::default(), &ds)
        .await
        .expect("create");
    let m = eventually(20, "pods on n1 and n2", || async {
        let m = by_node(&pods).await;
        (m.keys().cloned().collect::<Vec<_>>() == ["n1", "n2"] && m.values().all(|v| v.len() == 1))
            .then_some(m)
    })
    .await;
    let p = &m["n1"][0];
    assert!(p.labels().contains_key("controller-revision-hash"));
    assert!(p
        .spec
        .as_ref()
        .unwrap()
        .tolerations
        .as_ref()
        .unwrap()
        .iter()
        .any(|t| t.key.as_deref() == Some("node.kubernetes.io/unreachable")));
    // A new eligible node gets a pod.
    nodes
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "n5", "labels": {"role": "worker"}}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    eventually(20, "pod on n5", || async {
        by_node(&pods).await.contains_key("n5").then_some(())
    })
    .await;
    env.kubelet("default", std::time::Duration::ZERO);
    eventually(20, "status", || async {
        let s = dss.get("agent").await.ok()?.status?;
        (s.desired_number_scheduled == 3
            && s.number_ready == 3
            && s.number_available == Some(3)
            && s.updated_number_scheduled == Some(3))
        .then_some(())
    })
    .await;
    // A template change replaces the pods, never more than one unavailable at a time.
    let old_hash = p.labels()["controller-revision-hash"].clone();
    dss.patch("agent", &PatchParams::default(), &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}}}))).await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let m = by_node(&pods).await;
        let ready = m
            .values()
            .flatten()
            .filter(|p| wharf_controllers::util::pod_is_ready(p))
            .count();
        assert!(
            ready >= 2,
            "more than maxUnavailable=1 daemon pods unavailable: {ready} ready"
        );
        let all_new = m.len() == 3
            && m.values().flatten().all(|p| {
                p.labels()["controller-revision-hash"] != old_hash
                    && wharf_controllers::util::pod_is_ready(p)
            });
        let s = dss.get("agent").await.unwrap().status.unwrap();
        if all_new
            && s.updated_number_scheduled == Some(3)
            && s.number_available == Some(3)
            && s.observed_generation == dss.get("agent").await.unwrap().metadata.generation
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rolling update did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // A node that stops matching loses its pod.
    nodes
        .patch(
            "n1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"role": "infra"}}})),
        )
        .await
        .unwrap();
    eventually(20, "n1 pod removed", || async {
        (!by_node(&pods).await.contains_key("n1")).then_some(())
    })
    .await;
    env.shutdown().await;
}
