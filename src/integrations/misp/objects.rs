//! MISP objects from one result, on the same templates misp-modules' `virustotal_public`
//! module uses for an IP: `virustotal-report`, `domain-ip` (referring to the report) and `asn`.
//!
//! Template uuids and versions are those of the MISP object templates PyMISP ships, so MISP
//! files each object under its template.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::http::ResultBody;

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

type Template = (&'static str, &'static str, &'static str, &'static str);

/// `{"Attribute": [], "Object": [...]}` for an `ok` result.
pub fn standard(result: &ResultBody) -> Value {
    let mut report = Vec::new();
    if let Some(link) = &result.link {
        report.push(attribute("permalink", "link", link.clone(), false));
    }
    if let Some(reputation) = &result.reputation {
        if let Some(malicious) = reputation.malicious {
            // As misp-modules counts it: the engines that gave an opinion or looked.
            let total = malicious
                + reputation.suspicious.unwrap_or(0)
                + reputation.harmless.unwrap_or(0)
                + reputation.undetected.unwrap_or(0);
            report.push(attribute(
                "detection-ratio",
                "text",
                format!("{malicious}/{total}"),
                true,
            ));
        }
        if let Some(at) = reputation.last_analysis_at {
            report.push(attribute(
                "last-submission",
                "datetime",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                true,
            ));
        }
        if let Some(score) = reputation.community_score {
            report.push(attribute(
                "community-score",
                "text",
                score.to_string(),
                true,
            ));
        }
    }
    let report = object(VIRUSTOTAL_REPORT, report, None);
    let host = object(
        DOMAIN_IP,
        vec![attribute("ip", "ip-dst", result.observable.clone(), false)],
        report["uuid"].as_str(),
    );
    let mut objects = vec![report.clone(), host];
    let mut system = Vec::new();
    if let Some(network) = &result.network {
        if let Some(asn) = network.asn {
            system.push(attribute("asn", "AS", asn.to_string(), false));
        }
        if let Some(cidr) = &network.cidr {
            system.push(attribute("subnet-announced", "ip-src", cidr.clone(), false));
        }
        if let Some(owner) = &network.as_owner {
            system.push(attribute("description", "text", owner.clone(), true));
        }
    }
    if let Some(country) = result.geo.as_ref().and_then(|g| g.country.as_ref()) {
        system.push(attribute("country", "text", country.iso_code.clone(), true));
    }
    // The template requires `asn`; without it the country alone has no object to go in.
    if system.iter().any(|a| a["object_relation"] == "asn") {
        objects.push(object(ASN, system, None));
    }
    json!({"Attribute": [], "Object": objects})
}

fn object(template: Template, attributes: Vec<Value>, analysed_with: Option<&str>) -> Value {
    let (name, category, template_uuid, version) = template;
    let uuid = Uuid::new_v4().to_string();
    let references: Vec<Value> = analysed_with
        .map(|report| {
            json!({"object_uuid": uuid, "referenced_uuid": report,
                   "relationship_type": "analyzed-with"})
        })
        .into_iter()
        .collect();
    json!({
        "name": name,
        "meta-category": category,
        "template_uuid": template_uuid,
        "template_version": version,
        "uuid": uuid,
        "Attribute": attributes,
        "ObjectReference": references,
    })
}

fn attribute(relation: &str, kind: &str, value: String, no_correlation: bool) -> Value {
    json!({
        "object_relation": relation,
        "type": kind,
        "value": value,
        "uuid": Uuid::new_v4().to_string(),
        "to_ids": false,
        "disable_correlation": no_correlation,
    })
}
