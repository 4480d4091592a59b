//! MISP objects from one result, on the templates misp-modules' `virustotal_public` module
//! uses: a `virustotal-report` and, referring to it (`analyzed-with`), the observable's own
//! object: `domain-ip` for an address (beside an `asn`) or a domain (beside a `whois`), `url`
//! for a URL, `file` for a hash.
//!
//! Template uuids and versions are those of the MISP object templates PyMISP ships, so MISP
//! files each object under its template; every relation used is one its template defines.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::ResultBody;
use crate::report::{DomainBody, FileBody, UrlBody};

/// `(name, meta-category, template uuid, template version)` of the templates used.
const VIRUSTOTAL_REPORT: Template = (
    "virustotal-report",
    "misc",
    "d7dd0154-e04f-4c34-a2fb-79f3a3a52aa4",
    "5",
);
const DOMAIN_IP: Template = (
    "domain-ip",
    "network",
    "43b3b146-77eb-4931-b4cc-b66c60f28734",
    "11",
);
const ASN: Template = (
    "asn",
    "network",
    "4ec55cc6-9e49-4c64-b794-03c25c1a6587",
    "6",
);
const WHOIS: Template = (
    "whois",
    "network",
    "429faea1-34ff-47af-8a00-7c62d3be5a6a",
    "10",
);
const URL: Template = (
    "url",
    "network",
    "60efb77b-40b5-4c46-871b-ed1ed999fce5",
    "10",
);
const FILE: Template = ("file", "file", "688c46fb-5edb-40a3-8273-1af7923e2215", "25");

type Template = (&'static str, &'static str, &'static str, &'static str);

/// `{"Attribute": [], "Object": [...]}` for an `ok` result of the MISP attribute type `kind`.
pub fn standard(result: &ResultBody, kind: &str) -> Value {
    let report = object(VIRUSTOTAL_REPORT, report_attributes(result), None);
    let analysed = report["uuid"].as_str();
    let mut objects = vec![report.clone()];
    match (result.kind, &result.domain, &result.url, &result.file) {
        (Some("ip"), ..) => {
            let address = vec![attribute("ip", "ip-dst", &result.observable, false)];
            objects.push(object(DOMAIN_IP, address, analysed));
            objects.extend(system(result));
        }
        (_, Some(domain), ..) => {
            // MISP keeps host names and domains apart; the object says which it was given.
            let relation = if kind == "hostname" {
                "hostname"
            } else {
                "domain"
            };
            let name = attribute(relation, relation, &result.observable, false);
            objects.push(object(DOMAIN_IP, domain_ip(name, domain), analysed));
            objects.extend(whois(&result.observable, domain));
        }
        (_, _, Some(url), _) => objects.extend(urls(&result.observable, url, analysed)),
        (_, _, _, Some(file)) => objects.push(object(FILE, file_attributes(file), analysed)),
        // A type without an object of its own still has its report.
        _ => {}
    }
    json!({"Attribute": [], "Object": objects})
}

/// `permalink`, `detection-ratio`, `last-submission`, `community-score` and, for a file,
/// `first-submission`.
fn report_attributes(result: &ResultBody) -> Vec<Value> {
    let mut report = Vec::new();
    if let Some(link) = &result.link {
        report.push(attribute("permalink", "link", link, false));
    }
    if let Some(reputation) = &result.reputation {
        if let Some(malicious) = reputation.malicious {
            // As misp-modules counts it: the engines that gave an opinion or looked.
            let total = malicious
                + reputation.suspicious.unwrap_or(0)
                + reputation.harmless.unwrap_or(0)
                + reputation.undetected.unwrap_or(0);
            let ratio = format!("{malicious}/{total}");
            report.push(attribute("detection-ratio", "text", &ratio, true));
        }
        if let Some(at) = reputation.last_analysis_at {
            let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            report.push(attribute("last-submission", "datetime", &at, true));
        }
        if let Some(score) = reputation.community_score {
            let score = score.to_string();
            report.push(attribute("community-score", "text", &score, true));
        }
    }
    let first = result
        .file
        .as_ref()
        .and_then(|f| f.first_submission_date.as_ref());
    if let Some(first) = first {
        report.push(attribute("first-submission", "datetime", first, true));
    }
    report
}

