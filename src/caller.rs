//! Who is asking: the caller that authentication identified, carried with each request into
//! the enrichment path so that charging, caps, priority, usage and audit all read one record.
//!
//! With no callers configured (the demo, a laptop) every request comes from one implicit
//! caller, `anonymous`.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::usage::Route;

/// A caller id: `[a-z0-9][a-z0-9_.-]{0,63}`. Safe as a metric label, a log field, a Redis key
/// part and a CSV cell, because nothing else gets through.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallerId(Arc<str>);

/// A string that is not a caller id; the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidCallerId(String);

impl CallerId {
    /// Longest id, in characters.
    pub const MAX_LEN: usize = 64;

    /// Parses an id as given in the configuration or the admin API.
    pub fn parse(text: &str) -> Result<Self, InvalidCallerId> {
        let bytes = text.as_bytes();
        let first_ok = bytes
            .first()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let rest_ok = bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(b));
        if !first_ok || !rest_ok || bytes.len() > Self::MAX_LEN {
            return Err(InvalidCallerId(format!(
                "{text:?} is not a caller id: 1 to {} characters of a-z, 0-9, `_`, `.`, `-`, \
                 starting with a letter or digit",
                Self::MAX_LEN
            )));
        }
        Ok(Self(Arc::from(text)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for CallerId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CallerId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        CallerId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What a caller may do: admins also manage callers and read the audit log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages callers, reads everyone's usage and the audit log.
    Admin,
    /// Enriches; sees its own usage.
    #[default]
    User,
}

/// Informational, as VirusTotal's service accounts: automation or a person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallerKind {
    /// A workflow, webhook or playbook.
    #[default]
    Service,
    /// An analyst.
    Person,
}

/// Who goes first when callers wait for a quota slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallerPriority {
    /// Someone is waiting for the answer; also keeps the day's reserve.
    #[default]
    Interactive,
    /// Bulk enrichment; waits behind interactive callers and stops at the reserve.
    Bulk,
}

/// The authenticated caller of a request, and the route the request came in on (what its
/// usage is counted under). Cheap to clone; equal and hashed by id only, so it can key
/// per-caller tables.
#[derive(Debug, Clone)]
pub struct Caller {
    profile: Arc<Profile>,
    route: Route,
}

/// What a request needs to know about its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The id.
    pub id: CallerId,
    /// Admin or user.
    pub role: Role,
    /// Service or person.
    pub kind: CallerKind,
    /// Interactive or bulk.
    pub priority: CallerPriority,
    /// VirusTotal calls per UTC day this caller may cause; `None`: no own cap.
    pub daily_cap: Option<u64>,
}

impl Caller {
    /// The id of the implicit caller when none are configured.
    pub const ANONYMOUS: &'static str = "anonymous";

    /// The caller described by `profile`.
    pub fn from_profile(profile: Profile) -> Self {
        Self {
            profile: Arc::new(profile),
            route: Route::default(),
        }
    }

    /// The same caller, asking through `route`; the VirusTotal calls it starts, background
    /// fills of its deferrals included, are counted under that route.
    pub fn on(mut self, route: Route) -> Self {
        self.route = route;
        self
    }

    /// The route the request came in on.
    pub fn route(&self) -> Route {
        self.route
    }

    /// A `user` service caller with no cap and interactive priority (tests, and callers
    /// whose record says nothing more). Panics on an invalid id: for literals only.
    pub fn new(id: &str) -> Self {
        Self::from_profile(Profile {
            id: CallerId::parse(id).expect("a valid caller id literal"),
            role: Role::User,
            kind: CallerKind::Service,
            priority: CallerPriority::Interactive,
            daily_cap: None,
        })
    }

    /// Everyone, when no callers are configured: a user, interactive, no own cap.
    pub fn anonymous() -> Self {
        Self::new(Self::ANONYMOUS)
    }

    /// The caller's record.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The id.
    pub fn id(&self) -> &CallerId {
        &self.profile.id
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.profile.id.as_str()
    }
}

impl PartialEq for Caller {
    fn eq(&self, other: &Self) -> bool {
        self.profile.id == other.profile.id
    }
}

impl Eq for Caller {}

impl Hash for Caller {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.profile.id.hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_lower_case_words_of_at_most_64_characters() {
        for good in ["a", "siem-webhook", "soar.prod_2", "0x", &"a".repeat(64)] {
            assert!(CallerId::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Siem",
            "-a",
            ".a",
            "a b",
            "a/b",
            "é",
            &"a".repeat(65),
            "a\n",
        ] {
            assert!(CallerId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn callers_are_equal_by_id_whatever_their_fields() {
        let a = Caller::new("a");
        let mut profile = a.profile().clone();
        profile.role = Role::Admin;
        profile.daily_cap = Some(3);
        assert_eq!(a, Caller::from_profile(profile));
        assert_eq!(a, a.clone().on(Route::Ip), "the route is not the caller");
        assert_ne!(a, Caller::new("b"));
    }
}
