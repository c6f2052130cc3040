//! The in-process client: a `kube::Client` whose transport calls the API server directly, with
//! a fixed identity, so the scheduler, controllers and simulated nodes use the API exactly as
//! out-of-process ones do (same authorization, admission, watch semantics) without TLS and
//! sockets in between.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::auth::UserInfo;
use crate::http::{ApiServer, Body};

/// A `tower::Service` that hands each request to an [`ApiServer`] as `user`.
#[derive(Clone)]
pub struct InProcess {
    api: Arc<ApiServer>,
    user: UserInfo,
}

impl InProcess {
    /// A transport to `api` authenticated as `user`.
    pub fn new(api: Arc<ApiServer>, user: UserInfo) -> Self {
        Self { api, user }
    }

    /// A kube-rs client over this transport (default namespace `default`).
    pub fn client(self) -> kube::Client {
        kube::Client::new(self, "default")
    }
}

impl tower::Service<http::Request<kube::client::Body>> for InProcess {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<kube::client::Body>) -> Self::Future {
        let api = self.api.clone();
        let user = self.user.clone();
        Box::pin(async move { Ok(api.handle(req, Some(user)).await) })
    }
}
