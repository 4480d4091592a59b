//! The console in a real headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `scripts/setup` installs) against an in-process vtenrich whose clock the test holds.
//!
//! - `journey`: sign-in, create a caller, change its cap, find the change in the audit log,
//!   filter, export, the other pages, phone width, sign-out.
//! - `refusals`: a wrong key, an expired session, a change without the CSRF token, a `user`
//!   caller on admin pages.
//! - `page`: the page's headers (strict CSP) and that it has no inline script.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod browser;
mod journey;
mod page;
mod refusals;

use vtenrich::caller::Role;
use vtenrich::config::CallerSettings;
use vtenrich::http::hash_key;

use helpers::{Options, TestApp, spawn_app_with};

/// The admin's key.
pub const ADMIN_KEY: &str = "console-admin-key-5f4e3d2c1b0a99887766";
/// A `user` caller's key.
pub const USER_KEY: &str = "console-user-key-0a1b2c3d4e5f66778899";
/// How long a session lasts in these tests.
pub const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// vtenrich with an admin (`ops`) and a user (`analyst`) from the configuration.
pub async fn console_app() -> TestApp {
    spawn_app_with(Options::default().configure(|s| {
        s.console.session_ttl = SESSION_TTL;
        s.callers = vec![
            CallerSettings {
                id: "ops".into(),
                key_sha256: vec![hash_key(ADMIN_KEY)],
                role: Role::Admin,
                ..CallerSettings::default()
            },
            CallerSettings {
                id: "analyst".into(),
                key_sha256: vec![hash_key(USER_KEY)],
                ..CallerSettings::default()
            },
        ];
    }))
    .await
}

/// [`console_app`] after `ops` made 3 VirusTotal calls and `analyst` 2.
pub async fn console_app_with_spending() -> TestApp {
    let app = console_app().await;
    spend(&app, ADMIN_KEY, 0, 3).await;
    spend(&app, USER_KEY, 3, 2).await;
    app
}

/// Has the caller of `key` enrich `n` addresses new to the cache, `skip` addresses in: `n`
/// VirusTotal calls charged to it.
async fn spend(app: &TestApp, key: &str, skip: usize, n: usize) {
    let addresses: Vec<String> = helpers::known_addresses(skip + n)
        .into_iter()
        .skip(skip)
        .collect();
    let response = app
        .http
        .post(format!("{}/v1/enrich", app.address))
        .bearer_auth(key)
        .json(&serde_json::json!({"observables": addresses, "max_wait_ms": 5000}))
        .send()
        .await
        .expect("the enrichment is sent");
    assert_eq!(response.status(), 200);
}
