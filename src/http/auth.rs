//! Caller authentication: API keys checked against the caller registry's SHA-256 hashes in
//! constant time.
//!
//! SIEM webhooks can send a key in only a few ways, so three are accepted:
//! `Authorization: Bearer <key>`, `X-API-Key: <key>`, and Basic auth's password.

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;

use super::error::ApiError;
use crate::caller::{Caller, Role};
use crate::callers::Registry;
use crate::console::Sessions;

/// Whether a request without a key may use the API while callers exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuthPolicy {
    /// `serve`: as soon as any caller exists (configured or created at runtime), every API
    /// request needs a valid key.
    #[default]
    RequireKey,
    /// `vtenrich demo` only: requests without a key enrich as the `anonymous` caller, so the
    /// demo's examples work unchanged; a key that is sent must be valid, and the admin API
    /// still needs an admin's key.
    AllowAnonymous,
}

/// Authentication at the edge: the registry, the policy, and whether `/metrics` is open.
#[derive(Debug, Clone)]
pub struct Callers {
    registry: Registry,
    policy: AuthPolicy,
    metrics_open: bool,
    /// Console sessions, which stand for their caller when a request sends no key.
    sessions: Option<Sessions>,
}

impl Callers {
    /// Authenticates against `registry` under `policy`.
    pub fn new(registry: Registry, policy: AuthPolicy, metrics_open: bool) -> Self {
        Self {
            registry,
            policy,
            metrics_open,
            sessions: None,
        }
    }

    /// Also accepts console sessions (a session cookie, plus the CSRF token on changes).
    pub fn with_sessions(mut self, sessions: Option<Sessions>) -> Self {
        self.sessions = sessions;
        self
    }

    fn is_open(&self, path: &str) -> bool {
        // `/modules` only lists the MISP module; MISP reads it without any key.
        matches!(path, "/livez" | "/readyz" | "/openapi.json" | "/modules")
            || path == "/docs"
            || path.starts_with("/docs/")
            || (self.metrics_open && path == "/metrics")
            // The page, its files and the sign-in routes, which check the session themselves.
            || (self.sessions.is_some() && (path == "/console" || path.starts_with("/console/")))
    }

    /// Lets the request through when no callers exist, the path is open, the policy allows
    /// requests without a key and none was sent, or it presents a valid key (the caller id
    /// goes on the request span, and to the handlers as a [`Caller`] extension); else the
    /// 401 to send.
    pub fn authorize(&self, request: &mut Request) -> Result<(), ApiError> {
        if self.registry.is_empty() {
            request.extensions_mut().insert(Caller::anonymous());
            return Ok(());
        }
        if self.is_open(request.uri().path()) {
            return Ok(());
        }
        let key = presented_key(request.headers()).filter(|k| !k.is_empty());
        // A key wins over a cookie; without a key, a console session stands for its caller,
        // so the API call is authorised and audited as the caller's own.
        if key.is_none()
            && let Some(found) = self.sessions.as_ref().and_then(|sessions| {
                sessions.authorize(request.method(), request.headers(), &self.registry)
            })
        {
            let caller = found?;
            tracing::Span::current().record("caller", caller.as_str());
            request.extensions_mut().insert(caller);
            return Ok(());
        }
        if key.is_none() && self.policy == AuthPolicy::AllowAnonymous {
            request.extensions_mut().insert(Caller::anonymous());
            return Ok(());
        }
        if key.is_none() && request.uri().path() == KeyInBody::PATH {
            request.extensions_mut().insert(KeyInBody);
            return Ok(());
        }
        match key.and_then(|key| self.registry.identify(&key)) {
            Some(caller) => {
                tracing::Span::current().record("caller", caller.as_str());
                request.extensions_mut().insert(caller);
                Ok(())
            }
            None => Err(unauthorized()),
        }
    }
}

/// Marks a request to the misp-modules `/query` route that came without a key: MISP cannot send
/// headers, so that handler authenticates the key in its body (module config `caller_key`).
#[derive(Debug, Clone, Copy)]
pub struct KeyInBody;

impl KeyInBody {
    /// The one route whose key may be in the body.
    pub const PATH: &str = "/query";
}

/// The 401 of a missing or wrong key.
pub(super) fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a valid API key is required: send `Authorization: Bearer <key>`, `X-API-Key: <key>` \
         or Basic auth with the key as password",
    )
}

/// Lets admins through (every admin-only route asks this one function): a request without a
/// key (the implicit caller) is 401, a `user` caller's is 403.
pub(super) fn require_admin(caller: Option<&Caller>) -> Result<&Caller, ApiError> {
    match caller {
        Some(c) if c.profile().role == Role::Admin => Ok(c),
        Some(c) if c.as_str() != Caller::ANONYMOUS => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the admin API needs a caller with the `admin` role",
        )),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the admin API needs an admin caller's key: send `Authorization: Bearer <key>`, \
             `X-API-Key: <key>` or Basic auth with the key as password",
        )),
    }
}

/// The key a request presents, from any of the accepted places.
fn presented_key(headers: &HeaderMap) -> Option<String> {
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim().to_owned());
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = auth.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_user, password) = text.split_once(':')?;
        return Some(password.to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::callers::hash_key;
    use crate::clock::SystemClock;
    use crate::config::CallerSettings;

    async fn registry() -> Registry {
        Registry::in_memory(
            &[CallerSettings {
                id: "siem".into(),
                key_sha256: vec![hash_key("s3cret")],
                ..CallerSettings::default()
            }],
            Arc::new(SystemClock),
        )
        .await
    }

    #[tokio::test]
    async fn a_known_key_identifies_its_caller_and_others_do_not() {
        let r = registry().await;
        assert_eq!(
            r.identify("s3cret").as_ref().map(Caller::as_str),
            Some("siem")
        );
        assert_eq!(r.identify("s3cre"), None);
        assert_eq!(r.identify(""), None);
    }

    #[test]
    fn the_key_is_read_from_each_accepted_header_form() {
        let mut h = HeaderMap::new();
        h.insert("x-api-key", "k1".parse().unwrap());
        assert_eq!(presented_key(&h).as_deref(), Some("k1"));
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer k2".parse().unwrap());
        assert_eq!(presented_key(&h).as_deref(), Some("k2"));
        let mut h = HeaderMap::new();
        let basic = base64::engine::general_purpose::STANDARD.encode("any:k3");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {basic}").parse().unwrap(),
        );
        assert_eq!(presented_key(&h).as_deref(), Some("k3"));
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Digest x".parse().unwrap());
        assert_eq!(presented_key(&h), None);
    }

    #[test]
    fn only_admins_pass_the_admin_check_and_a_keyless_request_is_401() {
        let mut admin = Caller::new("ops").profile().clone();
        admin.role = Role::Admin;

        assert!(require_admin(Some(&Caller::from_profile(admin))).is_ok());
        assert_eq!(
            require_admin(Some(&Caller::new("siem")))
                .unwrap_err()
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            require_admin(Some(&Caller::anonymous()))
                .unwrap_err()
                .status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            require_admin(None).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }
}
