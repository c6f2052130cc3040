//! Content-addressed blob files on disk, and the streaming paths into and out of them.
//!
//! A blob lives at `root/blobs/sha256/<2 hex>/<64 hex>`; an upload in progress at
//! `root/uploads/<32 hex>`. Paths are built only from strings that passed
//! [`crate::valid_digest`] or [`valid_upload_id`], so no request can name a path outside the
//! root. Bodies move through a bounded channel to a blocking thread that hashes and writes
//! (or reads), in chunks of [`CHUNK`]: a 512 MiB layer never sits in memory, and network,
//! hashing and disk overlap.

use std::convert::Infallible;
use std::io::{Read, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use crate::error::{ApiError, ApiResult, RegistryError};

/// Size of the chunks written to and read from disk.
pub(crate) const CHUNK: usize = 1024 * 1024;
/// Chunks in flight between the network and the disk thread, per request.
const DEPTH: usize = 4;

/// Whether `id` has the form of an upload id (32 lowercase hex digits).
pub(crate) fn valid_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// The on-disk half of the registry.
pub(crate) struct BlobStore {
    blobs: PathBuf,
    uploads: PathBuf,
}

/// What a finished write produced: the open file, the running hash and the bytes written.
pub(crate) struct Written {
    pub file: std::fs::File,
    pub hasher: Sha256,
    pub len: u64,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io { path: path.to_path_buf(), source }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> std::io::Result<T> + Send + 'static) -> ApiResult<T> {
    Ok(tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)??)
}

impl BlobStore {
    /// Opens the store under `root`; uploads left by a previous run are removed (they were
    /// never acknowledged as blobs).
    pub fn open(root: &Path) -> crate::error::Result<Self> {
        let blobs = root.join("blobs").join("sha256");
        let uploads = root.join("uploads");
        std::fs::create_dir_all(&blobs).map_err(io_err(&blobs))?;
        if uploads.exists() {
            std::fs::remove_dir_all(&uploads).map_err(io_err(&uploads))?;
        }
        std::fs::create_dir_all(&uploads).map_err(io_err(&uploads))?;
        Ok(Self { blobs, uploads })
    }

