//! Cluster DNS against an in-process Wharf API server: records follow Services,
//! EndpointSlices and Pods written through the API; everything else goes to a fake upstream
//! resolver on 127.0.0.1. Queries are plain DNS messages over UDP and TCP.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use wharf_apiserver::auth::UserInfo;
use wharf_apiserver::{ControlPlane, ControlPlaneConfig};
use wharf_dns::DnsConfig;
use wharf_store::{sqlite::SqliteStore, KvStore, Prefixed};

/// The control plane, the DNS server and the fake upstream; all stopped on drop.
struct Env {
    client: Client,
    dns: SocketAddr,
    cp: Option<ControlPlane>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for t in self.tasks.iter().chain(self.server.iter()) {
            t.abort();
        }
    }
}

impl Env {
    async fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let base: Arc<dyn KvStore> = Arc::new(SqliteStore::open(&dir.path().join("store")).unwrap());
        let cp = ControlPlane::start(ControlPlaneConfig {
            name: "dns".into(),
            state_dir: dir.path().join("dns"),
            listen: "127.0.0.1:0".parse().unwrap(),
            store: Arc::new(Prefixed::new(base, "/clusters/dns")),
            service_cidr: ([10, 100, 0, 0], 16),
            compaction_interval: Duration::from_secs(300),
            mounts: Vec::new(),
        })
        .await
        .unwrap();
        let kc = Kubeconfig::from_yaml(&cp.kubeconfig()).unwrap();
        let client = Client::try_from(Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.unwrap()).unwrap();

        let mut tasks = Vec::new();
        let (upstream, upstream_task) = fake_upstream().await;
        tasks.extend(upstream_task);
        let (udp, tcp) = udp_tcp_pair().await;
        let dns = udp.local_addr().unwrap();
        let cfg = DnsConfig { upstreams: vec![upstream], upstream_timeout: Duration::from_millis(500), ..DnsConfig::default() };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let c = client.clone();
        let server = tokio::spawn(async move {
            wharf_dns::run(c, cfg, (udp, tcp), async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Env { client, dns, cp: Some(cp), stop: Some(tx), server: Some(server), tasks, _dir: dir }
    }

    /// Stops the server (which must return and release its ports) and the control plane.
    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(5), server).await.expect("dns server stops when asked").unwrap();
            UdpSocket::bind(self.dns).await.expect("udp port released");
            TcpListener::bind(self.dns).await.expect("tcp port released");
        }
        if let Some(cp) = self.cp.take() {
            cp.shutdown().await;
        }
    }
}

/// A resolver on 127.0.0.1 (UDP and TCP on one port): `*.example.test` A → 192.0.2.1, names
/// under `silent.test` never answered, anything else NXDOMAIN.
async fn fake_upstream() -> (SocketAddr, Vec<tokio::task::JoinHandle<()>>) {
    fn answer(raw: &[u8]) -> Option<Vec<u8>> {
        let req = Message::from_vec(raw).ok()?;
        let q = req.queries().first()?.clone();
        let name = q.name().to_ascii().to_ascii_lowercase();
        if name.ends_with("silent.test.") {
            return None;
        }
        let mut m = Message::new();
        m.set_id(req.id()).set_message_type(MessageType::Response).set_op_code(OpCode::Query).set_recursion_desired(true).set_recursion_available(true);
        m.add_query(q.clone());
        if name.ends_with("example.test.") && q.query_type() == RecordType::A {
            m.add_answer(Record::from_rdata(q.name().clone(), 60, RData::A(A([192, 0, 2, 1].into()))));
        } else {
            m.set_response_code(ResponseCode::NXDomain);
        }
        m.to_vec().ok()
    }
    let (udp, tcp) = udp_tcp_pair().await;
    let addr = udp.local_addr().unwrap();
    let u = tokio::spawn(async move {
        let mut buf = vec![0u8; 65535];
        while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
            if let Some(resp) = answer(&buf[..n]) {
                let _ = udp.send_to(&resp, peer).await;
            }
        }
    });
    let t = tokio::spawn(async move {
        while let Ok((mut s, _)) = tcp.accept().await {
            tokio::spawn(async move {
                let Ok(len) = s.read_u16().await else { return };
                let mut req = vec![0u8; len as usize];
                if s.read_exact(&mut req).await.is_err() {
                    return;
                }
                if let Some(resp) = answer(&req) {
                    let mut out = (resp.len() as u16).to_be_bytes().to_vec();
                    out.extend(resp);
                    let _ = s.write_all(&out).await;
                }
            });
        }
    });
    (addr, vec![u, t])
}

fn question(name: &str, t: RecordType, edns: bool) -> Message {
    let mut m = Message::new();
    m.set_id(rand::random()).set_message_type(MessageType::Query).set_op_code(OpCode::Query).set_recursion_desired(true);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        m.set_edns(e);
    }
    m
}

