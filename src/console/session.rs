//! Console sessions: an admin's (or a user's) key exchanged once for a random session token
//! kept in an `HttpOnly` cookie, with a CSRF token the page sends back on every change.
//!
//! Sessions live in this process's memory (keyed by the token's SHA-256, so a memory dump
//! does not hand out live cookies): in fleet mode a session is bound to the replica that
//! issued it, and the load balancer must keep a browser on one replica (sticky sessions).
//! A session names its caller only; the caller's role and existence are read from the
//! registry on every request, so a demotion or a deletion applies at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use axum_extra::extract::cookie::CookieJar;
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use crate::caller::{Caller, CallerId};
use crate::callers::{Registry, generate_key, hash_key};
use crate::clock::SharedClock;
use crate::config::TrustedProxies;
use crate::http::ApiError;

/// The session cookie's name.
pub const COOKIE: &str = "vtenrich_session";
/// The header a state-changing request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// One signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who signed in.
    pub caller: CallerId,
    /// Sent back by the page in [`CSRF_HEADER`] on every state-changing request.
    pub csrf: String,
    /// When the session ends, however active it is.
    pub expires_at: DateTime<Utc>,
}

/// The sessions of this process, each ending `ttl` after sign-in.
#[derive(Clone)]
pub struct Sessions {
    by_hash: Arc<Mutex<HashMap<String, Session>>>,
    ttl: Duration,
    clock: SharedClock,
    /// Proxies believed when they say the browser came over TLS.
    trusted_proxies: Arc<TrustedProxies>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("ttl", &self.ttl).finish()
    }
}

impl Sessions {
    /// An empty set of sessions lasting `ttl` on `clock`, believing `trusted_proxies` about TLS.
    pub fn new(ttl: Duration, clock: SharedClock, trusted_proxies: TrustedProxies) -> Self {
        Self {
            by_hash: Arc::default(),
            ttl,
            clock,
            trusted_proxies: Arc::new(trusted_proxies),
        }
    }

    /// Whether the browser reached us over TLS: a trusted proxy (the socket peer) says
    /// `X-Forwarded-Proto: https`. Anyone else's word is not taken.
    pub fn behind_tls(&self, peer: Option<std::net::IpAddr>, headers: &HeaderMap) -> bool {
        peer.is_some_and(|ip| self.trusted_proxies.contains(ip.to_canonical()))
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
    }

    /// How long a new session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.by_hash.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a session for `caller`; returns the token (for the cookie only) and the session.
    pub fn open(&self, caller: CallerId) -> (String, Session) {
        let now = self.clock.now();
        let token = generate_key();
        let session = Session {
            caller,
            csrf: generate_key(),
            expires_at: now + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::MAX),
        };
        let mut table = self.table();
        // Dropping the expired ones here bounds the map by the sign-ins of one TTL.
        table.retain(|_, s| s.expires_at > now);
        table.insert(hash_key(&token), session.clone());
        (token, session)
    }

    /// The live session of `token`, if any (an expired one is forgotten).
    pub fn find(&self, token: &str) -> Option<Session> {
        let hash = hash_key(token);
        let mut table = self.table();
        let session = table.get(&hash)?;
        if session.expires_at <= self.clock.now() {
            table.remove(&hash);
            return None;
        }
        Some(session.clone())
    }

    /// Ends the session of `token` (sign-out); true when one was live.
    pub fn close(&self, token: &str) -> bool {
        self.table().remove(&hash_key(token)).is_some()
    }

    /// The caller a request's session cookie stands for, when it carries one: `None` without
    /// the cookie (the key rules apply), 401 for an unknown or expired session or a caller
    /// since deleted, 403 for a state-changing request without the session's CSRF token.
    pub fn authorize(
        &self,
        method: &Method,
        headers: &HeaderMap,
        registry: &Registry,
    ) -> Option<Result<Caller, ApiError>> {
        let token = session_token(headers)?;
        let Some(session) = self.find(&token) else {
            return Some(Err(expired()));
        };
        let Some(caller) = registry.caller(&session.caller) else {
            return Some(Err(expired()));
        };
        if !is_safe(method) && !csrf_matches(headers, &session.csrf) {
            return Some(Err(csrf_refused()));
        }
        Some(Ok(caller))
    }
}

/// The session token in a request's cookie, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether the request's CSRF header holds `expected` (compared in constant time).
pub fn csrf_matches(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(CSRF_HEADER)
        .map(|v| bool::from(v.as_bytes().ct_eq(expected.as_bytes())))
        .unwrap_or(false)
}

/// Methods that change nothing, so need no CSRF token.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The 403 of a state-changing request without the session's CSRF token.
pub fn csrf_refused() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf_token_invalid",
        "a state-changing request made with a console session must carry the session's CSRF \
         token in the `X-CSRF-Token` header",
    )
}

/// The 401 of a session that is unknown, expired or whose caller is gone.
pub fn expired() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "session_expired",
        "the console session is unknown or has expired: sign in again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn sessions(clock: &ManualClock) -> Sessions {
        Sessions::new(
            Duration::from_secs(60),
            Arc::new(clock.clone()),
            TrustedProxies::default(),
        )
    }

    #[test]
    fn a_session_is_found_by_its_token_until_it_expires() {
        let clock = ManualClock::new(Utc::now());
        let sessions = sessions(&clock);
        let (token, opened) = sessions.open(CallerId::parse("ops").unwrap());
        assert_eq!(sessions.find(&token).unwrap().csrf, opened.csrf);
        assert!(sessions.find("another-token").is_none());
        clock.advance(Duration::from_secs(60));
        assert!(sessions.find(&token).is_none());
    }

    #[test]
    fn a_closed_session_is_gone() {
        let clock = ManualClock::new(Utc::now());
        let sessions = sessions(&clock);
        let (token, _) = sessions.open(CallerId::parse("ops").unwrap());
        assert!(sessions.close(&token));
        assert!(sessions.find(&token).is_none());
        assert!(!sessions.close(&token));
    }

    #[test]
    fn the_csrf_header_must_hold_the_exact_token() {
        let mut headers = HeaderMap::new();
        assert!(!csrf_matches(&headers, "abc"));
        headers.insert(CSRF_HEADER, "abd".parse().unwrap());
        assert!(!csrf_matches(&headers, "abc"));
        headers.insert(CSRF_HEADER, "abc".parse().unwrap());
        assert!(csrf_matches(&headers, "abc"));
    }
}
