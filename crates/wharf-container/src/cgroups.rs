//! Cgroup paths, statistics, OOM-kill detection and cleanup, for cgroup v1 (hybrid) and v2 hosts.
//!
//! A container's cgroup path is the OCI `linux.cgroupsPath`, always set explicitly and absolute
//! (e.g. `<node parent>/pod<uid>/<container>`, the node parent being e.g. `/wharf/<node>`, whose
//! limits bound the node's capacity); on v1 it exists under every controller's hierarchy.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{IoContext, Result};

const ROOT: &str = "/sys/fs/cgroup";

/// Whether the host uses the unified (v2-only) hierarchy.
pub fn is_unified() -> bool {
    Path::new(ROOT).join("cgroup.controllers").exists()
}

/// The cgroup path `<parent>/pod<uid>` of a pod under a node's parent cgroup.
pub fn pod_path(parent: &str, pod_uid: &str) -> String {
    format!("{}/pod{pod_uid}", parent.trim_end_matches('/'))
}

/// The cgroup path `<parent>/pod<uid>/<name>` of one container of a pod.
pub fn container_path(parent: &str, pod_uid: &str, name: &str) -> String {
    format!("{}/{name}", pod_path(parent, pod_uid))
}

/// Creates `cgroup_path` in every hierarchy (idempotent) and applies `limits` to it: the node's
/// budget (its allocatable CPU and memory) on the parent of its pods.
pub fn ensure(cgroup_path: &str, limits: &crate::spec::Resources) -> Result<()> {
    for h in hierarchies() {
        let dir = h.join(rel(cgroup_path));
        std::fs::create_dir_all(&dir).ctx("create cgroup", &dir)?;
        if !is_unified() && h.ends_with("cpuset") {
            inherit_cpuset(&h, rel(cgroup_path));
        }
    }
    let write = |controller: &str, file: &str, value: String| -> Result<()> {
        let path = controller_dir(controller, cgroup_path).join(file);
        std::fs::write(&path, value).ctx("write", &path)
    };
    if is_unified() {
        if let Some(m) = limits.memory_limit {
            write("memory", "memory.max", m.to_string())?;
        }
        if let Some(q) = limits.cpu_quota {
            write("cpu", "cpu.max", format!("{q} {}", limits.cpu_period.unwrap_or(100_000)))?;
        }
        if let Some(s) = limits.cpu_shares {
            // cgroup v2 weight from v1 shares, as runc converts it.
            let weight = 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142;
            write("cpu", "cpu.weight", weight.to_string())?;
        }
    } else {
        if let Some(m) = limits.memory_limit {
            write("memory", "memory.limit_in_bytes", m.to_string())?;
        }
        if let Some(p) = limits.cpu_period.filter(|_| limits.cpu_quota.is_some()) {
            write("cpu", "cpu.cfs_period_us", p.to_string())?;
        }
        if let Some(q) = limits.cpu_quota {
            write("cpu", "cpu.cfs_quota_us", q.to_string())?;
        }
        if let Some(s) = limits.cpu_shares {
            write("cpu", "cpu.shares", s.to_string())?;
        }
    }
    if let Some(p) = limits.pids_limit {
        write("pids", "pids.max", p.to_string())?;
    }
    Ok(())
}

/// Every hierarchy root on this host (each v1 controller mount once, plus the unified mount).
fn hierarchies() -> Vec<PathBuf> {
    if is_unified() {
        return vec![PathBuf::from(ROOT)];
    }
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(ROOT) {
        for entry in rd.flatten() {
            let path = entry.path();
            let Ok(real) = std::fs::canonicalize(&path) else { continue };
            if !real.is_dir() || seen.contains(&real) {
                continue;
            }
            seen.push(real);
            out.push(path);
        }
    }
    out.sort();
    out
}

fn rel(cgroup_path: &str) -> &str {
    cgroup_path.trim_start_matches('/')
}

/// The directory of `cgroup_path` under the hierarchy holding `controller` (v1) or the unified root.
pub fn controller_dir(controller: &str, cgroup_path: &str) -> PathBuf {
    if is_unified() {
        Path::new(ROOT).join(rel(cgroup_path))
    } else {
        Path::new(ROOT).join(controller).join(rel(cgroup_path))
    }
}

/// Number of OOM kills recorded in the cgroup (`memory.oom_control` on v1, `memory.events` on v2),
/// or `None` when the cgroup does not exist.
pub fn oom_kill_count(cgroup_path: &str) -> Option<u64> {
    let file = if is_unified() { "memory.events" } else { "memory.oom_control" };
    let text = std::fs::read_to_string(controller_dir("memory", cgroup_path).join(file)).ok()?;
    Some(keyed(&text, "oom_kill").unwrap_or(0))
}

fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key)).then(|| it.next().and_then(|v| v.parse().ok())).flatten()
    })
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// CPU and memory usage of one cgroup, as the kubelet's summary API reports them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    /// When the sample was taken.
    pub timestamp: SystemTime,
    /// Cumulative CPU time in nanoseconds.
    pub cpu_usage_nanos: u64,
    /// Memory usage including page cache, in bytes.
    pub memory_usage_bytes: u64,
    /// Usage minus inactive file pages: what the kubelet calls the working set and evicts by.
    pub memory_working_set_bytes: u64,
    /// Resident anonymous + swap-backed memory.
    pub memory_rss_bytes: u64,
}

