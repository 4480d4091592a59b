//! Deciding while Redis is unreachable: this replica's share of the limits (a local gate
//! seeded with its part of what the fleet had left), or no calls at all in closed mode.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

use super::view::Known;
use crate::clock::SharedClock;
use crate::config::RedisFailureMode;
use crate::quota::{
    CountSource, Denied, DenyReason, Grant, Limits, LocalGate, Priority, QuotaGate, QuotaSnapshot,
    SyncedUsage, UpstreamSignal,
};

/// What decides while Redis is unreachable.
pub(super) struct Offline {
    mode: RedisFailureMode,
    /// The account's limits (the share is a part of them).
    limits: Limits,
    replicas: u32,
    /// Decides in `local_share` mode; kept up to date in both modes.
    share: LocalGate,
    clock: SharedClock,
    /// How long a closed gate tells callers to wait: until the next probe.
    probe_every: Duration,
    /// How long past 60 s a spend keeps its minute slot (the script's margin).
    margin: TimeDelta,
}

impl Offline {
    /// The share of `limits` one of `replicas` replicas may spend in `mode`.
    pub(super) fn new(
        mode: RedisFailureMode,
        limits: Limits,
        replicas: u32,
        probe_every: Duration,
        arrival_margin: Duration,
        clock: SharedClock,
    ) -> Self {
        Self {
            mode,
            limits,
            replicas,
            share: LocalGate::new(share(limits, replicas), clock.clone())
                .with_arrival_margin(arrival_margin),
            clock,
            probe_every,
            margin: TimeDelta::from_std(arrival_margin).unwrap_or(TimeDelta::zero()),
        }
    }

    /// What the replica does offline, for the log.
    pub(super) fn describe(&self) -> &'static str {
        match self.mode {
            RedisFailureMode::LocalShare => "this replica's share of the limits",
            RedisFailureMode::Closed => "no upstream calls (closed mode)",
        }
    }

    /// Whether the share decides (and its windows are the ones to show).
    pub(super) fn spends(&self) -> bool {
        self.mode == RedisFailureMode::LocalShare
    }

    /// Whether spends made offline have aged out of every minute window by `now_ms`, Redis
    /// having answered since `since_ms`. In closed mode nobody spent offline.
    pub(super) fn settled(&self, since_ms: i64, now_ms: i64) -> bool {
        !self.spends() || now_ms >= since_ms + 60_000 + self.margin.num_milliseconds()
    }

    /// Decides for `priority` without Redis; `None` when Redis came back first. A grant is
    /// the share's: the caller owes it to Redis.
    pub(super) async fn acquire(
        &self,
        priority: Priority,
        deadline: Option<DateTime<Utc>>,
        online: &mut watch::Receiver<bool>,
    ) -> Option<Result<Grant, Denied>> {
        match self.mode {
            RedisFailureMode::Closed => {
                if deadline.is_some() {
                    let retry = TimeDelta::from_std(self.probe_every).unwrap_or(TimeDelta::MAX);
                    return Some(Err(Denied {
                        reason: DenyReason::Closed,
                        retry_at: self
                            .clock
                            .now()
                            .checked_add_signed(retry)
                            .unwrap_or(DateTime::<Utc>::MAX_UTC),
                    }));
                }
                // A background fill waits as long as it takes: for Redis.
                let _ = online.wait_for(|up| *up).await;
                None
            }
            RedisFailureMode::LocalShare => {
                tokio::select! {
                    result = self.share.acquire(priority, deadline) => Some(result),
                    // Back to the shared gate as soon as it answers again (a dropped local
                    // acquire has spent nothing).
                    _ = online.wait_for(|up| *up) => None,
                }
            }
        }
    }

    /// Takes over from Redis: the share counts what the fleet had spent today (`known`, if
    /// read today), so it spends only its part of what was left.
    pub(super) fn take_over(&self, known: Option<Known>) {
        let Some(known) = known else { return };
        self.adopt(SyncedUsage {
            day_used: known.day_used,
            month_used: known.month_used,
        });
        // The minute too: the fleet may already have spent part of it, and this replica
        // may only take its part of what is left.
        let calls = seed_minute(self.limits, self.replicas, known.minute_used);
        // Counted as made at the read plus the margin (later than they were), so they age
        // out no earlier than VirusTotal's own window lets them.
        self.share.seed_minute(known.at + self.margin, calls);
    }

    /// Blocks the share too, in case Redis goes away before the block is pushed.
    pub(super) fn signal(&self, signal: UpstreamSignal) {
        self.share.signal(signal);
    }

    /// Counts the fleet's `usage` (shared or VirusTotal's) in the share.
    pub(super) fn adopt(&self, usage: SyncedUsage) {
        self.share.adopt(seed(self.limits, self.replicas, usage));
    }

    /// Gives back a grant the share made at `at`.
    pub(super) async fn refund(&self, at: DateTime<Utc>) {
        self.share.refund(Grant::local(at)).await;
    }

    /// The share's windows, which are the ones deciding offline.
    pub(super) fn snapshot(
        &self,
        source: CountSource,
        blocked_until: Option<DateTime<Utc>>,
        waiters: usize,
    ) -> QuotaSnapshot {
        let mut snapshot = self.share.snapshot();
        snapshot.blocked_until = snapshot.blocked_until.max(blocked_until);
        snapshot.source = match source {
            synced @ CountSource::Synced { .. } => synced,
            _ => CountSource::Local,
        };
        snapshot.interactive_waiters = waiters;
        snapshot
    }
}

