//! `wharf-agent` owns the node agent (the kubelet's core): registering this machine as a Node
//! (capacity from the agent's budget, labels, conditions, node info) and renewing its Lease in
//! `kube-node-lease`; running the pods bound to it — pod sandbox, image pulls with pull policy and
//! back-off, init containers, restartable init containers (sidecars) and containers with their
//! command/args/env merged with the image config, resources as cgroups, restart policy with
//! CrashLoopBackOff, graceful termination with preStop hooks; pod volumes (emptyDir, configMap,
//! secret, downwardAPI, projected, hostPath) with kubelet-style atomic `..data` updates; liveness,
//! readiness and startup probes (exec, HTTP GET, TCP inside the pod's network namespace); pod status
//! as the kubelet reports it; re-adoption of running containers after an agent restart; and
//! per-pod/per-container CPU and memory statistics for a metrics API; the kubelet's HTTPS API
//! (container logs, exec, attach, port-forward, served by `wharf-kubelet-api` over this agent's
//! pods) and the files the kubelet manages in every container (`/etc/hosts`, `/etc/hostname`,
//! `/etc/resolv.conf`).
//!
//! It talks to the Kubernetes API only through the `kube::Client` it is given, and to containers only
//! through `wharf-container` (shims, sandboxes) and `wharf-image` (pulls, root filesystems).
//!
//! Entry point: [`run`] (or [`Agent::new`] + [`Agent::run`] to keep a handle for [`Agent::stats`]).

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod config;
mod envs;
mod error;
mod kubelet_server;
mod netns;
mod node;
mod pod;
mod podfiles;
mod probes;
mod state;
pub mod stats;
mod volumes;

pub use config::{AgentConfig, PodNetworkHandle};
pub use error::{Error, Result};
pub use podfiles::DnsSettings;
pub use stats::{ContainerStats, PodStats};

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use tokio::sync::watch;
use wharf_image::{ClientConfig, ImageStore, Platform, PullBackoff, RegistryClient};

/// How long shutdown waits for pod workers before sweeping what is left.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(12);

/// Runs the node agent until `stop` turns true.
pub async fn run(client: kube::Client, cfg: AgentConfig, stop: watch::Receiver<bool>) -> Result<()> {
    Agent::new(client, cfg)?.run(stop).await
}

/// A node agent; cheap to clone.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub client: kube::Client,
    pub cfg: AgentConfig,
    pub images: ImageStore,
    pub pull_backoff: std::sync::Mutex<PullBackoff>,
    pub runtime: wharf_container::RuntimeConfig,
    pub stats: RwLock<HashMap<String, PodStats>>,
    /// The pods bound to this node, for the kubelet API.
    pub pods: kubelet_server::PodIndex,
    /// The kubelet API's listener, bound by [`Agent::new`] and served by [`Agent::run`].
    pub kubelet_listener: std::sync::Mutex<Option<std::net::TcpListener>>,
    /// The cluster DNS settings written into pods' `/etc/resolv.conf`.
    pub dns: DnsSettings,
}

impl Inner {
    pub fn shim_root(&self) -> std::path::PathBuf {
        self.cfg.root_dir.join("shims")
    }
    pub fn pods_root(&self) -> std::path::PathBuf {
        self.cfg.root_dir.join("pods")
    }
    pub fn sandbox_dir(&self, uid: &str) -> std::path::PathBuf {
        self.cfg.root_dir.join("sandboxes").join(uid)
    }
}

struct Worker {
    tx: watch::Sender<Option<Pod>>,
    task: tokio::task::JoinHandle<()>,
}

