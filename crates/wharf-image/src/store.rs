//! The on-disk image store.
//!
//! ```text
//! ROOT/blobs/<alg>/<hex>        manifests and configs, by digest (verified)
//! ROOT/layers/<alg>/<hex>/      one unpacked layer per layer-blob digest (an overlay lowerdir)
//! ROOT/images/<sha256(ref)>.json  reference → image record
//! ROOT/empty/                   an empty lowerdir for read-only single-layer mounts
//! ROOT/tmp/                     downloads and unpacks in progress (cleared on open)
//! ```
//!
//! State files are written atomically (temp file, fsync, rename, fsync dir); a layer is
//! unpacked into `tmp/` and renamed into place, so a crash never leaves a torn layer or
//! record. Compressed layer blobs are deleted once unpacked: the unpacked directory is the
//! layer's only copy. Concurrent pulls of one image or layer in this process are
//! deduplicated by per-key locks; garbage collection excludes pulls with a lock of its own.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::auth::Keyring;
use crate::client::{RegistryClient, Session};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{layer_compression, select_platform, Descriptor, ImageConfigFile, ManifestKind, Platform};
use crate::reference::Reference;
use crate::rootfs::{mount_overlay, Mounted};
use crate::unpack::unpack_layer;

/// Image configs larger than this are refused.
const MAX_CONFIG_BYTES: u64 = 8 << 20;

/// One layer of a stored image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    /// The (compressed) layer blob's digest, which names the unpacked directory.
    pub digest: Digest,
    /// The layer's media type.
    pub media_type: String,
    /// The compressed size in bytes.
    pub size: u64,
    /// The uncompressed tar's digest (verified while unpacking).
    pub diff_id: Digest,
}

/// A pulled image, as the runtime and the kubelet's status need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// The normalised reference it was pulled by, e.g. `docker.io/library/busybox:latest`.
    pub reference: String,
    /// `name@digest` of what the reference resolved to (an index or a manifest): the
    /// `imageID` Kubernetes reports in container statuses.
    pub repo_digest: String,
    /// The digest of the platform manifest.
    pub manifest_digest: Digest,
    /// The image ID (the config blob's digest).
    pub id: Digest,
    /// Layers, bottom first.
    pub layers: Vec<Layer>,
    /// The image config (entrypoint, cmd, env, working dir, user).
    pub config: ImageConfigFile,
    /// Sum of the compressed layer sizes.
    pub size: u64,
    /// When it was pulled (seconds since the epoch).
    pub pulled_at: u64,
}

impl Image {
    /// The execution defaults (entrypoint, cmd, env, working dir, user) for the runtime;
    /// empty when the image sets none.
    pub fn runtime_config(&self) -> crate::manifest::ImageConfig {
        self.config.config.clone().unwrap_or_default()
    }
}

/// Counters that show deduplication at work.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// Layer blobs downloaded.
    pub layers_fetched: u64,
    /// Layers unpacked.
    pub layers_unpacked: u64,
    /// Manifest fetches (every pull does at least one).
    pub manifests_fetched: u64,
}

/// Disk thresholds for image garbage collection (the kubelet's
/// `imageGCHighThresholdPercent` / `imageGCLowThresholdPercent`).
#[derive(Debug, Clone, Copy)]
pub struct GcPolicy {
    /// Collect when the filesystem is at least this full (percent).
    pub high_threshold_percent: u8,
    /// Stop once it is below this (percent).
    pub low_threshold_percent: u8,
}

impl Default for GcPolicy {
    fn default() -> Self {
        GcPolicy { high_threshold_percent: 85, low_threshold_percent: 80 }
    }
}

/// What a garbage collection removed.
#[derive(Debug, Default, Clone)]
pub struct GcReport {
    /// References whose images were removed, oldest first.
    pub removed_images: Vec<String>,
    /// Unreferenced layer directories removed.
    pub removed_layers: usize,
    /// Unreferenced blobs removed.
    pub removed_blobs: usize,
    /// Disk usage (percent) before and after.
    pub usage_before: u8,
    /// Disk usage after collection.
    pub usage_after: u8,
}

