//! Tests of giving slots back and of the minute window surviving a restart.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

use super::*;
use crate::clock::ManualClock;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

fn limits(per_minute: u32, per_day: u64) -> Limits {
    Limits {
        per_minute,
        per_day,
        per_month: 15_500,
        too_many_requests_backoff: Duration::from_secs(30),
        reserve_interactive: 0,
    }
}

fn take(gate: &LocalGate) -> Result<Grant, Denied> {
    gate.acquire(Priority::Interactive, Some(gate.clock.now()))
        .now_or_never()
        .expect("a deadline of now is decided without waiting")
}

fn saving_gate(clock: &ManualClock, limits: Limits) -> (LocalGate, Arc<Mutex<Vec<UsedCounts>>>) {
    let saved = Arc::new(Mutex::new(Vec::new()));
    let sink = saved.clone();
    let gate = LocalGate::new(limits, Arc::new(clock.clone())).on_change(Box::new(
        move |counts: &UsedCounts| sink.lock().unwrap().push(counts.clone()),
    ));
    (gate, saved)
}

#[tokio::test]
async fn a_refunded_slot_leaves_the_minute_day_and_month_and_the_saved_counts() {
    let clock = ManualClock::new(at("2026-03-10T08:00:00Z"));
    let (gate, saved) = saving_gate(&clock, limits(2, 500));
    let kept = take(&gate).unwrap();
    clock.advance(Duration::from_secs(1));
    let unreached = take(&gate).unwrap();

    gate.refund(unreached).await;

    let snapshot = gate.snapshot();
    assert_eq!(
        (snapshot.minute.used, snapshot.day.used, snapshot.month.used),
        (1, 1, 1)
    );
    assert!(take(&gate).is_ok(), "the minute has its slot back");
    let saved = saved.lock().unwrap();
    assert_eq!(saved.len(), 4, "two grants, one refund, one grant");
    assert_eq!((saved[2].day_used, saved[2].month_used), (1, 1));
    assert_eq!(
        saved[2].minute,
        vec![kept.at],
        "only the call VirusTotal saw"
    );
}

#[tokio::test]
async fn a_slot_granted_yesterday_is_refunded_from_yesterday_only() {
    let clock = ManualClock::new(at("2026-03-10T23:59:59Z"));
    let gate = LocalGate::new(limits(4, 500), Arc::new(clock.clone()));
    let late = take(&gate).unwrap();
    clock.advance(Duration::from_secs(2));
    take(&gate).unwrap();

    gate.refund(late).await;

    let snapshot = gate.snapshot();
    assert_eq!(snapshot.day.used, 1, "today's call stays counted");
    assert_eq!(snapshot.minute.used, 1);
}

#[tokio::test]
async fn a_gate_restored_from_saved_counts_refuses_what_the_minute_has_no_room_for() {
    let clock = ManualClock::new(at("2026-03-10T08:00:00Z"));
    let (before, saved) = saving_gate(&clock, limits(4, 500));
    for _ in 0..4 {
        take(&before).unwrap();
    }
    let last = saved.lock().unwrap().last().cloned().unwrap();
    drop(before);
    clock.advance(Duration::from_secs(10));

    let after = LocalGate::new(limits(4, 500), Arc::new(clock.clone()));
    after.restore(&last);

    let refused = take(&after).unwrap_err();
    assert_eq!(refused.reason, DenyReason::Minute);
    assert_eq!(refused.retry_at, at("2026-03-10T08:00:00Z") + MINUTE);
    assert_eq!(after.snapshot().minute.used, 4);
    clock.set(at("2026-03-10T08:00:00Z") + MINUTE);
    assert!(take(&after).is_ok(), "the restored grants age out as usual");
}
