//! Tests of `fetch`.

use super::*;

#[test]
fn backoff_grows_and_stays_jittered_within_bounds() {
    for attempt in 1..5 {
        let base = 250 * (1 << (attempt - 1));
        for _ in 0..50 {
            let ms = backoff(attempt).as_millis();
            assert!(ms >= base / 2 && ms <= base, "attempt {attempt}: {ms}");
        }
    }
}
