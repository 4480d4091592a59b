//! The opaque pagination cursor: the last id a page returned, with a tag that proves the
//! service issued it, so a forged or altered cursor is refused (422) instead of being read as
//! a position.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Hex digits of the tag kept in a cursor: 96 bits, far beyond guessing.
const TAG_LEN: usize = 24;

/// Issues and checks cursors with one secret, shared by every replica through the backend.
#[derive(Clone)]
pub struct Cursors {
    secret: Vec<u8>,
}

impl Cursors {
    /// Cursors tagged with `secret`.
    pub fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    fn tag(&self, id: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(&self.secret);
        hash.update(b"\0audit-cursor\0");
        hash.update(id.as_bytes());
        let mut tag = hex::encode(hash.finalize());
        tag.truncate(TAG_LEN);
        tag
    }

    /// The cursor after the entry `id`.
    pub fn issue(&self, id: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("{id}.{}", self.tag(id)))
    }

    /// The id a cursor this service issued stands for; `None` for anything else.
    pub fn open(&self, cursor: &str) -> Option<String> {
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?).ok()?;
        let (id, tag) = text.rsplit_once('.')?;
        let expected = self.tag(id);
        // Not secret-dependent timing that matters here: the tag only guards input validity.
        (tag == expected).then(|| id.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_cursor_opens_to_its_id_and_any_change_is_refused() {
        let cursors = Cursors::new(b"secret".to_vec());
        let cursor = cursors.issue("42");

        assert_eq!(cursors.open(&cursor).as_deref(), Some("42"));
        let forged = URL_SAFE_NO_PAD.encode("41.000000000000000000000000");
        for bad in [forged.as_str(), "", "not base64!", &cursor[1..]] {
            assert_eq!(cursors.open(bad), None, "{bad}");
        }
        assert_eq!(Cursors::new(b"other".to_vec()).open(&cursor), None);
    }
}