impl Agent {
    /// Opens the agent's state (image store, runtime root) under `cfg.root_dir` and, with a
    /// serving certificate, binds the kubelet API's port (`cfg.kubelet_port` 0 picks a free one;
    /// see [`Agent::kubelet_port`]).
    pub fn new(client: kube::Client, mut cfg: AgentConfig) -> Result<Agent> {
        std::fs::create_dir_all(&cfg.root_dir).map_err(|e| Error::io("create", &cfg.root_dir, e))?;
        let kubelet_listener = match cfg.serving_cert {
            Some(_) => {
                let addr = format!("{}:{}", cfg.node_ip, cfg.kubelet_port);
                let l = match &cfg.netns {
                    Some(netns) => {
                        let sock: std::net::SocketAddr = addr.parse().map_err(|e| Error::Listen { addr: addr.clone(), source: std::io::Error::other(format!("{e}")) })?;
                        wharf_net::bind_tcp_in(netns, sock).map_err(|e| Error::Listen { addr: addr.clone(), source: std::io::Error::other(e.to_string()) })?
                    }
                    None => std::net::TcpListener::bind(&addr).map_err(|source| Error::Listen { addr: addr.clone(), source })?,
                };
                l.set_nonblocking(true).map_err(|source| Error::Listen { addr: addr.clone(), source })?;
                cfg.kubelet_port = l.local_addr().map_err(|source| Error::Listen { addr, source })?.port();
                Some(l)
            }
            None => None,
        };
        let host_resolv_conf = std::fs::read_to_string(&cfg.host_resolv_conf).unwrap_or_default();
        let dns = DnsSettings { cluster_dns: cfg.cluster_dns.clone(), cluster_domain: cfg.cluster_domain.clone(), host_resolv_conf };
        let registry = RegistryClient::new(ClientConfig {
            insecure_registries: cfg.insecure_registries.clone(),
            extra_ca_pem: cfg.registry_ca_pem.clone(),
            ..ClientConfig::default()
        })?;
        let images = ImageStore::open(cfg.root_dir.join("images"), registry, Platform::host())?;
        let runtime = wharf_container::RuntimeConfig::new(cfg.runtime, cfg.root_dir.join("runtime"));
        Ok(Agent {
            inner: Arc::new(Inner {
                client,
                cfg,
                images,
                pull_backoff: std::sync::Mutex::new(PullBackoff::default()),
                runtime,
                stats: RwLock::new(HashMap::new()),
                pods: kubelet_server::PodIndex::default(),
                kubelet_listener: std::sync::Mutex::new(kubelet_listener),
                dns,
            }),
        })
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.inner.cfg.node_name
    }

    /// The port the kubelet API listens on (advertised in the Node's status).
    pub fn kubelet_port(&self) -> u16 {
        self.inner.cfg.kubelet_port
    }

