#![allow(clippy::unwrap_used)]
mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{json, Value};

fn deployment(name: &str, replicas: i32, strategy: Value) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "strategy": strategy,
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": container()}}}
    }))
    .expect("deployment")
}

/// kubectl 1.32's `rollout status` verdict for a Deployment: Ok(true) done, Ok(false) waiting.
fn rollout_status(d: &Deployment) -> Result<bool, String> {
    let s = d.status.clone().unwrap_or_default();
    if d.metadata.generation.unwrap_or(0) > s.observed_generation.unwrap_or(0) {
        return Ok(false);
    }
    if s.conditions.iter().flatten().any(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    }) {
        return Err(format!(
            "deployment {:?} exceeded its progress deadline",
            d.name_any()
        ));
    }
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = s.updated_replicas.unwrap_or(0);
    Ok(updated >= want
        && s.replicas.unwrap_or(0) <= updated
        && s.available_replicas.unwrap_or(0) >= updated)
}

async fn rs_of(api: &Api<ReplicaSet>, app: &str) -> Vec<ReplicaSet> {
    let mut v = api
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("list rs")
        .items;
    v.sort_by_key(|r| {
        r.annotations()
            .get("deployment.kubernetes.io/revision")
            .and_then(|x| x.parse::<i32>().ok())
            .unwrap_or(0)
    });
    v
}

fn cond<'a>(
    d: &'a Deployment,
    t: &str,
) -> Option<&'a k8s_openapi::api::apps::v1::DeploymentCondition> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == t)
}

