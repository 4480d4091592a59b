//! vtenrich: enrich security observables with VirusTotal reputation and location.
//!
//! Data flows one way: `http` parses requests into domain types, `enrich` answers each
//! observable from `cache` or from one `virustotal` call under the `quota` gate, and `http`
//! renders the normalised `report`.
//!
//! Public (what the binary, the tests and the benches use):
//! - `answer`: what VirusTotal answered for one observable, with its fresh and stale deadlines.
//! - `app`: builds the service from settings and runs it until shutdown.
//! - `audit`: the audit log (who changed what, refusals, the service's own events).
//! - `cache`: in-memory answers with fresh and stale deadlines.
//! - `caller`: who is asking (id, role, priority, daily cap), carried with each request.
//! - `callers`: the caller registry (configured and runtime callers, their keys, persistence)
//!   and per-caller daily use, caps and charging.
//! - `cli`: the command line (serve, demo, healthcheck, openapi).
//! - `clock`: injected time: the wall side for calendars, the monotonic side for deadlines.
//! - `config`: typed, layered settings.
//! - `console`: the administrator's web page at `/console`: embedded files, sessions, CSRF.
//! - `enrich`: the engine (built by `EnricherBuilder`), single-flight and the deferred queue.
//! - `extract`: the observables in any payload (JSON strings or text), defanged ones included.
//! - `http`: routes, the error shape, result rendering.
//! - `integrations`: MISP, Elastic ECS and Dynatrace adapters over the enrichment path.
//! - `metrics`: the Prometheus registry.
//! - `observable`: parsing and canonicalising observables; special-purpose ranges.
//! - `quota`: the quota gate (minute/day/month windows, VirusTotal blocks).
//! - `redis`: scale-out on Redis (shared quota, second cache tier, fetch lock).
//! - `report`: the normalised report, the verdict policy and the VirusTotal link.
//! - `simulator`: a faithful fake VirusTotal for the demo and tests.
//! - `usage`: per day, caller, route and endpoint: requests, VirusTotal calls, answers.
//! - `virustotal`: the API client and answer classification.
//!
//! Internal:
//! - `fdlimit`: the file-descriptor limit, raised at start, and the connection cap under it.
//! - `server`: the connection loop: connection cap, header and idle deadlines, shutdown.
//! - `store`: the stored form of answers and the embedded durable store.
//! - `telemetry`: logging.
//! - `topology`: the one choice between a single node and a fleet, and the parts each uses.

pub mod answer;
pub mod app;
pub mod audit;
pub mod cache;
pub mod caller;
pub mod callers;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod enrich;
pub mod extract;
mod fdlimit;
pub mod http;
pub mod integrations;
pub mod metrics;
pub mod observable;
pub mod quota;
pub mod redis;
pub mod report;
mod server;
pub mod simulator;
mod store;
mod telemetry;
mod topology;
pub mod usage;
pub mod virustotal;
