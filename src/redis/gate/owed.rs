//! While Redis is unreachable: this replica's share of the limits, and what it owes the
//! shared counters once Redis answers again.

use chrono::{DateTime, NaiveDate, Utc};

use crate::quota::{Limits, SyncedUsage};

/// Extra time before a spend leaves the minute window: VirusTotal counts calls when they
/// arrive, a little after they were granted.
pub const MINUTE_MARGIN_MS: i64 = 1_000;

/// This replica's share of `limits` when `replicas` replicas decide alone: each window
/// divided and rounded down, but at least one call per minute so a replica is never mute.
pub fn share(limits: Limits, replicas: u32) -> Limits {
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
pub fn seed(limits: Limits, replicas: u32, shared: SyncedUsage) -> SyncedUsage {
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

/// How many calls to count in the share gate's minute window, and at which moment, when the
/// fleet had used `used` calls of the minute before `read_at`: the share then leaves this
/// replica `(rate - used) / n` calls for that minute. They are counted as made at `read_at`
/// plus the margin (later than they were), so they age out no earlier than VirusTotal's own
/// window lets them.
pub fn seed_minute(
    limits: Limits,
    replicas: u32,
    used: u64,
    read_at: DateTime<Utc>,
) -> (u32, DateTime<Utc>) {
    let n = u64::from(replicas.max(1));
    let part = u64::from(share(limits, replicas).per_minute);
    let left = u64::from(limits.per_minute).saturating_sub(used) / n;
    let count = u32::try_from(part.saturating_sub(left)).unwrap_or(u32::MAX);
    (
        count,
        read_at + chrono::Duration::milliseconds(MINUTE_MARGIN_MS),
    )
}

/// Spends of one UTC day not yet added to the shared counters, under an id that makes adding
/// them idempotent: a flush whose answer was lost is retried with the same id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Unique across replicas and restarts (the replica's random id and a sequence).
    pub id: String,
    /// The UTC day (Redis time) the spends belong to.
    pub date: NaiveDate,
    /// Times of the spends (Unix ms, Redis time as best known).
    pub grants: Vec<i64>,
}

/// A block signalled while its push to Redis is outstanding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingBlock {
    /// QuotaExceeded: block until the midnight after this (Redis) date.
    pub midnight: Option<NaiveDate>,
    /// TooManyRequests: block until this Unix ms (Redis time as best known).
    pub until_ms: Option<i64>,
}

/// One spend to take back from the shared counters (its call never reached VirusTotal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// Unique across replicas and restarts; Redis applies each id at most once.
    pub id: String,
    /// The UTC day (Redis time) the spend was counted on.
    pub date: NaiveDate,
    /// The spend's minute-log member (`None` for a spend added from a fallback batch).
    pub member: Option<String>,
}

/// What this replica owes the shared state.
#[derive(Debug, Default)]
pub struct Pending {
    /// Spends not yet put in a batch: (Unix ms, Redis date).
    spends: Vec<(i64, NaiveDate)>,
    /// Spends to take back, in the order they were given back.
    pub refunds: Vec<Refund>,
    batches: Vec<Batch>,
    next_batch: u64,
    pub block: PendingBlock,
    /// VirusTotal's own counts for a (Redis) date.
    pub adopt: Option<(NaiveDate, SyncedUsage)>,
    /// Since when Redis answers again after an outage (Unix ms, Redis time as best known).
    pub back_since_ms: Option<i64>,
}

impl Pending {
    /// Records one call granted by the share gate.
    pub fn record_spend(&mut self, at_ms: i64, date: NaiveDate) {
        self.spends.push((at_ms, date));
    }

    /// Forgets a spend not yet put in a batch; `false` when it is already in one (and may
    /// already be in Redis), so it has to be taken back there.
    pub fn forget_spend(&mut self, at_ms: i64, date: NaiveDate) -> bool {
        match self
            .spends
            .iter()
            .rposition(|spend| *spend == (at_ms, date))
        {
            Some(index) => {
                self.spends.remove(index);
                true
            }
            None => false,
        }
    }

    /// Forgets a refund Redis has applied.
    pub fn refunded(&mut self, id: &str) {
        self.refunds.retain(|r| r.id != id);
    }

    /// Whether spends are still to be added.
    pub fn owes_spends(&self) -> bool {
        !self.spends.is_empty() || !self.batches.is_empty()
    }

