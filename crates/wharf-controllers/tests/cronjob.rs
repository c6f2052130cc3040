#![allow(clippy::unwrap_used)]
mod common;

use common::*;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::chrono::{Duration, SecondsFormat, Utc};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cronjob_starts_the_missed_run_tracks_it_and_sees_it_complete() {
    let env = Env::start(only(&["cronjob"])).await;
    let cjs: Api<CronJob> = Api::namespaced(env.client.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    let cj: CronJob = serde_json::from_value(json!({"metadata": {"name": "tick"}, "spec": {
        "schedule": "*/1 * * * *", "concurrencyPolicy": "Forbid",
        "jobTemplate": {"metadata": {"labels": {"app": "tick"}}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": container()}}}}}}))
    .unwrap();
    let created = cjs
        .create(&PostParams::default(), &cj)
        .await
        .expect("create");
    // Pretend the last run was three minutes ago: the latest missed minute runs now.
    let then = (Utc::now() - Duration::minutes(3)).to_rfc3339_opts(SecondsFormat::Secs, true);
    cjs.patch_status(
        "tick",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"lastScheduleTime": then}})),
    )
    .await
    .expect("status");
    let job = eventually(20, "job", || async {
        jobs.list(&ListParams::default().labels("app=tick"))
            .await
            .ok()?
            .items
            .into_iter()
            .next()
    })
    .await;
    let minute = Utc::now().timestamp() / 60;
    let n: i64 = job
        .name_any()
        .strip_prefix("tick-")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        n == minute || n == minute - 1,
        "named after the schedule minute: {}",
        job.name_any()
    );
    assert!(job
        .owner_references()
        .iter()
        .any(|r| r.uid == created.uid().unwrap() && r.controller == Some(true)));
    assert!(job
        .annotations()
        .contains_key("batch.kubernetes.io/cronjob-scheduled-timestamp"));
    let cj = eventually(20, "active", || async {
        let c = cjs.get("tick").await.ok()?;
        c.status
            .as_ref()?
            .active
            .as_ref()?
            .iter()
            .any(|r| r.name.as_deref() == Some(job.name_any().as_str()))
            .then_some(c)
    })
    .await;
    assert_eq!(
        cj.status.unwrap().last_schedule_time.unwrap().0.timestamp() / 60,
        n
    );
    // Only one run for that minute, and Forbid keeps it that way while it runs.
    assert_eq!(
        jobs.list(&ListParams::default().labels("app=tick"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    jobs.patch_status(&job.name_any(), &PatchParams::default(), &Patch::Merge(json!({"status": {"conditions": [
        {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now},
        {"type": "Complete", "status": "True", "lastTransitionTime": now}], "completionTime": now, "startTime": now}})))
    .await
    .expect("complete");
    eventually(20, "seen complete", || async {
        let s = cjs.get("tick").await.ok()?.status?;
        (s.active.is_none_or(|a| a.is_empty()) && s.last_successful_time.is_some()).then_some(())
    })
    .await;
    env.shutdown().await;
}
