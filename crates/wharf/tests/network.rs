//! Pod networking across two real nodes (root only): `wharf up --nodes 2` puts each node agent in
//! its own VPC instance; a frontend pod on one node reaches backends spread over both nodes by
//! pod IP, through their Service by its cluster DNS name, and through a NodePort on the other
//! node — all driven with the real `kubectl` (including `kubectl exec`).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::eventually;
use common::images::{is_root, Node, Registry};

fn exec(node: &Node, pod: &str, script: &str) -> String {
    node.kubectl(&["exec", pod, "--", "sh", "-c", script], None)
}

/// Twenty `GET /` through `addr` from inside `pod`; the distinct bodies that came back.
fn backends_seen(node: &Node, pod: &str, host: &str, port: &str) -> BTreeSet<String> {
    let out = exec(node, pod, &format!("for i in $(seq 20); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc {host} {port}; echo; done"));
    out.lines().filter(|l| l.starts_with("backend-")).map(str::to_string).collect()
}

#[test]
fn a_frontend_reaches_backends_on_both_nodes_by_pod_ip_service_dns_name_and_nodeport() {
    if !is_root() {
        eprintln!("skipped: networking tests need root");
        return;
    }
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start_many(tmp.path(), &format!("127.0.0.1:{}", reg.port), 2);
    let img = reg.image();
    node.apply(&format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: backend}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: backend}}}}
  template:
    metadata: {{labels: {{app: backend}}}}
    spec:
      topologySpreadConstraints:
      - {{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {{matchLabels: {{app: backend}}}}}}
      containers:
      - name: httpd
        image: {img}
        command: ["sh", "-c", "mkdir -p /www && echo backend-$(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"]
        readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: backend}}
spec:
  type: NodePort
  selector: {{app: backend}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: frontend}}
spec:
  nodeSelector: {{kubernetes.io/hostname: wharf-node-1}}
  containers:
  - name: shell
    image: {img}
    command: ["sleep", "3600"]
"#
    ));
    eventually(120, "backends Ready on both nodes", || {
        node.get("pods", "{range .items[?(@.metadata.labels.app=='backend')]}{.spec.nodeName} {.status.conditions[?(@.type=='Ready')].status}{'\\n'}{end}")
            .lines()
            .filter(|l| l.ends_with(" True"))
            .map(|l| l.split(' ').next().unwrap_or_default().to_string())
            .collect::<BTreeSet<_>>()
            .len()
            == 2
    });
    eventually(90, "frontend Running", || node.get("pod/frontend", "{.status.phase}") == "Running");

    // Pod to pod across nodes: every backend answers on its VPC address.
    let ips = node.get("pods", "{range .items[?(@.metadata.labels.app=='backend')]}{.status.podIP} {end}");
    for ip in ips.split_whitespace() {
        let got = exec(&node, "frontend", &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc {ip} 8080"));
        assert!(got.contains("backend-"), "frontend → backend pod {ip}: {got}");
    }

    // Through the Service by its DNS name: resolved by cluster DNS (the pod's resolv.conf), and
    // both backends (one per node) answer behind the ClusterIP.
    let cluster_ip = node.get("svc/backend", "{.spec.clusterIP}");
    let lookup = exec(&node, "frontend", "nslookup backend.default.svc.cluster.local");
    assert!(lookup.contains(&cluster_ip), "cluster DNS resolves backend to {cluster_ip}: {lookup}");
    // (busybox's nslookup exits 1 when its AAAA question has no answer, hence `; true`.)
    let short = exec(&node, "frontend", "nslookup backend 2>&1; true");
    assert!(short.contains(&cluster_ip), "the search path resolves the short name: {short}");
    eventually(30, "both backends answer through the ClusterIP", || backends_seen(&node, "frontend", &cluster_ip, "80").len() == 2);

    // NodePort on the other node's address, from the frontend's node.
    let node_port = node.get("svc/backend", "{.spec.ports[0].nodePort}");
    let node0_ip = node.get("node/wharf-node-0", "{.status.addresses[?(@.type=='InternalIP')].address}");
    assert!(!backends_seen(&node, "frontend", &node0_ip, &node_port).is_empty(), "NodePort {node0_ip}:{node_port} answers from another node");

    // A deleted backend stops receiving traffic.
    node.kubectl(&["scale", "deployment/backend", "--replicas=1"], None);
    eventually(60, "one backend left behind the ClusterIP", || backends_seen(&node, "frontend", &cluster_ip, "80").len() == 1);
    node.kubectl(&["delete", "pod", "frontend", "--wait=true", "--timeout=60s"], None);
    node.kubectl(&["delete", "deployment", "backend", "--wait=true", "--timeout=60s"], None);
}
