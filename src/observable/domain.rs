//! Domain names: IDNA to A-labels, then the DNS length and LDH rules, so one name has one key.
//!
//! `idna` does the Unicode work (UTS 46 mapping, Punycode, bidi and hyphen rules); the length
//! and letter-digit-hyphen checks are repeated here on the ASCII result so each failure gets a
//! reason a caller can act on instead of idna's opaque error.

use std::fmt;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

use super::InvalidObservable;

/// RFC 1035 §2.3.4: 255 octets on the wire are 253 characters of text without the root dot.
const MAX_NAME: usize = 253;
/// RFC 1035 §2.3.4.
const MAX_LABEL: usize = 63;
/// Longer text cannot become a valid name even after IDNA mapping shrinks it; refusing it
/// early keeps hostile input from costing a full UTS 46 pass.
const MAX_INPUT: usize = 1024;

const EMPTY: InvalidObservable = InvalidObservable::new("empty");
const TOO_LONG: InvalidObservable =
    InvalidObservable::new("a domain name has at most 253 characters");
const LABEL_TOO_LONG: InvalidObservable =
    InvalidObservable::new("a domain label has at most 63 characters");
const EMPTY_LABEL: InvalidObservable =
    InvalidObservable::new("a domain name has no empty labels (two dots in a row)");
const NOT_LDH: InvalidObservable =
    InvalidObservable::new("a domain name has only letters, digits and hyphens between its dots");
const EDGE_HYPHEN: InvalidObservable =
    InvalidObservable::new("a domain label neither starts nor ends with a hyphen");
const NUMERIC_TLD: InvalidObservable =
    InvalidObservable::new("the last label of a domain name is not all digits");
const IDNA: InvalidObservable =
    InvalidObservable::new("not a valid internationalised domain name (IDNA)");

/// A domain name in canonical form: A-labels, lower case, no trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(Box<str>);

impl DomainName {
    /// Parses a name (Unicode or ASCII, any case, one optional trailing dot).
    pub fn parse(text: &str) -> Result<Self, InvalidObservable> {
        let text = text.trim();
        let text = text.strip_suffix('.').unwrap_or(text);
        if text.is_empty() {
            return Err(EMPTY);
        }
        if text.len() > MAX_INPUT {
            return Err(TOO_LONG);
        }
        if text.is_ascii() {
            // Checked before IDNA so plain ASCII mistakes get their specific reason.
            check_ldh(&text.to_ascii_lowercase())?;
        }
        let ascii = Uts46::new()
            .to_ascii(
                text.as_bytes(),
                AsciiDenyList::STD3,
                // Real names such as `r3---sn-abc.googlevideo.com` use `--` in positions 3-4.
                Hyphens::CheckFirstLast,
                DnsLength::Ignore,
            )
            .map_err(|_| IDNA)?;
        check_ldh(&ascii)?;
        Ok(Self(ascii.into()))
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The labels, most specific first.
    pub fn labels(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.0.split('.')
    }

    /// True when this name is `suffix` or lies under it (`a.corp.example` under `corp.example`).
    pub fn is_within(&self, suffix: &DomainName) -> bool {
        match self.0.strip_suffix(&*suffix.0) {
            Some("") => true,
            Some(head) => head.ends_with('.'),
            None => false,
        }
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Length and LDH rules on lower-case ASCII text.
fn check_ldh(name: &str) -> Result<(), InvalidObservable> {
    if name.len() > MAX_NAME {
        return Err(TOO_LONG);
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(EMPTY_LABEL);
        }
        if label.len() > MAX_LABEL {
            return Err(LABEL_TOO_LONG);
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(NOT_LDH);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(EDGE_HYPHEN);
        }
    }
    // RFC 3696 §2: a TLD is never all-numeric, so `1.2.3.999` is a bad address, not a name.
    let tld = name.rsplit('.').next().unwrap_or(name);
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NUMERIC_TLD);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> Result<String, InvalidObservable> {
        DomainName::parse(text).map(|d| d.to_string())
    }

    #[test]
    fn case_and_one_trailing_dot_are_folded_away() {
        assert_eq!(
            canonical(" WWW.Example.COM. "),
            Ok("www.example.com".into())
        );
        assert_eq!(canonical("example.com.."), Err(EMPTY_LABEL));
    }

    #[test]
    fn unicode_names_become_a_labels() {
        assert_eq!(canonical("bücher.de"), Ok("xn--bcher-kva.de".into()));
        assert_eq!(canonical("BÜCHER.de"), Ok("xn--bcher-kva.de".into()));
        assert_eq!(canonical("xn--bcher-kva.de"), Ok("xn--bcher-kva.de".into()));
        assert_eq!(
            canonical("例え.テスト"),
            Ok("xn--r8jz45g.xn--zckzah".into())
        );
    }

    #[test]
    fn invalid_idna_is_refused() {
        // A Punycode label that does not decode, and a bidi mix that UTS 46 forbids.
        assert_eq!(canonical("xn--a.com"), Err(IDNA));
        assert_eq!(canonical("a\u{5d0}1.com"), Err(IDNA));
    }

    #[test]
    fn labels_over_63_and_names_over_253_are_refused() {
        let label63 = "a".repeat(63);
        let name253 = format!("{0}.{0}.{0}.{1}.com", label63, "b".repeat(57));

        assert_eq!(name253.len(), 253);
        assert!(canonical(&format!("{label63}.com")).is_ok());
        assert!(canonical(&name253).is_ok());
        assert!(canonical(&format!("{name253}.")).is_ok());
        assert_eq!(canonical(&format!("a{label63}.com")), Err(LABEL_TOO_LONG));
        assert_eq!(canonical(&format!("a{name253}")), Err(TOO_LONG));
        assert_eq!(canonical(&"a.".repeat(5000)), Err(TOO_LONG));
    }

    #[test]
    fn only_letters_digits_and_inner_hyphens_are_accepted() {
        assert_eq!(canonical("under_score.com"), Err(NOT_LDH));
        assert_eq!(canonical("sp ace.com"), Err(NOT_LDH));
        assert_eq!(canonical("a/b.com"), Err(NOT_LDH));
        assert_eq!(canonical("-lead.com"), Err(EDGE_HYPHEN));
        assert_eq!(canonical("trail-.com"), Err(EDGE_HYPHEN));
        assert_eq!(
            canonical("r3---sn-abc.googlevideo.com"),
            Ok("r3---sn-abc.googlevideo.com".into())
        );
        assert_eq!(canonical("3com.com"), Ok("3com.com".into()));
    }

    #[test]
    fn an_all_numeric_last_label_is_refused() {
        assert_eq!(canonical("1.2.3.999"), Err(NUMERIC_TLD));
        assert_eq!(canonical("example.123"), Err(NUMERIC_TLD));
    }

    #[test]
    fn empty_text_is_refused() {
        assert_eq!(canonical(""), Err(EMPTY));
        assert_eq!(canonical(" . "), Err(EMPTY));
    }

    #[test]
    fn within_compares_whole_labels() {
        let corp = DomainName::parse("corp.example.net").unwrap();
        let name = |t| DomainName::parse(t).unwrap();

        assert!(name("corp.example.net").is_within(&corp));
        assert!(name("db.eu.CORP.example.net").is_within(&corp));
        assert!(!name("evilcorp.example.net").is_within(&corp));
        assert!(!name("example.net").is_within(&corp));
    }
}
