//! A container's process: command/args/env/workingDir/user merged with the image config, and the
//! environment sources (values, configMap/secret keys, fieldRef, resourceFieldRef, envFrom).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::Api;
use wharf_image::ImageConfig;

/// ConfigMaps and Secrets of one namespace, fetched at most once per sync.
pub(crate) struct Sources {
    client: kube::Client,
    namespace: String,
    configmaps: BTreeMap<String, Option<ConfigMap>>,
    secrets: BTreeMap<String, Option<Secret>>,
}

impl Sources {
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        Sources { client, namespace: namespace.into(), configmaps: BTreeMap::new(), secrets: BTreeMap::new() }
    }

    pub async fn configmap(&mut self, name: &str) -> Result<Option<&ConfigMap>, String> {
        if !self.configmaps.contains_key(name) {
            let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
            let cm = api.get_opt(name).await.map_err(|e| format!("failed to get configmap {name}: {e}"))?;
            self.configmaps.insert(name.into(), cm);
        }
        Ok(self.configmaps.get(name).and_then(|c| c.as_ref()))
    }

    pub async fn secret(&mut self, name: &str) -> Result<Option<&Secret>, String> {
        if !self.secrets.contains_key(name) {
            let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
            let s = api.get_opt(name).await.map_err(|e| format!("failed to get secret {name}: {e}"))?;
            self.secrets.insert(name.into(), s);
        }
        Ok(self.secrets.get(name).and_then(|c| c.as_ref()))
    }
}

/// The data of a ConfigMap (text and binary) as bytes.
pub(crate) fn configmap_data(cm: &ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (k, v) in cm.data.iter().flatten() {
        out.insert(k.clone(), v.clone().into_bytes());
    }
    for (k, v) in cm.binary_data.iter().flatten() {
        out.insert(k.clone(), v.0.clone());
    }
    out
}

/// The data of a Secret as bytes.
pub(crate) fn secret_data(s: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (k, v) in s.data.iter().flatten() {
        out.insert(k.clone(), v.0.clone());
    }
    for (k, v) in s.string_data.iter().flatten() {
        out.insert(k.clone(), v.clone().into_bytes());
    }
    out
}

/// The value of a downward-API `fieldPath`.
pub(crate) fn field_value(pod: &Pod, path: &str, host_ip: &str) -> Result<String, String> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let label_like = |prefix: &str, map: Option<&BTreeMap<String, String>>| -> Option<String> {
        let key = path.strip_prefix(prefix)?.strip_prefix("['")?.strip_suffix("']")?;
        Some(map.and_then(|m| m.get(key)).cloned().unwrap_or_default())
    };
    if let Some(v) = label_like("metadata.labels", meta.labels.as_ref()) {
        return Ok(v);
    }
    if let Some(v) = label_like("metadata.annotations", meta.annotations.as_ref()) {
        return Ok(v);
    }
    let fmt_map = |m: Option<&BTreeMap<String, String>>| {
        m.map(|m| m.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join("\n")).unwrap_or_default()
    };
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => fmt_map(meta.labels.as_ref()),
        "metadata.annotations" => fmt_map(meta.annotations.as_ref()),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec.and_then(|s| s.service_account_name.clone()).unwrap_or_default(),
        "status.hostIP" => host_ip.to_string(),
        "status.hostIPs" => host_ip.to_string(),
        "status.podIP" | "status.podIPs" => status.and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
        other => return Err(format!("unsupported fieldPath {other:?}")),
    })
}

/// Parses a CPU quantity to millicores.
pub(crate) fn cpu_milli(q: &Quantity) -> Option<u64> {
    let s = q.0.trim();
    if let Some(m) = s.strip_suffix('m') {
        return m.parse().ok();
    }
    let v: f64 = s.parse().ok()?;
    Some((v * 1000.0).ceil() as u64)
}

/// Parses a memory/storage quantity to bytes.
pub(crate) fn bytes(q: &Quantity) -> Option<i64> {
    let s = q.0.trim();
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0), ("Mi", 1048576.0), ("Gi", 1073741824.0), ("Ti", 1099511627776.0), ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18), ("m", 1e-3),
    ];
    for (suf, mul) in SUFFIXES {
        if let Some(n) = s.strip_suffix(suf) {
            let v: f64 = n.parse().ok()?;
            return Some((v * mul).ceil() as i64);
        }
    }
    if let Some((m, e)) = s.split_once(['e', 'E']) {
        let m: f64 = m.parse().ok()?;
        let e: i32 = e.parse().ok()?;
        return Some((m * 10f64.powi(e)).ceil() as i64);
    }
    s.parse::<f64>().ok().map(|v| v.ceil() as i64)
}

