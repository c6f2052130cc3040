//! Tests of server-side apply and managedFields tracking.

use serde_json::json;

use super::*;

const T1: &str = "2024-01-01T00:00:00Z";
const T2: &str = "2024-01-01T00:01:00Z";
const T3: &str = "2024-01-01T00:02:00Z";

fn deployments() -> ListSchema<'static> {
    ListSchema::new("apps", "Deployment").with_status_subresource(true)
}

fn apply_deployment(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    server_side_apply(live, config, manager, force, "apps/v1", &deployments(), now, None)
}

fn update_deployment(old: Option<&Value>, new: &Value, manager: &str, now: &str) -> Value {
    let mut new = new.clone();
    track_update(old, &mut new, manager, "apps/v1", &deployments(), now, None);
    new
}

/// A small nginx Deployment as `kubectl apply --server-side` sends it.
fn nginx(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]}
            }
        }
    })
}

fn managed_fields(obj: &Value) -> Vec<Value> {
    obj["metadata"]["managedFields"].as_array().cloned().unwrap_or_default()
}

/// The entry of `manager` with `operation`, if any.
fn entry(obj: &Value, manager: &str, operation: &str) -> Option<Value> {
    managed_fields(obj).into_iter().find(|e| e["manager"] == manager && e["operation"] == operation)
}

fn fields(obj: &Value, manager: &str, operation: &str) -> Value {
    entry(obj, manager, operation).map(|e| e["fieldsV1"].clone()).unwrap_or(Value::Null)
}

fn conflicts(result: Result<Value, ApplyError>) -> (String, Vec<Conflict>) {
    match result {
        Err(ApplyError::Conflicts { message, conflicts }) => (message, conflicts),
        other => panic!("expected conflicts, got {other:?}"),
    }
}

fn invalid(result: Result<Value, ApplyError>) -> String {
    match result {
        Err(ApplyError::Invalid(message)) => message,
        other => panic!("expected an invalid configuration, got {other:?}"),
    }
}

fn ok(result: Result<Value, ApplyError>) -> Value {
    match result {
        Ok(v) => v,
        Err(e) => panic!("apply failed: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The FieldsV1 Kubernetes records
// ---------------------------------------------------------------------------------------------

#[test]
fn applying_a_small_deployment_records_the_fields_v1_kubernetes_records() {
    let created = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    let expected = json!([{
        "manager": "kubectl",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "time": T1,
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                    }}}
                }
            }
        }
    }]);
    // Same members in the same order, as Kubernetes serializes them.
    assert_eq!(
        serde_json::to_string(&created["metadata"]["managedFields"]).ok(),
        serde_json::to_string(&expected).ok()
    );
    // The object itself is the configuration (the registry defaults it afterwards).
    assert_eq!(created["spec"]["replicas"], 3);
    assert_eq!(created["spec"]["template"]["spec"]["containers"][0]["ports"], json!([{"containerPort": 80}]));
}

/// The Deployment `kubectl create` (client-side apply) stores once defaulted.
fn defaulted_nginx(replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "nginx", "namespace": "default", "uid": "6b6b", "resourceVersion": "1", "generation": 1,
            "creationTimestamp": T1,
            "labels": {"app": "nginx"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"creationTimestamp": null, "labels": {"app": "nginx"}},
                "spec": {
                    "containers": [{
                        "name": "nginx", "image": "nginx:1.14.2",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "resources": {},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                        "imagePullPolicy": "IfNotPresent"
                    }],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "securityContext": {},
                    "schedulerName": "default-scheduler"
                }
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600
        },
        "status": {}
    })
}

#[test]
fn creating_a_deployment_records_the_update_fields_v1_kubernetes_records() {
    let created = update_deployment(None, &defaulted_nginx(1), "kubectl-client-side-apply", T1);
    let expected = json!([{
        "manager": "kubectl-client-side-apply",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "time": T1,
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {
                "f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}},
                "f:labels": {".": {}, "f:app": {}}
            },
            "f:spec": {
                "f:progressDeadlineSeconds": {},
                "f:replicas": {},
                "f:revisionHistoryLimit": {},
                "f:selector": {},
                "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
                "f:template": {
                    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {
                        "f:containers": {"k:{\"name\":\"nginx\"}": {
                            ".": {},
                            "f:image": {},
                            "f:imagePullPolicy": {},
                            "f:name": {},
                            "f:ports": {
                                ".": {},
                                "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}}
                            },
                            "f:resources": {},
                            "f:terminationMessagePath": {},
                            "f:terminationMessagePolicy": {}
                        }},
                        "f:dnsPolicy": {},
                        "f:restartPolicy": {},
                        "f:schedulerName": {},
                        "f:securityContext": {},
                        "f:terminationGracePeriodSeconds": {}
                    }
                }
            }
        }
    }]);
    assert_eq!(
        serde_json::to_string(&created["metadata"]["managedFields"]).ok(),
        serde_json::to_string(&expected).ok()
    );
}

// ---------------------------------------------------------------------------------------------
// Apply
// ---------------------------------------------------------------------------------------------

#[test]
fn applying_the_same_configuration_twice_changes_nothing() {
    let first = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    let second = ok(apply_deployment(Some(&first), &nginx(3, "nginx:1.14.2"), "kubectl", false, T2));
    assert_eq!(second, first);
    assert_eq!(entry(&second, "kubectl", "Apply").map(|e| e["time"].clone()), Some(json!(T1)));
}

