//! The one way to build an [`Enricher`]: the parts every engine needs up front, the limits and
//! the tiers behind the memory cache as settings with defaults.

use std::sync::Arc;
use std::time::Duration;

use super::deferred::DeferredQueue;
use super::enricher::Enricher;
use super::fetch::Fetcher;
use super::flight::Upstream;
use super::tiers::{FleetLock, SecondTier};
use crate::cache::Cache;
use crate::callers::ledger::CallerLedger;
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::observable::PrivateSuffixes;
use crate::quota::QuotaGate;
use crate::virustotal::VtClient;

/// Builds an [`Enricher`] from the parts every engine needs; unset limits take the
/// configuration's defaults.
pub struct EnricherBuilder {
    upstream: Upstream,
    call_timeout: Duration,
}

impl EnricherBuilder {
    /// Starts building an engine from the parts every one needs.
    pub fn new(
        cache: Cache,
        gate: Arc<dyn QuotaGate>,
        ledger: Arc<dyn CallerLedger>,
        client: VtClient,
        clock: SharedClock,
        metrics: Metrics,
    ) -> Self {
        Self {
            upstream: Upstream {
                deferred: DeferredQueue::new(10_000, metrics.clone()),
                fetcher: Fetcher {
                    cache,
                    gate,
                    ledger,
                    gate_reserve: 0,
                    client,
                    clock,
                    metrics,
                    max_retries: 2,
                    tier: None,
                    call_budget: Duration::ZERO,
                    calls_in_flight: tokio::sync::Semaphore::new(8),
                    unsettled: Default::default(),
                    calling: Default::default(),
                },
                lock: None,
                private: PrivateSuffixes::default(),
                flights: Default::default(),
            },
            call_timeout: Duration::from_secs(15),
        }
    }

    /// Longest a single upstream call can take (its request timeout), and how often a failed
    /// one is retried. Joiners of a flight wait for the call itself, not only for the slot.
    pub fn calls(mut self, call_timeout: Duration, max_retries: u32) -> Self {
        self.call_timeout = call_timeout;
        self.upstream.fetcher.max_retries = max_retries;
        self
    }

    /// Most VirusTotal calls in flight at once.
    pub fn max_concurrent_upstream(mut self, calls: usize) -> Self {
        self.upstream.fetcher.calls_in_flight = tokio::sync::Semaphore::new(calls.max(1));
        self
    }

    /// How many observables may wait for a background fill.
    pub fn deferred_capacity(mut self, capacity: usize) -> Self {
        self.upstream.deferred =
            DeferredQueue::new(capacity, self.upstream.fetcher.metrics.clone());
        self
    }

    /// The last calls of each UTC day kept for interactive callers (the gate enforces it; the
    /// budget a bulk caller is shown leaves it out).
    pub fn reserve_interactive(mut self, calls: u64) -> Self {
        self.upstream.fetcher.gate_reserve = calls;
        self
    }

    /// The durable (embedded) or shared (Redis) tier behind the memory cache.
    pub fn second_tier(mut self, tier: Option<Arc<dyn SecondTier>>) -> Self {
        self.upstream.fetcher.tier = tier;
        self
    }

    /// The fleet-wide fetch lock (Redis only).
    pub fn fleet_lock(mut self, lock: Option<Arc<dyn FleetLock>>) -> Self {
        self.upstream.lock = lock;
        self
    }

    /// The operator's own namespaces (`private_suffixes`): names under them, and URLs whose
    /// host is under them, are answered `not_routable` and never sent to VirusTotal.
    pub fn private_suffixes(mut self, suffixes: PrivateSuffixes) -> Self {
        self.upstream.private = suffixes;
        self
    }

    /// The engine (its background filler is started with [`Enricher::spawn_filler`]).
    pub fn build(mut self) -> Enricher {
        self.upstream.fetcher.call_budget =
            call_budget(self.call_timeout, self.upstream.fetcher.max_retries);
        Enricher::from_upstream(self.upstream)
    }
}

/// Longest one observable's call takes with its retries (plus a margin for the write-through):
/// bounds fleet-lock lifetimes and how long a joiner waits for a call under way.
fn call_budget(call_timeout: Duration, max_retries: u32) -> Duration {
    call_timeout.saturating_mul(max_retries.saturating_add(1)) + Duration::from_secs(2)
}
