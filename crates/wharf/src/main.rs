//! The `wharf` binary: parses the command line and wires the subsystems together. Nothing
//! else in the workspace knows about flags.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use http_body_util::{BodyExt, Full};
use std::future::Future;
use std::pin::Pin;
use wharf_apiserver::auth::UserInfo;
use wharf_apiserver::http::{Body, RequestBody};
use wharf_apiserver::mount::{Mount, SyncBody};
use wharf_iam::{Iam, IamConfig};
use wharf_registry::{LocalAuthorizer, Registry, RegistryConfig};
use wharf_apiserver::{ControlPlane, ControlPlaneConfig};
use wharf_client::{LeaderElection, LeaderElectionConfig};
use wharf_controllers::ControllersConfig;
use wharf_scheduler::runner::SchedulerConfig;
use wharf_simnodes::SimConfig;
use wharf_store::{sqlite::SqliteStore, KvStore, Prefixed};

/// Wharf: a self-hosted, EKS-compatible managed Kubernetes service.
#[derive(Parser)]
#[command(name = "wharf", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything on this machine: the control plane of cluster `default` on the embedded datastore.
    Up(UpArgs),
}

#[derive(clap::Args)]
struct UpArgs {
    /// Directory for all state (datastore, certificates, kubeconfig).
    #[arg(long, env = "WHARF_DATA_DIR", default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    /// Address of the Kubernetes API endpoint of cluster `default`.
    #[arg(long, env = "WHARF_LISTEN", default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Service cluster IP range.
    #[arg(long, default_value = "10.100.0.0/16")]
    service_cidr: String,
    /// How often datastore history is compacted (e.g. 5m, 30s).
    #[arg(long, env = "WHARF_COMPACTION_INTERVAL", default_value = "5m", value_parser = humantime::parse_duration)]
    compaction_interval: std::time::Duration,
    /// AWS region of the endpoint.
    #[arg(long, env = "WHARF_REGION", default_value = "us-east-1")]
    region: String,
    /// The AWS account id (12 digits) created on first start; random when not given.
    #[arg(long, env = "WHARF_ACCOUNT_ID")]
    account_id: Option<String>,
    /// Register this many simulated nodes (kwok-style: pods on them run without containers).
    #[arg(long, default_value_t = 0)]
    simulated_nodes: usize,
    /// CPU capacity of each simulated node.
    #[arg(long, default_value = "32")]
    simulated_node_cpu: String,
    /// Memory capacity of each simulated node.
    #[arg(long, default_value = "128Gi")]
    simulated_node_memory: String,
    /// Pod capacity of each simulated node.
    #[arg(long, default_value_t = 110)]
    simulated_node_pods: u32,
    /// How often simulated nodes renew their Leases (kubelet: 10 s).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    simulated_node_heartbeat: std::time::Duration,
    /// How long a node may miss heartbeats before it is marked unreachable (kube-controller-manager's --node-monitor-grace-period).
    #[arg(long, default_value = "40s", value_parser = humantime::parse_duration)]
    node_monitor_grace_period: std::time::Duration,
    /// Run this many real node agents (kubelets) on this machine; needs root.
    #[arg(long, default_value_t = 0)]
    nodes: usize,
    /// A registry (`host:port`) the node agents pull from over plain HTTP (repeatable).
    #[arg(long = "insecure-registry")]
    insecure_registries: Vec<String>,
}

/// The in-cluster components of one control plane (scheduler, controller manager, simulated
/// nodes), each singleton behind its own leader-election Lease, as on a replicated control
/// plane.
struct Components {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Components {
    fn start(cp: &ControlPlane, controllers: ControllersConfig, sim: Option<SimConfig>, agents: Vec<wharf_agent::AgentConfig>) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let identity = format!("wharf-{}", std::process::id());
        let scheduler = cp.client(UserInfo::new("system:kube-scheduler", &[]));
        let election = LeaderElection::new(scheduler.clone(), LeaderElectionConfig::new("kube-scheduler", &identity));
        let cfg = SchedulerConfig { instance: identity.clone(), ..SchedulerConfig::default() };
        tasks.spawn(election.run(stop_rx.clone(), move |lost| wharf_scheduler::runner::run(scheduler.clone(), cfg.clone(), lost)));
        let manager = cp.client(UserInfo::new("system:kube-controller-manager", &[]));
        let election = LeaderElection::new(manager.clone(), LeaderElectionConfig::new("kube-controller-manager", &identity));
        tasks.spawn(election.run(stop_rx.clone(), move |mut lost| {
            let (manager, cfg) = (manager.clone(), controllers.clone());
            async move {
                wharf_controllers::run(manager, cfg, async move {
                    let _ = lost.wait_for(|l| *l).await;
                })
                .await
            }
        }));
        if let Some(sim) = sim {
            let nodes = cp.client(UserInfo::new("system:node:wharf-simulated", &["system:nodes"]));
            let rx = stop_rx.clone();
            tasks.spawn(async move {
                if let Err(e) = wharf_simnodes::run(nodes, sim, rx).await {
                    tracing::error!(error = %e, "simulated nodes failed");
                }
            });
        }
        for cfg in agents {
            let node = cfg.node_name.clone();
            let client = cp.client(UserInfo::new(&format!("system:node:{node}"), &["system:nodes"]));
            let rx = stop_rx.clone();
            tasks.spawn(async move {
                if let Err(e) = wharf_agent::run(client, cfg, rx).await {
                    tracing::error!(node, error = %e, "node agent failed");
                }
            });
        }
        Self { stop, tasks }
    }

