//! Typed settings: defaults, then a TOML file, then `VTENRICH_*` environment variables.
//!
//! Everything is validated once at start-up; an invalid value stops the process with a message
//! naming the setting. The VirusTotal key is a [`SecretString`] and is exposed only where the
//! request header is written.

mod env;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub use env::ENV_VARS;

use crate::report::VerdictPolicy;

/// All settings of the service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to listen on (`VTENRICH_LISTEN`, default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// Most observables in one batch (`VTENRICH_MAX_BATCH`, default 1,000).
    pub max_batch: usize,
    /// Largest accepted request body in bytes (`VTENRICH_BODY_LIMIT`, default 1 MiB).
    pub body_limit_bytes: usize,
    /// Wait for a quota slot when the request does not say (`VTENRICH_DEFAULT_WAIT`, default 8s).
    #[serde(with = "humantime_serde")]
    pub default_wait: Duration,
    /// Cap on a request's `max_wait_ms` (`VTENRICH_MAX_WAIT`, default 30s).
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
    /// Serve Swagger UI at `/docs` (`VTENRICH_SWAGGER_UI`, default true).
    pub swagger_ui: bool,
    /// VirusTotal client and quota.
    pub virustotal: VirusTotalSettings,
    /// Cache lifetimes and size.
    pub cache: CacheSettings,
    /// Background fill queue for deferred observables.
    pub deferred: DeferredSettings,
    /// Verdict thresholds.
    pub verdict: VerdictPolicy,
    /// Logging.
    pub log: LogSettings,
    /// After SIGTERM, how long `/readyz` reports 503 before the listener closes, so load
    /// balancers stop routing first (`VTENRICH_DRAIN_DELAY`, default 5s).
    #[serde(with = "humantime_serde")]
    pub drain_delay: Duration,
    /// Longest time one HTTP request may take, waits included (`VTENRICH_REQUEST_TIMEOUT`,
    /// default 60s; must exceed `max_wait` plus one upstream call).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// A client must send its request headers within this time (`VTENRICH_HEADER_READ_TIMEOUT`,
    /// default 10s), so slow clients cannot pin connections.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A connection on which the client sends nothing for this long is closed
    /// (`VTENRICH_IDLE_TIMEOUT`, default 75s; must exceed `request_timeout`).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Largest request head, request line plus headers (`VTENRICH_MAX_HEADER_BYTES`, default 64 KiB).
    pub max_header_bytes: usize,
    /// Most client connections open at once (`VTENRICH_MAX_CONNECTIONS`, default 4,096); new
    /// connections beyond it are closed at once while the open ones are served.
    pub max_connections: usize,
    /// Most VirusTotal calls in flight at once (`VTENRICH_MAX_CONCURRENT_UPSTREAM`, default 8).
    pub max_concurrent_upstream: usize,
    /// Directory of the embedded durable store; `none` turns persistence off
    /// (`VTENRICH_DATA_DIR`, default `data`).
    pub data_dir: DataDir,
    /// The embedded durable store.
    pub store: StoreSettings,
    /// Callers allowed to use the API; empty means no authentication.
    pub callers: Vec<CallerSettings>,
    /// Whether `/metrics` is reachable without a caller key (`VTENRICH_METRICS_OPEN`, default true).
    pub metrics_open: bool,
    /// Shared quota and cache through Redis (scale-out).
    pub redis: RedisSettings,
}

/// Where the durable store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataDir {
    /// Persistence off.
    None,
    /// The directory holding the store file.
    Path(PathBuf),
}

impl<'de> Deserialize<'de> for DataDir {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(if text.trim().eq_ignore_ascii_case("none") {
            DataDir::None
        } else {
            DataDir::Path(PathBuf::from(text))
        })
    }
}

/// Embedded store bounds.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// Most entries kept on disk (`VTENRICH_STORE_MAX_ENTRIES`, default 1,000,000).
    pub max_entries: u64,
    /// How often expired entries are purged (`VTENRICH_STORE_PURGE_INTERVAL`, default 10m).
    #[serde(with = "humantime_serde")]
    pub purge_interval: Duration,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            max_entries: 1_000_000,
            purge_interval: Duration::from_secs(600),
        }
    }
}

