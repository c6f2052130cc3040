//! End-to-end streams of real pods through the API server and the node agent's kubelet API
//! (root only; skipped with a printed reason otherwise): `kubectl logs` (follow, previous,
//! tail), `kubectl exec` (exit codes, stdin), `kubectl attach`, `kubectl port-forward`, and the
//! kubelet-managed `/etc/resolv.conf`, `/etc/hosts` and `/etc/hostname` seen from inside a pod.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::eventually;
use common::images::{is_root, Node, Registry};
use common::kubectl_with;

fn setup(test: &str) -> Option<(Registry, tempfile::TempDir, Node)> {
    if !is_root() {
        println!("skipping {test}: real pods need root");
        return None;
    }
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start(tmp.path(), &format!("127.0.0.1:{}", reg.port));
    Some((reg, tmp, node))
}

/// A kubectl left running in the background (follow, attach, port-forward); killed by PID on drop.
struct Background {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Background {
    fn start(node: &Node, args: &[&str]) -> Background {
        Self::start_env(node, args, &[])
    }

    fn start_env(node: &Node, args: &[&str], env: &[(&str, &str)]) -> Background {
        let mut child = Command::new("kubectl")
            .envs(env.iter().copied())
            .arg("--kubeconfig")
            .arg(node.kubeconfig())
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn kubectl");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        Background { child, lines, seen: Vec::new() }
    }

    /// Waits for a line containing `needle`; returns it.
    fn wait_line(&mut self, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("kubectl never printed {needle:?}; output so far: {:?}", self.seen),
            }
        }
    }

    /// Waits for kubectl to exit by itself; its exit code and every line it printed.
    fn wait_exit(&mut self, secs: u64) -> (i32, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                // The reader thread ends at EOF.
                while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
                    self.seen.push(l);
                }
                return (st.code().unwrap_or(-1), self.seen.clone());
            }
            assert!(Instant::now() < deadline, "kubectl did not exit; output so far: {:?}", self.seen);
            while let Ok(l) = self.lines.try_recv() {
                self.seen.push(l);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn running(node: &Node, pod: &str) -> bool {
    node.get(&format!("pod/{pod}"), "{.status.containerStatuses[0].state.running.startedAt}") != ""
}

#[test]
fn kubectl_logs_should_follow_tail_and_show_the_previous_instance_after_a_restart() {
    let Some((reg, _tmp, node)) = setup("kubectl_logs_should_follow_tail_and_show_the_previous_instance_after_a_restart") else { return };
    let img = reg.image();
    node.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: crasher}}
spec:
  containers:
  - name: app
    image: {img}
    command: ["sh", "-c", "echo boot-$(date +%s); for i in 1 2 3 4 5; do echo line-$i; done; echo to-stderr >&2; sleep 3; exit 1"]
---
apiVersion: v1
kind: Pod
metadata: {{name: ticker}}
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: {img}
    command: ["sh", "-c", "sleep 2; for i in 1 2 3 4 5 6 7 8; do echo tick-$i; sleep 0.5; done"]
"#
    ));

    // Follow: streams lines as they are written and ends when the container exits.
    eventually(90, "ticker running", || running(&node, "ticker"));
    let mut follow = Background::start(&node, &["logs", "-f", "ticker"]);
    follow.wait_line("tick-1", 30);
    let (code, lines) = follow.wait_exit(60);
    assert_eq!(code, 0, "kubectl logs -f: {lines:?}");
    let ticks: Vec<&String> = lines.iter().filter(|l| l.starts_with("tick-")).collect();
    assert_eq!(ticks.len(), 8, "every tick exactly once: {lines:?}");
    assert_eq!(ticks.last().unwrap().as_str(), "tick-8");

    // Previous: the instance before the restart, with stdout and stderr.
    eventually(90, "crasher restarted", || node.get("pod/crasher", "{.status.containerStatuses[0].restartCount}").parse::<u32>().unwrap_or(0) >= 1);
    let previous = node.kubectl(&["logs", "crasher", "--previous"], None);
    assert!(previous.contains("line-1\nline-2\nline-3\nline-4\nline-5\n"), "previous: {previous}");
    assert!(previous.contains("to-stderr"), "previous: {previous}");
    eventually(30, "the current instance logged", || node.kubectl(&["logs", "crasher"], None).contains("line-5"));
    let current = node.kubectl(&["logs", "crasher"], None);
    let boot = |s: &str| s.lines().find(|l| l.starts_with("boot-")).map(str::to_string);
    assert_ne!(boot(&current), boot(&previous), "the current log is a different instance's");

    // Tail: the last lines only (of whichever instance is current, once it logged everything).
    eventually(30, "tail shows the last two lines", || node.kubectl(&["logs", "crasher", "--tail", "2"], None) == "line-5\nto-stderr\n");

    // Errors as the kubelet words them.
    let o = kubectl_with(&node.kubeconfig(), &["logs", "ticker", "--previous"], None);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("previous terminated container \"app\" in pod \"ticker\" not found"), "{}", String::from_utf8_lossy(&o.stderr));
    node.kubectl(&["delete", "pod", "crasher", "ticker", "--wait=true", "--timeout=60s"], None);
}

