#![allow(clippy::unwrap_used)]
use super::*;
use serde_json::json;

fn svc(v: serde_json::Value) -> Service {
    serde_json::from_value(v).unwrap()
}

fn cluster_ip(ns: &str, name: &str, ip: &str) -> Service {
    svc(json!({"metadata": {"name": name, "namespace": ns}, "spec": {"clusterIP": ip, "clusterIPs": [ip],
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}, {"port": 9000}]}}))
}

fn headless(ns: &str, name: &str) -> Service {
    svc(json!({"metadata": {"name": name, "namespace": ns}, "spec": {"clusterIP": "None", "ports": [{"name": "web", "port": 80}]}}))
}

fn slice(ns: &str, name: &str, svc: &str, eps: serde_json::Value) -> EndpointSlice {
    serde_json::from_value(json!({"metadata": {"name": name, "namespace": ns, "labels": {SERVICE_NAME_LABEL: svc}},
        "addressType": "IPv4", "endpoints": eps, "ports": [{"name": "web", "port": 8080, "protocol": "TCP"}]}))
    .unwrap()
}

fn pod(ns: &str, name: &str, ip: &str) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name, "namespace": ns}, "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}})).unwrap()
}

fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn data(r: &Resolution) -> Vec<String> {
    match r {
        Resolution::Answer { answers, .. } => {
            let mut v: Vec<String> = answers.iter().map(|a| a.data().to_string()).collect();
            v.sort();
            v
        }
        other => panic!("expected an answer, got {other:?}"),
    }
}

fn additional(r: &Resolution) -> Vec<String> {
    match r {
        Resolution::Answer { additionals, .. } => additionals.iter().map(|a| format!("{} {}", a.name(), a.data())).collect(),
        other => panic!("expected an answer, got {other:?}"),
    }
}

fn nodata(r: &Resolution) -> bool {
    matches!(r, Resolution::Answer { answers, .. } if answers.is_empty())
}

fn zone() -> Records {
    let mut r = Records::new("cluster.local", 5);
    r.apply_service(&cluster_ip("default", "web", "10.100.3.4"));
    r.apply_service(&headless("db", "pg"));
    r.apply_slice(&slice(
        "db",
        "pg-abc",
        "pg",
        json!([
            {"addresses": ["172.31.1.10"], "hostname": "pg-0", "conditions": {"ready": true}},
            {"addresses": ["172.31.1.11"], "conditions": {"ready": true}},
            {"addresses": ["172.31.1.12"], "hostname": "pg-2", "conditions": {"ready": false}},
            {"addresses": ["172.31.1.13"]},
        ]),
    ));
    r
}

#[test]
fn cluster_ip_service_resolves_to_its_cluster_ip_with_the_configured_ttl() {
    let r = zone();
    let res = r.resolve(&n("web.default.svc.cluster.local."), RecordType::A);
    assert_eq!(data(&res), vec!["10.100.3.4"]);
    let Resolution::Answer { answers, .. } = res else { unreachable!() };
    assert_eq!(answers[0].ttl(), 5);
    assert_eq!(answers[0].name(), &n("web.default.svc.cluster.local."));
}

#[test]
fn lookups_ignore_case_and_answer_with_the_asked_name() {
    let r = zone();
    let Resolution::Answer { answers, .. } = r.resolve(&n("WEB.Default.svc.Cluster.Local."), RecordType::A) else { panic!() };
    assert_eq!(answers[0].name().to_ascii(), "WEB.Default.svc.Cluster.Local.");
}

#[test]
fn aaaa_for_an_ipv4_only_service_is_nodata_not_nxdomain() {
    let r = zone();
    assert!(nodata(&r.resolve(&n("web.default.svc.cluster.local."), RecordType::AAAA)));
    assert!(nodata(&r.resolve(&n("web.default.svc.cluster.local."), RecordType::TXT)));
}

