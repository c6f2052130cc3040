//! The CronJob controller (kube-controller-manager's `cronjob` controller, v2): creates a Job
//! named `<cronjob>-<minutes since epoch>` at each schedule time (5-field cron or `@hourly`-style
//! macros, UTC), honouring `suspend`, `startingDeadlineSeconds` and `concurrencyPolicy`
//! (Allow/Forbid/Replace), keeps `status.active`/`lastScheduleTime`/`lastSuccessfulTime`, and
//! deletes finished Jobs beyond the success/failure history limits.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::chrono::{DateTime, Datelike, Duration as CDuration, TimeZone, Timelike, Utc};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::events::Events;
use crate::informer::{key_of, Change, Informer, OwnerIndex};
use crate::queue::{Requeue, WorkQueue};
use crate::util::{self, controller_of, controller_ref};
use crate::{ControllersConfig, Error, Result, Shared};

type Starter = Box<dyn FnOnce() -> Vec<tokio::task::JoinHandle<()>> + Send>;

/// A parsed 5-field cron schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    minutes: BTreeSet<u32>,
    hours: BTreeSet<u32>,
    dom: BTreeSet<u32>,
    months: BTreeSet<u32>,
    dow: BTreeSet<u32>,
    dom_any: bool,
    dow_any: bool,
}

fn field(s: &str, lo: u32, hi: u32, names: &[&str]) -> Result<(BTreeSet<u32>, bool), String> {
    let mut out = BTreeSet::new();
    let any = s == "*" || s == "?";
    for part in s.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => (
                r,
                st.parse::<u32>()
                    .map_err(|_| format!("invalid step {st:?}"))?,
            ),
            None => (part, 1),
        };
        if step == 0 {
            return Err("step must be positive".into());
        }
        let value = |v: &str| -> Result<u32, String> {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(v)) {
                return Ok(i as u32 + lo);
            }
            v.parse::<u32>().map_err(|_| format!("invalid value {v:?}"))
        };
        let (a, b) = if range == "*" || range == "?" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let a = value(range)?;
            (a, if part.contains('/') { hi } else { a })
        };
        // Sunday may be written 7.
        let (a, b) = if hi == 6 {
            (a.min(7), b.min(7))
        } else {
            (a, b)
        };
        if a < lo || b > hi.max(if hi == 6 { 7 } else { hi }) || a > b {
            return Err(format!("value out of range in {part:?}"));
        }
        let mut v = a;
        while v <= b {
            out.insert(if hi == 6 { v % 7 } else { v });
            v += step;
        }
    }
    Ok((out, any))
}

impl Schedule {
    /// Parses a standard cron line or one of `@yearly @annually @monthly @weekly @daily @midnight @hourly`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let s = match s {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let f: Vec<&str> = s.split_whitespace().collect();
        if f.len() != 5 {
            return Err(format!("expected exactly 5 fields, found {}: {s}", f.len()));
        }
        const MONTHS: &[&str] = &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ];
        const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
        let (minutes, _) = field(f[0], 0, 59, &[])?;
        let (hours, _) = field(f[1], 0, 23, &[])?;
        let (dom, dom_any) = field(f[2], 1, 31, &[])?;
        let (months, _) = field(f[3], 1, 12, MONTHS)?;
        let (dow, dow_any) = field(f[4], 0, 6, DAYS)?;
        Ok(Self {
            minutes,
            hours,
            dom,
            months,
            dow,
            dom_any,
            dow_any,
        })
    }

    fn day_matches(&self, t: DateTime<Utc>) -> bool {
        if !self.months.contains(&t.month()) {
            return false;
        }
        let d = self.dom.contains(&t.day());
        let w = self.dow.contains(&t.weekday().num_days_from_sunday());
        match (self.dom_any, self.dow_any) {
            (true, true) => true,
            (true, false) => w,
            (false, true) => d,
            (false, false) => d || w,
        }
    }

    /// The first schedule time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = t.with_second(0)?.with_nanosecond(0)? + CDuration::minutes(1);
        let mut day = Utc
            .with_ymd_and_hms(start.year(), start.month(), start.day(), 0, 0, 0)
            .single()?;
        for _ in 0..(366 * 5) {
            if self.day_matches(day) {
                for &h in &self.hours {
                    for &m in &self.minutes {
                        let c = day + CDuration::hours(h as i64) + CDuration::minutes(m as i64);
                        if c >= start {
                            return Some(c);
                        }
                    }
                }
            }
            day += CDuration::days(1);
        }
        None
    }
}

