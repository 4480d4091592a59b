//! The one orchestrator: turns a batch of parsed observables into per-item outcomes, from the
//! cache or from one VirusTotal call per distinct new observable, under the quota gate.

mod deferred;
mod fetch;
mod flight;
mod outcome;
mod tiers;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

pub use deferred::{Caller, DeferredQueue, Pushed};
pub use outcome::{BatchResult, ItemError, ItemResult, Outcome, Source, Status};
pub use tiers::{FleetLock, LockOutcome, SecondTier};

use crate::cache::{Cache, Entry, Lookup};
use crate::caller::CallerPriority;
use crate::callers::ledger::{CallerLedger, CapSpent};
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::observable::{InvalidObservable, NOT_SERVED_YET, Observable, special_purpose};
use crate::quota::{Denied, Priority, QuotaGate, QuotaSnapshot};
use crate::virustotal::{VtClient, VtError};
use flight::{FlightEnd, FlightResult, Join, Upstream};

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

/// How long past its deadline a caller waits on another request's flight.
const JOIN_GRACE: Duration = Duration::from_millis(500);

/// One input entry as parsed at the edge.
#[derive(Debug, Clone)]
pub struct ParsedItem {
    /// The caller's text.
    pub input: String,
    /// The observable, or why it is not one.
    pub parsed: Result<Observable, InvalidObservable>,
}

/// The parts an [`Enricher`] is built from.
pub struct EnricherParts {
    pub cache: Cache,
    pub gate: Arc<dyn QuotaGate>,
    /// Charges callers for the calls they start, within their daily caps.
    pub ledger: Arc<dyn CallerLedger>,
    pub client: VtClient,
    pub clock: SharedClock,
    pub metrics: Metrics,
    pub deferred_capacity: usize,
    pub max_retries: u32,
    /// Longest a single upstream call can take (request timeout), so joiners of a flight wait
    /// for the call itself, not only for the quota slot.
    pub call_timeout: Duration,
    /// Most VirusTotal calls in flight at once.
    pub max_concurrent_upstream: usize,
    /// The last calls of each UTC day kept for interactive callers (the gate enforces it;
    /// the budget a bulk caller is shown leaves it out).
    pub reserve_interactive: u64,
    /// The durable (embedded) or shared (Redis) tier behind the memory cache.
    pub tier: Option<Arc<dyn SecondTier>>,
    /// The fleet-wide fetch lock (Redis only).
    pub lock: Option<Arc<dyn FleetLock>>,
}

/// Enriches batches; cheap to clone.
#[derive(Clone)]
pub struct Enricher {
    upstream: Arc<Upstream>,
    call_budget: chrono::Duration,
}

impl Enricher {
    /// Builds the enricher (the background filler is started with [`Enricher::spawn_filler`]).
    pub fn new(parts: EnricherParts) -> Self {
        let deferred = DeferredQueue::new(parts.deferred_capacity, parts.metrics.clone());
        let attempts = i32::try_from(parts.max_retries + 1).unwrap_or(i32::MAX);
        let call_budget = chrono::Duration::from_std(parts.call_timeout)
            .unwrap_or(chrono::Duration::seconds(60))
            * attempts
            + chrono::Duration::seconds(2);
        Self {
            upstream: Arc::new(Upstream {
                cache: parts.cache,
                gate: parts.gate,
                ledger: parts.ledger,
                gate_reserve: parts.reserve_interactive,
                client: parts.client,
                clock: parts.clock,
                metrics: parts.metrics,
                deferred,
                max_retries: parts.max_retries,
                tier: parts.tier,
                lock: parts.lock,
                call_budget,
                calls_in_flight: tokio::sync::Semaphore::new(parts.max_concurrent_upstream.max(1)),
                unsettled: Default::default(),
                calling: Default::default(),
                flights: Default::default(),
            }),
            call_budget,
        }
    }

