//! Root tests: a test VPC with two instances and fake pod sandboxes (plain network namespaces),
//! proving VPC-native reachability over real sockets, IPAM persistence and complete cleanup.
//! Each test uses its own tag and a random 10.x.y.0/24 so concurrent runs do not clash.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use wharf_net::{
    bind_tcp_in, create_netns, is_netns, remove_netns, run_in_netns, spawn_in, Error, Instance, InstanceConfig, Ipv4Cidr, Vpc,
    VpcConfig,
};

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("skipped: needs root (network namespaces, veth, bridge)");
            return;
        }
    };
}

fn random(salt: u32) -> u32 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    nanos ^ std::process::id().wrapping_mul(2_654_435_761) ^ salt.wrapping_mul(40_503)
}

/// A 10.200-249.x.0/24 block: away from 172.31/16 (the default VPC) and 10.100/16 (services).
fn base_of(r: u32) -> [u8; 3] {
    [10, 200 + (r % 50) as u8, ((r >> 8) % 256) as u8]
}

/// Everything one test made; removed on drop, also when the test fails.
struct Fixture {
    tag: String,
    dir: tempfile::TempDir,
    base: [u8; 3],
    sandboxes: Vec<PathBuf>,
}

impl Fixture {
    fn new(salt: u32) -> Fixture {
        let r = random(salt);
        Fixture {
            tag: format!("t{:x}-{salt}", r),
            dir: tempfile::tempdir().unwrap(),
            base: base_of(r),
            sandboxes: Vec::new(),
        }
    }

