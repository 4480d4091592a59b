//! Builds the application from settings (listener bound, background tasks ready) and runs it
//! until a shutdown future resolves.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::audit::{AuditLog, AuditedGate, CapAudit};
use crate::callers::ledger::{CallerLedger, WatchedLedger};
use crate::callers::{DailyUse, Registry};
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::enrich::{Enricher, EnricherBuilder};
use crate::http::{self, AppParts, AppState, AuthPolicy, HttpOptions, Readiness, RequestLimits};
use crate::metrics::Metrics;
use crate::quota::QuotaGate;
use crate::server::ServerLimits;
use crate::store::durable::{DurableStore, spawn_purger};
use crate::topology::Topology;
use crate::usage::Usage;
use crate::virustotal::VtClient;

/// A built, bound, not yet running service.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// The MISP listener and its routes (`VTENRICH_MISP_LISTEN`).
    misp: Option<(TcpListener, Router)>,
    enricher: Enricher,
    ready: Readiness,
    metrics: Metrics,
    drain_delay: std::time::Duration,
    limits: ServerLimits,
    /// Longest shutdown waits for calls in flight to be written through.
    settle_limit: std::time::Duration,
    quota_sync: Option<(VtClient, String, std::time::Duration, Arc<dyn QuotaGate>)>,
    store: Option<DurableStore>,
    registry: Registry,
    audit: AuditLog,
    usage: Usage,
}

impl Application {
    /// Binds `settings.listen` (port 0 picks a free port) and wires every part; every API
    /// request needs a key as soon as any caller exists.
    pub async fn build(
        settings: &Settings,
        api_key: SecretString,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        Self::build_with(settings, api_key, clock, AuthPolicy::RequireKey).await
    }

