//! Kubernetes API semantics through the real kubectl: RBAC, finalizers, graceful pod
//! deletion, generateName, dry runs, subresources, custom resources, expired versions.

mod common;

use common::{eventually, Wharf};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).expect("json")
}

#[test]
fn rbac_forbids_until_a_role_binding_allows_and_reports_kubernetes_message() {
    let w = Wharf::start();
    let err = w.fails(&["--as=alice", "get", "configmaps"]);
    assert!(
        err.contains("configmaps is forbidden: User \"alice\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""),
        "{err}"
    );
    w.ok(&["create", "role", "cm-reader", "--verb=get,list,watch", "--resource=configmaps"]);
    w.ok(&["create", "rolebinding", "alice-reads", "--role=cm-reader", "--user=alice"]);
    w.ok(&["create", "configmap", "visible"]);
    eventually(10, "alice to be allowed", || w.kubectl(&["--as=alice", "get", "configmaps"]).status.success());
    let err = w.fails(&["--as=alice", "delete", "configmap", "visible"]);
    assert!(err.contains("cannot delete resource \"configmaps\""), "{err}");
    let err = w.fails(&["--as=alice", "get", "secrets", "-n", "kube-system"]);
    assert!(err.contains("in the namespace \"kube-system\""), "{err}");
    assert_eq!(w.ok(&["auth", "can-i", "--as=alice", "list", "configmaps"]).trim(), "yes");
}

#[test]
fn finalizers_hold_deletion_until_removed() {
    let w = Wharf::start();
    w.ok_stdin(&["create", "-f", "-"], r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","finalizers":["example.com/hold"]}}"#);
    w.ok(&["delete", "configmap", "held", "--wait=false"]);
    let cm = json(&w.ok(&["get", "configmap", "held", "-o", "json"]));
    assert!(cm["metadata"]["deletionTimestamp"].is_string(), "{cm}");
    w.ok(&["patch", "configmap", "held", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    eventually(10, "held to be deleted", || !w.kubectl(&["get", "configmap", "held"]).status.success());
}

#[test]
fn pods_on_a_node_are_deleted_gracefully_and_bindings_assign_nodes_once() {
    let w = Wharf::start();
    w.ok_stdin(&["create", "-f", "-"], r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}"#);
    let pod = json(&w.ok(&["get", "pod", "p", "-o", "json"]));
    assert_eq!(pod["status"]["phase"], "Pending");
    assert_eq!(pod["status"]["qosClass"], "BestEffort");
    assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Always");
    let binding = r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"apiVersion":"v1","kind":"Node","name":"node-1"}}"#;
    w.ok_stdin(&["create", "--raw", "/api/v1/namespaces/default/pods/p/binding", "-f", "-"], binding);
    assert_eq!(w.ok(&["get", "pod", "p", "-o", "jsonpath={.spec.nodeName}"]), "node-1");
    let again = w.kubectl_stdin(&["create", "--raw", "/api/v1/namespaces/default/pods/p/binding", "-f", "-"], Some(binding));
    assert!(!again.status.success(), "a second binding must conflict");
    w.ok(&["delete", "pod", "p", "--wait=false"]);
    let pod = json(&w.ok(&["get", "pod", "p", "-o", "json"]));
    assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 30, "{pod}");
    w.ok(&["delete", "pod", "p", "--grace-period=0", "--force"]);
    eventually(10, "pod p to be gone", || !w.kubectl(&["get", "pod", "p"]).status.success());
}

#[test]
fn generate_name_and_server_dry_run_behave_as_kubernetes() {
    let w = Wharf::start();
    let out = w.ok_stdin(&["create", "-f", "-", "-o", "name"], r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"job-"}}"#);
    let name = out.trim().trim_start_matches("configmap/");
    assert!(name.starts_with("job-") && name.len() == 9, "{out}");
    let out = w.ok(&["create", "configmap", "dry", "--dry-run=server", "-o", "json"]);
    assert_eq!(json(&out)["metadata"]["name"], "dry");
    assert!(!w.kubectl(&["get", "configmap", "dry"]).status.success(), "dry run must not persist");
}

