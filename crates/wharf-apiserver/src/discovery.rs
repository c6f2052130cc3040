//! Discovery documents: `/version`, legacy discovery (`/api`, `/apis`, `/apis/{group}`,
//! resource lists) and aggregated discovery (`apidiscovery.k8s.io/v2`), all built from the
//! registry's served resources, custom resources included.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::registry::Served;

/// The Kubernetes version Wharf reports.
pub const KUBE_MAJOR: &str = "1";
/// The minor version Wharf reports (kubectl's dispatcher picks its binary by it).
pub const KUBE_MINOR: &str = "32";
/// The full version string.
pub const GIT_VERSION: &str = "v1.32.4-wharf";

/// The `/version` document.
pub fn version() -> Value {
    json!({
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "gitVersion": GIT_VERSION,
        "gitCommit": env!("CARGO_PKG_VERSION"),
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.8",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// Groups in discovery order (core first, built-ins as listed, custom groups after).
fn groups(served: &[Arc<Served>]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for s in served {
        match out.iter_mut().find(|(g, _)| *g == s.info.group) {
            Some((_, vs)) => {
                if !vs.contains(&s.info.version) {
                    vs.push(s.info.version.clone());
                }
            }
            None => out.push((s.info.group.clone(), vec![s.info.version.clone()])),
        }
    }
    for (_, vs) in out.iter_mut() {
        vs.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
    }
    out
}

/// Kubernetes' version ordering: GA > beta > alpha, higher numbers first.
fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else { return (0, 0, 0) };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    let (level, num) = if let Some(n) = tail.strip_prefix("beta") {
        (2, n)
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n)
    } else {
        (0, "0")
    };
    (level, major, num.parse().unwrap_or(0))
}

fn subresource_kind(s: &Served, sub: &str) -> (String, String, String, Vec<&'static str>) {
    let own = (s.info.group.clone(), s.info.version.clone(), s.info.kind.clone());
    match sub {
        "scale" => ("autoscaling".into(), "v1".into(), "Scale".into(), vec!["get", "patch", "update"]),
        "binding" => (String::new(), "v1".into(), "Binding".into(), vec!["create"]),
        "eviction" => ("policy".into(), "v1".into(), "Eviction".into(), vec!["create"]),
        "finalize" => (own.0, own.1, own.2, vec!["update"]),
        "log" => (own.0, own.1, own.2, vec!["get"]),
        "exec" => (own.0, own.1, "PodExecOptions".into(), vec!["create", "get"]),
        "attach" => (own.0, own.1, "PodAttachOptions".into(), vec!["create", "get"]),
        "portforward" => (own.0, own.1, "PodPortForwardOptions".into(), vec!["create", "get"]),
        _ => (own.0, own.1, own.2, vec!["get", "patch", "update"]),
    }
}

/// `/api` (legacy form).
pub fn api_versions(server_address: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]})
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
    let preferred = vs.first().cloned().unwrap_or(Value::Null);
    json!({"name": name, "versions": vs, "preferredVersion": preferred})
}

/// `/apis` (legacy form).
pub fn api_group_list(served: &[Arc<Served>]) -> Value {
    let gs: Vec<Value> = groups(served).iter().filter(|(g, _)| !g.is_empty()).map(|(g, vs)| group_doc(g, vs)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": gs})
}

/// `/apis/{group}`, if served.
pub fn api_group(served: &[Arc<Served>], group: &str) -> Option<Value> {
    groups(served).into_iter().find(|(g, _)| g == group && !g.is_empty()).map(|(g, vs)| {
        let mut d = group_doc(&g, &vs);
        d["kind"] = json!("APIGroup");
        d["apiVersion"] = json!("v1");
        d
    })
}

/// `/api/v1` or `/apis/{group}/{version}`, if served.
pub fn resource_list(served: &[Arc<Served>], group: &str, version: &str) -> Option<Value> {
    let mine: Vec<&Arc<Served>> = served.iter().filter(|s| s.info.group == group && s.info.version == version).collect();
    if mine.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for s in mine {
        let i = &s.info;
        resources.push(json!({
            "name": i.resource, "singularName": i.singular, "namespaced": i.namespaced, "kind": i.kind,
            "verbs": i.verbs, "shortNames": i.short_names, "categories": i.categories,
        }));
        for sub in &i.subresources {
            let (g, v, k, verbs) = subresource_kind(s, sub);
            let mut r = json!({"name": format!("{}/{sub}", i.resource), "singularName": "", "namespaced": i.namespaced, "kind": k, "verbs": verbs});
            if g != i.group || v != i.version {
                r["group"] = json!(g);
                r["version"] = json!(v);
            }
            resources.push(r);
        }
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
}

/// Aggregated discovery (`apidiscovery.k8s.io/v2` or `v2beta1`) for `/api` (`core = true`) or `/apis`.
pub fn aggregated(served: &[Arc<Served>], core: bool, api_version: &str) -> Value {
    let mut by_gv: BTreeMap<(String, String), Vec<&Arc<Served>>> = BTreeMap::new();
    for s in served {
        by_gv.entry((s.info.group.clone(), s.info.version.clone())).or_default().push(s);
    }
    let items: Vec<Value> = groups(served)
        .into_iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, versions)| {
            let vs: Vec<Value> = versions
                .iter()
                .map(|v| {
                    let rs: Vec<Value> = by_gv
                        .get(&(g.clone(), v.clone()))
                        .map(|list| {
                            list.iter()
                                .map(|s| {
                                    let i = &s.info;
                                    let subs: Vec<Value> = i
                                        .subresources
                                        .iter()
                                        .map(|sub| {
                                            let (sg, sv, sk, verbs) = subresource_kind(s, sub);
                                            json!({"subresource": sub, "responseKind": {"group": sg, "version": sv, "kind": sk}, "verbs": verbs})
                                        })
                                        .collect();
                                    let mut r = json!({
                                        "resource": i.resource,
                                        "responseKind": {"group": i.group, "version": i.version, "kind": i.kind},
                                        "scope": if i.namespaced { "Namespaced" } else { "Cluster" },
                                        "singularResource": i.singular,
                                        "verbs": i.verbs,
                                    });
                                    if !i.short_names.is_empty() {
                                        r["shortNames"] = json!(i.short_names);
                                    }
                                    if !i.categories.is_empty() {
                                        r["categories"] = json!(i.categories);
                                    }
                                    if !subs.is_empty() {
                                        r["subresources"] = json!(subs);
                                    }
                                    r
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    json!({"version": v, "resources": rs, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": vs})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_ga_before_beta_before_alpha() {
        let mut v = vec!["v1alpha1", "v2beta1", "v1", "v2", "v1beta2"];
        v.sort_by(|a, b| version_priority(b).cmp(&version_priority(a)));
        assert_eq!(v, vec!["v2", "v1", "v2beta1", "v1beta2", "v1alpha1"]);
    }
}
