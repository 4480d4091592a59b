//! The sections of the settings (`[virustotal]`, `[cache]`, ...) and their defaults.
//!
//! Each derives `Serialize` so `vtenrich config` can print the effective values; secrets
//! serialize as `<set>`/`<unset>`, never as their value.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize, Serializer};

use crate::caller::{CallerId, CallerKind, CallerPriority, Profile, Role};
use crate::observable::PrivateSuffixes;
use crate::quota::Limits;
use crate::virustotal::{ClientSettings, VtClient};

/// Where the durable store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataDir {
    /// Persistence off.
    None,
    /// The directory holding the store file.
    Path(PathBuf),
}

impl Serialize for DataDir {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DataDir::None => s.serialize_str("none"),
            DataDir::Path(path) => path.serialize(s),
        }
    }
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
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
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

/// One API caller from the configuration file: the source of truth for its own fields (the
/// admin API cannot change them). Keys appear only as SHA-256 hashes.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CallerSettings {
    /// `[a-z0-9][a-z0-9_.-]{0,63}`; names the caller in logs, metrics, usage and audit.
    pub id: String,
    /// Lower-case hex SHA-256 of each accepted key (`vtenrich hash-key` prints it).
    pub key_sha256: Vec<String>,
    /// `admin` (also manages callers, reads the audit log) or `user` (default).
    #[serde(default)]
    pub role: Role,
    /// `service` (default) or `person`; informational.
    #[serde(default)]
    pub kind: CallerKind,
    /// `interactive` (default) or `bulk`: who waits first, and who stops at the reserve.
    #[serde(default)]
    pub priority: CallerPriority,
    /// VirusTotal calls per UTC day this caller may cause; absent: no own cap.
    #[serde(default)]
    pub daily_cap: Option<u64>,
    /// Free text for operators.
    #[serde(default)]
    pub description: Option<String>,
}

impl CallerSettings {
    /// The request-time record of this caller (its id was validated at start-up).
    pub fn profile(&self) -> Option<Profile> {
        Some(Profile {
            id: CallerId::parse(&self.id).ok()?,
            role: self.role,
            kind: self.kind,
            priority: self.priority,
            daily_cap: self.daily_cap,
        })
    }
}

/// What to do when Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisFailureMode {
    /// Each replica spends at most its share of the limits, and reports it back later.
    LocalShare,
    /// No upstream calls without Redis: cache and stale answers only.
    Closed,
}

/// How the Redis behind `VTENRICH_REDIS_URL` is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisMode {
    /// One node (or a managed endpoint that hides its replicas): one `redis://` or `rediss://` URL.
    #[default]
    Standalone,
    /// Redis Cluster: the URL is a comma list of seed nodes.
    Cluster,
    /// Sentinel: the URL is a comma list of sentinels, which name the master of
    /// `sentinel_master`.
    Sentinel,
}

/// Redis scale-out settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// `redis://` or `rediss://` URL, or a comma list of them (cluster seeds, sentinels);
    /// unset means single-node (`VTENRICH_REDIS_URL`). May hold a password.
    #[serde(serialize_with = "secret_state")]
    pub url: Option<SecretString>,
    /// `standalone`, `cluster` or `sentinel` (`VTENRICH_REDIS_MODE`, default `standalone`).
    pub mode: RedisMode,
    /// PEM file of the CA that signed the servers' certificates, for `rediss://`
    /// (`VTENRICH_REDIS_CA_FILE`; unset: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (`VTENRICH_REDIS_CLIENT_CERT_FILE`; with the key).
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate (`VTENRICH_REDIS_CLIENT_KEY_FILE`).
    pub client_key_file: Option<PathBuf>,
    /// The master set the sentinels watch, in sentinel mode (`VTENRICH_REDIS_SENTINEL_MASTER`).
    pub sentinel_master: Option<String>,
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
            mode: RedisMode::Standalone,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            sentinel_master: None,
            failure_mode: RedisFailureMode::LocalShare,
            expected_replicas: 1,
            namespace: "vtenrich".to_owned(),
            memory_ttl: Duration::from_secs(60),
        }
    }
}

/// VirusTotal access and the key's limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VirusTotalSettings {
    /// The API key (`VTENRICH_VT_API_KEY`); prefer `api_key_file` in production.
    #[serde(serialize_with = "secret_state")]
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
    /// How long past 60 s both quota gates keep a grant in the minute window, for network
    /// jitter between grant and arrival (`VTENRICH_VT_ARRIVAL_MARGIN`, default 1s).
    #[serde(with = "humantime_serde")]
    pub arrival_margin: Duration,
}

