//! Bodies built with `k8s-pb` + `prost` (the same messages Go's go-to-protobuf code
//! produces), wrapped in the `k8s\0` envelope, decoded, and compared with the JSON
//! Kubernetes' Go types give for the same object (written by hand from the Kubernetes API
//! reference), except that every scalar the body carries is kept, zero or not (see the
//! crate docs: nothing tells pointers from non-pointer `omitempty` fields).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{json, Value};
use wharf_proto::{decode, encode, supports, ProtoError};

fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn time(seconds: i64) -> Option<meta::Time> {
    Some(meta::Time {
        seconds: Some(seconds),
        nanos: Some(0),
    })
}

fn quantity(v: &str) -> Quantity {
    Quantity { string: s(v) }
}

fn int(v: i32) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(0),
        int_val: Some(v),
        str_val: Some(String::new()),
    })
}

fn string(v: &str) -> Option<IntOrString> {
    Some(IntOrString {
        r#type: Some(1),
        int_val: Some(0),
        str_val: s(v),
    })
}

/// `a`'s fields all appear in `b` with the same values (`b` may have more).
fn subset(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => a
            .iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| subset(v, w))),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(v, w)| subset(v, w))
        }
        _ => a == b,
    }
}

/// Decodes, and checks that encoding the JSON loses nothing: decoding the encoding gives
/// the same fields plus at most the zero structs Go always sends (`status: {}`,
/// `creationTimestamp: null`), and a second round trip is stable.
fn decode_checked(body: &[u8]) -> Value {
    let json = decode(body).unwrap_or_else(|e| panic!("decode: {e}"));
    let once = decode(&encode(&json).unwrap_or_else(|e| panic!("encode: {e}"))).unwrap();
    assert!(subset(&json, &once), "encode lost fields:\n{json}\n{once}");
    let twice = decode(&encode(&once).unwrap()).unwrap();
    assert_eq!(twice, once, "second round trip");
    json
}

#[test]
fn configmap_decodes_to_kubernetes_json() {
    let cm = core::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            name: s("cfg"),
            namespace: s("default"),
            // Go always sends non-pointer scalars. Which ones are pointers is not known
            // (only k8s-pb and k8s-openapi feed the table), so zeros on the wire are kept;
            // Go's JSON would leave these omitempty ones out, which means the same.
            generate_name: s(""),
            resource_version: s(""),
            generation: Some(0),
            creation_timestamp: time(1_704_164_645),
            labels: labels(&[("app", "web"), ("tier", "db")]),
            ..Default::default()
        }),
        // A pointer: false is kept.
        immutable: Some(false),
        data: labels(&[("b", "two"), ("a", "1")]),
        binary_data: BTreeMap::from([("blob".to_string(), vec![0u8, 1, 2, 255])]),
    };
    let got = decode_checked(&envelope("v1", "ConfigMap", cm.encode_to_vec()));
    let want = json!({
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {
            "name": "cfg",
            "generateName": "",
            "namespace": "default",
            "resourceVersion": "",
            "generation": 0,
            "creationTimestamp": "2024-01-02T03:04:05Z",
            "labels": {"app": "web", "tier": "db"}
        },
        "immutable": false,
        "data": {"a": "1", "b": "two"},
        "binaryData": {"blob": "AAEC/w=="}
    });
    assert_eq!(got, want);
    // Go's encoding/json order: TypeMeta (kind, apiVersion), then struct order, map keys sorted.
    assert_eq!(
        serde_json::to_string(&got).unwrap(),
        serde_json::to_string(&want).unwrap()
    );
}

