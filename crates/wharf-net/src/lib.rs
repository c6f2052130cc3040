//! wharf-net owns VPC networking on one machine, built from kernel primitives over netlink (no
//! `ip` binary at runtime):
//!
//! - [`Vpc`]: the host side of a VPC, a Linux bridge holding the router address (`172.31.0.1/16` by
//!   default) so the host reaches every instance and pod on-link; nothing is routed or NATed off
//!   the machine.
//! - [`Instance`]: one persistent network namespace per node, `eth0` on the bridge with its VPC
//!   address, default route via the router, forwarding and proxy ARP on.
//! - [`PodNetwork`]: the CNI role. Pods get VPC addresses from their instance's pod range (IPAM
//!   persisted per instance) on a veth, routed as /32s, reachable from everywhere in the VPC through
//!   proxy ARP on the owning instance (see [`pod`] for the design).
//! - Namespace helpers for other crates: [`run_in_netns`], [`bind_tcp_in`], [`spawn_in`],
//!   [`create_netns`], [`remove_netns`].
//!
//! Every kernel object name derives from the VPC tag ([`names`]), so VPCs of concurrent runs never
//! clash, and [`Vpc::cleanup`] finds and removes everything from the tag after a crash.

#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cidr;
mod error;
pub mod instance;
pub mod ipam;
pub mod names;
pub mod netns;
mod nl;
pub mod pod;
pub mod vpc;

pub use cidr::Ipv4Cidr;
pub use error::{Error, Result};
pub use instance::{Instance, InstanceConfig};
pub use netns::{bind_tcp_in, create_netns, is_netns, remove_netns, run_in_netns, spawn_in};
pub use pod::{PodNetwork, PodNetworking, POD_GATEWAY};
pub use vpc::{plan_instance, Vpc, VpcConfig};
