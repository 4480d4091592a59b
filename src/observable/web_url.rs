//! Web URLs: absolute `http`/`https`, at most 2,048 characters, with a canonical cache key.
//!
//! The key lowers the scheme and host, drops a default port and the fragment, and keeps the
//! rest exactly as given: path and query are the caller's evidence (VirusTotal canonicalises
//! them its own way), so rewriting them here could merge URLs VirusTotal tells apart. The
//! host goes through the `url` crate (WHATWG parsing), so `http://0x7f.1/` is seen as the
//! loopback address a browser would reach, and the special-purpose checks judge what would
//! really be contacted.

use std::fmt;
use std::net::IpAddr;

use super::InvalidObservable;
use super::domain::DomainName;

/// The limit, also the de-facto limit of browsers and of VirusTotal's URL scanner.
const MAX_CHARS: usize = 2048;

const EMPTY: InvalidObservable = InvalidObservable::new("empty");
const TOO_LONG: InvalidObservable = InvalidObservable::new("a URL has at most 2,048 characters");
const SPACES: InvalidObservable =
    InvalidObservable::new("a URL has no spaces or control characters");
const NO_SCHEME: InvalidObservable =
    InvalidObservable::new("a URL needs a scheme (http:// or https://)");
const SCHEME: InvalidObservable = InvalidObservable::new("only http and https URLs are accepted");
const NO_HOST: InvalidObservable = InvalidObservable::new("a URL needs a host");
const BACKSLASH: InvalidObservable =
    InvalidObservable::new("a backslash is not accepted in a URL's host part");
const PORT: InvalidObservable = InvalidObservable::new("a URL's port is a number from 0 to 65535");
const BAD_ADDRESS: InvalidObservable =
    InvalidObservable::new("the URL's host is not a valid IP address");
const BAD_NAME: InvalidObservable =
    InvalidObservable::new("the URL's host is not a valid domain name");
const INVALID: InvalidObservable = InvalidObservable::new("not a valid URL");

/// Where a URL points.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UrlHost {
    /// A host name, canonical as any domain.
    Name(DomainName),
    /// A literal address (also after WHATWG reads `0x7f.1` or `2130706433` as one).
    Ip(IpAddr),
}

/// An absolute http(s) URL in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WebUrl {
    text: Box<str>,
    host: UrlHost,
    credentials: bool,
}

impl WebUrl {
    /// Parses an absolute http(s) URL. Credentials (`user:pass@`) are accepted here and left
    /// out of the canonical form; the never-sent rules refuse such a URL.
    pub fn parse(text: &str) -> Result<Self, InvalidObservable> {
        let text = text.trim();
        if text.is_empty() {
            return Err(EMPTY);
        }
        if text.chars().count() > MAX_CHARS {
            return Err(TOO_LONG);
        }
        // WHATWG parsing silently deletes tabs and newlines; refusing them keeps the key honest.
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SPACES);
        }
        let (scheme, rest) = text.split_once("://").ok_or(NO_SCHEME)?;
        let scheme = scheme.to_ascii_lowercase();
        if !matches!(scheme.as_str(), "http" | "https") {
            return Err(SCHEME);
        }
        let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
        if rest[end..].starts_with('\\') {
            return Err(BACKSLASH);
        }
        if end == 0 {
            return Err(NO_HOST);
        }
        let parsed = url::Url::parse(text).map_err(reason)?;
        let host = match parsed.host() {
            Some(url::Host::Domain(name)) => {
                UrlHost::Name(DomainName::parse(name).map_err(|_| BAD_NAME)?)
            }
            Some(url::Host::Ipv4(ip)) => UrlHost::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => UrlHost::Ip(IpAddr::V6(ip)),
            None => return Err(NO_HOST),
        };
        let credentials = !parsed.username().is_empty() || parsed.password().is_some();
        let mut canonical = format!("{scheme}://");
        match &host {
            UrlHost::Name(name) => canonical.push_str(name.as_str()),
            UrlHost::Ip(IpAddr::V4(ip)) => canonical.push_str(&ip.to_string()),
            UrlHost::Ip(IpAddr::V6(ip)) => canonical.push_str(&format!("[{ip}]")),
        }
        // `port()` is None for the scheme's default port, however it was spelled.
        if let Some(port) = parsed.port() {
            canonical.push_str(&format!(":{port}"));
        }
        let tail = &rest[end..];
        let tail = tail.split_once('#').map_or(tail, |(before, _)| before);
        // An empty path is `/` in HTTP (RFC 9110 §4.2.3): both spellings are one resource.
        if !tail.starts_with('/') {
            canonical.push('/');
        }
        canonical.push_str(tail);
        Ok(Self {
            text: canonical.into(),
            host,
            credentials,
        })
    }

    /// The canonical URL (the cache key and the text VirusTotal's id is made from).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The host the URL points at.
    pub fn host(&self) -> &UrlHost {
        &self.host
    }

    /// True when the URL carried a user name or password.
    pub fn has_credentials(&self) -> bool {
        self.credentials
    }
}

