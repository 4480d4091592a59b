//! Finding observables in one string: refang it, take the http(s) URLs, then read the tokens
//! between them as IP addresses, domain names and file hashes.
//!
//! Every candidate goes through the observable parser of the requested type, so what is found
//! is canonical exactly as `/v1/enrich` would make it. The scanner adds only what a parser
//! cannot know from one string: where a candidate starts and ends (boundaries), and that a
//! domain name ends in a real public suffix.

use std::sync::LazyLock;

use regex::Regex;

use super::refang::Refanged;
use crate::observable::{DomainName, Observable, ObservableType};

/// An http(s) URL up to the first character that cannot appear unencoded in one (RFC 3986
/// leaves out spaces, quotes, angle and square brackets, braces, `|`, `\`, `^` and the
/// backtick); an IPv6 literal host keeps its brackets. Case-insensitive scheme.
static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)https?://(?:\[[0-9a-f:.]+\])?[^\s<>"'`{}|\\^\[\]]*"#)
        .expect("the URL pattern compiles")
});

/// A run of characters that can belong to an address, name or hash, plus `_` so a hex run
/// glued to a word (`a_44d8...`) is not read as a hash, and `-` so a UUID stays one token.
static TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\p{L}\p{M}\p{N}_.:-]+").expect("the token pattern compiles"));

/// A candidate longer than this cannot be a URL (2,048 characters of at most 4 bytes); it is
/// skipped before trimming so hostile input stays linear.
const MAX_URL_BYTES: usize = 4 * 2048;

/// One observable found, with its byte range in the original string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Hit {
    pub observable: Observable,
    pub start: usize,
    pub end: usize,
}

/// Every observable in `original`, in text order. Matches never overlap: what lies inside a
/// URL belongs to that URL (its host is not also a domain hit).
pub(super) fn hits(original: &str) -> Vec<Hit> {
    let refanged = Refanged::new(original);
    let text = refanged.text();
    let mut found: Vec<(Observable, usize, usize)> = Vec::new();
    let mut gap_start = 0;
    for url in URL.find_iter(text) {
        if url.len() > MAX_URL_BYTES {
            continue;
        }
        let candidate = trim_url_end(url.as_str());
        let Ok(observable) = Observable::parse(ObservableType::Url, candidate) else {
            // Not a URL after all: its text is left to the token pass.
            continue;
        };
        tokens(text, gap_start, url.start(), &mut found);
        found.push((observable, url.start(), url.start() + candidate.len()));
        gap_start = url.end();
    }
    tokens(text, gap_start, text.len(), &mut found);
    found
        .into_iter()
        .map(|(observable, start, end)| {
            let (start, end) = refanged.original_span(start, end);
            Hit {
                observable,
                start,
                end,
            }
        })
        .collect()
}

/// Drops what prose puts after a URL: sentence punctuation, and a closing parenthesis that
/// opened before the URL (`(see http://x.com/a)`).
fn trim_url_end(mut url: &str) -> &str {
    // Counted once and kept up to date, so a run of `)` costs one pass, not one per `)`.
    let opened = url.matches('(').count();
    let mut closed = url.matches(')').count();
    while let Some(last) = url.chars().last() {
        let strip = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '*' => true,
            ')' if opened < closed => {
                closed -= 1;
                true
            }
            _ => false,
        };
        if !strip {
            break;
        }
        url = &url[..url.len() - last.len_utf8()];
    }
    url
}

/// The IPs, domains and hashes among the tokens of `text[from..to]`.
fn tokens(text: &str, from: usize, to: usize, found: &mut Vec<(Observable, usize, usize)>) {
    for token in TOKEN.find_iter(&text[from..to]) {
        let (start, end) = (from + token.start(), from + token.end());
        let token = &text[start..end];
        if token.matches(':').count() >= 2 {
            // An IPv6 address is the whole token (a sentence may end with a dot after it), or
            // what follows a label (`dst:2001:db8::1`).
            if let Some(ip) = ipv6_at(text, start, end) {
                found.push(ip);
                continue;
            }
            if let Some(at) = after_label(token)
                && let Some(ip) = ipv6_at(text, start + at, end)
            {
                parts(text, start, start + at - 1, found);
                found.push(ip);
                continue;
            }
        }
        parts(text, start, end, found);
    }
}

