//! How server-side apply tracks the fields of the built-in kinds: which lists are associative
//! (`listType=map`, merged item by item by their keys) or sets (`listType=set`), which structs
//! and maps are atomic (`structType=atomic`, `mapType=atomic`).
//!
//! Kubernetes reads this from the OpenAPI schema of each kind, which `openapi-gen` builds from
//! the `+listType`, `+listMapKey`, `+mapType`, `+structType` and `+default` markers of the Go
//! types, falling back to the `patchStrategy`/`patchMergeKey` struct tags when a list has no
//! `+listType` (a `merge` list with a merge key is associative on that key, without one it is
//! a set). The tables below were derived that way from `k8s.io/api` 10b39a39 (with
//! scheduling/v1alpha3, which `PodSpec` refers to), `k8s.io/apimachinery` eed236ce (meta/v1)
//! and `k8s.io/apiextensions-apiserver` 1aa2717a (apiextensions/v1), the revisions
//! `patch/schema.rs` was derived from.
//!
//! They differ from the strategic-merge-patch tables of `patch/schema.rs` where the markers
//! disagree with the struct tags, notably: container `ports` are keyed by `containerPort` *and*
//! `protocol` (default `TCP`), Service `ports` by `port` and `protocol`,
//! `topologySpreadConstraints` by `topologyKey` and `whenUnsatisfiable`, volume
//! `healthConditions` by `status` and `reason`; `hostIPs` is atomic; lists without patch tags
//! such as `volumeMounts[].bindMountOptions` or Job `uncountedTerminatedPods` are sets.
//!
//! Only what differs from the default is listed: a field missing from a struct is "plain" — an
//! object is a struct whose fields are all plain, a list is atomic, anything else a scalar.
//! (Maps such as `labels` are plain too: their values are scalars, which are tracked the same
//! whether they are struct fields or map keys. No served kind has a granular map of objects.)
//! `KINDS` also holds the zero value of each kind as Go's JSON encoder writes it, which is the
//! "live object" Kubernetes compares against when it tracks a create.

