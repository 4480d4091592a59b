//! vtenrich: enrich security observables with VirusTotal reputation and location.
//!
//! Data flows one way: `http` parses requests into domain types, `enrich` answers each
//! observable from `cache` or from one `virustotal` call under the `quota` gate, and `http`
//! renders the normalised `report`.
//!
//! - `app`: builds the service from settings and runs it until shutdown.
//! - `audit`: the audit log (who changed what, refusals, the service's own events).
//! - `backends`: chooses the quota gate, second tier and lock for the configuration.
//! - `cache`: in-memory answers with fresh and stale deadlines.
//! - `caller`: who is asking (id, role, priority, daily cap), carried with each request.
//! - `callers`: callers as group members: per-caller daily use, caps and charging.
//! - `cli`: the command line (serve, demo, healthcheck, openapi).
//! - `callers`: the caller registry (configured and runtime callers, their keys, persistence).
//! - `clock`: injected wall-clock time.
//! - `config`: typed, layered settings.
//! - `enrich`: the orchestrator, single-flight and the deferred queue.
//! - `fdlimit`: the file-descriptor limit, raised at start, and the connection cap under it.
//! - `http`: routes, the error shape, result rendering.
//! - `integrations`: MISP, Elastic ECS and Dynatrace adapters over the enrichment path.
//! - `metrics`: the Prometheus registry.
//! - `observable`: parsing and canonicalising observables; special-purpose ranges.
//! - `quota`: the quota gate (minute/day/month windows, VirusTotal blocks).
//! - `redis`: scale-out on Redis (shared quota, second cache tier, fetch lock).
//! - `report`: the normalised report and the verdict policy.
//! - `server`: the connection loop: connection cap, header and idle deadlines, shutdown.
//! - `simulator`: a faithful fake VirusTotal for the demo and tests.
//! - `store`: the stored form of answers and the embedded durable store.
//! - `telemetry`: logging.
//! - `virustotal`: the API client and answer classification.

pub mod app;
pub mod audit;
pub mod backends;
pub mod cache;
pub mod caller;
pub mod callers;
pub mod cli;
pub mod clock;
pub mod config;
pub mod enrich;
pub mod fdlimit;
pub mod http;
pub mod integrations;
pub mod metrics;
pub mod observable;
pub mod quota;
pub mod redis;
pub mod report;
pub mod server;
pub mod simulator;
pub mod store;
pub mod telemetry;
pub mod virustotal;
