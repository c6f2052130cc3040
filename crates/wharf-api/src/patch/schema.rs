//! Patch metadata (`patchStrategy` / `patchMergeKey` struct tags) of the built-in kinds, as the
//! strategic merge patch consults it.
//!
//! The tables below were derived from the Go struct tags of `k8s.io/api` (core/v1, apps/v1,
//! batch/v1, coordination/v1, policy/v1, autoscaling/v2, rbac/v1, storage/v1, scheduling/v1,
//! discovery/v1, events/v1, scheduling/v1alpha3), `k8s.io/apimachinery` (meta/v1) and
//! `k8s.io/apiextensions-apiserver` (apiextensions/v1), as of July 2026 (k8s.io/api
//! 10b39a39, apimachinery eed236ce, apiextensions-apiserver 1aa2717a). They keep only the fields that carry patch
//! metadata or lead to a struct that does: every other field has no strategy, so its lists are
//! replaced and its maps merged, which is what Kubernetes does for a field without tags.
//! Embedded (inline) structs are flattened into the struct that embeds them, and a pod template
//! (`PodTemplateSpec`) points at the same `PodSpec` table wherever it appears.
//!
//! Two liberties are taken with the Go types: the `JSONSchemaPropsOr…` wrappers of
//! apiextensions/v1 (custom JSON encodings) are read as `JSONSchemaProps`, and a
//! `map[string]JSONSchemaProps` (`properties`, …) is looked into, where Go's lookup would fail.
//! Neither matters in practice: CRD `spec.versions` has no merge strategy, so a strategic merge
//! patch replaces it wholesale before reaching a schema.

/// The `patchStrategy` tag of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strategy {
    /// No tag: lists are replaced, maps merged.
    None,
    /// `merge`: lists are merged (by the merge key for lists of objects, as sets for primitives).
    Merge,
    /// `merge,retainKeys`: merged list whose items may carry `$retainKeys`.
    MergeRetainKeys,
    /// `retainKeys`: a union-like struct; only the `$retainKeys` directive matters when applying.
    RetainKeys,
    /// `replace`: the map is replaced by the patch rather than merged.
    Replace,
}

use Strategy as S;

