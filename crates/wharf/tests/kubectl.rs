//! End-to-end: the real kubectl against `wharf up`.

mod common;

use common::{eventually, Wharf};
use std::io::Read;
use std::process::{Command, Stdio};

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
        env:
        - {name: A, value: "1"}
"#;

#[test]
fn configmap_lifecycle_create_get_describe_delete() {
    let w = Wharf::start();
    let out = w.ok(&["create", "configmap", "settings", "--from-literal=a=1", "--from-literal=b=2"]);
    assert!(out.contains("configmap/settings created"), "{out}");
    let table = w.ok(&["get", "configmap", "settings"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "DATA", "AGE"], "{table}");
    let row: Vec<&str> = lines.next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(&row[..2], ["settings", "2"], "{table}");
    let json: serde_json::Value = serde_json::from_str(&w.ok(&["get", "cm", "settings", "-o", "json"])).expect("json");
    assert_eq!(json["data"]["b"], "2");
    assert!(json["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(json["metadata"]["resourceVersion"].as_str().is_some_and(|r| r.parse::<i64>().is_ok()));
    let described = w.ok(&["describe", "configmap", "settings"]);
    assert!(described.contains("Name:") && described.contains("settings"), "{described}");
    assert!(w.ok(&["delete", "configmap", "settings"]).contains("configmap \"settings\" deleted"));
    let err = w.fails(&["get", "configmap", "settings"]);
    assert!(err.contains("configmaps \"settings\" not found"), "{err}");
}

#[test]
fn apply_creates_then_reports_unchanged_then_configured() {
    let w = Wharf::start();
    let out = w.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let out = w.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    assert!(out.contains("deployment.apps/web unchanged"), "{out}");
    let changed = DEPLOYMENT.replace("replicas: 2", "replicas: 3");
    let diff = w.kubectl_stdin(&["diff", "-f", "-"], Some(&changed));
    assert_eq!(diff.status.code(), Some(1), "diff should report a change: {}", String::from_utf8_lossy(&diff.stderr));
    assert!(String::from_utf8_lossy(&diff.stdout).contains("replicas: 3"));
    let out = w.ok_stdin(&["apply", "-f", "-"], &changed);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let d: serde_json::Value = serde_json::from_str(&w.ok(&["get", "deploy", "web", "-o", "json"])).expect("json");
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["metadata"]["generation"], 2);
    // Kubernetes' defaults were applied.
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
}

#[test]
fn label_annotate_and_selectors_filter_lists() {
    let w = Wharf::start();
    for n in ["a", "b", "c"] {
        w.ok(&["create", "configmap", n]);
    }
    w.ok(&["label", "configmap", "a", "tier=front"]);
    w.ok(&["label", "configmap", "b", "tier=back"]);
    w.ok(&["annotate", "configmap", "c", "note=hello"]);
    let names = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["get", "configmaps", "-o", "jsonpath={.items[*].metadata.name}"];
        a.extend_from_slice(args);
        w.ok(&a).split_whitespace().map(str::to_string).filter(|n| n != "kube-root-ca.crt").collect()
    };
    assert_eq!(names(&["-l", "tier=front"]), ["a"]);
    assert_eq!(names(&["-l", "tier in (front,back)"]), ["a", "b"]);
    assert_eq!(names(&["-l", "!tier"]), ["c"]);
    assert_eq!(names(&["--field-selector", "metadata.name=b"]), ["b"]);
    let c: serde_json::Value = serde_json::from_str(&w.ok(&["get", "cm", "c", "-o", "json"])).expect("json");
    assert_eq!(c["metadata"]["annotations"]["note"], "hello");
    w.ok(&["label", "configmap", "a", "tier-"]);
    assert!(names(&["-l", "tier=front"]).is_empty());
    let err = w.fails(&["get", "configmaps", "--field-selector", "data.x=1"]);
    assert!(err.contains("field label not supported"), "{err}");
}

