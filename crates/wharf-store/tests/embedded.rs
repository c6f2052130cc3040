//! Behaviour of the embedded backend against the etcd v3 contract.

use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use wharf_store::sqlite::SqliteStore;
use wharf_store::*;

fn k(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

async fn next(w: &mut WatchStream) -> WatchResponse {
    match tokio::time::timeout(Duration::from_secs(5), w.next()).await {
        Ok(Some(Ok(r))) => r,
        other => panic!("no watch response: {other:?}"),
    }
}

#[tokio::test]
async fn puts_assign_global_revisions_and_per_key_versions() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    let r1 = s.put(k("/a"), k("1")).await.unwrap();
    let r2 = s.put(k("/b"), k("1")).await.unwrap();
    let r3 = s.put(k("/a"), k("2")).await.unwrap();
    assert_eq!((r2, r3), (r1 + 1, r1 + 2));
    let a = s.get(k("/a")).await.unwrap().unwrap();
    assert_eq!((a.create_revision, a.mod_revision, a.version, a.value.as_slice()), (r1, r3, 2, &b"2"[..]));
    assert_eq!(s.current_revision().await.unwrap(), r3);
}

#[tokio::test]
async fn txn_compare_on_mod_revision_guards_concurrent_updates() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    let rev = s.put(k("/x"), k("v1")).await.unwrap();
    let update = |expect: i64, v: &str| TxnRequest {
        compare: vec![Compare::mod_revision(k("/x"), expect)],
        success: vec![Op::put(k("/x"), k(v))],
        failure: vec![Op::Range(RangeRequest { key: k("/x"), ..Default::default() })],
    };
    let ok = s.txn(update(rev, "v2")).await.unwrap();
    assert!(ok.succeeded);
    let stale = s.txn(update(rev, "v3")).await.unwrap();
    assert!(!stale.succeeded);
    match &stale.responses[0] {
        OpResponse::Range(r) => assert_eq!(r.kvs[0].value, k("v2")),
        other => panic!("unexpected {other:?}"),
    }
    // Create-if-absent: mod revision 0 means "does not exist".
    let create = TxnRequest { compare: vec![Compare::mod_revision(k("/new"), 0)], success: vec![Op::put(k("/new"), k("1"))], failure: vec![] };
    assert!(s.txn(create.clone()).await.unwrap().succeeded);
    assert!(!s.txn(create).await.unwrap().succeeded);
}

#[tokio::test]
async fn range_pages_with_limit_and_reads_past_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    for i in 0..10 {
        s.put(k(&format!("/p/{i:02}")), k("v")).await.unwrap();
    }
    let mid = s.current_revision().await.unwrap();
    s.txn(TxnRequest { success: vec![Op::delete(k("/p/00")), Op::put(k("/p/05"), k("changed"))], ..Default::default() }).await.unwrap();
    let page = s.range(RangeRequest { key: k("/p/"), range_end: prefix_end(b"/p/"), limit: 4, ..Default::default() }).await.unwrap();
    assert_eq!(page.kvs.len(), 4);
    assert!(page.more);
    assert_eq!(page.count, 9);
    assert_eq!(page.kvs[0].key, k("/p/01"));
    let old = s.range(RangeRequest { key: k("/p/"), range_end: prefix_end(b"/p/"), revision: mid, ..Default::default() }).await.unwrap();
    assert_eq!(old.kvs.len(), 10);
    assert_eq!(old.kvs[5].value, k("v"));
    let future = s.range(RangeRequest { key: k("/p/"), revision: mid + 100, ..Default::default() }).await;
    assert!(matches!(future, Err(StoreError::FutureRevision)));
}

#[tokio::test]
async fn watch_from_a_revision_replays_history_in_order_then_streams_live_events() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    let first = s.put(k("/w/a"), k("1")).await.unwrap();
    s.put(k("/other"), k("x")).await.unwrap();
    s.put(k("/w/b"), k("1")).await.unwrap();
    s.txn(TxnRequest { success: vec![Op::delete(k("/w/a"))], ..Default::default() }).await.unwrap();
    let mut w = s.watch(WatchRequest { key: k("/w/"), range_end: prefix_end(b"/w/"), start_revision: first, prev_kv: true, progress_notify: false }).await.unwrap();
    let e1 = next(&mut w).await;
    assert_eq!((e1.revision, e1.events[0].kind), (first, EventType::Put));
    let e2 = next(&mut w).await;
    assert_eq!(e2.events[0].kv.key, k("/w/b"));
    let e3 = next(&mut w).await;
    assert_eq!(e3.events[0].kind, EventType::Delete);
    assert_eq!(e3.events[0].prev_kv.as_ref().map(|p| p.value.clone()), Some(k("1")));
    let live = s.put(k("/w/c"), k("2")).await.unwrap();
    let e4 = next(&mut w).await;
    assert_eq!((e4.revision, e4.events[0].kv.key.clone()), (live, k("/w/c")));
}