/// How the value of a field is tracked.
#[derive(Debug)]
pub(super) enum T {
    /// Nothing special: an object is a struct of plain fields, a list is atomic.
    Plain,
    /// An atomic struct, map or list: owned and replaced as a whole.
    Atomic,
    /// A schemaless value (`RawExtension`, `JSON`): objects are maps of such values, lists are atomic.
    Deduced,
    /// `listType=set`: a list of scalars merged by value.
    Set,
    /// A struct; fields not listed are plain.
    Struct(&'static St),
    /// `listType=map`: items merged by their key fields (name and default value as JSON).
    Assoc(&'static [K], &'static T),
}

/// The fields of a struct that are not plain.
#[derive(Debug)]
pub(super) struct St {
    pub(super) fields: &'static [F],
}

/// One field: JSON name and type.
#[derive(Debug)]
pub(super) struct F(pub(super) &'static str, pub(super) T);

/// One key field of an associative list: name and default (as JSON) when the item omits it.
#[derive(Debug)]
pub(super) struct K(pub(super) &'static str, pub(super) Option<&'static str>);

impl St {
    /// The type of field `name`, if it is not plain.
    pub(super) fn get(&'static self, name: &str) -> Option<&'static T> {
        self.fields.iter().find(|f| f.0 == name).map(|f| &f.1)
    }
}

/// A plain value.
pub(super) static PLAIN: T = T::Plain;
/// An atomic value.
pub(super) static ATOMIC: T = T::Atomic;
/// A schemaless value.
pub(super) static DEDUCED: T = T::Deduced;
/// `metav1.ObjectMeta`, which custom resources share with the built-in kinds.
pub(super) static OBJECT_META: T = T::Struct(&META_V1_OBJECT_META);

/// The root type of a built-in kind and its zero value (JSON), if the tables know the kind.
pub(super) fn for_kind(group: &str, kind: &str) -> Option<(&'static T, &'static str)> {
    KINDS.iter().find(|(g, k, _, _)| *g == group && *k == kind).map(|(_, _, t, zero)| (*t, *zero))
}

// ---------------------------------------------------------------------------------------------
// Tables derived from the Go markers and struct tags.
// ---------------------------------------------------------------------------------------------

/// `meta/v1.ObjectMeta`
static META_V1_OBJECT_META: St =
    St { fields: &[F("ownerReferences", T::Assoc(&[K("uid", None)], &ATOMIC)), F("finalizers", T::Set)] };

/// `core/v1.ISCSIVolumeSource`
static CORE_V1_ISCSI_VOLUME_SOURCE: St = St { fields: &[F("secretRef", T::Atomic)] };

/// `core/v1.RBDVolumeSource`
static CORE_V1_RBD_VOLUME_SOURCE: St = St { fields: &[F("secretRef", T::Atomic)] };

/// `core/v1.FlexVolumeSource`
static CORE_V1_FLEX_VOLUME_SOURCE: St = St { fields: &[F("secretRef", T::Atomic)] };

/// `core/v1.CinderVolumeSource`
static CORE_V1_CINDER_VOLUME_SOURCE: St = St { fields: &[F("secretRef", T::Atomic)] };

/// `core/v1.CephFSVolumeSource`
static CORE_V1_CEPH_FS_VOLUME_SOURCE: St = St { fields: &[F("secretRef", T::Atomic)] };

/// `core/v1.ScaleIOVolumeSource`
static CORE_V1_SCALE_IO_VOLUME_SOURCE: St = St { fields: &[F("secretRef", T::Atomic)] };

/// `core/v1.StorageOSVolumeSource`
static CORE_V1_STORAGE_OS_VOLUME_SOURCE: St = St { fields: &[F("secretRef", T::Atomic)] };

/// `core/v1.CSIVolumeSource`
static CORE_V1_CSI_VOLUME_SOURCE: St = St { fields: &[F("nodePublishSecretRef", T::Atomic)] };

/// `core/v1.PersistentVolumeClaimSpec`
static CORE_V1_PERSISTENT_VOLUME_CLAIM_SPEC: St =
    St { fields: &[F("selector", T::Atomic), F("dataSource", T::Atomic)] };

/// `core/v1.PersistentVolumeClaimTemplate`
static CORE_V1_PERSISTENT_VOLUME_CLAIM_TEMPLATE: St = St {
    fields: &[
        F("metadata", T::Struct(&META_V1_OBJECT_META)),
        F("spec", T::Struct(&CORE_V1_PERSISTENT_VOLUME_CLAIM_SPEC)),
    ],
};

/// `core/v1.EphemeralVolumeSource`
static CORE_V1_EPHEMERAL_VOLUME_SOURCE: St =
    St { fields: &[F("volumeClaimTemplate", T::Struct(&CORE_V1_PERSISTENT_VOLUME_CLAIM_TEMPLATE))] };

/// `core/v1.Volume`
static CORE_V1_VOLUME: St = St {
    fields: &[
        F("iscsi", T::Struct(&CORE_V1_ISCSI_VOLUME_SOURCE)),
        F("rbd", T::Struct(&CORE_V1_RBD_VOLUME_SOURCE)),
        F("flexVolume", T::Struct(&CORE_V1_FLEX_VOLUME_SOURCE)),
        F("cinder", T::Struct(&CORE_V1_CINDER_VOLUME_SOURCE)),
        F("cephfs", T::Struct(&CORE_V1_CEPH_FS_VOLUME_SOURCE)),
        F("scaleIO", T::Struct(&CORE_V1_SCALE_IO_VOLUME_SOURCE)),
        F("storageos", T::Struct(&CORE_V1_STORAGE_OS_VOLUME_SOURCE)),
        F("csi", T::Struct(&CORE_V1_CSI_VOLUME_SOURCE)),
        F("ephemeral", T::Struct(&CORE_V1_EPHEMERAL_VOLUME_SOURCE)),
    ],
};
static T_CORE_V1_VOLUME: T = T::Struct(&CORE_V1_VOLUME);

/// `core/v1.EnvVarSource`
static CORE_V1_ENV_VAR_SOURCE: St = St {
    fields: &[
        F("fieldRef", T::Atomic),
        F("resourceFieldRef", T::Atomic),
        F("configMapKeyRef", T::Atomic),
        F("secretKeyRef", T::Atomic),
        F("fileKeyRef", T::Atomic),
    ],
};

/// `core/v1.EnvVar`
static CORE_V1_ENV_VAR: St = St { fields: &[F("valueFrom", T::Struct(&CORE_V1_ENV_VAR_SOURCE))] };
static T_CORE_V1_ENV_VAR: T = T::Struct(&CORE_V1_ENV_VAR);

/// `core/v1.ResourceRequirements`
static CORE_V1_RESOURCE_REQUIREMENTS: St = St { fields: &[F("claims", T::Assoc(&[K("name", None)], &PLAIN))] };

/// `core/v1.VolumeMount`
static CORE_V1_VOLUME_MOUNT: St = St { fields: &[F("bindMountOptions", T::Set)] };
static T_CORE_V1_VOLUME_MOUNT: T = T::Struct(&CORE_V1_VOLUME_MOUNT);

/// `core/v1.Container`
static CORE_V1_CONTAINER: St = St {
    fields: &[
        F("ports", T::Assoc(&[K("containerPort", None), K("protocol", Some("\"TCP\""))], &PLAIN)),
        F("env", T::Assoc(&[K("name", None)], &T_CORE_V1_ENV_VAR)),
        F("resources", T::Struct(&CORE_V1_RESOURCE_REQUIREMENTS)),
        F("volumeMounts", T::Assoc(&[K("mountPath", None)], &T_CORE_V1_VOLUME_MOUNT)),
        F("volumeDevices", T::Assoc(&[K("devicePath", None)], &PLAIN)),
    ],
};
static T_CORE_V1_CONTAINER: T = T::Struct(&CORE_V1_CONTAINER);

/// `core/v1.EphemeralContainer`
static CORE_V1_EPHEMERAL_CONTAINER: St = St {
    fields: &[
        F("ports", T::Assoc(&[K("containerPort", None), K("protocol", Some("\"TCP\""))], &PLAIN)),
        F("env", T::Assoc(&[K("name", None)], &T_CORE_V1_ENV_VAR)),
        F("resources", T::Struct(&CORE_V1_RESOURCE_REQUIREMENTS)),
        F("volumeMounts", T::Assoc(&[K("mountPath", None)], &T_CORE_V1_VOLUME_MOUNT)),
        F("volumeDevices", T::Assoc(&[K("devicePath", None)], &PLAIN)),
    ],
};
static T_CORE_V1_EPHEMERAL_CONTAINER: T = T::Struct(&CORE_V1_EPHEMERAL_CONTAINER);

/// `core/v1.NodeAffinity`
static CORE_V1_NODE_AFFINITY: St = St { fields: &[F("requiredDuringSchedulingIgnoredDuringExecution", T::Atomic)] };

/// `core/v1.Affinity`
static CORE_V1_AFFINITY: St = St { fields: &[F("nodeAffinity", T::Struct(&CORE_V1_NODE_AFFINITY))] };

/// `core/v1.TopologySpreadConstraint`
static CORE_V1_TOPOLOGY_SPREAD_CONSTRAINT: St = St { fields: &[F("labelSelector", T::Atomic)] };
static T_CORE_V1_TOPOLOGY_SPREAD_CONSTRAINT: T = T::Struct(&CORE_V1_TOPOLOGY_SPREAD_CONSTRAINT);

/// `core/v1.PodSpec`
static CORE_V1_POD_SPEC: St = St {
    fields: &[
        F("volumes", T::Assoc(&[K("name", None)], &T_CORE_V1_VOLUME)),
        F("initContainers", T::Assoc(&[K("name", None)], &T_CORE_V1_CONTAINER)),
        F("containers", T::Assoc(&[K("name", None)], &T_CORE_V1_CONTAINER)),
        F("ephemeralContainers", T::Assoc(&[K("name", None)], &T_CORE_V1_EPHEMERAL_CONTAINER)),
        F("nodeSelector", T::Atomic),
        F("imagePullSecrets", T::Assoc(&[K("name", None)], &ATOMIC)),
        F("affinity", T::Struct(&CORE_V1_AFFINITY)),
        F("hostAliases", T::Assoc(&[K("ip", None)], &PLAIN)),
        F(
            "topologySpreadConstraints",
            T::Assoc(&[K("topologyKey", None), K("whenUnsatisfiable", None)], &T_CORE_V1_TOPOLOGY_SPREAD_CONSTRAINT),
        ),
        F("schedulingGates", T::Assoc(&[K("name", None)], &PLAIN)),
        F("resourceClaims", T::Assoc(&[K("name", None)], &PLAIN)),
        F("resources", T::Struct(&CORE_V1_RESOURCE_REQUIREMENTS)),
        F("evictionResponders", T::Assoc(&[K("name", None)], &ATOMIC)),
    ],
};

/// `core/v1.NodeAllocatableResourceClaimStatus`
static CORE_V1_NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS: St = St {
    fields: &[
        F("containers", T::Set),
        F("mapping", T::Assoc(&[K("name", None)], &PLAIN)),
        F("overhead", T::Assoc(&[K("name", None)], &PLAIN)),
    ],
};
static T_CORE_V1_NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS: T = T::Struct(&CORE_V1_NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS);

/// `core/v1.PodVolumeHealth`
static CORE_V1_POD_VOLUME_HEALTH: St =
    St { fields: &[F("healthConditions", T::Assoc(&[K("status", None), K("reason", None)], &PLAIN))] };
static T_CORE_V1_POD_VOLUME_HEALTH: T = T::Struct(&CORE_V1_POD_VOLUME_HEALTH);

/// `core/v1.PodStatus`
static CORE_V1_POD_STATUS: St = St {
    fields: &[
        F("conditions", T::Assoc(&[K("type", None)], &PLAIN)),
        F("podIPs", T::Assoc(&[K("ip", None)], &PLAIN)),
        F("resourceClaimStatuses", T::Assoc(&[K("name", None)], &PLAIN)),
        F("resources", T::Struct(&CORE_V1_RESOURCE_REQUIREMENTS)),
        F(
            "nodeAllocatableResourceClaimStatuses",
            T::Assoc(&[K("resourceClaimName", None)], &T_CORE_V1_NODE_ALLOCATABLE_RESOURCE_CLAIM_STATUS),
        ),
        F("volumeHealth", T::Assoc(&[K("name", None)], &T_CORE_V1_POD_VOLUME_HEALTH)),
    ],
};

/// `core/v1.Pod`
static CORE_V1_POD: St = St {
    fields: &[
        F("metadata", T::Struct(&META_V1_OBJECT_META)),
        F("spec", T::Struct(&CORE_V1_POD_SPEC)),
        F("status", T::Struct(&CORE_V1_POD_STATUS)),
    ],
};
static T_CORE_V1_POD: T = T::Struct(&CORE_V1_POD);

/// `core/v1.PodTemplateSpec`
static CORE_V1_POD_TEMPLATE_SPEC: St =
    St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META)), F("spec", T::Struct(&CORE_V1_POD_SPEC))] };

