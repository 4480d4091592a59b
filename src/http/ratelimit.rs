//! The caller's daily budget as RateLimit headers (IETF draft-ietf-httpapi-ratelimit-headers,
//! revision 11), on every authenticated API answer, so a workflow can pace itself without
//! asking `/v1/quota`.
//!
//! `RateLimit-Policy: "daily";q=<calls per UTC day>;w=86400` and
//! `RateLimit: "daily";r=<calls left>;t=<seconds to the next UTC midnight>`; `q` is the
//! caller's `daily_cap`, or the key's daily quota for a caller without one.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::enrich::{BatchResult, CALLER_QUOTA_EXCEEDED, DailyBudget, Outcome, Source};

/// `RateLimit-Policy`.
pub const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
pub const RATE_LIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Seconds in the policy's window.
const WINDOW_SECS: u64 = 86_400;

/// Adds the two headers for `budget`, each written on the stack and copied once into its
/// value (they are on every answer, and the formatting machinery cost more than the rest of the
/// header work).
pub fn add(headers: &mut HeaderMap, budget: DailyBudget) {
    let mut line = Line::new();
    line.push(b"\"daily\";q=");
    line.number(budget.limit);
    line.push(b";w=");
    line.number(WINDOW_SECS);
    line.insert(headers, POLICY);
    let mut line = Line::new();
    line.push(b"\"daily\";r=");
    line.number(budget.remaining);
    line.push(b";t=");
    line.number(budget.reset_secs);
    line.insert(headers, RATE_LIMIT);
}

/// One header value on the stack: the longest is under 60 bytes (three 20-digit numbers could
/// not be longer than 96).
struct Line {
    text: [u8; 96],
    len: usize,
}

impl Line {
    fn new() -> Self {
        Self {
            text: [0; 96],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.text[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn number(&mut self, n: impl Into<u64>) {
        self.push(itoa::Buffer::new().format(n.into()).as_bytes());
    }

    fn insert(&self, headers: &mut HeaderMap, name: HeaderName) {
        if let Ok(value) = HeaderValue::from_bytes(&self.text[..self.len]) {
            headers.insert(name, value);
        }
    }
}

/// The `Retry-After` seconds of a refused answer: set when the batch had new observables and
/// the caller's spent cap refused every one of them (cache hits and local answers aside).
pub fn retry_after(batch: &BatchResult) -> Option<u64> {
    let mut refused = None;
    for item in &batch.items {
        match &item.outcome {
            Outcome::Error {
                error,
                retry_after_secs,
            } if error.code == CALLER_QUOTA_EXCEEDED => {
                refused = refused.max(*retry_after_secs).or(Some(1));
            }
            Outcome::Answered {
                source: Source::Cache,
                stale: false,
                ..
            }
            | Outcome::NotRoutable(_)
            | Outcome::Invalid(_) => {}
            // Anything else was a new observable that was not refused by the cap.
            _ => return None,
        }
    }
    refused
}
