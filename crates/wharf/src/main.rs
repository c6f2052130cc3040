//! The `wharf` binary: parses the command line and wires the subsystems together. Nothing
//! else in the workspace knows about flags.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use wharf_apiserver::auth::UserInfo;
use wharf_apiserver::{ControlPlane, ControlPlaneConfig};
use wharf_client::{LeaderElection, LeaderElectionConfig};
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
    /// Run this many real node agents (kubelets) on this machine; needs root.
    #[arg(long, default_value_t = 0)]
    nodes: usize,
    /// A registry (`host:port`) the node agents pull from over plain HTTP (repeatable).
    #[arg(long = "insecure-registry")]
    insecure_registries: Vec<String>,
}

/// The in-cluster components of one control plane (scheduler, simulated nodes), each
/// singleton behind its own leader-election Lease, as on a replicated control plane.
struct Components {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Components {
    fn start(cp: &ControlPlane, sim: Option<SimConfig>, agents: Vec<wharf_agent::AgentConfig>) -> Self {
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let identity = format!("wharf-{}", std::process::id());
        let scheduler = cp.client(UserInfo::new("system:kube-scheduler", &[]));
        let election = LeaderElection::new(scheduler.clone(), LeaderElectionConfig::new("kube-scheduler", &identity));
        let cfg = SchedulerConfig { instance: identity.clone(), ..SchedulerConfig::default() };
        tasks.spawn(election.run(stop_rx.clone(), move |lost| wharf_scheduler::runner::run(scheduler.clone(), cfg.clone(), lost)));
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

async fn up(args: UpArgs) -> Result<()> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let store: Arc<dyn KvStore> = Arc::new(SqliteStore::open(&args.data_dir.join("store")).context("opening the datastore")?);
    let cluster_store: Arc<dyn KvStore> = Arc::new(Prefixed::new(store, "/clusters/default"));
    let cp = ControlPlane::start(ControlPlaneConfig {
        name: "default".into(),
        state_dir: args.data_dir.join("clusters").join("default"),
        listen: args.listen,
        store: cluster_store,
        service_cidr: parse_cidr(&args.service_cidr)?,
        compaction_interval: args.compaction_interval,
        mounts: Vec::new(),
    })
    .await
    .context("starting the control plane of cluster default")?;
    let sim = (args.simulated_nodes > 0).then(|| SimConfig {
        cpu: args.simulated_node_cpu.clone(),
        memory: args.simulated_node_memory.clone(),
        pods: args.simulated_node_pods,
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
            agents.push(cfg);
        }
    }
    let components = Components::start(&cp, sim, agents);
    let kubeconfig = args.data_dir.join("kubeconfig");
    wharf_apiserver::pki::write_secret_file(&kubeconfig, &cp.kubeconfig()).context("writing kubeconfig")?;
    println!("wharf ready: cluster default at {} (kubeconfig: {})", cp.endpoint(), kubeconfig.display());

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    components.shutdown().await;
    cp.shutdown().await;
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
