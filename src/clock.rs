//! Time, injected wherever behaviour depends on it: the wall side for calendar windows and cache
//! ages, the monotonic side for deadlines.
//!
//! VirusTotal counts its quota on calendar windows in UTC, so quota and cache reason in
//! `DateTime<Utc>`. A request's deadline is a span of elapsed time, which a wall-clock step must
//! not stretch or cut, so it is a monotonic [`Instant`]. Tests use [`ManualClock`] to move both
//! forward instead of sleeping.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio::sync::watch;
use tokio::time::Instant;

/// A source of "now" and a way to sleep until a moment.
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock time.
    fn now(&self) -> DateTime<Utc>;
    /// The current monotonic time, which deadlines are measured on (never steps back).
    fn instant(&self) -> Instant;
    /// Resolves once `now() >= at`.
    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()>;
}

/// Shared handle to a clock.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock backed by tokio timers.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A wall clock that only moves when told to; sleepers wake when it passes their moment.
///
/// Its monotonic side is tokio's (so real waits still end) plus every [`ManualClock::advance`]
/// (so a test can run a deadline out); [`ManualClock::set`] steps only the wall side, as a
/// real clock step would.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
    advanced: Arc<Mutex<Duration>>,
    // A watch channel wakes every sleeper on each advance; they re-check their own deadline.
    tick: Arc<watch::Sender<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        let (tick, _) = watch::channel(start);
        Self {
            now: Arc::new(Mutex::new(start)),
            advanced: Arc::new(Mutex::new(Duration::ZERO)),
            tick: Arc::new(tick),
        }
    }

    /// Moves the clock forward by `by`, waking sleepers whose moment has come.
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).expect("advance fits in chrono::Duration");
        let mut now = self.now.lock().expect("clock lock");
        *self.advanced.lock().expect("clock lock") += by.to_std().unwrap_or_default();
        *now += by;
        self.tick.send_replace(*now);
    }

    /// Sets the clock to `at` (may move backwards, to test clock steps).
    pub fn set(&self, at: DateTime<Utc>) {
        *self.now.lock().expect("clock lock") = at;
        self.tick.send_replace(at);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock")
    }

    fn instant(&self) -> Instant {
        Instant::now() + *self.advanced.lock().expect("clock lock")
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let mut rx = self.tick.subscribe();
        Box::pin(async move {
            // `wait_for` checks the current value first, so a moment already passed returns at once.
            let _ = rx.wait_for(|now| *now >= at).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleeper_wakes_only_when_the_clock_passes_its_moment() {
        let start = DateTime::parse_from_rfc3339("2026-11-22T00:00:00Z")
            .unwrap()
            .to_utc();
        let clock = ManualClock::new(start);
        let sleeper = tokio::spawn(clock.sleep_until(start + chrono::Duration::seconds(10)));
        clock.advance(Duration::from_secs(5));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(5));
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("sleeper woke")
            .unwrap();
    }

    #[test]
    fn a_manual_advance_moves_the_monotonic_side_and_a_step_back_does_not() {
        let start = DateTime::parse_from_rfc3339("2026-11-22T00:00:00Z")
            .unwrap()
            .to_utc();
        let clock = ManualClock::new(start);
        let before = clock.instant();
        clock.advance(Duration::from_secs(5));
        let advanced = clock.instant();
        assert!(advanced >= before + Duration::from_secs(5));
        clock.set(start - chrono::Duration::hours(1));
        assert!(clock.instant() >= advanced);
    }
}
