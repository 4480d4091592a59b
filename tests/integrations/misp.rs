//! MISP: PyMISP loads every vtenrich `/query` answer, of every attribute type, and
//! misp-modules' own VirusTotal module, run as shipped against the same simulator, answers on
//! the same object templates with more VirusTotal calls where vtenrich makes one.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{SIM_KEY, TestApp, known_addresses, spawn_app};
use crate::python::driver;
use crate::service::Service;

fn templates(names: &Value) -> BTreeSet<String> {
    names
        .as_array()
        .unwrap_or_else(|| panic!("a list of object names: {names}"))
        .iter()
        .map(|n| n.as_str().expect("a name").to_owned())
        .collect()
}

#[tokio::test]
async fn process_pymisp_loads_vtenrich_answers_on_the_templates_of_misp_modules_virustotal_module()
{
    let app = spawn_app().await;
    let ip = known_addresses(1).remove(0);
    let simulator_root = app
        .sim
        .base_url()
        .as_str()
        .trim_end_matches("/api/v3")
        .to_owned();

    let ours = driver("misp_driver.py", &["vtenrich", &app.address, "ip-src", &ip]).await;
    let vtenrich_calls = app.sim.calls_for(&ip);
    let theirs = driver(
        "misp_driver.py",
        &["misp-modules", &simulator_root, "ip-src", &ip, SIM_KEY],
    )
    .await;
    let module_calls = app.sim.calls_for(&ip) - vtenrich_calls;

    assert_eq!(ours["modules"], serde_json::json!(["vtenrich"]));
    assert_eq!(
        templates(&ours["attribute"]),
        templates(&theirs["attribute"])
    );
    assert_eq!(templates(&ours["legacy"]), templates(&ours["attribute"]));
    assert_eq!(
        templates(&ours["attribute"]),
        BTreeSet::from(["asn".into(), "domain-ip".into(), "virustotal-report".into()])
    );
    assert_eq!(vtenrich_calls, 1, "two queries, one VirusTotal call");
    assert_eq!(
        module_calls, 2,
        "misp-modules: the report and its resolutions"
    );
}

/// EICAR's hashes, which the simulator always knows.
const EICAR: [(&str, &str); 3] = [
    ("md5", "44d88612fea8a8f36de82e1278abb02f"),
    ("sha1", "3395856ce81f2b7382dee72602f798b642f14140"),
    (
        "sha256",
        "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
    ),
];

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// The simulator's root URL, where misp-modules' vt-py client connects.
fn simulator_root(app: &TestApp) -> String {
    let base = app.sim.base_url();
    base.as_str().trim_end_matches("/api/v3").to_owned()
}

#[tokio::test]
async fn process_pymisp_loads_vtenrich_answers_for_every_misp_attribute_type_in_both_request_forms()
{
    let app = spawn_app().await;
    let ips = known_addresses(2);
    let address = set(&["virustotal-report", "domain-ip", "asn"]);
    let domain = set(&["virustotal-report", "domain-ip", "whois"]);
    let mut cases = vec![
        ("ip-src", ips[0].as_str(), address.clone()),
        ("ip-dst", ips[1].as_str(), address),
        ("domain", "example.com", domain.clone()),
        ("hostname", "www.google.com", domain),
        (
            "url",
            "http://example.com/",
            set(&["virustotal-report", "url"]),
        ),
    ];
    for (kind, hash) in EICAR {
        cases.push((kind, hash, set(&["virustotal-report", "file"])));
    }

    for (kind, value, expected) in cases {
        let before = app.sim.total_call_count();
        let answers = driver("misp_driver.py", &["vtenrich", &app.address, kind, value]).await;
        let calls = app.sim.total_call_count() - before;

        assert_eq!(templates(&answers["attribute"]), expected, "{kind}");
        assert_eq!(
            templates(&answers["legacy"]),
            expected,
            "{kind}: legacy form"
        );
        // A file's report carries all three hashes, so a later hash may come from the cache.
        assert!(calls <= 1, "{kind}: two queries, {calls} VirusTotal calls");
        if !kind.starts_with("sha") {
            assert_eq!(calls, 1, "{kind}: a new observable costs one call");
        }
    }
}

#[tokio::test]
async fn process_misp_modules_answers_domains_urls_and_hashes_on_vtenrichs_templates_with_more_calls()
 {
    let app = spawn_app().await;
    let root = simulator_root(&app);

    // (type, value, calls misp-modules makes: the object plus each relationship it lists)
    for (kind, value, module_calls) in [
        ("domain", "example.com", 6),
        ("url", "http://example.com/", 1),
        ("md5", EICAR[0].1, 4),
    ] {
        let before = app.sim.total_call_count();
        let ours = driver("misp_driver.py", &["vtenrich", &app.address, kind, value]).await;
        let vtenrich_calls = app.sim.total_call_count() - before;
        let theirs = driver(
            "misp_driver.py",
            &["misp-modules", &root, kind, value, SIM_KEY],
        )
        .await;
        let their_calls = app.sim.total_call_count() - before - vtenrich_calls;

        assert_eq!(
            templates(&ours["attribute"]),
            templates(&theirs["attribute"]),
            "{kind}: the same object templates"
        );
        assert_eq!(
            vtenrich_calls, 1,
            "{kind}: two queries, one VirusTotal call"
        );
        assert_eq!(their_calls, module_calls, "{kind}: misp-modules' calls");
    }
}

#[tokio::test]
async fn process_the_misp_listener_serves_only_the_misp_routes_and_pymisp_loads_its_answers() {
    let vtenrich = Service::start_command("demo", &[("VTENRICH_MISP_LISTEN", "127.0.0.1:0")]).await;
    let misp = vtenrich
        .logs()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["fields"]["message"] == "misp-modules routes listening")
        .and_then(|line| {
            line["fields"]["address"]
                .as_str()
                .map(|a| format!("http://{a}"))
        })
        .expect("the MISP listener logs its address");
    let ip = known_addresses(1).remove(0);
    let http = reqwest::Client::new();

    let answers = driver("misp_driver.py", &["vtenrich", &misp, "ip-dst", &ip]).await;
    let enrich = http
        .post(format!("{misp}/v1/enrich"))
        .json(&serde_json::json!({"observables": [ip]}))
        .send()
        .await
        .expect("the MISP listener answers");
    let metrics = http.get(format!("{misp}/metrics")).send().await.unwrap();

    assert_eq!(answers["modules"], serde_json::json!(["vtenrich"]));
    assert!(templates(&answers["attribute"]).contains("virustotal-report"));
    assert_eq!(enrich.status().as_u16(), 404);
    let body: Value = enrich.json().await.expect("the error shape");
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(metrics.status().as_u16(), 404);
}
