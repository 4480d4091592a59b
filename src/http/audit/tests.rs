//! Tests of `audit`.

use super::*;

fn code(query: &str) -> Option<String> {
    parse(Some(query)).err().map(|e| e.message)
}

#[test]
fn every_bad_parameter_is_refused_by_name() {
    for (query, named) in [
        ("from=yesterday", "`from`"),
        ("to=2026-11-10", "`to`"),
        ("from=2026-11-10T12:00:00Z&to=2026-11-10T11:00:00Z", "`to`"),
        ("format=xml", "`format`"),
        ("limit=1001", "`limit`"),
        ("limit=0", "`limit`"),
        ("limit=+5", "`limit`"),
        ("colour=red", "`colour`"),
        ("actor=a&actor=b", "`actor`"),
    ] {
        let message = code(query).unwrap_or_else(|| panic!("{query} was accepted"));
        assert!(message.contains(named), "{query}: {message}");
    }
}

#[test]
fn a_full_query_is_parsed_into_the_filter() {
    let asked = parse(Some(
        "from=2026-11-10T12:00:00Z&to=2026-11-10T13:00:00%2B01:00&actor=a&action=b\
         &target_type=c&target_id=d&limit=1000&format=csv",
    ))
    .unwrap();

    assert_eq!(asked.limit, 1000);
    assert_eq!(asked.format, Format::Csv);
    assert_eq!(asked.filter.from, asked.filter.to);
    assert_eq!(asked.filter.target_id.as_deref(), Some("d"));
}
