//! `/v1/lookup`: one observable by query parameter (`GET`) or body (`POST`, `PUT`), since a
//! Dynatrace Security Enrichment custom connection sends it whichever way it is set up. The
//! observable in the URL path is `GET /v1/ip/{ip}` (`/v1/domain/{domain}`, `/v1/file/{hash}`;
//! a URL goes in a query parameter, `/v1/url?url=`). The answer is the result object of
//! `/v1/enrich`, under the same `format` and `fields` parameters.

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::fields::FieldPath;
use super::output::{Format, FormattedResult, Output, OutputQuery};
use super::{TypeRow, names, typed};
use crate::enrich::Caller;
use crate::http::AppState;
use crate::http::{
    ApiError, ApiJson, ApiQuery, DEADLINE, ErrorBody, INTERNAL, UNAUTHORIZED, WaitMs, enrich_one,
    who,
};
use crate::observable::{InvalidObservable, Observable, ObservableType};
use crate::usage::Route;

/// Dynatrace's observable types and what each becomes. Its connection schema lists `ip-addr`
/// alone so far ("more observable types to follow"); the others are the STIX 2.1
/// cyber-observable names its observables follow, a `file` named by its MD5, SHA-1 or SHA-256.
pub const TYPES: [TypeRow; 6] = [
    ("ip-addr", ObservableType::Ip),
    ("ipv4-addr", ObservableType::Ip),
    ("ipv6-addr", ObservableType::Ip),
    ("domain-name", ObservableType::Domain),
    ("url", ObservableType::Url),
    ("file", ObservableType::File),
];

/// Query of `GET /v1/lookup`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// The observable, its type inferred: an IP address, a domain name, an absolute http(s)
    /// URL or an MD5, SHA-1 or SHA-256 (`8.8.8.8`, `example.com`).
    #[param(value_type = String, min_length = 1, example = "8.8.8.8")]
    pub observable: String,
    /// Longest wait for a quota slot in milliseconds (default 8,000; capped by the server).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 9007199254740991_u64)]
    pub max_wait_ms: Option<WaitMs>,
    /// `vtenrich` (default) or `ecs`.
    #[param(inline)]
    pub format: Option<Format>,
    /// Comma-separated dotted paths of the result object to keep.
    #[param(value_type = Option<Vec<FieldPath>>, inline, style = Form, explode = false, example = json!(["observable", "status", "reputation.verdict", "geo.country.iso_code"]))]
    pub fields: Option<String>,
}

/// Body of `POST`/`PUT /v1/lookup`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"observable": {"type": "ip-addr", "value": "8.8.8.8"}}))]
pub struct LookupBody {
    pub observable: LookupObservable,
    /// Longest wait for a quota slot in milliseconds (default 8,000; capped by the server).
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 9007199254740991_u64)]
    pub max_wait_ms: Option<WaitMs>,
}

/// The observable: Dynatrace's object or a string whose type is inferred.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum LookupObservable {
    /// The observable as text, e.g. `"8.8.8.8"`.
    Text(String),
    /// Dynatrace's observable object.
    Typed(TypedObservable),
}

/// `{"type": "ip-addr", "value": "8.8.8.8"}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypedObservable {
    /// A type of [`TYPES`].
    #[serde(rename = "type")]
    #[schema(schema_with = known_types)]
    pub kind: String,
    /// The observable as that type: an IP address, a domain name, an absolute http(s) URL, or
    /// a file's MD5, SHA-1 or SHA-256.
    #[schema(min_length = 1)]
    pub value: String,
}

/// The documented observable: an address as text, or Dynatrace's object.
impl PartialSchema for LookupObservable {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .description(Some(
                        "An IP address, domain name, absolute http(s) URL or file hash.",
                    )),
            )
            .item(Ref::from_schema_name(TypedObservable::name()))
            .description(Some(
                "The observable as text (its type inferred), or Dynatrace's object.",
            ))
            .into()
    }
}

impl ToSchema for LookupObservable {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            TypedObservable::name().into_owned(),
            TypedObservable::schema(),
        ));
    }
}

/// The types of [`TYPES`], as the documented enumeration.
fn known_types() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names(&TYPES)))
        .description(Some(
            "Dynatrace's observable type: `ip-addr` (`ipv4-addr`, `ipv6-addr`), \
             `domain-name`, `url`, or `file` (its value an MD5, SHA-1 or SHA-256).",
        ))
}

const RESPONSES_NOTE: &str = "The result object of `/v1/enrich` (also for `not_found`, \
    `not_routable`, `deferred` and `error` statuses); with `format=ecs` an ECS document; with \
    `fields` the result trimmed to those paths.";

