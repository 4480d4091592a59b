//! One integration-test binary: each module is a capability, `helpers` is the in-process
//! harness, `support` the process-level one (tests named `process_*` run the real binary).

mod admin_callers;
mod audit;
mod auth;
mod bad_requests;
mod caller_caps;
mod config_command;
mod connections;
mod console_session;
mod corpus;
mod demo;
mod enrich_batch;
mod error_shape;
mod extract;
mod fault_matrix;
mod faults;
mod helpers;
mod integrations;
mod limits;
mod monitoring;
mod observability;
mod observable_types;
mod openapi;
mod prerender;
mod quota;
mod result_schema;
mod singleflight;
#[path = "../support/mod.rs"]
mod support;
mod usage;
mod virustotal_client;
mod virustotal_types;
