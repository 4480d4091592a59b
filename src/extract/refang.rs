//! Refanging: undoes the common ways analysts defang indicators (`hxxp://`, `[.]`, `(dot)`,
//! `[:]`, `[@]`, ...), remembering where each refanged piece came from so that every offset
//! reported points into the text as it was sent.

use std::sync::LazyLock;

use regex::Regex;

/// The defanged spellings, case-insensitive. Each alternative is a fixed, bracketed or
/// scheme-anchored form, so ordinary prose is left alone: `hxxp` is refanged only in front of
/// a scheme separator (`fxpro.com` must stay `fxpro.com`), and the spelled-out words only in
/// brackets (`[dot]`, `(at)`), where they may carry one space on each side (`evil [dot] com`).
static DEFANGED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)",
        r"(?P<http>h(?:xx|\*\*)p(?P<s>s?)(?:\[://\]|\[:\]//|://))",
        r"|(?P<ftp>fxp(?:\[://\]|\[:\]//|://))",
        r"|(?P<sep>\[://\])",
        r"|(?P<dot>\[\.\]|\(\.\)|\{\.\}|\\\.| ?(?:\[dot\]|\(dot\)|\{dot\}) ?)",
        r"|(?P<colon>\[:\])",
        r"|(?P<at>\[@\]|\(@\)|\{@\}| ?(?:\[at\]|\(at\)|\{at\}) ?)",
    ))
    .expect("the defang pattern compiles")
});

/// Text with its defanged spellings undone, and the map back to the original.
#[derive(Debug)]
pub(super) struct Refanged {
    text: String,
    /// Each replaced piece, in order: its byte range in `text` and in the original.
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, Copy)]
struct Piece {
    out_start: usize,
    out_end: usize,
    orig_start: usize,
    orig_end: usize,
}

impl Refanged {
    /// Refangs `original`; text with nothing defanged is copied as is.
    pub(super) fn new(original: &str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut pieces = Vec::new();
        let mut copied = 0;
        for caps in DEFANGED.captures_iter(original) {
            let whole = caps.get(0).expect("group 0 always matches");
            let replacement = if caps.name("http").is_some() {
                if caps.name("s").is_some_and(|s| !s.is_empty()) {
                    "https://"
                } else {
                    "http://"
                }
            } else if caps.name("ftp").is_some() {
                "ftp://"
            } else if caps.name("sep").is_some() {
                "://"
            } else if caps.name("dot").is_some() {
                "."
            } else if caps.name("colon").is_some() {
                ":"
            } else {
                "@"
            };
            text.push_str(&original[copied..whole.start()]);
            let out_start = text.len();
            text.push_str(replacement);
            pieces.push(Piece {
                out_start,
                out_end: text.len(),
                orig_start: whole.start(),
                orig_end: whole.end(),
            });
            copied = whole.end();
        }
        text.push_str(&original[copied..]);
        Self { text, pieces }
    }

    /// The refanged text.
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// The original byte range of the refanged byte range `start..end` (`start < end`): a
    /// span that begins or ends inside a replaced piece covers all of that piece.
    pub(super) fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        let from = match self.piece_at(start) {
            Some(p) if start < p.out_end => p.orig_start,
            Some(p) => p.orig_end + (start - p.out_end),
            None => start,
        };
        let last = end - 1;
        let to = match self.piece_at(last) {
            Some(p) if last < p.out_end => p.orig_end,
            Some(p) => p.orig_end + (end - p.out_end),
            None => end,
        };
        (from, to)
    }

    /// The last piece starting at or before `at`.
    fn piece_at(&self, at: usize) -> Option<&Piece> {
        let after = self.pieces.partition_point(|p| p.out_start <= at);
        after.checked_sub(1).map(|i| &self.pieces[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refang(text: &str) -> String {
        Refanged::new(text).text().to_owned()
    }

    #[test]
    fn the_common_defanged_spellings_are_undone() {
        for (defanged, plain) in [
            ("hxxp://evil[.]com/a", "http://evil.com/a"),
            ("hXXps[://]evil(.)com", "https://evil.com"),
            ("hxxps[:]//evil{.}com", "https://evil.com"),
            ("h**p://evil[dot]com", "http://evil.com"),
            ("http[:]//evil[.]com", "http://evil.com"),
            ("evil (dot) com", "evil.com"),
            ("evil [DOT] com", "evil.com"),
            ("1.2.3[.]4", "1.2.3.4"),
            ("alice[@]evil[.]com", "alice@evil.com"),
            ("alice [at] evil(.)com", "alice@evil.com"),
            ("fxp://files[.]evil[.]com", "ftp://files.evil.com"),
            (r"evil\.com", "evil.com"),
            ("2001:db8[:]:1", "2001:db8::1"),
        ] {
            assert_eq!(refang(defanged), plain, "{defanged}");
        }
    }

    #[test]
    fn ordinary_prose_is_left_alone() {
        for text in [
            "fxpro.com and hxxpd are words",
            "the file (at the top) is [dotted]",
            "a.b (c) [d] {e}",
            "naïve café — no change",
        ] {
            assert_eq!(refang(text), text);
        }
    }

    #[test]
    fn spans_map_back_to_the_original_text() {
        let original = "see hxxps[://]evil[.]com/x now";
        let refanged = Refanged::new(original);
        let url = "https://evil.com/x";
        let start = refanged.text().find(url).unwrap();

        let (from, to) = refanged.original_span(start, start + url.len());

        assert_eq!(&original[from..to], "hxxps[://]evil[.]com/x");
        let com = refanged.text().find("com").unwrap();
        let (from, to) = refanged.original_span(com, com + 3);
        assert_eq!(&original[from..to], "com");
        let (from, to) = refanged.original_span(0, 3);
        assert_eq!(&original[from..to], "see");
    }
}
