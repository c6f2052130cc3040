//! Garbage collection of blob files no manifest references (the safety argument is in the
//! crate documentation).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use wharf_store::{prefix_end, Op, RangeRequest, TxnRequest};

use crate::error::{RegistryError, Result};
use crate::{manifest_blob_refs, split_manifest, valid_digest, Registry, PREFIX};

/// Filesystem timestamps come from a coarse clock that may lag the system clock slightly.
const CLOCK_SLACK: Duration = Duration::from_secs(2);
/// Keys read per range request while marking.
const PAGE: i64 = 1000;

/// What one garbage collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Distinct blob digests referenced by some manifest.
    pub referenced: usize,
    /// Unreferenced blobs spared because they were younger than the grace period (or touched
    /// while the collection ran).
    pub spared: usize,
    /// Blob files deleted.
    pub deleted: usize,
    /// Bytes freed.
    pub bytes_freed: u64,
}

impl Registry {
    /// Deletes blob files that no manifest in any repository references and that are older
    /// than the grace period, with their repository links. Safe while pushes run.
    pub async fn collect_garbage(&self) -> Result<GcReport> {
        let started = SystemTime::now();
        let cutoff = started.checked_sub(self.config.gc_grace + CLOCK_SLACK).unwrap_or(SystemTime::UNIX_EPOCH);

        // Mark: every blob a stored manifest refers to; remember each blob's links.
        let mut marked: HashSet<String> = HashSet::new();
        let mut links: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        let prefix = format!("{PREFIX}/repos/").into_bytes();
        let end = prefix_end(&prefix);
        let mut key = prefix.clone();
        let mut revision = 0;
        loop {
            let page = self
                .store
                .range(RangeRequest {
                    key: key.clone(),
                    range_end: end.clone(),
                    limit: PAGE,
                    revision,
                    ..Default::default()
                })
                .await?;
            revision = page.revision;
            for kv in &page.kvs {
                let k = String::from_utf8_lossy(&kv.key);
                if let Some((_, digest)) = k.rsplit_once("/_blobs/") {
                    links.entry(digest.to_string()).or_default().push(kv.key.clone());
                } else if k.contains("/_manifests/") {
                    let (_, data) = split_manifest(&kv.value)
                        .map_err(|e| RegistryError::Corrupt { key: k.to_string(), reason: e.message.clone() })?;
                    if let Ok(doc) = serde_json::from_slice::<Value>(data) {
                        marked.extend(manifest_blob_refs(&doc));
                    }
                }
            }
            match page.kvs.last() {
                Some(last) if page.more => {
                    key = last.key.clone();
                    key.push(0);
                }
                _ => break,
            }
        }

        // Sweep: unmarked blob files, re-checked and deleted one at a time under the lock.
        let dir = self.blobs.blobs_dir().to_path_buf();
        let files = tokio::task::spawn_blocking(move || list_blobs(&dir))
            .await
            .map_err(|e| RegistryError::Task(e.to_string()))?
            .map_err(|source| RegistryError::Io { path: self.blobs.blobs_dir().to_path_buf(), source })?;
        let mut report = GcReport { referenced: marked.len(), ..Default::default() };
        for digest in files {
            if marked.contains(&digest) {
                continue;
            }
            let _exclusive = self.gc_lock.write().await;
            let path = self.blobs.path(&digest);
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(_) => continue,
            };
            if meta.modified().map(|m| m >= cutoff).unwrap_or(true) {
                report.spared += 1;
                continue;
            }
            let keys = links.remove(&digest).unwrap_or_default();
            if !keys.is_empty() {
                let ops = keys.into_iter().map(Op::delete).collect();
                self.store.txn(TxnRequest { compare: vec![], success: ops, failure: vec![] }).await?;
            }
            self.blobs.remove(&digest).map_err(|source| RegistryError::Io { path: path.clone(), source })?;
            report.deleted += 1;
            report.bytes_freed += meta.len();
        }
        tracing::info!(?report, "registry garbage collection finished");
        Ok(report)
    }
}

/// Every blob digest on disk.
fn list_blobs(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    for shard in std::fs::read_dir(dir)? {
        let shard = shard?;
        if !shard.file_type()?.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(shard.path())? {
            let name = f?.file_name();
            let digest = format!("sha256:{}", name.to_string_lossy());
            if valid_digest(&digest) {
                out.push(digest);
            }
        }
    }
    Ok(out)
}
