//! Arbitrary EC2 requests — every operation, random parameter names and values mixing real
//! ids, CIDRs and garbage — never panic, and only ever answer with EC2 error codes; the
//! stored state stays consistent.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use async_trait::async_trait;
use rand::{Rng, SeedableRng};
use wharf_aws::{AwsError, Caller, ConditionKeys, Credential, Decision, Identity, Input, PrincipalKind, QueryParams, RequestContext, Service};
use wharf_ec2::{Ec2, Ec2Config, OPERATIONS};
use wharf_store::sqlite::SqliteStore;

const ACCOUNT: &str = "123456789012";

struct AllowAll;

#[async_trait]
impl Identity for AllowAll {
    async fn credential(&self, _: &str) -> Result<Option<Credential>, AwsError> {
        Ok(None)
    }
    async fn authorize(&self, _: &RequestContext, _: &str, _: &str, _: &ConditionKeys) -> Result<Decision, AwsError> {
        Ok(Decision::Allow)
    }
}

const NAMES: &[&str] = &[
    "VpcId", "VpcId.1", "CidrBlock", "SubnetId", "SubnetId.1", "GroupId", "GroupId.1", "GroupName", "GroupName.1", "GroupDescription",
    "Filter.1.Name", "Filter.1.Value.1", "Filter.2.Name", "Filter.2.Value.1", "Filter.x.Name", "IpPermissions.1.IpProtocol",
    "IpPermissions.1.FromPort", "IpPermissions.1.ToPort", "IpPermissions.1.IpRanges.1.CidrIp", "IpPermissions.1.Groups.1.GroupId",
    "IpPermissions.1.Groups.1.GroupName", "IpProtocol", "FromPort", "ToPort", "CidrIp", "ResourceId.1", "ResourceId.2", "Tag.1.Key",
    "Tag.1.Value", "Tag.2.Key", "MaxResults", "NextToken", "TagSpecification.1.ResourceType", "TagSpecification.1.Tag.1.Key",
    "TagSpecification.1.Tag.1.Value", "RouteTableId", "RouteTableId.1", "DestinationCidrBlock", "GatewayId", "InternetGatewayId",
    "InternetGatewayId.1", "AssociationId", "AvailabilityZone", "AvailabilityZoneId", "DryRun", "SecurityGroupRuleId.1", "ZoneName.1",
    "ZoneId.1", "InstanceTenancy", "NetworkAclId.1",
];

const VALUES: &[&str] = &[
    "", "true", "false", "tcp", "udp", "icmp", "-1", "all", "6", "22", "65536", "-5", "5", "1000", "10.0.0.0/16", "10.0.1.0/24",
    "172.31.0.0/20", "172.31.48.0/20", "0.0.0.0/0", "10.0.0.1/16", "300.0.0.0/8", "x/y", "default", "web", "vpc", "subnet",
    "security-group", "vpc-id", "tag:Name", "is-default", "cidr-block", "group-name", "*", "?", "us-east-1a", "use1-az2", "wharf1.3",
    "wharf1.99999999999999999999", "aws:x", "dedicated", "vpc-", "sg-", "\u{0}\u{ffff}",
];

