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

/// A request body that is `Sync` (a mutex around it, never contended: polling takes
/// `&mut self`), for mounted services whose handlers hold the body across awaits behind a
/// shared reference.
pub struct SyncBody(std::sync::Mutex<RequestBody>);

impl SyncBody {
    /// Wraps a body.
    pub fn new(body: RequestBody) -> Self {
        Self(std::sync::Mutex::new(body))
    }
}

impl http_body::Body for SyncBody {
    type Data = bytes::Bytes;
    type Error = crate::http::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let inner = self.get_mut().0.get_mut().unwrap_or_else(|e| e.into_inner());
        Pin::new(inner).poll_frame(cx)
    }
}
