//! How a replica reaches the Redis operators run: one node (`redis://`, or `rediss://` with
//! a CA and an optional client certificate), a Redis Cluster, or the master a Sentinel names.
//!
//! Every mode ends in one cloneable handle, [`Conn`], so the gate, the tier, the lock and the
//! caller and audit data run unchanged on each. They work on a cluster because every key of an
//! account shares one hash tag ([`super::Keys`]): each script, `MGET` and pipeline touches
//! one slot, so one node answers it whole.
//!
//! Every mode connects lazily: a Redis that is down at start only puts the gate offline, as
//! for a single node.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, ClientTlsConfig, Cmd, ConnectionAddr, IntoConnectionInfo, Pipeline,
    RedisFuture, RedisResult, TlsCertificates, TlsMode, Value,
};
use secrecy::ExposeSecret;
use tokio::sync::Mutex;

use crate::config::{RedisMode, RedisSettings};

/// One handle on Redis, whatever its deployment; clones share the connection.
#[derive(Clone)]
pub enum Conn {
    /// One node, reconnected by redis-rs.
    Node(ConnectionManager),
    /// A Redis Cluster: redis-rs routes each command to the slot's master and follows
    /// `MOVED`/`ASK` and topology changes.
    Cluster(Lazy<ClusterConnection>),
    /// The master the sentinels name, asked again after every connection failure, so a
    /// failover moves the fleet to the promoted replica.
    Sentinel(Lazy<redis::aio::MultiplexedConnection>),
}

impl Conn {
    /// The handle `settings` ask for; `timeout` bounds connecting and each answer. Fails only
    /// on settings that can never work (bad URL, unreadable certificate files).
    pub fn open(settings: &RedisSettings, timeout: Duration) -> anyhow::Result<Self> {
        let url = settings
            .url
            .as_ref()
            .context("VTENRICH_REDIS_URL is not set")?
            .expose_secret();
        let urls: Vec<&str> = url.split(',').map(str::trim).collect();
        let tls = certificates(settings)?;
        // The URL may hold a password: errors name the setting, never the value.
        let bad_url = |err: redis::RedisError| {
            anyhow::anyhow!(
                "VTENRICH_REDIS_URL is not a valid Redis URL ({:?})",
                err.kind()
            )
        };
        match settings.mode {
            RedisMode::Standalone => {
                let [url] = urls[..] else {
                    anyhow::bail!(
                        "VTENRICH_REDIS_URL names several nodes; set VTENRICH_REDIS_MODE to \
                         cluster or sentinel"
                    );
                };
                let client = match tls {
                    Some(certs) => redis::Client::build_with_tls(url, certs),
                    None => redis::Client::open(url),
                }
                .map_err(bad_url)?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(timeout);
                let conn =
                    ConnectionManager::new_lazy_with_config(client, config).map_err(|err| {
                        anyhow::anyhow!("cannot set up the Redis connection ({:?})", err.kind())
                    })?;
                Ok(Self::Node(conn))
            }
            RedisMode::Cluster => {
                let mut builder = ClusterClientBuilder::new(urls.clone())
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .retries(1);
                if urls.iter().any(|url| url.starts_with("rediss://")) {
                    builder = builder.tls(TlsMode::Secure);
                }
                if let Some(certs) = tls {
                    builder = builder.certs(certs);
                }
                let client = builder.build().map_err(bad_url)?;
                Ok(Self::Cluster(Lazy::new(move || {
                    let client = client.clone();
                    async move { client.get_async_connection().await }
                })))
            }
            RedisMode::Sentinel => {
                let master = settings
                    .sentinel_master
                    .clone()
                    .context("VTENRICH_REDIS_MODE=sentinel needs VTENRICH_REDIS_SENTINEL_MASTER")?;
                let client = sentinel_client(&urls, &master, tls).map_err(bad_url)?;
                let client = Arc::new(Mutex::new(client));
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout));
                Ok(Self::Sentinel(Lazy::new(move || {
                    let (client, config) = (client.clone(), config.clone());
                    async move {
                        let mut client = client.lock().await;
                        client.get_async_connection_with_config(&config).await
                    }
                })))
            }
        }
    }
}

