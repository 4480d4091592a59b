//! Property tests for extraction: it never panics on any text or JSON, a text made of
//! observables gives back exactly those observables (the parser is the oracle), and refanging a
//! defanged rendering of them finds the same observables as the original, with each place
//! covering the defanged spelling.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use serde_json::Value;
use vtenrich::extract::{Extraction, Kinds};
use vtenrich::observable::Observable;

/// Top-level domains and public suffixes the generated names end in.
const SUFFIXES: &[&str] = &["com", "net", "org", "io", "de", "co.uk", "xyz", "online"];

/// A label with a digit third, which no public suffix label has (`com.io`, `co.com` are
/// suffixes themselves) and no IDNA prefix (`xn--`) either.
fn label() -> impl Strategy<Value = String> {
    "[a-z]{2}[0-9][a-z0-9-]{0,8}[a-z0-9]"
}

fn domain() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(label(), 1..3),
        prop::sample::select(SUFFIXES),
    )
        .prop_map(|(labels, suffix)| format!("{}.{suffix}", labels.join(".")))
}

fn url() -> impl Strategy<Value = String> {
    (
        prop::bool::ANY,
        domain(),
        "[a-z0-9]{0,8}",
        prop::option::of("[a-z0-9]{1,6}"),
    )
        .prop_map(|(secure, host, path, query)| {
            let scheme = if secure { "https" } else { "http" };
            match query {
                Some(q) => format!("{scheme}://{host}/{path}?q={q}"),
                None => format!("{scheme}://{host}/{path}"),
            }
        })
}

fn hash() -> impl Strategy<Value = String> {
    prop::sample::select(&[32usize, 40, 64][..])
        .prop_flat_map(|len| prop::string::string_regex(&format!("[0-9a-fA-F]{{{len}}}")).unwrap())
}

/// One observable as text, any type.
fn observable() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| Ipv4Addr::from(o).to_string()),
        any::<u128>().prop_map(|bits| Ipv6Addr::from(bits).to_string()),
        domain(),
        url(),
        hash(),
    ]
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        &[
            " ", ", ", "; ", "\n", " and ", " (", ") ", "\t", " — ", " \"", "\" ",
        ][..],
    )
}

/// A text of observables between separators, and the observables in order.
fn text_of_observables() -> impl Strategy<Value = (Vec<String>, Vec<&'static str>)> {
    prop::collection::vec((observable(), separator()), 1..8)
        .prop_map(|items| items.into_iter().unzip())
}

/// Writes `observable` defanged, choosing a spelling for each dot, colon and scheme by `seed`.
fn defang(observable: &str, seed: u64) -> String {
    const DOTS: [&str; 7] = ["[.]", "(.)", "{.}", "[dot]", "(dot)", " [dot] ", "."];
    let mut pick = seed;
    let mut next = |n: usize| {
        pick = pick
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (pick >> 33) as usize % n
    };
    let mut out = String::new();
    let mut rest = observable;
    for (scheme, defanged) in [
        (
            "https://",
            ["hxxps://", "hxxps[://]", "https[://]", "hXXps[:]//"],
        ),
        ("http://", ["hxxp://", "hxxp[://]", "http[:]//", "h**p://"]),
    ] {
        if let Some(tail) = rest.strip_prefix(scheme) {
            out.push_str(defanged[next(4)]);
            rest = tail;
            break;
        }
    }
    let is_ipv6 = rest.contains(':') && !observable.contains("://");
    for c in rest.chars() {
        match c {
            '.' => out.push_str(DOTS[next(DOTS.len())]),
            ':' if is_ipv6 && next(2) == 0 => out.push_str("[:]"),
            c => out.push(c),
        }
    }
    out
}

fn join(items: &[String], separators: &[&str]) -> String {
    items
        .iter()
        .zip(separators)
        .map(|(item, sep)| format!("{item}{sep}"))
        .collect()
}

fn found(text: &str) -> Vec<Observable> {
    Extraction::from_text(text, Kinds::ALL)
        .into_found()
        .into_iter()
        .map(|f| f.observable)
        .collect()
}

/// Any JSON value, a few levels deep, with strings that look like indicators now and then.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        observable().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn extraction_never_panics_on_any_text(text in any::<String>()) {
        let _ = Extraction::from_text(&text, Kinds::ALL);
    }

    #[test]
    fn extraction_never_panics_on_indicator_like_text(
        text in r"[a-fhxtps0-9.:/\[\]()@{} \-_%?#=]{0,300}"
    ) {
        let extraction = Extraction::from_text(&text, Kinds::ALL);
        let length = text.chars().count();
        for found in extraction.found() {
            for at in &found.locations {
                prop_assert!(at.start < at.end && at.end <= length);
            }
        }
    }

    #[test]
    fn extraction_never_panics_on_any_json(doc in json()) {
        let extraction = Extraction::from_json(&doc, Kinds::ALL);
        for found in extraction.found() {
            for at in &found.locations {
                let path = at.path.as_deref().unwrap_or("/missing");
                let text = doc.pointer(path).and_then(Value::as_str);
                prop_assert!(text.is_some(), "{path} names a string");
                prop_assert!(at.end <= text.unwrap().chars().count());
            }
        }
    }

    #[test]
    fn a_text_of_observables_gives_exactly_those_observables((items, separators) in text_of_observables()) {
        let text = join(&items, &separators);
        let mut expected: Vec<Observable> = Vec::new();
        for item in &items {
            let observable = Observable::infer(item).expect("a generated observable parses");
            if !expected.contains(&observable) {
                expected.push(observable);
            }
        }

        prop_assert_eq!(found(&text), expected, "{}", text);
    }

    #[test]
    fn refanging_a_defanged_text_finds_the_same_observables(
        (items, separators) in text_of_observables(),
        seed in any::<u64>(),
    ) {
        let plain = join(&items, &separators);
        let defanged_items: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, item)| defang(item, seed ^ i as u64))
            .collect();
        let defanged = join(&defanged_items, &separators);

        prop_assert_eq!(found(&defanged), found(&plain), "{}", defanged);
        // Each place covers the whole defanged spelling of the observable found there.
        let chars: Vec<char> = defanged.chars().collect();
        for found in Extraction::from_text(&defanged, Kinds::ALL).found() {
            for at in &found.locations {
                let written: String = chars[at.start..at.end].iter().collect();
                prop_assert!(
                    defanged_items.iter().any(|d| d.trim() == written.trim()),
                    "{} is not one defanged observable of {}", written, defanged
                );
            }
        }
    }
}

#[test]
fn the_generators_make_what_they_say() {
    let ip: IpAddr = "8.8.8.8".parse().unwrap();
    assert_eq!(found("8.8.8.8"), [Observable::Ip(ip)]);
    let urls: Vec<String> = (0..16).map(|seed| defang("http://a.com/x", seed)).collect();
    assert!(urls.iter().all(|u| !u.starts_with("http://")), "{urls:?}");
    assert!(urls.iter().any(|u| u.contains("a[.]com")), "{urls:?}");
}
