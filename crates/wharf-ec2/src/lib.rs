//! The EC2 VPC subset of Wharf's AWS front door (signing name `ec2`, protocol `ec2`).
//!
//! This crate owns the network records of every account and region: VPCs, subnets,
//! security groups and their rules, route tables, internet gateways and the tags on all of
//! them. On first use of an account's region it creates the default VPC (the configured
//! CIDR, `172.31.0.0/16` as AWS's), one default subnet per availability zone
//! (`<region>a/b/c`: `172.31.0.0/20`, `172.31.16.0/20`, `172.31.32.0/20`), its main route
//! table, an attached internet gateway, the default network ACL and the `default` security
//! group.
//!
//! [`Ec2`] implements [`wharf_aws::Service`] (register it on the front door) and offers typed
//! reads to other crates: [`Ec2::default_vpc`], [`Ec2::vpc`], [`Ec2::subnet`],
//! [`Ec2::subnets`], [`Ec2::security_group`], [`Ec2::security_groups`]. State lives in the
//! datastore, one record per account and region under `/aws/ec2/`, written with
//! compare-and-swap so that checks across resources (CIDR conflicts, dependencies) are
//! atomic with the writes they guard.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod api;
pub mod cidr;
pub mod filter;
pub mod model;

use std::sync::Arc;

use wharf_aws::AwsError;
use wharf_store::{Compare, KvStore, Op, StoreError, TxnRequest};

pub use api::OPERATIONS;
pub use cidr::Cidr;
pub use model::{InternetGateway, NetworkAcl, RegionState, RouteTable, SecurityGroup, SgRule, Subnet, Tag, Vpc};

/// Errors of the typed API other crates call.
#[derive(Debug, thiserror::Error)]
pub enum Ec2Error {
    /// The datastore failed.
    #[error("datastore: {0}")]
    Store(#[from] StoreError),
    /// A stored record does not decode.
    #[error("stored record {key} does not decode")]
    Corrupt {
        /// The key.
        key: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The configured default VPC CIDR is unusable.
    #[error("default VPC CIDR {0} must be a /16 to /24 block")]
    InvalidDefaultCidr(String),
}

/// `Result` with [`Ec2Error`].
pub type Result<T, E = Ec2Error> = std::result::Result<T, E>;

/// How default VPCs are laid out.
#[derive(Debug, Clone)]
pub struct Ec2Config {
    /// The default VPC's block; default subnets are its first three blocks four bits longer.
    pub default_vpc_cidr: Cidr,
}

impl Default for Ec2Config {
    fn default() -> Self {
        Self { default_vpc_cidr: Cidr { addr: std::net::Ipv4Addr::new(172, 31, 0, 0), prefix: 16 } }
    }
}

/// Prefix of the per-region records (`/aws/ec2/<account>/<region>`).
pub const EC2_PREFIX: &str = "/aws/ec2/";

/// The EC2 service and its typed API.
pub struct Ec2 {
    store: Arc<dyn KvStore>,
    config: Ec2Config,
}

impl std::fmt::Debug for Ec2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ec2").field("config", &self.config).finish()
    }
}

/// The three availability zones of a region: (`us-east-1a`, `use1-az1`), ….
pub fn availability_zones(region: &str) -> Vec<(String, String)> {
    let short = region_short_code(region);
    ["a", "b", "c"].iter().enumerate().map(|(i, z)| (format!("{region}{z}"), format!("{short}-az{}", i + 1))).collect()
}

/// AWS's short region code used in zone ids: `us-east-1` → `use1`, `ap-southeast-2` → `apse2`.
pub fn region_short_code(region: &str) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    let mut s = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i == 0 || i + 1 == parts.len() {
            s.push_str(p);
            continue;
        }
        let dir = match *p {
            "northeast" => "ne",
            "northwest" => "nw",
            "southeast" => "se",
            "southwest" => "sw",
            "central" => "c",
            "north" => "n",
            "south" => "s",
            "east" => "e",
            "west" => "w",
            other => other.get(..1).unwrap_or(""),
        };
        s.push_str(dir);
    }
    s
}

fn region_key(account: &str, region: &str) -> String {
    format!("{EC2_PREFIX}{account}/{region}")
}

impl Ec2 {
    /// EC2 over the datastore.
    pub fn new(store: Arc<dyn KvStore>, config: Ec2Config) -> Result<Self> {
        if !(16..=24).contains(&config.default_vpc_cidr.prefix) {
            return Err(Ec2Error::InvalidDefaultCidr(config.default_vpc_cidr.to_string()));
        }
        Ok(Self { store, config })
    }