/// `core/v1.PodTemplate`
static CORE_V1_POD_TEMPLATE: St = St {
    fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META)), F("template", T::Struct(&CORE_V1_POD_TEMPLATE_SPEC))],
};
static T_CORE_V1_POD_TEMPLATE: T = T::Struct(&CORE_V1_POD_TEMPLATE);

/// `core/v1.ReplicationControllerSpec`
static CORE_V1_REPLICATION_CONTROLLER_SPEC: St =
    St { fields: &[F("selector", T::Atomic), F("template", T::Struct(&CORE_V1_POD_TEMPLATE_SPEC))] };

/// `core/v1.ReplicationControllerStatus`
static CORE_V1_REPLICATION_CONTROLLER_STATUS: St =
    St { fields: &[F("conditions", T::Assoc(&[K("type", None)], &PLAIN))] };

/// `core/v1.ReplicationController`
static CORE_V1_REPLICATION_CONTROLLER: St = St {
    fields: &[
        F("metadata", T::Struct(&META_V1_OBJECT_META)),
        F("spec", T::Struct(&CORE_V1_REPLICATION_CONTROLLER_SPEC)),
        F("status", T::Struct(&CORE_V1_REPLICATION_CONTROLLER_STATUS)),
    ],
};
static T_CORE_V1_REPLICATION_CONTROLLER: T = T::Struct(&CORE_V1_REPLICATION_CONTROLLER);

/// `core/v1.ServiceSpec`
static CORE_V1_SERVICE_SPEC: St = St {
    fields: &[
        F("ports", T::Assoc(&[K("port", None), K("protocol", Some("\"TCP\""))], &PLAIN)),
        F("selector", T::Atomic),
    ],
};

/// `core/v1.ServiceStatus`
static CORE_V1_SERVICE_STATUS: St = St { fields: &[F("conditions", T::Assoc(&[K("type", None)], &PLAIN))] };

