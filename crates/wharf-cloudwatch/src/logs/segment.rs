//! Event data on disk: one directory per log stream (`ROOT/<group uid>/<stream uid>/`) holding
//! append-only segment files `<seq>.seg` (seq in 16 hex digits, increasing per stream).
//!
//! A record is `len: u32 LE | crc32(payload): u32 LE | payload`, the payload being
//! `timestamp: i64 LE | ingestion time: i64 LE | message (UTF-8)`. An append is written whole
//! and fsynced before it is acknowledged. A sealed segment gets a small `<seq>.idx` sidecar
//! (its size, time bounds, event count) so reopening does not read it; the newest segment is
//! scanned on open and a torn tail (a record cut short or failing its checksum, as a crash
//! mid-write leaves it) is truncated to the last whole record. Retention and the size cap
//! delete whole segments. Nothing here holds a whole stream in memory: readers stream records
//! from a segment through a buffered reader.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// Bytes of a record's header (length and checksum).
const HEADER: u64 = 8;
/// Bytes of the fixed part of a payload (timestamp and ingestion time).
const FIXED: usize = 16;
/// Largest payload a reader accepts (a message is at most 1 MiB).
const MAX_PAYLOAD: u32 = 2 * 1024 * 1024;
/// AWS counts 26 bytes of overhead per event.
pub const EVENT_OVERHEAD: u64 = 26;

/// Errors of the segment store.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// A file operation failed.
    #[error("{op} {path}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

type Result<T, E = SegmentError> = std::result::Result<T, E>;

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SegmentError + 'a {
    move |source| SegmentError::Io { op, path: path.to_path_buf(), source }
}

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// When the event happened (ms since the epoch).
    pub timestamp: i64,
    /// When it was ingested (ms since the epoch).
    pub ingestion: i64,
    /// The message.
    pub message: String,
}

/// Where a record starts: segment and byte offset. Positions order like the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// Segment sequence number.
    pub seq: u64,
    /// Byte offset in the segment.
    pub off: u64,
}

/// What is known about a segment without reading it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SegMeta {
    /// Sequence number.
    pub seq: u64,
    /// File size (bytes of whole records).
    pub size: u64,
    /// Smallest event timestamp (`i64::MAX` when empty).
    pub min_ts: i64,
    /// Largest event timestamp (`i64::MIN` when empty).
    pub max_ts: i64,
    /// Earliest ingestion time.
    pub min_ingest: i64,
    /// Latest ingestion time.
    pub max_ingest: i64,
    /// Events.
    pub count: u64,
    /// Event bytes as AWS counts them (message + 26).
    pub bytes: u64,
}

impl SegMeta {
    fn empty(seq: u64) -> Self {
        Self { seq, size: 0, min_ts: i64::MAX, max_ts: i64::MIN, min_ingest: i64::MAX, max_ingest: i64::MIN, count: 0, bytes: 0 }
    }
    fn add(&mut self, r: &Record, rec_len: u64) {
        self.size += rec_len;
        self.min_ts = self.min_ts.min(r.timestamp);
        self.max_ts = self.max_ts.max(r.timestamp);
        self.min_ingest = self.min_ingest.min(r.ingestion);
        self.max_ingest = self.max_ingest.max(r.ingestion);
        self.count += 1;
        self.bytes += r.message.len() as u64 + EVENT_OVERHEAD;
    }
    fn overlaps(&self, start: i64, end: i64) -> bool {
        self.count > 0 && self.max_ts >= start && self.min_ts <= end
    }
}

/// Per-stream statistics, as `DescribeLogStreams` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamStats {
    /// Earliest event timestamp.
    pub first_event: Option<i64>,
    /// Latest event timestamp.
    pub last_event: Option<i64>,
    /// Latest ingestion time.
    pub last_ingestion: Option<i64>,
    /// Stored event bytes.
    pub stored_bytes: u64,
}

/// When the store starts a new segment.
#[derive(Debug, Clone, Copy)]
pub struct SegmentLimits {
    /// Roll once a segment reaches this many bytes.
    pub max_bytes: u64,
    /// Roll once a segment's first ingestion is this old (ms), so retention frees space in steps.
    pub max_age_ms: i64,
}

