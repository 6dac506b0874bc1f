//! The JNI entry of the per-request fast path, for the Kotlin/JVM package
//! (bindings/kotlin/src/main/kotlin/dev/sessions/FastPath.kt). Same registry of managers,
//! same result layout and the same safe core ([`crate::fast_path::validate_into`]) as the
//! C entry [`super::fast_path_abi`]; only the calling convention differs.
//!
//! # Why JNI, and why registered rather than looked up by name
//!
//! A whole fast-path call with an empty token (the library answers at once) cost 221 ns
//! through JNA direct mapping and 95 ns as a JNI `static native` method taking only
//! `long`s and `int`s, the JVM's own cheapest native call (BENCHMARKS.md). JNI normally finds `Java_<class>_<method>` symbols in a library
//! loaded with `System.load`, but the Kotlin package's library is loaded by JNA (for
//! UniFFI), and JNA deletes the temporary file it unpacked a library from the jar into
//! right after loading it: the file JNA loaded cannot be given to `System.load`, and
//! unpacking another copy would be a second core with its own registry of managers.
//! So the Kotlin side calls [`sessions_jni_register`] once, through the very
//! `NativeLibrary` JNA loaded for UniFFI, with the current thread's `JNIEnv` and its
//! `FastPath.Jni` class; it binds that class's `validate` to [`validate`] with
//! `RegisterNatives`, which takes a function pointer, not a file or a symbol name. One
//! copy of the core in the process, whatever JNA unpacked, on the JVM and on Android.
//!
//! The JNI types come from `jni-sys` (the jni-rs project's `jni.h` definitions): the
//! only JNI function used is `RegisterNatives`, once, and the per-call entry takes no
//! Java object, so the `jni` crate's safe object wrappers would have nothing to wrap.
//!
//! # The per-call entry
//!
//! `static native int validate(long handle, long input, int tokenLen, int userAgentLen,
//! long out, int outCap)`, registered with signature `(JJIIJI)I`: the token's UTF-8 is
//! the `tokenLen` bytes at address `input`, the user agent's the `userAgentLen` bytes right
//! after it (a negative `userAgentLen` means no user agent); the result is written at
//! `out` (capacity `outCap`) in [`crate::fast_path`]'s layout, and the return value is
//! [`crate::fast_path::validate_into`]'s. The addresses are those of the calling
//! thread's direct `ByteBuffer`s (Kotlin fetches each address once per buffer).
//!
//! `static native int takePending(long out, int outCap)`, signature `(JI)I`: when
//! `validate` returned a length larger than `outCap`, the result was kept for the
//! calling thread; Kotlin grows its buffer and fetches it with this method instead of
//! validating again ([`crate::fast_path::take_pending_into`]: the length, written when
//! it fits, or [`crate::fast_path::NO_PENDING`]).
//!
//! Invariants this module relies on (the Kotlin caller's contract):
//! 1. `input` is 0 or the address of `tokenLen + max(userAgentLen, 0)` readable bytes,
//!    and `out` is 0 or the address of `outCap` writable bytes not overlapping them.
//! 2. The buffers stay alive and unchanged by anyone else during the call (a thread's
//!    buffers are used by one call at a time, and Kotlin keeps a reference to them).
//! 3. [`sessions_jni_register`] gets the `JNIEnv` of the calling thread and a local or
//!    global reference to a class declaring `static native int validate(JJIIJI)` and
//!    `static native int takePending(JI)`.
//!
//! What it checks itself: a null address with a non-zero length, and a negative token
//! length or capacity, are [`BAD_ARGUMENT`]; a panic is caught ([`PANICKED`]) and never
//! unwinds into the JVM.

