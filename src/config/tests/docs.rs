//! The list of settings, the `Settings` fields, the README's configuration table and the example
//! file agree in both directions, and every row of the table takes effect from the environment
//! and from the file, as `vtenrich config` shows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use super::super::catalog::{Kind, SETTINGS, Setting};
use super::*;

fn manifest_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// (variable, TOML key, default text) of each row of the README's configuration table.
fn readme_rows() -> Vec<(String, String, String)> {
    let readme = manifest_file("README.md");
    let table = readme
        .split("## Configuration")
        .nth(1)
        .expect("README has a Configuration section");
    let rows: Vec<_> = table
        .lines()
        .take_while(|line| !line.starts_with("## "))
        .filter(|line| line.starts_with("| `VTENRICH_"))
        .map(|line| {
            let cells: Vec<&str> = line.split(" | ").collect();
            let strip = |cell: &str| cell.trim_matches(['|', ' ', '`']).to_owned();
            (strip(cells[0]), strip(cells[1]), strip(cells[2]))
        })
        .collect();
    assert!(
        rows.len() > 40,
        "the README's table was not found: {rows:?}"
    );
    rows
}

/// The effective-configuration lines: TOML key -> (value text, origin text).
fn rendered(settings: &Settings) -> BTreeMap<String, (String, String)> {
    let mut section = String::new();
    let mut out = BTreeMap::new();
    for line in render(settings).lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = format!("{name}.");
        } else if let Some((key, rest)) = line.split_once(" = ") {
            let (value, origin) = rest.rsplit_once("  # ").unwrap();
            out.insert(
                format!("{section}{key}"),
                (value.to_owned(), origin.to_owned()),
            );
        } else if let Some((key, origin)) = line
            .strip_prefix("# ")
            .and_then(|rest| rest.split_once(" is unset  # "))
        {
            out.insert(
                format!("{section}{key}"),
                (String::new(), origin.to_owned()),
            );
        }
    }
    out
}

/// A value other than the default that passes validation on its own, as environment text.
fn non_default(setting: &Setting, default: &str) -> String {
    let unquoted = default.trim_matches('"');
    match setting.kind {
        Kind::Int => (unquoted.parse::<u64>().unwrap_or(0) + 1).to_string(),
        Kind::Bool => (unquoted != "true").to_string(),
        Kind::Duration => {
            let d = humantime::parse_duration(unquoted).unwrap() + Duration::from_secs(1);
            humantime::format_duration(d).to_string()
        }
        Kind::SocketAddr => "127.0.0.1:8081".to_owned(),
        Kind::Url => "http://127.0.0.1:9/api/v3".to_owned(),
        Kind::Choice(words) => words.iter().find(|w| **w != unquoted).unwrap().to_string(),
        Kind::Str => format!("/tmp/test-value-{}", setting.key.replace('.', "-")),
        Kind::Cidrs => "10.0.0.0/8,192.0.2.1".to_owned(),
        Kind::Names => "corp.example.net,lab.example.org".to_owned(),
    }
}

fn as_toml(setting: &Setting, text: &str) -> String {
    match setting.kind {
        Kind::Int | Kind::Bool => text.to_owned(),
        _ => toml::Value::from(text).to_string(),
    }
}

#[test]
fn the_readme_table_and_the_settings_list_agree_both_ways() {
    let documented: BTreeSet<(String, String)> =
        readme_rows().into_iter().map(|(v, k, _)| (v, k)).collect();
    let listed: BTreeSet<(String, String)> = SETTINGS
        .iter()
        .map(|s| (s.var.to_owned(), s.key.to_owned()))
        .collect();
    let undocumented: Vec<_> = listed.difference(&documented).collect();
    let unread: Vec<_> = documented.difference(&listed).collect();
    assert!(
        undocumented.is_empty(),
        "not in the README's table: {undocumented:?}"
    );
    assert!(unread.is_empty(), "in the README but not read: {unread:?}");
}

