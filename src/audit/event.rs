//! One audit entry and the filter that selects entries.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Actions vtenrich records. Callers of [`AuditLog::record`](super::AuditLog::record) name
/// one of these, so the set an operator can filter on is written down in one place.
pub mod actions {
    /// Requests with a missing or wrong key from one address, aggregated per minute.
    pub const AUTH_FAILED: &str = "auth.failed";
    /// VirusTotal answered 429 QuotaExceededError: no calls until the block ends.
    pub const QUOTA_BLOCKED: &str = "quota.blocked";
    /// The QuotaExceeded block ended.
    pub const QUOTA_UNBLOCKED: &str = "quota.unblocked";
    /// A caller's daily cap refused its first VirusTotal call of the day (once per caller per
    /// UTC day, fleet-wide).
    pub const CALLER_CAP_EXHAUSTED: &str = "caller.cap_exhausted";
    /// An admin purged observables from every cache tier.
    pub const CACHE_PURGED: &str = "cache.purged";
    /// The service started (version, settings changed since the last start).
    pub const SERVICE_STARTED: &str = "service.started";
    /// The service stopped.
    pub const SERVICE_STOPPED: &str = "service.stopped";
}

/// The actor of entries the service itself causes.
pub const SYSTEM: &str = "system";

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Opaque, unique, assigned when the entry is stored; later entries sort after earlier ones.
    pub id: String,
    /// When it happened (UTC, RFC 3339).
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-10T12:00:00Z")]
    pub timestamp: DateTime<Utc>,
    /// A caller id, `system` (the service itself) or `config` (the configuration file).
    #[schema(example = "soc-admin")]
    pub actor: String,
    /// The peer address of the request (`X-Forwarded-For` only from a trusted proxy); null
    /// for the service's own events.
    #[schema(example = "192.0.2.10")]
    pub source_ip: Option<String>,
    /// What happened, e.g. `cache.purged`, `auth.failed`, `caller.updated`.
    #[schema(example = "cache.purged")]
    pub action: String,
    /// The kind of thing acted on, e.g. `observables`, `caller`, `quota`, `service`.
    pub target_type: Option<String>,
    /// Which one.
    pub target_id: Option<String>,
    /// Anything else worth keeping (counts, before/after of a change); never keys or bodies.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl Event {
    /// An entry of `action` by `actor` at `timestamp`, with nothing else said yet.
    pub fn new(timestamp: DateTime<Utc>, actor: &str, action: &str) -> Self {
        Self {
            id: String::new(),
            timestamp,
            actor: actor.to_owned(),
            source_ip: None,
            action: action.to_owned(),
            target_type: None,
            target_id: None,
            details: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// The same entry, about `target_type` `target_id`.
    pub fn target(mut self, target_type: &str, target_id: impl Into<String>) -> Self {
        self.target_type = Some(target_type.to_owned());
        self.target_id = Some(target_id.into());
        self
    }

    /// The same entry, from `source_ip`.
    pub fn from_ip(mut self, source_ip: Option<std::net::IpAddr>) -> Self {
        self.source_ip = source_ip.map(|ip| ip.to_string());
        self
    }

    /// The same entry, with `details`.
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Which entries a query returns; every field set must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// At or before.
    pub to: Option<DateTime<Utc>>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
}

impl Filter {
    /// Whether `event` is selected.
    pub fn matches(&self, event: &Event) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|want| have == Some(want))
        };
        self.from.is_none_or(|from| event.timestamp >= from)
            && self.to.is_none_or(|to| event.timestamp <= to)
            && same(&self.actor, Some(&event.actor))
            && same(&self.action, Some(&event.action))
            && same(&self.target_type, event.target_type.as_deref())
            && same(&self.target_id, event.target_id.as_deref())
    }
}

/// Timestamps as RFC 3339 in UTC with a `Z` and no more precision than milliseconds.
mod rfc3339 {
    use super::*;

    pub fn serialize<S: serde::Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.to_utc())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn a_filter_selects_by_every_field_it_sets_and_ignores_the_others() {
        let event = Event::new(at("2026-11-10T12:00:00Z"), "admin", "cache.purged")
            .target("observables", "8.8.8.8");

        assert!(Filter::default().matches(&event));
        assert!(
            Filter {
                actor: Some("admin".into()),
                target_id: Some("8.8.8.8".into()),
                from: Some(at("2026-11-10T12:00:00Z")),
                to: Some(at("2026-11-10T12:00:00Z")),
                ..Filter::default()
            }
            .matches(&event)
        );
        for miss in [
            Filter {
                actor: Some("other".into()),
                ..Filter::default()
            },
            Filter {
                action: Some("auth.failed".into()),
                ..Filter::default()
            },
            Filter {
                target_type: Some("caller".into()),
                ..Filter::default()
            },
            Filter {
                from: Some(at("2026-11-10T12:00:01Z")),
                ..Filter::default()
            },
            Filter {
                to: Some(at("2026-11-10T11:59:59Z")),
                ..Filter::default()
            },
        ] {
            assert!(!miss.matches(&event), "{miss:?}");
        }
    }

    #[test]
    fn an_entry_survives_its_stored_form() {
        let event = Event::new(at("2026-11-10T12:00:00.123Z"), "system", "service.started")
            .details(serde_json::json!({"version": "0.1.0"}));

        let text = serde_json::to_string(&event).unwrap();

        assert!(text.contains("\"2026-11-10T12:00:00.123Z\""), "{text}");
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), event);
    }
}
