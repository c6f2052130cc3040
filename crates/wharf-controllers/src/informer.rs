//! Shared informers: one list+watch cache per kind (kube-runtime's `watcher`), shared by every
//! controller that needs the kind, with change handlers that controllers use to enqueue keys and
//! keep their own indexes (as client-go's shared informer factory does).

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::util::{read, write};

/// Drops what no controller reads but every object carries, as kube-controller-manager's
/// informers do with a transform: managedFields are often the largest part of an object.
/// (A later PUT of a cached object sends no managedFields, which keeps the stored ones.)
fn strip<K: Resource>(obj: &mut K) {
    obj.meta_mut().managed_fields = None;
}

/// `namespace/name` (or `name` for cluster-scoped objects), the key client-go uses.
pub fn key_of<K: Resource>(obj: &K) -> String {
    let m = obj.meta();
    let name = m.name.as_deref().unwrap_or_default();
    match m.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// Splits a key into namespace and name.
pub fn split_key(key: &str) -> (Option<&str>, &str) {
    match key.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, key),
    }
}

/// A change observed by an informer.
pub enum Change<'a, K> {
    /// A new object.
    Added(&'a Arc<K>),
    /// An object changed (old, new).
    Updated(&'a Arc<K>, &'a Arc<K>),
    /// An object was deleted (its last known state).
    Deleted(&'a Arc<K>),
}

type Handler<K> = Box<dyn Fn(&Change<'_, K>) + Send + Sync>;

/// A list+watch cache of one kind.
pub struct Informer<K> {
    api: Api<K>,
    store: RwLock<HashMap<String, Arc<K>>>,
    handlers: RwLock<Vec<Handler<K>>>,
    synced: watch::Sender<bool>,
}

impl<K> Informer<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// A new, empty informer over `api` (usually `Api::all`).
    pub fn new(api: Api<K>) -> Arc<Self> {
        Arc::new(Self {
            api,
            store: RwLock::default(),
            handlers: RwLock::default(),
            synced: watch::channel(false).0,
        })
    }

    /// Registers a change handler; handlers run on the informer task and must be cheap.
    pub fn on_change(&self, f: impl Fn(&Change<'_, K>) + Send + Sync + 'static) {
        write(&self.handlers).push(Box::new(f));
    }

    /// The cached object with this key.
    pub fn get(&self, key: &str) -> Option<Arc<K>> {
        read(&self.store).get(key).cloned()
    }

    /// Every cached object (a snapshot).
    pub fn list(&self) -> Vec<Arc<K>> {
        read(&self.store).values().cloned().collect()
    }

    /// The cached objects with these keys.
    pub fn get_many<'a>(&self, keys: impl IntoIterator<Item = &'a String>) -> Vec<Arc<K>> {
        let s = read(&self.store);
        keys.into_iter().filter_map(|k| s.get(k).cloned()).collect()
    }

    /// Waits until the first complete list has been applied.
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Whether the first complete list has been applied.
    pub fn has_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Inserts an object the controller itself just wrote (client-go's mutation cache), so a
    /// reconcile that runs before the watch event arrives sees it.
    pub fn assume(&self, obj: K) {
        let key = key_of(&obj);
        let new = Arc::new(obj);
        let old = {
            let mut s = write(&self.store);
            let newer = match s.get(&key) {
                Some(old) => rv(old.as_ref()) < rv(new.as_ref()),
                None => true,
            };
            if !newer {
                return;
            }
            s.insert(key, new.clone())
        };
        match old {
            Some(o) => self.emit(Change::Updated(&o, &new)),
            None => self.emit(Change::Added(&new)),
        }
    }

    fn emit(&self, c: Change<'_, K>) {
        for h in read(&self.handlers).iter() {
            h(&c);
        }
    }

    /// Runs the list+watch loop forever (until the task is dropped).
    pub async fn run(self: Arc<Self>) {
        let stream =
            watcher(self.api.clone(), watcher::Config::default().page_size(5000)).default_backoff();
        futures::pin_mut!(stream);
        let mut buffer: HashMap<String, Arc<K>> = HashMap::new();
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(Event::Init) => buffer.clear(),
                Ok(Event::InitApply(mut obj)) => {
                    strip(&mut obj);
                    buffer.insert(key_of(&obj), Arc::new(obj));
                }
                Ok(Event::InitDone) => {
                    let fresh = std::mem::take(&mut buffer);
                    let old = std::mem::replace(&mut *write(&self.store), fresh.clone());
                    let mut seen = HashSet::new();
                    for (k, new) in &fresh {
                        seen.insert(k.clone());
                        match old.get(k) {
                            Some(o) if o.meta().resource_version == new.meta().resource_version => {
                            }
                            Some(o) => self.emit(Change::Updated(o, new)),
                            None => self.emit(Change::Added(new)),
                        }
                    }
                    for (k, o) in &old {
                        if !seen.contains(k) {
                            self.emit(Change::Deleted(o));
                        }
                    }
                    self.synced.send_replace(true);
                }
                Ok(Event::Apply(mut obj)) => {
                    strip(&mut obj);
                    let key = key_of(&obj);
                    let new = Arc::new(obj);
                    let old = {
                        let mut s = write(&self.store);
                        // An object this controller wrote and assumed may be newer than the event.
                        if s.get(&key)
                            .is_some_and(|o| rv(o.as_ref()) > rv(new.as_ref()))
                        {
                            continue;
                        }
                        s.insert(key, new.clone())
                    };
                    match old {
                        Some(o) => self.emit(Change::Updated(&o, &new)),
                        None => self.emit(Change::Added(&new)),
                    }
                }
                Ok(Event::Delete(obj)) => {
                    let key = key_of(&obj);
                    let old = write(&self.store).remove(&key);
                    let gone = old.unwrap_or_else(|| Arc::new(obj));
                    self.emit(Change::Deleted(&gone));
                }
                Err(e) => {
                    tracing::debug!(kind = std::any::type_name::<K>(), error = %e, "watch error")
                }
            }
        }
    }
}

