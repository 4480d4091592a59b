//! Inside and just-outside cases for every special-purpose block, and the table's own integrity.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ranges::{V4_RANGES, V4Rule, V6_RANGES, V6Rule};
use super::special_purpose;

/// The CIDR of the range `text` falls in, or `None` when it is routable.
fn range_of(text: &str) -> Option<&'static str> {
    let ip: IpAddr = text.parse().expect("test addresses are valid");
    special_purpose(ip).map(|range| range.cidr)
}

fn assert_cases(cases: &[(&str, Option<&str>)]) {
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(text, expected)| range_of(text) != *expected)
        .map(|(text, expected)| format!("{text}: got {:?}, want {expected:?}", range_of(text)))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_ipv4_block_covers_its_edges_and_nothing_next_to_them() {
    assert_cases(&[
        ("0.0.0.0", Some("0.0.0.0/8")),
        ("0.255.255.255", Some("0.0.0.0/8")),
        ("1.0.0.0", None),
        ("10.0.0.0", Some("10.0.0.0/8")),
        ("10.255.255.255", Some("10.0.0.0/8")),
        ("9.255.255.255", None),
        ("11.0.0.0", None),
        ("100.64.0.0", Some("100.64.0.0/10")),
        ("100.127.255.255", Some("100.64.0.0/10")),
        ("100.63.255.255", None),
        ("100.128.0.0", None),
        ("127.0.0.1", Some("127.0.0.0/8")),
        ("126.255.255.255", None),
        ("128.0.0.0", None),
        ("169.254.0.1", Some("169.254.0.0/16")),
        ("169.253.255.255", None),
        ("169.255.0.0", None),
        ("172.16.0.0", Some("172.16.0.0/12")),
        ("172.31.255.255", Some("172.16.0.0/12")),
        ("172.15.255.255", None),
        ("172.32.0.0", None),
        ("192.0.0.0", Some("192.0.0.0/24")),
        ("192.0.0.8", Some("192.0.0.0/24")),
        ("192.0.0.11", Some("192.0.0.0/24")),
        ("192.0.0.255", Some("192.0.0.0/24")),
        ("191.255.255.255", None),
        ("192.0.1.0", None),
        ("192.0.2.0", Some("192.0.2.0/24")),
        ("192.0.2.255", Some("192.0.2.0/24")),
        ("192.0.3.0", None),
        ("192.88.99.1", Some("192.88.99.0/24")),
        ("192.88.98.255", None),
        ("192.88.100.0", None),
        ("192.168.0.0", Some("192.168.0.0/16")),
        ("192.168.255.255", Some("192.168.0.0/16")),
        ("192.167.255.255", None),
        ("192.169.0.0", None),
        ("198.18.0.0", Some("198.18.0.0/15")),
        ("198.19.255.255", Some("198.18.0.0/15")),
        ("198.17.255.255", None),
        ("198.20.0.0", None),
        ("198.51.100.7", Some("198.51.100.0/24")),
        ("198.51.99.255", None),
        ("198.51.101.0", None),
        ("203.0.113.9", Some("203.0.113.0/24")),
        ("203.0.112.255", None),
        ("203.0.114.0", None),
        ("224.0.0.1", Some("224.0.0.0/4")),
        ("239.255.255.255", Some("224.0.0.0/4")),
        ("223.255.255.255", None),
        ("240.0.0.0", Some("240.0.0.0/4")),
        ("255.255.255.254", Some("240.0.0.0/4")),
        ("255.255.255.255", Some("255.255.255.255/32")),
    ]);
}

#[test]
fn globally_reachable_ipv4_assignments_are_routable() {
    assert_cases(&[
        ("192.0.0.9", None),
        ("192.0.0.10", None),
        ("192.31.196.1", None),
        ("192.52.193.1", None),
        ("192.175.48.1", None),
        ("8.8.8.8", None),
        ("1.1.1.1", None),
    ]);
}

