//! Every malformed request gets the JSON error shape and the right 4xx status.

use serde_json::Value;

use crate::error_shape::assert_error_shape;
use crate::helpers::{Options, spawn_app, spawn_app_with};

async fn post_raw(
    app: &crate::helpers::TestApp,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut request = app
        .http
        .post(format!("{}/v1/enrich", app.address))
        .body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let json =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text:?}"));
    (status, json)
}

#[tokio::test]
async fn each_malformed_request_class_gets_its_json_error_and_status() {
    let app = spawn_app_with(Options::default().configure(|s| s.max_batch = 5)).await;
    let json = Some("application/json");
    // (what, content type, body, expected status, expected code)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            json,
            b"{\"observables\": [".to_vec(),
            400,
            "invalid_json",
        ),
        (
            "not JSON at all",
            json,
            b"hello".to_vec(),
            400,
            "invalid_json",
        ),
        (
            "invalid UTF-8",
            json,
            vec![b'"', 0xff, 0xfe, b'"'],
            400,
            "invalid_json",
        ),
        (
            "wrong content type",
            Some("text/plain"),
            b"{\"observables\":[\"8.8.8.8\"]}".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "no content type",
            None,
            b"{\"observables\":[\"8.8.8.8\"]}".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "unknown field",
            json,
            b"{\"observables\":[\"8.8.8.8\"],\"colour\":1}".to_vec(),
            422,
            "invalid_request",
        ),
        (
            "observables not a list",
            json,
            b"{\"observables\":\"8.8.8.8\"}".to_vec(),
            422,
            "invalid_request",
        ),
        (
            "missing observables",
            json,
            b"{}".to_vec(),
            422,
            "invalid_request",
        ),
        (
            "negative wait",
            json,
            b"{\"observables\":[\"8.8.8.8\"],\"max_wait_ms\":-1}".to_vec(),
            422,
            "invalid_request",
        ),
        (
            "wait as a numeric string",
            json,
            b"{\"observables\":[\"8.8.8.8\"],\"max_wait_ms\":\"8000\"}".to_vec(),
            422,
            "invalid_request",
        ),
        (
            "wait as a fraction",
            json,
            b"{\"observables\":[\"8.8.8.8\"],\"max_wait_ms\":8000.5}".to_vec(),
            422,
            "invalid_request",
        ),
        (
            "wait as a boolean",
            json,
            b"{\"observables\":[\"8.8.8.8\"],\"max_wait_ms\":true}".to_vec(),
            422,
            "invalid_request",
        ),
        (
            "observables given twice",
            json,
            b"{\"observables\":[\"8.8.8.8\"],\"observables\":[\"1.1.1.1\"]}".to_vec(),
            422,
            "invalid_request",
        ),
        (
            "empty batch",
            json,
            b"{\"observables\":[]}".to_vec(),
            422,
            "empty_batch",
        ),
        (
            "too many entries",
            json,
            br#"{"observables":["1.1.1.1","1.1.1.2","1.1.1.3","1.1.1.4","1.1.1.5","1.1.1.6"]}"#
                .to_vec(),
            422,
            "batch_too_large",
        ),
    ];
    for (name, content_type, body, status, code) in cases {
        let (got, answer) = post_raw(&app, content_type, body).await;
        assert_eq!(got, status, "{name}: {answer}");
        assert_error_shape(&answer, code);
    }
    assert_eq!(app.sim.ip_call_count(), 0);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_with_the_json_shape() {
    let app = spawn_app().await;
    let big = format!("{{\"observables\":[\"{}\"]}}", "1".repeat(2 * 1024 * 1024));

    let (status, body) = post_raw(&app, Some("application/json"), big.into_bytes()).await;

    assert_eq!(status, 413);
    assert_error_shape(&body, "body_too_large");
}

#[tokio::test]
async fn an_invalid_address_in_the_path_is_a_400() {
    let app = spawn_app().await;
    for path in [
        "/v1/ip/not-an-ip",
        "/v1/ip/010.1.1.1",
        "/v1/ip/0x7f.1",
        "/v1/ip/fe80::1%25eth0",
        "/v1/ip/%FF%FE",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    assert_eq!(app.sim.ip_call_count(), 0);
}

#[tokio::test]
async fn a_wait_in_the_query_that_is_not_a_plain_integer_is_a_400_invalid_query() {
    let app = spawn_app().await;
    for wait in [
        "soon",
        "",
        "8000.5",
        "8000.0",
        "1e3",
        "-1",
        "0x10",
        "%208000",
        "9007199254740992",
    ] {
        let (status, body) = app
            .get_json(&format!("/v1/ip/10.0.0.1?max_wait_ms={wait}"))
            .await;
        assert_eq!(status, 400, "max_wait_ms={wait}: {body}");
        assert_error_shape(&body, "invalid_query");
    }
    for wait in ["0", "8000", "9007199254740991"] {
        let (status, body) = app
            .get_json(&format!("/v1/ip/10.0.0.1?max_wait_ms={wait}"))
            .await;
        assert_eq!(status, 200, "max_wait_ms={wait}: {body}");
    }
}

#[tokio::test]
async fn an_item_repeating_a_key_is_invalid_and_the_message_names_the_key() {
    let app = spawn_app().await;
    let body = br#"{"observables": [
        {"type": "ip", "value": "1.1.1.1", "value": "8.8.8.8"},
        {"type": "ip", "type": "ip", "value": "8.8.8.8"},
        {"type": "ip", "value": "8.8.4.4"}
    ], "max_wait_ms": 1000}"#;

    let (status, answer) = post_raw(&app, Some("application/json"), body.to_vec()).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        crate::helpers::statuses(&answer),
        ["invalid", "invalid", "ok"]
    );
    let results = crate::helpers::results(&answer);
    for (result, key) in results.iter().zip(["`value`", "`type`"]) {
        let message = result["error"]["message"].as_str().expect("a message");
        assert!(message.contains(key), "{key} named: {result}");
    }
    assert_eq!(
        app.sim.ip_call_count(),
        1,
        "only the well-formed item is looked up"
    );
}

#[tokio::test]
async fn entries_of_the_wrong_shape_are_invalid_items_not_a_failed_batch() {
    let app = spawn_app().await;
    let body = app
        .enrich_ok(
            serde_json::json!([null, 42, {"type": "domain", "value": "example.com"}, {"type": "ip"}, {"type": "ip", "value": "8.8.8.8", "x": 1}, "8.8.8.8"]),
            1_000,
        )
        .await;
    assert_eq!(
        crate::helpers::statuses(&body),
        ["invalid", "invalid", "ok", "invalid", "invalid", "ok"]
    );
}
