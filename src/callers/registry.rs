//! The registry of callers: configuration callers and runtime callers in one immutable table
//! that requests read without waiting, swapped whole on every change.
//!
//! Over 300 lines with a reason: one type's `impl` (`Registry`), whose reads and changes share
//! one in-memory table that must be swapped atomically; records, changes, persistence and keys
//! already live in their own files.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use super::change::{CallerChange, NewCaller, RegistryError};
use super::persist::Persistence;
use super::record::{CallerRecord, KeyHash, Listed, Source};
use super::secret::{digest, generate_key};
use crate::caller::{Caller, CallerId, Role};
use crate::clock::SharedClock;
use crate::config::CallerSettings;
use crate::metrics::Metrics;

/// The most callers that can exist, configuration included: keeps the per-caller metric
/// labels, and the constant-time scan over every key hash, bounded.
pub(super) const MAX_CALLERS: usize = 1_000;

/// How often a replica on Redis checks for changes made elsewhere: well inside the promised
/// 2 s, one `GET` each time.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// Every known caller; cheap to clone.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    config: Vec<CallerRecord>,
    table: RwLock<Arc<Table>>,
    /// One change at a time on this replica, so a check (last admin, duplicate id) and the
    /// write it allows are not interleaved with another change.
    write: tokio::sync::Mutex<()>,
    persistence: Persistence,
    clock: SharedClock,
    metrics: Metrics,
    /// The Redis version the table reflects.
    version: AtomicU64,
}

/// One snapshot of every caller.
#[derive(Default)]
struct Table {
    entries: BTreeMap<CallerId, Arc<Entry>>,
    /// Every key hash of every caller, scanned in full on each identification.
    keys: Vec<(Arc<Entry>, KeyHash)>,
}

struct Entry {
    record: CallerRecord,
    caller: Caller,
    /// Unix seconds of the last authenticated request (0: none since start). Second
    /// precision, so a busy caller costs one atomic store per second, not one per request.
    last_seen: AtomicI64,
}

impl Entry {
    fn listed(&self) -> Listed {
        let secs = self.last_seen.load(Ordering::Relaxed);
        Listed {
            record: self.record.clone(),
            last_seen_at: (secs > 0)
                .then(|| DateTime::from_timestamp(secs, 0))
                .flatten(),
        }
    }

