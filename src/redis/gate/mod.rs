//! The shared quota gate: one VirusTotal account's windows, decided in Redis for all replicas.
//!
//! Why a sliding log for the minute instead of GCRA: VirusTotal allows "at most 4 requests of
//! any nature in any given 1 minute time frame". GCRA with a burst above 1 refills
//! continuously and lets a fifth call into some 60 s window; GCRA with burst 1 is safe but
//! spaces calls 15 s apart, so a 4-address investigation waits 45 s for its last answer. The
//! script instead keeps the grant times of the last minute in a sorted set (at most `rate`
//! members, so it stays tiny) and grants only when fewer than `rate` lie in (now-60s, now]:
//! exact, the first `rate` calls go at once, and it is the local gate's rule, so a replica
//! behaves the same alone and in a fleet. It is just as atomic (one script) and keyed by
//! Redis `TIME`, so replica clocks never matter.
//!
//! Waiting never hammers Redis: a denial carries the earliest moment a slot may free, which
//! only other replicas' spends can push later, so every waiter of this replica sleeps until
//! then without asking, and waiters ask one at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio::sync::{Notify, watch};

use super::backend::Backend;
use super::backend::BackendError;
use super::fallback::{self, Pending, Refund};
use super::known::State;
use super::script::{Op, QuotaScript, Status};
use crate::clock::SharedClock;
use crate::config::RedisFailureMode;
use crate::metrics::Metrics;
use crate::quota::{
    CountSource, Denied, DenyReason, Grant, Limits, LocalGate, Priority, QuotaGate, QuotaSnapshot,
    SyncedUsage, Ticket, UpstreamSignal, WaiterGuard,
};

/// Where the quota script takes "now" from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptTime {
    /// Redis `TIME`: one clock for the whole fleet. Always in production.
    Redis,
    /// The injected clock, passed to the script as an override. For tests that move a
    /// `ManualClock` across minutes, days and months; never with several real replicas,
    /// whose clocks differ.
    Clock,
}

/// Tuning of the shared gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateOptions {
    /// Where the script's "now" comes from.
    pub time: ScriptTime,
    /// How often the cached counts behind `snapshot()` are re-read while Redis answers.
    pub refresh_every: Duration,
    /// How often an unreachable Redis is probed.
    pub probe_every: Duration,
}

impl Default for GateOptions {
    fn default() -> Self {
        Self {
            time: ScriptTime::Redis,
            // Also how stale this replica's view of the fleet's minute can be when Redis goes
            // away: the fallback leaves room only for what it knew was left.
            refresh_every: Duration::from_secs(1),
            probe_every: Duration::from_secs(1),
        }
    }
}

/// The quota gate shared by every replica using one Redis namespace.
pub struct RedisGate {
    inner: Arc<Inner>,
    _sync: AbortOnDrop,
}

/// Aborts the sync task with the gate, so a dropped gate leaves nothing running.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(super) struct Inner {
    pub(super) script: QuotaScript,
    pub(super) backend: Backend,
    pub(super) limits: Limits,
    pub(super) clock: SharedClock,
    pub(super) options: GateOptions,
    pub(super) failure_mode: RedisFailureMode,
    pub(super) replicas: u32,
    /// The share gate deciding while Redis is unreachable (`local_share` mode).
    pub(super) fallback: LocalGate,
    /// Names this replica's grants and flush batches; random, so restarts never collide.
    pub(super) replica: String,
    pub(super) seq: AtomicU64,
    pub(super) state: Mutex<State>,
    /// Woken on every change that can move a waiter's earliest slot.
    pub(super) changed: Notify,
    /// Woken when the sync task has work (a signal, an adoption, a fallback spend).
    pub(super) wake_sync: Notify,
    /// `true` while decisions go through Redis.
    pub(super) shared: watch::Sender<bool>,
    /// One acquire script in flight per replica: waiters woken together ask in turn, and
    /// the later ones usually learn the next slot from the first one's answer.
    turn: tokio::sync::Mutex<()>,
    pub(super) metrics: Metrics,
}

enum Step {
    /// Ask Redis for a slot.
    Ask,
    /// No slot before `until`.
    Wait {
        until: DateTime<Utc>,
        reason: DenyReason,
    },
    /// A slot may be free but an interactive caller of this replica goes first.
    Yield,
    /// Redis is unreachable: decide without it.
    Alone,
}

