//! Node registration, node status and the node Lease.

use std::sync::Arc;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

use crate::config::meminfo;
use crate::error::{Error, Result};
use crate::Inner;

pub(crate) fn now() -> String {
    k8s_openapi::chrono::Utc::now().to_rfc3339_opts(k8s_openapi::chrono::SecondsFormat::Secs, true)
}

fn now_micro() -> String {
    k8s_openapi::chrono::Utc::now().to_rfc3339_opts(k8s_openapi::chrono::SecondsFormat::Micros, true)
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default()
}

fn os_image() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

fn machine_id() -> String {
    std::fs::read_to_string("/etc/machine-id").map(|s| s.trim().to_string()).unwrap_or_default()
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// The node's pressure conditions, measured now.
fn conditions(inner: &Inner) -> Vec<Value> {
    let now = now();
    let cond = |t: &str, ok: bool, good: (&str, &str), bad: (&str, &str)| {
        let (status, (reason, message)) = if t == "Ready" {
            (if ok { "True" } else { "False" }, if ok { good } else { bad })
        } else {
            (if ok { "False" } else { "True" }, if ok { good } else { bad })
        };
        json!({"type": t, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    let mem_ok = meminfo("MemAvailable:").is_none_or(|a| a >= 100 << 20);
    let disk_ok = match rustix::fs::statvfs(&inner.cfg.root_dir) {
        Ok(s) => s.f_blocks == 0 || s.f_bavail * 10 >= s.f_blocks,
        Err(_) => true,
    };
    let pid_ok = {
        let max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(u64::MAX);
        let used = std::fs::read_dir("/proc").map(|d| d.filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))).count() as u64).unwrap_or(0);
        used * 10 < max * 9
    };
    vec![
        cond("MemoryPressure", mem_ok, ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"), ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available")),
        cond("DiskPressure", disk_ok, ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"), ("KubeletHasDiskPressure", "kubelet has disk pressure")),
        cond("PIDPressure", pid_ok, ("KubeletHasSufficientPID", "kubelet has sufficient PID available"), ("KubeletHasInsufficientPID", "kubelet has insufficient PID available")),
        cond("Ready", true, ("KubeletReady", "kubelet is posting ready status"), ("KubeletNotReady", "")),
    ]
}

fn status(inner: &Inner) -> Value {
    let c = &inner.cfg;
    let cap = json!({
        "cpu": format!("{}m", c.cpu_milli),
        "memory": format!("{}Ki", c.memory_bytes / 1024),
        "pods": c.max_pods.to_string(),
        "ephemeral-storage": format!("{}Ki", c.ephemeral_storage_bytes / 1024),
    });
    let images: Vec<Value> = inner
        .images
        .list()
        .unwrap_or_default()
        .iter()
        .map(|i| json!({"names": [i.repo_digest, i.reference], "sizeBytes": i.size}))
        .collect();
    json!({
        "capacity": cap,
        "allocatable": cap,
        "conditions": conditions(inner),
        "addresses": [{"type": "InternalIP", "address": c.node_ip}, {"type": "Hostname", "address": c.node_name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": c.kubelet_port}},
        "images": images,
        "nodeInfo": {
            "machineID": machine_id(),
            "systemUUID": machine_id(),
            "bootID": boot_id(),
            "kernelVersion": kernel_version(),
            "osImage": os_image(),
            "containerRuntimeVersion": format!("wharf://{}", env!("CARGO_PKG_VERSION")),
            "kubeletVersion": "v1.32.4-wharf",
            "kubeProxyVersion": "v1.32.4-wharf",
            "operatingSystem": "linux",
            "architecture": arch(),
        },
    })
}

/// Creates the Node (or refreshes its status when it exists).
pub(crate) async fn register(inner: &Arc<Inner>) -> Result<()> {
    let c = &inner.cfg;
    let mut labels = serde_json::Map::new();
    for (k, v) in [
        ("kubernetes.io/hostname", c.node_name.as_str()),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", arch()),
        ("beta.kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", arch()),
    ] {
        labels.insert(k.into(), json!(v));
    }
    for (k, v) in &c.labels {
        labels.insert(k.clone(), json!(v));
    }
    let node = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": c.node_name, "labels": labels, "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {},
        "status": status(inner),
    });
    let nodes: Api<Node> = Api::all(inner.client.clone());
    let obj: Node = serde_json::from_value(node.clone()).map_err(|source| Error::Json { what: "node".into(), source })?;
    match nodes.create(&PostParams::default(), &obj).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let meta = json!({"metadata": {"labels": labels}});
            nodes.patch(&c.node_name, &PatchParams::default(), &Patch::Merge(&meta)).await.map_err(|e| Error::api("labelling node", e))?;
        }
        Err(e) => return Err(Error::api("creating node", e)),
    }
    // Creation ignores status; always write it through the subresource.
    let st = json!({"status": node["status"]});
    nodes
        .patch_status(&c.node_name, &PatchParams::default(), &Patch::Merge(&st))
        .await
        .map_err(|e| Error::api("updating node status", e))?;
    renew_lease(inner).await;
    Ok(())
}

async fn renew_lease(inner: &Inner) {
    let c = &inner.cfg;
    let leases: Api<Lease> = Api::namespaced(inner.client.clone(), "kube-node-lease");
    let renew = json!({"spec": {"renewTime": now_micro(), "holderIdentity": c.node_name}});
    match leases.patch(&c.node_name, &PatchParams::default(), &Patch::Merge(&renew)).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {
            let secs = (c.heartbeat.as_secs() * 4).max(40);
            let node_uid = Api::<Node>::all(inner.client.clone()).get(&c.node_name).await.ok().and_then(|n| n.metadata.uid);
            let owners = match node_uid {
                Some(uid) => json!([{"apiVersion": "v1", "kind": "Node", "name": c.node_name, "uid": uid}]),
                None => json!([]),
            };
            let lease = json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": c.node_name, "namespace": "kube-node-lease", "ownerReferences": owners},
                "spec": {"holderIdentity": c.node_name, "leaseDurationSeconds": secs, "renewTime": now_micro()},
            });
            if let Ok(obj) = serde_json::from_value::<Lease>(lease) {
                if let Err(e) = leases.create(&PostParams::default(), &obj).await {
                    tracing::warn!(error = %e, "creating node lease");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "renewing node lease"),
    }
}

/// Renews the Lease every `heartbeat` and the node status every `status_interval`.
pub(crate) async fn heartbeat(inner: Arc<Inner>) {
    let mut last_status = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(inner.cfg.heartbeat).await;
        renew_lease(&inner).await;
        if last_status.elapsed() >= inner.cfg.status_interval {
            last_status = tokio::time::Instant::now();
            let nodes: Api<Node> = Api::all(inner.client.clone());
            let st = json!({"status": status(&inner)});
            if let Err(e) = nodes.patch_status(&inner.cfg.node_name, &PatchParams::default(), &Patch::Merge(&st)).await {
                tracing::warn!(error = %e, "updating node status");
            }
        }
    }
}
