//! The DaemonSet controller: one pod per eligible node (node selector, required node affinity,
//! tolerated NoSchedule/NoExecute taints plus the tolerations Kubernetes adds to daemon pods),
//! pinned with a `metadata.name` node-affinity term for the scheduler, as upstream; extra,
//! failed and misplaced pods are deleted; RollingUpdate replaces pods of an older template
//! (`controller-revision-hash` label) at most `maxUnavailable` at a time; status carries the
//! numbers `kubectl rollout status daemonset` reads.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::future::join_all;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    Toleration,
};
use k8s_openapi::chrono::Utc;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::deployment::{compute_hash, scaled_value};
use crate::events::Events;
use crate::expectations::Expectations;
use crate::informer::{key_of, Change, Informer};
use crate::nodelifecycle::tolerates;
use crate::queue::{Requeue, WorkQueue};
use crate::replicaset::{pod_from_template, slow_start_batch};
use crate::util::{self, controller_key, controller_ref, pod_is_available, pod_is_ready};
use crate::{ControllersConfig, Result, Shared};

/// The label carrying the hash of the template a daemon pod was made from.
pub const REVISION_HASH: &str = "controller-revision-hash";

type Starter = Box<dyn FnOnce() -> Vec<tokio::task::JoinHandle<()>> + Send>;

struct Ctl {
    shared: Arc<Shared>,
    daemonsets: Arc<Informer<DaemonSet>>,
    queue: Arc<WorkQueue>,
    exp: Expectations,
    events: Events,
}

fn ds_key_of(p: &Pod) -> Option<String> {
    controller_key(&p.metadata, "DaemonSet", "apps/v1")
}

/// Registers the controller; the returned starter spawns its workers.
pub fn register(
    shared: Arc<Shared>,
    daemonsets: Arc<Informer<DaemonSet>>,
    _cfg: &ControllersConfig,
) -> (Arc<WorkQueue>, Starter) {
    let queue = WorkQueue::new();
    let c = Arc::new(Ctl {
        events: Events::new(shared.client.clone(), "daemonset-controller"),
        shared: shared.clone(),
        daemonsets: daemonsets.clone(),
        queue: queue.clone(),
        exp: Expectations::default(),
    });
    let q = queue.clone();
    daemonsets.on_change(move |ch: &Change<'_, DaemonSet>| {
        let (Change::Added(d) | Change::Updated(_, d) | Change::Deleted(d)) = ch;
        q.add(key_of(d.as_ref()));
    });
    let h = c.clone();
    shared.pods.on_change(move |ch: &Change<'_, Pod>| match ch {
        Change::Added(p) => {
            if let Some(k) = ds_key_of(p) {
                h.exp.creations_observed(&k, 1);
                h.queue.add(k);
            }
        }
        Change::Updated(_, p) => {
            if let Some(k) = ds_key_of(p) {
                if p.metadata.deletion_timestamp.is_some() {
                    h.exp.deletion_observed(&k, &key_of(p.as_ref()));
                }
                h.queue.add(k);
            }
        }
        Change::Deleted(p) => {
            if let Some(k) = ds_key_of(p) {
                h.exp.deletion_observed(&k, &key_of(p.as_ref()));
                h.queue.add(k);
            }
        }
    });
    let h = c.clone();
    shared.nodes.on_change(move |ch: &Change<'_, Node>| {
        let relevant = match ch {
            Change::Updated(o, n) => o.metadata.labels != n.metadata.labels || o.spec != n.spec,
            _ => true,
        };
        if relevant {
            for d in h.daemonsets.list() {
                h.queue.add(key_of(d.as_ref()));
            }
        }
    });
    let q = queue.clone();
    let starter: Starter = Box::new(move || {
        q.spawn_workers("daemonset", 4, move |key| {
            let c = c.clone();
            async move { c.sync(&key).await }
        })
    });
    (queue, starter)
}

/// The tolerations Kubernetes adds to every daemon pod.
fn daemon_tolerations(host_network: bool) -> Vec<Toleration> {
    let t = |key: &str, effect: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    };
    let mut v = vec![
        t("node.kubernetes.io/not-ready", "NoExecute"),
        t("node.kubernetes.io/unreachable", "NoExecute"),
        t("node.kubernetes.io/disk-pressure", "NoSchedule"),
        t("node.kubernetes.io/memory-pressure", "NoSchedule"),
        t("node.kubernetes.io/pid-pressure", "NoSchedule"),
        t("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if host_network {
        v.push(t("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    v
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&String>) -> bool {
    let vals = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| vals.contains(v)),
        "NotIn" => value.is_none_or(|v| !vals.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(w)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                vals.first().and_then(|w| w.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                v > w
            } else {
                v < w
            }
        }
        _ => false,
    }
}

fn term_matches(t: &NodeSelectorTerm, node: &Node) -> bool {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let name = node.name_any();
    let exprs = t
        .match_expressions
        .iter()
        .flatten()
        .all(|r| requirement_matches(r, labels.get(&r.key)));
    let fields = t
        .match_fields
        .iter()
        .flatten()
        .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(&name)));
    (t.match_expressions.as_ref().is_some_and(|e| !e.is_empty())
        || t.match_fields.as_ref().is_some_and(|f| !f.is_empty()))
        && exprs
        && fields
}

