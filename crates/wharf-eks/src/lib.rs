//! Wharf's EKS: the `eks` REST-JSON API (clusters, updates, tags, access entries and access
//! policies) and the reconciler that gives every cluster a real control plane.
//!
//! [`Eks`] owns the cluster records in the datastore (`/eks/`), and drives each cluster
//! through `CREATING → ACTIVE | FAILED → DELETING → gone` by calling a [`ClusterHost`] (the
//! binary implements it: one `ControlPlane` plus its components per cluster). It checks the
//! cluster role in IAM and the subnets/security groups through a [`NetworkLookup`]. The
//! API servers authenticate `aws eks get-token` bearer tokens through
//! [`ClusterAuthenticator`] (IAM signature + the cluster's access entries), and access
//! policies become RBAC objects ([`access`]) the host applies with
//! [`ClusterHost::sync_rbac`]. [`EksService`] is the `wharf_aws::Service` to register on
//! the front door. Managed node groups ([`nodegroup`]) are records under
//! `/eks/nodegroups/` that a second reconciler drives through
//! [`ClusterHost::set_nodegroup`] (`CREATING → ACTIVE | CREATE_FAILED`, `UPDATING`,
//! `DEGRADED`, `DELETING`). Knows no Kubernetes API server internals.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod access;
mod api;
pub mod awsauth;
pub mod model;
pub mod nodegroup;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use wharf_iam::state::State;
use wharf_iam::Iam;
use wharf_store::KvStore;

pub use api::EksService;
use model::{AccessEntryRecord, ClusterRecord, ClusterStatus, Issue};

/// Errors outside a request (reconciling, resuming, authenticating).
#[derive(Debug, thiserror::Error)]
pub enum EksError {
    /// The datastore (through IAM's typed state) failed.
    #[error("datastore: {0}")]
    State(#[from] wharf_iam::IamError),
    /// The host could not start or stop a cluster.
    #[error("cluster host: {0}")]
    Host(#[from] HostError),
}

/// `Result` with [`EksError`].
pub type Result<T, E = EksError> = std::result::Result<T, E>;

/// How long a DEGRADED node group waits before the host is asked again.
const NODEGROUP_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// Why the host failed; the message becomes the cluster's health issue.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct HostError(pub String);

/// What the host needs to start a cluster's control plane.
#[derive(Clone)]
pub struct ClusterSpec {
    /// Service IPv4 CIDR (`10.100.0.0/16`).
    pub service_cidr: String,
    /// Kubernetes minor version.
    pub version: String,
    /// The endpoint the cluster had before (after a restart), to keep its port if free.
    pub previous_endpoint: Option<String>,
    /// Authenticates `k8s-aws-v1.` bearer tokens for this cluster.
    pub authenticator: ClusterAuthenticator,
}

/// Where a started cluster is reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEndpoint {
    /// `https://host:port`.
    pub endpoint: String,
    /// The cluster CA certificate (PEM).
    pub ca_pem: String,
}

/// Runs clusters' control planes. Implemented by the binary; node agents per cluster are
/// added to the same host in a later round.
#[async_trait]
pub trait ClusterHost: Send + Sync + 'static {
    /// Starts (or finds running) the control plane of `name`.
    async fn start(&self, name: &str, spec: &ClusterSpec) -> Result<ClusterEndpoint, HostError>;
    /// Stops the control plane of `name`; with `purge`, also deletes its data.
    async fn stop(&self, name: &str, purge: bool) -> Result<(), HostError>;
    /// Makes the cluster's objects labelled [`access::MANAGED_LABEL`] exactly `objects`.
    async fn sync_rbac(&self, name: &str, objects: Vec<serde_json::Value>) -> Result<(), HostError>;
    /// The `data` of the cluster's `kube-system/aws-auth` ConfigMap, if it exists (read for
    /// the CONFIG_MAP and API_AND_CONFIG_MAP authentication modes).
    async fn aws_auth(&self, name: &str) -> Result<Option<std::collections::BTreeMap<String, String>>, HostError>;
    /// Makes the node agents of node group `nodegroup` of cluster `cluster` match `spec`
    /// (`None`: none left): starts missing instances, cordons, drains (through the eviction
    /// API) and removes surplus ones. Returns once every desired node is Ready, or fails.
    async fn set_nodegroup(&self, cluster: &str, nodegroup: &str, spec: Option<&nodegroup::NodegroupSpec>) -> Result<nodegroup::NodegroupNodes, HostError>;
}

