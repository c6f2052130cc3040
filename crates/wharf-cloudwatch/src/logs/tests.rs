use super::*;
use wharf_store::sqlite::SqliteStore;

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    store: Arc<dyn KvStore>,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let store: Arc<dyn KvStore> = Arc::new(SqliteStore::open(&dir.join("store")).unwrap());
    Env { _tmp: tmp, dir, store }
}

fn open(e: &Env, limits: SegmentLimits) -> Logs {
    let mut cfg = LogsConfig::new(e.dir.join("logs"), "123456789012", "us-east-1");
    cfg.segments = limits;
    Logs::open(e.store.clone(), cfg).unwrap()
}

fn ev(ts: i64, m: &str) -> InputEvent {
    InputEvent { timestamp: ts, message: m.into() }
}

fn msgs(v: &[OutputEvent]) -> Vec<&str> {
    v.iter().map(|e| e.message.as_str()).collect()
}

#[test]
fn batches_out_of_order_too_large_or_spanning_a_day_are_refused() {
    let now = 100 * DAY_MS;
    assert!(matches!(validate_batch(&[ev(now, "b"), ev(now - 1, "a")], now, None), Err(LogsError::InvalidParameter(m)) if m.contains("chronological")));
    let big = "x".repeat(600_000);
    assert!(matches!(validate_batch(&[ev(now, &big), ev(now, &big)], now, None), Err(LogsError::InvalidParameter(m)) if m.contains("too large")));
    // 26 bytes per event count: 1,048,576 / 26 events of one byte is over the limit.
    let many: Vec<_> = (0..10_000).map(|_| ev(now, "x")).collect();
    assert!(validate_batch(&many, now, None).is_ok());
    let too_many: Vec<_> = (0..10_001).map(|_| ev(now, "x")).collect();
    assert!(validate_batch(&too_many, now, None).is_err());
    assert!(matches!(validate_batch(&[ev(now - 25 * HOUR_MS, "a"), ev(now, "b")], now, None), Err(LogsError::InvalidParameter(m)) if m.contains("24 hours")));
    assert!(validate_batch(&[], now, None).is_err());
}

#[test]
fn too_old_expired_and_too_new_events_are_rejected_by_index() {
    let now = 100 * DAY_MS;
    let events = [ev(now - 15 * DAY_MS, "old"), ev(now - 2 * DAY_MS, "expired"), ev(now - 1000, "ok"), ev(now, "ok2"), ev(now + 3 * HOUR_MS, "new")];
    // The span rule applies to the accepted events only.
    let (range, rej) = validate_batch(&events, now, Some(1)).unwrap();
    assert_eq!(range, 2..4);
    assert_eq!(rej, Rejected { too_new_start: Some(4), too_old_end: Some(1), expired_end: Some(2) });
    let (range, rej) = validate_batch(&events[2..4], now, Some(1)).unwrap();
    assert_eq!((range, rej.any()), (0..2, false));
}

fn now() -> i64 {
    super::now_ms()
}

