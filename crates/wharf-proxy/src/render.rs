//! Services and endpoints → nftables rules, shaped like kube-proxy's nftables mode (KEP-3866).
//!
//! One table `ip <table>` holds:
//! - verdict maps keyed by `ip daddr . meta l4proto . th dport` (`service-ips`) and
//!   `meta l4proto . th dport` (`service-nodeports`, for destinations in the `nodeport-ips` set), so
//!   the cost of finding a Service does not grow with the number of Services;
//! - per Service port a chain choosing an endpoint chain with `numgen random mod k` (a cascade of
//!   one rule per endpoint, see `render_port`), per endpoint a chain that marks hairpin traffic for
//!   masquerade and DNATs;
//! - `no-endpoint-services` / `no-endpoint-nodeports` maps consulted by filter chains on new
//!   connections: a Service without endpoints is rejected (ICMP port unreachable), a Service with
//!   endpoints but none usable under a `Local` traffic policy is dropped;
//! - a masquerade bit set by `mark-for-masquerade` and acted on in `nat-postrouting`.
//!
//! Each Service renders to its own [`Fragment`] (chains, affinity sets, map elements). A full load
//! is every fragment diffed against nothing; an incremental change is the diff of one Service's old
//! and new fragment, applied as one `nft -f` transaction that touches nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use sha2::{Digest, Sha256};

use crate::model::{Endpoint, Service, ServicePort};

/// Map: `ipv4_addr . inet_proto . inet_service : verdict` for cluster IPs and external IPs.
pub const SERVICE_IPS: &str = "service-ips";
/// Map: `inet_proto . inet_service : verdict` for node ports on the `nodeport-ips` addresses.
pub const SERVICE_NODEPORTS: &str = "service-nodeports";
/// Map: like [`SERVICE_IPS`], consulted in the filter hooks for Services without usable endpoints.
pub const NO_ENDPOINT_SERVICES: &str = "no-endpoint-services";
/// Map: like [`SERVICE_NODEPORTS`], for node ports without usable endpoints.
pub const NO_ENDPOINT_NODEPORTS: &str = "no-endpoint-nodeports";
/// Set: the node addresses that accept node ports.
pub const NODEPORT_IPS: &str = "nodeport-ips";
/// Set: `ipv4_addr . ipv4_addr` with `a . a` for every endpoint address: a DNATed packet whose
/// source is its destination is hairpin traffic and is masqueraded.
pub const HAIRPIN_IPS: &str = "hairpin-ips";

/// What the renderer needs to know about the node and the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderConfig {
    /// The nftables table (family `ip`), e.g. `wharf-<tag>`.
    pub table: String,
    /// This node's name: endpoints with this `nodeName` are local.
    pub node_name: String,
    /// The node's addresses that accept NodePort traffic.
    pub node_ips: Vec<Ipv4Addr>,
    /// The pod network (kube-proxy's `--cluster-cidr`): cluster-IP traffic from outside it is
    /// masqueraded; `None` masquerades only hairpin and external traffic.
    pub cluster_cidr: Option<(Ipv4Addr, u8)>,
    /// The packet-mark bit that asks `nat-postrouting` to masquerade (kube-proxy: `0x4000`).
    pub masquerade_mark: u32,
}

impl RenderConfig {
    /// A configuration with kube-proxy's mark bit and no cluster CIDR.
    pub fn new(
        table: impl Into<String>,
        node_name: impl Into<String>,
        node_ips: Vec<Ipv4Addr>,
    ) -> Self {
        Self {
            table: table.into(),
            node_name: node_name.into(),
            node_ips,
            cluster_cidr: None,
            masquerade_mark: 0x4000,
        }
    }
}

/// The rules one Service contributes: chains with their rules, affinity sets, map elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fragment {
    /// Chain name → rules, in order.
    pub chains: BTreeMap<String, Vec<String>>,
    /// Set name → declaration body (between the braces).
    pub sets: BTreeMap<String, String>,
    /// (map, key) → verdict.
    pub elements: BTreeMap<(&'static str, String), String>,
    /// Endpoint addresses this Service DNATs to (elements `a . a` of [`HAIRPIN_IPS`], shared
    /// between Services and counted by the caller).
    pub hairpin: BTreeSet<Ipv4Addr>,
}

fn short_hash(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    d.iter()
        .take(4)
        .fold(String::with_capacity(8), |mut out, b| {
            let _ = write!(out, "{b:02X}");
            out
        })
}

