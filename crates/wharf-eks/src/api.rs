//! The `eks` REST-JSON operations: routing by method and path, input decoding, and the
//! handlers over the stored records.

use std::collections::BTreeMap;

use async_trait::async_trait;
use http::{Method, StatusCode};
use serde_json::{json, Value};
use wharf_aws::{AwsError, Input, Output, Protocol, RequestContext, Service};

use crate::access;
use crate::model::{self, AccessEntryRecord, Association, ClusterRecord, ClusterStatus, Scope, UpdateRecord, VpcConfig};
use crate::{now, principal_arn, Eks};

mod nodegroups;

type R = Result<Output, AwsError>;

const OPERATIONS: &[&str] = &[
    "CreateCluster",
    "DescribeCluster",
    "ListClusters",
    "DeleteCluster",
    "UpdateClusterConfig",
    "UpdateClusterVersion",
    "DescribeUpdate",
    "ListUpdates",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "CreateAccessEntry",
    "DescribeAccessEntry",
    "ListAccessEntries",
    "UpdateAccessEntry",
    "DeleteAccessEntry",
    "AssociateAccessPolicy",
    "DisassociateAccessPolicy",
    "ListAssociatedAccessPolicies",
    "ListAccessPolicies",
    "CreateNodegroup",
    "DescribeNodegroup",
    "ListNodegroups",
    "UpdateNodegroupConfig",
    "UpdateNodegroupVersion",
    "DeleteNodegroup",
];

/// The EKS API as a front-door service (signing name `eks`).
#[derive(Debug, Clone)]
pub struct EksService {
    eks: Eks,
}

impl EksService {
    /// The service over `eks`.
    pub fn new(eks: Eks) -> Self {
        Self { eks }
    }
}

fn not_found(msg: impl Into<String>) -> AwsError {
    AwsError::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", msg)
}
fn in_use(msg: impl Into<String>) -> AwsError {
    AwsError::new(StatusCode::CONFLICT, "ResourceInUseException", msg)
}
fn invalid_param(msg: impl Into<String>) -> AwsError {
    AwsError::bad_request("InvalidParameterException", msg)
}
fn invalid_request(msg: impl Into<String>) -> AwsError {
    AwsError::bad_request("InvalidRequestException", msg)
}
fn internal(e: impl std::fmt::Display) -> AwsError {
    AwsError::internal(e)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The decoded segments of a request path.
fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/').split('/').filter(|s| !s.is_empty()).map(percent_decode).collect()
}

/// The operation a method and path name.
fn resolve(method: &Method, path: &str) -> Option<&'static str> {
    let segs = segments(path);
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = method.as_str();
    Some(match (m, s.as_slice()) {
        ("POST", ["clusters"]) => "CreateCluster",
        ("GET", ["clusters"]) => "ListClusters",
        ("GET", ["clusters", _]) => "DescribeCluster",
        ("DELETE", ["clusters", _]) => "DeleteCluster",
        ("POST", ["clusters", _, "update-config"]) => "UpdateClusterConfig",
        ("POST", ["clusters", _, "updates"]) => "UpdateClusterVersion",
        ("GET", ["clusters", _, "updates"]) => "ListUpdates",
        ("GET", ["clusters", _, "updates", _]) => "DescribeUpdate",
        ("POST", ["clusters", _, "access-entries"]) => "CreateAccessEntry",
        ("GET", ["clusters", _, "access-entries"]) => "ListAccessEntries",
        ("GET", ["clusters", _, "access-entries", _]) => "DescribeAccessEntry",
        ("POST", ["clusters", _, "access-entries", _]) => "UpdateAccessEntry",
        ("DELETE", ["clusters", _, "access-entries", _]) => "DeleteAccessEntry",
        ("POST", ["clusters", _, "access-entries", _, "access-policies"]) => "AssociateAccessPolicy",
        ("GET", ["clusters", _, "access-entries", _, "access-policies"]) => "ListAssociatedAccessPolicies",
        ("DELETE", ["clusters", _, "access-entries", _, "access-policies", _]) => "DisassociateAccessPolicy",
        ("GET", ["access-policies"]) => "ListAccessPolicies",
        ("POST", ["clusters", _, "node-groups"]) => "CreateNodegroup",
        ("GET", ["clusters", _, "node-groups"]) => "ListNodegroups",
        ("GET", ["clusters", _, "node-groups", _]) => "DescribeNodegroup",
        ("DELETE", ["clusters", _, "node-groups", _]) => "DeleteNodegroup",
        ("POST", ["clusters", _, "node-groups", _, "update-config"]) => "UpdateNodegroupConfig",
        ("POST", ["clusters", _, "node-groups", _, "update-version"]) => "UpdateNodegroupVersion",
        ("POST", ["tags", _]) => "TagResource",
        ("GET", ["tags", _]) => "ListTagsForResource",
        ("DELETE", ["tags", _]) => "UntagResource",
        _ => return None,
    })
}

/// A decoded REST request.
struct Req {
    segs: Vec<String>,
    query: Vec<(String, String)>,
    body: Value,
}

impl Req {
    fn seg(&self, i: usize) -> &str {
        self.segs.get(i).map(String::as_str).unwrap_or_default()
    }
    fn q(&self, k: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    fn q_all(&self, k: &str) -> Vec<String> {
        self.query.iter().filter(|(n, _)| n == k).map(|(_, v)| v.clone()).collect()
    }
    fn str(&self, k: &str) -> Option<&str> {
        self.body.get(k).and_then(Value::as_str)
    }
    fn required(&self, k: &str) -> Result<&str, AwsError> {
        self.str(k).ok_or_else(|| invalid_param(format!("{k} is required")))
    }
    fn strings(v: Option<&Value>) -> Vec<String> {
        v.and_then(Value::as_array).map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
    }
    fn tags(v: Option<&Value>) -> Result<BTreeMap<String, String>, AwsError> {
        let mut out = BTreeMap::new();
        if let Some(m) = v.and_then(Value::as_object) {
            if m.len() > 50 {
                return Err(invalid_param("a resource can have at most 50 tags"));
            }
            for (k, v) in m {
                let v = v.as_str().ok_or_else(|| invalid_param(format!("tag {k} must be a string")))?;
                if k.is_empty() || k.len() > 128 || v.len() > 256 || k.to_ascii_lowercase().starts_with("aws:") {
                    return Err(invalid_param(format!("invalid tag {k}")));
                }
                out.insert(k.clone(), v.to_string());
            }
        }
        Ok(out)
    }
    fn max_results(&self, max: usize) -> Result<usize, AwsError> {
        match self.q("maxResults") {
            None => Ok(max),
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(invalid_param(format!("maxResults must be between 1 and {max}"))),
            },
        }
    }
}

