//! In-process quota gate: exact per-minute rate, UTC day and month budgets, upstream blocks.
//!
//! Why a sliding log for the minute: VirusTotal allows "at most 4 requests of any nature in any
//! given 1 minute time frame". A token bucket or GCRA with a burst above 1 (e.g. governor with
//! burst 4) refills continuously, so after the burst one more token arrives within the same 60 s
//! and 5 calls land in one window. GCRA with burst 1 is safe but spaces calls 15 s apart, so a
//! 4-IP investigation waits 45 s for its last answer. Keeping the times of the last `per_minute`
//! grants is exact: a slot is free when fewer than `per_minute` grants lie in (now-60s, now], and
//! otherwise frees when the oldest of them turns 60 s old; the first 4 calls go at once.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::TimeDelta;
use tokio::sync::Notify;

use super::windows::{DayKey, MonthKey, day_key, month_key, next_day_reset, next_month_reset};
use super::*;
use crate::clock::SharedClock;

/// The minute window VirusTotal counts in; the gate adds the arrival margin to it: the gate
/// sees grant times, VirusTotal counts arrival times, and a call granted 60 s after another
/// may arrive less than 60 s after it when the earlier one was slower on the way. The margin
/// (default one second, [`super::DEFAULT_ARRIVAL_MARGIN`]) keeps every 60 s window of
/// arrivals within the rate.
const VT_MINUTE: TimeDelta = TimeDelta::seconds(60);

/// A quota gate counting the calls of this process only.
pub struct LocalGate {
    limits: Limits,
    clock: SharedClock,
    state: Mutex<State>,
    // Woken on every change that can move a waiter's earliest slot, so waiters re-decide instead
    // of sleeping past a slot that freed early or a deadline that became unreachable.
    changed: Notify,
    waiters: Waiters,
    /// Told the day/month counts after every change, before the granted call is made, so a
    /// durable store can keep them across restarts.
    observer: Option<CountsObserver>,
}

/// Receives the day and month counts after each change.
pub type CountsObserver = Box<dyn Fn(&UsedCounts) + Send + Sync>;

struct State {
    /// Times of the last `per_minute` grants, oldest first.
    grants: VecDeque<DateTime<Utc>>,
    /// True while `grants` is in time order (false once the clock stepped back).
    in_order: bool,
    day: DayKey,
    day_used: u64,
    month: MonthKey,
    month_used: u64,
    blocked_until: Option<DateTime<Utc>>,
    source: CountSource,
    /// The minute plus the arrival margin: how long a grant occupies its slot.
    window: TimeDelta,
}

/// What a caller may do right now.
enum Decision {
    Grant,
    /// No slot before `earliest`; `reason` names the limit that decided it.
    Wait {
        earliest: DateTime<Utc>,
        reason: DenyReason,
    },
    /// A slot is free but a caller ahead in line is waiting for it.
    Yield,
}

impl LocalGate {
    /// Continues from counts saved before a restart: the day and month counts of the current
    /// windows (those of a day or month that has ended are ignored) and the grants of the
    /// last minute, so a restarted gate still refuses what the minute has no room for.
    pub fn restore(&self, saved: &UsedCounts) {
        let now = self.clock.now();
        let mut state = self.state();
        state.roll(now);
        if saved.day == state.day {
            state.day_used = state.day_used.max(saved.day_used);
        }
        if saved.month == state.month {
            state.month_used = state.month_used.max(saved.month_used);
        }
        let mut minute = saved.minute.clone();
        minute.sort_unstable();
        for at in minute {
            state.push_grant(at, self.limits.per_minute);
        }
        state.roll(now);
        drop(state);
        self.changed.notify_waiters();
    }

    /// Counts `count` calls made elsewhere at `at` in the minute window (as if granted then),
    /// so a gate taking over mid-minute leaves room only for what that minute has left.
    pub fn seed_minute(&self, at: DateTime<Utc>, count: u32) {
        let mut state = self.state();
        for _ in 0..count {
            state.push_grant(at, self.limits.per_minute);
        }
        drop(state);
        self.changed.notify_waiters();
    }

    /// Takes the grant made at `at` out of the minute window and the day and month counts
    /// it was booked in (its call never reached VirusTotal).
    fn give_back(&self, at: DateTime<Utc>) {
        let mut state = self.state();
        state.roll(self.clock.now());
        if let Some(index) = state.grants.iter().rposition(|granted| *granted == at) {
            state.grants.remove(index);
        }
        // Only the windows the grant was counted in: after midnight it belongs to a day
        // that is over, and today's count never held it.
        if day_key(at) == state.day {
            state.day_used = state.day_used.saturating_sub(1);
        }
        if month_key(at) == state.month {
            state.month_used = state.month_used.saturating_sub(1);
        }
        drop(state);
        self.notify_counts();
        self.changed.notify_waiters();
    }

