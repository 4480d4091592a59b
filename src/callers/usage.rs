//! How many VirusTotal calls a caller caused today, as the caller list reports it.
//!
//! The per-caller ledger that charges calls lives with the quota; the admin API only reads
//! it through this trait, so the two can be built and tested apart.

use crate::caller::CallerId;

/// Reads a caller's charged calls of the current UTC day.
pub trait DailyUse: Send + Sync {
    /// Calls charged to `id` today.
    fn used_today(&self, id: &CallerId) -> u64;
}

/// Reports zero for everyone: wired until the per-caller ledger is.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDailyUse;

impl DailyUse for NoDailyUse {
    fn used_today(&self, _id: &CallerId) -> u64 {
        0
    }
}
