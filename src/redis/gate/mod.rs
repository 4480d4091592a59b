//! The shared quota gate: one VirusTotal account's windows, decided in Redis for all replicas.
//!
//! Why a sliding log for the minute instead of GCRA: VirusTotal allows "at most 4 requests of
//! any nature in any given 1 minute time frame". GCRA with a burst above 1 refills
//! continuously and lets a fifth call into some 60 s window; GCRA with burst 1 is safe but
//! spaces calls 15 s apart, so a 4-address investigation waits 45 s for its last answer. The
//! script instead keeps the grant times of the last minute in a sorted set (at most `rate`
//! members, so it stays tiny) and grants only when fewer than `rate` lie in (now-60s, now]:
//! exact, the first `rate` calls go at once, and it is the local gate's rule, so a replica
//! behaves the same offline and in a fleet. It is just as atomic (one script) and keyed by
//! Redis `TIME`, so replica clocks never matter.
//!
//! Waiting never hammers Redis: a denial carries the earliest moment a slot may free, which
//! only other replicas' spends can push later, so every waiter of this replica sleeps until
//! then without asking, and waiters ask one at a time.

//!
//! The parts, each depending only on those listed before it:
//! - `options`: the tuning ([`GateOptions`], [`ScriptTime`]).
//! - `script` (+ `gate.lua`): the script's typed calls and replies.
//! - `owed`: what this replica still has to tell Redis (offline spends, refunds, blocks).
//! - `view`: what this replica knows of the shared counts, learned from the script's answers.
//! - `offline`: the share of the limits that decides while Redis is unreachable.
//! - `core`: the decisions (acquire, refund, going offline and back), on all of the above.
//! - `sync`: the background task that refreshes, probes and pays back.

mod core;
mod offline;
mod options;
mod owed;
mod script;
mod sync;
mod view;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

pub use options::{GateOptions, ScriptTime};
pub use script::{BlockFor, Call, Op, QuotaScript, Reply, Status};

use self::core::GateCore;
use self::offline::Offline;
use crate::clock::SharedClock;
use crate::config::RedisFailureMode;
use crate::metrics::Metrics;
use crate::quota::{
    Denied, Grant, Priority, QuotaGate, QuotaSnapshot, SyncedUsage, UpstreamSignal,
};
use crate::redis::backend::Backend;

/// The quota gate shared by every replica using one Redis namespace.
pub struct RedisGate {
    core: Arc<GateCore>,
    _sync: AbortOnDrop,
}

/// Aborts the sync task with the gate, so a dropped gate leaves nothing running.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl RedisGate {
    /// Starts the gate and its sync task (refresh, probe, flush); needs a tokio runtime.
    /// `online` says whether Redis answered at start; if not, the gate starts offline.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        script: QuotaScript,
        backend: Backend,
        clock: SharedClock,
        failure_mode: RedisFailureMode,
        replicas: u32,
        options: GateOptions,
        metrics: Metrics,
        online: bool,
    ) -> Self {
        let offline = Offline::new(
            failure_mode,
            script.limits(),
            replicas,
            options.probe_every,
            script.arrival_margin(),
            clock.clone(),
        );
        let core = Arc::new(GateCore::new(
            script, backend, clock, offline, options, metrics, online,
        ));
        let sync = tokio::spawn(sync::run(core.clone()));
        Self {
            core,
            _sync: AbortOnDrop(sync),
        }
    }
}

impl QuotaGate for RedisGate {
    fn acquire(
        &self,
        priority: Priority,
        deadline: Option<DateTime<Utc>>,
    ) -> BoxFuture<'_, Result<Grant, Denied>> {
        Box::pin(self.core.acquire(priority, deadline))
    }

    fn refund(&self, grant: Grant) -> BoxFuture<'_, ()> {
        Box::pin(self.core.refund(grant))
    }

    fn signal(&self, signal: UpstreamSignal) {
        self.core.signal(signal);
    }

    fn adopt(&self, usage: SyncedUsage) {
        self.core.adopt(usage);
    }

    fn snapshot(&self) -> QuotaSnapshot {
        self.core.snapshot()
    }
}
