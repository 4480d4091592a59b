//! IP addresses written as canonical text straight into a response body.
//!
//! Every answer carries its observable twice (the value and the VirusTotal link), so a cached
//! batch writes thousands of addresses per request; std's `Display` goes through the formatting
//! machinery (padding, `write!` per group) at several times the cost. The text is exactly
//! std's: the tests hold the two equal.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Appends `ip` in dotted decimal.
pub(super) fn write_v4(out: &mut Vec<u8>, ip: Ipv4Addr) {
    // Each octet's digits from a table, on the stack, copied out once.
    let mut text = [0u8; 16];
    let mut len = 0;
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            text[len] = b'.';
            len += 1;
        }
        let [digits, a, b, c] = OCTET_TEXT[usize::from(octet)];
        text[len..len + 3].copy_from_slice(&[a, b, c]);
        len += usize::from(digits);
    }
    out.extend_from_slice(&text[..len]);
}

/// Appends `ip` as RFC 5952 text, as std writes it: lower-case hex groups without leading
/// zeros, the longest run of two or more zero groups (the first of equals) as `::`, and an
/// IPv4-mapped address as `::ffff:` and dotted decimal.
pub(super) fn write_v6(out: &mut Vec<u8>, ip: Ipv6Addr) {
    if let Some(v4) = ip.to_ipv4_mapped() {
        out.extend_from_slice(b"::ffff:");
        write_v4(out, v4);
        return;
    }
    let groups = ip.segments();
    let (run_start, run_len) = longest_zero_run(&groups);
    // At most 8 groups of 4 digits and 7 separators.
    let mut text = [0u8; 40];
    let mut len = 0;
    let mut i = 0;
    while i < groups.len() {
        if run_len > 1 && i == run_start {
            text[len..len + 2].copy_from_slice(b"::");
            len += 2;
            i += run_len;
            continue;
        }
        if i > 0 && text[len - 1] != b':' {
            text[len] = b':';
            len += 1;
        }
        len += write_hex(&mut text[len..], groups[i]);
        i += 1;
    }
    out.extend_from_slice(&text[..len]);
}

/// The first longest run of zero groups: (start, length); length 0 when there is none.
fn longest_zero_run(groups: &[u16; 8]) -> (usize, usize) {
    let mut best = (0, 0);
    let mut start = 0;
    let mut len = 0;
    for (i, group) in groups.iter().enumerate() {
        if *group == 0 {
            if len == 0 {
                start = i;
            }
            len += 1;
            if len > best.1 {
                best = (start, len);
            }
        } else {
            len = 0;
        }
    }
    best
}

/// Writes `group` in lower-case hex without leading zeros; returns the digits written.
fn write_hex(out: &mut [u8], group: u16) -> usize {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digits = (16 - group.leading_zeros() as usize).div_ceil(4).max(1);
    for (k, slot) in out[..digits].iter_mut().enumerate() {
        let shift = 4 * (digits - 1 - k);
        *slot = DIGITS[usize::from((group >> shift) & 0xf)];
    }
    digits
}

/// Every octet's decimal text: its digit count, then the digits (padded with zeros).
static OCTET_TEXT: [[u8; 4]; 256] = octet_text();

const fn octet_text() -> [[u8; 4]; 256] {
    let mut table = [[0u8; 4]; 256];
    let mut i = 0;
    while i < 256 {
        let n = i as u8;
        table[i] = match n {
            100.. => [3, b'0' + n / 100, b'0' + n / 10 % 10, b'0' + n % 10],
            10.. => [2, b'0' + n / 10, b'0' + n % 10, 0],
            _ => [1, b'0' + n, 0, 0],
        };
        i += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6_text(ip: Ipv6Addr) -> String {
        let mut out = Vec::new();
        write_v6(&mut out, ip);
        String::from_utf8(out).unwrap()
    }

    proptest::proptest! {
        /// Any address, and addresses made mostly of zero groups (where the `::` choice is
        /// made), come out exactly as std writes them.
        #[test]
        fn ipv6_text_is_exactly_stds(
            bits in proptest::prelude::any::<u128>(),
            groups in proptest::collection::vec(proptest::prop_oneof![
                3 => proptest::strategy::Just(0u16),
                1 => 1u16..=0xf,
                1 => proptest::prelude::any::<u16>(),
            ], 8),
        ) {
            let random = Ipv6Addr::from(bits);
            proptest::prop_assert_eq!(v6_text(random), random.to_string());
            let sparse = Ipv6Addr::from(<[u16; 8]>::try_from(groups).unwrap());
            proptest::prop_assert_eq!(v6_text(sparse), sparse.to_string());
        }

        #[test]
        fn ipv4_text_is_exactly_stds(bits in proptest::prelude::any::<u32>()) {
            let ip = Ipv4Addr::from(bits);
            let mut out = Vec::new();
            write_v4(&mut out, ip);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), ip.to_string());
        }
    }

    #[test]
    fn the_edge_cases_of_rfc_5952_are_written_as_std_writes_them() {
        for text in [
            "::",
            "::1",
            "1::",
            "2001:db8::1",
            "2001:db8:0:1:1:1:1:1",
            "2001:0:0:1::1",
            "2001:db8::1:0:0:1",
            "::ffff:1.2.3.4",
            "::1.2.3.4",
            "64:ff9b::c000:221",
            "fe80::1:0:0:0",
        ] {
            let ip: Ipv6Addr = text.parse().unwrap();
            assert_eq!(v6_text(ip), ip.to_string(), "{text}");
        }
    }
}
