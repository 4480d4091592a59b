//! Purging expired entries, enforcing the size bound, and the background purger.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::*;
use crate::clock::ManualClock;

fn open_bounded(dir: &Path, max_entries: u64) -> DurableStore {
    DurableStore::open(dir, settings(max_entries), Metrics::new()).expect("store opens")
}

fn present(store: &DurableStore, ips: &[Observable]) -> Vec<bool> {
    store.get_many(ips).iter().map(Option::is_some).collect()
}

#[test]
fn purge_deletes_entries_whose_stale_deadline_is_before_now() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ms = chrono::Duration::milliseconds;
    for (i, stale) in [t0() - ms(3_600_000), t0() - ms(1), t0(), t0() + ms(1)]
        .into_iter()
        .enumerate()
    {
        store.put(&ip(i as u32), &found(stale)).unwrap();
    }

    let deleted = store.purge(t0()).unwrap();

    assert_eq!(deleted, 2);
    assert_eq!(
        present(&store, &[ip(0), ip(1), ip(2), ip(3)]),
        [false, false, true, true]
    );
    assert_eq!(store.len(), 2);
}

#[test]
fn purge_enforces_max_entries_by_earliest_stale_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_bounded(dir.path(), 3);
    // Written out of deadline order, so the purge must follow deadlines, not insertion.
    for (i, hours) in [(0, 5), (1, 1), (2, 4), (3, 2), (4, 3)] {
        store
            .put(&ip(i), &found(t0() + chrono::Duration::hours(hours)))
            .unwrap();
    }

    let deleted = store.purge(t0()).unwrap();

    assert_eq!(deleted, 2);
    assert_eq!(
        present(&store, &[ip(0), ip(1), ip(2), ip(3), ip(4)]),
        [true, false, true, false, true]
    );
    assert_eq!(store.len(), 3);
}

#[test]
fn a_rewritten_entry_is_purged_by_its_new_deadline_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .put(&ip(1), &found(t0() - chrono::Duration::hours(1)))
        .unwrap();
    store
        .put(&ip(1), &found(t0() + chrono::Duration::hours(1)))
        .unwrap();

    let deleted = store.purge(t0()).unwrap();

    assert_eq!(deleted, 0);
    assert_eq!(present(&store, &[ip(1)]), [true]);
}

#[test]
fn purge_works_through_more_expired_entries_than_one_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let expired: Vec<_> = (0..2_500)
        .map(|i| {
            (
                ip(i),
                found(t0() - chrono::Duration::seconds(i64::from(i) + 1)),
            )
        })
        .collect();
    put_batch(&store, &expired);
    store
        .put(&ip(9_999), &found(t0() + chrono::Duration::days(1)))
        .unwrap();

    let deleted = store.purge(t0()).unwrap();

    assert_eq!(deleted, 2_500);
    assert_eq!(store.len(), 1);
}

#[test]
fn the_entry_count_metric_follows_writes_and_purges() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Metrics::new();
    let store = DurableStore::open(dir.path(), settings(10), metrics.clone()).unwrap();
    store
        .put(&ip(1), &found(t0() - chrono::Duration::hours(1)))
        .unwrap();
    store
        .put(&ip(2), &found(t0() + chrono::Duration::hours(1)))
        .unwrap();
    let after_writes = metrics.store_entries.get();

    store.purge(t0()).unwrap();

    assert_eq!((after_writes, metrics.store_entries.get()), (2, 1));
}

/// Polls `done` for at most five seconds (the purger runs on another thread).
async fn eventually(done: impl Fn() -> bool) -> bool {
    for _ in 0..500 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

#[tokio::test]
async fn the_purger_runs_at_start_and_on_its_interval_until_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let clock = ManualClock::new(t0());
    store
        .put(&ip(1), &found(t0() - chrono::Duration::seconds(1)))
        .unwrap();
    store
        .put(&ip(2), &found(t0() + chrono::Duration::minutes(5)))
        .unwrap();
    let cancel = CancellationToken::new();

    let purger = spawn_purger(store.clone(), Arc::new(clock.clone()), cancel.clone());
    let purged_at_start = eventually(|| store.len() == 1).await;
    clock.advance(Duration::from_secs(11 * 60));
    let purged_on_interval = eventually(|| store.is_empty()).await;
    cancel.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(5), purger).await;

    assert!(purged_at_start);
    assert!(purged_on_interval);
    assert!(matches!(stopped, Ok(Ok(()))));
}
