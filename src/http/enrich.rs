//! `POST /v1/enrich` and `GET /v1/ip/{ip}`: parse at the edge, enrich, render (the other
//! single-observable routes, in `single.rs`, share [`enrich_one`]).

use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderName, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::entry::Entry;
use super::error::{ApiError, DEADLINE, ErrorBody, INTERNAL, UNAUTHORIZED};
use super::extract::{ApiJson, ApiPath, ApiQuery, json_error};
use super::result::{EnrichResponse, ResultBody, batch_json, json_response, result_json};
use crate::enrich::{BatchResult, Caller, ParsedItem, Source};
use crate::integrations::fields::FieldPath;
use crate::integrations::output::{Format, FormattedBatch, FormattedIp, Output, OutputQuery};
use crate::observable::{InvalidObservable, Observable, ObservableType};
use crate::usage::Route;

/// Body of `POST /v1/enrich`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"observables": ["8.8.8.8", {"type": "ip", "value": "2001:4860:4860::8888"}, "10.0.0.1"], "max_wait_ms": 8000}))]
pub struct EnrichRequest {
    /// Observables, each either a string whose type is inferred (`"8.8.8.8"`) or an object
    /// `{"type": "ip", "value": "8.8.8.8"}`. Any other JSON value is accepted too and gets a
    /// per-item `invalid` result, so one bad entry never fails a whole batch; hence the item
    /// schema is open.
    #[schema(value_type = Vec<serde_json::Value>, min_items = 1)]
    pub observables: Vec<Entry>,
    /// Longest wait for a VirusTotal quota slot, in milliseconds (default 8,000; capped by the
    /// server's `VTENRICH_MAX_WAIT`). Items without a slot in time are `deferred`.
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 9007199254740991_u64, example = 8000)]
    pub max_wait_ms: Option<WaitMs>,
}

impl EnrichRequest {
    /// Checks the batch against the limits and parses every entry into a domain item.
    pub fn into_items(
        self,
        limits: &RequestLimits,
    ) -> Result<(Vec<ParsedItem>, Duration), ApiError> {
        if self.observables.is_empty() {
            return Err(ApiError::unprocessable(
                "empty_batch",
                "`observables` must hold at least one entry",
            ));
        }
        if self.observables.len() > limits.max_batch {
            return Err(ApiError::unprocessable(
                "batch_too_large",
                format!(
                    "`observables` holds {} entries; the limit is {} (VTENRICH_MAX_BATCH)",
                    self.observables.len(),
                    limits.max_batch
                ),
            ));
        }
        let wait = limits.wait(self.max_wait_ms);
        Ok((
            self.observables.into_iter().map(Entry::into_item).collect(),
            wait,
        ))
    }
}

/// Parses a `POST /v1/enrich` body exactly as the endpoint does (for tests and fuzzing).
pub fn parse_enrich_body(
    body: &[u8],
    limits: &RequestLimits,
) -> Result<(Vec<ParsedItem>, Duration), ApiError> {
    let request: EnrichRequest = serde_json::from_slice(body).map_err(json_error)?;
    request.into_items(limits)
}

/// Query of `GET /v1/ip/{ip}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Longest wait for a quota slot in milliseconds (default 8,000; capped by the server).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9007199254740991_u64)]
    pub max_wait_ms: Option<WaitMs>,
    /// `vtenrich` (default) or `ecs`: an Elastic Common Schema threat indicator document.
    #[param(inline)]
    pub format: Option<Format>,
    /// Comma-separated dotted paths of the result object to keep, e.g.
    /// `observable,status,reputation.verdict` (with `format=ecs` the document is built from what is
    /// kept; an unknown path is a 422).
    #[param(value_type = Option<Vec<FieldPath>>, inline, style = Form, explode = false, example = json!(["observable", "status", "reputation.verdict", "geo.country.iso_code"]))]
    pub fields: Option<String>,
}

