//! The one orchestrator: turns a batch of parsed observables into per-item outcomes, from the
//! cache or from one VirusTotal call per distinct new observable, under the quota gate.

mod builder;
mod deferred;
mod enricher;
mod fallback;
mod fetch;
mod flight;
mod outcome;
mod tiers;

pub use builder::EnricherBuilder;
pub use deferred::{Caller, DeferredQueue, Pushed};
pub use enricher::Enricher;
pub use outcome::{BatchResult, ItemError, ItemResult, Outcome, Source, Status};
pub use tiers::{FleetLock, LockOutcome, SecondTier};

use crate::observable::{InvalidObservable, Observable};

/// A caller's daily budget of VirusTotal calls (the RateLimit headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyBudget {
    /// Calls per UTC day: the caller's cap, else the key's daily quota.
    pub limit: u64,
    /// Calls left today.
    pub remaining: u64,
    /// Seconds until the next UTC midnight (at least 1).
    pub reset_secs: u64,
}

/// The item error code of a new observable refused because its caller's daily cap is spent.
pub const CALLER_QUOTA_EXCEEDED: &str = "caller_quota_exceeded";

/// One input entry as parsed at the edge.
#[derive(Debug, Clone)]
pub struct ParsedItem {
    /// The caller's text.
    pub input: String,
    /// The observable, or why it is not one.
    pub parsed: Result<Observable, InvalidObservable>,
}
