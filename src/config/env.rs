//! The `VTENRICH_*` environment variables and how each lands in the settings table.
//!
//! Each value is checked here, where the variable's name is known, so a bad value is reported
//! by the name the operator typed rather than by a TOML key they never wrote.

use super::ConfigError;

/// How an environment value is checked and stored.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    Duration,
    SocketAddr,
    Url,
}

/// Every supported variable, its place in the settings, and its kind.
const VARS: &[(&str, &str, Kind)] = &[
    ("VTENRICH_LISTEN", "listen", Kind::SocketAddr),
    ("VTENRICH_MAX_BATCH", "max_batch", Kind::Int),
    ("VTENRICH_BODY_LIMIT", "body_limit_bytes", Kind::Int),
    ("VTENRICH_DEFAULT_WAIT", "default_wait", Kind::Duration),
    ("VTENRICH_MAX_WAIT", "max_wait", Kind::Duration),
    ("VTENRICH_SWAGGER_UI", "swagger_ui", Kind::Bool),
    ("VTENRICH_VT_API_KEY", "virustotal.api_key", Kind::Str),
    (
        "VTENRICH_VT_API_KEY_FILE",
        "virustotal.api_key_file",
        Kind::Str,
    ),
    ("VTENRICH_VT_BASE_URL", "virustotal.base_url", Kind::Url),
    (
        "VTENRICH_VT_RATE_PER_MINUTE",
        "virustotal.rate_per_minute",
        Kind::Int,
    ),
    (
        "VTENRICH_VT_DAILY_QUOTA",
        "virustotal.daily_quota",
        Kind::Int,
    ),
    (
        "VTENRICH_VT_MONTHLY_QUOTA",
        "virustotal.monthly_quota",
        Kind::Int,
    ),
    (
        "VTENRICH_VT_CONNECT_TIMEOUT",
        "virustotal.connect_timeout",
        Kind::Duration,
    ),
    (
        "VTENRICH_VT_TIMEOUT",
        "virustotal.request_timeout",
        Kind::Duration,
    ),
    (
        "VTENRICH_VT_MAX_BODY",
        "virustotal.max_body_bytes",
        Kind::Int,
    ),
    (
        "VTENRICH_VT_MAX_RETRIES",
        "virustotal.max_retries",
        Kind::Int,
    ),
    (
        "VTENRICH_VT_TOO_MANY_REQUESTS_BACKOFF",
        "virustotal.too_many_requests_backoff",
        Kind::Duration,
    ),
    ("VTENRICH_VT_USER_ID", "virustotal.user_id", Kind::Str),
    (
        "VTENRICH_VT_QUOTA_SYNC_INTERVAL",
        "virustotal.quota_sync_interval",
        Kind::Duration,
    ),
    ("VTENRICH_CACHE_TTL", "cache.ttl", Kind::Duration),
    (
        "VTENRICH_CACHE_NOT_FOUND_TTL",
        "cache.not_found_ttl",
        Kind::Duration,
    ),
    (
        "VTENRICH_CACHE_STALE_FOR",
        "cache.stale_for",
        Kind::Duration,
    ),
    ("VTENRICH_CACHE_MAX_ENTRIES", "cache.max_entries", Kind::Int),
    ("VTENRICH_DEFERRED_CAPACITY", "deferred.capacity", Kind::Int),
    (
        "VTENRICH_VERDICT_MALICIOUS_MIN",
        "verdict.malicious_min",
        Kind::Int,
    ),
    (
        "VTENRICH_VERDICT_SUSPICIOUS_MIN",
        "verdict.suspicious_min",
        Kind::Int,
    ),
    ("VTENRICH_LOG_FORMAT", "log.format", Kind::Str),
    ("VTENRICH_LOG", "log.filter", Kind::Str),
    ("VTENRICH_DRAIN_DELAY", "drain_delay", Kind::Duration),
    (
        "VTENRICH_REQUEST_TIMEOUT",
        "request_timeout",
        Kind::Duration,
    ),
    (
        "VTENRICH_MAX_CONCURRENT_UPSTREAM",
        "max_concurrent_upstream",
        Kind::Int,
    ),
    (
        "VTENRICH_HEADER_READ_TIMEOUT",
        "header_read_timeout",
        Kind::Duration,
    ),
    ("VTENRICH_IDLE_TIMEOUT", "idle_timeout", Kind::Duration),
    ("VTENRICH_MAX_HEADER_BYTES", "max_header_bytes", Kind::Int),
    ("VTENRICH_MAX_CONNECTIONS", "max_connections", Kind::Int),
    ("VTENRICH_DATA_DIR", "data_dir", Kind::Str),
    ("VTENRICH_STORE_MAX_ENTRIES", "store.max_entries", Kind::Int),
    (
        "VTENRICH_STORE_PURGE_INTERVAL",
        "store.purge_interval",
        Kind::Duration,
    ),
    ("VTENRICH_METRICS_OPEN", "metrics_open", Kind::Bool),
    ("VTENRICH_REDIS_URL", "redis.url", Kind::Str),
    (
        "VTENRICH_REDIS_FAILURE_MODE",
        "redis.failure_mode",
        Kind::Str,
    ),
    (
        "VTENRICH_EXPECTED_REPLICAS",
        "redis.expected_replicas",
        Kind::Int,
    ),
    ("VTENRICH_REDIS_NAMESPACE", "redis.namespace", Kind::Str),
    (
        "VTENRICH_REDIS_MEMORY_TTL",
        "redis.memory_ttl",
        Kind::Duration,
    ),
];

