//! EKS cluster control planes in this process: [`Host`], the `wharf_eks::ClusterHost` that
//! gives every EKS cluster its own `ControlPlane` (listener on the host of `--listen` with a free port, datastore prefix
//! `/clusters/<name>`, state directory `DIR/clusters/<name>`, CA and certificates) plus its
//! scheduler and controller manager (the binary's `Components`), and its managed node
//! groups' node agents (`crate::nodegroups`).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use wharf_apiserver::auth::{TokenReviewer, UserInfo};
use wharf_apiserver::{ControlPlane, ControlPlaneConfig, StartError};
use wharf_controllers::ControllersConfig;
use wharf_eks::{ClusterAuthenticator, ClusterEndpoint, ClusterHost, ClusterSpec, HostError};
use wharf_store::{KvStore, Prefixed};

/// How [`Host`] starts clusters.
#[derive(Clone)]
pub struct HostConfig {
    /// `DIR`: clusters keep their state in `DIR/clusters/<name>`.
    pub data_dir: PathBuf,
    /// The address the clusters' API servers listen on.
    pub ip: IpAddr,
    /// Datastore compaction interval of each control plane.
    pub compaction_interval: std::time::Duration,
    /// Controller manager settings.
    pub controllers: ControllersConfig,
    /// Where node group instances run (`None`: node groups cannot start).
    pub instances: Option<crate::nodegroups::InstancesConfig>,
}

struct Running {
    cp: ControlPlane,
    components: crate::Components,
    /// The access-policy objects last synced: RoleBindings for namespaces that do not exist
    /// yet are applied when the namespace appears.
    rbac: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    namespaces: tokio::task::AbortHandle,
}

/// Runs EKS clusters' control planes in this process.
pub struct Host {
    store: Arc<dyn KvStore>,
    cfg: HostConfig,
    running: tokio::sync::Mutex<HashMap<String, Arc<Running>>>,
    nodegroups: Option<crate::nodegroups::NodegroupRunner>,
}

/// The user the host applies access-policy RBAC objects as.
const EKS_MANAGER: &str = "system:wharf-eks";

impl Host {
    /// A host over the shared datastore (each cluster gets its own prefix of it).
    pub fn new(store: Arc<dyn KvStore>, cfg: HostConfig) -> Self {
        let nodegroups = cfg.instances.clone().map(crate::nodegroups::NodegroupRunner::new);
        Self { store, cfg, running: Default::default(), nodegroups }
    }

    /// Lets node-group nodes pull from Wharf's own registry.
    pub fn set_registry(&self, registry: crate::nodes::OwnRegistry) {
        if let Some(ng) = &self.nodegroups {
            ng.set_registry(registry);
        }
    }

    /// Stops every running cluster (on shutdown; their records stay ACTIVE).
    pub async fn shutdown(&self) {
        if let Some(ng) = &self.nodegroups {
            ng.shutdown().await;
        }
        let all: Vec<(String, Arc<Running>)> = self.running.lock().await.drain().collect();
        for (name, r) in all {
            stop_running(&name, r).await;
        }
    }

    fn prefix(name: &str) -> String {
        format!("/clusters/{name}")
    }
}

async fn stop_running(name: &str, r: Arc<Running>) {
    r.namespaces.abort();
    match Arc::try_unwrap(r) {
        Ok(r) => {
            r.components.shutdown().await;
            r.cp.shutdown().await;
        }
        Err(_) => tracing::warn!(cluster = name, "control plane still in use while stopping; it ends when released"),
    }
}

/// Adapts an EKS cluster's authenticator to the API server's token hook.
struct Reviewer(ClusterAuthenticator);

impl TokenReviewer for Reviewer {
    fn review<'a>(&'a self, token: &'a str) -> Pin<Box<dyn Future<Output = Option<UserInfo>> + Send + 'a>> {
        Box::pin(async move {
            if !ClusterAuthenticator::claims(token) {
                return None;
            }
            let id = self.0.authenticate(token).await?;
            let groups: Vec<&str> = id.groups.iter().map(String::as_str).collect();
            Some(UserInfo::new(id.username.clone(), &groups))
        })
    }
}

fn port_of(endpoint: &str) -> Option<u16> {
    endpoint.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

fn ar(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("rbac.authorization.k8s.io", "v1", kind), plural)
}