fn cidr(c: (Ipv4Addr, u8)) -> String {
    format!("{}/{}", c.0, c.1)
}

/// The endpoints kube-proxy would use out of `eps`: the ready ones, or if there are none, the ones
/// that are serving while terminating (graceful termination fallback).
fn usable<'a>(eps: &[&'a Endpoint]) -> Vec<&'a Endpoint> {
    let ready: Vec<&Endpoint> = eps
        .iter()
        .copied()
        .filter(|e| e.ready && !e.terminating)
        .collect();
    if !ready.is_empty() {
        return ready;
    }
    eps.iter()
        .copied()
        .filter(|e| e.serving && e.terminating)
        .collect()
}

/// Renders one Service. Headless Services (no cluster IP) and ports without a usable protocol
/// contribute nothing.
pub fn render_service(cfg: &RenderConfig, svc: &Service, endpoints: &[Endpoint]) -> Fragment {
    let mut f = Fragment::default();
    if svc.cluster_ips.is_empty() {
        return f;
    }
    for sp in &svc.ports {
        render_port(cfg, svc, sp, endpoints, &mut f);
    }
    f
}

fn render_port(
    cfg: &RenderConfig,
    svc: &Service,
    sp: &ServicePort,
    endpoints: &[Endpoint],
    f: &mut Fragment,
) {
    let proto = sp.protocol.nft();
    let port_id = if sp.name.is_empty() {
        sp.port.to_string()
    } else {
        sp.name.clone()
    };
    let base = format!(
        "{}/{}/{}/{}",
        svc.key.namespace, svc.key.name, proto, port_id
    );
    let h = short_hash(&base);

    // Endpoints serving this port, one per address.
    let mut seen = BTreeSet::new();
    let candidates: Vec<(&Endpoint, u16)> = endpoints
        .iter()
        .filter_map(|e| e.port_for(sp).map(|p| (e, p)))
        .filter(|(e, _)| seen.insert(e.ip))
        .collect();
    let all: Vec<&Endpoint> = candidates.iter().map(|(e, _)| *e).collect();
    let cluster = usable(&all);
    let local_all: Vec<&Endpoint> = all
        .iter()
        .copied()
        .filter(|e| e.node_name.as_deref() == Some(cfg.node_name.as_str()))
        .collect();
    let local = usable(&local_all);
    let port_of = |e: &Endpoint| {
        candidates
            .iter()
            .find(|(c, _)| c.ip == e.ip)
            .map(|(_, p)| *p)
            .unwrap_or(0)
    };

    let externals: Vec<Ipv4Addr> = svc.external_ips.clone();
    if cluster.is_empty() {
        // kube-proxy: a Service with no endpoints rejects new connections.
        for ip in svc.cluster_ips.iter().chain(externals.iter()) {
            f.elements.insert(
                (
                    NO_ENDPOINT_SERVICES,
                    format!("{ip} . {proto} . {}", sp.port),
                ),
                "goto reject-chain".into(),
            );
        }
        if let Some(np) = sp.node_port {
            f.elements.insert(
                (NO_ENDPOINT_NODEPORTS, format!("{proto} . {np}")),
                "goto reject-chain".into(),
            );
        }
        return;
    }

    // Which endpoint pools are referenced: the internal one (cluster IP), and for external
    // traffic the cluster-wide one plus, under policy Local, the local one.
    let internal: &[&Endpoint] = if svc.internal_local { &local } else { &cluster };
    let has_external = !externals.is_empty() || sp.node_port.is_some();
    let mut in_use: Vec<&Endpoint> = internal.to_vec();
    if has_external {
        in_use.extend(cluster.iter().copied());
        if svc.external_local {
            in_use.extend(local.iter().copied());
        }
    }
    // No chain per endpoint: `nft` 1.0.6 dumps every chain of the table before each transaction,
    // so 50,000 endpoint chains made a one-endpoint change cost over a second. An endpoint is one
    // rule that DNATs (a terminal statement), optionally recording ClientIP affinity; hairpin
    // traffic is caught after DNAT by the `hairpin-ips` set (`addr . addr` per endpoint).
    let mut dnat: BTreeMap<Ipv4Addr, (String, Option<String>)> = BTreeMap::new();
    for e in in_use {
        if dnat.contains_key(&e.ip) {
            continue;
        }
        let tp = port_of(e);
        let aff = svc.affinity_timeout.map(|t| {
            let set = format!("aff-{}", short_hash(&format!("{base}__{}/{tp}/{t}", e.ip)));
            f.sets.insert(
                set.clone(),
                format!("type ipv4_addr ; flags dynamic,timeout ; timeout {t}s ;"),
            );
            set
        });
        let update = aff
            .as_ref()
            .map(|s| format!("update @{s} {{ ip saddr }} "))
            .unwrap_or_default();
        f.hairpin.insert(e.ip);
        dnat.insert(
            e.ip,
            (
                format!("{update}meta l4proto {proto} dnat to {}:{tp}", e.ip),
                aff,
            ),
        );
    }
    let lb_rules = |eps: &[&Endpoint]| -> Vec<String> {
        let mut rules = Vec::new();
        for e in eps {
            if let Some((action, Some(set))) = dnat.get(&e.ip) {
                rules.push(format!("ip saddr @{set} {action}"));
            }
        }
        let actions: Vec<&str> = eps
            .iter()
            .filter_map(|e| dnat.get(&e.ip).map(|(a, _)| a.as_str()))
            .collect();
        let n = actions.len();
        if n == 0 {
            rules.push("drop".into());
        }
        // Endpoint i is taken with probability 1/(n-i) among those left: uniform overall.
        // An anonymous `numgen ... vmap { }` per Service would say it in one rule, but the
        // kernel finds a free name for each anonymous set by walking every set of the table:
        // loading 10,000 Services took 77 s that way against 7.5 s with this cascade.
        for (i, action) in actions.iter().enumerate() {
            if i + 1 < n {
                rules.push(format!("numgen random mod {} 0 {action}", n - i));
            } else {
                rules.push((*action).to_string());
            }
        }
        rules
    };

    // Cluster-IP entry: internal traffic policy decides the endpoint pool.
    let svc_chain = format!("svc-{h}-{base}");
    if internal.is_empty() {
        for ip in &svc.cluster_ips {
            f.elements.insert(
                (
                    NO_ENDPOINT_SERVICES,
                    format!("{ip} . {proto} . {}", sp.port),
                ),
                "drop".into(),
            );
        }
    } else {
        let mut rules = Vec::new();
        if let Some(c) = cfg.cluster_cidr {
            for ip in &svc.cluster_ips {
                rules.push(format!(
                    "ip daddr {ip} ip saddr != {} jump mark-for-masquerade",
                    cidr(c)
                ));
            }
        }
        rules.extend(lb_rules(internal));
        f.chains.insert(svc_chain.clone(), rules);
        for ip in &svc.cluster_ips {
            f.elements.insert(
                (SERVICE_IPS, format!("{ip} . {proto} . {}", sp.port)),
                format!("goto {svc_chain}"),
            );
        }
    }

    if !has_external {
        return;
    }
    // The cluster-wide pool, for external traffic under policy Cluster and for pods/local
    // processes reaching an external address under policy Local (kube-proxy's short-circuit).
    let all_chain = if !svc.internal_local {
        svc_chain.clone()
    } else {
        let name = format!("cep-{h}-{base}");
        f.chains.insert(name.clone(), lb_rules(&cluster));
        name
    };
    let ext_chain = format!("ext-{h}-{base}");
    let mut rules = Vec::new();
    if svc.external_local {
        if let Some(c) = cfg.cluster_cidr {
            rules.push(format!("ip saddr {} goto {all_chain}", cidr(c)));
        }
        rules.push("fib saddr type local jump mark-for-masquerade".into());
        rules.push(format!("fib saddr type local goto {all_chain}"));
        rules.extend(lb_rules(&local));
    } else {
        rules.push("jump mark-for-masquerade".into());
        rules.push(format!("goto {all_chain}"));
    }
    f.chains.insert(ext_chain.clone(), rules);
    for ip in &externals {
        f.elements.insert(
            (SERVICE_IPS, format!("{ip} . {proto} . {}", sp.port)),
            format!("goto {ext_chain}"),
        );
    }
    if let Some(np) = sp.node_port {
        f.elements.insert(
            (SERVICE_NODEPORTS, format!("{proto} . {np}")),
            format!("goto {ext_chain}"),
        );
    }
}

