//! The garbage collector (kube-controller-manager's `garbagecollector`): a graph of every object's
//! ownerReferences, fed by metadata-only list+watch of every listable, watchable, deletable
//! resource found by discovery (re-run every 30 s for new CRDs). Dependents whose owners are all
//! gone are deleted in the background; owners carrying the `foregroundDeletion` finalizer get
//! their blocking dependents deleted first and lose the finalizer when none remain; owners
//! carrying the `orphan` finalizer get their dependents' ownerReferences removed, then lose it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{
    DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy,
};
use kube::core::discovery::Scope;
use kube::discovery::{verbs, ApiResource, Discovery};
use kube::runtime::watcher::{self, metadata_watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use serde_json::json;
use tokio::sync::watch;

use crate::queue::{Requeue, WorkQueue};
use crate::util::{self, lock, read, write};
use crate::{Error, Result};

const FOREGROUND: &str = "foregroundDeletion";
const ORPHAN: &str = "orphan";

#[derive(Clone)]
struct Node {
    gvk: (String, String),
    namespace: Option<String>,
    name: String,
    owners: Vec<OwnerReference>,
    deleting: bool,
    finalizers: Vec<String>,
}

impl Node {
    fn has(&self, f: &str) -> bool {
        self.finalizers.iter().any(|x| x == f)
    }
    fn deleting_dependents(&self) -> bool {
        self.deleting && self.has(FOREGROUND)
    }
}

#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    /// Inserts or replaces a node; returns UIDs to process.
    fn upsert(&mut self, uid: String, n: Node) -> Vec<String> {
        let mut todo = Vec::new();
        let old = self.nodes.remove(&uid);
        if let Some(o) = &old {
            for r in &o.owners {
                if let Some(s) = self.dependents.get_mut(&r.uid) {
                    s.remove(&uid);
                    if s.is_empty() {
                        self.dependents.remove(&r.uid);
                    }
                }
            }
        }
        for r in &n.owners {
            self.dependents
                .entry(r.uid.clone())
                .or_default()
                .insert(uid.clone());
            match self.nodes.get(&r.uid) {
                // An owner not seen (yet, or any more) must be verified.
                None => todo.push(uid.clone()),
                Some(o) if o.deleting_dependents() => todo.push(uid.clone()),
                Some(_) => {}
            }
        }
        let started_deleting = n.deleting
            && old
                .as_ref()
                .is_none_or(|o| !o.deleting || o.finalizers != n.finalizers);
        if started_deleting && (n.has(FOREGROUND) || n.has(ORPHAN)) {
            todo.push(uid.clone());
        }
        // A dependent that started deleting may unblock an owner waiting in foreground.
        if n.deleting {
            for r in &n.owners {
                if self
                    .nodes
                    .get(&r.uid)
                    .is_some_and(|o| o.deleting_dependents())
                {
                    todo.push(r.uid.clone());
                }
            }
        }
        self.nodes.insert(uid, n);
        todo
    }

    /// Removes a node; returns UIDs to process (its dependents and owners waiting on it).
    fn remove(&mut self, uid: &str) -> Vec<String> {
        let mut todo = Vec::new();
        if let Some(o) = self.nodes.remove(uid) {
            for r in &o.owners {
                if let Some(s) = self.dependents.get_mut(&r.uid) {
                    s.remove(uid);
                    if s.is_empty() {
                        self.dependents.remove(&r.uid);
                    }
                }
                if self
                    .nodes
                    .get(&r.uid)
                    .is_some_and(|x| x.deleting_dependents())
                {
                    todo.push(r.uid.clone());
                }
            }
        }
        if let Some(deps) = self.dependents.get(uid) {
            todo.extend(deps.iter().cloned());
        }
        todo
    }
}

