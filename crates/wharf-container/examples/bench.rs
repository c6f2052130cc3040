//! Benchmark (root): create→running latency of containers started through shims, and shim RSS.
//!
//! `bench [runc|libcontainer] [count]` — starts `count` busybox `sleep` containers one after the
//! other, prints p50/p99/max of the agent-observed latency of `shim::spawn` (shim start + create +
//! start), the average shim RSS, then deletes everything. The binary is its own shim
//! (`bench shim ...`).

use std::time::{Duration, Instant};

use wharf_container::shim::{ShimClient, ShimConfig};
use wharf_container::spec::{write_bundle, ContainerSpec, Resources};
use wharf_container::{cgroups, RuntimeConfig, RuntimeKind, ShimCommand};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("shim") {
        wharf_container::shim_main(args[1..].to_vec());
    }
    let kind = match args.first().map(String::as_str) {
        Some("runc") => RuntimeKind::Runc,
        _ => RuntimeKind::Libcontainer,
    };
    let count: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let tmp = std::env::temp_dir().join(format!("wharf-bench-{}", std::process::id()));
    let rootfs = tmp.join("rootfs");
    for d in ["bin", "proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).expect("mkdir");
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("copy busybox");
    let exe = std::env::current_exe().expect("current exe");
    let shim = ShimCommand::new(exe, &["shim"]);
    let runtime = RuntimeConfig::new(kind, tmp.join("runtime"));
    let pod = format!("bench{}", std::process::id());

    let mut clients: Vec<ShimClient> = Vec::new();
    let mut lat = Vec::new();
    for i in 0..count {
        let name = format!("c{i}");
        let spec = ContainerSpec {
            args: vec!["/bin/busybox".into(), "sleep".into(), "100000".into()],
            cgroup_path: cgroups::container_path("/wharf-bench", &pod, &name),
            read_only_root: true,
            resources: Resources::from_kubernetes(Some(10), None, Some(64 << 20)),
            ..Default::default()
        };
        let bundle = tmp.join("bundles").join(&name);
        write_bundle(&bundle, &spec.to_oci(&rootfs).expect("spec")).expect("bundle");
        let cfg = ShimConfig {
            id: format!("{pod}-{name}"),
            bundle,
            dir: tmp.join("shims").join(&name),
            runtime: runtime.clone(),
            log_path: tmp.join("logs").join(format!("{name}.log")),
            log_max_size: 10 << 20,
            log_max_files: 2,
            cgroup_path: spec.cgroup_path.clone(),
            shim: shim.clone(),
            stdin: false,
            tty: false,
        };
        let t = Instant::now();
        match wharf_container::shim::spawn(&cfg) {
            Ok(c) => {
                lat.push(t.elapsed());
                clients.push(c);
            }
            Err(e) => eprintln!("{name}: {e}"),
        }
    }
    let mem: Vec<(u64, u64)> = clients
        .iter()
        .filter_map(|c| c.status().ok())
        .filter_map(|s| Some((rollup_kib(s.shim_pid, "Rss:")?, rollup_kib(s.shim_pid, "Private_Dirty:")?)))
        .collect();
    let n = mem.len().max(1) as u64;
    lat.sort();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or_default();
    println!(
        "runtime={} containers={} create->running p50={:?} p99={:?} max={:?} shim_rss_avg={} KiB shim_private_dirty_avg={} KiB",
        kind.name(),
        lat.len(),
        pct(0.50),
        pct(0.99),
        lat.last().copied().unwrap_or_default(),
        mem.iter().map(|m| m.0).sum::<u64>() / n,
        mem.iter().map(|m| m.1).sum::<u64>() / n,
    );
    let t = Instant::now();
    for c in &clients {
        let _ = c.kill(9, true);
        let _ = c.wait(Some(Duration::from_secs(10)));
        if let Err(e) = c.delete() {
            eprintln!("delete {}: {e}", c.id());
        }
    }
    println!("stop+delete of {} containers: {:?}", clients.len(), t.elapsed());
    let _ = cgroups::remove("/wharf-bench");
    let _ = std::fs::remove_dir_all(&tmp);
}

fn rollup_kib(pid: i32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().next()?.parse().ok())
}
