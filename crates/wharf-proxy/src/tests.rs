use std::net::Ipv4Addr;

use crate::model::*;
use crate::proxier::Proxier;
use crate::render::*;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn cfg() -> RenderConfig {
    let mut c = RenderConfig::new("wharf-unit", "node-a", vec![ip("172.31.0.10")]);
    c.cluster_cidr = Some((ip("172.31.0.0"), 16));
    c
}

fn svc(name: &str, cip: &str) -> Service {
    Service {
        key: ServiceKey::new("default", name),
        cluster_ips: vec![ip(cip)],
        external_ips: vec![],
        ports: vec![ServicePort {
            name: "http".into(),
            protocol: Protocol::Tcp,
            port: 80,
            node_port: None,
        }],
        affinity_timeout: None,
        external_local: false,
        internal_local: false,
    }
}

fn ep(addr: &str, node: &str) -> Endpoint {
    Endpoint {
        ip: ip(addr),
        node_name: Some(node.into()),
        ready: true,
        serving: true,
        terminating: false,
        ports: vec![("http".into(), Protocol::Tcp, 8080)],
    }
}

/// `nft -c` needs CAP_NET_ADMIN and the nft binary; CI runs as root with Debian `nftables`.
fn nft_check(script: &str) {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("not root: skipping nft -c");
        return;
    }
    if let Err(e) = crate::nft::check(None, script) {
        panic!("nft -c rejected the script: {e}\n{script}");
    }
}

fn dnat_targets(f: &Fragment) -> Vec<String> {
    let mut v: Vec<String> = f
        .chains
        .values()
        .flatten()
        .filter_map(|r| r.split_once("dnat to ").map(|(_, t)| t.to_string()))
        .collect();
    v.sort();
    v
}

fn everything() -> Vec<(Service, Vec<Endpoint>)> {
    let plain = svc("plain", "10.100.0.20");
    let mut np = svc("np", "10.100.0.21");
    np.ports = vec![
        ServicePort {
            name: "http".into(),
            protocol: Protocol::Tcp,
            port: 80,
            node_port: Some(30080),
        },
        ServicePort {
            name: "dns".into(),
            protocol: Protocol::Udp,
            port: 53,
            node_port: Some(30053),
        },
    ];
    let mut np_eps = vec![ep("172.31.1.5", "node-a"), ep("172.31.17.5", "node-b")];
    for e in &mut np_eps {
        e.ports.push(("dns".into(), Protocol::Udp, 5353));
    }
    let mut aff = svc("sticky", "10.100.0.22");
    aff.affinity_timeout = Some(10800);
    let mut lb = svc("lb", "10.100.0.23");
    lb.external_ips = vec![ip("172.31.0.10")];
    lb.ports[0].node_port = Some(31000);
    lb.external_local = true;
    lb.internal_local = true;
    let mut sctp = svc("sctp", "10.100.0.24");
    sctp.ports = vec![ServicePort {
        name: String::new(),
        protocol: Protocol::Sctp,
        port: 9999,
        node_port: None,
    }];
    let sctp_ep = Endpoint {
        ports: vec![(String::new(), Protocol::Sctp, 9999)],
        ..ep("172.31.1.9", "node-a")
    };
    let empty = svc("empty", "10.100.0.25");
    let mut headless = svc("headless", "10.100.0.26");
    headless.cluster_ips.clear();
    vec![
        (
            plain,
            vec![
                ep("172.31.1.2", "node-a"),
                ep("172.31.17.2", "node-b"),
                ep("172.31.33.2", "node-c"),
            ],
        ),
        (np, np_eps),
        (
            aff,
            vec![ep("172.31.1.3", "node-a"), ep("172.31.17.3", "node-b")],
        ),
        (lb, vec![ep("172.31.17.4", "node-b")]),
        (sctp, vec![sctp_ep]),
        (empty, vec![]),
        (headless, vec![ep("172.31.1.7", "node-a")]),
    ]
}

