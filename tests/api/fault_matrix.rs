//! The upstream fault matrix at the service level: for each fault the service stays up, the
//! affected item gets a typed error (or a deferral for quota answers), the healthy item in the
//! same batch succeeds, nothing wrong is cached, and the quota gate counted every call made.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Path;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Options, TestApp, fixture, results, spawn_app_with};

const BAD: &str = "81.2.69.142";
const GOOD: &str = "8.8.8.8";

fn vt_error(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        format!(r#"{{"error": {{"code": "{code}", "message": "test"}}}}"#),
        "application/json",
    )
}

fn good_body() -> Vec<u8> {
    fixture("ip_8.8.8.8_google_2026-07_paidkey.json")
}

/// `ip_8.8.8.8` with one attribute replaced (for the wrong-shape cases).
fn patched(edit: impl FnOnce(&mut serde_json::Value)) -> ResponseTemplate {
    let mut v: serde_json::Value = serde_json::from_slice(&good_body()).unwrap();
    v["data"]["id"] = json!(BAD);
    edit(&mut v["data"]["attributes"]);
    ResponseTemplate::new(200).set_body_json(v)
}

async fn app_in_front_of(base: String) -> TestApp {
    spawn_app_with(
        Options {
            base_url: Some(base),
            ..Options::default()
        }
        .configure(|s| {
            s.virustotal.request_timeout = Duration::from_millis(400);
            s.virustotal.max_retries = 1;
        }),
    )
    .await
}

async fn minute_used(app: &TestApp) -> u64 {
    app.get_json("/v1/quota").await.1["windows"]["minute"]["used"]
        .as_u64()
        .unwrap()
}

/// Expected result of the faulty item.
struct Expect {
    status: &'static str,
    code: Option<&'static str>,
    calls: usize,
}

fn cases() -> Vec<(&'static str, ResponseTemplate, Expect)> {
    let error = |code, calls| Expect {
        status: "error",
        code: Some(code),
        calls,
    };
    let big = format!("{{\"data\": \"{}\"}}", "x".repeat(5 << 20));
    vec![
        (
            "500",
            vt_error(500, "InternalError"),
            error("upstream_unavailable", 2),
        ),
        (
            "503 TransientError",
            vt_error(503, "TransientError"),
            error("upstream_unavailable", 2),
        ),
        (
            "504 DeadlineExceeded",
            vt_error(504, "DeadlineExceededError"),
            error("upstream_unavailable", 2),
        ),
        (
            "401 WrongCredentials",
            vt_error(401, "WrongCredentialsError"),
            error("upstream_auth", 1),
        ),
        (
            "403 Forbidden",
            vt_error(403, "ForbiddenError"),
            error("upstream_auth", 1),
        ),
        (
            "400 InvalidArgument",
            vt_error(400, "InvalidArgumentError"),
            error("upstream_rejected", 1),
        ),
        (
            "hang past the timeout",
            ResponseTemplate::new(200).set_delay(Duration::from_secs(3)),
            error("upstream_timeout", 2),
        ),
        (
            "non-JSON 200",
            ResponseTemplate::new(200).set_body_raw("<html>oops</html>", "text/html"),
            error("upstream_malformed", 1),
        ),
        (
            "asn as a string",
            patched(|a| a["asn"] = json!("15169")),
            error("upstream_malformed", 1),
        ),
        (
            "stats of the wrong type",
            patched(|a| a["last_analysis_stats"] = json!([1, 2])),
            error("upstream_malformed", 1),
        ),
        (
            "enormous body",
            ResponseTemplate::new(200).set_body_raw(big, "application/json"),
            error("upstream_malformed", 1),
        ),
        (
            "country null",
            patched(|a| a["country"] = serde_json::Value::Null),
            Expect {
                status: "ok",
                code: None,
                calls: 1,
            },
        ),
        (
            "stats missing",
            patched(|a| {
                a.as_object_mut().unwrap().remove("last_analysis_stats");
            }),
            Expect {
                status: "ok",
                code: None,
                calls: 1,
            },
        ),
    ]
}