    fn ip(&self, last: u8) -> Ipv4Addr {
        Ipv4Addr::new(self.base[0], self.base[1], self.base[2], last)
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Creates (or re-adopts) the test VPC; a block that clashes with another VPC on the machine
    /// (a concurrent test run) is re-rolled before anything else is made.
    fn vpc(&mut self) -> Vpc {
        for attempt in 0..20 {
            let cidr = Ipv4Cidr::new(self.ip(0), 24).unwrap();
            match Vpc::create(VpcConfig { tag: self.tag.clone(), cidr, state_dir: self.state_dir() }) {
                Ok(v) => return v,
                Err(Error::Cidr { .. }) if attempt < 19 => self.base = base_of(random(attempt)),
                Err(e) => panic!("create vpc {cidr}: {e}"),
            }
        }
        unreachable!()
    }

    /// Instance `n` (0 or 1): address .10+n, pods from .64+32n/27.
    fn instance(&self, vpc: &Vpc, n: u8) -> Instance {
        vpc.instance(InstanceConfig {
            name: format!("node-{n}"),
            address: self.ip(10 + n),
            pod_cidr: Ipv4Cidr::new(self.ip(64 + 32 * n), 27).unwrap(),
            zone: n as usize,
        })
        .unwrap()
    }

    fn sandbox(&mut self, name: &str) -> PathBuf {
        let p = self.dir.path().join("sandboxes").join(name);
        create_netns(&p).unwrap();
        self.sandboxes.push(p.clone());
        p
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for s in &self.sandboxes {
            let _ = remove_netns(s);
        }
        if let Err(e) = Vpc::cleanup(&self.tag, &self.state_dir()) {
            eprintln!("cleanup of {}: {e}", self.tag);
        }
    }
}

/// Connects from `from` (a netns, or the test's own namespace) to a listener on `to_ip` inside `to`,
/// exchanges a message and returns the client address the server saw.
fn round_trip(from: Option<&Path>, to: &Path, to_ip: Ipv4Addr) -> IpAddr {
    let listener = bind_tcp_in(to, SocketAddr::new(IpAddr::V4(to_ip), 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
        peer.ip()
    });
    let connect = move || TcpStream::connect_timeout(&addr, Duration::from_secs(5));
    let mut stream = match from {
        Some(ns) => run_in_netns(ns, connect).unwrap(),
        None => connect(),
    }
    .unwrap_or_else(|e| panic!("connect {from:?} -> {addr}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    server.join().unwrap()
}

fn host_links() -> Vec<String> {
    std::fs::read_dir("/sys/class/net").unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

fn mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().filter(|l| l.contains(&d)).map(String::from).collect()
}

/// Interface names in a namespace, from `/proc/thread-self/net/dev` read inside it.
fn links_in(netns: &Path) -> Vec<String> {
    let text = run_in_netns(netns, || std::fs::read_to_string("/proc/thread-self/net/dev")).unwrap().unwrap();
    text.lines().skip(2).filter_map(|l| l.split(':').next()).map(|n| n.trim().to_string()).collect()
}

fn v4(ip: IpAddr) -> Ipv4Addr {
    match ip {
        IpAddr::V4(v) => v,
        IpAddr::V6(v) => panic!("expected an IPv4 pod address, got {v}"),
    }
}

#[test]
fn pods_should_reach_pods_instances_and_host_with_their_own_addresses() {
    require_root!();
    let mut fx = Fixture::new(1);
    let vpc = fx.vpc();
    let a = fx.instance(&vpc, 0);
    let b = fx.instance(&vpc, 1);
    let (sa1, sa2, sb1) = (fx.sandbox("a1"), fx.sandbox("a2"), fx.sandbox("b1"));
    let pa1 = v4(a.pods().attach("uid-a1", &sa1).unwrap());
    let pa2 = v4(a.pods().attach("uid-a2", &sa2).unwrap());
    let pb1 = v4(b.pods().attach("uid-b1", &sb1).unwrap());
    assert!(a.pods().pod_cidr().contains(pa1) && a.pods().pod_cidr().contains(pa2));
    assert!(b.pods().pod_cidr().contains(pb1));
    assert_ne!(pa1, pa2);

    // Every hop keeps the client's own address: no NAT, no overlay.
    assert_eq!(round_trip(Some(&sa1), &sa2, pa2), IpAddr::V4(pa1), "pod -> pod on the same instance");
    assert_eq!(round_trip(Some(&sa1), &sb1, pb1), IpAddr::V4(pa1), "pod -> pod across instances");
    assert_eq!(round_trip(Some(&sb1), &sa2, pa2), IpAddr::V4(pb1), "pod -> pod across instances, reverse");
    assert_eq!(round_trip(Some(&sa1), a.netns_path(), a.address()), IpAddr::V4(pa1), "pod -> own instance");
    assert_eq!(round_trip(Some(&sa1), b.netns_path(), b.address()), IpAddr::V4(pa1), "pod -> other instance");
    assert_eq!(round_trip(Some(a.netns_path()), &sa1, pa1), IpAddr::V4(a.address()), "instance -> own pod");
    assert_eq!(round_trip(Some(b.netns_path()), &sa1, pa1), IpAddr::V4(b.address()), "instance -> other pod");
    assert_eq!(round_trip(Some(a.netns_path()), b.netns_path(), b.address()), IpAddr::V4(a.address()), "instance -> instance");
    assert_eq!(round_trip(None, &sb1, pb1), IpAddr::V4(vpc.router()), "host -> pod");
    assert_eq!(round_trip(None, b.netns_path(), b.address()), IpAddr::V4(vpc.router()), "host -> instance");

    // The host side of the VPC (control plane, DNS, registry) is reachable from pods at the router.
    let here = Path::new("/proc/self/ns/net");
    assert_eq!(round_trip(Some(&sb1), here, vpc.router()), IpAddr::V4(pb1), "pod -> host router address");

    // A detached pod is unreachable, its veth is gone and its address is released.
    let veth = wharf_net::names::pod_host_link("uid-a2");
    assert!(links_in(a.netns_path()).contains(&veth));
    assert!(links_in(&sa2).contains(&"eth0".to_string()));
    a.pods().detach("uid-a2").unwrap();
    assert!(!links_in(a.netns_path()).contains(&veth));
    assert_eq!(links_in(&sa2), vec!["lo".to_string()]);
    assert_eq!(a.pods().address_of("uid-a2"), None);
    let gone = run_in_netns(&sa1, move || TcpStream::connect_timeout(&SocketAddr::new(IpAddr::V4(pa2), 9), Duration::from_secs(1))).unwrap();
    assert!(gone.is_err(), "detached pod still answers");
    a.pods().detach("uid-a2").unwrap();
}

#[test]
fn attach_should_be_idempotent_and_ipam_should_survive_a_restart() {
    require_root!();
    let mut fx = Fixture::new(2);
    let (s1, s2, s3) = (fx.sandbox("p1"), fx.sandbox("p2"), fx.sandbox("p3"));
    let (ip1, ip2) = {
        let vpc = fx.vpc();
        let a = fx.instance(&vpc, 0);
        let ip1 = a.pods().attach("uid-1", &s1).unwrap();
        assert_eq!(a.pods().attach("uid-1", &s1).unwrap(), ip1, "second attach of the same uid");
        let ip2 = a.pods().attach("uid-2", &s2).unwrap();
        assert_ne!(ip1, ip2);
        (ip1, ip2)
    };
    // "Restart": adopt the VPC and instance from the same tag and state directory.
    let vpc = fx.vpc();
    let a = fx.instance(&vpc, 0);
    assert_eq!(a.pods().address_of("uid-1"), Some(v4(ip1)));
    assert_eq!(a.pods().attach("uid-2", &s2).unwrap(), ip2);
    let ip3 = a.pods().attach("uid-3", &s3).unwrap();
    assert!(ip3 != ip1 && ip3 != ip2, "no double allocation after restart");
    // The adopted instance still forwards: pod 1 reaches pod 3.
    assert_eq!(round_trip(Some(&s1), &s3, v4(ip3)), ip1);
    a.pods().detach("uid-1").unwrap();
    assert_eq!(a.pods().allocations().len(), 2);
}

#[test]
fn destroy_should_leave_no_link_namespace_or_mount_behind() {
    require_root!();
    let mut fx = Fixture::new(3);
    let vpc = fx.vpc();
    let a = fx.instance(&vpc, 0);
    let b = fx.instance(&vpc, 1);
    let s = fx.sandbox("p");
    a.pods().attach("uid-p", &s).unwrap();
    let bridge = vpc.bridge_name().to_string();
    let ports = [a.host_link().to_string(), b.host_link().to_string()];
    let (ns_a, ns_b) = (a.netns_path().to_path_buf(), b.netns_path().to_path_buf());
    assert!(host_links().contains(&bridge));
    assert!(is_netns(&ns_a) && is_netns(&ns_b));

    // A second VPC on an overlapping block is refused, and leaves nothing behind either.
    let clash = Vpc::create(VpcConfig {
        tag: format!("{}-x", fx.tag),
        cidr: Ipv4Cidr::new(fx.ip(0), 25).unwrap(),
        state_dir: fx.dir.path().join("clash"),
    });
    assert!(matches!(clash, Err(Error::Cidr { .. })), "{clash:?}");
    assert!(!host_links().contains(&wharf_net::names::bridge_name(&format!("{}-x", fx.tag))));

    b.destroy().unwrap();
    assert!(!host_links().contains(&ports[1]));
    assert!(!ns_b.exists());
    vpc.destroy().unwrap();

    let links = host_links();
    assert!(!links.contains(&bridge), "bridge {bridge} left behind");
    for p in &ports {
        assert!(!links.contains(p), "instance link {p} left behind");
    }
    assert!(!ns_a.exists());
    assert!(!fx.state_dir().join("netns").exists());
    assert!(!fx.state_dir().join("ipam").exists());
    assert_eq!(mounts_under(&fx.state_dir()), Vec::<String>::new());
    // Cleaning up twice is fine.
    Vpc::cleanup(&fx.tag, &fx.state_dir()).unwrap();
}

#[test]
fn processes_spawned_in_an_instance_should_live_in_its_namespace() {
    require_root!();
    let mut fx = Fixture::new(4);
    let vpc = fx.vpc();
    let a = fx.instance(&vpc, 0);
    let mut cmd = std::process::Command::new("readlink");
    cmd.arg("/proc/self/ns/net").stdout(std::process::Stdio::piped());
    let out = spawn_in(a.netns_path(), cmd).unwrap().wait_with_output().unwrap();
    let seen = String::from_utf8(out.stdout).unwrap();
    let want = format!("net:[{}]", std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(a.netns_path()).unwrap()));
    assert_eq!(seen.trim(), want);
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_ne!(host.to_string_lossy(), want, "the test itself must stay in its own namespace");
}

#[test]
fn concurrent_attaches_should_get_distinct_addresses() {
    require_root!();
    let mut fx = Fixture::new(5);
    let vpc = fx.vpc();
    let a = fx.instance(&vpc, 0);
    let sandboxes: Vec<PathBuf> = (0..8).map(|i| fx.sandbox(&format!("c{i}"))).collect();
    let threads: Vec<_> = sandboxes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (pods, s) = (a.pods().clone(), s.clone());
            std::thread::spawn(move || pods.attach(&format!("uid-{i}"), &s).unwrap())
        })
        .collect();
    let mut ips: Vec<IpAddr> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 8);
    assert_eq!(a.pods().allocations().len(), 8);
}

/// The node agent's sandboxes are held by a pause process (`/proc/<pid>/ns/net`), not a bind mount.
#[test]
fn attach_should_wire_a_process_held_sandbox_and_detach_after_the_process_died() {
    require_root!();
    let mut fx = Fixture::new(6);
    let vpc = fx.vpc();
    let a = fx.instance(&vpc, 0);
    let s = fx.sandbox("held");
    let mut pause = spawn_in(&s, {
        let mut c = std::process::Command::new("sleep");
        c.arg("600");
        c
    })
    .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let guard = Kill(&mut pause);
    remove_netns(&s).unwrap(); // only the process holds the namespace now
    let ns = PathBuf::from(format!("/proc/{}/ns/net", guard.0.id()));
    let ip = v4(a.pods().attach("uid-held", &ns).unwrap());
    assert_eq!(round_trip(None, &ns, ip), IpAddr::V4(vpc.router()));
    drop(guard); // the pause process dies, and with it the namespace and the pod's veth
    a.pods().detach("uid-held").unwrap();
    assert_eq!(a.pods().address_of("uid-held"), None);
}
