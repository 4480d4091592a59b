//! Caller keys: generated from the operating system's CSPRNG, stored only as SHA-256.

use sha2::{Digest, Sha256};

/// A new caller key: 32 random bytes from a CSPRNG, as 64 lower-case hex characters (safe in
/// every header form a webhook sender offers, Basic auth's password included).
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    // The thread RNG is a ChaCha CSPRNG seeded from the operating system.
    rand::fill(&mut bytes[..]);
    hex::encode(bytes)
}

/// The SHA-256 of a key, as configured in `callers.key_sha256` (lower-case hex).
pub fn hash_key(key: &str) -> String {
    hex::encode(digest(key))
}

/// The raw SHA-256 of a key.
pub(super) fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_64_hex_characters_and_differ() {
        let (a, b) = (generate_key(), generate_key());

        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_hash_is_lower_case_hex_sha256() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
