//! An in-process fake of the VirusTotal API v3 for `vtenrich demo` and for tests.
//!
//! It serves `GET /api/v3/ip_addresses/{ip}`, `/domains/{domain}`, `/urls/{id}`, `/files/{hash}`,
//! the relationships of IPs, domains and files (always empty; what misp-modules' VirusTotal
//! module asks for after the object) and `/users/{id}/overall_quotas` with VirusTotal's shapes, status codes and error
//! bodies, enforces one per-minute and per-day quota over all lookups on the injected clock,
//! records every call, and can be told to misbehave ([`Fault`]).

mod faults;
mod generate;
mod ledger;
mod objects;
mod tables;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod typed_tests;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::virustotal::Endpoint;
use faults::{Answer, Plan};
use ledger::{Ledger, Limits};

pub use faults::Fault;
pub use generate::ip_object;

/// How the simulator behaves.
#[derive(Clone)]
pub struct SimulatorConfig {
    /// The only accepted `x-apikey`.
    pub api_key: String,
    /// Calls allowed in any 60 s window; `None` is unlimited.
    pub per_minute: Option<u32>,
    /// Calls allowed per UTC calendar day; `None` is unlimited.
    pub per_day: Option<u64>,
    /// Added to every answer, for demo realism.
    pub latency: Duration,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            api_key: "simulator-key".to_string(),
            per_minute: None,
            per_day: None,
            latency: Duration::ZERO,
        }
    }
}

// Written by hand so the key never reaches a log line.
impl fmt::Debug for SimulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorConfig")
            .field("api_key", &"[REDACTED]")
            .field("per_minute", &self.per_minute)
            .field("per_day", &self.per_day)
            .field("latency", &self.latency)
            .finish()
    }
}

/// One `/ip_addresses/{ip}` request (or `/ip_addresses/{ip}/resolutions`, which VirusTotal
/// charges as a call too) as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCall {
    /// The address as written in the request path.
    pub ip: String,
    /// The clock's time when the request arrived.
    pub at: DateTime<Utc>,
    /// The HTTP status answered.
    pub status: u16,
}

/// One `/domains`, `/urls` or `/files` request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimLookup {
    /// Where it asked.
    pub endpoint: Endpoint,
    /// The id as written in the request path.
    pub id: String,
    /// The clock's time when the request arrived.
    pub at: DateTime<Utc>,
    /// The HTTP status answered.
    pub status: u16,
}

/// A running simulator; dropping it shuts it down.
pub struct Simulator {
    shared: Arc<Shared>,
    base_url: url::Url,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

struct Shared {
    config: SimulatorConfig,
    limits: Limits,
    clock: SharedClock,
    ledger: Mutex<Ledger>,
}

impl Shared {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // The ledger stays consistent even if a holder panicked (every update is one statement).
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Simulator {
    /// Starts a simulator on 127.0.0.1 with a port chosen by the OS.
    pub async fn start(config: SimulatorConfig, clock: SharedClock) -> anyhow::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::start_on(listener, config, clock).await
    }