impl VirusTotalSettings {
    /// The client for this API, calling with `api_key`.
    pub fn client(&self, api_key: SecretString) -> anyhow::Result<VtClient> {
        VtClient::new(ClientSettings {
            base_url: self.base_url.clone(),
            api_key,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            max_body_bytes: self.max_body_bytes,
        })
    }

    /// The key's limits, keeping the last `reserve_interactive` calls of each day for
    /// interactive callers.
    pub fn limits(&self, reserve_interactive: u64) -> Limits {
        Limits {
            per_minute: self.rate_per_minute,
            per_day: self.daily_quota,
            per_month: self.monthly_quota,
            too_many_requests_backoff: self.too_many_requests_backoff,
            reserve_interactive,
        }
    }
}

/// Cache lifetimes and bound.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeferredSettings {
    /// Most distinct observables waiting for a background fill (`VTENRICH_DEFERRED_CAPACITY`, default 10,000).
    pub capacity: usize,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (production).
    Json,
    /// Human-readable lines.
    Text,
}

/// Logging settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `json` or `text` (`VTENRICH_LOG_FORMAT`; default text on a terminal, json otherwise).
    pub format: Option<LogFormat>,
    /// `RUST_LOG`-style filter (`VTENRICH_LOG`, default `info`).
    pub filter: String,
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
            arrival_margin: crate::quota::DEFAULT_ARRIVAL_MARGIN,
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

/// Secrets print as whether they are set, never as their value.
fn secret_state<S: Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if secret.is_some() { "<set>" } else { "<unset>" })
}

/// Audit log retention.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Most audit entries kept (`VTENRICH_AUDIT_MAX_ENTRIES`, default 100,000); entries older
    /// than 90 days go whatever this says.
    pub max_entries: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
        }
    }
}

/// The administrator's web console at `/console`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSettings {
    /// Serve `/console` and its sign-in routes (`VTENRICH_CONSOLE_ENABLED`, default true).
    pub enabled: bool,
    /// How long a console session lasts after sign-in, however active
    /// (`VTENRICH_CONSOLE_SESSION_TTL`, default 8h).
    #[serde(with = "humantime_serde")]
    pub session_ttl: std::time::Duration,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            session_ttl: std::time::Duration::from_secs(8 * 3600),
        }
    }
}

/// Proxies whose `X-Forwarded-For` is believed (CIDRs; a bare address is one host). Written
/// as a list in TOML or comma-separated (`VTENRICH_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Parses comma-separated CIDRs or addresses; the error names the first bad one.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::from_parts(text.split(',').map(str::trim).filter(|p| !p.is_empty()))
    }

    fn from_parts<'a>(parts: impl Iterator<Item = &'a str>) -> Result<Self, String> {
        parts
            .map(|part| {
                part.parse::<ipnet::IpNet>()
                    .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("{part:?} is not a CIDR such as 10.0.0.0/8 or an address"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `ip` is one of the proxies.
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        comma_joined(self.0.iter(), s)
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let parts = list_parts(d)?;
        Self::from_parts(parts.iter().map(String::as_str))
            .map_err(|e| serde::de::Error::custom(format!("trusted_proxies: {e}")))
    }
}

impl Serialize for PrivateSuffixes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        comma_joined(self.iter(), s)
    }
}

impl<'de> Deserialize<'de> for PrivateSuffixes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let parts = list_parts(d)?;
        Self::from_parts(parts.iter().map(String::as_str))
            .map_err(|e| serde::de::Error::custom(format!("private_suffixes: {e}")))
    }
}

/// A list setting as one comma-separated string, the form `vtenrich config` shows.
fn comma_joined<S: Serializer>(
    items: impl Iterator<Item = impl std::fmt::Display>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let parts: Vec<String> = items.map(|item| item.to_string()).collect();
    s.serialize_str(&parts.join(","))
}

/// The parts of a list setting written as a TOML list or as one comma-separated string (the
/// environment's form), trimmed.
fn list_parts<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Text(String),
        List(Vec<String>),
    }
    Ok(match Given::deserialize(d)? {
        Given::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        Given::List(list) => list.iter().map(|p| p.trim().to_owned()).collect(),
    })
}
