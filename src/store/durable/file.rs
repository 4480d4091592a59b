//! Opening the store file: creating it, and moving an unreadable one aside so a bad file never
//! causes a crash loop.

use std::io::ErrorKind;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, DatabaseError, WriteTransaction};

use super::StoreError;
use super::tables::{self, CALLER_DAYS, CALLERS, ENTRIES, ENTRIES_V1, EXPIRY, EXPIRY_V1, META};
use crate::metrics::Metrics;

/// The store's file name inside the data directory.
pub(super) const FILE_NAME: &str = "vtenrich.redb";

/// redb's page cache. The in-memory moka cache is the first tier, so the store only needs to
/// keep the upper B-tree levels hot; redb's 1 GiB default would double the service's memory.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// How a database file is opened; tests substitute a backend that can fail on demand.
pub(super) type Opener = Arc<dyn Fn(&Path) -> Result<Database, DatabaseError> + Send + Sync>;

/// Opens (or creates) a redb file with the store's settings.
pub(super) fn default_opener() -> Opener {
    Arc::new(|path| Database::builder().set_cache_size(CACHE_BYTES).create(path))
}

/// Begins a write transaction that records the allocator state at commit, so the open after a
/// `kill -9` is almost instant instead of a walk over every page of a million entries.
pub(super) fn begin_write(db: &Database) -> Result<WriteTransaction, StoreError> {
    let mut txn = db.begin_write()?;
    txn.set_quick_repair(true);
    Ok(txn)
}

/// Opens `file`; if it is unreadable, moves it aside with a warning and starts an empty store.
/// Errs only when even that fails (or another process holds the file).
pub(super) fn open_or_replace(
    file: &Path,
    opener: &Opener,
    metrics: &Metrics,
) -> Result<Database, StoreError> {
    let err = match try_open(file, opener) {
        Ok(db) => return Ok(db),
        Err(err) => err,
    };
    if !is_unreadable_file(&err) || !file.exists() {
        return Err(err);
    }
    metrics.store_errors.with_label_values(&["open"]).inc();
    let aside = aside_path(file, chrono::Utc::now().timestamp());
    tracing::warn!(
        path = %file.display(),
        moved_to = %aside.display(),
        error = %err,
        "the durable store file is unreadable; moving it aside and starting an empty store"
    );
    std::fs::rename(file, &aside).map_err(|cause| StoreError::File {
        action: "move aside",
        path: file.to_path_buf(),
        cause,
    })?;
    try_open(file, opener)
}

/// `vtenrich.redb.corrupt-<unix seconds>` next to `file`.
fn aside_path(file: &Path, unix_seconds: i64) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".corrupt-{unix_seconds}"));
    file.with_file_name(name)
}

/// Whether the file itself is bad (so moving it aside helps), rather than the environment
/// (full or read-only disk, another process holding the lock), where moving a good file aside
/// would only lose it.
fn is_unreadable_file(err: &StoreError) -> bool {
    match err {
        StoreError::Panicked(_) => true,
        StoreError::File { .. } => false,
        StoreError::Database(err) => match err {
            redb::Error::Corrupted(_)
            | redb::Error::UpgradeRequired(_)
            | redb::Error::RepairAborted
            | redb::Error::TableTypeMismatch { .. }
            | redb::Error::TableIsMultimap(_)
            | redb::Error::TypeDefinitionChanged { .. } => true,
            redb::Error::Io(io) => matches!(
                io.kind(),
                ErrorKind::InvalidData | ErrorKind::UnexpectedEof | ErrorKind::PermissionDenied
            ),
            _ => false,
        },
    }
}

/// Opens the file and makes sure every table exists, so readers never meet a missing table.
fn try_open(file: &Path, opener: &Opener) -> Result<Database, StoreError> {
    guard(|| {
        let db = opener(file)?;
        let txn = begin_write(&db)?;
        txn.open_table(ENTRIES)?;
        txn.open_table(EXPIRY)?;
        txn.open_table(META)?;
        txn.open_table(CALLERS)?;
        txn.open_table(CALLER_DAYS)?;
        let moved = upgrade_ip_entries(&txn)?;
        txn.commit()?;
        if moved > 0 {
            tracing::info!(
                entries = moved,
                "durable store: the IP-only entries moved to the table keyed by observable"
            );
        }
        Ok(db)
    })
}

/// Moves the entries of the IP-only layout (`entries_v1`, 16-byte keys) into the table keyed
/// by observable and deletes the old tables: the answers a previous version paid for are
/// still served after the upgrade. Returns how many moved (none after the first open).
fn upgrade_ip_entries(txn: &redb::WriteTransaction) -> Result<u64, StoreError> {
    use redb::{ReadableTable, TableHandle};
    let exists = txn
        .list_tables()?
        .any(|table| table.name() == ENTRIES_V1.name());
    if !exists {
        return Ok(0);
    }
    let mut moved = 0;
    {
        let old = txn.open_table(ENTRIES_V1)?;
        let mut entries = txn.open_table(ENTRIES)?;
        let mut expiry = txn.open_table(EXPIRY)?;
        for row in old.iter()? {
            let (octets, value) = row?;
            let key = tables::ip_key(&octets.value());
            let (stale_ms, bytes) = value.value();
            entries.insert(key.as_slice(), (stale_ms, bytes))?;
            expiry.insert((stale_ms, key.as_slice()), ())?;
            moved += 1;
        }
    }
    txn.delete_table(ENTRIES_V1)?;
    txn.delete_table(EXPIRY_V1)?;
    Ok(moved)
}

/// Runs `f`, turning a panic into an error. redb trusts a cleanly closed file and may panic
/// on pages altered behind its back; a damaged store must cost a miss, never the caller.
pub(super) fn guard<T>(f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        Err(StoreError::Panicked(message))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_moved_aside_is_named_after_the_moment() {
        let aside = aside_path(Path::new("/var/lib/vtenrich/vtenrich.redb"), 1_790_000_000);

        assert_eq!(
            aside,
            Path::new("/var/lib/vtenrich/vtenrich.redb.corrupt-1790000000")
        );
    }
}
