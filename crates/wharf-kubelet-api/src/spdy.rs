//! Port-forward over SPDY/3.1 as kubectl speaks it: either tunnelled through a WebSocket
//! (subprotocol `SPDY/3.1+portforward.k8s.io`, kubectl ≥ 1.31's default: every binary
//! message carries raw SPDY bytes) or on a connection upgraded with `Upgrade: SPDY/3.1`
//! (`X-Stream-Protocol-Version: portforward.k8s.io`, kubectl's fallback).
//!
//! The client opens, per forwarded connection, an `error` stream and a `data` stream (SYN_STREAM
//! headers `streamtype`, `port`, `requestid`); the server replies to each, connects to the port
//! inside the pod and copies bytes both ways as DATA frames. When the pod side is done the
//! server closes (FIN) the data stream and then the error stream, which is what kubectl waits
//! for; a failed connect is reported as text on the error stream. Header blocks are zlib
//! streams (one per direction) with SPDY/3's preset dictionary. Flow control (WINDOW_UPDATE)
//! is not enforced by kubectl's SPDY library and is ignored here.

use std::collections::HashMap;
use std::sync::Arc;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::ws::{self, Message, Outgoing};
use crate::{NodeRuntime, PodRef};

/// The WebSocket subprotocol tunnelling SPDY port-forward (kubectl ≥ 1.31).
pub const WS_TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// The `Upgrade` token of a plain SPDY connection.
pub const UPGRADE_TOKEN: &str = "SPDY/3.1";
/// The `X-Stream-Protocol-Version` of port-forward.
pub const STREAM_PROTOCOL: &str = "portforward.k8s.io";

const VERSION: u16 = 3;
const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const FLAG_FIN: u8 = 0x01;
/// A DATA frame's payload is at most this large (the length field has 24 bits; stay small).
const MAX_DATA: usize = 32 * 1024;

/// SPDY/3's preset header-compression dictionary (draft 3, §2.6.10.1): length-prefixed header
/// names and values followed by common status lines, dates and content types.
fn dictionary() -> Vec<u8> {
    const WORDS: &[&str] = &[
        "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding", "accept-language",
        "accept-ranges", "age", "allow", "authorization", "cache-control", "connection", "content-base", "content-encoding",
        "content-language", "content-length", "content-location", "content-md5", "content-range", "content-type", "date", "etag",
        "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
        "last-modified", "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
        "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
        "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive",
        "origin",
    ];
    const TAIL: &str = concat!(
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized",
        "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable",
        "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,",
        "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
    );
    let mut d = Vec::with_capacity(1423);
    for w in WORDS {
        d.extend_from_slice(&(w.len() as u32).to_be_bytes());
        d.extend_from_slice(w.as_bytes());
    }
    d.extend_from_slice(TAIL.as_bytes());
    d
}

