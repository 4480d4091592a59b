//! Every result the service renders validates against the OpenAPI document's schema for its
//! type, and against no other type's: `AnyResult` is a `oneOf` discriminated by `type`.

use serde_json::{Value, json};

use crate::helpers::{Options, results, spawn_app_with};

const EICAR_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";
const TYPED: [(&str, &str); 4] = [
    ("ip", "IpResult"),
    ("domain", "DomainResult"),
    ("url", "UrlResult"),
    ("file", "FileResult"),
];

/// A validator for one component of the generated document (its `$ref`s resolve in it).
fn validator(component: &str) -> jsonschema::Validator {
    let doc = serde_json::to_value(vtenrich::http::openapi()).unwrap();
    let schema = json!({
        "$ref": format!("#/components/schemas/{component}"),
        "components": doc["components"],
    });
    jsonschema::draft202012::new(&schema).expect("a valid JSON Schema")
}

fn assert_valid(component: &str, result: &Value) {
    let errors: Vec<String> = validator(component)
        .iter_errors(result)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{component}: {errors:?}\n{result}");
}

#[tokio::test]
async fn every_result_of_a_mixed_batch_matches_its_types_schema_and_no_other() {
    // Arrange
    let app = spawn_app_with(Options::default().configure(|s| {
        s.virustotal.rate_per_minute = 100;
    }))
    .await;
    let batch = json!([
        "8.8.8.8",
        "example.com",
        "https://example.com/",
        EICAR_MD5,
        "2001:db8::1",
        "printer.local",
        "https://user:pw@example.com/",
        "not an observable!",
        {"type": "domain", "value": "-bad-.com"},
        "nosuchname-a.com",
        "nosuchname-b.com",
        "nosuchname-c.com",
        "nosuchname-d.com",
        "nosuchname-e.com",
        "nosuchname-f.com",
    ]);

    // Act
    let body = app.enrich_ok(batch, 5_000).await;

    // Assert
    let any = validator("AnyResult");
    let mut statuses = std::collections::BTreeSet::new();
    for result in results(&body) {
        statuses.insert(result["status"].as_str().unwrap().to_owned());
        assert!(any.is_valid(result), "AnyResult: {result}");
        let kind = result["type"].as_str();
        for (name, component) in TYPED {
            let matches = validator(component).is_valid(result);
            assert_eq!(matches, kind == Some(name), "{component} vs {result}");
        }
        if kind.is_none() {
            assert_valid("UntypedResult", result);
        }
    }
    for status in ["ok", "not_found", "not_routable", "invalid"] {
        assert!(statuses.contains(status), "no {status} in {statuses:?}");
    }
}

#[tokio::test]
async fn deferred_results_and_the_single_routes_match_their_types_schema() {
    // Arrange: one VirusTotal call a minute.
    let app = spawn_app_with(Options::default().configure(|s| {
        s.virustotal.rate_per_minute = 1;
    }))
    .await;

    // Act
    let batch = app.enrich_ok(json!(["8.8.8.8", "9.9.9.9"]), 0).await;
    let (_, domain) = app.get_json("/v1/domain/example.com").await;
    let (_, file) = app.get_json(&format!("/v1/file/{EICAR_MD5}")).await;
    let (_, url) = app
        .get_json("/v1/url?url=https%3A%2F%2Fexample.com%2F")
        .await;

    // Assert
    let r = results(&batch);
    assert_eq!(r[1]["status"], "deferred", "{batch}");
    for result in r {
        assert_valid("IpResult", result);
    }
    assert_valid("DomainResult", &domain);
    assert_valid("FileResult", &file);
    assert_valid("UrlResult", &url);
    assert!(!validator("IpResult").is_valid(&domain));
}
