//! The one list of settings: each `VTENRICH_*` variable, its TOML key, how its value is read,
//! whether it is a secret, and its command-line flag.
//!
//! The environment parser, `vtenrich config` and the documentation tests all read this list,
//! so a setting cannot be documented without being read, or read without being documented
//! (tests prove the README's table, the example file and the `Settings` fields agree with it).

/// How a value given as text (environment, flag) is checked before it lands in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text.
    Str,
    /// A non-negative whole number (`_` separators allowed).
    Int,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// A duration such as `90s`, `15m`, `24h`, `7d`.
    Duration,
    /// `host:port` with a literal address.
    SocketAddr,
    /// An absolute URL.
    Url,
    /// One of a closed set of words.
    Choice(&'static [&'static str]),
    /// Comma-separated CIDRs (or addresses).
    Cidrs,
    /// Comma-separated domain names.
    Names,
}

/// One setting.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The environment variable.
    pub var: &'static str,
    /// The TOML key, dotted for sections (`virustotal.rate_per_minute`).
    pub key: &'static str,
    /// How its text is checked.
    pub kind: Kind,
    /// Shown as `<set>`/`<unset>`, never as its value.
    pub secret: bool,
    /// The command-line flag that sets it, if any.
    pub flag: Option<&'static str>,
}

const fn plain(var: &'static str, key: &'static str, kind: Kind) -> Setting {
    Setting {
        var,
        key,
        kind,
        secret: false,
        flag: None,
    }
}

const fn secret(var: &'static str, key: &'static str) -> Setting {
    Setting {
        secret: true,
        ..plain(var, key, Kind::Str)
    }
}

use Kind::{Bool, Choice, Cidrs, Duration, Int, Names, SocketAddr, Str, Url};