    /// Notes an authenticated request at `now` and hands out the caller.
    fn seen_at(&self, now: DateTime<Utc>) -> Caller {
        let secs = now.timestamp();
        if self.last_seen.load(Ordering::Relaxed) < secs {
            self.last_seen.store(secs, Ordering::Relaxed);
        }
        self.caller.clone()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("callers", &self.table().entries.len())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// The configuration's callers plus the runtime callers `persistence` holds. A store or
    /// Redis that cannot be read leaves only the configuration's callers, with a warning;
    /// on Redis the poll brings the rest once it answers.
    pub async fn open(
        config: &[CallerSettings],
        persistence: Persistence,
        clock: SharedClock,
        metrics: Metrics,
    ) -> Self {
        let config = config
            .iter()
            .filter_map(CallerRecord::from_settings)
            .collect();
        let registry = Self {
            inner: Arc::new(Inner {
                config,
                table: RwLock::default(),
                write: tokio::sync::Mutex::new(()),
                persistence,
                clock,
                metrics,
                // Never a real version: the first poll reloads.
                version: AtomicU64::new(u64::MAX),
            }),
        };
        match registry.inner.persistence.load().await {
            Ok((version, runtime)) => {
                registry.install(runtime, version);
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the runtime callers; starting with the configured ones");
                registry.install(Vec::new(), None);
            }
        }
        registry
    }

    /// A registry of configuration callers only, kept in memory (tests, tools).
    pub async fn in_memory(config: &[CallerSettings], clock: SharedClock) -> Self {
        Self::open(config, Persistence::Memory, clock, Metrics::new()).await
    }

    fn table(&self) -> Arc<Table> {
        self.inner
            .table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// True when no caller exists (then, in `serve`, authentication is off).
    pub fn is_empty(&self) -> bool {
        self.table().entries.is_empty()
    }

    /// The caller owning `key`, if the key is still valid. Every stored hash is compared, in
    /// constant time, so the time taken does not tell which caller or how much of a hash
    /// matched.
    pub fn identify(&self, key: &str) -> Option<Caller> {
        let presented = digest(key);
        let table = self.table();
        let mut found = None;
        for (entry, hash) in &table.keys {
            if bool::from(presented.ct_eq(&hash.sha256)) {
                found = Some((entry, hash));
            }
        }
        let (entry, hash) = found?;
        let now = self.inner.clock.now();
        if !hash.valid_at(now) {
            return None;
        }
        Some(entry.seen_at(now))
    }

    /// The caller `id` stands for, if it still exists (a console session's request, which
    /// counts as seen like a key's).
    pub fn caller(&self, id: &CallerId) -> Option<Caller> {
        let table = self.table();
        let entry = table.entries.get(id)?;
        Some(entry.seen_at(self.inner.clock.now()))
    }

    /// Every caller, by id.
    pub fn list(&self) -> Vec<Listed> {
        self.table().entries.values().map(|e| e.listed()).collect()
    }

    /// One caller.
    pub fn get(&self, id: &CallerId) -> Result<Listed, RegistryError> {
        self.table()
            .entries
            .get(id)
            .map(|e| e.listed())
            .ok_or_else(|| RegistryError::NotFound(id.clone()))
    }

    /// Creates a runtime caller and returns it with its key, which is not kept (only its
    /// hash is) and so can never be shown again.
    pub async fn create(&self, new: NewCaller) -> Result<(Listed, String), RegistryError> {
        if new.id.as_str() == Caller::ANONYMOUS {
            return Err(RegistryError::Reserved(new.id));
        }
        let _one_at_a_time = self.inner.write.lock().await;
        let runtime = self.fresh_runtime().await?;
        let exists = self.inner.config.iter().any(|c| c.id == new.id)
            || runtime.iter().any(|c| c.id == new.id);
        if exists {
            return Err(RegistryError::Duplicate(new.id));
        }
        if self.inner.config.len() + runtime.len() >= MAX_CALLERS {
            return Err(RegistryError::TooMany(MAX_CALLERS));
        }
        let key = generate_key();
        let record = CallerRecord {
            id: new.id.clone(),
            role: new.role,
            kind: new.kind,
            priority: new.priority,
            daily_cap: new.daily_cap,
            description: new.description,
            keys: vec![KeyHash {
                sha256: digest(&key),
                expires_at: None,
            }],
            created_at: Some(self.now_secs()),
            source: Source::Runtime,
        };
        let created = self
            .inner
            .persistence
            .create(&record)
            .await
            .map_err(RegistryError::Unavailable)?;
        if !created {
            return Err(RegistryError::Duplicate(new.id));
        }
        let mut runtime = runtime;
        runtime.push(record);
        self.install(runtime, None);
        tracing::info!(caller = %new.id, "caller created");
        Ok((self.get(&new.id)?, key))
    }

    /// Changes a runtime caller's fields.
    pub async fn update(
        &self,
        id: &CallerId,
        change: CallerChange,
    ) -> Result<Listed, RegistryError> {
        let _one_at_a_time = self.inner.write.lock().await;
        let (mut runtime, at) = self.runtime_target(id).await?;
        let demoted = change.role == Some(Role::User) && runtime[at].role == Role::Admin;
        if demoted {
            self.refuse_last_admin(&runtime, id)?;
        }
        let record = &mut runtime[at];
        if let Some(role) = change.role {
            record.role = role;
        }
        if let Some(kind) = change.kind {
            record.kind = kind;
        }
        if let Some(priority) = change.priority {
            record.priority = priority;
        }
        if let Some(cap) = change.daily_cap {
            record.daily_cap = cap;
        }
        if let Some(description) = change.description {
            record.description = description;
        }
        self.save(runtime, at).await?;
        tracing::info!(caller = %id, "caller changed");
        self.get(id)
    }

    /// Gives a runtime caller a new key; its current keys stay valid for `grace` from now,
    /// then stop (at once with a zero grace). Returns the new key, shown this once.
    pub async fn rotate(
        &self,
        id: &CallerId,
        grace: Duration,
    ) -> Result<(Listed, String), RegistryError> {
        let _one_at_a_time = self.inner.write.lock().await;
        let (mut runtime, at) = self.runtime_target(id).await?;
        let now = self.inner.clock.now();
        let until = now + TimeDelta::from_std(grace).unwrap_or(TimeDelta::MAX);
        let key = generate_key();
        let record = &mut runtime[at];
        record
            .keys
            .retain(|k| grace > Duration::ZERO && k.valid_at(now));
        for old in &mut record.keys {
            old.expires_at = Some(old.expires_at.map_or(until, |end| end.min(until)));
        }
        record.keys.push(KeyHash {
            sha256: digest(&key),
            expires_at: None,
        });
        self.save(runtime, at).await?;
        tracing::info!(caller = %id, grace_secs = grace.as_secs(), "caller key rotated");
        Ok((self.get(id)?, key))
    }

    /// Removes a runtime caller.
    pub async fn remove(&self, id: &CallerId) -> Result<(), RegistryError> {
        let _one_at_a_time = self.inner.write.lock().await;
        let (mut runtime, at) = self.runtime_target(id).await?;
        if runtime[at].role == Role::Admin {
            self.refuse_last_admin(&runtime, id)?;
        }
        self.inner
            .persistence
            .delete(id.as_str())
            .await
            .map_err(RegistryError::Unavailable)?;
        runtime.remove(at);
        self.install(runtime, None);
        tracing::info!(caller = %id, "caller removed");
        Ok(())
    }

    /// Keeps a replica on Redis in step with changes made on the others: polls the version
    /// and reloads when it moved. Returns at once off Redis.
    pub async fn follow(self, cancel: CancellationToken) {
        if !self.inner.persistence.is_shared() {
            return;
        }
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(POLL_EVERY) => {}
            }
            let Ok(version) = self.inner.persistence.version().await else {
                // Redis down: keep the last known callers (the backend logs the outage).
                continue;
            };
            if version == self.inner.version.load(Ordering::Relaxed) {
                continue;
            }
            let _one_at_a_time = self.inner.write.lock().await;
            if let Ok((version, runtime)) = self.inner.persistence.load().await {
                self.install(runtime, version);
            }
        }
    }

