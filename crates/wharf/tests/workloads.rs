//! Workload controllers over simulated nodes, driven by the real kubectl as on EKS.

mod common;

use common::{eventually, Wharf};

fn cluster(nodes: &str) -> Wharf {
    let w = Wharf::start_flags(&["--simulated-nodes", nodes]);
    let n: usize = nodes.parse().unwrap_or(0);
    eventually(30, "simulated nodes Ready", || w.ok(&["get", "nodes", "--no-headers"]).lines().filter(|l| l.contains(" Ready ")).count() == n);
    w
}

fn running_pods(w: &Wharf, selector: &str) -> usize {
    w.ok(&["get", "pods", "-l", selector, "--field-selector=status.phase=Running", "--no-headers"]).lines().count()
}

#[test]
fn deployment_create_scale_rollout_undo_and_restart_behave_as_on_eks() {
    let w = cluster("3");
    w.ok(&["create", "deployment", "web", "--image=registry.example/web:1", "--replicas=3"]);
    w.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert_eq!(running_pods(&w, "app=web"), 3);
    w.ok(&["scale", "deployment/web", "--replicas=5"]);
    w.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    eventually(30, "5 running", || running_pods(&w, "app=web") == 5);

    w.ok(&["set", "image", "deployment/web", "web=registry.example/web:2"]);
    w.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    let images = w.ok(&["get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}"]);
    eventually(30, "old pods gone", || {
        let images = w.ok(&["get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}"]);
        images.lines().count() == 5 && images.lines().all(|i| i == "registry.example/web:2")
    });
    assert!(!images.is_empty());
    let history = w.ok(&["rollout", "history", "deployment/web"]);
    assert!(history.contains("1 ") && history.contains("2 "), "two revisions expected:\n{history}");

    w.ok(&["rollout", "undo", "deployment/web"]);
    w.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    eventually(30, "rolled back to web:1", || {
        let images = w.ok(&["get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}"]);
        images.lines().count() == 5 && images.lines().all(|i| i == "registry.example/web:1")
    });
    assert_eq!(w.ok(&["get", "deployment", "web", "-o", "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}"]), "3");

    w.ok(&["rollout", "restart", "deployment/web"]);
    w.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    let conds = w.ok(&["get", "deployment", "web", "-o", "jsonpath={range .status.conditions[*]}{.type}={.reason}{\"\\n\"}{end}"]);
    assert!(conds.contains("Available=MinimumReplicasAvailable"), "{conds}");
    assert!(conds.contains("Progressing=NewReplicaSetAvailable"), "{conds}");
}

#[test]
fn a_rolling_update_never_drops_below_max_unavailable() {
    let w = cluster("3");
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 6\n  strategy:\n    rollingUpdate:\n      maxUnavailable: 1\n      maxSurge: 1\n  selector:\n    matchLabels:\n      app: api\n  template:\n    metadata:\n      labels:\n        app: api\n    spec:\n      containers:\n      - name: api\n        image: registry.example/api:1\n";
    w.ok_stdin(&["apply", "-f", "-"], deploy);
    w.ok(&["rollout", "status", "deployment/api", "--timeout=60s"]);
    w.ok(&["set", "image", "deployment/api", "api=registry.example/api:2"]);
    let mut min_available = usize::MAX;
    let mut max_total = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let pods = w.ok(&["get", "pods", "-l", "app=api", "-o", "jsonpath={range .items[*]}{.status.phase},{.metadata.deletionTimestamp},{.spec.containers[0].image}{\"\\n\"}{end}"]);
        let live: Vec<&str> = pods.lines().filter(|l| !l.is_empty()).collect();
        let ready = live.iter().filter(|l| l.starts_with("Running,,")).count();
        min_available = min_available.min(ready);
        max_total = max_total.max(live.iter().filter(|l| l.split(',').nth(1) == Some("")).count());
        if live.len() == 6 && live.iter().all(|l| l.starts_with("Running,,") && l.ends_with("api:2")) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "rollout did not finish:\n{pods}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(min_available >= 5, "available pods dropped to {min_available} (maxUnavailable 1 of 6)");
    assert!(max_total <= 7, "{max_total} pods at once (maxSurge 1 of 6)");
}

