//! `GET /v1/usage`: three callers make known traffic and the report says exactly that, per
//! caller, route and endpoint, consuming or not (the simulator's call log is the oracle); the
//! CSV says what the JSON says; a user sees itself only; every bad parameter is a 422 naming
//! it; the clock moves the 60-day window; no key or request body ever shows.

use serde_json::{Value, json};
use vtenrich::caller::Role;
use vtenrich::config::CallerSettings;
use vtenrich::http::hash_key;

use crate::helpers::{Options, SIM_KEY, TestApp, known_addresses, spawn_app_with, unknown_address};

const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);

fn key_of(id: &str) -> String {
    format!("usage-key-of-{id}-7f3e")
}

fn caller(id: &str, role: Role, daily_cap: Option<u64>) -> CallerSettings {
    CallerSettings {
        id: id.into(),
        key_sha256: vec![hash_key(&key_of(id))],
        role,
        daily_cap,
        ..CallerSettings::default()
    }
}

async fn app() -> TestApp {
    spawn_app_with(Options::default().configure(|s| {
        s.callers = vec![
            caller("ops", Role::Admin, None),
            caller("soar", Role::User, Some(2)),
            caller("siem", Role::User, None),
            caller("analyst", Role::User, None),
        ];
    }))
    .await
}

async fn enrich_as(app: &TestApp, id: &str, observables: Value) -> Value {
    let response = app
        .http
        .post(format!("{}/v1/enrich", app.address))
        .bearer_auth(key_of(id))
        .json(&json!({"observables": observables, "max_wait_ms": 5000}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn get_as(app: &TestApp, id: &str, path: &str) -> (u16, String) {
    let response = app
        .http
        .get(format!("{}{path}", app.address))
        .bearer_auth(key_of(id))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn usage_as(app: &TestApp, id: &str, query: &str) -> Value {
    let (status, body) = get_as(app, id, &format!("/v1/usage?{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Every row of a JSON report, flattened as the CSV has them:
/// date, caller, route, endpoint, then the counters in the CSV's order.
fn flat_rows(report: &Value) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for day in report["days"].as_array().unwrap() {
        for caller in day["callers"].as_array().unwrap() {
            for row in caller["usage"].as_array().unwrap() {
                let n = |v: &Value| v.as_u64().unwrap().to_string();
                rows.push(vec![
                    day["date"].as_str().unwrap().to_owned(),
                    caller["caller"].as_str().unwrap().to_owned(),
                    row["route"].as_str().unwrap().to_owned(),
                    row["endpoint"].as_str().unwrap().to_owned(),
                    n(&row["requests"]),
                    n(&row["observables"]),
                    n(&row["consuming"]["virustotal_calls"]),
                    n(&row["not_consuming"]["cache"]),
                    n(&row["not_consuming"]["local"]),
                    n(&row["from_virustotal"]),
                    n(&row["deferred"]),
                    n(&row["refused"]["cap"]),
                    n(&row["refused"]["quota"]),
                    n(&row["upstream_errors"]),
                ]);
            }
        }
    }
    rows
}

/// The counters of one row, as (name, value) for readable failures.
fn row<'a>(report: &'a Value, caller: &str, route: &str, endpoint: &str) -> &'a Value {
    report["days"][0]["callers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["caller"] == caller)
        .unwrap_or_else(|| panic!("no usage of {caller}: {report}"))["usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == route && r["endpoint"] == endpoint)
        .unwrap_or_else(|| panic!("no {route} {endpoint} row of {caller}: {report}"))
}

fn counts(requests: u64, observables: u64, calls: u64, cache: u64, local: u64) -> Value {
    json!({
        "requests": requests, "observables": observables,
        "consuming": {"virustotal_calls": calls},
        "not_consuming": {"cache": cache, "local": local},
        "from_virustotal": calls, "deferred": 0,
        "refused": {"cap": 0, "quota": 0}, "upstream_errors": 0,
    })
}

fn with_route(route: &str, endpoint: &str, mut counts: Value) -> Value {
    counts["route"] = json!(route);
    counts["endpoint"] = json!(endpoint);
    counts
}

/// The known traffic: soar (cap 2) asks for three new addresses and a private one, then for
/// one it got and a fourth new one; siem looks one up from the cache and one new one by URL,
/// then a batch with a cached address and a non-address; analyst one address VirusTotal does
/// not know.
async fn known_traffic(app: &TestApp) -> Vec<String> {
    let ips = known_addresses(5);
    let first = enrich_as(app, "soar", json!([ips[0], ips[1], ips[2], "10.0.0.1"])).await;
    let got: Vec<String> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "ok")
        .map(|r| r["observable"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got.len(), 2, "the cap lets two of three through: {first}");
    enrich_as(app, "soar", json!([got[0], ips[3]])).await;
    assert_eq!(
        get_as(app, "siem", &format!("/v1/ip/{}", got[1])).await.0,
        200
    );
    assert_eq!(
        get_as(app, "siem", &format!("/v1/ip/{}", ips[4])).await.0,
        200
    );
    enrich_as(
        app,
        "siem",
        json!([ips[4], "not an observable: body canary"]),
    )
    .await;
    let unknown = unknown_address();
    assert_eq!(
        get_as(app, "analyst", &format!("/v1/ip/{unknown}")).await.0,
        200
    );
    got
}

#[tokio::test]
async fn the_report_says_exactly_what_each_caller_did_consuming_or_not() {
    let app = app().await;
    known_traffic(&app).await;

    let report = usage_as(&app, "ops", "").await;

    let mut soar = counts(2, 6, 2, 1, 1);
    soar["refused"]["cap"] = json!(2);
    assert_eq!(
        *row(&report, "soar", "/v1/enrich", "ip_addresses"),
        with_route("/v1/enrich", "ip_addresses", soar)
    );
    assert_eq!(
        *row(&report, "siem", "/v1/ip/{ip}", "ip_addresses"),
        with_route("/v1/ip/{ip}", "ip_addresses", counts(2, 2, 1, 1, 0))
    );
    assert_eq!(
        *row(&report, "siem", "/v1/enrich", "ip_addresses"),
        with_route("/v1/enrich", "ip_addresses", counts(1, 1, 0, 1, 0))
    );
    assert_eq!(
        *row(&report, "siem", "/v1/enrich", "none"),
        with_route("/v1/enrich", "none", counts(1, 1, 0, 0, 1))
    );
    assert_eq!(
        *row(&report, "analyst", "/v1/ip/{ip}", "ip_addresses"),
        with_route("/v1/ip/{ip}", "ip_addresses", counts(1, 1, 1, 0, 0))
    );
    assert_eq!(flat_rows(&report).len(), 5, "no other rows: {report}");
    let calls = report["totals"]["consuming"]["virustotal_calls"].as_u64();
    assert_eq!(
        calls,
        Some(app.sim.ip_call_count() as u64),
        "the simulator's log"
    );
    assert_eq!(calls, Some(4));
    assert_eq!(report["totals"]["observables"], 11);
    assert_eq!(report["days"][0]["date"], "20261110");
    assert_eq!(
        (report["start_date"].clone(), report["end_date"].clone()),
        (json!("20261012"), json!("20261110"))
    );
    let soar_total = report["callers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["caller"] == "soar")
        .unwrap();
    assert_eq!(soar_total["totals"]["refused"]["cap"], 2);
}

#[tokio::test]
async fn the_csv_export_holds_the_json_rows_with_a_header() {
    let app = app().await;
    known_traffic(&app).await;

    let json = usage_as(&app, "ops", "").await;
    let (status, csv) = get_as(&app, "ops", "/v1/usage?format=csv").await;

    assert_eq!(status, 200);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "date,caller,route,endpoint,requests,observables,consuming_virustotal_calls,\
             not_consuming_cache,not_consuming_local,from_virustotal,deferred,refused_cap,\
             refused_quota,upstream_errors"
        )
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    assert_eq!(rows, flat_rows(&json));
}

#[tokio::test]
async fn a_user_sees_only_itself_and_an_admin_whoever_it_names() {
    let app = app().await;
    known_traffic(&app).await;

    let own = usage_as(&app, "siem", "").await;
    let named_self = usage_as(&app, "siem", "caller=siem").await;
    let (other, body) = get_as(&app, "siem", "/v1/usage?caller=soar").await;
    let soar_for_admin = usage_as(&app, "ops", "caller=soar").await;

    let callers =
        |r: &Value| -> Vec<String> { flat_rows(r).into_iter().map(|row| row[1].clone()).collect() };
    assert!(callers(&own).iter().all(|c| c == "siem") && !callers(&own).is_empty());
    assert_eq!(own, named_self);
    assert_eq!(other, 403, "{body}");
    assert!(body.contains("forbidden"));
    assert!(callers(&soar_for_admin).iter().all(|c| c == "soar"));
    assert_eq!(soar_for_admin["totals"]["consuming"]["virustotal_calls"], 2);
}

#[tokio::test]
async fn every_bad_parameter_is_a_422_naming_it() {
    let app = app().await;
    for (query, named) in [
        ("start_date=2026-11-01", "start_date"),
        ("end_date=202611", "end_date"),
        ("start_date=20261105&end_date=20261101", "end_date"),
        ("start_date=20261010&end_date=20261109", "end_date"),
        ("start_date=20260901", "start_date"),
        ("end_date=20261111", "end_date"),
        ("format=xml", "format"),
        ("caller=NOT-AN-ID", "caller"),
        ("callers=soar", "callers"),
        ("format=csv&format=json", "format"),
    ] {
        let (status, body) = get_as(&app, "ops", &format!("/v1/usage?{query}")).await;
        assert_eq!(status, 422, "{query}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"]["code"], "invalid_parameter", "{query}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{named}`")),
            "{query}: {message}"
        );
    }
}

#[tokio::test]
async fn the_window_moves_with_the_clock_30_days_per_request_and_60_in_all() {
    let app = app().await;
    known_traffic(&app).await;

    app.clock.advance(DAY * 29);
    let still = usage_as(&app, "ops", "").await;
    let (thirty_one, _) = get_as(
        &app,
        "ops",
        "/v1/usage?start_date=20261110&end_date=20261210",
    )
    .await;
    app.clock.advance(DAY);
    let moved_on = usage_as(&app, "ops", "").await;
    let asked = usage_as(&app, "ops", "start_date=20261110&end_date=20261209").await;
    app.clock.advance(DAY * 30);
    let (past_sixty, body) = get_as(
        &app,
        "ops",
        "/v1/usage?start_date=20261110&end_date=20261130",
    )
    .await;
    let last_kept = usage_as(&app, "ops", "start_date=20261111&end_date=20261130").await;

    assert_eq!(
        still["totals"]["consuming"]["virustotal_calls"], 4,
        "day 30 back is in the default"
    );
    assert_eq!(thirty_one, 422, "31 days in one request");
    assert_eq!(
        moved_on["totals"]["observables"], 0,
        "day 31 back is not in the default"
    );
    assert_eq!(
        asked["totals"]["consuming"]["virustotal_calls"], 4,
        "but can be asked for"
    );
    assert_eq!(past_sixty, 422, "the 61st day back: {body}");
    assert!(
        body.contains("`start_date`") && body.contains("60 days"),
        "{body}"
    );
    assert_eq!(last_kept["start_date"], "20261111");
}

#[tokio::test]
async fn no_key_and_no_request_body_is_ever_in_the_usage_output() {
    let app = app().await;
    known_traffic(&app).await;

    let (_, json) = get_as(&app, "ops", "/v1/usage").await;
    let (_, csv) = get_as(&app, "ops", "/v1/usage?format=csv").await;

    assert!(
        json.contains("siem") && csv.contains("siem"),
        "the report is not empty"
    );
    for output in [&json, &csv] {
        for id in ["ops", "soar", "siem", "analyst"] {
            assert!(!output.contains(&key_of(id)), "a caller key leaked");
            assert!(
                !output.contains(&hash_key(&key_of(id))),
                "a key hash leaked"
            );
        }
        assert!(!output.contains(SIM_KEY), "the VirusTotal key leaked");
        assert!(
            !output.contains("not an observable: body canary"),
            "a request body leaked"
        );
        for ip in known_addresses(5) {
            assert!(!output.contains(&ip), "an observable leaked");
        }
    }
}

#[tokio::test]
async fn a_spent_cap_is_audited_once_per_caller_and_day_however_many_refusals() {
    let app = app().await;
    known_traffic(&app).await;
    let more = known_addresses(12);
    enrich_as(&app, "soar", json!(more[5..].to_vec())).await;
    let audit = app.audit.as_ref().unwrap();

    audit.flush().await;
    let (_, body) = get_as(&app, "ops", "/v1/admin/audit?action=caller.cap_exhausted").await;
    app.clock.advance(DAY);
    enrich_as(&app, "soar", json!(more[..3].to_vec())).await;
    enrich_as(&app, "soar", json!(more[9..].to_vec())).await;
    audit.flush().await;
    let (_, next_day) = get_as(&app, "ops", "/v1/admin/audit?action=caller.cap_exhausted").await;

    let entries = |body: &str| {
        serde_json::from_str::<Value>(body).unwrap()["entries"]
            .as_array()
            .unwrap()
            .clone()
    };
    let first = entries(&body);
    assert_eq!(first.len(), 1, "{body}");
    assert_eq!(first[0]["target_type"], "caller");
    assert_eq!(first[0]["target_id"], "soar");
    assert_eq!(first[0]["details"]["daily_cap"], 2);
    assert_eq!(
        entries(&next_day).len(),
        2,
        "one more for the next day: {next_day}"
    );
}

#[tokio::test]
async fn a_call_that_never_reached_virustotal_is_not_counted_as_consuming() {
    // Nothing listens on port 1: the connection is refused, so VirusTotal never saw a call.
    let app = spawn_app_with(Options {
        base_url: Some("http://127.0.0.1:1".to_owned()),
        ..Options::default()
    })
    .await;

    let answer = app.enrich_ok(json!(["8.8.8.8"]), 2_000).await;
    let (status, body) = app.get("/v1/usage").await;

    assert_eq!(answer["results"][0]["status"], "error", "{answer}");
    assert_eq!(status, 200, "{body}");
    let usage: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        usage["totals"]["consuming"]["virustotal_calls"], 0,
        "{usage}"
    );
    assert_eq!(usage["totals"]["upstream_errors"], 1, "{usage}");
    assert_eq!(usage["days"][0]["callers"][0]["caller"], "anonymous");
}