/// Pages `items` (sorted) after `nextToken` (the last name returned).
fn page<T: Clone>(items: &[(String, T)], after: Option<&str>, max: usize) -> (Vec<T>, Option<String>) {
    let start = after.map(|a| items.iter().position(|(k, _)| k.as_str() > a).unwrap_or(items.len())).unwrap_or(0);
    let slice: Vec<&(String, T)> = items[start..].iter().take(max).collect();
    let next = (start + slice.len() < items.len()).then(|| slice.last().map(|(k, _)| k.clone())).flatten();
    (slice.into_iter().map(|(_, v)| v.clone()).collect(), next)
}

fn valid_cluster_name(n: &str) -> bool {
    let mut c = n.chars();
    !n.is_empty()
        && n.len() <= 100
        && c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.all(|x| x.is_ascii_alphanumeric() || x == '-' || x == '_')
}

/// Checks an IPv4 CIDR as EKS does for `serviceIpv4Cidr`: private (RFC 1918), /12 to /24.
fn check_service_cidr(s: &str) -> Result<(), AwsError> {
    let bad = || invalid_param(format!("serviceIpv4Cidr {s} must be a private IPv4 CIDR block between /12 and /24"));
    let (ip, bits) = s.split_once('/').ok_or_else(bad)?;
    let ip: std::net::Ipv4Addr = ip.parse().map_err(|_| bad())?;
    let bits: u8 = bits.parse().map_err(|_| bad())?;
    if !(12..=24).contains(&bits) || !ip.is_private() {
        return Err(bad());
    }
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
    if u32::from(ip) & !mask != 0 {
        return Err(bad());
    }
    Ok(())
}

const LOG_TYPES: &[&str] = &["api", "audit", "authenticator", "controllerManager", "scheduler"];

/// The default `logging`: every type disabled.
fn default_logging() -> Value {
    json!({ "clusterLogging": [{ "types": LOG_TYPES, "enabled": false }] })
}

/// Merges a `logging` request into the current setup: each listed type takes the request's
/// `enabled`; the result groups types into one enabled and one disabled setup, as EKS does.
fn merge_logging(current: &Value, req: &Value) -> Result<Value, AwsError> {
    let mut enabled: BTreeMap<String, bool> = LOG_TYPES.iter().map(|t| (t.to_string(), false)).collect();
    for setup in current["clusterLogging"].as_array().into_iter().flatten() {
        let on = setup["enabled"].as_bool().unwrap_or(false);
        for t in Req::strings(setup.get("types")) {
            enabled.insert(t, on);
        }
    }
    let setups = req.get("clusterLogging").and_then(Value::as_array).ok_or_else(|| invalid_param("logging.clusterLogging is required"))?;
    for setup in setups {
        let on = setup["enabled"].as_bool().unwrap_or(false);
        for t in Req::strings(setup.get("types")) {
            if !LOG_TYPES.contains(&t.as_str()) {
                return Err(invalid_param(format!("unknown log type {t}")));
            }
            enabled.insert(t, on);
        }
    }
    let on: Vec<&String> = enabled.iter().filter(|(_, v)| **v).map(|(k, _)| k).collect();
    let off: Vec<&String> = enabled.iter().filter(|(_, v)| !**v).map(|(k, _)| k).collect();
    let mut out = Vec::new();
    if !on.is_empty() {
        out.push(json!({"types": on, "enabled": true}));
    }
    if !off.is_empty() {
        out.push(json!({"types": off, "enabled": false}));
    }
    Ok(json!({ "clusterLogging": out }))
}

const AUTH_MODES: &[&str] = &["CONFIG_MAP", "API_AND_CONFIG_MAP", "API"];

#[async_trait]
impl Service for EksService {
    fn signing_name(&self) -> &'static str {
        "eks"
    }
    fn protocol(&self) -> Protocol {
        Protocol::RestJson
    }
    fn has_operation(&self, operation: &str) -> bool {
        OPERATIONS.contains(&operation)
    }
    fn resolve_rest(&self, method: &Method, path: &str) -> Option<String> {
        resolve(method, path).map(str::to_string)
    }

    async fn call(&self, ctx: &RequestContext, operation: &str, input: Input) -> R {
        let Input::Rest { path, query, body, .. } = input else {
            return Err(internal("eks received a non-REST input"));
        };
        let body = if body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice::<Value>(&body).map_err(|_| AwsError::bad_request("SerializationException", "the request body is not JSON"))?
        };
        let req = Req { segs: segments(&path), query, body };
        let h = Handlers { eks: &self.eks, ctx };
        match operation {
            "CreateCluster" => h.create_cluster(&req).await,
            "DescribeCluster" => h.describe_cluster(&req).await,
            "ListClusters" => h.list_clusters(&req).await,
            "DeleteCluster" => h.delete_cluster(&req).await,
            "UpdateClusterConfig" => h.update_cluster_config(&req).await,
            "UpdateClusterVersion" => h.update_cluster_version(&req).await,
            "DescribeUpdate" => h.describe_update(&req).await,
            "ListUpdates" => h.list_updates(&req).await,
            "TagResource" => h.tag_resource(&req).await,
            "UntagResource" => h.untag_resource(&req).await,
            "ListTagsForResource" => h.list_tags(&req).await,
            "CreateAccessEntry" => h.create_access_entry(&req).await,
            "DescribeAccessEntry" => h.describe_access_entry(&req).await,
            "ListAccessEntries" => h.list_access_entries(&req).await,
            "UpdateAccessEntry" => h.update_access_entry(&req).await,
            "DeleteAccessEntry" => h.delete_access_entry(&req).await,
            "AssociateAccessPolicy" => h.associate_access_policy(&req).await,
            "DisassociateAccessPolicy" => h.disassociate_access_policy(&req).await,
            "ListAssociatedAccessPolicies" => h.list_associated(&req).await,
            "ListAccessPolicies" => h.list_access_policies(&req).await,
            "CreateNodegroup" => h.create_nodegroup(&req).await,
            "DescribeNodegroup" => h.describe_nodegroup(&req).await,
            "ListNodegroups" => h.list_nodegroups(&req).await,
            "UpdateNodegroupConfig" => h.update_nodegroup_config(&req).await,
            "UpdateNodegroupVersion" => h.update_nodegroup_version(&req).await,
            "DeleteNodegroup" => h.delete_nodegroup(&req).await,
            _ => Err(Protocol::RestJson.unknown_operation(operation)),
        }
    }
}

