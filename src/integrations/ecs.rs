//! Elastic Common Schema: one `threat.indicator` enrichment document per result (`format=ecs`),
//! so Elastic ingest pipelines and Kibana threat intel views read vtenrich without a mapping.
//!
//! Only ECS fields are emitted (a test checks every name against ECS 9.4.0's field list); what
//! VirusTotal did not say is left out rather than guessed.

use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::observable::ObservableType;

/// vtenrich's observable types and how each fills its indicator: an IP `ipv4-addr` or
/// `ipv6-addr` in `threat.indicator.ip`, a domain `domain-name` in `threat.indicator.url.domain`,
/// a URL `url` in `threat.indicator.url.*`, a file `file` in `threat.indicator.file.*`.
const INDICATORS: [(ObservableType, IndicatorOf); 4] = [
    (ObservableType::Ip, ip_indicator),
    (ObservableType::Domain, domain_indicator),
    (ObservableType::Url, url_indicator),
    (ObservableType::File, file_indicator),
];

/// From an observable's canonical text and its (possibly trimmed) result: fills the indicator's
/// type-specific fields and answers its `threat.indicator.type`.
type IndicatorOf = fn(&str, &Value, &mut Map<String, Value>) -> &'static str;

fn ip_indicator(text: &str, _: &Value, indicator: &mut Map<String, Value>) -> &'static str {
    indicator.insert("ip".into(), text.into());
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => "ipv6-addr",
        _ => "ipv4-addr",
    }
}

fn domain_indicator(
    text: &str,
    result: &Value,
    indicator: &mut Map<String, Value>,
) -> &'static str {
    let mut url = Map::new();
    url.insert("domain".into(), text.into());
    put(
        &mut url,
        "top_level_domain",
        string(&result["domain"]["tld"]),
    );
    indicator.insert("url".into(), url.into());
    "domain-name"
}

fn url_indicator(text: &str, result: &Value, indicator: &mut Map<String, Value>) -> &'static str {
    let mut url = Map::new();
    url.insert("full".into(), text.into());
    if let Ok(parsed) = url::Url::parse(text) {
        url.insert("scheme".into(), parsed.scheme().into());
        // ECS puts an address host in `domain` too, IPv6 within its brackets.
        put(&mut url, "domain", parsed.host_str());
        put(&mut url, "port", parsed.port());
        url.insert("path".into(), parsed.path().into());
        put(&mut url, "query", parsed.query().filter(|q| !q.is_empty()));
    }
    put(&mut url, "top_level_domain", string(&result["url"]["tld"]));
    indicator.insert("url".into(), url.into());
    "url"
}

fn file_indicator(text: &str, result: &Value, indicator: &mut Map<String, Value>) -> &'static str {
    let body = &result["file"];
    let mut hash = Map::new();
    for digest in ["md5", "sha1", "sha256"] {
        put(&mut hash, digest, string(&body[digest]));
    }
    // The hash asked about is known even when `fields` trimmed the file facts away.
    let asked = match text.len() {
        32 => "md5",
        40 => "sha1",
        _ => "sha256",
    };
    hash.insert(asked.into(), text.into());
    let mut file = Map::new();
    file.insert("hash".into(), hash.into());
    put(&mut file, "size", body["size"].as_u64());
    put(&mut file, "name", string(&body["meaningful_name"]));
    indicator.insert("file".into(), file.into());
    put(
        indicator,
        "first_seen",
        string(&body["first_submission_date"]),
    );
    "file"
}

/// The addresses (a domain's last A and AAAA records) and hashes (a file's three) the
/// document relates to, for ECS's `related.ip` and `related.hash`.
fn related(result: &Value) -> Map<String, Value> {
    let dns = &result["domain"]["dns_records"];
    let ips: Vec<Value> = ["a", "aaaa"]
        .iter()
        .filter_map(|record| dns[record].as_array())
        .flatten()
        .cloned()
        .collect();
    let hashes: Vec<Value> = ["md5", "sha1", "sha256"]
        .iter()
        .filter_map(|digest| string(&result["file"][digest]))
        .map(Value::from)
        .collect();
    let mut related = Map::new();
    for (field, values) in [("ip", ips), ("hash", hashes)] {
        if !values.is_empty() {
            related.insert(field.into(), values.into());
        }
    }
    related
}