#[test]
fn deployment_with_int_or_string_and_quantities_decodes() {
    let container = core::Container {
        name: s("web"),
        image: s("nginx:1.27"),
        ports: vec![core::ContainerPort {
            container_port: Some(80),
            protocol: s("TCP"),
            host_port: Some(0),
            ..Default::default()
        }],
        resources: Some(core::ResourceRequirements {
            limits: BTreeMap::from([
                ("memory".to_string(), quantity("128Mi")),
                ("cpu".to_string(), quantity("500m")),
            ]),
            requests: BTreeMap::from([("cpu".to_string(), quantity("250m"))]),
            claims: vec![],
        }),
        readiness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                http_get: Some(core::HttpGetAction {
                    path: s("/healthz"),
                    port: string("http"),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            initial_delay_seconds: Some(5),
            ..Default::default()
        }),
        ..Default::default()
    };
    let deployment = apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: s("web"),
            namespace: s("default"),
            creation_timestamp: Some(meta::Time::default()),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(3),
            selector: Some(meta::LabelSelector {
                match_labels: labels(&[("app", "web")]),
                match_expressions: vec![],
            }),
            template: Some(core::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    creation_timestamp: Some(meta::Time::default()),
                    labels: labels(&[("app", "web")]),
                    ..Default::default()
                }),
                spec: Some(core::PodSpec {
                    containers: vec![container],
                    termination_grace_period_seconds: Some(30),
                    host_network: Some(false),
                    ..Default::default()
                }),
            }),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_unavailable: int(1),
                    max_surge: string("25%"),
                }),
            }),
            min_ready_seconds: Some(0),
            paused: Some(false),
            progress_deadline_seconds: Some(600),
            revision_history_limit: Some(0),
        }),
        status: Some(apps::DeploymentStatus::default()),
    };
    let got = decode_checked(&envelope(
        "apps/v1",
        "Deployment",
        deployment.encode_to_vec(),
    ));
    let want = json!({
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": null},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "web",
                        "image": "nginx:1.27",
                        // hostPort was sent (a zero on the wire is kept).
                        "ports": [{"hostPort": 0, "containerPort": 80, "protocol": "TCP"}],
                        "resources": {
                            "limits": {"cpu": "500m", "memory": "128Mi"},
                            "requests": {"cpu": "250m"}
                        },
                        "readinessProbe": {
                            "httpGet": {"path": "/healthz", "port": "http"},
                            "initialDelaySeconds": 5
                        }
                    }],
                    "terminationGracePeriodSeconds": 30,
                    "hostNetwork": false
                }
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
            // Zeros sent on the wire are kept: non-pointer (minReadySeconds, paused) where
            // Go's JSON would omit them, and *int32 (revisionHistoryLimit) where it would not.
            "minReadySeconds": 0,
            "revisionHistoryLimit": 0,
            "paused": false,
            "progressDeadlineSeconds": 600
        },
        "status": {}
    });
    assert_eq!(got, want);
}

#[test]
fn deployment_scaled_to_zero_keeps_replicas() {
    let deployment = apps::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: s("web"),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(0),
            ..Default::default()
        }),
        status: None,
    };
    let got = decode_checked(&envelope(
        "apps/v1",
        "Deployment",
        deployment.encode_to_vec(),
    ));
    assert_eq!(got["spec"], json!({"replicas": 0}));
}

