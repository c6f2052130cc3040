//! Kubernetes-shaped container settings turned into an OCI runtime spec (`config.json`).

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde_json::{json, Value};

use crate::error::{Error, IoContext, Result};

/// Capabilities a container gets by default (containerd's default set).
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability known to the kernels we run on (a privileged container gets all of them).
pub const ALL_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

const MASKED_PATHS: &[&str] = &[
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
];
const READONLY_PATHS: &[&str] =
    &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// cgroup resources of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resources {
    /// `cpu.shares` (from the CPU request; 2 when none).
    pub cpu_shares: Option<u64>,
    /// CFS quota in microseconds per period (from the CPU limit).
    pub cpu_quota: Option<i64>,
    /// CFS period in microseconds (100000 when a quota is set).
    pub cpu_period: Option<u64>,
    /// Memory limit in bytes.
    pub memory_limit: Option<i64>,
    /// Maximum number of pids.
    pub pids_limit: Option<i64>,
}

impl Resources {
    /// Resources as the kubelet derives them from millicores and bytes.
    pub fn from_kubernetes(cpu_request_milli: Option<u64>, cpu_limit_milli: Option<u64>, memory_limit: Option<i64>) -> Self {
        let shares = cpu_request_milli.or(cpu_limit_milli).map(|m| (m * 1024 / 1000).max(2)).unwrap_or(2);
        let quota = cpu_limit_milli.map(|m| ((m * 100_000 / 1000) as i64).max(1000));
        Resources {
            cpu_shares: Some(shares),
            cpu_quota: quota,
            cpu_period: quota.map(|_| 100_000),
            memory_limit,
            pids_limit: None,
        }
    }
}

/// Seccomp mode of a container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SeccompMode {
    /// The [`crate::seccomp::runtime_default`] profile.
    #[default]
    RuntimeDefault,
    /// No filter.
    Unconfined,
}

/// Paths of existing namespaces to join (the pod sandbox's); `None` makes a new one.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NamespacePaths {
    /// Network namespace.
    pub network: Option<PathBuf>,
    /// IPC namespace.
    pub ipc: Option<PathBuf>,
    /// UTS namespace (hostname).
    pub uts: Option<PathBuf>,
    /// PID namespace (shareProcessNamespace).
    pub pid: Option<PathBuf>,
}

/// An extra mount (volumes, `/etc/hosts`, `/etc/resolv.conf`, service-account tokens).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mount {
    /// Path inside the container.
    pub destination: String,
    /// Host path or filesystem source.
    pub source: String,
    /// Filesystem type (`bind` for bind mounts).
    pub fs_type: String,
    /// Mount options (`rbind`, `ro`, …).
    pub options: Vec<String>,
}

impl Mount {
    /// A bind mount of a host path.
    pub fn bind(source: impl Into<String>, destination: impl Into<String>, read_only: bool) -> Self {
        let mut options = vec!["rbind".to_string(), "rprivate".to_string()];
        if read_only {
            options.push("ro".into());
        }
        Mount { destination: destination.into(), source: source.into(), fs_type: "bind".into(), options }
    }
}

/// What a container runs and under which constraints.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContainerSpec {
    /// The full argv (image entrypoint/cmd already merged with the pod's command/args).
    pub args: Vec<String>,
    /// Environment `NAME=value` pairs; `PATH` defaults when absent.
    pub env: Vec<(String, String)>,
    /// Working directory (default `/`).
    pub working_dir: Option<String>,
    /// runAsUser (default 0).
    pub user: Option<u32>,
    /// runAsGroup (default 0).
    pub group: Option<u32>,
    /// Supplemental groups (fsGroup, supplementalGroups).
    pub supplemental_groups: Vec<u32>,
    /// readOnlyRootFilesystem.
    pub read_only_root: bool,
    /// privileged: all capabilities, no seccomp, no masked paths, all devices.
    pub privileged: bool,
    /// Capabilities to add (`NET_ADMIN` or `CAP_NET_ADMIN`; `ALL`).
    pub cap_add: Vec<String>,
    /// Capabilities to drop (`ALL` drops the default set).
    pub cap_drop: Vec<String>,
    /// allowPrivilegeEscalation=false sets no_new_privs.
    pub no_new_privileges: bool,
    /// Seccomp mode (ignored when privileged).
    pub seccomp: SeccompMode,
    /// Hostname, only when the container has its own UTS namespace.
    pub hostname: Option<String>,
    /// Namespaces to join.
    pub namespaces: NamespacePaths,
    /// Absolute cgroup path, e.g. `/wharf/pod<uid>/<name>` (always explicit).
    pub cgroup_path: String,
    /// cgroup resources.
    pub resources: Resources,
    /// Extra mounts.
    pub mounts: Vec<Mount>,
    /// OOM score adjustment (QoS-derived).
    pub oom_score_adj: Option<i32>,
    /// Run on a terminal (Kubernetes `tty: true`); the shim then needs `tty` too.
    pub tty: bool,
}

