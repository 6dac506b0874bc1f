//! The extension's only `unsafe`: calling the core's C entry points
//! `sessions_fast_validate` and `sessions_fast_take_pending`
//! (src/unsafe_code/fast_path_abi.rs) through the addresses the Python package hands
//! over at import ([`Entry`], [`TakePending`]), `object.__new__` through its C slot
//! ([`ObjectNew`]), and releasing the GIL around the validation ([`detached`]), taken
//! back through the one C function compiled without unwind information
//! (`c/no_unwind_info.c`).
//!
//! The extension does not link the core: the library is the one UniFFI's generated
//! module loaded with ctypes (loaded once per process, never a second copy), and the
//! package reads the functions' addresses from that very library object
//! (`ctypes.cast(_UniffiLib.sessions_fast_validate, ctypes.c_void_p).value`, likewise
//! for `sessions_fast_take_pending`).

use std::ffi::c_void;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use pyo3::ffi::PyThreadState;

use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};

/// The function pointer of type `F` at `address`, or `None` for 0 (the addresses the
/// package hands over at import, read with `ctypes` from the core's library).
///
/// # Safety
///
/// `F` must be a function pointer type, and a non-zero `address` the address of a
/// function of exactly that type that stays loaded for the rest of the process. (A
/// function pointer has the size and representation of a data pointer on every platform
/// the wheels target; the size is checked when this is compiled.)
unsafe fn function_at<F: Copy>(address: usize) -> Option<F> {
    const { assert!(std::mem::size_of::<F>() == std::mem::size_of::<*const c_void>()) };
    // SAFETY: non-null, and (caller's contract) a function of type `F` that stays loaded,
    // whose pointer has the size just checked and a data pointer's representation.
    (address != 0).then(|| unsafe {
        std::mem::transmute_copy::<*const c_void, F>(&(address as *const c_void))
    })
}

/// The C signature of `sessions_fast_validate`: (handle, token, token_len, user_agent,
/// user_agent_len, out, out_cap) -> result length or a negative error code.
pub type RawEntry =
    unsafe extern "C" fn(u64, *const u8, usize, *const u8, usize, *mut u8, usize) -> i32;

/// `sessions_fast_validate`, callable safely once constructed.
#[derive(Clone, Copy)]
pub struct Entry(RawEntry);

impl Entry {
    /// The entry point at `address`; `None` for a null address.
    ///
    /// # Safety
    ///
    /// `address` must be the address of a function with the C signature [`RawEntry`]
    /// that keeps the contract of `sessions_fast_validate`: it reads at most `token_len`
    /// bytes at `token` and `user_agent_len` at `user_agent` (none when that pointer is
    /// null), writes at most `out_cap` bytes at `out`, keeps none of the pointers after
    /// it returns, never unwinds, and may be called from any thread at once. The code
    /// must stay loaded for the rest of the process: the package passes the entry of the
    /// library its generated module loaded through `ctypes.CDLL`, which is never closed.
    pub unsafe fn from_address(address: usize) -> Option<Self> {
        // SAFETY: the caller's contract: 0 or a function of this signature, loaded.
        unsafe { function_at::<RawEntry>(address) }.map(Self)
    }

