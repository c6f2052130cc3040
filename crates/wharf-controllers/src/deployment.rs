//! The Deployment controller (kube-controller-manager's `deployment` controller): one ReplicaSet
//! per pod template (named `<deployment>-<pod-template-hash>`), rolling updates bounded by
//! maxSurge/maxUnavailable, Recreate, proportional scaling mid-rollout, revision annotations
//! (rollbacks reuse the old ReplicaSet and give it the next revision), revision history cleanup,
//! pause/resume, and the Progressing/Available conditions `kubectl rollout status` reads.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::chrono::Utc;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::events::Events;
use crate::informer::{key_of, Change};
use crate::queue::{Requeue, WorkQueue};
use crate::util::{self, controller_key, controller_of, controller_ref};
use crate::{ControllersConfig, Error, Result, Shared};

/// The revision of a ReplicaSet (and of its Deployment).
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Revisions a reused ReplicaSet had before.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's replicas when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// The Deployment's replicas plus maxSurge when the ReplicaSet was last scaled.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// The label that tells ReplicaSets of one Deployment apart.
pub const HASH_LABEL: &str = "pod-template-hash";

const NEW_RS_REASON: &str = "NewReplicaSetCreated";
const FOUND_NEW_RS_REASON: &str = "FoundNewReplicaSet";
const RS_UPDATED_REASON: &str = "ReplicaSetUpdated";
const NEW_RS_AVAILABLE_REASON: &str = "NewReplicaSetAvailable";
const TIMED_OUT_REASON: &str = "ProgressDeadlineExceeded";
const PAUSED_REASON: &str = "DeploymentPaused";
const RESUMED_REASON: &str = "DeploymentResumed";
const FAILED_RS_CREATE_REASON: &str = "ReplicaSetCreateError";

type Starter = Box<dyn FnOnce() -> Vec<tokio::task::JoinHandle<()>> + Send>;

/// The controller's state.
pub struct DeploymentController {
    shared: Arc<Shared>,
    queue: Arc<WorkQueue>,
    events: Events,
}

fn deployment_key_of(m: &ObjectMeta) -> Option<String> {
    controller_key(m, "Deployment", "apps/v1")
}

/// Registers the controller's handlers; the returned starter spawns its workers.
pub fn register(shared: Arc<Shared>, cfg: &ControllersConfig) -> (Arc<WorkQueue>, Starter) {
    let queue = WorkQueue::new();
    let c = Arc::new(DeploymentController {
        events: Events::new(shared.client.clone(), "deployment-controller"),
        shared: shared.clone(),
        queue: queue.clone(),
    });
    let q = queue.clone();
    shared.deployments.on_change(move |ch| match ch {
        Change::Added(d) | Change::Updated(_, d) | Change::Deleted(d) => q.add(key_of(d.as_ref())),
    });
    let q = queue.clone();
    shared
        .replicasets
        .on_change(move |ch: &Change<'_, ReplicaSet>| match ch {
            Change::Added(rs) | Change::Deleted(rs) => {
                if let Some(k) = deployment_key_of(&rs.metadata) {
                    q.add(k)
                }
            }
            Change::Updated(old, new) => {
                let (a, b) = (
                    deployment_key_of(&old.metadata),
                    deployment_key_of(&new.metadata),
                );
                if a != b {
                    if let Some(k) = a {
                        q.add(k)
                    }
                }
                if let Some(k) = b {
                    q.add(k)
                }
            }
        });
    // Recreate waits for old pods to be gone.
    let q = queue.clone();
    let s = shared.clone();
    shared.pods.on_change(move |ch: &Change<'_, Pod>| {
        if let Change::Deleted(p) = ch {
            let Some(r) = controller_of(&p.metadata) else {
                return;
            };
            if r.kind != "ReplicaSet" {
                return;
            }
            let ns = p.metadata.namespace.as_deref().unwrap_or_default();
            if let Some(rs) = s.replicasets.get(&format!("{ns}/{}", r.name)) {
                if let Some(k) = deployment_key_of(&rs.metadata) {
                    if s.deployments.get(&k).is_some_and(|d| !is_rolling(&d)) {
                        q.add(k);
                    }
                }
            }
        }
    });
    let workers = cfg.deployment_workers;
    let starter: Starter = Box::new(move || {
        let q = c.queue.clone();
        q.spawn_workers("deployment", workers, move |key| {
            let c = c.clone();
            async move { c.sync(&key).await }
        })
    });
    (queue, starter)
}

// ---- pure helpers (deployment/util in Kubernetes) ----

fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

fn rs_available_within(rs: &ReplicaSet) -> i32 {
    rs_available(rs).min(rs_replicas(rs))
}

fn rs_status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map(|s| s.replicas).unwrap_or(0)
}

