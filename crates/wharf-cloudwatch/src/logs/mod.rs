//! CloudWatch Logs: log groups and streams (metadata in the datastore under `/aws/logs/`),
//! event data in segment files ([`segment`]), filter patterns ([`filter`]), the batch rules
//! of `PutLogEvents`, paging tokens, retention and the size cap ([`Logs::maintain`]).
//!
//! [`Logs`] is the Rust API other components append through ([`Logs::put_events`] creates the
//! group and stream on demand); [`LogsService`] is the `Logs_20140328` JSON API on the front door.

mod api;
pub mod filter;
pub mod segment;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};
use wharf_aws::AwsError;
use wharf_store::{prefix_end, Compare, KvStore, Op, RangeRequest, StoreError, TxnRequest};

pub use api::LogsService;
use filter::Pattern;
use segment::{Cursor, Pos, Record, SegmentError, SegmentLimits, SegmentStore, StreamStats, EVENT_OVERHEAD};

/// Prefix of log groups (`/aws/logs/groups/<name>`).
pub const GROUPS: &str = "/aws/logs/groups/";
/// Prefix of log streams (`/aws/logs/streams/<group uid>/<name>`).
pub const STREAMS: &str = "/aws/logs/streams/";

/// Retention values CloudWatch accepts (days).
pub const RETENTION_DAYS: &[i64] = &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
/// Most events in one `PutLogEvents`.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Largest `PutLogEvents` batch (messages plus 26 bytes per event).
pub const MAX_BATCH_BYTES: u64 = 1_048_576;
/// Largest single event (message plus 26 bytes).
pub const MAX_EVENT_BYTES: u64 = 1_048_576;
const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
/// Largest response payload of `GetLogEvents`/`FilterLogEvents`.
const MAX_RESPONSE_BYTES: usize = 1_048_576;

/// Errors of the Logs service.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// The datastore failed.
    #[error("datastore: {0}")]
    Store(#[from] StoreError),
    /// A stored record does not decode.
    #[error("stored record {key} does not decode")]
    Corrupt {
        /// The key.
        key: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// Event data on disk failed.
    #[error("log data: {0}")]
    Segment(#[from] SegmentError),
    /// A blocking task died.
    #[error("a log data task failed: {0}")]
    Task(String),
    /// A named group or stream does not exist (`ResourceNotFoundException`).
    #[error("{0}")]
    NotFound(String),
    /// A group or stream exists already (`ResourceAlreadyExistsException`).
    #[error("{0}")]
    AlreadyExists(String),
    /// A parameter is invalid (`InvalidParameterException`).
    #[error("{0}")]
    InvalidParameter(String),
}

/// `Result` with [`LogsError`].
pub type Result<T, E = LogsError> = std::result::Result<T, E>;

impl From<LogsError> for AwsError {
    fn from(e: LogsError) -> Self {
        match e {
            LogsError::NotFound(m) => AwsError::bad_request("ResourceNotFoundException", m),
            LogsError::AlreadyExists(m) => AwsError::bad_request("ResourceAlreadyExistsException", m),
            LogsError::InvalidParameter(m) => AwsError::bad_request("InvalidParameterException", m),
            other => AwsError::internal(other),
        }
    }
}

/// Where and how the service keeps its data.
#[derive(Debug, Clone)]
pub struct LogsConfig {
    /// Directory of the segment files (`DATA/logs`).
    pub data_dir: PathBuf,
    /// The account id, for ARNs.
    pub account_id: String,
    /// The region, for ARNs.
    pub region: String,
    /// Total bytes of event data kept; the oldest segments go first beyond it.
    pub max_total_bytes: Option<u64>,
    /// When segments roll.
    pub segments: SegmentLimits,
}

impl LogsConfig {
    /// Defaults: 8 MiB / 1 h segments, no size cap.
    pub fn new(data_dir: impl Into<PathBuf>, account_id: impl Into<String>, region: impl Into<String>) -> Self {
        Self { data_dir: data_dir.into(), account_id: account_id.into(), region: region.into(), max_total_bytes: None, segments: SegmentLimits::default() }
    }
}

/// A log group as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LogGroup {
    /// Name.
    pub name: String,
    /// Directory name of its data (unique per creation).
    pub uid: String,
    /// Creation time (ms).
    pub creation_time: i64,
    /// Retention in days; `None` keeps events forever.
    pub retention_in_days: Option<i64>,
    /// `STANDARD`, `INFREQUENT_ACCESS` or `DELIVERY`.
    pub class: String,
    /// KMS key id, recorded only.
    pub kms_key_id: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Whether DeleteLogGroup is refused.
    #[serde(default)]
    pub deletion_protection: bool,
}

/// A log stream as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LogStream {
    /// Name.
    pub name: String,
    /// Directory name of its data: 16 hex digits, unique per creation.
    pub uid: String,
    /// Creation time (ms).
    pub creation_time: i64,
}

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputEvent {
    /// When it happened (ms since the epoch).
    pub timestamp: i64,
    /// The message.
    pub message: String,
}