/// The garbage collector.
pub struct GarbageCollector {
    client: Client,
    workers: usize,
    graph: Mutex<Graph>,
    queue: Arc<WorkQueue>,
    resources: RwLock<HashMap<(String, String), (ApiResource, bool)>>,
    watched: Mutex<HashSet<(String, String)>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

fn node_of(ar: &ApiResource, m: &ObjectMeta) -> Option<(String, Node)> {
    let uid = m.uid.clone()?;
    Some((
        uid,
        Node {
            gvk: (ar.api_version.clone(), ar.kind.clone()),
            namespace: m.namespace.clone(),
            name: m.name.clone().unwrap_or_default(),
            owners: m.owner_references.clone().unwrap_or_default(),
            deleting: m.deletion_timestamp.is_some(),
            finalizers: m.finalizers.clone().unwrap_or_default(),
        },
    ))
}

impl GarbageCollector {
    /// A collector that will use `workers` concurrent workers.
    pub fn new(client: Client, workers: usize) -> Arc<Self> {
        Arc::new(Self {
            client,
            workers,
            graph: Mutex::default(),
            queue: WorkQueue::new(),
            resources: RwLock::default(),
            watched: Mutex::default(),
            tasks: Mutex::default(),
        })
    }

    /// Starts discovery, the graph builders and (once every initial list is in) the workers.
    pub fn start(self: Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let gc = self.clone();
        vec![tokio::spawn(async move { gc.main().await })]
    }

    /// Stops the workers and watches.
    pub fn shut_down(&self) {
        self.queue.shut_down();
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
    }

    async fn discover(self: &Arc<Self>) -> Result<Vec<watch::Receiver<bool>>> {
        let d = Discovery::new(self.client.clone())
            .run()
            .await
            .map_err(|e| Error::Discovery(e.to_string()))?;
        let mut synced = Vec::new();
        for g in d.groups() {
            for (ar, caps) in g.recommended_resources() {
                if ![verbs::LIST, verbs::WATCH, verbs::DELETE]
                    .iter()
                    .all(|v| caps.supports_operation(v))
                    || ar.plural == "events"
                {
                    continue;
                }
                let namespaced = matches!(caps.scope, Scope::Namespaced);
                let key = (ar.api_version.clone(), ar.kind.clone());
                write(&self.resources).insert(key.clone(), (ar.clone(), namespaced));
                if lock(&self.watched).insert(key) {
                    let (tx, rx) = watch::channel(false);
                    synced.push(rx);
                    let gc = self.clone();
                    let t = tokio::spawn(async move { gc.follow(ar, tx).await });
                    lock(&self.tasks).push(t);
                }
            }
        }
        Ok(synced)
    }