fn rs_ready(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

/// Whether the Deployment uses the RollingUpdate strategy (the default).
pub fn is_rolling(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        != Some("Recreate")
}

/// Resolves an int-or-percent against `total` (percentages round up or down as asked).
pub fn scaled_value(v: Option<&IntOrString>, total: i32, round_up: bool) -> Result<i32> {
    match v {
        None => scaled_value(Some(&IntOrString::String("25%".into())), total, round_up),
        Some(IntOrString::Int(i)) => Ok(*i),
        Some(IntOrString::String(s)) => {
            let Some(p) = s.strip_suffix('%') else {
                return Err(Error::NotReady(format!(
                    "invalid value for IntOrString: invalid type: string is not a percentage: {s}"
                )));
            };
            let p: i64 = p
                .parse()
                .map_err(|_| Error::NotReady(format!("invalid value {s:?}")))?;
            let x = p * total as i64;
            Ok(if round_up {
                (x + 99).div_euclid(100)
            } else {
                x.div_euclid(100)
            } as i32)
        }
    }
}

/// maxSurge and maxUnavailable resolved for the Deployment's replicas (`ResolveFenceposts`).
pub fn fenceposts(d: &Deployment) -> Result<(i32, i32)> {
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let desired = replicas(d);
    let surge = scaled_value(ru.and_then(|r| r.max_surge.as_ref()), desired, true)?;
    let mut unavailable =
        scaled_value(ru.and_then(|r| r.max_unavailable.as_ref()), desired, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((surge, unavailable))
}

/// The resolved maxSurge (0 for Recreate).
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling(d) {
        return 0;
    }
    fenceposts(d).map(|f| f.0).unwrap_or(0)
}

/// The resolved maxUnavailable, at most the replicas (0 for Recreate or zero replicas).
pub fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling(d) || replicas(d) == 0 {
        return 0;
    }
    fenceposts(d).map(|f| f.1.min(replicas(d))).unwrap_or(0)
}

fn template_of(d: &Deployment) -> PodTemplateSpec {
    d.spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default()
}

fn normalized(t: &PodTemplateSpec) -> serde_json::Value {
    let mut t = t.clone();
    if let Some(m) = t.metadata.as_mut() {
        if let Some(l) = m.labels.as_mut() {
            l.remove(HASH_LABEL);
            if l.is_empty() {
                m.labels = None;
            }
        }
        if m.annotations.as_ref().is_some_and(|a| a.is_empty()) {
            m.annotations = None;
        }
        if *m == ObjectMeta::default() {
            t.metadata = None;
        }
    }
    serde_json::to_value(&t).unwrap_or_default()
}

/// Whether two pod templates are equal apart from the `pod-template-hash` label.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    normalized(a) == normalized(b)
}

/// The pod-template-hash of a template (FNV-1a over its canonical JSON and the collision count,
/// printed in the alphabet Kubernetes uses for generated names).
pub fn compute_hash(t: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut h: u32 = 0x811c9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= *b as u32;
            h = h.wrapping_mul(0x01000193);
        }
    };
    feed(normalized(t).to_string().as_bytes());
    if let Some(c) = collision_count {
        feed(&(c as u32).to_le_bytes());
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char)
        .collect()
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.annotations()
        .get(REVISION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn created(rs: &ReplicaSet) -> (i64, String) {
    (
        rs.metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.timestamp())
            .unwrap_or(0),
        rs.name_any(),
    )
}

fn annotation_i32(rs: &ReplicaSet, k: &str) -> Option<i32> {
    rs.annotations().get(k).and_then(|v| v.parse().ok())
}

fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .is_some_and(|p| p != i32::MAX)
}

fn get_condition<'a>(s: &'a DeploymentStatus, t: &str) -> Option<&'a DeploymentCondition> {
    s.conditions.iter().flatten().find(|c| c.type_ == t)
}

fn new_condition(type_: &str, status: &str, reason: &str, message: String) -> DeploymentCondition {
    let now = util::now_time();
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

fn set_condition(s: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(cur) = get_condition(s, &c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time.clone();
        }
    }
    let mut v: Vec<DeploymentCondition> = s
        .conditions
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|x| x.type_ != c.type_)
        .collect();
    v.push(c);
    s.conditions = Some(v);
}

fn remove_condition(s: &mut DeploymentStatus, t: &str) {
    if let Some(v) = s.conditions.as_mut() {
        v.retain(|c| c.type_ != t);
    }
}

fn normalize_status(s: &DeploymentStatus) -> DeploymentStatus {
    let mut s = s.clone();
    for f in [
        &mut s.replicas,
        &mut s.updated_replicas,
        &mut s.ready_replicas,
        &mut s.available_replicas,
        &mut s.unavailable_replicas,
    ] {
        if f.is_none() {
            *f = Some(0);
        }
    }
    s.observed_generation.get_or_insert(0);
    if s.conditions.as_ref().is_some_and(|c| c.is_empty()) {
        s.conditions = None;
    }
    s
}

fn active(rss: &[ReplicaSet]) -> Vec<ReplicaSet> {
    rss.iter().filter(|r| rs_replicas(r) > 0).cloned().collect()
}

fn sum(rss: &[ReplicaSet], f: fn(&ReplicaSet) -> i32) -> i32 {
    rss.iter().map(f).sum()
}

/// Replicas the new ReplicaSet should have now (`NewRSNewReplicas`).
fn new_rs_new_replicas(d: &Deployment, all: &[ReplicaSet], new_rs: &ReplicaSet) -> Result<i32> {
    if !is_rolling(d) {
        return Ok(replicas(d));
    }
    let (surge, _) = fenceposts(d)?;
    let current = sum(all, rs_replicas);
    let max_total = replicas(d) + surge;
    if current >= max_total {
        return Ok(rs_replicas(new_rs));
    }
    let up = (max_total - current)
        .min(replicas(d) - rs_replicas(new_rs))
        .max(0);
    Ok(rs_replicas(new_rs) + up)
}

