//! The durable store as the second cache tier: the blocking store moved off the async
//! runtime, its failures absorbed.

use std::net::IpAddr;

use async_trait::async_trait;

use super::{DurableStore, StoreError};
use crate::answer::Entry;
use crate::enrich::SecondTier;

#[async_trait]
impl SecondTier for DurableStore {
    async fn get_many(&self, ips: &[IpAddr]) -> Vec<Option<Entry>> {
        let store = self.clone();
        let owned = ips.to_vec();
        tokio::task::spawn_blocking(move || store.get_many(&owned))
            .await
            .unwrap_or_else(|err| {
                self.read_failed(&StoreError::Panicked(err.to_string()));
                vec![None; ips.len()]
            })
    }

    async fn remove(&self, ips: &[IpAddr]) -> anyhow::Result<()> {
        let store = self.clone();
        let owned = ips.to_vec();
        Ok(tokio::task::spawn_blocking(move || store.remove(&owned)).await??)
    }

    async fn put(&self, ip: IpAddr, entry: &Entry) {
        let store = self.clone();
        let entry = entry.clone();
        // A failed write is already logged, counted and marked degraded inside `put`.
        if let Err(err) = tokio::task::spawn_blocking(move || store.put(ip, &entry)).await
            && err.is_panic()
        {
            self.write_failed("write", &StoreError::Panicked(err.to_string()));
        }
    }
}
