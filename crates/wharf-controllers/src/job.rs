//! The Job controller (kube-controller-manager's `job` controller) and TTL-after-finished:
//! runs pods until `completions` succeed (NonIndexed, or Indexed with one success per index),
//! at most `parallelism` at a time; counts finished pods exactly once through the
//! `batch.kubernetes.io/job-tracking` finalizer and `status.uncountedTerminatedPods`, as upstream;
//! fails the Job after `backoffLimit` pod failures or `activeDeadlineSeconds` (FailureTarget, then
//! Failed once no pod runs), completes it with SuccessCriteriaMet then Complete; deletes finished
//! Jobs `ttlSecondsAfterFinished` later.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::chrono::Utc;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::events::Events;
use crate::expectations::Expectations;
use crate::informer::{key_of, Change};
use crate::queue::{Requeue, WorkQueue};
use crate::replicaset::{pod_from_template, slow_start_batch};
use crate::util::{self, controller_key, controller_ref, now_time, pod_is_ready};
use crate::{ControllersConfig, Error, Result, Shared};

/// The finalizer that keeps a Job's pods until they are counted.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// The completion index of a pod of an Indexed Job (annotation and label).
pub const INDEX: &str = "batch.kubernetes.io/job-completion-index";

type Starter = Box<dyn FnOnce() -> Vec<tokio::task::JoinHandle<()>> + Send>;

/// The controller's state.
pub struct JobController {
    shared: Arc<Shared>,
    queue: Arc<WorkQueue>,
    exp: Expectations,
    /// Pods whose tracking finalizer this controller removed, until the cache shows it gone.
    counted: std::sync::Mutex<HashSet<String>>,
    events: Events,
    backoff_base: Duration,
    jobs_on: bool,
    ttl_on: bool,
}

fn job_key_of(p: &Pod) -> Option<String> {
    controller_key(&p.metadata, "Job", "batch/v1")
}

/// Registers the controller's handlers; the returned starter spawns its workers.
pub fn register(shared: Arc<Shared>, cfg: &ControllersConfig) -> (Arc<WorkQueue>, Starter) {
    let queue = WorkQueue::new();
    let c = Arc::new(JobController {
        events: Events::new(shared.client.clone(), "job-controller"),
        shared: shared.clone(),
        queue: queue.clone(),
        exp: Expectations::default(),
        counted: Default::default(),
        backoff_base: cfg.job_backoff_base,
        jobs_on: cfg.on("job"),
        ttl_on: cfg.on("ttl-after-finished"),
    });
    let h = c.clone();
    shared.jobs.on_change(move |ch| match ch {
        Change::Added(j) | Change::Updated(_, j) => h.queue.add(key_of(j.as_ref())),
        Change::Deleted(j) => h.exp.delete(&key_of(j.as_ref())),
    });
    let h = c.clone();
    shared.pods.on_change(move |ch: &Change<'_, Pod>| {
        let (Change::Added(p) | Change::Updated(_, p) | Change::Deleted(p)) = ch;
        if matches!(ch, Change::Deleted(_))
            || !p.finalizers().iter().any(|f| f == TRACKING_FINALIZER)
        {
            if let Some(u) = p.metadata.uid.as_deref() {
                util::lock(&h.counted).remove(u);
            }
        }
        h.pod_changed(ch)
    });
    let workers = cfg.job_workers;
    let starter: Starter = Box::new(move || {
        let q = c.queue.clone();
        q.spawn_workers("job", workers, move |key| {
            let c = c.clone();
            async move { c.sync(&key).await }
        })
    });
    (queue, starter)
}

impl JobController {
    fn pod_changed(&self, ch: &Change<'_, Pod>) {
        let h = self;
        match ch {
            Change::Added(p) => {
                if let Some(k) = job_key_of(p) {
                    h.exp.creations_observed(&k, 1);
                    h.queue.add(k);
                }
            }
            Change::Updated(_, p) => {
                if let Some(k) = job_key_of(p) {
                    h.queue.add(k);
                }
            }
            Change::Deleted(p) => {
                if let Some(k) = job_key_of(p) {
                    h.exp.deletion_observed(&k, &key_of(p.as_ref()));
                    h.queue.add(k);
                }
            }
        }
    }
}

