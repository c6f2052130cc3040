//! Node lifecycle (kube-controller-manager's `node-lifecycle` controller with its NoExecute taint
//! manager) and pod garbage collection (`pod-garbage-collector`):
//! - a node whose Lease and Ready heartbeat are older than the grace period gets its conditions set
//!   to Unknown ("Kubelet stopped posting node status."), its pods marked not ready, and the
//!   `node.kubernetes.io/unreachable` NoExecute and NoSchedule taints (`not-ready` when Ready is
//!   False); the taints go when it is Ready again;
//! - pods on a node with NoExecute taints they do not tolerate are deleted, at once or after the
//!   smallest matching `tolerationSeconds`;
//! - pods bound to nodes that do not exist are force-deleted, and terminated pods beyond the
//!   threshold are deleted oldest first.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::chrono::{DateTime, Utc};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::events::Events;
use crate::informer::{key_of, split_key, Change, Informer, KeyIndex};
use crate::queue::{Requeue, WorkQueue};
use crate::util::{self, now_time};
use crate::{ControllersConfig, Result, Shared};

/// The taint of a node whose heartbeats stopped.
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The taint of a node that reports Ready=False.
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";

type Starter = Box<dyn FnOnce() -> Vec<tokio::task::JoinHandle<()>> + Send>;

struct Ctl {
    shared: Arc<Shared>,
    nodes: Arc<Informer<Node>>,
    leases: Arc<Informer<Lease>>,
    pods_by_node: Arc<KeyIndex<Pod>>,
    grace: Duration,
    period: Duration,
    terminated_threshold: usize,
    lifecycle: bool,
    podgc: bool,
    events: Events,
}

fn node_of_pod(p: &Pod) -> Option<String> {
    p.spec.as_ref()?.node_name.clone().filter(|n| !n.is_empty())
}

/// Registers the controllers; the queue holds node names (and "" for a pod GC pass).
pub fn register(shared: Arc<Shared>, cfg: &ControllersConfig) -> (Arc<WorkQueue>, Starter) {
    let queue = WorkQueue::new();
    let (nodes, leases) = (shared.nodes.clone(), shared.leases.clone());
    let c = Arc::new(Ctl {
        pods_by_node: KeyIndex::attach(&shared.pods, node_of_pod),
        events: Events::new(shared.client.clone(), "node-controller"),
        shared: shared.clone(),
        nodes: nodes.clone(),
        leases: leases.clone(),
        grace: cfg.node_monitor_grace_period,
        period: cfg.node_monitor_period,
        terminated_threshold: cfg.terminated_pod_gc_threshold,
        lifecycle: cfg.on("nodelifecycle"),
        podgc: cfg.on("podgc"),
    });
    let q = queue.clone();
    nodes.on_change(move |ch: &Change<'_, Node>| {
        let (Change::Added(n) | Change::Updated(_, n) | Change::Deleted(n)) = ch;
        q.add(n.name_any());
    });
    let q = queue.clone();
    leases.on_change(move |ch: &Change<'_, Lease>| {
        if let Change::Added(l) | Change::Updated(_, l) = ch {
            q.add(l.name_any());
        }
    });
    let q = queue.clone();
    let starter: Starter = Box::new(move || {
        let ticker = {
            let (q, c) = (q.clone(), c.clone());
            tokio::spawn(async move {
                loop {
                    for n in c.nodes.list() {
                        q.add(n.name_any());
                    }
                    // Pods bound to nodes nobody knows.
                    for n in c.pods_by_node.values() {
                        if c.nodes.get(&n).is_none() {
                            q.add(n);
                        }
                    }
                    q.add(String::new());
                    tokio::time::sleep(c.period).await;
                }
            })
        };
        let mut v = q.spawn_workers("node-lifecycle", 4, move |name| {
            let c = c.clone();
            async move {
                if name.is_empty() {
                    c.gc_terminated().await
                } else {
                    c.sync(&name).await
                }
            }
        });
        v.push(ticker);
        v
    });
    (queue, starter)
}

