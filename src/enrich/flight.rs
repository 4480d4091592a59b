//! Single-flight upstream fetches: one VirusTotal call per observable, however many ask,
//! across the fleet too. [`Upstream`] runs flights: it joins or starts one, waits for a peer
//! replica holding the fleet lock, and otherwise has its [`Fetcher`] pay for the answer.
//!
//! A fetch runs in its own task, so a caller that stops waiting (its wait ran out, its
//! connection closed) never throws away an answer already paid for: the task still writes it
//! to the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::time::Instant;

use super::deferred::{Caller, DeferredQueue};
use super::fetch::Fetcher;
use super::tiers::{FleetLock, LockOutcome};
use crate::answer::Entry;
use crate::cache::Lookup;
use crate::callers::ledger::CapSpent;
use crate::observable::{Observable, PrivateSuffixes};
use crate::quota::{Denied, DenyReason, Priority};
use crate::virustotal::VtError;

/// How often a replica waiting for a peer's fetch looks at the shared tier.
const PEER_POLL: Duration = Duration::from_millis(100);

/// How long past its deadline a caller waits for a peer's answer already on its way.
const PEER_GRACE: Duration = Duration::from_secs(1);

/// Longest a background fill holds the fleet lock while waiting for a quota slot.
const BACKGROUND_HOLD: Duration = Duration::from_secs(30);

/// Flights in progress and the way to a paid answer, shared by requests and the background
/// filler (built by [`super::EnricherBuilder`]).
pub(super) struct Upstream {
    /// Pays for answers (quota, the caller's charge, the call) and writes them through.
    pub(super) fetcher: Fetcher,
    pub(super) deferred: DeferredQueue,
    /// The fleet-wide fetch lock (Redis only).
    pub(super) lock: Option<Arc<dyn FleetLock>>,
    /// The operator's own namespaces: names under them, and URLs on them, never leave.
    pub(super) private: PrivateSuffixes,
    /// Fetches in progress, by observable (see [`Upstream::join_or_start`]).
    pub(super) flights: Mutex<HashMap<Observable, FlightFuture>>,
}

impl Upstream {
    /// Whether a call for `observable` has its slot and is under way.
    pub(super) fn is_calling(&self, observable: &Observable) -> bool {
        self.fetcher.is_calling(observable)
    }

