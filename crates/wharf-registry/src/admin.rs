//! Calls for the AWS side (ECR's `DescribeRepositories`, `DescribeImages`, `BatchDeleteImage`,
//! `DeleteRepository`): thin reads and writes over the same keys the `/v2/` API uses.

use bytes::Bytes;
use http_body_util::Full;
use wharf_store::{prefix_end, Op, RangeRequest, TxnRequest};

use crate::error::{RegistryError, Result};
use crate::{catalog_key, repo_key, settings_key, split_manifest, valid_digest, valid_name, Registry, PREFIX};

/// A stored manifest, as ECR's `BatchGetImage` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    /// The manifest digest.
    pub digest: String,
    /// The manifest media type.
    pub media_type: String,
    /// The manifest bytes, exactly as pushed.
    pub bytes: Bytes,
}

/// A manifest stored in a repository, as ECR's `DescribeImages` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The manifest digest.
    pub digest: String,
    /// The manifest media type.
    pub media_type: String,
    /// The artifact type (the config media type for images).
    pub artifact_type: String,
    /// Tags pointing at it, sorted.
    pub tags: Vec<String>,
    /// Manifest size plus the sizes of the blobs it lists (ECR's `imageSizeInBytes`).
    pub size: u64,
    /// When it was pushed, seconds since the Unix epoch.
    pub pushed_at: u64,
    /// When it was pushed, milliseconds since the Unix epoch (orders pushes within a second).
    pub pushed_at_millis: u64,
}

fn range(prefix: &[u8]) -> RangeRequest {
    RangeRequest { key: prefix.to_vec(), range_end: prefix_end(prefix), ..Default::default() }
}

fn check(name: &str) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(RegistryError::Invalid { what: "repository name", value: name.to_string() })
    }
}

impl Registry {
    /// Every repository name, sorted.
    pub async fn repositories(&self) -> Result<Vec<String>> {
        let prefix = format!("{PREFIX}/catalog/").into_bytes();
        let r = self.store.range(range(&prefix)).await?;
        Ok(r.kvs.iter().map(|kv| String::from_utf8_lossy(&kv.key[prefix.len()..]).into_owned()).collect())
    }

    /// Whether repository `name` exists.
    pub async fn repository_exists(&self, name: &str) -> Result<bool> {
        check(name)?;
        Ok(self.store.get(catalog_key(name)).await?.is_some())
    }

    /// Creates repository `name` (idempotent); its tags are immutable if `immutable`.
    pub async fn create_repository(&self, name: &str, immutable: bool) -> Result<()> {
        self.set_immutable(name, immutable).await
    }

    /// The manifests stored in `name` with their tags, sorted by digest.
    pub async fn images(&self, name: &str) -> Result<Vec<ImageInfo>> {
        check(name)?;
        let tags = self.store.range(range(&repo_key(name, "_tags", ""))).await?;
        let tag_prefix = repo_key(name, "_tags", "").len();
        let prefix = repo_key(name, "_manifests", "");
        let manifests = self.store.range(range(&prefix)).await?;
        let mut out = Vec::new();
        for kv in manifests.kvs {
            let digest = String::from_utf8_lossy(&kv.key[prefix.len()..]).into_owned();
            let (meta, _) = split_manifest(&kv.value).map_err(|e| RegistryError::Corrupt {
                key: String::from_utf8_lossy(&kv.key).into_owned(),
                reason: e.message,
            })?;
            let tags = tags
                .kvs
                .iter()
                .filter(|t| t.value == digest.as_bytes())
                .map(|t| String::from_utf8_lossy(&t.key[tag_prefix..]).into_owned())
                .collect();
            let text = |k: &str| meta[k].as_str().unwrap_or_default().to_string();
            out.push(ImageInfo {
                media_type: text("mediaType"),
                artifact_type: text("artifactType"),
                tags,
                size: meta["size"].as_u64().unwrap_or(0) + meta["blobsSize"].as_u64().unwrap_or(0),
                pushed_at: meta["pushedAt"].as_u64().unwrap_or(0),
                pushed_at_millis: meta["pushedAtMillis"]
                    .as_u64()
                    .unwrap_or_else(|| meta["pushedAt"].as_u64().unwrap_or(0) * 1000),
                digest,
            });
        }
        Ok(out)
    }