#[test]
fn a_job_completes_and_kubectl_wait_returns() {
    let w = cluster("2");
    w.ok(&["create", "job", "pi", "--image=registry.example/pi:1"]);
    w.ok(&["wait", "--for=condition=complete", "job/pi", "--timeout=60s"]);
    assert_eq!(w.ok(&["get", "job", "pi", "-o", "jsonpath={.status.succeeded}"]), "1");
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: many\nspec:\n  completions: 4\n  parallelism: 2\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: registry.example/pi:1\n";
    w.ok_stdin(&["apply", "-f", "-"], job);
    w.ok(&["wait", "--for=condition=complete", "job/many", "--timeout=60s"]);
    assert_eq!(w.ok(&["get", "job", "many", "-o", "jsonpath={.status.succeeded}"]), "4");
    let failing = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: broken\nspec:\n  backoffLimit: 1\n  template:\n    metadata:\n      annotations:\n        sim.wharf.dev/exit-code: \"1\"\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: registry.example/pi:1\n";
    w.ok_stdin(&["apply", "-f", "-"], failing);
    w.ok(&["wait", "--for=condition=failed", "job/broken", "--timeout=60s"]);
}

#[test]
fn deleting_a_deployment_cascades_and_orphan_keeps_pods() {
    let w = cluster("2");
    w.ok(&["create", "deployment", "gone", "--image=registry.example/x:1", "--replicas=2"]);
    w.ok(&["create", "deployment", "kept", "--image=registry.example/x:1", "--replicas=2"]);
    w.ok(&["rollout", "status", "deployment/gone", "--timeout=60s"]);
    w.ok(&["rollout", "status", "deployment/kept", "--timeout=60s"]);
    w.ok(&["delete", "deployment", "gone", "--cascade=foreground"]);
    eventually(30, "replica sets and pods of gone removed", || {
        w.ok(&["get", "rs,pods", "-l", "app=gone", "--no-headers", "--ignore-not-found"]).trim().is_empty()
    });
    w.ok(&["delete", "deployment", "kept", "--cascade=orphan"]);
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(w.ok(&["get", "pods", "-l", "app=kept", "--no-headers"]).lines().count(), 2, "orphaned pods must stay");
    let owners = w.ok(&["get", "rs", "-l", "app=kept", "-o", "jsonpath={.items[*].metadata.ownerReferences}"]);
    assert!(matches!(owners.trim(), "" | "[]"), "the orphaned ReplicaSet keeps no owner reference: {owners}");
}

#[test]
fn deleting_a_namespace_removes_its_workloads_and_the_default_service_account_appears() {
    let w = cluster("1");
    w.ok(&["create", "namespace", "team"]);
    eventually(20, "default service account", || w.kubectl(&["get", "serviceaccount", "default", "-n", "team"]).status.success());
    w.ok(&["create", "deployment", "app", "--image=registry.example/x:1", "--replicas=2", "-n", "team"]);
    w.ok(&["rollout", "status", "deployment/app", "-n", "team", "--timeout=60s"]);
    w.ok(&["delete", "namespace", "team", "--timeout=60s"]);
    assert!(!w.kubectl(&["get", "namespace", "team"]).status.success());
}

#[test]
fn pods_of_a_dead_node_are_evicted_and_recreated_elsewhere() {
    let w = Wharf::start_flags(&["--simulated-nodes", "2", "--simulated-node-heartbeat", "1s", "--node-monitor-grace-period", "4s"]);
    eventually(30, "simulated nodes Ready", || w.ok(&["get", "nodes", "--no-headers"]).lines().filter(|l| l.contains(" Ready ")).count() == 2);
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc\nspec:\n  replicas: 4\n  selector:\n    matchLabels:\n      app: svc\n  template:\n    metadata:\n      labels:\n        app: svc\n    spec:\n      tolerations:\n      - key: node.kubernetes.io/unreachable\n        operator: Exists\n        effect: NoExecute\n        tolerationSeconds: 2\n      containers:\n      - name: c\n        image: registry.example/x:1\n";
    w.ok_stdin(&["apply", "-f", "-"], deploy);
    w.ok(&["rollout", "status", "deployment/svc", "--timeout=60s"]);
    let on = |node: &str| {
        w.ok(&["get", "pods", "-l", "app=svc", "--field-selector", &format!("spec.nodeName={node},status.phase=Running"), "--no-headers"]).lines().count()
    };
    let victim = if on("sim-0") > 0 { "sim-0" } else { "sim-1" };
    let survivor = if victim == "sim-0" { "sim-1" } else { "sim-0" };
    w.ok(&["annotate", "node", victim, "sim.wharf.dev/stopped=true"]);
    eventually(60, "node NotReady", || w.ok(&["get", "node", victim, "--no-headers"]).contains("NotReady"));
    let taints = w.ok(&["get", "node", victim, "-o", "jsonpath={.spec.taints[*].key}"]);
    assert!(taints.contains("node.kubernetes.io/unreachable"), "{taints}");
    eventually(90, "all replicas running on the survivor", || on(survivor) >= 4);
}
