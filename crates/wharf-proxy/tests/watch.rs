//! `run` and `run_lb` against an in-process Wharf API server: the node's table follows Service and
//! EndpointSlice changes within a second, LoadBalancer Services get the Ready nodes' addresses, and
//! stopping removes the table. Needs root (skips otherwise), `ip` and `nft`.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, Patch, PatchParams, PostParams};
use wharf_apiserver::auth::UserInfo;
use wharf_apiserver::{ControlPlane, ControlPlaneConfig};
use wharf_proxy::{nft, LbConfig, ProxyConfig};
use wharf_store::sqlite::SqliteStore;

struct Netns(String);
impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn slice(ready: bool) -> EndpointSlice {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web-abc", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.250.1.9"], "nodeName": "n1", "conditions": {"ready": ready}}],
        "ports": [{"name": "http", "protocol": "TCP", "port": 8080}]
    }))
    .unwrap()
}

async fn eventually(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    t0.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_table_follows_services_and_endpoints_and_load_balancers_get_node_addresses() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipping: needs root");
        return;
    }
    let tag = format!("wpxw{}", std::process::id());
    assert!(Command::new("ip")
        .args(["netns", "add", &tag])
        .status()
        .unwrap()
        .success());
    let guard = Netns(tag.clone());
    let ns = PathBuf::from(format!("/run/netns/{tag}"));

    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(ControlPlaneConfig {
        name: "proxy".into(),
        state_dir: dir.path().join("proxy"),
        listen: "127.0.0.1:0".parse().unwrap(),
        store: Arc::new(SqliteStore::open(&dir.path().join("store")).unwrap()),
        service_cidr: ([10, 100, 0, 0], 16),
        compaction_interval: Duration::from_secs(300),
        mounts: Vec::new(),
    })
    .await
    .unwrap();
    let client = cp.client(UserInfo::new("admin", &["system:masters"]));

    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "n1"}})).unwrap(),
        )
        .await
        .unwrap();
    let status = serde_json::json!({"status": {
        "conditions": [{"type": "Ready", "status": "True"}],
        "addresses": [{"type": "InternalIP", "address": "10.250.1.1"}]
    }});
    nodes
        .patch_status("n1", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    }))
    .unwrap();
    let svc = services.create(&PostParams::default(), &svc).await.unwrap();
    let cluster_ip = svc.spec.unwrap().cluster_ip.unwrap();
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    slices
        .create(&PostParams::default(), &slice(true))
        .await
        .unwrap();

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut cfg = ProxyConfig::new("n1", vec!["10.250.1.1".parse().unwrap()], &tag);
    cfg.netns = Some(ns.clone());
    let proxy = tokio::spawn(wharf_proxy::run(client.clone(), cfg, stop.clone()));
    let lb = tokio::spawn(wharf_proxy::run_lb(
        client.clone(),
        LbConfig::default(),
        stop,
    ));
    let table = wharf_proxy::table_name(&tag);
    let map = |name: &str| {
        nft::run(Some(&ns), &["list", "map", "ip", &table, name], "").unwrap_or_default()
    };

    let vip_elem = format!("{cluster_ip} . tcp . 80 : goto svc-");
    eventually(
        "the cluster IP in service-ips",
        Duration::from_secs(10),
        || map("service-ips").contains(&vip_elem),
    )
    .await;
    // The allocator publishes the Ready node's address; the proxy then serves it like the cluster IP.
    eventually("load-balancer ingress", Duration::from_secs(10), || {
        map("service-ips").contains("10.250.1.1 . tcp . 80 : goto ext-")
    })
    .await;
    let got = services.get_status("web").await.unwrap();
    let ingress = got.status.unwrap().load_balancer.unwrap().ingress.unwrap();
    assert_eq!(ingress.len(), 1);
    assert_eq!(ingress[0].ip.as_deref(), Some("10.250.1.1"));

    // The only endpoint turns unready: the cluster IP rejects within a second.
    slices
        .replace("web-abc", &PostParams::default(), &{
            let mut s = slice(false);
            s.metadata.resource_version = slices
                .get("web-abc")
                .await
                .unwrap()
                .metadata
                .resource_version;
            s
        })
        .await
        .unwrap();
    let reject = format!("{cluster_ip} . tcp . 80 : goto reject-chain");
    let took = eventually(
        "reject for the unready endpoint",
        Duration::from_secs(5),
        || map("no-endpoint-services").contains(&reject),
    )
    .await;
    assert!(
        took < Duration::from_secs(1),
        "rules followed the endpoint change after {took:?}"
    );
    assert!(!map("service-ips").contains(&vip_elem));

    // Deleting the Service removes its elements.
    services.delete("web", &Default::default()).await.unwrap();
    eventually("service removal", Duration::from_secs(5), || {
        !map("no-endpoint-services").contains(&cluster_ip)
    })
    .await;

    stop_tx.send(true).unwrap();
    proxy.await.unwrap().unwrap();
    lb.await.unwrap().unwrap();
    let tables = nft::run(Some(&ns), &["list", "tables"], "").unwrap();
    assert_eq!(tables.trim(), "", "table left behind after stop");
    cp.shutdown().await;
    drop(guard);
}
