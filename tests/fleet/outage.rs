//! Redis paused, restarted empty, or gone in closed mode: replicas keep serving from memory,
//! spend at most their shares (or nothing), and the shared counters include what they spent.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde_json::Value;
use vtenrich::simulator::Simulator;

use crate::support::redis_keys::counter;
use crate::support::redis_server::RedisServer;
use crate::support::service::Service;
use crate::{NS, call_log, count_status, known_addresses, replicas, results, simulator};

/// Redis's own UTC date, as the quota script names its day keys.
async fn redis_today(conn: &mut redis::aio::MultiplexedConnection) -> String {
    let (secs, _micros): (i64, i64) = redis::cmd("TIME")
        .query_async(conn)
        .await
        .expect("TIME answers");
    let now = DateTime::from_timestamp(secs, 0).expect("a valid Redis time");
    now.format("%Y-%m-%d").to_string()
}

/// Today's shared day counter and the simulator's call count, once neither has moved for
/// 300 ms (a call granted in Redis reaches the simulator a moment later); 6 s at most.
async fn settled_counts(redis: &RedisServer, sim: &Simulator) -> (u64, usize) {
    let mut conn = redis.connection().await;
    let mut last = None;
    for _ in 0..20 {
        let today = redis_today(&mut conn).await;
        let now = (
            counter(&mut conn, &format!("{{{NS}}}:day:{today}")).await,
            sim.ip_call_count(),
        );
        if last == Some(now) {
            return now;
        }
        last = Some(now);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("the counts never settled: {last:?}");
}

/// Polls `metric` of `service` every 100 ms for at most 90 s until it equals `want`. Going
/// back to Redis takes a minute: a replica keeps its share until its own spends made alone
/// have left the minute window.
async fn until_metric(service: &Service, metric: &str, want: f64) {
    for _ in 0..900 {
        if service.metric(metric).await == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{metric} never became {want} on {}; logs:\n{}",
        service.base,
        service.logs()
    );
}

/// How Redis goes away in an outage test.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outage {
    /// `SIGSTOP` then `SIGCONT`: the data survives, calls sent meanwhile run on resume.
    Pause,
    /// Killed, then restarted empty on the same port.
    Restart,
}

/// What an outage test observed.
struct OutageRun {
    sim: Simulator,
    redis: RedisServer,
    /// Calls made before Redis went away.
    warm_calls: usize,
    /// Per replica: its answer for the warm addresses and for its new ones while alone.
    cached: Vec<Value>,
    alone: Vec<Value>,
    /// Per replica: calls for its new addresses.
    alone_calls: Vec<usize>,
    /// Per replica while Redis was away: /readyz, fallback_active, backend_up.
    readyz: Vec<u16>,
    fallback_active: Vec<Option<f64>>,
    backend_up: Vec<Option<f64>>,
}

/// The share each of the three replicas spends alone: 30/min and 60/day split three ways.
const SHARE_PER_MINUTE: usize = 10;
/// New addresses each replica is asked for while alone: more than its minute share.
const NEW_PER_REPLICA: usize = 13;

/// Three replicas warm three addresses, lose Redis, are asked for the warm addresses and for
/// new ones each, and get Redis back; returns once all three are sharing again.
async fn outage_run(outage: Outage) -> OutageRun {
    let sim = simulator(Some(30), Some(60)).await;
    let mut redis = RedisServer::start();
    let fleet = replicas(
        3,
        &sim,
        &redis.url(),
        &[
            ("VTENRICH_VT_RATE_PER_MINUTE", "30"),
            ("VTENRICH_VT_DAILY_QUOTA", "60"),
            ("VTENRICH_EXPECTED_REPLICAS", "3"),
            // Long enough that the warm answers outlive the outage in every replica's memory.
            ("VTENRICH_REDIS_MEMORY_TTL", "10m"),
        ],
    )
    .await;
    let warm = known_addresses(9, 3);
    let new = known_addresses(10, 3 * NEW_PER_REPLICA);
    for replica in &fleet {
        let answer = replica.enrich(&warm, 5000).await;
        assert_eq!(count_status(&answer, "ok"), 3, "warming: {answer}");
    }
    let warm_calls = sim.ip_call_count();
    assert_eq!(warm_calls, 3, "warming fetched each address once");
    // Every replica refreshes its view of the shared counts each second; a replica that lost
    // Redis within that second of another's spends could not know of them.
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    match outage {
        Outage::Pause => redis.pause(),
        Outage::Restart => redis.stop(),
    }
    let cached = join_all(fleet.iter().map(|r| r.enrich(&warm, 2000))).await;
    let chunks: Vec<&[String]> = new.chunks(NEW_PER_REPLICA).collect();
    let alone = join_all(
        fleet
            .iter()
            .zip(&chunks)
            .map(|(r, ips)| r.enrich(ips, 3000)),
    )
    .await;
    let alone_calls = chunks
        .iter()
        .map(|ips| ips.iter().map(|ip| sim.calls_for(ip)).sum())
        .collect();
    let readyz = join_all(fleet.iter().map(Service::readyz)).await;
    let fallback_active = join_all(
        fleet
            .iter()
            .map(|r| r.metric("vtenrich_quota_fallback_active")),
    )
    .await;
    let backend_up = join_all(fleet.iter().map(|r| r.metric("vtenrich_quota_backend_up"))).await;
    match outage {
        Outage::Pause => redis.resume(),
        Outage::Restart => redis.restart(),
    }
    for replica in &fleet {
        until_metric(replica, "vtenrich_quota_fallback_active", 0.0).await;
    }
    OutageRun {
        sim,
        redis,
        warm_calls,
        cached,
        alone,
        alone_calls,
        readyz,
        fallback_active,
        backend_up,
    }
}