/// Names of all supported environment variables (for docs and tests).
pub const ENV_VARS: &[&str] = &{
    let mut names = [""; VARS.len()];
    let mut i = 0;
    while i < VARS.len() {
        names[i] = VARS[i].0;
        i += 1;
    }
    names
};

/// Writes every set variable into `table`, over what the file said.
pub(super) fn overlay(
    table: &mut toml::Table,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for (name, path, kind) in VARS {
        let Some(raw) = env(name) else { continue };
        let value = convert(name, raw.trim(), *kind)?;
        insert(table, path, value, name)?;
    }
    Ok(())
}

fn convert(name: &str, raw: &str, kind: Kind) -> Result<toml::Value, ConfigError> {
    let bad = |what: &str| ConfigError(format!("{name}={raw:?} is not {what}"));
    Ok(match kind {
        Kind::Str => toml::Value::String(raw.to_owned()),
        Kind::Int => toml::Value::Integer(
            raw.replace('_', "")
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| bad("a non-negative whole number"))?,
        ),
        Kind::Bool => toml::Value::Boolean(match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(bad("true or false")),
        }),
        Kind::Duration => {
            humantime::parse_duration(raw)
                .map_err(|_| bad("a duration such as 90s, 15m, 24h or 7d"))?;
            toml::Value::String(raw.to_owned())
        }
        Kind::SocketAddr => {
            raw.parse::<std::net::SocketAddr>()
                .map_err(|_| bad("an address such as 127.0.0.1:8080 or [::]:8080"))?;
            toml::Value::String(raw.to_owned())
        }
        Kind::Url => {
            url::Url::parse(raw).map_err(|_| bad("a URL"))?;
            toml::Value::String(raw.to_owned())
        }
    })
}

fn insert(
    table: &mut toml::Table,
    path: &str,
    value: toml::Value,
    name: &str,
) -> Result<(), ConfigError> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let leaf = parts.pop().unwrap_or(path);
    let mut node = table;
    for part in parts {
        node = node
            .entry(part)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| {
                ConfigError(format!("{name}: the config file's `{part}` is not a table"))
            })?;
    }
    node.insert(leaf.to_owned(), value);
    Ok(())
}
