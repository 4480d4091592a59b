//! The attributes of a `domain` object that we keep.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Stats, Votes};

/// `data.attributes` of `GET /domains/{domain}`.
#[derive(Debug, Deserialize)]
pub(in crate::virustotal) struct DomainAttributes {
    pub last_analysis_stats: Option<Stats>,
    pub reputation: Option<i64>,
    pub total_votes: Option<Votes>,
    pub tags: Option<Vec<Box<str>>>,
    pub last_analysis_date: Option<i64>,
    pub registrar: Option<Box<str>>,
    pub creation_date: Option<i64>,
    pub categories: Option<BTreeMap<Box<str>, Box<str>>>,
    pub last_dns_records: Option<Vec<DnsRecord>>,
    pub popularity_ranks: Option<BTreeMap<Box<str>, PopularityRank>>,
    pub tld: Option<Box<str>>,
}

/// One entry of `last_dns_records` (SOA entries carry more fields, which are skipped).
#[derive(Debug, Deserialize)]
pub(in crate::virustotal) struct DnsRecord {
    #[serde(rename = "type")]
    pub kind: Box<str>,
    pub value: Box<str>,
}

/// One list of `popularity_ranks`.
#[derive(Debug, Deserialize)]
pub(in crate::virustotal) struct PopularityRank {
    pub rank: Option<u32>,
}