    async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let ended = async { while self.tasks.join_next().await.is_some() {} };
        // Node agents stop their pods' containers (up to 10 s of grace each).
        if tokio::time::timeout(std::time::Duration::from_secs(20), ended).await.is_err() {
            self.tasks.abort_all();
        }
    }
}

fn default_data_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".wharf"),
        None => PathBuf::from(".wharf"),
    }
}

fn parse_cidr(s: &str) -> Result<([u8; 4], u8)> {
    let (ip, bits) = s.split_once('/').context("CIDR must look like 10.100.0.0/16")?;
    let ip: std::net::Ipv4Addr = ip.parse().with_context(|| format!("invalid address in {s}"))?;
    let bits: u8 = bits.parse().with_context(|| format!("invalid prefix length in {s}"))?;
    anyhow::ensure!((8..=30).contains(&bits), "service CIDR prefix must be between /8 and /30: {s}");
    Ok((ip.octets(), bits))
}

/// The OCI registry mounted under `/v2/` on the main listener.
struct RegistryMount(Arc<Registry>);

impl Mount for RegistryMount {
    fn claims(&self, head: &http::request::Parts) -> bool {
        let p = head.uri.path();
        p == "/v2" || p.starts_with("/v2/")
    }

    fn serve(&self, req: http::Request<RequestBody>) -> Pin<Box<dyn Future<Output = http::Response<Body>> + Send + 'static>> {
        let registry = self.0.clone();
        Box::pin(async move { registry.handle(req.map(SyncBody::new)).await })
    }
}

/// The AWS front door (IAM, STS, and the services registered on it): requests that are
/// AWS-shaped (SigV4, `X-Amz-Target`, form `Action`) on the main listener.
struct AwsMount(Arc<wharf_aws::FrontDoor>);

impl Mount for AwsMount {
    fn claims(&self, head: &http::request::Parts) -> bool {
        wharf_aws::is_aws_request(head)
    }

    fn serve(&self, req: http::Request<RequestBody>) -> Pin<Box<dyn Future<Output = http::Response<Body>> + Send + 'static>> {
        let front = self.0.clone();
        Box::pin(async move {
            let (parts, mut body) = req.into_parts();
            // AWS request bodies are small (API calls, not blobs): read them whole.
            let mut buf = Vec::new();
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(f) => {
                        if let Ok(data) = f.into_data() {
                            buf.extend_from_slice(&data);
                        }
                    }
                    Err(_) => break,
                }
                if buf.len() > MAX_AWS_REQUEST_BYTES {
                    break;
                }
            }
            let request_id = uuid::Uuid::new_v4().to_string();
            front.handle_bytes(&parts, buf.into(), request_id).await.map(|b| Full::new(b).boxed())
        })
    }
}

/// Largest AWS request body read (ECR's PutImage manifests are at most 4 MiB).
const MAX_AWS_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// The registry's admin credential (password for user `AWS`), created on first start.
fn registry_token(dir: &std::path::Path) -> Result<String> {
    let path = dir.join("admin.token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        if !t.trim().is_empty() {
            return Ok(t.trim().to_string());
        }
    }
    let t = LocalAuthorizer::generate_token();
    wharf_apiserver::pki::write_secret_file(&path, &t).context("writing the registry token")?;
    Ok(t)
}