    /// Puts the spends recorded since the last call into new batches (one per day, ids
    /// named after `replica`) and returns every batch still to be added. A batch, once
    /// returned, never changes: a retry must add exactly what the first attempt may have.
    pub fn batches(&mut self, replica: &str) -> Vec<Batch> {
        let mut spends = std::mem::take(&mut self.spends);
        spends.sort_unstable_by_key(|(at, date)| (*date, *at));
        let mut fresh: Vec<Batch> = Vec::new();
        for (at, date) in spends {
            match fresh.last_mut() {
                Some(batch) if batch.date == date => batch.grants.push(at),
                _ => {
                    fresh.push(Batch {
                        id: format!("{replica}:{}", self.next_batch),
                        date,
                        grants: vec![at],
                    });
                    self.next_batch += 1;
                }
            }
        }
        self.batches.extend(fresh);
        self.batches.clone()
    }

    /// Forgets a batch Redis has taken.
    pub fn added(&mut self, id: &str) {
        self.batches.retain(|b| b.id != id);
    }

    /// Merges a block, keeping the longer of each kind.
    pub fn add_block(&mut self, block: PendingBlock) {
        self.block.midnight = self.block.midnight.max(block.midnight);
        self.block.until_ms = self.block.until_ms.max(block.until_ms);
    }

    /// Clears what was pushed, unless a newer signal raised it meanwhile.
    pub fn block_pushed(&mut self, pushed: PendingBlock) {
        if self.block.midnight == pushed.midnight {
            self.block.midnight = None;
        }
        if self.block.until_ms == pushed.until_ms {
            self.block.until_ms = None;
        }
    }

    /// Merges VirusTotal's counts for `date`, keeping the higher of each.
    pub fn add_adopt(&mut self, date: NaiveDate, usage: SyncedUsage) {
        let merged = match self.adopt {
            Some((known, prior)) if known == date => SyncedUsage {
                day_used: prior.day_used.max(usage.day_used),
                month_used: prior.month_used.max(usage.month_used),
            },
            _ => usage,
        };
        self.adopt = Some((date, merged));
    }
}

/// Unix ms of a moment.
pub fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    #[test]
    fn the_minute_seed_leaves_this_replica_its_part_of_what_the_fleet_had_left() {
        let frees = DateTime::parse_from_rfc3339("2026-03-10T08:00:40Z")
            .unwrap()
            .to_utc();
        // 30 a minute, 3 replicas (share 10): 3 used leave 27, so 9 each; seed 1.
        let (count, at) = seed_minute(limits(30, 500, 15_500), 3, 3, frees);
        assert_eq!(count, 1);
        assert_eq!(
            at,
            frees + chrono::Duration::seconds(1),
            "counted late, never early"
        );
        // A spent minute leaves nothing; an empty one leaves the whole share.
        assert_eq!(seed_minute(limits(30, 500, 15_500), 3, 30, frees).0, 10);
        assert_eq!(seed_minute(limits(30, 500, 15_500), 3, 0, frees).0, 0);
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

    #[test]
    fn spends_are_batched_per_day_and_a_sent_batch_never_grows() {
        let mut pending = Pending::default();
        pending.record_spend(10, date(1));
        pending.record_spend(20, date(2));
        pending.record_spend(11, date(1));

        let first = pending.batches("r");
        pending.record_spend(12, date(1));
        let second = pending.batches("r");

        assert_eq!(first.len(), 2);
        assert_eq!(first[0].grants, vec![10, 11]);
        assert_eq!(second.len(), 3, "the sent day-1 batch kept its content");
        assert_eq!(second[..2], first[..]);
        assert_eq!(second[2].grants, vec![12]);
        let ids: std::collections::HashSet<_> = second.iter().map(|b| &b.id).collect();
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn a_spend_given_back_before_its_batch_is_never_owed() {
        let mut pending = Pending::default();
        pending.record_spend(10, date(1));
        pending.record_spend(11, date(1));

        let forgotten = pending.forget_spend(10, date(1));
        let batches = pending.batches("r");

        assert!(forgotten);
        assert_eq!(batches[0].grants, vec![11], "only the spend VirusTotal saw");
        assert!(
            !pending.forget_spend(11, date(1)),
            "a batched spend is taken back in Redis instead"
        );
    }

    #[test]
    fn an_added_batch_is_owed_no_more() {
        let mut pending = Pending::default();
        pending.record_spend(10, date(1));
        let batch = pending.batches("r").remove(0);

        pending.added(&batch.id);

        assert!(!pending.owes_spends());
    }

    #[test]
    fn a_pushed_block_is_cleared_unless_a_longer_one_arrived_meanwhile() {
        let mut pending = Pending::default();
        let first = PendingBlock {
            midnight: Some(date(1)),
            until_ms: Some(100),
        };
        pending.add_block(first);
        pending.add_block(PendingBlock {
            midnight: None,
            until_ms: Some(200),
        });

        pending.block_pushed(first);

        assert_eq!(
            pending.block,
            PendingBlock {
                midnight: None,
                until_ms: Some(200)
            }
        );
    }
}
