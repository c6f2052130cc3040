//! The `wharf` binary: parses the command line and wires the subsystems together. Nothing
//! else in the workspace knows about flags.

mod clusters;
mod nodegroups;
mod nodes;

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
    /// Most bytes of CloudWatch Logs event data kept in DATA/logs; the oldest segments go first.
    #[arg(long, env = "WHARF_LOGS_MAX_BYTES")]
    logs_max_bytes: Option<u64>,
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
    /// The VPC block the node instances and their pods get addresses from (as AWS's default VPC;
    /// one subnet per availability zone). Pick another block to run several `wharf up --nodes`.
    #[arg(long, env = "WHARF_VPC_CIDR", default_value = "172.31.0.0/16")]
    vpc_cidr: wharf_net::Ipv4Cidr,
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

/// The cluster DNS Service's address: the 10th of the service range (EKS: `10.100.0.10`).
fn cluster_dns_ip((net, _): ([u8; 4], u8)) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(u32::from_be_bytes(net) + 10)
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
    let iam = Arc::new(Iam::open(store.clone(), IamConfig { account_id: args.account_id.clone() }).await.context("opening the IAM account")?);
    // Registry access: ECR tokens judged by IAM, the local admin token still accepted.
    let registry_admin_token = registry_token(&registry_dir)?;
    let local = LocalAuthorizer::new(store.clone(), registry_admin_token.clone());
    let authorizer = Arc::new(wharf_ecr::RegistryAuthorizer::new(store.clone(), iam.clone(), &args.region, local));
    let registry = Arc::new(Registry::open(RegistryConfig::new(&registry_dir), store.clone(), authorizer.clone()).await.context("opening the registry")?);
    let (registry_stop, mut registry_stop_rx) = watch::channel(false);
    let mut ecr_stop_rx = registry_stop_rx.clone();
    let maintenance = tokio::spawn(registry.clone().maintain(Some(std::time::Duration::from_secs(3600)), async move {
        let _ = registry_stop_rx.wait_for(|s| *s).await;
    }));
    let controllers = ControllersConfig { node_monitor_grace_period: args.node_monitor_grace_period, ..ControllersConfig::default() };
    // EKS clusters: each its own control plane on the host of --listen (a free port).
    let host_ip = if args.listen.ip().is_unspecified() { std::net::IpAddr::from([127, 0, 0, 1]) } else { args.listen.ip() };
    let host = Arc::new(clusters::Host::new(
        store.clone(),
        clusters::HostConfig {
            data_dir: args.data_dir.clone(),
            ip: host_ip,
            compaction_interval: args.compaction_interval,
            controllers: controllers.clone(),
            instances: Some(nodegroups::InstancesConfig {
                data_dir: args.data_dir.clone(),
                tag: nodes::data_dir_tag(&args.data_dir),
                vpc_cidr: args.vpc_cidr,
                insecure_registries: args.insecure_registries.clone(),
                owns_vpc: args.nodes == 0,
            }),
        },
    ));
    let mut eks_config = wharf_eks::EksConfig::new(&args.region, &format!("https://{}/eks-oidc", args.listen));
    eks_config.reserved_names = vec!["default".into()];
    // The EC2 records of the default VPC are the addresses the node instances really use.
    let vpc_cidr = args.vpc_cidr.to_string().parse().map_err(|e| anyhow::anyhow!("--vpc-cidr: {e}"))?;
    let ec2 = Arc::new(wharf_ec2::Ec2::new(store.clone(), wharf_ec2::Ec2Config { default_vpc_cidr: vpc_cidr }).context("configuring EC2")?);
    ec2.ensure_region(iam.account_id(), &args.region).await.context("creating the default VPC")?;
    let network = clusters::Ec2Network { ec2: ec2.clone(), account: iam.account_id().to_string(), region: args.region.clone() };
    let eks = wharf_eks::Eks::new(iam.clone(), store.clone(), host.clone(), Arc::new(network), eks_config);
    let logs_config = wharf_cloudwatch::LogsConfig {
        max_total_bytes: args.logs_max_bytes,
        ..wharf_cloudwatch::LogsConfig::new(args.data_dir.join("logs"), iam.account_id(), &args.region)
    };
    let logs = Arc::new(wharf_cloudwatch::Logs::open(store.clone(), logs_config).context("opening CloudWatch Logs")?);
    let mut logs_stop = registry_stop.subscribe();
    let logs_maintenance = tokio::spawn(logs.clone().run_maintenance(std::time::Duration::from_secs(600), async move {
        let _ = logs_stop.wait_for(|s| *s).await;
    }));
    let ecr = Arc::new(wharf_ecr::Ecr::new(registry.clone(), authorizer, store.clone()));
    let ecr_lifecycle = tokio::spawn(ecr.clone().run_lifecycle(std::time::Duration::from_secs(3600), async move {
        let _ = ecr_stop_rx.wait_for(|s| *s).await;
    }));
    let front_door = Arc::new(
        wharf_iam::front_door(iam.clone(), &args.region)
            .register(ecr.clone())
            .register(ec2.clone())
            .register(Arc::new(eks.service()))
            .register(Arc::new(wharf_cloudwatch::LogsService::new(logs))),
    );
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
    ecr.set_registry_endpoint(&cp.endpoint());
    let own_registry = nodes::OwnRegistry {
        host: cp.endpoint().trim_start_matches("https://").to_string(),
        ca_pem: cp.ca_pem.clone(),
        credentials: wharf_image::Credentials { username: "AWS".into(), password: registry_admin_token },
    };
    host.set_registry(own_registry.clone());
    let sim = (args.simulated_nodes > 0).then(|| SimConfig {
        cpu: args.simulated_node_cpu.clone(),
        memory: args.simulated_node_memory.clone(),
        pods: args.simulated_node_pods,
        heartbeat: args.simulated_node_heartbeat,
        ..SimConfig::new(args.simulated_nodes)
    });
    let nodes = nodes::LocalNodes::create(nodes::NodesPlan {
        cp: &cp,
        data_dir: &args.data_dir,
        count: args.nodes,
        vpc_cidr: args.vpc_cidr,
        region: &args.region,
        insecure_registries: &args.insecure_registries,
        registry: own_registry.clone(),
    })?;
    let service_cidr = parse_cidr(&args.service_cidr)?;
    let dns_ip = cluster_dns_ip(service_cidr);
    let (net_stop, net_stop_rx) = watch::channel(false);
    let proxies = nodes.start_proxies(&cp, &nodes::data_dir_tag(&args.data_dir), &net_stop_rx);
    let dns = nodes.start_dns(&cp, dns_ip, net_stop_rx).await?;
    let components = Components::start(&cp, controllers, sim, nodes.agents.clone());
    let kubeconfig = args.data_dir.join("kubeconfig");
    wharf_apiserver::pki::write_secret_file(&kubeconfig, &cp.kubeconfig()).context("writing kubeconfig")?;
    let aws_env = args.data_dir.join("aws.env");
    let ca = args.data_dir.join("clusters").join("default").join("pki").join("ca.crt");
    wharf_iam::write_aws_env(&aws_env, &cp.endpoint(), &args.region, iam.admin_credentials(), Some(&ca)).context("writing aws.env")?;
    eks.set_oidc_base(&format!("{}/eks-oidc", cp.endpoint()));
    eks.resume().await.context("resuming EKS clusters")?;
    println!("wharf ready: cluster default at {} (kubeconfig: {}, AWS: {})", cp.endpoint(), kubeconfig.display(), aws_env.display());

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    host.shutdown().await;
    components.shutdown().await;
    let _ = net_stop.send(true);
    for task in dns.into_iter().chain(proxies) {
        let _ = task.await;
    }
    nodes.destroy();
    cp.shutdown().await;
    let _ = registry_stop.send(true);
    let _ = maintenance.await;
    let _ = logs_maintenance.await;
    let _ = ecr_lifecycle.await;
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
