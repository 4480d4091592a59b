//! The Redis scale-out parts against a real redis-server: the quota script's arithmetic,
//! the shared gate across replicas and through outages, the cache tier and the fetch lock.

#[path = "../support/mod.rs"]
mod support;

mod common;
mod gate;
mod modes;
mod outage;
mod refund;
mod script;
mod store;
