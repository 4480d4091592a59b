//! What the Redis tests share: a server with the clock its replicas use ([`Fleet`]), limits,
//! times, bounded polling and key inspection.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use vtenrich::clock::{Clock, ManualClock};
use vtenrich::config::{RedisFailureMode, RedisSettings};
use vtenrich::enrich::{FleetLock, SecondTier};
use vtenrich::metrics::Metrics;
use vtenrich::quota::{Denied, Grant, Limits, Priority, QuotaGate};
use vtenrich::redis::{
    GateOptions, Keys, RedisAudit, RedisCallers, RedisOptions, ScriptTime, connect_with,
};

pub use crate::support::redis_keys::{all_keys, counter, pttl};
use crate::support::redis_server::RedisServer;

/// The namespace every test uses (each test has its own server).
pub const NS: &str = "acct";

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("literal time")
        .to_utc()
}

pub fn limits(per_minute: u32, per_day: u64, per_month: u64) -> Limits {
    Limits {
        per_minute,
        per_day,
        per_month,
        too_many_requests_backoff: Duration::from_secs(30),
        reserve_interactive: 0,
    }
}

/// Settings for a replica of the account `NS` on `url`.
pub fn settings(url: &str, mode: RedisFailureMode, replicas: u32) -> RedisSettings {
    RedisSettings {
        url: Some(SecretString::from(url.to_owned())),
        failure_mode: mode,
        expected_replicas: replicas,
        namespace: NS.to_owned(),
        ..RedisSettings::default()
    }
}

/// Short timeouts and the injected clock as the script's time, so tests move a
/// `ManualClock` across windows instead of waiting.
pub fn options() -> RedisOptions {
    RedisOptions {
        call_timeout: Duration::from_millis(200),
        gate: GateOptions {
            time: ScriptTime::Clock,
            refresh_every: Duration::from_millis(200),
            probe_every: Duration::from_millis(100),
            ..GateOptions::default()
        },
    }
}

/// A test's own redis-server and the manual clock its replicas share (the script's time).
pub struct Fleet {
    pub server: RedisServer,
    pub clock: ManualClock,
}

impl Fleet {
    /// A running server, the clock at 2026-03-10T08:00Z.
    pub fn start() -> Self {
        Self::start_at("2026-03-10T08:00:00Z")
    }

    /// A running server, the clock at `time` (RFC 3339).
    pub fn start_at(time: &str) -> Self {
        Self {
            server: RedisServer::start(),
            clock: ManualClock::new(at(time)),
        }
    }

    /// Nothing listening yet (`server.restart()` starts it), the clock at 2026-03-10T08:00Z.
    pub fn without_redis() -> Self {
        Self {
            server: RedisServer::unstarted(),
            clock: ManualClock::new(at("2026-03-10T08:00:00Z")),
        }
    }

    /// A replica of `replicas` sharing the server, deciding in `mode` while it is away.
    pub async fn replica(&self, mode: RedisFailureMode, replicas: u32, limits: Limits) -> Replica {
        Replica::connect(
            &settings(&self.server.url(), mode, replicas),
            &self.clock,
            limits,
        )
        .await
    }

    /// A `local_share` replica of `replicas` at 4 calls a minute and 100 a day that has spent
    /// one call through Redis: the fleet's minute has 3 left.
    pub async fn replica_after_one_call(&self, replicas: u32) -> Replica {
        let replica = self
            .replica(
                RedisFailureMode::LocalShare,
                replicas,
                limits(4, 100, 15_500),
            )
            .await;
        replica.ask_now().await.expect("a fresh minute has room");
        replica
    }

    /// The shared day and month counters of the clock's UTC date.
    pub async fn shared_counts(&self) -> (u64, u64) {
        let mut conn = self.server.connection().await;
        let (keys, date) = (Keys::new(NS).unwrap(), self.clock.now().date_naive());
        (
            counter(&mut conn, &keys.day(date)).await,
            counter(&mut conn, &keys.month(date)).await,
        )
    }
}

/// One replica's parts and its own metrics.
pub struct Replica {
    pub gate: Arc<dyn QuotaGate>,
    pub tier: Arc<dyn SecondTier>,
    pub lock: Arc<dyn FleetLock>,
    pub callers: RedisCallers,
    pub audit: RedisAudit,
    pub metrics: Metrics,
    clock: ManualClock,
}

impl Replica {
    /// A replica on any Redis `settings` name (a node, TLS, a cluster, sentinels).
    pub async fn connect(settings: &RedisSettings, clock: &ManualClock, limits: Limits) -> Self {
        Self::connect_with(settings, clock, limits, options()).await
    }

    /// [`Replica::connect`] with other options than the tests' usual ones.
    pub async fn connect_with(
        settings: &RedisSettings,
        clock: &ManualClock,
        limits: Limits,
        options: RedisOptions,
    ) -> Self {
        let metrics = Metrics::new();
        let parts = connect_with(
            settings,
            limits,
            Arc::new(clock.clone()),
            metrics.clone(),
            options,
        )
        .await
        .expect("connect builds the parts");
        Replica {
            audit: parts.audit(1_000),
            gate: parts.gate,
            tier: parts.tier,
            lock: parts.lock,
            callers: parts.callers,
            metrics,
            clock: clock.clone(),
        }
    }

    /// Whether this replica decides offline (Redis unreachable), from its metrics.
    pub fn offline(&self) -> bool {
        self.metrics.quota_fallback_active.get() == 1
    }

    /// An interactive caller's ask that cannot wait.
    pub async fn ask_now(&self) -> Result<Grant, Denied> {
        self.gate
            .acquire(Priority::Interactive, Some(self.clock.now()))
            .await
    }

    /// Waits, moving the clock, until this replica decides through Redis again.
    pub async fn rejoin(&self) {
        eventually_advancing("the gate goes back to Redis", &self.clock, || {
            !self.offline()
        })
        .await;
    }
}

/// Polls `check` every 20 ms for at most 15 s (CI's two cores may be busy building); panics
/// naming `what` if it never holds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..750 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

/// Like [`eventually`], moving the manual clock 5 s at a time (at most 10 minutes): going
/// back to Redis waits for a whole minute of Redis answering, on the gate's clock.
pub async fn eventually_advancing(
    what: &str,
    clock: &vtenrich::clock::ManualClock,
    mut check: impl FnMut() -> bool,
) {
    for _ in 0..120 {
        if check() {
            return;
        }
        clock.advance(Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    panic!("never happened: {what}");
}

/// Lets spawned tasks and Redis round trips finish while the manual clock stands still.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(150)).await;
}
