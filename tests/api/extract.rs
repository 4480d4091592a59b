//! `POST /v1/extract`: the payloads senders post as they come (a Splunk webhook alert action,
//! an Alertmanager and a Grafana webhook, a defanged threat report) give every indicator in them
//! with its exact place, nothing invented (versions, file names, timestamps, UUIDs), one
//! upstream call at most per distinct public observable and none for internal hosts; `include`
//! filters; limits, media types and authentication answer in the error shape; usage, caps and
//! the audit log treat it as any enrichment route, and nothing of the payload is kept.
//!
//! `fixtures`: each payload's indicators, places and calls; `requests`: the route's parameters,
//! limits, errors, callers and what is (not) kept.

mod fixtures;
mod requests;

use serde_json::Value;
use vtenrich::observable::PrivateSuffixes;

use crate::helpers::{Options, TestApp, spawn_app_with};

/// A test payload: one of `tests/fixtures/webhooks/`.
fn webhook(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/webhooks/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// An app whose internal hosts live under `corp.example.net`, as the fixtures' do.
async fn app() -> TestApp {
    app_with(|_| {}).await
}

async fn app_with(
    configure: impl FnOnce(&mut vtenrich::config::Settings) + Send + 'static,
) -> TestApp {
    spawn_app_with(Options::default().configure(|s| {
        s.private_suffixes = PrivateSuffixes::parse("corp.example.net").unwrap();
        configure(s);
    }))
    .await
}

/// `POST /v1/extract?query` with a body of `content_type`.
async fn post(
    app: &TestApp,
    query: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = app
        .http
        .post(format!("{}/v1/extract?{query}", app.address))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request sent");
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, headers, body)
}

async fn extract_ok(app: &TestApp, query: &str, content_type: &str, body: String) -> Value {
    let (status, _, answer) = post(app, query, content_type, body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}