/// One API caller: an id and the SHA-256 hashes (hex) of its keys, never the keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerSettings {
    /// A name for logs (never the key).
    pub id: String,
    /// Lower-case hex SHA-256 of each accepted key (`vtenrich hash-key` prints it).
    pub key_sha256: Vec<String>,
}

/// What to do when Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisFailureMode {
    /// Each replica spends at most its share of the limits, and reports it back later.
    LocalShare,
    /// No upstream calls without Redis: cache and stale answers only.
    Closed,
}

/// Redis scale-out settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// `redis://` URL; unset means single-node (`VTENRICH_REDIS_URL`). May hold a password.
    pub url: Option<SecretString>,
    /// `local_share` or `closed` (`VTENRICH_REDIS_FAILURE_MODE`, default `local_share`).
    pub failure_mode: RedisFailureMode,
    /// Replicas sharing the key; each gets 1/N of the limits while Redis is down
    /// (`VTENRICH_EXPECTED_REPLICAS`, default 1).
    pub expected_replicas: u32,
    /// Key namespace of this VirusTotal account in Redis (`VTENRICH_REDIS_NAMESPACE`,
    /// default `vtenrich`).
    pub namespace: String,
    /// How long the in-memory tier may serve an entry before asking Redis again
    /// (`VTENRICH_REDIS_MEMORY_TTL`, default 60s), so replicas do not drift long.
    #[serde(with = "humantime_serde")]
    pub memory_ttl: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: None,
            failure_mode: RedisFailureMode::LocalShare,
            expected_replicas: 1,
            namespace: "vtenrich".to_owned(),
            memory_ttl: Duration::from_secs(60),
        }
    }
}

/// VirusTotal access and the key's limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VirusTotalSettings {
    /// The API key (`VTENRICH_VT_API_KEY`); prefer `api_key_file` in production.
    pub api_key: Option<SecretString>,
    /// A file holding the API key, e.g. a mounted secret (`VTENRICH_VT_API_KEY_FILE`).
    pub api_key_file: Option<PathBuf>,
    /// API base URL (`VTENRICH_VT_BASE_URL`, default `https://www.virustotal.com/api/v3`).
    pub base_url: url::Url,
    /// Calls allowed in any 60 s interval (`VTENRICH_VT_RATE_PER_MINUTE`, default 4).
    pub rate_per_minute: u32,
    /// Calls per UTC day (`VTENRICH_VT_DAILY_QUOTA`, default 500).
    pub daily_quota: u64,
    /// Calls per UTC calendar month (`VTENRICH_VT_MONTHLY_QUOTA`, default 15,500).
    pub monthly_quota: u64,
    /// TCP/TLS connect timeout (`VTENRICH_VT_CONNECT_TIMEOUT`, default 5s).
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Whole-call timeout including the body (`VTENRICH_VT_TIMEOUT`, default 15s).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Largest accepted answer body (`VTENRICH_VT_MAX_BODY`, default 4 MiB).
    pub max_body_bytes: usize,
    /// Retries after a 5xx or transport failure, within the request's wait
    /// (`VTENRICH_VT_MAX_RETRIES`, default 2). Each retry spends quota.
    pub max_retries: u32,
    /// Pause after 429 TooManyRequestsError (`VTENRICH_VT_TOO_MANY_REQUESTS_BACKOFF`, default 60s).
    #[serde(with = "humantime_serde")]
    pub too_many_requests_backoff: Duration,
    /// VirusTotal user id whose `overall_quotas` are adopted (`VTENRICH_VT_USER_ID`; off when unset).
    pub user_id: Option<String>,
    /// How often to sync `overall_quotas` (`VTENRICH_VT_QUOTA_SYNC_INTERVAL`, default 10m).
    #[serde(with = "humantime_serde")]
    pub quota_sync_interval: Duration,
}

/// Cache lifetimes and bound.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSettings {
    /// Freshness of an `ok` answer (`VTENRICH_CACHE_TTL`, default 24h).
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Freshness of a `not_found` answer (`VTENRICH_CACHE_NOT_FOUND_TTL`, default 6h).
    #[serde(with = "humantime_serde")]
    pub not_found_ttl: Duration,
    /// How long after expiry an entry may still be served stale (`VTENRICH_CACHE_STALE_FOR`, default 7d).
    #[serde(with = "humantime_serde")]
    pub stale_for: Duration,
    /// Most entries kept in memory (`VTENRICH_CACHE_MAX_ENTRIES`, default 100,000).
    pub max_entries: u64,
}

