//! The operator's own namespaces (`private_suffixes`): names under them are never sent upstream.
//!
//! Internal host names reaching a third party is what security teams fear most from
//! enrichment, so the list is parsed with the same rules as any domain observable: a suffix
//! written in Unicode or upper case still matches the canonical names it is meant to cover.

use serde::{Deserialize, Serialize, Serializer};

use super::DomainName;

/// Domain suffixes owned by the operator. Written as a list in TOML or comma-separated
/// (`VTENRICH_PRIVATE_SUFFIXES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivateSuffixes(Vec<DomainName>);

impl PrivateSuffixes {
    /// Parses comma-separated names; the error names the first bad one.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::from_parts(text.split(',').map(str::trim).filter(|p| !p.is_empty()))
    }

    fn from_parts<'a>(parts: impl Iterator<Item = &'a str>) -> Result<Self, String> {
        parts
            .map(|part| {
                DomainName::parse(part).map_err(|e| format!("{part:?} is not a domain name: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// The configured suffix `name` equals or lies under, if any.
    pub fn covering(&self, name: &DomainName) -> Option<&DomainName> {
        self.0.iter().find(|suffix| name.is_within(suffix))
    }
}

impl Serialize for PrivateSuffixes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let parts: Vec<&str> = self.0.iter().map(DomainName::as_str).collect();
        s.serialize_str(&parts.join(","))
    }
}

impl<'de> Deserialize<'de> for PrivateSuffixes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Text(String),
            List(Vec<String>),
        }
        let parsed = match Given::deserialize(d)? {
            Given::Text(text) => Self::parse(&text),
            Given::List(list) => Self::from_parts(list.iter().map(|p| p.trim())),
        };
        parsed.map_err(|e| serde::de::Error::custom(format!("private_suffixes: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_canonical_so_any_spelling_matches() {
        let suffixes = PrivateSuffixes::parse(" Corp.Example.NET., bücher.de ,").unwrap();
        let name = |t| DomainName::parse(t).unwrap();

        assert_eq!(
            suffixes
                .covering(&name("db.corp.example.net"))
                .map(DomainName::as_str),
            Some("corp.example.net")
        );
        assert!(suffixes.covering(&name("shop.xn--bcher-kva.de")).is_some());
        assert!(suffixes.covering(&name("example.net")).is_none());
    }

    #[test]
    fn a_bad_suffix_is_named_in_the_error() {
        let err = PrivateSuffixes::parse("corp.example.net, bad_name").unwrap_err();

        assert!(err.contains("\"bad_name\""), "{err}");
    }

    #[test]
    fn toml_takes_a_list_or_a_string_and_writes_a_string() {
        #[derive(Deserialize, Serialize)]
        struct Doc {
            private_suffixes: PrivateSuffixes,
        }
        let list: Doc =
            toml::from_str(r#"private_suffixes = ["a.example.net", "B.example.org"]"#).unwrap();
        let text: Doc =
            toml::from_str(r#"private_suffixes = "a.example.net,b.example.org""#).unwrap();

        assert_eq!(list.private_suffixes, text.private_suffixes);
        assert_eq!(
            toml::to_string(&list).unwrap().trim(),
            r#"private_suffixes = "a.example.net,b.example.org""#
        );
        assert!(toml::from_str::<Doc>(r#"private_suffixes = ["a..b"]"#).is_err());
    }
}
