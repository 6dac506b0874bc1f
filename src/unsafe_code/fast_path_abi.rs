//! The C entry point of the per-request fast path (see [`crate::fast_path`] for the
//! handles and the result layout). Its C declaration, in the Swift package's header:
//!
//! ```c
//! int32_t sessions_fast_validate(uint64_t handle,
//!                                const uint8_t *token, size_t token_len,
//!                                const uint8_t *user_agent, size_t user_agent_len,
//!                                uint8_t *out, size_t out_cap);
//!
//! int32_t sessions_fast_take_pending(uint8_t *out, size_t out_cap);
//! ```
//!
//! `user_agent` null means no user agent (`None`); a non-null pointer with length 0 is
//! the empty string. Returns the result's length (nothing is written when it is larger
//! than `out_cap`: the result is then kept for this thread, and
//! `sessions_fast_take_pending` writes it into a larger buffer without validating
//! again) or a negative error code ([`crate::fast_path::UNKNOWN_HANDLE`], ...;
//! `sessions_fast_take_pending` returns [`crate::fast_path::NO_PENDING`] when nothing is
//! kept).
//!
//! Invariants this module relies on (the caller's contract, as for any C function):
//! 1. `token` points to `token_len` readable bytes, unless `token_len` is 0 (then it may
//!    be null or dangling); likewise `user_agent` when it is not null.
//! 2. `out` points to `out_cap` writable bytes, unless `out_cap` is 0 (then it may be
//!    null); it does not overlap the inputs.
//! 3. The memory is not changed by anyone else during the call.
//!
//! What it checks itself: a null pointer with a non-zero length is refused
//! ([`crate::fast_path::BAD_ARGUMENT`]), lengths above `isize::MAX` likewise; a panic
//! inside the library is caught ([`crate::fast_path::PANICKED`]) and never unwinds
//! into the caller. Handles are plain numbers looked up in a registry, so a stale or
//! forged handle is an error code, never a dangling pointer.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::fast_path::{self, BAD_ARGUMENT, PANICKED};

