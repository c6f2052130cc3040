//! EKS managed node groups as real node agents: [`NodegroupRunner`] gives each node group
//! `desiredSize` instances (a `wharf_net::Instance` in the shared VPC, in the zone subnet of
//! the node group's subnets, round-robin), each running a node agent of its cluster (client
//! `system:node:<name>`, capacity from the instance type, EKS's labels and the group's taints)
//! and a Service proxy inside the instance. Scale-in cordons the node, evicts its pods through
//! the eviction API (so PodDisruptionBudgets hold), then stops the agent and removes the
//! instance and the Node.
//!
//! Instance indices (which fix the address, `ip-a-b-c-d.<region>.compute.internal`, and pod
//! range) are kept in `DIR/nodegroups/instances.json` so a restart re-creates the same nodes;
//! they are taken from the top of `wharf_net::plan_instance`'s range down, away from the
//! `wharf up --nodes` instances (indices `0..N`).

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wharf_agent::AgentConfig;
use wharf_apiserver::auth::UserInfo;
use wharf_apiserver::ControlPlane;
use wharf_eks::nodegroup::{NodegroupNodes, NodegroupSpec, SubnetInfo};
use wharf_eks::HostError;
use wharf_net::{Instance, Ipv4Cidr, Vpc, VpcConfig};

/// Availability zones of a VPC, as `wharf_net::plan_instance` spreads them.
const ZONES: u64 = 3;
/// Instances per VPC `wharf_net::plan_instance` can place (15 per zone, three zones).
const PLANNABLE: u64 = 45;
/// How long a node group waits for its nodes to be Ready.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a drain retries evictions refused by a PodDisruptionBudget.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// The user the runner manages Nodes and evictions as.
const MANAGER: &str = "system:wharf-eks-nodegroups";

/// Where node group instances live.
#[derive(Clone)]
pub struct InstancesConfig {
    /// `DIR`: agents under `DIR/nodes/<name>`, the allocation book under `DIR/nodegroups`.
    pub data_dir: PathBuf,
    /// The VPC tag (shared with `wharf up --nodes`).
    pub tag: String,
    /// The VPC block.
    pub vpc_cidr: Ipv4Cidr,
    /// Registries the agents pull from over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Whether the runner removes the VPC on shutdown (when `wharf up --nodes` made none).
    pub owns_vpc: bool,
}

struct Node {
    name: String,
    index: u64,
    instance: Option<Instance>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

#[derive(Default)]
struct Group {
    nodes: Vec<Node>,
    /// Label keys and taint keys applied last time (to remove the ones dropped).
    labels: Vec<String>,
    taints: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Slot {
    group: String,
    name: String,
}

/// Runs node group instances on this machine.
pub struct NodegroupRunner {
    cfg: InstancesConfig,
    /// Wharf's registry, known once the main listener serves (see [`NodegroupRunner::set_registry`]).
    registry: std::sync::OnceLock<crate::nodes::OwnRegistry>,
    vpc: std::sync::Mutex<Option<Vpc>>,
    groups: tokio::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Group>>>>,
    book: std::sync::Mutex<()>,
}

fn err(e: impl std::fmt::Display) -> HostError {
    HostError(e.to_string())
}

/// EKS's node name for an instance address.
pub fn node_name(ip: Ipv4Addr, region: &str) -> String {
    let o = ip.octets();
    format!("ip-{}-{}-{}-{}.{region}.compute.internal", o[0], o[1], o[2], o[3])
}

fn node_ar() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Node"), "nodes")
}

fn pod_ar() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Pod"), "pods")
}

impl NodegroupRunner {
    /// A runner; the VPC is created (or adopted) on first use.
    pub fn new(cfg: InstancesConfig) -> Self {
        Self { cfg, registry: Default::default(), vpc: Default::default(), groups: Default::default(), book: Default::default() }
    }

    /// Lets node-group nodes pull from Wharf's own registry (ECR), as EKS nodes do with their role.
    pub fn set_registry(&self, registry: crate::nodes::OwnRegistry) {
        let _ = self.registry.set(registry);
    }

    fn vpc(&self) -> Result<Vpc, HostError> {
        let mut v = self.vpc.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(vpc) = v.as_ref() {
            return Ok(vpc.clone());
        }
        let vpc = Vpc::create(VpcConfig { tag: self.cfg.tag.clone(), cidr: self.cfg.vpc_cidr, state_dir: self.cfg.data_dir.join("vpc") })
            .map_err(|e| HostError(format!("creating the VPC {}: {e}", self.cfg.vpc_cidr)))?;
        *v = Some(vpc.clone());
        Ok(vpc)
    }