    /// Enriches a batch for `caller`, waiting at most `wait` for quota slots. Results keep
    /// input order; duplicates share one lookup. Deferred items count against `caller`'s
    /// share of the deferred queue.
    pub async fn enrich(
        &self,
        caller: Caller,
        items: Vec<ParsedItem>,
        wait: Duration,
    ) -> BatchResult {
        let up = &self.upstream;
        let now = up.clock.now();
        let deadline = now + chrono::Duration::from_std(wait).unwrap_or_default();
        up.metrics.batch_size.observe(items.len() as f64);

        // Decide what we can without the network; collect distinct addresses that need it.
        let mut decided: HashMap<IpAddr, Outcome> = HashMap::new();
        let mut seen: HashSet<IpAddr> = HashSet::new();
        let mut pending: Vec<(IpAddr, Option<Arc<Entry>>)> = Vec::new();
        for item in &items {
            let Ok(Observable::Ip(ip)) = item.parsed else {
                continue;
            };
            if !seen.insert(ip) {
                continue;
            }
            let outcome = if let Some(range) = special_purpose(ip) {
                Outcome::NotRoutable(range)
            } else {
                match up.cache.lookup(&ip) {
                    Lookup::Fresh(entry) => Outcome::Answered {
                        entry,
                        source: Source::Cache,
                        stale: false,
                        reason: None,
                    },
                    Lookup::Stale(entry) => {
                        pending.push((ip, Some(entry)));
                        continue;
                    }
                    Lookup::Miss => {
                        pending.push((ip, None));
                        continue;
                    }
                }
            };
            decided.insert(ip, outcome);
        }

        let pending = self.consult_tier(pending, &mut decided).await;
        let caller = &caller;
        let lookups = pending.into_iter().map(|(ip, stale)| async move {
            (ip, self.resolve(ip, stale, deadline, caller).await)
        });
        let mut upstream_calls = 0;
        for (ip, (outcome, calls)) in futures::future::join_all(lookups).await {
            upstream_calls += calls;
            decided.insert(ip, outcome);
        }

        let items: Vec<ItemResult> = items
            .into_iter()
            .map(|item| {
                let outcome = match &item.parsed {
                    Ok(Observable::Ip(ip)) => decided[ip].clone(),
                    Ok(_) => Outcome::Invalid(NOT_SERVED_YET),
                    Err(invalid) => Outcome::Invalid(invalid.clone()),
                };
                ItemResult {
                    input: item.input,
                    observable: item.parsed.ok(),
                    outcome,
                }
            })
            .collect();
        for item in &items {
            let source = item.outcome.source().map_or("none", Source::as_str);
            up.metrics
                .observables
                .with_label_values(&[item.outcome.status().as_str(), source])
                .inc();
        }
        BatchResult {
            items,
            upstream_calls,
        }
    }

    /// Looks the memory misses up in the second tier with one read; fresh entries are copied
    /// into memory and answered, the rest stay pending (with a stale fallback if one exists).
    async fn consult_tier(
        &self,
        pending: Vec<(IpAddr, Option<Arc<Entry>>)>,
        decided: &mut HashMap<IpAddr, Outcome>,
    ) -> Vec<(IpAddr, Option<Arc<Entry>>)> {
        let up = &self.upstream;
        let Some(tier) = &up.tier else {
            return pending;
        };
        if pending.is_empty() {
            return pending;
        }
        let ips: Vec<IpAddr> = pending.iter().map(|(ip, _)| *ip).collect();
        let found = tier.get_many(&ips).await;
        let now = up.clock.now();
        let mut still = Vec::with_capacity(pending.len());
        for ((ip, memory_stale), stored) in pending.into_iter().zip(found) {
            match stored {
                Some(entry) if now < entry.fresh_until => {
                    let entry = Arc::new(entry);
                    up.cache.restore(ip, entry.clone());
                    decided.insert(ip, answered(entry, Source::Cache));
                }
                Some(entry) if now < entry.stale_until => {
                    let newer = match memory_stale {
                        Some(m) if m.fetched_at >= entry.fetched_at => m,
                        _ => Arc::new(entry),
                    };
                    still.push((ip, Some(newer)));
                }
                _ => still.push((ip, memory_stale)),
            }
        }
        still
    }