fn heartbeat(n: &Node, lease: Option<&Lease>) -> Option<DateTime<Utc>> {
    let ready = n
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .map(|t| t.0);
    let renew = lease
        .and_then(|l| l.spec.as_ref()?.renew_time.as_ref())
        .map(|t| t.0);
    let created = n.metadata.creation_timestamp.as_ref().map(|t| t.0);
    [ready, renew, created].into_iter().flatten().max()
}

/// Whether a toleration matches a taint (`Toleration.ToleratesTaint`).
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if t.effect
        .as_deref()
        .is_some_and(|e| !e.is_empty() && e != taint.effect)
    {
        return false;
    }
    let key = t.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        _ => {
            t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default()
                && !key.is_empty()
        }
    }
}

/// When a pod must leave a node with these NoExecute taints: `Some(None)` now, `Some(Some(t))`
/// at `t`, `None` never.
pub fn eviction_time(
    pod: &Pod,
    taints: &[Taint],
    now: DateTime<Utc>,
) -> Option<Option<DateTime<Utc>>> {
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    let mut at: Option<DateTime<Utc>> = None;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        let matching: Vec<&Toleration> =
            tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Some(None);
        }
        if matching.iter().any(|t| t.toleration_seconds.is_none()) {
            continue;
        }
        let secs = matching
            .iter()
            .filter_map(|t| t.toleration_seconds)
            .min()
            .unwrap_or(0)
            .max(0);
        let since = taint.time_added.as_ref().map(|t| t.0).unwrap_or(now);
        let t = since + k8s_openapi::chrono::Duration::seconds(secs);
        at = Some(at.map_or(t, |a: DateTime<Utc>| a.min(t)));
    }
    at.map(Some)
}

