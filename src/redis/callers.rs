//! The runtime callers on Redis: one hash under the account's hash tag and a version counter
//! that every replica polls, so a change made on one replica reaches the others.

use redis::AsyncCommands;

use super::backend::{Backend, BackendError};
use super::keys::Keys;

/// Reads and writes the runtime callers' records (opaque bytes, the registry's stored form).
#[derive(Clone)]
pub struct RedisCallers {
    backend: Backend,
    keys: Keys,
}

impl RedisCallers {
    /// The callers of the account `keys` names.
    pub fn new(backend: Backend, keys: Keys) -> Self {
        Self { backend, keys }
    }

    /// The change counter (0 before the first change).
    pub async fn version(&self) -> Result<u64, BackendError> {
        let key = self.keys.callers_version();
        self.backend
            .run(|mut conn| async move {
                let v: Option<u64> = conn.get(&key).await?;
                Ok(v.unwrap_or(0))
            })
            .await
    }

    /// Every record with the version it belongs to, read atomically.
    pub async fn load(&self) -> Result<(u64, Vec<(String, Vec<u8>)>), BackendError> {
        let (hash, version) = (self.keys.callers(), self.keys.callers_version());
        self.backend
            .run(|mut conn| async move {
                let (all, v): (Vec<(String, Vec<u8>)>, Option<u64>) = redis::pipe()
                    .atomic()
                    .hgetall(&hash)
                    .get(&version)
                    .query_async(&mut conn)
                    .await?;
                Ok((v.unwrap_or(0), all))
            })
            .await
    }

    /// Adds a record unless its id exists; false when it did. Bumps the version either way.
    pub async fn create(&self, id: &str, record: &[u8]) -> Result<bool, BackendError> {
        let (hash, version) = (self.keys.callers(), self.keys.callers_version());
        let (id, record) = (id.to_owned(), record.to_vec());
        self.backend
            .run(|mut conn| async move {
                let (added, _): (bool, u64) = redis::pipe()
                    .atomic()
                    .hset_nx(&hash, &id, &record)
                    .incr(&version, 1)
                    .query_async(&mut conn)
                    .await?;
                Ok(added)
            })
            .await
    }

    /// Writes (or replaces) a record and bumps the version, in one transaction.
    pub async fn save(&self, id: &str, record: &[u8]) -> Result<(), BackendError> {
        let (hash, version) = (self.keys.callers(), self.keys.callers_version());
        let (id, record) = (id.to_owned(), record.to_vec());
        self.backend
            .run(|mut conn| async move {
                redis::pipe()
                    .atomic()
                    .hset(&hash, &id, &record)
                    .ignore()
                    .incr(&version, 1)
                    .ignore()
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await
    }

    /// Removes a record and bumps the version, in one transaction.
    pub async fn delete(&self, id: &str) -> Result<(), BackendError> {
        let (hash, version) = (self.keys.callers(), self.keys.callers_version());
        let id = id.to_owned();
        self.backend
            .run(|mut conn| async move {
                redis::pipe()
                    .atomic()
                    .hdel(&hash, &id)
                    .ignore()
                    .incr(&version, 1)
                    .ignore()
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await
    }
}
