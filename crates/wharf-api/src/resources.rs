//! The table of resources Wharf serves: group, version, plural, kind, scope, short names,
//! verbs and subresources. The API server's generic store and discovery are driven by it;
//! CustomResourceDefinitions add rows at run time.

/// A group/version/resource triple.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupVersionResource {
    /// API group, empty for the core group.
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Plural lower-case resource name, e.g. `deployments`.
    pub resource: String,
}

/// Everything the API server needs to know to serve one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceInfo {
    /// API group, empty for the core group.
    pub group: String,
    /// Served version.
    pub version: String,
    /// Plural name used in URLs.
    pub resource: String,
    /// Singular name.
    pub singular: String,
    /// Kind of the objects.
    pub kind: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: Vec<String>,
    /// Categories such as `all`.
    pub categories: Vec<String>,
    /// Verbs served.
    pub verbs: Vec<String>,
    /// Subresources served (`status`, `scale`, `binding`, `eviction`).
    pub subresources: Vec<String>,
    /// Group of the storage key; several served resources may share storage.
    pub storage_group: String,
}

impl ResourceInfo {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The group/version/resource triple.
    pub fn gvr(&self) -> GroupVersionResource {
        GroupVersionResource { group: self.group.clone(), version: self.version.clone(), resource: self.resource.clone() }
    }

    /// The datastore key prefix for all objects of this resource (ends with `/`).
    pub fn key_prefix(&self) -> String {
        let g = if self.storage_group.is_empty() { "core" } else { &self.storage_group };
        format!("/registry/{g}/{}/", self.resource)
    }

    /// The datastore key prefix of this resource within one namespace (ends with `/`).
    pub fn namespace_prefix(&self, namespace: &str) -> String {
        format!("{}{namespace}/", self.key_prefix())
    }

    /// The datastore key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/{name}", self.key_prefix()),
            _ => format!("{}{name}", self.key_prefix()),
        }
    }

    /// Whether the resource serves a subresource.
    pub fn has_subresource(&self, sub: &str) -> bool {
        self.subresources.iter().any(|s| s == sub)
    }
}

const ALL_VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

struct Row(&'static str, &'static str, &'static str, &'static str, bool, &'static [&'static str], &'static [&'static str], &'static [&'static str]);

