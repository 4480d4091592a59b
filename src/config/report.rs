//! `vtenrich config`: the effective settings as TOML, each value followed by its origin, secrets
//! shown only as `<set>`/`<unset>`, in TOML syntax so it can be diffed and reused.

use std::fmt::Write;

use super::Settings;
use super::catalog::SETTINGS;

/// The effective configuration, in catalog order, as TOML with origins in comments.
pub fn render(settings: &Settings) -> String {
    let table = toml::Table::try_from(settings).unwrap_or_default();
    let mut out = String::from(
        "# vtenrich effective configuration. After each value, where it came from: default,\n\
         # file (path), environment (variable) or flag. Secrets show only <set> or <unset>.\n",
    );
    let mut section = "";
    for setting in SETTINGS {
        let (here, leaf) = setting.key.split_once('.').unwrap_or(("", setting.key));
        if here != section {
            section = here;
            let _ = write!(out, "\n[{section}]\n");
        }
        let value = match here {
            "" => table.get(leaf),
            _ => table
                .get(here)
                .and_then(|t| t.as_table())
                .and_then(|t| t.get(leaf)),
        };
        let origin = settings.origins.describe(setting.key);
        let _ = match value {
            Some(value) => writeln!(out, "{leaf} = {value}  # {origin}"),
            None => writeln!(out, "# {leaf} is unset  # {origin}"),
        };
    }
    let origin = settings.origins.describe("callers");
    for caller in &settings.callers {
        let hashes = toml::Value::from(caller.key_sha256.clone());
        let _ = write!(
            out,
            "\n[[callers]]  # {origin}\nid = {}\nkey_sha256 = {hashes}\n",
            toml::Value::from(caller.id.clone())
        );
    }
    if settings.callers.is_empty() {
        let _ = write!(
            out,
            "\n# no [[callers]]: authentication is off  # {origin}\n"
        );
    }
    for note in settings.origins.ignored() {
        let _ = write!(out, "\n# ignored {note}");
    }
    if !settings.origins.ignored().is_empty() {
        out.push('\n');
    }
    out
}
