//! The JSON a caller sees for the type-specific part of a domain, URL or file result.
//!
//! The result object around it (observable, status, `reputation`, `link`, error) is the same
//! for every type and is rendered by `http::result`; these bodies are what varies, the way
//! `geo` and `network` do for an IP. Every field is present and null when VirusTotal did not
//! send it, so clients can rely on the shape.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    Categories, DnsRecords, DomainReport, FileReport, ThreatClassification, ThreatCount, UrlReport,
};

/// Domain facts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "registrar": "MarkMonitor Inc.", "creation_date": "1997-09-15T07:00:00Z",
    "categories": {"BitDefender": "searchengines", "Sophos": "search engines"},
    "dns_records": {"a": ["64.233.179.147"], "aaaa": ["2607:f8b0:4001:c68::68"], "cname": [],
        "mx": [], "ns": []},
    "popularity_rank": {"rank": 5, "source": "Cisco Umbrella"}, "tld": "com"
}))]
pub struct DomainBody {
    /// The registrar of record.
    pub registrar: Option<String>,
    /// When the domain was registered (UTC, RFC 3339).
    #[schema(format = DateTime)]
    pub creation_date: Option<String>,
    /// Vendor → category.
    pub categories: Option<BTreeMap<String, String>>,
    /// The last DNS records VirusTotal saw.
    pub dns_records: Option<DnsBody>,
    /// The best rank among the popularity lists VirusTotal follows.
    pub popularity_rank: Option<PopularityBody>,
    /// The top-level domain.
    pub tld: Option<String>,
}

/// Values of the last DNS records, per type.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DnsBody {
    pub a: Vec<String>,
    pub aaaa: Vec<String>,
    pub cname: Vec<String>,
    pub mx: Vec<String>,
    pub ns: Vec<String>,
}

/// A popularity rank and the list that gave it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PopularityBody {
    /// 1 is the most popular.
    pub rank: u32,
    /// The list, e.g. `Cisco Umbrella`, `Majestic`.
    pub source: String,
}

/// URL facts from VirusTotal's last fetch of it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "final_url": "https://example.com/", "http_response_code": 200, "title": "Example Domain",
    "categories": {"Sophos": "information technology"}, "tld": "com"
}))]
pub struct UrlBody {
    /// Where the last fetch ended after redirects.
    pub final_url: Option<String>,
    /// The HTTP status of the last fetch.
    pub http_response_code: Option<u16>,
    /// The page title.
    pub title: Option<String>,
    /// Vendor → category.
    pub categories: Option<BTreeMap<String, String>>,
    /// The URL's own top-level domain.
    pub tld: Option<String>,
}

/// File facts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "md5": "44d88612fea8a8f36de82e1278abb02f", "sha1": "3395856ce81f2b7382dee72602f798b642f14140",
    "sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", "size": 68,
    "type_description": "Powershell", "meaningful_name": "eicar.com-25389",
    "names": ["eicar.com-25389", "eicar.txt"],
    "popular_threat_classification": {"suggested_threat_label": "virus.eicar/test",
        "popular_threat_category": [{"value": "virus", "count": 15}],
        "popular_threat_name": [{"value": "eicar", "count": 59}]},
    "first_submission_date": "2006-05-22T12:42:02Z"
}))]
pub struct FileBody {
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// VirusTotal's file type, e.g. `Win32 EXE`.
    pub type_description: Option<String>,
    /// The most telling of its names.
    pub meaningful_name: Option<String>,
    /// The first 10 names it was submitted under.
    pub names: Option<Vec<String>>,
    /// What the engines call it.
    pub popular_threat_classification: Option<ThreatBody>,
    /// When VirusTotal first saw it (UTC, RFC 3339).
    #[schema(format = DateTime)]
    pub first_submission_date: Option<String>,
}

/// VirusTotal's `popular_threat_classification`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ThreatBody {
    /// e.g. `ransomware.hive/recyl`.
    pub suggested_threat_label: Option<String>,
    pub popular_threat_category: Vec<ThreatCountBody>,
    pub popular_threat_name: Vec<ThreatCountBody>,
}

/// A threat category or family name and how many engines used it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ThreatCountBody {
    pub value: String,
    pub count: u32,
}

impl From<&DomainReport> for DomainBody {
    fn from(r: &DomainReport) -> Self {
        Self {
            registrar: text(&r.registrar),
            creation_date: rfc3339(r.created_at),
            categories: r.categories.as_ref().map(Categories::to_map),
            dns_records: r.dns.as_ref().map(DnsBody::from),
            popularity_rank: r.popularity.as_ref().map(|p| PopularityBody {
                rank: p.rank,
                source: p.source.to_string(),
            }),
            tld: text(&r.tld),
        }
    }
}

impl From<&DnsRecords> for DnsBody {
    fn from(d: &DnsRecords) -> Self {
        Self {
            a: texts(d.a()),
            aaaa: texts(d.aaaa()),
            cname: texts(d.cname()),
            mx: texts(d.mx()),
            ns: texts(d.ns()),
        }
    }
}

impl From<&UrlReport> for UrlBody {
    fn from(r: &UrlReport) -> Self {
        Self {
            final_url: text(&r.final_url),
            http_response_code: r.http_status,
            title: text(&r.title),
            categories: r.categories.as_ref().map(Categories::to_map),
            tld: text(&r.tld),
        }
    }
}

