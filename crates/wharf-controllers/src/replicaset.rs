//! The ReplicaSet controller (kube-controller-manager's `replicaset` controller): keeps
//! `spec.replicas` active pods per ReplicaSet, adopting matching orphans and releasing pods whose
//! labels stopped matching, creating in slow-start batches (1, 2, 4, …, at most `burst_replicas`
//! per sync) and deleting the least valuable pods first, and reports replicas / fullyLabeled /
//! ready / available / observedGeneration in `status` only when they change.

use std::cmp::Reverse;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::chrono::Utc;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::{json, Value};

use crate::events::Events;
use crate::expectations::Expectations;
use crate::informer::{key_of, split_key, Change};
use crate::queue::{Requeue, WorkQueue};
use crate::util::{
    controller_key,
    self, controller_of, controller_ref, pod_is_active, pod_is_available, pod_is_ready,
    selector_matches,
};
use crate::{ControllersConfig, Result, Shared};

/// The controller's state.
pub struct ReplicaSetController {
    shared: Arc<Shared>,
    queue: Arc<WorkQueue>,
    exp: Expectations,
    events: Events,
    burst: usize,
}

type Starter = Box<dyn FnOnce() -> Vec<tokio::task::JoinHandle<()>> + Send>;

fn rs_key_of_pod(p: &Pod) -> Option<String> {
    controller_key(&p.metadata, "ReplicaSet", "apps/v1")
}

/// Registers the controller's handlers; the returned starter spawns its workers once caches synced.
pub fn register(shared: Arc<Shared>, cfg: &ControllersConfig) -> (Arc<WorkQueue>, Starter) {
    let queue = WorkQueue::new();
    let c = Arc::new(ReplicaSetController {
        events: Events::new(shared.client.clone(), "replicaset-controller"),
        shared: shared.clone(),
        queue: queue.clone(),
        exp: Expectations::default(),
        burst: cfg.burst_replicas.max(1),
    });
    let h = c.clone();
    shared.replicasets.on_change(move |ch| match ch {
        Change::Added(rs) | Change::Updated(_, rs) => h.queue.add(key_of(rs.as_ref())),
        Change::Deleted(rs) => {
            let k = key_of(rs.as_ref());
            h.exp.delete(&k);
            h.queue.add(k);
        }
    });
    let h = c.clone();
    shared.pods.on_change(move |ch| h.pod_changed(ch));
    let workers = cfg.replicaset_workers;
    let starter: Starter = Box::new(move || {
        let q = c.queue.clone();
        q.spawn_workers("replicaset", workers, move |key| {
            let c = c.clone();
            async move { c.sync(&key).await }
        })
    });
    (queue, starter)
}

impl ReplicaSetController {
    fn pod_changed(&self, ch: &Change<'_, Pod>) {
        match ch {
            Change::Added(p) => {
                if p.metadata.deletion_timestamp.is_some() {
                    return self.pod_deleted(p);
                }
                match rs_key_of_pod(p) {
                    Some(k) => {
                        self.exp.creations_observed(&k, 1);
                        self.queue.add(k);
                    }
                    None if controller_of(&p.metadata).is_none() => self.enqueue_matching(p),
                    None => {}
                }
            }
            Change::Updated(old, new) => {
                if new.metadata.deletion_timestamp.is_some()
                    && old.metadata.deletion_timestamp.is_none()
                {
                    self.pod_deleted(new);
                    if let Some(k) = rs_key_of_pod(old) {
                        self.queue.add(k);
                    }
                    return;
                }
                let ok = rs_key_of_pod(old);
                let nk = rs_key_of_pod(new);
                if ok != nk {
                    if let Some(k) = ok {
                        self.queue.add(k);
                    }
                }
                match nk {
                    Some(k) => self.queue.add(k),
                    None if controller_of(&new.metadata).is_none()
                        && (old.metadata.labels != new.metadata.labels
                            || controller_of(&old.metadata).is_some()) =>
                    {
                        self.enqueue_matching(new)
                    }
                    None => {}
                }
            }
            Change::Deleted(p) => self.pod_deleted(p),
        }
    }

    fn pod_deleted(&self, p: &Pod) {
        if let Some(k) = rs_key_of_pod(p) {
            self.exp.deletion_observed(&k, &key_of(p));
            self.queue.add(k);
        }
    }

