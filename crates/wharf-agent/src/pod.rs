//! One pod's life on this node: a worker task per pod that syncs the desired pod (from the
//! watch) with what runs (sandbox, init containers, sidecars, containers, probes) about once a
//! second, reports the pod's status, and on deletion terminates it gracefully and removes it.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod, Probe};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::{json, Value};
use tokio::sync::watch;
use wharf_container::shim::{ContainerState, ShimClient, ShimConfig, ShimStatus};
use wharf_container::spec::{ContainerSpec, Mount, SeccompMode};
use wharf_container::{cgroups, Resources, Sandbox, SandboxConfig};
use wharf_image::{Keyring, PullPolicy};

use crate::envs::{self, Sources};
use crate::probes::{self, Target};
use crate::state::{self, CtrRecord, PodState, Terminated};
use crate::stats::{ContainerStats, PodStats};
use crate::Inner;

const BACKOFF_INITIAL: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
const VOLUME_REFRESH: Duration = Duration::from_secs(5);
const STATS_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Default)]
struct ProbeState {
    next: Option<Instant>,
    successes: i32,
    failures: i32,
}

/// Runtime view of one container (its latest instance).
#[derive(Default)]
struct Ctr {
    rec: CtrRecord,
    client: Option<ShimClient>,
    status: Option<ShimStatus>,
    waiting: Option<(String, String)>,
    started: bool,
    ready: bool,
    probes: [ProbeState; 3],
    started_instant: Option<Instant>,
    next_start: Option<Instant>,
    backoff: Option<Duration>,
    stopping: bool,
    delay: Duration,
}

impl Ctr {
    fn running(&self) -> bool {
        self.client.is_some() && self.status.as_ref().is_some_and(|s| s.state == ContainerState::Running)
    }
}

struct PodRun {
    inner: Arc<Inner>,
    uid: String,
    dir: PathBuf,
    sandbox: Option<Sandbox>,
    /// The pod's address on the pod network, once its sandbox is wired.
    pod_ip: Option<String>,
    ctrs: BTreeMap<String, Ctr>,
    volumes: Option<BTreeMap<String, PathBuf>>,
    volumes_at: Option<Instant>,
    start_time: Option<String>,
    failed_init: bool,
    terminal: Option<&'static str>,
    last_status: Option<Value>,
    transitions: HashMap<String, (String, String)>,
    stats_at: Option<Instant>,
    pod_error: Option<(String, String)>,
}

