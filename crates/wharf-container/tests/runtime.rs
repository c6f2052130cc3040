//! Root tests of containers run through shims, for every runtime compiled in (libcontainer, runc).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{eventually, pid_alive, Env};
use wharf_container::shim::ContainerState;
use wharf_container::spec::Resources;
use wharf_container::{cgroups, RuntimeKind};

const WAIT: Option<Duration> = Some(Duration::from_secs(30));

fn echo_output_is_written_to_the_cri_log(kind: RuntimeKind) {
    let mut env = Env::new(kind);
    let spec = env.spec("echo", "echo hello from wharf; echo to-stderr >&2; printf no-newline");
    let (shim, cfg) = env.run("echo", &spec);
    let st = shim.wait(WAIT).unwrap();
    assert_eq!(st.exit.as_ref().unwrap().code, 0);
    let recs = wharf_container::crilog::read_records(&cfg.log_path).unwrap();
    let lines: Vec<(String, &str)> =
        recs.iter().map(|r| (format!("{:?}", r.stream), r.message.as_str())).collect();
    assert!(lines.contains(&("Stdout".into(), "hello from wharf")), "{lines:?}");
    assert!(lines.contains(&("Stderr".into(), "to-stderr")), "{lines:?}");
    assert!(lines.contains(&("Stdout".into(), "no-newline")), "{lines:?}");
    let raw = std::fs::read_to_string(&cfg.log_path).unwrap();
    assert!(raw.lines().all(|l| wharf_container::crilog::parse_record(l).is_some()), "{raw}");
}

fn container_logs_rotate_by_size(kind: RuntimeKind) {
    let mut env = Env::new(kind);
    let spec = env.spec("chatty", "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done");
    let mut cfg = env.config("chatty", &spec);
    cfg.log_max_size = 4096;
    cfg.log_max_files = 3;
    let shim = env.run_config(&cfg);
    assert_eq!(shim.wait(WAIT).unwrap().exit.unwrap().code, 0);
    let rotated = |n: u32| std::path::PathBuf::from(format!("{}.{n}", cfg.log_path.display()));
    assert!(std::fs::metadata(&cfg.log_path).unwrap().len() <= 4096);
    assert!(rotated(1).exists() && rotated(2).exists() && !rotated(3).exists());
    let current = env.log_messages(&cfg);
    assert_eq!(current.last().map(String::as_str), Some("line-299"));
    // The kept files hold consecutive lines, oldest in the highest suffix.
    let older = wharf_container::crilog::read_records(&rotated(1)).unwrap();
    let next = older.last().unwrap().message.trim_start_matches("line-").parse::<u32>().unwrap() + 1;
    assert_eq!(current[0], format!("line-{next}"));
}

fn stdin_written_to_the_fifo_reaches_the_container_until_closed(kind: RuntimeKind) {
    use std::io::Write;
    let mut env = Env::new(kind);
    let spec = env.spec("reader", "while read line; do echo got:$line; done; echo eof");
    let mut cfg = env.config("reader", &spec);
    cfg.stdin = true;
    let shim = env.run_config(&cfg);
    for chunk in ["a\n", "b\n"] {
        // Each attach opens the FIFO anew, as `kubectl attach -i` sessions would.
        let mut w = std::fs::OpenOptions::new().write(true).open(shim.stdin_path()).unwrap();
        w.write_all(chunk.as_bytes()).unwrap();
    }
    eventually("both lines", Duration::from_secs(10), || (env.log_messages(&cfg).len() >= 2).then_some(()));
    assert_eq!(shim.status().unwrap().state, ContainerState::Running, "closing a writer is not EOF");
    shim.close_stdin().unwrap();
    assert_eq!(shim.wait(WAIT).unwrap().exit.unwrap().code, 0);
    assert_eq!(env.log_messages(&cfg), vec!["got:a", "got:b", "eof"]);
}

