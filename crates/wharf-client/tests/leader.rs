//! Leader election through a Lease on a real (in-process) control plane.

use std::sync::Arc;
use std::time::Duration;
use wharf_apiserver::auth::UserInfo;
use wharf_apiserver::{ControlPlane, ControlPlaneConfig};
use wharf_client::{LeaderElection, LeaderElectionConfig};
use wharf_store::sqlite::SqliteStore;

async fn control_plane(dir: &std::path::Path) -> ControlPlane {
    ControlPlane::start(ControlPlaneConfig {
        name: "le".into(),
        state_dir: dir.join("le"),
        listen: "127.0.0.1:0".parse().unwrap(),
        store: Arc::new(SqliteStore::open(&dir.join("store")).unwrap()),
        service_cidr: ([10, 100, 0, 0], 16),
        compaction_interval: Duration::from_secs(300),
        mounts: Vec::new(),
    })
    .await
    .unwrap()
}

fn cfg(identity: &str) -> LeaderElectionConfig {
    LeaderElectionConfig {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(200),
        ..LeaderElectionConfig::new("test-component", identity)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_candidate_leads_and_a_successor_takes_over_after_the_lease_expires() {
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path()).await;
    let client = || cp.client(UserInfo::new("system:kube-scheduler", &[]));
    let mut a = LeaderElection::new(client(), cfg("a"));
    let mut b = LeaderElection::new(client(), cfg("b"));
    assert!(a.try_acquire_or_renew().await, "first candidate takes a free lease");
    assert!(!b.try_acquire_or_renew().await, "second candidate must not take a held lease");
    assert!(a.try_acquire_or_renew().await, "leader renews");
    // `a` stops renewing (crashed): `b` must wait a full lease duration from when it saw the
    // last renewal, then take over.
    let started = std::time::Instant::now();
    loop {
        if b.try_acquire_or_renew().await {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "successor never took over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(1800), "took over before the lease expired: {:?}", started.elapsed());
    let lease: k8s_openapi::api::coordination::v1::Lease =
        kube::Api::namespaced(client(), "kube-system").get("test-component").await.unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));
    assert!(!a.try_acquire_or_renew().await, "the old leader must not win back a held lease");
    cp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_work_runs_once_and_release_on_shutdown_hands_over_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let cp = control_plane(dir.path()).await;
    let client = || cp.client(UserInfo::new("system:kube-scheduler", &[]));
    let (stop_a, stop_a_rx) = tokio::sync::watch::channel(false);
    let (led_tx, mut led_rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    let tx = led_tx.clone();
    let a = tokio::spawn(LeaderElection::new(client(), cfg("a")).run(stop_a_rx, move |mut lost| {
        let tx = tx.clone();
        async move {
            let _ = tx.send("a");
            let _ = lost.changed().await;
        }
    }));
    assert_eq!(tokio::time::timeout(Duration::from_secs(5), led_rx.recv()).await.unwrap(), Some("a"));
    let (_stop_b, stop_b_rx) = tokio::sync::watch::channel(false);
    let tx = led_tx.clone();
    let b = tokio::spawn(LeaderElection::new(client(), cfg("b")).run(stop_b_rx, move |mut lost| {
        let tx = tx.clone();
        async move {
            let _ = tx.send("b");
            let _ = lost.changed().await;
        }
    }));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(led_rx.try_recv().is_err(), "b must not lead while a holds the lease");
    stop_a.send(true).unwrap();
    a.await.unwrap();
    assert_eq!(tokio::time::timeout(Duration::from_secs(5), led_rx.recv()).await.unwrap(), Some("b"));
    b.abort();
    cp.shutdown().await;
}