fn condition_true(s: &JobStatus, t: &str) -> Option<JobCondition> {
    s.conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == t && c.status == "True")
        .cloned()
}

fn new_condition(t: &str, reason: &str, message: &str) -> JobCondition {
    let now = now_time();
    JobCondition {
        type_: t.into(),
        status: "True".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

fn add_condition(s: &mut JobStatus, c: JobCondition) {
    let v = s.conditions.get_or_insert_with(Vec::new);
    if !v.iter().any(|x| x.type_ == c.type_ && x.status == c.status) {
        v.retain(|x| x.type_ != c.type_);
        v.push(c);
    }
}

fn pod_index(p: &Pod) -> Option<i32> {
    p.annotations().get(INDEX).and_then(|v| v.parse().ok())
}

/// Parses `completedIndexes` ("0-2,5") into a set.
pub fn parse_indexes(s: &str) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    out.extend(a..=b);
                }
            }
            None => {
                if let Ok(a) = part.parse() {
                    out.insert(a);
                }
            }
        }
    }
    out
}

/// Formats a set of indexes as intervals ("0-2,5").
pub fn format_indexes(s: &BTreeSet<i32>) -> String {
    let mut parts = Vec::new();
    let mut it = s.iter().copied().peekable();
    while let Some(start) = it.next() {
        let mut end = start;
        while it.peek() == Some(&(end + 1)) {
            end += 1;
            it.next();
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

fn is_failed(p: &Pod) -> bool {
    util::phase(p) == "Failed"
        || (p.metadata.deletion_timestamp.is_some() && util::phase(p) != "Succeeded")
}

impl JobController {
    fn finished(s: &JobStatus) -> bool {
        condition_true(s, "Complete").is_some() || condition_true(s, "Failed").is_some()
    }

    async fn sync(&self, key: &str) -> Result<Requeue> {
        let Some(job) = self.shared.jobs.get(key) else {
            return Ok(None);
        };
        let mut job = (*job).clone();
        let ns = job.namespace().unwrap_or_default();
        let pods_api: Api<Pod> = Api::namespaced(self.shared.client.clone(), &ns);
        let jobs_api: Api<Job> = Api::namespaced(self.shared.client.clone(), &ns);
        let uid = job.uid().unwrap_or_default();
        let pods = self
            .shared
            .pods
            .get_many(&self.shared.pods_by_owner.owned_by(&uid));
        let status0 = job.status.clone().unwrap_or_default();
        if Self::finished(&status0) {
            // Finished: release any pod still holding the tracking finalizer, then TTL.
            for p in pods
                .iter()
                .filter(|p| p.finalizers().iter().any(|f| f == TRACKING_FINALIZER))
            {
                if matches!(util::phase(p), "Succeeded" | "Failed")
                    || p.metadata.deletion_timestamp.is_some()
                {
                    if let Some(u) = remove_tracking_finalizer(&pods_api, p).await? {
                        util::lock(&self.counted).insert(u);
                    }
                }
            }
            return if self.ttl_on {
                self.ttl(&job, &status0, &jobs_api).await
            } else {
                Ok(None)
            };
        }
        if !self.jobs_on {
            return Ok(None);
        }
        let spec = job.spec.clone().unwrap_or_default();
        let indexed = spec.completion_mode.as_deref() == Some("Indexed");
        let parallelism = spec.parallelism.unwrap_or(1).max(0);
        let completions = spec.completions;
        let backoff_limit = spec.backoff_limit.unwrap_or(6);
        let mut st = status0.clone();
        if st.start_time.is_none() && !spec.suspend.unwrap_or(false) {
            st.start_time = Some(now_time());
        }

        // 1. Count finished pods exactly once (uncountedTerminatedPods, then drop the finalizer).
        let uncounted = st.uncounted_terminated_pods.clone().unwrap_or_default();
        let mut unc_ok: Vec<String> = uncounted.succeeded.clone().unwrap_or_default();
        let mut unc_failed: Vec<String> = uncounted.failed.clone().unwrap_or_default();
        let known: HashSet<String> = unc_ok.iter().chain(unc_failed.iter()).cloned().collect();
        let mut newly = false;
        for p in &pods {
            let puid = p.uid().unwrap_or_default();
            if !p.finalizers().iter().any(|f| f == TRACKING_FINALIZER)
                || known.contains(&puid)
                || util::lock(&self.counted).contains(&puid)
            {
                continue;
            }
            if util::phase(p) == "Succeeded" {
                unc_ok.push(puid);
                newly = true;
            } else if is_failed(p) {
                unc_failed.push(puid);
                newly = true;
            }
        }
        if newly {
            st.uncounted_terminated_pods =
                Some(k8s_openapi::api::batch::v1::UncountedTerminatedPods {
                    succeeded: Some(unc_ok.clone()),
                    failed: Some(unc_failed.clone()),
                });
            self.patch_status(&jobs_api, &mut job, &st).await?;
        }
        if !unc_ok.is_empty() || !unc_failed.is_empty() {
            let ids: HashSet<&String> = unc_ok.iter().chain(unc_failed.iter()).collect();
            let results = join_all(
                pods.iter()
                    .filter(|p| p.uid().is_some_and(|u| ids.contains(&u)))
                    .map(|p| remove_tracking_finalizer(&pods_api, p)),
            )
            .await;
            for r in results {
                if let Some(u) = r? {
                    util::lock(&self.counted).insert(u);
                }
            }
            let mut done = parse_indexes(st.completed_indexes.as_deref().unwrap_or_default());
            let mut succeeded_new = 0;
            for p in pods
                .iter()
                .filter(|p| p.uid().is_some_and(|u| unc_ok.contains(&u)))
            {
                if indexed {
                    if let Some(i) = pod_index(p) {
                        if completions.is_none_or(|c| i < c) && done.insert(i) {
                            succeeded_new += 1;
                        }
                    }
                } else {
                    succeeded_new += 1;
                }
            }
            if !indexed {
                // Pods already gone from the cache still counted.
                succeeded_new = unc_ok.len() as i32;
            }
            st.succeeded = Some(st.succeeded.unwrap_or(0) + succeeded_new);
            st.failed = Some(st.failed.unwrap_or(0) + unc_failed.len() as i32);
            if indexed {
                st.completed_indexes = Some(format_indexes(&done));
            }
            st.uncounted_terminated_pods = Some(Default::default());
        }
        let succeeded = st.succeeded.unwrap_or(0);
        let failed = st.failed.unwrap_or(0);
        let active: Vec<Arc<Pod>> = pods
            .iter()
            .filter(|p| util::pod_is_active(p))
            .cloned()
            .collect();
        let terminating = pods
            .iter()
            .filter(|p| {
                p.metadata.deletion_timestamp.is_some()
                    && !matches!(util::phase(p), "Succeeded" | "Failed")
            })
            .count() as i32;

        // 2. Decide whether the Job has failed or succeeded.
        let reference = job.object_ref(&());
        let mut requeue = None;
        if condition_true(&st, "FailureTarget").is_none()
            && condition_true(&st, "SuccessCriteriaMet").is_none()
        {
            if failed > backoff_limit {
                add_condition(
                    &mut st,
                    new_condition(
                        "FailureTarget",
                        "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit",
                    ),
                );
            } else if let (Some(ads), Some(start)) =
                (spec.active_deadline_seconds, st.start_time.as_ref())
            {
                let deadline = start.0 + k8s_openapi::chrono::Duration::seconds(ads);
                if Utc::now() >= deadline {
                    add_condition(
                        &mut st,
                        new_condition(
                            "FailureTarget",
                            "DeadlineExceeded",
                            "Job was active longer than specified deadline",
                        ),
                    );
                } else {
                    requeue = Some(
                        (deadline - Utc::now()).to_std().unwrap_or_default()
                            + Duration::from_millis(10),
                    );
                }
            }
        }
        let done_indexes = parse_indexes(st.completed_indexes.as_deref().unwrap_or_default());
        let complete = match (indexed, completions) {
            (true, Some(c)) => done_indexes.len() as i32 >= c,
            (_, Some(c)) => succeeded >= c,
            (_, None) => succeeded > 0,
        };
        if condition_true(&st, "FailureTarget").is_none()
            && condition_true(&st, "SuccessCriteriaMet").is_none()
            && complete
        {
            add_condition(
                &mut st,
                new_condition(
                    "SuccessCriteriaMet",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                ),
            );
        }
        let finishing = condition_true(&st, "FailureTarget")
            .or_else(|| condition_true(&st, "SuccessCriteriaMet"));

        // 3. Create or delete pods.
        let mut active_count = active.len() as i32;
        let need_sync = self.exp.satisfied(key);
        let mut deleted_now = false;
        if finishing.is_some() || spec.suspend.unwrap_or(false) {
            if !active.is_empty() && need_sync {
                self.delete_pods(key, &pods_api, &active, &reference)
                    .await?;
                active_count = 0;
                deleted_now = true;
            }
        } else if need_sync {
            // Pods that failed recently delay replacements (exponential backoff from the base).
            let delay = if failed > 0 {
                self.backoff_base
                    .saturating_mul(1 << (failed - 1).clamp(0, 10) as u32)
                    .min(Duration::from_secs(360))
            } else {
                Duration::ZERO
            };
            let last_failure = pods
                .iter()
                .filter(|p| is_failed(p))
                .filter_map(|p| {
                    p.status
                        .as_ref()?
                        .container_statuses
                        .as_ref()?
                        .iter()
                        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.clone())
                        .max()
                })
                .max();
            let wait = last_failure
                .map(|t| {
                    (t.0 + k8s_openapi::chrono::Duration::from_std(delay).unwrap_or_default()
                        - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                })
                .unwrap_or_default();
            if !wait.is_zero() {
                requeue = Some(requeue.map_or(wait, |r: Duration| r.min(wait)));
            } else if indexed {
                let c = completions.unwrap_or(0);
                let running: HashSet<i32> = active.iter().filter_map(|p| pod_index(p)).collect();
                let want: Vec<i32> = (0..c)
                    .filter(|i| !done_indexes.contains(i) && !running.contains(i))
                    .take((parallelism - active_count).max(0) as usize)
                    .collect();
                if !want.is_empty() {
                    let made = self
                        .create_pods(
                            key,
                            &job,
                            &pods_api,
                            want.iter().map(|i| Some(*i)).collect(),
                            &reference,
                        )
                        .await?;
                    active_count += made;
                }
            } else {
                let remaining = match completions {
                    Some(c) => (c - succeeded).max(0),
                    None if succeeded > 0 => 0,
                    None => parallelism,
                };
                let want_active = parallelism.min(remaining);
                if want_active > active_count {
                    let n = (want_active - active_count) as usize;
                    let made = self
                        .create_pods(key, &job, &pods_api, vec![None; n], &reference)
                        .await?;
                    active_count += made;
                } else if want_active < active_count {
                    let extra = crate::replicaset::pods_to_delete(
                        &active,
                        (active_count - want_active) as usize,
                    );
                    self.delete_pods(key, &pods_api, &extra, &reference).await?;
                    active_count = want_active;
                }
            }
        }

        // 4. Terminal conditions once nothing runs any more.
        if let Some(f) = finishing {
            let unfinished = pods.iter().any(|p| {
                p.finalizers().iter().any(|x| x == TRACKING_FINALIZER)
                    && !matches!(util::phase(p), "Succeeded" | "Failed")
            });
            if !deleted_now && active.is_empty() && terminating == 0 && !unfinished {
                let reason = f.reason.clone().unwrap_or_default();
                let message = f.message.clone().unwrap_or_default();
                if f.type_ == "FailureTarget" {
                    add_condition(&mut st, new_condition("Failed", &reason, &message));
                    self.events
                        .warning(reference.clone(), &reason, "Fail", message);
                } else {
                    add_condition(&mut st, new_condition("Complete", &reason, &message));
                    st.completion_time = Some(now_time());
                    self.events.normal(
                        reference.clone(),
                        "Completed",
                        "Complete",
                        "Job completed".into(),
                    );
                }
            }
        }
        st.active = Some(active_count);
        st.ready = Some(active.iter().filter(|p| pod_is_ready(p)).count() as i32);
        st.terminating = Some(terminating);
        st.succeeded.get_or_insert(0);
        st.failed.get_or_insert(0);
        if st != status0 {
            self.patch_status(&jobs_api, &mut job, &st).await?;
        }
        Ok(requeue)
    }

    /// Writes the status with the object's resourceVersion as precondition (a stale cache gets a
    /// conflict and retries rather than overwriting counts), then caches what was written.
    async fn patch_status(&self, api: &Api<Job>, job: &mut Job, st: &JobStatus) -> Result<()> {
        let mut j = job.clone();
        j.status = Some(st.clone());
        match api
            .replace_status(
                &job.name_any(),
                &PostParams::default(),
                serde_json::to_vec(&j)?,
            )
            .await
        {
            Ok(written) => {
                *job = written.clone();
                self.shared.jobs.assume(written);
                Ok(())
            }
            Err(e) if util::is_not_found(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn create_pods(
        &self,
        key: &str,
        job: &Job,
        api: &Api<Pod>,
        indexes: Vec<Option<i32>>,
        reference: &k8s_openapi::api::core::v1::ObjectReference,
    ) -> Result<i32> {
        let Some(template) = job.spec.as_ref().map(|s| s.template.clone()) else {
            return Ok(0);
        };
        let name = job.name_any();
        let uid = job.uid().unwrap_or_default();
        let n = indexes.len();
        self.exp.expect(key, n as i64, Vec::new());
        let next = std::sync::Mutex::new(indexes.into_iter());
        let pp = PostParams::default();
        let (ok, err) = slow_start_batch(n, || {
            let idx = util::lock(&next).next().flatten();
            let mut pod = pod_from_template(
                &template,
                controller_ref(job),
                &match idx {
                    Some(i) => format!("{name}-{i}-"),
                    None => format!("{name}-"),
                },
            );
            let labels = pod.metadata.labels.get_or_insert_with(Default::default);
            for (k, v) in [
                ("batch.kubernetes.io/controller-uid", &uid),
                ("controller-uid", &uid),
                ("batch.kubernetes.io/job-name", &name),
                ("job-name", &name),
            ] {
                labels.entry(k.to_string()).or_insert_with(|| v.clone());
            }
            pod.metadata
                .finalizers
                .get_or_insert_with(Vec::new)
                .push(TRACKING_FINALIZER.into());
            if let Some(i) = idx {
                labels.insert(INDEX.into(), i.to_string());
                pod.metadata
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert(INDEX.into(), i.to_string());
                if let Some(s) = pod.spec.as_mut() {
                    s.hostname = Some(format!("{name}-{i}"));
                    for c in s
                        .containers
                        .iter_mut()
                        .chain(s.init_containers.iter_mut().flatten())
                    {
                        let env = c.env.get_or_insert_with(Vec::new);
                        if !env.iter().any(|e| e.name == "JOB_COMPLETION_INDEX") {
                            env.push(EnvVar {
                                name: "JOB_COMPLETION_INDEX".into(),
                                value: None,
                                value_from: Some(EnvVarSource {
                                    field_ref: Some(ObjectFieldSelector {
                                        api_version: None,
                                        field_path: format!("metadata.annotations['{INDEX}']"),
                                    }),
                                    ..Default::default()
                                }),
                            });
                        }
                    }
                }
            }
            let api = api.clone();
            let pp = pp.clone();
            async move {
                let created = api.create(&pp, &pod).await?;
                self.events.normal(
                    reference.clone(),
                    "SuccessfulCreate",
                    "Create",
                    format!("Created pod: {}", created.name_any()),
                );
                Ok(())
            }
        })
        .await;
        if ok < n {
            self.exp.creations_observed(key, (n - ok) as i64);
        }
        if let Some(e) = err {
            self.events.warning(
                reference.clone(),
                "FailedCreate",
                "Create",
                format!("Error creating: {e}"),
            );
            return Err(Error::Api(e));
        }
        Ok(ok as i32)
    }

    async fn delete_pods(
        &self,
        key: &str,
        api: &Api<Pod>,
        pods: &[Arc<Pod>],
        reference: &k8s_openapi::api::core::v1::ObjectReference,
    ) -> Result<()> {
        self.exp
            .expect(key, 0, pods.iter().map(|p| key_of(p.as_ref())));
        let results = join_all(pods.iter().map(|p| async move {
            let r = api.delete(&p.name_any(), &DeleteParams::background()).await;
            match r {
                Ok(_) => {
                    self.events.normal(
                        reference.clone(),
                        "SuccessfulDelete",
                        "Delete",
                        format!("Deleted pod: {}", p.name_any()),
                    );
                    Ok(())
                }
                Err(e) => {
                    self.exp.deletion_observed(key, &key_of(p.as_ref()));
                    if util::is_not_found(&e) {
                        Ok(())
                    } else {
                        Err(e)
                    }
                }
            }
        }))
        .await;
        for r in results {
            r?;
        }
        Ok(())
    }

    async fn ttl(&self, job: &Job, st: &JobStatus, api: &Api<Job>) -> Result<Requeue> {
        let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
            return Ok(None);
        };
        if job.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let finished = condition_true(st, "Complete")
            .or_else(|| condition_true(st, "Failed"))
            .and_then(|c| c.last_transition_time)
            .map(|t| t.0)
            .unwrap_or_else(Utc::now);
        let at = finished + k8s_openapi::chrono::Duration::seconds(ttl as i64);
        let now = Utc::now();
        if now < at {
            return Ok(Some(
                (at - now).to_std().unwrap_or_default() + Duration::from_millis(10),
            ));
        }
        let dp = DeleteParams {
            propagation_policy: Some(kube::api::PropagationPolicy::Foreground),
            preconditions: Some(kube::api::Preconditions {
                uid: job.uid(),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&job.name_any(), &dp).await {
            Ok(_) => Ok(None),
            Err(e) if util::is_not_found(&e) || util::is_conflict(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Removes the tracking finalizer; returns the pod's UID when this call removed it.
async fn remove_tracking_finalizer(api: &Api<Pod>, p: &Pod) -> Result<Option<String>> {
    let fins: Vec<String> = p.finalizers().to_vec();
    if !fins.iter().any(|f| f == TRACKING_FINALIZER) {
        return Ok(None);
    }
    let kept: Vec<&String> = fins.iter().filter(|f| *f != TRACKING_FINALIZER).collect();
    let patch = json!([
        {"op": "test", "path": "/metadata/uid", "value": p.metadata.uid},
        {"op": "test", "path": "/metadata/finalizers", "value": fins},
        {"op": "replace", "path": "/metadata/finalizers", "value": kept},
    ]);
    match api
        .patch(
            &p.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(serde_json::from_value(patch)?),
        )
        .await
    {
        Ok(_) => Ok(p.uid()),
        Err(e) if util::is_not_found(&e) => Ok(None),
        // A stale cache: the next event retries.
        Err(e) if matches!(&e, kube::Error::Api(s) if s.code == 422 || s.code == 409) => {
            Err(Error::NotReady(format!(
                "pod {} changed; retrying finalizer removal",
                p.name_any()
            )))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn completed_indexes_round_trip_as_intervals() {
        let s: BTreeSet<i32> = [0, 1, 2, 5, 7, 8].into();
        assert_eq!(format_indexes(&s), "0-2,5,7-8");
        assert_eq!(parse_indexes("0-2,5,7-8"), s);
        assert_eq!(parse_indexes(""), BTreeSet::new());
    }
}
