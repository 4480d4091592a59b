//! Console sessions over HTTP, without a browser: the cookie's attributes (and when it is
//! `Secure`), a session standing for its caller on the APIs (same role, same audit actor),
//! the CSRF token on changes, a deleted caller's session ending, sign-out ending it for good.

use std::time::Duration;

use serde_json::{Value, json};
use vtenrich::caller::Role;
use vtenrich::config::{CallerSettings, TrustedProxies};
use vtenrich::http::hash_key;

use crate::helpers::{Options, TestApp, spawn_app_with};

const ADMIN_KEY: &str = "session-admin-key-9f8e7d";

async fn app(configure: impl FnOnce(&mut vtenrich::config::Settings) + Send + 'static) -> TestApp {
    spawn_app_with(Options::default().configure(|s| {
        s.callers = vec![CallerSettings {
            id: "ops".into(),
            key_sha256: vec![hash_key(ADMIN_KEY)],
            role: Role::Admin,
            ..CallerSettings::default()
        }];
        configure(s);
    }))
    .await
}

/// Signs in with `key` (extra `headers`); the `Set-Cookie` header and the session body.
async fn sign_in(app: &TestApp, key: &str, headers: &[(&str, &str)]) -> (String, Value) {
    let mut request = app
        .http
        .post(format!("{}/console/session", app.address))
        .json(&json!({ "key": key }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    (cookie, response.json().await.unwrap())
}

/// `name=value` of a `Set-Cookie` header.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// `method path` with the session cookie and, when given, the CSRF token.
async fn with_session(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (u16, String) {
    let mut request = app
        .http
        .request(method, format!("{}{path}", app.address))
        .header("cookie", cookie);
    if let Some(token) = csrf {
        request = request.header("x-csrf-token", token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_cookie_is_http_only_strict_expiring_and_secure_only_behind_a_trusted_tls_proxy() {
    let app = app(|s| {
        s.trusted_proxies = TrustedProxies::parse("127.0.0.1/32").unwrap();
        s.console.session_ttl = Duration::from_secs(3600);
    })
    .await;

    let (plain, body) = sign_in(&app, ADMIN_KEY, &[]).await;
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
        assert!(plain.contains(attribute), "{attribute} in {plain}");
    }
    assert!(!plain.contains("Secure"), "{plain}");
    assert!(!plain.contains(ADMIN_KEY));
    assert_eq!(body["caller"], "ops");
    assert_eq!(body["role"], "admin");

    let (behind_tls, _) = sign_in(&app, ADMIN_KEY, &[("x-forwarded-proto", "https")]).await;
    assert!(behind_tls.contains("Secure"), "{behind_tls}");

    // From a peer that is not a trusted proxy the header is not believed.
    let untrusted = self::app(|_| {}).await;
    let (cookie, _) = sign_in(&untrusted, ADMIN_KEY, &[("x-forwarded-proto", "https")]).await;
    assert!(!cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn a_session_acts_as_its_caller_needs_the_csrf_token_to_change_and_ends_with_sign_out() {
    let app = app(|_| {}).await;
    let (set_cookie, body) = sign_in(&app, ADMIN_KEY, &[]).await;
    let cookie = pair(&set_cookie);
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    let post = reqwest::Method::POST;

    let (status, _) = with_session(
        &app,
        reqwest::Method::GET,
        "/v1/admin/callers",
        &cookie,
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let new = Some(json!({"id": "soar"}));
    let (status, text) = with_session(
        &app,
        post.clone(),
        "/v1/admin/callers",
        &cookie,
        None,
        new.clone(),
    )
    .await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("csrf_token_invalid"), "{text}");
    let (status, text) = with_session(
        &app,
        post.clone(),
        "/v1/admin/callers",
        &cookie,
        Some(&csrf),
        new,
    )
    .await;
    assert_eq!(status, 201, "{text}");

    // Audited as the caller, exactly as with its key.
    let mut actor = Value::Null;
    for _ in 0..200 {
        let (_, text) = with_session(
            &app,
            reqwest::Method::GET,
            "/v1/admin/audit?action=caller.created",
            &cookie,
            None,
            None,
        )
        .await;
        let page: Value = serde_json::from_str(&text).unwrap();
        if let Some(entry) = page["entries"].get(0) {
            actor = entry["actor"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(actor, "ops");

    // A key wins over the cookie.
    let response = app
        .http
        .get(format!("{}/v1/admin/callers", app.address))
        .header("cookie", &cookie)
        .bearer_auth("a-wrong-key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let (status, _) = with_session(
        &app,
        reqwest::Method::DELETE,
        "/console/session",
        &cookie,
        None,
        None,
    )
    .await;
    assert_eq!(status, 403, "sign-out needs the token too");
    let (status, _) = with_session(
        &app,
        reqwest::Method::DELETE,
        "/console/session",
        &cookie,
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, text) = with_session(
        &app,
        reqwest::Method::GET,
        "/v1/admin/callers",
        &cookie,
        None,
        None,
    )
    .await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("session_expired"), "{text}");
}

#[tokio::test]
async fn a_session_ends_with_its_ttl_and_with_its_caller() {
    let app = app(|s| s.console.session_ttl = Duration::from_secs(60)).await;
    let (admin_cookie, body) = sign_in(&app, ADMIN_KEY, &[]).await;
    let (admin_cookie, csrf) = (
        pair(&admin_cookie),
        body["csrf_token"].as_str().unwrap().to_owned(),
    );
    let (status, text) = with_session(
        &app,
        reqwest::Method::POST,
        "/v1/admin/callers",
        &admin_cookie,
        Some(&csrf),
        Some(json!({"id": "analyst"})),
    )
    .await;
    assert_eq!(status, 201);
    let analyst_key = serde_json::from_str::<Value>(&text).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (analyst_cookie, _) = sign_in(&app, &analyst_key, &[]).await;
    let analyst_cookie = pair(&analyst_cookie);
    let (status, _) = with_session(
        &app,
        reqwest::Method::GET,
        "/v1/usage",
        &analyst_cookie,
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = with_session(
        &app,
        reqwest::Method::GET,
        "/v1/admin/callers",
        &analyst_cookie,
        None,
        None,
    )
    .await;
    assert_eq!(status, 403, "a user's session is a user");

    let (status, _) = with_session(
        &app,
        reqwest::Method::DELETE,
        "/v1/admin/callers/analyst",
        &admin_cookie,
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = with_session(
        &app,
        reqwest::Method::GET,
        "/v1/usage",
        &analyst_cookie,
        None,
        None,
    )
    .await;
    assert_eq!(status, 401, "a deleted caller's session ends");

    app.clock.advance(Duration::from_secs(59));
    let (status, _) = with_session(
        &app,
        reqwest::Method::GET,
        "/console/session",
        &admin_cookie,
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    app.clock.advance(Duration::from_secs(1));
    let (status, _) = with_session(
        &app,
        reqwest::Method::GET,
        "/console/session",
        &admin_cookie,
        None,
        None,
    )
    .await;
    assert_eq!(status, 401);
}