/// One field of a struct: JSON name, strategy, merge key ("" for none) and the struct its value
/// (or each item of its list) is, when that struct has patch metadata of its own.
#[derive(Debug)]
pub(super) struct F(&'static str, Strategy, &'static str, Option<&'static Node>);

/// A Go struct, reduced to the fields that matter for a strategic merge patch.
#[derive(Debug)]
pub(super) struct Node {
    /// The Go type as `group/version.Name` (`core/v1.PodSpec`); empty for a node that stands
    /// for no single type (the shared "metadata only" root, test structs).
    go_type: &'static str,
    /// Fields with patch metadata, or leading to some.
    fields: &'static [F],
    /// For a `map[string]T`: the node of every value.
    values: Option<&'static Node>,
}

/// Where in the schema a value sits: `None` for a place the tables know nothing about (a field
/// without metadata, a map value, an unknown field), where every nested field has no strategy.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Schema(Option<&'static Node>);

/// What the schema says about one field.
#[derive(Debug, Clone, Copy)]
pub(super) struct FieldMeta {
    /// The field's `patchStrategy`.
    pub(super) strategy: Strategy,
    /// The field's `patchMergeKey`, if any.
    pub(super) merge_key: Option<&'static str>,
    /// The schema of the field's value (or of each item, for a list).
    pub(super) schema: Schema,
}

impl FieldMeta {
    const NONE: FieldMeta = FieldMeta { strategy: Strategy::None, merge_key: None, schema: Schema(None) };

    /// Whether a list in this field is merged rather than replaced.
    pub(super) fn merges_lists(&self) -> bool {
        matches!(self.strategy, Strategy::Merge | Strategy::MergeRetainKeys)
    }

    /// Whether a map in this field is replaced rather than merged.
    pub(super) fn replaces_maps(&self) -> bool {
        self.strategy == Strategy::Replace
    }
}

impl Schema {
    /// The schema of the root of an object of this kind, if the tables have it.
    pub(super) fn for_kind(group: &str, kind: &str) -> Option<Schema> {
        KINDS.iter().find(|(g, k, _)| *g == group && *k == kind).map(|(_, _, node)| Schema(Some(node)))
    }

    /// What the schema says about the field `name` of the struct at this place.
    pub(super) fn field(self, name: &str) -> FieldMeta {
        let Some(node) = self.0 else { return FieldMeta::NONE };
        if let Some(F(_, strategy, merge_key, child)) = node.fields.iter().find(|f| f.0 == name) {
            return FieldMeta {
                strategy: *strategy,
                merge_key: (!merge_key.is_empty()).then_some(*merge_key),
                schema: Schema(*child),
            };
        }
        match node.values {
            Some(values) => FieldMeta { schema: Schema(Some(values)), ..FieldMeta::NONE },
            None => FieldMeta::NONE,
        }
    }
}

/// Every field with a strategy, of every named node reachable from a kind, once per Go type,
/// in the order the kinds are listed.
pub(super) fn patch_fields() -> Vec<super::PatchField> {
    let mut seen: Vec<&'static Node> = Vec::new();
    let mut out = Vec::new();
    let mut stack: Vec<&'static Node> = KINDS.iter().rev().map(|(_, _, node)| *node).collect();
    while let Some(node) = stack.pop() {
        if seen.iter().any(|n| std::ptr::eq(*n, node)) {
            continue;
        }
        seen.push(node);
        if !node.go_type.is_empty() {
            for F(field, strategy, merge_key, _) in node.fields {
                let tag = match strategy {
                    S::None => continue,
                    S::Merge => "merge",
                    S::MergeRetainKeys => "merge,retainKeys",
                    S::RetainKeys => "retainKeys",
                    S::Replace => "replace",
                };
                out.push(super::PatchField { go_type: node.go_type, field, strategy: tag, merge_key: (!merge_key.is_empty()).then_some(*merge_key) });
            }
        }
        stack.extend(node.values);
        stack.extend(node.fields.iter().rev().filter_map(|f| f.3));
    }
    out
}

/// The schema of the test struct of `strategicpatch`'s own unit tests (`MergeItem`), so that its
/// test cases can be replayed against this implementation.
#[cfg(test)]
pub(super) fn merge_item_for_tests() -> Schema {
    Schema(Some(&TEST_MERGE_ITEM))
}

#[cfg(test)]
static TEST_MERGE_ITEM: Node = Node {
    go_type: "",
    fields: &[
        F("mergingList", S::Merge, "name", Some(&TEST_MERGE_ITEM)),
        F("nonMergingList", S::None, "", Some(&TEST_MERGE_ITEM)),
        F("mergingIntList", S::Merge, "", None),
        F("mergeItemPtr", S::Merge, "name", Some(&TEST_MERGE_ITEM)),
        F("replacingItem", S::Replace, "", None),
        F("retainKeysMap", S::RetainKeys, "", Some(&TEST_RETAIN_KEYS_MERGE_ITEM)),
        F("retainKeysMergingList", S::MergeRetainKeys, "name", Some(&TEST_MERGE_ITEM)),
    ],
    values: None,
};

#[cfg(test)]
static TEST_RETAIN_KEYS_MERGE_ITEM: Node = Node {
    go_type: "",
    fields: &[
        F("mergingIntList", S::Merge, "", None),
        F("mergingList", S::Merge, "name", Some(&TEST_MERGE_ITEM)),
        F("nonMergingList", S::None, "", Some(&TEST_MERGE_ITEM)),
    ],
    values: None,
};

// ---------------------------------------------------------------------------------------------
// Tables derived from the Go struct tags.
// ---------------------------------------------------------------------------------------------

/// `core/v1.Pod`
static CORE_V1_POD: Node = Node {
    go_type: "core/v1.Pod",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("spec", S::None, "", Some(&CORE_V1_POD_SPEC)),
        F("status", S::None, "", Some(&CORE_V1_POD_STATUS)),
    ],
    values: None,
};

/// `meta/v1.ObjectMeta`
static META_V1_OBJECT_META: Node =
    Node { go_type: "meta/v1.ObjectMeta", fields: &[F("ownerReferences", S::Merge, "uid", None), F("finalizers", S::Merge, "", None)], values: None };

/// `core/v1.PodSpec`
static CORE_V1_POD_SPEC: Node = Node {
    go_type: "core/v1.PodSpec",
    fields: &[
        F("volumes", S::MergeRetainKeys, "name", Some(&CORE_V1_VOLUME)),
        F("initContainers", S::Merge, "name", Some(&CORE_V1_CONTAINER)),
        F("containers", S::Merge, "name", Some(&CORE_V1_CONTAINER)),
        F("ephemeralContainers", S::Merge, "name", Some(&CORE_V1_EPHEMERAL_CONTAINER)),
        F("imagePullSecrets", S::Merge, "name", None),
        F("hostAliases", S::Merge, "ip", None),
        F("topologySpreadConstraints", S::Merge, "topologyKey", None),
        F("schedulingGates", S::Merge, "name", None),
        F("resourceClaims", S::MergeRetainKeys, "name", None),
        F("evictionResponders", S::Merge, "name", None),
    ],
    values: None,
};

