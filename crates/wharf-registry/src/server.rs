//! The registry alone on a plain-HTTP listener (HTTP/1.1 and h2c), for loopback use, tests
//! and the benchmark. Wharf itself mounts [`crate::Registry::handle`] on its main listener.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::Registry;

/// How long open connections get to finish after `shutdown` completes.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `registry` on `listener` until `shutdown` completes, then stops accepting and lets
/// open connections finish (for at most ten seconds).
pub async fn serve(listener: TcpListener, registry: Arc<Registry>, shutdown: impl Future<Output = ()>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Large blobs over h2c need more than the 64 KiB default window.
    builder.http2().adaptive_window(true).max_frame_size(1 << 20);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "registry accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let reg = registry.clone();
        let svc = service_fn(move |req| {
            let reg = reg.clone();
            async move { Ok::<_, Infallible>(reg.handle(req).await) }
        });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), svc).into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "registry connection ended with an error");
            }
        });
    }
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}
