//! Tests of the simulator's domain, URL and file answers over real HTTP on a loopback port.

use std::time::Duration;

use serde_json::Value;

use super::tests::{KEY, at, error_code, fixture, get, get_ip, kind, start, start_default};
use super::*;
use crate::clock::ManualClock;
use crate::observable::Observable;
use crate::virustotal::{
    Target, VtError, parse_domain_report, parse_file_report, parse_url_report,
};

const EICAR_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";

async fn get_json(sim: &Simulator, path: &str) -> (u16, Value) {
    let (status, _, body) = get(sim, path, Some(KEY)).await;
    (status, serde_json::from_str(&body).expect("JSON body"))
}

/// The path VirusTotal is asked at for `text`, as the client builds it.
fn path_of(text: &str) -> String {
    let target = Target::of(&Observable::infer(text).expect("test observable"));
    format!("{}/{}", target.endpoint.name(), target.id)
}

#[tokio::test]
async fn known_objects_have_the_real_answers_shape_for_every_field_we_read() {
    let (sim, _clock) = start_default().await;
    let cases = [
        (
            "example.com",
            "domain_example.com_2026-07_paidkey.json",
            &[
                "registrar",
                "creation_date",
                "categories",
                "last_dns_records",
                "popularity_ranks",
                "tld",
            ][..],
        ),
        (
            "http://example.com/",
            "url_http_example.com_2026-07_paidkey.json",
            &[
                "url",
                "last_final_url",
                "last_http_response_code",
                "title",
                "categories",
                "tld",
                "first_submission_date",
            ][..],
        ),
        (
            EICAR_MD5,
            "file_eicar_by_md5_2026-07_paidkey.json",
            &[
                "md5",
                "sha1",
                "sha256",
                "size",
                "type_description",
                "meaningful_name",
                "names",
                "popular_threat_classification",
                "first_submission_date",
            ][..],
        ),
    ];
    for (text, file, own_fields) in cases {
        let real = fixture(file);

        let (status, ours) = get_json(&sim, &path_of(text)).await;

        assert_eq!(status, 200, "{text}");
        assert_eq!(ours["data"]["type"], real["data"]["type"], "{text}");
        assert_eq!(
            ours["data"]["id"], real["data"]["id"],
            "{text}: the id VirusTotal uses"
        );
        let (ours, real) = (&ours["data"]["attributes"], &real["data"]["attributes"]);
        let shared = [
            "reputation",
            "total_votes",
            "tags",
            "last_analysis_date",
            "last_analysis_stats",
            "last_analysis_results",
        ];
        for field in shared.iter().chain(own_fields) {
            assert_eq!(
                kind(&ours[field]),
                kind(&real[field]),
                "{text}: type of {field}"
            );
        }
    }
}

#[tokio::test]
async fn every_answer_parses_and_some_ids_are_unknown_as_at_virustotal() {
    let (sim, _clock) = start_default().await;
    let mut unknown = [0; 3];
    for i in 0..40 {
        let texts = [
            format!("host{i}.example.net"),
            format!("https://site{i}.example.org/page?id={i}"),
            format!("{:032x}", 0x5eed_0000_u128 + i),
        ];
        for (slot, text) in texts.iter().enumerate() {
            let (status, _, body) = get(&sim, &path_of(text), Some(KEY)).await;
            if status == 404 {
                let error: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(error_code(&error), "NotFoundError", "{text}");
                unknown[slot] += 1;
                continue;
            }
            assert_eq!(status, 200, "{text}");
            let parsed = match slot {
                0 => parse_domain_report(body.as_bytes()).map(|r| r.analysis),
                1 => parse_url_report(body.as_bytes()).map(|r| r.analysis),
                _ => parse_file_report(body.as_bytes()).map(|r| r.analysis),
            };
            assert!(parsed.is_ok_and(|a| a.stats.is_some()), "{text}");
        }
    }

    for (slot, count) in unknown.iter().enumerate() {
        assert!(
            (1..40).contains(count),
            "type {slot}: {count} of 40 unknown"
        );
    }
}

#[tokio::test]
async fn the_same_id_always_gets_the_same_object() {
    let (first, _c1) = start_default().await;
    let (second, _c2) = start_default().await;
    for path in [
        path_of("github.com"),
        path_of("https://www.youtube.com/"),
        path_of(EICAR_MD5),
    ] {
        let a = get_json(&first, &path).await;
        let b = get_json(&first, &path).await;
        let c = get_json(&second, &path).await;

        assert_eq!(a, b, "{path}");
        assert_eq!(a, c, "{path}");
    }
}

