//! Simulated nodes, as kwok does them: registers N Nodes with a given capacity, zone labels
//! and taints, keeps their `kube-node-lease` Leases fresh, and moves pods bound to them
//! through their lifecycle without containers — Pending → Running (all conditions true, pod
//! IPs from the node's range), Job pods → Succeeded, terminating pods → deleted. Everything
//! goes through a `kube::Client`, exactly as a kubelet's traffic would.
//!
//! Per-pod knobs for tests, as annotations: `sim.wharf.dev/run-seconds` (the containers exit
//! after that long) and `sim.wharf.dev/exit-code` (their exit code; non-zero fails the pod).
//! A node annotated `sim.wharf.dev/stopped=true` stops heartbeating and tending its pods,
//! which is how a test kills a node.

use futures::StreamExt;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// Annotation: seconds the pod's containers run before exiting.
pub const RUN_SECONDS: &str = "sim.wharf.dev/run-seconds";
/// Annotation: the containers' exit code.
pub const EXIT_CODE: &str = "sim.wharf.dev/exit-code";
/// Node annotation: the node is dead (no heartbeats, pods untended).
pub const STOPPED: &str = "sim.wharf.dev/stopped";
/// How long Job pods run when not told otherwise.
const DEFAULT_JOB_RUN: Duration = Duration::from_millis(500);

/// The fleet to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// How many nodes.
    pub count: usize,
    /// Node name prefix: nodes are `<prefix><i>`.
    pub prefix: String,
    /// Region label.
    pub region: String,
    /// Zones, assigned round-robin.
    pub zones: Vec<String>,
    /// Capacity per node.
    pub cpu: String,
    /// Memory per node.
    pub memory: String,
    /// Pod slots per node.
    pub pods: u32,
    /// Instance type label.
    pub instance_type: String,
    /// Taints on every node.
    pub taints: Vec<Value>,
    /// Lease renewal interval (kubelet: 10 s).
    pub heartbeat: Duration,
}

impl SimConfig {
    /// `count` nodes of the default shape (32 CPU, 128 GiB, 110 pods) in three zones of
    /// `us-east-1`.
    pub fn new(count: usize) -> Self {
        Self {
            count,
            prefix: "sim-".into(),
            region: "us-east-1".into(),
            zones: vec!["us-east-1a".into(), "us-east-1b".into(), "us-east-1c".into()],
            cpu: "32".into(),
            memory: "128Gi".into(),
            pods: 110,
            instance_type: "m5.8xlarge".into(),
            taints: Vec::new(),
            heartbeat: Duration::from_secs(10),
        }
    }

    fn name(&self, i: usize) -> String {
        format!("{}{i}", self.prefix)
    }

    /// The node's address and its pod range `10.<64+i/256>.<i%256>.0/24`.
    fn node_ip(i: usize) -> String {
        format!("10.{}.{}.1", 64 + (i / 256) % 64, i % 256)
    }

    fn node(&self, i: usize) -> Value {
        let name = self.name(i);
        let zone = self.zones.get(i % self.zones.len().max(1)).cloned().unwrap_or_default();
        let now = now();
        let cond = |t: &str, status: &str, reason: &str, message: &str| {
            json!({"type": t, "status": status, "reason": reason, "message": message, "lastHeartbeatTime": now, "lastTransitionTime": now})
        };
        let resources = json!({"cpu": self.cpu, "memory": self.memory, "pods": self.pods.to_string(), "ephemeral-storage": "100Gi"});
        json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "beta.kubernetes.io/os": "linux",
                    "beta.kubernetes.io/arch": "amd64",
                    "topology.kubernetes.io/region": self.region,
                    "topology.kubernetes.io/zone": zone,
                    "node.kubernetes.io/instance-type": self.instance_type,
                    "type": "simulated",
                },
                "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
            },
            "spec": {"taints": self.taints, "podCIDR": format!("10.{}.{}.0/24", 64 + (i / 256) % 64, i % 256)},
            "status": {
                "capacity": resources,
                "allocatable": resources,
                "addresses": [{"type": "InternalIP", "address": Self::node_ip(i)}, {"type": "Hostname", "address": name}],
                "conditions": [
                    cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                    cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "machineID": uuid::Uuid::new_v4().simple().to_string(),
                    "systemUUID": uuid::Uuid::new_v4().to_string(),
                    "bootID": uuid::Uuid::new_v4().to_string(),
                    "kernelVersion": "simulated",
                    "osImage": "Wharf simulated node",
                    "containerRuntimeVersion": "wharf-sim://0.1.0",
                    "kubeletVersion": "v1.32.4",
                    "kubeProxyVersion": "v1.32.4",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
            },
        })
    }
}

