//! Observables: the edge where caller text becomes a typed, canonical value.
//!
//! Parsing is strict on purpose: a spelling that some parser somewhere reads differently (octal
//! `010.1.1.1`, short `127.1`, zone ids) is rejected rather than guessed, because a wrong guess
//! would spend VirusTotal quota on an address the caller never meant.

mod parse;
mod special;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

pub use parse::parse_ip;
pub use special::{SpecialRange, special_purpose};

/// A parsed, canonical observable. Only IPs for now; the enum leaves room for domains/hashes later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Observable {
    /// An IP address; IPv4-mapped IPv6 addresses are held as IPv4.
    Ip(IpAddr),
}

/// The kind of an observable, as callers name it in requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObservableType {
    /// An IPv4 or IPv6 address.
    Ip,
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
    /// Infers the type from text; today an IP address is the only type accepted.
    pub fn infer(text: &str) -> Result<Observable, InvalidObservable> {
        parse_ip(text).map(Observable::Ip).map_err(|err| {
            // A domain or hash fails IP parsing with a confusing reason; say what is wrong instead.
            if looks_like_unsupported_kind(text.trim()) {
                InvalidObservable::new("only IP addresses are supported")
            } else {
                err
            }
        })
    }

    /// Parses text as the given type.
    pub fn parse(kind: ObservableType, text: &str) -> Result<Observable, InvalidObservable> {
        match kind {
            ObservableType::Ip => parse_ip(text).map(Observable::Ip),
        }
    }

    /// The type of this observable.
    pub fn kind(&self) -> ObservableType {
        match self {
            Observable::Ip(_) => ObservableType::Ip,
        }
    }

    /// Canonical text form: IPv4 dotted decimal; IPv6 per RFC 5952 (compressed, lower case).
    pub fn canonical(&self) -> String {
        match self {
            // `to_canonical`: a directly built IPv4-mapped address still prints as IPv4.
            Observable::Ip(ip) => ip.to_canonical().to_string(),
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

    /// Accepts exactly `ip` and `ip_address`; other spellings are rejected, not guessed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ip" | "ip_address" => Ok(ObservableType::Ip),
            _ => Err(InvalidObservable::new(
                "unknown observable type (expected \"ip\")",
            )),
        }
    }
}

/// True for text shaped like a domain, URL or file hash: things a later version may enrich.
fn looks_like_unsupported_kind(text: &str) -> bool {
    let is_hash = matches!(text.len(), 32 | 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit());
    let is_url = text.contains("://");
    let is_domain = text.contains('.')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && text
            .trim_end_matches('.')
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
    is_hash || is_url || is_domain
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
    fn a_domain_is_rejected_as_unsupported_when_inferring() {
        let err = Observable::infer("example.com").unwrap_err();

        assert_eq!(err.reason(), "only IP addresses are supported");
    }

    #[test]
    fn a_sha256_or_url_is_rejected_as_unsupported_when_inferring() {
        let hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

        let from_hash = Observable::infer(hash).unwrap_err();
        let from_url = Observable::infer("https://example.com/x").unwrap_err();

        assert_eq!(from_hash.reason(), "only IP addresses are supported");
        assert_eq!(from_url.reason(), "only IP addresses are supported");
    }

    #[test]
    fn a_malformed_address_keeps_its_specific_reason_when_inferring() {
        let inferred = Observable::infer("127.1").unwrap_err();

        assert_eq!(inferred, parse_ip("127.1").unwrap_err());
        assert_ne!(inferred.reason(), "only IP addresses are supported");
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
    fn the_type_names_ip_and_ip_address_are_accepted_exactly() {
        assert_eq!("ip".parse(), Ok(ObservableType::Ip));
        assert_eq!("ip_address".parse(), Ok(ObservableType::Ip));
        assert!("IP".parse::<ObservableType>().is_err());
        assert!("domain".parse::<ObservableType>().is_err());
        assert_eq!(ObservableType::Ip.as_str(), "ip");
    }

    #[test]
    fn an_error_never_echoes_the_input() {
        let secretish = "not-an-ip-but-a-long-string-that-must-not-come-back";

        let err = Observable::infer(secretish).unwrap_err();

        assert!(!err.to_string().contains("must-not-come-back"));
        assert!(err.to_string().len() <= 80);
    }
}
