//! Instances: one persistent network namespace per node, plugged into the VPC bridge.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use crate::cidr::Ipv4Cidr;
use crate::error::{Error, Result};
use crate::names;
use crate::netns::{self, run_in_netns, write_sysctl};
use crate::nl::{self, Nl};
use crate::pod::PodNetwork;
use crate::vpc::Vpc;

/// The name of the instance's interface inside its namespace.
pub const INSTANCE_IFNAME: &str = "eth0";

/// Where an instance sits in the VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    /// The instance (node) name; names its namespace file and IPAM book.
    pub name: String,
    /// The instance's primary address, inside the VPC block.
    pub address: Ipv4Addr,
    /// The block its pods get addresses from, inside the VPC block.
    pub pod_cidr: Ipv4Cidr,
    /// Index of the availability zone (`0` = `<region>a`), informational.
    pub zone: usize,
}

/// A node's network: a persistent namespace at `<state>/netns/<name>` with `eth0` on the VPC
/// bridge (address with the VPC's prefix, so the whole VPC is on-link), loopback up, a default
/// route via the VPC router, forwarding and proxy ARP on.
#[derive(Debug, Clone)]
pub struct Instance {
    config: InstanceConfig,
    netns: PathBuf,
    host_link: String,
    pods: PodNetwork,
}

impl Instance {
    pub(crate) fn create(vpc: &Vpc, config: InstanceConfig) -> Result<Instance> {
        names::check(&config.name)?;
        let cidr = vpc.cidr();
        let bad = |reason| Error::Cidr { value: format!("{} for instance {}", config.address, config.name), reason };
        if !cidr.contains(config.address) {
            return Err(bad("instance address outside the VPC block"));
        }
        if config.address == vpc.router() || config.address == cidr.network() || Some(config.address) == cidr.nth(cidr.size() - 1) {
            return Err(bad("instance address is reserved (network, router or broadcast)"));
        }
        if !cidr.covers(&config.pod_cidr) {
            return Err(Error::Cidr { value: config.pod_cidr.to_string(), reason: "pod range outside the VPC block" });
        }
        let netns_path = vpc.state_dir().join("netns").join(&config.name);
        let host_link = names::instance_host_link(vpc.tag(), &config.name);
        netns::create_netns(&netns_path)?;

        // Host side: the veth, its far end created directly as eth0 inside the instance.
        let mut host = Nl::open()?;
        let bridge = vpc.bridge_index(&mut host)?;
        if host.link(&host_link)?.is_none() {
            let ns = File::open(&netns_path).map_err(|e| Error::io("open netns", &netns_path, e))?;
            match host.add_veth(&host_link, INSTANCE_IFNAME, Some(ns.as_fd())) {
                Ok(()) => {}
                Err(e) if nl::is_exists(&e) => {}
                Err(e) => return Err(e),
            }
        }
        let port = host.link(&host_link)?.ok_or_else(|| Error::Netlink {
            op: format!("find {host_link} after creating it"),
            source: std::io::Error::from_raw_os_error(19),
        })?;
        host.set_up(port.index, Some(bridge))?;

        // Instance side.
        let mut inner = Nl::open_in(&netns_path)?;
        if let Some(lo) = inner.link("lo")? {
            inner.set_up(lo.index, None)?;
        }
        let eth0 = inner.link(INSTANCE_IFNAME)?.ok_or_else(|| Error::Netlink {
            op: format!("find {INSTANCE_IFNAME} in instance {}", config.name),
            source: std::io::Error::from_raw_os_error(19),
        })?;
        inner.add_addr(eth0.index, config.address, cidr.prefix())?;
        inner.set_up(eth0.index, None)?;
        inner.replace_route(Ipv4Addr::UNSPECIFIED, 0, Some(vpc.router()), eth0.index)?;
        run_in_netns(&netns_path, || -> Result<()> {
            write_sysctl("net/ipv4/ip_forward", "1")?;
            write_sysctl("net/ipv4/conf/all/rp_filter", "0")?;
            write_sysctl(&format!("net/ipv4/conf/{INSTANCE_IFNAME}/rp_filter"), "0")?;
            // Answer ARP on the VPC for the pod addresses routed to local veths.
            write_sysctl(&format!("net/ipv4/conf/{INSTANCE_IFNAME}/proxy_arp"), "1")?;
            write_sysctl(&format!("net/ipv4/neigh/{INSTANCE_IFNAME}/proxy_delay"), "0")
        })??;

        let ipam_path = vpc.state_dir().join("ipam").join(format!("{}.json", config.name));
        let pods = PodNetwork::open(&config.name, &netns_path, config.address, config.pod_cidr, &ipam_path)?;
        Ok(Instance { config, netns: netns_path, host_link, pods })
    }

    /// The instance's configuration.
    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    /// The instance name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The instance's primary address (the node's InternalIP).
    pub fn address(&self) -> Ipv4Addr {
        self.config.address
    }

    /// The namespace file: enter it to run the node agent "on" the instance, or for hostNetwork pods.
    pub fn netns_path(&self) -> &Path {
        &self.netns
    }

    /// The host end of the instance's veth.
    pub fn host_link(&self) -> &str {
        &self.host_link
    }

    /// The instance's pod network (CNI role); cheap to clone and hand to the node agent.
    pub fn pods(&self) -> &PodNetwork {
        &self.pods
    }

    /// Removes the instance: its host link (and so its `eth0`), its namespace file and its IPAM book.
    /// Pod veths die with the namespace once nothing holds it any more.
    pub fn destroy(self) -> Result<()> {
        let state_dir = self.netns.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
        destroy_parts(&self.host_link, &self.netns, &state_dir.join("ipam").join(format!("{}.json", self.config.name)))
    }

    /// [`Instance::destroy`] from names alone (after a crash).
    pub fn cleanup(tag: &str, state_dir: &Path, name: &str) -> Result<()> {
        names::check(name)?;
        let host_link = names::instance_host_link(tag, name);
        destroy_parts(&host_link, &state_dir.join("netns").join(name), &state_dir.join("ipam").join(format!("{name}.json")))
    }
}

fn destroy_parts(host_link: &str, netns_path: &Path, ipam: &Path) -> Result<()> {
    let mut host = Nl::open()?;
    host.del_link_named(host_link)?;
    netns::remove_netns(netns_path)?;
    for p in [ipam.to_path_buf(), ipam.with_extension("json.tmp")] {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove ipam state", p, e)),
        }
    }
    Ok(())
}
