#![allow(clippy::unwrap_used)]
mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{json, Value};
use wharf_controllers::ControllersConfig;

fn job(name: &str, spec: Value) -> Job {
    let mut s =
        json!({"template": {"spec": {"restartPolicy": "Never", "containers": container()}}});
    for (k, v) in spec.as_object().unwrap() {
        s[k] = v.clone();
    }
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": s})).expect("job")
}

fn cond(j: &Job, t: &str) -> Option<(String, String)> {
    j.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == t && c.status == "True")
        .map(|c| {
            (
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
}

fn cfg(names: &[&str]) -> ControllersConfig {
    ControllersConfig {
        job_backoff_base: Duration::from_millis(10),
        ..only(names)
    }
}

async fn job_pods(api: &Api<Pod>, name: &str) -> Vec<Pod> {
    api.list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={name}")))
        .await
        .expect("pods")
        .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_completes_once_completions_succeed_and_releases_its_pods() {
    let mut env = Env::start(cfg(&["job"])).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    jobs.create(
        &PostParams::default(),
        &job("pi", json!({"completions": 3, "parallelism": 2})),
    )
    .await
    .expect("create");
    // Pods carry the tracking finalizer while they run; at most `parallelism` at once.
    let first = eventually(20, "pods", || async {
        Some(job_pods(&pods, "pi").await).filter(|l| !l.is_empty())
    })
    .await;
    assert!(first.len() <= 2);
    assert!(first.iter().all(|p| p
        .finalizers()
        .iter()
        .any(|f| f == "batch.kubernetes.io/job-tracking")));
    env.finishing_kubelet("default", "Succeeded");
    let j = eventually(30, "complete", || async {
        let j = jobs.get("pi").await.ok()?;
        cond(&j, "Complete").map(|_| j)
    })
    .await;
    let s = j.status.clone().unwrap();
    assert_eq!(s.succeeded, Some(3));
    assert_eq!(s.active.unwrap_or(0), 0);
    assert!(s.start_time.is_some() && s.completion_time.is_some());
    assert_eq!(
        cond(&j, "SuccessCriteriaMet").map(|c| c.0),
        Some("CompletionsReached".into())
    );
    assert_eq!(
        cond(&j, "Complete").map(|c| c.0),
        Some("CompletionsReached".into())
    );
    eventually(20, "finalizers released", || async {
        let l = job_pods(&pods, "pi").await;
        (l.len() == 3 && l.iter().all(|p| p.finalizers().is_empty())).then_some(())
    })
    .await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_fails_after_backoff_limit_pod_failures() {
    let mut env = Env::start(cfg(&["job"])).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    jobs.create(
        &PostParams::default(),
        &job("flaky", json!({"backoffLimit": 1})),
    )
    .await
    .expect("create");
    env.finishing_kubelet("default", "Failed");
    let j = eventually(30, "failed", || async {
        let j = jobs.get("flaky").await.ok()?;
        cond(&j, "Failed").map(|_| j)
    })
    .await;
    assert_eq!(
        cond(&j, "Failed").unwrap(),
        (
            "BackoffLimitExceeded".to_string(),
            "Job has reached the specified backoff limit".to_string()
        )
    );
    assert_eq!(
        cond(&j, "FailureTarget").map(|c| c.0),
        Some("BackoffLimitExceeded".into())
    );
    assert_eq!(j.status.as_ref().unwrap().failed, Some(2));
    assert!(cond(&j, "Complete").is_none());
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_job_runs_one_pod_per_index_and_reports_completed_indexes() {
    let mut env = Env::start(cfg(&["job"])).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    jobs.create(
        &PostParams::default(),
        &job(
            "idx",
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
        ),
    )
    .await
    .expect("create");
    let list = eventually(20, "3 pods", || async {
        Some(job_pods(&pods, "idx").await).filter(|l| l.len() == 3)
    })
    .await;
    let mut idx: Vec<String> = list
        .iter()
        .map(|p| {
            p.annotations()
                .get("batch.kubernetes.io/job-completion-index")
                .cloned()
                .expect("index annotation")
        })
        .collect();
    idx.sort();
    assert_eq!(idx, ["0", "1", "2"]);
    for p in &list {
        let i = p.annotations()["batch.kubernetes.io/job-completion-index"].clone();
        assert_eq!(
            p.labels().get("batch.kubernetes.io/job-completion-index"),
            Some(&i)
        );
        assert_eq!(
            p.spec.as_ref().unwrap().hostname.as_deref(),
            Some(format!("idx-{i}").as_str())
        );
        assert!(p.name_any().starts_with(&format!("idx-{i}-")));
    }
    env.finishing_kubelet("default", "Succeeded");
    let j = eventually(30, "complete", || async {
        let j = jobs.get("idx").await.ok()?;
        cond(&j, "Complete").map(|_| j)
    })
    .await;
    assert_eq!(
        j.status.as_ref().unwrap().completed_indexes.as_deref(),
        Some("0-2")
    );
    assert_eq!(j.status.as_ref().unwrap().succeeded, Some(3));
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_past_its_active_deadline_fails_and_stops_its_pods() {
    let env = Env::start(cfg(&["job"])).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    jobs.create(
        &PostParams::default(),
        &job(
            "slow",
            json!({"activeDeadlineSeconds": 1, "parallelism": 2, "completions": 4}),
        ),
    )
    .await
    .expect("create");
    eventually(20, "pods", || async {
        (job_pods(&pods, "slow").await.len() == 2).then_some(())
    })
    .await;
    let j = eventually(30, "failed", || async {
        let j = jobs.get("slow").await.ok()?;
        cond(&j, "Failed").map(|_| j)
    })
    .await;
    assert_eq!(
        cond(&j, "Failed").map(|c| c.0),
        Some("DeadlineExceeded".into())
    );
    eventually(20, "pods stopped", || async {
        job_pods(&pods, "slow").await.is_empty().then_some(())
    })
    .await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_job_is_deleted_after_its_ttl() {
    let mut env = Env::start(cfg(&["job", "ttl-after-finished", "garbagecollector"])).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    jobs.create(
        &PostParams::default(),
        &job("brief", json!({"ttlSecondsAfterFinished": 1})),
    )
    .await
    .expect("create");
    env.finishing_kubelet("default", "Succeeded");
    eventually(30, "complete", || async {
        cond(&jobs.get("brief").await.ok()?, "Complete").map(|_| ())
    })
    .await;
    eventually(30, "job deleted", || async {
        jobs.get_opt("brief").await.ok()?.is_none().then_some(())
    })
    .await;
    eventually(30, "pods deleted", || async {
        job_pods(&pods, "brief").await.is_empty().then_some(())
    })
    .await;
    env.shutdown().await;
}
