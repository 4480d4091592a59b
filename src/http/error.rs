//! The one error shape of the API: `{"error": {"code": "...", "message": "..."}}`.
//!
//! # Which error type is used where
//!
//! An enum where a caller branches on the kind, `anyhow` where it only reports:
//!
//! - **Answering a request**: handlers and extractors return [`ApiError`] (its constructors name
//!   the common cases); axum's extractor rejections convert into it (`From` impls below), and
//!   anything answered by a layer we do not own is reshaped once at the edge by
//!   [`in_error_shape`]. Domain errors become an `ApiError` beside the handler that meets them (`RegistryError` in `admin/actor.rs`, `QueryError` in `audit.rs`).
//! - **Parsing at the edge**: `InvalidObservable`, `InvalidCallerId`: the input is not one;
//!   the message says why (for one item of a batch it is that item's error, not the batch's).
//! - **One item of a batch**: `enrich::ItemError` (a stable code and a sentence), rendered as
//!   the item's `error`; the request itself succeeds.
//! - **Calling VirusTotal**: `VtError`, classified by what the engine does next (retry, refund,
//!   block, report); its `api_code()` is the item's error code.
//! - **Spending quota or a caller's cap**: `quota::Denied` and `callers::ledger::CapSpent` are
//!   not failures but answers (when to ask again).
//! - **Backends**: `StoreError` (embedded store), `BackendError` (Redis), `RegistryError`
//!   (caller changes): enums, because callers degrade or answer 503 by kind.
//! - **Start-up and background tasks**: `anyhow::Error` with context naming the setting or
//!   file; configuration problems are gathered in `ConfigError`, every one naming its setting.

use axum::Json;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The OpenAPI description of a 401, shared by the protected operations.
pub(super) const UNAUTHORIZED: &str = "The server has callers configured and the caller key was \
    missing or wrong (`unauthorized`).";

/// The OpenAPI description of a 500, shared by the operations that can have one.
pub(crate) const INTERNAL: &str =
    "A bug: the handler panicked (`internal_error`; logged, the service keeps serving).";

/// The OpenAPI description of the 503 of a request that outlived its deadline.
pub(super) const DEADLINE: &str = "The request outlived the server's `VTENRICH_REQUEST_TIMEOUT` \
    (`deadline_exceeded`); lookups it started still finish and fill the cache.";

/// An error answered to the caller. Bad input is not logged as an error; 5xx are.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// The body of every non-2xx answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "invalid_json", "message": "the body is not valid JSON: expected value at line 1 column 1"}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A machine-readable code and a human-readable sentence.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `invalid_json`, `unsupported_media_type`, `batch_too_large`.
    pub code: String,
    /// What went wrong, in words.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with the given code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422 with the given code.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 422 `invalid_parameter` naming the query parameter `parameter` and saying why.
    pub fn invalid_parameter(parameter: &str, why: impl std::fmt::Display) -> Self {
        Self::unprocessable(
            "invalid_parameter",
            format!("query parameter `{parameter}`: {why}"),
        )
    }

    /// 404 for a path no route matches.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint; see /openapi.json for the API",
        )
    }

    /// 405 for a method the path does not accept (the `Allow` header says which do).
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not accept that method; the `Allow` header lists the ones it does",
        )
    }

    /// 500 for an unexpected failure; the cause is logged, not sent.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an unexpected error occurred; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        } else if self.code == "deadline_exceeded" {
            tracing::warn!(code = self.code, "request outlived its deadline");
        } else {
            // Bad input and expected states (not ready while draining) are not errors.
            tracing::debug!(code = self.code, message = %self.message, "request rejected");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"vtenrich\""),
            );
        }
        response
    }
}

/// Puts a non-2xx answer that is not already in the error shape into it, keeping its status
/// and headers (`Allow`, `Location`). Answers we did not write, Swagger UI's 404 for an unknown
/// asset, axum's bare 405 on a merged route, its redirect from `/docs` to `/docs/`, would
/// otherwise reach callers with an empty body that their error handling cannot parse.
pub(super) fn in_error_shape(response: Response) -> Response {
    let status = response.status();
    // 304 must not carry a body; 1xx never reaches here.
    if status.is_success() || status.is_informational() || status == StatusCode::NOT_MODIFIED {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (parts, _dropped) = response.into_parts();
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::not_found(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(),
        _ if status.is_redirection() => {
            let location = parts
                .headers
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("given in the `Location` header");
            ApiError::new(
                status,
                "redirect",
                format!("this resource is at {location}"),
            )
        }
        _ => ApiError::new(
            status,
            if status.is_server_error() {
                "internal_error"
            } else {
                "bad_request"
            },
            status.canonical_reason().unwrap_or("the request failed"),
        ),
    };
    let mut shaped = error.into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            shaped.headers_mut().append(name, value.clone());
        }
    }
    shaped
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(
                status,
                "body_too_large",
                "the request body is larger than the configured limit (VTENRICH_BODY_LIMIT)",
            );
        }
        Self::new(status, "unreadable_body", rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request("invalid_path", rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request("invalid_query", rejection.body_text())
    }
}