fn deployment_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let r = replicas(d);
    s.updated_replicas.unwrap_or(0) == r
        && s.replicas.unwrap_or(0) == r
        && s.available_replicas.unwrap_or(0) == r
        && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

fn deployment_progressing(d: &Deployment, s: &DeploymentStatus) -> bool {
    let old = normalize_status(&d.status.clone().unwrap_or_default());
    let n = normalize_status(s);
    let g = |x: Option<i32>| x.unwrap_or(0);
    let old_old = g(old.replicas) - g(old.updated_replicas);
    let new_old = g(n.replicas) - g(n.updated_replicas);
    g(n.updated_replicas) > g(old.updated_replicas)
        || new_old < old_old
        || g(n.ready_replicas) > g(old.ready_replicas)
        || g(n.available_replicas) > g(old.available_replicas)
}

fn deployment_timed_out(d: &Deployment, s: &DeploymentStatus) -> bool {
    if !has_progress_deadline(d) {
        return false;
    }
    let Some(c) = get_condition(s, "Progressing") else {
        return false;
    };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE_REASON) => false,
        Some(TIMED_OUT_REASON) => true,
        _ => {
            let secs = d
                .spec
                .as_ref()
                .and_then(|s| s.progress_deadline_seconds)
                .unwrap_or(600) as i64;
            c.last_update_time
                .as_ref()
                .is_some_and(|t| t.0 + k8s_openapi::chrono::Duration::seconds(secs) < Utc::now())
        }
    }
}

// ---- the controller ----

impl DeploymentController {
    fn rs_api(&self, ns: &str) -> Api<ReplicaSet> {
        Api::namespaced(self.shared.client.clone(), ns)
    }

    fn d_api(&self, ns: &str) -> Api<Deployment> {
        Api::namespaced(self.shared.client.clone(), ns)
    }