#[test]
fn every_ipv6_block_below_2000_covers_its_edges() {
    assert_cases(&[
        ("::", Some("::/128")),
        ("::1", Some("::1/128")),
        ("::2", Some("::/96")),
        ("::8.8.8.8", Some("::/96")),
        ("::ffff:ffff", Some("::/96")),
        ("::1:0:0", Some("::/8")),
        ("::fffe:ffff:ffff", Some("::/8")),
        ("::1:ffff:0:0", Some("::/8")),
        ("ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("::/8")),
        ("64:ff9b:1::1", Some("64:ff9b:1::/48")),
        ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", Some("64:ff9b:1::/48")),
        ("64:ff9b:2::", Some("::/8")),
        ("64:ff9b::1:0:0", Some("::/8")),
        ("100::", Some("100::/64")),
        ("100::ffff:ffff:ffff:ffff", Some("100::/64")),
        ("100:0:0:1::", Some("100:0:0:1::/64")),
        ("100:0:0:2::", Some("100::/8")),
        ("1ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("100::/8")),
        ("200::", Some("200::/7")),
        ("400::", Some("400::/6")),
        ("800::", Some("800::/5")),
        ("1000::", Some("1000::/4")),
        ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("1000::/4")),
        ("2000::", None),
    ]);
}

#[test]
fn the_ietf_protocol_block_2001_23_keeps_its_globally_reachable_exceptions() {
    assert_cases(&[
        ("2001:1::", Some("2001::/23")),
        ("2001:1::1", None),
        ("2001:1::2", None),
        ("2001:1::3", None),
        ("2001:1::4", Some("2001::/23")),
        ("2001:2::1", Some("2001:2::/48")),
        ("2001:2:0:ffff::", Some("2001:2::/48")),
        ("2001:2:1::", Some("2001::/23")),
        ("2001:3::1", None),
        ("2001:3:ffff::", None),
        ("2001:4:112::1", None),
        ("2001:4:111:ffff::", Some("2001::/23")),
        ("2001:4:113::", Some("2001::/23")),
        ("2001:f:ffff::", Some("2001::/23")),
        ("2001:10::1", Some("2001:10::/28")),
        ("2001:1f:ffff::", Some("2001:10::/28")),
        ("2001:20::1", None),
        ("2001:2f:ffff::", None),
        ("2001:30::1", None),
        ("2001:3f:ffff::", None),
        ("2001:40::", Some("2001::/23")),
        ("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", Some("2001::/23")),
        ("2001:200::", None),
    ]);
}

#[test]
fn every_ipv6_block_above_2000_covers_its_edges() {
    assert_cases(&[
        ("2001:db8::1", Some("2001:db8::/32")),
        (
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
            Some("2001:db8::/32"),
        ),
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ("2001:db9::", None),
        ("3fff::1", Some("3fff::/20")),
        ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", Some("3fff::/20")),
        ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ("3fff:1000::", None),
        ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
        ("4000::", Some("4000::/3")),
        ("5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("4000::/3")),
        ("5f00::1", Some("5f00::/16")),
        ("5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("5f00::/16")),
        ("5f01::", Some("4000::/3")),
        ("6000::", Some("6000::/3")),
        ("8000::", Some("8000::/3")),
        ("a000::", Some("a000::/3")),
        ("c000::", Some("c000::/3")),
        ("e000::", Some("e000::/4")),
        ("f000::", Some("f000::/5")),
        ("f800::", Some("f800::/6")),
        ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("f800::/6")),
        ("fc00::1", Some("fc00::/7")),
        ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("fc00::/7")),
        ("fe00::", Some("fe00::/9")),
        ("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("fe00::/9")),
        ("fe80::1", Some("fe80::/10")),
        ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("fe80::/10")),
        ("fec0::1", Some("fec0::/10")),
        ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("fec0::/10")),
        ("ff02::1", Some("ff00::/8")),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Some("ff00::/8")),
        ("2001:4860:4860::8888", None),
        ("2620:4f:8000::1", None),
    ]);
}

