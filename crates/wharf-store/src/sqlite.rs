//! The embedded backend: SQLite in WAL mode with `synchronous=FULL`, one file in the data
//! directory. One writer thread owns the write connection and commits every queued request
//! in one transaction (group commit), so each write is on disk before it is acknowledged
//! while many concurrent writers share one fsync. Reads use a small pool of read
//! connections and never wait for the writer.
//!
//! Layout: `log` holds every revision of every key (etcd's MVCC history) until compaction;
//! `kv` points at the current revision of each live key.

use crate::*;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc as tmpsc, oneshot};

const MAX_BATCH: usize = 2048;
const READERS: usize = 4;

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

type Reply<T> = oneshot::Sender<Result<T>>;

enum Cmd {
    Txn(TxnRequest, Reply<TxnResponse>),
    Compact(i64, Reply<()>),
    LeaseGrant(i64, i64, Reply<LeaseGrant>),
    LeaseRevoke(i64, Reply<()>),
    LeaseKeepAlive(i64, Reply<i64>),
}

struct Subscriber {
    key: Vec<u8>,
    end: Vec<u8>,
    prev_kv: bool,
    progress_notify: bool,
    /// The last revision sent to this subscriber.
    last_sent: i64,
    tx: tmpsc::UnboundedSender<WatchResponse>,
}

struct Shared {
    path: PathBuf,
    revision: AtomicI64,
    compact_revision: AtomicI64,
    readers: Mutex<Vec<Connection>>,
    subscribers: Mutex<Vec<Subscriber>>,
}

/// The embedded SQLite store. Cheap to clone; the writer thread stops when the last clone drops.
#[derive(Clone)]
pub struct SqliteStore {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Cmd>,
}

fn open(path: &Path) -> Result<Connection> {
    let c = Connection::open(path).map_err(backend)?;
    c.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA cache_size=-16000;",
    )
    .map_err(backend)?;
    Ok(c)
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `dir/store.db`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(backend)?;
        let path = dir.join("store.db");
        let conn = open(&path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS log(rev INTEGER NOT NULL, sub INTEGER NOT NULL, key BLOB NOT NULL, value BLOB,
                create_rev INTEGER NOT NULL, version INTEGER NOT NULL, lease INTEGER NOT NULL, deleted INTEGER NOT NULL,
                PRIMARY KEY(rev, sub)) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS log_key ON log(key, rev);
             CREATE TABLE IF NOT EXISTS kv(key BLOB PRIMARY KEY, rev INTEGER NOT NULL, sub INTEGER NOT NULL) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS leases(id INTEGER PRIMARY KEY, ttl INTEGER NOT NULL);
             INSERT OR IGNORE INTO meta VALUES ('revision', 1), ('compact', 0);",
        )
        .map_err(backend)?;
        let meta = |name: &str| -> Result<i64> {
            conn.query_row("SELECT value FROM meta WHERE name = ?", [name], |r| r.get(0)).map_err(backend)
        };
        let revision = meta("revision")?;
        let compact = meta("compact")?;
        let mut leases = HashMap::new();
        {
            let mut st = conn.prepare("SELECT id, ttl FROM leases").map_err(backend)?;
            let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))).map_err(backend)?;
            for row in rows {
                let (id, ttl) = row.map_err(backend)?;
                leases.insert(id, (ttl, Instant::now() + Duration::from_secs(ttl.max(1) as u64)));
            }
        }
        let shared = Arc::new(Shared {
            path,
            revision: AtomicI64::new(revision),
            compact_revision: AtomicI64::new(compact),
            readers: Mutex::new(Vec::new()),
            subscribers: Mutex::new(Vec::new()),
        });
        let (tx, rx) = mpsc::channel();
        let writer = Writer { conn, shared: shared.clone(), rx, rev: revision, leases };
        std::thread::Builder::new().name("wharf-store-writer".into()).spawn(move || writer.run()).map_err(backend)?;
        Ok(Self { shared, tx })
    }

    async fn call<T: Send + 'static>(&self, f: impl FnOnce(Reply<T>) -> Cmd) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(f(tx)).map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    fn with_reader<T: Send + 'static>(&self, f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static) -> impl std::future::Future<Output = Result<T>> {
        let shared = self.shared.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let conn = shared.readers.lock().map_err(backend)?.pop();
                let mut conn = match conn {
                    Some(c) => c,
                    None => open(&shared.path)?,
                };
                let r = f(&mut conn);
                if let Ok(mut pool) = shared.readers.lock() {
                    if pool.len() < READERS {
                        pool.push(conn);
                    }
                }
                r
            })
            .await
            .map_err(backend)?
        }
    }
}