/// The VPC a set of subnets belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VpcInfo {
    /// The VPC id, when known.
    pub vpc_id: Option<String>,
}

/// Checks subnets and security groups against the EC2-VPC records.
#[async_trait]
pub trait NetworkLookup: Send + Sync + 'static {
    /// `Err(message)` names the first missing subnet or security group.
    async fn check(&self, subnet_ids: &[String], security_group_ids: &[String]) -> Result<VpcInfo, String>;
    /// The subnets with their availability zones; `Err(message)` names the first missing one.
    async fn subnets(&self, subnet_ids: &[String]) -> Result<Vec<nodegroup::SubnetInfo>, String>;
}

/// A [`NetworkLookup`] that accepts any ids: used until `wharf-ec2` keeps VPC records.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAnyNetwork;

#[async_trait]
impl NetworkLookup for AcceptAnyNetwork {
    async fn check(&self, _subnets: &[String], _sgs: &[String]) -> Result<VpcInfo, String> {
        Ok(VpcInfo::default())
    }
    /// Zones `a`, `b`, `c` of `us-east-1` in turn; blocks unknown.
    async fn subnets(&self, ids: &[String]) -> Result<Vec<nodegroup::SubnetInfo>, String> {
        Ok(ids
            .iter()
            .enumerate()
            .map(|(i, id)| nodegroup::SubnetInfo { id: id.clone(), availability_zone: format!("us-east-1{}", ['a', 'b', 'c'][i % 3]), cidr: None })
            .collect())
    }
}

/// How [`Eks`] is set up.
#[derive(Debug, Clone)]
pub struct EksConfig {
    /// The region clusters live in.
    pub region: String,
    /// Kubernetes versions Wharf serves (the first is the default).
    pub versions: Vec<String>,
    /// Base URL of the clusters' OIDC issuers (`<base>/id/<ID>`); see [`Eks::set_oidc_base`].
    pub oidc_base: String,
    /// Names taken by clusters outside EKS (`default`, which `wharf up` runs itself).
    pub reserved_names: Vec<String>,
}

impl EksConfig {
    /// Defaults for `region`: version 1.32.
    pub fn new(region: &str, oidc_base: &str) -> Self {
        Self { region: region.into(), versions: vec!["1.32".into()], oidc_base: oidc_base.trim_end_matches('/').into(), reserved_names: Vec::new() }
    }
}

/// A Kubernetes identity an EKS token maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeIdentity {
    /// The user name.
    pub username: String,
    /// Groups (the entry's `kubernetesGroups` and its policy group).
    pub groups: Vec<String>,
}

pub(crate) struct Inner {
    pub(crate) iam: Arc<Iam>,
    pub(crate) state: State,
    pub(crate) host: Arc<dyn ClusterHost>,
    pub(crate) net: Arc<dyn NetworkLookup>,
    pub(crate) config: EksConfig,
    pub(crate) oidc_base: std::sync::RwLock<String>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The EKS control plane manager. Cheap to clone.
#[derive(Clone)]
pub struct Eks {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Eks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eks").field("region", &self.inner.config.region).finish()
    }
}

pub(crate) fn now() -> f64 {
    wharf_aws::time::now_unix() as f64
}

impl Eks {
    /// EKS over `store` (records under `/eks/`), checking roles in `iam`.
    pub fn new(iam: Arc<Iam>, store: Arc<dyn KvStore>, host: Arc<dyn ClusterHost>, net: Arc<dyn NetworkLookup>, config: EksConfig) -> Self {
        let oidc_base = std::sync::RwLock::new(config.oidc_base.clone());
        Self { inner: Arc::new(Inner { iam, state: State::new(store), host, net, config, oidc_base, locks: Mutex::new(HashMap::new()) }) }
    }

    /// Sets the base URL of new clusters' OIDC issuers (once the endpoint's port is known).
    pub fn set_oidc_base(&self, base: &str) {
        let mut b = self.inner.oidc_base.write().unwrap_or_else(|p| p.into_inner());
        *b = base.trim_end_matches('/').to_string();
    }

