//! Metrics move as documented and request ids travel, safely.

use std::time::Duration;

use reqwest::header::HeaderValue;
use serde_json::json;

use crate::helpers::{Options, known_addresses, spawn_app, spawn_app_with};

/// The value of one sample line (`name{labels} value`) in a Prometheus exposition.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .map_or(0.0, |v| v.trim().parse().expect("numeric sample"))
}

#[tokio::test]
async fn counters_move_as_expected_after_a_miss_a_hit_a_deferral_and_a_429() {
    // Arrange
    let app = spawn_app_with(Options::default().configure(|s| {
        s.virustotal.rate_per_minute = 2;
    }))
    .await;

    // Act 1: a miss, then a hit.
    app.enrich_ok(json!(["8.8.8.8"]), 1_000).await;
    app.enrich_ok(json!(["8.8.8.8"]), 1_000).await;
    let m = app.get("/metrics").await.1;

    // Assert 1
    assert_eq!(
        sample(
            &m,
            r#"vtenrich_upstream_requests_total{outcome="ok",type="ip"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(&m, r#"vtenrich_cache_hits_total{kind="fresh"}"#),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            r#"vtenrich_observables_total{source="virustotal",status="ok",type="ip"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            r#"vtenrich_observables_total{source="cache",status="ok",type="ip"}"#
        ),
        1.0
    );
    assert_eq!(sample(&m, r#"vtenrich_quota_used{window="minute"}"#), 1.0);
    assert_eq!(sample(&m, r#"vtenrich_quota_limit{window="minute"}"#), 2.0);
    assert_eq!(
        sample(
            &m,
            r#"vtenrich_http_requests_total{method="POST",route="/v1/enrich",status_class="2xx"}"#
        ),
        2.0
    );
    assert_eq!(sample(&m, "vtenrich_batch_size_count"), 2.0);

    // Act 2: three new addresses with one slot left and no wait: one call, two deferrals.
    let ips = known_addresses(3);
    app.enrich_ok(json!(ips), 0).await;
    let m = app.get("/metrics").await.1;

    // Assert 2
    assert_eq!(
        sample(
            &m,
            r#"vtenrich_quota_decisions_total{decision="denied",reason="minute"}"#
        ),
        2.0
    );
    assert_eq!(
        sample(
            &m,
            r#"vtenrich_observables_total{source="none",status="deferred",type="ip"}"#
        ),
        2.0
    );
    assert_eq!(sample(&m, "vtenrich_deferred_queue_depth"), 2.0);
    assert_eq!(
        sample(
            &m,
            r#"vtenrich_quota_decisions_total{decision="granted",reason="interactive"}"#
        ),
        2.0
    );

    // Act 3: VirusTotal says the quota is spent.
    app.clock.advance(Duration::from_secs(61));
    app.sim.set_quota_exceeded(true);
    app.enrich_ok(json!(["9.9.9.9"]), 1_000).await;
    let m = app.get("/metrics").await.1;

    // Assert 3 (the background fill of the two deferrals may meet the 429 too)
    let refused = sample(
        &m,
        r#"vtenrich_upstream_requests_total{outcome="quota_exceeded",type="ip"}"#,
    );
    assert!((1.0..=3.0).contains(&refused), "{refused}");
    let midnight = chrono::DateTime::parse_from_rfc3339("2026-11-11T00:00:00Z")
        .unwrap()
        .timestamp();
    assert_eq!(
        sample(&m, "vtenrich_quota_blocked_until_timestamp_seconds"),
        midnight as f64
    );
    assert!(m.contains("vtenrich_build_info{version=\""), "build info");
    assert!(
        m.contains("process_resident_memory_bytes"),
        "process collector"
    );
}

#[tokio::test]
async fn unknown_routes_are_labelled_unmatched_never_by_their_raw_path() {
    let app = spawn_app().await;
    app.get("/secret-looking/10.0.0.1").await;
    app.get("/v1/ip/8.8.4.4").await;

    let m = app.get("/metrics").await.1;

    assert!(m.contains(r#"route="unmatched""#), "{m}");
    assert!(m.contains(r#"route="/v1/ip/{ip}""#), "{m}");
    assert!(
        !m.contains("10.0.0.1") && !m.contains("8.8.4.4"),
        "no raw path or IP in labels"
    );
}

/// The `x-request-id` an answer carries when the request sent `sent` (or none).
async fn echoed_request_id(app: &crate::helpers::TestApp, sent: Option<HeaderValue>) -> String {
    let mut request = app.http.get(format!("{}/livez", app.address));
    if let Some(value) = sent {
        request = request.header("x-request-id", value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.headers()["x-request-id"]
        .to_str()
        .expect("an ASCII id")
        .to_owned()
}

#[tokio::test]
async fn a_short_plain_request_id_is_echoed_and_a_missing_one_is_generated() {
    let app = spawn_app().await;

    for id in [
        "abc-123",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "svc.worker_7:job-42",
        &"x".repeat(128),
    ] {
        let echoed = echoed_request_id(&app, Some(HeaderValue::from_str(id).unwrap())).await;
        assert_eq!(echoed, id);
    }
    let generated = echoed_request_id(&app, None).await;
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
}

#[tokio::test]
async fn a_long_marked_up_or_non_ascii_request_id_is_replaced_by_a_generated_one() {
    let app = spawn_app().await;
    let hostile: Vec<(&str, HeaderValue)> = vec![
        (
            "30 KB",
            HeaderValue::from_str(&"a".repeat(30 * 1024)).unwrap(),
        ),
        (
            "129 characters",
            HeaderValue::from_str(&"b".repeat(129)).unwrap(),
        ),
        (
            "markup",
            HeaderValue::from_static("<script>alert(1)</script>"),
        ),
        (
            "non-ASCII",
            HeaderValue::from_bytes("caf\u{e9}-\u{1F600}".as_bytes()).unwrap(),
        ),
        ("spaces", HeaderValue::from_static("a b c")),
        ("quotes", HeaderValue::from_static("a\"b")),
    ];

    for (what, value) in hostile {
        let echoed = echoed_request_id(&app, Some(value)).await;
        assert!(
            uuid::Uuid::parse_str(&echoed).is_ok(),
            "{what}: echoed {echoed:.200}"
        );
    }
}