fn key_clause(col: &str, start: &[u8], end: &[u8]) -> (String, Vec<Vec<u8>>) {
    if end.is_empty() {
        (format!("{col} = ?"), vec![start.to_vec()])
    } else if end == [0] {
        (format!("{col} >= ?"), vec![start.to_vec()])
    } else {
        (format!("{col} >= ? AND {col} < ?"), vec![start.to_vec(), end.to_vec()])
    }
}

fn row_kv(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyValue> {
    Ok(KeyValue {
        key: r.get(0)?,
        value: r.get::<_, Option<Vec<u8>>>(1)?.unwrap_or_default(),
        create_revision: r.get(2)?,
        mod_revision: r.get(3)?,
        version: r.get(4)?,
        lease: r.get(5)?,
    })
}

/// Range over the current or a past revision, on any connection (inside a transaction when
/// called by the writer).
fn range(conn: &Connection, req: &RangeRequest, current: i64, compact: i64) -> Result<RangeResponse> {
    if req.revision > 0 && req.revision < compact {
        return Err(StoreError::Compacted { compact_revision: compact });
    }
    if req.revision > current {
        return Err(StoreError::FutureRevision);
    }
    let limit = if req.limit > 0 { req.limit } else { i64::MAX };
    if req.revision == 0 || req.revision == current {
        let (clause, args) = key_clause("x.key", &req.key, &req.range_end);
        let count: i64 = conn
            .prepare_cached(&format!("SELECT count(*) FROM kv x WHERE {clause}"))
            .and_then(|mut st| st.query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0)))
            .map_err(backend)?;
        if req.count_only {
            return Ok(RangeResponse { revision: current, kvs: vec![], more: false, count });
        }
        let sql = format!(
            "SELECT x.key, l.value, l.create_rev, l.rev, l.version, l.lease FROM kv x
             JOIN log l ON l.rev = x.rev AND l.sub = x.sub WHERE {clause} ORDER BY x.key LIMIT {}",
            limit.saturating_add(1)
        );
        let mut st = conn.prepare_cached(&sql).map_err(backend)?;
        let mut kvs: Vec<KeyValue> = st
            .query_map(rusqlite::params_from_iter(args.iter()), row_kv)
            .map_err(backend)?
            .collect::<rusqlite::Result<_>>()
            .map_err(backend)?;
        let more = kvs.len() as i64 > limit;
        kvs.truncate(limit.min(kvs.len() as i64) as usize);
        return Ok(RangeResponse { revision: current, kvs, more, count });
    }
    // A past revision: the newest log row of each key at or before it, unless a tombstone.
    let (clause, args) = key_clause("m.k", &req.key, &req.range_end);
    let sql = format!(
        "SELECT l.key, l.value, l.create_rev, l.rev, l.version, l.lease, l.deleted FROM log l
         JOIN (SELECT key AS k, max(rev) AS mr FROM log WHERE rev <= ?1 GROUP BY key) m ON l.key = m.k AND l.rev = m.mr
         WHERE {clause} ORDER BY l.key"
    );
    let mut st = conn.prepare_cached(&sql).map_err(backend)?;
    let mut all_args: Vec<rusqlite::types::Value> = vec![rusqlite::types::Value::Integer(req.revision)];
    all_args.extend(args.into_iter().map(rusqlite::types::Value::Blob));
    let rows = st
        .query_map(rusqlite::params_from_iter(all_args.iter()), |r| Ok((row_kv(r)?, r.get::<_, i64>(6)?)))
        .map_err(backend)?;
    let mut kvs = Vec::new();
    let mut count = 0i64;
    for row in rows {
        let (kv, deleted) = row.map_err(backend)?;
        if deleted != 0 {
            continue;
        }
        count += 1;
        if !req.count_only && (kvs.len() as i64) < limit {
            kvs.push(kv);
        }
    }
    let more = count > kvs.len() as i64 && !req.count_only;
    Ok(RangeResponse { revision: current, kvs, more, count })
}

