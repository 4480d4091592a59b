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
async fn misp_lists_one_expansion_module_taking_every_attribute_type_virustotal_public_takes() {
    let app = spawn_app().await;

    let (status, modules) = app.get_json("/modules").await;

    assert_eq!(status, 200);
    assert_eq!(modules[0]["name"], "vtenrich");
    assert_eq!(modules[0]["type"], "expansion");
    assert_eq!(
        modules[0]["mispattributes"],
        json!({"input": ["ip-src", "ip-dst", "domain", "hostname", "url", "md5", "sha1", "sha256"],
               "format": "misp_standard"})
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
async fn misp_unknown_types_and_bad_values_get_misps_error_shape() {
    let app = spawn_app().await;
    let sha256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

    let (_, unknown) = post(
        &app,
        "/query",
        misp_query("btc", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
    )
    .await;
    let (_, invalid) = post(&app, "/query", misp_query("ip-src", "999.1.1.1")).await;
    let (_, bad_domain) = post(&app, "/query", misp_query("domain", "exa mple.com")).await;
    let (_, bad_url) = post(&app, "/query", misp_query("url", "ftp://example.com/")).await;
    let (_, wrong_digest) = post(&app, "/query", misp_query("md5", sha256)).await;
    let (_, private) = post(&app, "/query", misp_query("ip-src", "10.1.2.3")).await;
    let (bad_status, not_json) = send(
        &app,
        app.http.post(format!("{}/query", app.address)).body("{"),
    )
    .await;

    let said = |v: &Value| {
        v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_owned()
    };
    assert_eq!(said(&unknown), "Unsupported attribute type.");
    assert!(
        said(&invalid).starts_with("not a valid ip-src value"),
        "{invalid}"
    );
    assert!(
        said(&bad_domain).starts_with("not a valid domain value"),
        "{bad_domain}"
    );
    assert!(
        said(&bad_url).starts_with("not a valid url value"),
        "{bad_url}"
    );
    assert!(
        said(&wrong_digest).starts_with("not a valid md5 value"),
        "an md5 attribute holding a SHA-256: {wrong_digest}"
    );
    assert!(
        said(&private).contains("never sent to VirusTotal"),
        "{private}"
    );
    assert_eq!(bad_status, 400);
    assert_eq!(not_json["error"]["code"], "invalid_json");
    assert_eq!(app.sim.total_call_count(), 0);
}

/// The values of `relation` in a MISP object, in order.
fn values<'a>(object: &'a Value, relation: &str) -> Vec<&'a str> {
    object["Attribute"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["object_relation"] == relation)
        .map(|a| a["value"].as_str().expect("a text value"))
        .collect()
}

/// The object named `name` in a MISP answer.
fn object<'a>(answer: &'a Value, name: &str) -> &'a Value {
    answer["results"]["Object"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no {name} object: {answer}"))
}

/// Asserts `from` refers to `to` as `relationship`.
fn refers(from: &Value, to: &Value, relationship: &str) {
    assert!(
        from["ObjectReference"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["referenced_uuid"] == to["uuid"] && r["relationship_type"] == relationship),
        "{} does not refer to {} as {relationship}",
        from["name"],
        to["name"]
    );
}

#[tokio::test]
async fn a_misp_domain_query_answers_its_report_resolved_addresses_and_whois_from_one_call() {
    let app = spawn_app().await;
    let (_, facts) = app.get_json("/v1/domain/example.com").await;

    let (_, domain) = post(&app, "/query", misp_query("domain", "example.com")).await;
    let (_, host) = post(&app, "/query", misp_query("hostname", "example.com")).await;

    assert_eq!(
        object_names(&domain),
        ["virustotal-report", "domain-ip", "whois"]
    );
    let report = object(&domain, "virustotal-report");
    assert_eq!(
        values(report, "permalink"),
        [facts["link"].as_str().unwrap()]
    );
    assert_eq!(values(report, "detection-ratio").len(), 1);
    let resolved = object(&domain, "domain-ip");
    refers(resolved, report, "analyzed-with");
    assert_eq!(values(resolved, "domain"), ["example.com"]);
    let dns = &facts["domain"]["dns_records"];
    let addresses: Vec<&str> = ["a", "aaaa"]
        .iter()
        .flat_map(|r| dns[r].as_array().unwrap())
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(!addresses.is_empty());
    assert_eq!(values(resolved, "ip"), addresses);
    let created = facts["domain"]["creation_date"].as_str().unwrap();
    assert_eq!(values(resolved, "registration-date"), [created]);
    let whois = object(&domain, "whois");
    assert_eq!(
        values(whois, "registrar"),
        [facts["domain"]["registrar"].as_str().unwrap()]
    );
    assert_eq!(values(whois, "creation-date"), [created]);
    assert_eq!(
        values(whois, "nameserver").len(),
        dns["ns"].as_array().unwrap().len()
    );
    assert_eq!(
        values(object(&host, "domain-ip"), "hostname"),
        ["example.com"],
        "a hostname attribute stays a hostname"
    );
    assert_eq!(app.sim.total_call_count(), 1, "three answers, one call");
}