    /// The runtime callers as persisted now: read again from Redis, where another replica
    /// may have changed them; this replica's own table otherwise.
    async fn fresh_runtime(&self) -> Result<Vec<CallerRecord>, RegistryError> {
        if self.inner.persistence.is_shared() {
            let (version, runtime) = self
                .inner
                .persistence
                .load()
                .await
                .map_err(RegistryError::Unavailable)?;
            self.install(runtime.clone(), version);
            return Ok(runtime);
        }
        Ok(self
            .table()
            .entries
            .values()
            .filter(|e| e.record.source == Source::Runtime)
            .map(|e| e.record.clone())
            .collect())
    }

    /// The runtime callers and the index of `id` among them; a configuration caller is 409.
    async fn runtime_target(
        &self,
        id: &CallerId,
    ) -> Result<(Vec<CallerRecord>, usize), RegistryError> {
        if self.inner.config.iter().any(|c| &c.id == id) {
            return Err(RegistryError::FromConfig(id.clone()));
        }
        let runtime = self.fresh_runtime().await?;
        let at = runtime
            .iter()
            .position(|c| &c.id == id)
            .ok_or_else(|| RegistryError::NotFound(id.clone()))?;
        Ok((runtime, at))
    }

    fn refuse_last_admin(
        &self,
        runtime: &[CallerRecord],
        id: &CallerId,
    ) -> Result<(), RegistryError> {
        let admins = self
            .inner
            .config
            .iter()
            .chain(runtime)
            .filter(|c| c.role == Role::Admin)
            .count();
        if admins <= 1 {
            return Err(RegistryError::LastAdmin(id.clone()));
        }
        Ok(())
    }

    /// Persists `runtime[at]` and installs the new set.
    async fn save(&self, runtime: Vec<CallerRecord>, at: usize) -> Result<(), RegistryError> {
        self.inner
            .persistence
            .save(&runtime[at])
            .await
            .map_err(RegistryError::Unavailable)?;
        self.install(runtime, None);
        Ok(())
    }

    /// Builds and swaps in the table of the configuration callers plus `runtime`, keeping
    /// each caller's last-seen time; `version` is the Redis version it reflects, if known.
    fn install(&self, runtime: Vec<CallerRecord>, version: Option<u64>) {
        let now = self.inner.clock.now();
        let old = self.table();
        let mut table = Table::default();
        // Configuration callers first: they win over a runtime caller of the same id (one
        // stored before the id was added to the file).
        for mut record in self.inner.config.iter().cloned().chain(runtime) {
            if table.entries.contains_key(&record.id) {
                continue;
            }
            record.keys.retain(|k| k.valid_at(now));
            let seen = old
                .entries
                .get(&record.id)
                .map_or(0, |e| e.last_seen.load(Ordering::Relaxed));
            let entry = Arc::new(Entry {
                caller: Caller::from_profile(record.profile()),
                last_seen: AtomicI64::new(seen),
                record,
            });
            for key in &entry.record.keys {
                table.keys.push((entry.clone(), key.clone()));
            }
            table.entries.insert(entry.record.id.clone(), entry);
        }
        let caps = &self.inner.metrics.caller_daily_cap;
        caps.reset();
        for entry in table.entries.values() {
            if let Some(cap) = entry.record.daily_cap {
                caps.with_label_values(&[entry.record.id.as_str()])
                    .set(i64::try_from(cap).unwrap_or(i64::MAX));
            }
        }
        *self
            .inner
            .table
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(table);
        if let Some(version) = version {
            self.inner.version.store(version, Ordering::Relaxed);
        }
    }

    fn now_secs(&self) -> DateTime<Utc> {
        let now = self.inner.clock.now();
        DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
    }
}
