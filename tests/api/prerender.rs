//! Pre-rendered answers: a result written from the entry's pre-rendered part is byte for byte
//! the JSON of the result rendered the slow way (`ResultBody::render` through serde_json), for
//! every VirusTotal fixture of every type and every status, stale included, alone and in a
//! batch, on first use and from the rendered part, and under a changed verdict policy.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use vtenrich::answer::{Answer, Entry};
use vtenrich::enrich::{BatchResult, ItemError, ItemResult, Outcome, Source};
use vtenrich::http::{EnrichResponse, ResultBody, batch_json, result_json};
use vtenrich::observable::{Observable, ObservableType, PrivateSuffixes, not_routable};
use vtenrich::quota::DenyReason;
use vtenrich::report::{Report, VerdictPolicy};
use vtenrich::virustotal::{
    parse_domain_report, parse_file_report, parse_ip_report, parse_url_report,
};

use crate::helpers::{fixture, fixtures_dir, test_epoch};

/// Every answer fixture (top level and `extra/`) with its type.
fn fixtures() -> Vec<(String, ObservableType, Report)> {
    let mut found = Vec::new();
    for sub in ["", "extra"] {
        for entry in std::fs::read_dir(fixtures_dir().join(sub)).expect("fixtures list") {
            let name = entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            if !name.ends_with(".json") {
                continue;
            }
            let file = if sub.is_empty() {
                name.clone()
            } else {
                format!("{sub}/{name}")
            };
            let body = fixture(&file);
            let parsed = if name.starts_with("ip_") {
                parse_ip_report(&body).map(|r| (ObservableType::Ip, Report::from(r)))
            } else if name.starts_with("domain_") {
                parse_domain_report(&body).map(|r| (ObservableType::Domain, Report::from(r)))
            } else if name.starts_with("url_") {
                parse_url_report(&body).map(|r| (ObservableType::Url, Report::from(r)))
            } else if name.starts_with("file_") {
                parse_file_report(&body).map(|r| (ObservableType::File, Report::from(r)))
            } else {
                continue;
            };
            let (kind, report) = parsed.unwrap_or_else(|e| panic!("{file}: {e}"));
            found.push((file, kind, report));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// Observables of `kind` asked in different spellings (the echoed input differs from the
/// canonical form; a file is asked by each of its hash kinds).
fn observables(kind: ObservableType) -> Vec<(&'static str, Observable)> {
    let texts: &[&'static str] = match kind {
        ObservableType::Ip => &["8.8.8.8", " 2001:4860:4860:0:0:0:0:8888 ", "::ffff:1.1.1.1"],
        ObservableType::Domain => &["Example.COM.", "www.google.com", "bücher.example.net"],
        ObservableType::Url => &[
            "HTTP://Example.com:80/a?b=\"c\"&d=<e>#frag",
            "https://www.youtube.com/",
        ],
        ObservableType::File => &[
            "44D88612FEA8A8F36DE82E1278ABB02F",
            "3395856ce81f2b7382dee72602f798b642f14140",
            "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
        ],
    };
    texts
        .iter()
        .map(|text| {
            let observable = Observable::parse(kind, text)
                .unwrap_or_else(|e| panic!("{text} is a valid {kind}: {e}"));
            (*text, observable)
        })
        .collect()
}

fn entry(answer: Answer, at: DateTime<Utc>) -> Arc<Entry> {
    Arc::new(Entry::new(
        answer,
        at,
        at + Duration::hours(24),
        at + Duration::days(8),
    ))
}

fn error(code: &'static str, message: &str) -> ItemError {
    ItemError {
        code,
        message: message.to_owned(),
    }
}

/// Every outcome an answered entry can be served with: fresh from the cache or from
/// VirusTotal, and stale with the reason (a message needing escapes).
fn answered(entry: &Arc<Entry>) -> Vec<Outcome> {
    vec![
        Outcome::answered(entry.clone(), Source::Cache),
        Outcome::answered(entry.clone(), Source::VirusTotal),
        Outcome::Answered {
            entry: entry.clone(),
            source: Source::Cache,
            stale: true,
            reason: Some(error(
                "upstream_unavailable",
                "VirusTotal answered 503 \"Service Unavailable\"\n\t\u{1F6A8}",
            )),
        },
    ]
}

/// The outcomes that have no entry: each is rendered the slow way, and must still be the same.
fn unanswered() -> Vec<(&'static str, Option<Observable>, Outcome)> {
    let local = Observable::infer("printer.local").expect("a domain");
    let why = not_routable(&local, &PrivateSuffixes::default()).expect("mDNS is never sent");
    let invalid = Observable::infer("not an observable").expect_err("invalid");
    let ip = Observable::infer("9.9.9.9").expect("an IP");
    // A second reason of each local kind, after the first: a batch keeps each reason's rendered
    // end, and must not hand one reason's end to another.
    let private = Observable::infer("10.1.2.3").expect("an IP");
    let range = not_routable(&private, &PrivateSuffixes::default()).expect("RFC 1918");
    let port = Observable::infer("8.8.8.8:53").expect_err("invalid");
    vec![
        ("printer.local", Some(local), Outcome::NotRoutable(why)),
        ("not an observable", None, Outcome::Invalid(invalid)),
        ("10.1.2.3", Some(private), Outcome::NotRoutable(range)),
        ("8.8.8.8:53", None, Outcome::Invalid(port)),
        (
            "9.9.9.9",
            Some(ip.clone()),
            Outcome::Deferred {
                error: error("quota_wait_exceeded", "no quota slot within 0 ms; queued"),
                retry_after_secs: 42,
                reason: DenyReason::Minute,
            },
        ),
        (
            "9.9.9.9",
            Some(ip),
            Outcome::Error {
                error: error("upstream_timeout", "VirusTotal did not answer in time"),
                retry_after_secs: None,
            },
        ),
    ]
}

fn slow(item: &ItemResult, policy: &VerdictPolicy) -> String {
    let json = serde_json::to_vec(&ResultBody::render(item.clone(), policy)).expect("serialises");
    String::from_utf8(json).expect("UTF-8")
}

fn fast(item: &ItemResult, policy: &VerdictPolicy) -> String {
    String::from_utf8(result_json(item.clone(), policy)).expect("UTF-8")
}

/// Every item the tests render: each fixture asked in each spelling with each answered
/// outcome, a not-found answer of each type, and every unanswered status; inputs with quotes,
/// control characters and more than 256 characters.
fn items() -> Vec<(String, ItemResult)> {
    let at = test_epoch();
    let mut items = Vec::new();
    let mut add = |label: String, input: String, observable: Option<Observable>, outcome| {
        items.push((
            label,
            ItemResult {
                input,
                observable,
                outcome,
            },
        ))
    };
    for (file, kind, report) in fixtures() {
        let found = entry(Answer::Found(report), at);
        for (text, observable) in observables(kind) {
            for outcome in answered(&found) {
                let label = format!("{file} asked as {text:?}, {:?}", outcome.status());
                add(label, text.to_owned(), Some(observable.clone()), outcome);
            }
        }
    }
    for kind in [
        ObservableType::Ip,
        ObservableType::Domain,
        ObservableType::Url,
        ObservableType::File,
    ] {
        let missing = entry(Answer::NotFound, at + Duration::milliseconds(1_500));
        for (text, observable) in observables(kind) {
            for outcome in answered(&missing) {
                let label = format!("not found {kind} {text:?}");
                add(label, text.to_owned(), Some(observable.clone()), outcome);
            }
        }
    }
    for (text, observable, outcome) in unanswered() {
        add(
            format!("{:?} {text}", outcome.status()),
            text.to_owned(),
            observable,
            outcome,
        );
    }
    let long = format!("8.8.8.8{}\u{e9}\"\u{0}", " ".repeat(300));
    let ip = Observable::infer("8.8.8.8").expect("an IP");
    let found = entry(Answer::Found(fixtures()[0].2.clone()), at);
    add(
        "a long input".to_owned(),
        long,
        Some(ip),
        Outcome::answered(found, Source::Cache),
    );
    items
}

#[test]
fn a_prerendered_result_is_byte_for_byte_the_slow_rendering_for_every_fixture_and_status() {
    let fixtures = fixtures();
    for kind in ["ip_", "domain_", "url_", "file_"] {
        assert!(
            fixtures.iter().any(|(file, ..)| file.contains(kind)),
            "no {kind} fixture found"
        );
    }
    let policy = VerdictPolicy::default();
    let items = items();
    for (label, item) in &items {
        let want = slow(item, &policy);
        // The first answer renders the entry's part; the second is spliced from it.
        assert_eq!(fast(item, &policy), want, "{label}: first use");
        assert_eq!(
            fast(item, &policy),
            want,
            "{label}: from the pre-rendered part"
        );
    }
    let rendered = items
        .iter()
        .filter(|(_, item)| match &item.outcome {
            Outcome::Answered { entry, .. } => entry.rendered.is_rendered(),
            _ => false,
        })
        .count();
    assert!(rendered > 0, "the fast path was never taken");
}

#[test]
fn a_batch_of_every_status_is_byte_for_byte_the_slow_rendering() {
    let policy = VerdictPolicy::default();
    let batch = BatchResult {
        items: items().into_iter().map(|(_, item)| item).collect(),
        upstream_calls: 3,
    };
    let want = serde_json::to_vec(&EnrichResponse::render(batch.clone(), &policy)).unwrap();
    for round in ["first use", "from the pre-rendered parts"] {
        let got = batch_json(batch.clone(), &policy);
        assert_eq!(
            String::from_utf8(got).unwrap(),
            String::from_utf8(want.clone()).unwrap(),
            "{round}"
        );
    }
}

#[test]
fn a_part_rendered_under_another_verdict_policy_is_not_served() {
    let (file, _, report) = fixtures()
        .into_iter()
        .find(|(file, ..)| file.contains("eicar"))
        .expect("the EICAR fixture");
    let observable = Observable::infer("44d88612fea8a8f36de82e1278abb02f").unwrap();
    let found = entry(Answer::Found(report), test_epoch());
    let item = ItemResult {
        input: observable.canonical(),
        observable: Some(observable),
        outcome: Outcome::answered(found, Source::Cache),
    };
    let default = VerdictPolicy::default();
    let strict = VerdictPolicy {
        malicious_min: 1_000,
        suspicious_min: 1_000,
    };
    let before = fast(&item, &default);
    let after = fast(&item, &strict);
    assert_ne!(before, after, "{file}: the verdict depends on the policy");
    assert_eq!(
        after,
        slow(&item, &strict),
        "{file}: rendered under the new policy"
    );
    assert_eq!(
        fast(&item, &default),
        before,
        "{file}: the old policy still answers"
    );
}
