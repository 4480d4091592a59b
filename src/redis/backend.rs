//! The shared Redis connection: every call bounded in time, failures logged without flooding.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::connection::Conn;
use crate::metrics::Metrics;

/// Why a Redis call failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// No answer within the call timeout (Redis stopped, paused or unreachable).
    #[error("Redis did not answer in time")]
    Timeout,
    /// Redis or the connection reported an error.
    #[error("Redis call failed: {0}")]
    Redis(#[from] redis::RedisError),
    /// The quota script kept naming another UTC date than the one asked for.
    #[error("Redis kept answering for another date than asked")]
    Clock,
}

/// One multiplexed, self-reconnecting connection shared by the gate, the tier and the lock.
#[derive(Clone)]
pub struct Backend {
    conn: Conn,
    timeout: Duration,
    metrics: Metrics,
}

impl Backend {
    /// Wraps `conn`; every call gives up after `timeout`.
    pub fn new(conn: Conn, timeout: Duration, metrics: Metrics) -> Self {
        Self {
            conn,
            timeout,
            metrics,
        }
    }

    /// Runs one call on a handle of the connection, bounded by the call timeout, and records
    /// whether Redis answered.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, BackendError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        // The manager's own timeouts cover one connection attempt or one response; this one
        // also covers its reconnect back-off, so a dead Redis costs a caller at most `timeout`.
        let result = match tokio::time::timeout(self.timeout, call(self.conn.clone())).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(BackendError::Redis(err)),
            Err(_) => Err(BackendError::Timeout),
        };
        // Any failure counts as down, a server error too: the gate cannot decide through a
        // Redis that answers errors either.
        self.metrics.quota_backend_up.set(i64::from(result.is_ok()));
        result
    }

    /// Behind Sentinel, waits until a replica holds the writes made so far on `conn` and
    /// fails if none does in time; elsewhere does nothing.
    ///
    /// Why: replication is asynchronous, so a failover loses what the old master had not
    /// passed on, and a grant it made would vanish from the minute log and the counts. A write
    /// only counts once a replica has it; one no replica confirms fails like an unreachable
    /// Redis, so the gate decides offline (counting at most once more, never once less).
    pub async fn confirm(&self, conn: &mut Conn) -> redis::RedisResult<()> {
        if !matches!(conn, Conn::Sentinel(_)) {
            return Ok(());
        }
        // Half the call's time: the write itself had the other half.
        let wait_ms = u64::try_from(self.timeout.as_millis() / 2).unwrap_or(u64::MAX);
        let replicas: i64 = redis::cmd("WAIT")
            .arg(1)
            .arg(wait_ms.max(1))
            .query_async(conn)
            .await?;
        if replicas < 1 {
            return Err(std::io::Error::other("no replica confirmed the write").into());
        }
        Ok(())
    }
}

/// Lets one warning through per period, so a Redis outage logs once in a while, not per call.
pub struct WarnLimiter {
    every: Duration,
    last: Mutex<Option<Instant>>,
}

impl WarnLimiter {
    /// At most one warning per `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last: Mutex::new(None),
        }
    }

    /// Whether a warning may be logged now (and if so, starts a new period).
    pub fn allow(&self) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < self.every) {
            return false;
        }
        *last = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_limiter_lets_one_warning_through_per_period() {
        let limiter = WarnLimiter::new(Duration::from_secs(3600));

        let first = limiter.allow();
        let second = limiter.allow();

        assert!(first);
        assert!(!second);
    }
}