#[tokio::test]
async fn a_misp_url_query_answers_url_objects_down_to_where_the_fetch_landed() {
    let app = spawn_app().await;

    let (_, answer) = post(&app, "/query", misp_query("url", "http://example.com/")).await;

    assert_eq!(object_names(&answer), ["virustotal-report", "url", "url"]);
    let objects = answer["results"]["Object"].as_array().unwrap();
    let (report, asked, landed) = (&objects[0], &objects[1], &objects[2]);
    assert!(
        values(report, "permalink")[0].starts_with("https://www.virustotal.com/gui/url/"),
        "{report}"
    );
    refers(asked, report, "analyzed-with");
    assert_eq!(values(asked, "url"), ["http://example.com/"]);
    assert_eq!(values(asked, "scheme"), ["http"]);
    assert_eq!(values(asked, "host"), ["example.com"]);
    assert_eq!(values(asked, "resource_path"), ["/"]);
    assert_eq!(values(asked, "tld"), ["com"]);
    refers(asked, landed, "redirects-to");
    assert_eq!(values(landed, "url"), ["https://example.com/"]);
}

#[tokio::test]
async fn a_misp_hash_query_answers_a_file_object_with_all_three_hashes_size_and_name() {
    let app = spawn_app().await;
    let md5 = "44d88612fea8a8f36de82e1278abb02f";
    let (_, facts) = app.get_json(&format!("/v1/file/{md5}")).await;
    let facts = &facts["file"];

    let (_, answer) = post(&app, "/query", misp_query("md5", md5)).await;
    let (_, legacy) = post(&app, "/query", json!({"module": "vtenrich", "md5": md5})).await;

    assert_eq!(object_names(&answer), ["virustotal-report", "file"]);
    assert_eq!(object_names(&legacy), object_names(&answer));
    let report = object(&answer, "virustotal-report");
    assert_eq!(
        values(report, "first-submission"),
        [facts["first_submission_date"].as_str().unwrap()]
    );
    let file = object(&answer, "file");
    refers(file, report, "analyzed-with");
    for digest in ["md5", "sha1", "sha256"] {
        assert_eq!(values(file, digest), [facts[digest].as_str().unwrap()]);
    }
    assert_eq!(
        values(file, "size-in-bytes"),
        [facts["size"].to_string().as_str()]
    );
    assert_eq!(
        values(file, "filename"),
        [facts["meaningful_name"].as_str().unwrap()]
    );
    assert_eq!(app.sim.total_call_count(), 1);
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
async fn lookup_takes_dynatraces_domain_name_url_and_file_observables() {
    let app = spawn_app().await;
    let url = format!("{}/v1/lookup", app.address);
    let md5 = "44d88612fea8a8f36de82e1278abb02f";

    let mut answers = Vec::new();
    for (kind, value, ours) in [
        ("domain-name", "example.com", "domain"),
        ("url", "https://github.com/", "url"),
        ("file", md5, "file"),
    ] {
        let body = json!({"observable": {"type": kind, "value": value}});
        let (post_status, posted) = send(&app, app.http.post(&url).json(&body)).await;
        let (put_status, put) = send(&app, app.http.put(&url).json(&body)).await;
        answers.push((kind, value, ours, post_status, posted, put_status, put));
    }
    let (get_status, by_query) = app.get_json(&format!("/v1/lookup?observable={md5}")).await;

    for (kind, value, ours, post_status, posted, put_status, put) in &answers {
        assert_eq!([*post_status, *put_status], [200, 200], "{kind}: {posted}");
        for result in [posted, put] {
            assert_eq!(result["observable"], *value, "{kind}");
            assert_eq!(result["type"], *ours, "{kind}");
            assert_eq!(result["status"], "ok", "{kind}");
            assert!(result[*ours].is_object(), "{kind}: {result}");
        }
    }
    assert_eq!(get_status, 200);
    assert_eq!(by_query["file"]["md5"], md5, "GET infers a hash");
    assert_eq!(app.sim.total_call_count(), 3, "one call per observable");
}

#[tokio::test]
async fn lookup_refuses_unknown_types_and_bad_values_in_the_error_shape() {
    let app = spawn_app().await;
    let url = format!("{}/v1/lookup", app.address);

    let (unknown_status, unknown) = send(
        &app,
        app.http
            .post(&url)
            .json(&json!({"observable": {"type": "email-addr", "value": "a@example.com"}})),
    )
    .await;
    let (mistyped_status, mistyped) = send(
        &app,
        app.http
            .post(&url)
            .json(&json!({"observable": {"type": "file", "value": "example.com"}})),
    )
    .await;
    let (bad_status, bad) = app.get_json("/v1/lookup?observable=999.1.1.1").await;
    let (shape_status, _) = send(&app, app.http.post(&url).json(&json!({"observable": 42}))).await;

    assert_eq!(unknown_status, 422);
    assert_eq!(unknown["error"]["code"], "unsupported_observable_type");
    let message = unknown["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("ip-addr, ipv4-addr, ipv6-addr, domain-name, url, file"),
        "{message}"
    );
    assert_eq!(mistyped_status, 400, "the stated type wins: {mistyped}");
    assert_eq!(mistyped["error"]["code"], "invalid_observable");
    assert_eq!(bad_status, 400);
    assert_eq!(bad["error"]["code"], "invalid_observable");
    assert_eq!(shape_status, 422);
    assert_eq!(app.sim.total_call_count(), 0);
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

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn fields_trims_domain_url_and_file_results_too() {
    let app = spawn_app().await;
    let md5 = "44d88612fea8a8f36de82e1278abb02f";
    let fields = "fields=observable,status,file.sha256";

    let (single_status, single) = app.get_json(&format!("/v1/file/{md5}?{fields}")).await;
    let (_, looked_up) = send(
        &app,
        app.http
            .post(format!("{}/v1/lookup?{fields}", app.address))
            .json(&json!({"observable": {"type": "file", "value": md5}})),
    )
    .await;
    let (_, batch) = post(
        &app,
        &format!("/v1/enrich?{fields},domain.dns_records.a,url.final_url"),
        json!({"observables": [md5, "example.com", "http://example.com/"]}),
    )
    .await;

    assert_eq!(single_status, 200);
    for result in [&single, &looked_up] {
        assert_eq!(
            keys(result),
            BTreeSet::from(["file", "observable", "status"])
        );
        assert_eq!(keys(&result["file"]), BTreeSet::from(["sha256"]));
        assert_eq!(
            result["file"]["sha256"],
            "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
        );
    }
    let [file, domain, url] = &batch["results"].as_array().unwrap()[..] else {
        panic!("three results: {batch}")
    };
    let all = BTreeSet::from(["domain", "file", "observable", "status", "url"]);
    for result in [file, domain, url] {
        assert_eq!(keys(result), all, "every result has the same keys");
        assert_eq!(result["status"], "ok");
    }
    assert!(file["file"]["sha256"].is_string());
    assert!(file["domain"].is_null() && file["url"].is_null());
    assert_eq!(keys(&domain["domain"]), BTreeSet::from(["dns_records"]));
    assert_eq!(
        keys(&domain["domain"]["dns_records"]),
        BTreeSet::from(["a"])
    );
    assert!(domain["file"].is_null());
    assert_eq!(url["url"], json!({"final_url": "https://example.com/"}));
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
async fn format_ecs_documents_domains_urls_and_files_with_ecs_fields_only() {
    let app = spawn_app().await;
    let md5 = "44d88612fea8a8f36de82e1278abb02f";
    let (_, facts) = app.get_json(&format!("/v1/file/{md5}")).await;
    let (_, domain_facts) = app.get_json("/v1/domain/example.com").await;

    let (status, batch) = post(
        &app,
        "/v1/enrich?format=ecs",
        json!({"observables": ["example.com", "http://example.com/", md5, "printer.local"]}),
    )
    .await;
    let (_, single) = app.get_json("/v1/domain/example.com?format=ecs").await;
    let (_, looked_up) = send(
        &app,
        app.http
            .post(format!("{}/v1/lookup?format=ecs", app.address))
            .json(&json!({"observable": {"type": "url", "value": "https://github.com/"}})),
    )
    .await;

    assert_eq!(status, 200);
    let documents: Vec<&Value> = batch["results"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&single, &looked_up])
        .collect();
    let known = ecs_fields();
    let mut emitted = BTreeSet::new();
    for document in &documents {
        leaf_names(document, "", &mut emitted);
        assert_eq!(document["event"]["kind"], "enrichment");
        assert_eq!(document["threat"]["indicator"]["provider"], "virustotal");
    }
    let foreign: Vec<&String> = emitted.iter().filter(|f| !known.contains(*f)).collect();
    assert!(foreign.is_empty(), "not ECS 9.4.0 fields: {foreign:?}");

    let domain = &batch["results"][0];
    let indicator = &domain["threat"]["indicator"];
    assert_eq!(indicator["type"], "domain-name");
    assert_eq!(
        indicator["url"],
        json!({"domain": "example.com", "top_level_domain": "com"})
    );
    assert_eq!(indicator["confidence"], "None", "a harmless domain");
    let dns = &domain_facts["domain"]["dns_records"];
    let resolved: Vec<Value> = ["a", "aaaa"]
        .iter()
        .flat_map(|r| dns[r].as_array().unwrap().clone())
        .collect();
    assert_eq!(domain["related"]["ip"], json!(resolved));
    assert_eq!(single["threat"]["indicator"]["type"], "domain-name");

    let url = &batch["results"][1]["threat"]["indicator"];
    assert_eq!(url["type"], "url");
    assert_eq!(
        url["url"],
        json!({"full": "http://example.com/", "scheme": "http", "domain": "example.com",
               "path": "/", "top_level_domain": "com"})
    );
    assert_eq!(
        looked_up["threat"]["indicator"]["url"]["full"],
        "https://github.com/"
    );

    let file = &batch["results"][2];
    let indicator = &file["threat"]["indicator"];
    let facts = &facts["file"];
    assert_eq!(indicator["type"], "file");
    assert_eq!(
        indicator["file"]["hash"],
        json!({"md5": facts["md5"], "sha1": facts["sha1"], "sha256": facts["sha256"]})
    );
    assert_eq!(indicator["file"]["size"], facts["size"]);
    assert_eq!(indicator["file"]["name"], facts["meaningful_name"]);
    assert_eq!(indicator["first_seen"], facts["first_submission_date"]);
    assert_eq!(indicator["confidence"], "High", "EICAR is always detected");
    assert_eq!(
        file["related"]["hash"],
        json!([facts["md5"], facts["sha1"], facts["sha256"]])
    );

    let not_routable = &batch["results"][3];
    assert_eq!(not_routable["threat"]["indicator"]["type"], "domain-name");
    assert_eq!(not_routable["error"]["code"], "not_routable");
    for field in [
        "threat.indicator.url.domain",
        "threat.indicator.url.full",
        "threat.indicator.file.hash.sha256",
        "threat.indicator.file.size",
        "threat.indicator.file.name",
        "threat.indicator.first_seen",
        "related.ip",
        "related.hash",
    ] {
        assert!(emitted.contains(field), "{field} never emitted");
    }
}

#[tokio::test]
async fn with_fields_an_ecs_file_document_still_names_the_hash_asked_about() {
    let app = spawn_app().await;
    let sha1 = "3395856ce81f2b7382dee72602f798b642f14140";

    let (status, kept) = app
        .get_json(&format!(
            "/v1/file/{sha1}?format=ecs&fields=observable,type"
        ))
        .await;

    assert_eq!(status, 200);
    let indicator = &kept["threat"]["indicator"];
    assert_eq!(indicator["type"], "file");
    assert_eq!(indicator["file"], json!({"hash": {"sha1": sha1}}));
    assert!(kept.get("related").is_none(), "{kept}");
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
