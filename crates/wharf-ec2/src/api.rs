//! The EC2 API (protocol `ec2`, version 2016-11-15) over [`RegionState`]: request decoding
//! (`Name.N` lists, `Filter.N`, `TagSpecification.N`), validation with EC2's error codes,
//! and the XML shapes of botocore's `ec2` model.

use async_trait::async_trait;
use http::StatusCode;
use wharf_aws::xml::XmlWriter;
use wharf_aws::{AwsError, Input, Output, Protocol, QueryParams, RequestContext, Service};

use crate::cidr::Cidr;
use crate::filter::{self, b, Filterable};
use crate::model::*;
use crate::{availability_zones, Ec2};

/// The operations [`Ec2`] serves.
pub const OPERATIONS: &[&str] = &[
    "DescribeAvailabilityZones",
    "CreateVpc",
    "DescribeVpcs",
    "DeleteVpc",
    "CreateSubnet",
    "DescribeSubnets",
    "DeleteSubnet",
    "CreateSecurityGroup",
    "DescribeSecurityGroups",
    "DeleteSecurityGroup",
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "DescribeSecurityGroupRules",
    "CreateRouteTable",
    "DescribeRouteTables",
    "AssociateRouteTable",
    "DisassociateRouteTable",
    "CreateRoute",
    "DeleteRoute",
    "DeleteRouteTable",
    "CreateInternetGateway",
    "AttachInternetGateway",
    "DetachInternetGateway",
    "DescribeInternetGateways",
    "DeleteInternetGateway",
    "DescribeNetworkAcls",
    "CreateTags",
    "DeleteTags",
    "DescribeTags",
];

type R = Result<Output, AwsError>;

fn bad(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::bad_request(code, message)
}

fn invalid(message: impl Into<String>) -> AwsError {
    bad("InvalidParameterValue", message)
}

fn missing(name: &str) -> AwsError {
    bad("MissingParameter", format!("The request must contain the parameter {name}"))
}

fn req<'a>(q: &'a QueryParams, name: &str) -> Result<&'a str, AwsError> {
    q.get(name).filter(|v| !v.is_empty()).ok_or_else(|| missing(name))
}

fn opt_bool(q: &QueryParams, name: &str) -> Result<Option<bool>, AwsError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(invalid(format!("Invalid value '{v}' for {name}. Expected a boolean."))),
    }
}

fn opt_int(q: &QueryParams, name: &str) -> Result<Option<i64>, AwsError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| invalid(format!("Invalid value '{v}' for {name}. Expected an integer."))),
    }
}

fn parse_cidr(value: &str, param: &str) -> Result<Cidr, AwsError> {
    value
        .parse()
        .map_err(|_| invalid(format!("Value ({value}) for parameter {param} is invalid. This is not a valid CIDR block.")))
}

/// NotFound errors by id prefix, with EC2's codes and wording.
fn not_found(id: &str) -> AwsError {
    let (code, what) = match id.split_once('-').map(|(p, _)| p) {
        Some("vpc") => ("InvalidVpcID.NotFound", format!("The vpc ID '{id}' does not exist")),
        Some("subnet") => ("InvalidSubnetID.NotFound", format!("The subnet ID '{id}' does not exist")),
        Some("sg") => ("InvalidGroup.NotFound", format!("The security group '{id}' does not exist")),
        Some("sgr") => ("InvalidSecurityGroupRuleId.NotFound", format!("The security group rule ID '{id}' does not exist")),
        Some("rtb") => ("InvalidRouteTableID.NotFound", format!("The routeTable ID '{id}' does not exist")),
        Some("rtbassoc") => ("InvalidAssociationID.NotFound", format!("The association ID '{id}' does not exist")),
        Some("acl") => ("InvalidNetworkAclID.NotFound", format!("The networkAcl ID '{id}' does not exist")),
        Some("igw") => ("InvalidInternetGatewayID.NotFound", format!("The internetGateway ID '{id}' does not exist")),
        _ => ("InvalidID", format!("The ID '{id}' is not valid")),
    };
    // A known prefix without 8 or 17 hex digits is malformed rather than missing.
    let well_formed = id
        .rsplit_once('-')
        .is_some_and(|(_, hex)| (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if !well_formed && code != "InvalidID" {
        if let Some(kind) = code.strip_suffix(".NotFound") {
            let kind = if kind == "InvalidGroup" { "InvalidGroupId" } else { kind };
            return bad(&format!("{kind}.Malformed"), format!("Invalid id: \"{id}\""));
        }
    }
    bad(code, what)
}

fn dependency(kind: &str, id: &str) -> AwsError {
    bad("DependencyViolation", format!("The {kind} '{id}' has dependencies and cannot be deleted."))
}

fn arn(region: &str, account: &str, kind: &str, id: &str) -> String {
    format!("arn:aws:ec2:{region}:{account}:{kind}/{id}")
}

/// Selects the items named by `ids` (all of them when empty); a missing id is its NotFound.
fn select<T>(items: Vec<T>, ids: &[String], id_of: impl Fn(&T) -> &str) -> Result<Vec<T>, AwsError> {
    if ids.is_empty() {
        return Ok(items);
    }
    if let Some(missing) = ids.iter().find(|id| !items.iter().any(|i| id_of(i) == id.as_str())) {
        return Err(not_found(missing));
    }
    Ok(items.into_iter().filter(|i| ids.iter().any(|id| id_of(i) == id)).collect())
}

/// `MaxResults`/`NextToken` paging over a full result.
fn page<T>(items: Vec<T>, q: &QueryParams) -> Result<(Vec<T>, Option<String>), AwsError> {
    let max = match opt_int(q, "MaxResults")? {
        None => None,
        Some(n) if (5..=1000).contains(&n) => usize::try_from(n).ok(),
        Some(n) => {
            return Err(invalid(format!("Value ( {n} ) for parameter maxResults is invalid. Parameter must be between 5 and 1000.")))
        }
    };
    let start = match q.get("NextToken") {
        None | Some("") => 0,
        Some(t) => t
            .strip_prefix("wharf1.")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| bad("InvalidNextToken", "The token is invalid or has expired"))?,
    };
    let Some(max) = max else {
        return Ok((items.into_iter().skip(start).collect(), None));
    };
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = (start + out.len() < total).then(|| format!("wharf1.{}", start + out.len()));
    Ok((out, next))
}

fn validate_tags(tags: &[Tag]) -> Result<(), AwsError> {
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > 128 {
            return Err(invalid(format!("Tag key '{}' must be 1 to 128 characters long", t.key)));
        }
        if t.value.chars().count() > 256 {
            return Err(invalid(format!("Tag value for key '{}' exceeds 256 characters", t.key)));
        }
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid("Tag keys starting with 'aws:' are reserved for internal use"));
        }
    }
    Ok(())
}

/// `Name.N.Key` / `Name.N.Value` tags.
fn parse_tags(q: &QueryParams, name: &str) -> Result<Vec<Tag>, AwsError> {
    q.structs(name, "")
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let key = t.get("Key").ok_or_else(|| missing(&format!("{name}.{}.Key", i + 1)))?;
            Ok(Tag { key: key.to_string(), value: t.get("Value").unwrap_or("").to_string() })
        })
        .collect()
}

/// Adds tags, replacing the values of existing keys; at most 50 per resource.
fn merge_tags(existing: &mut Vec<Tag>, new: &[Tag]) -> Result<(), AwsError> {
    for t in new {
        match existing.iter_mut().find(|e| e.key == t.key) {
            Some(e) => e.value = t.value.clone(),
            None => existing.push(t.clone()),
        }
    }
    if existing.len() > 50 {
        return Err(bad("TagLimitExceeded", "The maximum number of tags (50) for a resource has been exceeded"));
    }
    Ok(())
}

/// The tags of a create call's `TagSpecification.N` for `resource_type`.
fn tag_specs(q: &QueryParams, resource_type: &str) -> Result<Vec<Tag>, AwsError> {
    let mut tags = Vec::new();
    for ts in q.structs("TagSpecification", "") {
        let rt = ts.get("ResourceType").unwrap_or("");
        if rt != resource_type {
            return Err(invalid(format!("'{rt}' is not a valid taggable resource type for this operation.")));
        }
        merge_tags(&mut tags, &parse_tags(&ts, "Tag")?)?;
    }
    validate_tags(&tags)?;
    Ok(tags)
}

