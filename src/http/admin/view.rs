//! The admin API's answers: a caller as JSON (never a key hash; a key only in the answer
//! that created it) and the caller list as CSV.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::callers::{DailyUse, Listed};

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An enum's wire name (`admin`, `bulk`, ...), as serde writes it.
fn text<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// One caller.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "soar-playbooks", "role": "user", "kind": "service", "priority": "bulk", "daily_cap": 300, "description": "SOAR enrichment playbooks", "source": "runtime", "created_at": "2026-11-22T09:00:00Z", "last_seen_at": "2026-11-22T09:05:12Z", "used_today": 0, "keys": [{"expires_at": null}]}))]
pub struct CallerBody {
    pub id: String,
    /// `admin` or `user`.
    #[schema(example = "user")]
    pub role: String,
    /// `service` or `person`.
    #[schema(example = "service")]
    pub kind: String,
    /// `interactive` or `bulk`.
    #[schema(example = "interactive")]
    pub priority: String,
    /// VirusTotal calls per UTC day; null: no own cap.
    pub daily_cap: Option<u64>,
    pub description: Option<String>,
    /// `config` (read-only through the API) or `runtime` (created through it).
    #[schema(example = "runtime")]
    pub source: String,
    /// When the API created it (RFC 3339, UTC); null for configuration callers.
    pub created_at: Option<String>,
    /// The caller's last authenticated request that this replica saw (second precision);
    /// null when none since the replica started.
    pub last_seen_at: Option<String>,
    /// VirusTotal calls charged to the caller today (UTC).
    pub used_today: u64,
    /// The accepted keys (never the key or its hash): when each stops being accepted
    /// (null: until rotated).
    pub keys: Vec<KeyBody>,
}

/// One accepted key, without the key.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyBody {
    /// When a rotated key stops being accepted (RFC 3339, UTC); null: until rotated.
    pub expires_at: Option<String>,
}

impl CallerBody {
    /// The body of `listed`.
    pub fn new(listed: &Listed, usage: &dyn DailyUse) -> Self {
        let r = &listed.record;
        Self {
            id: r.id.to_string(),
            role: text(&r.role),
            kind: text(&r.kind),
            priority: text(&r.priority),
            daily_cap: r.daily_cap,
            description: r.description.clone(),
            source: text(&r.source),
            created_at: r.created_at.map(ts),
            last_seen_at: listed.last_seen_at.map(ts),
            used_today: usage.used_today(&r.id),
            keys: r
                .keys
                .iter()
                .map(|k| KeyBody {
                    expires_at: k.expires_at.map(ts),
                })
                .collect(),
        }
    }
}

/// `GET /v1/admin/callers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallerList {
    /// Every caller, by id.
    pub callers: Vec<CallerBody>,
}

/// The answer of a create or a rotation: the caller and its new key, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallerWithKey {
    pub caller: CallerBody,
    /// The new key (64 hex characters). Only its SHA-256 is kept: store it now, it cannot be
    /// shown again.
    #[schema(example = "3f9c0e8b1d2a4c5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6")]
    pub key: String,
}

/// The CSV header, as VirusTotal's group members export has it.
const CSV_HEADER: [&str; 8] = [
    "id",
    "kind",
    "role",
    "priority",
    "daily_cap",
    "used_today",
    "created_at",
    "last_seen_at",
];

/// The caller list as CSV (empty cells for absent values).
pub fn csv(callers: &[CallerBody]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = writer.write_record(CSV_HEADER);
    for c in callers {
        let _ = writer.write_record([
            c.id.as_str(),
            &c.kind,
            &c.role,
            &c.priority,
            &c.daily_cap.map(|n| n.to_string()).unwrap_or_default(),
            &c.used_today.to_string(),
            c.created_at.as_deref().unwrap_or(""),
            c.last_seen_at.as_deref().unwrap_or(""),
        ]);
    }
    writer.into_inner().unwrap_or_default()
}
