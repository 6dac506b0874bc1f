//! Tokens: generation from the OS CSPRNG, SHA-256 hashing, constant-time comparison.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::TryRngCore as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::{Result, SessionError};

/// Number of random bytes in tokens issued by the library (256 bits).
pub const DEFAULT_TOKEN_BYTES: u32 = 32;
/// Fewest random bytes a token may have (128 bits, above OWASP's 64-bit floor).
pub const MIN_TOKEN_BYTES: u32 = 16;
/// Most random bytes a token may have.
pub const MAX_TOKEN_BYTES: u32 = 1024;
/// Longest token string `validate` will hash; longer input is rejected as invalid
/// without work proportional to its length.
pub const MAX_TOKEN_CHARS: usize = 2048;

/// A SHA-256 digest of a token: the only form in which a token is ever stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Hashes a raw token.
    pub fn of(token: &str) -> Self {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// Parses a lowercase (or uppercase) hex digest; `None` if it is not 64 hex digits.
    pub fn from_hex(hex_digest: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        const_hex::decode_to_slice(hex_digest, &mut out).ok()?;
        Some(TokenHash(out))
    }

    /// The lowercase hex form used in records and stores.
    pub fn to_hex(self) -> String {
        const_hex::encode(self.0)
    }

    /// Whether `hex_digest` (as a store returned it) is this digest: parsed, then
    /// compared in constant time.
    pub fn matches_hex(&self, hex_digest: &str) -> bool {
        TokenHash::from_hex(hex_digest).is_some_and(|other| self.ct_eq(&other))
    }

    /// Compares two digests in constant time (as four 64-bit words, so the comparison
    /// costs 4 `subtle` steps rather than 32).
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.words().ct_eq(&other.words()).into()
    }

    fn words(&self) -> [u64; 4] {
        let mut words = [0u64; 4];
        for (word, chunk) in words.iter_mut().zip(self.0.chunks_exact(8)) {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(chunk);
            *word = u64::from_ne_bytes(eight);
        }
        words
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({}…)", const_hex::encode(&self.0[..4]))
    }
}

/// The token that replaces `predecessor` in a rotation keyed by `key`: base64url of
/// HMAC-SHA256(`key`, `predecessor`) (43 characters, like a fresh token). With the key
/// (32 random bytes, kept only in the store), a refresh within the grace window
/// reproduces the same successor; without it, knowing the predecessor gives nothing.
pub fn successor(key: &[u8; 32], predecessor: &str) -> String {
    use hmac::Mac as _;
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts a 32-byte key"));
    mac.update(predecessor.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// 32 random bytes from the OS CSPRNG (a rotation key).
pub fn random_key() -> Result<[u8; 32]> {
    let mut key = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut key)
        .map_err(|e| SessionError::Random {
            reason: e.to_string(),
        })?;
    Ok(key)
}

/// Draws `bytes` random bytes from the OS CSPRNG and encodes them as base64url without
/// padding (32 bytes give 43 characters).
pub fn generate(bytes: u32) -> Result<String> {
    if !(MIN_TOKEN_BYTES..=MAX_TOKEN_BYTES).contains(&bytes) {
        return Err(SessionError::InvalidTokenLength {
            bytes,
            min: MIN_TOKEN_BYTES,
            max: MAX_TOKEN_BYTES,
        });
    }
    let mut buf = vec![0u8; bytes as usize];
    OsRng
        .try_fill_bytes(&mut buf)
        .map_err(|e| SessionError::Random {
            reason: e.to_string(),
        })?;
    Ok(URL_SAFE_NO_PAD.encode(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sha256_vector() {
        assert_eq!(
            TokenHash::of("abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hex_round_trip_and_rejects_bad_hex() {
        let h = TokenHash::of("x");
        assert_eq!(TokenHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(TokenHash::from_hex("zz"), None);
        assert_eq!(TokenHash::from_hex(&"a".repeat(63)), None);
    }

    #[test]
    fn ct_eq_tells_every_byte_apart() {
        let h = TokenHash::of("x");
        assert!(h.ct_eq(&h));
        for i in 0..32 {
            let mut other = h;
            other.0[i] ^= 0x80;
            assert!(!h.ct_eq(&other), "byte {i}");
        }
    }

    #[test]
    fn debug_shows_only_a_prefix() {
        let h = TokenHash::of("secret");
        let shown = format!("{h:?}");
        assert!(!shown.contains(&h.to_hex()));
    }

    #[test]
    fn generate_rejects_out_of_range_lengths() {
        assert!(matches!(
            generate(MIN_TOKEN_BYTES - 1),
            Err(SessionError::InvalidTokenLength { .. })
        ));
        assert!(matches!(
            generate(MAX_TOKEN_BYTES + 1),
            Err(SessionError::InvalidTokenLength { .. })
        ));
        assert_eq!(generate(32).map(|t| t.len()), Ok(43));
    }
}
