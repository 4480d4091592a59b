//! Property tests of the request parser: whatever a caller sends, parsing never panics, and
//! every accepted batch yields one item per entry.

use std::time::Duration;

use proptest::prelude::*;
use vtenrich::http::{RequestLimits, parse_enrich_body};

fn limits() -> RequestLimits {
    RequestLimits {
        max_batch: 1_000,
        default_wait: Duration::from_secs(8),
        max_wait: Duration::from_secs(30),
    }
}

/// Arbitrary JSON values, nested a few levels, with IP-ish and hostile strings.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "[0-9a-fA-F:.%x/ \\[\\]\u{0}\u{7f}]{0,60}".prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
            prop::collection::hash_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_parser(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_enrich_body(&body, &limits());
    }

    #[test]
    fn arbitrary_json_never_panics_and_errors_are_4xx(value in json_value()) {
        let body = serde_json::to_vec(&value).unwrap();
        if let Err(err) = parse_enrich_body(&body, &limits()) {
            prop_assert!(err.status.is_client_error(), "{}", err.status);
        }
    }

    #[test]
    fn any_list_of_entries_yields_one_item_per_entry(
        entries in prop::collection::vec(json_value(), 1..40),
        wait in proptest::option::of(0u64..100_000),
    ) {
        let body = serde_json::to_vec(&serde_json::json!({"observables": entries, "max_wait_ms": wait})).unwrap();
        let (items, granted) = parse_enrich_body(&body, &limits()).expect("a list of entries is accepted");
        prop_assert_eq!(items.len(), entries.len());
        prop_assert!(granted <= Duration::from_secs(30), "the server caps the wait");
    }
}
