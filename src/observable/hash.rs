//! File hashes: MD5, SHA-1 or SHA-256 in hex, told apart by length and kept in lower case.

use std::fmt;

use super::InvalidObservable;

const NOT_A_HASH: InvalidObservable =
    InvalidObservable::new("a file hash is 32, 40 or 64 hex digits (MD5, SHA-1 or SHA-256)");

/// Which digest a hash is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashKind {
    Md5,
    Sha1,
    Sha256,
}

impl HashKind {
    /// The kind for a hex string of `len` digits.
    fn of_len(len: usize) -> Option<Self> {
        match len {
            32 => Some(HashKind::Md5),
            40 => Some(HashKind::Sha1),
            64 => Some(HashKind::Sha256),
            _ => None,
        }
    }

    /// The name VirusTotal uses for the attribute (`md5`, `sha1`, `sha256`).
    pub fn as_str(self) -> &'static str {
        match self {
            HashKind::Md5 => "md5",
            HashKind::Sha1 => "sha1",
            HashKind::Sha256 => "sha256",
        }
    }
}

/// A file hash in lower-case hex, with its kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileHash {
    kind: HashKind,
    hex: Box<str>,
}

impl FileHash {
    /// Parses 32, 40 or 64 hex digits in any case.
    pub fn parse(text: &str) -> Result<Self, InvalidObservable> {
        let text = text.trim();
        let kind = HashKind::of_len(text.len()).ok_or(NOT_A_HASH)?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NOT_A_HASH);
        }
        Ok(Self {
            kind,
            hex: text.to_ascii_lowercase().into(),
        })
    }

    /// True for text inference should read as a hash (it then must parse as one).
    pub(super) fn looks_like(text: &str) -> bool {
        HashKind::of_len(text.len()).is_some() && text.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// MD5, SHA-1 or SHA-256.
    pub fn kind(&self) -> HashKind {
        self.kind
    }

    /// The lower-case hex digits.
    pub fn as_str(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for FileHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_length_names_the_kind_and_case_is_folded() {
        let md5 = FileHash::parse(" 44D88612FEA8A8F36DE82E1278ABB02F ").unwrap();
        let sha1 = FileHash::parse("3395856ce81f2b7382dee72602f798b642f14140").unwrap();
        let sha256 = FileHash::parse(&"Ab".repeat(32)).unwrap();

        assert_eq!(
            (md5.kind(), md5.as_str()),
            (HashKind::Md5, "44d88612fea8a8f36de82e1278abb02f")
        );
        assert_eq!(sha1.kind(), HashKind::Sha1);
        assert_eq!(
            (sha256.kind(), sha256.to_string()),
            (HashKind::Sha256, "ab".repeat(32))
        );
    }

    #[test]
    fn other_lengths_and_non_hex_digits_are_refused() {
        for text in [
            "",
            &"a".repeat(31),
            &"a".repeat(33),
            &"a".repeat(48),
            &"a".repeat(128),
            &format!("{}g", "a".repeat(31)),
            &format!("0x{}", "a".repeat(30)),
        ] {
            assert_eq!(FileHash::parse(text), Err(NOT_A_HASH), "{text}");
        }
    }
}