/// Whether a daemon pod from `pod` (its spec) should run on `node`.
pub fn should_run(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let labels: BTreeMap<String, String> = node.metadata.labels.clone().unwrap_or_default();
    if let Some(sel) = &spec.node_selector {
        if sel.iter().any(|(k, v)| labels.get(k) != Some(v)) {
            return false;
        }
    }
    if let Some(req) = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
    {
        if !req
            .node_selector_terms
            .iter()
            .any(|t| term_matches(t, node))
        {
            return false;
        }
    }
    let tolerations: Vec<Toleration> = spec.tolerations.clone().unwrap_or_default();
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|taint| tolerations.iter().any(|t| tolerates(t, taint)))
}

fn target_node(p: &Pod) -> Option<String> {
    let spec = p.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(n.clone());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|f| f.key == "metadata.name" && f.operator == "In")
        .and_then(|f| f.values.as_ref()?.first().cloned())
}

/// Pins a pod to a node with a `metadata.name` match-fields term (upstream's
/// `ReplaceDaemonSetPodNodeNameNodeAffinity`).
fn pin(pod: &mut Pod, node: &str) {
    let spec = pod.spec.get_or_insert_with(Default::default);
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let na = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    let field = NodeSelectorRequirement {
        key: "metadata.name".into(),
        operator: "In".into(),
        values: Some(vec![node.to_string()]),
    };
    let sel = na
        .required_during_scheduling_ignored_during_execution
        .get_or_insert_with(|| NodeSelector {
            node_selector_terms: vec![],
        });
    if sel.node_selector_terms.is_empty() {
        sel.node_selector_terms.push(NodeSelectorTerm::default());
    }
    for t in sel.node_selector_terms.iter_mut() {
        let mut f: Vec<NodeSelectorRequirement> = t
            .match_fields
            .take()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.key != "metadata.name")
            .collect();
        f.push(field.clone());
        t.match_fields = Some(f);
    }
}

