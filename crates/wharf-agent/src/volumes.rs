//! Pod volumes on the host: emptyDir (tmpfs for `medium: Memory`), configMap, secret, downwardAPI,
//! projected and hostPath. Content volumes are written the kubelet's way: files live in a
//! timestamped directory, `..data` is a symlink to it swapped atomically on update, and each
//! top-level entry is a symlink through `..data`, so readers never see a half-written update.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{KeyToPath, Pod, Volume};

use crate::envs::{configmap_data, field_value, resource_value, secret_data, Sources};
use crate::error::{Error, Result};

/// Files of a content volume: relative path → (bytes, mode).
type Files = BTreeMap<String, (Vec<u8>, u32)>;

/// Where a pod's volumes live on the host.
pub(crate) fn volumes_dir(pod_dir: &Path) -> PathBuf {
    pod_dir.join("volumes")
}

fn items(data: BTreeMap<String, Vec<u8>>, items: Option<&Vec<KeyToPath>>, mode: u32, what: &str, optional: bool) -> Result<Files, String> {
    let mut out = Files::new();
    match items {
        Some(list) if !list.is_empty() => {
            for it in list {
                match data.get(&it.key) {
                    Some(v) => {
                        out.insert(it.path.clone(), (v.clone(), it.mode.map(|m| m as u32).unwrap_or(mode)));
                    }
                    None if optional => {}
                    None => return Err(format!("configmap references non-existent config key: {} ({what})", it.key)),
                }
            }
        }
        _ => {
            for (k, v) in data {
                out.insert(k, (v, mode));
            }
        }
    }
    Ok(out)
}

fn check_path(p: &str) -> Result<(), String> {
    if p.is_empty() || p.starts_with('/') || p.split('/').any(|c| c == ".." || c.is_empty()) || p.starts_with("..") {
        return Err(format!("invalid volume item path {p:?}"));
    }
    Ok(())
}

/// Computes the files of a content volume, or `None` for non-content kinds.
async fn content(pod: &Pod, v: &Volume, src: &mut Sources, host_ip: &str, node_cpu: u64, node_mem: u64) -> Result<Option<Files>, String> {
    if let Some(cm) = &v.config_map {
        let mode = cm.default_mode.unwrap_or(0o644) as u32;
        let optional = cm.optional.unwrap_or(false);
        return match src.configmap(&cm.name).await? {
            Some(obj) => items(configmap_data(obj), cm.items.as_ref(), mode, &cm.name, optional).map(Some),
            None if optional => Ok(Some(Files::new())),
            None => Err(format!("configmap \"{}\" not found", cm.name)),
        };
    }
    if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        let mode = s.default_mode.unwrap_or(0o644) as u32;
        let optional = s.optional.unwrap_or(false);
        return match src.secret(&name).await? {
            Some(obj) => items(secret_data(obj), s.items.as_ref(), mode, &name, optional).map(Some),
            None if optional => Ok(Some(Files::new())),
            None => Err(format!("secret \"{name}\" not found")),
        };
    }
    if let Some(d) = &v.downward_api {
        let mode = d.default_mode.unwrap_or(0o644) as u32;
        let mut out = Files::new();
        for it in d.items.iter().flatten() {
            let m = it.mode.map(|m| m as u32).unwrap_or(mode);
            out.insert(it.path.clone(), (downward_item(pod, it.field_ref.as_ref(), it.resource_field_ref.as_ref(), host_ip, node_cpu, node_mem)?.into_bytes(), m));
        }
        return Ok(Some(out));
    }
    if let Some(p) = &v.projected {
        let mode = p.default_mode.unwrap_or(0o644) as u32;
        let mut out = Files::new();
        for s in p.sources.iter().flatten() {
            if let Some(cm) = &s.config_map {
                let optional = cm.optional.unwrap_or(false);
                match src.configmap(&cm.name).await? {
                    Some(obj) => out.extend(items(configmap_data(obj), cm.items.as_ref(), mode, &cm.name, optional)?),
                    None if optional => {}
                    None => return Err(format!("configmap \"{}\" not found", cm.name)),
                }
            }
            if let Some(sec) = &s.secret {
                let optional = sec.optional.unwrap_or(false);
                match src.secret(&sec.name).await? {
                    Some(obj) => out.extend(items(secret_data(obj), sec.items.as_ref(), mode, &sec.name, optional)?),
                    None if optional => {}
                    None => return Err(format!("secret \"{}\" not found", sec.name)),
                }
            }
            if let Some(d) = &s.downward_api {
                for it in d.items.iter().flatten() {
                    let m = it.mode.map(|m| m as u32).unwrap_or(mode);
                    out.insert(it.path.clone(), (downward_item(pod, it.field_ref.as_ref(), it.resource_field_ref.as_ref(), host_ip, node_cpu, node_mem)?.into_bytes(), m));
                }
            }
            // serviceAccountToken sources need the TokenRequest API (serviceaccounts/<sa>/token),
            // which this API server does not serve yet: such sources are skipped.
        }
        return Ok(Some(out));
    }
    Ok(None)
}

