//! Helpers shared by the integration tests that need outside processes.

pub mod redis_server;