fn read_current(conn: &Connection, key: &[u8]) -> Result<Option<(KeyValue, i64)>> {
    conn.prepare_cached(
        "SELECT x.key, l.value, l.create_rev, l.rev, l.version, l.lease, l.sub FROM kv x JOIN log l ON l.rev = x.rev AND l.sub = x.sub WHERE x.key = ?",
    )
    .and_then(|mut st| st.query_row([key], |r| Ok((row_kv(r)?, r.get::<_, i64>(6)?))).optional())
    .map_err(backend)
}

struct Writer {
    conn: Connection,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Cmd>,
    /// The last committed revision (and, during a batch, the last assigned one).
    rev: i64,
    /// id → (ttl, deadline)
    leases: HashMap<i64, (i64, Instant)>,
}

/// What one command produced inside the batch, applied after commit.
struct Done {
    events: Vec<WatchResponse>,
    reply: Box<dyn FnOnce() + Send>,
}

impl Writer {
    fn run(mut self) {
        loop {
            let timeout = self
                .leases
                .values()
                .map(|(_, d)| d.saturating_duration_since(Instant::now()))
                .min()
                .unwrap_or(Duration::from_secs(3600))
                .max(Duration::from_millis(10));
            let mut batch = Vec::new();
            match self.rx.recv_timeout(timeout) {
                Ok(c) => batch.push(c),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            while batch.len() < MAX_BATCH {
                match self.rx.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(_) => break,
                }
            }
            self.process(batch);
        }
        tracing::debug!("store writer stopped");
    }

    fn expired_leases(&self) -> Vec<i64> {
        let now = Instant::now();
        self.leases.iter().filter(|(_, (_, d))| *d <= now).map(|(id, _)| *id).collect()
    }

