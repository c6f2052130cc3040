//! The revisioned key-value store under every Wharf control plane, shaped one-to-one on
//! etcd v3: a global revision, per-key create/mod revision and version, range at a
//! revision with limit and continuation, transactions that compare and then put/delete,
//! ordered watch from a revision, compaction and TTL leases.
//!
//! [`KvStore`] is the trait callers use; [`sqlite::SqliteStore`] is the embedded backend
//! (one file in the data directory, every write fsynced before it is acknowledged, with
//! group commit). An etcd backend implements the same trait. [`Prefixed`] confines a
//! caller to one key prefix, so several control planes share one store.

mod prefixed;
pub mod sqlite;
mod types;

pub use prefixed::Prefixed;
pub use types::*;

use async_trait::async_trait;
use futures::stream::BoxStream;

/// Errors of the store, as etcd reports them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The requested revision has been compacted away.
    #[error("mvcc: required revision has been compacted (compacted at {compact_revision})")]
    Compacted {
        /// The revision the store is compacted at.
        compact_revision: i64,
    },
    /// The requested revision is newer than the store's.
    #[error("mvcc: required revision is a future revision")]
    FutureRevision,
    /// The lease does not exist (expired or revoked).
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    /// The request is malformed (duplicate keys in a txn, bad range).
    #[error("etcdserver: {0}")]
    InvalidRequest(String),
    /// The store has been closed.
    #[error("store is closed")]
    Closed,
    /// The backend failed.
    #[error("storage backend failed: {0}")]
    Backend(String),
}

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A stream of watch responses; an `Err` ends it (e.g. [`StoreError::Compacted`]).
pub type WatchStream = BoxStream<'static, Result<WatchResponse>>;

/// The etcd v3 KV, Watch and Lease services.
#[async_trait]
pub trait KvStore: Send + Sync + 'static {
    /// Range over keys `[key, range_end)` (etcd `Range`).
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse>;
    /// An atomic compare-then-ops transaction (etcd `Txn`). Puts and deletes share one revision.
    async fn txn(&self, req: TxnRequest) -> Result<TxnResponse>;
    /// Watch keys from a revision; events arrive in revision order, grouped by revision.
    async fn watch(&self, req: WatchRequest) -> Result<WatchStream>;
    /// Discard history before `revision` (etcd `Compact`).
    async fn compact(&self, revision: i64) -> Result<()>;
    /// Grant a lease of `ttl` seconds; `id` 0 lets the store choose.
    async fn lease_grant(&self, ttl: i64, id: i64) -> Result<LeaseGrant>;
    /// Revoke a lease, deleting every key attached to it.
    async fn lease_revoke(&self, id: i64) -> Result<()>;
    /// Renew a lease; returns its TTL.
    async fn lease_keep_alive(&self, id: i64) -> Result<i64>;
    /// The latest committed revision (etcd's response header revision).
    async fn current_revision(&self) -> Result<i64>;

    /// Convenience: put one key (a one-op txn).
    async fn put(&self, key: Vec<u8>, value: Vec<u8>) -> Result<i64> {
        let r = self.txn(TxnRequest { compare: vec![], success: vec![Op::put(key, value)], failure: vec![] }).await?;
        Ok(r.revision)
    }
    /// Convenience: read one key at the latest revision.
    async fn get(&self, key: Vec<u8>) -> Result<Option<KeyValue>> {
        let r = self.range(RangeRequest { key, ..Default::default() }).await?;
        Ok(r.kvs.into_iter().next())
    }
}

/// The smallest key greater than every key with `prefix` (etcd's `GetPrefixRangeEnd`).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.last_mut() {
        if *last < 0xff {
            *last += 1;
            return end;
        }
        end.pop();
    }
    vec![0]
}