#[test]
fn full_ruleset_with_every_service_shape_is_accepted_by_nft() {
    let c = cfg();
    let frags: Vec<Fragment> = everything()
        .iter()
        .map(|(s, e)| render_service(&c, s, e))
        .collect();
    let script = full_script(&c, frags.iter());
    assert!(
        script.contains("numgen random mod 3 0 meta l4proto tcp dnat to 172.31.1.2:8080"),
        "{script}"
    );
    nft_check(&script);
}

#[test]
fn headless_service_gets_no_rules() {
    let mut s = svc("h", "10.100.0.1");
    s.cluster_ips.clear();
    assert_eq!(
        render_service(&cfg(), &s, &[ep("172.31.1.2", "node-a")]),
        Fragment::default()
    );
}

#[test]
fn service_without_endpoints_rejects_on_every_address() {
    let mut s = svc("e", "10.100.0.1");
    s.ports[0].node_port = Some(30001);
    let f = render_service(&cfg(), &s, &[]);
    assert!(f.chains.is_empty());
    assert_eq!(
        f.elements
            .get(&(NO_ENDPOINT_SERVICES, "10.100.0.1 . tcp . 80".into()))
            .map(String::as_str),
        Some("goto reject-chain")
    );
    assert_eq!(
        f.elements
            .get(&(NO_ENDPOINT_NODEPORTS, "tcp . 30001".into()))
            .map(String::as_str),
        Some("goto reject-chain")
    );
    assert!(!f
        .elements
        .keys()
        .any(|(m, _)| *m == SERVICE_IPS || *m == SERVICE_NODEPORTS));
}

#[test]
fn only_ready_endpoints_receive_traffic_with_terminating_fallback() {
    let s = svc("r", "10.100.0.1");
    let mut unready = ep("172.31.1.3", "node-a");
    unready.ready = false;
    unready.serving = false;
    let mut terminating = ep("172.31.1.4", "node-a");
    terminating.ready = false;
    terminating.terminating = true;
    let f = render_service(
        &cfg(),
        &s,
        &[
            ep("172.31.1.2", "node-a"),
            unready.clone(),
            terminating.clone(),
        ],
    );
    assert_eq!(dnat_targets(&f), vec!["172.31.1.2:8080"]);
    // No ready endpoint left: serving-but-terminating ones are used, never unready ones.
    let f = render_service(&cfg(), &s, &[unready.clone(), terminating]);
    assert_eq!(dnat_targets(&f), vec!["172.31.1.4:8080"]);
    let f = render_service(&cfg(), &s, &[unready]);
    assert!(f
        .elements
        .contains_key(&(NO_ENDPOINT_SERVICES, "10.100.0.1 . tcp . 80".into())));
}

#[test]
fn endpoint_ports_match_service_ports_by_name_and_protocol() {
    let s = svc("p", "10.100.0.1");
    let mut wrong = ep("172.31.1.2", "node-a");
    wrong.ports = vec![
        ("metrics".into(), Protocol::Tcp, 9090),
        ("http".into(), Protocol::Udp, 8080),
    ];
    let f = render_service(&cfg(), &s, &[wrong, ep("172.31.1.3", "node-a")]);
    assert_eq!(dnat_targets(&f), vec!["172.31.1.3:8080"]);
}

#[test]
fn internal_traffic_policy_local_uses_only_local_endpoints_and_drops_without_them() {
    let mut s = svc("itp", "10.100.0.1");
    s.internal_local = true;
    let f = render_service(
        &cfg(),
        &s,
        &[ep("172.31.1.2", "node-a"), ep("172.31.17.2", "node-b")],
    );
    assert_eq!(dnat_targets(&f), vec!["172.31.1.2:8080"]);
    let f = render_service(&cfg(), &s, &[ep("172.31.17.2", "node-b")]);
    assert_eq!(
        f.elements
            .get(&(NO_ENDPOINT_SERVICES, "10.100.0.1 . tcp . 80".into()))
            .map(String::as_str),
        Some("drop")
    );
    assert!(f.chains.is_empty() || !f.elements.keys().any(|(m, _)| *m == SERVICE_IPS));
}