    /// The `wharf_aws::Service` serving the EKS API.
    pub fn service(&self) -> EksService {
        EksService::new(self.clone())
    }

    /// Resumes every cluster after a restart: ACTIVE and CREATING clusters are started again,
    /// DELETING ones finish deleting. Returns once each has been reconciled.
    pub async fn resume(&self) -> Result<()> {
        let clusters: Vec<ClusterRecord> = self.inner.state.list(model::CLUSTERS_PREFIX).await?;
        for c in &clusters {
            self.reconcile(&c.name).await;
        }
        for c in &clusters {
            let groups: Vec<nodegroup::NodegroupRecord> = self.inner.state.list(&nodegroup::nodegroups_prefix(&c.name)).await?;
            for g in groups {
                self.spawn_reconcile_nodegroup(&c.name, &g.name);
            }
        }
        Ok(())
    }

    /// Reconciles one cluster in the background.
    pub(crate) fn spawn_reconcile(&self, name: &str) {
        let this = self.clone();
        let name = name.to_string();
        tokio::spawn(async move { this.reconcile(&name).await });
    }

    fn lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.inner.locks.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(name.to_string()).or_default().clone()
    }

    /// Drives one cluster towards what its record says; errors become health issues or logs.
    pub async fn reconcile(&self, name: &str) {
        let lock = self.lock(name);
        let _held = lock.lock().await;
        if let Err(e) = self.reconcile_locked(name).await {
            tracing::error!(cluster = name, error = %e, "reconciling EKS cluster failed");
        }
    }

    async fn reconcile_locked(&self, name: &str) -> Result<()> {
        let key = model::cluster_key(name);
        let Some((rec, _)) = self.inner.state.get::<ClusterRecord>(&key).await? else { return Ok(()) };
        match rec.status {
            ClusterStatus::Creating | ClusterStatus::Active => {
                let spec = ClusterSpec {
                    service_cidr: rec.service_cidr.clone(),
                    version: rec.version.clone(),
                    previous_endpoint: rec.endpoint.clone(),
                    authenticator: self.authenticator(name),
                };
                let started = self.inner.host.start(name, &spec).await;
                if started.is_ok() {
                    if let Err(e) = self.sync_rbac(name).await {
                        tracing::warn!(cluster = name, error = %e, "applying access policies failed");
                    }
                }
                let outcome = started.clone();
                let updated = self
                    .inner
                    .state
                    .update::<ClusterRecord, _>(&key, |r| {
                        if !matches!(r.status, ClusterStatus::Creating | ClusterStatus::Active) {
                            return Ok(());
                        }
                        match &outcome {
                            Ok(ep) => {
                                r.status = ClusterStatus::Active;
                                r.endpoint = Some(ep.endpoint.clone());
                                r.ca_data = Some(base64::engine::general_purpose::STANDARD.encode(ep.ca_pem.as_bytes()));
                                r.issues.clear();
                            }
                            Err(e) => {
                                r.status = ClusterStatus::Failed;
                                r.issues = vec![Issue { code: "InternalFailure".into(), message: format!("the control plane could not start: {e}") }];
                            }
                        }
                        Ok(())
                    })
                    .await;
                if let Err(e) = updated {
                    tracing::error!(cluster = name, error = %e, "recording the cluster's state failed");
                }
                if let Err(e) = started {
                    tracing::warn!(cluster = name, error = %e, "EKS cluster failed to start");
                    let _ = self.inner.host.stop(name, false).await;
                }
            }
            ClusterStatus::Failed => {}
            ClusterStatus::Deleting => {
                self.inner.host.stop(name, true).await?;
                let st = &self.inner.state;
                delete_prefix(st, &model::entries_prefix(name)).await?;
                delete_prefix(st, &model::updates_prefix(name)).await?;
                delete_prefix(st, &nodegroup::cluster_nodegroup_updates_prefix(name)).await?;
                if let Some((_, rev)) = st.get::<ClusterRecord>(&key).await? {
                    st.delete_if(&key, rev).await?;
                }
                tracing::info!(cluster = name, "EKS cluster deleted");
            }
        }
        Ok(())
    }

    /// Reconciles one node group in the background.
    pub(crate) fn spawn_reconcile_nodegroup(&self, cluster: &str, name: &str) {
        let this = self.clone();
        let (cluster, name) = (cluster.to_string(), name.to_string());
        tokio::spawn(async move { this.reconcile_nodegroup(&cluster, &name).await });
    }

    /// Reconciles one node group again after [`NODEGROUP_RETRY`].
    fn retry_nodegroup_later(&self, cluster: &str, name: &str) {
        let this = self.clone();
        let (cluster, name) = (cluster.to_string(), name.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(NODEGROUP_RETRY).await;
            this.spawn_reconcile_nodegroup(&cluster, &name);
        });
    }

    /// Drives one node group towards what its record says: the host runs `desiredSize`
    /// instances (status ACTIVE once all are Ready, CREATE_FAILED or DEGRADED with a health
    /// issue when not), or none while DELETING (then the record goes).
    pub async fn reconcile_nodegroup(&self, cluster: &str, name: &str) {
        let lock = self.lock(&format!("nodegroup/{cluster}/{name}"));
        let _held = lock.lock().await;
        if let Err(e) = self.reconcile_nodegroup_locked(cluster, name).await {
            tracing::error!(cluster, nodegroup = name, error = %e, "reconciling EKS node group failed");
        }
    }

    async fn reconcile_nodegroup_locked(&self, cluster: &str, name: &str) -> Result<()> {
        use nodegroup::{NodegroupRecord, NodegroupStatus};
        let key = nodegroup::nodegroup_key(cluster, name);
        let st = &self.inner.state;
        let Some((rec, _)) = st.get::<NodegroupRecord>(&key).await? else { return Ok(()) };
        if rec.status == NodegroupStatus::Deleting {
            match self.inner.host.set_nodegroup(cluster, name, None).await {
                Ok(_) => {
                    delete_prefix(st, &nodegroup::nodegroup_updates_prefix(cluster, name)).await?;
                    if let Some((_, rev)) = st.get::<NodegroupRecord>(&key).await? {
                        st.delete_if(&key, rev).await?;
                    }
                    tracing::info!(cluster, nodegroup = name, "EKS node group deleted");
                }
                Err(e) => {
                    let issue = Issue { code: "InternalFailure".into(), message: format!("the instances could not be removed: {e}") };
                    let _ = st
                        .update::<NodegroupRecord, _>(&key, |r| {
                            r.status = NodegroupStatus::DeleteFailed;
                            r.issues = vec![issue.clone()];
                            Ok(())
                        })
                        .await;
                }
            }
            return Ok(());
        }
        if !rec.status.runs() {
            return Ok(());
        }
        let outcome = match rec.spec(&self.inner.config.region) {
            Some(spec) => self.inner.host.set_nodegroup(cluster, name, Some(&spec)).await,
            None => Err(HostError(format!("unsupported instance types {:?}", rec.instance_types))),
        };
        let done = st
            .update::<NodegroupRecord, _>(&key, |r| {
                if !r.status.runs() {
                    return Ok(());
                }
                match &outcome {
                    Ok(nodes) => {
                        r.status = NodegroupStatus::Active;
                        r.nodes = nodes.nodes.clone();
                        r.issues.clear();
                    }
                    Err(e) => {
                        r.status = if r.status == NodegroupStatus::Creating { NodegroupStatus::CreateFailed } else { NodegroupStatus::Degraded };
                        r.issues = vec![Issue { code: "NodeCreationFailure".into(), message: e.0.clone() }];
                    }
                }
                r.modified_at = now();
                Ok(())
            })
            .await;
        if let Err(e) = &done {
            tracing::error!(cluster, nodegroup = name, error = %e, "recording the node group's state failed");
        }
        if let Err(e) = outcome {
            tracing::warn!(cluster, nodegroup = name, error = %e, "EKS node group did not reach its desired size");
            // A DEGRADED group (e.g. a drain a PodDisruptionBudget held up) is retried, as EKS does.
            if matches!(done, Ok(Some(ref r)) if r.status == NodegroupStatus::Degraded) {
                self.retry_nodegroup_later(cluster, name);
            }
        }
        Ok(())
    }

    /// Applies the access entries of `name` as RBAC objects in the cluster.
    pub(crate) async fn sync_rbac(&self, name: &str) -> Result<()> {
        let entries: Vec<AccessEntryRecord> = self.inner.state.list(&model::entries_prefix(name)).await?;
        self.inner.host.sync_rbac(name, access::desired_objects(&entries)).await?;
        Ok(())
    }

    /// The token authenticator of cluster `name`.
    pub fn authenticator(&self, name: &str) -> ClusterAuthenticator {
        ClusterAuthenticator { inner: Arc::downgrade(&self.inner), cluster: name.to_string() }
    }
}

