//! The scheduler placing pods on simulated nodes, observed through the real kubectl.

mod common;

use common::{eventually, Wharf};

fn nodes_ready(w: &Wharf, n: usize) {
    eventually(30, "simulated nodes registered", || {
        let out = w.ok(&["get", "nodes", "--no-headers"]);
        out.lines().filter(|l| l.contains(" Ready ")).count() == n
    });
}

fn node_of(w: &Wharf, pod: &str) -> String {
    w.ok(&["get", "pod", pod, "-o", "jsonpath={.spec.nodeName}"])
}

fn wait_bound(w: &Wharf, pod: &str) -> String {
    eventually(30, &format!("{pod} bound"), || !node_of(w, pod).is_empty());
    node_of(w, pod)
}

fn pod_yaml(name: &str, extra_spec: &str, cpu: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\nspec:\n{extra_spec}  containers:\n  - name: c\n    image: registry.example/app:1\n    resources:\n      requests:\n        cpu: \"{cpu}\"\n"
    )
}

#[test]
fn pods_are_placed_by_node_selector_and_taints_and_become_running() {
    let w = Wharf::start_flags(&["--simulated-nodes", "3"]);
    nodes_ready(&w, 3);
    w.ok(&["label", "node", "sim-1", "disk=ssd"]);
    w.ok(&["taint", "node", "sim-2", "dedicated=gpu:NoSchedule"]);
    w.ok_stdin(&["apply", "-f", "-"], &pod_yaml("ssd", "  nodeSelector:\n    disk: ssd\n", "100m"));
    assert_eq!(wait_bound(&w, "ssd"), "sim-1");
    for i in 0..6 {
        w.ok(&["run", &format!("plain-{i}"), "--image=registry.example/app:1"]);
    }
    for i in 0..6 {
        assert_ne!(wait_bound(&w, &format!("plain-{i}")), "sim-2", "untolerated taint must keep pods off sim-2");
    }
    let tolerating = "  nodeSelector:\n    kubernetes.io/hostname: sim-2\n  tolerations:\n  - key: dedicated\n    operator: Equal\n    value: gpu\n    effect: NoSchedule\n";
    w.ok_stdin(&["apply", "-f", "-"], &pod_yaml("gpu", tolerating, "100m"));
    assert_eq!(wait_bound(&w, "gpu"), "sim-2");
    w.ok(&["wait", "--for=condition=Ready", "pod/gpu", "pod/ssd", "--timeout=30s"]);
    let ip = w.ok(&["get", "pod", "gpu", "-o", "jsonpath={.status.podIP}"]);
    assert!(ip.starts_with("10."), "pod IP from the node's range, got {ip:?}");
}

#[test]
fn an_unschedulable_pod_reports_kubernetes_failed_scheduling_message() {
    let w = Wharf::start_flags(&["--simulated-nodes", "3"]);
    nodes_ready(&w, 3);
    w.ok(&["taint", "node", "sim-0", "dedicated=infra:NoSchedule"]);
    w.ok_stdin(&["apply", "-f", "-"], &pod_yaml("huge", "", "100"));
    eventually(30, "PodScheduled=False", || {
        w.ok(&["get", "pod", "huge", "-o", "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].reason}"]) == "Unschedulable"
    });
    let msg = w.ok(&["get", "pod", "huge", "-o", "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].message}"]);
    assert!(
        msg.starts_with("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, 2 Insufficient cpu."),
        "unexpected message: {msg}"
    );
    let events = w.ok(&["get", "events.v1.events.k8s.io", "-o", "jsonpath={range .items[*]}{.reason}:{.regarding.name}{\"\\n\"}{end}"]);
    assert!(events.lines().any(|l| l == "FailedScheduling:huge"), "no FailedScheduling event: {events}");
    eventually(10, "describe shows the event", || {
        let d = w.ok(&["describe", "pod", "huge"]);
        d.contains("Warning  FailedScheduling") && d.contains("default-scheduler") && d.contains("0/3 nodes are available")
    });
    // A node with room appears: the pod is retried and placed there.
    // A Ready node (with a fresh heartbeat, or node lifecycle taints it unreachable at once).
    let now = std::process::Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"]).output().expect("date");
    let now = String::from_utf8_lossy(&now.stdout).trim().to_string();
    let node = format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: big\n  labels:\n    kubernetes.io/hostname: big\nstatus:\n  capacity:\n    cpu: \"200\"\n    memory: 64Gi\n    pods: \"110\"\n  allocatable:\n    cpu: \"200\"\n    memory: 64Gi\n    pods: \"110\"\n  conditions:\n  - type: Ready\n    status: \"True\"\n    reason: KubeletReady\n    lastHeartbeatTime: \"{now}\"\n    lastTransitionTime: \"{now}\"\n");
    w.ok_stdin(&["create", "-f", "-"], &node);
    assert_eq!(wait_bound(&w, "huge"), "big");
}

