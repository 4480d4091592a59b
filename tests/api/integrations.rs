//! The platform adapters over HTTP: the misp-modules protocol, `/v1/lookup` for Dynatrace,
//! `fields=` trimming and `format=ecs`. The real client libraries drive them in
//! `tests/integrations/`.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use vtenrich::config::CallerSettings;
use vtenrich::http::hash_key;
use vtenrich::simulator::Fault;

use crate::helpers::{Options, TestApp, known_addresses, spawn_app, spawn_app_with};

async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    send(
        app,
        app.http.post(format!("{}{path}", app.address)).json(&body),
    )
    .await
}

async fn send(_app: &TestApp, request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value)
}

/// A service with one caller, `id`, whose key is `key`.
async fn app_with_caller(id: &'static str, key: &'static str) -> TestApp {
    spawn_app_with(Options::default().configure(move |s| {
        s.callers = vec![CallerSettings {
            id: id.into(),
            key_sha256: vec![hash_key(key)],
            ..CallerSettings::default()
        }];
    }))
    .await
}

fn misp_query(kind: &str, value: &str) -> Value {
    json!({"module": "vtenrich", "attribute": {"type": kind, "value": value,
           "uuid": "5f2b7c4e-1111-4c3e-9a55-0c4a5d3e2b10"}, "config": {}})
}

fn object_names(answer: &Value) -> Vec<&str> {
    answer["results"]["Object"]
        .as_array()
        .unwrap_or_else(|| panic!("no objects: {answer}"))
        .iter()
        .map(|o| o["name"].as_str().expect("a name"))
        .collect()
}

#[tokio::test]
async fn misp_lists_one_expansion_module_taking_the_ip_attribute_types() {
    let app = spawn_app().await;

    let (status, modules) = app.get_json("/modules").await;

    assert_eq!(status, 200);
    assert_eq!(modules[0]["name"], "vtenrich");
    assert_eq!(modules[0]["type"], "expansion");
    assert_eq!(
        modules[0]["mispattributes"],
        json!({"input": ["ip-src", "ip-dst"], "format": "misp_standard"})
    );
    assert_eq!(modules[0]["meta"]["config"], json!(["caller_key"]));
    assert!(
        modules[0]["meta"]["module-type"]
            .as_array()
            .unwrap()
            .contains(&json!("expansion"))
    );
}

#[tokio::test]
async fn a_misp_query_answers_report_host_and_asn_objects_from_one_call_then_from_cache() {
    let app = spawn_app().await;
    let ip = &known_addresses(1)[0];

    let (status, first) = post(&app, "/query", misp_query("ip-src", ip)).await;
    let (_, second) = post(&app, "/query", misp_query("ip-dst", ip)).await;

    assert_eq!(status, 200, "{first}");
    assert_eq!(
        object_names(&first),
        ["virustotal-report", "domain-ip", "asn"]
    );
    assert_eq!(object_names(&second), object_names(&first));
    assert_eq!(
        app.sim.calls_for(ip),
        1,
        "the second query is served from cache"
    );
    let objects = first["results"]["Object"].as_array().unwrap();
    let report = &objects[0];
    let relation = |o: &Value, r: &str| {
        o["Attribute"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["object_relation"] == r)
            .map(|a| a["value"].clone())
    };
    assert_eq!(
        relation(report, "permalink"),
        Some(json!(format!(
            "https://www.virustotal.com/gui/ip-address/{ip}"
        )))
    );
    let ratio = relation(report, "detection-ratio").expect("a detection ratio");
    assert!(ratio.as_str().unwrap().contains('/'), "{ratio}");
    assert_eq!(relation(&objects[1], "ip"), Some(json!(ip)));
    assert_eq!(
        objects[1]["ObjectReference"][0]["referenced_uuid"],
        report["uuid"]
    );
    assert!(relation(&objects[2], "asn").is_some());
}

#[tokio::test]
async fn the_legacy_misp_request_form_is_answered_too() {
    let app = spawn_app().await;
    let ip = &known_addresses(1)[0];

    let (status, answer) = post(&app, "/query", json!({"module": "vtenrich", "ip-dst": ip})).await;

    assert_eq!(status, 200);
    assert_eq!(object_names(&answer)[0], "virustotal-report");
}

