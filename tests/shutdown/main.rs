//! A real `vtenrich serve` process: graceful shutdown, `vtenrich healthcheck`, and (in
//! `flood`) a connection flood under a small file-descriptor limit.
//!
//! Each test starts the binary through the `support` harness against the in-process simulator
//! and signals it with `kill -TERM`.

use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use vtenrich::clock::SystemClock;
use vtenrich::simulator::{Simulator, SimulatorConfig};

#[path = "../support/mod.rs"]
mod support;

mod flood;

use support::service::{Service, clean_environment};

const SIM_KEY: &str = "shutdown-test-key";
/// Upper bound for anything the child is waited for (start, exit, refused connections).
const PATIENCE: Duration = Duration::from_secs(30);

/// Starts `vtenrich serve` against `sim`, with limits no test reaches.
async fn start_server(sim: &Simulator, drain_delay: &str) -> Service {
    Service::builder()
        .env("VTENRICH_VT_BASE_URL", sim.base_url().as_str())
        .env("VTENRICH_VT_API_KEY", SIM_KEY)
        .env("VTENRICH_DATA_DIR", "none")
        .env("VTENRICH_DRAIN_DELAY", drain_delay)
        .env("VTENRICH_VT_RATE_PER_MINUTE", "100000")
        .env("VTENRICH_VT_DAILY_QUOTA", "1000000")
        .env("VTENRICH_VT_MONTHLY_QUOTA", "10000000")
        .start()
        .await
}

