//! Usage accounting: per UTC day, caller, vtenrich route and VirusTotal endpoint, how many
//! requests and observables came in, how many VirusTotal calls they started (consuming quota)
//! and how the rest were answered (cache, local decisions: not consuming) or not (deferred,
//! refused by a cap or the quota, upstream errors). Kept for the last 60 days.
//!
//! Two write paths, because they need different durability:
//! - VirusTotal calls are counted with the caller's charge, before the call starts, and
//!   saved before it does (as a
//!   [`ChargeWatcher`](crate::callers::ledger::ChargeWatcher)); a call that does not happen gives its count
//!   back. A `kill -9` loses none, like the quota counts.
//! - Everything else is counted in memory as answers go out ([`Usage::record`]) and flushed
//!   at most every second and on shutdown, so a `kill -9` loses at most a second of them.
//!
//! - `key`: routes, endpoints, counters and the key they are counted by.
//! - `backend`: where counts are kept (the trait; memory when there is no store or Redis).
//! - `ledger`: the caller-ledger watcher that counts each charged call.
//! - `report`: counts as the report reads them, per day, caller, route and endpoint.

mod backend;
mod key;
mod ledger;
mod report;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Days, NaiveDate};
use tokio_util::sync::CancellationToken;

pub use backend::{Count, Delta, MemoryUsage, UsageBackend};
pub use key::{Counter, Endpoint, Route, UsageKey, endpoint_name};
pub use report::{Counts, Row};

use crate::caller::{Caller, CallerId};
use crate::clock::SharedClock;
use crate::enrich::BatchResult;

/// Days kept, today included; older days are purged.
pub const RETAINED_DAYS: u64 = 60;
/// Most days one report covers.
pub const MAX_REPORT_DAYS: u64 = 30;
/// How often counts not consuming quota are flushed to the backend.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The oldest day kept when `today` is the newest.
pub fn oldest_kept(today: NaiveDate) -> NaiveDate {
    today - Days::new(RETAINED_DAYS - 1)
}

/// Counts waiting for the next flush. Keyed by callers and closed sets, never by caller text, so
/// a fast hasher is safe here (every request adds to it).
type Pending = HashMap<(NaiveDate, UsageKey, Counter), i64, foldhash::quality::RandomState>;

/// The usage accounts; cheap to clone.
#[derive(Clone)]
pub struct Usage {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn UsageBackend>,
    clock: SharedClock,
    pending: Mutex<Pending>,
    /// Serialises flushes, so a report that flushes first sees every count before it.
    flushing: tokio::sync::Mutex<()>,
}

impl Usage {
    /// Accounts kept in `backend`, dated by `clock`.
    pub fn new(backend: Arc<dyn UsageBackend>, clock: SharedClock) -> Self {
        Self {
            inner: Arc::new(Inner {
                backend,
                clock,
                pending: Mutex::default(),
                flushing: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Today (UTC) on the accounts' clock.
    pub fn today(&self) -> NaiveDate {
        self.inner.clock.now().date_naive()
    }

    /// Counts one VirusTotal call of `key` on `day` (`by` = 1), or gives one back (`by` =
    /// -1), saved before returning. Should the backend fail, the count waits for the next
    /// flush instead (a failing store or Redis is already degraded and said so).
    pub async fn consume(&self, day: NaiveDate, key: &UsageKey, by: i64) {
        let delta = Delta {
            day,
            key: key.clone(),
            counter: Counter::VirusTotalCalls,
            by,
        };
        if let Err(err) = self.inner.backend.add(vec![delta.clone()]).await {
            tracing::warn!(
                error = format!("{err:#}"),
                "a VirusTotal call's usage count could not be saved; it is kept for the next flush"
            );
            self.pending_add([delta]);
        }
    }

    /// Counts what a request of `caller` got: the request, its observables and each
    /// answer, by endpoint. Batched; written by the next flush.
    pub fn record(&self, caller: &Caller, batch: &BatchResult) {
        let day = self.today();
        // Tallied on the stack per endpoint (none first) and counter: every request passes
        // here, and a map per request was a visible share of a cached lookup.
        let mut tally = [[0i64; Counter::ALL.len()]; 1 + Endpoint::ALL.len()];
        let slot = |counter: Counter| Counter::ALL.iter().position(|c| *c == counter);
        for item in &batch.items {
            let endpoint = item.observable.as_ref().map_or(0, |o| {
                let endpoint = Endpoint::of(o.kind());
                1 + Endpoint::ALL
                    .iter()
                    .position(|e| *e == endpoint)
                    .unwrap_or(0)
            });
            let counts = &mut tally[endpoint];
            if let Some(i) = slot(Counter::Requests) {
                counts[i] = 1;
            }
            for counter in [Counter::Observables, Counter::of(&item.outcome)] {
                if let Some(i) = slot(counter) {
                    counts[i] += 1;
                }
            }
        }
        let mut deltas = Vec::new();
        for (e, counts) in tally.iter().enumerate() {
            let endpoint = e.checked_sub(1).map(|i| Endpoint::ALL[i]);
            for (counter, by) in Counter::ALL.into_iter().zip(counts) {
                if *by != 0 {
                    deltas.push(Delta {
                        day,
                        key: UsageKey::of(caller, endpoint),
                        counter,
                        by: *by,
                    });
                }
            }
        }
        self.pending_add(deltas);
    }

    fn pending_add(&self, deltas: impl IntoIterator<Item = Delta>) {
        let mut pending = self.inner.pending.lock().unwrap_or_else(|e| e.into_inner());
        for d in deltas {
            *pending.entry((d.day, d.key, d.counter)).or_default() += d.by;
        }
    }

    /// Writes the batched counts. On failure they stay for the next flush.
    pub async fn flush(&self) {
        let _one = self.inner.flushing.lock().await;
        let taken =
            std::mem::take(&mut *self.inner.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if taken.is_empty() {
            return;
        }
        let deltas: Vec<Delta> = taken
            .into_iter()
            .filter(|(_, by)| *by != 0)
            .map(|((day, key, counter), by)| Delta {
                day,
                key,
                counter,
                by,
            })
            .collect();
        if let Err(err) = self.inner.backend.add(deltas.clone()).await {
            tracing::warn!(
                error = format!("{err:#}"),
                "usage counts could not be written; retrying with the next flush"
            );
            self.pending_add(deltas);
        }
    }

    /// Flushes every [`FLUSH_EVERY`] until `cancel` fires, then once more.
    pub fn spawn_flusher(&self, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        let usage = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(FLUSH_EVERY) => usage.flush().await,
                }
            }
            usage.flush().await;
        })
    }

    /// The counts of `from..=to`, of one caller or everyone, each (day, caller, route,
    /// endpoint) once, in that order. Flushes first, so this replica's own counts are in.
    pub async fn report(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        caller: Option<&CallerId>,
    ) -> anyhow::Result<Vec<Row>> {
        self.flush().await;
        let counts = self.inner.backend.read(from, to).await?;
        Ok(report::rows(counts.into_iter().filter(|(_, key, _, _)| {
            caller.is_none_or(|c| *c == key.caller)
        })))
    }
}

#[cfg(test)]
mod tests;
