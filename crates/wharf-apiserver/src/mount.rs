//! Other services sharing the API server's listener ("one listener, every protocol"): the
//! OCI registry under `/v2/` and the AWS front door claim their requests before Kubernetes
//! routing, and authenticate them their own way.

use std::future::Future;
use std::pin::Pin;

use crate::http::{Body, RequestBody};

/// A service mounted on the listener.
pub trait Mount: Send + Sync {
    /// Whether this request is for the service (decided from the head alone).
    fn claims(&self, head: &http::request::Parts) -> bool;
    /// Serves a claimed request.
    fn serve(&self, req: http::Request<RequestBody>) -> Pin<Box<dyn Future<Output = http::Response<Body>> + Send + 'static>>;
}
