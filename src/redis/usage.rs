//! The fleet's usage counts: one Redis hash per UTC day under the account's hash tag, every
//! replica adding to the same fields (`HINCRBY`), so any replica reads the fleet's usage. Each
//! hash expires once its day is past the last 60, so Redis purges without a sweeper.

use async_trait::async_trait;
use chrono::{Days, NaiveDate};

use super::backend::Backend;
use super::keys::Keys;
use crate::usage::{Count, Delta, RETAINED_DAYS, UsageBackend, UsageKey};

/// Usage counts in Redis, shared by the fleet.
pub struct RedisUsage {
    backend: Backend,
    keys: Keys,
}

impl RedisUsage {
    /// Counts under `keys`, through `backend`.
    pub fn new(backend: Backend, keys: Keys) -> Self {
        Self { backend, keys }
    }
}

/// When the hash of `day` goes: the midnight after which it is no longer among the last 60
/// days (Unix seconds).
pub(crate) fn expires_at(day: NaiveDate) -> i64 {
    (day + Days::new(RETAINED_DAYS))
        .and_hms_opt(0, 0, 0)
        .map_or(i64::MAX, |t| t.and_utc().timestamp())
}

#[async_trait]
impl UsageBackend for RedisUsage {
    async fn add(&self, deltas: Vec<Delta>) -> anyhow::Result<()> {
        let mut pipe = redis::pipe();
        // MULTI/EXEC: a batch is counted whole or not at all, so a retried flush never
        // counts half of it twice.
        pipe.atomic();
        for d in &deltas {
            let key = self.keys.usage_day(d.day);
            pipe.cmd("HINCRBY")
                .arg(&key)
                .arg(d.key.field(d.counter))
                .arg(d.by)
                .ignore();
            pipe.cmd("EXPIREAT")
                .arg(&key)
                .arg(expires_at(d.day))
                .ignore();
        }
        self.backend
            .run(|mut conn| async move { pipe.query_async::<()>(&mut conn).await })
            .await?;
        Ok(())
    }

    async fn read(&self, from: NaiveDate, to: NaiveDate) -> anyhow::Result<Vec<Count>> {
        let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
        let mut pipe = redis::pipe();
        for day in &days {
            pipe.cmd("HGETALL").arg(self.keys.usage_day(*day));
        }
        let hashes: Vec<Vec<(String, i64)>> = self
            .backend
            .run(|mut conn| async move { pipe.query_async(&mut conn).await })
            .await?;
        let mut out = Vec::new();
        for (day, fields) in days.into_iter().zip(hashes) {
            for (field, n) in fields {
                // A refund racing its charge's expiry can leave a negative count: read as 0.
                if let (Some((key, counter)), Ok(n)) =
                    (UsageKey::parse_field(&field), u64::try_from(n))
                {
                    out.push((day, key, counter, n));
                }
            }
        }
        Ok(out)
    }
}
