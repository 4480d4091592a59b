//! Tests of the usage accounts on the memory backend, on a manual clock.

use std::sync::Arc;

use chrono::{DateTime, Utc};

const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);

use super::*;
use crate::clock::ManualClock;
use crate::enrich::{ItemResult, Outcome};
use crate::observable::{InvalidObservable, Observable};

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

fn accounts(start: &str) -> (Usage, ManualClock) {
    let clock = ManualClock::new(at(start));
    let usage = Usage::new(Arc::new(MemoryUsage::default()), Arc::new(clock.clone()));
    (usage, clock)
}

fn invalid() -> ItemResult {
    let why = InvalidObservable::new("not an IP address");
    ItemResult {
        input: "nope".into(),
        observable: None,
        outcome: Outcome::Invalid(why),
    }
}

fn not_routable() -> ItemResult {
    let observable = Observable::Ip("10.0.0.1".parse().unwrap());
    let why = crate::observable::not_routable(&observable, &Default::default()).unwrap();
    ItemResult {
        input: "10.0.0.1".into(),
        observable: Some(observable),
        outcome: Outcome::NotRoutable(why),
    }
}

fn counts(rows: &[Row], endpoint: Option<Endpoint>) -> Counts {
    rows.iter()
        .find(|r| r.key.endpoint == endpoint)
        .map(|r| r.counts)
        .unwrap_or_default()
}

#[tokio::test]
async fn a_request_counts_once_per_endpoint_and_each_answer_by_kind() {
    let (usage, _clock) = accounts("2026-11-10T12:00:00Z");
    let soar = Caller::new("soar").on(Route::Enrich);
    let batch = BatchResult {
        items: vec![not_routable(), invalid(), not_routable()],
        upstream_calls: 0,
    };

    usage.record(&soar, &batch);
    let rows = usage
        .report(usage.today(), usage.today(), None)
        .await
        .unwrap();

    let ip = counts(&rows, Some(Endpoint::IpAddresses));
    assert_eq!(ip.get(Counter::Requests), 1);
    assert_eq!(ip.get(Counter::Observables), 2);
    assert_eq!(ip.get(Counter::Local), 2);
    let none = counts(&rows, None);
    assert_eq!(
        (none.get(Counter::Requests), none.get(Counter::Local)),
        (1, 1)
    );
    assert!(rows.iter().all(|r| r.key.route == Route::Enrich));
}

#[tokio::test]
async fn a_given_back_call_is_no_longer_counted() {
    let (usage, _clock) = accounts("2026-11-10T12:00:00Z");
    let key = UsageKey::of(&Caller::new("soar").on(Route::Ip), Endpoint::IpAddresses);
    let today = usage.today();

    usage.consume(today, &key, 1).await;
    usage.consume(today, &key, 1).await;
    usage.consume(today, &key, -1).await;
    let rows = usage.report(today, today, None).await.unwrap();

    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].counts.get(Counter::VirusTotalCalls), 1);
}

#[tokio::test]
async fn a_report_keeps_to_its_range_and_caller() {
    let (usage, clock) = accounts("2026-11-10T12:00:00Z");
    let (soar, siem) = (Caller::new("soar"), Caller::new("siem"));
    let key = |c: &Caller| UsageKey::of(c, Endpoint::IpAddresses);
    let first = usage.today();
    usage.consume(first, &key(&soar), 1).await;
    clock.advance(DAY);
    let second = usage.today();
    usage.consume(second, &key(&soar), 1).await;
    usage.consume(second, &key(&siem), 1).await;

    let only_second = usage.report(second, second, None).await.unwrap();
    let only_soar = usage.report(first, second, Some(soar.id())).await.unwrap();

    assert_eq!(only_second.len(), 2);
    assert!(only_second.iter().all(|r| r.day == second));
    assert_eq!(only_soar.len(), 2);
    assert!(only_soar.iter().all(|r| r.key.caller == *soar.id()));
}

#[tokio::test]
async fn the_61st_day_back_is_purged_from_memory() {
    let (usage, clock) = accounts("2026-09-01T12:00:00Z");
    let key = UsageKey::of(&Caller::new("soar"), Endpoint::IpAddresses);
    let old = usage.today();
    usage.consume(old, &key, 1).await;

    clock.advance(DAY * 59);
    usage.consume(usage.today(), &key, 1).await;
    let kept = usage.report(old, old, None).await.unwrap();
    clock.advance(DAY);
    usage.consume(usage.today(), &key, 1).await;
    let purged = usage.report(old, old, None).await.unwrap();

    assert_eq!(kept.len(), 1, "the 60th day back is kept");
    assert!(purged.is_empty(), "the 61st day back is gone");
}