fn cap_name(c: &str) -> String {
    let up = c.to_ascii_uppercase();
    if up.starts_with("CAP_") || up == "ALL" {
        up
    } else {
        format!("CAP_{up}")
    }
}

/// Every capability this process may grant (its bounding set): what "all" means on this host.
/// `ALL_CAPABILITIES` is in kernel bit order.
pub fn host_capabilities() -> Vec<String> {
    let bnd = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    ALL_CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(bit, _)| bnd & (1u64 << bit) != 0)
        .map(|(_, c)| c.to_string())
        .collect()
}

impl ContainerSpec {
    /// The effective capability set after privileged/add/drop.
    pub fn capabilities(&self) -> Vec<String> {
        if self.privileged {
            return host_capabilities();
        }
        let drop: Vec<String> = self.cap_drop.iter().map(|c| cap_name(c)).collect();
        let add: Vec<String> = self.cap_add.iter().map(|c| cap_name(c)).collect();
        let mut caps: Vec<String> = if drop.iter().any(|c| c == "ALL") {
            Vec::new()
        } else {
            DEFAULT_CAPABILITIES.iter().map(|s| s.to_string()).filter(|c| !drop.contains(c)).collect()
        };
        if add.iter().any(|c| c == "ALL") {
            caps = host_capabilities();
        } else {
            for c in add {
                if !caps.contains(&c) {
                    caps.push(c);
                }
            }
        }
        caps
    }

    /// The OCI runtime spec for this container with its root filesystem at `rootfs`.
    pub fn to_oci(&self, rootfs: &Path) -> Result<Spec> {
        if self.args.is_empty() {
            return Err(Error::Invalid { what: "container spec", message: "no command to run".into() });
        }
        if !self.cgroup_path.starts_with('/') {
            return Err(Error::Invalid {
                what: "container spec",
                message: format!("cgroup path {:?} must be absolute", self.cgroup_path),
            });
        }
        let mut env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !self.env.iter().any(|(k, _)| k == "PATH") {
            env.insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
        }
        let caps = self.capabilities();
        let mut process = json!({
            "terminal": self.tty,
            "user": {
                "uid": self.user.unwrap_or(0),
                "gid": self.group.unwrap_or(0),
                "additionalGids": self.supplemental_groups,
            },
            "args": self.args,
            "env": env,
            "cwd": self.working_dir.clone().filter(|w| !w.is_empty()).unwrap_or_else(|| "/".into()),
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps,
            },
        });
        // Only present when true: libcontainer 0.7 decides when to load seccomp by the field's
        // presence, not its value, and an explicit `false` makes it load after dropping
        // CAP_SYS_ADMIN, which fails.
        if self.no_new_privileges && !self.privileged {
            process["noNewPrivileges"] = json!(true);
        }
        if let Some(adj) = self.oom_score_adj {
            process["oomScoreAdj"] = json!(adj);
        }

        let ro = if self.privileged { "rw" } else { "ro" };
        let mut mounts = vec![
            json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
            json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
            json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
            json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
            json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
            json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", ro]}),
            json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", ro]}),
        ];
        for m in &self.mounts {
            mounts.push(json!({"destination": m.destination, "type": m.fs_type, "source": m.source, "options": m.options}));
        }

        let ns = |kind: &str, path: &Option<PathBuf>| match path {
            Some(p) => json!({"type": kind, "path": p}),
            None => json!({"type": kind}),
        };
        let namespaces = vec![
            ns("pid", &self.namespaces.pid),
            ns("network", &self.namespaces.network),
            ns("ipc", &self.namespaces.ipc),
            ns("uts", &self.namespaces.uts),
            json!({"type": "mount"}),
        ];