async fn delete_prefix(st: &State, prefix: &str) -> Result<()> {
    use wharf_store::{prefix_end, Op, TxnRequest};
    st.store()
        .txn(TxnRequest {
            compare: vec![],
            success: vec![Op::DeleteRange { key: prefix.as_bytes().to_vec(), range_end: prefix_end(prefix.as_bytes()) }],
            failure: vec![],
        })
        .await
        .map_err(wharf_iam::IamError::from)?;
    Ok(())
}

/// The IAM principal an access entry names for a caller: the role for role sessions
/// (as EKS maps `assumed-role/R/S` to `role/R`), else the caller's ARN.
pub fn principal_arn(caller: &wharf_aws::Caller) -> String {
    match &caller.kind {
        wharf_aws::PrincipalKind::AssumedRole { role_name, .. } => format!("arn:aws:iam::{}:role/{role_name}", caller.account),
        _ => caller.arn.clone(),
    }
}

/// Verifies `aws eks get-token` tokens for one cluster and maps them through its access
/// entries. Holds the manager weakly, so a running API server does not keep it alive.
#[derive(Clone)]
pub struct ClusterAuthenticator {
    inner: std::sync::Weak<Inner>,
    cluster: String,
}

impl std::fmt::Debug for ClusterAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterAuthenticator").field("cluster", &self.cluster).finish()
    }
}

