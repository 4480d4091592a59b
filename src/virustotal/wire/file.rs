//! The attributes of a `file` object that we keep.

use serde::Deserialize;

use super::{Stats, Votes};

/// `data.attributes` of `GET /files/{hash}`.
#[derive(Debug, Deserialize)]
pub(in crate::virustotal) struct FileAttributes {
    pub last_analysis_stats: Option<Stats>,
    pub reputation: Option<i64>,
    pub total_votes: Option<Votes>,
    pub tags: Option<Vec<Box<str>>>,
    pub last_analysis_date: Option<i64>,
    pub md5: Option<Box<str>>,
    pub sha1: Option<Box<str>>,
    pub sha256: Option<Box<str>>,
    pub size: Option<u64>,
    pub type_description: Option<Box<str>>,
    pub meaningful_name: Option<Box<str>>,
    pub names: Option<Vec<Box<str>>>,
    pub popular_threat_classification: Option<ThreatClassification>,
    pub first_submission_date: Option<i64>,
}

/// `popular_threat_classification`.
#[derive(Debug, Deserialize)]
pub(in crate::virustotal) struct ThreatClassification {
    pub suggested_threat_label: Option<Box<str>>,
    pub popular_threat_category: Option<Vec<ThreatCount>>,
    pub popular_threat_name: Option<Vec<ThreatCount>>,
}

/// One `{"value", "count"}` entry.
#[derive(Debug, Deserialize)]
pub(in crate::virustotal) struct ThreatCount {
    pub value: Box<str>,
    pub count: u32,
}
