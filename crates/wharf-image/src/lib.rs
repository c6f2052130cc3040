//! `wharf-image` owns the image side of the node agent: image references, registry pulls
//! (OCI Distribution / Docker Registry v2 over HTTP(S), anonymous, Basic and bearer-token
//! auth, credentials from `imagePullSecrets`), manifest lists by platform, digest
//! verification of every blob, the on-disk content store with each layer unpacked once per
//! digest (gzip, zstd or plain tars; whiteouts and opaque directories as overlayfs expects them), overlayfs root
//! filesystems per container, `imagePullPolicy` with the kubelet's back-off and failure
//! reasons, and image garbage collection.
//!
//! The agent builds one [`RegistryClient`] and one [`ImageStore`] per node, calls
//! [`ImageStore::ensure_image`] before creating a container, then
//! [`ImageStore::prepare_rootfs`] for the container's root filesystem and
//! [`Image::config`] for its default command, environment, working directory and user.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod auth;
pub mod client;
pub mod digest;
pub mod error;
pub mod manifest;
pub mod policy;
pub mod reference;
pub mod rootfs;
pub mod store;
pub mod unpack;

pub use auth::{Credentials, Keyring};
pub use client::{ClientConfig, RegistryClient};
pub use digest::Digest;
pub use error::{Error, Result};
pub use manifest::{ImageConfig, Platform};
pub use policy::{ImageFailure, PullBackoff, PullPolicy};
pub use reference::Reference;
pub use rootfs::Mounted;
pub use store::{GcPolicy, GcReport, Image, ImageStore, Layer, StoreStats};