/// `host:port`, `md5:<hex>`, `10:00:00`: each colon-separated part of `text[start..end]` on
/// its own.
fn parts(text: &str, start: usize, end: usize, found: &mut Vec<(Observable, usize, usize)>) {
    let mut part_start = start;
    for part in text[start..end].split(':') {
        let part_end = part_start + part.len();
        if let Some(hit) = part_hit(text, part_start, part_end) {
            found.push(hit);
        }
        part_start = part_end + 1;
    }
}

/// An IPv6 address spanning `text[start..end]`, but for dots ending a sentence.
fn ipv6_at(text: &str, start: usize, end: usize) -> Option<(Observable, usize, usize)> {
    let address = text[start..end].trim_end_matches('.');
    if address.matches(':').count() < 2 {
        return None;
    }
    ip_at(text, start, start + address.len())
}

/// Where an address may start after a label: just past the first colon after the last
/// character no IPv6 address holds (`dst:2001:db8::1` → `2001:db8::1`).
fn after_label(token: &str) -> Option<usize> {
    let other = token.rfind(|c: char| !(c.is_ascii_hexdigit() || c == ':' || c == '.'))?;
    token[other..].find(':').map(|colon| other + colon + 1)
}

/// A colon-free part: an IPv4 address, a domain name or a file hash, once dots, hyphens and
/// underscores at its edges (sentence ends, list dashes) are left out.
fn part_hit(text: &str, start: usize, end: usize) -> Option<(Observable, usize, usize)> {
    let part = &text[start..end];
    let edge = |c: char| matches!(c, '.' | '-' | '_');
    let trimmed = part.trim_start_matches(edge);
    let start = start + (part.len() - trimmed.len());
    let trimmed = trimmed.trim_end_matches(edge);
    let end = start + trimmed.len();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.contains('.') {
        if trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            // Four decimal parts or nothing: `1.2.3` and `1.2.3.4.5` are versions.
            return ip_at(text, start, end);
        }
        let Ok(Observable::Domain(name)) = Observable::parse(ObservableType::Domain, trimmed)
        else {
            return None;
        };
        return has_public_suffix(&name).then_some((Observable::Domain(name), start, end));
    }
    let is_hash =
        matches!(trimmed.len(), 32 | 40 | 64) && trimmed.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_hash {
        return None;
    }
    Observable::parse(ObservableType::File, trimmed)
        .ok()
        .map(|hash| (hash, start, end))
}

/// The address `text[start..end]`, unless it is the base of a CIDR block (`10.0.0.0/8` names
/// a network, not a host).
fn ip_at(text: &str, start: usize, end: usize) -> Option<(Observable, usize, usize)> {
    let mut after = text[end..].bytes();
    if after.next() == Some(b'/') && after.next().is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    Observable::parse(ObservableType::Ip, &text[start..end])
        .ok()
        .map(|ip| (ip, start, end))
}

/// True when the name ends in a suffix of the Public Suffix List with a label in front of it
/// (`evil.com`, `a.b.co.uk`), or is itself a private-section suffix that names real hosts
/// (`github.io`, `blogspot.com`). `file.txt`, `a.b` or a bare `co.uk` are not names here.
fn has_public_suffix(name: &DomainName) -> bool {
    match psl::suffix(name.as_str().as_bytes()) {
        Some(suffix) if suffix.is_known() => {
            suffix.as_bytes().len() < name.as_str().len()
                || suffix.typ() == Some(psl::Type::Private)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