fn write_tags(w: &mut XmlWriter, tags: &[Tag]) {
    if tags.is_empty() {
        return;
    }
    w.open("tagSet");
    for t in tags {
        w.open("item").elem("key", &t.key).elem("value", &t.value).close("item");
    }
    w.close("tagSet");
}

fn yes(v: bool) -> &'static str {
    if v {
        "true"
    } else {
        "false"
    }
}

fn one(v: impl Into<String>) -> Option<Vec<String>> {
    Some(vec![v.into()])
}

impl Filterable for Vpc {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "vpc-id" => one(&self.id),
            "cidr" | "cidr-block-association.cidr-block" | "cidrBlock" => one(self.cidr.to_string()),
            "cidr-block-association.association-id" => one(&self.cidr_association_id),
            "cidr-block-association.state" => one("associated"),
            "is-default" | "isDefault" => one(b(self.is_default)),
            "state" => one("available"),
            "owner-id" => one(&self.owner),
            "dhcp-options-id" => one(&self.dhcp_options_id),
            "instance-tenancy" => one(&self.instance_tenancy),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// A subnet with what its filters and XML need from outside the record.
struct SubnetView {
    s: Subnet,
    arn: String,
}

impl Filterable for SubnetView {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let s = &self.s;
        match name {
            "subnet-id" => one(&s.id),
            "subnet-arn" => one(&self.arn),
            "vpc-id" => one(&s.vpc_id),
            "availability-zone" | "availabilityZone" => one(&s.availability_zone),
            "availability-zone-id" | "availabilityZoneId" => one(&s.availability_zone_id),
            "cidr-block" | "cidr" | "cidrBlock" => one(s.cidr.to_string()),
            "default-for-az" | "defaultForAz" => one(b(s.default_for_az)),
            "map-public-ip-on-launch" => one(b(s.map_public_ip_on_launch)),
            "available-ip-address-count" => one(s.available_ip_address_count().to_string()),
            "state" => one("available"),
            "owner-id" => one(&s.owner),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.s.tags
    }
}

impl Filterable for SecurityGroup {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let cidrs = |egress: bool| -> Vec<String> {
            self.rules.iter().filter(|r| r.egress == egress).filter_map(|r| r.cidr.map(|c| c.to_string())).collect()
        };
        let protocols = |egress: bool| -> Vec<String> {
            self.rules.iter().filter(|r| r.egress == egress).map(|r| r.protocol.clone()).collect()
        };
        let groups = |egress: bool| -> Vec<String> {
            self.rules.iter().filter(|r| r.egress == egress).filter_map(|r| r.group.clone()).collect()
        };
        match name {
            "group-id" => one(&self.id),
            "group-name" => one(&self.name),
            "description" => one(&self.description),
            "vpc-id" => one(&self.vpc_id),
            "owner-id" => one(&self.owner),
            "ip-permission.cidr" => Some(cidrs(false)),
            "ip-permission.protocol" => Some(protocols(false)),
            "ip-permission.group-id" => Some(groups(false)),
            "egress.ip-permission.cidr" => Some(cidrs(true)),
            "egress.ip-permission.protocol" => Some(protocols(true)),
            "egress.ip-permission.group-id" => Some(groups(true)),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// A rule with its group, for `DescribeSecurityGroupRules`.
struct RuleView {
    rule: SgRule,
    group_id: String,
    owner: String,
}

impl Filterable for RuleView {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "group-id" => one(&self.group_id),
            "security-group-rule-id" => one(&self.rule.id),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.rule.tags
    }
}

impl Filterable for RouteTable {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "route-table-id" => one(&self.id),
            "vpc-id" => one(&self.vpc_id),
            "owner-id" => one(&self.owner),
            "association.main" => one(b(self.is_main())),
            "association.subnet-id" => Some(self.associations.iter().filter_map(|a| a.subnet_id.clone()).collect()),
            "association.route-table-association-id" => Some(self.associations.iter().map(|a| a.id.clone()).collect()),
            "association.route-table-id" => Some(self.associations.iter().map(|_| self.id.clone()).collect()),
            "route.destination-cidr-block" => Some(self.routes.iter().map(|r| r.destination.to_string()).collect()),
            "route.gateway-id" => Some(self.routes.iter().map(|r| r.gateway_id.clone()).collect()),
            "route.origin" => Some(self.routes.iter().map(|r| r.origin.clone()).collect()),
            "route.state" => Some(self.routes.iter().map(|_| "active".to_string()).collect()),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

impl Filterable for InternetGateway {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "internet-gateway-id" => one(&self.id),
            "owner-id" => one(&self.owner),
            "attachment.vpc-id" => Some(self.vpc_id.iter().cloned().collect()),
            "attachment.state" => Some(self.vpc_id.iter().map(|_| "available".to_string()).collect()),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

impl Filterable for NetworkAcl {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "network-acl-id" => one(&self.id),
            "vpc-id" => one(&self.vpc_id),
            "owner-id" => one(&self.owner),
            "default" => one("true"),
            "association.subnet-id" => Some(self.associations.iter().map(|(_, s)| s.clone()).collect()),
            "association.association-id" => Some(self.associations.iter().map(|(a, _)| a.clone()).collect()),
            "association.network-acl-id" => Some(self.associations.iter().map(|_| self.id.clone()).collect()),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// An availability zone.
struct Zone {
    name: String,
    id: String,
    region: String,
}

impl Filterable for Zone {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "zone-name" => one(&self.name),
            "zone-id" => one(&self.id),
            "region-name" => one(&self.region),
            "group-name" | "network-border-group" => one(&self.region),
            "state" => one("available"),
            "zone-type" => one("availability-zone"),
            "opt-in-status" => one("opt-in-not-required"),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

/// One tag of one resource, for `DescribeTags`.
struct TagView {
    resource_id: String,
    resource_type: &'static str,
    tag: Tag,
    all: Vec<Tag>,
}

impl Filterable for TagView {
    fn field(&self, name: &str) -> Option<Vec<String>> {
        match name {
            "key" => one(&self.tag.key),
            "value" => one(&self.tag.value),
            "resource-id" => one(&self.resource_id),
            "resource-type" => one(self.resource_type),
            _ => None,
        }
    }
    fn tags(&self) -> &[Tag] {
        &self.all
    }
}

/// One call: the request's context, parameters and the account's region.
struct Call<'a> {
    ec2: &'a Ec2,
    ctx: &'a RequestContext,
    q: &'a QueryParams,
    account: String,
    region: String,
}

impl Call<'_> {
    fn arn(&self, kind: &str, id: &str) -> String {
        arn(&self.region, &self.account, kind, id)
    }

    /// Authorizes `ec2:<Operation>` on `resource` (EC2 names a denial
    /// `UnauthorizedOperation`), then honours `DryRun`.
    async fn authorize(&self, resource: &str) -> Result<(), AwsError> {
        let action = format!("ec2:{}", self.ctx.operation);
        if let Err(e) = self.ctx.authorize(&action, resource).await {
            if e.code == "AccessDenied" {
                return Err(AwsError::new(
                    StatusCode::FORBIDDEN,
                    "UnauthorizedOperation",
                    format!("You are not authorized to perform this operation. {}", e.message),
                ));
            }
            return Err(e);
        }
        if opt_bool(self.q, "DryRun")? == Some(true) {
            return Err(AwsError::new(
                StatusCode::PRECONDITION_FAILED,
                "DryRunOperation",
                "Request would have succeeded, but DryRun flag is set.",
            ));
        }
        Ok(())
    }

    async fn state(&self) -> Result<RegionState, AwsError> {
        self.ec2.region_state(&self.account, &self.region).await.map_err(AwsError::internal)
    }

    async fn update<T>(&self, f: impl FnMut(&mut RegionState) -> Result<T, AwsError>) -> Result<T, AwsError> {
        self.ec2.update(&self.account, &self.region, f).await
    }

    fn filters(&self) -> Result<Vec<filter::Filter>, AwsError> {
        filter::parse(self.q)
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.q.list(name, "")
    }

    fn finish_list(&self, w: &mut XmlWriter, next: Option<String>) {
        if let Some(n) = next {
            w.elem("nextToken", n);
        }
    }

    // ---- availability zones ----