/// This replica's share of `limits` when `replicas` replicas decide offline: each window
/// divided and rounded down, but at least one call per minute so a replica is never mute.
fn share(limits: Limits, replicas: u32) -> Limits {
    let n = replicas.max(1);
    Limits {
        per_minute: (limits.per_minute / n).max(1),
        per_day: limits.per_day / u64::from(n),
        per_month: limits.per_month / u64::from(n),
        too_many_requests_backoff: limits.too_many_requests_backoff,
        reserve_interactive: limits.reserve_interactive / u64::from(n),
    }
}

/// Used counts to give the share gate so that it spends at most its part of what the fleet
/// had left when Redis was last read (`shared` = the shared used counts of the current day
/// and month). Without it every replica would spend a whole share of an almost spent day.
fn seed(limits: Limits, replicas: u32, shared: SyncedUsage) -> SyncedUsage {
    let n = u64::from(replicas.max(1));
    let part = share(limits, replicas);
    let used = |share_limit: u64, limit: u64, shared_used: u64| {
        share_limit.saturating_sub(limit.saturating_sub(shared_used) / n)
    };
    SyncedUsage {
        day_used: used(part.per_day, limits.per_day, shared.day_used),
        month_used: used(part.per_month, limits.per_month, shared.month_used),
    }
}

/// How many calls to count in the share gate's minute window when the fleet had used `used`
/// calls of the minute: the share then leaves this replica `(rate - used) / n` calls for that
/// minute.
fn seed_minute(limits: Limits, replicas: u32, used: u64) -> u32 {
    let n = u64::from(replicas.max(1));
    let part = u64::from(share(limits, replicas).per_minute);
    let left = u64::from(limits.per_minute).saturating_sub(used) / n;
    u32::try_from(part.saturating_sub(left)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_minute: u32, per_day: u64, per_month: u64) -> Limits {
        Limits {
            per_minute,
            per_day,
            per_month,
            too_many_requests_backoff: Duration::from_secs(60),
            reserve_interactive: 0,
        }
    }

    #[test]
    fn the_minute_seed_leaves_this_replica_its_part_of_what_the_fleet_had_left() {
        // 30 a minute, 3 replicas (share 10): 3 used leave 27, so 9 each; seed 1.
        assert_eq!(seed_minute(limits(30, 500, 15_500), 3, 3), 1);
        // A spent minute leaves nothing; an empty one leaves the whole share.
        assert_eq!(seed_minute(limits(30, 500, 15_500), 3, 30), 10);
        assert_eq!(seed_minute(limits(30, 500, 15_500), 3, 0), 0);
    }

    #[test]
    fn a_share_rounds_down_but_keeps_one_call_per_minute() {
        let part = share(limits(4, 500, 15_500), 3);

        assert_eq!(part, limits(1, 166, 5_166));
        assert_eq!(share(limits(4, 500, 15_500), 8).per_minute, 1);
        assert_eq!(share(limits(4, 500, 15_500), 0), limits(4, 500, 15_500));
    }

    #[test]
    fn a_seed_leaves_each_replica_its_part_of_what_the_fleet_had_left() {
        let shared = SyncedUsage {
            day_used: 440,
            month_used: 15_500,
        };

        let seeded = seed(limits(4, 500, 15_500), 2, shared);

        // 60 calls were left today: 30 for this replica out of its share of 250.
        assert_eq!(seeded.day_used, 220);
        assert_eq!(seeded.month_used, 7_750, "the month is spent");
    }
}
