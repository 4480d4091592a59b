//! The simulator's mutable state: recorded calls, pending faults and quota usage.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

use super::faults::{Answer, Fault};
use super::objects::FileIndex;
use super::{SimCall, SimLookup};

/// VirusTotal's per-minute rule is a sliding window: "any given 1 minute time frame".
const MINUTE: chrono::Duration = chrono::Duration::seconds(60);

/// The quota limits the simulator enforces.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    pub per_minute: Option<u32>,
    pub per_day: Option<u64>,
}

/// Calls counted against the quota in the current hour, UTC day and UTC month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub hour: u64,
    pub day: u64,
    pub month: u64,
}

/// Everything that changes while the simulator runs. Lives behind a std `Mutex` that is never
/// held across an `.await`.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    pub calls: Vec<SimCall>,
    /// Domain, URL and file calls, charged against the same quota as IP calls.
    pub lookups: Vec<SimLookup>,
    pub files: FileIndex,
    pub quota_exceeded: bool,
    faults: HashMap<String, VecDeque<(Fault, usize)>>,
    /// Moments of counted calls that may still fall inside the minute window.
    recent: VecDeque<DateTime<Utc>>,
    hours: HashMap<(NaiveDate, u32), u64>,
    days: HashMap<NaiveDate, u64>,
    months: HashMap<(i32, u32), u64>,
}

impl Ledger {
    /// Counts a call against the quota, or answers 429 QuotaExceededError.
    ///
    /// A call refused with 429 is not counted: otherwise a client that keeps retrying would stay
    /// locked out forever, and tests of our own quota gate should see only the calls that got
    /// through. 401 answers never reach here, as VirusTotal cannot charge an unknown key.
    pub fn admit(&mut self, now: DateTime<Utc>, limits: Limits) -> Result<(), Answer> {
        let exceeded = || Answer::error(429, "QuotaExceededError", "Quota exceeded");
        if self.quota_exceeded {
            return Err(exceeded());
        }
        while self.recent.front().is_some_and(|at| *at <= now - MINUTE) {
            self.recent.pop_front();
        }
        if let Some(per_minute) = limits.per_minute
            && self.recent.len() >= per_minute as usize
        {
            return Err(exceeded());
        }
        let day = now.date_naive();
        if let Some(per_day) = limits.per_day
            && self.days.get(&day).copied().unwrap_or(0) >= per_day
        {
            return Err(exceeded());
        }
        self.recent.push_back(now);
        *self.hours.entry((day, now.hour())).or_default() += 1;
        *self.days.entry(day).or_default() += 1;
        *self.months.entry((now.year(), now.month())).or_default() += 1;
        Ok(())
    }

    /// Calls counted in the windows that contain `now`.
    pub fn usage(&self, now: DateTime<Utc>) -> Usage {
        let day = now.date_naive();
        Usage {
            hour: self.hours.get(&(day, now.hour())).copied().unwrap_or(0),
            day: self.days.get(&day).copied().unwrap_or(0),
            month: self
                .months
                .get(&(now.year(), now.month()))
                .copied()
                .unwrap_or(0),
        }
    }

    /// Queues `fault` for the next `times` answers about `ip`, after any fault already queued.
    pub fn inject(&mut self, ip: &str, fault: Fault, times: usize) {
        if times > 0 {
            self.faults
                .entry(same_address(ip))
                .or_default()
                .push_back((fault, times));
        }
    }

    /// Uses up one answer's worth of the next fault queued for `ip`.
    pub fn take_fault(&mut self, ip: &str) -> Option<Fault> {
        let queue = self.faults.get_mut(&same_address(ip))?;
        let (fault, left) = queue.front_mut()?;
        let fault = fault.clone();
        *left -= 1;
        if *left == 0 {
            queue.pop_front();
        }
        Some(fault)
    }

    /// How many recorded calls asked about `ip` (in any spelling of the same address).
    pub fn calls_for(&self, ip: &str) -> usize {
        let wanted = same_address(ip);
        self.calls
            .iter()
            .filter(|call| same_address(&call.ip) == wanted)
            .count()
    }
}

/// One key per address, so "2001:db8::1" and "2001:DB8:0::1" share faults and counts.
fn same_address(ip: &str) -> String {
    ip.parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .unwrap_or_else(|_| ip.to_string())
}
