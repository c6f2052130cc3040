//! Wharf's AWS front door: the only crate that knows AWS wire shapes.
//!
//! It owns SigV4 verification ([`sigv4`]: Authorization header and presigned query, clock
//! skew, payload hash, session tokens), routing of a request to a [`Service`] by protocol
//! (`X-Amz-Target` for JSON services, form `Action` + `Version` for query and EC2 services,
//! method and path for REST-JSON, and the credential scope's service to tell apart services
//! that share a path or a version), the query-protocol codecs ([`QueryParams`],
//! [`xml::XmlWriter`]) and the error envelopes of every protocol ([`Protocol`]). Services
//! (`wharf-iam`, later ECR/EKS/EC2/CloudWatch) implement [`Service`]; authentication and
//! authorization are delegated to an [`Identity`] (implemented by `wharf-iam`).
//!
//! [`FrontDoor::handle`] serves one request and is mounted on Wharf's main listener next to
//! the Kubernetes API and the registry ([`is_aws_request`] tells them apart); [`serve`] runs
//! it alone on a plain-HTTP loopback listener.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod error;
mod frontdoor;
pub mod protocol;
pub mod query;
pub mod service;
pub mod sigv4;
pub mod time;
pub mod xml;

pub use error::{AuthFailure, AwsError};
pub use frontdoor::{is_aws_request, serve, AuthError, Body, FrontDoor, RemoteAddr, DEFAULT_MAX_BODY};
pub use protocol::Protocol;
pub use query::QueryParams;
pub use service::{Caller, ConditionKeys, Credential, Decision, Identity, Input, Output, PrincipalKind, RequestContext, Service};
