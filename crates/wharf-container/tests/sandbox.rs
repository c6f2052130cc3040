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
    assert!(cgroups::pids(&cgroups::pod_path(&env.pod_uid)).contains(&pid), "pause is in the pod cgroup");

    // A restarted agent finds it again from the directory alone.
    let again = Sandbox::adopt(&sb.config().dir).unwrap().expect("sandbox still running");
    assert_eq!(again.pid(), pid);

    env.sandboxes.clear();
    again.destroy().unwrap();
    assert!(!pid_alive(pid));
    assert!(!cgroups::exists(&cgroups::pod_path(&env.pod_uid)));
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