async fn udp_query(server: SocketAddr, name: &str, t: RecordType) -> Message {
    udp_query_msg(server, question(name, t, false)).await
}

async fn udp_query_msg(server: SocketAddr, q: Message) -> Message {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.connect(server).await.unwrap();
    sock.send(&q.to_vec().unwrap()).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let n = tokio::time::timeout(Duration::from_secs(5), sock.recv(&mut buf)).await.expect("dns server answered over udp").unwrap();
    let resp = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(resp.id(), q.id(), "response carries the question's id");
    assert_eq!(resp.message_type(), MessageType::Response);
    resp
}

async fn tcp_query(server: SocketAddr, name: &str, t: RecordType) -> Message {
    let q = question(name, t, false);
    let mut s = TcpStream::connect(server).await.unwrap();
    let raw = q.to_vec().unwrap();
    let mut out = (raw.len() as u16).to_be_bytes().to_vec();
    out.extend(raw);
    s.write_all(&out).await.unwrap();
    let len = tokio::time::timeout(Duration::from_secs(5), s.read_u16()).await.expect("dns server answered over tcp").unwrap();
    let mut buf = vec![0u8; len as usize];
    s.read_exact(&mut buf).await.unwrap();
    let resp = Message::from_vec(&buf).unwrap();
    assert_eq!(resp.id(), q.id());
    resp
}

fn data(m: &Message) -> Vec<String> {
    let mut v: Vec<String> = m.answers().iter().map(|r| r.data().to_string()).collect();
    v.sort();
    v
}

