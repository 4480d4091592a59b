//! Tests of the local gate, on a manual clock.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

use super::*;
use crate::clock::{Clock, ManualClock};

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
}

fn limits(per_minute: u32, per_day: u64, per_month: u64) -> Limits {
    Limits {
        per_minute,
        per_day,
        per_month,
        too_many_requests_backoff: Duration::from_secs(30),
        reserve_interactive: 0,
    }
}

fn gate_at(start: &str, limits: Limits) -> (Arc<LocalGate>, ManualClock) {
    let clock = ManualClock::new(at(start));
    let gate = Arc::new(LocalGate::new(limits, Arc::new(clock.clone())));
    (gate, clock)
}

/// Asks for a slot that must be decided without waiting (deadline = now).
fn try_now(gate: &LocalGate, priority: Priority) -> Result<(), Denied> {
    let now = gate.clock.now();
    gate.acquire(priority, Some(now))
        .now_or_never()
        .expect("a deadline of now is decided without waiting")
        .map(drop)
}

fn spawn_acquire(
    gate: &Arc<LocalGate>,
    priority: Priority,
    deadline: Option<DateTime<Utc>>,
) -> tokio::task::JoinHandle<Result<(), Denied>> {
    let gate = Arc::clone(gate);
    tokio::spawn(async move { gate.acquire(priority, deadline).await.map(drop) })
}

/// Lets spawned tasks run until they block again (bounded; the runtime is single-threaded).
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[tokio::test]
async fn the_first_calls_go_at_once_and_the_next_waits_until_the_oldest_leaves_the_61_s_window() {
    let (gate, clock) = gate_at("2026-03-10T08:00:00Z", limits(4, 500, 15_500));
    let t0 = clock.now();
    try_now(&gate, Priority::Interactive).unwrap();
    clock.advance(secs(10));
    for _ in 0..3 {
        try_now(&gate, Priority::Interactive).unwrap();
    }

    let fifth = spawn_acquire(&gate, Priority::Interactive, None);
    settle().await;
    assert!(!fifth.is_finished());
    clock.set(t0 + MINUTE - TimeDelta::milliseconds(1));
    settle().await;
    assert!(!fifth.is_finished());
    clock.set(t0 + MINUTE);
    settle().await;

    assert!(fifth.is_finished());
    fifth.await.unwrap().unwrap();
    let sixth = try_now(&gate, Priority::Interactive).unwrap_err();
    assert_eq!(sixth.retry_at, t0 + TimeDelta::seconds(10) + MINUTE);
    assert_eq!(sixth.reason, DenyReason::Minute);
}

#[tokio::test]
async fn the_arrival_margin_is_how_long_past_60_s_a_grant_keeps_its_slot() {
    for margin_ms in [0, 2_500] {
        let clock = ManualClock::new(at("2026-03-10T08:00:00Z"));
        let gate = LocalGate::new(limits(1, 500, 15_500), Arc::new(clock.clone()))
            .with_arrival_margin(Duration::from_millis(margin_ms));
        let t0 = clock.now();
        try_now(&gate, Priority::Interactive).unwrap();

        let refused = try_now(&gate, Priority::Interactive).unwrap_err();
        clock.set(t0 + TimeDelta::milliseconds(60_000 + margin_ms as i64 - 1));
        let still = try_now(&gate, Priority::Interactive).unwrap_err();
        clock.set(t0 + TimeDelta::milliseconds(60_000 + margin_ms as i64));
        let granted = try_now(&gate, Priority::Interactive);

        let frees = t0 + TimeDelta::milliseconds(60_000 + margin_ms as i64);
        assert_eq!(
            (refused.retry_at, still.retry_at),
            (frees, frees),
            "{margin_ms}"
        );
        assert!(granted.is_ok(), "{margin_ms}");
    }
}

/// A small deterministic generator, so the randomised test needs no extra crate and replays.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

