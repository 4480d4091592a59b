//! Every observable type end to end: one call per distinct public observable in a mixed
//! batch, never one for what must stay local, a file reachable by its other hashes, one call
//! for 64 concurrent lookups of a new domain, and the single-observable routes.

use serde_json::{Value, json};
use vtenrich::observable::PrivateSuffixes;
use vtenrich::virustotal::Endpoint;

use crate::helpers::{Options, TestApp, results, spawn_app_with, spawn_slow_app, statuses};

const EICAR_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";

async fn app_with_private_suffixes() -> TestApp {
    spawn_app_with(Options::default().configure(|s| {
        s.private_suffixes = PrivateSuffixes::parse("corp.example.net").unwrap();
    }))
    .await
}

fn calls_per_endpoint(app: &TestApp) -> Vec<(Endpoint, usize)> {
    Endpoint::ALL
        .into_iter()
        .map(|e| (e, app.sim.call_count(e)))
        .collect()
}

#[tokio::test]
async fn a_mixed_batch_makes_one_call_per_distinct_public_observable_in_input_order() {
    // Arrange: the MD5 answered first, so the batch's SHA-256 of the same file is known.
    let app = app_with_private_suffixes().await;
    let first = app.enrich_ok(json!([EICAR_MD5]), 5_000).await;
    let sha256 = results(&first)[0]["file"]["sha256"]
        .as_str()
        .expect("the file answer names its SHA-256")
        .to_owned();
    let batch = json!([
        "Example.COM",
        "https://example.com/",
        EICAR_MD5,
        sha256.to_ascii_uppercase(),
        "8.8.8.8",
        "printer.local",
        "https://user:secret@example.com/",
        "wiki.corp.example.net",
        "example.com",
    ]);

    // Act
    let body = app.enrich_ok(batch, 5_000).await;

    // Assert
    assert_eq!(
        statuses(&body),
        [
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "not_routable",
            "not_routable",
            "not_routable",
            "ok"
        ]
    );
    let r = results(&body);
    let kinds: Vec<&str> = r.iter().map(|x| x["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "domain", "url", "file", "file", "ip", "domain", "url", "domain", "domain"
        ]
    );
    assert_eq!(r[3]["observable"], sha256, "stored lower case");
    assert_eq!(r[3]["source"], "cache", "the SHA-256 costs nothing");
    assert_eq!(r[2]["source"], "cache");
    assert_eq!(
        calls_per_endpoint(&app),
        [
            (Endpoint::IpAddresses, 1),
            (Endpoint::Domains, 1),
            (Endpoint::Urls, 1),
            (Endpoint::Files, 1)
        ],
        "one call per distinct public observable: {:?}",
        app.sim.lookups()
    );
    assert_eq!(body["summary"]["upstream_calls"], 3);
    for (i, says) in [(5, "RFC 6762"), (6, "credentials"), (7, "private_suffixes")] {
        let message = r[i]["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
        assert!(r[i]["link"].is_null(), "never sent, no page: {}", r[i]);
        assert!(!message.contains("secret"), "{message}");
    }
    assert!(
        r[0]["domain"].is_object() && r[0]["geo"].is_null(),
        "{}",
        r[0]
    );
    assert!(r[1]["url"].is_object(), "{}", r[1]);
    assert_eq!(
        r[0]["link"],
        "https://www.virustotal.com/gui/domain/example.com"
    );
}

#[tokio::test]
async fn sixty_four_concurrent_lookups_of_one_new_domain_make_one_call() {
    // Arrange: a slow upstream, so every request arrives while the first call is in flight.
    let app = spawn_slow_app().await;

    // Act
    let requests = (0..64).map(|i| {
        let app = &app;
        async move {
            if i % 2 == 0 {
                app.get_json("/v1/domain/github.com").await.1
            } else {
                let body = app.enrich_ok(json!(["GitHub.com."]), 5_000).await;
                body["results"][0].clone()
            }
        }
    });
    let answers: Vec<Value> = futures::future::join_all(requests).await;

    // Assert
    assert_eq!(app.sim.total_call_count(), 1, "{:?}", app.sim.lookups());
    for answer in &answers {
        assert_eq!(answer["status"], "ok", "{answer}");
        assert_eq!(answer["observable"], "github.com");
    }
}

#[tokio::test]
async fn the_single_routes_answer_each_type_and_refuse_bad_input_with_a_400() {
    let app = app_with_private_suffixes().await;

    let (_, file) = app.get_json(&format!("/v1/file/{EICAR_MD5}")).await;
    let (_, url) = app
        .get_json("/v1/url?url=https%3A%2F%2Fexample.com%2F")
        .await;
    let (_, private) = app.get_json("/v1/domain/intranet.corp.example.net").await;
    let (status, bad) = app.get_json("/v1/file/abc").await;
    let (no_scheme, _) = app.get_json("/v1/url?url=example.com").await;

    assert_eq!(
        (file["type"].clone(), file["status"].clone()),
        (json!("file"), json!("ok"))
    );
    assert_eq!(file["file"]["md5"], EICAR_MD5);
    assert_eq!(
        (url["type"].clone(), url["status"].clone()),
        (json!("url"), json!("ok"))
    );
    assert_eq!(private["status"], "not_routable");
    assert_eq!(status, 400);
    assert_eq!(bad["error"]["code"], "invalid_observable");
    assert_eq!(no_scheme, 400);
    assert_eq!(app.sim.total_call_count(), 2);
}

/// The value of one sample line (`name{labels} value`) in a Prometheus exposition.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("numeric sample"))
}

#[tokio::test]
async fn observable_and_upstream_metrics_carry_the_type() {
    // Arrange
    let app = app_with_private_suffixes().await;

    // Act: one new observable of each type, an invalid one, a private name, then a hit.
    app.enrich_ok(
        json!([
            "example.com",
            "https://example.com/",
            EICAR_MD5,
            "8.8.8.8",
            "not an observable!",
            "wiki.corp.example.net"
        ]),
        5_000,
    )
    .await;
    app.enrich_ok(json!(["example.com"]), 5_000).await;
    let m = app.get("/metrics").await.1;

    // Assert
    for kind in ["ip", "domain", "url", "file"] {
        let ok = format!(r#"vtenrich_upstream_requests_total{{outcome="ok",type="{kind}"}}"#);
        assert_eq!(sample(&m, &ok), 1.0, "{ok}");
        let fetched = format!(
            r#"vtenrich_observables_total{{source="virustotal",status="ok",type="{kind}"}}"#
        );
        assert_eq!(sample(&m, &fetched), 1.0, "{fetched}");
        let timed = format!(
            r#"vtenrich_upstream_request_duration_seconds_count{{outcome="ok",type="{kind}"}}"#
        );
        assert_eq!(sample(&m, &timed), 1.0, "{timed}");
    }
    let cached = r#"vtenrich_observables_total{source="cache",status="ok",type="domain"}"#;
    assert_eq!(sample(&m, cached), 1.0);
    let invalid = r#"vtenrich_observables_total{source="local",status="invalid",type="unknown"}"#;
    assert_eq!(sample(&m, invalid), 1.0);
    let private =
        r#"vtenrich_observables_total{source="local",status="not_routable",type="domain"}"#;
    assert_eq!(sample(&m, private), 1.0);
}