/// `core/v1.Volume`
static CORE_V1_VOLUME: Node =
    Node { go_type: "core/v1.Volume", fields: &[F("ephemeral", S::None, "", Some(&CORE_V1_EPHEMERAL_VOLUME_SOURCE))], values: None };

/// `core/v1.EphemeralVolumeSource`
static CORE_V1_EPHEMERAL_VOLUME_SOURCE: Node = Node {
    go_type: "core/v1.EphemeralVolumeSource",
    fields: &[F("volumeClaimTemplate", S::None, "", Some(&CORE_V1_PERSISTENT_VOLUME_CLAIM_TEMPLATE))],
    values: None,
};

/// `core/v1.PersistentVolumeClaimTemplate`
static CORE_V1_PERSISTENT_VOLUME_CLAIM_TEMPLATE: Node =
    Node { go_type: "core/v1.PersistentVolumeClaimTemplate", fields: &[F("metadata", S::None, "", Some(&META_V1_OBJECT_META))], values: None };

/// `core/v1.Container`
static CORE_V1_CONTAINER: Node = Node {
    go_type: "core/v1.Container",
    fields: &[
        F("ports", S::Merge, "containerPort", None),
        F("env", S::Merge, "name", None),
        F("volumeMounts", S::Merge, "mountPath", None),
        F("volumeDevices", S::Merge, "devicePath", None),
    ],
    values: None,
};

/// `core/v1.EphemeralContainer`
static CORE_V1_EPHEMERAL_CONTAINER: Node = Node {
    go_type: "core/v1.EphemeralContainer",
    fields: &[
        F("ports", S::Merge, "containerPort", None),
        F("env", S::Merge, "name", None),
        F("volumeMounts", S::Merge, "mountPath", None),
        F("volumeDevices", S::Merge, "devicePath", None),
    ],
    values: None,
};

/// `core/v1.PodStatus`
static CORE_V1_POD_STATUS: Node = Node {
    go_type: "core/v1.PodStatus",
    fields: &[
        F("conditions", S::Merge, "type", None),
        F("hostIPs", S::Merge, "ip", None),
        F("podIPs", S::Merge, "ip", None),
        F("initContainerStatuses", S::None, "", Some(&CORE_V1_CONTAINER_STATUS)),
        F("containerStatuses", S::None, "", Some(&CORE_V1_CONTAINER_STATUS)),
        F("ephemeralContainerStatuses", S::None, "", Some(&CORE_V1_CONTAINER_STATUS)),
        F("resourceClaimStatuses", S::MergeRetainKeys, "name", None),
        F(
            "nodeAllocatableResourceClaimStatuses",
            S::Merge,
            "resourceClaimName",
            Some(&CORE_V1_NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS),
        ),
        F("volumeHealth", S::None, "", Some(&CORE_V1_POD_VOLUME_HEALTH)),
    ],
    values: None,
};

/// `core/v1.ContainerStatus`
static CORE_V1_CONTAINER_STATUS: Node = Node {
    go_type: "core/v1.ContainerStatus",
    fields: &[F("volumeMounts", S::Merge, "mountPath", None), F("allocatedResourcesStatus", S::Merge, "name", None)],
    values: None,
};

/// `core/v1.NodeAllocatableResourceClaimStatus`
static CORE_V1_NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS: Node =
    Node { go_type: "core/v1.NodeAllocatableResourceClaimStatus", fields: &[F("mapping", S::Merge, "name", None), F("overhead", S::Merge, "name", None)], values: None };

/// `core/v1.PodVolumeHealth`
static CORE_V1_POD_VOLUME_HEALTH: Node =
    Node { go_type: "core/v1.PodVolumeHealth", fields: &[F("healthConditions", S::Merge, "status", None)], values: None };

/// `core/v1.PodTemplate`
static CORE_V1_POD_TEMPLATE: Node = Node {
    go_type: "core/v1.PodTemplate",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("template", S::None, "", Some(&CORE_V1_POD_TEMPLATE_SPEC)),
    ],
    values: None,
};

/// `core/v1.PodTemplateSpec`
static CORE_V1_POD_TEMPLATE_SPEC: Node = Node {
    go_type: "core/v1.PodTemplateSpec",
    fields: &[F("metadata", S::None, "", Some(&META_V1_OBJECT_META)), F("spec", S::None, "", Some(&CORE_V1_POD_SPEC))],
    values: None,
};

/// `core/v1.ReplicationController`
static CORE_V1_REPLICATION_CONTROLLER: Node = Node {
    go_type: "core/v1.ReplicationController",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("spec", S::None, "", Some(&CORE_V1_REPLICATION_CONTROLLER_SPEC)),
        F("status", S::None, "", Some(&CORE_V1_REPLICATION_CONTROLLER_STATUS)),
    ],
    values: None,
};

