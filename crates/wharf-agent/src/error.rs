//! Errors of the node agent.

use std::path::{Path, PathBuf};

/// What went wrong in the agent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The container layer failed.
    #[error(transparent)]
    Container(#[from] wharf_container::Error),
    /// The image layer failed.
    #[error(transparent)]
    Image(#[from] wharf_image::Error),
    /// A filesystem operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// The operation.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The kubelet API's TLS configuration is unusable.
    #[error("kubelet api: {0}")]
    Tls(#[from] wharf_kubelet_api::TlsError),
    /// The kubelet API could not listen on its address.
    #[error("kubelet api: listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A pod's spec cannot be run as given.
    #[error("{0}")]
    Config(String),
    /// (De)serialising state failed.
    #[error("{what}: {source}")]
    Json {
        /// What.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl AsRef<Path>, source: std::io::Error) -> Error {
        Error::Io { op, path: path.as_ref().to_path_buf(), source }
    }
    pub(crate) fn api(what: impl Into<String>, source: kube::Error) -> Error {
        Error::Api { what: what.into(), source }
    }
}

/// Result of agent operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