/// An input slice from a C pointer and length; `None` for a null pointer with a
/// non-zero length or a length no allocation can have.
///
/// # Safety
/// Invariant 1 above: when `len > 0` and `ptr` is not null, `ptr` points to `len`
/// readable bytes that outlive `'a` and are not written meanwhile.
pub(super) unsafe fn input<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if ptr.is_null() || len > isize::MAX as usize {
        return None;
    }
    // SAFETY: non-null, `len` readable bytes living for the call (invariant 1), and
    // `len` is at most isize::MAX.
    Some(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The output slice from a C pointer and capacity; `None` as for [`input`].
///
/// # Safety
/// Invariant 2 above: when `cap > 0` and `ptr` is not null, `ptr` points to `cap`
/// writable bytes that outlive `'a`, overlapping nothing else in use.
pub(super) unsafe fn output<'a>(ptr: *mut u8, cap: usize) -> Option<&'a mut [u8]> {
    if cap == 0 {
        return Some(&mut []);
    }
    if ptr.is_null() || cap > isize::MAX as usize {
        return None;
    }
    // SAFETY: non-null, `cap` writable bytes, exclusive for the call (invariant 2).
    Some(unsafe { std::slice::from_raw_parts_mut(ptr, cap) })
}

/// Validates a token with the manager behind `handle` (see the module documentation
/// for the contract, and [`crate::fast_path`] for the result's layout).
///
/// # Safety
/// The pointer invariants 1-3 of this module.
#[no_mangle]
pub unsafe extern "C" fn sessions_fast_validate(
    handle: u64,
    token: *const u8,
    token_len: usize,
    user_agent: *const u8,
    user_agent_len: usize,
    out: *mut u8,
    out_cap: usize,
) -> i32 {
    // SAFETY: the caller upholds invariants 1-3 for these pointers.
    let (token, out) = unsafe { (input(token, token_len), output(out, out_cap)) };
    let user_agent = if user_agent.is_null() {
        Some(None)
    } else {
        // SAFETY: as above, for the non-null user agent.
        unsafe { input(user_agent, user_agent_len) }.map(Some)
    };
    let (Some(token), Some(user_agent), Some(out)) = (token, user_agent, out) else {
        return BAD_ARGUMENT;
    };
    catch_unwind(AssertUnwindSafe(|| {
        fast_path::validate_into(handle, token, user_agent, out)
    }))
    .unwrap_or(PANICKED)
}

/// Writes the result this thread's last `sessions_fast_validate` kept because it did
/// not fit `out_cap` (see the module documentation); returns its length,
/// [`crate::fast_path::NO_PENDING`], or [`BAD_ARGUMENT`] for a null `out` with a
/// non-zero capacity.
///
/// # Safety
/// Invariants 2 and 3 of this module for `out`.
#[no_mangle]
pub unsafe extern "C" fn sessions_fast_take_pending(out: *mut u8, out_cap: usize) -> i32 {
    // SAFETY: the caller upholds invariants 2 and 3 for `out`.
    let Some(out) = (unsafe { output(out, out_cap) }) else {
        return BAD_ARGUMENT;
    };
    catch_unwind(AssertUnwindSafe(|| fast_path::take_pending_into(out))).unwrap_or(PANICKED)
}

#[cfg(test)]
mod tests {
    use std::ptr::{null, null_mut};
    use std::sync::Arc;

    use super::*;
    use crate::fast_path::{HEADER_LEN, NO_PENDING, UNKNOWN_HANDLE};
    use crate::{CreateSessionOptions, SessionConfig, SessionManager};

    fn manager() -> Arc<SessionManager> {
        SessionManager::new(SessionConfig::default(), None).expect("manager")
    }

    fn call(handle: u64, token: &[u8], ua: Option<&[u8]>, out: &mut [u8]) -> i32 {
        let (ua_ptr, ua_len) = ua.map_or((null(), 0), |u| (u.as_ptr(), u.len()));
        // SAFETY: slices give valid pointers and lengths (invariants 1-3).
        unsafe {
            sessions_fast_validate(
                handle,
                token.as_ptr(),
                token.len(),
                ua_ptr,
                ua_len,
                out.as_mut_ptr(),
                out.len(),
            )
        }
    }

    fn options(user: &str) -> CreateSessionOptions {
        CreateSessionOptions::for_user(user)
    }

    /// Invariant 1 and 2: null pointers with a non-zero length are refused, not read.
    #[test]
    fn null_pointers_with_lengths_are_refused() {
        let m = manager();
        let h = m.clone().fast_path_handle();
        let mut out = [0u8; 8];
        // SAFETY: null pointers are exactly what is under test; they are never read.
        unsafe {
            assert_eq!(
                sessions_fast_validate(h, null(), 5, null(), 0, out.as_mut_ptr(), 8),
                BAD_ARGUMENT
            );
            assert_eq!(
                sessions_fast_validate(h, b"x".as_ptr(), 1, null(), 0, null_mut(), 8),
                BAD_ARGUMENT
            );
            // A non-null user agent pointer is required for a non-zero length only.
            assert_eq!(
                sessions_fast_validate(h, null(), 0, null(), 3, out.as_mut_ptr(), 8),
                1,
                "a null user agent is None whatever its length"
            );
            // Null with length 0 is the empty token: invalid, one byte.
            assert_eq!(
                sessions_fast_validate(h, null(), 0, null(), 0, out.as_mut_ptr(), 8),
                1
            );
            assert_eq!(out[0], 1);
            // A size query: nothing to write to.
            assert_eq!(
                sessions_fast_validate(h, null(), 0, null(), 0, null_mut(), 0),
                1
            );
        }
    }

    /// A buffer too small gets nothing written and the length it needs.
    #[test]
    fn short_buffers_are_never_overrun() {
        let m = manager();
        let h = m.clone().fast_path_handle();
        let s = m.create(options("alice")).expect("create");
        let mut small = [0xAAu8; HEADER_LEN];
        let needed = call(h, s.token.as_bytes(), None, &mut small);
        assert!(needed as usize > HEADER_LEN);
        assert!(small.iter().all(|&b| b == 0xAA));
        let mut big = vec![0u8; needed as usize];
        assert_eq!(call(h, s.token.as_bytes(), None, &mut big), needed);
        assert_eq!(big[0], 0);
    }

    fn take(out: &mut [u8]) -> i32 {
        // SAFETY: a slice gives a valid pointer and capacity (invariants 2-3).
        unsafe { sessions_fast_take_pending(out.as_mut_ptr(), out.len()) }
    }

    /// A result too large for the buffer is kept for the thread and fetched without a
    /// second validation: the clock (read once or more per validation) is not read
    /// again, the bytes are those a large enough buffer gets, a still too small buffer
    /// keeps it kept, and it is taken once.
    #[test]
    fn a_result_too_large_is_kept_and_taken_without_validating_again() {
        #[derive(Debug, Default)]
        struct Counting(std::sync::atomic::AtomicUsize);
        impl crate::Clock for Counting {
            fn now(&self) -> Result<std::time::SystemTime, crate::ClockError> {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(std::time::SystemTime::now())
            }
        }
        let clock = Arc::new(Counting::default());
        let m = SessionManager::new(SessionConfig::default(), Some(clock.clone())).expect("m");
        let h = m.clone().fast_path_handle();
        let mut options = options("alice");
        options.metadata = Some([("k".to_owned(), "v".repeat(5000))].into());
        let token = m.create(options).expect("create").token;
        let mut full = vec![0u8; 8192];
        let size = call(h, token.as_bytes(), None, &mut full);
        assert!(size > 5000, "{size}");
        let expected = full[..size as usize].to_vec();

        assert_eq!(take(&mut full), NO_PENDING, "a result that fit is not kept");
        let reads = clock.0.load(std::sync::atomic::Ordering::SeqCst);
        let mut small = [0xAAu8; 4096];
        assert_eq!(call(h, token.as_bytes(), None, &mut small), size);
        assert!(small.iter().all(|&b| b == 0xAA), "nothing written");
        let per_validation = clock.0.load(std::sync::atomic::Ordering::SeqCst) - reads;
        assert!(per_validation > 0);

        assert_eq!(take(&mut small), size, "still too small: kept");
        assert!(small.iter().all(|&b| b == 0xAA));
        let mut grown = vec![0u8; size as usize];
        assert_eq!(take(&mut grown), size);
        assert_eq!(grown, expected);
        assert_eq!(
            clock.0.load(std::sync::atomic::Ordering::SeqCst) - reads,
            per_validation,
            "taking validated nothing"
        );
        assert_eq!(take(&mut grown), NO_PENDING, "taken once");
        // SAFETY: null with capacity 0 is allowed; with a capacity it is refused.
        unsafe {
            assert_eq!(sessions_fast_take_pending(null_mut(), 0), NO_PENDING);
            assert_eq!(sessions_fast_take_pending(null_mut(), 8), BAD_ARGUMENT);
        }
        // Kept per thread: another thread has nothing to take.
        assert_eq!(call(h, token.as_bytes(), None, &mut small), size);
        let elsewhere = std::thread::spawn(|| take(&mut [0u8; 8192])).join();
        assert_eq!(elsewhere.ok(), Some(NO_PENDING));
        assert_eq!(take(&mut grown), size);
    }

    /// A token that is not UTF-8 is an invalid token; a user agent that is not is a
    /// bad argument.
    #[test]
    fn bad_utf8() {
        let m = manager();
        let h = m.clone().fast_path_handle();
        let s = m.create(options("alice")).expect("create");
        let mut out = [0u8; 512];
        assert_eq!(call(h, &[0xff, 0xfe], None, &mut out), 1);
        assert_eq!(out[0], 1);
        assert_eq!(
            call(h, s.token.as_bytes(), Some(&[0xc3]), &mut out),
            BAD_ARGUMENT
        );
    }

    /// Handles are never dangling: dropped or forged ones are an error code.
    #[test]
    fn stale_and_forged_handles() {
        let m = manager();
        let h = m.clone().fast_path_handle();
        assert_eq!(m.clone().fast_path_handle(), h, "one handle per manager");
        let other = manager();
        assert_ne!(other.clone().fast_path_handle(), h);
        let mut out = [0u8; 64];
        assert_eq!(call(h, b"x", None, &mut out), 1);
        drop(m);
        assert_eq!(call(h, b"x", None, &mut out), UNKNOWN_HANDLE);
        assert_eq!(call(0, b"x", None, &mut out), UNKNOWN_HANDLE);
        assert_eq!(call(u64::MAX, b"x", None, &mut out), UNKNOWN_HANDLE);
    }

    /// A failing `validate` writes nothing and leaves its error for this thread.
    #[test]
    fn failures_leave_the_error_to_take() {
        #[derive(Debug)]
        struct Broken(std::sync::atomic::AtomicBool);
        impl crate::Clock for Broken {
            fn now(&self) -> Result<std::time::SystemTime, crate::ClockError> {
                if self.0.load(std::sync::atomic::Ordering::SeqCst) {
                    Err(crate::ClockError::Failed {
                        reason: "stopped".into(),
                    })
                } else {
                    Ok(std::time::SystemTime::now())
                }
            }
        }
        let clock = Arc::new(Broken(false.into()));
        let m = SessionManager::new(SessionConfig::default(), Some(clock.clone())).expect("m");
        let h = m.clone().fast_path_handle();
        let token = m.create(options("alice")).expect("create").token;
        clock.0.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut out = [0xAAu8; 256];
        assert_eq!(
            call(h, token.as_bytes(), None, &mut out),
            crate::fast_path::FAILED
        );
        assert!(out.iter().all(|&b| b == 0xAA));
        assert!(matches!(
            crate::fast_path::take_fast_path_error(),
            Err(crate::SessionError::Clock { .. })
        ));
    }

    /// Threads validating while the manager goes away get results or the error code.
    #[test]
    fn concurrent_calls_and_drop() {
        let m = manager();
        let h = m.clone().fast_path_handle();
        let token = m.create(options("alice")).expect("create").token;
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let token = token.clone();
                std::thread::spawn(move || {
                    let mut out = vec![0u8; 1024];
                    let mut seen_gone = false;
                    for _ in 0..2000 {
                        let r = call(h, token.as_bytes(), None, &mut out);
                        if r == UNKNOWN_HANDLE {
                            seen_gone = true;
                        } else {
                            assert!(!seen_gone, "a dropped handle came back");
                            assert!(r > 1 && out[0] == 0);
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(2));
        drop(m);
        for w in workers {
            w.join().expect("worker");
        }
        assert_eq!(
            call(h, token.as_bytes(), None, &mut [0u8; 8]),
            UNKNOWN_HANDLE
        );
    }
}
