//! Runs the Python drivers beside this file in `.venv-integrations`; a missing venv fails the
//! test with the command that makes it, never a silent skip.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// The venv's interpreter.
pub fn python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-integrations/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup (it installs the integration tests' Python clients)",
        python.display()
    );
    python
}

/// A program's path in the repository.
pub fn in_repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Runs `program args` with the venv's Python (60 s at most): exit status, stdout, stderr.
/// Async, so an in-process server on the test's runtime keeps answering meanwhile.
pub async fn run(program: &Path, args: &[&str]) -> (bool, String, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(python())
            .arg(program)
            .args(args)
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{} did not finish in 60 s", program.display()))
    .expect("the venv's python runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs a driver beside this file and parses the JSON it prints; panics with its stderr when
/// it fails.
pub async fn driver(name: &str, args: &[&str]) -> Value {
    let program = in_repo(&format!("tests/integrations/{name}"));
    let (ok, stdout, stderr) = run(&program, args).await;
    assert!(ok, "{name} {args:?} failed:\n{stderr}\n{stdout}");
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{name} printed no JSON ({e}): {stdout}\n{stderr}"))
}
