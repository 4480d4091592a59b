//! How the shared gate is tuned: where the script's "now" comes from and how often the sync
//! task reads and probes Redis, and how long past 60 s a grant keeps its minute slot.

use std::time::Duration;

/// Where the quota script takes "now" from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptTime {
    /// Redis `TIME`: one clock for the whole fleet. Always in production.
    Redis,
    /// The injected clock, passed to the script as an override. For tests that move a
    /// `ManualClock` across minutes, days and months; never with several real replicas,
    /// whose clocks differ.
    Clock,
}

/// Tuning of the shared gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateOptions {
    /// Where the script's "now" comes from.
    pub time: ScriptTime,
    /// How often the cached counts behind `snapshot()` are re-read while Redis answers.
    pub refresh_every: Duration,
    /// How often an unreachable Redis is probed.
    pub probe_every: Duration,
    /// How long past 60 s a grant keeps its minute slot, in the script and in the offline
    /// share alike (`VTENRICH_VT_ARRIVAL_MARGIN`).
    pub arrival_margin: Duration,
}

impl Default for GateOptions {
    fn default() -> Self {
        Self {
            time: ScriptTime::Redis,
            // Also how stale this replica's view of the fleet's minute can be when Redis goes
            // away: the offline share leaves room only for what it knew was left.
            refresh_every: Duration::from_secs(1),
            probe_every: Duration::from_secs(1),
            arrival_margin: crate::quota::DEFAULT_ARRIVAL_MARGIN,
        }
    }
}
