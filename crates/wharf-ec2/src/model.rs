//! The stored records of one account's region: VPCs, subnets, security groups and their
//! rules, route tables and internet gateways, each carrying its tags.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::cidr::Cidr;

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Key.
    pub key: String,
    /// Value (may be empty).
    pub value: String,
}

/// A VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vpc {
    /// `vpc-` + 17 hex digits.
    pub id: String,
    /// The primary IPv4 block.
    pub cidr: Cidr,
    /// The id of the primary CIDR association (`vpc-cidr-assoc-…`).
    pub cidr_association_id: String,
    /// Whether this is the region's default VPC.
    pub is_default: bool,
    /// The owning account.
    pub owner: String,
    /// `default` or `dedicated`.
    pub instance_tenancy: String,
    /// The DHCP options set (`dopt-…`).
    pub dhcp_options_id: String,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// A subnet of a VPC in one availability zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    /// `subnet-` + 17 hex digits.
    pub id: String,
    /// The VPC.
    pub vpc_id: String,
    /// The IPv4 block, inside the VPC's.
    pub cidr: Cidr,
    /// Zone name (`us-east-1a`).
    pub availability_zone: String,
    /// Zone id (`use1-az1`).
    pub availability_zone_id: String,
    /// Whether this is the default subnet of its zone.
    pub default_for_az: bool,
    /// Whether instances get a public address.
    pub map_public_ip_on_launch: bool,
    /// The owning account.
    pub owner: String,
    /// Tags.
    pub tags: Vec<Tag>,
}

impl Subnet {
    /// Addresses usable by instances: the block's size less the 5 AWS reserves.
    pub fn available_ip_address_count(&self) -> u64 {
        self.cidr.size().saturating_sub(5)
    }
}

/// One rule of a security group (AWS's security-group-rule model: one peer per rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SgRule {
    /// `sgr-` + 17 hex digits.
    pub id: String,
    /// Egress (true) or ingress.
    pub egress: bool,
    /// `tcp`, `udp`, `icmp`, `-1` (all) or a protocol number.
    pub protocol: String,
    /// First port (ICMP type); `None` for all.
    pub from_port: Option<i64>,
    /// Last port (ICMP code); `None` for all.
    pub to_port: Option<i64>,
    /// The IPv4 peer, or
    pub cidr: Option<Cidr>,
    /// the referenced security group peer.
    pub group: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}

impl SgRule {
    /// Whether two rules allow the same traffic (same direction, protocol, ports and peer).
    pub fn same_permission(&self, other: &SgRule) -> bool {
        self.egress == other.egress
            && self.protocol == other.protocol
            && self.from_port == other.from_port
            && self.to_port == other.to_port
            && self.cidr == other.cidr
            && self.group == other.group
    }
}

/// A security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    /// `sg-` + 17 hex digits.
    pub id: String,
    /// Name, unique in its VPC.
    pub name: String,
    /// Description.
    pub description: String,
    /// The VPC.
    pub vpc_id: String,
    /// The owning account.
    pub owner: String,
    /// Ingress and egress rules.
    pub rules: Vec<SgRule>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// A route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Destination block.
    pub destination: Cidr,
    /// `local` or an internet gateway id.
    pub gateway_id: String,
    /// `CreateRouteTable` (the local route) or `CreateRoute`.
    pub origin: String,
}

/// A route table's association with a subnet, or the VPC's main association.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Association {
    /// `rtbassoc-` + 17 hex digits.
    pub id: String,
    /// The subnet, for explicit associations.
    pub subnet_id: Option<String>,
    /// Whether this is the VPC's main association.
    pub main: bool,
}

/// A route table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTable {
    /// `rtb-` + 17 hex digits.
    pub id: String,
    /// The VPC.
    pub vpc_id: String,
    /// The owning account.
    pub owner: String,
    /// Routes, the local route first.
    pub routes: Vec<Route>,
    /// Associations.
    pub associations: Vec<Association>,
    /// Tags.
    pub tags: Vec<Tag>,
}

impl RouteTable {
    /// Whether this is its VPC's main route table.
    pub fn is_main(&self) -> bool {
        self.associations.iter().any(|a| a.main)
    }
}

/// An internet gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternetGateway {
    /// `igw-` + 17 hex digits.
    pub id: String,
    /// The VPC it is attached to.
    pub vpc_id: Option<String>,
    /// The owning account.
    pub owner: String,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// A VPC's default network ACL (allow all, then deny all, both directions), associated with
/// every subnet of its VPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAcl {
    /// `acl-` + 17 hex digits.
    pub id: String,
    /// The VPC.
    pub vpc_id: String,
    /// The owning account.
    pub owner: String,
    /// (association id `aclassoc-…`, subnet id).
    pub associations: Vec<(String, String)>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// Everything EC2 stores for one account in one region, kept as one record so that checks
