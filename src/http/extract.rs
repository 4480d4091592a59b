//! Extractors for bodies, queries and paths whose every rejection is the API's error shape,
//! so no handler can answer with axum's plain-text rejections.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body: requires a JSON content type and maps every failure to the error shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(json_error)
    }
}

/// A body that is not JSON is a 400; JSON of the wrong shape or types is a 422.
pub(super) fn json_error(err: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match err.classify() {
        Category::Data => ApiError::unprocessable(
            "invalid_request",
            format!("the request does not match the schema: {err}"),
        ),
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {err}"))
        }
    }
}

/// Query parameters with the error shape.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// Path parameters with the error shape.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Longest value of a hand-parsed query parameter.
const MAX_PARAMETER: usize = 512;

/// The parameters of a query parsed by hand (so unknown ones can be refused by name): each
/// name once, each value at most 512 characters, else a 422 naming the parameter.
pub fn query_params(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let mut seen = std::collections::HashSet::new();
    let mut params = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !seen.insert(name.to_string()) {
            return Err(ApiError::invalid_parameter(&name, "given more than once"));
        }
        if value.len() > MAX_PARAMETER {
            return Err(ApiError::invalid_parameter(
                &name,
                format!("longer than {MAX_PARAMETER} characters"),
            ));
        }
        params.push((name.into_owned(), value.into_owned()));
    }
    Ok(params)
}