/// Queries until `ok` holds or `within` passes; returns the last answer and the time taken.
async fn until(server: SocketAddr, name: &str, t: RecordType, within: Duration, ok: impl Fn(&Message) -> bool) -> (Message, Duration) {
    let start = Instant::now();
    loop {
        let m = udp_query(server, name, t).await;
        if ok(&m) {
            return (m, start.elapsed());
        }
        assert!(start.elapsed() < within, "{name} {t}: still {:?} {:?} after {within:?}", m.response_code(), data(&m));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn create<K>(api: &Api<K>, v: serde_json::Value) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.create(&PostParams::default(), &serde_json::from_value(v).unwrap()).await.unwrap()
}

fn endpoint(ip: &str, hostname: Option<&str>, ready: bool) -> serde_json::Value {
    let mut e = json!({"addresses": [ip], "conditions": {"ready": ready}});
    if let Some(h) = hostname {
        e["hostname"] = json!(h);
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_dns_answers_from_the_api_and_forwards_the_rest() {
    let env = Env::start().await;
    let dns = env.dns;
    let c = env.client.clone();
    let namespaces: Api<Namespace> = Api::all(c.clone());
    create(&namespaces, json!({"metadata": {"name": "db"}})).await;
    let default_svcs: Api<Service> = Api::namespaced(c.clone(), "default");
    let db_svcs: Api<Service> = Api::namespaced(c.clone(), "db");
    let db_slices: Api<EndpointSlice> = Api::namespaced(c.clone(), "db");

    let web = create(&default_svcs, json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}})).await;
    let web_ip: IpAddr = web.spec.unwrap().cluster_ip.unwrap().parse().unwrap();
    create(&db_svcs, json!({"metadata": {"name": "pg"}, "spec": {"clusterIP": "None", "ports": [{"name": "sql", "port": 5432}]}})).await;
    create(
        &db_slices,
        json!({"metadata": {"name": "pg-1", "labels": {"kubernetes.io/service-name": "pg"}}, "addressType": "IPv4",
            "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}],
            "endpoints": [endpoint("172.31.1.10", Some("pg-0"), true), endpoint("172.31.1.11", None, true), endpoint("172.31.1.12", Some("pg-2"), false)]}),
    )
    .await;

    // ClusterIP Service: A with TTL 5, authoritative.
    let (m, _) = until(dns, "web.default.svc.cluster.local.", RecordType::A, Duration::from_secs(20), |m| m.response_code() == ResponseCode::NoError && !m.answers().is_empty()).await;
    assert_eq!(data(&m), vec![web_ip.to_string()]);
    assert!(m.authoritative());
    assert_eq!(m.answers()[0].ttl(), 5);

    // AAAA for an IPv4 Service is NODATA (NOERROR, no answers, SOA in authority).
    let m = udp_query(dns, "web.default.svc.cluster.local.", RecordType::AAAA).await;
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(m.answers().is_empty());
    assert_eq!(m.name_servers().first().map(|r| r.record_type()), Some(RecordType::SOA));

    // SRV for a named port of a ClusterIP Service points at the Service name.
    let m = udp_query(dns, "_http._tcp.web.default.svc.cluster.local.", RecordType::SRV).await;
    assert_eq!(data(&m), vec!["0 100 80 web.default.svc.cluster.local."]);
    assert_eq!(m.additionals().iter().map(|r| r.data().to_string()).collect::<Vec<_>>(), vec![web_ip.to_string()]);

    // PTR for the ClusterIP.
    let IpAddr::V4(v4) = web_ip else { panic!("ipv4 cluster ip") };
    let o = v4.octets();
    let m = udp_query(dns, &format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0]), RecordType::PTR).await;
    assert_eq!(data(&m), vec!["web.default.svc.cluster.local."]);

    // Headless: ready endpoints only, per-endpoint names, SRV per endpoint, PTR per endpoint.
    // (Each kind has its own watch: wait for the slice, not just the Service.)
    until(dns, "pg.db.svc.cluster.local.", RecordType::A, Duration::from_secs(5), |m| data(m) == vec!["172.31.1.10", "172.31.1.11"]).await;
    assert_eq!(data(&udp_query(dns, "pg-0.pg.db.svc.cluster.local.", RecordType::A).await), vec!["172.31.1.10"]);
    assert_eq!(data(&udp_query(dns, "172-31-1-11.pg.db.svc.cluster.local.", RecordType::A).await), vec!["172.31.1.11"]);
    assert_eq!(udp_query(dns, "pg-2.pg.db.svc.cluster.local.", RecordType::A).await.response_code(), ResponseCode::NXDomain);
    let m = udp_query(dns, "_sql._tcp.pg.db.svc.cluster.local.", RecordType::SRV).await;
    assert_eq!(data(&m), vec!["0 50 5432 172-31-1-11.pg.db.svc.cluster.local.", "0 50 5432 pg-0.pg.db.svc.cluster.local."]);
    assert_eq!(m.additionals().len(), 2);
    assert_eq!(data(&udp_query(dns, "10.1.31.172.in-addr.arpa.", RecordType::PTR).await), vec!["pg-0.pg.db.svc.cluster.local."]);

    // Endpoint changes show up: the unready endpoint becomes ready.
    db_slices
        .patch("pg-1", &PatchParams::default(), &Patch::Merge(json!({"endpoints": [endpoint("172.31.1.10", Some("pg-0"), true), endpoint("172.31.1.12", Some("pg-2"), true)]})))
        .await
        .unwrap();
    let (_, took) = until(dns, "pg-2.pg.db.svc.cluster.local.", RecordType::A, Duration::from_secs(5), |m| data(m) == vec!["172.31.1.12"]).await;
    println!("endpoint change visible after {took:?}");

    // Pod A records follow pod status.
    let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
    create(&pods, json!({"metadata": {"name": "p1"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).await;
    pods.patch_status("p1", &PatchParams::default(), &Patch::Merge(json!({"status": {"phase": "Running", "podIP": "172.31.2.7", "podIPs": [{"ip": "172.31.2.7"}]}})))
        .await
        .unwrap();
    until(dns, "172-31-2-7.default.pod.cluster.local.", RecordType::A, Duration::from_secs(5), |m| data(m) == vec!["172.31.2.7"]).await;
    assert_eq!(udp_query(dns, "172-31-2-7.db.pod.cluster.local.", RecordType::A).await.response_code(), ResponseCode::NXDomain);

    // Search-path expansions of outside names fail fast with NXDOMAIN and the zone's SOA.
    for name in ["google.com.default.svc.cluster.local.", "google.com.svc.cluster.local.", "google.com.cluster.local."] {
        let start = Instant::now();
        let m = udp_query(dns, name, RecordType::A).await;
        assert_eq!(m.response_code(), ResponseCode::NXDomain, "{name}");
        assert!(m.authoritative());
        assert_eq!(m.name_servers().first().map(|r| r.record_type()), Some(RecordType::SOA));
        assert!(start.elapsed() < Duration::from_millis(500), "{name} took {:?}", start.elapsed());
    }

    // Outside the zone: forwarded to the upstream, over UDP and over TCP.
    let m = udp_query(dns, "www.example.test.", RecordType::A).await;
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert_eq!(data(&m), vec!["192.0.2.1"]);
    assert_eq!(data(&tcp_query(dns, "www.example.test.", RecordType::A).await), vec!["192.0.2.1"]);
    assert_eq!(udp_query(dns, "nothing.invalid.", RecordType::A).await.response_code(), ResponseCode::NXDomain);
    // An upstream that does not answer: SERVFAIL after the timeout.
    let start = Instant::now();
    assert_eq!(udp_query(dns, "a.silent.test.", RecordType::A).await.response_code(), ResponseCode::ServFail);
    assert!(start.elapsed() >= Duration::from_millis(450), "servfail came before the upstream timeout");

    // ExternalName: a CNAME, followed upstream for addresses.
    create(&default_svcs, json!({"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "db.example.test"}})).await;
    let (m, _) = until(dns, "ext.default.svc.cluster.local.", RecordType::A, Duration::from_secs(5), |m| !m.answers().is_empty()).await;
    let types: Vec<RecordType> = m.answers().iter().map(|r| r.record_type()).collect();
    assert_eq!(types, vec![RecordType::CNAME, RecordType::A]);
    assert_eq!(data(&m), vec!["192.0.2.1", "db.example.test."]);

    // Deleting a Service removes its name.
    default_svcs.delete("web", &DeleteParams::default()).await.unwrap();
    let (_, took) = until(dns, "web.default.svc.cluster.local.", RecordType::A, Duration::from_secs(5), |m| m.response_code() == ResponseCode::NXDomain).await;
    println!("service deletion visible after {took:?}");
    assert!(took < Duration::from_secs(2), "deletion took {took:?}");

    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_udp_answers_are_truncated_and_complete_over_tcp() {
    let env = Env::start().await;
    let dns = env.dns;
    let svcs: Api<Service> = Api::namespaced(env.client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(env.client.clone(), "default");
    create(&svcs, json!({"metadata": {"name": "big"}, "spec": {"clusterIP": "None", "ports": [{"name": "p", "port": 1}]}})).await;
    let eps: Vec<_> = (1..=60).map(|i| endpoint(&format!("172.31.3.{i}"), None, true)).collect();
    create(&slices, json!({"metadata": {"name": "big-1", "labels": {"kubernetes.io/service-name": "big"}}, "addressType": "IPv4", "endpoints": eps})).await;

    let name = "big.default.svc.cluster.local.";
    let (m, _) = until(dns, name, RecordType::A, Duration::from_secs(20), |m| m.truncated() || m.answers().len() == 60).await;
    assert!(m.truncated(), "60 A records do not fit 512 bytes");
    assert!(m.answers().is_empty());
    // With EDNS the client can take it over UDP.
    let m = udp_query_msg(dns, question(name, RecordType::A, true)).await;
    assert!(!m.truncated());
    assert_eq!(m.answers().len(), 60);
    assert!(m.extensions().is_some(), "edns answered with edns");
    // TCP fallback gets everything.
    let m = tcp_query(dns, name, RecordType::A).await;
    assert!(!m.truncated());
    assert_eq!(m.answers().len(), 60);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_dns_service_points_at_the_dns_server_and_converges() {
    let env = Env::start().await;
    let want = wharf_dns::KubeDnsService { cluster_ip: "10.100.0.10".parse().unwrap(), endpoints: vec!["172.31.0.1".parse().unwrap()], port: 53 };
    wharf_dns::ensure_kube_dns_service(env.client.clone(), &want).await.unwrap();
    wharf_dns::ensure_kube_dns_service(env.client.clone(), &want).await.unwrap();
    let svc = Api::<Service>::namespaced(env.client.clone(), "kube-system").get("kube-dns").await.unwrap();
    let spec = svc.spec.unwrap();
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.100.0.10"));
    assert!(spec.selector.is_none());
    let slice = Api::<EndpointSlice>::namespaced(env.client.clone(), "kube-system").get("kube-dns-wharf").await.unwrap();
    assert_eq!(slice.endpoints[0].addresses, vec!["172.31.0.1".to_string()]);
    let (m, _) = until(env.dns, "kube-dns.kube-system.svc.cluster.local.", RecordType::A, Duration::from_secs(20), |m| !m.answers().is_empty()).await;
    assert_eq!(data(&m), vec!["10.100.0.10"]);
    let m = udp_query(env.dns, "_dns._udp.kube-dns.kube-system.svc.cluster.local.", RecordType::SRV).await;
    assert_eq!(data(&m), vec!["0 100 53 kube-dns.kube-system.svc.cluster.local."]);

    // A server calling in-process as DNS_USER is allowed to watch what it needs.
    let cp = env.cp.as_ref().unwrap();
    let as_dns = cp.client(UserInfo::new(wharf_dns::DNS_USER, &["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]));
    let (udp, tcp) = udp_tcp_pair().await;
    let addr = udp.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(wharf_dns::run(as_dns, DnsConfig::default(), (udp, tcp), async move {
        let _ = rx.await;
    }));
    let (m, _) = until(addr, "kube-dns.kube-system.svc.cluster.local.", RecordType::A, Duration::from_secs(20), |m| !m.answers().is_empty()).await;
    assert_eq!(data(&m), vec!["10.100.0.10"]);
    let _ = tx.send(());
    server.await.unwrap().unwrap();
    env.shutdown().await;
}

/// A UDP socket and a TCP listener on the same free loopback port (a random UDP port may be
/// taken for TCP by another test: try again with another one).
async fn udp_tcp_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
            return (udp, tcp);
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}
