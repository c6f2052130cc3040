//! End-to-end pods on a real node agent (root only): `wharf up --nodes 1` pulls a busybox image
//! from Debian's `docker-registry` on 127.0.0.1 (pushed with `skopeo`) and runs pods driven by the
//! real `kubectl`. Each test owns its registry, data directory and `wharf up` process; dropping
//! them stops `wharf up` gracefully (which stops the node's containers) and then kills by PID.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::eventually;
use common::images::{busybox_layout, Node, Registry};
use std::process::Command;

fn setup() -> (Registry, tempfile::TempDir, Node) {
    assert!(std::fs::read_to_string("/proc/self/status").unwrap().lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")), "pod tests need root");
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start(tmp.path(), &format!("127.0.0.1:{}", reg.port));
    (reg, tmp, node)
}

#[test]
fn pod_should_run_init_containers_env_and_volumes_then_complete_with_its_exit_code() {
    let (reg, _tmp, node) = setup();
    let img = reg.image();
    node.apply(&format!(
        r#"
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings}}
data: {{color: blue, size: large}}
---
apiVersion: v1
kind: Secret
metadata: {{name: creds}}
stringData: {{password: s3cret}}
---
apiVersion: v1
kind: Pod
metadata: {{name: job, labels: {{app: demo}}}}
spec:
  restartPolicy: Never
  initContainers:
  - name: prepare
    image: {img}
    command: ["sh", "-c", "echo from-init > /work/init.txt"]
    volumeMounts: [{{name: work, mountPath: /work}}]
  containers:
  - name: main
    image: {img}
    command: ["sh", "-c"]
    args: ["echo color=$COLOR pw=$PASSWORD pod=$POD_NAME img=$FROM_IMAGE dir=$(pwd); cat /work/init.txt /cfg/color /sec/password; echo; exit 3"]
    env:
    - {{name: COLOR, valueFrom: {{configMapKeyRef: {{name: settings, key: color}}}}}}
    - {{name: PASSWORD, valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}}}
    - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
    volumeMounts:
    - {{name: work, mountPath: /work}}
    - {{name: cfg, mountPath: /cfg}}
    - {{name: sec, mountPath: /sec}}
  volumes:
  - {{name: work, emptyDir: {{}}}}
  - {{name: cfg, configMap: {{name: settings}}}}
  - {{name: sec, secret: {{secretName: creds, defaultMode: 0400}}}}
"#
    ));
    eventually(90, "pod job Failed", || node.get("pod/job", "{.status.phase}") == "Failed");
    assert_eq!(node.get("pod/job", "{.status.containerStatuses[0].state.terminated.exitCode}"), "3");
    assert_eq!(node.get("pod/job", "{.status.containerStatuses[0].state.terminated.reason}"), "Error");
    assert_eq!(node.get("pod/job", "{.status.initContainerStatuses[0].state.terminated.exitCode}"), "0");
    assert!(node.get("pod/job", "{.status.containerStatuses[0].imageID}").contains("sha256:"));
    let log = node.pod_log("job", "main", 0);
    assert!(log.contains("color=blue pw=s3cret pod=job img=yes dir=/tmp"), "log: {log}");
    assert!(log.contains("from-init"), "log: {log}");
    assert!(log.contains(" stdout F blue"), "CRI log format: {log}");
    assert!(log.contains("s3cret"), "log: {log}");
    assert_eq!(node.get("pod/job", "{.status.qosClass}"), "BestEffort");
    node.kubectl(&["delete", "pod", "job", "--wait=true", "--timeout=60s"], None);
}

#[test]
fn oom_liveness_and_readiness_should_show_in_container_statuses() {
    let (reg, _tmp, node) = setup();
    let img = reg.image();
    node.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: hog}}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: {img}
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"]
    resources: {{limits: {{memory: 32Mi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: sick}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {img}
    command: ["sleep", "3600"]
    livenessProbe: {{exec: {{command: ["test", "-f", "/nonexistent"]}}, periodSeconds: 1, failureThreshold: 1}}
---
apiVersion: v1
kind: Pod
metadata: {{name: slow}}
spec:
  containers:
  - name: app
    image: {img}
    command: ["sh", "-c", "sleep 4; touch /tmp/ready; sleep 3600"]
    readinessProbe: {{exec: {{command: ["test", "-f", "/tmp/ready"]}}, periodSeconds: 1}}
"#
    ));
    eventually(90, "hog OOMKilled", || node.get("pod/hog", "{.status.containerStatuses[0].state.terminated.reason}") == "OOMKilled");
    assert_eq!(node.get("pod/hog", "{.status.phase}"), "Failed");
    eventually(60, "slow Running", || node.get("pod/slow", "{.status.phase}") == "Running");
    assert_eq!(node.get("pod/slow", "{.status.conditions[?(@.type=='Ready')].status}"), "False", "not ready before the file exists");
    eventually(60, "slow Ready", || node.get("pod/slow", "{.status.conditions[?(@.type=='Ready')].status}") == "True");
    eventually(90, "sick restarted by its liveness probe", || {
        node.get("pod/sick", "{.status.containerStatuses[0].restartCount}").parse::<u32>().unwrap_or(0) >= 1
    });
    assert_eq!(node.get("pod/sick", "{.status.containerStatuses[0].lastState.terminated.exitCode}"), "137");
    node.kubectl(&["delete", "pod", "hog", "sick", "slow", "--wait=true", "--timeout=60s"], None);
}

