//! Faults: corrupted files, unusable directories, a disk that stops accepting writes.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

use super::*;

/// Deterministic noise (xorshift), so a failure reproduces.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn corrupt_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("vtenrich.redb.corrupt-"))
        .collect()
}

#[test]
fn a_file_of_random_bytes_is_moved_aside_and_the_store_opens_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vtenrich.redb"), noise(64 * 1024)).unwrap();
    let metrics = Metrics::new();

    let store = DurableStore::open(dir.path(), settings(10), metrics.clone()).unwrap();

    assert_eq!(corrupt_files(dir.path()).len(), 1);
    assert_eq!(metrics.store_errors.with_label_values(&["open"]).get(), 1);
    assert_eq!(store.len(), 0);
    assert_eq!(store.get_many(&[ip(1)]), vec![None]);
    store.put(&ip(1), &found(t0())).unwrap();
}

/// A store of 2,000 entries, closed cleanly, with bytes from `from` to `to` (fractions of the
/// file, rounded to pages) overwritten with noise.
fn damaged_store(dir: &Path, from: f64, to: f64) {
    let store = open(dir);
    let stale = t0() + chrono::Duration::days(8);
    let items: Vec<_> = (0..2_000).map(|i| (ip(i), found(stale))).collect();
    put_batch(&store, &items);
    drop(store);
    let mut file = OpenOptions::new()
        .write(true)
        .open(dir.join("vtenrich.redb"))
        .unwrap();
    let len = file.metadata().unwrap().len();
    let page = |fraction: f64| (len as f64 * fraction) as u64 / 4096 * 4096;
    let (start, end) = (page(from), page(to));
    file.seek(SeekFrom::Start(start)).unwrap();
    file.write_all(&noise(usize::try_from(end - start).unwrap()))
        .unwrap();
}

#[test]
fn a_file_with_damaged_pages_is_moved_aside_without_panicking_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    damaged_store(dir.path(), 0.4, 0.6);

    let store = open(dir.path());

    assert_eq!(corrupt_files(dir.path()).len(), 1);
    assert_eq!(store.get_many(&[ip(1)]), vec![None]);
    store.put(&ip(1), &found(t0())).unwrap();
}

#[test]
fn a_file_held_by_another_store_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    first.put(&ip(1), &found(t0())).unwrap();
    let metrics = Metrics::new();

    let second = DurableStore::open(dir.path(), settings(10), metrics.clone());

    assert!(second.is_err());
    assert!(corrupt_files(dir.path()).is_empty());
    assert_eq!(metrics.store_errors.with_label_values(&["open"]).get(), 1);
    assert_eq!(first.get_many(&[ip(1)]), vec![Some(found(t0()))]);
}

#[test]
fn a_data_directory_that_cannot_be_created_makes_open_fail() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"a file where the directory should be").unwrap();

    let result = DurableStore::open(&blocker.join("data"), settings(10), Metrics::new());

    assert!(result.is_err());
}

#[test]
fn a_read_only_directory_makes_open_fail_without_panicking() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
    if File::create(data.join("probe")).is_ok() {
        eprintln!("skipped: running as root, so chmod 0555 does not make the directory read-only");
        return;
    }

    let result = DurableStore::open(&data, settings(10), Metrics::new());

    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(result.is_err());
}

/// A file backend whose writes fail while `full` is set, as on a full disk.
#[derive(Debug)]
struct FullDisk {
    inner: FileBackend,
    full: Arc<AtomicBool>,
}

impl FullDisk {
    fn check(&self) -> std::io::Result<()> {
        if self.full.load(Ordering::SeqCst) {
            Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
        } else {
            Ok(())
        }
    }
}

impl StorageBackend for FullDisk {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.check()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.check()?;
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.check()?;
        self.inner.write(offset, data)
    }
    fn close(&self) -> std::io::Result<()> {
        self.inner.close()
    }
    // The file lock keeps working on a full disk; only the data writes fail.
    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }
    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }
    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }
    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }
    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }
    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

/// Opens stores through [`FullDisk`], so a test can fill the disk and empty it again.
fn full_disk_opener(full: Arc<AtomicBool>) -> Opener {
    Arc::new(move |path| {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let inner = FileBackend::new(file)?;
        redb::Builder::new().create_with_backend(FullDisk {
            inner,
            full: full.clone(),
        })
    })
}

#[test]
fn a_full_disk_degrades_the_store_until_a_write_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let full = Arc::new(AtomicBool::new(false));
    let metrics = Metrics::new();
    let store = DurableStore::open_with(
        dir.path(),
        settings(10),
        metrics.clone(),
        full_disk_opener(full.clone()),
    )
    .unwrap();
    let (first, second, third) = (
        found(t0() + chrono::Duration::days(1)),
        found(t0() + chrono::Duration::days(2)),
        found(t0() + chrono::Duration::days(3)),
    );
    store.put(&ip(1), &first).unwrap();

    full.store(true, Ordering::SeqCst);
    let failed = store.put(&ip(2), &second);
    let quota_failed = store.save_quota(&QuotaCounts {
        day: t0().date_naive(),
        day_used: 1,
        month: (2026, 11),
        month_used: 1,
        minute: vec![t0()],
    });
    let degraded = (store.is_degraded(), metrics.store_degraded.get());
    let reads_while_full = store.get_many(&[ip(1)]);
    full.store(false, Ordering::SeqCst);
    let recovered = store.put(&ip(3), &third);

    assert!(failed.is_err());
    assert!(quota_failed.is_err());
    assert_eq!(degraded, (true, 1));
    assert_eq!(metrics.store_errors.with_label_values(&["write"]).get(), 2);
    assert_eq!(reads_while_full.len(), 1);
    assert!(recovered.is_ok(), "{recovered:?}");
    assert_eq!(
        (store.is_degraded(), metrics.store_degraded.get()),
        (false, 0)
    );
    assert_eq!(
        store.get_many(&[ip(1), ip(2), ip(3)]),
        vec![Some(first), None, Some(third)]
    );
    assert_eq!(store.len(), 2);
}