impl Default for SegmentLimits {
    fn default() -> Self {
        Self { max_bytes: 8 * 1024 * 1024, max_age_ms: 3_600_000 }
    }
}

fn seg_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016x}.seg"))
}

fn idx_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016x}.idx"))
}

/// Encodes a record onto `buf`; returns its length.
fn encode(buf: &mut Vec<u8>, timestamp: i64, ingestion: i64, message: &str) -> u64 {
    let mut payload = Vec::with_capacity(FIXED + message.len());
    payload.extend_from_slice(&timestamp.to_le_bytes());
    payload.extend_from_slice(&ingestion.to_le_bytes());
    payload.extend_from_slice(message.as_bytes());
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    buf.extend_from_slice(&payload);
    HEADER + payload.len() as u64
}

/// Reads the next record from `r`; `None` at a clean end, at a torn or corrupt record, or past `limit`.
fn read_record<R: Read>(r: &mut R, off: u64, limit: u64) -> Option<(Record, u64)> {
    if off + HEADER > limit {
        return None;
    }
    let mut head = [0u8; 8];
    r.read_exact(&mut head).ok()?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if len < FIXED as u32 || len > MAX_PAYLOAD || off + HEADER + u64::from(len) > limit {
        return None;
    }
    let mut fixed = [0u8; FIXED];
    r.read_exact(&mut fixed).ok()?;
    let mut msg = vec![0u8; len as usize - FIXED];
    r.read_exact(&mut msg).ok()?;
    let mut h = crc32fast::Hasher::new();
    h.update(&fixed);
    h.update(&msg);
    if h.finalize() != crc {
        return None;
    }
    let mut a = [0u8; 8];
    a.copy_from_slice(&fixed[0..8]);
    let timestamp = i64::from_le_bytes(a);
    a.copy_from_slice(&fixed[8..16]);
    let ingestion = i64::from_le_bytes(a);
    let message = String::from_utf8(msg).ok()?;
    Some((Record { timestamp, ingestion, message }, HEADER + u64::from(len)))
}

/// Scans a segment file, returning its metadata over the whole records it starts with.
fn scan(path: &Path, seq: u64) -> Result<SegMeta> {
    let f = File::open(path).map_err(io("opening", path))?;
    let len = f.metadata().map_err(io("reading metadata of", path))?.len();
    let mut r = BufReader::with_capacity(256 * 1024, f);
    let mut meta = SegMeta::empty(seq);
    while let Some((rec, n)) = read_record(&mut r, meta.size, len) {
        meta.add(&rec, n);
    }
    Ok(meta)
}

/// One stream's segments and its open writer.
#[derive(Debug)]
pub struct StreamData {
    dir: PathBuf,
    segments: Vec<SegMeta>,
    writer: Option<File>,
    limits: SegmentLimits,
}