#[test]
fn topology_spread_places_pods_evenly_across_three_zones() {
    let w = Wharf::start_flags(&["--simulated-nodes", "6"]);
    nodes_ready(&w, 6);
    let spread = "  topologySpreadConstraints:\n  - maxSkew: 1\n    topologyKey: topology.kubernetes.io/zone\n    whenUnsatisfiable: DoNotSchedule\n    labelSelector:\n      matchLabels:\n        tier: web\n";
    for i in 0..9 {
        let y = pod_yaml(&format!("web-{i}"), spread, "100m").replace("    app: web-", "    tier: web\n    app: web-");
        w.ok_stdin(&["apply", "-f", "-"], &y);
    }
    let mut per_zone = std::collections::BTreeMap::new();
    for i in 0..9 {
        let node = wait_bound(&w, &format!("web-{i}"));
        let zone = w.ok(&["get", "node", &node, "-o", "jsonpath={.metadata.labels.topology\\.kubernetes\\.io/zone}"]);
        *per_zone.entry(zone).or_insert(0) += 1;
    }
    assert_eq!(per_zone.values().copied().collect::<Vec<_>>(), vec![3, 3, 3], "{per_zone:?}");
}

#[test]
fn a_higher_priority_pod_preempts_a_lower_priority_one() {
    let w = Wharf::start_flags(&["--simulated-nodes", "2", "--simulated-node-cpu", "4"]);
    nodes_ready(&w, 2);
    w.ok_stdin(&["apply", "-f", "-"], "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: high\nvalue: 1000\n");
    for i in 0..2 {
        w.ok_stdin(&["apply", "-f", "-"], &pod_yaml(&format!("low-{i}"), "", "3"));
        wait_bound(&w, &format!("low-{i}"));
    }
    w.ok_stdin(&["apply", "-f", "-"], &pod_yaml("urgent", "  priorityClassName: high\n", "3"));
    assert_eq!(w.ok(&["get", "pod", "urgent", "-o", "jsonpath={.spec.priority}"]), "1000", "priority admission resolves the class");
    let node = wait_bound(&w, "urgent");
    let remaining = w.ok(&["get", "pods", "-o", "name"]);
    assert_eq!(remaining.lines().filter(|l| l.starts_with("pod/low-")).count(), 1, "exactly one victim: {remaining}");
    assert!(node.starts_with("sim-"));
    let bad = w.fails(&["run", "nope", "--image=x", "--overrides={\"spec\":{\"priorityClassName\":\"missing\"}}"]);
    assert!(bad.contains("no PriorityClass with name missing was found"), "{bad}");
}

#[test]
fn pods_for_another_scheduler_are_left_pending() {
    let w = Wharf::start_flags(&["--simulated-nodes", "1"]);
    nodes_ready(&w, 1);
    w.ok_stdin(&["apply", "-f", "-"], &pod_yaml("mine", "  schedulerName: my-scheduler\n", "100m"));
    w.ok(&["run", "theirs", "--image=registry.example/app:1"]);
    wait_bound(&w, "theirs");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(node_of(&w, "mine"), "", "a pod for another scheduler must not be bound");
    let lease = w.ok(&["get", "lease", "-n", "kube-system", "kube-scheduler", "-o", "jsonpath={.spec.holderIdentity}"]);
    assert!(lease.starts_with("wharf-"), "the scheduler leads through a Lease: {lease:?}");
}
