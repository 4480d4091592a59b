//! Loading, layering, validation and naming of settings; `docs` proves the list of settings,
//! the README's table and the example file agree.

mod docs;

use std::io::Write;
use std::path::Path;

use secrecy::ExposeSecret;

use super::*;

/// Loads with only `file` and `pairs` as the environment.
fn load(file: Option<&Path>, pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::load(&Sources::with_env(
        file.map(Path::to_path_buf),
        pairs.iter().copied(),
    ))
}

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(file, "{text}").unwrap();
    file
}

#[test]
fn defaults_match_the_documented_values() {
    let s = load(None, &[]).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.virustotal.rate_per_minute, 4);
    assert_eq!(s.virustotal.daily_quota, 500);
    assert_eq!(s.virustotal.monthly_quota, 15_500);
    assert_eq!(s.cache.ttl, Duration::from_secs(86_400));
    assert_eq!(s.cache.not_found_ttl, Duration::from_secs(6 * 3600));
    assert_eq!(s.cache.stale_for, Duration::from_secs(7 * 86_400));
    assert_eq!(s.max_batch, 1_000);
    assert_eq!(s.body_limit_bytes, 1 << 20);
    assert_eq!(s.default_wait, Duration::from_secs(8));
}

#[test]
fn every_documented_variable_is_honoured() {
    let s = load(
        None,
        &[
            ("VTENRICH_LISTEN", "0.0.0.0:9000"),
            ("VTENRICH_VT_API_KEY", "k"),
            ("VTENRICH_VT_BASE_URL", "http://127.0.0.1:1/api/v3"),
            ("VTENRICH_VT_RATE_PER_MINUTE", "30"),
            ("VTENRICH_VT_DAILY_QUOTA", "1000"),
            ("VTENRICH_VT_MONTHLY_QUOTA", "20000"),
            ("VTENRICH_CACHE_TTL", "2h"),
            ("VTENRICH_CACHE_NOT_FOUND_TTL", "90s"),
            ("VTENRICH_CACHE_STALE_FOR", "1d"),
            ("VTENRICH_CACHE_MAX_ENTRIES", "5000"),
            ("VTENRICH_MAX_WAIT", "20s"),
            ("VTENRICH_MAX_BATCH", "50"),
        ],
    )
    .unwrap();
    assert_eq!(s.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(s.api_key().unwrap().expose_secret(), "k");
    assert_eq!(s.virustotal.base_url.as_str(), "http://127.0.0.1:1/api/v3");
    assert_eq!(s.virustotal.rate_per_minute, 30);
    assert_eq!(s.virustotal.daily_quota, 1000);
    assert_eq!(s.virustotal.monthly_quota, 20000);
    assert_eq!(s.cache.ttl, Duration::from_secs(7200));
    assert_eq!(s.cache.not_found_ttl, Duration::from_secs(90));
    assert_eq!(s.cache.stale_for, Duration::from_secs(86_400));
    assert_eq!(s.cache.max_entries, 5000);
    assert_eq!(s.max_wait, Duration::from_secs(20));
    assert_eq!(s.max_batch, 50);
}

#[test]
fn the_environment_overrides_the_file_which_overrides_defaults() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        file,
        "max_batch = 10\n[virustotal]\nrate_per_minute = 7\n[cache]\nttl = \"1h\""
    )
    .unwrap();
    let s = load(Some(file.path()), &[("VTENRICH_VT_RATE_PER_MINUTE", "9")]).unwrap();
    assert_eq!(s.max_batch, 10);
    assert_eq!(s.virustotal.rate_per_minute, 9);
    assert_eq!(s.cache.ttl, Duration::from_secs(3600));
}

#[test]
fn a_bad_value_names_the_setting() {
    for (name, value) in [
        ("VTENRICH_VT_RATE_PER_MINUTE", "four"),
        ("VTENRICH_CACHE_TTL", "soon"),
        ("VTENRICH_LISTEN", "localhost"),
        ("VTENRICH_VT_BASE_URL", "not a url"),
        ("VTENRICH_VT_RATE_PER_MINUTE", "0"),
        ("VTENRICH_MAX_BATCH", "-1"),
        ("VTENRICH_PRIVATE_SUFFIXES", "corp.example.net,bad_name"),
    ] {
        let err = load(None, &[(name, value)]).unwrap_err();
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
}

#[test]
fn private_suffixes_come_as_a_toml_list_or_a_comma_separated_string_and_are_canonical() {
    let list = toml_file("private_suffixes = [\"Corp.Example.NET.\", \"lab.example.org\"]");
    let bad = toml_file("private_suffixes = [\"a..b\"]");

    let from_file = load(Some(list.path()), &[]).unwrap();
    let from_env = load(
        None,
        &[(
            "VTENRICH_PRIVATE_SUFFIXES",
            "corp.example.net, lab.example.org",
        )],
    )
    .unwrap();
    let err = load(Some(bad.path()), &[]).unwrap_err();

    assert_eq!(from_file.private_suffixes, from_env.private_suffixes);
    let names: Vec<&str> = from_file
        .private_suffixes
        .iter()
        .map(|d| d.as_str())
        .collect();
    assert_eq!(names, ["corp.example.net", "lab.example.org"]);
    assert!(err.to_string().contains("private_suffixes"), "{err}");
}

#[test]
fn an_unknown_key_in_the_file_is_refused() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "[cache]\nttl_typo = \"1h\"").unwrap();
    let err = load(Some(file.path()), &[]).unwrap_err();
    assert!(err.to_string().contains("ttl_typo"), "{err}");
}

