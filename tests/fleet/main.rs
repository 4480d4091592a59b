//! The Redis scale-out with real processes: several `vtenrich serve` replicas sharing one
//! redis-server in front of one simulator behave as one quota, one cache and one fetch per new
//! observable, and through a Redis outage spend no more than their shares.
//!
//! - `load`: a randomised concurrent load on three replicas under a 4/min, 20/day key.
//! - `failover`: the same load through a Sentinel failover.
//! - `caps`: a caller's daily cap counted for the whole fleet.
//! - `block`: a 429 seen by one replica, and a background fill, act for the whole fleet.
//! - `callers`: a caller created or removed on one replica reaches the others within 2 s.
//! - `audit`: the audit log shared by replicas, and kept across a single node's restart.
//! - `outage`: Redis paused, restarted empty, or gone in closed mode.
//! - `usage`: the fleet's usage, summed across replicas and read from any.

#[path = "../support/mod.rs"]
mod support;

mod audit;
mod block;
mod callers;
mod caps;
mod demo;
mod failover;
mod load;
mod outage;
mod types;
mod usage;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde_json::Value;
use vtenrich::clock::SystemClock;
use vtenrich::simulator::{SimCall, Simulator, SimulatorConfig, ip_object};

use support::redis_server::RedisServer;
use support::service::Service;

const KEY: &str = "fleet-test-key";
/// The Redis namespace of the replicas (each test has its own server).
const NS: &str = "fleet";

/// A simulator enforcing these limits (`None`: unlimited) on the system clock, which the
/// replicas' processes use too.
async fn simulator(per_minute: Option<u32>, per_day: Option<u64>) -> Simulator {
    Simulator::start(
        SimulatorConfig {
            api_key: KEY.into(),
            per_minute,
            per_day,
            ..SimulatorConfig::default()
        },
        std::sync::Arc::new(SystemClock),
    )
    .await
    .expect("the simulator starts")
}

/// Starts `n` replicas sharing the Redis at `redis_url` in front of `sim`, with `vars` on
/// top of the basics.
async fn replicas(
    n: usize,
    sim: &Simulator,
    redis_url: &str,
    vars: &[(&str, &str)],
) -> Vec<Service> {
    let base_url = sim.base_url().to_string();
    let mut all = vec![
        ("VTENRICH_VT_API_KEY", KEY),
        ("VTENRICH_VT_BASE_URL", base_url.as_str()),
        ("VTENRICH_DATA_DIR", "none"),
        ("VTENRICH_REDIS_URL", redis_url),
        ("VTENRICH_REDIS_NAMESPACE", NS),
    ];
    all.extend_from_slice(vars);
    join_all((0..n).map(|_| Service::start(&all))).await
}

/// A configuration file in `dir` with one `[[callers]]` table per (id, key, more TOML
/// lines); its path, for `VTENRICH_CONFIG`.
fn callers_config(dir: &std::path::Path, callers: &[(&str, &str, &str)]) -> String {
    let toml: String = callers
        .iter()
        .map(|(id, key, more)| {
            let hash = vtenrich::http::hash_key(key);
            format!("[[callers]]\nid = \"{id}\"\nkey_sha256 = [\"{hash}\"]\n{more}\n")
        })
        .collect();
    let path = dir.join("vtenrich.toml");
    std::fs::write(&path, toml).expect("the configuration file is written");
    path.display().to_string()
}

/// Asks replica `i` to enrich `parts[i]` as the caller with `key`, all at once; the answers
/// in replica order.
async fn enrich_each(fleet: &[Service], key: &str, parts: Vec<Vec<String>>) -> Vec<Value> {
    let client = reqwest::Client::new();
    join_all(fleet.iter().zip(parts).map(|(replica, part)| {
        let request = client
            .post(format!("{}/v1/enrich", replica.base))
            .bearer_auth(key)
            .json(&serde_json::json!({"observables": part, "max_wait_ms": 5000}));
        async move { request.send().await.unwrap().json().await.unwrap() }
    }))
    .await
}

/// `n` public addresses of `81.<block>.x.y` that the simulator knows (it answers 200).
fn known_addresses(block: u8, n: usize) -> Vec<String> {
    let found: Vec<String> = (0..250u32 * 250)
        .map(|k| format!("81.{block}.{}.{}", k / 250, k % 250 + 1))
        .filter(|ip| ip_object(ip.parse().expect("literal address")).is_some())
        .take(n)
        .collect();
    assert_eq!(
        found.len(),
        n,
        "not enough known addresses in 81.{block}/16"
    );
    found
}

/// `(input, status, source)` of every result of an enrich answer.
fn results(answer: &Value) -> Vec<(String, String, String)> {
    answer["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {answer}"))
        .iter()
        .map(|r| {
            let text = |field: &str| r[field].as_str().unwrap_or("null").to_owned();
            (text("input"), text("status"), text("source"))
        })
        .collect()
}

/// How many results of `answer` have `status`.
fn count_status(answer: &Value, status: &str) -> usize {
    results(answer).iter().filter(|r| r.1 == status).count()
}

/// The call log, one line per call, for failure messages.
fn call_log(calls: &[SimCall], origin: DateTime<Utc>) -> String {
    calls
        .iter()
        .map(|c| {
            let ms = (c.at - origin).num_milliseconds();
            format!("  +{ms:>6} ms {} -> {}", c.ip, c.status)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