fn a_tty_container_logs_its_terminal_and_takes_stdin_and_resize(kind: RuntimeKind) {
    use std::io::Write;
    let mut env = Env::new(kind);
    let mut spec = env.spec("term", "echo ready; read x; stty size; echo got:$x; tty");
    spec.tty = true;
    let mut cfg = env.config("term", &spec);
    cfg.stdin = true;
    cfg.tty = true;
    let shim = env.run_config(&cfg);
    eventually("ready", Duration::from_secs(10), || env.log_messages(&cfg).contains(&"ready".into()).then_some(()));
    shim.resize(30, 90).unwrap();
    let mut w = std::fs::OpenOptions::new().write(true).open(shim.stdin_path()).unwrap();
    w.write_all(b"hello\n").unwrap();
    assert_eq!(shim.wait(WAIT).unwrap().exit.unwrap().code, 0);
    let recs = wharf_container::crilog::read_records(&cfg.log_path).unwrap();
    let lines: Vec<&str> = recs.iter().map(|r| r.message.as_str()).collect();
    // The terminal echoes the input; everything is one stream, without carriage returns.
    assert!(lines.contains(&"hello"), "{lines:?}");
    assert!(lines.contains(&"30 90"), "{lines:?}");
    assert!(lines.contains(&"got:hello"), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("/dev/pts/")), "{lines:?}");
    assert!(recs.iter().all(|r| r.stream == wharf_container::crilog::Stream::Stdout && !r.message.contains('\r')));
}

fn a_second_create_with_the_same_id_is_refused_and_leaves_the_first_running(kind: RuntimeKind) {
    let mut env = Env::new(kind);
    let (first, cfg) = env.run("dup", &env.spec("dup", "exec sleep 1000"));
    // Same shim directory: refused before anything runs.
    assert!(wharf_container::shim::spawn(&cfg).is_err());
    // Same container id from another shim directory: the runtime refuses it.
    let mut other = cfg.clone();
    other.dir = env.shim_root().join("elsewhere");
    other.cgroup_path = cgroups::container_path(&env.cgroup_parent, &env.pod_uid, "dup2");
    let err = wharf_container::shim::spawn(&other).unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
    let st = first.status().unwrap();
    assert_eq!(st.state, ContainerState::Running);
    assert!(pid_alive(st.pid));
    assert!(cgroups::exists(&cfg.cgroup_path));
    assert!(!other.dir.exists());
}

fn exit_codes_and_signals_are_reported(kind: RuntimeKind) {
    let mut env = Env::new(kind);
    let (a, _) = env.run("three", &env.spec("three", "exit 3"));
    let (b, bcfg) = env.run("killed", &env.spec("killed", "echo up; exec sleep 1000"));
    eventually("up", Duration::from_secs(10), || env.log_messages(&bcfg).contains(&"up".into()).then_some(()));
    b.kill(libc::SIGKILL, false).unwrap();
    let ea = a.wait(WAIT).unwrap().exit.unwrap();
    assert_eq!((ea.code, ea.signal, ea.oom_killed, ea.reason()), (3, None, false, "Error"));
    let eb = b.wait(WAIT).unwrap().exit.unwrap();
    assert_eq!((eb.code, eb.signal), (137, Some(9)));
    assert!(!eb.oom_killed);
}

fn memory_limit_oom_kill_is_reported_as_oomkilled(kind: RuntimeKind) {
    let mut env = Env::new(kind);
    let mut spec = env.spec("oom", "head -c 100m /dev/zero | tail");
    spec.resources = Resources::from_kubernetes(None, None, Some(32 << 20));
    let (shim, cfg) = env.run("oom", &spec);
    let limit = std::fs::read_to_string(cgroups::controller_dir("memory", &cfg.cgroup_path).join(
        if cgroups::is_unified() { "memory.max" } else { "memory.limit_in_bytes" },
    ))
    .unwrap();
    assert_eq!(limit.trim(), (32u64 << 20).to_string());
    let exit = shim.wait(WAIT).unwrap().exit.unwrap();
    assert!(exit.oom_killed, "{exit:?}");
    assert_eq!(exit.reason(), "OOMKilled");
    assert_ne!(exit.code, 0);
}

