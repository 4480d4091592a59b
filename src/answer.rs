//! What VirusTotal answered for one observable, and how long that answer may be served.
//!
//! A domain type of its own because every tier holds it: the memory cache, the durable store,
//! Redis, and the results the API renders.

use chrono::{DateTime, Utc};

use crate::report::Report;

/// What VirusTotal answered; both are worth caching (a 404 costs quota too).
///
/// Not boxed: an answer lives in an `Arc<Entry>` already, and a not-found answer paying for a
/// report's size in memory is cheaper than a second allocation for every found one.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Answer {
    /// VirusTotal knows the observable.
    Found(Report),
    /// VirusTotal does not know the observable.
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
