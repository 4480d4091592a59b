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

/// The artifacts of `dataType` in a report, as `data` values.
fn artifacts_of<'a>(report: &'a Value, data_type: &str) -> Vec<&'a str> {
    report["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter(|a| a["dataType"] == data_type)
        .map(|a| a["data"].as_str().expect("artifact data"))
        .collect()
}

#[tokio::test]
async fn process_domain_fqdn_url_and_hash_jobs_report_their_results_taxonomies_and_artifacts() {
    let vtenrich = demo().await;
    let config = json!({"url": vtenrich.base, "max_wait_ms": 5000});
    let md5 = "44d88612fea8a8f36de82e1278abb02f";

    let mut reports = Vec::new();
    for (data_type, data, kind) in [
        ("domain", "example.com", "domain"),
        ("fqdn", "www.google.com", "domain"),
        ("url", "http://example.com/", "url"),
        ("hash", md5, "file"),
    ] {
        let (ok, report) = job(data_type, data, config.clone()).await;
        assert!(ok, "{data_type}: {report}");
        assert_eq!(report["success"], true);
        assert_eq!(report["full"]["observable"], data);
        assert_eq!(report["full"]["type"], kind, "{data_type}");
        assert_eq!(report["full"]["status"], "ok");
        let taxonomies = report["summary"]["taxonomies"].as_array().unwrap();
        let verdict = &report["full"]["reputation"]["verdict"];
        assert_eq!(taxonomies[0]["predicate"], "Verdict");
        assert_eq!(&taxonomies[0]["value"], verdict);
        assert_eq!(taxonomies[1]["predicate"], "Detections");
        assert!(taxonomies.iter().all(|t| t["namespace"] == "VTenrich"));
        reports.push(report);
    }
    let [domain, fqdn, url, file] = &reports[..] else {
        unreachable!()
    };

    for report in [domain, fqdn] {
        let dns = &report["full"]["domain"]["dns_records"];
        let resolved: Vec<&str> = ["a", "aaaa"]
            .iter()
            .flat_map(|r| dns[r].as_array().unwrap())
            .map(|ip| ip.as_str().unwrap())
            .collect();
        assert!(!resolved.is_empty(), "{report}");
        assert_eq!(
            artifacts_of(report, "ip"),
            resolved,
            "the resolved addresses"
        );
    }
    assert_eq!(url["full"]["url"]["final_url"], "https://example.com/");
    assert_eq!(
        artifacts_of(url, "url"),
        ["https://example.com/"],
        "the final URL"
    );
    let facts = &file["full"]["file"];
    assert_eq!(
        artifacts_of(file, "hash"),
        [&facts["sha1"], &facts["sha256"]].map(|h| h.as_str().unwrap()),
        "the other two hashes"
    );
    assert_eq!(
        artifacts_of(file, "filename"),
        [facts["meaningful_name"].as_str().unwrap()]
    );
    let label = &facts["popular_threat_classification"]["suggested_threat_label"];
    let threat = &file["summary"]["taxonomies"][2];
    assert_eq!(threat["predicate"], "Threat");
    assert_eq!(&threat["value"], label);
    assert_eq!(threat["level"], "malicious", "EICAR is always detected");
}

#[tokio::test]
async fn process_an_unknown_data_type_and_a_malformed_hash_fail_with_an_error_message() {
    let vtenrich = demo().await;

    let (unknown_ok, unknown) = job("mail", "a@example.com", json!({"url": vtenrich.base})).await;
    let (hash_ok, hash) = job("hash", "not-a-hash", json!({"url": vtenrich.base})).await;

    assert!(!unknown_ok && !hash_ok);
    assert_eq!(unknown["success"], false);
    let message = unknown["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("does not enrich mail observables"),
        "{message}"
    );
    assert!(message.contains("domain, fqdn, url, hash"), "{message}");
    assert_eq!(hash["success"], false);
    assert!(
        hash["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("invalid"),
        "{hash}"
    );
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
