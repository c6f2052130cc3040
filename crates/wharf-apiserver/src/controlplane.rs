//! One cluster control plane as a value: its CA and certificates, its watch cache and
//! registry over its own datastore prefix, the HTTPS listener, and the tasks that keep the
//! API consistent (custom resource discovery, namespace finalization).

use base64::Engine;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::RngCore;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use wharf_store::KvStore;

use crate::auth::{self, TokenAuthenticator, UserInfo};
use crate::cache::WatchCache;
use crate::http::ApiServer;
use crate::pki::{self, Ca, CertPair, PkiError};
use crate::registry::Registry;

/// What a control plane needs to start.
pub struct ControlPlaneConfig {
    /// Cluster name.
    pub name: String,
    /// Where its CA, certificates and tokens live.
    pub state_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The datastore, already confined to this cluster's prefix.
    pub store: Arc<dyn KvStore>,
    /// Service cluster IP range, e.g. `10.100.0.0/16`.
    pub service_cidr: ([u8; 4], u8),
    /// How often the datastore history is compacted (kube-apiserver: 5 minutes).
    pub compaction_interval: std::time::Duration,
    /// Services sharing this listener (registry, AWS front door); empty for most clusters.
    pub mounts: Vec<Arc<dyn crate::mount::Mount>>,
}