/// Which events of a batch were rejected (indexes as CloudWatch reports them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rejected {
    /// First too-new event (inclusive).
    pub too_new_start: Option<usize>,
    /// End of the too-old events (exclusive).
    pub too_old_end: Option<usize>,
    /// End of the events older than the group's retention (exclusive).
    pub expired_end: Option<usize>,
}

impl Rejected {
    /// Whether anything was rejected.
    pub fn any(&self) -> bool {
        self.too_new_start.is_some() || self.too_old_end.is_some() || self.expired_end.is_some()
    }
}

/// Checks a batch against PutLogEvents' rules; returns the accepted index range and the rejections.
pub fn validate_batch(events: &[InputEvent], now_ms: i64, retention_days: Option<i64>) -> Result<(std::ops::Range<usize>, Rejected)> {
    if events.is_empty() {
        return Err(LogsError::InvalidParameter("1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1".into()));
    }
    if events.len() > MAX_BATCH_EVENTS {
        return Err(LogsError::InvalidParameter(format!(
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to {MAX_BATCH_EVENTS}"
        )));
    }
    let mut total = 0u64;
    for (i, e) in events.iter().enumerate() {
        let size = e.message.len() as u64 + EVENT_OVERHEAD;
        if e.message.is_empty() {
            return Err(LogsError::InvalidParameter(format!("Log event at index {i} has an empty message")));
        }
        if size > MAX_EVENT_BYTES {
            return Err(LogsError::InvalidParameter(format!("Log event too large: {size} bytes exceeds limit of {MAX_EVENT_BYTES}")));
        }
        total += size;
        if i > 0 && e.timestamp < events[i - 1].timestamp {
            return Err(LogsError::InvalidParameter("Log events in a single PutLogEvents request must be in chronological order.".into()));
        }
    }
    if total > MAX_BATCH_BYTES {
        return Err(LogsError::InvalidParameter(format!("Upload too large: {total} bytes exceeds limit of {MAX_BATCH_BYTES}")));
    }
    let too_old = now_ms - 14 * DAY_MS;
    let expired = retention_days.map(|d| now_ms - d * DAY_MS);
    let too_new = now_ms + 2 * HOUR_MS;
    let mut rej = Rejected::default();
    let old_end = events.iter().take_while(|e| e.timestamp < too_old).count();
    if old_end > 0 {
        rej.too_old_end = Some(old_end);
    }
    let expired_end = expired.map_or(0, |cut| events.iter().take_while(|e| e.timestamp < cut).count());
    if expired_end > 0 {
        rej.expired_end = Some(expired_end);
    }
    let start = old_end.max(expired_end);
    let new_start = events.iter().position(|e| e.timestamp > too_new).unwrap_or(events.len()).max(start);
    if new_start < events.len() {
        rej.too_new_start = Some(new_start);
    }
    if new_start > start && events[new_start - 1].timestamp - events[start].timestamp > 24 * HOUR_MS {
        return Err(LogsError::InvalidParameter("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.".into()));
    }
    Ok((start..new_start, rej))
}

/// A stored event as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputEvent {
    /// When it happened.
    pub timestamp: i64,
    /// When it was ingested.
    pub ingestion_time: i64,
    /// The message.
    pub message: String,
}

