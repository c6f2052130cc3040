//! Layer unpacking against hostile and unusual tars (runs as root: chown, mknod).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::*;
use wharf_image::manifest::Compression;
use wharf_image::unpack::unpack_layer;
use wharf_image::{Digest, Error};

/// A tar entry with a raw name the tar crate's builder would refuse (e.g. containing `..`).
fn raw_entry(name: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(l) = link {
        h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
    }
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn finish(mut entries: Vec<u8>) -> Vec<u8> {
    entries.extend_from_slice(&[0u8; 1024]);
    entries
}

fn unpack(tar: &[u8], work: &Path) -> Result<wharf_image::unpack::Unpacked, Error> {
    let blob = work.join("layer.tar");
    std::fs::write(&blob, tar).unwrap();
    let dest = work.join("out");
    std::fs::create_dir_all(&dest).unwrap();
    let digest = Digest::sha256_of(tar);
    unpack_layer(&blob, Compression::None, &dest, &digest)
}

#[test]
fn unpack_should_refuse_writing_through_a_symlink_planted_in_the_same_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let mut t = raw_entry("evil", tar::EntryType::Symlink, Some(outside.to_str().unwrap()), b"");
    t.extend(raw_entry("evil/pwned", tar::EntryType::Regular, None, b"x"));
    let err = unpack(&finish(t), tmp.path()).unwrap_err();
    assert!(matches!(err, Error::Unpack { .. }), "{err}");
    assert!(!outside.join("pwned").exists());
}

#[test]
fn unpack_should_refuse_parent_dir_paths_and_hard_links_out_of_the_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let err = unpack(&finish(raw_entry("../escape", tar::EntryType::Regular, None, b"x")), tmp.path()).unwrap_err();
    assert!(matches!(err, Error::Unpack { .. }), "{err}");
    assert!(!tmp.path().join("escape").exists());

    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("secret"), b"s").unwrap();
    let err = unpack(&finish(raw_entry("link", tar::EntryType::Link, Some("../secret"), b"")), tmp.path()).unwrap_err();
    assert!(matches!(err, Error::Unpack { .. }), "{err}");
    assert!(!tmp.path().join("out/link").exists());
}

#[test]
fn unpack_should_let_later_entries_replace_earlier_ones_and_report_the_diff_id() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = tar_layer(&[
        E::File("a", b"first", 0o644),
        E::File("a", b"second", 0o600),
        E::File("d", b"file then dir", 0o644),
        E::Dir("d/", 0o700),
        E::File("d/inner", b"i", 0o644),
    ]);
    let out = unpack(&tar, tmp.path()).unwrap();
    assert_eq!(out.diff_id, Digest::sha256_of(&tar));
    let dest = tmp.path().join("out");
    assert_eq!(std::fs::read(dest.join("a")).unwrap(), b"second");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(dest.join("a")).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(dest.join("d").is_dir());
    assert_eq!(std::fs::read(dest.join("d/inner")).unwrap(), b"i");
    assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o755, "layer root defaults to 0755");
}

#[test]
fn unpack_should_detect_a_gzip_stream_that_is_not_gzip() {
    let tmp = tempfile::tempdir().unwrap();
    let blob = tmp.path().join("layer");
    std::fs::write(&blob, b"definitely not gzip").unwrap();
    let dest = tmp.path().join("out");
    std::fs::create_dir(&dest).unwrap();
    let err = unpack_layer(&blob, Compression::Gzip, &dest, &Digest::sha256_of(b"x")).unwrap_err();
    assert!(matches!(err, Error::Unpack { .. }), "{err}");
}
