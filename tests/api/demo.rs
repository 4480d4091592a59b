//! `vtenrich demo` runs the whole service against the simulator with no key.

use std::time::Duration;

use crate::support::service::Service;

/// Starts `vtenrich demo` with `args` and `vars`, logging only warnings so that the address
/// comes from the banner the demo prints (it picks a free port when asked for port 0).
async fn start_demo(args: &[&str], vars: &[(&str, &str)]) -> (Service, String) {
    let demo = Service::builder()
        .subcommand("demo")
        .args(args)
        .env("VTENRICH_LOG", "warn")
        .env("VTENRICH_LOG_FORMAT", "text")
        .envs(vars)
        .start()
        .await;
    let base = demo.base.clone();
    (demo, base)
}

#[tokio::test]
async fn process_the_demo_answers_a_single_lookup_with_a_full_result() {
    // Arrange: port 0, since 8080 may be taken on a CI machine; the demo prints its address.
    let (child, base) = start_demo(&["--listen", "127.0.0.1:0"], &[]).await;

    // Act
    let mut body = serde_json::Value::Null;
    for _ in 0..50 {
        match reqwest::get(format!("{base}/v1/ip/8.8.8.8")).await {
            Ok(response) => {
                body = response.json().await.expect("JSON");
                break;
            }
            Err(err) => eprintln!("{base}: {err:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Assert
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["observable"], "8.8.8.8");
    assert_eq!(body["network"]["asn"], 15169);
    assert_eq!(body["geo"]["country"]["name"], "United States of America");
    assert!(body["reputation"]["verdict"].is_string(), "{body}");
    drop(child);
}

#[tokio::test]
async fn process_the_demo_answers_its_printed_example_of_each_type() {
    let (child, base) = start_demo(&["--listen", "127.0.0.1:0"], &[]).await;

    let mut kinds = Vec::new();
    for path in [
        "/v1/domain/example.com",
        "/v1/url?url=https%3A%2F%2Fgithub.com%2F",
        "/v1/file/44d88612fea8a8f36de82e1278abb02f",
    ] {
        let body: serde_json::Value = reqwest::get(format!("{base}{path}"))
            .await
            .expect("the demo answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(body["status"], "ok", "{path}: {body}");
        kinds.push(body["type"].as_str().unwrap_or_default().to_owned());
    }

    assert_eq!(kinds, ["domain", "url", "file"]);
    drop(child);
}

#[tokio::test]
async fn process_the_demo_listens_where_the_environment_says_and_never_touches_a_data_dir() {
    // Arrange: a deployment's settings, as the Kubernetes base sets them.
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let (child, base) = start_demo(
        &[],
        &[
            ("VTENRICH_LISTEN", "127.0.0.1:0"),
            ("VTENRICH_DATA_DIR", data_dir),
        ],
    )
    .await;

    // Act
    let body: serde_json::Value = reqwest::get(format!("{base}/v1/ip/1.1.1.1"))
        .await
        .expect("the demo answers")
        .json()
        .await
        .expect("JSON");

    // Assert: the environment's port 0 was used (not the old fixed 8080), and the simulated
    // answer was written nowhere a later `serve` could read it as VirusTotal data.
    assert_eq!(body["status"], "ok", "{body}");
    assert!(!base.ends_with(":8080"), "{base}");
    drop(child);
    let files: Vec<_> = std::fs::read_dir(data.path()).unwrap().collect();
    assert!(
        files.is_empty(),
        "the demo wrote into VTENRICH_DATA_DIR: {files:?}"
    );
}

#[tokio::test]
async fn process_the_demo_requires_keys_when_the_operator_configured_callers() {
    // Arrange: a caller of the operator's own, as `.ci/check-openapi` configures one.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("callers.toml");
    let hash = vtenrich::http::hash_key("a-key-of-the-operators-own");
    std::fs::write(
        &config,
        format!("[[callers]]\nid = \"ops\"\nkey_sha256 = [\"{hash}\"]\n"),
    )
    .unwrap();
    let (child, base) = start_demo(
        &["--listen", "127.0.0.1:0"],
        &[("VTENRICH_CONFIG", config.to_str().unwrap())],
    )
    .await;

    // Act
    let http = reqwest::Client::new();
    let anonymous = http
        .get(format!("{base}/v1/ip/8.8.8.8"))
        .send()
        .await
        .unwrap();
    let with_key = http
        .get(format!("{base}/v1/ip/8.8.8.8"))
        .bearer_auth("a-key-of-the-operators-own")
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(anonymous.status().as_u16(), 401);
    assert_eq!(with_key.status().as_u16(), 200);
    drop(child);
}
