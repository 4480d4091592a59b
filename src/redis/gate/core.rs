//! The gate's core, shared by the handle and its sync task: asking the script, the acquire
//! loop, refunds, and the switch between Redis and the offline share.
//!
//! About 400 lines on purpose: these are one type's methods (its `impl` beside it), all
//! driving the same view, notifications and online flag; the pure parts already live in
//! `view`, `owed` and `offline`, and the background task in `sync`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::{Notify, watch};

use super::offline::Offline;
use super::options::GateOptions;
use super::owed::Refund;
use super::script::{Op, QuotaScript, Reply, Status};
use super::view::View;
use crate::clock::SharedClock;
use crate::metrics::Metrics;
use crate::quota::{
    Denied, DenyReason, Grant, Limits, Priority, QuotaSnapshot, SyncedUsage, Ticket,
    UpstreamSignal, Waiters,
};
use crate::redis::backend::{Backend, BackendError};

/// Everything the gate decides with; the handle and the sync task share it.
pub(super) struct GateCore {
    pub(super) script: QuotaScript,
    pub(super) backend: Backend,
    pub(super) limits: Limits,
    pub(super) clock: SharedClock,
    pub(super) options: GateOptions,
    /// Decides while Redis is unreachable.
    pub(super) offline: Offline,
    /// Names this replica's grants and flush batches; random, so restarts never collide.
    pub(super) replica: String,
    seq: AtomicU64,
    view: Mutex<View>,
    waiters: Waiters,
    /// Woken on every change that can move a waiter's earliest slot.
    changed: Notify,
    /// Woken when the sync task has work (a signal, an adoption, an offline spend).
    pub(super) wake_sync: Notify,
    /// `true` while decisions go through Redis.
    online: watch::Sender<bool>,
    /// One acquire script in flight per replica: waiters woken together ask in turn, and
    /// the later ones usually learn the next slot from the first one's answer.
    turn: tokio::sync::Mutex<()>,
    metrics: Metrics,
}

/// What an ask does next.
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
    Offline,
}

impl GateCore {
    /// A core deciding through Redis when `online`, else offline.
    pub(super) fn new(
        script: QuotaScript,
        backend: Backend,
        clock: SharedClock,
        offline: Offline,
        options: GateOptions,
        metrics: Metrics,
        online: bool,
    ) -> Self {
        metrics.quota_fallback_active.set(i64::from(!online));
        Self {
            limits: script.limits(),
            script,
            backend,
            clock,
            options,
            offline,
            replica: format!("{:016x}", rand::random::<u64>()),
            seq: AtomicU64::new(0),
            view: Mutex::new(View::new()),
            waiters: Waiters::default(),
            changed: Notify::new(),
            wake_sync: Notify::new(),
            online: watch::channel(online).0,
            turn: tokio::sync::Mutex::new(()),
            metrics,
        }
    }

    pub(super) fn view(&self) -> MutexGuard<'_, View> {
        // Every update is complete before anything can panic, so a poisoned view is still
        // consistent, and refusing every call would be worse than using it.
        self.view.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether decisions currently go through Redis.
    pub(super) fn is_online(&self) -> bool {
        *self.online.borrow()
    }