/// `core/v1.Service`
static CORE_V1_SERVICE: St = St {
    fields: &[
        F("metadata", T::Struct(&META_V1_OBJECT_META)),
        F("spec", T::Struct(&CORE_V1_SERVICE_SPEC)),
        F("status", T::Struct(&CORE_V1_SERVICE_STATUS)),
    ],
};
static T_CORE_V1_SERVICE: T = T::Struct(&CORE_V1_SERVICE);

/// `core/v1.Endpoints`
static CORE_V1_ENDPOINTS: St = St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META))] };
static T_CORE_V1_ENDPOINTS: T = T::Struct(&CORE_V1_ENDPOINTS);

/// `core/v1.NodePodPreemptionPolicy`
static CORE_V1_NODE_POD_PREEMPTION_POLICY: St = St { fields: &[F("disableResizePreemption", T::Set)] };

/// `core/v1.NodeSpec`
static CORE_V1_NODE_SPEC: St =
    St { fields: &[F("podCIDRs", T::Set), F("podPreemptionPolicy", T::Struct(&CORE_V1_NODE_POD_PREEMPTION_POLICY))] };

/// `core/v1.NodeStatus`
static CORE_V1_NODE_STATUS: St = St {
    fields: &[
        F("conditions", T::Assoc(&[K("type", None)], &PLAIN)),
        F("addresses", T::Assoc(&[K("type", None)], &PLAIN)),
    ],
};

/// `core/v1.Node`
static CORE_V1_NODE: St = St {
    fields: &[
        F("metadata", T::Struct(&META_V1_OBJECT_META)),
        F("spec", T::Struct(&CORE_V1_NODE_SPEC)),
        F("status", T::Struct(&CORE_V1_NODE_STATUS)),
    ],
};
static T_CORE_V1_NODE: T = T::Struct(&CORE_V1_NODE);

/// `core/v1.NamespaceStatus`
static CORE_V1_NAMESPACE_STATUS: St = St { fields: &[F("conditions", T::Assoc(&[K("type", None)], &PLAIN))] };

/// `core/v1.Namespace`
static CORE_V1_NAMESPACE: St =
    St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META)), F("status", T::Struct(&CORE_V1_NAMESPACE_STATUS))] };
static T_CORE_V1_NAMESPACE: T = T::Struct(&CORE_V1_NAMESPACE);

/// `core/v1.ConfigMap`
static CORE_V1_CONFIG_MAP: St = St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META))] };
static T_CORE_V1_CONFIG_MAP: T = T::Struct(&CORE_V1_CONFIG_MAP);

/// `core/v1.Secret`
static CORE_V1_SECRET: St = St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META))] };
static T_CORE_V1_SECRET: T = T::Struct(&CORE_V1_SECRET);

/// `core/v1.ServiceAccount`
static CORE_V1_SERVICE_ACCOUNT: St = St {
    fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META)), F("secrets", T::Assoc(&[K("name", None)], &ATOMIC))],
};
static T_CORE_V1_SERVICE_ACCOUNT: T = T::Struct(&CORE_V1_SERVICE_ACCOUNT);

/// `core/v1.RBDPersistentVolumeSource`
static CORE_V1_RBD_PERSISTENT_VOLUME_SOURCE: St = St { fields: &[F("secretRef", T::Atomic)] };

/// `core/v1.ISCSIPersistentVolumeSource`
static CORE_V1_ISCSI_PERSISTENT_VOLUME_SOURCE: St = St { fields: &[F("secretRef", T::Atomic)] };

/// `core/v1.CinderPersistentVolumeSource`
static CORE_V1_CINDER_PERSISTENT_VOLUME_SOURCE: St = St { fields: &[F("secretRef", T::Atomic)] };

/// `core/v1.CephFSPersistentVolumeSource`
static CORE_V1_CEPH_FS_PERSISTENT_VOLUME_SOURCE: St = St { fields: &[F("secretRef", T::Atomic)] };

/// `core/v1.FlexPersistentVolumeSource`
static CORE_V1_FLEX_PERSISTENT_VOLUME_SOURCE: St = St { fields: &[F("secretRef", T::Atomic)] };

/// `core/v1.ScaleIOPersistentVolumeSource`
static CORE_V1_SCALE_IO_PERSISTENT_VOLUME_SOURCE: St = St { fields: &[F("secretRef", T::Atomic)] };

/// `core/v1.StorageOSPersistentVolumeSource`
static CORE_V1_STORAGE_OS_PERSISTENT_VOLUME_SOURCE: St = St { fields: &[F("secretRef", T::Atomic)] };

/// `core/v1.CSIPersistentVolumeSource`
static CORE_V1_CSI_PERSISTENT_VOLUME_SOURCE: St = St {
    fields: &[
        F("controllerPublishSecretRef", T::Atomic),
        F("nodeStageSecretRef", T::Atomic),
        F("nodePublishSecretRef", T::Atomic),
        F("controllerExpandSecretRef", T::Atomic),
        F("nodeExpandSecretRef", T::Atomic),
    ],
};

/// `core/v1.VolumeNodeAffinity`
static CORE_V1_VOLUME_NODE_AFFINITY: St = St { fields: &[F("required", T::Atomic)] };

