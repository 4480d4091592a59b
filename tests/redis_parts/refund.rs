//! Giving back a slot whose call never reached VirusTotal: in the shared windows, and in the
//! share a replica spends (and owes Redis) while Redis is unreachable.

use vtenrich::config::RedisFailureMode;
use vtenrich::quota::CountSource;
use vtenrich::redis::Keys;

use crate::common::{Fleet, NS, limits, settle};

async fn minute_log_size(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    redis::cmd("ZCARD")
        .arg(Keys::new(NS).unwrap().minute())
        .query_async(conn)
        .await
        .expect("ZCARD answers")
}

#[tokio::test]
async fn redis_a_refunded_shared_grant_leaves_the_fleets_minute_day_and_month_once() {
    let fleet = Fleet::start();
    let rate = limits(2, 500, 15_500);
    let a = fleet.replica(RedisFailureMode::LocalShare, 2, rate).await;
    let b = fleet.replica(RedisFailureMode::LocalShare, 2, rate).await;
    a.ask_now().await.unwrap();
    let unreached = a.ask_now().await.unwrap();

    a.gate.refund(unreached.clone()).await;
    a.gate.refund(unreached).await;

    assert_eq!(fleet.shared_counts().await, (1, 1), "given back once");
    let mut conn = fleet.server.connection().await;
    assert_eq!(minute_log_size(&mut conn).await, 1);
    let snapshot = a.gate.snapshot();
    assert_eq!((snapshot.minute.used, snapshot.day.used), (1, 1));
    assert_eq!(snapshot.source, CountSource::Redis);
    let other = b.ask_now().await;
    assert!(
        other.is_ok(),
        "the other replica gets the freed slot: {other:?}"
    );
}

#[tokio::test]
async fn redis_a_slot_refunded_while_redis_is_down_is_never_paid_back() {
    let mut fleet = Fleet::start();
    let a = fleet.replica_after_one_call(1).await;
    fleet.server.stop();
    let unreached = a.ask_now().await.unwrap();

    a.gate.refund(unreached).await;
    let alone = a.gate.snapshot();
    fleet.server.restart();
    a.rejoin().await;
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
    // The restarted Redis is empty, and nothing spent alone reached VirusTotal.
    assert_eq!(fleet.shared_counts().await, (0, 0));
}

#[tokio::test]
async fn redis_a_spend_already_paid_back_to_redis_is_taken_back_there() {
    let mut fleet = Fleet::start();
    let a = fleet.replica_after_one_call(1).await;
    fleet.server.pause();
    let unreached = a.ask_now().await.unwrap();
    fleet.server.resume();
    a.rejoin().await;
    let (paid_back, _) = fleet.shared_counts().await;

    a.gate.refund(unreached).await;

    // 1 shared + 1 alone (an acquire queued in the paused server may have been spent too).
    assert!((2..=3).contains(&paid_back), "paid back {paid_back}");
    assert_eq!(fleet.shared_counts().await.0, paid_back - 1);
}