/// across resources (CIDR conflicts, dependencies) and the writes they guard are atomic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionState {
    /// VPCs in creation order.
    pub vpcs: Vec<Vpc>,
    /// Subnets.
    pub subnets: Vec<Subnet>,
    /// Security groups.
    pub security_groups: Vec<SecurityGroup>,
    /// Route tables.
    pub route_tables: Vec<RouteTable>,
    /// Internet gateways.
    pub internet_gateways: Vec<InternetGateway>,
    /// Default network ACLs, one per VPC.
    #[serde(default)]
    pub network_acls: Vec<NetworkAcl>,
}

/// A resource id in AWS's form: `prefix-` and 17 lowercase hex digits.
pub fn new_id(prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    let mut s = format!("{prefix}-");
    for _ in 0..17 {
        s.push(char::from(b"0123456789abcdef"[rng.gen_range(0..16)]));
    }
    s
}

/// The rules every new VPC security group starts with: all egress (and, for a VPC's
/// `default` group, all ingress from the group itself).
pub fn default_rules(group_id: &str, is_default_group: bool) -> Vec<SgRule> {
    let mut rules = Vec::new();
    if is_default_group {
        rules.push(SgRule {
            id: new_id("sgr"),
            egress: false,
            protocol: "-1".into(),
            from_port: None,
            to_port: None,
            cidr: None,
            group: Some(group_id.to_string()),
            description: None,
            tags: vec![],
        });
    }
    rules.push(SgRule {
        id: new_id("sgr"),
        egress: true,
        protocol: "-1".into(),
        from_port: None,
        to_port: None,
        cidr: Some(Cidr { addr: std::net::Ipv4Addr::UNSPECIFIED, prefix: 0 }),
        group: None,
        description: None,
        tags: vec![],
    });
    rules
}

impl RegionState {
    /// Adds a VPC with what AWS creates alongside: its `default` security group and its
    /// main route table with the local route. Returns the VPC's index.
    pub fn add_vpc(&mut self, cidr: Cidr, owner: &str, is_default: bool, tenancy: &str, tags: Vec<Tag>) -> usize {
        let id = new_id("vpc");
        self.vpcs.push(Vpc {
            id: id.clone(),
            cidr,
            cidr_association_id: new_id("vpc-cidr-assoc"),
            is_default,
            owner: owner.into(),
            instance_tenancy: tenancy.into(),
            dhcp_options_id: new_id("dopt"),
            tags,
        });
        let sg = new_id("sg");
        self.security_groups.push(SecurityGroup {
            rules: default_rules(&sg, true),
            id: sg,
            name: "default".into(),
            description: "default VPC security group".into(),
            vpc_id: id.clone(),
            owner: owner.into(),
            tags: vec![],
        });
        self.route_tables.push(RouteTable {
            id: new_id("rtb"),
            vpc_id: id,
            owner: owner.into(),
            routes: vec![Route { destination: cidr, gateway_id: "local".into(), origin: "CreateRouteTable".into() }],
            associations: vec![Association { id: new_id("rtbassoc"), subnet_id: None, main: true }],
            tags: vec![],
        });
        self.network_acls.push(NetworkAcl {
            id: new_id("acl"),
            vpc_id: self.vpcs[self.vpcs.len() - 1].id.clone(),
            owner: owner.into(),
            associations: vec![],
            tags: vec![],
        });
        self.vpcs.len() - 1
    }

    /// Adds a subnet, associated with its VPC's default network ACL.
    pub fn add_subnet(&mut self, subnet: Subnet) {
        if let Some(acl) = self.network_acls.iter_mut().find(|a| a.vpc_id == subnet.vpc_id) {
            acl.associations.push((new_id("aclassoc"), subnet.id.clone()));
        }
        self.subnets.push(subnet);
    }

    /// Removes a subnet and its route table and network ACL associations.
    pub fn remove_subnet(&mut self, id: &str) {
        self.subnets.retain(|n| n.id != id);
        for rt in &mut self.route_tables {
            rt.associations.retain(|a| a.subnet_id.as_deref() != Some(id));
        }
        for acl in &mut self.network_acls {
            acl.associations.retain(|(_, s)| s != id);
        }
    }