/// What every outage test asserts about the time without Redis.
fn assert_served_alone_within_shares(run: &OutageRun) {
    let calls = run.sim.calls();
    let origin = calls.first().map_or_else(Utc::now, |c| c.at);
    assert!(
        calls.iter().all(|c| c.status == 200),
        "VirusTotal answered 429 (warm {}, alone {:?}):\n{}",
        run.warm_calls,
        run.alone_calls,
        call_log(&calls, origin)
    );
    for answer in &run.cached {
        let served: Vec<_> = results(answer)
            .into_iter()
            .filter(|(_, status, source)| status == "ok" && source == "cache")
            .collect();
        assert_eq!(served.len(), 3, "warm answers come from memory: {answer}");
    }
    for (replica, answer) in run.alone.iter().enumerate() {
        let calls = run.alone_calls[replica];
        // At most the share; fewer when the share also accounts for what the fleet spent in
        // this minute before Redis went away.
        assert!(
            (1..=SHARE_PER_MINUTE).contains(&calls),
            "replica {replica} made {calls} calls alone, share {SHARE_PER_MINUTE}: {answer}"
        );
        assert_eq!(
            count_status(answer, "ok") + count_status(answer, "not_found"),
            calls,
            "each call answered: {answer}"
        );
        assert_eq!(
            count_status(answer, "deferred"),
            NEW_PER_REPLICA - calls,
            "the rest deferred: {answer}"
        );
    }
    assert_eq!(run.readyz, [200; 3], "ready (degraded) without Redis");
    assert_eq!(run.fallback_active, [Some(1.0); 3]);
    assert_eq!(run.backend_up, [Some(0.0); 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_replicas_serve_from_memory_spend_at_most_their_share_and_pay_back() {
    // Arrange, Act
    let run = outage_run(Outage::Pause).await;

    // Assert
    assert_served_alone_within_shares(&run);
    let (shared, total) = settled_counts(&run.redis, &run.sim).await;
    let total = total as u64;
    // The first quota script a replica sent into the paused server timed out but ran when
    // it resumed, so it may count a call never made: at most one per replica, because a
    // replica has one script in flight at a time. Over-counting is the safe side.
    assert!(
        (total..=total + 3).contains(&shared),
        "the shared day counter {shared} holds the {total} calls made (warm {})",
        run.warm_calls
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_receives_what_each_replica_spent_alone() {
    // Arrange, Act
    let run = outage_run(Outage::Restart).await;

    // Assert
    assert_served_alone_within_shares(&run);
    let alone: usize = run.alone_calls.iter().sum();
    let (shared, total) = settled_counts(&run.redis, &run.sim).await;
    // The warm calls died with the old server; every call made since, alone or after the
    // return, is counted exactly once.
    assert_eq!(shared, (total - run.warm_calls) as u64, "alone {alone}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_closed_mode_makes_no_upstream_call_without_redis() {
    // Arrange: two replicas hold two answers in memory, one fetched by each.
    let sim = simulator(None, None).await;
    let mut redis = RedisServer::start();
    let fleet = replicas(
        2,
        &sim,
        &redis.url(),
        &[
            ("VTENRICH_REDIS_FAILURE_MODE", "closed"),
            ("VTENRICH_EXPECTED_REPLICAS", "2"),
            ("VTENRICH_REDIS_MEMORY_TTL", "10m"),
        ],
    )
    .await;
    let warm = known_addresses(11, 2);
    let new = known_addresses(12, 2);
    for replica in &fleet {
        let answer = replica.enrich(&warm, 5000).await;
        assert_eq!(count_status(&answer, "ok"), 2, "warming: {answer}");
    }
    let warm_calls = sim.ip_call_count();

    // Act
    redis.stop();
    let new_answers = join_all(
        fleet
            .iter()
            .zip(&new)
            .map(|(r, ip)| r.enrich(std::slice::from_ref(ip), 2000)),
    )
    .await;
    let cached = join_all(fleet.iter().map(|r| r.enrich(&warm, 2000))).await;
    // Nothing deferred in closed mode may be filled in the background either.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Assert
    assert_eq!(warm_calls, 2);
    for answer in &new_answers {
        let (_, status, _) = &results(answer)[0];
        assert!(
            status == "deferred" || status == "error",
            "no answer without Redis: {answer}"
        );
    }
    for answer in &cached {
        assert_eq!(
            count_status(answer, "ok"),
            2,
            "cached answers served: {answer}"
        );
    }
    assert_eq!(sim.ip_call_count(), warm_calls, "no call without Redis");
    for replica in &fleet {
        assert_eq!(
            replica.metric("vtenrich_quota_fallback_active").await,
            Some(1.0)
        );
        assert_eq!(replica.readyz().await, 200);
    }
}
