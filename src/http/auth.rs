//! Caller authentication: API keys checked against configured SHA-256 hashes in constant time.
//!
//! SIEM webhooks can send a key in only a few ways, so three are accepted:
//! `Authorization: Bearer <key>`, `X-API-Key: <key>`, and Basic auth's password.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::caller::Caller;
use crate::config::CallerSettings;

/// The configured callers; empty means authentication is off.
#[derive(Debug, Clone, Default)]
pub struct Callers {
    /// (caller, SHA-256 of one of its keys)
    keys: Arc<Vec<(Caller, [u8; 32])>>,
    metrics_open: bool,
}

/// The SHA-256 of a key, as configured in `callers.key_sha256` (lower-case hex).
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl Callers {
    /// Builds the table from settings (hashes were validated at start-up).
    pub fn new(callers: &[CallerSettings], metrics_open: bool) -> Self {
        let keys = callers
            .iter()
            .filter_map(|c| Some((c, Caller::from_profile(c.profile()?))))
            .flat_map(|(c, caller)| {
                c.key_sha256.iter().filter_map(move |h| {
                    let mut digest = [0u8; 32];
                    hex::decode_to_slice(h, &mut digest).ok()?;
                    Some((caller.clone(), digest))
                })
            })
            .collect();
        Self {
            keys: Arc::new(keys),
            metrics_open,
        }
    }

    /// True when at least one caller is configured.
    pub fn enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The caller owning `key`. Every configured hash is compared, in constant time, so the
    /// time taken does not tell which caller or how much of a hash matched.
    fn identify(&self, key: &str) -> Option<&Caller> {
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut found = None;
        for (id, expected) in self.keys.iter() {
            if bool::from(digest.ct_eq(expected)) {
                found = Some(id);
            }
        }
        found
    }

    fn is_open(&self, path: &str) -> bool {
        matches!(path, "/livez" | "/readyz" | "/openapi.json")
            || path == "/docs"
            || path.starts_with("/docs/")
            || (self.metrics_open && path == "/metrics")
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

impl Callers {
    /// Lets the request through when no callers are configured, the path is open, or it
    /// presents a valid key (the caller id goes on the request span, and to the handlers as
    /// a [`Caller`] extension); else the 401 to send.
    pub fn authorize(&self, request: &mut Request) -> Result<(), ApiError> {
        if !self.enabled() {
            request.extensions_mut().insert(Caller::anonymous());
            return Ok(());
        }
        if self.is_open(request.uri().path()) {
            return Ok(());
        }
        let caller = presented_key(request.headers())
            .filter(|k| !k.is_empty())
            .and_then(|key| self.identify(&key));
        match caller {
            Some(caller) => {
                tracing::Span::current().record("caller", caller.as_str());
                request.extensions_mut().insert(caller.clone());
                Ok(())
            }
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid API key is required: send `Authorization: Bearer <key>`, `X-API-Key: \
                 <key>` or Basic auth with the key as password",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callers() -> Callers {
        Callers::new(
            &[CallerSettings {
                id: "siem".into(),
                key_sha256: vec![hash_key("s3cret")],
                ..CallerSettings::default()
            }],
            true,
        )
    }

    #[test]
    fn a_known_key_identifies_its_caller_and_others_do_not() {
        let c = callers();
        assert_eq!(c.identify("s3cret").map(Caller::as_str), Some("siem"));
        assert_eq!(c.identify("s3cre"), None);
        assert_eq!(c.identify(""), None);
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
    fn the_hash_is_lower_case_hex_sha256() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
