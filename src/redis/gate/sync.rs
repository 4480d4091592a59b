//! The gate's background task: keeps the cached counts fresh, pushes signals and adoptions,
//! probes an unreachable Redis, and pays back what was spent without it.

use std::sync::Arc;

use super::backend::BackendError;
use super::fallback::ms;
use super::gate::Inner;
use super::script::{BlockFor, Op};

/// Runs until the gate is dropped (which aborts it).
pub(super) async fn run(gate: Arc<Inner>) {
    loop {
        gate.sync().await;
        let every = if gate.is_shared() {
            gate.options.refresh_every
        } else {
            gate.options.probe_every
        };
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = gate.wake_sync.notified() => {}
        }
    }
}

impl Inner {
    /// One round: probe when alone, flush what is owed, re-read the counts, and go back to
    /// the shared gate when all of that worked.
    async fn sync(&self) {
        let alone = !self.is_shared();
        let result = async {
            if alone {
                self.backend
                    .run(|mut conn| async move {
                        redis::cmd("PING").query_async::<String>(&mut conn).await
                    })
                    .await?;
            }
            self.flush().await?;
            self.ask(Op::Peek, None).await
        }
        .await;
        match result {
            Ok(_) if alone => self.restore(),
            Ok(_) => {}
            Err(err) => self.enter_fallback(&err),
        }
    }

    /// Pushes pending blocks, spends made alone, refunds, and adopted counts. Each is forgotten only
    /// once Redis has taken it; spends go in batches Redis adds at most once each.
    async fn flush(&self) -> Result<(), BackendError> {
        let (block, batches, adopt, today, now_ms) = {
            let mut state = self.state();
            let now = self.redis_now(&state);
            let batches = state.pending.batches(&self.replica);
            (
                state.pending.block,
                batches,
                state.pending.adopt,
                now.date_naive(),
                ms(now),
            )
        };

        // A day-long block is pushed as "until Redis's midnight", and only on the day it was
        // signalled; a back-off only while it lasts.
        if let Some(date) = block.midnight
            && date == today
        {
            self.ask(Op::Block(BlockFor::Midnight), None).await?;
        }
        if let Some(until) = block.until_ms
            && until > now_ms
        {
            self.ask(Op::Block(BlockFor::Until(until)), None).await?;
        }
        self.state().pending.block_pushed(block);

        for batch in batches {
            let op = Op::Add {
                batch: batch.id.clone(),
                count: batch.grants.len() as u64,
                // Only the newest grants can still be in Redis's minute window.
                grants: batch
                    .grants
                    .iter()
                    .rev()
                    .take(self.limits.per_minute as usize)
                    .copied()
                    .collect(),
            };
            self.ask(op, Some(batch.date)).await?;
            self.state().pending.added(&batch.id);
        }

        // After the batches: a refund of a batched spend must not come before its spend.
        let refunds = self.state().pending.refunds.clone();
        for refund in &refunds {
            self.push_refund(refund).await?;
        }

        if let Some((date, usage)) = adopt {
            if date == today {
                let op = Op::Adopt {
                    day_used: usage.day_used,
                    month_used: usage.month_used,
                };
                self.ask(op, None).await?;
            }
            let mut state = self.state();
            if state.pending.adopt == Some((date, usage)) {
                state.pending.adopt = None;
            }
        }
        Ok(())
    }
}