        let r = &self.resources;
        let mut resources = json!({
            "devices": if self.privileged {
                json!([{"allow": true, "access": "rwm"}])
            } else {
                json!([
                    {"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 136, "access": "rwm"},
                ])
            },
        });
        let mut cpu = serde_json::Map::new();
        if let Some(s) = r.cpu_shares {
            cpu.insert("shares".into(), json!(s));
        }
        if let Some(q) = r.cpu_quota {
            cpu.insert("quota".into(), json!(q));
            cpu.insert("period".into(), json!(r.cpu_period.unwrap_or(100_000)));
        }
        if !cpu.is_empty() {
            resources["cpu"] = Value::Object(cpu);
        }
        if let Some(limit) = r.memory_limit {
            let mut mem = json!({"limit": limit});
            // No swap: on v1 memsw must equal the limit (only when swap accounting exists).
            if !crate::cgroups::is_unified()
                && Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists()
            {
                mem["swap"] = json!(limit);
            }
            resources["memory"] = mem;
        }
        if let Some(p) = r.pids_limit {
            resources["pids"] = json!({"limit": p});
        }

        let mut linux = json!({
            "namespaces": namespaces,
            "cgroupsPath": self.cgroup_path,
            "resources": resources,
        });
        if !self.privileged {
            linux["maskedPaths"] = json!(MASKED_PATHS);
            linux["readonlyPaths"] = json!(READONLY_PATHS);
            if self.seccomp == SeccompMode::RuntimeDefault {
                linux["seccomp"] = crate::seccomp::runtime_default(&caps);
            }
        }

        let mut spec = json!({
            "ociVersion": "1.0.2",
            "process": process,
            "root": {"path": rootfs, "readonly": self.read_only_root},
            "mounts": mounts,
            "linux": linux,
        });
        if self.namespaces.uts.is_none() {
            if let Some(h) = &self.hostname {
                spec["hostname"] = json!(h);
            }
        }
        serde_json::from_value(spec).map_err(|source| Error::Json { what: "generated spec".into(), source })
    }
}

/// Writes `config.json` into `bundle` (creating the directory).
pub fn write_bundle(bundle: &Path, spec: &Spec) -> Result<()> {
    std::fs::create_dir_all(bundle).ctx("create bundle", bundle)?;
    let text = serde_json::to_vec_pretty(spec).map_err(|source| Error::Json { what: "config.json".into(), source })?;
    let path = bundle.join("config.json");
    std::fs::write(&path, text).ctx("write", &path)
}

/// Reads `config.json` from `bundle`.
pub fn read_bundle(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let text = std::fs::read(&path).ctx("read", &path)?;
    serde_json::from_slice(&text).map_err(|source| Error::Json { what: path.display().to_string(), source })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn base() -> ContainerSpec {
        ContainerSpec { args: vec!["/bin/true".into()], cgroup_path: "/wharf/podx/c".into(), ..Default::default() }
    }

    #[test]
    fn capabilities_follow_containerd_defaults_with_add_and_drop() {
        let mut s = base();
        assert_eq!(s.capabilities().len(), DEFAULT_CAPABILITIES.len());
        s.cap_add = vec!["NET_ADMIN".into()];
        s.cap_drop = vec!["chown".into()];
        let caps = s.capabilities();
        assert!(caps.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!caps.contains(&"CAP_CHOWN".to_string()));
        s.cap_drop = vec!["ALL".into()];
        assert_eq!(s.capabilities(), vec!["CAP_NET_ADMIN".to_string()]);
    }

    #[test]
    fn spec_sets_cgroup_path_seccomp_and_joined_namespaces() {
        let mut s = base();
        s.namespaces.network = Some("/proc/42/ns/net".into());
        s.hostname = Some("ignored-when-joining".into());
        s.namespaces.uts = Some("/proc/42/ns/uts".into());
        s.resources = Resources::from_kubernetes(Some(250), Some(500), Some(32 << 20));
        let spec = s.to_oci(Path::new("/rootfs")).unwrap();
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(v["linux"]["cgroupsPath"], "/wharf/podx/c");
        assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["linux"]["resources"]["cpu"]["shares"], 256);
        assert_eq!(v["linux"]["resources"]["cpu"]["quota"], 50000);
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 32 << 20);
        assert!(v.get("hostname").is_none());
        let nss = v["linux"]["namespaces"].as_array().unwrap();
        assert!(nss.iter().any(|n| n["type"] == "network" && n["path"] == "/proc/42/ns/net"));
    }

    #[test]
    fn privileged_containers_get_all_capabilities_and_no_seccomp() {
        let mut s = base();
        s.privileged = true;
        let v = serde_json::to_value(s.to_oci(Path::new("/rootfs")).unwrap()).unwrap();
        assert!(v["linux"].get("seccomp").is_none());
        assert_eq!(v["process"]["capabilities"]["bounding"].as_array().unwrap().len(), host_capabilities().len());
        assert!(host_capabilities().contains(&"CAP_SYS_ADMIN".to_string()));
    }
}
