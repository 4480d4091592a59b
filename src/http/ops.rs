//! Operational endpoints: liveness, readiness, quota state and Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody, INTERNAL, UNAUTHORIZED};
use crate::quota::{CountSource, WindowUsage};

/// `{"status": "..."}` of the health endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is alive.
///
/// Checks nothing external: a failing VirusTotal must not get the process restarted.
#[utoipa::path(get, path = "/livez", tag = "operations",
    responses((status = 200, description = "The process is alive.", body = HealthBody)))]
pub async fn livez() -> Json<HealthBody> {
    Json(HealthBody { status: "ok" })
}

/// The service accepts traffic.
///
/// 503 while starting or draining for shutdown, so load balancers stop sending requests.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready for traffic.", body = HealthBody),
        (status = 503, description = "Starting or draining.", body = ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<HealthBody>, ApiError> {
    if state.ready.is_ready() {
        Ok(Json(HealthBody { status: "ready" }))
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the service is starting or draining",
        ))
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Usage of one quota window.
#[derive(Debug, Serialize, ToSchema)]
pub struct WindowBody {
    pub limit: u64,
    pub used: u64,
    pub remaining: u64,
    /// When the window next frees capacity (UTC). For the minute window: when the oldest call
    /// in the last 60 s ages out.
    #[schema(format = DateTime, example = "2026-11-23T00:00:00Z")]
    pub resets_at: String,
}

impl From<&WindowUsage> for WindowBody {
    fn from(w: &WindowUsage) -> Self {
        Self {
            limit: w.limit,
            used: w.used,
            remaining: w.remaining(),
            resets_at: ts(w.resets_at),
        }
    }
}

/// The three windows.
#[derive(Debug, Serialize, ToSchema)]
pub struct Windows {
    pub minute: WindowBody,
    pub day: WindowBody,
    pub month: WindowBody,
}

/// Answer of `GET /v1/quota`.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaBody {
    pub windows: Windows,
    /// True while VirusTotal blocks us (after 429 QuotaExceededError or TooManyRequestsError).
    pub blocked: bool,
    /// When the block ends (UTC).
    #[schema(format = DateTime)]
    pub blocked_until: Option<String>,
    /// Observables waiting for a background fill.
    pub deferred_queue_depth: usize,
    /// Requests currently waiting for a slot.
    pub waiting_requests: usize,
    /// Where the used counts come from: `local` (counted by this process: a single node,
    /// or a replica on its share of the limits while Redis is unreachable), `redis` (the
    /// counters the fleet shares in Redis) or `virustotal` (adopted from VirusTotal's
    /// `overall_quotas` with `VTENRICH_VT_USER_ID`, then counted on top).
    #[schema(example = "local")]
    pub counts_source: &'static str,
    /// When the counts were last synced from VirusTotal.
    #[schema(format = DateTime)]
    pub synced_at: Option<String>,
}

/// VirusTotal quota state.
///
/// Limit, used, remaining and next reset (UTC) for the minute, day and month windows; whether
/// VirusTotal currently blocks us; the deferred-queue depth; where the used counts come from.
#[utoipa::path(get, path = "/v1/quota", tag = "operations",
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "Quota state.", body = QuotaBody, headers(
            ("RateLimit-Policy" = String, description = "The caller's daily budget (IETF draft-ietf-httpapi-ratelimit-headers rev. 11): `\"daily\";q=<VirusTotal calls per UTC day>;w=86400`; `q` is the caller's `daily_cap`, or the key's daily quota for a caller without one."),
            ("RateLimit" = String, description = "What is left of the caller's daily budget: `\"daily\";r=<calls left today>;t=<seconds to the next UTC midnight>`."),
        )),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody, headers(("www-authenticate" = String, description = "`Bearer realm=\"vtenrich\"`"))),
        (status = 500, description = INTERNAL, body = ErrorBody),
    ))]
pub async fn quota(State(state): State<AppState>) -> Json<QuotaBody> {
    let snap = state.enricher.quota();
    let synced_at = match snap.source {
        CountSource::Synced { at } => Some(ts(at)),
        CountSource::Local | CountSource::Redis => None,
    };
    let counts_source = snap.source.as_str();
    Json(QuotaBody {
        windows: Windows {
            minute: (&snap.minute).into(),
            day: (&snap.day).into(),
            month: (&snap.month).into(),
        },
        blocked: snap.blocked_until.is_some(),
        blocked_until: snap.blocked_until.map(ts),
        deferred_queue_depth: state.enricher.deferred_depth(),
        waiting_requests: snap.interactive_waiters,
        counts_source,
        synced_at,
    })
}

/// Prometheus metrics.
///
/// Text exposition format 0.0.4: quota, cache, upstream, HTTP and process metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    security((), ("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "Metrics in Prometheus text format.", body = String, content_type = "text/plain"),
        (status = 401, description = "The server sets `VTENRICH_METRICS_OPEN=false` and has callers configured, and the caller key was missing or wrong (`unauthorized`).", body = ErrorBody, headers(("www-authenticate" = String, description = "`Bearer realm=\"vtenrich\"`"))),
        (status = 500, description = INTERNAL, body = ErrorBody),
    ))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    state.enricher.quota();
    state.enricher.cache().entry_count();
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
