//! Concurrent lookups of one observable make exactly one upstream call.

use serde_json::json;

use crate::helpers::spawn_slow_app;

#[tokio::test]
async fn sixty_four_concurrent_requests_for_the_same_new_ip_cause_one_upstream_call() {
    // Arrange: a slow upstream, so every request arrives while the first call is in flight.
    let app = spawn_slow_app().await;

    // Act
    let requests = (0..64).map(|i| {
        let app = &app;
        async move {
            if i % 2 == 0 {
                app.get_json("/v1/ip/9.9.9.9").await.1
            } else {
                let body = app.enrich_ok(json!(["9.9.9.9"]), 5_000).await;
                body["results"][0].clone()
            }
        }
    });
    let answers = futures::future::join_all(requests).await;

    // Assert
    assert_eq!(app.sim.calls_for("9.9.9.9"), 1, "{:?}", app.sim.calls());
    for answer in &answers {
        assert_eq!(answer["status"], "ok", "{answer}");
    }
    let metrics = app.get("/metrics").await.1;
    let waits = metrics
        .lines()
        .find_map(|l| l.strip_prefix("vtenrich_singleflight_waits_total "))
        .expect("single-flight metric");
    assert!(waits.parse::<u64>().unwrap() >= 1, "{waits}");
}
