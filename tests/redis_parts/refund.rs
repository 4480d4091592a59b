//! Giving back a slot whose call never reached VirusTotal: in the shared windows, and in the
//! share a replica spends (and owes Redis) while Redis is unreachable.

use vtenrich::clock::{Clock, ManualClock};
use vtenrich::config::RedisFailureMode;
use vtenrich::quota::{CountSource, Priority};
use vtenrich::redis::Keys;

use crate::common::{NS, at, counter, eventually_advancing, limits, replica, settle};
use crate::support::redis_server::RedisServer;

async fn minute_log_size(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    redis::cmd("ZCARD")
        .arg(Keys::new(NS).unwrap().minute())
        .query_async(conn)
        .await
        .expect("ZCARD answers")
}

#[tokio::test]
async fn a_refunded_shared_grant_leaves_the_fleets_minute_day_and_month_once() {
    let server = RedisServer::start();
    let clock = ManualClock::new(at("2026-03-10T08:00:00Z"));
    let rate = limits(2, 500, 15_500);
    let a = replica(&server.url(), RedisFailureMode::LocalShare, 2, rate, &clock).await;
    let b = replica(&server.url(), RedisFailureMode::LocalShare, 2, rate, &clock).await;
    a.gate
        .acquire(Priority::Interactive, Some(clock.now()))
        .await
        .unwrap();
    let unreached = a
        .gate
        .acquire(Priority::Interactive, Some(clock.now()))
        .await
        .unwrap();

    a.gate.refund(unreached.clone()).await;
    a.gate.refund(unreached).await;

    let mut conn = server.connection().await;
    let keys = Keys::new(NS).unwrap();
    let date = clock.now().date_naive();
    assert_eq!(
        counter(&mut conn, &keys.day(date)).await,
        1,
        "given back once"
    );
    assert_eq!(counter(&mut conn, &keys.month(date)).await, 1);
    assert_eq!(minute_log_size(&mut conn).await, 1);
    let snapshot = a.gate.snapshot();
    assert_eq!((snapshot.minute.used, snapshot.day.used), (1, 1));
    assert_eq!(snapshot.source, CountSource::Redis);
    let other = b
        .gate
        .acquire(Priority::Interactive, Some(clock.now()))
        .await;
    assert!(
        other.is_ok(),
        "the other replica gets the freed slot: {other:?}"
    );
}

#[tokio::test]
async fn a_slot_refunded_while_redis_is_down_is_never_paid_back() {
    let mut server = RedisServer::start();
    let clock = ManualClock::new(at("2026-03-10T08:00:00Z"));
    let a = replica(
        &server.url(),
        RedisFailureMode::LocalShare,
        1,
        limits(4, 100, 15_500),
        &clock,
    )
    .await;
    a.gate
        .acquire(Priority::Interactive, Some(clock.now()))
        .await
        .unwrap();
    server.stop();
    let unreached = a
        .gate
        .acquire(Priority::Interactive, Some(clock.now()))
        .await
        .unwrap();

    a.gate.refund(unreached).await;
    let alone = a.gate.snapshot();
    server.restart();
    eventually_advancing("the gate goes back to Redis", &clock, || !a.alone()).await;
    settle().await;

    assert_eq!(
        alone.source,
        CountSource::Local,
        "the share decides while alone"
    );
    assert_eq!(
        alone.day.used, 1,
        "the share holds the fleet's earlier spend, not the refunded one"
    );
    let mut conn = server.connection().await;
    let keys = Keys::new(NS).unwrap();
    let date = clock.now().date_naive();
    // The restarted Redis is empty, and nothing spent alone reached VirusTotal.
    assert_eq!(counter(&mut conn, &keys.day(date)).await, 0);
    assert_eq!(counter(&mut conn, &keys.month(date)).await, 0);
}

#[tokio::test]
async fn a_spend_already_paid_back_to_redis_is_taken_back_there() {
    let mut server = RedisServer::start();
    let clock = ManualClock::new(at("2026-03-10T08:00:00Z"));
    let a = replica(
        &server.url(),
        RedisFailureMode::LocalShare,
        1,
        limits(4, 100, 15_500),
        &clock,
    )
    .await;
    a.gate
        .acquire(Priority::Interactive, Some(clock.now()))
        .await
        .unwrap();
    server.pause();
    let unreached = a
        .gate
        .acquire(Priority::Interactive, Some(clock.now()))
        .await
        .unwrap();
    server.resume();
    eventually_advancing("the gate goes back to Redis", &clock, || !a.alone()).await;
    let mut conn = server.connection().await;
    let day = Keys::new(NS).unwrap().day(clock.now().date_naive());
    let paid_back = counter(&mut conn, &day).await;

    a.gate.refund(unreached).await;

    // 1 shared + 1 alone (an acquire queued in the paused server may have been spent too).
    assert!((2..=3).contains(&paid_back), "paid back {paid_back}");
    assert_eq!(counter(&mut conn, &day).await, paid_back - 1);
}
