//! The scheduler as a component: informer-style caches of nodes, pods and
//! PodDisruptionBudgets fed by kube-rs watches, the scheduling loop over the pure core, and
//! its effects through the API — binding via the `binding` subresource, the
//! `PodScheduled=False` condition, `FailedScheduling`/`Scheduled`/`Preempted` events, and
//! preemption (nominated node, victim deletion). Binds run concurrently, as in
//! kube-scheduler, with the pod assumed on its node meanwhile.

use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{watch, Notify, Semaphore};
use wharf_client::{EventRecorder, EventSpec};

use crate::framework::{FitError, Scheduler};
use crate::preemption::{Pdb, Preemption};
use crate::queue::{ClusterEvent, QueuedPodInfo, SchedulingQueue, SystemClock};
use crate::snapshot::{PodInfo, Snapshot};

/// How the scheduler component runs.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Identity of this replica (events' reportingInstance).
    pub instance: String,
    /// How many bindings may be in flight at once.
    pub bind_concurrency: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self { instance: "default-scheduler".into(), bind_concurrency: 128 }
    }
}

#[derive(Default)]
struct State {
    snapshot: Snapshot,
    queue: Option<SchedulingQueue<SystemClock>>,
    /// Node each pod is accounted to (bound, or assumed while its binding is in flight).
    placed: HashMap<String, String>,
    /// Pods assumed but not yet seen bound.
    assumed: HashSet<String>,
    pdbs: HashMap<String, Pdb>,
}

impl State {
    fn queue(&mut self) -> &mut SchedulingQueue<SystemClock> {
        self.queue.get_or_insert_with(|| SchedulingQueue::new(SystemClock::default()))
    }

    fn unplace(&mut self, key: &str) -> bool {
        match self.placed.remove(key) {
            Some(node) => {
                self.snapshot.remove_pod(key, &node);
                true
            }
            None => false,
        }
    }

    fn pod_applied(&mut self, pod: Value) {
        let key = pod_key(&pod);
        let node = pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default().to_string();
        let terminal = matches!(pod.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"));
        if !node.is_empty() {
            self.queue().delete(&key);
            self.assumed.remove(&key);
            let freed = self.unplace(&key);
            if terminal {
                if freed {
                    self.queue().on_event(ClusterEvent::PodDelete);
                }
                return;
            }
            if self.snapshot.assume(PodInfo::new(pod), &node) {
                self.placed.insert(key, node);
            }
            return;
        }
        if self.assumed.contains(&key) {
            return; // our binding is in flight
        }
        let deleting = pod.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null());
        if terminal || deleting {
            self.queue().delete(&key);
        } else {
            self.queue().add(pod);
        }
    }

    fn pod_deleted(&mut self, key: &str) {
        self.queue().delete(key);
        self.assumed.remove(key);
        if self.unplace(key) {
            self.queue().on_event(ClusterEvent::PodDelete);
        }
    }

    fn node_applied(&mut self, node: Value) {
        let known = node.pointer("/metadata/name").and_then(Value::as_str).is_some_and(|n| self.snapshot.get(n).is_some());
        self.snapshot.add_node(node);
        self.queue().on_event(if known { ClusterEvent::NodeUpdate } else { ClusterEvent::NodeAdd });
    }

    fn node_deleted(&mut self, name: &str) {
        if let Some(n) = self.snapshot.remove_node(name) {
            for p in n.pods {
                self.placed.remove(&p.key);
            }
        }
    }
}