/// `core/v1.ReplicationControllerSpec`
static CORE_V1_REPLICATION_CONTROLLER_SPEC: Node =
    Node { go_type: "core/v1.ReplicationControllerSpec", fields: &[F("template", S::None, "", Some(&CORE_V1_POD_TEMPLATE_SPEC))], values: None };

/// `core/v1.ReplicationControllerStatus`
static CORE_V1_REPLICATION_CONTROLLER_STATUS: Node =
    Node { go_type: "core/v1.ReplicationControllerStatus", fields: &[F("conditions", S::Merge, "type", None)], values: None };

/// `core/v1.Service`
static CORE_V1_SERVICE: Node = Node {
    go_type: "core/v1.Service",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("spec", S::None, "", Some(&CORE_V1_SERVICE_SPEC)),
        F("status", S::None, "", Some(&CORE_V1_SERVICE_STATUS)),
    ],
    values: None,
};

/// `core/v1.ServiceSpec`
static CORE_V1_SERVICE_SPEC: Node = Node { go_type: "core/v1.ServiceSpec", fields: &[F("ports", S::Merge, "port", None)], values: None };

/// `core/v1.ServiceStatus`
static CORE_V1_SERVICE_STATUS: Node = Node { go_type: "core/v1.ServiceStatus", fields: &[F("conditions", S::Merge, "type", None)], values: None };

/// `core/v1.Node`
static CORE_V1_NODE: Node = Node {
    go_type: "core/v1.Node",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("spec", S::None, "", Some(&CORE_V1_NODE_SPEC)),
        F("status", S::None, "", Some(&CORE_V1_NODE_STATUS)),
    ],
    values: None,
};

/// `core/v1.NodeSpec`
static CORE_V1_NODE_SPEC: Node = Node { go_type: "core/v1.NodeSpec", fields: &[F("podCIDRs", S::Merge, "", None)], values: None };

/// `core/v1.NodeStatus`
static CORE_V1_NODE_STATUS: Node =
    Node { go_type: "core/v1.NodeStatus", fields: &[F("conditions", S::Merge, "type", None), F("addresses", S::Merge, "type", None)], values: None };

/// `core/v1.Namespace`
static CORE_V1_NAMESPACE: Node = Node {
    go_type: "core/v1.Namespace",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("status", S::None, "", Some(&CORE_V1_NAMESPACE_STATUS)),
    ],
    values: None,
};

/// `core/v1.NamespaceStatus`
static CORE_V1_NAMESPACE_STATUS: Node = Node { go_type: "core/v1.NamespaceStatus", fields: &[F("conditions", S::Merge, "type", None)], values: None };

/// `core/v1.ServiceAccount`
static CORE_V1_SERVICE_ACCOUNT: Node = Node {
    go_type: "core/v1.ServiceAccount",
    fields: &[F("metadata", S::None, "", Some(&META_V1_OBJECT_META)), F("secrets", S::Merge, "name", None)],
    values: None,
};

/// `core/v1.PersistentVolumeClaim`
static CORE_V1_PERSISTENT_VOLUME_CLAIM: Node = Node {
    go_type: "core/v1.PersistentVolumeClaim",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("status", S::None, "", Some(&CORE_V1_PERSISTENT_VOLUME_CLAIM_STATUS)),
    ],
    values: None,
};

/// `core/v1.PersistentVolumeClaimStatus`
static CORE_V1_PERSISTENT_VOLUME_CLAIM_STATUS: Node = Node {
    go_type: "core/v1.PersistentVolumeClaimStatus",
    fields: &[
        F("conditions", S::Merge, "type", None),
        F("healthStatus", S::None, "", Some(&CORE_V1_VOLUME_HEALTH_STATUS)),
    ],
    values: None,
};

/// `core/v1.VolumeHealthStatus`
static CORE_V1_VOLUME_HEALTH_STATUS: Node =
    Node { go_type: "core/v1.VolumeHealthStatus", fields: &[F("healthConditions", S::Merge, "status", None)], values: None };

/// `apps/v1.Deployment`
static APPS_V1_DEPLOYMENT: Node = Node {
    go_type: "apps/v1.Deployment",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("spec", S::None, "", Some(&APPS_V1_DEPLOYMENT_SPEC)),
        F("status", S::None, "", Some(&APPS_V1_DEPLOYMENT_STATUS)),
    ],
    values: None,
};

/// `apps/v1.DeploymentSpec`
static APPS_V1_DEPLOYMENT_SPEC: Node = Node {
    go_type: "apps/v1.DeploymentSpec",
    fields: &[F("template", S::None, "", Some(&CORE_V1_POD_TEMPLATE_SPEC)), F("strategy", S::RetainKeys, "", None)],
    values: None,
};

