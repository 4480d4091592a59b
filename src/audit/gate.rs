//! `quota.blocked` / `quota.unblocked`: a thin wrapper around the quota gate that records
//! VirusTotal's QuotaExceeded block when it is signalled and its end when the clock passes it,
//! leaving the gates themselves untouched.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::BoxFuture;
use serde_json::json;

use super::AuditLog;
use super::event::{Event, SYSTEM, actions};
use crate::clock::SharedClock;
use crate::quota::{
    Denied, Grant, Priority, QuotaGate, QuotaSnapshot, SyncedUsage, UpstreamSignal, next_day_reset,
};

/// A quota gate whose QuotaExceeded blocks are audited.
pub struct AuditedGate {
    inner: Arc<dyn QuotaGate>,
    audit: AuditLog,
    clock: SharedClock,
    /// The end of the block last recorded, so concurrent 429s record it once.
    recorded: Arc<Mutex<Option<DateTime<Utc>>>>,
}

impl AuditedGate {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn QuotaGate>, audit: AuditLog, clock: SharedClock) -> Self {
        Self {
            inner,
            audit,
            clock,
            recorded: Arc::default(),
        }
    }

    fn blocked(&self) {
        let now = self.clock.now();
        // The Redis gate may not show a block it just sent; VirusTotal's lasts to midnight.
        let until = self
            .inner
            .snapshot()
            .blocked_until
            .filter(|until| *until > now)
            .unwrap_or_else(|| next_day_reset(now));
        {
            let mut recorded = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
            if recorded.is_some_and(|known| known > now) {
                return;
            }
            *recorded = Some(until);
        }
        let text = until.to_rfc3339_opts(SecondsFormat::Secs, true);
        self.audit.record(
            Event::new(now, SYSTEM, actions::QUOTA_BLOCKED)
                .target("quota", "virustotal")
                .details(json!({"reason": "QuotaExceededError", "blocked_until": text})),
        );
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (audit, clock, recorded) = (
            self.audit.clone(),
            self.clock.clone(),
            self.recorded.clone(),
        );
        runtime.spawn(async move {
            clock.sleep_until(until).await;
            {
                let mut recorded = recorded.lock().unwrap_or_else(|e| e.into_inner());
                // A later block (the month ran out too) records its own end.
                if *recorded != Some(until) {
                    return;
                }
                *recorded = None;
            }
            audit.record(
                Event::new(clock.now(), SYSTEM, actions::QUOTA_UNBLOCKED)
                    .target("quota", "virustotal")
                    .details(json!({"blocked_until": text})),
            );
        });
    }
}

impl QuotaGate for AuditedGate {
    fn acquire(
        &self,
        priority: Priority,
        deadline: Option<DateTime<Utc>>,
    ) -> BoxFuture<'_, Result<Grant, Denied>> {
        self.inner.acquire(priority, deadline)
    }

    fn refund(&self, grant: Grant) -> BoxFuture<'_, ()> {
        self.inner.refund(grant)
    }

    fn signal(&self, signal: UpstreamSignal) {
        self.inner.signal(signal);
        if signal == UpstreamSignal::QuotaExceeded {
            self.blocked();
        }
    }

    fn adopt(&self, usage: SyncedUsage) {
        self.inner.adopt(usage);
    }

    fn snapshot(&self) -> QuotaSnapshot {
        self.inner.snapshot()
    }
}
