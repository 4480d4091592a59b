//! The HTTP edge: routes (each documented in the OpenAPI document by registering it),
//! request ids, the per-request log line, metrics, and the one error shape.

mod admin;
mod audit;
mod auth;
mod enrich;
mod entry;
mod error;
mod extract;
mod extraction;
mod openapi;
mod ops;
mod purge;
mod ratelimit;
mod request_id;
mod result;
mod single;
mod usage;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::callers::hash_key;
pub use auth::{AuthPolicy, Callers, KeyInBody};
pub use enrich::{EnrichRequest, RequestLimits, WaitMs, parse_enrich_body};
pub(crate) use enrich::{enrich_one, record_on_span, who};
pub use entry::Entry;
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub(crate) use error::{DEADLINE, INTERNAL, UNAUTHORIZED};
pub use extract::ApiJson;
pub(crate) use extract::ApiQuery;
pub use result::{
    AnyResult, DomainResult, EnrichResponse, FileResult, IpResult, ResultBody, UrlResult,
    batch_json, json_response, result_json, write_result,
};

use crate::audit::{AuditLog, SourceIp, source_ip};
use crate::callers::{DailyUse, Registry};
use crate::config::TrustedProxies;
use crate::enrich::Enricher;
use crate::metrics::Metrics;
use crate::report::VerdictPolicy;
use crate::usage::Usage;

/// Whether the service takes traffic (false while starting and draining).
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Marks the service ready or not.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }

    /// Current state.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub enricher: Enricher,
    pub limits: RequestLimits,
    pub verdict: VerdictPolicy,
    pub metrics: Metrics,
    pub ready: Readiness,
    /// Every caller, for authentication and the admin API.
    pub registry: Registry,
    /// Calls charged to each caller today, for the caller list.
    pub daily_use: Arc<dyn DailyUse>,
    pub audit: AuditLog,
    /// Usage per day, caller, route and endpoint.
    pub usage: Usage,
    /// The console's sessions; `None` when the console is off.
    pub sessions: Option<crate::console::Sessions>,
}

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub body_limit_bytes: usize,
    pub swagger_ui: bool,
    /// Deadline of one request, waits included.
    pub request_timeout: Duration,
    /// Peers whose `X-Forwarded-For` names the source address.
    pub trusted_proxies: TrustedProxies,
}

fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(enrich::enrich_batch))
        .routes(routes!(enrich::enrich_ip))
        .routes(routes!(single::enrich_domain))
        .routes(routes!(single::enrich_file))
        .routes(routes!(single::enrich_url))
        .routes(routes!(extraction::extract))
        .routes(routes!(ops::quota))
        .routes(routes!(ops::livez))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(admin::list_callers, admin::create_caller))
        .routes(routes!(
            admin::get_caller,
            admin::patch_caller,
            admin::delete_caller
        ))
        .routes(routes!(admin::rotate_key))
        .routes(routes!(audit::audit_log))
        .routes(routes!(purge::purge))
        .routes(routes!(usage::usage))
        .merge(crate::integrations::routes())
        .routes(routes!(
            crate::console::signin::sign_in,
            crate::console::signin::current_session,
            crate::console::signin::sign_out
        ))
}

/// The OpenAPI document, generated from the route registrations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = api_routes().split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The whole application router.
pub fn router(state: AppState, options: HttpOptions, callers: Callers) -> Router {
    let (mut api, _) = api_routes().split_for_parts();
    if state.sessions.is_some() {
        api = api.merge(crate::console::pages());
    }
    let doc = openapi();
    let mut app = api
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc) }
            }),
        )
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(state.clone());
    if options.swagger_ui {
        app = app.merge(
            // The document is served by our own route above; the UI only points at it.
            utoipa_swagger_ui::SwaggerUi::new("/docs")
                .config(utoipa_swagger_ui::Config::from("/openapi.json")),
        );
    }
    at_the_door(app, state, options, callers)
}

/// The router of the MISP listener (`VTENRICH_MISP_LISTEN`): only the misp-modules routes,
/// behind the same edge (authentication, deadline, metrics, error shape).
pub fn misp_router(state: AppState, options: HttpOptions, callers: Callers) -> Router {
    let (misp, _) = crate::integrations::misp_routes().split_for_parts();
    let app = misp
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(state.clone());
    at_the_door(app, state, options, callers)
}

/// Wraps routes in what every request passes: body limit, the edge, panic catching, the
/// request span and the request id.
fn at_the_door(app: Router, state: AppState, options: HttpOptions, callers: Callers) -> Router {
    let edge = Edge {
        metrics: state.metrics.clone(),
        enricher: state.enricher.clone(),
        callers,
        deadline: options.request_timeout,
        audit: state.audit.clone(),
        trusted_proxies: Arc::new(options.trusted_proxies),
    };
    app.layer(DefaultBodyLimit::max(options.body_limit_bytes))
        .layer(middleware::from_fn_with_state(edge, at_the_edge))
        .layer(catch_panics())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", |p| p.as_str());
                    let request_id = request
                        .headers()
                        .get(request_id::REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        route,
                        request_id,
                        observables = tracing::field::Empty,
                        cache_hits = tracing::field::Empty,
                        upstream_calls = tracing::field::Empty,
                        caller = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(|response: &Response, latency: Duration, _span: &Span| {
                    tracing::info!(
                        status = response.status().as_u16(),
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "request finished"
                    );
                })
                .on_failure(()),
        )
        .layer(middleware::from_fn(request_id::assign_request_id))
}

/// Turns a panic in a handler into the JSON 500 (logged once); the service keeps serving.
fn catch_panics() -> CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> Response> {
    CatchPanicLayer::custom(|panic: Box<dyn std::any::Any + Send>| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(panic = %what, "a request handler panicked");
        ApiError::internal().into_response()
    })
}

/// What every request passes through once: metrics, authentication and the deadline, in
/// one middleware, since each layer costs a service clone and an allocation per request.
#[derive(Clone)]
struct Edge {
    metrics: Metrics,
    /// Reads each caller's daily budget for the RateLimit headers.
    enricher: Enricher,
    callers: Callers,
    deadline: Duration,
    audit: AuditLog,
    trusted_proxies: Arc<TrustedProxies>,
}

/// Counts and times every request by its route template (never the raw path), lets only
/// authorised callers in, answers 503 when a request outlives its deadline, so nothing can
/// pin a connection forever, and puts every non-2xx answer in the error shape. Upstream calls
/// a request started keep running in their own tasks and still fill the cache.
async fn at_the_edge(State(edge): State<Edge>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = known_method(request.method().as_str());
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
    let response = match edge.callers.authorize(&mut request) {
        Err(refused) => {
            // Aggregated per address and minute inside: a brute force cannot flood the log.
            edge.audit.auth_failed(source);
            refused.into_response()
        }
        Ok(()) => {
            let budgeted = route
                .as_ref()
                .is_some_and(|r| BUDGETED_ROUTES.contains(&r.as_str()))
                .then(|| request.extensions().get::<crate::caller::Caller>().cloned())
                .flatten();
            let mut response = match tokio::time::timeout(edge.deadline, next.run(request)).await {
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
    let response = error::in_error_shape(response);
    let class = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    edge.metrics
        .http_requests
        .with_label_values(&[route, method, class])
        .inc();
    edge.metrics
        .http_duration
        .with_label_values(&[route])
        .observe(started.elapsed().as_secs_f64());
    response
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

/// Keeps the method label a closed set: anything exotic is `other`.
fn known_method(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests;