    /// The path of a blob; `digest` must be valid.
    pub fn path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.blobs.join(hex.get(..2).unwrap_or("__")).join(hex)
    }

    /// The path of an upload's data; `id` must be valid.
    pub fn upload_path(&self, id: &str) -> PathBuf {
        self.uploads.join(id)
    }

    /// The directory holding the blob shards.
    pub fn blobs_dir(&self) -> &Path {
        &self.blobs
    }

    /// The size of a blob, or `None` if it is not on disk.
    pub async fn size(&self, digest: &str) -> ApiResult<Option<u64>> {
        match tokio::fs::metadata(self.path(digest)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Sets a blob's modification time to now (the garbage collector spares blobs touched
    /// after it started); `false` if the blob is not on disk.
    pub async fn touch(&self, digest: &str) -> ApiResult<bool> {
        let path = self.path(digest);
        blocking(move || match std::fs::File::open(&path) {
            Ok(f) => f.set_modified(SystemTime::now()).map(|()| true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        })
        .await
    }

    /// Opens (creating) an upload's file for appending at `offset`, cutting anything beyond it.
    pub async fn open_upload(&self, id: &str, offset: u64) -> ApiResult<std::fs::File> {
        let path = self.upload_path(id);
        blocking(move || {
            let mut f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
            f.set_len(offset)?;
            f.seek(std::io::SeekFrom::Start(offset))?;
            Ok(f)
        })
        .await
    }

    /// Checks the hash against `digest`; if it matches, makes the data durable and moves it
    /// to its content address. The upload file is removed either way.
    pub async fn commit(&self, id: &str, written: Written, digest: &str) -> ApiResult<()> {
        let tmp = self.upload_path(id);
        let actual = format!("sha256:{}", hex::encode(written.hasher.finalize()));
        if actual != digest {
            drop(written.file);
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(ApiError::digest_invalid("provided digest did not match uploaded content")
                .detail(serde_json::json!({ "expected": digest, "actual": actual })));
        }
        let dest = self.path(digest);
        let file = written.file;
        let res = blocking(move || {
            // A chunked upload's file may be old; the blob is new as far as GC is concerned.
            file.set_modified(SystemTime::now())?;
            file.sync_data()?;
            drop(file);
            let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
            std::fs::create_dir_all(&dir)?;
            std::fs::rename(&tmp, &dest)?;
            std::fs::File::open(&dir)?.sync_all()
        })
        .await;
        if res.is_err() {
            let _ = tokio::fs::remove_file(self.upload_path(id)).await;
        }
        res
    }

    /// Removes a blob file (the garbage collector's job only).
    pub fn remove(&self, digest: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(digest)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Starts write-back of a large upload while it is still arriving: every [`EARLY_SYNC`]
/// bytes, a helper thread `fdatasync`s a duplicate of the file descriptor (one at a time), so
/// the fsync before the blob becomes visible finds little left to write. Only speed depends
/// on it; durability comes from the final `sync_data` in [`BlobStore::commit`].
#[derive(Default)]
struct EarlySync {
    pending: u64,
    helper: Option<std::thread::JoinHandle<()>>,
}

/// Bytes written between early syncs.
const EARLY_SYNC: u64 = 32 * 1024 * 1024;

impl EarlySync {
    fn wrote(&mut self, file: &std::fs::File, n: u64) {
        self.pending += n;
        if self.pending < EARLY_SYNC || self.helper.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        self.pending = 0;
        if let Ok(dup) = file.try_clone() {
            self.helper = std::thread::Builder::new()
                .name("blob-writeback".into())
                .spawn(move || {
                    let _ = dup.sync_data();
                })
                .ok();
        }
    }

    fn finish(self) {
        if let Some(h) = self.helper {
            let _ = h.join();
        }
    }
}

/// Reads the next data chunk of a request body; a body error kills the request.
pub(crate) async fn next_chunk<B>(body: &mut B) -> ApiResult<Option<Bytes>>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    loop {
        match body.frame().await {
            None => return Ok(None),
            Some(Err(e)) => return Err(ApiError::upload_invalid(format!("reading request body: {e}"))),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}

/// Streams `body` to the end of `file` while hashing it, on a blocking thread fed through a
/// bounded channel. Returns the file and hash state so a chunked upload can continue.
pub(crate) async fn write_body<B>(file: std::fs::File, hasher: Sha256, body: &mut B) -> ApiResult<Written>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let (tx, mut rx) = mpsc::channel::<Bytes>(DEPTH);
    let task = tokio::task::spawn_blocking(move || {
        let (mut file, mut hasher, mut len) = (file, hasher, 0u64);
        let mut early = EarlySync::default();
        while let Some(chunk) = rx.blocking_recv() {
            hasher.update(&chunk);
            file.write_all(&chunk)?;
            len += chunk.len() as u64;
            early.wrote(&file, chunk.len() as u64);
        }
        early.finish();
        Ok::<_, std::io::Error>(Written { file, hasher, len })
    });
    let pumped = async {
        let mut buf = BytesMut::new();
        while let Some(chunk) = next_chunk(body).await? {
            if buf.is_empty() && chunk.len() >= CHUNK {
                if tx.send(chunk).await.is_err() {
                    return Ok(()); // the writer failed; its error is reported below
                }
                continue;
            }
            if buf.capacity() == 0 {
                buf.reserve(CHUNK);
            }
            buf.extend_from_slice(&chunk);
            if buf.len() >= CHUNK && tx.send(buf.split().freeze()).await.is_err() {
                return Ok(());
            }
        }
        if !buf.is_empty() {
            let _ = tx.send(buf.freeze()).await;
        }
        Ok::<_, ApiError>(())
    }
    .await;
    drop(tx);
    let written = task.await.map_err(ApiError::internal)?;
    pumped?;
    Ok(written?)
}

/// A read buffer that returns to its download's pool when the last `Bytes` view drops.
struct Pooled {
    buf: Vec<u8>,
    pool: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Ok(mut p) = self.pool.lock() {
            p.push(std::mem::take(&mut self.buf));
        }
    }
}

/// A response body streaming `len` bytes of `path` from `start`, read on a blocking thread.
/// A read error ends the stream early; the `Content-Length` already sent makes the client
/// (and hyper) treat that as a failed transfer rather than a short blob.
pub(crate) fn stream_file(path: PathBuf, start: u64, len: u64) -> crate::Body {
    let (tx, rx) = mpsc::channel::<Bytes>(DEPTH);
    tokio::task::spawn_blocking(move || {
        let run = || -> std::io::Result<()> {
            let mut f = std::fs::File::open(&path)?;
            f.seek(std::io::SeekFrom::Start(start))?;
            let mut remaining = len;
            let pool = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
            while remaining > 0 {
                let want = remaining.min(CHUNK as u64);
                // Buffers come back to the pool once hyper has written them, so a download
                // reuses a handful of them instead of faulting in fresh memory per chunk.
                let mut buf = pool.lock().ok().and_then(|mut p| p.pop()).unwrap_or_default();
                buf.clear();
                // read_to_end fills spare capacity without zeroing it first.
                buf.reserve(want as usize);
                (&mut f).take(want).read_to_end(&mut buf)?;
                if buf.len() as u64 != want {
                    return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "blob shorter than expected"));
                }
                remaining -= want;
                let chunk = Bytes::from_owner(Pooled { buf, pool: pool.clone() });
                if tx.blocking_send(chunk).is_err() {
                    return Ok(()); // the client went away
                }
            }
            Ok(())
        };
        if let Err(e) = run() {
            tracing::error!(error = %e, path = %path.display(), "reading blob");
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(hyper::body::Frame::data(b)), rx))
    });
    http_body_util::StreamBody::new(stream).boxed()
}
