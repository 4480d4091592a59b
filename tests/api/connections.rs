//! Connection handling: silent connections are closed (before their first byte, and when no
//! request is in flight, HTTP/1 and HTTP/2 alike), requests in flight are never cut off, and
//! connections beyond the cap are shed while the open ones are served.

use std::time::Duration;

use axum::http::Request;
use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use vtenrich::config::Settings;
use vtenrich::simulator::SimulatorConfig;

use crate::helpers::{Options, SIM_KEY, TestApp, read_until_closed, spawn_app_with};

const HEADER_TIMEOUT: &str = r#"vtenrich_connections_closed_total{reason="header_timeout"}"#;
const IDLE_TIMEOUT: &str = r#"vtenrich_connections_closed_total{reason="idle_timeout"}"#;
const REFUSED_LIMIT: &str = r#"vtenrich_connections_refused_total{reason="limit"}"#;

/// Short connection deadlines (header 300 ms, idle 600 ms) with `f` on top. The harness does
/// not validate settings, so a test may set the idle timeout below a request's duration.
async fn app_with(f: impl FnOnce(&mut Settings) + Send + 'static) -> TestApp {
    app_with_sim(SimulatorConfig::default(), f).await
}

async fn app_with_sim(
    sim: SimulatorConfig,
    f: impl FnOnce(&mut Settings) + Send + 'static,
) -> TestApp {
    let options = Options {
        sim: SimulatorConfig {
            api_key: SIM_KEY.to_owned(),
            ..sim
        },
        ..Options::default()
    };
    spawn_app_with(options.configure(|s| {
        s.header_read_timeout = Duration::from_millis(300);
        s.idle_timeout = Duration::from_millis(600);
        f(s);
    }))
    .await
}

/// An HTTP/2 connection with prior knowledge (as pooled and gRPC-style clients open them).
struct H2 {
    send: h2::client::SendRequest<Bytes>,
    pings: h2::PingPong,
    driver: tokio::task::JoinHandle<Result<(), h2::Error>>,
}

impl H2 {
    async fn open(app: &TestApp) -> Self {
        let (send, mut connection) = h2::client::handshake(app.connect().await)
            .await
            .expect("an HTTP/2 handshake");
        let pings = connection.ping_pong().expect("the first ping handle");
        Self {
            send,
            pings,
            driver: tokio::spawn(connection),
        }
    }

    /// `GET path` on this connection: the status and the body.
    async fn get(&mut self, path: &str) -> (u16, String) {
        let request = Request::get(format!("http://vtenrich{path}"))
            .body(())
            .expect("a request");
        let mut send = self.send.clone().ready().await.expect("a stream");
        let (response, _) = send.send_request(request, true).expect("sent");
        let response = response.await.expect("an answer");
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut text = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.expect("a body chunk");
            let _ = body.flow_control().release_capacity(chunk.len());
            text.extend_from_slice(&chunk);
        }
        (status, String::from_utf8_lossy(&text).into_owned())
    }

    /// Sends a PING every 100 ms until the server closes the connection; false if it is still
    /// open after 10 s.
    async fn ping_until_closed(&mut self) -> bool {
        for _ in 0..100 {
            if self.driver.is_finished() {
                return true;
            }
            // Fails once the server has gone; the driver then finishes.
            let _ = self.pings.ping(h2::Ping::opaque()).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.driver.is_finished()
    }
}

#[tokio::test]
async fn a_connection_that_never_sends_a_byte_is_closed_after_the_header_read_timeout() {
    // Arrange: the idle timeout is far beyond the wait below; only the header deadline acts.
    let app = app_with(|s| s.idle_timeout = Duration::from_secs(60)).await;
    let mut stream = app.connect().await;

    // Act
    let sent = read_until_closed(&mut stream).await;

    // Assert
    assert_eq!(sent, "", "the server wrote to a silent connection");
    assert_eq!(app.metric(HEADER_TIMEOUT).await, Some(1.0));
    assert_eq!(app.metric(IDLE_TIMEOUT).await, Some(0.0));
}

#[tokio::test]
async fn an_http2_connection_that_never_sends_a_request_is_closed_after_the_header_read_timeout() {
    // Arrange: the preface and settings, then only PINGs.
    let app = app_with(|s| s.idle_timeout = Duration::from_secs(60)).await;
    let mut h2 = H2::open(&app).await;

    // Act
    let closed = h2.ping_until_closed().await;

    // Assert
    assert!(closed, "an HTTP/2 connection without a request stayed open");
    assert_eq!(app.metric(HEADER_TIMEOUT).await, Some(1.0));
}

#[tokio::test]
async fn an_http2_connection_sending_only_pings_is_closed_after_the_idle_timeout() {
    // Arrange: one request, then nothing but PINGs (which every frame-level timer counts as
    // traffic).
    let app = app_with(|s| s.header_read_timeout = Duration::from_secs(5)).await;
    let mut h2 = H2::open(&app).await;
    assert_eq!(h2.get("/livez").await.0, 200);

    // Act
    let closed = h2.ping_until_closed().await;

    // Assert
    assert!(closed, "PINGs kept the HTTP/2 connection open");
    assert_eq!(app.metric(IDLE_TIMEOUT).await, Some(1.0));
}

#[tokio::test]
async fn a_request_running_longer_than_the_idle_timeout_is_answered_on_http1_and_http2() {
    // Arrange: VirusTotal answers after 1.5 s, two and a half idle timeouts.
    let sim = SimulatorConfig {
        latency: Duration::from_millis(1500),
        ..SimulatorConfig::default()
    };
    let app = app_with_sim(sim, |s| {
        s.header_read_timeout = Duration::from_secs(5);
        s.default_wait = Duration::from_secs(5);
        s.request_timeout = Duration::from_secs(20);
    })
    .await;
    let mut h2 = H2::open(&app).await;

    // Act
    let (http1, over_h2) = tokio::join!(app.get_json("/v1/ip/8.8.8.8"), h2.get("/v1/ip/1.1.1.1"));

    // Assert: both answered by VirusTotal, and the HTTP/2 connection then idles out.
    assert_eq!(http1.0, 200, "{}", http1.1);
    assert_eq!(http1.1["status"], "ok", "{}", http1.1);
    assert_eq!(over_h2.0, 200, "{}", over_h2.1);
    assert!(over_h2.1.contains(r#""status":"ok""#), "{}", over_h2.1);
    assert!(
        h2.ping_until_closed().await,
        "the HTTP/2 connection never idled out"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once_while_open_ones_are_served() {
    // Arrange: the harness's client keeps one connection (metrics are read over it) and two
    // raw ones fill the cap of 3; deadlines far beyond the test.
    let app = app_with(|s| {
        s.max_connections = 3;
        s.header_read_timeout = Duration::from_secs(60);
        s.idle_timeout = Duration::from_secs(120);
    })
    .await;
    assert_eq!(app.get("/livez").await.0, 200);
    let mut first = app.connect().await;
    let _second = app.connect().await;

    // Act: the server accepts in order, so the third is the one over the cap.
    let mut third = app.connect().await;
    let shed = read_until_closed(&mut third).await;
    first
        .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("the open connection takes a request");
    let served = read_until_closed(&mut first).await;

    // Assert
    assert_eq!(shed, "", "the connection over the cap was served");
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    assert_eq!(app.metric(REFUSED_LIMIT).await, Some(1.0));
}
