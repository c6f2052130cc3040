//! kube-rs, unmodified, against `wharf up`: watcher/reflector caches and conflict retries.

mod common;

use common::Wharf;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Client, Config};
use std::collections::BTreeMap;
use std::time::Duration;

async fn client(w: &Wharf) -> Client {
    let kc = Kubeconfig::read_from(w.kubeconfig()).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.expect("config");
    Client::try_from(config).expect("client")
}

fn cm(name: &str, v: &str) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.into());
    c.data = Some(BTreeMap::from([("v".to_string(), v.to_string())]));
    c
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn reflector_follows_changes(initial: watcher::Config) {
    let w = tokio::task::spawn_blocking(Wharf::start).await.expect("start");
    let api: Api<ConfigMap> = Api::namespaced(client(&w).await, "default");
    api.create(&PostParams::default(), &cm("before", "0")).await.expect("create before");
    let (reader, writer) = reflector::store();
    let stream = reflector(writer, watcher(api.clone(), initial)).applied_objects();
    let task = tokio::spawn(stream.for_each(|_| async {}));
    let names = |r: &reflector::Store<ConfigMap>| {
        let mut n: Vec<String> = r.state().iter().filter_map(|c| c.metadata.name.clone()).collect();
        n.sort();
        n
    };
    wait_for("initial list", || names(&reader) == ["before"]).await;
    api.create(&PostParams::default(), &cm("a", "1")).await.expect("create a");
    api.create(&PostParams::default(), &cm("b", "1")).await.expect("create b");
    let mut a = api.get("a").await.expect("get a");
    a.data = Some(BTreeMap::from([("v".to_string(), "2".to_string())]));
    api.replace("a", &PostParams::default(), &a).await.expect("replace a");
    api.delete("before", &Default::default()).await.expect("delete");
    wait_for("every change", || {
        names(&reader) == ["a", "b"]
            && reader.state().iter().any(|c| c.metadata.name.as_deref() == Some("a") && c.data.as_ref().and_then(|d| d.get("v")).map(String::as_str) == Some("2"))
    })
    .await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_cache_follows_every_change_with_list_then_watch() {
    reflector_follows_changes(watcher::Config::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_cache_follows_every_change_with_streaming_lists() {
    reflector_follows_changes(watcher::Config::default().streaming_lists()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_update_conflicts_and_a_retry_on_the_latest_version_succeeds() {
    let w = tokio::task::spawn_blocking(Wharf::start).await.expect("start");
    let api: Api<ConfigMap> = Api::namespaced(client(&w).await, "default");
    api.create(&PostParams::default(), &cm("c", "0")).await.expect("create");
    let stale = api.get("c").await.expect("get");
    let mut fresh = stale.clone();
    fresh.data = Some(BTreeMap::from([("v".to_string(), "1".to_string())]));
    api.replace("c", &PostParams::default(), &fresh).await.expect("first writer wins");
    let mut late = stale.clone();
    late.data = Some(BTreeMap::from([("v".to_string(), "late".to_string())]));
    match api.replace("c", &PostParams::default(), &late).await {
        Err(kube::Error::Api(e)) => assert_eq!((e.code, e.reason.as_str()), (409, "Conflict")),
        other => panic!("expected a 409 conflict, got {other:?}"),
    }
    // The usual retry: re-read, re-apply the change, write again.
    let mut latest = api.get("c").await.expect("get latest");
    latest.data.get_or_insert_with(BTreeMap::new).insert("v".into(), "late".into());
    api.replace("c", &PostParams::default(), &latest).await.expect("retry succeeds");
    let list = api.list(&ListParams::default().labels("")).await.expect("list");
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].data.as_ref().and_then(|d| d.get("v")).map(String::as_str), Some("late"));
}
