//! What this replica knows of the shared quota: learned from the script's answers, its own
//! upstream signals and adoptions, and turned into waits and snapshots. Pure bookkeeping on
//! the injected clock's time; the gate core holds it under its lock.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};

use super::options::ScriptTime;
use super::owed::{Owed, OwedBlock};
use super::script::{Call, Op, Reply, Status};
use crate::quota::{
    CountSource, DenyReason, Limits, QuotaSnapshot, SyncedUsage, UpstreamSignal, WindowUsage,
    next_day_reset, next_month_reset,
};

/// The replica's view of the shared state, and what it still has to tell Redis.
#[derive(Debug)]
pub(super) struct View {
    /// Redis time minus the injected clock, in ms (0 with [`ScriptTime::Clock`]).
    skew_ms: i64,
    /// The last state read from Redis.
    pub(super) known: Option<Known>,
    /// No slot before then (clock time), as Redis last said.
    not_before: Option<(DateTime<Utc>, DenyReason)>,
    /// VirusTotal blocks us until then (clock time), from Redis or our own signals.
    blocked_until: Option<DateTime<Utc>>,
    /// What Redis has not been told yet.
    pub(super) owed: Owed,
    /// Whether VirusTotal's own counts were adopted, and when.
    pub(super) source: CountSource,
    /// Since when Redis answers again after an outage (Unix ms, Redis time as best known).
    pub(super) back_since_ms: Option<i64>,
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

impl View {
    /// Nothing known yet.
    pub(super) fn new() -> Self {
        Self {
            skew_ms: 0,
            known: None,
            not_before: None,
            blocked_until: None,
            owed: Owed::default(),
            source: CountSource::Redis,
            back_since_ms: None,
        }
    }

    /// Redis's time as best known, from the injected clock's `now`.
    pub(super) fn redis_now(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + TimeDelta::milliseconds(self.skew_ms)
    }

    fn to_clock(&self, redis_ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(redis_ms.saturating_sub(self.skew_ms))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The counts Redis last gave for its current date, if any.
    pub(super) fn known_today(&self, now: DateTime<Utc>) -> Option<Known> {
        let today = self.redis_now(now).date_naive();
        self.known.filter(|known| known.date == today)
    }

    /// The call for `op` on Redis's current date (or `date`, for spends of another day).
    pub(super) fn call(
        &self,
        op: Op,
        date: Option<NaiveDate>,
        now: DateTime<Utc>,
        time: ScriptTime,
    ) -> Call {
        let redis_now = self.redis_now(now);
        Call {
            op,
            date: date.unwrap_or_else(|| redis_now.date_naive()),
            now_ms: (time == ScriptTime::Clock).then(|| redis_now.timestamp_millis()),
        }
    }

    /// The moment no slot comes before (and why), when it is after `now`: what Redis last
    /// said, or a block. Honoured offline too: what Redis last said is the fleet's truth, and
    /// a share must not spend a day the fleet has already spent.
    pub(super) fn wait(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DenyReason)> {
        let blocked = self.blocked_until.map(|until| (until, DenyReason::Blocked));
        [self.not_before, blocked]
            .into_iter()
            .flatten()
            .filter(|(at, _)| *at > now)
            .fold(None, |wait, (at, reason)| match wait {
                Some((known, _)) if at < known => wait,
                _ => Some((at, reason)),
            })
    }

    /// Learns Redis's time and state from the answer to `call`, received at `now`.
    pub(super) fn learn(
        &mut self,
        call: &Call,
        reply: &Reply,
        now: DateTime<Utc>,
        time: ScriptTime,
    ) {
        if time == ScriptTime::Redis {
            self.skew_ms = reply.now_ms - now.timestamp_millis();
        }
        // `Add` and `Refund` may name another day, and their replies carry no counts.
        if matches!(call.op, Op::Add { .. } | Op::Refund { .. })
            || reply.status == Status::WrongDate
        {
            return;
        }
        let redis_now =
            DateTime::from_timestamp_millis(reply.now_ms).unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.known = Some(Known {
            at: now,
            minute_used: reply.minute_used,
            minute_frees_at: self.to_clock(reply.minute_frees_ms),
            date: redis_now.date_naive(),
            day_used: reply.day_used,
            month_used: reply.month_used,
        });
        if let Some(until) = reply.blocked_until_ms {
            self.block_until(self.to_clock(until));
        }
        match (reply.status, reply.reason) {
            // The reserve stops only bulk asks and background fills: not everyone's wait.
            (Status::Denied, Some(DenyReason::Reserve)) => {}
            (Status::Denied, Some(reason)) => {
                let retry =
                    TimeDelta::milliseconds(i64::try_from(reply.retry_ms).unwrap_or(i64::MAX));
                self.not_before = Some((
                    now.checked_add_signed(retry)
                        .unwrap_or(DateTime::<Utc>::MAX_UTC),
                    reason,
                ));
            }
            (Status::Granted, _) => self.not_before = None,
            _ => {}
        }
    }

    /// A refund freed a slot that may come before the one Redis last named.
    pub(super) fn forget_minute_wait(&mut self) {
        if self
            .not_before
            .is_some_and(|(_, reason)| reason != DenyReason::Blocked)
        {
            self.not_before = None;
        }
    }

    fn block_until(&mut self, until: DateTime<Utc>) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }

