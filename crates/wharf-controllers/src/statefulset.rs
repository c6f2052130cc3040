//! The StatefulSet controller: pods with stable names `<set>-<ordinal>` (from
//! `spec.ordinals.start`), hostname and subdomain, one PersistentVolumeClaim per
//! volumeClaimTemplate and pod (`<template>-<pod>`, created before the pod, kept on scale-down as
//! with the default Retain policy); OrderedReady creates in order and only after the previous pod
//! is Running and Ready, and removes the highest ordinal first, one at a time; Parallel does both
//! at once; RollingUpdate replaces pods of an older revision from the highest ordinal down to the
//! partition, one at a time; OnDelete leaves them. Status carries the revisions and counts
//! `kubectl rollout status statefulset` reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::chrono::Utc;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::deployment::compute_hash;
use crate::events::Events;
use crate::informer::{key_of, Change, Informer};
use crate::queue::{Requeue, WorkQueue};
use crate::replicaset::pod_from_template;
use crate::util::{self, controller_of, controller_ref, pod_is_available, pod_is_ready};
use crate::{ControllersConfig, Result, Shared};

/// The label with a StatefulSet pod's name.
pub const POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
/// The label with a StatefulSet pod's ordinal.
pub const POD_INDEX: &str = "apps.kubernetes.io/pod-index";
/// The label with the revision a pod was made from.
pub const REVISION: &str = "controller-revision-hash";

type Starter = Box<dyn FnOnce() -> Vec<tokio::task::JoinHandle<()>> + Send>;

struct Ctl {
    shared: Arc<Shared>,
    sets: Arc<Informer<StatefulSet>>,
    events: Events,
}

/// Registers the controller; the returned starter spawns its workers.
pub fn register(
    shared: Arc<Shared>,
    sets: Arc<Informer<StatefulSet>>,
    _cfg: &ControllersConfig,
) -> (Arc<WorkQueue>, Starter) {
    let queue = WorkQueue::new();
    let c = Arc::new(Ctl {
        events: Events::new(shared.client.clone(), "statefulset-controller"),
        shared: shared.clone(),
        sets: sets.clone(),
    });
    let q = queue.clone();
    sets.on_change(move |ch: &Change<'_, StatefulSet>| {
        let (Change::Added(s) | Change::Updated(_, s) | Change::Deleted(s)) = ch;
        q.add(key_of(s.as_ref()));
    });
    let q = queue.clone();
    shared.pods.on_change(move |ch: &Change<'_, Pod>| {
        let (Change::Added(p) | Change::Updated(_, p) | Change::Deleted(p)) = ch;
        if let Some(r) = controller_of(&p.metadata).filter(|r| r.kind == "StatefulSet") {
            q.add(format!("{}/{}", p.namespace().unwrap_or_default(), r.name));
        }
    });
    let q = queue.clone();
    let starter: Starter = Box::new(move || {
        q.spawn_workers("statefulset", 4, move |key| {
            let c = c.clone();
            async move { c.sync(&key).await }
        })
    });
    (queue, starter)
}

fn ordinal_of(set: &str, pod: &str) -> Option<i32> {
    pod.strip_prefix(set)?.strip_prefix('-')?.parse().ok()
}