/// `core/v1.PersistentVolumeSpec`
static CORE_V1_PERSISTENT_VOLUME_SPEC: St = St {
    fields: &[
        F("rbd", T::Struct(&CORE_V1_RBD_PERSISTENT_VOLUME_SOURCE)),
        F("iscsi", T::Struct(&CORE_V1_ISCSI_PERSISTENT_VOLUME_SOURCE)),
        F("cinder", T::Struct(&CORE_V1_CINDER_PERSISTENT_VOLUME_SOURCE)),
        F("cephfs", T::Struct(&CORE_V1_CEPH_FS_PERSISTENT_VOLUME_SOURCE)),
        F("flexVolume", T::Struct(&CORE_V1_FLEX_PERSISTENT_VOLUME_SOURCE)),
        F("scaleIO", T::Struct(&CORE_V1_SCALE_IO_PERSISTENT_VOLUME_SOURCE)),
        F("storageos", T::Struct(&CORE_V1_STORAGE_OS_PERSISTENT_VOLUME_SOURCE)),
        F("csi", T::Struct(&CORE_V1_CSI_PERSISTENT_VOLUME_SOURCE)),
        F("claimRef", T::Atomic),
        F("nodeAffinity", T::Struct(&CORE_V1_VOLUME_NODE_AFFINITY)),
    ],
};

/// `core/v1.PersistentVolume`
static CORE_V1_PERSISTENT_VOLUME: St = St {
    fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META)), F("spec", T::Struct(&CORE_V1_PERSISTENT_VOLUME_SPEC))],
};
static T_CORE_V1_PERSISTENT_VOLUME: T = T::Struct(&CORE_V1_PERSISTENT_VOLUME);

/// `core/v1.VolumeHealthStatus`
static CORE_V1_VOLUME_HEALTH_STATUS: St =
    St { fields: &[F("healthConditions", T::Assoc(&[K("status", None), K("reason", None)], &PLAIN))] };

/// `core/v1.PersistentVolumeClaimStatus`
static CORE_V1_PERSISTENT_VOLUME_CLAIM_STATUS: St = St {
    fields: &[
        F("conditions", T::Assoc(&[K("type", None)], &PLAIN)),
        F("healthStatus", T::Struct(&CORE_V1_VOLUME_HEALTH_STATUS)),
    ],
};

/// `core/v1.PersistentVolumeClaim`
static CORE_V1_PERSISTENT_VOLUME_CLAIM: St = St {
    fields: &[
        F("metadata", T::Struct(&META_V1_OBJECT_META)),
        F("spec", T::Struct(&CORE_V1_PERSISTENT_VOLUME_CLAIM_SPEC)),
        F("status", T::Struct(&CORE_V1_PERSISTENT_VOLUME_CLAIM_STATUS)),
    ],
};
static T_CORE_V1_PERSISTENT_VOLUME_CLAIM: T = T::Struct(&CORE_V1_PERSISTENT_VOLUME_CLAIM);

/// `core/v1.Event`
static CORE_V1_EVENT: St = St {
    fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META)), F("involvedObject", T::Atomic), F("related", T::Atomic)],
};
static T_CORE_V1_EVENT: T = T::Struct(&CORE_V1_EVENT);

/// `core/v1.LimitRange`
static CORE_V1_LIMIT_RANGE: St = St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META))] };
static T_CORE_V1_LIMIT_RANGE: T = T::Struct(&CORE_V1_LIMIT_RANGE);

/// `core/v1.ResourceQuotaSpec`
static CORE_V1_RESOURCE_QUOTA_SPEC: St = St { fields: &[F("scopeSelector", T::Atomic)] };

/// `core/v1.ResourceQuota`
static CORE_V1_RESOURCE_QUOTA: St = St {
    fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META)), F("spec", T::Struct(&CORE_V1_RESOURCE_QUOTA_SPEC))],
};
static T_CORE_V1_RESOURCE_QUOTA: T = T::Struct(&CORE_V1_RESOURCE_QUOTA);

/// `apps/v1.DeploymentSpec`
static APPS_V1_DEPLOYMENT_SPEC: St =
    St { fields: &[F("selector", T::Atomic), F("template", T::Struct(&CORE_V1_POD_TEMPLATE_SPEC))] };

/// `apps/v1.DeploymentStatus`
static APPS_V1_DEPLOYMENT_STATUS: St = St { fields: &[F("conditions", T::Assoc(&[K("type", None)], &PLAIN))] };

/// `apps/v1.Deployment`
static APPS_V1_DEPLOYMENT: St = St {
    fields: &[
        F("metadata", T::Struct(&META_V1_OBJECT_META)),
        F("spec", T::Struct(&APPS_V1_DEPLOYMENT_SPEC)),
        F("status", T::Struct(&APPS_V1_DEPLOYMENT_STATUS)),
    ],
};
static T_APPS_V1_DEPLOYMENT: T = T::Struct(&APPS_V1_DEPLOYMENT);

/// `apps/v1.ReplicaSetSpec`
static APPS_V1_REPLICA_SET_SPEC: St =
    St { fields: &[F("selector", T::Atomic), F("template", T::Struct(&CORE_V1_POD_TEMPLATE_SPEC))] };

/// `apps/v1.ReplicaSetStatus`
static APPS_V1_REPLICA_SET_STATUS: St = St { fields: &[F("conditions", T::Assoc(&[K("type", None)], &PLAIN))] };

/// `apps/v1.ReplicaSet`
static APPS_V1_REPLICA_SET: St = St {
    fields: &[
        F("metadata", T::Struct(&META_V1_OBJECT_META)),
        F("spec", T::Struct(&APPS_V1_REPLICA_SET_SPEC)),
        F("status", T::Struct(&APPS_V1_REPLICA_SET_STATUS)),
    ],
};
static T_APPS_V1_REPLICA_SET: T = T::Struct(&APPS_V1_REPLICA_SET);

/// `apps/v1.StatefulSetSpec`
static APPS_V1_STATEFUL_SET_SPEC: St =
    St { fields: &[F("selector", T::Atomic), F("template", T::Struct(&CORE_V1_POD_TEMPLATE_SPEC))] };

