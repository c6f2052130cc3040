//! Server-side Table printing (`application/json;as=Table;v=v1;g=meta.k8s.io`): the column
//! definitions and row cells kube-apiserver 1.32 produces for each built-in resource, so that
//! `kubectl get` (and `-o wide`, which shows the columns with `priority > 0`) prints exactly
//! what it prints against Kubernetes.
//!
//! This module owns the per-resource printers (the semantics of Kubernetes'
//! `pkg/printers/internalversion/printers.go`), the generic default convertor used for every
//! other resource (`Name`, `Created At`), `duration.HumanDuration` for AGE-like cells and the
//! small formatting helpers they need (label sets, label selectors, container lists, ports).
//!
//! Like kube-apiserver, cells are always generated "wide": a row carries one cell per column,
//! including the `priority: 1` columns that kubectl hides unless asked for `-o wide`. Cells
//! are JSON strings, integers or booleans, exactly as Kubernetes emits them. Objects are the
//! stored JSON of the API object; where Kubernetes would always have defaulted a field before
//! printing (`replicas`, a Service's `type` and port `protocol`, a Secret's `type`), the
//! default is assumed when the field is absent.

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// Column definitions (`metav1.TableColumnDefinition` JSON objects: name, type, format, description, priority)
/// for the resource `resource` (plural, e.g. "deployments") of API group `group` ("" for core).
/// Unknown resources get Kubernetes' default: Name, Created At (as the generic default table convertor).
pub fn columns(group: &str, resource: &str) -> Vec<Value> {
    column_defs(Printer::of(group, resource))
}

/// The cells of one row for `obj`, in the order of `columns(group, resource)`, using `now` for ages.
pub fn cells(group: &str, resource: &str, obj: &Value, now: SystemTime) -> Vec<Value> {
    let now = nanos_since_epoch(now);
    row_cells(Printer::of(group, resource), obj, now)
}

