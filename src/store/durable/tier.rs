//! The durable store as the second cache tier: the blocking store moved off the async
//! runtime, its failures absorbed.

use async_trait::async_trait;

use super::{DurableStore, StoreError};
use crate::answer::Entry;
use crate::enrich::SecondTier;
use crate::observable::Observable;

#[async_trait]
impl SecondTier for DurableStore {
    async fn get_many(&self, observables: &[Observable]) -> Vec<Option<Entry>> {
        let store = self.clone();
        let owned = observables.to_vec();
        tokio::task::spawn_blocking(move || store.get_many(&owned))
            .await
            .unwrap_or_else(|err| {
                self.read_failed(&StoreError::Panicked(err.to_string()));
                vec![None; observables.len()]
            })
    }

    async fn remove(&self, observables: &[Observable]) -> anyhow::Result<()> {
        let store = self.clone();
        let owned = observables.to_vec();
        Ok(tokio::task::spawn_blocking(move || store.remove(&owned)).await??)
    }

    async fn put(&self, observable: &Observable, entry: &Entry) {
        let store = self.clone();
        let observable = observable.clone();
        let entry = entry.clone();
        // A failed write is already logged, counted and marked degraded inside `put`.
        if let Err(err) = tokio::task::spawn_blocking(move || store.put(&observable, &entry)).await
            && err.is_panic()
        {
            self.write_failed("write", &StoreError::Panicked(err.to_string()));
        }
    }
}
