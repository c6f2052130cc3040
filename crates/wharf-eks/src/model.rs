//! The stored records (clusters, updates, access entries) and their wire shapes.
//!
//! Records live in the datastore under `/eks/`: `/eks/clusters/<name>`,
//! `/eks/updates/<cluster>/<id>`, `/eks/access-entries/<cluster>/<principal ARN>`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Prefix of cluster records.
pub const CLUSTERS_PREFIX: &str = "/eks/clusters/";

/// The key of a cluster record.
pub fn cluster_key(name: &str) -> String {
    format!("{CLUSTERS_PREFIX}{name}")
}

/// The prefix of a cluster's update records.
pub fn updates_prefix(cluster: &str) -> String {
    format!("/eks/updates/{cluster}/")
}

/// The prefix of a cluster's access entries.
pub fn entries_prefix(cluster: &str) -> String {
    format!("/eks/access-entries/{cluster}/")
}

/// The key of an access entry.
pub fn entry_key(cluster: &str, principal_arn: &str) -> String {
    format!("{}{principal_arn}", entries_prefix(cluster))
}

/// A cluster's lifecycle state, as EKS names it.
///
/// `CREATING → ACTIVE` when the host started the control plane, `CREATING → FAILED` when it
/// could not; `ACTIVE | FAILED → DELETING → (gone)`; `ACTIVE → UPDATING → ACTIVE` is not used
/// (configuration updates apply at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterStatus {
    /// The control plane is being started.
    Creating,
    /// The control plane serves requests.
    Active,
    /// Being torn down.
    Deleting,
    /// The control plane could not start (see the health issues).
    Failed,
}

impl ClusterStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterStatus::Creating => "CREATING",
            ClusterStatus::Active => "ACTIVE",
            ClusterStatus::Deleting => "DELETING",
            ClusterStatus::Failed => "FAILED",
        }
    }

    /// Whether DeleteCluster may start from this state (EKS refuses while creating).
    pub fn can_delete(self) -> bool {
        matches!(self, ClusterStatus::Active | ClusterStatus::Failed)
    }

    /// Whether configuration updates are accepted.
    pub fn can_update(self) -> bool {
        self == ClusterStatus::Active
    }
}

/// The VPC configuration as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcConfig {
    /// Subnets.
    pub subnet_ids: Vec<String>,
    /// Security groups.
    pub security_group_ids: Vec<String>,
    /// The VPC the subnets belong to, when the network lookup knows it.
    pub vpc_id: Option<String>,
    /// Public endpoint access.
    pub endpoint_public_access: bool,
    /// Private endpoint access.
    pub endpoint_private_access: bool,
    /// CIDRs allowed to reach the public endpoint.
    pub public_access_cidrs: Vec<String>,
}

/// A cluster health issue (shown for FAILED clusters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// `ClusterIssueCode`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// A stored cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterRecord {
    /// Name.
    pub name: String,
    /// `arn:aws:eks:REGION:ACCOUNT:cluster/NAME`.
    pub arn: String,
    /// Unique id (a UUID).
    pub id: String,
    /// Seconds since the epoch.
    pub created_at: f64,
    /// Kubernetes minor version (`1.32`).
    pub version: String,
    /// `eks.N`, bumped on every version update.
    pub platform_version: String,
    /// The cluster IAM role.
    pub role_arn: String,
    /// Lifecycle state.
    pub status: ClusterStatus,
    /// HTTPS URL of the API server, once started.
    pub endpoint: Option<String>,
    /// Base64 of the cluster CA's PEM, once started.
    pub ca_data: Option<String>,
    /// VPC configuration.
    pub vpc: VpcConfig,
    /// Service IPv4 CIDR.
    pub service_cidr: String,
    /// `logging` as EKS returns it.
    pub logging: Value,
    /// Access configuration: authentication mode.
    pub authentication_mode: String,
    /// Whether the creator got an admin access entry.
    pub bootstrap_creator_admin: bool,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The idempotency token of CreateCluster.
    pub client_request_token: Option<String>,
    /// The OIDC issuer URL of the service-account tokens.
    pub oidc_issuer: String,
    /// Health issues.
    pub issues: Vec<Issue>,
    /// Upgrade policy support type (`STANDARD` / `EXTENDED`).
    pub support_type: String,
    /// The creator, when it was made an admin outside access entries (CONFIG_MAP mode).
    #[serde(default)]
    pub config_map_admin: Option<String>,
}