#[test]
fn kubectl_exec_should_propagate_exit_codes_and_stdin_and_see_kubelet_managed_files() {
    let Some((reg, _tmp, node)) = setup("kubectl_exec_should_propagate_exit_codes_and_stdin_and_see_kubelet_managed_files") else { return };
    let img = reg.image();
    node.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: shell}}
spec:
  hostAliases:
  - ip: 10.1.2.3
    hostnames: [db.example, cache.example]
  containers:
  - name: app
    image: {img}
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo attached-$i; sleep 0.3; done"]
---
apiVersion: v1
kind: Pod
metadata: {{name: echoer}}
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: {img}
    command: ["cat"]
    stdin: true
    stdinOnce: true
---
apiVersion: v1
kind: Pod
metadata: {{name: custom-dns}}
spec:
  dnsPolicy: None
  dnsConfig:
    nameservers: [192.0.2.1]
    searches: [corp.example]
    options: [{{name: ndots, value: "2"}}]
  containers:
  - name: app
    image: {img}
    command: ["sleep", "3600"]
"#
    ));
    eventually(90, "pods running", || running(&node, "shell") && running(&node, "custom-dns") && running(&node, "echoer"));

    // Exit codes and output.
    let o = kubectl_with(&node.kubeconfig(), &["exec", "shell", "--", "sh", "-c", "echo hi; echo oops >&2; exit 3"], None);
    assert_eq!(o.status.code(), Some(3), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hi\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("oops"));
    assert_eq!(node.kubectl(&["exec", "shell", "--", "sh", "-c", "echo ok"], None), "ok\n");

    // Stdin reaches the process; its end closes the process's input.
    let input: String = (0..2000).map(|i| format!("stdin-line-{i}\n")).collect();
    let out = node.kubectl(&["exec", "-i", "shell", "--", "cat"], Some(&input));
    assert_eq!(out, input);

    // A terminal (util-linux `script` gives kubectl one): the process runs on a pty, and the
    // exit code still comes back.
    let kubectl_cmd = format!("kubectl --kubeconfig {} exec -it shell -- sh -c 'tty; exit 5'", node.kubeconfig().display());
    let o = Command::new("script").args(["-qec", &kubectl_cmd, "/dev/null"]).stdin(Stdio::null()).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("/dev/pts/"), "tty output: {out} {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(5), "tty output: {out}");
    assert_eq!(node.kubectl(&["exec", "shell", "--", "sh", "-c", "tty || true"], None), "not a tty\n");

    // Unknown containers are refused with the API server's message.
    let o = kubectl_with(&node.kubeconfig(), &["exec", "shell", "-c", "nope", "--", "true"], None);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("container nope is not valid for pod shell"), "{}", String::from_utf8_lossy(&o.stderr));

    // The kubelet-managed files.
    let resolv = node.kubectl(&["exec", "shell", "--", "cat", "/etc/resolv.conf"], None);
    assert!(resolv.starts_with("search default.svc.cluster.local svc.cluster.local cluster.local"), "{resolv}");
    assert!(resolv.contains("\nnameserver 10.100.0.10\n"), "{resolv}");
    assert!(resolv.ends_with("options ndots:5\n"), "{resolv}");
    let hosts = node.kubectl(&["exec", "shell", "--", "cat", "/etc/hosts"], None);
    assert!(hosts.contains("127.0.0.1\tlocalhost\n"), "{hosts}");
    assert!(hosts.contains("10.1.2.3\tdb.example\tcache.example\n"), "{hosts}");
    assert_eq!(node.kubectl(&["exec", "shell", "--", "cat", "/etc/hostname"], None), "shell\n");
    assert_eq!(node.kubectl(&["exec", "shell", "--", "hostname"], None), "shell\n");
    let custom = node.kubectl(&["exec", "custom-dns", "--", "cat", "/etc/resolv.conf"], None);
    assert_eq!(custom, "search corp.example\nnameserver 192.0.2.1\noptions ndots:2\n");

    // Attach: the main process's output from now on.
    let mut attach = Background::start(&node, &["attach", "shell"]);
    let first = attach.wait_line("attached-", 30);
    let n: u32 = first.trim_start_matches("attached-").parse().unwrap();
    let later = attach.wait_line(&format!("attached-{}", n + 3), 30);
    assert!(later.starts_with("attached-"));
    drop(attach);

    // Attach with stdin: the main process reads it; with stdinOnce its stdin closes when the
    // session ends, so `cat` finishes and kubectl gets its exit.
    let o = kubectl_with(&node.kubeconfig(), &["attach", "-i", "echoer"], Some("hello-stdin\n"));
    assert!(o.status.success(), "attach -i: {}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("hello-stdin"), "attach -i: {}", String::from_utf8_lossy(&o.stdout));
    eventually(30, "echoer Succeeded", || node.get("pod/echoer", "{.status.phase}") == "Succeeded");
    node.kubectl(&["delete", "pod", "echoer", "--wait=true", "--timeout=60s"], None);
    node.kubectl(&["delete", "pod", "shell", "custom-dns", "--wait=true", "--timeout=60s"], None);
}

