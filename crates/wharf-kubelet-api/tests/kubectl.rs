//! The real kubectl against an in-process control plane whose Node points at a kubelet API
//! served by this crate, backed by a fake runtime that runs real local processes and reads
//! CRI log files the test writes.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::watch;
use wharf_apiserver::registry::WriteOptions;
use wharf_apiserver::strategy::Part;
use wharf_apiserver::{ControlPlane, ControlPlaneConfig};
use wharf_kubelet_api::{Duplex, LogFile, NodeRuntime, PodRef, Process, RuntimeError, StreamOptions};

struct FakeRuntime {
    logs: PathBuf,
    running: AtomicBool,
    /// Where `port_forward` connects (a local TCP server standing in for the pod's port).
    forward_to: std::sync::OnceLock<std::net::SocketAddr>,
}

impl FakeRuntime {
    fn log_path(&self, container: &str, previous: bool) -> PathBuf {
        self.logs.join(format!("{container}-{}.log", if previous { 0 } else { 1 }))
    }
}

#[async_trait::async_trait]
impl NodeRuntime for FakeRuntime {
    async fn log_file(&self, pod: &PodRef, container: &str, previous: bool) -> Result<LogFile, RuntimeError> {
        if pod.name != "web" {
            return Err(RuntimeError::PodNotFound { namespace: pod.namespace.clone(), name: pod.name.clone() });
        }
        let path = self.log_path(container, previous);
        if previous && !path.exists() {
            return Err(RuntimeError::BadRequest(format!("previous terminated container \"{container}\" in pod \"{}\" not found", pod.name)));
        }
        Ok(LogFile { path })
    }

    async fn container_running(&self, _pod: &PodRef, _container: &str) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    async fn exec(&self, _pod: &PodRef, _container: &str, command: Vec<String>, opts: StreamOptions) -> Result<Process, RuntimeError> {
        if opts.tty {
            return Err(RuntimeError::BadRequest("the test runtime has no terminals".into()));
        }
        let mut cmd = tokio::process::Command::new(&command[0]);
        cmd.args(&command[1..]).kill_on_drop(true);
        cmd.stdin(if opts.stdin { Stdio::piped() } else { Stdio::null() });
        cmd.stdout(if opts.stdout { Stdio::piped() } else { Stdio::null() });
        cmd.stderr(if opts.stderr { Stdio::piped() } else { Stdio::null() });
        let mut child = cmd.spawn().map_err(|e| RuntimeError::Internal(e.to_string()))?;
        let stdin = child.stdin.take().map(|w| Box::pin(w) as wharf_kubelet_api::BoxWrite);
        let stdout = child.stdout.take().map(|r| Box::pin(r) as wharf_kubelet_api::BoxRead);
        let stderr = child.stderr.take().map(|r| Box::pin(r) as wharf_kubelet_api::BoxRead);
        let exit = Box::pin(async move {
            let st = child.wait().await.map_err(|e| RuntimeError::Internal(e.to_string()))?;
            Ok(st.code().unwrap_or(128))
        });
        Ok(Process { stdin, stdout, stderr, resize: None, exit })
    }

    async fn attach(&self, pod: &PodRef, container: &str, opts: StreamOptions) -> Result<Process, RuntimeError> {
        self.exec(pod, container, vec!["sh".into(), "-c".into(), "echo attached".into()], opts).await
    }

    async fn port_forward(&self, _pod: &PodRef, port: u16) -> Result<Box<dyn Duplex>, RuntimeError> {
        let addr = self.forward_to.get().ok_or_else(|| RuntimeError::BadRequest("nothing listens in this pod".into()))?;
        if port != 8080 {
            return Err(RuntimeError::BadRequest(format!("nothing listens on port {port}")));
        }
        let conn = tokio::net::TcpStream::connect(addr).await.map_err(|e| RuntimeError::Internal(e.to_string()))?;
        Ok(Box::new(conn))
    }
}

