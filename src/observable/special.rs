//! Special-purpose address ranges and special-use names that must never be sent upstream.
//!
//! The ranges come from the IANA IPv4 and IPv6 Special-Purpose Address Registries (entries that
//! are not globally reachable), plus multicast and the IETF-reserved IPv6 blocks: asking
//! VirusTotal about such an address spends quota on an answer that cannot mean anything.

mod names;
mod never_sent;
mod ranges;
#[cfg(test)]
mod tests;

use std::net::IpAddr;

use ranges::{Embedding, V4_RANGES, V4Rule, V6_RANGES, V6Rule};

pub use names::SpecialName;
pub use never_sent::{NotRoutable, NotRoutableRule, not_routable};

/// A special-purpose range an address falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialRange {
    /// A readable name with its RFC, e.g. `private-use (RFC 1918)`.
    pub name: &'static str,
    /// The registered block in CIDR notation, e.g. `10.0.0.0/8`.
    pub cidr: &'static str,
}

/// The IANA special-purpose range an address falls in, if it must never be sent upstream.
///
/// IPv6 forms that carry an IPv4 address (IPv4-mapped, NAT64 well-known prefix, 6to4, Teredo)
/// are judged by that IPv4 address, and the IPv4 range is returned when it is special.
pub fn special_purpose(ip: IpAddr) -> Option<SpecialRange> {
    match ip {
        IpAddr::V4(ip) => special_v4(ip.to_bits()),
        IpAddr::V6(ip) => special_v6(ip.to_bits()),
    }
}

fn special_v4(bits: u32) -> Option<SpecialRange> {
    // Tables are ordered so that a globally reachable exception precedes its enclosing block.
    // Widened to u128 the IPv4 bits sit at the bottom, so a /p IPv4 prefix is a /(96 + p) one.
    let range = V4_RANGES
        .iter()
        .find(|range| within(bits.into(), range.network.into(), range.prefix + 96))?;
    match range.rule {
        V4Rule::Special(name) => Some(SpecialRange {
            name,
            cidr: range.cidr,
        }),
        V4Rule::Global => None,
    }
}

fn special_v6(bits: u128) -> Option<SpecialRange> {
    let range = V6_RANGES
        .iter()
        .find(|range| within(bits, range.network, range.prefix))?;
    match range.rule {
        V6Rule::Special(name) => Some(SpecialRange {
            name,
            cidr: range.cidr,
        }),
        V6Rule::Global => None,
        V6Rule::Embeds(embedding) => embedded_special(embedding, bits),
    }
}

fn embedded_special(embedding: Embedding, bits: u128) -> Option<SpecialRange> {
    // The truncating casts pick a 32-bit field out of the 128-bit address.
    let last32 = bits as u32;
    match embedding {
        Embedding::Last32 => special_v4(last32),
        Embedding::SixToFour => special_v4((bits >> 80) as u32),
        // RFC 4380: the server address is in clear, the client address is stored inverted.
        Embedding::Teredo => special_v4((bits >> 64) as u32).or_else(|| special_v4(!last32)),
    }
}

/// True when the top `prefix` bits of `bits` equal those of `network`.
fn within(bits: u128, network: u128, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    bits & mask == network & mask
}
