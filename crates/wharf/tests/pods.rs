//! End-to-end pods on a real node agent (root only): `wharf up --nodes 1` pulls a busybox image
//! from Debian's `docker-registry` on 127.0.0.1 (pushed with `skopeo`) and runs pods driven by the
//! real `kubectl`. Each test owns its registry, data directory and `wharf up` process; dropping
//! them stops `wharf up` gracefully (which stops the node's containers) and then kills by PID.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::eventually;
use common::images::{Node, Registry};

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