#[tokio::test]
async fn asking_by_a_hash_an_answer_showed_returns_the_same_file() {
    let (sim, _clock) = start_default().await;
    let md5 = (0..)
        .map(|i| format!("{:032x}", 0xf11e_0000_u128 + i))
        .find(|md5| objects::known_for_test(md5))
        .expect("some generated file is known");

    let (status, by_md5) = get_json(&sim, &format!("files/{md5}")).await;
    let sha256 = by_md5["data"]["attributes"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let sha1 = by_md5["data"]["attributes"]["sha1"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_sha256 = get_json(&sim, &format!("files/{}", sha256.to_uppercase())).await;
    let by_sha1 = get_json(&sim, &format!("files/{sha1}")).await;

    assert_eq!(status, 200);
    assert_eq!(by_md5["data"]["attributes"]["md5"], md5.as_str());
    assert_eq!(by_sha256, (200, by_md5.clone()));
    assert_eq!(by_sha1, (200, by_md5));
}

#[tokio::test]
async fn the_real_eicar_hashes_name_one_detected_file() {
    let (sim, _clock) = start_default().await;

    let (_, by_md5) = get_json(&sim, &format!("files/{EICAR_MD5}")).await;
    let report = parse_file_report(by_md5.to_string().as_bytes()).unwrap();

    assert_eq!(
        report.sha256.as_deref(),
        Some("275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f")
    );
    assert!(report.analysis.stats.unwrap().malicious >= 4);
    assert!(report.threat.is_some());
}

#[tokio::test]
async fn malformed_ids_get_virustotals_errors() {
    let (sim, _clock) = start_default().await;

    let bad_domain = get_json(&sim, "domains/bad_name.com").await;
    let bad_url = get_json(&sim, "urls/%21%21%21").await;
    let bad_hash = get_json(&sim, "files/not-a-valid-hash").await;

    assert_eq!(
        (bad_domain.0, error_code(&bad_domain.1)),
        (400, "InvalidArgumentError")
    );
    assert_eq!(
        (bad_url.0, error_code(&bad_url.1)),
        (400, "InvalidArgumentError")
    );
    let real = fixture("errors_and_headers/error_404_NotFoundError_malformed_hash_2026-07.json");
    assert_eq!(bad_hash, (404, real));
}

#[tokio::test]
async fn new_types_share_the_quota_with_ip_calls() {
    // Arrange
    let clock = ManualClock::new(at("2026-11-22T10:00:00Z"));
    let config = SimulatorConfig {
        per_minute: Some(2),
        ..SimulatorConfig::default()
    };
    let sim = start(config, &clock).await;

    // Act
    let ip = get_ip(&sim, "8.8.8.8").await.0;
    let domain = get_json(&sim, &path_of("example.com")).await.0;
    let (file, refusal) = get_json(&sim, &path_of(EICAR_MD5)).await;
    let (_, _, usage) = get(&sim, "users/me/overall_quotas", Some(KEY)).await;
    clock.advance(Duration::from_secs(60));
    let after_a_minute = get_json(&sim, &path_of(EICAR_MD5)).await.0;

    // Assert
    assert_eq!((ip, domain, file), (200, 200, 429));
    assert_eq!(error_code(&refusal), "QuotaExceededError");
    let usage: Value = serde_json::from_str(&usage).unwrap();
    assert_eq!(usage["data"]["api_requests_daily"]["user"]["used"], 2);
    assert_eq!(after_a_minute, 200);
}

#[tokio::test]
async fn quota_exceeded_mode_and_a_wrong_key_refuse_the_new_types_too() {
    let (sim, _clock) = start_default().await;
    let path = path_of("github.com");

    sim.set_quota_exceeded(true);
    let during = get_json(&sim, &path).await;
    sim.set_quota_exceeded(false);
    let (wrong_key, _, _) = get(&sim, &path, Some("wrong")).await;

    assert_eq!(
        (during.0, error_code(&during.1)),
        (429, "QuotaExceededError")
    );
    assert_eq!(wrong_key, 401);
}

#[tokio::test]
async fn lookups_are_recorded_per_endpoint_with_their_status() {
    let (sim, _clock) = start_default().await;
    let url_path = path_of("http://example.com/");
    let url_id = url_path.trim_start_matches("urls/").to_owned();

    get_json(&sim, &path_of("example.com")).await;
    get_json(&sim, &url_path).await;
    get_json(&sim, &url_path).await;
    get_json(&sim, "files/not-a-valid-hash").await;
    get_ip(&sim, "8.8.8.8").await;

    assert_eq!(sim.call_count(Endpoint::Domains), 1);
    assert_eq!(sim.call_count(Endpoint::Urls), 2);
    assert_eq!(sim.call_count(Endpoint::Files), 1);
    assert_eq!(sim.call_count(Endpoint::IpAddresses), 1);
    assert_eq!(sim.lookups_for(Endpoint::Urls, &url_id), 2);
    let last = sim.lookups().pop().unwrap();
    assert_eq!(
        last,
        SimLookup {
            endpoint: Endpoint::Files,
            id: "not-a-valid-hash".into(),
            at: at("2026-11-22T10:00:00Z"),
            status: 404,
        }
    );
}

#[tokio::test]
async fn an_injected_fault_applies_to_its_object_then_normal_answers_resume() {
    let (sim, _clock) = start_default().await;
    sim.inject_at(Endpoint::Domains, "github.com", Fault::WrongTypes, 1);
    sim.inject_at(Endpoint::Domains, "github.com", Fault::TooManyRequests, 1);

    let (_, _, broken) = get(&sim, "domains/github.com", Some(KEY)).await;
    let (limited, body) = get_json(&sim, "domains/github.com").await;
    let (_, _, normal) = get(&sim, "domains/github.com", Some(KEY)).await;

    assert!(matches!(
        parse_domain_report(broken.as_bytes()),
        Err(VtError::Malformed(_))
    ));
    assert_eq!((limited, error_code(&body)), (429, "TooManyRequestsError"));
    assert!(parse_domain_report(normal.as_bytes()).is_ok());
}
