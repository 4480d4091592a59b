//! Typed settings: defaults, then a TOML file, then `VTENRICH_*` environment variables, then
//! command-line flags.
//!
//! Everything is validated once at start-up; invalid values stop the process with every problem
//! listed, each naming the setting as the operator wrote it. The VirusTotal key is a
//! [`SecretString`] and is exposed only where the request header is written. [`catalog`] is the
//! one list of settings that the parser, `vtenrich config` and the documentation tests share.

pub mod catalog;
mod env;
mod origin;
mod report;
mod sections;
mod sources;
mod validate;

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use origin::{Origin, Origins};
pub use report::render;
pub use sections::{
    AuditSettings, CacheSettings, CallerSettings, ConsoleSettings, DataDir, DeferredSettings,
    LogFormat, LogSettings, RedisFailureMode, RedisMode, RedisSettings, StoreSettings,
    TrustedProxies, VirusTotalSettings,
};
pub use sources::{Flags, Sources};
pub use validate::EXAMPLE_CALLER_KEYS;

use crate::observable::PrivateSuffixes;
use crate::quota::Limits;
use crate::report::VerdictPolicy;

/// All settings of the service.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to listen on (`VTENRICH_LISTEN`, default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// A second address serving only the misp-modules routes (`/modules`, `/query`), so MISP
    /// can be pointed at it without reaching the rest of the API (`VTENRICH_MISP_LISTEN`, e.g.
    /// `0.0.0.0:6666`, misp-modules' own port; default unset: no second listener).
    pub misp_listen: Option<SocketAddr>,
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
    /// VirusTotal calls per UTC day kept for interactive callers: bulk callers cannot spend
    /// the last ones (`VTENRICH_RESERVE_INTERACTIVE`; default 10% of the daily quota).
    pub reserve_interactive: Option<u64>,
    /// Whether `/metrics` is reachable without a caller key (`VTENRICH_METRICS_OPEN`, default true).
    pub metrics_open: bool,
    /// Shared quota and cache through Redis (scale-out).
    pub redis: RedisSettings,
    /// Proxies whose `X-Forwarded-For` names the source address the audit log records
    /// (`VTENRICH_TRUSTED_PROXIES`, comma-separated CIDRs; default none).
    pub trusted_proxies: TrustedProxies,
    /// The operator's own domains (`VTENRICH_PRIVATE_SUFFIXES`, comma-separated; default none):
    /// names under them, and URLs whose host is under them, are never sent to VirusTotal.
    pub private_suffixes: PrivateSuffixes,
    /// Audit log retention.
    pub audit: AuditSettings,
    /// The web console.
    pub console: ConsoleSettings,
    /// Where each value came from (for messages and `vtenrich config`).
    #[serde(skip)]
    pub origins: Origins,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            misp_listen: None,
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
            data_dir: DataDir::Path("data".into()),
            store: StoreSettings::default(),
            callers: Vec::new(),
            reserve_interactive: None,
            metrics_open: true,
            redis: RedisSettings::default(),
            trusted_proxies: TrustedProxies::default(),
            private_suffixes: PrivateSuffixes::default(),
            audit: AuditSettings::default(),
            console: ConsoleSettings::default(),
            origins: Origins::default(),
        }
    }
}

/// Settings that could not be accepted: every problem found, each naming its setting.
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl ConfigError {
    fn one(problem: impl Into<String>) -> Self {
        Self(vec![problem.into()])
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "invalid configuration: {one}"),
            many => {
                write!(f, "invalid configuration ({} problems):", many.len())?;
                many.iter().try_for_each(|p| write!(f, "\n  - {p}"))
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Settings {
    /// Defaults, then the file, then the environment, then flags, as `sources` gives them;
    /// validated, with each value's origin recorded.
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let mut origins = Origins::new(sources.file.clone());
        let mut table = sources.file_table(&mut origins, &mut problems);
        env::overlay(&mut table, &sources.env, &mut origins, &mut problems);
        sources.flags.overlay(&mut table, &mut origins);
        problems.extend(sources.unreadable_env.iter().cloned());
        let mut settings: Settings = match table.try_into() {
            Ok(settings) => settings,
            Err(e) => {
                let e: toml::de::Error = e;
                problems.push(format!("{} (in the merged settings)", e.message().trim()));
                return Err(ConfigError(problems));
            }
        };
        settings.origins = origins;
        problems.extend(settings.problems());
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError(problems))
        }
    }

    /// Calls per UTC day kept for interactive callers (the setting, else 10% of the daily
    /// quota).
    pub fn reserve_interactive(&self) -> u64 {
        self.reserve_interactive
            .unwrap_or(self.virustotal.daily_quota / 10)
    }

    /// The key's limits, the interactive reserve included.
    pub fn limits(&self) -> Limits {
        self.virustotal.limits(self.reserve_interactive())
    }

    /// The VirusTotal key from `api_key` or `api_key_file`; `serve` refuses to start without
    /// one. Errors name the source actually used (variable or TOML key).
    pub fn api_key(&self) -> Result<SecretString, ConfigError> {
        let vt = &self.virustotal;
        if let Some(key) = &vt.api_key {
            return non_empty(
                key.expose_secret(),
                &self.origins.name("virustotal.api_key"),
            );
        }
        if let Some(path) = &vt.api_key_file {
            let name = self.origins.name("virustotal.api_key_file");
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::one(format!(
                    "{name}: cannot read {}: {}",
                    path.display(),
                    e.kind()
                ))
            })?;
            return non_empty(&text, &name);
        }
        Err(ConfigError::one(
            "no VirusTotal API key: set VTENRICH_VT_API_KEY, or VTENRICH_VT_API_KEY_FILE to a file \
             holding it (or virustotal.api_key_file in the config file); `vtenrich demo` runs \
             without a key against the built-in simulator",
        ))
    }
}

fn non_empty(raw: &str, name: &str) -> Result<SecretString, ConfigError> {
    let key = raw.trim();
    if key.is_empty() {
        return Err(ConfigError::one(format!("{name} is empty")));
    }
    if key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ConfigError::one(format!(
            "{name} holds whitespace or control characters inside the key"
        )));
    }
    Ok(SecretString::from(key.to_owned()))
}

#[cfg(test)]
mod tests;