/// The value of a `resourceFieldRef` for `container` (limits default to the node's budget).
pub(crate) fn resource_value(c: &Container, resource: &str, divisor: Option<&Quantity>, node_cpu_milli: u64, node_mem: u64) -> Result<String, String> {
    let res = c.resources.as_ref();
    let get = |kind: &str, name: &str| -> Option<Quantity> {
        let m = if kind == "limits" { res.and_then(|r| r.limits.as_ref()) } else { res.and_then(|r| r.requests.as_ref()) };
        m.and_then(|m| m.get(name)).cloned()
    };
    let (kind, name) = resource.split_once('.').ok_or_else(|| format!("unsupported resource {resource:?}"))?;
    let q = get(kind, name);
    if name == "cpu" {
        let milli = match q.as_ref().and_then(cpu_milli) {
            Some(v) => v,
            None if kind == "limits" => node_cpu_milli,
            None => 0,
        };
        let div = divisor.and_then(cpu_milli).filter(|d| *d > 0).unwrap_or(1000);
        return Ok(milli.div_ceil(div).to_string());
    }
    let v = match q.as_ref().and_then(bytes) {
        Some(v) => v,
        None if kind == "limits" && name == "memory" => node_mem as i64,
        None => 0,
    };
    let div = divisor.and_then(bytes).filter(|d| *d > 0).unwrap_or(1);
    Ok(((v + div - 1) / div).to_string())
}