    /// Latest CPU/memory statistics of every pod on this node (refreshed about every 10 s).
    pub fn stats(&self) -> Vec<PodStats> {
        self.inner.stats.read().map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    /// Registers the node and runs its pods until `stop` turns true.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) -> Result<()> {
        let inner = self.inner.clone();
        wharf_container::cgroups::ensure(&inner.cfg.cgroup_parent, &inner.cfg.cgroup_budget())?;
        let (api_stop, api_stop_rx) = watch::channel(false);
        let api = Self::start_kubelet_api(&inner, api_stop_rx)?;
        node::register(&inner).await?;
        tracing::info!(node = %inner.cfg.node_name, "node registered");
        let heartbeat = tokio::spawn(node::heartbeat(inner.clone()));

        let pods: Api<Pod> = Api::all(inner.client.clone());
        let wcfg = watcher::Config::default().fields(&format!("spec.nodeName={}", inner.cfg.node_name));
        let mut stream = watcher(pods, wcfg).default_backoff().boxed();
        let mut workers: HashMap<String, Worker> = HashMap::new();
        let mut listing: Option<Vec<Pod>> = None;
        let mut cleaned = false;
        let (wstop_tx, wstop_rx) = watch::channel(false);
        loop {
            let ev = tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                ev = stream.next() => ev,
            };
            let Some(ev) = ev else { break };
            let ev = match ev {
                Ok(ev) => ev,
                Err(e) => {
                    tracing::debug!(error = %e, "pod watch");
                    continue;
                }
            };
            match ev {
                Event::Init => listing = Some(Vec::new()),
                Event::InitApply(p) => {
                    if let Some(l) = listing.as_mut() {
                        l.push(p);
                    }
                }
                Event::InitDone => {
                    let all = listing.take().unwrap_or_default();
                    inner.pods.reset(&all);
                    let live: std::collections::HashSet<String> = all.iter().filter_map(|p| p.metadata.uid.clone()).collect();
                    // Pods gone while we were not watching: tear them down.
                    for (uid, w) in workers.iter() {
                        if !live.contains(uid) {
                            let _ = w.tx.send(None);
                        }
                    }
                    if !cleaned {
                        cleaned = true;
                        let inner2 = inner.clone();
                        let keep = all.clone();
                        let _ = tokio::task::spawn_blocking(move || state::cleanup_orphans(&inner2, &keep)).await;
                    }
                    for p in all {
                        Self::dispatch(&inner, &mut workers, p, &wstop_rx);
                    }
                }
                Event::Apply(p) => {
                    inner.pods.upsert(&p);
                    Self::dispatch(&inner, &mut workers, p, &wstop_rx)
                }
                Event::Delete(p) => {
                    inner.pods.remove(&p);
                    if let Some(w) = p.metadata.uid.as_ref().and_then(|u| workers.get(u)) {
                        let _ = w.tx.send(None);
                    }
                }
            }
            workers.retain(|_, w| !w.task.is_finished());
        }
        // Shutdown.
        let _ = wstop_tx.send(true);
        // Workers stop their pods within SHUTDOWN_GRACE; one still inside a long termination
        // (a deleted pod's full grace period) is cut short, and the sweep below removes what it
        // left, so stopping the agent never leaves a sandbox or container running.
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        for (_, mut w) in workers.drain() {
            if tokio::time::timeout_at(deadline, &mut w.task).await.is_err() {
                w.task.abort();
                let _ = w.task.await;
            }
        }
        if inner.cfg.stop_pods_on_shutdown {
            let inner2 = inner.clone();
            let _ = tokio::task::spawn_blocking(move || state::cleanup_orphans(&inner2, &[])).await;
        }
        heartbeat.abort();
        let _ = api_stop.send(true);
        if let Some(api) = api {
            let _ = api.await;
        }
        if inner.cfg.stop_pods_on_shutdown {
            // Every container is gone: the node's cgroup budget goes too.
            let parent = inner.cfg.cgroup_parent.clone();
            let removed = tokio::task::spawn_blocking(move || wharf_container::cgroups::remove(&parent)).await;
            if let Ok(Err(e)) = removed {
                tracing::warn!(node = %inner.cfg.node_name, error = %e, "removing the node cgroup");
            }
        }
        Ok(())
    }

    /// Starts serving the kubelet API on the listener bound by [`Agent::new`] (if any).
    fn start_kubelet_api(inner: &Arc<Inner>, stop: watch::Receiver<bool>) -> Result<Option<tokio::task::JoinHandle<()>>> {
        let listener = inner.kubelet_listener.lock().ok().and_then(|mut l| l.take());
        let (Some(listener), Some((cert, key))) = (listener, inner.cfg.serving_cert.as_ref()) else { return Ok(None) };
        let ca = inner.cfg.client_ca_pem.clone().ok_or_else(|| Error::Config("the kubelet api needs the client CA of the API server".into()))?;
        let tls = wharf_kubelet_api::server_config(&ca, cert, key)?;
        let addr = format!("{}:{}", inner.cfg.node_ip, inner.cfg.kubelet_port);
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|source| Error::Listen { addr: addr.clone(), source })?;
        let runtime = Arc::new(kubelet_server::AgentRuntime { inner: inner.clone() });
        tracing::info!(node = %inner.cfg.node_name, %addr, "kubelet api serving");
        Ok(Some(tokio::spawn(wharf_kubelet_api::serve(listener, tls, runtime, stop))))
    }

    fn dispatch(inner: &Arc<Inner>, workers: &mut HashMap<String, Worker>, p: Pod, stop: &watch::Receiver<bool>) {
        let Some(uid) = p.metadata.uid.clone() else { return };
        if let Some(w) = workers.get(&uid) {
            if !w.task.is_finished() {
                let _ = w.tx.send(Some(p));
                return;
            }
        }
        let terminal = matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded") | Some("Failed"));
        let started_here = inner.pods_root().join(&uid).exists();
        if terminal && !started_here && p.metadata.deletion_timestamp.is_none() {
            return;
        }
        let (tx, rx) = watch::channel(Some(p));
        let task = tokio::spawn(pod::worker(inner.clone(), uid.clone(), rx, stop.clone()));
        workers.insert(uid, Worker { tx, task });
    }
}
