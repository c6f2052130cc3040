//! The ECR API on Wharf's registry: a [`wharf_aws::Service`] (signing name `ecr`, JSON 1.1,
//! `AmazonEC2ContainerRegistry_V20150921.*`) whose operations are thin calls on
//! [`wharf_registry::Registry`], lifecycle policies that are really applied (on every push
//! and periodically), and [`RegistryAuthorizer`], the registry's authorizer under IAM: the
//! passwords `GetAuthorizationToken` issues, judged per request by IAM policy evaluation plus
//! the repository policy.
//!
//! # Wiring (what `wharf up` does)
//! ```no_run
//! # async fn wire(store: std::sync::Arc<dyn wharf_store::KvStore>, iam: std::sync::Arc<wharf_iam::Iam>) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use wharf_registry::{LocalAuthorizer, Registry, RegistryConfig};
//! let local = LocalAuthorizer::new(store.clone(), "admin-token");
//! let authorizer = Arc::new(wharf_ecr::RegistryAuthorizer::new(store.clone(), iam.clone(), "us-east-1", local));
//! let registry = Arc::new(Registry::open(RegistryConfig::new("/var/lib/wharf/registry"), store.clone(), authorizer.clone()).await?);
//! let ecr = Arc::new(wharf_ecr::Ecr::new(registry, authorizer, store));
//! let front_door = wharf_iam::front_door(iam, "us-east-1").register(ecr.clone());
//! // Once the listener is bound:
//! ecr.set_registry_endpoint("https://127.0.0.1:6443");
//! tokio::spawn(ecr.clone().run_lifecycle(std::time::Duration::from_secs(3600), std::future::pending()));
//! # Ok(()) }
//! ```
//!
//! # repositoryUri
//! ECR's `ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME` does not resolve here, so a
//! repository's URI is `HOST:PORT/NAME` of the HTTPS listener the registry is mounted on (the
//! same endpoint `AWS_ENDPOINT_URL` names), and `proxyEndpoint` is `https://HOST:PORT`.
//! Both skopeo and the node agents can use it as is.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod authz;
pub mod lifecycle;
pub mod record;
mod service;

pub use authz::{IssuedToken, RegistryAuthorizer};
pub use service::Ecr;

/// Errors of the ECR layer outside one request's AWS errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The datastore failed.
    #[error("datastore: {0}")]
    Store(#[from] wharf_store::StoreError),
    /// A stored record does not decode.
    #[error("stored record {key} does not decode")]
    Corrupt {
        /// The key.
        key: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A record could not be encoded or written.
    #[error("encoding a record: {0}")]
    Encode(String),
    /// IAM policy evaluation failed.
    #[error("IAM: {0}")]
    Iam(#[from] wharf_iam::IamError),
    /// The registry failed.
    #[error("registry: {0}")]
    Registry(#[from] wharf_registry::RegistryError),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