/// Why a control plane could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Certificates could not be created or loaded.
    #[error("pki: {0}")]
    Pki(#[from] PkiError),
    /// The listener could not be bound.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// TLS configuration failed.
    #[error("tls: {0}")]
    Tls(String),
    /// The datastore failed while loading or bootstrapping.
    #[error("datastore: {0}")]
    Store(#[from] crate::error::ApiError),
    /// Reading or writing state failed.
    #[error("state: {0}")]
    Io(#[from] std::io::Error),
}

/// A running control plane.
pub struct ControlPlane {
    /// Cluster name.
    pub name: String,
    /// The address the API server listens on.
    pub addr: SocketAddr,
    /// The CA certificate clients trust (PEM).
    pub ca_pem: String,
    /// The cluster-admin client certificate.
    pub admin_cert: CertPair,
    /// A cluster-admin bearer token.
    pub admin_token: String,
    /// The generic store.
    pub registry: Arc<Registry>,
    api: Arc<ApiServer>,
    ca: Arc<Ca>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

fn tls_config(ca: &Ca, serving: &CertPair) -> Result<rustls::ServerConfig, StartError> {
    let tls = |e: &dyn std::fmt::Display| StartError::Tls(e.to_string());
    let certs: Vec<_> = rustls_pemfile::certs(&mut serving.cert_pem.as_bytes()).collect::<Result<_, _>>().map_err(|e| tls(&e))?;
    let key = rustls_pemfile::private_key(&mut serving.key_pem.as_bytes()).map_err(|e| tls(&e))?.ok_or_else(|| StartError::Tls("no private key".into()))?;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut ca.cert_pem.as_bytes()) {
        roots.add(c.map_err(|e| tls(&e))?).map_err(|e| tls(&e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| tls(&e))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| tls(&e))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

fn load_or_create_token(path: &std::path::Path) -> Result<String, StartError> {
    if let Ok(t) = std::fs::read_to_string(path) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    pki::write_secret_file(path, &t)?;
    Ok(t)
}

impl ControlPlane {
    /// Starts the control plane and returns once it serves requests.
    pub async fn start(cfg: ControlPlaneConfig) -> Result<Self, StartError> {
        std::fs::create_dir_all(&cfg.state_dir)?;
        let pki_dir = cfg.state_dir.join("pki");
        let ca = Ca::load_or_create(&pki_dir, &format!("wharf-{}-ca", cfg.name))?;
        let admin_cert = pki::load_or_issue(&pki_dir, "admin", || ca.issue_client("kubernetes-admin", &["system:masters"]))?;
        let kubelet_client = pki::load_or_issue(&pki_dir, "apiserver-kubelet-client", || ca.issue_client(crate::nodeproxy::KUBELET_CLIENT_CN, &["system:masters"]))?;
        let kubelet = Arc::new(crate::nodeproxy::KubeletClient::new(&ca.cert_pem, &kubelet_client).map_err(StartError::Tls)?);
        let admin_token = load_or_create_token(&cfg.state_dir.join("admin.token"))?;

        let listener = TcpListener::bind(cfg.listen).await.map_err(|source| StartError::Listen { addr: cfg.listen, source })?;
        let addr = listener.local_addr()?;
        let mut ips: Vec<IpAddr> = vec![IpAddr::from([127, 0, 0, 1]), addr.ip()];
        ips.dedup();
        let serving = ca.issue_server(&["localhost".into(), "kubernetes".into(), "kubernetes.default".into(), "kubernetes.default.svc".into()], &ips)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config(&ca, &serving)?));

        let cache = WatchCache::start(cfg.store.clone()).await?;
        let registry = Arc::new(Registry::new(cfg.store.clone(), cache, cfg.service_cidr));
        registry.refresh_custom_resources();
        crate::lifecycle::bootstrap(&registry).await?;

        let mut tokens = TokenAuthenticator::default();
        tokens.insert(admin_token.clone(), UserInfo::new("kubernetes-admin", &["system:masters"]));
        let api = Arc::new(ApiServer { registry: registry.clone(), tokens, server_address: addr.to_string(), mounts: cfg.mounts, rbac: Default::default(), kubelet: Some(kubelet), token_reviewer: Default::default() });

        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tasks.spawn(crate::lifecycle::follow_custom_resources(registry.clone()));
        tasks.spawn(crate::lifecycle::finalize_namespaces(registry.clone()));
        tasks.spawn(crate::lifecycle::compact_history(registry.clone(), cfg.compaction_interval));
        tasks.spawn(serve(listener, acceptor, api.clone(), shutdown_rx));
        tracing::info!(cluster = %cfg.name, %addr, "control plane serving");
        Ok(Self { name: cfg.name, addr, ca_pem: ca.cert_pem.clone(), admin_cert, admin_token, registry, api, ca: Arc::new(ca), shutdown, tasks })
    }

    /// A serving certificate for a node's kubelet API (its host names and addresses), issued
    /// by the cluster CA the API server's kubelet client trusts.
    pub fn issue_kubelet_serving_cert(&self, dns: &[String], ips: &[IpAddr]) -> Result<CertPair, PkiError> {
        self.ca.issue_server(dns, ips)
    }

    /// Installs the authenticator asked for bearer tokens that are not static ones (EKS's
    /// IAM tokens). Only the first call takes effect; returns whether this one did.
    pub fn set_token_reviewer(&self, reviewer: Arc<dyn auth::TokenReviewer>) -> bool {
        self.api.token_reviewer.set(reviewer).is_ok()
    }

    /// The HTTPS URL of the API server.
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// A kubeconfig with cluster-admin credentials for this control plane.
    pub fn kubeconfig(&self) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        let n = &self.name;
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {n}\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: {n}-admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: {n}\n  context:\n    cluster: {n}\n    user: {n}-admin\ncurrent-context: {n}\npreferences: {{}}\n",
            self.endpoint(),
            b64(&self.ca_pem),
            b64(&self.admin_cert.cert_pem),
            b64(&self.admin_cert.key_pem),
        )
    }

    /// A kube-rs client that calls this control plane in-process as `user` (e.g.
    /// `system:kube-scheduler`), subject to the same authorization as remote clients.
    pub fn client(&self, user: UserInfo) -> kube::Client {
        crate::client::InProcess::new(self.api.clone(), user).client()
    }

    /// Stops serving and ends the control plane's tasks.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

async fn serve(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, api: Arc<ApiServer>, mut shutdown: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let api = api.clone();
        conns.spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "tls handshake failed");
                    return;
                }
            };
            let cert_user = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(|c| auth::user_from_cert(c.as_ref()));
            let svc = service_fn(move |req| {
                let api = api.clone();
                let user = cert_user.clone();
                async move { Ok::<_, std::convert::Infallible>(api.handle(req, user).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(tls), svc).await {
                tracing::debug!(%peer, error = %e, "connection ended with error");
            }
        });
        while conns.try_join_next().is_some() {}
    }
    conns.abort_all();
}
