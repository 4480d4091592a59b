//! The embedded durable store (redb): answers and quota counts that survive a restart.
//!
//! One file, `vtenrich.redb`, in the data directory. Every method blocks on disk I/O; async
//! callers go through [`SecondTier`](crate::enrich::SecondTier) (which uses
//! `spawn_blocking`) or call `spawn_blocking` themselves. A failing store never fails a lookup: reads fall back to misses, writes mark
//! the store degraded and the service keeps serving from memory.
//!
//! Over 300 lines with a reason: most of it is one type's `impl` (`DurableStore`), whose reads
//! and writes share one database handle and transaction helpers; tables, audit, purge and the
//! tier adapter already live in their own files.

mod audit;
mod error;
mod file;
mod purge;
mod tables;
#[cfg(test)]
mod tests;
mod tier;
mod usage;

use crate::observable::Observable;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::Context;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction};

use crate::answer::Entry;
use crate::config::StoreSettings;
use crate::metrics::Metrics;
use crate::store::codec;

use file::Opener;
use tables::{CALLER_DAYS, CALLERS, ENTRIES, EXPIRY, META, QUOTA_KEY};

pub use error::StoreError;
pub use purge::spawn_purger;

/// The quota counts kept across restarts (calendar windows in UTC, and the last minute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaCounts {
    /// The UTC day `day_used` counts.
    pub day: chrono::NaiveDate,
    /// Calls made on `day`.
    pub day_used: u64,
    /// The UTC (year, month) `month_used` counts.
    pub month: (i32, u32),
    /// Calls made in `month`.
    pub month_used: u64,
    /// When the calls of the last minute were granted: the minute window a restart must
    /// not forget (records saved before it was kept hold none).
    pub minute: Vec<chrono::DateTime<chrono::Utc>>,
}

/// The embedded durable store; cheap to clone, safe to share between threads.
#[derive(Clone)]
pub struct DurableStore {
    inner: Arc<Inner>,
}

struct Inner {
    file: PathBuf,
    opener: Opener,
    /// `None` after a failed write: redb refuses all further I/O after one, so the next write
    /// reopens the file (which is how the store recovers once the disk has room again).
    db: RwLock<Option<Arc<Database>>>,
    settings: StoreSettings,
    metrics: Metrics,
    degraded: AtomicBool,
    /// Warn about failing reads once, not once per lookup.
    read_warned: AtomicBool,
    len: AtomicU64,
}

impl std::fmt::Debug for DurableStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableStore")
            .field("file", &self.inner.file)
            .finish_non_exhaustive()
    }
}

impl DurableStore {
    /// Opens (creating the directory and file `vtenrich.redb` as needed). A corrupted or
    /// unreadable file is moved aside (`vtenrich.redb.corrupt-<unix-seconds>`) with a warning
    /// and a new empty store is created; only if even that fails (read-only or full disk,
    /// permission denied, another process holding the file) is an error returned, and the
    /// caller then runs memory-only. Opening reads no entries, so it is fast at any size.
    pub fn open(
        dir: &Path,
        settings: StoreSettings,
        metrics: Metrics,
    ) -> anyhow::Result<DurableStore> {
        Self::open_with(dir, settings, metrics, file::default_opener())
    }

    fn open_with(
        dir: &Path,
        settings: StoreSettings,
        metrics: Metrics,
        opener: Opener,
    ) -> anyhow::Result<DurableStore> {
        for op in ["read", "write", "purge", "open"] {
            // Exported as 0 from the start, so alerts on `increase()` see the first failure.
            metrics.store_errors.with_label_values(&[op]);
        }
        let file = dir.join(file::FILE_NAME);
        let opened = std::fs::create_dir_all(dir)
            .map_err(|cause| StoreError::File {
                action: "create the directory",
                path: dir.to_path_buf(),
                cause,
            })
            .and_then(|()| file::open_or_replace(&file, &opener, &metrics))
            .and_then(|db| Ok((count(&db)?, db)));
        let (len, db) = match opened {
            Ok(opened) => opened,
            Err(err) => {
                metrics.store_errors.with_label_values(&["open"]).inc();
                return Err(err).with_context(|| {
                    format!("could not open the durable store in {}", dir.display())
                });
            }
        };
        metrics.store_entries.set(len as i64);
        metrics.store_degraded.set(0);
        Ok(DurableStore {
            inner: Arc::new(Inner {
                file,
                opener,
                db: RwLock::new(Some(Arc::new(db))),
                settings,
                metrics,
                degraded: AtomicBool::new(false),
                read_warned: AtomicBool::new(false),
                len: AtomicU64::new(len),
            }),
        })
    }

