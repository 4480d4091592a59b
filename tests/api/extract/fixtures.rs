//! The four payloads: every indicator at its exact place, nothing invented, one call at most
//! per distinct public observable, none for internal hosts.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use vtenrich::virustotal::Endpoint;

use super::{app, extract_ok, webhook};
use crate::helpers::TestApp;

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
