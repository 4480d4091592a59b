//! The `vtenrich` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = vtenrich::cli::Cli::parse();
    match vtenrich::cli::run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("vtenrich: {err:#}");
            ExitCode::FAILURE
        }
    }
}
