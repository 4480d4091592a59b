//! A Sentinel failover in the middle of the load: the three replicas follow the promoted
//! replica and still act as one quota and one fetch per observable, and no spend is lost.

use std::time::Duration;

use chrono::Utc;
use vtenrich::redis::Keys;

use crate::load::{assert_one_quota_and_one_fetch, run_load};
use crate::support::redis_server::{SENTINEL_MASTER, SentinelGroup, cli};
use crate::support::service::Service;
use crate::{NS, replicas, simulator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_failover_mid_load_keeps_the_rate_fetches_once_and_loses_no_count() {
    // Arrange
    const SEED: u64 = 0xFA11_0FE2;
    // Across a minute boundary, with the failover well inside the first minute, so the
    // second minute's calls are granted by the promoted master.
    const LOAD_FOR: Duration = Duration::from_secs(80);
    const FAIL_OVER_AT: Duration = Duration::from_secs(20);
    let sim = simulator(Some(4), Some(20)).await;
    let group = SentinelGroup::start();
    let first_master = group.master_port();
    let fleet = replicas(
        3,
        &sim,
        &group.urls(),
        &[
            ("VTENRICH_REDIS_MODE", "sentinel"),
            ("VTENRICH_REDIS_SENTINEL_MASTER", SENTINEL_MASTER),
            ("VTENRICH_VT_RATE_PER_MINUTE", "4"),
            ("VTENRICH_VT_DAILY_QUOTA", "20"),
            ("VTENRICH_EXPECTED_REPLICAS", "3"),
        ],
    )
    .await;

    // Act
    let fail_over = async {
        tokio::time::sleep(FAIL_OVER_AT).await;
        tokio::task::block_in_place(|| group.fail_over());
    };
    let (answers, origin) = run_load(&fleet, SEED, 80, LOAD_FOR, fail_over).await;
    let logs: Vec<String> = fleet.iter().map(Service::logs).collect();
    drop(fleet);
    let mut calls = sim.calls();
    calls.sort_by_key(|c| c.at);

    // Assert
    let master = group.master_port();
    assert_ne!(master, first_master, "the replica was promoted");
    assert_one_quota_and_one_fetch(SEED, &calls, &answers, origin, 20, &logs);
    let failed_over = origin + chrono::Duration::from_std(FAIL_OVER_AT).unwrap();
    assert!(
        calls
            .iter()
            .any(|c| c.at > failed_over + chrono::Duration::seconds(5)),
        "some calls were granted after the failover"
    );
    let day = Keys::new(NS).unwrap().day(Utc::now().date_naive());
    let counted: usize = cli(master, &["GET", &day]).trim().parse().unwrap_or(0);
    assert!(
        counted >= calls.len(),
        "the promoted master counts {counted} calls of the {} VirusTotal saw",
        calls.len()
    );
}
