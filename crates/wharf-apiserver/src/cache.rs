//! The watch cache: every object of the control plane in memory, kept current by one
//! datastore watch, with a bounded history of recent events. LIST, GET and WATCH are served
//! from it; writers never wait for watchers (a watcher that falls too far behind is closed
//! and must re-watch, as in Kubernetes).

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use wharf_store::{prefix_end, EventType, KvStore, RangeRequest, WatchRequest};

use crate::error::{ApiError, Result};

/// Events kept for watches that resume from an older resourceVersion.
const HISTORY: usize = 20_000;
/// Events queued for one watcher before it is considered too slow and closed.
const WATCHER_QUEUE: usize = 10_000;
/// The key prefix of every cluster object.
pub const ROOT: &str = "/registry/";

/// One object as served: its JSON with `metadata.resourceVersion` set, and its labels.
#[derive(Debug)]
pub struct CachedObject {
    /// Datastore key.
    pub key: String,
    /// Mod revision (the resourceVersion).
    pub rev: i64,
    /// The object's JSON, resourceVersion included.
    pub json: Bytes,
    /// `metadata.labels`, for label selectors without parsing the JSON.
    pub labels: Option<Map<String, Value>>,
}

impl CachedObject {
    /// Builds a cached object from the stored JSON (which carries no resourceVersion).
    pub fn from_stored(key: String, rev: i64, stored: &[u8]) -> Result<Self> {
        let mut v: Value = serde_json::from_slice(stored).map_err(|e| ApiError::Internal(format!("decoding {key}: {e}")))?;
        Ok(Self::from_value(key, rev, &mut v))
    }

    /// Builds a cached object from a decoded object, setting its resourceVersion.
    pub fn from_value(key: String, rev: i64, v: &mut Value) -> Self {
        set_resource_version(v, rev);
        let labels = wharf_api::meta::labels(v).cloned();
        let mut buf = serde_json::to_vec(v).unwrap_or_default();
        // `Bytes::from(Vec)` keeps the Vec's spare capacity for the object's whole life in the cache.
        buf.shrink_to_fit();
        let json = Bytes::from(buf);
        Self { key, rev, json, labels }
    }

    /// The object decoded.
    pub fn value(&self) -> Result<Value> {
        serde_json::from_slice(&self.json).map_err(|e| ApiError::Internal(format!("decoding {}: {e}", self.key)))
    }
}

/// Sets `metadata.resourceVersion`.
pub fn set_resource_version(v: &mut Value, rev: i64) {
    wharf_api::meta::metadata_mut(v).insert("resourceVersion".into(), Value::String(rev.to_string()));
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Created.
    Added,
    /// Updated.
    Modified,
    /// Deleted (the object is its last state, at the deletion's revision).
    Deleted,
}

