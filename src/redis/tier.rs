//! Redis as the second cache tier shared by all replicas.
//!
//! Entries are stored in the codec's form and expire with their stale deadline (`PXAT`), so
//! Redis drops what no replica may serve any more without a purge job.

use std::time::Duration;

use async_trait::async_trait;

use super::backend::{Backend, WarnLimiter};
use super::keys::Keys;
use crate::answer::Entry;
use crate::clock::SharedClock;
use crate::enrich::SecondTier;
use crate::observable::Observable;
use crate::store::codec;

/// The shared answer cache in Redis.
pub struct RedisTier {
    backend: Backend,
    keys: Keys,
    clock: SharedClock,
    warn: WarnLimiter,
}

impl RedisTier {
    /// A tier storing under `keys`.
    pub fn new(backend: Backend, keys: Keys, clock: SharedClock) -> Self {
        Self {
            backend,
            keys,
            clock,
            warn: WarnLimiter::new(Duration::from_secs(30)),
        }
    }
}

#[async_trait]
impl SecondTier for RedisTier {
    async fn get_many(&self, observables: &[Observable]) -> Vec<Option<Entry>> {
        if observables.is_empty() {
            return Vec::new();
        }
        let keys: Vec<String> = observables
            .iter()
            .map(|observable| self.keys.entry(observable))
            .collect();
        // One MGET for the whole batch: one round trip however many misses it has. On a
        // Cluster it works because every entry shares the account's hash tag (one slot).
        let result = self
            .backend
            .run(|mut conn| async move {
                redis::cmd("MGET")
                    .arg(&keys)
                    .query_async::<Vec<Option<Vec<u8>>>>(&mut conn)
                    .await
            })
            .await;
        match result {
            Ok(values) if values.len() == observables.len() => values
                .into_iter()
                .map(|value| value.and_then(|bytes| codec::decode(&bytes)))
                .collect(),
            Ok(_) => {
                if self.warn.allow() {
                    tracing::warn!("Redis answered MGET with the wrong number of values");
                }
                vec![None; observables.len()]
            }
            Err(err) => {
                if self.warn.allow() {
                    tracing::warn!(error = %err, "Redis cache read failed; answering as misses");
                }
                vec![None; observables.len()]
            }
        }
    }

    async fn remove(&self, observables: &[Observable]) -> anyhow::Result<()> {
        if observables.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = observables
            .iter()
            .map(|observable| self.keys.entry(observable))
            .collect();
        self.backend
            .run(|mut conn| async move {
                redis::cmd("DEL")
                    .arg(&keys)
                    .query_async::<i64>(&mut conn)
                    .await
            })
            .await?;
        Ok(())
    }

    async fn put(&self, observable: &Observable, entry: &Entry) {
        let expire_at = entry.stale_until.timestamp_millis();
        // An entry past its stale deadline may not be served any more: not worth a write.
        if entry.stale_until <= self.clock.now() {
            return;
        }
        let key = self.keys.entry(observable);
        let value = codec::encode(entry);
        let result = self
            .backend
            .run(|mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("PXAT")
                    .arg(expire_at)
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
        if let Err(err) = result
            && self.warn.allow()
        {
            tracing::warn!(error = %err, "Redis cache write failed; the answer stays local");
        }
    }
}
