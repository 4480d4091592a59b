//! Observables: the edge where caller text becomes a typed, canonical value.
//!
//! Parsing is strict on purpose: a spelling that some parser somewhere reads differently (octal
//! `010.1.1.1`, short `127.1`, zone ids) is rejected rather than guessed, because a wrong guess
//! would spend VirusTotal quota on an address the caller never meant.

mod domain;
mod hash;
mod ip_text;
mod parse;
mod private_suffixes;
mod special;
mod web_url;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

pub use domain::DomainName;
pub use hash::{FileHash, HashKind};
pub use parse::parse_ip;
pub use private_suffixes::PrivateSuffixes;
pub use special::{
    NotRoutable, NotRoutableRule, SpecialName, SpecialRange, not_routable, special_purpose,
};
pub use web_url::{UrlHost, WebUrl};

/// A parsed, canonical observable: one value per thing VirusTotal can be asked about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Observable {
    /// An IP address; IPv4-mapped IPv6 addresses are held as IPv4.
    Ip(IpAddr),
    /// A domain name in A-labels, lower case, without the trailing dot.
    Domain(DomainName),
    /// An absolute http(s) URL, scheme and host lower case, default port and fragment dropped.
    Url(WebUrl),
    /// An MD5, SHA-1 or SHA-256 in lower-case hex.
    File(FileHash),
}

/// The kind of an observable, as callers name it in requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObservableType {
    /// An IPv4 or IPv6 address.
    Ip,
    /// A domain or host name.
    Domain,
    /// A web URL.
    Url,
    /// A file, named by one of its hashes.
    File,
}

/// Why text is not a valid observable: a short English reason that never echoes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidObservable {
    reason: &'static str,
}

impl InvalidObservable {
    /// An invalid observable with a fixed reason; request parsing uses it for bad shapes too.
    pub const fn new(reason: &'static str) -> Self {
        Self { reason }
    }

    /// The reason, fit for a per-item error message.
    pub fn reason(&self) -> &str {
        self.reason
    }
}

impl Observable {
    /// Infers the type from text: an IP address, then 32/40/64 hex digits (a file hash), then
    /// a URL with a scheme, then a domain name.
    pub fn infer(text: &str) -> Result<Observable, InvalidObservable> {
        let ip_error = match parse_ip(text) {
            Ok(ip) => return Ok(Observable::Ip(ip)),
            Err(err) => err,
        };
        let text = text.trim();
        if FileHash::looks_like(text) {
            return FileHash::parse(text).map(Observable::File);
        }
        if text.contains("://") {
            return WebUrl::parse(text).map(Observable::Url);
        }
        DomainName::parse(text)
            .map(Observable::Domain)
            .map_err(|err| {
                // `127.1` or `[::1]:53` fail as names too, but the IP reason is the one that helps.
                if looks_like_an_address(text) {
                    ip_error
                } else {
                    err
                }
            })
    }

    /// Parses text as the given type; the stated type wins over what inference would say.
    pub fn parse(kind: ObservableType, text: &str) -> Result<Observable, InvalidObservable> {
        match kind {
            ObservableType::Ip => parse_ip(text).map(Observable::Ip),
            ObservableType::Domain => DomainName::parse(text).map(Observable::Domain),
            ObservableType::Url => WebUrl::parse(text).map(Observable::Url),
            ObservableType::File => FileHash::parse(text).map(Observable::File),
        }
    }

    /// The type of this observable.
    pub fn kind(&self) -> ObservableType {
        match self {
            Observable::Ip(_) => ObservableType::Ip,
            Observable::Domain(_) => ObservableType::Domain,
            Observable::Url(_) => ObservableType::Url,
            Observable::File(_) => ObservableType::File,
        }
    }

    /// Canonical text form: IPv4 dotted decimal; IPv6 per RFC 5952 (compressed, lower case);
    /// domains in lower-case A-labels; URLs as their cache key; hashes in lower-case hex.
    pub fn canonical(&self) -> String {
        let mut text = Vec::with_capacity(40);
        self.write_canonical(&mut text);
        String::from_utf8(text).expect("canonical forms are UTF-8")
    }

    /// Appends [`Self::canonical`]'s text to `out` without building a `String`: the renderers
    /// write it into every answer, and an address written by hand costs a fraction of the
    /// formatting machinery.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        match self {
            // `to_canonical`: a directly built IPv4-mapped address still prints as IPv4.
            Observable::Ip(ip) => match ip.to_canonical() {
                IpAddr::V4(v4) => ip_text::write_v4(out, v4),
                IpAddr::V6(v6) => ip_text::write_v6(out, v6),
            },
            Observable::Domain(name) => out.extend_from_slice(name.as_str().as_bytes()),
            Observable::Url(url) => out.extend_from_slice(url.as_str().as_bytes()),
            Observable::File(hash) => out.extend_from_slice(hash.as_str().as_bytes()),
        }
    }
}

impl fmt::Display for Observable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl ObservableType {
    /// The type's name in the API.
    pub fn as_str(&self) -> &'static str {
        match self {
            ObservableType::Ip => "ip",
            ObservableType::Domain => "domain",
            ObservableType::Url => "url",
            ObservableType::File => "file",
        }
    }
}

impl fmt::Display for ObservableType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ObservableType {
    type Err = InvalidObservable;

