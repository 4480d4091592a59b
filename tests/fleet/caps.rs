//! A caller's daily cap holds for the fleet: its use of the day is counted in Redis, so three
//! replicas asked at once still make no more calls than the cap allows.

use crate::support::redis_server::RedisServer;
use crate::{NS, callers_config, enrich_each, known_addresses, replicas, simulator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_cap_of_three_is_not_exceeded_across_three_replicas() {
    // Arrange: one caller with a cap of 3, known to all three replicas.
    let sim = simulator(None, None).await;
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let key = "fleet-caller-key";
    let config = callers_config(dir.path(), &[("soar", key, "daily_cap = 3")]);
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
    let ips = known_addresses(9, 9);

    // Act: each replica is asked for three other new addresses, all at once.
    let parts = ips.chunks(3).map(<[String]>::to_vec).collect();
    let answers = enrich_each(&fleet, key, parts).await;

    // Assert
    assert_eq!(sim.ip_call_count(), 3, "{:?}", sim.calls());
    let refused = answers
        .iter()
        .flat_map(|a| a["results"].as_array().unwrap().iter())
        .filter(|r| r["error"]["code"] == "caller_quota_exceeded")
        .count();
    assert_eq!(refused, 6, "{answers:?}");
    let mut conn = redis.connection().await;
    let day = chrono::Utc::now().format("%Y-%m-%d");
    let used: u64 = redis::cmd("GET")
        .arg(format!("{{{NS}}}:caller:soar:day:{day}"))
        .query_async(&mut conn)
        .await
        .expect("the caller's day counter exists");
    assert_eq!(used, 3);
}
