//! Benchmark: normalising VirusTotal IP answers into the compact cached report.
//!
//! Two inputs: the simulator's answer for 8.8.8.8 (real-shaped, about 10 KB, always available)
//! and the real paid-key capture of 8.8.8.8 from the shared fixtures, when that directory exists.

use std::hint::black_box;
use std::net::IpAddr;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vtenrich::simulator::ip_object;
use vtenrich::virustotal::parse_ip_report;

const REAL_FIXTURE: &str = "ip_8.8.8.8_google_2026-07_paidkey.json";

/// Same lookup as the tests: `VTENRICH_FIXTURES_DIR`, else the shared folder beside the crate.
fn fixtures_dir() -> PathBuf {
    std::env::var_os("VTENRICH_FIXTURES_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/virustotal"),
        PathBuf::from,
    )
}

fn simulated_answer() -> Vec<u8> {
    let ip: IpAddr = [8, 8, 8, 8].into();
    let object = ip_object(ip).expect("the simulator always knows 8.8.8.8");
    serde_json::to_vec(&serde_json::json!({ "data": object })).expect("a JSON value serialises")
}

fn bench_normalize(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_ip_report");
    let simulated = simulated_answer();
    parse_ip_report(&simulated).expect("the simulated answer parses");
    group.throughput(Throughput::Bytes(simulated.len() as u64));
    group.bench_function("simulated_8.8.8.8", |b| {
        b.iter(|| parse_ip_report(black_box(&simulated)))
    });

    let path = fixtures_dir().join(REAL_FIXTURE);
    match std::fs::read(&path) {
        Ok(real) => {
            parse_ip_report(&real).expect("the real fixture parses");
            group.throughput(Throughput::Bytes(real.len() as u64));
            group.bench_function("real_8.8.8.8_2026-07", |b| {
                b.iter(|| parse_ip_report(black_box(&real)))
            });
        }
        // A benchmark measures what it can; the missing input is said out loud, not hidden.
        Err(err) => eprintln!(
            "SKIPPED real_8.8.8.8_2026-07: cannot read {} ({err}); set VTENRICH_FIXTURES_DIR",
            path.display()
        ),
    }
    group.finish();
}

criterion_group!(benches, bench_normalize);
criterion_main!(benches);