impl ClusterRecord {
    /// The `Cluster` shape.
    pub fn to_json(&self) -> Value {
        let mut c = json!({
            "name": self.name,
            "arn": self.arn,
            "createdAt": self.created_at,
            "version": self.version,
            "roleArn": self.role_arn,
            "resourcesVpcConfig": {
                "subnetIds": self.vpc.subnet_ids,
                "securityGroupIds": self.vpc.security_group_ids,
                "endpointPublicAccess": self.vpc.endpoint_public_access,
                "endpointPrivateAccess": self.vpc.endpoint_private_access,
                "publicAccessCidrs": self.vpc.public_access_cidrs,
            },
            "kubernetesNetworkConfig": { "serviceIpv4Cidr": self.service_cidr, "ipFamily": "ipv4", "elasticLoadBalancing": { "enabled": false } },
            "logging": self.logging,
            "identity": { "oidc": { "issuer": self.oidc_issuer } },
            "status": self.status.as_str(),
            "certificateAuthority": {},
            "platformVersion": self.platform_version,
            "tags": self.tags,
            "health": { "issues": self.issues.iter().map(|i| json!({"code": i.code, "message": i.message, "resourceIds": [self.name]})).collect::<Vec<_>>() },
            "accessConfig": {
                "bootstrapClusterCreatorAdminPermissions": self.bootstrap_creator_admin,
                "authenticationMode": self.authentication_mode,
            },
            "upgradePolicy": { "supportType": self.support_type },
        });
        if let Some(e) = &self.endpoint {
            c["endpoint"] = json!(e);
        }
        if let Some(d) = &self.ca_data {
            c["certificateAuthority"] = json!({ "data": d });
        }
        if let Some(v) = &self.vpc.vpc_id {
            c["resourcesVpcConfig"]["vpcId"] = json!(v);
        }
        if let Some(t) = &self.client_request_token {
            c["clientRequestToken"] = json!(t);
        }
        c
    }
}

/// A stored update (UpdateClusterConfig / UpdateClusterVersion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateRecord {
    /// UUID.
    pub id: String,
    /// `InProgress`, `Failed`, `Cancelled`, `Successful`.
    pub status: String,
    /// `UpdateType`.
    pub kind: String,
    /// `(UpdateParamType, value)` pairs.
    pub params: Vec<(String, String)>,
    /// Seconds since the epoch.
    pub created_at: f64,
    /// `(errorCode, errorMessage)` pairs.
    pub errors: Vec<(String, String)>,
}

impl UpdateRecord {
    /// The `Update` shape.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "status": self.status,
            "type": self.kind,
            "params": self.params.iter().map(|(t, v)| json!({"type": t, "value": v})).collect::<Vec<_>>(),
            "createdAt": self.created_at,
            "errors": self.errors.iter().map(|(c, m)| json!({"errorCode": c, "errorMessage": m, "resourceIds": []})).collect::<Vec<_>>(),
        })
    }
}

/// Where an associated access policy applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// `cluster` or `namespace`.
    pub kind: String,
    /// The namespaces of a `namespace` scope.
    pub namespaces: Vec<String>,
}

/// An access policy associated with an access entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Association {
    /// The policy ARN (`arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy`).
    pub policy_arn: String,
    /// Its scope.
    pub scope: Scope,
    /// Seconds since the epoch.
    pub associated_at: f64,
    /// Seconds since the epoch.
    pub modified_at: f64,
}

impl Association {
    /// The `AssociatedAccessPolicy` shape.
    pub fn to_json(&self) -> Value {
        json!({
            "policyArn": self.policy_arn,
            "accessScope": { "type": self.scope.kind, "namespaces": self.scope.namespaces },
            "associatedAt": self.associated_at,
            "modifiedAt": self.modified_at,
        })
    }
}

/// A stored access entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessEntryRecord {
    /// The cluster.
    pub cluster_name: String,
    /// The IAM principal (user or role ARN, or the account root).
    pub principal_arn: String,
    /// A UUID; names the entry's Kubernetes group and bindings.
    pub id: String,
    /// The entry's ARN.
    pub arn: String,
    /// Extra Kubernetes groups.
    pub kubernetes_groups: Vec<String>,
    /// The Kubernetes user name (may contain `{{SessionName}}`).
    pub username: String,
    /// `STANDARD` (the only type with access policies here).
    pub kind: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Seconds since the epoch.
    pub created_at: f64,
    /// Seconds since the epoch.
    pub modified_at: f64,
    /// Associated access policies.
    pub policies: Vec<Association>,
}

impl AccessEntryRecord {
    /// The `AccessEntry` shape.
    pub fn to_json(&self) -> Value {
        json!({
            "clusterName": self.cluster_name,
            "principalArn": self.principal_arn,
            "kubernetesGroups": self.kubernetes_groups,
            "accessEntryArn": self.arn,
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
            "tags": self.tags,
            "username": self.username,
            "type": self.kind,
        })
    }

    /// The Kubernetes group that carries this entry's access policies.
    pub fn policy_group(&self) -> String {
        format!("wharf-eks:entry:{}", self.id)
    }
}
