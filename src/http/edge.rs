//! What every request passes through once, in one layer: its id, its span and log line,
//! authentication, the deadline, panic catching, the RateLimit headers, the error shape and the
//! HTTP metrics.
//!
//! One hand-written service rather than a stack of middleware: axum clones a route's whole
//! layer stack for every request, and each `from_fn` layer added a boxed future, a service clone
//! and a state clone of its own. Measured on a cached `GET /v1/ip` (callgrind, instructions per
//! request), the four layers this replaces cost more than the handler.

use std::any::Any;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use prometheus::{Histogram, IntCounter};
use tower::{Layer, Service};
use tracing::Instrument;

use super::error::{self, ApiError};
use super::{Callers, ratelimit, request_id};
use crate::audit::{AuditLog, SourceIp, source_ip};
use crate::config::TrustedProxies;
use crate::enrich::Enricher;
use crate::metrics::Metrics;

/// What the edge needs; shared by every route's copy of the layer.
pub(super) struct Edge {
    pub metrics: Metrics,
    /// Reads each caller's daily budget for the RateLimit headers.
    pub enricher: Enricher,
    pub callers: Callers,
    pub deadline: Duration,
    pub audit: AuditLog,
    pub trusted_proxies: TrustedProxies,
    /// The HTTP metric children, resolved on first use per route, method and status class.
    pub children: RouteMetrics,
}

/// Wraps each route (and the fallbacks) in [`EdgeService`].
#[derive(Clone)]
pub(super) struct EdgeLayer(Arc<Edge>);

impl EdgeLayer {
    pub(super) fn new(edge: Edge) -> Self {
        Self(Arc::new(edge))
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = EdgeService<S>;

    fn layer(&self, inner: S) -> EdgeService<S> {
        EdgeService {
            edge: Arc::clone(&self.0),
            inner,
        }
    }
}

/// One route behind the edge.
#[derive(Clone)]
pub(super) struct EdgeService<S> {
    edge: Arc<Edge>,
    inner: S,
}

impl<S> Service<Request> for EdgeService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    /// Counts and times every request by its route template (never the raw path), lets only
    /// authorised callers in, answers 503 when a request outlives its deadline, so nothing can
    /// pin a connection forever, and puts every non-2xx answer in the error shape. Upstream
    /// calls a request started keep running in their own tasks and still fill the cache.
    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let edge = Arc::clone(&self.edge);
        let id = request_id::assign(request.headers_mut());
        let route = request.extensions().get::<MatchedPath>().cloned();
        let route_label = route.as_ref().map_or("unmatched", MatchedPath::as_str);
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            route = route_label,
            request_id = id.to_str().unwrap_or(""),
            observables = tracing::field::Empty,
            cache_hits = tracing::field::Empty,
            upstream_calls = tracing::field::Empty,
            caller = tracing::field::Empty,
        );
        let method = method_slot(request.method().as_str());

        // Authentication records the caller on the span, and the handler's own synchronous part
        // runs here: both inside the span.
        let admitted = span.in_scope(|| {
            let source = source_ip(
                request
                    .extensions()
                    .get::<ConnectInfo<std::net::SocketAddr>>()
                    .map(|peer| peer.0.ip()),
                request
                    .headers()
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok()),
                &edge.trusted_proxies,
            );
            request.extensions_mut().insert(SourceIp(source));
            match edge.callers.authorize(&mut request) {
                Err(refused) => {
                    // Aggregated per address and minute inside: a brute force cannot flood the log.
                    edge.audit.auth_failed(source);
                    Err(refused)
                }
                Ok(()) => {
                    let budgeted = route
                        .as_ref()
                        .is_some_and(|r| BUDGETED_ROUTES.contains(&r.as_str()))
                        .then(|| request.extensions().get::<crate::caller::Caller>().cloned())
                        .flatten();
                    Ok((call_guarded(&mut self.inner, request), budgeted))
                }
            }
        });

        Box::pin(
            async move {
                let response = match admitted {
                    Err(refused) => refused.into_response(),
                    Ok((answer, budgeted)) => {
                        let mut response = match tokio::time::timeout(edge.deadline, answer).await
                        {
                            Ok(response) => response,
                            Err(_) => ApiError::new(
                                StatusCode::SERVICE_UNAVAILABLE,
                                "deadline_exceeded",
                                "the request took longer than the server's deadline (VTENRICH_REQUEST_TIMEOUT)",
                            )
                            .into_response(),
                        };
                        // Read after the handler, so the budget counts what this request spent.
                        if let Some(caller) = budgeted {
                            ratelimit::add(response.headers_mut(), edge.enricher.budget(&caller));
                        }
                        response
                    }
                };
                let mut response = error::in_error_shape(response);
                response.headers_mut().insert(request_id::REQUEST_ID, id);
                let latency = started.elapsed();
                let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
                edge.children
                    .of(&edge.metrics, route, method)
                    .count(response.status(), latency);
                tracing::info!(
                    status = response.status().as_u16(),
                    latency_ms = latency.as_secs_f64() * 1000.0,
                    "request finished"
                );
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// Calls `inner` and runs its answer, turning a panic in either into the JSON 500 (logged
/// once): the service keeps serving.
pub(super) fn call_guarded<S>(
    inner: &mut S,
    request: Request,
) -> impl Future<Output = Response> + Send + 'static
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    let called = std::panic::catch_unwind(AssertUnwindSafe(|| inner.call(request)));
    async move {
        let answer = match called {
            Ok(answer) => AssertUnwindSafe(answer).catch_unwind().await,
            Err(panic) => Err(panic),
        };
        match answer {
            Ok(Ok(response)) => response,
            Ok(Err(never)) => match never {},
            Err(panic) => panicked(&*panic),
        }
    }
}

fn panicked(panic: &(dyn Any + Send)) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or_default();
    tracing::error!(panic = %what, "a request handler panicked");
    ApiError::internal().into_response()
}

