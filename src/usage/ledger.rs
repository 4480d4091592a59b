//! Counts each VirusTotal call in the usage accounts in the same step as the caller's charge
//! (a watcher of the caller ledger): saved before the call starts, given back with the
//! charge when the call does not happen.

use async_trait::async_trait;

use super::Usage;
use crate::callers::ledger::{Charge, ChargeWatcher};

#[async_trait]
impl ChargeWatcher for Usage {
    async fn charged(&self, charge: &Charge) {
        self.consume(charge.day, &charge.usage, 1).await;
    }

    async fn refunded(&self, charge: &Charge) {
        self.consume(charge.day, &charge.usage, -1).await;
    }
}