impl From<&FileReport> for FileBody {
    fn from(r: &FileReport) -> Self {
        Self {
            md5: text(&r.md5),
            sha1: text(&r.sha1),
            sha256: text(&r.sha256),
            size: r.size,
            type_description: text(&r.type_description),
            meaningful_name: text(&r.meaningful_name),
            names: r.names.as_ref().map(texts),
            popular_threat_classification: r.threat.as_deref().map(ThreatBody::from),
            first_submission_date: rfc3339(r.first_submitted_at),
        }
    }
}

impl From<&ThreatClassification> for ThreatBody {
    fn from(t: &ThreatClassification) -> Self {
        let counts = |list: &[ThreatCount]| {
            list.iter()
                .map(|c| ThreatCountBody {
                    value: c.value.to_string(),
                    count: c.count,
                })
                .collect()
        };
        Self {
            suggested_threat_label: text(&t.suggested_label),
            popular_threat_category: counts(&t.categories),
            popular_threat_name: counts(&t.names),
        }
    }
}

fn text(value: &Option<Box<str>>) -> Option<String> {
    value.as_deref().map(str::to_owned)
}

fn texts<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    values.into_iter().map(str::to_owned).collect()
}

/// RFC 3339 with a `Z` and whole seconds, as every time in the API.
fn rfc3339(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::report::{PopularityRank, ThreatClassification};

    #[test]
    fn an_empty_report_serialises_every_field_as_null() {
        let domain = serde_json::to_value(DomainBody::from(&DomainReport::default())).unwrap();
        let url = serde_json::to_value(UrlBody::from(&UrlReport::default())).unwrap();
        let file = serde_json::to_value(FileBody::from(&FileReport::default())).unwrap();

        assert_eq!(
            domain,
            json!({"registrar": null, "creation_date": null, "categories": null,
                "dns_records": null, "popularity_rank": null, "tld": null})
        );
        assert_eq!(
            url,
            json!({"final_url": null, "http_response_code": null, "title": null,
                "categories": null, "tld": null})
        );
        assert_eq!(
            file,
            json!({"md5": null, "sha1": null, "sha256": null, "size": null,
                "type_description": null, "meaningful_name": null, "names": null,
                "popular_threat_classification": null, "first_submission_date": null})
        );
    }

    #[test]
    fn each_schema_documents_exactly_the_fields_serialised() {
        fn properties<T: utoipa::PartialSchema>() -> Vec<String> {
            let schema = serde_json::to_value(T::schema()).unwrap();
            let mut names: Vec<String> = schema["properties"]
                .as_object()
                .expect("an object schema")
                .keys()
                .cloned()
                .collect();
            names.sort();
            names
        }
        fn fields(value: serde_json::Value) -> Vec<String> {
            let mut names: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
            names.sort();
            names
        }

        assert_eq!(
            properties::<DomainBody>(),
            fields(serde_json::to_value(DomainBody::from(&DomainReport::default())).unwrap())
        );
        assert_eq!(
            properties::<UrlBody>(),
            fields(serde_json::to_value(UrlBody::from(&UrlReport::default())).unwrap())
        );
        assert_eq!(
            properties::<FileBody>(),
            fields(serde_json::to_value(FileBody::from(&FileReport::default())).unwrap())
        );
    }

    #[test]
    fn a_full_report_serialises_with_rfc3339_times_and_nested_groups() {
        let domain = DomainReport {
            registrar: Some("MarkMonitor Inc.".into()),
            created_at: DateTime::from_timestamp(874_306_800, 0),
            categories: Some([("Sophos", "search engines")].into_iter().collect()),
            dns: Some(DnsRecords::new([
                vec!["64.233.179.147"],
                vec![],
                vec![],
                vec![],
                vec![],
            ])),
            popularity: Some(PopularityRank {
                rank: 5,
                source: "Cisco Umbrella".into(),
            }),
            tld: Some("com".into()),
            ..DomainReport::default()
        };
        let file = FileReport {
            threat: Some(Box::new(ThreatClassification {
                suggested_label: Some("virus.eicar/test".into()),
                categories: vec![ThreatCount {
                    value: "virus".into(),
                    count: 15,
                }]
                .into(),
                names: Box::default(),
            })),
            names: Some(["eicar.txt"].into_iter().collect()),
            ..FileReport::default()
        };

        let domain = serde_json::to_value(DomainBody::from(&domain)).unwrap();
        let file = serde_json::to_value(FileBody::from(&file)).unwrap();

        assert_eq!(domain["creation_date"], "1997-09-15T07:00:00Z");
        assert_eq!(domain["categories"], json!({"Sophos": "search engines"}));
        assert_eq!(
            domain["dns_records"],
            json!({"a": ["64.233.179.147"], "aaaa": [], "cname": [], "mx": [], "ns": []})
        );
        assert_eq!(
            domain["popularity_rank"],
            json!({"rank": 5, "source": "Cisco Umbrella"})
        );
        assert_eq!(
            file["popular_threat_classification"],
            json!({"suggested_threat_label": "virus.eicar/test",
                "popular_threat_category": [{"value": "virus", "count": 15}],
                "popular_threat_name": []})
        );
        assert_eq!(file["names"], json!(["eicar.txt"]));
    }
}
