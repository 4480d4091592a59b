//! Elastic Common Schema: one `threat.indicator` enrichment document per result (`format=ecs`),
//! so Elastic ingest pipelines and Kibana threat intel views read vtenrich without a mapping.
//!
//! Only ECS fields are emitted (a test checks every name against ECS 9.4.0's field list); what
//! VirusTotal did not say is left out rather than guessed.

use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::observable::ObservableType;

/// vtenrich's observable types and the ECS `threat.indicator.type` and field each becomes.
/// An IP picks `ipv4-addr` or `ipv6-addr` by its version. New types (domain `domain-name` in
/// `threat.indicator.url.domain`, `url` in `url.full`, `file` in `file.hash.*`) are one row each.
const INDICATORS: [(ObservableType, IndicatorOf); 1] = [(ObservableType::Ip, ip_indicator)];

/// From an observable's canonical text: its `threat.indicator.type` and the indicator field
/// that holds it.
type IndicatorOf = fn(&str) -> (&'static str, &'static str);

fn ip_indicator(text: &str) -> (&'static str, &'static str) {
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => ("ipv6-addr", "ip"),
        _ => ("ipv4-addr", "ip"),
    }
}

/// The ECS document of one result object as serialised (all of it, or what `fields` left of
/// it: what was trimmed away is not in the document); `now` is its `@timestamp`.
pub fn document(result: &Value, now: DateTime<Utc>) -> Value {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let mut indicator = Map::new();
    let kind = INDICATORS
        .iter()
        .find(|(kind, _)| Some(kind.as_str()) == result["type"].as_str());
    if let (Some((_, indicator_of)), Some(observable)) = (kind, result["observable"].as_str()) {
        let (ecs_type, field) = indicator_of(observable);
        indicator.insert("type".into(), ecs_type.into());
        indicator.insert(field.into(), observable.into());
    }
    indicator.insert("provider".into(), "virustotal".into());
    put(&mut indicator, "reference", text(&result["link"]));
    put(&mut indicator, "modified_at", text(&result["fetched_at"]));
    let mut document = json!({
        "@timestamp": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "event": {
            "kind": "enrichment",
            "category": ["threat"],
            "type": ["indicator"],
        },
    });
    put(
        document["event"].as_object_mut().expect("an object"),
        "outcome",
        result["status"].as_str().map(outcome),
    );
    let reputation = &result["reputation"];
    put(
        &mut indicator,
        "confidence",
        reputation["verdict"].as_str().map(confidence),
    );
    put(
        &mut indicator,
        "description",
        text(&reputation["verdict_reason"]),
    );
    put(
        &mut indicator,
        "scanner_stats",
        reputation["malicious"].as_u64(),
    );
    put(
        &mut indicator,
        "last_seen",
        text(&reputation["last_analysis_at"]),
    );
    if let Some(tags) = reputation["tags"].as_array().filter(|t| !t.is_empty()) {
        document["tags"] = Value::Array(tags.clone());
    }
    let mut place = Map::new();
    let (country, continent) = (&result["geo"]["country"], &result["geo"]["continent"]);
    put(&mut place, "country_iso_code", text(&country["iso_code"]));
    put(&mut place, "country_name", text(&country["name"]));
    put(&mut place, "continent_code", text(&continent["code"]));
    put(&mut place, "continent_name", text(&continent["name"]));
    if !place.is_empty() {
        indicator.insert("geo".into(), place.into());
    }
    let mut system = Map::new();
    put(&mut system, "number", result["network"]["asn"].as_u64());
    if let Some(owner) = text(&result["network"]["as_owner"]) {
        system.insert("organization".into(), json!({ "name": owner }));
    }
    if !system.is_empty() {
        indicator.insert("as".into(), system.into());
    }
    let mut error = Map::new();
    put(&mut error, "code", text(&result["error"]["code"]));
    put(&mut error, "message", text(&result["error"]["message"]));
    if !error.is_empty() {
        document["error"] = error.into();
    }
    document["threat"] = json!({ "indicator": indicator });
    document
}

/// `event.outcome`: the lookup succeeded (found or not), failed, or is still pending.
fn outcome(status: &str) -> &'static str {
    match status {
        "ok" | "not_found" => "success",
        "deferred" => "unknown",
        _ => "failure",
    }
}

/// ECS's STIX 2.1 confidence scale for the verdict: how sure we are the address is hostile.
fn confidence(verdict: &str) -> &'static str {
    match verdict {
        "malicious" => "High",
        "suspicious" => "Medium",
        "harmless" => "None",
        _ => "Not Specified",
    }
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value.into());
    }
}
