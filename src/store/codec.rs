//! The stored form of a cache entry, shared by the embedded store and Redis.
//!
//! A private, versioned DTO keeps the domain types free to change: a record written by an
//! older version either decodes or is treated as a miss, never as wrong data.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::answer::{Answer, Entry};
use crate::report;
use crate::report::{
    Analysis, AnalysisStats, Code2, DnsRecords, DomainReport, FileReport, IpReport, PopularityRank,
    Report, TextList, ThreatClassification, ThreatCount, UrlReport, Votes,
};

/// Bumped when the stored shape changes incompatibly. Domain, URL and file reports were added
/// without a bump: an IP record (no `t`) reads exactly as version 1 wrote it.
const VERSION: u8 = 1;

#[derive(Serialize, Deserialize)]
struct Stored {
    v: u8,
    /// Unix milliseconds.
    fetched: i64,
    fresh: i64,
    stale: i64,
    /// `None` = VirusTotal does not know the observable.
    report: Option<StoredReport>,
}

type Names = Option<Vec<String>>;
type Categories = Option<BTreeMap<String, String>>;

/// One report of any type: the reputation facts every type has, the report type in `t`
/// (absent for an IP, as records written before the other types were served are), and each
/// type's own fields, absent when empty.
#[derive(Serialize, Deserialize, Default)]
struct StoredReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<Kind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stats: Option<[u32; 5]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    score: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    votes: Option<[u32; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Names,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    analysed: Option<i64>,
    // IP
    #[serde(default, skip_serializing_if = "Option::is_none")]
    country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    continent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    asn: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cidr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rir: Option<String>,
    // Domain and URL
    #[serde(default, skip_serializing_if = "Option::is_none")]
    categories: Categories,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tld: Option<String>,
    // Domain
    #[serde(default, skip_serializing_if = "Option::is_none")]
    registrar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<i64>,
    /// A, AAAA, CNAME, MX, NS values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dns: Option<[Vec<String>; 5]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rank: Option<(u32, String)>,
    // URL
    #[serde(default, skip_serializing_if = "Option::is_none")]
    final_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    // File
    #[serde(default, skip_serializing_if = "Option::is_none")]
    md5: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    type_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    meaningful_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    names: Names,
    /// Suggested label, popular categories, popular names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threat: Option<StoredThreat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_submitted: Option<i64>,
}

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Domain,
    Url,
    File,
}

#[derive(Serialize, Deserialize)]
struct StoredThreat {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    categories: Vec<(String, u32)>,
    names: Vec<(String, u32)>,
}

fn text(s: &Option<Box<str>>) -> Option<String> {
    s.as_deref().map(str::to_owned)
}

fn boxed(s: Option<String>) -> Option<Box<str>> {
    s.map(String::into_boxed_str)
}

fn texts<'a>(v: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    v.into_iter().map(str::to_owned).collect()
}

fn counts(v: &[ThreatCount]) -> Vec<(String, u32)> {
    v.iter().map(|c| (c.value.to_string(), c.count)).collect()
}

fn threat_counts(v: Vec<(String, u32)>) -> Box<[ThreatCount]> {
    v.into_iter()
        .map(|(value, count)| ThreatCount {
            value: value.into_boxed_str(),
            count,
        })
        .collect()
}

fn seconds(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp())
}

fn at_seconds(s: Option<i64>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::from_timestamp(s, 0))
}

impl StoredReport {
    fn with_analysis(t: Option<Kind>, a: &Analysis) -> Self {
        StoredReport {
            t,
            stats: a.stats.map(|s| {
                [
                    s.malicious,
                    s.suspicious,
                    s.harmless,
                    s.undetected,
                    s.timeout,
                ]
            }),
            score: a.community_score,
            votes: a.votes.map(|v| [v.harmless, v.malicious]),
            tags: a.tags.as_ref().map(texts),
            analysed: seconds(a.last_analysis_at),
            ..StoredReport::default()
        }
    }

    fn from_report(report: &Report) -> Self {
        match report {
            Report::Ip(r) => StoredReport {
                country: r.country.map(|c| c.as_str().to_owned()),
                continent: r.continent.map(|c| c.as_str().to_owned()),
                asn: r.asn,
                owner: text(&r.as_owner),
                cidr: text(&r.cidr),
                rir: text(&r.rir),
                ..Self::with_analysis(None, &r.analysis())
            },
            Report::Domain(r) => StoredReport {
                categories: r.categories.as_ref().map(report::Categories::to_map),
                tld: text(&r.tld),
                registrar: text(&r.registrar),
                created: seconds(r.created_at),
                dns: r.dns.as_ref().map(|d| {
                    [
                        texts(d.a()),
                        texts(d.aaaa()),
                        texts(d.cname()),
                        texts(d.mx()),
                        texts(d.ns()),
                    ]
                }),
                rank: r
                    .popularity
                    .as_ref()
                    .map(|p| (p.rank, p.source.to_string())),
                ..Self::with_analysis(Some(Kind::Domain), &r.analysis)
            },
            Report::Url(r) => StoredReport {
                categories: r.categories.as_ref().map(report::Categories::to_map),
                tld: text(&r.tld),
                final_url: text(&r.final_url),
                status: r.http_status,
                title: text(&r.title),
                ..Self::with_analysis(Some(Kind::Url), &r.analysis)
            },
            Report::File(r) => StoredReport {
                md5: text(&r.md5),
                sha1: text(&r.sha1),
                sha256: text(&r.sha256),
                size: r.size,
                type_description: text(&r.type_description),
                meaningful_name: text(&r.meaningful_name),
                names: r.names.as_ref().map(texts),
                threat: r.threat.as_ref().map(|t| StoredThreat {
                    label: text(&t.suggested_label),
                    categories: counts(&t.categories),
                    names: counts(&t.names),
                }),
                first_submitted: seconds(r.first_submitted_at),
                ..Self::with_analysis(Some(Kind::File), &r.analysis)
            },
        }
    }

