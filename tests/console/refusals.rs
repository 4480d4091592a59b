//! What the console refuses, each refusal seen on the page (or in the answer the page got).

use serde_json::json;

use crate::browser::Browser;
use crate::{ADMIN_KEY, SESSION_TTL, USER_KEY, console_app, console_app_with_spending};

#[tokio::test]
async fn process_a_wrong_key_an_expired_session_and_a_change_without_the_csrf_token_are_refused() {
    let app = console_app().await;
    let base = app.address.clone();
    let page = Browser::open(1280, 800).await;

    // A wrong key: the sign-in page says so, and no session cookie is set.
    page.goto(&format!("{base}/console")).await;
    page.fill("#key", "not-a-key-at-all").await;
    page.click("#sign-in-button").await;
    page.wait_text("#notice", "not valid").await;
    assert!(
        page.client
            .get_named_cookie("vtenrich_session")
            .await
            .is_err()
    );

    page.sign_in(&base, ADMIN_KEY).await;
    page.wait_for("#gauge-day").await;

    // A change without the CSRF token is 403, with it the same change passes.
    let create = |csrf: Option<String>| {
        let mut headers = json!({"Content-Type": "application/json"});
        if let Some(token) = csrf {
            headers["X-CSRF-Token"] = json!(token);
        }
        json!({"method": "POST", "headers": headers, "body": json!({"id": "webhook"}).to_string()})
    };
    let (status, body) = page.fetch("/v1/admin/callers", create(None)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("csrf_token_invalid"), "{body}");
    let (status, body) = page
        .fetch("/v1/admin/callers", create(Some("a-guessed-token".into())))
        .await;
    assert_eq!(status, 403, "{body}");
    let (_, session) = page.fetch("/console/session", json!({})).await;
    let csrf = serde_json::from_str::<serde_json::Value>(&session).unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = page.fetch("/v1/admin/callers", create(Some(csrf))).await;
    assert_eq!(status, 201, "{body}");
    // Sign-out too needs the token.
    let (status, _) = page
        .fetch("/console/session", json!({"method": "DELETE"}))
        .await;
    assert_eq!(status, 403);

    // An expired session: the page asks for a sign-in again, the API answers 401.
    app.clock.advance(SESSION_TTL);
    page.click("nav a[href='#/callers']").await;
    page.wait_text("#notice", "expired").await;
    page.wait_for("#sign-in").await;
    let (status, body) = page.fetch("/v1/admin/callers", json!({})).await;
    assert_eq!(status, 401, "{body}");
    page.screenshot("expired").await;

    page.quit().await;
}

#[tokio::test]
async fn process_a_user_caller_sees_its_own_usage_and_is_refused_the_admin_pages() {
    let app = console_app_with_spending().await;
    let base = app.address.clone();
    let page = Browser::open(1280, 800).await;

    page.sign_in(&base, USER_KEY).await;
    assert_eq!(page.text("#who").await, "analyst (user)");
    page.wait_text("#main h1", "Usage of analyst").await;
    // Its own calls only, not the admin's.
    assert_eq!(page.text("#usage-consuming").await, "2");
    // Only the usage page is offered.
    let offered = page
        .run(
            "return [...document.querySelectorAll('#nav a')].filter(a => !a.hidden).map(a => a.textContent)",
            vec![],
        )
        .await;
    assert_eq!(offered, json!(["Usage"]));

    for admin_page in ["callers", "audit"] {
        page.goto(&format!("{base}/console#/{admin_page}")).await;
        page.wait_text("#refused", "Refused").await;
    }
    page.screenshot("user-refused").await;
    let (status, _) = page.fetch("/v1/admin/callers", json!({})).await;
    assert_eq!(status, 403);
    let (status, _) = page.fetch("/v1/admin/audit", json!({})).await;
    assert_eq!(status, 403);

    page.quit().await;
}