#[tokio::test]
async fn random_acquires_never_put_more_than_the_rate_into_any_60_s_window() {
    for seed in 1..=20u64 {
        let per_minute = 1 + (seed % 5) as u32;
        let (gate, clock) = gate_at("2026-03-10T08:00:00Z", limits(per_minute, 10_000, 100_000));
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut granted: Vec<DateTime<Utc>> = Vec::new();

        for _ in 0..300 {
            clock.advance(Duration::from_millis(rng.below(30_000)));
            let priority = if rng.below(2) == 0 {
                Priority::Interactive
            } else {
                Priority::Background
            };
            let now = clock.now();
            match try_now(&gate, priority) {
                Ok(()) => granted.push(now),
                Err(denied) => {
                    // Denied only when the window really is full, and told exactly when it frees.
                    let in_window: Vec<_> = granted.iter().filter(|t| **t > now - MINUTE).collect();
                    assert_eq!(in_window.len(), per_minute as usize, "seed {seed}");
                    assert_eq!(denied.reason, DenyReason::Minute);
                    assert_eq!(denied.retry_at, *in_window[0] + MINUTE, "seed {seed}");
                }
            }
        }

        for (i, start) in granted.iter().enumerate() {
            let in_window = granted[i..]
                .iter()
                .take_while(|t| **t < *start + MINUTE)
                .count();
            assert!(
                in_window <= per_minute as usize,
                "seed {seed}: {in_window} in one minute"
            );
        }
        assert_eq!(gate.snapshot().day.used, granted.len() as u64);
    }
}

#[tokio::test]
async fn a_deadline_before_the_next_minute_slot_is_denied_at_once() {
    let (gate, clock) = gate_at("2026-03-10T08:00:00Z", limits(1, 500, 15_500));
    let t0 = clock.now();
    try_now(&gate, Priority::Interactive).unwrap();

    let denied = gate
        .acquire(Priority::Interactive, Some(t0 + TimeDelta::seconds(59)))
        .now_or_never()
        .expect("decided without waiting");

    assert_eq!(
        denied,
        Err(Denied {
            reason: DenyReason::Minute,
            retry_at: t0 + MINUTE
        })
    );
    assert_eq!(gate.snapshot().interactive_waiters, 0);
}

#[tokio::test]
async fn a_deadline_that_the_slot_can_meet_is_waited_for() {
    let (gate, clock) = gate_at("2026-03-10T08:00:00Z", limits(1, 500, 15_500));
    let t0 = clock.now();
    try_now(&gate, Priority::Interactive).unwrap();

    let waiter = spawn_acquire(&gate, Priority::Interactive, Some(t0 + MINUTE));
    settle().await;
    assert!(!waiter.is_finished());
    clock.advance(MINUTE.to_std().unwrap());
    settle().await;

    assert_eq!(waiter.await.unwrap(), Ok(()));
}

#[tokio::test]
async fn an_exhausted_day_is_denied_with_the_next_midnight_as_retry() {
    let (gate, _clock) = gate_at("2026-03-10T15:00:00Z", limits(4, 1, 15_500));
    try_now(&gate, Priority::Interactive).unwrap();

    let denied = try_now(&gate, Priority::Interactive).unwrap_err();

    assert_eq!(denied.reason, DenyReason::Day);
    assert_eq!(denied.retry_at, at("2026-03-11T00:00:00Z"));
}

#[tokio::test]
async fn the_day_budget_resets_at_midnight_utc() {
    let (gate, clock) = gate_at("2026-03-10T23:59:00Z", limits(4, 2, 15_500));
    try_now(&gate, Priority::Interactive).unwrap();
    try_now(&gate, Priority::Interactive).unwrap();
    clock.set(at("2026-03-10T23:59:59.999Z"));
    assert_eq!(
        try_now(&gate, Priority::Interactive).unwrap_err().reason,
        DenyReason::Day
    );

    clock.advance(Duration::from_millis(1));

    assert_eq!(try_now(&gate, Priority::Interactive), Ok(()));
    let day = gate.snapshot().day;
    assert_eq!(day.used, 1);
    assert_eq!(day.resets_at, at("2026-03-12T00:00:00Z"));
    assert_eq!(gate.snapshot().month.used, 3);
}

#[tokio::test]
async fn the_month_budget_survives_a_new_day_and_resets_on_the_first() {
    let (gate, clock) = gate_at("2026-02-27T10:00:00Z", limits(4, 500, 2));
    try_now(&gate, Priority::Interactive).unwrap();
    try_now(&gate, Priority::Interactive).unwrap();
    clock.set(at("2026-02-28T10:00:00Z"));

    let denied = try_now(&gate, Priority::Interactive).unwrap_err();
    assert_eq!(denied.reason, DenyReason::Month);
    assert_eq!(denied.retry_at, at("2026-03-01T00:00:00Z"));

    clock.set(at("2026-03-01T00:00:00Z"));
    assert_eq!(try_now(&gate, Priority::Interactive), Ok(()));
}

