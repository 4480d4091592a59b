//! Upstream failures touch only the affected item, are never cached, and are retried sparingly.

use std::time::Duration;

use serde_json::json;
use vtenrich::simulator::Fault;

use crate::helpers::{Options, results, spawn_app_with};

async fn app() -> crate::helpers::TestApp {
    spawn_app_with(Options::default().configure(|s| {
        s.virustotal.request_timeout = Duration::from_millis(500);
        s.virustotal.max_retries = 1;
    }))
    .await
}

#[tokio::test]
async fn each_upstream_failure_fails_only_its_item_and_is_not_cached() {
    let cases = [
        (
            "81.2.69.160",
            Fault::Status {
                status: 500,
                code: "InternalError".into(),
                message: "boom".into(),
            },
            "upstream_unavailable",
        ),
        (
            "81.2.69.161",
            Fault::Delay(Duration::from_secs(3)),
            "upstream_timeout",
        ),
        ("81.2.69.162", Fault::Reset, "upstream_unavailable"),
        ("81.2.69.163", Fault::NotJson, "upstream_malformed"),
        ("81.2.69.164", Fault::WrongTypes, "upstream_malformed"),
    ];
    for (ip, fault, code) in cases {
        // Arrange
        let app = app().await;
        app.sim.inject(ip, fault, 2);

        // Act
        let body = app.enrich_ok(json!([ip, "8.8.8.8"]), 5_000).await;

        // Assert: the failing item has a typed error, the other succeeds.
        let r = results(&body);
        assert_eq!(r[0]["status"], "error", "{ip}: {body}");
        assert_eq!(r[0]["error"]["code"], code, "{ip}: {body}");
        assert_eq!(r[0]["source"], "virustotal");
        assert_eq!(r[1]["status"], "ok", "{body}");
        let calls = app.sim.calls_for(ip);
        assert!(
            (1..=2).contains(&calls),
            "{ip}: at most one retry, saw {calls}"
        );

        // Nothing wrong was cached: the next request asks VirusTotal again.
        app.enrich_ok(json!([ip]), 5_000).await;
        assert!(
            app.sim.calls_for(ip) > calls,
            "{ip}: the failure was cached"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn a_server_error_is_retried_once_and_the_retry_can_succeed() {
    let app = app().await;
    app.sim.inject(
        "81.2.69.170",
        Fault::Status {
            status: 503,
            code: "TransientError".into(),
            message: "try again".into(),
        },
        1,
    );

    let body = app.enrich_ok(json!(["81.2.69.170"]), 5_000).await;

    assert_eq!(results(&body)[0]["status"], "ok", "{body}");
    assert_eq!(app.sim.calls_for("81.2.69.170"), 2);
    assert_eq!(body["summary"]["upstream_calls"], 2);
}

#[tokio::test]
async fn a_rejected_key_is_an_auth_error_and_is_not_retried() {
    let app = app().await;
    app.sim.inject(
        "81.2.69.171",
        Fault::Status {
            status: 401,
            code: "WrongCredentialsError".into(),
            message: "Wrong API key".into(),
        },
        5,
    );

    let body = app.enrich_ok(json!(["81.2.69.171"]), 5_000).await;

    assert_eq!(
        results(&body)[0]["error"]["code"],
        "upstream_auth",
        "{body}"
    );
    assert_eq!(app.sim.calls_for("81.2.69.171"), 1);
}

#[tokio::test]
async fn an_upstream_failure_serves_an_expired_entry_as_stale() {
    let app = spawn_app_with(Options::default().configure(|s| {
        s.cache.ttl = Duration::from_secs(60);
        s.virustotal.max_retries = 0;
    }))
    .await;
    app.enrich_ok(json!(["8.8.8.8"]), 5_000).await;
    app.clock.advance(Duration::from_secs(120));
    app.sim.inject(
        "8.8.8.8",
        Fault::Status {
            status: 500,
            code: "".into(),
            message: "".into(),
        },
        1,
    );

    let body = app.enrich_ok(json!(["8.8.8.8"]), 5_000).await;

    let r = &results(&body)[0];
    assert_eq!(r["status"], "ok", "{body}");
    assert_eq!(r["stale"], true);
    assert_eq!(r["source"], "cache");
    assert_eq!(r["error"]["code"], "upstream_unavailable");
}

/// A base URL on a loopback port that was just free and is no longer listened on.
fn closed_port_base_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}/api/v3")
}

/// The value of one sample line of `/metrics` (0 when absent).
fn sample(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_call_whose_connection_never_opened_spends_no_quota_and_counts_as_transport() {
    // Arrange: VirusTotal at a refused address, four calls a minute, two retries.
    let app = spawn_app_with(
        Options {
            base_url: Some(closed_port_base_url()),
            ..Options::default()
        }
        .configure(|s| {
            s.virustotal.rate_per_minute = 4;
            s.virustotal.daily_quota = 500;
            s.virustotal.max_retries = 2;
        }),
    )
    .await;

    // Act
    let body = app.enrich_ok(json!(["81.2.69.180"]), 5_000).await;

    // Assert: the lookup failed after three attempts, none of which VirusTotal saw.
    let r = &results(&body)[0];
    assert_eq!(r["status"], "error", "{body}");
    assert_eq!(r["error"]["code"], "upstream_unavailable", "{body}");
    assert_eq!(body["summary"]["upstream_calls"], 0, "{body}");
    let quota = app.get_json("/v1/quota").await.1;
    for window in ["minute", "day", "month"] {
        assert_eq!(quota["windows"][window]["used"], 0, "{window}: {quota}");
    }
    let metrics = app.get("/metrics").await.1;
    assert_eq!(
        sample(
            &metrics,
            r#"vtenrich_upstream_requests_total{outcome="transport",type="ip"}"#
        ),
        3,
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"vtenrich_upstream_request_duration_seconds_count{outcome="transport",type="ip"}"#
        ),
        3
    );
    assert_eq!(
        sample(
            &metrics,
            r#"vtenrich_upstream_requests_total{outcome="server_error",type="ip"}"#
        ),
        0
    );
}

#[tokio::test]
async fn a_connection_reset_after_the_request_was_sent_stays_counted() {
    // Arrange: VirusTotal receives the request, then the connection breaks.
    let app = app().await;
    app.sim.inject("81.2.69.181", Fault::Reset, 2);

    // Act
    let body = app.enrich_ok(json!(["81.2.69.181"]), 5_000).await;

    // Assert: every call VirusTotal saw is counted, as VirusTotal counts it.
    assert_eq!(results(&body)[0]["status"], "error", "{body}");
    let seen = app.sim.calls_for("81.2.69.181");
    let quota = app.get_json("/v1/quota").await.1;
    assert_eq!(quota["windows"]["day"]["used"], seen as u64, "{quota}");
    assert_eq!(body["summary"]["upstream_calls"], seen as u64);
}
