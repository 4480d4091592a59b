//! What enrichment decided for one observable, before it is rendered for the API.

use std::sync::Arc;

use crate::answer::{Answer, Entry};
use crate::observable::{InvalidObservable, NotRoutable, Observable};
use crate::quota::DenyReason;

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The cache (fresh, or stale when the upstream could not be used).
    Cache,
    /// A VirusTotal call made for this request (or joined while in flight).
    VirusTotal,
    /// Decided locally without VirusTotal (invalid input, special-purpose address).
    Local,
}

impl Source {
    /// Wire and label name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cache => "cache",
            Source::VirusTotal => "virustotal",
            Source::Local => "local",
        }
    }
}

/// A per-item failure: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    pub code: &'static str,
    pub message: String,
}

/// The decision for one distinct observable.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// VirusTotal's answer (found or not found), fresh or stale.
    Answered {
        entry: Arc<Entry>,
        source: Source,
        stale: bool,
        /// Why a stale entry was served (the upstream failure or quota state).
        reason: Option<ItemError>,
    },
    /// Never sent upstream (a special-purpose address, a special-use or private name, a URL
    /// on one or with credentials); its Display is the per-item message.
    NotRoutable(NotRoutable),
    /// Not a valid observable.
    Invalid(InvalidObservable),
    /// No quota slot within the wait; queued for a background fill.
    Deferred {
        /// Why, and whether a background fill is queued.
        error: ItemError,
        retry_after_secs: u64,
        /// Which limit gave no slot (usage tells the minute rate from a spent quota).
        reason: DenyReason,
    },
    /// The upstream failed and no stale entry exists.
    Error {
        error: ItemError,
        retry_after_secs: Option<u64>,
    },
}

/// Result status values of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    NotFound,
    NotRoutable,
    Invalid,
    Deferred,
    Error,
}

impl Status {
    /// All statuses, in documentation order.
    pub const ALL: [Status; 6] = [
        Status::Ok,
        Status::NotFound,
        Status::NotRoutable,
        Status::Invalid,
        Status::Deferred,
        Status::Error,
    ];

    /// Wire and label name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::NotFound => "not_found",
            Status::NotRoutable => "not_routable",
            Status::Invalid => "invalid",
            Status::Deferred => "deferred",
            Status::Error => "error",
        }
    }
}

impl Outcome {
    /// A fresh answer from `source`.
    pub fn answered(entry: Arc<Entry>, source: Source) -> Self {
        Outcome::Answered {
            entry,
            source,
            stale: false,
            reason: None,
        }
    }

    /// The API status of this outcome.
    pub fn status(&self) -> Status {
        match self {
            Outcome::Answered { entry, .. } => match entry.answer {
                Answer::Found(_) => Status::Ok,
                Answer::NotFound => Status::NotFound,
            },
            Outcome::NotRoutable(_) => Status::NotRoutable,
            Outcome::Invalid(_) => Status::Invalid,
            Outcome::Deferred { .. } => Status::Deferred,
            Outcome::Error { .. } => Status::Error,
        }
    }

    /// Where the answer came from (`None` for deferred items, which have no answer yet).
    pub fn source(&self) -> Option<Source> {
        match self {
            Outcome::Answered { source, .. } => Some(*source),
            Outcome::NotRoutable(_) | Outcome::Invalid(_) => Some(Source::Local),
            Outcome::Error { .. } => Some(Source::VirusTotal),
            Outcome::Deferred { .. } => None,
        }
    }
}

/// One input entry and its outcome, in input order.
#[derive(Debug, Clone)]
pub struct ItemResult {
    /// The caller's text (for invalid items, and to correlate).
    pub input: String,
    /// The parsed observable, when it parsed.
    pub observable: Option<Observable>,
    pub outcome: Outcome,
}

/// A whole batch's results plus what it cost.
#[derive(Debug, Clone)]
pub struct BatchResult {
    pub items: Vec<ItemResult>,
    /// VirusTotal calls this request caused (retries included; joined flights and attempts
    /// whose connection never opened, which VirusTotal never saw, excluded).
    pub upstream_calls: u32,
}
