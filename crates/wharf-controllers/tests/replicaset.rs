#![allow(clippy::unwrap_used)]
mod common;

use common::*;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

fn rs(name: &str, replicas: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": container()}}}
    }))
    .expect("rs")
}

async fn owned_pods(api: &Api<Pod>, app: &str) -> Vec<Pod> {
    api.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("list")
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_creates_replaces_and_scales_pods_and_reports_status() {
    let mut env = Env::start(only(&["replicaset"])).await;
    let rss: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let created = rss
        .create(&PostParams::default(), &rs("web", 5))
        .await
        .expect("create rs");
    let list = eventually(20, "5 pods", || async {
        Some(owned_pods(&pods, "web").await).filter(|l| l.len() == 5)
    })
    .await;
    for p in &list {
        let r = p
            .owner_references()
            .iter()
            .find(|r| r.controller == Some(true))
            .expect("controller ref");
        assert_eq!(r.uid, created.uid().unwrap());
        assert_eq!(r.kind, "ReplicaSet");
        assert_eq!(r.block_owner_deletion, Some(true));
        assert!(p.name_any().starts_with("web-"));
    }
    // A deleted pod is replaced.
    pods.delete(&list[0].name_any(), &DeleteParams::default())
        .await
        .expect("delete pod");
    eventually(20, "replacement", || async {
        let l = owned_pods(&pods, "web").await;
        (l.len() == 5 && !l.iter().any(|p| p.name_any() == list[0].name_any())).then_some(())
    })
    .await;
    // Readiness shows up in status.
    env.kubelet("default", std::time::Duration::ZERO);
    eventually(20, "ready status", || async {
        let s = rss.get("web").await.ok()?.status?;
        (s.replicas == 5
            && s.ready_replicas == Some(5)
            && s.available_replicas == Some(5)
            && s.fully_labeled_replicas == Some(5)
            && s.observed_generation == Some(1))
        .then_some(())
    })
    .await;
    // Scale down deletes extra pods; scale up creates.
    rss.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 2}})),
    )
    .await
    .expect("scale");
    eventually(20, "2 pods", || async {
        (owned_pods(&pods, "web").await.len() == 2).then_some(())
    })
    .await;
    eventually(20, "status 2", || async {
        let s = rss.get("web").await.ok()?.status?;
        (s.replicas == 2 && s.observed_generation == Some(2)).then_some(())
    })
    .await;
    rss.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 40}})),
    )
    .await
    .expect("scale up");
    eventually(30, "40 pods", || async {
        (owned_pods(&pods, "web").await.len() == 40).then_some(())
    })
    .await;
    eventually(30, "40 ready", || async {
        let s = rss.get("web").await.ok()?.status?;
        (s.replicas == 40 && s.ready_replicas == Some(40)).then_some(())
    })
    .await;
    // No over-creation once settled.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(owned_pods(&pods, "web").await.len(), 40);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_deletes_not_ready_pods_first_when_scaling_down() {
    let env = Env::start(only(&["replicaset"])).await;
    let rss: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    rss.create(&PostParams::default(), &rs("db", 4))
        .await
        .expect("create rs");
    let list = eventually(20, "4 pods", || async {
        Some(owned_pods(&pods, "db").await).filter(|l| l.len() == 4)
    })
    .await;
    let mut ready = Vec::new();
    for p in &list[..2] {
        mark_ready(&pods, &p.name_any()).await.expect("ready");
        ready.push(p.name_any());
    }
    rss.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 2}})),
    )
    .await
    .expect("scale");
    let left = eventually(20, "2 pods", || async {
        Some(owned_pods(&pods, "db").await).filter(|l| l.len() == 2)
    })
    .await;
    let mut names: Vec<String> = left.iter().map(|p| p.name_any()).collect();
    names.sort();
    ready.sort();
    assert_eq!(names, ready, "the ready pods are kept");
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicaset_adopts_matching_orphans_and_releases_relabelled_pods() {
    let env = Env::start(only(&["replicaset"])).await;
    let rss: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let orphan: Pod = serde_json::from_value(json!({"metadata": {"name": "stray", "labels": {"app": "cache"}}, "spec": {"containers": container()}})).unwrap();
    pods.create(&PostParams::default(), &orphan)
        .await
        .expect("orphan");
    let created = rss
        .create(&PostParams::default(), &rs("cache", 2))
        .await
        .expect("rs");
    eventually(20, "adoption", || async {
        let p = pods.get("stray").await.ok()?;
        p.owner_references()
            .iter()
            .any(|r| r.uid == created.uid().unwrap_or_default())
            .then_some(())
    })
    .await;
    eventually(20, "2 pods", || async {
        (owned_pods(&pods, "cache").await.len() == 2).then_some(())
    })
    .await;
    pods.patch(
        "stray",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "other"}}})),
    )
    .await
    .expect("relabel");
    eventually(20, "release", || async {
        let p = pods.get("stray").await.ok()?;
        p.owner_references().is_empty().then_some(())
    })
    .await;
    eventually(20, "replacement", || async {
        (owned_pods(&pods, "cache").await.len() == 2).then_some(())
    })
    .await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_service_account_appears_in_every_namespace() {
    let env = Env::start(only(&["serviceaccount"])).await;
    let sas: Api<ServiceAccount> = Api::namespaced(env.client.clone(), "default");
    eventually(20, "default SA in default", || async {
        sas.get_opt("default").await.ok()?.map(|_| ())
    })
    .await;
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(env.client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "team-a"}})).unwrap(),
    )
    .await
    .expect("ns");
    let in_a: Api<ServiceAccount> = Api::namespaced(env.client.clone(), "team-a");
    eventually(20, "default SA in team-a", || async {
        in_a.get_opt("default").await.ok()?.map(|_| ())
    })
    .await;
    in_a.delete("default", &DeleteParams::default())
        .await
        .expect("delete sa");
    eventually(20, "recreated", || async {
        in_a.get_opt("default").await.ok()?.map(|_| ())
    })
    .await;
    env.shutdown().await;
}