#[test]
fn an_ipv4_mapped_address_is_judged_as_its_ipv4_address() {
    assert_cases(&[
        ("::ffff:10.0.0.1", Some("10.0.0.0/8")),
        ("::ffff:0.0.0.0", Some("0.0.0.0/8")),
        ("::ffff:8.8.8.8", None),
    ]);
}

#[test]
fn a_nat64_address_is_special_only_when_its_ipv4_address_is() {
    assert_cases(&[
        ("64:ff9b::8.8.8.8", None),
        ("64:ff9b::10.1.1.1", Some("10.0.0.0/8")),
        ("64:ff9b::ffff:ffff", Some("255.255.255.255/32")),
        ("64:ff9b::192.0.0.9", None),
    ]);
}

#[test]
fn a_6to4_address_is_special_only_when_its_ipv4_address_is() {
    assert_cases(&[
        ("2002:808:808::1", None),
        ("2002:c0a8:101::1", Some("192.168.0.0/16")),
        ("2002:a00:1:ffff::", Some("10.0.0.0/8")),
        ("2002:ffff:ffff::", Some("255.255.255.255/32")),
        ("2003::", None),
    ]);
}

#[test]
fn a_teredo_address_is_special_when_its_server_or_inverted_client_is() {
    assert_cases(&[
        // server 8.8.8.8, client 1.1.1.1 (stored inverted as fefe:fefe)
        ("2001:0:808:808::fefe:fefe", None),
        // server 10.0.0.1, client 1.1.1.1
        ("2001:0:a00:1::fefe:fefe", Some("10.0.0.0/8")),
        // server 8.8.8.8, client 192.168.1.1
        ("2001:0:808:808::3f57:fefe", Some("192.168.0.0/16")),
        // the raw last 32 bits read 192.168.1.1 but the client is 63.87.254.254
        ("2001:0:808:808::c0a8:101", None),
        // RFC 4380 example: server 65.54.227.120, client 192.0.2.45
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Some("192.0.2.0/24")),
    ]);
}

#[test]
fn a_range_reports_a_readable_name_with_its_rfc() {
    let range = special_purpose(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)));

    let range = range.expect("10.1.2.3 is private-use");
    assert_eq!(range.name, "private-use (RFC 1918)");
    assert_eq!(range.cidr, "10.0.0.0/8");
}

#[test]
fn every_table_entry_has_an_rfc_in_its_name_and_a_cidr_matching_its_numbers() {
    let mut wrong = Vec::new();
    for range in V4_RANGES {
        let (address, prefix) = range.cidr.split_once('/').expect("cidr has a prefix");
        let address: Ipv4Addr = address.parse().expect("cidr address parses");
        let host_bits = u32::MAX.checked_shr(range.prefix).unwrap_or(0);
        let named = !matches!(range.rule, V4Rule::Special(name) if !name.contains("(RFC "));
        if address.to_bits() != range.network
            || prefix.parse() != Ok(range.prefix)
            || range.network & host_bits != 0
            || !named
        {
            wrong.push(range.cidr);
        }
    }
    for range in V6_RANGES {
        let (address, prefix) = range.cidr.split_once('/').expect("cidr has a prefix");
        let address: Ipv6Addr = address.parse().expect("cidr address parses");
        let host_bits = u128::MAX.checked_shr(range.prefix).unwrap_or(0);
        let named = !matches!(range.rule, V6Rule::Special(name) if !name.contains("(RFC "));
        if address.to_bits() != range.network
            || prefix.parse() != Ok(range.prefix)
            || range.network & host_bits != 0
            || !named
        {
            wrong.push(range.cidr);
        }
    }
    assert!(wrong.is_empty(), "inconsistent entries: {wrong:?}");
}
