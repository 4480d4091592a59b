//! Single-flight upstream fetches: one VirusTotal call per observable, however many ask.
//!
//! A fetch runs in its own task, so a caller that stops waiting (its wait ran out, its
//! connection closed) never throws away an answer already paid for: the task still writes it
//! to the cache.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use super::deferred::{Caller, DeferredQueue};
use super::tiers::{FleetLock, SecondTier};
use crate::cache::{Cache, Entry, Lookup};
use crate::callers::ledger::{CallerLedger, CapSpent};
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::quota::{Denied, DenyReason, Priority, QuotaGate};
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
    /// Charges callers for the calls they start, within their daily caps.
    pub ledger: Arc<dyn CallerLedger>,
    /// The gate's interactive reserve (for the budget bulk callers are shown).
    pub gate_reserve: u64,
    pub client: VtClient,
    pub clock: SharedClock,
    pub metrics: Metrics,
    pub deferred: DeferredQueue,
    pub max_retries: u32,
    /// The durable or shared tier behind the memory cache.
    pub tier: Option<Arc<dyn SecondTier>>,
    /// The fleet-wide fetch lock (Redis only).
    pub lock: Option<Arc<dyn FleetLock>>,
    /// Longest one upstream call (with its retries) can take; bounds lock lifetimes and waits.
    pub call_budget: chrono::Duration,
    /// Bounds concurrent upstream calls, so a burst of new observables cannot open unbounded
    /// connections (quota already bounds the rate; this bounds the parallelism).
    pub(super) calls_in_flight: tokio::sync::Semaphore,
    /// Calls spent and not yet written through: shutdown waits for these, so an answer
    /// already paid for is never lost to a stopping process.
    pub(super) unsettled: std::sync::atomic::AtomicUsize,
    /// Addresses whose call is under way (slot granted): a caller joining such a flight
    /// waits for the call, not only up to its own deadline.
    pub(super) calling: Mutex<std::collections::HashSet<IpAddr>>,
    /// Fetches in progress, by address (see [`Upstream::join_or_start`]).
    pub(super) flights: Mutex<HashMap<IpAddr, FlightFuture>>,
}

impl Upstream {
    /// Whether a call for `ip` has its slot and is under way.
    pub fn is_calling(&self, ip: &IpAddr) -> bool {
        self.calling.lock().expect("calling lock").contains(ip)
    }

    /// Joins the running flight for `ip`, or starts one; a call it makes is charged to the
    /// `caller` that started the flight, and a deferral is queued under that caller.
    pub fn join_or_start(
        self: &Arc<Self>,
        ip: IpAddr,
        priority: Priority,
        deadline: Option<DateTime<Utc>>,
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
}
