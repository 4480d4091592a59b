//! Callers as members of one VirusTotal group: what each may spend and has spent.
//!
//! - `ledger`: per-caller, per-UTC-day counts of the VirusTotal calls each caller started,
//!   checked against its daily cap before each call.

pub mod ledger;
