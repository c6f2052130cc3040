//! A view of a store confined to one key prefix: each control plane gets its own.

use crate::*;
use futures::StreamExt;
use std::sync::Arc;

/// Prepends `prefix` to every key on the way in and strips it on the way out, so a caller
/// sees its own keyspace. A range end of `[0]` ("to the end") stops at the prefix's end.
#[derive(Clone)]
pub struct Prefixed {
    inner: Arc<dyn KvStore>,
    prefix: Vec<u8>,
}

impl Prefixed {
    /// Confines `inner` to keys under `prefix`.
    pub fn new(inner: Arc<dyn KvStore>, prefix: impl Into<Vec<u8>>) -> Self {
        Self { inner, prefix: prefix.into() }
    }

    fn key(&self, k: &[u8]) -> Vec<u8> {
        let mut v = self.prefix.clone();
        v.extend_from_slice(k);
        v
    }

    fn end(&self, end: &[u8]) -> Vec<u8> {
        if end.is_empty() {
            Vec::new()
        } else if end == [0] {
            prefix_end(&self.prefix)
        } else {
            self.key(end)
        }
    }

    fn strip(&self, mut kv: KeyValue) -> KeyValue {
        if kv.key.starts_with(&self.prefix) {
            kv.key.drain(..self.prefix.len());
        }
        kv
    }

    fn range_req(&self, r: RangeRequest) -> RangeRequest {
        RangeRequest { range_end: self.end(&r.range_end), key: self.key(&r.key), ..r }
    }

    fn range_resp(&self, r: RangeResponse) -> RangeResponse {
        RangeResponse { kvs: r.kvs.into_iter().map(|kv| self.strip(kv)).collect(), ..r }
    }

    fn op(&self, op: Op) -> Op {
        match op {
            Op::Range(r) => Op::Range(self.range_req(r)),
            Op::Put { key, value, lease } => Op::Put { key: self.key(&key), value, lease },
            Op::DeleteRange { key, range_end } => Op::DeleteRange { range_end: self.end(&range_end), key: self.key(&key) },
        }
    }
}

#[async_trait]
impl KvStore for Prefixed {
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse> {
        let r = self.inner.range(self.range_req(req)).await?;
        Ok(self.range_resp(r))
    }

    async fn txn(&self, req: TxnRequest) -> Result<TxnResponse> {
        let req = TxnRequest {
            compare: req.compare.into_iter().map(|c| Compare { key: self.key(&c.key), ..c }).collect(),
            success: req.success.into_iter().map(|o| self.op(o)).collect(),
            failure: req.failure.into_iter().map(|o| self.op(o)).collect(),
        };
        let r = self.inner.txn(req).await?;
        let responses = r
            .responses
            .into_iter()
            .map(|o| match o {
                OpResponse::Range(rr) => OpResponse::Range(self.range_resp(rr)),
                OpResponse::Put { prev_kv } => OpResponse::Put { prev_kv: prev_kv.map(|kv| self.strip(kv)) },
                OpResponse::DeleteRange { prev_kvs } => OpResponse::DeleteRange { prev_kvs: prev_kvs.into_iter().map(|kv| self.strip(kv)).collect() },
            })
            .collect();
        Ok(TxnResponse { responses, ..r })
    }

    async fn watch(&self, req: WatchRequest) -> Result<WatchStream> {
        let req = WatchRequest { range_end: self.end(&req.range_end), key: self.key(&req.key), ..req };
        let this = self.clone();
        let s = self.inner.watch(req).await?;
        Ok(s.map(move |r| {
            r.map(|w| WatchResponse {
                revision: w.revision,
                events: w
                    .events
                    .into_iter()
                    .map(|e| Event { kind: e.kind, kv: this.strip(e.kv), prev_kv: e.prev_kv.map(|kv| this.strip(kv)) })
                    .collect(),
            })
        })
        .boxed())
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.inner.compact(revision).await
    }
    async fn lease_grant(&self, ttl: i64, id: i64) -> Result<LeaseGrant> {
        self.inner.lease_grant(ttl, id).await
    }
    async fn lease_revoke(&self, id: i64) -> Result<()> {
        self.inner.lease_revoke(id).await
    }
    async fn lease_keep_alive(&self, id: i64) -> Result<i64> {
        self.inner.lease_keep_alive(id).await
    }
    async fn current_revision(&self) -> Result<i64> {
        self.inner.current_revision().await
    }
}
