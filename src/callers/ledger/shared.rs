//! The fleet's per-caller day counts in Redis, so a cap of 3 means 3 across every replica.
//!
//! One counter per caller and UTC day under the account's hash tag, checked and incremented
//! by one script (atomic across replicas), expiring an hour after its day ends. While Redis is
//! unreachable a replica charges against its own copy of the last counts it saw: the quota
//! gate's offline share already bounds what the fleet spends in total, and a caller may then
//! overrun its cap by what the other replicas charge it during the outage.

use std::time::Duration;

use futures::future::BoxFuture;

use super::{Booked, CallerLedger, CapSpent, Charge, DailyUse, LocalLedger};
use crate::caller::{Caller, CallerId};
use crate::clock::SharedClock;
use crate::quota::next_day_reset;
use crate::redis::{Backend, Keys, WarnLimiter};
use crate::usage::{Endpoint, UsageKey};

/// A counter outlives its day by this much, so a charge racing midnight still finds it.
const MARGIN_MS: i64 = 3_600_000;

/// Checks the cap and counts one call, atomically. ARGV: cap (-1 = none), expiry in ms.
/// Reply: {1 charged | 0 cap spent, the count after}.
const CHARGE: &str = r"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local cap = tonumber(ARGV[1])
if cap >= 0 and used >= cap then
  return {0, used}
end
used = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, used}
";

/// Takes one call back (never below zero; an expired counter has nothing to give).
const REFUND: &str = r"
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
";

/// Per-caller day counts shared by the fleet through Redis.
pub struct SharedLedger {
    backend: Backend,
    keys: Keys,
    clock: SharedClock,
    /// The last counts seen in Redis, and this replica's charges while Redis is away.
    local: LocalLedger,
    charge: redis::Script,
    refund: redis::Script,
    warn: WarnLimiter,
}

impl SharedLedger {
    /// Counts under `keys`, through `backend`.
    pub fn new(backend: Backend, keys: Keys, clock: SharedClock) -> Self {
        Self {
            backend,
            keys,
            local: LocalLedger::new(clock.clone()),
            clock,
            charge: redis::Script::new(CHARGE),
            refund: redis::Script::new(REFUND),
            warn: WarnLimiter::new(Duration::from_secs(30)),
        }
    }

    async fn charge_shared(
        &self,
        caller: &Caller,
        endpoint: Endpoint,
    ) -> Result<Result<Charge, CapSpent>, ()> {
        let now = self.clock.now();
        let day = now.date_naive();
        let key = self.keys.caller_day(caller.id(), day);
        let expire_ms = ((next_day_reset(now) - now).num_milliseconds() + MARGIN_MS).max(1);
        let cap = caller
            .profile()
            .daily_cap
            .map_or(-1, |c| i64::try_from(c).unwrap_or(i64::MAX));
        let reply: Result<(i64, i64), _> = self
            .backend
            .run(|mut conn| async move {
                self.charge
                    .key(key)
                    .arg(cap)
                    .arg(expire_ms)
                    .invoke_async(&mut conn)
                    .await
            })
            .await;
        let (charged, used) = match reply {
            Ok(reply) => reply,
            Err(err) => {
                if self.warn.allow() {
                    tracing::warn!(
                        error = %err,
                        "Redis unreachable; caller caps are counted by this replica alone"
                    );
                }
                return Err(());
            }
        };
        let used = u64::try_from(used).unwrap_or(0);
        self.local.restore([(caller.id().clone(), day, used)]);
        if charged == 0 {
            let cap = caller.profile().daily_cap.unwrap_or(0);
            return Ok(Err(CapSpent {
                cap,
                retry_at: next_day_reset(now),
            }));
        }
        Ok(Ok(Charge {
            caller: caller.id().clone(),
            day,
            used,
            usage: UsageKey::of(caller, endpoint),
            booked: Booked::Shared,
        }))
    }

    async fn refund_shared(&self, charge: &Charge) {
        let key = self.keys.caller_day(&charge.caller, charge.day);
        let result: Result<i64, _> = self
            .backend
            .run(|mut conn| async move { self.refund.key(key).invoke_async(&mut conn).await })
            .await;
        if let Err(err) = result
            && self.warn.allow()
        {
            // Lost refunds only over-count: a caller is refused a little early, never late.
            tracing::warn!(error = %err, "could not give a caller's charge back in Redis");
        }
    }
}

impl DailyUse for SharedLedger {
    fn used_today(&self, id: &CallerId) -> u64 {
        self.local.used_today(id)
    }
}

impl CallerLedger for SharedLedger {
    fn charge<'a>(
        &'a self,
        caller: &'a Caller,
        endpoint: Endpoint,
    ) -> BoxFuture<'a, Result<Charge, CapSpent>> {
        Box::pin(async move {
            match self.charge_shared(caller, endpoint).await {
                Ok(result) => result,
                Err(()) => self.local.charge_now(caller, endpoint),
            }
        })
    }

    fn refund(&self, charge: Charge) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if charge.booked == Booked::Shared {
                self.refund_shared(&charge).await;
            }
            self.local.refund_now(&charge);
        })
    }
}
