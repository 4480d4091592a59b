//! Strict IP address parsing and canonicalisation.
//!
//! IPv4 is parsed by hand rather than trusting `Ipv4Addr::from_str` alone, so the rules that
//! matter here (four decimal parts, no leading zeros) are written down and cannot drift with std.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::InvalidObservable;

/// The longest textual IPv6 address: `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`.
const MAX_LEN: usize = 45;

const EMPTY: InvalidObservable = InvalidObservable::new("empty");
const TOO_LONG: InvalidObservable =
    InvalidObservable::new("too long (an IP address has at most 45 characters)");
const CONTROL: InvalidObservable = InvalidObservable::new("contains control characters");
const NON_ASCII: InvalidObservable = InvalidObservable::new("contains non-ASCII characters");
const ZONE: InvalidObservable = InvalidObservable::new("zone ids (%) are not accepted");
const BRACKETS: InvalidObservable = InvalidObservable::new("brackets are not accepted");
const CIDR: InvalidObservable =
    InvalidObservable::new("CIDR prefixes are not accepted; give a single address");
const PORT: InvalidObservable = InvalidObservable::new("ports are not accepted");
const V4_PARTS: InvalidObservable =
    InvalidObservable::new("an IPv4 address has exactly four decimal parts");
const V4_DECIMAL: InvalidObservable =
    InvalidObservable::new("each IPv4 part must be a decimal number from 0 to 255");
const V4_LEADING_ZERO: InvalidObservable =
    InvalidObservable::new("leading zeros are ambiguous in IPv4 (octal in some parsers)");
const V4_RANGE: InvalidObservable = InvalidObservable::new("an IPv4 part is above 255");
const V6_EMBEDDED_V4: InvalidObservable =
    InvalidObservable::new("the IPv4 part of an IPv6 address is not a valid IPv4 address");
const V6_INVALID: InvalidObservable = InvalidObservable::new("not a valid IPv6 address");

/// Parses an IP address strictly and canonicalises it (IPv4-mapped IPv6 becomes IPv4).
pub fn parse_ip(text: &str) -> Result<IpAddr, InvalidObservable> {
    if let Some(v4) = plain_v4(text.as_bytes()) {
        return Ok(IpAddr::V4(v4));
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(EMPTY);
    }
    if text.len() > MAX_LEN {
        return Err(TOO_LONG);
    }
    let seen = Seen::scan(text);
    if seen.control {
        return Err(CONTROL);
    }
    if seen.non_ascii {
        return Err(NON_ASCII);
    }
    if seen.percent {
        return Err(ZONE);
    }
    if seen.bracket {
        return Err(BRACKETS);
    }
    if seen.slash {
        return Err(CIDR);
    }
    match seen.colons {
        0 => parse_v4(text).map(IpAddr::V4),
        // Every IPv6 spelling has at least two colons, so one colon is `host:port`.
        1 => Err(PORT),
        _ => parse_v6(text),
    }
}

/// What one pass over the text found, checked afterwards in the order the reasons are given:
/// every IPv6 address, name and bad spelling of a batch comes this way, and a pass per check
/// made them several times dearer than an IPv4 address.
#[derive(Default)]
struct Seen {
    control: bool,
    non_ascii: bool,
    percent: bool,
    bracket: bool,
    slash: bool,
    colons: usize,
}

impl Seen {
    fn scan(text: &str) -> Self {
        let mut seen = Self::default();
        for c in text.chars() {
            match c {
                ':' => seen.colons += 1,
                '%' => seen.percent = true,
                '[' | ']' => seen.bracket = true,
                '/' => seen.slash = true,
                c if c.is_control() => seen.control = true,
                c if !c.is_ascii() => seen.non_ascii = true,
                _ => {}
            }
        }
        seen
    }
}