    fn book_path(&self) -> PathBuf {
        self.cfg.data_dir.join("nodegroups").join("instances.json")
    }

    fn read_book(&self) -> Result<BTreeMap<u64, Slot>, HostError> {
        match std::fs::read(self.book_path()) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| HostError(format!("reading {}: {e}", self.book_path().display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(HostError(format!("reading {}: {e}", self.book_path().display()))),
        }
    }

    fn write_book(&self, book: &BTreeMap<u64, Slot>) -> Result<(), HostError> {
        let path = self.book_path();
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(err)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(book).map_err(err)?).map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)
    }

    /// The zone (0..3, as `plan_instance` numbers them) of a subnet: it must be one of the
    /// VPC's zone subnets (the EC2 default subnets).
    fn zone_of(&self, subnet: &SubnetInfo) -> Result<u64, HostError> {
        let cidr = self.cfg.vpc_cidr;
        let given: Option<Ipv4Cidr> = subnet.cidr.as_deref().and_then(|c| c.parse().ok());
        for z in 0..ZONES {
            let zs = cidr.subnet(cidr.prefix() + 4, z).map_err(err)?;
            if given == Some(zs) {
                return Ok(z);
            }
        }
        Err(HostError(format!(
            "subnet {} ({}) is not one of the VPC's zone subnets: node group instances can only be placed in the default subnets",
            subnet.id,
            subnet.cidr.as_deref().unwrap_or("unknown block")
        )))
    }

    /// A slot for `group` in `zone`: one the group held before and is not running, else the
    /// highest free index of the zone.
    fn take_slot(&self, group: &str, zone: u64, running: &[u64], region: &str) -> Result<(u64, String), HostError> {
        let _held = self.book.lock().unwrap_or_else(|p| p.into_inner());
        let mut book = self.read_book()?;
        if let Some((i, s)) = book.iter().find(|(i, s)| s.group == group && *i % ZONES == zone && !running.contains(i)) {
            return Ok((*i, s.name.clone()));
        }
        let index = (0..PLANNABLE)
            .rev()
            .find(|i| i % ZONES == zone && !book.contains_key(i))
            .ok_or_else(|| HostError(format!("InsufficientFreeAddressesInSubnet: no instance address left in zone {zone}")))?;
        let plan = wharf_net::plan_instance(self.cfg.vpc_cidr, index, "probe").map_err(err)?;
        let name = node_name(plan.address, region);
        book.insert(index, Slot { group: group.into(), name: name.clone() });
        self.write_book(&book)?;
        Ok((index, name))
    }

    fn release_slot(&self, index: u64) -> Result<(), HostError> {
        let _held = self.book.lock().unwrap_or_else(|p| p.into_inner());
        let mut book = self.read_book()?;
        if book.remove(&index).is_some() {
            self.write_book(&book)?;
        }
        Ok(())
    }

    fn release_group(&self, group: &str) -> Result<(), HostError> {
        let _held = self.book.lock().unwrap_or_else(|p| p.into_inner());
        let mut book = self.read_book()?;
        let before = book.len();
        book.retain(|_, s| s.group != group);
        if book.len() != before {
            self.write_book(&book)?;
        }
        Ok(())
    }

    async fn group(&self, key: &str) -> Arc<tokio::sync::Mutex<Group>> {
        self.groups.lock().await.entry(key.to_string()).or_default().clone()
    }

    /// Makes node group `nodegroup` of `cluster` (served by `cp`) match `spec`; `None` removes
    /// every instance.
    pub async fn set(&self, cp: Option<&ControlPlane>, cluster: &str, nodegroup: &str, spec: Option<&NodegroupSpec>) -> Result<NodegroupNodes, HostError> {
        let key = format!("{cluster}/{nodegroup}");
        let group = self.group(&key).await;
        let mut g = group.lock().await;
        let desired = spec.map(|s| s.desired as usize).unwrap_or(0);
        let admin = cp.map(|cp| cp.client(UserInfo::new(MANAGER, &["system:masters"])));
        // Scale in first: the newest nodes go.
        while g.nodes.len() > desired {
            let Some(node) = g.nodes.last_mut() else { break };
            // A node whose drain failed (a PodDisruptionBudget) stays, cordoned, and is
            // retried on the next reconcile.
            if let Err(e) = self.remove_node(admin.as_ref(), node).await {
                return Err(HostError(format!("scaling in: {e}")));
            }
            g.nodes.pop();
        }
        let Some(spec) = spec else {
            self.release_group(&key)?;
            self.groups.lock().await.remove(&key);
            return Ok(NodegroupNodes::default());
        };
        let (Some(cp), Some(admin)) = (cp, admin) else { return Err(HostError(format!("cluster {cluster} is not running"))) };
        if spec.subnets.is_empty() {
            return Err(HostError("the node group has no subnets".into()));
        }
        while g.nodes.len() < desired {
            let k = g.nodes.len();
            let subnet = &spec.subnets[k % spec.subnets.len()];
            let zone = self.zone_of(subnet)?;
            let running: Vec<u64> = g.nodes.iter().map(|n| n.index).collect();
            let (index, name) = self.take_slot(&key, zone, &running, &spec.region)?;
            let node = self.start_node(cp, spec, subnet, index, &name).map_err(|e| HostError(format!("starting instance {name}: {e}")))?;
            g.nodes.push(node);
        }
        let names: Vec<String> = g.nodes.iter().map(|n| n.name.clone()).collect();
        let (old_labels, old_taints) = (g.labels.clone(), g.taints.clone());
        self.apply_labels_and_taints(&admin, &names, spec, &old_labels, &old_taints).await?;
        g.labels = spec.labels.keys().cloned().collect();
        g.taints = spec.taints.iter().map(|t| t.key.clone()).collect();
        Ok(NodegroupNodes { nodes: names })
    }

    fn start_node(&self, cp: &ControlPlane, spec: &NodegroupSpec, subnet: &SubnetInfo, index: u64, name: &str) -> Result<Node, HostError> {
        let vpc = self.vpc()?;
        let instance = vpc.plan_instance(index, name).and_then(|c| vpc.instance(c)).map_err(err)?;
        let exe = std::env::current_exe().map_err(|e| HostError(format!("locating the wharf binary for shims: {e}")))?;
        let mut cfg = AgentConfig::new(name, self.cfg.data_dir.join("nodes").join(name), wharf_container::ShimCommand::new(&exe, &["shim"]));
        cfg.insecure_registries = self.cfg.insecure_registries.clone();
        cfg.stop_pods_on_shutdown = true;
        cfg.cgroup_parent = format!("/wharf/{name}-{}", self.cfg.tag);
        crate::nodes::wire_agent(&mut cfg, cp, &instance, self.registry.get()).map_err(|e| HostError(format!("{e:#}")))?;
        cfg.cpu_milli = u64::from(spec.instance_type.vcpu) * 1000;
        cfg.memory_bytes = spec.instance_type.memory_mib * 1024 * 1024;
        cfg.max_pods = spec.instance_type.max_pods();
        cfg.labels.extend(spec.labels.clone());
        cfg.labels.insert("topology.kubernetes.io/zone".into(), subnet.availability_zone.clone());
        let (stop, stop_rx) = watch::channel(false);
        let client = cp.client(UserInfo::new(format!("system:node:{name}"), &["system:nodes"]));
        let node = name.to_string();
        let rx = stop_rx.clone();
        let agent = tokio::spawn(async move {
            if let Err(e) = wharf_agent::run(client, cfg, rx).await {
                tracing::error!(node, error = %e, "node agent failed");
            }
        });
        let cidr = vpc.cidr();
        let proxy_cfg = wharf_proxy::ProxyConfig {
            netns: Some(instance.netns_path().to_path_buf()),
            cluster_cidr: Some((cidr.network(), cidr.prefix())),
            ..wharf_proxy::ProxyConfig::new(name, vec![instance.address()], &self.cfg.tag)
        };
        let client = cp.client(UserInfo::new("system:kube-proxy", &[]));
        let node = name.to_string();
        let proxy = tokio::spawn(async move {
            if let Err(e) = wharf_proxy::run(client, proxy_cfg, stop_rx).await {
                tracing::error!(node, error = %e, "service proxy failed");
            }
        });
        tracing::info!(node = name, address = %instance.address(), "node group instance started");
        Ok(Node { name: name.to_string(), index, instance: Some(instance), stop, tasks: vec![agent, proxy] })
    }

    /// Sets the group's labels and taints on its Nodes (removing the ones it dropped) and
    /// waits until every Node is Ready.
    async fn apply_labels_and_taints(&self, admin: &kube::Client, names: &[String], spec: &NodegroupSpec, old_labels: &[String], old_taints: &[String]) -> Result<(), HostError> {
        let nodes: Api<DynamicObject> = Api::all_with(admin.clone(), &node_ar());
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut pending: Vec<String> = names.to_vec();
        let new_taints: Vec<serde_json::Value> = spec.taints.iter().map(|t| t.to_kube()).collect();
        let mut patched: Vec<String> = Vec::new();
        while !pending.is_empty() {
            let mut still = Vec::new();
            for n in pending {
                let Some(obj) = nodes.get_opt(&n).await.map_err(err)? else {
                    still.push(n);
                    continue;
                };
                if !patched.contains(&n) {
                    let mut labels = serde_json::Map::new();
                    for k in old_labels {
                        if !spec.labels.contains_key(k) {
                            labels.insert(k.clone(), serde_json::Value::Null);
                        }
                    }
                    for (k, v) in &spec.labels {
                        labels.insert(k.clone(), v.clone().into());
                    }
                    let mut taints: Vec<serde_json::Value> = obj.data["spec"]["taints"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|t| {
                            let k = t["key"].as_str().unwrap_or_default();
                            !old_taints.iter().any(|o| o == k) && !spec.taints.iter().any(|s| s.key == k)
                        })
                        .collect();
                    taints.extend(new_taints.clone());
                    let patch = serde_json::json!({ "metadata": { "labels": labels }, "spec": { "taints": taints } });
                    nodes.patch(&n, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(|e| HostError(format!("labelling node {n}: {e}")))?;
                    patched.push(n.clone());
                }
                let ready = obj.data["status"]["conditions"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
                if !ready {
                    still.push(n);
                }
            }
            pending = still;
            if pending.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                return Err(HostError(format!("nodes not Ready after {}s: {}", READY_TIMEOUT.as_secs(), pending.join(", "))));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Cordons and drains `node` (evictions honour PodDisruptionBudgets), then stops its agent
    /// and proxy, removes its instance, its Node and its slot.
    async fn remove_node(&self, admin: Option<&kube::Client>, node: &mut Node) -> Result<(), HostError> {
        if let Some(admin) = admin {
            let nodes: Api<DynamicObject> = Api::all_with(admin.clone(), &node_ar());
            let cordon = serde_json::json!({ "spec": { "unschedulable": true } });
            match nodes.patch(&node.name, &PatchParams::default(), &Patch::Merge(&cordon)).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(HostError(format!("cordoning {}: {e}", node.name))),
            }
            drain(admin, &node.name).await?;
        }
        let _ = node.stop.send(true);
        for t in node.tasks.drain(..) {
            // Agents stop their pods' containers (up to 10 s of grace each).
            let abort = t.abort_handle();
            if tokio::time::timeout(Duration::from_secs(20), t).await.is_err() {
                abort.abort();
            }
        }
        if let Some(instance) = node.instance.take() {
            instance.destroy().map_err(|e| HostError(format!("removing instance {}: {e}", node.name)))?;
        }
        if let Some(admin) = admin {
            let nodes: Api<DynamicObject> = Api::all_with(admin.clone(), &node_ar());
            match nodes.delete(&node.name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(HostError(format!("deleting node {}: {e}", node.name))),
            }
        }
        let dir = self.cfg.data_dir.join("nodes").join(&node.name);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %dir.display(), error = %e, "removing a node's directory");
            }
        }
        self.release_slot(node.index)?;
        tracing::info!(node = %node.name, "node group instance removed");
        Ok(())
    }

    /// Stops every node of `cluster`'s node groups without draining (shutdown, or the cluster
    /// stopping); their slots stay, so they come back with the same names.
    pub async fn stop_cluster(&self, cluster: Option<&str>) {
        let groups: Vec<(String, Arc<tokio::sync::Mutex<Group>>)> = {
            let mut all = self.groups.lock().await;
            let keys: Vec<String> = all.keys().filter(|k| cluster.is_none_or(|c| k.split_once('/').is_some_and(|(kc, _)| kc == c))).cloned().collect();
            keys.into_iter().filter_map(|k| all.remove(&k).map(|g| (k, g))).collect()
        };
        for (key, group) in groups {
            let mut g = group.lock().await;
            for mut node in g.nodes.drain(..) {
                let _ = node.stop.send(true);
                for t in node.tasks.drain(..) {
                    let abort = t.abort_handle();
                    if tokio::time::timeout(Duration::from_secs(20), t).await.is_err() {
                        abort.abort();
                    }
                }
                if let Some(i) = node.instance.take() {
                    if let Err(e) = i.destroy() {
                        tracing::warn!(group = %key, node = %node.name, error = %e, "removing an instance");
                    }
                }
            }
        }
    }
}

