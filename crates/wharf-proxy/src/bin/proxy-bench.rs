//! Benchmark: program N Services with M endpoints into an empty network namespace, then apply one
//! endpoint change at that size; then connection setup latency from the node to an endpoint in a
//! second namespace, through a cluster IP and directly, with that table loaded. Needs root and
//! `ip`/`nft`.
//!
//! `cargo run --release -p wharf-proxy --no-default-features --bin proxy-bench -- [services] [endpoints-per-service]`

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use wharf_proxy::{
    nft, Endpoint, Protocol, Proxier, RenderConfig, Service, ServiceKey, ServicePort,
};

/// Deletes the benchmark's network namespace however the benchmark ends.
struct Netns(String);
impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    if Command::new("ip").args(args).status()?.success() {
        Ok(())
    } else {
        Err(format!("ip {args:?} failed").into())
    }
}

fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Box<dyn std::error::Error>> {
    let file = std::fs::File::open(format!("/run/netns/{ns}"))?;
    let h = std::thread::spawn(move || {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).map(|_| f())
    });
    Ok(h.join().map_err(|_| "netns thread panicked")??)
}

/// Connection setup times (connect() returning) from `ns` to `to`, sorted.
fn connect_times(
    ns: &str,
    to: std::net::SocketAddr,
    n: usize,
) -> Result<Vec<Duration>, Box<dyn std::error::Error>> {
    let times = in_netns(ns, move || {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let c = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(2));
            v.push(c.map(|_| t.elapsed()));
        }
        v
    })?;
    let mut times: Vec<Duration> = times.into_iter().collect::<Result<_, _>>()?;
    times.sort();
    Ok(times)
}

fn summary(t: &[Duration]) -> String {
    let q = |f: f64| t[((t.len() as f64 * f) as usize).min(t.len() - 1)];
    format!(
        "p50 {:.1?}, p90 {:.1?}, p99 {:.1?} ({} connections)",
        q(0.5),
        q(0.9),
        q(0.99),
        t.len()
    )
}

fn addr(base: u32, i: u32) -> Ipv4Addr {
    Ipv4Addr::from(base + i)
}