    /// Registers the observer told the counts after every grant and adoption.
    pub fn on_change(mut self, observer: CountsObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    fn notify_counts(&self) {
        if let Some(observer) = &self.observer {
            // Told under the lock, so concurrent grants reach the observer in order and a
            // later, lower count can never overwrite a higher one.
            let state = self.state();
            observer(&state.counts());
        }
    }

    /// A gate with these limits, with nothing used yet.
    pub fn new(limits: Limits, clock: SharedClock) -> Self {
        let now = clock.now();
        let state = State {
            grants: VecDeque::with_capacity((limits.per_minute as usize).min(4096)),
            in_order: true,
            day: day_key(now),
            day_used: 0,
            month: month_key(now),
            month_used: 0,
            blocked_until: None,
            source: CountSource::Local,
            window: window(super::DEFAULT_ARRIVAL_MARGIN),
        };
        Self {
            limits,
            clock,
            observer: None,
            state: Mutex::new(state),
            changed: Notify::new(),
            waiters: Waiters::default(),
        }
    }

    /// Keeps each grant in the minute window for `margin` beyond 60 s (see [`VT_MINUTE`]).
    pub fn with_arrival_margin(self, margin: Duration) -> Self {
        self.state().window = window(margin);
        self
    }

    /// The limits this gate enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update below is complete before anything can panic, so a poisoned state is
        // still consistent and refusing all further calls would be worse than using it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides for `priority` at `now`, recording the grant when there is one.
    fn try_grant(&self, priority: Priority, now: DateTime<Utc>) -> Decision {
        let mut state = self.state();
        state.roll(now);
        let (earliest, reason) = state.earliest(now, &self.limits, priority);
        if earliest > now {
            return Decision::Wait { earliest, reason };
        }
        if self.waiters.ahead_of(priority) > 0 {
            return Decision::Yield;
        }
        state.record(now, self.limits.per_minute);
        Decision::Grant
    }
}

/// How long a grant occupies its minute slot with `margin` of arrival jitter.
fn window(margin: Duration) -> TimeDelta {
    VT_MINUTE + TimeDelta::from_std(margin).unwrap_or(TimeDelta::zero())
}

impl State {
    fn counts(&self) -> UsedCounts {
        UsedCounts {
            day: self.day,
            day_used: self.day_used,
            month: self.month,
            month_used: self.month_used,
            minute: self.grants.iter().copied().collect(),
        }
    }

    /// Starts a fresh day or month once `now` has entered one.
    fn roll(&mut self, now: DateTime<Utc>) {
        // Only forward: a clock stepping back must not hand out a second budget for the same day.
        if day_key(now) > self.day {
            self.day = day_key(now);
            self.day_used = 0;
        }
        if month_key(now) > self.month {
            self.month = month_key(now);
            self.month_used = 0;
        }
        if self.blocked_until.is_some_and(|until| until <= now) {
            self.blocked_until = None;
        }
        if self.in_order {
            while self
                .grants
                .front()
                .is_some_and(|at| *at <= now - self.window)
            {
                self.grants.pop_front();
            }
        }
    }

    /// How many grants lie in the minute window ending at `now`, and when the oldest of them ages out.
    fn minute_window(&self, now: DateTime<Utc>) -> (usize, Option<DateTime<Utc>>) {
        // Fast path: grants in time order and pruned by `roll`, so all of them are in the
        // window. High limits (benchmarks, premium keys) keep thousands of grants here.
        if self.in_order {
            let aged = self
                .grants
                .iter()
                .take_while(|at| **at <= now - self.window)
                .count();
            let oldest = self.grants.get(aged).map(|at| *at + self.window);
            return (self.grants.len() - aged, oldest);
        }
        // Grants after `now` (the clock stepped back) still count: they really happened.
        let in_window = || self.grants.iter().filter(|at| **at > now - self.window);
        let frees_at = in_window().min().map(|oldest| *oldest + self.window);
        (in_window().count(), frees_at)
    }

    fn next_minute_slot(&self, now: DateTime<Utc>, per_minute: u32) -> DateTime<Utc> {
        match self.minute_window(now) {
            (used, _) if used < per_minute as usize => now,
            (_, Some(frees_at)) => frees_at,
            // A zero rate never frees a slot.
            (_, None) => DateTime::<Utc>::MAX_UTC,
        }
    }

