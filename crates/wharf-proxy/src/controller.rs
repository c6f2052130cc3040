//! The watch-driven components: `run` keeps one node's nftables table in sync with Services and
//! EndpointSlices; `run_lb` publishes addresses for type=LoadBalancer Services.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Service as K8sService};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::ResourceExt;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::model::{Endpoint, Protocol, Service, ServiceKey, ServicePort};
use crate::proxier::Proxier;
use crate::render::{delete_script, RenderConfig};
use crate::{nft, table_name, Error, Result};

/// Configuration of one node's proxy.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The node's name (endpoints on it are local).
    pub node_name: String,
    /// The node's addresses that accept NodePort traffic.
    pub node_ips: Vec<Ipv4Addr>,
    /// The node's network namespace (`None`: the current one).
    pub netns: Option<PathBuf>,
    /// The instance tag: the table is `wharf-<tag>`.
    pub tag: String,
    /// The pod network (cluster-IP traffic from outside it is masqueraded).
    pub cluster_cidr: Option<(Ipv4Addr, u8)>,
    /// How often the whole table is rewritten regardless of changes.
    pub full_resync: Duration,
    /// How long changes are gathered before a sync (kube-proxy's minSyncPeriod).
    pub min_sync: Duration,
}

impl ProxyConfig {
    /// A configuration with a full resync every 5 minutes and 20 ms batching.
    pub fn new(
        node_name: impl Into<String>,
        node_ips: Vec<Ipv4Addr>,
        tag: impl Into<String>,
    ) -> Self {
        Self {
            node_name: node_name.into(),
            node_ips,
            netns: None,
            tag: tag.into(),
            cluster_cidr: None,
            full_resync: Duration::from_secs(300),
            min_sync: Duration::from_millis(20),
        }
    }

    /// The render configuration this proxy uses.
    pub fn render_config(&self) -> RenderConfig {
        let mut c = RenderConfig::new(
            table_name(&self.tag),
            self.node_name.clone(),
            self.node_ips.clone(),
        );
        c.cluster_cidr = self.cluster_cidr;
        c
    }
}

fn parse_v4(s: &str) -> Option<Ipv4Addr> {
    s.parse().ok()
}

/// The proxy's view of a Kubernetes Service (`None` without namespace or name).
pub fn service_from_k8s(svc: &K8sService) -> Option<Service> {
    let key = ServiceKey::new(svc.metadata.namespace.clone()?, svc.metadata.name.clone()?);
    let spec = svc.spec.clone().unwrap_or_default();
    let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
    let external_ports = ty == "NodePort" || ty == "LoadBalancer";
    let mut cluster_ips: Vec<Ipv4Addr> = Vec::new();
    if ty != "ExternalName" {
        let ips = spec
            .cluster_ips
            .clone()
            .unwrap_or_else(|| spec.cluster_ip.clone().into_iter().collect());
        cluster_ips = ips.iter().filter_map(|s| parse_v4(s)).collect();
    }
    let mut external_ips: Vec<Ipv4Addr> = spec
        .external_ips
        .iter()
        .flatten()
        .filter_map(|s| parse_v4(s))
        .collect();
    if ty == "LoadBalancer" {
        let ingress = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref());
        external_ips.extend(
            ingress
                .into_iter()
                .flatten()
                .filter_map(|i| i.ip.as_deref().and_then(parse_v4)),
        );
    }
    external_ips.sort();
    external_ips.dedup();
    let ports = spec
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(ServicePort {
                name: p.name.clone().unwrap_or_default(),
                protocol: Protocol::from_k8s(p.protocol.as_deref())?,
                port: u16::try_from(p.port).ok()?,
                node_port: if external_ports {
                    p.node_port
                        .and_then(|n| u16::try_from(n).ok())
                        .filter(|n| *n != 0)
                } else {
                    None
                },
            })
        })
        .collect();
    let affinity_timeout = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(10800)
    });
    Some(Service {
        key,
        cluster_ips,
        external_ips,
        ports,
        affinity_timeout,
        external_local: external_ports && spec.external_traffic_policy.as_deref() == Some("Local"),
        internal_local: spec.internal_traffic_policy.as_deref() == Some("Local"),
    })
}