#[test]
fn applying_a_changed_configuration_bumps_the_entry_time() {
    let first = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    let second = ok(apply_deployment(Some(&first), &nginx(3, "nginx:1.16.1"), "kubectl", false, T2));
    assert_eq!(second["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.16.1");
    assert_eq!(entry(&second, "kubectl", "Apply").map(|e| e["time"].clone()), Some(json!(T2)));
    assert_eq!(managed_fields(&second).len(), 1);
}

#[test]
fn apply_conflicts_with_a_field_another_manager_set() {
    let live = update_deployment(None, &defaulted_nginx(1), "kubectl-client-side-apply", T1);
    let mut config = nginx(3, "nginx:1.14.2");
    config["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
    let (message, list) = conflicts(apply_deployment(Some(&live), &config, "kubectl", false, T2));
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    assert_eq!(
        list,
        vec![Conflict {
            manager: "kubectl-client-side-apply".into(),
            field: ".spec.replicas".into(),
            operation: "Update".into(),
            api_version: "apps/v1".into(),
            subresource: None,
        }]
    );

    let err = ApplyError::Conflicts { message, conflicts: list };
    assert_eq!(err.status_code(), 409);
    let status = err.status();
    assert_eq!(status["code"], 409);
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(status["status"], "Failure");
    assert_eq!(
        status["details"]["causes"],
        json!([{
            "reason": "FieldManagerConflict",
            "message": "conflict with \"kubectl-client-side-apply\" using apps/v1",
            "field": ".spec.replicas"
        }])
    );
}

#[test]
fn applying_the_value_another_manager_set_shares_ownership_without_conflict() {
    let live = update_deployment(None, &defaulted_nginx(3), "kubectl-client-side-apply", T1);
    let applied = ok(apply_deployment(Some(&live), &nginx(3, "nginx:1.14.2"), "kubectl", false, T2));
    assert_eq!(fields(&applied, "kubectl", "Apply")["f:spec"]["f:replicas"], json!({}));
    assert_eq!(fields(&applied, "kubectl-client-side-apply", "Update")["f:spec"]["f:replicas"], json!({}));
    // Nothing changed, so the new entry has no time, as in Kubernetes.
    assert_eq!(entry(&applied, "kubectl", "Apply").and_then(|e| e.get("time").cloned()), None);
    assert_eq!(applied["spec"], live["spec"]);
}

#[test]
fn force_apply_takes_ownership() {
    let live = update_deployment(None, &defaulted_nginx(1), "kubectl-client-side-apply", T1);
    let applied = ok(apply_deployment(Some(&live), &nginx(3, "nginx:1.14.2"), "kubectl", true, T2));
    assert_eq!(applied["spec"]["replicas"], 3);
    assert_eq!(fields(&applied, "kubectl", "Apply")["f:spec"]["f:replicas"], json!({}));
    let other = fields(&applied, "kubectl-client-side-apply", "Update");
    assert_eq!(other["f:spec"].get("f:replicas"), None);
    // The other manager keeps what it did not lose.
    assert_eq!(other["f:spec"]["f:revisionHistoryLimit"], json!({}));
    // Apply entries come before Update entries.
    assert_eq!(managed_fields(&applied)[0]["operation"], "Apply");
}

#[test]
fn an_entry_left_without_fields_is_removed() {
    let mut scaled = nginx(3, "nginx:1.14.2");
    scaled["spec"]["replicas"] = json!(3);
    let live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    let mut autoscaled = live.clone();
    autoscaled["spec"]["replicas"] = json!(5);
    let autoscaled = update_deployment(Some(&live), &autoscaled, "hpa", T2);
    assert_eq!(fields(&autoscaled, "hpa", "Update"), json!({"f:spec": {"f:replicas": {}}}));
    let taken = ok(apply_deployment(Some(&autoscaled), &scaled, "kubectl", true, T3));
    assert_eq!(entry(&taken, "hpa", "Update"), None);
    assert_eq!(taken["spec"]["replicas"], 3);
}

#[test]
fn conflicting_with_another_applier_names_it_without_api_version() {
    let live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "alice", false, T1));
    let (message, list) = conflicts(apply_deployment(Some(&live), &nginx(3, "nginx:1.16.1"), "bob", false, T2));
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"alice\": .spec.template.spec.containers[name=\"nginx\"].image"
    );
    assert_eq!(list[0].cause_message(), "conflict with \"alice\"");
    assert_eq!(list[0].operation, "Apply");
    assert_eq!(list[0].api_version, "apps/v1");
}

