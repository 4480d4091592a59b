use std::collections::HashMap;
use std::io::Write;

use secrecy::ExposeSecret;

use super::*;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn defaults_match_the_documented_values() {
    let s = Settings::load_from(None, env(&[])).unwrap();
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
    let s = Settings::load_from(
        None,
        env(&[
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
        ]),
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
    let s = Settings::load_from(
        Some(file.path()),
        env(&[("VTENRICH_VT_RATE_PER_MINUTE", "9")]),
    )
    .unwrap();
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
    ] {
        let err = Settings::load_from(None, env(&[(name, value)])).unwrap_err();
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
}

#[test]
fn an_unknown_key_in_the_file_is_refused() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "[cache]\nttl_typo = \"1h\"").unwrap();
    let err = Settings::load_from(Some(file.path()), env(&[])).unwrap_err();
    assert!(err.to_string().contains("ttl_typo"), "{err}");
}

#[test]
fn the_key_comes_from_a_file_and_is_never_printed() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "secret-key-123").unwrap();
    let path = file.path().to_str().unwrap().to_owned();
    let s = Settings::load_from(None, env(&[("VTENRICH_VT_API_KEY_FILE", &path)])).unwrap();
    assert_eq!(s.api_key().unwrap().expose_secret(), "secret-key-123");
    let s = Settings::load_from(None, env(&[("VTENRICH_VT_API_KEY", "secret-key-123")])).unwrap();
    assert!(!format!("{s:?}").contains("secret-key-123"));
}

#[test]
fn without_a_key_the_error_says_how_to_provide_one() {
    let s = Settings::load_from(None, env(&[])).unwrap();
    let err = s.api_key().unwrap_err().to_string();
    assert!(err.contains("VTENRICH_VT_API_KEY_FILE") && err.contains("VTENRICH_VT_API_KEY"));
}

#[test]
fn the_example_configuration_file_loads() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/vtenrich.example.toml");
    let s = Settings::load_from(Some(&path), env(&[])).unwrap();
    assert_eq!(s.callers.len(), 1, "authentication is on in the example");
    assert_eq!(s.data_dir, DataDir::Path("data".into()));
    assert_eq!(s.virustotal.rate_per_minute, 4);
}
