//! The files the kubelet manages inside every container: `/etc/hosts` (localhost entries, the
//! pod's own name on its IP, `hostAliases`), `/etc/hostname` and `/etc/resolv.conf` (cluster DNS
//! per `dnsPolicy` — `ClusterFirst`, `ClusterFirstWithHostNet`, `Default`, `None` — merged with
//! `dnsConfig` as the kubelet does). They are written once per pod under its directory and
//! bind-mounted into each container; a rewrite keeps the same inode so mounts see it.

use std::path::Path;

use k8s_openapi::api::core::v1::Pod;
use wharf_container::spec::Mount;

/// The cluster's DNS settings the agent is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSettings {
    /// Cluster DNS server addresses (EKS: the `kube-dns` Service IP, 10.100.0.10).
    pub cluster_dns: Vec<String>,
    /// Cluster domain (`cluster.local`).
    pub cluster_domain: String,
    /// The node's resolver configuration (`dnsPolicy: Default`).
    pub host_resolv_conf: String,
}

/// The kubelet's limits (Kubernetes' `MaxDNSNameservers` and `MaxDNSSearchPaths`).
const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCHES: usize = 32;

/// `/etc/hosts` of a pod.
pub(crate) fn hosts(pod: &Pod, pod_ip: Option<&str>, cluster_domain: &str) -> String {
    let mut s = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    let spec = pod.spec.clone().unwrap_or_default();
    let hostname = hostname(pod);
    if let Some(ip) = pod_ip.filter(|ip| !ip.is_empty()) {
        match spec.subdomain.as_deref().filter(|s| !s.is_empty()) {
            Some(sub) => {
                let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
                s.push_str(&format!("{ip}\t{hostname}.{sub}.{ns}.svc.{cluster_domain}\t{hostname}\n"));
            }
            None => s.push_str(&format!("{ip}\t{hostname}\n")),
        }
    }
    let aliases = spec.host_aliases.unwrap_or_default();
    if !aliases.is_empty() {
        s.push_str("\n# Entries added by HostAliases.\n");
        for a in aliases {
            let names = a.hostnames.unwrap_or_default();
            if names.is_empty() {
                continue;
            }
            s.push_str(&format!("{}\t{}\n", a.ip, names.join("\t")));
        }
    }
    s
}

/// The pod's hostname: `spec.hostname` or its name, at most 63 characters.
pub(crate) fn hostname(pod: &Pod) -> String {
    let spec = pod.spec.as_ref();
    let h = spec.and_then(|s| s.hostname.clone()).filter(|h| !h.is_empty()).or_else(|| pod.metadata.name.clone()).unwrap_or_default();
    h.chars().take(63).collect::<String>().trim_end_matches(['-', '.']).to_string()
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Resolv {
    nameservers: Vec<String>,
    searches: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

fn parse_resolv(text: &str) -> Resolv {
    let mut r = Resolv::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut f = line.split_whitespace();
        match f.next() {
            Some("nameserver") => r.nameservers.extend(f.next().map(str::to_string)),
            // The last `search` (or `domain`) line wins, as in glibc.
            Some("search") | Some("domain") => r.searches = f.map(str::to_string).collect(),
            Some("options") => {
                for o in f {
                    set_option(&mut r.options, o);
                }
            }
            _ => {}
        }
    }
    r
}

fn set_option(opts: &mut Vec<(String, Option<String>)>, o: &str) {
    let (name, value) = match o.split_once(':') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (o.to_string(), None),
    };
    match opts.iter_mut().find(|(n, _)| *n == name) {
        Some(x) => x.1 = value,
        None => opts.push((name, value)),
    }
}

/// `/etc/resolv.conf` of a pod.
pub(crate) fn resolv_conf(pod: &Pod, dns: &DnsSettings) -> String {
    let spec = pod.spec.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let host_network = spec.host_network.unwrap_or(false);
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let host = parse_resolv(&dns.host_resolv_conf);
    let cluster = |r: &mut Resolv| {
        let d = &dns.cluster_domain;
        r.nameservers = dns.cluster_dns.clone();
        let mut searches = vec![format!("{ns}.svc.{d}"), format!("svc.{d}"), d.clone()];
        searches.extend(host.searches.iter().cloned());
        r.searches = searches;
        r.options = vec![("ndots".into(), Some("5".into()))];
    };
    let mut r = Resolv::default();
    match policy {
        "None" => {}
        "ClusterFirstWithHostNet" => cluster(&mut r),
        "Default" => r = parse_resolv(&dns.host_resolv_conf),
        // ClusterFirst (and anything unknown): a host-network pod falls back to Default.
        _ if host_network => r = parse_resolv(&dns.host_resolv_conf),
        _ => cluster(&mut r),
    }
    if policy == "ClusterFirst" && dns.cluster_dns.is_empty() {
        // No cluster DNS configured: the kubelet uses the node's resolver.
        r = parse_resolv(&dns.host_resolv_conf);
    }
    if let Some(cfg) = spec.dns_config.as_ref() {
        for n in cfg.nameservers.iter().flatten() {
            if !r.nameservers.contains(n) {
                r.nameservers.push(n.clone());
            }
        }
        for s in cfg.searches.iter().flatten() {
            if !r.searches.contains(s) {
                r.searches.push(s.clone());
            }
        }
        for o in cfg.options.iter().flatten() {
            let mut opt = o.name.clone().unwrap_or_default();
            if opt.is_empty() {
                continue;
            }
            if let Some(v) = &o.value {
                opt = format!("{opt}:{v}");
            }
            set_option(&mut r.options, &opt);
        }
    }
    r.nameservers.truncate(MAX_NAMESERVERS);
    r.searches.truncate(MAX_SEARCHES);
    let mut s = String::new();
    if !r.searches.is_empty() {
        s.push_str(&format!("search {}\n", r.searches.join(" ")));
    }
    for n in &r.nameservers {
        s.push_str(&format!("nameserver {n}\n"));
    }
    if !r.options.is_empty() {
        let opts: Vec<String> = r.options.iter().map(|(n, v)| v.as_ref().map(|v| format!("{n}:{v}")).unwrap_or_else(|| n.clone())).collect();
        s.push_str(&format!("options {}\n", opts.join(" ")));
    }
    s
}

