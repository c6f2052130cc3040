//! Writes that are more than a plain object replace: PATCH in its four content types, the
//! `scale` subresource, pod `binding` and pod `eviction`.

use serde_json::{json, Value};
use wharf_api::patch::{self, PatchError};
use wharf_api::selector::LabelSelector;

use crate::error::{ApiError, Result};
use crate::registry::{DeleteOptions, ReadAt, Registry, Served, WriteOptions};
use crate::strategy::Part;

/// The patch content types Kubernetes accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`
    Json,
    /// `application/merge-patch+json`
    Merge,
    /// `application/strategic-merge-patch+json`
    Strategic,
    /// `application/apply-patch+yaml`
    Apply,
}

fn patch_type(ct: &str, custom: bool) -> Result<PatchType> {
    let media = ct.split(';').next().unwrap_or("").trim();
    let t = match media {
        "application/json-patch+json" => PatchType::Json,
        "application/merge-patch+json" => PatchType::Merge,
        "application/strategic-merge-patch+json" if !custom => PatchType::Strategic,
        "application/apply-patch+yaml" | "application/apply-patch+cbor" => PatchType::Apply,
        _ => {
            let mut accepted = vec!["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];
            if !custom {
                accepted.insert(2, "application/strategic-merge-patch+json");
            }
            return Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            )));
        }
    };
    Ok(t)
}

fn patch_error(e: PatchError) -> ApiError {
    match e.status_code() {
        400 => ApiError::BadRequest(e.to_string()),
        415 => ApiError::UnsupportedMediaType(e.to_string()),
        _ => ApiError::Unprocessable(e.to_string()),
    }
}

fn rv_of(v: &Value) -> Option<&str> {
    v.pointer("/metadata/resourceVersion").and_then(Value::as_str)
}

/// Applies a patch to `old` as Kubernetes does for the given type.
pub fn apply_patch(s: &Served, old: &Value, ptype: PatchType, body: &Value) -> Result<Value> {
    match ptype {
        PatchType::Json => patch::json_patch(old, body).map_err(patch_error),
        PatchType::Merge => Ok(patch::merge_patch(old, body)),
        PatchType::Strategic => patch::strategic_merge_patch(old, body, &s.info.group, &s.info.kind).map_err(patch_error),
        PatchType::Apply => Err(ApiError::Internal("apply patches go through server_side_apply".into())),
    }
}

/// PATCH on an object or its `status`/`scale` subresource. Returns the object and whether it was created.
#[allow(clippy::too_many_arguments)]
pub async fn patch(reg: &Registry, s: &Served, ns: Option<&str>, name: &str, sub: Option<&str>, ct: &str, body: &[u8], opts: &WriteOptions) -> Result<(Value, bool)> {
    let ptype = patch_type(ct, s.custom)?;
    let doc: Value = if ptype == PatchType::Apply {
        serde_yaml::from_slice(body).map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))?
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("json: {e}")))?
    };
    let part = match sub {
        None => Part::Main,
        Some("status") => Part::Status,
        Some("scale") => {
            let cur = reg.get(s, ns, name, ReadAt::Latest).await?.value()?;
            let scale = scale_of(s, &cur)?;
            let patched = match ptype {
                PatchType::Json => patch::json_patch(&scale, &doc).map_err(patch_error)?,
                _ => patch::merge_patch(&scale, &doc),
            };
            return Ok((update_scale(reg, s, ns, name, patched, opts).await?, false));
        }
        Some(_) => return Err(ApiError::MethodNotAllowed("the server does not allow this method on the requested resource".into())),
    };
    if ptype == PatchType::Apply {
        return apply(reg, s, ns, name, part, &doc, opts).await;
    }
    let conflict_name = name.to_string();
    let v = reg
        .guaranteed_update(
            s,
            ns,
            name,
            None,
            opts,
            |old| {
                let patched = apply_patch(s, old, ptype, &doc)?;
                if let (Some(want), Some(have)) = (rv_of(&patched), rv_of(old)) {
                    if want != have {
                        return Err(ApiError::Conflict {
                            resource: qualified(s),
                            group: s.info.group.clone(),
                            kind: s.info.resource.clone(),
                            name: conflict_name.clone(),
                            detail: "the object has been modified; please apply your changes to the latest version and try again".into(),
                        });
                    }
                }
                Ok(patched)
            },
            part,
        )
        .await?;
    Ok((v, false))
}

fn apply_error(e: wharf_api::apply::ApplyError) -> ApiError {
    match e {
        wharf_api::apply::ApplyError::Conflicts { message, conflicts } => ApiError::ApplyConflict {
            message,
            causes: conflicts.iter().map(|c| json!({"reason": "FieldManagerConflict", "message": c.cause_message(), "field": c.field})).collect(),
        },
        wharf_api::apply::ApplyError::Invalid(m) => ApiError::BadRequest(m),
    }
}