    async fn read(&self, key: &str) -> Result<Option<(RegionState, i64)>> {
        match self.store.get(key.as_bytes().to_vec()).await? {
            None => Ok(None),
            Some(kv) => {
                let s = serde_json::from_slice(&kv.value).map_err(|e| Ec2Error::Corrupt { key: key.into(), source: e })?;
                Ok(Some((s, kv.mod_revision)))
            }
        }
    }

    async fn put_if(&self, key: &str, state: &RegionState, rev: i64) -> Result<bool> {
        let bytes = serde_json::to_vec(state).map_err(|e| Ec2Error::Corrupt { key: key.into(), source: e })?;
        let r = self
            .store
            .txn(TxnRequest {
                compare: vec![Compare::mod_revision(key.as_bytes().to_vec(), rev)],
                success: vec![Op::Put { key: key.as_bytes().to_vec(), value: bytes, lease: 0 }],
                failure: vec![],
            })
            .await?;
        Ok(r.succeeded)
    }

    /// The state of an account's region, creating the default VPC on first use.
    pub async fn region_state(&self, account: &str, region: &str) -> Result<RegionState> {
        Ok(self.load(account, region).await?.0)
    }

    async fn load(&self, account: &str, region: &str) -> Result<(RegionState, i64)> {
        let key = region_key(account, region);
        loop {
            if let Some(found) = self.read(&key).await? {
                return Ok(found);
            }
            let fresh = RegionState::bootstrap(self.config.default_vpc_cidr, account, &availability_zones(region));
            if self.put_if(&key, &fresh, 0).await? {
                tracing::info!(%account, %region, vpc = %fresh.vpcs.first().map(|v| v.id.as_str()).unwrap_or(""), "created the default VPC");
            }
        }
    }

    /// Creates the default VPC of an account's region if it does not exist yet.
    pub async fn ensure_region(&self, account: &str, region: &str) -> Result<()> {
        self.load(account, region).await.map(|_| ())
    }

    /// Read-modify-write of a region's state with retry on conflict; `f` may refuse with an
    /// AWS error, in which case nothing is written.
    pub(crate) async fn update<T>(
        &self,
        account: &str,
        region: &str,
        mut f: impl FnMut(&mut RegionState) -> std::result::Result<T, AwsError>,
    ) -> std::result::Result<T, AwsError> {
        let key = region_key(account, region);
        loop {
            let (mut state, rev) = self.load(account, region).await.map_err(AwsError::internal)?;
            let out = f(&mut state)?;
            if self.put_if(&key, &state, rev).await.map_err(AwsError::internal)? {
                return Ok(out);
            }
        }
    }

    /// The default VPC of an account's region (created on first use).
    pub async fn default_vpc(&self, account: &str, region: &str) -> Result<Option<Vpc>> {
        Ok(self.region_state(account, region).await?.vpcs.into_iter().find(|v| v.is_default))
    }

    /// A VPC by id.
    pub async fn vpc(&self, account: &str, region: &str, id: &str) -> Result<Option<Vpc>> {
        Ok(self.region_state(account, region).await?.vpcs.into_iter().find(|v| v.id == id))
    }

    /// A subnet by id.
    pub async fn subnet(&self, account: &str, region: &str, id: &str) -> Result<Option<Subnet>> {
        Ok(self.region_state(account, region).await?.subnets.into_iter().find(|s| s.id == id))
    }

    /// The subnets of a VPC.
    pub async fn subnets(&self, account: &str, region: &str, vpc_id: &str) -> Result<Vec<Subnet>> {
        Ok(self.region_state(account, region).await?.subnets.into_iter().filter(|s| s.vpc_id == vpc_id).collect())
    }

    /// The security groups of a VPC.
    pub async fn security_groups(&self, account: &str, region: &str, vpc_id: &str) -> Result<Vec<SecurityGroup>> {
        Ok(self.region_state(account, region).await?.security_groups.into_iter().filter(|g| g.vpc_id == vpc_id).collect())
    }

    /// A security group by id.
    pub async fn security_group(&self, account: &str, region: &str, id: &str) -> Result<Option<SecurityGroup>> {
        Ok(self.region_state(account, region).await?.security_groups.into_iter().find(|g| g.id == id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_ids_use_aws_short_region_codes() {
        assert_eq!(region_short_code("us-east-1"), "use1");
        assert_eq!(region_short_code("eu-central-1"), "euc1");
        assert_eq!(region_short_code("ap-southeast-2"), "apse2");
        let z = availability_zones("us-west-2");
        assert_eq!(z[2], ("us-west-2c".to_string(), "usw2-az3".to_string()));
    }
}
