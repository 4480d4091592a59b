//! Every non-2xx answer, on any path and with any method, Swagger UI's and axum's own answers
//! included, has the JSON error shape and the right content type.

use serde_json::Value;

use crate::helpers::spawn_app;

/// Asserts `body` is exactly `{"error": {"code": code, "message": <non-empty>}}`.
pub fn assert_error_shape(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(1),
        "only `error`: {body}"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_json_shape() {
    let app = spawn_app().await;

    let (status, text) = app.get("/v2/nothing-here").await;
    assert_eq!(status, 404);
    assert_error_shape(&serde_json::from_str(&text).unwrap(), "not_found");

    let response = app
        .http
        .delete(format!("{}/v1/enrich", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_error_shape(&response.json().await.unwrap(), "method_not_allowed");
}

#[tokio::test]
async fn every_non_2xx_answer_on_any_path_and_method_has_the_json_shape() {
    let app = spawn_app().await;
    // Redirects are answers too: look at them instead of following them.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let paths = [
        "/v1/enrich",
        "/v1/ip/10.0.0.1",
        "/v1/quota",
        "/livez",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/docs/",
        "/docs/index.html",
        "/docs/swagger-ui.css",
        "/docs/swagger-initializer.js",
        "/docs/x",
        "/docs/x/y.js",
        "/docs//",
        "/openapi.json/x",
        "/livez/",
        "/LIVEZ",
        "//livez",
        "/v1",
        "/v1/ip",
        "/v1/ip/",
        "/nowhere",
    ];
    let methods = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND",
    ];

    let mut non_2xx = 0;
    for path in paths {
        for method in methods {
            let what = format!("{method} {path}");
            let response = http
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    format!("{}{path}", app.address),
                )
                .send()
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let status = response.status();
            if status.is_success() {
                continue;
            }
            non_2xx += 1;
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            assert!(
                content_type.starts_with("application/json"),
                "{what}: {status} with content type {content_type:?}"
            );
            if status.is_redirection() {
                assert!(response.headers().contains_key("location"), "{what}");
            }
            if status == 405 {
                assert!(response.headers().contains_key("allow"), "{what}");
            }
            let text = response.text().await.unwrap();
            if method == "HEAD" {
                assert!(text.is_empty(), "{what}: a HEAD answer has no body");
                continue;
            }
            let body: Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{what}: {status} with body {text:?}"));
            assert!(body["error"]["code"].is_string(), "{what}: {body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{what}: {body}"
            );
            assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{what}: {body}");
        }
    }
    // Every path answers most of these methods with a 405 or 404, so the walk saw plenty.
    assert!(non_2xx >= paths.len() * 6, "{non_2xx} non-2xx answers");
    assert_eq!(app.sim.ip_call_count(), 0);
}

#[tokio::test]
async fn swagger_ui_misses_get_the_json_shape_with_their_status() {
    let app = spawn_app().await;

    let (status, text) = app.get("/docs/x").await;
    assert_eq!(status, 404);
    assert_error_shape(&serde_json::from_str(&text).unwrap(), "not_found");

    let response = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/docs/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "GET,HEAD");
    assert_error_shape(&response.json().await.unwrap(), "method_not_allowed");
}
