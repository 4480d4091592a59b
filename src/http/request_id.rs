//! Request ids: a caller's `x-request-id` is kept only when it is short and plain, because it
//! is echoed in the answer and written into every log line of the request; anything else is
//! replaced by a generated UUID.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

/// The header carrying the id, in both directions.
pub(super) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id taken from a caller: room for a UUID, a W3C trace id or a vendor's prefixed id,
/// not for a payload.
const MAX_LEN: usize = 128;

/// Whether a caller's id can be echoed and logged as it is: 1 to 128 characters of
/// `[A-Za-z0-9._:-]`, so it cannot carry markup, control characters, log-line breaks or bulk.
fn is_safe(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A fresh id: a random UUID (from a thread-local generator, `fast-rng`), written on the stack
/// and copied once into the header value.
fn generate() -> HeaderValue {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    HeaderValue::from_str(id).expect("a UUID is a valid header value")
}

/// Gives a request exactly one safe id (the caller's when it is safe, else a new one), before
/// its span reads it; returns the id, which the answer echoes.
pub(super) fn assign(headers: &mut HeaderMap) -> HeaderValue {
    let id = headers
        .get(REQUEST_ID)
        .filter(|v| is_safe(v))
        .cloned()
        .unwrap_or_else(generate);
    // `insert` also drops any further `x-request-id` lines the caller sent.
    headers.insert(REQUEST_ID, id.clone());
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safe(text: &[u8]) -> bool {
        is_safe(&HeaderValue::from_bytes(text).expect("a header value"))
    }

    #[test]
    fn short_ids_of_plain_characters_are_kept() {
        assert!(safe(b"abc-123"));
        assert!(safe(
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(safe(b"svc.a:b_c"));
        assert!(safe("x".repeat(MAX_LEN).as_bytes()));
    }

    #[test]
    fn long_empty_marked_up_or_non_ascii_ids_are_replaced() {
        assert!(!safe(b""));
        assert!(!safe("x".repeat(MAX_LEN + 1).as_bytes()));
        assert!(!safe(b"<script>alert(1)</script>"));
        assert!(!safe(b"a b"));
        assert!(!safe(b"id\tx"));
        assert!(!safe("caf\u{e9}".as_bytes()));
        assert!(!safe(b"a/b"));
    }

    #[test]
    fn a_generated_id_is_a_uuid_and_safe() {
        let id = generate();
        assert!(uuid::Uuid::parse_str(id.to_str().unwrap()).is_ok());
        assert!(is_safe(&id));
    }
}
