//! What the agent persists per pod (`<root>/pods/<uid>/state.json`) to re-adopt running containers
//! after a restart, and cleanup of whatever no longer belongs to a pod of this node.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};
use wharf_container::shim::ShimClient;

use crate::Inner;

/// How a container instance ended, as shown in `state.terminated` / `lastState.terminated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Terminated {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub reason: String,
    pub message: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub container_id: String,
}

/// The latest instance of one container of the pod.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct CtrRecord {
    pub name: String,
    /// Shim/container id of the latest instance (empty: never started).
    pub id: String,
    /// Restart count (instances started minus one).
    pub attempt: u32,
    pub image_id: String,
    pub bundle: PathBuf,
    /// The latest instance has ended like this (and its shim is gone).
    pub exit: Option<Terminated>,
    /// The instance before the latest one.
    pub last: Option<Terminated>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct PodState {
    pub start_time: Option<String>,
    pub containers: Vec<CtrRecord>,
}

pub(crate) fn load(pod_dir: &Path) -> Option<PodState> {
    let text = std::fs::read(pod_dir.join("state.json")).ok()?;
    serde_json::from_slice(&text).ok()
}

pub(crate) fn save(pod_dir: &Path, st: &PodState) {
    let tmp = pod_dir.join("state.json.tmp");
    let res = serde_json::to_vec(st)
        .map_err(std::io::Error::other)
        .and_then(|b| std::fs::write(&tmp, b))
        .and_then(|()| std::fs::rename(&tmp, pod_dir.join("state.json")));
    if let Err(e) = res {
        tracing::warn!(dir = %pod_dir.display(), error = %e, "saving pod state");
    }
}

/// Kills and deletes a container instance and removes its root filesystem.
pub(crate) fn remove_instance(inner: &Inner, id: &str, bundle: &Path) {
    if !id.is_empty() {
        let dir = inner.shim_root().join(id);
        if dir.exists() {
            let c = ShimClient::new(id, &dir);
            let _ = c.kill(libc::SIGKILL, true);
            if let Err(e) = c.delete() {
                tracing::debug!(id, error = %e, "deleting container");
                if let Ok(found) = wharf_container::shim::discover(&inner.shim_root()) {
                    for f in found.iter().filter(|f| f.dir == dir) {
                        let _ = wharf_container::shim::cleanup_dead(f);
                    }
                }
            }
        }
    }
    if !bundle.as_os_str().is_empty() {
        match wharf_image::Mounted::adopt(bundle) {
            Ok(Some(m)) => {
                if let Err(e) = m.remove() {
                    tracing::warn!(dir = %bundle.display(), error = %e, "removing container rootfs");
                }
            }
            _ => {
                let _ = wharf_image::rootfs::unmount_at(&bundle.join("rootfs"));
            }
        }
        let _ = std::fs::remove_dir_all(bundle);
    }
}

/// Removes everything of pod `uid` on this machine: containers, root filesystems, volume mounts,
/// sandbox, cgroups and state.
pub(crate) fn teardown_dir(inner: &Inner, uid: &str) {
    let pod_dir = inner.pods_root().join(uid);
    if let Some(st) = load(&pod_dir) {
        for r in &st.containers {
            remove_instance(inner, &r.id, &r.bundle);
        }
    }
    // Instances not in the state file (crash between start and save).
    if let Ok(rd) = std::fs::read_dir(pod_dir.join("containers")) {
        for e in rd.flatten() {
            remove_instance(inner, "", &e.path());
        }
    }
    crate::volumes::unmount_all(&pod_dir);
    let sb = inner.sandbox_dir(uid);
    if sb.exists() {
        if let Err(e) = wharf_container::sandbox::destroy_dir(&sb) {
            tracing::warn!(uid, error = %e, "destroying sandbox");
            let _ = std::fs::remove_dir_all(&sb);
        }
    }
    if let Some(net) = &inner.cfg.network {
        if let Err(e) = net.0.detach(uid) {
            tracing::warn!(uid, error = %e, "releasing the pod's network");
        }
    }
    let _ = wharf_container::cgroups::remove(&wharf_container::cgroups::pod_path(&inner.cfg.cgroup_parent, uid));
    let still_mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .map(|m| m.contains(&pod_dir.to_string_lossy().into_owned()))
        .unwrap_or(false);
    if still_mounted {
        tracing::warn!(dir = %pod_dir.display(), "pod directory still has mounts; left in place");
    } else {
        let _ = std::fs::remove_dir_all(&pod_dir);
    }
    if let Ok(mut m) = inner.stats.write() {
        m.remove(uid);
    }
}

/// After the first pod listing: tears down pods that are no longer bound here and kills shims
/// that belong to no pod's recorded containers.
pub(crate) fn cleanup_orphans(inner: &Inner, pods: &[Pod]) {
    let live: HashSet<String> = pods.iter().filter_map(|p| p.metadata.uid.clone()).collect();
    let mut known_ids = HashSet::new();
    if let Ok(rd) = std::fs::read_dir(inner.pods_root()) {
        for e in rd.flatten() {
            let uid = e.file_name().to_string_lossy().into_owned();
            if !live.contains(&uid) {
                tracing::info!(uid, "removing orphaned pod");
                teardown_dir(inner, &uid);
            } else if let Some(st) = load(&e.path()) {
                known_ids.extend(st.containers.iter().map(|r| r.id.clone()));
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(inner.cfg.root_dir.join("sandboxes")) {
        for e in rd.flatten() {
            let uid = e.file_name().to_string_lossy().into_owned();
            if !live.contains(&uid) {
                let _ = wharf_container::sandbox::destroy_dir(&e.path());
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    if let Some(net) = &inner.cfg.network {
        for uid in net.0.holders() {
            if !live.contains(&uid) {
                let _ = net.0.detach(&uid);
            }
        }
    }
    if let Ok(found) = wharf_container::shim::discover(&inner.shim_root()) {
        for f in found {
            let id = f.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if known_ids.contains(&id) {
                continue;
            }
            tracing::info!(id, "removing orphaned container");
            match &f.client {
                Some(c) => {
                    let _ = c.kill(libc::SIGKILL, true);
                    let _ = c.delete();
                }
                None => {
                    let _ = wharf_container::shim::cleanup_dead(&f);
                }
            }
        }
    }
}
