//! The `vtenrich` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's malloc: a cached answer is a few hundred small allocations
/// (request parts, header maps, boxed futures) and a cache entry is dozens of short strings.
/// glibc spent an eighth of a cached lookup in `malloc`/`free` and rounds every small string
/// up to a 32-byte chunk; mimalloc's size classes and per-thread free lists cost less in both
/// (BENCHMARKS.md measures the two side by side).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