#[tokio::test]
async fn compaction_refuses_reads_and_watches_of_discarded_history() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    let r1 = s.put(k("/c"), k("1")).await.unwrap();
    s.put(k("/c"), k("2")).await.unwrap();
    let r3 = s.put(k("/c"), k("3")).await.unwrap();
    s.compact(r3).await.unwrap();
    let old = s.range(RangeRequest { key: k("/c"), revision: r1, ..Default::default() }).await;
    assert!(matches!(old, Err(StoreError::Compacted { compact_revision }) if compact_revision == r3));
    let mut w = s.watch(WatchRequest { key: k("/c"), start_revision: r1, ..Default::default() }).await.unwrap();
    assert!(matches!(w.next().await, Some(Err(StoreError::Compacted { .. }))));
    assert_eq!(s.get(k("/c")).await.unwrap().unwrap().value, k("3"));
}

#[tokio::test]
async fn expired_lease_deletes_its_keys_and_keep_alive_extends_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    let short = s.lease_grant(1, 0).await.unwrap();
    let kept = s.lease_grant(1, 0).await.unwrap();
    s.txn(TxnRequest { success: vec![Op::Put { key: k("/l/short"), value: k("v"), lease: short.id }, Op::Put { key: k("/l/kept"), value: k("v"), lease: kept.id }], ..Default::default() }).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        s.lease_keep_alive(kept.id).await.unwrap();
        if s.get(k("/l/short")).await.unwrap().is_none() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "lease never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(s.get(k("/l/kept")).await.unwrap().is_some());
    assert!(matches!(s.lease_keep_alive(short.id).await, Err(StoreError::LeaseNotFound)));
}

#[tokio::test]
async fn reopening_keeps_every_acknowledged_write_and_the_revision() {
    let dir = tempfile::tempdir().unwrap();
    let last = {
        let s = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let mut tasks = Vec::new();
        for i in 0..64 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move { s.put(k(&format!("/r/{i}")), k("v")).await.unwrap() }));
        }
        let mut revs = Vec::new();
        for t in tasks {
            revs.push(t.await.unwrap());
        }
        revs.sort();
        revs.dedup();
        assert_eq!(revs.len(), 64, "every write gets its own revision");
        s.current_revision().await.unwrap()
    };
    let s = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(s.current_revision().await.unwrap(), last);
    let all = s.range(RangeRequest { key: k("/r/"), range_end: prefix_end(b"/r/"), ..Default::default() }).await.unwrap();
    assert_eq!(all.kvs.len(), 64);
}

#[tokio::test]
async fn prefixed_views_are_isolated_from_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let base: Arc<dyn KvStore> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let a = Prefixed::new(base.clone(), "/clusters/a");
    let b = Prefixed::new(base.clone(), "/clusters/b");
    a.put(k("/x"), k("from-a")).await.unwrap();
    b.put(k("/x"), k("from-b")).await.unwrap();
    let all_a = a.range(RangeRequest { key: k("/"), range_end: vec![0], ..Default::default() }).await.unwrap();
    assert_eq!(all_a.kvs.len(), 1);
    assert_eq!(all_a.kvs[0].key, k("/x"));
    assert_eq!(all_a.kvs[0].value, k("from-a"));
}

#[tokio::test]
async fn progress_notifications_report_revisions_moved_by_writes_outside_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    let mut w = s.watch(WatchRequest { key: k("/mine/"), range_end: prefix_end(b"/mine/"), progress_notify: true, ..Default::default() }).await.unwrap();
    let rev = s.put(k("/theirs/x"), k("1")).await.unwrap();
    let p = next(&mut w).await;
    assert_eq!((p.revision, p.events.len()), (rev, 0));
    let rev = s.put(k("/mine/y"), k("1")).await.unwrap();
    let e = next(&mut w).await;
    assert_eq!((e.revision, e.events.len()), (rev, 1));
}
