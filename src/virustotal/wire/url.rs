//! The attributes of a `url` object that we keep.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Stats, Votes};

/// `data.attributes` of `GET /urls/{id}`.
#[derive(Debug, Deserialize)]
pub(in crate::virustotal) struct UrlAttributes {
    pub last_analysis_stats: Option<Stats>,
    pub reputation: Option<i64>,
    pub total_votes: Option<Votes>,
    pub tags: Option<Vec<Box<str>>>,
    pub last_analysis_date: Option<i64>,
    pub last_final_url: Option<Box<str>>,
    pub last_http_response_code: Option<u16>,
    pub title: Option<Box<str>>,
    pub categories: Option<BTreeMap<Box<str>, Box<str>>>,
    pub tld: Option<Box<str>>,
}
