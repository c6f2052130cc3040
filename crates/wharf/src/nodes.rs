//! The real node agents of `wharf up --nodes N` and their VPC: one bridge on the host for the
//! VPC, one instance (network namespace with its own VPC address, in an availability zone's
//! subnet) per agent, pods wired into their instance's pod range.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use wharf_agent::{AgentConfig, PodNetworkHandle};
use wharf_net::{Ipv4Cidr, Vpc, VpcConfig};

/// Availability-zone suffixes, in the order `wharf_net::plan_instance` assigns zones.
const ZONE_SUFFIXES: [char; 3] = ['a', 'b', 'c'];

/// The machine's node agents and the network they live in.
pub struct LocalNodes {
    /// One configuration per agent, ready for `wharf_agent::run`.
    pub agents: Vec<AgentConfig>,
    vpc: Option<Vpc>,
    /// Each agent's instance: node name, address, network namespace.
    instances: Vec<(String, std::net::Ipv4Addr, std::path::PathBuf)>,
}

/// Wharf's own registry as node agents see it: its `host:port` (the main listener), the CA its
/// certificate chains to, and the credential nodes pull with (EKS nodes pull from ECR with
/// their node role).
#[derive(Clone)]
pub struct OwnRegistry {
    pub host: String,
    pub ca_pem: String,
    pub credentials: wharf_image::Credentials,
}

/// Points an agent at its instance: the node's address and pod network, the kubelet API inside
/// the instance on :10250 (as on EKS) with a serving certificate from the cluster's CA (the API
/// server's kubelet client is its only caller), and pulls from Wharf's registry.
pub fn wire_agent(cfg: &mut AgentConfig, cp: &wharf_apiserver::ControlPlane, instance: &wharf_net::Instance, registry: Option<&OwnRegistry>) -> Result<()> {
    cfg.node_ip = instance.address().to_string();
    cfg.network = Some(PodNetworkHandle(Arc::new(instance.pods().clone())));
    cfg.netns = Some(instance.netns_path().to_path_buf());
    let serving = cp
        .issue_kubelet_serving_cert(&[cfg.node_name.clone()], &[std::net::IpAddr::V4(instance.address())])
        .context("issuing a kubelet serving certificate")?;
    cfg.serving_cert = Some((serving.cert_pem, serving.key_pem));
    cfg.client_ca_pem = Some(cp.ca_pem.clone());
    cfg.kubelet_port = 10250;
    if let Some(r) = registry {
        cfg.registry_ca_pem.push(r.ca_pem.clone().into_bytes());
        cfg.node_credentials.push((r.host.clone(), r.credentials.clone()));
    }
    Ok(())
}

/// What the local nodes need from `wharf up`.
pub struct NodesPlan<'a> {
    /// The cluster they join (kubelet serving certificates, Wharf's registry address and CA).
    pub cp: &'a wharf_apiserver::ControlPlane,
    pub data_dir: &'a Path,
    pub count: usize,
    pub vpc_cidr: Ipv4Cidr,
    pub region: &'a str,
    pub insecure_registries: &'a [String],
    /// Wharf's own registry.
    pub registry: OwnRegistry,
}

/// A short tag unique to a data directory, so several `wharf up` on one machine name their
/// cgroups, bridges and links apart.
pub fn data_dir_tag(data_dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data_dir.hash(&mut h);
    format!("{:08x}", h.finish() & 0xffff_ffff)
}

impl LocalNodes {
    /// Creates (or re-adopts after a restart) the VPC and one instance per node, and the agents'
    /// configurations. Nothing is created when `count` is 0.
    pub fn create(plan: NodesPlan<'_>) -> Result<LocalNodes> {
        let mut nodes = LocalNodes { agents: Vec::new(), vpc: None, instances: Vec::new() };
        if plan.count == 0 {
            return Ok(nodes);
        }
        let exe = std::env::current_exe().context("locating the wharf binary for shims")?;
        let tag = data_dir_tag(plan.data_dir);
        let vpc = Vpc::create(VpcConfig { tag: tag.clone(), cidr: plan.vpc_cidr, state_dir: plan.data_dir.join("vpc") })
            .with_context(|| format!("creating the VPC {}", plan.vpc_cidr))?;
        nodes.vpc = Some(vpc.clone());
        for i in 0..plan.count {
            let name = format!("wharf-node-{i}");
            let instance = vpc
                .plan_instance(i as u64, &name)
                .and_then(|c| vpc.instance(c))
                .with_context(|| format!("creating the instance of {name}"))?;
            let mut cfg = AgentConfig::new(&name, plan.data_dir.join("nodes").join(&name), wharf_container::ShimCommand::new(&exe, &["shim"]));
            cfg.insecure_registries = plan.insecure_registries.to_vec();
            cfg.stop_pods_on_shutdown = true;
            cfg.cgroup_parent = format!("/wharf/{name}-{tag}");
            wire_agent(&mut cfg, plan.cp, &instance, Some(&plan.registry))?;
            let zone = ZONE_SUFFIXES[instance.config().zone % ZONE_SUFFIXES.len()];
            cfg.labels.insert("topology.kubernetes.io/region".into(), plan.region.to_string());
            cfg.labels.insert("topology.kubernetes.io/zone".into(), format!("{}{zone}", plan.region));
            cfg.labels.insert("node.kubernetes.io/instance-type".into(), "wharf.local".into());
            nodes.agents.push(cfg);
            nodes.instances.push((name, instance.address(), instance.netns_path().to_path_buf()));
        }
        Ok(nodes)
    }

