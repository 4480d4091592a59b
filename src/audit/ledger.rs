//! `caller.cap_exhausted`: a watcher of the caller ledger that records the first refusal of
//! each caller's day, once per caller per UTC day (fleet-wide when the audit log is shared),
//! however many refusals follow.

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde_json::json;

use super::AuditLog;
use super::event::{Event, SYSTEM, actions};
use crate::caller::{Caller, CallerId};
use crate::callers::ledger::{CapSpent, ChargeWatcher};

/// Records spent caps in the audit log.
pub struct CapAudit {
    audit: AuditLog,
    /// (caller, day) already handled by this replica: later refusals of the day cost nothing.
    seen: Mutex<HashSet<(CallerId, NaiveDate)>>,
}

impl CapAudit {
    /// Records into `audit`.
    pub fn new(audit: AuditLog) -> Self {
        Self {
            audit,
            seen: Mutex::default(),
        }
    }
}

#[async_trait]
impl ChargeWatcher for CapAudit {
    async fn refused(&self, caller: &Caller, spent: CapSpent) {
        let now = self.audit.now();
        let day = now.date_naive();
        {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.retain(|(_, d)| *d >= day);
            if !seen.insert((caller.id().clone(), day)) {
                return;
            }
        }
        let event = Event::new(now, SYSTEM, actions::CALLER_CAP_EXHAUSTED)
            .target("caller", caller.as_str())
            .details(json!({
                "daily_cap": spent.cap,
                "day": day.to_string(),
                "resets_at": spent.retry_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            }));
        let once = format!("cap_exhausted:{}:{day}", caller.id());
        self.audit.record_once(&once, spent.retry_at, event).await;
    }
}
