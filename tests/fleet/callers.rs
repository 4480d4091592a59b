//! Runtime callers across a fleet: a caller created on one replica is accepted by the others
//! within 2 s, and its removal reaches them the same way.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{RedisServer, Service, callers_config, replicas, simulator};
use crate::support::http::call;

const ADMIN_KEY: &str = "fleet-admin-key-1a2b3c4d";

/// How long until every replica in `others` answers `want` to a request with `key` (polled
/// every 50 ms, for at most 5 s); `None` if one never does.
async fn until_all(others: &[&Service], key: &str, want: u16) -> Option<Duration> {
    let start = Instant::now();
    for _ in 0..100 {
        let mut all = true;
        for replica in others {
            all &= call(&replica.base, "GET", "/v1/quota", key, None).await.0 == want;
        }
        if all {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn redis_a_caller_created_on_one_replica_is_accepted_by_the_others_within_two_seconds() {
    // Arrange: three replicas on one Redis, each with the configured admin.
    let sim = simulator(None, None).await;
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = callers_config(dir.path(), &[("ops", ADMIN_KEY, "role = \"admin\"")]);
    let fleet = replicas(
        3,
        &sim,
        &redis.url(),
        &[("VTENRICH_CONFIG", config.as_str())],
    )
    .await;
    let (one, others) = (&fleet[0], [&fleet[1], &fleet[2]]);

    // Act: create on one.
    let (status, created) = call(
        &one.base,
        "POST",
        "/v1/admin/callers",
        ADMIN_KEY,
        Some(json!({"id": "webhook", "daily_cap": 3})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    let accepted = until_all(&others, &key, 200).await;

    // Assert
    let accepted = accepted.expect("the other replicas accept the new caller");
    assert!(accepted <= Duration::from_secs(2), "took {accepted:?}");
    let (_, seen) = call(
        &others[1].base,
        "GET",
        "/v1/admin/callers/webhook",
        ADMIN_KEY,
        None,
    )
    .await;
    assert_eq!(seen["daily_cap"], 3);

    // A removal on another replica reaches the first one the same way.
    let (status, _) = call(
        &others[0].base,
        "DELETE",
        "/v1/admin/callers/webhook",
        ADMIN_KEY,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let refused = until_all(&[one, others[1]], &key, 401)
        .await
        .expect("the removal reaches every replica");
    assert!(refused <= Duration::from_secs(2), "took {refused:?}");
    // A restarted replica reads the callers from Redis.
    let (_, again) = call(
        &one.base,
        "POST",
        "/v1/admin/callers",
        ADMIN_KEY,
        Some(json!({"id": "again"})),
    )
    .await;
    let again_key = again["key"].as_str().unwrap().to_owned();
    let restarted = replicas(
        1,
        &sim,
        &redis.url(),
        &[("VTENRICH_CONFIG", config.as_str())],
    )
    .await;
    assert_eq!(
        call(&restarted[0].base, "GET", "/v1/quota", &again_key, None)
            .await
            .0,
        200
    );
    for replica in fleet.iter().chain(&restarted) {
        assert!(!replica.logs().contains(&key), "a key reached the logs");
    }
}
