//! Tests of the simulator over real HTTP on a loopback port.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;
use crate::clock::ManualClock;

pub(super) const KEY: &str = "simulator-key";

fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("VTENRICH_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/virustotal")
        });
    assert!(
        dir.is_dir(),
        "VirusTotal fixtures not found at {} (set VTENRICH_FIXTURES_DIR)",
        dir.display()
    );
    dir
}

pub(super) fn fixture(name: &str) -> Value {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

pub(super) fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

pub(super) async fn start(config: SimulatorConfig, clock: &ManualClock) -> Simulator {
    Simulator::start(config, Arc::new(clock.clone()))
        .await
        .expect("simulator starts")
}

pub(super) async fn start_default() -> (Simulator, ManualClock) {
    let clock = ManualClock::new(at("2026-11-22T10:00:00Z"));
    (start(SimulatorConfig::default(), &clock).await, clock)
}

/// GET `path` under the base URL with `key`; returns status, content type and body text.
pub(super) async fn get(sim: &Simulator, path: &str, key: Option<&str>) -> (u16, String, String) {
    let url = format!("{}/{path}", sim.base_url());
    let mut request = reqwest::Client::new().get(url);
    if let Some(key) = key {
        request = request.header("x-apikey", key);
    }
    let response = tokio::time::timeout(Duration::from_secs(10), request.send())
        .await
        .expect("answer in time")
        .expect("answer");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.expect("body"))
}

pub(super) async fn get_ip(sim: &Simulator, ip: &str) -> (u16, Value) {
    let (status, _, body) = get(sim, &format!("ip_addresses/{ip}"), Some(KEY)).await;
    (status, serde_json::from_str(&body).expect("JSON body"))
}

pub(super) fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[tokio::test]
async fn a_known_address_gets_a_real_shaped_object() {
    // Arrange
    let real = fixture("ip_8.8.8.8_google_2026-07_paidkey.json");
    let (sim, _clock) = start_default().await;

    // Act
    let (status, _, body) = get(&sim, "ip_addresses/8.8.8.8", Some(KEY)).await;

    // Assert
    assert_eq!(status, 200);
    let ours: Value = serde_json::from_str(&body).unwrap();
    for key in ["id", "type", "links"] {
        assert_eq!(ours["data"][key], real["data"][key], "data.{key}");
    }
    let (ours, real) = (&ours["data"]["attributes"], &real["data"]["attributes"]);
    let expected = [
        "as_owner",
        "asn",
        "continent",
        "country",
        "network",
        "regional_internet_registry",
        "reputation",
        "total_votes",
        "tags",
        "last_analysis_date",
        "last_modification_date",
        "last_analysis_stats",
        "last_analysis_results",
        "whois",
        "whois_date",
        "jarm",
    ];
    for field in expected {
        assert_eq!(kind(&ours[field]), kind(&real[field]), "type of {field}");
    }
    for (object, fields) in [
        ("total_votes", &["harmless", "malicious"][..]),
        (
            "last_analysis_stats",
            &[
                "malicious",
                "suspicious",
                "undetected",
                "harmless",
                "timeout",
            ][..],
        ),
    ] {
        for field in fields {
            assert_eq!(kind(&ours[object][field]), "integer", "{object}.{field}");
        }
    }
    let engines = ours["last_analysis_results"].as_object().unwrap();
    assert!(engines.len() >= 85, "{} engines", engines.len());
    for (name, entry) in engines {
        let real_entry = &real["last_analysis_results"]["Acronis"];
        for field in ["method", "engine_name", "category", "result"] {
            assert_eq!(
                kind(&entry[field]),
                kind(&real_entry[field]),
                "{name}.{field}"
            );
        }
        assert_eq!(entry["engine_name"], name.as_str());
    }
    assert_eq!(ours["asn"], 15169);
    assert_eq!(ours["country"], "US");
    assert_eq!(ours["network"], "8.8.8.0/24");
}

