//! The report part of a result (reputation, location, network), rendered from the normalised
//! report under the verdict policy.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::rfc3339;
use crate::report::{Analysis, IpReport, VerdictPolicy};

/// Verdict and the engine counts behind it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reputation {
    /// `malicious`, `suspicious`, `harmless` or `unknown`.
    #[schema(value_type = String, example = "harmless")]
    pub verdict: &'static str,
    /// The verdict policy's reason, in words.
    pub verdict_reason: String,
    pub malicious: Option<u32>,
    pub suspicious: Option<u32>,
    pub harmless: Option<u32>,
    pub undetected: Option<u32>,
    pub timeout: Option<u32>,
    /// VirusTotal's community reputation score (may be negative).
    pub community_score: Option<i64>,
    pub votes: Option<VotesBody>,
    pub tags: Option<Vec<String>>,
    /// When VirusTotal last analysed the observable.
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_analysis_at: Option<DateTime<Utc>>,
}

/// Community votes.
#[derive(Debug, Serialize, ToSchema)]
pub struct VotesBody {
    pub harmless: u32,
    pub malicious: u32,
}

/// Country and continent; names are derived locally from the ISO codes.
#[derive(Debug, Serialize, ToSchema)]
pub struct Geo {
    pub country: Option<Country>,
    pub continent: Option<Continent>,
}

/// An ISO 3166-1 country.
#[derive(Debug, Serialize, ToSchema)]
pub struct Country {
    #[schema(example = "US")]
    pub iso_code: String,
    /// ISO 3166 English short name; null for codes outside ISO 3166-1.
    pub name: Option<&'static str>,
}

/// A continent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Continent {
    #[schema(example = "NA")]
    pub code: String,
    pub name: Option<&'static str>,
}

/// Autonomous system and allocation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Network {
    pub asn: Option<u32>,
    pub as_owner: Option<String>,
    pub cidr: Option<String>,
    /// Regional Internet Registry.
    pub rir: Option<String>,
}

pub(super) fn reputation(report: &Analysis, policy: &VerdictPolicy) -> Reputation {
    let (verdict, verdict_reason) = policy.judge(report.stats.as_ref());
    let stats = report.stats;
    Reputation {
        verdict: verdict.as_str(),
        verdict_reason,
        malicious: stats.map(|s| s.malicious),
        suspicious: stats.map(|s| s.suspicious),
        harmless: stats.map(|s| s.harmless),
        undetected: stats.map(|s| s.undetected),
        timeout: stats.map(|s| s.timeout),
        community_score: report.community_score,
        votes: report.votes.map(|v| VotesBody {
            harmless: v.harmless,
            malicious: v.malicious,
        }),
        tags: report
            .tags
            .as_ref()
            .map(|tags| tags.iter().map(|t| t.to_string()).collect()),
        last_analysis_at: report.last_analysis_at,
    }
}

pub(super) fn geo(report: &IpReport) -> Geo {
    Geo {
        country: report.country.map(|c| Country {
            iso_code: c.as_str().to_owned(),
            name: c.country_name(),
        }),
        continent: report.continent.map(|c| Continent {
            code: c.as_str().to_owned(),
            name: c.continent_name(),
        }),
    }
}

pub(super) fn network(report: &IpReport) -> Network {
    Network {
        asn: report.asn,
        as_owner: report.as_owner.as_deref().map(str::to_owned),
        cidr: report.cidr.as_deref().map(str::to_owned),
        rir: report.rir.as_deref().map(str::to_owned),
    }
}
