//! A caller ledger that tells watchers of each charge, refusal and refund in the charge's own
//! step: the usage accounts count a charged call before it starts, the audit log records a
//! spent cap. One wrapper, so the ledgers themselves stay about caps.

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;

use super::{CallerLedger, CapSpent, Charge, DailyUse};
use crate::caller::{Caller, CallerId};
use crate::usage::Endpoint;

/// Told of what the ledger decided; each is awaited before the caller hears of it.
#[async_trait]
pub trait ChargeWatcher: Send + Sync + 'static {
    /// `charge` was counted; its call starts once this returns.
    async fn charged(&self, _charge: &Charge) {}

    /// `caller`'s daily cap refused a charge.
    async fn refused(&self, _caller: &Caller, _spent: CapSpent) {}

    /// `charge` was given back: its call never happened or never reached VirusTotal.
    async fn refunded(&self, _charge: &Charge) {}
}

/// A caller ledger whose decisions are watched.
pub struct WatchedLedger {
    inner: Arc<dyn CallerLedger>,
    watchers: Vec<Arc<dyn ChargeWatcher>>,
}

impl WatchedLedger {
    /// Wraps `inner`; `watchers` are told in order.
    pub fn new(inner: Arc<dyn CallerLedger>, watchers: Vec<Arc<dyn ChargeWatcher>>) -> Self {
        Self { inner, watchers }
    }
}

impl DailyUse for WatchedLedger {
    fn used_today(&self, id: &CallerId) -> u64 {
        self.inner.used_today(id)
    }
}

impl CallerLedger for WatchedLedger {
    fn charge<'a>(
        &'a self,
        caller: &'a Caller,
        endpoint: Endpoint,
    ) -> BoxFuture<'a, Result<Charge, CapSpent>> {
        Box::pin(async move {
            let result = self.inner.charge(caller, endpoint).await;
            for watcher in &self.watchers {
                match &result {
                    Ok(charge) => watcher.charged(charge).await,
                    Err(spent) => watcher.refused(caller, *spent).await,
                }
            }
            result
        })
    }

    fn refund(&self, charge: Charge) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            for watcher in &self.watchers {
                watcher.refunded(&charge).await;
            }
            self.inner.refund(charge).await;
        })
    }
}