#[async_trait]
impl ClusterHost for Host {
    async fn start(&self, name: &str, spec: &ClusterSpec) -> Result<ClusterEndpoint, HostError> {
        if let Some(r) = self.running.lock().await.get(name) {
            return Ok(ClusterEndpoint { endpoint: r.cp.endpoint(), ca_pem: r.cp.ca_pem.clone() });
        }
        let service_cidr = crate::parse_cidr(&spec.service_cidr).map_err(|e| HostError(e.to_string()))?;
        let config = |port: u16| ControlPlaneConfig {
            name: name.to_string(),
            state_dir: self.cfg.data_dir.join("clusters").join(name),
            listen: SocketAddr::new(self.cfg.ip, port),
            store: Arc::new(Prefixed::new(self.store.clone(), Self::prefix(name))),
            service_cidr,
            compaction_interval: self.cfg.compaction_interval,
            mounts: Vec::new(),
        };
        // Keep the port a cluster had (kubeconfigs name it); another one if it is taken.
        let previous = spec.previous_endpoint.as_deref().and_then(port_of);
        let cp = match ControlPlane::start(config(previous.unwrap_or(0))).await {
            Ok(cp) => cp,
            Err(StartError::Listen { .. }) if previous.is_some() => ControlPlane::start(config(0)).await.map_err(|e| HostError(e.to_string()))?,
            Err(e) => return Err(HostError(e.to_string())),
        };
        cp.set_token_reviewer(Arc::new(Reviewer(spec.authenticator.clone())));
        let components = crate::Components::start(&cp, self.cfg.controllers.clone(), None, Vec::new());
        let ep = ClusterEndpoint { endpoint: cp.endpoint(), ca_pem: cp.ca_pem.clone() };
        tracing::info!(cluster = name, endpoint = %ep.endpoint, "EKS cluster control plane started");
        let rbac: Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Default::default();
        let client = cp.client(UserInfo::new(EKS_MANAGER, &["system:masters"]));
        let namespaces = tokio::spawn(apply_bindings_to_new_namespaces(client, rbac.clone(), name.to_string())).abort_handle();
        self.running.lock().await.insert(name.to_string(), Arc::new(Running { cp, components, rbac, namespaces }));
        Ok(ep)
    }

    async fn stop(&self, name: &str, purge: bool) -> Result<(), HostError> {
        if let Some(ng) = &self.nodegroups {
            ng.stop_cluster(Some(name)).await;
        }
        let r = self.running.lock().await.remove(name);
        if let Some(r) = r {
            stop_running(name, r).await;
        }
        if purge {
            use wharf_store::{prefix_end, Op, TxnRequest};
            let prefix = format!("{}/", Self::prefix(name));
            self.store
                .txn(TxnRequest {
                    compare: vec![],
                    success: vec![Op::DeleteRange { key: prefix.as_bytes().to_vec(), range_end: prefix_end(prefix.as_bytes()) }],
                    failure: vec![],
                })
                .await
                .map_err(|e| HostError(format!("deleting the data of cluster {name}: {e}")))?;
            let dir = self.cfg.data_dir.join("clusters").join(name);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(HostError(format!("removing {}: {e}", dir.display()))),
            }
        }
        Ok(())
    }

    async fn set_nodegroup(
        &self,
        cluster: &str,
        nodegroup: &str,
        spec: Option<&wharf_eks::nodegroup::NodegroupSpec>,
    ) -> Result<wharf_eks::nodegroup::NodegroupNodes, HostError> {
        let runner = self.nodegroups.as_ref().ok_or_else(|| HostError("this server runs no node group instances".into()))?;
        let running = self.running.lock().await.get(cluster).cloned();
        let out = runner.set(running.as_ref().map(|r| &r.cp), cluster, nodegroup, spec).await;
        drop(running);
        out
    }

    async fn aws_auth(&self, name: &str) -> Result<Option<std::collections::BTreeMap<String, String>>, HostError> {
        let client = {
            let running = self.running.lock().await;
            let r = running.get(name).ok_or_else(|| HostError(format!("cluster {name} is not running")))?;
            r.cp.client(UserInfo::new(EKS_MANAGER, &["system:masters"]))
        };
        let res = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "ConfigMap"), "configmaps");
        let api: Api<DynamicObject> = Api::namespaced_with(client, "kube-system", &res);
        let cm = api.get_opt("aws-auth").await.map_err(|e| HostError(format!("reading kube-system/aws-auth: {e}")))?;
        Ok(cm.map(|cm| {
            cm.data["data"]
                .as_object()
                .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
                .unwrap_or_default()
        }))
    }

    async fn sync_rbac(&self, name: &str, objects: Vec<serde_json::Value>) -> Result<(), HostError> {
        let client = {
            let running = self.running.lock().await;
            let r = running.get(name).ok_or_else(|| HostError(format!("cluster {name} is not running")))?;
            *r.rbac.lock().unwrap_or_else(|p| p.into_inner()) = objects.clone();
            r.cp.client(UserInfo::new(EKS_MANAGER, &["system:masters"]))
        };
        let kinds = [("ClusterRole", "clusterroles"), ("ClusterRoleBinding", "clusterrolebindings"), ("RoleBinding", "rolebindings")];
        let mut wanted: Vec<(String, String, String)> = Vec::new();
        let mut failures = Vec::new();
        let params = PatchParams::apply("wharf-eks").force();
        for obj in objects {
            let kind = obj["kind"].as_str().unwrap_or_default().to_string();
            let Some((_, plural)) = kinds.iter().find(|(k, _)| *k == kind) else { continue };
            let res = ar(&kind, plural);
            let obj_name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
            let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
            let api: Api<DynamicObject> =
                if ns.is_empty() { Api::all_with(client.clone(), &res) } else { Api::namespaced_with(client.clone(), &ns, &res) };
            wanted.push((kind.clone(), ns.clone(), obj_name.clone()));
            match api.patch(&obj_name, &params, &Patch::Apply(&obj)).await {
                Ok(_) => {}
                // A namespace-scoped policy for a namespace that does not exist yet: applied
                // when it is created (`apply_bindings_to_new_namespaces`).
                Err(kube::Error::Api(e)) if e.code == 404 && !ns.is_empty() => {}
                Err(e) => failures.push(format!("{kind} {ns}/{obj_name}: {e}")),
            }
        }
        let selector = ListParams::default().labels(&format!("{}=true", wharf_eks::access::MANAGED_LABEL));
        for (kind, plural) in kinds {
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar(kind, plural));
            let list = match api.list(&selector).await {
                Ok(l) => l,
                Err(e) => {
                    failures.push(format!("listing {plural}: {e}"));
                    continue;
                }
            };
            for o in list.items {
                let (n, ns) = (o.metadata.name.clone().unwrap_or_default(), o.metadata.namespace.clone().unwrap_or_default());
                if wanted.iter().any(|(k, wns, wn)| k == kind && *wns == ns && *wn == n) {
                    continue;
                }
                let api: Api<DynamicObject> =
                    if ns.is_empty() { Api::all_with(client.clone(), &ar(kind, plural)) } else { Api::namespaced_with(client.clone(), &ns, &ar(kind, plural)) };
                if let Err(e) = api.delete(&n, &DeleteParams::default()).await {
                    failures.push(format!("deleting {kind} {ns}/{n}: {e}"));
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(HostError(failures.join("; ")))
        }
    }
}