    /// A fresh region: the default VPC on `cidr` with one default subnet per zone (the
    /// first sub-blocks four bits longer than the VPC's, as AWS's `/16` → `/20`), an
    /// internet gateway attached and a default route to it in the main route table.
    pub fn bootstrap(cidr: Cidr, owner: &str, zones: &[(String, String)]) -> Self {
        let mut s = RegionState::default();
        let i = s.add_vpc(cidr, owner, true, "default", vec![]);
        let vpc_id = s.vpcs[i].id.clone();
        let sub_prefix = (cidr.prefix + 4).min(28);
        for (n, (zone, zone_id)) in zones.iter().enumerate() {
            let Some(block) = u32::try_from(n).ok().and_then(|n| cidr.subnet(sub_prefix, n)) else { break };
            s.add_subnet(Subnet {
                id: new_id("subnet"),
                vpc_id: vpc_id.clone(),
                cidr: block,
                availability_zone: zone.clone(),
                availability_zone_id: zone_id.clone(),
                default_for_az: true,
                map_public_ip_on_launch: true,
                owner: owner.into(),
                tags: vec![],
            });
        }
        let igw = new_id("igw");
        s.internet_gateways.push(InternetGateway { id: igw.clone(), vpc_id: Some(vpc_id.clone()), owner: owner.into(), tags: vec![] });
        if let Some(rt) = s.route_tables.iter_mut().find(|r| r.vpc_id == vpc_id) {
            rt.routes.push(Route {
                destination: Cidr { addr: std::net::Ipv4Addr::UNSPECIFIED, prefix: 0 },
                gateway_id: igw,
                origin: "CreateRoute".into(),
            });
        }
        s
    }

    /// The tags of any resource by id, for `CreateTags`/`DeleteTags`.
    pub fn tags_mut(&mut self, id: &str) -> Option<&mut Vec<Tag>> {
        if let Some(i) = self.vpcs.iter().position(|v| v.id == id) {
            return Some(&mut self.vpcs[i].tags);
        }
        if let Some(i) = self.subnets.iter().position(|v| v.id == id) {
            return Some(&mut self.subnets[i].tags);
        }
        if let Some(i) = self.security_groups.iter().position(|v| v.id == id) {
            return Some(&mut self.security_groups[i].tags);
        }
        if let Some(i) = self.route_tables.iter().position(|v| v.id == id) {
            return Some(&mut self.route_tables[i].tags);
        }
        if let Some(i) = self.internet_gateways.iter().position(|v| v.id == id) {
            return Some(&mut self.internet_gateways[i].tags);
        }
        if let Some(i) = self.network_acls.iter().position(|v| v.id == id) {
            return Some(&mut self.network_acls[i].tags);
        }
        for g in &mut self.security_groups {
            if let Some(r) = g.rules.iter_mut().find(|r| r.id == id) {
                return Some(&mut r.tags);
            }
        }
        None
    }

    /// Every tagged resource: (id, resource type, tags).
    pub fn all_tags(&self) -> Vec<(&str, &'static str, &[Tag])> {
        let mut out: Vec<(&str, &'static str, &[Tag])> = Vec::new();
        out.extend(self.vpcs.iter().map(|v| (v.id.as_str(), "vpc", v.tags.as_slice())));
        out.extend(self.subnets.iter().map(|v| (v.id.as_str(), "subnet", v.tags.as_slice())));
        out.extend(self.security_groups.iter().map(|v| (v.id.as_str(), "security-group", v.tags.as_slice())));
        out.extend(self.route_tables.iter().map(|v| (v.id.as_str(), "route-table", v.tags.as_slice())));
        out.extend(self.internet_gateways.iter().map(|v| (v.id.as_str(), "internet-gateway", v.tags.as_slice())));
        out.extend(self.network_acls.iter().map(|v| (v.id.as_str(), "network-acl", v.tags.as_slice())));
        for g in &self.security_groups {
            out.extend(g.rules.iter().map(|r| (r.id.as_str(), "security-group-rule", r.tags.as_slice())));
        }
        out.retain(|(_, _, t)| !t.is_empty());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_region_has_the_default_vpc_with_one_subnet_per_zone() {
        let zones: Vec<(String, String)> =
            ["a", "b", "c"].iter().enumerate().map(|(i, z)| (format!("us-east-1{z}"), format!("use1-az{}", i + 1))).collect();
        let s = RegionState::bootstrap("172.31.0.0/16".parse().unwrap(), "123456789012", &zones);
        assert_eq!(s.vpcs.len(), 1);
        assert!(s.vpcs[0].is_default);
        assert!(s.vpcs[0].id.starts_with("vpc-") && s.vpcs[0].id.len() == 21);
        let cidrs: Vec<String> = s.subnets.iter().map(|n| n.cidr.to_string()).collect();
        assert_eq!(cidrs, ["172.31.0.0/20", "172.31.16.0/20", "172.31.32.0/20"]);
        assert_eq!(s.subnets[1].availability_zone, "us-east-1b");
        assert_eq!(s.subnets[0].available_ip_address_count(), 4091);
        assert_eq!(s.security_groups[0].name, "default");
        assert_eq!(s.route_tables[0].routes.len(), 2);
        assert_eq!(s.internet_gateways[0].vpc_id.as_deref(), Some(s.vpcs[0].id.as_str()));
        assert_eq!(s.network_acls[0].associations.len(), 3);
    }
}
