//! Usage counts in the store: they survive a reopen, refunds come off, and the purge drops
//! the 61st day back and keeps the 60th.

use chrono::Days;

use super::*;
use crate::caller::Caller;
use crate::usage::{Counter, Delta, Endpoint, Route, UsageKey};

fn delta(day: NaiveDate, by: i64) -> Delta {
    Delta {
        day,
        key: UsageKey::of(&Caller::new("soar").on(Route::Ip), Endpoint::IpAddresses),
        counter: Counter::VirusTotalCalls,
        by,
    }
}

#[test]
fn counts_survive_a_reopen_and_a_refund_comes_off() {
    let dir = tempfile::tempdir().unwrap();
    let today = t0().date_naive();
    {
        let store = open(dir.path());
        store
            .usage_add(&[delta(today, 1), delta(today, 1), delta(today, 1)])
            .unwrap();
        store.usage_add(&[delta(today, -1)]).unwrap();
    }

    let counts = open(dir.path()).usage_read(today, today).unwrap();

    assert_eq!(counts.len(), 1);
    assert_eq!(counts[0].0, today);
    assert_eq!(counts[0].1, delta(today, 1).key);
    assert_eq!((counts[0].2, counts[0].3), (Counter::VirusTotalCalls, 2));
}

#[test]
fn the_purge_drops_the_61st_day_back_and_keeps_the_60th() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let today = t0().date_naive();
    let sixtieth = today - Days::new(59);
    let sixty_first = today - Days::new(60);
    store
        .usage_add(&[delta(sixty_first, 1), delta(sixtieth, 1), delta(today, 1)])
        .unwrap();

    let purged = store.usage_purge(t0()).unwrap();
    let left = store.usage_read(sixty_first, today).unwrap();

    assert_eq!(purged, 1);
    let days: Vec<NaiveDate> = left.iter().map(|c| c.0).collect();
    assert_eq!(days, [sixtieth, today]);
}