/// `apps/v1.DeploymentStatus`
static APPS_V1_DEPLOYMENT_STATUS: Node = Node { go_type: "apps/v1.DeploymentStatus", fields: &[F("conditions", S::Merge, "type", None)], values: None };

/// `apps/v1.ReplicaSet`
static APPS_V1_REPLICA_SET: Node = Node {
    go_type: "apps/v1.ReplicaSet",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("spec", S::None, "", Some(&APPS_V1_REPLICA_SET_SPEC)),
        F("status", S::None, "", Some(&APPS_V1_REPLICA_SET_STATUS)),
    ],
    values: None,
};

/// `apps/v1.ReplicaSetSpec`
static APPS_V1_REPLICA_SET_SPEC: Node =
    Node { go_type: "apps/v1.ReplicaSetSpec", fields: &[F("template", S::None, "", Some(&CORE_V1_POD_TEMPLATE_SPEC))], values: None };

/// `apps/v1.ReplicaSetStatus`
static APPS_V1_REPLICA_SET_STATUS: Node = Node { go_type: "apps/v1.ReplicaSetStatus", fields: &[F("conditions", S::Merge, "type", None)], values: None };

/// `apps/v1.StatefulSet`
static APPS_V1_STATEFUL_SET: Node = Node {
    go_type: "apps/v1.StatefulSet",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("spec", S::None, "", Some(&APPS_V1_STATEFUL_SET_SPEC)),
        F("status", S::None, "", Some(&APPS_V1_STATEFUL_SET_STATUS)),
    ],
    values: None,
};

/// `apps/v1.StatefulSetSpec`
static APPS_V1_STATEFUL_SET_SPEC: Node = Node {
    go_type: "apps/v1.StatefulSetSpec",
    fields: &[
        F("template", S::None, "", Some(&CORE_V1_POD_TEMPLATE_SPEC)),
        F("volumeClaimTemplates", S::None, "", Some(&CORE_V1_PERSISTENT_VOLUME_CLAIM)),
    ],
    values: None,
};

/// `apps/v1.StatefulSetStatus`
static APPS_V1_STATEFUL_SET_STATUS: Node = Node { go_type: "apps/v1.StatefulSetStatus", fields: &[F("conditions", S::Merge, "type", None)], values: None };

/// `apps/v1.DaemonSet`
static APPS_V1_DAEMON_SET: Node = Node {
    go_type: "apps/v1.DaemonSet",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("spec", S::None, "", Some(&APPS_V1_DAEMON_SET_SPEC)),
        F("status", S::None, "", Some(&APPS_V1_DAEMON_SET_STATUS)),
    ],
    values: None,
};

/// `apps/v1.DaemonSetSpec`
static APPS_V1_DAEMON_SET_SPEC: Node =
    Node { go_type: "apps/v1.DaemonSetSpec", fields: &[F("template", S::None, "", Some(&CORE_V1_POD_TEMPLATE_SPEC))], values: None };

/// `apps/v1.DaemonSetStatus`
static APPS_V1_DAEMON_SET_STATUS: Node = Node { go_type: "apps/v1.DaemonSetStatus", fields: &[F("conditions", S::Merge, "type", None)], values: None };

/// `batch/v1.Job`
static BATCH_V1_JOB: Node = Node {
    go_type: "batch/v1.Job",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("spec", S::None, "", Some(&BATCH_V1_JOB_SPEC)),
        F("status", S::None, "", Some(&BATCH_V1_JOB_STATUS)),
    ],
    values: None,
};

/// `batch/v1.JobSpec`
static BATCH_V1_JOB_SPEC: Node = Node {
    go_type: "batch/v1.JobSpec",
    fields: &[
        F("template", S::None, "", Some(&CORE_V1_POD_TEMPLATE_SPEC)),
        F("scheduling", S::None, "", Some(&BATCH_V1_JOB_SCHEDULING_CONFIGURATION)),
    ],
    values: None,
};

/// `batch/v1.JobSchedulingConfiguration`
static BATCH_V1_JOB_SCHEDULING_CONFIGURATION: Node =
    Node { go_type: "batch/v1.JobSchedulingConfiguration", fields: &[F("resourceClaims", S::Merge, "name", None)], values: None };

/// `batch/v1.JobStatus`
static BATCH_V1_JOB_STATUS: Node = Node { go_type: "batch/v1.JobStatus", fields: &[F("conditions", S::Merge, "type", None)], values: None };

/// `batch/v1.CronJob`
static BATCH_V1_CRON_JOB: Node = Node {
    go_type: "batch/v1.CronJob",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("spec", S::None, "", Some(&BATCH_V1_CRON_JOB_SPEC)),
    ],
    values: None,
};