fn sigterm_is_delivered_then_sigkill_after_the_grace_period(kind: RuntimeKind) {
    let mut env = Env::new(kind);
    let polite = env.spec("polite", "trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done");
    let (p, pcfg) = env.run("polite", &polite);
    // pid 1 ignores signals it has no handler for: TERM is ignored here, so only SIGKILL stops it.
    let stubborn = env.spec("stubborn", "trap '' TERM; echo ready; while true; do sleep 0.1; done");
    let (s, scfg) = env.run("stubborn", &stubborn);
    eventually("polite ready", Duration::from_secs(10), || env.log_messages(&pcfg).contains(&"ready".into()).then_some(()));
    eventually("stubborn ready", Duration::from_secs(10), || env.log_messages(&scfg).contains(&"ready".into()).then_some(()));

    let st = p.stop(Duration::from_secs(10)).unwrap();
    assert_eq!(st.exit.as_ref().unwrap().code, 0);
    assert!(env.log_messages(&pcfg).contains(&"got-term".to_string()));

    let t = Instant::now();
    let st = s.stop(Duration::from_millis(700)).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(700), "killed before the grace period: {:?}", t.elapsed());
    let exit = st.exit.unwrap();
    assert_eq!((exit.code, exit.signal), (137, Some(9)));
}

fn containers_in_one_sandbox_share_network_namespace_and_hostname(kind: RuntimeKind) {
    let mut env = Env::new(kind);
    let sb = env.sandbox("my-pod");
    let script = "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; hostname; ip=$(cat /proc/net/dev | grep -c lo:); echo lo=$ip";
    let mut outs = Vec::new();
    for name in ["first", "second"] {
        let mut spec = env.spec(name, script);
        spec.namespaces = sb.namespaces();
        let (shim, cfg) = env.run(name, &spec);
        assert_eq!(shim.wait(WAIT).unwrap().exit.unwrap().code, 0);
        outs.push(env.log_messages(&cfg));
    }
    let pause_net = std::fs::read_link(sb.netns_path()).unwrap().to_string_lossy().to_string();
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[0][0], pause_net);
    assert_ne!(pause_net, std::fs::read_link("/proc/self/ns/net").unwrap().to_string_lossy());
    assert_eq!(outs[0][2], "my-pod");
    assert_eq!(outs[0][3], "lo=1");
    // The pause process keeps the namespace after the containers are gone.
    assert!(sb.is_alive());
    for shim in env.shims.drain(..) {
        shim.delete().unwrap();
    }
    let pid = sb.pid();
    env.sandboxes.clear();
    sb.destroy().unwrap();
    assert!(!pid_alive(pid));
    assert!(!cgroups::exists(&env.pod_cgroup()));
}

fn runtime_default_seccomp_is_in_effect(kind: RuntimeKind) {
    let mut env = Env::new(kind);
    for no_new_privileges in [false, true] {
        let mut spec = env.spec("sec", "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status");
        spec.no_new_privileges = no_new_privileges;
        let (shim, cfg) = env.run("sec", &spec);
        assert_eq!(shim.wait(WAIT).unwrap().exit.unwrap().code, 0);
        let lines: Vec<Vec<String>> = env
            .log_messages(&cfg)
            .iter()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect();
        assert!(lines.contains(&vec!["Seccomp:".to_string(), "2".to_string()]), "{lines:?}");
        let nnp = if no_new_privileges { "1" } else { "0" };
        assert!(lines.contains(&vec!["NoNewPrivs:".to_string(), nnp.to_string()]), "{lines:?}");
        shim.delete().unwrap();
        env.shims.clear();
        std::fs::remove_file(&cfg.log_path).unwrap();
    }
    // Creating a user namespace needs no capability, so only the filter can refuse it.
    let script = "unshare -U true 2>/dev/null; echo rc=$?";
    let (shim, cfg) = env.run("denied", &env.spec("denied", script));
    shim.wait(WAIT).unwrap();
    assert_eq!(env.log_messages(&cfg), vec!["rc=1".to_string()]);
    let mut spec = env.spec("unconfined", script);
    spec.seccomp = wharf_container::spec::SeccompMode::Unconfined;
    let (shim, cfg) = env.run("unconfined", &spec);
    shim.wait(WAIT).unwrap();
    assert_eq!(env.log_messages(&cfg), vec!["rc=0".to_string()]);
}

