//! Real traffic through the rules: two network namespaces joined by a veth pair ("node" and
//! "endpoint", 10.250.0.0/24, private to this test), a TCP server in the endpoint namespace, the
//! proxy's table in the node namespace. Needs root (skips otherwise), `ip` and `nft`.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wharf_proxy::{
    nft, render, Endpoint, Protocol, Proxier, RenderConfig, Service, ServiceKey, ServicePort,
};

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().unwrap();
    assert!(st.success(), "ip {args:?}");
}

/// Network namespaces created by the test, deleted however it ends.
struct Namespaces(Vec<String>);
impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

fn in_netns<T: Send + 'static>(ns: &Path, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = std::fs::File::open(ns).unwrap();
    std::thread::spawn(move || {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        f()
    })
    .join()
    .unwrap()
}

/// Stops the endpoint's server thread when dropped.
struct Server(Arc<AtomicBool>);
impl Drop for Server {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A TCP server in `ns` on `addr` that answers every connection with `reply`, or by default with
/// the peer's address.
fn serve(ns: &Path, addr: SocketAddr, reply: Option<&'static str>) -> Server {
    let stop = Arc::new(AtomicBool::new(false));
    let listener = in_netns(ns, move || TcpListener::bind(addr).unwrap());
    listener.set_nonblocking(true).unwrap();
    let s = stop.clone();
    std::thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((mut c, peer)) => {
                    let msg = reply
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("hello {}", peer.ip()));
                    let _ = c.write_all(format!("{msg}\n").as_bytes());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    Server(stop)
}

/// Connects from `ns` and returns the server's greeting, or the connect error kind.
fn dial(ns: &Path, to: SocketAddr) -> Result<String, std::io::ErrorKind> {
    in_netns(ns, move || {
        let mut c =
            TcpStream::connect_timeout(&to, Duration::from_secs(3)).map_err(|e| e.kind())?;
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut s = String::new();
        c.read_to_string(&mut s).map_err(|e| e.kind())?;
        Ok(s.trim().to_string())
    })
}

fn endpoint(ready: bool) -> Endpoint {
    Endpoint {
        ip: Ipv4Addr::new(10, 250, 0, 2),
        node_name: Some("other-node".into()),
        ready,
        serving: ready,
        terminating: false,
        ports: vec![("http".into(), Protocol::Tcp, 8080)],
    }
}

/// The "node" and "endpoint" namespaces of a test: veth pair, 10.250.0.1 (node) and 10.250.0.2
/// (endpoint), default routes through each other, forwarding on in the node.
fn namespaces(tag: &str) -> (Namespaces, PathBuf, PathBuf) {
    let (node, epns) = (format!("{tag}-node"), format!("{tag}-ep"));
    let mut guard = Namespaces(Vec::new());
    for n in [&node, &epns] {
        ip(&["netns", "add", n]);
        guard.0.push(n.clone());
    }
    let node_path = PathBuf::from(format!("/run/netns/{node}"));
    let ep_path = PathBuf::from(format!("/run/netns/{epns}"));
    ip(&[
        "-n", &node, "link", "add", "veth-n", "type", "veth", "peer", "name", "veth-e", "netns",
        &epns,
    ]);
    ip(&["-n", &node, "addr", "add", "10.250.0.1/24", "dev", "veth-n"]);
    ip(&["-n", &epns, "addr", "add", "10.250.0.2/24", "dev", "veth-e"]);
    for (ns, dev) in [(&node, "veth-n"), (&epns, "veth-e")] {
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        ip(&["-n", ns, "link", "set", dev, "up"]);
    }
    // Service VIPs are routed like any off-node address (a node has a default route).
    ip(&["-n", &node, "route", "add", "default", "via", "10.250.0.2"]);
    ip(&["-n", &epns, "route", "add", "default", "via", "10.250.0.1"]);
    let st = Command::new("ip")
        .args([
            "netns",
            "exec",
            &node,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    (guard, node_path, ep_path)
}

#[test]
fn cluster_ip_and_node_port_reach_the_endpoint_and_refuse_without_it() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipping: needs root");
        return;
    }
    let tag = format!("wpx{}", std::process::id());
    let (guard, node_path, ep_path) = namespaces(&tag);
    let _server = serve(&ep_path, "10.250.0.2:8080".parse().unwrap(), None);
    let mut cfg = RenderConfig::new(
        wharf_proxy::table_name(&tag),
        "this-node",
        vec![Ipv4Addr::new(10, 250, 0, 1)],
    );
    // The "pod network" holds both addresses: only hairpin and node-port traffic is masqueraded.
    cfg.cluster_cidr = Some((Ipv4Addr::new(10, 250, 0, 0), 16));
    let table = cfg.table.clone();
    let mut p = Proxier::new(cfg);
    let key = ServiceKey::new("default", "web");
    p.upsert_service(Service {
        key: key.clone(),
        cluster_ips: vec![Ipv4Addr::new(10, 100, 0, 50)],
        external_ips: vec![],
        ports: vec![ServicePort {
            name: "http".into(),
            protocol: Protocol::Tcp,
            port: 80,
            node_port: Some(30080),
        }],
        affinity_timeout: None,
        external_local: false,
        internal_local: false,
    });
    p.upsert_slice(key.clone(), "web-1", vec![endpoint(true)]);
    let np = node_path.clone();
    let mut apply = move |s: &str| nft::apply(Some(&np), s);
    assert!(p.sync(&mut apply).unwrap().full);

    let vip: SocketAddr = "10.100.0.50:80".parse().unwrap();
    let nodeport: SocketAddr = "10.250.0.1:30080".parse().unwrap();
    // ClusterIP from the node itself.
    assert_eq!(dial(&node_path, vip), Ok("hello 10.250.0.1".into()));
    // NodePort from another machine (the endpoint's namespace): DNATed back out and masqueraded,
    // so the endpoint sees the node's address, not its own.
    assert_eq!(dial(&ep_path, nodeport), Ok("hello 10.250.0.1".into()));
    // Hairpin: the endpoint reaches itself through the cluster IP (masqueraded to the node,
    // otherwise it would receive a packet from its own address and drop it).
    assert_eq!(dial(&ep_path, vip), Ok("hello 10.250.0.1".into()));

    // The endpoint becomes unready: an incremental sync, and both addresses refuse.
    p.upsert_slice(key.clone(), "web-1", vec![endpoint(false)]);
    let st = p.sync(&mut apply).unwrap();
    assert!(!st.full && st.services == 1);
    assert_eq!(
        dial(&node_path, vip),
        Err(std::io::ErrorKind::ConnectionRefused)
    );
    assert_eq!(
        dial(&ep_path, nodeport),
        Err(std::io::ErrorKind::ConnectionRefused)
    );

    // Ready again: traffic flows again.
    p.upsert_slice(key.clone(), "web-1", vec![endpoint(true)]);
    assert!(!p.sync(&mut apply).unwrap().full);
    assert_eq!(dial(&node_path, vip), Ok("hello 10.250.0.1".into()));

    // Removing the table leaves the namespace without any table; then the namespaces go.
    nft::apply(Some(&node_path), &render::delete_script(&table)).unwrap();
    let tables = nft::run(Some(&node_path), &["list", "tables"], "").unwrap();
    assert_eq!(tables.trim(), "", "tables left behind: {tables}");
    drop(guard);
    let list = String::from_utf8(
        Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(!list.contains(&tag), "namespaces left behind: {list}");
}

fn web(affinity: Option<u32>) -> Service {
    Service {
        key: ServiceKey::new("default", "sticky"),
        cluster_ips: vec![Ipv4Addr::new(10, 100, 0, 60)],
        external_ips: vec![],
        ports: vec![ServicePort {
            name: "http".into(),
            protocol: Protocol::Tcp,
            port: 80,
            node_port: None,
        }],
        affinity_timeout: affinity,
        external_local: false,
        internal_local: false,
    }
}

#[test]
fn client_ip_affinity_keeps_a_client_on_one_endpoint_and_without_it_both_serve() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipping: needs root");
        return;
    }
    let tag = format!("wpxa{}", std::process::id());
    let (guard, node_path, ep_path) = namespaces(&tag);
    // Two endpoints with their own addresses (10.250.0.2 and a second address on the same
    // interface), each answering with its name.
    ip(&[
        "-n",
        &format!("{tag}-ep"),
        "addr",
        "add",
        "10.250.0.3/24",
        "dev",
        "veth-e",
    ]);
    let _a = serve(&ep_path, "10.250.0.2:8081".parse().unwrap(), Some("a"));
    let _b = serve(&ep_path, "10.250.0.3:8082".parse().unwrap(), Some("b"));
    let ep = |port: u16, ip: [u8; 4]| Endpoint {
        ip: Ipv4Addr::from(ip),
        ports: vec![("http".into(), Protocol::Tcp, port)],
        ..endpoint(true)
    };
    let table = wharf_proxy::table_name(&tag);
    let mut p = Proxier::new(RenderConfig::new(
        table.clone(),
        "this-node",
        vec![Ipv4Addr::new(10, 250, 0, 1)],
    ));
    let np = node_path.clone();
    let mut apply = move |s: &str| nft::apply(Some(&np), s);
    let vip: SocketAddr = "10.100.0.60:80".parse().unwrap();
    let answers = |n: usize| -> std::collections::BTreeSet<String> {
        (0..n).map(|_| dial(&node_path, vip).unwrap()).collect()
    };

    p.upsert_service(web(None));
    p.upsert_slice(
        ServiceKey::new("default", "sticky"),
        "s",
        vec![ep(8081, [10, 250, 0, 2]), ep(8082, [10, 250, 0, 3])],
    );
    p.sync(&mut apply).unwrap();
    // Without affinity, 40 connections reach both endpoints (all on one: probability 2^-39).
    assert_eq!(answers(40).len(), 2);

    p.upsert_service(web(Some(60)));
    p.sync(&mut apply).unwrap();
    assert_eq!(
        answers(40).len(),
        1,
        "ClientIP affinity sends one client to one endpoint"
    );

    nft::apply(Some(&node_path), &render::delete_script(&table)).unwrap();
    drop(guard);
}