#[test]
fn deletion_should_send_sigterm_and_a_restarted_agent_should_readopt_running_containers() {
    let (reg, _tmp, mut node) = setup();
    let img = reg.image();
    node.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: graceful}}
spec:
  terminationGracePeriodSeconds: 20
  containers:
  - name: app
    image: {img}
    command: ["sh", "-c", "trap 'echo got-term; exit 0' TERM; echo started; while true; do sleep 1; done"]
---
apiVersion: v1
kind: Pod
metadata: {{name: survivor}}
spec:
  containers:
  - name: app
    image: {img}
    command: ["sleep", "3600"]
"#
    ));
    eventually(90, "pods Running", || {
        node.get("pod/graceful", "{.status.containerStatuses[0].state.running.startedAt}") != ""
            && node.get("pod/survivor", "{.status.containerStatuses[0].state.running.startedAt}") != ""
    });
    let id = node.get("pod/survivor", "{.status.containerStatuses[0].containerID}");
    assert!(!id.is_empty());

    // The whole `wharf up` (and with it the agent) dies; containers keep running under their shims.
    node.kill9();
    node.launch();
    std::thread::sleep(Duration::from_secs(3));
    eventually(30, "survivor re-adopted", || node.get("pod/survivor", "{.status.containerStatuses[0].state.running.startedAt}") != "");
    assert_eq!(node.get("pod/survivor", "{.status.containerStatuses[0].containerID}"), id, "same container after the restart");
    assert_eq!(node.get("pod/survivor", "{.status.containerStatuses[0].restartCount}"), "0");

    let started = Instant::now();
    node.kubectl(&["delete", "pod", "graceful", "--wait=true", "--timeout=60s"], None);
    assert!(started.elapsed() < Duration::from_secs(15), "the container exited on SIGTERM, well before its grace period");
    let logs_root = node.dir.join("nodes/wharf-node-0/logs");
    let log: String = std::fs::read_dir(&logs_root)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("default_graceful_"))
        .map(|e| std::fs::read_to_string(e.path().join("app/0.log")).unwrap_or_default())
        .collect();
    assert!(log.contains("got-term"), "SIGTERM reached the container: {log}");
    node.kubectl(&["delete", "pod", "survivor", "--wait=true", "--timeout=60s"], None);
    node.stop();
    assert_eq!(node.shim_processes(), 0, "no shim or pause process is left");
}

#[test]
fn pods_should_get_vpc_addresses_from_their_node_and_reach_each_other_and_the_host() {
    let (reg, _tmp, node) = setup();
    let img = reg.image();
    node.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: web, labels: {{app: web}}}}
spec:
  containers:
  - name: httpd
    image: {img}
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
"#
    ));
    eventually(90, "pod web Running with an IP", || node.get("pod/web", "{.status.phase}") == "Running" && !node.get("pod/web", "{.status.podIP}").is_empty());
    let ip: std::net::Ipv4Addr = node.get("pod/web", "{.status.podIP}").parse().expect("podIP is an IPv4 address");
    let host_ip: std::net::Ipv4Addr = node.get("pod/web", "{.status.hostIP}").parse().expect("hostIP is an IPv4 address");
    let vpc: Vec<u8> = node.vpc_cidr.split(['.', '/']).filter_map(|p| p.parse().ok()).collect();
    assert_eq!(&ip.octets()[..2], &vpc[..2], "pod IP {ip} comes from the VPC {}", node.vpc_cidr);
    assert_eq!(&host_ip.octets()[..2], &vpc[..2], "node IP {host_ip} is in the VPC {}", node.vpc_cidr);
    assert_ne!(ip, host_ip);
    assert_eq!(node.get("pod/web", "{.status.podIPs[0].ip}"), ip.to_string());

    // The host reaches the pod on its VPC address (the VPC bridge is on-link).
    eventually(30, "host reaches the pod's httpd", || http_get((ip, 8080).into()).contains("hello-from-web"));

    let dns = node.kubectl(&["get", "-n", "kube-system", "svc/kube-dns", "-o", "jsonpath={.spec.clusterIP}"], None);
    assert_eq!(dns, "10.100.0.10", "kube-dns at the conventional address");
    // A LoadBalancer Service in front of it: ClusterIP, NodePort and the published ingress address.
    node.apply(
        r#"
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
"#,
    );
    eventually(30, "LoadBalancer ingress published", || !node.get("svc/web", "{.status.loadBalancer.ingress[0].ip}").is_empty());
    let cluster_ip = node.get("svc/web", "{.spec.clusterIP}");
    let node_port: u16 = node.get("svc/web", "{.spec.ports[0].nodePort}").parse().expect("nodePort allocated");
    let lb_ip: std::net::Ipv4Addr = node.get("svc/web", "{.status.loadBalancer.ingress[0].ip}").parse().expect("ingress IP");
    assert_eq!(lb_ip, host_ip, "servicelb publishes the node's address");
    for (what, addr) in [("NodePort", std::net::SocketAddr::from((host_ip, node_port))), ("LoadBalancer", (lb_ip, 80).into())] {
        eventually(30, &format!("host reaches the pod through the {what} {addr}"), || http_get(addr).contains("hello-from-web"));
    }

    // Another pod reaches it pod-to-pod, and through the Service by its DNS name.
    node.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  restartPolicy: Never
  containers:
  - name: fetch
    image: {img}
    # busybox's wget crashes in a static binary without NSS modules; nc speaks HTTP/1.0 fine.
    command: ["sh", "-c", "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc {ip} 8080 && nslookup web.default.svc.cluster.local {dns} && printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc {cluster_ip} 80"]