fn string(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// The ECS document of one result object as serialised (all of it, or what `fields` left of
/// it: what was trimmed away is not in the document); `now` is its `@timestamp`.
pub fn document(result: &Value, now: DateTime<Utc>) -> Value {
    let mut indicator = Map::new();
    let kind = INDICATORS
        .iter()
        .find(|(kind, _)| Some(kind.as_str()) == result["type"].as_str());
    if let (Some((_, indicator_of)), Some(observable)) = (kind, result["observable"].as_str()) {
        let ecs_type = indicator_of(observable, result, &mut indicator);
        indicator.insert("type".into(), ecs_type.into());
    }
    indicator.insert("provider".into(), "virustotal".into());
    put(&mut indicator, "reference", string(&result["link"]));
    put(&mut indicator, "modified_at", string(&result["fetched_at"]));
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
        string(&reputation["verdict_reason"]),
    );
    put(
        &mut indicator,
        "scanner_stats",
        reputation["malicious"].as_u64(),
    );
    put(
        &mut indicator,
        "last_seen",
        string(&reputation["last_analysis_at"]),
    );
    if let Some(tags) = reputation["tags"].as_array().filter(|t| !t.is_empty()) {
        document["tags"] = Value::Array(tags.clone());
    }
    let mut place = Map::new();
    let (country, continent) = (&result["geo"]["country"], &result["geo"]["continent"]);
    put(&mut place, "country_iso_code", string(&country["iso_code"]));
    put(&mut place, "country_name", string(&country["name"]));
    put(&mut place, "continent_code", string(&continent["code"]));
    put(&mut place, "continent_name", string(&continent["name"]));
    if !place.is_empty() {
        indicator.insert("geo".into(), place.into());
    }
    let mut system = Map::new();
    put(&mut system, "number", result["network"]["asn"].as_u64());
    if let Some(owner) = string(&result["network"]["as_owner"]) {
        system.insert("organization".into(), json!({ "name": owner }));
    }
    if !system.is_empty() {
        indicator.insert("as".into(), system.into());
    }
    let mut error = Map::new();
    put(&mut error, "code", string(&result["error"]["code"]));
    put(&mut error, "message", string(&result["error"]["message"]));
    if !error.is_empty() {
        document["error"] = error.into();
    }
    let related = related(result);
    if !related.is_empty() {
        document["related"] = related.into();
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

/// ECS's STIX 2.1 confidence scale for the verdict: how sure we are the observable is hostile.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn indicator(result: Value) -> Value {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
        document(&result, now)["threat"]["indicator"].clone()
    }

    #[test]
    fn a_url_is_split_into_ecs_url_parts_an_address_host_kept_in_domain() {
        let v6 =
            indicator(json!({"type": "url", "observable": "http://[2001:db8::1]:8080/a/b?q=1"}));
        let plain = indicator(json!({"type": "url", "observable": "https://example.com/"}));

        assert_eq!(
            v6["url"],
            json!({"full": "http://[2001:db8::1]:8080/a/b?q=1", "scheme": "http",
                   "domain": "[2001:db8::1]", "port": 8080, "path": "/a/b", "query": "q=1"})
        );
        assert_eq!(
            plain["url"],
            json!({"full": "https://example.com/", "scheme": "https", "domain": "example.com",
                   "path": "/"})
        );
    }

    #[test]
    fn a_file_indicator_names_the_hash_asked_about_by_its_length() {
        for (hash, digest) in [
            ("a".repeat(32), "md5"),
            ("b".repeat(40), "sha1"),
            ("c".repeat(64), "sha256"),
        ] {
            let indicator = indicator(json!({"type": "file", "observable": hash}));

            assert_eq!(indicator["type"], "file");
            assert_eq!(indicator["file"]["hash"], json!({ digest: hash }));
        }
    }
}