#[test]
fn unknown_names_in_the_zone_are_nxdomain_and_search_path_expansions_fail_fast() {
    let r = zone();
    for q in [
        "nope.default.svc.cluster.local.",
        "google.com.default.svc.cluster.local.",
        "google.com.svc.cluster.local.",
        "google.com.cluster.local.",
        "web.other.svc.cluster.local.",
        "x.y.z.w.v.u.svc.cluster.local.",
        "other.svc.cluster.local.",
    ] {
        assert_eq!(r.resolve(&n(q), RecordType::A), Resolution::NxDomain, "{q}");
    }
}

#[test]
fn empty_non_terminals_answer_nodata() {
    let r = zone();
    for q in ["cluster.local.", "svc.cluster.local.", "default.svc.cluster.local.", "pod.cluster.local.", "_tcp.web.default.svc.cluster.local."] {
        assert!(nodata(&r.resolve(&n(q), RecordType::A)), "{q}");
    }
    assert_eq!(r.resolve(&n("_sctp.web.default.svc.cluster.local."), RecordType::A), Resolution::NxDomain);
}

#[test]
fn the_zone_apex_answers_soa() {
    let r = zone();
    let res = r.resolve(&n("cluster.local."), RecordType::SOA);
    let Resolution::Answer { answers, .. } = res else { panic!() };
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].record_type(), RecordType::SOA);
}

#[test]
fn names_outside_the_zone_are_forwarded() {
    let r = zone();
    assert_eq!(r.resolve(&n("example.com."), RecordType::A), Resolution::Forward);
    assert_eq!(r.resolve(&n("cluster.local.example.com."), RecordType::A), Resolution::Forward);
    assert_eq!(r.resolve(&n("8.8.8.8.in-addr.arpa."), RecordType::PTR), Resolution::Forward);
}

#[test]
fn named_ports_of_a_cluster_ip_service_get_srv_records_pointing_at_the_service() {
    let r = zone();
    let res = r.resolve(&n("_http._tcp.web.default.svc.cluster.local."), RecordType::SRV);
    assert_eq!(data(&res), vec!["0 100 80 web.default.svc.cluster.local."]);
    assert_eq!(additional(&res), vec!["web.default.svc.cluster.local. 10.100.3.4"]);
    let udp = r.resolve(&n("_dns._udp.web.default.svc.cluster.local."), RecordType::SRV);
    assert_eq!(data(&udp), vec!["0 100 53 web.default.svc.cluster.local."]);
    assert_eq!(r.resolve(&n("_http._udp.web.default.svc.cluster.local."), RecordType::SRV), Resolution::NxDomain);
    assert!(nodata(&r.resolve(&n("_http._tcp.web.default.svc.cluster.local."), RecordType::A)));
}

#[test]
fn srv_at_the_service_name_lists_every_named_port() {
    let r = zone();
    let res = r.resolve(&n("web.default.svc.cluster.local."), RecordType::SRV);
    assert_eq!(data(&res), vec!["0 50 53 web.default.svc.cluster.local.", "0 50 80 web.default.svc.cluster.local."]);
}

#[test]
fn headless_service_resolves_to_ready_endpoints_only() {
    let r = zone();
    assert_eq!(data(&r.resolve(&n("pg.db.svc.cluster.local."), RecordType::A)), vec!["172.31.1.10", "172.31.1.11", "172.31.1.13"]);
}

#[test]
fn headless_endpoints_are_named_by_hostname_or_dashed_address() {
    let r = zone();
    assert_eq!(data(&r.resolve(&n("pg-0.pg.db.svc.cluster.local."), RecordType::A)), vec!["172.31.1.10"]);
    assert_eq!(data(&r.resolve(&n("172-31-1-11.pg.db.svc.cluster.local."), RecordType::A)), vec!["172.31.1.11"]);
    // Not ready: no name; a hostname replaces the dashed form.
    assert_eq!(r.resolve(&n("pg-2.pg.db.svc.cluster.local."), RecordType::A), Resolution::NxDomain);
    assert_eq!(r.resolve(&n("172-31-1-10.pg.db.svc.cluster.local."), RecordType::A), Resolution::NxDomain);
    assert!(nodata(&r.resolve(&n("pg-0.pg.db.svc.cluster.local."), RecordType::AAAA)));
    // Cluster IP services have no per-endpoint names.
    assert_eq!(r.resolve(&n("pg-0.web.default.svc.cluster.local."), RecordType::A), Resolution::NxDomain);
}