    /// Gets the answer for one address that missed the fresh cache.
    async fn resolve(
        &self,
        ip: IpAddr,
        stale: Option<Arc<Entry>>,
        deadline: DateTime<Utc>,
        caller: &Caller,
    ) -> (Outcome, u32) {
        let up = &self.upstream;
        let priority = match caller.profile().priority {
            CallerPriority::Interactive => Priority::Interactive,
            CallerPriority::Bulk => Priority::Bulk,
        };
        let mut rejoined = false;
        let (result, leader) = loop {
            let (result, leader) = match up.join_or_start(ip, priority, Some(deadline), caller) {
                Join::Cached(entry) => return (answered(entry, Source::Cache), 0),
                Join::Started(flight) => (Some(flight.await), true),
                Join::Joined(mut flight) => {
                    // The wait bounds the time for a slot, not for a call under way: wait until
                    // our deadline (plus a little), then longer only if the call has started.
                    // The flight may be a background fill that waits for its slot unbounded.
                    let first =
                        (deadline - up.clock.now()).to_std().unwrap_or_default() + JOIN_GRACE;
                    let result = match tokio::time::timeout(first, &mut flight).await {
                        Ok(result) => Some(result),
                        Err(_) if up.is_calling(&ip) => {
                            let call = self.call_budget.to_std().unwrap_or_default();
                            tokio::time::timeout(call, flight).await.ok()
                        }
                        Err(_) => None,
                    };
                    (result, false)
                }
            };
            // A joined flight that stopped at its starter's cap says nothing about ours: ask
            // once more, as ourselves (that flight has left the map, so this starts our own).
            let refused = matches!(&result, Some(r) if matches!(r.end, FlightEnd::Refused(_)));
            if refused && !leader && !rejoined {
                rejoined = true;
                continue;
            }
            break (result, leader);
        };
        let Some(FlightResult { end, calls }) = result else {
            let denied = Denied {
                reason: crate::quota::DenyReason::Minute,
                retry_at: earliest_slot(&up.gate.snapshot(), up.clock.now()),
            };
            return (self.fallback(ip, stale, Fallback::Deferred(denied)), 0);
        };
        let calls = if leader { calls } else { 0 };
        let outcome = match end {
            FlightEnd::Answered(entry) => answered(entry, Source::VirusTotal),
            FlightEnd::Deferred(denied) => self.fallback(ip, stale, Fallback::Deferred(denied)),
            FlightEnd::Failed(err) => self.fallback(ip, stale, Fallback::Failed(err)),
            FlightEnd::Refused(spent) => self.fallback(ip, stale, Fallback::Refused(spent)),
        };
        (outcome, calls)
    }

