//! The VirusTotal API v3 client: one call per lookup, every answer classified.
//!
//! Wire shapes stay private in `wire`; `normalize` maps them into the typed reports of
//! [`crate::report`]; `endpoint` is the table of where each observable type is asked.

mod client;
mod endpoint;
mod error;
mod normalize;
mod wire;

pub use client::{ClientSettings, VtClient};
pub use endpoint::{Endpoint, Target, gui_link, url_id, write_gui_link};
pub use error::VtError;
pub use normalize::{parse_domain_report, parse_file_report, parse_ip_report, parse_url_report};
