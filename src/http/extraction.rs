//! `POST /v1/extract`: the observables in any alert payload or text, enriched as `/v1/enrich`
//! enriches them (the scanning itself lives in `crate::extract`; `extract.rs` beside this file
//! holds the request extractors).

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::enrich::{RetryAfter, WaitMs, record_on_span, retry_after, who};
use super::error::{ApiError, DEADLINE, ErrorBody, INTERNAL, UNAUTHORIZED};
use super::extract::{ApiQuery, json_error};
use super::result::{EnrichResponse, Summary};
use crate::enrich::{Caller, ParsedItem};
use crate::extract::{Extraction, Kinds, Location};
use crate::integrations::fields::FieldPath;
use crate::integrations::output::{Format, FormattedResult, Output};
use crate::usage::Route;

/// Query of `POST /v1/extract`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExtractQuery {
    /// Comma-separated observable types to look for (default, or empty: all four); an unknown
    /// name is a 422.
    #[param(value_type = Option<Vec<IncludeType>>, inline, style = Form, explode = false, example = json!(["ip", "url"]))]
    pub include: Option<String>,
    /// Longest wait for a quota slot in milliseconds (default 8,000; capped by the server), as
    /// `max_wait_ms` of `POST /v1/enrich`.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9007199254740991_u64)]
    pub max_wait_ms: Option<WaitMs>,
    /// `vtenrich` (default) or `ecs`: each `result` an Elastic Common Schema threat indicator
    /// document.
    #[param(inline)]
    pub format: Option<Format>,
    /// Comma-separated dotted paths of the result object to keep in each `result` (as for
    /// `POST /v1/enrich`); `found_at` is always kept.
    #[param(value_type = Option<Vec<FieldPath>>, inline, style = Form, explode = false)]
    pub fields: Option<String>,
}

/// An observable type `include` may name (documentation only).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum IncludeType {
    Ip,
    Domain,
    Url,
    File,
}

/// Answer of `POST /v1/extract`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExtractResponse {
    /// Each distinct observable found, once, in the order first met (text order; in a JSON
    /// document, array order and object members by name).
    pub results: Vec<Extracted>,
    /// Counts over `results`, as for `POST /v1/enrich`.
    pub summary: Summary,
}

/// One distinct observable: its result and every place it was found.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"result": {"observable": "8.8.8.8", "input": "8.8.8[.]8", "type": "ip", "status": "ok", "source": "cache"},
    "found_at": [{"path": "/alerts/0/labels/instance", "start": 0, "end": 9}]}))]
pub struct Extracted {
    /// The result object `POST /v1/enrich` gives for it (`input` is its first occurrence as
    /// written, defanged spelling included), or the shape `format`/`fields` asked for.
    #[schema(value_type = FormattedResult)]
    pub result: Value,
    /// Every occurrence, in scan order.
    pub found_at: Vec<FoundAt>,
}

/// Where one occurrence is.
#[derive(Debug, Serialize, ToSchema)]
pub struct FoundAt {
    /// JSON Pointer (RFC 6901) of the string value holding it (`""` for a document that is one
    /// string); absent for a `text/plain` body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Offset of its first character from the start of that string (or of the text), counted
    /// in Unicode scalar values (not bytes, not UTF-16 units).
    pub start: usize,
    /// Offset just past its last character, in the same unit; `end - start` is its length as
    /// written.
    pub end: usize,
}

impl From<Location> for FoundAt {
    fn from(location: Location) -> Self {
        Self {
            path: location.path,
            start: location.start,
            end: location.end,
        }
    }
}

/// A body of `POST /v1/extract`: any JSON document, or UTF-8 text.
pub enum Payload {
    Json(Value),
    Text(String),
}

impl Payload {
    /// The observables of `include`'s types in it.
    fn extract(&self, include: Kinds) -> Extraction {
        match self {
            Payload::Json(doc) => Extraction::from_json(doc, include),
            Payload::Text(text) => Extraction::from_text(text, include),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let media = Media::of(req.headers())?;
        // Read under the body limit layer: a larger body is a 413 here.
        let bytes = Bytes::from_request(req, state).await?;
        match media {
            Media::Json => serde_json::from_slice(&bytes)
                .map(Payload::Json)
                .map_err(json_error),
            Media::Text => String::from_utf8(bytes.into())
                .map(Payload::Text)
                .map_err(|_| ApiError::bad_request("invalid_text", "the body is not UTF-8 text")),
        }
    }
}

/// The media types this route reads.
enum Media {
    Json,
    Text,
}

impl Media {
    fn of(headers: &HeaderMap) -> Result<Self, ApiError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mut parts = content_type.split(';').map(str::trim);
        let essence = parts.next().unwrap_or("");
        if essence == "application/json" || essence.ends_with("+json") {
            return Ok(Media::Json);
        }
        let charset = parts
            .filter_map(|p| p.strip_prefix("charset="))
            .map(|c| c.trim_matches('"'))
            .next_back();
        let utf8 = charset.is_none_or(|c| matches!(c, "utf-8" | "utf8" | "us-ascii"));
        if essence == "text/plain" && utf8 {
            return Ok(Media::Text);
        }
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send a JSON document (`Content-Type: application/json`) or UTF-8 text \
             (`Content-Type: text/plain`)",
        ))
    }
}

