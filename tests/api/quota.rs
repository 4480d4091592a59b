//! The quota gate in action: deferral, background fills, VirusTotal's 429 block, stale serving.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use vtenrich::config::CallerSettings;
use vtenrich::http::hash_key;

use crate::helpers::{Options, known_addresses, results, spawn_app_with, statuses};

fn four_per_minute() -> Options {
    Options::default().configure(|s| {
        s.virustotal.rate_per_minute = 4;
        s.virustotal.daily_quota = 500;
    })
}

/// The largest number of calls inside any 60-second interval.
fn busiest_minute(times: &[DateTime<Utc>]) -> usize {
    times
        .iter()
        .map(|start| {
            times
                .iter()
                .filter(|t| **t >= *start && **t < *start + chrono::Duration::seconds(60))
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn ten_new_ips_at_four_per_minute_defer_six_and_fill_them_in_the_background_within_the_rate()
{
    // Arrange
    let app = spawn_app_with(four_per_minute()).await;
    let ips = known_addresses(10);

    // Act: no waiting allowed.
    let body = app.enrich_ok(json!(ips), 0).await;

    // Assert: four calls at once, the rest deferred with a retry hint.
    assert_eq!(app.sim.ip_call_count(), 4);
    let deferred: Vec<_> = results(&body)
        .iter()
        .filter(|r| r["status"] == "deferred")
        .collect();
    assert_eq!(deferred.len(), 6, "{body}");
    for r in &deferred {
        let secs = r["retry_after_secs"].as_u64().expect("retry_after_secs");
        assert!((1..=61).contains(&secs), "{r}");
        assert!(r["source"].is_null());
    }
    let (_, quota) = app.get_json("/v1/quota").await;
    assert_eq!(quota["deferred_queue_depth"], 6, "{quota}");
    assert_eq!(quota["windows"]["minute"]["used"], 4);
    assert_eq!(quota["windows"]["minute"]["remaining"], 0);

    // The background fill waits for the window, then takes four more, then the last two.
    app.settle().await;
    assert_eq!(
        app.sim.ip_call_count(),
        4,
        "nothing may go before the minute passes"
    );
    app.clock.advance(Duration::from_secs(61));
    app.wait_for_calls(8).await;
    app.settle().await;
    assert_eq!(app.sim.ip_call_count(), 8);
    app.clock.advance(Duration::from_secs(61));
    app.wait_for_calls(10).await;

    let times: Vec<_> = app.sim.calls().iter().map(|c| c.at).collect();
    assert!(busiest_minute(&times) <= 4, "{times:?}");
    for ip in &ips {
        assert_eq!(app.sim.calls_for(ip), 1, "{ip}");
    }

    // A later request gets every one from cache.
    let again = app.enrich_ok(json!(ips), 0).await;
    assert!(statuses(&again).iter().all(|s| s == "ok"), "{again}");
    assert_eq!(again["summary"]["by_source"]["cache"], 10);
    assert_eq!(app.sim.ip_call_count(), 10);
}

#[tokio::test]
async fn a_request_that_may_wait_gets_its_slot_when_the_minute_frees_up() {
    let app =
        spawn_app_with(four_per_minute().configure(|s| s.max_wait = Duration::from_secs(120)))
            .await;
    let ips = known_addresses(5);
    app.enrich_ok(json!(ips[..4]), 0).await;

    let waiting = {
        let http = app.http.clone();
        let url = format!("{}/v1/ip/{}?max_wait_ms=120000", app.address, ips[4]);
        tokio::spawn(async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        })
    };
    app.settle().await;
    assert_eq!(app.sim.ip_call_count(), 4);
    app.clock.advance(Duration::from_secs(61));
    let answer = waiting.await.unwrap();

    assert_eq!(answer["status"], "ok", "{answer}");
    assert_eq!(answer["source"], "virustotal");
}

#[tokio::test]
async fn after_a_quota_exceeded_answer_no_call_is_made_until_the_block_ends() {
    // Arrange: 8.8.8.8 cached, then expired (but inside its stale window).
    let app = spawn_app_with(Options::default().configure(|s| {
        s.cache.ttl = Duration::from_secs(3600);
    }))
    .await;
    app.enrich_ok(json!(["8.8.8.8"]), 1_000).await;
    app.clock.advance(Duration::from_secs(3601));
    app.sim.set_quota_exceeded(true);
    let ips = known_addresses(3);

    // Act: the first new address meets the 429, which blocks us.
    let first = app.enrich_ok(json!([ips[0]]), 1_000).await;
    let calls_at_block = app.sim.ip_call_count();
    let second = app.enrich_ok(json!([ips[1], "8.8.8.8"]), 1_000).await;

    // Assert
    assert_eq!(statuses(&first), ["deferred"], "{first}");
    assert_eq!(
        app.sim.ip_call_count(),
        calls_at_block,
        "no call while blocked"
    );
    let r = results(&second);
    assert_eq!(r[0]["status"], "deferred");
    assert_eq!(r[1]["status"], "ok");
    assert_eq!(r[1]["stale"], true, "expired entry served stale: {second}");
    assert_eq!(r[1]["source"], "cache");
    let (_, quota) = app.get_json("/v1/quota").await;
    assert_eq!(quota["blocked"], true, "{quota}");
    assert_eq!(quota["blocked_until"], "2026-11-11T00:00:00Z");

    // When the block ends (midnight UTC), the deferred addresses are filled.
    app.sim.set_quota_exceeded(false);
    app.clock.advance(Duration::from_secs(12 * 3600));
    app.wait_for_calls(calls_at_block + 2).await;
    let later = app.enrich_ok(json!([ips[0], ips[1]]), 0).await;
    assert_eq!(statuses(&later), ["ok", "ok"], "{later}");
}

#[tokio::test]
async fn with_a_user_id_the_used_counts_are_adopted_from_virustotal() {
    // Arrange: another tool spends three calls on the same key, straight at "VirusTotal".
    let app = spawn_app_with(Options::default().configure(|s| {
        s.virustotal.user_id = Some("analyst".into());
        s.virustotal.quota_sync_interval = Duration::from_millis(100);
    }))
    .await;
    for ip in known_addresses(3) {
        let response = app
            .http
            .get(format!("{}/ip_addresses/{ip}", app.sim.base_url()))
            .header("x-apikey", crate::helpers::SIM_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }

    // Act: wait (bounded) for a sync.
    let mut quota = serde_json::Value::Null;
    for _ in 0..100 {
        quota = app.get_json("/v1/quota").await.1;
        if quota["windows"]["day"]["used"] == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Assert
    assert_eq!(quota["windows"]["day"]["used"], 3, "{quota}");
    assert_eq!(quota["windows"]["month"]["used"], 3);
    assert_eq!(quota["counts_source"], "virustotal");
    assert!(quota["synced_at"].is_string());
}

#[tokio::test]
async fn a_full_deferred_queue_says_so_and_counts_the_drop() {
    let app = spawn_app_with(Options::default().configure(|s| {
        s.virustotal.rate_per_minute = 1;
        s.deferred.capacity = 1;
    }))
    .await;

    let body = app.enrich_ok(json!(known_addresses(3)), 0).await;

    let deferred: Vec<&serde_json::Value> = results(&body)
        .iter()
        .filter(|r| r["status"] == "deferred")
        .collect();
    assert_eq!(deferred.len(), 2, "{body}");
    let messages: Vec<&str> = deferred
        .iter()
        .map(|r| r["error"]["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.contains("queued for a background fill"))
            .count(),
        1,
        "{messages:?}"
    );
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.contains("queue is full"))
            .count(),
        1,
        "{messages:?}"
    );
    let metrics = app.get("/metrics").await.1;
    assert!(
        metrics
            .lines()
            .any(|l| l == "vtenrich_deferred_dropped_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_caller_filling_the_deferred_queue_makes_room_for_another_callers_lookups() {
    // Arrange: two callers, one call a minute, room for ten deferred lookups.
    let app = spawn_app_with(Options::default().configure(|s| {
        s.virustotal.rate_per_minute = 1;
        s.deferred.capacity = 10;
        s.callers = vec![
            CallerSettings {
                id: "flood".into(),
                key_sha256: vec![hash_key("flood-key")],
                ..CallerSettings::default()
            },
            CallerSettings {
                id: "analyst".into(),
                key_sha256: vec![hash_key("analyst-key")],
                ..CallerSettings::default()
            },
        ];
    }))
    .await;
    let ips = known_addresses(33);
    let enrich_as = |key: &'static str, observables: &[String]| {
        app.http
            .post(format!("{}/v1/enrich", app.address))
            .bearer_auth(key)
            .json(&json!({"observables": observables, "max_wait_ms": 0}))
            .send()
    };
    let flood = enrich_as("flood-key", &ips[..30]).await.unwrap();
    assert_eq!(flood.status().as_u16(), 200);
    let dropped_by_the_flood = dropped(&app).await;

    // Act
    let analyst = enrich_as("analyst-key", &ips[30..]).await.unwrap();
    let body: serde_json::Value = analyst.json().await.unwrap();

    // Assert: every lookup of the analyst is queued, each in place of one of the flood's.
    let r = results(&body);
    assert_eq!(r.len(), 3);
    for item in r {
        assert_eq!(item["status"], "deferred", "{body}");
        let message = item["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("queued for a background fill"),
            "{message}"
        );
    }
    assert_eq!(dropped_by_the_flood, 29 - 10, "the flood's overflow");
    assert_eq!(dropped(&app).await, dropped_by_the_flood + 3);
    let quota: serde_json::Value = app
        .http
        .get(format!("{}/v1/quota", app.address))
        .bearer_auth("analyst-key")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(quota["deferred_queue_depth"], 10, "{quota}");
}

/// `vtenrich_deferred_dropped_total` (`/metrics` stays open without a key).
async fn dropped(app: &crate::helpers::TestApp) -> u64 {
    app.get("/metrics")
        .await
        .1
        .lines()
        .find_map(|l| {
            l.strip_prefix("vtenrich_deferred_dropped_total ")?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_single_node_reports_its_counts_as_local() {
    let app = spawn_app_with(four_per_minute()).await;

    let quota = app.get_json("/v1/quota").await.1;

    assert_eq!(quota["counts_source"], "local", "{quota}");
    assert!(quota["synced_at"].is_null());
}