impl RedisGate {
    /// Starts the gate and its sync task (refresh, probe, flush); needs a tokio runtime.
    /// `up` says whether Redis answered at start; if not, the gate starts without it.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        script: QuotaScript,
        backend: Backend,
        clock: SharedClock,
        failure_mode: RedisFailureMode,
        replicas: u32,
        options: GateOptions,
        metrics: Metrics,
        up: bool,
    ) -> Self {
        let limits = script.limits();
        let (shared, _) = watch::channel(up);
        let inner = Arc::new(Inner {
            fallback: LocalGate::new(fallback::share(limits, replicas), clock.clone()),
            script,
            backend,
            limits,
            clock,
            options,
            failure_mode,
            replicas,
            replica: format!("{:016x}", rand::random::<u64>()),
            seq: AtomicU64::new(0),
            state: Mutex::new(State {
                skew_ms: 0,
                known: None,
                not_before: None,
                blocked_until: None,
                pending: Pending::default(),
                source: CountSource::Redis,
                interactive_waiters: 0,
                bulk_waiters: 0,
            }),
            changed: Notify::new(),
            wake_sync: Notify::new(),
            shared,
            turn: tokio::sync::Mutex::new(()),
            metrics,
        });
        inner.metrics.quota_fallback_active.set(i64::from(!up));
        let sync = tokio::spawn(super::sync::run(inner.clone()));
        Self {
            inner,
            _sync: AbortOnDrop(sync),
        }
    }

    /// Whether decisions currently go through Redis (false while the fallback decides).
    pub fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }
}

impl Inner {
    fn step(&self, priority: Priority, now: DateTime<Utc>) -> Step {
        let state = self.state();
        let mut wait: Option<(DateTime<Utc>, DenyReason)> = None;
        let mut consider = |at: DateTime<Utc>, reason: DenyReason| {
            if at > now && wait.is_none_or(|(known, _)| at >= known) {
                wait = Some((at, reason));
            }
        };
        // Honoured while alone too: what Redis last said is the fleet's truth, and a share
        // must not spend a day the fleet has already spent.
        if let Some((at, reason)) = state.not_before {
            consider(at, reason);
        }
        if let Some(until) = state.blocked_until {
            consider(until, DenyReason::Blocked);
        }
        if let Some((until, reason)) = wait {
            return Step::Wait { until, reason };
        }
        if !self.is_shared() {
            return Step::Alone;
        }
        let ahead = match priority {
            Priority::Interactive => 0,
            Priority::Bulk => state.interactive_waiters,
            Priority::Background => state.interactive_waiters + state.bulk_waiters,
        };
        if ahead > 0 {
            return Step::Yield;
        }
        Step::Ask
    }

