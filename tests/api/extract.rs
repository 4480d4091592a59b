//! `POST /v1/extract`: the payloads senders post as they come (a Splunk webhook alert action,
//! an Alertmanager and a Grafana webhook, a defanged threat report) give every indicator in them
//! with its exact place, nothing invented (versions, file names, timestamps, UUIDs), one
//! upstream call at most per distinct public observable and none for internal hosts; `include`
//! filters; limits, media types and authentication answer in the error shape; usage, caps and
//! the audit log treat it as any enrichment route, and nothing of the payload is kept.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use vtenrich::caller::Role;
use vtenrich::config::CallerSettings;
use vtenrich::http::hash_key;
use vtenrich::observable::PrivateSuffixes;
use vtenrich::virustotal::Endpoint;

use crate::helpers::{Options, TestApp, spawn_app_with};
use crate::support::service::Service;

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

/// What a fixture must give for one observable.
struct Expect {
    /// The canonical observable.
    observable: &'static str,
    /// Public: one VirusTotal call; else internal, `not_routable` and never sent.
    sent: bool,
    /// Each occurrence: the JSON Pointer (`None` in a text) and the text as written there.
    at: &'static [(Option<&'static str>, &'static str)],
}

const fn sent(
    observable: &'static str,
    at: &'static [(Option<&'static str>, &'static str)],
) -> Expect {
    Expect {
        observable,
        sent: true,
        at,
    }
}

const fn kept(
    observable: &'static str,
    at: &'static [(Option<&'static str>, &'static str)],
) -> Expect {
    Expect {
        observable,
        sent: false,
        at,
    }
}

/// The characters `start..end` of a string.
fn chars(text: &str, start: u64, end: u64) -> String {
    text.chars()
        .skip(start as usize)
        .take((end - start) as usize)
        .collect()
}

/// Asserts the answer lists exactly `expected`: each observable once, each occurrence at a
/// place whose characters are the text written there, and the right status for each.
fn assert_found(answer: &Value, payload: &str, json: bool, expected: &[Expect]) {
    let doc: Option<Value> = json.then(|| serde_json::from_str(payload).unwrap());
    let results = answer["results"].as_array().expect("results");
    let found: Vec<&str> = results
        .iter()
        .map(|r| r["result"]["observable"].as_str().unwrap())
        .collect();
    let mut wanted: Vec<&str> = expected.iter().map(|e| e.observable).collect();
    let mut got = found.clone();
    wanted.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, wanted, "exactly the indicators, nothing invented");
    assert_eq!(answer["summary"]["total"], expected.len());

    for expect in expected {
        let result = results
            .iter()
            .find(|r| r["result"]["observable"] == expect.observable)
            .unwrap();
        let mut places: Vec<(Option<String>, String)> = result["found_at"]
            .as_array()
            .unwrap()
            .iter()
            .map(|at| {
                let path = at["path"].as_str().map(str::to_owned);
                let within = match (&doc, &path) {
                    (Some(doc), Some(path)) => doc
                        .pointer(path)
                        .and_then(Value::as_str)
                        .unwrap_or_else(|| panic!("{path} is not a string of the payload")),
                    (None, None) => payload,
                    _ => panic!("a path exactly for JSON: {at}"),
                };
                let written = chars(
                    within,
                    at["start"].as_u64().unwrap(),
                    at["end"].as_u64().unwrap(),
                );
                (path, written)
            })
            .collect();
        let mut expected_places: Vec<(Option<String>, String)> = expect
            .at
            .iter()
            .map(|(path, written)| (path.map(str::to_owned), (*written).to_owned()))
            .collect();
        places.sort();
        expected_places.sort();
        assert_eq!(places, expected_places, "{}", expect.observable);
        let status = result["result"]["status"].as_str().unwrap();
        if expect.sent {
            assert!(
                ["ok", "not_found"].contains(&status) && result["result"]["source"] == "virustotal",
                "{} is sent: {result}",
                expect.observable
            );
        } else {
            assert_eq!(
                status, "not_routable",
                "{} stays inside: {result}",
                expect.observable
            );
        }
    }
}

