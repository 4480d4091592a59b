//! Test harness: a real vtenrich on a free loopback port in front of the simulator (or any
//! base URL, e.g. wiremock), with its clock under the test's control.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use vtenrich::app::Application;
use vtenrich::clock::{ManualClock, SharedClock};
use vtenrich::config::{DataDir, Settings};
use vtenrich::simulator::{Simulator, SimulatorConfig};

/// The key the harness's simulator accepts.
pub const SIM_KEY: &str = "canary-sim-key-0d9c8b7a6f5e4d3c";

/// The fixtures directory; fails loudly when missing (never a silent pass).
pub fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("VTENRICH_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/virustotal")
        });
    assert!(
        dir.is_dir(),
        "VirusTotal fixtures not found at {}; set VTENRICH_FIXTURES_DIR",
        dir.display()
    );
    dir
}

/// One fixture file's bytes.
pub fn fixture(relative: &str) -> Vec<u8> {
    let file = fixtures_dir().join(relative);
    std::fs::read(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()))
}

/// A moment far from any day or month boundary, so tests do not cross one by accident.
pub fn test_epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-10T12:00:00Z")
        .expect("literal time")
        .to_utc()
}

/// A running vtenrich and the simulator behind it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    pub http: reqwest::Client,
    pub sim: Simulator,
    pub clock: ManualClock,
    /// The app's audit log (to record entries as the callers admin API would).
    pub audit: Option<vtenrich::audit::AuditLog>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// How to start the harness.
pub struct Options {
    pub sim: SimulatorConfig,
    /// Point vtenrich somewhere else than the simulator (e.g. wiremock).
    pub base_url: Option<String>,
    pub configure: Box<dyn FnOnce(&mut Settings) + Send>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sim: SimulatorConfig {
                api_key: SIM_KEY.to_owned(),
                ..SimulatorConfig::default()
            },
            base_url: None,
            configure: Box::new(|_| {}),
        }
    }
}

impl Options {
    /// Adjusts the settings before start.
    pub fn configure(mut self, f: impl FnOnce(&mut Settings) + Send + 'static) -> Self {
        let previous = self.configure;
        self.configure = Box::new(move |s| {
            previous(s);
            f(s);
        });
        self
    }
}

/// Generous limits, simulator backend.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// Starts vtenrich with `options`.
/// An app whose simulator answers after 400 ms, so concurrent requests for one new
/// observable all arrive while its first call is in flight.
pub async fn spawn_slow_app() -> TestApp {
    spawn_app_with(Options {
        sim: SimulatorConfig {
            api_key: SIM_KEY.to_owned(),
            latency: Duration::from_millis(400),
            ..SimulatorConfig::default()
        },
        ..Options::default()
    })
    .await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let clock = ManualClock::new(test_epoch());
    let shared: SharedClock = Arc::new(clock.clone());
    let sim = Simulator::start(options.sim, shared.clone())
        .await
        .expect("simulator starts");
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().expect("literal address"),
        drain_delay: Duration::ZERO,
        data_dir: DataDir::None,
        ..Settings::default()
    };
    settings.virustotal.base_url = options
        .base_url
        .unwrap_or_else(|| sim.base_url().to_string())
        .parse()
        .expect("base URL");
    settings.virustotal.rate_per_minute = 10_000;
    settings.virustotal.daily_quota = 100_000;
    settings.virustotal.monthly_quota = 1_000_000;
    settings.virustotal.request_timeout = Duration::from_secs(5);
    (options.configure)(&mut settings);
    let app = Application::build(&settings, SecretString::from(SIM_KEY), shared)
        .await
        .expect("application builds");
    let address = format!("http://{}", app.local_addr());
    let audit = Some(app.audit().clone());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    TestApp {
        address,
        http: reqwest::Client::new(),
        sim,
        clock,
        audit,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    /// The test clock's time as RFC 3339 (seconds, `Z`), for query parameters.
    pub fn clock_now(&self) -> String {
        use vtenrich::clock::Clock;
        self.clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    /// `POST /v1/enrich` with a JSON body; returns status and parsed JSON.
    pub async fn enrich(&self, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/v1/enrich", self.address))
            .json(&body)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// Enriches `observables` with `max_wait_ms`, asserting a 200.
    pub async fn enrich_ok(&self, observables: Value, max_wait_ms: u64) -> Value {
        let (status, body) = self
            .enrich(json!({"observables": observables, "max_wait_ms": max_wait_ms}))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `GET` a path; returns status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// `GET` a path returning JSON.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let (status, text) = self.get(path).await;
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{path} answered non-JSON ({e}): {text}"));
        (status, value)
    }

    /// A raw TCP connection to the service, for tests that speak the protocol themselves.
    pub async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.address.trim_start_matches("http://"))
            .await
            .expect("the service accepts a connection")
    }

    /// The value of one series of `/metrics` (`name` or `name{label="value"}`), if exposed.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let (status, text) = self.get("/metrics").await;
        assert_eq!(status, 200, "/metrics answered {status}");
        text.lines().find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == series).then(|| value.trim().parse().ok()).flatten()
        })
    }

    /// Waits (bounded) until the simulator has seen `n` IP calls.
    pub async fn wait_for_calls(&self, n: usize) {
        for _ in 0..500 {
            if self.sim.ip_call_count() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "expected {n} upstream calls, saw {}",
            self.sim.ip_call_count()
        );
    }

    /// Lets background tasks run for a moment of real time.
    pub async fn settle(&self) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server exits cleanly");
        }
    }
}

/// Reads until the server closes the connection (bounded: 10 s), returning what it sent.
pub async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&all).into_owned()
}

/// The result objects of a batch answer.
pub fn results(body: &Value) -> &Vec<Value> {
    body["results"].as_array().expect("results array")
}

/// The `status` of each result.
pub fn statuses(body: &Value) -> Vec<String> {
    results(body)
        .iter()
        .map(|r| r["status"].as_str().expect("status").to_owned())
        .collect()
}

/// An address the simulator answers with 404 (found deterministically).
pub fn unknown_address() -> String {
    (1..=250u8)
        .map(|i| format!("45.33.{i}.7"))
        .find(|ip| vtenrich::simulator::ip_object(ip.parse().expect("literal")).is_none())
        .expect("the simulator leaves some addresses unknown")
}

/// `n` distinct routable addresses the simulator knows.
pub fn known_addresses(n: usize) -> Vec<String> {
    (1..=250u8)
        .flat_map(|a| (1..=250u8).map(move |b| format!("81.{a}.{b}.9")))
        .filter(|ip| vtenrich::simulator::ip_object(ip.parse().expect("literal")).is_some())
        .take(n)
        .collect()
}
