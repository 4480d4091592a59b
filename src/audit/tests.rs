//! The log over the memory backend: pages walk every entry once, filters select exactly,
//! the retention keeps the smaller of 90 days and the entry bound, cursors are verified.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::*;
use crate::clock::{Clock, ManualClock};

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-10T12:00:00Z")
        .unwrap()
        .to_utc()
}

async fn log(max_entries: u64) -> (AuditLog, ManualClock) {
    let clock = ManualClock::new(start());
    let log = AuditLog::open(
        Arc::new(MemoryBackend::default()),
        AuditSettings { max_entries },
        Arc::new(clock.clone()),
        Metrics::new(),
    )
    .await
    .unwrap();
    (log, clock)
}

fn entry(clock: &ManualClock, actor: &str, action: &str) -> Event {
    Event::new(clock.now(), actor, action).target("caller", actor)
}

#[tokio::test]
async fn pages_with_a_cursor_walk_every_entry_exactly_once_newest_first() {
    let (log, clock) = log(10_000).await;
    for i in 0..1_234 {
        log.record(entry(&clock, &format!("c{}", i % 7), "caller.updated"));
    }
    log.flush().await;

    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..100 {
        let page = log
            .query(&Filter::default(), 100, cursor.as_deref())
            .await
            .unwrap();
        seen.extend(page.entries.iter().map(|e| e.id.parse::<u64>().unwrap()));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }

    assert_eq!(seen.len(), 1_234);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 1_234);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first");
}

#[tokio::test]
async fn each_filter_returns_exactly_the_matching_entries() {
    let (log, clock) = log(10_000).await;
    log.record(entry(&clock, "alice", "caller.created"));
    clock.advance(Duration::from_secs(60));
    let middle = clock.now();
    log.record(entry(&clock, "bob", "caller.updated"));
    log.record(entry(&clock, "alice", "caller.deleted"));
    clock.advance(Duration::from_secs(60));
    log.record(entry(&clock, "carol", "caller.updated"));
    log.flush().await;
    let actors = |page: Page| -> Vec<(String, String)> {
        page.entries
            .into_iter()
            .map(|e| (e.actor, e.action))
            .collect()
    };

    let by_actor = Filter {
        actor: Some("alice".into()),
        ..Filter::default()
    };
    let by_action = Filter {
        action: Some("caller.updated".into()),
        ..Filter::default()
    };
    let by_target = Filter {
        target_type: Some("caller".into()),
        target_id: Some("bob".into()),
        ..Filter::default()
    };
    let by_time = Filter {
        from: Some(middle),
        to: Some(middle),
        ..Filter::default()
    };

    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        actors(log.query(&by_actor, 10, None).await.unwrap()),
        [
            pair("alice", "caller.deleted"),
            pair("alice", "caller.created")
        ]
    );
    assert_eq!(
        actors(log.query(&by_action, 10, None).await.unwrap()),
        [
            pair("carol", "caller.updated"),
            pair("bob", "caller.updated")
        ]
    );
    assert_eq!(
        actors(log.query(&by_target, 10, None).await.unwrap()),
        [pair("bob", "caller.updated")]
    );
    assert_eq!(
        actors(log.query(&by_time, 10, None).await.unwrap()),
        [
            pair("alice", "caller.deleted"),
            pair("bob", "caller.updated")
        ]
    );
}

#[tokio::test]
async fn a_forged_cursor_is_refused() {
    let (log, clock) = log(10).await;
    log.record(entry(&clock, "a", "x"));
    log.flush().await;

    let result = log
        .query(&Filter::default(), 10, Some("NDEuZm9yZ2Vk"))
        .await;

    assert!(matches!(result, Err(QueryError::BadCursor)));
}

#[tokio::test]
async fn the_retention_keeps_at_most_max_entries_and_nothing_older_than_90_days() {
    let (log, clock) = log(5).await;
    for _ in 0..8 {
        log.record(entry(&clock, "a", "old"));
    }
    log.flush().await;
    let bounded = log.query(&Filter::default(), 100, None).await.unwrap();
    clock.advance(MAX_AGE + Duration::from_secs(1));
    log.record(entry(&clock, "a", "new"));
    log.flush().await;
    let aged = log.query(&Filter::default(), 100, None).await.unwrap();

    assert_eq!(bounded.entries.len(), 5);
    assert_eq!(aged.entries.len(), 1);
    assert_eq!(aged.entries[0].action, "new");
}

#[tokio::test]
async fn admin_actions_carry_before_and_after() {
    let (log, _clock) = log(10).await;

    log.record_admin(
        "soc-admin",
        Some("192.0.2.1".parse().unwrap()),
        "caller.updated",
        "caller",
        "siem",
        Some(serde_json::json!({"daily_cap": 100})),
        Some(serde_json::json!({"daily_cap": 200})),
    );
    log.flush().await;
    let page = log.query(&Filter::default(), 10, None).await.unwrap();

    let event = &page.entries[0];
    assert_eq!(event.actor, "soc-admin");
    assert_eq!(event.source_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(event.details["before"]["daily_cap"], 100);
    assert_eq!(event.details["after"]["daily_cap"], 200);
}

#[tokio::test]
async fn a_start_reports_the_settings_changed_since_the_last_start() {
    let (log, _clock) = log(10).await;
    let mut settings = Settings::default();
    log.started(&settings).await;
    settings.max_batch = 7;
    log.started(&settings).await;
    log.flush().await;

    let page = log.query(&Filter::default(), 10, None).await.unwrap();

    let (second, first) = (&page.entries[0], &page.entries[1]);
    assert_eq!(first.details["first_start"], true);
    assert_eq!(second.details["changed"]["max_batch"]["after"], "7");
    assert_eq!(second.details["changed"].as_object().unwrap().len(), 1);
}