struct Handlers<'a> {
    eks: &'a Eks,
    ctx: &'a RequestContext,
}

impl Handlers<'_> {
    fn account(&self) -> String {
        self.eks.inner.iam.account_id().to_string()
    }

    fn cluster_arn(&self, name: &str) -> String {
        format!("arn:aws:eks:{}:{}:cluster/{name}", self.eks.inner.config.region, self.account())
    }

    async fn cluster(&self, name: &str) -> Result<(ClusterRecord, i64), AwsError> {
        self.eks
            .inner
            .state
            .get::<ClusterRecord>(&model::cluster_key(name))
            .await
            .map_err(internal)?
            .ok_or_else(|| not_found(format!("No cluster found for name: {name}.")))
    }

    async fn authorize(&self, action: &str, resource: &str) -> Result<(), AwsError> {
        self.ctx.authorize(&format!("eks:{action}"), resource).await
    }

    /// Checks `roleArn` names an IAM role of this account.
    async fn check_role(&self, role_arn: &str) -> Result<(), AwsError> {
        let bad = || invalid_param(format!("Role with arn: {role_arn}, does not exist or is not a role of this account."));
        let rest = role_arn.strip_prefix("arn:aws:iam::").ok_or_else(bad)?;
        let (acct, res) = rest.split_once(':').ok_or_else(bad)?;
        let name = res.strip_prefix("role/").and_then(|p| p.rsplit('/').next()).ok_or_else(bad)?;
        if acct != self.account() {
            return Err(bad());
        }
        match self.eks.inner.iam.state().role(name).await.map_err(internal)? {
            Some(_) => Ok(()),
            None => Err(bad()),
        }
    }

    async fn create_cluster(&self, req: &Req) -> R {
        let name = req.required("name")?.to_string();
        if !valid_cluster_name(&name) {
            return Err(invalid_param(format!("The cluster name {name} is invalid: it must start with a letter or digit and contain only letters, digits, hyphens and underscores (at most 100 characters).")));
        }
        let arn = self.cluster_arn(&name);
        self.authorize("CreateCluster", &arn).await?;
        let role_arn = req.required("roleArn")?.to_string();
        let vpc_req = req.body.get("resourcesVpcConfig").filter(|v| v.is_object()).ok_or_else(|| invalid_param("resourcesVpcConfig is required"))?;
        let cfg = &self.eks.inner.config;
        let version = req.str("version").map(str::to_string).unwrap_or_else(|| cfg.versions.first().cloned().unwrap_or_default());
        if !cfg.versions.contains(&version) {
            return Err(invalid_param(format!("unsupported Kubernetes version {version}")));
        }
        let token = req.str("clientRequestToken").map(str::to_string);
        if cfg.reserved_names.contains(&name) {
            return Err(in_use(format!("Cluster already exists with name: {name}")));
        }
        if let Some((existing, _)) = self.eks.inner.state.get::<ClusterRecord>(&model::cluster_key(&name)).await.map_err(internal)? {
            if token.is_some() && existing.client_request_token == token {
                return Ok(Output::Json(json!({ "cluster": existing.to_json() })));
            }
            return Err(in_use(format!("Cluster already exists with name: {name}")));
        }
        self.check_role(&role_arn).await?;
        let subnet_ids = Req::strings(vpc_req.get("subnetIds"));
        let security_group_ids = Req::strings(vpc_req.get("securityGroupIds"));
        let info = self.eks.inner.net.check(&subnet_ids, &security_group_ids).await.map_err(invalid_param)?;
        let service_cidr = req.body["kubernetesNetworkConfig"]["serviceIpv4Cidr"].as_str().unwrap_or("10.100.0.0/16").to_string();
        check_service_cidr(&service_cidr)?;
        if req.body["kubernetesNetworkConfig"]["ipFamily"].as_str().is_some_and(|f| f != "ipv4") {
            return Err(invalid_param("only the ipv4 IP family is supported"));
        }
        let logging = match req.body.get("logging") {
            Some(l) if l.is_object() => merge_logging(&default_logging(), l)?,
            _ => default_logging(),
        };
        let access = &req.body["accessConfig"];
        let mode = access["authenticationMode"].as_str().unwrap_or("API_AND_CONFIG_MAP").to_string();
        if !AUTH_MODES.contains(&mode.as_str()) {
            return Err(invalid_param(format!("unknown authenticationMode {mode}")));
        }
        let bootstrap = access["bootstrapClusterCreatorAdminPermissions"].as_bool().unwrap_or(true);
        let tags = Req::tags(req.body.get("tags"))?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = now();
        let rec = ClusterRecord {
            name: name.clone(),
            arn,
            id: id.clone(),
            created_at: now,
            version,
            platform_version: "eks.1".into(),
            role_arn,
            status: ClusterStatus::Creating,
            endpoint: None,
            ca_data: None,
            vpc: VpcConfig {
                subnet_ids,
                security_group_ids,
                vpc_id: info.vpc_id,
                endpoint_public_access: vpc_req["endpointPublicAccess"].as_bool().unwrap_or(true),
                endpoint_private_access: vpc_req["endpointPrivateAccess"].as_bool().unwrap_or(false),
                public_access_cidrs: match Req::strings(vpc_req.get("publicAccessCidrs")) {
                    v if v.is_empty() => vec!["0.0.0.0/0".into()],
                    v => v,
                },
            },
            service_cidr,
            logging,
            authentication_mode: mode.clone(),
            bootstrap_creator_admin: bootstrap,
            tags,
            client_request_token: token,
            oidc_issuer: format!("{}/id/{}", self.eks.inner.oidc_base.read().unwrap_or_else(|p| p.into_inner()), id.replace('-', "").to_ascii_uppercase()),
            issues: vec![],
            support_type: req.body["upgradePolicy"]["supportType"].as_str().unwrap_or("STANDARD").to_string(),
            // As EKS: in CONFIG_MAP mode the creator is a hidden system:masters member.
            config_map_admin: (bootstrap && mode == "CONFIG_MAP").then(|| principal_arn(&self.ctx.caller)),
        };
        // The creator's entry first, so the cluster is never ACTIVE without it.
        if bootstrap && mode != "CONFIG_MAP" {
            let principal = principal_arn(&self.ctx.caller);
            let entry = self.new_entry(&name, &principal, vec![], None, BTreeMap::new(), now);
            let mut entry = entry;
            entry.policies.push(Association {
                policy_arn: access::policy_arn("AmazonEKSClusterAdminPolicy"),
                scope: Scope { kind: "cluster".into(), namespaces: vec![] },
                associated_at: now,
                modified_at: now,
            });
            self.eks.inner.state.put_if(&model::entry_key(&name, &principal), &entry, 0, 0).await.map_err(internal)?;
        }
        if !self.eks.inner.state.put_if(&model::cluster_key(&name), &rec, 0, 0).await.map_err(internal)? {
            return Err(in_use(format!("Cluster already exists with name: {name}")));
        }
        tracing::info!(cluster = %name, "EKS cluster creating");
        self.eks.spawn_reconcile(&name);
        Ok(Output::Json(json!({ "cluster": rec.to_json() })))
    }

    async fn describe_cluster(&self, req: &Req) -> R {
        let name = req.seg(1);
        self.authorize("DescribeCluster", &self.cluster_arn(name)).await?;
        let (c, _) = self.cluster(name).await?;
        Ok(Output::Json(json!({ "cluster": c.to_json() })))
    }

    async fn list_clusters(&self, req: &Req) -> R {
        self.authorize("ListClusters", &format!("arn:aws:eks:{}:{}:cluster/*", self.eks.inner.config.region, self.account())).await?;
        let max = req.max_results(100)?;
        let all: Vec<ClusterRecord> = self.eks.inner.state.list(model::CLUSTERS_PREFIX).await.map_err(internal)?;
        let items: Vec<(String, String)> = all.into_iter().map(|c| (c.name.clone(), c.name)).collect();
        let (names, next) = page(&items, req.q("nextToken"), max);
        let mut out = json!({ "clusters": names });
        if let Some(n) = next {
            out["nextToken"] = json!(n);
        }
        Ok(Output::Json(out))
    }

    async fn delete_cluster(&self, req: &Req) -> R {
        let name = req.seg(1).to_string();
        self.authorize("DeleteCluster", &self.cluster_arn(&name)).await?;
        let groups = self.nodegroup_names(&name).await?;
        if !groups.is_empty() {
            return Err(in_use(format!("Cluster has nodegroups attached: {}", groups.join(", "))));
        }
        let key = model::cluster_key(&name);
        let rec = self
            .eks
            .inner
            .state
            .update::<ClusterRecord, _>(&key, |r| {
                if r.status == ClusterStatus::Deleting {
                    return Ok(());
                }
                if !r.status.can_delete() {
                    return Err(in_use(format!("Cluster {name} is currently being created: it cannot be deleted until it is ACTIVE or FAILED.")));
                }
                r.status = ClusterStatus::Deleting;
                Ok(())
            })
            .await?
            .ok_or_else(|| not_found(format!("No cluster found for name: {name}.")))?;
        tracing::info!(cluster = %name, "EKS cluster deleting");
        self.eks.spawn_reconcile(&name);
        Ok(Output::Json(json!({ "cluster": rec.to_json() })))
    }

    async fn record_update(&self, cluster: &str, kind: &str, params: Vec<(String, String)>) -> Result<UpdateRecord, AwsError> {
        let u = UpdateRecord { id: uuid::Uuid::new_v4().to_string(), status: "Successful".into(), kind: kind.into(), params, created_at: now(), errors: vec![] };
        let key = format!("{}{}", model::updates_prefix(cluster), u.id);
        self.eks.inner.state.put_if(&key, &u, 0, 0).await.map_err(internal)?;
        Ok(u)
    }

    async fn update_cluster_config(&self, req: &Req) -> R {
        let name = req.seg(1).to_string();
        self.authorize("UpdateClusterConfig", &self.cluster_arn(&name)).await?;
        let (current, _) = self.cluster(&name).await?;
        if !current.status.can_update() {
            return Err(in_use(format!("Cluster {name} is {}: it cannot be updated now.", current.status.as_str())));
        }
        let logging = req.body.get("logging").filter(|v| v.is_object());
        let mode = req.body["accessConfig"]["authenticationMode"].as_str();
        let vpc = req.body.get("resourcesVpcConfig").filter(|v| v.is_object());
        let given = [logging.is_some(), mode.is_some(), vpc.is_some()].iter().filter(|b| **b).count();
        if given != 1 {
            return Err(invalid_param("exactly one of logging, accessConfig or resourcesVpcConfig must be given per update"));
        }
        let (kind, params, new_logging, new_mode) = if let Some(l) = logging {
            let merged = merge_logging(&current.logging, l)?;
            ("LoggingUpdate", vec![("ClusterLogging".to_string(), merged.to_string())], Some(merged), None)
        } else if let Some(m) = mode {
            if !AUTH_MODES.contains(&m) {
                return Err(invalid_param(format!("unknown authenticationMode {m}")));
            }
            let from = AUTH_MODES.iter().position(|x| *x == current.authentication_mode).unwrap_or(0);
            let to = AUTH_MODES.iter().position(|x| *x == m).unwrap_or(0);
            if to <= from {
                return Err(invalid_param(format!(
                    "Unsupported authentication mode update from {} to {m}: the mode can only change CONFIG_MAP → API_AND_CONFIG_MAP → API",
                    current.authentication_mode
                )));
            }
            ("AccessConfigUpdate", vec![("AuthenticationMode".to_string(), m.to_string())], None, Some(m.to_string()))
        } else {
            let v = vpc.cloned().unwrap_or_default();
            let mut params = Vec::new();
            for (field, p) in [("endpointPublicAccess", "EndpointPublicAccess"), ("endpointPrivateAccess", "EndpointPrivateAccess")] {
                if let Some(b) = v[field].as_bool() {
                    params.push((p.to_string(), b.to_string()));
                }
            }
            if v.get("publicAccessCidrs").is_some() {
                params.push(("PublicAccessCidrs".to_string(), Value::from(Req::strings(v.get("publicAccessCidrs"))).to_string()));
            }
            if params.is_empty() {
                return Err(invalid_param("resourcesVpcConfig names no endpoint access setting to update"));
            }
            ("EndpointAccessUpdate", params, None, None)
        };
        let vpc_update = vpc.cloned();
        self.eks
            .inner
            .state
            .update::<ClusterRecord, _>(&model::cluster_key(&name), |r| {
                if let Some(l) = &new_logging {
                    r.logging = l.clone();
                }
                if let Some(m) = &new_mode {
                    r.authentication_mode = m.clone();
                }
                if let Some(v) = &vpc_update {
                    if let Some(b) = v["endpointPublicAccess"].as_bool() {
                        r.vpc.endpoint_public_access = b;
                    }
                    if let Some(b) = v["endpointPrivateAccess"].as_bool() {
                        r.vpc.endpoint_private_access = b;
                    }
                    if v.get("publicAccessCidrs").is_some() {
                        r.vpc.public_access_cidrs = Req::strings(v.get("publicAccessCidrs"));
                    }
                }
                Ok(())
            })
            .await?;
        let u = self.record_update(&name, kind, params).await?;
        Ok(Output::Json(json!({ "update": u.to_json() })))
    }

    async fn update_cluster_version(&self, req: &Req) -> R {
        let name = req.seg(1).to_string();
        self.authorize("UpdateClusterVersion", &self.cluster_arn(&name)).await?;
        let version = req.required("version")?.to_string();
        let (current, _) = self.cluster(&name).await?;
        if !current.status.can_update() {
            return Err(in_use(format!("Cluster {name} is {}: it cannot be updated now.", current.status.as_str())));
        }
        let minor = |v: &str| v.split_once('.').and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
        let (Some(from), Some(to)) = (minor(&current.version), minor(&version)) else {
            return Err(invalid_param(format!("unsupported Kubernetes version {version}")));
        };
        if to.0 != from.0 || to.1 != from.1 + 1 {
            return Err(invalid_param(format!("Unsupported Kubernetes minor version update from {} to {version}", current.version)));
        }
        if !self.eks.inner.config.versions.contains(&version) {
            return Err(invalid_param(format!("Kubernetes version {version} is not served by this endpoint")));
        }
        let platform = self
            .eks
            .inner
            .state
            .update::<ClusterRecord, _>(&model::cluster_key(&name), |r| {
                r.version = version.clone();
                r.platform_version = "eks.1".into();
                Ok(())
            })
            .await?
            .map(|r| r.platform_version)
            .unwrap_or_default();
        let u = self.record_update(&name, "VersionUpdate", vec![("Version".into(), version), ("PlatformVersion".into(), platform)]).await?;
        Ok(Output::Json(json!({ "update": u.to_json() })))
    }

    async fn describe_update(&self, req: &Req) -> R {
        let name = req.seg(1);
        self.authorize("DescribeUpdate", &self.cluster_arn(name)).await?;
        if req.q("addonName").is_some() {
            return Err(invalid_param("add-on updates are not supported yet"));
        }
        self.cluster(name).await?;
        let id = req.seg(3);
        if let Some(ng) = req.q("nodegroupName") {
            return self.describe_nodegroup_update(name, ng, id).await;
        }
        let (u, _) = self
            .eks
            .inner
            .state
            .get::<UpdateRecord>(&format!("{}{id}", model::updates_prefix(name)))
            .await
            .map_err(internal)?
            .ok_or_else(|| not_found(format!("No update found for ID: {id}")))?;
        Ok(Output::Json(json!({ "update": u.to_json() })))
    }

    async fn list_updates(&self, req: &Req) -> R {
        let name = req.seg(1);
        self.authorize("ListUpdates", &self.cluster_arn(name)).await?;
        self.cluster(name).await?;
        let max = req.max_results(100)?;
        let ids: Vec<String> = match req.q("nodegroupName") {
            Some(ng) => self.nodegroup_update_ids(name, ng).await?,
            None => {
                let mut all: Vec<UpdateRecord> = self.eks.inner.state.list(&model::updates_prefix(name)).await.map_err(internal)?;
                all.sort_by(|a, b| a.id.cmp(&b.id));
                all.into_iter().map(|u| u.id).collect()
            }
        };
        let items: Vec<(String, String)> = ids.into_iter().map(|u| (u.clone(), u)).collect();
        let (ids, next) = page(&items, req.q("nextToken"), max);
        let mut out = json!({ "updateIds": ids });
        if let Some(n) = next {
            out["nextToken"] = json!(n);
        }
        Ok(Output::Json(out))
    }

    /// The record key a tagged ARN names: clusters and access entries.
    async fn tag_target(&self, arn: &str) -> Result<String, AwsError> {
        let prefix = format!("arn:aws:eks:{}:{}:", self.eks.inner.config.region, self.account());
        let rest = arn.strip_prefix(&prefix).ok_or_else(|| AwsError::new(StatusCode::NOT_FOUND, "NotFoundException", format!("Resource {arn} not found")))?;
        if let Some(name) = rest.strip_prefix("cluster/") {
            if self.eks.inner.state.get::<ClusterRecord>(&model::cluster_key(name)).await.map_err(internal)?.is_some() {
                return Ok(model::cluster_key(name));
            }
        } else if let Some(r) = rest.strip_prefix("access-entry/") {
            if let Some((cluster, _)) = r.split_once('/') {
                let entries: Vec<AccessEntryRecord> = self.eks.inner.state.list(&model::entries_prefix(cluster)).await.map_err(internal)?;
                if let Some(e) = entries.into_iter().find(|e| e.arn == arn) {
                    return Ok(model::entry_key(cluster, &e.principal_arn));
                }
            }
        }
        Err(AwsError::new(StatusCode::NOT_FOUND, "NotFoundException", format!("Resource {arn} not found")))
    }

    async fn modify_tags(&self, key: &str, f: impl Fn(&mut BTreeMap<String, String>) -> Result<(), AwsError>) -> Result<BTreeMap<String, String>, AwsError> {
        let st = &self.eks.inner.state;
        let notfound = || AwsError::new(StatusCode::NOT_FOUND, "NotFoundException", "Resource not found");
        if key.starts_with(model::CLUSTERS_PREFIX) {
            let r = st.update::<ClusterRecord, _>(key, |r| f(&mut r.tags)).await?.ok_or_else(notfound)?;
            Ok(r.tags)
        } else {
            let r = st.update::<AccessEntryRecord, _>(key, |r| f(&mut r.tags)).await?.ok_or_else(notfound)?;
            Ok(r.tags)
        }
    }

    async fn tag_resource(&self, req: &Req) -> R {
        let arn = req.seg(1).to_string();
        self.authorize("TagResource", &arn).await?;
        let key = self.tag_target(&arn).await?;
        let new = Req::tags(req.body.get("tags")).map_err(|e| AwsError::bad_request("BadRequestException", e.message))?;
        self.modify_tags(&key, |t| {
            t.extend(new.clone());
            if t.len() > 50 {
                return Err(AwsError::bad_request("BadRequestException", "a resource can have at most 50 tags"));
            }
            Ok(())
        })
        .await?;
        Ok(Output::Json(json!({})))
    }

    async fn untag_resource(&self, req: &Req) -> R {
        let arn = req.seg(1).to_string();
        self.authorize("UntagResource", &arn).await?;
        let key = self.tag_target(&arn).await?;
        let keys = req.q_all("tagKeys");
        if keys.is_empty() {
            return Err(AwsError::bad_request("BadRequestException", "tagKeys is required"));
        }
        self.modify_tags(&key, |t| {
            for k in &keys {
                t.remove(k);
            }
            Ok(())
        })
        .await?;
        Ok(Output::Json(json!({})))
    }

    async fn list_tags(&self, req: &Req) -> R {
        let arn = req.seg(1).to_string();
        self.authorize("ListTagsForResource", &arn).await?;
        let key = self.tag_target(&arn).await?;
        let tags = self.modify_tags(&key, |_| Ok(())).await?;
        Ok(Output::Json(json!({ "tags": tags })))
    }

    fn new_entry(&self, cluster: &str, principal: &str, groups: Vec<String>, username: Option<String>, tags: BTreeMap<String, String>, now: f64) -> AccessEntryRecord {
        let id = uuid::Uuid::new_v4().to_string();
        let kind_seg = if principal.contains(":role/") { "role" } else { "user" };
        let username = username.unwrap_or_else(|| default_username(principal));
        AccessEntryRecord {
            cluster_name: cluster.into(),
            principal_arn: principal.into(),
            arn: format!("arn:aws:eks:{}:{}:access-entry/{cluster}/{kind_seg}/{}/{id}", self.eks.inner.config.region, self.account(), self.account()),
            id,
            kubernetes_groups: groups,
            username,
            kind: "STANDARD".into(),
            tags,
            created_at: now,
            modified_at: now,
            policies: vec![],
        }
    }

    /// The cluster, refusing access-entry operations in CONFIG_MAP mode.
    async fn api_cluster(&self, name: &str) -> Result<ClusterRecord, AwsError> {
        let (c, _) = self.cluster(name).await?;
        if c.authentication_mode == "CONFIG_MAP" {
            return Err(invalid_request("The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation."));
        }
        if c.status == ClusterStatus::Deleting {
            return Err(in_use(format!("Cluster {name} is being deleted.")));
        }
        Ok(c)
    }

    /// Checks a principal ARN names an existing IAM user or role of the account (or the root).
    async fn check_principal(&self, arn: &str) -> Result<(), AwsError> {
        let bad = || invalid_param(format!("The specified principalArn is invalid: invalid ARN {arn}"));
        let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(bad)?;
        let (acct, res) = rest.split_once(':').ok_or_else(bad)?;
        if acct != self.account() {
            return Err(bad());
        }
        if res == "root" {
            return Ok(());
        }
        let st = self.eks.inner.iam.state();
        let exists = if let Some(p) = res.strip_prefix("user/") {
            st.user(p.rsplit('/').next().unwrap_or_default()).await.map_err(internal)?.is_some()
        } else if let Some(p) = res.strip_prefix("role/") {
            st.role(p.rsplit('/').next().unwrap_or_default()).await.map_err(internal)?.is_some()
        } else {
            return Err(bad());
        };
        if exists {
            Ok(())
        } else {
            Err(invalid_param(format!("The specified principalArn could not be found: {arn}")))
        }
    }

    fn check_groups(groups: &[String]) -> Result<(), AwsError> {
        if let Some(g) = groups.iter().find(|g| g.starts_with("system:") || g.starts_with("eks:") || g.starts_with("wharf-eks:")) {
            return Err(invalid_param(format!("The kubernetes group name {g} is invalid, it cannot start with system:, eks: or wharf-eks:")));
        }
        Ok(())
    }

    fn check_username(u: &str) -> Result<(), AwsError> {
        if u.starts_with("system:") || u.starts_with("eks:") || u.starts_with("amazon:") || u.starts_with("aws:") {
            return Err(invalid_param(format!("The username {u} is invalid, it cannot start with system:, eks:, amazon: or aws:")));
        }
        Ok(())
    }

    async fn entry(&self, cluster: &str, principal: &str) -> Result<AccessEntryRecord, AwsError> {
        self.eks
            .inner
            .state
            .get::<AccessEntryRecord>(&model::entry_key(cluster, principal))
            .await
            .map_err(internal)?
            .map(|(e, _)| e)
            .ok_or_else(|| not_found(format!("The specified access entry resource is not found: cluster {cluster}, principal {principal}")))
    }

    async fn after_access_change(&self, cluster: &ClusterRecord) {
        if cluster.status == ClusterStatus::Active {
            if let Err(e) = self.eks.sync_rbac(&cluster.name).await {
                tracing::warn!(cluster = %cluster.name, error = %e, "applying access policies failed");
            }
        }
    }

    async fn create_access_entry(&self, req: &Req) -> R {
        let name = req.seg(1).to_string();
        self.authorize("CreateAccessEntry", &self.cluster_arn(&name)).await?;
        let cluster = self.api_cluster(&name).await?;
        let principal = req.required("principalArn")?.to_string();
        self.check_principal(&principal).await?;
        let kind = req.str("type").unwrap_or("STANDARD");
        if kind != "STANDARD" {
            return Err(invalid_param(format!("access entry type {kind} is not supported yet (only STANDARD)")));
        }
        let groups = Req::strings(req.body.get("kubernetesGroups"));
        Self::check_groups(&groups)?;
        let username = req.str("username").map(str::to_string);
        if let Some(u) = &username {
            Self::check_username(u)?;
        }
        let tags = Req::tags(req.body.get("tags"))?;
        let e = self.new_entry(&name, &principal, groups, username, tags, now());
        if !self.eks.inner.state.put_if(&model::entry_key(&name, &principal), &e, 0, 0).await.map_err(internal)? {
            return Err(in_use(format!("The specified access entry resource is already in use on this cluster: {principal}")));
        }
        self.after_access_change(&cluster).await;
        Ok(Output::Json(json!({ "accessEntry": e.to_json() })))
    }

    async fn describe_access_entry(&self, req: &Req) -> R {
        let name = req.seg(1);
        self.authorize("DescribeAccessEntry", &self.cluster_arn(name)).await?;
        self.cluster(name).await?;
        let e = self.entry(name, req.seg(3)).await?;
        Ok(Output::Json(json!({ "accessEntry": e.to_json() })))
    }

    async fn list_access_entries(&self, req: &Req) -> R {
        let name = req.seg(1);
        self.authorize("ListAccessEntries", &self.cluster_arn(name)).await?;
        self.cluster(name).await?;
        let max = req.max_results(100)?;
        let all: Vec<AccessEntryRecord> = self.eks.inner.state.list(&model::entries_prefix(name)).await.map_err(internal)?;
        let filter = req.q("associatedPolicyArn");
        let items: Vec<(String, String)> = all
            .into_iter()
            .filter(|e| filter.is_none_or(|p| e.policies.iter().any(|a| a.policy_arn == p)))
            .map(|e| (e.principal_arn.clone(), e.principal_arn))
            .collect();
        let (arns, next) = page(&items, req.q("nextToken"), max);
        let mut out = json!({ "accessEntries": arns });
        if let Some(n) = next {
            out["nextToken"] = json!(n);
        }
        Ok(Output::Json(out))
    }

    async fn update_access_entry(&self, req: &Req) -> R {
        let name = req.seg(1).to_string();
        let principal = req.seg(3).to_string();
        self.authorize("UpdateAccessEntry", &self.cluster_arn(&name)).await?;
        let cluster = self.api_cluster(&name).await?;
        let groups = req.body.get("kubernetesGroups").map(|g| Req::strings(Some(g)));
        if let Some(g) = &groups {
            Self::check_groups(g)?;
        }
        let username = req.str("username").map(str::to_string);
        if let Some(u) = &username {
            Self::check_username(u)?;
        }
        let e = self
            .eks
            .inner
            .state
            .update::<AccessEntryRecord, _>(&model::entry_key(&name, &principal), |e| {
                if let Some(g) = &groups {
                    e.kubernetes_groups = g.clone();
                }
                if let Some(u) = &username {
                    e.username = u.clone();
                }
                e.modified_at = now();
                Ok(())
            })
            .await?
            .ok_or_else(|| not_found(format!("The specified access entry resource is not found: {principal}")))?;
        self.after_access_change(&cluster).await;
        Ok(Output::Json(json!({ "accessEntry": e.to_json() })))
    }

    async fn delete_access_entry(&self, req: &Req) -> R {
        let name = req.seg(1).to_string();
        let principal = req.seg(3).to_string();
        self.authorize("DeleteAccessEntry", &self.cluster_arn(&name)).await?;
        let (cluster, _) = self.cluster(&name).await?;
        let key = model::entry_key(&name, &principal);
        let st = &self.eks.inner.state;
        let (_, rev) = st
            .get::<AccessEntryRecord>(&key)
            .await
            .map_err(internal)?
            .ok_or_else(|| not_found(format!("The specified access entry resource is not found: {principal}")))?;
        st.delete_if(&key, rev).await.map_err(internal)?;
        self.after_access_change(&cluster).await;
        Ok(Output::Json(json!({})))
    }

    async fn associate_access_policy(&self, req: &Req) -> R {
        let name = req.seg(1).to_string();
        let principal = req.seg(3).to_string();
        self.authorize("AssociateAccessPolicy", &self.cluster_arn(&name)).await?;
        let cluster = self.api_cluster(&name).await?;
        let policy = req.required("policyArn")?.to_string();
        if access::role_for_policy(&policy).is_none() {
            return Err(invalid_param(format!("The specified policyArn is invalid or not supported: {policy}")));
        }
        let scope_v = req.body.get("accessScope").filter(|v| v.is_object()).ok_or_else(|| invalid_param("accessScope is required"))?;
        let kind = scope_v["type"].as_str().unwrap_or_default().to_string();
        let namespaces = Req::strings(scope_v.get("namespaces"));
        match kind.as_str() {
            "cluster" if namespaces.is_empty() => {}
            "cluster" => return Err(invalid_param("namespaces must be empty for a cluster scope")),
            "namespace" if !namespaces.is_empty() => {}
            "namespace" => return Err(invalid_param("a namespace scope needs at least one namespace")),
            _ => return Err(invalid_param(format!("invalid accessScope type {kind}"))),
        }
        let scope = Scope { kind, namespaces };
        let mut assoc = None;
        self.eks
            .inner
            .state
            .update::<AccessEntryRecord, _>(&model::entry_key(&name, &principal), |e| {
                let t = now();
                let a = match e.policies.iter_mut().find(|a| a.policy_arn == policy) {
                    Some(a) => {
                        a.scope = scope.clone();
                        a.modified_at = t;
                        a.clone()
                    }
                    None => {
                        let a = Association { policy_arn: policy.clone(), scope: scope.clone(), associated_at: t, modified_at: t };
                        e.policies.push(a.clone());
                        a
                    }
                };
                assoc = Some(a);
                Ok(())
            })
            .await?
            .ok_or_else(|| not_found(format!("The specified access entry resource is not found: {principal}")))?;
        self.after_access_change(&cluster).await;
        let a = assoc.ok_or_else(|| internal("association missing after update"))?;
        Ok(Output::Json(json!({ "clusterName": name, "principalArn": principal, "associatedAccessPolicy": a.to_json() })))
    }

    async fn disassociate_access_policy(&self, req: &Req) -> R {
        let name = req.seg(1).to_string();
        let principal = req.seg(3).to_string();
        let policy = req.seg(5).to_string();
        self.authorize("DisassociateAccessPolicy", &self.cluster_arn(&name)).await?;
        let cluster = self.api_cluster(&name).await?;
        self.eks
            .inner
            .state
            .update::<AccessEntryRecord, _>(&model::entry_key(&name, &principal), |e| {
                let before = e.policies.len();
                e.policies.retain(|a| a.policy_arn != policy);
                if e.policies.len() == before {
                    return Err(not_found(format!("The access policy {policy} is not associated with {principal}")));
                }
                Ok(())
            })
            .await?
            .ok_or_else(|| not_found(format!("The specified access entry resource is not found: {principal}")))?;
        self.after_access_change(&cluster).await;
        Ok(Output::Json(json!({})))
    }

    async fn list_associated(&self, req: &Req) -> R {
        let name = req.seg(1);
        let principal = req.seg(3);
        self.authorize("ListAssociatedAccessPolicies", &self.cluster_arn(name)).await?;
        self.cluster(name).await?;
        let max = req.max_results(100)?;
        let e = self.entry(name, principal).await?;
        let items: Vec<(String, Value)> = e.policies.iter().map(|a| (a.policy_arn.clone(), a.to_json())).collect();
        let (list, next) = page(&items, req.q("nextToken"), max);
        let mut out = json!({ "clusterName": name, "principalArn": principal, "associatedAccessPolicies": list });
        if let Some(n) = next {
            out["nextToken"] = json!(n);
        }
        Ok(Output::Json(out))
    }

    async fn list_access_policies(&self, req: &Req) -> R {
        self.authorize("ListAccessPolicies", "*").await?;
        let max = req.max_results(100)?;
        let items: Vec<(String, Value)> =
            access::POLICIES.iter().map(|(n, _)| (n.to_string(), json!({ "name": n, "arn": access::policy_arn(n) }))).collect();
        let (list, next) = page(&items, req.q("nextToken"), max);
        let mut out = json!({ "accessPolicies": list });
        if let Some(n) = next {
            out["nextToken"] = json!(n);
        }
        Ok(Output::Json(out))
    }
}