/// Deferred-queue settings.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeferredSettings {
    /// Most distinct observables waiting for a background fill (`VTENRICH_DEFERRED_CAPACITY`, default 10,000).
    pub capacity: usize,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (production).
    Json,
    /// Human-readable lines.
    Text,
}

/// Logging settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `json` or `text` (`VTENRICH_LOG_FORMAT`; default text on a terminal, json otherwise).
    pub format: Option<LogFormat>,
    /// `RUST_LOG`-style filter (`VTENRICH_LOG`, default `info`).
    pub filter: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_batch: 1_000,
            body_limit_bytes: 1024 * 1024,
            default_wait: Duration::from_secs(8),
            max_wait: Duration::from_secs(30),
            swagger_ui: true,
            virustotal: VirusTotalSettings::default(),
            cache: CacheSettings::default(),
            deferred: DeferredSettings::default(),
            verdict: VerdictPolicy::default(),
            log: LogSettings::default(),
            drain_delay: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            max_concurrent_upstream: 8,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_header_bytes: 64 * 1024,
            max_connections: 4096,
            data_dir: DataDir::Path(PathBuf::from("data")),
            store: StoreSettings::default(),
            callers: Vec::new(),
            metrics_open: true,
            redis: RedisSettings::default(),
        }
    }
}

impl Default for VirusTotalSettings {
    fn default() -> Self {
        Self {
            api_key: None,
            api_key_file: None,
            base_url: url::Url::parse("https://www.virustotal.com/api/v3")
                .expect("default base URL parses"),
            rate_per_minute: 4,
            daily_quota: 500,
            monthly_quota: 15_500,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            max_body_bytes: 4 * 1024 * 1024,
            max_retries: 2,
            too_many_requests_backoff: Duration::from_secs(60),
            user_id: None,
            quota_sync_interval: Duration::from_secs(600),
        }
    }
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(24 * 3600),
            not_found_ttl: Duration::from_secs(6 * 3600),
            stale_for: Duration::from_secs(7 * 24 * 3600),
            max_entries: 100_000,
        }
    }
}

impl Default for DeferredSettings {
    fn default() -> Self {
        Self { capacity: 10_000 }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: None,
            filter: "info".to_owned(),
        }
    }
}

