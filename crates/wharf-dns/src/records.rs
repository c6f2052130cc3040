//! The cluster's DNS data, kept from Service, EndpointSlice and Pod objects, and the
//! lookup that turns a question into records by the Kubernetes DNS specification
//! (<https://github.com/kubernetes/dns/blob/master/docs/specification.md>). Pure: no I/O.
//!
//! Names answered under `<zone>` (normally `cluster.local`):
//! - `<svc>.<ns>.svc.<zone>`: A/AAAA of the ClusterIPs, or of the ready endpoints of a
//!   headless Service; CNAME for an ExternalName Service; SRV for every named port.
//! - `<host>.<svc>.<ns>.svc.<zone>` for each ready endpoint of a headless Service, where
//!   `<host>` is the endpoint's hostname, or its address with dashes when it has none
//!   (as CoreDNS names them).
//! - `_<port>._<proto>.<svc>.<ns>.svc.<zone>` SRV: the Service name for a ClusterIP
//!   Service, one target per ready endpoint for a headless one.
//! - `<a-b-c-d>.<ns>.pod.<zone>` A (AAAA for dashed IPv6) when a pod in `<ns>` has that address
//!   (CoreDNS's `pods verified`).
//! - PTR under `in-addr.arpa`/`ip6.arpa` for ClusterIPs and headless endpoints.
//!
//! Names that exist with no record of the asked type answer NODATA; names that do not exist
//! answer NXDOMAIN. Reverse names this data does not know, and everything outside the zone,
//! are left to the upstream resolvers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::rdata::{A, AAAA, CNAME, PTR, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label on an EndpointSlice naming its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A namespaced object key: (namespace, name).
type Key = (String, String);

/// A port: (lower-case name, lower-case protocol, port number).
type PortSpec = (String, String, u16);

/// What a Service resolves to.
#[derive(Debug, Clone, PartialEq)]
enum SvcKind {
    /// A ClusterIP (also NodePort/LoadBalancer) Service with its cluster IPs.
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: the endpoints are the answer.
    Headless,
    /// `type: ExternalName`: a CNAME to this name (no trailing dot).
    External(String),
}

#[derive(Debug, Clone)]
struct SvcInfo {
    kind: SvcKind,
    ports: Vec<PortSpec>,
    publish_not_ready: bool,
}

#[derive(Debug, Clone)]
struct Endpoint {
    addrs: Vec<IpAddr>,
    hostname: Option<String>,
    ready: bool,
}

#[derive(Debug, Clone)]
struct SliceInfo {
    service: String,
    ports: Vec<PortSpec>,
    endpoints: Vec<Endpoint>,
}

/// How a question is answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// The name exists: these answers (empty means NODATA) and additional records.
    Answer {
        /// The answer section.
        answers: Vec<Record>,
        /// The additional section (addresses of SRV targets).
        additionals: Vec<Record>,
    },
    /// The name does not exist in the cluster zone.
    NxDomain,
    /// Not cluster data: ask the upstream resolvers.
    Forward,
}

impl Resolution {
    fn nodata() -> Self {
        Resolution::Answer { answers: Vec::new(), additionals: Vec::new() }
    }
    fn answers(answers: Vec<Record>) -> Self {
        Resolution::Answer { answers, additionals: Vec::new() }
    }
}

/// The cluster's DNS data.
#[derive(Debug)]
pub struct Records {
    zone: String,
    ttl: u32,
    services: HashMap<Key, SvcInfo>,
    services_per_ns: HashMap<String, usize>,
    slices: HashMap<Key, SliceInfo>,
    slices_by_service: HashMap<Key, BTreeSet<String>>,
    pods: HashMap<Key, Vec<IpAddr>>,
    pod_ips: HashMap<String, HashMap<IpAddr, usize>>,
    /// Reverse names, per address, contributed by each Service.
    ptr: HashMap<IpAddr, BTreeMap<Key, Vec<String>>>,
    ptr_by_service: HashMap<Key, Vec<(IpAddr, String)>>,
}

fn lower_ports<'a>(ports: impl Iterator<Item = (Option<&'a String>, Option<&'a String>, Option<i32>)>) -> Vec<PortSpec> {
    ports
        .filter_map(|(name, proto, port)| {
            let name = name.filter(|n| !n.is_empty())?.to_ascii_lowercase();
            let proto = proto.map(|p| p.to_ascii_lowercase()).unwrap_or_else(|| "tcp".into());
            let port = u16::try_from(port?).ok()?;
            Some((name, proto, port))
        })
        .collect()
}

