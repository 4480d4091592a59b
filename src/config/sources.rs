//! Where settings come from: the TOML file, the process's `VTENRICH_*` variables and the
//! command-line flags, gathered once so loading is a pure function of them (tests build
//! [`Sources`] by hand).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::Settings;
use super::origin::{Origin, Origins};

/// The command-line flags that set a setting (see the catalog's `flag`).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
}

impl Flags {
    pub(super) fn overlay(&self, table: &mut toml::Table, origins: &mut Origins) {
        if let Some(listen) = self.listen {
            table.insert("listen".to_owned(), toml::Value::String(listen.to_string()));
            origins.set("listen", Origin::Flag);
        }
    }
}

/// Everything settings are loaded from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The TOML file, if any.
    pub file: Option<PathBuf>,
    /// Every variable whose name starts with `VTENRICH_`.
    pub env: BTreeMap<String, String>,
    /// Flags given on the command line.
    pub flags: Flags,
    /// Variables whose value is not UTF-8, already phrased as problems.
    pub(super) unreadable_env: Vec<String>,
}

const PREFIX: &str = "VTENRICH_";

impl Sources {
    /// The running process's environment.
    pub fn from_process(file: Option<PathBuf>, flags: Flags) -> Self {
        let mut env = BTreeMap::new();
        let mut unreadable_env = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str().filter(|n| n.starts_with(PREFIX)) else {
                continue;
            };
            match value.into_string() {
                Ok(value) => {
                    env.insert(name.to_owned(), value);
                }
                Err(_) => unreadable_env.push(format!("{name} is not valid UTF-8")),
            }
        }
        Self {
            file,
            env,
            flags,
            unreadable_env,
        }
    }

    /// A given environment (tests); variables without the prefix are dropped as the process
    /// environment's would be.
    pub fn with_env<K: Into<String>, V: Into<String>>(
        file: Option<PathBuf>,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let env = env
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _): &(String, String)| k.starts_with(PREFIX))
            .collect();
        Self {
            file,
            env,
            ..Self::default()
        }
    }

    /// The file's table, with the origin of each key it sets. A file that does not parse as
    /// settings is reported with its line and contributes nothing, so the other layers'
    /// problems are still listed.
    pub(super) fn file_table(
        &self,
        origins: &mut Origins,
        problems: &mut Vec<String>,
    ) -> toml::Table {
        let Some(path) = &self.file else {
            return toml::Table::new();
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                problems.push(format!("cannot read config file {}: {e}", path.display()));
                return toml::Table::new();
            }
        };
        // Parsed as settings first so a wrong key or type is reported with its line.
        if let Err(e) = toml::from_str::<Settings>(&text) {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            problems.push(match line {
                Some(line) => format!(
                    "config file {}, line {line}: {}",
                    path.display(),
                    e.message().trim()
                ),
                None => format!("config file {}: {}", path.display(), e.message().trim()),
            });
            return toml::Table::new();
        }
        let table: toml::Table = text.parse().unwrap_or_default();
        for (key, value) in &table {
            match value.as_table() {
                Some(section) => section
                    .keys()
                    .for_each(|leaf| origins.set(&format!("{key}.{leaf}"), Origin::File)),
                None => origins.set(key, Origin::File),
            }
        }
        table
    }
}
