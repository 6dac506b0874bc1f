//! The per-request fast path: `SessionManager::validate` reached from a host through one
//! primitive-only C entry point (`sessions_fast_validate`, in
//! [`crate::unsafe_code::fast_path_abi`]; for the JVM the same call as a JNI method,
//! [`crate::unsafe_code::fast_path_jni`]) instead of UniFFI's generated per-call code.
//!
//! This module is the safe part: the registry that turns a manager into a numeric
//! handle (and a stale handle into an error, never a dangling pointer), and the binary
//! layout the result is written in. The C entry point only turns its pointers into
//! slices and calls [`validate_into`]. The manager called is the very object the rest of
//! the API uses (same store, same rules, same clock): nothing is cached here.
//!
//! # Handles
//!
//! [`SessionManager::fast_path_handle`] registers the manager (a `Weak` reference, so the
//! registry never keeps it alive) under a number that is never reused in the process.
//! When the manager is dropped its entry is removed; a handle whose manager is gone, or
//! that was never issued, gives [`UNKNOWN_HANDLE`].
//!
//! # Result layout (version 1, little-endian, no padding)
//!
//! The return value is the number of bytes the result takes. When it is larger than the
//! caller's buffer nothing is written, and the result is kept for the calling thread:
//! the caller grows its buffer and fetches it with [`take_pending_into`]
//! (`sessions_fast_take_pending`), without validating a second time (a second
//! validation could slide the session again, or count a predecessor token presented
//! at the very end of its grace period as reuse). Negative values are the error codes
//! below.
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | u8 | status: 0 valid; otherwise the `ValidationError` (1 `InvalidToken`, 2 `SessionExpired`, 3 `SessionRevoked`, 4 `UserAgentMismatch`, 5 `TokenReused`) and the result is this one byte |
//! | 1 | u8 | presence flags: 1 metadata, 2 revoked_at, 4 sliding_expiration, 8 its value, 16 bound_user_agent, 32 previous_token_hash, 64 rotated_at, 128 rotation_key |
//! | 2 | u16 | text flags: 1 when every string below is ASCII with no NUL (so the whole string area, read as ASCII, splits at NUL into the strings) |
//! | 4 | u32 | number of metadata entries |
//! | 8 | i64 | version |
//! | 16 | 5 × (i64, u32) | created_at, expires_at, absolute_expires_at, revoked_at, rotated_at: whole seconds since the Unix epoch (rounded down) and nanoseconds 0..1e9; zero when absent |
//! | 76 | (u64, u32) | lifetime: seconds and nanoseconds |
//! | 88 | n × u32 | byte length of each string, in the order below |
//! | 88 + 4n | bytes | each string's UTF-8 followed by one NUL byte, in the same order |
//!
//! Strings, in order: id, user_id, token, token_hash, then bound_user_agent,
//! previous_token_hash and rotation_key when their flag is set, then each metadata key
//! followed by its value. `n` is 4, plus one per such flag, plus twice the entry count.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;

use crate::error::{Result, SessionError};
use crate::manager::SessionManager;
use crate::model::{Session, ValidationError, ValidationResult};

/// The handle is unknown: never issued, or its manager has been dropped.
pub const UNKNOWN_HANDLE: i32 = -1;
/// A pointer was null with a non-zero length, or the user agent is not UTF-8.
pub const BAD_ARGUMENT: i32 = -2;
/// `validate` failed with a `SessionError` (store or clock failure, too much
/// contention): the host gets the error itself from [`take_fast_path_error`], on the
/// same thread, through the regular (UniFFI) error conversion.
pub const FAILED: i32 = -3;
/// The library panicked (a bug); nothing was written.
pub const PANICKED: i32 = -4;
/// The result would not fit in an `i32` length.
pub const TOO_LARGE: i32 = -5;
/// [`take_pending_into`]: this thread has no result kept for it.
pub const NO_PENDING: i32 = -6;

/// The fixed part of a valid result (see the module's layout table).
pub const HEADER_LEN: usize = 88;

/// Live managers by handle (weak: the registry never keeps one alive).
static REGISTRY: LazyLock<RwLock<HashMap<u64, Weak<SessionManager>>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));
/// The next handle; never reused, so a stale handle cannot reach a newer manager.
static NEXT_HANDLE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Registers `manager` and returns its new handle (called once per manager).
pub(crate) fn register(manager: &Arc<SessionManager>) -> u64 {
    let handle = NEXT_HANDLE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    REGISTRY.write().insert(handle, Arc::downgrade(manager));
    handle
}

/// Forgets `handle` (when its manager is dropped).
pub(crate) fn unregister(handle: u64) {
    REGISTRY.write().remove(&handle);
}