use std::ffi::{c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use jni_sys::{jclass, jint, jlong, JNIEnv, JNINativeMethod, JNI_ERR};

use super::fast_path_abi::{input, output};
use crate::fast_path::{self, BAD_ARGUMENT, PANICKED};

/// The Java name of the registered method.
const METHOD: &CStr = c"validate";
/// Its JNI signature: `(long, long, int, int, long, int) -> int`.
const SIGNATURE: &CStr = c"(JJIIJI)I";
/// The Java name of the method fetching a kept result.
const TAKE_PENDING: &CStr = c"takePending";
/// Its JNI signature: `(long, int) -> int`.
const TAKE_PENDING_SIGNATURE: &CStr = c"(JI)I";

/// The per-call entry (see the module documentation), bound to `FastPath.Jni.validate`
/// by [`sessions_jni_register`]. The JNI environment and class are not used.
///
/// # Safety
/// Invariants 1 and 2 of this module.
unsafe extern "system" fn validate(
    _env: *mut JNIEnv,
    _class: jclass,
    handle: jlong,
    input_address: jlong,
    token_len: jint,
    user_agent_len: jint,
    out_address: jlong,
    out_cap: jint,
) -> jint {
    let (Ok(token_len), Ok(out_cap)) = (usize::try_from(token_len), usize::try_from(out_cap))
    else {
        return BAD_ARGUMENT;
    };
    let user_agent_len = usize::try_from(user_agent_len).ok();
    let Some(total) = token_len.checked_add(user_agent_len.unwrap_or(0)) else {
        return BAD_ARGUMENT;
    };
    // Addresses are the JVM's `long`s; on the 64-bit platforms the fast path runs on they
    // are pointers as they are.
    let in_ptr = input_address as usize as *const u8;
    let out_ptr = out_address as usize as *mut u8;
    // SAFETY: invariant 1: `input` holds `total` readable bytes and `out` `out_cap`
    // writable ones, not overlapping; invariant 2: nobody changes them during the call.
    let (bytes, out) = unsafe { (input(in_ptr, total), output(out_ptr, out_cap)) };
    let (Some(bytes), Some(out)) = (bytes, out) else {
        return BAD_ARGUMENT;
    };
    let (token, user_agent) = bytes.split_at(token_len);
    let user_agent = user_agent_len.map(|_| user_agent);
    catch_unwind(AssertUnwindSafe(|| {
        // Handles are numbers the registry issued (from 1); the JVM has no unsigned long.
        fast_path::validate_into(handle as u64, token, user_agent, out)
    }))
    .unwrap_or(PANICKED)
}

/// Writes the result `validate` kept for this thread (it did not fit `outCap`) at `out`,
/// bound to `FastPath.Jni.takePending` by [`sessions_jni_register`]: returns
/// [`crate::fast_path::take_pending_into`]'s value (the length; nothing written and the
/// result still kept when it is larger than `out_cap`; `NO_PENDING` when nothing is
/// kept), or [`BAD_ARGUMENT`] for a negative capacity or a null address with one.
///
/// # Safety
/// Invariants 1 and 2 of this module, for `out`.
unsafe extern "system" fn take_pending(
    _env: *mut JNIEnv,
    _class: jclass,
    out_address: jlong,
    out_cap: jint,
) -> jint {
    let Ok(out_cap) = usize::try_from(out_cap) else {
        return BAD_ARGUMENT;
    };
    let out_ptr = out_address as usize as *mut u8;
    // SAFETY: invariant 1: `out` holds `out_cap` writable bytes; invariant 2: nobody
    // else touches them during the call.
    let Some(out) = (unsafe { output(out_ptr, out_cap) }) else {
        return BAD_ARGUMENT;
    };
    catch_unwind(AssertUnwindSafe(|| fast_path::take_pending_into(out))).unwrap_or(PANICKED)
}

/// Binds the `static native int validate(long, long, int, int, long, int)` and
/// `static native int takePending(long, int)` methods of `class` to this library's
/// fast-path entries (JNI `RegisterNatives`, one call). Called once by the
/// Kotlin package, through JNA, on the library instance JNA loaded for UniFFI. Returns
/// `JNI_OK` (0), or a negative JNI error code (then the JVM has a pending
/// `NoSuchMethodError`, thrown when the calling native method returns); `JNI_ERR` for a
/// null argument.
///
/// # Safety
/// Invariant 3 of this module: `env` is the calling thread's `JNIEnv` and `class` a live
/// reference to a class.
#[no_mangle]
pub unsafe extern "system" fn sessions_jni_register(env: *mut JNIEnv, class: jclass) -> jint {
    if env.is_null() || class.is_null() {
        return JNI_ERR;
    }
    // JNI takes `char *` but never writes through these.
    let methods = [
        JNINativeMethod {
            name: METHOD.as_ptr().cast_mut(),
            signature: SIGNATURE.as_ptr().cast_mut(),
            fnPtr: validate as *mut c_void,
        },
        JNINativeMethod {
            name: TAKE_PENDING.as_ptr().cast_mut(),
            signature: TAKE_PENDING_SIGNATURE.as_ptr().cast_mut(),
            fnPtr: take_pending as *mut c_void,
        },
    ];
    // SAFETY: invariant 3: `env` points to the thread's JNIEnv, whose function table has
    // `RegisterNatives` since JNI 1.1 (every JVM and Android); the method array and its
    // strings live across the call (JNI copies what it keeps).
    unsafe { ((**env).v1_1.RegisterNatives)(env, class, methods.as_ptr(), methods.len() as jint) }
}

#[cfg(test)]
mod tests {
    use std::ptr::null_mut;
    use std::sync::{Arc, Mutex};

    use jni_sys::{JNINativeInterface_, JNINativeInterface__1_1, JNI_OK};

    use super::*;
    use crate::fast_path::{HEADER_LEN, NO_PENDING, UNKNOWN_HANDLE};
    use crate::{CreateSessionOptions, SessionConfig, SessionManager};

    fn manager() -> Arc<SessionManager> {
        SessionManager::new(SessionConfig::default(), None).expect("manager")
    }

    /// Calls [`validate`] as the Kotlin side does: token and user agent back to back in
    /// one buffer, addresses as `long`s.
    fn call(handle: u64, token: &[u8], ua: Option<&[u8]>, out: &mut [u8]) -> i32 {
        let mut input = token.to_vec();
        input.extend_from_slice(ua.unwrap_or_default());
        let ua_len = ua.map_or(-1, |u| u.len() as jint);
        // SAFETY: the vectors give valid addresses and lengths (invariants 1 and 2).
        unsafe {
            validate(
                null_mut(),
                null_mut(),
                handle as jlong,
                input.as_ptr() as jlong,
                token.len() as jint,
                ua_len,
                out.as_mut_ptr() as jlong,
                out.len() as jint,
            )
        }
    }

    /// Invariants 1 and 2: the token, the user agent after it and the result buffer are
    /// read and written where and as far as the lengths say, and no further.
    #[test]
    fn the_token_and_user_agent_are_split_where_the_lengths_say() {
        let config = SessionConfig {
            bind_to_user_agent: true,
            ..SessionConfig::default()
        };
        let m = SessionManager::new(config, None).expect("manager");
        let h = m.clone().fast_path_handle();
        let mut options = CreateSessionOptions::for_user("alice");
        options.metadata = Some([("userAgent".to_owned(), "agent/1".to_owned())].into());
        let s = m.create(options).expect("create");
        let mut out = vec![0xAAu8; 2048];
        let len = call(h, s.token.as_bytes(), Some(b"agent/1"), &mut out);
        assert!(len as usize > HEADER_LEN);
        assert_eq!(out[0], 0, "valid");
        assert!(out[len as usize..].iter().all(|&b| b == 0xAA), "no overrun");
        assert_eq!(call(h, s.token.as_bytes(), Some(b"agent/2"), &mut out), 1);
        assert_eq!(out[0], 4, "user agent mismatch");
        // No user agent (negative length) and an empty one are not the same argument,
        // but both mismatch a bound session.
        assert_eq!(call(h, s.token.as_bytes(), None, &mut out), 1);
        assert_eq!(call(h, s.token.as_bytes(), Some(b""), &mut out), 1);
        assert_eq!(out[0], 4);
        // The token's bytes end where its length says: one byte short is unknown.
        let short = &s.token.as_bytes()[..s.token.len() - 1];
        assert_eq!(call(h, short, Some(b"agent/1"), &mut out), 1);
        assert_eq!(out[0], 1);
        // Too small a buffer: nothing written, the length needed returned.
        let mut small = vec![0xAAu8; HEADER_LEN];
        assert_eq!(
            call(h, s.token.as_bytes(), Some(b"agent/1"), &mut small),
            len
        );
        assert!(small.iter().all(|&b| b == 0xAA));
    }

    /// Invariant 1: null addresses with lengths and negative lengths are refused unread.
    #[test]
    fn null_addresses_and_negative_lengths_are_refused() {
        let m = manager();
        let h = m.clone().fast_path_handle() as jlong;
        let mut out = [0u8; 8];
        let o = out.as_mut_ptr() as jlong;
        let token = b"x".as_ptr() as jlong;
        // SAFETY: the bad arguments are what is under test; they are refused unread.
        unsafe {
            let v = |input, tl, ul, out, cap| {
                validate(null_mut(), null_mut(), h, input, tl, ul, out, cap)
            };
            assert_eq!(v(0, 5, -1, o, 8), BAD_ARGUMENT);
            assert_eq!(v(token, 1, -1, 0, 8), BAD_ARGUMENT);
            assert_eq!(v(token, -1, -1, o, 8), BAD_ARGUMENT);
            assert_eq!(v(token, 1, -1, o, -8), BAD_ARGUMENT);
            assert_eq!(
                v(0, 0, 3, o, 8),
                BAD_ARGUMENT,
                "a user agent needs an address"
            );
            // The empty token with no address: invalid, one byte.
            assert_eq!(v(0, 0, -1, o, 8), 1);
            assert_eq!(out[0], 1);
            assert_eq!(v(0, 0, -1, 0, 0), 1, "a size query writes nothing");
        }
    }

    /// The same registry as the C entry: a dropped or forged handle is an error code.
    #[test]
    fn stale_and_forged_handles() {
        let m = manager();
        let h = m.clone().fast_path_handle();
        let mut out = [0u8; 64];
        assert_eq!(call(h, b"x", None, &mut out), 1);
        drop(m);
        assert_eq!(call(h, b"x", None, &mut out), UNKNOWN_HANDLE);
        assert_eq!(call(u64::MAX, b"x", None, &mut out), UNKNOWN_HANDLE);
    }

    /// [`take_pending`] as Kotlin calls it.
    fn take(out: &mut [u8]) -> i32 {
        // SAFETY: the slice gives a valid address and capacity (invariants 1 and 2).
        unsafe {
            take_pending(
                null_mut(),
                null_mut(),
                out.as_mut_ptr() as jlong,
                out.len() as jint,
            )
        }
    }

    /// A result too large for the buffer is kept and fetched with `takePending`, once,
    /// equal to what a large enough buffer gets; bad arguments are refused.
    #[test]
    fn a_result_too_large_is_taken_without_validating_again() {
        let m = manager();
        let h = m.clone().fast_path_handle();
        let mut options = CreateSessionOptions::for_user("bob");
        options.metadata = Some([("big".to_owned(), "x".repeat(5_000))].into());
        let s = m.create(options).expect("create");
        let mut small = vec![0xAAu8; 64];
        assert_eq!(take(&mut small), NO_PENDING, "nothing kept yet");
        let len = call(h, s.token.as_bytes(), None, &mut small);
        assert!(len as usize > 5_000);
        assert!(small.iter().all(|&b| b == 0xAA), "nothing written");
        // Still too small: the length again, and the result stays kept.
        assert_eq!(take(&mut small), len);
        let mut big = vec![0xAAu8; len as usize + 16];
        assert_eq!(take(&mut big), len);
        assert_eq!(big[0], 0, "valid");
        assert!(big[len as usize..].iter().all(|&b| b == 0xAA), "no overrun");
        assert_eq!(take(&mut big), NO_PENDING, "taken once");
        // SAFETY: the bad arguments are what is under test; they are refused unread.
        unsafe {
            assert_eq!(take_pending(null_mut(), null_mut(), 0, 8), BAD_ARGUMENT);
            let o = big.as_mut_ptr() as jlong;
            assert_eq!(take_pending(null_mut(), null_mut(), o, -1), BAD_ARGUMENT);
        }
    }

    /// What the fake `RegisterNatives` below was given.
    static REGISTERED: Mutex<Vec<(String, String, usize, usize)>> = Mutex::new(Vec::new());

    unsafe extern "system" fn fake_register_natives(
        _env: *mut JNIEnv,
        class: jclass,
        methods: *const JNINativeMethod,
        n: jint,
    ) -> jint {
        // SAFETY: called by `sessions_jni_register` with `n` methods and C strings.
        let methods = unsafe { std::slice::from_raw_parts(methods, n as usize) };
        for m in methods {
            // SAFETY: as above.
            let (name, sig) = unsafe { (CStr::from_ptr(m.name), CStr::from_ptr(m.signature)) };
            REGISTERED.lock().expect("lock").push((
                name.to_string_lossy().into_owned(),
                sig.to_string_lossy().into_owned(),
                m.fnPtr as usize,
                class as usize,
            ));
        }
        JNI_OK
    }

    /// Invariant 3: registration calls the table's `RegisterNatives` slot, once, with the
    /// class it was given and both entries under their Java names and signatures; null
    /// arguments are refused without touching the table.
    #[test]
    fn registration_binds_validate_through_register_natives() {
        let slots = size_of::<JNINativeInterface_>() / size_of::<*const c_void>();
        let mut table = vec![std::ptr::null::<c_void>(); slots];
        let slot = std::mem::offset_of!(JNINativeInterface__1_1, RegisterNatives)
            / size_of::<*const c_void>();
        assert_eq!(slot, 215, "RegisterNatives is entry 215 of jni.h's table");
        table[slot] = fake_register_natives as *const c_void;
        let interface: JNIEnv = table.as_ptr().cast();
        let mut env: JNIEnv = interface;
        let class = 0x1234usize as jclass;
        // SAFETY: `env` points to a table whose only slot read (RegisterNatives) is set.
        unsafe {
            assert_eq!(sessions_jni_register(&mut env, class), JNI_OK);
            assert_eq!(sessions_jni_register(null_mut(), class), JNI_ERR);
            assert_eq!(sessions_jni_register(&mut env, null_mut()), JNI_ERR);
        }
        let registered = REGISTERED.lock().expect("lock").clone();
        assert_eq!(
            registered,
            vec![
                (
                    "validate".to_owned(),
                    "(JJIIJI)I".to_owned(),
                    validate as *const () as usize,
                    0x1234
                ),
                (
                    "takePending".to_owned(),
                    "(JI)I".to_owned(),
                    take_pending as *const () as usize,
                    0x1234
                )
            ]
        );
    }
}
