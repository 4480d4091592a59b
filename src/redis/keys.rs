//! Redis key names of one VirusTotal account, all under one Redis Cluster hash tag.
//!
//! Why one tag for everything, cache entries included: the quota script touches several keys
//! atomically and a batch's misses are read with one `MGET`, and both need their keys in one
//! slot. One account's cache is small (a few hundred bytes per address), so one slot holds it.

use chrono::{Datelike, NaiveDate};

use crate::observable::Observable;

/// Names the keys of one account (`{<namespace>}:...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    tag: String,
}

/// The namespace cannot form a hash tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("VTENRICH_REDIS_NAMESPACE must be non-empty and contain no '{{' or '}}'")]
pub struct BadNamespace;

impl Keys {
    /// Keys under `{namespace}`.
    pub fn new(namespace: &str) -> Result<Self, BadNamespace> {
        if namespace.is_empty() || namespace.contains(['{', '}']) {
            return Err(BadNamespace);
        }
        Ok(Self {
            tag: format!("{{{namespace}}}"),
        })
    }

    /// The hash tag itself, `{namespace}`.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Sorted set of the grant times of the last minute.
    pub fn minute(&self) -> String {
        format!("{}:minute", self.tag)
    }

    /// Calls counted on the UTC day `date`.
    pub fn day(&self, date: NaiveDate) -> String {
        format!("{}:day:{}", self.tag, day_text(date))
    }

    /// Calls counted in the UTC month of `date`.
    pub fn month(&self, date: NaiveDate) -> String {
        format!("{}:month:{}", self.tag, month_text(date))
    }

    /// The shared "blocked by VirusTotal" flag.
    pub fn blocked(&self) -> String {
        format!("{}:blocked", self.tag)
    }

    /// Marks one batch of offline spends as added, so a retried flush adds nothing.
    pub fn flush(&self, batch: &str) -> String {
        format!("{}:flush:{batch}", self.tag)
    }

    /// Marks one refund as applied, so a retried refund gives nothing back twice.
    pub fn refund(&self, id: &str) -> String {
        format!("{}:refund:{id}", self.tag)
    }

    /// VirusTotal calls caller `id` started on the UTC day `date` (the caller's cap).
    pub fn caller_day(&self, id: &crate::caller::CallerId, date: NaiveDate) -> String {
        format!("{}:caller:{id}:day:{}", self.tag, day_text(date))
    }

    /// Hash of the usage counts of the UTC day `date` (`caller|route|endpoint|counter` →
    /// count).
    pub fn usage_day(&self, date: NaiveDate) -> String {
        format!("{}:usage:{}", self.tag, day_text(date))
    }

    /// Marks a once-per-period audit entry (`caller.cap_exhausted`) as recorded.
    pub fn audit_once(&self, name: &str) -> String {
        format!("{}:audit-once:{name}", self.tag)
    }

    /// The fleet-wide fetch lock of `observable`.
    pub fn lock(&self, observable: &Observable) -> String {
        format!("{}:lock:{}:{observable}", self.tag, observable.kind())
    }

    /// Hash of the runtime callers: caller id → stored record (key hashes only).
    pub fn callers(&self) -> String {
        format!("{}:callers", self.tag)
    }

    /// Counter bumped with every change to [`Keys::callers`], which replicas poll.
    pub fn callers_version(&self) -> String {
        format!("{}:callers:version", self.tag)
    }

    /// The cached answer for `observable`: `{tag}:{type}:{canonical form}`, so an address
    /// keeps the key (`{tag}:ip:{ip}`) it had before the other types were served.
    pub fn entry(&self, observable: &Observable) -> String {
        format!("{}:{}:{observable}", self.tag, observable.kind())
    }
}

/// `YYYY-MM-DD`, as the quota script names days.
pub fn day_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// `YYYY-MM`, as the quota script names months.
pub fn month_text(date: NaiveDate) -> String {
    format!("{:04}-{:02}", date.year(), date.month())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_carries_the_namespace_hash_tag() {
        let keys = Keys::new("acct").unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let ip = Observable::infer("2001:db8::1").unwrap();

        let all = [
            keys.minute(),
            keys.day(date),
            keys.month(date),
            keys.blocked(),
            keys.flush("x"),
            keys.refund("x"),
            keys.lock(&ip),
            keys.entry(&ip),
            keys.callers(),
            keys.callers_version(),
            keys.caller_day(&crate::caller::CallerId::parse("soar").unwrap(), date),
            keys.usage_day(date),
            keys.audit_once("x"),
        ];

        for key in &all {
            assert!(key.starts_with("{acct}:"), "{key}");
        }
        assert_eq!(keys.day(date), "{acct}:day:2026-01-05");
        // An address keeps the key the IP-only version wrote, so its entries are read.
        assert_eq!(keys.entry(&ip), "{acct}:ip:2001:db8::1");
        assert_eq!(
            keys.entry(&Observable::infer("Example.COM").unwrap()),
            "{acct}:domain:example.com"
        );
        assert_eq!(keys.month(date), "{acct}:month:2026-01");
        assert_eq!(all[10], "{acct}:caller:soar:day:2026-01-05");
        assert_eq!(all[11], "{acct}:usage:2026-01-05");
    }

    #[test]
    fn a_namespace_that_breaks_the_hash_tag_is_refused() {
        for bad in ["", "a{b", "a}b"] {
            assert_eq!(Keys::new(bad), Err(BadNamespace));
        }
    }
}