struct Cluster {
    addr: std::net::SocketAddr,
    kubelet_addr: std::net::SocketAddr,
    admin: wharf_apiserver::pki::CertPair,
    ca_pem: String,
    cp: Option<ControlPlane>,
    kubelet_stop: watch::Sender<bool>,
    kubelet: Option<tokio::task::JoinHandle<()>>,
    kubeconfig: PathBuf,
    runtime: Arc<FakeRuntime>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn wharf_store::KvStore> = Arc::new(wharf_store::sqlite::SqliteStore::open(&dir.path().join("store")).unwrap());
        let state_dir = dir.path().join("state");
        let cp = ControlPlane::start(ControlPlaneConfig {
            name: "kl".into(),
            state_dir: state_dir.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            store,
            service_cidr: ([10, 100, 0, 0], 16),
            compaction_interval: Duration::from_secs(300),
            mounts: Vec::new(),
        })
        .await
        .unwrap();
        // The kubelet's serving certificate comes from the cluster CA.
        let serving = cp.issue_kubelet_serving_cert(&["localhost".into()], &["127.0.0.1".parse().unwrap()]).unwrap();
        let tls = wharf_kubelet_api::server_config(&cp.ca_pem, &serving.cert_pem, &serving.key_pem).unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let runtime = Arc::new(FakeRuntime { logs, running: AtomicBool::new(true), forward_to: Default::default() });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (kubelet_stop, rx) = watch::channel(false);
        let kubelet = tokio::spawn(wharf_kubelet_api::serve(listener, tls, runtime.clone(), rx));

        let opts = WriteOptions::default();
        let nodes = cp.registry.lookup("", "v1", "nodes").unwrap();
        cp.registry.create(&nodes, None, json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}), &opts).await.unwrap();
        let mut node = cp.registry.get(&nodes, None, "n1", wharf_apiserver::registry::ReadAt::Latest).await.unwrap().value().unwrap();
        node["status"] = json!({"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}], "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}});
        cp.registry.update(&nodes, None, "n1", node, Part::Status, &opts).await.unwrap();
        let namespaces = cp.registry.lookup("", "v1", "namespaces").unwrap();
        let _ = cp.registry.create(&namespaces, None, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}), &opts).await;
        let pods = cp.registry.lookup("", "v1", "pods").unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "busybox"}]}});
        cp.registry.create(&pods, Some("default"), pod, &opts).await.unwrap();
        let mut pod = cp.registry.get(&pods, Some("default"), "web", wharf_apiserver::registry::ReadAt::Latest).await.unwrap().value().unwrap();
        pod["status"] = json!({"phase": "Running"});
        cp.registry.update(&pods, Some("default"), "web", pod, Part::Status, &opts).await.unwrap();

        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, cp.kubeconfig()).unwrap();
        Cluster { addr: cp.addr, kubelet_addr: ([127, 0, 0, 1], port).into(), admin: cp.admin_cert.clone(), ca_pem: cp.ca_pem.clone(), cp: Some(cp), kubelet_stop, kubelet: Some(kubelet), kubeconfig, runtime, _dir: dir }
    }

    fn kubectl(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("kubectl");
        c.arg("--kubeconfig").arg(&self.kubeconfig).args(args).kill_on_drop(true);
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }

    async fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
        let mut c = self.kubectl(args);
        if stdin.is_some() {
            c.stdin(Stdio::piped());
        }
        let mut child = c.spawn().unwrap();
        if let Some(data) = stdin {
            let mut w = child.stdin.take().unwrap();
            w.write_all(data).await.unwrap();
            drop(w);
        }
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await.expect("kubectl timed out").unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    fn write_log(&self, container: &str, previous: bool, lines: &[&str]) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(self.runtime.log_path(container, previous)).unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    }

    async fn stop(mut self) {
        let _ = self.kubelet_stop.send(true);
        if let Some(k) = self.kubelet.take() {
            let _ = k.await;
        }
        if let Some(cp) = self.cp.take() {
            cp.shutdown().await;
        }
    }
}

