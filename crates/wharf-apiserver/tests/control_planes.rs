//! Several control planes in one process: each has its own datastore prefix, CA and port.

use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use wharf_apiserver::registry::{ListOptions, ReadAt, WriteOptions};
use wharf_apiserver::{ControlPlane, ControlPlaneConfig};
use wharf_store::{sqlite::SqliteStore, KvStore, Prefixed};

async fn start(base: Arc<dyn KvStore>, dir: &std::path::Path, name: &str) -> ControlPlane {
    ControlPlane::start(ControlPlaneConfig {
        name: name.into(),
        state_dir: dir.join(name),
        listen: "127.0.0.1:0".parse().expect("addr"),
        store: Arc::new(Prefixed::new(base, format!("/clusters/{name}"))),
        service_cidr: ([10, 100, 0, 0], 16),
        compaction_interval: Duration::from_secs(300),
        mounts: Vec::new(),
    })
    .await
    .expect("start control plane")
}

fn all() -> ListOptions {
    ListOptions { labels: Default::default(), fields: Default::default(), limit: 0, continue_token: None, at: ReadAt::Latest }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_control_planes_share_a_store_but_nothing_else() {
    let dir = tempfile::tempdir().expect("tmp");
    let base: Arc<dyn KvStore> = Arc::new(SqliteStore::open(&dir.path().join("store")).expect("store"));
    let a = start(base.clone(), dir.path(), "alpha").await;
    let b = start(base.clone(), dir.path(), "beta").await;
    assert_ne!(a.addr, b.addr);
    assert_ne!(a.ca_pem, b.ca_pem);
    assert_ne!(a.admin_token, b.admin_token);
    let cms = a.registry.lookup("", "v1", "configmaps").expect("configmaps");
    a.registry
        .create(&cms, Some("default"), json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "only-in-alpha"}}), &WriteOptions::default())
        .await
        .expect("create");
    let in_a = a.registry.list(&cms, Some("default"), &all()).await.expect("list a");
    let in_b = b.registry.list(&cms, Some("default"), &all()).await.expect("list b");
    assert_eq!(in_a.items.len(), 1);
    assert!(in_b.items.is_empty(), "beta must not see alpha's objects");
    a.shutdown().await;
    b.shutdown().await;
}
