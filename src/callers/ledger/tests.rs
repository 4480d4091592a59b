//! Tests of the local ledger, on a manual clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::caller::Profile;
use crate::clock::ManualClock;

/// The one endpoint calls are charged for today.
const IP: Endpoint = Endpoint::IpAddresses;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

fn capped(id: &str, cap: u64) -> Caller {
    let mut profile: Profile = Caller::new(id).profile().clone();
    profile.daily_cap = Some(cap);
    Caller::from_profile(profile)
}

fn ledger_at(start: &str) -> (LocalLedger, ManualClock) {
    let clock = ManualClock::new(at(start));
    (LocalLedger::new(Arc::new(clock.clone())), clock)
}

#[test]
fn a_caller_is_charged_up_to_its_cap_and_then_refused_until_midnight() {
    let (ledger, _clock) = ledger_at("2026-03-10T08:00:00Z");
    let soar = capped("soar", 2);

    let first = ledger.charge_now(&soar, IP).unwrap();
    let second = ledger.charge_now(&soar, IP).unwrap();
    let third = ledger.charge_now(&soar, IP).unwrap_err();

    assert_eq!((first.used, second.used), (1, 2));
    assert_eq!(third.cap, 2);
    assert_eq!(third.retry_at, at("2026-03-11T00:00:00Z"));
    assert_eq!(ledger.used_today(soar.id()), 2);
}

#[test]
fn a_caller_without_a_cap_is_counted_but_never_refused() {
    let (ledger, _clock) = ledger_at("2026-03-10T08:00:00Z");
    let siem = Caller::new("siem");

    for _ in 0..50 {
        ledger.charge_now(&siem, IP).unwrap();
    }

    assert_eq!(ledger.used_today(siem.id()), 50);
}

#[test]
fn one_callers_spent_cap_leaves_another_caller_unaffected() {
    let (ledger, _clock) = ledger_at("2026-03-10T08:00:00Z");
    let soar = capped("soar", 1);
    let analyst = capped("analyst", 1);

    ledger.charge_now(&soar, IP).unwrap();
    ledger.charge_now(&soar, IP).unwrap_err();

    assert!(ledger.charge_now(&analyst, IP).is_ok());
}

#[test]
fn a_refund_gives_the_unit_back_and_a_new_day_starts_from_zero() {
    let (ledger, clock) = ledger_at("2026-03-10T23:59:00Z");
    let soar = capped("soar", 1);

    let charge = ledger.charge_now(&soar, IP).unwrap();
    ledger.refund_now(&charge);
    let again = ledger.charge_now(&soar, IP).unwrap();
    clock.advance(Duration::from_secs(120));
    ledger.refund_now(&again);

    assert_eq!(ledger.used_today(soar.id()), 0);
    assert!(ledger.charge_now(&soar, IP).is_ok(), "a new day, a new cap");
}

#[test]
fn saved_counts_of_today_are_restored_and_those_of_an_earlier_day_ignored() {
    let saved: Arc<Mutex<Vec<(CallerId, NaiveDate, u64)>>> = Arc::default();
    let sink = saved.clone();
    let (ledger, _clock) = ledger_at("2026-03-10T08:00:00Z");
    let ledger = ledger.on_change(Box::new(move |id, day, used| {
        sink.lock().unwrap().push((id.clone(), day, used));
    }));
    let soar = capped("soar", 3);
    ledger.charge_now(&soar, IP).unwrap();
    ledger.charge_now(&soar, IP).unwrap();
    let yesterday = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
    let old = (CallerId::parse("old").unwrap(), yesterday, 9);

    let (restarted, _clock) = ledger_at("2026-03-10T09:00:00Z");
    let mut records = saved.lock().unwrap().clone();
    records.push(old.clone());
    restarted.restore(records);

    assert_eq!(restarted.used_today(soar.id()), 2);
    assert_eq!(restarted.used_today(&old.0), 0);
    assert_eq!(restarted.charge_now(&soar, IP).unwrap().used, 3);
    assert!(restarted.charge_now(&soar, IP).is_err());
}
