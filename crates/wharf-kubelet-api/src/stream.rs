//! The remote command protocols of exec and attach over WebSocket: every binary message
//! starts with a channel byte — 0 stdin, 1 stdout, 2 stderr, 3 error (a `metav1.Status`
//! carrying the exit code), 4 resize (`{"Width":w,"Height":h}`) — and `v5.channel.k8s.io`
//! adds 255, "close this stream" (the client's end of stdin).

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::ws::{self, Message, Outgoing};
use crate::{Process, RuntimeError, TermSize};

/// The channel protocol with the stream-close signal (kubectl ≥ 1.30).
pub const CHANNEL_V5: &str = "v5.channel.k8s.io";
/// The channel protocol without it.
pub const CHANNEL_V4: &str = "v4.channel.k8s.io";
/// Supported protocols, most preferred first.
pub const PROTOCOLS: &[&str] = &[CHANNEL_V5, CHANNEL_V4];

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// The status sent on the error channel when the process ended with `code` (or failed).
pub fn exit_status(result: &Result<i32, RuntimeError>) -> Value {
    match result {
        Ok(0) => json!({"metadata": {}, "status": "Success"}),
        Ok(code) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: exit status {code}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
        Err(e) => json!({"metadata": {}, "status": "Failure", "message": e.to_string(), "reason": "InternalError", "code": 500}),
    }
}

/// Parses a resize message's JSON.
pub fn parse_resize(data: &[u8]) -> Option<TermSize> {
    let v: Value = serde_json::from_slice(data).ok()?;
    let dim = |k: &str| v.get(k).and_then(Value::as_u64).and_then(|n| u16::try_from(n).ok());
    Some(TermSize { width: dim("Width")?, height: dim("Height")? })
}

fn framed(channel: u8, data: &[u8]) -> Outgoing {
    let mut b = Vec::with_capacity(data.len() + 1);
    b.push(channel);
    b.extend_from_slice(data);
    Outgoing::Binary(b)
}

async fn pump(mut r: crate::BoxRead, channel: u8, tx: mpsc::Sender<Outgoing>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) => {
                if tx.send(framed(channel, &buf[..n])).await.is_err() {
                    return;
                }
            }
            // A terminal's master reports EIO once the process side closed.
            Err(_) => return,
        }
    }
}

/// Runs one exec/attach session on an upgraded connection until the process ends (or the
/// client goes away): pumps output, feeds input and resizes, then reports the exit status.
pub async fn run<S>(io: S, protocol: &str, p: Process)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let v5 = protocol == CHANNEL_V5;
    let (rd, wr) = tokio::io::split(io);
    let (tx, rx) = mpsc::channel::<Outgoing>(64);
    let writer = tokio::spawn(ws::run_writer(wr, rx));
    let Process { stdin, stdout, stderr, resize, exit } = p;
    let mut pumps = Vec::new();
    if let Some(o) = stdout {
        pumps.push(tokio::spawn(pump(o, STDOUT, tx.clone())));
    }
    if let Some(e) = stderr {
        pumps.push(tokio::spawn(pump(e, STDERR, tx.clone())));
    }
    let reader_tx = tx.clone();
    let reader = tokio::spawn(async move {
        let mut r = ws::Reader::new(rd, reader_tx);
        let mut stdin = stdin;
        loop {
            let msg = match r.next().await {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!(error = %e, "stream read");
                    return;
                }
            };
            let data = match msg {
                Message::Binary(d) | Message::Text(d) => d,
                Message::Close => return,
            };
            let Some((&channel, payload)) = data.split_first() else { continue };
            match channel {
                STDIN => {
                    if let Some(w) = stdin.as_mut() {
                        if w.write_all(payload).await.is_err() || w.flush().await.is_err() {
                            stdin = None;
                        }
                    }
                }
                RESIZE => {
                    if let (Some(size), Some(tx)) = (parse_resize(payload), resize.as_ref()) {
                        let _ = tx.send(size).await;
                    }
                }
                CLOSE if v5 && payload.first() == Some(&STDIN) => {
                    if let Some(mut w) = stdin.take() {
                        let _ = w.shutdown().await;
                    }
                }
                _ => {}
            }
        }
    });
    for p in pumps {
        let _ = p.await;
    }
    let result = exit.await;
    let status = exit_status(&result);
    let _ = tx.send(framed(ERROR, serde_json::to_vec(&status).unwrap_or_default().as_slice())).await;
    let _ = tx.send(Outgoing::Close(1000)).await;
    drop(tx);
    let _ = writer.await;
    reader.abort();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn non_zero_exit_codes_are_reported_as_kubectl_reads_them() {
        let s = exit_status(&Ok(3));
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert_eq!(s["details"]["causes"][0], json!({"reason": "ExitCode", "message": "3"}));
        assert_eq!(exit_status(&Ok(0))["status"], "Success");
    }

    fn masked(payload: &[u8]) -> Vec<u8> {
        let mask = [5u8, 6, 7, 8];
        let mut f = vec![0x82, 0x80 | payload.len() as u8];
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    }

    #[tokio::test]
    async fn a_v5_session_feeds_stdin_resizes_closes_stdin_and_reports_the_exit_code_after_output() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (stdin_w, mut stdin_r) = tokio::io::duplex(1024);
        let (mut out_w, out_r) = tokio::io::duplex(1024);
        let (rtx, mut rrx) = mpsc::channel(4);
        let (etx, erx) = tokio::sync::oneshot::channel::<i32>();
        let p = Process {
            stdin: Some(Box::pin(stdin_w)),
            stdout: Some(Box::pin(out_r)),
            stderr: None,
            resize: Some(rtx),
            exit: Box::pin(async move { erx.await.map_err(|_| RuntimeError::Internal("gone".into())) }),
        };
        let session = tokio::spawn(run(server, CHANNEL_V5, p));
        let (crd, mut cwr) = tokio::io::split(client);
        let mut resize = vec![RESIZE];
        resize.extend_from_slice(br#"{"Width":120,"Height":40}"#);
        cwr.write_all(&masked(&resize)).await.unwrap();
        cwr.write_all(&masked(b"\x00hello")).await.unwrap();
        cwr.write_all(&masked(&[CLOSE, STDIN])).await.unwrap();
        assert_eq!(rrx.recv().await, Some(TermSize { width: 120, height: 40 }));
        let mut got = Vec::new();
        stdin_r.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello", "stdin ends at the close signal");
        out_w.write_all(b"out").await.unwrap();
        drop(out_w);
        etx.send(2).unwrap();
        let (ptx, _prx) = mpsc::channel(1);
        let mut r = ws::Reader::new(crd, ptx);
        assert_eq!(r.next().await.unwrap(), Message::Binary(b"\x01out".to_vec()));
        let Message::Binary(status) = r.next().await.unwrap() else { panic!("no status") };
        assert_eq!(status[0], ERROR);
        let v: Value = serde_json::from_slice(&status[1..]).unwrap();
        assert_eq!(v["details"]["causes"][0]["message"], "2");
        assert_eq!(r.next().await.unwrap(), Message::Close);
        session.await.unwrap();
    }

    #[test]
    fn resize_messages_carry_width_and_height() {
        assert_eq!(parse_resize(br#"{"Width":120,"Height":40}"#), Some(TermSize { width: 120, height: 40 }));
        assert_eq!(parse_resize(b"nonsense"), None);
    }
}
