//! One client connection from accept to close: served by hyper, closed gracefully when it stays
//! silent (no request since it opened, or none in flight for the idle timeout) or when the
//! server shuts down.

use std::pin::pin;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::{Builder, UpgradeableConnection};
use tokio::net::TcpStream;
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;

use super::ServerLimits;
use super::activity::{Activity, Tracked};
use super::open::OpenConnection;
use crate::metrics::Metrics;

type Io = TokioIo<std::pin::Pin<Box<TimeoutStream<TcpStream>>>>;
type Connection = UpgradeableConnection<'static, Io, Tracked, TokioExecutor>;

/// What a connection task needs besides its socket.
pub(super) struct Parts {
    pub builder: Builder<TokioExecutor>,
    pub router: axum::Router,
    pub limits: ServerLimits,
    pub metrics: Metrics,
    /// Cancelled when the server stops: connections finish what is in flight and close.
    pub closing: CancellationToken,
}

/// Serves `stream` until the client leaves, it falls silent, or the server closes; `open`
/// holds its place under the connection cap until then.
pub(super) fn spawn(stream: TcpStream, parts: &Parts, open: OpenConnection) {
    let peer = stream.peer_addr().ok();
    let _ = stream.set_nodelay(true);
    let mut stream = TimeoutStream::new(stream);
    // A client that stops reading its answer would pin the connection with a response in
    // flight; a write making no progress for the idle timeout ends it.
    stream.set_write_timeout(Some(parts.limits.idle_timeout));
    let activity = Activity::new();
    let service = Tracked::new(parts.router.clone(), activity.clone(), peer);
    let connection = parts
        .builder
        .serve_connection_with_upgrades(TokioIo::new(Box::pin(stream)), service)
        .into_owned();
    let (limits, metrics, closing) = (parts.limits, parts.metrics.clone(), parts.closing.clone());
    tokio::spawn(async move {
        drive(connection, activity, limits, metrics, closing).await;
        drop(open);
    });
}

async fn drive(
    connection: Connection,
    activity: Activity,
    limits: ServerLimits,
    metrics: Metrics,
    closing: CancellationToken,
) {
    let mut connection = pin!(connection);
    tokio::select! {
        result = connection.as_mut() => return log_end(result),
        reason = activity.silent_for(limits.header_read_timeout, limits.idle_timeout) => {
            tracing::debug!(?reason, "closing a silent connection");
            metrics.connection_closed(reason);
        }
        () = closing.cancelled() => {}
    }
    // Graceful: an HTTP/1 connection between requests closes at once, one mid-request after
    // its answer; HTTP/2 gets GOAWAY and its open streams finish. Anything in flight is bounded
    // by the request deadline, which is shorter than the idle timeout, so this bound only
    // cuts off peers that never acknowledge the close.
    connection.as_mut().graceful_shutdown();
    match tokio::time::timeout(limits.idle_timeout, connection).await {
        Ok(result) => log_end(result),
        Err(_) => tracing::debug!("dropped a connection that did not close gracefully"),
    }
}

fn log_end(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    // Clients that vanish mid-request are routine, not worth more than debug.
    if let Err(err) = result {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}