fn invalid(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// The two zlib streams of a session.
struct Headers {
    dict: Vec<u8>,
    inflate: Decompress,
    deflate: Compress,
    deflate_started: bool,
}

impl Headers {
    fn new() -> Self {
        Headers { dict: dictionary(), inflate: Decompress::new(true), deflate: Compress::new(Compression::default(), true), deflate_started: false }
    }

    /// Decompresses one frame's header block and parses its name/value pairs.
    fn decode(&mut self, block: &[u8]) -> std::io::Result<Vec<(String, String)>> {
        let mut out = Vec::with_capacity(block.len() * 4 + 256);
        let mut pos = 0;
        let mut rounds = 0;
        while pos < block.len() {
            rounds += 1;
            if rounds > 10_000 {
                return Err(invalid("header block does not decompress"));
            }
            if out.capacity() - out.len() < 1024 {
                out.reserve(4096);
            }
            let before = self.inflate.total_in();
            match self.inflate.decompress_vec(&block[pos..], &mut out, FlushDecompress::Sync) {
                Ok(Status::StreamEnd) => break,
                Ok(_) => pos += (self.inflate.total_in() - before) as usize,
                Err(e) if e.needs_dictionary().is_some() => {
                    pos += (self.inflate.total_in() - before) as usize;
                    self.inflate.set_dictionary(&self.dict).map_err(|e| invalid(format!("header dictionary: {e}")))?;
                }
                Err(e) => return Err(invalid(format!("header block: {e}"))),
            }
        }
        // Anything still buffered inside the inflater for this block.
        loop {
            if out.capacity() - out.len() < 1024 {
                out.reserve(4096);
            }
            let before = out.len();
            match self.inflate.decompress_vec(&[], &mut out, FlushDecompress::Sync) {
                Ok(_) if out.len() > before => continue,
                _ => break,
            }
        }
        parse_pairs(&out)
    }

    /// Compresses a header block with these pairs (sync-flushed: the frame is self-contained).
    fn encode(&mut self, pairs: &[(&str, &str)]) -> std::io::Result<Vec<u8>> {
        if !self.deflate_started {
            self.deflate_started = true;
            self.deflate.set_dictionary(&self.dict).map_err(|e| invalid(format!("header dictionary: {e}")))?;
        }
        let mut raw = Vec::new();
        raw.extend_from_slice(&(pairs.len() as u32).to_be_bytes());
        for (k, v) in pairs {
            raw.extend_from_slice(&(k.len() as u32).to_be_bytes());
            raw.extend_from_slice(k.as_bytes());
            raw.extend_from_slice(&(v.len() as u32).to_be_bytes());
            raw.extend_from_slice(v.as_bytes());
        }
        let mut out = Vec::with_capacity(raw.len() + 64);
        let mut pos = 0;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(256);
            }
            let before = self.deflate.total_in();
            let out_before = out.len();
            self.deflate.compress_vec(&raw[pos..], &mut out, FlushCompress::Sync).map_err(|e| invalid(format!("compressing headers: {e}")))?;
            pos += (self.deflate.total_in() - before) as usize;
            // Done once all input is in and the flush left spare room in the output.
            if pos >= raw.len() && out.len() < out.capacity() && out.len() > out_before {
                break;
            }
            if pos >= raw.len() && out.len() == out_before {
                break;
            }
        }
        Ok(out)
    }
}

fn parse_pairs(b: &[u8]) -> std::io::Result<Vec<(String, String)>> {
    let mut pos = 0;
    let mut take = |n: usize| -> std::io::Result<&[u8]> {
        let s = b.get(pos..pos + n).ok_or_else(|| invalid("truncated header block"))?;
        pos += n;
        Ok(s)
    };
    let u32_of = |s: &[u8]| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize;
    let n = u32_of(take(4)?);
    let mut pairs = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let kl = u32_of(take(4)?);
        let k = String::from_utf8_lossy(take(kl)?).into_owned();
        let vl = u32_of(take(4)?);
        let v = String::from_utf8_lossy(take(vl)?).into_owned();
        pairs.push((k.to_ascii_lowercase(), v));
    }
    Ok(pairs)
}

fn control(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + payload.len());
    f.extend_from_slice(&(0x8000 | VERSION).to_be_bytes());
    f.extend_from_slice(&kind.to_be_bytes());
    f.push(flags);
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    f.extend_from_slice(payload);
    f
}

fn data(stream: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + payload.len());
    f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    f.push(flags);
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    f.extend_from_slice(payload);
    f
}

/// One frame as read.
enum Frame {
    Control { kind: u16, flags: u8, payload: Vec<u8> },
    Data { stream: u32, flags: u8, payload: Vec<u8> },
}

async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Frame> {
    let mut h = [0u8; 8];
    r.read_exact(&mut h).await?;
    let len = u32::from_be_bytes([0, h[5], h[6], h[7]]) as usize;
    if len > 16 << 20 {
        return Err(invalid(format!("frame of {len} bytes")));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    if h[0] & 0x80 != 0 {
        Ok(Frame::Control { kind: u16::from_be_bytes([h[2], h[3]]), flags: h[4], payload })
    } else {
        Ok(Frame::Data { stream: u32::from_be_bytes([h[0], h[1], h[2], h[3]]) & 0x7fff_ffff, flags: h[4], payload })
    }
}

fn be32(p: &[u8], at: usize) -> std::io::Result<u32> {
    p.get(at..at + 4).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) & 0x7fff_ffff).ok_or_else(|| invalid("short control frame"))
}

/// Bytes from the client for one data stream; `None` is its FIN.
type Inbound = mpsc::Sender<Option<Vec<u8>>>;

