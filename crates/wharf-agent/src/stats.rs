//! Per-pod and per-container CPU and memory statistics, read from cgroups and kept in memory for
//! a metrics API (see [`crate::Agent::stats`]).

use std::time::SystemTime;

/// One container's usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerStats {
    /// Container name.
    pub name: String,
    /// Cumulative CPU time in nanoseconds.
    pub cpu_usage_nanos: u64,
    /// Memory usage in bytes.
    pub memory_usage_bytes: u64,
    /// Working set (usage minus inactive file cache), what `kubectl top` shows.
    pub memory_working_set_bytes: u64,
    /// Resident set size.
    pub memory_rss_bytes: u64,
}

/// One pod's usage (the pod cgroup, sandbox included) and its running containers'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodStats {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Pod UID.
    pub uid: String,
    /// When it was sampled.
    pub timestamp: SystemTime,
    /// Cumulative CPU time of the pod in nanoseconds.
    pub cpu_usage_nanos: u64,
    /// Working set of the pod in bytes.
    pub memory_working_set_bytes: u64,
    /// Running containers.
    pub containers: Vec<ContainerStats>,
}

impl ContainerStats {
    pub(crate) fn read(name: &str, cgroup_path: &str) -> Option<ContainerStats> {
        let s = wharf_container::cgroups::stats(cgroup_path)?;
        Some(ContainerStats {
            name: name.into(),
            cpu_usage_nanos: s.cpu_usage_nanos,
            memory_usage_bytes: s.memory_usage_bytes,
            memory_working_set_bytes: s.memory_working_set_bytes,
            memory_rss_bytes: s.memory_rss_bytes,
        })
    }
}
