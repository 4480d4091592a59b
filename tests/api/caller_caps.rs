//! Charging, daily caps, the interactive reserve and the RateLimit headers, seen through the
//! HTTP API with callers from the configuration; the simulator's call log is the oracle.

use std::time::Duration;

use serde_json::{Value, json};
use vtenrich::caller::CallerPriority;
use vtenrich::config::CallerSettings;
use vtenrich::http::hash_key;
use vtenrich::simulator::SimulatorConfig;

use crate::helpers::{Options, SIM_KEY, TestApp, known_addresses, results, spawn_app_with};

/// Seconds from the harness's clock (12:00 UTC) to the next UTC midnight.
const TO_MIDNIGHT: u64 = 12 * 3600;

fn caller(id: &str, cap: Option<u64>, priority: CallerPriority) -> CallerSettings {
    CallerSettings {
        id: id.into(),
        key_sha256: vec![hash_key(&key_of(id))],
        daily_cap: cap,
        priority,
        ..CallerSettings::default()
    }
}

fn key_of(id: &str) -> String {
    format!("key-of-{id}")
}

async fn app_with(callers: Vec<CallerSettings>, latency: Duration) -> TestApp {
    spawn_app_with(
        Options {
            sim: SimulatorConfig {
                api_key: SIM_KEY.to_owned(),
                latency,
                ..SimulatorConfig::default()
            },
            ..Options::default()
        }
        .configure(move |s| s.callers = callers),
    )
    .await
}

/// `POST /v1/enrich` as `id`: the status, the headers and the body.
async fn enrich_as(
    app: &TestApp,
    id: &str,
    ips: &[String],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = app
        .http
        .post(format!("{}/v1/enrich", app.address))
        .header("x-api-key", key_of(id))
        .json(&json!({"observables": ips, "max_wait_ms": 0}))
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.json().await.unwrap())
}

/// `GET path` as `id`.
async fn get_as(app: &TestApp, id: &str, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = app
        .http
        .get(format!("{}{path}", app.address))
        .header("x-api-key", key_of(id))
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.json().await.unwrap())
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn refused(body: &Value) -> Vec<&Value> {
    results(body)
        .iter()
        .filter(|r| r["error"]["code"] == "caller_quota_exceeded")
        .collect()
}

#[tokio::test]
async fn two_callers_asking_for_the_same_new_address_at_once_cause_one_call_charged_to_one_of_them()
{
    // Arrange: a slow upstream, so both requests arrive while the call is under way.
    let app = app_with(
        vec![
            caller("siem", None, CallerPriority::Interactive),
            caller("soar", None, CallerPriority::Interactive),
        ],
        Duration::from_millis(300),
    )
    .await;
    let ip = known_addresses(1).remove(0);

    // Act
    let path = format!("/v1/ip/{ip}");
    let (a, b) = tokio::join!(get_as(&app, "siem", &path), get_as(&app, "soar", &path));

    // Assert
    assert_eq!(
        (a.2["status"].as_str(), b.2["status"].as_str()),
        (Some("ok"), Some("ok"))
    );
    assert_eq!(app.sim.calls_for(&ip), 1, "{:?}", app.sim.calls());
    let series = |id: &str| format!("vtenrich_caller_upstream_calls_total{{caller=\"{id}\"}}");
    let siem = app.metric(&series("siem")).await.unwrap_or(0.0);
    let soar = app.metric(&series("soar")).await.unwrap_or(0.0);
    assert_eq!(siem + soar, 1.0, "siem {siem}, soar {soar}");
}

#[tokio::test]
async fn a_caller_with_a_cap_of_two_gets_two_calls_and_three_refusals_and_its_cache_hits_still_answer()
 {
    // Arrange: one address is already cached (fetched by another caller).
    let app = app_with(
        vec![
            caller("soar", Some(2), CallerPriority::Interactive),
            caller("analyst", None, CallerPriority::Interactive),
        ],
        Duration::ZERO,
    )
    .await;
    let ips = known_addresses(8);
    let (cached, new, others) = (&ips[0], &ips[1..6], &ips[6..8]);
    enrich_as(&app, "analyst", std::slice::from_ref(cached)).await;
    let before = app.sim.ip_call_count();

    // Act
    let mut asked = new.to_vec();
    asked.push(cached.clone());
    let (status, headers, body) = enrich_as(&app, "soar", &asked).await;
    let (_, _, others_body) = enrich_as(&app, "analyst", others).await;
    let (_, _, again) = enrich_as(&app, "soar", &asked).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(
        app.sim.ip_call_count() - before,
        2 + 2,
        "soar's two, analyst's two"
    );
    let refusals = refused(&body);
    assert_eq!(refusals.len(), 3, "{body}");
    for item in &refusals {
        assert_eq!(item["status"], "error");
        assert_eq!(item["retry_after_secs"], TO_MIDNIGHT);
    }
    assert_eq!(results(&body)[5]["status"], "ok", "the cached address");
    assert_eq!(results(&body)[5]["source"], "cache");
    assert_eq!(body["summary"]["upstream_calls"], 2);
    assert!(
        header(&headers, "retry-after").is_none(),
        "two of the new observables were answered"
    );
    assert!(
        results(&others_body).iter().all(|r| r["status"] == "ok"),
        "{others_body}"
    );
    let answered_again = results(&again)
        .iter()
        .filter(|r| r["status"] == "ok")
        .count();
    assert_eq!(
        answered_again, 3,
        "the two fetched and the cached one: {again}"
    );
    assert_eq!(
        refused(&again).len(),
        3,
        "no call spent past the cap: {again}"
    );
    assert_eq!(app.sim.ip_call_count() - before, 4);
    let (_, _, quota) = get_as(&app, "analyst", "/v1/quota").await;
    assert_eq!(
        quota["deferred_queue_depth"], 0,
        "refusals are never deferred"
    );
    let series = "vtenrich_caller_refused_total{caller=\"soar\",reason=\"cap\"}";
    assert_eq!(app.metric(series).await, Some(6.0));
    let used = "vtenrich_caller_daily_used{caller=\"soar\"}";
    assert_eq!(app.metric(used).await, Some(2.0));
}

