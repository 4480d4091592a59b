//! The audit log and the cache purge over HTTP: admin only, each emitted action has its entry,
//! filters and exports select exactly, cursors walk every entry once and forged ones are 422,
//! a brute force writes one `auth.failed` entry a minute, a purge makes the next lookup call
//! VirusTotal again.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use vtenrich::caller::Role;
use vtenrich::config::CallerSettings;
use vtenrich::http::hash_key;

use crate::helpers::{Options, TestApp, known_addresses, spawn_app, spawn_app_with};

const ADMIN_KEY: &str = "audit-admin-key-5a4b3c";
const USER_KEY: &str = "audit-user-key-1d2e3f";

async fn app() -> TestApp {
    spawn_app_with(Options::default().configure(|s| {
        s.callers = vec![
            CallerSettings {
                id: "soc-admin".into(),
                key_sha256: vec![hash_key(ADMIN_KEY)],
                role: Role::Admin,
                ..CallerSettings::default()
            },
            CallerSettings {
                id: "siem".into(),
                key_sha256: vec![hash_key(USER_KEY)],
                ..CallerSettings::default()
            },
        ];
    }))
    .await
}

/// `GET path` as `key`: status, headers, body text.
async fn get_as(app: &TestApp, key: &str, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let response = app
        .http
        .get(format!("{}{path}", app.address))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

/// The entries of `/v1/admin/audit?query` (JSON), after the writer caught up.
async fn entries(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, _, body) = get_as(app, ADMIN_KEY, &format!("/v1/admin/audit?{query}")).await;
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    page["entries"].as_array().unwrap().clone()
}

/// Waits (bounded) until `/v1/admin/audit?query` lists at least `n` entries.
async fn wait_for(app: &TestApp, query: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let found = entries(app, query).await;
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "fewer than {n} entries for {query}: {:?}",
        entries(app, query).await
    );
}