/// The Service, slice name and IPv4 endpoints of an EndpointSlice (`None` for slices that belong
/// to no Service or are not IPv4).
pub fn endpoints_from_slice(slice: &EndpointSlice) -> Option<(ServiceKey, String, Vec<Endpoint>)> {
    if slice.address_type != "IPv4" {
        return None;
    }
    let svc = slice.labels().get("kubernetes.io/service-name")?.clone();
    let key = ServiceKey::new(slice.metadata.namespace.clone()?, svc);
    let ports: Vec<(String, Protocol, u16)> = slice
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p.name.clone().unwrap_or_default(),
                Protocol::from_k8s(p.protocol.as_deref())?,
                u16::try_from(p.port?).ok()?,
            ))
        })
        .collect();
    let mut eps = Vec::new();
    for e in &slice.endpoints {
        let c = e.conditions.clone().unwrap_or_default();
        let ready = c.ready.unwrap_or(true);
        for a in &e.addresses {
            if let Some(ip) = parse_v4(a) {
                eps.push(Endpoint {
                    ip,
                    node_name: e.node_name.clone(),
                    ready,
                    serving: c.serving.unwrap_or(ready),
                    terminating: c.terminating.unwrap_or(false),
                    ports: ports.clone(),
                });
            }
        }
    }
    Some((key, slice.name_any(), eps))
}

/// Watches Services and EndpointSlices and keeps the node's table `wharf-<tag>` in sync (within
/// `min_sync` plus the `nft` time of a change) until `stop` turns true; then deletes the table.
pub async fn run(
    client: kube::Client,
    cfg: ProxyConfig,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let table = table_name(&cfg.tag);
    let netns = cfg.netns.clone();
    let mut proxier = Some(Proxier::new(cfg.render_config()));
    let mut services = watcher(Api::<K8sService>::all(client.clone()))
        .default_backoff()
        .boxed();
    let mut slices = watcher(Api::<EndpointSlice>::all(client))
        .default_backoff()
        .boxed();
    let mut svc_init: Vec<Service> = Vec::new();
    let mut slice_init: Vec<(ServiceKey, String, Vec<Endpoint>)> = Vec::new();
    // No rules before both initial lists are in: a Service without its endpoints would reject.
    let (mut svc_listed, mut slices_listed) = (false, false);
    // Slice name → Service, to remove a slice whose delete event we get.
    let mut next_full = Instant::now() + cfg.full_resync;
    let mut sync_at: Option<Instant> = None;
    loop {
        let deadline = sync_at
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
            .min(next_full);
        tokio::select! {
            // A dropped sender counts as stop (otherwise `changed` would return at once forever).
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() { break; }
            }
            ev = services.next() => {
                let Some(ev) = ev else { break };
                let Some(p) = proxier.as_mut() else { break };
                match ev {
                    Ok(Event::Init) => svc_init.clear(),
                    Ok(Event::InitApply(s)) => svc_init.extend(service_from_k8s(&s)),
                    Ok(Event::InitDone) => { p.replace_services(std::mem::take(&mut svc_init)); svc_listed = true; }
                    Ok(Event::Apply(s)) => if let Some(s) = service_from_k8s(&s) { p.upsert_service(s) },
                    Ok(Event::Delete(s)) => if let Some(s) = service_from_k8s(&s) { p.remove_service(&s.key) },
                    Err(e) => tracing::warn!(error = %e, "service watch"),
                }
            }
            ev = slices.next() => {
                let Some(ev) = ev else { break };
                let Some(p) = proxier.as_mut() else { break };
                match ev {
                    Ok(Event::Init) => slice_init.clear(),
                    Ok(Event::InitApply(s)) => slice_init.extend(endpoints_from_slice(&s)),
                    Ok(Event::InitDone) => { p.replace_slices(std::mem::take(&mut slice_init)); slices_listed = true; }
                    Ok(Event::Apply(s)) => if let Some((k, n, e)) = endpoints_from_slice(&s) { p.upsert_slice(k, &n, e) },
                    Ok(Event::Delete(s)) => if let Some((k, n, _)) = endpoints_from_slice(&s) { p.remove_slice(&k, &n) },
                    Err(e) => tracing::warn!(error = %e, "endpointslice watch"),
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                if Instant::now() >= next_full {
                    if let Some(p) = proxier.as_mut() { p.force_full(); }
                    next_full = Instant::now() + cfg.full_resync;
                }
                if !(svc_listed && slices_listed) { sync_at = None; continue; }
                let Some(mut p) = proxier.take() else { break };
                let ns = netns.clone();
                let joined = tokio::task::spawn_blocking(move || {
                    let r = p.sync(&mut |s: &str| nft::apply(ns.as_deref(), s));
                    (p, r)
                }).await;
                let Ok((p, r)) = joined else { return Err(Error::Thread) };
                proxier = Some(p);
                sync_at = None;
                match r {
                    Ok(st) => tracing::debug!(full = st.full, services = st.services, lines = st.lines, apply = ?st.apply, "proxy rules synced"),
                    Err(e) => {
                        tracing::warn!(error = %e, table = %table, "proxy sync failed; retrying with a full sync");
                        sync_at = Some(Instant::now() + Duration::from_secs(1));
                    }
                }
            }
        }
        if sync_at.is_none()
            && proxier.as_ref().is_some_and(|p| p.pending())
            && svc_listed
            && slices_listed
        {
            sync_at = Some(Instant::now() + cfg.min_sync);
        }
    }
    let ns = netns.clone();
    let script = delete_script(&table);
    tokio::task::spawn_blocking(move || nft::apply(ns.as_deref(), &script))
        .await
        .map_err(|_| Error::Thread)?
}

