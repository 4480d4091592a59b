//! Extraction: the observables in any payload (an alert webhook's JSON, a pasted threat
//! report), defanged ones included, each distinct observable once with every place it was found.
//!
//! What is scanned: every string value of a JSON document (not object keys, numbers or
//! booleans), or a whole text. Where: a JSON Pointer (RFC 6901) to the string for JSON, and
//! `start..end` offsets counted in Unicode scalar values (Rust `char`s, not UTF-8 bytes and not
//! UTF-16 units) from the start of that string or of the text; the span covers the indicator as
//! written, defanged spelling included. What counts:
//! - http(s) URLs; a URL's host is part of the URL, not also a domain of its own (a name is a
//!   domain observable only where it also appears outside a URL);
//! - IPv4 (four decimal parts, strict as `/v1/enrich`; a CIDR block's base is not a host) and
//!   IPv6 addresses;
//! - domain names ending in a real public suffix (the Public Suffix List, `psl` crate): so
//!   `file.txt`, `a.b`, versions such as `1.2.3` are not names, while `invoice.zip` is (`.zip`
//!   is a real top-level domain);
//! - MD5, SHA-1 and SHA-256 hex runs standing alone: not glued to letters, digits, `_` or `-`,
//!   so the parts of a UUID are never hashes.
//!
//! Every candidate is parsed by [`Observable::parse`], so canonical forms, deduplication and
//! the not-routable rules are those of `/v1/enrich`. Nothing here does I/O or HTTP.

mod pointer;
mod refang;
mod scan;

use std::collections::HashMap;

use serde_json::Value;

use crate::observable::{InvalidObservable, Observable, ObservableType};

/// The observable types to look for (`?include=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinds {
    ip: bool,
    domain: bool,
    url: bool,
    file: bool,
}

impl Kinds {
    /// Every type.
    pub const ALL: Kinds = Kinds {
        ip: true,
        domain: true,
        url: true,
        file: true,
    };

    /// Parses a comma list of type names (`ip,url`); an unknown or missing name is refused.
    pub fn parse(list: &str) -> Result<Self, InvalidObservable> {
        let mut kinds = Kinds {
            ip: false,
            domain: false,
            url: false,
            file: false,
        };
        for name in list.split(',') {
            match name.trim().parse::<ObservableType>()? {
                ObservableType::Ip => kinds.ip = true,
                ObservableType::Domain => kinds.domain = true,
                ObservableType::Url => kinds.url = true,
                ObservableType::File => kinds.file = true,
            }
        }
        Ok(kinds)
    }

    /// Whether observables of `kind` are looked for.
    pub fn contains(self, kind: ObservableType) -> bool {
        match kind {
            ObservableType::Ip => self.ip,
            ObservableType::Domain => self.domain,
            ObservableType::Url => self.url,
            ObservableType::File => self.file,
        }
    }
}

/// Where one occurrence was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The JSON Pointer of the string value; `None` in a text.
    pub path: Option<String>,
    /// Offset of the first character, in Unicode scalar values.
    pub start: usize,
    /// Offset just past the last character, in Unicode scalar values.
    pub end: usize,
}

/// One distinct observable and every place it was found, in scan order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub observable: Observable,
    /// Its first occurrence as written (defanged spelling included).
    pub text: String,
    pub locations: Vec<Location>,
}

/// The distinct observables of a payload, in the order first met.
#[derive(Debug, Clone, Default)]
pub struct Extraction {
    found: Vec<Found>,
    index: HashMap<Observable, usize>,
}

impl Extraction {
    /// The observables of `include`'s types in a text.
    pub fn from_text(text: &str, include: Kinds) -> Self {
        let mut extraction = Self::default();
        extraction.scan(text, None, include);
        extraction
    }

    /// The observables of `include`'s types in every string value of a JSON document.
    pub fn from_json(doc: &Value, include: Kinds) -> Self {
        let mut extraction = Self::default();
        pointer::each_string(doc, &mut |path, text| {
            extraction.scan(text, Some(path), include);
        });
        extraction
    }

    /// How many distinct observables were found.
    pub fn len(&self) -> usize {
        self.found.len()
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// The distinct observables found.
    pub fn found(&self) -> &[Found] {
        &self.found
    }

    /// The distinct observables found, owned.
    pub fn into_found(self) -> Vec<Found> {
        self.found
    }

    fn scan(&mut self, text: &str, path: Option<&str>, include: Kinds) {
        let hits: Vec<_> = scan::hits(text)
            .into_iter()
            .filter(|hit| include.contains(hit.observable.kind()))
            .collect();
        let chars = CharOffsets::new(text, hits.iter().flat_map(|h| [h.start, h.end]));
        for hit in hits {
            let location = Location {
                path: path.map(str::to_owned),
                start: chars.of(hit.start),
                end: chars.of(hit.end),
            };
            match self.index.get(&hit.observable) {
                Some(&i) => self.found[i].locations.push(location),
                None => {
                    self.index.insert(hit.observable.clone(), self.found.len());
                    self.found.push(Found {
                        observable: hit.observable,
                        text: text[hit.start..hit.end].to_owned(),
                        locations: vec![location],
                    });
                }
            }
        }
    }
}

/// Byte offsets of one string turned into character offsets, in one pass over the text.
struct CharOffsets {
    /// Sorted byte offsets and their character offsets; empty for ASCII, where they agree.
    marks: Vec<(usize, usize)>,
}

impl CharOffsets {
    fn new(text: &str, bytes: impl Iterator<Item = usize>) -> Self {
        if text.is_ascii() {
            return Self { marks: Vec::new() };
        }
        let mut bytes: Vec<usize> = bytes.collect();
        bytes.sort_unstable();
        bytes.dedup();
        let (mut byte, mut chars) = (0, 0);
        let marks = bytes
            .into_iter()
            .map(|mark| {
                chars += text[byte..mark].chars().count();
                byte = mark;
                (mark, chars)
            })
            .collect();
        Self { marks }
    }

    fn of(&self, byte: usize) -> usize {
        if self.marks.is_empty() {
            return byte;
        }
        self.marks
            .binary_search_by_key(&byte, |&(b, _)| b)
            .map_or(byte, |i| self.marks[i].1)
    }
}

#[cfg(test)]
mod tests;
