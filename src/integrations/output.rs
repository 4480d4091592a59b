//! The `format` and `fields` query parameters of the lookup routes and `/v1/enrich`, and the
//! answer rendered under them: vtenrich's own result objects, the same trimmed to some fields,
//! or Elastic Common Schema documents.

use axum::Json;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::ecs;
use super::fields::FieldSet;
use crate::http::{ApiError, EnrichResponse, ResultBody};

/// Shape of the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// vtenrich's result objects (the default).
    #[default]
    Vtenrich,
    /// Elastic Common Schema threat indicator documents (`event.kind: enrichment`).
    Ecs,
}

/// The query of `POST /v1/enrich` and of `POST`/`PUT /v1/lookup`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutputQuery {
    /// `vtenrich` (default) or `ecs`: Elastic Common Schema threat indicator documents.
    pub format: Option<Format>,
    /// Comma-separated dotted paths of the result object to keep, e.g.
    /// `observable,status,reputation.verdict,geo.country.iso_code` (the vtenrich format only).
    /// An unknown path is a 422 naming it.
    #[param(example = "observable,status,reputation.verdict,geo.country.iso_code")]
    pub fields: Option<String>,
}

/// How results are rendered for one request.
#[derive(Debug, Clone)]
pub enum Output {
    /// The result objects as they are.
    Native,
    /// Each result trimmed to these fields.
    Fields(FieldSet),
    /// One ECS document per result, stamped with the time of the answer.
    Ecs(DateTime<Utc>),
}

impl Output {
    /// The output a request asked for; `now` stamps ECS documents.
    pub fn parse(
        format: Option<Format>,
        fields: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, ApiError> {
        match (format.unwrap_or_default(), fields) {
            (Format::Vtenrich, None) => Ok(Output::Native),
            (Format::Vtenrich, Some(fields)) => FieldSet::parse(fields).map(Output::Fields),
            (Format::Ecs, None) => Ok(Output::Ecs(now)),
            (Format::Ecs, Some(_)) => Err(ApiError::unprocessable(
                "invalid_fields",
                "`fields` trims vtenrich result objects; it cannot be combined with `format=ecs`",
            )),
        }
    }

    /// One result.
    pub fn result(&self, body: ResultBody) -> Response {
        match self {
            Output::Native => Json(body).into_response(),
            other => Json(other.value(&body)).into_response(),
        }
    }

    /// A batch's results and summary.
    pub fn batch(&self, response: EnrichResponse) -> Response {
        match self {
            Output::Native => Json(response).into_response(),
            other => {
                let results: Vec<Value> = response.results.iter().map(|r| other.value(r)).collect();
                Json(json!({"results": results, "summary": response.summary})).into_response()
            }
        }
    }

    fn value(&self, body: &ResultBody) -> Value {
        match self {
            Output::Native => serde_json::to_value(body).unwrap_or(Value::Null),
            Output::Fields(fields) => {
                fields.trim(&serde_json::to_value(body).unwrap_or(Value::Null))
            }
            Output::Ecs(now) => ecs::document(body, *now),
        }
    }
}

/// What `format=ecs` and `fields` answer instead of a result object, for the documentation.
const OTHER_SHAPE: &str = "With `format=ecs`: an Elastic Common Schema threat indicator \
    document. With `fields`: the result object trimmed to those paths (a missing one null).";

/// The 200 body of a one-observable route (documentation only): the result object, or the
/// shape `format`/`fields` asked for. `anyOf`, as a result object is also "an object".
pub struct FormattedResult;

impl PartialSchema for FormattedResult {
    fn schema() -> RefOr<Schema> {
        any_of::<ResultBody>()
    }
}

impl ToSchema for FormattedResult {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((ResultBody::name().into_owned(), ResultBody::schema()));
        ResultBody::schemas(schemas);
    }
}

/// The 200 body of `POST /v1/enrich` (documentation only), as [`FormattedResult`] for a batch.
pub struct FormattedBatch;

impl PartialSchema for FormattedBatch {
    fn schema() -> RefOr<Schema> {
        any_of::<EnrichResponse>()
    }
}

impl ToSchema for FormattedBatch {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            EnrichResponse::name().into_owned(),
            EnrichResponse::schema(),
        ));
        EnrichResponse::schemas(schemas);
    }
}

fn any_of<T: ToSchema>() -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(Ref::from_schema_name(T::name()))
        .item(ObjectBuilder::new().description(Some(OTHER_SHAPE)))
        .into()
}
