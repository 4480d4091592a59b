//! Cortex: the analyzer in `integrations/cortex/` runs under `cortexutils` on real job
//! directories (`input/input.json` -> `output/output.json`) against a running `vtenrich demo`.

use serde_json::{Value, json};

use crate::helpers::known_addresses;
use crate::python::{in_repo, run};
use crate::service::Service;

const ANALYZER: &str = "integrations/cortex/VTenrich/vtenrich_analyzer.py";

/// Runs the analyzer on a fresh job for `data_type`/`data` with `config`: exit success and
/// the report it wrote.
async fn job(data_type: &str, data: &str, config: Value) -> (bool, Value) {
    let dir = tempfile::tempdir().expect("a job directory");
    std::fs::create_dir(dir.path().join("input")).unwrap();
    let input = json!({"dataType": data_type, "data": data, "tlp": 2, "pap": 2,
                       "message": "", "config": config});
    std::fs::write(dir.path().join("input/input.json"), input.to_string()).unwrap();

    let job_dir = dir.path().to_str().expect("a UTF-8 path");
    let (ok, stdout, stderr) = run(&in_repo(ANALYZER), &[job_dir]).await;

    let written = std::fs::read_to_string(dir.path().join("output/output.json"))
        .unwrap_or_else(|e| panic!("no output/output.json ({e}):\n{stderr}\n{stdout}"));
    (ok, serde_json::from_str(&written).expect("a JSON report"))
}

async fn demo() -> Service {
    Service::start_command("demo", &[]).await
}

#[tokio::test]
async fn process_an_ip_job_reports_the_result_its_taxonomies_and_artifacts() {
    let vtenrich = demo().await;
    let ip = known_addresses(1).remove(0);

    let (ok, report) = job(
        "ip",
        &ip,
        json!({"url": vtenrich.base, "max_wait_ms": 5000}),
    )
    .await;

    assert!(ok, "{report}");
    assert_eq!(report["success"], true);
    assert_eq!(report["full"]["observable"], json!(ip));
    assert_eq!(report["full"]["status"], "ok");
    let taxonomies = report["summary"]["taxonomies"]
        .as_array()
        .expect("taxonomies");
    let predicates: Vec<&str> = taxonomies
        .iter()
        .map(|t| t["predicate"].as_str().unwrap())
        .collect();
    assert_eq!(predicates, ["Verdict", "Detections"]);
    let verdict = report["full"]["reputation"]["verdict"].as_str().unwrap();
    let level = match verdict {
        "malicious" => "malicious",
        "suspicious" => "suspicious",
        "harmless" => "safe",
        _ => "info",
    };
    for taxonomy in taxonomies {
        assert_eq!(taxonomy["namespace"], "VTenrich");
        assert_eq!(taxonomy["level"], level, "{taxonomy}");
    }
    assert_eq!(taxonomies[0]["value"], verdict);
    let asn = report["full"]["network"]["asn"].to_string();
    let artifacts = report["artifacts"].as_array().expect("artifacts");
    assert!(
        artifacts
            .iter()
            .any(|a| a["dataType"] == "autonomous-system" && a["data"] == json!(asn)),
        "{artifacts:?}"
    );
    assert!(
        artifacts.iter().any(|a| a["dataType"] == "other"),
        "the country: {artifacts:?}"
    );
}

#[tokio::test]
async fn process_every_other_cortex_data_type_fails_as_not_supported_yet() {
    let vtenrich = demo().await;

    for (data_type, data) in [
        ("domain", "example.com"),
        ("fqdn", "www.example.com"),
        ("url", "https://example.com/x"),
        (
            "hash",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    ] {
        let (ok, report) = job(data_type, data, json!({"url": vtenrich.base})).await;

        assert!(!ok, "{data_type}: the job fails");
        assert_eq!(report["success"], false);
        let message = report["errorMessage"].as_str().unwrap();
        assert!(
            message.contains(&format!("{data_type} observables yet")),
            "{message}"
        );
    }
}

#[tokio::test]
async fn process_a_bad_value_a_refused_key_and_an_unreachable_vtenrich_fail_with_an_error_message()
{
    let vtenrich = demo().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };

    let (_, invalid) = job("ip", "999.1.1.1", json!({"url": vtenrich.base})).await;
    let (_, refused) = job(
        "ip",
        "8.8.8.8",
        json!({"url": vtenrich.base, "key": "not-a-caller-key-5e4d"}),
    )
    .await;
    let (_, unreachable) = job("ip", "8.8.8.8", json!({"url": closed})).await;

    for report in [&invalid, &refused, &unreachable] {
        assert_eq!(report["success"], false, "{report}");
        assert!(report["errorMessage"].is_string());
        assert!(
            !report.to_string().contains("not-a-caller-key-5e4d"),
            "{report}"
        );
    }
    assert!(
        invalid["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("invalid")
    );
    assert!(refused["errorMessage"].as_str().unwrap().contains("401"));
    assert!(
        unreachable["errorMessage"]
            .as_str()
            .unwrap()
            .contains("unreachable")
    );
}
