//! Elastic Common Schema: one `threat.indicator` enrichment document per result (`format=ecs`),
//! so Elastic ingest pipelines and Kibana threat intel views read vtenrich without a mapping.
//!
//! Only ECS fields are emitted (a test checks every name against ECS 9.4.0's field list); what
//! VirusTotal did not say is left out rather than guessed.

use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::http::ResultBody;
use crate::observable::ObservableType;

/// vtenrich's observable types and the ECS `threat.indicator.type` and field each becomes.
/// An IP picks `ipv4-addr` or `ipv6-addr` by its version. New types (domain `domain-name` in
/// `threat.indicator.url.domain`, `url` in `url.full`, `file` in `file.hash.*`) are one row each.
const INDICATORS: [(ObservableType, fn(&str) -> (&'static str, &'static str)); 1] =
    [(ObservableType::Ip, ip_indicator)];

fn ip_indicator(text: &str) -> (&'static str, &'static str) {
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => ("ipv6-addr", "ip"),
        _ => ("ipv4-addr", "ip"),
    }
}

/// The ECS document of one result; `now` is its `@timestamp`.
pub fn document(body: &ResultBody, now: DateTime<Utc>) -> Value {
    let mut indicator = Map::new();
    let kind = INDICATORS
        .iter()
        .find(|(kind, _)| Some(kind.as_str()) == body.kind);
    if let Some((_, indicator_of)) = kind {
        let (ecs_type, field) = indicator_of(&body.observable);
        indicator.insert("type".into(), ecs_type.into());
        indicator.insert(field.into(), body.observable.clone().into());
    }
    indicator.insert("provider".into(), "virustotal".into());
    put(&mut indicator, "reference", body.link.clone());
    put(&mut indicator, "modified_at", body.fetched_at.map(time));
    let mut document = json!({
        "@timestamp": time(now),
        "event": {
            "kind": "enrichment",
            "category": ["threat"],
            "type": ["indicator"],
            "outcome": outcome(body.status),
        },
    });
    if let Some(reputation) = &body.reputation {
        indicator.insert("confidence".into(), confidence(reputation.verdict).into());
        indicator.insert(
            "description".into(),
            reputation.verdict_reason.clone().into(),
        );
        put(&mut indicator, "scanner_stats", reputation.malicious);
        put(
            &mut indicator,
            "last_seen",
            reputation.last_analysis_at.map(time),
        );
        if let Some(tags) = reputation.tags.as_ref().filter(|t| !t.is_empty()) {
            document["tags"] = json!(tags);
        }
    }
    if let Some(geo) = &body.geo {
        let mut place = Map::new();
        if let Some(country) = &geo.country {
            place.insert("country_iso_code".into(), country.iso_code.clone().into());
            put(&mut place, "country_name", country.name);
        }
        if let Some(continent) = &geo.continent {
            place.insert("continent_code".into(), continent.code.clone().into());
            put(&mut place, "continent_name", continent.name);
        }
        if !place.is_empty() {
            indicator.insert("geo".into(), place.into());
        }
    }
    if let Some(network) = &body.network {
        let mut system = Map::new();
        put(&mut system, "number", network.asn);
        if let Some(owner) = &network.as_owner {
            system.insert("organization".into(), json!({ "name": owner }));
        }
        if !system.is_empty() {
            indicator.insert("as".into(), system.into());
        }
    }
    if let Some(error) = &body.error {
        document["error"] = json!({"code": error.code, "message": error.message});
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

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value.into());
    }
}