#[test]
fn multiple_conflicts_are_grouped_by_manager_in_the_message() {
    let live = update_deployment(None, &defaulted_nginx(1), "kubectl-client-side-apply", T1);
    let mut config = nginx(3, "nginx:1.16.1");
    config["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
    let (message, list) = conflicts(apply_deployment(Some(&live), &config, "kubectl", false, T2));
    assert_eq!(
        message,
        "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image"
    );
    assert_eq!(list.len(), 2);
}

#[test]
fn removing_a_field_from_the_applied_config_deletes_it_when_solely_owned() {
    let mut config = nginx(3, "nginx:1.14.2");
    config["metadata"]["labels"]["tier"] = json!("web");
    let live = ok(apply_deployment(None, &config, "kubectl", false, T1));
    assert_eq!(live["metadata"]["labels"]["tier"], "web");
    let applied = ok(apply_deployment(Some(&live), &nginx(3, "nginx:1.14.2"), "kubectl", false, T2));
    assert_eq!(applied["metadata"]["labels"], json!({"app": "nginx"}));
    assert_eq!(fields(&applied, "kubectl", "Apply")["f:metadata"], json!({"f:labels": {"f:app": {}}}));
}

#[test]
fn removing_a_field_from_the_applied_config_keeps_it_when_another_manager_owns_it() {
    let mut config = nginx(3, "nginx:1.14.2");
    config["metadata"]["labels"]["tier"] = json!("web");
    let live = ok(apply_deployment(None, &config, "alice", false, T1));
    let shared = ok(apply_deployment(
        Some(&live),
        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx", "labels": {"tier": "web"}}}),
        "bob",
        false,
        T2,
    ));
    let applied = ok(apply_deployment(Some(&shared), &nginx(3, "nginx:1.14.2"), "alice", false, T3));
    assert_eq!(applied["metadata"]["labels"]["tier"], "web");
    assert_eq!(fields(&applied, "bob", "Apply"), json!({"f:metadata": {"f:labels": {"f:tier": {}}}}));
    assert_eq!(fields(&applied, "alice", "Apply")["f:metadata"], json!({"f:labels": {"f:app": {}}}));
}

#[test]
fn removing_a_field_another_manager_updated_keeps_it() {
    let live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    let mut labelled = live.clone();
    labelled["metadata"]["labels"]["team"] = json!("a");
    let labelled = update_deployment(Some(&live), &labelled, "kubectl-label", T2);
    let mut config = nginx(3, "nginx:1.14.2");
    config["metadata"]["labels"]["team"] = json!("a");
    let both = ok(apply_deployment(Some(&labelled), &config, "kubectl", false, T3));
    let dropped = ok(apply_deployment(Some(&both), &nginx(3, "nginx:1.14.2"), "kubectl", false, T3));
    assert_eq!(dropped["metadata"]["labels"]["team"], "a");
}

#[test]
fn containers_merge_by_name_under_apply() {
    let live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    let sidecar = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx"},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "envoy:1"}]}}}
    });
    let merged = ok(apply_deployment(Some(&live), &sidecar, "istio", false, T2));
    let containers = &merged["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().map(Vec::len), Some(2));
    assert_eq!(containers[0]["name"], "nginx");
    assert_eq!(containers[0]["image"], "nginx:1.14.2");
    assert_eq!(containers[1]["name"], "sidecar");
    assert_eq!(
        fields(&merged, "istio", "Apply"),
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"sidecar\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}})
    );
    // The first applier keeps its container; dropping the sidecar is not its business.
    let reapplied = ok(apply_deployment(Some(&merged), &nginx(3, "nginx:1.14.2"), "kubectl", false, T3));
    assert_eq!(reapplied["spec"]["template"]["spec"]["containers"].as_array().map(Vec::len), Some(2));
}

#[test]
fn an_applier_that_stops_applying_a_list_item_removes_it() {
    let mut two = nginx(3, "nginx:1.14.2");
    if let Some(containers) = two["spec"]["template"]["spec"]["containers"].as_array_mut() {
        containers.push(json!({"name": "sidecar", "image": "envoy:1"}));
    }
    let live = ok(apply_deployment(None, &two, "kubectl", false, T1));
    let one = ok(apply_deployment(Some(&live), &nginx(3, "nginx:1.14.2"), "kubectl", false, T2));
    let containers = &one["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().map(Vec::len), Some(1));
    assert_eq!(containers[0]["name"], "nginx");
}

#[test]
fn a_new_applied_item_is_placed_where_the_configuration_puts_it() {
    let env = |names: &[&str]| -> Value {
        let vars: Vec<Value> = names.iter().map(|n| json!({"name": n, "value": "1"})).collect();
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"},
            "spec": {"template": {"spec": {"containers": [{"name": "nginx", "env": vars}]}}}
        })
    };
    let live = ok(apply_deployment(None, &env(&["A", "B"]), "alice", false, T1));
    let merged = ok(apply_deployment(Some(&live), &env(&["C", "A"]), "bob", false, T2));
    let names: Vec<Value> = merged["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .map(|vars| vars.iter().map(|v| v["name"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(names, vec![json!("C"), json!("A"), json!("B")]);
}

#[test]
fn atomic_lists_are_replaced_by_apply() {
    let with_args = |args: Value| {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"},
            "spec": {"template": {"spec": {"containers": [{"name": "nginx", "args": args}]}}}
        })
    };
    let live = ok(apply_deployment(None, &with_args(json!(["a", "b"])), "kubectl", false, T1));
    let applied = ok(apply_deployment(Some(&live), &with_args(json!(["c"])), "kubectl", false, T2));
    assert_eq!(applied["spec"]["template"]["spec"]["containers"][0]["args"], json!(["c"]));
    assert_eq!(
        fields(&applied, "kubectl", "Apply")["f:spec"]["f:template"]["f:spec"]["f:containers"]
            ["k:{\"name\":\"nginx\"}"]["f:args"],
        json!({})
    );
}

#[test]
fn atomic_structs_are_replaced_and_owned_whole() {
    let live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    let mut config = nginx(3, "nginx:1.14.2");
    config["spec"]["selector"] = json!({"matchLabels": {"tier": "web"}});
    let applied = ok(apply_deployment(Some(&live), &config, "kubectl", false, T2));
    assert_eq!(applied["spec"]["selector"], json!({"matchLabels": {"tier": "web"}}));
    // Another manager changing any part of the selector conflicts on the selector itself.
    let mut other = nginx(3, "nginx:1.14.2");
    other["spec"]["selector"] = json!({"matchLabels": {"tier": "web", "x": "y"}});
    let (message, _) = conflicts(apply_deployment(Some(&applied), &other, "bob", false, T3));
    assert!(message.ends_with(": .spec.selector"), "{message}");
}

#[test]
fn finalizers_merge_as_a_set() {
    let with_finalizers = |f: Value| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx", "finalizers": f}});
    let live = ok(apply_deployment(None, &with_finalizers(json!(["a.example.com/x"])), "alice", false, T1));
    let merged = ok(apply_deployment(Some(&live), &with_finalizers(json!(["b.example.com/y"])), "bob", false, T2));
    assert_eq!(merged["metadata"]["finalizers"], json!(["a.example.com/x", "b.example.com/y"]));
    assert_eq!(fields(&merged, "bob", "Apply"), json!({"f:metadata": {"f:finalizers": {"v:\"b.example.com/y\"": {}}}}));
}