fn watcher<K>(api: Api<K>) -> impl futures::Stream<Item = Result<Event<K>, watcher::Error>>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    watcher::watcher(api, watcher::Config::default())
}

/// Configuration of the LoadBalancer allocator.
#[derive(Debug, Clone, Default)]
pub struct LbConfig {
    /// Only Services whose `spec.loadBalancerClass` equals this are handled (`None`: only
    /// Services without a class, as the default implementation).
    pub load_balancer_class: Option<String>,
}

/// The InternalIP addresses of Ready nodes, sorted.
fn ready_node_ips(nodes: &BTreeMap<String, Node>) -> Vec<Ipv4Addr> {
    let mut ips: Vec<Ipv4Addr> = nodes
        .values()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .flat_map(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.addresses.clone())
                .unwrap_or_default()
        })
        .filter(|a| a.type_ == "InternalIP")
        .filter_map(|a| parse_v4(&a.address))
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// Desired `status.loadBalancer.ingress` IPs per Service: every Ready node's InternalIP (as k3s's
/// servicelb does), so the Service port answers on each node address. A (protocol, port) already
/// claimed by an older LoadBalancer Service leaves the newer one pending (no ingress), as servicelb
/// leaves it without a node to run on.
pub fn lb_assignments(
    services: &[K8sService],
    nodes: &BTreeMap<String, Node>,
    class: Option<&str>,
) -> BTreeMap<ServiceKey, Vec<Ipv4Addr>> {
    let ips = ready_node_ips(nodes);
    let mut lbs: Vec<&K8sService> = services
        .iter()
        .filter(|s| {
            s.spec.as_ref().is_some_and(|sp| {
                sp.type_.as_deref() == Some("LoadBalancer")
                    && sp.load_balancer_class.as_deref() == class
            })
        })
        .collect();
    lbs.sort_by(|a, b| {
        (
            a.metadata.creation_timestamp.as_ref().map(|t| t.0),
            a.namespace(),
            a.name_any(),
        )
            .cmp(&(
                b.metadata.creation_timestamp.as_ref().map(|t| t.0),
                b.namespace(),
                b.name_any(),
            ))
    });
    let mut claimed: BTreeSet<(String, i32)> = BTreeSet::new();
    let mut out = BTreeMap::new();
    for s in lbs {
        let Some(key) = s
            .metadata
            .namespace
            .clone()
            .map(|ns| ServiceKey::new(ns, s.name_any()))
        else {
            continue;
        };
        let ports: Vec<(String, i32)> = s
            .spec
            .iter()
            .flat_map(|sp| sp.ports.iter().flatten())
            .map(|p| (p.protocol.clone().unwrap_or_else(|| "TCP".into()), p.port))
            .collect();
        if ports.iter().any(|p| claimed.contains(p)) {
            out.insert(key, Vec::new());
            continue;
        }
        claimed.extend(ports);
        out.insert(key, ips.clone());
    }
    out
}

fn current_ingress(s: &K8sService) -> Vec<Ipv4Addr> {
    s.status
        .as_ref()
        .and_then(|st| st.load_balancer.as_ref())
        .and_then(|l| l.ingress.as_ref())
        .map(|i| {
            i.iter()
                .filter_map(|x| x.ip.as_deref().and_then(parse_v4))
                .collect()
        })
        .unwrap_or_default()
}

