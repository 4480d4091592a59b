//! MISP: PyMISP loads every vtenrich `/query` answer, and misp-modules' own VirusTotal module,
//! run as shipped against the same simulator, answers on the same object templates with two
//! VirusTotal calls where vtenrich makes one.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{SIM_KEY, known_addresses, spawn_app};
use crate::python::driver;

fn templates(names: &Value) -> BTreeSet<String> {
    names
        .as_array()
        .unwrap_or_else(|| panic!("a list of object names: {names}"))
        .iter()
        .map(|n| n.as_str().expect("a name").to_owned())
        .collect()
}

#[tokio::test]
async fn pymisp_loads_vtenrich_answers_on_the_templates_of_misp_modules_virustotal_module() {
    let app = spawn_app().await;
    let ip = known_addresses(1).remove(0);
    let simulator_root = app.sim.base_url().as_str().trim_end_matches("/api/v3").to_owned();

    let ours = driver("misp_driver.py", &["vtenrich", &app.address, &ip]).await;
    let vtenrich_calls = app.sim.calls_for(&ip);
    let theirs = driver(
        "misp_driver.py",
        &["misp-modules", &simulator_root, &ip, SIM_KEY],
    )
    .await;
    let module_calls = app.sim.calls_for(&ip) - vtenrich_calls;

    assert_eq!(ours["modules"], serde_json::json!(["vtenrich"]));
    assert_eq!(templates(&ours["attribute"]), templates(&theirs["attribute"]));
    assert_eq!(templates(&ours["legacy"]), templates(&ours["attribute"]));
    assert_eq!(
        templates(&ours["attribute"]),
        BTreeSet::from(["asn".into(), "domain-ip".into(), "virustotal-report".into()])
    );
    assert_eq!(vtenrich_calls, 1, "two queries, one VirusTotal call");
    assert_eq!(module_calls, 2, "misp-modules: the report and its resolutions");
}
