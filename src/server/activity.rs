//! The requests in flight on one connection, so that idleness is measured in HTTP requests:
//! bytes or frames (an HTTP/2 PING, a TCP keep-alive) must not keep a connection open, and a
//! request that is being answered must never count as idle.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::metrics::ConnectionClosed;

/// The request activity of one connection; clones share it.
///
/// Plain atomics the idle watcher reads when its own deadline comes, rather than a channel
/// that woke it twice per request (and armed a new timer each time): a keep-alive connection
/// serving many requests a second then costs its watcher one wake-up per idle period.
#[derive(Debug, Clone)]
pub(super) struct Activity(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    /// When the connection opened; `last_end` counts from it.
    opened: Instant,
    /// Requests received and not yet answered to the last byte.
    in_flight: AtomicUsize,
    /// Requests received since the connection opened.
    started: AtomicU64,
    /// When the last answer was sent to its last byte, in nanoseconds since `opened`.
    last_end: AtomicU64,
}

impl Activity {
    pub(super) fn new() -> Self {
        Self(Arc::new(Shared {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            last_end: AtomicU64::new(0),
        }))
    }

    fn start(&self) -> InFlight {
        self.0.in_flight.fetch_add(1, Ordering::SeqCst);
        self.0.started.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// Resolves once the connection has had no request in flight for `first` since it opened
    /// (before any request) or for `idle` since its last answer; never while a request runs.
    pub(super) async fn silent_for(&self, first: Duration, idle: Duration) -> ConnectionClosed {
        let shared = &self.0;
        let mut deadline = shared.opened + first;
        loop {
            tokio::time::sleep_until(deadline).await;
            let now = Instant::now();
            if shared.in_flight.load(Ordering::SeqCst) > 0 {
                // Looked at again later; the request deadline bounds how long it can run.
                deadline = now + idle;
                continue;
            }
            if shared.started.load(Ordering::SeqCst) == 0 {
                return ConnectionClosed::HeaderTimeout;
            }
            let last_end = Duration::from_nanos(shared.last_end.load(Ordering::SeqCst));
            let due = shared.opened + last_end + idle;
            if due <= now {
                return ConnectionClosed::IdleTimeout;
            }
            deadline = due;
        }
    }
}

/// One request in flight; dropped when its response body has been sent (or abandoned).
#[derive(Debug)]
struct InFlight(Activity);

impl Drop for InFlight {
    fn drop(&mut self) {
        let shared = &self.0.0;
        let since_open = shared.opened.elapsed().as_nanos();
        // Written before the count drops, so a watcher that sees no request in flight sees
        // when the last one ended.
        shared.last_end.store(
            u64::try_from(since_open).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The router as hyper's service, counting each request in flight until its body is sent,
/// and telling each request its peer address (`ConnectInfo`, as `axum::serve` does).
#[derive(Debug, Clone)]
pub(super) struct Tracked {
    router: Router,
    activity: Activity,
    peer: Option<std::net::SocketAddr>,
}

impl Tracked {
    pub(super) fn new(
        router: Router,
        activity: Activity,
        peer: Option<std::net::SocketAddr>,
    ) -> Self {
        Self {
            router,
            activity,
            peer,
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for Tracked {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn Future<Output = Result<Response<TrackedBody>, Infallible>> + Send + 'static>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        if let Some(peer) = self.peer {
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
        }
        let in_flight = self.activity.start();
        let answer = self.router.clone().oneshot(request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| TrackedBody {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}

/// A response body that keeps its request in flight until hyper is done with it.
#[derive(Debug)]
pub(super) struct TrackedBody {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real time, kept short: the runtime's paused clock needs a tokio feature the build lacks.
    const FIRST: Duration = Duration::from_millis(50);
    const IDLE: Duration = Duration::from_millis(100);

    fn watch(activity: &Activity) -> tokio::task::JoinHandle<ConnectionClosed> {
        let activity = activity.clone();
        tokio::spawn(async move { activity.silent_for(FIRST, IDLE).await })
    }

    #[tokio::test]
    async fn a_connection_without_any_request_is_closed_for_its_header_timeout() {
        let activity = Activity::new();

        let reason = activity.silent_for(FIRST, IDLE).await;

        assert_eq!(reason, ConnectionClosed::HeaderTimeout);
    }

    #[tokio::test]
    async fn a_request_in_flight_longer_than_the_idle_timeout_keeps_the_connection() {
        let activity = Activity::new();
        let in_flight = activity.start();
        let watcher = watch(&activity);

        tokio::time::sleep(IDLE * 4).await;
        let finished_while_in_flight = watcher.is_finished();
        drop(in_flight);
        let reason = watcher.await.expect("the watcher ends");

        assert!(!finished_while_in_flight, "idle with a request in flight");
        assert_eq!(reason, ConnectionClosed::IdleTimeout);
    }

    #[tokio::test]
    async fn a_request_that_came_and_went_unseen_still_counts_as_activity() {
        let activity = Activity::new();
        let watcher = watch(&activity);
        tokio::task::yield_now().await;

        // Started and answered before the watcher looks again: it sees no request in flight,
        // only that one was started.
        drop(activity.start());
        let reason = watcher.await.expect("the watcher ends");

        assert_eq!(reason, ConnectionClosed::IdleTimeout);
    }
}