impl EventKind {
    /// The watch event type string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, as watchers receive it.
#[derive(Debug)]
pub struct CacheEvent {
    /// Revision of the change.
    pub rev: i64,
    /// Kind of change.
    pub kind: EventKind,
    /// The object after the change (for deletes: before, with the deletion's revision).
    pub obj: Arc<CachedObject>,
    /// The object before the change, for updates and deletes.
    pub prev: Option<Arc<CachedObject>>,
}

struct Watcher {
    prefix: String,
    tx: mpsc::Sender<Arc<CacheEvent>>,
}

#[derive(Default)]
struct State {
    rev: i64,
    objects: BTreeMap<String, Arc<CachedObject>>,
    history: VecDeque<Arc<CacheEvent>>,
    /// Events with revision > `oldest` are all in `history`.
    oldest: i64,
    watchers: HashMap<u64, Watcher>,
    next_id: u64,
}

/// A registered watch: events already due, then a live channel.
pub struct CacheWatch {
    /// Events after the requested revision that were already in history.
    pub backlog: Vec<Arc<CacheEvent>>,
    /// Live events.
    pub rx: mpsc::Receiver<Arc<CacheEvent>>,
    /// The cache revision when the watch was registered.
    pub rev: i64,
    /// The objects under the prefix at `rev`, when an initial state was asked for.
    pub snapshot: Vec<Arc<CachedObject>>,
}

/// The cache of one control plane.
pub struct WatchCache {
    state: RwLock<State>,
    rev_tx: watch::Sender<i64>,
    store: Arc<dyn KvStore>,
}

fn read<'a>(l: &'a RwLock<State>) -> std::sync::RwLockReadGuard<'a, State> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<'a>(l: &'a RwLock<State>) -> std::sync::RwLockWriteGuard<'a, State> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl WatchCache {
    /// Loads every object and starts following the store.
    pub async fn start(store: Arc<dyn KvStore>) -> Result<Arc<Self>> {
        let (rev_tx, _) = watch::channel(0);
        let cache = Arc::new(Self { state: RwLock::new(State::default()), rev_tx, store });
        let rev = cache.load().await?;
        let c = cache.clone();
        tokio::spawn(async move { c.follow(rev).await });
        Ok(cache)
    }

    async fn load(&self) -> Result<i64> {
        let r = self
            .store
            .range(RangeRequest { key: ROOT.as_bytes().to_vec(), range_end: prefix_end(ROOT.as_bytes()), ..Default::default() })
            .await?;
        let mut objects = BTreeMap::new();
        for kv in r.kvs {
            let key = String::from_utf8_lossy(&kv.key).into_owned();
            match CachedObject::from_stored(key.clone(), kv.mod_revision, &kv.value) {
                Ok(o) => {
                    objects.insert(key, Arc::new(o));
                }
                Err(e) => tracing::warn!(error = %e, "skipping undecodable object"),
            }
        }
        let mut st = write(&self.state);
        st.objects = objects;
        st.rev = r.revision;
        st.oldest = r.revision;
        st.history.clear();
        // Watchers from before a reload would miss events: close them so they re-watch.
        st.watchers.clear();
        drop(st);
        self.rev_tx.send_replace(r.revision);
        Ok(r.revision)
    }

    async fn follow(self: Arc<Self>, mut rev: i64) {
        loop {
            let req = WatchRequest { key: ROOT.as_bytes().to_vec(), range_end: prefix_end(ROOT.as_bytes()), start_revision: rev + 1, prev_kv: true, progress_notify: true };
            let mut stream = match self.store.watch(req).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "watch cache: cannot watch the store");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            while let Some(item) = stream.next().await {
                match item {
                    Ok(wr) => {
                        self.apply(wr);
                        rev = read(&self.state).rev;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "watch cache: store watch failed; reloading");
                        break;
                    }
                }
            }
            if Arc::strong_count(&self) == 1 {
                return;
            }
            match self.load().await {
                Ok(r) => rev = r,
                Err(e) => {
                    tracing::error!(error = %e, "watch cache: reload failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn apply(&self, wr: wharf_store::WatchResponse) {
        let mut events = Vec::with_capacity(wr.events.len());
        for e in wr.events {
            let key = String::from_utf8_lossy(&e.kv.key).into_owned();
            let prev = e.prev_kv.and_then(|p| CachedObject::from_stored(key.clone(), p.mod_revision, &p.value).ok()).map(Arc::new);
            let ev = match e.kind {
                EventType::Put => match CachedObject::from_stored(key.clone(), e.kv.mod_revision, &e.kv.value) {
                    Ok(o) => CacheEvent {
                        rev: wr.revision,
                        kind: if e.kv.create_revision == e.kv.mod_revision { EventKind::Added } else { EventKind::Modified },
                        obj: Arc::new(o),
                        prev,
                    },
                    Err(err) => {
                        tracing::warn!(error = %err, "watch cache: undecodable object");
                        continue;
                    }
                },
                EventType::Delete => {
                    let Some(p) = prev else { continue };
                    let mut v = match p.value() {
                        Ok(v) => v,
                        Err(_) => continue,
                    };
                    let obj = Arc::new(CachedObject::from_value(key.clone(), wr.revision, &mut v));
                    CacheEvent { rev: wr.revision, kind: EventKind::Deleted, obj, prev: Some(p) }
                }
            };
            events.push(Arc::new(ev));
        }
        let mut st = write(&self.state);
        for ev in events {
            match ev.kind {
                EventKind::Deleted => st.objects.remove(&ev.obj.key),
                _ => st.objects.insert(ev.obj.key.clone(), ev.obj.clone()),
            };
            if st.history.len() >= HISTORY {
                if let Some(old) = st.history.pop_front() {
                    st.oldest = old.rev;
                }
            }
            st.history.push_back(ev.clone());
            st.watchers.retain(|_, w| {
                if !ev.obj.key.starts_with(&w.prefix) {
                    return !w.tx.is_closed();
                }
                w.tx.try_send(ev.clone()).is_ok()
            });
        }
        st.rev = wr.revision;
        drop(st);
        self.rev_tx.send_replace(wr.revision);
    }

    /// The cache's revision.
    pub fn revision(&self) -> i64 {
        read(&self.state).rev
    }

    /// Waits until the cache has caught up with `rev` (or fails with 504 after `timeout`).
    pub async fn wait_for(&self, rev: i64, timeout: Duration) -> Result<()> {
        let mut rx = self.rev_tx.subscribe();
        let ok = tokio::time::timeout(timeout, async { rx.wait_for(|r| *r >= rev).await.is_ok() }).await;
        match ok {
            Ok(true) => Ok(()),
            _ => Err(ApiError::Timeout(format!("Too large resource version: {rev}, current: {}", self.revision()))),
        }
    }

    /// Waits until the cache reflects every write the store has acknowledged.
    pub async fn sync(&self) -> Result<i64> {
        let rev = self.store.current_revision().await?;
        self.wait_for(rev, Duration::from_secs(3)).await?;
        Ok(rev)
    }

    /// One object by key.
    pub fn get(&self, key: &str) -> Option<Arc<CachedObject>> {
        read(&self.state).objects.get(key).cloned()
    }

    /// Every object under `prefix` starting at `start` (inclusive), in key order, with the cache revision.
    pub fn list(&self, prefix: &str, start: Option<&str>, mut keep: impl FnMut(&CachedObject) -> bool, limit: usize) -> (i64, Vec<Arc<CachedObject>>, bool) {
        let st = read(&self.state);
        let from = start.unwrap_or(prefix).to_string();
        let mut out = Vec::new();
        let mut more = false;
        for (k, o) in st.objects.range(from..) {
            if !k.starts_with(prefix) {
                break;
            }
            if !keep(o) {
                continue;
            }
            if out.len() == limit {
                more = true;
                break;
            }
            out.push(o.clone());
        }
        (st.rev, out, more)
    }

    /// Registers a watch of keys under `prefix` for events after `from`, with the objects
    /// present at registration when `snapshot` is set (one atomic step, so nothing is seen
    /// twice or missed). `from == 0` means "from now". Fails with 410 when `from` is older
    /// than the history.
    pub fn watch_with_snapshot(&self, prefix: &str, from: i64, snapshot: bool) -> Result<CacheWatch> {
        let mut st = write(&self.state);
        if from > 0 && from < st.oldest {
            return Err(ApiError::Gone(format!("too old resource version: {from} ({})", st.oldest)));
        }
        let backlog: Vec<Arc<CacheEvent>> = if from > 0 && !snapshot {
            st.history.iter().filter(|e| e.rev > from && e.obj.key.starts_with(prefix)).cloned().collect()
        } else {
            Vec::new()
        };
        let (tx, rx) = mpsc::channel(WATCHER_QUEUE);
        let id = st.next_id;
        st.next_id += 1;
        st.watchers.insert(id, Watcher { prefix: prefix.to_string(), tx });
        let snapshot = if snapshot {
            st.objects.range(prefix.to_string()..).take_while(|(k, _)| k.starts_with(prefix)).map(|(_, o)| o.clone()).collect()
        } else {
            Vec::new()
        };
        Ok(CacheWatch { backlog, rx, rev: st.rev, snapshot })
    }

    /// The store behind the cache.
    pub fn store(&self) -> &Arc<dyn KvStore> {
        &self.store
    }
}
