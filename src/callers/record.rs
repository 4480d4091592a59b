//! A caller's full record, as the registry keeps it, and its stored form (versioned JSON
//! holding key hashes only, never a key).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::caller::{CallerId, CallerKind, CallerPriority, Profile, Role};
use crate::config::CallerSettings;

/// Where a caller was defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The configuration file: read-only through the API.
    Config,
    /// Created through the admin API.
    Runtime,
}

/// The SHA-256 of one accepted key, and when it stops being accepted (a rotated key's grace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHash {
    /// SHA-256 of the key.
    pub sha256: [u8; 32],
    /// The key is refused from this moment on; `None`: until rotated.
    pub expires_at: Option<DateTime<Utc>>,
}

impl KeyHash {
    /// Whether the key is still accepted at `now`.
    pub fn valid_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|end| now < end)
    }
}

/// Everything the service knows about one caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerRecord {
    /// The id.
    pub id: CallerId,
    /// Admin or user.
    pub role: Role,
    /// Service or person.
    pub kind: CallerKind,
    /// Interactive or bulk.
    pub priority: CallerPriority,
    /// VirusTotal calls per UTC day; `None`: no own cap.
    pub daily_cap: Option<u64>,
    /// Free text for operators.
    pub description: Option<String>,
    /// Accepted keys, as hashes.
    pub keys: Vec<KeyHash>,
    /// When the API created it; `None` for configuration callers.
    pub created_at: Option<DateTime<Utc>>,
    /// Configuration file or admin API.
    pub source: Source,
}

/// A record as listed: the record and when its caller was last seen by this replica.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The record.
    pub record: CallerRecord,
    /// Last authenticated request (second precision); `None`: not since start.
    pub last_seen_at: Option<DateTime<Utc>>,
}

impl CallerRecord {
    /// The record of a configuration caller (validated at start-up; `None` if not).
    pub fn from_settings(settings: &CallerSettings) -> Option<Self> {
        let profile = settings.profile()?;
        let keys = settings
            .key_sha256
            .iter()
            .filter_map(|h| {
                let mut sha256 = [0u8; 32];
                hex::decode_to_slice(h, &mut sha256).ok()?;
                Some(KeyHash {
                    sha256,
                    expires_at: None,
                })
            })
            .collect();
        Some(Self {
            id: profile.id,
            role: profile.role,
            kind: profile.kind,
            priority: profile.priority,
            daily_cap: profile.daily_cap,
            description: settings.description.clone(),
            keys,
            created_at: None,
            source: Source::Config,
        })
    }

    /// What a request needs to know about this caller.
    pub fn profile(&self) -> Profile {
        Profile {
            id: self.id.clone(),
            role: self.role,
            kind: self.kind,
            priority: self.priority,
            daily_cap: self.daily_cap,
        }
    }

    /// The stored form (runtime callers only are stored).
    pub fn encode(&self) -> Vec<u8> {
        let stored = Stored {
            v: STORED_VERSION,
            id: self.id.clone(),
            role: self.role,
            kind: self.kind,
            priority: self.priority,
            daily_cap: self.daily_cap,
            description: self.description.clone(),
            keys: self
                .keys
                .iter()
                .map(|k| StoredKey {
                    sha256: hex::encode(k.sha256),
                    expires_at: k.expires_at,
                })
                .collect(),
            created_at: self.created_at,
        };
        serde_json::to_vec(&stored).expect("a plain struct always serialises")
    }

    /// Reads the stored form; `None` for anything unreadable or of another version.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let stored: Stored = serde_json::from_slice(bytes).ok()?;
        if stored.v != STORED_VERSION {
            return None;
        }
        let keys = stored
            .keys
            .into_iter()
            .map(|k| {
                let mut sha256 = [0u8; 32];
                hex::decode_to_slice(&k.sha256, &mut sha256).ok()?;
                Some(KeyHash {
                    sha256,
                    expires_at: k.expires_at,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            id: stored.id,
            role: stored.role,
            kind: stored.kind,
            priority: stored.priority,
            daily_cap: stored.daily_cap,
            description: stored.description,
            keys,
            created_at: stored.created_at,
            source: Source::Runtime,
        })
    }
}

/// Bumped when the stored shape changes incompatibly.
const STORED_VERSION: u8 = 1;

#[derive(Serialize, Deserialize)]
struct Stored {
    v: u8,
    id: CallerId,
    role: Role,
    kind: CallerKind,
    priority: CallerPriority,
    daily_cap: Option<u64>,
    description: Option<String>,
    keys: Vec<StoredKey>,
    created_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    sha256: String,
    expires_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_record_reads_back_the_same_and_garbage_reads_as_nothing() {
        let record = CallerRecord {
            id: CallerId::parse("soar").unwrap(),
            role: Role::Admin,
            kind: CallerKind::Person,
            priority: CallerPriority::Bulk,
            daily_cap: Some(300),
            description: Some("playbooks".into()),
            keys: vec![KeyHash {
                sha256: [7; 32],
                expires_at: Some(DateTime::from_timestamp(1_800_000_000, 0).unwrap()),
            }],
            created_at: Some(DateTime::from_timestamp(1_790_000_000, 0).unwrap()),
            source: Source::Runtime,
        };

        assert_eq!(CallerRecord::decode(&record.encode()), Some(record));
        assert_eq!(CallerRecord::decode(b"{}"), None);
    }
}