/// The live manager behind `handle`, if any. The registry's lock is released before
/// the caller uses it (dropping the last reference may unregister).
fn resolve(handle: u64) -> Option<Arc<SessionManager>> {
    REGISTRY.read().get(&handle).and_then(Weak::upgrade)
}

/// Validates `token` with the manager behind `handle` and writes the result into `out`
/// (see the module's layout); returns the result's length or a negative error code.
/// A token that is not UTF-8 is no issued token: an `InvalidToken` result.
pub(crate) fn validate_into(
    handle: u64,
    token: &[u8],
    user_agent: Option<&[u8]>,
    out: &mut [u8],
) -> i32 {
    let Some(manager) = resolve(handle) else {
        return UNKNOWN_HANDLE;
    };
    let user_agent = match user_agent.map(std::str::from_utf8).transpose() {
        Ok(ua) => ua.map(str::to_owned),
        Err(_) => return BAD_ARGUMENT,
    };
    let result: Result<ValidationResult> = match std::str::from_utf8(token) {
        Ok(token) => manager.validate(token.to_owned(), user_agent),
        Err(_) => Ok(ValidationResult::fail(ValidationError::InvalidToken)),
    };
    drop(manager);
    match result {
        Ok(result) => {
            let size = encode(&result, out);
            if usize::try_from(size).is_ok_and(|size| size > out.len()) {
                PENDING.with(|pending| *pending.borrow_mut() = Some(result));
            }
            size
        }
        Err(error) => {
            LAST_ERROR.with(|last| *last.borrow_mut() = Some(error));
            FAILED
        }
    }
}

/// Writes the result this thread's last [`validate_into`] kept because it did not fit
/// the caller's buffer, and forgets it; returns its length, or [`NO_PENDING`] when no
/// result is kept. When it still does not fit `out`, nothing is written, the length is
/// returned and the result stays kept. A kept result is replaced by the next one that
/// does not fit on the same thread, and dropped with the thread.
pub(crate) fn take_pending_into(out: &mut [u8]) -> i32 {
    PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        let Some(result) = pending.as_ref() else {
            return NO_PENDING;
        };
        let size = encode(result, out);
        if !usize::try_from(size).is_ok_and(|size| size > out.len()) {
            *pending = None;
        }
        size
    })
}

thread_local! {
    /// The error of this thread's last fast-path call that failed, until taken.
    static LAST_ERROR: std::cell::RefCell<Option<SessionError>> =
        const { std::cell::RefCell::new(None) };
    /// The result of this thread's last validation that did not fit its caller's
    /// buffer, until taken ([`take_pending_into`]).
    static PENDING: std::cell::RefCell<Option<ValidationResult>> =
        const { std::cell::RefCell::new(None) };
}

