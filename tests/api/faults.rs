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
