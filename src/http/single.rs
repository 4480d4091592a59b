//! `GET /v1/domain/{domain}`, `GET /v1/file/{hash}` and `GET /v1/url?url=`: one observable of
//! a stated type, for callers that template it into a URL; the result object is that of
//! `GET /v1/ip/{ip}` (see [`super::enrich::enrich_typed`]).

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::enrich::{WaitMs, WaitQuery, enrich_typed, who};
use super::error::{ApiError, DEADLINE, ErrorBody, INTERNAL, UNAUTHORIZED};
use super::extract::{ApiPath, ApiQuery};
use crate::enrich::Caller;
use crate::integrations::fields::FieldPath;
use crate::integrations::output::{Format, FormattedDomain, FormattedFile, FormattedUrl};
use crate::observable::ObservableType;
use crate::usage::Route;

/// Query of `GET /v1/url`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UrlQuery {
    /// The absolute http(s) URL, percent-encoded as a query value (at most 2,048 characters).
    #[param(
        example = "https://example.com/",
        min_length = 8,
        max_length = 2048,
        pattern = "^[hH][tT][tT][pP][sS]?://"
    )]
    pub url: String,
    /// Longest wait for a quota slot in milliseconds (default 8,000; capped by the server).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9007199254740991_u64)]
    pub max_wait_ms: Option<WaitMs>,
    /// `vtenrich` (default) or `ecs`, as for `GET /v1/ip/{ip}`.
    #[param(inline)]
    pub format: Option<Format>,
    /// Comma-separated dotted paths of the result object to keep, as for `GET /v1/ip/{ip}`.
    #[param(value_type = Option<Vec<FieldPath>>, inline, style = Form, explode = false)]
    pub fields: Option<String>,
}

/// Enrich one domain.
///
/// The result object of `POST /v1/enrich` for one domain (IDNA accepted, looked up in
/// A-labels); special-use and private names are `not_routable`, never sent.
#[utoipa::path(
    get,
    path = "/v1/domain/{domain}",
    tag = "enrichment",
    params(
        ("domain" = String, Path, description = "A domain name.", example = "example.com"),
        WaitQuery,
    ),
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The result object (any status). RateLimit headers as on `GET /v1/ip/{ip}`.", body = FormattedDomain),
        (status = 400, description = "Not a valid domain name (`invalid_observable`), or a bad query parameter (`invalid_query`).", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody),
        (status = 422, description = "`fields` names an unknown path (`invalid_fields`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = DEADLINE, body = ErrorBody),
    )
)]
pub async fn enrich_domain(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    ApiPath(domain): ApiPath<String>,
    ApiQuery(query): ApiQuery<WaitQuery>,
) -> Result<Response, ApiError> {
    let caller = who(caller).on(Route::Domain);
    enrich_typed(&state, caller, ObservableType::Domain, domain, query).await
}

/// Enrich one file by its MD5, SHA-1 or SHA-256.
///
/// The result object of `POST /v1/enrich` for one file; asking by another of the file's
/// hashes after one was answered is served from the cache.
#[utoipa::path(
    get,
    path = "/v1/file/{hash}",
    tag = "enrichment",
    params(
        ("hash" = String, Path, description = "MD5, SHA-1 or SHA-256 in hex, any case.", example = "44d88612fea8a8f36de82e1278abb02f", pattern = "^([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$"),
        WaitQuery,
    ),
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The result object (any status). RateLimit headers as on `GET /v1/ip/{ip}`.", body = FormattedFile),
        (status = 400, description = "Not 32, 40 or 64 hex digits (`invalid_observable`), or a bad query parameter (`invalid_query`).", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody),
        (status = 422, description = "`fields` names an unknown path (`invalid_fields`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = DEADLINE, body = ErrorBody),
    )
)]
pub async fn enrich_file(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    ApiPath(hash): ApiPath<String>,
    ApiQuery(query): ApiQuery<WaitQuery>,
) -> Result<Response, ApiError> {
    let caller = who(caller).on(Route::File);
    enrich_typed(&state, caller, ObservableType::File, hash, query).await
}

/// Enrich one URL.
///
/// The result object of `POST /v1/enrich` for one http(s) URL; a URL with credentials or
/// whose host is special-use or private is `not_routable`, never sent.
#[utoipa::path(
    get,
    path = "/v1/url",
    tag = "enrichment",
    params(UrlQuery),
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The result object (any status). RateLimit headers as on `GET /v1/ip/{ip}`.", body = FormattedUrl),
        (status = 400, description = "Not an absolute http(s) URL (`invalid_observable`), or a missing or bad query parameter (`invalid_query`).", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody),
        (status = 422, description = "`fields` names an unknown path (`invalid_fields`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = DEADLINE, body = ErrorBody),
    )
)]
pub async fn enrich_url(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    ApiQuery(query): ApiQuery<UrlQuery>,
) -> Result<Response, ApiError> {
    let caller = who(caller).on(Route::Url);
    let wait = WaitQuery {
        max_wait_ms: query.max_wait_ms,
        format: query.format,
        fields: query.fields,
    };
    enrich_typed(&state, caller, ObservableType::Url, query.url, wait).await
}
