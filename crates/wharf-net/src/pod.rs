//! Pod networking on an instance (the CNI role, shaped like the AWS VPC CNI).
//!
//! A pod gets a VPC address from its instance's pod range and a veth: `veth<hash>` in the instance,
//! `eth0` in the sandbox with the address as a /32, a link-scope route to the gateway `169.254.1.1`
//! and a default route via it. The instance routes the /32 to the veth and answers ARP for the
//! gateway on the veth (proxy ARP).
//!
//! Cross-instance reachability is VPC-native, with no overlay and no per-peer routes: every
//! instance has the whole VPC block on-link on its `eth0` and proxy ARP on, so when anyone on the
//! bridge (host, another instance) asks for a pod address, the instance that routes that /32 to a
//! local veth answers and then forwards. Nothing needs reprogramming on other instances when a pod
//! comes or goes.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::cidr::Ipv4Cidr;
use crate::error::{Error, Result};
use crate::ipam::Ipam;
use crate::names;
use crate::netns::{run_in_netns, write_sysctl};
use crate::nl::Nl;

/// The link-local gateway pods route through (as the AWS VPC CNI does).
pub const POD_GATEWAY: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);

/// The name of the pod's interface inside its sandbox.
pub const POD_IFNAME: &str = "eth0";

/// What a node agent needs from pod networking (the CNI ADD/DEL pair), as a narrow trait so the
/// agent's pod logic can be tested with a fake and without root.
pub trait PodNetworking: Send + Sync + 'static {
    /// Wires the sandbox whose network namespace file is `sandbox_netns` for pod `pod_uid` and
    /// returns the pod's IP (idempotent per uid). Blocking: call it off the async runtime.
    fn attach(&self, pod_uid: &str, sandbox_netns: &Path) -> Result<IpAddr>;
    /// Unwires pod `pod_uid` and releases its IP (idempotent). Blocking.
    fn detach(&self, pod_uid: &str) -> Result<()>;
    /// The address pod `pod_uid` holds, if any (a re-adopted sandbox keeps its wiring).
    fn address_of(&self, pod_uid: &str) -> Option<IpAddr>;
    /// The uids holding an address (to release those of pods that are gone).
    fn holders(&self) -> Vec<String>;
}

impl PodNetworking for PodNetwork {
    fn attach(&self, pod_uid: &str, sandbox_netns: &Path) -> Result<IpAddr> {
        PodNetwork::attach(self, pod_uid, sandbox_netns)
    }
    fn detach(&self, pod_uid: &str) -> Result<()> {
        PodNetwork::detach(self, pod_uid)
    }
    fn address_of(&self, pod_uid: &str) -> Option<IpAddr> {
        PodNetwork::address_of(self, pod_uid).map(IpAddr::V4)
    }
    fn holders(&self) -> Vec<String> {
        self.allocations().into_iter().map(|(uid, _)| uid).collect()
    }
}

/// One instance's pod network. Clones share the same IPAM book; one process should own an
/// instance's book at a time (the file is not locked against other processes).
#[derive(Debug, Clone)]
pub struct PodNetwork {
    instance: String,
    netns: PathBuf,
    address: Ipv4Addr,
    pod_cidr: Ipv4Cidr,
    ipam: Arc<Mutex<Ipam>>,
}

impl PodNetwork {
    /// Opens the pod network of the instance whose namespace is `instance_netns`, with its IPAM
    /// book at `ipam_path` (created on first allocation). `instance_address` is never handed to a pod.
    pub fn open(
        instance: &str,
        instance_netns: &Path,
        instance_address: Ipv4Addr,
        pod_cidr: Ipv4Cidr,
        ipam_path: &Path,
    ) -> Result<PodNetwork> {
        let ipam = Ipam::open(ipam_path, instance, pod_cidr)?;
        Ok(PodNetwork {
            instance: instance.to_string(),
            netns: instance_netns.to_path_buf(),
            address: instance_address,
            pod_cidr,
            ipam: Arc::new(Mutex::new(ipam)),
        })
    }