fn glibc_programs_run_under_the_runtime_default_profile(kind: RuntimeKind) {
    let mut env = Env::new(kind);
    let mut spec = env.spec("glibc", "");
    spec.args = vec!["/usr/bin/bash".into(), "-c".into(), "/usr/bin/ls -la / > /dev/null && echo ls-ok; echo $BASH_VERSION".into()];
    let cfg = env.config("glibc", &spec);
    let rootfs = cfg.bundle.join("rootfs");
    env.copy_with_libs(&rootfs, "/usr/bin/bash");
    env.copy_with_libs(&rootfs, "/usr/bin/ls");
    let shim = env.run_config(&cfg);
    let exit = shim.wait(WAIT).unwrap().exit.unwrap();
    let lines = env.log_messages(&cfg);
    assert_eq!(exit.code, 0, "{lines:?}");
    assert_eq!(lines[0], "ls-ok");
    assert!(!lines[1].is_empty());
}

fn security_context_user_readonly_root_and_capabilities_apply(kind: RuntimeKind) {
    let mut env = Env::new(kind);
    let mut spec = env.spec(
        "sec",
        "id -u; id -g; touch /probe 2>/dev/null && echo writable || echo readonly; grep CapEff /proc/self/status; pwd; echo $GREETING",
    );
    spec.user = Some(1000);
    spec.group = Some(3000);
    spec.read_only_root = true;
    spec.cap_drop = vec!["ALL".into()];
    spec.working_dir = Some("/tmp".into());
    spec.env = vec![("GREETING".into(), "hi there".into())];
    let (shim, cfg) = env.run("sec", &spec);
    assert_eq!(shim.wait(WAIT).unwrap().exit.unwrap().code, 0);
    let lines = env.log_messages(&cfg);
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "3000");
    assert_eq!(lines[2], "readonly");
    assert_eq!(lines[3].split_whitespace().nth(1), Some("0000000000000000"), "{lines:?}");
    assert_eq!(lines[4], "/tmp");
    assert_eq!(lines[5], "hi there");

    let mut spec = env.spec("priv", "grep -E '^(CapEff|Seccomp):' /proc/self/status");
    spec.privileged = true;
    let (shim, cfg) = env.run("priv", &spec);
    shim.wait(WAIT).unwrap();
    let lines = env.log_messages(&cfg);
    assert!(lines.iter().any(|l| l.starts_with("Seccomp:") && l.ends_with('0')), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("CapEff:") && !l.ends_with("0000000000000000")), "{lines:?}");
}

