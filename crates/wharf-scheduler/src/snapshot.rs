//! The scheduler's view of the cluster for one cycle: nodes, their allocatable and the pods on them.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::resources::{pod_non_zero_requests, pod_requests, Resources};

/// A pod as the scheduler reads it, parsed once.
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// `namespace/name`.
    pub key: String,
    /// `metadata.namespace` (`default` when absent).
    pub namespace: String,
    /// `metadata.labels`.
    pub labels: Map<String, Value>,
    /// Effective request.
    pub requests: Resources,
    /// Request with the scoring defaults for missing CPU/memory.
    pub non_zero_requests: Resources,
    /// `spec.priority` (0 when absent).
    pub priority: i32,
    /// `metadata.deletionTimestamp` is set.
    pub terminating: bool,
    /// The pod has required pod anti-affinity terms.
    pub has_required_anti_affinity: bool,
    /// Whether it has any pod affinity or anti-affinity term.
    pub has_pod_affinity: bool,
    /// The pod object.
    pub object: Arc<Value>,
}

/// Follows object keys without `Value::pointer`'s per-segment unescaping (hot paths).
pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

impl PodInfo {
    /// Parses a pod object.
    pub fn new(pod: Value) -> Self {
        let namespace = pod
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Self {
            key: format!("{namespace}/{name}"),
            labels: pod
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            requests: pod_requests(&pod),
            non_zero_requests: pod_non_zero_requests(&pod),
            priority: pod
                .pointer("/spec/priority")
                .and_then(Value::as_i64)
                .unwrap_or(0) as i32,
            terminating: pod
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|v| !v.is_null()),
            has_required_anti_affinity: pod
                .pointer(
                    "/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution",
                )
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty()),
            has_pod_affinity: ["podAffinity", "podAntiAffinity"].iter().any(|k| {
                pod.pointer("/spec/affinity")
                    .and_then(|a| a.get(k))
                    .is_some_and(|v| !v.is_null())
            }),
            namespace,
            object: Arc::new(pod),
        }
    }

    /// The pod's `spec`, or null.
    pub fn spec(&self) -> &Value {
        self.object.get("spec").unwrap_or(&Value::Null)
    }
}

/// A node with the pods bound to it and their summed requests.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: Map<String, Value>,
    /// `status.allocatable`.
    pub allocatable: Resources,
    /// Sum of the requests of the pods on the node.
    pub requested: Resources,
    /// Sum of the non-zero (scoring) requests.
    pub non_zero_requested: Resources,
    /// Pods bound to the node.
    pub pods: Vec<PodInfo>,
    /// How many of them have pod (anti-)affinity terms (lets affinity plugins skip the node).
    pub affinity_pods: usize,
    /// `spec.taints`.
    pub taints: Vec<Value>,
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// The node object.
    pub object: Arc<Value>,
}

impl NodeInfo {
    /// Parses a node object.
    pub fn new(node: Value) -> Self {
        Self {
            name: node
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            labels: node
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            allocatable: Resources::from_list(node.pointer("/status/allocatable")),
            requested: Resources::default(),
            non_zero_requested: Resources::default(),
            pods: Vec::new(),
            affinity_pods: 0,
            taints: node
                .pointer("/spec/taints")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            unschedulable: node
                .pointer("/spec/unschedulable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            object: Arc::new(node),
        }
    }

    /// A label value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).and_then(Value::as_str)
    }

    /// Adds a pod to the node's accounting.
    pub fn add_pod(&mut self, pod: PodInfo) {
        self.affinity_pods += usize::from(pod.has_pod_affinity);
        self.requested.add(&pod.requests);
        self.non_zero_requested.add(&pod.non_zero_requests);
        self.pods.push(pod);
    }

    /// Removes a pod by key; returns it when it was there.
    pub fn remove_pod(&mut self, key: &str) -> Option<PodInfo> {
        let i = self.pods.iter().position(|p| p.key == key)?;
        let pod = self.pods.swap_remove(i);
        self.affinity_pods -= usize::from(pod.has_pod_affinity);
        self.requested.sub(&pod.requests);
        self.non_zero_requested.sub(&pod.non_zero_requests);
        Some(pod)
    }
}

/// All nodes in a stable order, with an index by name.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
}

impl Snapshot {
    /// Builds a snapshot from node objects and pod objects; pods with `spec.nodeName` naming a
    /// known node are accounted to it, others are ignored.
    pub fn new(
        nodes: impl IntoIterator<Item = Value>,
        pods: impl IntoIterator<Item = Value>,
    ) -> Self {
        let mut s = Snapshot::default();
        for n in nodes {
            s.add_node(n);
        }
        for p in pods {
            let node = p
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .map(str::to_string);
            let terminal = matches!(
                p.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            );
            if let (Some(node), false) = (node, terminal) {
                s.assume(PodInfo::new(p), &node);
            }
        }
        s
    }

    /// Adds or replaces a node, keeping its pods.
    pub fn add_node(&mut self, node: Value) {
        let mut info = NodeInfo::new(node);
        if let Some(&i) = self.index.get(&info.name) {
            let old = std::mem::take(&mut self.nodes[i].pods);
            for p in old {
                info.add_pod(p);
            }
            self.nodes[i] = info;
        } else {
            self.index.insert(info.name.clone(), self.nodes.len());
            self.nodes.push(info);
        }
    }

    /// Removes a node and the pods accounted to it.
    pub fn remove_node(&mut self, name: &str) -> Option<NodeInfo> {
        let i = self.index.remove(name)?;
        let node = self.nodes.swap_remove(i);
        if let Some(moved) = self.nodes.get(i) {
            self.index.insert(moved.name.clone(), i);
        }
        Some(node)
    }

    /// Accounts `pod` to `node`; false when the node is unknown.
    pub fn assume(&mut self, pod: PodInfo, node: &str) -> bool {
        match self.index.get(node) {
            Some(&i) => {
                self.nodes[i].add_pod(pod);
                true
            }
            None => false,
        }
    }

    /// Removes a pod from a node.
    pub fn remove_pod(&mut self, key: &str, node: &str) -> Option<PodInfo> {
        let i = *self.index.get(node)?;
        self.nodes[i].remove_pod(key)
    }

    /// All nodes in order.
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// A node by name.
    pub fn get(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}
