//! With callers configured, every API request needs a valid key; health stays open.

use base64::Engine;
use vtenrich::config::CallerSettings;
use vtenrich::http::hash_key;

use crate::helpers::{Options, TestApp, spawn_app_with};

const KEY: &str = "caller-key-9f8e7d";

async fn app(metrics_open: bool) -> TestApp {
    spawn_app_with(Options::default().configure(move |s| {
        s.callers = vec![CallerSettings {
            id: "siem".into(),
            key_sha256: vec![hash_key("other-key"), hash_key(KEY)],
            ..CallerSettings::default()
        }];
        s.metrics_open = metrics_open;
    }))
    .await
}

async fn status_with(
    app: &TestApp,
    path: &str,
    header: Option<(&str, String)>,
) -> reqwest::Response {
    let mut request = app.http.get(format!("{}{path}", app.address));
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn each_accepted_header_form_lets_a_caller_in() {
    let app = app(true).await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("anyone:{KEY}"));
    for header in [
        ("authorization", format!("Bearer {KEY}")),
        ("x-api-key", KEY.to_owned()),
        ("authorization", format!("Basic {basic}")),
    ] {
        let response = status_with(&app, "/v1/quota", Some(header.clone())).await;
        assert_eq!(response.status().as_u16(), 200, "{header:?}");
    }
}

#[tokio::test]
async fn a_missing_or_wrong_key_gets_401_with_the_json_shape_and_www_authenticate() {
    let app = app(true).await;
    for header in [
        None,
        Some(("authorization", "Bearer wrong".to_owned())),
        Some(("x-api-key", String::new())),
        Some(("authorization", format!("Bearer {KEY}x"))),
    ] {
        let response = status_with(&app, "/v1/ip/8.8.8.8", header.clone()).await;
        assert_eq!(response.status().as_u16(), 401, "{header:?}");
        assert!(response.headers().contains_key("www-authenticate"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    assert_eq!(app.sim.ip_call_count(), 0, "no quota spent for strangers");
}

#[tokio::test]
async fn health_and_docs_stay_open_and_metrics_is_configurable() {
    let open = app(true).await;
    for path in ["/livez", "/readyz", "/metrics", "/openapi.json"] {
        assert_eq!(
            status_with(&open, path, None).await.status().as_u16(),
            200,
            "{path}"
        );
    }
    let closed = app(false).await;
    assert_eq!(
        status_with(&closed, "/metrics", None)
            .await
            .status()
            .as_u16(),
        401
    );
    let with_key = status_with(&closed, "/metrics", Some(("x-api-key", KEY.to_owned()))).await;
    assert_eq!(with_key.status().as_u16(), 200);
}

#[test]
fn hash_key_prints_the_hash_of_the_key_on_stdin() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vtenrich"))
        .arg("hash-key")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{KEY}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), hash_key(KEY));
}