    fn process(&mut self, batch: Vec<Cmd>) {
        let expired = self.expired_leases();
        if batch.is_empty() && expired.is_empty() {
            return;
        }
        let start_rev = self.rev;
        let leases_before = self.leases.clone();
        if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
            let msg = e.to_string();
            for c in batch {
                fail(c, StoreError::Backend(msg.clone()));
            }
            return;
        }
        let mut done: Vec<Done> = Vec::with_capacity(batch.len());
        for id in expired {
            match self.savepoint(|w| w.revoke(id)) {
                Ok(ev) => done.push(Done { events: ev, reply: Box::new(|| {}) }),
                Err(e) => tracing::warn!(lease = id, error = %e, "revoking expired lease failed"),
            }
        }
        for cmd in batch {
            done.push(self.apply(cmd));
        }
        let committed = self
            .conn
            .execute("UPDATE meta SET value = ? WHERE name = 'revision'", [self.rev])
            .and_then(|_| self.conn.execute_batch("COMMIT"));
        if let Err(e) = committed {
            let _ = self.conn.execute_batch("ROLLBACK");
            tracing::error!(error = %e, "store commit failed");
            self.rev = start_rev;
            self.leases = leases_before;
            // Replies were not sent yet: dropping them reports `Closed` to callers, who
            // must treat the write as not acknowledged.
            return;
        }
        {
            let mut subs = match self.shared.subscribers.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            for d in &done {
                for wr in &d.events {
                    publish(&mut subs, wr);
                }
            }
            let rev = self.rev;
            subs.retain_mut(|sub| {
                if sub.progress_notify && sub.last_sent < rev {
                    sub.last_sent = rev;
                    return sub.tx.send(WatchResponse { revision: rev, events: vec![] }).is_ok();
                }
                true
            });
        }
        self.shared.revision.store(self.rev, Ordering::Release);
        for d in done {
            (d.reply)();
        }
    }

    fn savepoint<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let rev = self.rev;
        self.conn.execute_batch("SAVEPOINT cmd").map_err(backend)?;
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch("RELEASE cmd").map_err(backend)?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK TO cmd; RELEASE cmd");
                self.rev = rev;
                Err(e)
            }
        }
    }

    fn apply(&mut self, cmd: Cmd) -> Done {
        fn done<T: Send + 'static>(events: Vec<WatchResponse>, tx: Reply<T>, r: Result<T>) -> Done {
            Done { events, reply: Box::new(move || drop(tx.send(r))) }
        }
        match cmd {
            Cmd::Txn(req, tx) => match self.savepoint(|w| w.txn(&req)) {
                Ok((resp, events)) => done(events, tx, Ok(resp)),
                Err(e) => done(vec![], tx, Err(e)),
            },
            Cmd::Compact(rev, tx) => {
                let r = self.savepoint(|w| w.compact(rev));
                done(vec![], tx, r)
            }
            Cmd::LeaseGrant(ttl, id, tx) => {
                let r = self.savepoint(|w| w.grant(ttl, id));
                done(vec![], tx, r)
            }
            Cmd::LeaseRevoke(id, tx) => match self.savepoint(|w| w.revoke(id)) {
                Ok(ev) => done(ev, tx, Ok(())),
                Err(e) => done(vec![], tx, Err(e)),
            },
            Cmd::LeaseKeepAlive(id, tx) => {
                let r = match self.leases.get_mut(&id) {
                    Some((ttl, deadline)) => {
                        *deadline = Instant::now() + Duration::from_secs((*ttl).max(1) as u64);
                        Ok(*ttl)
                    }
                    None => Err(StoreError::LeaseNotFound),
                };
                done(vec![], tx, r)
            }
        }
    }

    fn grant(&mut self, ttl: i64, id: i64) -> Result<LeaseGrant> {
        let ttl = ttl.max(1);
        let id = if id == 0 {
            let mut id = (Instant::now().elapsed().as_nanos() as i64) ^ (self.rev << 20) ^ 0x5eed;
            while id <= 0 || self.leases.contains_key(&id) {
                id = id.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) & i64::MAX;
            }
            id
        } else {
            id
        };
        if self.leases.contains_key(&id) {
            return Err(StoreError::InvalidRequest("lease already exists".into()));
        }
        self.conn.execute("INSERT INTO leases VALUES (?, ?)", params![id, ttl]).map_err(backend)?;
        self.leases.insert(id, (ttl, Instant::now() + Duration::from_secs(ttl as u64)));
        Ok(LeaseGrant { id, ttl })
    }

    fn revoke(&mut self, id: i64) -> Result<Vec<WatchResponse>> {
        if self.leases.remove(&id).is_none() {
            return Err(StoreError::LeaseNotFound);
        }
        self.conn.execute("DELETE FROM leases WHERE id = ?", [id]).map_err(backend)?;
        let keys: Vec<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT x.key FROM kv x JOIN log l ON l.rev = x.rev AND l.sub = x.sub WHERE l.lease = ? ORDER BY x.key")
            .and_then(|mut st| st.query_map([id], |r| r.get(0))?.collect())
            .map_err(backend)?;
        if keys.is_empty() {
            return Ok(vec![]);
        }
        let ops: Vec<Op> = keys.into_iter().map(Op::delete).collect();
        let (_, events) = self.txn(&TxnRequest { compare: vec![], success: ops, failure: vec![] })?;
        Ok(events)
    }

    fn compact(&mut self, rev: i64) -> Result<()> {
        let compact = self.shared.compact_revision.load(Ordering::Acquire);
        if rev <= compact {
            return Err(StoreError::Compacted { compact_revision: compact });
        }
        if rev > self.rev {
            return Err(StoreError::FutureRevision);
        }
        self.conn
            .execute(
                "DELETE FROM log WHERE rev < ?1 AND EXISTS (SELECT 1 FROM log n WHERE n.key = log.key AND n.rev > log.rev AND n.rev <= ?1)",
                [rev],
            )
            .map_err(backend)?;
        self.conn.execute("DELETE FROM log WHERE rev < ?1 AND deleted = 1", [rev]).map_err(backend)?;
        self.conn.execute("UPDATE meta SET value = ? WHERE name = 'compact'", [rev]).map_err(backend)?;
        self.shared.compact_revision.store(rev, Ordering::Release);
        Ok(())
    }

    fn compare_holds(&self, c: &Compare) -> Result<bool> {
        let cur = read_current(&self.conn, &c.key)?.map(|(kv, _)| kv);
        use std::cmp::Ordering as O;
        let ord = match &c.target {
            CompareTarget::ModRevision(v) => cur.as_ref().map_or(0, |k| k.mod_revision).cmp(v),
            CompareTarget::CreateRevision(v) => cur.as_ref().map_or(0, |k| k.create_revision).cmp(v),
            CompareTarget::Version(v) => cur.as_ref().map_or(0, |k| k.version).cmp(v),
            CompareTarget::Value(v) => match &cur {
                Some(k) => k.value.as_slice().cmp(v.as_slice()),
                // etcd: a value compare on a missing key fails whatever the operator.
                None => return Ok(false),
            },
        };
        Ok(match c.result {
            CompareResult::Equal => ord == O::Equal,
            CompareResult::NotEqual => ord != O::Equal,
            CompareResult::Greater => ord == O::Greater,
            CompareResult::Less => ord == O::Less,
        })
    }

    fn txn(&mut self, req: &TxnRequest) -> Result<(TxnResponse, Vec<WatchResponse>)> {
        let mut seen = std::collections::HashSet::new();
        for op in req.success.iter().chain(req.failure.iter()) {
            if let Op::Put { key, .. } = op {
                if !seen.insert(key.clone()) {
                    return Err(StoreError::InvalidRequest("duplicate key given in txn request".into()));
                }
            }
        }
        let mut ok = true;
        for c in &req.compare {
            if !self.compare_holds(c)? {
                ok = false;
                break;
            }
        }
        let ops = if ok { &req.success } else { &req.failure };
        let writes = ops.iter().any(|o| !matches!(o, Op::Range(_)));
        let rev = if writes { self.rev + 1 } else { self.rev };
        let compact = self.shared.compact_revision.load(Ordering::Acquire);
        let mut sub = 0i64;
        let mut events = Vec::new();
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            match op {
                Op::Range(r) => responses.push(OpResponse::Range(range(&self.conn, r, self.rev, compact)?)),
                Op::Put { key, value, lease } => {
                    if *lease != 0 && !self.leases.contains_key(lease) {
                        return Err(StoreError::LeaseNotFound);
                    }
                    let prev = read_current(&self.conn, key)?.map(|(kv, _)| kv);
                    let kv = KeyValue {
                        key: key.clone(),
                        value: value.clone(),
                        create_revision: prev.as_ref().map_or(rev, |p| p.create_revision),
                        mod_revision: rev,
                        version: prev.as_ref().map_or(1, |p| p.version + 1),
                        lease: *lease,
                    };
                    self.conn
                        .prepare_cached("INSERT INTO log VALUES (?, ?, ?, ?, ?, ?, ?, 0)")
                        .and_then(|mut st| st.execute(params![rev, sub, key, value, kv.create_revision, kv.version, lease]))
                        .map_err(backend)?;
                    self.conn
                        .prepare_cached("INSERT INTO kv VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET rev = excluded.rev, sub = excluded.sub")
                        .and_then(|mut st| st.execute(params![key, rev, sub]))
                        .map_err(backend)?;
                    sub += 1;
                    events.push(Event { kind: EventType::Put, kv, prev_kv: prev.clone() });
                    responses.push(OpResponse::Put { prev_kv: prev });
                }
                Op::DeleteRange { key, range_end } => {
                    let current = range(&self.conn, &RangeRequest { key: key.clone(), range_end: range_end.clone(), ..Default::default() }, self.rev, compact)?;
                    for prev in &current.kvs {
                        self.conn
                            .prepare_cached("INSERT INTO log VALUES (?, ?, ?, NULL, 0, 0, 0, 1)")
                            .and_then(|mut st| st.execute(params![rev, sub, prev.key]))
                            .map_err(backend)?;
                        self.conn
                            .prepare_cached("DELETE FROM kv WHERE key = ?")
                            .and_then(|mut st| st.execute([&prev.key]))
                            .map_err(backend)?;
                        sub += 1;
                        events.push(Event {
                            kind: EventType::Delete,
                            kv: KeyValue { key: prev.key.clone(), mod_revision: rev, ..Default::default() },
                            prev_kv: Some(prev.clone()),
                        });
                    }
                    responses.push(OpResponse::DeleteRange { prev_kvs: current.kvs });
                }
            }
        }
        // A txn whose deletes matched nothing still takes a revision in etcd only if it wrote.
        let wrote = !events.is_empty();
        if wrote {
            self.rev = rev;
        }
        let watch = if wrote { vec![WatchResponse { revision: rev, events }] } else { vec![] };
        Ok((TxnResponse { revision: self.rev, succeeded: ok, responses }, watch))
    }
}

