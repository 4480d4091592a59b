//! The administrator's web console at `/console`: an embedded page that is a client of the
//! JSON APIs (callers, usage, audit, quota), signed in with a session cookie instead of a key.
//!
//! A session stands for its caller at the HTTP edge (`http::auth`), so every API call the page
//! makes is authorised and audited exactly as the same call with the caller's key would be;
//! changes also need the session's CSRF token.

mod assets;
mod session;
pub(crate) mod signin;

use axum::Router;
use axum::routing::get;

pub use assets::CSP;
pub use session::{COOKIE, CSRF_HEADER, Session, Sessions};
pub use signin::{SessionBody, SignIn, current_session, sign_in, sign_out};

/// The page and its files (the sign-in routes are API routes, in the OpenAPI document).
pub fn pages<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/console", get(assets::page))
        .route("/console/{file}", get(assets::asset))
}
