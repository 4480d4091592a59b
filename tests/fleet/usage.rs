//! Usage in a fleet: every replica adds to the same per-day Redis hashes, so any replica
//! answers with the fleet's usage; the hash expires once its day is past the last 60; and a
//! spent cap is audited once for the whole fleet.

use std::time::Duration;

use futures::future::join_all;
use serde_json::Value;

use crate::support::redis_server::RedisServer;
use crate::{NS, callers_config, enrich_each, known_addresses, replicas, simulator};

const ADMIN_KEY: &str = "fleet-usage-admin-key";
const SOAR_KEY: &str = "fleet-usage-soar-key";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_usage_sums_across_replicas_and_any_replica_answers_for_the_fleet() {
    // Arrange: an admin and a caller with a cap of 3, known to three replicas.
    let sim = simulator(None, None).await;
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = callers_config(
        dir.path(),
        &[
            ("ops", ADMIN_KEY, "role = \"admin\""),
            ("soar", SOAR_KEY, "daily_cap = 3"),
        ],
    );
    let fleet = replicas(
        3,
        &sim,
        &redis.url(),
        &[
            ("VTENRICH_CONFIG", config.as_str()),
            ("VTENRICH_EXPECTED_REPLICAS", "3"),
        ],
    )
    .await;
    let ips = known_addresses(12, 9);

    // Act: each replica is asked for three other new addresses and a private one, at once.
    let parts = ips
        .chunks(3)
        .map(|part| [part, &["10.0.0.1".to_owned()]].concat())
        .collect();
    for answer in enrich_each(&fleet, SOAR_KEY, parts).await {
        assert_eq!(
            answer["results"].as_array().map(Vec::len),
            Some(4),
            "{answer}"
        );
    }
    let consuming_at_once: Vec<Value> = join_all(
        fleet
            .iter()
            .map(|r| async { r.get_as(ADMIN_KEY, "/v1/usage").await.1 }),
    )
    .await;
    // The other counts come with each replica's next flush (at most a second).
    let mut settled = Vec::new();
    for replica in &fleet {
        settled.push(until_observables(replica, 12).await);
    }

    // Assert
    assert_eq!(sim.ip_call_count(), 3, "{:?}", sim.calls());
    for usage in consuming_at_once.iter().chain(&settled) {
        assert_eq!(
            usage["totals"]["consuming"]["virustotal_calls"], 3,
            "{usage}"
        );
    }
    for usage in &settled {
        let totals = &usage["totals"];
        assert_eq!(totals["requests"], 3, "{usage}");
        assert_eq!(totals["from_virustotal"], 3, "{usage}");
        assert_eq!(totals["refused"]["cap"], 6, "{usage}");
        assert_eq!(totals["not_consuming"]["local"], 3, "{usage}");
        assert_eq!(
            usage["days"], settled[0]["days"],
            "every replica tells one story"
        );
    }
    let (_, audit) = fleet[2]
        .get_as(ADMIN_KEY, "/v1/admin/audit?action=caller.cap_exhausted")
        .await;
    assert_eq!(
        audit["entries"].as_array().map(Vec::len),
        Some(1),
        "once for the fleet: {audit}"
    );
    let mut conn = redis.connection().await;
    let day = chrono::Utc::now().format("%Y-%m-%d");
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(format!("{{{NS}}}:usage:{day}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let day_ms = 86_400_000;
    assert!(
        (59 * day_ms..=60 * day_ms).contains(&ttl_ms),
        "the day's hash goes when it is past the last 60 days: {ttl_ms} ms"
    );
}

/// `/v1/usage` of `replica` once it counts `n` observables (bounded: 10 s).
async fn until_observables(replica: &crate::support::service::Service, n: u64) -> Value {
    for _ in 0..100 {
        let (status, usage) = replica.get_as(ADMIN_KEY, "/v1/usage").await;
        assert_eq!(status, 200, "{usage}");
        if usage["totals"]["observables"] == n {
            return usage;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} never counted {n} observables", replica.base);
}