#[tokio::test]
async fn the_ipv6_resolver_sits_in_googles_real_network() {
    let object = ip_object("2001:4860:4860::8888".parse().unwrap()).expect("known");

    assert_eq!(object["attributes"]["network"], "2001:4860:4840::/42");
    assert_eq!(object["attributes"]["as_owner"], "Google LLC");
    assert_eq!(object["id"], "2001:4860:4860::8888");
}

#[tokio::test]
async fn the_same_address_always_gets_the_same_object() {
    let (sim, _clock) = start_default().await;
    let ip = (0..20u8)
        .map(|n| IpAddr::from([203, 0, 113, n]))
        .find(|ip| ip_object(*ip).is_some())
        .expect("a known address among 20");

    let (status, first) = get_ip(&sim, &ip.to_string()).await;
    let (_, second) = get_ip(&sim, &ip.to_string()).await;

    assert_eq!(status, 200);
    assert_eq!(first, second);
    assert_eq!(Some(&first["data"]), ip_object(ip).as_ref());
}

#[test]
fn analysis_stats_add_up_to_the_engine_verdicts_and_profiles_vary() {
    let mut flagged = 0;
    let mut without_owner = 0;
    let mut without_analysis = 0;
    for n in 0..400u32 {
        let ip = IpAddr::from([100, 64 + (n / 256) as u8, (n % 256) as u8, 9]);
        let Some(object) = ip_object(ip) else {
            continue;
        };
        let a = &object["attributes"];
        without_owner += usize::from(a.get("asn").is_none());
        let Some(results) = a["last_analysis_results"].as_object() else {
            without_analysis += 1;
            continue;
        };
        for category in ["malicious", "suspicious", "undetected", "harmless"] {
            let counted = results
                .values()
                .filter(|r| r["category"] == category)
                .count();
            assert_eq!(
                a["last_analysis_stats"][category], counted,
                "{ip} {category}"
            );
        }
        flagged += usize::from(a["last_analysis_stats"]["malicious"].as_u64() > Some(3));
    }
    assert!((15..=70).contains(&flagged), "{flagged} malicious");
    assert!(
        (3..=40).contains(&without_owner),
        "{without_owner} without owner"
    );
    assert!(
        (2..=35).contains(&without_analysis),
        "{without_analysis} legacy"
    );
}

#[tokio::test]
async fn some_addresses_are_unknown_and_the_special_ones_never_are() {
    let (sim, _clock) = start_default().await;
    let unknown: Vec<IpAddr> = (0..200u8)
        .map(|n| IpAddr::from([198, 51, 100, n]))
        .filter(|ip| ip_object(*ip).is_none())
        .collect();

    let (status, body) = get_ip(&sim, &unknown[0].to_string()).await;

    assert!(
        (10..=45).contains(&unknown.len()),
        "{} unknown",
        unknown.len()
    );
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "NotFoundError");
    assert_eq!(
        body["error"]["message"],
        format!("IP address \"{}\" not found", unknown[0])
    );
    for special in ["8.8.8.8", "1.1.1.1", "9.9.9.9", "2001:4860:4860::8888"] {
        assert!(ip_object(special.parse().unwrap()).is_some(), "{special}");
    }
    let cloudflare = ip_object("1.1.1.1".parse().unwrap()).unwrap();
    assert_eq!(cloudflare["attributes"]["country"], "AU");
    assert_eq!(
        cloudflare["attributes"]["regional_internet_registry"],
        "APNIC"
    );
}

#[tokio::test]
async fn a_wrong_key_gets_wrong_credentials_and_no_key_gets_authentication_required() {
    let real = fixture("errors_and_headers/error_401_WrongCredentialsError_2026-07.json");
    let (sim, _clock) = start_default().await;

    let (wrong, _, wrong_body) = get(&sim, "ip_addresses/8.8.8.8", Some("nope")).await;
    let (missing, _, missing_body) = get(&sim, "ip_addresses/8.8.8.8", None).await;

    assert_eq!(wrong, 401);
    assert_eq!(serde_json::from_str::<Value>(&wrong_body).unwrap(), real);
    assert_eq!(missing, 401);
    let missing_body: Value = serde_json::from_str(&missing_body).unwrap();
    assert_eq!(error_code(&missing_body), "AuthenticationRequiredError");
    assert_eq!(sim.ip_call_count(), 2);
}

