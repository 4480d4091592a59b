//! The gate's background task: keeps the cached counts fresh, pushes signals and adoptions,
//! probes an unreachable Redis, and pays back what was spent offline.

use std::sync::Arc;

use super::core::GateCore;
use super::script::{BlockFor, Op};
use crate::redis::backend::BackendError;

/// Runs until the gate is dropped (which aborts it).
pub(super) async fn run(core: Arc<GateCore>) {
    loop {
        round(&core).await;
        let every = if core.is_online() {
            core.options.refresh_every
        } else {
            core.options.probe_every
        };
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = core.wake_sync.notified() => {}
        }
    }
}

/// One round: probe when offline, flush what is owed, re-read the counts, and go back to the
/// shared gate when all of that worked.
async fn round(core: &GateCore) {
    let offline = !core.is_online();
    let result = async {
        if offline {
            core.backend
                .run(|mut conn| async move {
                    redis::cmd("PING").query_async::<String>(&mut conn).await
                })
                .await?;
        }
        flush(core).await?;
        core.ask(Op::Peek, None).await
    }
    .await;
    match result {
        Ok(_) if offline => core.go_online(),
        Ok(_) => {}
        Err(err) => core.go_offline(&err),
    }
}

/// Pushes owed blocks, spends made offline, refunds, and adopted counts. Each is forgotten
/// only once Redis has taken it; spends go in batches Redis adds at most once each.
async fn flush(core: &GateCore) -> Result<(), BackendError> {
    let (block, batches, adopt, today, now_ms) = {
        let mut view = core.view();
        let now = view.redis_now(core.clock.now());
        let batches = view.owed.batches(&core.replica);
        (
            view.owed.block,
            batches,
            view.owed.adopt,
            now.date_naive(),
            now.timestamp_millis(),
        )
    };

    // A day-long block is pushed as "until Redis's midnight", and only on the day it was
    // signalled; a back-off only while it lasts.
    if let Some(date) = block.midnight
        && date == today
    {
        core.ask(Op::Block(BlockFor::Midnight), None).await?;
    }
    if let Some(until) = block.until_ms
        && until > now_ms
    {
        core.ask(Op::Block(BlockFor::Until(until)), None).await?;
    }
    core.view().owed.block_pushed(block);

    for batch in batches {
        let op = Op::Add {
            batch: batch.id.clone(),
            count: batch.grants.len() as u64,
            // Only the newest grants can still be in Redis's minute window.
            grants: batch
                .grants
                .iter()
                .rev()
                .take(core.limits.per_minute as usize)
                .copied()
                .collect(),
        };
        core.ask(op, Some(batch.date)).await?;
        core.view().owed.added(&batch.id);
    }

    // After the batches: a refund of a batched spend must not come before its spend.
    let refunds = core.view().owed.refunds.clone();
    for refund in &refunds {
        core.push_refund(refund).await?;
    }

    if let Some((date, usage)) = adopt {
        if date == today {
            let op = Op::Adopt {
                day_used: usage.day_used,
                month_used: usage.month_used,
            };
            core.ask(op, None).await?;
        }
        let mut view = core.view();
        if view.owed.adopt == Some((date, usage)) {
            view.owed.adopt = None;
        }
    }
    Ok(())
}