/// Applies the synced RoleBindings of each namespace when the namespace appears, so a
/// namespace-scoped access policy covers namespaces created after it was associated.
async fn apply_bindings_to_new_namespaces(client: kube::Client, rbac: Arc<std::sync::Mutex<Vec<serde_json::Value>>>, cluster: String) {
    use futures::StreamExt;
    use kube::runtime::{watcher, WatchStreamExt};
    let namespaces: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("", "v1", "Namespace"), "namespaces"));
    let mut events = watcher(namespaces, watcher::Config::default()).default_backoff().applied_objects().boxed();
    let params = PatchParams::apply("wharf-eks").force();
    while let Some(ev) = events.next().await {
        let Ok(ns) = ev else { continue };
        let Some(ns) = ns.metadata.name else { continue };
        let wanted: Vec<serde_json::Value> = rbac
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|o| o["kind"] == "RoleBinding" && o["metadata"]["namespace"] == ns.as_str())
            .cloned()
            .collect();
        for obj in wanted {
            let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar("RoleBinding", "rolebindings"));
            if let Err(e) = api.patch(&name, &params, &Patch::Apply(&obj)).await {
                tracing::warn!(cluster, namespace = %ns, binding = %name, error = %e, "applying an access-policy binding failed");
            }
        }
    }
}

/// EKS's network checks against the EC2 records of the account's region: every subnet and
/// security group must exist, the subnets must share one VPC and span at least two
/// availability zones (as EKS requires).
pub struct Ec2Network {
    pub ec2: Arc<wharf_ec2::Ec2>,
    pub account: String,
    pub region: String,
}

#[async_trait]
impl wharf_eks::NetworkLookup for Ec2Network {
    async fn check(&self, subnet_ids: &[String], security_group_ids: &[String]) -> Result<wharf_eks::VpcInfo, String> {
        let (account, region) = (&self.account, &self.region);
        let mut vpc: Option<String> = None;
        let mut zones = std::collections::BTreeSet::new();
        for id in subnet_ids {
            let subnet = self.ec2.subnet(account, region, id).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("The subnet ID '{id}' does not exist"))?;
            if vpc.get_or_insert_with(|| subnet.vpc_id.clone()) != &subnet.vpc_id {
                return Err("Subnets specified must belong to the same VPC".into());
            }
            zones.insert(subnet.availability_zone);
        }
        if zones.len() < 2 {
            return Err("Subnets specified must be in at least two different AZs".into());
        }
        for id in security_group_ids {
            let group = self.ec2.security_group(account, region, id).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("The security group '{id}' does not exist"))?;
            if vpc.as_deref() != Some(group.vpc_id.as_str()) {
                return Err(format!("Security group {id} is not in the VPC of the subnets"));
            }
        }
        Ok(wharf_eks::VpcInfo { vpc_id: vpc })
    }

    async fn subnets(&self, subnet_ids: &[String]) -> Result<Vec<wharf_eks::nodegroup::SubnetInfo>, String> {
        let mut out = Vec::new();
        for id in subnet_ids {
            let s = self.ec2.subnet(&self.account, &self.region, id).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("The subnet ID '{id}' does not exist"))?;
            out.push(wharf_eks::nodegroup::SubnetInfo { id: id.clone(), availability_zone: s.availability_zone, cidr: Some(s.cidr.to_string()) });
        }
        Ok(out)
    }
}
