//! Benchmark: parsing and canonicalising 10,000 mixed observables, as the HTTP edge does.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vtenrich::observable::Observable;

const COUNT: usize = 10_000;

/// A deterministic mix shaped like SIEM exports: mostly IPv4, some IPv6 in several spellings,
/// IPv4-mapped IPv6, padded text and a share of invalid entries.
fn mixed_inputs() -> Vec<String> {
    (0..COUNT)
        .map(|i| {
            let (a, b, c) = ((i * 7) % 223 + 1, (i * 13) % 256, (i * 31) % 256);
            match i % 10 {
                0..=3 => format!("{a}.{b}.{c}.{}", i % 256),
                4 => format!("2001:db8:{i:x}::{b:x}"),
                5 => format!("2A00:1450:4007:{i:X}:0:0:0:{c:X}"),
                6 => format!("::ffff:{a}.{b}.{c}.1"),
                7 => format!("  {a}.{b}.{c}.9\t"),
                8 => format!("{a}.0{b}.{c}.1"),
                _ => ["example.com", "1.2.3.256", "10.0.0.1/8", "8.8.8.8:53", ""][i % 5].to_owned(),
            }
        })
        .collect()
}

fn bench_observables(c: &mut Criterion) {
    let inputs = mixed_inputs();
    let valid = inputs
        .iter()
        .filter(|t| Observable::infer(t).is_ok())
        .count();
    // Guards the mix itself: 8 in 10 inputs are valid by construction, so a parser change
    // that rejects (or accepts) more changes what is measured and must be noticed.
    assert_eq!(valid, COUNT * 8 / 10, "valid inputs in the mix");
    let mut group = c.benchmark_group("observables");
    group.throughput(Throughput::Elements(COUNT as u64));
    group.bench_function("infer_and_canonical_10k_mixed", |b| {
        b.iter(|| {
            let mut canonical_bytes = 0;
            for text in &inputs {
                if let Ok(observable) = Observable::infer(black_box(text)) {
                    canonical_bytes += observable.canonical().len();
                }
            }
            canonical_bytes
        })
    });
    group.finish();
}

criterion_group!(benches, bench_observables);
criterion_main!(benches);
