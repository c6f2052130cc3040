//! Container logs as the kubelet serves them: CRI log records (`<time> <stream> <P|F> <msg>`)
//! with the prefix stripped and partial records joined into lines, filtered by `sinceSeconds`/
//! `sinceTime`, cut to `tailLines` and `limitBytes`, optionally prefixed with timestamps, and
//! followed across rotations (the runtime renames `log` to `log.1` and starts a new `log`).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::mpsc;

/// How often a following reader looks for new data.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// The query options of `/containerLogs` (and `pods/log`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep streaming as the container writes.
    pub follow: bool,
    /// Read the previous (terminated) instance of the container.
    pub previous: bool,
    /// Only the last this many lines.
    pub tail_lines: Option<usize>,
    /// Only lines written at or after this time.
    pub since: Option<SystemTime>,
    /// Prefix every line with its RFC 3339 timestamp.
    pub timestamps: bool,
    /// Stop after this many bytes.
    pub limit_bytes: Option<u64>,
}

fn flag(q: &HashMap<String, String>, k: &str) -> bool {
    q.get(k).is_some_and(|v| v == "true" || v == "1")
}

impl LogOptions {
    /// Parses the query parameters; the error names the bad parameter.
    pub fn from_query(q: &HashMap<String, String>) -> Result<Self, String> {
        let num = |k: &str| -> Result<Option<i64>, String> {
            match q.get(k).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => v.parse::<i64>().map(Some).map_err(|_| format!("invalid {k}: {v}")),
            }
        };
        let tail_lines = match num("tailLines")? {
            Some(n) if n < 0 => None,
            Some(n) => Some(n as usize),
            None => None,
        };
        let limit_bytes = match num("limitBytes")? {
            Some(n) if n < 1 => return Err(format!("limitBytes: Invalid value: {n}: must be greater than 0")),
            n => n.map(|n| n as u64),
        };
        let mut since = match num("sinceSeconds")? {
            Some(n) if n < 1 => return Err(format!("sinceSeconds: Invalid value: {n}: must be greater than 0")),
            Some(n) => Some(SystemTime::now() - Duration::from_secs(n as u64)),
            None => None,
        };
        if let Some(t) = q.get("sinceTime").filter(|v| !v.is_empty()) {
            if since.is_some() {
                return Err("at most one of sinceTime or sinceSeconds may be specified".into());
            }
            since = Some(humantime::parse_rfc3339_weak(t).map_err(|e| format!("invalid sinceTime {t}: {e}"))?);
        }
        Ok(Self { follow: flag(q, "follow"), previous: flag(q, "previous"), tail_lines, since, timestamps: flag(q, "timestamps"), limit_bytes })
    }
}

/// One CRI record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record<'a> {
    time: &'a str,
    stderr: bool,
    partial: bool,
    msg: &'a [u8],
}

fn parse_record(line: &[u8]) -> Option<Record<'_>> {
    let mut it = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(it.next()?).ok()?;
    let stderr = match it.next()? {
        b"stdout" => false,
        b"stderr" => true,
        _ => return None,
    };
    let partial = match it.next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some(Record { time, stderr, partial, msg: it.next().unwrap_or(b"") })
}

/// A whole log line: partial records joined, timestamp of its first record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    time: String,
    msg: Vec<u8>,
}

/// Joins partial records per stream.
#[derive(Default)]
struct Joiner {
    pending: [Option<Line>; 2],
}

impl Joiner {
    fn push(&mut self, r: &Record<'_>) -> Option<Line> {
        let slot = &mut self.pending[usize::from(r.stderr)];
        let line = slot.get_or_insert_with(|| Line { time: r.time.to_string(), msg: Vec::new() });
        line.msg.extend_from_slice(r.msg);
        if r.partial {
            None
        } else {
            slot.take()
        }
    }
}

fn line_time(l: &Line) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(&l.time).ok()
}

/// Reads complete lines appended to one file.
struct Follower {
    file: File,
    ino: u64,
    carry: Vec<u8>,
}

