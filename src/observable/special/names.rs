//! Special-use domain names that must never be sent upstream.
//!
//! From the IANA Special-Use Domain Names registry (RFC 6761 and the RFCs that added entries),
//! ICANN's private-use `.internal`, and single-label names: none of them name a public host,
//! so asking VirusTotal about one can only leak an internal name and spend quota.

use crate::observable::DomainName;

/// A special-use name a domain falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialName {
    /// A readable name with its RFC or registry entry, e.g. `mDNS .local (RFC 6762)`.
    pub name: &'static str,
    /// The reserved suffix, e.g. `local`; empty for single-label names.
    pub suffix: &'static str,
}

/// Reserved suffixes; a name is special when it is one of them or lies under it.
const SUFFIXES: [SpecialName; 10] = [
    special("localhost (RFC 6761 §6.3)", "localhost"),
    special("multicast DNS .local (RFC 6762)", "local"),
    special("testing name .test (RFC 6761 §6.2)", "test"),
    special("invalid name .invalid (RFC 6761 §6.4)", "invalid"),
    special("documentation TLD .example (RFC 6761 §6.5)", "example"),
    special("Tor onion service .onion (RFC 7686)", "onion"),
    special("home network home.arpa (RFC 8375)", "home.arpa"),
    special(
        "private-use TLD .internal (ICANN resolution 2024.07.29.06)",
        "internal",
    ),
    special("alternative namespace .alt (RFC 9476)", "alt"),
    // RFC 6761 §6.3 also reserves the reverse zone of 127/8; the other private reverse zones
    // are covered by the address ranges when asked as IPs.
    special(
        "loopback reverse zone 127.in-addr.arpa (RFC 6761 §6.3)",
        "127.in-addr.arpa",
    ),
];

const SINGLE_LABEL: SpecialName = special(
    "single-label name, never a public host (ICANN SAC053, dotless domains)",
    "",
);

const fn special(name: &'static str, suffix: &'static str) -> SpecialName {
    SpecialName { name, suffix }
}

/// The special-use name `domain` falls under, if it must never be sent upstream.
pub fn special_name(domain: &DomainName) -> Option<SpecialName> {
    let text = domain.as_str();
    if !text.contains('.') {
        // `localhost` itself is a single label too; the specific entry names it better.
        return Some(within(text).unwrap_or(SINGLE_LABEL));
    }
    within(text)
}

fn within(text: &str) -> Option<SpecialName> {
    SUFFIXES.iter().copied().find(|special| {
        text == special.suffix
            || text
                .strip_suffix(special.suffix)
                .is_some_and(|head| head.ends_with('.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suffix_of(text: &str) -> Option<&'static str> {
        special_name(&DomainName::parse(text).unwrap()).map(|s| s.suffix)
    }

    #[test]
    fn each_reserved_suffix_covers_itself_and_names_under_it() {
        for (text, suffix) in [
            ("localhost", "localhost"),
            ("api.localhost", "localhost"),
            ("printer.local", "local"),
            ("a.b.test", "test"),
            ("x.invalid", "invalid"),
            ("example", "example"),
            ("www.example", "example"),
            (
                "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion",
                "onion",
            ),
            ("nas.home.arpa", "home.arpa"),
            ("db.corp.internal", "internal"),
            ("x.alt", "alt"),
            ("1.0.0.127.in-addr.arpa", "127.in-addr.arpa"),
        ] {
            assert_eq!(suffix_of(text), Some(suffix), "{text}");
        }
    }

    #[test]
    fn single_label_names_are_special() {
        assert_eq!(suffix_of("intranet"), Some(""));
        assert!(
            special_name(&DomainName::parse("intranet").unwrap())
                .unwrap()
                .name
                .contains("single-label")
        );
    }

    #[test]
    fn registered_names_that_merely_look_reserved_are_looked_up() {
        for text in [
            "example.com",
            "example.net",
            "example.org",
            "mylocal.com",
            "notlocal.com",
            "local.com",
            "testing.io",
            "arpa.example.com",
            "home.arpa.com",
            "internal.example.net",
            "8.8.8.8.in-addr.arpa",
        ] {
            assert_eq!(suffix_of(text), None, "{text}");
        }
    }

    #[test]
    fn every_entry_names_its_source() {
        for special in SUFFIXES.iter().chain([&SINGLE_LABEL]) {
            assert!(
                special.name.contains("RFC") || special.name.contains("ICANN"),
                "{}",
                special.name
            );
        }
    }
}
