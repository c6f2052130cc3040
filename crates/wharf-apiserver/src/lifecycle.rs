//! What kube-apiserver itself keeps true: bootstrap objects (system namespaces, the RBAC
//! defaults with the `cluster-admin` binding for `system:masters`, the `kubernetes`
//! Service), custom resources served as soon as their CRD is stored, and terminating
//! namespaces emptied and finalized.

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{ApiError, Result};
use crate::registry::{DeleteOptions, ListOptions, ReadAt, Registry, WriteOptions};
use crate::strategy::Part;

fn bootstrap_objects(service_ip: &str) -> Vec<(&'static str, &'static str, &'static str, Value)> {
    let rbac = "rbac.authorization.k8s.io";
    let labels = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    let ann = json!({"rbac.authorization.kubernetes.io/autoupdate": "true"});
    let role = |name: &str, rules: Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name, "labels": labels, "annotations": ann}, "rules": rules})
    };
    let binding = |name: &str, subjects: Value| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name, "labels": labels, "annotations": ann},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}, "subjects": subjects})
    };
    let group = |g: &str| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g});
    let mut out = Vec::new();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        out.push(("", "v1", "namespaces", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})));
    }
    out.push((rbac, "v1", "clusterroles", role("cluster-admin", json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]))));
    out.push((rbac, "v1", "clusterrolebindings", binding("cluster-admin", json!([group("system:masters")]))));
    out.push((rbac, "v1", "clusterroles", role("system:discovery", json!([{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]))));
    out.push((rbac, "v1", "clusterrolebindings", binding("system:discovery", json!([group("system:authenticated")]))));
    out.push((rbac, "v1", "clusterroles", role("system:basic-user", json!([{"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]}, {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]}]))));
    out.push((rbac, "v1", "clusterrolebindings", binding("system:basic-user", json!([group("system:authenticated")]))));
    out.push((rbac, "v1", "clusterroles", role("system:public-info-viewer", json!([{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]))));
    out.push((rbac, "v1", "clusterrolebindings", binding("system:public-info-viewer", json!([group("system:authenticated"), group("system:unauthenticated")]))));
    let user = |u: &str| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u});
    let read = json!(["get", "list", "watch"]);
    let events = json!({"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "update", "patch"]});
    let leases = json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]});
    out.push((rbac, "v1", "clusterroles", role("system:kube-scheduler", json!([
        events.clone(), leases.clone(),
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]},
        {"apiGroups": [""], "resources": ["pods/binding", "bindings"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["patch", "update"]},
        {"apiGroups": [""], "resources": ["nodes", "namespaces", "services", "replicationcontrollers", "persistentvolumeclaims", "persistentvolumes"], "verbs": read.clone()},
        {"apiGroups": ["apps"], "resources": ["replicasets", "statefulsets"], "verbs": read},
        {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": read},
        {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities"], "verbs": read},
        {"apiGroups": ["scheduling.k8s.io"], "resources": ["priorityclasses"], "verbs": read},
    ]))));
    out.push((rbac, "v1", "clusterrolebindings", binding("system:kube-scheduler", json!([user("system:kube-scheduler")]))));
    // kube-controller-manager runs each controller under its own narrowly-bound service
    // account; Wharf's controllers share one identity, which together needs all of it.
    out.push((rbac, "v1", "clusterroles", role("system:kube-controller-manager", json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]))));
    out.push((rbac, "v1", "clusterrolebindings", binding("system:kube-controller-manager", json!([user("system:kube-controller-manager")]))));
    out.push((rbac, "v1", "clusterroles", role("system:node", json!([
        events, leases,
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        {"apiGroups": [""], "resources": ["nodes/status", "pods/status"], "verbs": ["patch", "update"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "create", "delete"]},
        {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["configmaps", "secrets", "services", "endpoints", "persistentvolumeclaims", "persistentvolumes"], "verbs": read},
        {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
        {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"], "verbs": ["create", "get", "list", "watch"]},
        {"apiGroups": ["storage.k8s.io"], "resources": ["csidrivers", "csinodes", "volumeattachments"], "verbs": read},
    ]))));
    out.push((rbac, "v1", "clusterrolebindings", binding("system:node", json!([group("system:nodes")]))));
    // kube-proxy's role (Kubernetes bootstraps it under this name for user system:kube-proxy).
    out.push((rbac, "v1", "clusterroles", role("system:node-proxier", json!([
        events,
        {"apiGroups": [""], "resources": ["endpoints", "services", "nodes"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
    ]))));
    out.push((rbac, "v1", "clusterrolebindings", binding("system:node-proxier", json!([user("system:kube-proxy")]))));
    // The built-in LoadBalancer implementation (servicelb): publishes node addresses in Service status.
    out.push((rbac, "v1", "clusterroles", role("system:wharf-servicelb", json!([
        events,
        {"apiGroups": [""], "resources": ["services", "nodes"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["services/status"], "verbs": ["patch", "update"]},
    ]))));
    out.push((rbac, "v1", "clusterrolebindings", binding("system:wharf-servicelb", json!([user("system:wharf-servicelb")]))));
    for (name, value, desc) in [
        ("system-node-critical", 2_000_001_000, "Used for system critical pods that must not be moved from their current node."),
        ("system-cluster-critical", 2_000_000_000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
    ] {
        out.push(("scheduling.k8s.io", "v1", "priorityclasses", json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value, "description": desc, "preemptionPolicy": "PreemptLowerPriority"})));
    }
    out.push((
        "",
        "v1",
        "services",
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
               "spec": {"type": "ClusterIP", "clusterIP": service_ip, "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}]}}),
    ));
    out
}

/// Creates the bootstrap objects that are missing.
pub async fn bootstrap(reg: &Registry) -> Result<()> {
    let ([a, b, c, d], _) = reg.service_cidr();
    let service_ip = std::net::Ipv4Addr::new(a, b, c, d.wrapping_add(1)).to_string();
    for (group, version, resource, obj) in bootstrap_objects(&service_ip) {
        let Some(s) = reg.lookup(group, version, resource) else { continue };
        let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string);
        let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        if reg.cache().get(&s.info.key(ns.as_deref(), name)).is_some() {
            continue;
        }
        match reg.create(&s, ns.as_deref(), obj, &WriteOptions::default()).await {
            Ok(_) | Err(ApiError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Serves the resources of every stored CRD, following CRD changes.
pub async fn follow_custom_resources(reg: Arc<Registry>) {
    loop {
        let w = match reg.cache().watch_with_snapshot("/registry/apiextensions.k8s.io/customresourcedefinitions/", 0, false) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "cannot watch CRDs");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        reg.refresh_custom_resources();
        let mut rx = w.rx;
        while rx.recv().await.is_some() {
            reg.refresh_custom_resources();
        }
    }
}

fn all_options() -> ListOptions {
    ListOptions { labels: Default::default(), fields: Default::default(), limit: 0, continue_token: None, at: ReadAt::Latest }
}

/// Empties terminating namespaces and removes their `kubernetes` finalizer (the namespace
/// controller's job in Kubernetes).
pub async fn finalize_namespaces(reg: Arc<Registry>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let (_, namespaces, _) = reg.cache().list("/registry/core/namespaces/", None, |_| true, usize::MAX);
        for nso in namespaces {
            let Ok(ns) = nso.value() else { continue };
            if ns.pointer("/metadata/deletionTimestamp").is_none() {
                continue;
            }
            let name = wharf_api::meta::name(&ns).to_string();
            if let Err(e) = finalize_one(&reg, &name).await {
                tracing::warn!(namespace = %name, error = %e, "namespace cleanup failed");
            }
        }
    }
}

async fn finalize_one(reg: &Registry, ns: &str) -> Result<()> {
    let mut remaining = 0;
    for s in reg.namespaced_resources() {
        let deleted = reg.delete_collection(&s, Some(ns), &all_options(), &DeleteOptions::default()).await?;
        remaining += deleted.len();
    }
    if remaining > 0 {
        // Some objects are still held by finalizers or grace periods; look again next tick.
        for s in reg.namespaced_resources() {
            if !reg.list(&s, Some(ns), &all_options()).await?.items.is_empty() {
                return Ok(());
            }
        }
    }
    let Some(nss) = reg.lookup("", "v1", "namespaces") else { return Ok(()) };
    reg.guaranteed_update(&nss, None, ns, None, &WriteOptions::default(), |old| {
        let mut new = old.clone();
        if let Some(f) = new.pointer_mut("/spec/finalizers").and_then(Value::as_array_mut) {
            f.retain(|x| x != "kubernetes");
        }
        Ok(new)
    }, Part::Internal)
    .await?;
    Ok(())
}

/// Compacts the datastore history periodically at the revision seen one interval earlier,
/// as kube-apiserver does, so history stays bounded and old resourceVersions expire (410).
pub async fn compact_history(reg: Arc<Registry>, interval: Duration) {
    let mut previous: Option<i64> = None;
    loop {
        tokio::time::sleep(interval).await;
        let Ok(current) = reg.store().current_revision().await else { continue };
        if let Some(rev) = previous {
            match reg.store().compact(rev).await {
                Ok(()) => tracing::debug!(revision = rev, "compacted"),
                Err(wharf_store::StoreError::Compacted { .. }) => {}
                Err(e) => tracing::warn!(error = %e, "compaction failed"),
            }
        }
        previous = Some(current);
    }
}
