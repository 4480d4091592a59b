//! A real `vtenrich serve` process whose key VirusTotal rejects: the key never appears in its
//! logs (at the most verbose level), metrics, quota, results or error bodies; and each request
//! logs one line carrying its request id and what it did.

mod support;

use std::sync::Arc;

use support::service::Service;
use vtenrich::clock::SystemClock;
use vtenrich::simulator::{Simulator, SimulatorConfig};

const CANARY: &str = "vt-canary-key-7f3a9c1e5d2b4086";

#[tokio::test]
async fn process_the_api_key_never_appears_in_logs_metrics_quota_or_bodies_even_when_rejected() {
    // Arrange: the simulator accepts a different key, so ours is rejected with 401.
    let sim = Simulator::start(
        SimulatorConfig {
            api_key: "the-right-key".into(),
            ..SimulatorConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let mut service = Service::builder()
        .env("VTENRICH_VT_API_KEY", CANARY)
        .env("VTENRICH_VT_BASE_URL", sim.base_url().as_str())
        .env("VTENRICH_DATA_DIR", "none")
        .env("VTENRICH_LOG", "trace")
        .keep_all_logs()
        .start()
        .await;
    let base = service.base.clone();
    let http = reqwest::Client::new();
    let mut bodies = Vec::new();

    // Act
    let single = http
        .get(format!("{base}/v1/ip/8.8.8.8"))
        .header("x-request-id", "req-777")
        .send()
        .await
        .unwrap();
    let single: serde_json::Value = single.json().await.unwrap();
    bodies.push(single.to_string());
    let batch = http
        .post(format!("{base}/v1/enrich"))
        .json(&serde_json::json!({"observables": ["1.1.1.1", "10.0.0.1", "x"]}))
        .send()
        .await
        .unwrap();
    bodies.push(batch.text().await.unwrap());
    for path in [
        "/v1/quota",
        "/metrics",
        "/openapi.json",
        "/nope",
        "/v1/ip/zzz",
        "/v1/usage",
        "/v1/usage?format=csv",
    ] {
        bodies.push(
            http.get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
    }
    bodies.push(
        http.post(format!("{base}/v1/enrich"))
            .header("content-type", "application/json")
            .body("{broken")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    service.signal_term();
    let status = service.exit_status().await;

    // Assert: the upstream did reject the key, and the key is nowhere.
    assert_eq!(single["status"], "error", "{single}");
    assert_eq!(single["error"]["code"], "upstream_auth");
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let logs = service.logs();
    assert!(
        logs.contains("VirusTotal rejected the API key"),
        "auth failure logged loudly"
    );
    assert!(!logs.contains(CANARY), "the key leaked into the logs");
    for body in &bodies {
        assert!(!body.contains(CANARY), "the key leaked into a body: {body}");
    }

    // One line per request, with its id, route template, status, latency and counts.
    let line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| {
            v["fields"]["message"] == "request finished" && v["span"]["request_id"] == "req-777"
        })
        .expect("a request-finished line for req-777");
    assert_eq!(line["span"]["route"], "/v1/ip/{ip}", "{line}");
    assert_eq!(line["fields"]["status"], 200);
    assert!(line["fields"]["latency_ms"].is_number());
    assert_eq!(line["span"]["observables"], 1);
    assert_eq!(line["span"]["upstream_calls"], 1);
    assert_eq!(line["span"]["cache_hits"], 0);
    // Bad input is not logged as an error.
    assert!(
        !logs
            .lines()
            .any(|l| l.contains("\"level\":\"ERROR\"") && l.contains("invalid_json")),
        "bad input logged as an error"
    );
    sim.shutdown().await;
}
