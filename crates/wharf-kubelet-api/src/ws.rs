//! A small server-side WebSocket (RFC 6455) implementation over a hyper upgrade: the
//! opening handshake, and a frame reader/writer for binary messages with ping/pong and close.
//! Only what the Kubernetes streaming protocols need: no extensions, no compression.

use base64::Engine;
use http::HeaderMap;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Largest message accepted from a client (kubectl sends stdin in 32 KiB chunks).
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.trim().as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Whether a request asks for a WebSocket upgrade.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    let has = |name: http::header::HeaderName, token: &str| {
        headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    has(http::header::CONNECTION, "upgrade") && has(http::header::UPGRADE, "websocket")
}

/// The first protocol of `supported` (in our order of preference) that the client offers.
pub fn choose_protocol(headers: &HeaderMap, supported: &[&str]) -> Option<String> {
    let offered: Vec<String> = headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
        .collect();
    supported.iter().find(|s| offered.iter().any(|o| o == *s)).map(|s| s.to_string())
}

/// A message received from the peer.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    /// A binary message.
    Binary(Vec<u8>),
    /// A text message.
    Text(Vec<u8>),
    /// The peer closed the connection.
    Close,
}

/// A frame to send.
#[derive(Debug)]
pub enum Outgoing {
    /// A binary message.
    Binary(Vec<u8>),
    /// The answer to a ping.
    Pong(Vec<u8>),
    /// A close frame with this status code; the writer stops after it.
    Close(u16),
}

const OP_CONT: u8 = 0;
const OP_TEXT: u8 = 1;
const OP_BINARY: u8 = 2;
const OP_CLOSE: u8 = 8;
const OP_PING: u8 = 9;
const OP_PONG: u8 = 10;

fn invalid(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads messages from a client, answering pings through the writer's queue.
pub struct Reader<R> {
    r: R,
    pongs: mpsc::Sender<Outgoing>,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// A reader that queues pong answers on `pongs`.
    pub fn new(r: R, pongs: mpsc::Sender<Outgoing>) -> Self {
        Self { r, pongs }
    }

    async fn frame(&mut self) -> std::io::Result<(bool, u8, Vec<u8>)> {
        let mut h = [0u8; 2];
        self.r.read_exact(&mut h).await?;
        let fin = h[0] & 0x80 != 0;
        let op = h[0] & 0x0f;
        let masked = h[1] & 0x80 != 0;
        let len = match h[1] & 0x7f {
            126 => u64::from(self.r.read_u16().await?),
            127 => self.r.read_u64().await?,
            n => u64::from(n),
        };
        if len > MAX_MESSAGE as u64 {
            return Err(invalid("websocket frame too large"));
        }
        let mut mask = [0u8; 4];
        if masked {
            self.r.read_exact(&mut mask).await?;
        }
        let mut payload = vec![0u8; len as usize];
        self.r.read_exact(&mut payload).await?;
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        Ok((fin, op, payload))
    }

    /// The next data message; `Message::Close` at a close frame or end of stream.
    pub async fn next(&mut self) -> std::io::Result<Message> {
        let mut msg: Option<(u8, Vec<u8>)> = None;
        loop {
            let (fin, op, payload) = match self.frame().await {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(Message::Close),
                Err(e) => return Err(e),
            };
            match op {
                OP_PING => {
                    let _ = self.pongs.send(Outgoing::Pong(payload)).await;
                    continue;
                }
                OP_PONG => continue,
                OP_CLOSE => return Ok(Message::Close),
                OP_TEXT | OP_BINARY => msg = Some((op, payload)),
                OP_CONT => match msg.as_mut() {
                    Some((_, buf)) if buf.len() + payload.len() <= MAX_MESSAGE => buf.extend_from_slice(&payload),
                    Some(_) => return Err(invalid("websocket message too large")),
                    None => return Err(invalid("websocket continuation without a message")),
                },
                _ => return Err(invalid("unknown websocket opcode")),
            }
            if fin {
                if let Some((op, buf)) = msg.take() {
                    return Ok(if op == OP_TEXT { Message::Text(buf) } else { Message::Binary(buf) });
                }
            }
        }
    }
}

/// Writes one unmasked (server) frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, op: u8, payload: &[u8]) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(10);
    head.push(0x80 | op);
    match payload.len() {
        n if n < 126 => head.push(n as u8),
        n if n <= 0xffff => {
            head.push(126);
            head.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            head.push(127);
            head.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    w.write_all(&head).await?;
    w.write_all(payload).await?;
    w.flush().await
}

/// Sends queued frames until a close frame was written or every sender is gone.
pub async fn run_writer<W: AsyncWrite + Unpin>(mut w: W, mut rx: mpsc::Receiver<Outgoing>) -> std::io::Result<()> {
    while let Some(out) = rx.recv().await {
        match out {
            Outgoing::Binary(b) => write_frame(&mut w, OP_BINARY, &b).await?,
            Outgoing::Pong(b) => write_frame(&mut w, OP_PONG, &b).await?,
            Outgoing::Close(code) => {
                write_frame(&mut w, OP_CLOSE, &code.to_be_bytes()).await?;
                break;
            }
        }
    }
    w.shutdown().await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_the_rfc_example() {
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    fn masked(op: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut f = vec![if fin { 0x80 } else { 0 } | op];
        if payload.len() < 126 {
            f.push(0x80 | payload.len() as u8);
        } else {
            f.push(0x80 | 126);
            f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    #[tokio::test]
    async fn reader_unmasks_joins_fragments_and_answers_pings() {
        let mut wire = masked(OP_BINARY, false, b"\x00hel");
        wire.extend(masked(OP_PING, true, b"p"));
        wire.extend(masked(OP_CONT, true, &[b'l'; 300]));
        wire.extend(masked(OP_CLOSE, true, &[3, 232]));
        let (tx, mut rx) = mpsc::channel(4);
        let mut r = Reader::new(&wire[..], tx);
        let mut want = b"\x00hel".to_vec();
        want.extend([b'l'; 300]);
        assert_eq!(r.next().await.unwrap(), Message::Binary(want));
        assert!(matches!(rx.recv().await, Some(Outgoing::Pong(p)) if p == b"p"));
        assert_eq!(r.next().await.unwrap(), Message::Close);
    }

    #[tokio::test]
    async fn writer_uses_extended_lengths() {
        let mut out = Vec::new();
        write_frame(&mut out, OP_BINARY, &[7u8; 70000]).await.unwrap();
        assert_eq!(&out[..2], &[0x82, 127]);
        assert_eq!(u64::from_be_bytes(out[2..10].try_into().unwrap()), 70000);
        assert_eq!(out.len(), 10 + 70000);
    }
}
