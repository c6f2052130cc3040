//! The proxy's own view of Services and their endpoints: only the fields that decide the rules.
//!
//! Kept free of Kubernetes types so the renderer, the incremental state and the benchmark build
//! without the API client; `controller` converts `Service`/`EndpointSlice` objects into these.

use std::net::Ipv4Addr;

/// `namespace/name` of a Service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ServiceKey {
    /// Builds a key.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A transport protocol a Service port can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// The name nft uses (`meta l4proto tcp`).
    pub fn nft(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }

    /// Parses the Kubernetes spelling (`TCP`, `UDP`, `SCTP`); absent means TCP.
    pub fn from_k8s(s: Option<&str>) -> Option<Self> {
        match s {
            None | Some("TCP") => Some(Protocol::Tcp),
            Some("UDP") => Some(Protocol::Udp),
            Some("SCTP") => Some(Protocol::Sctp),
            Some(_) => None,
        }
    }
}

/// One port of a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    /// `spec.ports[].name` (empty when the Service has a single unnamed port).
    pub name: String,
    /// Protocol.
    pub protocol: Protocol,
    /// The port on the cluster IP and load-balancer addresses.
    pub port: u16,
    /// The node port, for NodePort and LoadBalancer Services.
    pub node_port: Option<u16>,
}

/// A Service as the proxy needs it. Headless and ExternalName Services have no `cluster_ips`
/// and get no rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Which Service.
    pub key: ServiceKey,
    /// IPv4 cluster IPs (`spec.clusterIPs`); empty for headless/ExternalName.
    pub cluster_ips: Vec<Ipv4Addr>,
    /// Addresses that get the same rules as the cluster IP but count as external traffic:
    /// `status.loadBalancer.ingress[].ip` and `spec.externalIPs`.
    pub external_ips: Vec<Ipv4Addr>,
    /// Ports.
    pub ports: Vec<ServicePort>,
    /// `sessionAffinity: ClientIP` timeout in seconds, when set.
    pub affinity_timeout: Option<u32>,
    /// `externalTrafficPolicy: Local`.
    pub external_local: bool,
    /// `internalTrafficPolicy: Local`.
    pub internal_local: bool,
}

/// One endpoint (one address of an EndpointSlice) with the ports it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The endpoint's IPv4 address.
    pub ip: Ipv4Addr,
    /// The node it runs on, when known.
    pub node_name: Option<String>,
    /// `conditions.ready` (absent counts as ready).
    pub ready: bool,
    /// `conditions.serving` (absent counts as `ready`).
    pub serving: bool,
    /// `conditions.terminating` (absent counts as false).
    pub terminating: bool,
    /// The slice's ports: (name, protocol, port).
    pub ports: Vec<(String, Protocol, u16)>,
}

impl Endpoint {
    /// The target port of this endpoint for a Service port, matched by name and protocol as
    /// kube-proxy does.
    pub fn port_for(&self, sp: &ServicePort) -> Option<u16> {
        self.ports
            .iter()
            .find(|(n, p, _)| *n == sp.name && *p == sp.protocol)
            .map(|(_, _, port)| *port)
    }
}