/// Whether a parameter name belongs to an operation's input (roughly, by its subject).
fn relevant(op: &str, name: &str) -> bool {
    let subject = |words: &[&str]| words.iter().any(|w| name.starts_with(w));
    let common = subject(&["Filter", "MaxResults", "NextToken", "DryRun", "TagSpecification"]);
    common
        || match op {
            o if o.contains("Vpc") => subject(&["VpcId", "CidrBlock", "InstanceTenancy"]),
            o if o.contains("Subnet") => subject(&["SubnetId", "VpcId", "CidrBlock", "AvailabilityZone"]),
            o if o.contains("SecurityGroup") => subject(&["Group", "IpPermissions", "IpProtocol", "FromPort", "ToPort", "CidrIp", "SecurityGroupRuleId"]),
            o if o.contains("Route") => subject(&["RouteTableId", "SubnetId", "VpcId", "DestinationCidrBlock", "GatewayId", "AssociationId"]),
            o if o.contains("InternetGateway") => subject(&["InternetGatewayId", "VpcId"]),
            o if o.contains("Tags") => subject(&["ResourceId", "Tag."]),
            o if o.contains("AvailabilityZones") => subject(&["Zone"]),
            _ => false,
        }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_requests_never_panic_and_answer_with_ec2_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("store")).unwrap());
    let ec2 = Ec2::new(store, Ec2Config::default()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xec2);
    let caller = Caller {
        account: ACCOUNT.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:root"),
        user_id: ACCOUNT.into(),
        access_key_id: None,
        kind: PrincipalKind::Root,
    };
    let mut succeeded = std::collections::BTreeSet::new();
    for i in 0..5000 {
        // Real ids of the kind a parameter names, and the operation's own parameters most of
        // the time, make the calls reach past validation.
        let state = ec2.region_state(ACCOUNT, "us-east-1").await.unwrap();
        let pool = |name: &str, n: u32| -> Vec<String> {
            let s = &state;
            if name.contains("VpcId") {
                s.vpcs.iter().map(|v| v.id.clone()).collect()
            } else if name.contains("SubnetId") {
                s.subnets.iter().map(|v| v.id.clone()).collect()
            } else if name.contains("RuleId") {
                s.security_groups.iter().flat_map(|g| g.rules.iter().map(|r| r.id.clone())).collect()
            } else if name.contains("GroupId") {
                s.security_groups.iter().map(|v| v.id.clone()).collect()
            } else if name.contains("RouteTableId") {
                s.route_tables.iter().map(|v| v.id.clone()).collect()
            } else if name.contains("AssociationId") {
                s.route_tables.iter().flat_map(|v| v.associations.iter().map(|a| a.id.clone())).collect()
            } else if name.contains("GatewayId") {
                s.internet_gateways.iter().map(|v| v.id.clone()).collect()
            } else if name.contains("ResourceId") {
                s.vpcs.iter().map(|v| v.id.clone()).chain(s.subnets.iter().map(|v| v.id.clone())).collect()
            } else if name.contains("Cidr") {
                vec![format!("10.0.{}.0/24", n), format!("172.31.{}.0/24", 48 + n), "10.0.0.0/16".into(), format!("10.{n}.0.0/16")]
            } else {
                Vec::new()
            }
        };
        let op = OPERATIONS[rng.gen_range(0..OPERATIONS.len())];
        let own: Vec<&str> = NAMES.iter().copied().filter(|n| relevant(op, n)).collect();
        let mut params = Vec::new();
        for _ in 0..rng.gen_range(0..10) {
            let name = if !own.is_empty() && rng.gen_bool(0.85) {
                own[rng.gen_range(0..own.len())]
            } else {
                NAMES[rng.gen_range(0..NAMES.len())]
            };
            let ids = pool(name, rng.gen_range(0..64));
            let value = if !ids.is_empty() && rng.gen_bool(0.8) {
                ids[rng.gen_range(0..ids.len())].clone()
            } else if name == "DryRun" && rng.gen_bool(0.7) {
                "false".to_string()
            } else {
                VALUES[rng.gen_range(0..VALUES.len())].to_string()
            };
            params.push((name.to_string(), value));
        }
        let ctx = RequestContext {
            request_id: format!("r{i}"),
            caller: caller.clone(),
            region: "us-east-1".into(),
            operation: op.into(),
            source_ip: None,
            identity: Arc::new(AllowAll),
            now: 0,
        };
        match ec2.call(&ctx, op, Input::Query(QueryParams(params.clone()))).await {
            Ok(_) => {
                succeeded.insert(op);
            }
            Err(e) => {
                assert!(e.status.is_client_error(), "{op} {params:?} failed on the server side: {e}");
                assert!(!e.code.is_empty() && !e.code.contains("ValidationError"), "{op} {params:?}: {e}");
            }
        }
    }
    eprintln!("operations that succeeded at least once: {}/{} {succeeded:?}", succeeded.len(), OPERATIONS.len());
    assert!(succeeded.len() >= OPERATIONS.len() / 2, "the random requests mostly failed validation: {succeeded:?}");
    // Whatever happened: every VPC keeps one main route table and one default group, and
    // every subnet lies in its VPC without overlapping another.
    let state = ec2.region_state(ACCOUNT, "us-east-1").await.unwrap();
    for v in &state.vpcs {
        assert_eq!(state.route_tables.iter().filter(|t| t.vpc_id == v.id && t.is_main()).count(), 1);
        assert_eq!(state.security_groups.iter().filter(|g| g.vpc_id == v.id && g.name == "default").count(), 1);
    }
    for s in &state.subnets {
        let vpc = state.vpcs.iter().find(|v| v.id == s.vpc_id).expect("a subnet's VPC exists");
        assert!(vpc.cidr.contains(&s.cidr));
        for o in state.subnets.iter().filter(|o| o.id != s.id && o.vpc_id == s.vpc_id) {
            assert!(!o.cidr.overlaps(&s.cidr), "{} overlaps {}", s.cidr, o.cidr);
        }
    }
}