/// The fixed part of the table: maps, sets, base chains and helper chains. Deletes any previous
/// table of the same name first, in the same transaction.
pub fn base_script(cfg: &RenderConfig) -> String {
    let t = &cfg.table;
    let m = cfg.masquerade_mark;
    let mut s = String::new();
    let _ = writeln!(s, "add table ip {t}\ndelete table ip {t}\nadd table ip {t}");
    for map in [SERVICE_IPS, NO_ENDPOINT_SERVICES] {
        let _ = writeln!(
            s,
            "add map ip {t} {map} {{ type ipv4_addr . inet_proto . inet_service : verdict ; }}"
        );
    }
    for map in [SERVICE_NODEPORTS, NO_ENDPOINT_NODEPORTS] {
        let _ = writeln!(
            s,
            "add map ip {t} {map} {{ type inet_proto . inet_service : verdict ; }}"
        );
    }
    let _ = writeln!(s, "add set ip {t} {NODEPORT_IPS} {{ type ipv4_addr ; }}");
    let _ = writeln!(
        s,
        "add set ip {t} {HAIRPIN_IPS} {{ type ipv4_addr . ipv4_addr ; }}"
    );
    if !cfg.node_ips.is_empty() {
        let ips: Vec<String> = cfg.node_ips.iter().map(|i| i.to_string()).collect();
        let _ = writeln!(
            s,
            "add element ip {t} {NODEPORT_IPS} {{ {} }}",
            ips.join(", ")
        );
    }
    let chains: [(&str, Option<&str>, Vec<String>); 11] = [
        ("reject-chain", None, vec!["reject".into()]),
        ("mark-for-masquerade", None, vec![format!("meta mark set meta mark | {m:#x}")]),
        (
            "masquerading",
            None,
            vec![
                format!("meta mark & {m:#x} == 0 return"),
                format!("meta mark set meta mark ^ {m:#x}"),
                "masquerade fully-random".into(),
            ],
        ),
        (
            "services",
            None,
            vec![
                format!("ip daddr . meta l4proto . th dport vmap @{SERVICE_IPS}"),
                format!("ip daddr @{NODEPORT_IPS} meta l4proto . th dport vmap @{SERVICE_NODEPORTS}"),
            ],
        ),
        (
            "service-endpoints-check",
            None,
            vec![
                format!("ip daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_SERVICES}"),
                format!("ip daddr @{NODEPORT_IPS} meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}"),
            ],
        ),
        ("filter-input", Some("type filter hook input priority -110 ;"), vec!["ct state new jump service-endpoints-check".into()]),
        ("filter-forward", Some("type filter hook forward priority -110 ;"), vec!["ct state new jump service-endpoints-check".into()]),
        ("filter-output", Some("type filter hook output priority -110 ;"), vec!["ct state new jump service-endpoints-check".into()]),
        ("nat-prerouting", Some("type nat hook prerouting priority -100 ;"), vec!["jump services".into()]),
        // nft 1.0.6 does not accept `dstnat` on the output hook: numeric priority.
        ("nat-output", Some("type nat hook output priority -100 ;"), vec!["jump services".into()]),
        (
            "nat-postrouting",
            Some("type nat hook postrouting priority 100 ;"),
            vec![format!("ct status dnat ip saddr . ip daddr @{HAIRPIN_IPS} masquerade fully-random"), "jump masquerading".into()],
        ),
    ];
    for (name, hook, _) in &chains {
        match hook {
            Some(h) => {
                let _ = writeln!(s, "add chain ip {t} {name} {{ {h} }}");
            }
            None => {
                let _ = writeln!(s, "add chain ip {t} {name}");
            }
        }
    }
    for (name, _, rules) in &chains {
        for r in rules {
            let _ = writeln!(s, "add rule ip {t} {name} {r}");
        }
    }
    s
}

