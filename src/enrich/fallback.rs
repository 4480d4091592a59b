//! What an item gets when no fresh answer came: the stale entry with the reason, else the
//! deferral, refusal or failure itself, each with when to ask again.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::CALLER_QUOTA_EXCEEDED;
use super::outcome::{ItemError, Outcome, Source};
use crate::answer::Entry;
use crate::callers::ledger::CapSpent;
use crate::quota::{Denied, DenyReason, QuotaSnapshot};
use crate::virustotal::VtError;

/// Why no fresh answer came.
pub(super) enum Fallback {
    /// No quota slot in time.
    Deferred(Denied),
    /// The call failed.
    Failed(VtError),
    /// The caller's daily cap is spent.
    Refused(CapSpent),
}

impl Fallback {
    /// The item's outcome at `now`: `stale` served with the reason when there is one, else
    /// the reason itself. `queued` says whether a background fill is queued for it.
    pub(super) fn outcome(
        self,
        stale: Option<Arc<Entry>>,
        now: DateTime<Utc>,
        queued: bool,
    ) -> Outcome {
        let (error, retry_after_secs) = self.error(now, queued);
        if let Some(entry) = stale {
            return Outcome::Answered {
                entry,
                source: Source::Cache,
                stale: true,
                reason: Some(error),
            };
        }
        match self {
            Fallback::Deferred(denied) => Outcome::Deferred {
                error,
                retry_after_secs: retry_after_secs.unwrap_or(1),
                reason: denied.reason,
            },
            Fallback::Failed(_) | Fallback::Refused(_) => Outcome::Error {
                error,
                retry_after_secs,
            },
        }
    }

    /// The item error and, when known, the seconds until asking again makes sense.
    fn error(&self, now: DateTime<Utc>, queued: bool) -> (ItemError, Option<u64>) {
        match self {
            Fallback::Deferred(denied) => {
                // A full queue drops the fill (counted and logged); the caller must know that
                // asking again later is then the only way to get the answer.
                let fill = if queued {
                    "queued for a background fill; ask again after retry_after_secs"
                } else {
                    "the background queue is full and this caller already holds its share of \
                     it, so it will not be filled on its own; ask again after retry_after_secs"
                };
                let message = if denied.reason == DenyReason::Reserve {
                    format!(
                        "the rest of the day's VirusTotal quota is kept for interactive callers \
                         (reserve_interactive); {fill}"
                    )
                } else {
                    format!(
                        "no VirusTotal quota slot within the wait ({} limit); {fill}",
                        denied.reason.as_str()
                    )
                };
                (
                    ItemError {
                        code: "quota_wait_exceeded",
                        message,
                    },
                    Some(denied.retry_after_secs(now)),
                )
            }
            Fallback::Failed(err) => (
                ItemError {
                    code: err.api_code(),
                    message: err.to_string(),
                },
                match err {
                    VtError::TooManyRequests { retry_after } => {
                        retry_after.map(|d| d.as_secs().max(1))
                    }
                    _ => None,
                },
            ),
            Fallback::Refused(spent) => (
                ItemError {
                    code: CALLER_QUOTA_EXCEEDED,
                    message: format!(
                        "this caller's daily cap of {} VirusTotal calls is spent; cached answers \
                         still come, new observables after the next UTC midnight \
                         (retry_after_secs)",
                        spent.cap
                    ),
                },
                Some(
                    Denied {
                        reason: DenyReason::Day,
                        retry_at: spent.retry_at,
                    }
                    .retry_after_secs(now),
                ),
            ),
        }
    }
}

/// A best estimate of when the gate next grants a slot, for callers that gave up waiting.
pub(super) fn earliest_slot(snapshot: &QuotaSnapshot, now: DateTime<Utc>) -> DateTime<Utc> {
    let mut at = now;
    if let Some(blocked) = snapshot.blocked_until {
        at = at.max(blocked);
    }
    for window in [&snapshot.minute, &snapshot.day, &snapshot.month] {
        if window.remaining() == 0 {
            at = at.max(window.resets_at);
        }
    }
    at
}