/// Kubernetes' `duration.HumanDuration` ("5s", "3m2s", "10m", "5h", "3d4h", "2y") used for AGE cells.
pub fn human_duration(d: Duration) -> String {
    human_duration_nanos(i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

// ---------------------------------------------------------------------------------------------
// Which printer serves which resource
// ---------------------------------------------------------------------------------------------

/// The printer kube-apiserver's storage for a resource uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Printer {
    Pod,
    PodTemplate,
    ReplicationController,
    Service,
    Endpoints,
    Node,
    /// `v1` Events (`involvedObject`, `message`, ...).
    CoreEvent,
    /// `events.k8s.io/v1` Events (`regarding`, `note`, `deprecated*`), printed by the same printer.
    EventsEvent,
    Namespace,
    Secret,
    ServiceAccount,
    PersistentVolume,
    PersistentVolumeClaim,
    ConfigMap,
    ResourceQuota,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    ControllerRevision,
    Job,
    CronJob,
    HorizontalPodAutoscaler,
    PodDisruptionBudget,
    RoleBinding,
    ClusterRoleBinding,
    Lease,
    StorageClass,
    PriorityClass,
    EndpointSlice,
    Ingress,
    IngressClass,
    NetworkPolicy,
    MutatingWebhookConfiguration,
    ValidatingWebhookConfiguration,
    /// The generic `rest.NewDefaultTableConvertor`: Name, Created At.
    Default,
}

impl Printer {
    fn of(group: &str, resource: &str) -> Self {
        match (group, resource) {
            ("", "pods") => Self::Pod,
            ("", "podtemplates") => Self::PodTemplate,
            ("", "replicationcontrollers") => Self::ReplicationController,
            ("", "services") => Self::Service,
            ("", "endpoints") => Self::Endpoints,
            ("", "nodes") => Self::Node,
            ("", "events") => Self::CoreEvent,
            ("events.k8s.io", "events") => Self::EventsEvent,
            ("", "namespaces") => Self::Namespace,
            ("", "secrets") => Self::Secret,
            ("", "serviceaccounts") => Self::ServiceAccount,
            ("", "persistentvolumes") => Self::PersistentVolume,
            ("", "persistentvolumeclaims") => Self::PersistentVolumeClaim,
            ("", "configmaps") => Self::ConfigMap,
            ("", "resourcequotas") => Self::ResourceQuota,
            ("apps", "deployments") => Self::Deployment,
            ("apps", "replicasets") => Self::ReplicaSet,
            ("apps", "statefulsets") => Self::StatefulSet,
            ("apps", "daemonsets") => Self::DaemonSet,
            ("apps", "controllerrevisions") => Self::ControllerRevision,
            ("batch", "jobs") => Self::Job,
            ("batch", "cronjobs") => Self::CronJob,
            ("autoscaling", "horizontalpodautoscalers") => Self::HorizontalPodAutoscaler,
            ("policy", "poddisruptionbudgets") => Self::PodDisruptionBudget,
            ("rbac.authorization.k8s.io", "rolebindings") => Self::RoleBinding,
            ("rbac.authorization.k8s.io", "clusterrolebindings") => Self::ClusterRoleBinding,
            ("coordination.k8s.io", "leases") => Self::Lease,
            ("storage.k8s.io", "storageclasses") => Self::StorageClass,
            ("scheduling.k8s.io", "priorityclasses") => Self::PriorityClass,
            ("discovery.k8s.io", "endpointslices") => Self::EndpointSlice,
            ("networking.k8s.io", "ingresses") => Self::Ingress,
            ("networking.k8s.io", "ingressclasses") => Self::IngressClass,
            ("networking.k8s.io", "networkpolicies") => Self::NetworkPolicy,
            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations") => Self::MutatingWebhookConfiguration,
            ("admissionregistration.k8s.io", "validatingwebhookconfigurations") => Self::ValidatingWebhookConfiguration,
            // roles, clusterroles, limitranges, customresourcedefinitions and everything else
            // have no printer in kube-apiserver and use the default table convertor.
            _ => Self::Default,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Column definitions
// ---------------------------------------------------------------------------------------------

/// `metav1.ObjectMeta{}.SwaggerDoc()["name"]`.
const D_META_NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
/// `metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]`.
const D_META_CREATION_TIMESTAMP: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

const D_CONTAINERS: &str = "Names of each container in the template.";
const D_IMAGES: &str = "Images referenced by each container in the template.";

// Field documentation (`SwaggerDoc()`) of k8s.io/api v0.32.0, as the 1.32 printers reference it.
const D_CORE_PODSTATUS_PODIP: &str =
    "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.";
const D_CORE_PODSPEC_NODENAME: &str = "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename";
const D_CORE_PODSTATUS_NOMINATEDNODENAME: &str = "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.";
const D_CORE_PODSPEC_READINESSGATES: &str = "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";
const D_CORE_REPLICATIONCONTROLLERSPEC_REPLICAS: &str = "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller";
const D_CORE_REPLICATIONCONTROLLERSTATUS_REPLICAS: &str = "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller";
const D_CORE_REPLICATIONCONTROLLERSTATUS_READYREPLICAS: &str =
    "The number of ready replicas for this replication controller.";
const D_CORE_REPLICATIONCONTROLLERSPEC_SELECTOR: &str = "Selector is a label query over pods that should match the Replicas count. If Selector is empty, it is defaulted to the labels present on the Pod template. Label keys and values that must match in order to be controlled by this replication controller, if empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const D_EXTENSIONS_REPLICASETSPEC_REPLICAS: &str = "Replicas is the number of desired replicas. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller";
const D_EXTENSIONS_REPLICASETSTATUS_REPLICAS: &str = "Replicas is the most recently observed number of replicas. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/#what-is-a-replicationcontroller";
const D_EXTENSIONS_REPLICASETSTATUS_READYREPLICAS: &str = "The number of ready replicas for this replica set.";
const D_EXTENSIONS_REPLICASETSPEC_SELECTOR: &str = "Selector is a label query over pods that should match the replica count. If the selector is empty, it is defaulted to the labels present on the pod template. Label keys and values that must match in order to be controlled by this replica set. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const D_EXTENSIONS_DAEMONSETSTATUS_DESIREDNUMBERSCHEDULED: &str = "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
const D_EXTENSIONS_DAEMONSETSTATUS_CURRENTNUMBERSCHEDULED: &str = "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/";
const D_EXTENSIONS_DAEMONSETSTATUS_NUMBERREADY: &str = "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.";
const D_EXTENSIONS_DAEMONSETSTATUS_UPDATEDNUMBERSCHEDULED: &str =
    "The total number of nodes that are running updated daemon pod";
const D_EXTENSIONS_DAEMONSETSTATUS_NUMBERAVAILABLE: &str = "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)";
const D_CORE_PODSPEC_NODESELECTOR: &str = "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/";
const D_EXTENSIONS_DAEMONSETSPEC_SELECTOR: &str = "A label query over pods that are managed by the daemon set. Must match in order to be controlled. If empty, defaulted to labels on Pod template. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const D_BATCH_JOBSTATUS_SUCCEEDED: &str = "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.";
const D_BATCH_JOBSPEC_SELECTOR: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const D_BATCH_CRONJOBSPEC_SCHEDULE: &str = "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.";
const D_BATCH_CRONJOBSPEC_TIMEZONE: &str = "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones";
const D_BATCH_CRONJOBSPEC_SUSPEND: &str = "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.";
const D_BATCH_CRONJOBSTATUS_ACTIVE: &str = "A list of pointers to currently running jobs.";
const D_BATCH_CRONJOBSTATUS_LASTSCHEDULETIME: &str =
    "Information when was the last time the job was successfully scheduled.";
const D_CORE_SERVICESPEC_TYPE: &str = "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types";
const D_CORE_SERVICESPEC_CLUSTERIP: &str = "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
const D_CORE_SERVICESPEC_EXTERNALIPS: &str = "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.";
const D_CORE_SERVICESPEC_PORTS: &str = "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
const D_CORE_SERVICESPEC_SELECTOR: &str = "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/";
const D_CORE_ENDPOINTS_SUBSETS: &str = "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.";
const D_CORE_NODESYSTEMINFO_KUBELETVERSION: &str = "Kubelet Version reported by the node.";
const D_CORE_NODESTATUS_ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";
const D_CORE_NODESYSTEMINFO_OSIMAGE: &str =
    "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).";
const D_CORE_NODESYSTEMINFO_KERNELVERSION: &str =
    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).";
const D_CORE_NODESYSTEMINFO_CONTAINERRUNTIMEVERSION: &str =
    "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).";
const D_CORE_EVENT_LASTTIMESTAMP: &str = "The time at which the most recent occurrence of this event was recorded.";
const D_CORE_EVENT_TYPE: &str = "Type of this event (Normal, Warning), new types could be added in the future";
const D_CORE_EVENT_REASON: &str = "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.";
const D_CORE_EVENT_INVOLVEDOBJECT: &str = "The object that this event is about.";
const D_CORE_OBJECTREFERENCE_FIELDPATH: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.";
const D_CORE_EVENT_SOURCE: &str =
    "The component reporting this event. Should be a short machine understandable string.";
const D_CORE_EVENT_MESSAGE: &str = "A human-readable description of the status of this operation.";
const D_CORE_EVENT_FIRSTTIMESTAMP: &str =
    "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)";
const D_CORE_EVENT_COUNT: &str = "The number of times this event has occurred.";
const D_CORE_SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
const D_CORE_SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";
const D_CORE_SERVICEACCOUNT_SECRETS: &str = "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret";
const D_CORE_PERSISTENTVOLUMESPEC_CAPACITY: &str = "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity";
const D_CORE_PERSISTENTVOLUMESPEC_ACCESSMODES: &str = "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes";
const D_CORE_PERSISTENTVOLUMESPEC_PERSISTENTVOLUMERECLAIMPOLICY: &str = "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming";
const D_CORE_PERSISTENTVOLUMESTATUS_PHASE: &str = "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase";
const D_CORE_PERSISTENTVOLUMESPEC_CLAIMREF: &str = "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding";
const D_CORE_PERSISTENTVOLUMESTATUS_REASON: &str = "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.";
const D_CORE_PERSISTENTVOLUMESPEC_VOLUMEMODE: &str = "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.";
const D_CORE_PERSISTENTVOLUMECLAIMSTATUS_PHASE: &str = "phase represents the current phase of PersistentVolumeClaim.";
const D_CORE_PERSISTENTVOLUMECLAIMSPEC_VOLUMENAME: &str =
    "volumeName is the binding reference to the PersistentVolume backing this claim.";
const D_CORE_PERSISTENTVOLUMECLAIMSTATUS_CAPACITY: &str =
    "capacity represents the actual resources of the underlying volume.";
const D_CORE_PERSISTENTVOLUMECLAIMSTATUS_ACCESSMODES: &str = "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1";
const D_CORE_PERSISTENTVOLUMECLAIMSPEC_VOLUMEMODE: &str = "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.";
const D_EXTENSIONS_DEPLOYMENTSTATUS_UPDATEDREPLICAS: &str =
    "Total number of non-terminated pods targeted by this deployment that have the desired template spec.";
const D_EXTENSIONS_DEPLOYMENTSTATUS_AVAILABLEREPLICAS: &str =
    "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.";
const D_EXTENSIONS_DEPLOYMENTSPEC_SELECTOR: &str = "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.";
const D_AUTOSCALING_HORIZONTALPODAUTOSCALERSPEC_SCALETARGETREF: &str = "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.";
const D_AUTOSCALING_HORIZONTALPODAUTOSCALERSPEC_METRICS: &str = "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond.";
const D_AUTOSCALING_HORIZONTALPODAUTOSCALERSPEC_MINREPLICAS: &str = "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available.";
const D_AUTOSCALING_HORIZONTALPODAUTOSCALERSPEC_MAXREPLICAS: &str = "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas.";
const D_AUTOSCALING_HORIZONTALPODAUTOSCALERSTATUS_CURRENTREPLICAS: &str =
    "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.";
const D_CORE_CONFIGMAP_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";
const D_EXTENSIONS_NETWORKPOLICYSPEC_PODSELECTOR: &str = "Selects the pods to which this NetworkPolicy object applies.  The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods.  In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.";
const D_RBAC_ROLEBINDING_ROLEREF: &str = "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
const D_RBAC_CLUSTERROLEBINDING_ROLEREF: &str = "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
const D_COORDINATION_LEASESPEC_HOLDERIDENTITY: &str = "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.";
const D_STORAGE_STORAGECLASS_PROVISIONER: &str = "provisioner indicates the type of the provisioner.";
const D_STORAGE_STORAGECLASS_RECLAIMPOLICY: &str = "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.";
const D_STORAGE_STORAGECLASS_VOLUMEBINDINGMODE: &str = "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.";
const D_STORAGE_STORAGECLASS_ALLOWVOLUMEEXPANSION: &str =
    "allowVolumeExpansion shows whether the storage class allow volume expand.";
const D_APPS_CONTROLLERREVISION_REVISION: &str = "revision indicates the revision of the state represented by Data.";
const D_SCHEDULING_PRIORITYCLASS_VALUE: &str = "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.";
const D_SCHEDULING_PRIORITYCLASS_GLOBALDEFAULT: &str = "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of such global default PriorityClasses will be used as the default priority.";
const D_SCHEDULING_PRIORITYCLASS_PREEMPTIONPOLICY: &str = "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.";
const D_DISCOVERY_ENDPOINTSLICE_ADDRESSTYPE: &str = "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.";
const D_DISCOVERY_ENDPOINTSLICE_PORTS: &str = "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates \"all ports\". Each slice may include a maximum of 100 ports.";
const D_DISCOVERY_ENDPOINTSLICE_ENDPOINTS: &str =
    "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.";

/// One `metav1.TableColumnDefinition`; every field is serialized, as Kubernetes does.
fn col(name: &str, ty: &str, format: &str, description: &str, priority: i32) -> Value {
    json!({ "name": name, "type": ty, "format": format, "description": description, "priority": priority })
}

/// A `priority: 0` string column.
fn s0(name: &str, description: &str) -> Value {
    col(name, "string", "", description, 0)
}

/// A `priority: 1` (wide) string column.
fn s1(name: &str, description: &str) -> Value {
    col(name, "string", "", description, 1)
}

/// A `priority: 0` integer column.
fn i0(name: &str, description: &str) -> Value {
    col(name, "integer", "", description, 0)
}

fn name_col() -> Value {
    col("Name", "string", "name", D_META_NAME, 0)
}

fn age_col() -> Value {
    s0("Age", D_META_CREATION_TIMESTAMP)
}

fn column_defs(p: Printer) -> Vec<Value> {
    match p {
        Printer::Pod => vec![
            name_col(),
            s0("Ready", "The aggregate readiness state of this pod for accepting traffic."),
            s0("Status", "The aggregate status of the containers in this pod."),
            s0(
                "Restarts",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            age_col(),
            s1("IP", D_CORE_PODSTATUS_PODIP),
            s1("Node", D_CORE_PODSPEC_NODENAME),
            s1("Nominated Node", D_CORE_PODSTATUS_NOMINATEDNODENAME),
            s1("Readiness Gates", D_CORE_PODSPEC_READINESSGATES),
        ],
        Printer::PodTemplate => vec![
            name_col(),
            s0("Containers", D_CONTAINERS),
            s0("Images", D_IMAGES),
            s0("Pod Labels", "The labels for the pod template."),
        ],
        Printer::PodDisruptionBudget => vec![
            name_col(),
            s0("Min Available", "The minimum number of pods that must be available."),
            s0("Max Unavailable", "The maximum number of pods that may be unavailable."),
            i0("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time."),
            age_col(),
        ],
        Printer::ReplicationController => vec![
            name_col(),
            i0("Desired", D_CORE_REPLICATIONCONTROLLERSPEC_REPLICAS),
            i0("Current", D_CORE_REPLICATIONCONTROLLERSTATUS_REPLICAS),
            i0("Ready", D_CORE_REPLICATIONCONTROLLERSTATUS_READYREPLICAS),
            age_col(),
            s1("Containers", D_CONTAINERS),
            s1("Images", D_IMAGES),
            s1("Selector", D_CORE_REPLICATIONCONTROLLERSPEC_SELECTOR),
        ],
        Printer::ReplicaSet => vec![
            name_col(),
            i0("Desired", D_EXTENSIONS_REPLICASETSPEC_REPLICAS),
            i0("Current", D_EXTENSIONS_REPLICASETSTATUS_REPLICAS),
            i0("Ready", D_EXTENSIONS_REPLICASETSTATUS_READYREPLICAS),
            age_col(),
            s1("Containers", D_CONTAINERS),
            s1("Images", D_IMAGES),
            s1("Selector", D_EXTENSIONS_REPLICASETSPEC_SELECTOR),
        ],
        Printer::DaemonSet => vec![
            name_col(),
            i0("Desired", D_EXTENSIONS_DAEMONSETSTATUS_DESIREDNUMBERSCHEDULED),
            i0("Current", D_EXTENSIONS_DAEMONSETSTATUS_CURRENTNUMBERSCHEDULED),
            i0("Ready", D_EXTENSIONS_DAEMONSETSTATUS_NUMBERREADY),
            i0("Up-to-date", D_EXTENSIONS_DAEMONSETSTATUS_UPDATEDNUMBERSCHEDULED),
            i0("Available", D_EXTENSIONS_DAEMONSETSTATUS_NUMBERAVAILABLE),
            s0("Node Selector", D_CORE_PODSPEC_NODESELECTOR),
            age_col(),
            s1("Containers", D_CONTAINERS),
            s1("Images", D_IMAGES),
            s1("Selector", D_EXTENSIONS_DAEMONSETSPEC_SELECTOR),
        ],
        Printer::Job => vec![
            name_col(),
            s0("Status", "Status of the job."),
            s0("Completions", D_BATCH_JOBSTATUS_SUCCEEDED),
            s0("Duration", "Time required to complete the job."),
            age_col(),
            s1("Containers", D_CONTAINERS),
            s1("Images", D_IMAGES),
            s1("Selector", D_BATCH_JOBSPEC_SELECTOR),
        ],
        Printer::CronJob => vec![
            name_col(),
            s0("Schedule", D_BATCH_CRONJOBSPEC_SCHEDULE),
            s0("Timezone", D_BATCH_CRONJOBSPEC_TIMEZONE),
            col("Suspend", "boolean", "", D_BATCH_CRONJOBSPEC_SUSPEND, 0),
            i0("Active", D_BATCH_CRONJOBSTATUS_ACTIVE),
            s0("Last Schedule", D_BATCH_CRONJOBSTATUS_LASTSCHEDULETIME),
            age_col(),
            s1("Containers", D_CONTAINERS),
            s1("Images", D_IMAGES),
            s1("Selector", D_BATCH_JOBSPEC_SELECTOR),
        ],
        Printer::Service => vec![
            name_col(),
            s0("Type", D_CORE_SERVICESPEC_TYPE),
            s0("Cluster-IP", D_CORE_SERVICESPEC_CLUSTERIP),
            s0("External-IP", D_CORE_SERVICESPEC_EXTERNALIPS),
            s0("Port(s)", D_CORE_SERVICESPEC_PORTS),
            age_col(),
            s1("Selector", D_CORE_SERVICESPEC_SELECTOR),
        ],
        Printer::Ingress => vec![
            name_col(),
            s0("Class", "The name of the IngressClass resource that should be used for additional configuration"),
            s0("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
            s0("Address", "Address is a list containing ingress points for the load-balancer"),
            s0("Ports", "Ports of TLS configurations that open"),
            age_col(),
        ],
        Printer::IngressClass => vec![
            name_col(),
            s0("Controller", "Controller that is responsible for handling this class"),
            s0("Parameters", "A reference to a resource with additional parameters"),
            age_col(),
        ],
        Printer::StatefulSet => vec![
            name_col(),
            s0("Ready", "Number of the pod with ready state"),
            age_col(),
            s1("Containers", D_CONTAINERS),
            s1("Images", D_IMAGES),
        ],
        Printer::Endpoints => vec![name_col(), s0("Endpoints", D_CORE_ENDPOINTS_SUBSETS), age_col()],
        Printer::Node => vec![
            name_col(),
            s0("Status", "The status of the node"),
            s0("Roles", "The roles of the node"),
            age_col(),
            s0("Version", D_CORE_NODESYSTEMINFO_KUBELETVERSION),
            s1("Internal-IP", D_CORE_NODESTATUS_ADDRESSES),
            s1("External-IP", D_CORE_NODESTATUS_ADDRESSES),
            s1("OS-Image", D_CORE_NODESYSTEMINFO_OSIMAGE),
            s1("Kernel-Version", D_CORE_NODESYSTEMINFO_KERNELVERSION),
            s1("Container-Runtime", D_CORE_NODESYSTEMINFO_CONTAINERRUNTIMEVERSION),
        ],
        Printer::CoreEvent | Printer::EventsEvent => vec![
            s0("Last Seen", D_CORE_EVENT_LASTTIMESTAMP),
            s0("Type", D_CORE_EVENT_TYPE),
            s0("Reason", D_CORE_EVENT_REASON),
            s0("Object", D_CORE_EVENT_INVOLVEDOBJECT),
            s1("Subobject", D_CORE_OBJECTREFERENCE_FIELDPATH),
            s1("Source", D_CORE_EVENT_SOURCE),
            s0("Message", D_CORE_EVENT_MESSAGE),
            s1("First Seen", D_CORE_EVENT_FIRSTTIMESTAMP),
            s1("Count", D_CORE_EVENT_COUNT),
            col("Name", "string", "name", D_META_NAME, 1),
        ],
        Printer::Namespace => vec![name_col(), s0("Status", "The status of the namespace"), age_col()],
        Printer::Secret => vec![name_col(), s0("Type", D_CORE_SECRET_TYPE), s0("Data", D_CORE_SECRET_DATA), age_col()],
        Printer::ServiceAccount => vec![name_col(), s0("Secrets", D_CORE_SERVICEACCOUNT_SECRETS), age_col()],
        Printer::PersistentVolume => vec![
            name_col(),
            s0("Capacity", D_CORE_PERSISTENTVOLUMESPEC_CAPACITY),
            s0("Access Modes", D_CORE_PERSISTENTVOLUMESPEC_ACCESSMODES),
            s0("Reclaim Policy", D_CORE_PERSISTENTVOLUMESPEC_PERSISTENTVOLUMERECLAIMPOLICY),
            s0("Status", D_CORE_PERSISTENTVOLUMESTATUS_PHASE),
            s0("Claim", D_CORE_PERSISTENTVOLUMESPEC_CLAIMREF),
            s0("StorageClass", "StorageClass of the pv"),
            s0("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
            s0("Reason", D_CORE_PERSISTENTVOLUMESTATUS_REASON),
            age_col(),
            s1("VolumeMode", D_CORE_PERSISTENTVOLUMESPEC_VOLUMEMODE),
        ],
        Printer::PersistentVolumeClaim => vec![
            name_col(),
            s0("Status", D_CORE_PERSISTENTVOLUMECLAIMSTATUS_PHASE),
            s0("Volume", D_CORE_PERSISTENTVOLUMECLAIMSPEC_VOLUMENAME),
            s0("Capacity", D_CORE_PERSISTENTVOLUMECLAIMSTATUS_CAPACITY),
            s0("Access Modes", D_CORE_PERSISTENTVOLUMECLAIMSTATUS_ACCESSMODES),
            s0("StorageClass", "StorageClass of the pvc"),
            s0("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
            age_col(),
            s1("VolumeMode", D_CORE_PERSISTENTVOLUMECLAIMSPEC_VOLUMEMODE),
        ],
        Printer::Deployment => vec![
            name_col(),
            s0("Ready", "Number of the pod with ready state"),
            s0("Up-to-date", D_EXTENSIONS_DEPLOYMENTSTATUS_UPDATEDREPLICAS),
            s0("Available", D_EXTENSIONS_DEPLOYMENTSTATUS_AVAILABLEREPLICAS),
            age_col(),
            s1("Containers", D_CONTAINERS),
            s1("Images", D_IMAGES),
            s1("Selector", D_EXTENSIONS_DEPLOYMENTSPEC_SELECTOR),
        ],
        Printer::HorizontalPodAutoscaler => vec![
            name_col(),
            s0("Reference", D_AUTOSCALING_HORIZONTALPODAUTOSCALERSPEC_SCALETARGETREF),
            s0("Targets", D_AUTOSCALING_HORIZONTALPODAUTOSCALERSPEC_METRICS),
            s0("MinPods", D_AUTOSCALING_HORIZONTALPODAUTOSCALERSPEC_MINREPLICAS),
            s0("MaxPods", D_AUTOSCALING_HORIZONTALPODAUTOSCALERSPEC_MAXREPLICAS),
            s0("Replicas", D_AUTOSCALING_HORIZONTALPODAUTOSCALERSTATUS_CURRENTREPLICAS),
            age_col(),
        ],
        Printer::ConfigMap => vec![name_col(), s0("Data", D_CORE_CONFIGMAP_DATA), age_col()],
        Printer::NetworkPolicy => vec![name_col(), s0("Pod-Selector", D_EXTENSIONS_NETWORKPOLICYSPEC_PODSELECTOR), age_col()],
        Printer::RoleBinding => vec![
            name_col(),
            s0("Role", D_RBAC_ROLEBINDING_ROLEREF),
            age_col(),
            s1("Users", "Users in the roleBinding"),
            s1("Groups", "Groups in the roleBinding"),
            s1("ServiceAccounts", "ServiceAccounts in the roleBinding"),
        ],
        Printer::ClusterRoleBinding => vec![
            name_col(),
            s0("Role", D_RBAC_CLUSTERROLEBINDING_ROLEREF),
            age_col(),
            s1("Users", "Users in the clusterRoleBinding"),
            s1("Groups", "Groups in the clusterRoleBinding"),
            s1("ServiceAccounts", "ServiceAccounts in the clusterRoleBinding"),
        ],
        Printer::Lease => vec![name_col(), s0("Holder", D_COORDINATION_LEASESPEC_HOLDERIDENTITY), age_col()],
        Printer::StorageClass => vec![
            name_col(),
            s0("Provisioner", D_STORAGE_STORAGECLASS_PROVISIONER),
            s0("ReclaimPolicy", D_STORAGE_STORAGECLASS_RECLAIMPOLICY),
            s0("VolumeBindingMode", D_STORAGE_STORAGECLASS_VOLUMEBINDINGMODE),
            s0("AllowVolumeExpansion", D_STORAGE_STORAGECLASS_ALLOWVOLUMEEXPANSION),
            age_col(),
        ],
        Printer::ControllerRevision => vec![
            name_col(),
            s0("Controller", "Controller of the object"),
            s0("Revision", D_APPS_CONTROLLERREVISION_REVISION),
            age_col(),
        ],
        Printer::ResourceQuota => vec![
            name_col(),
            s0("Request", "Request represents a minimum amount of cpu/memory that a container may consume."),
            s0(
                "Limit",
                "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
            ),
            age_col(),
        ],
        Printer::PriorityClass => vec![
            name_col(),
            i0("Value", D_SCHEDULING_PRIORITYCLASS_VALUE),
            col("Global-Default", "boolean", "", D_SCHEDULING_PRIORITYCLASS_GLOBALDEFAULT, 0),
            age_col(),
            // Declared without priority in 1.32 although the printer only fills it when wide;
            // kube-apiserver always prints wide, so the column is always shown.
            s0("PreemptionPolicy", D_SCHEDULING_PRIORITYCLASS_PREEMPTIONPOLICY),
        ],
        Printer::EndpointSlice => vec![
            name_col(),
            s0("AddressType", D_DISCOVERY_ENDPOINTSLICE_ADDRESSTYPE),
            s0("Ports", D_DISCOVERY_ENDPOINTSLICE_PORTS),
            s0("Endpoints", D_DISCOVERY_ENDPOINTSLICE_ENDPOINTS),
            age_col(),
        ],
        Printer::MutatingWebhookConfiguration | Printer::ValidatingWebhookConfiguration => vec![
            name_col(),
            i0("Webhooks", "Webhooks indicates the number of webhooks registered in this configuration"),
            age_col(),
        ],
        Printer::Default => vec![name_col(), col("Created At", "date", "", D_META_CREATION_TIMESTAMP, 0)],
    }
}

// ---------------------------------------------------------------------------------------------
// Cells
// ---------------------------------------------------------------------------------------------

fn row_cells(p: Printer, obj: &Value, now: i128) -> Vec<Value> {
    let name = Value::from(gs(obj, "/metadata/name"));
    let age = || Value::from(since(ts(obj, "/metadata/creationTimestamp"), now));
    match p {
        Printer::Pod => pod_cells(obj, now),
        Printer::PodTemplate => {
            let (names, images) = container_cells(ga(obj, "/template/spec/containers"));
            vec![name, names.into(), images.into(), format_labels(gm(obj, "/template/metadata/labels")).into()]
        }
        Printer::PodDisruptionBudget => {
            let int_or_string = |ptr: &str| match get(obj, ptr) {
                Some(Value::String(s)) => s.clone(),
                Some(v @ Value::Number(_)) => v.to_string(),
                _ => "N/A".to_string(),
            };
            vec![
                name,
                int_or_string("/spec/minAvailable").into(),
                int_or_string("/spec/maxUnavailable").into(),
                gi(obj, "/status/disruptionsAllowed").into(),
                age(),
            ]
        }
        Printer::ReplicationController => {
            let (names, images) = container_cells(ga(obj, "/spec/template/spec/containers"));
            vec![
                name,
                replicas(obj).into(),
                gi(obj, "/status/replicas").into(),
                gi(obj, "/status/readyReplicas").into(),
                age(),
                names.into(),
                images.into(),
                format_labels(gm(obj, "/spec/selector")).into(),
            ]
        }
        Printer::ReplicaSet => {
            let (names, images) = container_cells(ga(obj, "/spec/template/spec/containers"));
            vec![
                name,
                replicas(obj).into(),
                gi(obj, "/status/replicas").into(),
                gi(obj, "/status/readyReplicas").into(),
                age(),
                names.into(),
                images.into(),
                format_label_selector(get(obj, "/spec/selector")).into(),
            ]
        }
        Printer::DaemonSet => {
            let (names, images) = container_cells(ga(obj, "/spec/template/spec/containers"));
            vec![
                name,
                gi(obj, "/status/desiredNumberScheduled").into(),
                gi(obj, "/status/currentNumberScheduled").into(),
                gi(obj, "/status/numberReady").into(),
                gi(obj, "/status/updatedNumberScheduled").into(),
                gi(obj, "/status/numberAvailable").into(),
                format_labels(gm(obj, "/spec/template/spec/nodeSelector")).into(),
                age(),
                names.into(),
                images.into(),
                format_label_selector(get(obj, "/spec/selector")).into(),
            ]
        }
        Printer::Job => job_cells(obj, now),
        Printer::CronJob => {
            let last_schedule = match get(obj, "/status/lastScheduleTime") {
                Some(_) => since(ts(obj, "/status/lastScheduleTime"), now),
                None => "<none>".to_string(),
            };
            let time_zone = match get(obj, "/spec/timeZone").and_then(Value::as_str) {
                Some(tz) => tz.to_string(),
                None => "<none>".to_string(),
            };
            let suspend = match gb(obj, "/spec/suspend") {
                Some(true) => "True",
                Some(false) => "False",
                None => "<unset>",
            };
            let (names, images) = container_cells(ga(obj, "/spec/jobTemplate/spec/template/spec/containers"));
            vec![
                name,
                gs(obj, "/spec/schedule").into(),
                time_zone.into(),
                suspend.into(),
                (ga(obj, "/status/active").len() as i64).into(),
                last_schedule.into(),
                age(),
                names.into(),
                images.into(),
                format_label_selector(get(obj, "/spec/jobTemplate/spec/selector")).into(),
            ]
        }
        Printer::Service => service_cells(obj, now),
        Printer::Ingress => {
            let class = get(obj, "/spec/ingressClassName").and_then(Value::as_str).unwrap_or("<none>");
            let ports = if ga(obj, "/spec/tls").is_empty() { "80" } else { "80, 443" };
            vec![
                name,
                class.into(),
                format_hosts(ga(obj, "/spec/rules")).into(),
                load_balancer_ingress(ga(obj, "/status/loadBalancer/ingress")).into(),
                ports.into(),
                age(),
            ]
        }
        Printer::IngressClass => {
            let parameters = match get(obj, "/spec/parameters") {
                Some(p) => {
                    let mut s = gs(p, "/kind").to_string();
                    if let Some(g) = get(p, "/apiGroup").and_then(Value::as_str) {
                        s.push('.');
                        s.push_str(g);
                    }
                    s.push('/');
                    s.push_str(gs(p, "/name"));
                    s
                }
                None => "<none>".to_string(),
            };
            vec![name, gs(obj, "/spec/controller").into(), parameters.into(), age()]
        }
        Printer::StatefulSet => {
            let (names, images) = container_cells(ga(obj, "/spec/template/spec/containers"));
            let ready = format!("{}/{}", gi(obj, "/status/readyReplicas"), replicas(obj));
            vec![name, ready.into(), age(), names.into(), images.into()]
        }
        Printer::Endpoints => vec![name, format_endpoints(ga(obj, "/subsets")).into(), age()],
        Printer::Node => node_cells(obj, now),
        Printer::CoreEvent => event_cells(obj, now, &CORE_EVENT_FIELDS),
        Printer::EventsEvent => event_cells(obj, now, &EVENTS_V1_FIELDS),
        Printer::Namespace => vec![name, gs(obj, "/status/phase").into(), age()],
        Printer::Secret => {
            let ty = match gs(obj, "/type") {
                "" => "Opaque",
                t => t,
            };
            vec![name, ty.into(), len_of(obj, "/data").into(), age()]
        }
        Printer::ServiceAccount => vec![name, len_of(obj, "/secrets").into(), age()],
        Printer::PersistentVolume => pv_cells(obj, now),
        Printer::PersistentVolumeClaim => pvc_cells(obj, now),
        Printer::Deployment => {
            let (names, images) = container_cells(ga(obj, "/spec/template/spec/containers"));
            let selector = match label_selector_string(get(obj, "/spec/selector")) {
                Ok(s) => s,
                Err(()) => "<invalid>".to_string(),
            };
            vec![
                name,
                format!("{}/{}", gi(obj, "/status/readyReplicas"), replicas(obj)).into(),
                gi(obj, "/status/updatedReplicas").into(),
                gi(obj, "/status/availableReplicas").into(),
                age(),
                names.into(),
                images.into(),
                selector.into(),
            ]
        }
        Printer::HorizontalPodAutoscaler => {
            let reference =
                format!("{}/{}", gs(obj, "/spec/scaleTargetRef/kind"), gs(obj, "/spec/scaleTargetRef/name"));
            let min_pods = match get(obj, "/spec/minReplicas").and_then(as_int) {
                Some(n) => n.to_string(),
                None => "<unset>".to_string(),
            };
            vec![
                name,
                reference.into(),
                format_hpa_metrics(obj).into(),
                min_pods.into(),
                gi(obj, "/spec/maxReplicas").into(),
                gi(obj, "/status/currentReplicas").into(),
                age(),
            ]
        }
        Printer::ConfigMap => vec![name, (len_of(obj, "/data") + len_of(obj, "/binaryData")).into(), age()],
        Printer::NetworkPolicy => {
            // `&obj.Spec.PodSelector`: never nil, an absent selector is the empty one.
            let empty = json!({});
            let sel = get(obj, "/spec/podSelector").unwrap_or(&empty);
            vec![name, format_label_selector(Some(sel)).into(), age()]
        }
        Printer::RoleBinding | Printer::ClusterRoleBinding => {
            let role = format!("{}/{}", gs(obj, "/roleRef/kind"), gs(obj, "/roleRef/name"));
            let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
            for s in ga(obj, "/subjects") {
                match gs(s, "/kind") {
                    "ServiceAccount" => sas.push(format!("{}/{}", gs(s, "/namespace"), gs(s, "/name"))),
                    "User" => users.push(gs(s, "/name").to_string()),
                    "Group" => groups.push(gs(s, "/name").to_string()),
                    _ => {}
                }
            }
            vec![name, role.into(), age(), users.join(", ").into(), groups.join(", ").into(), sas.join(", ").into()]
        }
        Printer::Lease => vec![name, gs(obj, "/spec/holderIdentity").into(), age()],
        Printer::StorageClass => {
            let annotations = gm(obj, "/metadata/annotations");
            let is_default = |key: &str| annotations.and_then(|a| a.get(key)).and_then(Value::as_str) == Some("true");
            let mut display = gs(obj, "/metadata/name").to_string();
            if is_default("storageclass.kubernetes.io/is-default-class")
                || is_default("storageclass.beta.kubernetes.io/is-default-class")
            {
                display.push_str(" (default)");
            }
            let reclaim = get(obj, "/reclaimPolicy").and_then(Value::as_str).unwrap_or("Delete");
            let binding = get(obj, "/volumeBindingMode").and_then(Value::as_str).unwrap_or("Immediate");
            let expansion = gb(obj, "/allowVolumeExpansion").unwrap_or(false);
            vec![
                display.into(),
                gs(obj, "/provisioner").into(),
                reclaim.into(),
                binding.into(),
                expansion.into(),
                age(),
            ]
        }
        Printer::ControllerRevision => {
            let controller = ga(obj, "/metadata/ownerReferences")
                .iter()
                .find(|r| gb(r, "/controller") == Some(true))
                .map(|r| {
                    let api_version = gs(r, "/apiVersion");
                    let group = match api_version.split_once('/') {
                        Some((g, _)) => g,
                        None => "",
                    };
                    let kind = gs(r, "/kind");
                    let owner = gs(r, "/name");
                    match (group, kind) {
                        ("", "") => owner.to_string(),
                        ("", k) => format!("{}/{owner}", k.to_lowercase()),
                        (g, k) => format!("{}.{}/{owner}", k.to_lowercase(), g.to_lowercase()),
                    }
                })
                .unwrap_or_else(|| "<none>".to_string());
            vec![name, controller.into(), gi(obj, "/revision").into(), age()]
        }
        Printer::ResourceQuota => {
            let hard = gm(obj, "/status/hard");
            let used = gm(obj, "/status/used");
            let (mut request, mut limit) = (String::new(), String::new());
            let keys: BTreeSet<&String> = hard.map(|h| h.keys().collect()).unwrap_or_default();
            for key in keys {
                let used_q = used.and_then(|u| u.get(key.as_str())).map(quantity).unwrap_or_else(|| "0".to_string());
                let hard_q = hard.and_then(|h| h.get(key.as_str())).map(quantity).unwrap_or_else(|| "0".to_string());
                let pieces: Vec<&str> = key.split('.').collect();
                let w = if pieces.len() > 1 && pieces[0] == "limits" { &mut limit } else { &mut request };
                w.push_str(&format!("{key}: {used_q}/{hard_q}, "));
            }
            let trim = |s: &str| s.strip_suffix(", ").unwrap_or(s).to_string();
            vec![name, trim(&request).into(), trim(&limit).into(), age()]
        }
        Printer::PriorityClass => vec![
            name,
            gi(obj, "/value").into(),
            gb(obj, "/globalDefault").unwrap_or(false).into(),
            age(),
            gs(obj, "/preemptionPolicy").into(),
        ],
        Printer::EndpointSlice => {
            let ports: Vec<String> = ga(obj, "/ports")
                .iter()
                .map(|p| match get(p, "/port").and_then(as_int) {
                    Some(n) => n.to_string(),
                    None => match get(p, "/name").and_then(Value::as_str) {
                        Some(n) => n.to_string(),
                        None => "*".to_string(),
                    },
                })
                .collect();
            let addresses: Vec<String> = ga(obj, "/endpoints")
                .iter()
                .flat_map(|e| ga(e, "/addresses").iter().map(|a| a.as_str().unwrap_or_default().to_string()))
                .collect();
            vec![
                name,
                gs(obj, "/addressType").into(),
                list_with_more(&ports, 3).into(),
                list_with_more(&addresses, 3).into(),
                age(),
            ]
        }
        Printer::MutatingWebhookConfiguration | Printer::ValidatingWebhookConfiguration => {
            vec![name, (ga(obj, "/webhooks").len() as i64).into(), age()]
        }
        Printer::Default => {
            let created = ts(obj, "/metadata/creationTimestamp").unwrap_or(GO_ZERO_TIME);
            vec![name, format_rfc3339(created).into()]
        }
    }
}

/// `spec.replicas`, which Kubernetes defaults to 1 for the replicated workloads.
fn replicas(obj: &Value) -> i64 {
    get(obj, "/spec/replicas").and_then(as_int).unwrap_or(1)
}

fn pod_cells(obj: &Value, now: i128) -> Vec<Value> {
    let init_specs = ga(obj, "/spec/initContainers");
    let is_restartable = |name: &str| {
        init_specs.iter().rev().find(|c| gs(c, "/name") == name).is_some_and(|c| gs(c, "/restartPolicy") == "Always")
    };
    let total =
        ga(obj, "/spec/containers").len() + init_specs.iter().filter(|c| gs(c, "/restartPolicy") == "Always").count();
    let mut ready = 0usize;
    let mut restarts: i64 = 0;
    let mut restartable_restarts: i64 = 0;
    let mut last_restart = GO_ZERO_TIME;
    let mut last_restartable_restart = GO_ZERO_TIME;

    let phase = gs(obj, "/status/phase");
    let status_reason = gs(obj, "/status/reason");
    let mut reason = if status_reason.is_empty() { phase.to_string() } else { status_reason.to_string() };
    for cond in ga(obj, "/status/conditions") {
        if gs(cond, "/type") == "PodScheduled" && gs(cond, "/reason") == "SchedulingGated" {
            reason = "SchedulingGated".to_string();
        }
    }

    let finished_at = |c: &Value| -> Option<i128> {
        get(c, "/lastState/terminated").map(|_| ts(c, "/lastState/terminated/finishedAt").unwrap_or(GO_ZERO_TIME))
    };

    let mut initializing = false;
    for (i, c) in ga(obj, "/status/initContainerStatuses").iter().enumerate() {
        let restart_count = gi(c, "/restartCount");
        restarts += restart_count;
        if let Some(t) = finished_at(c) {
            last_restart = last_restart.max(t);
        }
        let restartable = is_restartable(gs(c, "/name"));
        if restartable {
            restartable_restarts += restart_count;
            if let Some(t) = finished_at(c) {
                last_restartable_restart = last_restartable_restart.max(t);
            }
        }
        let terminated = get(c, "/state/terminated");
        let waiting_reason = get(c, "/state/waiting").map(|w| gs(w, "/reason"));
        if terminated.is_some_and(|t| gi(t, "/exitCode") == 0) {
            continue;
        }
        if restartable && gb(c, "/started") == Some(true) {
            if gb(c, "/ready") == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            reason = match gs(t, "/reason") {
                "" if gi(t, "/signal") != 0 => format!("Init:Signal:{}", gi(t, "/signal")),
                "" => format!("Init:ExitCode:{}", gi(t, "/exitCode")),
                r => format!("Init:{r}"),
            };
        } else if let Some(w) = waiting_reason.filter(|w| !w.is_empty() && *w != "PodInitializing") {
            reason = format!("Init:{w}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = ga(obj, "/status/conditions")
        .iter()
        .find(|c| gs(c, "/type") == "Initialized")
        .is_some_and(|c| gs(c, "/status") == "True");
    if !initializing || initialized {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        for c in ga(obj, "/status/containerStatuses").iter().rev() {
            restarts += gi(c, "/restartCount");
            if let Some(t) = finished_at(c) {
                last_restart = last_restart.max(t);
            }
            let waiting = get(c, "/state/waiting");
            let terminated = get(c, "/state/terminated");
            if let Some(w) = waiting.filter(|w| !gs(w, "/reason").is_empty()) {
                reason = gs(w, "/reason").to_string();
            } else if let Some(t) = terminated {
                reason = match gs(t, "/reason") {
                    "" if gi(t, "/signal") != 0 => format!("Signal:{}", gi(t, "/signal")),
                    "" => format!("ExitCode:{}", gi(t, "/exitCode")),
                    r => r.to_string(),
                };
            } else if gb(c, "/ready") == Some(true) && get(c, "/state/running").is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready =
                ga(obj, "/status/conditions").iter().any(|c| gs(c, "/type") == "Ready" && gs(c, "/status") == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.to_string();
        }
    }

    if get(obj, "/metadata/deletionTimestamp").is_some() {
        if status_reason == "NodeLost" {
            reason = "Unknown".to_string();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_string();
        }
    }

    let restarts_cell = if restarts != 0 && last_restart != GO_ZERO_TIME {
        format!("{restarts} ({} ago)", since(Some(last_restart), now))
    } else {
        restarts.to_string()
    };

    let pod_ip = ga(obj, "/status/podIPs").first().map(|ip| gs(ip, "/ip")).unwrap_or_else(|| gs(obj, "/status/podIP"));
    let readiness_gates = ga(obj, "/spec/readinessGates");
    let gates = if readiness_gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = ga(obj, "/status/conditions");
        let true_conditions = readiness_gates
            .iter()
            .filter(|g| {
                let ty = gs(g, "/conditionType");
                conditions.iter().find(|c| gs(c, "/type") == ty).is_some_and(|c| gs(c, "/status") == "True")
            })
            .count();
        format!("{true_conditions}/{}", readiness_gates.len())
    };
    vec![
        gs(obj, "/metadata/name").into(),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts_cell.into(),
        since(ts(obj, "/metadata/creationTimestamp"), now).into(),
        or_none(pod_ip).into(),
        or_none(gs(obj, "/spec/nodeName")).into(),
        or_none(gs(obj, "/status/nominatedNodeName")).into(),
        gates.into(),
    ]
}

fn job_cells(obj: &Value, now: i128) -> Vec<Value> {
    let succeeded = gi(obj, "/status/succeeded");
    let completions = match get(obj, "/spec/completions").and_then(as_int) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match get(obj, "/spec/parallelism").and_then(as_int).unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (get(obj, "/status/startTime"), get(obj, "/status/completionTime")) {
        (None, _) => String::new(),
        (Some(_), None) => {
            let start = ts(obj, "/status/startTime").unwrap_or(GO_ZERO_TIME);
            human_duration_nanos(now - start)
        }
        (Some(_), Some(_)) => {
            let start = ts(obj, "/status/startTime").unwrap_or(GO_ZERO_TIME);
            let end = ts(obj, "/status/completionTime").unwrap_or(GO_ZERO_TIME);
            human_duration_nanos(end - start)
        }
    };
    let conditions = ga(obj, "/status/conditions");
    let has = |ty: &str| conditions.iter().find(|c| gs(c, "/type") == ty).is_some_and(|c| gs(c, "/status") == "True");
    let status = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if get(obj, "/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = container_cells(ga(obj, "/spec/template/spec/containers"));
    vec![
        gs(obj, "/metadata/name").into(),
        status.into(),
        completions.into(),
        duration.into(),
        since(ts(obj, "/metadata/creationTimestamp"), now).into(),
        names.into(),
        images.into(),
        format_label_selector(get(obj, "/spec/selector")).into(),
    ]
}

fn service_cells(obj: &Value, now: i128) -> Vec<Value> {
    let ty = match gs(obj, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = match ga(obj, "/spec/clusterIPs").first().and_then(Value::as_str) {
        Some(ip) => ip,
        None => or_none(gs(obj, "/spec/clusterIP")),
    };
    let external_ips: Vec<&str> = ga(obj, "/spec/externalIPs").iter().filter_map(Value::as_str).collect();
    let external = match ty {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_string()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_ingress(ga(obj, "/status/loadBalancer/ingress"));
            if !external_ips.is_empty() {
                let mut results: Vec<&str> = Vec::new();
                if !lb.is_empty() {
                    results.extend(lb.split(','));
                }
                results.extend(external_ips.iter().copied());
                results.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => gs(obj, "/spec/externalName").to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = ga(obj, "/spec/ports")
        .iter()
        .map(|p| {
            let port = gi(p, "/port");
            let protocol = match gs(p, "/protocol") {
                "" => "TCP",
                proto => proto,
            };
            match gi(p, "/nodePort") {
                n if n > 0 => format!("{port}:{n}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() { "<none>".to_string() } else { ports.join(",") };
    vec![
        gs(obj, "/metadata/name").into(),
        ty.into(),
        cluster_ip.into(),
        external.into(),
        ports.into(),
        since(ts(obj, "/metadata/creationTimestamp"), now).into(),
        format_labels(gm(obj, "/spec/selector")).into(),
    ]
}

fn node_cells(obj: &Value, now: i128) -> Vec<Value> {
    let mut status: Vec<&str> = Vec::new();
    // Only the Ready condition counts; the last one of that type wins, as in the Go map.
    if let Some(c) = ga(obj, "/status/conditions").iter().rev().find(|c| gs(c, "/type") == "Ready") {
        status.push(if gs(c, "/status") == "True" { "Ready" } else { "NotReady" });
    }
    if status.is_empty() {
        status.push("Unknown");
    }
    if gb(obj, "/spec/unschedulable") == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles = BTreeSet::new();
    if let Some(labels) = gm(obj, "/metadata/labels") {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == "kubernetes.io/role" {
                let v = v.as_str().unwrap_or_default();
                if !v.is_empty() {
                    roles.insert(v.to_string());
                }
            }
        }
    }
    let roles = if roles.is_empty() { "<none>".to_string() } else { roles.into_iter().collect::<Vec<_>>().join(",") };
    let address = |ty: &str| {
        ga(obj, "/status/addresses")
            .iter()
            .find(|a| gs(a, "/type") == ty)
            .map(|a| gs(a, "/address"))
            .unwrap_or("<none>")
    };
    let unknown = |s: &'static str| match gs(obj, s) {
        "" => "<unknown>",
        v => v,
    };
    vec![
        gs(obj, "/metadata/name").into(),
        status.join(",").into(),
        roles.into(),
        since(ts(obj, "/metadata/creationTimestamp"), now).into(),
        gs(obj, "/status/nodeInfo/kubeletVersion").into(),
        address("InternalIP").into(),
        address("ExternalIP").into(),
        unknown("/status/nodeInfo/osImage").into(),
        unknown("/status/nodeInfo/kernelVersion").into(),
        unknown("/status/nodeInfo/containerRuntimeVersion").into(),
    ]
}

/// Where the fields the event printer reads live in each Event API version.
struct EventFields {
    involved: &'static str,
    message: &'static str,
    source: &'static str,
    first_timestamp: &'static str,
    last_timestamp: &'static str,
    count: &'static str,
    reporting_controller: &'static str,
}

const CORE_EVENT_FIELDS: EventFields = EventFields {
    involved: "/involvedObject",
    message: "/message",
    source: "/source",
    first_timestamp: "/firstTimestamp",
    last_timestamp: "/lastTimestamp",
    count: "/count",
    reporting_controller: "/reportingComponent",
};

const EVENTS_V1_FIELDS: EventFields = EventFields {
    involved: "/regarding",
    message: "/note",
    source: "/deprecatedSource",
    first_timestamp: "/deprecatedFirstTimestamp",
    last_timestamp: "/deprecatedLastTimestamp",
    count: "/deprecatedCount",
    reporting_controller: "/reportingController",
};

fn event_cells(obj: &Value, now: i128, f: &EventFields) -> Vec<Value> {
    let first = match nonzero(ts(obj, f.first_timestamp)) {
        Some(t) => since(Some(t), now),
        None => since(ts(obj, "/eventTime"), now),
    };
    let mut last = match nonzero(ts(obj, f.last_timestamp)) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = gi(obj, f.count);
    if let Some(series) = get(obj, "/series") {
        last = since(ts(series, "/lastObservedTime"), now);
        count = gi(series, "/count");
    } else if count == 0 {
        count = 1;
    }
    let empty = json!({});
    let involved = get(obj, f.involved).unwrap_or(&empty);
    let kind = gs(involved, "/kind").to_lowercase();
    let target = match gs(involved, "/name") {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let component = first_non_empty_path(obj, &format!("{}/component", f.source), f.reporting_controller);
    let host = first_non_empty_path(obj, &format!("{}/host", f.source), "/reportingInstance");
    let source = if host.is_empty() { component.to_string() } else { format!("{component}, {host}") };
    vec![
        last.into(),
        gs(obj, "/type").into(),
        gs(obj, "/reason").into(),
        target.into(),
        gs(involved, "/fieldPath").into(),
        source.into(),
        gs(obj, f.message).trim().into(),
        first.into(),
        count.into(),
        gs(obj, "/metadata/name").into(),
    ]
}

fn first_non_empty_path<'a>(obj: &'a Value, a: &str, b: &str) -> &'a str {
    match gs(obj, a) {
        "" => gs(obj, b),
        v => v,
    }
}

fn pv_cells(obj: &Value, now: i128) -> Vec<Value> {
    let claim = match get(obj, "/spec/claimRef") {
        Some(c) => format!("{}/{}", gs(c, "/namespace"), gs(c, "/name")),
        None => String::new(),
    };
    let capacity = get(obj, "/spec/capacity/storage").map(quantity).unwrap_or_else(|| "0".to_string());
    let phase =
        if get(obj, "/metadata/deletionTimestamp").is_some() { "Terminating" } else { gs(obj, "/status/phase") };
    let class = match annotation(obj, "volume.beta.kubernetes.io/storage-class") {
        Some(c) => c,
        None => gs(obj, "/spec/storageClassName"),
    };
    vec![
        gs(obj, "/metadata/name").into(),
        capacity.into(),
        access_modes(ga(obj, "/spec/accessModes")).into(),
        gs(obj, "/spec/persistentVolumeReclaimPolicy").into(),
        phase.into(),
        claim.into(),
        class.into(),
        get(obj, "/spec/volumeAttributesClassName").and_then(Value::as_str).unwrap_or("<unset>").into(),
        gs(obj, "/status/reason").into(),
        since(ts(obj, "/metadata/creationTimestamp"), now).into(),
        get(obj, "/spec/volumeMode").and_then(Value::as_str).unwrap_or("<unset>").into(),
    ]
}

fn pvc_cells(obj: &Value, now: i128) -> Vec<Value> {
    let phase =
        if get(obj, "/metadata/deletionTimestamp").is_some() { "Terminating" } else { gs(obj, "/status/phase") };
    let volume = gs(obj, "/spec/volumeName");
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            get(obj, "/status/capacity/storage").map(quantity).unwrap_or_else(|| "0".to_string()),
            access_modes(ga(obj, "/status/accessModes")),
        )
    };
    let class = match annotation(obj, "volume.beta.kubernetes.io/storage-class") {
        Some(c) => c,
        None => gs(obj, "/spec/storageClassName"),
    };
    vec![
        gs(obj, "/metadata/name").into(),
        phase.into(),
        volume.into(),
        capacity.into(),
        modes.into(),
        class.into(),
        get(obj, "/spec/volumeAttributesClassName").and_then(Value::as_str).unwrap_or("<unset>").into(),
        since(ts(obj, "/metadata/creationTimestamp"), now).into(),
        get(obj, "/spec/volumeMode").and_then(Value::as_str).unwrap_or("<unset>").into(),
    ]
}

/// `helper.GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order, deduplicated.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(m, _)| has(m))
        .map(|(_, s)| *s)
        .collect::<Vec<_>>()
        .join(",")
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    gm(obj, "/metadata/annotations").and_then(|a| a.get(key)).and_then(Value::as_str)
}

/// `formatHPAMetrics` over `autoscaling/v2` JSON (with the `autoscaling/v1` CPU fields as fallback).
fn format_hpa_metrics(obj: &Value) -> String {
    let mut specs: Vec<Value> = ga(obj, "/spec/metrics").to_vec();
    let mut statuses: Vec<Value> = ga(obj, "/status/currentMetrics").to_vec();
    if specs.is_empty() {
        // autoscaling/v1 shape, as converted to the internal version.
        if let Some(target) = get(obj, "/spec/targetCPUUtilizationPercentage").and_then(as_int) {
            specs.push(json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}));
            if let Some(current) = get(obj, "/status/currentCPUUtilizationPercentage").and_then(as_int) {
                statuses.push(json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}));
            }
        }
    }
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let nil_q = |v: Option<&Value>| v.map(quantity).unwrap_or_else(|| "<nil>".to_string());
    let mut list: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i);
        let st = |key: &str| status.and_then(|s| get(s, &format!("/{key}")));
        let item = match gs(spec, "/type") {
            "External" | "Object" => {
                let key = if gs(spec, "/type") == "External" { "external" } else { "object" };
                let target = get(spec, &format!("/{key}/target")).cloned().unwrap_or(Value::Null);
                if let Some(avg) = get(&target, "/averageValue") {
                    let current = st(key)
                        .and_then(|s| get(s, "/current/averageValue"))
                        .map(quantity)
                        .unwrap_or_else(|| "<unknown>".to_string());
                    format!("{current}/{} (avg)", quantity(avg))
                } else {
                    let current = match st(key) {
                        Some(s) => nil_q(get(s, "/current/value")),
                        None => "<unknown>".to_string(),
                    };
                    format!("{current}/{}", nil_q(get(&target, "/value")))
                }
            }
            "Pods" => {
                let current = match st("pods") {
                    Some(s) => nil_q(get(s, "/current/averageValue")),
                    None => "<unknown>".to_string(),
                };
                format!("{current}/{}", nil_q(get(spec, "/pods/target/averageValue")))
            }
            "Resource" | "ContainerResource" => {
                let key = if gs(spec, "/type") == "Resource" { "resource" } else { "containerResource" };
                let resource = gs(spec, &format!("/{key}/name")).to_string();
                if let Some(avg) = get(spec, &format!("/{key}/target/averageValue")) {
                    let current = match st(key) {
                        Some(s) => nil_q(get(s, "/current/averageValue")),
                        None => "<unknown>".to_string(),
                    };
                    format!("{resource}: {current}/{}", quantity(avg))
                } else {
                    let current = st(key)
                        .and_then(|s| get(s, "/current/averageUtilization"))
                        .and_then(as_int)
                        .map(|u| format!("{u}%"))
                        .unwrap_or_else(|| "<unknown>".to_string());
                    let target = get(spec, &format!("/{key}/target/averageUtilization"))
                        .and_then(as_int)
                        .map(|u| format!("{u}%"))
                        .unwrap_or_else(|| "<auto>".to_string());
                    format!("{resource}: {current}/{target}")
                }
            }
            _ => "<unknown type>".to_string(),
        };
        list.push(item);
    }
    let count = list.len();
    const MAX: usize = 2;
    if count > MAX {
        list.truncate(MAX);
        format!("{} + {} more...", list.join(", "), count - MAX)
    } else {
        list.join(", ")
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers shared by the printers
// ---------------------------------------------------------------------------------------------

/// `layoutContainerCells`: container names and images, each comma-joined.
fn container_cells(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| gs(c, "/name")).collect();
    let images: Vec<&str> = containers.iter().map(|c| gs(c, "/image")).collect();
    (names.join(","), images.join(","))
}

/// `labels.FormatLabels`: `k=v` sorted by key and comma-joined, or `<none>`.
fn format_labels(labels: Option<&Map<String, Value>>) -> String {
    let sorted: BTreeMap<&str, &str> = labels
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default())).collect())
        .unwrap_or_default();
    if sorted.is_empty() {
        return "<none>".to_string();
    }
    sorted.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// `metav1.FormatLabelSelector`: the selector string, `<none>` when empty, `<error>` when invalid.
fn format_label_selector(selector: Option<&Value>) -> String {
    match label_selector_string(selector) {
        Ok(s) if s.is_empty() => "<none>".to_string(),
        Ok(s) => s,
        Err(()) => "<error>".to_string(),
    }
}

/// `metav1.LabelSelectorAsSelector(sel).String()`: a nil selector selects nothing and an empty one
/// everything, both printing as ""; requirements are sorted by key, `In`/`NotIn` values sorted.
fn label_selector_string(selector: Option<&Value>) -> Result<String, ()> {
    let Some(sel) = selector else { return Ok(String::new()) };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    for e in sel.get("matchExpressions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]) {
        let key = gs(e, "/key");
        let mut values: Vec<&str> = ga(e, "/values").iter().filter_map(Value::as_str).collect();
        values.sort_unstable();
        let s = match gs(e, "/operator") {
            "In" | "NotIn" if values.is_empty() => return Err(()),
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" | "DoesNotExist" if !values.is_empty() => return Err(()),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return Err(()),
        };
        reqs.push((key.to_string(), s));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs.into_iter().map(|(_, s)| s).collect::<Vec<_>>().join(","))
}

/// `formatEndpoints(endpoints, nil)`: up to three `ip:port`, then ` + N more...`; `<none>` without subsets.
fn format_endpoints(subsets: &[Value]) -> String {
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addresses = ga(ss, "/addresses");
        let ports = ga(ss, "/ports");
        if ports.is_empty() {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(gs(a, "/ip").to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(gs(a, "/ip"), gi(port, "/port")));
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count.saturating_sub(MAX))
    } else {
        ret
    }
}

/// `net.JoinHostPort`: brackets around hosts containing a colon (IPv6).
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `listWithMoreString` over the first `max` items of `items`: `<unset>` when empty.
fn list_with_more(items: &[String], max: usize) -> String {
    let shown: Vec<&str> = items.iter().take(max).map(String::as_str).collect();
    let ret = shown.join(",");
    if items.len() > max {
        return format!("{ret} + {} more...", items.len() - max);
    }
    if ret.is_empty() {
        "<unset>".to_string()
    } else {
        ret
    }
}

/// `formatHosts` of an Ingress: up to three hosts, `*` when none.
fn format_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = gs(rule, "/host");
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".to_string();
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", rules.len().saturating_sub(MAX))
    } else {
        ret
    }
}

/// Load-balancer ingress points (IP, else hostname), sorted and deduplicated, comma-joined.
/// kube-apiserver prints wide, so the 16-character clipping kubectl's local printer does never applies.
fn load_balancer_ingress(ingress: &[Value]) -> String {
    let set: BTreeSet<&str> = ingress
        .iter()
        .filter_map(|i| match (gs(i, "/ip"), gs(i, "/hostname")) {
            ("", "") => None,
            ("", h) => Some(h),
            (ip, _) => Some(ip),
        })
        .collect();
    set.into_iter().collect::<Vec<_>>().join(",")
}

/// A `resource.Quantity` as printed: the stored string (numbers, if any, as written).
fn quantity(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".to_string(),
        other => other.to_string(),
    }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() {
        "<none>"
    } else {
        s
    }
}

// ---------------------------------------------------------------------------------------------
// JSON access
// ---------------------------------------------------------------------------------------------

/// The value at `ptr`, treating JSON `null` as absent.
fn get<'a>(v: &'a Value, ptr: &str) -> Option<&'a Value> {
    v.pointer(ptr).filter(|x| !x.is_null())
}

