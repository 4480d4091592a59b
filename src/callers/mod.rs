//! The callers the service knows, in one registry that authentication reads on every request:
//! those of the configuration file (the source of truth for their own fields) and those
//! created at runtime through the admin API (kept in the durable store, or in Redis for a
//! fleet).
//!
//! - `record`: a caller's full record and its stored form.
//! - `change`: what the admin API asks for, as domain types, and why the registry refuses.
//! - `registry`: the registry: identify a key, list, create, change, rotate, remove, sync.
//! - `persist`: where runtime callers are kept (memory, durable store or Redis).
//! - `secret`: generated keys and their hashes.
//! - `ledger`: per-caller, per-UTC-day counts of the VirusTotal calls each caller started,
//!   checked against its daily cap before each call (and read by the list as `DailyUse`).

mod change;
mod persist;
mod record;
mod registry;
mod secret;

pub mod ledger;

#[cfg(test)]
mod tests;

pub use change::{CallerChange, NewCaller, RegistryError};
pub use ledger::DailyUse;
pub use persist::Persistence;
pub use record::{CallerRecord, KeyHash, Listed, Source};
pub use registry::Registry;
pub use secret::{generate_key, hash_key};