/// Publishes `status.loadBalancer.ingress` for type=LoadBalancer Services (see [`lb_assignments`])
/// until `stop` turns true.
pub async fn run_lb(
    client: kube::Client,
    cfg: LbConfig,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let mut services_w = watcher(Api::<K8sService>::all(client.clone()))
        .default_backoff()
        .boxed();
    let mut nodes_w = watcher(Api::<Node>::all(client.clone()))
        .default_backoff()
        .boxed();
    let mut services: BTreeMap<ServiceKey, K8sService> = BTreeMap::new();
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    let mut svc_init = BTreeMap::new();
    let mut node_init = BTreeMap::new();
    let (mut svc_listed, mut nodes_listed) = (false, false);
    let mut due: Option<Instant> = None;
    let mut changed = false;
    loop {
        let deadline = due.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            r = stop.changed() => if r.is_err() || *stop.borrow() { return Ok(()) },
            ev = services_w.next() => {
                let Some(ev) = ev else { return Ok(()) };
                changed = true;
                let key = |s: &K8sService| ServiceKey::new(s.namespace().unwrap_or_default(), s.name_any());
                match ev {
                    Ok(Event::Init) => svc_init.clear(),
                    Ok(Event::InitApply(s)) => { svc_init.insert(key(&s), s); }
                    Ok(Event::InitDone) => { services = std::mem::take(&mut svc_init); svc_listed = true; }
                    Ok(Event::Apply(s)) => { services.insert(key(&s), s); }
                    Ok(Event::Delete(s)) => { services.remove(&key(&s)); }
                    Err(e) => tracing::warn!(error = %e, "service watch"),
                }
            }
            ev = nodes_w.next() => {
                let Some(ev) = ev else { return Ok(()) };
                changed = true;
                match ev {
                    Ok(Event::Init) => node_init.clear(),
                    Ok(Event::InitApply(n)) => { node_init.insert(n.name_any(), n); }
                    Ok(Event::InitDone) => { nodes = std::mem::take(&mut node_init); nodes_listed = true; }
                    Ok(Event::Apply(n)) => { nodes.insert(n.name_any(), n); }
                    Ok(Event::Delete(n)) => { nodes.remove(&n.name_any()); }
                    Err(e) => tracing::warn!(error = %e, "node watch"),
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                due = None;
                let all: Vec<K8sService> = services.values().cloned().collect();
                let want = lb_assignments(&all, &nodes, cfg.load_balancer_class.as_deref());
                for (key, ips) in want {
                    let Some(s) = services.get(&key) else { continue };
                    if current_ingress(s) == ips {
                        continue;
                    }
                    let ingress: Vec<serde_json::Value> = ips.iter().map(|ip| serde_json::json!({"ip": ip.to_string()})).collect();
                    let patch = serde_json::json!({"status": {"loadBalancer": {"ingress": ingress}}});
                    let api: Api<K8sService> = Api::namespaced(client.clone(), &key.namespace);
                    if let Err(e) = api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                        tracing::warn!(error = %e, service = %key, "publishing load-balancer ingress");
                        due = Some(Instant::now() + Duration::from_secs(1));
                    }
                }
            }
        }
        if due.is_none() && changed && svc_listed && nodes_listed {
            due = Some(Instant::now() + Duration::from_millis(50));
            changed = false;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(v: serde_json::Value) -> K8sService {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn node_ports_and_external_policy_apply_only_to_node_port_and_load_balancer_services() {
        let spec = |ty: &str| {
            svc(
                json!({"metadata": {"name": "s", "namespace": "ns"}, "spec": {"type": ty, "clusterIP": "10.100.0.5",
                "externalTrafficPolicy": "Local", "ports": [{"port": 80, "nodePort": 30001}]}}),
            )
        };
        let c = service_from_k8s(&spec("ClusterIP")).unwrap();
        assert_eq!(c.ports[0].node_port, None);
        assert!(!c.external_local);
        let n = service_from_k8s(&spec("NodePort")).unwrap();
        assert_eq!(n.ports[0].node_port, Some(30001));
        assert!(n.external_local);
        assert_eq!(n.ports[0].protocol, Protocol::Tcp);
        assert_eq!(n.cluster_ips, vec![Ipv4Addr::new(10, 100, 0, 5)]);
    }

    #[test]
    fn headless_and_external_name_services_have_no_cluster_ip() {
        let h = svc(
            json!({"metadata": {"name": "h", "namespace": "ns"}, "spec": {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 80}]}}),
        );
        assert!(service_from_k8s(&h).unwrap().cluster_ips.is_empty());
        let e = svc(
            json!({"metadata": {"name": "e", "namespace": "ns"}, "spec": {"type": "ExternalName", "externalName": "example.com", "clusterIP": "10.100.0.9"}}),
        );
        assert!(service_from_k8s(&e).unwrap().cluster_ips.is_empty());
    }

    #[test]
    fn load_balancer_ingress_and_external_ips_become_external_addresses_and_affinity_defaults_to_three_hours(
    ) {
        let s = svc(json!({"metadata": {"name": "lb", "namespace": "ns"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.100.0.7", "externalIPs": ["192.0.2.1"], "sessionAffinity": "ClientIP", "ports": [{"port": 443, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "172.31.0.20"}, {"hostname": "lb.example"}]}}}));
        let m = service_from_k8s(&s).unwrap();
        assert_eq!(
            m.external_ips,
            vec![Ipv4Addr::new(172, 31, 0, 20), Ipv4Addr::new(192, 0, 2, 1)]
        );
        assert_eq!(m.affinity_timeout, Some(10800));
    }

    #[test]
    fn slice_conditions_default_as_the_api_documents_and_foreign_slices_are_ignored() {
        let sl: EndpointSlice = serde_json::from_value(json!({
            "metadata": {"name": "s-1", "namespace": "ns", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["172.31.1.1"], "nodeName": "a"},
                {"addresses": ["172.31.1.2"], "conditions": {"ready": false, "serving": true, "terminating": true}}
            ],
            "ports": [{"name": "http", "port": 8080}]
        }))
        .unwrap();
        let (key, name, eps) = endpoints_from_slice(&sl).unwrap();
        assert_eq!(key, ServiceKey::new("ns", "web"));
        assert_eq!(name, "s-1");
        assert!(eps[0].ready && eps[0].serving && !eps[0].terminating);
        assert_eq!(eps[0].node_name.as_deref(), Some("a"));
        assert!(!eps[1].ready && eps[1].serving && eps[1].terminating);
        assert_eq!(
            eps[0].ports,
            vec![("http".to_string(), Protocol::Tcp, 8080)]
        );
        let mut v6 = sl.clone();
        v6.address_type = "IPv6".into();
        assert!(endpoints_from_slice(&v6).is_none());
        let mut orphan = sl;
        orphan.metadata.labels = None;
        assert!(endpoints_from_slice(&orphan).is_none());
    }

    fn node(name: &str, ip: &str, ready: &str) -> Node {
        serde_json::from_value(json!({"metadata": {"name": name}, "status": {
            "conditions": [{"type": "Ready", "status": ready}],
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}}))
        .unwrap()
    }

    #[test]
    fn load_balancers_get_ready_node_addresses_and_a_taken_port_leaves_the_newer_pending() {
        let nodes: BTreeMap<String, Node> = [
            node("a", "172.31.0.11", "True"),
            node("b", "172.31.16.11", "True"),
            node("c", "172.31.32.11", "False"),
        ]
        .into_iter()
        .map(|n| (n.name_any(), n))
        .collect();
        let lb = |name: &str, created: &str, port: i32, class: Option<&str>| {
            svc(
                json!({"metadata": {"name": name, "namespace": "ns", "creationTimestamp": created},
                "spec": {"type": "LoadBalancer", "loadBalancerClass": class, "ports": [{"port": port}]}}),
            )
        };
        let services = vec![
            lb("newer", "2026-01-02T00:00:00Z", 80, None),
            lb("older", "2026-01-01T00:00:00Z", 80, None),
            lb("other-port", "2026-01-03T00:00:00Z", 8080, None),
            lb(
                "foreign",
                "2026-01-01T00:00:00Z",
                9090,
                Some("example.com/lb"),
            ),
            svc(
                json!({"metadata": {"name": "plain", "namespace": "ns"}, "spec": {"ports": [{"port": 81}]}}),
            ),
        ];
        let got = lb_assignments(&services, &nodes, None);
        let ready = vec![
            Ipv4Addr::new(172, 31, 0, 11),
            Ipv4Addr::new(172, 31, 16, 11),
        ];
        assert_eq!(got.get(&ServiceKey::new("ns", "older")), Some(&ready));
        assert_eq!(got.get(&ServiceKey::new("ns", "newer")), Some(&Vec::new()));
        assert_eq!(got.get(&ServiceKey::new("ns", "other-port")), Some(&ready));
        assert!(!got.contains_key(&ServiceKey::new("ns", "foreign")));
        assert!(!got.contains_key(&ServiceKey::new("ns", "plain")));
    }
}