/// The string at `ptr`, or "".
fn gs<'a>(v: &'a Value, ptr: &str) -> &'a str {
    get(v, ptr).and_then(Value::as_str).unwrap_or_default()
}

/// An integer, accepting integral floats.
fn as_int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
}

/// The integer at `ptr`, or 0.
fn gi(v: &Value, ptr: &str) -> i64 {
    get(v, ptr).and_then(as_int).unwrap_or(0)
}

/// The boolean at `ptr`.
fn gb(v: &Value, ptr: &str) -> Option<bool> {
    get(v, ptr).and_then(Value::as_bool)
}

/// The array at `ptr`, or an empty slice.
fn ga<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    get(v, ptr).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// The object at `ptr`.
fn gm<'a>(v: &'a Value, ptr: &str) -> Option<&'a Map<String, Value>> {
    get(v, ptr).and_then(Value::as_object)
}

/// Number of entries of the object or array at `ptr`.
fn len_of(v: &Value, ptr: &str) -> i64 {
    match get(v, ptr) {
        Some(Value::Object(m)) => m.len() as i64,
        Some(Value::Array(a)) => a.len() as i64,
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Go's zero `time.Time` (0001-01-01T00:00:00Z) in nanoseconds since the Unix epoch.
const GO_ZERO_TIME: i128 = -62_135_596_800 * NANOS_PER_SECOND;

fn nanos_since_epoch(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX),
    }
}

