// A redb prototype of the SQLite store's write path, shaped so the work per write is
// comparable:
//
// * `log` keyed by `(rev, sub)` holds every revision of every key (SQLite's `log` table),
// * `log_key` keyed by `(key, rev)` is the secondary index SQLite keeps as `log_key`,
// * `kv` maps each live key to the `(rev, sub)` of its current revision (SQLite's `kv`),
// * `meta` holds the committed revision, rewritten once per batch as SQLite does.
//
// One writer thread drains a channel, applies every queued create in one
// `WriteTransaction` with `Durability::Immediate`, commits (fsync), and only then
// acknowledges. A create is etcd's `compare mod_revision(key) == 0 then put`: the compare
// and the put each read the current revision through `kv` → `log`, as the SQLite store's
// `compare_holds` and `put` do. Reads open a read transaction on the blocking pool and join
// `kv` to `log`, like the SQLite range query.
//
// What the prototype leaves out (and the SQLite store pays for): a SAVEPOINT per command,
// the per-txn duplicate-key check, watch fan-out (no subscribers in the bench), leases and
// compaction. These are small next to the B-tree work and the fsync.

// `redb` is the version alias and `compat` the version shim of the including module.
use redb::{Database, ReadableTable, TableDefinition};
#[allow(unused_imports)]
use compat::ReadTxnTrait as _;
use std::path::Path;
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;
use wharf_store::KeyValue;

/// (key, value, create_rev, version, lease, deleted)
type LogRow<'a> = (&'a [u8], Option<&'a [u8]>, i64, i64, i64, bool);

const LOG: TableDefinition<(i64, i64), LogRow<'static>> = TableDefinition::new("log");
const LOG_KEY: TableDefinition<(&[u8], i64), ()> = TableDefinition::new("log_key");
const KV: TableDefinition<&[u8], (i64, i64)> = TableDefinition::new("kv");
const META: TableDefinition<&str, i64> = TableDefinition::new("meta");

const MAX_BATCH: usize = 2048;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The result of one create: whether the compare held, and the revision after it.
#[derive(Debug, Clone, Copy)]
pub struct Created {
    pub succeeded: bool,
    pub revision: i64,
}

struct CreateReq {
    key: Vec<u8>,
    value: Vec<u8>,
    reply: oneshot::Sender<Result<Created, String>>,
}

/// The prototype store. Cheap to clone; the writer thread stops when the last clone drops.
#[derive(Clone)]
pub struct RedbStore {
    db: Arc<Database>,
    tx: mpsc::Sender<CreateReq>,
}

impl RedbStore {
    /// Creates the store in `dir/store.redb`. `cache_bytes` 0 keeps redb's default.
    pub fn open(dir: &Path, cache_bytes: usize) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut builder = Database::builder();
        if cache_bytes > 0 {
            builder.set_cache_size(cache_bytes);
        }
        let db = builder.create(dir.join("store.redb")).map_err(err)?;
        let mut rev = 1;
        {
            let mut w = db.begin_write().map_err(err)?;
            compat::immediate(&mut w)?;
            {
                w.open_table(LOG).map_err(err)?;
                w.open_table(LOG_KEY).map_err(err)?;
                w.open_table(KV).map_err(err)?;
                let mut meta = w.open_table(META).map_err(err)?;
                let existing = meta.get("revision").map_err(err)?.map(|g| g.value());
                match existing {
                    Some(r) => rev = r,
                    None => {
                        meta.insert("revision", rev).map_err(err)?;
                    }
                }
            }
            w.commit().map_err(err)?;
        }
        let db = Arc::new(db);
        let (tx, rx) = mpsc::channel();
        let wdb = db.clone();
        std::thread::Builder::new()
            .name("redb-writer".into())
            .spawn(move || writer(wdb, rx, rev))
            .map_err(err)?;
        Ok(Self { db, tx })
    }

    /// `compare mod_revision(key) == 0 then put(key, value)`, acknowledged after fsync.
    pub async fn create(&self, key: Vec<u8>, value: Vec<u8>) -> Result<Created, String> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(CreateReq { key, value, reply }).map_err(|_| "closed".to_string())?;
        rx.await.map_err(|_| "writer dropped the request (commit failed)".to_string())?
    }

    /// Range `[start, end)` (or `start` alone when `end` is empty) at the latest revision.
    pub async fn range(&self, start: Vec<u8>, end: Vec<u8>) -> Result<(i64, Vec<KeyValue>), String> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || read_range(&db, &start, &end)).await.map_err(err)?
    }
}