struct Shared {
    state: Mutex<State>,
    wake: Notify,
    synced: watch::Sender<u8>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn pod_key(pod: &Value) -> String {
    format!(
        "{}/{}",
        pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default"),
        pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
    )
}

fn object_key(obj: &DynamicObject) -> String {
    match &obj.metadata.namespace {
        Some(ns) => format!("{ns}/{}", obj.metadata.name.as_deref().unwrap_or_default()),
        None => obj.metadata.name.clone().unwrap_or_default(),
    }
}

fn reference(pod: &Value) -> ObjectReference {
    let s = |p: &str| pod.pointer(p).and_then(Value::as_str).map(str::to_string);
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: s("/metadata/namespace"),
        name: s("/metadata/name"),
        uid: s("/metadata/uid"),
        resource_version: s("/metadata/resourceVersion"),
        field_path: None,
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Pods,
    Nodes,
    Pdbs,
}

/// Feeds one kind's watch into the shared state; a relist (watch restart) drops objects it
/// no longer lists.
async fn follow(api: Api<DynamicObject>, kind: Kind, shared: Arc<Shared>) {
    let mut stream = watcher(api, watcher::Config::default()).default_backoff().boxed();
    let mut listed: Option<HashSet<String>> = None;
    let mut known: HashSet<String> = HashSet::new();
    while let Some(ev) = stream.next().await {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                tracing::debug!(error = %e, "scheduler watch error");
                continue;
            }
        };
        let mut st = shared.lock();
        match ev {
            Event::Init => listed = Some(HashSet::new()),
            Event::InitApply(mut obj) | Event::Apply(mut obj) => {
                // As kube-scheduler's informer transform: managedFields are never read here.
                obj.metadata.managed_fields = None;
                let key = object_key(&obj);
                if let Some(l) = listed.as_mut() {
                    l.insert(key.clone());
                }
                known.insert(key.clone());
                let Ok(v) = serde_json::to_value(&obj) else { continue };
                match kind {
                    Kind::Pods => st.pod_applied(v),
                    Kind::Nodes => st.node_applied(v),
                    Kind::Pdbs => {
                        if let Some(p) = Pdb::from_object(&v) {
                            st.pdbs.insert(key, p);
                        }
                    }
                }
            }
            Event::Delete(obj) => {
                let key = object_key(&obj);
                known.remove(&key);
                remove(&mut st, kind, &key);
            }
            Event::InitDone => {
                if let Some(l) = listed.take() {
                    for gone in known.difference(&l).cloned().collect::<Vec<_>>() {
                        known.remove(&gone);
                        remove(&mut st, kind, &gone);
                    }
                }
                drop(st);
                shared.synced.send_modify(|n| *n |= 1 << (kind as u8));
            }
        }
        shared.wake.notify_one();
    }
}

fn remove(st: &mut State, kind: Kind, key: &str) {
    match kind {
        Kind::Pods => st.pod_deleted(key),
        Kind::Nodes => st.node_deleted(key),
        Kind::Pdbs => {
            st.pdbs.remove(key);
        }
    }
}

fn api(client: &kube::Client, group: &str, version: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    Api::all_with(client.clone(), &ar)
}

/// Runs the scheduler until `stop` turns true (e.g. leadership lost).
pub async fn run(client: kube::Client, cfg: SchedulerConfig, mut stop: watch::Receiver<bool>) {
    let (synced, mut synced_rx) = watch::channel(0u8);
    let shared = Arc::new(Shared { state: Mutex::new(State::default()), wake: Notify::new(), synced });
    let mut watches = tokio::task::JoinSet::new();
    watches.spawn(follow(api(&client, "", "v1", "Pod", "pods"), Kind::Pods, shared.clone()));
    watches.spawn(follow(api(&client, "", "v1", "Node", "nodes"), Kind::Nodes, shared.clone()));
    watches.spawn(follow(api(&client, "policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets"), Kind::Pdbs, shared.clone()));
    // As kube-scheduler: wait for the caches to sync before the first decision.
    tokio::select! {
        _ = synced_rx.wait_for(|n| *n == 0b111) => {}
        _ = stop.changed() => return,
    }
    tracing::info!("scheduler caches synced");
    let recorder = EventRecorder::start(client.clone(), "default-scheduler", &cfg.instance);
    let binds = Arc::new(Semaphore::new(cfg.bind_concurrency.max(1)));
    let mut scheduler = Scheduler::default();
    loop {
        if *stop.borrow() {
            break;
        }
        let popped = shared.lock().queue().pop();
        let Some(q) = popped else {
            tokio::select! {
                _ = shared.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = stop.changed() => {}
            }
            continue;
        };
        let outcome = {
            let mut guard = shared.lock();
            let st = &mut *guard;
            match scheduler.schedule_one(&q.pod, &st.snapshot) {
                Ok(r) => {
                    st.snapshot.assume(q.pod.clone(), &r.node);
                    st.placed.insert(q.pod.key.clone(), r.node.clone());
                    st.assumed.insert(q.pod.key.clone());
                    Ok(r.node)
                }
                Err(mut fit) => {
                    let pdbs: Vec<Pdb> = st.pdbs.values().cloned().collect();
                    let preemption = scheduler.post_filter(&q.pod, &st.snapshot, &mut fit, &pdbs);
                    Err((fit, preemption))
                }
            }
        };
        match outcome {
            Ok(node) => {
                let Ok(permit) = binds.clone().acquire_owned().await else { break };
                tokio::spawn(bind(client.clone(), shared.clone(), recorder.clone(), q, node, permit));
            }
            Err((fit, preemption)) => {
                failed(&client, &recorder, &q, &fit, preemption.as_ref()).await;
                shared.lock().queue().add_unschedulable(q);
            }
        }
    }
    watches.abort_all();
}

