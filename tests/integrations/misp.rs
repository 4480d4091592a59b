//! MISP: PyMISP loads every vtenrich `/query` answer, and misp-modules' own VirusTotal module,
//! run as shipped against the same simulator, answers on the same object templates with two
//! VirusTotal calls where vtenrich makes one.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{SIM_KEY, known_addresses, spawn_app};
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

    let ours = driver("misp_driver.py", &["vtenrich", &app.address, &ip]).await;
    let vtenrich_calls = app.sim.calls_for(&ip);
    let theirs = driver(
        "misp_driver.py",
        &["misp-modules", &simulator_root, &ip, SIM_KEY],
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

    let answers = driver("misp_driver.py", &["vtenrich", &misp, &ip]).await;
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
