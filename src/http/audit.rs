//! `GET /v1/admin/audit`: the audit log for admins, filtered, newest first, paginated with an
//! opaque cursor, as JSON, CSV or JSON Lines (the exports apply the same filters and pages).

use axum::Extension;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::require_admin;
use super::error::{ApiError, ErrorBody, INTERNAL, UNAUTHORIZED};
use super::extract::query_params;
use crate::audit::{Event, Filter, MAX_LIMIT, Page, QueryError};
use crate::caller::Caller;

/// The header carrying the next page's cursor (on every format).
const NEXT_CURSOR: &str = "x-next-cursor";
/// Entries per page when the request does not say.
const DEFAULT_LIMIT: usize = 100;

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<Event>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The query parameters (documentation; parsed by hand so that unknown and repeated ones are
/// refused by name).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct AuditQuery {
    /// Entries at or after this moment (RFC 3339).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Entries at or before this moment (RFC 3339); not before `from`.
    #[param(format = DateTime)]
    to: Option<String>,
    /// A caller id, `system` or `config`.
    actor: Option<String>,
    /// An action, e.g. `cache.purged`.
    action: Option<String>,
    /// A target type, e.g. `caller`, `observables`.
    target_type: Option<String>,
    /// A target id.
    target_id: Option<String>,
    /// Entries per page, 1 to 1,000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `json` (default), `csv` or `jsonl`.
    #[param(pattern = "^(json|csv|jsonl)$")]
    format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    JsonLines,
}

/// What a valid query asks for.
#[derive(Debug)]
struct Asked {
    filter: Filter,
    limit: usize,
    cursor: Option<String>,
    format: Format,
}

fn parse(query: Option<&str>) -> Result<Asked, ApiError> {
    let mut asked = Asked {
        filter: Filter::default(),
        limit: DEFAULT_LIMIT,
        cursor: None,
        format: Format::Json,
    };
    for (name, text) in query_params(query)? {
        let time = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.to_utc())
                .map_err(|_| {
                    ApiError::invalid_parameter(
                        &name,
                        "not an RFC 3339 time such as 2026-11-10T12:00:00Z",
                    )
                })
        };
        match name.as_str() {
            "from" => asked.filter.from = Some(time(&text)?),
            "to" => asked.filter.to = Some(time(&text)?),
            "actor" => asked.filter.actor = Some(text),
            "action" => asked.filter.action = Some(text),
            "target_type" => asked.filter.target_type = Some(text),
            "target_id" => asked.filter.target_id = Some(text),
            "cursor" => asked.cursor = Some(text),
            "limit" => {
                asked.limit = text
                    .parse::<usize>()
                    .ok()
                    .filter(|n| {
                        (1..=MAX_LIMIT).contains(n) && text.bytes().all(|b| b.is_ascii_digit())
                    })
                    .ok_or_else(|| {
                        ApiError::invalid_parameter(
                            "limit",
                            format!("a whole number from 1 to {MAX_LIMIT}"),
                        )
                    })?;
            }
            "format" => {
                asked.format = match text.as_str() {
                    "json" => Format::Json,
                    "csv" => Format::Csv,
                    "jsonl" => Format::JsonLines,
                    _ => {
                        return Err(ApiError::invalid_parameter(
                            "format",
                            "one of json, csv, jsonl",
                        ));
                    }
                }
            }
            other => {
                return Err(ApiError::invalid_parameter(
                    other,
                    "unknown; known are from, to, actor, action, target_type, target_id, limit, \
                     cursor, format",
                ));
            }
        }
    }
    if let (Some(from), Some(to)) = (asked.filter.from, asked.filter.to)
        && from > to
    {
        return Err(ApiError::invalid_parameter(
            "to",
            "before `from` (a reversed range)",
        ));
    }
    Ok(asked)
}

/// Read the audit log.
///
/// Admin callers only. Entries newest first; filters combine (every one given must match);
/// `next_cursor` (also in the `x-next-cursor` header) fetches the next page. `format=csv`
/// (with a header row) and `format=jsonl` export the same entries as JSON.
#[utoipa::path(
    get,
    path = "/v1/admin/audit",
    tag = "administration",
    params(AuditQuery),
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "A page of entries (JSON; `text/csv` or `application/x-ndjson` with `format`).", content(
            (AuditPage = "application/json"),
            (String = "text/csv"),
            (String = "application/x-ndjson"),
        ),
            headers(("x-next-cursor" = String, description = "The next page's cursor; absent on the last page."))),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody),
        (status = 403, description = "The caller is not an admin (`forbidden`).", body = ErrorBody),
        (status = 422, description = "A bad query parameter, named in the message (`invalid_parameter`): unknown or repeated, a time not in RFC 3339, `to` before `from`, `limit` not 1 to 1,000, an unknown `format`, or a cursor this service did not issue.", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = "The audit log's store cannot be read (`audit_unavailable`).", body = ErrorBody),
    )
)]
pub async fn audit_log(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    require_admin(caller.as_ref().map(|c| &c.0))?;
    let asked = parse(query.as_deref())?;
    let page = state
        .audit
        .query(&asked.filter, asked.limit, asked.cursor.as_deref())
        .await
        .map_err(|err| match err {
            QueryError::BadCursor => {
                ApiError::invalid_parameter("cursor", "not a cursor this service issued")
            }
            QueryError::Backend(err) => {
                tracing::warn!(error = format!("{err:#}"), "cannot read the audit log");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "audit_unavailable",
                    "the audit log cannot be read right now; try again",
                )
            }
        })?;
    Ok(render(page, asked.format))
}

fn render(page: Page, format: Format) -> Response {
    let next = page.next_cursor.clone();
    let mut response = match format {
        Format::Json => Json(AuditPage {
            entries: page.entries,
            next_cursor: page.next_cursor,
        })
        .into_response(),
        Format::JsonLines => {
            let mut body = String::new();
            for entry in &page.entries {
                body.push_str(&serde_json::to_string(entry).expect("an event serialises"));
                body.push('\n');
            }
            ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response()
        }
        Format::Csv => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            csv(&page.entries),
        )
            .into_response(),
    };
    if let Some(value) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        response.headers_mut().insert(NEXT_CURSOR, value);
    }
    response
}

/// The entries as CSV with a header row; `details` as its JSON text.
fn csv(entries: &[Event]) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    let _ = out.write_record([
        "id",
        "timestamp",
        "actor",
        "source_ip",
        "action",
        "target_type",
        "target_id",
        "details",
    ]);
    for e in entries {
        let timestamp = e
            .timestamp
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let _ = out.write_record([
            e.id.as_str(),
            timestamp.as_str(),
            e.actor.as_str(),
            e.source_ip.as_deref().unwrap_or(""),
            e.action.as_str(),
            e.target_type.as_deref().unwrap_or(""),
            e.target_id.as_deref().unwrap_or(""),
            e.details.to_string().as_str(),
        ]);
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests;
