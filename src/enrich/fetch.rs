//! The upstream side of the engine, [`Upstream`]: one flight per observable, and the paid
//! answer behind it (the fleet lock, a last look at the second tier, the quota slot, the call
//! with its retries, and the write-through of what VirusTotal said).
//!
//! Over 300 lines with a reason: this is one type's `impl`, read top to bottom along the path of
//! one paid call; splitting it would split the type's methods across files.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use tokio::time::Instant;

use super::deferred::{Caller, DeferredQueue};
use super::flight::{FlightEnd, FlightFuture, FlightResult, Join};
use super::tiers::{FleetLock, LockOutcome, SecondTier};
use crate::answer::{Answer, Entry};
use crate::cache::{Cache, Lookup};
use crate::callers::ledger::{CallerLedger, CapSpent, Charge};
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::quota::{Denied, DenyReason, Grant, Priority, QuotaGate, UpstreamSignal};
use crate::report::IpReport;
use crate::virustotal::{VtClient, VtError};

/// How often a replica waiting for a peer's fetch looks at the shared tier.
const PEER_POLL: Duration = Duration::from_millis(100);

/// How long past its deadline a caller waits for a peer's answer already on its way.
const PEER_GRACE: Duration = Duration::from_secs(1);

/// Longest a background fill holds the fleet lock while waiting for a quota slot.
const BACKGROUND_HOLD: Duration = Duration::from_secs(30);

/// Everything a fetch needs, shared by requests and the background filler (built by
/// [`super::EnricherBuilder`]).
pub(super) struct Upstream {
    pub(super) cache: Cache,
    pub(super) gate: Arc<dyn QuotaGate>,
    /// Charges callers for the calls they start, within their daily caps.
    pub(super) ledger: Arc<dyn CallerLedger>,
    /// The gate's interactive reserve (for the budget bulk callers are shown).
    pub(super) gate_reserve: u64,
    pub(super) client: VtClient,
    /// Wall time for the gate and cache, monotonic time for every deadline.
    pub(super) clock: SharedClock,
    pub(super) metrics: Metrics,
    pub(super) deferred: DeferredQueue,
    pub(super) max_retries: u32,
    /// The durable or shared tier behind the memory cache.
    pub(super) tier: Option<Arc<dyn SecondTier>>,
    /// The fleet-wide fetch lock (Redis only).
    pub(super) lock: Option<Arc<dyn FleetLock>>,
    /// Longest one upstream call (with its retries) can take; bounds lock lifetimes and waits.
    pub(super) call_budget: Duration,
    /// Bounds concurrent upstream calls, so a burst of new observables cannot open unbounded
    /// connections (quota already bounds the rate; this bounds the parallelism).
    pub(super) calls_in_flight: tokio::sync::Semaphore,
    /// Calls spent and not yet written through: shutdown waits for these, so an answer
    /// already paid for is never lost to a stopping process.
    pub(super) unsettled: AtomicUsize,
    /// Addresses whose call is under way (slot granted): a caller joining such a flight
    /// waits for the call, not only up to its own deadline.
    pub(super) calling: Mutex<HashSet<IpAddr>>,
    /// Fetches in progress, by address (see [`Upstream::join_or_start`]).
    pub(super) flights: Mutex<HashMap<IpAddr, FlightFuture>>,
}

impl Upstream {
    /// Whether a call for `ip` has its slot and is under way.
    pub(super) fn is_calling(&self, ip: &IpAddr) -> bool {
        self.calling.lock().expect("calling lock").contains(ip)
    }

