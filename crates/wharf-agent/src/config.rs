//! The agent's configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wharf_container::{Resources, RuntimeKind, ShimCommand};

/// How one node agent runs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The Node's name.
    pub node_name: String,
    /// State directory (pods, shims, sandboxes, images, runtime state).
    pub root_dir: PathBuf,
    /// CRI log root: `<log_dir>/<namespace>_<pod>_<uid>/<container>/<restartCount>.log`.
    pub log_dir: PathBuf,
    /// Parent cgroup of all the node's pods (e.g. `/wharf/<node>`).
    pub cgroup_parent: String,
    /// CPU budget in millicores (capacity and the parent cgroup's quota).
    pub cpu_milli: u64,
    /// Memory budget in bytes (capacity and the parent cgroup's limit).
    pub memory_bytes: u64,
    /// Pod slots.
    pub max_pods: u32,
    /// Ephemeral storage reported as capacity, in bytes.
    pub ephemeral_storage_bytes: u64,
    /// Extra node labels (zone, region, instance type...).
    pub labels: BTreeMap<String, String>,
    /// `status.daemonEndpoints.kubeletEndpoint.Port`; the kubelet API listens there on `node_ip`
    /// when `serving_cert` is set (0: any free port, which the Node then advertises).
    pub kubelet_port: u16,
    /// The kubelet API's serving certificate and key (PEM), issued for `node_ip` by the cluster
    /// CA; `None`: the agent serves no kubelet API.
    pub serving_cert: Option<(String, String)>,
    /// The CA (PEM) the API server's kubelet-client certificate is verified against.
    pub client_ca_pem: Option<String>,
    /// Cluster DNS server addresses written to pods' `/etc/resolv.conf` (`dnsPolicy: ClusterFirst`).
    pub cluster_dns: Vec<String>,
    /// Cluster domain (`cluster.local`).
    pub cluster_domain: String,
    /// The node's resolver configuration, for `dnsPolicy: Default`.
    pub host_resolv_conf: PathBuf,
    /// The node's InternalIP (also each pod's `hostIP`).
    pub node_ip: String,
    /// The node instance's network namespace, where `node_ip` lives and the kubelet API
    /// listens (`None`: the agent's own namespace).
    pub netns: Option<PathBuf>,
    /// OCI runtime.
    pub runtime: RuntimeKind,
    /// How to re-execute the shim (`wharf shim`).
    pub shim: ShimCommand,
    /// Registries spoken to over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Extra CA certificates (PEM) trusted for registries (e.g. the cluster CA of Wharf's own
    /// registry).
    pub registry_ca_pem: Vec<Vec<u8>>,
    /// Credentials the node itself holds per registry key (`host:port`), tried after the pod's
    /// `imagePullSecrets` — the kubelet credential provider's role (on EKS: the node role's
    /// ECR access).
    pub node_credentials: Vec<(String, wharf_image::Credentials)>,
    /// When the agent stops, stop every container of the node too (otherwise they keep running
    /// and a restarted agent re-adopts them).
    pub stop_pods_on_shutdown: bool,
    /// Lease renewal interval (kubelet: 10 s).
    pub heartbeat: Duration,
    /// Node status update interval.
    pub status_interval: Duration,
    /// The pod network (CNI role): pods get an address from it. `None`: pods keep a sandbox
    /// network namespace with loopback only and report no IP.
    pub network: Option<PodNetworkHandle>,
    /// CRI log rotation: bytes per file and files kept.
    pub log_max_size: u64,
    /// See `log_max_size`.
    pub log_max_files: u32,
}

impl AgentConfig {
    /// A config for node `node_name` with state under `root_dir`, the whole machine as budget.
    pub fn new(node_name: impl Into<String>, root_dir: impl Into<PathBuf>, shim: ShimCommand) -> Self {
        let node_name = node_name.into();
        let root_dir = root_dir.into();
        let cpus = std::thread::available_parallelism().map(|n| n.get() as u64).unwrap_or(1);
        AgentConfig {
            log_dir: root_dir.join("logs"),
            cgroup_parent: format!("/wharf/{node_name}"),
            node_name,
            root_dir,
            cpu_milli: cpus * 1000,
            memory_bytes: host_memory().unwrap_or(1 << 30),
            max_pods: 110,
            ephemeral_storage_bytes: 20 << 30,
            labels: BTreeMap::new(),
            kubelet_port: 10250,
            serving_cert: None,
            client_ca_pem: None,
            cluster_dns: vec!["10.100.0.10".into()],
            cluster_domain: "cluster.local".into(),
            host_resolv_conf: PathBuf::from("/etc/resolv.conf"),
            node_ip: "127.0.0.1".into(),
            netns: None,
            runtime: RuntimeKind::Libcontainer,
            shim,
            insecure_registries: Vec::new(),
            registry_ca_pem: Vec::new(),
            node_credentials: Vec::new(),
            stop_pods_on_shutdown: false,
            heartbeat: Duration::from_secs(10),
            status_interval: Duration::from_secs(60),
            network: None,
            log_max_size: 10 << 20,
            log_max_files: 5,
        }
    }

    /// The parent cgroup's limits: the node's CPU and memory budget.
    pub fn cgroup_budget(&self) -> Resources {
        Resources {
            cpu_quota: Some((self.cpu_milli * 100) as i64),
            cpu_period: Some(100_000),
            memory_limit: Some(self.memory_bytes as i64),
            ..Resources::default()
        }
    }
}

/// The pod network an agent wires its sandboxes into.
#[derive(Clone)]
pub struct PodNetworkHandle(pub Arc<dyn wharf_net::PodNetworking>);

impl std::fmt::Debug for PodNetworkHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PodNetworkHandle")
    }
}

/// Total memory of this machine (`MemTotal`).
pub fn host_memory() -> Option<u64> {
    meminfo("MemTotal:")
}

pub(crate) fn meminfo(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
