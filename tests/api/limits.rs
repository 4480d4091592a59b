//! Connection and request limits: slow or oversized clients cannot pin the server.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Options, TestApp, read_until_closed, spawn_app_with};

async fn app() -> TestApp {
    spawn_app_with(Options::default().configure(|s| {
        s.header_read_timeout = Duration::from_millis(300);
        s.default_wait = Duration::from_millis(50);
        s.max_wait = Duration::from_millis(50);
        s.virustotal.request_timeout = Duration::from_millis(100);
        s.request_timeout = Duration::from_millis(400);
        s.idle_timeout = Duration::from_millis(600);
        s.max_header_bytes = 8 * 1024;
    }))
    .await
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_headers_is_disconnected() {
    let app = app().await;
    let mut stream = app.connect().await;
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // ...and never finishes the head.
    let answer = read_until_closed(&mut stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn oversized_headers_are_refused() {
    let app = app().await;
    let mut stream = app.connect().await;
    let big = "a".repeat(16 * 1024);
    let request = format!("GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let _ = stream.write_all(request.as_bytes()).await;
    let answer = read_until_closed(&mut stream).await;
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn a_body_dripping_past_the_request_deadline_gets_a_json_503() {
    let app = app().await;
    let mut stream = app.connect().await;
    stream
        .write_all(b"POST /v1/enrich HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    let mut answer = Vec::new();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if stream.write_all(b" ").await.is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await
        {
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("application/json"), "{answer}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = app().await;
    let mut stream = app.connect().await;
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "served first: {answer}");
}
