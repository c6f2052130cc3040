//! EKS access policies and the Kubernetes RBAC objects that enforce them.
//!
//! Each policy is a ClusterRole (`wharf-eks:<policy>`); each access entry's associations
//! become bindings of the entry's own group (`wharf-eks:entry:<id>`): a ClusterRoleBinding for
//! cluster scope, a RoleBinding per namespace for namespace scope. The authenticator adds that
//! group to the entry's user, so RBAC (not a webhook) decides. Every object carries the label
//! [`MANAGED_LABEL`] so the host can remove what is no longer wanted.

use serde_json::{json, Value};

use crate::model::AccessEntryRecord;

/// Label on every RBAC object this module produces.
pub const MANAGED_LABEL: &str = "eks.wharf.dev/managed";

/// ARN prefix of the AWS-owned access policies.
pub const POLICY_ARN_PREFIX: &str = "arn:aws:eks::aws:cluster-access-policy/";

/// The access policies Wharf enforces: (name, ClusterRole suffix).
pub const POLICIES: &[(&str, &str)] = &[
    ("AmazonEKSAdminPolicy", "admin"),
    ("AmazonEKSClusterAdminPolicy", "cluster-admin"),
    ("AmazonEKSEditPolicy", "edit"),
    ("AmazonEKSViewPolicy", "view"),
];

/// The ClusterRole suffix of a policy ARN, if Wharf knows the policy.
pub fn role_for_policy(policy_arn: &str) -> Option<&'static str> {
    let name = policy_arn.strip_prefix(POLICY_ARN_PREFIX)?;
    POLICIES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// The ARN of a policy name.
pub fn policy_arn(name: &str) -> String {
    format!("{POLICY_ARN_PREFIX}{name}")
}

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];