#[test]
fn services_get_cluster_ips_and_node_ports() {
    let w = Wharf::start();
    w.ok(&["create", "service", "nodeport", "web", "--tcp=80:8080"]);
    let svc = json(&w.ok(&["get", "service", "web", "-o", "json"]));
    let ip = svc["spec"]["clusterIP"].as_str().unwrap_or_default();
    assert!(ip.starts_with("10.100."), "{svc}");
    let np = svc["spec"]["ports"][0]["nodePort"].as_i64().unwrap_or_default();
    assert!((30000..32768).contains(&np), "{svc}");
    let k = json(&w.ok(&["get", "service", "kubernetes", "-o", "json"]));
    assert_eq!(k["spec"]["clusterIP"], "10.100.0.1");
}

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
              color: {type: string, enum: [red, blue], default: red}
          status:
            type: object
            properties:
              ready: {type: boolean}
"#;

#[test]
fn custom_resources_are_served_validated_defaulted_and_printed() {
    let w = Wharf::start();
    w.ok_stdin(&["apply", "--validate=false", "-f", "-"], CRD);
    eventually(10, "widgets to be served", || w.kubectl(&["get", "widgets"]).status.success());
    w.ok_stdin(&["create", "--validate=false", "-f", "-"], r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},"spec":{"size":3}}"#);
    let wg = json(&w.ok(&["get", "wg", "w1", "-o", "json"]));
    assert_eq!(wg["spec"]["color"], "red", "schema default applied: {wg}");
    assert_eq!(wg["metadata"]["generation"], 1);
    let table = w.ok(&["get", "widgets"]);
    let header: Vec<&str> = table.lines().next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SIZE", "AGE"], "{table}");
    assert!(table.lines().nth(1).unwrap_or_default().split_whitespace().take(2).eq(["w1", "3"]), "{table}");
    let bad = w.kubectl_stdin(&["create", "--validate=false", "-f", "-"], Some(r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w2"},"spec":{"size":"big","color":"green"}}"#));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("spec.size") && err.contains("spec.color"), "{err}");
    // Status is its own subresource: the main resource ignores status, /status ignores spec.
    w.ok(&["patch", "widget", "w1", "--type=merge", "-p", r#"{"status":{"ready":true}}"#]);
    assert_eq!(w.ok(&["get", "widget", "w1", "-o", "jsonpath={.status.ready}"]), "");
    w.ok(&["patch", "widget", "w1", "--subresource=status", "--type=merge", "-p", r#"{"status":{"ready":true},"spec":{"size":9}}"#]);
    let wg = json(&w.ok(&["get", "widget", "w1", "-o", "json"]));
    assert_eq!((wg["status"]["ready"].clone(), wg["spec"]["size"].clone()), (serde_json::json!(true), serde_json::json!(3)));
    w.ok(&["delete", "crd", "widgets.example.com"]);
    eventually(10, "widgets to stop being served", || !w.kubectl(&["get", "widgets"]).status.success());
}

#[test]
fn versions_older_than_the_history_are_gone() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut w = Wharf::start_in(tmp.path());
    w.ok(&["create", "configmap", "a"]);
    let old_rv = json(&w.ok(&["get", "configmap", "a", "-o", "json"]))["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
    w.ok(&["label", "configmap", "a", "x=1"]);
    w.stop();
    // A restarted server's watch cache starts at its current revision.
    let w = Wharf::start_in(tmp.path());
    let out = w.ok(&["get", "--raw", &format!("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={old_rv}&timeoutSeconds=2")]);
    assert!(out.contains("\"type\":\"ERROR\"") && out.contains("\"code\":410"), "{out}");
}