impl Ctl {
    async fn sync(&self, name: &str) -> Result<Requeue> {
        let Some(node) = self.nodes.get(name) else {
            return if self.podgc {
                self.gc_orphans(name).await
            } else {
                Ok(None)
            };
        };
        if !self.lifecycle {
            return Ok(None);
        }
        let api: Api<Node> = Api::all(self.shared.client.clone());
        let lease = self.leases.get(&format!("kube-node-lease/{name}"));
        let now = Utc::now();
        let last = heartbeat(&node, lease.as_deref());
        let conditions = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let ready = conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .map(|c| c.status.clone());
        let stale = last.is_none_or(|t| {
            now - t > k8s_openapi::chrono::Duration::from_std(self.grace).unwrap_or_default()
        });
        let mut ready_status = ready.clone().unwrap_or_else(|| "Unknown".into());
        if stale && ready.as_deref() != Some("Unknown") {
            let t = now_time();
            let mut conds: Vec<NodeCondition> = conditions.clone();
            let never = ready.is_none();
            for ty in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] {
                let (reason, message) = if never {
                    (
                        "NodeStatusNeverUpdated",
                        "Kubelet never posted node status.",
                    )
                } else {
                    ("NodeStatusUnknown", "Kubelet stopped posting node status.")
                };
                match conds.iter_mut().find(|c| c.type_ == ty) {
                    Some(c) => {
                        if c.status != "Unknown" {
                            c.last_transition_time = Some(t.clone());
                        }
                        c.status = "Unknown".into();
                        c.reason = Some(reason.into());
                        c.message = Some(message.into());
                    }
                    None => conds.push(NodeCondition {
                        type_: ty.into(),
                        status: "Unknown".into(),
                        reason: Some(reason.into()),
                        message: Some(message.into()),
                        last_transition_time: Some(t.clone()),
                        last_heartbeat_time: None,
                    }),
                }
            }
            api.patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": {"conditions": conds}})),
            )
            .await?;
            ready_status = "Unknown".into();
            self.events.normal(
                node.object_ref(&()),
                "NodeNotReady",
                "NodeNotReady",
                format!("Node {name} status is now: NodeNotReady"),
            );
            self.mark_pods_not_ready(name).await?;
        }
        // Taints follow the Ready condition.
        let want: Vec<(&str, &str)> = match ready_status.as_str() {
            "True" => vec![],
            "False" => vec![(NOT_READY, "NoExecute"), (NOT_READY, "NoSchedule")],
            _ => vec![(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")],
        };
        let taints = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        let managed = |t: &Taint| {
            (t.key == UNREACHABLE || t.key == NOT_READY)
                && (t.effect == "NoExecute" || t.effect == "NoSchedule")
        };
        let mut new_taints: Vec<Taint> = taints
            .iter()
            .filter(|t| !managed(t) || want.contains(&(t.key.as_str(), t.effect.as_str())))
            .cloned()
            .collect();
        for (k, e) in &want {
            if !new_taints.iter().any(|t| t.key == *k && t.effect == *e) {
                new_taints.push(Taint {
                    key: k.to_string(),
                    effect: e.to_string(),
                    value: None,
                    time_added: (*e == "NoExecute").then(now_time),
                });
            }
        }
        if new_taints != taints {
            // Replace the taints only if they are still what this decision was based on.
            let r = if taints.is_empty() {
                api.patch(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"spec": {"taints": new_taints}})),
                )
                .await
            } else {
                let patch = json!([
                    {"op": "test", "path": "/spec/taints", "value": taints},
                    {"op": "replace", "path": "/spec/taints", "value": new_taints},
                ]);
                api.patch(
                    name,
                    &PatchParams::default(),
                    &Patch::<()>::Json(serde_json::from_value(patch)?),
                )
                .await
            };
            match r {
                Ok(n) => self.nodes.assume(n),
                Err(e) if util::is_not_found(&e) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        // NoExecute eviction.
        let mut requeue: Option<Duration> = None;
        if new_taints.iter().any(|t| t.effect == "NoExecute") {
            let mut doomed = Vec::new();
            for p in self.shared.pods.get_many(&self.pods_by_node.get(name)) {
                if p.metadata.deletion_timestamp.is_some()
                    || matches!(util::phase(&p), "Succeeded" | "Failed")
                {
                    continue;
                }
                match eviction_time(&p, &new_taints, now) {
                    None => {}
                    Some(None) => doomed.push(p),
                    Some(Some(t)) if t <= now => doomed.push(p),
                    Some(Some(t)) => {
                        let d = (t - now).to_std().unwrap_or_default();
                        requeue = Some(requeue.map_or(d, |r| r.min(d)));
                    }
                }
            }
            let results = join_all(doomed.iter().map(|p| async move {
                let api: Api<Pod> = Api::namespaced(
                    self.shared.client.clone(),
                    &p.namespace().unwrap_or_default(),
                );
                self.events.normal(
                    p.object_ref(&()),
                    "TaintManagerEviction",
                    "Delete",
                    format!("Marking for deletion Pod {}", key_of(p.as_ref())),
                );
                match api.delete(&p.name_any(), &DeleteParams::default()).await {
                    Ok(_) => Ok(()),
                    Err(e) if util::is_not_found(&e) => Ok(()),
                    Err(e) => Err(e),
                }
            }))
            .await;
            for r in results {
                r?;
            }
        }
        Ok(requeue.map(|d| d + Duration::from_millis(10)))
    }

    async fn mark_pods_not_ready(&self, node: &str) -> Result<()> {
        let pods = self.shared.pods.get_many(&self.pods_by_node.get(node));
        let results = join_all(
            pods.iter()
                .filter(|p| util::pod_is_ready(p))
                .map(|p| async move {
                    let api: Api<Pod> = Api::namespaced(
                        self.shared.client.clone(),
                        &p.namespace().unwrap_or_default(),
                    );
                    let conds: Vec<serde_json::Value> = p
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.clone())
                        .unwrap_or_default()
                        .into_iter()
                        .map(|mut c| {
                            if c.type_ == "Ready" {
                                c.status = "False".into();
                                c.last_transition_time = Some(now_time());
                            }
                            serde_json::to_value(c).unwrap_or_default()
                        })
                        .collect();
                    match api
                        .patch_status(
                            &p.name_any(),
                            &PatchParams::default(),
                            &Patch::Merge(&json!({"status": {"conditions": conds}})),
                        )
                        .await
                    {
                        Ok(_) => Ok(()),
                        Err(e) if util::is_not_found(&e) => Ok(()),
                        Err(e) => Err(e),
                    }
                }),
        )
        .await;
        for r in results {
            r?;
        }
        Ok(())
    }

    /// Force-deletes pods bound to a node that does not exist (checked live first).
    async fn gc_orphans(&self, node: &str) -> Result<Requeue> {
        let keys = self.pods_by_node.get(node);
        if keys.is_empty() {
            return Ok(None);
        }
        let api: Api<Node> = Api::all(self.shared.client.clone());
        if api.get_opt(node).await?.is_some() {
            return Ok(None);
        }
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        for k in keys {
            let (ns, name) = split_key(&k);
            let pods: Api<Pod> =
                Api::namespaced(self.shared.client.clone(), ns.unwrap_or_default());
            match pods.delete(name, &dp).await {
                Ok(_) => {}
                Err(e) if util::is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// Deletes the oldest terminated pods above the threshold.
    async fn gc_terminated(&self) -> Result<Requeue> {
        if !self.podgc || self.terminated_threshold == 0 {
            return Ok(None);
        }
        let mut done: Vec<Arc<Pod>> = self
            .shared
            .pods
            .list()
            .into_iter()
            .filter(|p| {
                matches!(util::phase(p), "Succeeded" | "Failed")
                    && p.metadata.deletion_timestamp.is_none()
            })
            .collect();
        if done.len() <= self.terminated_threshold {
            return Ok(None);
        }
        done.sort_by_key(|p| {
            (
                p.metadata.creation_timestamp.clone().map(|t: Time| t.0),
                p.name_any(),
            )
        });
        let n = done.len() - self.terminated_threshold;
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        for p in done.into_iter().take(n) {
            let api: Api<Pod> = Api::namespaced(
                self.shared.client.clone(),
                &p.namespace().unwrap_or_default(),
            );
            match api.delete(&p.name_any(), &dp).await {
                Ok(_) => {}
                Err(e) if util::is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pod(tolerations: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [], "tolerations": tolerations}})).unwrap()
    }

    #[test]
    fn pods_leave_unreachable_nodes_now_later_or_never_by_their_tolerations() {
        let now = Utc::now();
        let taint = Taint {
            key: UNREACHABLE.into(),
            effect: "NoExecute".into(),
            value: None,
            time_added: Some(Time(now)),
        };
        assert_eq!(
            eviction_time(&pod(json!([])), std::slice::from_ref(&taint), now),
            Some(None)
        );
        let later = eviction_time(
            &pod(
                json!([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]),
            ),
            std::slice::from_ref(&taint),
            now,
        );
        assert_eq!(
            later,
            Some(Some(now + k8s_openapi::chrono::Duration::seconds(300)))
        );
        assert_eq!(
            eviction_time(
                &pod(json!([{"operator": "Exists"}])),
                std::slice::from_ref(&taint),
                now
            ),
            None
        );
        assert_eq!(
            eviction_time(
                &pod(json!([{"key": "other", "operator": "Exists"}])),
                std::slice::from_ref(&taint),
                now
            ),
            Some(None)
        );
        assert_eq!(
            eviction_time(
                &pod(json!([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"}])),
                std::slice::from_ref(&taint),
                now
            ),
            Some(None)
        );
    }
}
