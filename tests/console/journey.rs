//! An administrator's round trip through the console, each step asserted on the page.

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::{ADMIN_KEY, console_app_with_spending};

#[tokio::test]
async fn process_an_admin_creates_a_caller_changes_its_cap_and_finds_the_change_in_the_audit_log() {
    let app = console_app_with_spending().await;
    let base = app.address.clone();
    let page = Browser::open(1280, 800).await;

    // Sign-in: the overview of the key's windows.
    page.sign_in(&base, ADMIN_KEY).await;
    assert_eq!(page.text("#who").await, "ops (admin)");
    page.wait_text("#gauge-day", "5 of 100000 used").await;
    page.wait_text("#block-state", "not blocked").await;
    page.wait_text("#fleet-mode", "single node").await;
    page.screenshot("overview").await;
    // The key is nowhere in the browser: not in storage, and the cookie is script-proof.
    let storage = page
        .run(
            "return [localStorage.length, sessionStorage.length, document.cookie]",
            vec![],
        )
        .await;
    assert_eq!(storage, json!([0, 0, ""]));
    let cookie = page
        .client
        .get_named_cookie("vtenrich_session")
        .await
        .unwrap();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Strict)");
    assert_ne!(cookie.value(), ADMIN_KEY);

    // Create a caller: its key is shown once.
    page.click("nav a[href='#/callers']").await;
    page.wait_for("#callers-table #caller-ops").await;
    page.fill("#new-id", "soar").await;
    page.fill("#new-cap", "300").await;
    page.click("#create-button").await;
    let key = page.text("#new-key").await;
    assert_eq!(key.len(), 64, "a generated key: {key}");
    assert!(page.text("#new-key-panel").await.contains("Created soar"));
    assert_eq!(page.text("#caller-soar .cap").await, "300");
    assert_eq!(page.count("#copy-key").await, 1);

    // Change its cap.
    page.click("#caller-soar .edit").await;
    page.fill("#edit-cap", "500").await;
    page.click("#save-caller").await;
    page.wait_text("#caller-soar .cap", "500").await;
    page.wait_text("#callers-notice", "Saved soar").await;

    // Filter by text, then by role.
    page.fill("#caller-filter", "soa").await;
    assert_eq!(page.count("#callers-table tbody tr").await, 1);
    assert_eq!(page.count("#caller-soar").await, 1);
    page.fill("#caller-filter", "").await;
    page.wait_for("#role-filter")
        .await
        .select_by_value("admin")
        .await
        .unwrap();
    assert_eq!(page.count("#caller-soar").await, 0);
    assert_eq!(page.count("#caller-ops").await, 1);
    page.screenshot("callers").await;

    // Export the callers as CSV: the new cap is in it.
    let href = page
        .wait_for("#export-callers")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let (status, csv) = page.fetch(&href, json!({})).await;
    assert_eq!(status, 200);
    assert!(csv.starts_with("id,kind,role,priority,daily_cap"), "{csv}");
    assert!(
        csv.contains("\nsoar,service,user,interactive,500,"),
        "{csv}"
    );

    // The change in the audit log, filtered by action and target, details on demand.
    page.click("nav a[href='#/audit']").await;
    page.wait_text("#audit-table tbody", "caller.created").await;
    page.screenshot("audit").await;
    page.fill("#audit-action", "caller.updated").await;
    page.fill("#audit-target-id", "soar").await;
    page.click("#audit-apply").await;
    let row = "#audit-table tbody tr:first-child";
    page.wait_text(&format!("{row} .action"), "caller.updated")
        .await;
    assert_eq!(page.text(&format!("{row} .actor")).await, "ops");
    assert_eq!(page.text(&format!("{row} .target")).await, "soar");
    assert_eq!(page.count("#audit-table tbody tr").await, 1);
    page.click(&format!("{row} .toggle")).await;
    let details = page.text(&format!("{row} pre.details")).await;
    assert!(details.contains("\"daily_cap\": 300"), "{details}");
    assert!(details.contains("\"daily_cap\": 500"), "{details}");
    page.screenshot("audit-filtered").await;

    // Export the audit log with the current filters, as CSV and JSON Lines.
    let href = |id: &'static str| {
        let page = &page;
        async move { page.wait_for(id).await.attr("href").await.unwrap().unwrap() }
    };
    let (status, csv) = page
        .fetch(&href("#export-audit-csv").await, json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(csv.lines().count(), 2, "a header and the one change: {csv}");
    assert!(
        csv.contains("caller.updated") && csv.contains("soar"),
        "{csv}"
    );
    let (status, jsonl) = page
        .fetch(&href("#export-audit-jsonl").await, json!({}))
        .await;
    assert_eq!(status, 200);
    let entries: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 1, "{jsonl}");
    assert_eq!(entries[0]["action"], "caller.updated");
    assert_eq!(entries[0]["actor"], "ops");

    // The date range: nothing after the test clock's minute, everything up to it.
    let set = "document.getElementById(arguments[0]).value = arguments[1]";
    page.fill("#audit-action", "").await;
    page.fill("#audit-target-id", "").await;
    page.run(set, vec![json!("audit-from"), json!("2026-11-10T12:01")])
        .await;
    page.click("#audit-apply").await;
    page.wait_text("#audit-status", "0 entries shown").await;
    page.run(set, vec![json!("audit-from"), json!("")]).await;
    page.run(set, vec![json!("audit-to"), json!("2026-11-10T12:00")])
        .await;
    page.click("#audit-apply").await;
    page.wait_text("#audit-status", "4 entries shown").await;
    page.run(set, vec![json!("audit-to"), json!("")]).await;

    // The sign-in itself is in the log.
    page.fill("#audit-action", "console.signed_in").await;
    page.fill("#audit-target-id", "").await;
    page.click("#audit-apply").await;
    page.wait_text(&format!("{row} .action"), "console.signed_in")
        .await;
    assert_eq!(page.text(&format!("{row} .actor")).await, "ops");

    // Usage: the chart and the day's table.
    page.click("nav a[href='#/usage']").await;
    page.wait_for("#usage-chart").await;
    page.wait_for("#usage-table").await;
    assert_eq!(page.text("#usage-consuming").await, "5");
    assert_eq!(
        page.count("#usage-chart rect").await,
        2,
        "one bar part per caller"
    );
    page.screenshot("usage").await;

    // Phone width: the same page, navigation still reachable.
    page.resize(390, 844).await;
    page.click("nav a[href='#/callers']").await;
    page.wait_for("#caller-soar").await;
    page.screenshot("callers-phone").await;
    page.resize(1280, 800).await;

    // Sign-out ends the session on the server: the old cookie no longer works.
    let cookie = page
        .client
        .get_named_cookie("vtenrich_session")
        .await
        .unwrap();
    page.click("#sign-out").await;
    page.wait_text("#notice", "Signed out").await;
    let status = app
        .http
        .get(format!("{base}/v1/admin/callers"))
        .header("cookie", format!("vtenrich_session={}", cookie.value()))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);

    page.quit().await;
}
