//! Prometheus metrics: one struct owning its registry, created once and handed around.
//!
//! Label values always come from small closed sets (route templates, outcome names, window
//! names); never an IP, a key, a URL or anything a caller typed.
//!
//! Over 300 lines with a reason: `Metrics::new` is one list creating and registering every
//! series with its help text, buckets and why; split, a series could be declared in one file
//! and left unregistered in another.

use std::sync::Arc;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::quota::QuotaSnapshot;

/// The closed label sets of the labelled counters. Every combination is exported at 0 from
/// start-up: a series that appears only on its first increase has no earlier sample, so
/// `rate()` and `increase()` miss that first increase and an alert on it never fires.
pub mod labels {
    /// `cache_hits_total{kind}`.
    pub const CACHE_HIT_KINDS: [&str; 2] = ["fresh", "stale"];
    /// `cache_evictions_total{cause}` (replacements are not evictions).
    pub const CACHE_EVICTION_CAUSES: [&str; 2] = ["expired", "size"];
    /// `upstream_requests_total{outcome}`: the two answers, then `VtError::outcome()`.
    pub const UPSTREAM_OUTCOMES: [&str; 10] = [
        "ok",
        "not_found",
        "quota_exceeded",
        "too_many_requests",
        "auth",
        "client_error",
        "server_error",
        "timeout",
        "transport",
        "malformed",
    ];
    /// `quota_decisions_total{decision,reason}`: grants by priority, denials by
    /// `DenyReason::as_str()`.
    pub const QUOTA_DECISIONS: [(&str, &str); 9] = [
        ("granted", "interactive"),
        ("granted", "bulk"),
        ("granted", "background"),
        ("denied", "reserve"),
        ("denied", "minute"),
        ("denied", "day"),
        ("denied", "month"),
        ("denied", "blocked"),
        ("denied", "closed"),
    ];
    /// `observables_total{type,status,source}` and `upstream_*{type,outcome}`: the observable
    /// types, then `unknown` for input that parsed as none of them (invalid items only).
    pub const OBSERVABLE_TYPES: [&str; 4] = ["ip", "domain", "url", "file"];
    /// The `type` of an invalid item: what a caller typed is not trusted to name a type.
    pub const UNKNOWN_TYPE: &str = "unknown";
    /// `observables_total{type,status,source}`: the pairs an outcome can have (deferred items
    /// have no source yet; an upstream error is VirusTotal's). Invalid items are `unknown`.
    pub const OBSERVABLE_OUTCOMES: [(&str, &str); 8] = [
        ("ok", "cache"),
        ("ok", "virustotal"),
        ("not_found", "cache"),
        ("not_found", "virustotal"),
        ("not_routable", "local"),
        ("invalid", "local"),
        ("deferred", "none"),
        ("error", "virustotal"),
    ];
    /// `store_errors_total{op}`.
    pub const STORE_OPS: [&str; 4] = ["read", "write", "purge", "open"];
    /// The API routes (template and method, as the router labels them) whose
    /// `http_requests_total{status_class="5xx"}` starts at 0, so the first deadline_exceeded
    /// is seen by the alert on it. Other classes and routes appear with their first request:
    /// ratios need no zero series (no traffic, no ratio).
    pub const API_ROUTES: [(&str, &str); 11] = [
        ("/v1/enrich", "POST"),
        ("/v1/extract", "POST"),
        ("/v1/lookup", "GET"),
        ("/v1/lookup", "POST"),
        ("/v1/lookup", "PUT"),
        ("/query", "POST"),
        ("/v1/ip/{ip}", "GET"),
        ("/v1/domain/{domain}", "GET"),
        ("/v1/file/{hash}", "GET"),
        ("/v1/url", "GET"),
        ("/v1/quota", "GET"),
    ];
}

/// Every metric the service exports; cheap to clone (one `Arc`), since handlers and parts
/// each hold a copy and a clone per request must not copy two dozen metric handles.
#[derive(Clone)]
pub struct Metrics(Arc<MetricFamilies>);

impl std::ops::Deref for Metrics {
    type Target = MetricFamilies;

    fn deref(&self) -> &MetricFamilies {
        &self.0
    }
}

