//! The quota gate: may we call VirusTotal now, and if not, how long until we may?
//!
//! [`QuotaGate`] is a small trait so a shared, Redis-backed gate can replace the in-process
//! [`LocalGate`] when several replicas share one key.

mod local;
mod waiters;
mod windows;

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

pub use local::{CountsObserver, LocalGate};
pub(crate) use waiters::Waiters;
pub use windows::{DayKey, MonthKey, next_day_reset, next_month_reset};

/// Who is asking for a slot, in the order slots are handed out when several wait: an
/// interactive caller's request, then a bulk caller's request, then a background fill.
///
/// Bulk requests and background fills also stop at the day's reserve
/// ([`Limits::reserve_interactive`]): the last calls of the day are kept for interactive
/// callers, who are the ones waiting for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// An interactive caller is waiting for the answer.
    Interactive,
    /// A bulk caller is waiting for the answer.
    Bulk,
    /// The deferred queue filling the cache.
    Background,
}

impl Priority {
    /// Whether this ask may not spend the day's reserve.
    pub fn keeps_off_reserve(self) -> bool {
        self != Priority::Interactive
    }

    /// Label value for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Interactive => "interactive",
            Priority::Bulk => "bulk",
            Priority::Background => "background",
        }
    }
}

/// Why no slot was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// The per-minute rate is used up until `retry_at`.
    Minute,
    /// The UTC day's budget is used up.
    Day,
    /// What is left of the UTC day is the reserve kept for interactive callers.
    Reserve,
    /// The UTC month's budget is used up.
    Month,
    /// VirusTotal answered 429 QuotaExceededError; we stay away until the block ends.
    Blocked,
    /// The gate is shutting down.
    Closed,
}

impl DenyReason {
    /// Label value for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::Minute => "minute",
            DenyReason::Day => "day",
            DenyReason::Reserve => "reserve",
            DenyReason::Month => "month",
            DenyReason::Blocked => "blocked",
            DenyReason::Closed => "closed",
        }
    }
}

/// No slot before the caller's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    /// Why.
    pub reason: DenyReason,
    /// When a slot may next be available (UTC).
    pub retry_at: DateTime<Utc>,
}

impl Denied {
    /// Whole seconds from `now` until `retry_at`, at least 1.
    pub fn retry_after_secs(&self, now: DateTime<Utc>) -> u64 {
        let ms = (self.retry_at - now).num_milliseconds().max(0) as u64;
        ms.div_ceil(1000).max(1)
    }
}

/// What VirusTotal told us about our standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamSignal {
    /// 429 QuotaExceededError: the day or month budget is spent on VirusTotal's side.
    QuotaExceeded,
    /// 429 TooManyRequestsError: slow down for a short while.
    TooManyRequests,
}

/// Usage of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowUsage {
    pub limit: u64,
    pub used: u64,
    /// When the window next frees capacity (minute: when the oldest call in it ages out).
    pub resets_at: DateTime<Utc>,
}

impl WindowUsage {
    /// `limit - used`, never negative.
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

/// Where the used counts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountSource {
    /// Counted by this process (a single node, or a replica deciding on its share while
    /// Redis is unreachable).
    Local,
    /// Read from the counters the fleet shares in Redis.
    Redis,
    /// Adopted from VirusTotal's `overall_quotas` (then counted locally on top).
    Synced {
        /// When the last successful sync happened.
        at: DateTime<Utc>,
    },
}

/// A point-in-time view of the gate, for `/v1/quota` and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaSnapshot {
    pub minute: WindowUsage,
    pub day: WindowUsage,
    pub month: WindowUsage,
    /// Set while VirusTotal blocks us (QuotaExceeded or TooManyRequests back-off).
    pub blocked_until: Option<DateTime<Utc>>,
    pub source: CountSource,
    /// Requests currently waiting for a slot (interactive and bulk callers').
    pub interactive_waiters: usize,
}

impl CountSource {
    /// The `counts_source` value of `/v1/quota`.
    pub fn as_str(self) -> &'static str {
        match self {
            CountSource::Local => "local",
            CountSource::Redis => "redis",
            CountSource::Synced { .. } => "virustotal",
        }
    }
}

/// The used counts that survive a restart: the day and month counts with the windows they
/// belong to, and the grant times of the last minute (so a crash loop cannot overrun the
/// per-minute rate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedCounts {
    pub day: DayKey,
    pub day_used: u64,
    pub month: MonthKey,
    pub month_used: u64,
    /// Grant times still in the minute window, oldest first.
    pub minute: Vec<DateTime<Utc>>,
}

/// A slot the gate granted, carrying what the gate needs to give it back.
///
/// Only a call that never reached VirusTotal (the connection never opened) is given back:
/// VirusTotal did not count it, so neither do we.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// When the slot was granted (the gate's clock).
    pub at: DateTime<Utc>,
    pub(crate) ticket: Ticket,
}

/// Where a grant was booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ticket {
    /// In a [`LocalGate`]'s own windows.
    Local,
    /// In the fleet's Redis windows: the minute-log member, on Redis's UTC date.
    Shared {
        member: String,
        date: chrono::NaiveDate,
    },
    /// In the Redis gate's offline share, owed to Redis as the spend at `at_ms` on `date`.
    Offline { at_ms: i64, date: chrono::NaiveDate },
}

impl Grant {
    /// A grant booked in a local gate's windows.
    pub(crate) fn local(at: DateTime<Utc>) -> Self {
        Self {
            at,
            ticket: Ticket::Local,
        }
    }
}

/// Used counts reported by VirusTotal for the key's user (`/users/{id}/overall_quotas`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncedUsage {
    pub day_used: u64,
    pub month_used: u64,
}

/// Decides when VirusTotal may be called. Every granted slot is counted as one upstream call.
pub trait QuotaGate: Send + Sync + 'static {
    /// Waits for a slot. Resolves `Err(Denied)` at once when no slot can come before `deadline`
    /// (`None` = wait as long as it takes, used by background fills).
    fn acquire(
        &self,
        priority: Priority,
        deadline: Option<DateTime<Utc>>,
    ) -> BoxFuture<'_, Result<Grant, Denied>>;

    /// Gives a slot back: its call never reached VirusTotal (the connection never opened),
    /// so it leaves the minute, day and month windows wherever they are kept. Never for a
    /// call that may have been sent (a timeout after connecting): VirusTotal may count it.
    fn refund(&self, grant: Grant) -> BoxFuture<'_, ()>;

    /// Records what VirusTotal said about our standing (sets a block).
    fn signal(&self, signal: UpstreamSignal);

    /// Adopts VirusTotal's own used counts when they exceed ours.
    fn adopt(&self, usage: SyncedUsage);

    /// The current state.
    fn snapshot(&self) -> QuotaSnapshot;
}

/// How long past 60 s both gates keep a grant in the minute window by default: VirusTotal
/// counts a call when it arrives, the gates when they grant it, and network jitter can bring
/// a later grant closer to an earlier one on arrival (`VTENRICH_VT_ARRIVAL_MARGIN`).
pub const DEFAULT_ARRIVAL_MARGIN: Duration = Duration::from_secs(1);

/// Limits of the VirusTotal key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_minute: u32,
    pub per_day: u64,
    pub per_month: u64,
    /// How long to stay away after 429 TooManyRequestsError.
    pub too_many_requests_backoff: Duration,
    /// The last calls of each UTC day that only interactive callers' requests may spend.
    pub reserve_interactive: u64,
}
