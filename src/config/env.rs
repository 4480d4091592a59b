//! The `VTENRICH_*` environment variables and how each lands in the settings table.
//!
//! Each value is checked here, where the variable's name is known, so a bad value is reported
//! by the name the operator typed rather than by a TOML key they never wrote. A `VTENRICH_*`
//! variable that is not a setting stops start-up with the closest known name, because a
//! misspelt quota setting that silently does nothing spends someone's quota; the few variables
//! that belong to the platform (Kubernetes service links, the test suite, the compose file's
//! host side) are recognised explicitly and left alone.

use std::collections::BTreeMap;

use super::catalog::{self, Kind};
use super::origin::{Origin, Origins};

const PREFIX: &str = "VTENRICH_";

/// Variables with the prefix that are not settings but are expected in vtenrich's environment.
/// Silent: they are read by something else on purpose.
const NOT_SETTINGS: &[(&str, &str)] = &[
    (
        "VTENRICH_CONFIG",
        "the configuration file's path, read by the command line (--config)",
    ),
    (
        "VTENRICH_FIXTURES_DIR",
        "the test suite's VirusTotal captures (development only)",
    ),
    (
        "VTENRICH_VT_API_KEY_PATH",
        "the compose file's host-side path of the key file (deploy/compose)",
    ),
];

/// Writes every set variable into `table`, over what the file said, and notes each problem.
pub(super) fn overlay(
    table: &mut toml::Table,
    env: &BTreeMap<String, String>,
    origins: &mut Origins,
    problems: &mut Vec<String>,
) {
    // The environment's key source replaces the file's (the README promises env over file);
    // without this an example file naming a key file plus VTENRICH_VT_API_KEY would be refused
    // as "two key sources".
    let key_vars = ["VTENRICH_VT_API_KEY", "VTENRICH_VT_API_KEY_FILE"];
    if key_vars.iter().any(|var| env.contains_key(*var)) {
        if let Some(vt) = table.get_mut("virustotal").and_then(|v| v.as_table_mut()) {
            vt.remove("api_key");
            vt.remove("api_key_file");
        }
        origins.forget("virustotal.api_key");
        origins.forget("virustotal.api_key_file");
    }
    for (name, raw) in env {
        let Some(setting) = catalog::by_var(name) else {
            if let Some(note) = foreign(name, raw) {
                origins.ignore(note);
            } else if !NOT_SETTINGS.iter().any(|(known, _)| known == name) {
                problems.push(unknown(name));
            }
            continue;
        };
        match convert(name, raw.trim(), setting.kind) {
            Ok(value) => match insert(table, setting.key, value) {
                Ok(()) => origins.set(setting.key, Origin::Environment),
                Err(part) => {
                    problems.push(format!("{name}: the config file's `{part}` is not a table"))
                }
            },
            Err(problem) => problems.push(problem),
        }
    }
}

/// A Kubernetes service link (`<SERVICE>_PORT=tcp://…`, `<SERVICE>_SERVICE_HOST`, …) for a
/// service whose name starts with `vtenrich`; the reason it is ignored.
fn foreign(name: &str, value: &str) -> Option<String> {
    let link = name.ends_with("_SERVICE_HOST")
        || name.contains("_SERVICE_PORT")
        || (name.ends_with("_PORT") && value.contains("://"))
        || is_port_link(name);
    link.then(|| {
        format!(
            "{name}: a Kubernetes service link, not a vtenrich setting (set \
             enableServiceLinks: false on the pod to drop it)"
        )
    })
}

/// `…_PORT_8080_TCP`, `…_PORT_8080_TCP_ADDR` and the like.
fn is_port_link(name: &str) -> bool {
    let Some((_, tail)) = name.split_once("_PORT_") else {
        return false;
    };
    let mut parts = tail.split('_');
    let port = parts.next().unwrap_or_default();
    let proto = parts.next().unwrap_or_default();
    let field = parts.next();
    !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && matches!(proto, "TCP" | "UDP" | "SCTP")
        && matches!(field, None | Some("PROTO" | "PORT" | "ADDR"))
        && parts.next().is_none()
}

/// The message for a variable that is no setting, with the closest known name.
fn unknown(name: &str) -> String {
    let listen_like = ["_PORT", "_HOST", "_BIND", "_ADDR", "_ADDRESS"]
        .iter()
        .any(|end| name.ends_with(end));
    // Compared without the shared prefix, so that short names do not all look alike.
    let tail = |n: &'static str| n.strip_prefix(PREFIX).unwrap_or(n);
    let typed = name.strip_prefix(PREFIX).unwrap_or(name);
    let closest = catalog::vars()
        .chain(NOT_SETTINGS.iter().map(|(known, _)| *known))
        .map(|known| (strsim::levenshtein(typed, tail(known)), known))
        .min();
    let suggestion = match closest {
        Some((distance, known)) if distance <= typed.len() / 3 => Some(known),
        _ if listen_like => Some("VTENRICH_LISTEN"),
        _ => None,
    };
    match suggestion {
        Some(known) => format!(
            "{name} is not a vtenrich setting; did you mean {known}? (the README's \
             configuration table lists every variable)"
        ),
        None => format!(
            "{name} is not a vtenrich setting (the README's configuration table lists every \
             variable)"
        ),
    }
}

/// Checks `raw` as `kind` and turns it into the TOML value the settings expect.
pub(super) fn convert(name: &str, raw: &str, kind: Kind) -> Result<toml::Value, String> {
    let bad = |what: &str| format!("{name}={raw:?} is not {what}");
    Ok(match kind {
        Kind::Str => toml::Value::String(raw.to_owned()),
        Kind::Int => toml::Value::Integer(
            raw.replace('_', "")
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| bad("a non-negative whole number"))?,
        ),
        Kind::Bool => toml::Value::Boolean(match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(bad("true or false")),
        }),
        Kind::Duration => {
            humantime::parse_duration(raw)
                .map_err(|_| bad("a duration such as 90s, 15m, 24h or 7d"))?;
            toml::Value::String(raw.to_owned())
        }
        Kind::SocketAddr => {
            raw.parse::<std::net::SocketAddr>()
                .map_err(|_| bad("an address such as 127.0.0.1:8080 or [::]:8080"))?;
            toml::Value::String(raw.to_owned())
        }
        Kind::Url => {
            url::Url::parse(raw).map_err(|_| bad("a URL"))?;
            toml::Value::String(raw.to_owned())
        }
        Kind::Cidrs => {
            super::TrustedProxies::parse(raw).map_err(|e| format!("{name}: {e}"))?;
            toml::Value::String(raw.to_owned())
        }
        Kind::Names => {
            crate::observable::PrivateSuffixes::parse(raw).map_err(|e| format!("{name}: {e}"))?;
            toml::Value::String(raw.to_owned())
        }
        Kind::Choice(words) => {
            let word = raw.to_ascii_lowercase();
            if !words.contains(&word.as_str()) {
                return Err(bad(&format!("one of {}", words.join(", "))));
            }
            toml::Value::String(word)
        }
    })
}

/// Puts `value` at the dotted `path`; on failure, the part of the path that is not a table.
pub(super) fn insert(
    table: &mut toml::Table,
    path: &str,
    value: toml::Value,
) -> Result<(), String> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let leaf = parts.pop().unwrap_or(path);
    let mut node = table;
    for part in parts {
        node = node
            .entry(part)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| part.to_owned())?;
    }
    node.insert(leaf.to_owned(), value);
    Ok(())
}
