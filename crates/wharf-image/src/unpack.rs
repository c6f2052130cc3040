//! Unpacking one layer tar into a directory usable as an overlayfs lowerdir.
//!
//! OCI whiteouts become overlayfs whiteouts: `.wh.NAME` → a `0:0` character device `NAME`,
//! `.wh..wh..opq` → the `trusted.overlay.opaque=y` xattr on the directory. Ownership,
//! permissions (incl. setuid), xattrs, hard links, symlinks, device nodes and FIFOs are kept.
//! Entries may not escape the directory: `..` components and parents that are not real
//! directories (e.g. a symlink planted earlier in the same tar) are refused.

use std::fs;
use std::io::{self, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, Timespec, Timestamps, CWD};

use crate::digest::{Algorithm, Digest, HashingReader};
use crate::error::{Error, Result};
use crate::manifest::Compression;

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What unpacking produced.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// The sha256 of the uncompressed tar (the layer's `diff_id`).
    pub diff_id: Digest,
    /// Number of tar entries applied.
    pub entries: u64,
}

/// Unpacks the layer blob at `blob` into the existing empty directory `dest`.
pub fn unpack_layer(blob: &Path, compression: Compression, dest: &Path, layer: &Digest) -> Result<Unpacked> {
    let file = fs::File::open(blob).map_err(Error::io("open layer blob", blob))?;
    let reader: Box<dyn Read> = match compression {
        Compression::None => Box::new(BufReader::with_capacity(256 << 10, file)),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(256 << 10, file))),
        Compression::Zstd => Box::new(ZstdFrames::new(BufReader::with_capacity(256 << 10, file))),
    };
    let hashing = HashingReader::new(reader, Algorithm::Sha256);
    let mut archive = tar::Archive::new(hashing);
    let is_root = rustix::process::geteuid().is_root();
    let bad = |path: &str, reason: String| Error::Unpack { layer: layer.clone(), path: path.to_string(), reason };

    // The layer root defaults to 0755 (a fresh temp dir is 0700) unless the tar says otherwise.
    set_mode(dest, 0o755).map_err(Error::io("chmod", dest))?;
    let mut dir_times: Vec<(PathBuf, u64)> = Vec::new();
    let mut entries = 0u64;
    {
        let iter = archive.entries().map_err(|e| bad("", e.to_string()))?;
        for entry in iter {
            let mut entry = entry.map_err(|e| bad("", e.to_string()))?;
            entries += 1;
            let raw_path = entry.path().map_err(|e| bad("", e.to_string()))?.into_owned();
            let shown = raw_path.display().to_string();
            let Some(rel) = clean_relative(&raw_path) else {
                return Err(bad(&shown, "path escapes the layer".into()));
            };
            let header = entry.header().clone();
            let kind = header.entry_type();
            if matches!(kind, tar::EntryType::XGlobalHeader | tar::EntryType::XHeader | tar::EntryType::GNULongName | tar::EntryType::GNULongLink) {
                continue;
            }
            let uid = header.uid().map_err(|e| bad(&shown, e.to_string()))?;
            let gid = header.gid().map_err(|e| bad(&shown, e.to_string()))?;
            let mode = header.mode().map_err(|e| bad(&shown, e.to_string()))? & 0o7777;
            let mtime = header.mtime().unwrap_or(0);

            let name = rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
                let parent_rel = rel.parent().unwrap_or(Path::new(""));
                let parent = ensure_dir_chain(dest, parent_rel).map_err(|r| bad(&shown, r))?;
                if name == OPAQUE_MARKER {
                    rustix::fs::lsetxattr(&parent, OPAQUE_XATTR, b"y", rustix::fs::XattrFlags::empty())
                        .map_err(|e| bad(&shown, format!("setting {OPAQUE_XATTR}: {e}")))?;
                } else if name.starts_with(".wh..wh.") {
                    // aufs bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): nothing to apply.
                } else {
                    let target = parent.join(hidden);
                    remove_existing(&target).map_err(|e| bad(&shown, e.to_string()))?;
                    rustix::fs::mknodat(CWD, &target, FileType::CharacterDevice, Mode::empty(), rustix::fs::makedev(0, 0))
                        .map_err(|e| bad(&shown, format!("creating whiteout: {e}")))?;
                    if is_root {
                        chown(&target, uid, gid).map_err(|e| bad(&shown, format!("chown: {e}")))?;
                    }
                }
                continue;
            }

            let target = if rel.as_os_str().is_empty() {
                dest.to_path_buf()
            } else {
                let parent_rel = rel.parent().unwrap_or(Path::new(""));
                let parent = ensure_dir_chain(dest, parent_rel).map_err(|r| bad(&shown, r))?;
                match rel.file_name() {
                    Some(n) => parent.join(n),
                    None => return Err(bad(&shown, "entry has no name".into())),
                }
            };
            let is_dir = kind == tar::EntryType::Directory;
            match kind {
                tar::EntryType::Directory => {
                    match fs::symlink_metadata(&target) {
                        Ok(m) if m.is_dir() => {}
                        Ok(_) => {
                            remove_existing(&target).map_err(|e| bad(&shown, e.to_string()))?;
                            fs::create_dir(&target).map_err(|e| bad(&shown, e.to_string()))?;
                        }
                        Err(_) => fs::create_dir(&target).map_err(|e| bad(&shown, e.to_string()))?,
                    }
                }
                tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                    remove_existing(&target).map_err(|e| bad(&shown, e.to_string()))?;
                    let mut f = fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&target)
                        .map_err(|e| bad(&shown, e.to_string()))?;
                    io::copy(&mut entry, &mut f).map_err(|e| bad(&shown, e.to_string()))?;
                }
                tar::EntryType::Symlink => {
                    let link = entry
                        .link_name()
                        .map_err(|e| bad(&shown, e.to_string()))?
                        .ok_or_else(|| bad(&shown, "symlink without target".into()))?
                        .into_owned();
                    remove_existing(&target).map_err(|e| bad(&shown, e.to_string()))?;
                    std::os::unix::fs::symlink(&link, &target).map_err(|e| bad(&shown, e.to_string()))?;
                }
                tar::EntryType::Link => {
                    let link = entry
                        .link_name()
                        .map_err(|e| bad(&shown, e.to_string()))?
                        .ok_or_else(|| bad(&shown, "hard link without target".into()))?
                        .into_owned();
                    let Some(link_rel) = clean_relative(&link) else {
                        return Err(bad(&shown, "hard link target escapes the layer".into()));
                    };
                    let source = dest.join(&link_rel);
                    // The source must be inside this layer and reached through real directories.
                    if let Some(p) = link_rel.parent() {
                        ensure_dir_chain_exists(dest, p).map_err(|r| bad(&shown, r))?;
                    }
                    if source == target {
                        continue;
                    }
                    remove_existing(&target).map_err(|e| bad(&shown, e.to_string()))?;
                    fs::hard_link(&source, &target)
                        .map_err(|e| bad(&shown, format!("hard link to {}: {e}", link.display())))?;
                    // A hard link shares the inode: its metadata is the source's.
                    continue;
                }
                tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                    let major = header.device_major().ok().flatten().unwrap_or(0);
                    let minor = header.device_minor().ok().flatten().unwrap_or(0);
                    let ft = match kind {
                        tar::EntryType::Char => FileType::CharacterDevice,
                        tar::EntryType::Block => FileType::BlockDevice,
                        _ => FileType::Fifo,
                    };
                    remove_existing(&target).map_err(|e| bad(&shown, e.to_string()))?;
                    rustix::fs::mknodat(CWD, &target, ft, Mode::from_raw_mode(mode), rustix::fs::makedev(major, minor))
                        .map_err(|e| bad(&shown, format!("mknod: {e}")))?;
                }
                other => {
                    tracing::debug!(layer = %layer, path = %shown, kind = ?other, "skipping unsupported tar entry");
                    continue;
                }
            }

            if is_root {
                chown(&target, uid, gid).map_err(|e| bad(&shown, format!("chown: {e}")))?;
            }
            if kind != tar::EntryType::Symlink {
                // After chown, which clears setuid/setgid.
                set_mode(&target, mode).map_err(|e| bad(&shown, format!("chmod: {e}")))?;
            }
            if let Ok(Some(exts)) = entry.pax_extensions() {
                for ext in exts {
                    let Ok(ext) = ext else { continue };
                    let Ok(key) = ext.key() else { continue };
                    let Some(name) = key.strip_prefix("SCHILY.xattr.") else { continue };
                    if name.starts_with("trusted.overlay.") {
                        // Overlay's own attributes are never taken from image content.
                        continue;
                    }
                    match rustix::fs::lsetxattr(&target, name, ext.value_bytes(), rustix::fs::XattrFlags::empty()) {
                        Ok(()) => {}
                        Err(rustix::io::Errno::OPNOTSUPP) => {
                            tracing::debug!(path = %shown, xattr = name, "filesystem does not support xattr")
                        }
                        Err(e) => return Err(bad(&shown, format!("setting xattr {name}: {e}"))),
                    }
                }
            }
            if is_dir {
                dir_times.push((target, mtime));
            } else {
                set_mtime(&target, mtime).map_err(|e| bad(&shown, format!("utimes: {e}")))?;
            }
        }
    }
    // Directory times last: creating their children changed them.
    for (dir, mtime) in dir_times.iter().rev() {
        set_mtime(dir, *mtime).map_err(|e| bad(&dir.display().to_string(), format!("utimes: {e}")))?;
    }
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| bad("", format!("reading layer: {e}")))?;
    Ok(Unpacked { diff_id: rest.finish(), entries })
}

