//! Request bodies captured from a real `kubectl` 1.32 (`kubectl create ...` against a plain
//! HTTP listener on 127.0.0.1), compared with the JSON the same kubectl prints for the same
//! command with `--dry-run=client -o json` (Go's encoding/json of the same Go object).

#![allow(clippy::unwrap_used)]

use std::path::Path;

const CASES: &[&str] = &[
    "configmap",
    "cronjob",
    "deployment",
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
    "tlssecret",
];

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kubectl-1.32")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn captured_kubectl_requests_decode_to_the_json_kubectl_prints() {
    let mut failures = Vec::new();
    for case in CASES {
        let body = fixture(&format!("{case}.pb"));
        assert!(body.starts_with(b"k8s\0"), "{case}: not a protobuf capture");
        let decoded = wharf_proto::decode(&body).unwrap_or_else(|e| panic!("{case}: {e}"));
        let expected: serde_json::Value =
            serde_json::from_slice(&fixture(&format!("{case}.json"))).unwrap();
        // Same keys in the same order as Go's encoding/json.
        let got = serde_json::to_string(&decoded).unwrap();
        let want = serde_json::to_string(&expected).unwrap();
        if got != want {
            failures.push(format!("{case}:\n  got  {got}\n  want {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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