/// `apps/v1.StatefulSetStatus`
static APPS_V1_STATEFUL_SET_STATUS: St = St { fields: &[F("conditions", T::Assoc(&[K("type", None)], &PLAIN))] };

/// `apps/v1.StatefulSet`
static APPS_V1_STATEFUL_SET: St = St {
    fields: &[
        F("metadata", T::Struct(&META_V1_OBJECT_META)),
        F("spec", T::Struct(&APPS_V1_STATEFUL_SET_SPEC)),
        F("status", T::Struct(&APPS_V1_STATEFUL_SET_STATUS)),
    ],
};
static T_APPS_V1_STATEFUL_SET: T = T::Struct(&APPS_V1_STATEFUL_SET);

/// `apps/v1.DaemonSetSpec`
static APPS_V1_DAEMON_SET_SPEC: St =
    St { fields: &[F("selector", T::Atomic), F("template", T::Struct(&CORE_V1_POD_TEMPLATE_SPEC))] };

/// `apps/v1.DaemonSetStatus`
static APPS_V1_DAEMON_SET_STATUS: St = St { fields: &[F("conditions", T::Assoc(&[K("type", None)], &PLAIN))] };

/// `apps/v1.DaemonSet`
static APPS_V1_DAEMON_SET: St = St {
    fields: &[
        F("metadata", T::Struct(&META_V1_OBJECT_META)),
        F("spec", T::Struct(&APPS_V1_DAEMON_SET_SPEC)),
        F("status", T::Struct(&APPS_V1_DAEMON_SET_STATUS)),
    ],
};
static T_APPS_V1_DAEMON_SET: T = T::Struct(&APPS_V1_DAEMON_SET);

/// `apps/v1.ControllerRevision`
static APPS_V1_CONTROLLER_REVISION: St =
    St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META)), F("data", T::Deduced)] };
static T_APPS_V1_CONTROLLER_REVISION: T = T::Struct(&APPS_V1_CONTROLLER_REVISION);

/// `batch/v1.JobSchedulingConfiguration`
static BATCH_V1_JOB_SCHEDULING_CONFIGURATION: St =
    St { fields: &[F("resourceClaims", T::Assoc(&[K("name", None)], &PLAIN))] };

/// `batch/v1.JobSpec`
static BATCH_V1_JOB_SPEC: St = St {
    fields: &[
        F("selector", T::Atomic),
        F("template", T::Struct(&CORE_V1_POD_TEMPLATE_SPEC)),
        F("scheduling", T::Struct(&BATCH_V1_JOB_SCHEDULING_CONFIGURATION)),
    ],
};

/// `batch/v1.UncountedTerminatedPods`
static BATCH_V1_UNCOUNTED_TERMINATED_PODS: St = St { fields: &[F("succeeded", T::Set), F("failed", T::Set)] };

/// `batch/v1.JobStatus`
static BATCH_V1_JOB_STATUS: St =
    St { fields: &[F("uncountedTerminatedPods", T::Struct(&BATCH_V1_UNCOUNTED_TERMINATED_PODS))] };

/// `batch/v1.Job`
static BATCH_V1_JOB: St = St {
    fields: &[
        F("metadata", T::Struct(&META_V1_OBJECT_META)),
        F("spec", T::Struct(&BATCH_V1_JOB_SPEC)),
        F("status", T::Struct(&BATCH_V1_JOB_STATUS)),
    ],
};
static T_BATCH_V1_JOB: T = T::Struct(&BATCH_V1_JOB);

/// `batch/v1.JobTemplateSpec`
static BATCH_V1_JOB_TEMPLATE_SPEC: St =
    St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META)), F("spec", T::Struct(&BATCH_V1_JOB_SPEC))] };

/// `batch/v1.CronJobSpec`
static BATCH_V1_CRON_JOB_SPEC: St = St { fields: &[F("jobTemplate", T::Struct(&BATCH_V1_JOB_TEMPLATE_SPEC))] };

/// `batch/v1.CronJob`
static BATCH_V1_CRON_JOB: St =
    St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META)), F("spec", T::Struct(&BATCH_V1_CRON_JOB_SPEC))] };
static T_BATCH_V1_CRON_JOB: T = T::Struct(&BATCH_V1_CRON_JOB);

/// `coordination/v1.Lease`
static COORDINATION_V1_LEASE: St = St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META))] };
static T_COORDINATION_V1_LEASE: T = T::Struct(&COORDINATION_V1_LEASE);

/// `policy/v1.PodDisruptionBudgetSpec`
static POLICY_V1_POD_DISRUPTION_BUDGET_SPEC: St = St { fields: &[F("selector", T::Atomic)] };

/// `policy/v1.PodDisruptionBudgetStatus`
static POLICY_V1_POD_DISRUPTION_BUDGET_STATUS: St =
    St { fields: &[F("conditions", T::Assoc(&[K("type", None)], &PLAIN))] };

/// `policy/v1.PodDisruptionBudget`
static POLICY_V1_POD_DISRUPTION_BUDGET: St = St {
    fields: &[
        F("metadata", T::Struct(&META_V1_OBJECT_META)),
        F("spec", T::Struct(&POLICY_V1_POD_DISRUPTION_BUDGET_SPEC)),
        F("status", T::Struct(&POLICY_V1_POD_DISRUPTION_BUDGET_STATUS)),
    ],
};
static T_POLICY_V1_POD_DISRUPTION_BUDGET: T = T::Struct(&POLICY_V1_POD_DISRUPTION_BUDGET);

/// `autoscaling/v2.HorizontalPodAutoscalerStatus`
static AUTOSCALING_V2_HORIZONTAL_POD_AUTOSCALER_STATUS: St =
    St { fields: &[F("conditions", T::Assoc(&[K("type", None)], &PLAIN))] };