/// Enrich a batch of observables.
///
/// Each entry is answered from the cache or from one VirusTotal call per distinct new
/// observable; duplicates share one lookup; special-purpose addresses are never sent upstream.
/// Items that get no quota slot within `max_wait_ms` are `deferred` and filled in the
/// background; ask again after `retry_after_secs`. Results keep input order.
#[utoipa::path(
    post,
    path = "/v1/enrich",
    tag = "enrichment",
    params(OutputQuery),
    request_body = EnrichRequest,
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "One result per input entry, in input order, and a summary; with `format=ecs` each result is an ECS threat indicator document, with `fields` each is trimmed to those paths.", body = FormattedBatch, headers(
            ("RateLimit-Policy" = String, description = "The caller's daily budget (IETF draft-ietf-httpapi-ratelimit-headers rev. 11): `\"daily\";q=<VirusTotal calls per UTC day>;w=86400`; `q` is the caller's `daily_cap`, or the key's daily quota for a caller without one."),
            ("RateLimit" = String, description = "What is left of the caller's daily budget: `\"daily\";r=<calls left today>;t=<seconds to the next UTC midnight>`."),
            ("Retry-After" = u64, description = "Only when the caller's daily cap refused every new observable of the batch (`caller_quota_exceeded`): seconds until the next UTC midnight."),
        )),
        (status = 400, description = "The body is not valid JSON or not UTF-8 (`invalid_json`).", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody, headers(("www-authenticate" = String, description = "`Bearer realm=\"vtenrich\"`"))),
        (status = 413, description = "The body is larger than the server's `VTENRICH_BODY_LIMIT` (`body_too_large`).", body = ErrorBody),
        (status = 415, description = "The content type is not JSON (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "The JSON does not match the schema: unknown or repeated field, wrong type (`invalid_request`), no entries (`empty_batch`) or more than `VTENRICH_MAX_BATCH` (`batch_too_large`); or `fields` names an unknown path (`invalid_fields`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = DEADLINE, body = ErrorBody),
    )
)]
pub async fn enrich_batch(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    ApiQuery(query): ApiQuery<OutputQuery>,
    ApiJson(request): ApiJson<EnrichRequest>,
) -> Result<(RetryAfter, Response), ApiError> {
    let output = Rendering::of(query.format, query.fields.as_deref(), &state)?;
    let (items, wait) = request.into_items(&state.limits)?;
    let caller = who(caller).on(Route::Enrich);
    let batch = state.enricher.enrich(caller.clone(), items, wait).await;
    state.usage.record(&caller, &batch);
    record_on_span(&batch);
    let retry = retry_after(&batch);
    let response = match output {
        Rendering::Plain => json_response(batch_json(batch, &state.verdict)),
        Rendering::Formatted(output) => output.batch(EnrichResponse::render(batch, &state.verdict)),
    };
    Ok((retry, response))
}

/// A route that parsed its own [`Output`] renders through it.
impl From<Output> for Rendering {
    fn from(output: Output) -> Self {
        Self::Formatted(output)
    }
}

/// How a route renders its results: the plain result objects, written from pre-rendered parts,
/// or the shape `format`/`fields` asked for, built from the result objects.
pub(crate) enum Rendering {
    Plain,
    Formatted(Output),
}

impl Rendering {
    /// What the query asks for. Plain is [`Output`]'s native case: the default format and no
    /// `fields` (an empty list keeps everything).
    pub(crate) fn of(
        format: Option<Format>,
        fields: Option<&str>,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        if format.unwrap_or_default() == Format::Vtenrich && fields.is_none_or(str::is_empty) {
            return Ok(Self::Plain);
        }
        Output::parse(format, fields, state).map(Self::Formatted)
    }
}

/// Enrich one IP address.
///
/// The same result object as one entry of `POST /v1/enrich`, for callers that template one
/// observable into a URL (Dynatrace Security Enrichment, SOAR HTTP actions, Tines).
#[utoipa::path(
    get,
    path = "/v1/ip/{ip}",
    tag = "enrichment",
    params(
        ("ip" = inline(IpText), Path, description = "IPv4 or IPv6 address (IPv6 may be percent-encoded).", example = "8.8.8.8"),
        WaitQuery,
    ),
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = "The result object (also for `not_found`, `not_routable`, `deferred` and `error` statuses); with `format=ecs` an ECS threat indicator document, with `fields` the result trimmed to those paths.", body = FormattedIp, headers(
            ("RateLimit-Policy" = String, description = "The caller's daily budget (IETF draft-ietf-httpapi-ratelimit-headers rev. 11): `\"daily\";q=<VirusTotal calls per UTC day>;w=86400`; `q` is the caller's `daily_cap`, or the key's daily quota for a caller without one."),
            ("RateLimit" = String, description = "What is left of the caller's daily budget: `\"daily\";r=<calls left today>;t=<seconds to the next UTC midnight>`."),
            ("Retry-After" = u64, description = "Only when the caller's daily cap refused the address (`caller_quota_exceeded`): seconds until the next UTC midnight."),
        )),
        (status = 400, description = "Not a valid IP address (`invalid_observable`), or a query parameter that is unknown or not a plain integer (`invalid_query`).", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody, headers(("www-authenticate" = String, description = "`Bearer realm=\"vtenrich\"`"))),
        (status = 422, description = "`fields` names an unknown path (`invalid_fields`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = DEADLINE, body = ErrorBody),
    )
)]
pub async fn enrich_ip(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    ApiPath(ip): ApiPath<String>,
    ApiQuery(query): ApiQuery<WaitQuery>,
) -> Result<Response, ApiError> {
    enrich_typed(
        &state,
        who(caller).on(Route::Ip),
        ObservableType::Ip,
        ip,
        query,
    )
    .await
}

/// One observable of a stated type, for the single-observable routes (`/v1/ip`, `/v1/domain`,
/// `/v1/file`, `/v1/url`): rendered as `query` asks; a text that is not one is a 400.
pub(super) async fn enrich_typed(
    state: &AppState,
    caller: Caller,
    kind: ObservableType,
    text: String,
    query: WaitQuery,
) -> Result<Response, ApiError> {
    let output = Rendering::of(query.format, query.fields.as_deref(), state)?;
    let parsed = Observable::parse(kind, &text);
    enrich_one(state, caller, text, parsed, query.max_wait_ms, output).await
}