    /// Accepts exactly `ip` (or `ip_address`), `domain`, `url` and `file`; other spellings are
    /// rejected, not guessed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ip" | "ip_address" => Ok(ObservableType::Ip),
            "domain" => Ok(ObservableType::Domain),
            "url" => Ok(ObservableType::Url),
            "file" => Ok(ObservableType::File),
            _ => Err(InvalidObservable::new(
                "unknown observable type (expected \"ip\", \"domain\", \"url\" or \"file\")",
            )),
        }
    }
}

/// True for text that can only have been meant as an address: a colon, a zone, a prefix or
/// brackets, or an all-digit last part (no top-level domain is all digits).
fn looks_like_an_address(text: &str) -> bool {
    let last = text
        .trim_end_matches('.')
        .rsplit('.')
        .next()
        .unwrap_or(text);
    text.contains([':', '%', '/', '[', ']'])
        || (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn an_ipv4_text_is_inferred_as_an_ip_observable() {
        let observable = Observable::infer(" 8.8.8.8 ");

        assert_eq!(
            observable,
            Ok(Observable::Ip(IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8))))
        );
    }

    #[test]
    fn inference_tries_ip_then_hash_then_url_then_domain() {
        let md5 = "44D88612FEA8A8F36DE82E1278ABB02F";

        let kinds: Vec<_> = [
            "8.8.8.8",
            md5,
            "https://example.com/x",
            "Example.COM.",
            // 32 hex digits that also spell a (single-label) name: the hash reading wins.
            &"ad".repeat(16),
        ]
        .iter()
        .map(|text| Observable::infer(text).map(|o| o.kind()))
        .collect();

        assert_eq!(
            kinds,
            [
                Ok(ObservableType::Ip),
                Ok(ObservableType::File),
                Ok(ObservableType::Url),
                Ok(ObservableType::Domain),
                Ok(ObservableType::File),
            ]
        );
        assert_eq!(
            Observable::infer(md5).map(|o| o.canonical()),
            Ok(md5.to_ascii_lowercase())
        );
        assert_eq!(
            Observable::infer("Example.COM.").map(|o| o.canonical()),
            Ok("example.com".to_owned())
        );
    }

    #[test]
    fn a_stated_type_wins_over_inference() {
        let hex = "ad".repeat(16);

        assert_eq!(
            Observable::parse(ObservableType::Domain, &hex).map(|o| o.kind()),
            Ok(ObservableType::Domain)
        );
        assert!(Observable::parse(ObservableType::Url, "example.com").is_err());
        assert!(Observable::parse(ObservableType::File, "example.com").is_err());
        assert!(Observable::parse(ObservableType::Domain, "8.8.8.8").is_err());
        assert!(Observable::parse(ObservableType::Ip, "example.com").is_err());
    }

    #[test]
    fn text_with_a_scheme_that_is_not_a_good_url_keeps_the_url_reason() {
        let err = Observable::infer("ftp://example.com/").unwrap_err();

        assert_eq!(err.reason(), "only http and https URLs are accepted");
    }

    #[test]
    fn garbage_is_invalid_with_a_reason() {
        for text in [
            "exa mple.com",
            "a_b.com",
            "-x.com",
            "!!!",
            "http//x",
            "1.2.3.4.5",
        ] {
            assert!(Observable::infer(text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_malformed_address_keeps_its_specific_reason_when_inferring() {
        let inferred = Observable::infer("127.1").unwrap_err();

        assert_eq!(inferred, parse_ip("127.1").unwrap_err());
        assert_eq!(
            Observable::infer("[::1]:53").unwrap_err(),
            parse_ip("[::1]:53").unwrap_err()
        );
    }

    #[test]
    fn parsing_as_ip_gives_the_same_observable_as_inferring() {
        let parsed = Observable::parse(ObservableType::Ip, "2001:4860:4860::8888");

        assert_eq!(parsed, Observable::infer("2001:4860:4860::8888"));
        assert_eq!(parsed.map(|o| o.kind()), Ok(ObservableType::Ip));
    }

    #[test]
    fn canonical_text_of_a_directly_built_mapped_address_is_ipv4() {
        let mapped = Ipv4Addr::new(8, 8, 4, 4).to_ipv6_mapped();

        let observable = Observable::Ip(IpAddr::V6(mapped));

        assert_eq!(observable.canonical(), "8.8.4.4");
        assert_eq!(observable.to_string(), "8.8.4.4");
    }

    #[test]
    fn canonical_text_of_ipv6_is_compressed_lower_case() {
        let ip = Ipv6Addr::new(0x2001, 0xDB8, 0, 0, 0, 0, 0, 0xABCD);

        assert_eq!(Observable::Ip(IpAddr::V6(ip)).canonical(), "2001:db8::abcd");
    }

    #[test]
    fn the_type_names_are_accepted_exactly() {
        assert_eq!("ip".parse(), Ok(ObservableType::Ip));
        assert_eq!("ip_address".parse(), Ok(ObservableType::Ip));
        assert!("IP".parse::<ObservableType>().is_err());
        assert!("hash".parse::<ObservableType>().is_err());
        assert_eq!(ObservableType::Ip.as_str(), "ip");
        for kind in [
            ObservableType::Domain,
            ObservableType::Url,
            ObservableType::File,
        ] {
            assert_eq!(kind.as_str().parse(), Ok(kind));
        }
    }

    #[test]
    fn an_error_never_echoes_the_input() {
        let secretish = "not an ip but a long string that must-not-come-back";

        let err = Observable::infer(secretish).unwrap_err();

        assert!(!err.to_string().contains("must-not-come-back"));
        assert!(err.to_string().len() <= 80);
    }
}
