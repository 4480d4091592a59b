//! `caller.cap_exhausted`: a thin wrapper around the caller ledger that records the first
//! refusal of each caller's day, once per caller per UTC day (fleet-wide when the audit log
//! is shared), however many refusals follow.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use futures::future::BoxFuture;
use serde_json::json;

use super::AuditLog;
use super::event::{Event, SYSTEM, actions};
use crate::caller::{Caller, CallerId};
use crate::callers::ledger::{CallerLedger, CapSpent, Charge, DailyUse};
use crate::usage::Endpoint;

/// A caller ledger whose spent caps are audited.
pub struct AuditedLedger {
    inner: Arc<dyn CallerLedger>,
    audit: AuditLog,
    /// (caller, day) already handled by this replica: later refusals of the day cost nothing.
    seen: Mutex<HashSet<(CallerId, NaiveDate)>>,
}

impl AuditedLedger {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn CallerLedger>, audit: AuditLog) -> Self {
        Self {
            inner,
            audit,
            seen: Mutex::default(),
        }
    }

    async fn exhausted(&self, caller: &Caller, spent: CapSpent) {
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

impl DailyUse for AuditedLedger {
    fn used_today(&self, id: &CallerId) -> u64 {
        self.inner.used_today(id)
    }
}

impl CallerLedger for AuditedLedger {
    fn charge<'a>(
        &'a self,
        caller: &'a Caller,
        endpoint: Endpoint,
    ) -> BoxFuture<'a, Result<Charge, CapSpent>> {
        Box::pin(async move {
            let result = self.inner.charge(caller, endpoint).await;
            if let Err(spent) = &result {
                self.exhausted(caller, *spent).await;
            }
            result
        })
    }

    fn refund(&self, charge: Charge) -> BoxFuture<'_, ()> {
        self.inner.refund(charge)
    }
}
