//! One connection to the loopback server: served by hyper under a lifetime cap, its peer
//! checked, its `Host` checked, each request routed, and its outcome handed over once its page
//! is written.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::routing::route;
use super::state::{Ends, START_PREFIX, Shared, Slot};

/// No connection lives longer than this.
pub(super) const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// Serves one connection; a captured outcome is handed over only once its page is written.
/// `busy` is set once the connection has sent a whole request head.
pub(super) async fn serve(
    stream: TcpStream,
    builder: Arc<http1::Builder>,
    shared: Arc<Shared>,
    busy: Arc<AtomicBool>,
) {
    let ends = Ends {
        local: stream.local_addr().ok(),
        peer: stream.peer_addr().ok(),
    };
    let slot: Slot = Arc::new(Mutex::new(None));
    let service = {
        let shared = Arc::clone(&shared);
        let slot = Arc::clone(&slot);
        service_fn(move |req| {
            busy.store(true, Ordering::Release);
            let shared = Arc::clone(&shared);
            let slot = Arc::clone(&slot);
            async move { Ok::<_, Infallible>(handle(req, &shared, &slot, ends).await) }
        })
    };
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    match tokio::time::timeout(CONNECTION_LIFETIME, connection).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::trace!(error = %e, "loopback connection ended with an error"),
        Err(_) => tracing::debug!("loopback connection closed after its lifetime cap"),
    }
    let captured = slot.lock().ok().and_then(|mut s| s.take());
    if let Some(outcome) = captured {
        let _ = shared.tx.try_send(outcome);
    }
}

/// A short, log-safe rendering of a request path (never the query).
pub(super) fn log_path(path: &str) -> &str {
    if path.starts_with(START_PREFIX) {
        return START_PREFIX;
    }
    let mut end = path.len().min(64);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}

/// Answers one request and traces what it was: its kind, method, status and a log-safe path
/// (never a query string, a form body, `state` or the start address's token).
pub(super) async fn handle(
    req: Request<Incoming>,
    shared: &Shared,
    slot: &Slot,
    ends: Ends,
) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = log_path(req.uri().path()).to_owned();
    let (kind, response) = route(req, shared, slot, ends).await;
    tracing::debug!(
        kind = kind.as_str(),
        %method,
        path,
        status = response.status().as_u16(),
        "loopback server request"
    );
    response
}
