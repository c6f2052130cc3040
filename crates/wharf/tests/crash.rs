//! Acknowledged writes survive `kill -9`, and a clean stop exits 0 and keeps everything.

mod common;

use common::Wharf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn every_acknowledged_write_survives_kill_9_mid_way_through_concurrent_writes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut w = Wharf::start_in(tmp.path());
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let kubeconfig = w.kubeconfig();
    let mut threads = Vec::new();
    for t in 0..6 {
        let (acked, stop, kubeconfig) = (acked.clone(), stop.clone(), kubeconfig.clone());
        threads.push(std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("w{t}-{i}");
                let o = common::kubectl_with(&kubeconfig, &["create", "configmap", &name, "--from-literal=k=v"], None);
                if o.status.success() {
                    acked.lock().expect("lock").push(name);
                }
                i += 1;
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(3));
    w.kill9();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() > 10, "too few writes were acknowledged before the kill: {}", acked.len());

    let w = Wharf::start_in(tmp.path());
    let names = w.ok(&["get", "configmaps", "-o", "jsonpath={.items[*].metadata.name}"]);
    let present: std::collections::HashSet<&str> = names.split_whitespace().collect();
    let missing: Vec<&String> = acked.iter().filter(|n| !present.contains(n.as_str())).collect();
    assert!(missing.is_empty(), "acknowledged writes lost after kill -9: {missing:?}");
}

#[test]
fn sigterm_stops_cleanly_and_restart_keeps_every_object() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut w = Wharf::start_in(tmp.path());
    w.ok(&["create", "namespace", "keep"]);
    w.ok(&["create", "configmap", "kept", "-n", "keep", "--from-literal=a=b"]);
    assert_eq!(w.stop(), Some(0), "wharf up must exit 0 on SIGTERM");
    let w = Wharf::start_in(tmp.path());
    assert_eq!(w.ok(&["get", "configmap", "kept", "-n", "keep", "-o", "jsonpath={.data.a}"]), "b");
}