impl Ctl {
    async fn sync(&self, key: &str) -> Result<Requeue> {
        let Some(ds) = self.daemonsets.get(key) else {
            self.exp.delete(key);
            return Ok(None);
        };
        if ds.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let ns = ds.namespace().unwrap_or_default();
        let pods_api: Api<Pod> = Api::namespaced(self.shared.client.clone(), &ns);
        let spec = ds.spec.clone().unwrap_or_default();
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let hash = compute_hash(
            &spec.template,
            ds.status.as_ref().and_then(|s| s.collision_count),
        );
        let generation = ds.metadata.generation.unwrap_or(0).to_string();
        // The pod this DaemonSet makes, before pinning.
        let mut proto = pod_from_template(
            &spec.template,
            controller_ref(ds.as_ref()),
            &format!("{}-", ds.name_any()),
        );
        {
            let l = proto.metadata.labels.get_or_insert_with(Default::default);
            l.insert(REVISION_HASH.into(), hash.clone());
            l.insert("pod-template-generation".into(), generation);
            if let Some(s) = proto.spec.as_mut() {
                let host_network = s.host_network.unwrap_or(false);
                let t = s.tolerations.get_or_insert_with(Vec::new);
                for d in daemon_tolerations(host_network) {
                    if !t.iter().any(|x| x.key == d.key && x.effect == d.effect) {
                        t.push(d);
                    }
                }
            }
        }
        let mut by_node: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
        for p in self.shared.pods.get_many(
            &self
                .shared
                .pods_by_owner
                .owned_by(&ds.uid().unwrap_or_default()),
        ) {
            if p.metadata.deletion_timestamp.is_some() {
                continue;
            }
            if let Some(n) = target_node(&p) {
                by_node.entry(n).or_default().push(p);
            }
        }
        let nodes = self.shared.nodes.list();
        let now = Utc::now();
        let mut create_on = Vec::new();
        let mut delete = Vec::new();
        let (mut desired, mut current, mut misscheduled, mut ready, mut available, mut updated) =
            (0, 0, 0, 0, 0, 0);
        let mut old_available_on: Vec<Arc<Pod>> = Vec::new();
        let mut unavailable_nodes = 0;
        for node in &nodes {
            let name = node.name_any();
            let mut pods = by_node.remove(&name).unwrap_or_default();
            let run = should_run(&proto, node);
            if !run {
                if !pods.is_empty() {
                    misscheduled += 1;
                }
                delete.extend(pods);
                continue;
            }
            desired += 1;
            // Failed pods are replaced.
            let (failed, mut live): (Vec<_>, Vec<_>) =
                pods.drain(..).partition(|p| util::phase(p) == "Failed");
            delete.extend(failed);
            if live.is_empty() {
                create_on.push(name);
                unavailable_nodes += 1;
                continue;
            }
            current += 1;
            live.sort_by_key(|p| p.metadata.creation_timestamp.clone().map(|t| t.0));
            delete.extend(live.drain(1..));
            let p = &live[0];
            let is_new = p.labels().get(REVISION_HASH) == Some(&hash);
            if is_new {
                updated += 1;
            }
            if pod_is_ready(p) {
                ready += 1;
            }
            if pod_is_available(p, min_ready, now) {
                available += 1;
                if !is_new {
                    old_available_on.push(p.clone());
                }
            } else {
                unavailable_nodes += 1;
                if !is_new
                    && spec
                        .update_strategy
                        .as_ref()
                        .and_then(|s| s.type_.as_deref())
                        != Some("OnDelete")
                {
                    // An old pod that is not available anyway goes at once.
                    delete.push(p.clone());
                }
            }
        }
        // Pods aimed at nodes that no longer exist.
        for (_, pods) in by_node {
            delete.extend(pods);
        }
        // Rolling update: replace available old pods within maxUnavailable.
        let strategy = spec.update_strategy.clone().unwrap_or_default();
        if strategy.type_.as_deref() != Some("OnDelete") {
            let max_unavailable = scaled_value(
                strategy
                    .rolling_update
                    .as_ref()
                    .and_then(|r| r.max_unavailable.as_ref())
                    .or(Some(
                        &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1),
                    )),
                desired,
                true,
            )?
            .max(1);
            let budget = (max_unavailable - unavailable_nodes).max(0) as usize;
            delete.extend(old_available_on.into_iter().take(budget));
        }
        let need_sync = self.exp.satisfied(key);
        let reference = ds.object_ref(&());
        if need_sync && (!create_on.is_empty() || !delete.is_empty()) {
            self.exp.expect(
                key,
                create_on.len() as i64,
                delete.iter().map(|p| key_of(p.as_ref())),
            );
            let results = join_all(delete.iter().map(|p| async {
                match pods_api
                    .delete(&p.name_any(), &DeleteParams::default())
                    .await
                {
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
            let next = std::sync::Mutex::new(create_on.clone().into_iter());
            let pp = PostParams::default();
            let (ok, err) = slow_start_batch(create_on.len(), || {
                let node = util::lock(&next).next().unwrap_or_default();
                let mut pod = proto.clone();
                pin(&mut pod, &node);
                let api = pods_api.clone();
                let pp = pp.clone();
                let reference = reference.clone();
                async move {
                    let created = api.create(&pp, &pod).await?;
                    self.events.normal(
                        reference,
                        "SuccessfulCreate",
                        "Create",
                        format!("Created pod: {}", created.name_any()),
                    );
                    Ok(())
                }
            })
            .await;
            if ok < create_on.len() {
                self.exp
                    .creations_observed(key, (create_on.len() - ok) as i64);
            }
            for r in results {
                r?;
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
        }
        let st = ds.status.clone().unwrap_or_default();
        let g = ds.metadata.generation;
        let unavailable = (desired - available).max(0);
        let same = st.desired_number_scheduled == desired
            && st.current_number_scheduled == current
            && st.number_misscheduled == misscheduled
            && st.number_ready == ready
            && st.number_available.unwrap_or(0) == available
            && st.number_unavailable.unwrap_or(0) == unavailable
            && st.updated_number_scheduled.unwrap_or(0) == updated
            && st.observed_generation == g;
        if !same {
            let api: Api<DaemonSet> = Api::namespaced(self.shared.client.clone(), &ns);
            let patch = json!({"status": {
                "desiredNumberScheduled": desired, "currentNumberScheduled": current, "numberMisscheduled": misscheduled,
                "numberReady": ready, "numberAvailable": available, "numberUnavailable": unavailable,
                "updatedNumberScheduled": updated, "observedGeneration": g,
            }});
            match api
                .patch_status(
                    &ds.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if util::is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if min_ready > 0 && ready > available {
            return Ok(Some(std::time::Duration::from_secs(min_ready as u64)));
        }
        Ok(None)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn daemon_pods_go_where_selector_affinity_and_taints_allow() {
        let mut pod: Pod = serde_json::from_value(
            json!({"spec": {"containers": [], "nodeSelector": {"disk": "ssd"}}}),
        )
        .unwrap();
        let ssd = node(json!({"metadata": {"name": "a", "labels": {"disk": "ssd"}}}));
        let hdd = node(json!({"metadata": {"name": "b", "labels": {"disk": "hdd"}}}));
        assert!(should_run(&pod, &ssd));
        assert!(!should_run(&pod, &hdd));
        let tainted = node(
            json!({"metadata": {"name": "c", "labels": {"disk": "ssd"}}, "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}}),
        );
        assert!(!should_run(&pod, &tainted));
        pod.spec.as_mut().unwrap().tolerations = Some(daemon_tolerations(false));
        let unreachable = node(
            json!({"metadata": {"name": "d", "labels": {"disk": "ssd"}}, "spec": {"unschedulable": true, "taints": [
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]}}),
        );
        assert!(
            should_run(&pod, &unreachable),
            "daemon pods tolerate unreachable and unschedulable nodes"
        );
        pin(&mut pod, "a");
        assert_eq!(target_node(&pod).as_deref(), Some("a"));
        assert!(should_run(&pod, &ssd));
    }
}
