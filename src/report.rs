//! The normalised, compact reports we cache (IP here; domain, URL and file beside it), and the
//! verdict policy applied when rendering them.
//!
//! Only what the API returns is kept (never raw VirusTotal JSON): a cached entry must stay well
//! under 1 KiB. Every field is optional because real answers lack some of them (the 2019 format
//! has no analysis stats or tags; some IPs have no ASN or country).

mod analysis;
mod body;
mod categories;
mod domain;
mod file;
mod sizes;
mod text_list;
mod url;

use chrono::{DateTime, Utc};
use serde::Deserialize;

pub use analysis::Analysis;
pub use body::{
    DnsBody, DomainBody, FileBody, PopularityBody, ThreatBody, ThreatCountBody, UrlBody,
};
pub use categories::{Categories, CategoryPairs};
pub use domain::{DnsRecords, DnsValues, DomainReport, PopularityRank};
pub use file::{FileReport, MAX_NAMES, ThreatClassification, ThreatCount};
pub use text_list::{TextItems, TextList};
pub use url::UrlReport;

/// Counts of engine results from VirusTotal's `last_analysis_stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AnalysisStats {
    pub malicious: u32,
    pub suspicious: u32,
    pub harmless: u32,
    pub undetected: u32,
    pub timeout: u32,
}

impl AnalysisStats {
    /// Number of engines that took part in the analysis.
    pub fn engines(&self) -> u32 {
        self.malicious + self.suspicious + self.harmless + self.undetected + self.timeout
    }
}

/// Community votes (`total_votes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Votes {
    pub harmless: u32,
    pub malicious: u32,
}

/// A two-letter upper-case code (ISO 3166-1 alpha-2 country or continent), stored inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Code2([u8; 2]);

impl Code2 {
    /// Accepts exactly two ASCII letters, in any case.
    pub fn parse(s: &str) -> Option<Self> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The ISO 3166 English short name when this is a country code known to ISO 3166-1.
    pub fn country_name(&self) -> Option<&'static str> {
        rust_iso3166::from_alpha2(self.as_str()).map(|c| c.name)
    }

    /// The continent name for VirusTotal's continent codes.
    pub fn continent_name(&self) -> Option<&'static str> {
        // The seven codes are fixed by the UN M49 / GeoNames convention VirusTotal uses; no
        // maintained crate exports just this mapping, and it cannot change.
        Some(match self.as_str() {
            "AF" => "Africa",
            "AN" => "Antarctica",
            "AS" => "Asia",
            "EU" => "Europe",
            "NA" => "North America",
            "OC" => "Oceania",
            "SA" => "South America",
            _ => return None,
        })
    }
}

/// What VirusTotal knows about one IP address, normalised.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IpReport {
    pub stats: Option<AnalysisStats>,
    pub community_score: Option<i64>,
    pub votes: Option<Votes>,
    pub tags: Option<TextList>,
    pub last_analysis_at: Option<DateTime<Utc>>,
    pub country: Option<Code2>,
    pub continent: Option<Code2>,
    pub asn: Option<u32>,
    pub as_owner: Option<Box<str>>,
    pub cidr: Option<Box<str>>,
    pub rir: Option<Box<str>>,
}

impl IpReport {
    /// The verdict on this report under `policy`, and a sentence saying why.
    pub fn verdict(&self, policy: &VerdictPolicy) -> (Verdict, String) {
        policy.judge(self.stats.as_ref())
    }

    /// The reputation facts, as every other type holds them.
    pub fn analysis(&self) -> Analysis {
        Analysis {
            stats: self.stats,
            community_score: self.community_score,
            votes: self.votes,
            tags: self.tags.clone(),
            last_analysis_at: self.last_analysis_at,
        }
    }
}

impl From<Analysis> for IpReport {
    /// A report with the reputation facts and no network facts.
    fn from(a: Analysis) -> Self {
        IpReport {
            stats: a.stats,
            community_score: a.community_score,
            votes: a.votes,
            tags: a.tags,
            last_analysis_at: a.last_analysis_at,
            ..IpReport::default()
        }
    }
}

impl Report {
    /// The reputation facts every type carries (the verdict policy reads their counts).
    pub fn analysis(&self) -> std::borrow::Cow<'_, Analysis> {
        use std::borrow::Cow;
        match self {
            Report::Ip(r) => Cow::Owned(r.analysis()),
            Report::Domain(r) => Cow::Borrowed(&r.analysis),
            Report::Url(r) => Cow::Borrowed(&r.analysis),
            Report::File(r) => Cow::Borrowed(&r.analysis),
        }
    }
}

/// A normalised report of any type, as one lookup returns it.
///
/// Every report is boxed, the IP one too, so a report is 16 bytes whatever its type: an inline
/// IP report (144 bytes) was paid for in every cached domain, URL, file and not-found entry, and
/// saving the IP answer's one extra allocation did not make up for that.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Ip(Box<IpReport>),
    Domain(Box<DomainReport>),
    Url(Box<UrlReport>),
    File(Box<FileReport>),
}

