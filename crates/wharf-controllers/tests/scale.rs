#![allow(clippy::unwrap_used)]
mod common;

use std::time::{Duration, Instant};

use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, PostParams};
use kube::Api;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_create_thousands_of_pods_in_batches_and_record_events() {
    let env = Env::start(only(&["replicaset", "deployment"])).await;
    let ds: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let n = 3000;
    let start = Instant::now();
    for i in 0..3 {
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": format!("bulk{i}")},
            "spec": {"replicas": n / 3, "selector": {"matchLabels": {"app": "bulk", "i": i.to_string()}},
                     "template": {"metadata": {"labels": {"app": "bulk", "i": i.to_string()}}, "spec": {"containers": container()}}}
        }))
        .unwrap();
        ds.create(&PostParams::default(), &d).await.expect("create");
    }
    eventually(120, "all pods", || async {
        let l = pods
            .list_metadata(&ListParams::default().labels("app=bulk"))
            .await
            .ok()?;
        (l.items.len() == n as usize).then_some(())
    })
    .await;
    let took = start.elapsed();
    eprintln!(
        "created {n} pods in {took:?} ({:.0} pods/s)",
        n as f64 / took.as_secs_f64()
    );
    // Settled: exactly n pods, nothing more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        pods.list_metadata(&ListParams::default().labels("app=bulk"))
            .await
            .expect("list")
            .items
            .len(),
        n as usize
    );
    // Events as Kubernetes records them (with the spam filter capping per-object volume).
    let events: Api<Event> = Api::namespaced(env.client.clone(), "default");
    let evs = eventually(20, "events", || async {
        let l = events.list(&ListParams::default()).await.ok()?.items;
        let scaled = l.iter().any(|e| {
            e.reason.as_deref() == Some("ScalingReplicaSet")
                && e.reporting_controller.as_deref() == Some("deployment-controller")
                && e.note.as_deref().is_some_and(|m| {
                    m.starts_with("Scaled up replica set bulk0-")
                        && m.ends_with(&format!("from 0 to {}", n / 3))
                })
        });
        let created = l.iter().any(|e| {
            e.reason.as_deref() == Some("SuccessfulCreate")
                && e.reporting_controller.as_deref() == Some("replicaset-controller")
                && e.note
                    .as_deref()
                    .is_some_and(|m| m.starts_with("Created pod: bulk"))
        });
        (scaled && created).then_some(l)
    })
    .await;
    assert!(
        evs.len() < 500,
        "events are rate limited per object: {}",
        evs.len()
    );
    env.shutdown().await;
}
