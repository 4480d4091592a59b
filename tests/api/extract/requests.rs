//! The route's parameters, limits and errors; callers, caps, usage; nothing of the payload in
//! the audit log or the request log.

use serde_json::{Value, json};
use vtenrich::caller::Role;
use vtenrich::config::CallerSettings;
use vtenrich::http::hash_key;
use vtenrich::virustotal::Endpoint;

use super::{app, app_with, extract_ok, post, webhook};
use crate::helpers::TestApp;
use crate::support::service::Service;

#[tokio::test]
async fn include_limits_the_types_looked_for_and_sent() {
    // Arrange
    let app = app().await;
    let (_, _, everything) = post(
        &app,
        "include=",
        "text/plain",
        "10.0.0.1 wiki.corp.example.net",
    )
    .await;

    // Act
    let answer = extract_ok(
        &app,
        "include=ip,file&max_wait_ms=5000",
        "application/json",
        webhook("grafana_alert.json"),
    )
    .await;

    // Assert
    let found: Vec<&str> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"]["observable"].as_str().unwrap())
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(
        everything["summary"]["total"], 2,
        "an empty list is every type"
    );
    assert!(
        found.contains(&"194.26.192.64")
            && found.contains(&"3395856ce81f2b7382dee72602f798b642f14140")
    );
    assert_eq!(app.sim.call_count(Endpoint::Domains), 0);
    assert_eq!(app.sim.call_count(Endpoint::Urls), 0);
    assert_eq!(app.sim.call_count(Endpoint::IpAddresses), 1);
    assert_eq!(app.sim.call_count(Endpoint::Files), 1);
}

#[tokio::test]
async fn a_payload_without_observables_is_an_empty_answer() {
    let app = app().await;

    let answer = extract_ok(
        &app,
        "",
        "application/json",
        json!({"version": "1.2.3", "at": "2026-11-30T10:00:00Z", "file": "report.pdf", "n": 8})
            .to_string(),
    )
    .await;

    assert_eq!(answer["results"], json!([]));
    assert_eq!(answer["summary"]["total"], 0);
    assert_eq!(app.sim.total_call_count(), 0);
}

#[tokio::test]
async fn format_and_fields_shape_each_result_and_keep_where_it_was_found() {
    let app = app().await;
    let text = "see 10.1.2.3 and 10.1.2.3".to_owned();

    let trimmed = extract_ok(&app, "fields=observable,status", "text/plain", text.clone()).await;
    let ecs = extract_ok(&app, "format=ecs", "text/plain", text).await;

    assert_eq!(
        trimmed["results"],
        json!([{"result": {"observable": "10.1.2.3", "status": "not_routable"},
            "found_at": [{"start": 4, "end": 12}, {"start": 17, "end": 25}]}])
    );
    assert_eq!(
        ecs["results"][0]["result"]["threat"]["indicator"]["ip"],
        "10.1.2.3"
    );
    assert_eq!(ecs["results"][0]["found_at"][1]["start"], 17);
}

#[tokio::test]
async fn more_distinct_observables_than_max_batch_is_a_422_before_any_call() {
    let app = app_with(|s| s.max_batch = 3).await;
    // Five occurrences, four distinct.
    let text = "8.8.8.8 1.1.1.1 9.9.9.9 8.8.8.8 evil.com".to_owned();

    let (status, _, body) = post(&app, "", "text/plain", text).await;
    let (fits, _, _) = post(&app, "", "text/plain", "8.8.8.8 1.1.1.1 8.8.8.8 1.1.1.1").await;

    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "batch_too_large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4 distinct"),
        "{body}"
    );
    assert_eq!(fits, 200, "repeats count once");
    assert_eq!(app.sim.total_call_count(), 2);
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413() {
    let app = app_with(|s| s.body_limit_bytes = 1_024).await;

    let (text, _, text_body) = post(&app, "", "text/plain", "8.8.8.8 ".repeat(200)).await;
    let (doc, _, _) = post(
        &app,
        "",
        "application/json",
        json!({"message": "8.8.8.8 ".repeat(200)}).to_string(),
    )
    .await;

    assert_eq!((text, doc), (413, 413));
    assert_eq!(text_body["error"]["code"], "body_too_large");
    assert_eq!(app.sim.total_call_count(), 0);
}

#[tokio::test]
async fn bad_bodies_media_types_and_parameters_answer_in_the_error_shape() {
    let app = app().await;

    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "",
            "application/json",
            b"{\"alerts\": [".to_vec(),
            400,
            "invalid_json",
        ),
        ("", "application/json", Vec::new(), 400, "invalid_json"),
        (
            "",
            "text/plain",
            vec![0x38, 0x2e, 0xff, 0xfe],
            400,
            "invalid_text",
        ),
        (
            "",
            "application/xml",
            b"<a>8.8.8.8</a>".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "",
            "text/plain; charset=iso-8859-1",
            b"8.8.8.8".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "",
            "text/html",
            b"8.8.8.8".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "include=ip,hash",
            "text/plain",
            b"8.8.8.8".to_vec(),
            422,
            "invalid_parameter",
        ),
        (
            "include=ip,",
            "text/plain",
            b"8.8.8.8".to_vec(),
            422,
            "invalid_parameter",
        ),
        (
            "fields=nope",
            "text/plain",
            b"8.8.8.8".to_vec(),
            422,
            "invalid_fields",
        ),
        (
            "max_wait_ms=soon",
            "text/plain",
            b"8.8.8.8".to_vec(),
            400,
            "invalid_query",
        ),
        (
            "observables=1",
            "text/plain",
            b"8.8.8.8".to_vec(),
            400,
            "invalid_query",
        ),
    ];
    for (query, content_type, body, status, code) in cases {
        let (got, _, answer) = post(&app, query, content_type, body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{query} {content_type}: {answer}"
        );
    }
    let no_type = app
        .http
        .post(format!("{}/v1/extract", app.address))
        .body("8.8.8.8")
        .send()
        .await
        .unwrap();
    assert_eq!(no_type.status(), 415);
    // A JSON content type with a charset, and the `+json` family, are JSON.
    for content_type in [
        "application/json; charset=utf-8",
        "application/vnd.alert+json",
    ] {
        let (status, _, _) = post(&app, "", content_type, "\"10.0.0.1\"").await;
        assert_eq!(status, 200, "{content_type}");
    }
    assert_eq!(app.sim.total_call_count(), 0);
}