    /// Starts a simulator serving on `listener`.
    pub async fn start_on(
        listener: tokio::net::TcpListener,
        config: SimulatorConfig,
        clock: SharedClock,
    ) -> anyhow::Result<Simulator> {
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let base_url = url::Url::parse(&format!("http://{addr}/api/v3"))?;
        let limits = Limits {
            per_minute: config.per_minute,
            per_day: config.per_day,
        };
        let shared = Arc::new(Shared {
            config,
            limits,
            clock,
            ledger: Mutex::new(Ledger::default()),
        });
        let app = Router::new()
            .route("/api/v3/ip_addresses/{ip}", typed(Endpoint::IpAddresses))
            .route("/api/v3/ip_addresses/{ip}/resolutions", get(resolutions))
            .route("/api/v3/domains/{id}", typed(Endpoint::Domains))
            .route(
                "/api/v3/domains/{id}/{relationship}",
                relationship(Endpoint::Domains),
            )
            .route("/api/v3/urls/{id}", typed(Endpoint::Urls))
            .route("/api/v3/files/{id}", typed(Endpoint::Files))
            .route(
                "/api/v3/files/{id}/{relationship}",
                relationship(Endpoint::Files),
            )
            .route("/api/v3/users/{id}/overall_quotas", get(overall_quotas))
            .fallback(unknown_path)
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = server.await {
                tracing::error!(%error, "simulator stopped serving");
            }
        });
        Ok(Simulator {
            shared,
            base_url,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The API root, e.g. `http://127.0.0.1:PORT/api/v3`.
    pub fn base_url(&self) -> url::Url {
        self.base_url.clone()
    }

    /// Every `/ip_addresses/{ip}` request that reached it (authenticated or not), in order.
    pub fn calls(&self) -> Vec<SimCall> {
        self.shared.ledger().calls.clone()
    }

    /// How many `/ip_addresses/{ip}` requests reached it.
    pub fn ip_call_count(&self) -> usize {
        self.shared.ledger().calls.len()
    }

    /// How many `/ip_addresses/{ip}` requests asked about `ip`.
    pub fn calls_for(&self, ip: &str) -> usize {
        self.shared.ledger().calls_for(ip)
    }

    /// Every `/domains`, `/urls` and `/files` request that reached it, in order.
    pub fn lookups(&self) -> Vec<SimLookup> {
        self.shared.ledger().lookups.clone()
    }

    /// How many requests reached `endpoint` (IP calls included when it is `IpAddresses`).
    pub fn call_count(&self, endpoint: Endpoint) -> usize {
        let ledger = self.shared.ledger();
        match endpoint {
            Endpoint::IpAddresses => ledger.calls.len(),
            _ => ledger
                .lookups
                .iter()
                .filter(|l| l.endpoint == endpoint)
                .count(),
        }
    }

    /// How many requests reached any endpoint: every call a test must count.
    pub fn total_call_count(&self) -> usize {
        Endpoint::ALL.into_iter().map(|e| self.call_count(e)).sum()
    }

    /// How many requests asked `endpoint` about `id` (as written in the path).
    pub fn lookups_for(&self, endpoint: Endpoint, id: &str) -> usize {
        let ledger = self.shared.ledger();
        ledger
            .lookups
            .iter()
            .filter(|l| l.endpoint == endpoint && l.id == id)
            .count()
    }

    /// The next `times` answers about `id` at a domain, URL or file `endpoint` use `fault`.
    pub fn inject_at(&self, endpoint: Endpoint, id: &str, fault: Fault, times: usize) {
        self.shared
            .ledger()
            .inject(&fault_key(endpoint, id), fault, times);
    }

    /// The next `times` answers for `ip` use `fault`. Faults apply only to calls that pass the
    /// key and quota checks, after any fault already queued for that address.
    pub fn inject(&self, ip: &str, fault: Fault, times: usize) {
        self.shared.ledger().inject(ip, fault, times);
    }

    /// While on, every authenticated IP call is answered 429 QuotaExceededError.
    pub fn set_quota_exceeded(&self, on: bool) {
        self.shared.ledger().quota_exceeded = on;
    }

    /// Stops accepting calls and waits (a few seconds at most) for answers in flight.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            // A Delay fault could keep a connection open for long; don't wait for it forever.
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

/// The route of an object `endpoint`.
fn typed(endpoint: Endpoint) -> MethodRouter<Arc<Shared>> {
    get(
        move |State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap| {
            typed_object(shared, endpoint, id, headers)
        },
    )
}

/// `/ip_addresses/{ip}`, `/domains/{id}`, `/urls/{id}` and `/files/{id}`: one quota for all.
async fn typed_object(
    shared: Arc<Shared>,
    endpoint: Endpoint,
    id: String,
    headers: HeaderMap,
) -> Response {
    let plan = charge(&shared, endpoint, id, &headers, |ledger, endpoint, id| {
        let normal = objects::answer(endpoint, id, &mut ledger.files);
        Plan::new(normal, ledger.take_fault(&fault_key(endpoint, id)))
    })
    .await;
    plan.into_response().await
}

/// A relationship listing costs a call like the object does, so it is admitted and logged the
/// same way; faults stay queued for the object itself.
async fn resolutions(
    State(shared): State<Arc<Shared>>,
    Path(ip): Path<String>,
    headers: HeaderMap,
) -> Response {
    let plan = charge(&shared, Endpoint::IpAddresses, ip, &headers, |_, _, _| {
        Plan::new(Answer::EmptyList, None)
    })
    .await;
    plan.into_response().await
}

/// A domain's or file's relationship listing (`siblings`, `contacted_urls`...), empty and
/// charged as `resolutions` is, logged as a lookup of the object.
fn relationship(endpoint: Endpoint) -> MethodRouter<Arc<Shared>> {
    get(
        move |State(shared): State<Arc<Shared>>,
              Path((id, _)): Path<(String, String)>,
              headers: HeaderMap| async move {
            let plan = charge(&shared, endpoint, id, &headers, |_, _, _| {
                Plan::new(Answer::EmptyList, None)
            })
            .await;
            plan.into_response().await
        },
    )
}

/// Authenticates and admits one charged call for `id` at `endpoint` and logs it with the
/// status answered; `admitted` plans the answer of a call that passed, under the ledger lock.
async fn charge(
    shared: &Shared,
    endpoint: Endpoint,
    id: String,
    headers: &HeaderMap,
    admitted: impl FnOnce(&mut Ledger, Endpoint, &str) -> Plan,
) -> Plan {
    pause(shared).await;
    let at = shared.clock.now();
    let mut ledger = shared.ledger();
    let plan = match authenticate(&shared.config, headers)
        .and_then(|()| ledger.admit(at, shared.limits))
    {
        Err(refusal) => Plan::new(refusal, None),
        Ok(()) => admitted(&mut ledger, endpoint, &id),
    };
    let status = plan.answer.status();
    match endpoint {
        Endpoint::IpAddresses => ledger.calls.push(SimCall { ip: id, at, status }),
        _ => ledger.lookups.push(SimLookup {
            endpoint,
            id,
            at,
            status,
        }),
    }
    plan
}

/// Faults for IPs are queued under the address, the others under `{endpoint}/{id}`, which no
/// IP spelling matches.
fn fault_key(endpoint: Endpoint, id: &str) -> String {
    match endpoint {
        Endpoint::IpAddresses => id.to_owned(),
        _ => format!("{}/{id}", endpoint.name()),
    }
}

/// Quota queries are free, as they must keep working once the quota is spent.
async fn overall_quotas(
    State(shared): State<Arc<Shared>>,
    Path(_user): Path<String>,
    headers: HeaderMap,
) -> Response {
    pause(&shared).await;
    if let Err(refusal) = authenticate(&shared.config, &headers) {
        return Plan::new(refusal, None).into_response().await;
    }
    let usage = shared.ledger().usage(shared.clock.now());
    let daily = shared.config.per_day.unwrap_or(1_000_000);
    let hourly = shared
        .config
        .per_minute
        .map_or(daily, |m| u64::from(m) * 60);
    // VirusTotal's public monthly allowance is 31 days' worth (500/day, 15,500/month).
    let monthly = daily.saturating_mul(31);
    let body = json!({"data": {
        "api_requests_daily": {"user": {"allowed": daily, "used": usage.day}},
        "api_requests_hourly": {"user": {"allowed": hourly, "used": usage.hour}},
        "api_requests_monthly": {"user": {"allowed": monthly, "used": usage.month}},
    }});
    axum::Json(body).into_response()
}

async fn unknown_path(State(shared): State<Arc<Shared>>) -> Response {
    pause(&shared).await;
    Plan::new(
        Answer::error(404, "NotFoundError", "Resource not found."),
        None,
    )
    .into_response()
    .await
}

fn authenticate(config: &SimulatorConfig, headers: &HeaderMap) -> Result<(), Answer> {
    match headers.get("x-apikey") {
        None => Err(Answer::error(
            401,
            "AuthenticationRequiredError",
            "X-Apikey header is missing",
        )),
        Some(key) if key.as_bytes() == config.api_key.as_bytes() => Ok(()),
        Some(_) => Err(Answer::error(401, "WrongCredentialsError", "Wrong API key")),
    }
}

async fn pause(shared: &Shared) {
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
}
