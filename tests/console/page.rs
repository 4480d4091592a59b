//! The page itself, without a browser: what its answers promise about scripts and framing.

use crate::console_app;

#[tokio::test]
async fn process_the_page_and_its_files_carry_a_strict_csp_and_no_inline_script() {
    let app = console_app().await;

    for path in ["/console", "/console/app.js", "/console/style.css"] {
        let response = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
    let html = app.get("/console").await.1;
    for script in html.split("<script").skip(1) {
        let tag = &script[..script.find('>').unwrap()];
        assert!(tag.contains("src="), "an inline script: <script{tag}>");
    }
    assert!(!html.contains("style=\""), "an inline style attribute");

    let (status, _) = app.get("/console/nothing.js").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn process_a_server_with_the_console_off_serves_no_page_and_no_sign_in() {
    let app = crate::helpers::spawn_app_with(
        crate::helpers::Options::default().configure(|s| s.console.enabled = false),
    )
    .await;

    assert_eq!(app.get("/console").await.0, 404);
    let status = app
        .http
        .post(format!("{}/console/session", app.address))
        .json(&serde_json::json!({"key": "anything"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
}

#[tokio::test]
async fn process_the_console_follows_the_dark_color_scheme() {
    let app = console_app().await;
    let page = crate::browser::Browser::open_with(1280, 800, &["--force-dark-mode"]).await;

    page.sign_in(&app.address, crate::ADMIN_KEY).await;
    page.wait_for("#gauge-day").await;
    let colors = page
        .run(
            "const s = getComputedStyle(document.body); return [s.backgroundColor, s.color]",
            vec![],
        )
        .await;
    assert_eq!(
        colors,
        serde_json::json!(["rgb(13, 17, 23)", "rgb(230, 237, 243)"])
    );
    page.screenshot("overview-dark").await;

    page.quit().await;
}
