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
    "ZoneId.1", "InstanceTenancy",
];

const VALUES: &[&str] = &[
    "", "true", "false", "tcp", "udp", "icmp", "-1", "all", "6", "22", "65536", "-5", "5", "1000", "10.0.0.0/16", "10.0.1.0/24",
    "172.31.0.0/20", "172.31.48.0/20", "0.0.0.0/0", "10.0.0.1/16", "300.0.0.0/8", "x/y", "default", "web", "vpc", "subnet",
    "security-group", "vpc-id", "tag:Name", "is-default", "cidr-block", "group-name", "*", "?", "us-east-1a", "use1-az2", "wharf1.3",
    "wharf1.99999999999999999999", "aws:x", "dedicated", "vpc-", "sg-", "\u{0}\u{ffff}",
];

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
    for i in 0..1500 {
        // Real ids make the calls reach past validation.
        let state = ec2.region_state(ACCOUNT, "us-east-1").await.unwrap();
        let mut ids: Vec<String> = Vec::new();
        ids.extend(state.vpcs.iter().map(|v| v.id.clone()));
        ids.extend(state.subnets.iter().map(|v| v.id.clone()));
        ids.extend(state.security_groups.iter().map(|v| v.id.clone()));
        ids.extend(state.route_tables.iter().map(|v| v.id.clone()));
        ids.extend(state.route_tables.iter().flat_map(|v| v.associations.iter().map(|a| a.id.clone())));
        ids.extend(state.internet_gateways.iter().map(|v| v.id.clone()));
        let op = OPERATIONS[rng.gen_range(0..OPERATIONS.len())];
        let mut params = Vec::new();
        for _ in 0..rng.gen_range(0..8) {
            let name = NAMES[rng.gen_range(0..NAMES.len())].to_string();
            let value = if !ids.is_empty() && rng.gen_bool(0.4) {
                ids[rng.gen_range(0..ids.len())].clone()
            } else {
                VALUES[rng.gen_range(0..VALUES.len())].to_string()
            };
            params.push((name, value));
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
            Ok(_) => {}
            Err(e) => {
                assert!(e.status.is_client_error(), "{op} {params:?} failed on the server side: {e}");
                assert!(!e.code.is_empty() && !e.code.contains("ValidationError"), "{op} {params:?}: {e}");
            }
        }
    }
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