    /// The earliest moment a slot may be granted to `priority`, and the limit that decides it.
    fn earliest(
        &self,
        now: DateTime<Utc>,
        limits: &Limits,
        priority: Priority,
    ) -> (DateTime<Utc>, DenyReason) {
        let mut earliest = (
            self.next_minute_slot(now, limits.per_minute),
            DenyReason::Minute,
        );
        let mut consider = |at: DateTime<Utc>, reason: DenyReason| {
            // On a tie the later listed, longer-lived cause is the more useful one to report.
            if at >= earliest.0 {
                earliest = (at, reason);
            }
        };
        if let Some(until) = self.blocked_until {
            consider(until, DenyReason::Blocked);
        }
        if self.day_used >= limits.per_day {
            consider(next_day_reset(now), DenyReason::Day);
        } else if priority.keeps_off_reserve()
            && self.day_used + limits.reserve_interactive >= limits.per_day
        {
            consider(next_day_reset(now), DenyReason::Reserve);
        }
        if self.month_used >= limits.per_month {
            consider(next_month_reset(now), DenyReason::Month);
        }
        earliest
    }

    fn record(&mut self, now: DateTime<Utc>, per_minute: u32) {
        self.push_grant(now, per_minute);
        self.day_used += 1;
        self.month_used += 1;
    }

    /// Logs a grant at `at` in the minute window, keeping the last `per_minute` of them.
    fn push_grant(&mut self, at: DateTime<Utc>, per_minute: u32) {
        if self.grants.back().is_some_and(|last| *last > at) {
            self.in_order = false;
        }
        self.grants.push_back(at);
        while self.grants.len() > per_minute as usize {
            self.grants.pop_front();
        }
    }

    fn block_until(&mut self, until: DateTime<Utc>) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |known| known.max(until)));
    }
}

impl QuotaGate for LocalGate {
    fn acquire(
        &self,
        priority: Priority,
        deadline: Option<DateTime<Utc>>,
    ) -> BoxFuture<'_, Result<Grant, Denied>> {
        Box::pin(async move {
            let _waiting = self.waiters.enter(priority, &self.changed);
            loop {
                // Listen before deciding, so a change made between the decision and the wait
                // still wakes us.
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();

                let now = self.clock.now();
                match self.try_grant(priority, now) {
                    Decision::Grant => {
                        self.notify_counts();
                        self.changed.notify_waiters();
                        return Ok(Grant::local(now));
                    }
                    Decision::Wait { earliest, reason } => {
                        if let Some(deadline) = deadline
                            && earliest > deadline
                        {
                            return Err(Denied {
                                reason,
                                retry_at: earliest,
                            });
                        }
                        let wake_at = deadline.map_or(earliest, |d| d.min(earliest));
                        tokio::select! {
                            () = self.clock.sleep_until(wake_at) => {}
                            () = &mut changed => {}
                        }
                    }
                    // The waiter ahead takes the slot on its own wake-up and notifies.
                    Decision::Yield => changed.await,
                }
            }
        })
    }

    fn refund(&self, grant: Grant) -> BoxFuture<'_, ()> {
        self.give_back(grant.at);
        Box::pin(std::future::ready(()))
    }

    fn signal(&self, signal: UpstreamSignal) {
        let now = self.clock.now();
        let until = match signal {
            // VirusTotal does not say which window ran out. The day is the shortest calendar
            // window; if it was the month, the first call after midnight is refused again and
            // blocks us once more, costing one call a day.
            UpstreamSignal::QuotaExceeded => next_day_reset(now),
            UpstreamSignal::TooManyRequests => {
                TimeDelta::from_std(self.limits.too_many_requests_backoff)
                    .ok()
                    .and_then(|backoff| now.checked_add_signed(backoff))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            }
        };
        self.state().block_until(until);
        self.changed.notify_waiters();
    }

    fn adopt(&self, usage: SyncedUsage) {
        let now = self.clock.now();
        let mut state = self.state();
        state.roll(now);
        state.day_used = state.day_used.max(usage.day_used);
        state.month_used = state.month_used.max(usage.month_used);
        state.source = CountSource::Synced { at: now };
        drop(state);
        self.notify_counts();
        self.changed.notify_waiters();
    }

    fn snapshot(&self) -> QuotaSnapshot {
        let now = self.clock.now();
        let mut state = self.state();
        state.roll(now);
        let (minute_used, minute_frees_at) = state.minute_window(now);
        QuotaSnapshot {
            minute: WindowUsage {
                limit: u64::from(self.limits.per_minute),
                used: minute_used as u64,
                resets_at: minute_frees_at.unwrap_or(now),
            },
            day: WindowUsage {
                limit: self.limits.per_day,
                used: state.day_used,
                resets_at: next_day_reset(now),
            },
            month: WindowUsage {
                limit: self.limits.per_month,
                used: state.month_used,
                resets_at: next_month_reset(now),
            },
            blocked_until: state.blocked_until,
            source: state.source,
            interactive_waiters: self.waiters.total(),
        }
    }
}

/// The window with the default arrival margin, as the tests see it.
#[cfg(test)]
const MINUTE: TimeDelta = TimeDelta::seconds(61);

#[cfg(test)]
mod refund_tests;
#[cfg(test)]
mod tests;