/// Reads [`Stats`] for `cgroup_path`; `None` when the cgroup does not exist.
pub fn stats(cgroup_path: &str) -> Option<Stats> {
    let timestamp = SystemTime::now();
    if is_unified() {
        let dir = Path::new(ROOT).join(rel(cgroup_path));
        let cpu = std::fs::read_to_string(dir.join("cpu.stat")).ok()?;
        let usage = read_u64(&dir.join("memory.current")).unwrap_or(0);
        let mstat = std::fs::read_to_string(dir.join("memory.stat")).unwrap_or_default();
        let inactive = keyed(&mstat, "inactive_file").unwrap_or(0);
        return Some(Stats {
            timestamp,
            cpu_usage_nanos: keyed(&cpu, "usage_usec").unwrap_or(0).saturating_mul(1000),
            memory_usage_bytes: usage,
            memory_working_set_bytes: usage.saturating_sub(inactive),
            memory_rss_bytes: keyed(&mstat, "anon").unwrap_or(0),
        });
    }
    let cpu = read_u64(&controller_dir("cpuacct", cgroup_path).join("cpuacct.usage"))?;
    let mem = controller_dir("memory", cgroup_path);
    let usage = read_u64(&mem.join("memory.usage_in_bytes")).unwrap_or(0);
    let mstat = std::fs::read_to_string(mem.join("memory.stat")).unwrap_or_default();
    let inactive = keyed(&mstat, "total_inactive_file").unwrap_or(0);
    Some(Stats {
        timestamp,
        cpu_usage_nanos: cpu,
        memory_usage_bytes: usage,
        memory_working_set_bytes: usage.saturating_sub(inactive),
        memory_rss_bytes: keyed(&mstat, "total_rss").unwrap_or(0),
    })
}

/// Pids of every process in the cgroup (and its descendants), across hierarchies.
pub fn pids(cgroup_path: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for h in hierarchies() {
        collect_pids(&h.join(rel(cgroup_path)), &mut out);
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) {
    if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_pids(&e.path(), out);
            }
        }
    }
}

/// Whether the cgroup exists in any hierarchy.
pub fn exists(cgroup_path: &str) -> bool {
    hierarchies().iter().any(|h| h.join(rel(cgroup_path)).is_dir())
}

/// Kills every process left in the cgroup tree and removes the cgroup (and its children) from
/// every hierarchy. Idempotent: a missing cgroup is not an error.
pub fn remove(cgroup_path: &str) -> Result<()> {
    if rel(cgroup_path).is_empty() {
        return Err(crate::Error::Invalid { what: "cgroup path", message: "refusing to remove the root".into() });
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        for pid in pids(cgroup_path) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        // Thaw a frozen cgroup so SIGKILL can be delivered.
        let freezer = controller_dir("freezer", cgroup_path).join("freezer.state");
        if !is_unified() && freezer.exists() {
            let _ = std::fs::write(&freezer, "THAWED");
        }
        let mut last_err = None;
        for h in hierarchies() {
            let dir = h.join(rel(cgroup_path));
            if let Err(e) = remove_tree(&dir) {
                last_err = Some((dir, e));
            }
        }
        match last_err {
            None => return Ok(()),
            Some((dir, e)) if Instant::now() > deadline => return Err(e).ctx("remove cgroup", dir),
            Some(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn remove_tree(dir: &Path) -> std::io::Result<()> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in rd.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_tree(&e.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Creates the cgroup in every hierarchy and moves `pid` into it (used for sandbox processes that
/// do not go through an OCI runtime).
pub fn enter(cgroup_path: &str, pid: i32) -> Result<()> {
    for h in hierarchies() {
        let dir = h.join(rel(cgroup_path));
        std::fs::create_dir_all(&dir).ctx("create cgroup", &dir)?;
        if !is_unified() && h.ends_with("cpuset") {
            // cpuset children start empty; inherit the parent's cpus and mems down the path.
            inherit_cpuset(&h, rel(cgroup_path));
        }
        let procs = dir.join("cgroup.procs");
        std::fs::write(&procs, pid.to_string()).ctx("write", &procs)?;
    }
    Ok(())
}

fn inherit_cpuset(root: &Path, rel_path: &str) {
    let mut cur = root.to_path_buf();
    for part in rel_path.split('/').filter(|p| !p.is_empty()) {
        let parent = cur.clone();
        cur.push(part);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let mine = std::fs::read_to_string(cur.join(f)).unwrap_or_default();
            if mine.trim().is_empty() {
                if let Ok(v) = std::fs::read_to_string(parent.join(f)) {
                    let _ = std::fs::write(cur.join(f), v.trim());
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keyed_values_are_parsed_from_cgroup_files() {
        let text = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(keyed(text, "oom_kill"), Some(3));
        assert_eq!(keyed(text, "missing"), None);
    }

    #[test]
    fn cgroup_paths_are_per_pod_and_container() {
        assert_eq!(container_path("/wharf/node-1", "abc", "app"), "/wharf/node-1/podabc/app");
        assert_eq!(pod_path("/wharf/node-1/", "abc"), "/wharf/node-1/podabc");
    }
}
