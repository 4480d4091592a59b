//! Where each setting's value came from, so messages name what the operator actually wrote
//! (`VTENRICH_VT_API_KEY_FILE` or `virustotal.api_key_file in /etc/vtenrich.toml`) and
//! `vtenrich config` can show it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::catalog;

/// The layer that set a value; later layers win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// Nobody set it.
    Default,
    /// The TOML file.
    File,
    /// A `VTENRICH_*` variable.
    Environment,
    /// A command-line flag.
    Flag,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Default => "default",
            Origin::File => "file",
            Origin::Environment => "environment",
            Origin::Flag => "flag",
        })
    }
}

/// The origin of every value not left at its default, and the variables that were ignored.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    file: Option<PathBuf>,
    by_key: BTreeMap<String, Origin>,
    ignored: Vec<String>,
}

impl Origins {
    pub(super) fn new(file: Option<PathBuf>) -> Self {
        Self {
            file,
            ..Self::default()
        }
    }

    pub(super) fn set(&mut self, key: &str, origin: Origin) {
        self.by_key.insert(key.to_owned(), origin);
    }

    pub(super) fn forget(&mut self, key: &str) {
        self.by_key.remove(key);
    }

    pub(super) fn ignore(&mut self, note: String) {
        self.ignored.push(note);
    }

    /// Which layer set `key` (a dotted TOML key).
    pub fn of(&self, key: &str) -> Origin {
        self.by_key.get(key).copied().unwrap_or(Origin::Default)
    }

    /// `VTENRICH_*` variables that are not settings and were left alone (Kubernetes service
    /// links and the like), each with the reason; logged at start-up.
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }

    /// The name the operator used for `key`: the variable, the flag, or the TOML key and file.
    /// For a default both the variable and the TOML key are named.
    pub fn name(&self, key: &str) -> String {
        let setting = catalog::by_key(key);
        let var = setting.map_or(key, |s| s.var);
        match self.of(key) {
            Origin::Environment => var.to_owned(),
            Origin::Flag => setting.and_then(|s| s.flag).unwrap_or(var).to_owned(),
            Origin::File => match &self.file {
                Some(path) => format!("{key} (in {})", path.display()),
                None => key.to_owned(),
            },
            Origin::Default => format!("{var} ({key})"),
        }
    }

    /// The origin as `vtenrich config` prints it: `environment (VTENRICH_X)`, `file (path)`,
    /// `flag (--listen)` or `default`.
    pub fn describe(&self, key: &str) -> String {
        let setting = catalog::by_key(key);
        match self.of(key) {
            Origin::Default => "default".to_owned(),
            Origin::File => match &self.file {
                Some(path) => format!("file ({})", path.display()),
                None => "file".to_owned(),
            },
            Origin::Environment => format!("environment ({})", setting.map_or(key, |s| s.var)),
            Origin::Flag => format!("flag ({})", setting.and_then(|s| s.flag).unwrap_or(key)),
        }
    }
}
