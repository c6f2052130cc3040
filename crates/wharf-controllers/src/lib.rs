//! `wharf-controllers` owns the controller manager: the reconcilers kube-controller-manager runs
//! (ReplicaSet, Deployment, garbage collector, ServiceAccount, Job, EndpointSlice/Endpoints),
//! built on kube-rs list+watch caches. Controllers reach cluster state only through the
//! `kube::Client` they are given, so they run unchanged in-process or in another replica.
//! Leader election is the caller's job: call [`run`] once elected.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Service, ServiceAccount};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::{Api, Client};

pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod endpoints;
pub mod events;
pub mod expectations;
pub mod gc;
pub mod informer;
pub mod job;
pub mod nodelifecycle;
pub mod queue;
pub mod replicaset;
pub mod serviceaccount;
pub mod statefulset;
pub mod util;

use informer::{Informer, OwnerIndex};

/// Why a sync failed (the key is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("api: {0}")]
    Api(#[from] kube::Error),
    /// Discovery of the served resources failed.
    #[error("discovery: {0}")]
    Discovery(String),
    /// An object could not be (de)serialized.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// An object is not in a state the controller can act on yet.
    #[error("{0}")]
    NotReady(String),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Names of the controllers, as kube-controller-manager's `--controllers` flag spells them.
pub const ALL_CONTROLLERS: &[&str] = &[
    "replicaset",
    "deployment",
    "daemonset",
    "statefulset",
    "garbagecollector",
    "serviceaccount",
    "job",
    "ttl-after-finished",
    "cronjob",
    "endpointslice",
    "endpoint",
    "nodelifecycle",
    "podgc",
];

/// What to run and how hard.
#[derive(Clone, Debug)]
pub struct ControllersConfig {
    /// Which controllers run (names from [`ALL_CONTROLLERS`]).
    pub enabled: BTreeSet<String>,
    /// Concurrent ReplicaSet syncs (`--concurrent-replicaset-syncs`).
    pub replicaset_workers: usize,
    /// Concurrent Deployment syncs (`--concurrent-deployment-syncs`).
    pub deployment_workers: usize,
    /// Concurrent Job syncs (`--concurrent-job-syncs`).
    pub job_workers: usize,
    /// Concurrent Service endpoint syncs (`--concurrent-service-endpoint-syncs`).
    pub endpoint_workers: usize,
    /// Concurrent garbage collector workers (`--concurrent-gc-syncs`).
    pub gc_workers: usize,
    /// Most pods one ReplicaSet sync creates or deletes (kube-controller-manager: 500).
    pub burst_replicas: usize,
    /// Heartbeat age after which a node is unreachable (`--node-monitor-grace-period`).
    pub node_monitor_grace_period: Duration,
    /// How often node health is checked (`--node-monitor-period`).
    pub node_monitor_period: Duration,
    /// Terminated pods kept before the oldest are deleted (`--terminated-pod-gc-threshold`).
    pub terminated_pod_gc_threshold: usize,
    /// Delay before a Job replaces its first failed pod; doubles per failure up to 6 minutes
    /// (kube-controller-manager: 10 s).
    pub job_backoff_base: Duration,
}

impl Default for ControllersConfig {
    fn default() -> Self {
        Self {
            enabled: ALL_CONTROLLERS.iter().map(|s| s.to_string()).collect(),
            replicaset_workers: 5,
            deployment_workers: 5,
            job_workers: 5,
            endpoint_workers: 5,
            gc_workers: 20,
            burst_replicas: 500,
            job_backoff_base: Duration::from_secs(10),
            node_monitor_grace_period: Duration::from_secs(40),
            node_monitor_period: Duration::from_secs(5),
            terminated_pod_gc_threshold: 12_500,
        }
    }
}

impl ControllersConfig {
    /// Whether a controller is enabled.
    pub fn on(&self, name: &str) -> bool {
        self.enabled.contains(name)
    }
}

/// The informers (shared caches) and indexes controllers read from.
pub struct Shared {
    /// The client every controller writes through.
    pub client: Client,
    /// All pods.
    pub pods: Arc<Informer<Pod>>,
    /// Pods by controller UID.
    pub pods_by_owner: Arc<OwnerIndex>,
    /// All ReplicaSets.
    pub replicasets: Arc<Informer<ReplicaSet>>,
    /// ReplicaSets by controller UID.
    pub replicasets_by_owner: Arc<OwnerIndex>,
    /// All Deployments.
    pub deployments: Arc<Informer<Deployment>>,
    /// All StatefulSets.
    pub statefulsets: Arc<Informer<StatefulSet>>,
    /// All DaemonSets.
    pub daemonsets: Arc<Informer<DaemonSet>>,
    /// All Jobs.
    pub jobs: Arc<Informer<Job>>,
    /// All CronJobs.
    pub cronjobs: Arc<Informer<CronJob>>,
    /// All Services.
    pub services: Arc<Informer<Service>>,
    /// All Namespaces.
    pub namespaces: Arc<Informer<Namespace>>,
    /// All ServiceAccounts.
    pub serviceaccounts: Arc<Informer<ServiceAccount>>,
    /// All EndpointSlices.
    pub endpointslices: Arc<Informer<EndpointSlice>>,
    /// All Endpoints.
    pub endpoints: Arc<Informer<Endpoints>>,
    /// All Nodes.
    pub nodes: Arc<Informer<Node>>,
    /// Node heartbeat Leases (namespace `kube-node-lease`).
    pub leases: Arc<Informer<Lease>>,
}

impl Shared {
    fn new(client: Client) -> Self {
        let pods = Informer::new(Api::all(client.clone()));
        let pods_by_owner = OwnerIndex::attach(&pods);
        let replicasets = Informer::new(Api::all(client.clone()));
        let replicasets_by_owner = OwnerIndex::attach(&replicasets);
        Self {
            pods,
            pods_by_owner,
            replicasets,
            replicasets_by_owner,
            deployments: Informer::new(Api::all(client.clone())),
            jobs: Informer::new(Api::all(client.clone())),
            daemonsets: Informer::new(Api::all(client.clone())),
            statefulsets: Informer::new(Api::all(client.clone())),
            cronjobs: Informer::new(Api::all(client.clone())),
            services: Informer::new(Api::all(client.clone())),
            namespaces: Informer::new(Api::all(client.clone())),
            serviceaccounts: Informer::new(Api::all(client.clone())),
            endpointslices: Informer::new(Api::all(client.clone())),
            endpoints: Informer::new(Api::all(client.clone())),
            nodes: Informer::new(Api::all(client.clone())),
            leases: Informer::new(Api::namespaced(client.clone(), "kube-node-lease")),
            client,
        }
    }
}

/// Runs every enabled controller until `shutdown` resolves; then stops them all and returns.
pub async fn run(client: Client, cfg: ControllersConfig, shutdown: impl Future<Output = ()>) {
    let shared = Arc::new(Shared::new(client));
    let mut tasks: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let mut queues: Vec<Arc<queue::WorkQueue>> = Vec::new();
    let mut waits: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::new();
    let mut starters: Vec<Box<dyn FnOnce() -> Vec<tokio::task::JoinHandle<()>> + Send>> =
        Vec::new();

    macro_rules! use_informer {
        ($field:ident) => {{
            let i = shared.$field.clone();
            let w = i.clone();
            waits.push(Box::pin(async move { w.wait_synced().await }));
            tasks.push(tokio::spawn(i.run()));
        }};
    }
    let need_pods = [
        "replicaset",
        "deployment",
        "daemonset",
        "statefulset",
        "job",
        "endpointslice",
        "endpoint",
        "nodelifecycle",
        "podgc",
    ]
    .iter()
    .any(|c| cfg.on(c));
    let need_nodes = cfg.on("nodelifecycle") || cfg.on("podgc") || cfg.on("daemonset");
    let need_rs = cfg.on("replicaset") || cfg.on("deployment");
    let need_svc = cfg.on("endpointslice") || cfg.on("endpoint");

    if cfg.on("replicaset") {
        let (q, s) = replicaset::register(shared.clone(), &cfg);
        queues.push(q);
        starters.push(s);
    }
    if cfg.on("deployment") {
        let (q, s) = deployment::register(shared.clone(), &cfg);
        queues.push(q);
        starters.push(s);
    }
    if cfg.on("job") || cfg.on("ttl-after-finished") {
        let (q, s) = job::register(shared.clone(), &cfg);
        queues.push(q);
        starters.push(s);
    }
    if cfg.on("cronjob") {
        let (q, s) = cronjob::register(shared.clone(), shared.cronjobs.clone(), &cfg);
        queues.push(q);
        starters.push(s);
        use_informer!(cronjobs);
    }
    if cfg.on("serviceaccount") {
        let (q, s) = serviceaccount::register(shared.clone(), &cfg);
        queues.push(q);
        starters.push(s);
    }
    if need_svc {
        let (q, s) = endpoints::register(shared.clone(), &cfg);
        queues.push(q);
        starters.push(s);
    }
    if cfg.on("statefulset") {
        let (q, s) = statefulset::register(shared.clone(), shared.statefulsets.clone(), &cfg);
        queues.push(q);
        starters.push(s);
        use_informer!(statefulsets);
    }
    if cfg.on("daemonset") {
        let (q, s) = daemonset::register(shared.clone(), shared.daemonsets.clone(), &cfg);
        queues.push(q);
        starters.push(s);
        use_informer!(daemonsets);
    }
    if need_nodes {
        if cfg.on("nodelifecycle") || cfg.on("podgc") {
            let (q, s) = nodelifecycle::register(shared.clone(), &cfg);
            queues.push(q);
            starters.push(s);
        }
        use_informer!(nodes);
        use_informer!(leases);
    }
    if need_pods {
        use_informer!(pods);
    }
    if need_rs {
        use_informer!(replicasets);
    }
    if cfg.on("deployment") {
        use_informer!(deployments);
    }
    if cfg.on("job") || cfg.on("ttl-after-finished") || cfg.on("cronjob") {
        use_informer!(jobs);
    }
    if need_svc {
        use_informer!(services);
        use_informer!(endpointslices);
        use_informer!(endpoints);
    }
    if cfg.on("serviceaccount") {
        use_informer!(namespaces);
        use_informer!(serviceaccounts);
    }
    let gc = cfg
        .on("garbagecollector")
        .then(|| gc::GarbageCollector::new(shared.client.clone(), cfg.gc_workers));

    let start = async {
        futures::future::join_all(waits).await;
        for s in starters {
            tasks.extend(s());
        }
        if let Some(gc) = &gc {
            tasks.extend(gc.clone().start());
        }
        tracing::info!("controllers started");
        futures::future::pending::<()>().await;
    };
    tokio::select! {
        _ = shutdown => {}
        _ = start => {}
    }
    for q in queues {
        q.shut_down();
    }
    if let Some(gc) = &gc {
        gc.shut_down();
    }
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
}
