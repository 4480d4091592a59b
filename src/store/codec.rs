//! The stored form of a cache entry, shared by the embedded store and Redis.
//!
//! A private, versioned DTO keeps the domain types free to change: a record written by an
//! older version either decodes or is treated as a miss, never as wrong data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::answer::{Answer, Entry};
use crate::report::{AnalysisStats, Code2, IpReport, Votes};

/// Bumped when the stored shape changes incompatibly.
const VERSION: u8 = 1;

#[derive(Serialize, Deserialize)]
struct Stored {
    v: u8,
    /// Unix milliseconds.
    fetched: i64,
    fresh: i64,
    stale: i64,
    /// `None` = VirusTotal does not know the address.
    report: Option<StoredReport>,
}

#[derive(Serialize, Deserialize)]
struct StoredReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stats: Option<[u32; 5]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    score: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    votes: Option<[u32; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    analysed: Option<i64>,
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
}

/// Encodes an entry (compact JSON: small, and readable with `redis-cli GET`).
pub fn encode(entry: &Entry) -> Vec<u8> {
    let report = match &entry.answer {
        Answer::NotFound => None,
        Answer::Found(r) => Some(StoredReport {
            stats: r.stats.map(|s| {
                [
                    s.malicious,
                    s.suspicious,
                    s.harmless,
                    s.undetected,
                    s.timeout,
                ]
            }),
            score: r.community_score,
            votes: r.votes.map(|v| [v.harmless, v.malicious]),
            tags: r
                .tags
                .as_ref()
                .map(|t| t.iter().map(|s| s.to_string()).collect()),
            analysed: r.last_analysis_at.map(|t| t.timestamp()),
            country: r.country.map(|c| c.as_str().to_owned()),
            continent: r.continent.map(|c| c.as_str().to_owned()),
            asn: r.asn,
            owner: r.as_owner.as_deref().map(str::to_owned),
            cidr: r.cidr.as_deref().map(str::to_owned),
            rir: r.rir.as_deref().map(str::to_owned),
        }),
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
        Some(r) => Answer::Found(IpReport {
            stats: r
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
            community_score: r.score,
            votes: r.votes.map(|[harmless, malicious]| Votes {
                harmless,
                malicious,
            }),
            tags: r
                .tags
                .map(|t| t.into_iter().map(String::into_boxed_str).collect()),
            last_analysis_at: r.analysed.and_then(|s| DateTime::from_timestamp(s, 0)),
            country: r.country.as_deref().and_then(Code2::parse),
            continent: r.continent.as_deref().and_then(Code2::parse),
            asn: r.asn,
            as_owner: r.owner.map(String::into_boxed_str),
            cidr: r.cidr.map(String::into_boxed_str),
            rir: r.rir.map(String::into_boxed_str),
        }),
    };
    Some(Entry {
        answer,
        fetched_at: at(stored.fetched)?,
        fresh_until: at(stored.fresh)?,
        stale_until: at(stored.stale)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(answer: Answer) -> Entry {
        let t = DateTime::from_timestamp_millis(1_790_000_000_123).unwrap();
        Entry {
            answer,
            fetched_at: t,
            fresh_until: t + chrono::Duration::hours(24),
            stale_until: t + chrono::Duration::days(8),
        }
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
            tags: Some(vec!["a".into(), "b".into()].into_boxed_slice()),
            last_analysis_at: DateTime::from_timestamp(1_785_340_799, 0),
            country: Code2::parse("US"),
            continent: Code2::parse("NA"),
            asn: Some(15169),
            as_owner: Some("Google LLC".into()),
            cidr: Some("8.8.8.0/24".into()),
            rir: Some("ARIN".into()),
        };
        let e = entry(Answer::Found(report));
        assert_eq!(decode(&encode(&e)), Some(e));
    }

    #[test]
    fn a_not_found_answer_and_an_empty_report_survive_a_round_trip() {
        for e in [
            entry(Answer::NotFound),
            entry(Answer::Found(IpReport::default())),
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