    async fn describe_availability_zones(&self) -> R {
        self.authorize("*").await?;
        let zones: Vec<Zone> = availability_zones(&self.region)
            .into_iter()
            .map(|(name, id)| Zone { name, id, region: self.region.clone() })
            .collect();
        let names = self.list("ZoneName");
        if let Some(n) = names.iter().find(|n| !zones.iter().any(|z| &z.name == *n)) {
            return Err(invalid(format!("Invalid availability zone: [{n}]")));
        }
        let ids = self.list("ZoneId");
        if let Some(n) = ids.iter().find(|n| !zones.iter().any(|z| &z.id == *n)) {
            return Err(invalid(format!("Invalid availability zone ID: [{n}]")));
        }
        let zones: Vec<Zone> = zones
            .into_iter()
            .filter(|z| (names.is_empty() || names.contains(&z.name)) && (ids.is_empty() || ids.contains(&z.id)))
            .collect();
        let zones = filter::apply(zones, &self.filters()?)?;
        let mut w = XmlWriter::new();
        w.open("availabilityZoneInfo");
        for z in zones {
            w.open("item")
                .elem("optInStatus", "opt-in-not-required")
                .elem("zoneName", &z.name)
                .elem("zoneId", &z.id)
                .elem("zoneState", "available")
                .elem("regionName", &z.region)
                .elem("groupName", &z.region)
                .elem("networkBorderGroup", &z.region)
                .elem("zoneType", "availability-zone")
                .close("item");
        }
        w.close("availabilityZoneInfo");
        Ok(Output::Xml(w.finish()))
    }

    // ---- VPCs ----

    fn write_vpc(w: &mut XmlWriter, v: &Vpc) {
        w.elem("vpcId", &v.id)
            .elem("ownerId", &v.owner)
            .elem("state", "available")
            .elem("cidrBlock", v.cidr.to_string())
            .open("cidrBlockAssociationSet")
            .open("item")
            .elem("cidrBlock", v.cidr.to_string())
            .elem("associationId", &v.cidr_association_id)
            .open("cidrBlockState")
            .elem("state", "associated")
            .close("cidrBlockState")
            .close("item")
            .close("cidrBlockAssociationSet")
            .elem("dhcpOptionsId", &v.dhcp_options_id)
            .elem("instanceTenancy", &v.instance_tenancy)
            .elem("isDefault", yes(v.is_default));
        write_tags(w, &v.tags);
    }

    async fn create_vpc(&self) -> R {
        self.authorize(&self.arn("vpc", "*")).await?;
        let raw = req(self.q, "CidrBlock")?;
        let cidr = parse_cidr(raw, "cidrBlock")?;
        if !(16..=28).contains(&cidr.prefix) {
            return Err(bad("InvalidVpc.Range", format!("The CIDR '{raw}' is invalid.")));
        }
        if opt_bool(self.q, "AmazonProvidedIpv6CidrBlock")? == Some(true) || self.q.get("Ipv6CidrBlock").is_some() {
            return Err(bad("UnsupportedOperation", "IPv6 VPC blocks are not supported"));
        }
        let tenancy = self.q.get("InstanceTenancy").unwrap_or("default").to_string();
        if tenancy != "default" && tenancy != "dedicated" {
            return Err(invalid(format!("Value ({tenancy}) for parameter instanceTenancy is invalid.")));
        }
        let tags = tag_specs(self.q, "vpc")?;
        let vpc = self
            .update(|s| {
                let i = s.add_vpc(cidr, &self.account, false, &tenancy, tags.clone());
                Ok(s.vpcs[i].clone())
            })
            .await?;
        let mut w = XmlWriter::new();
        w.open("vpc");
        Self::write_vpc(&mut w, &vpc);
        w.close("vpc");
        Ok(Output::Xml(w.finish()))
    }

