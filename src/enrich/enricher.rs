//! The engine's face: [`Enricher`] answers a batch from memory, the second tier, or one flight
//! per distinct new observable, and serves the budget, purge and shutdown around it.
//!
//! Over 300 lines with a reason: this is one type's `impl`, the batch path read top to bottom;
//! the upstream half is already its own types ([`super::flight::Upstream`],
//! [`super::fetch::Fetcher`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::deferred::Caller;
use super::fallback::{Fallback, earliest_slot};
use super::flight::Upstream;
use super::flight::{FlightEnd, FlightResult, Join};
use super::outcome::{BatchResult, ItemResult, Outcome, Source, Status};
use super::{DailyBudget, ParsedItem};
use crate::answer::Entry as CachedEntry;
use crate::cache::{Cache, Lookup};
use crate::caller::CallerPriority;
use crate::clock::SharedClock;
use crate::observable::{Observable, not_routable};
use crate::quota::{Denied, DenyReason, Priority, QuotaSnapshot};

/// How long past its deadline a caller waits on another request's flight.
const JOIN_GRACE: Duration = Duration::from_millis(500);

/// Enriches batches; cheap to clone. Built with [`EnricherBuilder`].
#[derive(Clone)]
pub struct Enricher {
    upstream: Arc<Upstream>,
}