    async fn main(self: Arc<Self>) {
        let synced = loop {
            match self.discover().await {
                Ok(s) => break s,
                Err(e) => {
                    tracing::warn!(error = %e, "garbage collector discovery failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        for mut rx in synced {
            let _ = rx.wait_for(|s| *s).await;
        }
        let gc = self.clone();
        let workers = self
            .queue
            .spawn_workers("garbagecollector", self.workers, move |uid| {
                let gc = gc.clone();
                async move { gc.process(&uid).await }
            });
        lock(&self.tasks).extend(workers);
        // Everything already in the graph gets one look.
        let all: Vec<String> = {
            let g = lock(&self.graph);
            g.nodes
                .iter()
                .filter(|(_, n)| !n.owners.is_empty() || n.deleting)
                .map(|(u, _)| u.clone())
                .collect()
        };
        for u in all {
            self.queue.add(u);
        }
        loop {
            tokio::time::sleep(Duration::from_secs(30)).await;
            if let Err(e) = self.discover().await {
                tracing::debug!(error = %e, "garbage collector rediscovery failed");
            }
        }
    }

    async fn follow(self: Arc<Self>, ar: ApiResource, synced: watch::Sender<bool>) {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &ar);
        let stream =
            metadata_watcher(api, watcher::Config::default().page_size(5000)).default_backoff();
        futures::pin_mut!(stream);
        let mut buffer: HashMap<String, Node> = HashMap::new();
        let gvk = (ar.api_version.clone(), ar.kind.clone());
        while let Some(ev) = stream.next().await {
            let todo = match ev {
                Ok(Event::Init) => {
                    buffer.clear();
                    continue;
                }
                Ok(Event::InitApply(o)) => {
                    if let Some((uid, n)) = node_of(&ar, &o.metadata) {
                        buffer.insert(uid, n);
                    }
                    continue;
                }
                Ok(Event::InitDone) => {
                    let fresh = std::mem::take(&mut buffer);
                    let mut g = lock(&self.graph);
                    let gone: Vec<String> = g
                        .nodes
                        .iter()
                        .filter(|(u, n)| n.gvk == gvk && !fresh.contains_key(*u))
                        .map(|(u, _)| u.clone())
                        .collect();
                    let mut todo = Vec::new();
                    for u in gone {
                        todo.extend(g.remove(&u));
                    }
                    for (u, n) in fresh {
                        todo.extend(g.upsert(u, n));
                    }
                    drop(g);
                    synced.send_replace(true);
                    todo
                }
                Ok(Event::Apply(o)) => match node_of(&ar, &o.metadata) {
                    Some((uid, n)) => lock(&self.graph).upsert(uid, n),
                    None => continue,
                },
                Ok(Event::Delete(o)) => match o.metadata.uid.as_deref() {
                    Some(uid) => lock(&self.graph).remove(uid),
                    None => continue,
                },
                Err(e) => {
                    tracing::debug!(resource = %ar.plural, error = %e, "garbage collector watch error");
                    continue;
                }
            };
            for u in todo {
                self.queue.add(u);
            }
        }
    }

    fn api_for(
        &self,
        gvk: &(String, String),
        namespace: Option<&str>,
    ) -> Option<(Api<DynamicObject>, bool)> {
        let r = read(&self.resources);
        let (ar, namespaced) = r.get(gvk)?;
        Some(match (namespaced, namespace) {
            (true, Some(ns)) => (Api::namespaced_with(self.client.clone(), ns, ar), true),
            (true, None) => return None,
            (false, _) => (Api::all_with(self.client.clone(), ar), false),
        })
    }

    async fn process(&self, uid: &str) -> Result<Requeue> {
        let Some(node) = lock(&self.graph).nodes.get(uid).cloned() else {
            return Ok(None);
        };
        if node.deleting {
            if node.has(ORPHAN) {
                return self.orphan_dependents(uid, &node).await;
            }
            if node.has(FOREGROUND) {
                return self.delete_dependents_first(uid, &node).await;
            }
            return Ok(None);
        }
        if node.owners.is_empty() {
            return Ok(None);
        }
        self.attempt_to_delete(uid, &node).await
    }

    /// Classifies each owner as solid (exists), dangling (gone) or waiting (deleting its dependents).
    async fn owner_state(&self, dependent: &Node, r: &OwnerReference) -> Result<&'static str> {
        if let Some(o) = lock(&self.graph).nodes.get(&r.uid) {
            return Ok(if o.deleting_dependents() {
                "waiting"
            } else {
                "solid"
            });
        }
        let gvk = (r.api_version.clone(), r.kind.clone());
        let Some((api, _)) = self.api_for(&gvk, dependent.namespace.as_deref()) else {
            // An owner kind nobody serves can never exist.
            if read(&self.resources).contains_key(&gvk) {
                return Ok("solid");
            }
            return Ok("dangling");
        };
        match api.get_metadata(&r.name).await {
            Ok(o) if o.metadata.uid.as_deref() == Some(r.uid.as_str()) => {
                let deleting = o.metadata.deletion_timestamp.is_some()
                    && o.metadata
                        .finalizers
                        .iter()
                        .flatten()
                        .any(|f| f == FOREGROUND);
                Ok(if deleting { "waiting" } else { "solid" })
            }
            Ok(_) => Ok("dangling"),
            Err(e) if util::is_not_found(&e) => Ok("dangling"),
            Err(e) => Err(e.into()),
        }
    }

    async fn attempt_to_delete(&self, uid: &str, node: &Node) -> Result<Requeue> {
        let (mut solid, mut dangling, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        for r in &node.owners {
            match self.owner_state(node, r).await? {
                "solid" => solid.push(r.uid.clone()),
                "waiting" => waiting.push(r.uid.clone()),
                _ => dangling.push(r.uid.clone()),
            }
        }
        let Some((api, _)) = self.api_for(&node.gvk, node.namespace.as_deref()) else {
            return Ok(None);
        };
        if !solid.is_empty() {
            if dangling.is_empty() && waiting.is_empty() {
                return Ok(None);
            }
            let gone: HashSet<String> = dangling.into_iter().chain(waiting).collect();
            return self.remove_owner_refs(&api, &node.name, uid, &gone).await;
        }
        let has_dependents = lock(&self.graph)
            .dependents
            .get(uid)
            .is_some_and(|d| !d.is_empty());
        let policy = if !waiting.is_empty() && has_dependents {
            PropagationPolicy::Foreground
        } else if node.has(ORPHAN) {
            PropagationPolicy::Orphan
        } else if node.has(FOREGROUND) {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        let dp = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&node.name, &dp).await {
            Ok(_) => Ok(None),
            Err(e) if util::is_not_found(&e) || util::is_conflict(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn remove_owner_refs(
        &self,
        api: &Api<DynamicObject>,
        name: &str,
        uid: &str,
        gone: &HashSet<String>,
    ) -> Result<Requeue> {
        let live = match api.get_metadata(name).await {
            Ok(o) => o,
            Err(e) if util::is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if live.metadata.uid.as_deref() != Some(uid) {
            return Ok(None);
        }
        let refs = live.metadata.owner_references.clone().unwrap_or_default();
        let kept: Vec<&OwnerReference> = refs.iter().filter(|r| !gone.contains(&r.uid)).collect();
        if kept.len() == refs.len() {
            return Ok(None);
        }
        let patch = json!([
            {"op": "test", "path": "/metadata/uid", "value": uid},
            {"op": "test", "path": "/metadata/ownerReferences", "value": refs},
            {"op": "replace", "path": "/metadata/ownerReferences", "value": kept},
        ]);
        match api
            .patch(
                name,
                &PatchParams::default(),
                &Patch::<()>::Json(serde_json::from_value(patch)?),
            )
            .await
        {
            Ok(_) => Ok(None),
            Err(e) if util::is_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn remove_finalizer(&self, node: &Node, uid: &str, finalizer: &str) -> Result<Requeue> {
        let Some((api, _)) = self.api_for(&node.gvk, node.namespace.as_deref()) else {
            return Ok(None);
        };
        let live = match api.get_metadata(&node.name).await {
            Ok(o) => o,
            Err(e) if util::is_not_found(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if live.metadata.uid.as_deref() != Some(uid) {
            return Ok(None);
        }
        let fins = live.metadata.finalizers.clone().unwrap_or_default();
        if !fins.iter().any(|f| f == finalizer) {
            return Ok(None);
        }
        let kept: Vec<&String> = fins.iter().filter(|f| *f != finalizer).collect();
        let patch = json!([
            {"op": "test", "path": "/metadata/uid", "value": uid},
            {"op": "test", "path": "/metadata/finalizers", "value": fins},
            {"op": "replace", "path": "/metadata/finalizers", "value": kept},
        ]);
        match api
            .patch(
                &node.name,
                &PatchParams::default(),
                &Patch::<()>::Json(serde_json::from_value(patch)?),
            )
            .await
        {
            Ok(_) => Ok(None),
            Err(e) if util::is_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_dependents_first(&self, uid: &str, node: &Node) -> Result<Requeue> {
        let blocking: Vec<(String, bool)> = {
            let g = lock(&self.graph);
            g.dependents
                .get(uid)
                .into_iter()
                .flatten()
                .filter_map(|d| {
                    let n = g.nodes.get(d)?;
                    let blocks = n
                        .owners
                        .iter()
                        .any(|r| r.uid == uid && r.block_owner_deletion == Some(true));
                    blocks.then(|| (d.clone(), n.deleting))
                })
                .collect()
        };
        if blocking.is_empty() {
            return self.remove_finalizer(node, uid, FOREGROUND).await;
        }
        for (d, deleting) in blocking {
            if !deleting {
                self.queue.add(d);
            }
        }
        Ok(None)
    }

    async fn orphan_dependents(&self, uid: &str, node: &Node) -> Result<Requeue> {
        let deps: Vec<(String, Node)> = {
            let g = lock(&self.graph);
            g.dependents
                .get(uid)
                .into_iter()
                .flatten()
                .filter_map(|d| Some((d.clone(), g.nodes.get(d)?.clone())))
                .collect()
        };
        let gone: HashSet<String> = [uid.to_string()].into();
        for (duid, d) in deps {
            if let Some((api, _)) = self.api_for(&d.gvk, d.namespace.as_deref()) {
                self.remove_owner_refs(&api, &d.name, &duid, &gone).await?;
            }
        }
        self.remove_finalizer(node, uid, ORPHAN).await
    }
}
