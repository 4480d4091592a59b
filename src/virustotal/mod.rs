//! The VirusTotal API v3 client: one call per lookup, every answer classified.
//!
//! Wire shapes stay private in `wire`; `normalize` maps them into [`crate::report::IpReport`].

mod client;
mod error;
mod normalize;
mod wire;

pub use client::{ClientSettings, VtClient};
pub use error::VtError;
pub use normalize::parse_ip_report;