"#
    ));
    eventually(90, "pod client Succeeded", || node.get("pod/client", "{.status.phase}") == "Succeeded");
    let log = node.pod_log("client", "fetch", 0);
    assert_eq!(log.matches("hello-from-web").count(), 2, "pod IP and ClusterIP both answer: {log}");
    assert!(log.contains(&format!("Address: {cluster_ip}")) || log.contains(&format!("Address 1: {cluster_ip}")), "cluster DNS resolves the Service: {log}");
    let client_ip = node.get("pod/client", "{.status.podIP}");
    assert!(!client_ip.is_empty() && client_ip != ip.to_string(), "client has its own address: {client_ip}");

    // Deleting the pod releases its address: the host no longer reaches it.
    node.kubectl(&["delete", "svc", "web"], None);
    node.kubectl(&["delete", "pod", "web", "--wait=true", "--timeout=60s"], None);
    eventually(30, "the deleted pod's address is unreachable", || std::net::TcpStream::connect_timeout(&(ip, 8080).into(), Duration::from_millis(500)).is_err());
    node.kubectl(&["delete", "pod", "client", "--wait=true", "--timeout=60s"], None);
}

/// `GET /index.html` over HTTP/1.0; the whole response, or "" when the connection fails.
fn http_get(addr: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else { return String::new() };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut got = String::new();
    if s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").is_err() || s.read_to_string(&mut got).is_err() {
        return String::new();
    }
    got
}

/// Runs the real aws CLI with the variables of `DIR/aws.env` (and no config files).
fn aws(node: &Node, args: &[&str]) -> String {
    let env = std::fs::read_to_string(node.dir.join("aws.env")).expect("aws.env written on start");
    let mut cmd = Command::new("aws");
    cmd.env("AWS_CONFIG_FILE", "/dev/null").env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null").env("AWS_EC2_METADATA_DISABLED", "true");
    for line in env.lines() {
        if let Some((k, v)) = line.trim().trim_start_matches("export ").split_once('=') {
            cmd.env(k, v.trim_matches(|c| c == '"' || c == '\''));
        }
    }
    let o = cmd.args(args).output().expect("the aws CLI is installed");
    assert!(o.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn an_image_pushed_to_ecr_with_the_aws_cli_and_skopeo_runs_as_a_pod() {
    let (_reg, tmp, node) = setup();
    let uri = aws(&node, &["ecr", "create-repository", "--repository-name", "team/demo", "--query", "repository.repositoryUri", "--output", "text"]);
    let password = aws(&node, &["ecr", "get-login-password"]);
    let layout = tmp.path().join("demo-layout");
    busybox_layout(&layout);
    let certs = tmp.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(node.dir.join("clusters/default/pki/ca.crt"), certs.join("ca.crt")).unwrap();
    let out = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-creds", &format!("AWS:{password}"), "--dest-cert-dir"])
        .arg(&certs)
        .arg(format!("oci:{}:1", layout.display()))
        .arg(format!("docker://{uri}:v1"))
        .output()
        .expect("skopeo is installed");
    assert!(out.status.success(), "skopeo push to ECR failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(aws(&node, &["ecr", "list-images", "--repository-name", "team/demo", "--query", "imageIds[0].imageTag", "--output", "text"]), "v1");

    // No imagePullSecrets: the node pulls from Wharf's ECR with its own credential, over TLS
    // trusting the cluster CA.
    node.apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: from-ecr}}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: {uri}:v1
    command: ["sh", "-c", "echo ran-from-ecr"]
"#
    ));
    eventually(90, "pod from-ecr Succeeded", || node.get("pod/from-ecr", "{.status.phase}") == "Succeeded");
    assert!(node.pod_log("from-ecr", "main", 0).contains("ran-from-ecr"));
    assert!(node.get("pod/from-ecr", "{.status.containerStatuses[0].imageID}").contains("sha256:"));
    node.kubectl(&["delete", "pod", "from-ecr", "--wait=true", "--timeout=60s"], None);
}
