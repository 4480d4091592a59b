//! The one choice between a single node and a fleet, and what each puts behind the enricher.
//!
//! Single node: a local gate and the embedded durable store (unless `VTENRICH_DATA_DIR=none`),
//! which also keeps runtime callers, caller day counts, usage counts and the audit log. Fleet (with
//! `VTENRICH_REDIS_URL`): the shared Redis gate, cache tier, fetch lock, callers, usage hashes
//! and audit stream. Everything else asks the topology for its parts instead of choosing again.

use std::sync::Arc;
use std::time::Duration;

use crate::audit::{AuditBackend, MemoryBackend};
use crate::cache::Cache;
use crate::caller::CallerId;
use crate::callers::Persistence;
use crate::callers::ledger::{CallerLedger, LocalLedger};
use crate::clock::SharedClock;
use crate::config::{DataDir, Settings};
use crate::enrich::{FleetLock, SecondTier};
use crate::metrics::Metrics;
use crate::quota::{LocalGate, QuotaGate, UsedCounts};
use crate::redis::RedisParts;
use crate::store::durable::{DurableStore, QuotaCounts};
use crate::usage::{MemoryUsage, UsageBackend};

/// Where quota, cache, callers and audit are kept.
pub enum Topology {
    /// One replica: its own gate, and the embedded store when open.
    Single {
        gate: Arc<LocalGate>,
        /// Each caller's use of its daily cap.
        ledger: Arc<LocalLedger>,
        /// The embedded store (second cache tier, callers, audit), unless off or unopenable.
        store: Option<DurableStore>,
    },
    /// Replicas sharing one VirusTotal key through Redis.
    Fleet {
        /// Boxed: the Redis parts are much larger than the single node's.
        parts: Box<RedisParts>,
        /// The fleet's audit stream.
        audit: Arc<dyn AuditBackend>,
        /// The fleet's per-day usage hashes.
        usage: Arc<dyn UsageBackend>,
        /// How long the memory cache may serve an entry before asking Redis again.
        memory_ttl: Duration,
    },
}

impl Topology {
    /// Opens the topology the settings ask for: a fleet when `redis.url` is set, else a
    /// single node.
    pub async fn open(
        settings: &Settings,
        clock: SharedClock,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        if settings.redis.url.is_none() {
            return Ok(single_node(settings, clock, metrics).await);
        }
        let parts = crate::redis::connect(
            &settings.redis,
            settings.limits(),
            settings.virustotal.arrival_margin,
            clock,
            metrics.clone(),
        )
        .await?;
        tracing::info!(
            failure_mode = ?settings.redis.failure_mode,
            expected_replicas = settings.redis.expected_replicas,
            "sharing quota and cache through Redis"
        );
        Ok(Self::Fleet {
            audit: Arc::new(parts.audit(settings.audit.max_entries)),
            usage: Arc::new(parts.usage()),
            parts: Box::new(parts),
            memory_ttl: settings.redis.memory_ttl,
        })
    }

    /// The quota gate.
    pub fn gate(&self) -> Arc<dyn QuotaGate> {
        match self {
            Self::Single { gate, .. } => gate.clone(),
            Self::Fleet { parts, .. } => parts.gate.clone(),
        }
    }

    /// Each caller's use of its daily cap.
    pub fn ledger(&self) -> Arc<dyn CallerLedger> {
        match self {
            Self::Single { ledger, .. } => ledger.clone(),
            Self::Fleet { parts, .. } => parts.ledger.clone(),
        }
    }

    /// The memory cache; in a fleet it keeps entries only briefly, so replicas do not drift
    /// apart for long behind the shared tier.
    pub fn cache(&self, settings: &Settings, clock: SharedClock, metrics: Metrics) -> Cache {
        let cache = Cache::new(settings.cache, clock, metrics);
        match self {
            Self::Single { .. } => cache,
            Self::Fleet { memory_ttl, .. } => cache.with_memory_ttl(*memory_ttl),
        }
    }

    /// The second cache tier: the embedded store, or Redis (the store would only duplicate
    /// it per replica).
    pub fn tier(&self) -> Option<Arc<dyn SecondTier>> {
        match self {
            Self::Single { store, .. } => store
                .clone()
                .map(|store| Arc::new(store) as Arc<dyn SecondTier>),
            Self::Fleet { parts, .. } => Some(parts.tier.clone()),
        }
    }

