//! Property tests for observable parsing and special-purpose ranges, against independent oracles.
//!
//! The oracles are deliberately written differently from the code under test: std's parser and
//! address predicates, and a longest-prefix match over CIDR text (the library uses first-match
//! over ordered numeric tables).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use vtenrich::observable::{Observable, parse_ip, special_purpose};

/// What an IPv6 block means to the oracle.
#[derive(Clone, Copy)]
enum Expect {
    Special,
    Global,
    /// Judged by the IPv4 address in the last 32 bits.
    Last32,
    /// Judged by the IPv4 address in bits 16..48.
    SixToFour,
    /// Judged by the server (bits 32..64) and the inverted client (last 32 bits).
    Teredo,
}

/// IPv4 blocks and whether they are special; the most specific block wins.
const V4_TABLE: &[(&str, bool)] = &[
    ("0.0.0.0/8", true),
    ("10.0.0.0/8", true),
    ("100.64.0.0/10", true),
    ("127.0.0.0/8", true),
    ("169.254.0.0/16", true),
    ("172.16.0.0/12", true),
    ("192.0.0.0/24", true),
    ("192.0.0.9/32", false),
    ("192.0.0.10/32", false),
    ("192.0.2.0/24", true),
    ("192.31.196.0/24", false),
    ("192.52.193.0/24", false),
    ("192.88.99.0/24", true),
    ("192.168.0.0/16", true),
    ("192.175.48.0/24", false),
    ("198.18.0.0/15", true),
    ("198.51.100.0/24", true),
    ("203.0.113.0/24", true),
    ("224.0.0.0/4", true),
    ("240.0.0.0/4", true),
    ("255.255.255.255/32", true),
];

/// IPv6 blocks and what they mean; the most specific block wins, unmatched is routable.
const V6_TABLE: &[(&str, Expect)] = &[
    ("::/128", Expect::Special),
    ("::1/128", Expect::Special),
    ("::/96", Expect::Special),
    ("::ffff:0:0/96", Expect::Last32),
    ("::/8", Expect::Special),
    ("64:ff9b::/96", Expect::Last32),
    ("64:ff9b:1::/48", Expect::Special),
    ("100::/64", Expect::Special),
    ("100:0:0:1::/64", Expect::Special),
    ("100::/8", Expect::Special),
    ("200::/7", Expect::Special),
    ("400::/6", Expect::Special),
    ("800::/5", Expect::Special),
    ("1000::/4", Expect::Special),
    ("2000::/3", Expect::Global),
    ("2001::/23", Expect::Special),
    ("2001::/32", Expect::Teredo),
    ("2001:1::1/128", Expect::Global),
    ("2001:1::2/128", Expect::Global),
    ("2001:1::3/128", Expect::Global),
    ("2001:2::/48", Expect::Special),
    ("2001:3::/32", Expect::Global),
    ("2001:4:112::/48", Expect::Global),
    ("2001:10::/28", Expect::Special),
    ("2001:20::/28", Expect::Global),
    ("2001:30::/28", Expect::Global),
    ("2001:db8::/32", Expect::Special),
    ("2002::/16", Expect::SixToFour),
    ("2620:4f:8000::/48", Expect::Global),
    ("3fff::/20", Expect::Special),
    ("4000::/3", Expect::Special),
    ("5f00::/16", Expect::Special),
    ("6000::/3", Expect::Special),
    ("8000::/3", Expect::Special),
    ("a000::/3", Expect::Special),
    ("c000::/3", Expect::Special),
    ("e000::/4", Expect::Special),
    ("f000::/5", Expect::Special),
    ("f800::/6", Expect::Special),
    ("fc00::/7", Expect::Special),
    ("fe00::/9", Expect::Special),
    ("fe80::/10", Expect::Special),
    ("fec0::/10", Expect::Special),
    ("ff00::/8", Expect::Special),
];

/// Splits CIDR text into the network's bits and its host mask, both widened to u128.
fn cidr_bits(cidr: &str) -> (u128, u128) {
    let (address, prefix) = cidr.split_once('/').expect("oracle cidr has a prefix");
    let prefix: u32 = prefix.parse().expect("oracle prefix is a number");
    let (network, width) = match address.parse::<IpAddr>().expect("oracle address parses") {
        IpAddr::V4(ip) => (u128::from(ip.to_bits()), 32),
        IpAddr::V6(ip) => (ip.to_bits(), 128),
    };
    let host_len = width - prefix;
    let host = if host_len == 128 {
        u128::MAX
    } else {
        (1u128 << host_len) - 1
    };
    (network, host)
}