    /// The VPC router address (on the host), where cluster services for pods listen.
    pub fn router(&self) -> Option<std::net::Ipv4Addr> {
        self.vpc.as_ref().map(|v| v.router())
    }

    /// Starts cluster DNS for the pods: a server on the VPC router address (port 53, UDP and
    /// TCP) answering from the cluster's Services, EndpointSlices and Pods and forwarding the rest
    /// to the host's resolvers, behind the selector-less Service `kube-system/kube-dns` at
    /// `dns_ip`. Nothing to do without a VPC.
    pub async fn start_dns(&self, cp: &wharf_apiserver::ControlPlane, dns_ip: std::net::Ipv4Addr, stop: tokio::sync::watch::Receiver<bool>) -> Result<Option<tokio::task::JoinHandle<()>>> {
        use wharf_apiserver::auth::UserInfo;
        let Some(router) = self.router() else { return Ok(None) };
        let admin = cp.client(UserInfo::new("kubernetes-admin", &["system:masters"]));
        let service = wharf_dns::KubeDnsService { cluster_ip: dns_ip.into(), endpoints: vec![router.into()], port: 53 };
        wharf_dns::ensure_kube_dns_service(admin, &service).await.context("creating the kube-dns Service")?;
        let addr = std::net::SocketAddr::from((router, 53));
        let udp = tokio::net::UdpSocket::bind(addr).await.with_context(|| format!("binding cluster DNS on udp {addr}"))?;
        let tcp = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding cluster DNS on tcp {addr}"))?;
        let cfg = wharf_dns::DnsConfig::from_host().context("reading the host's resolvers")?;
        let client = cp.client(UserInfo::new(wharf_dns::DNS_USER, &["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]));
        Ok(Some(tokio::spawn(async move {
            let mut stop = stop;
            if let Err(e) = wharf_dns::run(client, cfg, (udp, tcp), async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
            {
                tracing::error!(error = %e, "cluster DNS failed");
            }
        })))
    }

    /// Starts the Service proxy (kube-proxy role, nftables) inside every instance, and the
    /// LoadBalancer implementation (node addresses published in Service status, servicelb style).
    pub fn start_proxies(&self, cp: &wharf_apiserver::ControlPlane, tag: &str, stop: &tokio::sync::watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
        use wharf_apiserver::auth::UserInfo;
        let Some(vpc) = &self.vpc else { return Vec::new() };
        let cidr = vpc.cidr();
        let mut tasks = Vec::new();
        for (name, ip, netns) in &self.instances {
            let client = cp.client(UserInfo::new("system:kube-proxy", &[]));
            let cfg = wharf_proxy::ProxyConfig {
                netns: Some(netns.clone()),
                cluster_cidr: Some((cidr.network(), cidr.prefix())),
                ..wharf_proxy::ProxyConfig::new(name, vec![*ip], tag)
            };
            let (stop, node) = (stop.clone(), name.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = wharf_proxy::run(client, cfg, stop).await {
                    tracing::error!(node, error = %e, "service proxy failed");
                }
            }));
        }
        let client = cp.client(UserInfo::new("system:wharf-servicelb", &[]));
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = wharf_proxy::run_lb(client, wharf_proxy::LbConfig::default(), stop).await {
                tracing::error!(error = %e, "servicelb failed");
            }
        }));
        tasks
    }

    /// Removes the VPC with its instances; call after the agents have stopped their pods.
    pub fn destroy(self) {
        if let Some(vpc) = self.vpc {
            if let Err(e) = vpc.destroy() {
                tracing::warn!(error = %e, "removing the VPC");
            }
        }
    }
}