/// The metric handles behind [`Metrics`].
pub struct MetricFamilies {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub observables: IntCounterVec,
    pub batch_size: Histogram,
    pub cache_requests: IntCounter,
    pub cache_hits: IntCounterVec,
    pub cache_entries: IntGauge,
    pub cache_evictions: IntCounterVec,
    pub singleflight_waits: IntCounter,
    pub upstream_requests: IntCounterVec,
    pub upstream_duration: HistogramVec,
    pub quota_limit: IntGaugeVec,
    pub quota_used: IntGaugeVec,
    pub quota_decisions: IntCounterVec,
    pub quota_wait: Histogram,
    pub quota_blocked_until: IntGauge,
    pub quota_backend_up: IntGauge,
    pub quota_fallback_active: IntGauge,
    pub deferred_depth: IntGauge,
    pub deferred_dropped: IntCounter,
    pub store_errors: IntCounterVec,
    pub store_degraded: IntGauge,
    pub store_entries: IntGauge,
    pub audit_entries: IntCounter,
    pub audit_dropped: IntCounter,
    pub connections_open: IntGauge,
    pub connections_max: IntGauge,
    /// Tokio tasks alive, read when scraped: a leak of tasks shows as steady growth.
    pub runtime_tasks: IntGauge,
    pub connections_refused: IntCounterVec,
    pub connections_closed: IntCounterVec,
    /// Per caller (the label is a validated caller id; at most 1,000 callers exist).
    pub caller_upstream_calls: IntCounterVec,
    pub caller_daily_used: IntGaugeVec,
    pub caller_daily_cap: IntGaugeVec,
    pub caller_refused: IntCounterVec,
    /// The children of `observables_total` and `cache_hits_total`, resolved once at start-up:
    /// a label look-up (hashing, a lock, an `Arc` clone) per counted item was a visible share
    /// of a cached batch's time.
    pub resolved: Resolved,
}

/// Metric children resolved once (see [`MetricFamilies::resolved`]).
#[derive(Default)]
pub struct Resolved {
    /// `observables_total{type,status,source}` by [`Resolved::observable_index`]; `None` for a
    /// pair outside the closed set.
    observables: Vec<Option<IntCounter>>,
    /// `cache_hits_total{kind="fresh"}`.
    pub cache_hits_fresh: Option<IntCounter>,
    /// `cache_hits_total{kind="stale"}`.
    pub cache_hits_stale: Option<IntCounter>,
}

impl Resolved {
    /// The slot of a type (index into [`labels::OBSERVABLE_TYPES`], or its length for
    /// `unknown`) and an outcome pair (index into [`labels::OBSERVABLE_OUTCOMES`]).
    pub const fn observable_index(kind: usize, outcome: usize) -> usize {
        kind * labels::OBSERVABLE_OUTCOMES.len() + outcome
    }

    /// Number of slots: every type and `unknown`, by every outcome pair.
    pub const OBSERVABLE_SLOTS: usize =
        (labels::OBSERVABLE_TYPES.len() + 1) * labels::OBSERVABLE_OUTCOMES.len();

    /// The `observables_total` child of a slot, when the pair is in the closed set.
    pub fn observables(&self, slot: usize) -> Option<&IntCounter> {
        self.observables.get(slot).and_then(Option::as_ref)
    }
}

/// Why a new connection was closed without being served (`connections_refused_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionRefused {
    /// `max_connections` were already open.
    Limit,
    /// `accept` itself failed (out of file descriptors and the like).
    AcceptError,
}

impl ConnectionRefused {
    const ALL: [Self; 2] = [Self::Limit, Self::AcceptError];

    fn label(self) -> &'static str {
        match self {
            Self::Limit => "limit",
            Self::AcceptError => "accept_error",
        }
    }
}

/// Why the server closed a connection it was serving (`connections_closed_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionClosed {
    /// No request arrived within the header read timeout of the connection opening.
    HeaderTimeout,
    /// No request was in flight for the idle timeout.
    IdleTimeout,
}

impl ConnectionClosed {
    const ALL: [Self; 2] = [Self::HeaderTimeout, Self::IdleTimeout];