    /// [`Application::build`] with an explicit authentication policy (the demo lets requests
    /// without a key in).
    pub async fn build_with(
        settings: &Settings,
        api_key: SecretString,
        clock: SharedClock,
        policy: AuthPolicy,
    ) -> anyhow::Result<Self> {
        let metrics = Metrics::new();
        let vt = &settings.virustotal;
        let client = vt.client(api_key)?;
        let topology = Topology::open(settings, clock.clone(), &metrics).await?;
        let audit = AuditLog::open(
            topology.audit(),
            settings.audit,
            clock.clone(),
            metrics.clone(),
        )
        .await?;
        let gate: Arc<dyn QuotaGate> = Arc::new(AuditedGate::new(
            topology.gate(),
            audit.clone(),
            clock.clone(),
        ));
        metrics.observe_quota(&gate.snapshot());
        let cache = topology.cache(settings, clock.clone(), metrics.clone());
        let usage = Usage::new(topology.usage(), clock.clone());
        // Each charge is counted as usage and a spent cap audited, in the charge's own step.
        let ledger: Arc<dyn CallerLedger> = Arc::new(WatchedLedger::new(
            topology.ledger(),
            vec![
                Arc::new(usage.clone()),
                Arc::new(CapAudit::new(audit.clone())),
            ],
        ));
        let enricher = EnricherBuilder::new(
            cache,
            gate.clone(),
            ledger,
            client.clone(),
            clock.clone(),
            metrics.clone(),
        )
        .calls(vt.request_timeout, vt.max_retries)
        .max_concurrent_upstream(settings.max_concurrent_upstream)
        .deferred_capacity(settings.deferred.capacity)
        .reserve_interactive(settings.reserve_interactive())
        .second_tier(topology.tier())
        .fleet_lock(topology.lock())
        .private_suffixes(settings.private_suffixes.clone())
        .build();
        let registry = Registry::open(
            &settings.callers,
            topology.callers(),
            clock.clone(),
            metrics.clone(),
        )
        .await;
        let ready = Readiness::default();
        let state = AppState::new(AppParts {
            enricher: enricher.clone(),
            limits: RequestLimits {
                max_batch: settings.max_batch,
                default_wait: settings.default_wait,
                max_wait: settings.max_wait,
            },
            verdict: settings.verdict,
            metrics: metrics.clone(),
            ready: ready.clone(),
            registry: registry.clone(),
            daily_use: topology.ledger() as Arc<dyn DailyUse>,
            audit: audit.clone(),
            usage: usage.clone(),
            sessions: settings.console.enabled.then(|| {
                crate::console::Sessions::new(
                    settings.console.session_ttl,
                    clock.clone(),
                    settings.trusted_proxies.clone(),
                )
            }),
        });
        let options = HttpOptions {
            body_limit_bytes: settings.body_limit_bytes,
            swagger_ui: settings.swagger_ui,
            request_timeout: settings.request_timeout,
            trusted_proxies: settings.trusted_proxies.clone(),
        };
        let callers = http::Callers::new(registry.clone(), policy, settings.metrics_open)
            .with_sessions(state.sessions.clone());
        let misp = match settings.misp_listen {
            Some(address) => Some((
                TcpListener::bind(address).await.with_context(|| {
                    format!("cannot listen on {address} (VTENRICH_MISP_LISTEN)")
                })?,
                http::misp_router(state.clone(), options.clone(), callers.clone()),
            )),
            None => None,
        };
        let router = http::router(state, options, callers);
        if registry.is_empty() && !settings.listen.ip().is_loopback() {
            tracing::warn!(
                listen = %settings.listen,
                "listening on a non-loopback address without [[callers]]: anyone who can reach \
                 this port can spend the VirusTotal quota"
            );
        }
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {} (VTENRICH_LISTEN)", settings.listen))?;
        let quota_sync = vt
            .user_id
            .clone()
            .map(|user| (client, user, vt.quota_sync_interval, gate));
        audit.started(settings).await;
        Ok(Self {
            listener,
            router,
            misp,
            enricher,
            ready,
            metrics,
            drain_delay: settings.drain_delay,
            limits: ServerLimits {
                header_read_timeout: settings.header_read_timeout,
                max_header_bytes: settings.max_header_bytes,
                idle_timeout: settings.idle_timeout,
                max_connections: crate::fdlimit::connection_cap(
                    settings.max_connections,
                    crate::fdlimit::raise_to_hard_limit(),
                    settings.max_concurrent_upstream,
                ),
            },
            settle_limit: vt.request_timeout + std::time::Duration::from_secs(2),
            quota_sync,
            store: topology.store(),
            registry,
            audit,
            usage,
        })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The MISP listener's bound address, when `VTENRICH_MISP_LISTEN` is set.
    pub fn misp_addr(&self) -> Option<SocketAddr> {
        self.misp
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// The metrics registry (for tests and benchmarks).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Every caller (the demo creates its admin here).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The audit log (the callers admin API records its changes through it).
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The enricher (for tests and benchmarks).
    pub fn enricher(&self) -> &Enricher {
        &self.enricher
    }

    /// Serves until `shutdown` resolves, then stops taking traffic and lets in-flight
    /// requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let address = self.local_addr();
        let cancel = CancellationToken::new();
        let filler = self.enricher.spawn_filler(cancel.clone());
        let sweeper = self.audit.spawn_minute_sweeper(cancel.clone());
        let flusher = self.usage.spawn_flusher(cancel.clone());
        let purger = self
            .store
            .clone()
            .map(|store| spawn_purger(store, self.enricher.clock().clone(), cancel.clone()));
        tokio::spawn(self.registry.clone().follow(cancel.clone()));
        if let Some((client, user, every, gate)) = self.quota_sync {
            tokio::spawn(sync_quota(client, user, every, gate, cancel.clone()));
        }
        let ready = self.ready.clone();
        ready.set(true);
        // The MISP listener closes with the main one; its address is logged first, so a
        // watcher waiting for "vtenrich listening" has both.
        let closing = CancellationToken::new();
        let misp = self.misp.map(|(listener, router)| {
            if let Ok(misp_address) = listener.local_addr() {
                tracing::info!(address = %misp_address, "misp-modules routes listening");
            }
            tokio::spawn(crate::server::serve(
                listener,
                router,
                self.limits,
                self.metrics.clone(),
                closing.clone().cancelled_owned(),
            ))
        });
        tracing::info!(%address, "vtenrich listening");
        let drain_delay = self.drain_delay;
        let close_misp = closing.clone();
        let drained = async move {
            shutdown.await;
            // Readiness turns first and the listener stays open for the drain delay, so load
            // balancers stop routing here before connections are refused.
            ready.set(false);
            tracing::info!(?drain_delay, "shutting down: not ready, draining");
            tokio::time::sleep(drain_delay).await;
            tracing::info!("no longer accepting connections; finishing in-flight requests");
            close_misp.cancel();
        };
        crate::server::serve(
            self.listener,
            self.router,
            self.limits,
            self.metrics.clone(),
            drained,
        )
        .await;
        if let Some(misp) = misp {
            let _ = misp.await;
        }
        // Answers already paid for are written before the process goes.
        self.enricher.settle(self.settle_limit).await;
        cancel.cancel();
        let _ = sweeper.await;
        // The last second of usage counts is written before the process goes.
        let _ = flusher.await;
        self.audit.stopped().await;
        let _ = filler.await;
        if let Some(purger) = purger {
            let _ = purger.await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Adopts VirusTotal's own used counts at start and then periodically, so a restart or another
/// tool sharing the key does not make us overrun.
async fn sync_quota(
    client: VtClient,
    user: String,
    every: std::time::Duration,
    gate: Arc<dyn QuotaGate>,
    cancel: CancellationToken,
) {
    loop {
        match client.overall_quotas(&user).await {
            Ok(usage) => {
                gate.adopt(usage);
                tracing::info!(
                    day_used = usage.day_used,
                    month_used = usage.month_used,
                    "quota synced from VirusTotal"
                );
            }
            Err(err) => tracing::warn!(error = %err, "could not sync quota from VirusTotal"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
