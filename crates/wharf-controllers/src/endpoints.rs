//! The EndpointSlice and Endpoints controllers: for every Service with a selector, the pods it
//! selects (by pod IP) with ready/serving/terminating conditions and ports resolved per pod
//! (named targetPorts looked up in the pod's containers), in EndpointSlices labelled
//! `kubernetes.io/service-name` and managed by `endpointslice-controller.k8s.io` (at most 100
//! endpoints each, one per address type and port set) and in the legacy v1 Endpoints object.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort as CorePort, EndpointSubset, Endpoints, ObjectReference, Pod,
    Service, ServicePort,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};

use crate::informer::{key_of, split_key, Change, NamespaceIndex};
use crate::queue::{Requeue, WorkQueue};
use crate::util::{self, controller_ref, map_matches, pod_is_ready};
use crate::{ControllersConfig, Result, Shared};

/// The label naming a slice's Service.
pub const SERVICE_NAME: &str = "kubernetes.io/service-name";
/// The label naming a slice's manager.
pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's manager name.
pub const CONTROLLER: &str = "endpointslice-controller.k8s.io";
const MAX_PER_SLICE: usize = 100;

/// Resolved ports of one endpoint: (name, protocol, port).
type PortSet = Vec<(Option<String>, String, i32)>;

type Starter = Box<dyn FnOnce() -> Vec<tokio::task::JoinHandle<()>> + Send>;

struct Ctl {
    shared: Arc<Shared>,
    pods_by_ns: Arc<NamespaceIndex>,
    services_by_ns: Arc<NamespaceIndex>,
    slices_by_ns: Arc<NamespaceIndex>,
    slices: bool,
    endpoints: bool,
}

/// What about a pod matters to endpoints.
fn relevant(p: &Pod) -> impl PartialEq {
    (
        p.metadata.labels.clone(),
        p.status.as_ref().and_then(|s| s.pod_ip.clone()),
        pod_is_ready(p),
        p.metadata.deletion_timestamp.is_some(),
        util::phase(p).to_string(),
        p.spec.as_ref().and_then(|s| s.node_name.clone()),
        p.spec.as_ref().map(|s| (s.hostname.clone(), s.subdomain.clone())),
        p.spec.as_ref().map(|s| {
            s.containers
                .iter()
                .map(|c| c.ports.clone())
                .collect::<Vec<_>>()
        }),
    )
}

/// Registers both controllers (each runs only if enabled); one queue of Service keys.
pub fn register(shared: Arc<Shared>, cfg: &ControllersConfig) -> (Arc<WorkQueue>, Starter) {
    let queue = WorkQueue::new();
    let c = Arc::new(Ctl {
        pods_by_ns: NamespaceIndex::attach(&shared.pods),
        services_by_ns: NamespaceIndex::attach(&shared.services),
        slices_by_ns: NamespaceIndex::attach(&shared.endpointslices),
        shared: shared.clone(),
        slices: cfg.on("endpointslice"),
        endpoints: cfg.on("endpoint"),
    });
    let q = queue.clone();
    shared.services.on_change(move |ch| match ch {
        Change::Added(s) | Change::Updated(_, s) | Change::Deleted(s) => q.add(key_of(s.as_ref())),
    });
    let (q, h) = (queue.clone(), c.clone());
    shared.pods.on_change(move |ch: &Change<'_, Pod>| {
        let (old, new) = match ch {
            Change::Added(p) => (None, Some(p)),
            Change::Updated(o, n) => {
                if relevant(o) == relevant(n) {
                    return;
                }
                (Some(o), Some(n))
            }
            Change::Deleted(p) => (Some(p), None),
        };
        let ns = old
            .or(new)
            .and_then(|p| p.metadata.namespace.clone())
            .unwrap_or_default();
        for svc in h.shared.services.get_many(&h.services_by_ns.keys(&ns)) {
            let Some(sel) = svc.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
                continue;
            };
            if sel.is_empty() {
                continue;
            }
            if [old, new]
                .into_iter()
                .flatten()
                .any(|p| map_matches(sel, p.metadata.labels.as_ref()))
            {
                q.add(key_of(svc.as_ref()));
            }
        }
    });
    let q = queue.clone();
    shared
        .endpointslices
        .on_change(move |ch: &Change<'_, EndpointSlice>| {
            if let Change::Deleted(s) | Change::Updated(_, s) = ch {
                if s.labels().get(MANAGED_BY).map(String::as_str) == Some(CONTROLLER) {
                    if let Some(svc) = s.labels().get(SERVICE_NAME) {
                        q.add(format!("{}/{svc}", s.namespace().unwrap_or_default()));
                    }
                }
            }
        });
    let q = queue.clone();
    shared
        .endpoints
        .on_change(move |ch: &Change<'_, Endpoints>| {
            if let Change::Deleted(e) = ch {
                q.add(key_of(e.as_ref()));
            }
        });
    let workers = cfg.endpoint_workers;
    let q = queue.clone();
    let starter: Starter = Box::new(move || {
        q.spawn_workers("endpointslice", workers, move |key| {
            let c = c.clone();
            async move { c.sync(&key).await }
        })
    });
    (queue, starter)
}

