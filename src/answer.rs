//! What VirusTotal answered for one observable, and how long that answer may be served.
//!
//! A domain type of its own because every tier holds it: the memory cache, the durable store,
//! Redis, and the results the API renders.

use chrono::{DateTime, Utc};

use crate::report::IpReport;

/// What VirusTotal answered; both are worth caching (a 404 costs quota too).
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// VirusTotal knows the address.
    Found(IpReport),
    /// VirusTotal does not know the address.
    NotFound,
}

/// A cached answer with its deadlines.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub answer: Answer,
    /// When VirusTotal answered.
    pub fetched_at: DateTime<Utc>,
    /// Served as fresh until then.
    pub fresh_until: DateTime<Utc>,
    /// Served as stale (only when the upstream fails or the quota is out) until then.
    pub stale_until: DateTime<Utc>,
}
