//! Managed node groups: the stored record and its wire shape, the EC2 instance-type table
//! (capacity and EKS's max-pods formula), and what the host is asked to run
//! ([`NodegroupSpec`]).
//!
//! Records live under `/eks/nodegroups/<cluster>/<name>`, their updates under
//! `/eks/nodegroup-updates/<cluster>/<name>/<id>`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::model::Issue;

/// The prefix of a cluster's node groups.
pub fn nodegroups_prefix(cluster: &str) -> String {
    format!("/eks/nodegroups/{cluster}/")
}

/// The key of a node group record.
pub fn nodegroup_key(cluster: &str, name: &str) -> String {
    format!("{}{name}", nodegroups_prefix(cluster))
}

/// The prefix of a node group's update records.
pub fn nodegroup_updates_prefix(cluster: &str, name: &str) -> String {
    format!("/eks/nodegroup-updates/{cluster}/{name}/")
}

/// The prefix of all node group updates of a cluster.
pub fn cluster_nodegroup_updates_prefix(cluster: &str) -> String {
    format!("/eks/nodegroup-updates/{cluster}/")
}

/// A node group's lifecycle state, as EKS names it.
///
/// `CREATING → ACTIVE` once every desired node is Ready, `CREATING → CREATE_FAILED` when the
/// host could not; `ACTIVE | DEGRADED → UPDATING → ACTIVE | DEGRADED`;
/// `… → DELETING → (gone) | DELETE_FAILED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NodegroupStatus {
    /// Instances are being started.
    Creating,
    /// Every desired node is Ready.
    Active,
    /// A configuration update is being applied.
    Updating,
    /// Instances are being drained and removed.
    Deleting,
    /// The instances could not be started (see the health issues).
    CreateFailed,
    /// The instances could not be removed.
    DeleteFailed,
    /// Running, but not every desired node is Ready (see the health issues).
    Degraded,
}

impl NodegroupStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            NodegroupStatus::Creating => "CREATING",
            NodegroupStatus::Active => "ACTIVE",
            NodegroupStatus::Updating => "UPDATING",
            NodegroupStatus::Deleting => "DELETING",
            NodegroupStatus::CreateFailed => "CREATE_FAILED",
            NodegroupStatus::DeleteFailed => "DELETE_FAILED",
            NodegroupStatus::Degraded => "DEGRADED",
        }
    }

    /// Whether the host should run the node group's instances in this state.
    pub fn runs(self) -> bool {
        matches!(self, NodegroupStatus::Creating | NodegroupStatus::Active | NodegroupStatus::Updating | NodegroupStatus::Degraded)
    }
}

/// `scalingConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scaling {
    /// `minSize`.
    pub min: u32,
    /// `maxSize`.
    pub max: u32,
    /// `desiredSize`.
    pub desired: u32,
}

impl Scaling {
    /// Checks the sizes as EKS does.
    pub fn validate(&self) -> Result<(), String> {
        if self.max < 1 {
            return Err("maxSize must be greater than or equal to 1".into());
        }
        if self.min > self.max {
            return Err(format!("Minimum capacity {} can't be greater than maximum capacity {}.", self.min, self.max));
        }
        if self.desired < self.min || self.desired > self.max {
            return Err(format!("Desired capacity {} can't be less than minimum capacity {} or greater than maximum capacity {}.", self.desired, self.min, self.max));
        }
        if self.max > MAX_NODES {
            return Err(format!("maxSize can be at most {MAX_NODES} on this endpoint"));
        }
        Ok(())
    }
}

/// The largest node group this endpoint runs (every node is a real agent on this machine).
pub const MAX_NODES: u32 = 100;

/// A taint in EKS's wire form (`NO_SCHEDULE`, `NO_EXECUTE`, `PREFER_NO_SCHEDULE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value (may be empty).
    pub value: Option<String>,
    /// EKS effect name.
    pub effect: String,
}

impl Taint {
    /// The Kubernetes effect of an EKS effect name.
    pub fn kube_effect(effect: &str) -> Option<&'static str> {
        match effect {
            "NO_SCHEDULE" => Some("NoSchedule"),
            "NO_EXECUTE" => Some("NoExecute"),
            "PREFER_NO_SCHEDULE" => Some("PreferNoSchedule"),
            _ => None,
        }
    }

    /// The Kubernetes `Taint` object.
    pub fn to_kube(&self) -> Value {
        let mut t = json!({ "key": self.key, "effect": Self::kube_effect(&self.effect).unwrap_or("NoSchedule") });
        if let Some(v) = &self.value {
            t["value"] = json!(v);
        }
        t
    }

    /// The `Taint` wire shape.
    pub fn to_json(&self) -> Value {
        let mut t = json!({ "key": self.key, "effect": self.effect });
        if let Some(v) = &self.value {
            t["value"] = json!(v);
        }
        t
    }
}

