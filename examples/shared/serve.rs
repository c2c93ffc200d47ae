//! Serving an axum router the way a production server should, for the examples:
//!
//! - a bounded time to send the first request's head, whatever the protocol: a connection that sends nothing, or
//!   whose HTTP/1 head or HTTP/2 HEADERS never ends, is closed after `header_read_timeout` (hyper's own timeout
//!   covers HTTP/1 heads after the first; a body timeout is the router's `RequestBodyTimeoutLayer`);
//! - HTTP/2 keep-alive pings, so that a connection whose peer stopped answering (one stuck in the middle of a
//!   header block cannot answer) is closed;
//! - an accept loop that backs off when accepting fails for want of descriptors or memory, rather than retrying at
//!   once and spinning a core, as `axum::serve` does;
//! - TCP_NODELAY (token-sized writes must leave at once, not wait for the client's delayed ACK);
//! - a graceful shutdown that is bounded: after `shutdown_timeout` the connections still open (a client holding a
//!   half-sent body) are closed, so that the process can flush its telemetry and exit.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// How long an HTTP/2 connection may stay silent before it is pinged, and then how long the ping may take.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the accept loop waits after an error that is not the connection's own (no descriptors, no memory).
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `app` until `shutdown` resolves, then drains open connections for at most `shutdown_timeout`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
    shutdown_timeout: Duration,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // The connection's own failure (reset before accept): serve the next one.
                Err(e) if is_connection_error(&e) => continue,
                // Out of descriptors or memory: accepting again at once fails again, as fast as the core allows.
                Err(e) => {
                    tracing::error!(error = %e, "accepting a connection failed; retrying in 1 s");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // Set once the first request's head has arrived: until then the connection has a deadline.
        let started = Arc::new(AtomicBool::new(false));
        let service = {
            let started = started.clone();
            app.clone().map_request(move |request| {
                started.store(true, Ordering::Relaxed);
                request
            })
        };
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = &mut connection => return,
                _ = tokio::time::sleep(header_read_timeout) => {}
            }
            if started.load(Ordering::Relaxed) {
                let _ = connection.await;
            }
            // Otherwise the connection is dropped, which closes it.
        });
    }
    drop(listener);
    if tokio::time::timeout(shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            timeout_s = shutdown_timeout.as_secs_f64(),
            "shutdown: connections still open after the timeout are closed"
        );
    }
    Ok(())
}

/// Errors of one connection, not of the listener: the next accept may well succeed.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
