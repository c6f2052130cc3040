//! Overlayfs root filesystems: the image's unpacked layers as read-only lowerdirs, topped by
//! a per-container upperdir (or none, for `readOnlyRootFilesystem`).
//!
//! Mounting uses the new mount API (`fsopen`/`fsconfig`/`fsmount`/`move_mount`) with one
//! `lowerdir+` per layer (Linux ≥ 6.8), so the 4096-byte limit of a mount(2) option string
//! does not bound the number of layers; older kernels get mount(2) with that limit checked.

use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};

use rustix::mount::{
    fsconfig_create, fsconfig_set_string, fsmount, fsopen, move_mount, unmount, FsMountFlags, FsOpenFlags,
    MountAttrFlags, MountFlags, MoveMountFlags, UnmountFlags,
};

use crate::error::{Error, Result};

/// An overlay mounted at a container's rootfs; unmounted when dropped unless made persistent.
#[derive(Debug)]
pub struct Mounted {
    container_dir: PathBuf,
    target: PathBuf,
    armed: bool,
}

/// The paths a container's root filesystem uses under its directory.
pub fn rootfs_paths(container_dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (container_dir.join("rootfs"), container_dir.join("upper"), container_dir.join("work"))
}

impl Mounted {
    /// The merged root filesystem.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Unmounts (the upper layer is kept in the container directory).
    pub fn unmount(mut self) -> Result<()> {
        self.armed = false;
        unmount_at(&self.target)
    }

    /// Unmounts and deletes the rootfs, upper and work directories.
    pub fn remove(mut self) -> Result<()> {
        self.armed = false;
        unmount_at(&self.target)?;
        let (rootfs, upper, work) = rootfs_paths(&self.container_dir);
        for d in [rootfs, upper, work] {
            match fs::remove_dir_all(&d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::Io { op: "remove", path: d, source: e }),
            }
        }
        Ok(())
    }

    /// Keeps the mount after this handle is dropped (a running container outlives an agent
    /// restart); returns the rootfs path. [`Mounted::adopt`] takes it back.
    pub fn persist(mut self) -> PathBuf {
        self.armed = false;
        self.target.clone()
    }

    /// Re-takes ownership of a rootfs mounted by an earlier process, if it is mounted.
    pub fn adopt(container_dir: &Path) -> Result<Option<Mounted>> {
        let (target, _, _) = rootfs_paths(container_dir);
        if is_mount_point(&target)? {
            Ok(Some(Mounted { container_dir: container_dir.to_path_buf(), target, armed: true }))
        } else {
            Ok(None)
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = unmount(&self.target, UnmountFlags::DETACH) {
                tracing::warn!(target = %self.target.display(), error = %e, "unmounting container rootfs");
            }
        }
    }
}

/// Unmounts whatever is mounted at `target` (no error if nothing is).
pub fn unmount_at(target: &Path) -> Result<()> {
    match unmount(target, UnmountFlags::empty()) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(rustix::io::Errno::BUSY) => unmount(target, UnmountFlags::DETACH)
            .map_err(|e| Error::Mount { op: "unmount", target: target.to_path_buf(), source: e.into() }),
        Err(e) => Err(Error::Mount { op: "unmount", target: target.to_path_buf(), source: e.into() }),
    }
}

/// Whether `path` is a mount point in this mount namespace (from `/proc/self/mountinfo`).
pub fn is_mount_point(path: &Path) -> Result<bool> {
    let info = fs::read_to_string("/proc/self/mountinfo").map_err(Error::io("read", "/proc/self/mountinfo"))?;
    let want = path.to_string_lossy();
    Ok(info.lines().any(|l| l.split(' ').nth(4).map(unescape_mountinfo).as_deref() == Some(&*want)))
}

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mounts an overlay of `lower_top_first` at `container_dir/rootfs`, with
/// `container_dir/upper` and `container_dir/work` unless `read_only`. `empty_dir` is an empty
/// directory used as the bottom layer so that single-layer read-only mounts work.
pub(crate) fn mount_overlay(
    lower_top_first: &[PathBuf],
    empty_dir: &Path,
    container_dir: &Path,
    read_only: bool,
) -> Result<Mounted> {
    let (target, upper, work) = rootfs_paths(container_dir);
    let mut lowers: Vec<PathBuf> = lower_top_first.to_vec();
    if read_only || lowers.is_empty() {
        lowers.push(empty_dir.to_path_buf());
    }
    fs::create_dir_all(&target).map_err(Error::io("create", &target))?;
    if is_mount_point(&target)? {
        // Stacking a second overlay would hide the first; re-attach with `Mounted::adopt`.
        return Err(Error::Mount {
            op: "mount",
            target: target.clone(),
            source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "already mounted"),
        });
    }
    if !read_only {
        for d in [&upper, &work] {
            fs::create_dir_all(d).map_err(Error::io("create", d))?;
        }
        // The merged root takes the upper root's attributes: give it the image root's.
        if let Some(top) = lowers.first() {
            copy_root_attrs(top, &upper)?;
        }
    }
    let upper_work = if read_only { None } else { Some((upper.as_path(), work.as_path())) };
    match mount_with_fsconfig(&lowers, upper_work, &target, read_only) {
        Ok(()) => {}
        Err(FsconfigError::Unsupported) => mount_legacy(&lowers, upper_work, &target, read_only)?,
        Err(FsconfigError::Failed(op, e)) => {
            return Err(Error::Mount { op, target: target.clone(), source: e.into() });
        }
    }
    Ok(Mounted { container_dir: container_dir.to_path_buf(), target, armed: true })
}