impl ClusterAuthenticator {
    /// Whether `token` looks like an EKS token (worth verifying).
    pub fn claims(token: &str) -> bool {
        token.starts_with(wharf_iam::eks_token::TOKEN_PREFIX)
    }

    /// The Kubernetes identity of a valid token whose principal has an access entry;
    /// `None` for anything else (the API server answers 401).
    pub async fn authenticate(&self, token: &str) -> Option<KubeIdentity> {
        let inner = self.inner.upgrade()?;
        let caller = match inner.iam.verify_eks_token(token, &self.cluster, wharf_aws::time::now_unix()).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(cluster = %self.cluster, error = %e, "EKS token refused");
                return None;
            }
        };
        let (cluster, _) = inner.state.get::<ClusterRecord>(&model::cluster_key(&self.cluster)).await.ok()??;
        let principal = principal_arn(&caller);
        let session = match &caller.kind {
            wharf_aws::PrincipalKind::AssumedRole { session_name, .. } => session_name.clone(),
            _ => String::new(),
        };
        let expand = |u: &str| u.replace("{{SessionName}}", &session).replace("{{AccountID}}", &caller.account);
        // Access entries first (API, API_AND_CONFIG_MAP), then aws-auth (CONFIG_MAP, API_AND_CONFIG_MAP).
        if cluster.authentication_mode != "CONFIG_MAP" {
            match inner.state.get::<AccessEntryRecord>(&model::entry_key(&self.cluster, &principal)).await {
                Ok(Some((entry, _))) => {
                    let mut groups = entry.kubernetes_groups.clone();
                    groups.push(entry.policy_group());
                    return Some(KubeIdentity { username: expand(&entry.username), groups });
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(cluster = %self.cluster, error = %e, "reading access entries failed");
                    return None;
                }
            }
        }
        if cluster.authentication_mode != "API" {
            if cluster.config_map_admin.as_deref() == Some(principal.as_str()) {
                return Some(KubeIdentity { username: principal.clone(), groups: vec!["system:masters".into()] });
            }
            let data = match inner.host.aws_auth(&self.cluster).await {
                Ok(d) => d?,
                Err(e) => {
                    tracing::warn!(cluster = %self.cluster, error = %e, "reading aws-auth failed");
                    return None;
                }
            };
            let m = awsauth::lookup(&data, &caller, &principal)?;
            return Some(KubeIdentity { username: expand(&m.username), groups: m.groups });
        }
        tracing::debug!(cluster = %self.cluster, %principal, "no access entry for the principal");
        None
    }
}
