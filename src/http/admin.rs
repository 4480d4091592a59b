//! The admin API: manage callers at runtime (list, export, create, change, rotate keys,
//! remove), for callers with the `admin` role only.

mod actor;
mod body;
mod view;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::error::{ApiError, ErrorBody, INTERNAL};
use super::extract::{ApiJson, ApiPath, ApiQuery};

use actor::{Admin, shown};
use body::{CreateCallerBody, PatchCallerBody, RotateBody};
use view::{CallerBody, CallerList, CallerWithKey};

/// The 401 of the admin operations.
const UNAUTHORIZED: &str = "No key, or a wrong one (`unauthorized`).";
/// The 403 of the admin operations.
const FORBIDDEN: &str = "The caller's role is `user`, not `admin` (`forbidden`).";
/// The 503 of the admin operations that change callers.
const UNAVAILABLE: &str = "The change could not be saved (durable store or Redis failing; \
    `callers_unavailable`), so nothing changed; or the request outlived \
    `VTENRICH_REQUEST_TIMEOUT` (`deadline_exceeded`).";

/// Query of `GET /v1/admin/callers`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `json` (default) or `csv` (a header row, then one row per caller).
    #[param(value_type = Option<String>, example = "csv", pattern = "^(json|csv)$")]
    pub format: Option<ListFormat>,
}

/// The list's formats.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListFormat {
    Json,
    Csv,
}

/// List every caller.
///
/// Configuration and runtime callers, by id, without keys or hashes. `?format=csv` exports
/// id, kind, role, priority, daily cap, used today, created and last seen.
#[utoipa::path(get, path = "/v1/admin/callers", tag = "admin",
    params(ListQuery),
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "Every caller.", content(
            (CallerList = "application/json"),
            (String = "text/csv", example = "id,kind,role,priority,daily_cap,used_today,created_at,last_seen_at\nsoar,service,user,bulk,300,12,2026-11-22T09:00:00Z,2026-11-22T09:05:12Z\n"),
        )),
        (status = 400, description = "An unknown query parameter or format (`invalid_query`).", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody, headers(("www-authenticate" = String, description = "`Bearer realm=\"vtenrich\"`"))),
        (status = 403, description = FORBIDDEN, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
    ))]
pub async fn list_callers(
    _admin: Admin,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Response {
    let callers: Vec<CallerBody> = state
        .registry
        .list()
        .iter()
        .map(|l| CallerBody::new(l, state.daily_use.as_ref()))
        .collect();
    match query.format.unwrap_or(ListFormat::Json) {
        ListFormat::Json => Json(CallerList { callers }).into_response(),
        ListFormat::Csv => {
            let mut response = view::csv(&callers).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            response
        }
    }
}

/// Create a caller.
///
/// The answer holds the generated key once; only its SHA-256 is kept. At most 1,000 callers
/// can exist.
#[utoipa::path(post, path = "/v1/admin/callers", tag = "admin",
    request_body = CreateCallerBody,
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 201, description = "Created; `key` is shown this once.", body = CallerWithKey),
        (status = 400, description = "The body is not valid JSON (`invalid_json`).", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody, headers(("www-authenticate" = String, description = "`Bearer realm=\"vtenrich\"`"))),
        (status = 403, description = FORBIDDEN, body = ErrorBody),
        (status = 415, description = "The content type is not JSON (`unsupported_media_type`).", body = ErrorBody),
        (status = 409, description = "A caller with that id exists (`duplicate_id`).", body = ErrorBody),
        (status = 422, description = "A field is malformed, unknown or out of range; the message names it (`invalid_request`); 1,000 callers exist (`too_many_callers`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    ))]
pub async fn create_caller(
    admin: Admin,
    State(state): State<AppState>,
    ApiJson(value): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<CallerWithKey>), ApiError> {
    let new = body::new_caller(value)?;
    let (listed, key) = state.registry.create(new).await?;
    let caller = CallerBody::new(&listed, state.daily_use.as_ref());
    admin.audit(&state, "caller.created", &caller.id, None, Some(&caller));
    Ok((StatusCode::CREATED, Json(CallerWithKey { caller, key })))
}

/// Read one caller.
#[utoipa::path(get, path = "/v1/admin/callers/{id}", tag = "admin",
    params(("id" = String, Path, description = "The caller id.", example = "soar-playbooks", pattern = "^[a-z0-9][a-z0-9_.-]{0,63}$")),
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The caller.", body = CallerBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody, headers(("www-authenticate" = String, description = "`Bearer realm=\"vtenrich\"`"))),
        (status = 403, description = FORBIDDEN, body = ErrorBody),
        (status = 404, description = "No caller has this id (`caller_not_found`).", body = ErrorBody),
        (status = 422, description = "The id is malformed (`invalid_request`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
    ))]