#[tokio::test]
async fn misp_types_not_supported_yet_and_bad_values_get_misps_error_shape() {
    let app = spawn_app().await;

    let (domain_status, domain) = post(&app, "/query", misp_query("domain", "example.com")).await;
    let (_, unknown) = post(
        &app,
        "/query",
        misp_query("btc", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
    )
    .await;
    let (_, invalid) = post(&app, "/query", misp_query("ip-src", "999.1.1.1")).await;
    let (_, private) = post(&app, "/query", misp_query("ip-src", "10.1.2.3")).await;
    let (bad_status, not_json) = send(
        &app,
        app.http.post(format!("{}/query", app.address)).body("{"),
    )
    .await;

    assert_eq!(domain_status, 200);
    let said = |v: &Value| {
        v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_owned()
    };
    assert!(
        said(&domain).contains("does not enrich domain attributes yet"),
        "{domain}"
    );
    assert_eq!(said(&unknown), "Unsupported attribute type.");
    assert!(
        said(&invalid).starts_with("not a valid ip-src value"),
        "{invalid}"
    );
    assert!(
        said(&private).contains("never sent to VirusTotal"),
        "{private}"
    );
    assert_eq!(bad_status, 400);
    assert_eq!(not_json["error"]["code"], "invalid_json");
    assert_eq!(app.sim.ip_call_count(), 0);
}

#[tokio::test]
async fn a_misp_query_that_outlasts_misps_patience_answers_deferred_and_fills_the_cache() {
    let app = spawn_app().await;
    let ip = &known_addresses(1)[0];
    // Longer than the 4 s MISP deadline, shorter than the 5 s upstream timeout.
    app.sim
        .inject(ip, Fault::Delay(Duration::from_millis(4_600)), 1);

    let (status, answer) = post(&app, "/query", misp_query("ip-src", ip)).await;

    assert_eq!(status, 200);
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("deferred"),
        "{answer}"
    );
    // The lookup went on without the query; once it lands, the next hover is answered.
    let mut retried = Value::Null;
    for _ in 0..100 {
        retried = post(&app, "/query", misp_query("ip-src", ip)).await.1;
        if retried.get("results").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(object_names(&retried)[0], "virustotal-report");
    assert_eq!(app.sim.calls_for(ip), 1);
}

#[tokio::test]
async fn with_callers_misp_authenticates_the_module_configs_caller_key() {
    const KEY: &str = "misp-caller-key-7a6b";
    let app = app_with_caller("misp", KEY).await;
    let ip = &known_addresses(1)[0];
    let mut keyed = misp_query("ip-src", ip);
    keyed["config"] = json!({"caller_key": KEY});
    let mut wrong = keyed.clone();
    wrong["config"]["caller_key"] = json!("not-the-key");

    let (modules_status, _) = app.get_json("/modules").await;
    let (_, refused) = post(&app, "/query", misp_query("ip-src", ip)).await;
    let (_, refused_wrong) = post(&app, "/query", wrong).await;
    let (_, answered) = post(&app, "/query", keyed).await;
    let (enrich_status, _) = post(&app, "/v1/enrich", json!({"observables": [ip]})).await;

    assert_eq!(modules_status, 200, "MISP lists modules without a key");
    for refusal in [&refused, &refused_wrong] {
        assert!(
            refusal["error"].as_str().unwrap().contains("caller_key"),
            "{refusal}"
        );
        assert!(!refusal.to_string().contains("not-the-key"));
    }
    assert_eq!(object_names(&answered)[0], "virustotal-report");
    assert_eq!(enrich_status, 401, "only /query reads a key from its body");
    assert_eq!(app.sim.calls_for(ip), 1);
}

#[tokio::test]
async fn lookup_takes_the_observable_by_query_body_object_or_body_string() {
    let app = spawn_app().await;
    let ip = &known_addresses(1)[0];
    let url = format!("{}/v1/lookup", app.address);

    let (get_status, by_query) = app.get_json(&format!("/v1/lookup?observable={ip}")).await;
    let (post_status, by_object) = send(
        &app,
        app.http
            .post(&url)
            .json(&json!({"observable": {"type": "ip-addr", "value": ip}})),
    )
    .await;
    let (put_status, by_string) =
        send(&app, app.http.put(&url).json(&json!({"observable": ip}))).await;

    assert_eq!([get_status, post_status, put_status], [200, 200, 200]);
    for result in [&by_query, &by_object, &by_string] {
        assert_eq!(result["observable"], json!(ip));
        assert_eq!(result["status"], "ok");
    }
    assert_eq!(app.sim.calls_for(ip), 1);
}

#[tokio::test]
async fn lookup_refuses_types_not_supported_yet_and_bad_values_in_the_error_shape() {
    let app = spawn_app().await;
    let url = format!("{}/v1/lookup", app.address);

    let (domain_status, domain) = send(
        &app,
        app.http
            .post(&url)
            .json(&json!({"observable": {"type": "domain-name", "value": "example.com"}})),
    )
    .await;
    let (bad_status, bad) = app.get_json("/v1/lookup?observable=999.1.1.1").await;
    let (shape_status, _) = send(&app, app.http.post(&url).json(&json!({"observable": 42}))).await;

    assert_eq!(domain_status, 422);
    assert_eq!(domain["error"]["code"], "unsupported_observable_type");
    assert!(
        domain["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`domain-name` observables are not supported yet")
    );
    assert_eq!(bad_status, 400);
    assert_eq!(bad["error"]["code"], "invalid_observable");
    assert_eq!(shape_status, 422);
}

#[tokio::test]
async fn fields_trims_every_lookup_route_and_an_unknown_path_is_a_422_naming_it() {
    let app = spawn_app().await;
    let ip = &known_addresses(1)[0];
    let fields = "fields=observable,status,reputation.verdict,geo.country.iso_code";

    let (_, by_path) = app.get_json(&format!("/v1/ip/{ip}?{fields}")).await;
    let (_, by_query) = app
        .get_json(&format!("/v1/lookup?observable={ip}&{fields}"))
        .await;
    let (_, batch) = post(
        &app,
        &format!("/v1/enrich?{fields}"),
        json!({"observables": [ip]}),
    )
    .await;
    let (bad_status, bad) = app
        .get_json(&format!("/v1/ip/{ip}?fields=status,geo.contry"))
        .await;

    for result in [&by_path, &by_query, &batch["results"][0]] {
        let keys: BTreeSet<&str> = result
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["geo", "observable", "reputation", "status"])
        );
        assert_eq!(result["reputation"].as_object().unwrap().len(), 1);
        assert!(result["geo"]["country"]["iso_code"].is_string(), "{result}");
    }
    assert_eq!(batch["summary"]["total"], 1);
    assert_eq!(bad_status, 422);
    assert_eq!(bad["error"]["code"], "invalid_fields");
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`geo.contry`")
    );
}