#[test]
fn the_key_comes_from_a_file_and_is_never_printed() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "secret-key-123").unwrap();
    let path = file.path().to_str().unwrap().to_owned();
    let s = load(None, &[("VTENRICH_VT_API_KEY_FILE", &path)]).unwrap();
    assert_eq!(s.api_key().unwrap().expose_secret(), "secret-key-123");
    let s = load(None, &[("VTENRICH_VT_API_KEY", "secret-key-123")]).unwrap();
    assert!(!format!("{s:?}").contains("secret-key-123"));
}

#[test]
fn without_a_key_the_error_says_how_to_provide_one() {
    let s = load(None, &[]).unwrap();
    let err = s.api_key().unwrap_err().to_string();
    assert!(err.contains("VTENRICH_VT_API_KEY_FILE") && err.contains("VTENRICH_VT_API_KEY"));
}

#[test]
fn the_example_configuration_file_loads() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/vtenrich.example.toml");
    let s = load(Some(&path), &[]).unwrap();
    assert!(
        s.callers.is_empty(),
        "the example ships no working caller key"
    );
    assert_eq!(s.data_dir, DataDir::Path("data".into()));
    assert_eq!(s.virustotal.rate_per_minute, 4);
}

#[test]
fn a_misspelt_variable_stops_start_up_with_the_closest_name() {
    let err = load(None, &[("VTENRICH_VT_RATE_PER_MINUTES", "4")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("VTENRICH_VT_RATE_PER_MINUTES"), "{err}");
    assert!(
        err.contains("did you mean VTENRICH_VT_RATE_PER_MINUTE?"),
        "{err}"
    );
}

#[test]
fn an_unknown_variable_is_refused_and_a_port_is_pointed_at_listen() {
    let err = load(None, &[("VTENRICH_COLOUR", "blue")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("VTENRICH_COLOUR is not a vtenrich setting"),
        "{err}"
    );
    assert!(!err.contains("did you mean"), "{err}");
    let err = load(None, &[("VTENRICH_PORT", "9000")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean VTENRICH_LISTEN?"), "{err}");
}

#[test]
fn kubernetes_service_links_and_tool_variables_are_told_apart() {
    let s = load(
        None,
        &[
            ("VTENRICH_PORT", "tcp://10.0.0.7:8080"),
            ("VTENRICH_PORT_8080_TCP", "tcp://10.0.0.7:8080"),
            ("VTENRICH_PORT_8080_TCP_ADDR", "10.0.0.7"),
            ("VTENRICH_SERVICE_HOST", "10.0.0.7"),
            ("VTENRICH_SERVICE_PORT_HTTP", "8080"),
            ("VTENRICH_REDIS_SERVICE_PORT", "6379"),
            ("VTENRICH_CONFIG", "/etc/vtenrich.toml"),
            ("VTENRICH_FIXTURES_DIR", "../shared"),
        ],
    )
    .unwrap();
    let ignored = s.origins.ignored().join("\n");
    assert_eq!(s.origins.ignored().len(), 6, "{ignored}");
    assert!(
        ignored.contains("VTENRICH_PORT: a Kubernetes service link"),
        "{ignored}"
    );
    assert!(!ignored.contains("VTENRICH_CONFIG"), "{ignored}");
}

#[test]
fn every_problem_is_listed_not_just_the_first() {
    let err = load(
        None,
        &[
            ("VTENRICH_VT_RATE_PER_MINUTE", "0"),
            ("VTENRICH_CACHE_TTL", "soon"),
            ("VTENRICH_TYPO", "1"),
            ("VTENRICH_LOG_FORMAT", "yaml"),
        ],
    )
    .unwrap_err();
    assert_eq!(err.0.len(), 4, "{err}");
    let err = load(
        None,
        &[
            ("VTENRICH_VT_RATE_PER_MINUTE", "0"),
            ("VTENRICH_DEFERRED_CAPACITY", "0"),
            ("VTENRICH_MAX_WAIT", "1s"),
        ],
    )
    .unwrap_err();
    assert_eq!(err.0.len(), 3, "{err}");
    assert!(
        err.to_string()
            .contains("VTENRICH_DEFAULT_WAIT (default_wait) must not exceed VTENRICH_MAX_WAIT")
    );
}

#[test]
fn a_file_error_names_its_line() {
    let file = toml_file("max_batch = 10\n\n[cache]\nttl = 5\n");
    let err = load(Some(file.path()), &[]).unwrap_err().to_string();
    assert!(err.contains("line 4"), "{err}");
}

#[test]
fn the_environment_key_source_replaces_the_files() {
    let file = toml_file("[virustotal]\napi_key_file = \"/nonexistent/key\"\n");
    let s = load(Some(file.path()), &[("VTENRICH_VT_API_KEY", "from-env")]).unwrap();
    assert_eq!(s.api_key().unwrap().expose_secret(), "from-env");
    let err = load(
        None,
        &[
            ("VTENRICH_VT_API_KEY", "a"),
            ("VTENRICH_VT_API_KEY_FILE", "/k"),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("set only one of VTENRICH_VT_API_KEY and VTENRICH_VT_API_KEY_FILE"),
        "{err}"
    );
}

#[test]
fn key_errors_name_the_source_actually_used() {
    let file = toml_file("[virustotal]\napi_key_file = \"/nonexistent/key\"\n");
    let err = load(Some(file.path()), &[])
        .unwrap()
        .api_key()
        .unwrap_err()
        .to_string();
    assert!(err.contains("virustotal.api_key_file (in "), "{err}");
    assert!(!err.contains("VTENRICH_VT_API_KEY_FILE"), "{err}");
    let err = load(None, &[("VTENRICH_VT_API_KEY_FILE", "/nonexistent/key")])
        .unwrap()
        .api_key()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("invalid configuration: VTENRICH_VT_API_KEY_FILE: cannot read"),
        "{err}"
    );
    let file = toml_file("[virustotal]\napi_key = \"a\"\napi_key_file = \"/k\"\n");
    let err = load(Some(file.path()), &[]).unwrap_err().to_string();
    assert!(
        err.contains("set only one of virustotal.api_key (in "),
        "{err}"
    );
}

#[test]
fn a_published_example_key_is_refused_with_how_to_make_one() {
    let hash = crate::callers::hash_key("example-caller-key-change-me");
    let file = toml_file(&format!(
        "[[callers]]\nid = \"siem\"\nkey_sha256 = [\"{hash}\"]\n"
    ));
    let err = load(Some(file.path()), &[]).unwrap_err().to_string();
    assert!(
        err.contains("caller \"siem\" accepts the published example key"),
        "{err}"
    );
    assert!(err.contains("vtenrich hash-key"), "{err}");
    let real = crate::callers::hash_key("a-key-nobody-published");
    let file = toml_file(&format!(
        "[[callers]]\nid = \"siem\"\nkey_sha256 = [\"{real}\"]\n"
    ));
    assert_eq!(load(Some(file.path()), &[]).unwrap().callers.len(), 1);
}

#[test]
fn a_flag_wins_over_the_environment_and_says_so() {
    let sources = Sources {
        flags: Flags {
            listen: Some("127.0.0.1:9999".parse().unwrap()),
        },
        ..Sources::with_env(None, [("VTENRICH_LISTEN", "127.0.0.1:7777")])
    };
    let s = Settings::load(&sources).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:9999");
    assert_eq!(s.origins.of("listen"), Origin::Flag);
    assert!(render(&s).contains("listen = \"127.0.0.1:9999\"  # flag (--listen)"));
}

#[test]
fn the_rendered_configuration_never_shows_a_secret() {
    let s = load(
        None,
        &[
            ("VTENRICH_VT_API_KEY", "vt-secret-123"),
            (
                "VTENRICH_REDIS_URL",
                "redis://:pw-secret-456@127.0.0.1:6379/",
            ),
        ],
    )
    .unwrap();
    let out = render(&s);
    assert!(
        !out.contains("vt-secret-123") && !out.contains("pw-secret-456"),
        "{out}"
    );
    assert!(
        out.contains("api_key = \"<set>\"  # environment (VTENRICH_VT_API_KEY)"),
        "{out}"
    );
    assert!(
        out.contains("url = \"<set>\"  # environment (VTENRICH_REDIS_URL)"),
        "{out}"
    );
    let out = render(&load(None, &[]).unwrap());
    assert!(out.contains("api_key = \"<unset>\"  # default"), "{out}");
}