/// EKS's default user name of an access entry: the ARN for users (and the root), the
/// session form for roles.
fn default_username(principal: &str) -> String {
    if let Some((acct, role)) = principal.strip_prefix("arn:aws:iam::").and_then(|r| r.split_once(":role/")) {
        let role = role.rsplit('/').next().unwrap_or(role);
        return format!("arn:aws:sts::{acct}:assumed-role/{role}/{{{{SessionName}}}}");
    }
    principal.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_to_the_models_operations() {
        assert_eq!(resolve(&Method::POST, "/clusters"), Some("CreateCluster"));
        assert_eq!(resolve(&Method::GET, "/clusters/a"), Some("DescribeCluster"));
        assert_eq!(resolve(&Method::GET, "/clusters/a/updates/u"), Some("DescribeUpdate"));
        let arn = "arn%3Aaws%3Aiam%3A%3A123456789012%3Auser%2Falice";
        assert_eq!(resolve(&Method::DELETE, &format!("/clusters/a/access-entries/{arn}")), Some("DeleteAccessEntry"));
        assert_eq!(segments(&format!("/clusters/a/access-entries/{arn}"))[3], "arn:aws:iam::123456789012:user/alice");
        assert_eq!(resolve(&Method::PUT, "/clusters"), None);
    }

    #[test]
    fn pages_continue_after_the_last_name() {
        let items: Vec<(String, String)> = ["a", "b", "c"].iter().map(|s| (s.to_string(), s.to_string())).collect();
        let (p1, n1) = page(&items, None, 2);
        assert_eq!((p1, n1.as_deref()), (vec!["a".to_string(), "b".to_string()], Some("b")));
        let (p2, n2) = page(&items, Some("b"), 2);
        assert_eq!((p2, n2), (vec!["c".to_string()], None));
    }

    #[test]
    fn service_cidrs_must_be_private_and_aligned() {
        assert!(check_service_cidr("10.100.0.0/16").is_ok());
        assert!(check_service_cidr("172.20.0.0/16").is_ok());
        assert!(check_service_cidr("8.8.0.0/16").is_err());
        assert!(check_service_cidr("10.100.0.1/16").is_err());
        assert!(check_service_cidr("10.0.0.0/8").is_err());
    }

    #[test]
    fn logging_updates_regroup_types_by_state() {
        let l = merge_logging(&default_logging(), &json!({"clusterLogging": [{"types": ["api", "audit"], "enabled": true}]})).unwrap();
        assert_eq!(l["clusterLogging"][0], json!({"types": ["api", "audit"], "enabled": true}));
        assert_eq!(l["clusterLogging"][1]["enabled"], false);
        assert!(merge_logging(&l, &json!({"clusterLogging": [{"types": ["nope"], "enabled": true}]})).is_err());
    }

    #[test]
    fn role_entries_default_to_the_session_user_name() {
        assert_eq!(default_username("arn:aws:iam::1:role/dev/ops"), "arn:aws:sts::1:assumed-role/ops/{{SessionName}}");
        assert_eq!(default_username("arn:aws:iam::1:user/alice"), "arn:aws:iam::1:user/alice");
    }
}