impl StreamData {
    /// Opens (or creates) a stream directory, recovering a torn tail.
    fn open(dir: PathBuf, limits: SegmentLimits) -> Result<Self> {
        fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
        let mut seqs = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io("listing", &dir))? {
            let entry = entry.map_err(io("listing", &dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(hex) = name.strip_suffix(".seg") {
                if let Ok(seq) = u64::from_str_radix(hex, 16) {
                    seqs.push(seq);
                }
            }
        }
        seqs.sort_unstable();
        let mut segments = Vec::with_capacity(seqs.len());
        let last = seqs.last().copied();
        for seq in seqs {
            let path = seg_path(&dir, seq);
            let file_len = fs::metadata(&path).map_err(io("reading metadata of", &path))?.len();
            let sidecar = if Some(seq) != last {
                fs::read(idx_path(&dir, seq)).ok().and_then(|b| serde_json::from_slice::<SegMeta>(&b).ok()).filter(|m| m.size == file_len)
            } else {
                None
            };
            let meta = match sidecar {
                Some(m) => m,
                None => {
                    let m = scan(&path, seq)?;
                    if m.size != file_len {
                        tracing::warn!(path = %path.display(), valid = m.size, len = file_len, "truncating a torn log segment tail");
                        let f = OpenOptions::new().write(true).open(&path).map_err(io("opening", &path))?;
                        f.set_len(m.size).map_err(io("truncating", &path))?;
                        f.sync_all().map_err(io("syncing", &path))?;
                    }
                    m
                }
            };
            segments.push(meta);
        }
        Ok(Self { dir, segments, writer: None, limits })
    }

    /// Statistics over the stored segments.
    pub fn stats(&self) -> StreamStats {
        let mut s = StreamStats::default();
        for m in self.segments.iter().filter(|m| m.count > 0) {
            s.first_event = Some(s.first_event.map_or(m.min_ts, |v| v.min(m.min_ts)));
            s.last_event = Some(s.last_event.map_or(m.max_ts, |v| v.max(m.max_ts)));
            s.last_ingestion = Some(s.last_ingestion.map_or(m.max_ingest, |v| v.max(m.max_ingest)));
            s.stored_bytes += m.bytes;
        }
        s
    }

    /// The segments (a snapshot for readers).
    pub fn segments(&self) -> Vec<SegMeta> {
        self.segments.clone()
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The position after the last record.
    pub fn end(&self) -> Pos {
        self.segments.last().map(|m| Pos { seq: m.seq, off: m.size }).unwrap_or_default()
    }

    fn seal_last(&mut self) -> Result<()> {
        self.writer = None;
        if let Some(m) = self.segments.last() {
            let path = idx_path(&self.dir, m.seq);
            let bytes = serde_json::to_vec(m).unwrap_or_default();
            let mut f = File::create(&path).map_err(io("creating", &path))?;
            f.write_all(&bytes).map_err(io("writing", &path))?;
            f.sync_all().map_err(io("syncing", &path))?;
        }
        Ok(())
    }

    /// Appends events (already validated) with one ingestion time, fsynced before returning.
    pub fn append(&mut self, events: &[(i64, &str)], ingestion: i64) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let roll = match self.segments.last() {
            None => true,
            Some(m) => m.size >= self.limits.max_bytes || (m.count > 0 && ingestion - m.min_ingest >= self.limits.max_age_ms),
        };
        if roll {
            if !self.segments.is_empty() {
                self.seal_last()?;
            }
            let seq = self.segments.last().map_or(1, |m| m.seq + 1);
            self.segments.push(SegMeta::empty(seq));
            // Make the new file's directory entry durable with the first write below.
            self.writer = None;
        }
        let Some(meta) = self.segments.last().cloned() else { return Ok(()) };
        let path = seg_path(&self.dir, meta.seq);
        if self.writer.is_none() {
            let f = OpenOptions::new().create(true).append(true).open(&path).map_err(io("opening", &path))?;
            if roll {
                File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io("syncing", &self.dir))?;
            }
            self.writer = Some(f);
        }
        let mut buf = Vec::new();
        let mut next = meta.clone();
        for (ts, msg) in events {
            let n = encode(&mut buf, *ts, ingestion, msg);
            next.add(&Record { timestamp: *ts, ingestion, message: (*msg).to_string() }, n);
        }
        let Some(w) = self.writer.as_mut() else { return Ok(()) };
        let res = w.write_all(&buf).and_then(|_| w.sync_data());
        if let Err(e) = res {
            // Leave no partial batch behind: cut back to the last acknowledged record.
            self.writer = None;
            if let Ok(f) = OpenOptions::new().write(true).open(&path) {
                let _ = f.set_len(meta.size);
            }
            return Err(SegmentError::Io { op: "appending to", path, source: e });
        }
        if let Some(last) = self.segments.last_mut() {
            *last = next;
        }
        // Keep no descriptor between appends: a node may hold thousands of streams.
        self.writer = None;
        Ok(())
    }

    /// Deletes segments whose every event is older than `cutoff` (ms); returns bytes freed.
    pub fn expire_before(&mut self, cutoff: i64) -> u64 {
        self.remove_where(|m| m.count > 0 && m.max_ts < cutoff)
    }

    /// Deletes the oldest segment (by ingestion); returns bytes freed.
    pub fn remove_oldest(&mut self) -> u64 {
        let Some(first) = self.segments.first().map(|m| m.seq) else { return 0 };
        self.remove_where(|m| m.seq == first)
    }

    /// The earliest ingestion time of the oldest non-empty segment.
    pub fn oldest_ingest(&self) -> Option<i64> {
        self.segments.iter().find(|m| m.count > 0).map(|m| m.min_ingest)
    }

