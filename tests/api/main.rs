//! One integration-test binary: each module is a capability, `helpers` is the harness.

mod admin_callers;
mod audit;
mod auth;
mod bad_requests;
mod caller_caps;
mod config_command;
mod connections;
mod corpus;
mod demo;
mod enrich_batch;
mod error_shape;
mod fault_matrix;
mod faults;
mod helpers;
mod limits;
mod monitoring;
mod observability;
mod openapi;
mod quota;
mod singleflight;
mod virustotal_client;
mod virustotal_types;