#[test]
fn service_ports_merge_by_port_and_protocol() {
    let services = ListSchema::new("", "Service").with_status_subresource(true);
    let service = |ports: Value| json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns"}, "spec": {"ports": ports}});
    let live = ok(server_side_apply(
        None,
        &service(json!([{"port": 53, "name": "dns"}])),
        "alice",
        false,
        "v1",
        &services,
        T1,
        None,
    ));
    let merged = ok(server_side_apply(
        Some(&live),
        &service(json!([{"port": 53, "protocol": "UDP", "name": "dns-udp"}])),
        "bob",
        false,
        "v1",
        &services,
        T2,
        None,
    ));
    assert_eq!(merged["spec"]["ports"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        fields(&merged, "bob", "Apply"),
        json!({"f:spec": {"f:ports": {"k:{\"port\":53,\"protocol\":\"UDP\"}": {".": {}, "f:name": {}, "f:port": {}, "f:protocol": {}}}}})
    );
    assert_eq!(
        fields(&merged, "alice", "Apply"),
        json!({"f:spec": {"f:ports": {"k:{\"port\":53,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}}}}})
    );
}

#[test]
fn status_is_not_owned_by_main_resource_writes() {
    let mut config = nginx(3, "nginx:1.14.2");
    config["status"] = json!({"replicas": 3});
    let created = ok(apply_deployment(None, &config, "kubectl", false, T1));
    assert_eq!(fields(&created, "kubectl", "Apply").get("f:status"), None);

    let mut updated = created.clone();
    updated["status"] = json!({"replicas": 5});
    let updated = update_deployment(Some(&created), &updated, "someone", T2);
    assert_eq!(entry(&updated, "someone", "Update"), None);
}

#[test]
fn status_subresource_writes_are_recorded_with_their_subresource() {
    let live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    let mut new = live.clone();
    new["status"] = json!({"replicas": 3, "conditions": [{"type": "Available", "status": "True"}]});
    new["spec"]["replicas"] = json!(9);
    track_update(Some(&live), &mut new, "kube-controller-manager", "apps/v1", &deployments(), T2, Some("status"));
    let e = entry(&new, "kube-controller-manager", "Update").unwrap_or(Value::Null);
    assert_eq!(e["subresource"], "status");
    assert_eq!(
        e["fieldsV1"],
        json!({"f:status": {
            "f:conditions": {".": {}, "k:{\"type\":\"Available\"}": {".": {}, "f:status": {}, "f:type": {}}},
            "f:replicas": {}
        }})
    );
    // The applier keeps spec.replicas: the status write does not own spec.
    assert_eq!(fields(&new, "kubectl", "Apply")["f:spec"]["f:replicas"], json!({}));
}

#[test]
fn apply_to_the_status_subresource_records_the_subresource() {
    let live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"}, "status": {"replicas": 3}});
    let applied =
        ok(server_side_apply(Some(&live), &status, "controller", false, "apps/v1", &deployments(), T2, Some("status")));
    let e = entry(&applied, "controller", "Apply").unwrap_or(Value::Null);
    assert_eq!(e["subresource"], "status");
    assert_eq!(e["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));
    assert_eq!(applied["status"]["replicas"], 3);
}

#[test]
fn applying_null_removes_the_field() {
    let live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    let mut config = nginx(3, "nginx:1.14.2");
    config["spec"]["replicas"] = Value::Null;
    let applied = ok(apply_deployment(Some(&live), &config, "kubectl", false, T2));
    assert_eq!(applied["spec"].get("replicas"), None);
}

// ---------------------------------------------------------------------------------------------
// Invalid configurations
// ---------------------------------------------------------------------------------------------

#[test]
fn duplicate_keys_in_the_applied_config_are_invalid() {
    let mut config = nginx(3, "nginx:1.14.2");
    if let Some(containers) = config["spec"]["template"]["spec"]["containers"].as_array_mut() {
        containers.push(json!({"name": "nginx", "image": "other"}));
    }
    let message = invalid(apply_deployment(None, &config, "kubectl", false, T1));
    assert_eq!(
        message,
        "failed to create typed patch object (default/nginx; apps/v1, Kind=Deployment): .spec.template.spec.containers: duplicate entries for key [name=\"nginx\"]"
    );
    assert_eq!(ApplyError::Invalid(message).status()["code"], 400);
}

#[test]
fn list_items_without_their_keys_are_invalid() {
    let mut config = nginx(3, "nginx:1.14.2");
    config["spec"]["template"]["spec"]["containers"][0] = json!({"image": "nginx"});
    let message = invalid(apply_deployment(None, &config, "kubectl", false, T1));
    assert!(
        message.ends_with(".spec.template.spec.containers: element 0: associative list with keys has an element that omits all key fields [\"name\"] (and doesn't have default values for any key fields)"),
        "{message}"
    );
}

#[test]
fn apply_requires_an_object_with_the_request_version_kind_and_a_name() {
    assert!(invalid(apply_deployment(None, &json!([1]), "kubectl", false, T1)).contains("must be an object"));

    let mut wrong_version = nginx(1, "x");
    wrong_version["apiVersion"] = json!("apps/v1beta1");
    assert_eq!(
        invalid(apply_deployment(None, &wrong_version, "kubectl", false, T1)),
        "invalid object type: apps/v1beta1, Kind=Deployment"
    );

    let mut wrong_kind = nginx(1, "x");
    wrong_kind["kind"] = json!("StatefulSet");
    assert_eq!(
        invalid(apply_deployment(None, &wrong_kind, "kubectl", false, T1)),
        "invalid object type: apps/v1, Kind=StatefulSet"
    );

    let mut nameless = nginx(1, "x");
    nameless["metadata"].as_object_mut().map(|m| m.remove("name"));
    assert!(invalid(apply_deployment(None, &nameless, "kubectl", false, T1)).contains("metadata.name"));

    let mut with_managed_fields = nginx(1, "x");
    with_managed_fields["metadata"]["managedFields"] = json!([]);
    assert_eq!(
        invalid(apply_deployment(None, &with_managed_fields, "kubectl", false, T1)),
        "metadata.managedFields must be nil"
    );
}

// ---------------------------------------------------------------------------------------------
// Ordinary writes
// ---------------------------------------------------------------------------------------------

#[test]
fn update_by_another_manager_moves_ownership() {
    let live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    let scaled = update_deployment(Some(&live), &scaled, "kube-controller-manager", T2);
    assert_eq!(scaled["spec"]["replicas"], 5);
    assert_eq!(fields(&scaled, "kube-controller-manager", "Update"), json!({"f:spec": {"f:replicas": {}}}));
    assert_eq!(entry(&scaled, "kube-controller-manager", "Update").map(|e| e["time"].clone()), Some(json!(T2)));
    assert_eq!(fields(&scaled, "kubectl", "Apply")["f:spec"].get("f:replicas"), None);
    // The applier may now take it back only by force.
    let (message, _) = conflicts(apply_deployment(Some(&scaled), &nginx(3, "nginx:1.14.2"), "kubectl", false, T3));
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"kube-controller-manager\" using apps/v1: .spec.replicas"
    );
}

#[test]
fn an_update_that_changes_nothing_keeps_managed_fields_as_they_are() {
    let live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    let same = update_deployment(Some(&live), &live, "someone", T2);
    assert_eq!(same, live);
}

#[test]
fn repeated_updates_accumulate_fields_and_bump_the_time() {
    let created = update_deployment(None, &defaulted_nginx(1), "editor", T1);
    let mut edited = created.clone();
    edited["metadata"]["labels"]["team"] = json!("a");
    let edited = update_deployment(Some(&created), &edited, "editor", T2);
    let e = entry(&edited, "editor", "Update").unwrap_or(Value::Null);
    assert_eq!(e["time"], T2);
    assert_eq!(e["fieldsV1"]["f:metadata"]["f:labels"], json!({".": {}, "f:app": {}, "f:team": {}}));
    assert_eq!(e["fieldsV1"]["f:spec"]["f:replicas"], json!({}));
}

#[test]
fn removing_a_field_by_update_takes_it_from_every_manager() {
    let mut config = nginx(3, "nginx:1.14.2");
    config["metadata"]["labels"]["tier"] = json!("web");
    let live = ok(apply_deployment(None, &config, "kubectl", false, T1));
    let mut edited = live.clone();
    edited["metadata"]["labels"].as_object_mut().map(|l| l.remove("tier"));
    let edited = update_deployment(Some(&live), &edited, "editor", T2);
    assert_eq!(fields(&edited, "kubectl", "Apply")["f:metadata"], json!({"f:labels": {"f:app": {}}}));
    // Removing a field owns nothing.
    assert_eq!(entry(&edited, "editor", "Update"), None);
}

#[test]
fn managed_fields_sent_by_the_client_are_honoured_and_an_empty_list_resets_them() {
    let live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    // A client that sends no managedFields keeps the live ones.
    let mut without = live.clone();
    without["metadata"].as_object_mut().map(|m| m.remove("managedFields"));
    assert_eq!(update_deployment(Some(&live), &without, "someone", T2), live);
    // `[]` resets them.
    let mut reset = live.clone();
    reset["metadata"]["managedFields"] = json!([]);
    let reset = update_deployment(Some(&live), &reset, "someone", T2);
    assert_eq!(reset["metadata"].get("managedFields"), None);
    // `[{}]` too.
    let mut reset = live.clone();
    reset["metadata"]["managedFields"] = json!([{}]);
    assert_eq!(update_deployment(Some(&live), &reset, "someone", T2)["metadata"].get("managedFields"), None);
    // Edited entries are kept as sent.
    let mut edited = live.clone();
    edited["metadata"]["managedFields"][0]["manager"] = json!("renamed");
    let edited = update_deployment(Some(&live), &edited, "someone", T2);
    assert!(entry(&edited, "renamed", "Apply").is_some());
    assert!(entry(&edited, "kubectl", "Apply").is_none());
}

#[test]
fn entries_are_sorted_apply_first_then_by_time_and_manager() {
    let live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "zed", false, T2));
    let mut a = live.clone();
    a["metadata"]["labels"]["a"] = json!("1");
    let a = update_deployment(Some(&live), &a, "bravo", T3);
    let mut b = a.clone();
    b["metadata"]["labels"]["b"] = json!("1");
    let b = update_deployment(Some(&a), &b, "alpha", T3);
    let mut c = b.clone();
    c["metadata"]["labels"]["c"] = json!("1");
    let c = update_deployment(Some(&b), &c, "charlie", T1);
    let order: Vec<(Value, Value)> =
        managed_fields(&c).iter().map(|e| (e["manager"].clone(), e["operation"].clone())).collect();
    assert_eq!(
        order,
        vec![
            (json!("zed"), json!("Apply")),
            (json!("charlie"), json!("Update")),
            (json!("alpha"), json!("Update")),
            (json!("bravo"), json!("Update")),
        ]
    );
}

#[test]
fn update_entries_are_kept_per_api_version_and_apply_entries_are_not() {
    let schema = ListSchema::new("", "ConfigMap");
    let cm = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data});
    let mut one = cm(json!({"a": "1"}));
    track_update(None, &mut one, "m", "v1", &schema, T1, None);
    let mut two = cm(json!({"a": "1", "b": "2"}));
    two["metadata"]["managedFields"] = one["metadata"]["managedFields"].clone();
    track_update(Some(&one), &mut two, "m", "v2", &schema, T2, None);
    let versions: Vec<Value> = managed_fields(&two).iter().map(|e| e["apiVersion"].clone()).collect();
    assert_eq!(versions, vec![json!("v1"), json!("v2")]);
}

#[test]
fn update_managers_beyond_ten_are_folded_into_ancient_changes() {
    let schema = ListSchema::new("", "ConfigMap");
    let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
    for i in 0..12 {
        let old = obj.clone();
        obj["data"][format!("k{i}")] = json!("v");
        let now = format!("2024-01-01T00:{i:02}:00Z");
        track_update(Some(&old), &mut obj, &format!("m{i:02}"), "v1", &schema, &now, None);
    }
    let entries = managed_fields(&obj);
    assert_eq!(entries.len(), 10);
    let ancient = entry(&obj, "ancient-changes", "Update").unwrap_or(Value::Null);
    assert_eq!(ancient["fieldsV1"], json!({"f:data": {"f:k0": {}, "f:k1": {}, "f:k2": {}}}));
    assert_eq!(ancient["time"], "2024-01-01T00:02:00Z");
    assert!(entry(&obj, "m00", "Update").is_none());
    assert!(entry(&obj, "m03", "Update").is_some());
}

#[test]
fn objects_that_cannot_be_tracked_keep_their_previous_managed_fields() {
    let live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    let mut broken = live.clone();
    broken["spec"]["template"]["spec"]["containers"] = json!([{"image": "no-name"}]);
    broken["metadata"].as_object_mut().map(|m| m.remove("managedFields"));
    let tracked = update_deployment(Some(&live), &broken, "someone", T2);
    assert_eq!(tracked["metadata"]["managedFields"], live["metadata"]["managedFields"]);
}

#[test]
fn a_write_without_a_manager_is_recorded_as_unknown() {
    let created = update_deployment(None, &defaulted_nginx(1), "", T1);
    assert!(entry(&created, "unknown", "Update").is_some());
}

// ---------------------------------------------------------------------------------------------
// Custom resources
// ---------------------------------------------------------------------------------------------

fn widget(items: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"items": items}})
}

