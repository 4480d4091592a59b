//! Counts each VirusTotal call in the usage accounts in the same step as the caller's charge:
//! a wrapper around the caller ledger, so the charge and its usage count are saved before
//! the call starts, and given back together when it does not happen.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::{Endpoint, Usage};
use crate::caller::{Caller, CallerId};
use crate::callers::ledger::{CallerLedger, CapSpent, Charge, DailyUse};

/// A caller ledger whose charges are counted as consuming usage.
pub struct CountedLedger {
    inner: Arc<dyn CallerLedger>,
    usage: Usage,
}

impl CountedLedger {
    /// Wraps `inner`, counting into `usage`.
    pub fn new(inner: Arc<dyn CallerLedger>, usage: Usage) -> Self {
        Self { inner, usage }
    }
}

impl DailyUse for CountedLedger {
    fn used_today(&self, id: &CallerId) -> u64 {
        self.inner.used_today(id)
    }
}

impl CallerLedger for CountedLedger {
    fn charge<'a>(
        &'a self,
        caller: &'a Caller,
        endpoint: Endpoint,
    ) -> BoxFuture<'a, Result<Charge, CapSpent>> {
        Box::pin(async move {
            let charge = self.inner.charge(caller, endpoint).await?;
            self.usage.consume(charge.day, &charge.usage, 1).await;
            Ok(charge)
        })
    }

    fn refund(&self, charge: Charge) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.usage.consume(charge.day, &charge.usage, -1).await;
            self.inner.refund(charge).await;
        })
    }
}