/// Writes `text` to `path`, in place when it exists (bind mounts keep pointing at it).
fn write_in_place(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text)
}

/// Writes the pod's managed files under `pod_dir/etc` and returns the mounts placing them in a
/// container (`/etc/hosts` stays the image's for a host-network pod, as the kubelet does).
pub(crate) fn prepare(pod: &Pod, pod_dir: &Path, pod_ip: Option<&str>, dns: &DnsSettings) -> std::io::Result<Vec<Mount>> {
    let dir = pod_dir.join("etc");
    std::fs::create_dir_all(&dir)?;
    let host_network = pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false);
    let mut mounts = Vec::new();
    let mut file = |name: &str, text: String, dest: &str| -> std::io::Result<()> {
        let p = dir.join(name);
        write_in_place(&p, &text)?;
        mounts.push(Mount::bind(p.to_string_lossy().into_owned(), dest, false));
        Ok(())
    };
    if !host_network {
        file("hosts", hosts(pod, pod_ip, &dns.cluster_domain), "/etc/hosts")?;
    }
    file("hostname", format!("{}\n", hostname(pod)), "/etc/hostname")?;
    file("resolv.conf", resolv_conf(pod, dns), "/etc/resolv.conf")?;
    Ok(mounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "web-0", "namespace": "shop"}, "spec": spec})).unwrap()
    }

    fn dns() -> DnsSettings {
        DnsSettings {
            cluster_dns: vec!["10.100.0.10".into()],
            cluster_domain: "cluster.local".into(),
            host_resolv_conf: "# host\nnameserver 192.0.2.53\nsearch ec2.internal\noptions timeout:2\n".into(),
        }
    }

    #[test]
    fn cluster_first_points_at_cluster_dns_with_namespace_search_paths() {
        let r = resolv_conf(&pod(serde_json::json!({"containers": []})), &dns());
        assert_eq!(r, "search shop.svc.cluster.local svc.cluster.local cluster.local ec2.internal\nnameserver 10.100.0.10\noptions ndots:5\n");
    }

    #[test]
    fn default_policy_uses_the_node_resolver() {
        let r = resolv_conf(&pod(serde_json::json!({"containers": [], "dnsPolicy": "Default"})), &dns());
        assert_eq!(r, "search ec2.internal\nnameserver 192.0.2.53\noptions timeout:2\n");
    }

    #[test]
    fn host_network_cluster_first_falls_back_to_default_but_with_host_net_does_not() {
        let r = resolv_conf(&pod(serde_json::json!({"containers": [], "hostNetwork": true})), &dns());
        assert!(r.contains("nameserver 192.0.2.53"), "{r}");
        let r = resolv_conf(&pod(serde_json::json!({"containers": [], "hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet"})), &dns());
        assert!(r.contains("nameserver 10.100.0.10"), "{r}");
    }

    #[test]
    fn none_policy_takes_only_dns_config_and_options_override_by_name() {
        let p = pod(serde_json::json!({"containers": [], "dnsPolicy": "None", "dnsConfig": {
            "nameservers": ["1.1.1.1"], "searches": ["a.example"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}));
        assert_eq!(resolv_conf(&p, &dns()), "search a.example\nnameserver 1.1.1.1\noptions ndots:2 edns0\n");
        let p = pod(serde_json::json!({"containers": [], "dnsConfig": {"nameservers": ["1.1.1.1"], "options": [{"name": "ndots", "value": "1"}]}}));
        let r = resolv_conf(&p, &dns());
        assert!(r.contains("nameserver 10.100.0.10\nnameserver 1.1.1.1\n"), "{r}");
        assert!(r.ends_with("options ndots:1\n"), "{r}");
    }

    #[test]
    fn hosts_names_the_pod_on_its_ip_and_adds_host_aliases() {
        let p = pod(serde_json::json!({"containers": [], "hostname": "db", "subdomain": "cluster",
            "hostAliases": [{"ip": "10.0.0.9", "hostnames": ["foo.local", "bar.local"]}]}));
        let h = hosts(&p, Some("172.31.0.20"), "cluster.local");
        assert!(h.starts_with("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"), "{h}");
        assert!(h.contains("172.31.0.20\tdb.cluster.shop.svc.cluster.local\tdb\n"), "{h}");
        assert!(h.ends_with("# Entries added by HostAliases.\n10.0.0.9\tfoo.local\tbar.local\n"), "{h}");
        let plain = hosts(&pod(serde_json::json!({"containers": []})), Some("172.31.0.21"), "cluster.local");
        assert!(plain.contains("172.31.0.21\tweb-0\n"), "{plain}");
    }

    #[test]
    fn prepare_writes_the_files_and_mounts_each() {
        let dir = tempfile::tempdir().unwrap();
        let p = pod(serde_json::json!({"containers": []}));
        let m = prepare(&p, dir.path(), None, &dns()).unwrap();
        let dests: Vec<&str> = m.iter().map(|m| m.destination.as_str()).collect();
        assert_eq!(dests, ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"]);
        assert_eq!(std::fs::read_to_string(dir.path().join("etc/hostname")).unwrap(), "web-0\n");
    }
}
