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
use super::fields::{FieldPath, FieldSet};
use crate::http::{
    AnyResult, ApiError, AppState, DomainResult, EnrichResponse, FileResult, IpResult, ResultBody,
    UrlResult,
};

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
    #[param(inline)]
    pub format: Option<Format>,
    /// Comma-separated dotted paths of the result object to keep, e.g.
    /// `observable,status,reputation.verdict,geo.country.iso_code`; with `format=ecs` the
    /// documents are built from what is kept. An unknown path is a 422 naming it.
    #[param(value_type = Option<Vec<FieldPath>>, inline, style = Form, explode = false, example = json!(["observable", "status", "reputation.verdict", "geo.country.iso_code"]))]
    pub fields: Option<String>,
}

/// How results are rendered for one request: trimmed to some fields or whole, as vtenrich's
/// result objects or as ECS documents built from them.
#[derive(Debug, Clone)]
pub struct Output {
    fields: Option<FieldSet>,
    /// ECS documents stamped with this time.
    ecs: Option<DateTime<Utc>>,
}

impl Output {
    /// The output a request asked for; ECS documents are stamped with the service clock's
    /// time. An empty `fields` keeps everything (a form-style list with no member).
    pub fn parse(
        format: Option<Format>,
        fields: Option<&str>,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let now = state.enricher.clock().now();
        let fields = fields
            .filter(|f| !f.is_empty())
            .map(FieldSet::parse)
            .transpose()?;
        let ecs = (format.unwrap_or_default() == Format::Ecs).then_some(now);
        Ok(Self { fields, ecs })
    }

    fn is_native(&self) -> bool {
        self.fields.is_none() && self.ecs.is_none()
    }

    /// One result.
    pub fn result(&self, body: ResultBody) -> Response {
        if self.is_native() {
            return Json(body).into_response();
        }
        Json(self.value(&body)).into_response()
    }

    /// A batch's results and summary.
    pub fn batch(&self, response: EnrichResponse) -> Response {
        if self.is_native() {
            return Json(response).into_response();
        }
        let results: Vec<Value> = response.results.iter().map(|r| self.value(r)).collect();
        Json(json!({"results": results, "summary": response.summary})).into_response()
    }

    /// One result object as this output renders it.
    pub(crate) fn value(&self, body: &ResultBody) -> Value {
        let mut value = serde_json::to_value(body).unwrap_or(Value::Null);
        if let Some(fields) = &self.fields {
            value = fields.trim(&value);
        }
        match self.ecs {
            Some(now) => ecs::document(&value, now),
            None => value,
        }
    }
}

/// What `format=ecs` and `fields` answer instead of a result object, for the documentation.
const OTHER_SHAPE: &str = "With `fields`: the result object trimmed to those paths (a missing \
    one null). With `format=ecs`: an Elastic Common Schema threat indicator document (built \
    from what `fields` kept, when given).";

/// Declares the 200 body of one-observable routes (documentation only): the result object
/// (one type's, or any), or the shape `format`/`fields` asked for. `anyOf`, as a result object
/// is also "an object".
macro_rules! formatted {
    ($(#[$doc:meta])* $name:ident, $result:ty) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                any_of::<$result>()
            }
        }

        impl ToSchema for $name {
            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                schemas.push((<$result>::name().into_owned(), <$result>::schema()));
                <$result>::schemas(schemas);
            }
        }
    };
}

formatted!(
    /// A result of any type, or what `format`/`fields` asked for.
    FormattedResult,
    AnyResult
);
formatted!(
    /// An IP address's result, or what `format`/`fields` asked for.
    FormattedIp,
    IpResult
);
formatted!(
    /// A domain's result, or what `format`/`fields` asked for.
    FormattedDomain,
    DomainResult
);
formatted!(
    /// A URL's result, or what `format`/`fields` asked for.
    FormattedUrl,
    UrlResult
);
formatted!(
    /// A file's result, or what `format`/`fields` asked for.
    FormattedFile,
    FileResult
);

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
