//! Serving a router on a TCP listener with limits, so that slow or idle clients cannot hold the
//! node: a deadline for reading request headers (which also closes idle keep-alive
//! connections), a deadline and a size cap for reading request bodies, a cap on connections
//! served at once, and a shutdown that gives in-flight requests a bounded grace period.
//!
//! ```text
//! accept ─▶ permit (at most max_connections; the rest wait in the kernel's backlog)
//!        ─▶ hyper HTTP/1 (header_read_timeout) ─▶ body read in full (body_read_timeout, max_body_bytes)
//!        ─▶ the router
//! shutdown ─▶ stop accepting ─▶ connections finish their request ─▶ after shutdown_grace: closed
//! ```

use crate::api::ApiError;
use axum::{
    Router,
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, watch},
    task::JoinSet,
};

/// The most connections one listener serves at once, unless the file-descriptor limit is lower.
pub const MAX_CONNECTIONS: usize = 512;
/// Requests larger than this are refused (413) before any handler sees them.
pub const MAX_BODY_BYTES: usize = crate::openai::MAX_BODY_BYTES;

/// What one listener allows its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Time a client has to send a request's headers; an idle keep-alive connection is closed
    /// after it too.
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's whole body once its headers are in (408 after).
    pub body_read_timeout: Duration,
    /// Largest request body (413 above).
    pub max_body_bytes: usize,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// How long in-flight requests may run after shutdown starts before their connections are
    /// closed.
    pub shutdown_grace: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_body_bytes: MAX_BODY_BYTES,
            max_connections: default_max_connections(),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// [`MAX_CONNECTIONS`], or a quarter of the process's open-file limit when that is lower (two
/// listeners, the store, the devnet and outgoing connections share it), but at least 16.
pub fn default_max_connections() -> usize {
    match open_file_limit() {
        Some(limit) => (limit / 4).clamp(16, MAX_CONNECTIONS),
        None => MAX_CONNECTIONS,
    }
}

/// The soft limit on open files, from `/proc/self/limits` (Linux); `None` elsewhere or when
/// unlimited.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_file_limit(&limits)
}

fn parse_open_file_limit(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

/// Connections a server holds, for logs and tests.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    open: AtomicUsize,
    peak: AtomicUsize,
}

impl ConnectionStats {
    /// Connections being served now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The most connections served at once so far.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn opened(self: &Arc<Self>) -> OpenConnection {
        let now = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        OpenConnection(Arc::clone(self))
    }
}

/// Counts a connection as open until dropped.
struct OpenConnection(Arc<ConnectionStats>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A router served on a listener under [`HttpLimits`].
#[derive(Debug)]
pub struct HttpServer {
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    stats: Arc<ConnectionStats>,
}

impl HttpServer {
    /// Serves `app` on `listener` once [`HttpServer::serve`] is called.
    pub fn new(listener: TcpListener, app: Router, limits: HttpLimits) -> Self {
        Self { listener, app, limits, stats: Arc::default() }
    }

    /// The server's connection counts.
    pub fn stats(&self) -> Arc<ConnectionStats> {
        Arc::clone(&self.stats)
    }

    /// Serves until `shutdown` completes, then stops accepting, lets requests in flight finish
    /// for at most [`HttpLimits::shutdown_grace`], and closes what is left.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) {
        let Self { listener, app, limits, stats } = self;
        let local = listener.local_addr().ok();
        let app = app.layer(axum::middleware::from_fn_with_state(limits, read_body));
        let service = TowerToHyperService::new(app);
        let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        let (stop, stopped) = watch::channel(false);
        let mut connections = JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            // A free slot first: beyond the cap, clients wait in the backlog, unaccepted.
            let permit = tokio::select! {
                () = &mut shutdown => break,
                permit = Arc::clone(&permits).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors, or a connection reset before it was accepted:
                        // wait a little rather than spin.
                        tracing::warn!(target: "agora::http", ?local, "accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            while connections.try_join_next().is_some() {}
            let service = service.clone();
            let mut stopped = stopped.clone();
            let open = stats.opened();
            connections.spawn(async move {
                let _permit = permit;
                let _open = open;
                let mut http = hyper::server::conn::http1::Builder::new();
                http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
                let connection = http.serve_connection(TokioIo::new(stream), service);
                let mut connection = std::pin::pin!(connection);
                let result = tokio::select! {
                    result = connection.as_mut() => result,
                    () = until_stopped(&mut stopped) => {
                        // Finish the request in flight, then close; idle connections close now.
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(target: "agora::http", %peer, "connection closed: {e}");
                }
            });
        }
        drop(listener);
        let _ = stop.send(true);
        let drained = tokio::time::timeout(limits.shutdown_grace, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                target: "agora::http",
                ?local,
                connections = connections.len(),
                "closing connections still open after the shutdown grace period"
            );
            connections.shutdown().await;
        }
    }
}

async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Reads the request body in full, within the body deadline and the size cap, before the router
/// sees the request. Every route takes whole JSON bodies, so nothing streams in.
async fn read_body(State(limits): State<HttpLimits>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.max_body_bytes as u64) {
        return too_large(limits.max_body_bytes);
    }
    let read =
        tokio::time::timeout(limits.body_read_timeout, axum::body::to_bytes(body, limits.max_body_bytes));
    let bytes = match read.await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if is_length_limit(&e) => return too_large(limits.max_body_bytes),
        Ok(Err(e)) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!("the request body could not be read: {e}"),
            )
            .into_response();
        }
        Err(_) => {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request_error",
                format!("the request body did not arrive within {} s", limits.body_read_timeout.as_secs()),
            )
            .with_code("request_timeout")
            .into_response();
        }
    };
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

fn too_large(max: usize) -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request_error",
        format!("the request body is larger than {max} bytes"),
    )
    .with_code("request_too_large")
    .into_response()
}

/// Whether reading stopped at the size cap (a chunked body with no length given). http-body-util's
/// `LengthLimitError` is not re-exported by axum, so it is recognized by its message.
fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.to_string().contains("length limit exceeded") {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_file_limit_is_read_from_proc_limits() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            256                  524288               files     \n";
        assert_eq!(parse_open_file_limit(limits), Some(256));
        assert_eq!(parse_open_file_limit("Max open files  unlimited unlimited files"), None);
        assert_eq!(parse_open_file_limit(""), None);
    }

    #[test]
    fn the_connection_cap_leaves_file_descriptors_for_the_rest() {
        let cap = default_max_connections();
        assert!((16..=MAX_CONNECTIONS).contains(&cap), "{cap}");
    }
}
