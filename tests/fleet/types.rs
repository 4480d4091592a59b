//! Every observable type holds the fleet promise: three replicas asked at once about the same
//! new domain, URL, file and address make one VirusTotal call for each, and a file's other
//! hash is then served by any replica from Redis.

use futures::future::join_all;
use vtenrich::virustotal::Endpoint;

use crate::support::redis_server::RedisServer;
use crate::{replicas, simulator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_three_replicas_make_one_call_per_new_observable_of_each_type() {
    // Arrange
    let sim = simulator(None, None).await;
    let redis = RedisServer::start();
    let fleet = replicas(
        3,
        &sim,
        &redis.url(),
        &[("VTENRICH_EXPECTED_REPLICAS", "3")],
    )
    .await;
    let batch: Vec<String> = [
        "github.com",
        "https://github.com/",
        "44d88612fea8a8f36de82e1278abb02f",
        "8.8.8.8",
    ]
    .map(str::to_owned)
    .to_vec();

    // Act: every replica asked for all four at once.
    let answers = join_all(fleet.iter().map(|replica| replica.enrich(&batch, 8_000))).await;
    let sha256 = answers[0]["results"][2]["file"]["sha256"]
        .as_str()
        .expect("the file answer names its SHA-256")
        .to_owned();
    let by_hash = join_all(
        fleet
            .iter()
            .map(|replica| replica.enrich(std::slice::from_ref(&sha256), 8_000)),
    )
    .await;

    // Assert
    for answer in answers.iter().chain(&by_hash) {
        for result in answer["results"].as_array().unwrap() {
            assert_eq!(result["status"], "ok", "{result}");
        }
    }
    for endpoint in Endpoint::ALL {
        assert_eq!(
            sim.call_count(endpoint),
            1,
            "{endpoint:?}: one call for the fleet: {:?} {:?}",
            sim.calls(),
            sim.lookups()
        );
    }
}