/// The port a Service port reaches on a pod: an int targetPort as is, a named one looked up in
/// the pod's container ports (with the same protocol), none when it does not resolve.
fn resolve_port(sp: &ServicePort, pod: &Pod) -> Option<i32> {
    match &sp.target_port {
        None => Some(sp.port),
        Some(IntOrString::Int(i)) => Some(*i),
        Some(IntOrString::String(name)) => {
            if let Ok(n) = name.parse::<i32>() {
                return Some(n);
            }
            let proto = sp.protocol.as_deref().unwrap_or("TCP");
            pod.spec
                .as_ref()?
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == proto
                })
                .map(|p| p.container_port)
        }
    }
}

/// The endpoint hostname DNS publishes (`<hostname>.<svc>.<ns>.svc`): the pod's `spec.hostname`
/// when its `spec.subdomain` names this Service (StatefulSet pods and their governing Service).
fn dns_hostname(p: &Pod, svc: &Service) -> Option<String> {
    let spec = p.spec.as_ref()?;
    (spec.subdomain.as_deref() == Some(svc.name_any().as_str())).then(|| spec.hostname.clone()).flatten()
}

fn target_ref(p: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: p.namespace(),
        name: Some(p.name_any()),
        uid: p.uid(),
        ..Default::default()
    }
}

fn slice_labels(svc: &Service) -> BTreeMap<String, String> {
    let mut l: BTreeMap<String, String> = svc.labels().clone();
    l.remove(MANAGED_BY);
    l.insert(SERVICE_NAME.into(), svc.name_any());
    l.insert(MANAGED_BY.into(), CONTROLLER.into());
    if svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None") {
        l.insert("service.kubernetes.io/headless".into(), String::new());
    }
    l
}