fn fail(c: Cmd, e: StoreError) {
    match c {
        Cmd::Txn(_, tx) => drop(tx.send(Err(e))),
        Cmd::Compact(_, tx) => drop(tx.send(Err(e))),
        Cmd::LeaseGrant(_, _, tx) => drop(tx.send(Err(e))),
        Cmd::LeaseRevoke(_, tx) => drop(tx.send(Err(e))),
        Cmd::LeaseKeepAlive(_, tx) => drop(tx.send(Err(e))),
    }
}

fn filter_for(sub: &Subscriber, wr: &WatchResponse) -> Option<WatchResponse> {
    let events: Vec<Event> = wr
        .events
        .iter()
        .filter(|e| in_range(&e.kv.key, &sub.key, &sub.end))
        .map(|e| Event { kind: e.kind, kv: e.kv.clone(), prev_kv: if sub.prev_kv { e.prev_kv.clone() } else { None } })
        .collect();
    (!events.is_empty()).then_some(WatchResponse { revision: wr.revision, events })
}

fn publish(subs: &mut Vec<Subscriber>, wr: &WatchResponse) {
    subs.retain_mut(|s| match filter_for(s, wr) {
        Some(out) => {
            s.last_sent = wr.revision;
            s.tx.send(out).is_ok()
        }
        None => !s.tx.is_closed(),
    });
}

