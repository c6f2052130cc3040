//! CreateNodegroup, DescribeNodegroup, ListNodegroups, UpdateNodegroupConfig,
//! UpdateNodegroupVersion and DeleteNodegroup.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use wharf_aws::{AwsError, Output};

use super::{in_use, internal, invalid_param, not_found, page, Handlers, Req, R};
use crate::model::{ClusterStatus, UpdateRecord};
use crate::nodegroup::{self, NodegroupRecord, NodegroupStatus, Scaling, Taint};
use crate::now;

const AMI_TYPES: &[&str] = &[
    "AL2_x86_64",
    "AL2_x86_64_GPU",
    "AL2_ARM_64",
    "BOTTLEROCKET_x86_64",
    "BOTTLEROCKET_ARM_64",
    "AL2023_x86_64_STANDARD",
    "AL2023_ARM_64_STANDARD",
    "CUSTOM",
];

fn valid_nodegroup_name(n: &str) -> bool {
    let mut c = n.chars();
    !n.is_empty()
        && n.len() <= 63
        && c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.all(|x| x.is_ascii_alphanumeric() || x == '-' || x == '_')
}

fn u32_field(v: &Value, k: &str) -> Result<Option<u32>, AwsError> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => x.as_u64().and_then(|n| u32::try_from(n).ok()).map(Some).ok_or_else(|| invalid_param(format!("{k} must be a non-negative integer"))),
    }
}

fn parse_taints(v: Option<&Value>) -> Result<Vec<Taint>, AwsError> {
    let mut out: Vec<Taint> = Vec::new();
    for t in v.and_then(Value::as_array).into_iter().flatten() {
        let key = t["key"].as_str().filter(|k| !k.is_empty()).ok_or_else(|| invalid_param("a taint needs a key"))?.to_string();
        let effect = t["effect"].as_str().unwrap_or_default().to_string();
        if Taint::kube_effect(&effect).is_none() {
            return Err(invalid_param(format!("Taint effect {effect} is invalid: it must be NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE")));
        }
        let value = t["value"].as_str().map(str::to_string);
        out.retain(|o| !(o.key == key && o.effect == effect));
        out.push(Taint { key, value, effect });
    }
    if out.len() > 50 {
        return Err(invalid_param("a node group can have at most 50 taints"));
    }
    Ok(out)
}

fn parse_labels(v: Option<&Value>) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    if let Some(m) = v.and_then(Value::as_object) {
        for (k, v) in m {
            let v = v.as_str().ok_or_else(|| invalid_param(format!("label {k} must be a string")))?;
            if k.is_empty() || k.len() > 63 + 254 || v.len() > 63 {
                return Err(invalid_param(format!("invalid label {k}")));
            }
            if k.starts_with("eks.amazonaws.com/") || k.starts_with("kubernetes.io/") || k.starts_with("k8s.io/") {
                return Err(invalid_param(format!("Label {k} is reserved and cannot be set on a node group")));
            }
            out.insert(k.clone(), v.to_string());
        }
    }
    Ok(out)
}

