//! Probe execution: exec (through the container's runtime), HTTP GET and TCP (connected from inside
//! the pod's network namespace, see [`crate::netns`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use wharf_container::{RuntimeConfig, ShimCommand};

/// Everything needed to probe one container.
#[derive(Clone)]
pub(crate) struct Target {
    pub netns: PathBuf,
    pub runtime: RuntimeConfig,
    pub shim: ShimCommand,
    pub container_id: String,
    pub bundle: PathBuf,
    pub container: Container,
}

fn port_of(p: &IntOrString, c: &Container) -> Result<u16, String> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port {n}")),
        IntOrString::String(s) => {
            if let Ok(n) = s.parse() {
                return Ok(n);
            }
            c.ports
                .iter()
                .flatten()
                .find(|cp| cp.name.as_deref() == Some(s.as_str()))
                .and_then(|cp| u16::try_from(cp.container_port).ok())
                .ok_or_else(|| format!("named port {s:?} not found"))
        }
    }
}

/// Runs `probe` once (blocking): `Ok(())` on success, the failure message otherwise.
pub(crate) fn run(probe: &Probe, t: &Target) -> Result<(), String> {
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(e) = &probe.exec {
        return exec(e.command.clone().unwrap_or_default(), t, timeout);
    }
    if let Some(h) = &probe.http_get {
        let port = port_of(&h.port, &t.container)?;
        if h.scheme.as_deref() == Some("HTTPS") {
            return Err("HTTPS probes are not supported".into());
        }
        let host = h.host.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "127.0.0.1".into());
        let path = h.path.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "/".into());
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n");
        for hd in h.http_headers.iter().flatten() {
            req.push_str(&format!("{}: {}\r\n", hd.name, hd.value));
        }
        req.push_str("\r\n");
        return crate::netns::run_in(&t.netns, move || -> Result<(), String> {
            let addr = resolve(&host, port)?;
            let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("Get \"http://{host}:{port}{path}\": {e}"))?;
            let _ = s.set_read_timeout(Some(timeout));
            let _ = s.set_write_timeout(Some(timeout));
            s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 4096 {
                match s.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) => return Err(format!("Get \"http://{host}:{port}{path}\": {e}")),
                }
            }
            let line = String::from_utf8_lossy(&buf);
            let code: u16 = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or("malformed HTTP response")?;
            if (200..400).contains(&code) {
                Ok(())
            } else {
                Err(format!("HTTP probe failed with statuscode: {code}"))
            }
        })?;
    }
    if let Some(tcp) = &probe.tcp_socket {
        let port = port_of(&tcp.port, &t.container)?;
        let host = tcp.host.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "127.0.0.1".into());
        return crate::netns::run_in(&t.netns, move || -> Result<(), String> {
            let addr = resolve(&host, port)?;
            TcpStream::connect_timeout(&addr, timeout).map(|_| ()).map_err(|e| format!("dial tcp {addr}: {e}"))
        })?;
    }
    if probe.grpc.is_some() {
        return Err("gRPC probes are not supported".into());
    }
    Err("probe has no handler".into())
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    (host, port).to_socket_addrs().map_err(|e| e.to_string())?.next().ok_or_else(|| format!("cannot resolve {host}"))
}

/// Runs `cmd` in the container; non-zero exit or timeout fails.
pub(crate) fn exec(cmd: Vec<String>, t: &Target, timeout: Duration) -> Result<(), String> {
    if cmd.is_empty() {
        return Err("exec probe has no command".into());
    }
    let spec = wharf_container::spec::read_bundle(&t.bundle).map_err(|e| e.to_string())?;
    let process = wharf_container::exec::process_for(spec.process().as_ref(), &cmd, &[]).map_err(|e| e.to_string())?;
    let ex = wharf_container::exec::spawn(&t.runtime, &t.shim, &t.container_id, &process).map_err(|e| e.to_string())?;
    let pid = ex.child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(ex.output());
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok((0, _, _))) => Ok(()),
        Ok(Ok((code, out, err))) => {
            let mut msg = String::from_utf8_lossy(&out).into_owned();
            msg.push_str(&String::from_utf8_lossy(&err));
            Err(if msg.trim().is_empty() { format!("command {cmd:?} exited with {code}") } else { msg.trim().to_string() })
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            Err(format!("command {cmd:?} timed out"))
        }
    }
}