/// The streams of one forwarded connection (`requestid`).
#[derive(Default)]
struct Pair {
    error: Option<u32>,
    data: Option<(u32, u16)>,
    started: bool,
}

/// Serves port-forward on a SPDY connection until the client goes away.
pub async fn serve_spdy<S>(io: S, pod: PodRef, runtime: Arc<dyn NodeRuntime>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(64);
    let writer = tokio::spawn(async move {
        while let Some(f) = out_rx.recv().await {
            if wr.write_all(&f).await.is_err() || wr.flush().await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut headers = Headers::new();
    let mut inbound: HashMap<u32, Inbound> = HashMap::new();
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let frame = match read_frame(&mut rd).await {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(error = %e, "port-forward session ended");
                break;
            }
        };
        match frame {
            Frame::Control { kind: SYN_STREAM, payload, .. } => {
                let stream = match be32(&payload, 0) {
                    Ok(s) => s,
                    Err(_) => break,
                };
                let pairs_in = match payload.get(10..).ok_or_else(|| invalid("short SYN_STREAM")).and_then(|b| headers.decode(b)) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::debug!(error = %e, "port-forward: bad SYN_STREAM");
                        break;
                    }
                };
                let get = |k: &str| pairs_in.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
                let reply = match headers.encode(&[]) {
                    Ok(b) => b,
                    Err(_) => break,
                };
                let mut p = stream.to_be_bytes().to_vec();
                p.extend_from_slice(&reply);
                if out_tx.send(control(SYN_REPLY, 0, &p)).await.is_err() {
                    break;
                }
                let request = get("requestid");
                let entry = pairs.entry(request.clone()).or_default();
                match get("streamtype").as_str() {
                    "error" => entry.error = Some(stream),
                    "data" => {
                        let port: u16 = match get("port").parse() {
                            Ok(p) if p > 0 => p,
                            _ => {
                                let _ = out_tx.send(control(RST_STREAM, 0, &[stream.to_be_bytes(), 1u32.to_be_bytes()].concat())).await;
                                continue;
                            }
                        };
                        entry.data = Some((stream, port));
                    }
                    other => {
                        tracing::debug!(streamtype = other, "port-forward: unknown stream type");
                        let _ = out_tx.send(control(RST_STREAM, 0, &[stream.to_be_bytes(), 1u32.to_be_bytes()].concat())).await;
                        continue;
                    }
                }
                // Both streams of the connection are open: connect inside the pod.
                if let (Some(err_stream), Some((data_stream, port)), false) = (entry.error, entry.data, entry.started) {
                    entry.started = true;
                    let (tx, rx) = mpsc::channel(16);
                    inbound.insert(data_stream, tx);
                    tasks.spawn(forward(runtime.clone(), pod.clone(), port, data_stream, err_stream, rx, out_tx.clone()));
                    pairs.remove(&request);
                }
            }
            Frame::Control { kind: PING, payload, flags } => {
                if out_tx.send(control(PING, flags, &payload)).await.is_err() {
                    break;
                }
            }
            Frame::Control { kind: RST_STREAM, payload, .. } => {
                if let Ok(s) = be32(&payload, 0) {
                    inbound.remove(&s);
                }
            }
            Frame::Control { kind: GOAWAY, .. } => break,
            // SETTINGS, WINDOW_UPDATE, HEADERS and anything newer: nothing to do.
            Frame::Control { .. } => {}
            Frame::Data { stream, flags, payload } => {
                if let Some(tx) = inbound.get(&stream) {
                    if !payload.is_empty() && tx.send(Some(payload)).await.is_err() {
                        inbound.remove(&stream);
                    }
                    if flags & FLAG_FIN != 0 {
                        if let Some(tx) = inbound.remove(&stream) {
                            let _ = tx.send(None).await;
                        }
                    }
                }
            }
        }
        while tasks.try_join_next().is_some() {}
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    drop(out_tx);
    let _ = writer.await;
}