fn copy_root_attrs(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(from).map_err(Error::io("stat", from))?;
    if rustix::process::geteuid().is_root() {
        rustix::fs::chown(
            to,
            Some(rustix::fs::Uid::from_raw(m.uid())),
            Some(rustix::fs::Gid::from_raw(m.gid())),
        )
        .map_err(|e| Error::Io { op: "chown", path: to.to_path_buf(), source: e.into() })?;
    }
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(to, fs::Permissions::from_mode(m.mode() & 0o7777)).map_err(Error::io("chmod", to))
}

enum FsconfigError {
    /// The kernel lacks the new mount API or `lowerdir+`.
    Unsupported,
    Failed(&'static str, rustix::io::Errno),
}

fn mount_with_fsconfig(
    lowers: &[PathBuf],
    upper_work: Option<(&Path, &Path)>,
    target: &Path,
    read_only: bool,
) -> std::result::Result<(), FsconfigError> {
    let fs_fd = match fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOSYS) => return Err(FsconfigError::Unsupported),
        Err(e) => return Err(FsconfigError::Failed("fsopen", e)),
    };
    for (i, l) in lowers.iter().enumerate() {
        match fsconfig_set_string(&fs_fd, "lowerdir+", l) {
            Ok(()) => {}
            // Kernels before 6.8 reject the key itself.
            Err(rustix::io::Errno::INVAL) if i == 0 => return Err(FsconfigError::Unsupported),
            Err(e) => return Err(FsconfigError::Failed("fsconfig lowerdir+", e)),
        }
    }
    if let Some((upper, work)) = upper_work {
        fsconfig_set_string(&fs_fd, "upperdir", upper).map_err(|e| FsconfigError::Failed("fsconfig upperdir", e))?;
        fsconfig_set_string(&fs_fd, "workdir", work).map_err(|e| FsconfigError::Failed("fsconfig workdir", e))?;
    }
    fsconfig_create(&fs_fd).map_err(|e| FsconfigError::Failed("fsconfig create", e))?;
    let attrs = if read_only { MountAttrFlags::MOUNT_ATTR_RDONLY } else { MountAttrFlags::empty() };
    let mnt = fsmount(&fs_fd, FsMountFlags::FSMOUNT_CLOEXEC, attrs).map_err(|e| FsconfigError::Failed("fsmount", e))?;
    move_mount(&mnt, "", rustix::fs::CWD, target, MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH)
        .map_err(|e| FsconfigError::Failed("move_mount", e))
}

fn escape_option(p: &Path) -> String {
    let mut s = String::new();
    for c in p.to_string_lossy().chars() {
        if matches!(c, ',' | ':' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

fn mount_legacy(lowers: &[PathBuf], upper_work: Option<(&Path, &Path)>, target: &Path, read_only: bool) -> Result<()> {
    let mut data = format!("lowerdir={}", lowers.iter().map(|p| escape_option(p)).collect::<Vec<_>>().join(":"));
    if let Some((upper, work)) = upper_work {
        data.push_str(&format!(",upperdir={},workdir={}", escape_option(upper), escape_option(work)));
    }
    if data.len() >= 4096 {
        return Err(Error::TooManyLayers { layers: lowers.len() });
    }
    let data = CString::new(data).map_err(|e| Error::Mount { op: "mount", target: target.to_path_buf(), source: std::io::Error::other(e) })?;
    let flags = if read_only { MountFlags::RDONLY } else { MountFlags::empty() };
    rustix::mount::mount("overlay", target, "overlay", flags, data.as_c_str())
        .map_err(|e| Error::Mount { op: "mount", target: target.to_path_buf(), source: e.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_unescape_should_decode_octal_escapes() {
        assert_eq!(unescape_mountinfo(r"/a\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    #[test]
    fn legacy_options_should_escape_separators() {
        assert_eq!(escape_option(Path::new("/a,b:c")), r"/a\,b\:c");
    }
}