fn downward_item(
    pod: &Pod,
    field: Option<&k8s_openapi::api::core::v1::ObjectFieldSelector>,
    res: Option<&k8s_openapi::api::core::v1::ResourceFieldSelector>,
    host_ip: &str,
    node_cpu: u64,
    node_mem: u64,
) -> Result<String, String> {
    if let Some(f) = field {
        return field_value(pod, &f.field_path, host_ip);
    }
    if let Some(r) = res {
        let name = r.container_name.clone().unwrap_or_default();
        let c = crate::envs::all_containers(pod).into_iter().find(|c| c.name == name).ok_or_else(|| format!("container {name:?} not found"))?;
        return resource_value(c, &r.resource, r.divisor.as_ref(), node_cpu, node_mem);
    }
    Ok(String::new())
}

/// Creates or refreshes every volume of `pod`; returns volume name → host path.
pub(crate) async fn prepare(pod: &Pod, pod_dir: &Path, src: &mut Sources, host_ip: &str, node_cpu: u64, node_mem: u64) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut out = BTreeMap::new();
    let root = volumes_dir(pod_dir);
    for v in pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten() {
        if let Some(hp) = &v.host_path {
            let p = PathBuf::from(&hp.path);
            match hp.type_.as_deref() {
                Some("DirectoryOrCreate") => std::fs::create_dir_all(&p).map_err(|e| format!("hostPath {}: {e}", p.display()))?,
                Some("FileOrCreate") if !p.exists() => {
                    std::fs::write(&p, b"").map_err(|e| format!("hostPath {}: {e}", p.display()))?;
                }
                Some("Directory") if !p.is_dir() => return Err(format!("hostPath type check failed: {} is not a directory", p.display())),
                Some("File") if !p.is_file() => return Err(format!("hostPath type check failed: {} is not a file", p.display())),
                _ => {}
            }
            out.insert(v.name.clone(), p);
            continue;
        }
        let dir = root.join(&v.name);
        if let Some(ed) = &v.empty_dir {
            if !dir.exists() {
                std::fs::create_dir_all(&dir).map_err(|e| format!("emptyDir {}: {e}", dir.display()))?;
                let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777));
                if ed.medium.as_deref() == Some("Memory") {
                    let size = ed.size_limit.as_ref().and_then(crate::envs::bytes).unwrap_or(node_mem as i64);
                    mount_tmpfs(&dir, size).map_err(|e| e.to_string())?;
                }
            }
            out.insert(v.name.clone(), dir);
            continue;
        }
        match content(pod, v, src, host_ip, node_cpu, node_mem).await? {
            Some(files) => {
                for p in files.keys() {
                    check_path(p)?;
                }
                let d = dir.clone();
                tokio::task::spawn_blocking(move || write_atomic_dir(&d, &files))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("writing volume {}: {e}", v.name))?;
                out.insert(v.name.clone(), dir);
            }
            None => {
                // Unsupported kinds (persistent volumes, CSI...) get an empty directory.
                std::fs::create_dir_all(&dir).map_err(|e| format!("volume {}: {e}", dir.display()))?;
                out.insert(v.name.clone(), dir);
            }
        }
    }
    Ok(out)
}

