//! What VirusTotal knows about a file, normalised.

use chrono::{DateTime, Utc};

use super::{Analysis, TextList};

/// Most file names kept: the list runs to hundreds for common samples.
pub const MAX_NAMES: usize = 10;

/// A file's report. It carries all three hashes, so one answer can serve a lookup by any.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileReport {
    pub analysis: Analysis,
    pub md5: Option<Box<str>>,
    pub sha1: Option<Box<str>>,
    pub sha256: Option<Box<str>>,
    pub size: Option<u64>,
    pub type_description: Option<Box<str>>,
    pub meaningful_name: Option<Box<str>>,
    /// The first [`MAX_NAMES`] names the file was submitted under.
    pub names: Option<TextList>,
    /// `popular_threat_classification`; boxed because most files have none.
    pub threat: Option<Box<ThreatClassification>>,
    pub first_submitted_at: Option<DateTime<Utc>>,
}

/// VirusTotal's summary of what engines call the file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThreatClassification {
    pub suggested_label: Option<Box<str>>,
    pub categories: Box<[ThreatCount]>,
    pub names: Box<[ThreatCount]>,
}

/// One category or family name and how many engines used it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreatCount {
    pub value: Box<str>,
    pub count: u32,
}