#[tokio::test]
async fn the_month_budget_resets_from_december_into_january() {
    let (gate, clock) = gate_at("2026-12-31T23:58:00Z", limits(4, 500, 3));
    for _ in 0..3 {
        try_now(&gate, Priority::Interactive).unwrap();
    }
    let waiter = spawn_acquire(&gate, Priority::Background, None);
    settle().await;
    clock.set(at("2026-12-31T23:59:59.999Z"));
    settle().await;
    assert!(!waiter.is_finished());

    clock.set(at("2027-01-01T00:00:00Z"));
    settle().await;

    assert!(waiter.is_finished());
    let month = gate.snapshot().month;
    assert_eq!(month.used, 1);
    assert_eq!(month.resets_at, at("2027-02-01T00:00:00Z"));
}

#[tokio::test]
async fn quota_exceeded_blocks_until_the_next_midnight_utc() {
    let (gate, clock) = gate_at("2026-03-10T15:30:00Z", limits(4, 500, 15_500));
    gate.signal(UpstreamSignal::QuotaExceeded);
    let midnight = at("2026-03-11T00:00:00Z");
    assert_eq!(
        try_now(&gate, Priority::Interactive),
        Err(Denied {
            reason: DenyReason::Blocked,
            retry_at: midnight
        })
    );
    let waiter = spawn_acquire(&gate, Priority::Interactive, None);
    settle().await;
    clock.set(at("2026-03-10T23:59:59.999Z"));
    settle().await;
    assert!(!waiter.is_finished());

    clock.set(midnight);
    settle().await;

    assert!(waiter.is_finished());
    let snapshot = gate.snapshot();
    assert_eq!(snapshot.blocked_until, None);
    assert_eq!(snapshot.month.used, 1, "the block did not count as calls");
}

#[tokio::test]
async fn too_many_requests_blocks_for_the_backoff_only() {
    let (gate, clock) = gate_at("2026-03-10T15:30:00Z", limits(4, 500, 15_500));
    let t0 = clock.now();

    gate.signal(UpstreamSignal::TooManyRequests);

    assert_eq!(
        gate.snapshot().blocked_until,
        Some(t0 + TimeDelta::seconds(30))
    );
    clock.advance(Duration::from_millis(29_999));
    assert_eq!(
        try_now(&gate, Priority::Interactive),
        Err(Denied {
            reason: DenyReason::Blocked,
            retry_at: t0 + TimeDelta::seconds(30)
        })
    );
    clock.advance(Duration::from_millis(1));
    assert_eq!(try_now(&gate, Priority::Interactive), Ok(()));
}

#[tokio::test]
async fn too_many_requests_never_shortens_a_longer_block() {
    let (gate, _clock) = gate_at("2026-03-10T15:30:00Z", limits(4, 500, 15_500));
    gate.signal(UpstreamSignal::QuotaExceeded);

    gate.signal(UpstreamSignal::TooManyRequests);

    assert_eq!(
        gate.snapshot().blocked_until,
        Some(at("2026-03-11T00:00:00Z"))
    );
}

#[tokio::test]
async fn a_signal_denies_a_waiter_whose_deadline_it_pushes_out_of_reach() {
    let (gate, clock) = gate_at("2026-03-10T15:30:00Z", limits(1, 500, 15_500));
    let t0 = clock.now();
    try_now(&gate, Priority::Interactive).unwrap();
    let waiter = spawn_acquire(
        &gate,
        Priority::Interactive,
        Some(t0 + TimeDelta::seconds(90)),
    );
    settle().await;
    assert!(!waiter.is_finished());

    gate.signal(UpstreamSignal::QuotaExceeded);
    settle().await;

    assert!(waiter.is_finished(), "decided without the clock moving");
    assert_eq!(
        waiter.await.unwrap().unwrap_err().reason,
        DenyReason::Blocked
    );
}

#[tokio::test]
async fn a_waiting_interactive_request_gets_the_slot_before_a_waiting_background_fill() {
    let (gate, clock) = gate_at("2026-03-10T08:00:00Z", limits(1, 500, 15_500));
    try_now(&gate, Priority::Interactive).unwrap();
    let background = spawn_acquire(&gate, Priority::Background, None);
    settle().await;
    let interactive = spawn_acquire(&gate, Priority::Interactive, None);
    settle().await;
    assert_eq!(gate.snapshot().interactive_waiters, 1);

    clock.advance(MINUTE.to_std().unwrap());
    settle().await;

    assert!(interactive.is_finished());
    assert!(!background.is_finished());
    assert_eq!(gate.snapshot().interactive_waiters, 0);
    clock.advance((MINUTE - TimeDelta::milliseconds(1)).to_std().unwrap());
    settle().await;
    assert!(!background.is_finished());
    clock.advance(Duration::from_millis(1));
    settle().await;
    assert!(background.is_finished());
    assert_eq!(gate.snapshot().day.used, 3);
}