/// A zstd stream of one or more frames (skippable frames, as zstd:chunked writes, are
/// skipped), decoded with the pure-Rust `ruzstd`. Its content checksums are not checked: the
/// compressed blob's digest and the tar's diff_id are.
struct ZstdFrames<R: io::BufRead> {
    source: R,
    frame: ruzstd::decoding::FrameDecoder,
    in_frame: bool,
}

impl<R: io::BufRead> ZstdFrames<R> {
    fn new(source: R) -> Self {
        ZstdFrames { source, frame: ruzstd::decoding::FrameDecoder::new(), in_frame: false }
    }

    /// Starts the next data frame; `false` at the end of the stream.
    fn next_frame(&mut self) -> io::Result<bool> {
        use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
        loop {
            if self.source.fill_buf()?.is_empty() {
                return Ok(false);
            }
            match self.frame.reset(&mut self.source) {
                Ok(()) => return Ok(true),
                Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame { length, .. })) => {
                    let skipped = io::copy(&mut (&mut self.source).take(u64::from(length)), &mut io::sink())?;
                    if skipped != u64::from(length) {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated skippable zstd frame"));
                    }
                }
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}"))),
            }
        }
    }
}

impl<R: io::BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.in_frame {
                if !self.next_frame()? {
                    return Ok(0);
                }
                self.in_frame = true;
            }
            while self.frame.can_collect() < buf.len() && !self.frame.is_finished() {
                let want = buf.len() - self.frame.can_collect();
                self.frame
                    .decode_blocks(&mut self.source, ruzstd::decoding::BlockDecodingStrategy::UptoBytes(want))
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}")))?;
            }
            let n = self.frame.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if self.frame.is_finished() && self.frame.can_collect() == 0 {
                self.in_frame = false;
            }
        }
    }
}

