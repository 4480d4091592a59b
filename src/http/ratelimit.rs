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

/// Adds the two headers for `budget`.
pub fn add(headers: &mut HeaderMap, budget: DailyBudget) {
    let policy = format!("\"{NAME}\";q={};w={WINDOW_SECS}", budget.limit);
    let limit = format!("\"{NAME}\";r={};t={}", budget.remaining, budget.reset_secs);
    for (name, value) in [(POLICY, policy), (RATE_LIMIT, limit)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
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
