//! The registry's rules that the HTTP tests cannot reach easily: the last admin, the caller
//! limit, and runtime callers read back from the durable store.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::caller::{CallerId, CallerKind, CallerPriority, Role};
use crate::clock::{ManualClock, SharedClock};
use crate::config::StoreSettings;
use crate::metrics::Metrics;
use crate::store::durable::DurableStore;

fn clock() -> SharedClock {
    Arc::new(ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2026-11-10T12:00:00Z")
            .unwrap()
            .to_utc(),
    ))
}

fn new(id: &str, role: Role) -> NewCaller {
    NewCaller {
        id: CallerId::parse(id).unwrap(),
        role,
        kind: CallerKind::Service,
        priority: CallerPriority::Interactive,
        daily_cap: None,
        description: None,
    }
}

fn id(text: &str) -> CallerId {
    CallerId::parse(text).unwrap()
}

#[tokio::test]
async fn the_last_admin_can_be_neither_removed_nor_demoted() {
    let registry = Registry::in_memory(&[], clock()).await;
    registry.create(new("first", Role::Admin)).await.unwrap();
    let demote = CallerChange {
        role: Some(Role::User),
        ..CallerChange::default()
    };

    let removed = registry.remove(&id("first")).await;
    let demoted = registry.update(&id("first"), demote.clone()).await;
    registry.create(new("second", Role::Admin)).await.unwrap();
    let removed_with_another = registry.remove(&id("first")).await;
    let demoted_last = registry.update(&id("second"), demote).await;

    assert!(matches!(removed, Err(RegistryError::LastAdmin(_))));
    assert!(matches!(demoted, Err(RegistryError::LastAdmin(_))));
    assert!(removed_with_another.is_ok());
    assert!(matches!(demoted_last, Err(RegistryError::LastAdmin(_))));
}

#[tokio::test]
async fn at_most_a_thousand_callers_can_exist() {
    let registry = Registry::in_memory(&[], clock()).await;
    for n in 0..registry::MAX_CALLERS {
        registry
            .create(new(&format!("c{n}"), Role::User))
            .await
            .unwrap();
    }

    let one_more = registry.create(new("straw", Role::User)).await;

    assert!(matches!(one_more, Err(RegistryError::TooMany(1_000))));
    assert_eq!(registry.list().len(), 1_000);
}

#[tokio::test]
async fn runtime_callers_are_read_back_from_the_durable_store() {
    let dir = tempfile::tempdir().unwrap();
    let open = || DurableStore::open(dir.path(), StoreSettings::default(), Metrics::new());
    let store = open().unwrap();
    let registry = Registry::open(
        &[],
        Persistence::Durable(store.clone()),
        clock(),
        Metrics::new(),
    )
    .await;
    let (_, key) = registry.create(new("soar", Role::User)).await.unwrap();
    let (_, gone_key) = registry.create(new("gone", Role::User)).await.unwrap();
    registry
        .update(
            &id("soar"),
            CallerChange {
                daily_cap: Some(Some(7)),
                ..CallerChange::default()
            },
        )
        .await
        .unwrap();
    registry.remove(&id("gone")).await.unwrap();
    drop((registry, store));

    let again = Registry::open(
        &[],
        Persistence::Durable(open().unwrap()),
        clock(),
        Metrics::new(),
    )
    .await;

    assert_eq!(
        again.identify(&key).map(|c| c.profile().daily_cap),
        Some(Some(7))
    );
    assert!(again.identify(&gone_key).is_none());
    assert_eq!(again.list().len(), 1);
}

#[tokio::test]
async fn a_rotated_key_is_refused_once_its_grace_ends() {
    let manual = ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2026-11-10T12:00:00Z")
            .unwrap()
            .to_utc(),
    );
    let registry = Registry::in_memory(&[], Arc::new(manual.clone())).await;
    let (_, old) = registry.create(new("soar", Role::User)).await.unwrap();

    let (_, fresh) = registry
        .rotate(&id("soar"), Duration::from_secs(60))
        .await
        .unwrap();
    let inside = registry.identify(&old).is_some();
    manual.advance(Duration::from_secs(60));
    let after = registry.identify(&old).is_some();

    assert!(inside);
    assert!(!after);
    assert!(registry.identify(&fresh).is_some());
}

#[test]
fn refusals_name_the_id_as_it_was_typed() {
    let id = crate::caller::CallerId::parse("soar").unwrap();
    assert_eq!(
        super::RegistryError::Duplicate(id).to_string(),
        "id: a caller with the id \"soar\" already exists"
    );
}
