//! The DNS server: watches that keep [`Records`] current, the UDP and TCP listeners, and the
//! upstream forwarder.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource, ResourceExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;

use crate::records::{Records, Resolution};
use crate::{DnsConfig, Error, Result};

/// How long a TCP connection may sit idle between queries (RFC 7766 suggests seconds).
const TCP_IDLE: Duration = Duration::from_secs(10);
/// The UDP payload size this server advertises in EDNS (the DNS flag day 2020 value).
const EDNS_PAYLOAD: u16 = 1232;
/// UDP questions handled at once; beyond this, new ones are dropped (clients retry).
const UDP_INFLIGHT: usize = 4096;
/// Number of watches that must have listed before in-zone questions are answered.
const WATCHES: usize = 3;

/// Shared server state.
struct Shared {
    cfg: DnsConfig,
    records: RwLock<Records>,
    /// How many of the watches have completed their first list.
    synced: AtomicUsize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

/// Serves cluster DNS on `sockets` until `stop` completes. Records come from watches of
/// Services, EndpointSlices and Pods through `client`; questions outside the cluster zone
/// (and reverse names the cluster does not know) go to `cfg.upstreams`. Until every watch has
/// listed once, in-zone questions are answered SERVFAIL so clients retry instead of caching a
/// wrong NXDOMAIN.
pub async fn run(client: Client, mut cfg: DnsConfig, sockets: (UdpSocket, TcpListener), stop: impl Future<Output = ()>) -> Result<()> {
    let (udp, tcp) = sockets;
    let udp_addr = udp.local_addr().map_err(Error::Socket)?;
    let tcp_addr = tcp.local_addr().map_err(Error::Socket)?;
    // Forwarding to ourselves would loop every outside question until it timed out.
    cfg.upstreams.retain(|u| {
        let own = *u == udp_addr || *u == tcp_addr;
        if own {
            tracing::warn!(upstream = %u, "dropping upstream that is this server");
        }
        !own
    });
    let shared = Arc::new(Shared { records: RwLock::new(Records::new(&cfg.zone, cfg.ttl)), cfg, synced: AtomicUsize::new(0) });
    let mut tasks = JoinSet::new();
    tasks.spawn(watch::<Service>(Api::all(client.clone()), shared.clone(), |r, s| r.apply_service(s), |r, s| r.delete_service(&s.namespace().unwrap_or_default(), &s.name_any()), |r, l| r.replace_services(l)));
    tasks.spawn(watch::<EndpointSlice>(Api::all(client.clone()), shared.clone(), |r, s| r.apply_slice(s), |r, s| r.delete_slice(&s.namespace().unwrap_or_default(), &s.name_any()), |r, l| r.replace_slices(l)));
    tasks.spawn(watch::<Pod>(Api::all(client), shared.clone(), |r, p| r.apply_pod(p), |r, p| r.delete_pod(&p.namespace().unwrap_or_default(), &p.name_any()), |r, l| r.replace_pods(l)));
    tasks.spawn(serve_udp(Arc::new(udp), shared.clone()));
    tasks.spawn(serve_tcp(tcp, shared.clone()));
    tracing::info!(udp = %udp_addr, tcp = %tcp_addr, zone = %shared.cfg.zone, upstreams = ?shared.cfg.upstreams, "cluster dns serving");
    stop.await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Follows one kind into the records.
async fn watch<K>(
    api: Api<K>,
    shared: Arc<Shared>,
    apply: fn(&mut Records, &K),
    delete: fn(&mut Records, &K),
    replace: fn(&mut Records, &[K]),
) where
    K: Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let kind = std::any::type_name::<K>().rsplit("::").next().unwrap_or("object");
    let mut stream = watcher::watcher(api, watcher::Config::default()).default_backoff().boxed();
    let mut buffer: Vec<K> = Vec::new();
    let mut first = true;
    loop {
        let ev = match stream.try_next().await {
            Ok(Some(ev)) => ev,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(kind, error = %e, "watch failed, retrying");
                continue;
            }
        };
        let mut records = match shared.records.write() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        match ev {
            Event::Apply(o) => apply(&mut records, &o),
            Event::Delete(o) => delete(&mut records, &o),
            Event::Init => buffer.clear(),
            Event::InitApply(o) => buffer.push(o),
            Event::InitDone => {
                replace(&mut records, &buffer);
                buffer = Vec::new();
                if first {
                    first = false;
                    shared.synced.fetch_add(1, Ordering::SeqCst);
                    tracing::debug!(kind, "dns watch synced");
                }
            }
        }
    }
}

