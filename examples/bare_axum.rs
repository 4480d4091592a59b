//! The ceiling for `bench/run`: a minimal axum server answering `GET /v1/ip/{ip}` with a
//! fixed JSON body held in memory, so the HTTP stack alone is measured.
//!
//! Usage: `bare_axum <listen address> [body file]`; the body file is vtenrich's cached answer
//! captured by the load script, so both servers send byte-identical bodies.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::http::header;
use axum::routing::get;
use bytes::Bytes;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned())
        .parse()
        .context("the first argument is the listen address, e.g. 127.0.0.1:8090")?;
    let body = match args.next() {
        Some(path) => Bytes::from(std::fs::read(&path).with_context(|| format!("reading {path}"))?),
        None => Bytes::from_static(br#"{"status":"ok"}"#),
    };
    // Bytes clones share one buffer, like a cached answer shared by every request.
    let app = Router::new().route(
        "/v1/ip/{ip}",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("bare_axum listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await.context("server failed")
}