async fn wait_rolled_out(api: &Api<Deployment>, name: &str) -> Deployment {
    eventually(60, "rollout complete", || async {
        let d = api.get(name).await.ok()?;
        (rollout_status(&d) == Ok(true)
            && cond(&d, "Progressing").and_then(|c| c.reason.as_deref())
                == Some("NewReplicaSetAvailable"))
        .then_some(d)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_stays_within_surge_and_unavailability_and_rolls_back_with_a_new_revision() {
    let mut env = Env::start(only(&["replicaset", "deployment"])).await;
    env.kubelet("default", Duration::from_millis(150));
    let ds: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}});
    ds.create(&PostParams::default(), &deployment("web", 6, strategy))
        .await
        .expect("create");
    let d = wait_rolled_out(&ds, "web").await;
    assert_eq!(
        d.annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("1")
    );
    let avail = cond(&d, "Available").expect("available");
    assert_eq!(
        (avail.status.as_str(), avail.reason.as_deref()),
        ("True", Some("MinimumReplicasAvailable"))
    );
    let first = rs_of(&rss, "web").await;
    assert_eq!(first.len(), 1);
    let hash = first[0]
        .labels()
        .get("pod-template-hash")
        .cloned()
        .expect("hash label");
    assert_eq!(first[0].name_any(), format!("web-{hash}"));
    assert_eq!(
        first[0]
            .spec
            .as_ref()
            .unwrap()
            .selector
            .match_labels
            .as_ref()
            .unwrap()
            .get("pod-template-hash"),
        Some(&hash)
    );

    // Roll to a new image and watch the bounds while it happens.
    ds.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}}}))).await.expect("update image");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let sets = rs_of(&rss, "web").await;
        let total: i32 = sets
            .iter()
            .map(|r| r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0))
            .sum();
        let seen: Vec<(String, Option<i32>, Option<String>)> = sets
            .iter()
            .map(|r| {
                (
                    r.name_any(),
                    r.spec.as_ref().and_then(|s| s.replicas),
                    r.resource_version(),
                )
            })
            .collect();
        assert!(
            total <= 8,
            "replicas across replica sets exceed replicas+maxSurge: {total}: {seen:?}"
        );
        let ready = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .expect("pods")
            .items
            .iter()
            .filter(|p| {
                p.metadata.deletion_timestamp.is_none() && wharf_controllers::util::pod_is_ready(p)
            })
            .count();
        assert!(
            ready >= 5,
            "ready pods dropped below replicas-maxUnavailable: {ready}"
        );
        let d = ds.get("web").await.expect("get");
        if rollout_status(&d) == Ok(true)
            && d.annotations()
                .get("deployment.kubernetes.io/revision")
                .map(String::as_str)
                == Some("2")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rollout did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let d = wait_rolled_out(&ds, "web").await;
    assert_eq!(d.status.as_ref().unwrap().updated_replicas, Some(6));
    let sets = rs_of(&rss, "web").await;
    assert_eq!(sets.len(), 2);
    assert_eq!(
        sets[0].spec.as_ref().unwrap().replicas,
        Some(0),
        "old replica set scaled to zero"
    );
    assert_eq!(sets[1].spec.as_ref().unwrap().replicas, Some(6));

    // `kubectl rollout undo`: the template of revision 1 comes back; its replica set is reused as revision 3.
    let mut old_template =
        serde_json::to_value(sets[0].spec.as_ref().unwrap().template.clone().unwrap()).unwrap();
    old_template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("pod-template-hash");
    ds.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": old_template}})),
    )
    .await
    .expect("undo");
    eventually(60, "revision 3", || async {
        let d = ds.get("web").await.ok()?;
        (rollout_status(&d) == Ok(true)
            && d.annotations()
                .get("deployment.kubernetes.io/revision")
                .map(String::as_str)
                == Some("3"))
        .then_some(())
    })
    .await;
    let sets = rs_of(&rss, "web").await;
    assert_eq!(sets.len(), 2, "no new replica set for a rollback");
    let reused = sets
        .iter()
        .find(|r| r.name_any() == first[0].name_any())
        .expect("first rs still there");
    assert_eq!(
        reused
            .annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("3")
    );
    assert_eq!(
        reused
            .annotations()
            .get("deployment.kubernetes.io/revision-history")
            .map(String::as_str),
        Some("1")
    );
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_removes_every_old_pod_before_creating_new_ones() {
    let mut env = Env::start(only(&["replicaset", "deployment"])).await;
    env.kubelet("default", Duration::ZERO);
    let ds: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    ds.create(
        &PostParams::default(),
        &deployment("batch", 4, json!({"type": "Recreate"})),
    )
    .await
    .expect("create");
    wait_rolled_out(&ds, "batch").await;
    ds.patch("batch", &PatchParams::default(), &Patch::Merge(json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}}}))).await.expect("restart");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let list = pods
            .list(&ListParams::default().labels("app=batch"))
            .await
            .expect("pods")
            .items;
        let new = list
            .iter()
            .filter(|p| {
                p.annotations()
                    .contains_key("kubectl.kubernetes.io/restartedAt")
            })
            .count();
        let old = list.len() - new;
        assert!(
            new == 0 || old == 0,
            "old and new pods coexist under Recreate: {old} old, {new} new"
        );
        let d = ds.get("batch").await.expect("get");
        if new == 4
            && rollout_status(&d) == Ok(true)
            && d.annotations()
                .get("deployment.kubernetes.io/revision")
                .map(String::as_str)
                == Some("2")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "recreate did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_mid_rollout_is_proportional_and_history_is_limited() {
    let mut env = Env::start(only(&["replicaset", "deployment"])).await;
    env.kubelet("default", Duration::ZERO);
    let ds: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "default");
    let mut d = deployment(
        "api",
        10,
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}),
    );
    d.spec.as_mut().unwrap().revision_history_limit = Some(1);
    ds.create(&PostParams::default(), &d).await.expect("create");
    wait_rolled_out(&ds, "api").await;
    // Two quick rollouts: history keeps one old replica set.
    for image in ["nginx:2", "nginx:3"] {
        ds.patch("api", &PatchParams::default(), &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}))).await.expect("update");
        eventually(60, "rolled", || async {
            let d = ds.get("api").await.ok()?;
            let rev = d
                .annotations()
                .get("deployment.kubernetes.io/revision")
                .cloned();
            (rollout_status(&d) == Ok(true)
                && cond(&d, "Progressing").and_then(|c| c.reason.as_deref())
                    == Some("NewReplicaSetAvailable")
                && rev.is_some_and(|r| r != "1"))
            .then_some(())
        })
        .await;
    }
    eventually(30, "history limited to 1", || async {
        (rs_of(&rss, "api").await.len() == 2).then_some(())
    })
    .await;

    // New pods never become ready: the rollout stalls at old=8 new=5, then scale 10 -> 20.
    env.stop_kubelets();
    ds.patch("api", &PatchParams::default(), &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:4"}]}}}}))).await.expect("update");
    let sizes = |sets: &[ReplicaSet]| {
        sets.iter()
            .map(|r| r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0))
            .filter(|n| *n > 0)
            .collect::<Vec<_>>()
    };
    eventually(30, "stalled at 8/5", || async {
        (sizes(&rs_of(&rss, "api").await) == vec![8, 5]).then_some(())
    })
    .await;
    ds.patch(
        "api",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 20}})),
    )
    .await
    .expect("scale");
    eventually(30, "proportional 14/9", || async {
        (sizes(&rs_of(&rss, "api").await) == vec![14, 9]).then_some(())
    })
    .await;
    let d = ds.get("api").await.expect("get");
    assert_ne!(rollout_status(&d), Ok(true));
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_rollout_reports_progress_deadline_exceeded() {
    let env = Env::start(only(&["replicaset", "deployment"])).await;
    let ds: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    let mut d = deployment("slow", 2, json!({"type": "RollingUpdate"}));
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(2);
    ds.create(&PostParams::default(), &d).await.expect("create");
    let d = eventually(30, "deadline exceeded", || async {
        let d = ds.get("slow").await.ok()?;
        let c = cond(&d, "Progressing")?;
        (c.reason.as_deref() == Some("ProgressDeadlineExceeded") && c.status == "False")
            .then_some(d)
    })
    .await;
    assert!(rollout_status(&d).is_err());
    let a = cond(&d, "Available").expect("available");
    assert_eq!(
        (a.status.as_str(), a.reason.as_deref()),
        ("False", Some("MinimumReplicasUnavailable"))
    );
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_deployment_scales_but_does_not_roll_until_resumed() {
    let mut env = Env::start(only(&["replicaset", "deployment"])).await;
    env.kubelet("default", Duration::ZERO);
    let ds: Api<Deployment> = Api::namespaced(env.client.clone(), "default");
    let rss: Api<ReplicaSet> = Api::namespaced(env.client.clone(), "default");
    ds.create(
        &PostParams::default(),
        &deployment("p", 2, json!({"type": "RollingUpdate"})),
    )
    .await
    .expect("create");
    wait_rolled_out(&ds, "p").await;
    ds.patch(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"paused": true}})),
    )
    .await
    .expect("pause");
    eventually(20, "paused condition", || async {
        let d = ds.get("p").await.ok()?;
        let c = cond(&d, "Progressing")?;
        (c.reason.as_deref() == Some("DeploymentPaused") && c.status == "Unknown").then_some(())
    })
    .await;
    ds.patch("p", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}}))).await.expect("change");
    eventually(20, "scaled while paused", || async {
        let sets = rs_of(&rss, "p").await;
        (sets.len() == 1 && sets[0].spec.as_ref()?.replicas == Some(3)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rs_of(&rss, "p").await.len(), 1, "no rollout while paused");
    ds.patch(
        "p",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"paused": false}})),
    )
    .await
    .expect("resume");
    let d = eventually(60, "rolled after resume", || async {
        let d = ds.get("p").await.ok()?;
        (rollout_status(&d) == Ok(true)
            && d.annotations()
                .get("deployment.kubernetes.io/revision")
                .map(String::as_str)
                == Some("2")
            && cond(&d, "Progressing").and_then(|c| c.reason.as_deref())
                == Some("NewReplicaSetAvailable"))
        .then_some(d)
    })
    .await;
    assert_eq!(d.status.unwrap().updated_replicas, Some(3));
    env.shutdown().await;
}