/// The common case in one pass: exactly four dotted decimal octets, each 0-255 without a
/// leading zero, nothing around them. Everything it accepts, [`parse_v4`] accepts too; anything
/// else goes the long way, which finds the reason to give.
fn plain_v4(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split(|b| *b == b'.');
    for octet in &mut octets {
        *octet = match parts.next()? {
            [d @ b'0'..=b'9'] => d - b'0',
            [a @ b'1'..=b'9', b @ b'0'..=b'9'] => (a - b'0') * 10 + (b - b'0'),
            [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
                let value =
                    u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
                u8::try_from(value).ok()?
            }
            _ => return None,
        };
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

fn parse_v4(text: &str) -> Result<Ipv4Addr, InvalidObservable> {
    // Checked in this order so each bad spelling gets the reason that explains it: hex and signs
    // first, then short forms (`127.1`, `2130706433`), then each part.
    if !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(V4_DECIMAL);
    }
    if text.split('.').count() != 4 {
        return Err(V4_PARTS);
    }
    let mut octets = [0u8; 4];
    for (octet, part) in octets.iter_mut().zip(text.split('.')) {
        *octet = parse_octet(part)?;
    }
    Ok(Ipv4Addr::from(octets))
}

fn parse_octet(part: &str) -> Result<u8, InvalidObservable> {
    if part.is_empty() {
        return Err(V4_DECIMAL);
    }
    if part.len() > 1 && part.starts_with('0') {
        return Err(V4_LEADING_ZERO);
    }
    part.parse().map_err(|_| V4_RANGE)
}

fn parse_v6(text: &str) -> Result<IpAddr, InvalidObservable> {
    if text.contains('.') {
        // std accepts a dotted tail; hold it to the same rules as a bare IPv4 address.
        let tail = text.rsplit(':').next().unwrap_or_default();
        parse_v4(tail).map_err(|_| V6_EMBEDDED_V4)?;
    }
    let ip: Ipv6Addr = text.parse().map_err(|_| V6_INVALID)?;
    Ok(IpAddr::V6(ip).to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The one-pass reader is only a shortcut: on any text of digits and dots it agrees
        /// with the full rules exactly (both accept the same address, or it defers).
        #[test]
        fn the_one_pass_ipv4_reader_agrees_with_the_full_rules(
            text in "[0-9.]{0,17}|(0|[1-9][0-9]{0,3})(\\.(0|[0-9]{1,4})){3}"
        ) {
            proptest::prop_assert_eq!(plain_v4(text.as_bytes()), parse_v4(&text).ok());
        }
    }

    proptest::proptest! {
        /// The one-pass scan gives the reason the checks it replaced gave, one pass each, on
        /// text made of the characters they look for.
        #[test]
        fn the_one_pass_scan_finds_what_a_pass_per_check_found(
            text in "[0-9a-f:.%/\\[\\] \\x00-\\x1f\\x7f\\u{80}-\\u{a0}é８]{0,12}"
        ) {
            let seen = Seen::scan(&text);
            proptest::prop_assert_eq!(seen.control, text.chars().any(char::is_control));
            if !seen.control {
                proptest::prop_assert_eq!(seen.non_ascii, !text.is_ascii());
            }
            proptest::prop_assert_eq!(seen.percent, text.contains('%'));
            proptest::prop_assert_eq!(seen.bracket, text.contains(['[', ']']));
            proptest::prop_assert_eq!(seen.slash, text.contains('/'));
            proptest::prop_assert_eq!(seen.colons, text.matches(':').count());
        }
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> Result<IpAddr, InvalidObservable> {
        Ok(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
    }

    fn canonical(text: &str) -> Result<String, InvalidObservable> {
        parse_ip(text).map(|ip| ip.to_string())
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(parse_ip(" \t8.8.8.8\r\n"), v4(8, 8, 8, 8));
        assert_eq!(parse_ip("\u{3000}8.8.8.8\u{a0}"), v4(8, 8, 8, 8));
        assert_eq!(canonical("  ::1 "), Ok("::1".to_owned()));
    }

    #[test]
    fn plain_dotted_decimal_including_zero_is_accepted() {
        assert_eq!(parse_ip("0.0.0.0"), v4(0, 0, 0, 0));
        assert_eq!(parse_ip("255.255.255.255"), v4(255, 255, 255, 255));
        assert_eq!(parse_ip("10.0.100.1"), v4(10, 0, 100, 1));
    }

    #[test]
    fn empty_or_blank_text_is_rejected() {
        assert_eq!(parse_ip(""), Err(EMPTY));
        assert_eq!(parse_ip(" \t\n"), Err(EMPTY));
    }

    #[test]
    fn leading_zeros_are_rejected_as_ambiguous() {
        assert_eq!(parse_ip("010.1.1.1"), Err(V4_LEADING_ZERO));
        assert_eq!(parse_ip("1.2.3.04"), Err(V4_LEADING_ZERO));
        assert_eq!(parse_ip("00.1.1.1"), Err(V4_LEADING_ZERO));
    }

    #[test]
    fn hex_short_and_signed_ipv4_forms_are_rejected() {
        assert_eq!(parse_ip("0x7f.1"), Err(V4_DECIMAL));
        assert_eq!(parse_ip("0x7f000001"), Err(V4_DECIMAL));
        assert_eq!(parse_ip("127.1"), Err(V4_PARTS));
        assert_eq!(parse_ip("2130706433"), Err(V4_PARTS));
        assert_eq!(parse_ip("+1.2.3.4"), Err(V4_DECIMAL));
        assert_eq!(parse_ip("-1.2.3.4"), Err(V4_DECIMAL));
    }

    #[test]
    fn a_trailing_dot_or_extra_part_is_rejected() {
        assert_eq!(parse_ip("1.2.3.4."), Err(V4_PARTS));
        assert_eq!(parse_ip("1.2.3.4.5"), Err(V4_PARTS));
        assert_eq!(parse_ip("1..3.4"), Err(V4_DECIMAL));
    }

    #[test]
    fn an_octet_above_255_is_rejected() {
        assert_eq!(parse_ip("256.1.1.1"), Err(V4_RANGE));
        assert_eq!(parse_ip("1.1.1.999"), Err(V4_RANGE));
    }

    #[test]
    fn brackets_zone_ids_cidr_and_ports_are_rejected() {
        assert_eq!(parse_ip("[::1]"), Err(BRACKETS));
        assert_eq!(parse_ip("[::1]:443"), Err(BRACKETS));
        assert_eq!(parse_ip("fe80::1%eth0"), Err(ZONE));
        assert_eq!(parse_ip("fe80::1%25eth0"), Err(ZONE));
        assert_eq!(parse_ip("1.2.3.4/24"), Err(CIDR));
        assert_eq!(parse_ip("2001:db8::/32"), Err(CIDR));
        assert_eq!(parse_ip("1.2.3.4:80"), Err(PORT));
    }

    #[test]
    fn control_characters_inside_are_rejected() {
        assert_eq!(parse_ip("8.8.8.8\0"), Err(CONTROL));
        assert_eq!(parse_ip("8.8.\n8.8"), Err(CONTROL));
        assert_eq!(parse_ip("8.8.8.8\n1"), Err(CONTROL));
        assert_eq!(parse_ip("::\u{7f}1"), Err(CONTROL));
    }

    #[test]
    fn inner_spaces_are_rejected() {
        assert_eq!(parse_ip("8.8. 8.8"), Err(V4_DECIMAL));
        assert_eq!(parse_ip("8.8.8.8 8.8.4.4"), Err(V4_DECIMAL));
    }

    #[test]
    fn full_width_digits_and_other_non_ascii_are_rejected() {
        assert_eq!(parse_ip("８.８.８.８"), Err(NON_ASCII));
        assert_eq!(parse_ip("8.8.8.\u{0668}"), Err(NON_ASCII));
    }

    #[test]
    fn text_longer_than_45_characters_is_rejected() {
        let longest = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
        let padded = "0000:0000:0000:0000:0000:0000:0000:0000:00000";

        assert_eq!(longest.len(), 45);
        assert!(parse_ip(longest).is_ok());
        assert_eq!(parse_ip(&format!("{longest}0")), Err(TOO_LONG));
        assert_eq!(parse_ip(&"1".repeat(200)), Err(TOO_LONG));
        assert_eq!(parse_ip(padded), Err(V6_INVALID));
    }

    #[test]
    fn an_ipv4_mapped_address_becomes_ipv4_in_both_spellings() {
        assert_eq!(parse_ip("::ffff:8.8.8.8"), v4(8, 8, 8, 8));
        assert_eq!(parse_ip("::ffff:0808:0808"), v4(8, 8, 8, 8));
        assert_eq!(parse_ip("::FFFF:808:808"), v4(8, 8, 8, 8));
        assert_eq!(parse_ip("0:0:0:0:0:ffff:1.2.3.4"), v4(1, 2, 3, 4));
    }

    #[test]
    fn an_ipv4_compatible_address_stays_ipv6() {
        assert_eq!(canonical("::1.2.3.4"), Ok("::102:304".to_owned()));
    }

    #[test]
    fn an_embedded_ipv4_follows_the_strict_ipv4_rules() {
        assert_eq!(parse_ip("::ffff:010.1.1.1"), Err(V6_EMBEDDED_V4));
        assert_eq!(parse_ip("::ffff:127.1"), Err(V6_EMBEDDED_V4));
        assert_eq!(parse_ip("::ffff:1.2.3.256"), Err(V6_EMBEDDED_V4));
        assert_eq!(parse_ip("::ffff:1.2.3.4.5"), Err(V6_EMBEDDED_V4));
        assert_eq!(parse_ip("::1.2.3.4:5"), Err(V6_EMBEDDED_V4));
    }

    #[test]
    fn ipv6_is_compressed_and_lower_cased() {
        let expected = Ok("2001:4860:4860::8888".to_owned());

        assert_eq!(canonical("2001:4860:4860:0:0:0:0:8888"), expected);
        assert_eq!(canonical("2001:4860:4860::8888"), expected);
        assert_eq!(
            canonical("2001:4860:4860:0000:0000:0000:0000:8888"),
            expected
        );
        assert_eq!(
            canonical("2001:4860:4860::8888".to_uppercase().as_str()),
            expected
        );
    }

    #[test]
    fn malformed_ipv6_is_rejected() {
        assert_eq!(parse_ip("2001:db8:::1"), Err(V6_INVALID));
        assert_eq!(parse_ip("1::2::3"), Err(V6_INVALID));
        assert_eq!(parse_ip("1:2:3:4:5:6:7:8:9"), Err(V6_INVALID));
        assert_eq!(parse_ip("12345::1"), Err(V6_INVALID));
        assert_eq!(parse_ip("g::1"), Err(V6_INVALID));
        assert_eq!(parse_ip(":::"), Err(V6_INVALID));
    }

    #[test]
    fn std_also_rejects_the_ambiguous_ipv4_spellings() {
        // Two independent parsers agreeing guards against a slip in the hand-written rules.
        for text in [
            "010.1.1.1",
            "0x7f.1",
            "127.1",
            "1.2.3.4.",
            "1.2.3.04",
            "256.1.1.1",
            "+1.2.3.4",
        ] {
            assert!(parse_ip(text).is_err(), "{text}");
            assert!(text.parse::<Ipv4Addr>().is_err(), "{text}");
        }
    }
}