/// The dashed form of an address used in endpoint and pod names (`10-0-0-1`, `fd00--1`).
pub fn dashed(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
        IpAddr::V6(v6) => v6.to_string().replace(':', "-"),
    }
}

fn undashed(label: &str) -> Option<IpAddr> {
    if let Ok(v4) = label.replace('-', ".").parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    label.replace('-', ":").parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// The address a reverse name (`4.3.2.1.in-addr.arpa`, nibbles under `ip6.arpa`) stands for;
/// `rest` is the name without the trailing dot.
fn reverse_ip(rest: &str) -> Option<IpAddr> {
    if let Some(v4) = rest.strip_suffix(".in-addr.arpa") {
        let mut octets: Vec<u8> = v4.split('.').map(|o| o.parse::<u8>().ok()).collect::<Option<_>>()?;
        if octets.len() != 4 {
            return None;
        }
        octets.reverse();
        return Some(IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3])));
    }
    let v6 = rest.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = v6.split('.').map(|n| if n.len() == 1 { u8::from_str_radix(n, 16).ok() } else { None }).collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    // The name lists nibbles least significant first.
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (nibbles[31 - 2 * i] << 4) | nibbles[30 - 2 * i];
    }
    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
}

fn name(s: &str) -> Option<Name> {
    Name::from_ascii(format!("{s}.")).ok()
}

fn addr_record(owner: Name, ttl: u32, ip: IpAddr) -> Record {
    match ip {
        IpAddr::V4(v4) => Record::from_rdata(owner, ttl, RData::A(A(v4))),
        IpAddr::V6(v6) => Record::from_rdata(owner, ttl, RData::AAAA(AAAA(v6))),
    }
}

fn family_matches(qtype: RecordType, ip: &IpAddr) -> bool {
    matches!((qtype, ip), (RecordType::A, IpAddr::V4(_)) | (RecordType::AAAA, IpAddr::V6(_)) | (RecordType::ANY, _))
}

impl Records {
    /// Empty data for `zone` (e.g. `cluster.local`), answering with `ttl` seconds.
    pub fn new(zone: &str, ttl: u32) -> Self {
        Records {
            zone: zone.trim_matches('.').to_ascii_lowercase(),
            ttl,
            services: HashMap::new(),
            services_per_ns: HashMap::new(),
            slices: HashMap::new(),
            slices_by_service: HashMap::new(),
            pods: HashMap::new(),
            pod_ips: HashMap::new(),
            ptr: HashMap::new(),
            ptr_by_service: HashMap::new(),
        }
    }

    /// The cluster zone, without a trailing dot.
    pub fn zone(&self) -> &str {
        &self.zone
    }

    /// The zone's SOA record (answers SOA questions and goes in the authority section of
    /// negative answers; its minimum is the TTL so negative answers are cached as briefly).
    pub fn soa(&self) -> Option<Record> {
        let zone = name(&self.zone)?;
        let mname = name(&format!("ns.dns.{}", self.zone))?;
        let rname = name(&format!("hostmaster.{}", self.zone))?;
        let serial = 1;
        Some(Record::from_rdata(zone, self.ttl, RData::SOA(SOA::new(mname, rname, serial, 7200, 1800, 86400, self.ttl))))
    }

    /// Whether a name is in the cluster zone (case-insensitive).
    pub fn in_zone(&self, qname: &Name) -> bool {
        let n = qname.to_lowercase().to_ascii();
        let n = n.trim_end_matches('.');
        n == self.zone || n.ends_with(&format!(".{}", self.zone))
    }

    // ----- updates -----