/// VirusTotal calls per endpoint so far.
fn calls(app: &TestApp) -> BTreeMap<&'static str, usize> {
    Endpoint::ALL
        .into_iter()
        .map(|e| (e.name(), app.sim.call_count(e)))
        .collect()
}

/// The calls `expected` must cause: one per public observable, by endpoint.
fn calls_for(answer: &Value, expected: &[Expect]) -> BTreeMap<&'static str, usize> {
    let mut calls: BTreeMap<&'static str, usize> =
        Endpoint::ALL.into_iter().map(|e| (e.name(), 0)).collect();
    for expect in expected.iter().filter(|e| e.sent) {
        let kind = answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["result"]["observable"] == expect.observable)
            .unwrap()["result"]["type"]
            .as_str()
            .unwrap();
        let endpoint = match kind {
            "ip" => Endpoint::IpAddresses,
            "domain" => Endpoint::Domains,
            "url" => Endpoint::Urls,
            _ => Endpoint::Files,
        };
        *calls.get_mut(endpoint.name()).unwrap() += 1;
    }
    calls
}

/// Posts a fixture twice: the first answer holds exactly `expected` at one call per public
/// observable, the second is answered from the cache.
async fn check_fixture(name: &str, content_type: &str, expected: &[Expect]) {
    // Arrange
    let app = app().await;
    let payload = webhook(name);

    // Act
    let first = extract_ok(&app, "max_wait_ms=5000", content_type, payload.clone()).await;
    let after_first = calls(&app);
    let second = extract_ok(&app, "max_wait_ms=5000", content_type, payload.clone()).await;

    // Assert
    assert_found(&first, &payload, content_type != "text/plain", expected);
    assert_eq!(
        after_first,
        calls_for(&first, expected),
        "{:?}",
        app.sim.lookups()
    );
    assert_eq!(
        first["summary"]["upstream_calls"],
        expected.iter().filter(|e| e.sent).count()
    );
    assert_eq!(calls(&app), after_first, "the second time costs nothing");
    assert_eq!(second["summary"]["upstream_calls"], 0);
    assert_eq!(second["summary"]["by_source"]["virustotal"], 0);
}

#[tokio::test]
async fn a_splunk_webhook_alert_gives_every_indicator_with_its_pointer() {
    const LINK: &str = "https://splunk.corp.example.net:8000/app/search/@go?sid=scheduler__admin__search__RMD5b1a0e3f9c2d8e7a6_at_1764496800_1234";
    check_fixture(
        "splunk_alert.json",
        "application/json",
        &[
            kept("10.12.4.77", &[(Some("/result/src_ip"), "10.12.4.77")]),
            sent(
                "185.220.101.47",
                &[(Some("/result/dest_ip"), "185.220.101.47")],
            ),
            sent(
                "update-check-cdn.com",
                &[(Some("/result/dest_host"), "update-check-cdn.com")],
            ),
            sent(
                "http://update-check-cdn.com/dl/stage2.bin",
                &[(
                    Some("/result/url"),
                    "http://update-check-cdn.com/dl/stage2.bin",
                )],
            ),
            kept(
                "corp.example.net",
                &[(Some("/result/user"), "corp.example.net")],
            ),
            sent(
                "5d41402abc4b2a76b9719d911017c592",
                &[(
                    Some("/result/file_hash"),
                    "5D41402ABC4B2A76B9719D911017C592",
                )],
            ),
            sent(
                "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
                &[(
                    Some("/result/file_hash"),
                    "2C26B46B68FFC68FF99B453C1D30413413422D706483BFA0F98A5E886266E7AE",
                )],
            ),
            kept(LINK, &[(Some("/results_link"), LINK)]),
        ],
    )
    .await;
}