impl Ctl {
    async fn sync(&self, key: &str) -> Result<Requeue> {
        let Some(set) = self.sets.get(key) else {
            return Ok(None);
        };
        if set.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let ns = set.namespace().unwrap_or_default();
        let name = set.name_any();
        let spec = set.spec.clone().unwrap_or_default();
        let replicas = spec.replicas.unwrap_or(1).max(0);
        let start = spec
            .ordinals
            .as_ref()
            .and_then(|o| o.start)
            .unwrap_or(0)
            .max(0);
        let parallel = spec.pod_management_policy.as_deref() == Some("Parallel");
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let update_revision = format!(
            "{name}-{}",
            compute_hash(
                &spec.template,
                set.status.as_ref().and_then(|s| s.collision_count)
            )
        );
        let pods_api: Api<Pod> = Api::namespaced(self.shared.client.clone(), &ns);
        let reference = set.object_ref(&());
        let mut pods: BTreeMap<i32, Arc<Pod>> = BTreeMap::new();
        for p in self.shared.pods.get_many(
            &self
                .shared
                .pods_by_owner
                .owned_by(&set.uid().unwrap_or_default()),
        ) {
            if let Some(o) = ordinal_of(&name, &p.name_any()) {
                pods.insert(o, p);
            }
        }
        let want: Vec<i32> = (start..start + replicas).collect();
        let healthy = |p: &Pod| {
            p.metadata.deletion_timestamp.is_none()
                && util::phase(p) == "Running"
                && pod_is_ready(p)
        };

        // Replace failed pods; create missing ones (in order unless Parallel).
        let mut acted = false;
        for &o in &want {
            match pods.get(&o) {
                Some(p) if p.metadata.deletion_timestamp.is_some() => {
                    if !parallel {
                        acted = true;
                        break;
                    }
                }
                Some(p) if util::phase(p) == "Failed" => {
                    self.delete_pod(&pods_api, p, &reference).await?;
                    acted = true;
                    if !parallel {
                        break;
                    }
                }
                Some(p) => {
                    if !parallel && !healthy(p) {
                        acted = true;
                        break;
                    }
                }
                None => {
                    self.create_pod(&set, o, &update_revision, &pods_api, &reference)
                        .await?;
                    acted = true;
                    if !parallel {
                        break;
                    }
                }
            }
        }
        // Remove condemned ordinals, highest first.
        if !acted || parallel {
            let condemned: Vec<Arc<Pod>> = pods
                .iter()
                .rev()
                .filter(|(o, _)| !want.contains(o))
                .map(|(_, p)| p.clone())
                .collect();
            for p in condemned {
                if p.metadata.deletion_timestamp.is_some() {
                    if !parallel {
                        acted = true;
                        break;
                    }
                    continue;
                }
                // OrderedReady only scales down when every other pod is healthy.
                if !parallel
                    && pods
                        .values()
                        .any(|q| q.name_any() != p.name_any() && !healthy(q))
                {
                    acted = true;
                    break;
                }
                self.delete_pod(&pods_api, &p, &reference).await?;
                acted = true;
                if !parallel {
                    break;
                }
            }
        }
        // Rolling update: highest ordinal first, down to the partition, one at a time.
        let strategy = spec.update_strategy.clone().unwrap_or_default();
        if !acted && strategy.type_.as_deref() != Some("OnDelete") {
            let partition = strategy
                .rolling_update
                .as_ref()
                .and_then(|r| r.partition)
                .unwrap_or(0);
            let all_healthy = want.iter().all(|o| pods.get(o).is_some_and(|p| healthy(p)));
            if all_healthy {
                if let Some(p) = want
                    .iter()
                    .rev()
                    .filter(|o| **o >= partition)
                    .filter_map(|o| pods.get(o))
                    .find(|p| p.labels().get(REVISION) != Some(&update_revision))
                {
                    self.delete_pod(&pods_api, p, &reference).await?;
                }
            }
        }

        // Status.
        let now = Utc::now();
        let live: Vec<&Arc<Pod>> = pods
            .values()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let st0 = set.status.clone().unwrap_or_default();
        let count = |f: &dyn Fn(&Pod) -> bool| live.iter().filter(|p| f(p)).count() as i32;
        let updated = count(&|p| p.labels().get(REVISION) == Some(&update_revision));
        let mut current_revision = st0
            .current_revision
            .clone()
            .unwrap_or_else(|| update_revision.clone());
        if updated == replicas && live.len() as i32 == replicas {
            current_revision = update_revision.clone();
        }
        let current = count(&|p| p.labels().get(REVISION) == Some(&current_revision));
        let patch = json!({"status": {
            "observedGeneration": set.metadata.generation,
            "replicas": live.len(),
            "readyReplicas": count(&|p| pod_is_ready(p)),
            "availableReplicas": count(&|p| pod_is_available(p, min_ready, now)),
            "currentReplicas": current,
            "updatedReplicas": updated,
            "currentRevision": current_revision,
            "updateRevision": update_revision,
        }});
        let old = json!({"status": {
            "observedGeneration": st0.observed_generation,
            "replicas": st0.replicas,
            "readyReplicas": st0.ready_replicas.unwrap_or(0),
            "availableReplicas": st0.available_replicas.unwrap_or(0),
            "currentReplicas": st0.current_replicas.unwrap_or(0),
            "updatedReplicas": st0.updated_replicas.unwrap_or(0),
            "currentRevision": st0.current_revision,
            "updateRevision": st0.update_revision,
        }});
        if patch != old {
            let api: Api<StatefulSet> = Api::namespaced(self.shared.client.clone(), &ns);
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {}
                Err(e) if util::is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if min_ready > 0
            && live
                .iter()
                .any(|p| pod_is_ready(p) && !pod_is_available(p, min_ready, now))
        {
            return Ok(Some(std::time::Duration::from_secs(min_ready as u64)));
        }
        Ok(None)
    }

    async fn create_pod(
        &self,
        set: &StatefulSet,
        ordinal: i32,
        revision: &str,
        api: &Api<Pod>,
        reference: &k8s_openapi::api::core::v1::ObjectReference,
    ) -> Result<()> {
        let spec = set.spec.clone().unwrap_or_default();
        let pod_name = format!("{}-{ordinal}", set.name_any());
        let ns = set.namespace().unwrap_or_default();
        // Claims first, so the pod never runs without its storage records.
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(self.shared.client.clone(), &ns);
        let mut volumes: Vec<Volume> = Vec::new();
        for t in spec.volume_claim_templates.iter().flatten() {
            let tname = t.metadata.name.clone().unwrap_or_default();
            let claim = format!("{tname}-{pod_name}");
            let mut labels = t.metadata.labels.clone().unwrap_or_default();
            for (k, v) in spec.selector.match_labels.iter().flatten() {
                labels.insert(k.clone(), v.clone());
            }
            let pvc = PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim.clone()),
                    namespace: Some(ns.clone()),
                    labels: Some(labels),
                    annotations: t.metadata.annotations.clone(),
                    ..Default::default()
                },
                spec: t.spec.clone(),
                status: None,
            };
            match pvcs.create(&PostParams::default(), &pvc).await {
                Ok(_) => self.events.normal(
                    reference.clone(),
                    "SuccessfulCreate",
                    "Create",
                    format!(
                        "create Claim {claim} Pod {pod_name} in StatefulSet {} success",
                        set.name_any()
                    ),
                ),
                Err(e) if util::is_conflict(&e) => {}
                Err(e) => {
                    self.events.warning(reference.clone(), "FailedCreate", "Create", format!("create Claim {claim} for Pod {pod_name} in StatefulSet {} failed error: {e}", set.name_any()));
                    return Err(e.into());
                }
            }
            volumes.push(Volume {
                name: tname,
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim,
                    read_only: None,
                }),
                ..Default::default()
            });
        }
        let mut pod = pod_from_template(&spec.template, controller_ref(set), "");
        pod.metadata.generate_name = None;
        pod.metadata.name = Some(pod_name.clone());
        let labels = pod.metadata.labels.get_or_insert_with(Default::default);
        labels.insert(POD_NAME.into(), pod_name.clone());
        labels.insert(POD_INDEX.into(), ordinal.to_string());
        labels.insert(REVISION.into(), revision.to_string());
        if let Some(s) = pod.spec.as_mut() {
            s.hostname = Some(pod_name.clone());
            if !spec.service_name.as_deref().unwrap_or_default().is_empty() {
                s.subdomain = spec.service_name.clone();
            }
            let vs = s.volumes.get_or_insert_with(Vec::new);
            for v in volumes {
                vs.retain(|x| x.name != v.name);
                vs.push(v);
            }
        }
        match api.create(&PostParams::default(), &pod).await {
            Ok(_) => {
                self.events.normal(
                    reference.clone(),
                    "SuccessfulCreate",
                    "Create",
                    format!(
                        "create Pod {pod_name} in StatefulSet {} successful",
                        set.name_any()
                    ),
                );
                Ok(())
            }
            // The previous incarnation is still going away; its deletion event requeues.
            Err(e) if util::is_conflict(&e) => Ok(()),
            Err(e) => {
                self.events.warning(
                    reference.clone(),
                    "FailedCreate",
                    "Create",
                    format!(
                        "create Pod {pod_name} in StatefulSet {} failed error: {e}",
                        set.name_any()
                    ),
                );
                Err(e.into())
            }
        }
    }

    async fn delete_pod(
        &self,
        api: &Api<Pod>,
        p: &Pod,
        reference: &k8s_openapi::api::core::v1::ObjectReference,
    ) -> Result<()> {
        match api.delete(&p.name_any(), &DeleteParams::default()).await {
            Ok(_) => {
                self.events.normal(
                    reference.clone(),
                    "SuccessfulDelete",
                    "Delete",
                    format!(
                        "delete Pod {} in StatefulSet {} successful",
                        p.name_any(),
                        reference.name.clone().unwrap_or_default()
                    ),
                );
                Ok(())
            }
            Err(e) if util::is_not_found(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