fn rv<K: Resource>(obj: &K) -> u64 {
    obj.resource_version()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// An index from controller-owner UID to the keys of the objects it controls, plus the keys of
/// objects without a controller per namespace (candidates for adoption).
#[derive(Default)]
pub struct OwnerIndex {
    owned: RwLock<HashMap<String, HashSet<String>>>,
    orphans: RwLock<HashMap<String, HashSet<String>>>,
}

impl OwnerIndex {
    /// Registers the index on an informer.
    pub fn attach<K>(informer: &Informer<K>) -> Arc<Self>
    where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let idx = Arc::new(Self::default());
        let i = idx.clone();
        informer.on_change(move |c| match c {
            Change::Added(o) => i.add(o.as_ref()),
            Change::Updated(old, new) => {
                i.remove(old.as_ref());
                i.add(new.as_ref());
            }
            Change::Deleted(o) => i.remove(o.as_ref()),
        });
        idx
    }

    fn add<K: Resource>(&self, o: &K) {
        let key = key_of(o);
        match crate::util::controller_of(o.meta()) {
            Some(r) => {
                write(&self.owned)
                    .entry(r.uid.clone())
                    .or_default()
                    .insert(key);
            }
            None => {
                let ns = o.meta().namespace.clone().unwrap_or_default();
                write(&self.orphans).entry(ns).or_default().insert(key);
            }
        }
    }

    fn remove<K: Resource>(&self, o: &K) {
        let key = key_of(o);
        match crate::util::controller_of(o.meta()) {
            Some(r) => {
                let mut m = write(&self.owned);
                if let Some(s) = m.get_mut(&r.uid) {
                    s.remove(&key);
                    if s.is_empty() {
                        m.remove(&r.uid);
                    }
                }
            }
            None => {
                let ns = o.meta().namespace.clone().unwrap_or_default();
                let mut m = write(&self.orphans);
                if let Some(s) = m.get_mut(&ns) {
                    s.remove(&key);
                    if s.is_empty() {
                        m.remove(&ns);
                    }
                }
            }
        }
    }

    /// Keys of objects controlled by the owner with this UID.
    pub fn owned_by(&self, uid: &str) -> Vec<String> {
        read(&self.owned)
            .get(uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Keys of objects without a controller in a namespace.
    pub fn orphans_in(&self, ns: &str) -> Vec<String> {
        read(&self.orphans)
            .get(ns)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// An index from namespace to the keys of the objects in it.
#[derive(Default)]
pub struct NamespaceIndex {
    m: RwLock<HashMap<String, HashSet<String>>>,
}

impl NamespaceIndex {
    /// Registers the index on an informer.
    pub fn attach<K>(informer: &Informer<K>) -> Arc<Self>
    where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let idx = Arc::new(Self::default());
        let i = idx.clone();
        informer.on_change(move |c| match c {
            Change::Added(o) | Change::Updated(_, o) => {
                write(&i.m)
                    .entry(o.meta().namespace.clone().unwrap_or_default())
                    .or_default()
                    .insert(key_of(o.as_ref()));
            }
            Change::Deleted(o) => {
                let ns = o.meta().namespace.clone().unwrap_or_default();
                let mut m = write(&i.m);
                if let Some(s) = m.get_mut(&ns) {
                    s.remove(&key_of(o.as_ref()));
                    if s.is_empty() {
                        m.remove(&ns);
                    }
                }
            }
        });
        idx
    }

    /// Keys of the objects in a namespace.
    pub fn keys(&self, ns: &str) -> Vec<String> {
        read(&self.m)
            .get(ns)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// An index from a value computed from each object (e.g. a pod's node) to object keys.
pub struct KeyIndex<K> {
    m: RwLock<HashMap<String, HashSet<String>>>,
    f: fn(&K) -> Option<String>,
}

impl<K> KeyIndex<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// Registers an index keyed by `f` on an informer.
    pub fn attach(informer: &Informer<K>, f: fn(&K) -> Option<String>) -> Arc<Self> {
        let idx = Arc::new(Self {
            m: RwLock::default(),
            f,
        });
        let i = idx.clone();
        informer.on_change(move |c| match c {
            Change::Added(o) => i.add(o.as_ref()),
            Change::Updated(old, new) => {
                i.remove(old.as_ref());
                i.add(new.as_ref());
            }
            Change::Deleted(o) => i.remove(o.as_ref()),
        });
        idx
    }

    fn add(&self, o: &K) {
        if let Some(v) = (self.f)(o) {
            write(&self.m).entry(v).or_default().insert(key_of(o));
        }
    }

    fn remove(&self, o: &K) {
        if let Some(v) = (self.f)(o) {
            let mut m = write(&self.m);
            if let Some(s) = m.get_mut(&v) {
                s.remove(&key_of(o));
                if s.is_empty() {
                    m.remove(&v);
                }
            }
        }
    }

    /// Keys of the objects whose value is `v`.
    pub fn get(&self, v: &str) -> Vec<String> {
        read(&self.m)
            .get(v)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every value with at least one object.
    pub fn values(&self) -> Vec<String> {
        read(&self.m).keys().cloned().collect()
    }
}