/// `batch/v1.CronJobSpec`
static BATCH_V1_CRON_JOB_SPEC: Node =
    Node { go_type: "batch/v1.CronJobSpec", fields: &[F("jobTemplate", S::None, "", Some(&BATCH_V1_JOB_TEMPLATE_SPEC))], values: None };

/// `batch/v1.JobTemplateSpec`
static BATCH_V1_JOB_TEMPLATE_SPEC: Node = Node {
    go_type: "batch/v1.JobTemplateSpec",
    fields: &[F("metadata", S::None, "", Some(&META_V1_OBJECT_META)), F("spec", S::None, "", Some(&BATCH_V1_JOB_SPEC))],
    values: None,
};

/// `policy/v1.PodDisruptionBudget`
static POLICY_V1_POD_DISRUPTION_BUDGET: Node = Node {
    go_type: "policy/v1.PodDisruptionBudget",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("spec", S::None, "", Some(&POLICY_V1_POD_DISRUPTION_BUDGET_SPEC)),
        F("status", S::None, "", Some(&POLICY_V1_POD_DISRUPTION_BUDGET_STATUS)),
    ],
    values: None,
};

/// `policy/v1.PodDisruptionBudgetSpec`
static POLICY_V1_POD_DISRUPTION_BUDGET_SPEC: Node =
    Node { go_type: "policy/v1.PodDisruptionBudgetSpec", fields: &[F("selector", S::Replace, "", None)], values: None };

/// `policy/v1.PodDisruptionBudgetStatus`
static POLICY_V1_POD_DISRUPTION_BUDGET_STATUS: Node =
    Node { go_type: "policy/v1.PodDisruptionBudgetStatus", fields: &[F("conditions", S::Merge, "type", None)], values: None };

/// `autoscaling/v2.HorizontalPodAutoscaler`
static AUTOSCALING_V2_HORIZONTAL_POD_AUTOSCALER: Node = Node {
    go_type: "autoscaling/v2.HorizontalPodAutoscaler",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("status", S::None, "", Some(&AUTOSCALING_V2_HORIZONTAL_POD_AUTOSCALER_STATUS)),
    ],
    values: None,
};

/// `autoscaling/v2.HorizontalPodAutoscalerStatus`
static AUTOSCALING_V2_HORIZONTAL_POD_AUTOSCALER_STATUS: Node =
    Node { go_type: "autoscaling/v2.HorizontalPodAutoscalerStatus", fields: &[F("conditions", S::Merge, "type", None)], values: None };

/// `apiextensions/v1.CustomResourceDefinition`
static APIEXTENSIONS_V1_CUSTOM_RESOURCE_DEFINITION: Node = Node {
    go_type: "apiextensions/v1.CustomResourceDefinition",
    fields: &[
        F("metadata", S::None, "", Some(&META_V1_OBJECT_META)),
        F("spec", S::None, "", Some(&APIEXTENSIONS_V1_CUSTOM_RESOURCE_DEFINITION_SPEC)),
    ],
    values: None,
};

/// `apiextensions/v1.CustomResourceDefinitionSpec`
static APIEXTENSIONS_V1_CUSTOM_RESOURCE_DEFINITION_SPEC: Node = Node {
    go_type: "apiextensions/v1.CustomResourceDefinitionSpec",
    fields: &[F("versions", S::None, "", Some(&APIEXTENSIONS_V1_CUSTOM_RESOURCE_DEFINITION_VERSION))],
    values: None,
};

/// `apiextensions/v1.CustomResourceDefinitionVersion`
static APIEXTENSIONS_V1_CUSTOM_RESOURCE_DEFINITION_VERSION: Node =
    Node { go_type: "apiextensions/v1.CustomResourceDefinitionVersion", fields: &[F("schema", S::None, "", Some(&APIEXTENSIONS_V1_CUSTOM_RESOURCE_VALIDATION))], values: None };

/// `apiextensions/v1.CustomResourceValidation`
static APIEXTENSIONS_V1_CUSTOM_RESOURCE_VALIDATION: Node =
    Node { go_type: "apiextensions/v1.CustomResourceValidation", fields: &[F("openAPIV3Schema", S::None, "", Some(&APIEXTENSIONS_V1_JSONSCHEMA_PROPS))], values: None };