    /// Adds or replaces a Service.
    pub fn apply_service(&mut self, svc: &Service) {
        let (Some(ns), Some(n)) = (svc.metadata.namespace.clone(), svc.metadata.name.clone()) else { return };
        let spec = svc.spec.clone().unwrap_or_default();
        let kind = if spec.type_.as_deref() == Some("ExternalName") {
            match spec.external_name.as_deref() {
                Some(e) if !e.trim_matches('.').is_empty() => SvcKind::External(e.trim_end_matches('.').to_ascii_lowercase()),
                _ => SvcKind::ClusterIp(Vec::new()),
            }
        } else if spec.cluster_ip.as_deref() == Some("None") {
            SvcKind::Headless
        } else {
            let mut ips: Vec<IpAddr> = spec.cluster_ips.iter().flatten().filter_map(|s| s.parse().ok()).collect();
            if ips.is_empty() {
                ips.extend(spec.cluster_ip.as_deref().and_then(|s| s.parse::<IpAddr>().ok()));
            }
            SvcKind::ClusterIp(ips)
        };
        let ports = lower_ports(spec.ports.iter().flatten().map(|p| (p.name.as_ref(), p.protocol.as_ref(), Some(p.port))));
        let info = SvcInfo { kind, ports, publish_not_ready: spec.publish_not_ready_addresses.unwrap_or(false) };
        let key = (ns.clone(), n);
        if self.services.insert(key.clone(), info).is_none() {
            *self.services_per_ns.entry(ns).or_default() += 1;
        }
        self.refresh_ptr(&key);
    }

    /// Removes a Service.
    pub fn delete_service(&mut self, ns: &str, svc: &str) {
        let key = (ns.to_string(), svc.to_string());
        if self.services.remove(&key).is_some() {
            if let Some(c) = self.services_per_ns.get_mut(ns) {
                *c -= 1;
                if *c == 0 {
                    self.services_per_ns.remove(ns);
                }
            }
        }
        self.refresh_ptr(&key);
    }

    /// Replaces every Service with `list` (after a watch relist).
    pub fn replace_services(&mut self, list: &[Service]) {
        let keys: Vec<Key> = self.services.keys().cloned().collect();
        for (ns, n) in keys {
            self.delete_service(&ns, &n);
        }
        for s in list {
            self.apply_service(s);
        }
    }

