//! `vtenrich config` shows the effective settings with their origins, `--check` lists every
//! problem, and an unknown `VTENRICH_*` variable stops `serve` before it listens.

use std::process::{Command, Output};

/// Runs the binary with exactly `vars` as its `VTENRICH_*` environment.
fn vtenrich(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vtenrich"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VTENRICH_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .envs(vars.iter().copied())
        .output()
        .expect("vtenrich runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn config_prints_each_value_with_where_it_came_from() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "[cache]\nttl = \"2h\"\n").unwrap();
    let out = vtenrich(
        &[
            "config",
            "--config",
            file.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:9",
        ],
        &[
            ("VTENRICH_VT_RATE_PER_MINUTE", "7"),
            ("VTENRICH_VT_API_KEY", "never-shown-key"),
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("rate_per_minute = 7  # environment (VTENRICH_VT_RATE_PER_MINUTE)"),
        "{stdout}"
    );
    assert!(stdout.contains("ttl = \"2h\"  # file ("), "{stdout}");
    assert!(
        stdout.contains("listen = \"127.0.0.1:9\"  # flag (--listen)"),
        "{stdout}"
    );
    assert!(stdout.contains("daily_quota = 500  # default"), "{stdout}");
    assert!(stdout.contains("api_key = \"<set>\""), "{stdout}");
    assert!(!stdout.contains("never-shown-key"), "{stdout}");
}

#[test]
fn config_check_lists_every_problem_and_fails() {
    let out = vtenrich(
        &["config", "--check"],
        &[
            ("VTENRICH_VT_RATE_PER_MINUTES", "4"),
            ("VTENRICH_CACHE_TTL", "soon"),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("2 problems"), "{stderr}");
    assert!(
        stderr.contains("VTENRICH_VT_RATE_PER_MINUTES is not a vtenrich setting; did you mean VTENRICH_VT_RATE_PER_MINUTE?"),
        "{stderr}"
    );
    assert!(stderr.contains("VTENRICH_CACHE_TTL=\"soon\""), "{stderr}");
}

#[test]
fn config_check_passes_a_good_configuration_and_notes_what_it_ignored() {
    let out = vtenrich(
        &["config", "--check"],
        &[("VTENRICH_PORT", "tcp://10.0.0.7:8080")],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("note: ignoring VTENRICH_PORT: a Kubernetes service link"),
        "{stderr}"
    );
    assert!(stderr.contains("configuration OK"), "{stderr}");
}

#[test]
fn serve_refuses_to_start_with_a_misspelt_variable() {
    let out = vtenrich(
        &["serve"],
        &[
            ("VTENRICH_VT_API_KEY", "k"),
            ("VTENRICH_LISTEN", "127.0.0.1:0"),
            ("VTENRICH_VT_DAILY_QUOTAS", "100"),
        ],
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("did you mean VTENRICH_VT_DAILY_QUOTA?"),
        "{stderr}"
    );
}