fn exec_returns_output_and_exit_code(kind: RuntimeKind) {
    let mut env = Env::new(kind);
    let mut spec = env.spec("target", "echo started; exec sleep 1000");
    spec.env = vec![("FROM_SPEC".into(), "yes".into())];
    let (shim, cfg) = env.run("target", &spec);
    eventually("started", Duration::from_secs(10), || env.log_messages(&cfg).contains(&"started".into()).then_some(()));
    let base = wharf_container::spec::read_bundle(&cfg.bundle).unwrap().process().clone();
    let process = wharf_container::exec::process_for(
        base.as_ref(),
        &["/bin/sh".into(), "-c".into(), "echo out $FROM_SPEC $EXTRA; echo err >&2; exit 7".into()],
        &["EXTRA=more".into()],
    )
    .unwrap();
    let ex = wharf_container::exec::spawn(&env.runtime, &common::shim_command(), &cfg.id, &process).unwrap();
    let (code, out, err) = ex.output().unwrap();
    assert_eq!(code, 7, "stderr: {}", String::from_utf8_lossy(&err));
    assert_eq!(String::from_utf8_lossy(&out), "out yes more\n");
    assert_eq!(String::from_utf8_lossy(&err), "err\n");
    // The exec'd process joins the container's cgroup and mount namespace.
    let process = wharf_container::exec::process_for(base.as_ref(), &["/bin/cat".into(), "/proc/self/cgroup".into()], &[]).unwrap();
    let ex = wharf_container::exec::spawn(&env.runtime, &common::shim_command(), &cfg.id, &process).unwrap();
    let (code, out, _) = ex.output().unwrap();
    assert_eq!(code, 0);
    let out = String::from_utf8_lossy(&out).to_string();
    assert!(out.lines().any(|l| l.contains(":memory:") && l.ends_with(&cfg.cgroup_path)) || cgroups::is_unified(), "{out}");
    // The container itself still runs.
    assert_eq!(shim.status().unwrap().state, ContainerState::Running);
}