/// `GetLogEvents` parameters.
#[derive(Debug, Clone, Default)]
pub struct GetQuery {
    /// Inclusive start (ms).
    pub start_time: Option<i64>,
    /// Exclusive end (ms).
    pub end_time: Option<i64>,
    /// `f/…` or `b/…`.
    pub next_token: Option<String>,
    /// Most events returned (default 10,000).
    pub limit: Option<usize>,
    /// Read from the oldest events when no token is given.
    pub start_from_head: bool,
}

/// `GetLogEvents` result.
#[derive(Debug, Clone)]
pub struct GetResult {
    /// Events in stream order.
    pub events: Vec<OutputEvent>,
    /// Token to read on.
    pub next_forward_token: String,
    /// Token to read back.
    pub next_backward_token: String,
}

/// `FilterLogEvents` parameters.
#[derive(Debug, Clone, Default)]
pub struct FilterQuery {
    /// Only these streams.
    pub stream_names: Option<Vec<String>>,
    /// Only streams with this prefix.
    pub stream_prefix: Option<String>,
    /// Inclusive start (ms).
    pub start_time: Option<i64>,
    /// Inclusive end (ms).
    pub end_time: Option<i64>,
    /// The filter pattern.
    pub pattern: Option<String>,
    /// Token from a previous call.
    pub next_token: Option<String>,
    /// Most events returned (default 10,000).
    pub limit: Option<usize>,
    /// Most records examined in this call (default [`DEFAULT_SCAN_BUDGET`]).
    pub scan_budget: Option<usize>,
}

/// Records one `FilterLogEvents` call examines before it answers with a token.
pub const DEFAULT_SCAN_BUDGET: usize = 2_000_000;

/// A stream's next candidate in a `FilterLogEvents` merge.
enum Head {
    /// A matching event at its position.
    Event(Pos, Record),
    /// Nothing more in range.
    Done,
    /// The scan budget ran out; resume here.
    Paused(Pos),
}

/// One event found by `FilterLogEvents`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilteredEvent {
    /// Its stream.
    pub stream: String,
    /// Its stable id.
    pub event_id: String,
    /// The event.
    pub event: OutputEvent,
}

/// `FilterLogEvents` result.
#[derive(Debug, Clone)]
pub struct FilterResult {
    /// Matching events, by timestamp across streams.
    pub events: Vec<FilteredEvent>,
    /// Streams searched.
    pub searched: Vec<String>,
    /// Present when more may match.
    pub next_token: Option<String>,
}

/// What one maintenance pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaintainReport {
    /// Bytes freed by retention.
    pub expired_bytes: u64,
    /// Bytes freed by the size cap.
    pub capped_bytes: u64,
    /// Orphaned stream directories removed.
    pub orphans: usize,
}

fn now_ms() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(_) => 0,
    }
}

fn new_uid() -> String {
    format!("{:016x}", rand::random::<u64>())
}

fn valid_group_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 512 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/#".contains(&b))
}

fn valid_stream_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 512 && !n.contains([':', '*'])
}

fn group_key(name: &str) -> String {
    format!("{GROUPS}{name}")
}

fn stream_key(group_uid: &str, name: &str) -> String {
    format!("{STREAMS}{group_uid}/{name}")
}

fn token_pos(p: Pos) -> String {
    format!("{:020}{:020}", p.seq, p.off)
}

fn parse_pos(s: &str) -> Option<Pos> {
    if s.len() != 40 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Pos { seq: s[..20].parse().ok()?, off: s[20..].parse().ok()? })
}

fn after(p: Pos, r: &Record) -> Pos {
    Pos { seq: p.seq, off: p.off + 8 + 16 + r.message.len() as u64 }
}

fn out(r: Record) -> OutputEvent {
    OutputEvent { timestamp: r.timestamp, ingestion_time: r.ingestion, message: r.message }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| LogsError::Task(e.to_string()))?
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The CloudWatch Logs service.
pub struct Logs {
    store: Arc<dyn KvStore>,
    data: Arc<SegmentStore>,
    cfg: LogsConfig,
}

impl std::fmt::Debug for Logs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logs").field("data_dir", &self.cfg.data_dir).finish()
    }
}

impl Logs {
    /// Opens the service over the datastore and the data directory.
    pub fn open(store: Arc<dyn KvStore>, cfg: LogsConfig) -> Result<Self> {
        let data = Arc::new(SegmentStore::new(cfg.data_dir.clone(), cfg.segments)?);
        Ok(Self { store, data, cfg })
    }