    /// Joins the running flight for `ip`, or starts one; a call it makes is charged to the
    /// `caller` that started the flight, and a deferral is queued under that caller.
    pub(super) fn join_or_start(
        self: &Arc<Self>,
        ip: IpAddr,
        priority: Priority,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> Join {
        let mut flights = self.flights.lock().expect("flights lock");
        if let Some(flight) = flights.get(&ip) {
            self.metrics.singleflight_waits.inc();
            return Join::Joined(flight.clone());
        }
        // Checked again under the lock: a flight writes the cache before leaving the map, so
        // one that finished since our caller's lookup is visible here and is not repeated.
        if let Lookup::Fresh(entry) = self.cache.lookup(&ip) {
            return Join::Cached(entry);
        }
        let this = Arc::clone(self);
        let caller = caller.clone();
        // The task cannot remove itself from the map before we insert it: it needs this lock.
        let task = tokio::spawn(async move {
            let result = this.fetch(ip, priority, deadline, &caller).await;
            this.flights.lock().expect("flights lock").remove(&ip);
            // Queued only now that the flight has left the map: a filler taking the address
            // at once must start a new fetch, not join this one and see its deferral.
            if let FlightEnd::Deferred(denied) = &result.end
                && denied.reason != DenyReason::Closed
            {
                this.deferred.push(ip, &caller);
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
        flights.insert(ip, flight.clone());
        Join::Started(flight)
    }

    /// Time left until `deadline` (none, or passed: zero).
    pub(super) fn until(&self, deadline: Option<Instant>) -> Duration {
        deadline.map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(self.clock.instant())
        })
    }

    /// Gets the answer for `ip` for a flight: from a peer replica, or by spending quota.
    /// The call, if one is made, is charged to `caller`.
    async fn fetch(
        &self,
        ip: IpAddr,
        priority: Priority,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> FlightResult {
        match priority {
            Priority::Interactive | Priority::Bulk => {
                self.fetch_for_caller(ip, priority, deadline, caller).await
            }
            Priority::Background => self.fill(ip, caller).await,
        }
    }

    /// A caller is waiting: fetch under the fleet lock, or wait (up to the caller's deadline)
    /// for the replica holding it; if that replica gives up, take over.
    async fn fetch_for_caller(
        &self,
        ip: IpAddr,
        priority: Priority,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> FlightResult {
        let Some(lock) = self.lock.clone() else {
            return self.spend_and_call(ip, priority, deadline, caller).await;
        };
        let give_up = self.clock.instant() + self.until(deadline) + PEER_GRACE;
        let mut waited = false;
        loop {
            if let Some(result) = self
                .locked_fetch(lock.as_ref(), ip, priority, deadline, caller)
                .await
            {
                return result;
            }
            if !waited {
                self.metrics.singleflight_waits.inc();
                waited = true;
            }
            if let Some(entry) = self.fresh_in_tier(ip).await {
                return answered(entry, 0);
            }
            if self.clock.instant() + PEER_POLL > give_up {
                let denied = Denied {
                    reason: DenyReason::Minute,
                    retry_at: self.clock.now() + chrono::Duration::seconds(5),
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
    async fn fill(&self, ip: IpAddr, caller: &Caller) -> FlightResult {
        loop {
            // Another replica, or a restart's store, may have the answer by now.
            if let Some(entry) = self.fresh_in_tier(ip).await {
                return answered(entry, 0);
            }
            let Some(lock) = self.lock.clone() else {
                return self
                    .spend_and_call(ip, Priority::Background, None, caller)
                    .await;
            };
            let deadline = self.clock.instant() + BACKGROUND_HOLD;
            match self
                .locked_fetch(
                    lock.as_ref(),
                    ip,
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
                        .max(self.clock.now() + chrono::Duration::seconds(1));
                    self.clock.sleep_until(due).await;
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
        ip: IpAddr,
        priority: Priority,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> Option<FlightResult> {
        // The lock must outlive the quota wait plus the call.
        let ttl = self.until(deadline) + self.call_budget;
        match lock.try_acquire(ip, ttl).await {
            LockOutcome::Acquired(token) => {
                // Double-checked: a peer may have finished just before we took the lock.
                let result = match self.fresh_in_tier(ip).await {
                    Some(entry) => answered(entry, 0),
                    None => self.spend_and_call(ip, priority, deadline, caller).await,
                };
                lock.release(ip, &token).await;
                Some(result)
            }
            LockOutcome::Busy => None,
            LockOutcome::Unavailable => {
                Some(self.spend_and_call(ip, priority, deadline, caller).await)
            }
        }
    }

    /// A fresh entry for `ip` from the second tier, copied into memory.
    async fn fresh_in_tier(&self, ip: IpAddr) -> Option<Arc<Entry>> {
        let tier = self.tier.as_ref()?;
        let entry = tier.get_many(&[ip]).await.into_iter().next().flatten()?;
        (self.clock.now() < entry.fresh_until).then(|| {
            let entry = Arc::new(entry);
            self.cache.restore(ip, entry.clone());
            entry
        })
    }

    /// Charges `caller`, spends quota and calls VirusTotal, retrying 5xx and transport
    /// failures within the wait. Each attempt is charged before it starts (a retry is a call
    /// VirusTotal counts); a charge whose call does not happen (no slot, the connection never
    /// opened) is given back, and so is the slot of a call VirusTotal never saw.
    async fn spend_and_call(
        &self,
        ip: IpAddr,
        priority: Priority,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> FlightResult {
        // Attempts bound the retries; calls are what VirusTotal saw (and counted).
        let mut attempts = 0;
        let mut calls = 0;
        let mut last_error: Option<VtError> = None;
        loop {
            let (grant, charge) = match self.admit(priority, deadline, caller).await {
                Ok(admitted) => admitted,
                Err(NotAdmitted::Cap(spent)) => {
                    let end = match last_error {
                        // A retry the cap stops reports the failure it was retrying.
                        Some(err) => FlightEnd::Failed(err),
                        None => FlightEnd::Refused(spent),
                    };
                    return FlightResult { end, calls };
                }
                Err(NotAdmitted::Quota(denied)) => {
                    let end = match last_error {
                        // A retry that cannot get a slot reports the failure it was retrying.
                        Some(err) if !matches!(err, VtError::TooManyRequests { .. }) => {
                            FlightEnd::Failed(err)
                        }
                        _ => FlightEnd::Deferred(denied),
                    };
                    return FlightResult { end, calls };
                }
            };
            attempts += 1;
            let _unsettled = Unsettled::new(&self.unsettled);
            let _calling = Calling::new(&self.calling, ip);
            let permit = self.calls_in_flight.acquire().await;
            let started = self.clock.instant();
            let result = self.client.ip_report(ip).await;
            drop(permit);
            self.record_call(&result, self.clock.instant() - started);
            match &result {
                Err(err) if err.never_reached_virustotal() => {
                    self.gate.refund(grant).await;
                    self.ledger.refund(charge).await;
                    self.observe_use(caller);
                }
                _ => {
                    calls += 1;
                    self.metrics
                        .caller_upstream_calls
                        .with_label_values(&[caller.as_str()])
                        .inc();
                }
            }
            let err = match result {
                Ok(Some(report)) => return self.keep(ip, Answer::Found(report), calls).await,
                Ok(None) => return self.keep(ip, Answer::NotFound, calls).await,
                Err(err) => err,
            };
            match &err {
                VtError::QuotaExceeded => {
                    tracing::warn!(
                        "VirusTotal answered 429 QuotaExceededError: no calls until the block \
                         ends (see /v1/quota blocked_until)"
                    );
                    self.gate.signal(UpstreamSignal::QuotaExceeded);
                    let retry_at = self
                        .gate
                        .snapshot()
                        .blocked_until
                        .unwrap_or_else(|| self.clock.now());
                    let denied = Denied {
                        reason: DenyReason::Blocked,
                        retry_at,
                    };
                    return FlightResult {
                        end: FlightEnd::Deferred(denied),
                        calls,
                    };
                }
                // The gate now holds the back-off; the next acquire waits it out or defers.
                VtError::TooManyRequests { .. } => {
                    self.gate.signal(UpstreamSignal::TooManyRequests);
                }
                VtError::Auth { status, code } => {
                    tracing::error!(
                        status,
                        code = code.as_str(),
                        "VirusTotal rejected the API key; check VTENRICH_VT_API_KEY(_FILE)"
                    );
                }
                // Operators must see these without debug logs: egress, DNS or the network
                // is broken, not VirusTotal's answer. The message never holds the URL.
                VtError::Connect(_) | VtError::Transport(_) | VtError::Timeout => {
                    tracing::warn!(
                        outcome = err.outcome(),
                        error = %err,
                        refunded = err.never_reached_virustotal(),
                        "VirusTotal call failed in transport"
                    );
                }
                _ => {}
            }
            let rate_limited = matches!(err, VtError::TooManyRequests { .. });
            if !(err.is_retryable() || rate_limited) || attempts > self.max_retries {
                return FlightResult {
                    end: FlightEnd::Failed(err),
                    calls,
                };
            }
            if err.is_retryable() {
                let pause = backoff(attempts);
                if deadline.is_some_and(|d| self.clock.instant() + pause > d) {
                    return FlightResult {
                        end: FlightEnd::Failed(err),
                        calls,
                    };
                }
                tokio::time::sleep(pause).await;
            }
            last_error = Some(err);
        }
    }

    /// Caches a paid answer in memory and writes it through to the second tier before the
    /// caller hears of it, so a crash right after the response loses nothing.
    async fn keep(&self, ip: IpAddr, answer: Answer, calls: u32) -> FlightResult {
        let entry = self.cache.insert(ip, answer);
        if let Some(tier) = &self.tier {
            tier.put(ip, &entry).await;
        }
        answered(entry, calls)
    }

    /// A quota slot and `caller`'s charge for one attempt, or why not.
    ///
    /// A waiting request is charged before it waits, so a caller whose cap is spent is told
    /// at once instead of holding a place in the line. A background fill, which may wait
    /// until another day, is charged once it has its slot, on the day of its call.
    async fn admit(
        &self,
        priority: Priority,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> Result<(Grant, Charge), NotAdmitted> {
        let (grant, charge) = if priority == Priority::Background {
            let grant = self
                .acquire(priority, deadline)
                .await
                .map_err(|denied| self.denied(caller, denied))?;
            match self.ledger.charge(caller).await {
                Ok(charge) => (grant, charge),
                Err(spent) => {
                    self.gate.refund(grant).await;
                    self.refused(caller, "cap");
                    return Err(NotAdmitted::Cap(spent));
                }
            }
        } else {
            let charge = self.ledger.charge(caller).await.map_err(|spent| {
                self.refused(caller, "cap");
                NotAdmitted::Cap(spent)
            })?;
            match self.acquire(priority, deadline).await {
                Ok(grant) => (grant, charge),
                Err(denied) => {
                    self.ledger.refund(charge).await;
                    self.observe_use(caller);
                    return Err(self.denied(caller, denied));
                }
            }
        };
        self.observe_use(caller);
        Ok((grant, charge))
    }

    /// Counts a quota denial against `caller` when it is one of the day's limits.
    fn denied(&self, caller: &Caller, denied: Denied) -> NotAdmitted {
        match denied.reason {
            DenyReason::Reserve => self.refused(caller, "reserve"),
            DenyReason::Day | DenyReason::Month | DenyReason::Blocked => {
                self.refused(caller, "quota")
            }
            DenyReason::Minute | DenyReason::Closed => {}
        }
        NotAdmitted::Quota(denied)
    }

    async fn acquire(
        &self,
        priority: Priority,
        deadline: Option<Instant>,
    ) -> Result<Grant, Denied> {
        let asked = self.clock.instant();
        // The gate counts calendar windows on the wall clock: it gets the deadline there.
        let wall = deadline.map(|d| {
            self.clock.now() + chrono::Duration::from_std(self.until(Some(d))).unwrap_or_default()
        });
        let result = self.gate.acquire(priority, wall).await;
        let (decision, reason) = match &result {
            Ok(_) => {
                self.metrics
                    .quota_wait
                    .observe((self.clock.instant() - asked).as_secs_f64());
                ("granted", priority.as_str())
            }
            Err(denied) => ("denied", denied.reason.as_str()),
        };
        self.metrics
            .quota_decisions
            .with_label_values(&[decision, reason])
            .inc();
        self.metrics.observe_quota(&self.gate.snapshot());
        result
    }

    /// Counts a refusal of `caller`'s call (`cap`, `reserve` or `quota`).
    fn refused(&self, caller: &Caller, reason: &'static str) {
        self.metrics
            .caller_refused
            .with_label_values(&[caller.as_str(), reason])
            .inc();
    }

    /// Exports `caller`'s use of the day and its cap.
    fn observe_use(&self, caller: &Caller) {
        let id = caller.as_str();
        self.metrics
            .caller_daily_used
            .with_label_values(&[id])
            .set(i64::try_from(self.ledger.used_today(caller.id())).unwrap_or(i64::MAX));
        if let Some(cap) = caller.profile().daily_cap {
            self.metrics
                .caller_daily_cap
                .with_label_values(&[id])
                .set(i64::try_from(cap).unwrap_or(i64::MAX));
        }
    }

    fn record_call(&self, result: &Result<Option<IpReport>, VtError>, took: Duration) {
        let outcome = match result {
            Ok(Some(_)) => "ok",
            Ok(None) => "not_found",
            Err(err) => err.outcome(),
        };
        self.metrics
            .upstream_requests
            .with_label_values(&[outcome])
            .inc();
        self.metrics
            .upstream_duration
            .with_label_values(&[outcome])
            .observe(took.as_secs_f64());
        tracing::debug!(
            outcome,
            latency_ms = took.as_millis() as u64,
            "VirusTotal call"
        );
    }
}

/// Why an attempt got no slot.
enum NotAdmitted {
    /// The caller's daily cap is spent.
    Cap(CapSpent),
    /// The quota gate gave no slot in time.
    Quota(Denied),
}

/// Marks `ip` as having a call under way for as long as it lives.
struct Calling<'a> {
    set: &'a Mutex<HashSet<IpAddr>>,
    ip: IpAddr,
}

impl<'a> Calling<'a> {
    fn new(set: &'a Mutex<HashSet<IpAddr>>, ip: IpAddr) -> Self {
        set.lock().expect("calling lock").insert(ip);
        Self { set, ip }
    }
}

impl Drop for Calling<'_> {
    fn drop(&mut self) {
        self.set.lock().expect("calling lock").remove(&self.ip);
    }
}

/// Counts a spent call until its answer is kept (or it failed), so shutdown can wait for it.
struct Unsettled<'a>(&'a AtomicUsize);

impl<'a> Unsettled<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Unsettled<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn answered(entry: Arc<Entry>, calls: u32) -> FlightResult {
    FlightResult {
        end: FlightEnd::Answered(entry),
        calls,
    }
}

/// Exponential back-off with jitter (250 ms, 500 ms, 1 s, ... times 0.5-1.0), so replicas and
/// retries do not hit a struggling upstream in lockstep.
fn backoff(attempt: u32) -> Duration {
    let base_ms = 250u64.saturating_mul(1 << attempt.saturating_sub(1).min(6));
    let jittered = base_ms / 2 + rand::random_range(0..=base_ms / 2);
    Duration::from_millis(jittered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_jittered_within_bounds() {
        for attempt in 1..5 {
            let base = 250 * (1 << (attempt - 1));
            for _ in 0..50 {
                let ms = backoff(attempt).as_millis();
                assert!(ms >= base / 2 && ms <= base, "attempt {attempt}: {ms}");
            }
        }
    }
}