/// The `asn` object of an address, when VirusTotal named its AS.
fn system(result: &ResultBody) -> Option<Value> {
    let mut system = Vec::new();
    if let Some(network) = &result.network {
        if let Some(asn) = network.asn {
            system.push(attribute("asn", "AS", &asn.to_string(), false));
        }
        if let Some(cidr) = &network.cidr {
            system.push(attribute("subnet-announced", "ip-src", cidr, false));
        }
        if let Some(owner) = &network.as_owner {
            system.push(attribute("description", "text", owner, true));
        }
    }
    if let Some(country) = result.geo.as_ref().and_then(|g| g.country.as_ref()) {
        system.push(attribute("country", "text", &country.iso_code, true));
    }
    // The template requires `asn`; without it the country alone has no object to go in.
    system
        .iter()
        .any(|a| a["object_relation"] == "asn")
        .then(|| object(ASN, system, None))
}

/// A domain's `domain-ip` attributes: its name, the addresses of its last A and AAAA records
/// and its registration date.
fn domain_ip(name: Value, domain: &DomainBody) -> Vec<Value> {
    let mut attributes = vec![name];
    if let Some(dns) = &domain.dns_records {
        for address in dns.a.iter().chain(&dns.aaaa) {
            attributes.push(attribute("ip", "ip-dst", address, false));
        }
    }
    if let Some(created) = &domain.creation_date {
        attributes.push(attribute("registration-date", "datetime", created, false));
    }
    attributes
}

/// The `whois` object of a domain, when VirusTotal knows its registrar or creation date
/// (`domain-ip` has no relation for a registrar).
fn whois(name: &str, domain: &DomainBody) -> Option<Value> {
    let mut attributes = Vec::new();
    if let Some(registrar) = &domain.registrar {
        attributes.push(attribute("registrar", "whois-registrar", registrar, false));
    }
    if let Some(created) = &domain.creation_date {
        attributes.push(attribute("creation-date", "datetime", created, false));
    }
    if attributes.is_empty() {
        return None;
    }
    attributes.insert(0, attribute("domain", "domain", name, false));
    if let Some(dns) = &domain.dns_records {
        for server in &dns.ns {
            attributes.push(attribute("nameserver", "hostname", server, false));
        }
    }
    Some(object(WHOIS, attributes, None))
}

/// The URL's `url` object and, when VirusTotal's fetch ended elsewhere, the final URL's
/// (the first `redirects-to` it).
fn urls(address: &str, url: &UrlBody, analysed: Option<&str>) -> Vec<Value> {
    let mut attributes = url_parts(address);
    if let Some(tld) = &url.tld {
        attributes.push(attribute("tld", "text", tld, true));
    }
    let mut asked = object(URL, attributes, analysed);
    let Some(final_url) = url.final_url.as_deref().filter(|f| *f != address) else {
        return vec![asked];
    };
    let landed = object(URL, url_parts(final_url), None);
    refer(&mut asked, &landed, "redirects-to");
    vec![asked, landed]
}

/// A `url` object's attributes for `address`: the URL and its scheme, host, port, path and
/// query as the template splits them.
fn url_parts(address: &str) -> Vec<Value> {
    let mut attributes = vec![attribute("url", "url", address, false)];
    let Ok(parsed) = url::Url::parse(address) else {
        return attributes;
    };
    attributes.push(attribute("scheme", "text", parsed.scheme(), true));
    match parsed.host() {
        Some(url::Host::Domain(host)) => {
            attributes.push(attribute("host", "hostname", host, false))
        }
        Some(url::Host::Ipv4(ip)) => {
            attributes.push(attribute("ip", "ip-dst", &ip.to_string(), false))
        }
        Some(url::Host::Ipv6(ip)) => {
            attributes.push(attribute("ip", "ip-dst", &ip.to_string(), false))
        }
        None => {}
    }
    if let Some(port) = parsed.port() {
        attributes.push(attribute("port", "port", &port.to_string(), true));
    }
    attributes.push(attribute("resource_path", "text", parsed.path(), false));
    if let Some(query) = parsed.query().filter(|q| !q.is_empty()) {
        attributes.push(attribute("query_string", "text", query, false));
    }
    attributes
}

