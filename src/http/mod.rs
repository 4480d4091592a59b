//! The HTTP edge: routes (each documented in the OpenAPI document by registering it),
//! request ids, the per-request log line, metrics, and the one error shape.

mod admin;
mod audit;
mod auth;
mod edge;
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
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
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
    AnyResult, DomainResult, EnrichResponse, FileResult, IpResult, LocalTails, ResultBody,
    UrlResult, batch_json, json_response, result_json, write_result,
};

use crate::audit::AuditLog;
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

/// What every handler can reach: one shared [`AppParts`].
///
/// One `Arc`, because axum clones the state for every request (with the handler) and drops it
/// after: cloning the parts one by one cost ten reference-count updates each way, about 2% of a
/// cached lookup's CPU.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    pub fn new(parts: AppParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct AppParts {
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
    let routes: Vec<String> = doc.paths.paths.keys().cloned().collect();
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
    at_the_door(app, &routes, state, options, callers)
}

/// The router of the MISP listener (`VTENRICH_MISP_LISTEN`): only the misp-modules routes,
/// behind the same edge (authentication, deadline, metrics, error shape).
pub fn misp_router(state: AppState, options: HttpOptions, callers: Callers) -> Router {
    let (misp, doc) = crate::integrations::misp_routes().split_for_parts();
    let routes: Vec<String> = doc.paths.paths.into_keys().collect();
    let app = misp
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(state.clone());
    at_the_door(app, &routes, state, options, callers)
}

/// Wraps routes in what every request passes: the body limit and the edge (see
/// [`edge::EdgeService`]).
/// `routes` are the documented route templates, whose metric children the edge keeps.
fn at_the_door(
    app: Router,
    routes: &[String],
    state: AppState,
    options: HttpOptions,
    callers: Callers,
) -> Router {
    let edge = edge::Edge {
        metrics: state.metrics.clone(),
        enricher: state.enricher.clone(),
        callers,
        deadline: options.request_timeout,
        audit: state.audit.clone(),
        trusted_proxies: options.trusted_proxies,
        children: edge::RouteMetrics::new(routes.iter().map(String::as_str)),
    };
    app.layer(DefaultBodyLimit::max(options.body_limit_bytes))
        .layer(edge::EdgeLayer::new(edge))
}

#[cfg(test)]
mod tests;