/// The routes whose answers carry the caller's daily budget (RateLimit headers).
const BUDGETED_ROUTES: [&str; 8] = [
    "/v1/enrich",
    "/v1/extract",
    "/v1/ip/{ip}",
    "/v1/domain/{domain}",
    "/v1/file/{hash}",
    "/v1/url",
    "/v1/lookup",
    "/v1/quota",
];

/// The method labels, in slot order: anything exotic is `other`, so the label stays a closed set.
const METHODS: [&str; 8] = [
    "GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "other",
];

/// `method`'s slot in [`METHODS`].
fn method_slot(method: &str) -> usize {
    METHODS[..METHODS.len() - 1]
        .iter()
        .position(|m| *m == method)
        .unwrap_or(METHODS.len() - 1)
}

/// The status classes of `http_requests_total`, in slot order.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The children of `http_requests_total{route,method,class}` and
/// `http_request_duration_seconds{route}` for every route the router knows, each resolved the
/// first time it is counted (a label look-up hashes three strings and takes a lock; resolving
/// lazily keeps the exported series exactly those that have been used).
#[derive(Default)]
pub(super) struct RouteMetrics {
    routes: HashMap<Box<str>, RouteSlots>,
    unmatched: RouteSlots,
}

#[derive(Default)]
struct RouteSlots {
    duration: OnceLock<Histogram>,
    requests: [[OnceLock<IntCounter>; CLASSES.len()]; METHODS.len()],
}

impl RouteMetrics {
    /// Slots for every route template in `routes`; others (none, unless a route is added
    /// without being listed) are counted by their labels.
    pub(super) fn new<'a>(routes: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            routes: routes
                .into_iter()
                .map(|route| (route.into(), RouteSlots::default()))
                .collect(),
            unmatched: RouteSlots::default(),
        }
    }

    /// What counts one request to `route` with `method`.
    fn of<'a>(&'a self, metrics: &'a Metrics, route: &'a str, method: usize) -> Counted<'a> {
        let slots = if route == "unmatched" {
            Some(&self.unmatched)
        } else {
            self.routes.get(route)
        };
        Counted {
            metrics,
            slots,
            route,
            method,
        }
    }
}

/// One request's place in the HTTP metrics; borrowed from the edge, which outlives it.
struct Counted<'a> {
    metrics: &'a Metrics,
    slots: Option<&'a RouteSlots>,
    route: &'a str,
    /// The slot in [`METHODS`].
    method: usize,
}

impl Counted<'_> {
    fn count(&self, status: StatusCode, latency: Duration) {
        let class = match status.as_u16() {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            _ => 4,
        };
        let seconds = latency.as_secs_f64();
        let (metrics, route, method) = (self.metrics, self.route, METHODS[self.method]);
        let Some(slots) = self.slots else {
            metrics
                .http_requests
                .with_label_values(&[route, method, CLASSES[class]])
                .inc();
            metrics
                .http_duration
                .with_label_values(&[route])
                .observe(seconds);
            return;
        };
        slots.requests[self.method][class]
            .get_or_init(|| {
                metrics
                    .http_requests
                    .with_label_values(&[route, method, CLASSES[class]])
            })
            .inc();
        slots
            .duration
            .get_or_init(|| metrics.http_duration.with_label_values(&[route]))
            .observe(seconds);
    }
}
