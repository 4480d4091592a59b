//! The HTTP server loop: hyper with the limits axum's `serve` does not expose (connection cap,
//! header size, deadline for the first request, idle connections) and graceful shutdown.
//!
//! - `open`: the count of open connections under the cap.
//! - `connection`: one connection from accept to close.
//! - `activity`: requests in flight per connection, which idleness is measured by.

mod activity;
mod connection;
mod open;

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::{ConnectionRefused, Metrics};
use connection::Parts;
use open::OpenConnections;

/// Pause after a failed `accept` (out of file descriptors and the like): the pending connection
/// stays queued, so retrying at once would spin a core without freeing anything.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// HTTP/2 PING interval and acknowledgement deadline: a peer that vanished without a FIN (a
/// rebooted load balancer, a dropped NAT entry) is found within 40 s even while a long request
/// is in flight or a graceful close waits for its acknowledgement. There is no setting for it:
/// the idle timeout, not the PINGs, decides how long a healthy connection may stay open.
const HTTP2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);
const HTTP2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// A client must send its request headers within this time (slowloris); a connection with
    /// no request this long after it opened is closed.
    pub header_read_timeout: Duration,
    /// Largest request head (request line plus headers) in bytes.
    pub max_header_bytes: usize,
    /// A connection with no request in flight for this long is closed. Longer than the request
    /// deadline, so it never cuts off a client waiting for its answer.
    pub idle_timeout: Duration,
    /// Most client connections open at once; new ones beyond it are accepted and closed at once.
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and waits
/// for in-flight requests (each is bounded by the request deadline).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    metrics: Metrics,
    shutdown: impl Future<Output = ()>,
) {
    let open = OpenConnections::new(limits.max_connections, metrics.connections_open.clone());
    metrics
        .connections_max
        .set(i64::try_from(limits.max_connections).unwrap_or(i64::MAX));
    let parts = Parts {
        builder: builder(&limits),
        router,
        limits,
        metrics,
        closing: CancellationToken::new(),
    };
    let mut shutdown = pin!(shutdown);
    // Log a run of refusals once when it starts, not once per connection of a flood.
    let (mut shedding, mut failing) = (false, false);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(err) => {
                    parts.metrics.connection_refused(ConnectionRefused::AcceptError);
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(error = %err, "accept failed; backing off");
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        failing = false;
        let Some(place) = open.admit() else {
            // Accepted and dropped: the client sees the connection close at once instead of
            // waiting in the backlog, and the descriptor is free again.
            parts.metrics.connection_refused(ConnectionRefused::Limit);
            if !std::mem::replace(&mut shedding, true) {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "connection limit reached; closing new connections until some close"
                );
            }
            continue;
        };
        if std::mem::replace(&mut shedding, false) {
            tracing::info!("below the connection limit again; serving new connections");
        }
        connection::spawn(stream, &parts, place);
    }
    drop(listener);
    parts.closing.cancel();
    open.all_closed().await;
}

fn builder(limits: &ServerLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(HTTP2_KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(HTTP2_KEEP_ALIVE_TIMEOUT)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    builder
}
