//! `POST /v1/admin/cache/purge`: an admin drops observables from every cache tier, so the next
//! lookup asks VirusTotal again (a SOAR playbook after an incident, a suspected stale verdict).

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;
use super::auth::require_admin;
use super::error::{ApiError, ErrorBody, INTERNAL, UNAUTHORIZED};
use super::extract::ApiJson;
use crate::audit::{Event, SourceIp, actions};
use crate::caller::Caller;
use crate::observable::Observable;

/// What to purge.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// IP addresses, as for `/v1/enrich` (strings); at most `VTENRICH_MAX_BATCH`.
    #[schema(example = json!(["8.8.8.8", "2001:4860:4860::8888"]))]
    #[schema(min_items = 1)]
    pub observables: Vec<String>,
}

/// What was purged.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurgeResponse {
    /// One per distinct observable, in input order.
    pub purged: Vec<Purged>,
}

/// One purged observable.
#[derive(Debug, Serialize, ToSchema)]
pub struct Purged {
    /// The canonical form.
    #[schema(example = "8.8.8.8")]
    pub observable: String,
    /// Whether any tier held an answer for it (false: there was nothing to drop).
    pub was_cached: bool,
}

/// Purge observables from the cache.
///
/// Admin callers only. Drops each observable from memory and from the durable store (single
/// node) or Redis (fleet), so the next lookup calls VirusTotal again; recorded in the audit
/// log as `cache.purged` with the observables as its target. Other replicas' memory tiers
/// keep an entry for at most `VTENRICH_REDIS_MEMORY_TTL`.
#[utoipa::path(
    post,
    path = "/v1/admin/cache/purge",
    tag = "administration",
    request_body = PurgeRequest,
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "Purged.", body = PurgeResponse),
        (status = 400, description = "The body is not valid JSON (`invalid_json`).", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody),
        (status = 403, description = "The caller is not an admin (`forbidden`).", body = ErrorBody),
        (status = 415, description = "The content type is not JSON (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "Wrong shape (`invalid_request`), no observables (`empty_batch`), more than `VTENRICH_MAX_BATCH` (`batch_too_large`), or an entry that is not an IP address (`invalid_observable`, naming it).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = "The second tier (store or Redis) could not delete (`purge_failed`); memory was purged.", body = ErrorBody),
    )
)]
pub async fn purge(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    source: Option<Extension<SourceIp>>,
    ApiJson(request): ApiJson<PurgeRequest>,
) -> Result<Json<PurgeResponse>, ApiError> {
    let admin = require_admin(caller.as_ref().map(|c| &c.0))?;
    if request.observables.is_empty() {
        return Err(ApiError::unprocessable(
            "empty_batch",
            "`observables` must name at least one observable",
        ));
    }
    if request.observables.len() > state.limits.max_batch {
        return Err(ApiError::unprocessable(
            "batch_too_large",
            format!("at most {} observables per purge", state.limits.max_batch),
        ));
    }
    let mut observables = Vec::new();
    for (index, text) in request.observables.iter().enumerate() {
        let observable = Observable::infer(text).map_err(|invalid| {
            ApiError::unprocessable(
                "invalid_observable",
                format!("observables[{index}]: {}", invalid.reason()),
            )
        })?;
        if !observables.contains(&observable) {
            observables.push(observable);
        }
    }
    let held = state.enricher.purge(&observables).await.map_err(|err| {
        tracing::warn!(error = format!("{err:#}"), "cache purge failed in the second tier");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "purge_failed",
            "the durable store or Redis could not delete the entries (memory was purged); try again",
        )
    })?;
    let purged: Vec<Purged> = observables
        .iter()
        .zip(held)
        .map(|(observable, was_cached)| Purged {
            observable: observable.canonical(),
            was_cached,
        })
        .collect();
    let names: Vec<&str> = purged.iter().map(|p| p.observable.as_str()).collect();
    state.audit.record(
        Event::new(state.audit.now(), admin.as_str(), actions::CACHE_PURGED)
            .from_ip(source.and_then(|s| s.0.0))
            .target("observables", names.join(","))
            .details(json!({
                "count": purged.len(),
                "was_cached": purged.iter().filter(|p| p.was_cached).count(),
            })),
    );
    Ok(Json(PurgeResponse { purged }))
}
