//! Deciding without Redis: the switch to the fallback and back, and acquiring on it.

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;

use super::backend::BackendError;
use super::fallback::{self, MINUTE_MARGIN_MS, ms};
use super::gate::Inner;
use crate::config::RedisFailureMode;
use crate::quota::{Denied, DenyReason, Grant, Priority, QuotaGate, SyncedUsage, Ticket};

impl Inner {
    /// Decides while Redis is unreachable; `None` when Redis came back first.
    pub(super) async fn acquire_alone(
        &self,
        priority: Priority,
        deadline: Option<DateTime<Utc>>,
        shared: &mut watch::Receiver<bool>,
    ) -> Option<Result<Grant, Denied>> {
        match self.failure_mode {
            RedisFailureMode::Closed => {
                if deadline.is_some() {
                    let retry =
                        TimeDelta::from_std(self.options.probe_every).unwrap_or(TimeDelta::MAX);
                    return Some(Err(Denied {
                        reason: DenyReason::Closed,
                        retry_at: self
                            .clock
                            .now()
                            .checked_add_signed(retry)
                            .unwrap_or(DateTime::<Utc>::MAX_UTC),
                    }));
                }
                // A background fill waits as long as it takes: for Redis.
                let _ = shared.wait_for(|up| *up).await;
                None
            }
            RedisFailureMode::LocalShare => {
                tokio::select! {
                    result = self.fallback.acquire(priority, deadline) => {
                        Some(result.map(|grant| self.record_alone_spend(grant)))
                    }
                    // Back to the shared gate as soon as it answers again (a dropped local
                    // acquire has spent nothing).
                    _ = shared.wait_for(|up| *up) => None,
                }
            }
        }
    }

    /// Owes Redis the spend the share gate granted; the grant remembers it, so a refund can
    /// take it back from both.
    pub(super) fn record_alone_spend(&self, grant: Grant) -> Grant {
        let mut state = self.state();
        let now = self.redis_now(&state);
        let (at_ms, date) = (ms(now), now.date_naive());
        state.pending.record_spend(at_ms, date);
        drop(state);
        self.wake_sync.notify_one();
        Grant {
            at: grant.at,
            ticket: Ticket::Alone { at_ms, date },
        }
    }

    /// Stops asking Redis until the sync task has flushed what is owed to it.
    pub(super) fn enter_fallback(&self, err: &BackendError) {
        if !self
            .shared
            .send_if_modified(|up| std::mem::replace(up, false))
        {
            return;
        }
        let mut state = self.state();
        state.pending.back_since_ms = None;
        if let Some(known) = state.known
            && known.date == self.redis_now(&state).date_naive()
        {
            let shared = SyncedUsage {
                day_used: known.day_used,
                month_used: known.month_used,
            };
            self.fallback
                .adopt(fallback::seed(self.limits, self.replicas, shared));
            // The minute too: the fleet may already have spent part of it, and this replica
            // may only take its part of what is left.
            let (calls, since) =
                fallback::seed_minute(self.limits, self.replicas, known.minute_used, known.at);
            self.fallback.seed_minute(since, calls);
        }
        drop(state);
        self.metrics.quota_fallback_active.set(1);
        let alone = match self.failure_mode {
            RedisFailureMode::LocalShare => "this replica's share of the limits",
            RedisFailureMode::Closed => "no upstream calls (closed mode)",
        };
        tracing::warn!(error = %err, "Redis unreachable; the quota falls back to {alone}");
        self.wake_sync.notify_one();
        self.changed.notify_waiters();
    }

    /// Goes back to Redis once nothing spent alone is still owed to it and Redis has answered
    /// for a whole minute window. Until then the share keeps deciding: other replicas may
    /// still be alone, their spends of that minute not yet in Redis, so the shared window
    /// would undercount it (the shares add up to the limits, so staying on them is safe).
    pub(super) fn restore(&self) {
        {
            let mut state = self.state();
            let now_ms = ms(self.redis_now(&state));
            let since = *state.pending.back_since_ms.get_or_insert(now_ms);
            // In closed mode nobody spent alone: nothing to let age out.
            let settling = self.failure_mode == RedisFailureMode::LocalShare
                && now_ms < since + 60_000 + MINUTE_MARGIN_MS;
            if state.pending.owes_spends() || settling {
                return;
            }
            state.pending.back_since_ms = None;
        }
        if self
            .shared
            .send_if_modified(|up| !std::mem::replace(up, true))
        {
            self.metrics.quota_fallback_active.set(0);
            tracing::info!("Redis answers again; the quota is shared again");
            self.changed.notify_waiters();
        }
    }
}
