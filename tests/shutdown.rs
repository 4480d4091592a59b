//! A real `vtenrich serve` process: graceful shutdown, `vtenrich healthcheck`, and (in
//! `flood`) a connection flood under a small file-descriptor limit.
//!
//! Each test starts the binary on a free loopback port against the in-process simulator,
//! reads the bound address from its JSON log, and signals it with `kill -TERM` (the crate
//! forbids `unsafe`, so no `libc::kill`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use vtenrich::clock::SystemClock;
use vtenrich::simulator::{Simulator, SimulatorConfig};

#[path = "support/service.rs"]
mod service;

#[path = "shutdown/flood.rs"]
mod flood;

const SIM_KEY: &str = "shutdown-test-key";
/// Upper bound for anything the child is waited for (start, exit, refused connections).
const PATIENCE: Duration = Duration::from_secs(30);

/// A `vtenrich serve` child, killed when the test ends however it ends.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `vtenrich serve` on 127.0.0.1:0 against `sim`, with limits no test reaches.
    fn start(sim: &Simulator, drain_delay: &str) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vtenrich"));
        // The developer's own VTENRICH_* settings (a config file, a key) must not leak in.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("VTENRICH_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .arg("serve")
            .env("VTENRICH_LISTEN", "127.0.0.1:0")
            .env("VTENRICH_VT_BASE_URL", sim.base_url().as_str())
            .env("VTENRICH_VT_API_KEY", SIM_KEY)
            .env("VTENRICH_DATA_DIR", "none")
            .env("VTENRICH_DRAIN_DELAY", drain_delay)
            .env("VTENRICH_VT_RATE_PER_MINUTE", "100000")
            .env("VTENRICH_VT_DAILY_QUOTA", "1000000")
            .env("VTENRICH_VT_MONTHLY_QUOTA", "10000000")
            .env("VTENRICH_LOG_FORMAT", "json")
            .env("VTENRICH_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("vtenrich serve starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (found, address) = std::sync::mpsc::channel();
        // Keeps draining stdout after the address is found: a closed pipe would make the
        // child's later log writes fail.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = listening_address(&line) {
                    let _ = found.send(address);
                }
            }
        });
        let address = match address.recv_timeout(PATIENCE) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("vtenrich serve did not log `vtenrich listening` in time");
            }
        };
        Server { child, address }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Waits (bounded) for the process to exit.
    async fn exit_status(&mut self) -> ExitStatus {
        for _ in 0..(PATIENCE.as_millis() / 20) {
            if let Some(status) = self.child.try_wait().expect("try_wait works") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("vtenrich did not exit within {PATIENCE:?} of SIGTERM");
    }
}

/// The `address` field of the JSON line `vtenrich listening`, if this is that line.
fn listening_address(line: &str) -> Option<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = value.get("fields")?;
    if fields.get("message")?.as_str()? != "vtenrich listening" {
        return None;
    }
    fields.get("address")?.as_str()?.parse().ok()
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
async fn sigterm_lets_every_in_flight_request_finish_and_exits_zero() {
    // Arrange: upstream answers take far longer than the drain delay, so requests running at
    // SIGTERM are still running when the listener closes and must be finished, not dropped.
    const WORKERS: u8 = 6;
    let sim = start_simulator(Duration::from_millis(1500)).await;
    let mut server = Server::start(&sim, "300ms");
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
    server.sigterm();
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
async fn sigterm_turns_readiness_503_during_the_drain_then_refuses_connections() {
    // Arrange: long enough to observe /readyz answering 503 on a loaded machine.
    let sim = start_simulator(Duration::ZERO).await;
    let mut server = Server::start(&sim, "1500ms");
    let client = http_client();
    let ready = client
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("readyz answers");
    assert_eq!(ready.status(), 200, "not ready before the signal");

    // Act
    server.sigterm();
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
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VTENRICH_") {
            command.env_remove(name);
        }
    }
    command
        .args(["healthcheck", url, "--timeout", "5s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("vtenrich healthcheck runs")
}

#[tokio::test]
async fn healthcheck_exits_zero_against_a_ready_instance() {
    // Arrange
    let sim = start_simulator(Duration::ZERO).await;
    let server = Server::start(&sim, "1s");
    let url = server.url("/readyz");

    // Act
    let status = tokio::task::spawn_blocking(move || healthcheck(&url))
        .await
        .expect("healthcheck joins");

    // Assert
    assert!(status.success(), "healthcheck failed: {status}");
}

#[tokio::test]
async fn healthcheck_fails_against_a_closed_port() {
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
