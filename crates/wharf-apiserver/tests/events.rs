//! core/v1 and events.k8s.io/v1 Events are one stored resource served in two versions:
//! writes through either API are read, selected, updated and deleted through the other.

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use wharf_api::selector::FieldSelector;
use wharf_apiserver::error::ApiError;
use wharf_apiserver::registry::{DeleteOptions, ListOptions, ReadAt, Served, WriteOptions};
use wharf_apiserver::{ControlPlane, ControlPlaneConfig};
use wharf_store::{sqlite::SqliteStore, KvStore};

struct Cluster {
    cp: Option<ControlPlane>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let store: Arc<dyn KvStore> = Arc::new(SqliteStore::open(&dir.path().join("store")).expect("store"));
        let cp = ControlPlane::start(ControlPlaneConfig {
            name: "events".into(),
            state_dir: dir.path().join("events"),
            listen: "127.0.0.1:0".parse().expect("addr"),
            store,
            service_cidr: ([10, 100, 0, 0], 16),
            compaction_interval: Duration::from_secs(300),
            mounts: Vec::new(),
        })
        .await
        .expect("start control plane");
        Self { cp: Some(cp), _dir: dir }
    }

    fn cp(&self) -> &ControlPlane {
        self.cp.as_ref().expect("running")
    }

    fn core(&self) -> Arc<Served> {
        self.cp().registry.lookup("", "v1", "events").expect("core events")
    }

    fn new_api(&self) -> Arc<Served> {
        self.cp().registry.lookup("events.k8s.io", "v1", "events").expect("events.k8s.io events")
    }

    async fn create(&self, s: &Served, obj: Value) -> Result<Value, ApiError> {
        self.cp().registry.create(s, Some("default"), obj, &WriteOptions::default()).await
    }

    async fn get(&self, s: &Served, name: &str) -> Result<Value, ApiError> {
        self.cp().registry.get(s, Some("default"), name, ReadAt::Latest).await?.value()
    }

    async fn names(&self, s: &Served, selector: &str) -> Result<Vec<String>, ApiError> {
        let opts = ListOptions {
            labels: Default::default(),
            fields: FieldSelector::parse(selector).expect("selector"),
            limit: 0,
            continue_token: None,
            at: ReadAt::Latest,
        };
        let r = self.cp().registry.list(s, Some("default"), &opts).await?;
        let mut names: Vec<String> = r.items.iter().map(|o| o.value().expect("json")["metadata"]["name"].as_str().unwrap_or_default().to_string()).collect();
        names.sort();
        Ok(names)
    }

    async fn stop(mut self) {
        if let Some(cp) = self.cp.take() {
            cp.shutdown().await;
        }
    }
}

/// What kube-rs's `events::Recorder` sends.
fn recorder_event(name: &str, pod: &str) -> Value {
    json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "eventTime": "2026-01-02T03:04:05.000006Z",
        "reportingController": "wharf.dev/scheduler", "reportingInstance": "scheduler-0",
        "action": "Binding", "reason": "Scheduled", "type": "Normal",
        "regarding": {"apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": "default", "uid": format!("uid-{pod}")},
        "note": format!("Successfully assigned default/{pod} to node-1")
    })
}