#[tokio::test]
async fn a_refused_single_lookup_and_an_all_refused_batch_carry_retry_after() {
    let app = app_with(
        vec![caller("soar", Some(1), CallerPriority::Interactive)],
        Duration::ZERO,
    )
    .await;
    let ips = known_addresses(4);
    enrich_as(&app, "soar", &ips[..1]).await;

    let (status, single, body) = get_as(&app, "soar", &format!("/v1/ip/{}", ips[1])).await;
    let (_, batch, _) = enrich_as(
        &app,
        "soar",
        &[ips[0].clone(), ips[2].clone(), ips[3].clone()],
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(body["error"]["code"], "caller_quota_exceeded");
    let midnight = TO_MIDNIGHT.to_string();
    assert_eq!(header(&single, "retry-after"), Some(midnight.as_str()));
    assert_eq!(
        header(&batch, "retry-after"),
        Some(midnight.as_str()),
        "a cache hit is not a new observable"
    );
}

#[tokio::test]
async fn every_authenticated_answer_carries_the_callers_daily_budget_as_ratelimit_headers() {
    // Arrange
    let app = app_with(
        vec![
            caller("soar", Some(300), CallerPriority::Interactive),
            caller("analyst", None, CallerPriority::Interactive),
        ],
        Duration::ZERO,
    )
    .await;
    let ips = known_addresses(3);

    // Act
    let (_, spent, _) = enrich_as(&app, "soar", &ips[..2]).await;
    let (_, single, _) = get_as(&app, "soar", &format!("/v1/ip/{}", ips[2])).await;
    let (_, quota, _) = get_as(&app, "soar", "/v1/quota").await;
    let (_, uncapped, _) = get_as(&app, "analyst", "/v1/quota").await;
    let health = app.get("/livez").await;

    // Assert
    assert_eq!(
        header(&spent, "ratelimit-policy"),
        Some("\"daily\";q=300;w=86400")
    );
    assert_eq!(header(&spent, "ratelimit"), Some("\"daily\";r=298;t=43200"));
    assert_eq!(
        header(&single, "ratelimit"),
        Some("\"daily\";r=297;t=43200")
    );
    assert_eq!(header(&quota, "ratelimit"), Some("\"daily\";r=297;t=43200"));
    assert!(header(&quota, "retry-after").is_none());
    assert_eq!(
        header(&uncapped, "ratelimit-policy"),
        Some("\"daily\";q=100000;w=86400"),
        "without a cap: the key's daily quota"
    );
    assert_eq!(
        header(&uncapped, "ratelimit"),
        Some("\"daily\";r=99997;t=43200")
    );
    assert_eq!(health.0, 200);
}

#[tokio::test]
async fn bulk_callers_stop_at_the_reserve_while_an_interactive_caller_still_gets_calls() {
    // Arrange: 10 calls a day, the last 3 kept for interactive callers.
    let app = spawn_app_with(Options::default().configure(|s| {
        s.callers = vec![
            caller("webhook", None, CallerPriority::Bulk),
            caller("analyst", None, CallerPriority::Interactive),
        ];
        s.virustotal.daily_quota = 10;
        s.reserve_interactive = Some(3);
    }))
    .await;
    let ips = known_addresses(13);

    // Act
    let (_, bulk_headers, storm) = enrich_as(&app, "webhook", &ips[..10]).await;
    let (_, _, analyst) = enrich_as(&app, "analyst", &ips[10..13]).await;

    // Assert
    let answered = results(&storm)
        .iter()
        .filter(|r| r["status"] == "ok")
        .count();
    let deferred: Vec<&Value> = results(&storm)
        .iter()
        .filter(|r| r["status"] == "deferred")
        .collect();
    assert_eq!((answered, deferred.len()), (7, 3), "{storm}");
    assert!(
        deferred[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("kept for interactive callers"),
        "{}",
        deferred[0]
    );
    assert_eq!(
        header(&bulk_headers, "ratelimit"),
        Some("\"daily\";r=0;t=43200")
    );
    assert!(
        results(&analyst).iter().all(|r| r["status"] == "ok"),
        "{analyst}"
    );
    assert_eq!(app.sim.ip_call_count(), 10);
    let series = "vtenrich_caller_refused_total{caller=\"webhook\",reason=\"reserve\"}";
    assert_eq!(app.metric(series).await, Some(3.0));
}
