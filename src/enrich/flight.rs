//! Single-flight upstream fetches: one VirusTotal call per observable, however many ask.
//! These are the values a flight hands its waiters; [`super::fetch::Upstream::join_or_start`]
//! runs flights.
//!
//! A fetch runs in its own task, so a caller that stops waiting (its wait ran out, its
//! connection closed) never throws away an answer already paid for: the task still writes it
//! to the cache.

use std::sync::Arc;

use futures::future::{BoxFuture, Shared};

use crate::answer::Entry;
use crate::callers::ledger::CapSpent;
use crate::quota::Denied;
use crate::virustotal::VtError;

/// How a flight ended; shared by every waiter.
#[derive(Debug, Clone)]
pub enum FlightEnd {
    /// VirusTotal answered (found or not found); the entry is in the cache.
    Answered(Arc<Entry>),
    /// No slot in time (or VirusTotal blocks us); the address is queued for a background fill.
    Deferred(Denied),
    /// The call failed; nothing was cached.
    Failed(VtError),
    /// The starting caller's daily cap is spent: no call was made and nothing is queued
    /// (a background fill would spend past the cap).
    Refused(CapSpent),
}

/// A flight's end and the upstream calls it made.
#[derive(Debug, Clone)]
pub struct FlightResult {
    pub end: FlightEnd,
    pub calls: u32,
}

pub(super) type FlightFuture = Shared<BoxFuture<'static, FlightResult>>;

/// How a caller got attached to the answer for an address.
pub enum Join {
    /// Another flight finished just before we looked again: the cache has it.
    Cached(Arc<Entry>),
    /// A flight for this address was already running; we wait on it.
    Joined(FlightFuture),
    /// We started the flight.
    Started(FlightFuture),
}