/// The most specific table entry containing `bits` (fewest host bits).
fn longest_match<T: Copy>(table: &[(&'static str, T)], bits: u128) -> Option<(&'static str, T)> {
    table
        .iter()
        .filter(|(cidr, _)| {
            let (network, host) = cidr_bits(cidr);
            bits & !host == network
        })
        .min_by_key(|(cidr, _)| cidr_bits(cidr).1.count_ones())
        .copied()
}

fn oracle_v4(ip: Ipv4Addr) -> Option<&'static str> {
    match longest_match(V4_TABLE, ip.to_bits().into()) {
        Some((cidr, true)) => Some(cidr),
        _ => None,
    }
}

fn oracle_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = ip.to_bits();
    let v4 = |shift: u32| Ipv4Addr::from_bits((bits >> shift) as u32);
    match longest_match(V6_TABLE, bits) {
        Some((cidr, Expect::Special)) => Some(cidr),
        None | Some((_, Expect::Global)) => None,
        Some((_, Expect::Last32)) => oracle_v4(v4(0)),
        Some((_, Expect::SixToFour)) => oracle_v4(v4(80)),
        Some((_, Expect::Teredo)) => {
            oracle_v4(v4(64)).or_else(|| oracle_v4(Ipv4Addr::from_bits(!(bits as u32))))
        }
    }
}

fn oracle(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => oracle_v4(ip),
        IpAddr::V6(ip) => oracle_v6(ip),
    }
}

/// Addresses inside a table block, or just below or above it.
fn near_block(table_len: usize) -> impl Strategy<Value = (usize, u128, u8)> {
    (0..table_len, any::<u128>(), 0u8..3)
}

fn place(cidr: &str, random: u128, position: u8) -> u128 {
    let (network, host) = cidr_bits(cidr);
    match position {
        0 => network | (random & host),
        1 => network.wrapping_sub(1),
        _ => (network | host).wrapping_add(1),
    }
}

fn ipv4_near_tables() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        any::<Ipv4Addr>(),
        near_block(V4_TABLE.len()).prop_map(|(index, random, position)| {
            Ipv4Addr::from_bits(place(V4_TABLE[index].0, random, position) as u32)
        }),
    ]
}

fn ipv6_near_tables() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        any::<Ipv6Addr>(),
        near_block(V6_TABLE.len()).prop_map(|(index, random, position)| {
            Ipv6Addr::from_bits(place(V6_TABLE[index].0, random, position))
        }),
        (ipv4_near_tables(), ipv4_near_tables(), any::<u64>(), 0u8..4).prop_map(
            |(a, b, filler, form)| {
                let (a, b) = (u128::from(a.to_bits()), u128::from(b.to_bits()));
                Ipv6Addr::from_bits(match form {
                    0 => (0xffff << 32) | a,
                    1 => (0x0064_ff9b << 96) | a,
                    2 => (0x2002 << 112) | (a << 80) | u128::from(filler),
                    _ => {
                        (0x2001 << 112)
                            | (a << 64)
                            | (u128::from(filler) & !0xffff_ffff)
                            | (!b & 0xffff_ffff)
                    }
                })
            }
        ),
    ]
}

/// Addresses in the IPv6 blocks std's predicates recognise (unspecified, loopback, multicast,
/// unique-local, link-local), so the oracle is exercised rather than skipped.
fn ipv6_std_special() -> impl Strategy<Value = Ipv6Addr> {
    (0u8..4, any::<u128>()).prop_map(|(block, random)| {
        let in_block = |network: u128, prefix: u32| network | (random >> prefix);
        Ipv6Addr::from_bits(match block {
            0 => random & 1,
            1 => in_block(0xff00 << 112, 8),
            2 => in_block(0xfc00 << 112, 7),
            _ => in_block(0xfe80 << 112, 10),
        })
    })
}

fn std_says_special_v4(ip: Ipv4Addr) -> bool {
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
}

fn std_says_special_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || unique_local || link_local
}

fn whitespace() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            " ", "\t", "\n", "\r\n", "\u{a0}", "\u{2003}", "\u{3000}",
        ]),
        0..4,
    )
    .prop_map(|parts| parts.concat())
}

/// A valid address text with one character inserted, replaced or removed.
fn near_valid_text() -> impl Strategy<Value = String> {
    let ip = prop_oneof![
        any::<Ipv4Addr>().prop_map(|ip| ip.to_string()),
        any::<Ipv6Addr>().prop_map(|ip| ip.to_string()),
        any::<Ipv4Addr>().prop_map(|ip| format!("::ffff:{ip}")),
    ];
    let ch = prop::sample::select(
        ":.0123456789abcdefABCDEFx%/[]+- "
            .chars()
            .collect::<Vec<_>>(),
    );
    (ip, any::<prop::sample::Index>(), ch, 0u8..3).prop_map(|(text, at, ch, edit)| {
        let mut chars: Vec<char> = text.chars().collect();
        let at = at.index(chars.len() + 1);
        match edit {
            0 => chars.insert(at, ch),
            1 if at < chars.len() => chars[at] = ch,
            _ if at < chars.len() => {
                chars.remove(at);
            }
            _ => chars.push(ch),
        }
        chars.into_iter().collect()
    })
}

