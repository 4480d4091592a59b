//! Nothing paid for is lost: after `kill -9` and a restart, answers already fetched are not
//! fetched again, the day/month counts continue and the last minute's calls still count;
//! a corrupted store starts cleanly.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::service::Service;
use vtenrich::clock::SystemClock;
use vtenrich::simulator::{Simulator, SimulatorConfig};

const KEY: &str = "restart-test-key";

async fn start(sim: &Simulator, data_dir: &Path) -> Service {
    start_with(sim, data_dir, &[]).await
}

async fn start_with(sim: &Simulator, data_dir: &Path, extra_env: &[(&str, &str)]) -> Service {
    Service::builder()
        .env("VTENRICH_VT_API_KEY", KEY)
        .env("VTENRICH_VT_BASE_URL", sim.base_url().as_str())
        .env(
            "VTENRICH_DATA_DIR",
            data_dir.to_str().expect("a UTF-8 path"),
        )
        .env("VTENRICH_VT_RATE_PER_MINUTE", "1000")
        .envs(extra_env)
        .start()
        .await
}

async fn enrich(service: &Service, ips: &[String]) -> serde_json::Value {
    reqwest::Client::new()
        .post(format!("{}/v1/enrich", service.base))
        .json(&json!({"observables": ips, "max_wait_ms": 5000}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn quota(service: &Service) -> serde_json::Value {
    reqwest::get(format!("{}/v1/quota", service.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// EICAR's MD5, a file the simulator always knows.
const EICAR_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";

fn addresses(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("81.3.{i}.17")).collect()
}

async fn simulator() -> Simulator {
    Simulator::start(
        SimulatorConfig {
            api_key: KEY.into(),
            ..SimulatorConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn process_after_kill_9_and_a_restart_nothing_answered_is_fetched_again_and_counts_continue()
{
    // Arrange: 15 answers of every type paid for, then a hard kill.
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let mut observables = addresses(12);
    observables.extend(["github.com", "https://github.com/", EICAR_MD5].map(str::to_owned));
    let mut first = start(&sim, dir.path()).await;
    let before = enrich(&first, &observables).await;
    assert_eq!(before["summary"]["upstream_calls"], 15, "{before}");
    let counts_before = quota(&first).await;
    first.kill(); // SIGKILL: no shutdown code runs
    let calls_before_restart = sim.total_call_count();
    // The file's other hash, which its answer made an entry for too.
    let sha256 = before["results"][14]["file"]["sha256"].as_str().unwrap();
    observables.push(sha256.to_owned());

    // Act
    let second = start(&sim, dir.path()).await;
    let after = enrich(&second, &observables).await;
    let counts_after = quota(&second).await;

    // Assert
    assert_eq!(
        sim.total_call_count(),
        calls_before_restart,
        "no answer of any type fetched twice"
    );
    assert_eq!(after["summary"]["upstream_calls"], 0);
    assert_eq!(after["summary"]["by_source"]["cache"], 16, "{after}");
    for window in ["day", "month"] {
        assert_eq!(
            counts_after["windows"][window]["used"], counts_before["windows"][window]["used"],
            "{window} count continues"
        );
        assert_eq!(counts_after["windows"][window]["used"], 15);
    }
}

#[tokio::test]
async fn process_after_kill_9_and_a_restart_the_minute_still_holds_its_four_calls() {
    // Arrange: four calls a minute, all four spent, then a hard kill.
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let four_a_minute = [("VTENRICH_VT_RATE_PER_MINUTE", "4")];
    let mut first = start_with(&sim, dir.path(), &four_a_minute).await;
    let before = enrich(&first, &addresses(4)).await;
    assert_eq!(before["summary"]["upstream_calls"], 4, "{before}");
    first.kill(); // SIGKILL: no shutdown code runs

    // Act: a crash loop's restart, well within the minute, and a new lookup.
    let second = start_with(&sim, dir.path(), &four_a_minute).await;
    let fifth = enrich(&second, &["81.3.99.17".to_owned()]).await;
    let counts = quota(&second).await;

    // Assert
    assert_eq!(fifth["results"][0]["status"], "deferred", "{fifth}");
    assert_eq!(sim.ip_call_count(), 4, "no fifth call within the minute");
    assert_eq!(counts["windows"]["minute"]["used"], 4, "{counts}");
    assert_eq!(counts["windows"]["day"]["used"], 4, "{counts}");
}

#[tokio::test]
async fn process_a_corrupted_store_is_moved_aside_and_the_service_starts_empty() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vtenrich.redb"), vec![0xA5u8; 64 * 1024]).unwrap();

    let service = start(&sim, dir.path()).await;
    let answer = enrich(&service, &addresses(2)).await;

    assert_eq!(
        answer["summary"]["by_status"]["ok"].as_u64().unwrap()
            + answer["summary"]["by_status"]["not_found"]
                .as_u64()
                .unwrap(),
        2,
        "{answer}"
    );
    let moved = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
    assert!(moved, "the bad file is kept aside for inspection");
    let ready = reqwest::get(format!("{}/readyz", service.base))
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
}

#[tokio::test]
async fn process_an_unusable_data_directory_degrades_to_memory_only_and_keeps_serving() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-directory");
    std::fs::write(&blocker, b"a file where the data directory should be").unwrap();

    let service = start(&sim, &blocker.join("data")).await;
    let answer = enrich(&service, &addresses(1)).await;
    let metrics = reqwest::get(format!("{}/metrics", service.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert_eq!(answer["summary"]["total"], 1, "{answer}");
    assert_ne!(answer["results"][0]["status"], "error", "{answer}");
    assert!(
        metrics.lines().any(|l| l == "vtenrich_store_degraded 1"),
        "degradation is visible"
    );
}

// Multi-threaded: the simulator must keep answering while this thread waits for the child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_an_answer_in_flight_at_sigterm_is_written_before_the_process_exits() {
    // Arrange: a slow upstream, and a caller that gives up before the answer comes.
    let sim = Simulator::start(
        SimulatorConfig {
            api_key: KEY.into(),
            latency: Duration::from_millis(1_500),
            ..SimulatorConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ip = "81.4.5.6".to_owned();
    let mut service = start_with(&sim, dir.path(), &[("VTENRICH_DRAIN_DELAY", "0s")]).await;
    let impatient = reqwest::Client::new()
        .get(format!("{}/v1/ip/{ip}", service.base))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(
        impatient.is_err(),
        "the caller gave up while the call was in flight"
    );

    // Act: stop gracefully while the answer is still on its way.
    service.signal_term();
    let exit = service.exit_status().await;
    let restarted = start(&sim, dir.path()).await;
    let answer = enrich(&restarted, std::slice::from_ref(&ip)).await;

    // Assert
    assert!(exit.success(), "{exit:?}");
    assert_eq!(sim.calls_for(&ip), 1, "paid once, kept: {answer}");
    assert_eq!(answer["results"][0]["source"], "cache", "{answer}");
}

#[tokio::test]
async fn process_after_kill_9_and_a_restart_a_callers_charged_calls_still_count_against_its_cap() {
    // Arrange: a caller with a cap of 2 spends it, then a hard kill.
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vtenrich.toml");
    let caller_key = "soar-restart-key";
    std::fs::write(
        &config,
        format!(
            "[[callers]]\nid = \"soar\"\nkey_sha256 = [\"{}\"]\ndaily_cap = 2\n",
            vtenrich::http::hash_key(caller_key)
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let env = [("VTENRICH_CONFIG", config.to_str().unwrap())];
    let ask = |service: &Service, ips: Vec<String>| {
        let url = format!("{}/v1/enrich", service.base);
        async move {
            reqwest::Client::new()
                .post(url)
                .header("x-api-key", caller_key)
                .json(&json!({"observables": ips, "max_wait_ms": 5000}))
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let mut first = start_with(&sim, &data, &env).await;
    let spent = ask(&first, addresses(2)).await;
    assert_eq!(spent["summary"]["upstream_calls"], 2, "{spent}");
    first.kill(); // SIGKILL: no shutdown code runs
    let calls_before_restart = sim.ip_call_count();

    // Act
    let second = start_with(&sim, &data, &env).await;
    let after = ask(&second, vec!["81.3.99.17".to_owned()]).await;

    // Assert
    assert_eq!(
        sim.ip_call_count(),
        calls_before_restart,
        "no call past the cap"
    );
    assert_eq!(
        after["results"][0]["error"]["code"], "caller_quota_exceeded",
        "{after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_after_kill_9_right_after_a_burst_the_usage_counts_every_virustotal_call_made() {
    // Arrange: four concurrent batches of new addresses, overlapping (single-flight makes one
    // call for an address two batches share), answered slowly enough to be in flight together.
    let sim = Simulator::start(
        SimulatorConfig {
            api_key: KEY.into(),
            latency: Duration::from_millis(50),
            ..SimulatorConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut first = start(&sim, dir.path()).await;
    let batches: Vec<Vec<String>> = (0..4u8)
        .map(|b| (0..8u8).map(|i| format!("81.5.{}.17", b * 6 + i)).collect())
        .collect();
    let answers = futures::future::join_all(batches.iter().map(|ips| enrich(&first, ips))).await;
    first.kill(); // SIGKILL right after the burst: no shutdown code runs
    let made = sim.ip_call_count();

    // Act
    let second = start(&sim, dir.path()).await;
    let usage: serde_json::Value = reqwest::get(format!("{}/v1/usage", second.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // Assert
    let distinct = batches
        .iter()
        .flatten()
        .collect::<std::collections::HashSet<_>>();
    assert_eq!(
        made,
        distinct.len(),
        "one call per distinct address: {answers:?}"
    );
    assert_eq!(
        usage["totals"]["consuming"]["virustotal_calls"], made,
        "the simulator's call log: {usage}"
    );
}