    fn label(self) -> &'static str {
        match self {
            Self::HeaderTimeout => "header_timeout",
            Self::IdleTimeout => "idle_timeout",
        }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(format!("vtenrich_{name}"), help), labels)
        .expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(format!("vtenrich_{name}"), help), labels)
        .expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

fn histogram_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Vec<f64>,
) -> HistogramVec {
    let metric = HistogramVec::new(
        HistogramOpts::new(format!("vtenrich_{name}"), help).buckets(buckets),
        labels,
    )
    .expect("valid");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let metric =
        Histogram::with_opts(HistogramOpts::new(format!("vtenrich_{name}"), help).buckets(buckets))
            .expect("ok");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, m: M) -> M {
    registry
        .register(Box::new(m.clone()))
        .expect("unique metric");
    m
}

impl Metrics {
    /// A fresh registry with every metric registered (and the process collector on Linux).
    pub fn new() -> Self {
        // No registry prefix: the process collector keeps its standard `process_*` names.
        let r = Registry::new();
        #[cfg(target_os = "linux")]
        r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))
        .expect("process collector");
        let build = gauge_vec(
            &r,
            "build_info",
            "Build information; value is always 1.",
            &["version"],
        );
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);

        let mut metrics = MetricFamilies {
            http_requests: counter_vec(
                &r,
                "http_requests_total",
                "HTTP requests answered, by route template, method and status class.",
                &["route", "method", "status_class"],
            ),
            // Cache hits answer in well under a millisecond; batches that wait for quota take
            // up to the wait cap (30 s by default), so the buckets span 0.5 ms to 30 s.
            http_duration: histogram_vec(
                &r,
                "http_request_duration_seconds",
                "Time to answer an HTTP request, by route template.",
                &["route"],
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0,
                ],
            ),
            observables: counter_vec(
                &r,
                "observables_total",
                "Observables answered, by type (unknown for invalid input), result status and \
                 source.",
                &["type", "status", "source"],
            ),
            // Batches range from one observable (investigation tools) to max_batch (1,000 by
            // default, webhooks); powers of about 4 keep the bucket count small.
            batch_size: histogram(
                &r,
                "batch_size",
                "Observables per enrichment request.",
                vec![
                    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0,
                ],
            ),
            cache_requests: register(
                &r,
                IntCounter::new("vtenrich_cache_requests_total", "Cache lookups.").expect("ok"),
            ),
            cache_hits: counter_vec(
                &r,
                "cache_hits_total",
                "Cache lookups answered from the cache, by kind (fresh or stale).",
                &["kind"],
            ),
            cache_entries: register(
                &r,
                IntGauge::new("vtenrich_cache_entries", "Entries in the in-memory cache.")
                    .expect("ok"),
            ),
            cache_evictions: counter_vec(
                &r,
                "cache_evictions_total",
                "Entries removed from the cache, by cause (expired or size).",
                &["cause"],
            ),
            singleflight_waits: register(
                &r,
                IntCounter::new(
                    "vtenrich_singleflight_waits_total",
                    "Lookups that joined an upstream call already in flight instead of making one.",
                )
                .expect("ok"),
            ),
            upstream_requests: counter_vec(
                &r,
                "upstream_requests_total",
                "Calls to VirusTotal, by observable type and outcome.",
                &["type", "outcome"],
            ),
            // VirusTotal usually answers in 100-800 ms; timeouts default to 15 s.
            upstream_duration: histogram_vec(
                &r,
                "upstream_request_duration_seconds",
                "Duration of VirusTotal calls, by observable type and outcome.",
                &["type", "outcome"],
                vec![
                    0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3.0, 6.0, 10.0, 15.0, 30.0,
                ],
            ),
            quota_limit: gauge_vec(
                &r,
                "quota_limit",
                "VirusTotal calls allowed per window.",
                &["window"],
            ),
            quota_used: gauge_vec(
                &r,
                "quota_used",
                "VirusTotal calls used in the current window.",
                &["window"],
            ),
            quota_decisions: counter_vec(
                &r,
                "quota_decisions_total",
                "Quota gate decisions (granted or denied), by reason.",
                &["decision", "reason"],
            ),
            // With 4 calls per minute a slot is at most 60 s away; requests wait at most their
            // max_wait (8 s default, 30 s cap), background fills can wait longer.
            quota_wait: histogram(
                &r,
                "quota_wait_seconds",
                "Time spent waiting for a quota slot before a granted call.",
                vec![
                    0.001, 0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0,
                ],
            ),
            quota_blocked_until: register(
                &r,
                IntGauge::new(
                    "vtenrich_quota_blocked_until_timestamp_seconds",
                    "Unix time until which VirusTotal blocks us (0 when not blocked).",
                )
                .expect("ok"),
            ),
            quota_backend_up: register(
                &r,
                IntGauge::new(
                    "vtenrich_quota_backend_up",
                    "1 while the quota backend answers (Redis when configured; the in-process \
                     gate always does), else 0.",
                )
                .expect("ok"),
            ),
            quota_fallback_active: register(
                &r,
                IntGauge::new(
                    "vtenrich_quota_fallback_active",
                    "1 while Redis is unreachable and this replica decides alone (its local \
                     share, or no calls in closed mode), else 0.",
                )
                .expect("ok"),
            ),
            deferred_depth: register(
                &r,
                IntGauge::new(
                    "vtenrich_deferred_queue_depth",
                    "Observables waiting for a background fill.",
                )
                .expect("ok"),
            ),
            audit_entries: register(
                &r,
                IntCounter::new(
                    "vtenrich_audit_entries_total",
                    "Audit log entries written.",
                )
                .expect("ok"),
            ),
            audit_dropped: register(
                &r,
                IntCounter::new(
                    "vtenrich_audit_dropped_total",
                    "Audit log entries lost: the writer queue was full or the backend failed the write.",
                )
                .expect("ok"),
            ),
            deferred_dropped: register(
                &r,
                IntCounter::new(
                    "vtenrich_deferred_dropped_total",
                    "Observables not queued for a background fill because the queue was full.",
                )
                .expect("ok"),
            ),
            store_errors: counter_vec(
                &r,
                "store_errors_total",
                "Failed operations on the embedded durable store, by operation (read, write, purge or open).",
                &["op"],
            ),
            store_degraded: register(
                &r,
                IntGauge::new(
                    "vtenrich_store_degraded",
                    "1 while the embedded durable store fails writes and answers are kept in memory only.",
                )
                .expect("ok"),
            ),
            store_entries: register(
                &r,
                IntGauge::new(
                    "vtenrich_store_entries",
                    "Entries in the embedded durable store.",
                )
                .expect("ok"),
            ),
            connections_open: register(
                &r,
                IntGauge::new(
                    "vtenrich_connections_open",
                    "Client connections open now.",
                )
                .expect("ok"),
            ),
            connections_max: register(
                &r,
                IntGauge::new(
                    "vtenrich_connections_max",
                    "Most client connections open at once (VTENRICH_MAX_CONNECTIONS, lowered to \
                     fit the file-descriptor limit).",
                )
                .expect("ok"),
            ),
            runtime_tasks: register(
                &r,
                IntGauge::new(
                    "vtenrich_runtime_tasks",
                    "Tokio tasks alive when scraped (steady growth means a task leak).",
                )
                .expect("ok"),
            ),
            connections_refused: counter_vec(
                &r,
                "connections_refused_total",
                "New connections closed without being served, by reason (limit or accept_error).",
                &["reason"],
            ),
            connections_closed: counter_vec(
                &r,
                "connections_closed_total",
                "Connections the server closed for silence, by reason (header_timeout or \
                 idle_timeout).",
                &["reason"],
            ),
            caller_upstream_calls: counter_vec(
                &r,
                "caller_upstream_calls_total",
                "VirusTotal calls each caller started (the calls it is charged for), by caller.",
                &["caller"],
            ),
            caller_daily_used: gauge_vec(
                &r,
                "caller_daily_used",
                "VirusTotal calls each caller started this UTC day, by caller.",
                &["caller"],
            ),
            caller_daily_cap: gauge_vec(
                &r,
                "caller_daily_cap",
                "Each capped caller's daily cap (VirusTotal calls per UTC day), by caller.",
                &["caller"],
            ),
            caller_refused: counter_vec(
                &r,
                "caller_refused_total",
                "New observables a caller got no VirusTotal call for, by caller and reason: its \
                 cap was spent (cap), the rest of the day is kept for interactive callers \
                 (reserve), or the day's or month's quota is spent (quota).",
                &["caller", "reason"],
            ),
            registry: r,
            resolved: Resolved::default(),
        };
        // Present at 0 from the start, so rate() and absent() alerts work before the first event.
        for reason in ConnectionRefused::ALL {
            metrics
                .connections_refused
                .with_label_values(&[reason.label()]);
        }
        for reason in ConnectionClosed::ALL {
            metrics
                .connections_closed
                .with_label_values(&[reason.label()]);
        }
        // Without Redis the in-process gate is the backend, and it always answers.
        metrics.quota_backend_up.set(1);
        metrics.export_closed_series_at_zero();
        Self(Arc::new(metrics))
    }

    /// Copies the gate's state into the quota gauges.
    pub fn observe_quota(&self, snapshot: &QuotaSnapshot) {
        for (window, usage) in [
            ("minute", &snapshot.minute),
            ("day", &snapshot.day),
            ("month", &snapshot.month),
        ] {
            self.quota_limit
                .with_label_values(&[window])
                .set(usage.limit as i64);
            self.quota_used
                .with_label_values(&[window])
                .set(usage.used as i64);
        }
        self.quota_blocked_until
            .set(snapshot.blocked_until.map_or(0, |t| t.timestamp()));
    }

    /// Counts a new connection closed without being served.
    pub fn connection_refused(&self, reason: ConnectionRefused) {
        self.connections_refused
            .with_label_values(&[reason.label()])
            .inc();
    }

    /// Counts a connection the server closed for silence.
    pub fn connection_closed(&self, reason: ConnectionClosed) {
        self.connections_closed
            .with_label_values(&[reason.label()])
            .inc();
    }

    /// The registry in Prometheus text exposition format.
    pub fn render(&self) -> String {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let alive = runtime.metrics().num_alive_tasks();
            self.runtime_tasks
                .set(i64::try_from(alive).unwrap_or(i64::MAX));
        }
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding into a Vec cannot fail");
        String::from_utf8(buf).expect("the text encoder writes UTF-8")
    }
}

