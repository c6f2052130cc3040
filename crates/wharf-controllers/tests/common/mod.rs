//! An in-process control plane with the controllers running against it over HTTPS, plus a
//! stand-in kubelet (tests play the node by patching pod status).
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, ResourceExt};
use serde_json::json;
use wharf_apiserver::{ControlPlane, ControlPlaneConfig};
use wharf_controllers::ControllersConfig;
use wharf_store::{sqlite::SqliteStore, KvStore, Prefixed};

pub struct Env {
    pub client: Client,
    cp: Option<ControlPlane>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    kubelets: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Env {
    pub async fn start(cfg: ControllersConfig) -> Env {
        let dir = tempfile::tempdir().expect("tmp");
        let base: Arc<dyn KvStore> =
            Arc::new(SqliteStore::open(&dir.path().join("store")).expect("store"));
        let cp = ControlPlane::start(ControlPlaneConfig {
            name: "test".into(),
            state_dir: dir.path().join("test"),
            listen: "127.0.0.1:0".parse().expect("addr"),
            store: Arc::new(Prefixed::new(base, "/clusters/test")),
            service_cidr: ([10, 100, 0, 0], 16),
            compaction_interval: Duration::from_secs(300),
            mounts: Vec::new(),
        })
        .await
        .expect("start control plane");
        let kc = Kubeconfig::from_yaml(&cp.kubeconfig()).expect("kubeconfig");
        let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .expect("config");
        let client = Client::try_from(config).expect("client");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let c = client.clone();
        let task = tokio::spawn(async move {
            wharf_controllers::run(c, cfg, async move {
                let _ = rx.await;
            })
            .await
        });
        Env {
            client,
            cp: Some(cp),
            stop: Some(tx),
            task: Some(task),
            kubelets: Vec::new(),
            _dir: dir,
        }
    }

    /// Starts a stand-in kubelet: every pod in `ns` whose name passes `filter` becomes Running and
    /// Ready `delay` after it is first seen.
    pub fn kubelet(&mut self, ns: &str, delay: Duration) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        self.kubelets.push(tokio::spawn(async move {
            let mut seen: std::collections::HashMap<String, tokio::time::Instant> =
                Default::default();
            loop {
                if let Ok(list) = api.list(&ListParams::default()).await {
                    for p in list {
                        if wharf_controllers::util::pod_is_ready(&p)
                            || p.metadata.deletion_timestamp.is_some()
                        {
                            continue;
                        }
                        let first = *seen
                            .entry(p.uid().unwrap_or_default())
                            .or_insert_with(tokio::time::Instant::now);
                        if first.elapsed() >= delay {
                            let _ = mark_ready(&api, &p.name_any()).await;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        }));
    }

    /// Starts a stand-in kubelet that moves every pod in `ns` that has not finished to `phase`.
    pub fn finishing_kubelet(&mut self, ns: &str, phase: &'static str) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        self.kubelets.push(tokio::spawn(async move {
            loop {
                if let Ok(list) = api.list(&ListParams::default()).await {
                    for p in list {
                        let ph = p
                            .status
                            .as_ref()
                            .and_then(|s| s.phase.clone())
                            .unwrap_or_default();
                        if ph != "Succeeded"
                            && ph != "Failed"
                            && p.metadata.deletion_timestamp.is_none()
                        {
                            let _ = mark_phase(&api, &p.name_any(), phase).await;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        }));
    }

    pub fn stop_kubelets(&mut self) {
        for k in self.kubelets.drain(..) {
            k.abort();
        }
    }

    pub async fn shutdown(mut self) {
        self.stop_kubelets();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        if let Some(cp) = self.cp.take() {
            cp.shutdown().await;
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for k in self.kubelets.drain(..) {
            k.abort();
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

pub async fn mark_ready(api: &Api<Pod>, name: &str) -> kube::Result<Pod> {
    let now = k8s_openapi::chrono::Utc::now()
        .to_rfc3339_opts(k8s_openapi::chrono::SecondsFormat::Secs, true);
    let patch = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now},
        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}
    ]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
}

pub async fn mark_phase(api: &Api<Pod>, name: &str, phase: &str) -> kube::Result<Pod> {
    let patch =
        json!({"status": {"phase": phase, "conditions": [{"type": "Ready", "status": "False"}]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
}

/// Polls `f` until it returns `Some` or `secs` pass (then panics with `what`).
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn only(names: &[&str]) -> ControllersConfig {
    ControllersConfig {
        enabled: names.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

pub fn container() -> serde_json::Value {
    json!([{"name": "app", "image": "nginx:1.27"}])
}
