//! Authentication (client certificates, bearer tokens) and authorization (RBAC evaluated
//! from the stored Roles, ClusterRoles and bindings, behind the `system:masters` superuser
//! group as in kube-apiserver).

use serde_json::Value;
use std::collections::HashMap;

use crate::cache::WatchCache;

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// Groups, including `system:authenticated`.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// An authenticated user with `groups` (plus `system:authenticated`).
    pub fn new(name: impl Into<String>, groups: &[&str]) -> Self {
        let mut g: Vec<String> = groups.iter().map(|s| s.to_string()).collect();
        if !g.iter().any(|x| x == "system:authenticated") {
            g.push("system:authenticated".into());
        }
        Self { name: name.into(), groups: g }
    }

    /// The anonymous user.
    pub fn anonymous() -> Self {
        Self { name: "system:anonymous".into(), groups: vec!["system:unauthenticated".into()] }
    }
}

/// Reads the user from a DER client certificate: CN is the name, each O a group.
pub fn user_from_cert(der: &[u8]) -> Option<UserInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let cn = subject.iter_common_name().next()?.as_str().ok()?.to_string();
    let orgs: Vec<String> = subject.iter_organization().filter_map(|o| o.as_str().ok().map(str::to_string)).collect();
    let refs: Vec<&str> = orgs.iter().map(String::as_str).collect();
    Some(UserInfo::new(cn, &refs))
}

/// Static bearer tokens.
#[derive(Debug, Clone, Default)]
pub struct TokenAuthenticator {
    tokens: HashMap<String, UserInfo>,
}

impl TokenAuthenticator {
    /// Adds a token.
    pub fn insert(&mut self, token: String, user: UserInfo) {
        self.tokens.insert(token, user);
    }

    /// The user a token belongs to.
    pub fn authenticate(&self, token: &str) -> Option<UserInfo> {
        self.tokens.get(token).cloned()
    }
}

/// What a request wants to do, as RBAC sees it.
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: String,
    /// Whether this is a resource request (else a non-resource path).
    pub resource_request: bool,
    /// API group.
    pub api_group: String,
    /// Resource plural.
    pub resource: String,
    /// Subresource.
    pub subresource: String,
    /// Namespace ("" for cluster scope).
    pub namespace: String,
    /// Object name, when there is one.
    pub name: String,
    /// Request path (for non-resource requests).
    pub path: String,
}

impl Attributes {
    /// Kubernetes' forbidden message for this request.
    pub fn forbidden_message(&self, user: &UserInfo) -> String {
        if !self.resource_request {
            return format!("forbidden: User \"{}\" cannot {} path \"{}\"", user.name, self.verb, self.path);
        }
        let res = if self.subresource.is_empty() { self.resource.clone() } else { format!("{}/{}", self.resource, self.subresource) };
        let qualified = if self.api_group.is_empty() { self.resource.clone() } else { format!("{}.{}", self.resource, self.api_group) };
        let subject = if self.name.is_empty() { format!("{qualified} is forbidden") } else { format!("{qualified} \"{}\" is forbidden", self.name) };
        let scope = if self.namespace.is_empty() { "at the cluster scope".to_string() } else { format!("in the namespace \"{}\"", self.namespace) };
        format!("{subject}: User \"{}\" cannot {} resource \"{res}\" in API group \"{}\" {scope}", user.name, self.verb, self.api_group)
    }
}

fn strs(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    let verbs = strs(rule.get("verbs"));
    if !verbs.iter().any(|v| *v == "*" || *v == a.verb) {
        return false;
    }
    if !a.resource_request {
        return strs(rule.get("nonResourceURLs")).iter().any(|u| {
            *u == "*" || *u == a.path || (u.ends_with('*') && a.path.starts_with(&u[..u.len() - 1]))
        });
    }
    let groups = strs(rule.get("apiGroups"));
    if !groups.iter().any(|g| *g == "*" || *g == a.api_group) {
        return false;
    }
    let full = if a.subresource.is_empty() { a.resource.clone() } else { format!("{}/{}", a.resource, a.subresource) };
    let resources = strs(rule.get("resources"));
    let res_ok = resources.iter().any(|r| {
        *r == "*" || *r == full || (a.subresource.is_empty() && *r == a.resource) || (!a.subresource.is_empty() && *r == format!("*/{}", a.subresource))
    });
    if !res_ok {
        return false;
    }
    let names = strs(rule.get("resourceNames"));
    names.is_empty() || (!a.name.is_empty() && names.contains(&a.name.as_str()))
}

