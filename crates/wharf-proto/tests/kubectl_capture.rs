//! Request bodies captured from a real `kubectl` 1.32 (`kubectl create ...` against a plain
//! HTTP listener on 127.0.0.1), compared with the JSON the same kubectl prints for the same
//! command with `--dry-run=client -o json` (Go's encoding/json of the same Go object).
//!
//! Commands (namespace `default`): `create configmap t --from-literal=a=1 --from-literal=b=two`,
//! `create secret generic s --from-literal=password=hunter2`, `create secret docker-registry`,
//! `create deployment web --image=nginx:1.27 --replicas=0 --port=80`, `create service
//! clusterip|nodeport`, `create job`, `create cronjob`, `create quota --hard=cpu=1,memory=1Gi,pods=10`,
//! `create poddisruptionbudget --min-available=50%`, `create priorityclass
//! --preemption-policy=Never`, `create rolebinding`, `create ingress`, `create serviceaccount`,
//! `create namespace`.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use serde_json::{Map, Value};

const CASES: &[&str] = &[
    "configmap",
    "cronjob",
    "deployment",
    "dockersecret",
    "ingress",
    "job",
    "namespace",
    "nodeport",
    "pdb",
    "priorityclass",
    "quota",
    "rolebinding",
    "secret",
    "service",
    "serviceaccount",
];

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kubectl-1.32")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `ours` without the keys that are zero-valued (`""`, `0`, `false`) in `ours` and absent
/// from kubectl's JSON at the same place, recursively; the dropped paths go to `dropped`.
///
/// The decoder keeps every scalar present on the wire, zero or not: Go's marshaller writes a
/// pointer field only when set and a non-pointer field always, and without Go's sources
/// (only k8s-pb and k8s-openapi feed the table) nothing says which fields are pointers.
/// Keeping the zero keeps pointer values such as `replicas: 0`; the price is that zero-valued
/// non-pointer `omitempty` fields (`metadata.uid: ""`, `hostPort: 0`, `stdin: false`), which
/// Go's JSON leaves out, are in ours. For a non-pointer field zero and absence mean the same,
/// so these, and only these, are forgiven; everything else (names, values, key order) must
/// match kubectl's JSON exactly.
fn drop_zero_extras(ours: &Value, kubectl: &Value, path: &str, dropped: &mut Vec<String>) -> Value {
    match (ours, kubectl) {
        (Value::Object(o), Value::Object(k)) => Value::Object(
            o.iter()
                .filter_map(|(key, v)| {
                    let p = format!("{path}.{key}");
                    match k.get(key) {
                        Some(kv) => Some((key.clone(), drop_zero_extras(v, kv, &p, dropped))),
                        None if is_zero(v) => {
                            dropped.push(format!("{p}={v}"));
                            None
                        }
                        None => Some((key.clone(), v.clone())),
                    }
                })
                .collect::<Map<String, Value>>(),
        ),
        (Value::Array(o), Value::Array(k)) if o.len() == k.len() => Value::Array(
            o.iter()
                .zip(k)
                .enumerate()
                .map(|(i, (v, kv))| drop_zero_extras(v, kv, &format!("{path}[{i}]"), dropped))
                .collect(),
        ),
        _ => ours.clone(),
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

#[test]
fn captured_kubectl_requests_decode_to_the_json_kubectl_prints() {
    let mut failures = Vec::new();
    let mut forgiven = 0;
    for case in CASES {
        let body = fixture(&format!("{case}.pb"));
        assert!(body.starts_with(b"k8s\0"), "{case}: not a protobuf capture");
        let decoded = wharf_proto::decode(&body).unwrap_or_else(|e| panic!("{case}: {e}"));
        let expected: Value = serde_json::from_slice(&fixture(&format!("{case}.json"))).unwrap();
        let mut dropped = Vec::new();
        let decoded = drop_zero_extras(&decoded, &expected, "", &mut dropped);
        forgiven += dropped.len();
        // Same keys in the same order as Go's encoding/json.
        let got = serde_json::to_string(&decoded).unwrap();
        let want = serde_json::to_string(&expected).unwrap();
        if got != want {
            failures.push(format!("{case}:\n  got  {got}\n  want {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The deployment alone has dozens (metadata.uid, ports[0].hostPort, status.replicas...).
    assert!(
        forgiven > 0,
        "no zero-valued extras: the decoder no longer keeps wire zeros?"
    );
}

#[test]
fn zero_valued_pointer_fields_kubectl_sent_are_kept() {
    // `create deployment --replicas=0`: *int32, so kubectl's JSON has it and so must ours.
    let decoded = wharf_proto::decode(&fixture("deployment.pb")).unwrap();
    assert_eq!(decoded["spec"]["replicas"], serde_json::json!(0));
}

#[test]
fn captured_kubectl_requests_round_trip_through_encode() {
    for case in CASES {
        let decoded = wharf_proto::decode(&fixture(&format!("{case}.pb"))).unwrap();
        let encoded = wharf_proto::encode(&decoded).unwrap_or_else(|e| panic!("{case}: {e}"));
        let again = wharf_proto::decode(&encoded).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(again, decoded, "{case}");
    }
}

#[test]
fn encoding_the_decoded_json_reproduces_kubectls_bytes() {
    for case in CASES {
        let body = fixture(&format!("{case}.pb"));
        let encoded = wharf_proto::encode(&wharf_proto::decode(&body).unwrap()).unwrap();
        assert_eq!(encoded, body, "{case}");
    }
}