struct Ctl {
    shared: Arc<Shared>,
    cronjobs: Arc<Informer<CronJob>>,
    jobs_by_owner: Arc<OwnerIndex>,
    events: Events,
}

/// Registers the controller; the returned starter spawns its workers.
pub fn register(
    shared: Arc<Shared>,
    cronjobs: Arc<Informer<CronJob>>,
    _cfg: &ControllersConfig,
) -> (Arc<WorkQueue>, Starter) {
    let queue = WorkQueue::new();
    let c = Arc::new(Ctl {
        jobs_by_owner: OwnerIndex::attach(&shared.jobs),
        events: Events::new(shared.client.clone(), "cronjob-controller"),
        shared: shared.clone(),
        cronjobs: cronjobs.clone(),
    });
    let q = queue.clone();
    cronjobs.on_change(move |ch: &Change<'_, CronJob>| {
        if let Change::Added(c) | Change::Updated(_, c) = ch {
            q.add(key_of(c.as_ref()));
        }
    });
    let q = queue.clone();
    shared.jobs.on_change(move |ch: &Change<'_, Job>| {
        let (Change::Added(j) | Change::Updated(_, j) | Change::Deleted(j)) = ch;
        if let Some(r) = controller_of(&j.metadata).filter(|r| r.kind == "CronJob") {
            q.add(format!("{}/{}", j.namespace().unwrap_or_default(), r.name));
        }
    });
    let q = queue.clone();
    let starter: Starter = Box::new(move || {
        q.spawn_workers("cronjob", 5, move |key| {
            let c = c.clone();
            async move { c.sync(&key).await }
        })
    });
    (queue, starter)
}

fn finished(j: &Job) -> Option<(&'static str, Option<DateTime<Utc>>)> {
    for c in j.status.as_ref()?.conditions.iter().flatten() {
        if c.status == "True" && (c.type_ == "Complete" || c.type_ == "Failed") {
            let t = c.last_transition_time.as_ref().map(|t| t.0);
            return Some((
                if c.type_ == "Complete" {
                    "Complete"
                } else {
                    "Failed"
                },
                t,
            ));
        }
    }
    None
}

fn job_ref(j: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        namespace: j.namespace(),
        name: Some(j.name_any()),
        uid: j.uid(),
        resource_version: j.resource_version(),
        field_path: None,
    }
}