/// One forwarded connection: pod port ↔ data stream; errors and the end on the error stream.
async fn forward(runtime: Arc<dyn NodeRuntime>, pod: PodRef, port: u16, data_stream: u32, err_stream: u32, mut rx: mpsc::Receiver<Option<Vec<u8>>>, out: mpsc::Sender<Vec<u8>>) {
    let conn = match runtime.port_forward(&pod, port).await {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("error forwarding port {port} to pod {}/{}: {e}", pod.namespace, pod.name);
            let _ = out.send(data(err_stream, 0, msg.as_bytes())).await;
            let _ = out.send(data(err_stream, FLAG_FIN, &[])).await;
            let _ = out.send(data(data_stream, FLAG_FIN, &[])).await;
            return;
        }
    };
    let (mut r, mut w) = tokio::io::split(conn);
    let to_pod = async move {
        while let Some(Some(chunk)) = rx.recv().await {
            if w.write_all(&chunk).await.is_err() {
                return;
            }
        }
        // The client closed its side.
        let _ = w.shutdown().await;
    };
    let out2 = out.clone();
    let from_pod = async move {
        let mut buf = vec![0u8; MAX_DATA];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out2.send(data(data_stream, 0, &buf[..n])).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = out2.send(data(data_stream, FLAG_FIN, &[])).await;
    };
    // The pod side ending (or the client going away) ends the connection.
    tokio::pin!(to_pod);
    tokio::select! {
        _ = from_pod => {}
        _ = &mut to_pod => {}
    }
    let _ = out.send(data(err_stream, FLAG_FIN, &[])).await;
}

/// Runs a SPDY session tunnelled through a WebSocket: binary messages carry the raw bytes.
pub async fn serve_ws_tunnel<S>(io: S, pod: PodRef, runtime: Arc<dyn NodeRuntime>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, wr) = tokio::io::split(io);
    let (tx, rx) = mpsc::channel::<Outgoing>(64);
    let writer = tokio::spawn(ws::run_writer(wr, rx));
    let (session, local) = tokio::io::duplex(256 * 1024);
    let spdy = tokio::spawn(serve_spdy(session, pod, runtime));
    let (mut local_rd, mut local_wr) = tokio::io::split(local);
    // The session's bytes go out as binary messages.
    let tx2 = tx.clone();
    let mut outbound = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match local_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx2.send(Outgoing::Binary(buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    // Binary messages come in as the session's bytes.
    let mut reader = ws::Reader::new(rd, tx.clone());
    let inbound = async {
        // Until the client closes (or the connection fails).
        while let Ok(Message::Binary(d) | Message::Text(d)) = reader.next().await {
            if local_wr.write_all(&d).await.is_err() {
                break;
            }
        }
        let _ = local_wr.shutdown().await;
    };
    let outbound_done = tokio::select! {
        _ = inbound => false,
        _ = &mut outbound => true,
    };
    // The session sees the end of its input and stops; give it a moment to flush.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), spdy).await;
    if !outbound_done {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut outbound).await;
        outbound.abort();
    }
    let _ = tx.send(Outgoing::Close(1000)).await;
    drop(tx);
    let _ = writer.await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_is_spdy3s() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        // The dictionary id a zlib stream carries (kubectl's SPDY library uses the same bytes).
        let mut a: u32 = 1;
        let mut b: u32 = 0;
        for x in &d {
            a = (a + u32::from(*x)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!((b << 16) | a, 0xe3c6_a7c2);
    }

    #[test]
    fn header_blocks_round_trip_across_frames_of_one_session() {
        let mut client = Headers::new();
        let mut server = Headers::new();
        for i in 0..3 {
            let id = i.to_string();
            let block = client.encode(&[("streamtype", "data"), ("port", "8080"), ("requestid", &id)]).unwrap();
            let got = server.decode(&block).unwrap();
            assert_eq!(got, vec![("streamtype".into(), "data".into()), ("port".into(), "8080".into()), ("requestid".into(), id)]);
        }
        let empty = server.encode(&[]).unwrap();
        assert!(client.decode(&empty).unwrap().is_empty());
    }

    #[test]
    fn frames_encode_as_spdy3() {
        assert_eq!(control(PING, 0, &[0, 0, 0, 1]), vec![0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]);
        assert_eq!(data(5, FLAG_FIN, b"hi"), vec![0, 0, 0, 5, 1, 0, 0, 2, b'h', b'i']);
    }
}
