//! Scale-out on Redis: one VirusTotal quota, one cache and one fetch per new observable
//! across every replica sharing a Redis namespace.
//!
//! - `gate/`: the shared quota gate (the Lua script, what the replica knows and owes, its
//!   offline share while Redis is unreachable, and its sync task).
//! - `tier`: Redis as the second cache tier.
//! - `lock`: the fleet-wide fetch lock.
//! - `callers`: the runtime callers, shared by the fleet.
//! - `audit`: the fleet's audit log, a capped stream.
//! - `usage`: the fleet's usage counts, per-day hashes.
//! - `keys`: key names under the account's hash tag.
//! - `connection`: one handle on a node (plain or TLS), a Cluster or a Sentinel's master.
//! - `backend`: the connection, with every call bounded in time.
//!
//! Redis down never fails open: the gate decides offline on a share of the limits
//! (`local_share`) or allows no calls (`closed`), the tier answers misses and the lock
//! reports itself unavailable.

mod audit;
mod backend;
mod callers;
mod connection;
mod gate;
mod keys;
mod lock;
mod tier;
mod usage;

use std::sync::Arc;
use std::time::Duration;

pub use audit::RedisAudit;
pub use backend::{Backend, BackendError, WarnLimiter};
pub use callers::RedisCallers;
pub use connection::Conn;
pub use gate::{
    BlockFor, Call, GateOptions, Op, QuotaScript, RedisGate, Reply, ScriptTime, Status,
};
pub use keys::{BadNamespace, Keys};
pub use lock::RedisLock;
pub use tier::RedisTier;
pub use usage::RedisUsage;

use crate::callers::ledger::{CallerLedger, SharedLedger};
use crate::clock::SharedClock;
use crate::config::RedisSettings;
use crate::enrich::{FleetLock, SecondTier};
use crate::metrics::Metrics;
use crate::quota::{Limits, QuotaGate};

/// The Redis-backed parts the application wires in.
pub struct RedisParts {
    /// The shared quota gate.
    pub gate: Arc<dyn QuotaGate>,
    /// The fleet's per-caller day counts.
    pub ledger: Arc<dyn CallerLedger>,
    /// The shared second cache tier.
    pub tier: Arc<dyn SecondTier>,
    /// The fleet-wide fetch lock.
    pub lock: Arc<dyn FleetLock>,
    /// The runtime callers.
    pub callers: RedisCallers,
    /// The connection and key names, for the audit stream (built with its own settings).
    backend: Backend,
    keys: Keys,
}

impl RedisParts {
    /// The fleet's audit stream, capped at `max_entries`.
    pub fn audit(&self, max_entries: u64) -> RedisAudit {
        RedisAudit::new(self.backend.clone(), &self.keys, max_entries)
    }

    /// The fleet's usage counts: per-day hashes every replica adds to.
    pub fn usage(&self) -> RedisUsage {
        RedisUsage::new(self.backend.clone(), self.keys.clone())
    }
}

/// Connection tuning; the defaults suit production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisOptions {
    /// Longest any one Redis call may take, reconnecting included; past it the call fails
    /// and the gate falls back. Short, because a paused Redis would otherwise hold every
    /// request for the length of a TCP timeout.
    pub call_timeout: Duration,
    /// The gate's tuning.
    pub gate: GateOptions,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_millis(250),
            gate: GateOptions::default(),
        }
    }
}

/// Connects to `settings.url` and builds the parts with the default options (but the
/// configured arrival margin).
///
/// An unreachable Redis is not an error: the replica starts offline (on its share) and joins the
/// fleet when Redis answers. A missing or malformed URL or a bad namespace is.
pub async fn connect(
    settings: &RedisSettings,
    limits: Limits,
    arrival_margin: Duration,
    clock: SharedClock,
    metrics: Metrics,
) -> anyhow::Result<RedisParts> {
    let mut options = RedisOptions::default();
    options.gate.arrival_margin = arrival_margin;
    connect_with(settings, limits, clock, metrics, options).await
}

/// [`connect`] with explicit options (tests shorten timeouts and use the injected clock).
pub async fn connect_with(
    settings: &RedisSettings,
    limits: Limits,
    clock: SharedClock,
    metrics: Metrics,
    options: RedisOptions,
) -> anyhow::Result<RedisParts> {
    let keys = Keys::new(&settings.namespace)?;
    let conn = Conn::open(settings, options.call_timeout)?;
    let backend = Backend::new(conn, options.call_timeout, metrics.clone());

    let up = backend
        .run(|mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await })
        .await;
    if let Err(err) = &up {
        tracing::warn!(error = %err, "Redis unreachable at start; starting on the quota fallback");
    }

    let gate = RedisGate::start(
        QuotaScript::new(keys.clone(), limits, options.gate.arrival_margin),
        backend.clone(),
        clock.clone(),
        settings.failure_mode,
        settings.expected_replicas,
        options.gate,
        metrics,
        up.is_ok(),
    );
    Ok(RedisParts {
        gate: Arc::new(gate),
        ledger: Arc::new(SharedLedger::new(
            backend.clone(),
            keys.clone(),
            clock.clone(),
        )),
        tier: Arc::new(RedisTier::new(backend.clone(), keys.clone(), clock)),
        lock: Arc::new(RedisLock::new(backend.clone(), keys.clone())),
        callers: RedisCallers::new(backend.clone(), keys.clone()),
        backend,
        keys,
    })
}