/// A sentinel client for `master`: the sentinels' addresses from `urls`, and the first URL's
/// credentials and TLS for the master (sentinels and data nodes usually share them).
fn sentinel_client(
    urls: &[&str],
    master: &str,
    tls: Option<TlsCertificates>,
) -> RedisResult<SentinelClient> {
    let infos = urls
        .iter()
        .map(|url| url.into_connection_info())
        .collect::<RedisResult<Vec<_>>>()?;
    let secure = infos
        .iter()
        .any(|info| matches!(info.addr(), ConnectionAddr::TcpTls { .. }));
    let first = infos[0].redis_settings().clone();
    let addrs = infos.iter().map(|info| info.addr().clone());
    let mut builder = SentinelClientBuilder::new(addrs, master, SentinelServerType::Master)?;
    if let Some(username) = first.username() {
        builder = builder
            .set_client_to_redis_username(username)
            .set_client_to_sentinel_username(username);
    }
    if let Some(password) = first.password() {
        builder = builder
            .set_client_to_redis_password(password)
            .set_client_to_sentinel_password(password);
    }
    if secure {
        builder = builder
            .set_client_to_redis_tls_mode(TlsMode::Secure)
            .set_client_to_sentinel_tls_mode(TlsMode::Secure);
    }
    if let Some(certs) = tls {
        builder = builder
            .set_client_to_redis_certificates(certs.clone())
            .set_client_to_sentinel_certificates(certs);
    }
    builder.build()
}

/// The CA and client certificate files, read once at start; `None` when none is set.
fn certificates(settings: &RedisSettings) -> anyhow::Result<Option<TlsCertificates>> {
    let read = |path: &Path, var: &str| {
        std::fs::read(path).with_context(|| format!("cannot read {var} ({})", path.display()))
    };
    let root_cert = settings
        .ca_file
        .as_deref()
        .map(|path| read(path, "VTENRICH_REDIS_CA_FILE"))
        .transpose()?;
    let client_tls = match (&settings.client_cert_file, &settings.client_key_file) {
        (Some(cert), Some(key)) => Some(ClientTlsConfig {
            client_cert: read(cert, "VTENRICH_REDIS_CLIENT_CERT_FILE")?,
            client_key: read(key, "VTENRICH_REDIS_CLIENT_KEY_FILE")?,
        }),
        (None, None) => None,
        _ => anyhow::bail!(
            "VTENRICH_REDIS_CLIENT_CERT_FILE and VTENRICH_REDIS_CLIENT_KEY_FILE go together"
        ),
    };
    Ok(
        (root_cert.is_some() || client_tls.is_some()).then_some(TlsCertificates {
            client_tls,
            root_cert,
        }),
    )
}

type Connect<C> = dyn Fn() -> Pin<Box<dyn Future<Output = RedisResult<C>> + Send>> + Send + Sync;

/// A connection made on first use and made again after it failed; clones share it.
pub struct Lazy<C>(Arc<LazyInner<C>>);

struct LazyInner<C> {
    connect: Box<Connect<C>>,
    current: Mutex<Option<C>>,
}

impl<C> Clone for Lazy<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<C: ConnectionLike + Clone + Send + 'static> Lazy<C> {
    fn new<F, Fut>(connect: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = RedisResult<C>> + Send + 'static,
    {
        Self(Arc::new(LazyInner {
            connect: Box::new(move || Box::pin(connect())),
            current: Mutex::new(None),
        }))
    }

    /// The current connection, or a new one (one connect at a time).
    async fn get(&self) -> RedisResult<C> {
        let mut current = self.0.current.lock().await;
        if let Some(conn) = current.as_ref() {
            return Ok(conn.clone());
        }
        let conn = (self.0.connect)().await?;
        *current = Some(conn.clone());
        Ok(conn)
    }

    /// Drops the connection after `err` if it says the node is gone or no longer the master
    /// (`READONLY` from a demoted master after a failover), so the next call connects anew.
    async fn check<T>(&self, result: RedisResult<T>) -> RedisResult<T> {
        if let Err(err) = &result
            && (err.is_unrecoverable_error()
                || err.is_io_error()
                || err.is_timeout()
                || err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly))
        {
            *self.0.current.lock().await = None;
        }
        result
    }
}

impl<C: ConnectionLike + Clone + Send + 'static> ConnectionLike for Lazy<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut conn = self.get().await?;
            let result = conn.req_packed_command(cmd).await;
            self.check(result).await
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut conn = self.get().await?;
            let result = conn.req_packed_commands(pipeline, offset, count).await;
            self.check(result).await
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Node(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
            Self::Sentinel(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Node(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Sentinel(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
            Self::Sentinel(conn) => conn.get_db(),
        }
    }
}
