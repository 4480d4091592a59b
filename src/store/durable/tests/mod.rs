//! Tests of the durable store: durability across reopening, order, quota counts; faults and
//! purging in their own files.

mod faults;
mod purge;
mod usage;

use std::net::{IpAddr, Ipv4Addr};

use crate::observable::Observable;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::*;
use crate::answer::Answer;
use crate::enrich::SecondTier;
use crate::report::{Code2, IpReport};

/// A fixed moment, so deadlines in tests never depend on the wall clock.
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
        .unwrap()
        .to_utc()
}

fn ip(i: u32) -> Observable {
    Observable::Ip(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)))
}

fn report() -> IpReport {
    IpReport {
        asn: Some(15169),
        country: Code2::parse("US"),
        as_owner: Some("Google LLC".into()),
        ..IpReport::default()
    }
}

/// An answer fetched at `t0` that is stale until `stale_until`.
fn entry(answer: Answer, stale_until: DateTime<Utc>) -> Entry {
    Entry::new(answer, t0(), t0() + chrono::Duration::hours(1), stale_until)
}

fn found(stale_until: DateTime<Utc>) -> Entry {
    entry(Answer::Found(report().into()), stale_until)
}

fn settings(max_entries: u64) -> StoreSettings {
    StoreSettings {
        max_entries,
        purge_interval: Duration::from_secs(600),
    }
}

fn open(dir: &Path) -> DurableStore {
    DurableStore::open(dir, settings(1_000_000), Metrics::new()).expect("store opens")
}

/// Writes many entries in one transaction (one commit per entry would make large tests slow).
fn put_batch(store: &DurableStore, items: &[(Observable, Entry)]) {
    store
        .write("write", |txn| {
            for (ip, entry) in items {
                put_in(txn, ip, entry)?;
            }
            Ok(())
        })
        .expect("batch written");
}

#[test]
fn an_entry_written_is_read_back_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let written = found(t0() + chrono::Duration::days(8));
    let store = open(dir.path());

    store.put(&ip(1), &written).unwrap();
    drop(store);
    let reopened = open(dir.path());

    assert_eq!(reopened.get_many(&[ip(1)]), vec![Some(written)]);
    assert_eq!(reopened.len(), 1);
}

#[test]
fn entries_of_the_ip_only_layout_are_read_after_the_upgrade_and_purged_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let stale_ms = (t0() + chrono::Duration::days(8)).timestamp_millis();
    // Exactly what the IP-only version stored: 16-byte keys, its codec's JSON.
    let old = format!(
        r#"{{"v":1,"fetched":{},"fresh":{},"stale":{stale_ms},"report":{{"asn":15169,"country":"US","owner":"Google LLC"}}}}"#,
        t0().timestamp_millis(),
        (t0() + chrono::Duration::hours(1)).timestamp_millis(),
    );
    let octets = std::net::Ipv4Addr::new(10, 0, 0, 1)
        .to_ipv6_mapped()
        .octets();
    {
        let db = redb::Database::create(dir.path().join(file::FILE_NAME)).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(tables::ENTRIES_V1)
            .unwrap()
            .insert(octets, (stale_ms, old.as_bytes()))
            .unwrap();
        txn.open_table(tables::EXPIRY_V1)
            .unwrap()
            .insert((stale_ms, octets), ())
            .unwrap();
        txn.commit().unwrap();
    }

    let store = open(dir.path());

    assert_eq!(
        store.get_many(&[ip(1)]),
        vec![Some(found(t0() + chrono::Duration::days(8)))]
    );
    assert_eq!(store.len(), 1);
    drop(store);
    let again = open(dir.path());
    assert_eq!(again.get_many(&[ip(1)]).len(), 1);
    assert!(
        again.get_many(&[ip(1)])[0].is_some(),
        "still there on the next open"
    );
    let purged = again.purge(t0() + chrono::Duration::days(9)).unwrap();
    assert_eq!(purged, 1, "the moved entry has its expiry row");
    assert_eq!(again.get_many(&[ip(1)]), vec![None]);
}