impl MetricFamilies {
    /// Creates every series of the closed label sets ([`labels`]) without counting anything,
    /// keeping the children counted per item in [`Resolved`].
    fn export_closed_series_at_zero(&mut self) {
        for (route, method) in labels::API_ROUTES {
            self.http_requests
                .with_label_values(&[route, method, "5xx"]);
        }
        for kind in labels::CACHE_HIT_KINDS {
            self.cache_hits.with_label_values(&[kind]);
        }
        self.resolved.cache_hits_fresh = Some(self.cache_hits.with_label_values(&["fresh"]));
        self.resolved.cache_hits_stale = Some(self.cache_hits.with_label_values(&["stale"]));
        for cause in labels::CACHE_EVICTION_CAUSES {
            self.cache_evictions.with_label_values(&[cause]);
        }
        for kind in labels::OBSERVABLE_TYPES {
            for outcome in labels::UPSTREAM_OUTCOMES {
                self.upstream_requests.with_label_values(&[kind, outcome]);
            }
        }
        for (decision, reason) in labels::QUOTA_DECISIONS {
            self.quota_decisions.with_label_values(&[decision, reason]);
        }
        let mut observables = vec![None; Resolved::OBSERVABLE_SLOTS];
        for (outcome, (status, source)) in labels::OBSERVABLE_OUTCOMES.into_iter().enumerate() {
            if status == "invalid" {
                let unknown = labels::OBSERVABLE_TYPES.len();
                observables[Resolved::observable_index(unknown, outcome)] =
                    Some(self.observables.with_label_values(&[
                        labels::UNKNOWN_TYPE,
                        status,
                        source,
                    ]));
                continue;
            }
            for (index, kind) in labels::OBSERVABLE_TYPES.into_iter().enumerate() {
                observables[Resolved::observable_index(index, outcome)] =
                    Some(self.observables.with_label_values(&[kind, status, source]));
            }
        }
        self.resolved.observables = observables;
        for op in labels::STORE_OPS {
            self.store_errors.with_label_values(&[op]);
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests;