    /// Bytes on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.segments.iter().map(|m| m.size).sum()
    }

    fn remove_where(&mut self, pred: impl Fn(&SegMeta) -> bool) -> u64 {
        let last_seq = self.segments.last().map(|m| m.seq);
        let mut freed = 0;
        let dir = self.dir.clone();
        let mut keep = Vec::with_capacity(self.segments.len());
        for m in std::mem::take(&mut self.segments) {
            if pred(&m) {
                if Some(m.seq) == last_seq {
                    self.writer = None;
                }
                let _ = fs::remove_file(idx_path(&dir, m.seq));
                match fs::remove_file(seg_path(&dir, m.seq)) {
                    Ok(()) => freed += m.size,
                    Err(e) => {
                        tracing::warn!(error = %e, seq = m.seq, dir = %dir.display(), "removing a log segment");
                        keep.push(m);
                    }
                }
            } else {
                keep.push(m);
            }
        }
        self.segments = keep;
        freed
    }
}

/// A streaming reader over a snapshot of a stream's segments.
pub struct Cursor {
    dir: PathBuf,
    segments: Vec<SegMeta>,
    idx: usize,
    reader: Option<BufReader<File>>,
    pos: Pos,
    start: i64,
    end: i64,
}

impl Cursor {
    /// Reads records at or after `from` whose timestamp is in `[start, end]`.
    pub fn new(dir: PathBuf, segments: Vec<SegMeta>, from: Pos, start: i64, end: i64) -> Self {
        let idx = segments.iter().position(|m| m.seq >= from.seq).unwrap_or(segments.len());
        let pos = match segments.get(idx) {
            Some(m) if m.seq == from.seq => from,
            Some(m) => Pos { seq: m.seq, off: 0 },
            None => from,
        };
        Self { dir, segments, idx, reader: None, pos, start, end }
    }

    /// Where the next record would be read (the resume point).
    pub fn pos(&self) -> Pos {
        self.pos
    }

    /// The next record in range with its position.
    pub fn next_record(&mut self) -> Option<(Pos, Record)> {
        loop {
            let meta = self.segments.get(self.idx)?.clone();
            if self.pos.off >= meta.size || !meta.overlaps(self.start, self.end) {
                self.advance_segment();
                continue;
            }
            if self.reader.is_none() {
                let path = seg_path(&self.dir, meta.seq);
                let opened = File::open(&path).and_then(|mut f| f.seek(SeekFrom::Start(self.pos.off)).map(|_| f));
                match opened {
                    Ok(f) => self.reader = Some(BufReader::with_capacity(128 * 1024, f)),
                    Err(_) => {
                        // Removed by retention meanwhile.
                        self.advance_segment();
                        continue;
                    }
                }
            }
            let r = self.reader.as_mut()?;
            match read_record(r, self.pos.off, meta.size) {
                Some((rec, n)) => {
                    let at = self.pos;
                    self.pos.off += n;
                    if rec.timestamp >= self.start && rec.timestamp <= self.end {
                        return Some((at, rec));
                    }
                }
                None => self.advance_segment(),
            }
        }
    }

    fn advance_segment(&mut self) {
        self.reader = None;
        if let Some(m) = self.segments.get(self.idx) {
            self.pos = Pos { seq: m.seq, off: m.size };
        }
        self.idx += 1;
        if let Some(m) = self.segments.get(self.idx) {
            self.pos = Pos { seq: m.seq, off: 0 };
        }
    }
}

/// Reads up to `limit` records (and about `max_bytes`) before `before`, in stream order.
pub fn read_backward(dir: &Path, segments: &[SegMeta], before: Pos, start: i64, end: i64, limit: usize, max_bytes: usize) -> Vec<(Pos, Record)> {
    let mut out: VecDeque<(Pos, Record)> = VecDeque::new();
    for m in segments.iter().rev().filter(|m| m.seq <= before.seq) {
        if out.len() >= limit {
            break;
        }
        if !m.overlaps(start, end) {
            continue;
        }
        // Read this segment forward, keeping the last records that fit.
        let mut tail: VecDeque<(Pos, Record)> = VecDeque::new();
        let mut tail_bytes = 0usize;
        let room = limit - out.len();
        let out_bytes: usize = out.iter().map(|(_, r)| r.message.len() + EVENT_OVERHEAD as usize).sum();
        let mut c = Cursor::new(dir.to_path_buf(), vec![m.clone()], Pos { seq: m.seq, off: 0 }, start, end);
        while let Some((p, r)) = c.next_record() {
            if p >= before {
                break;
            }
            tail_bytes += r.message.len() + EVENT_OVERHEAD as usize;
            tail.push_back((p, r));
            while tail.len() > room || (tail.len() > 1 && tail_bytes + out_bytes > max_bytes) {
                if let Some((_, r)) = tail.pop_front() {
                    tail_bytes -= r.message.len() + EVENT_OVERHEAD as usize;
                }
            }
        }
        let full = tail_bytes + out_bytes >= max_bytes;
        for item in tail.into_iter().rev() {
            out.push_front(item);
        }
        if full {
            break;
        }
    }
    out.into_iter().collect()
}

