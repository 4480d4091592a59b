//! Usage counts in the durable store (single node): one row per (day, caller, route,
//! endpoint, counter), written in one transaction per batch, purged past 60 days with the
//! answers.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{DurableStore, StoreError, file};
use crate::usage::{Count, Delta, UsageBackend, UsageKey, oldest_kept};

/// (UTC day as days since 1970-01-01, `caller|route|endpoint|counter`) → the count.
const USAGE: TableDefinition<'static, (i64, &str), u64> = TableDefinition::new("usage_v1");

/// Days since 1970-01-01 of `day`.
fn day_number(day: NaiveDate) -> i64 {
    day.signed_duration_since(NaiveDate::default()).num_days()
}

impl DurableStore {
    /// Adds the deltas in one committed transaction.
    pub fn usage_add(&self, deltas: &[Delta]) -> Result<(), StoreError> {
        self.write("write", |txn| {
            let mut table = txn.open_table(USAGE)?;
            for d in deltas {
                let field = d.key.field(d.counter);
                let key = (day_number(d.day), field.as_str());
                let now = table.get(key)?.map_or(0, |v| v.value());
                let next = now.saturating_add_signed(d.by);
                if next == 0 {
                    table.remove(key)?;
                } else {
                    table.insert(key, next)?;
                }
            }
            Ok(())
        })
    }

    /// Every count of `from..=to`; rows this version cannot read are skipped.
    pub fn usage_read(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<Count>, StoreError> {
        let Some(db) = self.current() else {
            return Ok(Vec::new());
        };
        file::guard(|| {
            let txn = db.begin_read()?;
            let table = match txn.open_table(USAGE) {
                Ok(table) => table,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(err) => return Err(err.into()),
            };
            let mut out = Vec::new();
            for row in table.range((day_number(from), "")..(day_number(to) + 1, ""))? {
                let (key, value) = row?;
                let (days, field) = key.value();
                let day = NaiveDate::default() + chrono::Days::new(days.unsigned_abs());
                if let Some((key, counter)) = UsageKey::parse_field(field) {
                    out.push((day, key, counter, value.value()));
                }
            }
            Ok(out)
        })
    }

    /// Deletes the days before the last 60 (as of `now`). Returns how many rows went.
    pub fn usage_purge(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let before = day_number(oldest_kept(now.date_naive()));
        self.write("purge", |txn| {
            let mut table = txn.open_table(USAGE)?;
            let old: Vec<(i64, String)> = table
                .range(..(before, ""))?
                .map(|row| row.map(|(k, _)| (k.value().0, k.value().1.to_owned())))
                .collect::<Result<_, _>>()?;
            for (day, field) in &old {
                table.remove((*day, field.as_str()))?;
            }
            Ok(old.len())
        })
    }
}

#[async_trait]
impl UsageBackend for DurableStore {
    async fn add(&self, deltas: Vec<Delta>) -> anyhow::Result<()> {
        let store = self.clone();
        Ok(tokio::task::spawn_blocking(move || store.usage_add(&deltas)).await??)
    }

    async fn read(&self, from: NaiveDate, to: NaiveDate) -> anyhow::Result<Vec<Count>> {
        let store = self.clone();
        Ok(tokio::task::spawn_blocking(move || store.usage_read(from, to)).await??)
    }
}