#[test]
fn headless_srv_has_one_target_per_ready_endpoint_with_its_address_in_additional() {
    let r = zone();
    let res = r.resolve(&n("_web._tcp.pg.db.svc.cluster.local."), RecordType::SRV);
    assert_eq!(
        data(&res),
        vec!["0 33 8080 172-31-1-11.pg.db.svc.cluster.local.", "0 33 8080 172-31-1-13.pg.db.svc.cluster.local.", "0 33 8080 pg-0.pg.db.svc.cluster.local."]
    );
    let mut add = additional(&res);
    add.sort();
    assert_eq!(add, vec!["172-31-1-11.pg.db.svc.cluster.local. 172.31.1.11", "172-31-1-13.pg.db.svc.cluster.local. 172.31.1.13", "pg-0.pg.db.svc.cluster.local. 172.31.1.10"]);
}

#[test]
fn publish_not_ready_addresses_includes_unready_endpoints() {
    let mut r = zone();
    let mut s = headless("db", "pg");
    s.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
    r.apply_service(&s);
    assert_eq!(data(&r.resolve(&n("pg-2.pg.db.svc.cluster.local."), RecordType::A)), vec!["172.31.1.12"]);
}

#[test]
fn ptr_records_exist_for_cluster_ips_and_headless_endpoints() {
    let r = zone();
    assert_eq!(data(&r.resolve(&n("4.3.100.10.in-addr.arpa."), RecordType::PTR)), vec!["web.default.svc.cluster.local."]);
    assert_eq!(data(&r.resolve(&n("10.1.31.172.in-addr.arpa."), RecordType::PTR)), vec!["pg-0.pg.db.svc.cluster.local."]);
    assert_eq!(data(&r.resolve(&n("11.1.31.172.in-addr.arpa."), RecordType::PTR)), vec!["172-31-1-11.pg.db.svc.cluster.local."]);
    // The unready endpoint has no reverse name here.
    assert_eq!(r.resolve(&n("12.1.31.172.in-addr.arpa."), RecordType::PTR), Resolution::Forward);
}

#[test]
fn ipv6_services_answer_aaaa_and_ip6_arpa_ptr() {
    let mut r = Records::new("cluster.local", 5);
    r.apply_service(&svc(json!({"metadata": {"name": "v6", "namespace": "default"}, "spec": {"clusterIP": "fd00:10:96::a", "clusterIPs": ["fd00:10:96::a"]}})));
    assert_eq!(data(&r.resolve(&n("v6.default.svc.cluster.local."), RecordType::AAAA)), vec!["fd00:10:96::a"]);
    assert!(nodata(&r.resolve(&n("v6.default.svc.cluster.local."), RecordType::A)));
    let rev = "a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.";
    assert_eq!(data(&r.resolve(&n(rev), RecordType::PTR)), vec!["v6.default.svc.cluster.local."]);
}

#[test]
fn external_name_service_is_a_cname_for_every_type() {
    let mut r = zone();
    r.apply_service(&svc(json!({"metadata": {"name": "ext", "namespace": "default"}, "spec": {"type": "ExternalName", "externalName": "db.example.com."}})));
    for t in [RecordType::A, RecordType::AAAA, RecordType::CNAME, RecordType::TXT] {
        assert_eq!(data(&r.resolve(&n("ext.default.svc.cluster.local."), t)), vec!["db.example.com."], "{t}");
    }
}