impl Ctl {
    async fn sync(&self, key: &str) -> Result<Requeue> {
        let Some(cj) = self.cronjobs.get(key) else {
            return Ok(None);
        };
        if cj.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let ns = cj.namespace().unwrap_or_default();
        let jobs_api: Api<Job> = Api::namespaced(self.shared.client.clone(), &ns);
        let cj_api: Api<CronJob> = Api::namespaced(self.shared.client.clone(), &ns);
        let spec = cj.spec.clone().unwrap_or_default();
        let status0 = cj.status.clone().unwrap_or_default();
        let mut status = status0.clone();
        let mut jobs: Vec<Arc<Job>> = self
            .shared
            .jobs
            .get_many(&self.jobs_by_owner.owned_by(&cj.uid().unwrap_or_default()));
        jobs.sort_by_key(|j| {
            (
                j.metadata.creation_timestamp.clone().map(|t: Time| t.0),
                j.name_any(),
            )
        });
        let reference = cj.object_ref(&());

        // Active list and last success follow the Jobs.
        let mut active = Vec::new();
        let mut done_ok = Vec::new();
        let mut done_failed = Vec::new();
        for j in &jobs {
            match finished(j) {
                None if j.metadata.deletion_timestamp.is_none() => active.push(job_ref(j)),
                None => {}
                Some(("Complete", t)) => {
                    if status0.active.iter().flatten().any(|r| r.uid == j.uid()) {
                        self.events.normal(
                            reference.clone(),
                            "SawCompletedJob",
                            "Sync",
                            format!("Saw completed job: {}, status: Complete", j.name_any()),
                        );
                    }
                    if let Some(t) = t {
                        if status.last_successful_time.as_ref().is_none_or(|l| l.0 < t) {
                            status.last_successful_time = Some(Time(t));
                        }
                    }
                    done_ok.push(j.clone());
                }
                Some(_) => {
                    if status0.active.iter().flatten().any(|r| r.uid == j.uid()) {
                        self.events.normal(
                            reference.clone(),
                            "SawCompletedJob",
                            "Sync",
                            format!("Saw completed job: {}, status: Failed", j.name_any()),
                        );
                    }
                    done_failed.push(j.clone());
                }
            }
        }
        // History limits (oldest first).
        for (list, limit) in [
            (&done_ok, spec.successful_jobs_history_limit.unwrap_or(3)),
            (&done_failed, spec.failed_jobs_history_limit.unwrap_or(1)),
        ] {
            let extra = list.len().saturating_sub(limit.max(0) as usize);
            for j in list.iter().take(extra) {
                if j.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                match jobs_api
                    .delete(&j.name_any(), &DeleteParams::background())
                    .await
                {
                    Ok(_) => self.events.normal(
                        reference.clone(),
                        "SuccessfulDelete",
                        "Delete",
                        format!("Deleted job {}", j.name_any()),
                    ),
                    Err(e) if util::is_not_found(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }

        let schedule = match Schedule::parse(&spec.schedule) {
            Ok(s) => s,
            Err(e) => {
                self.events.warning(
                    reference,
                    "UnparseableSchedule",
                    "Sync",
                    format!("unparseable schedule: {:?} : {e}", spec.schedule),
                );
                return Ok(None);
            }
        };
        if spec
            .time_zone
            .as_deref()
            .is_some_and(|tz| !matches!(tz, "UTC" | "Etc/UTC"))
        {
            self.events.warning(
                reference.clone(),
                "UnknownTimeZone",
                "Sync",
                format!(
                    "invalid timeZone: {:?}: only UTC is supported",
                    spec.time_zone
                ),
            );
        }
        let now = Utc::now();
        let mut requeue = schedule
            .next_after(now)
            .map(|t| (t - now).to_std().unwrap_or_default() + Duration::from_millis(100));
        if !spec.suspend.unwrap_or(false) {
            // The most recent missed schedule time since the last one (or creation).
            let since = status
                .last_schedule_time
                .as_ref()
                .map(|t| t.0)
                .or(cj.metadata.creation_timestamp.as_ref().map(|t| t.0))
                .unwrap_or(now);
            let mut latest = None;
            let mut t = since;
            let mut n = 0;
            while let Some(next) = schedule.next_after(t) {
                if next > now || n > 1000 {
                    break;
                }
                latest = Some(next);
                t = next;
                n += 1;
            }
            let too_late = |t: DateTime<Utc>| {
                spec.starting_deadline_seconds
                    .is_some_and(|d| t + CDuration::seconds(d) < now)
            };
            if let Some(t) = latest.filter(|t| !too_late(*t)) {
                let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
                let skip = policy == "Forbid" && !active.is_empty();
                if skip {
                    self.events.normal(reference.clone(), "JobAlreadyActive", "Sync", "Not starting job because prior execution is running and concurrency policy is Forbid".into());
                    // Try again shortly while the window is open.
                    requeue = Some(
                        requeue.map_or(Duration::from_secs(1), |r| r.min(Duration::from_secs(1))),
                    );
                } else {
                    if policy == "Replace" {
                        for r in active.drain(..) {
                            let name = r.name.clone().unwrap_or_default();
                            match jobs_api.delete(&name, &DeleteParams::background()).await {
                                Ok(_) => self.events.normal(
                                    reference.clone(),
                                    "SuccessfulDelete",
                                    "Delete",
                                    format!("Deleted job {name}"),
                                ),
                                Err(e) if util::is_not_found(&e) => {}
                                Err(e) => return Err(e.into()),
                            }
                        }
                    }
                    let job = self.job_for(&cj, t);
                    let created = match jobs_api.create(&PostParams::default(), &job).await {
                        Ok(j) => {
                            self.events.normal(
                                reference.clone(),
                                "SuccessfulCreate",
                                "Create",
                                format!("Created job {}", j.name_any()),
                            );
                            Some(j)
                        }
                        Err(e) if util::is_conflict(&e) => {
                            jobs_api.get_opt(&job.name_any()).await?
                        }
                        Err(e) => {
                            self.events.warning(
                                reference.clone(),
                                "FailedCreate",
                                "Create",
                                format!("Error creating job: {e}"),
                            );
                            return Err(e.into());
                        }
                    };
                    if let Some(j) = created {
                        if !active.iter().any(|r| r.uid == j.uid()) && finished(&j).is_none() {
                            active.push(job_ref(&j));
                        }
                        self.shared.jobs.assume(j);
                    }
                    status.last_schedule_time = Some(Time(t));
                }
            } else if let Some(t) = latest {
                self.events.warning(
                    reference.clone(),
                    "MissSchedule",
                    "Sync",
                    format!("Missed scheduled time to start a job: {}", t.to_rfc3339()),
                );
                status.last_schedule_time = Some(Time(t));
            }
        }
        status.active = (!active.is_empty()).then_some(active);
        if status != status0 {
            let patch = json!({"status": {
                "active": status.active,
                "lastScheduleTime": status.last_schedule_time,
                "lastSuccessfulTime": status.last_successful_time,
            }});
            match cj_api
                .patch_status(
                    &cj.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                Ok(w) => self.cronjobs.assume(w),
                Err(e) if util::is_not_found(&e) => {}
                Err(e) => return Err(Error::Api(e)),
            }
        }
        Ok(requeue)
    }

    fn job_for(&self, cj: &CronJob, t: DateTime<Utc>) -> Job {
        let tmpl = cj
            .spec
            .as_ref()
            .map(|s| s.job_template.clone())
            .unwrap_or_default();
        let meta = tmpl.metadata.unwrap_or_default();
        let mut annotations = meta.annotations.unwrap_or_default();
        annotations.insert(
            "batch.kubernetes.io/cronjob-scheduled-timestamp".into(),
            t.to_rfc3339_opts(k8s_openapi::chrono::SecondsFormat::Secs, true),
        );
        Job {
            metadata: ObjectMeta {
                name: Some(format!("{}-{}", cj.name_any(), t.timestamp() / 60)),
                namespace: cj.namespace(),
                labels: meta.labels,
                annotations: Some(annotations),
                owner_references: Some(vec![controller_ref(cj)]),
                ..Default::default()
            },
            spec: Some(tmpl.spec.unwrap_or_default()),
            status: None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn cron_schedules_find_their_next_time_like_vixie_cron() {
        let every = Schedule::parse("*/1 * * * *").unwrap();
        assert_eq!(
            every.next_after(at("2026-01-01T10:00:30Z")),
            Some(at("2026-01-01T10:01:00Z"))
        );
        let hourly = Schedule::parse("@hourly").unwrap();
        assert_eq!(
            hourly.next_after(at("2026-01-01T10:00:00Z")),
            Some(at("2026-01-01T11:00:00Z"))
        );
        let weekdays = Schedule::parse("30 9 * * mon-fri").unwrap();
        // 2026-01-03 is a Saturday.
        assert_eq!(
            weekdays.next_after(at("2026-01-03T00:00:00Z")),
            Some(at("2026-01-05T09:30:00Z"))
        );
        let dom_or_dow = Schedule::parse("0 0 13 * 5").unwrap();
        // Either the 13th or a Friday: 2026-01-02 is a Friday.
        assert_eq!(
            dom_or_dow.next_after(at("2026-01-01T00:00:00Z")),
            Some(at("2026-01-02T00:00:00Z"))
        );
        let sunday7 = Schedule::parse("0 12 * * 7").unwrap();
        assert_eq!(
            sunday7.next_after(at("2026-01-01T00:00:00Z")),
            Some(at("2026-01-04T12:00:00Z"))
        );
        assert!(Schedule::parse("61 * * * *").is_err());
        assert!(Schedule::parse("* * *").is_err());
        let feb30 = Schedule::parse("0 0 30 2 *").unwrap();
        assert_eq!(feb30.next_after(at("2026-01-01T00:00:00Z")), None);
    }
}