/// Replays history `[from, to]` for a watch, grouped by revision.
fn replay(conn: &Connection, req: &WatchRequest, from: i64, to: i64) -> Result<Vec<WatchResponse>> {
    let mut st = conn
        .prepare_cached(
            "SELECT key, value, create_rev, rev, version, lease, deleted FROM log WHERE rev >= ? AND rev <= ? ORDER BY rev, sub",
        )
        .map_err(backend)?;
    let rows = st.query_map(params![from, to], |r| Ok((row_kv(r)?, r.get::<_, i64>(6)?))).map_err(backend)?;
    let mut out: Vec<WatchResponse> = Vec::new();
    for row in rows {
        let (kv, deleted) = row.map_err(backend)?;
        if !in_range(&kv.key, &req.key, &req.range_end) {
            continue;
        }
        let prev_kv = if req.prev_kv || deleted != 0 {
            conn.prepare_cached(
                "SELECT key, value, create_rev, rev, version, lease FROM log WHERE key = ? AND rev < ? AND deleted = 0
                 AND NOT EXISTS (SELECT 1 FROM log d WHERE d.key = log.key AND d.deleted = 1 AND d.rev > log.rev AND d.rev < ?2)
                 ORDER BY rev DESC LIMIT 1",
            )
            .and_then(|mut s| s.query_row(params![kv.key, kv.mod_revision], row_kv).optional())
            .map_err(backend)?
        } else {
            None
        };
        let ev = if deleted != 0 {
            Event {
                kind: EventType::Delete,
                kv: KeyValue { key: kv.key, mod_revision: kv.mod_revision, ..Default::default() },
                prev_kv: if req.prev_kv { prev_kv } else { None },
            }
        } else {
            Event { kind: EventType::Put, kv, prev_kv }
        };
        match out.last_mut() {
            Some(last) if last.revision == ev.kv.mod_revision => last.events.push(ev),
            _ => out.push(WatchResponse { revision: ev.kv.mod_revision, events: vec![ev] }),
        }
    }
    Ok(out)
}

