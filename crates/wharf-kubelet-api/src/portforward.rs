//! Port-forward over WebSocket as the kubelet serves it (`portforward.k8s.io`): the ports
//! come as `?port=` query values; port number i uses channel 2i for data and 2i+1 for
//! errors, and the first message the server sends on each channel is the port number
//! (two bytes, little endian).
//!
//! kubectl 1.32 itself tunnels SPDY/3.1 through its WebSocket (`SPDY/3.1+portforward.k8s.io`)
//! or falls back to SPDY; both are served by [`crate::spdy`].

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::ws::{self, Message, Outgoing};
use crate::Duplex;

/// The WebSocket subprotocol of port-forward.
pub const PROTOCOL: &str = "portforward.k8s.io";
/// Protocols accepted, most preferred first.
pub const PROTOCOLS: &[&str] = &[PROTOCOL, "v4.channel.k8s.io"];

fn framed(channel: u8, data: &[u8]) -> Outgoing {
    let mut b = Vec::with_capacity(data.len() + 1);
    b.push(channel);
    b.extend_from_slice(data);
    Outgoing::Binary(b)
}

/// Runs a port-forward session: `conns[i]` is the connection (or the error) for `ports[i]`.
pub async fn run<S>(io: S, ports: Vec<u16>, conns: Vec<Result<Box<dyn Duplex>, String>>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, wr) = tokio::io::split(io);
    let (tx, rx) = mpsc::channel::<Outgoing>(64);
    let writer = tokio::spawn(ws::run_writer(wr, rx));
    let mut writers: Vec<Option<tokio::io::WriteHalf<Box<dyn Duplex>>>> = Vec::new();
    let mut tasks = Vec::new();
    for (i, (port, conn)) in ports.iter().zip(conns).enumerate() {
        let (data, err) = ((2 * i) as u8, (2 * i + 1) as u8);
        let _ = tx.send(framed(data, &port.to_le_bytes())).await;
        let _ = tx.send(framed(err, &port.to_le_bytes())).await;
        match conn {
            Ok(c) => {
                let (mut r, w) = tokio::io::split(c);
                writers.push(Some(w));
                let tx = tx.clone();
                tasks.push(tokio::spawn(async move {
                    let mut buf = vec![0u8; 32 * 1024];
                    while let Ok(n) = r.read(&mut buf).await {
                        if n == 0 || tx.send(framed(data, &buf[..n])).await.is_err() {
                            break;
                        }
                    }
                }));
            }
            Err(e) => {
                writers.push(None);
                let _ = tx.send(framed(err, e.as_bytes())).await;
            }
        }
    }
    let mut r = ws::Reader::new(rd, tx.clone());
    let reading = async {
        loop {
            let data = match r.next().await {
                Ok(Message::Binary(d)) | Ok(Message::Text(d)) => d,
                Ok(Message::Close) | Err(_) => return,
            };
            let Some((&channel, payload)) = data.split_first() else { continue };
            if channel % 2 != 0 {
                continue;
            }
            if let Some(Some(w)) = writers.get_mut(usize::from(channel / 2)) {
                if w.write_all(payload).await.is_err() {
                    writers[usize::from(channel / 2)] = None;
                }
            }
        }
    };
    let all_done = futures::future::join_all(tasks);
    tokio::select! {
        _ = reading => {}
        _ = all_done => {}
    }
    let _ = tx.send(Outgoing::Close(1000)).await;
    drop(tx);
    let _ = writer.await;
}
