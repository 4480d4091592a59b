//! A flood of silent connections against a real process under a small file-descriptor limit:
//! the cap sheds what is beyond it, so the connections it has (and its VirusTotal calls) keep
//! working and `accept` never runs out of descriptors.

use std::time::Duration;

use tokio::net::TcpStream;
use vtenrich::clock::SystemClock;
use vtenrich::simulator::{Simulator, SimulatorConfig};

use crate::support::service::{Service, metric_in};

const KEY: &str = "flood-test-key";
/// The process's descriptors: it starts with a soft limit of 128 and must raise it to the hard
/// 256 itself, or the cap of 150 below would not fit.
const FD_SOFT: u64 = 128;
const FD_HARD: u64 = 256;
const MAX_CONNECTIONS: usize = 150;
/// More silent sockets than the process has descriptors.
const SILENT: usize = 400;

const OPEN: &str = "vtenrich_connections_open";
const REFUSED_LIMIT: &str = r#"vtenrich_connections_refused_total{reason="limit"}"#;
const REFUSED_ACCEPT: &str = r#"vtenrich_connections_refused_total{reason="accept_error"}"#;

/// One HTTP/2 connection (prior knowledge) carrying every request of the test, opened before
/// the flood: the cap keeps serving it while it sheds new ones.
struct Held {
    client: reqwest::Client,
    base: String,
}

impl Held {
    async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path} failed on the held connection: {e}"));
        let status = response.status().as_u16();
        (status, response.text().await.expect("a body"))
    }

    async fn metric(&self, series: &str) -> Option<f64> {
        metric_in(&self.get("/metrics").await.1, series)
    }
}

#[tokio::test]
async fn process_a_flood_of_silent_connections_is_shed_while_livez_and_lookups_keep_answering_until_it_leaves()
 {
    // Arrange
    let sim = Simulator::start(
        SimulatorConfig {
            api_key: KEY.into(),
            ..SimulatorConfig::default()
        },
        std::sync::Arc::new(SystemClock),
    )
    .await
    .expect("the simulator starts");
    let base_url = sim.base_url().to_string();
    let max_connections = MAX_CONNECTIONS.to_string();
    let service = Service::start_with_fd_limit(
        &[
            ("VTENRICH_VT_BASE_URL", &base_url),
            ("VTENRICH_VT_API_KEY", KEY),
            ("VTENRICH_DATA_DIR", "none"),
            ("VTENRICH_MAX_CONNECTIONS", &max_connections),
            // Silent sockets stay open for the whole test.
            ("VTENRICH_HEADER_READ_TIMEOUT", "60s"),
        ],
        FD_SOFT,
        FD_HARD,
    )
    .await;
    let held = Held {
        client: reqwest::Client::builder()
            .http2_prior_knowledge()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP/2 client"),
        base: service.base.clone(),
    };
    assert_eq!(held.get("/livez").await.0, 200);
    let address = service.base.trim_start_matches("http://").to_owned();

    // Act: silent sockets in waves, /livez asked between waves.
    let mut silent = Vec::with_capacity(SILENT);
    let mut livez = Vec::new();
    for _ in 0..SILENT / 50 {
        for _ in 0..50 {
            // Bounded: a server that stopped accepting leaves the handshake hanging once its
            // backlog is full.
            let socket =
                tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&address))
                    .await
                    .expect("the server keeps accepting (its backlog filled up)")
                    .expect("the kernel completes the handshake");
            silent.push(socket);
        }
        livez.push(held.get("/livez").await.0);
    }
    // Every socket has been accepted once the refusals account for all beyond the cap (the
    // held connection takes one place).
    let beyond = (SILENT + 1 - MAX_CONNECTIONS) as f64;
    let mut refused = None;
    for _ in 0..500 {
        refused = held.metric(REFUSED_LIMIT).await;
        if refused >= Some(beyond) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, lookup) = held.get("/v1/ip/8.8.8.8").await;
    let open = held.metric(OPEN).await;
    let accept_errors = held.metric(REFUSED_ACCEPT).await;
    drop(silent);
    let served_after = new_connection_served(&service).await;

    // Assert
    let logs = service.logs();
    assert!(
        livez.iter().all(|&status| status == 200),
        "/livez during the flood: {livez:?}"
    );
    assert_eq!(refused, Some(beyond), "refused over the cap\n{logs}");
    assert_eq!(
        open,
        Some(MAX_CONNECTIONS as f64),
        "open at the cap\n{logs}"
    );
    assert_eq!(
        accept_errors,
        Some(0.0),
        "accept ran out of descriptors\n{logs}"
    );
    // A new address needs an upstream socket: descriptors were left for it.
    assert_eq!(status, 200, "{lookup}");
    let lookup: serde_json::Value = serde_json::from_str(&lookup).expect("a JSON result");
    assert_eq!(lookup["status"], "ok", "{lookup}");
    assert_eq!(lookup["source"], "virustotal", "{lookup}");
    assert!(
        logs.contains(r#""soft_before":128"#) && logs.contains(r#""soft":256"#),
        "the soft limit was not raised to the hard one\n{logs}"
    );
    assert!(
        served_after,
        "no new connection was served after the flood\n{logs}"
    );
}

/// Whether a new connection gets `/livez` answered, retried (bounded) while the server is still
/// seeing the flood's sockets close.
async fn new_connection_served(service: &Service) -> bool {
    let fresh = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    for _ in 0..250 {
        if let Ok(response) = fresh.get(format!("{}/livez", service.base)).send().await {
            return response.status() == 200;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