    fn analysis(&mut self) -> Analysis {
        Analysis {
            stats: self
                .stats
                .map(
                    |[malicious, suspicious, harmless, undetected, timeout]| AnalysisStats {
                        malicious,
                        suspicious,
                        harmless,
                        undetected,
                        timeout,
                    },
                ),
            community_score: self.score,
            votes: self.votes.map(|[harmless, malicious]| Votes {
                harmless,
                malicious,
            }),
            tags: self.tags.take().map(TextList::from_iter),
            last_analysis_at: at_seconds(self.analysed),
        }
    }

    fn into_report(mut self) -> Report {
        let analysis = self.analysis();
        match self.t {
            None => IpReport {
                country: self.country.as_deref().and_then(Code2::parse),
                continent: self.continent.as_deref().and_then(Code2::parse),
                asn: self.asn,
                as_owner: boxed(self.owner),
                cidr: boxed(self.cidr),
                rir: boxed(self.rir),
                ..IpReport::from(analysis)
            }
            .into(),
            Some(Kind::Domain) => DomainReport {
                analysis,
                registrar: boxed(self.registrar),
                created_at: at_seconds(self.created),
                categories: self.categories.map(report::Categories::from),
                dns: self.dns.map(DnsRecords::new),
                popularity: self.rank.map(|(rank, source)| PopularityRank {
                    rank,
                    source: source.into_boxed_str(),
                }),
                tld: boxed(self.tld),
            }
            .into(),
            Some(Kind::Url) => UrlReport {
                analysis,
                final_url: boxed(self.final_url),
                http_status: self.status,
                title: boxed(self.title),
                categories: self.categories.map(report::Categories::from),
                tld: boxed(self.tld),
            }
            .into(),
            Some(Kind::File) => FileReport {
                analysis,
                md5: boxed(self.md5),
                sha1: boxed(self.sha1),
                sha256: boxed(self.sha256),
                size: self.size,
                type_description: boxed(self.type_description),
                meaningful_name: boxed(self.meaningful_name),
                names: self.names.map(TextList::from_iter),
                threat: self.threat.map(|t| {
                    Box::new(ThreatClassification {
                        suggested_label: boxed(t.label),
                        categories: threat_counts(t.categories),
                        names: threat_counts(t.names),
                    })
                }),
                first_submitted_at: at_seconds(self.first_submitted),
            }
            .into(),
        }
    }
}

/// Encodes an entry (compact JSON: small, and readable with `redis-cli GET`).
pub fn encode(entry: &Entry) -> Vec<u8> {
    let report = match &entry.answer {
        Answer::NotFound => None,
        Answer::Found(r) => Some(StoredReport::from_report(r)),
    };
    let stored = Stored {
        v: VERSION,
        fetched: entry.fetched_at.timestamp_millis(),
        fresh: entry.fresh_until.timestamp_millis(),
        stale: entry.stale_until.timestamp_millis(),
        report,
    };
    serde_json::to_vec(&stored).expect("a plain struct always serialises")
}

