//! Where audit entries are kept: the [`AuditBackend`] trait, and the in-memory backend used
//! when persistence is off (`VTENRICH_DATA_DIR=none`, the demo).
//!
//! The embedded store (`store::durable`) keeps them on a single node and a capped Redis stream
//! (`redis::audit`) across a fleet; both implement this trait.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Event;

/// A store of audit entries, newest readable first.
#[async_trait]
pub trait AuditBackend: Send + Sync + 'static {
    /// Appends `events` in order, assigning each its id (their `id` is ignored).
    async fn append(&self, events: Vec<Event>) -> anyhow::Result<()>;

    /// Up to `count` entries, newest first, strictly older than the entry `before` (from
    /// the newest when `None`).
    async fn newest(&self, before: Option<&str>, count: usize) -> anyhow::Result<Vec<Event>>;

    /// Deletes entries older than `cutoff` and then the oldest beyond `max_entries`.
    async fn trim(&self, cutoff: DateTime<Utc>, max_entries: u64) -> anyhow::Result<()>;

    /// Whether `id` has the form of an id this backend assigns (a cursor's id must).
    fn is_id(&self, id: &str) -> bool;

    /// The small record `name`, storing `value` first if there is none (so replicas starting
    /// together agree on one).
    async fn meta_init(&self, name: &str, value: &[u8]) -> anyhow::Result<Vec<u8>>;

    /// The small record `name`, if any.
    async fn meta_get(&self, name: &str) -> anyhow::Result<Option<Vec<u8>>>;

    /// Stores the small record `name`.
    async fn meta_put(&self, name: &str, value: &[u8]) -> anyhow::Result<()>;

    /// Claims `name` until `expires`: true for the first claim (across replicas, when the
    /// backend is shared), false while that claim holds. For entries written once per
    /// period, such as `caller.cap_exhausted`.
    async fn claim_once(&self, name: &str, expires: DateTime<Utc>) -> anyhow::Result<bool>;
}

/// Entries in memory only: lost on restart, which the README says of `VTENRICH_DATA_DIR=none`.
#[derive(Default)]
pub struct MemoryBackend {
    state: Mutex<Memory>,
}

#[derive(Default)]
struct Memory {
    next: u64,
    /// Oldest first.
    entries: VecDeque<(u64, Event)>,
    meta: HashMap<String, Vec<u8>>,
    /// Claims and when they expire.
    claims: HashMap<String, DateTime<Utc>>,
}

impl MemoryBackend {
    fn state(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl AuditBackend for MemoryBackend {
    async fn append(&self, events: Vec<Event>) -> anyhow::Result<()> {
        let mut state = self.state();
        for mut event in events {
            state.next += 1;
            let id = state.next;
            event.id = id.to_string();
            state.entries.push_back((id, event));
        }
        Ok(())
    }

    async fn newest(&self, before: Option<&str>, count: usize) -> anyhow::Result<Vec<Event>> {
        let before = before.map_or(Ok(u64::MAX), str::parse)?;
        Ok(self
            .state()
            .entries
            .iter()
            .rev()
            .filter(|(id, _)| *id < before)
            .take(count)
            .map(|(_, event)| event.clone())
            .collect())
    }

    async fn trim(&self, cutoff: DateTime<Utc>, max_entries: u64) -> anyhow::Result<()> {
        let mut state = self.state();
        let max = usize::try_from(max_entries).unwrap_or(usize::MAX);
        while state
            .entries
            .front()
            .is_some_and(|(_, e)| e.timestamp < cutoff || state.entries.len() > max)
        {
            state.entries.pop_front();
        }
        Ok(())
    }

    fn is_id(&self, id: &str) -> bool {
        is_sequence_id(id)
    }

    async fn meta_init(&self, name: &str, value: &[u8]) -> anyhow::Result<Vec<u8>> {
        Ok(self
            .state()
            .meta
            .entry(name.to_owned())
            .or_insert_with(|| value.to_vec())
            .clone())
    }

    async fn meta_get(&self, name: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.state().meta.get(name).cloned())
    }

    async fn meta_put(&self, name: &str, value: &[u8]) -> anyhow::Result<()> {
        self.state().meta.insert(name.to_owned(), value.to_vec());
        Ok(())
    }

    async fn claim_once(&self, name: &str, expires: DateTime<Utc>) -> anyhow::Result<bool> {
        let mut state = self.state();
        // Claims of days gone by are dropped as new ones come: the map stays small.
        state
            .claims
            .retain(|_, until| *until > expires - chrono::TimeDelta::days(2));
        Ok(state.claims.insert(name.to_owned(), expires).is_none())
    }
}

/// Ids of the memory and embedded-store backends: a positive decimal sequence number.
pub fn is_sequence_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 20
        && id.bytes().all(|b| b.is_ascii_digit())
        && id.parse::<u64>().is_ok_and(|n| n > 0)
}
