//! Cluster DNS for Wharf (the CoreDNS role): owns the in-memory DNS records built from watches
//! of Services, EndpointSlices and Pods by the Kubernetes DNS specification, the UDP/TCP DNS
//! server that answers them, the forwarder that sends everything outside the cluster zone to
//! upstream resolvers, and the selector-less `kube-system/kube-dns` Service that points pods at
//! it.
//!
//! The caller binds the sockets (on the VPC router address, or inside a namespace) and calls
//! [`run`]; [`ensure_kube_dns_service`] publishes the conventional Service. In `wharf up`:
//!
//! ```no_run
//! # async fn up(cp: &wharf_apiserver::ControlPlane) -> Result<(), Box<dyn std::error::Error>> {
//! use wharf_apiserver::auth::UserInfo;
//! // Before any other Service can take 10.100.0.10.
//! let admin = cp.client(UserInfo::new("kubernetes-admin", &["system:masters"]));
//! let kube_dns = wharf_dns::KubeDnsService { cluster_ip: "10.100.0.10".parse()?, endpoints: vec!["172.31.0.1".parse()?], port: 53 };
//! wharf_dns::ensure_kube_dns_service(admin, &kube_dns).await?;
//! let sockets = (tokio::net::UdpSocket::bind("172.31.0.1:53").await?, tokio::net::TcpListener::bind("172.31.0.1:53").await?);
//! let groups = ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"];
//! let client = cp.client(UserInfo::new(wharf_dns::DNS_USER, &groups));
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let dns = tokio::spawn(wharf_dns::run(client, wharf_dns::DnsConfig::from_host()?, sockets, async move {
//!     let _ = stopped.await;
//! }));
//! // On shutdown:
//! let _ = stop.send(());
//! dns.await??;
//! # Ok(()) }
//! ```

mod kubedns;
pub mod records;
mod server;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

pub use kubedns::{ensure_kube_dns_service, KubeDnsService, DNS_USER};
pub use server::run;

/// Errors of the DNS server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A socket given to [`run`] could not be used.
    #[error("dns socket: {0}")]
    Socket(#[source] std::io::Error),
    /// The resolver configuration could not be read.
    #[error("read {path}: {source}")]
    ResolvConf {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The API server refused a write.
    #[error("{what}: {source}")]
    Kube {
        /// The object being written.
        what: String,
        /// The cause.
        #[source]
        source: Box<kube::Error>,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the DNS server needs besides its sockets and client.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// The cluster domain, e.g. `cluster.local`.
    pub zone: String,
    /// Resolvers for names outside the cluster zone, tried in order.
    pub upstreams: Vec<SocketAddr>,
    /// How long to wait for each upstream before trying the next (then SERVFAIL).
    pub upstream_timeout: Duration,
    /// TTL of cluster answers and of negative answers (CoreDNS's kubernetes plugin: 5 s).
    pub ttl: u32,
}

impl Default for DnsConfig {
    /// `cluster.local`, no upstreams, 2 s upstream timeout, TTL 5.
    fn default() -> Self {
        DnsConfig { zone: "cluster.local".into(), upstreams: Vec::new(), upstream_timeout: Duration::from_secs(2), ttl: 5 }
    }
}

impl DnsConfig {
    /// The default configuration forwarding to the host's resolvers (`/etc/resolv.conf`).
    pub fn from_host() -> Result<Self> {
        Ok(DnsConfig { upstreams: upstreams_from_resolv_conf(Path::new("/etc/resolv.conf"))?, ..Default::default() })
    }
}

/// The `nameserver` entries of a resolv.conf file, on port 53.
pub fn upstreams_from_resolv_conf(path: &Path) -> Result<Vec<SocketAddr>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ResolvConf { path: path.display().to_string(), source })?;
    Ok(parse_resolv_conf(&text))
}

/// The `nameserver` entries of resolv.conf text, on port 53 (IPv6 zone suffixes dropped).
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            if words.next() != Some("nameserver") {
                return None;
            }
            let addr = words.next()?;
            let addr = addr.split('%').next()?;
            addr.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod lib_tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers_become_upstreams_on_port_53() {
        let text = "# generated\nsearch example.com\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\n nameserver 8.8.8.8\noptions ndots:5\nnameserver bogus\n";
        let got = parse_resolv_conf(text);
        assert_eq!(got, vec!["10.0.0.2:53".parse().unwrap(), "[fe80::1]:53".parse().unwrap(), "8.8.8.8:53".parse().unwrap()]);
    }
}