async fn purge(app: &TestApp, key: &str, observables: Value) -> (u16, Value) {
    let response = app
        .http
        .post(format!("{}/v1/admin/cache/purge", app.address))
        .bearer_auth(key)
        .json(&json!({"observables": observables}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn only_admins_read_the_audit_log_or_purge() {
    let app = app().await;
    let open = spawn_app().await;

    let (user, _, body) = get_as(&app, USER_KEY, "/v1/admin/audit").await;
    let (anonymous, _, _) = get_as(&open, "anything", "/v1/admin/audit").await;
    let (user_purge, _) = purge(&app, USER_KEY, json!(["8.8.8.8"])).await;
    let (admin, _, _) = get_as(&app, ADMIN_KEY, "/v1/admin/audit").await;

    assert_eq!(user, 403);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        "forbidden"
    );
    assert_eq!(
        anonymous, 401,
        "without callers nobody is an admin: the admin API asks for a key"
    );
    assert_eq!(user_purge, 403);
    assert_eq!(admin, 200);
}

#[tokio::test]
async fn the_start_is_audited_with_the_version() {
    let app = app().await;

    let started = wait_for(&app, "action=service.started", 1).await;

    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["actor"], "system");
    assert_eq!(started[0]["details"]["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn a_purge_makes_the_next_lookup_call_virustotal_again_and_is_audited() {
    let app = app().await;
    let ip = known_addresses(1).remove(0);
    let lookup = || async {
        let response = app
            .http
            .get(format!("{}/v1/ip/{ip}", app.address))
            .bearer_auth(USER_KEY)
            .send()
            .await
            .unwrap();
        response.json::<Value>().await.unwrap()
    };
    lookup().await;
    let cached = lookup().await;
    let before = app.sim.ip_call_count();

    let (status, answer) = purge(&app, ADMIN_KEY, json!([ip, ip.clone()])).await;
    let refetched = lookup().await;

    assert_eq!(cached["source"], "cache");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["purged"],
        json!([{"observable": ip, "was_cached": true}])
    );
    assert_eq!(refetched["source"], "virustotal");
    assert_eq!(app.sim.ip_call_count(), before + 1);
    let audited = wait_for(&app, "action=cache.purged", 1).await;
    assert_eq!(audited[0]["actor"], "soc-admin");
    assert_eq!(audited[0]["target_type"], "observables");
    assert_eq!(audited[0]["target_id"], ip);
    assert_eq!(audited[0]["source_ip"], "127.0.0.1");
    assert!(!audited[0].to_string().contains(ADMIN_KEY));
}

#[tokio::test]
async fn a_purge_of_something_that_is_not_an_observable_is_422_naming_it() {
    let app = app().await;

    let (status, body) = purge(&app, ADMIN_KEY, json!(["8.8.8.8", "not an observable"])).await;

    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "invalid_observable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("observables[1]")
    );
}

#[tokio::test]
async fn ten_thousand_bad_keys_from_one_address_make_one_auth_failed_entry_in_the_minute() {
    let app = app().await;
    let url = format!("{}/v1/quota", app.address);

    let refused = futures::stream::iter(0..10_000)
        .map(|i| {
            let (http, url) = (app.http.clone(), url.clone());
            async move {
                http.get(url)
                    .bearer_auth(format!("wrong-{i}"))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(32)
        .filter(|status| futures::future::ready(*status == 401))
        .count()
        .await;
    let during = entries(&app, "action=auth.failed").await;
    // The test's clock stood still: all 10,000 fell in one minute, which ends now.
    app.clock.advance(Duration::from_secs(60));
    let after = wait_for(&app, "action=auth.failed", 1).await;

    assert_eq!(refused, 10_000);
    assert!(
        during.is_empty(),
        "written before its minute ended: {during:?}"
    );
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["details"]["count"], 10_000);
    assert_eq!(after[0]["source_ip"], "127.0.0.1");
    assert!(!after[0].to_string().contains("wrong-"));
}

#[tokio::test]
async fn filters_and_exports_select_exactly_the_matching_entries() {
    let app = app().await;
    let audit = app_audit(&app).await;
    let t0 = app.clock_now();
    audit.record_admin(
        "soc-admin",
        None,
        "caller.created",
        "caller",
        "alpha",
        None,
        Some(json!({"id": "alpha"})),
    );
    app.clock.advance(Duration::from_secs(60));
    let t1 = app.clock_now();
    audit.record_admin(
        "soc-admin",
        None,
        "caller.updated",
        "caller",
        "beta",
        Some(json!({"daily_cap": 1})),
        Some(json!({"daily_cap": 2})),
    );
    audit.record_admin(
        "config",
        None,
        "caller.deleted",
        "caller",
        "alpha",
        Some(json!({"id": "alpha"})),
        None,
    );
    audit.flush().await;
    let ids = |found: &[Value]| -> Vec<String> {
        found
            .iter()
            .map(|e| format!("{} {}", e["action"], e["target_id"]).replace('"', ""))
            .collect()
    };

    let by_actor = entries(&app, "actor=config").await;
    let by_action = entries(&app, "action=caller.updated").await;
    let by_target = entries(&app, "target_type=caller&target_id=alpha").await;
    let by_time = entries(&app, &format!("target_type=caller&from={t0}&to={t0}")).await;
    let later = entries(&app, &format!("target_type=caller&from={t1}")).await;
    let (_, headers, csv) = get_as(
        &app,
        ADMIN_KEY,
        "/v1/admin/audit?target_id=alpha&format=csv",
    )
    .await;
    let (_, _, lines) = get_as(
        &app,
        ADMIN_KEY,
        "/v1/admin/audit?target_id=alpha&format=jsonl",
    )
    .await;

    assert_eq!(ids(&by_actor), ["caller.deleted alpha"]);
    assert_eq!(ids(&by_action), ["caller.updated beta"]);
    assert_eq!(
        ids(&by_target),
        ["caller.deleted alpha", "caller.created alpha"]
    );
    assert_eq!(ids(&by_time), ["caller.created alpha"]);
    assert_eq!(ids(&later), ["caller.deleted alpha", "caller.updated beta"]);
    assert_eq!(by_action[0]["details"]["before"]["daily_cap"], 1);
    assert_eq!(by_action[0]["details"]["after"]["daily_cap"], 2);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        rows.headers().unwrap(),
        vec![
            "id",
            "timestamp",
            "actor",
            "source_ip",
            "action",
            "target_type",
            "target_id",
            "details"
        ]
    );
    let actions: Vec<String> = rows.records().map(|r| r.unwrap()[4].to_owned()).collect();
    assert_eq!(actions, ["caller.deleted", "caller.created"]);
    let line_actions: Vec<String> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(line_actions, ["caller.deleted", "caller.created"]);
}

#[tokio::test]
async fn a_cursor_walks_every_entry_exactly_once_and_a_forged_one_is_422() {
    let app = app().await;
    let audit = app_audit(&app).await;
    for i in 0..250 {
        audit.record_admin(
            "soc-admin",
            None,
            "caller.updated",
            "caller",
            &format!("c{i}"),
            None,
            None,
        );
    }
    audit.flush().await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let query = match &cursor {
            Some(c) => format!("action=caller.updated&limit=40&cursor={c}"),
            None => "action=caller.updated&limit=40".to_owned(),
        };
        let (status, headers, body) =
            get_as(&app, ADMIN_KEY, &format!("/v1/admin/audit?{query}")).await;
        assert_eq!(status, 200, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        seen.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["target_id"].to_string()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        assert_eq!(
            headers
                .get("x-next-cursor")
                .map(|v| v.to_str().unwrap().to_owned()),
            cursor
        );
        if cursor.is_none() {
            break;
        }
    }
    let (forged, _, body) = get_as(&app, ADMIN_KEY, "/v1/admin/audit?cursor=MTAuZm9yZ2Vk").await;

    assert_eq!(seen.len(), 250);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 250);
    assert_eq!(forged, 422);
    assert!(body.contains("`cursor`"), "{body}");
}

#[tokio::test]
async fn bad_parameters_are_422_naming_the_parameter_never_500() {
    let app = app().await;
    for (query, named) in [
        ("from=2026-11-10", "from"),
        ("from=2026-11-10T12:00:00Z&to=2026-11-09T12:00:00Z", "to"),
        ("format=xlsx", "format"),
        ("limit=1001", "limit"),
        ("user=alice", "user"),
        ("cursor=%%%", "cursor"),
    ] {
        let (status, _, body) = get_as(&app, ADMIN_KEY, &format!("/v1/admin/audit?{query}")).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert!(body.contains(&format!("`{named}`")), "{query}: {body}");
    }
}

/// A handle on the running app's audit log, through the router's state.
async fn app_audit(app: &TestApp) -> vtenrich::audit::AuditLog {
    app.audit.clone().expect("the harness keeps the audit log")
}

#[tokio::test]
async fn a_quota_exceeded_block_and_its_end_are_audited_once_each() {
    let app = app().await;
    app.sim.set_quota_exceeded(true);
    let ips = known_addresses(3);

    for ip in &ips {
        let response = app
            .http
            .post(format!("{}/v1/enrich", app.address))
            .bearer_auth(USER_KEY)
            .json(&json!({"observables": [ip], "max_wait_ms": 500}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    let blocked = wait_for(&app, "action=quota.blocked", 1).await;
    app.sim.set_quota_exceeded(false);
    app.clock.advance(Duration::from_secs(12 * 3600));
    let unblocked = wait_for(&app, "action=quota.unblocked", 1).await;

    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert_eq!(
        blocked[0]["details"]["blocked_until"],
        "2026-11-11T00:00:00Z"
    );
    assert_eq!(unblocked.len(), 1);
    assert_eq!(entries(&app, "action=quota.blocked").await.len(), 1);
}

/// `method path` with `body` as the admin: status and JSON body.
async fn admin_call(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app
        .http
        .request(method.parse().unwrap(), format!("{}{path}", app.address))
        .bearer_auth(ADMIN_KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_admin_change_to_a_caller_is_one_entry_with_before_and_after() {
    // Arrange
    let app = app().await;

    // Act: create, change the cap (VirusTotal's payload), rotate, delete.
    let (created, body) = admin_call(
        &app,
        "POST",
        "/v1/admin/callers",
        Some(json!({"id": "soar", "daily_cap": 100})),
    )
    .await;
    let key = body["key"].as_str().unwrap().to_owned();
    let vt_payload = json!({"data": {"type": "user", "attributes": {"quotas": {"api_requests_daily": {"allowed": 300}}}}});
    let (patched, _) = admin_call(&app, "PATCH", "/v1/admin/callers/soar", Some(vt_payload)).await;
    let (rotated, _) = admin_call(&app, "POST", "/v1/admin/callers/soar/keys", None).await;
    let (deleted, _) = admin_call(&app, "DELETE", "/v1/admin/callers/soar", None).await;
    let found = wait_for(&app, "target_type=caller&target_id=soar", 4).await;

    // Assert: newest first, one entry per change, the admin as actor, never a key.
    assert_eq!((created, patched, rotated, deleted), (201, 200, 200, 204));
    let actions: Vec<&str> = found
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "caller.deleted",
            "caller.key_rotated",
            "caller.updated",
            "caller.created"
        ]
    );
    assert!(found.iter().all(|e| e["actor"] == "soc-admin"), "{found:?}");
    let updated = &found[2]["details"];
    assert_eq!(updated["before"]["daily_cap"], 100, "{updated}");
    assert_eq!(updated["after"]["daily_cap"], 300, "{updated}");
    assert_eq!(found[3]["details"]["before"], Value::Null);
    assert_eq!(found[0]["details"]["after"], Value::Null);
    assert_eq!(found[0]["details"]["before"]["id"], "soar");
    let text = serde_json::to_string(&found).unwrap();
    assert!(!text.contains(&key), "a key in the audit log");
}