impl Ctl {
    async fn sync(&self, key: &str) -> Result<Requeue> {
        let (ns, name) = split_key(key);
        let ns = ns.unwrap_or_default();
        let svc = self.shared.services.get(key);
        let selector = svc
            .as_ref()
            .and_then(|s| s.spec.as_ref())
            .and_then(|s| s.selector.clone())
            .filter(|s| !s.is_empty());
        let external = svc
            .as_ref()
            .and_then(|s| s.spec.as_ref())
            .and_then(|s| s.type_.as_deref())
            == Some("ExternalName");
        let (Some(svc), Some(selector), false) = (svc, selector, external) else {
            // No Service (or one without a selector): Kubernetes leaves slices to the GC and
            // deletes the Endpoints it manages.
            if self.endpoints && self.shared.services.get(key).is_none() {
                let api: Api<Endpoints> = Api::namespaced(self.shared.client.clone(), ns);
                if self.shared.endpoints.get(key).is_some() {
                    match api.delete(name, &DeleteParams::default()).await {
                        Ok(_) => {}
                        Err(e) if util::is_not_found(&e) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            return Ok(None);
        };
        let spec = svc.spec.clone().unwrap_or_default();
        let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
        let mut pods: Vec<Arc<Pod>> = self
            .shared
            .pods
            .get_many(&self.pods_by_ns.keys(ns))
            .into_iter()
            .filter(|p| map_matches(&selector, p.metadata.labels.as_ref()))
            .filter(|p| !matches!(util::phase(p), "Succeeded" | "Failed"))
            .filter(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.pod_ip.as_deref())
                    .is_some_and(|ip| !ip.is_empty())
            })
            .collect();
        pods.sort_by_key(|p| p.name_any());
        if self.slices {
            self.sync_slices(
                &svc,
                &spec.ports.clone().unwrap_or_default(),
                &pods,
                publish_not_ready,
            )
            .await?;
        }
        if self.endpoints {
            self.sync_endpoints(
                &svc,
                &spec.ports.clone().unwrap_or_default(),
                &pods,
                publish_not_ready,
            )
            .await?;
        }
        Ok(None)
    }

    async fn sync_slices(
        &self,
        svc: &Service,
        ports: &[ServicePort],
        pods: &[Arc<Pod>],
        publish_not_ready: bool,
    ) -> Result<()> {
        let ns = svc.namespace().unwrap_or_default();
        // Group endpoints by (address type, resolved ports).
        let mut groups: BTreeMap<(String, PortSet), Vec<Endpoint>> = BTreeMap::new();
        for p in pods {
            let ip = p
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.clone())
                .unwrap_or_default();
            let family = if ip.contains(':') { "IPv6" } else { "IPv4" };
            let resolved: PortSet = ports
                .iter()
                .filter_map(|sp| {
                    Some((
                        sp.name.clone(),
                        sp.protocol.clone().unwrap_or_else(|| "TCP".into()),
                        resolve_port(sp, p)?,
                    ))
                })
                .collect();
            let terminating = p.metadata.deletion_timestamp.is_some();
            let ready = pod_is_ready(p);
            let ep = Endpoint {
                addresses: vec![ip],
                conditions: Some(EndpointConditions {
                    ready: Some(publish_not_ready || (ready && !terminating)),
                    serving: Some(publish_not_ready || ready),
                    terminating: Some(terminating),
                }),
                node_name: p.spec.as_ref().and_then(|s| s.node_name.clone()),
                target_ref: Some(target_ref(p)),
                hostname: dns_hostname(p, svc),
                ..Default::default()
            };
            groups
                .entry((family.to_string(), resolved))
                .or_default()
                .push(ep);
        }
        if groups.is_empty() {
            // No endpoints: one empty placeholder slice, as upstream keeps.
            groups.insert(("IPv4".into(), Vec::new()), Vec::new());
        }
        let labels = slice_labels(svc);
        let mut desired: Vec<EndpointSlice> = Vec::new();
        for ((family, resolved), eps) in groups {
            let eps_ports: Vec<EndpointPort> = resolved
                .iter()
                .map(|(n, proto, port)| EndpointPort {
                    name: n.clone(),
                    protocol: Some(proto.clone()),
                    port: Some(*port),
                    app_protocol: None,
                })
                .collect();
            let chunks: Vec<Vec<Endpoint>> = if eps.is_empty() {
                vec![Vec::new()]
            } else {
                eps.chunks(MAX_PER_SLICE).map(|c| c.to_vec()).collect()
            };
            for chunk in chunks {
                desired.push(EndpointSlice {
                    metadata: ObjectMeta {
                        generate_name: Some(format!("{}-", svc.name_any())),
                        namespace: Some(ns.clone()),
                        labels: Some(labels.clone()),
                        owner_references: Some(vec![controller_ref(svc)]),
                        ..Default::default()
                    },
                    address_type: family.clone(),
                    endpoints: chunk,
                    ports: Some(eps_ports.clone()),
                });
            }
        }
        let uid = svc.uid().unwrap_or_default();
        let mut existing: Vec<Arc<EndpointSlice>> = self
            .shared
            .endpointslices
            .get_many(&self.slices_by_ns.keys(&ns))
            .into_iter()
            .filter(|s| {
                s.labels().get(SERVICE_NAME) == Some(&svc.name_any())
                    && s.labels().get(MANAGED_BY).map(String::as_str) == Some(CONTROLLER)
            })
            .filter(|s| s.metadata.deletion_timestamp.is_none())
            .collect();
        existing.sort_by_key(|s| s.name_any());
        let api: Api<EndpointSlice> = Api::namespaced(self.shared.client.clone(), &ns);
        let mut used = HashSet::new();
        let mut pending = Vec::new();
        // Keep identical slices, then reuse others of the same address type.
        for d in desired {
            let same = existing.iter().find(|e| {
                !used.contains(&e.name_any())
                    && e.address_type == d.address_type
                    && e.endpoints == d.endpoints
                    && e.ports == d.ports
                    && e.labels() == d.labels()
                    && owned_by(e, &uid)
            });
            match same {
                Some(e) => {
                    used.insert(e.name_any());
                }
                None => pending.push(d),
            }
        }
        for d in pending {
            let reuse = existing.iter().find(|e| {
                !used.contains(&e.name_any())
                    && e.address_type == d.address_type
                    && owned_by(e, &uid)
            });
            match reuse {
                Some(e) => {
                    used.insert(e.name_any());
                    let mut u = (**e).clone();
                    u.endpoints = d.endpoints;
                    u.ports = d.ports;
                    u.metadata.labels = d.metadata.labels;
                    match api.replace(&e.name_any(), &PostParams::default(), &u).await {
                        Ok(s) => self.shared.endpointslices.assume(s),
                        Err(e) => return Err(e.into()),
                    }
                }
                None => {
                    let s = api.create(&PostParams::default(), &d).await?;
                    used.insert(s.name_any());
                    self.shared.endpointslices.assume(s);
                }
            }
        }
        for e in existing.iter().filter(|e| !used.contains(&e.name_any())) {
            match api.delete(&e.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if util::is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn sync_endpoints(
        &self,
        svc: &Service,
        ports: &[ServicePort],
        pods: &[Arc<Pod>],
        publish_not_ready: bool,
    ) -> Result<()> {
        let ns = svc.namespace().unwrap_or_default();
        let mut subsets: BTreeMap<PortSet, (Vec<EndpointAddress>, Vec<EndpointAddress>)> =
            BTreeMap::new();
        for p in pods {
            let terminating = p.metadata.deletion_timestamp.is_some();
            if terminating && !publish_not_ready {
                continue;
            }
            let ip = p
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.clone())
                .unwrap_or_default();
            let addr = EndpointAddress {
                ip,
                node_name: p.spec.as_ref().and_then(|s| s.node_name.clone()),
                target_ref: Some(target_ref(p)),
                hostname: dns_hostname(p, svc),
            };
            let resolved: PortSet = ports
                .iter()
                .filter_map(|sp| {
                    Some((
                        sp.name.clone(),
                        sp.protocol.clone().unwrap_or_else(|| "TCP".into()),
                        resolve_port(sp, p)?,
                    ))
                })
                .collect();
            let e = subsets.entry(resolved).or_default();
            if publish_not_ready || pod_is_ready(p) {
                e.0.push(addr);
            } else {
                e.1.push(addr);
            }
        }
        let subsets: Vec<EndpointSubset> = subsets
            .into_iter()
            .map(|(ports, (ready, not_ready))| EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then(|| {
                    ports
                        .into_iter()
                        .map(|(name, proto, port)| CorePort {
                            name,
                            protocol: Some(proto),
                            port,
                            app_protocol: None,
                        })
                        .collect()
                }),
            })
            .collect();
        let mut labels: BTreeMap<String, String> = svc.labels().clone();
        if svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None") {
            labels.insert("service.kubernetes.io/headless".into(), String::new());
        }
        let subsets = (!subsets.is_empty()).then_some(subsets);
        let api: Api<Endpoints> = Api::namespaced(self.shared.client.clone(), &ns);
        let key = format!("{ns}/{}", svc.name_any());
        match self.shared.endpoints.get(&key) {
            Some(cur) => {
                let cur_subsets = cur.subsets.clone().filter(|s| !s.is_empty());
                if cur_subsets == subsets
                    && cur.metadata.labels.clone().unwrap_or_default() == labels
                {
                    return Ok(());
                }
                let mut u = (*cur).clone();
                u.subsets = subsets;
                u.metadata.labels = Some(labels);
                let e = api
                    .replace(&svc.name_any(), &PostParams::default(), &u)
                    .await?;
                self.shared.endpoints.assume(e);
            }
            None => {
                let e = Endpoints {
                    metadata: ObjectMeta {
                        name: Some(svc.name_any()),
                        namespace: Some(ns.clone()),
                        labels: Some(labels),
                        ..Default::default()
                    },
                    subsets,
                };
                match api.create(&PostParams::default(), &e).await {
                    Ok(e) => self.shared.endpoints.assume(e),
                    Err(e) if util::is_conflict(&e) => {
                        return Err(crate::Error::NotReady(format!(
                            "endpoints {key} exist but are not cached yet"
                        )))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }
}

fn owned_by(s: &EndpointSlice, uid: &str) -> bool {
    s.owner_references().iter().any(|r| r.uid == uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(hostname: Option<&str>, subdomain: Option<&str>) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-0", "namespace": "default"},
            "spec": {"containers": [], "hostname": hostname, "subdomain": subdomain},
        }))
        .unwrap()
    }

    fn service(name: &str) -> Service {
        serde_json::from_value(serde_json::json!({"metadata": {"name": name, "namespace": "default"}})).unwrap()
    }

    #[test]
    fn endpoint_hostname_should_be_published_only_for_the_service_the_pod_names_as_subdomain() {
        assert_eq!(dns_hostname(&pod(Some("web-0"), Some("web")), &service("web")).as_deref(), Some("web-0"));
        assert_eq!(dns_hostname(&pod(Some("web-0"), Some("web")), &service("other")), None);
        assert_eq!(dns_hostname(&pod(Some("web-0"), None), &service("web")), None);
        assert_eq!(dns_hostname(&pod(None, Some("web")), &service("web")), None);
    }
}
