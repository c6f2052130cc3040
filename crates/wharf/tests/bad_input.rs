//! Bad input gets a clear `metav1.Status` and loses nothing.

mod common;

use common::Wharf;

fn raw_create(w: &Wharf, path: &str, body: &str) -> String {
    let o = w.kubectl_stdin(&["create", "--raw", path, "-f", "-"], Some(body));
    assert!(!o.status.success(), "unexpected success for {body:.80}");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn malformed_json_is_a_bad_request() {
    let w = Wharf::start();
    let err = raw_create(&w, "/api/v1/namespaces/default/configmaps", "{\"kind\": \"ConfigMap\", ");
    assert!(err.contains("BadRequest") || err.contains("json"), "{err}");
}

#[test]
fn invalid_names_are_rejected_with_field_causes() {
    let w = Wharf::start();
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Not_Valid"}}"#;
    let err = raw_create(&w, "/api/v1/namespaces/default/configmaps", body);
    assert!(err.contains("is invalid") && err.contains("metadata.name"), "{err}");
    let o = w.kubectl(&["create", "configmap", "Bad_Name"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\""), "{err}");
}

#[test]
fn oversized_objects_are_refused_with_413() {
    let w = Wharf::start();
    let big = "x".repeat(4 * 1024 * 1024);
    let body = format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"k":"{big}"}}}}"#);
    let err = raw_create(&w, "/api/v1/namespaces/default/configmaps", &body);
    assert!(err.contains("too large") || err.contains("RequestEntityTooLarge") || err.contains("413"), "{err:.300}");
    assert!(!w.kubectl(&["get", "configmap", "big"]).status.success());
}

#[test]
fn wrong_token_is_unauthorized_and_a_conflicting_update_is_409() {
    let w = Wharf::start();
    let o = std::process::Command::new("kubectl")
        .args(["--server", &w.endpoint, "--certificate-authority"])
        .arg(w.ca_file())
        .args(["--token", "not-a-token", "get", "configmaps"])
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("You must be logged in to the server"), "{err}");
    let ok = std::process::Command::new("kubectl")
        .args(["--server", &w.endpoint, "--certificate-authority"])
        .arg(w.ca_file())
        .args(["--token", &w.admin_token(), "get", "namespaces", "default", "-o", "name"])
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    w.ok(&["create", "configmap", "c", "--from-literal=a=1"]);
    let mut cm: serde_json::Value = serde_json::from_str(&w.ok(&["get", "cm", "c", "-o", "json"])).expect("json");
    cm["metadata"]["resourceVersion"] = serde_json::json!("1");
    cm["data"]["a"] = serde_json::json!("2");
    let o = w.kubectl_stdin(&["replace", "-f", "-"], Some(&cm.to_string()));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("the object has been modified"), "{err}");
    assert_eq!(w.ok(&["get", "cm", "c", "-o", "jsonpath={.data.a}"]), "1");
}
