//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while programming the VPC, an instance or a pod's network.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A CIDR or address string did not parse, or does not fit the layout asked for.
    #[error("invalid cidr {value:?}: {reason}")]
    Cidr {
        /// The offending text or value.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A name (instance, tag, pod uid) is not usable.
    #[error("invalid name {name:?}: {reason}")]
    Name {
        /// The offending name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The kernel refused a netlink request.
    #[error("netlink {op}: {source}")]
    Netlink {
        /// What was being done, naming the object.
        op: String,
        /// The errno the kernel answered with.
        #[source]
        source: std::io::Error,
    },
    /// A netlink answer could not be decoded.
    #[error("netlink {op}: undecodable answer: {detail}")]
    Decode {
        /// What was being done.
        op: String,
        /// The decoder's message.
        detail: String,
    },
    /// A file system or namespace operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Entering a network namespace (setns) or creating one (unshare) failed.
    #[error("{op} {}: {source}", path.display())]
    Namespace {
        /// `setns`, `unshare` or `mount`.
        op: &'static str,
        /// The namespace file.
        path: PathBuf,
        /// The errno.
        #[source]
        source: nix::Error,
    },
    /// The helper thread running inside a namespace could not start or panicked.
    #[error("netns thread for {}: {detail}", path.display())]
    Thread {
        /// The namespace file.
        path: PathBuf,
        /// What happened.
        detail: String,
    },
    /// The pod address range of an instance has no free address left.
    #[error("pod range {range} of instance {instance} is exhausted")]
    Exhausted {
        /// The instance.
        instance: String,
        /// Its pod range.
        range: String,
    },
    /// The persisted IPAM state could not be read or does not match the instance.
    #[error("ipam state {}: {detail}", path.display())]
    IpamState {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { op, path: path.into(), source }
    }
}
