//! The operator's own namespaces (`private_suffixes`): names under them are never sent upstream.
//!
//! Internal host names reaching a third party is what security teams fear most from
//! enrichment, so the list is parsed with the same rules as any domain observable: a suffix
//! written in Unicode or upper case still matches the canonical names it is meant to cover.

use super::DomainName;

/// Domain suffixes owned by the operator (the `private_suffixes` setting; its TOML form lives
/// with the other settings in `config::sections`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivateSuffixes(Vec<DomainName>);

impl PrivateSuffixes {
    /// Parses comma-separated names; the error names the first bad one.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::from_parts(text.split(',').map(str::trim).filter(|p| !p.is_empty()))
    }

    /// Parses each name of a list; the error names the first bad one.
    pub fn from_parts<'a>(parts: impl Iterator<Item = &'a str>) -> Result<Self, String> {
        parts
            .map(|part| {
                DomainName::parse(part).map_err(|e| format!("{part:?} is not a domain name: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// The suffixes, canonical.
    pub fn iter(&self) -> impl Iterator<Item = &DomainName> {
        self.0.iter()
    }

    /// The configured suffix `name` equals or lies under, if any.
    pub fn covering(&self, name: &DomainName) -> Option<&DomainName> {
        self.0.iter().find(|suffix| name.is_within(suffix))
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
}