const USER_KEY: &str = "extract-user-key-4c1d9e";
const ADMIN_KEY: &str = "extract-admin-key-8a2f6b";

async fn app_with_callers() -> TestApp {
    app_with(|s| {
        s.callers = vec![
            CallerSettings {
                id: "alertmanager".into(),
                key_sha256: vec![hash_key(USER_KEY)],
                daily_cap: Some(1),
                ..CallerSettings::default()
            },
            CallerSettings {
                id: "soc".into(),
                key_sha256: vec![hash_key(ADMIN_KEY)],
                role: Role::Admin,
                ..CallerSettings::default()
            },
        ];
    })
    .await
}

async fn post_as(
    app: &TestApp,
    key: Option<&str>,
    body: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = app
        .http
        .post(format!("{}/v1/extract?max_wait_ms=5000", app.address))
        .header("content-type", "text/plain")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.json().await.unwrap())
}

#[tokio::test]
async fn callers_need_a_key_and_their_cap_and_usage_count_on_the_extract_route() {
    // Arrange: a caller allowed one VirusTotal call a day.
    let app = app_with_callers().await;
    let payload = "beacon to 8.8.8.8 and 1.1.1.1 (marker do-not-keep-3b7e), lab 10.0.0.9";

    // Act
    let (anonymous, headers, refused) = post_as(&app, None, payload).await;
    let (status, limits, answer) = post_as(&app, Some(USER_KEY), payload).await;

    // Assert
    assert_eq!(anonymous, 401, "{refused}");
    assert!(headers.contains_key("www-authenticate"));
    assert_eq!(status, 200, "{answer}");
    let statuses: Vec<(&str, &str)> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["result"]["observable"].as_str().unwrap(),
                r["result"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(statuses.len(), 3);
    assert!(statuses.contains(&("10.0.0.9", "not_routable")));
    assert_eq!(
        statuses.iter().filter(|(_, s)| *s == "error").count(),
        1,
        "the cap of one refuses the second public address: {statuses:?}"
    );
    assert_eq!(app.sim.total_call_count(), 1);
    assert!(
        limits.contains_key("ratelimit"),
        "the caller's budget is on the answer"
    );

    let (status, _, usage) = {
        let response = app
            .http
            .get(format!("{}/v1/usage?caller=alertmanager", app.address))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            (),
            response.json::<Value>().await.unwrap(),
        )
    };
    assert_eq!(status, 200, "{usage}");
    let rows = usage["days"][0]["callers"][0]["usage"].as_array().unwrap();
    assert!(
        rows.iter().all(|r| r["route"] == "/v1/extract"),
        "usage is counted under the extract route: {usage}"
    );
    let row = rows
        .iter()
        .find(|r| r["endpoint"] == "ip_addresses")
        .unwrap();
    assert_eq!(row["consuming"]["virustotal_calls"], 1);
    assert_eq!(row["refused"]["cap"], 1);
    assert_eq!(row["observables"], 3);
}

#[tokio::test]
async fn nothing_of_the_payload_reaches_the_audit_log() {
    // Arrange
    let app = app_with_callers().await;
    let payload = "beacon to 8.8.8.8 and 1.1.1.1 (marker do-not-keep-3b7e)";

    // Act: the second address spends the cap, which the audit log records.
    let (status, _, _) = post_as(&app, Some(USER_KEY), payload).await;

    // Assert
    assert_eq!(status, 200);
    let mut entries = Value::Null;
    for _ in 0..200 {
        let response = app
            .http
            .get(format!(
                "{}/v1/admin/audit?action=caller.cap_exhausted",
                app.address
            ))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        entries = response.json().await.unwrap();
        if entries["entries"].as_array().is_some_and(|e| !e.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        entries["entries"][0]["target_id"], "alertmanager",
        "{entries}"
    );
    let all = app
        .http
        .get(format!("{}/v1/admin/audit", app.address))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for leaked in ["do-not-keep-3b7e", "beacon", "8.8.8.8", "1.1.1.1", USER_KEY] {
        assert!(
            !all.contains(leaked),
            "{leaked} reached the audit log: {all}"
        );
    }
}

#[tokio::test]
async fn process_the_request_log_line_says_counts_never_the_payload() {
    // Arrange: debug logs, the demo's own simulator.
    let demo = Service::start_command("demo", &[("VTENRICH_LOG", "debug")]).await;
    let payload =
        json!({"note": "marker do-not-log-91c4 near 8.8.8.8", "host": "evil-payload-host.com"});

    // Act
    let response = reqwest::Client::new()
        .post(demo.url("/v1/extract?max_wait_ms=5000"))
        .json(&payload)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap();

    // Assert
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["summary"]["total"], 2);
    let logs = demo.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("request finished") && l.contains("/v1/extract"))
        .unwrap_or_else(|| panic!("no request line: {logs}"));
    assert!(line.contains("\"observables\":2"), "{line}");
    // Observables may be logged (as for `/v1/enrich` at debug); the rest of the payload not.
    assert!(
        !logs.contains("do-not-log-91c4"),
        "the payload reached the logs: {logs}"
    );
}