pub async fn get_caller(
    _admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CallerBody>, ApiError> {
    let id = body::caller_id(&id)?;
    let listed = state.registry.get(&id)?;
    Ok(Json(CallerBody::new(&listed, state.daily_use.as_ref())))
}

/// Change a caller.
///
/// Role, kind, priority, daily cap (null removes it) and description; or VirusTotal's own
/// user payload for the cap (`data.attributes.quotas.api_requests_daily.allowed`), so a
/// VirusTotal admin's script works unchanged. Configuration callers cannot be changed (409);
/// nor can the last admin be demoted (409).
#[utoipa::path(patch, path = "/v1/admin/callers/{id}", tag = "admin",
    params(("id" = String, Path, description = "The caller id.", example = "soar-playbooks", pattern = "^[a-z0-9][a-z0-9_.-]{0,63}$")),
    request_body = PatchCallerBody,
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The changed caller.", body = CallerBody),
        (status = 400, description = "The body is not valid JSON (`invalid_json`).", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody, headers(("www-authenticate" = String, description = "`Bearer realm=\"vtenrich\"`"))),
        (status = 403, description = FORBIDDEN, body = ErrorBody),
        (status = 404, description = "No caller has this id (`caller_not_found`).", body = ErrorBody),
        (status = 409, description = "The caller is defined in the configuration file (`caller_from_config`), or is the last admin (`last_admin`).", body = ErrorBody),
        (status = 415, description = "The content type is not JSON (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "The id or a field is malformed, unknown or out of range; the message names it (`invalid_request`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    ))]
pub async fn patch_caller(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(value): ApiJson<serde_json::Value>,
) -> Result<Json<CallerBody>, ApiError> {
    let id = body::caller_id(&id)?;
    let change = body::change(value, &id)?;
    let before = shown(&state, &id);
    let listed = state.registry.update(&id, change).await?;
    let after = CallerBody::new(&listed, state.daily_use.as_ref());
    admin.audit(
        &state,
        "caller.updated",
        id.as_str(),
        before.as_ref(),
        Some(&after),
    );
    Ok(Json(after))
}

/// Rotate a caller's key.
///
/// A new key, shown once; the current keys stay valid for `grace_secs` (default 0: they stop
/// at once), then stop.
#[utoipa::path(post, path = "/v1/admin/callers/{id}/keys", tag = "admin",
    params(("id" = String, Path, description = "The caller id.", example = "soar-playbooks", pattern = "^[a-z0-9][a-z0-9_.-]{0,63}$")),
    request_body(content = Option<RotateBody>, description = "Optional; an empty body means no grace."),
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The caller and its new key, shown this once.", body = CallerWithKey),
        (status = 400, description = "The body is not valid JSON (`invalid_json`).", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody, headers(("www-authenticate" = String, description = "`Bearer realm=\"vtenrich\"`"))),
        (status = 403, description = FORBIDDEN, body = ErrorBody),
        (status = 404, description = "No caller has this id (`caller_not_found`).", body = ErrorBody),
        (status = 409, description = "The caller is defined in the configuration file (`caller_from_config`).", body = ErrorBody),
        (status = 422, description = "The id or `grace_secs` is malformed or out of range (`invalid_request`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    ))]
pub async fn rotate_key(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<Json<CallerWithKey>, ApiError> {
    let id = body::caller_id(&id)?;
    let grace = body::grace(&body)?;
    let before = shown(&state, &id);
    let (listed, key) = state.registry.rotate(&id, grace).await?;
    let caller = CallerBody::new(&listed, state.daily_use.as_ref());
    admin.audit(
        &state,
        "caller.key_rotated",
        id.as_str(),
        before.as_ref(),
        Some(&caller),
    );
    Ok(Json(CallerWithKey { caller, key }))
}

/// Remove a caller.
///
/// Its keys stop at once. Configuration callers cannot be removed (409); nor can the last
/// admin (409).
#[utoipa::path(delete, path = "/v1/admin/callers/{id}", tag = "admin",
    params(("id" = String, Path, description = "The caller id.", example = "soar-playbooks", pattern = "^[a-z0-9][a-z0-9_.-]{0,63}$")),
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 204, description = "Removed."),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody, headers(("www-authenticate" = String, description = "`Bearer realm=\"vtenrich\"`"))),
        (status = 403, description = FORBIDDEN, body = ErrorBody),
        (status = 404, description = "No caller has this id (`caller_not_found`).", body = ErrorBody),
        (status = 409, description = "The caller is defined in the configuration file (`caller_from_config`), or is the last admin (`last_admin`).", body = ErrorBody),
        (status = 422, description = "The id is malformed (`invalid_request`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    ))]
pub async fn delete_caller(
    admin: Admin,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = body::caller_id(&id)?;
    let before = shown(&state, &id);
    state.registry.remove(&id).await?;
    admin.audit(&state, "caller.deleted", id.as_str(), before.as_ref(), None);
    Ok(StatusCode::NO_CONTENT)
}