fn subject_matches(subject: &Value, user: &UserInfo, binding_ns: &str) -> bool {
    let kind = subject.get("kind").and_then(Value::as_str).unwrap_or_default();
    let name = subject.get("name").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "User" => user.name == name,
        "Group" => user.groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = subject.get("namespace").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or(binding_ns);
            user.name == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

/// Decides requests from the RBAC objects in the cache.
pub fn authorize(cache: &WatchCache, user: &UserInfo, a: &Attributes) -> bool {
    if user.groups.iter().any(|g| g == "system:masters") {
        return true;
    }
    let role_rules = |kind: &str, ns: &str, name: &str| -> Vec<Value> {
        let key = if kind == "ClusterRole" {
            format!("/registry/rbac.authorization.k8s.io/clusterroles/{name}")
        } else {
            format!("/registry/rbac.authorization.k8s.io/roles/{ns}/{name}")
        };
        cache.get(&key).and_then(|o| o.value().ok()).and_then(|v| v.get("rules").and_then(Value::as_array).cloned()).unwrap_or_default()
    };
    let check = |prefix: &str, cluster_scope: bool| -> bool {
        let (_, bindings, _) = cache.list(prefix, None, |_| true, usize::MAX);
        bindings.iter().filter_map(|b| b.value().ok()).any(|b| {
            let ns = b.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
            let subjects = b.get("subjects").and_then(Value::as_array).cloned().unwrap_or_default();
            if !subjects.iter().any(|s| subject_matches(s, user, ns)) {
                return false;
            }
            let kind = b.pointer("/roleRef/kind").and_then(Value::as_str).unwrap_or_default();
            let name = b.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or_default();
            if cluster_scope && kind != "ClusterRole" {
                return false;
            }
            role_rules(kind, ns, name).iter().any(|r| rule_allows(r, a))
        })
    };
    if check("/registry/rbac.authorization.k8s.io/clusterrolebindings/", true) {
        return true;
    }
    a.resource_request && !a.namespace.is_empty() && check(&format!("/registry/rbac.authorization.k8s.io/rolebindings/{}/", a.namespace), false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes { verb: verb.into(), resource_request: true, api_group: group.into(), resource: resource.into(), subresource: sub.into(), name: name.into(), namespace: "default".into(), path: String::new() }
    }

    #[test]
    fn rules_match_verbs_groups_resources_subresources_and_names() {
        let rule = json!({"verbs":["get","list"],"apiGroups":[""],"resources":["pods","pods/log"],"resourceNames":[]});
        assert!(rule_allows(&rule, &attrs("get", "", "pods", "", "x")));
        assert!(rule_allows(&rule, &attrs("get", "", "pods", "log", "x")));
        assert!(!rule_allows(&rule, &attrs("get", "", "pods", "exec", "x")));
        assert!(!rule_allows(&rule, &attrs("delete", "", "pods", "", "x")));
        assert!(!rule_allows(&rule, &attrs("get", "apps", "pods", "", "x")));
        let named = json!({"verbs":["*"],"apiGroups":["*"],"resources":["*"],"resourceNames":["only"]});
        assert!(rule_allows(&named, &attrs("update", "apps", "deployments", "", "only")));
        assert!(!rule_allows(&named, &attrs("list", "apps", "deployments", "", "")));
    }

    #[test]
    fn forbidden_message_has_kubernetes_shape() {
        let u = UserInfo::new("alice", &[]);
        assert_eq!(
            attrs("list", "", "configmaps", "", "").forbidden_message(&u),
            "configmaps is forbidden: User \"alice\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""
        );
        assert_eq!(
            attrs("get", "apps", "deployments", "scale", "web").forbidden_message(&u),
            "deployments.apps \"web\" is forbidden: User \"alice\" cannot get resource \"deployments/scale\" in API group \"apps\" in the namespace \"default\""
        );
    }
}