    async fn describe_vpcs(&self) -> R {
        self.authorize("*").await?;
        let s = self.state().await?;
        let vpcs = select(s.vpcs, &self.list("VpcId"), |v| &v.id)?;
        let vpcs = filter::apply(vpcs, &self.filters()?)?;
        let (vpcs, next) = page(vpcs, self.q)?;
        let mut w = XmlWriter::new();
        w.open("vpcSet");
        for v in &vpcs {
            w.open("item");
            Self::write_vpc(&mut w, v);
            w.close("item");
        }
        w.close("vpcSet");
        self.finish_list(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    async fn delete_vpc(&self) -> R {
        let id = req(self.q, "VpcId")?.to_string();
        self.authorize(&self.arn("vpc", &id)).await?;
        self.update(|s| {
            if !s.vpcs.iter().any(|v| v.id == id) {
                return Err(not_found(&id));
            }
            let blocked = s.subnets.iter().any(|n| n.vpc_id == id)
                || s.security_groups.iter().any(|g| g.vpc_id == id && g.name != "default")
                || s.internet_gateways.iter().any(|g| g.vpc_id.as_deref() == Some(id.as_str()))
                || s.route_tables.iter().any(|r| r.vpc_id == id && !r.is_main());
            if blocked {
                return Err(dependency("vpc", &id));
            }
            s.vpcs.retain(|v| v.id != id);
            s.security_groups.retain(|g| g.vpc_id != id);
            s.route_tables.retain(|r| r.vpc_id != id);
            s.network_acls.retain(|a| a.vpc_id != id);
            Ok(())
        })
        .await?;
        Ok(Output::Xml("<return>true</return>".into()))
    }

    // ---- subnets ----

    fn write_subnet(&self, w: &mut XmlWriter, s: &Subnet) {
        w.elem("subnetId", &s.id)
            .elem("subnetArn", self.arn("subnet", &s.id))
            .elem("state", "available")
            .elem("vpcId", &s.vpc_id)
            .elem("cidrBlock", s.cidr.to_string())
            .elem("availableIpAddressCount", s.available_ip_address_count().to_string())
            .elem("availabilityZone", &s.availability_zone)
            .elem("availabilityZoneId", &s.availability_zone_id)
            .elem("defaultForAz", yes(s.default_for_az))
            .elem("mapPublicIpOnLaunch", yes(s.map_public_ip_on_launch))
            .elem("mapCustomerOwnedIpOnLaunch", "false")
            .elem("ownerId", &s.owner)
            .elem("assignIpv6AddressOnCreation", "false")
            .elem("enableDns64", "false")
            .elem("ipv6Native", "false")
            .open("privateDnsNameOptionsOnLaunch")
            .elem("hostnameType", "ip-name")
            .elem("enableResourceNameDnsARecord", "false")
            .elem("enableResourceNameDnsAAAARecord", "false")
            .close("privateDnsNameOptionsOnLaunch");
        write_tags(w, &s.tags);
    }

    async fn create_subnet(&self) -> R {
        self.authorize(&self.arn("subnet", "*")).await?;
        let vpc_id = req(self.q, "VpcId")?.to_string();
        let raw = req(self.q, "CidrBlock")?.to_string();
        let cidr = parse_cidr(&raw, "cidrBlock")?;
        let zones = availability_zones(&self.region);
        let zone_list = || zones.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
        let wanted = match (self.q.get("AvailabilityZone"), self.q.get("AvailabilityZoneId")) {
            (Some(z), _) => Some(zones.iter().find(|(n, _)| n == z).cloned().ok_or_else(|| {
                invalid(format!(
                    "Value ({z}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: {}.",
                    zone_list()
                ))
            })?),
            (None, Some(z)) => Some(zones.iter().find(|(_, id)| id == z).cloned().ok_or_else(|| {
                invalid(format!("Value ({z}) for parameter availabilityZoneId is invalid."))
            })?),
            (None, None) => None,
        };
        let tags = tag_specs(self.q, "subnet")?;
        let subnet = self
            .update(|s| {
                let vpc = s.vpcs.iter().find(|v| v.id == vpc_id).ok_or_else(|| not_found(&vpc_id))?;
                if !(16..=28).contains(&cidr.prefix) || !vpc.cidr.contains(&cidr) {
                    return Err(bad("InvalidSubnet.Range", format!("The CIDR '{raw}' is invalid.")));
                }
                if s.subnets.iter().any(|n| n.vpc_id == vpc_id && n.cidr.overlaps(&cidr)) {
                    return Err(bad("InvalidSubnet.Conflict", format!("The CIDR '{raw}' conflicts with another subnet")));
                }
                // Without a zone, AWS picks one; Wharf picks the one with the fewest subnets.
                let (zone, zone_id) = match &wanted {
                    Some(z) => z.clone(),
                    None => zones
                        .iter()
                        .min_by_key(|(n, _)| s.subnets.iter().filter(|x| x.vpc_id == vpc_id && &x.availability_zone == n).count())
                        .cloned()
                        .ok_or_else(|| AwsError::internal("region without zones"))?,
                };
                let subnet = Subnet {
                    id: new_id("subnet"),
                    vpc_id: vpc_id.clone(),
                    cidr,
                    availability_zone: zone,
                    availability_zone_id: zone_id,
                    default_for_az: false,
                    map_public_ip_on_launch: false,
                    owner: self.account.clone(),
                    tags: tags.clone(),
                };
                s.add_subnet(subnet.clone());
                Ok(subnet)
            })
            .await?;
        let mut w = XmlWriter::new();
        w.open("subnet");
        self.write_subnet(&mut w, &subnet);
        w.close("subnet");
        Ok(Output::Xml(w.finish()))
    }

    async fn describe_subnets(&self) -> R {
        self.authorize("*").await?;
        let s = self.state().await?;
        let subnets = select(s.subnets, &self.list("SubnetId"), |n| &n.id)?;
        let views: Vec<SubnetView> =
            subnets.into_iter().map(|s| SubnetView { arn: self.arn("subnet", &s.id), s }).collect();
        let views = filter::apply(views, &self.filters()?)?;
        let (views, next) = page(views, self.q)?;
        let mut w = XmlWriter::new();
        w.open("subnetSet");
        for v in &views {
            w.open("item");
            self.write_subnet(&mut w, &v.s);
            w.close("item");
        }
        w.close("subnetSet");
        self.finish_list(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    async fn delete_subnet(&self) -> R {
        let id = req(self.q, "SubnetId")?.to_string();
        self.authorize(&self.arn("subnet", &id)).await?;
        self.update(|s| {
            if !s.subnets.iter().any(|n| n.id == id) {
                return Err(not_found(&id));
            }
            s.remove_subnet(&id);
            Ok(())
        })
        .await?;
        Ok(Output::Xml("<return>true</return>".into()))
    }

    // ---- security groups ----

    /// The group a request names by `GroupId`, or by `GroupName` in the default VPC.
    fn resolve_group(&self, s: &RegionState) -> Result<usize, AwsError> {
        if let Some(id) = self.q.get("GroupId") {
            return s.security_groups.iter().position(|g| g.id == id).ok_or_else(|| not_found(id));
        }
        let Some(name) = self.q.get("GroupName") else {
            return Err(missing("GroupId or GroupName"));
        };
        let Some(vpc) = s.vpcs.iter().find(|v| v.is_default) else {
            return Err(bad("VPCIdNotSpecified", "No default VPC for this user"));
        };
        s.security_groups.iter().position(|g| g.vpc_id == vpc.id && g.name == name).ok_or_else(|| {
            bad("InvalidGroup.NotFound", format!("The security group '{name}' does not exist in default VPC '{}'", vpc.id))
        })
    }

    async fn create_security_group(&self) -> R {
        self.authorize(&self.arn("security-group", "*")).await?;
        let name = req(self.q, "GroupName")?.to_string();
        let description = req(self.q, "GroupDescription")?.to_string();
        if name.len() > 255 || description.len() > 255 {
            return Err(invalid("Group name and description must be at most 255 characters"));
        }
        if name.starts_with("sg-") {
            return Err(invalid("Group names may not be in the format sg-*"));
        }
        if name == "default" {
            return Err(bad("InvalidGroup.Reserved", "The security group 'default' is reserved"));
        }
        let vpc_param = self.q.get("VpcId").map(str::to_string);
        let tags = tag_specs(self.q, "security-group")?;
        let group = self
            .update(|s| {
                let vpc_id = match &vpc_param {
                    Some(v) => s.vpcs.iter().find(|x| &x.id == v).map(|x| x.id.clone()).ok_or_else(|| not_found(v))?,
                    None => s
                        .vpcs
                        .iter()
                        .find(|x| x.is_default)
                        .map(|x| x.id.clone())
                        .ok_or_else(|| bad("VPCIdNotSpecified", "No default VPC for this user"))?,
                };
                if s.security_groups.iter().any(|g| g.vpc_id == vpc_id && g.name == name) {
                    return Err(bad("InvalidGroup.Duplicate", format!("The security group '{name}' already exists for VPC '{vpc_id}'")));
                }
                let id = new_id("sg");
                let g = SecurityGroup {
                    rules: default_rules(&id, false),
                    id,
                    name: name.clone(),
                    description: description.clone(),
                    vpc_id,
                    owner: self.account.clone(),
                    tags: tags.clone(),
                };
                s.security_groups.push(g.clone());
                Ok(g)
            })
            .await?;
        let mut w = XmlWriter::new();
        w.elem("return", "true").elem("groupId", &group.id).elem("securityGroupArn", self.arn("security-group", &group.id));
        write_tags(&mut w, &group.tags);
        Ok(Output::Xml(w.finish()))
    }

    fn write_permissions(&self, w: &mut XmlWriter, tag: &str, rules: &[&SgRule]) {
        // EC2 groups rules by protocol and port range; each group lists its peers.
        let mut keys: Vec<(String, Option<i64>, Option<i64>)> = Vec::new();
        for r in rules {
            let k = (r.protocol.clone(), r.from_port, r.to_port);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        w.open(tag);
        for (proto, from, to) in keys {
            let members: Vec<&&SgRule> =
                rules.iter().filter(|r| r.protocol == proto && r.from_port == from && r.to_port == to).collect();
            w.open("item").elem("ipProtocol", &proto);
            if let Some(f) = from {
                w.elem("fromPort", f.to_string());
            }
            if let Some(t) = to {
                w.elem("toPort", t.to_string());
            }
            w.open("groups");
            for r in members.iter().filter(|r| r.group.is_some()) {
                w.open("item").elem("userId", &self.account).opt("groupId", r.group.as_ref()).opt("description", r.description.as_ref()).close("item");
            }
            w.close("groups").open("ipRanges");
            for r in members.iter().filter(|r| r.cidr.is_some()) {
                w.open("item").opt("cidrIp", r.cidr.map(|c| c.to_string())).opt("description", r.description.as_ref()).close("item");
            }
            w.close("ipRanges").raw("<ipv6Ranges/><prefixListIds/>").close("item");
        }
        w.close(tag);
    }

    fn write_group(&self, w: &mut XmlWriter, g: &SecurityGroup) {
        w.elem("ownerId", &g.owner)
            .elem("groupId", &g.id)
            .elem("groupName", &g.name)
            .elem("groupDescription", &g.description)
            .elem("vpcId", &g.vpc_id)
            .elem("securityGroupArn", self.arn("security-group", &g.id));
        let ingress: Vec<&SgRule> = g.rules.iter().filter(|r| !r.egress).collect();
        let egress: Vec<&SgRule> = g.rules.iter().filter(|r| r.egress).collect();
        self.write_permissions(w, "ipPermissions", &ingress);
        self.write_permissions(w, "ipPermissionsEgress", &egress);
        write_tags(w, &g.tags);
    }

    async fn describe_security_groups(&self) -> R {
        self.authorize("*").await?;
        let s = self.state().await?;
        let default_vpc = s.vpcs.iter().find(|v| v.is_default).map(|v| v.id.clone());
        let mut groups = select(s.security_groups, &self.list("GroupId"), |g| &g.id)?;
        let names = self.list("GroupName");
        if !names.is_empty() {
            let Some(dv) = default_vpc else {
                return Err(bad("VPCIdNotSpecified", "No default VPC for this user"));
            };
            if let Some(n) = names.iter().find(|n| !groups.iter().any(|g| g.vpc_id == dv && &g.name == *n)) {
                return Err(bad("InvalidGroup.NotFound", format!("The security group '{n}' does not exist in default VPC '{dv}'")));
            }
            groups.retain(|g| g.vpc_id == dv && names.contains(&g.name));
        }
        let groups = filter::apply(groups, &self.filters()?)?;
        let (groups, next) = page(groups, self.q)?;
        let mut w = XmlWriter::new();
        w.open("securityGroupInfo");
        for g in &groups {
            w.open("item");
            self.write_group(&mut w, g);
            w.close("item");
        }
        w.close("securityGroupInfo");
        self.finish_list(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    async fn delete_security_group(&self) -> R {
        let target = self.q.get("GroupId").unwrap_or("*").to_string();
        self.authorize(&self.arn("security-group", &target)).await?;
        let id = self
            .update(|s| {
                let i = self.resolve_group(s)?;
                let g = &s.security_groups[i];
                if g.name == "default" {
                    return Err(bad(
                        "CannotDelete",
                        format!("the specified group: \"{}\" name: \"default\" cannot be deleted by a user", g.id),
                    ));
                }
                let id = g.id.clone();
                let referenced = s
                    .security_groups
                    .iter()
                    .filter(|o| o.id != id)
                    .any(|o| o.rules.iter().any(|r| r.group.as_deref() == Some(id.as_str())));
                if referenced {
                    return Err(bad("DependencyViolation", format!("resource {id} has a dependent object")));
                }
                s.security_groups.remove(i);
                Ok(id)
            })
            .await?;
        let mut w = XmlWriter::new();
        w.elem("return", "true").elem("groupId", id);
        Ok(Output::Xml(w.finish()))
    }

    /// The rules a request describes (`IpPermissions.N` or the flat legacy parameters),
    /// each peer a rule; group peers resolved in `vpc_id`.
    fn requested_rules(&self, s: &RegionState, egress: bool, vpc_id: &str) -> Result<Vec<SgRule>, AwsError> {
        let mut perms = self.q.structs("IpPermissions", "");
        if perms.is_empty() && self.q.get("IpProtocol").is_some() {
            let mut flat = Vec::new();
            for k in ["IpProtocol", "FromPort", "ToPort"] {
                if let Some(v) = self.q.get(k) {
                    flat.push((k.to_string(), v.to_string()));
                }
            }
            if let Some(c) = self.q.get("CidrIp") {
                flat.push(("IpRanges.1.CidrIp".into(), c.to_string()));
            }
            if let Some(g) = self.q.get("SourceSecurityGroupName") {
                flat.push(("Groups.1.GroupName".into(), g.to_string()));
            }
            perms.push(QueryParams(flat));
        }
        let mut rules = Vec::new();
        for p in perms {
            if p.0.iter().any(|(k, _)| k.starts_with("Ipv6Ranges") || k.starts_with("PrefixListIds")) {
                return Err(invalid("IPv6 ranges and prefix lists are not supported"));
            }
            let proto = normalize_protocol(p.get("IpProtocol").ok_or_else(|| missing("IpPermissions.N.IpProtocol"))?)?;
            let (from, to) = ports(&proto, opt_int(&p, "FromPort")?, opt_int(&p, "ToPort")?)?;
            let base = SgRule {
                id: String::new(),
                egress,
                protocol: proto,
                from_port: from,
                to_port: to,
                cidr: None,
                group: None,
                description: None,
                tags: vec![],
            };
            let before = rules.len();
            for r in p.structs("IpRanges", "") {
                let raw = r.get("CidrIp").ok_or_else(|| missing("IpRanges.N.CidrIp"))?;
                let cidr: Cidr = raw.parse().map_err(|_| invalid(format!("CIDR block {raw} is malformed")))?;
                rules.push(SgRule { id: new_id("sgr"), cidr: Some(cidr), description: r.get("Description").map(str::to_string), ..base.clone() });
            }
            for g in p.structs("Groups", "") {
                let id = match (g.get("GroupId"), g.get("GroupName")) {
                    (Some(id), _) => s.security_groups.iter().find(|x| x.id == id).map(|x| x.id.clone()).ok_or_else(|| not_found(id))?,
                    (None, Some(name)) => s
                        .security_groups
                        .iter()
                        .find(|x| x.vpc_id == vpc_id && x.name == name)
                        .map(|x| x.id.clone())
                        .ok_or_else(|| bad("InvalidGroup.NotFound", format!("The security group '{name}' does not exist")))?,
                    (None, None) => return Err(missing("Groups.N.GroupId")),
                };
                rules.push(SgRule { id: new_id("sgr"), group: Some(id), description: g.get("Description").map(str::to_string), ..base.clone() });
            }
            if rules.len() == before {
                return Err(missing("IpPermissions.N.IpRanges or IpPermissions.N.Groups"));
            }
        }
        if rules.is_empty() {
            return Err(missing("IpPermissions"));
        }
        Ok(rules)
    }

    fn write_rule(&self, w: &mut XmlWriter, group_id: &str, owner: &str, r: &SgRule) {
        w.elem("securityGroupRuleId", &r.id)
            .elem("groupId", group_id)
            .elem("groupOwnerId", owner)
            .elem("isEgress", yes(r.egress))
            .elem("ipProtocol", &r.protocol)
            .elem("fromPort", r.from_port.unwrap_or(-1).to_string())
            .elem("toPort", r.to_port.unwrap_or(-1).to_string());
        if let Some(c) = r.cidr {
            w.elem("cidrIpv4", c.to_string());
        }
        if let Some(g) = &r.group {
            w.open("referencedGroupInfo").elem("groupId", g).elem("userId", owner).close("referencedGroupInfo");
        }
        w.opt("description", r.description.as_ref()).elem("securityGroupRuleArn", self.arn("security-group-rule", &r.id));
        write_tags(w, &r.tags);
    }

    async fn authorize_rules(&self, egress: bool) -> R {
        let target = self.q.get("GroupId").unwrap_or("*").to_string();
        self.authorize(&self.arn("security-group", &target)).await?;
        let tags = tag_specs(self.q, "security-group-rule")?;
        let (group_id, owner, added) = self
            .update(|s| {
                let i = self.resolve_group(s)?;
                let vpc = s.security_groups[i].vpc_id.clone();
                let mut new = self.requested_rules(s, egress, &vpc)?;
                let g = &mut s.security_groups[i];
                // Rules pushed earlier in this request count as existing: duplicates within
                // one request are refused too.
                for r in new.iter_mut() {
                    if g.rules.iter().any(|e| e.same_permission(r)) {
                        return Err(duplicate(r));
                    }
                    r.tags = tags.clone();
                    g.rules.push(r.clone());
                }
                Ok((g.id.clone(), g.owner.clone(), new))
            })
            .await?;
        let mut w = XmlWriter::new();
        w.elem("return", "true").open("securityGroupRuleSet");
        for r in &added {
            w.open("item");
            self.write_rule(&mut w, &group_id, &owner, r);
            w.close("item");
        }
        w.close("securityGroupRuleSet");
        Ok(Output::Xml(w.finish()))
    }

    async fn revoke_rules(&self, egress: bool) -> R {
        let target = self.q.get("GroupId").unwrap_or("*").to_string();
        self.authorize(&self.arn("security-group", &target)).await?;
        let rule_ids = self.list("SecurityGroupRuleId");
        self.update(|s| {
            let i = self.resolve_group(s)?;
            let vpc = s.security_groups[i].vpc_id.clone();
            let gone: Vec<SgRule> = if rule_ids.is_empty() { self.requested_rules(s, egress, &vpc)? } else { Vec::new() };
            let g = &mut s.security_groups[i];
            for id in &rule_ids {
                match g.rules.iter().position(|r| &r.id == id && r.egress == egress) {
                    Some(p) => {
                        g.rules.remove(p);
                    }
                    None => return Err(not_found(id)),
                }
            }
            for r in &gone {
                match g.rules.iter().position(|e| e.same_permission(r)) {
                    Some(p) => {
                        g.rules.remove(p);
                    }
                    None => {
                        return Err(bad("InvalidPermission.NotFound", "The specified rule does not exist in this security group."))
                    }
                }
            }
            Ok(())
        })
        .await?;
        Ok(Output::Xml("<return>true</return>".into()))
    }

    async fn describe_security_group_rules(&self) -> R {
        self.authorize("*").await?;
        let s = self.state().await?;
        let mut views = Vec::new();
        for g in &s.security_groups {
            for r in &g.rules {
                views.push(RuleView { rule: r.clone(), group_id: g.id.clone(), owner: g.owner.clone() });
            }
        }
        let views = select(views, &self.list("SecurityGroupRuleId"), |v| &v.rule.id)?;
        let views = filter::apply(views, &self.filters()?)?;
        let (views, next) = page(views, self.q)?;
        let mut w = XmlWriter::new();
        w.open("securityGroupRuleSet");
        for v in &views {
            w.open("item");
            self.write_rule(&mut w, &v.group_id, &v.owner, &v.rule);
            w.close("item");
        }
        w.close("securityGroupRuleSet");
        self.finish_list(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    // ---- route tables ----

    fn write_route_table(w: &mut XmlWriter, t: &RouteTable) {
        w.elem("routeTableId", &t.id).elem("vpcId", &t.vpc_id).elem("ownerId", &t.owner).open("routeSet");
        for r in &t.routes {
            w.open("item")
                .elem("destinationCidrBlock", r.destination.to_string())
                .elem("gatewayId", &r.gateway_id)
                .elem("state", "active")
                .elem("origin", &r.origin)
                .close("item");
        }
        w.close("routeSet").open("associationSet");
        for a in &t.associations {
            w.open("item")
                .elem("routeTableAssociationId", &a.id)
                .elem("routeTableId", &t.id)
                .opt("subnetId", a.subnet_id.as_ref())
                .elem("main", yes(a.main))
                .open("associationState")
                .elem("state", "associated")
                .close("associationState")
                .close("item");
        }
        w.close("associationSet").raw("<propagatingVgwSet/>");
        write_tags(w, &t.tags);
    }

    async fn create_route_table(&self) -> R {
        self.authorize(&self.arn("route-table", "*")).await?;
        let vpc_id = req(self.q, "VpcId")?.to_string();
        let tags = tag_specs(self.q, "route-table")?;
        let t = self
            .update(|s| {
                let vpc = s.vpcs.iter().find(|v| v.id == vpc_id).ok_or_else(|| not_found(&vpc_id))?;
                let t = RouteTable {
                    id: new_id("rtb"),
                    vpc_id: vpc_id.clone(),
                    owner: self.account.clone(),
                    routes: vec![Route { destination: vpc.cidr, gateway_id: "local".into(), origin: "CreateRouteTable".into() }],
                    associations: vec![],
                    tags: tags.clone(),
                };
                s.route_tables.push(t.clone());
                Ok(t)
            })
            .await?;
        let mut w = XmlWriter::new();
        w.open("routeTable");
        Self::write_route_table(&mut w, &t);
        w.close("routeTable");
        Ok(Output::Xml(w.finish()))
    }

    async fn describe_route_tables(&self) -> R {
        self.authorize("*").await?;
        let s = self.state().await?;
        let tables = select(s.route_tables, &self.list("RouteTableId"), |t| &t.id)?;
        let tables = filter::apply(tables, &self.filters()?)?;
        let (tables, next) = page(tables, self.q)?;
        let mut w = XmlWriter::new();
        w.open("routeTableSet");
        for t in &tables {
            w.open("item");
            Self::write_route_table(&mut w, t);
            w.close("item");
        }
        w.close("routeTableSet");
        self.finish_list(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    async fn associate_route_table(&self) -> R {
        let rtb = req(self.q, "RouteTableId")?.to_string();
        self.authorize(&self.arn("route-table", &rtb)).await?;
        let subnet_id = req(self.q, "SubnetId")?.to_string();
        let id = self
            .update(|s| {
                let subnet = s.subnets.iter().find(|n| n.id == subnet_id).ok_or_else(|| not_found(&subnet_id))?;
                let vpc = subnet.vpc_id.clone();
                let t = s.route_tables.iter().find(|t| t.id == rtb).ok_or_else(|| not_found(&rtb))?;
                if t.vpc_id != vpc {
                    return Err(invalid(format!("Route table {rtb} and subnet {subnet_id} belong to different networks")));
                }
                if s.route_tables.iter().any(|t| t.associations.iter().any(|a| a.subnet_id.as_deref() == Some(subnet_id.as_str()))) {
                    return Err(bad(
                        "Resource.AlreadyAssociated",
                        format!("the specified association for route table {rtb} conflicts with an existing association"),
                    ));
                }
                let id = new_id("rtbassoc");
                if let Some(t) = s.route_tables.iter_mut().find(|t| t.id == rtb) {
                    t.associations.push(Association { id: id.clone(), subnet_id: Some(subnet_id.clone()), main: false });
                }
                Ok(id)
            })
            .await?;
        let mut w = XmlWriter::new();
        w.elem("associationId", id).open("associationState").elem("state", "associated").close("associationState");
        Ok(Output::Xml(w.finish()))
    }

    async fn disassociate_route_table(&self) -> R {
        self.authorize(&self.arn("route-table", "*")).await?;
        let assoc = req(self.q, "AssociationId")?.to_string();
        self.update(|s| {
            for t in &mut s.route_tables {
                if let Some(p) = t.associations.iter().position(|a| a.id == assoc) {
                    if t.associations[p].main {
                        return Err(invalid(format!("cannot disassociate the main route table association {assoc}")));
                    }
                    t.associations.remove(p);
                    return Ok(());
                }
            }
            Err(not_found(&assoc))
        })
        .await?;
        Ok(Output::Xml("<return>true</return>".into()))
    }

    async fn create_route(&self) -> R {
        let rtb = req(self.q, "RouteTableId")?.to_string();
        self.authorize(&self.arn("route-table", &rtb)).await?;
        let raw = req(self.q, "DestinationCidrBlock")?.to_string();
        let dest = parse_cidr(&raw, "destinationCidrBlock")?;
        let other_targets = ["NatGatewayId", "InstanceId", "NetworkInterfaceId", "VpcPeeringConnectionId", "TransitGatewayId", "EgressOnlyInternetGatewayId", "LocalGatewayId", "CarrierGatewayId", "VpcEndpointId", "CoreNetworkArn"];
        if other_targets.iter().any(|k| self.q.get(k).is_some()) {
            return Err(invalid("Wharf routes only to internet gateways (GatewayId)"));
        }
        let gw = req(self.q, "GatewayId")?.to_string();
        self.update(|s| {
            let t = s.route_tables.iter().find(|t| t.id == rtb).ok_or_else(|| not_found(&rtb))?;
            let g = s.internet_gateways.iter().find(|g| g.id == gw).ok_or_else(|| {
                bad("InvalidGatewayID.NotFound", format!("The gateway ID '{gw}' does not exist"))
            })?;
            if g.vpc_id.as_deref() != Some(t.vpc_id.as_str()) {
                return Err(invalid(format!("route table {rtb} and network gateway {gw} belong to different networks")));
            }
            if t.routes.iter().any(|r| r.destination == dest) {
                return Err(bad("RouteAlreadyExists", format!("The route identified by {raw} already exists.")));
            }
            if let Some(t) = s.route_tables.iter_mut().find(|t| t.id == rtb) {
                t.routes.push(Route { destination: dest, gateway_id: gw.clone(), origin: "CreateRoute".into() });
            }
            Ok(())
        })
        .await?;
        Ok(Output::Xml("<return>true</return>".into()))
    }

    async fn delete_route(&self) -> R {
        let rtb = req(self.q, "RouteTableId")?.to_string();
        self.authorize(&self.arn("route-table", &rtb)).await?;
        let raw = req(self.q, "DestinationCidrBlock")?.to_string();
        let dest = parse_cidr(&raw, "destinationCidrBlock")?;
        self.update(|s| {
            let t = s.route_tables.iter_mut().find(|t| t.id == rtb).ok_or_else(|| not_found(&rtb))?;
            let p = t.routes.iter().position(|r| r.destination == dest).ok_or_else(|| {
                bad("InvalidRoute.NotFound", format!("no route with destination-cidr-block {raw} in route table {rtb}"))
            })?;
            if t.routes[p].gateway_id == "local" {
                return Err(invalid(format!("cannot remove local route {raw} in route table {rtb}")));
            }
            t.routes.remove(p);
            Ok(())
        })
        .await?;
        Ok(Output::Xml("<return>true</return>".into()))
    }

    async fn delete_route_table(&self) -> R {
        let rtb = req(self.q, "RouteTableId")?.to_string();
        self.authorize(&self.arn("route-table", &rtb)).await?;
        self.update(|s| {
            let t = s.route_tables.iter().find(|t| t.id == rtb).ok_or_else(|| not_found(&rtb))?;
            if !t.associations.is_empty() {
                return Err(dependency("routeTable", &rtb));
            }
            s.route_tables.retain(|t| t.id != rtb);
            Ok(())
        })
        .await?;
        Ok(Output::Xml("<return>true</return>".into()))
    }

    // ---- internet gateways ----

    fn write_igw(w: &mut XmlWriter, g: &InternetGateway) {
        w.elem("internetGatewayId", &g.id).elem("ownerId", &g.owner).open("attachmentSet");
        if let Some(v) = &g.vpc_id {
            w.open("item").elem("vpcId", v).elem("state", "available").close("item");
        }
        w.close("attachmentSet");
        write_tags(w, &g.tags);
    }

    async fn create_internet_gateway(&self) -> R {
        self.authorize(&self.arn("internet-gateway", "*")).await?;
        let tags = tag_specs(self.q, "internet-gateway")?;
        let g = self
            .update(|s| {
                let g = InternetGateway { id: new_id("igw"), vpc_id: None, owner: self.account.clone(), tags: tags.clone() };
                s.internet_gateways.push(g.clone());
                Ok(g)
            })
            .await?;
        let mut w = XmlWriter::new();
        w.open("internetGateway");
        Self::write_igw(&mut w, &g);
        w.close("internetGateway");
        Ok(Output::Xml(w.finish()))
    }

    async fn describe_internet_gateways(&self) -> R {
        self.authorize("*").await?;
        let s = self.state().await?;
        let gws = select(s.internet_gateways, &self.list("InternetGatewayId"), |g| &g.id)?;
        let gws = filter::apply(gws, &self.filters()?)?;
        let (gws, next) = page(gws, self.q)?;
        let mut w = XmlWriter::new();
        w.open("internetGatewaySet");
        for g in &gws {
            w.open("item");
            Self::write_igw(&mut w, g);
            w.close("item");
        }
        w.close("internetGatewaySet");
        self.finish_list(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    async fn attach_internet_gateway(&self, attach: bool) -> R {
        let igw = req(self.q, "InternetGatewayId")?.to_string();
        self.authorize(&self.arn("internet-gateway", &igw)).await?;
        let vpc_id = req(self.q, "VpcId")?.to_string();
        self.update(|s| {
            if !s.vpcs.iter().any(|v| v.id == vpc_id) {
                return Err(not_found(&vpc_id));
            }
            let current = s.internet_gateways.iter().find(|g| g.id == igw).ok_or_else(|| not_found(&igw))?.vpc_id.clone();
            if attach {
                if let Some(v) = current {
                    return Err(bad("Resource.AlreadyAssociated", format!("resource {igw} is already attached to network {v}")));
                }
                if let Some(other) = s.internet_gateways.iter().find(|g| g.vpc_id.as_deref() == Some(vpc_id.as_str())) {
                    return Err(bad(
                        "Resource.AlreadyAssociated",
                        format!("network {vpc_id} already has an internet gateway attached ({})", other.id),
                    ));
                }
            } else {
                if current.as_deref() != Some(vpc_id.as_str()) {
                    return Err(bad("Gateway.NotAttached", format!("resource {igw} is not attached to network {vpc_id}")));
                }
                let in_use = s.route_tables.iter().any(|t| t.vpc_id == vpc_id && t.routes.iter().any(|r| r.gateway_id == igw));
                if in_use {
                    return Err(bad(
                        "DependencyViolation",
                        format!("Network {vpc_id} has some mapped public address(es) or routes to {igw}. Please unmap those before detaching the gateway."),
                    ));
                }
            }
            if let Some(g) = s.internet_gateways.iter_mut().find(|g| g.id == igw) {
                g.vpc_id = attach.then(|| vpc_id.clone());
            }
            Ok(())
        })
        .await?;
        Ok(Output::Xml("<return>true</return>".into()))
    }

    async fn delete_internet_gateway(&self) -> R {
        let igw = req(self.q, "InternetGatewayId")?.to_string();
        self.authorize(&self.arn("internet-gateway", &igw)).await?;
        self.update(|s| {
            let g = s.internet_gateways.iter().find(|g| g.id == igw).ok_or_else(|| not_found(&igw))?;
            if g.vpc_id.is_some() {
                return Err(dependency("internetGateway", &igw));
            }
            s.internet_gateways.retain(|g| g.id != igw);
            Ok(())
        })
        .await?;
        Ok(Output::Xml("<return>true</return>".into()))
    }

    // ---- network ACLs ----

    async fn describe_network_acls(&self) -> R {
        self.authorize("*").await?;
        let s = self.state().await?;
        let acls = select(s.network_acls, &self.list("NetworkAclId"), |a| &a.id)?;
        let acls = filter::apply(acls, &self.filters()?)?;
        let (acls, next) = page(acls, self.q)?;
        let mut w = XmlWriter::new();
        w.open("networkAclSet");
        for a in &acls {
            w.open("item").elem("networkAclId", &a.id).elem("vpcId", &a.vpc_id).elem("default", "true").open("entrySet");
            // The default ACL's fixed entries: allow all at 100, deny all at 32767, each way.
            for egress in [true, false] {
                for (number, action) in [(100, "allow"), (32767, "deny")] {
                    w.open("item")
                        .elem("ruleNumber", number.to_string())
                        .elem("protocol", "-1")
                        .elem("ruleAction", action)
                        .elem("egress", yes(egress))
                        .elem("cidrBlock", "0.0.0.0/0")
                        .close("item");
                }
            }
            w.close("entrySet").open("associationSet");
            for (assoc, subnet) in &a.associations {
                w.open("item").elem("networkAclAssociationId", assoc).elem("networkAclId", &a.id).elem("subnetId", subnet).close("item");
            }
            w.close("associationSet");
            write_tags(&mut w, &a.tags);
            w.elem("ownerId", &a.owner).close("item");
        }
        w.close("networkAclSet");
        self.finish_list(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }

    // ---- tags ----

    async fn create_tags(&self) -> R {
        self.authorize(&self.arn("*", "*")).await?;
        let ids = self.list("ResourceId");
        if ids.is_empty() {
            return Err(missing("ResourceId"));
        }
        let tags = parse_tags(self.q, "Tag")?;
        if tags.is_empty() {
            return Err(missing("Tag"));
        }
        validate_tags(&tags)?;
        self.update(|s| {
            for id in &ids {
                let existing = s.tags_mut(id).ok_or_else(|| not_found(id))?;
                merge_tags(existing, &tags)?;
            }
            Ok(())
        })
        .await?;
        Ok(Output::Xml("<return>true</return>".into()))
    }

    async fn delete_tags(&self) -> R {
        self.authorize(&self.arn("*", "*")).await?;
        let ids = self.list("ResourceId");
        if ids.is_empty() {
            return Err(missing("ResourceId"));
        }
        // A tag with a value deletes only that key/value pair; without, the key; no tags: all.
        let wanted: Vec<(String, Option<String>)> = self
            .q
            .structs("Tag", "")
            .iter()
            .map(|t| Ok((t.get("Key").ok_or_else(|| missing("Tag.N.Key"))?.to_string(), t.get("Value").map(str::to_string))))
            .collect::<Result<_, AwsError>>()?;
        self.update(|s| {
            for id in &ids {
                let existing = s.tags_mut(id).ok_or_else(|| not_found(id))?;
                if wanted.is_empty() {
                    existing.clear();
                }
                existing.retain(|t| !wanted.iter().any(|(k, v)| *k == t.key && v.as_ref().is_none_or(|v| *v == t.value)));
            }
            Ok(())
        })
        .await?;
        Ok(Output::Xml("<return>true</return>".into()))
    }

    async fn describe_tags(&self) -> R {
        self.authorize("*").await?;
        let s = self.state().await?;
        let mut views = Vec::new();
        for (id, kind, tags) in s.all_tags() {
            for t in tags {
                views.push(TagView { resource_id: id.to_string(), resource_type: kind, tag: t.clone(), all: tags.to_vec() });
            }
        }
        let views = filter::apply(views, &self.filters()?)?;
        let (views, next) = page(views, self.q)?;
        let mut w = XmlWriter::new();
        w.open("tagSet");
        for v in &views {
            w.open("item")
                .elem("resourceId", &v.resource_id)
                .elem("resourceType", v.resource_type)
                .elem("key", &v.tag.key)
                .elem("value", &v.tag.value)
                .close("item");
        }
        w.close("tagSet");
        self.finish_list(&mut w, next);
        Ok(Output::Xml(w.finish()))
    }
}

fn duplicate(r: &SgRule) -> AwsError {
    let peer = r.cidr.map(|c| c.to_string()).or_else(|| r.group.clone()).unwrap_or_default();
    let proto = match r.protocol.as_str() {
        "-1" => "ALL".to_string(),
        p => p.to_uppercase(),
    };
    let ports = match (r.from_port, r.to_port) {
        (Some(f), Some(t)) => format!(", from port: {f}, to port: {t}"),
        _ => String::new(),
    };
    bad("InvalidPermission.Duplicate", format!("the specified rule \"peer: {peer}, {proto}{ports}, ALLOW\" already exists"))
}

/// `tcp`/`6`, `udp`/`17`, `icmp`/`1`, `-1`/`all`, or another protocol number.
fn normalize_protocol(p: &str) -> Result<String, AwsError> {
    Ok(match p.to_ascii_lowercase().as_str() {
        "tcp" | "6" => "tcp".into(),
        "udp" | "17" => "udp".into(),
        "icmp" | "1" => "icmp".into(),
        "-1" | "all" => "-1".into(),
        n => match n.parse::<u8>() {
            Ok(v) => v.to_string(),
            Err(_) => return Err(invalid(format!("Invalid value '{p}' for IP protocol. Unknown protocol."))),
        },
    })
}

/// The port range of a rule: both required (0..=65535, from ≤ to) for TCP/UDP, ICMP type and
/// code default to -1 (all), none for other protocols.
fn ports(proto: &str, from: Option<i64>, to: Option<i64>) -> Result<(Option<i64>, Option<i64>), AwsError> {
    match proto {
        "tcp" | "udp" => match (from, to) {
            (Some(f), Some(t)) if (0..=65535).contains(&f) && (0..=65535).contains(&t) && f <= t => Ok((Some(f), Some(t))),
            (Some(_), Some(_)) => Err(invalid(format!("Invalid value for portRange. Must specify a valid range from 0 to 65535 (got {from:?}..{to:?})."))),
            _ => Err(invalid("Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.")),
        },
        "icmp" => {
            let (f, t) = (from.unwrap_or(-1), to.unwrap_or(-1));
            if !(-1..=255).contains(&f) || !(-1..=255).contains(&t) {
                return Err(invalid("Invalid value for ICMP type or code: must be -1 to 255"));
            }
            Ok((Some(f), Some(t)))
        }
        _ => Ok((None, None)),
    }
}

#[async_trait]
impl Service for Ec2 {
    fn signing_name(&self) -> &'static str {
        "ec2"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Ec2 { version: "2016-11-15", xmlns: "http://ec2.amazonaws.com/doc/2016-11-15/" }
    }

    fn has_operation(&self, operation: &str) -> bool {
        OPERATIONS.contains(&operation)
    }

    async fn call(&self, ctx: &RequestContext, operation: &str, input: Input) -> R {
        let Input::Query(q) = input else {
            return Err(AwsError::internal("EC2 received a non-query input"));
        };
        if ctx.caller.account.is_empty() {
            return Err(AwsError::new(StatusCode::UNAUTHORIZED, "AuthFailure", "AWS was not able to validate the provided access credentials"));
        }
        let c = Call { ec2: self, ctx, q: &q, account: ctx.caller.account.clone(), region: ctx.region.clone() };
        match operation {
            "DescribeAvailabilityZones" => c.describe_availability_zones().await,
            "CreateVpc" => c.create_vpc().await,
            "DescribeVpcs" => c.describe_vpcs().await,
            "DeleteVpc" => c.delete_vpc().await,
            "CreateSubnet" => c.create_subnet().await,
            "DescribeSubnets" => c.describe_subnets().await,
            "DeleteSubnet" => c.delete_subnet().await,
            "CreateSecurityGroup" => c.create_security_group().await,
            "DescribeSecurityGroups" => c.describe_security_groups().await,
            "DeleteSecurityGroup" => c.delete_security_group().await,
            "AuthorizeSecurityGroupIngress" => c.authorize_rules(false).await,
            "AuthorizeSecurityGroupEgress" => c.authorize_rules(true).await,
            "RevokeSecurityGroupIngress" => c.revoke_rules(false).await,
            "RevokeSecurityGroupEgress" => c.revoke_rules(true).await,
            "DescribeSecurityGroupRules" => c.describe_security_group_rules().await,
            "CreateRouteTable" => c.create_route_table().await,
            "DescribeRouteTables" => c.describe_route_tables().await,
            "AssociateRouteTable" => c.associate_route_table().await,
            "DisassociateRouteTable" => c.disassociate_route_table().await,
            "CreateRoute" => c.create_route().await,
            "DeleteRoute" => c.delete_route().await,
            "DeleteRouteTable" => c.delete_route_table().await,
            "CreateInternetGateway" => c.create_internet_gateway().await,
            "AttachInternetGateway" => c.attach_internet_gateway(true).await,
            "DetachInternetGateway" => c.attach_internet_gateway(false).await,
            "DescribeInternetGateways" => c.describe_internet_gateways().await,
            "DeleteInternetGateway" => c.delete_internet_gateway().await,
            "DescribeNetworkAcls" => c.describe_network_acls().await,
            "CreateTags" => c.create_tags().await,
            "DeleteTags" => c.delete_tags().await,
            "DescribeTags" => c.describe_tags().await,
            other => Err(self.protocol().unknown_operation(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_carry_a_token_until_the_last_item() {
        let items: Vec<u32> = (0..12).collect();
        let q = QueryParams::parse(b"MaxResults=5");
        let (p1, t1) = page(items.clone(), &q).unwrap();
        assert_eq!(p1, vec![0, 1, 2, 3, 4]);
        let t1 = t1.unwrap();
        let q = QueryParams(vec![("MaxResults".into(), "5".into()), ("NextToken".into(), t1)]);
        let (p2, t2) = page(items.clone(), &q).unwrap();
        assert_eq!(p2, vec![5, 6, 7, 8, 9]);
        let q = QueryParams(vec![("MaxResults".into(), "5".into()), ("NextToken".into(), t2.unwrap())]);
        let (p3, t3) = page(items.clone(), &q).unwrap();
        assert_eq!(p3, vec![10, 11]);
        assert!(t3.is_none());
        assert_eq!(page(items.clone(), &QueryParams::parse(b"MaxResults=4")).unwrap_err().code, "InvalidParameterValue");
        assert_eq!(page(items, &QueryParams::parse(b"NextToken=garbage")).unwrap_err().code, "InvalidNextToken");
    }

    #[test]
    fn ports_are_required_for_tcp_and_udp_only() {
        assert_eq!(ports("tcp", Some(22), Some(22)).unwrap(), (Some(22), Some(22)));
        assert!(ports("tcp", Some(22), None).is_err());
        assert!(ports("udp", Some(70000), Some(70000)).is_err());
        assert!(ports("tcp", Some(30), Some(20)).is_err());
        assert_eq!(ports("-1", Some(1), Some(2)).unwrap(), (None, None));
        assert_eq!(ports("icmp", None, None).unwrap(), (Some(-1), Some(-1)));
        assert_eq!(normalize_protocol("6").unwrap(), "tcp");
        assert_eq!(normalize_protocol("all").unwrap(), "-1");
        assert!(normalize_protocol("bogus").is_err());
    }

    #[test]
    fn tag_specifications_must_name_the_created_resource_type() {
        let q = QueryParams::parse(b"TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=x");
        assert_eq!(tag_specs(&q, "vpc").unwrap(), vec![Tag { key: "Name".into(), value: "x".into() }]);
        assert_eq!(tag_specs(&q, "subnet").unwrap_err().code, "InvalidParameterValue");
        let q = QueryParams::parse(b"TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=aws:x");
        assert!(tag_specs(&q, "vpc").is_err());
    }

    #[test]
    fn missing_ids_name_their_resource_kind() {
        assert_eq!(not_found("vpc-0123456789abcdef0").code, "InvalidVpcID.NotFound");
        assert_eq!(not_found("subnet-0123456789abcdef0").code, "InvalidSubnetID.NotFound");
        assert_eq!(not_found("sg-0123456789abcdef0").code, "InvalidGroup.NotFound");
        assert_eq!(not_found("rtb-0123456789abcdef0").code, "InvalidRouteTableID.NotFound");
        assert_eq!(not_found("igw-0123456789abcdef0").code, "InvalidInternetGatewayID.NotFound");
        assert_eq!(not_found("foo").code, "InvalidID");
        assert_eq!(not_found("vpc-xyz").code, "InvalidVpcID.Malformed");
        assert_eq!(not_found("subnet-0123456789abcdefg").code, "InvalidSubnetID.Malformed");
        assert_eq!(not_found("sg-01234567").code, "InvalidGroup.NotFound");
        assert_eq!(not_found("sg-x").code, "InvalidGroupId.Malformed");
        let e = select(vec!["vpc-aaaaaaaa".to_string()], &["vpc-bbbbbbbb".to_string()], |s| s).unwrap_err();
        assert_eq!(e.message, "The vpc ID 'vpc-bbbbbbbb' does not exist");
    }
}