fn now() -> String {
    k8s_openapi::chrono::Utc::now().to_rfc3339_opts(k8s_openapi::chrono::SecondsFormat::Secs, true)
}

fn now_micro() -> String {
    k8s_openapi::chrono::Utc::now().to_rfc3339_opts(k8s_openapi::chrono::SecondsFormat::Micros, true)
}

fn ar(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Why the simulation could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Registering a node failed.
    #[error("registering node {node}: {source}")]
    Register {
        /// The node.
        node: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

struct Fleet {
    cfg: SimConfig,
    client: kube::Client,
    /// Node name → index, for nodes this fleet owns.
    index: HashMap<String, usize>,
    /// Nodes marked stopped.
    stopped: Mutex<HashSet<String>>,
    /// Pod uid → what was done to it (so each transition happens once).
    handled: Mutex<HashMap<String, Stage>>,
    /// Next pod IP per node.
    next_ip: Mutex<HashMap<usize, u32>>,
    limit: Semaphore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Running,
    Finished,
    Deleting,
}

/// Registers the fleet and tends it until `stop` turns true.
pub async fn run(client: kube::Client, cfg: SimConfig, mut stop: watch::Receiver<bool>) -> Result<(), SimError> {
    let index = (0..cfg.count).map(|i| (cfg.name(i), i)).collect();
    let fleet = Arc::new(Fleet {
        cfg,
        client,
        index,
        stopped: Mutex::new(HashSet::new()),
        handled: Mutex::new(HashMap::new()),
        next_ip: Mutex::new(HashMap::new()),
        limit: Semaphore::new(64),
    });
    fleet.register().await?;
    tracing::info!(nodes = fleet.cfg.count, "simulated nodes registered");
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(fleet.clone().heartbeats());
    tasks.spawn(fleet.clone().follow_nodes());
    tasks.spawn(fleet.clone().follow_pods());
    let _ = stop.wait_for(|s| *s).await;
    tasks.abort_all();
    Ok(())
}

impl Fleet {
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn register(self: &Arc<Self>) -> Result<(), SimError> {
        let nodes: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar("", "v1", "Node", "nodes"));
        let mut work = futures::stream::iter(0..self.cfg.count)
            .map(|i| {
                let nodes = nodes.clone();
                let this = self.clone();
                async move {
                    let name = this.cfg.name(i);
                    let obj: DynamicObject = match serde_json::from_value(this.cfg.node(i)) {
                        Ok(o) => o,
                        Err(e) => return Err(SimError::Register { node: name, source: kube::Error::SerdeError(e) }),
                    };
                    match nodes.create(&PostParams::default(), &obj).await {
                        Ok(_) => Ok(()),
                        Err(kube::Error::Api(s)) if s.code == 409 => {
                            // Re-registration after a restart: refresh status, keep spec.
                            let status = json!({"status": this.cfg.node(i)["status"]});
                            nodes.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await.map(|_| ()).map_err(|source| SimError::Register { node: name, source })
                        }
                        Err(source) => Err(SimError::Register { node: name, source }),
                    }
                }
            })
            .buffer_unordered(32);
        while let Some(r) = work.next().await {
            r?;
        }
        Ok(())
    }

    async fn heartbeats(self: Arc<Self>) {
        let leases: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), "kube-node-lease", &ar("coordination.k8s.io", "v1", "Lease", "leases"));
        let secs = (self.cfg.heartbeat.as_secs() * 4).max(40);
        loop {
            let started = tokio::time::Instant::now();
            let names: Vec<String> = {
                let stopped = Self::lock(&self.stopped);
                (0..self.cfg.count).map(|i| self.cfg.name(i)).filter(|n| !stopped.contains(n)).collect()
            };
            let mut work = futures::stream::iter(names)
                .map(|name| {
                    let leases = leases.clone();
                    async move {
                        let renew = json!({"spec": {"renewTime": now_micro()}});
                        match leases.patch(&name, &PatchParams::default(), &Patch::Merge(&renew)).await {
                            Ok(_) => {}
                            Err(kube::Error::Api(s)) if s.code == 404 => {
                                let lease = json!({
                                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                    "metadata": {"name": name, "namespace": "kube-node-lease",
                                                 "ownerReferences": []},
                                    "spec": {"holderIdentity": name, "leaseDurationSeconds": secs, "renewTime": now_micro()},
                                });
                                if let Ok(obj) = serde_json::from_value::<DynamicObject>(lease) {
                                    let _ = leases.create(&PostParams::default(), &obj).await;
                                }
                            }
                            Err(e) => tracing::debug!(node = %name, error = %e, "lease renewal failed"),
                        }
                    }
                })
                .buffer_unordered(32);
            while work.next().await.is_some() {}
            tokio::time::sleep_until(started + self.cfg.heartbeat).await;
        }
    }

    async fn follow_nodes(self: Arc<Self>) {
        let nodes: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar("", "v1", "Node", "nodes"));
        let mut stream = watcher(nodes, watcher::Config::default()).default_backoff().applied_objects().boxed();
        while let Some(node) = stream.next().await {
            let Ok(node) = node else { continue };
            let Some(name) = node.metadata.name.clone() else { continue };
            if !self.index.contains_key(&name) {
                continue;
            }
            let stopped = node.metadata.annotations.as_ref().and_then(|a| a.get(STOPPED)).is_some_and(|v| v == "true");
            let mut set = Self::lock(&self.stopped);
            if stopped {
                set.insert(name);
            } else {
                set.remove(&name);
            }
        }
    }

    async fn follow_pods(self: Arc<Self>) {
        let pods: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar("", "v1", "Pod", "pods"));
        let mut stream = watcher(pods, watcher::Config::default()).default_backoff().boxed();
        while let Some(ev) = stream.next().await {
            let pod = match ev {
                Ok(Event::Apply(p) | Event::InitApply(p)) => p,
                Ok(Event::Delete(p)) => {
                    if let Some(uid) = p.metadata.uid {
                        Self::lock(&self.handled).remove(&uid);
                    }
                    continue;
                }
                _ => continue,
            };
            let Ok(v) = serde_json::to_value(&pod) else { continue };
            self.clone().tend(v, false);
        }
    }

    /// Decides what a pod on one of our nodes needs next, and does it in the background.
    /// `exited` says the pod's run time is over (only the run timer says so).
    fn tend(self: Arc<Self>, pod: Value, exited: bool) {
        let node = pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default();
        let Some(&i) = self.index.get(node) else { return };
        if Self::lock(&self.stopped).contains(node) {
            return;
        }
        let uid = pod.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_string();
        let phase = pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or("Pending");
        let deleting = pod.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null());
        let next = if deleting {
            Stage::Deleting
        } else if phase == "Pending" {
            Stage::Running
        } else if phase == "Running" && exited {
            Stage::Finished
        } else {
            return;
        };
        {
            let mut handled = Self::lock(&self.handled);
            let prev = handled.get(&uid).copied();
            let due = match next {
                Stage::Running => prev.is_none(),
                Stage::Finished => prev == Some(Stage::Running),
                Stage::Deleting => prev != Some(Stage::Deleting),
            };
            if !due {
                return;
            }
            handled.insert(uid.clone(), next);
        }
        let ip = match next {
            Stage::Running => {
                let mut ips = Self::lock(&self.next_ip);
                let n = ips.entry(i).or_insert(1);
                *n = if *n >= 254 { 2 } else { *n + 1 };
                Some(format!("10.{}.{}.{}", 64 + (i / 256) % 64, i % 256, *n))
            }
            _ => None,
        };
        tokio::spawn(async move {
            let Ok(_permit) = self.limit.acquire().await else { return };
            let ns = pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string();
            let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
            let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &ns, &ar("", "v1", "Pod", "pods"));
            let result = match next {
                Stage::Running => {
                    let status = running_status(&pod, &SimConfig::node_ip(i), ip.as_deref().unwrap_or_default());
                    let r = api.patch_status(&name, &PatchParams::default(), &Patch::Strategic(json!({"status": status}))).await.map(|_| ());
                    if r.is_ok() {
                        if let Some(d) = run_for(&pod) {
                            let this = self.clone();
                            let mut running = pod.clone();
                            running["status"]["phase"] = json!("Running");
                            tokio::spawn(async move {
                                tokio::time::sleep(d).await;
                                this.tend(running, true);
                            });
                        }
                    }
                    r
                }
                Stage::Finished => {
                    let status = finished_status(&pod);
                    api.patch_status(&name, &PatchParams::default(), &Patch::Strategic(json!({"status": status}))).await.map(|_| ())
                }
                Stage::Deleting => {
                    let dp = DeleteParams { grace_period_seconds: Some(0), preconditions: Some(Preconditions { uid: Some(uid.clone()), resource_version: None }), ..Default::default() };
                    match api.delete(&name, &dp).await {
                        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
                        r => r.map(|_| ()),
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(pod = %format!("{ns}/{name}"), error = %e, "simulated kubelet update failed");
                Self::lock(&self.handled).remove(&uid);
            }
        });
    }
}

