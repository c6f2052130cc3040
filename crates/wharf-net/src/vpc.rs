//! The host side of a VPC: a Linux bridge carrying the VPC router address.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::cidr::Ipv4Cidr;
use crate::error::{Error, Result};
use crate::instance::{Instance, InstanceConfig};
use crate::names;
use crate::nl::{self, Nl};

/// How many availability zones (and so subnets) [`Vpc::plan_instance`] spreads instances over,
/// `<region>a/b/c` as in AWS's default VPC.
pub const AVAILABILITY_ZONES: u64 = 3;

/// What a VPC is made of.
#[derive(Debug, Clone)]
pub struct VpcConfig {
    /// Unique per VPC on this machine; every kernel object name is derived from it.
    pub tag: String,
    /// The VPC block (`172.31.0.0/16` by default, as AWS's default VPC).
    pub cidr: Ipv4Cidr,
    /// Where instance namespaces (`netns/<name>`) and IPAM books (`ipam/<name>.json`) live.
    pub state_dir: PathBuf,
}

impl VpcConfig {
    /// The default VPC block, `172.31.0.0/16`.
    pub fn default_cidr() -> Ipv4Cidr {
        Ipv4Cidr::new(Ipv4Addr::new(172, 31, 0, 0), 16).unwrap_or_else(|_| unreachable!("constant block"))
    }
}

/// A VPC: its bridge on the host holds the router address (first usable address of the block), so
/// the host reaches every instance and pod on-link. Nothing is forwarded or NATed off the machine.
#[derive(Debug, Clone)]
pub struct Vpc {
    config: VpcConfig,
    bridge: String,
}

