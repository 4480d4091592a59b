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

/// A signed-in client: the session cookie and its CSRF token.
struct Session<'a> {
    app: &'a TestApp,
    cookie: String,
    csrf: String,
}

impl<'a> Session<'a> {
    async fn open(app: &'a TestApp, key: &str) -> Session<'a> {
        let (set_cookie, body) = sign_in(app, key, &[]).await;
        Session {
            app,
            cookie: pair(&set_cookie),
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    /// `GET path` with the cookie.
    async fn get(&self, path: &str) -> (u16, String) {
        self.send(reqwest::Method::GET, path, false, None).await
    }

    /// `method path` with the cookie, the CSRF token when `csrf`, and a JSON `body`.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        csrf: bool,
        body: Option<Value>,
    ) -> (u16, String) {
        let mut request = self
            .app
            .http
            .request(method, format!("{}{path}", self.app.address))
            .header("cookie", &self.cookie);
        if csrf {
            request = request.header("x-csrf-token", &self.csrf);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
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
    let session = Session::open(&app, ADMIN_KEY).await;
    let (post, delete) = (reqwest::Method::POST, reqwest::Method::DELETE);

    assert_eq!(session.get("/v1/admin/callers").await.0, 200);
    let new = Some(json!({"id": "soar"}));
    let (status, text) = session
        .send(post.clone(), "/v1/admin/callers", false, new.clone())
        .await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("csrf_token_invalid"), "{text}");
    let (status, text) = session.send(post, "/v1/admin/callers", true, new).await;
    assert_eq!(status, 201, "{text}");

    // Audited as the caller, exactly as with its key.
    let mut actor = Value::Null;
    for _ in 0..200 {
        let (_, text) = session.get("/v1/admin/audit?action=caller.created").await;
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
        .header("cookie", &session.cookie)
        .bearer_auth("a-wrong-key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let (status, _) = session
        .send(delete.clone(), "/console/session", false, None)
        .await;
    assert_eq!(status, 403, "sign-out needs the token too");
    assert_eq!(
        session.send(delete, "/console/session", true, None).await.0,
        204
    );
    let (status, text) = session.get("/v1/admin/callers").await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("session_expired"), "{text}");
}

#[tokio::test]
async fn a_session_ends_with_its_ttl_and_with_its_caller() {
    let app = app(|s| s.console.session_ttl = Duration::from_secs(60)).await;
    let admin = Session::open(&app, ADMIN_KEY).await;
    let (status, text) = admin
        .send(
            reqwest::Method::POST,
            "/v1/admin/callers",
            true,
            Some(json!({"id": "analyst"})),
        )
        .await;
    assert_eq!(status, 201);
    let key = serde_json::from_str::<Value>(&text).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let analyst = Session::open(&app, &key).await;
    assert_eq!(analyst.get("/v1/usage").await.0, 200);
    assert_eq!(
        analyst.get("/v1/admin/callers").await.0,
        403,
        "a user's session is a user"
    );

    let (status, _) = admin
        .send(
            reqwest::Method::DELETE,
            "/v1/admin/callers/analyst",
            true,
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        analyst.get("/v1/usage").await.0,
        401,
        "a deleted caller's session ends"
    );

    app.clock.advance(Duration::from_secs(59));
    assert_eq!(admin.get("/console/session").await.0, 200);
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(admin.get("/console/session").await.0, 401);
}
