//! Tests of `body`.

use serde_json::json;

use super::*;
use crate::caller::{CallerPriority, Role};

fn message(err: ApiError) -> String {
    assert_eq!(err.status.as_u16(), 422, "{}", err.message);
    err.message
}

#[test]
fn a_create_body_with_only_an_id_gets_the_defaults() {
    let new = new_caller(json!({"id": "siem"})).unwrap();

    assert_eq!(new.role, Role::User);
    assert_eq!(new.priority, CallerPriority::Interactive);
    assert_eq!(new.daily_cap, None);
}

#[test]
fn each_bad_create_field_is_refused_by_its_name() {
    let cases = [
        (json!({"id": "Bad Id"}), "`id`"),
        (json!({"role": "user"}), "`id`"),
        (json!({"id": "a", "daily_cap": -1}), "`daily_cap`"),
        (json!({"id": "a", "daily_cap": 2.5}), "`daily_cap`"),
        (json!({"id": "a", "daily_cap": "3"}), "`daily_cap`"),
        (json!({"id": "a", "daily_cap": 0}), "`daily_cap`"),
        (json!({"id": "a", "role": "root"}), "`role`"),
        (json!({"id": "a", "priority": "urgent"}), "`priority`"),
        (json!({"id": "a", "kind": "robot"}), "`kind`"),
        (json!({"id": "a", "colour": "red"}), "`colour`"),
    ];
    for (body, field) in cases {
        let text = message(new_caller(body.clone()).unwrap_err());
        assert!(text.starts_with(field), "{body}: {text}");
    }
}

#[test]
fn both_patch_shapes_set_the_cap_and_null_removes_it() {
    let id = CallerId::parse("soar").unwrap();
    let ours = change(json!({"daily_cap": 300}), &id).unwrap();
    let theirs = change(
        json!({"data": {"type": "user", "attributes": {"quotas": {"api_requests_daily": {"allowed": 300}}}}}),
        &id,
    )
    .unwrap();
    let removed = change(json!({"daily_cap": null}), &id).unwrap();

    assert_eq!(ours.daily_cap, Some(Some(300)));
    assert_eq!(theirs, ours);
    assert_eq!(removed.daily_cap, Some(None));
}

#[test]
fn a_virustotal_patch_names_the_path_of_its_bad_field() {
    let id = CallerId::parse("soar").unwrap();
    let bad = json!({"data": {"attributes": {"quotas": {"api_requests_daily": {"allowed": -5}}}}});
    let extra =
        json!({"data": {"attributes": {"quotas": {"api_requests_monthly": {"allowed": 5}}}}});

    let text = message(change(bad, &id).unwrap_err());
    let extra_text = message(change(extra, &id).unwrap_err());

    assert!(
        text.starts_with("`data.attributes.quotas.api_requests_daily.allowed`"),
        "{text}"
    );
    assert!(
        extra_text.starts_with("`data.attributes.quotas.api_requests_monthly`"),
        "{extra_text}"
    );
}

#[test]
fn a_rotation_grace_defaults_to_zero_and_must_be_whole_seconds() {
    assert_eq!(grace(b"").unwrap(), Duration::ZERO);
    // The body is optional, and the document allows null for it.
    assert_eq!(grace(b"null").unwrap(), Duration::ZERO);
    // JSON Schema's integer: a zero fraction is a whole number; 1.5 (below) is not.
    assert_eq!(
        grace(br#"{"grace_secs": 60.0}"#).unwrap(),
        Duration::from_secs(60)
    );
    assert_eq!(
        grace(br#"{"grace_secs": 60}"#).unwrap(),
        Duration::from_secs(60)
    );
    for bad in [
        &br#"{"grace_secs": -1}"#[..],
        br#"{"grace_secs": 1.5}"#,
        br#"{"grace": 1}"#,
    ] {
        let text = message(grace(bad).unwrap_err());
        assert!(text.starts_with("`grace"), "{text}");
    }
}