/// What an EC2 instance type gives a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceType {
    /// API name (`t3.medium`).
    pub name: &'static str,
    /// vCPUs.
    pub vcpu: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Network interfaces.
    pub enis: u32,
    /// IPv4 addresses per interface.
    pub ips_per_eni: u32,
}

impl InstanceType {
    /// EKS's max pods (VPC CNI without prefix delegation): `ENIs × (IPs per ENI − 1) + 2`.
    pub fn max_pods(&self) -> u32 {
        self.enis * (self.ips_per_eni - 1) + 2
    }
}

/// The instance types node groups may use (a table of common types).
pub const INSTANCE_TYPES: &[InstanceType] = &[
    InstanceType { name: "t3.micro", vcpu: 2, memory_mib: 1024, enis: 2, ips_per_eni: 2 },
    InstanceType { name: "t3.small", vcpu: 2, memory_mib: 2048, enis: 3, ips_per_eni: 4 },
    InstanceType { name: "t3.medium", vcpu: 2, memory_mib: 4096, enis: 3, ips_per_eni: 6 },
    InstanceType { name: "t3.large", vcpu: 2, memory_mib: 8192, enis: 3, ips_per_eni: 12 },
    InstanceType { name: "t3.xlarge", vcpu: 4, memory_mib: 16384, enis: 4, ips_per_eni: 15 },
    InstanceType { name: "m5.large", vcpu: 2, memory_mib: 8192, enis: 3, ips_per_eni: 10 },
    InstanceType { name: "m5.xlarge", vcpu: 4, memory_mib: 16384, enis: 4, ips_per_eni: 15 },
    InstanceType { name: "m5.2xlarge", vcpu: 8, memory_mib: 32768, enis: 4, ips_per_eni: 15 },
    InstanceType { name: "c5.large", vcpu: 2, memory_mib: 4096, enis: 3, ips_per_eni: 10 },
    InstanceType { name: "c5.xlarge", vcpu: 4, memory_mib: 8192, enis: 4, ips_per_eni: 15 },
    InstanceType { name: "c5.2xlarge", vcpu: 8, memory_mib: 16384, enis: 4, ips_per_eni: 15 },
];

/// The instance type named `name`.
pub fn instance_type(name: &str) -> Option<&'static InstanceType> {
    INSTANCE_TYPES.iter().find(|t| t.name == name)
}

/// A subnet an instance can be placed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetInfo {
    /// `subnet-…`.
    pub id: String,
    /// Availability zone (`us-east-1a`).
    pub availability_zone: String,
    /// The subnet block, when known.
    pub cidr: Option<String>,
}

/// What the host runs for a node group: `desired` instances spread over `subnets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodegroupSpec {
    /// Number of instances.
    pub desired: u32,
    /// The instance type (first of `instanceTypes`).
    pub instance_type: InstanceType,
    /// Node labels: EKS's own (`eks.amazonaws.com/nodegroup`, `…/capacityType`,
    /// `node.kubernetes.io/instance-type`, `topology.kubernetes.io/region`) and the node group's.
    /// The host adds `topology.kubernetes.io/zone` from each instance's subnet.
    pub labels: BTreeMap<String, String>,
    /// Node taints.
    pub taints: Vec<Taint>,
    /// The subnets to spread over (zones round-robin).
    pub subnets: Vec<SubnetInfo>,
    /// The region (node names `ip-a-b-c-d.<region>.compute.internal`).
    pub region: String,
}

/// What the host reports after making a node group match its spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodegroupNodes {
    /// Node names, all Ready.
    pub nodes: Vec<String>,
}

