//! What this replica owes the shared counters: spends made offline (in idempotent batches),
//! refunds, blocks and adopted counts not yet pushed to Redis.

use chrono::NaiveDate;

use crate::quota::SyncedUsage;

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
pub struct OwedBlock {
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
    /// The spend's minute-log member (`None` for a spend added from an offline batch).
    pub member: Option<String>,
}

/// What this replica owes the shared state.
#[derive(Debug, Default)]
pub struct Owed {
    /// Spends not yet put in a batch: (Unix ms, Redis date).
    spends: Vec<(i64, NaiveDate)>,
    /// Spends to take back, in the order they were given back.
    pub refunds: Vec<Refund>,
    batches: Vec<Batch>,
    next_batch: u64,
    pub block: OwedBlock,
    /// VirusTotal's own counts for a (Redis) date.
    pub adopt: Option<(NaiveDate, SyncedUsage)>,
}

impl Owed {
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
    pub fn add_block(&mut self, block: OwedBlock) {
        self.block.midnight = self.block.midnight.max(block.midnight);
        self.block.until_ms = self.block.until_ms.max(block.until_ms);
    }

    /// Clears what was pushed, unless a newer signal raised it meanwhile.
    pub fn block_pushed(&mut self, pushed: OwedBlock) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    #[test]
    fn spends_are_batched_per_day_and_a_sent_batch_never_grows() {
        let mut owed = Owed::default();
        owed.record_spend(10, date(1));
        owed.record_spend(20, date(2));
        owed.record_spend(11, date(1));

        let first = owed.batches("r");
        owed.record_spend(12, date(1));
        let second = owed.batches("r");

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
        let mut owed = Owed::default();
        owed.record_spend(10, date(1));
        owed.record_spend(11, date(1));

        let forgotten = owed.forget_spend(10, date(1));
        let batches = owed.batches("r");

        assert!(forgotten);
        assert_eq!(batches[0].grants, vec![11], "only the spend VirusTotal saw");
        assert!(
            !owed.forget_spend(11, date(1)),
            "a batched spend is taken back in Redis instead"
        );
    }

    #[test]
    fn an_added_batch_is_owed_no_more() {
        let mut owed = Owed::default();
        owed.record_spend(10, date(1));
        let batch = owed.batches("r").remove(0);

        owed.added(&batch.id);

        assert!(!owed.owes_spends());
    }

    #[test]
    fn a_pushed_block_is_cleared_unless_a_longer_one_arrived_meanwhile() {
        let mut owed = Owed::default();
        let first = OwedBlock {
            midnight: Some(date(1)),
            until_ms: Some(100),
        };
        owed.add_block(first);
        owed.add_block(OwedBlock {
            midnight: None,
            until_ms: Some(200),
        });

        owed.block_pushed(first);

        assert_eq!(
            owed.block,
            OwedBlock {
                midnight: None,
                until_ms: Some(200)
            }
        );
    }
}