    async fn sync(&self, key: &str) -> Result<Requeue> {
        let Some(d0) = self.shared.deployments.get(key) else {
            return Ok(None);
        };
        let mut d = (*d0).clone();
        let ns = d.namespace().unwrap_or_default();
        let selector = d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        if util::selector_is_empty(&selector) {
            self.events.warning(
                d.object_ref(&()),
                "SelectorRequired",
                "Sync",
                "This deployment requires a selector".into(),
            );
            let g = d.metadata.generation.unwrap_or(0);
            if d.status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0)
                < g
            {
                let mut s = d.status.clone().unwrap_or_default();
                s.observed_generation = Some(g);
                self.write_status(&mut d, s).await?;
            }
            return Ok(None);
        }
        let uid = d.uid().unwrap_or_default();
        let mut rs_list: Vec<ReplicaSet> = self
            .shared
            .replicasets
            .get_many(&self.shared.replicasets_by_owner.owned_by(&uid))
            .iter()
            .map(|r| (**r).clone())
            .collect();
        rs_list.sort_by_key(created);
        if d.metadata.deletion_timestamp.is_some() {
            return self.sync_status_only(&mut d, &rs_list).await;
        }
        self.check_paused_conditions(&mut d).await?;
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused || self.is_scaling_event(&d, &rs_list) {
            return self.sync_scale(&mut d, &rs_list, &ns).await;
        }
        if is_rolling(&d) {
            self.rollout_rolling(&mut d, &rs_list, &ns).await
        } else {
            self.rollout_recreate(&mut d, &rs_list, &ns).await
        }
    }

    async fn write_status(&self, d: &mut Deployment, s: DeploymentStatus) -> Result<()> {
        let patch = json!({"status": s});
        match self
            .d_api(&d.namespace().unwrap_or_default())
            .patch_status(
                &d.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) | Err(kube::Error::Api(kube::core::ErrorResponse { code: 404, .. })) => {
                d.status = Some(s);
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn check_paused_conditions(&self, d: &mut Deployment) -> Result<()> {
        let s = d.status.clone().unwrap_or_default();
        let cond = get_condition(&s, "Progressing");
        if cond.is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT_REASON)) {
            return Ok(());
        }
        let paused_exists = cond.is_some_and(|c| c.reason.as_deref() == Some(PAUSED_REASON));
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        let mut ns = s.clone();
        if paused && !paused_exists {
            set_condition(
                &mut ns,
                new_condition(
                    "Progressing",
                    "Unknown",
                    PAUSED_REASON,
                    "Deployment is paused".into(),
                ),
            );
        } else if !paused && paused_exists {
            set_condition(
                &mut ns,
                new_condition(
                    "Progressing",
                    "Unknown",
                    RESUMED_REASON,
                    "Deployment is resumed".into(),
                ),
            );
        } else {
            return Ok(());
        }
        self.write_status(d, ns).await
    }

    fn find_new(&self, d: &Deployment, rs_list: &[ReplicaSet]) -> Option<usize> {
        let t = template_of(d);
        rs_list.iter().position(|rs| {
            rs.spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|rt| equal_ignore_hash(rt, &t))
        })
    }

    fn is_scaling_event(&self, d: &Deployment, rs_list: &[ReplicaSet]) -> bool {
        let want = replicas(d);
        active(rs_list)
            .iter()
            .any(|rs| annotation_i32(rs, DESIRED_REPLICAS).is_some_and(|v| v != want))
    }

    /// Finds (or creates) the new ReplicaSet and syncs revisions (`getAllReplicaSetsAndSyncRevision`).
    async fn new_and_old(
        &self,
        d: &mut Deployment,
        rs_list: &[ReplicaSet],
        create: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>)> {
        let new_idx = self.find_new(d, rs_list);
        let old: Vec<ReplicaSet> = rs_list
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != new_idx)
            .map(|(_, r)| r.clone())
            .collect();
        let max_old = old.iter().map(revision).max().unwrap_or(0);
        let new_revision = max_old + 1;
        let ns = d.namespace().unwrap_or_default();
        if let Some(i) = new_idx {
            let mut rs = rs_list[i].clone();
            let annotations_updated = set_new_rs_annotations(d, &mut rs, new_revision, true);
            let min_ready = d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let min_ready_update = rs
                .spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0)
                != min_ready.unwrap_or(0);
            if annotations_updated || min_ready_update {
                let patch = json!({"metadata": {"annotations": rs.metadata.annotations}, "spec": {"minReadySeconds": min_ready}});
                rs = self
                    .rs_api(&ns)
                    .patch(
                        &rs.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await?;
                self.shared.replicasets.assume(rs.clone());
            }
            let rev = rs.annotations().get(REVISION).cloned().unwrap_or_default();
            self.set_deployment_revision(d, &rev).await?;
            let mut s = d.status.clone().unwrap_or_default();
            if has_progress_deadline(d) && get_condition(&s, "Progressing").is_none() {
                set_condition(
                    &mut s,
                    new_condition(
                        "Progressing",
                        "True",
                        FOUND_NEW_RS_REASON,
                        format!("Found new replica set \"{}\"", rs.name_any()),
                    ),
                );
                self.write_status(d, s).await?;
            }
            return Ok((Some(rs), old));
        }
        if !create {
            return Ok((None, old));
        }
        let template = template_of(d);
        let collision = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&template, collision);
        let mut t = template.clone();
        let tm = t.metadata.get_or_insert_with(Default::default);
        tm.labels
            .get_or_insert_with(Default::default)
            .insert(HASH_LABEL.into(), hash.clone());
        let mut selector: LabelSelector = d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(HASH_LABEL.into(), hash.clone());
        let name = format!("{}-{}", d.name_any(), hash);
        let mut new_rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                owner_references: Some(vec![controller_ref(d)]),
                labels: tm.labels.clone(),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: d.spec.as_ref().and_then(|s| s.min_ready_seconds),
                selector,
                template: Some(t),
            }),
            status: None,
        };
        let mut all = old.clone();
        all.push(new_rs.clone());
        let count = new_rs_new_replicas(d, &all, &new_rs)?;
        if let Some(s) = new_rs.spec.as_mut() {
            s.replicas = Some(count);
        }
        set_new_rs_annotations(d, &mut new_rs, new_revision, false);
        let api = self.rs_api(&ns);
        let mut already = false;
        let created = match api.create(&PostParams::default(), &new_rs).await {
            Ok(rs) => rs,
            Err(e) if util::is_conflict(&e) => {
                let existing = api.get(&name).await?;
                let ours = controller_of(&existing.metadata)
                    .is_some_and(|r| Some(&r.uid) == d.metadata.uid.as_ref());
                if ours
                    && existing
                        .spec
                        .as_ref()
                        .and_then(|s| s.template.as_ref())
                        .is_some_and(|rt| equal_ignore_hash(rt, &template))
                {
                    already = true;
                    existing
                } else {
                    // A hash collision: bump collisionCount so the next attempt uses another name.
                    let mut s = d.status.clone().unwrap_or_default();
                    s.collision_count = Some(s.collision_count.unwrap_or(0) + 1);
                    self.write_status(d, s).await?;
                    return Err(Error::NotReady(format!(
                        "hash collision for replica set {name}"
                    )));
                }
            }
            Err(e) => {
                if has_progress_deadline(d) {
                    let mut s = d.status.clone().unwrap_or_default();
                    let msg = format!("Failed to create new replica set \"{name}\": {e}");
                    set_condition(
                        &mut s,
                        new_condition("Progressing", "False", FAILED_RS_CREATE_REASON, msg.clone()),
                    );
                    self.write_status(d, s).await?;
                    self.events
                        .warning(d.object_ref(&()), FAILED_RS_CREATE_REASON, "Create", msg);
                }
                return Err(e.into());
            }
        };
        self.shared.replicasets.assume(created.clone());
        if !already && count > 0 {
            self.events.normal(
                d.object_ref(&()),
                "ScalingReplicaSet",
                "Scale",
                format!("Scaled up replica set {name} from 0 to {count}"),
            );
        }
        if !already && has_progress_deadline(d) {
            let mut s = d.status.clone().unwrap_or_default();
            set_condition(
                &mut s,
                new_condition(
                    "Progressing",
                    "True",
                    NEW_RS_REASON,
                    format!("Created new replica set \"{name}\""),
                ),
            );
            self.write_status(d, s).await?;
        }
        self.set_deployment_revision(d, &new_revision.to_string())
            .await?;
        Ok((Some(created), old))
    }

    async fn set_deployment_revision(&self, d: &mut Deployment, rev: &str) -> Result<()> {
        if rev.is_empty() || d.annotations().get(REVISION).map(String::as_str) == Some(rev) {
            return Ok(());
        }
        let patch = json!({"metadata": {"annotations": {REVISION: rev}}});
        self.d_api(&d.namespace().unwrap_or_default())
            .patch(
                &d.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        d.annotations_mut().insert(REVISION.into(), rev.into());
        Ok(())
    }

    /// Scales one ReplicaSet and records the event (`scaleReplicaSetAndRecordEvent`).
    async fn scale_rs(&self, rs: &mut ReplicaSet, size: i32, d: &Deployment) -> Result<bool> {
        let current = rs_replicas(rs);
        let desired = replicas(d);
        let max = desired + max_surge(d);
        let size_change = current != size;
        let ann_change = annotation_i32(rs, DESIRED_REPLICAS) != Some(desired)
            || annotation_i32(rs, MAX_REPLICAS) != Some(max);
        if !size_change && !ann_change {
            return Ok(false);
        }
        let patch = json!({"metadata": {"annotations": {DESIRED_REPLICAS: desired.to_string(), MAX_REPLICAS: max.to_string()}}, "spec": {"replicas": size}});
        let updated = self
            .rs_api(&rs.namespace().unwrap_or_default())
            .patch(
                &rs.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        self.shared.replicasets.assume(updated.clone());
        *rs = updated;
        if size_change {
            let dir = if size > current { "up" } else { "down" };
            self.events.normal(
                d.object_ref(&()),
                "ScalingReplicaSet",
                "Scale",
                format!(
                    "Scaled {dir} replica set {} from {current} to {size}",
                    rs.name_any()
                ),
            );
        }
        Ok(size_change)
    }

    /// Scaling only (paused, or replicas changed): proportional across active ReplicaSets.
    async fn sync_scale(
        &self,
        d: &mut Deployment,
        rs_list: &[ReplicaSet],
        _ns: &str,
    ) -> Result<Requeue> {
        let (new_rs, mut old) = self.new_and_old(d, rs_list, false).await?;
        let mut new_rs = new_rs;
        self.scale(d, new_rs.as_mut(), &mut old).await?;
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused {
            self.cleanup(d, &old).await?;
        }
        let mut all = old.clone();
        all.extend(new_rs.clone());
        let s = calculate_status(&all, new_rs.as_ref(), d);
        self.write_if_changed(d, s).await?;
        Ok(None)
    }

    async fn sync_status_only(
        &self,
        d: &mut Deployment,
        rs_list: &[ReplicaSet],
    ) -> Result<Requeue> {
        let (new_rs, old) = self.new_and_old(d, rs_list, false).await?;
        let mut all = old.clone();
        all.extend(new_rs.clone());
        let s = calculate_status(&all, new_rs.as_ref(), d);
        self.write_if_changed(d, s).await?;
        Ok(None)
    }

    async fn write_if_changed(&self, d: &mut Deployment, s: DeploymentStatus) -> Result<()> {
        if normalize_status(&s) != normalize_status(&d.status.clone().unwrap_or_default()) {
            self.write_status(d, s).await?;
        }
        Ok(())
    }

    async fn scale(
        &self,
        d: &Deployment,
        new_rs: Option<&mut ReplicaSet>,
        old: &mut [ReplicaSet],
    ) -> Result<()> {
        let want = replicas(d);
        // One active (or the latest) ReplicaSet takes all replicas.
        old.sort_by_key(|r| std::cmp::Reverse(created(r)));
        let mut all_active: Vec<&ReplicaSet> = old.iter().filter(|r| rs_replicas(r) > 0).collect();
        if let Some(n) = new_rs.as_deref() {
            if rs_replicas(n) > 0 {
                all_active.push(n);
            }
        }
        let n_active = all_active.len();
        if n_active <= 1 {
            let target: Option<&mut ReplicaSet> = if n_active == 1 {
                if new_rs.as_deref().is_some_and(|n| rs_replicas(n) > 0) {
                    new_rs
                } else {
                    old.iter_mut().find(|r| rs_replicas(r) > 0)
                }
            } else if new_rs.is_some() {
                new_rs
            } else {
                old.first_mut()
            };
            if let Some(t) = target {
                if rs_replicas(t) != want {
                    self.scale_rs(t, want, d).await?;
                }
            }
            return Ok(());
        }
        // The new ReplicaSet is saturated: old ones go to zero.
        if let Some(n) = new_rs.as_deref() {
            if annotation_i32(n, DESIRED_REPLICAS) == Some(want)
                && rs_replicas(n) == want
                && rs_available(n) == want
            {
                for r in old.iter_mut().filter(|r| rs_replicas(r) > 0) {
                    self.scale_rs(r, 0, d).await?;
                }
                return Ok(());
            }
        }
        if !is_rolling(d) {
            return Ok(());
        }
        // Proportional scaling mid-rollout.
        let mut all: Vec<&mut ReplicaSet> = old.iter_mut().filter(|r| rs_replicas(r) > 0).collect();
        if let Some(n) = new_rs {
            if rs_replicas(n) > 0 {
                all.push(n);
            }
        }
        let total: i32 = all.iter().map(|r| rs_replicas(r)).sum();
        let allowed = if want > 0 { want + max_surge(d) } else { 0 };
        let to_add = allowed - total;
        if to_add > 0 {
            all.sort_by(|a, b| {
                rs_replicas(b)
                    .cmp(&rs_replicas(a))
                    .then(created(b).cmp(&created(a)))
            });
        } else {
            all.sort_by(|a, b| {
                rs_replicas(b)
                    .cmp(&rs_replicas(a))
                    .then(created(a).cmp(&created(b)))
            });
        }
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(all.len());
        for r in &all {
            if to_add != 0 {
                let p = proportion(r, d, to_add, added);
                sizes.push(rs_replicas(r) + p);
                added += p;
            } else {
                sizes.push(rs_replicas(r));
            }
        }
        if added != to_add && !sizes.is_empty() {
            sizes[0] = (sizes[0] + to_add - added).max(0);
        }
        for (r, size) in all.into_iter().zip(sizes) {
            self.scale_rs(r, size, d).await?;
        }
        Ok(())
    }

    async fn cleanup(&self, d: &Deployment, old: &[ReplicaSet]) -> Result<()> {
        let Some(limit) = d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
            return Ok(());
        };
        let mut cleanable: Vec<&ReplicaSet> = old
            .iter()
            .filter(|r| r.metadata.deletion_timestamp.is_none())
            .collect();
        let diff = cleanable.len() as i64 - limit as i64;
        if diff <= 0 {
            return Ok(());
        }
        cleanable.sort_by_key(|r| (revision(r), created(r)));
        for rs in cleanable.into_iter().take(diff as usize) {
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            if rs_status_replicas(rs) != 0
                || rs_replicas(rs) != 0
                || rs.metadata.generation.unwrap_or(0) > observed
            {
                continue;
            }
            match self
                .rs_api(&rs.namespace().unwrap_or_default())
                .delete(&rs.name_any(), &Default::default())
                .await
            {
                Ok(_) => {}
                Err(e) if util::is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn rollout_rolling(
        &self,
        d: &mut Deployment,
        rs_list: &[ReplicaSet],
        _ns: &str,
    ) -> Result<Requeue> {
        let (new_rs, mut old) = self.new_and_old(d, rs_list, true).await?;
        let Some(mut new_rs) = new_rs else {
            return Err(Error::NotReady("no new replica set".into()));
        };
        // Scale up the new ReplicaSet.
        let want = replicas(d);
        let mut all = old.clone();
        all.push(new_rs.clone());
        let scaled_up = if rs_replicas(&new_rs) == want {
            false
        } else if rs_replicas(&new_rs) > want {
            self.scale_rs(&mut new_rs, want, d).await?
        } else {
            let n = new_rs_new_replicas(d, &all, &new_rs)?;
            self.scale_rs(&mut new_rs, n, d).await?
        };
        if scaled_up {
            let mut all = old.clone();
            all.push(new_rs.clone());
            return self.sync_rollout_status(d, &all, Some(&new_rs)).await;
        }
        // Scale down old ReplicaSets.
        let scaled_down = self.reconcile_old(d, &mut old, &new_rs).await?;
        let mut all = old.clone();
        all.push(new_rs.clone());
        if scaled_down {
            return self.sync_rollout_status(d, &all, Some(&new_rs)).await;
        }
        if deployment_complete(d, &d.status.clone().unwrap_or_default()) {
            self.cleanup(d, &old).await?;
        }
        self.sync_rollout_status(d, &all, Some(&new_rs)).await
    }

    async fn reconcile_old(
        &self,
        d: &Deployment,
        old: &mut [ReplicaSet],
        new_rs: &ReplicaSet,
    ) -> Result<bool> {
        let old_count: i32 = old.iter().map(rs_replicas).sum();
        if old_count == 0 {
            return Ok(false);
        }
        let all_count = old_count + rs_replicas(new_rs);
        let min_available = replicas(d) - max_unavailable(d);
        let new_unavailable = rs_replicas(new_rs) - rs_available_within(new_rs);
        let max_scaled_down = all_count - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        // Clean up unhealthy replicas of old ReplicaSets first.
        old.sort_by_key(created);
        let mut cleaned = 0;
        for rs in old.iter_mut() {
            if cleaned >= max_scaled_down {
                break;
            }
            let r = rs_replicas(rs);
            // Status may still count pods of a larger size: never scale up here.
            if r == 0 || r <= rs_available(rs) {
                continue;
            }
            let n = (max_scaled_down - cleaned).min(r - rs_available(rs));
            self.scale_rs(rs, r - n, d).await?;
            cleaned += n;
        }
        // Then scale down healthy ones as far as availability allows. A ReplicaSet's status may
        // still count pods it is deleting, so never count more available pods than its size.
        let available: i32 =
            old.iter().map(rs_available_within).sum::<i32>() + rs_available_within(new_rs);
        let mut scaled = 0;
        if available > min_available {
            let total = available - min_available;
            for rs in old.iter_mut() {
                if scaled >= total {
                    break;
                }
                let r = rs_replicas(rs);
                if r == 0 {
                    continue;
                }
                let n = r.min(total - scaled);
                self.scale_rs(rs, r - n, d).await?;
                scaled += n;
            }
        }
        Ok(cleaned + scaled > 0)
    }

    async fn rollout_recreate(
        &self,
        d: &mut Deployment,
        rs_list: &[ReplicaSet],
        _ns: &str,
    ) -> Result<Requeue> {
        let (new_rs, mut old) = self.new_and_old(d, rs_list, false).await?;
        let mut scaled_down = false;
        for rs in old.iter_mut().filter(|r| rs_replicas(r) > 0) {
            if self.scale_rs(rs, 0, d).await? {
                scaled_down = true;
            }
        }
        let all_of = |old: &[ReplicaSet], n: &Option<ReplicaSet>| {
            let mut a = old.to_vec();
            a.extend(n.clone());
            a
        };
        if scaled_down {
            return self
                .sync_rollout_status(d, &all_of(&old, &new_rs), new_rs.as_ref())
                .await;
        }
        if self.old_pods_running(new_rs.as_ref(), &old) {
            return self
                .sync_rollout_status(d, &all_of(&old, &new_rs), new_rs.as_ref())
                .await;
        }
        let mut new_rs = match new_rs {
            Some(n) => n,
            None => match self.new_and_old(d, rs_list, true).await?.0 {
                Some(n) => n,
                None => return Err(Error::NotReady("no new replica set".into())),
            },
        };
        let want = replicas(d);
        self.scale_rs(&mut new_rs, want, d).await?;
        if deployment_complete(d, &d.status.clone().unwrap_or_default()) {
            self.cleanup(d, &old).await?;
        }
        let nr = Some(new_rs);
        self.sync_rollout_status(d, &all_of(&old, &nr), nr.as_ref())
            .await
    }

    fn old_pods_running(&self, new_rs: Option<&ReplicaSet>, old: &[ReplicaSet]) -> bool {
        if old.iter().map(rs_status_replicas).sum::<i32>() > 0 {
            return true;
        }
        let new_uid = new_rs.and_then(|n| n.metadata.uid.clone());
        for rs in old {
            let uid = rs.uid().unwrap_or_default();
            if Some(&uid) == new_uid.as_ref() {
                continue;
            }
            for p in self
                .shared
                .pods
                .get_many(&self.shared.pods_by_owner.owned_by(&uid))
            {
                if !matches!(util::phase(&p), "Failed" | "Succeeded") {
                    return true;
                }
            }
        }
        false
    }

    async fn sync_rollout_status(
        &self,
        d: &mut Deployment,
        all: &[ReplicaSet],
        new_rs: Option<&ReplicaSet>,
    ) -> Result<Requeue> {
        let mut s = calculate_status(all, new_rs, d);
        if !has_progress_deadline(d) {
            remove_condition(&mut s, "Progressing");
        }
        let old_status = d.status.clone().unwrap_or_default();
        let current = get_condition(&old_status, "Progressing").cloned();
        let complete_already = s.replicas == s.updated_replicas
            && current
                .as_ref()
                .is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE_REASON));
        if has_progress_deadline(d) && !complete_already {
            if deployment_complete(d, &s) {
                let msg = match new_rs {
                    Some(n) => format!(
                        "ReplicaSet \"{}\" has successfully progressed.",
                        n.name_any()
                    ),
                    None => "Deployment has successfully progressed.".into(),
                };
                set_condition(
                    &mut s,
                    new_condition("Progressing", "True", NEW_RS_AVAILABLE_REASON, msg),
                );
            } else if deployment_progressing(d, &s) {
                let msg = match new_rs {
                    Some(n) => format!("ReplicaSet \"{}\" is progressing.", n.name_any()),
                    None => format!("Deployment \"{}\" is progressing.", d.name_any()),
                };
                let mut c = new_condition("Progressing", "True", RS_UPDATED_REASON, msg);
                if let Some(cur) = &current {
                    if cur.status == "True" {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    remove_condition(&mut s, "Progressing");
                }
                set_condition(&mut s, c);
            } else if deployment_timed_out(d, &s) {
                let msg = match new_rs {
                    Some(n) => {
                        format!("ReplicaSet \"{}\" has timed out progressing.", n.name_any())
                    }
                    None => format!("Deployment \"{}\" has timed out progressing.", d.name_any()),
                };
                set_condition(
                    &mut s,
                    new_condition("Progressing", "False", TIMED_OUT_REASON, msg.clone()),
                );
                self.events
                    .warning(d.object_ref(&()), TIMED_OUT_REASON, "Progress", msg);
            }
        }
        // ReplicaFailure mirrors the new ReplicaSet's.
        let failure = all.iter().rev().find_map(|rs| {
            rs.status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
                .cloned()
        });
        match failure {
            Some(f) => set_condition(
                &mut s,
                DeploymentCondition {
                    type_: "ReplicaFailure".into(),
                    status: f.status,
                    reason: f.reason,
                    message: f.message,
                    last_update_time: f.last_transition_time.clone(),
                    last_transition_time: f.last_transition_time,
                },
            ),
            None => remove_condition(&mut s, "ReplicaFailure"),
        }
        if normalize_status(&s) == normalize_status(&old_status) {
            return Ok(self.requeue_stuck(d, &s));
        }
        self.write_status(d, s).await?;
        Ok(None)
    }

    fn requeue_stuck(&self, d: &Deployment, s: &DeploymentStatus) -> Requeue {
        let cur = get_condition(d.status.as_ref()?, "Progressing")?;
        if cur.reason.as_deref() == Some(TIMED_OUT_REASON)
            || !has_progress_deadline(d)
            || deployment_complete(d, s)
        {
            return None;
        }
        let secs = d
            .spec
            .as_ref()
            .and_then(|s| s.progress_deadline_seconds)
            .unwrap_or(600) as i64;
        let at = cur.last_update_time.as_ref()?.0 + k8s_openapi::chrono::Duration::seconds(secs);
        let after = (at - Utc::now()).num_milliseconds();
        Some(if after < 1000 {
            Duration::from_millis(10)
        } else {
            Duration::from_millis(after as u64)
        })
    }
}

fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = rs_fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

fn rs_fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    if replicas(d) == 0 {
        return -rs_replicas(rs);
    }
    let deployment_replicas = replicas(d) + max_surge(d);
    let annotated = annotation_i32(rs, MAX_REPLICAS)
        .unwrap_or_else(|| d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
    if annotated == 0 {
        return 0;
    }
    let size = (rs_replicas(rs) as f64 * deployment_replicas as f64) / annotated as f64;
    size.round() as i32 - rs_replicas(rs)
}

/// Annotations the controller copies onto ReplicaSets, plus revision bookkeeping
/// (`SetNewReplicaSetAnnotations`); returns whether anything changed.
fn set_new_rs_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
) -> bool {
    const SKIP: &[&str] = &[
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    ];
    let mut changed = false;
    let desired = replicas(d);
    let max = desired + max_surge(d);
    let a: &mut BTreeMap<String, String> =
        rs.metadata.annotations.get_or_insert_with(Default::default);
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if SKIP.contains(&k.as_str()) {
            continue;
        }
        if a.get(k) != Some(v) {
            a.insert(k.clone(), v.clone());
            changed = true;
        }
    }
    let old_rev = a.get(REVISION).cloned().unwrap_or_default();
    let old_rev_int: i64 = old_rev.parse().unwrap_or(0);
    if old_rev_int < new_revision {
        a.insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if !old_rev.is_empty() {
            let hist = match a.get(REVISION_HISTORY) {
                Some(h) if !h.is_empty() => format!("{h},{old_rev}"),
                _ => old_rev.clone(),
            };
            a.insert(REVISION_HISTORY.into(), hist);
        }
    }
    if !exists {
        if a.get(DESIRED_REPLICAS) != Some(&desired.to_string())
            || a.get(MAX_REPLICAS) != Some(&max.to_string())
        {
            changed = true;
        }
        a.insert(DESIRED_REPLICAS.into(), desired.to_string());
        a.insert(MAX_REPLICAS.into(), max.to_string());
    }
    changed
}