    async fn acquire(
        &self,
        priority: Priority,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<Grant, Denied> {
        let _waiter = (priority != Priority::Background)
            .then(|| WaiterGuard::new(|delta| self.adjust_waiters(priority, delta)));
        let mut shared = self.shared.subscribe();
        loop {
            // Listen before deciding, so a change between the decision and the wait wakes us.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();

            match self.step(priority, self.clock.now()) {
                Step::Wait { until, reason } => {
                    if deadline.is_some_and(|d| until > d) {
                        return Err(Denied {
                            reason,
                            retry_at: until,
                        });
                    }
                    tokio::select! {
                        () = self.clock.sleep_until(until) => {}
                        () = &mut changed => {}
                    }
                }
                Step::Yield => changed.await,
                Step::Alone => {
                    if let Some(result) = self.acquire_alone(priority, deadline, &mut shared).await
                    {
                        return result;
                    }
                }
                Step::Ask => {
                    let _turn = self.turn.lock().await;
                    // Another waiter may have learned a later slot while this one queued.
                    if !matches!(self.step(priority, self.clock.now()), Step::Ask) {
                        continue;
                    }
                    let member = format!(
                        "{}:{}",
                        self.replica,
                        self.seq.fetch_add(1, Ordering::Relaxed)
                    );
                    let result = self
                        .ask(
                            Op::Acquire {
                                member: member.clone(),
                                reserve: if priority.keeps_off_reserve() {
                                    self.limits.reserve_interactive
                                } else {
                                    0
                                },
                            },
                            None,
                        )
                        .await;
                    self.changed.notify_waiters();
                    match result {
                        Ok(reply) if reply.status == Status::Granted => {
                            let date = DateTime::from_timestamp_millis(reply.now_ms)
                                .unwrap_or(DateTime::<Utc>::MAX_UTC)
                                .date_naive();
                            return Ok(Grant {
                                at: self.clock.now(),
                                ticket: Ticket::Shared { member, date },
                            });
                        }
                        // The reserve holds for the rest of the day, and only for this ask's
                        // kind: it is not learned as everyone's `not_before`.
                        Ok(reply) if reply.reason == Some(DenyReason::Reserve) => {
                            let retry_at = self.clock.now()
                                + chrono::TimeDelta::milliseconds(
                                    i64::try_from(reply.retry_ms).unwrap_or(i64::MAX / 2),
                                );
                            if deadline.is_some_and(|d| retry_at > d) {
                                return Err(Denied {
                                    reason: DenyReason::Reserve,
                                    retry_at,
                                });
                            }
                            drop(_turn);
                            tokio::select! {
                                () = self.clock.sleep_until(retry_at) => {}
                                () = &mut changed => {}
                            }
                        }
                        // A denial was learned as `not_before`; the next step waits or denies.
                        Ok(_) => {}
                        Err(err) => self.enter_fallback(&err),
                    }
                }
            }
        }
    }
}

impl Inner {
    /// Gives a slot back wherever it was booked: the shared windows, or the fallback share
    /// and what it owes Redis.
    async fn refund(&self, grant: Grant) {
        let refund = match grant.ticket {
            Ticket::Shared { member, date } => Refund {
                id: member.clone(),
                date,
                member: Some(member),
            },
            Ticket::Alone { at_ms, date } => {
                self.fallback.refund(Grant::local(grant.at)).await;
                if self.state().pending.forget_spend(at_ms, date) {
                    return;
                }
                // Already batched, maybe already added: take it back in Redis too.
                let seq = self.seq.fetch_add(1, Ordering::Relaxed);
                Refund {
                    id: format!("{}:{seq}", self.replica),
                    date,
                    member: None,
                }
            }
            Ticket::Local => return self.fallback.refund(grant).await,
        };
        self.state().pending.refunds.push(refund.clone());
        if !self.is_shared() {
            // The sync task gives it back once Redis answers (after the batches it owes).
            self.wake_sync.notify_one();
            return;
        }
        if let Err(err) = self.push_refund(&refund).await {
            self.enter_fallback(&err);
        }
    }

    /// Applies one refund in Redis and re-reads the counts it changed.
    pub(super) async fn push_refund(&self, refund: &Refund) -> Result<(), BackendError> {
        let op = Op::Refund {
            id: refund.id.clone(),
            member: refund.member.clone(),
        };
        self.ask(op, Some(refund.date)).await?;
        {
            let mut state = self.state();
            state.pending.refunded(&refund.id);
            // The slot it freed may come before the one Redis last named.
            if state
                .not_before
                .is_some_and(|(_, reason)| reason != DenyReason::Blocked)
            {
                state.not_before = None;
            }
        }
        let peeked = self.ask(Op::Peek, None).await;
        self.changed.notify_waiters();
        peeked.map(drop)
    }

    /// Adds `delta` to the waiter count of `priority`; a leaving waiter wakes the others.
    fn adjust_waiters(&self, priority: Priority, delta: isize) {
        let mut state = self.state();
        let count = match priority {
            Priority::Interactive => &mut state.interactive_waiters,
            Priority::Bulk => &mut state.bulk_waiters,
            Priority::Background => return,
        };
        *count = count.saturating_add_signed(delta);
        drop(state);
        if delta < 0 {
            self.changed.notify_waiters();
        }
    }
}

impl QuotaGate for RedisGate {
    fn acquire(
        &self,
        priority: Priority,
        deadline: Option<DateTime<Utc>>,
    ) -> BoxFuture<'_, Result<Grant, Denied>> {
        Box::pin(self.inner.acquire(priority, deadline))
    }

    fn refund(&self, grant: Grant) -> BoxFuture<'_, ()> {
        Box::pin(self.inner.refund(grant))
    }

    fn signal(&self, signal: UpstreamSignal) {
        self.inner.signal(signal);
    }

    fn adopt(&self, usage: SyncedUsage) {
        self.inner.adopt(usage);
    }

    fn snapshot(&self) -> QuotaSnapshot {
        self.inner.snapshot()
    }
}
