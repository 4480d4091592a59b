//! What sits behind the in-memory cache: a second tier (the embedded durable store on one
//! node, Redis across replicas) and a fleet-wide fetch lock (Redis only).

use std::time::Duration;

use async_trait::async_trait;

use crate::answer::Entry;
use crate::observable::Observable;

/// A second cache tier. Failures are handled inside (logged, counted, degraded): a broken
/// tier must never fail a lookup, only make it more expensive.
#[async_trait]
pub trait SecondTier: Send + Sync + 'static {
    /// Entries for `observables`, in the same order; `None` for a miss or an unreadable tier.
    /// Entries past their stale deadline may be returned; the caller judges freshness.
    async fn get_many(&self, observables: &[Observable]) -> Vec<Option<Entry>>;

    /// Writes an answer through. Resolves once it is stored (or the tier gave up on it).
    async fn put(&self, observable: &Observable, entry: &Entry);

    /// Deletes the entries of `observables` (an admin's purge). Unlike reads and writes, a failure is
    /// returned: the admin must know the purge did not happen.
    async fn remove(&self, observables: &[Observable]) -> anyhow::Result<()>;
}

/// Outcome of asking for the fleet-wide right to fetch one observable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOutcome {
    /// This replica fetches; release with the token afterwards.
    Acquired(String),
    /// Another replica is fetching; wait for its answer to appear in the second tier.
    Busy,
    /// The lock service is unreachable; proceed as a single node would.
    Unavailable,
}

/// A short per-observable lock across replicas, so one replica fetches a new observable while
/// the others wait for it.
#[async_trait]
pub trait FleetLock: Send + Sync + 'static {
    /// Tries to take the lock for `observable`, held at most `ttl` (a crashed holder cannot block
    /// others for longer).
    async fn try_acquire(&self, observable: &Observable, ttl: Duration) -> LockOutcome;

    /// Releases the lock if `token` still holds it.
    async fn release(&self, observable: &Observable, token: &str);
}
