//! Three replicas under a randomised concurrent load of overlapping batches never exceed the
//! shared per-minute rate or day and never fetch one observable twice.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::join_all;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;
use vtenrich::simulator::SimCall;

use crate::support::redis_server::RedisServer;
use crate::support::service::Service;
use crate::{call_log, count_status, known_addresses, replicas, results, simulator};

/// One request of the randomised load.
struct Batch {
    replica: usize,
    ips: Vec<String>,
    max_wait_ms: u64,
    pause: Duration,
}

/// Each client's batches, drawn from `pool` with `seed`: overlapping, with repeats, sent to
/// random replicas.
fn load_plan(seed: u64, pool: &[String], clients: usize, per_client: usize) -> Vec<Vec<Batch>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..clients)
        .map(|_| {
            (0..per_client)
                .map(|_| {
                    let size = rng.random_range(1..=6);
                    Batch {
                        replica: rng.random_range(0..3),
                        ips: (0..size)
                            .map(|_| pool[rng.random_range(0..pool.len())].clone())
                            .collect(),
                        max_wait_ms: rng.random_range(0..=2000),
                        pause: Duration::from_millis(rng.random_range(0..=1500)),
                    }
                })
                .collect()
        })
        .collect()
}

/// What one batch got: client, replica, its wait, when it was sent, how long it took, the answer.
pub(crate) type Answered = (usize, usize, u64, Duration, Duration, Value);

/// Six clients send up to `per_client` batches each (drawn with `seed`) to the three
/// replicas of `fleet` for `load_for`, while `during` runs beside them; returns every answer
/// and when the load began. Calls already granted finish before it returns.
pub(crate) async fn run_load(
    fleet: &[Service],
    seed: u64,
    per_client: usize,
    load_for: Duration,
    during: impl Future<Output = ()>,
) -> (Vec<Answered>, DateTime<Utc>) {
    let pool = known_addresses(7, 30);
    let plan = load_plan(seed, &pool, 6, per_client);
    let started = Instant::now();
    let origin = Utc::now();

    let clients = plan.iter().enumerate().map(|(client, batches)| async move {
        let mut answers = Vec::new();
        for batch in batches {
            if started.elapsed() > load_for {
                break;
            }
            tokio::time::sleep(batch.pause).await;
            let sent = started.elapsed();
            let replica = &fleet[batch.replica];
            let answer = replica.enrich(&batch.ips, batch.max_wait_ms).await;
            let took = started.elapsed() - sent;
            answers.push((client, batch.replica, batch.max_wait_ms, sent, took, answer));
        }
        answers
    });
    let (answers, ()) = tokio::join!(join_all(clients), during);
    // Calls already granted finish; then nothing can call any more.
    tokio::time::sleep(Duration::from_secs(2)).await;
    (answers.into_iter().flatten().collect(), origin)
}

/// The fleet held VirusTotal's limits of 4 a minute and `per_day` a day, fetched no
/// observable twice, and answered every batch with results, not errors.
pub(crate) fn assert_one_quota_and_one_fetch(
    seed: u64,
    calls: &[SimCall],
    answers: &[Answered],
    origin: DateTime<Utc>,
    per_day: usize,
    logs: &[String],
) {
    let log = call_log(calls, origin);
    let slowest = answers.iter().map(|a| a.4).max().unwrap_or_default();
    eprintln!(
        "seed {seed:#x}: {} batches, slowest answer {slowest:?}, {} calls:\n{log}",
        answers.len(),
        calls.len()
    );
    for (client, replica, wait, sent, took, answer) in answers {
        if *took > Duration::from_millis(*wait + 5000) {
            eprintln!(
                "slow: client {client} replica {replica} wait {wait} ms sent {sent:?} took \
                 {took:?}: {:?}",
                results(answer)
            );
        }
    }
    assert!(
        calls.iter().all(|c| c.status != 429),
        "VirusTotal answered 429:\n{log}"
    );
    assert!(
        calls.len() <= per_day,
        "more calls than the day allows:\n{log}"
    );
    for window in calls.windows(5) {
        assert!(
            window[4].at - window[0].at >= chrono::Duration::seconds(60),
            "five calls within 60 s ({} .. {}):\n{log}",
            window[0].ip,
            window[4].ip
        );
    }
    let mut per_ip: BTreeMap<&str, usize> = BTreeMap::new();
    for call in calls {
        *per_ip.entry(call.ip.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = per_ip.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "observables called more than once: {twice:?}\n{log}\nreplica logs:\n{}",
        logs.join("\n----\n")
    );
    for (client, replica, wait, sent, took, answer) in answers {
        for (input, status, _) in results(answer) {
            assert!(
                ["ok", "not_found", "deferred"].contains(&status.as_str()),
                "client {client} to replica {replica} (wait {wait} ms, sent at {sent:?}, \
                 took {took:?}): {input} is {status}: {answer}"
            );
        }
    }
    assert!(calls.len() >= 4, "the fleet spent its first minute:\n{log}");
    assert!(
        answers.iter().any(|a| count_status(&a.5, "ok") > 0),
        "some answers came back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_three_replicas_never_exceed_the_shared_rate_or_day_and_never_fetch_one_observable_twice()
 {
    // Arrange: VirusTotal's own limits equal the replicas', so any overrun is also a 429.
    const SEED: u64 = 0x5EED_F1EE;
    // Long enough to cross one minute boundary: the only way a 60 s window can hold a fifth
    // call, and when the deferred queues of all three replicas compete for the new slots.
    const LOAD_FOR: Duration = Duration::from_secs(65);
    let sim = simulator(Some(4), Some(20)).await;
    let redis = RedisServer::start();
    let fleet = replicas(
        3,
        &sim,
        &redis.url(),
        &[
            ("VTENRICH_VT_RATE_PER_MINUTE", "4"),
            ("VTENRICH_VT_DAILY_QUOTA", "20"),
            ("VTENRICH_EXPECTED_REPLICAS", "3"),
        ],
    )
    .await;

    // Act: six clients, each sending its batches one after another until the load ends.
    let (answers, origin) = run_load(&fleet, SEED, 40, LOAD_FOR, async {}).await;
    let logs: Vec<String> = fleet.iter().map(Service::logs).collect();
    drop(fleet);
    let mut calls = sim.calls();
    calls.sort_by_key(|c| c.at);

    // Assert
    assert_one_quota_and_one_fetch(SEED, &calls, &answers, origin, 20, &logs);
}