fn calculate_status(
    all: &[ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    d: &Deployment,
) -> DeploymentStatus {
    let available = sum(all, rs_available);
    let total = sum(all, rs_replicas);
    let unavailable = (total - available).max(0);
    let mut s = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(sum(all, rs_status_replicas)),
        updated_replicas: Some(new_rs.map(rs_status_replicas).unwrap_or(0)),
        ready_replicas: Some(sum(all, rs_ready)),
        available_replicas: Some(available),
        unavailable_replicas: Some(unavailable),
        collision_count: d.status.as_ref().and_then(|s| s.collision_count),
        conditions: d.status.as_ref().and_then(|s| s.conditions.clone()),
    };
    if available >= replicas(d) - max_unavailable(d) {
        set_condition(
            &mut s,
            new_condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
            ),
        );
    } else {
        set_condition(
            &mut s,
            new_condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
            ),
        );
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn dep(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "d"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"a": "b"}}, "template": {},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}
        }))
        .unwrap()
    }

    #[test]
    fn percentages_round_surge_up_and_unavailable_down_like_kubernetes() {
        let d = dep(
            10,
            IntOrString::String("25%".into()),
            IntOrString::String("25%".into()),
        );
        assert_eq!(fenceposts(&d).unwrap(), (3, 2));
        let d = dep(
            1,
            IntOrString::String("25%".into()),
            IntOrString::String("25%".into()),
        );
        assert_eq!(fenceposts(&d).unwrap(), (1, 0));
        let d = dep(3, IntOrString::Int(0), IntOrString::Int(0));
        assert_eq!(
            fenceposts(&d).unwrap(),
            (0, 1),
            "both zero means one unavailable"
        );
        let d = dep(2, IntOrString::Int(1), IntOrString::Int(5));
        assert_eq!(max_unavailable(&d), 2, "capped at replicas");
    }

    #[test]
    fn templates_compare_equal_ignoring_the_hash_label_and_hash_is_stable() {
        let a: PodTemplateSpec = serde_json::from_value(json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}})).unwrap();
        let mut b = a.clone();
        b.metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert(HASH_LABEL.into(), "abc".into());
        assert!(equal_ignore_hash(&a, &b));
        assert_eq!(compute_hash(&a, None), compute_hash(&b, None));
        assert_ne!(compute_hash(&a, None), compute_hash(&a, Some(1)));
        let mut c = a.clone();
        c.metadata.as_mut().unwrap().annotations = Some(
            [(
                "kubectl.kubernetes.io/restartedAt".to_string(),
                "now".to_string(),
            )]
            .into(),
        );
        assert!(!equal_ignore_hash(&a, &c));
        assert!(compute_hash(&a, None)
            .chars()
            .all(|ch| "bcdfghjklmnpqrstvwxz2456789".contains(ch)));
    }

    #[test]
    fn reused_replica_set_gets_next_revision_and_history() {
        let d = dep(1, IntOrString::Int(1), IntOrString::Int(0));
        let mut rs: ReplicaSet = serde_json::from_value(
            json!({"metadata": {"name": "r", "annotations": {REVISION: "1"}}}),
        )
        .unwrap();
        assert!(set_new_rs_annotations(&d, &mut rs, 3, true));
        assert_eq!(rs.annotations().get(REVISION).unwrap(), "3");
        assert_eq!(rs.annotations().get(REVISION_HISTORY).unwrap(), "1");
        assert!(!set_new_rs_annotations(&d, &mut rs, 3, true));
    }
}