/// `autoscaling/v2.HorizontalPodAutoscaler`
static AUTOSCALING_V2_HORIZONTAL_POD_AUTOSCALER: St = St {
    fields: &[
        F("metadata", T::Struct(&META_V1_OBJECT_META)),
        F("status", T::Struct(&AUTOSCALING_V2_HORIZONTAL_POD_AUTOSCALER_STATUS)),
    ],
};
static T_AUTOSCALING_V2_HORIZONTAL_POD_AUTOSCALER: T = T::Struct(&AUTOSCALING_V2_HORIZONTAL_POD_AUTOSCALER);

/// `rbac/v1.Role`
static RBAC_V1_ROLE: St = St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META))] };
static T_RBAC_V1_ROLE: T = T::Struct(&RBAC_V1_ROLE);

/// `rbac/v1.ClusterRole`
static RBAC_V1_CLUSTER_ROLE: St = St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META))] };
static T_RBAC_V1_CLUSTER_ROLE: T = T::Struct(&RBAC_V1_CLUSTER_ROLE);

/// `rbac/v1.RoleBinding`
static RBAC_V1_ROLE_BINDING: St =
    St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META)), F("roleRef", T::Atomic)] };
static T_RBAC_V1_ROLE_BINDING: T = T::Struct(&RBAC_V1_ROLE_BINDING);

/// `rbac/v1.ClusterRoleBinding`
static RBAC_V1_CLUSTER_ROLE_BINDING: St =
    St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META)), F("roleRef", T::Atomic)] };
static T_RBAC_V1_CLUSTER_ROLE_BINDING: T = T::Struct(&RBAC_V1_CLUSTER_ROLE_BINDING);

/// `storage/v1.StorageClass`
static STORAGE_V1_STORAGE_CLASS: St = St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META))] };
static T_STORAGE_V1_STORAGE_CLASS: T = T::Struct(&STORAGE_V1_STORAGE_CLASS);

/// `scheduling/v1.PriorityClass`
static SCHEDULING_V1_PRIORITY_CLASS: St = St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META))] };
static T_SCHEDULING_V1_PRIORITY_CLASS: T = T::Struct(&SCHEDULING_V1_PRIORITY_CLASS);

/// `apiextensions/v1.CustomResourceDefinitionStatus`
static APIEXTENSIONS_V1_CUSTOM_RESOURCE_DEFINITION_STATUS: St =
    St { fields: &[F("conditions", T::Assoc(&[K("type", None)], &PLAIN))] };

/// `apiextensions/v1.CustomResourceDefinition`
static APIEXTENSIONS_V1_CUSTOM_RESOURCE_DEFINITION: St = St {
    fields: &[
        F("metadata", T::Struct(&META_V1_OBJECT_META)),
        F("status", T::Struct(&APIEXTENSIONS_V1_CUSTOM_RESOURCE_DEFINITION_STATUS)),
    ],
};
static T_APIEXTENSIONS_V1_CUSTOM_RESOURCE_DEFINITION: T = T::Struct(&APIEXTENSIONS_V1_CUSTOM_RESOURCE_DEFINITION);

/// `discovery/v1.EndpointSlice`
static DISCOVERY_V1_ENDPOINT_SLICE: St = St { fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META))] };
static T_DISCOVERY_V1_ENDPOINT_SLICE: T = T::Struct(&DISCOVERY_V1_ENDPOINT_SLICE);

/// `events/v1.Event`
static EVENTS_V1_EVENT: St = St {
    fields: &[F("metadata", T::Struct(&META_V1_OBJECT_META)), F("regarding", T::Atomic), F("related", T::Atomic)],
};
static T_EVENTS_V1_EVENT: T = T::Struct(&EVENTS_V1_EVENT);