/// `apiextensions/v1.JSONSchemaProps`
static APIEXTENSIONS_V1_JSONSCHEMA_PROPS: Node = Node {
    go_type: "apiextensions/v1.JSONSchemaProps",
    fields: &[
        F("items", S::None, "", Some(&APIEXTENSIONS_V1_JSONSCHEMA_PROPS)),
        F("allOf", S::None, "", Some(&APIEXTENSIONS_V1_JSONSCHEMA_PROPS)),
        F("oneOf", S::None, "", Some(&APIEXTENSIONS_V1_JSONSCHEMA_PROPS)),
        F("anyOf", S::None, "", Some(&APIEXTENSIONS_V1_JSONSCHEMA_PROPS)),
        F("not", S::None, "", Some(&APIEXTENSIONS_V1_JSONSCHEMA_PROPS)),
        F("properties", S::None, "", Some(&MAP_OF_APIEXTENSIONS_V1_JSONSCHEMA_PROPS)),
        F("additionalProperties", S::None, "", Some(&APIEXTENSIONS_V1_JSONSCHEMA_PROPS)),
        F("patternProperties", S::None, "", Some(&MAP_OF_APIEXTENSIONS_V1_JSONSCHEMA_PROPS)),
        F("dependencies", S::None, "", Some(&MAP_OF_APIEXTENSIONS_V1_JSONSCHEMA_PROPS)),
        F("additionalItems", S::None, "", Some(&APIEXTENSIONS_V1_JSONSCHEMA_PROPS)),
        F("definitions", S::None, "", Some(&MAP_OF_APIEXTENSIONS_V1_JSONSCHEMA_PROPS)),
        F("x-kubernetes-validations", S::Merge, "rule", None),
    ],
    values: None,
};

/// `map[string]apiextensions/v1.JSONSchemaProps`
static MAP_OF_APIEXTENSIONS_V1_JSONSCHEMA_PROPS: Node =
    Node { go_type: "map[string]apiextensions/v1.JSONSchemaProps", fields: &[], values: Some(&APIEXTENSIONS_V1_JSONSCHEMA_PROPS) };

/// Kinds whose only patch metadata is in `metadata` (`ObjectMeta`).
static METADATA_ONLY: Node = Node { go_type: "", fields: &[F("metadata", S::None, "", Some(&META_V1_OBJECT_META))], values: None };

