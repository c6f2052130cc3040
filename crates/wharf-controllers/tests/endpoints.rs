#![allow(clippy::unwrap_used)]
mod common;

use common::*;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

async fn pod(api: &Api<Pod>, name: &str, ip: &str, ready: bool) {
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"name": "web", "containerPort": 8080}]}]}}))
    .unwrap();
    api.create(&PostParams::default(), &p).await.expect("pod");
    let status = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status");
}

async fn slices(api: &Api<EndpointSlice>) -> Vec<EndpointSlice> {
    api.list(&ListParams::default().labels("kubernetes.io/service-name=web"))
        .await
        .expect("slices")
        .items
}

/// (ip, ready, serving, terminating) for every endpoint, sorted.
fn endpoints_of(s: &[EndpointSlice]) -> Vec<(String, bool, bool, bool)> {
    let mut v: Vec<_> = s
        .iter()
        .flat_map(|s| s.endpoints.iter())
        .map(|e| {
            let c = e.conditions.clone().unwrap_or_default();
            (
                e.addresses[0].clone(),
                c.ready == Some(true),
                c.serving == Some(true),
                c.terminating == Some(true),
            )
        })
        .collect();
    v.sort();
    v
}

fn ips(e: &Endpoints) -> (Vec<String>, Vec<String>) {
    let mut ready: Vec<String> = e
        .subsets
        .iter()
        .flatten()
        .flat_map(|s| s.addresses.iter().flatten())
        .map(|a| a.ip.clone())
        .collect();
    let mut not: Vec<String> = e
        .subsets
        .iter()
        .flatten()
        .flat_map(|s| s.not_ready_addresses.iter().flatten())
        .map(|a| a.ip.clone())
        .collect();
    ready.sort();
    not.sort();
    (ready, not)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_slices_and_endpoints_follow_pod_readiness_with_named_target_ports() {
    let env = Env::start(only(&["endpointslice", "endpoint"])).await;
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "default");
    let svcs: Api<Service> = Api::namespaced(env.client.clone(), "default");
    let eps: Api<EndpointSlice> = Api::namespaced(env.client.clone(), "default");
    let legacy: Api<Endpoints> = Api::namespaced(env.client.clone(), "default");
    pod(&pods, "a", "10.1.0.1", true).await;
    pod(&pods, "b", "10.1.0.2", false).await;
    let svc: Service = serde_json::from_value(json!({"metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "web"}]}}))
    .unwrap();
    let svc = svcs
        .create(&PostParams::default(), &svc)
        .await
        .expect("service");
    let s = eventually(20, "slice with two endpoints", || async {
        let s = slices(&eps).await;
        (endpoints_of(&s).len() == 2).then_some(s)
    })
    .await;
    assert_eq!(
        endpoints_of(&s),
        vec![
            ("10.1.0.1".into(), true, true, false),
            ("10.1.0.2".into(), false, false, false)
        ]
    );
    let one = &s[0];
    assert_eq!(
        one.labels()
            .get("endpointslice.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("endpointslice-controller.k8s.io")
    );
    assert_eq!(one.address_type, "IPv4");
    let port = &one.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.port, port.protocol.as_deref()),
        (Some("http"), Some(8080), Some("TCP"))
    );
    assert!(one
        .owner_references()
        .iter()
        .any(|r| r.uid == svc.uid().unwrap() && r.controller == Some(true)));
    assert_eq!(
        one.endpoints[0]
            .target_ref
            .as_ref()
            .and_then(|r| r.name.as_deref()),
        Some("a")
    );
    let e = eventually(20, "endpoints", || async {
        legacy.get_opt("web").await.ok()?
    })
    .await;
    assert_eq!(
        ips(&e),
        (vec!["10.1.0.1".to_string()], vec!["10.1.0.2".to_string()])
    );
    assert_eq!(
        e.subsets.as_ref().unwrap()[0].ports.as_ref().unwrap()[0].port,
        8080
    );

    // b becomes ready.
    mark_ready(&pods, "b").await.expect("ready");
    eventually(20, "both ready", || async {
        let ok = endpoints_of(&slices(&eps).await).iter().all(|e| e.1)
            && ips(&legacy.get("web").await.ok()?).0.len() == 2;
        ok.then_some(())
    })
    .await;
    // a terminates (held by a finalizer): terminating in the slice, gone from Endpoints.
    pods.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": ["test/hold"]}})),
    )
    .await
    .expect("hold");
    pods.delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    eventually(20, "terminating", || async {
        let s = endpoints_of(&slices(&eps).await);
        let e = ips(&legacy.get("web").await.ok()?);
        (s.contains(&("10.1.0.1".into(), false, true, true)) && e.0 == vec!["10.1.0.2".to_string()])
            .then_some(())
    })
    .await;
    pods.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");
    eventually(20, "a gone", || async {
        (endpoints_of(&slices(&eps).await).len() == 1).then_some(())
    })
    .await;
    // Deleting the Service removes its Endpoints.
    svcs.delete("web", &DeleteParams::default())
        .await
        .expect("delete svc");
    eventually(20, "endpoints removed", || async {
        legacy.get_opt("web").await.ok()?.is_none().then_some(())
    })
    .await;
    env.shutdown().await;
}
