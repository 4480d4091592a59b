//! The rules settings must satisfy together, checked once at start-up (and by
//! `vtenrich config --check`). Every broken rule is reported, not just the first, each naming
//! its settings as the operator wrote them (variable, TOML key in a file, or flag).

use super::Settings;

/// Keys published in the project's documentation and examples. A caller accepting one of them
/// accepts anyone who has read the README, so start-up refuses it.
pub const EXAMPLE_CALLER_KEYS: &[&str] = &["example-caller-key-change-me"];

impl Settings {
    /// Every rule this configuration breaks; empty when it is valid.
    pub(super) fn problems(&self) -> Vec<String> {
        let n = |key: &str| self.origins.name(key);
        let mut problems = Vec::new();
        let mut rule = |broken: bool, message: String| {
            if broken {
                problems.push(message);
            }
        };
        let vt = &self.virustotal;
        for (key, value) in [
            ("virustotal.rate_per_minute", u64::from(vt.rate_per_minute)),
            ("virustotal.daily_quota", vt.daily_quota),
            ("virustotal.monthly_quota", vt.monthly_quota),
            ("cache.max_entries", self.cache.max_entries),
            ("deferred.capacity", self.deferred.capacity as u64),
            ("max_connections", self.max_connections as u64),
            (
                "max_concurrent_upstream",
                self.max_concurrent_upstream as u64,
            ),
            ("audit.max_entries", self.audit.max_entries),
            (
                "redis.expected_replicas",
                u64::from(self.redis.expected_replicas),
            ),
        ] {
            rule(value == 0, format!("{} must be at least 1", n(key)));
        }
        rule(
            !matches!(vt.base_url.scheme(), "http" | "https"),
            format!("{} must be an http or https URL", n("virustotal.base_url")),
        );
        for (key, zero) in [
            ("virustotal.request_timeout", vt.request_timeout.is_zero()),
            ("virustotal.connect_timeout", vt.connect_timeout.is_zero()),
            ("cache.ttl", self.cache.ttl.is_zero()),
            ("cache.not_found_ttl", self.cache.not_found_ttl.is_zero()),
            ("header_read_timeout", self.header_read_timeout.is_zero()),
            ("console.session_ttl", self.console.session_ttl.is_zero()),
        ] {
            rule(zero, format!("{} must be above zero", n(key)));
        }
        rule(
            self.max_batch == 0 || self.max_batch > 100_000,
            format!("{} must be between 1 and 100000", n("max_batch")),
        );
        rule(
            self.body_limit_bytes < 1024,
            format!("{} must be at least 1024", n("body_limit_bytes")),
        );
        rule(
            self.max_header_bytes < 1024,
            format!("{} must be at least 1024", n("max_header_bytes")),
        );
        rule(
            self.default_wait > self.max_wait,
            format!("{} must not exceed {}", n("default_wait"), n("max_wait")),
        );
        rule(
            self.request_timeout <= self.max_wait + vt.request_timeout,
            format!(
                "{} must exceed {} plus {}, or waiting requests would be cut off",
                n("request_timeout"),
                n("max_wait"),
                n("virustotal.request_timeout")
            ),
        );
        rule(
            self.idle_timeout <= self.request_timeout,
            format!(
                "{} must exceed {}, or clients waiting for an answer would be cut off",
                n("idle_timeout"),
                n("request_timeout")
            ),
        );
        rule(
            self.reserve_interactive() >= vt.daily_quota,
            format!(
                "{} must be below {}, or bulk callers could never call",
                n("reserve_interactive"),
                n("virustotal.daily_quota")
            ),
        );
        rule(
            vt.api_key.is_some() && vt.api_key_file.is_some(),
            format!(
                "set only one of {} and {}",
                n("virustotal.api_key"),
                n("virustotal.api_key_file")
            ),
        );
        problems.extend(self.caller_problems());
        problems
    }

    fn caller_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let examples: Vec<(String, &str)> = EXAMPLE_CALLER_KEYS
            .iter()
            .map(|key| (crate::callers::hash_key(key), *key))
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for caller in &self.callers {
            if let Err(err) = crate::caller::CallerId::parse(&caller.id) {
                problems.push(format!("callers.id: {err}"));
            }
            if !seen.insert(caller.id.as_str()) {
                problems.push(format!("callers.id {:?} appears twice", caller.id));
            }
            if caller.daily_cap == Some(0) {
                problems.push(format!(
                    "callers.daily_cap of caller {:?} must be at least 1 (leave it out for no cap)",
                    caller.id
                ));
            }
            let malformed = caller.key_sha256.is_empty()
                || caller
                    .key_sha256
                    .iter()
                    .any(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()));
            if malformed {
                problems.push(format!(
                    "callers.key_sha256 of caller {:?} must list 64-character hex SHA-256 \
                     hashes (`vtenrich hash-key` prints one)",
                    caller.id
                ));
            }
            for hash in &caller.key_sha256 {
                if let Some((_, key)) = examples.iter().find(|(h, _)| h.eq_ignore_ascii_case(hash))
                {
                    problems.push(format!(
                        "caller {:?} accepts the published example key {key:?}, which anyone \
                         can read in the documentation; make a real one \
                         (KEY=$(openssl rand -hex 32)) and put the output of \
                         `printf %s \"$KEY\" | vtenrich hash-key` in its key_sha256",
                        caller.id
                    ));
                }
            }
        }
        problems
    }
}