/// A stored node group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodegroupRecord {
    /// Cluster.
    pub cluster_name: String,
    /// Name.
    pub name: String,
    /// `arn:aws:eks:REGION:ACCOUNT:nodegroup/CLUSTER/NAME/ID`.
    pub arn: String,
    /// UUID.
    pub id: String,
    /// Seconds since the epoch.
    pub created_at: f64,
    /// Seconds since the epoch.
    pub modified_at: f64,
    /// Kubernetes minor version (the cluster's).
    pub version: String,
    /// Lifecycle state.
    pub status: NodegroupStatus,
    /// The node IAM role.
    pub node_role: String,
    /// Subnets with their zones.
    pub subnets: Vec<SubnetInfo>,
    /// Sizes.
    pub scaling: Scaling,
    /// Instance types (the first is used).
    pub instance_types: Vec<String>,
    /// Kubernetes labels.
    pub labels: BTreeMap<String, String>,
    /// Kubernetes taints.
    pub taints: Vec<Taint>,
    /// `ON_DEMAND` or `SPOT`.
    pub capacity_type: String,
    /// `AL2023_x86_64_STANDARD`, ….
    pub ami_type: String,
    /// Disk size in GiB.
    pub disk_size: u32,
    /// `updateConfig.maxUnavailable`.
    pub max_unavailable: u32,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The idempotency token of CreateNodegroup.
    pub client_request_token: Option<String>,
    /// Health issues.
    pub issues: Vec<Issue>,
    /// The nodes the host runs (names), as last reported.
    pub nodes: Vec<String>,
}

impl NodegroupRecord {
    /// The name of the "Auto Scaling group" EKS reports for a node group.
    pub fn asg_name(&self) -> String {
        format!("eks-{}-{}", self.name, self.id)
    }

    /// What the host should run.
    pub fn spec(&self, region: &str) -> Option<NodegroupSpec> {
        let it = *instance_type(self.instance_types.first()?)?;
        let mut labels = self.labels.clone();
        labels.insert("eks.amazonaws.com/nodegroup".into(), self.name.clone());
        labels.insert("eks.amazonaws.com/capacityType".into(), self.capacity_type.clone());
        labels.insert("eks.amazonaws.com/nodegroup-image".into(), format!("wharf-{}", self.ami_type.to_ascii_lowercase()));
        labels.insert("node.kubernetes.io/instance-type".into(), it.name.into());
        labels.insert("topology.kubernetes.io/region".into(), region.into());
        Some(NodegroupSpec { desired: self.scaling.desired, instance_type: it, labels, taints: self.taints.clone(), subnets: self.subnets.clone(), region: region.into() })
    }

    /// The `Nodegroup` shape.
    pub fn to_json(&self) -> Value {
        let mut n = json!({
            "nodegroupName": self.name,
            "nodegroupArn": self.arn,
            "clusterName": self.cluster_name,
            "version": self.version,
            "releaseVersion": format!("{}-wharf", self.version),
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
            "status": self.status.as_str(),
            "capacityType": self.capacity_type,
            "scalingConfig": { "minSize": self.scaling.min, "maxSize": self.scaling.max, "desiredSize": self.scaling.desired },
            "instanceTypes": self.instance_types,
            "subnets": self.subnets.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            "amiType": self.ami_type,
            "nodeRole": self.node_role,
            "labels": self.labels,
            "taints": self.taints.iter().map(Taint::to_json).collect::<Vec<_>>(),
            "resources": { "autoScalingGroups": [{ "name": self.asg_name() }] },
            "diskSize": self.disk_size,
            "health": { "issues": self.issues.iter().map(|i| json!({"code": i.code, "message": i.message, "resourceIds": [self.asg_name()]})).collect::<Vec<_>>() },
            "updateConfig": { "maxUnavailable": self.max_unavailable },
            "tags": self.tags,
        });
        if self.taints.is_empty() {
            if let Some(o) = n.as_object_mut() {
                o.remove("taints");
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_pods_follow_the_eni_formula_of_eks() {
        let pods = |n: &str| instance_type(n).map(InstanceType::max_pods);
        assert_eq!(pods("t3.small"), Some(11));
        assert_eq!(pods("t3.medium"), Some(17));
        assert_eq!(pods("t3.large"), Some(35));
        assert_eq!(pods("m5.large"), Some(29));
        assert_eq!(pods("m5.xlarge"), Some(58));
        assert_eq!(pods("c5.large"), Some(29));
        assert_eq!(pods("x1.nope"), None);
    }

    #[test]
    fn scaling_sizes_are_validated_as_eks_does() {
        assert!(Scaling { min: 1, max: 3, desired: 2 }.validate().is_ok());
        assert!(Scaling { min: 0, max: 1, desired: 0 }.validate().is_ok());
        assert!(Scaling { min: 2, max: 1, desired: 1 }.validate().is_err());
        assert!(Scaling { min: 1, max: 3, desired: 4 }.validate().is_err());
        assert!(Scaling { min: 2, max: 3, desired: 1 }.validate().is_err());
        assert!(Scaling { min: 0, max: 0, desired: 0 }.validate().is_err());
    }
}