    fn book(&self) -> MutexGuard<'_, Ipam> {
        // A panic while holding the lock leaves the book as persisted last; keep using it.
        self.ipam.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The instance's pod range.
    pub fn pod_cidr(&self) -> Ipv4Cidr {
        self.pod_cidr
    }

    /// The address currently held by `pod_uid`, if any.
    pub fn address_of(&self, pod_uid: &str) -> Option<Ipv4Addr> {
        self.book().get(pod_uid)
    }

    /// Every pod uid with its address.
    pub fn allocations(&self) -> Vec<(String, Ipv4Addr)> {
        self.book().allocations().iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Wires the sandbox whose network namespace is `sandbox_netns` for pod `pod_uid` and returns
    /// its address. Idempotent: a uid keeps its address, and its veth is rebuilt into whichever
    /// sandbox is given. On failure nothing stays behind (veth removed, fresh address released).
    pub fn attach(&self, pod_uid: &str, sandbox_netns: &Path) -> Result<IpAddr> {
        if pod_uid.is_empty() {
            return Err(Error::Name { name: String::new(), reason: "pod uid must not be empty" });
        }
        let mut book = self.book();
        let had = book.get(pod_uid).is_some();
        let ip = book.allocate(pod_uid, &[self.address])?;
        let veth = names::pod_host_link(pod_uid);
        match self.wire(&veth, ip, sandbox_netns) {
            Ok(()) => Ok(IpAddr::V4(ip)),
            Err(e) => {
                if let Ok(mut nl) = Nl::open_in(&self.netns) {
                    let _ = nl.del_link_named(&veth);
                }
                if !had {
                    let _ = book.release(pod_uid);
                }
                Err(e)
            }
        }
    }

    fn wire(&self, veth: &str, ip: Ipv4Addr, sandbox_netns: &Path) -> Result<()> {
        let mut inst = Nl::open_in(&self.netns)?;
        inst.del_link_named(veth)?;
        let sandbox = File::open(sandbox_netns).map_err(|e| Error::io("open sandbox netns", sandbox_netns, e))?;
        inst.add_veth(veth, POD_IFNAME, Some(sandbox.as_fd()))?;
        let host_end = inst.link(veth)?.ok_or_else(|| missing(veth, &self.instance))?;
        inst.set_up(host_end.index, None)?;
        inst.replace_route(ip, 32, None, host_end.index)?;
        let key = veth.to_string();
        run_in_netns(&self.netns, move || -> Result<()> {
            write_sysctl(&format!("net/ipv4/conf/{key}/proxy_arp"), "1")?;
            write_sysctl(&format!("net/ipv4/neigh/{key}/proxy_delay"), "0")
        })??;

        let mut pod = Nl::open_in(sandbox_netns)?;
        if let Some(lo) = pod.link("lo")? {
            pod.set_up(lo.index, None)?;
        }
        let eth0 = pod.link(POD_IFNAME)?.ok_or_else(|| missing(POD_IFNAME, &sandbox_netns.display().to_string()))?;
        pod.add_addr(eth0.index, ip, 32)?;
        pod.set_up(eth0.index, None)?;
        pod.replace_route(POD_GATEWAY, 32, None, eth0.index)?;
        pod.replace_route(Ipv4Addr::UNSPECIFIED, 0, Some(POD_GATEWAY), eth0.index)?;
        Ok(())
    }

    /// Unwires pod `pod_uid` (its veth, and with it the /32 route and the sandbox's `eth0`) and
    /// releases its address. Idempotent; works when the sandbox is already gone.
    pub fn detach(&self, pod_uid: &str) -> Result<()> {
        let mut book = self.book();
        let veth = names::pod_host_link(pod_uid);
        if crate::netns::is_netns(&self.netns) {
            Nl::open_in(&self.netns)?.del_link_named(&veth)?;
        }
        book.release(pod_uid)?;
        Ok(())
    }
}

fn missing(link: &str, place: &str) -> Error {
    Error::Netlink {
        op: format!("find link {link} in {place} after creating it"),
        source: std::io::Error::from_raw_os_error(19),
    }
}