fn http_get(port: u16) -> Result<String, String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n").map_err(|e| e.to_string())?;
    let mut body = String::new();
    s.read_to_string(&mut body).map_err(|e| e.to_string())?;
    Ok(body)
}

#[test]
fn kubectl_port_forward_should_reach_a_server_inside_the_pod() {
    let Some((reg, _tmp, node)) = setup("kubectl_port_forward_should_reach_a_server_inside_the_pod") else { return };
    let img = reg.image();
    node.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: web}}
spec:
  containers:
  - name: httpd
    image: {img}
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"]
    readinessProbe:
      tcpSocket: {{port: 8080}}
      periodSeconds: 1
"#
    ));
    eventually(90, "web ready", || node.get("pod/web", "{.status.containerStatuses[0].ready}") == "true");
    let mut pf = Background::start(&node, &["port-forward", "pod/web", ":8080"]);
    let line = pf.wait_line("Forwarding from 127.0.0.1:", 30);
    let port: u16 = line.trim_start_matches("Forwarding from 127.0.0.1:").split_whitespace().next().unwrap().parse().unwrap();
    // Several connections through one port-forward session.
    for _ in 0..3 {
        let body = http_get(port).unwrap();
        assert!(body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"), "{body}");
        assert!(body.ends_with("hello-from-web\n"), "{body}");
    }
    drop(pf);
    // kubectl's fallback: SPDY on an upgraded connection instead of tunnelled through a WebSocket.
    let mut pf = Background::start_env(&node, &["port-forward", "pod/web", ":8080"], &[("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")]);
    let line = pf.wait_line("Forwarding from 127.0.0.1:", 30);
    let port: u16 = line.trim_start_matches("Forwarding from 127.0.0.1:").split_whitespace().next().unwrap().parse().unwrap();
    let body = http_get(port).unwrap();
    assert!(body.ends_with("hello-from-web\n"), "{body}");
    drop(pf);
    // A port nothing listens on: the error reaches kubectl, the session survives it.
    let mut pf = Background::start(&node, &["port-forward", "pod/web", ":9999"]);
    let line = pf.wait_line("Forwarding from 127.0.0.1:", 30);
    let port: u16 = line.trim_start_matches("Forwarding from 127.0.0.1:").split_whitespace().next().unwrap().parse().unwrap();
    let body = http_get(port).unwrap_or_default();
    assert!(!body.contains("hello-from-web"), "{body}");
    drop(pf);
    node.kubectl(&["delete", "pod", "web", "--wait=true", "--timeout=60s"], None);
}
