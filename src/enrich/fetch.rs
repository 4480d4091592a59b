//! The paid answer, [`Fetcher`]: the quota slot, the caller's charge, the call with its
//! retries, and the write-through of what VirusTotal said.
//!
//! Over 300 lines with a reason: one type's `impl` along the path of one paid call, whose
//! steps (charge, slot, call, refund, retry, metrics) must be read together to see that every
//! charge and slot is either spent on a call VirusTotal saw or given back.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::deferred::Caller;
use super::flight::{FlightEnd, FlightResult};
use super::tiers::SecondTier;
use crate::answer::Answer;
use crate::cache::Cache;
use crate::callers::ledger::{CallerLedger, CapSpent, Charge};
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::observable::{Observable, ObservableType};
use crate::quota::{Denied, DenyReason, Grant, Priority, QuotaGate, UpstreamSignal};
use crate::report::{FileReport, Report};
use crate::virustotal::{Endpoint, VtClient, VtError};

/// Everything one paid call needs (built by [`super::EnricherBuilder`]).
pub(super) struct Fetcher {
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
    pub(super) max_retries: u32,
    /// The durable or shared tier behind the memory cache.
    pub(super) tier: Option<Arc<dyn SecondTier>>,
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
    pub(super) calling: Mutex<HashSet<Observable>>,
}

impl Fetcher {
    /// Whether a call for `observable` has its slot and is under way.
    pub(super) fn is_calling(&self, observable: &Observable) -> bool {
        self.calling
            .lock()
            .expect("calling lock")
            .contains(observable)
    }

    /// Time left until `deadline` (none, or passed: zero).
    pub(super) fn until(&self, deadline: Option<Instant>) -> Duration {
        deadline.map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(self.clock.instant())
        })
    }

    /// Charges `caller`, spends quota and calls VirusTotal, retrying 5xx and transport
    /// failures within the wait. Each attempt is charged before it starts (a retry is a call
    /// VirusTotal counts); a charge whose call does not happen (no slot, the connection never
    /// opened) is given back, and so is the slot of a call VirusTotal never saw.
    pub(super) async fn spend_and_call(
        &self,
        observable: &Observable,
        priority: Priority,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> FlightResult {
        // Attempts bound the retries; calls are what VirusTotal saw (and counted).
        let mut attempts = 0;
        let mut calls = 0;
        let mut last_error: Option<VtError> = None;
        loop {
            let (grant, charge) = match self.admit(observable, priority, deadline, caller).await {
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
            let _calling = Calling::new(&self.calling, observable.clone());
            let permit = self.calls_in_flight.acquire().await;
            let started = self.clock.instant();
            let result = self.client.lookup(observable).await;
            drop(permit);
            self.record_call(observable, &result, self.clock.instant() - started);
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
                Ok(Some(report)) => {
                    return self.keep(observable, Answer::Found(report), calls).await;
                }
                Ok(None) => return self.keep(observable, Answer::NotFound, calls).await,
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
    ///
    /// A file's answer is kept under each of its hashes VirusTotal sent as well, so asking
    /// by its SHA-256 after its MD5 costs nothing.
    async fn keep(&self, observable: &Observable, answer: Answer, calls: u32) -> FlightResult {
        let aliases = match &answer {
            Answer::Found(Report::File(report)) => file_aliases(observable, report),
            _ => Vec::new(),
        };
        let entry = self.cache.insert(observable.clone(), answer);
        for alias in &aliases {
            self.cache.restore(alias.clone(), entry.clone());
        }
        if let Some(tier) = &self.tier {
            tier.put(observable, &entry).await;
            for alias in &aliases {
                tier.put(alias, &entry).await;
            }
        }
        FlightResult::answered(entry, calls)
    }

    /// A quota slot and `caller`'s charge for one attempt, or why not.
    ///
    /// A waiting request is charged before it waits, so a caller whose cap is spent is told
    /// at once instead of holding a place in the line. A background fill, which may wait
    /// until another day, is charged once it has its slot, on the day of its call.
    async fn admit(
        &self,
        observable: &Observable,
        priority: Priority,
        deadline: Option<Instant>,
        caller: &Caller,
    ) -> Result<(Grant, Charge), NotAdmitted> {
        let endpoint = Endpoint::of(observable.kind());
        let (grant, charge) = if priority == Priority::Background {
            let grant = self
                .acquire(priority, deadline)
                .await
                .map_err(|denied| self.denied(caller, denied))?;
            match self.ledger.charge(caller, endpoint).await {
                Ok(charge) => (grant, charge),
                Err(spent) => {
                    self.gate.refund(grant).await;
                    self.refused(caller, "cap");
                    return Err(NotAdmitted::Cap(spent));
                }
            }
        } else {
            let charge = self
                .ledger
                .charge(caller, endpoint)
                .await
                .map_err(|spent| {
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

    fn record_call(
        &self,
        observable: &Observable,
        result: &Result<Option<Report>, VtError>,
        took: Duration,
    ) {
        let kind = observable.kind().as_str();
        let outcome = match result {
            Ok(Some(_)) => "ok",
            Ok(None) => "not_found",
            Err(err) => err.outcome(),
        };
        self.metrics
            .upstream_requests
            .with_label_values(&[kind, outcome])
            .inc();
        self.metrics
            .upstream_duration
            .with_label_values(&[kind, outcome])
            .observe(took.as_secs_f64());
        tracing::debug!(
            outcome,
            latency_ms = took.as_millis() as u64,
            "VirusTotal call"
        );
    }
}

/// The other hashes a file answer names (the one asked left out).
fn file_aliases(asked: &Observable, report: &FileReport) -> Vec<Observable> {
    [&report.md5, &report.sha1, &report.sha256]
        .into_iter()
        .flatten()
        .filter_map(|hash| Observable::parse(ObservableType::File, hash).ok())
        .filter(|alias| alias != asked)
        .collect()
}

/// Why an attempt got no slot.
enum NotAdmitted {
    /// The caller's daily cap is spent.
    Cap(CapSpent),
    /// The quota gate gave no slot in time.
    Quota(Denied),
}

/// Marks `observable` as having a call under way for as long as it lives.
struct Calling<'a> {
    set: &'a Mutex<HashSet<Observable>>,
    observable: Observable,
}

impl<'a> Calling<'a> {
    fn new(set: &'a Mutex<HashSet<Observable>>, observable: Observable) -> Self {
        set.lock().expect("calling lock").insert(observable.clone());
        Self { set, observable }
    }
}

impl Drop for Calling<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .expect("calling lock")
            .remove(&self.observable);
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

/// Exponential back-off with jitter (250 ms, 500 ms, 1 s, ... times 0.5-1.0), so replicas and
/// retries do not hit a struggling upstream in lockstep.
fn backoff(attempt: u32) -> Duration {
    let base_ms = 250u64.saturating_mul(1 << attempt.saturating_sub(1).min(6));
    let jittered = base_ms / 2 + rand::random_range(0..=base_ms / 2);
    Duration::from_millis(jittered)
}

#[cfg(test)]
mod tests;