impl Handlers<'_> {
    fn nodegroup_arn(&self, cluster: &str, name: &str, id: &str) -> String {
        format!("arn:aws:eks:{}:{}:nodegroup/{cluster}/{name}/{id}", self.eks.inner.config.region, self.account())
    }

    async fn nodegroup(&self, cluster: &str, name: &str) -> Result<(NodegroupRecord, i64), AwsError> {
        self.eks
            .inner
            .state
            .get::<NodegroupRecord>(&nodegroup::nodegroup_key(cluster, name))
            .await
            .map_err(internal)?
            .ok_or_else(|| not_found(format!("No node group found for name: {name}.")))
    }

    pub(super) async fn create_nodegroup(&self, req: &Req) -> R {
        let cluster = req.seg(1).to_string();
        let name = req.required("nodegroupName")?.to_string();
        self.authorize("CreateNodegroup", &self.cluster_arn(&cluster)).await?;
        if !valid_nodegroup_name(&name) {
            return Err(invalid_param(format!("The node group name {name} is invalid: it must start with a letter or digit and contain only letters, digits, hyphens and underscores (at most 63 characters).")));
        }
        let (c, _) = self.cluster(&cluster).await?;
        let token = req.str("clientRequestToken").map(str::to_string);
        if let Some((existing, _)) = self.eks.inner.state.get::<NodegroupRecord>(&nodegroup::nodegroup_key(&cluster, &name)).await.map_err(internal)? {
            if token.is_some() && existing.client_request_token == token {
                return Ok(Output::Json(json!({ "nodegroup": existing.to_json() })));
            }
            return Err(in_use(format!("NodeGroup already exists with name {name} and cluster name {cluster}")));
        }
        if c.status != ClusterStatus::Active {
            return Err(in_use(format!("Cluster {cluster} is {}: node groups can only be created in an ACTIVE cluster.", c.status.as_str())));
        }
        let role = req.required("nodeRole")?.to_string();
        self.check_role(&role).await?;
        let subnet_ids = Req::strings(req.body.get("subnets"));
        if subnet_ids.is_empty() {
            return Err(invalid_param("subnets is required"));
        }
        let subnets = self.eks.inner.net.subnets(&subnet_ids).await.map_err(invalid_param)?;
        let sc = &req.body["scalingConfig"];
        let scaling = Scaling { min: u32_field(sc, "minSize")?.unwrap_or(1), max: u32_field(sc, "maxSize")?.unwrap_or(2), desired: u32_field(sc, "desiredSize")?.unwrap_or(2) };
        scaling.validate().map_err(invalid_param)?;
        let instance_types = match Req::strings(req.body.get("instanceTypes")) {
            v if v.is_empty() => vec!["t3.medium".to_string()],
            v => v,
        };
        if let Some(bad) = instance_types.iter().find(|t| nodegroup::instance_type(t).is_none()) {
            let known: Vec<&str> = nodegroup::INSTANCE_TYPES.iter().map(|t| t.name).collect();
            return Err(invalid_param(format!("Instance type {bad} is not supported by this endpoint (supported: {})", known.join(", "))));
        }
        let capacity_type = req.str("capacityType").unwrap_or("ON_DEMAND").to_string();
        if !["ON_DEMAND", "SPOT", "CAPACITY_BLOCK"].contains(&capacity_type.as_str()) {
            return Err(invalid_param(format!("capacityType {capacity_type} is invalid")));
        }
        let ami_type = req.str("amiType").unwrap_or("AL2023_x86_64_STANDARD").to_string();
        if !AMI_TYPES.contains(&ami_type.as_str()) {
            return Err(invalid_param(format!("amiType {ami_type} is invalid")));
        }
        let version = req.str("version").unwrap_or(&c.version).to_string();
        if version != c.version {
            return Err(invalid_param(format!("Node group version {version} must match the cluster version {}", c.version)));
        }
        let labels = parse_labels(req.body.get("labels"))?;
        let taints = parse_taints(req.body.get("taints"))?;
        let max_unavailable = u32_field(&req.body["updateConfig"], "maxUnavailable")?.unwrap_or(1);
        let tags = Req::tags(req.body.get("tags"))?;
        let id = uuid::Uuid::new_v4().to_string();
        let t = now();
        let rec = NodegroupRecord {
            cluster_name: cluster.clone(),
            name: name.clone(),
            arn: self.nodegroup_arn(&cluster, &name, &id),
            id,
            created_at: t,
            modified_at: t,
            version,
            status: NodegroupStatus::Creating,
            node_role: role,
            subnets,
            scaling,
            instance_types,
            labels,
            taints,
            capacity_type,
            ami_type,
            disk_size: u32_field(&req.body, "diskSize")?.unwrap_or(20),
            max_unavailable,
            tags,
            client_request_token: token,
            issues: vec![],
            nodes: vec![],
        };
        if !self.eks.inner.state.put_if(&nodegroup::nodegroup_key(&cluster, &name), &rec, 0, 0).await.map_err(internal)? {
            return Err(in_use(format!("NodeGroup already exists with name {name} and cluster name {cluster}")));
        }
        // DeleteCluster may have started in between: it refuses while node groups exist, so
        // re-check and withdraw the record if the cluster is going away.
        if let Ok((c, _)) = self.cluster(&cluster).await {
            if c.status == ClusterStatus::Deleting {
                if let Ok(Some((_, rev))) = self.eks.inner.state.get::<NodegroupRecord>(&nodegroup::nodegroup_key(&cluster, &name)).await {
                    let _ = self.eks.inner.state.delete_if(&nodegroup::nodegroup_key(&cluster, &name), rev).await;
                }
                return Err(in_use(format!("Cluster {cluster} is being deleted.")));
            }
        }
        tracing::info!(cluster = %cluster, nodegroup = %name, "EKS node group creating");
        self.eks.spawn_reconcile_nodegroup(&cluster, &name);
        Ok(Output::Json(json!({ "nodegroup": rec.to_json() })))
    }

    pub(super) async fn describe_nodegroup(&self, req: &Req) -> R {
        let (cluster, name) = (req.seg(1), req.seg(3));
        self.authorize("DescribeNodegroup", &self.cluster_arn(cluster)).await?;
        self.cluster(cluster).await?;
        let (n, _) = self.nodegroup(cluster, name).await?;
        Ok(Output::Json(json!({ "nodegroup": n.to_json() })))
    }

    pub(super) async fn list_nodegroups(&self, req: &Req) -> R {
        let cluster = req.seg(1);
        self.authorize("ListNodegroups", &self.cluster_arn(cluster)).await?;
        self.cluster(cluster).await?;
        let max = req.max_results(100)?;
        let all: Vec<NodegroupRecord> = self.eks.inner.state.list(&nodegroup::nodegroups_prefix(cluster)).await.map_err(internal)?;
        let items: Vec<(String, String)> = all.into_iter().map(|n| (n.name.clone(), n.name)).collect();
        let (names, next) = page(&items, req.q("nextToken"), max);
        let mut out = json!({ "nodegroups": names });
        if let Some(n) = next {
            out["nextToken"] = json!(n);
        }
        Ok(Output::Json(out))
    }

    async fn record_nodegroup_update(&self, cluster: &str, name: &str, kind: &str, params: Vec<(String, String)>) -> Result<UpdateRecord, AwsError> {
        let u = UpdateRecord { id: uuid::Uuid::new_v4().to_string(), status: "Successful".into(), kind: kind.into(), params, created_at: now(), errors: vec![] };
        let key = format!("{}{}", nodegroup::nodegroup_updates_prefix(cluster, name), u.id);
        self.eks.inner.state.put_if(&key, &u, 0, 0).await.map_err(internal)?;
        Ok(u)
    }

    pub(super) async fn update_nodegroup_config(&self, req: &Req) -> R {
        let (cluster, name) = (req.seg(1).to_string(), req.seg(3).to_string());
        self.authorize("UpdateNodegroupConfig", &self.cluster_arn(&cluster)).await?;
        self.cluster(&cluster).await?;
        let (current, _) = self.nodegroup(&cluster, &name).await?;
        let mut params: Vec<(String, String)> = Vec::new();
        let mut scaling = current.scaling;
        if let Some(sc) = req.body.get("scalingConfig").filter(|v| v.is_object()) {
            for (field, p, slot) in [("minSize", "MinSize", &mut scaling.min), ("maxSize", "MaxSize", &mut scaling.max), ("desiredSize", "DesiredSize", &mut scaling.desired)] {
                if let Some(v) = u32_field(sc, field)? {
                    *slot = v;
                    params.push((p.into(), v.to_string()));
                }
            }
            scaling.validate().map_err(invalid_param)?;
        }
        let lb = &req.body["labels"];
        let add_labels = parse_labels(lb.get("addOrUpdateLabels"))?;
        let remove_labels = Req::strings(lb.get("removeLabels"));
        if !add_labels.is_empty() {
            params.push(("LabelsToAdd".into(), serde_json::to_string(&add_labels).map_err(internal)?));
        }
        if !remove_labels.is_empty() {
            params.push(("LabelsToRemove".into(), Value::from(remove_labels.clone()).to_string()));
        }
        let tn = &req.body["taints"];
        let add_taints = parse_taints(tn.get("addOrUpdateTaints"))?;
        let remove_taints = parse_taints(tn.get("removeTaints"))?;
        if !add_taints.is_empty() {
            params.push(("TaintsToAdd".into(), Value::from(add_taints.iter().map(Taint::to_json).collect::<Vec<_>>()).to_string()));
        }
        if !remove_taints.is_empty() {
            params.push(("TaintsToRemove".into(), Value::from(remove_taints.iter().map(Taint::to_json).collect::<Vec<_>>()).to_string()));
        }
        let max_unavailable = u32_field(&req.body["updateConfig"], "maxUnavailable")?;
        if let Some(m) = max_unavailable {
            params.push(("MaxUnavailable".into(), m.to_string()));
        }
        if params.is_empty() {
            return Err(invalid_param("No changes needed: give scalingConfig, labels, taints or updateConfig"));
        }
        let rec = self
            .eks
            .inner
            .state
            .update::<NodegroupRecord, _>(&nodegroup::nodegroup_key(&cluster, &name), |r| {
                if !matches!(r.status, NodegroupStatus::Active | NodegroupStatus::Degraded) {
                    return Err(in_use(format!("Nodegroup {name} is {}: it cannot be updated now.", r.status.as_str())));
                }
                r.scaling = scaling;
                r.labels.extend(add_labels.clone());
                for k in &remove_labels {
                    r.labels.remove(k);
                }
                for t in &add_taints {
                    r.taints.retain(|o| !(o.key == t.key && o.effect == t.effect));
                    r.taints.push(t.clone());
                }
                r.taints.retain(|o| !remove_taints.iter().any(|t| t.key == o.key && t.effect == o.effect));
                if let Some(m) = max_unavailable {
                    r.max_unavailable = m;
                }
                r.status = NodegroupStatus::Updating;
                r.modified_at = now();
                Ok(())
            })
            .await?
            .ok_or_else(|| not_found(format!("No node group found for name: {name}.")))?;
        let u = self.record_nodegroup_update(&cluster, &name, "ConfigUpdate", params).await?;
        tracing::info!(cluster = %cluster, nodegroup = %name, desired = rec.scaling.desired, "EKS node group updating");
        self.eks.spawn_reconcile_nodegroup(&cluster, &name);
        Ok(Output::Json(json!({ "update": u.to_json() })))
    }

    pub(super) async fn update_nodegroup_version(&self, req: &Req) -> R {
        let (cluster, name) = (req.seg(1).to_string(), req.seg(3).to_string());
        self.authorize("UpdateNodegroupVersion", &self.cluster_arn(&cluster)).await?;
        let (c, _) = self.cluster(&cluster).await?;
        let (current, _) = self.nodegroup(&cluster, &name).await?;
        let version = req.str("version").unwrap_or(&c.version).to_string();
        if version != c.version {
            return Err(invalid_param(format!("Node group version {version} must match the cluster version {}", c.version)));
        }
        if !matches!(current.status, NodegroupStatus::Active | NodegroupStatus::Degraded) {
            return Err(in_use(format!("Nodegroup {name} is {}: it cannot be updated now.", current.status.as_str())));
        }
        self.eks
            .inner
            .state
            .update::<NodegroupRecord, _>(&nodegroup::nodegroup_key(&cluster, &name), |r| {
                r.version = version.clone();
                r.modified_at = now();
                Ok(())
            })
            .await?;
        let params = vec![("Version".to_string(), version.clone()), ("ReleaseVersion".to_string(), format!("{version}-wharf"))];
        let u = self.record_nodegroup_update(&cluster, &name, "VersionUpdate", params).await?;
        Ok(Output::Json(json!({ "update": u.to_json() })))
    }

    pub(super) async fn delete_nodegroup(&self, req: &Req) -> R {
        let (cluster, name) = (req.seg(1).to_string(), req.seg(3).to_string());
        self.authorize("DeleteNodegroup", &self.cluster_arn(&cluster)).await?;
        self.cluster(&cluster).await?;
        let rec = self
            .eks
            .inner
            .state
            .update::<NodegroupRecord, _>(&nodegroup::nodegroup_key(&cluster, &name), |r| {
                if r.status == NodegroupStatus::Creating {
                    return Err(in_use(format!("Nodegroup {name} is currently being created: it cannot be deleted until it is ACTIVE or CREATE_FAILED.")));
                }
                r.status = NodegroupStatus::Deleting;
                r.modified_at = now();
                Ok(())
            })
            .await?
            .ok_or_else(|| not_found(format!("No node group found for name: {name}.")))?;
        tracing::info!(cluster = %cluster, nodegroup = %name, "EKS node group deleting");
        self.eks.spawn_reconcile_nodegroup(&cluster, &name);
        Ok(Output::Json(json!({ "nodegroup": rec.to_json() })))
    }

    /// An update of node group `name` (DescribeUpdate with `nodegroupName`).
    pub(super) async fn describe_nodegroup_update(&self, cluster: &str, name: &str, id: &str) -> R {
        self.nodegroup(cluster, name).await?;
        let (u, _) = self
            .eks
            .inner
            .state
            .get::<UpdateRecord>(&format!("{}{id}", nodegroup::nodegroup_updates_prefix(cluster, name)))
            .await
            .map_err(internal)?
            .ok_or_else(|| not_found(format!("No update found for ID: {id}")))?;
        Ok(Output::Json(json!({ "update": u.to_json() })))
    }

    /// The update ids of node group `name` (ListUpdates with `nodegroupName`).
    pub(super) async fn nodegroup_update_ids(&self, cluster: &str, name: &str) -> Result<Vec<String>, AwsError> {
        self.nodegroup(cluster, name).await?;
        let all: Vec<UpdateRecord> = self.eks.inner.state.list(&nodegroup::nodegroup_updates_prefix(cluster, name)).await.map_err(internal)?;
        let mut ids: Vec<String> = all.into_iter().map(|u| u.id).collect();
        ids.sort();
        Ok(ids)
    }

    /// Whether cluster `name` still has node groups (DeleteCluster refuses then).
    pub(super) async fn nodegroup_names(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        let all: Vec<NodegroupRecord> = self.eks.inner.state.list(&nodegroup::nodegroups_prefix(cluster)).await.map_err(internal)?;
        Ok(all.into_iter().map(|n| n.name).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taints_need_an_eks_effect_and_dedupe_by_key_and_effect() {
        let t = parse_taints(Some(&json!([{"key": "a", "value": "1", "effect": "NO_SCHEDULE"}, {"key": "a", "value": "2", "effect": "NO_SCHEDULE"}]))).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].to_kube(), json!({"key": "a", "value": "2", "effect": "NoSchedule"}));
        assert!(parse_taints(Some(&json!([{"key": "a", "effect": "NoSchedule"}]))).is_err());
    }

    #[test]
    fn reserved_label_prefixes_are_refused() {
        assert!(parse_labels(Some(&json!({"team": "a"}))).is_ok());
        assert!(parse_labels(Some(&json!({"eks.amazonaws.com/nodegroup": "x"}))).is_err());
    }
}