    /// Serves a stale entry when there is one, else reports the deferral or failure.
    fn fallback(&self, ip: IpAddr, stale: Option<Arc<Entry>>, why: Fallback) -> Outcome {
        let now = self.upstream.clock.now();
        let (error, retry_after_secs) = match &why {
            Fallback::Deferred(denied) => {
                // A full queue drops the fill (counted and logged); the caller must know that
                // asking again later is then the only way to get the answer.
                let fill = if self.upstream.deferred.contains(&ip) {
                    "queued for a background fill; ask again after retry_after_secs"
                } else {
                    "the background queue is full and this caller already holds its share of \
                     it, so it will not be filled on its own; ask again after retry_after_secs"
                };
                let message = if denied.reason == crate::quota::DenyReason::Reserve {
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
                        reason: crate::quota::DenyReason::Day,
                        retry_at: spent.retry_at,
                    }
                    .retry_after_secs(now),
                ),
            ),
        };
        if let Some(entry) = stale {
            self.upstream.cache.record_stale_hit();
            return Outcome::Answered {
                entry,
                source: Source::Cache,
                stale: true,
                reason: Some(error),
            };
        }
        match why {
            Fallback::Deferred(_) => Outcome::Deferred {
                error,
                retry_after_secs: retry_after_secs.unwrap_or(1),
            },
            Fallback::Failed(_) | Fallback::Refused(_) => Outcome::Error {
                error,
                retry_after_secs,
            },
        }
    }

    /// Runs the background filler until `cancel` fires: deferred addresses are fetched one by
    /// one as quota frees up, always after waiting requests.
    pub fn spawn_filler(&self, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        let up = Arc::clone(&self.upstream);
        tokio::spawn(async move {
            loop {
                let (ip, caller) = tokio::select! {
                    _ = cancel.cancelled() => return,
                    taken = up.deferred.pop() => taken,
                };
                let flight = match up.join_or_start(ip, Priority::Background, None, &caller) {
                    Join::Cached(_) => None,
                    Join::Joined(flight) | Join::Started(flight) => Some(flight),
                };
                if let Some(flight) = flight {
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = flight => {}
                    }
                }
                up.deferred.finish(ip);
            }
        })
    }

    /// Waits (at most `limit`) until every VirusTotal call already made has been written to
    /// the cache and second tier. Called on shutdown after the listener closed.
    pub async fn settle(&self, limit: Duration) {
        let until = tokio::time::Instant::now() + limit;
        while self
            .upstream
            .unsettled
            .load(std::sync::atomic::Ordering::SeqCst)
            > 0
        {
            if tokio::time::Instant::now() >= until {
                tracing::warn!("shutting down with VirusTotal calls still in flight");
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Drops `ips` from every tier (memory, the durable store or Redis), so the next lookup
    /// asks VirusTotal. Returns, per address, whether any tier held it; an error when the
    /// second tier could not delete (memory is purged regardless).
    pub async fn purge(&self, ips: &[IpAddr]) -> anyhow::Result<Vec<bool>> {
        let up = &self.upstream;
        let mut held: Vec<bool> = ips.iter().map(|ip| up.cache.remove(ip)).collect();
        if let Some(tier) = &up.tier {
            let stored = tier.get_many(ips).await;
            tier.remove(ips).await?;
            for (held, stored) in held.iter_mut().zip(stored) {
                *held |= stored.is_some();
            }
        }
        Ok(held)
    }

    /// The quota gate's current state.
    pub fn quota(&self) -> QuotaSnapshot {
        let snapshot = self.upstream.gate.snapshot();
        self.upstream.metrics.observe_quota(&snapshot);
        snapshot
    }

    /// `caller`'s budget of VirusTotal calls for the rest of the UTC day: its cap and what is
    /// left of it (never more than the key's own day has left), or, for a caller without a
    /// cap, the key's daily quota and what is left of it (less the interactive reserve for a
    /// bulk caller, which cannot spend it).
    pub fn budget(&self, caller: &Caller) -> DailyBudget {
        let up = &self.upstream;
        let now = up.clock.now();
        let day = up.gate.snapshot().day;
        let mut left = day.remaining();
        if caller.profile().priority == CallerPriority::Bulk {
            left = left.saturating_sub(up.gate_reserve);
        }
        let (limit, remaining) = match caller.profile().daily_cap {
            Some(cap) => {
                let used = up.ledger.used_today(caller.id());
                (cap, cap.saturating_sub(used).min(left))
            }
            None => (day.limit, left),
        };
        let reset = crate::quota::next_day_reset(now);
        DailyBudget {
            limit,
            remaining,
            reset_secs: u64::try_from((reset - now).num_seconds())
                .unwrap_or(0)
                .max(1),
        }
    }

    /// Observables waiting for a background fill.
    pub fn deferred_depth(&self) -> usize {
        self.upstream.deferred.depth()
    }

    /// The clock the enricher runs on.
    pub fn clock(&self) -> &SharedClock {
        &self.upstream.clock
    }

    /// The answer cache.
    pub fn cache(&self) -> &Cache {
        &self.upstream.cache
    }
}

enum Fallback {
    Deferred(Denied),
    Failed(VtError),
    Refused(CapSpent),
}

fn answered(entry: Arc<Entry>, source: Source) -> Outcome {
    Outcome::Answered {
        entry,
        source,
        stale: false,
        reason: None,
    }
}

/// A best estimate of when the gate next grants a slot, for callers that gave up waiting.
fn earliest_slot(snapshot: &QuotaSnapshot, now: DateTime<Utc>) -> DateTime<Utc> {
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
