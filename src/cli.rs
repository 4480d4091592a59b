//! The command line: `serve` (default), `demo`, `config`, `healthcheck`, `openapi`, `hash-key`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::SecretString;

mod demo;

use crate::app::Application;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Flags, Settings, Sources};

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
            demo::demo(&mut settings, sim_latency).await?;
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