    /// Entries for `observables` in order (one read transaction). Undecodable records, and every
    /// record while the store is unreadable, are misses.
    pub fn get_many(&self, observables: &[Observable]) -> Vec<Option<Entry>> {
        let Some(db) = self.current() else {
            return vec![None; observables.len()];
        };
        let read = || -> Result<Vec<Option<Entry>>, StoreError> {
            let txn = db.begin_read()?;
            let table = txn.open_table(ENTRIES)?;
            let mut found = Vec::with_capacity(observables.len());
            for observable in observables {
                let value = table.get(tables::key(observable).as_slice())?;
                found.push(value.and_then(|v| codec::decode(v.value().1)));
            }
            Ok(found)
        };
        file::guard(read).unwrap_or_else(|err| {
            self.read_failed(&err);
            vec![None; observables.len()]
        })
    }

    /// Writes one entry durably (committed before returning). On error (disk full, read-only)
    /// logs a warning once, counts it, marks the store degraded and returns the error.
    pub fn put(&self, observable: &Observable, entry: &Entry) -> Result<(), StoreError> {
        self.write("write", |txn| put_in(txn, observable, entry))
    }

    /// Deletes the entries of `observables` (and their expiry rows) in one transaction.
    pub fn remove(&self, observables: &[Observable]) -> Result<(), StoreError> {
        self.write("write", |txn| {
            let mut entries = txn.open_table(ENTRIES)?;
            let mut expiry = txn.open_table(EXPIRY)?;
            for observable in observables {
                let key = tables::key(observable);
                let removed = entries.remove(key.as_slice())?.map(|v| v.value().0);
                if let Some(stale_ms) = removed {
                    expiry.remove((stale_ms, key.as_slice()))?;
                }
            }
            Ok(())
        })
    }

    /// Quota counts as last saved, if any.
    pub fn load_quota(&self) -> Option<QuotaCounts> {
        let db = self.current()?;
        let read = || -> Result<Option<QuotaCounts>, StoreError> {
            let txn = db.begin_read()?;
            let table = txn.open_table(META)?;
            let value = table.get(QUOTA_KEY)?;
            Ok(value.and_then(|v| tables::decode_quota(v.value())))
        };
        file::guard(read).unwrap_or_else(|err| {
            self.read_failed(&err);
            None
        })
    }

    /// Saves the current counts (one small write transaction).
    pub fn save_quota(&self, counts: &QuotaCounts) -> Result<(), StoreError> {
        self.write("write", |txn| {
            txn.open_table(META)?
                .insert(QUOTA_KEY, tables::encode_quota(counts).as_slice())?;
            Ok(())
        })
    }

    /// Every runtime caller's stored record (id, bytes). Unlike answers, a failed read is an
    /// error: starting without the callers would lock them out, or forget a removal.
    pub fn load_callers(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let db = self.writable()?;
        file::guard(|| {
            let txn = db.begin_read()?;
            let table = txn.open_table(CALLERS)?;
            let mut all = Vec::new();
            for row in table.range::<&str>(..)? {
                let (id, bytes) = row?;
                all.push((id.value().to_owned(), bytes.value().to_vec()));
            }
            Ok(all)
        })
    }

    /// Writes (or replaces) one runtime caller's record, committed before returning.
    pub fn save_caller(&self, id: &str, record: &[u8]) -> Result<(), StoreError> {
        self.write("write", |txn| {
            txn.open_table(CALLERS)?.insert(id, record)?;
            Ok(())
        })
    }

    /// Removes one runtime caller's record, committed before returning.
    pub fn delete_caller(&self, id: &str) -> Result<(), StoreError> {
        self.write("write", |txn| {
            txn.open_table(CALLERS)?.remove(id)?;
            Ok(())
        })
    }

    /// Each caller's use of its daily cap as last saved: (id, UTC day, calls started).
    pub fn load_caller_days(&self) -> Vec<(String, chrono::NaiveDate, u64)> {
        let Some(db) = self.current() else {
            return Vec::new();
        };
        let read = || -> Result<Vec<(String, chrono::NaiveDate, u64)>, StoreError> {
            let txn = db.begin_read()?;
            let table = txn.open_table(CALLER_DAYS)?;
            let mut rows = Vec::new();
            for row in table.iter()? {
                let (id, value) = row?;
                let (day, used) = value.value();
                if let Some(day) = chrono::DateTime::from_timestamp(day * 86_400, 0) {
                    rows.push((id.value().to_owned(), day.date_naive(), used));
                }
            }
            Ok(rows)
        };
        file::guard(read).unwrap_or_else(|err| {
            self.read_failed(&err);
            Vec::new()
        })
    }