#[tokio::test]
async fn a_dropped_interactive_waiter_no_longer_holds_back_background() {
    let (gate, clock) = gate_at("2026-03-10T08:00:00Z", limits(1, 500, 15_500));
    try_now(&gate, Priority::Interactive).unwrap();
    let background = spawn_acquire(&gate, Priority::Background, None);
    let interactive = spawn_acquire(&gate, Priority::Interactive, None);
    settle().await;
    assert_eq!(gate.snapshot().interactive_waiters, 1);

    interactive.abort();
    settle().await;
    assert_eq!(gate.snapshot().interactive_waiters, 0);
    clock.advance(MINUTE.to_std().unwrap());
    settle().await;

    assert!(background.is_finished());
    background.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_free_slot_waits_for_a_registered_interactive_caller() {
    let (gate, _clock) = gate_at("2026-03-10T08:00:00Z", limits(4, 500, 15_500));
    // Holding the registration without polling stands for an interactive caller that has
    // not yet been scheduled.
    let waiter = gate.waiters.enter(Priority::Interactive, &gate.changed);

    let background = gate.acquire(Priority::Background, None).now_or_never();
    assert!(background.is_none());
    drop(waiter);

    assert_eq!(try_now(&gate, Priority::Background), Ok(()));
}

#[tokio::test]
async fn adopt_raises_used_counts_and_switches_the_source() {
    let (gate, clock) = gate_at("2026-03-10T08:00:00Z", limits(4, 500, 15_500));
    try_now(&gate, Priority::Interactive).unwrap();
    try_now(&gate, Priority::Interactive).unwrap();

    gate.adopt(SyncedUsage {
        day_used: 1,
        month_used: 40,
    });

    let snapshot = gate.snapshot();
    assert_eq!(snapshot.day.used, 2, "ours was higher");
    assert_eq!(snapshot.month.used, 40);
    assert_eq!(snapshot.source, CountSource::Synced { at: clock.now() });
}

#[tokio::test]
async fn adopting_a_spent_day_denies_until_midnight() {
    let (gate, _clock) = gate_at("2026-03-10T08:00:00Z", limits(4, 500, 15_500));

    gate.adopt(SyncedUsage {
        day_used: 500,
        month_used: 900,
    });

    assert_eq!(
        try_now(&gate, Priority::Background),
        Err(Denied {
            reason: DenyReason::Day,
            retry_at: at("2026-03-11T00:00:00Z")
        })
    );
}

#[tokio::test]
async fn a_snapshot_reports_every_window() {
    let (gate, clock) = gate_at("2026-03-10T08:00:00Z", limits(4, 500, 15_500));
    let t0 = clock.now();
    let empty = gate.snapshot();
    assert_eq!(empty.minute.used, 0);
    assert_eq!(empty.minute.resets_at, t0);
    try_now(&gate, Priority::Interactive).unwrap();
    clock.advance(secs(20));
    try_now(&gate, Priority::Background).unwrap();
    clock.advance(secs(10));

    let snapshot = gate.snapshot();

    let expected = QuotaSnapshot {
        minute: WindowUsage {
            limit: 4,
            used: 2,
            resets_at: t0 + MINUTE,
        },
        day: WindowUsage {
            limit: 500,
            used: 2,
            resets_at: at("2026-03-11T00:00:00Z"),
        },
        month: WindowUsage {
            limit: 15_500,
            used: 2,
            resets_at: at("2026-04-01T00:00:00Z"),
        },
        blocked_until: None,
        source: CountSource::Local,
        interactive_waiters: 0,
    };
    assert_eq!(snapshot, expected);
    assert_eq!(snapshot.minute.remaining(), 2);
    // Exactly one window after the first grant it has left the window.
    clock.set(t0 + MINUTE);
    let later = gate.snapshot().minute;
    assert_eq!(
        (later.used, later.resets_at),
        (1, t0 + TimeDelta::seconds(20) + MINUTE)
    );
}

#[tokio::test]
async fn a_clock_stepping_back_does_not_hand_out_a_second_day_budget() {
    let (gate, clock) = gate_at("2026-03-11T00:00:30Z", limits(4, 1, 15_500));
    try_now(&gate, Priority::Interactive).unwrap();

    clock.set(at("2026-03-10T23:59:50Z"));

    assert!(try_now(&gate, Priority::Interactive).is_err());
}

#[test]
fn limits_are_reported_as_given() {
    let clock = ManualClock::new(at("2026-03-10T08:00:00Z"));
    let given = limits(4, 500, 15_500);

    let gate = LocalGate::new(given, Arc::new(clock));

    assert_eq!(gate.limits(), given);
}

#[tokio::test]
async fn restored_counts_of_the_same_day_continue_and_old_ones_are_ignored() {
    let clock = ManualClock::new(at("2026-03-10T08:00:00Z"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let gate = LocalGate::new(limits(4, 3, 15_500), Arc::new(clock.clone())).on_change(Box::new(
        move |counts: &UsedCounts| sink.lock().unwrap().push(counts.clone()),
    ));
    gate.restore(&UsedCounts {
        day: day_key(at("2026-03-10T01:00:00Z")),
        day_used: 2,
        month: month_key(at("2026-03-01T00:00:00Z")),
        month_used: 40,
        minute: vec![],
    });
    gate.restore(&UsedCounts {
        day: day_key(at("2026-03-09T01:00:00Z")),
        day_used: 400,
        month: month_key(at("2026-02-01T00:00:00Z")),
        month_used: 9_000,
        minute: vec![],
    });

    try_now(&gate, Priority::Interactive).unwrap();

    assert_eq!(
        try_now(&gate, Priority::Interactive).unwrap_err().reason,
        DenyReason::Day,
        "2 restored + 1 granted = the day budget of 3"
    );
    let snapshot = gate.snapshot();
    assert_eq!((snapshot.day.used, snapshot.month.used), (3, 41));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "the observer hears of the grant");
    assert_eq!((seen[0].day_used, seen[0].month_used), (3, 41));
}

#[tokio::test]
async fn an_interactive_request_gets_the_next_slot_before_a_bulk_request_that_waited_longer() {
    // Arrange: the minute is full; a bulk request starts waiting, then an interactive one.
    let (gate, clock) = gate_at("2026-03-10T08:00:00Z", limits(1, 500, 15_500));
    let t0 = clock.now();
    try_now(&gate, Priority::Interactive).unwrap();
    let bulk = spawn_acquire(&gate, Priority::Bulk, None);
    settle().await;
    let interactive = spawn_acquire(&gate, Priority::Interactive, None);
    settle().await;

    // Act: the slot frees.
    clock.set(t0 + MINUTE);
    settle().await;

    // Assert
    assert!(
        interactive.is_finished(),
        "the interactive request took the slot"
    );
    assert!(!bulk.is_finished(), "the bulk request still waits");
    interactive.await.unwrap().unwrap();
    clock.set(t0 + MINUTE + MINUTE);
    settle().await;
    assert!(bulk.is_finished());
    bulk.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_bulk_request_still_goes_before_a_background_fill() {
    let (gate, clock) = gate_at("2026-03-10T08:00:00Z", limits(1, 500, 15_500));
    let t0 = clock.now();
    try_now(&gate, Priority::Interactive).unwrap();
    let fill = spawn_acquire(&gate, Priority::Background, None);
    settle().await;
    let bulk = spawn_acquire(&gate, Priority::Bulk, None);
    settle().await;

    clock.set(t0 + MINUTE);
    settle().await;

    assert!(bulk.is_finished());
    assert!(!fill.is_finished());
    bulk.await.unwrap().unwrap();
}

#[tokio::test]
async fn bulk_requests_and_fills_stop_at_the_reserve_while_interactive_requests_spend_it() {
    // Arrange: 5 calls a day, the last 2 kept for interactive callers.
    let mut with_reserve = limits(100, 5, 15_500);
    with_reserve.reserve_interactive = 2;
    let (gate, _clock) = gate_at("2026-03-10T08:00:00Z", with_reserve);
    for _ in 0..3 {
        try_now(&gate, Priority::Bulk).unwrap();
    }

    // Act
    let bulk = try_now(&gate, Priority::Bulk).unwrap_err();
    let fill = try_now(&gate, Priority::Background).unwrap_err();
    let interactive = [
        try_now(&gate, Priority::Interactive),
        try_now(&gate, Priority::Interactive),
    ];
    let spent = try_now(&gate, Priority::Interactive).unwrap_err();

    // Assert
    assert_eq!(bulk.reason, DenyReason::Reserve);
    assert_eq!(bulk.retry_at, at("2026-03-11T00:00:00Z"));
    assert_eq!(fill.reason, DenyReason::Reserve);
    assert!(interactive.iter().all(Result::is_ok));
    assert_eq!(spent.reason, DenyReason::Day);
}
