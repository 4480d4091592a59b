//! What one replica learns from VirusTotal acts for the whole fleet: a 429 block, and a
//! deferred observable filled once in the background.

use std::time::Duration;

use futures::future::join_all;

use crate::support::redis_server::RedisServer;
use crate::{NS, count_status, known_addresses, replicas, results, simulator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_block_set_by_one_replicas_429_stops_the_other_two() {
    // Arrange
    let sim = simulator(None, None).await;
    sim.set_quota_exceeded(true);
    let redis = RedisServer::start();
    let fleet = replicas(
        3,
        &sim,
        &redis.url(),
        &[("VTENRICH_EXPECTED_REPLICAS", "3")],
    )
    .await;
    let ips = known_addresses(8, 3);

    // Act: A meets VirusTotal's 429; B and C are asked for other new addresses.
    let on_a = fleet[0].enrich(&ips[..1], 2000).await;
    let calls_after_a = sim.calls();
    // A pushes its block to Redis in the background (its answer does not wait for Redis);
    // what is tested is that the others obey it once it is there.
    let mut conn = redis.connection().await;
    let blocked_key = format!("{{{NS}}}:blocked");
    let mut shared = false;
    for _ in 0..100 {
        shared = redis::cmd("EXISTS")
            .arg(&blocked_key)
            .query_async::<bool>(&mut conn)
            .await
            .expect("EXISTS answers");
        if shared {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let on_b = fleet[1].enrich(&ips[1..2], 2000).await;
    let on_c = fleet[2].enrich(&ips[2..3], 2000).await;
    let quota_b = fleet[1].quota().await;
    let quota_c = fleet[2].quota().await;

    // Assert
    assert_eq!(count_status(&on_a, "deferred"), 1, "{on_a}");
    assert_eq!(calls_after_a.len(), 1, "A asked VirusTotal once");
    assert_eq!(calls_after_a[0].status, 429);
    assert!(
        shared,
        "A's block reached Redis; A's logs:\n{}",
        fleet[0].logs()
    );
    assert_eq!(count_status(&on_b, "deferred"), 1, "{on_b}");
    assert_eq!(count_status(&on_c, "deferred"), 1, "{on_c}");
    assert_eq!(
        sim.ip_call_count(),
        1,
        "B and C made no call: {:?}",
        sim.calls()
    );
    assert_eq!(quota_b["blocked"], true, "{quota_b}");
    assert_eq!(quota_c["blocked"], true, "{quota_c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_an_observable_deferred_by_one_replica_is_filled_once_in_the_background_for_all() {
    // Arrange: a 429 TooManyRequests blocks the whole fleet for a few seconds (the address
    // that meets it fails outright, without retries, so only the wanted one is queued).
    let sim = simulator(None, None).await;
    let redis = RedisServer::start();
    let fleet = replicas(
        2,
        &sim,
        &redis.url(),
        &[
            ("VTENRICH_EXPECTED_REPLICAS", "2"),
            ("VTENRICH_VT_TOO_MANY_REQUESTS_BACKOFF", "3s"),
            ("VTENRICH_VT_MAX_RETRIES", "0"),
        ],
    )
    .await;
    let ips = known_addresses(13, 2);
    let (trigger, wanted) = (&ips[..1], &ips[1..]);
    sim.inject(&trigger[0], vtenrich::simulator::Fault::TooManyRequests, 1);
    fleet[0].enrich(trigger, 0).await;

    // Act: A defers the address; B is asked for it while A's fill waits for the block to end.
    let on_a = fleet[0].enrich(wanted, 0).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let queued_on_a = fleet[0].quota().await["deferred_queue_depth"].clone();
    let on_b = fleet[1].enrich(wanted, 0).await;
    let mut filled = false;
    for _ in 0..150 {
        if sim.calls_for(&wanted[0]) > 0 {
            filled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A second fill, if any, would follow within moments of the first.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = join_all(fleet.iter().map(|r| r.enrich(wanted, 0))).await;

    // Assert
    assert_eq!(count_status(&on_a, "deferred"), 1, "blocked: {on_a}");
    assert_eq!(
        queued_on_a, 1,
        "A keeps its deferral queued while the block lasts"
    );
    // B either defers too or waits for A's fill (it holds the fleet lock by then).
    assert_eq!(
        count_status(&on_b, "deferred") + count_status(&on_b, "ok"),
        1,
        "{on_b}"
    );
    assert!(filled, "the deferred address was filled");
    assert_eq!(sim.calls_for(&wanted[0]), 1, "filled once for the fleet");
    for answer in &later {
        let (_, status, source) = &results(answer)[0];
        assert_eq!(
            (status.as_str(), source.as_str()),
            ("ok", "cache"),
            "{answer}"
        );
    }
}