impl Vpc {
    /// Creates the VPC's bridge in the caller's (host) network namespace, or adopts the one a
    /// previous run left (idempotent).
    pub fn create(config: VpcConfig) -> Result<Vpc> {
        names::check(&config.tag)?;
        if config.cidr.prefix() > 28 {
            return Err(Error::Cidr { value: config.cidr.to_string(), reason: "a VPC block must be /28 or larger" });
        }
        let bridge = names::bridge_name(&config.tag);
        let vpc = Vpc { config, bridge };
        let mut nl = Nl::open()?;
        // Another VPC (a concurrent `wharf up`) or a host network on the same block would make
        // addresses ambiguous: refuse rather than break both.
        let mine = nl.link(&vpc.bridge)?.map(|l| l.index);
        for (index, ip, prefix) in nl.addrs_v4()? {
            if Some(index) == mine || ip.is_loopback() {
                continue;
            }
            if Ipv4Cidr::containing(ip, prefix)?.overlaps(&vpc.config.cidr) {
                return Err(Error::Cidr {
                    value: vpc.config.cidr.to_string(),
                    reason: "overlaps an address already on another host link (another VPC or a host network)",
                });
            }
        }
        for sub in ["netns", "ipam"] {
            let d = vpc.config.state_dir.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| Error::io("create dir", d, e))?;
        }
        let index = vpc.ensure_bridge(&mut nl)?;
        nl.add_addr(index, vpc.router(), vpc.config.cidr.prefix())?;
        // The host never forwards what arrives from the VPC: nothing leaves the machine unless
        // egress is configured (IPv4 checks forwarding on the ingress interface).
        crate::netns::write_sysctl(&format!("net/ipv4/conf/{}/forwarding", vpc.bridge), "0")?;
        nl.set_up(index, None)?;
        Ok(vpc)
    }

    fn ensure_bridge(&self, nl: &mut Nl) -> Result<u32> {
        if let Some(l) = nl.link(&self.bridge)? {
            return Ok(l.index);
        }
        match nl.add_bridge(&self.bridge) {
            Ok(()) => {}
            Err(e) if nl::is_exists(&e) => {}
            Err(e) => return Err(e),
        }
        nl.link(&self.bridge)?.map(|l| l.index).ok_or_else(|| Error::Netlink {
            op: format!("find bridge {} after creating it", self.bridge),
            source: std::io::Error::from_raw_os_error(19),
        })
    }

    /// The host-side index of the bridge.
    pub(crate) fn bridge_index(&self, nl: &mut Nl) -> Result<u32> {
        self.ensure_bridge(nl)
    }

    /// The VPC's tag.
    pub fn tag(&self) -> &str {
        &self.config.tag
    }

    /// The VPC block.
    pub fn cidr(&self) -> Ipv4Cidr {
        self.config.cidr
    }

    /// The router address on the host bridge (`172.31.0.1` by default): where instances reach the
    /// control plane, DNS and the registry.
    pub fn router(&self) -> Ipv4Addr {
        self.config.cidr.nth(1).unwrap_or(self.config.cidr.network())
    }

    /// The bridge's link name on the host.
    pub fn bridge_name(&self) -> &str {
        &self.bridge
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.config.state_dir
    }

    /// Creates instance `config.name` on this VPC, or adopts it after a restart (idempotent).
    pub fn instance(&self, config: InstanceConfig) -> Result<Instance> {
        Instance::create(self, config)
    }

    /// An AWS-like placement for the `index`th instance of this VPC; see [`plan_instance`].
    pub fn plan_instance(&self, index: u64, name: &str) -> Result<InstanceConfig> {
        plan_instance(self.config.cidr, index, name)
    }

    /// Removes everything this VPC made: every instance (namespace, links, IPAM book), any link
    /// still enslaved to the bridge, the bridge itself and the state directories.
    pub fn destroy(self) -> Result<()> {
        Vpc::cleanup(&self.config.tag, &self.config.state_dir)
    }

    /// [`Vpc::destroy`] without a `Vpc` value, e.g. after a crash: everything is found again from
    /// the tag and the state directory. Safe to call when nothing is left.
    pub fn cleanup(tag: &str, state_dir: &Path) -> Result<()> {
        names::check(tag)?;
        let mut first_err: Option<Error> = None;
        let mut keep = |r: Result<()>| {
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        };
        let netns_dir = state_dir.join("netns");
        if let Ok(entries) = std::fs::read_dir(&netns_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                keep(Instance::cleanup(tag, state_dir, &name));
            }
        }
        let mut nl = Nl::open()?;
        let bridge = names::bridge_name(tag);
        if let Some(br) = nl.link(&bridge)? {
            for l in nl.links()? {
                if l.controller == Some(br.index) {
                    keep(nl.del_link(l.index));
                }
            }
            keep(nl.del_link(br.index));
        }
        for sub in ["netns", "ipam"] {
            let d = state_dir.join(sub);
            match std::fs::remove_dir_all(&d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => keep(Err(Error::io("remove dir", d, e))),
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// An AWS-like placement for the `index`th instance of a VPC on `cidr`: availability zone
/// `index % 3`, whose subnet is the zone's `/(prefix+4)` of the VPC (`172.31.0.0/20`,
/// `172.31.16.0/20`, `172.31.32.0/20` for the default block); the instance's address is in the
/// subnet's first /24 from `.10` on, and its pods get the subnet's `(1 + index / 3)`th /24.
/// Needs a VPC block of /19 or larger.
pub fn plan_instance(cidr: Ipv4Cidr, index: u64, name: &str) -> Result<InstanceConfig> {
    let too_small = |reason| Error::Cidr { value: cidr.to_string(), reason };
    if cidr.prefix() > 19 {
        return Err(too_small("plan_instance needs a VPC block of /19 or larger"));
    }
    let zone = index % AVAILABILITY_ZONES;
    let slot = index / AVAILABILITY_ZONES;
    let subnet = cidr.subnet(cidr.prefix() + 4, zone)?;
    if slot >= 240 {
        return Err(too_small("too many instances in one availability zone"));
    }
    let address = subnet.nth(10 + slot).ok_or_else(|| too_small("no address left for the instance"))?;
    let pod_cidr = subnet.subnet(24, 1 + slot).map_err(|_| too_small("no /24 left for the instance's pods"))?;
    Ok(InstanceConfig { name: name.to_string(), address, pod_cidr, zone: zone as usize })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_should_spread_instances_over_three_zone_subnets_like_the_default_vpc() {
        let cidr = VpcConfig::default_cidr();
        let plan: Vec<InstanceConfig> = (0..4).map(|i| plan_instance(cidr, i, &format!("n{i}")).unwrap()).collect();
        let show: Vec<(String, String, usize)> =
            plan.iter().map(|c| (c.address.to_string(), c.pod_cidr.to_string(), c.zone)).collect();
        assert_eq!(
            show,
            vec![
                ("172.31.0.10".into(), "172.31.1.0/24".into(), 0),
                ("172.31.16.10".into(), "172.31.17.0/24".into(), 1),
                ("172.31.32.10".into(), "172.31.33.0/24".into(), 2),
                ("172.31.0.11".into(), "172.31.2.0/24".into(), 0),
            ]
        );
        // Pod ranges of different instances never overlap, and never hold an instance address.
        let many: Vec<InstanceConfig> = (0..45).map(|i| plan_instance(cidr, i, "n").unwrap()).collect();
        for (i, a) in many.iter().enumerate() {
            for b in &many[i + 1..] {
                assert!(!a.pod_cidr.overlaps(&b.pod_cidr));
                assert!(!a.pod_cidr.contains(b.address) && !b.pod_cidr.contains(a.address));
            }
        }
    }

    #[test]
    fn plan_should_refuse_blocks_too_small_for_the_layout() {
        assert!(plan_instance("10.1.0.0/20".parse().unwrap(), 0, "n").is_err());
        assert!(plan_instance("10.1.0.0/19".parse().unwrap(), 0, "n").is_ok());
    }
}