impl Follower {
    fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let ino = file.metadata()?.ino();
        Ok(Self { file, ino, carry: Vec::new() })
    }

    /// Complete raw lines available now.
    fn read_lines(&mut self) -> std::io::Result<Vec<Vec<u8>>> {
        let mut buf = Vec::new();
        self.file.read_to_end(&mut buf)?;
        self.carry.extend_from_slice(&buf);
        let mut out = Vec::new();
        while let Some(i) = self.carry.iter().position(|b| *b == b'\n') {
            let rest = self.carry.split_off(i + 1);
            let mut line = std::mem::replace(&mut self.carry, rest);
            line.pop();
            out.push(line);
        }
        Ok(out)
    }

    /// Whether `path` now names another file, or this one was truncated.
    fn replaced(&mut self, path: &Path) -> bool {
        match std::fs::metadata(path) {
            Ok(m) if m.ino() != self.ino => true,
            Ok(m) => {
                let pos = self.file.stream_position().unwrap_or(0);
                if m.len() < pos {
                    let _ = self.file.seek(SeekFrom::Start(0));
                    self.carry.clear();
                }
                false
            }
            Err(_) => false,
        }
    }
}

/// Writes lines to the client, honouring timestamps and the byte limit.
struct Emitter {
    tx: mpsc::Sender<Bytes>,
    timestamps: bool,
    since: Option<SystemTime>,
    remaining: Option<u64>,
}

impl Emitter {
    /// False once the client is gone or the limit is reached.
    fn emit(&mut self, l: &Line) -> bool {
        if let Some(since) = self.since {
            if line_time(l).is_some_and(|t| t < since) {
                return true;
            }
        }
        let mut out = Vec::with_capacity(l.msg.len() + 40);
        if self.timestamps {
            out.extend_from_slice(l.time.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(&l.msg);
        out.push(b'\n');
        let mut more = true;
        if let Some(rem) = self.remaining.as_mut() {
            if out.len() as u64 >= *rem {
                out.truncate(*rem as usize);
                more = false;
            }
            *rem -= out.len() as u64;
        }
        self.tx.blocking_send(Bytes::from(out)).is_ok() && more
    }
}

/// How a following reader learns that the container stopped.
pub type RunningCheck = Box<dyn Fn() -> bool + Send>;

/// Streams the log at `path` to `tx` (blocking; run it on a blocking thread). `running`
/// is asked when a following reader reaches the end of the file.
pub fn stream(path: PathBuf, opts: LogOptions, running: RunningCheck, tx: mpsc::Sender<Bytes>) {
    let mut em = Emitter { tx, timestamps: opts.timestamps, since: opts.since, remaining: opts.limit_bytes };
    let mut joiner = Joiner::default();
    let mut f = match Follower::open(&path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "open log");
            return;
        }
    };
    // The backlog: every complete line now in the file, cut to the tail.
    let mut backlog = Vec::new();
    if let Some(f) = f.as_mut() {
        for raw in f.read_lines().unwrap_or_default() {
            if let Some(l) = parse_record(&raw).and_then(|r| joiner.push(&r)) {
                backlog.push(l);
            }
        }
    }
    if let Some(since) = opts.since {
        backlog.retain(|l| line_time(l).is_none_or(|t| t >= since));
    }
    let skip = opts.tail_lines.map_or(0, |n| backlog.len().saturating_sub(n));
    for l in &backlog[skip..] {
        if !em.emit(l) {
            return;
        }
    }
    if !opts.follow {
        return;
    }
    loop {
        if em.tx.is_closed() {
            return;
        }
        let mut got = false;
        if let Some(cur) = f.as_mut() {
            for raw in cur.read_lines().unwrap_or_default() {
                got = true;
                if let Some(l) = parse_record(&raw).and_then(|r| joiner.push(&r)) {
                    if !em.emit(&l) {
                        return;
                    }
                }
            }
        }
        if got {
            continue;
        }
        let rotated = match f.as_mut() {
            Some(cur) => cur.replaced(&path),
            None => path.exists(),
        };
        if rotated {
            // Drain what reached the old file before the rename, then continue with the new
            // one from its start.
            if let Some(cur) = f.as_mut() {
                for raw in cur.read_lines().unwrap_or_default() {
                    if let Some(l) = parse_record(&raw).and_then(|r| joiner.push(&r)) {
                        if !em.emit(&l) {
                            return;
                        }
                    }
                }
            }
            match Follower::open(&path) {
                Ok(n) => f = Some(n),
                Err(_) => f = None,
            }
            continue;
        }
        if !running() {
            return;
        }
        std::thread::sleep(FOLLOW_POLL);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(path: &Path, opts: LogOptions) -> String {
        let (tx, mut rx) = mpsc::channel(1024);
        stream(path.to_path_buf(), opts, Box::new(|| false), tx);
        let mut out = Vec::new();
        while let Ok(b) = rx.try_recv() {
            out.extend_from_slice(&b);
        }
        String::from_utf8(out).unwrap()
    }

    fn write(path: &Path, lines: &[&str]) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    }