#[test]
fn pod_fields_use_kubernetes_json_names_and_inline_structs() {
    let pod = core::Pod {
        metadata: Some(meta::ObjectMeta {
            name: s("p"),
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            volumes: vec![
                core::Volume {
                    name: s("ebs"),
                    volume_source: Some(core::VolumeSource {
                        aws_elastic_block_store: Some(core::AwsElasticBlockStoreVolumeSource {
                            volume_id: s("vol-123"),
                            fs_type: s("ext4"),
                            partition: Some(0),
                            read_only: Some(false),
                        }),
                        ..Default::default()
                    }),
                },
                core::Volume {
                    name: s("cfg"),
                    volume_source: Some(core::VolumeSource {
                        config_map: Some(core::ConfigMapVolumeSource {
                            local_object_reference: Some(core::LocalObjectReference {
                                name: s("settings"),
                            }),
                            default_mode: Some(0o644),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                },
            ],
            containers: vec![core::Container {
                name: s("app"),
                env_from: vec![core::EnvFromSource {
                    config_map_ref: Some(core::ConfigMapEnvSource {
                        local_object_reference: Some(core::LocalObjectReference {
                            name: s("settings"),
                        }),
                        optional: Some(true),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            host_ipc: Some(true),
            dns_policy: s("ClusterFirst"),
            security_context: Some(core::PodSecurityContext {
                run_as_user: Some(0),
                run_as_non_root: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            phase: s("Running"),
            pod_ip: s("10.1.2.3"),
            host_ip: s("192.168.1.10"),
            start_time: time(1_704_164_645),
            ..Default::default()
        }),
    };
    let got = decode_checked(&envelope("v1", "Pod", pod.encode_to_vec()));
    let want = json!({
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": "p"},
        "spec": {
            "volumes": [
                {"name": "ebs", "awsElasticBlockStore": {"volumeID": "vol-123", "fsType": "ext4", "partition": 0, "readOnly": false}},
                {"name": "cfg", "configMap": {"name": "settings", "defaultMode": 420}}
            ],
            "containers": [{"name": "app", "envFrom": [{"configMapRef": {"name": "settings", "optional": true}}]}],
            "dnsPolicy": "ClusterFirst",
            "hostIPC": true,
            "securityContext": {"runAsUser": 0, "runAsNonRoot": false}
        },
        "status": {
            "phase": "Running",
            "hostIP": "192.168.1.10",
            "podIP": "10.1.2.3",
            "startTime": "2024-01-02T03:04:05Z"
        }
    });
    assert_eq!(got, want);
}

#[test]
fn secret_bytes_become_base64() {
    let secret = core::Secret {
        metadata: Some(meta::ObjectMeta {
            name: s("creds"),
            namespace: s("default"),
            ..Default::default()
        }),
        immutable: None,
        data: BTreeMap::from([
            ("password".to_string(), b"hunter2".to_vec()),
            ("empty".to_string(), Vec::new()),
        ]),
        string_data: BTreeMap::new(),
        r#type: s("Opaque"),
    };
    let got = decode_checked(&envelope("v1", "Secret", secret.encode_to_vec()));
    assert_eq!(
        got,
        json!({
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": {"name": "creds", "namespace": "default"},
            "data": {"empty": "", "password": "aHVudGVyMg=="},
            "type": "Opaque"
        })
    );
}

#[test]
fn service_target_ports_are_numbers_or_names() {
    let svc = core::Service {
        metadata: Some(meta::ObjectMeta {
            name: s("web"),
            ..Default::default()
        }),
        spec: Some(core::ServiceSpec {
            ports: vec![
                core::ServicePort {
                    name: s("http"),
                    protocol: s("TCP"),
                    port: Some(80),
                    target_port: string("http"),
                    node_port: Some(0),
                    ..Default::default()
                },
                core::ServicePort {
                    name: s("metrics"),
                    protocol: s("TCP"),
                    port: Some(9090),
                    target_port: int(9091),
                    ..Default::default()
                },
            ],
            selector: labels(&[("app", "web")]),
            cluster_ip: s("10.96.0.10"),
            r#type: s("ClusterIP"),
            session_affinity: s("None"),
            ip_family_policy: s("SingleStack"),
            ..Default::default()
        }),
        status: Some(core::ServiceStatus::default()),
    };
    let got = decode_checked(&envelope("v1", "Service", svc.encode_to_vec()));
    assert_eq!(
        got,
        json!({
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": {"name": "web"},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http", "nodePort": 0},
                    {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9091}
                ],
                "selector": {"app": "web"},
                "clusterIP": "10.96.0.10",
                "type": "ClusterIP",
                "sessionAffinity": "None",
                "ipFamilyPolicy": "SingleStack"
            },
            "status": {}
        })
    );
}

#[test]
fn unknown_message_is_an_error() {
    let body = envelope("example.com/v1", "Widget", b"\x0a\x00".to_vec());
    match decode(&body) {
        Err(ProtoError::UnknownKind { api_version, kind }) => {
            assert_eq!(
                (api_version.as_str(), kind.as_str()),
                ("example.com/v1", "Widget")
            );
        }
        other => panic!("expected UnknownKind, got {other:?}"),
    }
    let err = decode(&body).unwrap_err().to_string();
    assert!(err.contains("no protobuf message is known"), "{err}");
}

#[test]
fn bodies_that_are_not_kubernetes_protobuf_are_errors() {
    assert!(matches!(
        decode(b"{\"kind\":\"ConfigMap\"}"),
        Err(ProtoError::NotProtobuf)
    ));
    assert!(matches!(decode(b""), Err(ProtoError::NotProtobuf)));
    // A ConfigMap whose metadata claims 50 bytes but has 2.
    let body = envelope("v1", "ConfigMap", vec![0x0a, 50, 0x0a, 0x00]);
    assert!(
        matches!(decode(&body), Err(ProtoError::Malformed { .. })),
        "{:?}",
        decode(&body)
    );
    // No kind in the envelope.
    let body = envelope("v1", "", Vec::new());
    assert!(matches!(
        decode(&body),
        Err(ProtoError::MissingTypeMeta("kind"))
    ));
    // A string field sent as a varint.
    let body = envelope("v1", "ConfigMap", vec![0x0a, 0x02, 0x08, 0x01]);
    assert!(matches!(decode(&body), Err(ProtoError::Malformed { .. })));
}

#[test]
fn unknown_fields_are_skipped() {
    let cm = core::ConfigMap {
        data: labels(&[("a", "1")]),
        ..Default::default()
    };
    let mut raw = cm.encode_to_vec();
    // field 99, varint 7; field 98, length-delimited "xyz"
    raw.extend([0x98, 0x06, 0x07, 0x92, 0x06, 0x03, b'x', b'y', b'z']);
    let got = decode(&envelope("v1", "ConfigMap", raw)).unwrap();
    assert_eq!(
        got,
        json!({"kind": "ConfigMap", "apiVersion": "v1", "data": {"a": "1"}})
    );
}

#[test]
fn micro_times_have_six_fraction_digits() {
    let event = k8s_pb::api::events::v1::Event {
        metadata: Some(meta::ObjectMeta {
            name: s("e"),
            ..Default::default()
        }),
        event_time: Some(meta::MicroTime {
            seconds: Some(1_704_164_645),
            nanos: Some(123_456_789),
        }),
        series: Some(k8s_pb::api::events::v1::EventSeries {
            count: Some(2),
            last_observed_time: Some(meta::MicroTime {
                seconds: Some(1_704_164_645),
                nanos: Some(0),
            }),
        }),
        reason: s("Started"),
        deprecated_first_timestamp: Some(meta::Time::default()),
        ..Default::default()
    };
    let got = decode(&envelope(
        "events.k8s.io/v1",
        "Event",
        event.encode_to_vec(),
    ))
    .unwrap();
    assert_eq!(got["eventTime"], json!("2024-01-02T03:04:05.123456Z"));
    assert_eq!(
        got["series"],
        json!({"count": 2, "lastObservedTime": "2024-01-02T03:04:05.000000Z"})
    );
    assert_eq!(got["deprecatedFirstTimestamp"], Value::Null);
}

#[test]
fn embedded_json_is_parsed() {
    let rev = apps::ControllerRevision {
        metadata: Some(meta::ObjectMeta {
            name: s("rev"),
            managed_fields: vec![meta::ManagedFieldsEntry {
                manager: s("kubectl"),
                operation: s("Update"),
                api_version: s("apps/v1"),
                time: time(1_704_164_645),
                fields_type: s("FieldsV1"),
                fields_v1: Some(meta::FieldsV1 {
                    raw: Some(br#"{"f:data":{".":{}}}"#.to_vec()),
                }),
                subresource: s(""),
            }],
            ..Default::default()
        }),
        data: Some(RawExtension {
            raw: Some(br#"{"spec":{"template":1}}"#.to_vec()),
        }),
        revision: Some(2),
    };
    let got = decode_checked(&envelope(
        "apps/v1",
        "ControllerRevision",
        rev.encode_to_vec(),
    ));
    assert_eq!(
        got,
        json!({
            "kind": "ControllerRevision",
            "apiVersion": "apps/v1",
            "metadata": {
                "name": "rev",
                "managedFields": [{
                    "manager": "kubectl",
                    "operation": "Update",
                    "apiVersion": "apps/v1",
                    "time": "2024-01-02T03:04:05Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {".": {}}},
                    "subresource": ""
                }]
            },
            "data": {"spec": {"template": 1}},
            "revision": 2
        })
    );
    let bad = apps::ControllerRevision {
        data: Some(RawExtension {
            raw: Some(b"{nope".to_vec()),
        }),
        ..Default::default()
    };
    assert!(matches!(
        decode(&envelope(
            "apps/v1",
            "ControllerRevision",
            bad.encode_to_vec()
        )),
        Err(ProtoError::EmbeddedJson { .. })
    ));
}

#[test]
fn watch_events_carry_embedded_protobuf_objects() {
    let cm = core::ConfigMap {
        data: labels(&[("a", "1")]),
        ..Default::default()
    };
    let event = meta::WatchEvent {
        r#type: s("ADDED"),
        object: Some(RawExtension {
            raw: Some(envelope("v1", "ConfigMap", cm.encode_to_vec())),
        }),
    };
    let got = decode(&envelope("v1", "WatchEvent", event.encode_to_vec())).unwrap();
    assert_eq!(
        got,
        json!({
            "kind": "WatchEvent",
            "apiVersion": "v1",
            "type": "ADDED",
            "object": {"kind": "ConfigMap", "apiVersion": "v1", "data": {"a": "1"}}
        })
    );
}

#[test]
fn delete_options_in_any_group_version_keep_a_zero_grace_period() {
    let opts = meta::DeleteOptions {
        grace_period_seconds: Some(0),
        propagation_policy: s("Foreground"),
        ..Default::default()
    };
    let got = decode_checked(&envelope("apps/v1", "DeleteOptions", opts.encode_to_vec()));
    assert_eq!(
        got,
        json!({"kind": "DeleteOptions", "apiVersion": "apps/v1", "gracePeriodSeconds": 0, "propagationPolicy": "Foreground"})
    );
}

#[test]
fn named_slices_and_extra_values_become_arrays() {
    let list = meta::APIResourceList {
        group_version: s("v1"),
        resources: vec![meta::APIResource {
            name: s("pods"),
            singular_name: s("pod"),
            namespaced: Some(true),
            kind: s("Pod"),
            verbs: Some(meta::Verbs {
                items: vec!["get".into(), "list".into()],
            }),
            ..Default::default()
        }],
    };
    let got = decode(&envelope("v1", "APIResourceList", list.encode_to_vec())).unwrap();
    assert_eq!(
        got["resources"],
        json!([{"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "verbs": ["get", "list"]}])
    );

    use k8s_pb::api::authorization::v1 as authz;
    let sar = authz::SubjectAccessReview {
        spec: Some(authz::SubjectAccessReviewSpec {
            user: s("alice"),
            extra: BTreeMap::from([(
                "scopes".to_string(),
                authz::ExtraValue {
                    items: vec!["a".into(), "b".into()],
                },
            )]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let got = decode_checked(&envelope(
        "authorization.k8s.io/v1",
        "SubjectAccessReview",
        sar.encode_to_vec(),
    ));
    assert_eq!(
        got["spec"],
        json!({"user": "alice", "extra": {"scopes": ["a", "b"]}})
    );
}

#[test]
fn crd_schemas_decode_or_types_and_json_defaults() {
    use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
    let spec_schema = ext::JsonSchemaProps {
        r#type: s("object"),
        x_kubernetes_preserve_unknown_fields: Some(true),
        default: Some(ext::Json {
            raw: Some(br#"{"replicas":1}"#.to_vec()),
        }),
        additional_properties: Some(Box::new(ext::JsonSchemaPropsOrBool {
            allows: Some(false),
            schema: None,
        })),
        ..Default::default()
    };
    let list_schema = ext::JsonSchemaProps {
        r#type: s("array"),
        items: Some(Box::new(ext::JsonSchemaPropsOrArray {
            schema: Some(Box::new(ext::JsonSchemaProps {
                r#type: s("string"),
                ..Default::default()
            })),
            j_son_schemas: vec![],
        })),
        ..Default::default()
    };
    let crd = ext::CustomResourceDefinition {
        metadata: Some(meta::ObjectMeta {
            name: s("widgets.example.com"),
            ..Default::default()
        }),
        spec: Some(ext::CustomResourceDefinitionSpec {
            group: s("example.com"),
            names: Some(ext::CustomResourceDefinitionNames {
                plural: s("widgets"),
                kind: s("Widget"),
                ..Default::default()
            }),
            scope: s("Namespaced"),
            versions: vec![ext::CustomResourceDefinitionVersion {
                name: s("v1"),
                served: Some(true),
                storage: Some(true),
                schema: Some(ext::CustomResourceValidation {
                    open_apiv3_schema: Some(ext::JsonSchemaProps {
                        r#type: s("object"),
                        properties: BTreeMap::from([
                            ("spec".to_string(), spec_schema),
                            ("tags".to_string(), list_schema),
                        ]),
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    };
    let got = decode_checked(&envelope(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        crd.encode_to_vec(),
    ));
    assert_eq!(
        got["spec"]["versions"][0],
        json!({
            "name": "v1",
            "served": true,
            "storage": true,
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "default": {"replicas": 1},
                        "additionalProperties": false,
                        "x-kubernetes-preserve-unknown-fields": true
                    },
                    "tags": {"type": "array", "items": {"type": "string"}}
                }
            }}
        })
    );
}

#[test]
fn supports_knows_builtin_kinds_but_not_custom_resources() {
    assert!(supports("v1", "ConfigMap"));
    assert!(supports("v1", "ConfigMapList"));
    assert!(supports("apps/v1", "Deployment"));
    assert!(supports("autoscaling/v1", "Scale"));
    assert!(supports("policy/v1", "Eviction"));
    assert!(supports("authentication.k8s.io/v1", "TokenRequest"));
    assert!(supports("batch/v1", "DeleteOptions"));
    assert!(supports("meta.k8s.io/v1", "Status"));
    assert!(!supports("example.com/v1", "Widget"));
    assert!(!supports("v1", "Widget"));
    assert!(!supports("apps/v1", "ConfigMap"));
}

#[test]
fn encoding_custom_resources_is_an_error() {
    let obj = json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {}});
    assert!(matches!(encode(&obj), Err(ProtoError::UnknownKind { .. })));
    let bad = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": 1}});
    let err = encode(&bad).unwrap_err().to_string();
    assert!(err.contains("data[a]"), "{err}");
}

#[test]
fn embedded_structs_are_flattened_and_gathered_back() {
    use k8s_pb::api::core::v1 as core;
    let pv = core::PersistentVolume {
        metadata: Some(meta::ObjectMeta {
            name: s("pv1"),
            ..Default::default()
        }),
        spec: Some(core::PersistentVolumeSpec {
            capacity: BTreeMap::from([("storage".to_string(), quantity("1Gi"))]),
            persistent_volume_source: Some(core::PersistentVolumeSource {
                host_path: Some(core::HostPathVolumeSource {
                    path: s("/data"),
                    r#type: None,
                }),
                ..Default::default()
            }),
            access_modes: vec!["ReadWriteOnce".into()],
            ..Default::default()
        }),
        status: None,
    };
    let got = decode_checked(&envelope("v1", "PersistentVolume", pv.encode_to_vec()));
    assert_eq!(
        got["spec"],
        json!({"capacity": {"storage": "1Gi"}, "hostPath": {"path": "/data"}, "accessModes": ["ReadWriteOnce"]})
    );
    // The embed goes back into its own field on the wire.
    assert_eq!(
        encode(&got).unwrap(),
        envelope("v1", "PersistentVolume", pv.encode_to_vec())
    );

    let pod = core::Pod {
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: s("c"),
                env: vec![core::EnvVar {
                    name: s("PW"),
                    value_from: Some(core::EnvVarSource {
                        secret_key_ref: Some(core::SecretKeySelector {
                            local_object_reference: Some(core::LocalObjectReference {
                                name: s("creds"),
                            }),
                            key: s("password"),
                            optional: None,
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                liveness_probe: Some(core::Probe {
                    handler: Some(core::ProbeHandler {
                        exec: Some(core::ExecAction {
                            command: vec!["true".into()],
                        }),
                        ..Default::default()
                    }),
                    period_seconds: Some(10),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let got = decode_checked(&envelope("v1", "Pod", pod.encode_to_vec()));
    assert_eq!(
        got["spec"]["containers"][0],
        json!({
            "name": "c",
            "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}}],
            "livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 10}
        })
    );
}