/// The timestamp at `ptr` (nanoseconds since the Unix epoch), when present and parseable.
fn ts(v: &Value, ptr: &str) -> Option<i128> {
    get(v, ptr).and_then(Value::as_str).and_then(parse_rfc3339)
}

/// Filters out Go's zero time.
fn nonzero(t: Option<i128>) -> Option<i128> {
    t.filter(|t| *t != GO_ZERO_TIME)
}

/// `translateTimestampSince`: `<unknown>` for a missing (zero) timestamp, else the human
/// duration from it to `now`.
fn since(t: Option<i128>, now: i128) -> String {
    match nonzero(t) {
        Some(t) => human_duration_nanos(now - t),
        None => "<unknown>".to_string(),
    }
}

/// `duration.HumanDuration` over a signed duration in nanoseconds.
fn human_duration_nanos(d: i128) -> String {
    // Go: int(d.Seconds()) truncates toward zero.
    let seconds = d / NANOS_PER_SECOND;
    if seconds < -1 {
        return "<invalid>".to_string();
    } else if seconds < 0 {
        return "0s".to_string();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        format!("{hours}h{m}m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        format!("{}d{h}h", hours / 24)
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        format!("{}y{dy}d", hours / 24 / 365)
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Parses RFC 3339 (`2006-01-02T15:04:05[.frac](Z|±07:00)`), as `metav1.Time` and
/// `metav1.MicroTime` are written, into nanoseconds since the Unix epoch.
fn parse_rfc3339(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = b.get(start..i)?;
        if digits.is_empty() {
            return None;
        }
        let mut scale = NANOS_PER_SECOND;
        for d in digits.iter().take(9) {
            scale /= 10;
            frac += i128::from(d - b'0') * scale;
        }
    }
    let offset_seconds: i64 = match b.get(i) {
        Some(b'Z' | b'z') if b.len() == i + 1 => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            let off = oh * 3600 + om * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(i128::from(secs) * NANOS_PER_SECOND + frac)
}

/// Formats as Go's `t.UTC().Format(time.RFC3339)` (seconds, `Z`).
fn format_rfc3339(t: i128) -> String {
    let secs = t.div_euclid(NANOS_PER_SECOND);
    let secs = i64::try_from(secs).unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed "now" of every test: 2024-06-01T12:00:00Z.
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_717_243_200)
    }

    /// An RFC 3339 timestamp `secs` seconds before `now()`.
    fn ago(secs: i64) -> String {
        format_rfc3339(nanos_since_epoch(now()) - i128::from(secs) * NANOS_PER_SECOND)
    }

    fn row(group: &str, resource: &str, obj: Value) -> Vec<Value> {
        cells(group, resource, &obj, now())
    }

    fn names(group: &str, resource: &str) -> Vec<(String, i64)> {
        columns(group, resource).iter().map(|c| (gs(c, "/name").to_string(), gi(c, "/priority"))).collect()
    }

    fn header(group: &str, resource: &str) -> Vec<String> {
        names(group, resource).into_iter().filter(|(_, p)| *p == 0).map(|(n, _)| n).collect()
    }

    fn wide_header(group: &str, resource: &str) -> Vec<String> {
        names(group, resource).into_iter().map(|(n, _)| n).collect()
    }

    fn pod(status: Value) -> Value {
        json!({
            "metadata": {"name": "p", "creationTimestamp": ago(600)},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            "status": status,
        })
    }

    #[test]
    fn human_duration_should_match_kubernetes_boundaries() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (182, "3m2s"),
            (599, "9m59s"),
            (600, "10m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (7 * 3600 + 59 * 60, "7h59m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (3 * 86_400 + 4 * 3600, "3d4h"),
            (8 * 86_400 - 1, "7d23h"),
            (8 * 86_400, "8d"),
            (729 * 86_400, "729d"),
            (730 * 86_400, "2y"),
            (731 * 86_400, "2y1d"),
            (8 * 365 * 86_400, "8y"),
            (10 * 365 * 86_400, "10y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(Duration::from_secs(*secs)), *want, "{secs}s");
        }
        assert_eq!(human_duration(Duration::from_millis(119_999)), "119s");
    }

    #[test]
    fn ages_should_tolerate_one_second_of_clock_skew_and_reject_more() {
        let n = nanos_since_epoch(now());
        assert_eq!(since(Some(n + NANOS_PER_SECOND), n), "0s");
        assert_eq!(since(Some(n + 2 * NANOS_PER_SECOND), n), "<invalid>");
        assert_eq!(since(None, n), "<unknown>");
        assert_eq!(since(Some(GO_ZERO_TIME), n), "<unknown>");
    }

    #[test]
    fn timestamps_should_parse_with_fractions_and_offsets() {
        let base = parse_rfc3339("2024-06-01T12:00:00Z");
        assert_eq!(base, Some(nanos_since_epoch(now())));
        assert_eq!(parse_rfc3339("2024-06-01T14:00:00+02:00"), base);
        assert_eq!(parse_rfc3339("2024-06-01T12:00:00.500000Z"), base.map(|b| b + NANOS_PER_SECOND / 2));
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), Some(GO_ZERO_TIME));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(format_rfc3339(nanos_since_epoch(now())), "2024-06-01T12:00:00Z");
    }

    #[test]
    fn every_printer_should_emit_one_cell_per_column_with_full_column_definitions() {
        let resources: &[(&str, &str)] = &[
            ("", "pods"),
            ("", "podtemplates"),
            ("", "replicationcontrollers"),
            ("", "services"),
            ("", "endpoints"),
            ("", "nodes"),
            ("", "events"),
            ("events.k8s.io", "events"),
            ("", "namespaces"),
            ("", "secrets"),
            ("", "serviceaccounts"),
            ("", "persistentvolumes"),
            ("", "persistentvolumeclaims"),
            ("", "configmaps"),
            ("", "resourcequotas"),
            ("", "limitranges"),
            ("apps", "deployments"),
            ("apps", "replicasets"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            ("apps", "controllerrevisions"),
            ("batch", "jobs"),
            ("batch", "cronjobs"),
            ("autoscaling", "horizontalpodautoscalers"),
            ("policy", "poddisruptionbudgets"),
            ("rbac.authorization.k8s.io", "roles"),
            ("rbac.authorization.k8s.io", "clusterroles"),
            ("rbac.authorization.k8s.io", "rolebindings"),
            ("rbac.authorization.k8s.io", "clusterrolebindings"),
            ("coordination.k8s.io", "leases"),
            ("storage.k8s.io", "storageclasses"),
            ("scheduling.k8s.io", "priorityclasses"),
            ("apiextensions.k8s.io", "customresourcedefinitions"),
            ("discovery.k8s.io", "endpointslices"),
            ("networking.k8s.io", "ingresses"),
            ("networking.k8s.io", "ingressclasses"),
            ("networking.k8s.io", "networkpolicies"),
            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
            ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
            ("example.com", "widgets"),
        ];
        for (g, r) in resources {
            let cols = columns(g, r);
            for c in &cols {
                let keys: Vec<&String> = c.as_object().map(|o| o.keys().collect()).unwrap_or_default();
                assert_eq!(keys, ["name", "type", "format", "description", "priority"], "{g}/{r}");
                assert!(!gs(c, "/description").is_empty() || gs(c, "/name") == "Name", "{g}/{r} {c}");
            }
            for obj in [json!({}), json!({"metadata": {"name": "x", "creationTimestamp": ago(10)}})] {
                assert_eq!(cells(g, r, &obj, now()).len(), cols.len(), "{g}/{r}");
            }
        }
    }

    #[test]
    fn unknown_resources_should_get_the_default_name_and_created_at_table() {
        for (g, r) in [
            ("example.com", "widgets"),
            ("rbac.authorization.k8s.io", "roles"),
            ("rbac.authorization.k8s.io", "clusterroles"),
            ("apiextensions.k8s.io", "customresourcedefinitions"),
            ("", "limitranges"),
            ("extensions", "deployments"),
        ] {
            let cols = columns(g, r);
            assert_eq!(cols.len(), 2);
            assert_eq!(
                cols[0],
                json!({"name": "Name", "type": "string", "format": "name", "description": D_META_NAME, "priority": 0})
            );
            assert_eq!(
                cols[1],
                json!({"name": "Created At", "type": "date", "format": "", "description": D_META_CREATION_TIMESTAMP, "priority": 0})
            );
            let obj = json!({"metadata": {"name": "admin", "creationTimestamp": "2024-05-01T10:20:30+02:00"}});
            assert_eq!(cells(g, r, &obj, now()), vec![json!("admin"), json!("2024-05-01T08:20:30Z")]);
        }
        assert_eq!(row("example.com", "widgets", json!({})), vec![json!(""), json!("0001-01-01T00:00:00Z")]);
    }

    #[test]
    fn pod_columns_should_match_kubectl_get_pods_and_wide() {
        assert_eq!(header("", "pods"), ["Name", "Ready", "Status", "Restarts", "Age"]);
        assert_eq!(
            wide_header("", "pods"),
            ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]
        );
        let cols = columns("", "pods");
        assert_eq!(gs(&cols[0], "/format"), "name");
        assert_eq!(gs(&cols[3], "/type"), "string", "RESTARTS is a string column since it carries '(5m ago)'");
    }

    #[test]
    fn pod_status_should_follow_print_pod_for_each_container_state() {
        let running = json!({"running": {"startedAt": ago(500)}});
        let cases: Vec<(&str, Value, &str, &str, &str)> = vec![
            (
                "running and ready",
                pod(
                    json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": running}]}),
                ),
                "1/1",
                "Running",
                "0",
            ),
            (
                "crashloopbackoff from waiting reason",
                pod(json!({"phase": "Running", "containerStatuses": [{
                    "name": "app", "ready": false, "restartCount": 5,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(300)}}
                }]})),
                "0/1",
                "CrashLoopBackOff",
                "5 (5m ago)",
            ),
            (
                "container creating",
                pod(
                    json!({"phase": "Pending", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
                ),
                "0/1",
                "ContainerCreating",
                "0",
            ),
            ("pending without statuses", pod(json!({"phase": "Pending"})), "0/1", "Pending", "0"),
            (
                "completed",
                pod(
                    json!({"phase": "Succeeded", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                ),
                "0/1",
                "Completed",
                "0",
            ),
            (
                "killed by a signal without a reason",
                pod(
                    json!({"phase": "Failed", "containerStatuses": [{"name": "app", "restartCount": 0, "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}),
                ),
                "0/1",
                "Signal:9",
                "0",
            ),
            (
                "exit code without a reason",
                pod(
                    json!({"phase": "Failed", "containerStatuses": [{"name": "app", "restartCount": 0, "state": {"terminated": {"exitCode": 2}}}]}),
                ),
                "0/1",
                "ExitCode:2",
                "0",
            ),
            (
                "evicted reason from the pod status",
                pod(json!({"phase": "Failed", "reason": "Evicted"})),
                "0/1",
                "Evicted",
                "0",
            ),
            (
                "scheduling gated",
                pod(
                    json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
                ),
                "0/1",
                "SchedulingGated",
                "0",
            ),
            (
                "restarts without a termination time have no age",
                pod(
                    json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "restartCount": 3, "state": running}]}),
                ),
                "1/1",
                "Running",
                "3",
            ),
        ];
        for (what, obj, ready, status, restarts) in cases {
            let c = row("", "pods", obj);
            assert_eq!(c[0], json!("p"), "{what}");
            assert_eq!(c[1], json!(ready), "{what}");
            assert_eq!(c[2], json!(status), "{what}");
            assert_eq!(c[3], json!(restarts), "{what}");
            assert_eq!(c[4], json!("10m"), "{what}");
        }
    }

    #[test]
    fn pod_status_should_show_init_progress_and_init_failures() {
        let with_init = |init_status: Value| {
            json!({
                "metadata": {"name": "p", "creationTimestamp": ago(60)},
                "spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "app"}]},
                "status": {"phase": "Pending", "initContainerStatuses": [init_status],
                           "containerStatuses": [{"name": "app", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]},
            })
        };
        let cases = [
            (json!({"name": "init", "restartCount": 0, "state": {"running": {}}}), "Init:0/1", "0"),
            (
                json!({"name": "init", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}),
                "Init:0/1",
                "0",
            ),
            (
                json!({"name": "init", "restartCount": 2, "state": {"waiting": {"reason": "ImagePullBackOff"}}}),
                "Init:ImagePullBackOff",
                "2",
            ),
            (
                json!({"name": "init", "restartCount": 0, "state": {"terminated": {"exitCode": 1}}}),
                "Init:ExitCode:1",
                "0",
            ),
            (
                json!({"name": "init", "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}),
                "Init:Error",
                "0",
            ),
            (
                json!({"name": "init", "restartCount": 0, "state": {"terminated": {"exitCode": 1, "signal": 15}}}),
                "Init:Signal:15",
                "0",
            ),
            (
                json!({"name": "init", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}),
                "PodInitializing",
                "0",
            ),
        ];
        for (status, want, restarts) in cases {
            let c = row("", "pods", with_init(status.clone()));
            assert_eq!(c[1], json!("0/1"), "{status}");
            assert_eq!(c[2], json!(want), "{status}");
            assert_eq!(c[3], json!(restarts), "{status}");
        }
    }

    #[test]
    fn pod_ready_should_count_started_sidecars_as_containers() {
        let obj = json!({
            "metadata": {"name": "p", "creationTimestamp": ago(60)},
            "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
                "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 1,
                    "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(125)}}}],
                "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]
            }
        });
        let c = row("", "pods", obj);
        assert_eq!(c[1], json!("2/2"));
        assert_eq!(c[2], json!("Running"));
        assert_eq!(c[3], json!("1 (2m5s ago)"));
    }

    #[test]
    fn pod_status_should_be_terminating_unknown_or_running_as_kubernetes_decides() {
        let base = |phase: &str, deleting: bool, reason: &str| {
            let mut p = pod(json!({"phase": phase, "reason": reason}));
            if deleting {
                p["metadata"]["deletionTimestamp"] = json!(ago(1));
            }
            p
        };
        assert_eq!(row("", "pods", base("Running", true, ""))[2], json!("Terminating"));
        assert_eq!(row("", "pods", base("Pending", true, ""))[2], json!("Terminating"));
        assert_eq!(row("", "pods", base("Succeeded", true, ""))[2], json!("Succeeded"));
        assert_eq!(row("", "pods", base("Running", true, "NodeLost"))[2], json!("Unknown"));
        assert_eq!(row("", "pods", base("Running", false, "NodeLost"))[2], json!("NodeLost"));

        let completed_but_running = |ready_condition: &str| {
            json!({
                "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": ready_condition}],
                    "containerStatuses": [
                        {"name": "a", "ready": true, "state": {"running": {}}},
                        {"name": "b", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
                    ]}
            })
        };
        let running = row("", "pods", completed_but_running("True"));
        assert_eq!(
            (running[1].clone(), running[2].clone(), running[4].clone()),
            (json!("1/2"), json!("Running"), json!("<unknown>"))
        );
        assert_eq!(row("", "pods", completed_but_running("False"))[2], json!("NotReady"));
    }

    #[test]
    fn pod_wide_cells_should_show_ip_node_nomination_and_readiness_gates() {
        let obj = json!({
            "metadata": {"name": "p", "creationTimestamp": ago(30)},
            "spec": {"nodeName": "node-1", "containers": [{"name": "app"}],
                     "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]},
            "status": {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}],
                       "conditions": [{"type": "example.com/lb", "status": "True"}, {"type": "example.com/dns", "status": "False"}]}
        });
        assert_eq!(row("", "pods", obj)[5..], [json!("10.0.0.7"), json!("node-1"), json!("<none>"), json!("1/2")]);
        let bare = row(
            "",
            "pods",
            json!({"metadata": {"name": "p"}, "status": {"podIP": "10.1.1.1", "nominatedNodeName": "n2"}}),
        );
        assert_eq!(bare[5..], [json!("10.1.1.1"), json!("<none>"), json!("n2"), json!("<none>")]);
    }

    #[test]
    fn deployment_should_print_ready_up_to_date_available_and_wide_template_details() {
        assert_eq!(header("apps", "deployments"), ["Name", "Ready", "Up-to-date", "Available", "Age"]);
        assert_eq!(
            wide_header("apps", "deployments"),
            ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"]
        );
        let obj = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(300)},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["front", "back"]},
                    {"key": "canary", "operator": "DoesNotExist"}
                ]},
                "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}, {"name": "sidecar", "image": "busybox"}]}}
            },
            "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2}
        });
        assert_eq!(
            row("apps", "deployments", obj),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("5m"),
                json!("nginx,sidecar"),
                json!("nginx:1.25,busybox"),
                json!("app=web,!canary,tier in (back,front)"),
            ]
        );
        let defaulted = row("apps", "deployments", json!({"metadata": {"name": "d"}, "spec": {"selector": {}}}));
        assert_eq!(defaulted[1..4], [json!("0/1"), json!(0), json!(0)]);
        assert_eq!(defaulted[7], json!(""));
    }

    #[test]
    fn service_should_format_type_ips_and_ports_like_kubectl() {
        let svc = |spec: Value, status: Value| json!({"metadata": {"name": "s", "creationTimestamp": ago(7200)}, "spec": spec, "status": status});
        let ports = json!([{"port": 80, "protocol": "TCP"}, {"port": 443, "nodePort": 30443, "protocol": "TCP"}]);
        let cases: Vec<(Value, [&str; 4], &str)> = vec![
            (
                svc(
                    json!({"type": "NodePort", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "ports": ports, "selector": {"app": "web", "tier": "front"}}),
                    json!({}),
                ),
                ["NodePort", "10.96.0.10", "<none>", "80/TCP,443:30443/TCP"],
                "app=web,tier=front",
            ),
            (
                svc(
                    json!({"type": "ClusterIP", "clusterIPs": ["None"], "ports": [{"port": 53, "protocol": "UDP"}]}),
                    json!({}),
                ),
                ["ClusterIP", "None", "<none>", "53/UDP"],
                "<none>",
            ),
            (
                svc(
                    json!({"clusterIP": "10.96.0.1", "externalIPs": ["1.2.3.4", "5.6.7.8"], "ports": [{"port": 8080}]}),
                    json!({}),
                ),
                ["ClusterIP", "10.96.0.1", "1.2.3.4,5.6.7.8", "8080/TCP"],
                "<none>",
            ),
            (
                svc(
                    json!({"type": "LoadBalancer", "clusterIPs": ["10.96.0.2"], "ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}]}),
                    json!({}),
                ),
                ["LoadBalancer", "10.96.0.2", "<pending>", "80:31000/TCP"],
                "<none>",
            ),
            (
                svc(
                    json!({"type": "LoadBalancer", "clusterIPs": ["10.96.0.3"], "externalIPs": ["9.9.9.9"]}),
                    json!({"loadBalancer": {"ingress": [{"hostname": "a-very-long-hostname.elb.example.com"}, {"ip": "203.0.113.5"}]}}),
                ),
                ["LoadBalancer", "10.96.0.3", "203.0.113.5,a-very-long-hostname.elb.example.com,9.9.9.9", "<none>"],
                "<none>",
            ),
            (
                svc(json!({"type": "ExternalName", "externalName": "db.example.com"}), json!({})),
                ["ExternalName", "<none>", "db.example.com", "<none>"],
                "<none>",
            ),
        ];
        for (obj, want, selector) in cases {
            let c = row("", "services", obj);
            assert_eq!(c[1..5], want.map(Value::from), "{c:?}");
            assert_eq!(c[5], json!("120m"));
            assert_eq!(c[6], json!(selector));
        }
        assert_eq!(header("", "services"), ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]);
    }

    #[test]
    fn node_should_print_status_roles_version_and_wide_system_info() {
        assert_eq!(
            wide_header("", "nodes"),
            [
                "Name",
                "Status",
                "Roles",
                "Age",
                "Version",
                "Internal-IP",
                "External-IP",
                "OS-Image",
                "Kernel-Version",
                "Container-Runtime"
            ]
        );
        let node = json!({
            "metadata": {"name": "n1", "creationTimestamp": ago(3 * 86_400 + 4 * 3600),
                "labels": {"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "infra", "node-role.kubernetes.io/": "x"}},
            "spec": {"unschedulable": true},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "192.168.1.10"}],
                "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Ubuntu 24.04", "kernelVersion": "6.8.0", "containerRuntimeVersion": "containerd://1.7.0"}
            }
        });
        assert_eq!(
            row("", "nodes", node),
            vec![
                json!("n1"),
                json!("Ready,SchedulingDisabled"),
                json!("control-plane,infra,worker"),
                json!("3d4h"),
                json!("v1.32.0"),
                json!("192.168.1.10"),
                json!("<none>"),
                json!("Ubuntu 24.04"),
                json!("6.8.0"),
                json!("containerd://1.7.0"),
            ]
        );
        let cases = [
            (json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}), "NotReady"),
            (json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}), "NotReady"),
            (json!({"status": {"conditions": [{"type": "DiskPressure", "status": "False"}]}}), "Unknown"),
            (json!({"spec": {"unschedulable": true}}), "Unknown,SchedulingDisabled"),
        ];
        for (obj, want) in cases {
            let c = row("", "nodes", obj);
            assert_eq!(c[1], json!(want));
            assert_eq!(c[2], json!("<none>"));
            assert_eq!(c[7..], [json!("<unknown>"), json!("<unknown>"), json!("<unknown>")]);
        }
    }

    #[test]
    fn job_should_print_status_completions_and_duration() {
        assert_eq!(header("batch", "jobs"), ["Name", "Status", "Completions", "Duration", "Age"]);
        let job = |spec: Value, status: Value, deleting: bool| {
            let mut j =
                json!({"metadata": {"name": "j", "creationTimestamp": ago(3600)}, "spec": spec, "status": status});
            if deleting {
                j["metadata"]["deletionTimestamp"] = json!(ago(0));
            }
            j
        };
        let cases: Vec<(Value, &str, &str, &str)> = vec![
            (
                job(
                    json!({"completions": 1, "parallelism": 1}),
                    json!({"succeeded": 1, "startTime": ago(3600), "completionTime": ago(3600 - 75),
                           "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}),
                    false,
                ),
                "Complete",
                "1/1",
                "75s",
            ),
            (
                job(json!({"parallelism": 3}), json!({"succeeded": 0, "startTime": ago(200)}), false),
                "Running",
                "0/1 of 3",
                "3m20s",
            ),
            (job(json!({}), json!({}), false), "Running", "0/1", ""),
            (
                job(
                    json!({"completions": 5}),
                    json!({"succeeded": 2, "startTime": ago(100), "conditions": [{"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}]}),
                    false,
                ),
                "Failed",
                "2/5",
                "100s",
            ),
            (
                job(json!({"completions": 2}), json!({"conditions": [{"type": "Suspended", "status": "True"}]}), false),
                "Suspended",
                "0/2",
                "",
            ),
            (
                job(json!({"completions": 2}), json!({"conditions": [{"type": "Suspended", "status": "True"}]}), true),
                "Terminating",
                "0/2",
                "",
            ),
            (
                job(
                    json!({"completions": 2}),
                    json!({"conditions": [{"type": "FailureTarget", "status": "True"}]}),
                    false,
                ),
                "FailureTarget",
                "0/2",
                "",
            ),
            (
                job(json!({"completions": 2}), json!({"conditions": [{"type": "Complete", "status": "False"}]}), false),
                "Running",
                "0/2",
                "",
            ),
        ];
        for (obj, status, completions, duration) in cases {
            let c = row("batch", "jobs", obj);
            assert_eq!(c[1..5], [json!(status), json!(completions), json!(duration), json!("60m")], "{c:?}");
        }
        let wide = row(
            "batch",
            "jobs",
            json!({"spec": {"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
                             "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}}}}),
        );
        assert_eq!(wide[5..], [json!("pi"), json!("perl:5.34"), json!("batch.kubernetes.io/controller-uid=u1")]);
    }

    #[test]
    fn rolebindings_should_print_role_ref_and_wide_subjects() {
        for (resource, kind) in [("rolebindings", "Role"), ("clusterrolebindings", "ClusterRole")] {
            assert_eq!(header("rbac.authorization.k8s.io", resource), ["Name", "Role", "Age"]);
            assert_eq!(
                wide_header("rbac.authorization.k8s.io", resource),
                ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
            );
            let obj = json!({
                "metadata": {"name": "rb", "creationTimestamp": ago(45)},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": "view"},
                "subjects": [
                    {"kind": "User", "name": "alice"},
                    {"kind": "Group", "name": "devs"},
                    {"kind": "ServiceAccount", "namespace": "ci", "name": "runner"},
                    {"kind": "User", "name": "bob"},
                    {"kind": "Robot", "name": "r2"}
                ]
            });
            assert_eq!(
                row("rbac.authorization.k8s.io", resource, obj),
                vec![
                    json!("rb"),
                    json!(format!("{kind}/view")),
                    json!("45s"),
                    json!("alice, bob"),
                    json!("devs"),
                    json!("ci/runner")
                ]
            );
        }
    }

    #[test]
    fn events_should_print_last_seen_object_and_message_for_both_api_groups() {
        assert_eq!(header("", "events"), ["Last Seen", "Type", "Reason", "Object", "Message"]);
        assert_eq!(
            wide_header("", "events"),
            ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count", "Name"]
        );
        let core = json!({
            "metadata": {"name": "web.17a", "creationTimestamp": ago(600)},
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
            "reason": "Pulled", "message": " Successfully pulled image \n", "type": "Normal",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": ago(600), "lastTimestamp": ago(30), "count": 4
        });
        assert_eq!(
            row("", "events", core),
            vec![
                json!("30s"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/web"),
                json!("spec.containers{app}"),
                json!("kubelet, node-1"),
                json!("Successfully pulled image"),
                json!("10m"),
                json!(4),
                json!("web.17a"),
            ]
        );
        let new_api = json!({
            "metadata": {"name": "e2"},
            "eventTime": "2024-06-01T11:58:00.000000Z",
            "regarding": {"kind": "Deployment", "name": "web"},
            "reason": "ScalingReplicaSet", "note": "Scaled up", "type": "Normal",
            "reportingController": "deployment-controller", "reportingInstance": ""
        });
        assert_eq!(
            row("events.k8s.io", "events", new_api),
            vec![
                json!("2m"),
                json!("Normal"),
                json!("ScalingReplicaSet"),
                json!("deployment/web"),
                json!(""),
                json!("deployment-controller"),
                json!("Scaled up"),
                json!("2m"),
                json!(1),
                json!("e2"),
            ]
        );
        let series = json!({"eventTime": ago(3600), "series": {"count": 7, "lastObservedTime": "2024-06-01T11:59:50.000000Z"},
                            "involvedObject": {"kind": "Node"}});
        let c = row("", "events", series.clone());
        assert_eq!(
            (c[0].clone(), c[3].clone(), c[7].clone(), c[8].clone()),
            (json!("10s"), json!("node"), json!("60m"), json!(7))
        );
        // A core Event written through events.k8s.io names its controller `reportingComponent`.
        let mut converted = series;
        converted["reportingComponent"] = json!("wharf-scheduler");
        converted["reportingInstance"] = json!("cp-0");
        assert_eq!(row("", "events", converted)[5], json!("wharf-scheduler, cp-0"));
    }

    #[test]
    fn workload_controllers_should_print_their_replica_counts() {
        let template =
            json!({"spec": {"containers": [{"name": "app", "image": "img:1"}], "nodeSelector": {"disk": "ssd"}}});
        let meta = json!({"name": "w", "creationTimestamp": ago(90)});
        let cases: Vec<(&str, &str, Value, Vec<Value>)> = vec![
            (
                "apps",
                "replicasets",
                json!({"metadata": meta, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "w"}}, "template": template},
                       "status": {"replicas": 2, "readyReplicas": 1}}),
                vec![
                    json!("w"),
                    json!(2),
                    json!(2),
                    json!(1),
                    json!("90s"),
                    json!("app"),
                    json!("img:1"),
                    json!("app=w"),
                ],
            ),
            (
                "",
                "replicationcontrollers",
                json!({"metadata": meta, "spec": {"selector": {"app": "w"}, "template": template}, "status": {"replicas": 1}}),
                vec![
                    json!("w"),
                    json!(1),
                    json!(1),
                    json!(0),
                    json!("90s"),
                    json!("app"),
                    json!("img:1"),
                    json!("app=w"),
                ],
            ),
            (
                "apps",
                "statefulsets",
                json!({"metadata": meta, "spec": {"replicas": 3, "template": template}, "status": {"readyReplicas": 3}}),
                vec![json!("w"), json!("3/3"), json!("90s"), json!("app"), json!("img:1")],
            ),
            (
                "apps",
                "daemonsets",
                json!({"metadata": meta, "spec": {"selector": {"matchLabels": {"app": "w"}}, "template": template},
                       "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3, "numberAvailable": 2}}),
                vec![
                    json!("w"),
                    json!(3),
                    json!(3),
                    json!(2),
                    json!(3),
                    json!(2),
                    json!("disk=ssd"),
                    json!("90s"),
                    json!("app"),
                    json!("img:1"),
                    json!("app=w"),
                ],
            ),
            (
                "batch",
                "cronjobs",
                json!({"metadata": meta, "spec": {"schedule": "*/5 * * * *", "suspend": false,
                        "jobTemplate": {"spec": {"template": template}}},
                       "status": {"active": [{"name": "w-1"}], "lastScheduleTime": ago(65)}}),
                vec![
                    json!("w"),
                    json!("*/5 * * * *"),
                    json!("<none>"),
                    json!("False"),
                    json!(1),
                    json!("65s"),
                    json!("90s"),
                    json!("app"),
                    json!("img:1"),
                    json!("<none>"),
                ],
            ),
            (
                "apps",
                "controllerrevisions",
                json!({"metadata": {"name": "w-5d8", "creationTimestamp": ago(90),
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "w", "controller": true}]}, "revision": 2}),
                vec![json!("w-5d8"), json!("statefulset.apps/w"), json!(2), json!("90s")],
            ),
        ];
        for (g, r, obj, want) in cases {
            assert_eq!(row(g, r, obj), want, "{g}/{r}");
        }
        assert_eq!(header("apps", "statefulsets"), ["Name", "Ready", "Age"]);
        assert_eq!(
            header("batch", "cronjobs"),
            ["Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age"]
        );
        assert_eq!(
            row("batch", "cronjobs", json!({"spec": {"timeZone": "Etc/UTC"}}))[2..4],
            [json!("Etc/UTC"), json!("<unset>")]
        );
        let bad = json!({"spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}}});
        assert_eq!(row("apps", "replicasets", bad.clone())[7], json!("<error>"));
        assert_eq!(row("apps", "deployments", bad)[7], json!("<invalid>"));
    }

    #[test]
    fn config_and_identity_resources_should_count_their_entries() {
        let meta = json!({"name": "x", "creationTimestamp": ago(5)});
        let cases: Vec<(&str, &str, Value, Vec<Value>)> = vec![
            (
                "",
                "configmaps",
                json!({"metadata": meta, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
                vec![json!("x"), json!(3), json!("5s")],
            ),
            (
                "",
                "secrets",
                json!({"metadata": meta, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}),
                vec![json!("x"), json!("kubernetes.io/tls"), json!(2), json!("5s")],
            ),
            ("", "secrets", json!({"metadata": meta}), vec![json!("x"), json!("Opaque"), json!(0), json!("5s")]),
            ("", "serviceaccounts", json!({"metadata": meta}), vec![json!("x"), json!(0), json!("5s")]),
            (
                "",
                "namespaces",
                json!({"metadata": meta, "status": {"phase": "Active"}}),
                vec![json!("x"), json!("Active"), json!("5s")],
            ),
            (
                "coordination.k8s.io",
                "leases",
                json!({"metadata": meta, "spec": {"holderIdentity": "node-1"}}),
                vec![json!("x"), json!("node-1"), json!("5s")],
            ),
            (
                "coordination.k8s.io",
                "leases",
                json!({"metadata": meta, "spec": {}}),
                vec![json!("x"), json!(""), json!("5s")],
            ),
        ];
        for (g, r, obj, want) in cases {
            assert_eq!(row(g, r, obj), want, "{g}/{r}");
        }
        assert_eq!(header("", "secrets"), ["Name", "Type", "Data", "Age"]);
        assert_eq!(header("", "serviceaccounts"), ["Name", "Secrets", "Age"]);
        assert_eq!(header("", "configmaps"), ["Name", "Data", "Age"]);
        assert_eq!(header("coordination.k8s.io", "leases"), ["Name", "Holder", "Age"]);
    }

    #[test]
    fn endpoints_and_endpointslices_should_list_three_addresses_then_count_the_rest() {
        let ep = json!({"metadata": {"name": "svc"}, "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]},
            {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 8080}]}
        ]});
        assert_eq!(row("", "endpoints", ep)[1], json!("10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more..."));
        let headless = json!({"subsets": [{"addresses": [{"ip": "fd00::1"}]}]});
        assert_eq!(row("", "endpoints", headless)[1], json!("fd00::1"));
        let v6 = json!({"subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 53}]}]});
        assert_eq!(row("", "endpoints", v6)[1], json!("[fd00::1]:53"));
        assert_eq!(row("", "endpoints", json!({}))[1], json!("<none>"));

        let slice = json!({"metadata": {"name": "svc-abc"}, "addressType": "IPv4",
            "ports": [{"name": "http", "port": 80}, {"name": "dns"}, {}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]}]});
        let c = row("discovery.k8s.io", "endpointslices", slice);
        assert_eq!(c[1..4], [json!("IPv4"), json!("80,dns,*"), json!("10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...")]);
        assert_eq!(row("discovery.k8s.io", "endpointslices", json!({}))[2..4], [json!("<unset>"), json!("<unset>")]);
    }

    #[test]
    fn storage_resources_should_print_capacity_modes_and_classes() {
        let pv = json!({
            "metadata": {"name": "pv1", "creationTimestamp": ago(120)},
            "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "fast",
                     "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
            "status": {"phase": "Bound"}
        });
        assert_eq!(
            row("", "persistentvolumes", pv),
            vec![
                json!("pv1"),
                json!("10Gi"),
                json!("RWO,RWX"),
                json!("Retain"),
                json!("Bound"),
                json!("default/data"),
                json!("fast"),
                json!("<unset>"),
                json!(""),
                json!("2m"),
                json!("Filesystem")
            ]
        );
        let pvc = |volume: &str| {
            json!({
                "metadata": {"name": "data", "creationTimestamp": ago(120), "annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"}},
                "spec": {"volumeName": volume, "storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}},
                "status": {"phase": if volume.is_empty() { "Pending" } else { "Bound" }, "capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOncePod"]}
            })
        };
        assert_eq!(
            row("", "persistentvolumeclaims", pvc("pv1")),
            vec![
                json!("data"),
                json!("Bound"),
                json!("pv1"),
                json!("2Gi"),
                json!("RWOP"),
                json!("legacy"),
                json!("<unset>"),
                json!("2m"),
                json!("<unset>")
            ]
        );
        assert_eq!(
            row("", "persistentvolumeclaims", pvc(""))[1..5],
            [json!("Pending"), json!(""), json!(""), json!("")]
        );
        let sc = json!({"metadata": {"name": "standard", "creationTimestamp": ago(120),
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "rancher.io/local-path",
                "volumeBindingMode": "WaitForFirstConsumer"});
        assert_eq!(
            row("storage.k8s.io", "storageclasses", sc),
            vec![
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!(false),
                json!("2m")
            ]
        );
        assert_eq!(
            header("", "persistentvolumes"),
            [
                "Name",
                "Capacity",
                "Access Modes",
                "Reclaim Policy",
                "Status",
                "Claim",
                "StorageClass",
                "VolumeAttributesClass",
                "Reason",
                "Age"
            ]
        );
    }

    #[test]
    fn policy_scheduling_and_autoscaling_resources_should_print_their_targets() {
        let pdb =
            json!({"metadata": {"name": "pdb"}, "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(row("policy", "poddisruptionbudgets", pdb)[1..4], [json!("50%"), json!("N/A"), json!(1)]);
        let pdb = json!({"metadata": {"name": "pdb"}, "spec": {"maxUnavailable": 1}});
        assert_eq!(row("policy", "poddisruptionbudgets", pdb)[1..4], [json!("N/A"), json!("1"), json!(0)]);

        let pc = json!({"metadata": {"name": "high", "creationTimestamp": ago(10)}, "value": 1000000, "globalDefault": true, "preemptionPolicy": "Never"});
        assert_eq!(
            row("scheduling.k8s.io", "priorityclasses", pc),
            vec![json!("high"), json!(1_000_000), json!(true), json!("10s"), json!("Never")]
        );
        assert_eq!(
            header("scheduling.k8s.io", "priorityclasses"),
            ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"]
        );

        let hpa = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(10)},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 10,
                     "metrics": [
                        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}}
                     ]},
            "status": {"currentReplicas": 2, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 34, "averageValue": "100m"}}}]}
        });
        assert_eq!(
            row("autoscaling", "horizontalpodautoscalers", hpa),
            vec![
                json!("web"),
                json!("Deployment/web"),
                json!("cpu: 34%/80%, memory: <unknown>/500Mi + 1 more..."),
                json!("1"),
                json!(10),
                json!(2),
                json!("10s")
            ]
        );
        let v1 = json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}});
        assert_eq!(
            row("autoscaling", "horizontalpodautoscalers", v1)[2..4],
            [json!("cpu: <unknown>/50%"), json!("<unset>")]
        );
        assert_eq!(row("autoscaling", "horizontalpodautoscalers", json!({}))[2], json!("<none>"));
    }

    #[test]
    fn quotas_templates_and_networking_should_follow_their_printers() {
        let quota = json!({"metadata": {"name": "q"}, "status": {
            "hard": {"requests.cpu": "2", "limits.memory": "2Gi", "pods": "10", "limits.cpu": "4"},
            "used": {"requests.cpu": "500m", "pods": "3", "limits.cpu": "1"}}});
        assert_eq!(
            row("", "resourcequotas", quota)[1..3],
            [json!("pods: 3/10, requests.cpu: 500m/2"), json!("limits.cpu: 1/4, limits.memory: 0/2Gi")]
        );
        let template = json!({"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"b": "2", "a": "1"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}});
        assert_eq!(row("", "podtemplates", template), vec![json!("t"), json!("c"), json!("i"), json!("a=1,b=2")]);
        let ing = json!({"metadata": {"name": "ing"}, "spec": {"ingressClassName": "nginx", "tls": [{}],
            "rules": [{"host": "a.example.com"}, {}, {"host": "b.example.com"}, {"host": "c.example.com"}, {"host": "d.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}}});
        assert_eq!(
            row("networking.k8s.io", "ingresses", ing)[1..5],
            [
                json!("nginx"),
                json!("a.example.com,b.example.com,c.example.com + 2 more..."),
                json!("203.0.113.9"),
                json!("80, 443")
            ]
        );
        assert_eq!(
            row("networking.k8s.io", "ingresses", json!({}))[1..5],
            [json!("<none>"), json!("*"), json!(""), json!("80")]
        );
        let class = json!({"spec": {"controller": "k8s.io/ingress-nginx", "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}});
        assert_eq!(
            row("networking.k8s.io", "ingressclasses", class)[1..3],
            [json!("k8s.io/ingress-nginx"), json!("IngressParameters.k8s.example.com/p")]
        );
        assert_eq!(row("networking.k8s.io", "networkpolicies", json!({}))[1], json!("<none>"));
        let np = json!({"spec": {"podSelector": {"matchExpressions": [{"key": "role", "operator": "NotIn", "values": ["db"]}, {"key": "app", "operator": "Exists"}]}}});
        assert_eq!(row("networking.k8s.io", "networkpolicies", np)[1], json!("app,role notin (db)"));
        let hooks = json!({"webhooks": [{}, {}]});
        assert_eq!(row("admissionregistration.k8s.io", "validatingwebhookconfigurations", hooks)[1], json!(2));
    }
}
