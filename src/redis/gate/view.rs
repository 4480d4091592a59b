//! What this replica knows of the shared quota: asking the script and learning from its
//! answers, its own signals and adoptions, and the snapshot built from all of it.

use std::sync::{MutexGuard, PoisonError};

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};

use super::backend::BackendError;
use super::fallback::{self, Pending, PendingBlock, ms};
use super::gate::{Inner, ScriptTime};
use super::script::{Call, Op, Reply, Status};
use crate::config::RedisFailureMode;
use crate::quota::{
    CountSource, DenyReason, QuotaGate, QuotaSnapshot, SyncedUsage, UpstreamSignal, WindowUsage,
    next_day_reset, next_month_reset,
};

/// The replica's view of the shared state, and what it still has to tell Redis.
pub(super) struct State {
    /// Redis time minus the injected clock, in ms (0 with [`ScriptTime::Clock`]).
    pub(super) skew_ms: i64,
    /// The last state read from Redis.
    pub(super) known: Option<Known>,
    /// No slot before then (clock time), as Redis last said.
    pub(super) not_before: Option<(DateTime<Utc>, DenyReason)>,
    /// VirusTotal blocks us until then (clock time), from Redis or our own signals.
    pub(super) blocked_until: Option<DateTime<Utc>>,
    /// What Redis has not been told yet.
    pub(super) pending: Pending,
    /// Whether VirusTotal's own counts were adopted, and when.
    pub(super) source: CountSource,
    /// Interactive callers' requests of this replica waiting for a slot.
    pub(super) interactive_waiters: usize,
    /// Bulk callers' requests of this replica waiting for a slot.
    pub(super) bulk_waiters: usize,
}

/// The shared counts as of one script answer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Known {
    /// When it was read (clock time).
    pub(super) at: DateTime<Utc>,
    pub(super) minute_used: u64,
    pub(super) minute_frees_at: DateTime<Utc>,
    /// Redis's UTC date at the reading.
    pub(super) date: NaiveDate,
    pub(super) day_used: u64,
    pub(super) month_used: u64,
}

