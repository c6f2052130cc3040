#![allow(clippy::unwrap_used)]
mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

async fn present(pods: &Api<Pod>) -> Vec<(String, bool, String)> {
    let mut v: Vec<(String, bool, String)> = pods
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && p.name_any().starts_with("db-"))
        .map(|p| {
            (
                p.name_any(),
                wharf_controllers::util::pod_is_ready(&p),
                p.labels()
                    .get("controller-revision-hash")
                    .cloned()
                    .unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statefulset_creates_in_order_with_claims_scales_down_from_the_top_and_rolls_updates() {
    let mut env = Env::start(only(&["statefulset"])).await;
    env.kubelet("default", Duration::from_millis(100));
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let sets: Api<StatefulSet> = Api::namespaced(env.client.clone(), "default");
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(env.client.clone(), "default");
    let set: StatefulSet = serde_json::from_value(json!({"metadata": {"name": "db"}, "spec": {
        "replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": container()}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}))
    .unwrap();
    sets.create(&PostParams::default(), &set)
        .await
        .expect("create");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let v = present(&pods).await;
        // Ordered: a pod exists only when every lower ordinal is ready.
        for (i, (name, _, _)) in v.iter().enumerate() {
            assert_eq!(
                name,
                &format!("db-{i}"),
                "ordinals are created in order: {v:?}"
            );
            assert!(
                v[..i].iter().all(|p| p.1),
                "db-{i} created before its predecessors were ready: {v:?}"
            );
        }
        if v.len() == 3 && v.iter().all(|p| p.1) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "pods not created");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let p0 = pods.get("db-0").await.unwrap();
    let spec = p0.spec.as_ref().unwrap();
    assert_eq!(
        (spec.hostname.as_deref(), spec.subdomain.as_deref()),
        (Some("db-0"), Some("db"))
    );
    assert_eq!(
        p0.labels()
            .get("statefulset.kubernetes.io/pod-name")
            .map(String::as_str),
        Some("db-0")
    );
    assert_eq!(
        p0.labels()
            .get("apps.kubernetes.io/pod-index")
            .map(String::as_str),
        Some("0")
    );
    let vol = spec
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == "data")
        .expect("claim volume");
    assert_eq!(
        vol.persistent_volume_claim.as_ref().unwrap().claim_name,
        "data-db-0"
    );
    for i in 0..3 {
        pvcs.get(&format!("data-db-{i}"))
            .await
            .expect("claim recorded");
    }
    eventually(20, "status", || async {
        let s = sets.get("db").await.ok()?.status?;
        (s.ready_replicas == Some(3)
            && s.current_revision.is_some()
            && s.current_revision == s.update_revision)
            .then_some(())
    })
    .await;
    // Rolling update from the highest ordinal down.
    let old = present(&pods).await[0].2.clone();
    sets.patch("db", &PatchParams::default(), &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}}))).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let v = present(&pods).await;
        let updated: Vec<bool> = (0..3)
            .map(|i| v.iter().any(|p| p.0 == format!("db-{i}") && p.2 != old))
            .collect();
        // Once a lower ordinal is updated, every higher one is too.
        for i in 0..2 {
            assert!(
                !updated[i] || updated[i + 1],
                "db-{i} updated before db-{}: {v:?}",
                i + 1
            );
        }
        let s = sets.get("db").await.unwrap().status.unwrap();
        if updated.iter().all(|u| *u)
            && v.iter().all(|p| p.1)
            && s.updated_replicas == Some(3)
            && s.current_revision == s.update_revision
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "update did not finish: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Scale down removes the highest ordinals; claims stay.
    sets.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    eventually(20, "scaled down", || async {
        let v = present(&pods).await;
        (v.len() == 1 && v[0].0 == "db-0").then_some(())
    })
    .await;
    pvcs.get("data-db-2").await.expect("claims are retained");
    env.shutdown().await;
}
