//! `vtenrich demo`: the whole service against the built-in simulator, with an admin caller of
//! its own and a banner saying where to look.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;

use super::shutdown_signal;
use crate::app::Application;
use crate::caller::{CallerId, CallerKind, CallerPriority, Role};
use crate::callers::{NewCaller, Registry, RegistryError};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{DataDir, Origin, Settings};
use crate::http::AuthPolicy;
use crate::simulator::{Simulator, SimulatorConfig};

/// The demo's limits: generous enough to explore, small enough to see deferral happen.
const DEMO_RATE_PER_MINUTE: u32 = 30;
const DEMO_DAILY_QUOTA: u64 = 1_000;

pub(super) async fn demo(settings: &mut Settings, sim_latency: Duration) -> anyhow::Result<()> {
    let clock: SharedClock = Arc::new(SystemClock);
    let simulator = Simulator::start(
        SimulatorConfig {
            api_key: "demo-key".to_owned(),
            latency: sim_latency,
            ..SimulatorConfig::default()
        },
        clock.clone(),
    )
    .await
    .context("cannot start the VirusTotal simulator")?;
    settings.virustotal.base_url = simulator.base_url();
    // The demo's limits apply unless the operator set their own (benchmarks raise them).
    let origins = settings.origins.clone();
    if origins.of("virustotal.rate_per_minute") == Origin::Default {
        settings.virustotal.rate_per_minute = DEMO_RATE_PER_MINUTE;
    }
    if origins.of("virustotal.daily_quota") == Origin::Default {
        settings.virustotal.daily_quota = DEMO_DAILY_QUOTA;
    }
    // Simulated answers must never reach a real deployment's store or Redis, where a later
    // `serve` would return them as VirusTotal data (the Kubernetes base sets VTENRICH_DATA_DIR).
    // The store is never opened; a Redis (the compose demo fleet shares one) is used only under
    // a namespace of the demo's own, which no `serve` reads and whose quota is not the key's.
    if origins.of("data_dir") != Origin::Default {
        tracing::warn!(
            "the demo never opens a deployment's store: ignoring {}",
            origins.name("data_dir")
        );
    }
    settings.data_dir = DataDir::None;
    if settings.redis.url.is_some() {
        settings.redis.namespace = format!("{}-demo", settings.redis.namespace);
        tracing::warn!(
            namespace = %settings.redis.namespace,
            "the demo keeps its simulated answers and quota apart in Redis"
        );
    }
    let (rate, daily) = (
        settings.virustotal.rate_per_minute,
        settings.virustotal.daily_quota,
    );
    // Enrichment without a key stays open in the demo (its examples, the CI smoke test and
    // the benchmarks send none); the admin API needs the demo admin's key. An operator who
    // configured callers asked for authentication: then the demo requires keys as serve does.
    let policy = if settings.callers.is_empty() {
        AuthPolicy::AllowAnonymous
    } else {
        AuthPolicy::RequireKey
    };
    let app =
        Application::build_with(settings, SecretString::from("demo-key"), clock, policy).await?;
    let admin_key = demo_admin(app.registry()).await?;
    let base = format!("http://{}", app.local_addr());
    // Written once and errors ignored: a closed stdout (`vtenrich demo | head -1`) must not
    // stop the demo.
    // EICAR's MD5: a file every VirusTotal (and the simulator) knows and flags.
    const EICAR_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";
    let banner = format!(
        "vtenrich demo: serving on {base} against the built-in VirusTotal simulator \
         ({rate} calls/minute, {daily}/day). Try:\n\n  \
         curl -s {base}/v1/ip/8.8.8.8\n  \
         curl -s {base}/v1/domain/example.com\n  \
         curl -s '{base}/v1/url?url=https%3A%2F%2Fgithub.com%2F'\n  \
         curl -s {base}/v1/file/{EICAR_MD5}\n  \
         curl -s {base}/v1/enrich -H 'content-type: application/json' \\\n    \
         -d '{{\"observables\": [\"8.8.8.8\", \"example.com\", \"https://github.com/\", \"{EICAR_MD5}\", \"10.0.0.1\", \"printer.local\"]}}'\n  \
         curl -s {base}/v1/quota\n  \
         curl -s {base}/metrics | grep '^vtenrich_quota'\n  \
         open {base}/docs   (API documentation)\n\n\
         Admin API (caller `{DEMO_ADMIN}`, key shown once, kept only as a hash):\n  \
         curl -s {base}/v1/admin/callers -H 'authorization: Bearer {admin_key}'\n  \
         curl -s {base}/v1/admin/callers -H 'authorization: Bearer {admin_key}' \\\n    \
         -H 'content-type: application/json' -d '{{\"id\": \"soar\", \"priority\": \"bulk\", \"daily_cap\": 50}}'\n\n\
         Ctrl-C stops it.\n"
    );
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    let result = app.run_until(shutdown_signal()).await;
    simulator.shutdown().await;
    result
}

/// The id of the admin caller the demo creates.
const DEMO_ADMIN: &str = "demo-admin";

/// Creates the demo's admin caller and returns its key. Kept in memory, or under the demo's
/// own Redis namespace when the demo shares a Redis: there a caller left by an earlier run,
/// or made by another demo replica, gets a new key instead, and its earlier keys keep working
/// for a day so every replica's banner stays true.
async fn demo_admin(registry: &Registry) -> anyhow::Result<String> {
    let id = CallerId::parse(DEMO_ADMIN).expect("a valid literal id");
    let created = registry
        .create(NewCaller {
            id: id.clone(),
            role: Role::Admin,
            kind: CallerKind::Person,
            priority: CallerPriority::Interactive,
            daily_cap: None,
            description: Some("created by `vtenrich demo`".to_owned()),
        })
        .await;
    let rotated = match created {
        Ok((_, key)) => return Ok(key),
        Err(RegistryError::Duplicate(_)) => registry.rotate(&id, DEMO_KEY_GRACE).await,
        Err(err) => Err(err),
    };
    match rotated {
        Ok((_, key)) => Ok(key),
        // Configured by the operator: the key is theirs.
        Err(RegistryError::FromConfig(_)) => Ok("<the key configured for demo-admin>".to_owned()),
        Err(err) => Err(err).context("cannot create the demo's admin caller"),
    }
}

/// How long a demo admin key printed by another replica or run keeps working.
const DEMO_KEY_GRACE: Duration = Duration::from_secs(24 * 3600);