/// A stream's data shared between callers.
pub type SharedStream = Arc<Mutex<StreamData>>;

/// All streams' data under one root directory.
#[derive(Debug)]
pub struct SegmentStore {
    root: PathBuf,
    limits: SegmentLimits,
    open: Mutex<HashMap<(String, String), SharedStream>>,
}

impl SegmentStore {
    /// A store rooted at `root` (created if missing).
    pub fn new(root: PathBuf, limits: SegmentLimits) -> Result<Self> {
        fs::create_dir_all(&root).map_err(io("creating", &root))?;
        Ok(Self { root, limits, open: Mutex::new(HashMap::new()) })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A stream's data, opened (and recovered) on first use.
    pub fn stream(&self, group_uid: &str, stream_uid: &str) -> Result<Arc<Mutex<StreamData>>> {
        let key = (group_uid.to_string(), stream_uid.to_string());
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = open.get(&key) {
            return Ok(s.clone());
        }
        let s = Arc::new(Mutex::new(StreamData::open(self.root.join(group_uid).join(stream_uid), self.limits)?));
        open.insert(key, s.clone());
        Ok(s)
    }

    /// Removes a stream's data.
    pub fn remove_stream(&self, group_uid: &str, stream_uid: &str) -> Result<()> {
        let removed = self.open.lock().unwrap_or_else(|p| p.into_inner()).remove(&(group_uid.to_string(), stream_uid.to_string()));
        let dir = self.root.join(group_uid).join(stream_uid);
        // Hold the stream's lock while deleting so no append races the removal.
        let _guard = removed.as_ref().map(|s| s.lock().unwrap_or_else(|p| p.into_inner()));
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SegmentError::Io { op: "removing", path: dir, source: e }),
        }
    }

    /// Removes a group's data.
    pub fn remove_group(&self, group_uid: &str) -> Result<()> {
        let removed: Vec<_> = {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            let keys: Vec<_> = open.keys().filter(|(g, _)| g == group_uid).cloned().collect();
            keys.into_iter().filter_map(|k| open.remove(&k)).collect()
        };
        let _guards: Vec<_> = removed.iter().map(|s| s.lock().unwrap_or_else(|p| p.into_inner())).collect();
        let dir = self.root.join(group_uid);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SegmentError::Io { op: "removing", path: dir, source: e }),
        }
    }

    /// Every `(group uid, stream uid)` directory on disk.
    pub fn stream_dirs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let Ok(groups) = fs::read_dir(&self.root) else { return out };
        for g in groups.flatten() {
            let Some(gname) = g.file_name().to_str().map(String::from) else { continue };
            let Ok(streams) = fs::read_dir(g.path()) else { continue };
            for s in streams.flatten() {
                if let Some(sname) = s.file_name().to_str() {
                    out.push((gname.clone(), sname.to_string()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &StreamData) -> Vec<Record> {
        let mut c = Cursor::new(s.dir().to_path_buf(), s.segments(), Pos::default(), i64::MIN, i64::MAX);
        std::iter::from_fn(|| c.next_record().map(|(_, r)| r)).collect()
    }

    #[test]
    fn appended_events_are_read_back_in_order_across_segment_rolls() {
        let tmp = tempfile::tempdir().unwrap();
        let limits = SegmentLimits { max_bytes: 100, max_age_ms: i64::MAX };
        let mut s = StreamData::open(tmp.path().join("s"), limits).unwrap();
        for i in 0..20 {
            let m = format!("event {i}");
            s.append(&[(i, m.as_str())], 1000 + i).unwrap();
        }
        assert!(s.segments().len() > 2, "small segments roll");
        let got = all(&s);
        assert_eq!(got.len(), 20);
        assert_eq!(got[7].message, "event 7");
        let st = s.stats();
        assert_eq!((st.first_event, st.last_event, st.last_ingestion), (Some(0), Some(19), Some(1019)));
        // Reopening uses the sidecars and sees the same.
        drop(s);
        let s = StreamData::open(tmp.path().join("s"), limits).unwrap();
        assert_eq!(all(&s).len(), 20);
        assert_eq!(s.stats(), st);
    }

    #[test]
    fn a_torn_tail_is_truncated_to_the_last_whole_record_on_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        let mut s = StreamData::open(dir.clone(), SegmentLimits::default()).unwrap();
        s.append(&[(1, "one"), (2, "two")], 10).unwrap();
        s.append(&[(3, "three")], 11).unwrap();
        drop(s);
        // A crash mid-write: half of a further record reaches the disk.
        let path = seg_path(&dir, 1);
        let mut buf = Vec::new();
        encode(&mut buf, 4, 12, "four, never acknowledged");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&buf[..buf.len() / 2]).unwrap();
        drop(f);
        let good = fs::metadata(&path).unwrap().len() - (buf.len() / 2) as u64;
        let mut s = StreamData::open(dir.clone(), SegmentLimits::default()).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), good);
        assert_eq!(all(&s).iter().map(|r| r.message.as_str()).collect::<Vec<_>>(), ["one", "two", "three"]);
        // And appends continue after the recovered tail.
        s.append(&[(5, "five")], 13).unwrap();
        assert_eq!(all(&s).last().unwrap().message, "five");
    }

    #[test]
    fn a_corrupt_record_ends_the_readable_tail() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        let mut s = StreamData::open(dir.clone(), SegmentLimits::default()).unwrap();
        s.append(&[(1, "one")], 10).unwrap();
        s.append(&[(2, "two")], 10).unwrap();
        drop(s);
        let path = seg_path(&dir, 1);
        let mut bytes = fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 1] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let s = StreamData::open(dir, SegmentLimits::default()).unwrap();
        assert_eq!(all(&s).len(), 1);
    }

    #[test]
    fn expiry_and_the_size_cap_delete_whole_segments() {
        let tmp = tempfile::tempdir().unwrap();
        let limits = SegmentLimits { max_bytes: 1, max_age_ms: i64::MAX };
        let mut s = StreamData::open(tmp.path().join("s"), limits).unwrap();
        for i in 0..5 {
            s.append(&[(i * 1000, "x")], i).unwrap();
        }
        assert_eq!(s.segments().len(), 5);
        assert!(s.expire_before(2000) > 0);
        assert_eq!(all(&s).iter().map(|r| r.timestamp).collect::<Vec<_>>(), [2000, 3000, 4000]);
        assert!(s.remove_oldest() > 0);
        assert_eq!(all(&s).len(), 2);
        assert_eq!(fs::read_dir(s.dir()).unwrap().filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "seg").count(), 2);
    }

    #[test]
    fn backward_reads_return_the_newest_records_before_a_position() {
        let tmp = tempfile::tempdir().unwrap();
        let limits = SegmentLimits { max_bytes: 64, max_age_ms: i64::MAX };
        let mut s = StreamData::open(tmp.path().join("s"), limits).unwrap();
        for i in 0..10 {
            let m = format!("e{i}");
            s.append(&[(i, m.as_str())], 0).unwrap();
        }
        let got = read_backward(s.dir(), &s.segments(), s.end(), i64::MIN, i64::MAX, 3, 1 << 20);
        assert_eq!(got.iter().map(|(_, r)| r.message.as_str()).collect::<Vec<_>>(), ["e7", "e8", "e9"]);
        let before = got[0].0;
        let got = read_backward(s.dir(), &s.segments(), before, i64::MIN, i64::MAX, 4, 1 << 20);
        assert_eq!(got.iter().map(|(_, r)| r.message.as_str()).collect::<Vec<_>>(), ["e3", "e4", "e5", "e6"]);
    }
}
