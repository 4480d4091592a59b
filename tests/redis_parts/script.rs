//! The quota script's arithmetic, called directly with a "now" override: minute window
//! boundaries and the arrival margin, day and month resets, the blocked flag, adoption,
//! idempotent pay-back.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use vtenrich::quota::{DEFAULT_ARRIVAL_MARGIN, DenyReason, Limits};
use vtenrich::redis::{BlockFor, Call, Keys, Op, QuotaScript, Reply, Status};

use crate::common::{NS, all_keys, at, counter, limits, pttl};
use crate::support::redis_server::RedisServer;

struct Harness {
    script: QuotaScript,
    conn: redis::aio::MultiplexedConnection,
    keys: Keys,
    next: u64,
    _server: RedisServer,
}

impl Harness {
    async fn new(limits: Limits) -> Self {
        Self::with_margin(limits, DEFAULT_ARRIVAL_MARGIN).await
    }

    async fn with_margin(limits: Limits, arrival_margin: Duration) -> Self {
        let server = RedisServer::start();
        let keys = Keys::new(NS).unwrap();
        Self {
            script: QuotaScript::new(keys.clone(), limits, arrival_margin),
            conn: server.connection().await,
            keys,
            next: 0,
            _server: server,
        }
    }

    async fn run(&mut self, now: DateTime<Utc>, op: Op) -> Reply {
        let call = Call {
            op,
            date: now.date_naive(),
            now_ms: Some(now.timestamp_millis()),
        };
        self.script.call(&mut self.conn, &call).await.unwrap()
    }

    async fn acquire(&mut self, now: DateTime<Utc>) -> Reply {
        self.next += 1;
        let member = format!("test:{}", self.next);
        self.run(now, Op::Acquire { member, reserve: 0 }).await
    }

    async fn granted(&mut self, now: DateTime<Utc>) {
        let reply = self.acquire(now).await;
        assert_eq!(reply.status, Status::Granted, "at {now}: {reply:?}");
    }

    async fn denied(&mut self, now: DateTime<Utc>) -> (DenyReason, u64) {
        let reply = self.acquire(now).await;
        assert_eq!(reply.status, Status::Denied, "at {now}: {reply:?}");
        (
            reply.reason.expect("a denial names its reason"),
            reply.retry_ms,
        )
    }
}

fn ms(n: i64) -> TimeDelta {
    TimeDelta::milliseconds(n)
}

/// How long a grant keeps its slot with the default margin: 60 s plus 1 s.
const WINDOW_MS: i64 = 61_000;

#[tokio::test]
async fn redis_the_rate_goes_at_once_then_each_slot_frees_when_its_grant_turns_61_s_old() {
    let mut h = Harness::new(limits(4, 500, 15_500)).await;
    let t0 = at("2026-03-10T08:00:00Z");
    for i in 0..4 {
        h.granted(t0 + ms(i * 1000)).await;
    }

    let fifth = h.denied(t0 + ms(10_000)).await;
    let at_60_s = h.denied(t0 + ms(60_000)).await;
    let last_ms = h.denied(t0 + ms(60_999)).await;
    h.granted(t0 + ms(61_000)).await;
    let next = h.denied(t0 + ms(61_000)).await;

    assert_eq!(fifth, (DenyReason::Minute, 51_000));
    assert_eq!(at_60_s, (DenyReason::Minute, 1_000), "60 s plus the margin");
    assert_eq!(last_ms, (DenyReason::Minute, 1));
    assert_eq!(
        next,
        (DenyReason::Minute, 1_000),
        "the second grant ages out at t0+62s"
    );
}

