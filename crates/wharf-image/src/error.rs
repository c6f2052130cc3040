//! The crate's error type.

use std::path::PathBuf;

use crate::digest::Digest;
use crate::manifest::ManifestError;
use crate::reference::ReferenceError;

/// Everything that can go wrong pulling, storing, unpacking or mounting an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image name does not parse.
    #[error("couldn't parse image name {image:?}: {source}")]
    InvalidReference {
        /// The name as given.
        image: String,
        /// Why it was rejected.
        #[source]
        source: ReferenceError,
    },
    /// A TLS configuration (CA bundle) could not be loaded.
    #[error("tls configuration: {0}")]
    Tls(String),
    /// The request could not be sent or the connection failed.
    #[error("failed to do request: {method} {url}: {source}")]
    Transport {
        /// The HTTP method.
        method: &'static str,
        /// The URL requested.
        url: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No data arrived in time.
    #[error("timeout reading {url}")]
    Timeout {
        /// The URL requested.
        url: String,
    },
    /// The registry refused our credentials (or wanted some).
    #[error("failed to authorize: {registry}: {reason}")]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// What the registry or token server said.
        reason: String,
    },
    /// The manifest or blob does not exist.
    #[error("{what}: not found")]
    NotFound {
        /// The reference or blob that is missing.
        what: String,
    },
    /// The registry answered with an unexpected status.
    #[error("unexpected status from {method} request to {url}: {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Status {
        /// The HTTP method.
        method: &'static str,
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The registry's error text, if it sent any.
        message: String,
    },
    /// Too many redirects.
    #[error("stopped after {0} redirects")]
    TooManyRedirects(usize),
    /// A response was larger than allowed (manifests, tokens) or than its descriptor said.
    #[error("{what} is larger than {limit} bytes")]
    TooLarge {
        /// What was being read.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// Content does not hash to the digest it was requested by.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was being verified.
        what: String,
        /// The digest asked for.
        expected: Digest,
        /// The digest of what arrived.
        actual: Digest,
    },
    /// A blob's size differs from its descriptor.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The blob.
        digest: Digest,
        /// The descriptor's size.
        expected: u64,
        /// The bytes received.
        actual: u64,
    },
    /// The manifest does not parse or has an unsupported type.
    #[error("{reference}: {source}")]
    Manifest {
        /// The image.
        reference: String,
        /// The parse error.
        #[source]
        source: ManifestError,
    },
    /// The image config does not parse.
    #[error("invalid image config {digest}: {source}")]
    Config {
        /// The config blob.
        digest: Digest,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The index has no manifest for our platform.
    #[error("no match for platform {platform} in manifest {reference}")]
    NoMatchingPlatform {
        /// The image.
        reference: String,
        /// The platform we asked for.
        platform: String,
    },
    /// A layer's media type is not one we can unpack.
    #[error("unsupported layer media type {0:?}")]
    UnsupportedLayer(String),
    /// A layer tar is malformed or tries to escape its directory.
    #[error("unpacking layer {layer}: {path}: {reason}")]
    Unpack {
        /// The layer blob.
        layer: Digest,
        /// The entry path inside the tar.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What we were doing.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Mounting or unmounting an overlay failed.
    #[error("{op} overlay at {target}: {source}")]
    Mount {
        /// `mount` or `unmount`.
        op: &'static str,
        /// The mount point.
        target: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The legacy mount(2) path needs an option string longer than a page.
    #[error("overlay mount options for {layers} layers exceed the 4096-byte limit and this kernel lacks lowerdir+")]
    TooManyLayers {
        /// How many layers the image has.
        layers: usize,
    },
    /// The image is not in the store.
    #[error("image {0} is not present")]
    NotPresent(String),
    /// A stored state file is corrupt.
    #[error("corrupt state file {path}: {source}")]
    State {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A background task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }
}
