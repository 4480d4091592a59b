//! The one harness for process-level tests: the real binary ([`service::Service`]) and a
//! redis-server of the test's own ([`redis_server::RedisServer`]).

// Shared by several test binaries, each using part of it.
#![allow(dead_code)]

pub mod http;
pub mod redis_keys;
pub mod redis_server;
pub mod service;
