//! The second cache tier and the fleet-wide fetch lock in Redis.

use std::time::Duration;

use chrono::TimeDelta;
use vtenrich::answer::{Answer, Entry};
use vtenrich::clock::{Clock, ManualClock};
use vtenrich::config::RedisFailureMode;
use vtenrich::enrich::LockOutcome;
use vtenrich::observable::Observable;
use vtenrich::redis::Keys;
use vtenrich::report::IpReport;

use crate::common::{Fleet, NS, Replica, limits, pttl};
use crate::support::redis_server::RedisServer;

fn ip(text: &str) -> Observable {
    Observable::infer(text).unwrap()
}

/// The tier compares deadlines with the injected clock and Redis expires by its own, so
/// these tests keep the two together: the manual clock starts at the real time.
async fn start() -> (RedisServer, ManualClock, Replica) {
    let fleet = Fleet {
        server: RedisServer::start(),
        clock: ManualClock::new(chrono::Utc::now()),
    };
    let replica = fleet
        .replica(RedisFailureMode::LocalShare, 1, limits(4, 500, 15_500))
        .await;
    (fleet.server, fleet.clock, replica)
}

fn entry(clock: &ManualClock, answer: Answer, stale_in: TimeDelta) -> Entry {
    let now = clock.now();
    // Whole milliseconds: the stored form keeps no finer time.
    let now = chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap();
    Entry::new(answer, now, now + TimeDelta::hours(1), now + stale_in)
}

#[tokio::test]
async fn redis_the_tier_returns_what_was_put_in_order_with_misses() {
    let (server, clock, r) = start().await;
    let found = entry(
        &clock,
        Answer::Found(IpReport::default().into()),
        TimeDelta::days(2),
    );
    let not_found = entry(&clock, Answer::NotFound, TimeDelta::hours(6));
    r.tier.put(&ip("8.8.8.8"), &found).await;
    r.tier.put(&ip("2001:db8::1"), &not_found).await;

    let got = r
        .tier
        .get_many(&[ip("8.8.8.8"), ip("1.1.1.1"), ip("2001:db8::1")])
        .await;

    assert_eq!(got, vec![Some(found), None, Some(not_found)]);
    let mut conn = server.connection().await;
    let ttl = pttl(&mut conn, &Keys::new(NS).unwrap().entry(&ip("2001:db8::1"))).await;
    assert!(
        ttl > 0 && ttl <= 6 * 3_600_000,
        "expires with the stale deadline: {ttl}"
    );
}

#[tokio::test]
async fn redis_an_empty_batch_asks_nothing() {
    let (_server, _clock, r) = start().await;

    let got = r.tier.get_many(&[]).await;

    assert!(got.is_empty());
}

#[tokio::test]
async fn redis_an_entry_already_past_its_stale_deadline_is_not_written() {
    let (server, clock, r) = start().await;
    let old = entry(&clock, Answer::NotFound, TimeDelta::hours(1));
    clock.advance(Duration::from_secs(2 * 3600));

    r.tier.put(&ip("8.8.4.4"), &old).await;

    let mut conn = server.connection().await;
    assert_eq!(
        pttl(&mut conn, &Keys::new(NS).unwrap().entry(&ip("8.8.4.4"))).await,
        -2
    );
}

#[tokio::test]
async fn redis_an_unreadable_value_is_a_miss() {
    let (server, _clock, r) = start().await;
    let mut conn = server.connection().await;
    let key = Keys::new(NS).unwrap().entry(&ip("9.9.9.9"));
    redis::cmd("SET")
        .arg(&key)
        .arg("not json")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();

    let got = r.tier.get_many(&[ip("9.9.9.9")]).await;

    assert_eq!(got, vec![None]);
}

#[tokio::test]
async fn redis_the_tier_answers_misses_when_redis_is_down() {
    let (mut server, clock, r) = start().await;
    let found = entry(&clock, Answer::NotFound, TimeDelta::hours(6));
    r.tier.put(&ip("8.8.8.8"), &found).await;
    server.stop();

    r.tier.put(&ip("1.1.1.1"), &found).await;
    let got = r.tier.get_many(&[ip("8.8.8.8"), ip("1.1.1.1")]).await;

    assert_eq!(got, vec![None, None]);
}

#[tokio::test]
async fn redis_a_second_acquirer_is_busy_until_the_holder_releases() {
    let (_server, _clock, r) = start().await;
    let ttl = Duration::from_secs(30);
    let LockOutcome::Acquired(token) = r.lock.try_acquire(&ip("8.8.8.8"), ttl).await else {
        panic!("the first acquirer gets the lock");
    };

    let second = r.lock.try_acquire(&ip("8.8.8.8"), ttl).await;
    let other_ip = r.lock.try_acquire(&ip("8.8.4.4"), ttl).await;
    r.lock.release(&ip("8.8.8.8"), &token).await;
    let after_release = r.lock.try_acquire(&ip("8.8.8.8"), ttl).await;

    assert_eq!(second, LockOutcome::Busy);
    assert!(matches!(other_ip, LockOutcome::Acquired(_)));
    assert!(matches!(after_release, LockOutcome::Acquired(t) if t != token));
}

#[tokio::test]
async fn redis_a_release_with_a_wrong_token_leaves_the_lock_held() {
    let (_server, _clock, r) = start().await;
    let ttl = Duration::from_secs(30);
    let LockOutcome::Acquired(_token) = r.lock.try_acquire(&ip("8.8.8.8"), ttl).await else {
        panic!("the first acquirer gets the lock");
    };

    r.lock.release(&ip("8.8.8.8"), "someone-elses-token").await;

    assert_eq!(
        r.lock.try_acquire(&ip("8.8.8.8"), ttl).await,
        LockOutcome::Busy
    );
}

#[tokio::test]
async fn redis_a_lock_expires_after_its_ttl() {
    let (server, _clock, r) = start().await;
    let ttl = Duration::from_millis(200);
    assert!(matches!(
        r.lock.try_acquire(&ip("8.8.8.8"), ttl).await,
        LockOutcome::Acquired(_)
    ));
    let mut conn = server.connection().await;
    let left = pttl(&mut conn, &Keys::new(NS).unwrap().lock(&ip("8.8.8.8"))).await;

    let mut reacquired = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if matches!(
            r.lock
                .try_acquire(&ip("8.8.8.8"), Duration::from_secs(30))
                .await,
            LockOutcome::Acquired(_)
        ) {
            reacquired = true;
            break;
        }
    }

    assert!(left > 0 && left <= 200, "{left}");
    assert!(reacquired, "the lock expired");
}

#[tokio::test]
async fn redis_the_lock_is_unavailable_when_redis_is_down() {
    let (mut server, _clock, r) = start().await;
    server.stop();

    let outcome = r
        .lock
        .try_acquire(&ip("8.8.8.8"), Duration::from_secs(30))
        .await;

    assert_eq!(outcome, LockOutcome::Unavailable);
}