#[tokio::test]
async fn a_bad_address_is_an_invalid_argument_and_an_unknown_path_is_not_found() {
    let (sim, _clock) = start_default().await;

    let (bad, body) = get_ip(&sim, "not-an-ip").await;
    let (other, _, other_body) = get(&sim, "files/abc", Some(KEY)).await;

    assert_eq!(bad, 400);
    assert_eq!(error_code(&body), "InvalidArgumentError");
    assert_eq!(other, 404);
    assert_eq!(
        error_code(&serde_json::from_str(&other_body).unwrap()),
        "NotFoundError"
    );
}

#[tokio::test]
async fn the_per_minute_quota_refuses_the_fifth_call_until_the_clock_moves_60_s() {
    // Arrange
    let clock = ManualClock::new(at("2026-11-22T10:00:00Z"));
    let config = SimulatorConfig {
        per_minute: Some(4),
        ..SimulatorConfig::default()
    };
    let sim = start(config, &clock).await;
    for _ in 0..4 {
        assert_eq!(get_ip(&sim, "8.8.8.8").await.0, 200);
        clock.advance(Duration::from_secs(1));
    }

    // Act
    let (fifth, body) = get_ip(&sim, "8.8.8.8").await;
    clock.advance(Duration::from_secs(56));
    let (sixth, _) = get_ip(&sim, "8.8.8.8").await;

    // Assert
    assert_eq!(fifth, 429);
    assert_eq!(error_code(&body), "QuotaExceededError");
    assert_eq!(sixth, 200);
}

#[tokio::test]
async fn the_day_quota_resets_at_midnight_utc() {
    let clock = ManualClock::new(at("2026-11-22T23:59:30Z"));
    let config = SimulatorConfig {
        per_day: Some(2),
        ..SimulatorConfig::default()
    };
    let sim = start(config, &clock).await;
    get_ip(&sim, "8.8.8.8").await;
    get_ip(&sim, "1.1.1.1").await;

    let (refused, body) = get_ip(&sim, "8.8.8.8").await;
    clock.advance(Duration::from_secs(31));
    let (next_day, _) = get_ip(&sim, "8.8.8.8").await;

    assert_eq!(refused, 429);
    assert_eq!(error_code(&body), "QuotaExceededError");
    assert_eq!(next_day, 200);
}

#[tokio::test]
async fn quota_exceeded_mode_refuses_every_call_until_switched_off() {
    let (sim, _clock) = start_default().await;

    sim.set_quota_exceeded(true);
    let (during, body) = get_ip(&sim, "8.8.8.8").await;
    sim.set_quota_exceeded(false);
    let (after, _) = get_ip(&sim, "8.8.8.8").await;

    assert_eq!((during, error_code(&body)), (429, "QuotaExceededError"));
    assert_eq!(after, 200);
}

#[tokio::test]
async fn an_injected_fault_is_used_times_times_then_normal_answers_resume() {
    let (sim, _clock) = start_default().await;
    let fault = Fault::Status {
        status: 503,
        code: "TransientError".into(),
        message: "try later".into(),
    };
    sim.inject("8.8.8.8", fault, 2);

    let first = get_ip(&sim, "8.8.8.8").await;
    let other = get_ip(&sim, "1.1.1.1").await;
    let second = get_ip(&sim, "8.8.8.8").await;
    let third = get_ip(&sim, "8.8.8.8").await;

    assert_eq!((first.0, error_code(&first.1)), (503, "TransientError"));
    assert_eq!(other.0, 200);
    assert_eq!(second.0, 503);
    assert_eq!(third.0, 200);
    assert_eq!(sim.calls_for("8.8.8.8"), 3);
}