#[tokio::test]
async fn an_alertmanager_webhook_gives_every_indicator_and_keeps_its_own_urls_inside() {
    const GEN_0: &str = "http://prometheus.corp.example.net:9090/graph?g0.expr=suricata_alerts_total%7Bdst_ip%3D%2245.95.147.236%22%7D&g0.tab=1";
    const GEN_1: &str =
        "http://prometheus.corp.example.net:9090/graph?g0.expr=dns_new_domains_total&g0.tab=1";
    const RUNBOOK: &str = "https://wiki.corp.example.net/runbooks/beacon";
    check_fixture(
        "alertmanager.json",
        "application/json",
        &[
            kept(
                "10.20.30.40",
                &[
                    (Some("/alerts/0/labels/instance"), "10.20.30.40"),
                    (Some("/alerts/0/labels/src_ip"), "10.20.30.40"),
                    (Some("/alerts/0/annotations/summary"), "10.20.30.40"),
                    (Some("/alerts/1/labels/instance"), "10.20.30.40"),
                ],
            ),
            sent(
                "45.95.147.236",
                &[
                    (Some("/alerts/0/labels/dst_ip"), "45.95.147.236"),
                    (Some("/alerts/0/annotations/summary"), "45.95.147.236"),
                ],
            ),
            sent(
                "http://45.95.147.236/gate.php",
                &[(
                    Some("/alerts/0/annotations/description"),
                    "hxxp://45.95.147[.]236/gate.php",
                )],
            ),
            kept(
                RUNBOOK,
                &[
                    (Some("/alerts/0/annotations/runbook_url"), RUNBOOK),
                    (Some("/alerts/1/annotations/runbook_url"), RUNBOOK),
                    (Some("/commonAnnotations/runbook_url"), RUNBOOK),
                ],
            ),
            kept(GEN_0, &[(Some("/alerts/0/generatorURL"), GEN_0)]),
            kept(GEN_1, &[(Some("/alerts/1/generatorURL"), GEN_1)]),
            kept(
                "http://alertmanager.corp.example.net:9093/",
                &[(
                    Some("/externalURL"),
                    "http://alertmanager.corp.example.net:9093",
                )],
            ),
            kept(
                "10.20.31.5",
                &[
                    (Some("/alerts/1/labels/src_ip"), "10.20.31.5"),
                    (Some("/alerts/1/annotations/summary"), "10.20.31.5"),
                ],
            ),
            sent(
                "login-microsoftonline.support",
                &[
                    (
                        Some("/alerts/1/labels/query"),
                        "login-microsoftonline.support",
                    ),
                    (
                        Some("/alerts/1/annotations/summary"),
                        "login-microsoftonline.support",
                    ),
                ],
            ),
            sent(
                "2a06:98c1:3121::7",
                &[(
                    Some("/alerts/1/annotations/description"),
                    "2a06:98c1:3121::7",
                )],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_grafana_webhook_gives_every_indicator_once_however_often_it_repeats() {
    const GENERATOR: &str = "http://localhost:3000/alerting/grafana/cdzk3s1bq4hdsb/view?orgId=1";
    const SILENCE: &str = "http://localhost:3000/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DBlocked+egress&matcher=dst%3D194.26.192.64&orgId=1";
    const SILENCE_MESSAGE: &str = "http://localhost:3000/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DBlocked+egress&orgId=1";
    const DASHBOARD: &str = "http://localhost:3000/d/f3a9c1e2?orgId=1";
    const PANEL: &str = "http://localhost:3000/d/f3a9c1e2?orgId=1&viewPanel=4";
    const IP: &str = "194.26.192.64";
    const NAME: &str = "pay-verify.top";
    check_fixture(
        "grafana_alert.json",
        "application/json",
        &[
            sent(
                IP,
                &[
                    (Some("/alerts/0/labels/dst"), IP),
                    (Some("/alerts/0/annotations/summary"), IP),
                    (Some("/alerts/0/annotations/description"), IP),
                    (Some("/alerts/0/valueString"), IP),
                    (Some("/alerts/0/valueString"), IP),
                    (Some("/commonLabels/dst"), IP),
                    (Some("/commonAnnotations/summary"), IP),
                    (Some("/title"), IP),
                    (Some("/message"), IP),
                    (Some("/message"), IP),
                ],
            ),
            sent(
                NAME,
                &[
                    (Some("/alerts/0/labels/domain"), NAME),
                    (
                        Some("/alerts/0/annotations/description"),
                        "pay-verify[.]top",
                    ),
                    (Some("/commonLabels/domain"), NAME),
                    (Some("/title"), NAME),
                    (Some("/message"), NAME),
                ],
            ),
            sent(
                "3395856ce81f2b7382dee72602f798b642f14140",
                &[(
                    Some("/alerts/0/annotations/description"),
                    "3395856ce81f2b7382dee72602f798b642f14140",
                )],
            ),
            kept(
                GENERATOR,
                &[
                    (Some("/alerts/0/generatorURL"), GENERATOR),
                    (Some("/message"), GENERATOR),
                ],
            ),
            kept(SILENCE, &[(Some("/alerts/0/silenceURL"), SILENCE)]),
            kept(SILENCE_MESSAGE, &[(Some("/message"), SILENCE_MESSAGE)]),
            kept(
                DASHBOARD,
                &[
                    (Some("/alerts/0/dashboardURL"), DASHBOARD),
                    (Some("/message"), DASHBOARD),
                ],
            ),
            kept(PANEL, &[(Some("/alerts/0/panelURL"), PANEL)]),
            kept(
                "http://grafana.corp.example.net:3000/",
                &[(
                    Some("/externalURL"),
                    "http://grafana.corp.example.net:3000/",
                )],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_defanged_threat_report_gives_every_indicator_at_its_character_offsets() {
    check_fixture(
        "threat_report.txt",
        "text/plain",
        &[
            sent(
                "billing-portal.online",
                &[(None, "billing-portal[.]online")],
            ),
            sent(
                "https://billing-portal.online/inv/4471?ref=mail",
                &[(None, "hxxps://billing-portal[.]online/inv/4471?ref=mail")],
            ),
            sent(
                "91.215.85.17",
                &[(None, "91.215.85[.]17"), (None, "91.215.85.17")],
            ),
            sent(
                "2a03:2880:f12f:83:face:b00c:0:25de",
                &[(None, "2a03:2880:f12f:83:face:b00c[:]0:25de")],
            ),
            sent("cdn-sync.xyz", &[(None, "cdn-sync(dot)xyz")]),
            sent(
                "http://files.cdn-sync.xyz:8080/up.php",
                &[(None, "hxxp://files[.]cdn-sync[.]xyz:8080/up.php")],
            ),
            kept("192.168.56.101", &[(None, "192.168.56.101")]),
            sent(
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                &[(
                    None,
                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                )],
            ),
            sent(
                "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",
                &[(None, "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12")],
            ),
            sent(
                "44d88612fea8a8f36de82e1278abb02f",
                &[(None, "44d88612fea8a8f36de82e1278abb02f")],
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn text_offsets_count_characters_not_bytes() {
    // Arrange: the report's first line holds an em dash and curly quotes (3 bytes each).
    let app = app().await;
    let report = webhook("threat_report.txt");

    // Act
    let answer = extract_ok(
        &app,
        "include=ip&max_wait_ms=5000",
        "text/plain",
        report.clone(),
    )
    .await;

    // Assert
    let lab = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["result"]["observable"] == "192.168.56.101")
        .unwrap();
    let byte = report.find("192.168.56.101").unwrap();
    let char_offset = report[..byte].chars().count();
    assert!(
        char_offset < byte,
        "the fixture has multi-byte characters before it"
    );
    assert_eq!(
        lab["found_at"],
        json!([{"start": char_offset, "end": char_offset + 14}])
    );
    assert_eq!(lab["result"]["input"], "192.168.56.101");
}

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
