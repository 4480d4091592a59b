//! Redis paused, killed or absent: the gate never fails open, falls back to its share (or
//! allows nothing in closed mode), and pays back what it spent when Redis answers again.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use secrecy::SecretString;
use vtenrich::clock::{Clock, ManualClock};
use vtenrich::config::RedisFailureMode;
use vtenrich::metrics::Metrics;
use vtenrich::quota::{DenyReason, Priority};
use vtenrich::redis::connect_with;

use crate::common::{Fleet, at, eventually, eventually_advancing, limits, options, settings};
use crate::support::redis_server::RedisServer;

#[tokio::test]
async fn redis_a_paused_redis_makes_the_gate_spend_its_share_and_pay_it_back_on_resume() {
    let mut fleet = Fleet::start();
    // Two replicas: while alone each may spend 2 a minute and 50 a day.
    let a = fleet.replica_after_one_call(2).await;

    fleet.server.pause();
    let first = a.ask_now().await;
    let second = a.ask_now().await;
    let alone = a.offline();
    let backend_up = a.metrics.quota_backend_up.get();
    fleet.server.resume();
    // Back to Redis only after a whole minute of Redis answering: until then the other
    // replicas' spends of that minute may not be in Redis yet.
    tokio::time::sleep(Duration::from_millis(300)).await;
    fleet.clock.advance(Duration::from_secs(30));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let still_alone = a.offline();
    a.rejoin().await;

    // The fleet had used 1 of the minute's 4 when Redis went away; with a share of 2 a
    // minute this replica may take only its part of what was left: (4 - 1) / 2 = 1.
    assert!(first.is_ok(), "{first:?}");
    assert_eq!(
        second.unwrap_err().reason,
        DenyReason::Minute,
        "the share of the minute's rest"
    );
    assert!(alone);
    assert!(
        still_alone,
        "not back while its spend is in the minute window"
    );
    assert_eq!(backend_up, 0);
    assert_eq!(a.metrics.quota_backend_up.get(), 1);
    let (shared, _) = fleet.shared_counts().await;
    // 1 before the pause + 1 alone; the acquire that timed out was queued in the paused
    // server and may have been spent when it resumed (over-counting is the safe side).
    assert!((2..=3).contains(&shared), "shared day counter {shared}");
}

#[tokio::test]
async fn redis_a_restarted_empty_redis_gets_exactly_the_spends_made_without_it() {
    let mut fleet = Fleet::start();
    let a = fleet.replica_after_one_call(2).await;

    fleet.server.stop();
    // The fleet had used 1 of this minute's 4: this replica's part of the rest is 1.
    a.ask_now().await.unwrap();
    fleet.clock.advance(Duration::from_secs(61));
    a.gate.acquire(Priority::Background, None).await.unwrap();
    fleet.server.restart();
    a.rejoin().await;

    // The restarted Redis is empty: it holds exactly the 2 spends made alone.
    assert_eq!(fleet.shared_counts().await, (2, 2));
}

#[tokio::test]
async fn redis_the_share_counts_what_the_fleet_had_already_spent_today() {
    let mut fleet = Fleet::start();
    // 10 a day for 2 replicas; 6 are spent through Redis, so 4 were left: 2 for this one.
    let a = fleet
        .replica(RedisFailureMode::LocalShare, 2, limits(100, 10, 15_500))
        .await;
    for _ in 0..6 {
        a.ask_now().await.unwrap();
    }

    fleet.server.stop();
    let spent = [a.ask_now().await, a.ask_now().await];
    let third = a.ask_now().await;

    assert!(spent.iter().all(Result::is_ok), "{spent:?}");
    let third = third.unwrap_err();
    assert_eq!(third.reason, DenyReason::Day);
    assert_eq!(third.retry_at, at("2026-03-11T00:00:00Z"));
}

#[tokio::test]
async fn redis_closed_mode_allows_no_call_while_redis_is_down() {
    let mut fleet = Fleet::start();
    let a = fleet
        .replica(RedisFailureMode::Closed, 2, limits(4, 100, 15_500))
        .await;

    fleet.server.stop();
    let interactive = a
        .gate
        .acquire(
            Priority::Interactive,
            Some(fleet.clock.now() + TimeDelta::seconds(5)),
        )
        .await;
    let gate = a.gate.clone();
    let background = tokio::spawn(async move { gate.acquire(Priority::Background, None).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let background_waited = !background.is_finished();
    fleet.server.restart();
    eventually("the background fill is granted once Redis is back", || {
        background.is_finished()
    })
    .await;

    assert_eq!(interactive.unwrap_err().reason, DenyReason::Closed);
    assert!(background_waited, "a background fill waits for Redis");
    assert!(background.await.unwrap().is_ok());
    assert_eq!(fleet.shared_counts().await.0, 1, "nothing was spent alone");
}

#[tokio::test]
async fn redis_a_replica_starting_without_redis_runs_on_its_share_and_joins_later() {
    let mut fleet = Fleet::without_redis();
    let a = fleet
        .replica(RedisFailureMode::LocalShare, 4, limits(4, 100, 15_500))
        .await;

    let alone_at_start = a.offline();
    let first = a.ask_now().await;
    let second = a.ask_now().await;
    fleet.server.restart();
    // The share keeps deciding until Redis has answered for a whole minute.
    eventually_advancing("the gate joins the fleet", &fleet.clock, || !a.offline()).await;

    assert!(alone_at_start);
    assert!(first.is_ok(), "{first:?}");
    assert_eq!(
        second.unwrap_err().reason,
        DenyReason::Minute,
        "1 a minute alone"
    );
    assert_eq!(fleet.shared_counts().await.0, 1);
}

/// Collects log output for the password test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn redis_the_redis_password_never_reaches_logs_or_errors() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = RedisServer::unstarted();
    let with_password = server.url().replace("redis://", "redis://:hunter2-secret@");
    let clock = Arc::new(ManualClock::new(at("2026-03-10T08:00:00Z")));
    let limits = limits(4, 100, 15_500);

    let parts = connect_with(
        &settings(&with_password, RedisFailureMode::LocalShare, 1),
        limits,
        clock.clone(),
        Metrics::new(),
        options(),
    )
    .await
    .expect("an unreachable Redis is not a start-up error");
    parts
        .gate
        .acquire(Priority::Interactive, Some(clock.now()))
        .await
        .unwrap();
    let mut bad = settings(
        "redis://:hunter2-secret@127.0.0.1:notaport/",
        RedisFailureMode::LocalShare,
        1,
    );
    let refused = connect_with(&bad, limits, clock.clone(), Metrics::new(), options()).await;
    bad.url = Some(SecretString::from("not a url hunter2-secret".to_owned()));
    let refused_too = connect_with(&bad, limits, clock, Metrics::new(), options()).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("Redis unreachable"), "{logs}");
    assert!(!logs.contains("hunter2"), "{logs}");
    for result in [refused, refused_too] {
        let text = format!("{:#}", result.err().expect("a bad URL is refused"));
        assert!(text.contains("VTENRICH_REDIS_URL"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