/// A simulator answering after `latency`, so every new address keeps a request in flight.
async fn start_simulator(latency: Duration) -> Simulator {
    Simulator::start(
        SimulatorConfig {
            api_key: SIM_KEY.into(),
            latency,
            ..SimulatorConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await
    .expect("simulator starts")
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .expect("client builds")
}

/// How one request of the load ended.
#[derive(Debug)]
struct Outcome {
    /// Sent before SIGTERM: it must succeed, whether it ended before or after the signal.
    sent_before_signal: bool,
    /// Still running when SIGTERM was sent.
    in_flight_at_signal: bool,
    /// The HTTP status, or `None` for a transport error (refused or closed connection).
    status: Option<u16>,
}

/// Sends lookups until the server stops accepting or `count` is reached: every other one a
/// new address (one slow upstream call), the rest an address already cached.
async fn load(
    client: reqwest::Client,
    base: String,
    worker: u8,
    count: u8,
    signalled: Arc<AtomicBool>,
    new_started: Arc<AtomicUsize>,
) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for i in 0..count {
        let ip = if i % 2 == 0 {
            new_started.fetch_add(1, Ordering::SeqCst);
            format!("8.{worker}.{i}.1")
        } else {
            format!("8.{worker}.0.1")
        };
        let sent_before_signal = !signalled.load(Ordering::SeqCst);
        let result = client.get(format!("{base}/v1/ip/{ip}")).send().await;
        let in_flight_at_signal = sent_before_signal && signalled.load(Ordering::SeqCst);
        let status = match result {
            Ok(response) => {
                let status = response.status().as_u16();
                // The body is part of the request: a cut-off body is a failure.
                match response.bytes().await {
                    Ok(_) => Some(status),
                    Err(_) => None,
                }
            }
            Err(_) => None,
        };
        let refused = status.is_none() && !sent_before_signal;
        outcomes.push(Outcome {
            sent_before_signal,
            in_flight_at_signal,
            status,
        });
        if refused {
            break;
        }
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_sigterm_lets_every_in_flight_request_finish_and_exits_zero() {
    // Arrange: upstream answers take far longer than the drain delay, so requests running at
    // SIGTERM are still running when the listener closes and must be finished, not dropped.
    const WORKERS: u8 = 6;
    let sim = start_simulator(Duration::from_millis(1500)).await;
    let mut server = start_server(&sim, "300ms").await;
    let client = http_client();
    let signalled = Arc::new(AtomicBool::new(false));
    let new_started = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (1..=WORKERS)
        .map(|worker| {
            tokio::spawn(load(
                client.clone(),
                server.url(""),
                worker,
                60,
                signalled.clone(),
                new_started.clone(),
            ))
        })
        .collect();
    // The simulator records a call as it answers: once the first wave is answered (and its
    // cached follow-ups served), each worker's second new address is on its way upstream.
    let second_wave = 2 * usize::from(WORKERS);
    for _ in 0..(PATIENCE.as_millis() / 10) {
        if sim.ip_call_count() >= usize::from(WORKERS)
            && new_started.load(Ordering::SeqCst) >= second_wave
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        new_started.load(Ordering::SeqCst) >= second_wave,
        "the load never got going"
    );

    // Act
    signalled.store(true, Ordering::SeqCst);
    server.signal_term();
    let status = server.exit_status().await;
    let mut outcomes = Vec::new();
    for worker in workers {
        outcomes.extend(worker.await.expect("worker finishes"));
    }

    // Assert
    assert!(status.success(), "vtenrich exited with {status}");
    let in_flight = outcomes.iter().filter(|o| o.in_flight_at_signal).count();
    assert!(in_flight > 0, "no request was in flight at SIGTERM");
    let failed_before: Vec<_> = outcomes
        .iter()
        .filter(|o| o.sent_before_signal && o.status != Some(200))
        .collect();
    assert!(
        failed_before.is_empty(),
        "requests sent before SIGTERM failed: {failed_before:?}"
    );
    let errors_after: Vec<_> = outcomes
        .iter()
        .filter(|o| matches!(o.status, Some(status) if status != 200))
        .collect();
    assert!(
        errors_after.is_empty(),
        "answered with an error status: {errors_after:?}"
    );
}

#[tokio::test]
async fn process_sigterm_turns_readiness_503_during_the_drain_then_refuses_connections() {
    // Arrange: long enough to observe /readyz answering 503 on a loaded machine.
    let sim = start_simulator(Duration::ZERO).await;
    let mut server = start_server(&sim, "1500ms").await;
    let client = http_client();
    let ready = client
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("readyz answers");
    assert_eq!(ready.status(), 200, "not ready before the signal");

    // Act
    server.signal_term();
    let mut saw_not_ready = false;
    for _ in 0..200 {
        match client.get(server.url("/readyz")).send().await {
            Ok(response) if response.status() == 503 => {
                saw_not_ready = true;
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(err) => panic!("readyz unreachable before 503 was seen: {err}"),
        }
    }
    let mut refused = false;
    for _ in 0..(PATIENCE.as_millis() / 20) {
        if tokio::net::TcpStream::connect(server.address)
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = server.exit_status().await;

    // Assert
    assert!(saw_not_ready, "/readyz never answered 503 after SIGTERM");
    assert!(
        refused,
        "new connections were still accepted after the drain"
    );
    assert!(status.success(), "vtenrich exited with {status}");
}

/// Runs `vtenrich healthcheck <url>` with a clean VTENRICH_* environment.
fn healthcheck(url: &str) -> ExitStatus {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vtenrich"));
    clean_environment(&mut command);
    command
        .args(["healthcheck", url, "--timeout", "5s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("vtenrich healthcheck runs")
}

#[tokio::test]
async fn process_healthcheck_exits_zero_against_a_ready_instance() {
    // Arrange
    let sim = start_simulator(Duration::ZERO).await;
    let server = start_server(&sim, "1s").await;
    let url = server.url("/readyz");

    // Act
    let status = tokio::task::spawn_blocking(move || healthcheck(&url))
        .await
        .expect("healthcheck joins");

    // Assert
    assert!(status.success(), "healthcheck failed: {status}");
}

#[tokio::test]
async fn process_healthcheck_fails_against_a_closed_port() {
    // Arrange: a port that was free a moment ago and now has no listener.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/readyz");

    // Act
    let status = tokio::task::spawn_blocking(move || healthcheck(&url))
        .await
        .expect("healthcheck joins");

    // Assert
    assert!(
        !status.success(),
        "healthcheck passed against a closed port"
    );
}
