//! Tests of `http`.

use axum::body::Body;
use axum::http::Request;
use axum::http::StatusCode;
use axum::routing::get;

use super::*;

async fn boom() -> &'static str {
    panic!("kaboom")
}

#[tokio::test]
async fn a_panicking_handler_becomes_a_json_500_and_the_router_keeps_serving() {
    let mut app = Router::new()
        .route("/boom", get(boom))
        .route("/ok", get(|| async { "fine" }));

    let boom =
        edge::call_guarded(&mut app, Request::get("/boom").body(Body::empty()).unwrap()).await;
    let ok = edge::call_guarded(&mut app, Request::get("/ok").body(Body::empty()).unwrap()).await;

    assert_eq!(boom.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = axum::body::to_bytes(boom.into_body(), 1 << 16)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"]["code"], "internal_error");
    assert!(
        !body.windows(6).any(|w| w == b"kaboom"),
        "panic text is not sent"
    );
    assert_eq!(ok.status(), StatusCode::OK);
}