fn endpoints(svc: u32, per: u32, generation: u32) -> Vec<Endpoint> {
    (0..per)
        .map(|j| Endpoint {
            ip: addr(
                u32::from(Ipv4Addr::new(172, 16, 0, 0)),
                svc * per + j + generation * 1_000_000,
            ),
            node_name: Some(format!("node-{}", j % 3)),
            ready: true,
            serving: true,
            terminating: false,
            ports: vec![("http".into(), Protocol::Tcp, 8080)],
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let services: u32 = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let per: u32 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(5);
    let name = format!("wharf-proxy-bench-{}", std::process::id());
    if !Command::new("ip")
        .args(["netns", "add", &name])
        .status()?
        .success()
    {
        return Err("ip netns add failed (root needed)".into());
    }
    let ns = Netns(name);
    let path = PathBuf::from(format!("/run/netns/{}", ns.0));
    let mut cfg = RenderConfig::new("wharf-bench", "node-0", vec![Ipv4Addr::new(172, 31, 0, 10)]);
    cfg.cluster_cidr = Some((Ipv4Addr::new(172, 16, 0, 0), 12));
    let mut p = Proxier::new(cfg);
    for i in 0..services {
        let key = ServiceKey::new(format!("ns{}", i % 100), format!("svc-{i}"));
        p.upsert_service(Service {
            key: key.clone(),
            cluster_ips: vec![addr(u32::from(Ipv4Addr::new(10, 100, 0, 0)), i + 1)],
            external_ips: vec![],
            ports: vec![ServicePort {
                name: "http".into(),
                protocol: Protocol::Tcp,
                port: 80,
                node_port: (i % 10 == 0).then(|| 30000 + (i / 10) as u16 % 2768),
            }],
            affinity_timeout: None,
            external_local: false,
            internal_local: false,
        });
        p.upsert_slice(key, "s", endpoints(i, per, 0));
    }
    let mut apply = |s: &str| nft::apply(Some(&path), s);
    let t = Instant::now();
    let full = p.sync(&mut apply)?;
    let full_total = t.elapsed();
    println!(
        "full load: {services} services, {} endpoints: {:.2?} total (render {:.2?}, nft {:.2?}, {} lines)",
        services * per,
        full_total,
        full.render,
        full.apply,
        full.lines
    );
    let mut times: Vec<Duration> = Vec::new();
    for round in 1..=5u32 {
        let i = (round * 997) % services;
        let key = ServiceKey::new(format!("ns{}", i % 100), format!("svc-{i}"));
        let mut eps = endpoints(i, per, 0);
        // One endpoint replaced by a new address.
        eps[0] = endpoints(i, per, round)[0].clone();
        p.upsert_slice(key, "s", eps);
        let t = Instant::now();
        let s = p.sync(&mut apply)?;
        let total = t.elapsed();
        println!("one endpoint change (round {round}): {total:.2?} total (render {:.2?}, nft {:.2?}, {} lines)", s.render, s.apply, s.lines);
        times.push(total);
    }
    times.sort();
    println!("one endpoint change: median {:.2?}", times[times.len() / 2]);
    let listing = nft::run(
        Some(&path),
        &["list", "map", "ip", "wharf-bench", "service-ips"],
        "",
    )?;
    println!(
        "service-ips elements: {}",
        listing.matches(" : goto ").count()
    );

    // Connection setup latency with the table loaded: a real endpoint in a second namespace.
    let ep_name = format!("{}-ep", ns.0);
    ip(&["netns", "add", &ep_name])?;
    let ep_ns = Netns(ep_name);
    ip(&[
        "-n", &ns.0, "link", "add", "veth-n", "type", "veth", "peer", "name", "veth-e", "netns",
        &ep_ns.0,
    ])?;
    ip(&["-n", &ns.0, "addr", "add", "10.250.0.1/24", "dev", "veth-n"])?;
    ip(&[
        "-n",
        &ep_ns.0,
        "addr",
        "add",
        "10.250.0.2/24",
        "dev",
        "veth-e",
    ])?;
    for (n, dev) in [(&ns.0, "veth-n"), (&ep_ns.0, "veth-e")] {
        ip(&["-n", n, "link", "set", "lo", "up"])?;
        ip(&["-n", n, "link", "set", dev, "up"])?;
    }
    ip(&["-n", &ns.0, "route", "add", "default", "via", "10.250.0.2"])?;
    let listener = in_netns(&ep_ns.0, || std::net::TcpListener::bind("10.250.0.2:8080"))??;
    std::thread::spawn(move || {
        // Accepted connections are dropped at once; the thread ends with the process.
        for c in listener.incoming() {
            drop(c);
        }
    });
    let key = ServiceKey::new("bench", "latency");
    p.upsert_service(Service {
        key: key.clone(),
        cluster_ips: vec![Ipv4Addr::new(10, 101, 0, 1)],
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
    });
    p.upsert_slice(
        key,
        "s",
        vec![Endpoint {
            ip: Ipv4Addr::new(10, 250, 0, 2),
            node_name: Some("node-1".into()),
            ready: true,
            serving: true,
            terminating: false,
            ports: vec![("http".into(), Protocol::Tcp, 8080)],
        }],
    );
    p.sync(&mut apply)?;
    let n = 2000;
    let direct = connect_times(&ns.0, "10.250.0.2:8080".parse()?, n)?;
    let vip = connect_times(&ns.0, "10.101.0.1:80".parse()?, n)?;
    println!("connect via pod IP:     {}", summary(&direct));
    println!("connect via cluster IP: {}", summary(&vip));
    drop(ep_ns);
    drop(ns);
    Ok(())
}