#[test]
fn custom_resource_lists_are_atomic_without_a_schema() {
    let schema = ListSchema::new("example.com", "Widget");
    assert!(!schema.is_builtin());
    let live = ok(server_side_apply(
        None,
        &widget(json!([{"name": "a"}])),
        "alice",
        false,
        "example.com/v1",
        &schema,
        T1,
        None,
    ));
    assert_eq!(fields(&live, "alice", "Apply"), json!({"f:spec": {".": {}, "f:items": {}}}));
    let (message, _) = conflicts(server_side_apply(
        Some(&live),
        &widget(json!([{"name": "b"}])),
        "bob",
        false,
        "example.com/v1",
        &schema,
        T2,
        None,
    ));
    assert_eq!(message, "Apply failed with 1 conflict: conflict with \"alice\": .spec.items");
}

#[test]
fn custom_resources_honour_list_map_keys_from_the_crd_schema() {
    let crd_schema = json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "items": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name", "zone"],
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "zone": {"type": "string", "default": "a"},
                                "size": {"type": "integer"}
                            }
                        }
                    },
                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                    "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                                 "additionalProperties": {"type": "string"}}
                }
            }
        }
    });
    let schema = ListSchema::new("example.com", "Widget").with_crd_schema(&crd_schema);
    let live = ok(server_side_apply(
        None,
        &widget(json!([{"name": "a", "size": 1}])),
        "alice",
        false,
        "example.com/v1",
        &schema,
        T1,
        None,
    ));
    assert_eq!(
        fields(&live, "alice", "Apply"),
        json!({"f:spec": {"f:items": {"k:{\"name\":\"a\",\"zone\":\"a\"}": {".": {}, "f:name": {}, "f:size": {}}}}})
    );
    let merged = ok(server_side_apply(
        Some(&live),
        &widget(json!([{"name": "a", "zone": "b", "size": 2}])),
        "bob",
        false,
        "example.com/v1",
        &schema,
        T2,
        None,
    ));
    assert_eq!(merged["spec"]["items"], json!([{"name": "a", "size": 1}, {"name": "a", "zone": "b", "size": 2}]));

    let mut tagged = widget(json!([{"name": "a", "size": 1}]));
    tagged["spec"]["tags"] = json!(["x"]);
    tagged["spec"]["selector"] = json!({"k": "v"});
    let tagged = ok(server_side_apply(Some(&merged), &tagged, "alice", false, "example.com/v1", &schema, T3, None));
    let alice = fields(&tagged, "alice", "Apply");
    assert_eq!(alice["f:spec"]["f:tags"], json!({"v:\"x\"": {}}));
    assert_eq!(alice["f:spec"]["f:selector"], json!({}));
}