#[tokio::test]
async fn thirteen_upstream_faults_each_fail_only_their_item_and_are_counted() {
    for (name, fault, expect) in cases() {
        // Arrange
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(format!("/api/v3/ip_addresses/{BAD}")))
            .respond_with(fault)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/api/v3/ip_addresses/{GOOD}")))
            .respond_with(ResponseTemplate::new(200).set_body_raw(good_body(), "application/json"))
            .mount(&server)
            .await;
        let app = app_in_front_of(format!("{}/api/v3", server.uri())).await;

        // Act
        let body = app.enrich_ok(json!([GOOD, BAD]), 5_000).await;

        // Assert
        let r = results(&body);
        assert_eq!(r[0]["status"], "ok", "{name}: {body}");
        assert_eq!(r[1]["status"], expect.status, "{name}: {body}");
        if let Some(code) = expect.code {
            assert_eq!(r[1]["error"]["code"], code, "{name}: {body}");
        }
        let calls = server.received_requests().await.unwrap().len();
        assert_eq!(calls, 1 + expect.calls, "{name}: calls made");
        assert_eq!(
            minute_used(&app).await,
            calls as u64,
            "{name}: the gate counted every call"
        );

        // Nothing wrong is cached: an error is asked again; a valid answer is not.
        app.enrich_ok(json!([BAD]), 5_000).await;
        let again = server.received_requests().await.unwrap().len() - calls;
        if expect.status == "ok" {
            assert_eq!(again, 0, "{name}: a valid answer is cached");
        } else {
            assert!(again >= 1, "{name}: the failure was cached");
        }
        let (status, _) = app.get("/livez").await;
        assert_eq!(status, 200, "{name}: still up");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_429_quota_exceeded_defers_the_item_and_stops_further_calls() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/ip_addresses/{BAD}")))
        .respond_with(vt_error(429, "QuotaExceededError"))
        .expect(1)
        .mount(&server)
        .await;
    let app = app_in_front_of(format!("{}/api/v3", server.uri())).await;

    let first = app.enrich_ok(json!([BAD]), 5_000).await;
    let second = app.enrich_ok(json!([GOOD, BAD]), 5_000).await;

    assert_eq!(results(&first)[0]["status"], "deferred", "{first}");
    assert!(results(&first)[0]["retry_after_secs"].as_u64().unwrap() > 0);
    for r in results(&second) {
        assert_eq!(r["status"], "deferred", "blocked: no call at all: {second}");
    }
    assert_eq!(minute_used(&app).await, 1);
    // `expect(1)` on drop: exactly one call reached the upstream.
}

#[tokio::test]
async fn a_429_too_many_requests_backs_off_and_defers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/ip_addresses/{BAD}")))
        .respond_with(vt_error(429, "TooManyRequestsError"))
        .expect(1)
        .mount(&server)
        .await;
    let app = app_in_front_of(format!("{}/api/v3", server.uri())).await;

    let body = app.enrich_ok(json!([BAD]), 2_000).await;

    assert_eq!(results(&body)[0]["status"], "deferred", "{body}");
    let (_, quota) = app.get_json("/v1/quota").await;
    assert_eq!(quota["blocked"], true, "backing off: {quota}");
}

/// A tiny upstream whose answers arrive one byte at a time, or stop short of their length.
async fn misbehaving_upstream(truncate: bool) -> String {
    let app = axum::Router::new().route(
        "/api/v3/ip_addresses/{ip}",
        axum::routing::get(move |Path(ip): Path<String>| async move {
            let body = good_body();
            if ip == GOOD {
                return axum::response::Response::new(Body::from(body));
            }
            if truncate {
                let half = body[..body.len() / 2].to_vec();
                let stream = futures::stream::iter(vec![
                    Ok::<_, std::io::Error>(bytes::Bytes::from(half)),
                    Err(std::io::Error::other("cut")),
                ]);
                return axum::response::Response::builder()
                    .header("content-length", body.len())
                    .body(Body::from_stream(stream))
                    .unwrap();
            }
            let drip = futures::stream::unfold(0usize, move |i| {
                let byte = body.get(i).copied();
                async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    byte.map(|b| (Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b])), i + 1))
                }
            });
            axum::response::Response::new(Body::from_stream(drip))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/api/v3")
}

#[tokio::test]
async fn a_slow_drip_and_a_truncated_body_fail_only_their_item() {
    for (truncate, code) in [(false, "upstream_timeout"), (true, "upstream_unavailable")] {
        let app = app_in_front_of(misbehaving_upstream(truncate).await).await;

        let body = app.enrich_ok(json!([GOOD, BAD]), 5_000).await;

        let r = results(&body);
        assert_eq!(r[0]["status"], "ok", "{body}");
        assert_eq!(r[1]["status"], "error", "{body}");
        assert_eq!(r[1]["error"]["code"], code, "{body}");
        app.stop().await;
    }
}