    /// Adds or replaces an EndpointSlice.
    pub fn apply_slice(&mut self, slice: &EndpointSlice) {
        let (Some(ns), Some(n)) = (slice.metadata.namespace.clone(), slice.metadata.name.clone()) else { return };
        self.delete_slice(&ns, &n);
        let Some(service) = slice.metadata.labels.as_ref().and_then(|l| l.get(SERVICE_NAME_LABEL)).cloned() else { return };
        if slice.address_type != "IPv4" && slice.address_type != "IPv6" {
            return;
        }
        let ports = lower_ports(slice.ports.iter().flatten().map(|p| (p.name.as_ref(), p.protocol.as_ref(), p.port)));
        let endpoints = slice
            .endpoints
            .iter()
            .map(|e| Endpoint {
                addrs: e.addresses.iter().filter_map(|a| a.parse().ok()).collect(),
                hostname: e.hostname.clone().filter(|h| !h.is_empty()).map(|h| h.to_ascii_lowercase()),
                // The API says a missing `ready` is to be read as ready.
                ready: e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true),
            })
            .collect();
        let skey = (ns.clone(), service.clone());
        self.slices_by_service.entry(skey.clone()).or_default().insert(n.clone());
        self.slices.insert((ns, n), SliceInfo { service, ports, endpoints });
        self.refresh_ptr(&skey);
    }

    /// Removes an EndpointSlice.
    pub fn delete_slice(&mut self, ns: &str, slice: &str) {
        let Some(old) = self.slices.remove(&(ns.to_string(), slice.to_string())) else { return };
        let skey = (ns.to_string(), old.service);
        if let Some(set) = self.slices_by_service.get_mut(&skey) {
            set.remove(slice);
            if set.is_empty() {
                self.slices_by_service.remove(&skey);
            }
        }
        self.refresh_ptr(&skey);
    }

    /// Replaces every EndpointSlice with `list` (after a watch relist).
    pub fn replace_slices(&mut self, list: &[EndpointSlice]) {
        let keys: Vec<Key> = self.slices.keys().cloned().collect();
        for (ns, n) in keys {
            self.delete_slice(&ns, &n);
        }
        for s in list {
            self.apply_slice(s);
        }
    }

    /// Adds or replaces a Pod (only its addresses matter).
    pub fn apply_pod(&mut self, pod: &Pod) {
        let (Some(ns), Some(n)) = (pod.metadata.namespace.clone(), pod.metadata.name.clone()) else { return };
        self.delete_pod(&ns, &n);
        let status = pod.status.clone().unwrap_or_default();
        if matches!(status.phase.as_deref(), Some("Succeeded") | Some("Failed")) {
            return;
        }
        let mut ips: Vec<IpAddr> = status.pod_ips.iter().flatten().filter_map(|p| p.ip.parse().ok()).collect();
        if ips.is_empty() {
            ips.extend(status.pod_ip.as_deref().and_then(|s| s.parse::<IpAddr>().ok()));
        }
        ips.dedup();
        if ips.is_empty() {
            return;
        }
        let per_ns = self.pod_ips.entry(ns.clone()).or_default();
        for ip in &ips {
            *per_ns.entry(*ip).or_default() += 1;
        }
        self.pods.insert((ns, n), ips);
    }

    /// Removes a Pod.
    pub fn delete_pod(&mut self, ns: &str, pod: &str) {
        let Some(ips) = self.pods.remove(&(ns.to_string(), pod.to_string())) else { return };
        if let Some(per_ns) = self.pod_ips.get_mut(ns) {
            for ip in ips {
                if let Some(c) = per_ns.get_mut(&ip) {
                    *c -= 1;
                    if *c == 0 {
                        per_ns.remove(&ip);
                    }
                }
            }
            if per_ns.is_empty() {
                self.pod_ips.remove(ns);
            }
        }
    }

    /// Replaces every Pod with `list` (after a watch relist).
    pub fn replace_pods(&mut self, list: &[Pod]) {
        self.pods.clear();
        self.pod_ips.clear();
        for p in list {
            self.apply_pod(p);
        }
    }

    /// Recomputes the reverse names a Service contributes.
    fn refresh_ptr(&mut self, key: &Key) {
        for (ip, _) in self.ptr_by_service.remove(key).unwrap_or_default() {
            if let Some(m) = self.ptr.get_mut(&ip) {
                m.remove(key);
                if m.is_empty() {
                    self.ptr.remove(&ip);
                }
            }
        }
        let fqdn = format!("{}.{}.svc.{}", key.1, key.0, self.zone);
        let mut entries: Vec<(IpAddr, String)> = Vec::new();
        match self.services.get(key).map(|s| &s.kind) {
            Some(SvcKind::ClusterIp(ips)) => entries.extend(ips.iter().map(|ip| (*ip, fqdn.clone()))),
            Some(SvcKind::Headless) => {
                for (ip, host) in self.endpoint_names(key) {
                    entries.push((ip, format!("{host}.{fqdn}")));
                }
            }
            _ => {}
        }
        entries.sort();
        entries.dedup();
        for (ip, n) in &entries {
            self.ptr.entry(*ip).or_default().entry(key.clone()).or_default().push(n.clone());
        }
        if !entries.is_empty() {
            self.ptr_by_service.insert(key.clone(), entries);
        }
    }

    /// The ready (or, with `publishNotReadyAddresses`, all) endpoint addresses of a Service with
    /// the name each goes by, without duplicates.
    fn endpoint_names(&self, key: &Key) -> Vec<(IpAddr, String)> {
        let publish_all = self.services.get(key).is_some_and(|s| s.publish_not_ready);
        let mut out: Vec<(IpAddr, String)> = Vec::new();
        for e in self.endpoints(key) {
            if !(e.ready || publish_all) {
                continue;
            }
            for ip in &e.addrs {
                let host = e.hostname.clone().unwrap_or_else(|| dashed(ip));
                if !out.iter().any(|(i, h)| i == ip && *h == host) {
                    out.push((*ip, host));
                }
            }
        }
        out
    }

    fn endpoints<'a>(&'a self, key: &Key) -> impl Iterator<Item = &'a Endpoint> + 'a {
        self.slice_infos(key).flat_map(|s| s.endpoints.iter())
    }

    fn slice_infos<'a>(&'a self, key: &Key) -> impl Iterator<Item = &'a SliceInfo> + 'a {
        let ns = key.0.clone();
        self.slices_by_service
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(move |n| self.slices.get(&(ns.clone(), n.clone())))
    }

    // ----- lookup -----

    /// Answers one question.
    pub fn resolve(&self, qname: &Name, qtype: RecordType) -> Resolution {
        let lower = qname.to_lowercase().to_ascii();
        let full = lower.trim_end_matches('.');
        if full.ends_with(".in-addr.arpa") || full.ends_with(".ip6.arpa") {
            return self.resolve_reverse(qname, full, qtype);
        }
        let rel: Vec<&str> = if full == self.zone {
            Vec::new()
        } else if let Some(r) = full.strip_suffix(&format!(".{}", self.zone)) {
            r.split('.').collect()
        } else {
            return Resolution::Forward;
        };
        match rel.as_slice() {
            [] => match (qtype, self.soa()) {
                (RecordType::SOA, Some(soa)) => Resolution::answers(vec![soa]),
                _ => Resolution::nodata(),
            },
            ["svc"] | ["pod"] => Resolution::nodata(),
            [ns, "svc"] => {
                if self.services_per_ns.contains_key(*ns) {
                    Resolution::nodata()
                } else {
                    Resolution::NxDomain
                }
            }
            [svc, ns, "svc"] => self.resolve_service(qname, qtype, ns, svc),
            [first, svc, ns, "svc"] => self.resolve_endpoint_or_proto(qname, qtype, ns, svc, first),
            [port, proto, svc, ns, "svc"] => self.resolve_srv(qname, qtype, ns, svc, port, proto),
            [ns, "pod"] => {
                if self.pod_ips.contains_key(*ns) {
                    Resolution::nodata()
                } else {
                    Resolution::NxDomain
                }
            }
            [ip, ns, "pod"] => {
                let Some(ip) = undashed(ip) else { return Resolution::NxDomain };
                if !self.pod_ips.get(*ns).is_some_and(|m| m.contains_key(&ip)) {
                    return Resolution::NxDomain;
                }
                if family_matches(qtype, &ip) {
                    Resolution::answers(vec![addr_record(qname.clone(), self.ttl, ip)])
                } else {
                    Resolution::nodata()
                }
            }
            _ => Resolution::NxDomain,
        }
    }

    fn resolve_reverse(&self, qname: &Name, full: &str, qtype: RecordType) -> Resolution {
        let Some(ip) = reverse_ip(full) else { return Resolution::Forward };
        let Some(names) = self.ptr.get(&ip) else { return Resolution::Forward };
        if !matches!(qtype, RecordType::PTR | RecordType::ANY) {
            return Resolution::nodata();
        }
        let answers = names
            .values()
            .flatten()
            .filter_map(|n| name(n))
            .map(|n| Record::from_rdata(qname.clone(), self.ttl, RData::PTR(PTR(n))))
            .collect();
        Resolution::answers(answers)
    }

    fn resolve_service(&self, qname: &Name, qtype: RecordType, ns: &str, svc: &str) -> Resolution {
        let key = (ns.to_string(), svc.to_string());
        let Some(info) = self.services.get(&key) else { return Resolution::NxDomain };
        let ttl = self.ttl;
        match &info.kind {
            SvcKind::External(target) => match name(target) {
                Some(t) => Resolution::answers(vec![Record::from_rdata(qname.clone(), ttl, RData::CNAME(CNAME(t)))]),
                None => Resolution::nodata(),
            },
            SvcKind::ClusterIp(ips) => match qtype {
                RecordType::SRV => {
                    let ports = info.ports.clone();
                    self.srv_cluster_ip(qname, &key, ips, ports.iter())
                }
                _ => Resolution::answers(ips.iter().filter(|ip| family_matches(qtype, ip)).map(|ip| addr_record(qname.clone(), ttl, *ip)).collect()),
            },
            SvcKind::Headless => match qtype {
                RecordType::SRV => self.srv_headless(qname, &key, |_| true),
                _ => {
                    let mut ips: Vec<IpAddr> = self.endpoint_names(&key).into_iter().map(|(ip, _)| ip).filter(|ip| family_matches(qtype, ip)).collect();
                    ips.sort();
                    ips.dedup();
                    Resolution::answers(ips.into_iter().map(|ip| addr_record(qname.clone(), ttl, ip)).collect())
                }
            },
        }
    }

    /// `<host>.<svc>.<ns>.svc` (a headless endpoint) or `_<proto>.<svc>.<ns>.svc` (an empty
    /// non-terminal above SRV names).
    fn resolve_endpoint_or_proto(&self, qname: &Name, qtype: RecordType, ns: &str, svc: &str, first: &str) -> Resolution {
        let key = (ns.to_string(), svc.to_string());
        let Some(info) = self.services.get(&key) else { return Resolution::NxDomain };
        if let Some(proto) = first.strip_prefix('_') {
            let exists = match info.kind {
                SvcKind::ClusterIp(_) => info.ports.iter().any(|p| p.1 == proto),
                SvcKind::Headless => self.slice_infos(&key).any(|s| s.ports.iter().any(|p| p.1 == proto)),
                SvcKind::External(_) => false,
            };
            return if exists { Resolution::nodata() } else { Resolution::NxDomain };
        }
        if info.kind != SvcKind::Headless {
            return Resolution::NxDomain;
        }
        let ips: Vec<IpAddr> = self.endpoint_names(&key).into_iter().filter(|(_, h)| h == first).map(|(ip, _)| ip).collect();
        if ips.is_empty() {
            return Resolution::NxDomain;
        }
        Resolution::answers(ips.into_iter().filter(|ip| family_matches(qtype, ip)).map(|ip| addr_record(qname.clone(), self.ttl, ip)).collect())
    }

    fn resolve_srv(&self, qname: &Name, qtype: RecordType, ns: &str, svc: &str, port: &str, proto: &str) -> Resolution {
        let (Some(port), Some(proto)) = (port.strip_prefix('_'), proto.strip_prefix('_')) else { return Resolution::NxDomain };
        let key = (ns.to_string(), svc.to_string());
        let Some(info) = self.services.get(&key) else { return Resolution::NxDomain };
        let found = match &info.kind {
            SvcKind::ClusterIp(ips) => {
                let ports: Vec<&PortSpec> = info.ports.iter().filter(|p| p.0 == port && p.1 == proto).collect();
                if ports.is_empty() {
                    Resolution::NxDomain
                } else {
                    self.srv_cluster_ip(qname, &key, ips, ports.into_iter())
                }
            }
            SvcKind::Headless => {
                let any = self.slice_infos(&key).any(|s| s.ports.iter().any(|p| p.0 == port && p.1 == proto));
                if any {
                    self.srv_headless(qname, &key, |p| p.0 == port && p.1 == proto)
                } else {
                    Resolution::NxDomain
                }
            }
            SvcKind::External(_) => Resolution::NxDomain,
        };
        match (found, qtype) {
            (Resolution::Answer { .. }, t) if t != RecordType::SRV && t != RecordType::ANY => Resolution::nodata(),
            (r, _) => r,
        }
    }

    fn srv_cluster_ip<'a>(&self, qname: &Name, key: &Key, ips: &[IpAddr], ports: impl Iterator<Item = &'a PortSpec>) -> Resolution {
        let target_s = format!("{}.{}.svc.{}", key.1, key.0, self.zone);
        let Some(target) = name(&target_s) else { return Resolution::nodata() };
        let ports: Vec<u16> = ports.map(|p| p.2).collect();
        let weight = srv_weight(ports.len());
        let answers = ports.iter().map(|p| Record::from_rdata(qname.clone(), self.ttl, RData::SRV(SRV::new(0, weight, *p, target.clone())))).collect();
        let additionals = if ports.is_empty() { Vec::new() } else { ips.iter().map(|ip| addr_record(target.clone(), self.ttl, *ip)).collect() };
        Resolution::Answer { answers, additionals }
    }

    fn srv_headless(&self, qname: &Name, key: &Key, want: impl Fn(&PortSpec) -> bool) -> Resolution {
        let publish_all = self.services.get(key).is_some_and(|s| s.publish_not_ready);
        let base = format!("{}.{}.svc.{}", key.1, key.0, self.zone);
        let mut targets: Vec<(u16, String, IpAddr)> = Vec::new();
        for s in self.slice_infos(key) {
            for p in s.ports.iter().filter(|p| want(p)) {
                for e in s.endpoints.iter().filter(|e| e.ready || publish_all) {
                    for ip in &e.addrs {
                        let host = e.hostname.clone().unwrap_or_else(|| dashed(ip));
                        let t = (p.2, format!("{host}.{base}"), *ip);
                        if !targets.contains(&t) {
                            targets.push(t);
                        }
                    }
                }
            }
        }
        targets.sort();
        let weight = srv_weight(targets.len());
        let mut answers = Vec::new();
        let mut additionals = Vec::new();
        for (port, target, ip) in targets {
            let Some(t) = name(&target) else { continue };
            answers.push(Record::from_rdata(qname.clone(), self.ttl, RData::SRV(SRV::new(0, weight, port, t.clone()))));
            let a = addr_record(t, self.ttl, ip);
            if !additionals.contains(&a) {
                additionals.push(a);
            }
        }
        Resolution::Answer { answers, additionals }
    }
}

/// CoreDNS's SRV weight: the records of one priority share 100.
fn srv_weight(n: usize) -> u16 {
    if n == 0 {
        return 0;
    }
    u16::try_from(100 / n).unwrap_or(0).max(1)
}

#[cfg(test)]
mod tests;
