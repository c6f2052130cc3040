//! The OpenAPI endpoints (`/openapi/v2`, `/openapi/v3`, `/openapi/v3/{api/v1|apis/G/V}`),
//! rendered by `wharf-openapi` from the served resources, custom resources included.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use wharf_openapi::ServedResource;

use crate::error::{ApiError, Result};
use crate::registry::Served;

/// Serves an OpenAPI path; unknown group-versions are 404 as in kube-apiserver.
pub fn serve(served: &[Arc<Served>], segs: &[&str], _q: &HashMap<String, String>) -> Result<Value> {
    let resources: Vec<ServedResource<'_>> = served.iter().map(|s| ServedResource { info: &s.info, crd_version: s.crd_version.as_ref() }).collect();
    match segs {
        ["openapi", "v2"] => Ok(wharf_openapi::v2(&resources)),
        ["openapi", "v3"] => Ok(wharf_openapi::v3_root(&resources)),
        ["openapi", "v3", "api", version] => wharf_openapi::v3_group_version(&resources, "", version).ok_or(ApiError::NoRoute),
        ["openapi", "v3", "apis", group, version] => wharf_openapi::v3_group_version(&resources, group, version).ok_or(ApiError::NoRoute),
        _ => Err(ApiError::NoRoute),
    }
}

/// Removes the fields at `paths` (`.spec.template.spec.containers[1].imagee`) from `obj`.
pub fn remove_paths(obj: &mut Value, paths: &[String]) {
    for p in paths {
        remove_path(obj, p);
    }
}

fn remove_path(obj: &mut Value, path: &str) {
    let mut segs: Vec<(String, Option<usize>)> = Vec::new();
    for part in path.trim_start_matches('.').split('.') {
        match part.split_once('[') {
            Some((name, rest)) => {
                let idx = rest.trim_end_matches(']').parse::<usize>().ok();
                segs.push((name.to_string(), idx));
            }
            None => segs.push((part.to_string(), None)),
        }
    }
    let Some((last, last_idx)) = segs.pop() else { return };
    let mut cur = obj;
    for (name, idx) in segs {
        let Some(next) = cur.get_mut(&name) else { return };
        cur = match idx {
            Some(i) => match next.get_mut(i) {
                Some(n) => n,
                None => return,
            },
            None => next,
        };
    }
    if last_idx.is_none() {
        if let Some(o) = cur.as_object_mut() {
            o.remove(&last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_field_paths_are_removed_including_inside_lists() {
        let mut v = json!({"spec":{"replicass":3,"template":{"spec":{"containers":[{"name":"a"},{"name":"b","imagee":"x"}]}}}});
        remove_paths(&mut v, &[".spec.replicass".into(), ".spec.template.spec.containers[1].imagee".into()]);
        assert_eq!(v, json!({"spec":{"template":{"spec":{"containers":[{"name":"a"},{"name":"b"}]}}}}));
    }
}