impl fmt::Display for WebUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn reason(error: url::ParseError) -> InvalidObservable {
    match error {
        url::ParseError::EmptyHost => NO_HOST,
        url::ParseError::InvalidPort => PORT,
        url::ParseError::InvalidIpv4Address | url::ParseError::InvalidIpv6Address => BAD_ADDRESS,
        url::ParseError::IdnaError | url::ParseError::InvalidDomainCharacter => BAD_NAME,
        _ => INVALID,
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn canonical(text: &str) -> Result<String, InvalidObservable> {
        WebUrl::parse(text).map(|u| u.to_string())
    }

    #[test]
    fn scheme_and_host_are_lowered_and_the_rest_kept_as_given() {
        assert_eq!(
            canonical("HTTPS://WWW.Example.COM/Path/../A%20b?Q=1&q=2"),
            Ok("https://www.example.com/Path/../A%20b?Q=1&q=2".into())
        );
    }

    #[test]
    fn the_default_port_and_the_fragment_are_dropped() {
        assert_eq!(
            canonical("http://example.com:80/a#top"),
            Ok("http://example.com/a".into())
        );
        assert_eq!(
            canonical("https://example.com:443?x#y"),
            Ok("https://example.com/?x".into())
        );
        assert_eq!(
            canonical("https://example.com:8443/"),
            Ok("https://example.com:8443/".into())
        );
        assert_eq!(
            canonical("http://example.com:080/"),
            Ok("http://example.com/".into())
        );
    }

    #[test]
    fn an_empty_path_is_the_root_path() {
        assert_eq!(
            canonical("http://example.com"),
            canonical("http://example.com/")
        );
        assert_eq!(
            canonical("http://example.com"),
            Ok("http://example.com/".into())
        );
    }

    #[test]
    fn unicode_hosts_become_a_labels_and_addresses_are_read_as_a_browser_would() {
        assert_eq!(
            canonical("http://Bücher.de./x"),
            Ok("http://xn--bcher-kva.de/x".into())
        );
        let loopback = WebUrl::parse("http://0x7f.1/").unwrap();
        assert_eq!(
            loopback.host(),
            &UrlHost::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(
            canonical("http://[2001:DB8::1]:8080/"),
            Ok("http://[2001:db8::1]:8080/".into())
        );
    }

    #[test]
    fn credentials_are_noted_and_left_out_of_the_key() {
        let url = WebUrl::parse("https://user:secret@example.com/x").unwrap();
        let user_only = WebUrl::parse("https://user@example.com/x").unwrap();

        assert!(url.has_credentials());
        assert!(user_only.has_credentials());
        assert_eq!(url.as_str(), "https://example.com/x");
        assert!(
            !WebUrl::parse("https://example.com/a@b")
                .unwrap()
                .has_credentials()
        );
    }

    #[test]
    fn non_http_schemes_and_missing_schemes_are_refused() {
        assert_eq!(canonical("ftp://example.com/"), Err(SCHEME));
        assert_eq!(canonical("javascript://alert(1)"), Err(SCHEME));
        assert_eq!(canonical("example.com/path"), Err(NO_SCHEME));
        assert_eq!(canonical("http:example.com"), Err(NO_SCHEME));
        assert_eq!(canonical("http:///example.com"), Err(NO_HOST));
        assert_eq!(canonical("http://?q"), Err(NO_HOST));
    }

    #[test]
    fn bad_hosts_ports_and_spacing_are_refused() {
        assert_eq!(canonical("http://exa mple.com/"), Err(SPACES));
        assert_eq!(canonical("http://example.com/\tx"), Err(SPACES));
        assert_eq!(canonical("http://example.com\\@evil.com/"), Err(BACKSLASH));
        assert_eq!(canonical("http://example.com:99999/"), Err(PORT));
        assert_eq!(canonical("http://[::1/"), Err(BAD_ADDRESS));
        assert_eq!(canonical("http://under_score.com/"), Err(BAD_NAME));
        assert_eq!(canonical("http://a..b/"), Err(BAD_NAME));
    }

    #[test]
    fn the_length_limit_is_2048_characters() {
        let head = "http://example.com/";
        let at_limit = format!("{head}{}", "a".repeat(2048 - head.len()));

        assert!(WebUrl::parse(&at_limit).is_ok());
        assert_eq!(canonical(&format!("{at_limit}a")), Err(TOO_LONG));
    }
}