impl NodegroupRunner {
    /// Stops every node group instance (their slots stay) and, when it owns it, the VPC.
    pub async fn shutdown(&self) {
        self.stop_cluster(None).await;
        let vpc = self.vpc.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let (true, Some(vpc)) = (self.cfg.owns_vpc, vpc) {
            if let Err(e) = vpc.destroy() {
                tracing::warn!(error = %e, "removing the VPC");
            }
        }
    }
}

/// Evicts every pod bound to `node` (DaemonSet pods and mirror pods excepted, as `kubectl
/// drain`), retrying the ones a PodDisruptionBudget refuses (429) until [`DRAIN_TIMEOUT`], and
/// waits for them to be gone.
async fn drain(admin: &kube::Client, node: &str) -> Result<(), HostError> {
    let pods: Api<DynamicObject> = Api::all_with(admin.clone(), &pod_ar());
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    loop {
        let list = pods.list(&ListParams::default().fields(&format!("spec.nodeName={node}"))).await.map_err(err)?;
        let victims: Vec<(String, String)> = list
            .items
            .iter()
            .filter(|p| p.data["status"]["phase"] != "Succeeded" && p.data["status"]["phase"] != "Failed")
            .filter(|p| {
                let owned_by_ds = p.metadata.owner_references.iter().flatten().any(|o| o.kind == "DaemonSet");
                let mirror = p.metadata.annotations.as_ref().is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
                !owned_by_ds && !mirror
            })
            .filter_map(|p| Some((p.metadata.namespace.clone()?, p.metadata.name.clone()?)))
            .collect();
        if victims.is_empty() {
            return Ok(());
        }
        let mut refused = Vec::new();
        for (ns, name) in &victims {
            let body = serde_json::json!({
                "apiVersion": "policy/v1",
                "kind": "Eviction",
                "metadata": { "name": name, "namespace": ns },
            });
            let req = http::Request::post(format!("/api/v1/namespaces/{ns}/pods/{name}/eviction"))
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&body).map_err(err)?)
                .map_err(err)?;
            match admin.request::<serde_json::Value>(req).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(kube::Error::Api(e)) if e.code == 429 => refused.push(format!("{ns}/{name}: {}", e.message)),
                Err(e) => return Err(HostError(format!("evicting {ns}/{name}: {e}"))),
            }
        }
        if Instant::now() > deadline {
            return Err(HostError(format!(
                "draining {node}: pods still there after {}s{}",
                DRAIN_TIMEOUT.as_secs(),
                if refused.is_empty() { String::new() } else { format!(" (evictions refused: {})", refused.join("; ")) }
            )));
        }
        tokio::time::sleep(Duration::from_millis(if refused.is_empty() { 100 } else { 1000 })).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn node_names_follow_eks_from_the_instance_address() {
        assert_eq!(node_name(Ipv4Addr::new(172, 31, 16, 54), "us-east-1"), "ip-172-31-16-54.us-east-1.compute.internal");
    }

    #[test]
    fn slots_stay_with_their_group_and_avoid_local_node_indices() {
        let dir = tempfile::tempdir().unwrap();
        let r = NodegroupRunner::new(InstancesConfig {
            data_dir: dir.path().to_path_buf(),
            tag: "t".into(),
            vpc_cidr: "172.31.0.0/16".parse().unwrap(),
            insecure_registries: vec![],
            owns_vpc: false,
        });
        let (a, an) = r.take_slot("c/ng", 1, &[], "us-east-1").unwrap();
        assert_eq!((a % 3, a), (1, 43));
        assert!(an.starts_with("ip-172-31-16-"), "{an}");
        let (b, _) = r.take_slot("c/ng", 1, &[a], "us-east-1").unwrap();
        assert_eq!(b, 40);
        let (c, _) = r.take_slot("c/other", 1, &[], "us-east-1").unwrap();
        assert_eq!(c, 37);
        // Not running any more (a restart): the group gets its own slot back.
        assert_eq!(r.take_slot("c/ng", 1, &[b], "us-east-1").unwrap().0, a);
        r.release_group("c/ng").unwrap();
        assert_eq!(r.take_slot("c/x", 1, &[], "us-east-1").unwrap().0, 43);
        let zone_a = SubnetInfo { id: "subnet-a".into(), availability_zone: "us-east-1a".into(), cidr: Some("172.31.0.0/20".into()) };
        assert_eq!(r.zone_of(&zone_a).unwrap(), 0);
        let other = SubnetInfo { cidr: Some("172.31.200.0/24".into()), ..zone_a };
        assert!(r.zone_of(&other).is_err());
    }
}
