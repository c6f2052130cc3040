//! The EC2 VPC subset on `wharf up`'s listener: the real aws CLI with only the variables of
//! `DIR/aws.env` set.

mod common;

use common::Wharf;
use serde_json::Value;
use std::process::Command;

fn aws(w: &Wharf, args: &[&str]) -> std::process::Output {
    let env = std::fs::read_to_string(w.dir.join("aws.env")).expect("aws.env written on start");
    let mut cmd = Command::new("aws");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", w.dir.as_os_str())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "");
    for line in env.lines() {
        let Some((k, v)) = line.trim().trim_start_matches("export ").split_once('=') else { continue };
        cmd.env(k, v.trim_matches(|c| c == '"' || c == '\''));
    }
    cmd.args(args).args(["--output", "json"]).output().expect("run aws")
}

fn ok(w: &Wharf, args: &[&str]) -> Value {
    let out = aws(w, args);
    assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(&out.stdout).expect("json output")
}

fn fails(w: &Wharf, args: &[&str]) -> String {
    let out = aws(w, args);
    assert!(!out.status.success(), "aws {args:?} unexpectedly succeeded: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array().expect("array").iter().map(|x| x.as_str().expect("string").to_string()).collect()
}

#[test]
fn the_aws_cli_manages_vpcs_subnets_security_groups_and_tags_that_survive_a_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut w = Wharf::start_in(tmp.path());

    // The default VPC and its three default subnets, found with filters.
    let vpcs = ok(&w, &["ec2", "describe-vpcs", "--filters", "Name=isDefault,Values=true"]);
    assert_eq!(vpcs["Vpcs"].as_array().map(Vec::len), Some(1), "{vpcs}");
    assert_eq!(vpcs["Vpcs"][0]["CidrBlock"], "172.31.0.0/16");
    let default_vpc = vpcs["Vpcs"][0]["VpcId"].as_str().expect("vpc id").to_string();
    let mut cidrs = strs(&ok(
        &w,
        &["ec2", "describe-subnets", "--filters", &format!("Name=vpc-id,Values={default_vpc}"), "Name=default-for-az,Values=true", "--query", "Subnets[].join(' ', [AvailabilityZone, CidrBlock])"],
    ));
    cidrs.sort();
    assert_eq!(cidrs, ["us-east-1a 172.31.0.0/20", "us-east-1b 172.31.16.0/20", "us-east-1c 172.31.32.0/20"]);

    let zones = ok(&w, &["ec2", "describe-availability-zones", "--query", "AvailabilityZones[].ZoneId"]);
    assert_eq!(strs(&zones), ["use1-az1", "use1-az2", "use1-az3"]);

    // A VPC of one's own; subnets must not overlap.
    let vpc = ok(&w, &["ec2", "create-vpc", "--cidr-block", "10.0.0.0/16"])["Vpc"]["VpcId"].as_str().expect("vpc id").to_string();
    let subnet = ok(&w, &["ec2", "create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.0.1.0/24", "--availability-zone", "us-east-1a"])["Subnet"]
        ["SubnetId"]
        .as_str()
        .expect("subnet id")
        .to_string();
    let e = fails(&w, &["ec2", "create-subnet", "--vpc-id", &vpc, "--cidr-block", "10.0.1.0/25"]);
    assert!(e.contains("InvalidSubnet.Conflict"), "{e}");

    // A security group with an ingress rule.
    let sg = ok(&w, &["ec2", "create-security-group", "--group-name", "ssh", "--description", "ssh in", "--vpc-id", &vpc])["GroupId"]
        .as_str()
        .expect("group id")
        .to_string();
    ok(&w, &["ec2", "authorize-security-group-ingress", "--group-id", &sg, "--protocol", "tcp", "--port", "22", "--cidr", "192.0.2.0/24"]);
    let groups = ok(&w, &["ec2", "describe-security-groups", "--filters", &format!("Name=vpc-id,Values={vpc}"), "Name=group-name,Values=ssh"]);
    let perm = &groups["SecurityGroups"][0]["IpPermissions"][0];
    assert_eq!(perm["IpProtocol"], "tcp");
    assert_eq!(perm["FromPort"], 22);
    assert_eq!(perm["IpRanges"][0]["CidrIp"], "192.0.2.0/24");

    // Tags, and finding resources by them.
    ok(&w, &["ec2", "create-tags", "--resources", &vpc, &subnet, "--tags", "Key=project,Value=wharf"]);
    let tagged = ok(&w, &["ec2", "describe-tags", "--filters", "Name=key,Values=project", "Name=resource-type,Values=vpc"]);
    assert_eq!(tagged["Tags"].as_array().map(Vec::len), Some(1), "{tagged}");
    assert_eq!(tagged["Tags"][0]["ResourceId"], vpc.as_str());
    let by_tag = ok(&w, &["ec2", "describe-subnets", "--filters", "Name=tag:project,Values=wharf", "--query", "Subnets[].SubnetId"]);
    assert_eq!(strs(&by_tag), [subnet.as_str()]);

    // Deleting the VPC waits for its subnet and group.
    let e = fails(&w, &["ec2", "delete-vpc", "--vpc-id", &vpc]);
    assert!(e.contains("DependencyViolation"), "{e}");
    ok(&w, &["ec2", "delete-subnet", "--subnet-id", &subnet]);
    ok(&w, &["ec2", "delete-security-group", "--group-id", &sg]);
    ok(&w, &["ec2", "delete-vpc", "--vpc-id", &vpc]);
    let e = fails(&w, &["ec2", "describe-vpcs", "--vpc-ids", &vpc]);
    assert!(e.contains("InvalidVpcID.NotFound"), "{e}");

    // A restart keeps what was created.
    let kept = ok(&w, &["ec2", "create-vpc", "--cidr-block", "10.1.0.0/16", "--tag-specifications", "ResourceType=vpc,Tags=[{Key=Name,Value=kept}]"])["Vpc"]["VpcId"]
        .as_str()
        .expect("vpc id")
        .to_string();
    w.stop();
    let w = Wharf::start_in(tmp.path());
    let after = ok(&w, &["ec2", "describe-vpcs", "--filters", "Name=tag:Name,Values=kept", "--query", "Vpcs[].VpcId"]);
    assert_eq!(strs(&after), [kept]);
    let all = ok(&w, &["ec2", "describe-vpcs", "--query", "Vpcs[].VpcId"]);
    assert!(strs(&all).contains(&default_vpc), "the default VPC is not recreated on restart: {all}");
    assert_eq!(strs(&all).len(), 2, "{all}");
}