/// What kubelet-era clients (and `kubectl create`) send to core/v1.
fn legacy_event(name: &str, pod: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": "default"},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": "default", "uid": format!("uid-{pod}")},
        "reason": "Pulled", "message": "Successfully pulled image", "type": "Normal",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2026-01-02T03:04:05Z", "lastTimestamp": "2026-01-02T03:04:06Z", "count": 2
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_written_through_events_k8s_io_is_read_through_core_v1_converted() {
    let c = Cluster::start().await;
    let created = c.create(&c.new_api(), recorder_event("web.1", "web")).await.expect("create");
    assert_eq!(created["apiVersion"], "events.k8s.io/v1");
    assert_eq!(created["note"], "Successfully assigned default/web to node-1");
    let core = c.get(&c.core(), "web.1").await.expect("core get");
    assert_eq!(core["apiVersion"], "v1");
    assert_eq!(core["involvedObject"]["uid"], "uid-web");
    assert_eq!(core["message"], "Successfully assigned default/web to node-1");
    assert_eq!(core["reportingComponent"], "wharf.dev/scheduler");
    assert_eq!(core["reportingInstance"], "scheduler-0");
    assert_eq!(core["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
    assert_eq!(core["metadata"]["uid"], created["metadata"]["uid"]);
    assert!(core.get("regarding").is_none() && core.get("note").is_none(), "{core:#}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_core_event_is_read_through_events_k8s_io_with_deprecated_fields() {
    let c = Cluster::start().await;
    c.create(&c.core(), legacy_event("web.2", "web")).await.expect("create");
    let ev = c.get(&c.new_api(), "web.2").await.expect("get");
    assert_eq!(ev["apiVersion"], "events.k8s.io/v1");
    assert_eq!(ev["regarding"]["name"], "web");
    assert_eq!(ev["note"], "Successfully pulled image");
    assert_eq!(ev["deprecatedSource"], json!({"component": "kubelet", "host": "node-1"}));
    assert_eq!(ev["deprecatedFirstTimestamp"], "2026-01-02T03:04:05Z");
    assert_eq!(ev["deprecatedLastTimestamp"], "2026-01-02T03:04:06Z");
    assert_eq!(ev["deprecatedCount"], 2);
    assert!(ev.get("involvedObject").is_none() && ev.get("message").is_none(), "{ev:#}");
    // One object, listed once by each API.
    assert_eq!(c.names(&c.core(), "").await.expect("core list"), ["web.2"]);
    assert_eq!(c.names(&c.new_api(), "").await.expect("new list"), ["web.2"]);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_selectors_of_each_version_select_events_written_through_either() {
    let c = Cluster::start().await;
    c.create(&c.new_api(), recorder_event("web.new", "web")).await.expect("new");
    c.create(&c.core(), legacy_event("web.old", "web")).await.expect("old");
    c.create(&c.core(), legacy_event("db.old", "db")).await.expect("old db");
    let (core, new) = (c.core(), c.new_api());
    assert_eq!(c.names(&core, "involvedObject.name=web").await.expect("core"), ["web.new", "web.old"]);
    assert_eq!(
        c.names(&core, "involvedObject.name=web,involvedObject.namespace=default,involvedObject.kind=Pod,involvedObject.uid=uid-web").await.expect("describe's selector"),
        ["web.new", "web.old"]
    );
    assert_eq!(c.names(&new, "regarding.name=web").await.expect("new"), ["web.new", "web.old"]);
    assert_eq!(c.names(&new, "regarding.uid=uid-db").await.expect("new uid"), ["db.old"]);
    assert_eq!(c.names(&new, "reportingController=wharf.dev/scheduler").await.expect("controller"), ["web.new"]);
    assert_eq!(c.names(&core, "reportingComponent=wharf.dev/scheduler").await.expect("component"), ["web.new"]);
    assert_eq!(c.names(&core, "reason=Pulled,type=Normal").await.expect("reason"), ["db.old", "web.old"]);
    assert_eq!(c.names(&new, "reason!=Pulled").await.expect("not reason"), ["web.new"]);
    // `source` is the source component, or the reporting controller when there is none.
    assert_eq!(c.names(&core, "source=kubelet").await.expect("source"), ["db.old", "web.old"]);
    assert_eq!(c.names(&core, "source=wharf.dev/scheduler").await.expect("source fallback"), ["web.new"]);
    assert_eq!(c.names(&new, "source=kubelet").await.expect("new source"), ["db.old", "web.old"]);
    // Each version accepts only its own labels.
    for (s, label) in [(&core, "regarding.name=web"), (&new, "involvedObject.name=web"), (&new, "reportingComponent=x")] {
        match c.names(s, label).await {
            Err(ApiError::BadRequest(m)) => assert!(m.contains("field label not supported"), "{m}"),
            other => panic!("{label} on {}: {other:?}", s.info.group),
        }
    }
    c.stop().await;
}

fn invalid_fields(r: Result<Value, ApiError>) -> Vec<String> {
    match r {
        Err(ApiError::Invalid { errors, .. }) => {
            let mut f: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
            f.sort();
            f
        }
        other => panic!("expected 422 Invalid, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_k8s_io_validates_strictly_and_core_v1_stays_lenient() {
    let c = Cluster::start().await;
    let mut untimed = recorder_event("untimed", "web");
    untimed.as_object_mut().expect("object").remove("eventTime");
    assert_eq!(invalid_fields(c.create(&c.new_api(), untimed).await), ["eventTime"]);
    let mut anonymous = recorder_event("anonymous", "web");
    for f in ["action", "reportingController", "reportingInstance"] {
        anonymous.as_object_mut().expect("object").remove(f);
    }
    // As upstream: an empty reportingController is both required and not a qualified name.
    assert_eq!(invalid_fields(c.create(&c.new_api(), anonymous).await), ["action", "reportingController", "reportingController", "reportingInstance"]);
    let mut deprecated = recorder_event("deprecated", "web");
    deprecated["deprecatedCount"] = json!(3);
    deprecated["deprecatedSource"] = json!({"component": "kubelet"});
    deprecated["type"] = json!("Odd");
    assert_eq!(invalid_fields(c.create(&c.new_api(), deprecated).await), ["count", "source", "type"]);
    // The same legacy shape is fine through core/v1, and a new-style event without
    // eventTime needs no reporting fields there.
    c.create(&c.core(), legacy_event("legacy", "web")).await.expect("legacy create");
    // An event with eventTime needs the reporting fields through either API.
    let mut timed = legacy_event("timed", "web");
    timed["eventTime"] = json!("2026-01-02T03:04:05.000006Z");
    assert_eq!(invalid_fields(c.create(&c.core(), timed).await), ["action", "reportingComponent", "reportingComponent", "reportingInstance"]);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_through_events_k8s_io_keep_immutable_fields_and_reach_core_readers() {
    let c = Cluster::start().await;
    let (core, new) = (c.core(), c.new_api());
    let reg = &c.cp().registry;
    c.create(&new, recorder_event("web.3", "web")).await.expect("create");
    // A series update, as kube-rs's Recorder sends for a repeated event.
    let updated = reg
        .guaranteed_update(&new, Some("default"), "web.3", None, &WriteOptions::default(), |old| {
            let mut v = old.clone();
            v["series"] = json!({"count": 2, "lastObservedTime": "2026-01-02T03:05:05.000006Z"});
            Ok(v)
        }, wharf_apiserver::strategy::Part::Main)
        .await
        .expect("series update");
    assert_eq!(updated["series"]["count"], 2);
    assert_eq!(c.get(&core, "web.3").await.expect("core")["series"]["count"], 2);
    let changed_note = reg
        .guaranteed_update(&new, Some("default"), "web.3", None, &WriteOptions::default(), |old| {
            let mut v = old.clone();
            v["note"] = json!("something else");
            Ok(v)
        }, wharf_apiserver::strategy::Part::Main)
        .await;
    assert_eq!(invalid_fields(changed_note), ["message"]);
    // core/v1 keeps legacy semantics: the message may change there.
    let via_core = reg
        .guaranteed_update(&core, Some("default"), "web.3", None, &WriteOptions::default(), |old| {
            let mut v = old.clone();
            v["message"] = json!("edited through core");
            Ok(v)
        }, wharf_apiserver::strategy::Part::Main)
        .await
        .expect("core update");
    assert_eq!(via_core["message"], "edited through core");
    assert_eq!(c.get(&new, "web.3").await.expect("new")["note"], "edited through core");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_without_regarding_is_served_to_core_v1_with_an_involved_object_and_stays_updatable() {
    let c = Cluster::start().await;
    let (core, new) = (c.core(), c.new_api());
    let mut ev = recorder_event("loose", "web");
    ev.as_object_mut().expect("object").remove("regarding");
    let created = c.create(&new, ev.clone()).await.expect("create");
    assert_eq!(created["regarding"], json!({}));
    assert_eq!(c.get(&core, "loose").await.expect("core")["involvedObject"], json!({}));
    // A replace that again leaves `regarding` out changes nothing immutable.
    ev["metadata"]["labels"] = json!({"seen": "yes"});
    let updated = c.cp().registry.update(&new, Some("default"), "loose", ev, wharf_apiserver::strategy::Part::Main, &WriteOptions::default()).await.expect("update");
    assert_eq!(updated["metadata"]["labels"]["seen"], "yes");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_through_either_api_removes_the_one_stored_event() {
    let c = Cluster::start().await;
    let (core, new) = (c.core(), c.new_api());
    c.create(&core, legacy_event("a", "web")).await.expect("a");
    c.create(&new, recorder_event("b", "web")).await.expect("b");
    let gone = c.cp().registry.delete(&new, Some("default"), "a", &DeleteOptions::default()).await.expect("delete a");
    assert_eq!(gone["apiVersion"], "events.k8s.io/v1");
    assert_eq!(gone["note"], "Successfully pulled image");
    c.cp().registry.delete(&core, Some("default"), "b", &DeleteOptions::default()).await.expect("delete b");
    for s in [&core, &new] {
        assert!(matches!(c.get(s, "a").await, Err(ApiError::NotFound { .. })));
        assert!(matches!(c.get(s, "b").await, Err(ApiError::NotFound { .. })));
    }
    // Creating the same name through the other API now conflicts with the stored object.
    c.create(&new, recorder_event("c", "web")).await.expect("c");
    assert!(matches!(c.create(&core, legacy_event("c", "web")).await, Err(ApiError::AlreadyExists { .. })));
    c.stop().await;
}
