//! Two replicas (two gates in one process) sharing one account in one Redis.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use vtenrich::clock::Clock;
use vtenrich::config::RedisFailureMode;
use vtenrich::quota::{DenyReason, Priority, SyncedUsage, UpstreamSignal};
use vtenrich::redis::Keys;

use crate::common::{Fleet, NS, at, counter, eventually, limits, settle};

#[tokio::test]
async fn redis_two_replicas_never_grant_more_than_the_rate_in_any_60_s_window() {
    let fleet = Fleet::start();
    let rate = limits(4, 500, 15_500);
    let a = fleet.replica(RedisFailureMode::LocalShare, 2, rate).await;
    let b = fleet.replica(RedisFailureMode::LocalShare, 2, rate).await;
    let grants: Arc<Mutex<Vec<DateTime<Utc>>>> = Arc::default();
    let mut tasks = Vec::new();
    for i in 0..14 {
        let gate = if i % 2 == 0 {
            a.gate.clone()
        } else {
            b.gate.clone()
        };
        let priority = if i % 3 == 0 {
            Priority::Background
        } else {
            Priority::Interactive
        };
        let (grants, clock) = (grants.clone(), fleet.clock.clone());
        tasks.push(tokio::spawn(async move {
            gate.acquire(priority, None)
                .await
                .expect("no deadline, no denial");
            grants.lock().unwrap().push(clock.now());
        }));
    }

    // 4 slots a minute for 14 waiters, each slot held 61 s (60 s plus the arrival margin)
    // and the clock moving in 5 s steps: 4 at 0 s, 65 s and 130 s, the last 2 at 195 s. The
    // clock moves only once the grants due by now have happened (and no more), so each is
    // recorded at the time the script granted it.
    for step in 0..=40 {
        let due = (4 * (step / 13 + 1)).min(14);
        let count = || grants.lock().unwrap().len();
        eventually(&format!("{due} grants by {} s", step * 5), || {
            count() >= due
        })
        .await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(count(), due, "no grant beyond the rate at {} s", step * 5);
        if due == 14 {
            break;
        }
        fleet.clock.advance(Duration::from_secs(5));
    }

    let mut grants = grants.lock().unwrap().clone();
    grants.sort();
    assert_eq!(grants.len(), 14, "every waiter was served");
    for (i, start) in grants.iter().enumerate() {
        let in_window = grants[i..]
            .iter()
            .take_while(|t| **t < *start + TimeDelta::seconds(60))
            .count();
        assert!(
            in_window <= 4,
            "{in_window} grants in the minute from {start}"
        );
    }
    assert_eq!(fleet.shared_counts().await.0, 14);
    assert!(!a.offline() && !b.offline());
}

#[tokio::test]
async fn redis_a_slot_taken_by_one_replica_is_denied_to_the_other_with_the_fleets_retry() {
    let fleet = Fleet::start();
    let t0 = fleet.clock.now();
    let rate = limits(2, 500, 15_500);
    let a = fleet.replica(RedisFailureMode::LocalShare, 2, rate).await;
    let b = fleet.replica(RedisFailureMode::LocalShare, 2, rate).await;
    a.gate
        .acquire(Priority::Interactive, Some(t0))
        .await
        .unwrap();
    fleet.clock.advance(Duration::from_secs(10));
    a.gate
        .acquire(Priority::Interactive, Some(t0))
        .await
        .unwrap();

    let denied = b.ask_now().await.unwrap_err();

    assert_eq!(denied.reason, DenyReason::Minute);
    assert_eq!(
        denied.retry_at,
        t0 + TimeDelta::seconds(61),
        "60 s plus the arrival margin"
    );
    assert_eq!(
        b.gate.snapshot().minute.used,
        2,
        "b's snapshot shows the fleet"
    );
    assert_eq!(b.gate.snapshot().day.used, 2);
}

#[tokio::test]
async fn redis_a_waiter_sleeps_until_the_slot_frees_without_asking_redis_meanwhile() {
    let fleet = Fleet::start();
    let t0 = fleet.clock.now();
    let a = fleet
        .replica(RedisFailureMode::LocalShare, 1, limits(1, 500, 15_500))
        .await;
    a.gate.acquire(Priority::Interactive, None).await.unwrap();
    let mut conn = fleet.server.connection().await;
    let calls_before = script_calls(&mut conn).await;

    let gate = a.gate.clone();
    let started = std::time::Instant::now();
    let waiter = tokio::spawn(async move { gate.acquire(Priority::Interactive, None).await });
    settle().await;
    let calls_while_waiting = script_calls(&mut conn).await - calls_before;
    // A loaded machine stretches the settle: the refreshes due in the time that really
    // passed are allowed, a polling waiter's calls (one per few milliseconds) are not.
    let refreshes = u64::try_from(started.elapsed().as_millis() / 200).unwrap_or(u64::MAX);
    fleet.clock.set(t0 + TimeDelta::seconds(61));
    eventually("the waiter is granted once the slot frees", || {
        waiter.is_finished()
    })
    .await;

    assert!(waiter.await.unwrap().is_ok());
    // One denial taught it the slot; the rest of the calls are the periodic refreshes
    // (every 200 ms here), far fewer than a polling waiter would make.
    assert!(
        calls_while_waiting <= 2 + refreshes,
        "{calls_while_waiting} script calls while waiting ({refreshes} refreshes due)"
    );
}