    /// Calls the entry point: validates `token` (with `user_agent`, if any) in the
    /// manager registered under `handle` and writes the result into `out` when it fits.
    /// Returns the result's length in bytes (larger than `out.len()` when it did not fit:
    /// nothing was written) or one of the negative codes of `crate::layout`.
    pub fn call(
        &self,
        handle: u64,
        token: &[u8],
        user_agent: Option<&[u8]>,
        out: &mut [u8],
    ) -> i32 {
        let (ua_ptr, ua_len) = match user_agent {
            // A slice's pointer is never null (even empty), which the entry point reads
            // as "a user agent was given".
            Some(ua) => (ua.as_ptr(), ua.len()),
            None => (std::ptr::null(), 0),
        };
        // SAFETY: `from_address`'s contract makes `self.0` the entry point; every
        // pointer comes from a live slice of the length passed beside it (the user agent
        // null only with length 0, meaning none), `out` is writable for `out.len()` bytes
        // and exclusively borrowed for the call, and the entry keeps no pointer after it
        // returns.
        unsafe {
            (self.0)(
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
}

/// The C signature of `sessions_fast_take_pending`: (out, out_cap) -> the kept
/// result's length or a negative error code.
pub type RawTakePending = unsafe extern "C" fn(*mut u8, usize) -> i32;

/// `sessions_fast_take_pending`, callable safely once constructed: fetches the result
/// this thread's last [`Entry::call`] kept because it did not fit, without validating
/// again.
#[derive(Clone, Copy)]
pub struct TakePending(RawTakePending);

impl TakePending {
    /// The entry point at `address`; `None` for a null address.
    ///
    /// # Safety
    ///
    /// `address` must be the address of a function with the C signature
    /// [`RawTakePending`] that keeps the contract of `sessions_fast_take_pending`: it
    /// writes at most `out_cap` bytes at `out` (none when `out_cap` is 0), keeps no
    /// pointer after it returns, never unwinds, and may be called from any thread. The
    /// code must stay loaded for the rest of the process (as for [`Entry::from_address`]:
    /// the same library, never closed).
    pub unsafe fn from_address(address: usize) -> Option<Self> {
        // SAFETY: the caller's contract: 0 or a function of this signature, loaded.
        unsafe { function_at::<RawTakePending>(address) }.map(Self)
    }

    /// Writes the result kept for this thread into `out` when it fits, and the library
    /// forgets it. Returns its length in bytes (larger than `out.len()` when it did not
    /// fit: nothing was written and it stays kept), `crate::layout::NO_PENDING` when
    /// nothing is kept, or another negative code of `crate::layout`. Quick (no
    /// validation, no callback into Python): it is called with the GIL held.
    pub fn call(&self, out: &mut [u8]) -> i32 {
        // SAFETY: `from_address`'s contract makes `self.0` the entry point; `out` is
        // writable for `out.len()` bytes and exclusively borrowed for the call (a slice's
        // pointer is never null, even empty), and the entry keeps no pointer after it
        // returns.
        unsafe { (self.0)(out.as_mut_ptr(), out.len()) }
    }
}

/// `object.__new__` as the C function it is (the `tp_new` slot of `object`): a new,
/// empty instance of a plain Python class without a Python-level call (the call through
/// `object.__new__` costs about 70 ns more per record, two records a validation).
pub struct ObjectNew {
    new: pyo3::ffi::newfunc,
    empty: Py<PyTuple>,
}

impl ObjectNew {
    /// `object`'s `tp_new` slot.
    pub fn get(py: Python<'_>) -> PyResult<Self> {
        // SAFETY: `PyBaseObject_Type` is `object`, a static type that lives as long as
        // the interpreter; `PyType_GetSlot` on static types is in the limited API from
        // 3.10 (this module needs 3.11), and the GIL is held (`py`).
        let slot = unsafe {
            pyo3::ffi::PyType_GetSlot(
                std::ptr::addr_of_mut!(pyo3::ffi::PyBaseObject_Type),
                pyo3::ffi::Py_tp_new,
            )
        };
        if slot.is_null() {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "object has no tp_new",
            ));
        }
        // SAFETY: the `Py_tp_new` slot holds a `newfunc` (CPython's type slot contract).
        let new = unsafe { std::mem::transmute::<*mut c_void, pyo3::ffi::newfunc>(slot) };
        Ok(Self {
            new,
            empty: PyTuple::empty(py).unbind(),
        })
    }

    /// `object.__new__(cls)`. The caller (`crate::configure`) has checked that `cls`
    /// does not override `__new__` (its `__new__` *is* `object.__new__`), which is what
    /// makes calling `object`'s slot for it the same as `cls()` without `__init__`.
    pub fn call<'py>(&self, cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        // SAFETY: the GIL is held (`cls` is bound to it); `cls` is a live type object (every
        // class is a subtype of `object`, which the slot requires), the arguments an empty
        // tuple and no keywords, as `object.__new__(cls)` passes them. The slot returns a
        // new reference or NULL with an exception set, which `from_owned_ptr_or_err` takes.
        unsafe {
            let made = (self.new)(cls.as_type_ptr(), self.empty.as_ptr(), std::ptr::null_mut());
            Bound::from_owned_ptr_or_err(py, made)
        }
    }
}

