//! The EC2 VPC subset through the front door with the real `aws` CLI.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use wharf_ec2::{Ec2, Ec2Config};
use wharf_iam::{Iam, IamConfig};
use wharf_store::sqlite::SqliteStore;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// A front door with IAM, STS and EC2 on a loopback port; stopped on drop.
struct Server {
    endpoint: String,
    iam: Arc<Iam>,
    ec2: Arc<Ec2>,
    dir: Option<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn start_in(dir: tempfile::TempDir) -> Server {
    let store = Arc::new(SqliteStore::open(&dir.path().join("store")).unwrap());
    let iam = Arc::new(Iam::open(store.clone(), IamConfig { account_id: Some(ACCOUNT.into()) }).await.unwrap());
    let ec2 = Arc::new(Ec2::new(store, Ec2Config::default()).unwrap());
    let fd = wharf_iam::front_door(iam.clone(), REGION).register(ec2.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let _ = wharf_aws::serve(listener, Arc::new(fd), async {
            let _ = rx.await;
        })
        .await;
    });
    Server { endpoint: format!("http://{addr}"), iam, ec2, dir: Some(dir), stop: Some(tx), task: Some(task) }
}

async fn start() -> Server {
    start_in(tempfile::tempdir().unwrap()).await
}

impl Server {
    fn path(&self) -> &Path {
        self.dir.as_ref().map(|d| d.path()).unwrap()
    }
    /// Stops the server and hands back its data directory.
    async fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
        self.dir.take().unwrap()
    }
    fn admin(&self) -> (String, String) {
        let a = self.iam.admin_credentials();
        (a.access_key_id.clone(), a.secret_access_key.clone())
    }
}

struct Cli {
    ok: bool,
    json: Value,
    stderr: String,
}