/// For the bindings' fast path: fails with the `SessionError` of this thread's last
/// `sessions_fast_validate` call that returned the "failed" code (-3), exactly as the
/// regular `validate` would have failed, and forgets it; succeeds when there is none.
#[uniffi::export]
pub fn take_fast_path_error() -> Result<()> {
    match LAST_ERROR.with(|last| last.borrow_mut().take()) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// The status byte of a validation error.
fn status(error: ValidationError) -> u8 {
    match error {
        ValidationError::InvalidToken => 1,
        ValidationError::SessionExpired => 2,
        ValidationError::SessionRevoked => 3,
        ValidationError::UserAgentMismatch => 4,
        ValidationError::TokenReused => 5,
    }
}

/// Writes `result` into `out` if it fits; returns its length (or [`TOO_LARGE`]).
pub(crate) fn encode(result: &ValidationResult, out: &mut [u8]) -> i32 {
    let session = match (&result.session, result.error) {
        (Some(session), None) if result.valid => session,
        (_, error) => {
            let byte = status(error.unwrap_or(ValidationError::InvalidToken));
            if let Some(first) = out.first_mut() {
                *first = byte;
            }
            return 1;
        }
    };
    // No vector of the strings: they are visited in place (an allocation less per call).
    let mut len = HEADER_LEN;
    let mut plain = true;
    for_each_string(session, |s| {
        len += 5 + s.len();
        plain &= s.is_ascii() && !s.contains('\0');
    });
    let Ok(len_i32) = i32::try_from(len) else {
        return TOO_LARGE;
    };
    if len > out.len() {
        return len_i32;
    }
    let mut w = Writer { out, at: 0 };
    let flags = u8::from(session.metadata.is_some())
        | u8::from(session.revoked_at.is_some()) << 1
        | u8::from(session.sliding_expiration.is_some()) << 2
        | u8::from(session.sliding_expiration == Some(true)) << 3
        | u8::from(session.bound_user_agent.is_some()) << 4
        | u8::from(session.previous_token_hash.is_some()) << 5
        | u8::from(session.rotated_at.is_some()) << 6
        | u8::from(session.rotation_key.is_some()) << 7;
    w.put(&[0, flags]);
    w.put(&u16::from(plain).to_le_bytes());
    let entries = session.metadata.as_ref().map_or(0, HashMap::len);
    w.put(&u32::try_from(entries).unwrap_or(u32::MAX).to_le_bytes());
    w.put(&session.version.to_le_bytes());
    for time in [
        Some(session.created_at),
        Some(session.expires_at),
        Some(session.absolute_expires_at),
        session.revoked_at,
        session.rotated_at,
    ] {
        let (secs, nanos) = time.map_or((0, 0), split);
        w.put(&secs.to_le_bytes());
        w.put(&nanos.to_le_bytes());
    }
    w.put(&session.lifetime.as_secs().to_le_bytes());
    w.put(&session.lifetime.subsec_nanos().to_le_bytes());
    for_each_string(session, |s| {
        // Each string is shorter than `len`, which fits in an i32.
        w.put(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
    });
    for_each_string(session, |s| {
        w.put(s.as_bytes());
        w.put(&[0]);
    });
    debug_assert_eq!(w.at, len);
    len_i32
}

/// Calls `visit` with each of the session's strings, in layout order.
fn for_each_string<'a>(session: &'a Session, mut visit: impl FnMut(&'a str)) {
    for s in [
        session.id.as_str(),
        &session.user_id,
        &session.token,
        &session.token_hash,
    ] {
        visit(s);
    }
    for s in [
        &session.bound_user_agent,
        &session.previous_token_hash,
        &session.rotation_key,
    ]
    .into_iter()
    .flatten()
    {
        visit(s);
    }
    if let Some(metadata) = &session.metadata {
        for (key, value) in metadata {
            visit(key);
            visit(value);
        }
    }
}

/// Whole seconds since the epoch (rounded down) and the nanoseconds past them.
fn split(time: SystemTime) -> (i64, u32) {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(before) => {
            let d = before.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_nanos() {
                0 => (-secs, 0),
                n => (-secs - 1, 1_000_000_000 - n),
            }
        }
    }
}

/// Appends to a buffer already known to be large enough.
struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.out[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_failure_is_kept_for_its_thread_until_taken() {
        assert!(take_fast_path_error().is_ok());
        LAST_ERROR.with(|last| *last.borrow_mut() = Some(SessionError::SessionExpired));
        std::thread::spawn(|| assert!(take_fast_path_error().is_ok()))
            .join()
            .expect("thread");
        assert!(matches!(
            take_fast_path_error(),
            Err(SessionError::SessionExpired)
        ));
        assert!(take_fast_path_error().is_ok());
    }

    #[test]
    fn strings_end_in_nul_and_the_plain_flag_excludes_nul() {
        let manager = SessionManager::new(crate::SessionConfig::default(), None).expect("m");
        for (user, plain) in [("alice", 1u8), ("a\0b", 0), ("usér", 0)] {
            let s = manager
                .create(crate::CreateSessionOptions::for_user(user))
                .expect("create");
            let result = manager.validate(s.token, None).expect("validate");
            let mut out = vec![0u8; 1024];
            let len = encode(&result, &mut out) as usize;
            assert_eq!(out[2], plain, "{user:?}");
            assert_eq!(out[len - 1], 0);
            let second = u32::from_le_bytes(out[92..96].try_into().expect("4 bytes")) as usize;
            let first = u32::from_le_bytes(out[88..92].try_into().expect("4 bytes")) as usize;
            let area = HEADER_LEN + 4 * 4; // no metadata, no optional strings
            assert_eq!(out[area + first], 0);
            assert_eq!(
                &out[area + first + 1..area + first + 1 + second],
                user.as_bytes()
            );
        }
    }

    #[test]
    fn split_rounds_down_before_the_epoch() {
        assert_eq!(split(UNIX_EPOCH + Duration::new(5, 7)), (5, 7));
        assert_eq!(split(UNIX_EPOCH - Duration::new(5, 0)), (-5, 0));
        assert_eq!(split(UNIX_EPOCH - Duration::new(5, 1)), (-6, 999_999_999));
    }

    #[test]
    fn an_error_is_one_byte_and_a_session_never_overruns() {
        let mut out = [9u8; 4];
        let fail = ValidationResult::fail(ValidationError::TokenReused);
        assert_eq!(encode(&fail, &mut out), 1);
        assert_eq!(out[0], 5);
        assert_eq!(encode(&fail, &mut []), 1);
    }
}