#[tokio::test]
async fn the_body_faults_break_the_answer_the_way_they_say() {
    let (sim, _clock) = start_default().await;
    sim.inject("8.8.8.8", Fault::NotJson, 1);
    sim.inject("8.8.8.8", Fault::WrongTypes, 1);
    sim.inject("8.8.8.8", Fault::TooManyRequests, 1);
    sim.inject("8.8.8.8", Fault::Delay(Duration::from_millis(20)), 1);

    let (html, content_type, text) = get(&sim, "ip_addresses/8.8.8.8", Some(KEY)).await;
    let (_, wrong) = get_ip(&sim, "8.8.8.8").await;
    let (too_many, too_many_body) = get_ip(&sim, "8.8.8.8").await;
    let (delayed, delayed_body) = get_ip(&sim, "8.8.8.8").await;

    assert_eq!((html, content_type.as_str()), (200, "text/html"));
    assert!(serde_json::from_str::<Value>(&text).is_err());
    assert_eq!(wrong["data"]["attributes"]["asn"], "15169");
    assert_eq!(too_many, 429);
    assert_eq!(error_code(&too_many_body), "TooManyRequestsError");
    assert_eq!(delayed, 200);
    assert_eq!(delayed_body["data"]["id"], "8.8.8.8");
}

#[tokio::test]
async fn a_reset_fault_cuts_the_body_short() {
    let (sim, _clock) = start_default().await;
    sim.inject("8.8.8.8", Fault::Reset, 1);
    let url = format!("{}/ip_addresses/8.8.8.8", sim.base_url());

    let (status, body) = tokio::time::timeout(Duration::from_secs(10), async {
        let response = reqwest::Client::new()
            .get(url)
            .header("x-apikey", KEY)
            .send()
            .await
            .expect("the status line arrives");
        (response.status().as_u16(), response.bytes().await)
    })
    .await
    .expect("answer in time");

    assert_eq!(status, 200);
    assert!(body.is_err(), "the body should fail: {body:?}");
    assert_eq!(get_ip(&sim, "8.8.8.8").await.0, 200);
}

#[tokio::test]
async fn overall_quotas_counts_the_calls_it_answered() {
    let clock = ManualClock::new(at("2026-11-22T10:00:00Z"));
    let config = SimulatorConfig {
        per_day: Some(500),
        ..SimulatorConfig::default()
    };
    let sim = start(config, &clock).await;
    for ip in ["8.8.8.8", "1.1.1.1", "9.9.9.9"] {
        get_ip(&sim, ip).await;
    }
    get(&sim, "ip_addresses/8.8.8.8", Some("wrong")).await;

    let (status, _, body) = get(&sim, "users/me/overall_quotas", Some(KEY)).await;

    assert_eq!(status, 200);
    let quotas: Value = serde_json::from_str(&body).unwrap();
    let daily = &quotas["data"]["api_requests_daily"]["user"];
    assert_eq!(
        (daily["allowed"].as_u64(), daily["used"].as_u64()),
        (Some(500), Some(3))
    );
    assert_eq!(quotas["data"]["api_requests_monthly"]["user"]["used"], 3);
    assert_eq!(quotas["data"]["api_requests_hourly"]["user"]["used"], 3);
}

#[tokio::test]
async fn calls_are_recorded_with_the_clock_time_and_status() {
    let start_at = at("2026-11-22T10:00:00Z");
    let clock = ManualClock::new(start_at);
    let sim = start(SimulatorConfig::default(), &clock).await;

    get_ip(&sim, "8.8.8.8").await;
    clock.advance(Duration::from_secs(5));
    get(&sim, "ip_addresses/1.1.1.1", Some("wrong")).await;

    let calls = sim.calls();
    assert_eq!(
        calls,
        vec![
            SimCall {
                ip: "8.8.8.8".into(),
                at: start_at,
                status: 200
            },
            SimCall {
                ip: "1.1.1.1".into(),
                at: start_at + chrono::Duration::seconds(5),
                status: 401
            },
        ]
    );
}

#[test]
fn the_config_never_shows_its_key() {
    let config = SimulatorConfig {
        api_key: "very-secret-key".into(),
        ..SimulatorConfig::default()
    };

    assert!(!format!("{config:?}").contains("very-secret-key"));
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let (sim, _clock) = start_default().await;
    let url = format!("{}/ip_addresses/8.8.8.8", sim.base_url());

    sim.shutdown().await;
    let after = reqwest::Client::new().get(url).send().await;

    assert!(after.is_err());
}