    /// Blocks on what VirusTotal said at `now`, and owes Redis the block.
    pub(super) fn signal(&mut self, signal: UpstreamSignal, now: DateTime<Utc>, limits: Limits) {
        let redis_now = self.redis_now(now);
        let (until, block) = match signal {
            UpstreamSignal::QuotaExceeded => {
                let midnight = next_day_reset(redis_now) - TimeDelta::milliseconds(self.skew_ms);
                let block = OwedBlock {
                    midnight: Some(redis_now.date_naive()),
                    until_ms: None,
                };
                (midnight, block)
            }
            UpstreamSignal::TooManyRequests => {
                let backoff =
                    TimeDelta::from_std(limits.too_many_requests_backoff).unwrap_or(TimeDelta::MAX);
                let until = now
                    .checked_add_signed(backoff)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                let block = OwedBlock {
                    midnight: None,
                    until_ms: Some(until.timestamp_millis() + self.skew_ms),
                };
                (until, block)
            }
        };
        self.block_until(until);
        self.owed.add_block(block);
    }

    /// Takes VirusTotal's counts adopted at `now`, and owes them to Redis.
    pub(super) fn adopt(&mut self, usage: SyncedUsage, now: DateTime<Utc>) {
        let date = self.redis_now(now).date_naive();
        if let Some(known) = self.known.as_mut()
            && known.date == date
        {
            known.day_used = known.day_used.max(usage.day_used);
            known.month_used = known.month_used.max(usage.month_used);
        }
        self.owed.add_adopt(date, usage);
        self.source = CountSource::Synced { at: now };
    }

    /// The block still running at `now`.
    pub(super) fn blocked_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.blocked_until.filter(|until| *until > now)
    }

    /// The shared counters as last read (also in closed mode while Redis is away: nothing is
    /// counted anywhere else then).
    pub(super) fn snapshot(
        &self,
        now: DateTime<Utc>,
        limits: Limits,
        waiters: usize,
    ) -> QuotaSnapshot {
        let redis_now = self.redis_now(now);
        let skew = TimeDelta::milliseconds(self.skew_ms);
        let today = redis_now.date_naive();
        let known = self.known_today(now);
        let same_month = self
            .known
            .is_some_and(|k| (k.date.year(), k.date.month()) == (today.year(), today.month()));
        // Counts are as of the last reading (refreshed every few seconds); a reading older
        // than a minute says nothing about the current minute.
        let minute = self
            .known
            .filter(|k| now < k.at + TimeDelta::seconds(60) && k.minute_used > 0)
            .map_or((0, now), |k| (k.minute_used, k.minute_frees_at));
        QuotaSnapshot {
            minute: WindowUsage {
                limit: u64::from(limits.per_minute),
                used: minute.0,
                resets_at: minute.1,
            },
            day: WindowUsage {
                limit: limits.per_day,
                used: known.map_or(0, |k| k.day_used),
                resets_at: next_day_reset(redis_now) - skew,
            },
            month: WindowUsage {
                limit: limits.per_month,
                used: if same_month {
                    self.known.map_or(0, |k| k.month_used)
                } else {
                    0
                },
                resets_at: next_month_reset(redis_now) - skew,
            },
            blocked_until: self.blocked_at(now),
            source: match self.source {
                synced @ CountSource::Synced { .. } => synced,
                _ => CountSource::Redis,
            },
            interactive_waiters: waiters,
        }
    }
}
