//! The OpenAPI document matches the code, declares authentication exactly as the server
//! enforces it, and declares each operation's error answers in the error shape.

use std::collections::BTreeSet;

use serde_json::Value;
use vtenrich::config::CallerSettings;
use vtenrich::http::{KeyInBody, hash_key};

use crate::helpers::{Options, spawn_app, spawn_app_with};

/// The generated document as JSON.
fn document() -> Value {
    serde_json::to_value(vtenrich::http::openapi()).unwrap()
}

/// Every (method, path template, operation) of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((method.to_uppercase(), path.clone(), operation.clone()));
        }
    }
    all
}

/// The security alternatives of an operation, each written as its scheme names (`""` for none).
fn alternatives(operation: &Value) -> Vec<String> {
    operation["security"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|req| {
                    req.as_object()
                        .unwrap()
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("+")
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_checked_in_openapi_document_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let checked_in = std::fs::read_to_string(path).expect("openapi/openapi.json exists");
    let generated = serde_json::to_string_pretty(&vtenrich::http::openapi()).unwrap();
    assert!(
        checked_in.trim_end() == generated.trim_end(),
        "openapi/openapi.json is out of date: run `cargo run -q -- openapi > openapi/openapi.json`"
    );
}

#[tokio::test]
async fn the_served_document_and_swagger_ui_are_available() {
    let app = spawn_app().await;
    let (status, doc) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/v1/enrich",
        "/v1/extract",
        "/v1/ip/{ip}",
        "/v1/domain/{domain}",
        "/v1/file/{hash}",
        "/v1/url",
        "/v1/quota",
        "/livez",
        "/readyz",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    let (status, page) = app.get("/docs/").await;
    assert_eq!(status, 200);
    assert!(page.contains("swagger"), "Swagger UI page");
}

#[test]
fn the_document_declares_the_three_ways_to_send_a_caller_key_and_the_console_session() {
    let doc = document();
    let schemes = &doc["components"]["securitySchemes"];

    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["type"], "apiKey");
    assert_eq!(schemes["api_key"]["in"], "header");
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    assert_eq!(schemes["basic"]["type"], "http");
    assert_eq!(schemes["basic"]["scheme"], "basic");
    assert_eq!(schemes["session"]["type"], "apiKey");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "vtenrich_session");
    assert_eq!(schemes.as_object().unwrap().len(), 4);
    assert!(
        doc["security"].is_null(),
        "no global requirement: health stays open"
    );
}