#[tokio::test]
async fn a_thousand_item_batch_with_fields_fits_a_dynatrace_task_result() {
    let app = spawn_app().await;
    let ips = known_addresses(1_000);
    let body = json!({"observables": ips, "max_wait_ms": 30_000});
    let url = format!(
        "{}/v1/enrich?fields=observable,status,reputation.verdict,geo.country.iso_code",
        app.address
    );

    let full = app
        .http
        .post(format!("{}/v1/enrich", app.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    let full = full.bytes().await.unwrap();
    let trimmed = app.http.post(&url).json(&body).send().await.unwrap();
    let trimmed_status = trimmed.status().as_u16();
    let trimmed = trimmed.bytes().await.unwrap();

    assert_eq!(trimmed_status, 200);
    let parsed: Value = serde_json::from_slice(&trimmed).unwrap();
    assert_eq!(parsed["summary"]["by_status"]["ok"], 1_000);
    println!(
        "1,000 results: {} bytes in full, {} bytes with fields",
        full.len(),
        trimmed.len()
    );
    assert!(trimmed.len() < 1_000_000, "{} bytes", trimmed.len());
}

/// ECS 9.4.0's field names (tests/data, vendored from elastic/ecs tag v9.4.0).
fn ecs_fields() -> BTreeSet<String> {
    include_str!("../data/ecs-9.4.0-fields.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The dotted names of a document's leaf fields (arrays of scalars are one field).
fn leaf_names(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, member) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaf_names(member, &name, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

#[tokio::test]
async fn format_ecs_emits_only_fields_that_ecs_defines() {
    let app = spawn_app().await;
    let ip = &known_addresses(1)[0];
    let v6 = "2001:4860:4860::8888";

    let (_, single) = app.get_json(&format!("/v1/ip/{ip}?format=ecs")).await;
    let (_, lookup) = app
        .get_json(&format!("/v1/lookup?observable={v6}&format=ecs"))
        .await;
    let (status, batch) = post(
        &app,
        "/v1/enrich?format=ecs",
        json!({"observables": [ip, "10.0.0.1", "nope", v6]}),
    )
    .await;

    assert_eq!(status, 200);
    let known = ecs_fields();
    let mut emitted = BTreeSet::new();
    let documents: Vec<&Value> = [&single, &lookup]
        .into_iter()
        .chain(batch["results"].as_array().unwrap())
        .collect();
    for document in &documents {
        leaf_names(document, "", &mut emitted);
        assert_eq!(document["event"]["kind"], "enrichment");
        assert_eq!(document["event"]["category"], json!(["threat"]));
        assert_eq!(document["event"]["type"], json!(["indicator"]));
        assert_eq!(document["threat"]["indicator"]["provider"], "virustotal");
    }
    let foreign: Vec<&String> = emitted.iter().filter(|f| !known.contains(*f)).collect();
    assert!(foreign.is_empty(), "not ECS 9.4.0 fields: {foreign:?}");
    let indicator = &single["threat"]["indicator"];
    assert_eq!(indicator["type"], "ipv4-addr");
    assert_eq!(indicator["ip"], json!(ip));
    assert!(indicator["confidence"].is_string());
    assert!(indicator["scanner_stats"].is_u64());
    assert!(
        indicator["reference"]
            .as_str()
            .unwrap()
            .ends_with(ip.as_str())
    );
    assert!(indicator["as"]["number"].is_u64());
    assert!(indicator["geo"]["country_iso_code"].is_string());
    assert_eq!(lookup["threat"]["indicator"]["type"], "ipv6-addr");
    assert_eq!(batch["results"][1]["error"]["code"], "not_routable");
    for field in [
        "threat.indicator.confidence",
        "threat.indicator.scanner_stats",
        "threat.indicator.last_seen",
        "threat.indicator.modified_at",
        "threat.indicator.as.organization.name",
        "threat.indicator.geo.country_name",
        "@timestamp",
    ] {
        assert!(
            emitted.contains(field),
            "{field} never emitted: {emitted:?}"
        );
    }
}

#[tokio::test]
async fn with_fields_format_ecs_builds_the_document_from_what_is_kept() {
    let app = spawn_app().await;
    let ip = &known_addresses(1)[0];

    let (status, kept) = app
        .get_json(&format!(
            "/v1/ip/{ip}?format=ecs&fields=observable,type,reputation.verdict"
        ))
        .await;
    let (_, everything) = app
        .get_json(&format!("/v1/lookup?observable={ip}&fields="))
        .await;

    assert_eq!(status, 200);
    let indicator = kept["threat"]["indicator"].as_object().unwrap();
    let names: BTreeSet<&str> = indicator.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from(["confidence", "ip", "provider", "type"])
    );
    assert_eq!(
        everything["input"],
        json!(ip),
        "an empty `fields` keeps everything"
    );
}

fn shipped(relative: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("the shipped file"))
        .unwrap_or_else(|e| panic!("{relative} is not JSON: {e}"))
}

/// The shipped URL with its placeholder host replaced by the test's service.
fn on(app: &TestApp, url: &str) -> String {
    url.replace("https://vtenrich.example.internal", &app.address)
}

#[tokio::test]
async fn the_dynatrace_workflows_batch_request_is_accepted_and_answers_every_field_it_asks_for() {
    let app = spawn_app().await;
    let workflow = shipped("integrations/dynatrace/vtenrich-workflow.json");
    let task = &workflow["tasks"]["enrich_actor_ips"]["input"];
    let actor_ips = known_addresses(3);
    // What Dynatrace's Jinja renders `{{ event()["actor.ips"] | tojson }}` to.
    let payload = task["payload"].as_str().unwrap().replace(
        r#"{{ event()["actor.ips"] | tojson }}"#,
        &serde_json::to_string(&actor_ips).unwrap(),
    );
    let url = on(&app, task["url"].as_str().unwrap());

    let (status, answer) = send(
        &app,
        app.http
            .post(&url)
            .header("content-type", "application/json")
            .body(payload),
    )
    .await;

    assert_eq!(task["method"], "POST");
    assert_eq!(status, 200, "{answer}");
    let asked = url.split("fields=").nth(1).unwrap();
    for result in answer["results"].as_array().unwrap() {
        assert_eq!(result["status"], "ok");
        // Each asked path is there down to its end or to a null VirusTotal left empty.
        for path in asked.split(',') {
            let mut value = result;
            for key in path.split('.') {
                if value.is_null() {
                    break;
                }
                value = value
                    .get(key)
                    .unwrap_or_else(|| panic!("{path} missing in {result}"));
            }
        }
        assert!(result["reputation"]["verdict"].is_string(), "{result}");
    }
    assert_eq!(answer["summary"]["by_status"]["deferred"], 0);
}

#[tokio::test]
async fn the_dynatrace_connections_request_is_accepted_with_its_secret_header() {
    const KEY: &str = "dynatrace-caller-key-3c2b";
    let app = app_with_caller("dynatrace", KEY).await;
    let connection =
        &shipped("integrations/dynatrace/security-enrichment-connection.json")[0]["value"];
    let ip = &known_addresses(1)[0];
    let secret = connection["authenticationSecret"]
        .as_str()
        .unwrap()
        .replace("REPLACE-WITH-A-VTENRICH-CALLER-KEY", KEY);

    let (status, result) = send(
        &app,
        app.http
            .request(
                connection["httpMethod"].as_str().unwrap().parse().unwrap(),
                on(&app, connection["endpointUrl"].as_str().unwrap()),
            )
            .header("authorization", secret)
            .json(&json!({"observable": {"type": "ip-addr", "value": ip}})),
    )
    .await;

    assert_eq!(status, 200, "{result}");
    assert_eq!(result["observable"], json!(ip));
}
