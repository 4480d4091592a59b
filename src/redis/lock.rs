//! The fleet-wide fetch lock: one replica fetches a new observable while the others wait.
//!
//! `SET NX PX` with a random token, released by a compare-and-delete script so a holder whose
//! lock expired (and was taken by another replica) cannot release the new holder's lock.

use std::time::Duration;

use async_trait::async_trait;

use super::backend::{Backend, WarnLimiter};
use super::keys::Keys;
use crate::enrich::{FleetLock, LockOutcome};
use crate::observable::Observable;

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Per-observable locks in Redis.
pub struct RedisLock {
    backend: Backend,
    keys: Keys,
    release: redis::Script,
    warn: WarnLimiter,
}

impl RedisLock {
    /// Locks under `keys`.
    pub fn new(backend: Backend, keys: Keys) -> Self {
        Self {
            backend,
            keys,
            release: redis::Script::new(RELEASE),
            warn: WarnLimiter::new(Duration::from_secs(30)),
        }
    }
}

#[async_trait]
impl FleetLock for RedisLock {
    async fn try_acquire(&self, observable: &Observable, ttl: Duration) -> LockOutcome {
        let key = self.keys.lock(observable);
        let token = format!("{:032x}", rand::random::<u128>());
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let result = self
            .backend
            .run(|mut conn| {
                let token = token.clone();
                async move {
                    redis::cmd("SET")
                        .arg(key)
                        .arg(token)
                        .arg("NX")
                        .arg("PX")
                        .arg(ttl_ms)
                        .query_async::<Option<String>>(&mut conn)
                        .await
                }
            })
            .await;
        match result {
            Ok(Some(_)) => LockOutcome::Acquired(token),
            Ok(None) => LockOutcome::Busy,
            Err(err) => {
                if self.warn.allow() {
                    tracing::warn!(error = %err, "Redis lock unavailable; fetching without it");
                }
                LockOutcome::Unavailable
            }
        }
    }

    async fn release(&self, observable: &Observable, token: &str) {
        let key = self.keys.lock(observable);
        let result = self
            .backend
            .run(|mut conn| async move {
                self.release
                    .key(key)
                    .arg(token)
                    .invoke_async::<i64>(&mut conn)
                    .await
            })
            .await;
        // An unreleased lock expires with its ttl; the others only wait a little longer.
        if let Err(err) = result
            && self.warn.allow()
        {
            tracing::warn!(error = %err, "Redis lock release failed; it will expire");
        }
    }
}