    /// The configuration.
    pub fn config(&self) -> &LogsConfig {
        &self.cfg
    }

    /// The ARN of a group (`arn:aws:logs:R:A:log-group:NAME`), in `region`.
    pub fn group_arn(&self, region: &str, name: &str) -> String {
        format!("arn:aws:logs:{region}:{}:log-group:{name}", self.cfg.account_id)
    }

    async fn get<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Result<Option<(T, i64)>> {
        match self.store.get(key.as_bytes().to_vec()).await? {
            None => Ok(None),
            Some(kv) => {
                let v = serde_json::from_slice(&kv.value).map_err(|e| LogsError::Corrupt { key: key.into(), source: e })?;
                Ok(Some((v, kv.mod_revision)))
            }
        }
    }

    async fn list<T: for<'de> Deserialize<'de>>(&self, prefix: &str) -> Result<Vec<T>> {
        let r = self
            .store
            .range(RangeRequest { key: prefix.as_bytes().to_vec(), range_end: prefix_end(prefix.as_bytes()), ..Default::default() })
            .await?;
        r.kvs
            .iter()
            .map(|kv| serde_json::from_slice(&kv.value).map_err(|e| LogsError::Corrupt { key: String::from_utf8_lossy(&kv.key).into_owned(), source: e }))
            .collect()
    }

    async fn put_if<T: Serialize>(&self, key: &str, value: &T, rev: i64) -> Result<bool> {
        let bytes = serde_json::to_vec(value).map_err(|e| LogsError::Corrupt { key: key.into(), source: e })?;
        let r = self
            .store
            .txn(TxnRequest {
                compare: vec![Compare::mod_revision(key.as_bytes().to_vec(), rev)],
                success: vec![Op::Put { key: key.as_bytes().to_vec(), value: bytes, lease: 0 }],
                failure: vec![],
            })
            .await?;
        Ok(r.succeeded)
    }

    /// Creates a log group.
    pub async fn create_group(&self, name: &str, class: Option<&str>, kms_key_id: Option<String>, tags: BTreeMap<String, String>) -> Result<LogGroup> {
        if !valid_group_name(name) {
            return Err(LogsError::InvalidParameter(format!(
                "1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
            )));
        }
        let class = class.unwrap_or("STANDARD");
        if !["STANDARD", "INFREQUENT_ACCESS", "DELIVERY"].contains(&class) {
            return Err(LogsError::InvalidParameter(format!("invalid logGroupClass {class:?}")));
        }
        if tags.len() > 50 {
            return Err(LogsError::InvalidParameter("a log group can have at most 50 tags".into()));
        }
        let g = LogGroup {
            name: name.into(),
            uid: new_uid(),
            creation_time: now_ms(),
            retention_in_days: None,
            class: class.into(),
            kms_key_id,
            tags,
            deletion_protection: false,
        };
        if !self.put_if(&group_key(name), &g, 0).await? {
            return Err(LogsError::AlreadyExists("The specified log group already exists".into()));
        }
        Ok(g)
    }

    /// A log group, or `ResourceNotFoundException`.
    pub async fn group(&self, name: &str) -> Result<LogGroup> {
        Ok(self.group_rev(name).await?.0)
    }

    async fn group_rev(&self, name: &str) -> Result<(LogGroup, i64)> {
        self.get::<LogGroup>(&group_key(name)).await?.ok_or_else(|| LogsError::NotFound("The specified log group does not exist.".into()))
    }

    /// Log groups whose name starts with `prefix`, by name.
    pub async fn groups(&self, prefix: &str) -> Result<Vec<LogGroup>> {
        self.list(&group_key(prefix)).await
    }

    /// Changes a group under compare-and-swap.
    pub async fn update_group(&self, name: &str, f: impl Fn(&mut LogGroup) -> Result<()>) -> Result<LogGroup> {
        loop {
            let (mut g, rev) = self.group_rev(name).await?;
            f(&mut g)?;
            if self.put_if(&group_key(name), &g, rev).await? {
                return Ok(g);
            }
        }
    }