/// Enriches one observable for `caller` (carrying its route, for usage) and renders it under
/// `output`; a value that is not an observable
/// is a 400 `invalid_observable` (one lookup has no batch to hold a per-item `invalid`).
pub(crate) async fn enrich_one(
    state: &AppState,
    caller: Caller,
    input: String,
    parsed: Result<Observable, InvalidObservable>,
    max_wait_ms: Option<WaitMs>,
    output: impl Into<Rendering>,
) -> Result<Response, ApiError> {
    let output = output.into();
    let parsed = parsed.map_err(|invalid| {
        ApiError::bad_request("invalid_observable", invalid.reason().to_owned())
    })?;
    let item = ParsedItem {
        input,
        parsed: Ok(parsed),
    };
    let wait = state.limits.wait(max_wait_ms);
    let batch = state
        .enricher
        .enrich(caller.clone(), vec![item], wait)
        .await;
    state.usage.record(&caller, &batch);
    record_on_span(&batch);
    let retry = retry_after(&batch);
    let item = batch
        .items
        .into_iter()
        .next()
        .ok_or_else(ApiError::internal)?;
    let response = match output {
        Rendering::Plain => json_response(result_json(item, &state.verdict)),
        Rendering::Formatted(output) => output.result(ResultBody::render(item, &state.verdict)),
    };
    Ok((retry, response).into_response())
}

/// `Retry-After` on an answer whose new observables the caller's spent cap all refused.
pub(crate) type RetryAfter = AppendHeaders<Option<(HeaderName, String)>>;

pub(crate) fn retry_after(batch: &BatchResult) -> RetryAfter {
    AppendHeaders(
        super::ratelimit::retry_after(batch).map(|secs| (header::RETRY_AFTER, secs.to_string())),
    )
}

/// The caller authentication identified (anonymous when no callers are configured).
pub(crate) fn who(caller: Option<Extension<Caller>>) -> Caller {
    caller.map_or_else(Caller::anonymous, |Extension(caller)| caller)
}

/// Puts what the request did on the request span, so its one log line says it.
pub(crate) fn record_on_span(batch: &BatchResult) {
    let span = tracing::Span::current();
    let cache_hits = batch
        .items
        .iter()
        .filter(|i| i.outcome.source() == Some(Source::Cache))
        .count();
    span.record("observables", batch.items.len());
    span.record("cache_hits", cache_hits);
    span.record("upstream_calls", batch.upstream_calls);
}

/// Request limits from the settings.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub max_batch: usize,
    pub default_wait: Duration,
    pub max_wait: Duration,
}

impl RequestLimits {
    /// The wait for this request: what it asked for (or the default), capped by the server.
    pub fn wait(&self, asked_ms: Option<WaitMs>) -> Duration {
        asked_ms
            .map_or(self.default_wait, |w| Duration::from_millis(w.0))
            .min(self.max_wait)
    }
}

/// A wait in milliseconds from 0 to 2^53 - 1: in JSON an integer (also written `8000.0`, which
/// JSON Schema counts as an integer), never a string; in a query string, decimal digits.
#[derive(Debug, Clone, Copy)]
pub struct WaitMs(pub u64);

const MAX_WAIT_MS: u64 = (1 << 53) - 1;

impl<'de> Deserialize<'de> for WaitMs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = WaitMs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "an integer from 0 to {MAX_WAIT_MS}")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<WaitMs, E> {
                if v <= MAX_WAIT_MS {
                    Ok(WaitMs(v))
                } else {
                    Err(E::custom(format!("max_wait_ms above {MAX_WAIT_MS}")))
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<WaitMs, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom("max_wait_ms below 0"))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<WaitMs, E> {
                if v.fract() == 0.0 && (0.0..=MAX_WAIT_MS as f64).contains(&v) {
                    Ok(WaitMs(v as u64))
                } else {
                    Err(E::custom("max_wait_ms is not an integer in range"))
                }
            }
        }
        // Asking for an integer, not for "anything": JSON then refuses a string such as
        // "8000" (the schema says integer), while a query string, which is all text, is parsed
        // as decimal digits by serde_urlencoded, so `?max_wait_ms=8000.0` or `=soon` is refused.
        d.deserialize_u64(V)
    }
}

/// An IPv4 or IPv6 address (documentation only): `oneOf` string formats `ipv4` and `ipv6`.
pub struct IpText;

impl utoipa::PartialSchema for IpText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type,
        };
        let text = |format| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        OneOfBuilder::new()
            .item(text(KnownFormat::Ipv4))
            .item(text(KnownFormat::Ipv6))
            .description(Some("An IPv4 or IPv6 address."))
            .into()
    }
}

impl utoipa::ToSchema for IpText {}
