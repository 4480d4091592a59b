//! Heap bytes of the answers the cache holds, counted by a global allocator of this test binary
//! alone: the per-entry memory target (≤ 1 KiB resident per cached answer, `bench/run` section 3)
//! leaves a few hundred bytes for an answer once moka's bookkeeping and the key are paid, and a
//! field type that quietly doubles that (a `BTreeMap`, a `Vec` with spare room, a report as large
//! as the largest kind) should fail here, not weeks later in a benchmark.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use secrecy::SecretString;
use vtenrich::answer::{Answer, Entry};
use vtenrich::clock::SystemClock;
use vtenrich::observable::{Observable, ObservableType};
use vtenrich::simulator::{Simulator, SimulatorConfig};
use vtenrich::virustotal::{ClientSettings, VtClient};

/// Counts the bytes this thread has live on the heap, so the runtime's other threads (the
/// simulator serving, the client's connection pool) are not counted.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: the slot is gone while the thread exits, and those frees do not matter here.
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
}

// SAFETY: every call is passed on to `System` unchanged; only sizes are recorded.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Bytes a copy of `value` holds on the heap (a clone allocates exactly what an answer built
/// by the normaliser holds: every part is exact-size).
fn heap_bytes<T: Clone>(value: &T) -> usize {
    let before = LIVE.with(Cell::get);
    let copy = value.clone();
    let held = LIVE.with(Cell::get) - before;
    drop(copy);
    held as usize
}

const KEY: &str = "report-memory-simulator-key";

/// The observables `bench/run` fills the cache with (its `mixed_body`), `n` of type `kind`.
fn bench_observables(kind: ObservableType, n: u64) -> Vec<Observable> {
    (0..n)
        .map(|j| {
            let i = 1_000_000 + 4 * j;
            let text = match kind {
                ObservableType::Ip => {
                    format!("24.{}.{}.{}", (i / 65536) % 256, (i / 256) % 256, i % 256)
                }
                ObservableType::Domain => format!("host-{}.bench-{}.com", i + 1, (i + 1) % 89),
                ObservableType::Url => {
                    format!(
                        "https://www.bench-{}.com/path/{}?q={}",
                        (i + 2) % 97,
                        i + 2,
                        i + 2
                    )
                }
                ObservableType::File => {
                    let hex: String = (1..=8)
                        .map(|k| format!("{:08x}", ((i + 3) * 2654435761 + k * 40503) % 2147483647))
                        .collect();
                    hex[..[32, 40, 64][(j % 3) as usize]].to_owned()
                }
            };
            Observable::parse(kind, &text).expect("a bench observable parses")
        })
        .collect()
}

/// The mean heap bytes of one cached entry (`Arc<Entry>` and everything it owns) for the
/// simulator's found answers to `n` bench observables of `kind`.
async fn mean_entry_bytes(kind: ObservableType, n: u64) -> usize {
    let sim = Simulator::start(
        SimulatorConfig {
            api_key: KEY.into(),
            ..SimulatorConfig::default()
        },
        Arc::new(SystemClock),
    )
    .await
    .expect("the simulator starts");
    let client = VtClient::new(ClientSettings {
        base_url: sim.base_url(),
        api_key: SecretString::from(KEY),
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(10),
        max_body_bytes: 1024 * 1024,
    })
    .expect("the client builds");
    let now = Utc::now();
    let mut total = 0;
    let mut found = 0usize;
    for observable in bench_observables(kind, n) {
        let Some(report) = client
            .lookup(&observable)
            .await
            .expect("the simulator answers")
        else {
            continue;
        };
        let entry = Arc::new(Entry::new(Answer::Found(report), now, now, now));
        // The `Arc`'s own allocation (two counts and the entry), then what the entry owns.
        total += 2 * size_of::<usize>() + size_of::<Entry>() + heap_bytes(&*entry);
        found += 1;
    }
    sim.shutdown().await;
    assert!(
        found as u64 > n / 2,
        "most bench observables of {kind:?} are known"
    );
    total / found
}

/// What one cached found answer may hold on the heap, per type: with moka's bookkeeping
/// (~350 bytes a key, measured as the IP figure less its entry) and the key, this keeps each
/// type under the 1 KiB resident target of `bench/run`; the bounds sit just above today's means
/// (IP 276, domain 495, URL 354, file 649 bytes; before every report was boxed and short lists
/// were packed into one string each they were 264, 800, 538 and 881), so growing a shape fails
/// here.
const BOUNDS: [(ObservableType, usize); 4] = [
    (ObservableType::Ip, 296),
    (ObservableType::Domain, 528),
    (ObservableType::Url, 384),
    (ObservableType::File, 688),
];

#[tokio::test(flavor = "current_thread")]
async fn a_cached_answer_of_every_type_holds_no_more_heap_than_its_bound() {
    let mut measured = Vec::new();
    for (kind, bound) in BOUNDS {
        let bytes = mean_entry_bytes(kind, 60).await;
        eprintln!("{kind:?}: {bytes} heap bytes per cached entry (bound {bound})");
        measured.push((kind, bytes, bound));
    }
    for (kind, bytes, bound) in measured {
        assert!(bytes <= bound, "{kind:?}: {bytes} heap bytes > {bound}");
    }
}
