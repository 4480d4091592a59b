//! `auth.failed` aggregation: one entry per source address per clock minute, carrying the
//! count, so a brute force of any size writes at most one entry a minute per address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::json;

use super::event::{Event, SYSTEM, actions};

/// Addresses tracked at once; failures from further addresses in the same minute share one
/// entry without an address, so a distributed attack cannot grow this table without bound.
const MAX_ADDRESSES: usize = 10_000;

/// The minute's failures, per source address (`None`: the overflow, or no address known).
#[derive(Default)]
pub struct AuthFailures {
    windows: Mutex<HashMap<Option<IpAddr>, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    start: DateTime<Utc>,
    count: u64,
}

/// The start of the minute holding `at`.
pub fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at)
}

impl AuthFailures {
    /// Counts one failure from `ip` at `now`; the entry of an earlier minute of the same
    /// address, when this closes it.
    pub fn note(&self, ip: Option<IpAddr>, now: DateTime<Utc>) -> Option<Event> {
        let minute = minute_of(now);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let key = if windows.len() >= MAX_ADDRESSES && !windows.contains_key(&ip) {
            None
        } else {
            ip
        };
        let window = windows.entry(key).or_insert(Window {
            start: minute,
            count: 0,
        });
        let closed = (window.start != minute).then(|| entry(key, *window));
        if closed.is_some() {
            *window = Window {
                start: minute,
                count: 0,
            };
        }
        window.count += 1;
        closed
    }

    /// The entries of every minute that ended by `now` (all of them when `everything`, at
    /// shutdown), removed from the table.
    pub fn due(&self, now: DateTime<Utc>, everything: bool) -> Vec<Event> {
        let minute = minute_of(now);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let mut due = Vec::new();
        windows.retain(|ip, window| {
            if everything || window.start < minute {
                due.push(entry(*ip, *window));
                false
            } else {
                true
            }
        });
        due.sort_by_key(|e| e.timestamp);
        due
    }
}

fn entry(ip: Option<IpAddr>, window: Window) -> Event {
    let end = window.start + TimeDelta::minutes(1);
    Event::new(window.start, SYSTEM, actions::AUTH_FAILED)
        .from_ip(ip)
        .target(
            "source_ip",
            ip.map_or_else(|| "other".to_owned(), |ip| ip.to_string()),
        )
        .details(json!({
            "count": window.count,
            "window_start": window.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "window_end": end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn ten_thousand_failures_in_a_minute_make_one_entry_with_their_count() {
        let failures = AuthFailures::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();

        let early: Vec<_> = (0..10_000)
            .filter_map(|_| failures.note(Some(ip), at("2026-11-10T12:00:30Z")))
            .collect();
        let during = failures.due(at("2026-11-10T12:00:59Z"), false);
        let after = failures.due(at("2026-11-10T12:01:00Z"), false);

        assert!(early.is_empty() && during.is_empty());
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].details["count"], 10_000);
        assert_eq!(after[0].source_ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(after[0].timestamp, at("2026-11-10T12:00:00Z"));
    }

    #[test]
    fn a_failure_in_a_new_minute_closes_the_previous_minute_of_that_address() {
        let failures = AuthFailures::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        failures.note(Some(ip), at("2026-11-10T12:00:10Z"));
        failures.note(Some(ip), at("2026-11-10T12:00:20Z"));

        let closed = failures.note(Some(ip), at("2026-11-10T12:01:05Z"));
        let rest = failures.due(at("2026-11-10T12:01:06Z"), true);

        assert_eq!(closed.unwrap().details["count"], 2);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].details["count"], 1);
    }
}
