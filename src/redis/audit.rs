//! The audit log of a fleet: one capped Redis stream under the account's hash tag, written by
//! every replica and readable from any (`XADD ... MAXLEN ~`, `XREVRANGE`), with the log's small
//! records beside it.
//!
//! The stream ids (Redis time and a sequence) are the entries' ids: they order the entries
//! across replicas without any replica's clock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::backend::Backend;
use super::keys::Keys;
use crate::audit::{AuditBackend, Event};

/// The stream's one field per entry.
const FIELD: &str = "e";

/// The audit stream of one account.
pub struct RedisAudit {
    backend: Backend,
    stream: String,
    meta: String,
    max_entries: u64,
    keys: Keys,
}

impl RedisAudit {
    /// The stream under `keys`, capped at about `max_entries`.
    pub fn new(backend: Backend, keys: &Keys, max_entries: u64) -> Self {
        Self {
            backend,
            stream: format!("{}:audit", keys.tag()),
            meta: format!("{}:audit-meta:", keys.tag()),
            max_entries,
            keys: keys.clone(),
        }
    }
}

#[async_trait]
impl AuditBackend for RedisAudit {
    async fn append(&self, events: Vec<Event>) -> anyhow::Result<()> {
        let mut pipe = redis::pipe();
        for event in &events {
            let bytes = serde_json::to_vec(event).expect("an event serialises");
            // `~` lets Redis trim whole nodes: cheap, and the bound is kept to within a node.
            pipe.cmd("XADD")
                .arg(&self.stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(self.max_entries)
                .arg("*")
                .arg(FIELD)
                .arg(bytes)
                .ignore();
        }
        // One stream key under the account's hash tag: on a Cluster the pipeline goes whole
        // to the master of its slot.
        self.backend
            .run(|mut conn| async move { pipe.query_async::<()>(&mut conn).await })
            .await?;
        Ok(())
    }

    async fn newest(&self, before: Option<&str>, count: usize) -> anyhow::Result<Vec<Event>> {
        let end = before.map_or_else(|| "+".to_owned(), |id| format!("({id}"));
        let stream = self.stream.clone();
        let rows = self
            .backend
            .run(|mut conn| async move {
                redis::cmd("XREVRANGE")
                    .arg(stream)
                    .arg(end)
                    .arg("-")
                    .arg("COUNT")
                    .arg(count)
                    .query_async::<Vec<(String, Vec<(String, Vec<u8>)>)>>(&mut conn)
                    .await
            })
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, fields)| {
                let (_, bytes) = fields.into_iter().find(|(name, _)| name == FIELD)?;
                let mut event: Event = serde_json::from_slice(&bytes).ok()?;
                event.id = id;
                Some(event)
            })
            .collect())
    }

    async fn trim(&self, cutoff: DateTime<Utc>, _max_entries: u64) -> anyhow::Result<()> {
        // The count is capped by every XADD; age by the ids' Redis time.
        let stream = self.stream.clone();
        let min_id = format!("{}-0", cutoff.timestamp_millis().max(0));
        self.backend
            .run(|mut conn| async move {
                redis::cmd("XTRIM")
                    .arg(stream)
                    .arg("MINID")
                    .arg("~")
                    .arg(min_id)
                    .query_async::<i64>(&mut conn)
                    .await
            })
            .await?;
        Ok(())
    }

    fn is_id(&self, id: &str) -> bool {
        id.split_once('-').is_some_and(|(ms, seq)| {
            ms.parse::<u64>().is_ok()
                && seq.parse::<u64>().is_ok()
                && ms.bytes().chain(seq.bytes()).all(|b| b.is_ascii_digit())
        })
    }

    async fn meta_init(&self, name: &str, value: &[u8]) -> anyhow::Result<Vec<u8>> {
        let key = format!("{}{name}", self.meta);
        let value = value.to_vec();
        let stored = self
            .backend
            .run(|mut conn| async move {
                // SET NX then GET: replicas starting together all read the one that won.
                redis::pipe()
                    .cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("NX")
                    .ignore()
                    .cmd("GET")
                    .arg(&key)
                    .query_async::<(Vec<u8>,)>(&mut conn)
                    .await
            })
            .await?;
        Ok(stored.0)
    }

    async fn claim_once(&self, name: &str, expires: DateTime<Utc>) -> anyhow::Result<bool> {
        let key = self.keys.audit_once(name);
        let set = self
            .backend
            .run(|mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("NX")
                    .arg("PXAT")
                    .arg(expires.timestamp_millis())
                    .query_async::<Option<String>>(&mut conn)
                    .await
            })
            .await?;
        Ok(set.is_some())
    }

    async fn meta_get(&self, name: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let key = format!("{}{name}", self.meta);
        Ok(self
            .backend
            .run(|mut conn| async move {
                redis::cmd("GET")
                    .arg(key)
                    .query_async::<Option<Vec<u8>>>(&mut conn)
                    .await
            })
            .await?)
    }

    async fn meta_put(&self, name: &str, value: &[u8]) -> anyhow::Result<()> {
        let key = format!("{}{name}", self.meta);
        let value = value.to_vec();
        self.backend
            .run(|mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await?;
        Ok(())
    }
}
