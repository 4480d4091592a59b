//! The in-memory answer cache: entries carry their own fresh and stale deadlines.
//!
//! moka bounds the size and drops entries once even their stale window has passed; whether an
//! entry is fresh or stale is decided against the injected clock, so tests can move time.

use crate::observable::Observable;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use moka::notification::RemovalCause;

use crate::answer::{Answer, Entry};
use crate::clock::SharedClock;
use crate::config::CacheSettings;
use crate::metrics::Metrics;

/// Result of a cache lookup.
#[derive(Debug, Clone)]
pub enum Lookup {
    Fresh(Arc<Entry>),
    Stale(Arc<Entry>),
    Miss,
}

/// moka's per-entry expiry: an entry lives until its stale window ends.
struct UntilStale {
    clock: SharedClock,
    /// With a shared tier behind: keep entries in memory at most this long.
    memory_ttl: Option<Duration>,
}

impl moka::Expiry<Observable, Arc<Entry>> for UntilStale {
    fn expire_after_create(
        &self,
        _key: &Observable,
        value: &Arc<Entry>,
        _created_at: Instant,
    ) -> Option<Duration> {
        let until_stale = (value.stale_until - self.clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        Some(
            self.memory_ttl
                .map_or(until_stale, |ttl| ttl.min(until_stale)),
        )
    }

    fn expire_after_update(
        &self,
        key: &Observable,
        value: &Arc<Entry>,
        updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, value, updated_at)
    }
}

/// The bounded TTL cache of VirusTotal answers, keyed by canonical IP.
#[derive(Clone)]
pub struct Cache {
    inner: moka::sync::Cache<Observable, Arc<Entry>>,
    clock: SharedClock,
    settings: CacheSettings,
    metrics: Metrics,
}

impl Cache {
    /// An empty cache bounded by `settings.max_entries`.
    pub fn new(settings: CacheSettings, clock: SharedClock, metrics: Metrics) -> Self {
        Self::build(settings, clock, metrics, None)
    }

    fn build(
        settings: CacheSettings,
        clock: SharedClock,
        metrics: Metrics,
        memory_ttl: Option<Duration>,
    ) -> Self {
        let evictions = metrics.cache_evictions.clone();
        let inner = moka::sync::Cache::builder()
            .max_capacity(settings.max_entries)
            .expire_after(UntilStale {
                clock: clock.clone(),
                memory_ttl,
            })
            .eviction_listener(move |_key, _value, cause| {
                let cause = match cause {
                    RemovalCause::Expired => "expired",
                    RemovalCause::Size => "size",
                    // Replacement by a newer answer is not an eviction.
                    RemovalCause::Replaced | RemovalCause::Explicit => return,
                };
                evictions.with_label_values(&[cause]).inc();
            })
            .build();
        Self {
            inner,
            clock,
            settings,
            metrics,
        }
    }

    /// The same cache, but entries leave memory after `ttl` at the latest (real time), so a
    /// shared tier behind it is consulted again. Call before any insert.
    pub fn with_memory_ttl(self, ttl: Duration) -> Self {
        Self::build(self.settings, self.clock, self.metrics, Some(ttl))
    }

    /// Looks `observable` up, classifying the entry against the clock.
    pub fn lookup(&self, observable: &Observable) -> Lookup {
        self.lookup_at(observable, self.clock.now())
    }

    /// [`Self::lookup`] at `now`, which a batch reads from its clock once.
    pub fn lookup_at(&self, observable: &Observable, now: DateTime<Utc>) -> Lookup {
        self.metrics.cache_requests.inc();
        let Some(entry) = self.inner.get(observable) else {
            return Lookup::Miss;
        };
        if now < entry.fresh_until {
            if let Some(fresh) = &self.metrics.resolved.cache_hits_fresh {
                fresh.inc();
            }
            Lookup::Fresh(entry)
        } else if now < entry.stale_until {
            Lookup::Stale(entry)
        } else {
            Lookup::Miss
        }
    }

    /// Counts a stale entry actually served (a stale lookup may still be refreshed upstream).
    pub fn record_stale_hit(&self) {
        if let Some(stale) = &self.metrics.resolved.cache_hits_stale {
            stale.inc();
        }
    }

