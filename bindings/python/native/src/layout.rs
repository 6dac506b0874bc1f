//! The result layout of `sessions_fast_validate` (version 1), read without Python.
//!
//! The layout is defined and documented in the core, `src/fast_path.rs`; the constants
//! here mirror it, and a test reads that file and fails when they drift apart. Nothing
//! here trusts the buffer: every length is checked, and a result that breaks the layout
//! is a [`LayoutError`], never a panic or a read out of bounds.

/// The handle is unknown: never issued, or its manager has been dropped.
pub const UNKNOWN_HANDLE: i32 = -1;
/// A pointer was null with a non-zero length, or the user agent is not UTF-8.
pub const BAD_ARGUMENT: i32 = -2;
/// `validate` failed with a `SessionError`: the host takes it with `take_fast_path_error`.
pub const FAILED: i32 = -3;
/// The library panicked (a bug); nothing was written.
pub const PANICKED: i32 = -4;
/// The result would not fit in an `i32` length.
pub const TOO_LARGE: i32 = -5;
/// `sessions_fast_take_pending`: this thread has no result kept for it.
pub const NO_PENDING: i32 = -6;
/// The fixed part of a valid result, in bytes.
pub const HEADER_LEN: usize = 88;

/// Where the five timestamps and the lifetime start (bytes 16..88: five (i64, u32)
/// instants and a (u64, u32) duration).
pub const TIMES_AT: usize = 16;
/// Their length in bytes.
pub const TIMES_LEN: usize = HEADER_LEN - TIMES_AT;
/// The largest status byte (5: `TokenReused`).
pub const LAST_STATUS: u8 = 5;

/// Presence flags (byte 1).
pub mod flags {
    /// `metadata` is present.
    pub const METADATA: u8 = 1;
    /// `revoked_at` is present.
    pub const REVOKED_AT: u8 = 2;
    /// `sliding_expiration` is present ...
    pub const SLIDING_SET: u8 = 4;
    /// ... and true.
    pub const SLIDING: u8 = 8;
    /// `bound_user_agent` is present.
    pub const BOUND_USER_AGENT: u8 = 16;
    /// `previous_token_hash` is present.
    pub const PREVIOUS_TOKEN_HASH: u8 = 32;
    /// `rotated_at` is present.
    pub const ROTATED_AT: u8 = 64;
    /// `rotation_key` is present.
    pub const ROTATION_KEY: u8 = 128;
}

/// A result that does not follow the layout (a bug in the library or a mismatch
/// between the library and this extension).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LayoutError {
    /// The result is shorter than its own lengths say.
    #[error("the fast path's result is cut short ({0} bytes)")]
    Short(usize),
    /// The status byte is none of the known ones.
    #[error("the fast path's result has an unknown status {0}")]
    Status(u8),
    /// A string is not followed by its NUL byte.
    #[error("string {0} of the fast path's result is not NUL-terminated")]
    Unterminated(usize),
    /// A string is not UTF-8.
    #[error("string {0} of the fast path's result is not UTF-8")]
    NotUtf8(usize),
}

/// A decoded result.
#[derive(Debug)]
pub enum Decoded<'a> {
    /// Not valid: the `ValidationError`'s status (1..=5).
    Invalid(u8),
    /// A valid session.
    Valid(Valid<'a>),
}

/// A valid result's fields, borrowing the buffer.
#[derive(Debug)]
pub struct Valid<'a> {
    /// The presence flags ([`flags`]).
    pub flags: u8,
    /// The number of metadata entries.
    pub entries: u32,
    /// The session's version.
    pub version: i64,
    /// The raw block of the five timestamps and the lifetime (bytes 16..88).
    pub times: &'a [u8; TIMES_LEN],
    /// The strings, in layout order.
    pub strings: Strings<'a>,
}

impl Valid<'_> {
    /// Whether flag `bit` is set.
    pub fn has(&self, bit: u8) -> bool {
        self.flags & bit != 0
    }
}

/// The strings of a valid result, read one by one (id, user_id, token, token_hash, the
/// optional ones, then metadata keys and values).
#[derive(Debug)]
pub struct Strings<'a> {
    buf: &'a [u8],
    /// Index of the next string.
    next: usize,
    count: usize,
    /// Where the next string's bytes start.
    at: usize,
}

