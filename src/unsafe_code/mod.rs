//! The crate's one home for `unsafe` code; everything else in the crate is safe.
//!
//! Each submodule keeps its `unsafe` to the few lines that need it, writes the
//! invariants those lines rely on beside them (`// SAFETY:`), and tests each one:
//!
//! * [`ofd_locks`]: the bundled SQLite's `fcntl` redirected to open-file-description
//!   locks (a raw system call and SQLite's VFS hook).
//! * [`fast_path_abi`]: the per-request C entry point `sessions_fast_validate`, which
//!   turns the caller's pointers into slices and hands them to the safe
//!   [`crate::fast_path`].
//! * [`fast_path_jni`]: the same entry for the JVM as a JNI method (`RegisterNatives`
//!   from `sessions_jni_register`), taking the addresses of the caller's direct buffers.

pub(crate) mod fast_path_abi;
pub(crate) mod fast_path_jni;
pub(crate) mod ofd_locks;