async fn bind(client: kube::Client, shared: Arc<Shared>, recorder: EventRecorder, q: QueuedPodInfo, node: String, _permit: tokio::sync::OwnedSemaphorePermit) {
    let pod = &q.pod.object;
    let (ns, name) = (q.pod.namespace.clone(), pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string());
    let body = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, "namespace": ns, "uid": pod.pointer("/metadata/uid")},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    });
    let req = http::Request::post(format!("/api/v1/namespaces/{ns}/pods/{name}/binding"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&body).unwrap_or_default());
    let result = match req {
        Ok(req) => client.request::<Value>(req).await.map(|_| ()),
        Err(e) => Err(kube::Error::HttpError(e)),
    };
    match result {
        Ok(()) => recorder.record(EventSpec {
            regarding: reference(pod),
            type_: "Normal",
            reason: "Scheduled".into(),
            action: "Binding".into(),
            note: format!("Successfully assigned {ns}/{name} to {node}"),
        }),
        Err(e) => {
            tracing::debug!(pod = %q.pod.key, %node, error = %e, "binding failed");
            let mut st = shared.lock();
            st.assumed.remove(&q.pod.key);
            if st.placed.get(&q.pod.key) == Some(&node) {
                st.unplace(&q.pod.key);
            }
            // Gone or bound elsewhere: the watch settles it. Otherwise retry after backoff.
            let not_found = matches!(&e, kube::Error::Api(s) if s.code == 404);
            if !not_found {
                st.queue().add_backoff(q);
            }
            drop(st);
            shared.wake.notify_one();
        }
    }
}

/// Reports a failed attempt: the PodScheduled condition, a FailedScheduling event and, when
/// preemption found a node, the nomination and the victims' deletion.
async fn failed(client: &kube::Client, recorder: &EventRecorder, q: &QueuedPodInfo, fit: &FitError, preemption: Option<&Preemption>) {
    let pod = &q.pod.object;
    let message = fit.to_string();
    let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let pods: Api<DynamicObject> = Api::namespaced_with(client.clone(), &q.pod.namespace, &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Pod"), "pods"));
    let current = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c.get("type").and_then(Value::as_str) == Some("PodScheduled")))
        .and_then(|c| c.get("message"))
        .and_then(Value::as_str);
    let nominated = preemption.map(|p| p.node.as_str());
    let nominated_now = pod.pointer("/status/nominatedNodeName").and_then(Value::as_str);
    if current != Some(message.as_str()) || (nominated.is_some() && nominated != nominated_now) {
        let mut status = json!({"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
            "lastProbeTime": null, "lastTransitionTime": chrono_now(),
        }]});
        if let Some(n) = nominated {
            status["nominatedNodeName"] = json!(n);
        }
        if let Err(e) = pods.patch_status(name, &PatchParams::default(), &Patch::Strategic(json!({"status": status}))).await {
            tracing::debug!(pod = %q.pod.key, error = %e, "status update failed");
        }
    }
    recorder.record(EventSpec {
        regarding: reference(pod),
        type_: "Warning",
        reason: "FailedScheduling".into(),
        action: "Scheduling".into(),
        note: message,
    });
    let Some(p) = preemption else { return };
    for victim in &p.victims {
        let Some((ns, vname)) = victim.split_once('/') else { continue };
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Pod"), "pods"));
        let cond = json!({"status": {"conditions": [{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
            "message": format!("default-scheduler: preempting to accommodate a higher priority pod"), "lastTransitionTime": chrono_now()}]}});
        let _ = api.patch_status(vname, &PatchParams::default(), &Patch::Strategic(cond)).await;
        match api.delete(vname, &DeleteParams::default()).await {
            Ok(_) => recorder.record(EventSpec {
                regarding: ObjectReference { api_version: Some("v1".into()), kind: Some("Pod".into()), namespace: Some(ns.into()), name: Some(vname.into()), ..Default::default() },
                type_: "Normal",
                reason: "Preempted".into(),
                action: "Preempting".into(),
                note: format!("Preempted by pod {} on node {}", pod.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default(), p.node),
            }),
            Err(e) => tracing::debug!(victim = %victim, error = %e, "preemption delete failed"),
        }
    }
}

fn chrono_now() -> String {
    k8s_openapi::chrono::Utc::now().to_rfc3339_opts(k8s_openapi::chrono::SecondsFormat::Secs, true)
}