impl Enricher {
    /// Wraps a built engine (see [`super::EnricherBuilder::build`]).
    pub(super) fn from_upstream(upstream: Upstream) -> Self {
        Self {
            upstream: Arc::new(upstream),
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
        let deadline = up.fetcher.clock.instant() + wait;
        up.fetcher.metrics.batch_size.observe(items.len() as f64);

        // Decide what we can without the network, by item index: each distinct observable is
        // decided at its first item, and later items with the same observable point there (no
        // observable is cloned or hashed twice; a batch of one hashes nothing but its cache key).
        let count = items.len();
        let mut outcomes: Vec<Option<Outcome>> = (0..count).map(|_| None).collect();
        let mut first_of: Vec<usize> = (0..count).collect();
        // Whether later items share the item's outcome (then it is cloned, else moved).
        let mut shared = vec![false; count];
        let mut first_seen: HashMap<&Observable, usize, foldhash::quality::RandomState> =
            HashMap::with_capacity_and_hasher(
                if count > 1 { count } else { 0 },
                Default::default(),
            );
        let mut pending: Vec<(usize, Option<Arc<CachedEntry>>)> = Vec::new();
        let now = up.fetcher.clock.now();
        for (i, item) in items.iter().enumerate() {
            let Ok(observable) = &item.parsed else {
                continue;
            };
            if count > 1 {
                match first_seen.entry(observable) {
                    Entry::Occupied(first) => {
                        first_of[i] = *first.get();
                        shared[*first.get()] = true;
                        continue;
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(i);
                    }
                }
            }
            outcomes[i] = Some(if let Some(why) = not_routable(observable, &up.private) {
                Outcome::NotRoutable(why)
            } else {
                match up.fetcher.cache.lookup_at(observable, now) {
                    Lookup::Fresh(entry) => Outcome::Answered {
                        entry,
                        source: Source::Cache,
                        stale: false,
                        reason: None,
                    },
                    Lookup::Stale(entry) => {
                        pending.push((i, Some(entry)));
                        continue;
                    }
                    Lookup::Miss => {
                        pending.push((i, None));
                        continue;
                    }
                }
            });
        }
        drop(first_seen);

        let observable_of = |i: usize| items[i].parsed.as_ref().ok();
        let pending = self
            .consult_tier(pending, &observable_of, &mut outcomes)
            .await;
        let caller = &caller;
        let lookups = pending.into_iter().filter_map(|(i, stale)| {
            let observable = observable_of(i)?;
            Some(async move {
                let outcome = self.resolve(observable, stale, deadline, caller).await;
                (i, outcome)
            })
        });
        let mut upstream_calls = 0;
        for (i, (outcome, calls)) in futures::future::join_all(lookups).await {
            upstream_calls += calls;
            outcomes[i] = Some(outcome);
        }

        let results: Vec<ItemResult> = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let outcome = match &item.parsed {
                    // The first item of an observable gives its outcome to later ones.
                    Ok(_) if first_of[i] == i && !shared[i] => outcomes[i].take(),
                    Ok(_) => outcomes[first_of[i]].clone(),
                    Err(invalid) => Some(Outcome::Invalid(invalid.clone())),
                }
                .expect("every observable's first item was decided");
                ItemResult {
                    input: item.input,
                    observable: item.parsed.ok(),
                    outcome,
                }
            })
            .collect();
        count_observables(&up.fetcher.metrics, &results);
        BatchResult {
            items: results,
            upstream_calls,
        }
    }

    /// Looks the memory misses up in the second tier with one read; fresh entries are copied
    /// into memory and answered, the rest stay pending (with a stale fallback if one exists).
    async fn consult_tier<'a>(
        &self,
        pending: Vec<(usize, Option<Arc<CachedEntry>>)>,
        observable_of: &impl Fn(usize) -> Option<&'a Observable>,
        outcomes: &mut [Option<Outcome>],
    ) -> Vec<(usize, Option<Arc<CachedEntry>>)> {
        let up = &self.upstream;
        let Some(tier) = &up.fetcher.tier else {
            return pending;
        };
        if pending.is_empty() {
            return pending;
        }
        let observables: Vec<Observable> = pending
            .iter()
            .filter_map(|(i, _)| observable_of(*i).cloned())
            .collect();
        let found = tier.get_many(&observables).await;
        let now = up.fetcher.clock.now();
        let mut still = Vec::with_capacity(pending.len());
        for (((i, memory_stale), observable), stored) in
            pending.into_iter().zip(observables).zip(found)
        {
            match stored {
                Some(entry) if now < entry.fresh_until => {
                    let entry = Arc::new(entry);
                    up.fetcher.cache.restore(observable, entry.clone());
                    outcomes[i] = Some(Outcome::answered(entry, Source::Cache));
                }
                Some(entry) if now < entry.stale_until => {
                    let newer = match memory_stale {
                        Some(m) if m.fetched_at >= entry.fetched_at => m,
                        _ => Arc::new(entry),
                    };
                    still.push((i, Some(newer)));
                }
                _ => still.push((i, memory_stale)),
            }
        }
        still
    }

    /// Gets the answer for one observable that missed the fresh cache.
    async fn resolve(
        &self,
        observable: &Observable,
        stale: Option<Arc<CachedEntry>>,
        deadline: Instant,
        caller: &Caller,
    ) -> (Outcome, u32) {
        let up = &self.upstream;
        let priority = match caller.profile().priority {
            CallerPriority::Interactive => Priority::Interactive,
            CallerPriority::Bulk => Priority::Bulk,
        };
        let mut rejoined = false;
        let (result, leader) = loop {
            let (result, leader) =
                match up.join_or_start(observable, priority, Some(deadline), caller) {
                    Join::Cached(entry) => return (Outcome::answered(entry, Source::Cache), 0),
                    Join::Started(flight) => (Some(flight.await), true),
                    Join::Joined(mut flight) => {
                        // The wait bounds the time for a slot, not for a call under way: wait until
                        // our deadline (plus a little), then longer only if the call has started.
                        // The flight may be a background fill that waits for its slot unbounded.
                        let first = up.fetcher.until(Some(deadline)) + JOIN_GRACE;
                        let result = match tokio::time::timeout(first, &mut flight).await {
                            Ok(result) => Some(result),
                            Err(_) if up.is_calling(observable) => {
                                tokio::time::timeout(up.fetcher.call_budget, flight)
                                    .await
                                    .ok()
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
                reason: DenyReason::Minute,
                retry_at: earliest_slot(&up.fetcher.gate.snapshot(), up.fetcher.clock.now()),
            };
            return (
                self.fallback(observable, stale, Fallback::Deferred(denied)),
                0,
            );
        };
        let calls = if leader { calls } else { 0 };
        let outcome = match end {
            FlightEnd::Answered(entry) => Outcome::answered(entry, Source::VirusTotal),
            FlightEnd::Deferred(denied) => {
                self.fallback(observable, stale, Fallback::Deferred(denied))
            }
            FlightEnd::Failed(err) => self.fallback(observable, stale, Fallback::Failed(err)),
            FlightEnd::Refused(spent) => self.fallback(observable, stale, Fallback::Refused(spent)),
        };
        (outcome, calls)
    }

    /// Serves a stale entry when there is one, else reports the deferral or failure.
    fn fallback(
        &self,
        observable: &Observable,
        stale: Option<Arc<CachedEntry>>,
        why: Fallback,
    ) -> Outcome {
        let up = &self.upstream;
        if stale.is_some() {
            up.fetcher.cache.record_stale_hit();
        }
        let queued = matches!(why, Fallback::Deferred(_)) && up.deferred.contains(observable);
        why.outcome(stale, up.fetcher.clock.now(), queued)
    }

    /// Runs the background filler until `cancel` fires: deferred addresses are fetched one by
    /// one as quota frees up, always after waiting requests.
    pub fn spawn_filler(&self, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        let up = Arc::clone(&self.upstream);
        tokio::spawn(async move {
            loop {
                let (observable, caller) = tokio::select! {
                    _ = cancel.cancelled() => return,
                    taken = up.deferred.pop() => taken,
                };
                let flight =
                    match up.join_or_start(&observable, Priority::Background, None, &caller) {
                        Join::Cached(_) => None,
                        Join::Joined(flight) | Join::Started(flight) => Some(flight),
                    };
                if let Some(flight) = flight {
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = flight => {}
                    }
                }
                up.deferred.finish(&observable);
            }
        })
    }

    /// Waits (at most `limit`) until every VirusTotal call already made has been written to
    /// the cache and second tier. Called on shutdown after the listener closed.
    pub async fn settle(&self, limit: Duration) {
        let clock = &self.upstream.fetcher.clock;
        let until = clock.instant() + limit;
        while self.upstream.fetcher.unsettled.load(Ordering::SeqCst) > 0 {
            if clock.instant() >= until {
                tracing::warn!("shutting down with VirusTotal calls still in flight");
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Drops `observables` from every tier (memory, the durable store or Redis), so the next lookup
    /// asks VirusTotal. Returns, per address, whether any tier held it; an error when the
    /// second tier could not delete (memory is purged regardless).
    pub async fn purge(&self, observables: &[Observable]) -> anyhow::Result<Vec<bool>> {
        let up = &self.upstream;
        let mut held: Vec<bool> = observables
            .iter()
            .map(|observable| up.fetcher.cache.remove(observable))
            .collect();
        if let Some(tier) = &up.fetcher.tier {
            let stored = tier.get_many(observables).await;
            tier.remove(observables).await?;
            for (held, stored) in held.iter_mut().zip(stored) {
                *held |= stored.is_some();
            }
        }
        Ok(held)
    }

    /// The quota gate's current state.
    pub fn quota(&self) -> QuotaSnapshot {
        let snapshot = self.upstream.fetcher.gate.snapshot();
        self.upstream.fetcher.metrics.observe_quota(&snapshot);
        snapshot
    }

    /// `caller`'s budget of VirusTotal calls for the rest of the UTC day: its cap and what is
    /// left of it (never more than the key's own day has left), or, for a caller without a
    /// cap, the key's daily quota and what is left of it (less the interactive reserve for a
    /// bulk caller, which cannot spend it).
    pub fn budget(&self, caller: &Caller) -> DailyBudget {
        let up = &self.upstream;
        let now = up.fetcher.clock.now();
        let day = up.fetcher.gate.snapshot().day;
        let mut left = day.remaining();
        if caller.profile().priority == CallerPriority::Bulk {
            left = left.saturating_sub(up.fetcher.gate_reserve);
        }
        let (limit, remaining) = match caller.profile().daily_cap {
            Some(cap) => {
                let used = up.fetcher.ledger.used_today(caller.id());
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
        &self.upstream.fetcher.clock
    }

    /// The answer cache.
    pub fn cache(&self) -> &Cache {
        &self.upstream.fetcher.cache
    }
}

/// Counts a batch's items in `observables_total{type,status,source}`: tallied per slot first,
/// so a batch adds to each child once.
fn count_observables(metrics: &crate::metrics::Metrics, items: &[ItemResult]) {
    use crate::metrics::{Resolved, labels};
    use crate::observable::ObservableType;
    let mut tally = [0u64; Resolved::OBSERVABLE_SLOTS];
    for item in items {
        let kind = match item.observable.as_ref().map(Observable::kind) {
            Some(ObservableType::Ip) => 0,
            Some(ObservableType::Domain) => 1,
            Some(ObservableType::Url) => 2,
            Some(ObservableType::File) => 3,
            None => labels::OBSERVABLE_TYPES.len(),
        };
        // The order of `labels::OBSERVABLE_OUTCOMES`.
        let outcome = match (item.outcome.status(), item.outcome.source()) {
            (Status::Ok, Some(Source::Cache)) => Some(0),
            (Status::Ok, Some(Source::VirusTotal)) => Some(1),
            (Status::NotFound, Some(Source::Cache)) => Some(2),
            (Status::NotFound, Some(Source::VirusTotal)) => Some(3),
            (Status::NotRoutable, Some(Source::Local)) => Some(4),
            (Status::Invalid, Some(Source::Local)) => Some(5),
            (Status::Deferred, None) => Some(6),
            (Status::Error, Some(Source::VirusTotal)) => Some(7),
            _ => None,
        };
        match outcome.map(|outcome| Resolved::observable_index(kind, outcome)) {
            Some(slot) if metrics.resolved.observables(slot).is_some() => tally[slot] += 1,
            // Outside the closed set: counted by its labels, as before.
            _ => metrics
                .observables
                .with_label_values(&[
                    item.observable
                        .as_ref()
                        .map_or(labels::UNKNOWN_TYPE, |o| o.kind().as_str()),
                    item.outcome.status().as_str(),
                    item.outcome.source().map_or("none", Source::as_str),
                ])
                .inc(),
        }
    }
    for (slot, count) in tally.into_iter().enumerate() {
        if count > 0
            && let Some(counter) = metrics.resolved.observables(slot)
        {
            counter.inc_by(count);
        }
    }
}
