//! The Redis deployments operators run, each a real server started here: TLS with a client
//! certificate, a three-master Cluster, a Sentinel's master. In each, two replicas share the
//! gate, the cache tier, the fetch lock, the runtime callers and the audit stream.

use std::time::Duration;

use chrono::TimeDelta;
use secrecy::SecretString;
use vtenrich::answer::{Answer, Entry};
use vtenrich::audit::{AuditBackend, Event};
use vtenrich::clock::{Clock, ManualClock};
use vtenrich::config::{RedisFailureMode, RedisMode, RedisSettings};
use vtenrich::enrich::LockOutcome;
use vtenrich::observable::Observable;
use vtenrich::quota::DenyReason;
use vtenrich::redis::RedisOptions;
use vtenrich::report::IpReport;

use crate::common::{Replica, limits, options, settings};
use crate::support::redis_server::{
    RedisCluster, RedisServer, SENTINEL_MASTER, SentinelGroup, TlsFiles, cli,
};

/// A replica with time for a TLS handshake (slow in debug builds) or a cluster's first
/// `CLUSTER SLOTS` in each call.
async fn replica(settings: &RedisSettings, clock: &ManualClock) -> Replica {
    let options = RedisOptions {
        call_timeout: Duration::from_secs(2),
        ..options()
    };
    Replica::connect_with(settings, clock, limits(2, 500, 15_500), options).await
}

/// Two replicas of a 2-a-minute account on `settings` act as one fleet in every part.
async fn serves_the_fleet(settings: &RedisSettings) {
    // The tier compares deadlines with this clock and Redis expires by its own: keep them close.
    let clock = ManualClock::new(chrono::Utc::now());
    let a = replica(settings, &clock).await;
    let b = replica(settings, &clock).await;
    let ip = Observable::Ip("8.8.8.8".parse().unwrap());
    let now = clock.now();
    let now = chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap();
    let entry = Entry::new(
        Answer::Found(IpReport::default().into()),
        now,
        now + TimeDelta::hours(1),
        now + TimeDelta::days(1),
    );

    a.ask_now().await.expect("the minute has room");
    b.ask_now().await.expect("the minute has room");
    let third = a.ask_now().await.expect_err("the fleet spent the minute");
    a.tier.put(&ip, &entry).await;
    let seen = b.tier.get_many(std::slice::from_ref(&ip)).await;
    let first = a.lock.try_acquire(&ip, Duration::from_secs(30)).await;
    let LockOutcome::Acquired(token) = first else {
        panic!("the first lock is taken: {first:?}");
    };
    let busy = b.lock.try_acquire(&ip, Duration::from_secs(30)).await;
    a.lock.release(&ip, &token).await;
    let created = a.callers.create("soc-bot", b"record").await.unwrap();
    let (_, records) = b.callers.load().await.unwrap();
    let event = Event::new(now, "system", vtenrich::audit::actions::SERVICE_STARTED);
    a.audit.append(vec![event]).await.unwrap();
    let logged = b.audit.newest(None, 10).await.unwrap();

    assert_eq!(third.reason, DenyReason::Minute);
    assert!(!a.offline() && !b.offline(), "both decided through Redis");
    assert_eq!(seen, vec![Some(entry)]);
    assert!(matches!(busy, LockOutcome::Busy), "{busy:?}");
    assert!(created);
    assert_eq!(records, vec![("soc-bot".to_owned(), b"record".to_vec())]);
    assert_eq!(logged.len(), 1);
}

fn tls_settings(server: &RedisServer, tls: &TlsFiles) -> RedisSettings {
    RedisSettings {
        ca_file: Some(tls.ca.clone()),
        client_cert_file: Some(tls.client_cert.clone()),
        client_key_file: Some(tls.client_key.clone()),
        ..settings(&server.url(), RedisFailureMode::LocalShare, 2)
    }
}

#[tokio::test]
async fn redis_a_tls_redis_with_client_certificates_serves_the_fleet() {
    let tls = TlsFiles::generate();
    let server = RedisServer::start_tls(&tls);

    serves_the_fleet(&tls_settings(&server, &tls)).await;
}

#[tokio::test]
async fn redis_a_tls_redis_refuses_a_replica_without_a_client_certificate() {
    let tls = TlsFiles::generate();
    let server = RedisServer::start_tls(&tls);
    let clock = ManualClock::new(chrono::Utc::now());
    let no_cert = RedisSettings {
        client_cert_file: None,
        client_key_file: None,
        ..tls_settings(&server, &tls)
    };

    let replica = replica(&no_cert, &clock).await;

    assert!(replica.offline(), "the server wants a client certificate");
}

#[tokio::test]
async fn redis_a_three_master_cluster_serves_the_fleet_from_the_one_slot_of_the_hash_tag() {
    let cluster = RedisCluster::start();
    let settings = RedisSettings {
        mode: RedisMode::Cluster,
        ..settings(&cluster.urls(), RedisFailureMode::LocalShare, 2)
    };

    serves_the_fleet(&settings).await;

    // Every key of the account lives on the one master owning the hash tag's slot.
    let sizes: Vec<u64> = cluster
        .nodes
        .iter()
        .map(|node| cli(node.port(), &["DBSIZE"]).trim().parse().unwrap())
        .collect();
    assert_eq!(sizes.iter().filter(|n| **n > 0).count(), 1, "{sizes:?}");
}

#[tokio::test]
async fn redis_the_master_a_sentinel_names_serves_the_fleet() {
    let group = SentinelGroup::start();
    let settings = RedisSettings {
        mode: RedisMode::Sentinel,
        sentinel_master: Some(SENTINEL_MASTER.to_owned()),
        ..settings(&group.urls(), RedisFailureMode::LocalShare, 2)
    };

    serves_the_fleet(&settings).await;

    let on_master: u64 = cli(group.master.port(), &["DBSIZE"])
        .trim()
        .parse()
        .unwrap();
    assert!(on_master > 0, "the data went to the master");
}

#[tokio::test]
async fn redis_sentinel_mode_without_a_master_name_is_refused_at_start() {
    let settings = RedisSettings {
        mode: RedisMode::Sentinel,
        url: Some(SecretString::from("redis://127.0.0.1:1/".to_owned())),
        ..RedisSettings::default()
    };

    let err = vtenrich::redis::Conn::open(&settings, Duration::from_millis(100))
        .err()
        .expect("refused");

    assert!(
        err.to_string().contains("VTENRICH_REDIS_SENTINEL_MASTER"),
        "{err}"
    );
}
