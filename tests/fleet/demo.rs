//! `vtenrich demo` pointed at a Redis keeps its simulated answers and quota under a namespace
//! of its own, so a real deployment sharing that Redis never serves them as VirusTotal data.

use super::{RedisServer, Service};

#[tokio::test]
async fn redis_the_demo_writes_nothing_under_the_deployments_namespace() {
    // Arrange
    let redis = RedisServer::start();
    let url = redis.url();
    let demo = Service::start_command("demo", &[("VTENRICH_REDIS_URL", url.as_str())]).await;

    // Act
    let result = demo.enrich(&["8.8.8.8".to_owned()], 5000).await;
    let mut conn = redis.connection().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .expect("KEYS answers");

    // Assert
    assert_eq!(result["results"][0]["status"], "ok", "{result}");
    assert!(
        !keys.is_empty(),
        "the demo fleet still shares through Redis"
    );
    assert!(
        keys.iter().all(|k| k.starts_with("{vtenrich-demo}")),
        "keys outside the demo's namespace: {keys:?}"
    );
}