impl Inner {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        // Every update is complete before anything can panic, so a poisoned state is still
        // consistent, and refusing every call would be worse than using it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn is_shared(&self) -> bool {
        *self.shared.borrow()
    }

    /// Redis's time as best known, from the injected clock.
    pub(super) fn redis_now(&self, state: &State) -> DateTime<Utc> {
        self.clock.now() + TimeDelta::milliseconds(state.skew_ms)
    }

    fn to_clock(&self, state: &State, redis_ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(redis_ms.saturating_sub(state.skew_ms))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Runs one script call for Redis's current date (or `date` for spends of another day),
    /// learning Redis's time and state from the answer.
    pub(super) async fn ask(&self, op: Op, date: Option<NaiveDate>) -> Result<Reply, BackendError> {
        // A wrong date only happens around midnight on a replica whose clock is off; the
        // answer corrects the skew, so the second try names the right date.
        for _ in 0..3 {
            let call = {
                let state = self.state();
                let now = self.redis_now(&state);
                Call {
                    op: op.clone(),
                    date: date.unwrap_or_else(|| now.date_naive()),
                    now_ms: (self.options.time == ScriptTime::Clock).then(|| ms(now)),
                }
            };
            let reply = self
                .backend
                .run(|mut conn| {
                    let call = &call;
                    async move { self.script.call(&mut conn, call).await }
                })
                .await?;
            self.learn(&call, &reply);
            if reply.status != Status::WrongDate {
                return Ok(reply);
            }
        }
        Err(BackendError::Clock)
    }

    pub(super) fn learn(&self, call: &Call, reply: &Reply) {
        let now = self.clock.now();
        let mut state = self.state();
        if self.options.time == ScriptTime::Redis {
            state.skew_ms = reply.now_ms - ms(now);
        }
        // `Add` and `Refund` may name another day, and their replies carry no counts.
        if matches!(call.op, Op::Add { .. } | Op::Refund { .. })
            || reply.status == Status::WrongDate
        {
            return;
        }
        let redis_now =
            DateTime::from_timestamp_millis(reply.now_ms).unwrap_or(DateTime::<Utc>::MAX_UTC);
        state.known = Some(Known {
            at: now,
            minute_used: reply.minute_used,
            minute_frees_at: self.to_clock(&state, reply.minute_frees_ms),
            date: redis_now.date_naive(),
            day_used: reply.day_used,
            month_used: reply.month_used,
        });
        if let Some(until) = reply.blocked_until_ms {
            let until = self.to_clock(&state, until);
            state.blocked_until = Some(state.blocked_until.map_or(until, |b| b.max(until)));
        }
        match (reply.status, reply.reason) {
            // The reserve stops only bulk asks and background fills: not everyone's wait.
            (Status::Denied, Some(DenyReason::Reserve)) => {}
            (Status::Denied, Some(reason)) => {
                let retry =
                    TimeDelta::milliseconds(i64::try_from(reply.retry_ms).unwrap_or(i64::MAX));
                state.not_before = Some((
                    now.checked_add_signed(retry)
                        .unwrap_or(DateTime::<Utc>::MAX_UTC),
                    reason,
                ));
            }
            (Status::Granted, _) => state.not_before = None,
            _ => {}
        }
    }

    pub(super) fn signal(&self, signal: UpstreamSignal) {
        let mut state = self.state();
        let now = self.clock.now();
        let redis_now = self.redis_now(&state);
        let (until, block) = match signal {
            UpstreamSignal::QuotaExceeded => {
                let midnight = next_day_reset(redis_now) - TimeDelta::milliseconds(state.skew_ms);
                let block = PendingBlock {
                    midnight: Some(redis_now.date_naive()),
                    until_ms: None,
                };
                (midnight, block)
            }
            UpstreamSignal::TooManyRequests => {
                let backoff = TimeDelta::from_std(self.limits.too_many_requests_backoff)
                    .unwrap_or(TimeDelta::MAX);
                let until = now
                    .checked_add_signed(backoff)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                let block = PendingBlock {
                    midnight: None,
                    until_ms: Some(ms(until) + state.skew_ms),
                };
                (until, block)
            }
        };
        state.blocked_until = Some(state.blocked_until.map_or(until, |b| b.max(until)));
        state.pending.add_block(block);
        drop(state);
        self.fallback.signal(signal);
        self.wake_sync.notify_one();
        self.changed.notify_waiters();
    }

    pub(super) fn adopt(&self, usage: SyncedUsage) {
        let mut state = self.state();
        let now = self.clock.now();
        let date = self.redis_now(&state).date_naive();
        if let Some(known) = state.known.as_mut()
            && known.date == date
        {
            known.day_used = known.day_used.max(usage.day_used);
            known.month_used = known.month_used.max(usage.month_used);
        }
        state.pending.add_adopt(date, usage);
        state.source = CountSource::Synced { at: now };
        drop(state);
        self.fallback
            .adopt(fallback::seed(self.limits, self.replicas, usage));
        self.wake_sync.notify_one();
        self.changed.notify_waiters();
    }

    pub(super) fn snapshot(&self) -> QuotaSnapshot {
        let now = self.clock.now();
        let state = self.state();
        let blocked_until = state.blocked_until.filter(|until| *until > now);
        // While alone, the share gate's windows are the ones that decide.
        if !self.is_shared() && self.failure_mode == RedisFailureMode::LocalShare {
            let source = match state.source {
                synced @ CountSource::Synced { .. } => synced,
                _ => CountSource::Local,
            };
            let interactive_waiters = state.interactive_waiters + state.bulk_waiters;
            drop(state);
            let mut snapshot = self.fallback.snapshot();
            snapshot.blocked_until = snapshot.blocked_until.max(blocked_until);
            snapshot.source = source;
            snapshot.interactive_waiters = interactive_waiters;
            return snapshot;
        }
        let redis_now = self.redis_now(&state);
        let skew = TimeDelta::milliseconds(state.skew_ms);
        let known = state.known.filter(|k| k.date == redis_now.date_naive());
        let today = redis_now.date_naive();
        let same_month = state
            .known
            .is_some_and(|k| (k.date.year(), k.date.month()) == (today.year(), today.month()));
        // Counts are as of the last reading (refreshed every few seconds); a reading older
        // than a minute says nothing about the current minute.
        let minute = state
            .known
            .filter(|k| now < k.at + TimeDelta::seconds(60) && k.minute_used > 0)
            .map_or((0, now), |k| (k.minute_used, k.minute_frees_at));
        QuotaSnapshot {
            minute: WindowUsage {
                limit: u64::from(self.limits.per_minute),
                used: minute.0,
                resets_at: minute.1,
            },
            day: WindowUsage {
                limit: self.limits.per_day,
                used: known.map_or(0, |k| k.day_used),
                resets_at: next_day_reset(redis_now) - skew,
            },
            month: WindowUsage {
                limit: self.limits.per_month,
                used: if same_month {
                    state.known.map_or(0, |k| k.month_used)
                } else {
                    0
                },
                resets_at: next_month_reset(redis_now) - skew,
            },
            blocked_until,
            // The shared counters, as last read (also in closed mode while Redis is away:
            // nothing is counted anywhere else then).
            source: match state.source {
                synced @ CountSource::Synced { .. } => synced,
                _ => CountSource::Redis,
            },
            interactive_waiters: state.interactive_waiters + state.bulk_waiters,
        }
    }
}
