//! The one decision the enrich path asks before any upstream call: may this observable leave?
//!
//! An IP in a special-purpose range, a special-use or operator-private name, a URL pointing at
//! either, or a URL carrying credentials is answered locally as `not_routable`, with a reason
//! naming the rule, and never reaches VirusTotal.

use std::fmt;

use super::names::{SpecialName, special_name};
use super::{SpecialRange, special_purpose};
use crate::observable::{DomainName, Observable, PrivateSuffixes, UrlHost};

/// Why an observable is never sent upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotRoutable {
    /// The rule that applies.
    pub rule: NotRoutableRule,
    /// True when the rule applies to a URL's host rather than to the observable itself.
    pub url_host: bool,
}

/// The rule that keeps an observable local.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRoutableRule {
    /// An IANA special-purpose address range.
    Range(SpecialRange),
    /// A special-use domain name.
    Name(SpecialName),
    /// Under one of the operator's `private_suffixes`.
    Private(DomainName),
    /// A URL with a user name or password, which would be handed to a third party.
    Credentials,
}

/// The reason `observable` must never be sent to VirusTotal, or `None` when it may be.
pub fn not_routable(observable: &Observable, private: &PrivateSuffixes) -> Option<NotRoutable> {
    let local = |rule| NotRoutable {
        rule,
        url_host: false,
    };
    match observable {
        Observable::Ip(ip) => special_purpose(*ip).map(NotRoutableRule::Range).map(local),
        Observable::Domain(name) => name_rule(name, private).map(local),
        Observable::File(_) => None,
        Observable::Url(url) if url.has_credentials() => Some(local(NotRoutableRule::Credentials)),
        Observable::Url(url) => {
            let rule = match url.host() {
                UrlHost::Ip(ip) => special_purpose(*ip).map(NotRoutableRule::Range),
                UrlHost::Name(name) => name_rule(name, private),
            };
            rule.map(|rule| NotRoutable {
                rule,
                url_host: true,
            })
        }
    }
}

fn name_rule(name: &DomainName, private: &PrivateSuffixes) -> Option<NotRoutableRule> {
    special_name(name).map(NotRoutableRule::Name).or_else(|| {
        private
            .covering(name)
            .cloned()
            .map(NotRoutableRule::Private)
    })
}

impl fmt::Display for NotRoutable {
    /// The per-item `error.message`; for an IP it reads as it always has.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.url_host {
            f.write_str("the URL's host is ")?;
        }
        match &self.rule {
            NotRoutableRule::Range(range) if self.url_host => {
                write!(f, "in {} ({})", range.name, range.cidr)?
            }
            NotRoutableRule::Range(range) => write!(f, "{} ({})", range.name, range.cidr)?,
            NotRoutableRule::Name(special) => f.write_str(special.name)?,
            NotRoutableRule::Private(suffix) => write!(
                f,
                "under the private suffix {suffix} (setting private_suffixes)"
            )?,
            NotRoutableRule::Credentials => f.write_str(
                "a URL with credentials (user:password@); they would leak to a third party",
            )?,
        }
        f.write_str(": never sent to VirusTotal")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str, private: &str) -> Option<String> {
        let observable = Observable::infer(text).expect("test observables parse");
        let private = PrivateSuffixes::parse(private).unwrap();
        not_routable(&observable, &private).map(|r| r.to_string())
    }

    #[test]
    fn a_special_address_reads_as_it_always_has() {
        assert_eq!(
            reason("10.1.2.3", "").as_deref(),
            Some("private-use (RFC 1918) (10.0.0.0/8): never sent to VirusTotal")
        );
        assert_eq!(reason("8.8.8.8", ""), None);
    }

    #[test]
    fn special_use_names_name_their_rfc() {
        let local = reason("printer.local", "").unwrap();
        let single = reason("intranet", "").unwrap();

        assert!(local.contains("RFC 6762"), "{local}");
        assert!(single.contains("single-label"), "{single}");
        assert_eq!(reason("example.com", ""), None);
    }

    #[test]
    fn names_under_a_private_suffix_are_kept_local() {
        let private = "corp.example.net";

        let under = reason("DB.Corp.Example.net", private).unwrap();

        assert!(under.contains("private suffix corp.example.net"), "{under}");
        assert_eq!(reason("evilcorp.example.net", private), None);
        assert_eq!(reason("corp.example.net.evil.com", private), None);
    }

    #[test]
    fn a_url_is_judged_by_its_host_and_its_credentials() {
        let private = "corp.example.net";

        let loopback = reason("http://0x7f.1/admin", private).unwrap();
        let mdns = reason("https://nas.local/", private).unwrap();
        let internal = reason("https://wiki.corp.example.net/x", private).unwrap();
        let mapped = reason("http://[::ffff:192.168.0.1]/", private).unwrap();
        let credentials = reason("https://user:hunter2@example.com/", private).unwrap();

        assert!(
            loopback.starts_with("the URL's host is in loopback"),
            "{loopback}"
        );
        assert!(
            mdns.starts_with("the URL's host is multicast DNS"),
            "{mdns}"
        );
        assert!(internal.contains("private suffix"), "{internal}");
        assert!(mapped.contains("192.168.0.0/16"), "{mapped}");
        assert!(credentials.contains("credentials"), "{credentials}");
        assert!(credentials.contains("leak"), "{credentials}");
        assert!(!credentials.contains("hunter2"));
        assert_eq!(reason("https://example.com/a?b=c", private), None);
    }

    #[test]
    fn file_hashes_always_go() {
        assert_eq!(
            reason("44d88612fea8a8f36de82e1278abb02f", "corp.example.net"),
            None
        );
    }
}