#[test]
fn external_traffic_policy_local_sends_node_port_traffic_to_local_endpoints_only() {
    let mut s = svc("etp", "10.100.0.1");
    s.ports[0].node_port = Some(30002);
    s.external_local = true;
    let f = render_service(
        &cfg(),
        &s,
        &[ep("172.31.1.2", "node-a"), ep("172.31.17.2", "node-b")],
    );
    let verdict = f
        .elements
        .get(&(SERVICE_NODEPORTS, "tcp . 30002".into()))
        .unwrap();
    let ext = f.chains.get(verdict.trim_start_matches("goto ")).unwrap();
    let last = ext.last().unwrap();
    assert_eq!(last, "meta l4proto tcp dnat to 172.31.1.2:8080", "{ext:?}");
    // External traffic is not masqueraded (source IP preserved) except from the node itself.
    assert!(!ext.iter().any(|r| r == "jump mark-for-masquerade"));
    // Cluster IP still balances over every endpoint.
    let cluster = f
        .chains
        .get(
            f.elements
                .get(&(SERVICE_IPS, "10.100.0.1 . tcp . 80".into()))
                .unwrap()
                .trim_start_matches("goto "),
        )
        .unwrap();
    assert!(
        cluster[cluster.len() - 2].starts_with("numgen random mod 2 0 meta l4proto tcp dnat to"),
        "{cluster:?}"
    );
}

#[test]
fn node_port_and_load_balancer_traffic_is_masqueraded_under_cluster_policy() {
    let mut s = svc("lb", "10.100.0.1");
    s.external_ips = vec![ip("172.31.0.10")];
    s.ports[0].node_port = Some(30003);
    let f = render_service(&cfg(), &s, &[ep("172.31.17.2", "node-b")]);
    let v1 = f
        .elements
        .get(&(SERVICE_IPS, "172.31.0.10 . tcp . 80".into()))
        .unwrap();
    let v2 = f
        .elements
        .get(&(SERVICE_NODEPORTS, "tcp . 30003".into()))
        .unwrap();
    assert_eq!(v1, v2);
    let ext = f.chains.get(v1.trim_start_matches("goto ")).unwrap();
    assert_eq!(ext[0], "jump mark-for-masquerade");
}

#[test]
fn client_ip_affinity_pins_clients_with_a_timed_dynamic_set() {
    let mut s = svc("aff", "10.100.0.1");
    s.affinity_timeout = Some(600);
    let f = render_service(
        &cfg(),
        &s,
        &[ep("172.31.1.2", "node-a"), ep("172.31.1.3", "node-a")],
    );
    assert_eq!(f.sets.len(), 2);
    assert!(f
        .sets
        .values()
        .all(|d| d.contains("flags dynamic,timeout") && d.contains("timeout 600s")));
    let svc_chain = f
        .chains
        .iter()
        .find(|(n, _)| n.starts_with("svc-"))
        .unwrap()
        .1;
    // Known clients go back to their endpoint first; every DNAT refreshes the client's entry.
    assert_eq!(
        svc_chain
            .iter()
            .filter(|r| r.starts_with("ip saddr @aff-"))
            .count(),
        2
    );
    assert!(svc_chain
        .iter()
        .filter(|r| r.contains("dnat to"))
        .all(|r| r.contains("update @aff-") && r.contains("{ ip saddr }")));
}

#[test]
fn hairpin_traffic_from_the_endpoint_itself_is_masqueraded() {
    let f = render_service(
        &cfg(),
        &svc("hp", "10.100.0.1"),
        &[ep("172.31.1.2", "node-a")],
    );
    assert_eq!(
        f.hairpin.iter().copied().collect::<Vec<_>>(),
        vec![ip("172.31.1.2")]
    );
    let full = full_script(&cfg(), [&f]);
    assert!(
        full.contains("add element ip wharf-unit hairpin-ips { 172.31.1.2 . 172.31.1.2 }"),
        "{full}"
    );
    assert!(full.contains("add rule ip wharf-unit nat-postrouting ct status dnat ip saddr . ip daddr @hairpin-ips masquerade"), "{full}");
}

