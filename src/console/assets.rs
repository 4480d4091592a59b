//! The console's page, scripts and style, embedded in the binary (no CDN, nothing to build:
//! plain ES modules and CSS written by hand, served as they are in `console/`), each answer
//! with a strict Content-Security-Policy: no inline script or style, nothing from elsewhere,
//! never framed.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::http::ApiError;

/// Every response of the console carries this policy.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Name, content type and bytes of each embedded file.
const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../console/style.css"),
    ),
    ("app.js", JS, include_str!("../../console/app.js")),
    ("api.js", JS, include_str!("../../console/api.js")),
    ("ui.js", JS, include_str!("../../console/ui.js")),
    ("overview.js", JS, include_str!("../../console/overview.js")),
    ("callers.js", JS, include_str!("../../console/callers.js")),
    ("usage.js", JS, include_str!("../../console/usage.js")),
    ("audit.js", JS, include_str!("../../console/audit.js")),
];

const JS: &str = "text/javascript; charset=utf-8";

/// `GET /console`: the page (one page; the hash names the view).
pub async fn page() -> Response {
    serve("index.html").unwrap_or_else(|| ApiError::not_found().into_response())
}

/// `GET /console/{file}`: a script or the style sheet.
pub async fn asset(Path(file): Path<String>) -> Response {
    serve(&file).unwrap_or_else(|| ApiError::not_found().into_response())
}

fn serve(name: &str) -> Option<Response> {
    let (_, content_type, body) = FILES.iter().find(|(n, _, _)| *n == name)?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        // The files change only with the binary; always revalidating keeps an upgrade visible.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    Some((headers, *body).into_response())
}
