//! Events end to end: kube-rs's `events::Recorder` writes events.k8s.io/v1 Events, which the
//! real kubectl reads through core/v1 (`describe`, `get events`, `events`), and core/v1 Events
//! are served through events.k8s.io/v1 — one stored resource, two versions.

mod common;

use common::Wharf;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use k8s_openapi::api::events::v1::Event as NewEvent;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Config, Resource};
use std::time::Duration;

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: nginx:1.27
"#;

const LEGACY_EVENT: &str = r#"
apiVersion: v1
kind: Event
metadata:
  name: web.legacy
involvedObject:
  apiVersion: v1
  kind: Pod
  name: web
  namespace: default
reason: Pulled
message: Legacy kubelet pulled the image
type: Normal
source:
  component: kubelet
  host: node-1
firstTimestamp: "2026-01-02T03:04:05Z"
lastTimestamp: "2026-01-02T03:04:05Z"
count: 1
"#;

async fn client(w: &Wharf) -> Client {
    let kc = Kubeconfig::read_from(w.kubeconfig()).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.expect("config");
    Client::try_from(config).expect("client")
}

fn scheduled() -> Event {
    Event {
        type_: EventType::Normal,
        reason: "Scheduled".into(),
        note: Some("Successfully assigned default/web to node-1".into()),
        action: "Binding".into(),
        secondary: None,
    }
}

/// Starts wharf, creates pod `web` and publishes one Recorder event about it.
async fn cluster_with_recorded_event() -> (Wharf, Client, Pod) {
    let w = tokio::task::spawn_blocking(Wharf::start).await.expect("start");
    let w = tokio::task::spawn_blocking(move || {
        w.ok_stdin(&["apply", "-f", "-"], POD);
        w
    })
    .await
    .expect("pod");
    let c = client(&w).await;
    let pod = Api::<Pod>::namespaced(c.clone(), "default").get("web").await.expect("get pod");
    let recorder = Recorder::new(c.clone(), Reporter { controller: "wharf-scheduler".into(), instance: Some("cp-0".into()) });
    recorder.publish(&scheduled(), &pod.object_ref(&())).await.expect("publish");
    (w, c, pod)
}

