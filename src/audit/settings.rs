//! What `service.started` says about the configuration: the non-secret settings as flat
//! `key = value` text, kept from one start to the next, and the keys that changed.
//!
//! Secrets already serialise as `<set>`/`<unset>`; callers are named by id only (their key
//! hashes are not for the audit log).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::config::Settings;

/// The settings as `dotted.key -> value`.
pub type SettingsText = BTreeMap<String, String>;

/// The effective settings, flattened.
pub fn flatten(settings: &Settings) -> SettingsText {
    let table = toml::Table::try_from(settings).unwrap_or_default();
    let mut flat = SettingsText::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(section) => {
                for (leaf, value) in section {
                    flat.insert(format!("{key}.{leaf}"), value.to_string());
                }
            }
            _ if key == "callers" => {}
            value => {
                flat.insert(key, value.to_string());
            }
        }
    }
    let ids: Vec<&str> = settings.callers.iter().map(|c| c.id.as_str()).collect();
    flat.insert("callers".to_owned(), ids.join(","));
    flat
}

/// `{key: {"before": ..., "after": ...}}` for every key whose value differs (absent: null).
pub fn diff(before: &SettingsText, after: &SettingsText) -> Value {
    let mut changed = serde_json::Map::new();
    for key in before.keys().chain(after.keys()) {
        let (was, is) = (before.get(key), after.get(key));
        if was != is {
            changed.insert(key.clone(), json!({"before": was, "after": is}));
        }
    }
    Value::Object(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_setting_is_reported_with_before_and_after_and_secrets_stay_hidden() {
        let mut settings = Settings::default();
        let before = flatten(&settings);
        settings.virustotal.rate_per_minute = 9;
        settings.virustotal.api_key = Some("vt-secret-value".to_owned().into());

        let after = flatten(&settings);
        let changed = diff(&before, &after);

        assert_eq!(changed["virustotal.rate_per_minute"]["before"], "4");
        assert_eq!(changed["virustotal.rate_per_minute"]["after"], "9");
        assert_eq!(changed["virustotal.api_key"]["after"], "\"<set>\"");
        assert_eq!(changed.as_object().unwrap().len(), 2, "{changed}");
        assert!(!changed.to_string().contains("vt-secret-value"));
    }
}
