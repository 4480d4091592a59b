//! The requests in flight on one connection, so that idleness is measured in HTTP requests:
//! bytes or frames (an HTTP/2 PING, a TCP keep-alive) must not keep a connection open, and a
//! request that is being answered must never count as idle.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::metrics::ConnectionClosed;

/// What the idle watcher sees of a connection.
#[derive(Debug, Clone, Copy, Default)]
struct State {
    /// Requests received and not yet answered to the last byte.
    in_flight: usize,
    /// Requests received since the connection opened; a change is activity even when the
    /// request came and went between two looks.
    started: u64,
}

/// The request activity of one connection; clones share it.
#[derive(Debug, Clone)]
pub(super) struct Activity(watch::Sender<State>);

impl Activity {
    pub(super) fn new() -> Self {
        Self(watch::Sender::new(State::default()))
    }

    fn start(&self) -> InFlight {
        self.0.send_modify(|state| {
            state.in_flight += 1;
            state.started += 1;
        });
        InFlight(self.clone())
    }

    /// Resolves once the connection has had no request in flight for `first` since it opened
    /// (before any request) or for `idle` since its last answer; never while a request runs.
    pub(super) async fn silent_for(&self, first: Duration, idle: Duration) -> ConnectionClosed {
        let mut watch = self.0.subscribe();
        loop {
            // `wait_for` fails only once every sender is gone, and `self` is one; were it to,
            // closing beats spinning.
            let Ok(started) = watch
                .wait_for(|state| state.in_flight == 0)
                .await
                .map(|state| state.started)
            else {
                return ConnectionClosed::IdleTimeout;
            };
            let (limit, reason) = if started == 0 {
                (first, ConnectionClosed::HeaderTimeout)
            } else {
                (idle, ConnectionClosed::IdleTimeout)
            };
            let next = watch.wait_for(|state| state.started != started);
            if tokio::time::timeout(limit, next).await.is_err() {
                return reason;
            }
        }
    }
}

/// One request in flight; dropped when its response body has been sent (or abandoned).
#[derive(Debug)]
struct InFlight(Activity);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.0.send_modify(|state| state.in_flight -= 1);
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
