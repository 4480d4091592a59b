//! The on-disk layout of the durable store: table definitions, the key form and the stored
//! quota counts.
//!
//! Table names carry a version so an incompatible layout change gets fresh tables instead of
//! misreading old ones.

use std::net::IpAddr;

use chrono::{DateTime, NaiveDate};
use redb::TableDefinition;
use serde::{Deserialize, Serialize};

use super::QuotaCounts;
use crate::observable::Observable;

/// Observable key ([`key`]) → (stale deadline in Unix ms, `codec` bytes). The deadline is kept
/// outside the codec bytes so the purge can match an index row to its entry without decoding
/// JSON.
pub(super) const ENTRIES: TableDefinition<'static, &[u8], (i64, &[u8])> =
    TableDefinition::new("entries_v2");

/// (stale deadline in Unix ms, observable key) → nothing: the expiry index, in purge order.
pub(super) const EXPIRY: TableDefinition<'static, (i64, &[u8]), ()> =
    TableDefinition::new("expiry_v2");

/// The IP-only layout (16-byte address keys), read once at open into the tables above.
pub(super) const ENTRIES_V1: TableDefinition<'static, [u8; 16], (i64, &[u8])> =
    TableDefinition::new("entries_v1");

/// The IP-only expiry index, deleted with [`ENTRIES_V1`].
pub(super) const EXPIRY_V1: TableDefinition<'static, (i64, [u8; 16]), ()> =
    TableDefinition::new("expiry_v1");

/// Small named records (the quota counts).
pub(super) const META: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("meta_v1");

/// Caller id → the runtime caller's stored record (`callers::stored` JSON; key hashes only).
pub(super) const CALLERS: TableDefinition<'static, &str, &[u8]> =
    TableDefinition::new("callers_v1");

/// Caller id → (UTC day as days since 1970-01-01, VirusTotal calls the caller started that
/// day): each caller's use of its daily cap. One row per caller, overwritten as it charges,
/// so the table never holds more rows than there are callers.
pub(super) const CALLER_DAYS: TableDefinition<'static, &str, (i64, u64)> =
    TableDefinition::new("caller_days_v1");

/// The `META` key of the quota counts.
pub(super) const QUOTA_KEY: &str = "quota";

/// The key of `observable`: one byte naming its type, then an address's 16 bytes or the
/// canonical text of the others. The type byte keeps the types apart whatever their lengths.
pub(super) fn key(observable: &Observable) -> Vec<u8> {
    let (kind, rest) = match observable {
        Observable::Ip(ip) => return ip_key(&ip_octets(*ip)),
        Observable::Domain(_) => (b'd', observable.canonical()),
        Observable::Url(_) => (b'u', observable.canonical()),
        Observable::File(_) => (b'f', observable.canonical()),
    };
    let mut key = Vec::with_capacity(1 + rest.len());
    key.push(kind);
    key.extend_from_slice(rest.as_bytes());
    key
}

/// The key of an address from its 16 bytes, as [`ENTRIES_V1`] held them.
pub(super) fn ip_key(octets: &[u8; 16]) -> Vec<u8> {
    let mut key = Vec::with_capacity(17);
    key.push(b'i');
    key.extend_from_slice(octets);
    key
}

/// An address as 16 bytes, IPv4 as IPv4-mapped IPv6 (the IP-only layout's key).
///
/// The mapping cannot collide: observables are canonicalised before they get here, so an
/// IPv4-mapped IPv6 address always arrives as its IPv4 address.
fn ip_octets(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Bumped when the stored quota shape changes incompatibly.
const QUOTA_VERSION: u8 = 1;

/// The stored form of [`QuotaCounts`] (versioned JSON, like the entries).
#[derive(Serialize, Deserialize)]
struct StoredQuota {
    v: u8,
    day: NaiveDate,
    day_used: u64,
    year: i32,
    month: u32,
    month_used: u64,
    /// Grant times of the last minute (Unix ms). Absent in records written before the
    /// minute was kept, which read as an empty minute: the layout stays version 1.
    #[serde(default)]
    minute_ms: Vec<i64>,
}

/// Encodes quota counts.
pub(super) fn encode_quota(counts: &QuotaCounts) -> Vec<u8> {
    let stored = StoredQuota {
        v: QUOTA_VERSION,
        day: counts.day,
        day_used: counts.day_used,
        year: counts.month.0,
        month: counts.month.1,
        month_used: counts.month_used,
        minute_ms: counts
            .minute
            .iter()
            .map(DateTime::timestamp_millis)
            .collect(),
    };
    serde_json::to_vec(&stored).expect("a plain struct always serialises")
}

/// Decodes quota counts; `None` for anything unreadable or of another version.
pub(super) fn decode_quota(bytes: &[u8]) -> Option<QuotaCounts> {
    let stored: StoredQuota = serde_json::from_slice(bytes).ok()?;
    (stored.v == QUOTA_VERSION).then_some(QuotaCounts {
        day: stored.day,
        day_used: stored.day_used,
        month: (stored.year, stored.month),
        month_used: stored.month_used,
        minute: stored
            .minute_ms
            .iter()
            .filter_map(|ms| DateTime::from_timestamp_millis(*ms))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_key_is_its_ipv4_mapped_ipv6_form() {
        let v4 = Observable::Ip("192.0.2.1".parse().unwrap());
        let mapped = Observable::Ip("::ffff:192.0.2.1".parse().unwrap());
        let v6 = Observable::Ip("2001:db8::1".parse().unwrap());

        assert_eq!(key(&v4), key(&mapped));
        assert_ne!(key(&v4), key(&v6));
        assert_eq!(key(&v6)[..5], [b'i', 0x20, 0x01, 0x0d, 0xb8]);
    }

    #[test]
    fn keys_of_different_types_never_collide() {
        // A 16-character name would be as long as an address's bytes: the type byte differs.
        let name = Observable::infer("abcdefghijkl.com").unwrap();
        let hash = Observable::infer(&"a".repeat(32)).unwrap();

        assert_eq!(key(&name)[0], b'd');
        assert_eq!(key(&hash)[0], b'f');
        assert_ne!(
            key(&name)[1..],
            key(&Observable::Ip("::1".parse().unwrap()))[1..]
        );
    }

    #[test]
    fn quota_counts_survive_a_round_trip_and_garbage_is_none() {
        let counts = QuotaCounts {
            day: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            day_used: 17,
            month: (2026, 11),
            month_used: 412,
            minute: vec![
                DateTime::from_timestamp_millis(1_795_000_000_123).unwrap(),
                DateTime::from_timestamp_millis(1_795_000_001_456).unwrap(),
            ],
        };

        assert_eq!(decode_quota(&encode_quota(&counts)), Some(counts.clone()));
        assert_eq!(decode_quota(b"{}"), None);
    }

    #[test]
    fn counts_saved_before_the_minute_was_kept_read_as_an_empty_minute() {
        let old =
            br#"{"v":1,"day":"2026-11-22","day_used":3,"year":2026,"month":11,"month_used":9}"#;

        let counts = decode_quota(old).expect("an old record still reads");

        assert_eq!(counts.day_used, 3);
        assert!(counts.minute.is_empty());
    }
}