async fn aws_as(s: &Server, creds: &(String, String), args: &[&str]) -> Cli {
    let mut c = Command::new("aws");
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", s.path())
        .env("AWS_ENDPOINT_URL", &s.endpoint)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_PAGER", "")
        .env("AWS_ACCESS_KEY_ID", &creds.0)
        .env("AWS_SECRET_ACCESS_KEY", &creds.1)
        .args(args)
        .args(["--output", "json"]);
    let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    Cli {
        ok: out.status.success(),
        json: if stdout.trim().is_empty() { Value::Null } else { serde_json::from_str(&stdout).unwrap_or(Value::String(stdout)) },
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

async fn ok(s: &Server, args: &[&str]) -> Value {
    let r = aws_as(s, &s.admin(), args).await;
    assert!(r.ok, "aws {args:?} failed: {}", r.stderr);
    r.json
}

async fn err(s: &Server, args: &[&str]) -> String {
    let r = aws_as(s, &s.admin(), args).await;
    assert!(!r.ok, "aws {args:?} unexpectedly succeeded: {}", r.json);
    r.stderr
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_vpc_and_its_three_subnets_are_described_with_filters() {
    let s = start().await;
    let v = ok(&s, &["ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true"]).await;
    let vpcs = v["Vpcs"].as_array().unwrap();
    assert_eq!(vpcs.len(), 1, "{v}");
    let vpc = &vpcs[0];
    assert_eq!(vpc["CidrBlock"], "172.31.0.0/16");
    assert_eq!(vpc["IsDefault"], true);
    assert_eq!(vpc["OwnerId"], ACCOUNT);
    assert_eq!(vpc["State"], "available");
    let vpc_id = vpc["VpcId"].as_str().unwrap().to_string();
    assert!(vpc_id.starts_with("vpc-") && vpc_id.len() == 21, "{vpc_id}");

    let n = ok(&s, &["ec2", "describe-subnets", "--filters", &format!("Name=vpc-id,Values={vpc_id}"), "Name=default-for-az,Values=true"]).await;
    let mut subnets: Vec<(String, String, i64)> = n["Subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["AvailabilityZone"].as_str().unwrap().into(), x["CidrBlock"].as_str().unwrap().into(), x["AvailableIpAddressCount"].as_i64().unwrap()))
        .collect();
    subnets.sort();
    assert_eq!(
        subnets,
        vec![
            ("us-east-1a".to_string(), "172.31.0.0/20".to_string(), 4091),
            ("us-east-1b".to_string(), "172.31.16.0/20".to_string(), 4091),
            ("us-east-1c".to_string(), "172.31.32.0/20".to_string(), 4091),
        ]
    );
    let first = &n["Subnets"][0];
    assert_eq!(first["MapPublicIpOnLaunch"], true);
    assert!(first["SubnetArn"].as_str().unwrap().starts_with(&format!("arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-")));

    let b = ok(&s, &["ec2", "describe-subnets", "--filters", "Name=availability-zone,Values=us-east-1b", "--query", "Subnets[].CidrBlock"]).await;
    assert_eq!(strs(&b), vec!["172.31.16.0/20"]);
    let none = ok(&s, &["ec2", "describe-subnets", "--filters", "Name=cidr-block,Values=10.*", "--query", "Subnets[].SubnetId"]).await;
    assert_eq!(strs(&none), Vec::<String>::new());
    let e = err(&s, &["ec2", "describe-subnets", "--filters", "Name=bogus,Values=1"]).await;
    assert!(e.contains("InvalidParameterValue") && e.contains("bogus"), "{e}");
    let e = err(&s, &["ec2", "describe-vpcs", "--vpc-ids", "vpc-0123456789abcdef0"]).await;
    assert!(e.contains("InvalidVpcID.NotFound"), "{e}");

    // The main route table routes to the attached internet gateway; the default group exists.
    let rt = ok(&s, &["ec2", "describe-route-tables", "--filters", &format!("Name=vpc-id,Values={vpc_id}"), "Name=association.main,Values=true"]).await;
    let routes = &rt["RouteTables"][0]["Routes"];
    assert_eq!(routes[0]["GatewayId"], "local");
    let igw = routes[1]["GatewayId"].as_str().unwrap().to_string();
    let gw = ok(&s, &["ec2", "describe-internet-gateways", "--filters", &format!("Name=attachment.vpc-id,Values={vpc_id}")]).await;
    assert_eq!(gw["InternetGateways"][0]["InternetGatewayId"], igw.as_str());
    let sg = ok(&s, &["ec2", "describe-security-groups", "--group-names", "default"]).await;
    assert_eq!(sg["SecurityGroups"][0]["VpcId"], vpc_id.as_str());
    assert_eq!(sg["SecurityGroups"][0]["IpPermissionsEgress"][0]["IpRanges"][0]["CidrIp"], "0.0.0.0/0");

    let acl = ok(&s, &["ec2", "describe-network-acls", "--filters", &format!("Name=vpc-id,Values={vpc_id}"), "Name=default,Values=true"]).await;
    let acl = &acl["NetworkAcls"][0];
    assert_eq!(acl["Associations"].as_array().unwrap().len(), 3, "{acl}");
    assert_eq!(acl["Entries"].as_array().unwrap().len(), 4, "{acl}");
    assert!(acl["NetworkAclId"].as_str().unwrap().starts_with("acl-"));

    // The typed API sees the same records.
    let dv = s.ec2.default_vpc(ACCOUNT, REGION).await.unwrap().unwrap();
    assert_eq!(dv.id, vpc_id);
    assert_eq!(s.ec2.subnets(ACCOUNT, REGION, &vpc_id).await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_zones_are_the_regions_three_zones() {
    let s = start().await;
    let z = ok(&s, &["ec2", "describe-availability-zones"]).await;
    let zones: Vec<(String, String)> = z["AvailabilityZones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["ZoneName"].as_str().unwrap().into(), x["ZoneId"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        zones,
        vec![("us-east-1a".into(), "use1-az1".into()), ("us-east-1b".into(), "use1-az2".into()), ("us-east-1c".into(), "use1-az3".into())]
    );
    assert_eq!(z["AvailabilityZones"][0]["State"], "available");
    let one = ok(&s, &["ec2", "describe-availability-zones", "--zone-ids", "use1-az3", "--query", "AvailabilityZones[].ZoneName"]).await;
    assert_eq!(strs(&one), vec!["us-east-1c"]);
    let e = err(&s, &["ec2", "describe-availability-zones", "--zone-names", "us-east-1z"]).await;
    assert!(e.contains("InvalidParameterValue"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnets_must_fit_their_vpc_without_overlap_and_block_its_deletion() {
    let s = start().await;
    let v = ok(&s, &["ec2", "create-vpc", "--cidr-block", "10.20.0.0/16", "--tag-specifications", "ResourceType=vpc,Tags=[{Key=Name,Value=demo}]"]).await;
    let vpc = v["Vpc"]["VpcId"].as_str().unwrap().to_string();
    assert_eq!(v["Vpc"]["IsDefault"], false);
    assert_eq!(v["Vpc"]["Tags"][0]["Value"], "demo");
    let e = err(&s, &["ec2", "create-vpc", "--cidr-block", "10.0.0.0/8"]).await;
    assert!(e.contains("InvalidVpc.Range"), "{e}");
    let e = err(&s, &["ec2", "create-vpc", "--cidr-block", "10.0.0.1/16"]).await;
    assert!(e.contains("InvalidParameterValue"), "{e}");

    let n = ok(&s, &["ec2", "create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.20.1.0/24", "--availability-zone", "us-east-1b"]).await;
    let subnet = n["Subnet"]["SubnetId"].as_str().unwrap().to_string();
    assert_eq!(n["Subnet"]["AvailableIpAddressCount"], 251);
    assert_eq!(n["Subnet"]["AvailabilityZoneId"], "use1-az2");
    assert_eq!(n["Subnet"]["DefaultForAz"], false);
    let e = err(&s, &["ec2", "create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.20.1.128/25"]).await;
    assert!(e.contains("InvalidSubnet.Conflict"), "{e}");
    let e = err(&s, &["ec2", "create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.21.0.0/24"]).await;
    assert!(e.contains("InvalidSubnet.Range"), "{e}");
    let e = err(&s, &["ec2", "create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.20.2.0/24", "--availability-zone", "us-east-1q"]).await;
    assert!(e.contains("InvalidParameterValue"), "{e}");
    let e = err(&s, &["ec2", "create-subnet", "--vpc-id", "vpc-00000000000000000", "--cidr-block", "10.20.2.0/24"]).await;
    assert!(e.contains("InvalidVpcID.NotFound"), "{e}");
    assert_eq!(s.ec2.subnet(ACCOUNT, REGION, &subnet).await.unwrap().unwrap().cidr.to_string(), "10.20.1.0/24");
    let acl = ok(&s, &["ec2", "describe-network-acls", "--filters", &format!("Name=association.subnet-id,Values={subnet}"), "--query", "NetworkAcls[].VpcId"]).await;
    assert_eq!(strs(&acl), vec![vpc.clone()], "a new subnet joins its VPC's default network ACL");

    let e = err(&s, &["ec2", "delete-vpc", "--vpc-id", &vpc]).await;
    assert!(e.contains("DependencyViolation"), "{e}");
    ok(&s, &["ec2", "delete-subnet", "--subnet-id", &subnet]).await;
    let e = err(&s, &["ec2", "delete-subnet", "--subnet-id", &subnet]).await;
    assert!(e.contains("InvalidSubnetID.NotFound"), "{e}");
    ok(&s, &["ec2", "delete-vpc", "--vpc-id", &vpc]).await;
    let e = err(&s, &["ec2", "describe-vpcs", "--vpc-ids", &vpc]).await;
    assert!(e.contains("InvalidVpcID.NotFound"), "{e}");
    // Its default security group and main route table went with it.
    let left = ok(&s, &["ec2", "describe-security-groups", "--filters", &format!("Name=vpc-id,Values={vpc}"), "--query", "SecurityGroups[].GroupId"]).await;
    assert_eq!(strs(&left), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_group_rules_are_authorized_described_and_revoked() {
    let s = start().await;
    let g = ok(&s, &["ec2", "create-security-group", "--group-name", "web", "--description", "web servers"]).await;
    let sg = g["GroupId"].as_str().unwrap().to_string();
    assert!(g["SecurityGroupArn"].as_str().unwrap().ends_with(&format!(":security-group/{sg}")));
    let e = err(&s, &["ec2", "create-security-group", "--group-name", "web", "--description", "again"]).await;
    assert!(e.contains("InvalidGroup.Duplicate"), "{e}");

    let r = ok(&s, &["ec2", "authorize-security-group-ingress", "--group-id", &sg, "--protocol", "tcp", "--port", "22", "--cidr", "203.0.113.0/24"]).await;
    assert_eq!(r["Return"], true);
    let rule_id = r["SecurityGroupRules"][0]["SecurityGroupRuleId"].as_str().unwrap().to_string();
    assert!(rule_id.starts_with("sgr-"));
    ok(&s, &[
        "ec2",
        "authorize-security-group-ingress",
        "--group-id",
        &sg,
        "--ip-permissions",
        "IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=0.0.0.0/0,Description=https}]",
    ])
    .await;
    let e = err(&s, &["ec2", "authorize-security-group-ingress", "--group-id", &sg, "--protocol", "tcp", "--port", "22", "--cidr", "203.0.113.0/24"]).await;
    assert!(e.contains("InvalidPermission.Duplicate"), "{e}");
    let e = err(&s, &["ec2", "authorize-security-group-ingress", "--group-id", &sg, "--protocol", "tcp", "--port", "22", "--cidr", "203.0.113.1/24"]).await;
    assert!(e.contains("InvalidParameterValue"), "{e}");
    let e = err(&s, &["ec2", "authorize-security-group-ingress", "--group-id", "sg-00000000000000000", "--protocol", "tcp", "--port", "22", "--cidr", "10.0.0.0/8"]).await;
    assert!(e.contains("InvalidGroup.NotFound"), "{e}");

    let d = ok(&s, &["ec2", "describe-security-groups", "--filters", "Name=group-name,Values=web"]).await;
    let grp = &d["SecurityGroups"][0];
    assert_eq!(grp["GroupId"], sg.as_str());
    assert_eq!(grp["Description"], "web servers");
    let perms = grp["IpPermissions"].as_array().unwrap();
    assert_eq!(perms.len(), 2, "{grp}");
    assert_eq!(perms[0]["FromPort"], 22);
    assert_eq!(perms[0]["IpRanges"][0]["CidrIp"], "203.0.113.0/24");
    assert_eq!(perms[1]["IpRanges"][0]["Description"], "https");
    assert_eq!(grp["IpPermissionsEgress"][0]["IpProtocol"], "-1");
    let by_cidr = ok(&s, &["ec2", "describe-security-groups", "--filters", "Name=ip-permission.cidr,Values=203.0.113.0/24", "--query", "SecurityGroups[].GroupName"]).await;
    assert_eq!(strs(&by_cidr), vec!["web"]);

    let rules = ok(&s, &["ec2", "describe-security-group-rules", "--filters", &format!("Name=group-id,Values={sg}")]).await;
    let rules = rules["SecurityGroupRules"].as_array().unwrap();
    assert_eq!(rules.len(), 3, "two ingress rules and the default egress rule");
    assert!(rules.iter().any(|r| r["IsEgress"] == true && r["CidrIpv4"] == "0.0.0.0/0"));

    ok(&s, &["ec2", "revoke-security-group-ingress", "--group-id", &sg, "--security-group-rule-ids", &rule_id]).await;
    ok(&s, &["ec2", "revoke-security-group-ingress", "--group-id", &sg, "--protocol", "tcp", "--port", "443", "--cidr", "0.0.0.0/0"]).await;
    let e = err(&s, &["ec2", "revoke-security-group-ingress", "--group-id", &sg, "--protocol", "tcp", "--port", "443", "--cidr", "0.0.0.0/0"]).await;
    assert!(e.contains("InvalidPermission.NotFound"), "{e}");
    let d = ok(&s, &["ec2", "describe-security-groups", "--group-ids", &sg, "--query", "SecurityGroups[0].IpPermissions"]).await;
    assert_eq!(d, Value::Array(vec![]));

    // A group another group's rule points at cannot go; the default group never can.
    let other = ok(&s, &["ec2", "create-security-group", "--group-name", "db", "--description", "db"]).await;
    let other = other["GroupId"].as_str().unwrap().to_string();
    ok(&s, &["ec2", "authorize-security-group-ingress", "--group-id", &other, "--protocol", "tcp", "--port", "5432", "--source-group", &sg]).await;
    let e = err(&s, &["ec2", "delete-security-group", "--group-id", &sg]).await;
    assert!(e.contains("DependencyViolation"), "{e}");
    ok(&s, &["ec2", "delete-security-group", "--group-id", &other]).await;
    ok(&s, &["ec2", "delete-security-group", "--group-id", &sg]).await;
    let e = err(&s, &["ec2", "delete-security-group", "--group-name", "default"]).await;
    assert!(e.contains("CannotDelete"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_created_described_with_filters_and_deleted() {
    let s = start().await;
    let vpc = s.ec2.default_vpc(ACCOUNT, REGION).await.unwrap().unwrap().id;
    let subnets = s.ec2.subnets(ACCOUNT, REGION, &vpc).await.unwrap();
    ok(&s, &["ec2", "create-tags", "--resources", &vpc, &subnets[0].id, "--tags", "Key=team,Value=blue", "Key=env,Value=dev"]).await;
    let t = ok(&s, &["ec2", "describe-tags", "--filters", "Name=key,Values=team"]).await;
    let mut ids: Vec<String> = t["Tags"].as_array().unwrap().iter().map(|x| x["ResourceId"].as_str().unwrap().to_string()).collect();
    ids.sort();
    let mut want = vec![vpc.clone(), subnets[0].id.clone()];
    want.sort();
    assert_eq!(ids, want);
    let t = ok(&s, &["ec2", "describe-tags", "--filters", "Name=resource-type,Values=subnet", "Name=value,Values=d*"]).await;
    assert_eq!(t["Tags"].as_array().unwrap().len(), 1, "{t}");
    assert_eq!(t["Tags"][0]["Key"], "env");
    let v = ok(&s, &["ec2", "describe-vpcs", "--filters", "Name=tag:team,Values=blue", "--query", "Vpcs[].VpcId"]).await;
    assert_eq!(strs(&v), vec![vpc.clone()]);
    let n = ok(&s, &["ec2", "describe-subnets", "--filters", "Name=tag-key,Values=env", "--query", "Subnets[].SubnetId"]).await;
    assert_eq!(strs(&n), vec![subnets[0].id.clone()]);

    let e = err(&s, &["ec2", "create-tags", "--resources", "subnet-00000000000000000", "--tags", "Key=a,Value=b"]).await;
    assert!(e.contains("InvalidSubnetID.NotFound"), "{e}");
    let e = err(&s, &["ec2", "create-tags", "--resources", &vpc, "--tags", "Key=aws:x,Value=b"]).await;
    assert!(e.contains("InvalidParameterValue"), "{e}");

    // A value that does not match leaves the tag; a bare key removes it.
    ok(&s, &["ec2", "delete-tags", "--resources", &vpc, "--tags", "Key=team,Value=red"]).await;
    let t = ok(&s, &["ec2", "describe-tags", "--filters", &format!("Name=resource-id,Values={vpc}"), "--query", "Tags[].Key"]).await;
    assert_eq!(strs(&t).len(), 2);
    ok(&s, &["ec2", "delete-tags", "--resources", &vpc, "--tags", "Key=team"]).await;
    let t = ok(&s, &["ec2", "describe-tags", "--filters", &format!("Name=resource-id,Values={vpc}"), "--query", "Tags[].Key"]).await;
    assert_eq!(strs(&t), vec!["env"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_tables_and_internet_gateways_are_linked_as_aws_does() {
    let s = start().await;
    let vpc = ok(&s, &["ec2", "create-vpc", "--cidr-block", "10.30.0.0/16"]).await["Vpc"]["VpcId"].as_str().unwrap().to_string();
    let subnet = ok(&s, &["ec2", "create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.30.0.0/24"]).await["Subnet"]["SubnetId"]
        .as_str()
        .unwrap()
        .to_string();
    let igw = ok(&s, &["ec2", "create-internet-gateway", "--tag-specifications", "ResourceType=internet-gateway,Tags=[{Key=Name,Value=gw}]"]).await;
    let igw = igw["InternetGateway"]["InternetGatewayId"].as_str().unwrap().to_string();
    let rtb = ok(&s, &["ec2", "create-route-table", "--vpc-id", &vpc]).await;
    assert_eq!(rtb["RouteTable"]["Routes"][0]["DestinationCidrBlock"], "10.30.0.0/16");
    let rtb = rtb["RouteTable"]["RouteTableId"].as_str().unwrap().to_string();

    let e = err(&s, &["ec2", "create-route", "--route-table-id", &rtb, "--destination-cidr-block", "0.0.0.0/0", "--gateway-id", &igw]).await;
    assert!(e.contains("InvalidParameterValue"), "a detached gateway is not a target: {e}");
    ok(&s, &["ec2", "attach-internet-gateway", "--internet-gateway-id", &igw, "--vpc-id", &vpc]).await;
    let e = err(&s, &["ec2", "attach-internet-gateway", "--internet-gateway-id", &igw, "--vpc-id", &vpc]).await;
    assert!(e.contains("Resource.AlreadyAssociated"), "{e}");
    ok(&s, &["ec2", "create-route", "--route-table-id", &rtb, "--destination-cidr-block", "0.0.0.0/0", "--gateway-id", &igw]).await;
    let e = err(&s, &["ec2", "create-route", "--route-table-id", &rtb, "--destination-cidr-block", "0.0.0.0/0", "--gateway-id", &igw]).await;
    assert!(e.contains("RouteAlreadyExists"), "{e}");
    let a = ok(&s, &["ec2", "associate-route-table", "--route-table-id", &rtb, "--subnet-id", &subnet]).await;
    let assoc = a["AssociationId"].as_str().unwrap().to_string();
    assert_eq!(a["AssociationState"]["State"], "associated");

    let d = ok(&s, &["ec2", "describe-route-tables", "--filters", &format!("Name=association.subnet-id,Values={subnet}")]).await;
    assert_eq!(d["RouteTables"][0]["RouteTableId"], rtb.as_str());
    assert_eq!(d["RouteTables"][0]["Routes"][1]["GatewayId"], igw.as_str());
    let e = err(&s, &["ec2", "delete-route-table", "--route-table-id", &rtb]).await;
    assert!(e.contains("DependencyViolation"), "{e}");
    let e = err(&s, &["ec2", "detach-internet-gateway", "--internet-gateway-id", &igw, "--vpc-id", &vpc]).await;
    assert!(e.contains("DependencyViolation"), "routes still use it: {e}");
    let e = err(&s, &["ec2", "delete-route", "--route-table-id", &rtb, "--destination-cidr-block", "10.30.0.0/16"]).await;
    assert!(e.contains("InvalidParameterValue"), "the local route stays: {e}");
    ok(&s, &["ec2", "delete-route", "--route-table-id", &rtb, "--destination-cidr-block", "0.0.0.0/0"]).await;
    ok(&s, &["ec2", "disassociate-route-table", "--association-id", &assoc]).await;
    ok(&s, &["ec2", "delete-route-table", "--route-table-id", &rtb]).await;
    let e = err(&s, &["ec2", "delete-internet-gateway", "--internet-gateway-id", &igw]).await;
    assert!(e.contains("DependencyViolation"), "{e}");
    ok(&s, &["ec2", "detach-internet-gateway", "--internet-gateway-id", &igw, "--vpc-id", &vpc]).await;
    ok(&s, &["ec2", "delete-internet-gateway", "--internet-gateway-id", &igw]).await;
    let e = err(&s, &["ec2", "describe-internet-gateways", "--internet-gateway-ids", &igw]).await;
    assert!(e.contains("InvalidInternetGatewayID.NotFound"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_pagination_and_iam_authorization_follow_ec2() {
    let s = start().await;
    let e = err(&s, &["ec2", "create-vpc", "--cidr-block", "10.40.0.0/16", "--dry-run"]).await;
    assert!(e.contains("DryRunOperation"), "{e}");
    let v = ok(&s, &["ec2", "describe-vpcs", "--query", "length(Vpcs)"]).await;
    assert_eq!(v, 1, "a dry run creates nothing");

    for i in 0..6 {
        ok(&s, &["ec2", "create-vpc", "--cidr-block", &format!("10.{}.0.0/16", 50 + i)]).await;
    }
    // The CLI follows NextToken across pages of 5.
    let all = ok(&s, &["ec2", "describe-vpcs", "--page-size", "5", "--query", "Vpcs[].VpcId"]).await;
    assert_eq!(strs(&all).len(), 7);
    let first = ok(&s, &["ec2", "describe-vpcs", "--max-items", "5"]).await;
    assert_eq!(first["Vpcs"].as_array().unwrap().len(), 5);
    assert!(first["NextToken"].is_string(), "{first}");

    // A user without EC2 permissions is refused, then allowed by a policy.
    ok(&s, &["iam", "create-user", "--user-name", "net"]).await;
    let k = ok(&s, &["iam", "create-access-key", "--user-name", "net"]).await;
    let user = (k["AccessKey"]["AccessKeyId"].as_str().unwrap().to_string(), k["AccessKey"]["SecretAccessKey"].as_str().unwrap().to_string());
    let r = aws_as(&s, &user, &["ec2", "describe-vpcs"]).await;
    assert!(!r.ok && r.stderr.contains("UnauthorizedOperation") && r.stderr.contains("ec2:DescribeVpcs"), "{}", r.stderr);
    ok(&s, &["iam", "attach-user-policy", "--user-name", "net", "--policy-arn", "arn:aws:iam::aws:policy/ReadOnlyAccess"]).await;
    let r = aws_as(&s, &user, &["ec2", "describe-vpcs"]).await;
    assert!(r.ok, "{}", r.stderr);
    let r = aws_as(&s, &user, &["ec2", "create-vpc", "--cidr-block", "10.60.0.0/16"]).await;
    assert!(!r.ok && r.stderr.contains("UnauthorizedOperation"), "{}", r.stderr);
    let r = aws_as(&s, &user, &["ec2", "create-vpc", "--cidr-block", "10.60.0.0/16", "--dry-run"]).await;
    assert!(!r.ok && r.stderr.contains("UnauthorizedOperation"), "a dry run reports the denial: {}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_vpcs_and_the_default_vpc_survive_a_restart() {
    let s = start().await;
    let default_vpc = s.ec2.default_vpc(ACCOUNT, REGION).await.unwrap().unwrap().id;
    let vpc = ok(&s, &["ec2", "create-vpc", "--cidr-block", "10.70.0.0/16"]).await["Vpc"]["VpcId"].as_str().unwrap().to_string();
    let dir = s.stop().await;
    let s = start_in(dir).await;
    let ids = ok(&s, &["ec2", "describe-vpcs", "--query", "Vpcs[].VpcId"]).await;
    assert_eq!(strs(&ids), vec![default_vpc, vpc]);
}