#[test]
fn patches_of_every_type_edit_a_deployment() {
    let w = Wharf::start();
    w.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    // Strategic merge: containers merge by name, env by name.
    w.ok(&["patch", "deployment", "web", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"B","value":"2"}]}]}}}}"#]);
    let d: serde_json::Value = serde_json::from_str(&w.ok(&["get", "deploy", "web", "-o", "json"])).expect("json");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "nginx:1.27");
    assert_eq!(c["env"].as_array().map(Vec::len), Some(2), "{c}");
    // JSON merge patch replaces the list.
    w.ok(&["patch", "deployment", "web", "--type=merge", "-p", r#"{"metadata":{"labels":{"patched":"merge"}}}"#]);
    // JSON patch.
    w.ok(&["patch", "deployment", "web", "--type=json", "-p", r#"[{"op":"replace","path":"/spec/replicas","value":5}]"#]);
    let d: serde_json::Value = serde_json::from_str(&w.ok(&["get", "deploy", "web", "-o", "json"])).expect("json");
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(d["metadata"]["labels"]["patched"], "merge");
    let err = w.fails(&["patch", "deployment", "web", "--type=json", "-p", r#"[{"op":"test","path":"/spec/replicas","value":1}]"#]);
    assert!(!err.is_empty());
    w.ok(&["scale", "deployment", "web", "--replicas=1"]);
    assert_eq!(w.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]), "1");
}

#[test]
fn get_watch_streams_every_change() {
    let w = Wharf::start();
    w.ok(&["create", "configmap", "watched"]);
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(w.kubeconfig())
        .args(["get", "configmaps", "--watch", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl watch");
    std::thread::sleep(std::time::Duration::from_millis(800));
    w.ok(&["create", "configmap", "second", "--from-literal=v=1"]);
    w.ok(&["patch", "configmap", "second", "-p", r#"{"data":{"w":"2"}}"#]);
    w.ok(&["delete", "configmap", "second"]);
    std::thread::sleep(std::time::Duration::from_millis(800));
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let mut out = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut out).expect("read");
    let _ = child.wait();
    // Rows are: EVENT NAME DATA AGE.
    let events: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()).filter(|c| c.get(1) == Some(&"second")).collect();
    assert_eq!(events.len(), 3, "{out}");
    assert_eq!(&events[0][..3], ["ADDED", "second", "1"], "{out}");
    assert_eq!(&events[1][..3], ["MODIFIED", "second", "2"], "{out}");
    assert_eq!(events[2][0], "DELETED", "{out}");
    assert!(out.lines().any(|l| l.starts_with("ADDED") && l.contains("watched")), "{out}");
}

#[test]
fn chunked_lists_return_every_object() {
    let w = Wharf::start();
    for i in 0..23 {
        w.ok(&["create", "configmap", &format!("cm-{i:02}")]);
    }
    let out = w.ok(&["get", "configmaps", "--chunk-size=5", "--no-headers"]);
    assert_eq!(out.lines().filter(|l| l.starts_with("cm-")).count(), 23, "{out}");
    let page: serde_json::Value = serde_json::from_str(&w.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps?limit=10"])).expect("json");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(10));
    let token = page["metadata"]["continue"].as_str().expect("continue token").to_string();
    let next: serde_json::Value = serde_json::from_str(&w.ok(&["get", "--raw", &format!("/api/v1/namespaces/default/configmaps?limit=10&continue={token}")])).expect("json");
    assert_eq!(next["items"][0]["metadata"]["name"], "cm-10");
}

#[test]
fn deleting_a_namespace_removes_its_contents() {
    let w = Wharf::start();
    w.ok(&["create", "namespace", "team"]);
    w.ok(&["create", "configmap", "x", "-n", "team"]);
    w.ok(&["create", "secret", "generic", "s", "-n", "team", "--from-literal=k=v"]);
    w.ok(&["delete", "namespace", "team", "--wait=false"]);
    eventually(20, "namespace team to disappear", || !w.kubectl(&["get", "namespace", "team"]).status.success());
    let err = w.fails(&["get", "configmap", "x", "-n", "team"]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn system_namespaces_and_discovery_are_served() {
    let w = Wharf::start();
    let ns = w.ok(&["get", "namespaces", "-o", "name"]);
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(ns.contains(&format!("namespace/{n}")), "{ns}");
    }
    let res = w.ok(&["api-resources", "--no-headers"]);
    for r in ["deployments", "customresourcedefinitions", "leases", "poddisruptionbudgets", "clusterrolebindings"] {
        assert!(res.contains(r), "{r} missing from api-resources: {res}");
    }
    let v = w.ok(&["version", "-o", "json"]);
    assert!(v.contains("\"minor\": \"32\""), "{v}");
}

#[test]
fn server_side_apply_tracks_managers_and_reports_conflicts() {
    let w = Wharf::start();
    let out = w.ok_stdin(&["apply", "--server-side", "-f", "-"], DEPLOYMENT);
    assert!(out.contains("deployment.apps/web serverside-applied"), "{out}");
    let d: serde_json::Value = serde_json::from_str(&w.ok(&["get", "deploy", "web", "-o", "json", "--show-managed-fields"])).expect("json");
    let mf = &d["metadata"]["managedFields"][0];
    assert_eq!((mf["manager"].as_str(), mf["operation"].as_str()), (Some("kubectl"), Some("Apply")), "{d}");
    assert!(mf["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"].is_object(), "{mf}");
    w.ok(&["patch", "deployment", "web", "--field-manager=ops", "--type=merge", "-p", r#"{"spec":{"replicas":7}}"#]);
    let o = w.kubectl_stdin(&["apply", "--server-side", "-f", "-"], Some(&DEPLOYMENT.replace("replicas: 2", "replicas: 4")));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("conflict with \"ops\"") && err.contains(".spec.replicas"), "{err}");
    w.ok_stdin(&["apply", "--server-side", "--force-conflicts", "-f", "-"], &DEPLOYMENT.replace("replicas: 2", "replicas: 4"));
    assert_eq!(w.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]), "4");
}

#[test]
fn explain_reads_the_published_schema() {
    let w = Wharf::start();
    let out = w.ok(&["explain", "deployment.spec.replicas"]);
    assert!(out.contains("KIND:") && out.contains("Deployment") && out.contains("replicas"), "{out}");
    let err = w.fails(&["explain", "deployment.spec.nonexistent"]);
    assert!(err.contains("nonexistent"), "{err}");
}

#[test]
fn strict_field_validation_rejects_unknown_fields() {
    let w = Wharf::start();
    let bad = DEPLOYMENT.replace("replicas: 2", "replicas: 2\n  replicass: 3");
    let o = w.kubectl_stdin(&["apply", "-f", "-"], Some(&bad));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("replicass"), "{err}");
    assert!(!w.kubectl(&["get", "deploy", "web"]).status.success());
}
