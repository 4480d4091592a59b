//! Where usage counts are kept: the [`UsageBackend`] trait, and the in-memory backend used
//! when there is neither a durable store nor Redis.
//!
//! The durable store (`store::durable::usage`) keeps them on a single node and per-day Redis
//! hashes (`redis::usage`) across a fleet; both implement this trait.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::NaiveDate;

use super::{Counter, UsageKey, oldest_kept};

/// One change to one count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    /// The UTC day counted.
    pub day: NaiveDate,
    pub key: UsageKey,
    pub counter: Counter,
    /// How much to add (negative: a refund).
    pub by: i64,
}

/// One stored count.
pub type Count = (NaiveDate, UsageKey, Counter, u64);

/// A store of per-day usage counts.
#[async_trait]
pub trait UsageBackend: Send + Sync + 'static {
    /// Adds every delta (a count never goes below zero); saved where it survives this
    /// process, when the backend can, before returning.
    async fn add(&self, deltas: Vec<Delta>) -> anyhow::Result<()>;

    /// Every count of the UTC days `from..=to`.
    async fn read(&self, from: NaiveDate, to: NaiveDate) -> anyhow::Result<Vec<Count>>;
}

/// Counts in memory only: lost on restart, which the README says of `VTENRICH_DATA_DIR=none`.
#[derive(Default)]
pub struct MemoryUsage {
    counts: Mutex<BTreeMap<(NaiveDate, UsageKey, Counter), u64>>,
}

#[async_trait]
impl UsageBackend for MemoryUsage {
    async fn add(&self, deltas: Vec<Delta>) -> anyhow::Result<()> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        for d in deltas {
            let count = counts.entry((d.day, d.key, d.counter)).or_default();
            *count = count.saturating_add_signed(d.by);
        }
        // Days past the retention go as new ones arrive: memory holds at most 60 days.
        if let Some(newest) = counts.last_key_value().map(|(k, _)| k.0) {
            counts.retain(|k, _| k.0 >= oldest_kept(newest));
        }
        Ok(())
    }

    async fn read(&self, from: NaiveDate, to: NaiveDate) -> anyhow::Result<Vec<Count>> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        Ok(counts
            .iter()
            .filter(|(k, _)| (from..=to).contains(&k.0))
            .map(|((day, key, counter), n)| (*day, key.clone(), *counter, *n))
            .collect())
    }
}