    #[test]
    fn partial_records_are_joined_and_prefixes_stripped() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("0.log");
        write(&p, &["2024-01-01T00:00:00.1Z stdout P hel", "2024-01-01T00:00:00.2Z stderr F oops", "2024-01-01T00:00:00.3Z stdout F lo", "garbage", "2024-01-01T00:00:01Z stdout F "]);
        assert_eq!(collect(&p, LogOptions::default()), "oops\nhello\n\n");
        let ts = collect(&p, LogOptions { timestamps: true, ..Default::default() });
        assert_eq!(ts, "2024-01-01T00:00:00.2Z oops\n2024-01-01T00:00:00.1Z hello\n2024-01-01T00:00:01Z \n");
    }

    #[test]
    fn tail_since_and_limit_cut_the_output() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("0.log");
        write(&p, &["2024-01-01T00:00:01Z stdout F one", "2024-01-01T00:00:02Z stdout F two", "2024-01-01T00:00:03Z stdout F three"]);
        assert_eq!(collect(&p, LogOptions { tail_lines: Some(2), ..Default::default() }), "two\nthree\n");
        assert_eq!(collect(&p, LogOptions { tail_lines: Some(0), ..Default::default() }), "");
        let since = humantime::parse_rfc3339("2024-01-01T00:00:02Z").unwrap();
        assert_eq!(collect(&p, LogOptions { since: Some(since), ..Default::default() }), "two\nthree\n");
        assert_eq!(collect(&p, LogOptions { limit_bytes: Some(6), ..Default::default() }), "one\ntw");
    }

    #[test]
    fn query_options_parse_as_kubectl_sends_them() {
        let q: HashMap<String, String> = [("follow", "true"), ("tailLines", "10"), ("timestamps", "true"), ("sinceSeconds", "60")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        let o = LogOptions::from_query(&q).unwrap();
        assert!(o.follow && o.timestamps && !o.previous);
        assert_eq!(o.tail_lines, Some(10));
        assert!(o.since.is_some());
        let bad: HashMap<String, String> = [("limitBytes".to_string(), "0".to_string())].into();
        assert!(LogOptions::from_query(&bad).is_err());
    }

    #[test]
    fn following_continues_across_rotation_until_the_container_stops() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("0.log");
        write(&p, &["2024-01-01T00:00:01Z stdout F before"]);
        let (tx, mut rx) = mpsc::channel(1024);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let path = p.clone();
        let h = std::thread::spawn(move || stream(path, LogOptions { follow: true, ..Default::default() }, Box::new(move || !s2.load(std::sync::atomic::Ordering::SeqCst)), tx));
        let first = rx.blocking_recv().unwrap();
        assert_eq!(&first[..], b"before\n");
        write(&p, &["2024-01-01T00:00:02Z stdout F appended"]);
        assert_eq!(&rx.blocking_recv().unwrap()[..], b"appended\n");
        std::fs::rename(&p, d.path().join("0.log.1")).unwrap();
        write(&p, &["2024-01-01T00:00:03Z stdout F rotated"]);
        assert_eq!(&rx.blocking_recv().unwrap()[..], b"rotated\n");
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        h.join().unwrap();
        assert!(rx.blocking_recv().is_none());
    }
}