/// Every kind with a schema: (API group, kind, root node).
pub(super) static KINDS: &[(&str, &str, &Node)] = &[
    ("", "Pod", &CORE_V1_POD),
    ("", "PodTemplate", &CORE_V1_POD_TEMPLATE),
    ("", "ReplicationController", &CORE_V1_REPLICATION_CONTROLLER),
    ("", "Service", &CORE_V1_SERVICE),
    ("", "Endpoints", &METADATA_ONLY),
    ("", "Node", &CORE_V1_NODE),
    ("", "Namespace", &CORE_V1_NAMESPACE),
    ("", "ConfigMap", &METADATA_ONLY),
    ("", "Secret", &METADATA_ONLY),
    ("", "ServiceAccount", &CORE_V1_SERVICE_ACCOUNT),
    ("", "PersistentVolume", &METADATA_ONLY),
    ("", "PersistentVolumeClaim", &CORE_V1_PERSISTENT_VOLUME_CLAIM),
    ("", "Event", &METADATA_ONLY),
    ("", "LimitRange", &METADATA_ONLY),
    ("", "ResourceQuota", &METADATA_ONLY),
    ("apps", "Deployment", &APPS_V1_DEPLOYMENT),
    ("apps", "ReplicaSet", &APPS_V1_REPLICA_SET),
    ("apps", "StatefulSet", &APPS_V1_STATEFUL_SET),
    ("apps", "DaemonSet", &APPS_V1_DAEMON_SET),
    ("apps", "ControllerRevision", &METADATA_ONLY),
    ("batch", "Job", &BATCH_V1_JOB),
    ("batch", "CronJob", &BATCH_V1_CRON_JOB),
    ("coordination.k8s.io", "Lease", &METADATA_ONLY),
    ("policy", "PodDisruptionBudget", &POLICY_V1_POD_DISRUPTION_BUDGET),
    ("autoscaling", "HorizontalPodAutoscaler", &AUTOSCALING_V2_HORIZONTAL_POD_AUTOSCALER),
    ("rbac.authorization.k8s.io", "Role", &METADATA_ONLY),
    ("rbac.authorization.k8s.io", "ClusterRole", &METADATA_ONLY),
    ("rbac.authorization.k8s.io", "RoleBinding", &METADATA_ONLY),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", &METADATA_ONLY),
    ("storage.k8s.io", "StorageClass", &METADATA_ONLY),
    ("scheduling.k8s.io", "PriorityClass", &METADATA_ONLY),
    ("apiextensions.k8s.io", "CustomResourceDefinition", &APIEXTENSIONS_V1_CUSTOM_RESOURCE_DEFINITION),
    ("discovery.k8s.io", "EndpointSlice", &METADATA_ONLY),
    ("events.k8s.io", "Event", &METADATA_ONLY),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn all_nodes() -> Vec<&'static Node> {
        let mut seen: Vec<&'static Node> = Vec::new();
        let mut stack: Vec<&'static Node> = KINDS.iter().map(|(_, _, node)| *node).collect();
        while let Some(node) = stack.pop() {
            if seen.iter().any(|n| std::ptr::eq(*n, node)) {
                continue;
            }
            seen.push(node);
            stack.extend(node.fields.iter().filter_map(|f| f.3));
            stack.extend(node.values);
        }
        seen
    }

    #[test]
    fn strategy_table_should_publish_every_named_strategy_once_per_type() {
        let table = patch_fields();
        let find = |t: &str, f: &str| table.iter().find(|p| p.go_type == t && p.field == f).copied();
        let containers = find("core/v1.PodSpec", "containers").expect("PodSpec.containers");
        assert_eq!((containers.strategy, containers.merge_key), ("merge", Some("name")));
        assert_eq!(find("core/v1.PodSpec", "volumes").map(|p| p.strategy), Some("merge,retainKeys"));
        assert_eq!(find("apps/v1.DeploymentSpec", "strategy").map(|p| (p.strategy, p.merge_key)), Some(("retainKeys", None)));
        assert_eq!(find("policy/v1.PodDisruptionBudgetSpec", "selector").map(|p| p.strategy), Some("replace"));
        // Fields that only lead to nested metadata, and test structs, are not published.
        assert!(find("apps/v1.DeploymentSpec", "template").is_none());
        assert!(!table.iter().any(|p| p.field == "mergingList" || p.go_type.is_empty()));
        for (i, p) in table.iter().enumerate() {
            assert!(!table[..i].iter().any(|q| q.go_type == p.go_type && q.field == p.field), "{p:?} twice");
        }
        // Every named node with a strategy is reachable from a kind.
        let named = all_nodes().iter().filter(|n| !n.go_type.is_empty() && n.fields.iter().any(|f| f.1 != S::None)).count();
        let published: std::collections::BTreeSet<&str> = table.iter().map(|p| p.go_type).collect();
        assert_eq!(published.len(), named);
    }

    #[test]
    fn schema_tables_should_list_each_kind_once() {
        for (i, (group, kind, _)) in KINDS.iter().enumerate() {
            assert!(!KINDS[..i].iter().any(|(g, k, _)| g == group && k == kind), "{group}/{kind} twice");
        }
    }

    #[test]
    fn schema_tables_should_give_merge_keys_only_to_merged_lists() {
        for node in all_nodes() {
            for F(name, strategy, merge_key, _) in node.fields {
                if !merge_key.is_empty() {
                    assert!(
                        matches!(strategy, S::Merge | S::MergeRetainKeys),
                        "{name} has a merge key but strategy {strategy:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn schema_lookup_should_follow_pod_templates_to_the_pod_spec() {
        // (group, kind, path to a struct, field of it, its merge key)
        type Case = (&'static str, &'static str, &'static [&'static str], &'static str, Option<&'static str>);
        let paths: [Case; 6] = [
            ("apps", "Deployment", &["spec", "template", "spec"], "containers", Some("name")),
            ("batch", "CronJob", &["spec", "jobTemplate", "spec", "template", "spec"], "initContainers", Some("name")),
            ("", "Pod", &["spec", "containers"], "ports", Some("containerPort")),
            ("", "Service", &["spec"], "ports", Some("port")),
            ("", "Node", &["spec"], "taints", None),
            ("apps", "StatefulSet", &["metadata"], "ownerReferences", Some("uid")),
        ];
        for (group, kind, path, field, merge_key) in paths {
            let Some(mut schema) = Schema::for_kind(group, kind) else { panic!("{group}/{kind} has no schema") };
            for step in path {
                schema = schema.field(step).schema;
            }
            assert_eq!(schema.field(field).merge_key, merge_key, "{group}/{kind} {path:?}.{field}");
        }
    }

    #[test]
    fn schema_lookup_should_know_the_strategies_that_are_not_plain_merge() {
        let Some(deployment) = Schema::for_kind("apps", "Deployment") else { panic!("no Deployment schema") };
        assert_eq!(deployment.field("spec").schema.field("strategy").strategy, S::RetainKeys);
        let pod_spec = deployment.field("spec").schema.field("template").schema.field("spec").schema;
        assert_eq!(pod_spec.field("volumes").strategy, S::MergeRetainKeys);
        assert!(pod_spec.field("volumes").merges_lists());
        assert!(!pod_spec.field("tolerations").merges_lists());
        let Some(pdb) = Schema::for_kind("policy", "PodDisruptionBudget") else {
            panic!("no PodDisruptionBudget schema")
        };
        assert!(pdb.field("spec").schema.field("selector").replaces_maps());
        assert!(Schema::for_kind("example.com", "Widget").is_none());
    }
}
