//! The admin API manages callers at runtime: create, use, change the cap (our shape and
//! VirusTotal's), rotate with a grace, remove; admins only; bad input named; configuration
//! callers read-only.

use std::time::Duration;

use serde_json::{Value, json};
use vtenrich::caller::Role;
use vtenrich::config::CallerSettings;
use vtenrich::http::hash_key;

use crate::helpers::{Options, TestApp, spawn_app_with};

const ADMIN_KEY: &str = "admin-key-4c3b2a1f";
const USER_KEY: &str = "user-key-7e6d5c4b";

/// A service with a configured admin (`ops`) and a configured user (`siem`).
async fn app() -> TestApp {
    spawn_app_with(Options::default().configure(|s| {
        s.callers = vec![
            CallerSettings {
                id: "ops".into(),
                key_sha256: vec![hash_key(ADMIN_KEY)],
                role: Role::Admin,
                ..CallerSettings::default()
            },
            CallerSettings {
                id: "siem".into(),
                key_sha256: vec![hash_key(USER_KEY)],
                daily_cap: Some(40),
                ..CallerSettings::default()
            },
        ];
    }))
    .await
}

/// Sends `method path` with `key` (if any) and a JSON `body` (if any): status and body.
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app.http.request(method, format!("{}{path}", app.address));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

async fn admin(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    call(app, method, path, Some(ADMIN_KEY), body).await
}

/// The status of `GET /v1/quota` with `key`.
async fn status_with_key(app: &TestApp, key: &str) -> u16 {
    call(app, "GET", "/v1/quota", Some(key), None).await.0
}

