//! Single-flight upstream fetches: one VirusTotal call per observable, however many ask.
//!
//! A fetch runs in its own task, so a caller that stops waiting (its wait ran out, its
//! connection closed) never throws away an answer already paid for: the task still writes it
//! to the cache.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use super::deferred::DeferredQueue;
use crate::cache::{Answer, Cache, Entry, Lookup};
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::quota::{Denied, DenyReason, Priority, QuotaGate, UpstreamSignal};
use crate::virustotal::{VtClient, VtError};

/// How a flight ended; shared by every waiter.
#[derive(Debug, Clone)]
pub enum FlightEnd {
    /// VirusTotal answered (found or not found); the entry is in the cache.
    Answered(Arc<Entry>),
    /// No slot in time (or VirusTotal blocks us); the address is queued for a background fill.
    Deferred(Denied),
    /// The call failed; nothing was cached.
    Failed(VtError),
}

/// A flight's end and the upstream calls it made.
#[derive(Debug, Clone)]
pub struct FlightResult {
    pub end: FlightEnd,
    pub calls: u32,
}

type FlightFuture = Shared<BoxFuture<'static, FlightResult>>;

/// How a caller got attached to the answer for an address.
pub enum Join {
    /// Another flight finished just before we looked again: the cache has it.
    Cached(Arc<Entry>),
    /// A flight for this address was already running; we wait on it.
    Joined(FlightFuture),
    /// We started the flight.
    Started(FlightFuture),
}

/// Everything a fetch needs, shared by requests and the background filler.
pub struct Upstream {
    pub cache: Cache,
    pub gate: Arc<dyn QuotaGate>,
    pub client: VtClient,
    pub clock: SharedClock,
    pub metrics: Metrics,
    pub deferred: DeferredQueue,
    pub max_retries: u32,
    /// Bounds concurrent upstream calls, so a burst of new observables cannot open unbounded
    /// connections (quota already bounds the rate; this bounds the parallelism).
    calls_in_flight: tokio::sync::Semaphore,
    flights: Mutex<HashMap<IpAddr, FlightFuture>>,
}

impl Upstream {
    /// Wires the parts together.
    pub fn new(
        cache: Cache,
        gate: Arc<dyn QuotaGate>,
        client: VtClient,
        clock: SharedClock,
        metrics: Metrics,
        deferred: DeferredQueue,
        max_retries: u32,
        max_concurrent_calls: usize,
    ) -> Self {
        Self {
            cache,
            gate,
            client,
            clock,
            metrics,
            deferred,
            max_retries,
            calls_in_flight: tokio::sync::Semaphore::new(max_concurrent_calls),
            flights: Mutex::new(HashMap::new()),
        }
    }

    /// Joins the running flight for `ip`, or starts one.
    pub fn join_or_start(
        self: &Arc<Self>,
        ip: IpAddr,
        priority: Priority,
        deadline: Option<DateTime<Utc>>,
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
        // The task cannot remove itself from the map before we insert it: it needs this lock.
        let task = tokio::spawn(async move {
            let result = this.fetch(ip, priority, deadline).await;
            this.flights.lock().expect("flights lock").remove(&ip);
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

    /// Spends quota and calls VirusTotal, retrying 5xx and transport failures within the wait.
    async fn fetch(
        &self,
        ip: IpAddr,
        priority: Priority,
        deadline: Option<DateTime<Utc>>,
    ) -> FlightResult {
        let mut calls = 0;
        let mut last_error: Option<VtError> = None;
        loop {
            if let Err(denied) = self.acquire(priority, deadline).await {
                let end = match last_error {
                    // A retry that cannot get a slot reports the failure it was retrying.
                    Some(err) if !matches!(err, VtError::TooManyRequests { .. }) => {
                        FlightEnd::Failed(err)
                    }
                    _ => self.defer(ip, denied),
                };
                return FlightResult { end, calls };
            }
            calls += 1;
            let permit = self.calls_in_flight.acquire().await;
            let started = Instant::now();
            let result = self.client.ip_report(ip).await;
            drop(permit);
            self.record_call(&result, started.elapsed());
            let err = match result {
                Ok(Some(report)) => {
                    let entry = self.cache.insert(ip, Answer::Found(report));
                    return FlightResult {
                        end: FlightEnd::Answered(entry),
                        calls,
                    };
                }
                Ok(None) => {
                    let entry = self.cache.insert(ip, Answer::NotFound);
                    return FlightResult {
                        end: FlightEnd::Answered(entry),
                        calls,
                    };
                }
                Err(err) => err,
            };
            match &err {
                VtError::QuotaExceeded => {
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
                        end: self.defer(ip, denied),
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
                _ => {}
            }
            let retryable = err.is_retryable() || matches!(err, VtError::TooManyRequests { .. });
            if !retryable || calls > self.max_retries {
                return FlightResult {
                    end: FlightEnd::Failed(err),
                    calls,
                };
            }
            if !err.is_retryable() {
                last_error = Some(err);
                continue;
            }
            let pause = backoff(calls);
            if deadline.is_some_and(|d| self.clock.now() + pause > d) {
                return FlightResult {
                    end: FlightEnd::Failed(err),
                    calls,
                };
            }
            tokio::time::sleep(pause.to_std().unwrap_or_default()).await;
            last_error = Some(err);
        }
    }

    async fn acquire(
        &self,
        priority: Priority,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<(), Denied> {
        let asked = Instant::now();
        let result = self.gate.acquire(priority, deadline).await;
        let (decision, reason) = match &result {
            Ok(()) => {
                self.metrics
                    .quota_wait
                    .observe(asked.elapsed().as_secs_f64());
                let reason = match priority {
                    Priority::Interactive => "interactive",
                    Priority::Background => "background",
                };
                ("granted", reason)
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

    fn defer(&self, ip: IpAddr, denied: Denied) -> FlightEnd {
        if denied.reason != DenyReason::Closed {
            self.deferred.push(ip);
        }
        FlightEnd::Deferred(denied)
    }

    fn record_call(
        &self,
        result: &Result<Option<crate::report::IpReport>, VtError>,
        took: Duration,
    ) {
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

/// Exponential back-off with jitter (250 ms, 500 ms, 1 s, ... times 0.5-1.0), so replicas and
/// retries do not hit a struggling upstream in lockstep.
fn backoff(attempt: u32) -> chrono::Duration {
    let base_ms = 250u64.saturating_mul(1 << attempt.saturating_sub(1).min(6));
    let jittered = base_ms / 2 + rand::random_range(0..=base_ms / 2);
    chrono::Duration::milliseconds(jittered as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_jittered_within_bounds() {
        for attempt in 1..5 {
            let base = 250 * (1 << (attempt - 1));
            for _ in 0..50 {
                let ms = backoff(attempt).num_milliseconds();
                assert!(ms >= base / 2 && ms <= base, "attempt {attempt}: {ms}");
            }
        }
    }
}
