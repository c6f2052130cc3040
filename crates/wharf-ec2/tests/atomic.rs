//! Checks across resources are atomic with the writes they guard: concurrent requests that
//! conflict cannot both succeed.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use async_trait::async_trait;
use wharf_aws::{AwsError, Caller, ConditionKeys, Credential, Decision, Identity, Input, PrincipalKind, QueryParams, RequestContext, Service};
use wharf_ec2::{Ec2, Ec2Config};
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

fn ctx(op: &str) -> RequestContext {
    RequestContext {
        request_id: "r".into(),
        caller: Caller {
            account: ACCOUNT.into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:root"),
            user_id: ACCOUNT.into(),
            access_key_id: None,
            kind: PrincipalKind::Root,
        },
        region: "us-east-1".into(),
        operation: op.into(),
        source_ip: None,
        identity: Arc::new(AllowAll),
        now: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_overlapping_subnets_cannot_both_be_created() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("store")).unwrap());
    let ec2 = Arc::new(Ec2::new(store, Ec2Config::default()).unwrap());
    let vpc = ec2.default_vpc(ACCOUNT, "us-east-1").await.unwrap().unwrap().id;
    let mut tasks = Vec::new();
    // Eight /24s inside 172.31.48.0/21 racing with the /21 itself and with each other twice.
    for i in 0..16u32 {
        let ec2 = ec2.clone();
        let cidr = if i == 0 { "172.31.48.0/21".to_string() } else { format!("172.31.{}.0/24", 48 + (i % 8)) };
        let params = QueryParams(vec![("VpcId".into(), vpc.clone()), ("CidrBlock".into(), cidr)]);
        tasks.push(tokio::spawn(async move { ec2.call(&ctx("CreateSubnet"), "CreateSubnet", Input::Query(params)).await }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => created += 1,
            Err(e) => assert_eq!(e.code, "InvalidSubnet.Conflict", "{e}"),
        }
    }
    let subnets = ec2.subnets(ACCOUNT, "us-east-1", &vpc).await.unwrap();
    assert_eq!(subnets.len(), 3 + created);
    for a in &subnets {
        for b in subnets.iter().filter(|b| b.id != a.id) {
            assert!(!a.cidr.overlaps(&b.cidr), "{} overlaps {}", a.cidr, b.cidr);
        }
    }
    assert!((1..=8).contains(&created), "{created}");
}
