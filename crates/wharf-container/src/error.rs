use std::path::PathBuf;

/// Errors of the container runtime, shim, sandbox and cgroup code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{op}: {source}")]
    Sys {
        /// What was being done.
        op: &'static str,
        /// The errno.
        #[source]
        source: nix::Error,
    },
    /// The runtime binary or library reported a failure.
    #[error("runtime {runtime} {op} {id}: {message}")]
    Runtime {
        /// `runc` or `libcontainer`.
        runtime: &'static str,
        /// The operation.
        op: &'static str,
        /// The container id.
        id: String,
        /// What the runtime said.
        message: String,
    },
    /// A JSON document could not be read or written.
    #[error("json {what}: {source}")]
    Json {
        /// Which document.
        what: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A shim could not be started or answered with an error.
    #[error("shim {id}: {message}")]
    Shim {
        /// The container id.
        id: String,
        /// What went wrong.
        message: String,
    },
    /// Waiting for something did not finish in time.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(std::time::Duration, String),
    /// The input was invalid.
    #[error("invalid {what}: {message}")]
    Invalid {
        /// Which input.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// A container with this id already exists in the runtime's state.
    #[error("container {0} already exists")]
    Exists(String),
    /// This runtime was not compiled in.
    #[error("runtime {0} is not compiled into this binary")]
    NotCompiled(&'static str),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io { op, path: path.into(), source })
    }
}

pub(crate) trait SysContext<T> {
    fn sys(self, op: &'static str) -> Result<T>;
}

impl<T> SysContext<T> for nix::Result<T> {
    fn sys(self, op: &'static str) -> Result<T> {
        self.map_err(|source| Error::Sys { op, source })
    }
}