/// How long a pod's containers run before exiting, if they do: the annotation, or a short
/// while for Job pods.
fn run_for(pod: &Value) -> Option<Duration> {
    if let Some(s) = pod.pointer("/metadata/annotations").and_then(|a| a.get(RUN_SECONDS)).and_then(Value::as_str) {
        return s.parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0).map(Duration::from_secs_f64);
    }
    let owned_by_job = pod
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| refs.iter().any(|r| r.get("kind").and_then(Value::as_str) == Some("Job")));
    owned_by_job.then_some(DEFAULT_JOB_RUN)
}

fn containers(pod: &Value, field: &str) -> Vec<Value> {
    pod.pointer(&format!("/spec/{field}")).and_then(Value::as_array).cloned().unwrap_or_default()
}

fn container_id() -> String {
    format!("containerd://{}", uuid::Uuid::new_v4().simple())
}

fn running_status(pod: &Value, host_ip: &str, pod_ip: &str) -> Value {
    let now = now();
    let cond = |t: &str| json!({"type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
    let statuses = |field: &str, state: Value, ready: bool| -> Vec<Value> {
        containers(pod, field)
            .iter()
            .map(|c| {
                let image = c.get("image").cloned().unwrap_or(Value::Null);
                json!({"name": c.get("name"), "image": image, "imageID": "", "containerID": container_id(),
                       "ready": ready, "started": ready, "restartCount": 0, "state": state})
            })
            .collect()
    };
    let host_network = pod.pointer("/spec/hostNetwork").and_then(Value::as_bool) == Some(true);
    let ip = if host_network { host_ip } else { pod_ip };
    let mut status = json!({
        "phase": "Running",
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": now,
        "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
        "containerStatuses": statuses("containers", json!({"running": {"startedAt": now}}), true),
    });
    let init = statuses("initContainers", json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}}), false);
    if !init.is_empty() {
        status["initContainerStatuses"] = json!(init);
    }
    status
}

fn finished_status(pod: &Value) -> Value {
    let now = now();
    let code: i64 = pod
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(EXIT_CODE))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (phase, reason) = if code == 0 { ("Succeeded", "Completed") } else { ("Failed", "Error") };
    let not_ready = |t: &str| json!({"type": t, "status": "False", "reason": "PodCompleted", "lastProbeTime": null, "lastTransitionTime": now});
    let started = pod.pointer("/status/startTime").cloned().unwrap_or(json!(now));
    let statuses: Vec<Value> = containers(pod, "containers")
        .iter()
        .map(|c| {
            json!({"name": c.get("name"), "image": c.get("image"), "imageID": "", "containerID": container_id(),
                   "ready": false, "started": false, "restartCount": 0,
                   "state": {"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": now}}})
        })
        .collect();
    json!({"phase": phase, "conditions": [not_ready("Ready"), not_ready("ContainersReady")], "containerStatuses": statuses})
}
