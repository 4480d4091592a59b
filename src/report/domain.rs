//! What VirusTotal knows about a domain, normalised.

use chrono::{DateTime, Utc};

use super::{Analysis, Categories};

/// A domain's report: reputation plus registration, DNS and popularity facts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DomainReport {
    pub analysis: Analysis,
    pub registrar: Option<Box<str>>,
    pub created_at: Option<DateTime<Utc>>,
    /// Vendor → category, as VirusTotal lists them.
    pub categories: Option<Categories>,
    /// The last DNS answers VirusTotal saw, for the record types analysts pivot on.
    pub dns: Option<DnsRecords>,
    /// The best (lowest) rank among the popularity lists.
    pub popularity: Option<PopularityRank>,
    pub tld: Option<Box<str>>,
}

/// Values of the last DNS records, per type, in VirusTotal's order.
///
/// Exact-size slices, not `Vec`s: a cached report never grows, and a `Vec` filled by pushes
/// keeps room for four values however few came.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsRecords {
    pub a: Box<[Box<str>]>,
    pub aaaa: Box<[Box<str>]>,
    pub cname: Box<[Box<str>]>,
    pub mx: Box<[Box<str>]>,
    pub ns: Box<[Box<str>]>,
}

/// A rank and the list that gave it (e.g. `Cisco Umbrella`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopularityRank {
    pub rank: u32,
    pub source: Box<str>,
}
