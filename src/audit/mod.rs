//! The audit log: who changed what, who was refused, what the service itself did, kept for
//! 90 days or `VTENRICH_AUDIT_MAX_ENTRIES` entries (whichever is smaller) and read by admins.
//!
//! Recording is cheap and never blocks a request: entries go through a bounded channel to one
//! writer task; an entry that cannot be queued or written is counted
//! (`vtenrich_audit_dropped_total`) and warned about, never lost silently.
//!
//! - `event`: the entry, the actions, the query filter.
//! - `backend`: where entries are kept (the trait; memory when persistence is off).
//! - `cursor`: the opaque, verified pagination cursor.
//! - `auth_failures`: `auth.failed` aggregated per address per minute.
//! - `gate`: `quota.blocked` / `quota.unblocked` around the quota gate.
//! - `ledger`: `caller.cap_exhausted`, watching the caller ledger.
//! - `settings`: the settings diff `service.started` reports.
//! - `source_ip`: the request's source address (`X-Forwarded-For` only from trusted proxies).
//!
//! Over 300 lines with a reason: most of it is one type's `impl` (`AuditLog`: record, query,
//! the writer task); the entry, cursor, settings and gate already live in their own files.

mod auth_failures;
mod backend;
mod cursor;
mod event;
mod gate;
mod ledger;
mod settings;
mod source_ip;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use auth_failures::minute_of;
pub use backend::{AuditBackend, MemoryBackend, is_sequence_id};
pub use event::{Event, Filter, SYSTEM, actions};
pub use gate::AuditedGate;
pub use ledger::CapAudit;
pub use settings::{SettingsText, diff as settings_diff, flatten as flatten_settings};
pub use source_ip::{SourceIp, source_ip};

use auth_failures::AuthFailures;
use cursor::Cursors;

use crate::clock::SharedClock;
use crate::config::{AuditSettings, Settings};
use crate::metrics::Metrics;

/// Entries waiting for the writer; beyond it `record` drops (and counts) rather than block.
const QUEUE: usize = 8_192;
/// Entries written per backend call.
const BATCH: usize = 256;
/// Entries read per backend call while a query filters.
const SCAN: usize = 500;
/// The age past which entries are deleted.
pub const MAX_AGE: Duration = Duration::from_secs(90 * 24 * 3600);
/// Most entries one query page returns.
pub const MAX_LIMIT: usize = 1_000;

/// The backend's record of the settings at the last start.
const LAST_SETTINGS: &str = "last_settings";
/// The backend's record of the cursor secret.
const CURSOR_SECRET: &str = "cursor_secret";

/// One page of a query, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    pub entries: Vec<Event>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Why a query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The cursor was not issued by this service (or is damaged).
    #[error("the cursor is not one this service issued")]
    BadCursor,
    /// The backend failed.
    #[error("the audit log cannot be read: {0:#}")]
    Backend(#[from] anyhow::Error),
}

enum Message {
    Entry(Box<Event>),
    Flush(oneshot::Sender<()>),
}

/// The audit log; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    queue: mpsc::Sender<Message>,
    backend: Arc<dyn AuditBackend>,
    cursors: Cursors,
    clock: SharedClock,
    metrics: Metrics,
    auth_failures: AuthFailures,
}