#[async_trait]
impl KvStore for SqliteStore {
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        let shared = self.shared.clone();
        self.with_reader(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            let current: i64 = tx.query_row("SELECT value FROM meta WHERE name = 'revision'", [], |r| r.get(0)).map_err(backend)?;
            let compact = shared.compact_revision.load(Ordering::Acquire);
            let r = range(&tx, &req, current, compact);
            drop(tx);
            r
        })
        .await
    }

    async fn txn(&self, req: TxnRequest) -> Result<TxnResponse> {
        self.call(|tx| Cmd::Txn(req, tx)).await
    }

    async fn watch(&self, req: WatchRequest) -> Result<WatchStream> {
        let (live_tx, mut live_rx) = tmpsc::unbounded_channel();
        // Register first, then read the revision: every event after `registered_at` arrives live.
        let registered_at = {
            let mut subs = self.shared.subscribers.lock().map_err(backend)?;
            let rev = self.shared.revision.load(Ordering::Acquire);
            subs.push(Subscriber { key: req.key.clone(), end: req.range_end.clone(), prev_kv: req.prev_kv, progress_notify: req.progress_notify, last_sent: rev, tx: live_tx });
            rev
        };
        let compact = self.shared.compact_revision.load(Ordering::Acquire);
        let (out_tx, out_rx) = tmpsc::unbounded_channel::<Result<WatchResponse>>();
        let start = req.start_revision;
        if start > 0 && start < compact {
            let _ = out_tx.send(Err(StoreError::Compacted { compact_revision: compact }));
        } else {
            let history = if start > 0 && start <= registered_at {
                let r = req.clone();
                self.with_reader(move |conn| replay(conn, &r, start, registered_at)).await
            } else {
                Ok(vec![])
            };
            tokio::spawn(async move {
                match history {
                    Ok(h) => {
                        for wr in h {
                            if out_tx.send(Ok(wr)).is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        let _ = out_tx.send(Err(e));
                        return;
                    }
                }
                while let Some(wr) = live_rx.recv().await {
                    if wr.revision <= registered_at || (start > 0 && wr.revision < start) {
                        continue;
                    }
                    if out_tx.send(Ok(wr)).is_err() {
                        return;
                    }
                }
            });
        }
        let mut out_rx = out_rx;
        Ok(Box::pin(futures::stream::poll_fn(move |cx| out_rx.poll_recv(cx))))
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.call(|tx| Cmd::Compact(revision, tx)).await
    }

    async fn lease_grant(&self, ttl: i64, id: i64) -> Result<LeaseGrant> {
        self.call(|tx| Cmd::LeaseGrant(ttl, id, tx)).await
    }

    async fn lease_revoke(&self, id: i64) -> Result<()> {
        self.call(|tx| Cmd::LeaseRevoke(id, tx)).await
    }

    async fn lease_keep_alive(&self, id: i64) -> Result<i64> {
        self.call(|tx| Cmd::LeaseKeepAlive(id, tx)).await
    }

    async fn current_revision(&self) -> Result<i64> {
        Ok(self.shared.revision.load(Ordering::Acquire))
    }
}
