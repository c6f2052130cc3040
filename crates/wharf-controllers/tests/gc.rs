#![allow(clippy::unwrap_used)]
mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": container()}}}
    }))
    .expect("deployment")
}

async fn count<K>(api: &Api<K>, app: &str) -> usize
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("list")
        .items
        .len()
}

async fn settled(env: &Env, name: &str, pods: usize) {
    let ps: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    eventually(30, "pods created", || async {
        (count(&ps, name).await == pods).then_some(())
    })
    .await;
}

fn all() -> wharf_controllers::ControllersConfig {
    only(&["replicaset", "deployment", "garbagecollector"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_deletion_removes_replica_sets_and_pods_of_a_deleted_deployment() {
    let env = Env::start(all()).await;
    let ds: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "default");
    let ps: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    ds.create(&PostParams::default(), &deployment("bg", 3))
        .await
        .expect("create");
    settled(&env, "bg", 3).await;
    ds.delete("bg", &DeleteParams::background())
        .await
        .expect("delete");
    eventually(30, "dependents gone", || async {
        (count(&rss, "bg").await == 0 && count(&ps, "bg").await == 0).then_some(())
    })
    .await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_deletion_keeps_the_owner_until_its_dependents_are_gone() {
    let env = Env::start(all()).await;
    let ds: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "default");
    let ps: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    ds.create(&PostParams::default(), &deployment("fg", 3))
        .await
        .expect("create");
    settled(&env, "fg", 3).await;
    // A finalizer on one pod holds the whole chain.
    let p = ps
        .list(&ListParams::default().labels("app=fg"))
        .await
        .expect("pods")
        .items
        .remove(0);
    ps.patch(
        &p.name_any(),
        &Default::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"finalizers": ["test/hold"]}})),
    )
    .await
    .expect("hold");
    ds.delete("fg", &DeleteParams::foreground())
        .await
        .expect("delete");
    eventually(30, "other pods gone", || async {
        (count(&ps, "fg").await == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d = ds
        .get("fg")
        .await
        .expect("owner still there while a dependent remains");
    assert!(d.metadata.deletion_timestamp.is_some());
    assert!(d.finalizers().iter().any(|f| f == "foregroundDeletion"));
    assert_eq!(
        count(&rss, "fg").await,
        1,
        "the replica set waits for its pod"
    );
    ps.patch(
        &p.name_any(),
        &Default::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");
    eventually(30, "owner gone", || async {
        ds.get_opt("fg").await.ok()?.is_none().then_some(())
    })
    .await;
    assert_eq!(count(&rss, "fg").await, 0);
    assert_eq!(count(&ps, "fg").await, 0);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_deletion_leaves_dependents_without_the_owner_reference() {
    let env = Env::start(all()).await;
    let rss: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "default");
    let ps: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "orph"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "orph"}},
                 "template": {"metadata": {"labels": {"app": "orph"}}, "spec": {"containers": container()}}}
    }))
    .unwrap();
    rss.create(&PostParams::default(), &rs)
        .await
        .expect("create");
    settled(&env, "orph", 2).await;
    rss.delete("orph", &DeleteParams::orphan())
        .await
        .expect("delete");
    eventually(30, "owner gone", || async {
        rss.get_opt("orph").await.ok()?.is_none().then_some(())
    })
    .await;
    let pods = ps
        .list(&ListParams::default().labels("app=orph"))
        .await
        .expect("pods")
        .items;
    assert_eq!(pods.len(), 2, "pods survive");
    assert!(
        pods.iter().all(|p| p.owner_references().is_empty()),
        "owner references removed"
    );
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependents_of_any_kind_go_when_their_owner_does() {
    let env = Env::start(only(&["garbagecollector"])).await;
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), "default");
    let owner = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "owner"}})).unwrap(),
        )
        .await
        .expect("owner");
    let dep: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "dep", "labels": {"app": "dep"}, "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.uid().unwrap()}
        ]}}),
    )
    .unwrap();
    cms.create(&PostParams::default(), &dep)
        .await
        .expect("dependent");
    // A dependent whose owner never existed is collected too.
    let ghost: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "ghost", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "nobody", "uid": "00000000-0000-0000-0000-000000000000"}
    ]}}))
    .unwrap();
    cms.create(&PostParams::default(), &ghost)
        .await
        .expect("ghost");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        cms.get_opt("dep").await.expect("get").is_some(),
        "a dependent with a live owner stays"
    );
    cms.delete("owner", &DeleteParams::default())
        .await
        .expect("delete owner");
    eventually(30, "dependent collected", || async {
        cms.get_opt("dep").await.ok()?.is_none().then_some(())
    })
    .await;
    eventually(30, "ghost collected", || async {
        cms.get_opt("ghost").await.ok()?.is_none().then_some(())
    })
    .await;
    env.shutdown().await;
}
