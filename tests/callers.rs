//! Runtime callers with real processes: they survive a restart (`kill -9` included) on the
//! same data directory, a rotated key stops once its grace is over, no key ever reaches the
//! logs, and `vtenrich demo` creates an admin caller while enrichment stays keyless.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use vtenrich::clock::SystemClock;
use vtenrich::http::hash_key;
use vtenrich::simulator::{Simulator, SimulatorConfig};

use support::http::call;
use support::service::Service;

const VT_KEY: &str = "callers-test-vt-key";
const ADMIN_KEY: &str = "callers-admin-key-6a5b4c3d";

async fn status_with_key(base: &str, key: &str) -> u16 {
    call(base, "GET", "/v1/quota", key, None).await.0
}

/// A configuration file declaring the admin `ops`.
fn config_with_admin(dir: &Path) -> String {
    let file = dir.join("vtenrich.toml");
    std::fs::write(
        &file,
        format!(
            "[[callers]]\nid = \"ops\"\nrole = \"admin\"\nkey_sha256 = [\"{}\"]\n",
            hash_key(ADMIN_KEY)
        ),
    )
    .unwrap();
    file.display().to_string()
}

#[tokio::test]
async fn process_runtime_callers_survive_kill_9_and_a_rotated_key_stops_after_its_grace() {
    // Arrange: a single node with a data directory and a configured admin.
    let sim = Simulator::start(
        SimulatorConfig {
            api_key: VT_KEY.into(),
            ..SimulatorConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (base_url, data) = (sim.base_url().to_string(), dir.path().join("data"));
    let config = config_with_admin(dir.path());
    let data = data.display().to_string();
    let vars = [
        ("VTENRICH_VT_API_KEY", VT_KEY),
        ("VTENRICH_VT_BASE_URL", base_url.as_str()),
        ("VTENRICH_DATA_DIR", data.as_str()),
        ("VTENRICH_CONFIG", config.as_str()),
        ("VTENRICH_LOG", "debug"),
    ];
    let mut first = Service::start(&vars).await;
    let base = first.base.clone();

    // Act: create, cap, rotate with a 1 s grace; create and delete another; kill -9.
    let (status, created) = call(
        &base,
        "POST",
        "/v1/admin/callers",
        ADMIN_KEY,
        Some(json!({"id": "soar", "priority": "bulk"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let old_key = created["key"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &base,
        "PATCH",
        "/v1/admin/callers/soar",
        ADMIN_KEY,
        Some(json!({"data": {"type": "user", "attributes": {"quotas": {"api_requests_daily": {"allowed": 300}}}}})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, rotated) = call(
        &base,
        "POST",
        "/v1/admin/callers/soar/keys",
        ADMIN_KEY,
        Some(json!({"grace_secs": 1})),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    assert_eq!(
        status_with_key(&base, &old_key).await,
        200,
        "inside the grace"
    );
    let mut old_refused = false;
    for _ in 0..100 {
        if status_with_key(&base, &old_key).await == 401 {
            old_refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(old_refused, "the old key is refused after its 1 s grace");
    let (_, temp) = call(
        &base,
        "POST",
        "/v1/admin/callers",
        ADMIN_KEY,
        Some(json!({"id": "temp"})),
    )
    .await;
    let temp_key = temp["key"].as_str().unwrap().to_owned();
    let (status, _) = call(&base, "DELETE", "/v1/admin/callers/temp", ADMIN_KEY, None).await;
    assert_eq!(status, 204);
    let first_logs = first.logs();
    first.kill();

    let second = Service::start(&vars).await;
    let base = second.base.clone();

    // Assert: the state is as answered before the kill.
    assert_eq!(status_with_key(&base, &new_key).await, 200);
    assert_eq!(status_with_key(&base, &old_key).await, 401);
    assert_eq!(status_with_key(&base, &temp_key).await, 401);
    let (status, soar) = call(&base, "GET", "/v1/admin/callers/soar", ADMIN_KEY, None).await;
    assert_eq!(status, 200);
    assert_eq!(soar["daily_cap"], 300);
    assert_eq!(soar["priority"], "bulk");
    let (status, _) = call(&base, "GET", "/v1/admin/callers/temp", ADMIN_KEY, None).await;
    assert_eq!(status, 404);
    let logs = format!("{first_logs}\n{}", second.logs());
    assert!(logs.contains("caller created"), "the logs were captured");
    for key in [&old_key, &new_key, &temp_key, &ADMIN_KEY.to_owned()] {
        assert!(!logs.contains(key.as_str()), "a key reached the logs");
    }
}

#[tokio::test]
async fn process_the_demo_creates_an_admin_and_keeps_enrichment_keyless() {
    // Arrange
    let demo = Service::start_command("demo", &[("VTENRICH_LOG", "debug")]).await;
    let base = demo.base.clone();
    let banner = demo.logs();
    let key = banner
        .split("Bearer ")
        .nth(1)
        .and_then(|rest| rest.get(..64))
        .unwrap_or_else(|| panic!("no admin key in the banner: {banner}"))
        .to_owned();

    // Act
    let (keyless_enrich, _) = call(&base, "GET", "/v1/ip/8.8.8.8", "", None).await;
    let (keyless_admin, _) = call(&base, "GET", "/v1/admin/callers", "", None).await;
    let (listed, list) = call(&base, "GET", "/v1/admin/callers", &key, None).await;
    let (remove_last, refused) =
        call(&base, "DELETE", "/v1/admin/callers/demo-admin", &key, None).await;
    let (wrong_key_enrich, _) = call(&base, "GET", "/v1/ip/8.8.8.8", "wrong", None).await;

    // Assert
    assert_eq!(keyless_enrich, 200);
    assert_eq!(keyless_admin, 401);
    assert_eq!(listed, 200);
    assert_eq!(list["callers"][0]["id"], "demo-admin");
    assert_eq!(list["callers"][0]["role"], "admin");
    assert_eq!(remove_last, 409);
    assert_eq!(refused["error"]["code"], "last_admin");
    assert_eq!(wrong_key_enrich, 401, "a key that is sent must be valid");
    let logs_after_banner = demo
        .logs()
        .lines()
        .filter(|l| l.starts_with('{'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !logs_after_banner.contains(&key),
        "the key is in no log line"
    );
}
