//! The audit log in the durable store (single node): entries under increasing sequence
//! numbers, so the newest come first on a reverse range, and the log's small records in the
//! meta table. Survives restarts like the answers do.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{
    ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};

use super::tables::META;
use super::{DurableStore, StoreError, file};
use crate::audit::{AuditBackend, Event, is_sequence_id};

/// Sequence number → the entry as JSON.
const AUDIT: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("audit_v1");

/// Once-per-period claims (`caller.cap_exhausted`) → when they expire (Unix ms).
const CLAIMS: TableDefinition<'static, &str, i64> = TableDefinition::new("audit_claims_v1");

/// Entries deleted per retention transaction.
const TRIM_CHUNK: usize = 1_000;

impl DurableStore {
    fn audit_append(&self, events: Vec<Event>) -> Result<(), StoreError> {
        self.write("write", |txn| {
            let mut table = txn.open_table(AUDIT)?;
            let first = table.last()?.map_or(0, |(k, _)| k.value()) + 1;
            for (id, mut event) in (first..).zip(events) {
                event.id = id.to_string();
                let bytes = serde_json::to_vec(&event).expect("an event serialises");
                table.insert(id, bytes.as_slice())?;
            }
            Ok(())
        })
    }

    fn audit_newest(&self, before: u64, count: usize) -> Result<Vec<Event>, StoreError> {
        let Some(db) = self.current() else {
            return Ok(Vec::new());
        };
        file::guard(|| {
            let txn = db.begin_read()?;
            let table = match txn.open_table(AUDIT) {
                Ok(table) => table,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(err) => return Err(err.into()),
            };
            let mut out = Vec::with_capacity(count);
            for row in table.range(..before)?.rev().take(count) {
                let (_, value) = row?;
                if let Ok(event) = serde_json::from_slice::<Event>(value.value()) {
                    out.push(event);
                }
            }
            Ok(out)
        })
    }

    fn audit_trim(&self, cutoff: DateTime<Utc>, max_entries: u64) -> Result<(), StoreError> {
        // Read first: the usual answer is "nothing to delete", which costs no write.
        if !self.audit_over(cutoff, max_entries)? {
            return Ok(());
        }
        loop {
            let removed = self.write("purge", |txn| trim_chunk(txn, cutoff, max_entries))?;
            if removed < TRIM_CHUNK {
                return Ok(());
            }
        }
    }

    fn audit_over(&self, cutoff: DateTime<Utc>, max_entries: u64) -> Result<bool, StoreError> {
        let Some(db) = self.current() else {
            return Ok(false);
        };
        file::guard(|| {
            let txn = db.begin_read()?;
            let table = match txn.open_table(AUDIT) {
                Ok(table) => table,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(false),
                Err(err) => return Err(err.into()),
            };
            Ok(table.len()? > max_entries
                || table
                    .first()?
                    .is_some_and(|(_, v)| too_old(v.value(), cutoff)))
        })
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(db) = self.current() else {
            return Ok(None);
        };
        file::guard(|| {
            let txn = db.begin_read()?;
            let table = match txn.open_table(META) {
                Ok(table) => table,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(err) => return Err(err.into()),
            };
            Ok(table
                .get(meta_key(name).as_str())?
                .map(|v| v.value().to_vec()))
        })
    }
}

fn meta_key(name: &str) -> String {
    format!("audit:{name}")
}

/// Whether the stored entry `bytes` is older than `cutoff` (unreadable ones are: they can
/// never be shown).
fn too_old(bytes: &[u8], cutoff: DateTime<Utc>) -> bool {
    serde_json::from_slice::<Event>(bytes).map_or(true, |e| e.timestamp < cutoff)
}

/// Deletes up to one chunk of the oldest entries that are too old or beyond the bound.
fn trim_chunk(
    txn: &WriteTransaction,
    cutoff: DateTime<Utc>,
    max_entries: u64,
) -> Result<usize, StoreError> {
    let mut table = txn.open_table(AUDIT)?;
    let mut len = table.len()?;
    let mut removed = 0;
    while removed < TRIM_CHUNK {
        let Some((key, over)) = table
            .first()?
            .map(|(k, v)| (k.value(), len > max_entries || too_old(v.value(), cutoff)))
        else {
            break;
        };
        if !over {
            break;
        }
        table.remove(key)?;
        len -= 1;
        removed += 1;
    }
    Ok(removed)
}