/// A function the shim calls: `PyEval_RestoreThread`'s C signature.
#[cfg(test)]
type Call = unsafe extern "C" fn(*mut PyThreadState);

extern "C" {
    /// CPython's `PyEval_RestoreThread(state)`, called from C frames without unwind
    /// information (`c/no_unwind_info.c`, where the reason and contract are written): a
    /// forced unwind started inside it (CPython ending the thread with `pthread_exit`
    /// during shutdown) stops at those frames and never reaches this module's. Not
    /// PyO3's `PyEval_RestoreThread`: that is a Rust function around CPython's, whose
    /// cleanup (it hangs a thread CPython ends) needs its frame's personality routine,
    /// the very thing that crashed.
    fn sessions_fastpath_restore_thread(state: *mut PyThreadState);

    /// `call(argument)` from a frame without unwind information (the same file).
    #[cfg(test)]
    fn sessions_fastpath_call_without_unwind_info(call: Call, argument: *mut PyThreadState);
}

/// Runs `call` with the GIL released (other Python threads run meanwhile; a clock,
/// store or listener written in Python that the core calls takes the GIL as on the
/// regular path), then takes it back, as `Python::detach` does, except for how: from C
/// frames without unwind information, so that a daemon thread CPython ends there during
/// interpreter shutdown (3.11-3.13 end it with `pthread_exit`) ends as it would inside
/// a ctypes call, instead of crashing the process (SIGSEGV at exit with the zig-linked
/// wheels: see `c/no_unwind_info.c`). Such a thread never returns from here; what its
/// frames own is not freed.
///
/// `call` must not touch Python objects (it runs without the GIL); a panic in it is
/// resumed once the GIL is back.
pub fn detached<T>(_py: Python<'_>, call: impl FnOnce() -> T) -> T {
    // SAFETY: the GIL is held (`_py`), and this thread's state is saved until the
    // matching `PyEval_RestoreThread` below; nothing touches Python in between.
    let state = unsafe { pyo3::ffi::PyEval_SaveThread() };
    let outcome = catch_unwind(AssertUnwindSafe(call));
    // SAFETY: `state` is this thread's, saved above and not restored since; the shim
    // only calls CPython's `PyEval_RestoreThread(state)` (C to C: no frame with a
    // personality routine between them), which returns with the GIL held or ends the
    // thread.
    unsafe { sessions_fastpath_restore_thread(state) };
    outcome.unwrap_or_else(|panic| resume_unwind(panic))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// (handle, token, user agent, output capacity) of the last call.
    type Seen = (u64, Vec<u8>, Option<Vec<u8>>, usize);

    thread_local! {
        static SEEN: RefCell<Option<Seen>> = const { RefCell::new(None) };
    }

    /// Records what it was given and writes "ok" when there is room, like the entry.
    unsafe extern "C" fn fake(
        handle: u64,
        token: *const u8,
        token_len: usize,
        user_agent: *const u8,
        user_agent_len: usize,
        out: *mut u8,
        out_cap: usize,
    ) -> i32 {
        // SAFETY: the caller (`Entry::call`) passes live slices of these lengths.
        let token = unsafe { std::slice::from_raw_parts(token, token_len) }.to_vec();
        let user_agent = (!user_agent.is_null())
            .then(|| unsafe { std::slice::from_raw_parts(user_agent, user_agent_len) }.to_vec());
        SEEN.with(|seen| *seen.borrow_mut() = Some((handle, token, user_agent, out_cap)));
        if out_cap >= 2 {
            // SAFETY: `out` is writable for `out_cap` bytes.
            unsafe { std::ptr::copy_nonoverlapping(b"ok".as_ptr(), out, 2) };
        }
        2
    }

    fn entry() -> Entry {
        // SAFETY: `fake` has the signature and keeps the contract (for this test).
        unsafe { Entry::from_address(fake as RawEntry as usize) }.expect("non-null")
    }

    thread_local! {
        /// What the fake `sessions_fast_take_pending` holds, and the capacities it saw.
        static KEPT: RefCell<(Option<Vec<u8>>, Vec<usize>)> =
            const { RefCell::new((None, Vec::new())) };
    }

    /// Keeps the contract of `sessions_fast_take_pending` over `KEPT`: writes and forgets
    /// the kept bytes when they fit, else writes nothing and keeps them.
    unsafe extern "C" fn fake_take(out: *mut u8, out_cap: usize) -> i32 {
        KEPT.with(|kept| {
            let mut kept = kept.borrow_mut();
            kept.1.push(out_cap);
            let Some(bytes) = kept.0.take() else {
                return crate::layout::NO_PENDING;
            };
            let size = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
            if bytes.len() <= out_cap {
                // SAFETY: `out` is writable for `out_cap` bytes, at least `bytes.len()`.
                unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len()) };
            } else {
                kept.0 = Some(bytes);
            }
            size
        })
    }

    fn take_pending() -> TakePending {
        // SAFETY: `fake_take` has the signature and keeps the contract (for this test).
        unsafe { TakePending::from_address(fake_take as RawTakePending as usize) }
            .expect("non-null")
    }

    #[test]
    fn a_null_take_pending_address_is_refused() {
        // SAFETY: null is checked before anything else.
        assert!(unsafe { TakePending::from_address(0) }.is_none());
    }

    #[test]
    fn take_pending_writes_the_kept_result_once_and_only_where_it_fits() {
        KEPT.with(|kept| *kept.borrow_mut() = (Some(b"kept result".to_vec()), Vec::new()));
        let mut small = [0xAAu8; 4];
        assert_eq!(take_pending().call(&mut small), 11);
        assert_eq!(small, [0xAA; 4], "nothing written when it does not fit");
        let mut out = [0u8; 16];
        assert_eq!(take_pending().call(&mut out), 11);
        assert_eq!(&out[..11], b"kept result");
        assert_eq!(take_pending().call(&mut out), crate::layout::NO_PENDING);
        assert_eq!(take_pending().call(&mut []), crate::layout::NO_PENDING);
        let seen = KEPT.with(|kept| kept.borrow().1.clone());
        assert_eq!(
            seen,
            vec![4, 16, 16, 0],
            "the capacities passed are the slices'"
        );
    }

    #[test]
    fn object_new_makes_what_object_new_makes_and_raises_what_it_raises() {
        Python::initialize();
        Python::attach(|py| {
            let code = c"import abc\nclass Plain:\n    pass\nclass Abstract(abc.ABC):\n    @abc.abstractmethod\n    def f(self): ...\n";
            let ns = pyo3::types::PyDict::new(py);
            py.run(code, Some(&ns), None).expect("classes");
            let class = |name: &str| -> Bound<'_, PyType> {
                ns.get_item(name)
                    .expect("get")
                    .expect("defined")
                    .cast_into()
                    .expect("a type")
            };
            let new = ObjectNew::get(py).expect("object's tp_new");
            let made = new.call(&class("Plain")).expect("an instance");
            assert!(made.get_type().is(class("Plain")));
            made.setattr("x", 7).expect("attributes");
            assert_eq!(
                made.getattr("x").and_then(|x| x.extract::<i64>()).ok(),
                Some(7)
            );
            // A new reference, owned once (getrefcount counts its own argument too).
            let count = py
                .import("sys")
                .and_then(|sys| sys.getattr("getrefcount")?.call1((&made,)));
            assert_eq!(count.and_then(|n| n.extract::<i64>()).ok(), Some(2));
            let error = new.call(&class("Abstract")).expect_err("abstract");
            assert!(
                error.is_instance_of::<pyo3::exceptions::PyTypeError>(py),
                "{error}"
            );
        });
    }

    #[test]
    fn a_null_address_is_refused() {
        // SAFETY: null is checked before anything else.
        assert!(unsafe { Entry::from_address(0) }.is_none());
    }

    #[test]
    fn arguments_reach_the_entry_as_given() {
        let mut out = [0u8; 8];
        assert_eq!(entry().call(7, b"tok\0en", Some(b"UA/1"), &mut out), 2);
        assert_eq!(&out[..2], b"ok");
        let seen = SEEN.with(|seen| seen.borrow_mut().take()).expect("called");
        assert_eq!(seen, (7, b"tok\0en".to_vec(), Some(b"UA/1".to_vec()), 8));
    }

    #[test]
    fn no_user_agent_is_null_and_an_empty_one_is_not() {
        let mut out = [0u8; 1];
        assert_eq!(entry().call(1, b"", None, &mut out), 2);
        assert_eq!(out, [0], "nothing written when it does not fit");
        let seen = SEEN.with(|seen| seen.borrow_mut().take()).expect("called");
        assert_eq!(seen, (1, Vec::new(), None, 1));
        entry().call(1, b"", Some(b""), &mut []);
        let seen = SEEN.with(|seen| seen.borrow_mut().take()).expect("called");
        assert_eq!(seen, (1, Vec::new(), Some(Vec::new()), 0));
    }

    /// A walk of the stack (the unwinder's, as `pthread_exit`'s forced unwind makes it)
    /// started inside the shim's call ends at the shim: the frames that called the shim
    /// are not on it, down to the C library's `start_thread` at the bottom of every
    /// test thread, which the same walk from the test itself reaches. (The test names
    /// the C library's frame: this crate's own symbols are stripped in release builds.)
    #[test]
    fn a_stack_walk_from_inside_the_shim_ends_at_the_shim() {
        thread_local! {
            static WALKED: RefCell<Option<String>> = const { RefCell::new(None) };
        }
        extern "C" fn walk(_: *mut PyThreadState) {
            let trace = std::backtrace::Backtrace::force_capture().to_string();
            WALKED.with(|walked| *walked.borrow_mut() = Some(trace));
        }
        let bottom = "start_thread";
        let direct = std::backtrace::Backtrace::force_capture().to_string();
        assert!(
            direct.contains(bottom),
            "a walk from here reaches {bottom}:\n{direct}"
        );
        // SAFETY: `walk` returns and never unwinds; the argument is not used.
        unsafe { sessions_fastpath_call_without_unwind_info(walk, std::ptr::null_mut()) };
        let walked = WALKED
            .with(|walked| walked.take())
            .expect("the shim called walk");
        assert!(
            !walked.contains(bottom),
            "the walk went past the shim:\n{walked}"
        );
        assert!(
            walked.lines().count() < direct.lines().count(),
            "{walked}\n---\n{direct}"
        );
    }

    #[test]
    fn detached_releases_the_gil_and_takes_it_back() {
        Python::initialize();
        Python::attach(|py| {
            let other_thread_ran_python = detached(py, || {
                // Another thread can take the GIL only while this one has released it.
                let (sent, received) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let value = Python::attach(|py| {
                        py.eval(c"6 * 7", None, None)
                            .and_then(|v| v.extract::<i64>())
                            .ok()
                    });
                    let _ = sent.send(value);
                });
                received.recv_timeout(std::time::Duration::from_secs(30))
            });
            assert_eq!(other_thread_ran_python, Ok(Some(42)));
            // Taken back: this thread runs Python again.
            let value = py
                .eval(c"7 * 6", None, None)
                .and_then(|v| v.extract::<i64>());
            assert_eq!(value.ok(), Some(42));
        });
    }

    #[test]
    fn a_panic_inside_detached_is_resumed_with_the_gil_back() {
        Python::initialize();
        Python::attach(|py| {
            let caught = catch_unwind(AssertUnwindSafe(|| detached(py, || panic!("inside"))));
            assert!(caught.is_err());
            let value = py
                .eval(c"1 + 1", None, None)
                .and_then(|v| v.extract::<i64>());
            assert_eq!(value.ok(), Some(2));
        });
    }
}
