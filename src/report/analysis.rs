//! The reputation facts every VirusTotal object carries, whatever its type.

use chrono::{DateTime, Utc};

use super::{AnalysisStats, TextList, Votes};

/// Engine counts, community score, votes, tags and the analysis time of one object; the
/// verdict policy reads the counts. [`super::IpReport`] holds the same facts inline.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Analysis {
    pub stats: Option<AnalysisStats>,
    pub community_score: Option<i64>,
    pub votes: Option<Votes>,
    pub tags: Option<TextList>,
    pub last_analysis_at: Option<DateTime<Utc>>,
}