#[test]
fn custom_resources_created_by_update_mark_new_structs_as_owned() {
    let schema = ListSchema::new("example.com", "Widget");
    let mut obj = widget(json!([1, 2]));
    track_update(None, &mut obj, "kubectl-create", "example.com/v1", &schema, T1, None);
    assert_eq!(fields(&obj, "kubectl-create", "Update"), json!({"f:spec": {".": {}, "f:items": {}}}));
}

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

#[test]
fn fields_v1_round_trips_through_the_set_representation() {
    let encoded = json!({
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {
            "f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:image": {}}},
            "f:finalizers": {"v:\"x\"": {}, "v:3": {}},
            "f:list": {"i:0": {}, "i:10": {}}
        }
    });
    let set = match fieldpath::Set::from_fields_v1(&encoded) {
        Ok(set) => set,
        Err(e) => panic!("{e}"),
    };
    // Numbers sort before strings, indexes numerically.
    let expected = json!({
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {
            "f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:image": {}}},
            "f:finalizers": {"v:3": {}, "v:\"x\"": {}},
            "f:list": {"i:0": {}, "i:10": {}}
        }
    });
    assert_eq!(serde_json::to_string(&set.to_fields_v1()).ok(), serde_json::to_string(&expected).ok());
    let paths: Vec<String> = set.paths().iter().map(|p| fieldpath::path_string(p)).collect();
    assert!(paths.contains(&".spec.containers[name=\"a\"].image".to_string()), "{paths:?}");
    assert!(paths.contains(&".spec.finalizers[=\"x\"]".to_string()), "{paths:?}");
    assert!(paths.contains(&".metadata.labels".to_string()), "{paths:?}");
}