    /// The fleet-wide fetch lock (a single node has no peers to wait for).
    pub fn lock(&self) -> Option<Arc<dyn FleetLock>> {
        match self {
            Self::Single { .. } => None,
            Self::Fleet { parts, .. } => Some(parts.lock.clone()),
        }
    }

    /// Where runtime callers are kept.
    pub fn callers(&self) -> Persistence {
        match self {
            Self::Single { store, .. } => store
                .clone()
                .map_or(Persistence::Memory, Persistence::Durable),
            Self::Fleet { parts, .. } => Persistence::Redis(parts.callers.clone()),
        }
    }

    /// Where the audit log is kept: the Redis stream, the store, or memory.
    pub fn audit(&self) -> Arc<dyn AuditBackend> {
        match self {
            Self::Single {
                store: Some(store), ..
            } => Arc::new(store.clone()),
            Self::Single { store: None, .. } => Arc::new(MemoryBackend::default()),
            Self::Fleet { audit, .. } => audit.clone(),
        }
    }

    /// Where usage counts are kept: per-day Redis hashes, the store, or memory.
    pub fn usage(&self) -> Arc<dyn UsageBackend> {
        match self {
            Self::Single {
                store: Some(store), ..
            } => Arc::new(store.clone()),
            Self::Single { store: None, .. } => Arc::new(MemoryUsage::default()),
            Self::Fleet { usage, .. } => usage.clone(),
        }
    }

    /// The embedded store, when open (its purger is started with the app).
    pub fn store(&self) -> Option<DurableStore> {
        match self {
            Self::Single { store, .. } => store.clone(),
            Self::Fleet { .. } => None,
        }
    }
}

async fn single_node(settings: &Settings, clock: SharedClock, metrics: &Metrics) -> Topology {
    let store = open_store(settings, metrics).await;
    let mut gate = LocalGate::new(settings.limits(), clock.clone())
        .with_arrival_margin(settings.virustotal.arrival_margin);
    let mut ledger = LocalLedger::new(clock);
    if let Some(store) = &store {
        ledger.restore(
            store
                .load_caller_days()
                .into_iter()
                .filter_map(|(id, day, used)| Some((CallerId::parse(&id).ok()?, day, used))),
        );
        let saver = store.clone();
        // Saved before the call, like the quota counts: kill -9 right after a charged call
        // must not hand the caller its unit back.
        ledger = ledger.on_change(Box::new(move |id: &CallerId, day, used| {
            let _ = saver.save_caller_day(id.as_str(), day, used);
        }));
        if let Some(saved) = store.load_quota() {
            gate.restore(&UsedCounts {
                day: saved.day,
                day_used: saved.day_used,
                month: saved.month,
                month_used: saved.month_used,
                minute: saved.minute,
            });
        }
        let store = store.clone();
        // Saved synchronously, before the call the grant allows: a crash right after a call
        // must not forget it was spent (a restart would overrun the day, and a crash loop
        // the minute, otherwise).
        gate = gate.on_change(Box::new(move |counts: &UsedCounts| {
            let _ = store.save_quota(&QuotaCounts {
                day: counts.day,
                day_used: counts.day_used,
                month: counts.month,
                month_used: counts.month_used,
                minute: counts.minute.clone(),
            });
        }));
    }
    Topology::Single {
        gate: Arc::new(gate),
        ledger: Arc::new(ledger),
        store,
    }
}

/// Opens the embedded store; on failure the service runs memory-only, with a warning and
/// `vtenrich_store_degraded` set, rather than not at all.
async fn open_store(settings: &Settings, metrics: &Metrics) -> Option<DurableStore> {
    let DataDir::Path(dir) = &settings.data_dir else {
        tracing::info!("persistence off (VTENRICH_DATA_DIR=none): answers are kept in memory only");
        return None;
    };
    let (dir, store_settings, m) = (dir.clone(), settings.store, metrics.clone());
    let opened = tokio::task::spawn_blocking(move || DurableStore::open(&dir, store_settings, m))
        .await
        .map_err(anyhow::Error::from)
        .and_then(|r| r);
    match opened {
        Ok(store) => {
            tracing::info!(entries = store.len(), "durable store open");
            Some(store)
        }
        Err(err) => {
            metrics.store_degraded.set(1);
            tracing::warn!(
                error = format!("{err:#}"),
                "cannot open the durable store in VTENRICH_DATA_DIR; serving from memory only"
            );
            None
        }
    }
}