    /// Deletes a tag (only the tag) or a manifest by digest (with its tags and referrer
    /// entry); `false` if there was no such reference.
    pub async fn delete_image(&self, name: &str, reference: &str) -> Result<bool> {
        check(name)?;
        match self.delete_manifest(name, reference).await {
            Ok(_) => Ok(true),
            Err(e) if e.code == "MANIFEST_UNKNOWN" => Ok(false),
            Err(e) => Err(RegistryError::Refused { code: e.code, message: e.message }),
        }
    }

    /// Deletes repository `name` and everything in it (its blobs are freed by the next
    /// garbage collection); `false` if it did not exist. Nested repositories (`name/sub`)
    /// are left alone.
    pub async fn delete_repository(&self, name: &str) -> Result<bool> {
        check(name)?;
        if self.store.get(catalog_key(name)).await?.is_none() {
            return Ok(false);
        }
        // Repository path components never start with '_', so `<name>/_` covers exactly
        // this repository's own keys.
        let own = format!("{PREFIX}/repos/{name}/_").into_bytes();
        let ops = vec![
            Op::DeleteRange { range_end: prefix_end(&own), key: own },
            Op::delete(catalog_key(name)),
            Op::delete(settings_key(name)),
        ];
        self.store.txn(TxnRequest { compare: vec![], success: ops, failure: vec![] }).await?;
        Ok(true)
    }

    /// Stores a manifest as `PUT /v2/<name>/manifests/<tag or digest>` would (same checks:
    /// referenced blobs must exist, immutable tags stay put); returns its digest. Refusals
    /// come back as [`RegistryError::Refused`] with the Distribution Spec code
    /// (`MANIFEST_INVALID`, `MANIFEST_BLOB_UNKNOWN`, `TAG_INVALID`, `DIGEST_INVALID`, ...).
    pub async fn put_manifest_bytes(
        &self,
        name: &str,
        reference: &str,
        media_type: Option<&str>,
        manifest: Bytes,
    ) -> Result<String> {
        check(name)?;
        let len = manifest.len();
        let r = self.put_manifest(name, reference, media_type.map(String::from), Some(len), Full::new(manifest)).await;
        match r {
            Ok(resp) => resp
                .headers()
                .get("Docker-Content-Digest")
                .and_then(|v| v.to_str().ok())
                .map(String::from)
                .ok_or_else(|| RegistryError::Task("manifest put answered without a digest".into())),
            Err(e) => Err(RegistryError::Refused { code: e.code, message: e.message }),
        }
    }

    /// The manifest a tag or digest names in `name`, if any.
    pub async fn manifest(&self, name: &str, reference: &str) -> Result<Option<StoredManifest>> {
        check(name)?;
        let digest = match self.resolve(name, reference).await {
            Ok(d) => d,
            Err(e) if e.code == "MANIFEST_UNKNOWN" || e.code == "MANIFEST_INVALID" => return Ok(None),
            Err(e) => return Err(RegistryError::Refused { code: e.code, message: e.message }),
        };
        let Some(kv) = self.store.get(repo_key(name, "_manifests", &digest)).await? else { return Ok(None) };
        let (meta, data) = split_manifest(&kv.value).map_err(|e| RegistryError::Corrupt {
            key: String::from_utf8_lossy(&kv.key).into_owned(),
            reason: e.message,
        })?;
        Ok(Some(StoredManifest {
            media_type: meta["mediaType"].as_str().unwrap_or_default().to_string(),
            bytes: Bytes::copy_from_slice(data),
            digest,
        }))
    }

    /// The size of blob `digest` if it is linked into `name` and present on disk.
    pub async fn blob_size(&self, name: &str, digest: &str) -> Result<Option<u64>> {
        check(name)?;
        if !valid_digest(digest) || self.store.get(repo_key(name, "_blobs", digest)).await?.is_none() {
            return Ok(None);
        }
        self.blobs.size(digest).await.map_err(|e| RegistryError::Refused { code: e.code, message: e.message })
    }

    /// Whether the tags of `name` are immutable.
    pub async fn is_immutable(&self, name: &str) -> Result<bool> {
        check(name)?;
        self.immutable(name).await.map_err(|e| RegistryError::Refused { code: e.code, message: e.message })
    }

    /// A receiver of the repository name of every manifest pushed from now on (through
    /// `/v2/` or [`Registry::put_manifest_bytes`]); a slow receiver misses names (`Lagged`).
    pub fn subscribe_pushes(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.pushes.subscribe()
    }
}
