//! Benchmark: enriching a 1,000-observable batch answered entirely from the cache, per
//! observable, on one core (a current-thread runtime), with and without rendering the JSON,
//! the slow way (`EnrichResponse` through serde_json) and through the entries' pre-rendered
//! parts (what `POST /v1/enrich` answers); and rendering alone, both ways.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use secrecy::SecretString;
use vtenrich::answer::Answer;
use vtenrich::cache::Cache;
use vtenrich::clock::{SharedClock, SystemClock};
use vtenrich::config::CacheSettings;
use vtenrich::enrich::{Caller, Enricher, EnricherBuilder, ParsedItem, Status};
use vtenrich::http::{EnrichResponse, batch_json};
use vtenrich::metrics::Metrics;
use vtenrich::observable::{Observable, special_purpose};
use vtenrich::quota::{Limits, LocalGate};
use vtenrich::report::VerdictPolicy;
use vtenrich::simulator::ip_object;
use vtenrich::virustotal::{ClientSettings, VtClient, parse_ip_report};

const BATCH: usize = 1_000;

/// Distinct routable addresses the simulator knows, with their normalised reports.
fn known_addresses() -> Vec<(IpAddr, vtenrich::report::IpReport)> {
    (0u32..)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0x1700_0000 + i * 257)))
        .filter(|ip| special_purpose(*ip).is_none())
        .filter_map(|ip| {
            let object = ip_object(ip)?;
            let body = serde_json::to_vec(&serde_json::json!({ "data": object })).ok()?;
            Some((ip, parse_ip_report(&body).ok()?))
        })
        .take(BATCH)
        .collect()
}

fn enricher(addresses: &[(IpAddr, vtenrich::report::IpReport)]) -> Enricher {
    let clock: SharedClock = Arc::new(SystemClock);
    let metrics = Metrics::new();
    let cache = Cache::new(
        CacheSettings {
            ttl: Duration::from_secs(24 * 3600),
            not_found_ttl: Duration::from_secs(6 * 3600),
            stale_for: Duration::from_secs(7 * 24 * 3600),
            max_entries: 10 * BATCH as u64,
        },
        clock.clone(),
        metrics.clone(),
    );
    for (ip, report) in addresses {
        cache.insert(Observable::Ip(*ip), Answer::Found(report.clone().into()));
    }
    let client = VtClient::new(ClientSettings {
        // Nothing listens there and nothing is sent: every address is cached.
        base_url: "http://127.0.0.1:9/api/v3".parse().expect("a valid URL"),
        api_key: SecretString::from("unused"),
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        max_body_bytes: 1 << 20,
    })
    .expect("the client builds");
    let gate = Arc::new(LocalGate::new(
        Limits {
            per_minute: 4,
            per_day: 500,
            per_month: 15_500,
            too_many_requests_backoff: Duration::from_secs(60),
            reserve_interactive: 50,
        },
        clock.clone(),
    ));
    let ledger = Arc::new(vtenrich::callers::ledger::LocalLedger::new(clock.clone()));
    EnricherBuilder::new(cache, gate, ledger, client, clock, metrics)
        .calls(Duration::from_secs(1), 0)
        .max_concurrent_upstream(1)
        .deferred_capacity(1_000)
        .reserve_interactive(50)
        .build()
}

fn items(addresses: &[(IpAddr, vtenrich::report::IpReport)]) -> Vec<ParsedItem> {
    addresses
        .iter()
        .map(|(ip, _)| {
            let input = ip.to_string();
            ParsedItem {
                parsed: Observable::infer(&input),
                input,
            }
        })
        .collect()
}

fn bench_enrich(c: &mut Criterion) {
    let addresses = known_addresses();
    assert_eq!(addresses.len(), BATCH);
    let enricher = enricher(&addresses);
    let items = items(&addresses);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // Guards the premise: every item must come from the cache, none from the network.
    let check =
        runtime.block_on(enricher.enrich(Caller::anonymous(), items.clone(), Duration::ZERO));
    assert_eq!(check.upstream_calls, 0);
    assert!(check.items.iter().all(|i| i.outcome.status() == Status::Ok));

    let policy = VerdictPolicy::default();
    let mut group = c.benchmark_group("enrich_cached_batch");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("enrich_1000", |b| {
        b.to_async(&runtime).iter_batched(
            || items.clone(),
            |batch| enricher.enrich(Caller::anonymous(), batch, Duration::ZERO),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("enrich_and_render_json_1000", |b| {
        b.to_async(&runtime).iter_batched(
            || items.clone(),
            |batch| async {
                let result = enricher
                    .enrich(Caller::anonymous(), batch, Duration::ZERO)
                    .await;
                serde_json::to_vec(&EnrichResponse::render(result, &policy))
                    .expect("the response serialises")
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("enrich_and_prerendered_body_1000", |b| {
        b.to_async(&runtime).iter_batched(
            || items.clone(),
            |batch| async {
                let result = enricher
                    .enrich(Caller::anonymous(), batch, Duration::ZERO)
                    .await;
                batch_json(result, &policy)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();

    // Rendering alone, the same enriched batch both ways (its entries' parts already rendered
    // by the run above, as they are for a repeated batch).
    let mut group = c.benchmark_group("render_cached_batch");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("slow_1000", |b| {
        b.iter_batched(
            || check.clone(),
            |result| {
                serde_json::to_vec(&EnrichResponse::render(result, &policy))
                    .expect("the response serialises")
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("prerendered_1000", |b| {
        b.iter_batched(
            || check.clone(),
            |result| batch_json(result, &policy),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_enrich);
criterion_main!(benches);