/// Maximum elements per `add element` / `delete element` statement.
const ELEMENT_BATCH: usize = 2000;

/// A transaction turning the rules of `old` into `new`, for any number of Services at once.
/// Nothing outside the changed chains, sets and map elements is touched.
pub fn diff_script<'a>(
    table: &str,
    changes: impl IntoIterator<Item = (Option<&'a Fragment>, Option<&'a Fragment>)>,
) -> String {
    let empty = Fragment::default();
    let mut add_chains = Vec::new();
    let mut add_sets = Vec::new();
    let mut rewrite: Vec<(&str, bool, &Vec<String>)> = Vec::new();
    let mut del_elems: BTreeMap<&'static str, Vec<&str>> = BTreeMap::new();
    let mut add_elems: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut del_chains = Vec::new();
    let mut del_sets = Vec::new();
    for (old, new) in changes {
        let old = old.unwrap_or(&empty);
        let new = new.unwrap_or(&empty);
        for (name, decl) in &new.sets {
            if !old.sets.contains_key(name) {
                add_sets.push((name.as_str(), decl.as_str()));
            }
        }
        for (name, rules) in &new.chains {
            match old.chains.get(name) {
                None => {
                    add_chains.push(name.as_str());
                    rewrite.push((name.as_str(), false, rules));
                }
                Some(r) if r != rules => rewrite.push((name.as_str(), true, rules)),
                Some(_) => {}
            }
        }
        for ((map, key), verdict) in &old.elements {
            match new.elements.get(&(*map, key.clone())) {
                Some(v) if v == verdict => {}
                _ => del_elems.entry(*map).or_default().push(key.as_str()),
            }
        }
        for ((map, key), verdict) in &new.elements {
            if old.elements.get(&(*map, key.clone())) != Some(verdict) {
                add_elems
                    .entry(*map)
                    .or_default()
                    .push(format!("{key} : {verdict}"));
            }
        }
        for name in old.chains.keys() {
            if !new.chains.contains_key(name) {
                del_chains.push(name.as_str());
            }
        }
        for name in old.sets.keys() {
            if !new.sets.contains_key(name) {
                del_sets.push(name.as_str());
            }
        }
    }
    let t = table;
    let mut s = String::new();
    // Chains first (rules and map elements refer to them), then sets (rules use them).
    for c in &add_chains {
        let _ = writeln!(s, "add chain ip {t} {c}");
    }
    for (name, decl) in &add_sets {
        let _ = writeln!(s, "add set ip {t} {name} {{ {decl} }}");
    }
    // Chains that stop being used are emptied before anything else, so nothing refers to a chain
    // or set we delete at the end.
    for c in &del_chains {
        let _ = writeln!(s, "flush chain ip {t} {c}");
    }
    for (c, existed, rules) in &rewrite {
        if *existed {
            let _ = writeln!(s, "flush chain ip {t} {c}");
        }
        for r in rules.iter() {
            let _ = writeln!(s, "add rule ip {t} {c} {r}");
        }
    }
    for (map, keys) in &del_elems {
        for chunk in keys.chunks(ELEMENT_BATCH) {
            let _ = writeln!(s, "delete element ip {t} {map} {{ {} }}", chunk.join(", "));
        }
    }
    for (map, elems) in &add_elems {
        for chunk in elems.chunks(ELEMENT_BATCH) {
            let _ = writeln!(s, "add element ip {t} {map} {{ {} }}", chunk.join(", "));
        }
    }
    for c in &del_chains {
        let _ = writeln!(s, "delete chain ip {t} {c}");
    }
    for name in &del_sets {
        let _ = writeln!(s, "delete set ip {t} {name}");
    }
    s
}