#[tokio::test]
async fn events_put_are_read_back_forward_and_backward_with_repeating_tokens_at_the_end() {
    let e = env();
    let logs = open(&e, SegmentLimits { max_bytes: 200, max_age_ms: i64::MAX });
    logs.create_group("/app/web", None, None, BTreeMap::new()).await.unwrap();
    logs.create_stream("/app/web", "i-1").await.unwrap();
    let t = now();
    for i in 0..10 {
        let r = logs.put_log_events("/app/web", "i-1", vec![ev(t + i, &format!("line {i}"))]).await.unwrap();
        assert!(!r.any());
    }
    // From the head, in pages of 4, until the forward token repeats.
    let mut token = None;
    let mut seen = Vec::new();
    loop {
        let r = logs.get_log_events("/app/web", "i-1", GetQuery { limit: Some(4), start_from_head: true, next_token: token.clone(), ..Default::default() }).await.unwrap();
        seen.extend(r.events.iter().map(|e| e.message.clone()));
        if token.as_deref() == Some(r.next_forward_token.as_str()) {
            break;
        }
        assert!(r.next_forward_token.starts_with("f/") && r.next_backward_token.starts_with("b/"));
        token = Some(r.next_forward_token);
    }
    assert_eq!(seen, (0..10).map(|i| format!("line {i}")).collect::<Vec<_>>());
    // Without a token and startFromHead false: the newest events; then backward.
    let r = logs.get_log_events("/app/web", "i-1", GetQuery { limit: Some(3), ..Default::default() }).await.unwrap();
    assert_eq!(msgs(&r.events), ["line 7", "line 8", "line 9"]);
    let back = logs.get_log_events("/app/web", "i-1", GetQuery { limit: Some(3), next_token: Some(r.next_backward_token), ..Default::default() }).await.unwrap();
    assert_eq!(msgs(&back.events), ["line 4", "line 5", "line 6"]);
    // The forward token of the tail picks up what is appended later.
    let fwd = r.next_forward_token;
    let empty = logs.get_log_events("/app/web", "i-1", GetQuery { next_token: Some(fwd.clone()), ..Default::default() }).await.unwrap();
    assert!(empty.events.is_empty());
    assert_eq!(empty.next_forward_token, fwd);
    logs.put_log_events("/app/web", "i-1", vec![ev(t + 20, "later")]).await.unwrap();
    let more = logs.get_log_events("/app/web", "i-1", GetQuery { next_token: Some(fwd), ..Default::default() }).await.unwrap();
    assert_eq!(msgs(&more.events), ["later"]);
    // Time ranges: start inclusive, end exclusive.
    let r = logs.get_log_events("/app/web", "i-1", GetQuery { start_time: Some(t + 2), end_time: Some(t + 5), start_from_head: true, ..Default::default() }).await.unwrap();
    assert_eq!(msgs(&r.events), ["line 2", "line 3", "line 4"]);
    assert!(logs.get_log_events("/app/web", "i-1", GetQuery { next_token: Some("x/1".into()), ..Default::default() }).await.is_err());
}