#[test]
fn fields_v1_keys_are_written_as_go_writes_json() {
    let pe = fieldpath::PathElement::Key(vec![("name".into(), json!("<a&b>")), ("port".into(), json!(8.0))]);
    assert_eq!(pe.to_fields_key(), "k:{\"name\":\"\\u003ca\\u0026b\\u003e\",\"port\":8}");
    assert_eq!(pe.to_string(), "[name=\"<a&b>\",port=8]");
}

#[test]
fn malformed_managed_fields_make_apply_fail() {
    let mut live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    live["metadata"]["managedFields"][0]["operation"] = json!("Patch");
    assert!(invalid(apply_deployment(Some(&live), &nginx(3, "x"), "kubectl", false, T2))
        .starts_with("failed to decode managed fields"));
}

#[test]
fn field_manager_from_user_agent_takes_the_part_before_the_first_slash() {
    assert_eq!(field_manager_from_user_agent("kubectl/v1.31.0 (linux/amd64) kubernetes/abc"), "kubectl");
    assert_eq!(field_manager_from_user_agent("kube-controller-manager/v1.31.0"), "kube-controller-manager");
    assert_eq!(field_manager_from_user_agent(""), "");
    assert_eq!(field_manager_from_user_agent(&"x".repeat(200)).len(), 128);
}

#[test]
fn every_stored_builtin_kind_has_a_table_and_a_zero_value() {
    // Kinds that cannot be patched (the access reviews) are never stored, nor tracked.
    for info in crate::resources::builtin().into_iter().filter(|r| r.verbs.iter().any(|v| v == "patch")) {
        let schema = ListSchema::new(&info.group, &info.kind);
        assert!(schema.is_builtin(), "{}/{}", info.group, info.kind);
        let ctx = Ctx::new(&schema, None);
        assert!(ctx.zero().is_object(), "{}/{}", info.group, info.kind);
    }
}

// ---------------------------------------------------------------------------------------------
// kubectl client-side apply interop
// ---------------------------------------------------------------------------------------------

/// A Deployment created by `kubectl apply` (client-side) from `config`.
fn client_side_applied(config: &Value) -> Value {
    let mut stored = defaulted_nginx(config["spec"]["replicas"].as_i64().unwrap_or(1));
    let mut annotation = fieldpath::go_json_text(config);
    annotation.push('\n');
    stored["metadata"]["annotations"][LAST_APPLIED] = json!(annotation);
    update_deployment(None, &stored, "kubectl-client-side-apply", T1)
}