#[tokio::test]
async fn redis_the_arrival_margin_is_configurable_and_zero_gives_the_bare_minute() {
    for margin_ms in [0, 5_000] {
        let margin = Duration::from_millis(margin_ms);
        let mut h = Harness::with_margin(limits(1, 500, 15_500), margin).await;
        let t0 = at("2026-03-10T08:00:00Z");
        h.granted(t0).await;

        let first = h.denied(t0).await;
        let last_ms = h.denied(t0 + ms(60_000 + margin_ms as i64 - 1)).await;
        h.granted(t0 + ms(60_000 + margin_ms as i64)).await;

        let window = 60_000 + margin_ms;
        assert_eq!(first, (DenyReason::Minute, window), "margin {margin_ms}");
        assert_eq!(last_ms, (DenyReason::Minute, 1), "margin {margin_ms}");
    }
}

/// A small deterministic generator, so the randomised test replays.
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
async fn redis_random_calls_arriving_up_to_the_margin_late_never_put_more_than_the_rate_into_any_60_s_window()
 {
    for seed in 1..=4u64 {
        let rate = 1 + seed as u32;
        let mut h = Harness::new(limits(rate, 10_000, 100_000)).await;
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut now = at("2026-03-10T08:00:00Z");
        let mut granted: Vec<DateTime<Utc>> = Vec::new();

        for _ in 0..120 {
            now += ms(rng.below(20_000) as i64);
            let reply = h.acquire(now).await;
            match reply.status {
                Status::Granted => granted.push(now),
                Status::Denied => {
                    // Denied only when the window is full, told exactly when it frees.
                    let in_window: Vec<_> = granted
                        .iter()
                        .filter(|t| **t > now - ms(WINDOW_MS))
                        .collect();
                    assert_eq!(in_window.len(), rate as usize, "seed {seed}");
                    let frees = *in_window[0] + ms(WINDOW_MS);
                    assert_eq!(now + ms(reply.retry_ms as i64), frees, "seed {seed}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }

        // VirusTotal counts arrivals: each call arrives up to the margin (1 s) after its
        // grant, and still no 60 s window of arrivals holds more than the rate.
        let mut arrivals: Vec<DateTime<Utc>> = granted
            .iter()
            .map(|t| *t + ms(rng.below(1_001) as i64))
            .collect();
        arrivals.sort_unstable();
        for (i, start) in arrivals.iter().enumerate() {
            let in_window = arrivals[i..]
                .iter()
                .take_while(|t| **t < *start + ms(60_000))
                .count();
            assert!(
                in_window <= rate as usize,
                "seed {seed}: {in_window} arrivals in one minute"
            );
        }
        let day = h.keys.day(now.date_naive());
        assert_eq!(counter(&mut h.conn, &day).await, granted.len() as u64);
    }
}

#[tokio::test]
async fn redis_the_day_budget_resets_at_midnight_utc_under_a_new_key() {
    let mut h = Harness::new(limits(4, 2, 15_500)).await;
    h.granted(at("2026-03-10T23:58:00Z")).await;
    h.granted(at("2026-03-10T23:58:01Z")).await;

    let spent = h.denied(at("2026-03-10T23:59:59.999Z")).await;
    h.granted(at("2026-03-11T00:00:00Z")).await;

    assert_eq!(spent, (DenyReason::Day, 1));
    let (yesterday, today) = (at("2026-03-10T12:00:00Z"), at("2026-03-11T12:00:00Z"));
    assert_eq!(
        counter(&mut h.conn, &h.keys.day(yesterday.date_naive())).await,
        2
    );
    assert_eq!(
        counter(&mut h.conn, &h.keys.day(today.date_naive())).await,
        1
    );
    assert_eq!(
        counter(&mut h.conn, &h.keys.month(today.date_naive())).await,
        3
    );
    // The day key expires an hour after its midnight (now + 24 h + 1 h, in Redis's time).
    let ttl = pttl(&mut h.conn, &h.keys.day(today.date_naive())).await;
    assert!(ttl > 0 && ttl <= 25 * 3_600_000, "{ttl}");
}

#[tokio::test]
async fn redis_the_month_budget_survives_a_new_day_and_resets_on_the_first() {
    let mut h = Harness::new(limits(4, 500, 2)).await;
    h.granted(at("2026-02-27T10:00:00Z")).await;
    h.granted(at("2026-02-27T10:00:01Z")).await;

    let spent = h.denied(at("2026-02-28T10:00:00Z")).await;
    h.granted(at("2026-03-01T00:00:00Z")).await;

    assert_eq!(spent, (DenyReason::Month, 14 * 3_600_000));
    let march = at("2026-03-01T00:00:00Z").date_naive();
    assert_eq!(counter(&mut h.conn, &h.keys.month(march)).await, 1);
}

#[tokio::test]
async fn redis_the_month_after_december_is_january_of_the_next_year() {
    let mut h = Harness::new(limits(4, 500, 1)).await;
    h.granted(at("2026-12-31T23:00:00Z")).await;

    let spent = h.denied(at("2026-12-31T23:59:00Z")).await;
    h.granted(at("2027-01-01T00:00:00Z")).await;

    assert_eq!(spent, (DenyReason::Month, 60_000));
}

#[tokio::test]
async fn redis_a_date_other_than_the_scripts_own_is_refused_with_its_time() {
    let mut h = Harness::new(limits(4, 500, 15_500)).await;
    let now = at("2026-03-11T00:00:00.500Z");
    let call = Call {
        op: Op::Peek,
        date: at("2026-03-10T23:59:59Z").date_naive(),
        now_ms: Some(now.timestamp_millis()),
    };

    let reply = h.script.call(&mut h.conn, &call).await.unwrap();

    assert_eq!(reply.status, Status::WrongDate);
    assert_eq!(reply.now_ms, now.timestamp_millis());
    assert!(
        all_keys(&mut h.conn).await.is_empty(),
        "nothing was written"
    );
}

#[tokio::test]
async fn redis_a_block_denies_with_its_remaining_time_and_is_never_shortened() {
    let mut h = Harness::new(limits(4, 500, 15_500)).await;
    let t0 = at("2026-03-10T15:30:00Z");
    h.run(t0, Op::Block(BlockFor::Duration(Duration::from_secs(30))))
        .await;

    let blocked = h.denied(t0 + ms(10_000)).await;
    h.run(t0 + ms(10_000), Op::Block(BlockFor::Midnight)).await;
    h.run(
        t0 + ms(20_000),
        Op::Block(BlockFor::Duration(Duration::from_secs(5))),
    )
    .await;
    let until_midnight = h.denied(t0 + ms(60_000)).await;
    let ttl = pttl(&mut h.conn, &h.keys.blocked()).await;
    h.granted(at("2026-03-11T00:00:00Z")).await;

    assert_eq!(blocked, (DenyReason::Blocked, 20_000));
    assert_eq!(
        until_midnight,
        (DenyReason::Blocked, 8 * 3_600_000 + 29 * 60_000)
    );
    assert!(ttl > 0, "the flag expires by itself: {ttl}");
}

#[tokio::test]
async fn redis_a_block_until_a_moment_is_kept_and_reported() {
    let mut h = Harness::new(limits(4, 500, 15_500)).await;
    let t0 = at("2026-03-10T15:30:00Z");
    let until = t0 + ms(45_000);

    let reply = h
        .run(t0, Op::Block(BlockFor::Until(until.timestamp_millis())))
        .await;

    assert_eq!(reply.status, Status::Done);
    assert_eq!(reply.blocked_until_ms, Some(until.timestamp_millis()));
    assert_eq!(h.denied(t0 + ms(44_999)).await, (DenyReason::Blocked, 1));
    h.granted(until).await;
}

#[tokio::test]
async fn redis_adopting_raises_the_counters_but_never_lowers_them() {
    let mut h = Harness::new(limits(4, 500, 15_500)).await;
    let now = at("2026-03-10T08:00:00Z");
    h.granted(now).await;
    h.granted(now).await;

    let raised = h
        .run(
            now,
            Op::Adopt {
                day_used: 1,
                month_used: 40,
            },
        )
        .await;
    h.run(
        now,
        Op::Adopt {
            day_used: 500,
            month_used: 3,
        },
    )
    .await;

    assert_eq!((raised.day_used, raised.month_used), (2, 40));
    assert_eq!(h.denied(now + ms(1)).await.0, DenyReason::Day);
    let month = h.keys.month(now.date_naive());
    assert_eq!(counter(&mut h.conn, &month).await, 40);
}

#[tokio::test]
async fn redis_a_batch_of_fallback_spends_is_added_once_however_often_it_is_sent() {
    let mut h = Harness::new(limits(4, 500, 15_500)).await;
    let now = at("2026-03-10T08:00:00Z");
    let grants = vec![(now - ms(10_000)).timestamp_millis(); 3];
    let op = Op::Add {
        batch: "replica-a:0".to_owned(),
        count: 3,
        grants,
    };

    let first = h.run(now, op.clone()).await;
    let again = h.run(now, op).await;

    assert!(first.applied);
    assert!(!again.applied);
    assert_eq!(counter(&mut h.conn, &h.keys.day(now.date_naive())).await, 3);
    // The three spends sit in the minute window: one slot is left until they age out.
    h.granted(now).await;
    assert_eq!(h.denied(now).await, (DenyReason::Minute, 51_000));
}

#[tokio::test]
async fn redis_spends_of_a_past_day_go_to_that_days_counter() {
    let mut h = Harness::new(limits(4, 500, 15_500)).await;
    let yesterday = at("2026-03-09T23:59:00Z");
    let now = at("2026-03-10T00:05:00Z");
    let call = Call {
        op: Op::Add {
            batch: "replica-a:1".to_owned(),
            count: 2,
            grants: vec![yesterday.timestamp_millis()],
        },
        date: yesterday.date_naive(),
        now_ms: Some(now.timestamp_millis()),
    };

    h.script.call(&mut h.conn, &call).await.unwrap();

    assert_eq!(
        counter(&mut h.conn, &h.keys.day(yesterday.date_naive())).await,
        2
    );
    assert_eq!(counter(&mut h.conn, &h.keys.day(now.date_naive())).await, 0);
    let month = h.keys.month(now.date_naive());
    assert_eq!(counter(&mut h.conn, &month).await, 2, "same month");
}

#[tokio::test]
async fn redis_every_key_the_script_writes_carries_the_accounts_hash_tag() {
    let mut h = Harness::new(limits(4, 500, 15_500)).await;
    let now = at("2026-03-10T08:00:00Z");
    h.granted(now).await;
    h.run(now, Op::Block(BlockFor::Midnight)).await;
    h.run(
        now,
        Op::Add {
            batch: "b".to_owned(),
            count: 1,
            grants: vec![now.timestamp_millis()],
        },
    )
    .await;

    let keys = all_keys(&mut h.conn).await;

    assert_eq!(keys.len(), 5, "{keys:?}");
    for key in keys {
        assert!(key.starts_with("{acct}:"), "{key}");
    }
}

#[tokio::test]
async fn redis_without_an_override_the_script_counts_on_redis_time() {
    let mut h = Harness::new(limits(4, 500, 15_500)).await;
    let ask = |date| Call {
        op: Op::Acquire {
            member: "m".to_owned(),
            reserve: 0,
        },
        date,
        now_ms: None,
    };

    // The test machine's date may differ from Redis's only across midnight; then the
    // script names its own time and the second call uses it.
    let mut reply = h
        .script
        .call(&mut h.conn, &ask(Utc::now().date_naive()))
        .await
        .unwrap();
    if reply.status == Status::WrongDate {
        let date = DateTime::from_timestamp_millis(reply.now_ms)
            .unwrap()
            .date_naive();
        reply = h.script.call(&mut h.conn, &ask(date)).await.unwrap();
    }

    assert_eq!(reply.status, Status::Granted);
    let redis_date = DateTime::from_timestamp_millis(reply.now_ms)
        .unwrap()
        .date_naive();
    assert_eq!(counter(&mut h.conn, &h.keys.day(redis_date)).await, 1);
    assert_eq!(reply.minute_frees_ms, reply.now_ms + WINDOW_MS);
}
