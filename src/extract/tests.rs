use serde_json::json;

use super::*;

/// A place as (path, start, end).
type Place = (Option<String>, usize, usize);

fn summary(extraction: &Extraction) -> Vec<(String, Vec<Place>)> {
    extraction
        .found()
        .iter()
        .map(|f| {
            (
                f.observable.canonical(),
                f.locations
                    .iter()
                    .map(|l| (l.path.clone(), l.start, l.end))
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn a_text_gives_each_distinct_observable_once_with_every_character_offset() {
    // "é" and "→" are one character each but two and three bytes.
    let text = "é → 8.8.8.8 and 8.8.8[.]8, then EVIL.com and evil.com";

    let extraction = Extraction::from_text(text, Kinds::ALL);

    assert_eq!(
        summary(&extraction),
        [
            ("8.8.8.8".into(), vec![(None, 4, 11), (None, 16, 25)]),
            ("evil.com".into(), vec![(None, 32, 40), (None, 45, 53)]),
        ]
    );
    assert_eq!(extraction.found()[0].text, "8.8.8.8");
    assert_eq!(extraction.found()[1].text, "EVIL.com");
    let chars: Vec<char> = text.chars().collect();
    assert_eq!(chars[16..25].iter().collect::<String>(), "8.8.8[.]8");
}

#[test]
fn a_json_document_gives_pointers_and_offsets_within_each_string() {
    let doc = json!({
        "alerts": [{"labels": {"instance": "8.8.8.8:9100"}}, {"labels": {"instance": "8.8.8.8"}}],
        "a/b": "see evil.com",
        "count": 8,
        "ok": true,
    });

    let extraction = Extraction::from_json(&doc, Kinds::ALL);

    assert_eq!(
        summary(&extraction),
        [
            ("evil.com".into(), vec![(Some("/a~1b".into()), 4, 12)]),
            (
                "8.8.8.8".into(),
                vec![
                    (Some("/alerts/0/labels/instance".into()), 0, 7),
                    (Some("/alerts/1/labels/instance".into()), 0, 7),
                ]
            ),
        ]
    );
}

#[test]
fn object_keys_are_not_scanned() {
    let doc = json!({"8.8.8.8": 1, "evil.com": {"x": null}});

    assert!(Extraction::from_json(&doc, Kinds::ALL).is_empty());
}

#[test]
fn include_keeps_only_the_named_types_and_urls_still_own_their_hosts() {
    let text = "http://evil.com/x 1.1.1.1 44d88612fea8a8f36de82e1278abb02f good.org";
    let only = |list: &str| {
        let kinds = Kinds::parse(list).unwrap();
        Extraction::from_text(text, kinds)
            .found()
            .iter()
            .map(|f| f.observable.canonical())
            .collect::<Vec<_>>()
    };

    assert_eq!(only("ip"), ["1.1.1.1"]);
    assert_eq!(only("domain"), ["good.org"]);
    assert_eq!(
        only("url,file"),
        ["http://evil.com/x", "44d88612fea8a8f36de82e1278abb02f"]
    );
    assert_eq!(only(" ip , domain,url,file").len(), 4);
}

#[test]
fn include_refuses_unknown_or_empty_names() {
    assert!(Kinds::parse("ip,hash").is_err());
    assert!(Kinds::parse("").is_err());
    assert!(Kinds::parse("ip,").is_err());
}

#[test]
fn canonical_forms_and_not_routable_inputs_are_those_of_the_parser() {
    let text = "::FFFF:8.8.8.8 10.0.0.1 printer.local http://USER:pw@Evil.COM:80/a#frag";

    let found: Vec<_> = Extraction::from_text(text, Kinds::ALL)
        .into_found()
        .into_iter()
        .map(|f| f.observable)
        .collect();

    assert_eq!(
        found,
        [
            Observable::infer("8.8.8.8").unwrap(),
            Observable::infer("10.0.0.1").unwrap(),
            Observable::infer("http://user:pw@evil.com/a").unwrap(),
        ]
    );
}