impl From<IpReport> for Report {
    fn from(report: IpReport) -> Self {
        Report::Ip(Box::new(report))
    }
}

impl From<DomainReport> for Report {
    fn from(report: DomainReport) -> Self {
        Report::Domain(Box::new(report))
    }
}

impl From<UrlReport> for Report {
    fn from(report: UrlReport) -> Self {
        Report::Url(Box::new(report))
    }
}

impl From<FileReport> for Report {
    fn from(report: FileReport) -> Self {
        Report::File(Box::new(report))
    }
}

/// One of the four verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Malicious,
    Suspicious,
    Harmless,
    Unknown,
}

impl Verdict {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Malicious => "malicious",
            Verdict::Suspicious => "suspicious",
            Verdict::Harmless => "harmless",
            Verdict::Unknown => "unknown",
        }
    }
}

/// Thresholds turning engine counts into a verdict.
///
/// Defaults: `malicious` when at least 3 engines say malicious (one or two detections on
/// popular infrastructure such as 8.8.8.8 are routine false positives); `suspicious` when at
/// least 1 engine says malicious or suspicious; `harmless` when engines answered and none
/// flagged it; `unknown` when no engine gave an opinion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerdictPolicy {
    /// Minimum `malicious` count for the `malicious` verdict (`VTENRICH_VERDICT_MALICIOUS_MIN`).
    pub malicious_min: u32,
    /// Minimum `malicious + suspicious` count for `suspicious` (`VTENRICH_VERDICT_SUSPICIOUS_MIN`).
    pub suspicious_min: u32,
}

impl Default for VerdictPolicy {
    fn default() -> Self {
        Self {
            malicious_min: 3,
            suspicious_min: 1,
        }
    }
}

impl VerdictPolicy {
    /// The verdict and a sentence saying why.
    pub fn judge(&self, stats: Option<&AnalysisStats>) -> (Verdict, String) {
        let Some(s) = stats else {
            return (
                Verdict::Unknown,
                "VirusTotal has no analysis results for it".to_owned(),
            );
        };
        let engines = s.engines();
        let flagged = s.malicious + s.suspicious;
        if s.malicious >= self.malicious_min.max(1) {
            let reason = format!(
                "{} of {engines} engines flagged it malicious (threshold {}); {} suspicious",
                s.malicious, self.malicious_min, s.suspicious
            );
            (Verdict::Malicious, reason)
        } else if flagged >= self.suspicious_min.max(1) {
            let reason = format!(
                "{flagged} of {engines} engines flagged it ({} malicious, {} suspicious; malicious threshold {})",
                s.malicious, s.suspicious, self.malicious_min
            );
            (Verdict::Suspicious, reason)
        } else if s.harmless + flagged == 0 {
            (
                Verdict::Unknown,
                format!("none of {engines} engines gave an opinion"),
            )
        } else {
            (
                Verdict::Harmless,
                format!(
                    "{flagged} of {engines} engines flagged it; {} harmless",
                    s.harmless
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(malicious: u32, suspicious: u32, harmless: u32, undetected: u32) -> AnalysisStats {
        AnalysisStats {
            malicious,
            suspicious,
            harmless,
            undetected,
            timeout: 0,
        }
    }

    #[test]
    fn the_default_policy_reads_the_counts_as_documented() {
        let p = VerdictPolicy::default();
        assert_eq!(p.judge(Some(&stats(0, 0, 62, 32))).0, Verdict::Harmless);
        assert_eq!(
            p.judge(Some(&stats(0, 0, 62, 32))).1,
            "0 of 94 engines flagged it; 62 harmless"
        );
        assert_eq!(p.judge(Some(&stats(2, 0, 66, 21))).0, Verdict::Suspicious);
        assert_eq!(p.judge(Some(&stats(0, 1, 66, 21))).0, Verdict::Suspicious);
        assert_eq!(p.judge(Some(&stats(3, 0, 50, 21))).0, Verdict::Malicious);
        assert_eq!(p.judge(Some(&stats(0, 0, 0, 90))).0, Verdict::Unknown);
        assert_eq!(p.judge(None).0, Verdict::Unknown);
    }

    #[test]
    fn thresholds_are_configurable() {
        let p = VerdictPolicy {
            malicious_min: 1,
            suspicious_min: 5,
        };
        assert_eq!(p.judge(Some(&stats(1, 0, 60, 0))).0, Verdict::Malicious);
        assert_eq!(p.judge(Some(&stats(0, 4, 60, 0))).0, Verdict::Harmless);
    }

    #[test]
    fn codes_map_to_names() {
        assert_eq!(
            Code2::parse("us").unwrap().country_name(),
            Some("United States of America")
        );
        assert_eq!(
            Code2::parse("OC").unwrap().continent_name(),
            Some("Oceania")
        );
        assert!(Code2::parse("USA").is_none());
        assert!(Code2::parse("ZZ").unwrap().country_name().is_none());
    }
}