fn now() -> String {
    k8s_openapi::chrono::Utc::now().to_rfc3339_opts(k8s_openapi::chrono::SecondsFormat::Secs, true)
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

fn restart_policy(pod: &Pod) -> &str {
    pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always")
}

fn grace_of(pod: &Pod) -> Duration {
    let secs = pod
        .metadata
        .deletion_grace_period_seconds
        .or_else(|| pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
        .unwrap_or(30)
        .max(0);
    Duration::from_secs(secs as u64)
}

/// The pod's QoS class.
fn qos_class(pod: &Pod) -> &'static str {
    let cs = envs::all_containers(pod);
    let mut any = false;
    let mut guaranteed = true;
    for c in &cs {
        let r = c.resources.as_ref();
        let req = r.and_then(|r| r.requests.clone()).unwrap_or_default();
        let lim = r.and_then(|r| r.limits.clone()).unwrap_or_default();
        if !req.is_empty() || !lim.is_empty() {
            any = true;
        }
        for res in ["cpu", "memory"] {
            match (lim.get(res), req.get(res)) {
                (Some(l), Some(q)) if l == q => {}
                (Some(_), None) => {}
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// The worker of pod `uid`: runs until the pod is gone from this node (or the agent stops).
pub(crate) async fn worker(inner: Arc<Inner>, uid: String, mut rx: watch::Receiver<Option<Pod>>, mut stop: watch::Receiver<bool>) {
    let mut run = PodRun::load(inner.clone(), uid).await;
    loop {
        let pod = rx.borrow_and_update().clone();
        match pod {
            None => {
                run.terminate(None, Duration::from_secs(2)).await;
                return;
            }
            Some(p) if p.metadata.deletion_timestamp.is_some() => {
                run.terminate(Some(&p), grace_of(&p)).await;
                let api: Api<Pod> = Api::namespaced(inner.client.clone(), p.metadata.namespace.as_deref().unwrap_or("default"));
                let dp = DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: Some(Preconditions { uid: p.metadata.uid.clone(), resource_version: None }),
                    ..DeleteParams::default()
                };
                match api.delete(p.metadata.name.as_deref().unwrap_or_default(), &dp).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                    Err(e) => tracing::warn!(pod = ?p.metadata.name, error = %e, "deleting terminated pod"),
                }
                return;
            }
            Some(p) => run.sync(&p).await,
        }
        let stopping = tokio::select! {
            r = rx.changed() => {
                if r.is_err() {
                    return;
                }
                false
            }
            _ = tokio::time::sleep(Duration::from_secs(1)) => false,
            r = stop.wait_for(|s| *s) => {
                drop(r);
                true
            }
        };
        if stopping {
            if inner.cfg.stop_pods_on_shutdown {
                let grace = rx.borrow().as_ref().map(grace_of).unwrap_or_default().min(Duration::from_secs(10));
                run.terminate(None, grace).await;
            }
            return;
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

impl PodRun {
    async fn load(inner: Arc<Inner>, uid: String) -> PodRun {
        let dir = inner.pods_root().join(&uid);
        let mut run = PodRun {
            inner: inner.clone(),
            dir: dir.clone(),
            sandbox: None,
            pod_ip: None,
            ctrs: BTreeMap::new(),
            volumes: None,
            volumes_at: None,
            start_time: None,
            failed_init: false,
            terminal: None,
            last_status: None,
            transitions: HashMap::new(),
            stats_at: None,
            pod_error: None,
            uid: uid.clone(),
        };
        let Some(st) = state::load(&dir) else { return run };
        // Re-adopt what an earlier agent started.
        run.start_time = st.start_time.clone();
        let sb_dir = inner.sandbox_dir(&uid);
        run.sandbox = blocking(move || Sandbox::adopt(&sb_dir).ok().flatten()).await.flatten();
        if run.sandbox.is_some() {
            run.pod_ip = inner.cfg.network.as_ref().and_then(|n| n.0.address_of(&uid)).map(|ip| ip.to_string());
        }
        for rec in st.containers {
            let mut c = Ctr { rec, ..Ctr::default() };
            if !c.rec.id.is_empty() && c.rec.exit.is_none() {
                let client = ShimClient::new(c.rec.id.clone(), inner.shim_root().join(&c.rec.id));
                let cl = client.clone();
                match blocking(move || cl.status()).await {
                    Some(Ok(s)) => {
                        tracing::info!(uid, container = %c.rec.name, id = %c.rec.id, "re-adopted container");
                        c.status = Some(s);
                        c.client = Some(client);
                        c.started = true;
                        c.started_instant = Some(Instant::now());
                    }
                    _ => {
                        c.rec.exit = Some(Terminated {
                            exit_code: 137,
                            signal: None,
                            reason: "ContainerStatusUnknown".into(),
                            message: Some("The container could not be located when the pod was terminated".into()),
                            started_at: String::new(),
                            finished_at: now(),
                            container_id: format!("wharf://{}", c.rec.id),
                        });
                    }
                }
            }
            run.ctrs.insert(c.rec.name.clone(), c);
        }
        run
    }

    fn save(&self) {
        let st = PodState { start_time: self.start_time.clone(), containers: self.ctrs.values().map(|c| c.rec.clone()).collect() };
        state::save(&self.dir, &st);
    }

    async fn sync(&mut self, pod: &Pod) {
        if self.terminal.is_none() {
            self.run_pod(pod).await;
        }
        self.report(pod).await;
        if self.stats_at.is_none_or(|t| t.elapsed() >= STATS_INTERVAL) {
            self.stats_at = Some(Instant::now());
            self.sample_stats(pod);
        }
    }

    async fn run_pod(&mut self, pod: &Pod) {
        let Some(spec) = pod.spec.clone() else { return };
        if let Err(e) = std::fs::create_dir_all(&self.dir) {
            self.pod_error = Some(("CreatePodDirError".into(), e.to_string()));
            return;
        }
        if self.start_time.is_none() {
            self.start_time = Some(pod.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0.to_rfc3339_opts(k8s_openapi::chrono::SecondsFormat::Secs, true)).unwrap_or_else(now));
            self.save();
        }
        // Observe running instances.
        self.observe().await;
        // Sandbox.
        let sandbox_ok = self.sandbox.as_ref().is_some_and(|s| s.is_alive());
        if !sandbox_ok {
            if self.sandbox.take().is_some() {
                tracing::warn!(uid = %self.uid, "pod sandbox died; restarting its containers");
                self.kill_all().await;
                self.observe().await;
            }
            let hostname: String = spec.hostname.clone().or_else(|| pod.metadata.name.clone()).unwrap_or_default().chars().take(63).collect();
            let cfg = SandboxConfig {
                pod_uid: self.uid.clone(),
                hostname,
                dir: self.inner.sandbox_dir(&self.uid),
                cgroup_path: cgroups::pod_path(&self.inner.cfg.cgroup_parent, &self.uid),
                shim: self.inner.cfg.shim.clone(),
            };
            let dir = cfg.dir.clone();
            match blocking(move || {
                let _ = wharf_container::sandbox::destroy_dir(&dir);
                Sandbox::create(cfg)
            })
            .await
            {
                Some(Ok(sb)) => {
                    if let Some(net) = self.inner.cfg.network.clone() {
                        let (uid, netns) = (self.uid.clone(), sb.netns_path());
                        match blocking(move || net.0.attach(&uid, &netns)).await {
                            Some(Ok(ip)) => self.pod_ip = Some(ip.to_string()),
                            Some(Err(e)) => {
                                tracing::warn!(uid = %self.uid, error = %e, "wiring the pod network");
                                self.pod_error = Some(("FailedCreatePodSandBox".into(), format!("failed to set up the pod network: {e}")));
                                return;
                            }
                            None => return,
                        }
                    }
                    self.sandbox = Some(sb);
                    self.pod_error = None;
                }
                Some(Err(e)) => {
                    tracing::warn!(uid = %self.uid, error = %e, "creating pod sandbox");
                    self.pod_error = Some(("FailedCreatePodSandBox".into(), e.to_string()));
                    return;
                }
                None => return,
            }
        }
        // Volumes.
        if self.volumes.is_none() || self.volumes_at.is_none_or(|t| t.elapsed() >= VOLUME_REFRESH) {
            let mut src = Sources::new(self.inner.client.clone(), pod.metadata.namespace.as_deref().unwrap_or("default"));
            let c = &self.inner.cfg;
            match crate::volumes::prepare(pod, &self.dir, &mut src, &c.node_ip, c.cpu_milli, c.memory_bytes).await {
                Ok(v) => {
                    self.volumes = Some(v);
                    self.volumes_at = Some(Instant::now());
                }
                Err(msg) => {
                    tracing::debug!(uid = %self.uid, error = %msg, "mounting volumes");
                    if self.volumes.is_none() {
                        self.pod_error = Some(("FailedMount".into(), msg));
                        return;
                    }
                }
            }
        }
        let policy = restart_policy(pod).to_string();
        // Init containers, in order; sidecars keep running.
        let mut init_done = true;
        for c in spec.init_containers.iter().flatten() {
            let entry = self.ctrs.entry(c.name.clone()).or_insert_with(|| Ctr { rec: CtrRecord { name: c.name.clone(), ..CtrRecord::default() }, ..Ctr::default() });
            if is_sidecar(c) {
                if entry.running() {
                    if entry.started {
                        continue;
                    }
                    init_done = false;
                    break;
                }
                self.start_if_due(pod, c, true).await;
                init_done = false;
                break;
            }
            if entry.rec.exit.as_ref().is_some_and(|t| t.exit_code == 0) {
                continue;
            }
            init_done = false;
            if entry.running() {
                break;
            }
            if entry.rec.exit.is_some() && policy == "Never" {
                self.failed_init = true;
                break;
            }
            self.start_if_due(pod, c, true).await;
            break;
        }
        if init_done && !self.failed_init {
            for c in spec.init_containers.iter().flatten().filter(|c| is_sidecar(c)) {
                let running = self.ctrs.get(&c.name).is_some_and(|x| x.running());
                if !running {
                    self.start_if_due(pod, c, true).await;
                }
            }
            for c in &spec.containers {
                let entry = self.ctrs.entry(c.name.clone()).or_insert_with(|| Ctr { rec: CtrRecord { name: c.name.clone(), ..CtrRecord::default() }, ..Ctr::default() });
                if entry.running() || entry.stopping {
                    continue;
                }
                let should = match &entry.rec.exit {
                    None => true,
                    Some(t) => policy == "Always" || (policy == "OnFailure" && t.exit_code != 0),
                };
                if should {
                    self.start_if_due(pod, c, false).await;
                }
            }
        }
        self.run_probes(pod).await;
    }

    /// Polls each running instance; records exits and removes the dead instance.
    async fn observe(&mut self) {
        let mut changed = false;
        for c in self.ctrs.values_mut() {
            let Some(client) = c.client.clone() else { continue };
            let cl = client.clone();
            match blocking(move || cl.status()).await {
                Some(Ok(s)) if s.state == ContainerState::Running => c.status = Some(s),
                other => {
                    let term = match other {
                        Some(Ok(s)) => {
                            let e = s.exit.clone();
                            Terminated {
                                exit_code: e.as_ref().map(|e| e.code).unwrap_or(-1),
                                signal: e.as_ref().and_then(|e| e.signal),
                                reason: e.as_ref().map(|e| e.reason().to_string()).unwrap_or_else(|| "Error".into()),
                                message: None,
                                started_at: s.started_at.clone(),
                                finished_at: e.map(|e| e.finished_at).unwrap_or_else(now),
                                container_id: format!("wharf://{}", c.rec.id),
                            }
                        }
                        _ => Terminated {
                            exit_code: 137,
                            signal: None,
                            reason: "ContainerStatusUnknown".into(),
                            message: Some("The container's shim is gone".into()),
                            started_at: c.status.as_ref().map(|s| s.started_at.clone()).unwrap_or_default(),
                            finished_at: now(),
                            container_id: format!("wharf://{}", c.rec.id),
                        },
                    };
                    tracing::info!(uid = %self.uid, container = %c.rec.name, code = term.exit_code, reason = %term.reason, "container exited");
                    // Crash-loop back-off: the first restart is immediate, then 10 s doubling to 5 min;
                    // an instance that ran 10 minutes resets it.
                    let ran_long = c.started_instant.is_some_and(|t| t.elapsed() >= Duration::from_secs(600));
                    if ran_long {
                        c.backoff = None;
                    }
                    let delay = c.backoff.unwrap_or(Duration::ZERO);
                    c.backoff = Some(match c.backoff {
                        None => BACKOFF_INITIAL,
                        Some(d) => (d * 2).min(BACKOFF_MAX),
                    });
                    c.delay = delay;
                    c.next_start = Some(Instant::now() + delay);
                    c.rec.exit = Some(term);
                    c.client = None;
                    c.status = None;
                    c.ready = false;
                    c.started = false;
                    c.stopping = false;
                    let inner = self.inner.clone();
                    let (id, bundle) = (c.rec.id.clone(), c.rec.bundle.clone());
                    blocking(move || state::remove_instance(&inner, &id, &bundle)).await;
                    changed = true;
                }
            }
        }
        if changed {
            self.save();
        }
    }

    async fn kill_all(&mut self) {
        for c in self.ctrs.values() {
            if let Some(cl) = c.client.clone() {
                blocking(move || cl.kill(libc::SIGKILL, true)).await;
            }
        }
    }

    /// Starts (or restarts) container `c` unless it is backing off.
    async fn start_if_due(&mut self, pod: &Pod, c: &Container, init: bool) {
        let _ = init;
        let Some(entry) = self.ctrs.get_mut(&c.name) else { return };
        if let Some(at) = entry.next_start {
            if Instant::now() < at {
                if entry.rec.exit.is_some() {
                    let secs = entry.delay.as_secs();
                    entry.waiting = Some((
                        "CrashLoopBackOff".into(),
                        format!("back-off {secs}s restarting failed container={} pod={}_{}({})", c.name, pod.metadata.name.as_deref().unwrap_or_default(), pod.metadata.namespace.as_deref().unwrap_or_default(), self.uid),
                    ));
                }
                return;
            }
        }
        match self.start(pod, c).await {
            Ok(()) => {}
            Err((reason, message)) => {
                tracing::debug!(uid = %self.uid, container = %c.name, reason, message, "container not started");
                if let Some(e) = self.ctrs.get_mut(&c.name) {
                    e.waiting = Some((reason, message));
                }
            }
        }
    }

    async fn keyring(&self, pod: &Pod) -> Keyring {
        let mut datas = Vec::new();
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(self.inner.client.clone(), ns);
        for r in pod.spec.as_ref().and_then(|s| s.image_pull_secrets.as_ref()).into_iter().flatten() {
            if let Ok(Some(s)) = api.get_opt(&r.name).await {
                let d = envs::secret_data(&s);
                if let Some(v) = d.get(".dockerconfigjson").or_else(|| d.get(".dockercfg")) {
                    datas.push(v.clone());
                }
            }
        }
        let mut keyring = Keyring::from_pull_secrets(datas.iter().map(|v| v.as_slice())).unwrap_or_else(|_| Keyring::new());
        for (key, creds) in &self.inner.cfg.node_credentials {
            keyring.add(key, creds.clone());
        }
        keyring
    }

    async fn start(&mut self, pod: &Pod, c: &Container) -> Result<(), (String, String)> {
        let inner = self.inner.clone();
        let cfg = &inner.cfg;
        let image_name = c.image.clone().unwrap_or_default();
        let keyring = self.keyring(pod).await;
        let policy = PullPolicy::for_container(c.image_pull_policy.as_deref(), &image_name);
        let key = format!("{}_{}", self.uid, image_name);
        // wharf-image's pull future is not `Send` (it holds a URL serializer across an await), so
        // it runs on a blocking thread driving it with this runtime's handle.
        let handle = tokio::runtime::Handle::current();
        let (inner3, name3) = (inner.clone(), image_name.clone());
        let image = tokio::task::spawn_blocking(move || {
            handle.block_on(inner3.images.ensure_image(&name3, policy, &keyring, &inner3.pull_backoff, &key)).map_err(|f| (f.reason().to_string(), f.message()))
        })
        .await
        .map_err(|e| ("ErrImagePull".to_string(), e.to_string()))??;
        let img_cfg = image.runtime_config();
        let ns = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        let mut src = Sources::new(inner.client.clone(), &ns);
        let env = envs::environment(pod, c, &img_cfg, &mut src, &cfg.node_ip, cfg.cpu_milli, cfg.memory_bytes)
            .await
            .map_err(|m| ("CreateContainerConfigError".to_string(), m))?;
        let args = envs::argv(c, &img_cfg, &env);
        if args.is_empty() {
            return Err(("CreateContainerConfigError".into(), "no command specified".into()));
        }
        let Some(sandbox) = self.sandbox.clone() else { return Err(("ContainerCreating".into(), String::new())) };
        let spec = pod.spec.clone().unwrap_or_default();
        let psc = spec.security_context.clone().unwrap_or_default();
        let sc = c.security_context.clone().unwrap_or_default();
        let (img_uid, img_gid) = envs::image_user(&img_cfg);
        let user = sc.run_as_user.or(psc.run_as_user).map(|u| u as u32).or(img_uid);
        let group = sc.run_as_group.or(psc.run_as_group).map(|g| g as u32).or(img_gid);
        let mut supplemental: Vec<u32> = psc.supplemental_groups.clone().unwrap_or_default().into_iter().map(|g| g as u32).collect();
        if let Some(fs) = psc.fs_group {
            supplemental.push(fs as u32);
        }
        let seccomp_type = sc.seccomp_profile.as_ref().or(psc.seccomp_profile.as_ref()).map(|p| p.type_.clone());
        let seccomp = match seccomp_type.as_deref() {
            Some("RuntimeDefault") | Some("Localhost") => SeccompMode::RuntimeDefault,
            _ => SeccompMode::Unconfined,
        };
        let res = c.resources.clone().unwrap_or_default();
        let q = |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>, k: &str| m.as_ref().and_then(|m| m.get(k)).cloned();
        let cpu_req = q(&res.requests, "cpu").or(q(&res.limits, "cpu")).as_ref().and_then(envs::cpu_milli);
        let cpu_lim = q(&res.limits, "cpu").as_ref().and_then(envs::cpu_milli);
        let mem_lim = q(&res.limits, "memory").as_ref().and_then(envs::bytes);
        let mem_req = q(&res.requests, "memory").or(q(&res.limits, "memory")).as_ref().and_then(envs::bytes);
        let oom_score_adj = match qos_class(pod) {
            "Guaranteed" => -997,
            "BestEffort" => 1000,
            _ => {
                let r = mem_req.unwrap_or(0).max(0) as u64;
                let adj = 1000 - (1000 * r / cfg.memory_bytes.max(1)) as i64;
                adj.clamp(2, 999) as i32
            }
        };
        let volumes = self.volumes.clone().unwrap_or_default();
        let mut mounts = Vec::new();
        for vm in c.volume_mounts.iter().flatten() {
            let Some(host) = volumes.get(&vm.name) else {
                return Err(("CreateContainerConfigError".into(), format!("volume {:?} not found", vm.name)));
            };
            let mut src_path = host.clone();
            if let Some(sp) = vm.sub_path.as_deref().filter(|s| !s.is_empty()) {
                if sp.starts_with('/') || sp.split('/').any(|x| x == "..") {
                    return Err(("CreateContainerConfigError".into(), format!("invalid subPath {sp:?}")));
                }
                src_path = host.join(sp);
                if !src_path.exists() {
                    let _ = std::fs::create_dir_all(&src_path);
                }
            }
            mounts.push(Mount::bind(src_path.to_string_lossy().into_owned(), vm.mount_path.clone(), vm.read_only.unwrap_or(false)));
        }
        // The kubelet-managed /etc files, unless the container mounts its own there.
        let pod_ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone());
        let managed = crate::podfiles::prepare(pod, &self.dir, pod_ip.as_deref(), &inner.dns).map_err(|e| ("CreateContainerConfigError".to_string(), format!("writing /etc files: {e}")))?;
        for m in managed {
            if !mounts.iter().any(|x: &Mount| x.destination == m.destination) {
                mounts.push(m);
            }
        }
        let cgroup_path = cgroups::container_path(&cfg.cgroup_parent, &self.uid, &c.name);
        let cspec = ContainerSpec {
            args,
            env,
            working_dir: c.working_dir.clone().filter(|w| !w.is_empty()).or(img_cfg.working_dir.clone().filter(|w| !w.is_empty())),
            user,
            group,
            supplemental_groups: supplemental,
            read_only_root: sc.read_only_root_filesystem.unwrap_or(false),
            privileged: sc.privileged.unwrap_or(false),
            cap_add: sc.capabilities.as_ref().and_then(|c| c.add.clone()).unwrap_or_default(),
            cap_drop: sc.capabilities.as_ref().and_then(|c| c.drop.clone()).unwrap_or_default(),
            no_new_privileges: sc.allow_privilege_escalation == Some(false),
            seccomp,
            hostname: None,
            namespaces: sandbox.namespaces(),
            cgroup_path: cgroup_path.clone(),
            resources: Resources::from_kubernetes(cpu_req, cpu_lim, mem_lim),
            mounts,
            oom_score_adj: Some(oom_score_adj),
            tty: c.tty.unwrap_or(false),
            ..ContainerSpec::default()
        };
        let entry = self.ctrs.get(&c.name).map(|e| (e.rec.clone(), e.client.is_some())).unwrap_or_default();
        let attempt = if entry.0.id.is_empty() { 0 } else { entry.0.attempt + 1 };
        let short: String = self.uid.chars().filter(|c| *c != '-').take(12).collect();
        let id = format!("{short}-{}-{attempt}", c.name);
        let bundle = self.dir.join("containers").join(format!("{}-{attempt}", c.name));
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let log_path = crate::kubelet_server::log_path(&cfg.log_dir, &ns, &pod_name, &self.uid, &c.name, attempt);
        let shim_cfg = ShimConfig {
            id: id.clone(),
            bundle: bundle.clone(),
            dir: inner.shim_root().join(&id),
            runtime: inner.runtime.clone(),
            log_path,
            log_max_size: cfg.log_max_size,
            log_max_files: cfg.log_max_files,
            cgroup_path,
            shim: cfg.shim.clone(),
            stdin: c.stdin.unwrap_or(false),
            tty: c.tty.unwrap_or(false),
        };
        let read_only = cspec.read_only_root;
        let inner2 = inner.clone();
        let image2 = image.clone();
        let (b2, id2) = (bundle.clone(), id.clone());
        let started = blocking(move || -> Result<ShimClient, String> {
            // A leftover of an attempt that failed half-way.
            state::remove_instance(&inner2, &id2, &b2);
            std::fs::create_dir_all(&b2).map_err(|e| e.to_string())?;
            let mounted = inner2.images.prepare_rootfs(&image2, &b2, read_only).map_err(|e| e.to_string())?;
            let oci = match cspec.to_oci(mounted.path()) {
                Ok(o) => o,
                Err(e) => {
                    let _ = mounted.remove();
                    return Err(e.to_string());
                }
            };
            let rootfs = mounted.persist();
            let res = wharf_container::spec::write_bundle(&b2, &oci).map_err(|e| e.to_string()).and_then(|()| wharf_container::shim::spawn(&shim_cfg).map_err(|e| e.to_string()));
            if res.is_err() {
                let _ = wharf_image::rootfs::unmount_at(&rootfs);
                let _ = std::fs::remove_dir_all(&b2);
            }
            res
        })
        .await
        .unwrap_or_else(|| Err("start task failed".into()));
        let Some(e) = self.ctrs.get_mut(&c.name) else { return Ok(()) };
        match started {
            Ok(client) => {
                tracing::info!(uid = %self.uid, container = %c.name, id, attempt, "container started");
                let prev = e.rec.exit.take();
                e.rec.last = prev.or(e.rec.last.take());
                e.rec.id = id;
                e.rec.attempt = attempt;
                e.rec.image_id = image.repo_digest.clone();
                e.rec.bundle = bundle;
                e.client = Some(client.clone());
                e.status = client.status().ok();
                e.waiting = None;
                e.started_instant = Some(Instant::now());
                e.started = c.startup_probe.is_none();
                e.ready = false;
                e.probes = Default::default();
                e.next_start = None;
                self.save();
                if let Some(h) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
                    if let Some(t) = self.target(c) {
                        let h = h.clone();
                        let res = blocking(move || run_handler(&h, &t, Duration::from_secs(30))).await;
                        if let Some(Err(msg)) = res {
                            tracing::info!(uid = %self.uid, container = %c.name, msg, "postStart hook failed; killing container");
                            blocking(move || client.kill(libc::SIGKILL, true)).await;
                        }
                    }
                }
                Ok(())
            }
            Err(msg) => {
                e.next_start = Some(Instant::now() + e.backoff.unwrap_or(BACKOFF_INITIAL));
                Err(("RunContainerError".into(), msg))
            }
        }
    }

    fn target(&self, c: &Container) -> Option<Target> {
        let e = self.ctrs.get(&c.name)?;
        Some(Target {
            netns: self.sandbox.as_ref()?.netns_path(),
            runtime: self.inner.runtime.clone(),
            shim: self.inner.cfg.shim.clone(),
            container_id: e.rec.id.clone(),
            bundle: e.rec.bundle.clone(),
            container: c.clone(),
        })
    }

    async fn run_probes(&mut self, pod: &Pod) {
        let spec = pod.spec.clone().unwrap_or_default();
        let containers: Vec<Container> = spec.init_containers.iter().flatten().filter(|c| is_sidecar(c)).chain(spec.containers.iter()).cloned().collect();
        for c in containers {
            let Some(target) = self.target(&c) else { continue };
            let Some(e) = self.ctrs.get_mut(&c.name) else { continue };
            if !e.running() || e.stopping {
                continue;
            }
            let Some(since) = e.started_instant else { continue };
            // 0: startup, 1: liveness, 2: readiness.
            let kinds: [(usize, Option<&Probe>); 3] = [(0, c.startup_probe.as_ref()), (1, c.liveness_probe.as_ref()), (2, c.readiness_probe.as_ref())];
            for (k, probe) in kinds {
                let Some(probe) = probe else {
                    if k == 2 && e.started {
                        e.ready = true;
                    }
                    continue;
                };
                if k != 0 && !e.started {
                    continue;
                }
                if k == 0 && e.started {
                    continue;
                }
                let st = &mut e.probes[k];
                let now = Instant::now();
                let due = st.next.unwrap_or(since + Duration::from_secs(probe.initial_delay_seconds.unwrap_or(0).max(0) as u64));
                if now < due {
                    continue;
                }
                st.next = Some(now + Duration::from_secs(probe.period_seconds.unwrap_or(10).max(1) as u64));
                let (p, t) = (probe.clone(), target.clone());
                let res = blocking(move || probes::run(&p, &t)).await.unwrap_or_else(|| Err("probe task failed".into()));
                let st = &mut e.probes[k];
                match res {
                    Ok(()) => {
                        st.successes += 1;
                        st.failures = 0;
                    }
                    Err(msg) => {
                        tracing::debug!(uid = %self.uid, container = %c.name, probe = k, msg, "probe failed");
                        st.failures += 1;
                        st.successes = 0;
                    }
                }
                let success_threshold = probe.success_threshold.unwrap_or(1).max(1);
                let failure_threshold = probe.failure_threshold.unwrap_or(3).max(1);
                match k {
                    0 if st.successes >= 1 => e.started = true,
                    2 if st.successes >= success_threshold => e.ready = true,
                    2 if st.failures >= failure_threshold => e.ready = false,
                    0 | 1 if st.failures >= failure_threshold => {
                        tracing::info!(uid = %self.uid, container = %c.name, "{} probe failed; restarting container", if k == 0 { "startup" } else { "liveness" });
                        let grace = probe
                            .termination_grace_period_seconds
                            .or(spec.termination_grace_period_seconds)
                            .unwrap_or(30)
                            .max(0) as u64;
                        e.stopping = true;
                        e.ready = false;
                        if let Some(cl) = e.client.clone() {
                            tokio::task::spawn_blocking(move || cl.stop(Duration::from_secs(grace)));
                        }
                        break;
                    }
                    _ => {}
                }
            }
        }
    }

    /// Graceful termination of every container (preStop hooks, SIGTERM, grace, SIGKILL), then removal
    /// of everything the pod had on this node.
    async fn terminate(&mut self, pod: Option<&Pod>, grace: Duration) {
        let deadline = Instant::now() + grace;
        let spec = pod.and_then(|p| p.spec.clone()).unwrap_or_default();
        let mut handles = Vec::new();
        for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
            let Some(e) = self.ctrs.get(&c.name) else { continue };
            let Some(client) = e.client.clone() else { continue };
            let target = self.target(c);
            let pre_stop = c.lifecycle.as_ref().and_then(|l| l.pre_stop.clone());
            handles.push(tokio::task::spawn_blocking(move || {
                if let (Some(h), Some(t)) = (pre_stop, target) {
                    let _ = run_handler(&h, &t, deadline.saturating_duration_since(Instant::now()));
                }
                let _ = client.stop(deadline.saturating_duration_since(Instant::now()));
            }));
        }
        // Containers the spec no longer names (or no spec at all).
        for e in self.ctrs.values() {
            if spec.containers.iter().chain(spec.init_containers.iter().flatten()).any(|c| c.name == e.rec.name) {
                continue;
            }
            if let Some(client) = e.client.clone() {
                handles.push(tokio::task::spawn_blocking(move || {
                    let _ = client.stop(deadline.saturating_duration_since(Instant::now()));
                }));
            }
        }
        for h in handles {
            let _ = h.await;
        }
        self.observe().await;
        self.sandbox = None;
        let inner = self.inner.clone();
        let uid = self.uid.clone();
        blocking(move || state::teardown_dir(&inner, &uid)).await;
        tracing::info!(uid = %self.uid, "pod terminated");
    }

    fn container_status(&self, c: &Container, init_running: bool, pod_terminal: bool) -> Value {
        let e = self.ctrs.get(&c.name);
        let image = c.image.clone().unwrap_or_default();
        let term_json = |t: &Terminated| {
            let mut v = json!({"exitCode": t.exit_code, "reason": t.reason, "startedAt": t.started_at, "finishedAt": t.finished_at, "containerID": t.container_id});
            if let Some(s) = t.signal {
                v["signal"] = json!(s);
            }
            if let Some(m) = &t.message {
                v["message"] = json!(m);
            }
            if t.started_at.is_empty() {
                v["startedAt"] = Value::Null;
            }
            v
        };
        let Some(e) = e else {
            let reason = if init_running { "PodInitializing" } else { "ContainerCreating" };
            return json!({"name": c.name, "image": image, "imageID": "", "ready": false, "restartCount": 0, "started": false,
                          "state": {"waiting": {"reason": reason}}, "lastState": {}});
        };
        let mut last = e.rec.last.as_ref().map(|t| json!({"terminated": term_json(t)})).unwrap_or_else(|| json!({}));
        let state = if e.running() {
            let started_at = e.status.as_ref().map(|s| s.started_at.clone()).unwrap_or_default();
            json!({"running": {"startedAt": started_at}})
        } else if let Some(t) = &e.rec.exit {
            match &e.waiting {
                Some((r, m)) if !pod_terminal => {
                    last = json!({"terminated": term_json(t)});
                    json!({"waiting": {"reason": r, "message": m}})
                }
                _ => json!({"terminated": term_json(t)}),
            }
        } else {
            match &e.waiting {
                Some((r, m)) => json!({"waiting": {"reason": r, "message": m}}),
                None => json!({"waiting": {"reason": if init_running { "PodInitializing" } else { "ContainerCreating" }}}),
            }
        };
        let mut v = json!({
            "name": c.name, "image": image, "imageID": e.rec.image_id,
            "ready": e.running() && e.ready, "restartCount": e.rec.attempt,
            "started": e.running() && e.started,
            "state": state, "lastState": last,
        });
        if !e.rec.id.is_empty() {
            v["containerID"] = json!(format!("wharf://{}", e.rec.id));
        }
        v
    }

    fn condition(&mut self, t: &str, ok: bool, reason: Option<&str>) -> Value {
        let status = if ok { "True" } else { "False" };
        let entry = self.transitions.entry(t.into()).or_insert_with(|| (status.to_string(), now()));
        if entry.0 != status {
            *entry = (status.to_string(), now());
        }
        let mut v = json!({"type": t, "status": status, "lastProbeTime": null, "lastTransitionTime": entry.1});
        if let Some(r) = reason.filter(|_| !ok) {
            v["reason"] = json!(r);
        }
        v
    }

    async fn report(&mut self, pod: &Pod) {
        let spec = pod.spec.clone().unwrap_or_default();
        let policy = restart_policy(pod).to_string();
        let inits: Vec<&Container> = spec.init_containers.iter().flatten().collect();
        let init_done = inits.iter().all(|c| {
            let e = self.ctrs.get(&c.name);
            if is_sidecar(c) {
                e.is_some_and(|e| e.running() && e.started)
            } else {
                e.is_some_and(|e| e.rec.exit.as_ref().is_some_and(|t| t.exit_code == 0))
            }
        }) || (self.ctrs.values().any(|e| spec.containers.iter().any(|c| c.name == e.rec.name && !e.rec.id.is_empty())));
        // Phase.
        let mut phase = "Pending";
        let regs: Vec<Option<&Ctr>> = spec.containers.iter().map(|c| self.ctrs.get(&c.name)).collect();
        if self.failed_init {
            phase = "Failed";
        } else if init_done && !regs.is_empty() && regs.iter().all(|e| e.is_some_and(|e| !e.rec.id.is_empty())) {
            let all_done = regs.iter().all(|e| {
                e.is_some_and(|e| {
                    !e.running()
                        && e.rec.exit.as_ref().is_some_and(|t| match policy.as_str() {
                            "Never" => true,
                            "OnFailure" => t.exit_code == 0,
                            _ => false,
                        })
                })
            });
            if all_done {
                let ok = regs.iter().all(|e| e.is_some_and(|e| e.rec.exit.as_ref().is_some_and(|t| t.exit_code == 0)));
                phase = if ok { "Succeeded" } else { "Failed" };
            } else {
                phase = "Running";
            }
        }
        let terminal = matches!(phase, "Succeeded" | "Failed");
        if terminal && self.terminal.is_none() {
            self.terminal = Some(if phase == "Succeeded" { "Succeeded" } else { "Failed" });
            // Sidecars end with the pod.
            for c in inits.iter().filter(|c| is_sidecar(c)) {
                if let Some(cl) = self.ctrs.get(&c.name).and_then(|e| e.client.clone()) {
                    let grace = grace_of(pod);
                    blocking(move || cl.stop(grace)).await;
                }
            }
            self.observe().await;
        }
        let init_running = !init_done;
        let container_statuses: Vec<Value> = spec.containers.iter().map(|c| self.container_status(c, init_running, terminal)).collect();
        let init_statuses: Vec<Value> = inits.iter().map(|c| self.container_status(c, false, terminal)).collect();
        let all_ready = !terminal && spec.containers.iter().all(|c| self.ctrs.get(&c.name).is_some_and(|e| e.running() && e.ready));
        let sandbox_ready = self.sandbox.as_ref().is_some_and(|s| s.is_alive()) && !terminal;
        let not_ready_reason = if terminal { "PodCompleted" } else { "ContainersNotReady" };
        let conditions = vec![
            self.condition("PodReadyToStartContainers", sandbox_ready, None),
            self.condition("Initialized", init_done || terminal, Some("ContainersNotInitialized")),
            self.condition("Ready", all_ready, Some(not_ready_reason)),
            self.condition("ContainersReady", all_ready, Some(not_ready_reason)),
            self.condition("PodScheduled", true, None),
        ];
        let host_ip = &self.inner.cfg.node_ip;
        let mut status = json!({
            "phase": phase,
            "conditions": conditions,
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "startTime": self.start_time,
            "qosClass": qos_class(pod),
            "containerStatuses": container_statuses,
        });
        if let Some(ip) = &self.pod_ip {
            status["podIP"] = json!(ip);
            status["podIPs"] = json!([{"ip": ip}]);
        }
        if !inits.is_empty() {
            status["initContainerStatuses"] = json!(init_statuses);
        }
        if let Some((reason, message)) = &self.pod_error {
            status["reason"] = json!(reason);
            status["message"] = json!(message);
        }
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        let api: Api<Pod> = Api::namespaced(self.inner.client.clone(), pod.metadata.namespace.as_deref().unwrap_or("default"));
        let patch = json!({"status": status});
        match api.patch_status(pod.metadata.name.as_deref().unwrap_or_default(), &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => self.last_status = Some(status),
            Err(e) => tracing::debug!(uid = %self.uid, error = %e, "patching pod status"),
        }
    }

    fn sample_stats(&self, pod: &Pod) {
        let parent = &self.inner.cfg.cgroup_parent;
        let pod_cg = cgroups::pod_path(parent, &self.uid);
        let Some(ps) = cgroups::stats(&pod_cg) else { return };
        let containers = self
            .ctrs
            .values()
            .filter(|e| e.running())
            .filter_map(|e| ContainerStats::read(&e.rec.name, &cgroups::container_path(parent, &self.uid, &e.rec.name)))
            .collect();
        let s = PodStats {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: self.uid.clone(),
            timestamp: ps.timestamp,
            cpu_usage_nanos: ps.cpu_usage_nanos,
            memory_working_set_bytes: ps.memory_working_set_bytes,
            containers,
        };
        if let Ok(mut m) = self.inner.stats.write() {
            m.insert(self.uid.clone(), s);
        }
    }
}

/// Runs a lifecycle hook (exec or sleep; HTTP GET and TCP through the probe code).
fn run_handler(h: &LifecycleHandler, t: &Target, timeout: Duration) -> Result<(), String> {
    if let Some(e) = &h.exec {
        return probes::exec(e.command.clone().unwrap_or_default(), t, timeout.max(Duration::from_secs(1)));
    }
    if let Some(s) = &h.sleep {
        std::thread::sleep(Duration::from_secs(s.seconds.max(0) as u64).min(timeout));
        return Ok(());
    }
    if h.http_get.is_some() || h.tcp_socket.is_some() {
        let p = Probe { http_get: h.http_get.clone(), tcp_socket: h.tcp_socket.clone(), timeout_seconds: Some(timeout.as_secs().max(1) as i32), ..Probe::default() };
        return probes::run(&p, t);
    }
    Ok(())
}