proptest! {
    #[test]
    fn any_ipv4_round_trips_through_its_display(ip in any::<Ipv4Addr>()) {
        let parsed = parse_ip(&ip.to_string());

        prop_assert_eq!(parsed, Ok(IpAddr::V4(ip)));
        prop_assert_eq!(Observable::Ip(IpAddr::V4(ip)).canonical(), ip.to_string());
    }

    #[test]
    fn any_ipv6_round_trips_to_its_canonical_form(ip in ipv6_near_tables()) {
        let expected = match ip.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(ip),
        };

        let parsed = parse_ip(&ip.to_string());

        prop_assert_eq!(parsed, Ok(expected));
        prop_assert_eq!(Observable::Ip(IpAddr::V6(ip)).canonical(), expected.to_string());
    }

    #[test]
    fn the_full_upper_case_ipv6_spelling_means_the_same_address(ip in any::<Ipv6Addr>()) {
        let full = ip.segments().map(|s| format!("{s:04X}")).join(":");

        prop_assert_eq!(parse_ip(&full), parse_ip(&ip.to_string()));
    }

    #[test]
    fn an_ipv4_mapped_spelling_parses_to_the_ipv4_address(ip in any::<Ipv4Addr>()) {
        let [a, b, c, d] = ip.octets();
        let (high, low) = (u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
        let hex = format!("::ffff:{high:x}:{low:x}");

        prop_assert_eq!(parse_ip(&format!("::ffff:{ip}")), Ok(IpAddr::V4(ip)));
        prop_assert_eq!(parse_ip(&hex), Ok(IpAddr::V4(ip)));
    }

    #[test]
    fn surrounding_whitespace_never_changes_the_result(
        text in prop_oneof![any::<String>(), near_valid_text()],
        before in whitespace(),
        after in whitespace(),
    ) {
        prop_assert_eq!(parse_ip(&format!("{before}{text}{after}")), parse_ip(&text));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        let text = String::from_utf8_lossy(&bytes);

        let _ = parse_ip(&text);
        let _ = Observable::infer(&text);
    }

    #[test]
    fn accepted_ip_ish_text_is_an_address_std_agrees_on(
        text in prop_oneof!["[0-9a-fA-F:.%x/ ]{0,50}", near_valid_text()],
    ) {
        if let Ok(ip) = parse_ip(&text) {
            let by_std = text.trim().parse::<IpAddr>().map(|ip| ip.to_canonical());
            prop_assert_eq!(by_std, Ok(ip));
            prop_assert_eq!(parse_ip(&ip.to_string()), Ok(ip));
        }
    }

    #[test]
    fn std_special_ipv4_addresses_are_never_sent_upstream(ip in ipv4_near_tables()) {
        prop_assume!(std_says_special_v4(ip));

        prop_assert!(special_purpose(IpAddr::V4(ip)).is_some());
    }

    #[test]
    fn std_special_ipv6_addresses_are_never_sent_upstream(ip in ipv6_std_special()) {
        prop_assume!(std_says_special_v6(ip));

        prop_assert!(special_purpose(IpAddr::V6(ip)).is_some());
    }

    #[test]
    fn ipv4_ranges_agree_with_the_longest_prefix_oracle(ip in ipv4_near_tables()) {
        let range = special_purpose(IpAddr::V4(ip)).map(|range| range.cidr);

        prop_assert_eq!(range, oracle(IpAddr::V4(ip)));
    }

    #[test]
    fn ipv6_ranges_agree_with_the_longest_prefix_oracle(ip in ipv6_near_tables()) {
        let range = special_purpose(IpAddr::V6(ip)).map(|range| range.cidr);

        prop_assert_eq!(range, oracle(IpAddr::V6(ip)));
    }
}

#[test]
fn the_oracle_tables_are_well_formed() {
    let v4 = V4_TABLE.iter().map(|(cidr, _)| *cidr);
    let v6 = V6_TABLE.iter().map(|(cidr, _)| *cidr);
    for cidr in v4.chain(v6) {
        let (network, host) = cidr_bits(cidr);
        assert_eq!(network & host, 0, "{cidr} has host bits set");
    }
}