#[derive(Default)]
struct Counters {
    layers_fetched: AtomicU64,
    layers_unpacked: AtomicU64,
    manifests_fetched: AtomicU64,
    tmp_seq: AtomicU64,
}

/// The image store of one node.
pub struct ImageStore {
    root: PathBuf,
    client: RegistryClient,
    platform: Platform,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Pulls hold it shared, garbage collection exclusively.
    gc_lock: tokio::sync::RwLock<()>,
    /// When each reference last finished pulling (to share one pull among waiters).
    pulled: Mutex<HashMap<String, Instant>>,
    /// When each image ID was last used by a container (in memory, like the kubelet's).
    last_used: Mutex<HashMap<Digest, SystemTime>>,
    counters: Counters,
}

impl ImageStore {
    /// Opens (creating) a store under `root`, clearing leftovers of interrupted work.
    pub fn open(root: impl Into<PathBuf>, client: RegistryClient, platform: Platform) -> Result<ImageStore> {
        let root = root.into();
        for d in ["blobs", "layers", "images", "empty", "tmp"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).map_err(Error::io("create", &p))?;
        }
        let tmp = root.join("tmp");
        let entries = std::fs::read_dir(&tmp).map_err(Error::io("read dir", &tmp))?;
        for e in entries.flatten() {
            let p = e.path();
            let r = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
            r.map_err(Error::io("remove stale", &p))?;
        }
        // Atomic writes that never reached their rename.
        for d in [root.join("images"), root.join("blobs").join("sha256"), root.join("blobs").join("sha512")] {
            let Ok(entries) = std::fs::read_dir(&d) else { continue };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.contains(".tmp-") {
                    let p = e.path();
                    std::fs::remove_file(&p).map_err(Error::io("remove stale", &p))?;
                }
            }
        }
        Ok(ImageStore {
            root,
            client,
            platform,
            locks: Mutex::new(HashMap::new()),
            gc_lock: tokio::sync::RwLock::new(()),
            pulled: Mutex::new(HashMap::new()),
            last_used: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Deduplication counters since open.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            layers_fetched: self.counters.layers_fetched.load(Ordering::Relaxed),
            layers_unpacked: self.counters.layers_unpacked.load(Ordering::Relaxed),
            manifests_fetched: self.counters.manifests_fetched.load(Ordering::Relaxed),
        }
    }

    fn lock_for(&self, key: String) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = match self.locks.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        // Drop entries nobody holds any more so the map stays small.
        m.retain(|_, l| Arc::strong_count(l) > 1);
        m.entry(key).or_default().clone()
    }

    fn tmp_path(&self, kind: &str) -> PathBuf {
        let n = self.counters.tmp_seq.fetch_add(1, Ordering::Relaxed);
        self.root.join("tmp").join(format!("{kind}-{}-{n}", std::process::id()))
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs").join(d.algorithm().name()).join(d.hex())
    }

    /// The directory a layer is unpacked in.
    pub fn layer_path(&self, d: &Digest) -> PathBuf {
        self.root.join("layers").join(d.algorithm().name()).join(d.hex())
    }

    fn record_path(&self, reference: &str) -> PathBuf {
        self.root.join("images").join(format!("{}.json", Digest::sha256_of(reference.as_bytes()).hex()))
    }

    /// The stored image for `image` (any spelling: `busybox` finds
    /// `docker.io/library/busybox:latest`), if it is present with all its layers.
    pub fn get(&self, image: &str) -> Result<Option<Image>> {
        let reference = parse(image)?;
        self.get_ref(&reference)
    }

    fn get_ref(&self, reference: &Reference) -> Result<Option<Image>> {
        let path = self.record_path(&reference.to_string());
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Io { op: "read", path, source: e }),
        };
        let image: Image = serde_json::from_slice(&bytes).map_err(|source| Error::State { path, source })?;
        if image.layers.iter().all(|l| self.layer_path(&l.digest).is_dir()) {
            Ok(Some(image))
        } else {
            Ok(None)
        }
    }

    /// Every stored image record.
    pub fn list(&self) -> Result<Vec<Image>> {
        let dir = self.root.join("images");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(Error::io("read dir", &dir))?.flatten() {
            let path = e.path();
            if path.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(Error::io("read", &path))?;
            let image: Image = serde_json::from_slice(&bytes).map_err(|source| Error::State { path, source })?;
            out.push(image);
        }
        out.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(out)
    }

    /// Pulls `image` with the credentials in `keyring`: resolves the manifest (picking this
    /// node's platform from an index), downloads and verifies the config and every layer
    /// not yet unpacked, unpacks each new layer once, and records the image.
    pub async fn pull(&self, image: &str, keyring: &Keyring) -> Result<Image> {
        let reference = parse(image)?;
        let started = Instant::now();
        let _gc = self.gc_lock.read().await;
        let lock = self.lock_for(format!("ref:{reference}"));
        let _guard = lock.lock().await;
        // Someone else pulled this reference while we waited: share their result.
        let finished_while_waiting = self
            .pulled
            .lock()
            .ok()
            .and_then(|m| m.get(&reference.to_string()).copied())
            .is_some_and(|t| t >= started);
        if finished_while_waiting {
            if let Some(img) = self.get_ref(&reference)? {
                return Ok(img);
            }
        }
        let img = self.pull_locked(&reference, keyring).await?;
        if let Ok(mut m) = self.pulled.lock() {
            m.insert(reference.to_string(), Instant::now());
        }
        Ok(img)
    }

    async fn pull_locked(&self, reference: &Reference, keyring: &Keyring) -> Result<Image> {
        let creds = keyring.lookup(reference);
        let mut session = Session::new(reference, creds.clone());
        self.counters.manifests_fetched.fetch_add(1, Ordering::Relaxed);
        let top = self.client.fetch_manifest(&mut session, &reference.manifest_reference()).await?;
        self.write_blob(&top.digest, &top.body)?;
        let (manifest_digest, manifest) = match top.kind {
            ManifestKind::Manifest(m) => (top.digest.clone(), m),
            ManifestKind::Index(index) => {
                let Some(desc) = select_platform(&index.manifests, &self.platform) else {
                    return Err(Error::NoMatchingPlatform {
                        reference: reference.to_string(),
                        platform: self.platform.to_string(),
                    });
                };
                self.counters.manifests_fetched.fetch_add(1, Ordering::Relaxed);
                let m = self.client.fetch_manifest(&mut session, &desc.digest.to_string()).await?;
                self.write_blob(&m.digest, &m.body)?;
                match m.kind {
                    ManifestKind::Manifest(inner) => (m.digest, inner),
                    ManifestKind::Index(_) => {
                        return Err(Error::Manifest {
                            reference: reference.to_string(),
                            source: crate::manifest::ManifestError::UnsupportedMediaType("nested index".into()),
                        })
                    }
                }
            }
        };
        // The config: small, kept as a blob.
        let config_bytes = match std::fs::read(self.blob_path(&manifest.config.digest)) {
            Ok(b) if manifest.config.digest.same_algorithm_of(&b) == manifest.config.digest => bytes::Bytes::from(b),
            _ => {
                let limit = manifest.config.size.min(MAX_CONFIG_BYTES);
                let b = self.client.fetch_blob_bytes(&mut session, &manifest.config.digest, limit).await?;
                self.write_blob(&manifest.config.digest, &b)?;
                b
            }
        };
        let config: ImageConfigFile = serde_json::from_slice(&config_bytes)
            .map_err(|source| Error::Config { digest: manifest.config.digest.clone(), source })?;
        let diff_ids = config.rootfs.as_ref().map(|r| r.diff_ids.clone()).unwrap_or_default();
        if diff_ids.len() != manifest.layers.len() {
            return Err(Error::Manifest {
                reference: reference.to_string(),
                source: crate::manifest::ManifestError::UnsupportedMediaType(format!(
                    "config lists {} diff_ids for {} layers",
                    diff_ids.len(),
                    manifest.layers.len()
                )),
            });
        }
        for l in &manifest.layers {
            if layer_compression(&l.media_type).is_none() {
                return Err(Error::UnsupportedLayer(l.media_type.clone()));
            }
        }
        // Layers in parallel; each is fetched and unpacked at most once.
        let jobs = manifest.layers.iter().zip(&diff_ids).map(|(desc, diff_id)| {
            let mut s = Session::new(reference, creds.clone());
            async move { self.ensure_layer(&mut s, desc, diff_id).await }
        });
        // Every job runs to completion (no cancellation mid-unpack); the first error wins.
        for r in futures::future::join_all(jobs).await {
            r?;
        }

        let layers: Vec<Layer> = manifest
            .layers
            .iter()
            .zip(diff_ids)
            .map(|(d, diff_id)| Layer { digest: d.digest.clone(), media_type: d.media_type.clone(), size: d.size, diff_id })
            .collect();
        let image = Image {
            reference: reference.to_string(),
            repo_digest: reference.with_digest(&top.digest),
            manifest_digest,
            id: manifest.config.digest.clone(),
            size: layers.iter().map(|l| l.size).sum(),
            layers,
            config,
            pulled_at: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        };
        let json = serde_json::to_vec_pretty(&image).map_err(|e| Error::Task(e.to_string()))?;
        write_atomic(&self.record_path(&image.reference), &json)?;
        if let Ok(mut m) = self.last_used.lock() {
            m.entry(image.id.clone()).or_insert_with(SystemTime::now);
        }
        Ok(image)
    }

    async fn ensure_layer(&self, session: &mut Session, desc: &Descriptor, diff_id: &Digest) -> Result<()> {
        let dest = self.layer_path(&desc.digest);
        if dest.is_dir() {
            return Ok(());
        }
        let lock = self.lock_for(format!("layer:{}", desc.digest));
        let _guard = lock.lock().await;
        if dest.is_dir() {
            return Ok(());
        }
        let compression = layer_compression(&desc.media_type).ok_or_else(|| Error::UnsupportedLayer(desc.media_type.clone()))?;
        // Temp paths are removed by guards even if this future is dropped mid-way.
        let blob = TempPath(self.tmp_path("blob"));
        let mut file = tokio::fs::File::create(&blob.0).await.map_err(Error::io("create", &blob.0))?;
        self.client.fetch_blob_to_file(session, &desc.digest, Some(desc.size), &mut file).await?;
        drop(file);
        self.counters.layers_fetched.fetch_add(1, Ordering::Relaxed);
        let unpack_dir = TempPath(self.tmp_path("layer"));
        std::fs::create_dir(&unpack_dir.0).map_err(Error::io("create", &unpack_dir.0))?;
        let (d, digest, expected) = (dest.clone(), desc.digest.clone(), diff_id.clone());
        // The blocking task owns both guards, so they outlive it even if we are cancelled.
        tokio::task::spawn_blocking(move || -> Result<()> {
            let (blob, unpack_dir) = (blob, unpack_dir);
            let u = &unpack_dir.0;
            let unpacked = unpack_layer(&blob.0, compression, u, &digest)?;
            if unpacked.diff_id != expected {
                return Err(Error::DigestMismatch {
                    what: format!("uncompressed layer {digest}"),
                    expected,
                    actual: unpacked.diff_id,
                });
            }
            let dir = std::fs::File::open(u).map_err(Error::io("open", u))?;
            rustix::fs::syncfs(&dir).map_err(|e| Error::Io { op: "syncfs", path: u.clone(), source: e.into() })?;
            let parent = d.parent().unwrap_or(Path::new("/")).to_path_buf();
            std::fs::create_dir_all(&parent).map_err(Error::io("create", &parent))?;
            std::fs::rename(u, &d).map_err(Error::io("rename layer into", &d))?;
            fsync_dir(&parent)
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))??;
        self.counters.layers_unpacked.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn write_blob(&self, d: &Digest, data: &[u8]) -> Result<()> {
        let path = self.blob_path(d);
        if path.exists() {
            return Ok(());
        }
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(Error::io("create", p))?;
        }
        write_atomic(&path, data)
    }

    /// Mounts `image`'s root filesystem at `container_dir/rootfs` (layers read-only, a
    /// writable `container_dir/upper` unless `read_only`) and marks the image used.
    pub fn prepare_rootfs(&self, image: &Image, container_dir: &Path, read_only: bool) -> Result<Mounted> {
        let lowers: Vec<PathBuf> = image.layers.iter().rev().map(|l| self.layer_path(&l.digest)).collect();
        if let Some(missing) = lowers.iter().find(|p| !p.is_dir()) {
            return Err(Error::NotPresent(format!("{} (layer {} missing)", image.reference, missing.display())));
        }
        self.mark_used(&image.id);
        mount_overlay(&lowers, &self.root.join("empty"), container_dir, read_only)
    }

    /// Records that a container uses image `id` now (for GC ordering).
    pub fn mark_used(&self, id: &Digest) {
        if let Ok(mut m) = self.last_used.lock() {
            m.insert(id.clone(), SystemTime::now());
        }
    }

    /// Removes the record of `image` (layers go at the next collection if unreferenced).
    pub async fn remove(&self, image: &str) -> Result<bool> {
        let reference = parse(image)?;
        let _gc = self.gc_lock.write().await;
        let path = self.record_path(&reference.to_string());
        match std::fs::remove_file(&path) {
            Ok(()) => {
                fsync_dir(&self.root.join("images"))?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::Io { op: "remove", path, source: e }),
        }
    }

    /// The filesystem's usage in percent (`1 - available/capacity`, as the kubelet computes it).
    pub fn disk_usage_percent(&self) -> Result<u8> {
        let s = rustix::fs::statvfs(&self.root)
            .map_err(|e| Error::Io { op: "statvfs", path: self.root.clone(), source: e.into() })?;
        if s.f_blocks == 0 {
            return Ok(0);
        }
        let used = s.f_blocks.saturating_sub(s.f_bavail) as u128 * 100;
        Ok(u8::try_from((used / s.f_blocks as u128).min(100)).unwrap_or(100))
    }

    /// Image garbage collection: when usage ≥ the high threshold, removes images whose ID is
    /// not in `in_use`, least recently used first, until usage is below the low threshold;
    /// then (always) deletes layers and blobs no remaining image references.
    pub async fn garbage_collect(&self, policy: GcPolicy, in_use: &HashSet<Digest>) -> Result<GcReport> {
        let _gc = self.gc_lock.write().await;
        let mut report = GcReport { usage_before: self.disk_usage_percent()?, ..GcReport::default() };
        let mut usage = report.usage_before;
        if usage >= policy.high_threshold_percent {
            let images = self.list()?;
            let last_used = self.last_used.lock().map(|m| m.clone()).unwrap_or_default();
            let mut by_id: HashMap<Digest, (SystemTime, Vec<String>)> = HashMap::new();
            for img in images.iter().filter(|i| !in_use.contains(&i.id)) {
                let pulled = UNIX_EPOCH + std::time::Duration::from_secs(img.pulled_at);
                let used = last_used.get(&img.id).copied().unwrap_or(pulled);
                let e = by_id.entry(img.id.clone()).or_insert((used, Vec::new()));
                e.0 = e.0.max(used);
                e.1.push(img.reference.clone());
            }
            let mut order: Vec<(SystemTime, Digest, Vec<String>)> =
                by_id.into_iter().map(|(id, (t, refs))| (t, id, refs)).collect();
            order.sort();
            for (_, id, refs) in order {
                if usage < policy.low_threshold_percent {
                    break;
                }
                for r in &refs {
                    let p = self.record_path(r);
                    match std::fs::remove_file(&p) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(Error::Io { op: "remove", path: p, source: e }),
                    }
                    report.removed_images.push(r.clone());
                }
                if let Ok(mut m) = self.last_used.lock() {
                    m.remove(&id);
                }
                fsync_dir(&self.root.join("images"))?;
                let (layers, blobs) = self.sweep()?;
                report.removed_layers += layers;
                report.removed_blobs += blobs;
                usage = self.disk_usage_percent()?;
            }
        }
        let (layers, blobs) = self.sweep()?;
        report.removed_layers += layers;
        report.removed_blobs += blobs;
        report.usage_after = self.disk_usage_percent()?;
        Ok(report)
    }

    /// Deletes layer directories and blobs that no image record references.
    fn sweep(&self) -> Result<(usize, usize)> {
        let images = self.list()?;
        let mut live_layers: BTreeSet<PathBuf> = BTreeSet::new();
        let mut live_blobs: BTreeSet<PathBuf> = BTreeSet::new();
        for img in &images {
            for l in &img.layers {
                live_layers.insert(self.layer_path(&l.digest));
            }
            live_blobs.insert(self.blob_path(&img.id));
            live_blobs.insert(self.blob_path(&img.manifest_digest));
            if let Some((_, d)) = img.repo_digest.rsplit_once('@') {
                if let Ok(d) = d.parse::<Digest>() {
                    live_blobs.insert(self.blob_path(&d));
                }
            }
        }
        let mut removed = (0, 0);
        for (kind, live) in [("layers", &live_layers), ("blobs", &live_blobs)] {
            let base = self.root.join(kind);
            for alg in std::fs::read_dir(&base).map_err(Error::io("read dir", &base))?.flatten() {
                let alg_dir = alg.path();
                for e in std::fs::read_dir(&alg_dir).map_err(Error::io("read dir", &alg_dir))?.flatten() {
                    let p = e.path();
                    if live.contains(&p) {
                        continue;
                    }
                    if kind == "layers" {
                        // Rename first so a crash mid-delete never leaves a half layer in place.
                        let doomed = self.tmp_path("gc");
                        std::fs::rename(&p, &doomed).map_err(Error::io("rename", &p))?;
                        std::fs::remove_dir_all(&doomed).map_err(Error::io("remove", &doomed))?;
                        removed.0 += 1;
                    } else {
                        std::fs::remove_file(&p).map_err(Error::io("remove", &p))?;
                        removed.1 += 1;
                    }
                }
            }
        }
        Ok(removed)
    }
}

/// A temp file or directory removed when dropped (after a successful rename it is gone and
/// removal is a no-op).
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        match std::fs::symlink_metadata(&self.0) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir_all(&self.0);
            }
            Ok(_) => {
                let _ = std::fs::remove_file(&self.0);
            }
            Err(_) => {}
        }
    }
}

fn parse(image: &str) -> Result<Reference> {
    Reference::parse(image).map_err(|source| Error::InvalidReference { image: image.to_string(), source })
}

/// Writes `data` to `path` atomically: temp file in the same directory, fsync, rename,
/// fsync of the directory.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(Error::io("create", &tmp))?;
        f.write_all(data).map_err(Error::io("write", &tmp))?;
        f.sync_all().map_err(Error::io("fsync", &tmp))?;
        std::fs::rename(&tmp, path).map_err(Error::io("rename", path))?;
        fsync_dir(dir)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

fn fsync_dir(dir: &Path) -> Result<()> {
    let f = std::fs::File::open(dir).map_err(Error::io("open", dir))?;
    f.sync_all().map_err(Error::io("fsync", dir))
}