async fn script_calls(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[tokio::test]
async fn redis_quota_exceeded_on_one_replica_blocks_the_other_until_midnight() {
    let fleet = Fleet::start_at("2026-03-10T15:30:00Z");
    let rate = limits(4, 500, 15_500);
    let a = fleet.replica(RedisFailureMode::LocalShare, 2, rate).await;
    let b = fleet.replica(RedisFailureMode::LocalShare, 2, rate).await;
    let mut conn = fleet.server.connection().await;
    let flag = Keys::new(NS).unwrap().blocked();

    a.gate.signal(UpstreamSignal::QuotaExceeded);
    for _ in 0..100 {
        if counter(&mut conn, &flag).await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let denied = b
        .gate
        .acquire(
            Priority::Interactive,
            Some(fleet.clock.now() + TimeDelta::seconds(30)),
        )
        .await
        .unwrap_err();

    let midnight = at("2026-03-11T00:00:00Z");
    assert_eq!(denied.reason, DenyReason::Blocked);
    assert_eq!(denied.retry_at, midnight);
    assert_eq!(
        a.gate.snapshot().blocked_until,
        Some(midnight),
        "set at once locally"
    );
    assert_eq!(b.gate.snapshot().blocked_until, Some(midnight));
    fleet.clock.set(midnight);
    b.gate
        .acquire(Priority::Interactive, Some(midnight))
        .await
        .unwrap();
}

#[tokio::test]
async fn redis_too_many_requests_on_one_replica_pauses_the_other_for_the_backoff() {
    let fleet = Fleet::start_at("2026-03-10T15:30:00Z");
    let t0 = fleet.clock.now();
    let rate = limits(4, 500, 15_500);
    let a = fleet.replica(RedisFailureMode::LocalShare, 2, rate).await;
    let b = fleet.replica(RedisFailureMode::LocalShare, 2, rate).await;

    a.gate.signal(UpstreamSignal::TooManyRequests);
    let mut denied = None;
    for _ in 0..100 {
        match b.ask_now().await {
            Err(d) => {
                denied = Some(d);
                break;
            }
            // Granted before the block reached Redis: spend and look again.
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }

    let denied = denied.expect("the other replica is blocked");
    assert_eq!(denied.reason, DenyReason::Blocked);
    assert_eq!(denied.retry_at, t0 + TimeDelta::seconds(30));
}

#[tokio::test]
async fn redis_adopted_counts_reach_the_other_replica() {
    let fleet = Fleet::start();
    let rate = limits(4, 500, 15_500);
    let a = fleet.replica(RedisFailureMode::LocalShare, 2, rate).await;
    let b = fleet.replica(RedisFailureMode::LocalShare, 2, rate).await;

    a.gate.adopt(SyncedUsage {
        day_used: 500,
        month_used: 900,
    });
    let mut conn = fleet.server.connection().await;
    let day = Keys::new(NS).unwrap().day(fleet.clock.now().date_naive());
    for _ in 0..100 {
        if counter(&mut conn, &day).await == 500 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let denied = b
        .gate
        .acquire(Priority::Background, Some(fleet.clock.now()))
        .await
        .unwrap_err();

    assert_eq!(denied.reason, DenyReason::Day);
    assert_eq!(denied.retry_at, at("2026-03-11T00:00:00Z"));
    assert_eq!(b.gate.snapshot().month.used, 900);
}

#[tokio::test]
async fn redis_across_replicas_bulk_asks_stop_at_the_reserve_while_interactive_asks_spend_it() {
    // Arrange: 5 calls a day for the fleet, the last 2 kept for interactive callers; 3 spent.
    let fleet = Fleet::start();
    let mut rate = limits(100, 5, 15_500);
    rate.reserve_interactive = 2;
    let a = fleet.replica(RedisFailureMode::LocalShare, 2, rate).await;
    let b = fleet.replica(RedisFailureMode::LocalShare, 2, rate).await;
    let now = Some(fleet.clock.now());
    for _ in 0..3 {
        a.gate.acquire(Priority::Bulk, now).await.unwrap();
    }

    // Act
    let bulk_on_b = b.gate.acquire(Priority::Bulk, now).await.unwrap_err();
    let interactive_on_b = b.gate.acquire(Priority::Interactive, now).await;
    let interactive_on_a = a.gate.acquire(Priority::Interactive, now).await;
    let spent = a
        .gate
        .acquire(Priority::Interactive, now)
        .await
        .unwrap_err();

    // Assert
    assert_eq!(bulk_on_b.reason, DenyReason::Reserve);
    assert_eq!(bulk_on_b.retry_at, at("2026-03-11T00:00:00Z"));
    assert!(
        interactive_on_b.is_ok(),
        "the reserve denial held back no one else"
    );
    assert!(interactive_on_a.is_ok());
    assert_eq!(spent.reason, DenyReason::Day);
}
