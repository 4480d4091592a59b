//! Per-caller daily use: how many VirusTotal calls each caller started this UTC day, checked
//! against its `daily_cap` and counted in one step before the call starts.
//!
//! Why check-and-charge in one step, before the call: two requests of a caller with one call
//! left must not both see "one left" and both call. Why before, not after: the count must be
//! saved before VirusTotal sees the call, or a crash right after the call forgets it (the
//! same rule as the quota gate's day count). A charge whose call never happens (no quota slot,
//! the connection never opened) is refunded.
//!
//! Two ledgers: [`LocalLedger`] (one process, saved to the durable store when one is open)
//! and [`SharedLedger`] (Redis, for a fleet; in `shared.rs`); and [`WatchedLedger`]
//! (`watched.rs`), which tells the usage accounts and the audit log of each decision.

mod shared;
#[cfg(test)]
mod tests;
mod watched;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;

use crate::caller::{Caller, CallerId};
use crate::clock::SharedClock;
use crate::quota::next_day_reset;
use crate::usage::{Endpoint, UsageKey};

pub use shared::SharedLedger;
pub use watched::{ChargeWatcher, WatchedLedger};

/// One unit charged to a caller for a call about to start; give it back with
/// [`CallerLedger::refund`] when the call does not happen after all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// Who was charged.
    pub caller: CallerId,
    /// The UTC day it was counted on.
    pub day: NaiveDate,
    /// The caller's count on that day after this charge.
    pub used: u64,
    /// What the call is counted under in the usage report (the caller, its route, the
    /// VirusTotal endpoint).
    pub usage: UsageKey,
    /// Where it was counted.
    pub(crate) booked: Booked,
}

/// Where a charge was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Booked {
    /// In this process's counts.
    Local,
    /// In the fleet's counts in Redis.
    Shared,
}

/// The caller's daily cap is spent: no new VirusTotal call for it before `retry_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapSpent {
    /// The cap.
    pub cap: u64,
    /// The next UTC midnight.
    pub retry_at: DateTime<Utc>,
}

/// Reads a caller's use of the day, for the admin list and metrics.
pub trait DailyUse: Send + Sync {
    /// VirusTotal calls `id` started this UTC day (as far as this replica knows).
    fn used_today(&self, id: &CallerId) -> u64;
}

/// Charges callers for the VirusTotal calls they start.
pub trait CallerLedger: DailyUse + 'static {
    /// Charges one call of `endpoint` to `caller`, unless its daily cap is spent. Resolves
    /// once the charge is saved where it survives this process (durable store or Redis),
    /// when there is one.
    fn charge<'a>(
        &'a self,
        caller: &'a Caller,
        endpoint: Endpoint,
    ) -> BoxFuture<'a, Result<Charge, CapSpent>>;

    /// Gives a charge back: its call never happened or never reached VirusTotal.
    fn refund(&self, charge: Charge) -> BoxFuture<'_, ()>;
}

/// Told each caller's new count, under the ledger's lock (so saves arrive in order).
pub type UseObserver = Box<dyn Fn(&CallerId, NaiveDate, u64) + Send + Sync>;

/// One process's per-caller day counts.
pub struct LocalLedger {
    clock: SharedClock,
    days: Mutex<HashMap<CallerId, (NaiveDate, u64)>>,
    observer: Option<UseObserver>,
}

impl LocalLedger {
    /// An empty ledger on `clock`.
    pub fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            days: Mutex::new(HashMap::new()),
            observer: None,
        }
    }

    /// Registers the observer told every new count (the durable store saves them).
    pub fn on_change(mut self, observer: UseObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Continues from counts saved before a restart; counts of a day that has ended are
    /// ignored.
    pub fn restore(&self, saved: impl IntoIterator<Item = (CallerId, NaiveDate, u64)>) {
        let today = self.clock.now().date_naive();
        let mut days = self.days();
        for (id, day, used) in saved {
            if day == today {
                let slot = days.entry(id).or_insert((day, 0));
                slot.1 = slot.1.max(used);
            }
        }
    }

    /// Charges `caller` a call of `endpoint` now (never waits).
    pub fn charge_now(&self, caller: &Caller, endpoint: Endpoint) -> Result<Charge, CapSpent> {
        let now = self.clock.now();
        let today = now.date_naive();
        let id = caller.id();
        let mut days = self.days();
        let slot = days.entry(id.clone()).or_insert((today, 0));
        // Only forward: a clock stepping back must not hand out a second cap for one day.
        if slot.0 < today {
            *slot = (today, 0);
        }
        if let Some(cap) = caller.profile().daily_cap
            && slot.1 >= cap
        {
            return Err(CapSpent {
                cap,
                retry_at: next_day_reset(now),
            });
        }
        slot.1 += 1;
        let (day, used) = *slot;
        if let Some(observer) = &self.observer {
            observer(id, day, used);
        }
        Ok(Charge {
            caller: id.clone(),
            day,
            used,
            usage: UsageKey::of(caller, endpoint),
            booked: Booked::Local,
        })
    }

    /// Takes `charge` off the day it was counted on (nothing when that day is over).
    pub fn refund_now(&self, charge: &Charge) {
        let mut days = self.days();
        if let Some(slot) = days.get_mut(&charge.caller)
            && slot.0 == charge.day
        {
            slot.1 = slot.1.saturating_sub(1);
            if let Some(observer) = &self.observer {
                observer(&charge.caller, slot.0, slot.1);
            }
        }
    }

    fn days(&self) -> std::sync::MutexGuard<'_, HashMap<CallerId, (NaiveDate, u64)>> {
        // Every update is complete before anything can panic: a poisoned map is consistent.
        self.days.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl DailyUse for LocalLedger {
    fn used_today(&self, id: &CallerId) -> u64 {
        let today = self.clock.now().date_naive();
        self.days()
            .get(id)
            .filter(|(day, _)| *day >= today)
            .map_or(0, |(_, used)| *used)
    }
}

impl CallerLedger for LocalLedger {
    fn charge<'a>(
        &'a self,
        caller: &'a Caller,
        endpoint: Endpoint,
    ) -> BoxFuture<'a, Result<Charge, CapSpent>> {
        Box::pin(std::future::ready(self.charge_now(caller, endpoint)))
    }

    fn refund(&self, charge: Charge) -> BoxFuture<'_, ()> {
        self.refund_now(&charge);
        Box::pin(std::future::ready(()))
    }
}