async fn serve_udp(sock: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 65535];
    let mut inflight = JoinSet::new();
    loop {
        let (n, peer) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // ICMP errors from earlier replies surface here on Linux; keep serving.
                tracing::debug!(error = %e, "udp receive failed");
                continue;
            }
        };
        while inflight.try_join_next().is_some() {}
        if inflight.len() >= UDP_INFLIGHT {
            tracing::debug!(%peer, "dns busy, dropping udp question");
            continue;
        }
        let req = buf[..n].to_vec();
        let (sock, shared) = (sock.clone(), shared.clone());
        inflight.spawn(async move {
            if let Some(resp) = handle(&shared, &req, Transport::Udp).await {
                if let Err(e) = sock.send_to(&resp, peer).await {
                    tracing::debug!(%peer, error = %e, "udp send failed");
                }
            }
        });
    }
}

async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        conns.spawn(async move {
            if let Err(e) = serve_tcp_conn(stream, &shared).await {
                tracing::debug!(%peer, error = %e, "dns tcp connection ended");
            }
        });
        while conns.try_join_next().is_some() {}
    }
}

async fn serve_tcp_conn(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    loop {
        let len = match tokio::time::timeout(TCP_IDLE, stream.read_u16()).await {
            Ok(Ok(len)) => len,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Ok(()),
        };
        let mut req = vec![0u8; usize::from(len)];
        tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut req)).await.map_err(|_| std::io::ErrorKind::TimedOut)??;
        if let Some(resp) = handle(shared, &req, Transport::Tcp).await {
            write_framed(&mut stream, &resp).await?;
        }
    }
}

async fn write_framed(stream: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(msg.len()).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "dns message over 65535 bytes"))?;
    let mut out = Vec::with_capacity(msg.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(msg);
    stream.write_all(&out).await
}

/// A reply carrying only a response code, for a request that could not be parsed far enough.
fn bare_error(raw: &[u8], code: ResponseCode) -> Option<Vec<u8>> {
    let id = u16::from_be_bytes([*raw.first()?, *raw.get(1)?]);
    Message::error_msg(id, OpCode::Query, code).to_vec().ok()
}

/// Answers one request; `None` drops it (unparseable, or itself a response).
async fn handle(shared: &Shared, raw: &[u8], transport: Transport) -> Option<Vec<u8>> {
    if raw.len() < 12 {
        return None;
    }
    let req = match Message::from_vec(raw) {
        Ok(m) => m,
        Err(_) => return bare_error(raw, ResponseCode::FormErr),
    };
    if req.message_type() != MessageType::Query {
        return None;
    }
    if req.op_code() != OpCode::Query {
        return reply(&req, ResponseCode::NotImp, Vec::new(), Vec::new(), Vec::new(), transport);
    }
    let [query] = req.queries() else {
        return reply(&req, ResponseCode::FormErr, Vec::new(), Vec::new(), Vec::new(), transport);
    };
    let (resolution, soa) = {
        let records = match shared.records.read() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        let res = records.resolve(query.name(), query.query_type());
        let in_zone = records.in_zone(query.name());
        if in_zone && shared.synced.load(Ordering::SeqCst) < WATCHES {
            return reply(&req, ResponseCode::ServFail, Vec::new(), Vec::new(), Vec::new(), transport);
        }
        (res, records.soa())
    };
    match resolution {
        Resolution::Forward => match forward(&shared.cfg, raw, transport).await {
            Some(resp) => Some(resp),
            None => reply(&req, ResponseCode::ServFail, Vec::new(), Vec::new(), Vec::new(), transport),
        },
        Resolution::NxDomain => reply(&req, ResponseCode::NXDomain, Vec::new(), soa.into_iter().collect(), Vec::new(), transport),
        Resolution::Answer { mut answers, additionals } => {
            if answers.is_empty() {
                return reply(&req, ResponseCode::NoError, Vec::new(), soa.into_iter().collect(), additionals, transport);
            }
            chase_external_cname(shared, query, &mut answers, transport).await;
            reply(&req, ResponseCode::NoError, answers, Vec::new(), additionals, transport)
        }
    }
}