/// Every setting, in the order `vtenrich config` prints them (top level first, then sections).
pub const SETTINGS: &[Setting] = &[
    Setting {
        flag: Some("--listen"),
        ..plain("VTENRICH_LISTEN", "listen", SocketAddr)
    },
    plain("VTENRICH_MISP_LISTEN", "misp_listen", SocketAddr),
    plain("VTENRICH_MAX_BATCH", "max_batch", Int),
    plain("VTENRICH_BODY_LIMIT", "body_limit_bytes", Int),
    plain("VTENRICH_DEFAULT_WAIT", "default_wait", Duration),
    plain("VTENRICH_MAX_WAIT", "max_wait", Duration),
    plain("VTENRICH_REQUEST_TIMEOUT", "request_timeout", Duration),
    plain(
        "VTENRICH_HEADER_READ_TIMEOUT",
        "header_read_timeout",
        Duration,
    ),
    plain("VTENRICH_IDLE_TIMEOUT", "idle_timeout", Duration),
    plain("VTENRICH_MAX_HEADER_BYTES", "max_header_bytes", Int),
    plain("VTENRICH_MAX_CONNECTIONS", "max_connections", Int),
    plain(
        "VTENRICH_MAX_CONCURRENT_UPSTREAM",
        "max_concurrent_upstream",
        Int,
    ),
    plain("VTENRICH_RESERVE_INTERACTIVE", "reserve_interactive", Int),
    plain("VTENRICH_DRAIN_DELAY", "drain_delay", Duration),
    plain("VTENRICH_SWAGGER_UI", "swagger_ui", Bool),
    plain("VTENRICH_METRICS_OPEN", "metrics_open", Bool),
    plain("VTENRICH_DATA_DIR", "data_dir", Str),
    plain("VTENRICH_TRUSTED_PROXIES", "trusted_proxies", Cidrs),
    plain("VTENRICH_PRIVATE_SUFFIXES", "private_suffixes", Names),
    secret("VTENRICH_VT_API_KEY", "virustotal.api_key"),
    plain("VTENRICH_VT_API_KEY_FILE", "virustotal.api_key_file", Str),
    plain("VTENRICH_VT_BASE_URL", "virustotal.base_url", Url),
    plain(
        "VTENRICH_VT_RATE_PER_MINUTE",
        "virustotal.rate_per_minute",
        Int,
    ),
    plain("VTENRICH_VT_DAILY_QUOTA", "virustotal.daily_quota", Int),
    plain("VTENRICH_VT_MONTHLY_QUOTA", "virustotal.monthly_quota", Int),
    plain(
        "VTENRICH_VT_CONNECT_TIMEOUT",
        "virustotal.connect_timeout",
        Duration,
    ),
    plain(
        "VTENRICH_VT_TIMEOUT",
        "virustotal.request_timeout",
        Duration,
    ),
    plain("VTENRICH_VT_MAX_BODY", "virustotal.max_body_bytes", Int),
    plain("VTENRICH_VT_MAX_RETRIES", "virustotal.max_retries", Int),
    plain(
        "VTENRICH_VT_TOO_MANY_REQUESTS_BACKOFF",
        "virustotal.too_many_requests_backoff",
        Duration,
    ),
    plain("VTENRICH_VT_USER_ID", "virustotal.user_id", Str),
    plain(
        "VTENRICH_VT_QUOTA_SYNC_INTERVAL",
        "virustotal.quota_sync_interval",
        Duration,
    ),
    plain(
        "VTENRICH_VT_ARRIVAL_MARGIN",
        "virustotal.arrival_margin",
        Duration,
    ),
    plain("VTENRICH_CACHE_TTL", "cache.ttl", Duration),
    plain(
        "VTENRICH_CACHE_NOT_FOUND_TTL",
        "cache.not_found_ttl",
        Duration,
    ),
    plain("VTENRICH_CACHE_STALE_FOR", "cache.stale_for", Duration),
    plain("VTENRICH_CACHE_MAX_ENTRIES", "cache.max_entries", Int),
    plain("VTENRICH_STORE_MAX_ENTRIES", "store.max_entries", Int),
    plain(
        "VTENRICH_STORE_PURGE_INTERVAL",
        "store.purge_interval",
        Duration,
    ),
    plain("VTENRICH_DEFERRED_CAPACITY", "deferred.capacity", Int),
    plain(
        "VTENRICH_VERDICT_MALICIOUS_MIN",
        "verdict.malicious_min",
        Int,
    ),
    plain(
        "VTENRICH_VERDICT_SUSPICIOUS_MIN",
        "verdict.suspicious_min",
        Int,
    ),
    plain(
        "VTENRICH_LOG_FORMAT",
        "log.format",
        Choice(&["json", "text"]),
    ),
    plain("VTENRICH_LOG", "log.filter", Str),
    secret("VTENRICH_REDIS_URL", "redis.url"),
    plain(
        "VTENRICH_REDIS_FAILURE_MODE",
        "redis.failure_mode",
        Choice(&["local_share", "closed"]),
    ),
    plain(
        "VTENRICH_REDIS_MODE",
        "redis.mode",
        Choice(&["standalone", "cluster", "sentinel"]),
    ),
    plain("VTENRICH_REDIS_CA_FILE", "redis.ca_file", Str),
    plain(
        "VTENRICH_REDIS_CLIENT_CERT_FILE",
        "redis.client_cert_file",
        Str,
    ),
    plain(
        "VTENRICH_REDIS_CLIENT_KEY_FILE",
        "redis.client_key_file",
        Str,
    ),
    plain(
        "VTENRICH_REDIS_SENTINEL_MASTER",
        "redis.sentinel_master",
        Str,
    ),
    plain("VTENRICH_EXPECTED_REPLICAS", "redis.expected_replicas", Int),
    plain("VTENRICH_REDIS_NAMESPACE", "redis.namespace", Str),
    plain("VTENRICH_REDIS_MEMORY_TTL", "redis.memory_ttl", Duration),
    plain("VTENRICH_AUDIT_MAX_ENTRIES", "audit.max_entries", Int),
    plain("VTENRICH_CONSOLE_ENABLED", "console.enabled", Bool),
    plain(
        "VTENRICH_CONSOLE_SESSION_TTL",
        "console.session_ttl",
        Duration,
    ),
];

/// The setting read from `var`.
pub fn by_var(var: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.var == var)
}

/// The setting stored at `key`.
pub fn by_key(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// Names of all setting variables (for docs and tests).
pub fn vars() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().map(|s| s.var)
}
