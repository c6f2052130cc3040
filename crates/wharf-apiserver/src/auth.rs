//! Authentication (client certificates, bearer tokens) and authorization (RBAC evaluated
//! from the stored Roles, ClusterRoles and bindings, behind the `system:masters` superuser
//! group as in kube-apiserver).

use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

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

/// A bearer-token authenticator consulted when a token is not one of the static tokens
/// (as kube-apiserver's webhook token authenticator): EKS clusters verify `k8s-aws-v1.`
/// tokens against IAM with it. `None` means "not authenticated" (401).
pub trait TokenReviewer: Send + Sync + 'static {
    /// The user a token proves, if any.
    fn review<'a>(&'a self, token: &'a str) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<UserInfo>> + Send + 'a>>;
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
const RBAC: &str = "/registry/rbac.authorization.k8s.io/";
const RBAC_KINDS: [&str; 4] = ["clusterrolebindings/", "clusterroles/", "rolebindings/", "roles/"];

struct Binding {
    namespace: String,
    subjects: Vec<Value>,
    role_key: String,
}

/// The RBAC objects, parsed once per change: authorization runs on every request, and
/// parsing every binding and role each time made it the API server's hottest path.
struct Compiled {
    /// (count, highest mod revision) per RBAC kind: any create, update or delete changes it.
    fingerprint: Vec<(usize, i64)>,
    cluster: Vec<Binding>,
    namespaced: HashMap<String, Vec<Binding>>,
    rules: HashMap<String, Vec<Value>>,
}

/// A per-cluster cache of compiled RBAC state.
#[derive(Default)]
pub struct RbacCache {
    compiled: std::sync::Mutex<Option<Arc<Compiled>>>,
}

impl RbacCache {
    fn current(&self, cache: &WatchCache) -> Arc<Compiled> {
        let lists: Vec<Vec<Arc<crate::cache::CachedObject>>> =
            RBAC_KINDS.iter().map(|k| cache.list(&format!("{RBAC}{k}"), None, |_| true, usize::MAX).1).collect();
        let fingerprint: Vec<(usize, i64)> = lists.iter().map(|l| (l.len(), l.iter().map(|o| o.rev).max().unwrap_or(0))).collect();
        let mut guard = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = guard.as_ref().filter(|c| c.fingerprint == fingerprint) {
            return c.clone();
        }
        let mut compiled = Compiled { fingerprint, cluster: Vec::new(), namespaced: HashMap::new(), rules: HashMap::new() };
        for (kind, list) in RBAC_KINDS.iter().zip(&lists) {
            for o in list {
                let Ok(v) = o.value() else { continue };
                match *kind {
                    "clusterroles/" | "roles/" => {
                        compiled.rules.insert(o.key.clone(), v.get("rules").and_then(Value::as_array).cloned().unwrap_or_default());
                    }
                    _ => {
                        let namespace = v.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
                        let role_kind = v.pointer("/roleRef/kind").and_then(Value::as_str).unwrap_or_default();
                        let name = v.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or_default();
                        let role_key = match role_kind {
                            "ClusterRole" => format!("{RBAC}clusterroles/{name}"),
                            "Role" if !namespace.is_empty() => format!("{RBAC}roles/{namespace}/{name}"),
                            _ => continue,
                        };
                        let b = Binding { subjects: v.get("subjects").and_then(Value::as_array).cloned().unwrap_or_default(), role_key, namespace: namespace.clone() };
                        if *kind == "clusterrolebindings/" {
                            if b.role_key.starts_with(&format!("{RBAC}clusterroles/")) {
                                compiled.cluster.push(b);
                            }
                        } else {
                            compiled.namespaced.entry(namespace).or_default().push(b);
                        }
                    }
                }
            }
        }
        let c = Arc::new(compiled);
        *guard = Some(c.clone());
        c
    }
}

/// RBAC: whether any (Cluster)RoleBinding grants `a` to `user`.
pub fn authorize(cache: &WatchCache, rbac: &RbacCache, user: &UserInfo, a: &Attributes) -> bool {
    if user.groups.iter().any(|g| g == "system:masters") {
        return true;
    }
    let c = rbac.current(cache);
    let grants = |b: &Binding| {
        b.subjects.iter().any(|s| subject_matches(s, user, &b.namespace))
            && c.rules.get(&b.role_key).is_some_and(|rules| rules.iter().any(|r| rule_allows(r, a)))
    };
    if c.cluster.iter().any(grants) {
        return true;
    }
    a.resource_request && !a.namespace.is_empty() && c.namespaced.get(&a.namespace).is_some_and(|bs| bs.iter().any(grants))
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
