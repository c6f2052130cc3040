//! The Kubernetes API server of one cluster control plane: the generic store with per-kind
//! strategies over the datastore, the watch cache, discovery, authentication and RBAC, and
//! the HTTPS listener. A [`ControlPlane`] is a value: a process can run many, each with its
//! own datastore prefix, CA and port.

pub mod auth;
pub mod cache;
pub mod client;
mod controlplane;
pub mod discovery;
pub mod error;
pub mod http;
mod lifecycle;
pub mod mount;
pub mod nodeproxy;
pub mod openapi;
pub mod pki;
pub mod registry;
pub mod strategy;
pub mod subresources;
pub mod tables;

pub use controlplane::{ControlPlane, ControlPlaneConfig, StartError};