fn mount_tmpfs(dir: &Path, size: i64) -> Result<()> {
    let data = CString::new(format!("size={size},mode=0777")).map_err(|e| Error::Config(e.to_string()))?;
    rustix::mount::mount("tmpfs", dir, "tmpfs", rustix::mount::MountFlags::NOSUID | rustix::mount::MountFlags::NODEV, Some(data.as_c_str()))
        .map_err(|e| Error::io("mount tmpfs on", dir, e.into()))
}

/// Unmounts whatever the agent mounted under the pod's volumes (tmpfs emptyDirs).
pub(crate) fn unmount_all(pod_dir: &Path) {
    let Ok(rd) = std::fs::read_dir(volumes_dir(pod_dir)) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if wharf_image::rootfs::is_mount_point(&p).unwrap_or(false) {
            if let Err(e) = wharf_image::rootfs::unmount_at(&p) {
                tracing::warn!(path = %p.display(), error = %e, "unmounting volume");
            }
        }
    }
}

fn read_current(dir: &Path) -> Option<Files> {
    let data = dir.join("..data");
    let target = std::fs::read_link(&data).ok()?;
    let base = dir.join(target);
    let mut out = Files::new();
    fn walk(base: &Path, rel: &str, out: &mut Files) -> Option<()> {
        for e in std::fs::read_dir(base.join(rel)).ok()?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            let md = e.metadata().ok()?;
            if md.is_dir() {
                walk(base, &r, out)?;
            } else {
                out.insert(r, (std::fs::read(e.path()).ok()?, md.permissions().mode() & 0o7777));
            }
        }
        Some(())
    }
    walk(&base, "", &mut out)?;
    Some(out)
}

/// Writes `files` into `dir` atomically (kubelet's AtomicWriter layout); no-op when unchanged.
pub(crate) fn write_atomic_dir(dir: &Path, files: &Files) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    if read_current(dir).as_ref() == Some(files) {
        return Ok(());
    }
    let old = std::fs::read_link(dir.join("..data")).ok();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let ts = format!("..{}_{:09}", now.as_secs(), now.subsec_nanos());
    let tsdir = dir.join(&ts);
    std::fs::create_dir(&tsdir)?;
    for (p, (bytes, mode)) in files {
        let f = tsdir.join(p);
        if let Some(parent) = f.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&f, bytes)?;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(*mode))?;
    }
    std::fs::set_permissions(&tsdir, std::fs::Permissions::from_mode(0o755))?;
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&ts, &tmp)?;
    std::fs::rename(&tmp, dir.join("..data"))?;
    let tops: BTreeSet<String> = files.keys().map(|p| p.split('/').next().unwrap_or(p).to_string()).collect();
    for t in &tops {
        let link = dir.join(t);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(format!("..data/{t}"), &link)?;
        }
    }
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !tops.contains(&name) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    if let Some(old) = old {
        if old != Path::new(&ts) {
            let _ = std::fs::remove_dir_all(dir.join(old));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_should_swap_the_data_symlink_and_drop_removed_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("v");
        let mut f = Files::new();
        f.insert("a".into(), (b"1".to_vec(), 0o644));
        f.insert("b".into(), (b"2".to_vec(), 0o600));
        write_atomic_dir(&d, &f).unwrap();
        assert_eq!(std::fs::read(d.join("a")).unwrap(), b"1");
        let first = std::fs::read_link(d.join("..data")).unwrap();
        write_atomic_dir(&d, &f).unwrap();
        assert_eq!(std::fs::read_link(d.join("..data")).unwrap(), first, "unchanged content keeps the data dir");
        f.remove("b");
        f.insert("a".into(), (b"3".to_vec(), 0o644));
        write_atomic_dir(&d, &f).unwrap();
        assert_eq!(std::fs::read(d.join("a")).unwrap(), b"3");
        assert!(std::fs::symlink_metadata(d.join("b")).is_err());
        assert!(!d.join(first).exists(), "the old data dir is removed");
        assert_eq!(std::fs::metadata(d.join("a")).unwrap().permissions().mode() & 0o777, 0o644);
    }
}