/// A setting that could not be accepted; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// Defaults, then the TOML file at `path` (if any), then the environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(path, |name| std::env::var(name).ok())
    }

    /// As [`Settings::load`] with an injectable environment (tests).
    pub fn load_from(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut table = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!("cannot read config file {}: {e}", path.display()))
                })?;
                text.parse::<toml::Table>().map_err(|e| {
                    ConfigError(format!("config file {}: {}", path.display(), e.message()))
                })?
            }
            None => toml::Table::new(),
        };
        env::overlay(&mut table, env)?;
        let settings: Settings = table.try_into().map_err(|e: toml::de::Error| {
            ConfigError(format!("{} (in the config file)", e.message().trim()))
        })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let fail = |msg: &str| Err(ConfigError(msg.to_owned()));
        let vt = &self.virustotal;
        if vt.rate_per_minute == 0 {
            return fail(
                "VTENRICH_VT_RATE_PER_MINUTE (virustotal.rate_per_minute) must be at least 1",
            );
        }
        if vt.daily_quota == 0 {
            return fail("VTENRICH_VT_DAILY_QUOTA (virustotal.daily_quota) must be at least 1");
        }
        if vt.monthly_quota == 0 {
            return fail("VTENRICH_VT_MONTHLY_QUOTA (virustotal.monthly_quota) must be at least 1");
        }
        if !matches!(vt.base_url.scheme(), "http" | "https") {
            return fail("VTENRICH_VT_BASE_URL (virustotal.base_url) must be an http or https URL");
        }
        if vt.request_timeout.is_zero() || vt.connect_timeout.is_zero() {
            return fail("VTENRICH_VT_TIMEOUT and VTENRICH_VT_CONNECT_TIMEOUT must be above zero");
        }
        if self.cache.ttl.is_zero() || self.cache.not_found_ttl.is_zero() {
            return fail("VTENRICH_CACHE_TTL and VTENRICH_CACHE_NOT_FOUND_TTL must be above zero");
        }
        if self.cache.max_entries == 0 {
            return fail("VTENRICH_CACHE_MAX_ENTRIES (cache.max_entries) must be at least 1");
        }
        if self.max_batch == 0 || self.max_batch > 100_000 {
            return fail("VTENRICH_MAX_BATCH (max_batch) must be between 1 and 100000");
        }
        if self.body_limit_bytes < 1024 {
            return fail("VTENRICH_BODY_LIMIT (body_limit_bytes) must be at least 1024");
        }
        if self.default_wait > self.max_wait {
            return fail(
                "VTENRICH_DEFAULT_WAIT (default_wait) must not exceed VTENRICH_MAX_WAIT (max_wait)",
            );
        }
        if self.deferred.capacity == 0 {
            return fail("VTENRICH_DEFERRED_CAPACITY (deferred.capacity) must be at least 1");
        }
        if self.request_timeout <= self.max_wait + vt.request_timeout {
            return fail(
                "VTENRICH_REQUEST_TIMEOUT (request_timeout) must exceed VTENRICH_MAX_WAIT plus \
                 VTENRICH_VT_TIMEOUT, or waiting requests would be cut off",
            );
        }
        if self.idle_timeout <= self.request_timeout {
            return fail(
                "VTENRICH_IDLE_TIMEOUT (idle_timeout) must exceed VTENRICH_REQUEST_TIMEOUT, or \
                 clients waiting for an answer would be cut off",
            );
        }
        if self.header_read_timeout.is_zero() || self.max_header_bytes < 1024 {
            return fail(
                "VTENRICH_HEADER_READ_TIMEOUT must be above zero and VTENRICH_MAX_HEADER_BYTES at \
                 least 1024",
            );
        }
        if self.max_connections == 0 {
            return fail("VTENRICH_MAX_CONNECTIONS (max_connections) must be at least 1");
        }
        if self.max_concurrent_upstream == 0 {
            return fail(
                "VTENRICH_MAX_CONCURRENT_UPSTREAM (max_concurrent_upstream) must be at least 1",
            );
        }
        if self.redis.expected_replicas == 0 {
            return fail("VTENRICH_EXPECTED_REPLICAS (redis.expected_replicas) must be at least 1");
        }
        for caller in &self.callers {
            if caller.key_sha256.is_empty()
                || caller
                    .key_sha256
                    .iter()
                    .any(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(ConfigError(format!(
                    "callers.key_sha256 of caller {:?} must list 64-character hex SHA-256 \
                     hashes (`vtenrich hash-key` prints one)",
                    caller.id
                )));
            }
        }
        if vt.api_key.is_some() && vt.api_key_file.is_some() {
            return fail("set only one of VTENRICH_VT_API_KEY and VTENRICH_VT_API_KEY_FILE");
        }
        Ok(())
    }

    /// The VirusTotal key from `api_key` or `api_key_file`; `serve` refuses to start without one.
    pub fn api_key(&self) -> Result<SecretString, ConfigError> {
        let vt = &self.virustotal;
        if let Some(key) = &vt.api_key {
            return non_empty(key.expose_secret(), "VTENRICH_VT_API_KEY");
        }
        if let Some(path) = &vt.api_key_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError(format!(
                    "VTENRICH_VT_API_KEY_FILE: cannot read {}: {}",
                    path.display(),
                    e.kind()
                ))
            })?;
            return non_empty(&text, "VTENRICH_VT_API_KEY_FILE");
        }
        Err(ConfigError(
            "no VirusTotal API key: set VTENRICH_VT_API_KEY, or VTENRICH_VT_API_KEY_FILE to a file \
             holding it (or virustotal.api_key_file in the config file); `vtenrich demo` runs \
             without a key against the built-in simulator"
                .to_owned(),
        ))
    }
}

fn non_empty(raw: &str, name: &str) -> Result<SecretString, ConfigError> {
    let key = raw.trim();
    if key.is_empty() {
        return Err(ConfigError(format!("{name} is empty")));
    }
    if key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ConfigError(format!(
            "{name} holds whitespace or control characters inside the key"
        )));
    }
    Ok(SecretString::from(key.to_owned()))
}

#[cfg(test)]
mod tests;