    /// Joins the running flight for `observable`, or starts one; a call it makes is charged to the
    /// `caller` that started the flight, and a deferral is queued under that caller.
    pub(super) fn join_or_start(
        self: &Arc<Self>,
        observable: &Observable,
        priority: Priority,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> Join {
        let mut flights = self.flights.lock().expect("flights lock");
        if let Some(flight) = flights.get(observable) {
            self.fetcher.metrics.singleflight_waits.inc();
            return Join::Joined(flight.clone());
        }
        // Checked again under the lock: a flight writes the cache before leaving the map, so
        // one that finished since our caller's lookup is visible here and is not repeated.
        if let Lookup::Fresh(entry) = self.fetcher.cache.lookup(observable) {
            return Join::Cached(entry);
        }
        let this = Arc::clone(self);
        let caller = caller.clone();
        let key = observable.clone();
        // The task cannot remove itself from the map before we insert it: it needs this lock.
        let task = tokio::spawn(async move {
            let result = this.fetch(&key, priority, deadline, &caller).await;
            this.flights.lock().expect("flights lock").remove(&key);
            // Queued only now that the flight has left the map: a filler taking the address
            // at once must start a new fetch, not join this one and see its deferral.
            if let FlightEnd::Deferred(denied) = &result.end
                && denied.reason != DenyReason::Closed
            {
                this.deferred.push(key, &caller);
            }
            result
        });
        let flight = async move {
            task.await.unwrap_or_else(|err| {
                tracing::error!(error = %err, "upstream fetch task failed");
                FlightResult {
                    end: FlightEnd::Failed(VtError::Transport("internal task failure".into())),
                    calls: 0,
                }
            })
        }
        .boxed()
        .shared();
        flights.insert(observable.clone(), flight.clone());
        Join::Started(flight)
    }

    /// Gets the answer for `observable` for a flight: from a peer replica, or by spending quota.
    /// The call, if one is made, is charged to `caller`.
    async fn fetch(
        &self,
        observable: &Observable,
        priority: Priority,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> FlightResult {
        match priority {
            Priority::Interactive | Priority::Bulk => {
                self.fetch_for_caller(observable, priority, deadline, caller)
                    .await
            }
            Priority::Background => self.fill(observable, caller).await,
        }
    }

    /// A caller is waiting: fetch under the fleet lock, or wait (up to the caller's deadline)
    /// for the replica holding it; if that replica gives up, take over.
    async fn fetch_for_caller(
        &self,
        observable: &Observable,
        priority: Priority,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> FlightResult {
        let Some(lock) = self.lock.clone() else {
            return self
                .fetcher
                .spend_and_call(observable, priority, deadline, caller)
                .await;
        };
        let give_up = self.fetcher.clock.instant() + self.fetcher.until(deadline) + PEER_GRACE;
        let mut waited = false;
        loop {
            if let Some(result) = self
                .locked_fetch(lock.as_ref(), observable, priority, deadline, caller)
                .await
            {
                return result;
            }
            if !waited {
                self.fetcher.metrics.singleflight_waits.inc();
                waited = true;
            }
            if let Some(entry) = self.fresh_in_tier(observable).await {
                return FlightResult::answered(entry, 0);
            }
            if self.fetcher.clock.instant() + PEER_POLL > give_up {
                let denied = Denied {
                    reason: DenyReason::Minute,
                    retry_at: self.fetcher.clock.now() + chrono::Duration::seconds(5),
                };
                return FlightResult {
                    end: FlightEnd::Deferred(denied),
                    calls: 0,
                };
            }
            tokio::time::sleep(PEER_POLL).await;
        }
    }

    /// A background fill. It never holds the fleet lock through an unbounded quota wait (the
    /// lock would expire and let a peer fetch the same observable): it locks, waits for a slot
    /// at most [`BACKGROUND_HOLD`], and otherwise lets go and sleeps until the slot is due.
    async fn fill(&self, observable: &Observable, caller: &Caller) -> FlightResult {
        loop {
            // Another replica, or a restart's store, may have the answer by now.
            if let Some(entry) = self.fresh_in_tier(observable).await {
                return FlightResult::answered(entry, 0);
            }
            let Some(lock) = self.lock.clone() else {
                return self
                    .fetcher
                    .spend_and_call(observable, Priority::Background, None, caller)
                    .await;
            };
            let deadline = self.fetcher.clock.instant() + BACKGROUND_HOLD;
            match self
                .locked_fetch(
                    lock.as_ref(),
                    observable,
                    Priority::Background,
                    Some(deadline),
                    caller,
                )
                .await
            {
                Some(FlightResult {
                    end: FlightEnd::Deferred(denied),
                    ..
                }) => {
                    let due = denied
                        .retry_at
                        .max(self.fetcher.clock.now() + chrono::Duration::seconds(1));
                    self.fetcher.clock.sleep_until(due).await;
                }
                Some(result) => return result,
                // A peer is fetching it; look again shortly.
                None => tokio::time::sleep(PEER_POLL * 5).await,
            }
        }
    }

    /// Fetches under the fleet lock; `None` when another replica holds it.
    async fn locked_fetch(
        &self,
        lock: &dyn FleetLock,
        observable: &Observable,
        priority: Priority,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> Option<FlightResult> {
        // The lock must outlive the quota wait plus the call.
        let ttl = self.fetcher.until(deadline) + self.fetcher.call_budget;
        match lock.try_acquire(observable, ttl).await {
            LockOutcome::Acquired(token) => {
                // Double-checked: a peer may have finished just before we took the lock.
                let result = match self.fresh_in_tier(observable).await {
                    Some(entry) => FlightResult::answered(entry, 0),
                    None => {
                        self.fetcher
                            .spend_and_call(observable, priority, deadline, caller)
                            .await
                    }
                };
                lock.release(observable, &token).await;
                Some(result)
            }
            LockOutcome::Busy => None,
            LockOutcome::Unavailable => Some(
                self.fetcher
                    .spend_and_call(observable, priority, deadline, caller)
                    .await,
            ),
        }
    }

    /// A fresh entry for `observable` from the second tier, copied into memory.
    async fn fresh_in_tier(&self, observable: &Observable) -> Option<Arc<Entry>> {
        let tier = self.fetcher.tier.as_ref()?;
        let entry = tier
            .get_many(std::slice::from_ref(observable))
            .await
            .into_iter()
            .next()
            .flatten()?;
        (self.fetcher.clock.now() < entry.fresh_until).then(|| {
            let entry = Arc::new(entry);
            self.fetcher
                .cache
                .restore(observable.clone(), entry.clone());
            entry
        })
    }
}

/// How a flight ended; shared by every waiter.
#[derive(Debug, Clone)]
pub enum FlightEnd {
    /// VirusTotal answered (found or not found); the entry is in the cache.
    Answered(Arc<Entry>),
    /// No slot in time (or VirusTotal blocks us); the address is queued for a background fill.
    Deferred(Denied),
    /// The call failed; nothing was cached.
    Failed(VtError),
    /// The starting caller's daily cap is spent: no call was made and nothing is queued
    /// (a background fill would spend past the cap).
    Refused(CapSpent),
}

/// A flight's end and the upstream calls it made.
#[derive(Debug, Clone)]
pub struct FlightResult {
    pub end: FlightEnd,
    pub calls: u32,
}

impl FlightResult {
    /// An answer, with the calls it took.
    pub(super) fn answered(entry: Arc<Entry>, calls: u32) -> Self {
        FlightResult {
            end: FlightEnd::Answered(entry),
            calls,
        }
    }
}

pub(super) type FlightFuture = Shared<BoxFuture<'static, FlightResult>>;

/// How a caller got attached to the answer for an address.
pub enum Join {
    /// Another flight finished just before we looked again: the cache has it.
    Cached(Arc<Entry>),
    /// A flight for this address was already running; we wait on it.
    Joined(FlightFuture),
    /// We started the flight.
    Started(FlightFuture),
}
