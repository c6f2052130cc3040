//! Request and response types mirroring etcd v3's `mvccpb`/`etcdserverpb` messages.

/// A key and its value with etcd's per-key metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyValue {
    /// The key.
    pub key: Vec<u8>,
    /// The value (empty in delete events).
    pub value: Vec<u8>,
    /// Revision of the key's last creation.
    pub create_revision: i64,
    /// Revision of the key's last modification.
    pub mod_revision: i64,
    /// Number of modifications since creation (1 after create).
    pub version: i64,
    /// Attached lease, 0 for none.
    pub lease: i64,
}

/// etcd `RangeRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeRequest {
    /// First key.
    pub key: Vec<u8>,
    /// End of the range (exclusive); empty for `key` alone; `[0]` for every key ≥ `key`.
    pub range_end: Vec<u8>,
    /// At most this many keys; 0 for no limit.
    pub limit: i64,
    /// Read at this revision; 0 for the latest.
    pub revision: i64,
    /// Return only the count.
    pub count_only: bool,
}

/// etcd `RangeResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeResponse {
    /// The store revision when the range was served (the header revision).
    pub revision: i64,
    /// Matching pairs in key order.
    pub kvs: Vec<KeyValue>,
    /// Whether more keys were in the range beyond `limit`.
    pub more: bool,
    /// Number of keys in the range.
    pub count: i64,
}

/// What a [`Compare`] inspects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompareTarget {
    /// The key's mod revision (0 if absent).
    ModRevision(i64),
    /// The key's create revision (0 if absent).
    CreateRevision(i64),
    /// The key's version (0 if absent).
    Version(i64),
    /// The key's value.
    Value(Vec<u8>),
}

/// How a [`Compare`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareResult {
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `>`
    Greater,
    /// `<`
    Less,
}

/// etcd `Compare` on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compare {
    /// The key.
    pub key: Vec<u8>,
    /// The comparison.
    pub result: CompareResult,
    /// The target and the operand.
    pub target: CompareTarget,
}

impl Compare {
    /// `mod_revision(key) == rev` (0 means "the key does not exist").
    pub fn mod_revision(key: impl Into<Vec<u8>>, rev: i64) -> Self {
        Self { key: key.into(), result: CompareResult::Equal, target: CompareTarget::ModRevision(rev) }
    }
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Read a range.
    Range(RangeRequest),
    /// Write a key.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
        /// Lease to attach, 0 for none.
        lease: i64,
    },
    /// Delete `[key, range_end)` (or `key` when `range_end` is empty).
    DeleteRange {
        /// First key.
        key: Vec<u8>,
        /// End of the range.
        range_end: Vec<u8>,
    },
}

impl Op {
    /// A put without lease.
    pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        Self::Put { key: key.into(), value: value.into(), lease: 0 }
    }
    /// A delete of one key.
    pub fn delete(key: impl Into<Vec<u8>>) -> Self {
        Self::DeleteRange { key: key.into(), range_end: Vec::new() }
    }
}

/// etcd `TxnRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnRequest {
    /// All must hold for `success` to run; otherwise `failure` runs.
    pub compare: Vec<Compare>,
    /// Ops when every compare holds.
    pub success: Vec<Op>,
    /// Ops otherwise.
    pub failure: Vec<Op>,
}

/// The result of one [`Op`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResponse {
    /// Result of a range.
    Range(RangeResponse),
    /// Result of a put: the previous pair, if any.
    Put {
        /// The pair before the put.
        prev_kv: Option<KeyValue>,
    },
    /// Result of a delete: the deleted pairs.
    DeleteRange {
        /// The pairs deleted.
        prev_kvs: Vec<KeyValue>,
    },
}

/// etcd `TxnResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnResponse {
    /// Store revision after the txn (the txn's own revision if it wrote).
    pub revision: i64,
    /// Whether the compares held.
    pub succeeded: bool,
    /// One response per op that ran.
    pub responses: Vec<OpResponse>,
}

/// etcd `WatchCreateRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchRequest {
    /// First key.
    pub key: Vec<u8>,
    /// End of the range (as in [`RangeRequest`]).
    pub range_end: Vec<u8>,
    /// First revision to deliver; 0 for "after the current one".
    pub start_revision: i64,
    /// Include the previous pair in each event.
    pub prev_kv: bool,
    /// Also deliver progress notifications (a response with no events) when the store's
    /// revision moves past events outside the watched range, as etcd's progress notify does.
    pub progress_notify: bool,
}

/// Put or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// A key was written.
    Put,
    /// A key was deleted.
    Delete,
}

/// etcd `mvccpb.Event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Put or delete.
    pub kind: EventType,
    /// The pair after the event (for a delete: key and mod revision only).
    pub kv: KeyValue,
    /// The pair before the event, when asked for.
    pub prev_kv: Option<KeyValue>,
}

/// One batch of events, all of one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchResponse {
    /// The revision of these events.
    pub revision: i64,
    /// The events, in the order the txn applied them.
    pub events: Vec<Event>,
}

/// etcd `LeaseGrantResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseGrant {
    /// The lease id.
    pub id: i64,
    /// Its TTL in seconds.
    pub ttl: i64,
}

/// Whether `key` is in `[start, end)` as etcd reads a range.
pub fn in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
    if end.is_empty() {
        key == start
    } else if end == [0] {
        key >= start
    } else {
        key >= start && key < end
    }
}
