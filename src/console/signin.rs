//! The console's own JSON routes: sign in (a key exchanged once for a session cookie), read
//! the current session (the page's CSRF token after a reload), sign out.
//!
//! The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page
//! sends it), `Path=/` and expires with the session. vtenrich itself serves plain HTTP, so
//! TLS is a proxy's: the cookie is `Secure` when the request came from a trusted proxy
//! (`VTENRICH_TRUSTED_PROXIES`) saying `X-Forwarded-Proto: https`.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::SecondsFormat;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::session::{COOKIE, Session, Sessions, csrf_matches, expired, session_token};
use crate::audit::SourceIp;
use crate::caller::{Caller, Role};
use crate::http::{ApiError, AppState, ErrorBody, INTERNAL};

/// The sign-in request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// A caller's API key; exchanged for the session, never stored in the browser.
    #[schema(value_type = String, example = "0f1e2d...")]
    pub key: SecretString,
}

/// A live console session, as the page sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    /// The signed-in caller.
    #[schema(example = "ops")]
    pub caller: String,
    /// Its role: `admin` sees every page, `user` its own usage only.
    #[schema(value_type = String, example = "admin")]
    pub role: Role,
    /// Send in `X-CSRF-Token` on every state-changing request made with the session.
    pub csrf_token: String,
    /// When the session ends (RFC 3339, UTC).
    pub expires_at: String,
}

impl SessionBody {
    fn new(caller: &Caller, session: &Session) -> Self {
        Self {
            caller: caller.as_str().to_owned(),
            role: caller.profile().role,
            csrf_token: session.csrf.clone(),
            expires_at: session
                .expires_at
                .to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    }
}

/// The console's sessions, or the 404 of a server whose console is off.
fn sessions(state: &AppState) -> Result<&Sessions, ApiError> {
    state.sessions.as_ref().ok_or_else(ApiError::not_found)
}

fn source(headers_ip: Option<&SourceIp>) -> Option<std::net::IpAddr> {
    headers_ip.and_then(|s| s.0)
}

/// Sign in to the console.
///
/// Exchanges a caller's key for a session cookie (`HttpOnly`, `SameSite=Strict`, `Secure`
/// behind a TLS proxy) and a CSRF token. Audited as `console.signed_in`; a wrong key counts
/// as a failed authentication (`auth.failed`).
#[utoipa::path(post, path = "/console/session", tag = "console",
    request_body = SignIn,
    responses(
        (status = 200, description = "Signed in; the cookie is set.", body = SessionBody,
            headers(("set-cookie" = String, description = "`vtenrich_session=<token>; HttpOnly; SameSite=Strict; Path=/; Max-Age=<ttl>`"))),
        (status = 400, description = "The body is not valid JSON (`invalid_json`).", body = ErrorBody),
        (status = 401, description = "The key is wrong (`unauthorized`).", body = ErrorBody),
        (status = 404, description = "The console is off (`VTENRICH_CONSOLE_ENABLED=false`).", body = ErrorBody),
        (status = 415, description = "The content type is not JSON (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "A field is missing or unknown (`invalid_request`).", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    ip: Option<axum::Extension<SourceIp>>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    crate::http::ApiJson(body): crate::http::ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    let sessions = sessions(&state)?;
    let source = source(ip.as_deref());
    let Some(caller) = state.registry.identify(body.key.expose_secret()) else {
        state.audit.auth_failed(source);
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the key is not a valid caller key",
        ));
    };
    let (token, session) = sessions.open(caller.id().clone());
    state.audit.record_admin(
        caller.as_str(),
        source,
        "console.signed_in",
        "session",
        caller.as_str(),
        None,
        None,
    );
    let secure = sessions.behind_tls(peer.map(|p| p.0.0.ip()), &headers);
    let cookie = Cookie::build((COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(time::Duration::try_from(sessions.ttl()).unwrap_or(time::Duration::MAX));
    let jar = CookieJar::new().add(cookie);
    Ok((jar, Json(SessionBody::new(&caller, &session))).into_response())
}

/// The current console session.
///
/// Who is signed in, and the CSRF token (a reloaded page has lost it).
#[utoipa::path(get, path = "/console/session", tag = "console",
    security(("session" = [])),
    responses(
        (status = 200, description = "The session.", body = SessionBody),
        (status = 401, description = "No session cookie, or the session has expired or its caller is gone (`session_expired`).", body = ErrorBody),
        (status = 404, description = "The console is off.", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
    ))]
pub async fn current_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<SessionBody>, ApiError> {
    let sessions = sessions(&state)?;
    let (caller, session) = live(&state, sessions, &headers)?;
    Ok(Json(SessionBody::new(&caller, &session)))
}

/// Sign out of the console.
///
/// Ends the session on the server (the cookie stops working even if kept) and clears the
/// cookie. Needs the CSRF token. Audited as `console.signed_out`.
#[utoipa::path(delete, path = "/console/session", tag = "console",
    security(("session" = [])),
    params(("x-csrf-token" = String, Header, description = "The session's CSRF token.")),
    responses(
        (status = 204, description = "Signed out."),
        (status = 401, description = "No live session (`session_expired`).", body = ErrorBody),
        (status = 403, description = "The CSRF token is missing or wrong (`csrf_token_invalid`).", body = ErrorBody),
        (status = 404, description = "The console is off.", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
    ))]
pub async fn sign_out(
    State(state): State<AppState>,
    ip: Option<axum::Extension<SourceIp>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sessions = sessions(&state)?;
    let (caller, session) = live(&state, sessions, &headers)?;
    if !csrf_matches(&headers, &session.csrf) {
        return Err(super::session::csrf_refused());
    }
    if let Some(token) = session_token(&headers) {
        sessions.close(&token);
    }
    state.audit.record_admin(
        caller.as_str(),
        source(ip.as_deref()),
        "console.signed_out",
        "session",
        caller.as_str(),
        None,
        None,
    );
    let jar = CookieJar::new().remove(Cookie::build(COOKIE).path("/"));
    Ok((StatusCode::NO_CONTENT, jar).into_response())
}

/// The live session of a request and its caller, or 401.
fn live(
    state: &AppState,
    sessions: &Sessions,
    headers: &HeaderMap,
) -> Result<(Caller, Session), ApiError> {
    let session = session_token(headers)
        .and_then(|token| sessions.find(&token))
        .ok_or_else(expired)?;
    let caller = state.registry.caller(&session.caller).ok_or_else(expired)?;
    Ok((caller, session))
}