fn sync_collect(p: &mut Proxier) -> String {
    let mut out = String::new();
    p.sync(&mut |s: &str| {
        out = s.to_string();
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn endpoint_change_is_a_transaction_touching_only_that_service() {
    let mut p = Proxier::new(cfg());
    for i in 0..20u8 {
        p.upsert_service(svc(&format!("s{i}"), &format!("10.100.1.{i}")));
        p.upsert_slice(
            ServiceKey::new("default", format!("s{i}")),
            "a",
            vec![ep(&format!("172.31.2.{i}"), "node-a")],
        );
    }
    let full = sync_collect(&mut p);
    assert!(full.contains("delete table ip wharf-unit"));
    assert!(!p.pending());
    p.upsert_slice(
        ServiceKey::new("default", "s7"),
        "a",
        vec![ep("172.31.2.7", "node-a"), ep("172.31.3.7", "node-b")],
    );
    let delta = sync_collect(&mut p);
    assert!(!delta.contains("table ip wharf-unit\n"), "{delta}");
    assert!(
        delta
            .lines()
            .all(|l| l.contains("default/s7/") || l.contains("hairpin-ips")),
        "{delta}"
    );
    assert!(delta.contains("dnat to 172.31.3.7:8080"), "{delta}");
    assert!(
        delta.contains("add element ip wharf-unit hairpin-ips { 172.31.3.7 . 172.31.3.7 }"),
        "{delta}"
    );
    nft_check(&format!("{full}{delta}"));
    // Nothing changed: nothing to apply.
    p.upsert_slice(
        ServiceKey::new("default", "s7"),
        "a",
        vec![ep("172.31.2.7", "node-a"), ep("172.31.3.7", "node-b")],
    );
    assert!(!p.pending());
}

#[test]
fn removing_a_service_or_its_endpoints_deletes_its_chains_and_elements() {
    let mut p = Proxier::new(cfg());
    let mut s = svc("gone", "10.100.0.9");
    s.affinity_timeout = Some(60);
    p.upsert_service(s);
    p.upsert_slice(
        ServiceKey::new("default", "gone"),
        "a",
        vec![ep("172.31.2.1", "node-a")],
    );
    p.upsert_service(svc("stays", "10.100.0.8"));
    let full = sync_collect(&mut p);
    p.remove_slice(&ServiceKey::new("default", "gone"), "a");
    let delta = sync_collect(&mut p);
    assert!(
        delta.contains("delete element ip wharf-unit service-ips { 10.100.0.9 . tcp . 80 }"),
        "{delta}"
    );
    assert!(delta.contains("add element ip wharf-unit no-endpoint-services { 10.100.0.9 . tcp . 80 : goto reject-chain }"), "{delta}");
    assert!(
        delta.contains("delete chain") && delta.contains("delete set"),
        "{delta}"
    );
    p.remove_service(&ServiceKey::new("default", "gone"));
    let delta2 = sync_collect(&mut p);
    assert_eq!(
        delta2.trim(),
        "delete element ip wharf-unit no-endpoint-services { 10.100.0.9 . tcp . 80 }"
    );
    nft_check(&format!("{full}{delta}{delta2}"));
}

#[test]
fn failed_apply_makes_the_next_sync_a_full_one() {
    let mut p = Proxier::new(cfg());
    p.upsert_service(svc("a", "10.100.0.1"));
    sync_collect(&mut p);
    p.upsert_slice(
        ServiceKey::new("default", "a"),
        "x",
        vec![ep("172.31.2.1", "node-a")],
    );
    let r = p.sync(&mut |_s: &str| Err(crate::Error::Thread));
    assert!(r.is_err());
    assert!(p.pending());
    let next = sync_collect(&mut p);
    assert!(next.contains("delete table ip wharf-unit") && next.contains("172.31.2.1:8080"));
}

#[test]
fn table_names_are_safe_for_any_tag() {
    assert_eq!(crate::table_name("t1.x/y"), "wharf-t1_x_y");
}

#[test]
fn endpoints_are_chosen_by_a_uniform_numgen_cascade() {
    let eps: Vec<Endpoint> = (1..=4)
        .map(|i| ep(&format!("172.31.1.{i}"), "node-a"))
        .collect();
    let f = render_service(&cfg(), &svc("four", "10.100.0.1"), &eps);
    let chain = f
        .chains
        .iter()
        .find(|(n, _)| n.starts_with("svc-"))
        .unwrap()
        .1;
    let picks: Vec<&str> = chain
        .iter()
        .filter(|r| r.contains("dnat to"))
        .map(String::as_str)
        .collect();
    assert_eq!(picks.len(), 4);
    for (i, r) in picks.iter().take(3).enumerate() {
        assert!(
            r.starts_with(&format!(
                "numgen random mod {} 0 meta l4proto tcp dnat to",
                4 - i
            )),
            "{r}"
        );
    }
    assert!(picks[3].starts_with("meta l4proto tcp dnat to"));
    // Every endpoint is reachable exactly once.
    let targets: std::collections::BTreeSet<&str> = picks
        .iter()
        .map(|r| r.rsplit("dnat to ").next().unwrap())
        .collect();
    assert_eq!(targets.len(), 4);
}

#[test]
fn hairpin_elements_are_shared_between_services_and_removed_with_the_last_user() {
    let mut p = Proxier::new(cfg());
    for n in ["a", "b"] {
        p.upsert_service(svc(n, if n == "a" { "10.100.0.1" } else { "10.100.0.2" }));
        p.upsert_slice(
            ServiceKey::new("default", n),
            "s",
            vec![ep("172.31.5.5", "node-a")],
        );
    }
    let full = sync_collect(&mut p);
    assert_eq!(full.matches("172.31.5.5 . 172.31.5.5").count(), 1, "{full}");
    p.remove_slice(&ServiceKey::new("default", "a"), "s");
    let d1 = sync_collect(&mut p);
    assert!(!d1.contains("hairpin-ips"), "still used by b: {d1}");
    p.remove_slice(&ServiceKey::new("default", "b"), "s");
    let d2 = sync_collect(&mut p);
    assert!(
        d2.contains("delete element ip wharf-unit hairpin-ips { 172.31.5.5 . 172.31.5.5 }"),
        "{d2}"
    );
    nft_check(&format!("{full}{d1}{d2}"));
}

#[test]
fn two_services_on_one_address_and_port_do_not_break_the_table_and_the_second_takes_over() {
    let mut p = Proxier::new(cfg());
    for n in ["first", "second"] {
        let mut s = svc(
            n,
            if n == "first" {
                "10.100.0.1"
            } else {
                "10.100.0.2"
            },
        );
        s.external_ips = vec![ip("172.31.0.10")];
        p.upsert_service(s);
        p.upsert_slice(
            ServiceKey::new("default", n),
            "s",
            vec![ep("172.31.6.1", "node-a")],
        );
    }
    let full = sync_collect(&mut p);
    assert_eq!(
        full.matches("172.31.0.10 . tcp . 80 :").count(),
        1,
        "{full}"
    );
    assert!(full.contains("default/first/"));
    assert_eq!(
        p.conflicted().cloned().collect::<Vec<_>>(),
        vec![ServiceKey::new("default", "second")]
    );
    nft_check(&full);
    // The holder goes away: the waiting Service gets the address on the following sync.
    p.remove_service(&ServiceKey::new("default", "first"));
    let d1 = sync_collect(&mut p);
    assert!(p.pending());
    let d2 = sync_collect(&mut p);
    assert!(
        d2.contains("add element ip wharf-unit service-ips { 172.31.0.10 . tcp . 80 : goto ext-"),
        "{d2}"
    );
    assert!(d2.contains("default/second/"), "{d2}");
    assert_eq!(p.conflicted().count(), 0);
    nft_check(&format!("{full}{d1}{d2}"));
}
