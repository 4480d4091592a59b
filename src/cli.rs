//! The command line: `serve` (default), `demo`, `healthcheck`, `openapi`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::SecretString;

use crate::app::Application;
use crate::clock::{SharedClock, SystemClock};
use crate::config::Settings;
use crate::simulator::{Simulator, SimulatorConfig};

/// Enrich IP addresses with VirusTotal reputation and location, frugally.
#[derive(Debug, Parser)]
#[command(name = "vtenrich", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file (environment variables override it).
    #[arg(long, global = true, env = "VTENRICH_CONFIG")]
    pub config: Option<PathBuf>,
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
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Simulated VirusTotal answer latency.
        #[arg(long, default_value = "120ms", value_parser = humantime::parse_duration)]
        sim_latency: Duration,
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
        Command::Healthcheck { url, timeout } => {
            let settings = Settings::load(cli.config.as_deref())?;
            let url = url.unwrap_or_else(|| readyz_url(settings.listen));
            Ok(healthcheck(&url, timeout).await)
        }
        Command::Serve => {
            let settings = Settings::load(cli.config.as_deref())?;
            crate::telemetry::init(&settings.log)?;
            let key = settings.api_key()?;
            serve(&settings, key).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            listen,
            sim_latency,
        } => {
            let mut settings = Settings::load(cli.config.as_deref())?;
            crate::telemetry::init(&settings.log)?;
            demo(&mut settings, listen, sim_latency).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
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

async fn demo(
    settings: &mut Settings,
    listen: SocketAddr,
    sim_latency: Duration,
) -> anyhow::Result<()> {
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
    settings.listen = listen;
    settings.virustotal.base_url = simulator.base_url();
    // The demo's limits apply unless the operator set their own (benchmarks raise them).
    if std::env::var_os("VTENRICH_VT_RATE_PER_MINUTE").is_none() {
        settings.virustotal.rate_per_minute = DEMO_RATE_PER_MINUTE;
    }
    if std::env::var_os("VTENRICH_VT_DAILY_QUOTA").is_none() {
        settings.virustotal.daily_quota = DEMO_DAILY_QUOTA;
    }
    // Demo answers come from the simulator; they must not mix with a real store's.
    if std::env::var_os("VTENRICH_DATA_DIR").is_none() {
        settings.data_dir = crate::config::DataDir::None;
    }
    let (rate, daily) = (
        settings.virustotal.rate_per_minute,
        settings.virustotal.daily_quota,
    );
    let app = Application::build(settings, SecretString::from("demo-key"), clock).await?;
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
         open {base}/docs   (API documentation)\n\nCtrl-C stops it.\n"
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