    /// A name unique across replicas and restarts, for a grant or a refund.
    fn unique_id(&self) -> String {
        format!(
            "{}:{}",
            self.replica,
            self.seq.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Runs one script call for Redis's current date (or `date` for spends of another day),
    /// learning Redis's time and state from the answer.
    pub(super) async fn ask(&self, op: Op, date: Option<NaiveDate>) -> Result<Reply, BackendError> {
        // A wrong date only happens around midnight on a replica whose clock is off; the
        // answer corrects the skew, so the second try names the right date.
        for _ in 0..3 {
            let call = self
                .view()
                .call(op.clone(), date, self.clock.now(), self.options.time);
            let reply = self
                .backend
                .run(|mut conn| {
                    let call = &call;
                    async move {
                        let reply = self.script.call(&mut conn, call).await?;
                        if call.op != Op::Peek {
                            self.backend.confirm(&mut conn).await?;
                        }
                        Ok(reply)
                    }
                })
                .await?;
            self.view()
                .learn(&call, &reply, self.clock.now(), self.options.time);
            if reply.status != Status::WrongDate {
                return Ok(reply);
            }
        }
        Err(BackendError::Clock)
    }

    fn step(&self, priority: Priority, now: DateTime<Utc>) -> Step {
        if let Some((until, reason)) = self.view().wait(now) {
            return Step::Wait { until, reason };
        }
        if !self.is_online() {
            return Step::Offline;
        }
        if self.waiters.ahead_of(priority) > 0 {
            return Step::Yield;
        }
        Step::Ask
    }

    pub(super) async fn acquire(
        &self,
        priority: Priority,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<Grant, Denied> {
        let _waiting = self.waiters.enter(priority, &self.changed);
        let mut online = self.online.subscribe();
        loop {
            // Listen before deciding, so a change between the decision and the wait wakes us.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();

            let until = match self.step(priority, self.clock.now()) {
                Step::Wait { until, reason } => {
                    if deadline.is_some_and(|d| until > d) {
                        return Err(Denied {
                            reason,
                            retry_at: until,
                        });
                    }
                    until
                }
                Step::Yield => {
                    changed.await;
                    continue;
                }
                Step::Offline => {
                    match self.offline.acquire(priority, deadline, &mut online).await {
                        Some(result) => return result.map(|grant| self.owe_offline_spend(grant)),
                        None => continue,
                    }
                }
                Step::Ask => match self.ask_for_slot(priority, deadline).await {
                    Asked::Done(result) => return result,
                    Asked::Again => continue,
                    Asked::WaitUntil(retry_at) => retry_at,
                },
            };
            tokio::select! {
                () = self.clock.sleep_until(until) => {}
                () = &mut changed => {}
            }
        }
    }

    /// Asks Redis for a slot, in this replica's turn.
    async fn ask_for_slot(&self, priority: Priority, deadline: Option<DateTime<Utc>>) -> Asked {
        let _turn = self.turn.lock().await;
        // Another waiter may have learned a later slot while this one queued.
        if !matches!(self.step(priority, self.clock.now()), Step::Ask) {
            return Asked::Again;
        }
        let member = self.unique_id();
        let reserve = if priority.keeps_off_reserve() {
            self.limits.reserve_interactive
        } else {
            0
        };
        let op = Op::Acquire {
            member: member.clone(),
            reserve,
        };
        let result = self.ask(op, None).await;
        self.changed.notify_waiters();
        match result {
            Ok(reply) if reply.status == Status::Granted => {
                let date = DateTime::from_timestamp_millis(reply.now_ms)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
                    .date_naive();
                Asked::Done(Ok(Grant {
                    at: self.clock.now(),
                    ticket: Ticket::Shared { member, date },
                }))
            }
            // The reserve holds for the rest of the day, and only for this ask's kind: it is
            // not learned as everyone's `not_before`.
            Ok(reply) if reply.reason == Some(DenyReason::Reserve) => {
                let retry_at = self.clock.now()
                    + chrono::TimeDelta::milliseconds(
                        i64::try_from(reply.retry_ms).unwrap_or(i64::MAX / 2),
                    );
                if deadline.is_some_and(|d| retry_at > d) {
                    return Asked::Done(Err(Denied {
                        reason: DenyReason::Reserve,
                        retry_at,
                    }));
                }
                Asked::WaitUntil(retry_at)
            }
            // A denial was learned as `not_before`; the next step waits or denies.
            Ok(_) => Asked::Again,
            Err(err) => {
                self.go_offline(&err);
                Asked::Again
            }
        }
    }

    /// Owes Redis the spend the offline share granted; the grant remembers it, so a refund
    /// can take it back from both.
    fn owe_offline_spend(&self, grant: Grant) -> Grant {
        let mut view = self.view();
        let now = view.redis_now(self.clock.now());
        let (at_ms, date) = (now.timestamp_millis(), now.date_naive());
        view.owed.record_spend(at_ms, date);
        drop(view);
        self.wake_sync.notify_one();
        Grant {
            at: grant.at,
            ticket: Ticket::Offline { at_ms, date },
        }
    }

    /// Gives a slot back wherever it was booked: the shared windows, or the offline share
    /// and what it owes Redis.
    pub(super) async fn refund(&self, grant: Grant) {
        let refund = match grant.ticket {
            Ticket::Shared { member, date } => Refund {
                id: member.clone(),
                date,
                member: Some(member),
            },
            Ticket::Offline { at_ms, date } => {
                self.offline.refund(grant.at).await;
                if self.view().owed.forget_spend(at_ms, date) {
                    return;
                }
                // Already batched, maybe already added: take it back in Redis too.
                Refund {
                    id: self.unique_id(),
                    date,
                    member: None,
                }
            }
            Ticket::Local => return self.offline.refund(grant.at).await,
        };
        self.view().owed.refunds.push(refund.clone());
        if !self.is_online() {
            // The sync task gives it back once Redis answers (after the batches it owes).
            self.wake_sync.notify_one();
            return;
        }
        if let Err(err) = self.push_refund(&refund).await {
            self.go_offline(&err);
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
            let mut view = self.view();
            view.owed.refunded(&refund.id);
            view.forget_minute_wait();
        }
        let peeked = self.ask(Op::Peek, None).await;
        self.changed.notify_waiters();
        peeked.map(drop)
    }

    pub(super) fn signal(&self, signal: UpstreamSignal) {
        self.view().signal(signal, self.clock.now(), self.limits);
        self.offline.signal(signal);
        self.wake_sync.notify_one();
        self.changed.notify_waiters();
    }

    pub(super) fn adopt(&self, usage: SyncedUsage) {
        self.view().adopt(usage, self.clock.now());
        self.offline.adopt(usage);
        self.wake_sync.notify_one();
        self.changed.notify_waiters();
    }

    pub(super) fn snapshot(&self) -> QuotaSnapshot {
        let now = self.clock.now();
        let view = self.view();
        // Offline, the share's windows are the ones that decide.
        if !self.is_online() && self.offline.spends() {
            let (source, blocked_until) = (view.source, view.blocked_at(now));
            drop(view);
            return self
                .offline
                .snapshot(source, blocked_until, self.waiters.total());
        }
        view.snapshot(now, self.limits, self.waiters.total())
    }

    /// Stops asking Redis until the sync task has flushed what is owed to it.
    pub(super) fn go_offline(&self, err: &BackendError) {
        if !self
            .online
            .send_if_modified(|up| std::mem::replace(up, false))
        {
            return;
        }
        let mut view = self.view();
        view.back_since_ms = None;
        let known = view.known_today(self.clock.now());
        drop(view);
        self.offline.take_over(known);
        self.metrics.quota_fallback_active.set(1);
        let offline = self.offline.describe();
        tracing::warn!(error = %err, "Redis unreachable; the quota falls back to {offline}");
        self.wake_sync.notify_one();
        self.changed.notify_waiters();
    }

    /// Goes back to Redis once nothing spent offline is still owed to it and Redis has
    /// answered for a whole minute window. Until then the share keeps deciding: other
    /// replicas may still be offline, their spends of that minute not yet in Redis, so the
    /// shared window would undercount it (the shares add up to the limits, so staying on
    /// them is safe).
    pub(super) fn go_online(&self) {
        {
            let mut view = self.view();
            let now_ms = view.redis_now(self.clock.now()).timestamp_millis();
            let since = *view.back_since_ms.get_or_insert(now_ms);
            if view.owed.owes_spends() || !self.offline.settled(since, now_ms) {
                return;
            }
            view.back_since_ms = None;
        }
        if self
            .online
            .send_if_modified(|up| !std::mem::replace(up, true))
        {
            self.metrics.quota_fallback_active.set(0);
            tracing::info!("Redis answers again; the quota is shared again");
            self.changed.notify_waiters();
        }
    }
}

/// How one ask for a slot ended.
enum Asked {
    /// Granted, or denied before the deadline.
    Done(Result<Grant, Denied>),
    /// Decide again (a denial learned, Redis gone, or another waiter went first).
    Again,
    /// Only the day's reserve is left: wait until then (or a change), then decide again.
    WaitUntil(DateTime<Utc>),
}