/// Namespaced workload resources everyone but cluster-admin works with: (group, resources).
/// Secrets are not here: only edit and admin see them (as Kubernetes' `view` role).
const WORKLOADS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "pods", "pods/log", "pods/status", "services", "services/status", "endpoints", "configmaps",
            "persistentvolumeclaims", "persistentvolumeclaims/status", "replicationcontrollers",
            "replicationcontrollers/scale", "replicationcontrollers/status", "serviceaccounts", "events",
            "limitranges", "resourcequotas", "resourcequotas/status", "podtemplates",
        ],
    ),
    (
        "apps",
        &[
            "deployments", "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
            "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status", "daemonsets",
            "daemonsets/status", "controllerrevisions",
        ],
    ),
    ("batch", &["jobs", "jobs/status", "cronjobs", "cronjobs/status"]),
    ("autoscaling", &["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    ("policy", &["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    ("networking.k8s.io", &["ingresses", "ingresses/status", "networkpolicies"]),
    ("discovery.k8s.io", &["endpointslices"]),
    ("events.k8s.io", &["events"]),
    ("coordination.k8s.io", &["leases"]),
];

fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> Value {
    json!({ "apiGroups": [group], "resources": resources, "verbs": verbs })
}

/// The rules of a policy's ClusterRole.
pub fn rules(role: &str) -> Vec<Value> {
    let mut out = Vec::new();
    match role {
        "cluster-admin" => {
            out.push(json!({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}));
            out.push(json!({"nonResourceURLs": ["*"], "verbs": ["*"]}));
            return out;
        }
        "view" => {
            for (g, r) in WORKLOADS {
                out.push(rule(g, r, READ));
            }
            out.push(rule("", &["namespaces", "namespaces/status"], READ));
        }
        "edit" | "admin" => {
            let verbs: Vec<&str> = READ.iter().chain(WRITE).copied().collect();
            for (g, r) in WORKLOADS {
                out.push(rule(g, r, &verbs));
            }
            out.push(rule("", &["secrets"], &verbs));
            out.push(rule("", &["pods/exec", "pods/attach", "pods/portforward", "pods/eviction", "serviceaccounts/token"], &["create", "get"]));
            out.push(rule("", &["namespaces", "namespaces/status"], READ));
            if role == "admin" {
                out.push(rule("rbac.authorization.k8s.io", &["roles", "rolebindings"], &verbs));
                out.push(rule("authorization.k8s.io", &["localsubjectaccessreviews"], &["create"]));
            }
        }
        _ => {}
    }
    out
}

fn meta(name: &str, namespace: Option<&str>) -> Value {
    let mut m = json!({ "name": name, "labels": { MANAGED_LABEL: "true" } });
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    m
}

/// Every RBAC object a cluster should hold for its access entries: the policy ClusterRoles,
/// then one binding per (entry, policy, namespace).
pub fn desired_objects(entries: &[AccessEntryRecord]) -> Vec<Value> {
    let mut out: Vec<Value> = POLICIES
        .iter()
        .map(|(_, r)| {
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": meta(&format!("wharf-eks:{r}"), None),
                "rules": rules(r),
            })
        })
        .collect();
    for e in entries {
        let group = e.policy_group();
        for a in &e.policies {
            let Some(role) = role_for_policy(&a.policy_arn) else { continue };
            let subjects = json!([{ "kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": group }]);
            let role_ref = json!({ "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("wharf-eks:{role}") });
            let name = format!("wharf-eks:{}:{role}", e.id);
            if a.scope.kind == "namespace" {
                for ns in &a.scope.namespaces {
                    out.push(json!({
                        "apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "RoleBinding",
                        "metadata": meta(&name, Some(ns)),
                        "subjects": subjects,
                        "roleRef": role_ref,
                    }));
                }
            } else {
                out.push(json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": meta(&name, None),
                    "subjects": subjects,
                    "roleRef": role_ref,
                }));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Association, Scope};

    fn entry(policy: &str, scope: Scope) -> AccessEntryRecord {
        AccessEntryRecord {
            cluster_name: "c".into(),
            principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
            id: "e1".into(),
            arn: String::new(),
            kubernetes_groups: vec![],
            username: "alice".into(),
            kind: "STANDARD".into(),
            tags: Default::default(),
            created_at: 0.0,
            modified_at: 0.0,
            policies: vec![Association { policy_arn: policy_arn(policy), scope, associated_at: 0.0, modified_at: 0.0 }],
        }
    }

    #[test]
    fn view_policy_never_grants_secrets() {
        for r in rules("view") {
            let res: Vec<&str> = r["resources"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            assert!(!res.contains(&"secrets") && !res.contains(&"*"), "{r}");
            let verbs: Vec<&str> = r["verbs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            assert!(verbs.iter().all(|v| READ.contains(v)), "{r}");
        }
        assert!(rules("edit").iter().any(|r| r["resources"][0] == "secrets"));
    }

    #[test]
    fn namespace_scope_binds_in_each_namespace_and_cluster_scope_once() {
        let ns = desired_objects(&[entry("AmazonEKSViewPolicy", Scope { kind: "namespace".into(), namespaces: vec!["a".into(), "b".into()] })]);
        let bindings: Vec<&Value> = ns.iter().filter(|o| o["kind"] == "RoleBinding").collect();
        assert_eq!(bindings.len(), 2);
        assert_eq!(bindings[0]["metadata"]["namespace"], "a");
        assert_eq!(bindings[0]["subjects"][0]["name"], "wharf-eks:entry:e1");
        assert_eq!(bindings[0]["roleRef"]["name"], "wharf-eks:view");
        let cl = desired_objects(&[entry("AmazonEKSClusterAdminPolicy", Scope { kind: "cluster".into(), namespaces: vec![] })]);
        assert_eq!(cl.iter().filter(|o| o["kind"] == "ClusterRoleBinding").count(), 1);
        assert_eq!(cl.iter().filter(|o| o["kind"] == "ClusterRole").count(), POLICIES.len());
    }

    #[test]
    fn unknown_policies_are_not_enforced() {
        assert_eq!(role_for_policy("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"), Some("view"));
        assert_eq!(role_for_policy("arn:aws:eks::aws:cluster-access-policy/Nope"), None);
        assert_eq!(role_for_policy("AmazonEKSViewPolicy"), None);
    }
}