#[tokio::test]
async fn filter_merges_streams_by_time_and_pages_with_a_token() {
    let e = env();
    let logs = open(&e, SegmentLimits::default());
    let t = now();
    logs.put_events("g", "a", vec![ev(t, r#"{"level":"error","latency":5}"#), ev(t + 2, "ERROR disk full")]).await.unwrap();
    logs.put_events("g", "b", vec![ev(t + 1, r#"{"level":"info","latency":500}"#), ev(t + 3, "WARN slow")]).await.unwrap();
    let all = logs.filter_log_events("g", FilterQuery::default()).await.unwrap();
    assert_eq!(all.events.iter().map(|e| e.event.timestamp - t).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(all.searched, ["a", "b"]);
    assert!(all.next_token.is_none());
    let ids: std::collections::HashSet<_> = all.events.iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(ids.len(), 4);
    let f = |p: &str| FilterQuery { pattern: Some(p.into()), ..Default::default() };
    let r = logs.filter_log_events("g", f("ERROR")).await.unwrap();
    assert_eq!(r.events.iter().map(|e| e.event.message.as_str()).collect::<Vec<_>>(), ["ERROR disk full"]);
    let r = logs.filter_log_events("g", f(r#"{ $.level = "error" }"#)).await.unwrap();
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].stream, "a");
    let r = logs.filter_log_events("g", f("{ $.latency > 100 }")).await.unwrap();
    assert_eq!(r.events[0].stream, "b");
    let r = logs.filter_log_events("g", FilterQuery { stream_names: Some(vec!["b".into()]), ..Default::default() }).await.unwrap();
    assert_eq!(r.events.len(), 2);
    let r = logs.filter_log_events("g", FilterQuery { start_time: Some(t + 1), end_time: Some(t + 2), ..Default::default() }).await.unwrap();
    assert_eq!(r.events.len(), 2);
    // Paging: two at a time, every event once.
    let mut token = None;
    let mut got = Vec::new();
    loop {
        let r = logs.filter_log_events("g", FilterQuery { limit: Some(3), next_token: token, ..Default::default() }).await.unwrap();
        got.extend(r.events.into_iter().map(|e| e.event_id));
        match r.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(got.len(), 4);
    assert!(matches!(logs.filter_log_events("g", f("{ $.x = ")).await, Err(LogsError::InvalidParameter(_))));
}

#[tokio::test]
async fn groups_and_streams_are_unique_and_deleting_a_group_removes_its_data() {
    let e = env();
    let logs = open(&e, SegmentLimits::default());
    logs.create_group("g", Some("STANDARD"), None, BTreeMap::from([("team".to_string(), "a".to_string())])).await.unwrap();
    assert!(matches!(logs.create_group("g", None, None, BTreeMap::new()).await, Err(LogsError::AlreadyExists(_))));
    assert!(matches!(logs.create_group("bad name", None, None, BTreeMap::new()).await, Err(LogsError::InvalidParameter(_))));
    assert!(matches!(logs.create_stream("nope", "s").await, Err(LogsError::NotFound(_))));
    logs.create_stream("g", "s").await.unwrap();
    assert!(matches!(logs.create_stream("g", "s").await, Err(LogsError::AlreadyExists(_))));
    logs.put_log_events("g", "s", vec![ev(now(), "hello")]).await.unwrap();
    let g = logs.group("g").await.unwrap();
    assert!(e.dir.join("logs").join(&g.uid).exists());
    assert!(matches!(logs.set_retention("g", Some(2)).await, Err(LogsError::InvalidParameter(_))));
    logs.set_retention("g", Some(7)).await.unwrap();
    assert_eq!(logs.group("g").await.unwrap().retention_in_days, Some(7));
    logs.delete_group("g").await.unwrap();
    assert!(!e.dir.join("logs").join(&g.uid).exists());
    assert!(matches!(logs.group("g").await, Err(LogsError::NotFound(_))));
    // Recreated, the group starts empty.
    logs.put_events("g", "s", vec![ev(now(), "new")]).await.unwrap();
    let r = logs.filter_log_events("g", FilterQuery::default()).await.unwrap();
    assert_eq!(r.events.len(), 1);
}

#[tokio::test]
async fn maintenance_applies_retention_and_the_size_cap_by_whole_segments() {
    let e = env();
    let mut cfg = LogsConfig::new(e.dir.join("logs"), "123456789012", "us-east-1");
    cfg.segments = SegmentLimits { max_bytes: 1, max_age_ms: i64::MAX };
    let logs = Logs::open(e.store.clone(), cfg.clone()).unwrap();
    let t = now();
    for i in 0..4 {
        logs.put_events("g", "s", vec![ev(t - (4 - i) * DAY_MS + HOUR_MS, &format!("day {i} {}", "x".repeat(40)))]).await.unwrap();
    }
    logs.set_retention("g", Some(3)).await.unwrap();
    let r = logs.maintain().await.unwrap();
    assert!(r.expired_bytes > 0, "{r:?}");
    let left = logs.filter_log_events("g", FilterQuery::default()).await.unwrap();
    assert_eq!(left.events.len(), 3);
    // 3 segments of ~71 bytes against a cap of 150: the oldest goes.
    cfg.max_total_bytes = Some(150);
    let logs = Logs::open(e.store.clone(), cfg).unwrap();
    let r = logs.maintain().await.unwrap();
    assert!(r.capped_bytes > 0, "{r:?}");
    let left = logs.filter_log_events("g", FilterQuery::default()).await.unwrap();
    assert_eq!(left.events.iter().map(|e| e.event.message.split(' ').nth(1).unwrap().to_string()).collect::<Vec<_>>(), ["2", "3"].map(String::from));
}

#[tokio::test]
async fn events_survive_reopening_and_stream_stats_are_rebuilt() {
    let e = env();
    let t = now();
    {
        let logs = open(&e, SegmentLimits { max_bytes: 100, max_age_ms: i64::MAX });
        for i in 0..5 {
            logs.put_events("g", "s", vec![ev(t + i, &format!("e{i}"))]).await.unwrap();
        }
    }
    let logs = open(&e, SegmentLimits { max_bytes: 100, max_age_ms: i64::MAX });
    let g = logs.group("g").await.unwrap();
    let s = logs.stream(&g, "s").await.unwrap();
    let st = logs.stream_stats(&g, &s).await.unwrap();
    assert_eq!((st.first_event, st.last_event), (Some(t), Some(t + 4)));
    assert_eq!(st.stored_bytes, 5 * (2 + 26));
    let r = logs.get_log_events("g", "s", GetQuery { start_from_head: true, ..Default::default() }).await.unwrap();
    assert_eq!(msgs(&r.events), ["e0", "e1", "e2", "e3", "e4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_to_one_stream_all_land_whole() {
    let e = env();
    let logs = Arc::new(open(&e, SegmentLimits { max_bytes: 4096, max_age_ms: i64::MAX }));
    logs.put_events("g", "s", vec![ev(now(), "first")]).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let logs = logs.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let batch = (0..4).map(|j| ev(now(), &format!("w{w} i{i} j{j}"))).collect();
                logs.put_log_events("g", "s", batch).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut n = 0;
    let mut token = None;
    loop {
        let r = logs.filter_log_events("g", FilterQuery { next_token: token, ..Default::default() }).await.unwrap();
        n += r.events.len();
        match r.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(n, 1 + 8 * 25 * 4);
    // Batches stay contiguous: each batch's four events follow each other in the stream.
    let r = logs.get_log_events("g", "s", GetQuery { start_from_head: true, ..Default::default() }).await.unwrap();
    for w in r.events[1..].chunks(4) {
        let prefix = w[0].message.rsplit_once(' ').unwrap().0;
        assert!(w.iter().all(|e| e.message.starts_with(prefix)), "{w:?}");
    }
}

#[tokio::test]
async fn maintenance_removes_data_of_streams_that_no_longer_exist() {
    let e = env();
    let logs = open(&e, SegmentLimits::default());
    logs.put_events("g", "s", vec![ev(now(), "kept")]).await.unwrap();
    let orphan = e.dir.join("logs").join("00000000deadbeef").join("00000000cafebabe");
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("0000000000000001.seg"), b"x").unwrap();
    let r = logs.maintain().await.unwrap();
    assert_eq!(r.orphans, 1);
    assert!(!orphan.exists());
    assert_eq!(logs.filter_log_events("g", FilterQuery::default()).await.unwrap().events.len(), 1);
}

#[tokio::test]
async fn a_long_search_answers_in_parts_with_a_token_and_misses_nothing() {
    let e = env();
    let logs = open(&e, SegmentLimits::default());
    let t = now();
    let a: Vec<_> = (0..50).map(|i| ev(t + 2 * i, if i % 10 == 0 { "needle a" } else { "hay" })).collect();
    let b: Vec<_> = (0..50).map(|i| ev(t + 2 * i + 1, if i % 25 == 0 { "needle b" } else { "hay" })).collect();
    logs.put_events("g", "a", a).await.unwrap();
    logs.put_events("g", "b", b).await.unwrap();
    let mut token = None;
    let mut found = Vec::new();
    let mut calls = 0;
    loop {
        calls += 1;
        let q = FilterQuery { pattern: Some("needle".into()), next_token: token, scan_budget: Some(7), ..Default::default() };
        let r = logs.filter_log_events("g", q).await.unwrap();
        found.extend(r.events.into_iter().map(|e| e.event.timestamp - t));
        match r.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert!(calls > 10, "{calls}");
    found.sort_unstable();
    assert_eq!(found, [0, 1, 20, 40, 51, 60, 80]);
}