/// Server-side apply (`application/apply-patch+yaml`): creates the object when it is absent.
async fn apply(reg: &Registry, s: &Served, ns: Option<&str>, name: &str, part: Part, applied: &Value, opts: &WriteOptions) -> Result<(Value, bool)> {
    let manager = opts.field_manager.clone().unwrap_or_default();
    let api_version = s.info.api_version();
    let sub = if part == Part::Status { Some("status") } else { None };
    let schema = s.list_schema();
    if applied.pointer("/metadata/name").and_then(Value::as_str).is_some_and(|n| n != name) {
        return Err(ApiError::BadRequest(format!("the name of the object ({}) does not match the name on the URL ({name})", applied.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default())));
    }
    loop {
        let existing = reg.get(s, ns, name, ReadAt::Latest).await;
        match existing {
            Err(ApiError::NotFound { .. }) if part == Part::Main => {
                let mut obj = wharf_api::apply::server_side_apply(None, applied, &manager, opts.force, &api_version, &schema, &wharf_api::meta::now_rfc3339(), sub).map_err(apply_error)?;
                if obj.pointer("/metadata/name").is_none() {
                    obj["metadata"]["name"] = json!(name);
                }
                match reg.create(s, ns, obj, opts).await {
                    Ok(v) => return Ok((v, true)),
                    // Someone created it meanwhile: apply onto theirs.
                    Err(ApiError::AlreadyExists { .. }) => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
            Ok(_) => {
                let v = reg
                    .guaranteed_update(s, ns, name, None, opts, |old| {
                        wharf_api::apply::server_side_apply(Some(old), applied, &manager, opts.force, &api_version, &schema, &wharf_api::meta::now_rfc3339(), sub).map_err(apply_error)
                    }, part)
                    .await;
                return match v {
                    Err(ApiError::NotFound { .. }) => continue,
                    other => other.map(|v| (v, false)),
                };
            }
        }
    }
}

fn qualified(s: &Served) -> String {
    if s.info.group.is_empty() {
        s.info.resource.clone()
    } else {
        format!("{}.{}", s.info.resource, s.info.group)
    }
}

/// The label selector of an object's `spec.selector` as the string form.
fn selector_string(sel: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            parts.push(format!("{k}={}", v.as_str().unwrap_or_default()));
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let vals: Vec<&str> = e.get("values").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            match e.get("operator").and_then(Value::as_str).unwrap_or_default() {
                "In" => parts.push(format!("{key} in ({})", vals.join(","))),
                "NotIn" => parts.push(format!("{key} notin ({})", vals.join(","))),
                "Exists" => parts.push(key.to_string()),
                "DoesNotExist" => parts.push(format!("!{key}")),
                _ => {}
            }
        }
    }
    parts.join(",")
}

fn scale_paths(s: &Served) -> (String, String, Option<String>) {
    match s.crd_version.as_ref().and_then(|v| v.pointer("/subresources/scale")) {
        Some(sc) => (
            sc.get("specReplicasPath").and_then(Value::as_str).unwrap_or(".spec.replicas").to_string(),
            sc.get("statusReplicasPath").and_then(Value::as_str).unwrap_or(".status.replicas").to_string(),
            sc.get("labelSelectorPath").and_then(Value::as_str).map(str::to_string),
        ),
        None => (".spec.replicas".into(), ".status.replicas".into(), None),
    }
}

fn pointer(path: &str) -> String {
    path.replace('.', "/")
}

/// The `autoscaling/v1` Scale of an object.
pub fn scale_of(s: &Served, obj: &Value) -> Result<Value> {
    let (spec_path, status_path, selector_path) = scale_paths(s);
    let meta = obj.get("metadata").cloned().unwrap_or_default();
    let selector = match selector_path {
        Some(p) => crate::tables::eval_path(obj, &p).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
        None => obj.pointer("/spec/selector").map(|sel| if sel.is_string() { sel.as_str().unwrap_or_default().to_string() } else { selector_string(sel) }).unwrap_or_default(),
    };
    let mut m = json!({});
    for f in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = meta.get(f) {
            m[f] = v.clone();
        }
    }
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": m,
        "spec": {"replicas": obj.pointer(&pointer(&spec_path)).and_then(Value::as_i64).unwrap_or(0)},
        "status": {"replicas": obj.pointer(&pointer(&status_path)).and_then(Value::as_i64).unwrap_or(0), "selector": selector},
    }))
}