fn row_to_kv(rev: i64, row: LogRow<'_>) -> KeyValue {
    let (key, value, create_revision, version, lease, _deleted) = row;
    KeyValue {
        key: key.to_vec(),
        value: value.map(<[u8]>::to_vec).unwrap_or_default(),
        create_revision,
        mod_revision: rev,
        version,
        lease,
    }
}

fn read_range(db: &Database, start: &[u8], end: &[u8]) -> Result<(i64, Vec<KeyValue>), String> {
    let r = db.begin_read().map_err(err)?;
    let meta = r.open_table(META).map_err(err)?;
    let revision = meta.get("revision").map_err(err)?.map(|g| g.value()).unwrap_or(0);
    let kv = r.open_table(KV).map_err(err)?;
    let log = r.open_table(LOG).map_err(err)?;
    let mut out = Vec::new();
    let mut push = |rev: i64, sub: i64| -> Result<(), String> {
        if let Some(g) = log.get((rev, sub)).map_err(err)? {
            out.push(row_to_kv(rev, g.value()));
        }
        Ok(())
    };
    if end.is_empty() {
        if let Some(g) = kv.get(start).map_err(err)? {
            let (rev, sub) = g.value();
            push(rev, sub)?;
        }
    } else {
        for item in kv.range::<&[u8]>(start..end).map_err(err)? {
            let (_, v) = item.map_err(err)?;
            let (rev, sub) = v.value();
            push(rev, sub)?;
        }
    }
    Ok((revision, out))
}

fn writer(db: Arc<Database>, rx: mpsc::Receiver<CreateReq>, mut rev: i64) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let start_rev = rev;
        match apply_batch(&db, &batch, &mut rev) {
            Ok(results) => {
                for (req, r) in batch.into_iter().zip(results) {
                    let _ = req.reply.send(Ok(r));
                }
            }
            Err(e) => {
                rev = start_rev;
                for req in batch {
                    let _ = req.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Current `(KeyValue, sub)` of `key` through `kv` → `log`, as the SQLite store's `read_current`.
fn read_current(
    kv: &impl ReadableTable<&'static [u8], (i64, i64)>,
    log: &impl ReadableTable<(i64, i64), LogRow<'static>>,
    key: &[u8],
) -> Result<Option<KeyValue>, String> {
    let Some(ptr) = kv.get(key).map_err(err)? else { return Ok(None) };
    let (rev, sub) = ptr.value();
    Ok(log.get((rev, sub)).map_err(err)?.map(|g| row_to_kv(rev, g.value())))
}

fn apply_batch(db: &Database, batch: &[CreateReq], rev: &mut i64) -> Result<Vec<Created>, String> {
    let mut w = db.begin_write().map_err(err)?;
    compat::immediate(&mut w)?;
    let mut out = Vec::with_capacity(batch.len());
    {
        let mut log = w.open_table(LOG).map_err(err)?;
        let mut log_key = w.open_table(LOG_KEY).map_err(err)?;
        let mut kv = w.open_table(KV).map_err(err)?;
        let mut meta = w.open_table(META).map_err(err)?;
        for req in batch {
            // compare: mod_revision(key) == 0
            let holds = read_current(&kv, &log, &req.key)?.is_none();
            if !holds {
                out.push(Created { succeeded: false, revision: *rev });
                continue;
            }
            // put: read the previous pair for create_revision/version, then write log + index + kv.
            let prev = read_current(&kv, &log, &req.key)?;
            let new_rev = *rev + 1;
            let create_rev = prev.as_ref().map_or(new_rev, |p| p.create_revision);
            let version = prev.as_ref().map_or(1, |p| p.version + 1);
            log.insert((new_rev, 0), (req.key.as_slice(), Some(req.value.as_slice()), create_rev, version, 0i64, false))
                .map_err(err)?;
            log_key.insert((req.key.as_slice(), new_rev), ()).map_err(err)?;
            kv.insert(req.key.as_slice(), (new_rev, 0)).map_err(err)?;
            *rev = new_rev;
            out.push(Created { succeeded: true, revision: new_rev });
        }
        meta.insert("revision", *rev).map_err(err)?;
    }
    w.commit().map_err(err)?;
    Ok(out)
}
