//! VirusTotal's JSON shapes, private to the client: only the fields we use, every one optional.
//!
//! Unknown fields (`last_analysis_results`, `whois`, certificates ...) are skipped by serde
//! without being stored, which keeps parsing a 20 KiB answer cheap.

use serde::Deserialize;

pub(super) mod domain;
pub(super) mod file;
mod url;

pub(super) use domain::DomainAttributes;
pub(super) use file::FileAttributes;
pub(super) use url::UrlAttributes;

/// `{"data": {...}}` of `GET /{collection}/{id}`, with the attributes of that object type.
#[derive(Debug, Deserialize)]
pub(super) struct Envelope<A> {
    pub data: Option<Object<A>>,
}

/// One VirusTotal object.
#[derive(Debug, Deserialize)]
pub(super) struct Object<A> {
    #[serde(rename = "type")]
    pub kind: Option<Box<str>>,
    pub attributes: Option<A>,
}

/// The attributes we keep. Integer fields reject strings, negatives and fractions at parse time.
///
/// Each type's attributes repeat the five reputation fields (`last_analysis_stats` to
/// `last_analysis_date`) instead of `#[serde(flatten)]`ing a shared struct: flatten buffers
/// every unknown field first, which would multiply the cost of a 20 KiB answer.
#[derive(Debug, Deserialize)]
pub(super) struct IpAttributes {
    pub last_analysis_stats: Option<Stats>,
    pub reputation: Option<i64>,
    pub total_votes: Option<Votes>,
    pub tags: Option<Vec<Box<str>>>,
    pub last_analysis_date: Option<i64>,
    pub country: Option<Box<str>>,
    pub continent: Option<Box<str>>,
    pub asn: Option<u32>,
    pub as_owner: Option<Box<str>>,
    pub network: Option<Box<str>>,
    pub regional_internet_registry: Option<Box<str>>,
}

/// `last_analysis_stats` (the file-only buckets such as `type-unsupported` are ignored).
#[derive(Debug, Deserialize)]
pub(super) struct Stats {
    pub malicious: Option<u32>,
    pub suspicious: Option<u32>,
    pub harmless: Option<u32>,
    pub undetected: Option<u32>,
    pub timeout: Option<u32>,
}

/// `total_votes`.
#[derive(Debug, Deserialize)]
pub(super) struct Votes {
    pub harmless: Option<u32>,
    pub malicious: Option<u32>,
}

/// `{"error": {"code": "...", "message": "..."}}` sent with every non-200 status.
#[derive(Debug, Deserialize)]
pub(super) struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// The error object; `message` is not read because it may echo request input.
#[derive(Debug, Deserialize)]
pub(super) struct ErrorBody {
    pub code: Box<str>,
}

/// `{"data": {...}}` of `GET /users/{id}/overall_quotas`; only the user's own counters.
#[derive(Debug, Deserialize)]
pub(super) struct QuotasEnvelope {
    pub data: Quotas,
}

/// The quota groups we sync from.
#[derive(Debug, Deserialize)]
pub(super) struct Quotas {
    pub api_requests_daily: QuotaGroup,
    pub api_requests_monthly: QuotaGroup,
}

/// One quota group (`user` is the key's own budget; `group` is the company's, ignored).
#[derive(Debug, Deserialize)]
pub(super) struct QuotaGroup {
    pub user: QuotaCounter,
}

/// One counter.
#[derive(Debug, Deserialize)]
pub(super) struct QuotaCounter {
    pub used: u64,
}