#[test]
fn entries_of_every_type_are_read_back_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let observables: Vec<Observable> = [
        "example.com",
        "https://example.com/a?b=c",
        "44d88612fea8a8f36de82e1278abb02f",
        "10.0.0.1",
    ]
    .iter()
    .map(|text| Observable::infer(text).unwrap())
    .collect();
    let written = entry(Answer::NotFound, t0() + chrono::Duration::days(2));

    for observable in &observables {
        store.put(observable, &written).unwrap();
    }
    drop(store);
    let reopened = open(dir.path());

    assert_eq!(reopened.get_many(&observables), vec![Some(written); 4]);
    assert_eq!(reopened.len(), 4);
}

#[test]
fn a_not_found_entry_is_read_back_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let v6 = Observable::Ip("2001:db8::7".parse().unwrap());
    let written = entry(Answer::NotFound, t0() + chrono::Duration::days(2));
    let store = open(dir.path());

    store.put(&v6, &written).unwrap();
    drop(store);
    let reopened = open(dir.path());

    assert_eq!(
        reopened.get_many(std::slice::from_ref(&v6)),
        vec![Some(written)]
    );
}

#[test]
fn quota_counts_and_the_last_minute_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let counts = QuotaCounts {
        day: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
        day_used: 123,
        month: (2026, 11),
        month_used: 4_567,
        minute: vec![t0(), t0() + chrono::TimeDelta::seconds(2)],
    };
    let store = open(dir.path());
    assert_eq!(store.load_quota(), None);

    store.save_quota(&counts).unwrap();
    drop(store);
    let reopened = open(dir.path());

    assert_eq!(reopened.load_quota(), Some(counts));
}

#[test]
fn get_many_keeps_order_and_reports_misses() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = found(t0() + chrono::Duration::days(1));
    let third = entry(Answer::NotFound, t0() + chrono::Duration::days(3));
    store.put(&ip(1), &first).unwrap();
    store.put(&ip(3), &third).unwrap();

    let got = store.get_many(&[ip(3), ip(2), ip(1), ip(3)]);

    assert_eq!(
        got,
        vec![Some(third.clone()), None, Some(first), Some(third)]
    );
}

#[test]
fn a_rewritten_entry_replaces_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let newer = entry(Answer::NotFound, t0() + chrono::Duration::days(9));
    store
        .put(&ip(1), &found(t0() + chrono::Duration::days(1)))
        .unwrap();

    store.put(&ip(1), &newer).unwrap();

    assert_eq!(store.get_many(&[ip(1)]), vec![Some(newer)]);
    assert_eq!(store.len(), 1);
}

#[test]
fn an_undecodable_record_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .write("write", |txn| {
            txn.open_table(ENTRIES)?.insert(
                tables::key(&ip(1)).as_slice(),
                (0, b"not a record".as_slice()),
            )?;
            Ok(())
        })
        .unwrap();

    assert_eq!(store.get_many(&[ip(1)]), vec![None]);
}

#[test]
fn a_store_with_100k_entries_reopens_and_answers_get_many() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let stale = t0() + chrono::Duration::days(8);
    for batch in 0..10u32 {
        let items: Vec<_> = (batch * 10_000..(batch + 1) * 10_000)
            .map(|i| (ip(i), found(stale)))
            .collect();
        put_batch(&store, &items);
    }
    drop(store);

    let reopened = open(dir.path());
    let asked: Vec<Observable> = (0..100_000)
        .step_by(97)
        .map(ip)
        .chain([ip(100_001)])
        .collect();
    let got = reopened.get_many(&asked);

    assert_eq!(reopened.len(), 100_000);
    assert_eq!(got.len(), asked.len());
    assert!(
        got[..asked.len() - 1]
            .iter()
            .all(|e| e.as_ref() == Some(&found(stale)))
    );
    assert_eq!(got.last(), Some(&None));
}

#[tokio::test]
async fn the_second_tier_writes_through_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let written = found(t0() + chrono::Duration::days(8));

    SecondTier::put(&store, &ip(5), &written).await;
    let got = SecondTier::get_many(&store, &[ip(4), ip(5)]).await;

    assert_eq!(got, vec![None, Some(written)]);
}
