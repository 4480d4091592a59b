//! Where runtime callers are kept: nowhere but memory (the demo, `VTENRICH_DATA_DIR=none`),
//! the single node's durable store, or Redis for a fleet. Every write is done before the
//! admin API answers, so an answered change survives a crash.

use crate::redis::RedisCallers;
use crate::store::durable::DurableStore;

use super::record::CallerRecord;

/// The place runtime callers are kept.
#[derive(Clone)]
pub enum Persistence {
    /// Lost at exit.
    Memory,
    /// The embedded store of a single node.
    Durable(DurableStore),
    /// Shared by every replica of a Redis namespace.
    Redis(RedisCallers),
}

impl Persistence {
    /// The stored runtime callers, and the Redis version they belong to (`None` off Redis).
    /// Unreadable records are skipped with a warning.
    pub(super) async fn load(&self) -> Result<(Option<u64>, Vec<CallerRecord>), String> {
        let (version, rows) = match self {
            Self::Memory => return Ok((None, Vec::new())),
            Self::Durable(store) => {
                let store = store.clone();
                let rows = tokio::task::spawn_blocking(move || store.load_callers())
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                (None, rows)
            }
            Self::Redis(redis) => {
                let (version, rows) = redis.load().await.map_err(|e| e.to_string())?;
                (Some(version), rows)
            }
        };
        let records = rows
            .into_iter()
            .filter_map(|(id, bytes)| {
                let record = CallerRecord::decode(&bytes);
                if record.is_none() {
                    tracing::warn!(caller = %id.escape_debug(), "skipping an unreadable stored caller");
                }
                record
            })
            .collect();
        Ok((version, records))
    }

    /// The current Redis version (off Redis: always 0, nothing to poll).
    pub(super) async fn version(&self) -> Result<u64, String> {
        match self {
            Self::Redis(redis) => redis.version().await.map_err(|e| e.to_string()),
            _ => Ok(0),
        }
    }

    /// Stores a new caller; false when its id exists already (Redis: created by another
    /// replica since this one last looked).
    pub(super) async fn create(&self, record: &CallerRecord) -> Result<bool, String> {
        match self {
            Self::Redis(redis) => redis
                .create(record.id.as_str(), &record.encode())
                .await
                .map_err(|e| e.to_string()),
            _ => self.save(record).await.map(|()| true),
        }
    }

    /// Stores (or replaces) a caller.
    pub(super) async fn save(&self, record: &CallerRecord) -> Result<(), String> {
        let (id, bytes) = (record.id.as_str().to_owned(), record.encode());
        match self {
            Self::Memory => Ok(()),
            Self::Durable(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.save_caller(&id, &bytes))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())
            }
            Self::Redis(redis) => redis.save(&id, &bytes).await.map_err(|e| e.to_string()),
        }
    }

    /// Removes a caller.
    pub(super) async fn delete(&self, id: &str) -> Result<(), String> {
        let id = id.to_owned();
        match self {
            Self::Memory => Ok(()),
            Self::Durable(store) => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || store.delete_caller(&id))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())
            }
            Self::Redis(redis) => redis.delete(&id).await.map_err(|e| e.to_string()),
        }
    }

    /// Whether other processes may change the callers (then the registry polls).
    pub(super) fn is_shared(&self) -> bool {
        matches!(self, Self::Redis(_))
    }
}