#[test]
fn kubectl_server_side_apply_takes_over_what_it_applied_client_side() {
    let live = client_side_applied(&nginx(1, "nginx:1.14.2"));
    let mut config = nginx(3, "nginx:1.14.2");
    config["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
    let applied = ok(apply_deployment(Some(&live), &config, "kubectl", false, T2));
    assert_eq!(applied["spec"]["replicas"], 3);
    assert_eq!(fields(&applied, "kubectl", "Apply")["f:spec"]["f:replicas"], json!({}));
    assert_eq!(fields(&applied, "kubectl-client-side-apply", "Update")["f:spec"].get("f:replicas"), None);
    // The annotation now records what was applied server-side.
    let mut expected = fieldpath::go_json_text(&config);
    expected.push('\n');
    assert_eq!(applied["metadata"]["annotations"][LAST_APPLIED], json!(expected));

    // Another field manager gets no such leniency.
    let (message, _) = conflicts(apply_deployment(Some(&live), &config, "my-controller", false, T2));
    assert!(message.contains(".spec.replicas"), "{message}");
}

#[test]
fn kubectl_server_side_apply_still_conflicts_on_fields_changed_since_the_client_side_apply() {
    let live = client_side_applied(&nginx(1, "nginx:1.14.2"));
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    let scaled = update_deployment(Some(&live), &scaled, "hpa", T2);
    let mut config = nginx(3, "nginx:1.16.1");
    config["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
    let (message, list) = conflicts(apply_deployment(Some(&scaled), &config, "kubectl", false, T3));
    // The image kubectl applied client-side is taken over; replicas, changed by the HPA, is not.
    assert_eq!(message, "Apply failed with 1 conflict: conflict with \"hpa\" using apps/v1: .spec.replicas");
    assert_eq!(list.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Objects nobody manages
// ---------------------------------------------------------------------------------------------

#[test]
fn applying_to_an_object_nobody_manages_conflicts_with_before_first_apply() {
    let untracked = defaulted_nginx(1);
    let mut config = nginx(3, "nginx:1.14.2");
    config["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
    let (message, _) = conflicts(apply_deployment(Some(&untracked), &config, "alice", false, T2));
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.replicas"
    );

    let applied = ok(apply_deployment(Some(&untracked), &nginx(1, "nginx:1.14.2"), "alice", false, T2));
    let before = entry(&applied, "before-first-apply", "Update").unwrap_or(Value::Null);
    assert_eq!(before["time"], T2);
    assert_eq!(before["fieldsV1"]["f:spec"]["f:replicas"], json!({}));
    assert!(entry(&applied, "alice", "Apply").is_some());
}

#[test]
fn updates_to_an_existing_object_nobody_manages_are_not_tracked() {
    let untracked = defaulted_nginx(1);
    let mut scaled = untracked.clone();
    scaled["spec"]["replicas"] = json!(2);
    let scaled = update_deployment(Some(&untracked), &scaled, "someone", T2);
    assert_eq!(scaled["metadata"].get("managedFields"), None);
    assert_eq!(scaled["spec"]["replicas"], 2);
}

#[test]
fn managed_fields_keep_their_place_among_the_metadata_fields() {
    let live = ok(apply_deployment(None, &nginx(3, "nginx:1.14.2"), "kubectl", false, T1));
    // Put managedFields between name and namespace, as a stored object might have them.
    let mut stored = live.clone();
    if let Some(meta) = stored["metadata"].as_object_mut() {
        let entries = meta.shift_remove("managedFields").unwrap_or(Value::Null);
        meta.shift_insert(1, "managedFields".into(), entries);
    }
    let keys = |obj: &Value| -> Vec<String> {
        obj["metadata"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    };
    let same = ok(apply_deployment(Some(&stored), &nginx(3, "nginx:1.14.2"), "kubectl", false, T2));
    assert_eq!(serde_json::to_string(&same).ok(), serde_json::to_string(&stored).ok());
    let changed = ok(apply_deployment(Some(&stored), &nginx(4, "nginx:1.14.2"), "kubectl", false, T2));
    assert_eq!(keys(&changed), keys(&stored));
    let mut edited = stored.clone();
    edited["metadata"]["labels"]["x"] = json!("y");
    let edited = update_deployment(Some(&stored), &edited, "editor", T2);
    assert_eq!(keys(&edited), keys(&stored));
}

#[test]
fn reapplying_after_the_registry_defaulted_the_object_is_a_no_op() {
    let pods = ListSchema::new("", "Pod").with_status_subresource(true);
    let config = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "containers": [{
                "name": "web", "image": "nginx",
                "ports": [{"containerPort": 80}],
                "env": [{"name": "A", "value": "1"}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}]
            }],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "tolerations": [{"key": "k", "operator": "Exists"}]
        }
    });
    let created = ok(server_side_apply(None, &config, "kubectl", false, "v1", &pods, T1, None));
    // What the registry adds on create.
    let mut stored = created.clone();
    stored["metadata"]["uid"] = json!("1234");
    stored["metadata"]["resourceVersion"] = json!("7");
    stored["metadata"]["creationTimestamp"] = json!(T1);
    let c = &mut stored["spec"]["containers"][0];
    c["ports"][0]["protocol"] = json!("TCP");
    c["terminationMessagePath"] = json!("/dev/termination-log");
    c["imagePullPolicy"] = json!("Always");
    c["resources"] = json!({});
    stored["spec"]["dnsPolicy"] = json!("ClusterFirst");
    stored["spec"]["restartPolicy"] = json!("Always");
    stored["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});

    let again = ok(server_side_apply(Some(&stored), &config, "kubectl", false, "v1", &pods, T2, None));
    assert_eq!(serde_json::to_string(&again).ok(), serde_json::to_string(&stored).ok());

    // Dropping the env var and the toleration removes exactly those.
    let mut smaller = config.clone();
    smaller["spec"]["containers"][0].as_object_mut().map(|c| c.shift_remove("env"));
    smaller["spec"].as_object_mut().map(|s| s.shift_remove("tolerations"));
    let trimmed = ok(server_side_apply(Some(&stored), &smaller, "kubectl", false, "v1", &pods, T3, None));
    assert_eq!(trimmed["spec"]["containers"][0].get("env"), None);
    assert_eq!(trimmed["spec"].get("tolerations"), None);
    assert_eq!(trimmed["spec"]["containers"][0]["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(trimmed["spec"]["dnsPolicy"], "ClusterFirst");
    assert_eq!(trimmed["status"], stored["status"]);
    assert_eq!(
        fields(&trimmed, "kubectl", "Apply")["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"],
        json!({
            ".": {}, "f:image": {}, "f:name": {},
            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}},
            "f:volumeMounts": {"k:{\"mountPath\":\"/data\"}": {".": {}, "f:mountPath": {}, "f:name": {}}}
        })
    );
}

#[test]
fn a_status_write_by_the_deployment_controller_records_what_kubernetes_records() {
    // The entry, as a real cluster recorded it for the same write.
    let live = ok(apply_deployment(None, &nginx(1, "nginx:1.14.2"), "kubectl", false, T1));
    let mut new = live.clone();
    new["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "3"});
    let condition = |kind: &str, reason: &str| json!({"lastTransitionTime": T1, "lastUpdateTime": T1, "message": "m", "reason": reason, "status": "True", "type": kind});
    new["status"] = json!({
        "availableReplicas": 1,
        "conditions": [condition("Available", "MinimumReplicasAvailable"), condition("Progressing", "NewReplicaSetAvailable")],
        "observedGeneration": 3, "readyReplicas": 1, "replicas": 1, "updatedReplicas": 1
    });
    track_update(Some(&live), &mut new, "kube-controller-manager", "apps/v1", &deployments(), T2, Some("status"));
    let recorded = r#"{"f:metadata":{"f:annotations":{".":{},"f:deployment.kubernetes.io/revision":{}}},"f:status":{"f:availableReplicas":{},"f:conditions":{".":{},"k:{\"type\":\"Available\"}":{".":{},"f:lastTransitionTime":{},"f:lastUpdateTime":{},"f:message":{},"f:reason":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Progressing\"}":{".":{},"f:lastTransitionTime":{},"f:lastUpdateTime":{},"f:message":{},"f:reason":{},"f:status":{},"f:type":{}}},"f:observedGeneration":{},"f:readyReplicas":{},"f:replicas":{},"f:updatedReplicas":{}}}"#;
    let e = entry(&new, "kube-controller-manager", "Update").unwrap_or(Value::Null);
    assert_eq!(serde_json::to_string(&e["fieldsV1"]).ok().as_deref(), Some(recorded));
    assert_eq!(e["subresource"], "status");
}
