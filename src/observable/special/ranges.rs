//! The ordered tables of special-purpose IPv4 and IPv6 blocks; the first matching block decides.
//!
//! Sources: IANA IPv4/IPv6 Special-Purpose Address Registries (RFC 6890 and later updates,
//! including RFC 9637 `3fff::/20`), IANA multicast, and the IANA IPv6 Address Space registry for
//! the blocks "Reserved by IETF". Each `cidr` text is checked against its numbers by a unit test.

use std::net::Ipv6Addr;

/// What a matching IPv4 block means.
#[derive(Debug, Clone, Copy)]
pub(super) enum V4Rule {
    /// Not globally reachable; never sent upstream. Holds the readable name.
    Special(&'static str),
    /// A globally reachable exception inside a larger special block.
    Global,
}

/// What a matching IPv6 block means.
#[derive(Debug, Clone, Copy)]
pub(super) enum V6Rule {
    /// Not globally reachable; never sent upstream. Holds the readable name.
    Special(&'static str),
    /// A globally reachable exception inside a larger special block.
    Global,
    /// Carries an IPv4 address that decides.
    Embeds(Embedding),
}

/// Where an IPv6 block carries the IPv4 address that decides for it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Embedding {
    /// The last 32 bits (IPv4-mapped, NAT64 well-known prefix).
    Last32,
    /// Bits 16..48 (6to4, RFC 3056).
    SixToFour,
    /// Server in bits 32..64, client inverted in the last 32 bits (Teredo, RFC 4380).
    Teredo,
}

/// One IPv4 block.
#[derive(Debug)]
pub(super) struct V4Range {
    pub(super) network: u32,
    pub(super) prefix: u32,
    pub(super) cidr: &'static str,
    pub(super) rule: V4Rule,
}

/// One IPv6 block.
#[derive(Debug)]
pub(super) struct V6Range {
    pub(super) network: u128,
    pub(super) prefix: u32,
    pub(super) cidr: &'static str,
    pub(super) rule: V6Rule,
}

const fn v4(octets: [u8; 4], prefix: u32, cidr: &'static str, rule: V4Rule) -> V4Range {
    let network = u32::from_be_bytes(octets);
    V4Range {
        network,
        prefix,
        cidr,
        rule,
    }
}

const fn v6(segments: [u16; 8], prefix: u32, cidr: &'static str, rule: V6Rule) -> V6Range {
    let [a, b, c, d, e, f, g, h] = segments;
    let network = Ipv6Addr::new(a, b, c, d, e, f, g, h).to_bits();
    V6Range {
        network,
        prefix,
        cidr,
        rule,
    }
}

use V4Rule::{Global as Global4, Special as Special4};
use V6Rule::{Embeds, Global, Special};

const PRIVATE: &str = "private-use (RFC 1918)";
const DOCUMENTATION_V4: &str = "documentation (RFC 5737)";
const RESERVED_V6: &str = "reserved by IETF (RFC 4291)";
const SIX_TO_FOUR_RELAY: &str = "deprecated 6to4 relay anycast (RFC 7526)";
const LOCAL_TRANSLATION: &str = "local-use IPv4/IPv6 translation (RFC 8215)";
const ORCHID: &str = "deprecated ORCHID (RFC 4843)";
const IETF_PROTOCOL_V6: &str = "IETF protocol assignments (RFC 2928)";

/// IPv4 blocks, exceptions before the blocks that enclose them.
#[rustfmt::skip]
pub(super) const V4_RANGES: &[V4Range] = &[
    // PCP anycast (RFC 7723) and TURN anycast (RFC 8155) are globally reachable.
    v4([192, 0, 0, 9], 32, "192.0.0.9/32", Global4),
    v4([192, 0, 0, 10], 32, "192.0.0.10/32", Global4),
    v4([0, 0, 0, 0], 8, "0.0.0.0/8", Special4("this network (RFC 791)")),
    v4([10, 0, 0, 0], 8, "10.0.0.0/8", Special4(PRIVATE)),
    v4([100, 64, 0, 0], 10, "100.64.0.0/10", Special4("shared address space, CGNAT (RFC 6598)")),
    v4([127, 0, 0, 0], 8, "127.0.0.0/8", Special4("loopback (RFC 1122)")),
    v4([169, 254, 0, 0], 16, "169.254.0.0/16", Special4("link-local (RFC 3927)")),
    v4([172, 16, 0, 0], 12, "172.16.0.0/12", Special4(PRIVATE)),
    v4([192, 0, 0, 0], 24, "192.0.0.0/24", Special4("IETF protocol assignments (RFC 6890)")),
    v4([192, 0, 2, 0], 24, "192.0.2.0/24", Special4(DOCUMENTATION_V4)),
    v4([192, 88, 99, 0], 24, "192.88.99.0/24", Special4(SIX_TO_FOUR_RELAY)),
    v4([192, 168, 0, 0], 16, "192.168.0.0/16", Special4(PRIVATE)),
    v4([198, 18, 0, 0], 15, "198.18.0.0/15", Special4("benchmarking (RFC 2544)")),
    v4([198, 51, 100, 0], 24, "198.51.100.0/24", Special4(DOCUMENTATION_V4)),
    v4([203, 0, 113, 0], 24, "203.0.113.0/24", Special4(DOCUMENTATION_V4)),
    v4([224, 0, 0, 0], 4, "224.0.0.0/4", Special4("multicast (RFC 5771)")),
    v4([255, 255, 255, 255], 32, "255.255.255.255/32", Special4("limited broadcast (RFC 919)")),
    v4([240, 0, 0, 0], 4, "240.0.0.0/4", Special4("reserved (RFC 1112)")),
];

/// IPv6 blocks, exceptions before the blocks that enclose them. Anything unmatched is global
/// unicast (`2000::/3`).
#[rustfmt::skip]
pub(super) const V6_RANGES: &[V6Range] = &[
    v6([0; 8], 128, "::/128", Special("unspecified (RFC 4291)")),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "::1/128", Special("loopback (RFC 4291)")),
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "::ffff:0:0/96", Embeds(Embedding::Last32)),
    v6([0; 8], 96, "::/96", Special("deprecated IPv4-compatible (RFC 4291)")),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "64:ff9b:1::/48", Special(LOCAL_TRANSLATION)),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "64:ff9b::/96", Embeds(Embedding::Last32)),
    v6([0; 8], 8, "::/8", Special(RESERVED_V6)),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "100::/64", Special("discard-only (RFC 6666)")),
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, "100:0:0:1::/64", Special("dummy prefix (RFC 9780)")),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 8, "100::/8", Special(RESERVED_V6)),
    v6([0x200, 0, 0, 0, 0, 0, 0, 0], 7, "200::/7", Special(RESERVED_V6)),
    v6([0x400, 0, 0, 0, 0, 0, 0, 0], 6, "400::/6", Special(RESERVED_V6)),
    v6([0x800, 0, 0, 0, 0, 0, 0, 0], 5, "800::/5", Special(RESERVED_V6)),
    v6([0x1000, 0, 0, 0, 0, 0, 0, 0], 4, "1000::/4", Special(RESERVED_V6)),
    // Globally reachable assignments inside 2001::/23: PCP (RFC 7723), TURN (RFC 8155) and
    // DNS-SD SRP (RFC 9665) anycast, AMT (RFC 7450), AS112-v6 (RFC 7535), ORCHIDv2 (RFC 7343)
    // and drone DETs (RFC 9374).
    v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128, "2001:1::1/128", Global),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128, "2001:1::2/128", Global),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128, "2001:1::3/128", Global),
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, "2001:3::/32", Global),
    v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, "2001:4:112::/48", Global),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, "2001:20::/28", Global),
    v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28, "2001:30::/28", Global),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "2001::/32", Embeds(Embedding::Teredo)),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "2001:2::/48", Special("benchmarking (RFC 5180)")),
    v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, "2001:10::/28", Special(ORCHID)),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "2001::/23", Special(IETF_PROTOCOL_V6)),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "2001:db8::/32", Special("documentation (RFC 3849)")),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "2002::/16", Embeds(Embedding::SixToFour)),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "3fff::/20", Special("documentation (RFC 9637)")),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "5f00::/16", Special("segment routing SIDs (RFC 9602)")),
    v6([0x4000, 0, 0, 0, 0, 0, 0, 0], 3, "4000::/3", Special(RESERVED_V6)),
    v6([0x6000, 0, 0, 0, 0, 0, 0, 0], 3, "6000::/3", Special(RESERVED_V6)),
    v6([0x8000, 0, 0, 0, 0, 0, 0, 0], 3, "8000::/3", Special(RESERVED_V6)),
    v6([0xa000, 0, 0, 0, 0, 0, 0, 0], 3, "a000::/3", Special(RESERVED_V6)),
    v6([0xc000, 0, 0, 0, 0, 0, 0, 0], 3, "c000::/3", Special(RESERVED_V6)),
    v6([0xe000, 0, 0, 0, 0, 0, 0, 0], 4, "e000::/4", Special(RESERVED_V6)),
    v6([0xf000, 0, 0, 0, 0, 0, 0, 0], 5, "f000::/5", Special(RESERVED_V6)),
    v6([0xf800, 0, 0, 0, 0, 0, 0, 0], 6, "f800::/6", Special(RESERVED_V6)),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "fc00::/7", Special("unique-local (RFC 4193)")),
    v6([0xfe00, 0, 0, 0, 0, 0, 0, 0], 9, "fe00::/9", Special(RESERVED_V6)),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "fe80::/10", Special("link-local (RFC 4291)")),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "fec0::/10", Special("deprecated site-local (RFC 3879)")),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "ff00::/8", Special("multicast (RFC 4291)")),
];