    /// Enqueues ReplicaSets in the pod's namespace whose selector matches an orphan pod.
    fn enqueue_matching(&self, p: &Pod) {
        let ns = p.metadata.namespace.as_deref().unwrap_or_default();
        for rs in self.shared.replicasets.list() {
            if rs.metadata.namespace.as_deref() == Some(ns)
                && rs.metadata.deletion_timestamp.is_none()
                && selector_matches(
                    &rs.spec
                        .as_ref()
                        .map(|s| s.selector.clone())
                        .unwrap_or_default(),
                    p.metadata.labels.as_ref(),
                )
            {
                self.queue.add(key_of(rs.as_ref()));
            }
        }
    }

    async fn sync(&self, key: &str) -> Result<Requeue> {
        let Some(rs) = self.shared.replicasets.get(key) else {
            self.exp.delete(key);
            return Ok(None);
        };
        let (ns, _) = split_key(key);
        let ns = ns.unwrap_or_default();
        let Some(spec) = rs.spec.as_ref() else {
            return Ok(None);
        };
        let uid = rs.metadata.uid.clone().unwrap_or_default();
        let need_sync = self.exp.satisfied(key);
        let pods_api: Api<Pod> = Api::namespaced(self.shared.client.clone(), ns);

        // Claim: release owned pods that no longer match, adopt matching orphans.
        let mut pods = Vec::new();
        for p in self
            .shared
            .pods
            .get_many(&self.shared.pods_by_owner.owned_by(&uid))
        {
            if selector_matches(&spec.selector, p.metadata.labels.as_ref())
                || util::selector_is_empty(&spec.selector)
            {
                pods.push(p);
            } else if rs.metadata.deletion_timestamp.is_none() {
                release(&pods_api, &p, &uid).await?;
            }
        }
        if rs.metadata.deletion_timestamp.is_none() && !util::selector_is_empty(&spec.selector) {
            for p in self
                .shared
                .pods
                .get_many(&self.shared.pods_by_owner.orphans_in(ns))
            {
                if p.metadata.deletion_timestamp.is_none()
                    && selector_matches(&spec.selector, p.metadata.labels.as_ref())
                {
                    match adopt(&pods_api, &p, controller_ref(rs.as_ref())).await {
                        Ok(adopted) => pods.push(Arc::new(adopted)),
                        Err(e)
                            if util::is_not_found(&e)
                                || matches!(&e, kube::Error::Api(s) if s.code == 422) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        let mut active: Vec<Arc<Pod>> = pods.into_iter().filter(|p| pod_is_active(p)).collect();
        let mut manage_err = None;
        if need_sync && rs.metadata.deletion_timestamp.is_none() {
            match self.manage(&rs, key, &active, &pods_api).await {
                // Pods just deleted no longer count in status.
                Ok(deleted) if !deleted.is_empty() => {
                    active.retain(|p| !deleted.contains(&key_of(p.as_ref())))
                }
                Ok(_) => {}
                Err(e) => manage_err = Some(e),
            }
        }
        let requeue = self
            .update_status(&rs, &active, manage_err.as_ref())
            .await?;
        if let Some(e) = manage_err {
            return Err(e);
        }
        Ok(requeue)
    }

    /// Creates or deletes pods; returns the keys of the pods it deleted.
    async fn manage(
        &self,
        rs: &ReplicaSet,
        key: &str,
        active: &[Arc<Pod>],
        pods_api: &Api<Pod>,
    ) -> Result<std::collections::HashSet<String>> {
        let want = rs
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .unwrap_or(1)
            .max(0) as usize;
        let have = active.len();
        let reference = rs.object_ref(&());
        if have < want {
            let diff = (want - have).min(self.burst);
            self.exp.expect(key, diff as i64, Vec::new());
            let Some(template) = rs.spec.as_ref().and_then(|s| s.template.as_ref()) else {
                self.exp.creations_observed(key, diff as i64);
                return Ok(Default::default());
            };
            let pod =
                pod_from_template(template, controller_ref(rs), &format!("{}-", rs.name_any()));
            let pp = PostParams::default();
            let (ok, err) = slow_start_batch(diff, || async {
                let created = pods_api.create(&pp, &pod).await?;
                self.events.normal(
                    reference.clone(),
                    "SuccessfulCreate",
                    "Create",
                    format!("Created pod: {}", created.name_any()),
                );
                Ok(())
            })
            .await;
            if ok < diff {
                self.exp.creations_observed(key, (diff - ok) as i64);
            }
            if let Some(e) = err {
                self.events.warning(
                    reference,
                    "FailedCreate",
                    "Create",
                    format!("Error creating: {e}"),
                );
                return Err(e.into());
            }
        } else if have > want {
            let diff = (have - want).min(self.burst);
            let victims = pods_to_delete(active, diff);
            self.exp
                .expect(key, 0, victims.iter().map(|p| key_of(p.as_ref())));
            let results = join_all(victims.iter().map(|p| async {
                let name = p.name_any();
                let r = pods_api.delete(&name, &DeleteParams::default()).await;
                match r {
                    Ok(_) => {
                        self.events.normal(
                            reference.clone(),
                            "SuccessfulDelete",
                            "Delete",
                            format!("Deleted pod: {name}"),
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
            if let Some(e) = results.iter().find_map(|r| r.as_ref().err()) {
                self.events.warning(
                    reference,
                    "FailedDelete",
                    "Delete",
                    format!("Error deleting: {e}"),
                );
                return Err(crate::Error::NotReady(format!("deleting pods: {e}")));
            }
            return Ok(victims.iter().map(|p| key_of(p.as_ref())).collect());
        }
        Ok(Default::default())
    }

    async fn update_status(
        &self,
        rs: &ReplicaSet,
        active: &[Arc<Pod>],
        err: Option<&crate::Error>,
    ) -> Result<Requeue> {
        let spec = rs.spec.as_ref();
        let min_ready = spec.and_then(|s| s.min_ready_seconds).unwrap_or(0);
        let template_labels = spec
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let now = Utc::now();
        let (mut fully, mut ready, mut available) = (0i32, 0i32, 0i32);
        for p in active {
            if util::map_matches(&template_labels, p.metadata.labels.as_ref()) {
                fully += 1;
            }
            if pod_is_ready(p) {
                ready += 1;
                if pod_is_available(p, min_ready, now) {
                    available += 1;
                }
            }
        }
        let replicas = active.len() as i32;
        let old = rs.status.clone().unwrap_or_default();
        let mut conditions: Vec<Value> = old
            .conditions
            .iter()
            .flatten()
            .filter(|c| c.type_ != "ReplicaFailure")
            .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
            .collect();
        if let Some(e) = err {
            let want = spec.and_then(|s| s.replicas).unwrap_or(1);
            let reason = if (replicas) < want {
                "FailedCreate"
            } else {
                "FailedDelete"
            };
            let prev = old
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "ReplicaFailure");
            let ltt = prev
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or_else(util::now_time);
            conditions.push(json!({"type": "ReplicaFailure", "status": "True", "reason": reason, "message": e.to_string(), "lastTransitionTime": ltt}));
        }
        let old_conditions: Vec<Value> = old
            .conditions
            .iter()
            .flatten()
            .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
            .collect();
        let generation = rs.metadata.generation.unwrap_or(0);
        let same = old.replicas == replicas
            && old.fully_labeled_replicas.unwrap_or(0) == fully
            && old.ready_replicas.unwrap_or(0) == ready
            && old.available_replicas.unwrap_or(0) == available
            && old.observed_generation.unwrap_or(0) == generation
            && (conditions.len() == old_conditions.len()
                && conditions.iter().zip(&old_conditions).all(|(a, b)| {
                    a.get("reason") == b.get("reason") && a.get("message") == b.get("message")
                }));
        if !same {
            let api: Api<ReplicaSet> = Api::namespaced(
                self.shared.client.clone(),
                rs.metadata.namespace.as_deref().unwrap_or_default(),
            );
            let patch = json!({"status": {
                "replicas": replicas, "fullyLabeledReplicas": fully, "readyReplicas": ready,
                "availableReplicas": available, "observedGeneration": generation,
                "conditions": if conditions.is_empty() { Value::Null } else { Value::Array(conditions) },
            }});
            match api
                .patch_status(
                    &rs.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if util::is_not_found(&e) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        let want = spec.and_then(|s| s.replicas).unwrap_or(1);
        if min_ready > 0 && ready == want && available != want {
            return Ok(Some(Duration::from_secs(min_ready as u64)));
        }
        Ok(None)
    }
}

/// A pod for a controller from its template (client-go's `GetPodFromTemplate`).
pub fn pod_from_template(
    template: &PodTemplateSpec,
    owner: OwnerReference,
    generate_name: &str,
) -> Pod {
    let tm = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name.to_string()),
            labels: tm.labels,
            annotations: tm.annotations,
            finalizers: tm.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// Runs `count` calls in batches of 1, 2, 4, … (each batch concurrently), stopping at the first
/// batch with a failure; returns the number of successes and the first error.
pub async fn slow_start_batch<F, Fut>(count: usize, f: F) -> (usize, Option<kube::Error>)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), kube::Error>>,
{
    let mut remaining = count;
    let mut ok = 0;
    let mut batch = remaining.min(1);
    while batch > 0 {
        let results = join_all((0..batch).map(|_| f())).await;
        let mut first = None;
        for r in results {
            match r {
                Ok(()) => ok += 1,
                Err(e) => {
                    if first.is_none() {
                        first = Some(e)
                    }
                }
            }
        }
        if first.is_some() {
            return (ok, first);
        }
        remaining -= batch;
        batch = (batch * 2).min(remaining);
    }
    (ok, None)
}

/// The `n` pods to delete first (client-go's `ActivePods` ordering): unassigned before assigned,
/// pending before unknown before running, not ready before ready, lower
/// `controller.kubernetes.io/pod-deletion-cost` first, ready for less time, more restarts, newer.
pub fn pods_to_delete(pods: &[Arc<Pod>], n: usize) -> Vec<Arc<Pod>> {
    let mut v: Vec<Arc<Pod>> = pods.to_vec();
    v.sort_by_cached_key(|p| {
        let assigned = p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty());
        let phase = match util::phase(p) {
            "Pending" => 0,
            "Unknown" => 1,
            "Running" => 2,
            _ => 3,
        };
        let ready = util::ready_since(p);
        let cost: i64 = p
            .annotations()
            .get("controller.kubernetes.io/pod-deletion-cost")
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let ready_at = ready.flatten().map(|t| t.timestamp()).unwrap_or(i64::MAX);
        let restarts: i32 = p
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .map(|cs| cs.iter().map(|c| c.restart_count).sum())
            .unwrap_or(0);
        let created = p
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.timestamp())
            .unwrap_or(0);
        (
            assigned,
            phase,
            ready.is_some(),
            cost,
            Reverse(ready_at),
            Reverse(restarts),
            Reverse(created),
        )
    });
    v.truncate(n);
    v
}

async fn release(api: &Api<Pod>, p: &Pod, owner_uid: &str) -> Result<()> {
    let refs: Vec<&OwnerReference> = p.metadata.owner_references.iter().flatten().collect();
    let kept: Vec<&OwnerReference> = refs
        .iter()
        .copied()
        .filter(|r| r.uid != owner_uid)
        .collect();
    let patch = json!([
        {"op": "test", "path": "/metadata/uid", "value": p.metadata.uid},
        {"op": "test", "path": "/metadata/ownerReferences", "value": refs},
        {"op": "replace", "path": "/metadata/ownerReferences", "value": kept},
    ]);
    match api
        .patch(
            &p.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(serde_json::from_value(patch)?),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if util::is_not_found(&e) || matches!(&e, kube::Error::Api(s) if s.code == 422) => {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

async fn adopt(api: &Api<Pod>, p: &Pod, owner: OwnerReference) -> Result<Pod, kube::Error> {
    let patch = if p
        .metadata
        .owner_references
        .as_ref()
        .is_none_or(|r| r.is_empty())
    {
        json!([
            {"op": "test", "path": "/metadata/uid", "value": p.metadata.uid},
            {"op": "add", "path": "/metadata/ownerReferences", "value": [owner]},
        ])
    } else {
        json!([
            {"op": "test", "path": "/metadata/uid", "value": p.metadata.uid},
            {"op": "test", "path": "/metadata/ownerReferences", "value": p.metadata.owner_references},
            {"op": "add", "path": "/metadata/ownerReferences/-", "value": owner},
        ])
    };
    let ops = serde_json::from_value(patch).map_err(kube::Error::SerdeError)?;
    api.patch(
        &p.name_any(),
        &PatchParams::default(),
        &Patch::<()>::Json(ops),
    )
    .await
}