fn exec_on_a_terminal_reports_the_tty_and_follows_resize(kind: RuntimeKind) {
    use std::io::{Read, Write};
    let mut env = Env::new(kind);
    let (_shim, cfg) = env.run("tty", &env.spec("tty", "echo started; exec sleep 1000"));
    eventually("started", Duration::from_secs(10), || env.log_messages(&cfg).contains(&"started".into()).then_some(()));
    let base = wharf_container::spec::read_bundle(&cfg.bundle).unwrap().process().clone();
    let process = wharf_container::exec::process_for(
        base.as_ref(),
        &["/bin/sh".into(), "-c".into(), "tty; read x; stty size; exit 5".into()],
        &[],
    )
    .unwrap();
    let mut ex = wharf_container::exec::spawn_tty(&env.runtime, &common::shim_command(), &cfg.id, &process).unwrap();
    ex.resize(40, 100).unwrap();
    ex.master.write_all(b"go\n").unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match ex.master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => panic!("read terminal: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&out).replace('\r', "");
    assert!(text.lines().any(|l| l.starts_with("/dev/pts/")), "{text:?}");
    assert!(text.lines().any(|l| l == "40 100"), "{text:?}");
    assert_eq!(ex.wait().unwrap(), 5);
}

fn stats_report_cpu_and_memory_working_set(kind: RuntimeKind) {
    let mut env = Env::new(kind);
    let spec = env.spec("busy", "head -c 20m /dev/zero | tail > /dev/null; echo filled; exec sleep 1000");
    let (_shim, cfg) = env.run("busy", &spec);
    eventually("filled", Duration::from_secs(20), || env.log_messages(&cfg).contains(&"filled".into()).then_some(()));
    let st = cgroups::stats(&cfg.cgroup_path).expect("stats of a running container");
    assert!(st.cpu_usage_nanos > 0, "{st:?}");
    assert!(st.memory_usage_bytes > 0 && st.memory_working_set_bytes <= st.memory_usage_bytes, "{st:?}");
    assert!(cgroups::stats("/wharf/does-not-exist").is_none());
}

fn failed_create_leaves_no_process_cgroup_or_state(kind: RuntimeKind) {
    let env = Env::new(kind);
    let mut missing_binary = env.spec("broken", "");
    missing_binary.args = vec!["/no/such/binary".into()];
    let mut missing_netns = env.spec("nons", "true");
    missing_netns.namespaces.network = Some("/proc/2147483647/ns/net".into());
    for spec in [missing_binary, missing_netns] {
        let cfg = env.config(spec.cgroup_path.rsplit('/').next().unwrap(), &spec);
        let err = wharf_container::shim::spawn(&cfg).expect_err("create must fail");
        assert!(!err.to_string().is_empty());
        assert!(!cgroups::exists(&cfg.cgroup_path), "cgroup {} left behind", cfg.cgroup_path);
        assert!(!cfg.dir.exists(), "shim directory left behind");
        let rt = env.runtime.open().unwrap();
        assert!(rt.state(&cfg.id).is_err(), "runtime state left behind");
        // No process of this container survives anywhere (a failed create must not orphan its init).
        assert!(no_process_mentions(&cfg.bundle), "a process of {} is still running", cfg.id);
    }
}

/// Whether no process has `bundle` (or something under it) as its root or working directory.
fn no_process_mentions(bundle: &std::path::Path) -> bool {
    let Ok(rd) = std::fs::read_dir("/proc") else { return true };
    !rd.flatten().any(|e| {
        let p = e.path();
        ["root", "cwd"].iter().any(|l| std::fs::read_link(p.join(l)).map(|t| t.starts_with(bundle)).unwrap_or(false))
    })
}

fn shim_keeps_the_container_when_the_agent_is_killed_and_a_new_agent_readopts_it(kind: RuntimeKind) {
    let mut env = Env::new(kind);
    let spec = env.spec("survivor", "echo alive; exec sleep 1000");
    let cfg = env.config("survivor", &spec);
    std::fs::create_dir_all(&cfg.dir).unwrap();
    let cfg_file = env.tmp.path().join("agent-cfg.json");
    std::fs::write(&cfg_file, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let shim = common::shim_command();
    let mut agent = std::process::Command::new(&shim.program)
        .arg("test-agent")
        .arg(&cfg_file)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(agent.stdout.take().unwrap()), &mut line).unwrap();
    assert!(line.starts_with("running "), "{line}");
    let pid: i32 = line.trim().trim_start_matches("running ").parse().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(agent.id() as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    agent.wait().unwrap();

    let found = wharf_container::shim::discover(&env.shim_root()).unwrap();
    assert_eq!(found.len(), 1);
    let client = found[0].client.clone().expect("shim still answers after the agent died");
    env.shims.push(client.clone());
    let st = client.status().unwrap();
    assert_eq!((st.state, st.pid), (ContainerState::Running, pid));
    assert!(pid_alive(pid));
    assert_eq!(found[0].config.as_ref().unwrap().id, cfg.id);
    // The new agent can still stop and delete it.
    // `sleep` as pid 1 ignores SIGTERM, so this ends with SIGKILL after the grace period.
    let st = client.stop(Duration::from_millis(300)).unwrap();
    assert_eq!(st.exit.as_ref().unwrap().signal, Some(9));
    client.delete().unwrap();
    assert!(!cgroups::exists(&cfg.cgroup_path));
    eventually("shim exit", Duration::from_secs(5), || (!pid_alive(st.shim_pid)).then_some(()));
}

fn a_dead_shims_container_and_cgroup_are_cleaned_up_on_discovery(kind: RuntimeKind) {
    let mut env = Env::new(kind);
    let (shim, cfg) = env.run("orphan", &env.spec("orphan", "exec sleep 1000"));
    let st = shim.status().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(st.shim_pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    eventually("shim gone", Duration::from_secs(5), || (!pid_alive(st.shim_pid)).then_some(()));
    assert!(pid_alive(st.pid), "the container outlives its shim");
    env.shims.clear();
    let found = wharf_container::shim::discover(&env.shim_root()).unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].client.is_none());
    assert_eq!(found[0].last_status.as_ref().unwrap().pid, st.pid);
    wharf_container::shim::cleanup_dead(&found[0]).unwrap();
    eventually("container gone", Duration::from_secs(5), || (!pid_alive(st.pid)).then_some(()));
    assert!(!cgroups::exists(&cfg.cgroup_path));
    assert!(!cfg.dir.exists());
    assert!(env.runtime.open().unwrap().state(&cfg.id).is_err());
}

macro_rules! for_runtime {
    ($modname:ident, $kind:expr) => {
        mod $modname {
            use super::*;
            fn kind() -> RuntimeKind {
                let k = $kind;
                assert!(RuntimeKind::available().contains(&k), "runtime {} not available", k.name());
                k
            }
            #[test]
            fn echo_output_is_written_to_the_cri_log() {
                super::echo_output_is_written_to_the_cri_log(kind())
            }
            #[test]
            fn container_logs_rotate_by_size() {
                super::container_logs_rotate_by_size(kind())
            }
            #[test]
            fn stdin_written_to_the_fifo_reaches_the_container_until_closed() {
                super::stdin_written_to_the_fifo_reaches_the_container_until_closed(kind())
            }
            #[test]
            fn a_tty_container_logs_its_terminal_and_takes_stdin_and_resize() {
                super::a_tty_container_logs_its_terminal_and_takes_stdin_and_resize(kind())
            }
            #[test]
            fn a_second_create_with_the_same_id_is_refused_and_leaves_the_first_running() {
                super::a_second_create_with_the_same_id_is_refused_and_leaves_the_first_running(kind())
            }
            #[test]
            fn exit_codes_and_signals_are_reported() {
                super::exit_codes_and_signals_are_reported(kind())
            }
            #[test]
            fn memory_limit_oom_kill_is_reported_as_oomkilled() {
                super::memory_limit_oom_kill_is_reported_as_oomkilled(kind())
            }
            #[test]
            fn sigterm_is_delivered_then_sigkill_after_the_grace_period() {
                super::sigterm_is_delivered_then_sigkill_after_the_grace_period(kind())
            }
            #[test]
            fn containers_in_one_sandbox_share_network_namespace_and_hostname() {
                super::containers_in_one_sandbox_share_network_namespace_and_hostname(kind())
            }
            #[test]
            fn runtime_default_seccomp_is_in_effect() {
                super::runtime_default_seccomp_is_in_effect(kind())
            }
            #[test]
            fn glibc_programs_run_under_the_runtime_default_profile() {
                super::glibc_programs_run_under_the_runtime_default_profile(kind())
            }
            #[test]
            fn security_context_user_readonly_root_and_capabilities_apply() {
                super::security_context_user_readonly_root_and_capabilities_apply(kind())
            }
            #[test]
            fn exec_returns_output_and_exit_code() {
                super::exec_returns_output_and_exit_code(kind())
            }
            #[test]
            fn exec_on_a_terminal_reports_the_tty_and_follows_resize() {
                super::exec_on_a_terminal_reports_the_tty_and_follows_resize(kind())
            }
            #[test]
            fn stats_report_cpu_and_memory_working_set() {
                super::stats_report_cpu_and_memory_working_set(kind())
            }
            #[test]
            fn failed_create_leaves_no_process_cgroup_or_state() {
                super::failed_create_leaves_no_process_cgroup_or_state(kind())
            }
            #[test]
            fn a_dead_shims_container_and_cgroup_are_cleaned_up_on_discovery() {
                super::a_dead_shims_container_and_cgroup_are_cleaned_up_on_discovery(kind())
            }
            #[test]
            fn shim_keeps_the_container_when_the_agent_is_killed_and_a_new_agent_readopts_it() {
                super::shim_keeps_the_container_when_the_agent_is_killed_and_a_new_agent_readopts_it(kind())
            }
        }
    };
}

#[cfg(feature = "libcontainer")]
for_runtime!(libcontainer, RuntimeKind::Libcontainer);
for_runtime!(runc, RuntimeKind::Runc);
