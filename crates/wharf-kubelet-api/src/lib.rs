//! The kubelet's HTTPS API, generic over the node runtime: container logs read from CRI log
//! files (`/containerLogs`), exec and attach over WebSocket (`/exec`, `/attach`, channel
//! protocols `v5.channel.k8s.io` and `v4.channel.k8s.io`) and port-forward over WebSocket
//! (`/portForward`, `portforward.k8s.io`) or SPDY/3.1 as kubectl speaks it (tunnelled through a
//! WebSocket as `SPDY/3.1+portforward.k8s.io`, or on an `Upgrade: SPDY/3.1` connection). Only
//! the API server's kubelet-client certificate is admitted. The node agent implements [`NodeRuntime`] and calls [`serve`].

pub mod logs;
pub mod portforward;
mod server;
pub mod spdy;
pub mod stream;
pub mod tls;
pub mod ws;

use std::path::PathBuf;
use std::pin::Pin;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

pub use server::serve;
pub use tls::{server_config, TlsError};

/// Errors a [`NodeRuntime`] reports; each becomes an HTTP status at the kubelet's edge.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The pod is not on this node (404).
    #[error("pod {namespace}/{name} not found")]
    PodNotFound {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// The pod has no such container (400, the message kube-apiserver uses).
    #[error("container {container} is not valid for pod {pod}")]
    ContainerNotFound {
        /// Pod name.
        pod: String,
        /// Container name.
        container: String,
    },
    /// The container exists but is not running (400).
    #[error("container {container} in pod {pod} is not running")]
    NotRunning {
        /// Pod name.
        pod: String,
        /// Container name.
        container: String,
    },
    /// The request cannot be served (400), e.g. no previous container instance.
    #[error("{0}")]
    BadRequest(String),
    /// Anything else (500).
    #[error("{0}")]
    Internal(String),
}

impl RuntimeError {
    /// The HTTP status this error is reported with.
    pub fn code(&self) -> u16 {
        match self {
            Self::PodNotFound { .. } => 404,
            Self::ContainerNotFound { .. } | Self::NotRunning { .. } | Self::BadRequest(_) => 400,
            Self::Internal(_) => 500,
        }
    }
}

/// A pod on this node, as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID when the request carries one (`/exec/{ns}/{pod}/{uid}/{container}`).
    pub uid: Option<String>,
}

/// Which streams a client asked for (`stdin`, `stdout`, `stderr`, `tty` query flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// Connect the client's input.
    pub stdin: bool,
    /// Send standard output.
    pub stdout: bool,
    /// Send standard error (never with a TTY: the terminal merges it into stdout).
    pub stderr: bool,
    /// Run on a terminal.
    pub tty: bool,
}

/// A terminal size (`kubectl exec -t` resize events; the JSON names are Kubernetes').
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermSize {
    /// Columns.
    pub width: u16,
    /// Rows.
    pub height: u16,
}

/// Boxed async reader.
pub type BoxRead = Pin<Box<dyn AsyncRead + Send>>;
/// Boxed async writer.
pub type BoxWrite = Pin<Box<dyn AsyncWrite + Send>>;

/// Any bidirectional byte stream (a TCP connection inside the pod's network namespace).
pub trait Duplex: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Duplex for T {}

/// A process the client is connected to: an exec'd command or an attached container.
/// Dropping it must not leave anything behind (an exec'd process is the runtime's to reap).
pub struct Process {
    /// Its standard input, when the client asked for it.
    pub stdin: Option<BoxWrite>,
    /// Its standard output (the terminal's output with a TTY).
    pub stdout: Option<BoxRead>,
    /// Its standard error (none with a TTY).
    pub stderr: Option<BoxRead>,
    /// Terminal resizes, with a TTY.
    pub resize: Option<mpsc::Sender<TermSize>>,
    /// Resolves to the exit code once the process ended (for attach: once the container did).
    pub exit: BoxFuture<'static, Result<i32, RuntimeError>>,
}

/// Where a container's log lives.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// The current CRI-format log file (rotated files are `<path>.1`, `<path>.2`, …).
    pub path: PathBuf,
}

/// What the kubelet API needs from the node: the agent implements it over its containers.
#[async_trait::async_trait]
pub trait NodeRuntime: Send + Sync + 'static {
    /// The log file of `container` (with `previous`, of its last terminated instance).
    async fn log_file(&self, pod: &PodRef, container: &str, previous: bool) -> Result<LogFile, RuntimeError>;

    /// Whether `container` still runs (a following log reader stops once it does not and the
    /// file has no more data).
    async fn container_running(&self, pod: &PodRef, container: &str) -> bool;

    /// Starts `command` in `container` with the requested streams.
    async fn exec(&self, pod: &PodRef, container: &str, command: Vec<String>, opts: StreamOptions) -> Result<Process, RuntimeError>;

    /// Connects to the main process of `container` (its stdin when it has one open, and its
    /// output from now on).
    async fn attach(&self, pod: &PodRef, container: &str, opts: StreamOptions) -> Result<Process, RuntimeError>;

    /// Opens a TCP connection to `port` inside the pod's network namespace.
    async fn port_forward(&self, pod: &PodRef, port: u16) -> Result<Box<dyn Duplex>, RuntimeError>;
}