impl AuditLog {
    /// Opens the log on `backend` and starts its writer task.
    pub async fn open(
        backend: Arc<dyn AuditBackend>,
        settings: AuditSettings,
        clock: SharedClock,
        metrics: Metrics,
    ) -> anyhow::Result<Self> {
        let fresh: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
            .iter()
            .flat_map(|u| u.into_bytes())
            .collect();
        let secret = match backend.meta_init(CURSOR_SECRET, &fresh).await {
            Ok(secret) => secret,
            Err(err) => {
                // Cursors then only hold within this process; the log itself still works.
                tracing::warn!(
                    error = format!("{err:#}"),
                    "cannot share the audit cursor secret"
                );
                fresh
            }
        };
        let (queue, received) = mpsc::channel(QUEUE);
        tokio::spawn(write(
            received,
            backend.clone(),
            clock.clone(),
            metrics.clone(),
            settings,
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                queue,
                backend,
                cursors: Cursors::new(secret),
                clock,
                metrics,
                auth_failures: AuthFailures::default(),
            }),
        })
    }

    /// Queues `event` for writing; never waits. A full queue drops it, counted and warned.
    pub fn record(&self, event: Event) {
        let action = event.action.clone();
        if self
            .inner
            .queue
            .try_send(Message::Entry(Box::new(event)))
            .is_err()
        {
            self.inner.metrics.audit_dropped.inc();
            tracing::warn!(
                action,
                "audit entry dropped: the audit writer is behind or stopped"
            );
        }
    }

    /// Records an admin action on `target_type` `target_id` by `actor` (a caller id or
    /// `config`), with the record before and after (`None` where it did not exist). For the
    /// callers admin API: `caller.created`, `caller.updated`, `caller.key_rotated`,
    /// `caller.deleted`, `caller.cap_exhausted`. Never pass keys or request bodies.
    #[allow(clippy::too_many_arguments)]
    pub fn record_admin(
        &self,
        actor: &str,
        source_ip: Option<IpAddr>,
        action: &str,
        target_type: &str,
        target_id: &str,
        before: Option<Value>,
        after: Option<Value>,
    ) {
        self.record(
            Event::new(self.inner.clock.now(), actor, action)
                .from_ip(source_ip)
                .target(target_type, target_id)
                .details(json!({"before": before, "after": after})),
        );
    }

    /// Records `event` unless an entry named `once` was recorded before `expires` (by any
    /// replica, when the backend is shared). Should the backend not answer, it is recorded:
    /// a repeated entry is better than a missing one.
    pub async fn record_once(&self, once: &str, expires: DateTime<Utc>, event: Event) {
        match self.inner.backend.claim_once(once, expires).await {
            Ok(false) => {}
            Ok(true) => self.record(event),
            Err(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "cannot check a once-a-day audit entry"
                );
                self.record(event);
            }
        }
    }

    /// Counts a request refused for a missing or wrong key; written as one `auth.failed`
    /// entry per address per minute.
    pub fn auth_failed(&self, source_ip: Option<IpAddr>) {
        if let Some(closed) = self
            .inner
            .auth_failures
            .note(source_ip, self.inner.clock.now())
        {
            self.record(closed);
        }
    }

    /// Writes the `auth.failed` entries of each minute as it ends, until `cancel` fires.
    pub fn spawn_minute_sweeper(&self, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        let log = self.clone();
        tokio::spawn(async move {
            loop {
                let now = log.inner.clock.now();
                for entry in log.inner.auth_failures.due(now, false) {
                    log.record(entry);
                }
                let next = minute_of(now) + chrono::TimeDelta::minutes(1);
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = log.inner.clock.sleep_until(next) => {}
                }
            }
        })
    }

    /// Waits until every entry recorded so far has been written (or dropped and counted).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.inner.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    /// `service.started`: the version and the settings that changed since the last start.
    pub async fn started(&self, settings: &Settings) {
        let now = flatten_settings(settings);
        let backend = &self.inner.backend;
        let last = match backend.meta_get(LAST_SETTINGS).await {
            Ok(last) => last.and_then(|bytes| serde_json::from_slice::<SettingsText>(&bytes).ok()),
            Err(err) => {
                tracing::warn!(
                    error = format!("{err:#}"),
                    "cannot read the last start's settings"
                );
                None
            }
        };
        let details = match &last {
            Some(last) => json!({
                "version": env!("CARGO_PKG_VERSION"),
                "first_start": false,
                "changed": settings_diff(last, &now),
            }),
            None => json!({
                "version": env!("CARGO_PKG_VERSION"),
                "first_start": true,
                "changed": {},
            }),
        };
        let bytes = serde_json::to_vec(&now).expect("a map of strings serialises");
        if let Err(err) = backend.meta_put(LAST_SETTINGS, &bytes).await {
            tracing::warn!(
                error = format!("{err:#}"),
                "cannot save this start's settings"
            );
        }
        self.record(
            Event::new(self.inner.clock.now(), SYSTEM, actions::SERVICE_STARTED)
                .target("service", env!("CARGO_PKG_NAME"))
                .details(details),
        );
    }

    /// `service.stopped`, after the open `auth.failed` minutes; then waits for the writes.
    pub async fn stopped(&self) {
        let now = self.inner.clock.now();
        for entry in self.inner.auth_failures.due(now, true) {
            self.record(entry);
        }
        self.record(
            Event::new(now, SYSTEM, actions::SERVICE_STOPPED)
                .target("service", env!("CARGO_PKG_NAME")),
        );
        self.flush().await;
    }

    /// Entries matching `filter`, newest first, at most `limit`, after `cursor`.
    pub async fn query(
        &self,
        filter: &Filter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page, QueryError> {
        let backend = &self.inner.backend;
        let mut before = match cursor {
            Some(cursor) => {
                let id = self
                    .inner
                    .cursors
                    .open(cursor)
                    .ok_or(QueryError::BadCursor)?;
                if !backend.is_id(&id) {
                    return Err(QueryError::BadCursor);
                }
                Some(id)
            }
            None => None,
        };
        let mut entries = Vec::new();
        'scan: loop {
            let batch = backend.newest(before.as_deref(), SCAN).await?;
            let exhausted = batch.len() < SCAN;
            for event in batch {
                before = Some(event.id.clone());
                if filter.matches(&event) {
                    entries.push(event);
                    if entries.len() > limit {
                        break 'scan;
                    }
                }
            }
            if exhausted {
                break;
            }
        }
        let next_cursor = (entries.len() > limit).then(|| {
            entries.truncate(limit);
            let last = entries.last().map_or("", |e| e.id.as_str());
            self.inner.cursors.issue(last)
        });
        Ok(Page {
            entries,
            next_cursor,
        })
    }

    /// The clock entries are stamped with.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }
}

/// The writer task: batches queued entries into the backend and applies the retention.
async fn write(
    mut received: mpsc::Receiver<Message>,
    backend: Arc<dyn AuditBackend>,
    clock: SharedClock,
    metrics: Metrics,
    settings: AuditSettings,
) {
    let max_age = chrono::TimeDelta::from_std(MAX_AGE).expect("90 days fit");
    while let Some(first) = received.recv().await {
        let mut entries = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Entry(event) => entries.push(*event),
                Message::Flush(done) => flushes.push(done),
            }
            if entries.len() < BATCH {
                next = received.try_recv().ok();
            }
        }
        if !entries.is_empty() {
            let n = entries.len() as u64;
            match backend.append(entries).await {
                Ok(()) => metrics.audit_entries.inc_by(n),
                Err(err) => {
                    metrics.audit_dropped.inc_by(n);
                    tracing::warn!(
                        error = format!("{err:#}"),
                        entries = n,
                        "audit entries could not be written and are lost"
                    );
                }
            }
            if let Err(err) = backend
                .trim(clock.now() - max_age, settings.max_entries)
                .await
            {
                tracing::warn!(error = format!("{err:#}"), "cannot trim the audit log");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests;