impl<'a> Strings<'a> {
    /// The next string, or an error when the result breaks the layout or has no more.
    pub fn take(&mut self) -> Result<&'a str, LayoutError> {
        let index = self.next;
        if index >= self.count {
            return Err(LayoutError::Short(self.buf.len()));
        }
        let len_at = HEADER_LEN + 4 * index;
        let len = u32_at(self.buf, len_at)? as usize;
        let end = self
            .at
            .checked_add(len)
            .ok_or(LayoutError::Short(self.buf.len()))?;
        let bytes = self
            .buf
            .get(self.at..end)
            .ok_or(LayoutError::Short(self.buf.len()))?;
        if self.buf.get(end) != Some(&0) {
            return Err(LayoutError::Unterminated(index));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| LayoutError::NotUtf8(index))?;
        self.next += 1;
        self.at = end + 1;
        Ok(text)
    }

    /// How many strings are left.
    pub fn remaining(&self) -> usize {
        self.count - self.next
    }
}

fn u32_at(buf: &[u8], at: usize) -> Result<u32, LayoutError> {
    buf.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(LayoutError::Short(buf.len()))
}

/// Reads the result in `buf` (exactly the length the entry point returned).
pub fn decode(buf: &[u8]) -> Result<Decoded<'_>, LayoutError> {
    let status = *buf.first().ok_or(LayoutError::Short(0))?;
    if status != 0 {
        return match status {
            1..=LAST_STATUS => Ok(Decoded::Invalid(status)),
            other => Err(LayoutError::Status(other)),
        };
    }
    if buf.len() < HEADER_LEN {
        return Err(LayoutError::Short(buf.len()));
    }
    let flag_bits = buf[1];
    let entries = u32_at(buf, 4)?;
    let version = i64::from_le_bytes(
        buf[8..16]
            .try_into()
            .map_err(|_| LayoutError::Short(buf.len()))?,
    );
    let times: &[u8; TIMES_LEN] = buf[TIMES_AT..HEADER_LEN]
        .try_into()
        .map_err(|_| LayoutError::Short(buf.len()))?;
    let optional = [
        flags::BOUND_USER_AGENT,
        flags::PREVIOUS_TOKEN_HASH,
        flags::ROTATION_KEY,
    ]
    .iter()
    .filter(|&&bit| flag_bits & bit != 0)
    .count();
    let count = (entries as usize)
        .checked_mul(2)
        .and_then(|n| n.checked_add(4 + optional))
        .ok_or(LayoutError::Short(buf.len()))?;
    let at = count
        .checked_mul(4)
        .and_then(|n| n.checked_add(HEADER_LEN))
        .filter(|&at| at <= buf.len())
        .ok_or(LayoutError::Short(buf.len()))?;
    Ok(Decoded::Valid(Valid {
        flags: flag_bits,
        entries,
        version,
        times,
        strings: Strings {
            buf,
            next: 0,
            count,
            at,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid result as `src/fast_path.rs` documents it.
    fn result(flag_bits: u8, version: i64, strings: &[&str]) -> Vec<u8> {
        let optional = [16u8, 32, 128]
            .iter()
            .filter(|&&b| flag_bits & b != 0)
            .count();
        let entries = (strings.len() - 4 - optional) / 2;
        let mut out = vec![0, flag_bits, 0, 0];
        out.extend((entries as u32).to_le_bytes());
        out.extend(version.to_le_bytes());
        out.extend((0..TIMES_LEN).map(|i| i as u8));
        for s in strings {
            out.extend((s.len() as u32).to_le_bytes());
        }
        for s in strings {
            out.extend(s.as_bytes());
            out.push(0);
        }
        out
    }

    #[test]
    fn constants_match_the_cores_layout() {
        // The core's own definitions, read from its source: a change there without the
        // same change here fails this test.
        let core = include_str!("../../../../src/fast_path.rs");
        for line in [
            "pub const UNKNOWN_HANDLE: i32 = -1;",
            "pub const BAD_ARGUMENT: i32 = -2;",
            "pub const FAILED: i32 = -3;",
            "pub const PANICKED: i32 = -4;",
            "pub const TOO_LARGE: i32 = -5;",
            "pub const NO_PENDING: i32 = -6;",
            "pub const HEADER_LEN: usize = 88;",
            "//! # Result layout (version 1, little-endian, no padding)",
            "//! | 0 | u8 | status: 0 valid; otherwise the `ValidationError` (1 `InvalidToken`, 2 `SessionExpired`, 3 `SessionRevoked`, 4 `UserAgentMismatch`, 5 `TokenReused`) and the result is this one byte |",
            "//! | 1 | u8 | presence flags: 1 metadata, 2 revoked_at, 4 sliding_expiration, 8 its value, 16 bound_user_agent, 32 previous_token_hash, 64 rotated_at, 128 rotation_key |",
            "//! | 4 | u32 | number of metadata entries |",
            "//! | 8 | i64 | version |",
            "//! | 16 | 5 × (i64, u32) | created_at, expires_at, absolute_expires_at, revoked_at, rotated_at: whole seconds since the Unix epoch (rounded down) and nanoseconds 0..1e9; zero when absent |",
            "//! | 76 | (u64, u32) | lifetime: seconds and nanoseconds |",
            "//! | 88 | n × u32 | byte length of each string, in the order below |",
            "//! | 88 + 4n | bytes | each string's UTF-8 followed by one NUL byte, in the same order |",
            "//! Strings, in order: id, user_id, token, token_hash, then bound_user_agent,",
            "//! previous_token_hash and rotation_key when their flag is set, then each metadata key",
        ] {
            assert!(core.contains(line), "src/fast_path.rs no longer says: {line}");
        }
        for (value, status) in [
            ("InvalidToken => 1", 1),
            ("SessionExpired => 2", 2),
            ("SessionRevoked => 3", 3),
            ("UserAgentMismatch => 4", 4),
            ("TokenReused => 5", LAST_STATUS),
        ] {
            assert!(
                core.contains(&format!("ValidationError::{value},")),
                "{value} ({status})"
            );
        }
        assert_eq!(TIMES_LEN, 5 * 12 + 12);
    }

    #[test]
    fn statuses_are_one_byte() {
        for status in 1..=5u8 {
            assert!(matches!(decode(&[status]), Ok(Decoded::Invalid(s)) if s == status));
        }
        assert_eq!(decode(&[6]).err(), Some(LayoutError::Status(6)));
        assert_eq!(decode(&[]).err(), Some(LayoutError::Short(0)));
    }

    #[test]
    fn a_valid_result_reads_back() {
        let strings = ["id", "usér", "", "hash", "UA\0/1", "k", "v✓"];
        let buf = result(flags::METADATA | flags::BOUND_USER_AGENT, 42, &strings);
        let Ok(Decoded::Valid(mut valid)) = decode(&buf) else {
            panic!("not valid")
        };
        assert_eq!((valid.flags, valid.entries, valid.version), (17, 1, 42));
        assert!(valid.has(flags::METADATA) && !valid.has(flags::REVOKED_AT));
        assert_eq!(valid.times[0], 0);
        assert_eq!(valid.times[TIMES_LEN - 1], (TIMES_LEN - 1) as u8);
        assert_eq!(valid.strings.remaining(), 7);
        for s in strings {
            assert_eq!(valid.strings.take(), Ok(s));
        }
        assert!(valid.strings.take().is_err(), "no eighth string");
    }

    #[test]
    fn a_broken_result_is_an_error_not_a_panic() {
        let buf = result(flags::METADATA, 1, &["id", "u", "t", "h", "k", "v"]);
        for cut in 0..buf.len() {
            if let Ok(Decoded::Valid(mut valid)) = decode(&buf[..cut]) {
                let all: Result<Vec<_>, _> = (0..6).map(|_| valid.strings.take()).collect();
                assert!(all.is_err(), "cut at {cut}");
            }
        }
        let mut bad = buf.clone();
        let last = bad.len() - 1;
        bad[last] = b'x';
        let Ok(Decoded::Valid(mut valid)) = decode(&bad) else {
            panic!("header")
        };
        let errors: Vec<_> = (0..6).filter_map(|_| valid.strings.take().err()).collect();
        assert_eq!(errors, [LayoutError::Unterminated(5)]);
        let mut bad = buf;
        bad[HEADER_LEN + 24] = 0xff; // the id's first byte
        let Ok(Decoded::Valid(mut valid)) = decode(&bad) else {
            panic!("header")
        };
        assert_eq!(valid.strings.take(), Err(LayoutError::NotUtf8(0)));
        let mut huge = result(0, 1, &["a", "b", "c", "d"]);
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_err());
    }
}