#[test]
fn pod_records_answer_only_for_pods_that_exist_in_that_namespace() {
    let mut r = zone();
    r.apply_pod(&pod("default", "p1", "172.31.2.7"));
    assert_eq!(data(&r.resolve(&n("172-31-2-7.default.pod.cluster.local."), RecordType::A)), vec!["172.31.2.7"]);
    assert!(nodata(&r.resolve(&n("172-31-2-7.default.pod.cluster.local."), RecordType::AAAA)));
    assert_eq!(r.resolve(&n("172-31-2-7.other.pod.cluster.local."), RecordType::A), Resolution::NxDomain);
    assert_eq!(r.resolve(&n("172-31-2-8.default.pod.cluster.local."), RecordType::A), Resolution::NxDomain);
    assert_eq!(r.resolve(&n("not-an-ip.default.pod.cluster.local."), RecordType::A), Resolution::NxDomain);
    r.delete_pod("default", "p1");
    assert_eq!(r.resolve(&n("172-31-2-7.default.pod.cluster.local."), RecordType::A), Resolution::NxDomain);
}

#[test]
fn deleting_a_service_removes_its_names_and_reverse_names() {
    let mut r = zone();
    r.delete_service("default", "web");
    assert_eq!(r.resolve(&n("web.default.svc.cluster.local."), RecordType::A), Resolution::NxDomain);
    assert_eq!(r.resolve(&n("4.3.100.10.in-addr.arpa."), RecordType::PTR), Resolution::Forward);
    assert_eq!(r.resolve(&n("default.svc.cluster.local."), RecordType::A), Resolution::NxDomain);
}

#[test]
fn endpoint_slice_changes_replace_the_previous_endpoints() {
    let mut r = zone();
    r.apply_slice(&slice("db", "pg-abc", "pg", json!([{"addresses": ["172.31.1.20"], "hostname": "pg-0"}])));
    assert_eq!(data(&r.resolve(&n("pg.db.svc.cluster.local."), RecordType::A)), vec!["172.31.1.20"]);
    assert_eq!(r.resolve(&n("10.1.31.172.in-addr.arpa."), RecordType::PTR), Resolution::Forward);
    r.delete_slice("db", "pg-abc");
    assert!(nodata(&r.resolve(&n("pg.db.svc.cluster.local."), RecordType::A)));
}

#[test]
fn endpoints_split_over_several_slices_are_merged_without_duplicates() {
    let mut r = zone();
    r.apply_slice(&slice("db", "pg-def", "pg", json!([{"addresses": ["172.31.1.13"]}, {"addresses": ["172.31.1.14"]}])));
    assert_eq!(data(&r.resolve(&n("pg.db.svc.cluster.local."), RecordType::A)), vec!["172.31.1.10", "172.31.1.11", "172.31.1.13", "172.31.1.14"]);
}

#[test]
fn a_relist_drops_objects_that_are_gone() {
    let mut r = zone();
    r.replace_services(&[headless("db", "pg")]);
    assert_eq!(r.resolve(&n("web.default.svc.cluster.local."), RecordType::A), Resolution::NxDomain);
    r.replace_slices(&[]);
    assert!(nodata(&r.resolve(&n("pg.db.svc.cluster.local."), RecordType::A)));
    r.apply_pod(&pod("default", "p1", "172.31.2.7"));
    r.replace_pods(&[]);
    assert_eq!(r.resolve(&n("172-31-2-7.default.pod.cluster.local."), RecordType::A), Resolution::NxDomain);
}

#[test]
fn reverse_names_parse_for_both_families() {
    assert_eq!(reverse_ip("4.3.2.1.in-addr.arpa"), Some("1.2.3.4".parse().unwrap()));
    assert_eq!(reverse_ip("3.2.1.in-addr.arpa"), None);
    assert_eq!(reverse_ip("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"), Some("2001:db8::1".parse().unwrap()));
    assert_eq!(dashed(&"fd00::1".parse().unwrap()), "fd00--1");
    assert_eq!(undashed("fd00--1"), Some("fd00::1".parse().unwrap()));
}