/// Expands `$(VAR)` references (and `$$` escapes) as Kubernetes does.
pub(crate) fn expand(s: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("$$") {
            out.push('$');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("$(") {
            match t.find(')') {
                Some(end) => {
                    let name = &t[..end];
                    match env.iter().rev().find(|(k, _)| k == name) {
                        Some((_, v)) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &t[end + 1..];
                }
                None => {
                    out.push_str(tail);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

fn set(env: &mut Vec<(String, String)>, k: String, v: String) {
    if let Some(e) = env.iter_mut().find(|(n, _)| *n == k) {
        e.1 = v;
    } else {
        env.push((k, v));
    }
}

/// The container's environment: the image's, then `envFrom`, then `env` (later wins).
pub(crate) async fn environment(
    pod: &Pod,
    c: &Container,
    image: &ImageConfig,
    src: &mut Sources,
    host_ip: &str,
    node_cpu_milli: u64,
    node_mem: u64,
) -> Result<Vec<(String, String)>, String> {
    let mut env: Vec<(String, String)> = Vec::new();
    for e in image.env.iter().flatten() {
        let (k, v) = e.split_once('=').unwrap_or((e.as_str(), ""));
        set(&mut env, k.into(), v.into());
    }
    if !env.iter().any(|(k, _)| k == "HOSTNAME") {
        let host = pod.spec.as_ref().and_then(|s| s.hostname.clone()).or_else(|| pod.metadata.name.clone()).unwrap_or_default();
        set(&mut env, "HOSTNAME".into(), host);
    }
    for from in c.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            let optional = r.optional.unwrap_or(false);
            match src.configmap(&r.name).await? {
                Some(cm) => {
                    for (k, v) in configmap_data(cm) {
                        set(&mut env, format!("{prefix}{k}"), String::from_utf8_lossy(&v).into_owned());
                    }
                }
                None if optional => {}
                None => return Err(format!("configmap {:?} not found", r.name)),
            }
        }
        if let Some(r) = &from.secret_ref {
            let optional = r.optional.unwrap_or(false);
            match src.secret(&r.name).await? {
                Some(s) => {
                    for (k, v) in secret_data(s) {
                        set(&mut env, format!("{prefix}{k}"), String::from_utf8_lossy(&v).into_owned());
                    }
                }
                None if optional => {}
                None => return Err(format!("secret {:?} not found", r.name)),
            }
        }
    }
    for e in c.env.iter().flatten() {
        let value = if let Some(v) = &e.value {
            expand(v, &env)
        } else if let Some(from) = &e.value_from {
            if let Some(r) = &from.config_map_key_ref {
                let optional = r.optional.unwrap_or(false);
                match src.configmap(&r.name).await? {
                    Some(cm) => match configmap_data(cm).remove(&r.key) {
                        Some(v) => String::from_utf8_lossy(&v).into_owned(),
                        None if optional => continue,
                        None => return Err(format!("couldn't find key {} in ConfigMap {}/{}", r.key, src.namespace, r.name)),
                    },
                    None if optional => continue,
                    None => return Err(format!("configmap {:?} not found", r.name)),
                }
            } else if let Some(r) = &from.secret_key_ref {
                let optional = r.optional.unwrap_or(false);
                match src.secret(&r.name).await? {
                    Some(s) => match secret_data(s).remove(&r.key) {
                        Some(v) => String::from_utf8_lossy(&v).into_owned(),
                        None if optional => continue,
                        None => return Err(format!("couldn't find key {} in Secret {}/{}", r.key, src.namespace, r.name)),
                    },
                    None if optional => continue,
                    None => return Err(format!("secret {:?} not found", r.name)),
                }
            } else if let Some(f) = &from.field_ref {
                field_value(pod, &f.field_path, host_ip)?
            } else if let Some(r) = &from.resource_field_ref {
                let target = match r.container_name.as_deref() {
                    Some(n) if !n.is_empty() => all_containers(pod).into_iter().find(|x| x.name == n).ok_or_else(|| format!("container {n:?} not found"))?,
                    _ => c,
                };
                resource_value(target, &r.resource, r.divisor.as_ref(), node_cpu_milli, node_mem)?
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        set(&mut env, e.name.clone(), value);
    }
    Ok(env)
}

/// Every container of a pod (init containers first).
pub(crate) fn all_containers(pod: &Pod) -> Vec<&Container> {
    match &pod.spec {
        Some(s) => s.init_containers.iter().flatten().chain(s.containers.iter()).collect(),
        None => Vec::new(),
    }
}

/// argv: `command` replaces the image's Entrypoint (and drops its Cmd), `args` replaces Cmd.
pub(crate) fn argv(c: &Container, image: &ImageConfig, env: &[(String, String)]) -> Vec<String> {
    let cmd = c.command.clone().filter(|v| !v.is_empty());
    let args = c.args.clone().filter(|v| !v.is_empty());
    let mut out: Vec<String> = match (cmd, args) {
        (Some(cmd), args) => cmd.into_iter().chain(args.unwrap_or_default()).collect(),
        (None, Some(args)) => image.entrypoint.clone().unwrap_or_default().into_iter().chain(args).collect(),
        (None, None) => image.entrypoint.clone().unwrap_or_default().into_iter().chain(image.cmd.clone().unwrap_or_default()).collect(),
    };
    if c.command.as_ref().is_some_and(|v| !v.is_empty()) || c.args.as_ref().is_some_and(|v| !v.is_empty()) {
        out = out.iter().map(|a| expand(a, env)).collect();
    }
    out
}

/// The numeric user and group from the image's `User` (`uid[:gid]`; names are not resolved).
pub(crate) fn image_user(image: &ImageConfig) -> (Option<u32>, Option<u32>) {
    let Some(u) = image.user.as_deref().filter(|u| !u.is_empty()) else { return (None, None) };
    let (user, group) = u.split_once(':').map(|(a, b)| (a, Some(b))).unwrap_or((u, None));
    let uid = if user == "root" { Some(0) } else { user.parse().ok() };
    (uid, group.and_then(|g| g.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_should_replace_entrypoint_and_args_replace_cmd() {
        let image = ImageConfig { entrypoint: Some(vec!["/ep".into()]), cmd: Some(vec!["c1".into()]), ..Default::default() };
        let mut c = Container { name: "a".into(), ..Default::default() };
        assert_eq!(argv(&c, &image, &[]), vec!["/ep", "c1"]);
        c.args = Some(vec!["x".into()]);
        assert_eq!(argv(&c, &image, &[]), vec!["/ep", "x"]);
        c.command = Some(vec!["/bin/sh".into()]);
        c.args = None;
        assert_eq!(argv(&c, &image, &[]), vec!["/bin/sh"]);
    }

    #[test]
    fn dollar_references_should_expand_known_variables_only() {
        let env = vec![("A".to_string(), "1".to_string())];
        assert_eq!(expand("$(A)-$(B)-$$(A)", &env), "1-$(B)-$(A)");
    }

    #[test]
    fn quantities_should_parse_like_kubernetes() {
        assert_eq!(bytes(&Quantity("32Mi".into())), Some(32 << 20));
        assert_eq!(bytes(&Quantity("1G".into())), Some(1_000_000_000));
        assert_eq!(cpu_milli(&Quantity("250m".into())), Some(250));
        assert_eq!(cpu_milli(&Quantity("1.5".into())), Some(1500));
    }
}