#[tokio::test]
async fn a_caller_is_created_used_capped_rotated_and_removed_through_the_api() {
    let app = app().await;

    // Create: 201, the key once, defaults filled in.
    let (status, created) = admin(
        &app,
        "POST",
        "/v1/admin/callers",
        Some(json!({"id": "soar", "priority": "bulk", "description": "playbooks"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 64);
    assert_eq!(created["caller"]["role"], "user");
    assert_eq!(created["caller"]["priority"], "bulk");
    assert_eq!(created["caller"]["source"], "runtime");
    assert!(created["caller"]["created_at"].is_string());

    // Use the key: accepted for enrichment, and the caller is seen.
    assert_eq!(status_with_key(&app, &key).await, 200);
    let (_, read) = admin(&app, "GET", "/v1/admin/callers/soar", None).await;
    assert!(read["last_seen_at"].is_string(), "{read}");
    assert!(
        !read.to_string().contains(&key),
        "the key is never shown again"
    );

    // Patch the cap in our shape, then in VirusTotal's.
    let (status, patched) = admin(
        &app,
        "PATCH",
        "/v1/admin/callers/soar",
        Some(json!({"daily_cap": 300})),
    )
    .await;
    assert_eq!((status, &patched["daily_cap"]), (200, &json!(300)));
    assert_eq!(
        app.metric("vtenrich_caller_daily_cap{caller=\"soar\"}")
            .await,
        Some(300.0)
    );
    let (status, patched) = admin(
        &app,
        "PATCH",
        "/v1/admin/callers/soar",
        Some(json!({"data": {"type": "user", "attributes": {"quotas": {"api_requests_daily": {"allowed": 500}}}}})),
    )
    .await;
    assert_eq!((status, &patched["daily_cap"]), (200, &json!(500)));
    assert_eq!(patched["priority"], "bulk", "other fields stay");

    // Rotate with a grace of 1 s: both keys work inside it, only the new one after it.
    let (status, rotated) = admin(
        &app,
        "POST",
        "/v1/admin/callers/soar/keys",
        Some(json!({"grace_secs": 1})),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, key);
    assert_eq!(
        status_with_key(&app, &key).await,
        200,
        "old key in the grace"
    );
    assert_eq!(status_with_key(&app, &new_key).await, 200);
    app.clock.advance(Duration::from_millis(1_001));
    assert_eq!(status_with_key(&app, &key).await, 401, "old key after it");
    assert_eq!(status_with_key(&app, &new_key).await, 200);

    // Delete: 204, the key stops, the caller is gone.
    let (status, _) = admin(&app, "DELETE", "/v1/admin/callers/soar", None).await;
    assert_eq!(status, 204);
    assert_eq!(status_with_key(&app, &new_key).await, 401);
    let (status, gone) = admin(&app, "GET", "/v1/admin/callers/soar", None).await;
    assert_eq!(
        (status, gone["error"]["code"].as_str()),
        (404, Some("caller_not_found"))
    );
    assert_eq!(
        app.metric("vtenrich_caller_daily_cap{caller=\"soar\"}")
            .await,
        None,
        "a removed caller's series goes"
    );
}

#[tokio::test]
async fn a_rotation_without_grace_stops_the_old_key_at_once() {
    let app = app().await;
    let (_, created) = admin(
        &app,
        "POST",
        "/v1/admin/callers",
        Some(json!({"id": "tines"})),
    )
    .await;
    let old = created["key"].as_str().unwrap().to_owned();

    let (status, rotated) = call(
        &app,
        "POST",
        "/v1/admin/callers/tines/keys",
        Some(ADMIN_KEY),
        None,
    )
    .await;

    assert_eq!(status, 200, "{rotated}");
    assert_eq!(status_with_key(&app, &old).await, 401);
    assert_eq!(
        status_with_key(&app, rotated["key"].as_str().unwrap()).await,
        200
    );
}

#[tokio::test]
async fn the_admin_api_is_401_without_a_valid_key_and_403_for_a_user() {
    let app = app().await;
    let routes = [
        ("GET", "/v1/admin/callers"),
        ("POST", "/v1/admin/callers"),
        ("GET", "/v1/admin/callers/siem"),
        ("PATCH", "/v1/admin/callers/siem"),
        ("POST", "/v1/admin/callers/siem/keys"),
        ("DELETE", "/v1/admin/callers/siem"),
    ];

    for (method, path) in routes {
        let body = Some(json!({"id": "x"}));
        let (none, _) = call(&app, method, path, None, body.clone()).await;
        let (wrong, _) = call(&app, method, path, Some("nope"), body.clone()).await;
        let (user, error) = call(&app, method, path, Some(USER_KEY), body).await;

        assert_eq!((none, wrong), (401, 401), "{method} {path}");
        assert_eq!(user, 403, "{method} {path}");
        assert_eq!(error["error"]["code"], "forbidden");
    }
    let (_, list) = admin(&app, "GET", "/v1/admin/callers", None).await;
    assert_eq!(
        list["callers"].as_array().unwrap().len(),
        2,
        "nothing was created"
    );
}

#[tokio::test]
async fn the_admin_api_needs_a_key_even_on_a_service_without_callers() {
    let app = crate::helpers::spawn_app().await;

    let (status, body) = call(&app, "GET", "/v1/admin/callers", None, None).await;

    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
}

#[tokio::test]
async fn bad_input_is_422_naming_the_field_and_a_duplicate_id_409() {
    let app = app().await;
    let cases = [
        (
            "POST",
            "/v1/admin/callers",
            json!({"id": "Not An Id"}),
            "`id`",
        ),
        (
            "POST",
            "/v1/admin/callers",
            json!({"id": "anonymous"}),
            "id",
        ),
        (
            "POST",
            "/v1/admin/callers",
            json!({"id": "a", "daily_cap": -3}),
            "`daily_cap`",
        ),
        (
            "POST",
            "/v1/admin/callers",
            json!({"id": "a", "daily_cap": 1.5}),
            "`daily_cap`",
        ),
        (
            "POST",
            "/v1/admin/callers",
            json!({"id": "a", "role": "root"}),
            "`role`",
        ),
        (
            "POST",
            "/v1/admin/callers",
            json!({"id": "a", "priority": "asap"}),
            "`priority`",
        ),
        (
            "POST",
            "/v1/admin/callers",
            json!({"id": "a", "kind": "bot"}),
            "`kind`",
        ),
        (
            "POST",
            "/v1/admin/callers",
            json!({"id": "a", "team": "x"}),
            "`team`",
        ),
        (
            "PATCH",
            "/v1/admin/callers/BAD!",
            json!({"daily_cap": 3}),
            "`id`",
        ),
        ("GET", "/v1/admin/callers/BAD!", Value::Null, "`id`"),
        ("POST", "/v1/admin/callers/BAD!/keys", Value::Null, "`id`"),
        ("DELETE", "/v1/admin/callers/BAD!", Value::Null, "`id`"),
    ];

    for (method, path, body, field) in cases {
        let body = (!body.is_null()).then_some(body);
        let (status, error) = admin(&app, method, path, body.clone()).await;
        assert_eq!(status, 422, "{method} {path} {body:?}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(field),
            "{method} {path} {body:?}: {message}"
        );
    }
    // An id that exists is a conflict with the current state, not a malformed request.
    let (status, error) = admin(
        &app,
        "POST",
        "/v1/admin/callers",
        Some(json!({"id": "siem"})),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (409, Some("duplicate_id"))
    );
    let (status, list) = admin(&app, "GET", "/v1/admin/callers", None).await;
    assert_eq!(
        (status, list["callers"].as_array().unwrap().len()),
        (200, 2)
    );
}

#[tokio::test]
async fn an_unknown_caller_is_404_for_every_operation_on_it() {
    let app = app().await;

    for (method, path, body) in [
        ("GET", "/v1/admin/callers/ghost", None),
        (
            "PATCH",
            "/v1/admin/callers/ghost",
            Some(json!({"daily_cap": 3})),
        ),
        ("POST", "/v1/admin/callers/ghost/keys", None),
        ("DELETE", "/v1/admin/callers/ghost", None),
    ] {
        let (status, error) = admin(&app, method, path, body).await;
        assert_eq!(status, 404, "{method} {path}");
        assert_eq!(error["error"]["code"], "caller_not_found");
    }
}

#[tokio::test]
async fn configuration_callers_cannot_be_changed_through_the_api() {
    let app = app().await;

    for (method, path, body) in [
        (
            "PATCH",
            "/v1/admin/callers/siem",
            Some(json!({"daily_cap": 3})),
        ),
        (
            "PATCH",
            "/v1/admin/callers/ops",
            Some(json!({"role": "user"})),
        ),
        ("POST", "/v1/admin/callers/siem/keys", None),
        ("DELETE", "/v1/admin/callers/siem", None),
    ] {
        let (status, error) = admin(&app, method, path, body).await;
        assert_eq!(status, 409, "{method} {path}");
        assert_eq!(error["error"]["code"], "caller_from_config");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("configuration file")
        );
    }
    let (_, siem) = admin(&app, "GET", "/v1/admin/callers/siem", None).await;
    assert_eq!(
        (siem["daily_cap"].as_u64(), siem["source"].as_str()),
        (Some(40), Some("config"))
    );
    assert_eq!(status_with_key(&app, USER_KEY).await, 200);
}

#[tokio::test]
async fn a_runtime_admin_can_manage_callers_and_can_be_demoted_while_another_admin_exists() {
    let app = app().await;
    let (_, boss) = admin(
        &app,
        "POST",
        "/v1/admin/callers",
        Some(json!({"id": "boss", "role": "admin", "kind": "person"})),
    )
    .await;
    let boss_key = boss["key"].as_str().unwrap().to_owned();

    let (created, _) = call(
        &app,
        "POST",
        "/v1/admin/callers",
        Some(&boss_key),
        Some(json!({"id": "helper"})),
    )
    .await;
    let (demoted, body) = admin(
        &app,
        "PATCH",
        "/v1/admin/callers/boss",
        Some(json!({"role": "user"})),
    )
    .await;
    let (after, _) = call(&app, "GET", "/v1/admin/callers", Some(&boss_key), None).await;

    assert_eq!(created, 201);
    assert_eq!((demoted, body["role"].as_str()), (200, Some("user")));
    assert_eq!(after, 403, "a demoted caller loses the admin API");
}

#[tokio::test]
async fn the_list_exports_as_csv_with_a_header_row() {
    let app = app().await;
    admin(
        &app,
        "POST",
        "/v1/admin/callers",
        Some(json!({"id": "webhook", "priority": "bulk", "daily_cap": 25})),
    )
    .await;

    let response = app
        .http
        .get(format!("{}/v1/admin/callers?format=csv", app.address))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "id,kind,role,priority,daily_cap,used_today,created_at,last_seen_at"
    );
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[1].starts_with("ops,service,admin,interactive,,0,,"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("siem,service,user,interactive,40,0,,"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("webhook,service,user,bulk,25,0,20"),
        "{text}"
    );
    let (status, _) = admin(&app, "GET", "/v1/admin/callers?format=xml", None).await;
    assert_eq!(status, 400);
}