async fn up(args: UpArgs) -> Result<()> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let store: Arc<dyn KvStore> = Arc::new(SqliteStore::open(&args.data_dir.join("store")).context("opening the datastore")?);
    let registry_dir = args.data_dir.join("registry");
    std::fs::create_dir_all(&registry_dir).with_context(|| format!("creating {}", registry_dir.display()))?;
    let authorizer = Arc::new(LocalAuthorizer::new(store.clone(), registry_token(&registry_dir)?));
    let registry = Arc::new(Registry::open(RegistryConfig::new(&registry_dir), store.clone(), authorizer).await.context("opening the registry")?);
    let (registry_stop, mut registry_stop_rx) = watch::channel(false);
    let maintenance = tokio::spawn(registry.clone().maintain(Some(std::time::Duration::from_secs(3600)), async move {
        let _ = registry_stop_rx.wait_for(|s| *s).await;
    }));
    let iam = Arc::new(Iam::open(store.clone(), IamConfig { account_id: args.account_id.clone() }).await.context("opening the IAM account")?);
    let front_door = Arc::new(wharf_iam::front_door(iam.clone(), &args.region));
    let cluster_store: Arc<dyn KvStore> = Arc::new(Prefixed::new(store, "/clusters/default"));
    let cp = ControlPlane::start(ControlPlaneConfig {
        name: "default".into(),
        state_dir: args.data_dir.join("clusters").join("default"),
        listen: args.listen,
        store: cluster_store,
        service_cidr: parse_cidr(&args.service_cidr)?,
        compaction_interval: args.compaction_interval,
        mounts: vec![Arc::new(AwsMount(front_door)), Arc::new(RegistryMount(registry.clone()))],
    })
    .await
    .context("starting the control plane of cluster default")?;
    let sim = (args.simulated_nodes > 0).then(|| SimConfig {
        cpu: args.simulated_node_cpu.clone(),
        memory: args.simulated_node_memory.clone(),
        pods: args.simulated_node_pods,
        heartbeat: args.simulated_node_heartbeat,
        ..SimConfig::new(args.simulated_nodes)
    });
    let mut agents = Vec::new();
    if args.nodes > 0 {
        let exe = std::env::current_exe().context("locating the wharf binary for shims")?;
        for i in 0..args.nodes {
            let name = format!("wharf-node-{i}");
            let mut cfg = wharf_agent::AgentConfig::new(&name, args.data_dir.join("nodes").join(&name), wharf_container::ShimCommand::new(&exe, &["shim"]));
            cfg.insecure_registries = args.insecure_registries.clone();
            cfg.stop_pods_on_shutdown = true;
            // One cgroup subtree per data directory, so several `wharf up` can share a machine.
            let tag = {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                args.data_dir.hash(&mut h);
                h.finish() & 0xffff_ffff
            };
            cfg.cgroup_parent = format!("/wharf/{name}-{tag:08x}");
            cfg.labels.insert("topology.kubernetes.io/zone".into(), "local-a".into());
            cfg.labels.insert("node.kubernetes.io/instance-type".into(), "wharf.local".into());
            // The kubelet API: a serving cert from the cluster CA, any free port (agents share 127.0.0.1).
            let node_ip: std::net::IpAddr = cfg.node_ip.parse().context("node ip")?;
            let serving = cp.issue_kubelet_serving_cert(&[name.clone()], &[node_ip]).context("issuing a kubelet serving certificate")?;
            cfg.serving_cert = Some((serving.cert_pem, serving.key_pem));
            cfg.client_ca_pem = Some(cp.ca_pem.clone());
            cfg.kubelet_port = 0;
            agents.push(cfg);
        }
    }
    let controllers = ControllersConfig { node_monitor_grace_period: args.node_monitor_grace_period, ..ControllersConfig::default() };
    let components = Components::start(&cp, controllers, sim, agents);
    let kubeconfig = args.data_dir.join("kubeconfig");
    wharf_apiserver::pki::write_secret_file(&kubeconfig, &cp.kubeconfig()).context("writing kubeconfig")?;
    let aws_env = args.data_dir.join("aws.env");
    let ca = args.data_dir.join("clusters").join("default").join("pki").join("ca.crt");
    wharf_iam::write_aws_env(&aws_env, &cp.endpoint(), &args.region, iam.admin_credentials(), Some(&ca)).context("writing aws.env")?;
    println!("wharf ready: cluster default at {} (kubeconfig: {}, AWS: {})", cp.endpoint(), kubeconfig.display(), aws_env.display());

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    components.shutdown().await;
    cp.shutdown().await;
    let _ = registry_stop.send(true);
    let _ = maintenance.await;
    Ok(())
}

fn main() -> Result<()> {
    // `wharf shim ...`: the per-container shim re-executed by node agents (hidden, single-threaded:
    // it must run before any runtime thread exists).
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("shim") {
        wharf_container::shim_main(argv[2..].to_vec());
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("WHARF_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Up(args) => rt.block_on(up(args)),
    }
}
