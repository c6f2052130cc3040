//! wharf-proxy owns the node's Service proxy (kube-proxy's role) on nftables, and the LoadBalancer
//! address allocator.
//!
//! - [`model`]: the proxy's view of Services and endpoints (no Kubernetes types);
//! - [`render`]: a pure renderer from that view to an nftables ruleset in one table `ip wharf-<tag>`,
//!   shaped like kube-proxy's nftables mode (verdict maps keyed by address, protocol and port;
//!   `numgen` endpoint choice; ClientIP affinity sets; reject when there are no endpoints);
//! - [`proxier`]: the incremental state: a full load first, then one small transaction per change;
//! - [`nft`]: running `nft -f -` inside a network namespace;
//! - `run` / `run_lb` (feature `controller`): watch Services and EndpointSlices and keep a node's
//!   table in sync; publish `status.loadBalancer.ingress` for type=LoadBalancer Services.
//!
//! LoadBalancer addresses follow k3s's servicelb: the allocator publishes the InternalIP of every
//! Ready node, and each node's proxy serves `<node IP>:<service port>` like the cluster IP
//! (external traffic: masqueraded under `externalTrafficPolicy: Cluster`, local endpoints only
//! under `Local`). Node IPs are on the VPC bridge, so the host reaches them with no address pool to
//! configure. A (protocol, port) already used by an older LoadBalancer Service leaves the newer
//! one pending, as servicelb does. Only Services without `spec.loadBalancerClass` are handled
//! unless `LbConfig` names a class.
//!
//! Differences from kube-proxy, each measured (see BENCHMARKS.md, "Service proxy"): no chain per
//! endpoint (hairpin is caught after DNAT by a `saddr . daddr` set) and a `numgen` cascade
//! instead of anonymous verdict maps, because `nft` 1.0.6 and the kernel make both costly at
//! 10,000 Services. A periodic full resync rewrites the table atomically, which clears ClientIP
//! affinity entries.

pub mod model;
pub mod nft;
pub mod proxier;
pub mod render;

#[cfg(feature = "controller")]
mod controller;
#[cfg(feature = "controller")]
pub use controller::{
    endpoints_from_slice, lb_assignments, run, run_lb, service_from_k8s, LbConfig, ProxyConfig,
};

pub use model::{Endpoint, Protocol, Service, ServiceKey, ServicePort};
pub use proxier::{Proxier, SyncStats};
pub use render::RenderConfig;

use std::path::PathBuf;

/// Errors of the proxy.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The network namespace file could not be opened.
    #[error("open network namespace {path}")]
    Netns {
        /// The namespace path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// `setns` into the namespace failed.
    #[error("enter network namespace {path}")]
    Setns {
        /// The namespace path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: nix::Error,
    },
    /// `nft` (or the helper thread) could not be started or waited for.
    #[error("run nft")]
    Spawn(#[source] std::io::Error),
    /// `nft` rejected the script.
    #[error("nft failed ({status}): {stderr}")]
    Nft {
        /// Exit status.
        status: String,
        /// What nft printed.
        stderr: String,
    },
    /// The namespace helper thread panicked.
    #[error("nft namespace thread panicked")]
    Thread,
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The table name for an instance tag: `wharf-<tag>` with anything outside `[A-Za-z0-9_-]`
/// replaced by `_`.
pub fn table_name(tag: &str) -> String {
    let clean: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("wharf-{clean}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
