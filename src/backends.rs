//! Chooses and opens what sits behind the enricher: the quota gate, the second cache tier and
//! the fleet lock. Single node: a local gate and the embedded durable store (unless
//! `VTENRICH_DATA_DIR=none`). With `VTENRICH_REDIS_URL`: the shared Redis gate, tier and lock.
//! Runtime callers, the audit log and usage counts are kept where the rest is: the durable
//! store, Redis, or memory.

use std::sync::Arc;

use crate::audit::{AuditBackend, MemoryBackend};
use crate::caller::CallerId;
use crate::callers::Persistence;
use crate::callers::ledger::{CallerLedger, LocalLedger};
use crate::clock::SharedClock;
use crate::config::{DataDir, Settings};
use crate::enrich::{FleetLock, SecondTier};
use crate::metrics::Metrics;
use crate::quota::{Limits, LocalGate, QuotaGate, UsedCounts};
use crate::store::durable::{DurableStore, QuotaCounts};
use crate::usage::{MemoryUsage, UsageBackend};

/// The parts chosen for this configuration.
pub struct Backends {
    pub gate: Arc<dyn QuotaGate>,
    /// Each caller's use of its daily cap.
    pub ledger: Arc<dyn CallerLedger>,
    pub tier: Option<Arc<dyn SecondTier>>,
    pub lock: Option<Arc<dyn FleetLock>>,
    /// The embedded store, when open (its purger is started with the app).
    pub store: Option<DurableStore>,
    /// Where runtime callers are kept.
    pub callers: Persistence,
    /// Where the audit log is kept: the Redis stream, the store, or memory.
    pub audit: Arc<dyn AuditBackend>,
    /// Where usage counts are kept: per-day Redis hashes, the store, or memory.
    pub usage: Arc<dyn UsageBackend>,
}

/// The key's limits from the settings.
pub fn limits(settings: &Settings) -> Limits {
    let vt = &settings.virustotal;
    Limits {
        per_minute: vt.rate_per_minute,
        per_day: vt.daily_quota,
        per_month: vt.monthly_quota,
        too_many_requests_backoff: vt.too_many_requests_backoff,
        reserve_interactive: settings.reserve_interactive(),
    }
}

/// Opens the backends for this configuration: Redis when `redis.url` is set, else a single
/// node's local gate and embedded store.
pub async fn open(
    settings: &Settings,
    clock: SharedClock,
    metrics: &Metrics,
) -> anyhow::Result<Backends> {
    if settings.redis.url.is_some() {
        let parts =
            crate::redis::connect(&settings.redis, limits(settings), clock, metrics.clone())
                .await?;
        tracing::info!(
            failure_mode = ?settings.redis.failure_mode,
            expected_replicas = settings.redis.expected_replicas,
            "sharing quota and cache through Redis"
        );
        let (backend, keys) = parts.shared;
        // Redis is the shared tier; the embedded store would only duplicate it per replica.
        return Ok(Backends {
            gate: parts.gate,
            ledger: parts.ledger,
            tier: Some(parts.tier),
            lock: Some(parts.lock),
            store: None,
            callers: Persistence::Redis(parts.callers),
            audit: Arc::new(crate::redis::RedisAudit::new(
                backend.clone(),
                &keys,
                settings.audit.max_entries,
            )),
            usage: Arc::new(crate::redis::RedisUsage::new(backend, keys)),
        });
    }
    Ok(single_node(settings, clock, metrics).await)
}

async fn single_node(settings: &Settings, clock: SharedClock, metrics: &Metrics) -> Backends {
    let store = open_store(settings, metrics).await;
    let mut gate = LocalGate::new(limits(settings), clock.clone());
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
    Backends {
        gate: Arc::new(gate),
        ledger: Arc::new(ledger),
        tier: store.clone().map(|s| Arc::new(s) as Arc<dyn SecondTier>),
        lock: None,
        callers: store
            .clone()
            .map_or(Persistence::Memory, Persistence::Durable),
        audit: match &store {
            Some(store) => Arc::new(store.clone()),
            None => Arc::new(MemoryBackend::default()),
        },
        usage: match &store {
            Some(store) => Arc::new(store.clone()),
            None => Arc::new(MemoryUsage::default()),
        },
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
