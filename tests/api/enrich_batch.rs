//! Batch enrichment: order, de-duplication, local decisions, caching, rendering.

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    Options, fixture, results, spawn_app, spawn_app_with, statuses, unknown_address,
};

#[tokio::test]
async fn a_mixed_batch_makes_one_call_per_distinct_routable_address_and_keeps_input_order() {
    // Arrange
    let app = spawn_app().await;
    let batch = json!([
        "8.8.8.8",
        "10.1.2.3",
        " 8.8.8.8 ",
        "192.0.2.44",
        "not an ip",
        {"type": "ip", "value": "8.8.8.8"},
        "::ffff:1.1.1.1",
    ]);

    // Act
    let body = app.enrich_ok(batch, 5_000).await;

    // Assert
    assert_eq!(
        statuses(&body),
        [
            "ok",
            "not_routable",
            "ok",
            "not_routable",
            "invalid",
            "ok",
            "ok"
        ]
    );
    assert_eq!(app.sim.calls_for("8.8.8.8"), 1);
    assert_eq!(app.sim.calls_for("1.1.1.1"), 1);
    assert_eq!(app.sim.ip_call_count(), 2, "{:?}", app.sim.calls());
    let r = results(&body);
    assert_eq!(
        r[6]["observable"], "1.1.1.1",
        "IPv4-mapped form is canonicalised"
    );
    assert_eq!(r[6]["input"], "::ffff:1.1.1.1");
    assert_eq!(r[2]["observable"], "8.8.8.8");
    assert_eq!(r[1]["source"], "local");
    assert_eq!(r[1]["error"]["code"], "not_routable");
    assert_eq!(r[4]["error"]["code"], "invalid_observable");
    assert_eq!(r[4]["type"], serde_json::Value::Null);
    assert_eq!(body["summary"]["upstream_calls"], 2);
    assert_eq!(body["summary"]["total"], 7);
    assert_eq!(body["summary"]["by_status"]["ok"], 4);
    assert_eq!(body["summary"]["by_status"]["not_routable"], 2);
    assert_eq!(body["summary"]["by_status"]["invalid"], 1);
    assert_eq!(body["summary"]["by_source"]["local"], 3);
    assert_eq!(body["summary"]["by_source"]["virustotal"], 4);
}

#[tokio::test]
async fn a_repeated_batch_is_answered_from_cache_with_no_upstream_call() {
    let app = spawn_app().await;
    let unknown = unknown_address();
    let batch = json!(["8.8.8.8", unknown, "2001:4860:4860::8888"]);
    let first = app.enrich_ok(batch.clone(), 5_000).await;
    assert_eq!(statuses(&first), ["ok", "not_found", "ok"]);
    let calls_after_first = app.sim.ip_call_count();
    assert_eq!(calls_after_first, 3);

    let second = app.enrich_ok(batch, 5_000).await;

    assert_eq!(
        app.sim.ip_call_count(),
        calls_after_first,
        "no new upstream call"
    );
    assert_eq!(statuses(&second), ["ok", "not_found", "ok"]);
    for r in results(&second) {
        assert_eq!(r["source"], "cache");
        assert_eq!(r["stale"], false);
    }
    assert_eq!(second["summary"]["upstream_calls"], 0);
    assert_eq!(second["summary"]["by_source"]["cache"], 3);
}

#[tokio::test]
async fn an_expired_entry_is_fetched_again() {
    let app = spawn_app_with(
        Options::default().configure(|s| s.cache.ttl = std::time::Duration::from_secs(60)),
    )
    .await;
    app.enrich_ok(json!(["8.8.8.8"]), 5_000).await;
    app.clock.advance(std::time::Duration::from_secs(61));

    let body = app.enrich_ok(json!(["8.8.8.8"]), 5_000).await;

    assert_eq!(app.sim.calls_for("8.8.8.8"), 2);
    assert_eq!(results(&body)[0]["source"], "virustotal");
}

#[tokio::test]
async fn a_single_lookup_returns_the_full_result_object() {
    let app = spawn_app().await;

    let (status, body) = app.get_json("/v1/ip/2001:4860:4860:0:0:0:0:8888").await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["observable"], "2001:4860:4860::8888");
    assert_eq!(body["type"], "ip");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["source"], "virustotal");
    assert_eq!(body["network"]["asn"], 15169);
    assert_eq!(body["geo"]["country"]["iso_code"], "US");
    assert_eq!(
        body["link"],
        "https://www.virustotal.com/gui/ip-address/2001:4860:4860::8888"
    );
    for field in [
        "verdict",
        "verdict_reason",
        "malicious",
        "harmless",
        "community_score",
        "votes",
    ] {
        assert!(
            !body["reputation"][field].is_null(),
            "reputation.{field} missing: {body}"
        );
    }
    assert!(
        body["fetched_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
}

#[tokio::test]
async fn a_real_virustotal_answer_is_rendered_with_local_country_and_continent_names() {
    // Arrange: vtenrich in front of wiremock serving a real capture.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/ip_addresses/1.1.1.1"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixture("ip_1.1.1.1_cloudflare_2019-09.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let app = spawn_app_with(Options {
        base_url: Some(format!("{}/api/v3", server.uri())),
        ..Options::default()
    })
    .await;

    // Act
    let (status, body) = app.get_json("/v1/ip/1.1.1.1").await;

    // Assert: the 2019 format lacks stats, tags and analysis dates: null, not an error.
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(
        body["geo"]["country"],
        json!({"iso_code": "AU", "name": "Australia"})
    );
    assert_eq!(
        body["geo"]["continent"],
        json!({"code": "OC", "name": "Oceania"})
    );
    assert_eq!(
        body["network"],
        json!({"asn": 13335, "as_owner": "Cloudflare, Inc.", "cidr": "1.1.1.0/24", "rir": "APNIC"})
    );
    assert_eq!(body["reputation"]["verdict"], "unknown");
    assert_eq!(body["reputation"]["malicious"], serde_json::Value::Null);
    assert_eq!(body["reputation"]["tags"], serde_json::Value::Null);
    assert_eq!(
        body["reputation"]["votes"],
        json!({"harmless": 1, "malicious": 1})
    );
}
