//! The command line: `serve` (default), `demo`, `config`, `healthcheck`, `openapi`, `hash-key`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::SecretString;

use crate::app::Application;
use crate::caller::{CallerId, CallerKind, CallerPriority, Role};
use crate::callers::{NewCaller, Registry, RegistryError};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{DataDir, Flags, Origin, Settings, Sources};
use crate::http::AuthPolicy;
use crate::simulator::{Simulator, SimulatorConfig};

/// Enrich IP addresses with VirusTotal reputation and location, frugally.
#[derive(Debug, Parser)]
#[command(name = "vtenrich", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file (environment variables override it).
    #[arg(long, global = true, env = "VTENRICH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (over VTENRICH_LISTEN and the file's `listen`).
    #[arg(long, global = true)]
    pub listen: Option<SocketAddr>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service against VirusTotal (the default). Needs an API key.
    Serve,
    /// Run the service against the built-in VirusTotal simulator; no key needed.
    Demo {
        /// Simulated VirusTotal answer latency.
        #[arg(long, default_value = "120ms", value_parser = humantime::parse_duration)]
        sim_latency: Duration,
    },
    /// Print the effective configuration with each value's origin (secrets as <set>/<unset>).
    Config {
        /// Only validate: list every problem and exit non-zero when there is one.
        #[arg(long)]
        check: bool,
    },
    /// Exit 0 when the service's /readyz answers 200 (for container health checks).
    Healthcheck {
        /// The readiness URL (default: /readyz on the configured listen address).
        url: Option<String>,
        /// Give up after this long.
        #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Print the SHA-256 of an API key read from stdin, for `[[callers]] key_sha256`.
    HashKey,
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let sources = Sources::from_process(cli.config.clone(), Flags { listen: cli.listen });
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            let doc = crate::http::openapi();
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::HashKey => {
            let mut key = String::new();
            std::io::stdin()
                .read_line(&mut key)
                .context("cannot read the key from stdin")?;
            let key = key.trim_end_matches(['\r', '\n']);
            if key.is_empty() {
                anyhow::bail!("no key on stdin: `printf %s \"$KEY\" | vtenrich hash-key`");
            }
            println!("{}", crate::http::hash_key(key));
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { check } => Ok(config(&sources, check)),
        Command::Healthcheck { url, timeout } => {
            let settings = Settings::load(&sources)?;
            let url = url.unwrap_or_else(|| readyz_url(settings.listen));
            Ok(healthcheck(&url, timeout).await)
        }
        Command::Serve => {
            let settings = Settings::load(&sources)?;
            init_logs(&settings)?;
            let key = settings.api_key()?;
            serve(&settings, key).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { sim_latency } => {
            let mut settings = Settings::load(&sources)?;
            init_logs(&settings)?;
            demo(&mut settings, sim_latency).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init_logs(settings: &Settings) -> anyhow::Result<()> {
    crate::telemetry::init(&settings.log)?;
    for note in settings.origins.ignored() {
        tracing::info!("ignoring {note}");
    }
    Ok(())
}

/// `vtenrich config [--check]`: the problems on stderr and exit 1, or the configuration.
fn config(sources: &Sources, check: bool) -> ExitCode {
    let settings = match Settings::load(sources) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    if !check {
        print!("{}", crate::config::render(&settings));
        return ExitCode::SUCCESS;
    }
    // A key is needed by `serve` only, and a key file may exist only where it is mounted:
    // both are worth saying, neither makes the configuration invalid.
    let vt = &settings.virustotal;
    if vt.api_key.is_none() && vt.api_key_file.is_none() {
        eprintln!(
            "note: no VirusTotal key is configured; `serve` will refuse to start (`demo` needs none)"
        );
    } else if let Err(err) = settings.api_key() {
        eprintln!("note: {err} (fine if the file is mounted only where the service runs)");
    }
    for note in settings.origins.ignored() {
        eprintln!("note: ignoring {note}");
    }
    eprintln!("configuration OK");
    ExitCode::SUCCESS
}

fn readyz_url(listen: SocketAddr) -> String {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => [127, 0, 0, 1].into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}/readyz")
}

async fn healthcheck(url: &str, timeout: Duration) -> ExitCode {
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(client) => client,
        Err(_) => return ExitCode::FAILURE,
    };
    match client.get(url).send().await {
        Ok(response) if response.status().is_success() => ExitCode::SUCCESS,
        Ok(response) => {
            eprintln!("unhealthy: {url} answered {}", response.status());
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("unhealthy: {}", err.without_url());
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: &Settings, key: SecretString) -> anyhow::Result<()> {
    let clock: SharedClock = Arc::new(SystemClock);
    let app = Application::build(settings, key, clock).await?;
    app.run_until(shutdown_signal()).await
}

/// The demo's limits: generous enough to explore, small enough to see deferral happen.
const DEMO_RATE_PER_MINUTE: u32 = 30;
const DEMO_DAILY_QUOTA: u64 = 1_000;

async fn demo(settings: &mut Settings, sim_latency: Duration) -> anyhow::Result<()> {
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
    let banner = format!(
        "vtenrich demo: serving on {base} against the built-in VirusTotal simulator \
         ({rate} calls/minute, {daily}/day). Try:\n\n  \
         curl -s {base}/v1/ip/8.8.8.8\n  \
         curl -s {base}/v1/enrich -H 'content-type: application/json' \\\n    \
         -d '{{\"observables\": [\"8.8.8.8\", \"1.1.1.1\", \"10.0.0.1\", \"8.8.8.8\", \"2001:4860:4860::8888\"]}}'\n  \
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

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