async fn kubectl(w: &Wharf, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let kubeconfig = w.kubeconfig();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = common::kubectl_with(&kubeconfig, &refs, None);
        assert!(out.status.success(), "kubectl {refs:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .expect("kubectl")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_describe_pod_shows_events_a_kube_rs_recorder_wrote() {
    let (w, _c, _pod) = cluster_with_recorded_event().await;
    let out = kubectl(&w, &["describe", "pod", "web"]).await;
    let events = out.split("Events:").nth(1).unwrap_or_default();
    let row = events.lines().find(|l| l.contains("Scheduled")).unwrap_or_else(|| panic!("no Scheduled event in describe:\n{out}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[0], "Normal", "{row}");
    assert!(row.contains("wharf-scheduler") && row.contains("Successfully assigned default/web to node-1"), "{row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_events_and_kubectl_events_list_events_of_both_apis() {
    let (w, _c, _pod) = cluster_with_recorded_event().await;
    let kc = w.kubeconfig();
    tokio::task::spawn_blocking(move || {
        let out = common::kubectl_with(&kc, &["apply", "-f", "-"], Some(LEGACY_EVENT));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    })
    .await
    .expect("legacy event");
    for args in [&["get", "events"][..], &["get", "events.v1.events.k8s.io"][..], &["events"][..]] {
        let out = kubectl(&w, args).await;
        // `kubectl get` prints the object as `pod/web`, `kubectl events` as `Pod/web`.
        assert!(out.contains("Scheduled") && out.to_lowercase().contains("pod/web"), "kubectl {args:?}:\n{out}");
        assert!(out.contains("Pulled") && out.contains("Legacy kubelet pulled the image"), "kubectl {args:?}:\n{out}");
    }
    let wide = kubectl(&w, &["get", "events", "-o", "wide", "--field-selector", "reason=Scheduled"]).await;
    assert!(wide.contains("wharf-scheduler, cp-0") && !wide.contains("Pulled"), "{wide}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_recorder_event_becomes_a_series_visible_through_core_v1() {
    let (_w, c, pod) = cluster_with_recorded_event().await;
    // The Recorder patches the cached event with a series on the second publish.
    let recorder = Recorder::new(c.clone(), Reporter { controller: "wharf-scheduler".into(), instance: Some("cp-0".into()) });
    recorder.publish(&scheduled(), &pod.object_ref(&())).await.expect("first");
    recorder.publish(&scheduled(), &pod.object_ref(&())).await.expect("second (series patch)");
    let core: Api<CoreEvent> = Api::namespaced(c.clone(), "default");
    let lp = ListParams::default().fields("involvedObject.name=web,involvedObject.kind=Pod,reason=Scheduled");
    let listed = core.list(&lp).await.expect("core list");
    let series: Vec<i32> = listed.items.iter().filter_map(|e| e.series.as_ref().and_then(|s| s.count)).collect();
    assert_eq!(series, [2], "{:#?}", listed.items);
    for e in &listed.items {
        assert_eq!(e.reporting_component.as_deref(), Some("wharf-scheduler"));
        assert_eq!(e.involved_object.uid, pod.metadata.uid);
    }
    let new: Api<NewEvent> = Api::namespaced(c, "default");
    let by_regarding = new.list(&ListParams::default().fields("regarding.name=web,reportingController=wharf-scheduler")).await.expect("new list");
    assert_eq!(by_regarding.items.len(), 2, "{:#?}", by_regarding.items);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_of_each_api_deliver_events_written_through_the_other_converted() {
    let w = tokio::task::spawn_blocking(Wharf::start).await.expect("start");
    let c = client(&w).await;
    let core: Api<CoreEvent> = Api::namespaced(c.clone(), "default");
    let new: Api<NewEvent> = Api::namespaced(c.clone(), "default");
    let rv = core.list(&ListParams::default()).await.expect("list").metadata.resource_version.unwrap_or_default();
    let mut core_watch = core.watch(&WatchParams::default().fields("involvedObject.name=web").timeout(30), &rv).await.expect("core watch").boxed();
    let mut new_watch = new.watch(&WatchParams::default().fields("regarding.name=web").timeout(30), &rv).await.expect("new watch").boxed();
    let pod: Pod = unstored_pod();
    let recorder = Recorder::new(c.clone(), Reporter { controller: "wharf-scheduler".into(), instance: None });
    recorder.publish(&scheduled(), &pod.object_ref(&())).await.expect("publish");
    let kc = w.kubeconfig();
    tokio::task::spawn_blocking(move || {
        let out = common::kubectl_with(&kc, &["apply", "-f", "-"], Some(LEGACY_EVENT));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    })
    .await
    .expect("legacy event");
    let mut core_seen = Vec::new();
    while core_seen.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(15), core_watch.next()).await.expect("core watch event") {
            Some(Ok(WatchEvent::Added(e))) => core_seen.push((e.reason.unwrap_or_default(), e.message.unwrap_or_default(), e.reporting_component.unwrap_or_default())),
            Some(Ok(WatchEvent::Bookmark(_))) => {}
            other => panic!("unexpected core watch item {other:?}"),
        }
    }
    core_seen.sort();
    assert_eq!(core_seen[0], ("Pulled".into(), "Legacy kubelet pulled the image".into(), String::new()));
    assert_eq!(core_seen[1], ("Scheduled".into(), "Successfully assigned default/web to node-1".into(), "wharf-scheduler".into()));
    let mut new_seen = Vec::new();
    while new_seen.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(15), new_watch.next()).await.expect("new watch event") {
            Some(Ok(WatchEvent::Added(e))) => new_seen.push((e.reason.unwrap_or_default(), e.note.unwrap_or_default(), e.deprecated_source.and_then(|s| s.component).unwrap_or_default())),
            Some(Ok(WatchEvent::Bookmark(_))) => {}
            other => panic!("unexpected events.k8s.io watch item {other:?}"),
        }
    }
    new_seen.sort();
    assert_eq!(new_seen[0], ("Pulled".into(), "Legacy kubelet pulled the image".into(), "kubelet".into()));
    assert_eq!(new_seen[1], ("Scheduled".into(), "Successfully assigned default/web to node-1".into(), String::new()));
}

/// A reference target for the Recorder without creating the pod (events may name any object).
fn unstored_pod() -> Pod {
    let mut p = Pod::default();
    p.metadata.name = Some("web".into());
    p.metadata.namespace = Some("default".into());
    p.metadata.uid = Some("uid-web".into());
    p
}