/// Decodes an entry; `None` for anything unreadable or of another version.
pub fn decode(bytes: &[u8]) -> Option<Entry> {
    let stored: Stored = serde_json::from_slice(bytes).ok()?;
    if stored.v != VERSION {
        return None;
    }
    let at = DateTime::<Utc>::from_timestamp_millis;
    let answer = match stored.report {
        None => Answer::NotFound,
        Some(r) => Answer::Found(r.into_report()),
    };
    Some(Entry::new(
        answer,
        at(stored.fetched)?,
        at(stored.fresh)?,
        at(stored.stale)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(answer: Answer) -> Entry {
        let t = DateTime::from_timestamp_millis(1_790_000_000_123).unwrap();
        Entry::new(
            answer,
            t,
            t + chrono::Duration::hours(24),
            t + chrono::Duration::days(8),
        )
    }

    #[test]
    fn a_full_report_survives_a_round_trip() {
        let report = IpReport {
            stats: Some(AnalysisStats {
                malicious: 1,
                suspicious: 2,
                harmless: 3,
                undetected: 4,
                timeout: 5,
            }),
            community_score: Some(-7),
            votes: Some(Votes {
                harmless: 8,
                malicious: 9,
            }),
            tags: Some(["a", "b"].into_iter().collect()),
            last_analysis_at: DateTime::from_timestamp(1_785_340_799, 0),
            country: Code2::parse("US"),
            continent: Code2::parse("NA"),
            asn: Some(15169),
            as_owner: Some("Google LLC".into()),
            cidr: Some("8.8.8.0/24".into()),
            rir: Some("ARIN".into()),
        };
        let e = entry(Answer::Found(report.into()));
        assert_eq!(decode(&encode(&e)), Some(e));
    }

    fn analysis() -> Analysis {
        Analysis {
            stats: Some(AnalysisStats {
                malicious: 5,
                suspicious: 1,
                harmless: 60,
                undetected: 20,
                timeout: 0,
            }),
            community_score: Some(3),
            votes: Some(Votes {
                harmless: 2,
                malicious: 1,
            }),
            tags: Some(["x"].into_iter().collect()),
            last_analysis_at: DateTime::from_timestamp(1_785_000_000, 0),
        }
    }

    #[test]
    fn full_domain_url_and_file_reports_survive_a_round_trip() {
        let categories: report::Categories = [("Forcepoint ThreatSeeker", "search engines")]
            .into_iter()
            .collect();
        let reports: [Report; 3] = [
            DomainReport {
                analysis: analysis(),
                registrar: Some("MarkMonitor Inc.".into()),
                created_at: DateTime::from_timestamp(874_306_800, 0),
                categories: Some(categories.clone()),
                dns: Some(DnsRecords::new([
                    vec!["142.250.1.1"],
                    vec!["2a00:1450::1"],
                    vec![],
                    vec!["smtp.google.com"],
                    vec!["ns1.google.com", "ns2.google.com"],
                ])),
                popularity: Some(PopularityRank {
                    rank: 1,
                    source: "Majestic".into(),
                }),
                tld: Some("com".into()),
            }
            .into(),
            UrlReport {
                analysis: analysis(),
                final_url: Some("https://example.com/".into()),
                http_status: Some(200),
                title: Some("Example".into()),
                categories: Some(categories),
                tld: Some("com".into()),
            }
            .into(),
            FileReport {
                analysis: analysis(),
                md5: Some("44d88612fea8a8f36de82e1278abb02f".into()),
                sha1: Some("3395856ce81f2b7382dee72602f798b642f14140".into()),
                sha256: Some(
                    "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f".into(),
                ),
                size: Some(68),
                type_description: Some("Text".into()),
                meaningful_name: Some("eicar.com".into()),
                names: Some(["eicar.com", "eicar.txt"].into_iter().collect()),
                threat: Some(Box::new(ThreatClassification {
                    suggested_label: Some("virus.eicar/test".into()),
                    categories: [ThreatCount {
                        value: "virus".into(),
                        count: 12,
                    }]
                    .into(),
                    names: [ThreatCount {
                        value: "eicar".into(),
                        count: 30,
                    }]
                    .into(),
                })),
                first_submitted_at: DateTime::from_timestamp(1_148_301_722, 0),
            }
            .into(),
        ];
        for report in reports {
            let e = entry(Answer::Found(report));
            assert_eq!(decode(&encode(&e)), Some(e));
        }
    }

    #[test]
    fn an_ip_record_written_before_the_other_types_reads_as_an_ip_report() {
        // Exactly what the IP-only version's encoder wrote for a full report.
        let old = br#"{"v":1,"fetched":1790000000123,"fresh":1790086400123,"stale":1790691200123,"report":{"stats":[1,2,3,4,5],"score":-7,"votes":[8,9],"tags":["a"],"analysed":1785340799,"country":"US","continent":"NA","asn":15169,"owner":"Google LLC","cidr":"8.8.8.0/24","rir":"ARIN"}}"#;

        let decoded = decode(old).expect("an old record still reads");

        let Answer::Found(Report::Ip(report)) = decoded.answer else {
            panic!("an IP report, got {:?}", decoded.answer);
        };
        assert_eq!(report.asn, Some(15169));
        assert_eq!(report.country, Code2::parse("US"));
        assert_eq!(report.stats.map(|s| s.timeout), Some(5));
        assert_eq!(report.tags.as_ref().map(TextList::len), Some(1));
    }

    #[test]
    fn a_not_found_answer_and_empty_reports_survive_a_round_trip() {
        for e in [
            entry(Answer::NotFound),
            entry(Answer::Found(IpReport::default().into())),
            entry(Answer::Found(DomainReport::default().into())),
            entry(Answer::Found(UrlReport::default().into())),
            entry(Answer::Found(FileReport::default().into())),
        ] {
            assert_eq!(decode(&encode(&e)), Some(e));
        }
    }

    #[test]
    fn garbage_and_other_versions_decode_as_a_miss() {
        assert_eq!(decode(b"not json"), None);
        assert_eq!(
            decode(br#"{"v":99,"fetched":0,"fresh":0,"stale":0,"report":null}"#),
            None
        );
    }
}
