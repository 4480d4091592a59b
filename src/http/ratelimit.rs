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

/// The policy's name: one daily window.
const NAME: &str = "daily";

/// Seconds in the policy's window.
const WINDOW_SECS: u64 = 86_400;

/// Adds the two headers for `budget`, each written on the stack and copied once into its
/// value (they are on every answer).
pub fn add(headers: &mut HeaderMap, budget: DailyBudget) {
    use std::io::Write;
    let mut text = [0u8; 96];
    let mut put = |name: HeaderName, args: std::fmt::Arguments| {
        let mut cursor = std::io::Cursor::new(&mut text[..]);
        if cursor.write_fmt(args).is_ok() {
            let len = usize::try_from(cursor.position()).unwrap_or(0);
            if let Ok(value) = HeaderValue::from_bytes(&text[..len]) {
                headers.insert(name, value);
            }
        }
    };
    put(
        POLICY,
        format_args!("\"{NAME}\";q={};w={WINDOW_SECS}", budget.limit),
    );
    put(
        RATE_LIMIT,
        format_args!("\"{NAME}\";r={};t={}", budget.remaining, budget.reset_secs),
    );
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
