//! Helpers shared by the integration tests that need outside processes.

pub mod http;
pub mod redis_keys;
pub mod redis_server;