/// Runs a blocking store call off the async runtime.
async fn blocking<T: Send + 'static>(
    store: &DurableStore,
    call: impl FnOnce(DurableStore) -> Result<T, StoreError> + Send + 'static,
) -> anyhow::Result<T> {
    let store = store.clone();
    Ok(tokio::task::spawn_blocking(move || call(store)).await??)
}

#[async_trait]
impl AuditBackend for DurableStore {
    async fn append(&self, events: Vec<Event>) -> anyhow::Result<()> {
        blocking(self, move |s| s.audit_append(events)).await
    }

    async fn newest(&self, before: Option<&str>, count: usize) -> anyhow::Result<Vec<Event>> {
        let before = before.map_or(Ok(u64::MAX), str::parse)?;
        blocking(self, move |s| s.audit_newest(before, count)).await
    }

    async fn trim(&self, cutoff: DateTime<Utc>, max_entries: u64) -> anyhow::Result<()> {
        blocking(self, move |s| s.audit_trim(cutoff, max_entries)).await
    }

    fn is_id(&self, id: &str) -> bool {
        is_sequence_id(id)
    }

    async fn meta_init(&self, name: &str, value: &[u8]) -> anyhow::Result<Vec<u8>> {
        let (key, value) = (meta_key(name), value.to_vec());
        blocking(self, move |s| {
            s.write("write", |txn| {
                let mut table = txn.open_table(META)?;
                let existing = table.get(key.as_str())?.map(|v| v.value().to_vec());
                match existing {
                    Some(existing) => Ok(existing),
                    None => {
                        table.insert(key.as_str(), value.as_slice())?;
                        Ok(value)
                    }
                }
            })
        })
        .await
    }

    async fn meta_get(&self, name: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let name = name.to_owned();
        blocking(self, move |s| s.meta(&name)).await
    }

    async fn claim_once(&self, name: &str, expires: DateTime<Utc>) -> anyhow::Result<bool> {
        let (name, expires_ms) = (name.to_owned(), expires.timestamp_millis());
        blocking(self, move |s| {
            s.write("write", |txn| {
                let mut table = txn.open_table(CLAIMS)?;
                if table.get(name.as_str())?.is_some() {
                    return Ok(false);
                }
                // Claims of days gone by are dropped as new ones come: one row per caller
                // whose cap ran out lately.
                table.retain(|_, until| until > expires_ms - 2 * 86_400_000)?;
                table.insert(name.as_str(), expires_ms)?;
                Ok(true)
            })
        })
        .await
    }

    async fn meta_put(&self, name: &str, value: &[u8]) -> anyhow::Result<()> {
        let (key, value) = (meta_key(name), value.to_vec());
        blocking(self, move |s| {
            s.write("write", |txn| {
                txn.open_table(META)?
                    .insert(key.as_str(), value.as_slice())?;
                Ok(())
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::config::StoreSettings;
    use crate::metrics::Metrics;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-10T12:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[tokio::test]
    async fn stored_entries_come_back_newest_first_and_the_retention_trims_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            DurableStore::open(dir.path(), StoreSettings::default(), Metrics::new()).unwrap();
        let events: Vec<Event> = (0..10)
            .map(|i| Event::new(t0() + TimeDelta::days(i), "a", &format!("n{i}")))
            .collect();
        store.append(events).await.unwrap();

        let page = store.newest(Some("9"), 3).await.unwrap();
        store.trim(t0() + TimeDelta::days(2), 5).await.unwrap();
        let kept = store.newest(None, 100).await.unwrap();

        let actions = |e: &[Event]| e.iter().map(|e| e.action.clone()).collect::<Vec<_>>();
        assert_eq!(actions(&page), ["n7", "n6", "n5"]);
        assert_eq!(actions(&kept), ["n9", "n8", "n7", "n6", "n5"]);
        assert_eq!(kept[0].id, "10");
    }
}