/// Extract and enrich the observables in any payload.
///
/// Send an alert webhook's own JSON (Splunk, Alertmanager, Grafana, ...) or a pasted text:
/// every string value of the JSON, or the whole text, is scanned for IP addresses, domain names
/// with a real public suffix, http(s) URLs and MD5/SHA-1/SHA-256 hashes, defanged spellings
/// (`hxxp`, `[.]`, `(dot)`, `[:]`, `[@]`) included. A URL's host is part of the URL, not a
/// domain of its own, unless the name also appears outside a URL. Each distinct observable is
/// enriched once, exactly as `POST /v1/enrich` would (cache, one VirusTotal call per new public
/// observable, special-purpose and private names never sent), and listed once with every place
/// it was found. Nothing of the payload is kept or logged.
#[utoipa::path(
    post,
    path = "/v1/extract",
    tag = "enrichment",
    params(ExtractQuery),
    request_body(
        description = "Any JSON document (`application/json` or `*/*+json`) or UTF-8 text (`text/plain`).",
        content(
            (Value = "application/json", example = json!({"status": "firing", "alerts": [{"labels": {"instance": "8.8.8.8:9100"}, "annotations": {"summary": "beacon to hxxps://evil[.]example-bad.com/gate"}}]})),
            (String = "text/plain", example = json!("C2 at 45.155.205[.]233 and hxxp://update-check[.]net/a.php")),
        )
    ),
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "Each distinct observable once with its result and where it was found, and the summary (empty when nothing was found). RateLimit headers as on `POST /v1/enrich`.", body = ExtractResponse, headers(
            ("RateLimit-Policy" = String, description = "The caller's daily budget, as on `POST /v1/enrich`."),
            ("RateLimit" = String, description = "What is left of the caller's daily budget, as on `POST /v1/enrich`."),
            ("Retry-After" = u64, description = "Only when the caller's daily cap refused every new observable (`caller_quota_exceeded`): seconds until the next UTC midnight."),
        )),
        (status = 400, description = "JSON that does not parse (`invalid_json`), text that is not UTF-8 (`invalid_text`), or a query parameter that is unknown or not a plain integer (`invalid_query`).", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody, headers(("www-authenticate" = String, description = "`Bearer realm=\"vtenrich\"`"))),
        (status = 413, description = "The body is larger than the server's `VTENRICH_BODY_LIMIT` (`body_too_large`).", body = ErrorBody),
        (status = 415, description = "The content type is neither JSON nor UTF-8 `text/plain` (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "More distinct observables than `VTENRICH_MAX_BATCH` (`batch_too_large`), `include` names an unknown type (`invalid_parameter`), or `fields` an unknown path (`invalid_fields`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = DEADLINE, body = ErrorBody),
    )
)]
pub async fn extract(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    ApiQuery(query): ApiQuery<ExtractQuery>,
    payload: Payload,
) -> Result<(RetryAfter, Response), ApiError> {
    let output = Output::parse(query.format, query.fields.as_deref(), &state)?;
    // An empty list (`include=`, a form-style array with no member) asks for nothing in
    // particular: every type, as an empty `fields` keeps every field.
    let include = match query.include.as_deref().filter(|list| !list.is_empty()) {
        None => Kinds::ALL,
        Some(list) => Kinds::parse(list)
            .map_err(|invalid| ApiError::invalid_parameter("include", invalid.reason()))?,
    };
    // Scanning a megabyte is CPU work (regexes, IDNA, the suffix list): off the async workers.
    let extraction = tokio::task::spawn_blocking(move || payload.extract(include))
        .await
        .map_err(|_| ApiError::internal())?;
    if extraction.len() > state.limits.max_batch {
        return Err(ApiError::unprocessable(
            "batch_too_large",
            format!(
                "the payload holds {} distinct observables; the limit is {} (VTENRICH_MAX_BATCH)",
                extraction.len(),
                state.limits.max_batch
            ),
        ));
    }
    let found = extraction.into_found();
    let items = found
        .iter()
        .map(|f| ParsedItem {
            input: f.text.clone(),
            parsed: Ok(f.observable.clone()),
        })
        .collect();
    let wait = state.limits.wait(query.max_wait_ms);
    let caller = who(caller).on(Route::Extract);
    let batch = state.enricher.enrich(caller.clone(), items, wait).await;
    state.usage.record(&caller, &batch);
    record_on_span(&batch);
    let retry = retry_after(&batch);
    let rendered = EnrichResponse::render(batch, &state.verdict);
    let results = rendered
        .results
        .iter()
        .zip(found)
        .map(|(result, found)| Extracted {
            result: output.value(result),
            found_at: found.locations.into_iter().map(FoundAt::from).collect(),
        })
        .collect();
    let response = ExtractResponse {
        results,
        summary: rendered.summary,
    };
    Ok((retry, Json(response).into_response()))
}
