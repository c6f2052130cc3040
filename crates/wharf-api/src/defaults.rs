//! Defaulting, as Kubernetes 1.32 applies it when it decodes an object: the `SetDefaults_*`
//! functions of `pkg/apis/*/v1/defaults.go`, the declarative `+default=` markers of the v1
//! types, and the few values the registry strategies fill in before validating (the
//! `kubernetes` namespace finalizer, a Job's generated selector, a Service's IP families).
//!
//! This module owns [`apply_defaults`]; it never fails and never removes user data except
//! where Kubernetes does (a `Secret`'s `stringData` is folded into `data`, a Service's
//! `sessionAffinityConfig` is dropped when the affinity is `None`). Resource quantities in
//! the places Kubernetes types as `resource.Quantity` are rewritten in canonical form
//! (`0.5` → `500m`), container requests and limits rounded up to milli precision.
//!
//! Admission-time values are deliberately left alone: a Pod's `serviceAccountName`,
//! default tolerations and `priority` come from admission plugins, not from defaulting.

use crate::validation::{Quantity, VOLUME_SOURCES};
use serde_json::{json, Map, Value};

/// Applies Kubernetes' defaulting (SetDefaults_* functions and the field defaults of 1.32) to an
/// object of `kind` in API group `group` ("" for core).
pub fn apply_defaults(group: &str, kind: &str, obj: &mut Value) {
    let Some(o) = obj.as_object_mut() else { return };
    match (group, kind) {
        ("", "Pod") => default_pod(o),
        ("", "PodTemplate") => {
            if let Some(t) = obj_at(o, "template") {
                default_pod_template(t);
            }
        }
        ("", "ReplicationController") => default_replication_controller(o),
        ("", "Service") => default_service(o),
        ("", "Secret") => default_secret(o),
        ("", "Namespace") => default_namespace(o),
        ("", "Node") => default_node(o),
        ("", "Endpoints") => {
            for ss in list_mut(o, "subsets") {
                if let Some(ss) = ss.as_object_mut() {
                    for p in list_mut(ss, "ports") {
                        if let Some(p) = p.as_object_mut() {
                            default_str(p, "protocol", "TCP");
                        }
                    }
                }
            }
        }
        ("", "PersistentVolume") => default_persistent_volume(o),
        ("", "PersistentVolumeClaim") => default_persistent_volume_claim(o),
        ("", "LimitRange") => default_limit_range(o),
        ("", "ResourceQuota") => {
            if let Some(spec) = obj_at(o, "spec") {
                canonical_quantities(spec, "hard", false);
            }
        }
        ("apps", "Deployment") => default_deployment(o),
        ("apps", "ReplicaSet") => {
            if let Some(spec) = obj_at(o, "spec") {
                default_val(spec, "replicas", json!(1));
                default_template_member(spec);
            }
        }
        ("apps", "StatefulSet") => default_stateful_set(o),
        ("apps", "DaemonSet") => default_daemon_set(o),
        ("batch", "Job") => default_job(o),
        ("batch", "CronJob") => default_cron_job(o),
        ("autoscaling", "HorizontalPodAutoscaler") => default_hpa(o),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => default_role_binding(o),
        ("storage.k8s.io", "StorageClass") => {
            default_str(o, "reclaimPolicy", "Delete");
            default_str(o, "volumeBindingMode", "Immediate");
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            default_val(o, "value", json!(0));
            default_str(o, "preemptionPolicy", "PreemptLowerPriority");
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => default_crd(o),
        ("discovery.k8s.io", "EndpointSlice") => {
            for p in list_mut(o, "ports") {
                if let Some(p) = p.as_object_mut() {
                    default_val(p, "name", json!(""));
                    default_val(p, "protocol", json!("TCP"));
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The object member `key`, created when absent or null; None when it holds another type
/// (left for validation to report).
fn obj_at<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    let v = m.entry(key.to_string()).or_insert_with(|| json!({}));
    if v.is_null() {
        *v = json!({});
    }
    v.as_object_mut()
}

/// The object member `key` when it exists as an object (never created).
fn existing_obj<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// The elements of list member `key` (empty when absent or not a list).
fn list_mut<'a>(m: &'a mut Map<String, Value>, key: &str) -> std::slice::IterMut<'a, Value> {
    match m.get_mut(key).and_then(Value::as_array_mut) {
        Some(a) => a.iter_mut(),
        None => [].iter_mut(),
    }
}

fn absent(m: &Map<String, Value>, key: &str) -> bool {
    m.get(key).is_none_or(Value::is_null)
}

/// Sets a pointer-typed member (absent or null counts as unset).
fn default_val(m: &mut Map<String, Value>, key: &str, v: Value) {
    if absent(m, key) {
        m.insert(key.to_string(), v);
    }
}

/// Sets a string member (absent, null or "" counts as unset, like Go's zero value).
fn default_str(m: &mut Map<String, Value>, key: &str, v: &str) {
    if absent(m, key) || m.get(key).and_then(Value::as_str) == Some("") {
        m.insert(key.to_string(), json!(v));
    }
}

/// Sets an integer member whose zero value means unset (absent, null or 0).
fn default_nonzero(m: &mut Map<String, Value>, key: &str, v: i64) {
    if absent(m, key) || m.get(key).and_then(Value::as_f64) == Some(0.0) {
        m.insert(key.to_string(), json!(v));
    }
}

/// A string member of `metadata`, or "".
fn meta_str(o: &Map<String, Value>, key: &str) -> String {
    o.get("metadata").and_then(|m| m.get(key)).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn str_of<'a>(m: &'a Map<String, Value>, key: &str) -> &'a str {
    m.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Rewrites the quantities of map member `key` canonically, rounding up to milli precision
/// when `round_milli` (Kubernetes' `SetDefaults_ResourceList`); unparsable values are left
/// for validation.
fn canonical_quantities(m: &mut Map<String, Value>, key: &str, round_milli: bool) {
    let Some(list) = existing_obj(m, key) else { return };
    for v in list.values_mut() {
        if let Ok(q) = Quantity::from_value(v) {
            let q = if round_milli { q.rounded_up(-3) } else { q };
            *v = json!(q.canonical());
        }
    }
}

/// Standard base64 with padding, as Kubernetes serializes `[]byte`.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether the object is being created: it carries no resourceVersion (creates never do,
/// updates read from storage always do) and is not being deleted. The registry's
/// create-only preparation applies.
fn is_new(o: &Map<String, Value>) -> bool {
    let meta = o.get("metadata");
    let unset = |k: &str| meta.and_then(|m| m.get(k)).is_none_or(|v| v.is_null() || v.as_str() == Some(""));
    unset("resourceVersion") && unset("deletionTimestamp")
}

// ---------------------------------------------------------------------------------------------
// Pods
// ---------------------------------------------------------------------------------------------

/// `parsers.ParseImageName` as `SetDefaults_Container` uses it: the tag, "latest" when neither
/// tag nor digest is given, None when the reference does not parse.
fn image_tag(image: &str) -> Option<String> {
    if image.is_empty() || image.trim() != image {
        return None;
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    // The repository path (after any registry host) must be lower case.
    let path = match repo.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => rest,
        _ => repo,
    };
    if path.is_empty() || path.chars().any(|c| c.is_ascii_uppercase()) || tag == Some("") || digest == Some("") {
        return None;
    }
    match (tag, digest) {
        (Some(t), _) => Some(t.to_string()),
        (None, Some(_)) => Some(String::new()),
        (None, None) => Some("latest".to_string()),
    }
}

fn default_probe(p: &mut Map<String, Value>) {
    default_nonzero(p, "timeoutSeconds", 1);
    default_nonzero(p, "periodSeconds", 10);
    default_nonzero(p, "successThreshold", 1);
    default_nonzero(p, "failureThreshold", 3);
    default_handler(p);
}

fn default_handler(h: &mut Map<String, Value>) {
    if let Some(get) = existing_obj(h, "httpGet") {
        default_str(get, "path", "/");
        default_str(get, "scheme", "HTTP");
    }
}

fn default_field_ref(holder: &mut Map<String, Value>) {
    if let Some(fr) = existing_obj(holder, "fieldRef") {
        default_str(fr, "apiVersion", "v1");
    }
}

fn default_container(c: &mut Map<String, Value>) {
    if absent(c, "imagePullPolicy") || str_of(c, "imagePullPolicy").is_empty() {
        let policy = match image_tag(str_of(c, "image")).as_deref() {
            Some("latest") => "Always",
            _ => "IfNotPresent",
        };
        c.insert("imagePullPolicy".into(), json!(policy));
    }
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    for p in list_mut(c, "ports") {
        if let Some(p) = p.as_object_mut() {
            default_str(p, "protocol", "TCP");
        }
    }
    for ev in list_mut(c, "env") {
        if let Some(vf) = ev.as_object_mut().and_then(|e| existing_obj(e, "valueFrom")) {
            default_field_ref(vf);
        }
    }
    if let Some(r) = obj_at(c, "resources") {
        canonical_quantities(r, "limits", true);
        canonical_quantities(r, "requests", true);
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = existing_obj(c, probe) {
            default_probe(p);
        }
    }
    if let Some(lc) = existing_obj(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = existing_obj(lc, hook) {
                default_handler(h);
            }
        }
    }
}

fn default_pvc_spec(spec: &mut Map<String, Value>) {
    default_val(spec, "volumeMode", json!("Filesystem"));
    if let Some(r) = existing_obj(spec, "resources") {
        canonical_quantities(r, "requests", false);
        canonical_quantities(r, "limits", false);
    }
}

fn default_volume(v: &mut Map<String, Value>) {
    if VOLUME_SOURCES.iter().all(|(k, _)| absent(v, k)) {
        v.insert("emptyDir".into(), json!({}));
    }
    for k in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(src) = existing_obj(v, k) {
            default_val(src, "defaultMode", json!(420));
        }
    }
    if let Some(d) = existing_obj(v, "downwardAPI") {
        for item in list_mut(d, "items") {
            if let Some(item) = item.as_object_mut() {
                default_field_ref(item);
            }
        }
    }
    if let Some(p) = existing_obj(v, "projected") {
        for s in list_mut(p, "sources") {
            let Some(s) = s.as_object_mut() else { continue };
            if let Some(t) = existing_obj(s, "serviceAccountToken") {
                default_val(t, "expirationSeconds", json!(3600));
            }
            if let Some(d) = existing_obj(s, "downwardAPI") {
                for item in list_mut(d, "items") {
                    if let Some(item) = item.as_object_mut() {
                        default_field_ref(item);
                    }
                }
            }
        }
    }
    if let Some(h) = existing_obj(v, "hostPath") {
        default_val(h, "type", json!(""));
    }
    if let Some(e) = existing_obj(v, "emptyDir") {
        if let Some(limit) = e.get_mut("sizeLimit") {
            if let Ok(q) = Quantity::from_value(limit) {
                *limit = json!(q.canonical());
            }
        }
    }
    if let Some(i) = existing_obj(v, "iscsi") {
        default_str(i, "iscsiInterface", "default");
    }
    if let Some(r) = existing_obj(v, "rbd") {
        default_str(r, "pool", "rbd");
        default_str(r, "user", "admin");
        default_str(r, "keyring", "/etc/ceph/keyring");
    }
    if let Some(a) = existing_obj(v, "azureDisk") {
        default_val(a, "cachingMode", json!("ReadWrite"));
        default_val(a, "fsType", json!("ext4"));
        default_val(a, "readOnly", json!(false));
        default_val(a, "kind", json!("Shared"));
    }
    if let Some(s) = existing_obj(v, "scaleIO") {
        default_str(s, "storageMode", "ThinProvisioned");
        default_str(s, "fsType", "xfs");
    }
    if let Some(img) = existing_obj(v, "image") {
        if str_of(img, "pullPolicy").is_empty() {
            let policy = if image_tag(str_of(img, "reference")).as_deref() == Some("latest") { "Always" } else { "IfNotPresent" };
            img.insert("pullPolicy".into(), json!(policy));
        }
    }
    if let Some(t) = existing_obj(v, "ephemeral").and_then(|e| existing_obj(e, "volumeClaimTemplate")) {
        if let Some(spec) = obj_at(t, "spec") {
            default_pvc_spec(spec);
        }
    }
}

/// `SetDefaults_PodSpec` plus the defaults of everything a pod spec contains.
fn default_pod_spec(spec: &mut Map<String, Value>) {
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    default_val(spec, "securityContext", json!({}));
    default_val(spec, "terminationGracePeriodSeconds", json!(30));
    default_str(spec, "schedulerName", "default-scheduler");
    for v in list_mut(spec, "volumes") {
        if let Some(v) = v.as_object_mut() {
            default_volume(v);
        }
    }
    for k in ["containers", "initContainers", "ephemeralContainers"] {
        for c in list_mut(spec, k) {
            if let Some(c) = c.as_object_mut() {
                default_container(c);
            }
        }
    }
    if let Some(overhead) = existing_obj(spec, "overhead") {
        for v in overhead.values_mut() {
            if let Ok(q) = Quantity::from_value(v) {
                *v = json!(q.rounded_up(-3).canonical());
            }
        }
    }
}

/// Defaults of a `PodTemplateSpec` (templates get no Pod-only defaults).
fn default_pod_template(t: &mut Map<String, Value>) {
    if let Some(spec) = obj_at(t, "spec") {
        default_pod_spec(spec);
    }
}

/// Defaults `spec.template` of a workload.
fn default_template_member(spec: &mut Map<String, Value>) {
    if let Some(t) = obj_at(spec, "template") {
        default_pod_template(t);
    }
}

fn default_pod(o: &mut Map<String, Value>) {
    let Some(spec) = obj_at(o, "spec") else { return };
    default_pod_spec(spec);
    // SetDefaults_Pod: requests default to limits, for Pods only (not templates).
    for k in ["containers", "initContainers"] {
        for c in list_mut(spec, k) {
            let Some(r) = c.as_object_mut().and_then(|c| existing_obj(c, "resources")) else { continue };
            let Some(limits) = r.get("limits").and_then(Value::as_object).cloned() else { continue };
            if let Some(req) = obj_at(r, "requests") {
                for (name, v) in limits {
                    req.entry(name).or_insert(v);
                }
            }
        }
    }
    default_val(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for k in ["containers", "initContainers"] {
            for c in list_mut(spec, k) {
                let Some(c) = c.as_object_mut() else { continue };
                for p in list_mut(c, "ports") {
                    let Some(p) = p.as_object_mut() else { continue };
                    if p.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0 {
                        if let Some(cp) = p.get("containerPort").cloned() {
                            p.insert("hostPort".into(), cp);
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------------

fn default_replication_controller(o: &mut Map<String, Value>) {
    let labels = o.get("spec").and_then(|s| s.pointer("/template/metadata/labels")).filter(|l| l.is_object()).cloned();
    if let Some(labels) = labels {
        if let Some(spec) = obj_at(o, "spec") {
            if spec.get("selector").and_then(Value::as_object).is_none_or(Map::is_empty) {
                spec.insert("selector".into(), labels.clone());
            }
        }
        if let Some(meta) = obj_at(o, "metadata") {
            if meta.get("labels").and_then(Value::as_object).is_none_or(Map::is_empty) {
                meta.insert("labels".into(), labels);
            }
        }
    }
    if let Some(spec) = obj_at(o, "spec") {
        default_val(spec, "replicas", json!(1));
        if let Some(t) = existing_obj(spec, "template") {
            default_pod_template(t);
        }
    }
}

fn default_deployment(o: &mut Map<String, Value>) {
    let Some(spec) = obj_at(o, "spec") else { return };
    default_val(spec, "replicas", json!(1));
    if let Some(strategy) = obj_at(spec, "strategy") {
        default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate" {
            if let Some(ru) = obj_at(strategy, "rollingUpdate") {
                default_val(ru, "maxUnavailable", json!("25%"));
                default_val(ru, "maxSurge", json!("25%"));
            }
        }
    }
    default_val(spec, "revisionHistoryLimit", json!(10));
    default_val(spec, "progressDeadlineSeconds", json!(600));
    default_template_member(spec);
}

fn default_stateful_set(o: &mut Map<String, Value>) {
    let Some(spec) = obj_at(o, "spec") else { return };
    default_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(us) = obj_at(spec, "updateStrategy") {
        if str_of(us, "type").is_empty() {
            us.insert("type".into(), json!("RollingUpdate"));
            default_val(us, "rollingUpdate", json!({}));
        }
        if str_of(us, "type") == "RollingUpdate" {
            if let Some(ru) = existing_obj(us, "rollingUpdate") {
                default_val(ru, "partition", json!(0));
            }
        }
    }
    if let Some(policy) = obj_at(spec, "persistentVolumeClaimRetentionPolicy") {
        default_str(policy, "whenDeleted", "Retain");
        default_str(policy, "whenScaled", "Retain");
    }
    default_val(spec, "replicas", json!(1));
    default_val(spec, "revisionHistoryLimit", json!(10));
    default_template_member(spec);
    for t in list_mut(spec, "volumeClaimTemplates") {
        let Some(t) = t.as_object_mut() else { continue };
        default_str(t, "apiVersion", "v1");
        default_str(t, "kind", "PersistentVolumeClaim");
        if let Some(s) = obj_at(t, "spec") {
            default_pvc_spec(s);
        }
        if let Some(status) = obj_at(t, "status") {
            default_str(status, "phase", "Pending");
        }
    }
}

fn default_daemon_set(o: &mut Map<String, Value>) {
    let Some(spec) = obj_at(o, "spec") else { return };
    if let Some(us) = obj_at(spec, "updateStrategy") {
        default_str(us, "type", "RollingUpdate");
        if str_of(us, "type") == "RollingUpdate" {
            if let Some(ru) = obj_at(us, "rollingUpdate") {
                default_val(ru, "maxUnavailable", json!(1));
                default_val(ru, "maxSurge", json!(0));
            }
        }
    }
    default_val(spec, "revisionHistoryLimit", json!(10));
    default_template_member(spec);
}

fn default_job(o: &mut Map<String, Value>) {
    let template_labels = o.get("spec").and_then(|s| s.pointer("/template/metadata/labels")).filter(|l| l.is_object()).cloned();
    if let Some(labels) = &template_labels {
        if let Some(meta) = obj_at(o, "metadata") {
            if meta.get("labels").and_then(Value::as_object).is_none_or(Map::is_empty) {
                meta.insert("labels".into(), labels.clone());
            }
        }
    }
    let name = meta_str(o, "name");
    let uid = meta_str(o, "uid");
    let Some(spec) = obj_at(o, "spec") else { return };
    if absent(spec, "completions") && absent(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    default_val(spec, "parallelism", json!(1));
    let per_index = !absent(spec, "backoffLimitPerIndex");
    default_val(spec, "backoffLimit", json!(if per_index { i64::from(i32::MAX) } else { 6 }));
    default_val(spec, "completionMode", json!("NonIndexed"));
    default_val(spec, "suspend", json!(false));
    let has_pfp = !absent(spec, "podFailurePolicy");
    if let Some(pfp) = existing_obj(spec, "podFailurePolicy") {
        for rule in list_mut(pfp, "rules") {
            let Some(rule) = rule.as_object_mut() else { continue };
            for pattern in list_mut(rule, "onPodConditions") {
                if let Some(p) = pattern.as_object_mut() {
                    default_str(p, "status", "True");
                }
            }
        }
    }
    default_val(spec, "podReplacementPolicy", json!(if has_pfp { "Failed" } else { "TerminatingOrFailed" }));
    default_val(spec, "manualSelector", json!(false));
    default_template_member(spec);
    // The registry generates the selector once the uid is known (jobStrategy.PrepareForCreate).
    if !uid.is_empty() && spec.get("manualSelector").and_then(Value::as_bool) != Some(true) && absent(spec, "selector") {
        if let Some(labels) = obj_at(spec, "template").and_then(|t| obj_at(t, "metadata")).and_then(|m| obj_at(m, "labels")) {
            for (k, v) in [
                ("batch.kubernetes.io/controller-uid", &uid),
                ("batch.kubernetes.io/job-name", &name),
                ("controller-uid", &uid),
                ("job-name", &name),
            ] {
                labels.entry(k.to_string()).or_insert_with(|| json!(v));
            }
        }
        spec.insert("selector".into(), json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}));
    }
}

fn default_cron_job(o: &mut Map<String, Value>) {
    let Some(spec) = obj_at(o, "spec") else { return };
    default_str(spec, "concurrencyPolicy", "Allow");
    default_val(spec, "suspend", json!(false));
    default_val(spec, "successfulJobsHistoryLimit", json!(3));
    default_val(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(js) = obj_at(spec, "jobTemplate").and_then(|jt| obj_at(jt, "spec")) {
        default_template_member(js);
    }
}

// ---------------------------------------------------------------------------------------------
// Services, Secrets, Namespaces, Nodes, storage
// ---------------------------------------------------------------------------------------------

fn default_service(o: &mut Map<String, Value>) {
    let Some(spec) = obj_at(o, "spec") else { return };
    default_str(spec, "sessionAffinity", "None");
    match str_of(spec, "sessionAffinity") {
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.pointer("/clientIP/timeoutSeconds"))
                .is_some_and(|v| !v.is_null());
            if !has_timeout {
                spec.insert("sessionAffinityConfig".into(), json!({"clientIP": {"timeoutSeconds": 10800}}));
            }
        }
        _ => {}
    }
    default_str(spec, "type", "ClusterIP");
    for p in list_mut(spec, "ports") {
        let Some(p) = p.as_object_mut() else { continue };
        default_str(p, "protocol", "TCP");
        let unset = match p.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(n) => n.as_f64() == Some(0.0),
        };
        if unset {
            let port = p.get("port").cloned().unwrap_or(json!(0));
            p.insert("targetPort".into(), port);
        }
    }
    let typ = str_of(spec, "type").to_string();
    let has_external_ips = spec.get("externalIPs").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    let externally_accessible = typ == "LoadBalancer" || typ == "NodePort" || (typ == "ClusterIP" && has_external_ips);
    if externally_accessible {
        default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    if ["NodePort", "LoadBalancer", "ClusterIP"].contains(&typ.as_str()) {
        default_val(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if typ == "LoadBalancer" {
        default_val(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    // What the service registry fills in before validating: clusterIPs mirrors clusterIP, and a
    // single-stack (IPv4) cluster's families.
    if typ != "ExternalName" {
        let cip = str_of(spec, "clusterIP").to_string();
        if !cip.is_empty() && spec.get("clusterIPs").and_then(Value::as_array).is_none_or(Vec::is_empty) {
            spec.insert("clusterIPs".into(), json!([cip]));
        }
        let has_selector = spec.get("selector").and_then(Value::as_object).is_some_and(|s| !s.is_empty());
        if cip == "None" && !has_selector {
            default_val(spec, "ipFamilyPolicy", json!("RequireDualStack"));
        } else {
            default_val(spec, "ipFamilyPolicy", json!("SingleStack"));
        }
        if spec.get("ipFamilies").and_then(Value::as_array).is_none_or(Vec::is_empty) {
            let v6 = cip.contains(':');
            spec.insert("ipFamilies".into(), json!([if v6 { "IPv6" } else { "IPv4" }]));
        }
    }
    if typ == "LoadBalancer" {
        if let Some(ingress) = o.get_mut("status").and_then(|s| s.pointer_mut("/loadBalancer/ingress")).and_then(Value::as_array_mut) {
            for ing in ingress {
                if let Some(ing) = ing.as_object_mut() {
                    if !str_of(ing, "ip").is_empty() {
                        default_val(ing, "ipMode", json!("VIP"));
                    }
                }
            }
        }
    }
}

fn default_secret(o: &mut Map<String, Value>) {
    default_str(o, "type", "Opaque");
    // The v1 → internal conversion folds stringData into data (stringData wins).
    if let Some(Value::Object(sd)) = o.remove("stringData") {
        if let Some(data) = obj_at(o, "data") {
            for (k, v) in sd {
                let s = v.as_str().unwrap_or_default();
                data.insert(k, json!(base64_encode(s.as_bytes())));
            }
        }
    }
}

fn default_namespace(o: &mut Map<String, Value>) {
    let new = is_new(o);
    let name = meta_str(o, "name");
    if !name.is_empty() {
        if let Some(labels) = obj_at(o, "metadata").and_then(|m| obj_at(m, "labels")) {
            labels.insert("kubernetes.io/metadata.name".into(), json!(name));
        }
    }
    if new {
        if let Some(spec) = obj_at(o, "spec") {
            let fins = spec.entry("finalizers").or_insert_with(|| json!([]));
            if fins.is_null() {
                *fins = json!([]);
            }
            if let Some(a) = fins.as_array_mut() {
                if !a.iter().any(|f| f.as_str() == Some("kubernetes")) {
                    a.push(json!("kubernetes"));
                }
            }
        }
    }
    if let Some(status) = obj_at(o, "status") {
        default_str(status, "phase", "Active");
    }
}

fn default_node(o: &mut Map<String, Value>) {
    let Some(status) = existing_obj(o, "status") else { return };
    canonical_quantities(status, "capacity", false);
    canonical_quantities(status, "allocatable", false);
    if absent(status, "allocatable") {
        if let Some(cap) = status.get("capacity").filter(|c| c.is_object()).cloned() {
            status.insert("allocatable".into(), cap);
        }
    }
}

fn default_persistent_volume(o: &mut Map<String, Value>) {
    if let Some(spec) = obj_at(o, "spec") {
        default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
        default_val(spec, "volumeMode", json!("Filesystem"));
        canonical_quantities(spec, "capacity", false);
    }
    if let Some(status) = obj_at(o, "status") {
        default_str(status, "phase", "Pending");
    }
}

fn default_persistent_volume_claim(o: &mut Map<String, Value>) {
    if let Some(spec) = obj_at(o, "spec") {
        default_pvc_spec(spec);
    }
    if let Some(status) = obj_at(o, "status") {
        default_str(status, "phase", "Pending");
    }
}

fn default_limit_range(o: &mut Map<String, Value>) {
    let Some(spec) = obj_at(o, "spec") else { return };
    for item in list_mut(spec, "limits") {
        let Some(item) = item.as_object_mut() else { continue };
        for k in ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"] {
            canonical_quantities(item, k, true);
        }
        if str_of(item, "type") != "Container" {
            continue;
        }
        let max = item.get("max").and_then(Value::as_object).cloned().unwrap_or_default();
        let min = item.get("min").and_then(Value::as_object).cloned().unwrap_or_default();
        if let Some(def) = obj_at(item, "default") {
            for (k, v) in max {
                def.entry(k).or_insert(v);
            }
        }
        let def = item.get("default").and_then(Value::as_object).cloned().unwrap_or_default();
        if let Some(dr) = obj_at(item, "defaultRequest") {
            for (k, v) in def {
                dr.entry(k).or_insert(v);
            }
            for (k, v) in min {
                dr.entry(k).or_insert(v);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Autoscaling, RBAC, apiextensions
// ---------------------------------------------------------------------------------------------

fn fill_scaling_rules(rules: Option<&Value>, defaults: Value) -> Value {
    let mut out = defaults;
    if let (Some(Value::Object(given)), Some(o)) = (rules, out.as_object_mut()) {
        for k in ["selectPolicy", "stabilizationWindowSeconds", "policies", "tolerance"] {
            if let Some(v) = given.get(k).filter(|v| !v.is_null()) {
                o.insert(k.to_string(), v.clone());
            }
        }
    }
    out
}

fn default_hpa(o: &mut Map<String, Value>) {
    let Some(spec) = obj_at(o, "spec") else { return };
    default_val(spec, "minReplicas", json!(1));
    if spec.get("metrics").and_then(Value::as_array).is_none_or(Vec::is_empty) {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    if let Some(b) = existing_obj(spec, "behavior") {
        let up = fill_scaling_rules(
            b.get("scaleUp"),
            json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15}
            ]}),
        );
        let down = fill_scaling_rules(b.get("scaleDown"), json!({"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}));
        b.insert("scaleUp".into(), up);
        b.insert("scaleDown".into(), down);
    }
    for m in list_mut(spec, "metrics") {
        let Some(m) = m.as_object_mut() else { continue };
        for src in ["object", "pods", "resource", "external", "containerResource"] {
            if let Some(t) = existing_obj(m, src).and_then(|s| existing_obj(s, "target")) {
                for k in ["value", "averageValue"] {
                    if let Some(v) = t.get_mut(k) {
                        if let Ok(q) = Quantity::from_value(v) {
                            *v = json!(q.canonical());
                        }
                    }
                }
            }
        }
    }
}

fn default_role_binding(o: &mut Map<String, Value>) {
    if let Some(rr) = obj_at(o, "roleRef") {
        default_str(rr, "apiGroup", "rbac.authorization.k8s.io");
    }
    for s in list_mut(o, "subjects") {
        let Some(s) = s.as_object_mut() else { continue };
        if str_of(s, "apiGroup").is_empty() && matches!(str_of(s, "kind"), "User" | "Group") {
            s.insert("apiGroup".into(), json!("rbac.authorization.k8s.io"));
        }
    }
}

fn default_crd(o: &mut Map<String, Value>) {
    let Some(spec) = obj_at(o, "spec") else { return };
    if let Some(names) = obj_at(spec, "names") {
        let kind = str_of(names, "kind").to_string();
        if str_of(names, "singular").is_empty() {
            names.insert("singular".into(), json!(kind.to_ascii_lowercase()));
        }
        if str_of(names, "listKind").is_empty() && !kind.is_empty() {
            names.insert("listKind".into(), json!(format!("{kind}List")));
        }
    }
    default_val(spec, "conversion", json!({"strategy": "None"}));
    if let Some(svc) = spec
        .get_mut("conversion")
        .and_then(|c| c.pointer_mut("/webhook/clientConfig/service"))
        .and_then(Value::as_object_mut)
    {
        default_val(svc, "port", json!(443));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::validate;

    /// (group, kind, object, expectations as (JSON pointer, value)).
    type KindCase = (&'static str, &'static str, Value, Vec<(&'static str, Value)>);

    fn defaulted(group: &str, kind: &str, mut obj: Value) -> Value {
        apply_defaults(group, kind, &mut obj);
        obj
    }

    fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
        v.pointer(pointer).unwrap_or(&Value::Null)
    }

    /// Asserts every (JSON pointer, expected value) pair.
    fn expect(obj: &Value, table: &[(&str, Value)]) {
        for (pointer, want) in table {
            assert_eq!(at(obj, pointer), want, "{pointer} in {obj:#}");
        }
    }

    #[test]
    fn pod_should_get_the_kubernetes_spec_and_container_defaults() {
        let pod = defaulted(
            "",
            "Pod",
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "web", "image": "nginx",
                "ports": [{"containerPort": 80}], "livenessProbe": {"httpGet": {"port": 80}},
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
                "volumes": [{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "c"}}]}}),
        );
        expect(
            &pod,
            &[
                ("/spec/restartPolicy", json!("Always")),
                ("/spec/dnsPolicy", json!("ClusterFirst")),
                ("/spec/schedulerName", json!("default-scheduler")),
                ("/spec/terminationGracePeriodSeconds", json!(30)),
                ("/spec/securityContext", json!({})),
                ("/spec/enableServiceLinks", json!(true)),
                ("/spec/containers/0/terminationMessagePath", json!("/dev/termination-log")),
                ("/spec/containers/0/terminationMessagePolicy", json!("File")),
                ("/spec/containers/0/imagePullPolicy", json!("Always")),
                ("/spec/containers/0/resources", json!({})),
                ("/spec/containers/0/ports/0/protocol", json!("TCP")),
                ("/spec/containers/0/livenessProbe/timeoutSeconds", json!(1)),
                ("/spec/containers/0/livenessProbe/periodSeconds", json!(10)),
                ("/spec/containers/0/livenessProbe/successThreshold", json!(1)),
                ("/spec/containers/0/livenessProbe/failureThreshold", json!(3)),
                ("/spec/containers/0/livenessProbe/httpGet/path", json!("/")),
                ("/spec/containers/0/livenessProbe/httpGet/scheme", json!("HTTP")),
                ("/spec/containers/0/env/0/valueFrom/fieldRef/apiVersion", json!("v1")),
                ("/spec/volumes/0/emptyDir", json!({})),
                ("/spec/volumes/1/configMap/defaultMode", json!(420)),
            ],
        );
        assert!(at(&pod, "/spec/serviceAccountName").is_null(), "service accounts are admission's business");
        assert!(at(&pod, "/spec/tolerations").is_null(), "default tolerations are admission's business");
    }

    #[test]
    fn image_pull_policy_should_depend_on_the_tag() {
        let cases = [
            ("nginx", None, "Always"),
            ("nginx:latest", None, "Always"),
            ("nginx:1.27", None, "IfNotPresent"),
            ("registry.local:5000/team/app", None, "Always"),
            ("registry.local:5000/team/app:v2", None, "IfNotPresent"),
            ("nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", None, "IfNotPresent"),
            ("Nginx", None, "IfNotPresent"),
            ("nginx", Some("Never"), "Never"),
        ];
        for (image, given, want) in cases {
            let mut c = json!({"name": "c", "image": image});
            if let Some(g) = given {
                c["imagePullPolicy"] = json!(g);
            }
            let pod = defaulted("", "Pod", json!({"spec": {"containers": [c]}}));
            assert_eq!(at(&pod, "/spec/containers/0/imagePullPolicy"), &json!(want), "{image}");
        }
    }

    #[test]
    fn requests_should_default_to_limits_for_pods_but_not_for_templates() {
        let resources = json!({"limits": {"cpu": "0.5", "memory": "1024Mi"}, "requests": {"memory": "512Mi"}});
        let pod = defaulted("", "Pod", json!({"spec": {"containers": [{"name": "c", "image": "i", "resources": resources}]}}));
        expect(
            &pod,
            &[
                ("/spec/containers/0/resources/limits/cpu", json!("500m")),
                ("/spec/containers/0/resources/limits/memory", json!("1Gi")),
                ("/spec/containers/0/resources/requests/cpu", json!("500m")),
                ("/spec/containers/0/resources/requests/memory", json!("512Mi")),
            ],
        );
        let rs = defaulted("apps", "ReplicaSet", json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i", "resources": resources}]}}}}));
        assert!(at(&rs, "/spec/template/spec/containers/0/resources/requests/cpu").is_null());
        assert!(at(&rs, "/spec/template/spec/enableServiceLinks").is_null(), "enableServiceLinks is a Pod-only default");
        assert_eq!(at(&rs, "/spec/template/spec/restartPolicy"), &json!("Always"));
        assert_eq!(at(&rs, "/spec/replicas"), &json!(1));
    }

    #[test]
    fn workloads_should_get_their_controller_defaults() {
        let tmpl = json!({"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}});
        let cases: Vec<KindCase> = vec![
            (
                "apps",
                "Deployment",
                json!({"spec": {"template": tmpl}}),
                vec![
                    ("/spec/replicas", json!(1)),
                    ("/spec/strategy", json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})),
                    ("/spec/revisionHistoryLimit", json!(10)),
                    ("/spec/progressDeadlineSeconds", json!(600)),
                    ("/spec/template/spec/dnsPolicy", json!("ClusterFirst")),
                ],
            ),
            (
                "apps",
                "StatefulSet",
                json!({"spec": {"template": tmpl, "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}]}}),
                vec![
                    ("/spec/podManagementPolicy", json!("OrderedReady")),
                    ("/spec/updateStrategy", json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})),
                    ("/spec/persistentVolumeClaimRetentionPolicy", json!({"whenDeleted": "Retain", "whenScaled": "Retain"})),
                    ("/spec/replicas", json!(1)),
                    ("/spec/revisionHistoryLimit", json!(10)),
                    ("/spec/volumeClaimTemplates/0/spec/volumeMode", json!("Filesystem")),
                    ("/spec/volumeClaimTemplates/0/status/phase", json!("Pending")),
                    ("/spec/volumeClaimTemplates/0/kind", json!("PersistentVolumeClaim")),
                ],
            ),
            (
                "apps",
                "DaemonSet",
                json!({"spec": {"template": tmpl}}),
                vec![
                    ("/spec/updateStrategy", json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})),
                    ("/spec/revisionHistoryLimit", json!(10)),
                ],
            ),
            (
                "",
                "ReplicationController",
                json!({"spec": {"template": tmpl}}),
                vec![("/spec/replicas", json!(1)), ("/spec/selector", json!({"app": "a"})), ("/metadata/labels", json!({"app": "a"}))],
            ),
            (
                "batch",
                "Job",
                json!({"spec": {"template": tmpl}}),
                vec![
                    ("/spec/completions", json!(1)),
                    ("/spec/parallelism", json!(1)),
                    ("/spec/backoffLimit", json!(6)),
                    ("/spec/completionMode", json!("NonIndexed")),
                    ("/spec/suspend", json!(false)),
                    ("/spec/podReplacementPolicy", json!("TerminatingOrFailed")),
                    ("/spec/manualSelector", json!(false)),
                    ("/metadata/labels", json!({"app": "a"})),
                ],
            ),
            (
                "batch",
                "Job",
                json!({"spec": {"parallelism": 3, "template": tmpl}}),
                vec![("/spec/parallelism", json!(3)), ("/spec/completions", Value::Null)],
            ),
            (
                "batch",
                "CronJob",
                json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": tmpl}}}}),
                vec![
                    ("/spec/concurrencyPolicy", json!("Allow")),
                    ("/spec/suspend", json!(false)),
                    ("/spec/successfulJobsHistoryLimit", json!(3)),
                    ("/spec/failedJobsHistoryLimit", json!(1)),
                    ("/spec/jobTemplate/spec/template/spec/terminationGracePeriodSeconds", json!(30)),
                    ("/spec/jobTemplate/spec/backoffLimit", Value::Null),
                ],
            ),
        ];
        for (group, kind, obj, table) in cases {
            let obj = defaulted(group, kind, obj);
            expect(&obj, &table);
        }
    }

    #[test]
    fn job_should_get_a_generated_selector_once_it_has_a_uid() {
        let job = defaulted(
            "batch",
            "Job",
            json!({"metadata": {"name": "pi", "uid": "u-1"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "perl"}]}}}}),
        );
        expect(
            &job,
            &[
                ("/spec/selector", json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})),
                ("/spec/template/metadata/labels/controller-uid", json!("u-1")),
                ("/spec/template/metadata/labels/job-name", json!("pi")),
                ("/spec/template/metadata/labels/batch.kubernetes.io~1job-name", json!("pi")),
            ],
        );
        assert!(validate("batch", "Job", &job, None).is_empty());
    }

    #[test]
    fn service_should_get_type_affinity_ports_and_traffic_policies() {
        let cases: Vec<(Value, Vec<(&str, Value)>)> = vec![
            (
                json!({"ports": [{"port": 80}, {"port": 443, "targetPort": "https"}]}),
                vec![
                    ("/spec/type", json!("ClusterIP")),
                    ("/spec/sessionAffinity", json!("None")),
                    ("/spec/ports/0/protocol", json!("TCP")),
                    ("/spec/ports/0/targetPort", json!(80)),
                    ("/spec/ports/1/targetPort", json!("https")),
                    ("/spec/internalTrafficPolicy", json!("Cluster")),
                    ("/spec/ipFamilyPolicy", json!("SingleStack")),
                    ("/spec/ipFamilies", json!(["IPv4"])),
                    ("/spec/externalTrafficPolicy", Value::Null),
                ],
            ),
            (
                json!({"type": "NodePort", "ports": [{"port": 80}]}),
                vec![("/spec/externalTrafficPolicy", json!("Cluster")), ("/spec/internalTrafficPolicy", json!("Cluster"))],
            ),
            (
                json!({"type": "LoadBalancer", "ports": [{"port": 80}]}),
                vec![("/spec/allocateLoadBalancerNodePorts", json!(true)), ("/spec/externalTrafficPolicy", json!("Cluster"))],
            ),
            (
                json!({"sessionAffinity": "ClientIP", "ports": [{"port": 80}]}),
                vec![("/spec/sessionAffinityConfig", json!({"clientIP": {"timeoutSeconds": 10800}}))],
            ),
            (
                json!({"type": "ExternalName", "externalName": "example.com"}),
                vec![("/spec/ipFamilyPolicy", Value::Null), ("/spec/internalTrafficPolicy", Value::Null)],
            ),
            (json!({"clusterIP": "None"}), vec![("/spec/clusterIPs", json!(["None"])), ("/spec/ipFamilyPolicy", json!("RequireDualStack"))]),
        ];
        for (spec, table) in cases {
            let svc = defaulted("", "Service", json!({"metadata": {"name": "s"}, "spec": spec}));
            expect(&svc, &table);
        }
    }

    #[test]
    fn secret_should_default_to_opaque_and_fold_string_data_into_data() {
        let s = defaulted("", "Secret", json!({"data": {"a": "eA=="}, "stringData": {"b": "hello", "a": "y"}}));
        expect(&s, &[("/type", json!("Opaque")), ("/data/a", json!("eQ==")), ("/data/b", json!("aGVsbG8=")), ("/stringData", Value::Null)]);
    }

    #[test]
    fn namespace_should_get_its_label_phase_and_kubernetes_finalizer_on_create() {
        let ns = defaulted("", "Namespace", json!({"metadata": {"name": "team-a"}}));
        expect(
            &ns,
            &[
                ("/metadata/labels/kubernetes.io~1metadata.name", json!("team-a")),
                ("/spec/finalizers", json!(["kubernetes"])),
                ("/status/phase", json!("Active")),
            ],
        );
        let stored = defaulted("", "Namespace", json!({"metadata": {"name": "team-a", "resourceVersion": "7"}, "spec": {}}));
        assert!(at(&stored, "/spec/finalizers").is_null(), "finalized namespaces must not regain the finalizer");
        let created = defaulted("", "Namespace", json!({"metadata": {"name": "b", "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": {"finalizers": ["example.com/x"]}}));
        assert_eq!(at(&created, "/spec/finalizers"), &json!(["example.com/x", "kubernetes"]));
    }

    #[test]
    fn cluster_and_storage_kinds_should_get_their_defaults() {
        let cases: Vec<KindCase> = vec![
            ("storage.k8s.io", "StorageClass", json!({"provisioner": "x"}), vec![("/reclaimPolicy", json!("Delete")), ("/volumeBindingMode", json!("Immediate"))]),
            ("scheduling.k8s.io", "PriorityClass", json!({}), vec![("/value", json!(0)), ("/preemptionPolicy", json!("PreemptLowerPriority"))]),
            (
                "",
                "PersistentVolume",
                json!({"spec": {"capacity": {"storage": "1024Mi"}}}),
                vec![
                    ("/spec/persistentVolumeReclaimPolicy", json!("Retain")),
                    ("/spec/volumeMode", json!("Filesystem")),
                    ("/spec/capacity/storage", json!("1Gi")),
                    ("/status/phase", json!("Pending")),
                ],
            ),
            ("", "PersistentVolumeClaim", json!({"spec": {}}), vec![("/spec/volumeMode", json!("Filesystem")), ("/status/phase", json!("Pending"))]),
            (
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                json!({"spec": {"names": {"plural": "widgets", "kind": "Widget"}}}),
                vec![("/spec/names/singular", json!("widget")), ("/spec/names/listKind", json!("WidgetList")), ("/spec/conversion", json!({"strategy": "None"}))],
            ),
            (
                "rbac.authorization.k8s.io",
                "RoleBinding",
                json!({"roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s"}]}),
                vec![("/roleRef/apiGroup", json!("rbac.authorization.k8s.io")), ("/subjects/0/apiGroup", json!("rbac.authorization.k8s.io")), ("/subjects/1/apiGroup", Value::Null)],
            ),
            (
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"spec": {"maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
                vec![
                    ("/spec/minReplicas", json!(1)),
                    ("/spec/metrics/0/resource/target/averageUtilization", json!(80)),
                    ("/spec/behavior/scaleUp/selectPolicy", json!("Max")),
                    ("/spec/behavior/scaleUp/policies/0", json!({"type": "Pods", "value": 4, "periodSeconds": 15})),
                    ("/spec/behavior/scaleDown/stabilizationWindowSeconds", json!(60)),
                    ("/spec/behavior/scaleDown/policies", json!([{"type": "Percent", "value": 100, "periodSeconds": 15}])),
                ],
            ),
            ("", "Node", json!({"status": {"capacity": {"cpu": "4", "memory": "8192Mi"}}}), vec![("/status/allocatable", json!({"cpu": "4", "memory": "8Gi"}))]),
            ("", "Endpoints", json!({"subsets": [{"ports": [{"port": 80}]}]}), vec![("/subsets/0/ports/0/protocol", json!("TCP"))]),
            ("discovery.k8s.io", "EndpointSlice", json!({"ports": [{"port": 80}]}), vec![("/ports/0/protocol", json!("TCP")), ("/ports/0/name", json!(""))]),
            (
                "",
                "LimitRange",
                json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]}}),
                vec![("/spec/limits/0/default", json!({"cpu": "2"})), ("/spec/limits/0/defaultRequest", json!({"cpu": "2", "memory": "64Mi"}))],
            ),
        ];
        for (group, kind, obj, table) in cases {
            let obj = defaulted(group, kind, obj);
            expect(&obj, &table);
        }
    }

    #[test]
    fn defaulting_should_be_idempotent() {
        let pod = json!({"spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "0.25"}}}]}});
        let once = defaulted("", "Pod", pod);
        let twice = defaulted("", "Pod", once.clone());
        assert_eq!(once, twice);
    }

    #[test]
    fn minimal_objects_should_validate_cleanly_once_defaulted() {
        let containers = json!([{"name": "app", "image": "registry.example/app:1.0", "ports": [{"containerPort": 8080}]}]);
        let tmpl = json!({"metadata": {"labels": {"app": "a"}}, "spec": {"containers": containers}});
        let job_tmpl = json!({"spec": {"restartPolicy": "OnFailure", "containers": containers}});
        let cases: Vec<(&str, &str, Value)> = vec![
            ("", "Pod", json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"containers": containers}})),
            ("", "PodTemplate", json!({"metadata": {"name": "t", "namespace": "d"}, "template": tmpl})),
            ("", "ReplicationController", json!({"metadata": {"name": "r", "namespace": "d"}, "spec": {"template": tmpl}})),
            ("apps", "Deployment", json!({"metadata": {"name": "d", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": tmpl}})),
            ("apps", "ReplicaSet", json!({"metadata": {"name": "r", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": tmpl}})),
            ("apps", "StatefulSet", json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {"serviceName": "s", "selector": {"matchLabels": {"app": "a"}}, "template": tmpl}})),
            ("apps", "DaemonSet", json!({"metadata": {"name": "ds", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": tmpl}})),
            ("batch", "Job", json!({"metadata": {"name": "j", "namespace": "d", "uid": "0f8a"}, "spec": {"template": job_tmpl}})),
            ("batch", "CronJob", json!({"metadata": {"name": "c", "namespace": "d"}, "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": job_tmpl}}}})),
            ("", "Service", json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {"selector": {"app": "a"}, "ports": [{"port": 80, "targetPort": 8080}]}})),
            ("", "Service", json!({"metadata": {"name": "s", "namespace": "d"}, "spec": {"type": "NodePort", "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}})),
            ("", "ConfigMap", json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"app.properties": "a=b"}})),
            ("", "Secret", json!({"metadata": {"name": "s", "namespace": "d"}, "stringData": {"password": "hunter2"}})),
            ("", "Namespace", json!({"metadata": {"name": "team-a"}})),
            ("", "ServiceAccount", json!({"metadata": {"name": "sa", "namespace": "d"}})),
            ("", "Node", json!({"metadata": {"name": "n1"}, "status": {"capacity": {"cpu": "4", "pods": "110"}}})),
            ("", "PersistentVolumeClaim", json!({"metadata": {"name": "c", "namespace": "d"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})),
            ("", "PersistentVolume", json!({"metadata": {"name": "v"}, "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/data"}}})),
            ("storage.k8s.io", "StorageClass", json!({"metadata": {"name": "standard"}, "provisioner": "rancher.io/local-path"})),
            ("scheduling.k8s.io", "PriorityClass", json!({"metadata": {"name": "high"}, "value": 1000})),
            ("rbac.authorization.k8s.io", "ClusterRole", json!({"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})),
            (
                "rbac.authorization.k8s.io",
                "ClusterRoleBinding",
                json!({"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "r"}, "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "d"}]}),
            ),
            (
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                json!({"metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}}]}}),
            ),
            ("autoscaling", "HorizontalPodAutoscaler", json!({"metadata": {"name": "h", "namespace": "d"}, "spec": {"maxReplicas": 5, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}}})),
            ("policy", "PodDisruptionBudget", json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "a"}}}})),
            ("coordination.k8s.io", "Lease", json!({"metadata": {"name": "l", "namespace": "d"}, "spec": {"holderIdentity": "x", "leaseDurationSeconds": 15}})),
            ("", "Endpoints", json!({"metadata": {"name": "e", "namespace": "d"}, "subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 80}]}]})),
            ("discovery.k8s.io", "EndpointSlice", json!({"metadata": {"name": "e", "namespace": "d"}, "addressType": "IPv4", "endpoints": [{"addresses": ["10.1.2.3"]}], "ports": [{"port": 80}]})),
            ("", "LimitRange", json!({"metadata": {"name": "l", "namespace": "d"}, "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"cpu": "100m"}}]}})),
            ("", "ResourceQuota", json!({"metadata": {"name": "q", "namespace": "d"}, "spec": {"hard": {"pods": "10", "requests.cpu": "4", "count/deployments.apps": "5"}}})),
            ("", "Event", json!({"metadata": {"name": "e", "namespace": "d"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "d"}, "reason": "Started"})),
            (
                "events.k8s.io",
                "Event",
                json!({"metadata": {"name": "e", "namespace": "d"}, "eventTime": "2024-01-01T00:00:00.000000Z", "type": "Normal", "reason": "Started",
                    "action": "Start", "reportingController": "example.com/ctl", "reportingInstance": "ctl-1", "regarding": {"kind": "Pod", "name": "p", "namespace": "d"}}),
            ),
        ];
        for (group, kind, obj) in cases {
            let obj = defaulted(group, kind, obj);
            let errs = validate(group, kind, &obj, None);
            assert!(errs.is_empty(), "{group}/{kind}: {errs:#?}\n{obj:#}");
            // Re-validating against itself as the old object is a no-op update.
            let errs = validate(group, kind, &obj, Some(&obj));
            assert!(errs.is_empty(), "{group}/{kind} update: {errs:#?}");
        }
    }

    #[test]
    fn base64_encoding_should_round_trip_through_validation_decoding() {
        for s in ["", "a", "ab", "abc", "hello world", "\u{0}\u{ff}"] {
            let enc = base64_encode(s.as_bytes());
            assert_eq!(crate::validation::base64_decode(&enc), Ok(s.as_bytes().to_vec()), "{s:?} -> {enc}");
        }
        assert_eq!(base64_encode(b"hello"), "aGVsbG8=");
    }
}