/// Writes `spec.replicas` from a Scale object; returns the new Scale.
pub async fn update_scale(reg: &Registry, s: &Served, ns: Option<&str>, name: &str, scale: Value, opts: &WriteOptions) -> Result<Value> {
    let replicas = scale.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
    if replicas < 0 {
        return Err(ApiError::Invalid {
            group: "autoscaling".into(),
            kind: "Scale".into(),
            name: name.into(),
            errors: vec![wharf_api::FieldError::invalid("spec.replicas", json!(replicas), "must be greater than or equal to 0")],
        });
    }
    let precondition = rv_of(&scale).filter(|r| !r.is_empty()).and_then(|r| r.parse::<i64>().ok());
    let (spec_path, _, _) = scale_paths(s);
    let v = reg
        .guaranteed_update(s, ns, name, precondition, opts, |old| {
            let mut new = old.clone();
            let segs: Vec<&str> = spec_path.trim_start_matches('.').split('.').collect();
            let mut cur = &mut new;
            for (i, seg) in segs.iter().enumerate() {
                if i + 1 == segs.len() {
                    cur[*seg] = json!(replicas);
                } else {
                    if !cur.get(*seg).is_some_and(Value::is_object) {
                        cur[*seg] = json!({});
                    }
                    cur = &mut cur[*seg];
                }
            }
            Ok(new)
        }, Part::Main)
        .await?;
    scale_of(s, &v)
}

/// Binds a pod to a node (the `binding` subresource), once.
pub async fn bind(reg: &Registry, s: &Served, ns: Option<&str>, name: &str, node: &str, opts: &WriteOptions) -> Result<()> {
    let pod = name.to_string();
    reg.guaranteed_update(s, ns, name, None, opts, |old| {
        let cur = old.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default();
        if !cur.is_empty() {
            return Err(ApiError::Conflict {
                resource: "pods/binding".into(),
                group: String::new(),
                kind: "pods/binding".into(),
                name: pod.clone(),
                detail: format!("pod {pod} is already assigned to node \"{cur}\""),
            });
        }
        if old.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError::Conflict {
                resource: "pods/binding".into(),
                group: String::new(),
                kind: "pods/binding".into(),
                name: pod.clone(),
                detail: format!("pod {pod} is being deleted, cannot be assigned to a host"),
            });
        }
        let mut new = old.clone();
        new["spec"]["nodeName"] = json!(node);
        let now = wharf_api::meta::now_rfc3339();
        let mut conds: Vec<Value> = new.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
        conds.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
        conds.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}));
        if !new.get("status").is_some_and(Value::is_object) {
            new["status"] = json!({});
        }
        new["status"]["conditions"] = json!(conds);
        Ok(new)
    }, Part::Internal)
    .await?;
    Ok(())
}

/// Evicts a pod unless a PodDisruptionBudget forbids it.
pub async fn evict(reg: &Registry, s: &Served, ns: Option<&str>, name: &str, eviction: &Value, opts: &WriteOptions) -> Result<()> {
    let pod = reg.get(s, ns, name, ReadAt::Latest).await?.value()?;
    let labels = wharf_api::meta::labels(&pod).cloned();
    if let (Some(n), Some(pdbs)) = (ns, reg.lookup("policy", "v1", "poddisruptionbudgets")) {
        let list = reg
            .list(&pdbs, Some(n), &crate::registry::ListOptions {
                labels: LabelSelector::default(),
                fields: Default::default(),
                limit: 0,
                continue_token: None,
                at: ReadAt::Latest,
            })
            .await?;
        let terminal = matches!(pod.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"));
        for p in list.items {
            let pdb = p.value()?;
            let sel = pdb.pointer("/spec/selector").map(LabelSelector::from_object).transpose().map_err(|e| ApiError::Internal(e.to_string()))?;
            let Some(sel) = sel else { continue };
            if sel.is_empty() || !sel.matches(labels.as_ref()) || terminal {
                continue;
            }
            let allowed = pdb.pointer("/status/disruptionsAllowed").and_then(Value::as_i64).unwrap_or(0);
            if allowed <= 0 {
                return Err(ApiError::TooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.".into()));
            }
        }
    }
    let d = eviction.get("deleteOptions").cloned().unwrap_or_default();
    let opts = DeleteOptions {
        grace_period_seconds: d.get("gracePeriodSeconds").and_then(Value::as_i64),
        propagation_policy: d.get("propagationPolicy").and_then(Value::as_str).map(str::to_string),
        uid: d.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_string),
        resource_version: d.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(str::to_string),
        dry_run: opts.dry_run,
    };
    reg.delete(s, ns, name, &opts).await?;
    Ok(())
}
