//! The audit log across processes: on Redis an entry written by one replica is listed by
//! another; on a single node it survives a restart, with the stop and the changed settings.

use std::time::Duration;

use serde_json::{Value, json};
use vtenrich::http::hash_key;

use super::{KEY, RedisServer, Service, known_addresses, replicas, simulator};

const ADMIN_KEY: &str = "fleet-audit-admin-key-77aa";

/// A configuration file making `soc-admin` an admin caller, with `extra` TOML on top.
fn config(dir: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join("vtenrich.toml");
    std::fs::write(
        &path,
        format!(
            "{extra}\n[[callers]]\nid = \"soc-admin\"\nkey_sha256 = [\"{}\"]\nrole = \"admin\"\n",
            hash_key(ADMIN_KEY)
        ),
    )
    .unwrap();
    path
}

/// Waits (bounded) until `service` lists at least `n` entries for `query`.
async fn listed(service: &Service, query: &str, n: usize) -> Vec<Value> {
    for _ in 0..300 {
        let (status, page) = service
            .get_as(ADMIN_KEY, &format!("/v1/admin/audit?{query}"))
            .await;
        assert_eq!(status, 200, "{page}");
        let entries = page["entries"].as_array().unwrap().clone();
        if entries.len() >= n {
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("fewer than {n} entries for {query}");
}

#[tokio::test]
async fn redis_an_entry_written_on_one_replica_is_listed_by_the_other() {
    let (sim, redis) = (simulator(None, None).await, RedisServer::start());
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), "");
    let fleet = replicas(
        2,
        &sim,
        &redis.url(),
        &[("VTENRICH_CONFIG", file.to_str().unwrap())],
    )
    .await;
    let ip = known_addresses(3, 1).remove(0);

    let (status, answer) = fleet[0]
        .post_as(
            ADMIN_KEY,
            "/v1/admin/cache/purge",
            json!({"observables": [ip]}),
        )
        .await;
    let on_other = listed(&fleet[1], "action=cache.purged", 1).await;
    let starts = listed(&fleet[1], "action=service.started", 2).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(on_other.len(), 1);
    assert_eq!(on_other[0]["target_id"], ip);
    assert_eq!(on_other[0]["actor"], "soc-admin");
    assert_eq!(starts.len(), 2, "each replica's start, in one log");
    let _ = KEY;
}

#[tokio::test]
async fn redis_the_audit_survives_a_restart_on_a_single_node_with_its_stop_and_changed_settings() {
    let sim = simulator(None, None).await;
    let (data, files) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let base_url = sim.base_url().to_string();
    let start = |max_batch: u32| {
        let extra = format!("data_dir = {:?}\nmax_batch = {max_batch}", data.path());
        let file = config(files.path(), &extra);
        let base_url = base_url.clone();
        async move {
            Service::start(&[
                ("VTENRICH_VT_API_KEY", KEY),
                ("VTENRICH_VT_BASE_URL", base_url.as_str()),
                ("VTENRICH_CONFIG", file.to_str().unwrap()),
            ])
            .await
        }
    };
    let mut first = start(1000).await;
    let ip = known_addresses(4, 1).remove(0);
    let (status, _) = first
        .post_as(
            ADMIN_KEY,
            "/v1/admin/cache/purge",
            json!({"observables": [ip]}),
        )
        .await;
    assert_eq!(status, 200);
    listed(&first, "action=cache.purged", 1).await;
    first.terminate();

    let second = start(500).await;
    let all = listed(&second, "", 4).await;

    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "service.started",
            "service.stopped",
            "cache.purged",
            "service.started"
        ]
    );
    assert_eq!(all[0]["details"]["changed"]["max_batch"]["before"], "1000");
    assert_eq!(all[0]["details"]["changed"]["max_batch"]["after"], "500");
    assert_eq!(
        all[0]["details"]["changed"].as_object().unwrap().len(),
        1,
        "{}",
        all[0]
    );
    assert_eq!(all[3]["details"]["first_start"], true);
}
