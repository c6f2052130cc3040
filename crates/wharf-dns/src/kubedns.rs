//! The conventional `kube-system/kube-dns` Service: selector-less, at a fixed ClusterIP, with an
//! EndpointSlice this crate owns pointing at wherever the DNS server listens; and the
//! `system:coredns` ClusterRole and binding (as on EKS) that let the DNS server's identity
//! [`DNS_USER`] read what it serves.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use crate::{Error, Result};

/// The field manager (and `endpointslice.kubernetes.io/managed-by` value) of these objects.
const MANAGER: &str = "wharf-dns";
/// Name of the EndpointSlice this crate owns.
const SLICE: &str = "kube-dns-wharf";

/// The user the DNS server should call the API server as: CoreDNS's service account on EKS,
/// bound to the `system:coredns` ClusterRole by [`ensure_kube_dns_service`].
pub const DNS_USER: &str = "system:serviceaccount:kube-system:coredns";

/// Where the `kube-dns` Service lives and where its traffic goes.
#[derive(Debug, Clone)]
pub struct KubeDnsService {
    /// The Service's ClusterIP (EKS: `10.100.0.10`).
    pub cluster_ip: IpAddr,
    /// Addresses the DNS server listens on (e.g. the VPC router `172.31.0.1`), one family.
    pub endpoints: Vec<IpAddr>,
    /// The port the DNS server listens on (53).
    pub port: u16,
}

/// Creates or updates `kube-system/kube-dns` (ports `dns` 53/UDP and `dns-tcp` 53/TCP, no
/// selector, labels as EKS's CoreDNS add-on sets them) and its EndpointSlice, by server-side
/// apply so repeated calls converge; also the `system:coredns` ClusterRole (list/watch of
/// Services, EndpointSlices, Endpoints, Pods and Namespaces) bound to the service account
/// `kube-system/coredns`, i.e. [`DNS_USER`]. `client` needs cluster-admin rights.
pub async fn ensure_kube_dns_service(client: Client, want: &KubeDnsService) -> Result<()> {
    let params = PatchParams::apply(MANAGER).force();
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "system:coredns", "labels": {"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"}},
        "rules": [
            {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
        ],
    });
    roles
        .patch("system:coredns", &params, &Patch::Apply(role))
        .await
        .map_err(|source| Error::Kube { what: "apply clusterrole system:coredns".into(), source: Box::new(source) })?;
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "system:coredns", "labels": {"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
        "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}],
    });
    bindings
        .patch("system:coredns", &params, &Patch::Apply(binding))
        .await
        .map_err(|source| Error::Kube { what: "apply clusterrolebinding system:coredns".into(), source: Box::new(source) })?;
    let services: Api<Service> = Api::namespaced(client.clone(), "kube-system");
    let svc = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kube-dns",
            "namespace": "kube-system",
            "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS", "eks.amazonaws.com/component": "kube-dns"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": want.cluster_ip.to_string(),
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": want.port},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": want.port},
            ],
        },
    });
    services
        .patch("kube-dns", &params, &Patch::Apply(svc))
        .await
        .map_err(|source| Error::Kube { what: "apply service kube-system/kube-dns".into(), source: Box::new(source) })?;
    let family = if want.endpoints.first().is_some_and(|ip| ip.is_ipv6()) { "IPv6" } else { "IPv4" };
    let slices: Api<EndpointSlice> = Api::namespaced(client, "kube-system");
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": SLICE,
            "namespace": "kube-system",
            "labels": {"kubernetes.io/service-name": "kube-dns", "endpointslice.kubernetes.io/managed-by": MANAGER},
        },
        "addressType": family,
        "endpoints": want.endpoints.iter().map(|ip| json!({"addresses": [ip.to_string()], "conditions": {"ready": true, "serving": true, "terminating": false}})).collect::<Vec<_>>(),
        "ports": [
            {"name": "dns", "port": want.port, "protocol": "UDP"},
            {"name": "dns-tcp", "port": want.port, "protocol": "TCP"},
        ],
    });
    slices
        .patch(SLICE, &params, &Patch::Apply(slice))
        .await
        .map_err(|source| Error::Kube { what: format!("apply endpointslice kube-system/{SLICE}"), source: Box::new(source) })?;
    Ok(())
}
