//! Purging the durable store: expired entries first, then the earliest-expiring ones while the
//! store is over its bound; and the background task that runs it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use redb::{ReadableTable, WriteTransaction};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::tables::{ENTRIES, EXPIRY};
use super::{DurableStore, StoreError};
use crate::clock::SharedClock;

/// Index rows handled per write transaction: small enough that a put waiting behind the purge
/// waits milliseconds, large enough that a million expired entries take a bounded number of
/// commits.
const CHUNK: usize = 1_000;

/// A zero interval would spin; purging more often than this buys nothing.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

impl DurableStore {
    /// Deletes entries whose stale deadline is before `now`; then, while more than
    /// `settings.max_entries` remain, those with the earliest stale deadline. Works in chunks
    /// of short write transactions along the expiry index, without decoding entries. Returns
    /// how many entries were deleted.
    pub fn purge(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let before = now.timestamp_millis();
        let mut deleted = 0;
        loop {
            let (rows, removed) =
                self.write("purge", |txn| delete_first(txn, CHUNK, Some(before)))?;
            deleted += removed;
            if rows < CHUNK {
                break;
            }
        }
        loop {
            let excess = self.len().saturating_sub(self.inner.settings.max_entries);
            if excess == 0 {
                break;
            }
            let limit = usize::try_from(excess).unwrap_or(CHUNK).min(CHUNK);
            let (rows, removed) = self.write("purge", |txn| delete_first(txn, limit, None))?;
            deleted += removed;
            if rows == 0 {
                break;
            }
        }
        Ok(deleted)
    }
}

/// Removes the first `limit` expiry-index rows (only those before `before`, when given) and
/// their entries. Returns (index rows removed, entries removed).
///
/// An index row whose entry has since been rewritten with another deadline is only an orphan:
/// the row goes, the newer entry stays.
fn delete_first(
    txn: &WriteTransaction,
    limit: usize,
    before: Option<i64>,
) -> Result<(usize, usize), StoreError> {
    let mut expiry = txn.open_table(EXPIRY)?;
    let mut entries = txn.open_table(ENTRIES)?;
    let rows = {
        let range = match before {
            // `(before, [])` sorts before every key with that deadline: "before" is strict.
            Some(before) => expiry.range(..(before, [].as_slice()))?,
            None => expiry.range::<(i64, &[u8])>(..)?,
        };
        let mut rows = Vec::with_capacity(limit);
        for row in range.take(limit) {
            let (row, _) = row?;
            let (stale_ms, key) = row.value();
            rows.push((stale_ms, key.to_vec()));
        }
        rows
    };
    let mut removed = 0;
    for (stale_ms, key) in &rows {
        let key = key.as_slice();
        expiry.remove((*stale_ms, key))?;
        let current = entries.get(key)?.map(|v| v.value().0);
        if current == Some(*stale_ms) {
            entries.remove(key)?;
            removed += 1;
        }
    }
    Ok((rows.len(), removed))
}

/// Runs [`DurableStore::purge`] (and [`DurableStore::usage_purge`]) at start and then every `settings.purge_interval` until
/// `cancel` fires.
pub fn spawn_purger(
    store: DurableStore,
    clock: SharedClock,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    let interval = store.inner.settings.purge_interval.max(MIN_INTERVAL);
    let interval = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::days(1));
    tokio::spawn(async move {
        while !cancel.is_cancelled() {
            let now = clock.now();
            let purging = store.clone();
            let purged = tokio::task::spawn_blocking(move || {
                // Usage days past the last 60 go on the same cadence (a failure is already
                // logged and counted by the store).
                let _ = purging.usage_purge(now);
                purging.purge(now)
            });
            match purged.await {
                Ok(Ok(deleted)) => tracing::debug!(deleted, "purged the durable store"),
                // Already logged and counted by the store.
                Ok(Err(_)) => {}
                Err(err) => tracing::warn!(error = %err, "the durable store purge panicked"),
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = clock.sleep_until(now + interval) => {}
            }
        }
    })
}