/// A file's hashes, size and most telling name.
fn file_attributes(file: &FileBody) -> Vec<Value> {
    let mut attributes = Vec::new();
    for (relation, hash) in [
        ("md5", &file.md5),
        ("sha1", &file.sha1),
        ("sha256", &file.sha256),
    ] {
        if let Some(hash) = hash {
            attributes.push(attribute(relation, relation, hash, false));
        }
    }
    if let Some(size) = file.size {
        let size = size.to_string();
        attributes.push(attribute("size-in-bytes", "size-in-bytes", &size, true));
    }
    if let Some(name) = &file.meaningful_name {
        attributes.push(attribute("filename", "filename", name, true));
    }
    attributes
}

fn object(template: Template, attributes: Vec<Value>, analysed_with: Option<&str>) -> Value {
    let (name, category, template_uuid, version) = template;
    let mut object = json!({
        "name": name,
        "meta-category": category,
        "template_uuid": template_uuid,
        "template_version": version,
        "uuid": Uuid::new_v4().to_string(),
        "Attribute": attributes,
        "ObjectReference": [],
    });
    if let Some(report) = analysed_with {
        let report = json!({"uuid": report});
        refer(&mut object, &report, "analyzed-with");
    }
    object
}

/// Adds a reference from `from` to `to`.
fn refer(from: &mut Value, to: &Value, relationship: &str) {
    let reference = json!({"object_uuid": from["uuid"], "referenced_uuid": to["uuid"],
                           "relationship_type": relationship});
    if let Some(references) = from["ObjectReference"].as_array_mut() {
        references.push(reference);
    }
}

fn attribute(relation: &str, kind: &str, value: &str, no_correlation: bool) -> Value {
    json!({
        "object_relation": relation,
        "type": kind,
        "value": value,
        "uuid": Uuid::new_v4().to_string(),
        "to_ids": false,
        "disable_correlation": no_correlation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relations(attributes: &[Value]) -> Vec<(&str, &str)> {
        attributes
            .iter()
            .map(|a| {
                let relation = a["object_relation"].as_str().unwrap();
                (relation, a["value"].as_str().unwrap())
            })
            .collect()
    }

    #[test]
    fn a_url_splits_into_the_url_templates_relations_an_address_host_as_ip() {
        let named = url_parts("https://example.com:8443/a/b?q=1&r=2");
        let address = url_parts("http://[2001:db8::1]/");

        assert_eq!(
            relations(&named),
            [
                ("url", "https://example.com:8443/a/b?q=1&r=2"),
                ("scheme", "https"),
                ("host", "example.com"),
                ("port", "8443"),
                ("resource_path", "/a/b"),
                ("query_string", "q=1&r=2"),
            ]
        );
        assert_eq!(
            relations(&address),
            [
                ("url", "http://[2001:db8::1]/"),
                ("scheme", "http"),
                ("ip", "2001:db8::1"),
                ("resource_path", "/"),
            ]
        );
    }

    #[test]
    fn a_domain_without_registrar_or_creation_date_has_no_whois_object() {
        let bare = DomainBody {
            registrar: None,
            creation_date: None,
            categories: None,
            dns_records: None,
            popularity_rank: None,
            tld: None,
        };

        assert!(whois("example.com", &bare).is_none());
        assert_eq!(
            relations(&domain_ip(
                attribute("domain", "domain", "example.com", false),
                &bare
            )),
            [("domain", "example.com")]
        );
    }
}