/// Every built-in kind: (API group, kind, root type, zero value as Go encodes it).
pub(super) static KINDS: &[(&str, &str, &T, &str)] = &[
    ("", "Pod", &T_CORE_V1_POD, r#"{"metadata":{"creationTimestamp":null},"spec":{"containers":null},"status":{}}"#),
    (
        "",
        "PodTemplate",
        &T_CORE_V1_POD_TEMPLATE,
        r#"{"metadata":{"creationTimestamp":null},"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}}}"#,
    ),
    (
        "",
        "ReplicationController",
        &T_CORE_V1_REPLICATION_CONTROLLER,
        r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{"replicas":0}}"#,
    ),
    (
        "",
        "Service",
        &T_CORE_V1_SERVICE,
        r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{"loadBalancer":{}}}"#,
    ),
    ("", "Endpoints", &T_CORE_V1_ENDPOINTS, r#"{"metadata":{"creationTimestamp":null}}"#),
    (
        "",
        "Node",
        &T_CORE_V1_NODE,
        r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"","bootID":"","kernelVersion":"","osImage":"","containerRuntimeVersion":"","kubeletVersion":"","kubeProxyVersion":"","operatingSystem":"","architecture":""}}}"#,
    ),
    ("", "Namespace", &T_CORE_V1_NAMESPACE, r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{}}"#),
    ("", "ConfigMap", &T_CORE_V1_CONFIG_MAP, r#"{"metadata":{"creationTimestamp":null}}"#),
    ("", "Secret", &T_CORE_V1_SECRET, r#"{"metadata":{"creationTimestamp":null}}"#),
    ("", "ServiceAccount", &T_CORE_V1_SERVICE_ACCOUNT, r#"{"metadata":{"creationTimestamp":null}}"#),
    (
        "",
        "PersistentVolume",
        &T_CORE_V1_PERSISTENT_VOLUME,
        r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{}}"#,
    ),
    (
        "",
        "PersistentVolumeClaim",
        &T_CORE_V1_PERSISTENT_VOLUME_CLAIM,
        r#"{"metadata":{"creationTimestamp":null},"spec":{"resources":{}},"status":{}}"#,
    ),
    (
        "",
        "Event",
        &T_CORE_V1_EVENT,
        r#"{"metadata":{"creationTimestamp":null},"involvedObject":{},"source":{},"firstTimestamp":null,"lastTimestamp":null,"eventTime":null,"reportingComponent":"","reportingInstance":""}"#,
    ),
    ("", "LimitRange", &T_CORE_V1_LIMIT_RANGE, r#"{"metadata":{"creationTimestamp":null},"spec":{"limits":null}}"#),
    (
        "",
        "ResourceQuota",
        &T_CORE_V1_RESOURCE_QUOTA,
        r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{}}"#,
    ),
    (
        "apps",
        "Deployment",
        &T_APPS_V1_DEPLOYMENT,
        r#"{"metadata":{"creationTimestamp":null},"spec":{"selector":null,"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}},"strategy":{}},"status":{}}"#,
    ),
    (
        "apps",
        "ReplicaSet",
        &T_APPS_V1_REPLICA_SET,
        r#"{"metadata":{"creationTimestamp":null},"spec":{"selector":null,"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}}},"status":{"replicas":0}}"#,
    ),
    (
        "apps",
        "StatefulSet",
        &T_APPS_V1_STATEFUL_SET,
        r#"{"metadata":{"creationTimestamp":null},"spec":{"selector":null,"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}},"serviceName":"","updateStrategy":{}},"status":{"replicas":0,"availableReplicas":0}}"#,
    ),
    (
        "apps",
        "DaemonSet",
        &T_APPS_V1_DAEMON_SET,
        r#"{"metadata":{"creationTimestamp":null},"spec":{"selector":null,"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}},"updateStrategy":{}},"status":{"currentNumberScheduled":0,"numberMisscheduled":0,"desiredNumberScheduled":0,"numberReady":0}}"#,
    ),
    (
        "apps",
        "ControllerRevision",
        &T_APPS_V1_CONTROLLER_REVISION,
        r#"{"metadata":{"creationTimestamp":null},"data":null,"revision":0}"#,
    ),
    (
        "batch",
        "Job",
        &T_BATCH_V1_JOB,
        r#"{"metadata":{"creationTimestamp":null},"spec":{"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}}},"status":{}}"#,
    ),
    (
        "batch",
        "CronJob",
        &T_BATCH_V1_CRON_JOB,
        r#"{"metadata":{"creationTimestamp":null},"spec":{"schedule":"","jobTemplate":{"metadata":{"creationTimestamp":null},"spec":{"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":null}}}}},"status":{}}"#,
    ),
    ("coordination.k8s.io", "Lease", &T_COORDINATION_V1_LEASE, r#"{"metadata":{"creationTimestamp":null},"spec":{}}"#),
    (
        "policy",
        "PodDisruptionBudget",
        &T_POLICY_V1_POD_DISRUPTION_BUDGET,
        r#"{"metadata":{"creationTimestamp":null},"spec":{},"status":{"disruptionsAllowed":0,"currentHealthy":0,"desiredHealthy":0,"expectedPods":0}}"#,
    ),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        &T_AUTOSCALING_V2_HORIZONTAL_POD_AUTOSCALER,
        r#"{"metadata":{"creationTimestamp":null},"spec":{"scaleTargetRef":{"kind":"","name":""},"maxReplicas":0},"status":{"desiredReplicas":0,"currentMetrics":null}}"#,
    ),
    ("rbac.authorization.k8s.io", "Role", &T_RBAC_V1_ROLE, r#"{"metadata":{"creationTimestamp":null},"rules":null}"#),
    (
        "rbac.authorization.k8s.io",
        "ClusterRole",
        &T_RBAC_V1_CLUSTER_ROLE,
        r#"{"metadata":{"creationTimestamp":null},"rules":null}"#,
    ),
    (
        "rbac.authorization.k8s.io",
        "RoleBinding",
        &T_RBAC_V1_ROLE_BINDING,
        r#"{"metadata":{"creationTimestamp":null},"roleRef":{"apiGroup":"","kind":"","name":""}}"#,
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        &T_RBAC_V1_CLUSTER_ROLE_BINDING,
        r#"{"metadata":{"creationTimestamp":null},"roleRef":{"apiGroup":"","kind":"","name":""}}"#,
    ),
    (
        "storage.k8s.io",
        "StorageClass",
        &T_STORAGE_V1_STORAGE_CLASS,
        r#"{"metadata":{"creationTimestamp":null},"provisioner":""}"#,
    ),
    (
        "scheduling.k8s.io",
        "PriorityClass",
        &T_SCHEDULING_V1_PRIORITY_CLASS,
        r#"{"metadata":{"creationTimestamp":null},"value":0}"#,
    ),
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        &T_APIEXTENSIONS_V1_CUSTOM_RESOURCE_DEFINITION,
        r#"{"metadata":{"creationTimestamp":null},"spec":{"group":"","names":{"plural":"","kind":""},"scope":"","versions":null},"status":{"conditions":null,"acceptedNames":{"plural":"","kind":""},"storedVersions":null}}"#,
    ),
    (
        "discovery.k8s.io",
        "EndpointSlice",
        &T_DISCOVERY_V1_ENDPOINT_SLICE,
        r#"{"metadata":{"creationTimestamp":null},"addressType":"","endpoints":null,"ports":null}"#,
    ),
    (
        "events.k8s.io",
        "Event",
        &T_EVENTS_V1_EVENT,
        r#"{"metadata":{"creationTimestamp":null},"eventTime":null,"regarding":{},"deprecatedSource":{},"deprecatedFirstTimestamp":null,"deprecatedLastTimestamp":null}"#,
    ),
];