    /// Stores a fresh answer, computing its deadlines from its kind.
    pub fn insert(&self, observable: Observable, answer: Answer) -> Arc<Entry> {
        let now = self.clock.now();
        let ttl = match answer {
            Answer::Found(_) => self.settings.ttl,
            Answer::NotFound => self.settings.not_found_ttl,
        };
        let fresh_until = now + chrono_duration(ttl);
        let entry = Arc::new(Entry::new(
            answer,
            now,
            fresh_until,
            fresh_until + chrono_duration(self.settings.stale_for),
        ));
        self.inner.insert(observable, entry.clone());
        entry
    }

    /// Stores an entry as it is (for a second tier or a restored copy).
    pub fn restore(&self, observable: Observable, entry: Arc<Entry>) {
        self.inner.insert(observable, entry);
    }

    /// Drops the entry of `observable`; whether there was one.
    pub fn remove(&self, observable: &Observable) -> bool {
        self.inner.remove(observable).is_some()
    }

    /// Approximate number of entries.
    pub fn entry_count(&self) -> u64 {
        self.inner.run_pending_tasks();
        let n = self.inner.entry_count();
        self.metrics.cache_entries.set(n as i64);
        n
    }
}

/// Converts a configured duration, saturating far in the future rather than failing.
fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(365 * 100))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::report::IpReport;
    use chrono::Utc;

    fn cache(clock: &ManualClock) -> Cache {
        let settings = CacheSettings {
            ttl: Duration::from_secs(100),
            not_found_ttl: Duration::from_secs(10),
            stale_for: Duration::from_secs(1000),
            max_entries: 10,
        };
        Cache::new(settings, Arc::new(clock.clone()), Metrics::new())
    }

    #[test]
    fn an_entry_is_fresh_then_stale_then_gone() {
        let clock = ManualClock::new(Utc::now());
        let cache = cache(&clock);
        let observable = Observable::Ip("8.8.8.8".parse().unwrap());
        cache.insert(
            observable.clone(),
            Answer::Found(IpReport::default().into()),
        );
        assert!(matches!(cache.lookup(&observable), Lookup::Fresh(_)));
        clock.advance(Duration::from_secs(101));
        assert!(matches!(cache.lookup(&observable), Lookup::Stale(_)));
        clock.advance(Duration::from_secs(1000));
        assert!(matches!(cache.lookup(&observable), Lookup::Miss));
    }

    #[test]
    fn not_found_answers_use_their_own_ttl() {
        let clock = ManualClock::new(Utc::now());
        let cache = cache(&clock);
        let observable = Observable::Ip("9.9.9.9".parse().unwrap());
        let entry = cache.insert(observable.clone(), Answer::NotFound);
        assert_eq!(
            entry.fresh_until - entry.fetched_at,
            chrono::Duration::seconds(10)
        );
        clock.advance(Duration::from_secs(11));
        assert!(matches!(cache.lookup(&observable), Lookup::Stale(_)));
    }

    #[test]
    fn the_cache_is_bounded_by_max_entries() {
        let clock = ManualClock::new(Utc::now());
        let cache = cache(&clock);
        for i in 0..100u8 {
            cache.insert(Observable::Ip([1, 1, 1, i].into()), Answer::NotFound);
        }
        assert!(cache.entry_count() <= 10, "{}", cache.entry_count());
    }

    #[test]
    fn with_a_memory_ttl_an_entry_leaves_memory_while_still_fresh() {
        let clock = ManualClock::new(Utc::now());
        let cache = cache(&clock).with_memory_ttl(Duration::from_millis(30));
        let observable = Observable::Ip("8.8.8.8".parse().unwrap());
        cache.insert(observable.clone(), Answer::NotFound);
        assert!(matches!(cache.lookup(&observable), Lookup::Fresh(_)));
        std::thread::sleep(Duration::from_millis(80));
        assert!(
            matches!(cache.lookup(&observable), Lookup::Miss),
            "the shared tier must be asked again"
        );
    }
}