/// The path with leading `/` and `.` components removed; `None` if it climbs with `..`.
fn clean_relative(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Creates the directories of `rel` under `root` as needed; refuses a component that exists
/// but is not a real directory (a symlink could point outside the layer).
fn ensure_dir_chain(root: &Path, rel: &Path) -> std::result::Result<PathBuf, String> {
    let mut cur = root.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("parent {} is not a directory", cur.display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&cur).map_err(|e| format!("creating {}: {e}", cur.display()))?;
                set_mode(&cur, 0o755).map_err(|e| format!("chmod {}: {e}", cur.display()))?;
            }
            Err(e) => return Err(format!("{}: {e}", cur.display())),
        }
    }
    Ok(cur)
}

fn ensure_dir_chain_exists(root: &Path, rel: &Path) -> std::result::Result<(), String> {
    let mut cur = root.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            _ => return Err(format!("hard link source parent {} is not a directory in this layer", cur.display())),
        }
    }
    Ok(())
}

fn remove_existing(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn chown(path: &Path, uid: u64, gid: u64) -> rustix::io::Result<()> {
    let uid = u32::try_from(uid).map_err(|_| rustix::io::Errno::INVAL)?;
    let gid = u32::try_from(gid).map_err(|_| rustix::io::Errno::INVAL)?;
    rustix::fs::chownat(
        CWD,
        path,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

fn set_mtime(path: &Path, secs: u64) -> rustix::io::Result<()> {
    let t = Timespec { tv_sec: i64::try_from(secs).unwrap_or(0), tv_nsec: 0 };
    rustix::fs::utimensat(CWD, path, &Timestamps { last_access: t, last_modification: t }, AtFlags::SYMLINK_NOFOLLOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zstd_reader_should_decode_several_frames_and_skip_skippable_ones() {
        use ruzstd::encoding::{compress_to_vec, CompressionLevel};
        let mut stream = compress_to_vec(&b"hello "[..], CompressionLevel::Fastest);
        // A skippable frame (magic 0x184D2A50, 4-byte little-endian length, payload).
        stream.extend_from_slice(&0x184D_2A50u32.to_le_bytes());
        stream.extend_from_slice(&3u32.to_le_bytes());
        stream.extend_from_slice(b"toc");
        stream.extend(compress_to_vec(&b"world"[..], CompressionLevel::Uncompressed));
        let mut out = String::new();
        ZstdFrames::new(&stream[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello world");
        assert!(ZstdFrames::new(&b"not zstd at all"[..]).read_to_string(&mut String::new()).is_err());
    }

    #[test]
    fn clean_relative_should_strip_roots_and_refuse_parent_dirs() {
        assert_eq!(clean_relative(Path::new("./a/b")).unwrap(), PathBuf::from("a/b"));
        assert_eq!(clean_relative(Path::new("/etc/passwd")).unwrap(), PathBuf::from("etc/passwd"));
        assert_eq!(clean_relative(Path::new("./")).unwrap(), PathBuf::new());
        assert!(clean_relative(Path::new("a/../../b")).is_none());
    }
}