    /// Saves one caller's use of the day (one small write transaction, committed before
    /// returning: the call it allows is made afterwards).
    pub fn save_caller_day(
        &self,
        id: &str,
        day: chrono::NaiveDate,
        used: u64,
    ) -> Result<(), StoreError> {
        let days = day
            .and_hms_opt(0, 0, 0)
            .map_or(0, |d| d.and_utc().timestamp() / 86_400);
        self.write("write", |txn| {
            txn.open_table(CALLER_DAYS)?.insert(id, (days, used))?;
            Ok(())
        })
    }

    /// Entries in the store (as of the last write).
    pub fn len(&self) -> u64 {
        self.inner.len.load(Ordering::Relaxed)
    }

    /// Whether the store holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True after a write failed, until a later write succeeds.
    pub fn is_degraded(&self) -> bool {
        self.inner.degraded.load(Ordering::Relaxed)
    }

    /// The open database, if the last write did not close it.
    fn current(&self) -> Option<Arc<Database>> {
        let slot = self.inner.db.read().unwrap_or_else(PoisonError::into_inner);
        slot.clone()
    }

    /// The open database, reopening the file after an earlier failure.
    fn writable(&self) -> Result<Arc<Database>, StoreError> {
        let mut slot = self
            .inner
            .db
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(db) = slot.as_ref() {
            return Ok(db.clone());
        }
        let db = Arc::new(file::open_or_replace(
            &self.inner.file,
            &self.inner.opener,
            &self.inner.metrics,
        )?);
        *slot = Some(db.clone());
        Ok(db)
    }

    /// Runs `f` in one committed write transaction, keeping the entry count and the
    /// degraded state up to date. `op` labels a failure in the metrics.
    fn write<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = self.writable().and_then(|db| {
            file::guard(|| {
                let txn = file::begin_write(&db)?;
                let out = f(&txn)?;
                let len = txn.open_table(ENTRIES)?.len()?;
                txn.commit()?;
                Ok((out, len))
            })
        });
        match result {
            Ok((out, len)) => {
                self.inner.len.store(len, Ordering::Relaxed);
                self.inner.metrics.store_entries.set(len as i64);
                if self.inner.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("the durable store accepts writes again");
                }
                self.inner.metrics.store_degraded.set(0);
                Ok(out)
            }
            Err(err) => {
                self.write_failed(op, &err);
                Err(err)
            }
        }
    }

    pub(super) fn write_failed(&self, op: &'static str, err: &StoreError) {
        self.inner
            .metrics
            .store_errors
            .with_label_values(&[op])
            .inc();
        self.inner.metrics.store_degraded.set(1);
        // Dropped here (or by the last reader still holding it), so the file lock is released
        // and the next write can reopen the file.
        self.inner
            .db
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if !self.inner.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                op,
                error = %err,
                "the durable store cannot write; answers are kept in memory only until a write succeeds"
            );
        }
    }

    pub(super) fn read_failed(&self, err: &StoreError) {
        self.inner
            .metrics
            .store_errors
            .with_label_values(&["read"])
            .inc();
        if !self.inner.read_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %err, "the durable store cannot read; lookups fall back to misses");
        }
    }
}

/// The number of entries (kept in the B-tree header, so this reads no entries).
fn count(db: &Database) -> Result<u64, StoreError> {
    Ok(db.begin_read()?.open_table(ENTRIES)?.len()?)
}

/// Inserts or replaces the entry for `observable`, keeping the expiry index in step.
fn put_in(
    txn: &WriteTransaction,
    observable: &Observable,
    entry: &Entry,
) -> Result<(), StoreError> {
    let key = tables::key(observable);
    let key = key.as_slice();
    let stale_ms = entry.stale_until.timestamp_millis();
    let mut entries = txn.open_table(ENTRIES)?;
    let mut expiry = txn.open_table(EXPIRY)?;
    let previous = entries.insert(key, (stale_ms, codec::encode(entry).as_slice()))?;
    if let Some(previous) = previous {
        let (previous_stale_ms, _) = previous.value();
        drop(previous);
        expiry.remove((previous_stale_ms, key))?;
    }
    expiry.insert((stale_ms, key), ())?;
    Ok(())
}