/// A complete ruleset: the base table and every fragment, replacing any previous table of the
/// same name atomically.
pub fn full_script<'a>(
    cfg: &RenderConfig,
    fragments: impl IntoIterator<Item = &'a Fragment> + Clone,
) -> String {
    let mut s = base_script(cfg);
    s.push_str(&diff_script(
        &cfg.table,
        fragments.clone().into_iter().map(|f| (None, Some(f))),
    ));
    let hairpin: BTreeSet<Ipv4Addr> = fragments
        .into_iter()
        .flat_map(|f| f.hairpin.iter().copied())
        .collect();
    let hairpin: Vec<Ipv4Addr> = hairpin.into_iter().collect();
    s.push_str(&hairpin_script(&cfg.table, &hairpin, &[]));
    s
}

/// Adds and removes `a . a` elements of [`HAIRPIN_IPS`].
pub fn hairpin_script(table: &str, add: &[Ipv4Addr], del: &[Ipv4Addr]) -> String {
    let mut s = String::new();
    for (verb, ips) in [("delete", del), ("add", add)] {
        for chunk in ips.chunks(ELEMENT_BATCH) {
            let elems: Vec<String> = chunk.iter().map(|ip| format!("{ip} . {ip}")).collect();
            let _ = writeln!(
                s,
                "{verb} element ip {table} {HAIRPIN_IPS} {{ {} }}",
                elems.join(", ")
            );
        }
    }
    s
}

/// Removes the table (for shutdown); succeeds when it does not exist.
pub fn delete_script(table: &str) -> String {
    format!("add table ip {table}\ndelete table ip {table}\n")
}
