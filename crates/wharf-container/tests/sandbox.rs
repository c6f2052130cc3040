//! Root tests of pod sandboxes (pause processes), independent of the OCI runtime.
#![allow(clippy::unwrap_used)]

mod common;

use common::{pid_alive, Env};
use wharf_container::{cgroups, RuntimeKind, Sandbox};

#[test]
fn a_sandbox_holds_new_namespaces_with_the_pod_hostname_and_is_readopted_after_restart() {
    let mut env = Env::new(RuntimeKind::Runc);
    let sb = env.sandbox("web-0");
    let pid = sb.pid();
    for ns in ["net", "ipc", "uts"] {
        let mine = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let its = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        assert_ne!(mine, its, "{ns} namespace is not new");
    }
    let inside = |flag: &str, cmd: &[&str]| {
        let out = std::process::Command::new("nsenter")
            .args(["--target", &pid.to_string(), flag])
            .args(cmd)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(inside("--uts", &["hostname"]).trim(), "web-0");
    let lo = inside("--net", &["/bin/busybox", "ip", "link", "show", "lo"]);
    assert!(lo.contains(",UP"), "{lo}");
    assert!(cgroups::pids(&env.pod_cgroup()).contains(&pid), "pause is in the pod cgroup");

    // A restarted agent finds it again from the directory alone.
    let again = Sandbox::adopt(&sb.config().dir).unwrap().expect("sandbox still running");
    assert_eq!(again.pid(), pid);

    env.sandboxes.clear();
    again.destroy().unwrap();
    assert!(!pid_alive(pid));
    assert!(!cgroups::exists(&env.pod_cgroup()));
    assert!(!sb.config().dir.exists());
}

#[test]
fn an_orphaned_sandbox_directory_is_destroyed_without_its_handle() {
    let mut env = Env::new(RuntimeKind::Runc);
    let sb = env.sandbox("orphan");
    let pid = sb.pid();
    env.sandboxes.clear();
    let dir = sb.config().dir.clone();
    drop(sb);
    wharf_container::sandbox::destroy_dir(&dir).unwrap();
    assert!(!pid_alive(pid));
    assert!(!dir.exists());
}

#[test]
fn a_node_budget_is_applied_to_the_parent_cgroup_and_bounds_the_pods_under_it() {
    let mut env = Env::new(RuntimeKind::Runc);
    let budget = wharf_container::spec::Resources {
        cpu_shares: Some(512),
        cpu_quota: Some(50_000),
        cpu_period: Some(100_000),
        memory_limit: Some(48 << 20),
        pids_limit: Some(500),
    };
    cgroups::ensure(&env.cgroup_parent, &budget).unwrap();
    cgroups::ensure(&env.cgroup_parent, &budget).unwrap(); // idempotent
    let read = |ctrl: &str, file: &str| {
        std::fs::read_to_string(cgroups::controller_dir(ctrl, &env.cgroup_parent).join(file)).unwrap().trim().to_string()
    };
    if cgroups::is_unified() {
        assert_eq!(read("memory", "memory.max"), (48u64 << 20).to_string());
        assert_eq!(read("cpu", "cpu.max"), "50000 100000");
    } else {
        assert_eq!(read("memory", "memory.limit_in_bytes"), (48u64 << 20).to_string());
        assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu", "cpu.shares"), "512");
    }
    assert_eq!(read("pids", "pids.max"), "500");
    // A container without its own limit is still bounded by the node: allocating past the
    // budget gets it OOM-killed.
    let (shim, _) = env.run("greedy", &env.spec("greedy", "head -c 100m /dev/zero | tail"));
    let exit = shim.wait(Some(std::time::Duration::from_secs(30))).unwrap().exit.unwrap();
    assert_ne!(exit.code, 0, "{exit:?}");
    // Pod-level stats aggregate the pod's containers.
    let pod = cgroups::stats(&env.pod_cgroup()).expect("pod stats");
    assert!(pod.cpu_usage_nanos > 0);
}