/// An ExternalName Service answers with a CNAME to a name outside the cluster; for address
/// questions, the target's addresses are looked up upstream and appended, as CoreDNS does, so
/// stub resolvers get a usable answer in one round trip.
async fn chase_external_cname(shared: &Shared, query: &Query, answers: &mut Vec<Record>, transport: Transport) {
    if !matches!(query.query_type(), RecordType::A | RecordType::AAAA) {
        return;
    }
    let Some(target) = answers.last().and_then(|r| match r.data() {
        RData::CNAME(c) => Some(c.0.clone()),
        _ => None,
    }) else {
        return;
    };
    let in_zone = shared.records.read().map(|r| r.in_zone(&target)).unwrap_or(true);
    if in_zone {
        return;
    }
    let mut q = Message::new();
    q.set_id(rand::random()).set_message_type(MessageType::Query).set_op_code(OpCode::Query).set_recursion_desired(true);
    q.add_query(Query::query(target, query.query_type()));
    let Ok(raw) = q.to_vec() else { return };
    let Some(resp) = forward(&shared.cfg, &raw, transport).await else { return };
    if let Ok(m) = Message::from_vec(&resp) {
        if m.response_code() == ResponseCode::NoError {
            answers.extend(m.answers().iter().cloned());
        }
    }
}

/// Builds and encodes a response, truncating (TC bit, no records) when a UDP reply would not
/// fit the requester's payload size.
fn reply(req: &Message, code: ResponseCode, answers: Vec<Record>, authority: Vec<Record>, additionals: Vec<Record>, transport: Transport) -> Option<Vec<u8>> {
    let mut m = Message::new();
    m.set_id(req.id())
        .set_message_type(MessageType::Response)
        .set_op_code(req.op_code())
        .set_authoritative(code != ResponseCode::ServFail)
        .set_recursion_desired(req.recursion_desired())
        .set_recursion_available(true)
        .set_checking_disabled(req.checking_disabled())
        .set_response_code(code);
    m.add_queries(req.queries().iter().cloned());
    m.add_answers(answers);
    m.add_name_servers(authority);
    m.add_additionals(additionals);
    if req.extensions().is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        m.set_edns(edns);
    }
    let bytes = m.to_vec().ok()?;
    if transport == Transport::Udp && bytes.len() > usize::from(req.max_payload()) {
        return m.truncate().to_vec().ok();
    }
    Some(bytes)
}

/// Sends a request to each upstream in turn until one answers; the response comes back with
/// the client's id. `None` when none answered in time.
async fn forward(cfg: &DnsConfig, raw: &[u8], transport: Transport) -> Option<Vec<u8>> {
    if raw.len() < 12 {
        return None;
    }
    let client_id = [raw[0], raw[1]];
    for upstream in &cfg.upstreams {
        let id: u16 = rand::random();
        let mut out = raw.to_vec();
        out[..2].copy_from_slice(&id.to_be_bytes());
        let attempt: BoxFut<'_, std::io::Result<Vec<u8>>> = match transport {
            Transport::Udp => Box::pin(forward_udp(*upstream, &out, id)),
            Transport::Tcp => Box::pin(forward_tcp(*upstream, &out, id)),
        };
        match tokio::time::timeout(cfg.upstream_timeout, attempt).await {
            Ok(Ok(mut resp)) => {
                resp[..2].copy_from_slice(&client_id);
                return Some(resp);
            }
            Ok(Err(e)) => tracing::debug!(%upstream, error = %e, "upstream dns failed"),
            Err(_) => tracing::debug!(%upstream, "upstream dns timed out"),
        }
    }
    None
}

type BoxFut<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

async fn forward_udp(upstream: SocketAddr, out: &[u8], id: u16) -> std::io::Result<Vec<u8>> {
    {
        let bind: SocketAddr = if upstream.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
        let sock = UdpSocket::bind(bind).await?;
        sock.connect(upstream).await?;
        sock.send(out).await?;
        let mut buf = vec![0u8; 65535];
        loop {
            let n = sock.recv(&mut buf).await?;
            // Only a response to this question counts; anything else is stray or spoofed.
            if n >= 12 && buf[..2] == id.to_be_bytes() && buf[2] & 0x80 != 0 {
                buf.truncate(n);
                return Ok(buf);
            }
        }
    }
}

async fn forward_tcp(upstream: SocketAddr, out: &[u8], id: u16) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    write_framed(&mut stream, out).await?;
    let len = stream.read_u16().await?;
    let mut buf = vec![0u8; usize::from(len)];
    stream.read_exact(&mut buf).await?;
    if buf.len() < 12 || buf[..2] != id.to_be_bytes() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "upstream answered with another id"));
    }
    Ok(buf)
}