#[test]
fn the_settings_fields_and_the_settings_list_agree_both_ways() {
    // Every optional field set, so that serialisation shows all of them.
    let s = load(
        None,
        &[
            ("VTENRICH_VT_API_KEY_FILE", "/k"),
            ("VTENRICH_VT_USER_ID", "u"),
            ("VTENRICH_LOG_FORMAT", "json"),
            ("VTENRICH_REDIS_URL", "redis://127.0.0.1/"),
            ("VTENRICH_REDIS_CA_FILE", "/ca.pem"),
            ("VTENRICH_REDIS_CLIENT_CERT_FILE", "/client.pem"),
            ("VTENRICH_REDIS_CLIENT_KEY_FILE", "/client-key.pem"),
            ("VTENRICH_REDIS_SENTINEL_MASTER", "mymaster"),
            ("VTENRICH_RESERVE_INTERACTIVE", "5"),
            ("VTENRICH_MISP_LISTEN", "127.0.0.1:6666"),
        ],
    )
    .unwrap();
    let mut fields = BTreeSet::new();
    for (key, value) in toml::Table::try_from(&s).unwrap() {
        match value.as_table() {
            Some(section) => fields.extend(section.keys().map(|leaf| format!("{key}.{leaf}"))),
            None if key != "callers" => {
                fields.insert(key);
            }
            None => {}
        }
    }
    let listed: BTreeSet<String> = SETTINGS.iter().map(|s| s.key.to_owned()).collect();
    assert_eq!(fields, listed);
}

#[test]
fn the_example_file_names_every_setting_and_only_settings() {
    let mut section = String::new();
    let mut keys = BTreeSet::new();
    for line in manifest_file("config/vtenrich.example.toml").lines() {
        let line = line.trim_start_matches(['#', ' ']);
        if line.starts_with("[[") {
            section = "callers.".to_owned();
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.split_once(']')) {
            section = format!("{}.", name.0);
        } else if let Some((key, _)) = line.split_once(" = ")
            && !key.contains(' ')
            && !section.starts_with("callers")
        {
            keys.insert(format!("{section}{key}"));
        }
    }
    let listed: BTreeSet<String> = SETTINGS.iter().map(|s| s.key.to_owned()).collect();
    assert_eq!(keys, listed);
}

#[test]
fn the_readme_defaults_are_the_real_defaults() {
    let defaults = rendered(&load(None, &[]).unwrap());
    for (var, key, documented) in readme_rows() {
        let (actual, _) = &defaults[&key];
        let actual = actual.trim_matches('"');
        let kind = catalog::by_key(&key).unwrap().kind;
        match (kind, documented.as_str()) {
            (_, "–") => assert!(actual.is_empty() || actual == "<unset>", "{var}: {actual}"),
            (Kind::Duration, text) => assert_eq!(
                humantime::parse_duration(text).ok(),
                humantime::parse_duration(actual).ok(),
                "{var}"
            ),
            (_, text) if text.contains(' ') => {} // prose, such as "text on a terminal"
            (_, text) => assert_eq!(text, actual, "{var}"),
        }
    }
}

#[test]
fn every_documented_variable_takes_effect_with_origin_environment() {
    let defaults = rendered(&load(None, &[]).unwrap());
    for (var, key, _) in readme_rows() {
        let setting = catalog::by_var(&var).unwrap();
        let value = non_default(setting, &defaults[&key].0);
        let s = load(None, &[(var.as_str(), value.as_str())])
            .unwrap_or_else(|e| panic!("{var}={value}: {e}"));
        let (shown, origin) = &rendered(&s)[&key];
        assert_eq!(origin, &format!("environment ({var})"), "{var}");
        assert_ne!(
            shown, &defaults[&key].0,
            "{var}={value} did not take effect"
        );
        if setting.secret {
            assert_eq!(shown, "\"<set>\"", "{var}");
        }
    }
}

#[test]
fn every_documented_toml_key_takes_effect_with_origin_file() {
    let defaults = rendered(&load(None, &[]).unwrap());
    for (var, key, _) in readme_rows() {
        let setting = catalog::by_key(&key).unwrap();
        let value = as_toml(setting, &non_default(setting, &defaults[&key].0));
        let text = match key.split_once('.') {
            Some((section, leaf)) => format!("[{section}]\n{leaf} = {value}\n"),
            None => format!("{key} = {value}\n"),
        };
        let file = toml_file(&text);
        let s = load(Some(file.path()), &[]).unwrap_or_else(|e| panic!("{text}: {e}"));
        let (shown, origin) = &rendered(&s)[&key];
        assert!(origin.starts_with("file ("), "{key}: {origin}");
        assert_ne!(
            shown, &defaults[&key].0,
            "{key} = {value} did not take effect ({var})"
        );
    }
}