fn log_path_exists(p: &Path) -> bool {
    p.exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_reads_cri_files_with_tail_timestamps_previous_and_follow() {
    let c = Cluster::start().await;
    c.write_log("app", false, &["2024-05-01T10:00:00.000000001Z stdout F first", "2024-05-01T10:00:01Z stderr P sec", "2024-05-01T10:00:02Z stderr F ond", "2024-05-01T10:00:03Z stdout F third"]);
    c.write_log("app", true, &["2024-05-01T09:00:00Z stdout F from the previous instance"]);

    let (code, out, err) = c.run(&["logs", "web"], None).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "first\nsecond\nthird\n");
    let (_, out, _) = c.run(&["logs", "web", "--tail=1"], None).await;
    assert_eq!(out, "third\n");
    let (_, out, _) = c.run(&["logs", "web", "--timestamps", "--tail=2"], None).await;
    assert_eq!(out, "2024-05-01T10:00:01Z second\n2024-05-01T10:00:03Z third\n");
    let (_, out, _) = c.run(&["logs", "web", "-p"], None).await;
    assert_eq!(out, "from the previous instance\n");
    let (code, _, err) = c.run(&["logs", "web", "-c", "nope"], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("container nope is not valid for pod web"), "{err}");

    // A pod without a node, and a pod whose node's kubelet does not answer.
    let opts = WriteOptions::default();
    let cp = c.cp.as_ref().unwrap();
    let pods = cp.registry.lookup("", "v1", "pods").unwrap();
    let pending = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pending", "namespace": "default"}, "spec": {"containers": [{"name": "app", "image": "busybox"}]}});
    cp.registry.create(&pods, Some("default"), pending, &opts).await.unwrap();
    let (code, _, err) = c.run(&["logs", "pending"], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("pod pending does not have a host assigned"), "{err}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = closed.local_addr().unwrap().port();
    drop(closed);
    let nodes = cp.registry.lookup("", "v1", "nodes").unwrap();
    cp.registry.create(&nodes, None, json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gone"}}), &opts).await.unwrap();
    let mut node = cp.registry.get(&nodes, None, "gone", wharf_apiserver::registry::ReadAt::Latest).await.unwrap().value().unwrap();
    node["status"] = json!({"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}], "daemonEndpoints": {"kubeletEndpoint": {"Port": dead_port}}});
    cp.registry.update(&nodes, None, "gone", node, Part::Status, &opts).await.unwrap();
    let orphan = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan", "namespace": "default"}, "spec": {"nodeName": "gone", "containers": [{"name": "app", "image": "busybox"}]}});
    cp.registry.create(&pods, Some("default"), orphan, &opts).await.unwrap();
    let (code, _, err) = c.run(&["logs", "orphan"], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("error dialing backend"), "{err}");

    // Follow: new lines arrive as they are written; the stream ends when the container stops.
    let mut f = c.kubectl(&["logs", "-f", "web", "--tail=0"]).spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(f.stdout.take().unwrap()).lines();
    // kubectl has connected once a line written now shows up.
    let mut got = None;
    for i in 0..100 {
        c.write_log("app", false, &[&format!("2024-05-01T10:01:00Z stdout F live {i}")]);
        if let Ok(Ok(Some(l))) = tokio::time::timeout(Duration::from_millis(300), lines.next_line()).await {
            got = Some(l);
            break;
        }
    }
    assert!(got.is_some_and(|l| l.starts_with("live ")));
    c.write_log("app", false, &["2024-05-01T10:02:00Z stdout F the end"]);
    let mut rest = Vec::new();
    loop {
        let l = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.expect("follow output").unwrap();
        match l {
            Some(l) if l == "the end" => break,
            Some(l) => rest.push(l),
            None => panic!("stream ended early after {rest:?}"),
        }
    }
    c.runtime.running.store(false, Ordering::SeqCst);
    let st = tokio::time::timeout(Duration::from_secs(20), f.wait()).await.expect("kubectl logs -f ends when the container stops").unwrap();
    assert!(st.success());
    assert!(log_path_exists(&c.runtime.log_path("app", false)));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_streams_output_stdin_and_the_exit_code() {
    let c = Cluster::start().await;
    let (code, out, err) = c.run(&["exec", "web", "--", "sh", "-c", "echo hi; echo oops >&2; exit 3"], None).await;
    assert_eq!(code, 3, "stdout {out:?} stderr {err:?}");
    assert_eq!(out, "hi\n");
    assert!(err.contains("oops"), "{err}");

    let (code, out, err) = c.run(&["exec", "web", "--", "true"], None).await;
    assert_eq!((code, out.as_str()), (0, ""), "{err}");

    let (code, out, err) = c.run(&["exec", "-i", "web", "--", "sh", "-c", "tr a-z A-Z; echo done"], Some(b"hello from stdin\n")).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "HELLO FROM STDIN\ndone\n");

    let (code, _, err) = c.run(&["exec", "web", "-c", "nope", "--", "true"], None).await;
    assert_ne!(code, 0);
    assert!(err.contains("nope"), "{err}");

    let (code, out, err) = c.run(&["attach", "web"], None).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("attached"), "{out}");
    c.stop().await;
}

/// A WebSocket client over TLS to the API server as cluster admin (kubectl does not speak
/// the kubelet's WebSocket port-forward protocol, so the test drives it directly).
async fn admin_websocket(c: &Cluster, path: &str, protocol: &str) -> (tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String) {
    websocket_to(c, c.addr, path, protocol).await
}

async fn websocket_to(c: &Cluster, addr: std::net::SocketAddr, path: &str, protocol: &str) -> (tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String) {
    use tokio::io::AsyncReadExt;
    let mut roots = rustls::RootCertStore::empty();
    for cert in wharf_kubelet_api::tls::certs("ca", &c.ca_pem).unwrap() {
        roots.add(cert).unwrap();
    }
    let chain = wharf_kubelet_api::tls::certs("admin", &c.admin.cert_pem).unwrap();
    let key = wharf_kubelet_api::tls::private_key("admin", &c.admin.key_pem).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n");
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        assert_eq!(tls.read(&mut b).await.unwrap(), 1, "response head: {}", String::from_utf8_lossy(&head));
        head.push(b[0]);
    }
    (tls, String::from_utf8_lossy(&head).into_owned())
}

async fn send_masked<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, payload: &[u8]) {
    let mask = [9u8, 8, 7, 6];
    assert!(payload.len() < 126);
    let mut f = vec![0x82, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    w.write_all(&f).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_over_websocket_reaches_a_tcp_server_through_the_api_server() {
    let c = Cluster::start().await;
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    c.runtime.forward_to.set(echo.local_addr().unwrap()).unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = echo.accept().await.unwrap();
        let (mut r, mut w) = s.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    });
    let (tls, head) = admin_websocket(&c, "/api/v1/namespaces/default/pods/web/portforward?port=8080", "portforward.k8s.io").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.to_ascii_lowercase().contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="), "{head}");
    let (rd, mut wr) = tokio::io::split(tls);
    let (pongs, _keep) = tokio::sync::mpsc::channel(4);
    let mut reader = wharf_kubelet_api::ws::Reader::new(rd, pongs);
    let port = 8080u16.to_le_bytes();
    let first = [reader.next().await.unwrap(), reader.next().await.unwrap()];
    assert_eq!(first, [wharf_kubelet_api::ws::Message::Binary(vec![0, port[0], port[1]]), wharf_kubelet_api::ws::Message::Binary(vec![1, port[0], port[1]])]);
    send_masked(&mut wr, b"\x00ping through the pod\n").await;
    let mut echoed = Vec::new();
    while echoed.len() < "ping through the pod\n".len() {
        match tokio::time::timeout(Duration::from_secs(20), reader.next()).await.unwrap().unwrap() {
            wharf_kubelet_api::ws::Message::Binary(b) if b.first() == Some(&0) => echoed.extend_from_slice(&b[1..]),
            other => panic!("unexpected message {other:?}"),
        }
    }
    assert_eq!(echoed, b"ping through the pod\n");
    drop(wr);
    drop(reader);
    server.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubelet_admits_only_the_api_server_client_certificate() {
    let c = Cluster::start().await;
    // Cluster admin, with a valid certificate from the same CA, is still not the API server.
    let (_tls, head) = websocket_to(&c, c.kubelet_addr, "/exec/default/web/app?command=true&stdout=true", "v5.channel.k8s.io").await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    // Without any client certificate the TLS handshake fails.
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(wharf_kubelet_api::tls::roots(&c.ca_pem).unwrap())
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(c.kubelet_addr).await.unwrap();
    let name = rustls::pki_types::ServerName::IpAddress(c.kubelet_addr.ip().into());
    let refused = match tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await {
        Err(_) => true,
        Ok(mut tls) => {
            use tokio::io::AsyncReadExt;
            let _ = tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
            let mut b = [0u8; 1];
            !matches!(tls.read(&mut b).await, Ok(1))
        }
    };
    assert!(refused, "an anonymous client must not reach the kubelet api");
    c.stop().await;
}