/// Enrich one observable named in the query.
///
/// For a Dynatrace Security Enrichment custom connection (method GET, observable as a query
/// parameter) and anything else that can only fill in a query string.
#[utoipa::path(
    get,
    path = "/v1/lookup",
    tag = "enrichment",
    params(LookupQuery),
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = RESPONSES_NOTE, body = FormattedResult),
        (status = 400, description = "Not a valid observable (`invalid_observable`), or a query parameter that is unknown or malformed (`invalid_query`).", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody),
        (status = 422, description = "`fields` names an unknown path (`invalid_fields`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = DEADLINE, body = ErrorBody),
    )
)]
pub async fn lookup_get(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    ApiQuery(query): ApiQuery<LookupQuery>,
) -> Result<Response, ApiError> {
    let parsed = Observable::infer(&query.observable);
    let output = Output::parse(query.format, query.fields.as_deref(), &state)?;
    let input = query.observable;
    enrich_one(
        &state,
        who(caller).on(Route::Lookup),
        input,
        parsed,
        query.max_wait_ms,
        output,
    )
    .await
}

/// Enrich one observable sent in the body.
///
/// For a Dynatrace Security Enrichment custom connection (method POST), with Dynatrace's
/// observable object or a plain string.
#[utoipa::path(
    post,
    path = "/v1/lookup",
    tag = "enrichment",
    params(OutputQuery),
    request_body = LookupBody,
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = RESPONSES_NOTE, body = FormattedResult),
        (status = 400, description = "Not a valid observable (`invalid_observable`), the body is not JSON (`invalid_json`) or a query parameter is unknown or malformed (`invalid_query`).", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody),
        (status = 413, description = "The body is larger than the server's `VTENRICH_BODY_LIMIT` (`body_too_large`).", body = ErrorBody),
        (status = 415, description = "The content type is not JSON (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "The body does not match the schema (`invalid_request`), names an unknown observable type (`unsupported_observable_type`), or `fields` names an unknown path (`invalid_fields`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = DEADLINE, body = ErrorBody),
    )
)]
pub async fn lookup_post(
    state: State<AppState>,
    caller: Option<Extension<Caller>>,
    query: ApiQuery<OutputQuery>,
    body: ApiJson<LookupBody>,
) -> Result<Response, ApiError> {
    lookup_body(state, caller, query, body).await
}

/// Enrich one observable sent in the body (as `POST`).
///
/// For a Dynatrace Security Enrichment custom connection set to method PUT.
#[utoipa::path(
    put,
    path = "/v1/lookup",
    tag = "enrichment",
    params(OutputQuery),
    request_body = LookupBody,
    security(("bearer" = []), ("api_key" = []), ("basic" = [])),
    responses(
        (status = 200, description = RESPONSES_NOTE, body = FormattedResult),
        (status = 400, description = "As for `POST /v1/lookup`.", body = ErrorBody),
        (status = 401, description = UNAUTHORIZED, body = ErrorBody),
        (status = 413, description = "The body is larger than the server's `VTENRICH_BODY_LIMIT` (`body_too_large`).", body = ErrorBody),
        (status = 415, description = "The content type is not JSON (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "As for `POST /v1/lookup`.", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = DEADLINE, body = ErrorBody),
    )
)]
pub async fn lookup_put(
    state: State<AppState>,
    caller: Option<Extension<Caller>>,
    query: ApiQuery<OutputQuery>,
    body: ApiJson<LookupBody>,
) -> Result<Response, ApiError> {
    lookup_body(state, caller, query, body).await
}

async fn lookup_body(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    ApiQuery(query): ApiQuery<OutputQuery>,
    ApiJson(body): ApiJson<LookupBody>,
) -> Result<Response, ApiError> {
    let output = Output::parse(query.format, query.fields.as_deref(), &state)?;
    let (input, parsed) = observable_of(body.observable)?;
    enrich_one(
        &state,
        who(caller).on(Route::Lookup),
        input,
        parsed,
        body.max_wait_ms,
        output,
    )
    .await
}

/// The observable in a body, typed by Dynatrace's type table or inferred from a string.
fn observable_of(
    observable: LookupObservable,
) -> Result<(String, Result<Observable, InvalidObservable>), ApiError> {
    let TypedObservable { kind, value } = match observable {
        LookupObservable::Text(text) => {
            let parsed = Observable::infer(&text);
            return Ok((text, parsed));
        }
        LookupObservable::Typed(typed_observable) => typed_observable,
    };
    let Some(observable_type) = typed(&TYPES, &kind) else {
        return Err(ApiError::unprocessable(
            "unsupported_observable_type",
            format!(
                "unknown observable type; supported: {}",
                names(&TYPES).collect::<Vec<_>>().join(", ")
            ),
        ));
    };
    let parsed = Observable::parse(observable_type, &value);
    Ok((value, parsed))
}