#[test]
fn each_operation_declares_the_error_answers_it_can_give_in_the_error_shape() {
    let doc = document();
    let expected: &[(&str, &str, &[&str])] = &[
        (
            "POST",
            "/v1/enrich",
            &["200", "400", "401", "413", "415", "422", "500", "503"],
        ),
        (
            "POST",
            "/v1/extract",
            &["200", "400", "401", "413", "415", "422", "500", "503"],
        ),
        (
            "GET",
            "/v1/ip/{ip}",
            &["200", "400", "401", "422", "500", "503"],
        ),
        (
            "GET",
            "/v1/lookup",
            &["200", "400", "401", "422", "500", "503"],
        ),
        (
            "POST",
            "/v1/lookup",
            &["200", "400", "401", "413", "415", "422", "500", "503"],
        ),
        (
            "PUT",
            "/v1/lookup",
            &["200", "400", "401", "413", "415", "422", "500", "503"],
        ),
        ("GET", "/modules", &["200"]),
        ("POST", "/query", &["200", "400", "401", "413"]),
        (
            "GET",
            "/v1/domain/{domain}",
            &["200", "400", "401", "422", "500", "503"],
        ),
        (
            "GET",
            "/v1/file/{hash}",
            &["200", "400", "401", "422", "500", "503"],
        ),
        (
            "GET",
            "/v1/url",
            &["200", "400", "401", "422", "500", "503"],
        ),
        ("GET", "/v1/quota", &["200", "401", "500"]),
        ("GET", "/metrics", &["200", "401", "500"]),
        ("GET", "/readyz", &["200", "503"]),
        ("GET", "/livez", &["200"]),
        (
            "GET",
            "/v1/admin/callers",
            &["200", "400", "401", "403", "500"],
        ),
        (
            "POST",
            "/v1/admin/callers",
            &[
                "201", "400", "401", "403", "409", "415", "422", "500", "503",
            ],
        ),
        (
            "GET",
            "/v1/admin/callers/{id}",
            &["200", "401", "403", "404", "422", "500"],
        ),
        (
            "PATCH",
            "/v1/admin/callers/{id}",
            &[
                "200", "400", "401", "403", "404", "409", "415", "422", "500", "503",
            ],
        ),
        (
            "DELETE",
            "/v1/admin/callers/{id}",
            &["204", "401", "403", "404", "409", "422", "500", "503"],
        ),
        (
            "POST",
            "/v1/admin/callers/{id}/keys",
            &[
                "200", "400", "401", "403", "404", "409", "422", "500", "503",
            ],
        ),
        (
            "GET",
            "/v1/admin/audit",
            &["200", "401", "403", "422", "500", "503"],
        ),
        (
            "POST",
            "/v1/admin/cache/purge",
            &["200", "400", "401", "403", "415", "422", "500", "503"],
        ),
        (
            "GET",
            "/v1/usage",
            &["200", "401", "403", "422", "500", "503"],
        ),
        (
            "POST",
            "/console/session",
            &["200", "400", "401", "404", "415", "422", "500"],
        ),
        ("GET", "/console/session", &["200", "401", "404", "500"]),
        (
            "DELETE",
            "/console/session",
            &["204", "401", "403", "404", "500"],
        ),
    ];
    let operations = operations(&doc);
    assert_eq!(
        operations.len(),
        expected.len(),
        "every operation is listed here"
    );

    for (method, path, operation) in operations {
        let (_, _, statuses) = expected
            .iter()
            .find(|(m, p, _)| *m == method && *p == path)
            .unwrap_or_else(|| panic!("{method} {path} is not expected"));
        let declared: BTreeSet<&str> = operation["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            declared,
            statuses.iter().copied().collect(),
            "{method} {path}"
        );
        for status in declared.iter().filter(|s| !s.starts_with('2')) {
            assert_eq!(
                operation["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {path} {status}"
            );
        }
        // Sign-in's 401 is the wrong key in its body, not a missing credential.
        let secured = !alternatives(&operation).is_empty()
            || (method == "POST" && path == "/console/session");
        assert_eq!(
            secured,
            declared.contains("401"),
            "{method} {path}: a 401 is declared exactly where a key can be required"
        );
    }
}

#[tokio::test]
async fn the_declared_security_matches_what_the_server_enforces() {
    // Callers configured and /metrics closed: the strictest server the document describes.
    // The caller is a `user`: the admin operations authenticate it and answer 403.
    let closed = spawn_app_with(Options::default().configure(|s| {
        s.callers = vec![CallerSettings {
            id: "soar".into(),
            key_sha256: vec![hash_key("doc-check-key-5a4b")],
            ..CallerSettings::default()
        }];
        s.metrics_open = false;
    }))
    .await;
    let doc = document();

    for (method, path, operation) in operations(&doc) {
        let alternatives = alternatives(&operation);
        let url = format!(
            "{}{}",
            closed.address,
            path.replace("{ip}", "10.0.0.1")
                .replace("{id}", "soar")
                // Observables never sent upstream: the check needs no VirusTotal answer.
                .replace("{domain}", "printer.local")
                .replace("{hash}", "44d88612fea8a8f36de82e1278abb02f")
                .replace("/v1/url", "/v1/url?url=http%3A%2F%2F10.0.0.1%2F")
        );
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let anonymous = closed
            .http
            .request(method.clone(), &url)
            .send()
            .await
            .unwrap();
        let with_key = closed
            .http
            .request(method, &url)
            .header("x-api-key", "doc-check-key-5a4b")
            .header("content-type", "application/json")
            .body(r#"{"observables": ["10.0.0.1"]}"#)
            .send()
            .await
            .unwrap();

        if alternatives.is_empty() {
            assert_ne!(anonymous.status(), 401, "{path} is declared open");
        } else if alternatives == ["session"] {
            // The console's session routes: a key is not a session.
            assert_eq!(anonymous.status(), 401, "{path} without a session");
            assert_eq!(with_key.status(), 401, "{path} with a key but no session");
        } else {
            assert_eq!(
                alternatives,
                if path == "/metrics" || path == KeyInBody::PATH {
                    vec!["", "bearer", "api_key", "basic"]
                } else {
                    vec!["bearer", "api_key", "basic"]
                },
                "{path}"
            );
            if path == KeyInBody::PATH {
                // MISP sends no headers: without one, /query reads the key from its body (and
                // refuses a missing one in MISP's own shape, tests/api/integrations.rs).
                assert_ne!(
                    anonymous.status(),
                    401,
                    "{path} reads the key from its body"
                );
            } else {
                // /metrics is optional in the document: closed here, open by default.
                assert_eq!(anonymous.status(), 401, "{path} is declared protected");
            }
            if path.starts_with("/v1/admin/") {
                // The key is a `user` caller's: authenticated, but not an admin.
                assert_eq!(with_key.status(), 403, "{path} with a user's key");
            } else if path == "/v1/lookup" {
                // The shared body is /v1/enrich's, not a lookup's: only the key is checked.
                assert_ne!(with_key.status(), 401, "{path} with a key");
            } else {
                assert!(with_key.status().is_success(), "{path} with a key");
            }
        }
    }
    for open_path in ["/openapi.json", "/docs/"] {
        let (status, _) = closed.get(open_path).await;
        assert_eq!(status, 200, "{open_path} stays open");
    }
    assert_eq!(closed.sim.ip_call_count(), 0);
}