// group, version, resource, kind, namespaced, short names, categories, subresources
const BUILTIN: &[Row] = &[
    Row("", "v1", "namespaces", "Namespace", false, &["ns"], &[], &["status", "finalize"]),
    Row("", "v1", "configmaps", "ConfigMap", true, &["cm"], &[], &[]),
    Row("", "v1", "secrets", "Secret", true, &[], &[], &[]),
    Row("", "v1", "serviceaccounts", "ServiceAccount", true, &["sa"], &[], &[]),
    Row("", "v1", "pods", "Pod", true, &["po"], &["all"], &["status", "binding", "eviction", "log", "exec", "attach", "portforward"]),
    Row("", "v1", "nodes", "Node", false, &["no"], &[], &["status"]),
    Row("", "v1", "services", "Service", true, &["svc"], &["all"], &["status"]),
    Row("", "v1", "endpoints", "Endpoints", true, &["ep"], &[], &[]),
    Row("", "v1", "events", "Event", true, &["ev"], &[], &[]),
    Row("", "v1", "persistentvolumes", "PersistentVolume", false, &["pv"], &[], &["status"]),
    Row("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, &["pvc"], &[], &["status"]),
    Row("", "v1", "replicationcontrollers", "ReplicationController", true, &["rc"], &["all"], &["status", "scale"]),
    Row("", "v1", "podtemplates", "PodTemplate", true, &[], &[], &[]),
    Row("", "v1", "limitranges", "LimitRange", true, &["limits"], &[], &[]),
    Row("", "v1", "resourcequotas", "ResourceQuota", true, &["quota"], &[], &["status"]),
    Row("apps", "v1", "deployments", "Deployment", true, &["deploy"], &["all"], &["status", "scale"]),
    Row("apps", "v1", "replicasets", "ReplicaSet", true, &["rs"], &["all"], &["status", "scale"]),
    Row("apps", "v1", "statefulsets", "StatefulSet", true, &["sts"], &["all"], &["status", "scale"]),
    Row("apps", "v1", "daemonsets", "DaemonSet", true, &["ds"], &["all"], &["status"]),
    Row("apps", "v1", "controllerrevisions", "ControllerRevision", true, &[], &[], &[]),
    Row("batch", "v1", "jobs", "Job", true, &[], &["all"], &["status"]),
    Row("batch", "v1", "cronjobs", "CronJob", true, &["cj"], &["all"], &["status"]),
    Row("coordination.k8s.io", "v1", "leases", "Lease", true, &[], &[], &[]),
    Row("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, &["pdb"], &[], &["status"]),
    Row("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, &["hpa"], &["all"], &["status"]),
    Row("rbac.authorization.k8s.io", "v1", "roles", "Role", true, &[], &[], &[]),
    Row("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, &[], &[], &[]),
    Row("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, &[], &[], &[]),
    Row("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, &[], &[], &[]),
    Row("storage.k8s.io", "v1", "storageclasses", "StorageClass", false, &["sc"], &[], &[]),
    Row("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", false, &["pc"], &[], &[]),
    Row("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, &["crd", "crds"], &["api-extensions"], &["status"]),
    Row("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, &[], &[], &[]),
    Row("events.k8s.io", "v1", "events", "Event", true, &["ev"], &[], &[]),
    Row("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", false, &[], &[], &[]),
    Row("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", false, &[], &[], &[]),
    Row("authorization.k8s.io", "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", true, &[], &[], &[]),
    Row("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", false, &[], &[], &[]),
];

/// Review kinds: evaluated on `create` and never stored.
pub const REVIEW_GROUPS: &[&str] = &["authorization.k8s.io", "authentication.k8s.io"];

/// Served resources that share another group's storage: (group, resource, storage group).
/// `events.k8s.io` Events are core Events converted at the edges, as in Kubernetes.
const SHARED_STORAGE: &[(&str, &str, &str)] = &[("events.k8s.io", "events", "")];

fn storage_group<'a>(group: &'a str, resource: &str) -> &'a str {
    SHARED_STORAGE.iter().find(|(g, r, _)| *g == group && *r == resource).map(|(_, _, s)| *s).unwrap_or(group)
}

/// The built-in resources, in discovery order.
pub fn builtin() -> Vec<ResourceInfo> {
    BUILTIN
        .iter()
        .map(|Row(group, version, resource, kind, namespaced, short, cats, subs)| ResourceInfo {
            group: group.to_string(),
            version: version.to_string(),
            resource: resource.to_string(),
            singular: kind.to_ascii_lowercase(),
            kind: kind.to_string(),
            namespaced: *namespaced,
            short_names: short.iter().map(|s| s.to_string()).collect(),
            categories: cats.iter().map(|s| s.to_string()).collect(),
            verbs: if REVIEW_GROUPS.contains(group) { vec!["create".to_string()] } else { ALL_VERBS.iter().map(|s| s.to_string()).collect() },
            subresources: subs.iter().map(|s| s.to_string()).collect(),
            storage_group: storage_group(group, resource).to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_groups_namespaces_and_cluster_scope() {
        let all = builtin();
        let deploy = all.iter().find(|r| r.resource == "deployments").cloned();
        let ns = all.iter().find(|r| r.resource == "namespaces").cloned();
        let (Some(deploy), Some(ns)) = (deploy, ns) else { panic!("missing builtins") };
        assert_eq!(deploy.key(Some("default"), "web"), "/registry/apps/deployments/default/web");
        assert_eq!(ns.key(Some("ignored"), "kube-system"), "/registry/core/namespaces/kube-system");
        assert_eq!(deploy.api_version(), "apps/v1");
        assert_eq!(ns.api_version(), "v1");
    }

    #[test]
    fn both_event_apis_share_the_core_event_storage() {
        let all = builtin();
        let events: Vec<&ResourceInfo> = all.iter().filter(|r| r.resource == "events").collect();
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|r| r.key(Some("d"), "e") == "/registry/core/events/d/e"), "{events:?}");
    }
}