    /// Sets or clears the retention (days from [`RETENTION_DAYS`]).
    pub async fn set_retention(&self, name: &str, days: Option<i64>) -> Result<()> {
        if let Some(d) = days {
            if !RETENTION_DAYS.contains(&d) {
                return Err(LogsError::InvalidParameter(format!(
                    "1 validation error detected: Value '{d}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: {RETENTION_DAYS:?}"
                )));
            }
        }
        self.update_group(name, |g| {
            g.retention_in_days = days;
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// Deletes a group, its streams and its data.
    pub async fn delete_group(&self, name: &str) -> Result<()> {
        let (g, rev) = self.group_rev(name).await?;
        if g.deletion_protection {
            return Err(LogsError::InvalidParameter("the log group has deletion protection enabled".into()));
        }
        let sp = format!("{STREAMS}{}/", g.uid);
        let r = self
            .store
            .txn(TxnRequest {
                compare: vec![Compare::mod_revision(group_key(name).into_bytes(), rev)],
                success: vec![
                    Op::DeleteRange { key: group_key(name).into_bytes(), range_end: vec![] },
                    Op::DeleteRange { key: sp.as_bytes().to_vec(), range_end: prefix_end(sp.as_bytes()) },
                ],
                failure: vec![],
            })
            .await?;
        if !r.succeeded {
            return Err(LogsError::InvalidParameter("the log group changed during deletion; retry".into()));
        }
        let data = self.data.clone();
        blocking(move || Ok(data.remove_group(&g.uid)?)).await
    }

    /// Creates a stream in a group.
    pub async fn create_stream(&self, group: &str, name: &str) -> Result<LogStream> {
        if !valid_stream_name(name) {
            return Err(LogsError::InvalidParameter(format!(
                "1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*"
            )));
        }
        let g = self.group(group).await?;
        let s = LogStream { name: name.into(), uid: new_uid(), creation_time: now_ms() };
        if !self.put_if(&stream_key(&g.uid, name), &s, 0).await? {
            return Err(LogsError::AlreadyExists("The specified log stream already exists".into()));
        }
        Ok(s)
    }

    /// A stream of a group.
    pub async fn stream(&self, group: &LogGroup, name: &str) -> Result<LogStream> {
        Ok(self
            .get::<LogStream>(&stream_key(&group.uid, name))
            .await?
            .ok_or_else(|| LogsError::NotFound("The specified log stream does not exist.".into()))?
            .0)
    }

    /// A group's streams whose name starts with `prefix`, by name.
    pub async fn streams(&self, group: &LogGroup, prefix: &str) -> Result<Vec<LogStream>> {
        self.list(&stream_key(&group.uid, prefix)).await
    }

    /// A stream's event statistics.
    pub async fn stream_stats(&self, group: &LogGroup, stream: &LogStream) -> Result<StreamStats> {
        let (data, g, s) = (self.data.clone(), group.uid.clone(), stream.uid.clone());
        blocking(move || {
            let sd = data.stream(&g, &s)?;
            let st = lock(&sd).stats();
            Ok(st)
        })
        .await
    }

    /// Deletes a stream and its data.
    pub async fn delete_stream(&self, group: &str, name: &str) -> Result<()> {
        let g = self.group(group).await?;
        let key = stream_key(&g.uid, name);
        let (s, rev) = self.get::<LogStream>(&key).await?.ok_or_else(|| LogsError::NotFound("The specified log stream does not exist.".into()))?;
        let r = self
            .store
            .txn(TxnRequest {
                compare: vec![Compare::mod_revision(key.clone().into_bytes(), rev)],
                success: vec![Op::DeleteRange { key: key.into_bytes(), range_end: vec![] }],
                failure: vec![],
            })
            .await?;
        if !r.succeeded {
            return Err(LogsError::NotFound("The specified log stream does not exist.".into()));
        }
        let data = self.data.clone();
        blocking(move || Ok(data.remove_stream(&g.uid, &s.uid)?)).await
    }

    /// `PutLogEvents`: validates the batch, appends the accepted events and fsyncs.
    pub async fn put_log_events(&self, group: &str, stream: &str, events: Vec<InputEvent>) -> Result<Rejected> {
        let g = self.group(group).await?;
        let s = self.stream(&g, stream).await?;
        self.append(&g, &s, events).await
    }

    /// The Rust API: appends events, creating the group and stream when they are missing.
    /// Events are sorted by timestamp first; batches above PutLogEvents' limits are split.
    pub async fn put_events(&self, group: &str, stream: &str, mut events: Vec<InputEvent>) -> Result<Rejected> {
        let g = match self.group(group).await {
            Ok(g) => g,
            Err(LogsError::NotFound(_)) => match self.create_group(group, None, None, BTreeMap::new()).await {
                Ok(g) => g,
                Err(LogsError::AlreadyExists(_)) => self.group(group).await?,
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let s = match self.stream(&g, stream).await {
            Ok(s) => s,
            Err(LogsError::NotFound(_)) => match self.create_stream(group, stream).await {
                Ok(s) => s,
                Err(LogsError::AlreadyExists(_)) => self.stream(&g, stream).await?,
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        events.sort_by_key(|e| e.timestamp);
        let mut rejected = Rejected::default();
        let mut rest = events.as_slice();
        while !rest.is_empty() {
            // Cut a batch within the count, size and 24-hour limits.
            let mut n = 0;
            let mut bytes = 0;
            while n < rest.len() && n < MAX_BATCH_EVENTS {
                let b = rest[n].message.len() as u64 + EVENT_OVERHEAD;
                if (n > 0 && bytes + b > MAX_BATCH_BYTES) || rest[n].timestamp - rest[0].timestamp > 24 * HOUR_MS {
                    break;
                }
                bytes += b;
                n += 1;
            }
            let n = n.max(1);
            let r = self.append(&g, &s, rest[..n].to_vec()).await?;
            rejected.too_new_start = rejected.too_new_start.or(r.too_new_start);
            rejected.too_old_end = rejected.too_old_end.or(r.too_old_end);
            rejected.expired_end = rejected.expired_end.or(r.expired_end);
            rest = &rest[n..];
        }
        Ok(rejected)
    }

    async fn append(&self, g: &LogGroup, s: &LogStream, events: Vec<InputEvent>) -> Result<Rejected> {
        let now = now_ms();
        let (range, rejected) = validate_batch(&events, now, g.retention_in_days)?;
        if range.is_empty() {
            return Ok(rejected);
        }
        let (data, gu, su) = (self.data.clone(), g.uid.clone(), s.uid.clone());
        blocking(move || {
            let sd = data.stream(&gu, &su)?;
            let batch: Vec<(i64, &str)> = events[range].iter().map(|e| (e.timestamp, e.message.as_str())).collect();
            lock(&sd).append(&batch, now)?;
            Ok(())
        })
        .await?;
        Ok(rejected)
    }

    /// `GetLogEvents`.
    pub async fn get_log_events(&self, group: &str, stream: &str, q: GetQuery) -> Result<GetResult> {
        let g = self.group(group).await?;
        let s = self.stream(&g, stream).await?;
        let limit = q.limit.unwrap_or(MAX_BATCH_EVENTS);
        if limit == 0 || limit > MAX_BATCH_EVENTS {
            return Err(LogsError::InvalidParameter(format!("limit must be between 1 and {MAX_BATCH_EVENTS}")));
        }
        let token = match q.next_token.as_deref() {
            None => None,
            Some(t) => {
                let parsed = t
                    .strip_prefix("f/")
                    .and_then(parse_pos)
                    .map(|p| (true, p))
                    .or_else(|| t.strip_prefix("b/").and_then(parse_pos).map(|p| (false, p)));
                Some(parsed.ok_or_else(|| LogsError::InvalidParameter("The specified nextToken is invalid.".into()))?)
            }
        };
        let start = q.start_time.unwrap_or(i64::MIN);
        let end = q.end_time.map_or(i64::MAX, |e| e.saturating_sub(1));
        let (data, gu, su) = (self.data.clone(), g.uid, s.uid);
        blocking(move || {
            let sd = data.stream(&gu, &su)?;
            let (dir, segs, end_pos) = {
                let d = lock(&sd);
                (d.dir().to_path_buf(), d.segments(), d.end())
            };
            let (forward, from) = match token {
                Some(t) => t,
                None if q.start_from_head => (true, Pos::default()),
                None => (false, end_pos),
            };
            if forward {
                let mut c = Cursor::new(dir, segs, from, start, end);
                let mut events = Vec::new();
                let mut bytes = 0;
                let mut first = None;
                let mut next = from;
                while events.len() < limit && bytes < MAX_RESPONSE_BYTES {
                    match c.next_record() {
                        Some((p, r)) => {
                            first.get_or_insert(p);
                            next = after(p, &r);
                            bytes += r.message.len() + EVENT_OVERHEAD as usize;
                            events.push(out(r));
                        }
                        None => {
                            next = next.max(c.pos());
                            break;
                        }
                    }
                }
                Ok(GetResult {
                    events,
                    next_forward_token: format!("f/{}", token_pos(next)),
                    next_backward_token: format!("b/{}", token_pos(first.unwrap_or(from))),
                })
            } else {
                let got = segment::read_backward(&dir, &segs, from, start, end, limit, MAX_RESPONSE_BYTES);
                let first = got.first().map_or(from, |(p, _)| *p);
                let last = got.last().map_or(from, |(p, r)| after(*p, r));
                let fwd = if token.is_none() { end_pos } else { last };
                Ok(GetResult {
                    events: got.into_iter().map(|(_, r)| out(r)).collect(),
                    next_forward_token: format!("f/{}", token_pos(fwd)),
                    next_backward_token: format!("b/{}", token_pos(first)),
                })
            }
        })
        .await
    }

    /// `FilterLogEvents`: a merge by timestamp over the selected streams.
    pub async fn filter_log_events(&self, group: &str, q: FilterQuery) -> Result<FilterResult> {
        let g = self.group(group).await?;
        if q.stream_names.is_some() && q.stream_prefix.is_some() {
            return Err(LogsError::InvalidParameter("You cannot specify both logStreamNames and logStreamNamePrefix".into()));
        }
        let limit = q.limit.unwrap_or(MAX_BATCH_EVENTS);
        if limit == 0 || limit > MAX_BATCH_EVENTS {
            return Err(LogsError::InvalidParameter(format!("limit must be between 1 and {MAX_BATCH_EVENTS}")));
        }
        let pattern = Pattern::parse(q.pattern.as_deref().unwrap_or("")).map_err(|e| LogsError::InvalidParameter(e.to_string()))?;
        let mut streams = self.streams(&g, q.stream_prefix.as_deref().unwrap_or("")).await?;
        if let Some(names) = &q.stream_names {
            streams.retain(|s| names.contains(&s.name));
        }
        let resume: Option<BTreeMap<String, (u64, u64)>> = match &q.next_token {
            None => None,
            Some(t) => Some(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(t)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .ok_or_else(|| LogsError::InvalidParameter("The specified nextToken is invalid.".into()))?,
            ),
        };
        let start = q.start_time.unwrap_or(i64::MIN);
        let end = q.end_time.unwrap_or(i64::MAX);
        let (data, gu) = (self.data.clone(), g.uid);
        blocking(move || {
            let mut cursors = Vec::new();
            for s in &streams {
                let from = match &resume {
                    None => Pos::default(),
                    Some(m) => match m.get(&s.uid) {
                        Some((seq, off)) => Pos { seq: *seq, off: *off },
                        None => continue,
                    },
                };
                let sd = data.stream(&gu, &s.uid)?;
                let (dir, segs) = {
                    let d = lock(&sd);
                    (d.dir().to_path_buf(), d.segments())
                };
                cursors.push((s, Cursor::new(dir, segs, from, start, end)));
            }
            // Each call examines at most `budget` records (CloudWatch likewise answers a long
            // search in parts): past it, the call ends with a token to resume from.
            let budget = q.scan_budget.unwrap_or(DEFAULT_SCAN_BUDGET);
            let mut scanned = 0usize;
            let mut next_match = |c: &mut Cursor| loop {
                if scanned >= budget {
                    return Head::Paused(c.pos());
                }
                match c.next_record() {
                    Some((p, r)) => {
                        scanned += 1;
                        if pattern.matches(&r.message) {
                            return Head::Event(p, r);
                        }
                    }
                    None => return Head::Done,
                }
            };
            let mut heads: Vec<Head> = cursors.iter_mut().map(|(_, c)| next_match(c)).collect();
            let mut events = Vec::new();
            let mut bytes = 0;
            while events.len() < limit && bytes < MAX_RESPONSE_BYTES && !heads.iter().any(|h| matches!(h, Head::Paused(_))) {
                let Some(i) = heads
                    .iter()
                    .enumerate()
                    .filter_map(|(i, h)| match h {
                        Head::Event(_, r) => Some((r.timestamp, i)),
                        _ => None,
                    })
                    .min()
                    .map(|(_, i)| i)
                else {
                    break;
                };
                let Head::Event(p, r) = std::mem::replace(&mut heads[i], Head::Done) else { break };
                let s = cursors[i].0;
                let id_num = u64::from_str_radix(&s.uid, 16).unwrap_or(0);
                bytes += r.message.len() + EVENT_OVERHEAD as usize;
                events.push(FilteredEvent { stream: s.name.clone(), event_id: format!("{id_num:020}{:016}{:020}", p.seq, p.off), event: out(r) });
                heads[i] = next_match(&mut cursors[i].1);
            }
            let pending: BTreeMap<String, (u64, u64)> = heads
                .iter()
                .enumerate()
                .filter_map(|(i, h)| match h {
                    Head::Event(p, _) | Head::Paused(p) => Some((cursors[i].0.uid.clone(), (p.seq, p.off))),
                    Head::Done => None,
                })
                .collect();
            let next_token = (!pending.is_empty())
                .then(|| serde_json::to_vec(&pending).ok().map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)))
                .flatten();
            Ok(FilterResult { events, searched: streams.iter().map(|s| s.name.clone()).collect(), next_token })
        })
        .await
    }

    /// One maintenance pass: retention, the size cap, orphaned data.
    pub async fn maintain(&self) -> Result<MaintainReport> {
        self.maintain_at(now_ms()).await
    }

    /// [`Logs::maintain`] as if it were `now` (ms).
    pub async fn maintain_at(&self, now: i64) -> Result<MaintainReport> {
        // Directories are listed before the datastore is read: a stream's key is written
        // before its directory, so every directory listed here whose key is missing below
        // belongs to a deleted stream (never to one being created meanwhile).
        let data = self.data.clone();
        let dirs = blocking(move || Ok(data.stream_dirs())).await?;
        let groups = self.groups("").await?;
        let mut known = std::collections::HashSet::new();
        let mut retention = Vec::new();
        for g in &groups {
            for s in self.streams(g, "").await? {
                known.insert((g.uid.clone(), s.uid.clone()));
                retention.push((g.uid.clone(), s.uid, g.retention_in_days));
            }
        }
        let data = self.data.clone();
        let cap = self.cfg.max_total_bytes;
        blocking(move || {
            let mut report = MaintainReport::default();
            for (gu, su) in dirs {
                if !known.contains(&(gu.clone(), su.clone())) {
                    data.remove_stream(&gu, &su)?;
                    report.orphans += 1;
                }
            }
            let mut opened = Vec::new();
            for (gu, su, days) in retention {
                let sd = data.stream(&gu, &su)?;
                if let Some(d) = days {
                    report.expired_bytes += lock(&sd).expire_before(now - d * DAY_MS);
                }
                opened.push(sd);
            }
            if let Some(cap) = cap {
                let mut total: u64 = opened.iter().map(|s| lock(s).disk_bytes()).sum();
                while total > cap {
                    let Some(oldest) = opened.iter().filter_map(|s| lock(s).oldest_ingest().map(|t| (t, s.clone()))).min_by_key(|(t, _)| *t).map(|(_, s)| s)
                    else {
                        break;
                    };
                    let freed = lock(&oldest).remove_oldest();
                    if freed == 0 {
                        break;
                    }
                    total -= freed.min(total);
                    report.capped_bytes += freed;
                }
            }
            Ok(report)
        })
        .await
    }

    /// Runs [`Logs::maintain`] every `interval` until `stop` resolves.
    pub async fn run_maintenance(self: Arc<Self>, interval: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(interval) => {}
            }
            if let Err(e) = self.maintain().await {
                tracing::warn!(error = %e, "log maintenance failed");
            }
        }
    }
}

#[cfg(test)]
mod tests;
