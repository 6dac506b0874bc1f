//! Open-file-description locks for the bundled SQLite (part of the crate's one `unsafe`
//! module, [`crate::unsafe_code`]).
//!
//! SQLite's unix VFS locks a database with POSIX advisory locks (`fcntl(F_SETLK)`).
//! Those belong to the *process*, which is safe only while one copy of SQLite is in
//! it. A host often brings its own (Python's `sqlite3` module, an ORM): its locks and
//! ours then never conflict, so both copies write the WAL at once and acknowledged
//! writes are lost; and when it closes its descriptor, the kernel drops our locks too,
//! and it deletes the WAL under us ("disk I/O error" afterwards). SQLite documents the
//! hazard (<https://sqlite.org/howtocorrupt.html>, section 2.2).
//!
//! This module points the bundled SQLite's `fcntl` system call (through the VFS's
//! documented `xSetSystemCall` hook) at [`fcntl_ofd`], which turns the three locking
//! commands into their open-file-description forms (`F_OFD_SETLK`, `F_OFD_SETLKW`,
//! `F_OFD_GETLK`, Linux 3.15 and later). An OFD lock belongs to the open file, so it
//! conflicts with every other lock on the same bytes, a POSIX lock of this very
//! process included, and closing another descriptor does not release it. Other
//! processes' SQLite, with POSIX locks, conflict with ours as before: multi-process
//! sharing is unchanged.
//!
//! One consequence inside this SQLite copy: SQLite tracks locks per file (inode) and
//! may release the shared lock on the database file through another connection's
//! descriptor than the one that took it; with OFD locks that leaves the first
//! descriptor's shared lock in place until that connection closes. In WAL mode the
//! database file is only ever locked shared while connections are open (writers use
//! the WAL index's locks, taken through one descriptor per file), so the only effect
//! is that a closing connection does not checkpoint and delete the WAL while another
//! one of ours is open, which is what we want anyway.
//!
//! On other systems (no OFD locks) nothing is installed and SQLite keeps POSIX locks.

/// Installs the OFD redirect into the bundled SQLite once per process, before any
/// database is opened. Returns why it could not, if it could not (the store then
/// refuses to open rather than run unprotected).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn install() -> Result<(), String> {
    use std::sync::OnceLock;
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED.get_or_init(imp::install).clone()
}

/// Nothing to install where the system has no OFD locks.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn install() -> Result<(), String> {
    Ok(())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)]
mod imp {
    use std::ffi::{c_int, c_void, CStr};

    use rusqlite::ffi;

    /// SQLite's name for the system call this module replaces.
    const FCNTL: &CStr = c"fcntl";

    pub(super) fn install() -> Result<(), String> {
        // SAFETY: `sqlite3_initialize` may be called at any time and from any thread;
        // `sqlite3_vfs_find(NULL)` returns the default VFS (or NULL), which lives as
        // long as the process. We only call its `xSetSystemCall`, which SQLite
        // documents for exactly this use; it is called once (the `OnceLock` above),
        // before this module's callers open any connection, so no SQLite call is in
        // flight on our copy while the pointer changes.
        unsafe {
            if ffi::sqlite3_initialize() != ffi::SQLITE_OK {
                return Err("SQLite did not initialize".into());
            }
            let vfs = ffi::sqlite3_vfs_find(std::ptr::null());
            if vfs.is_null() {
                return Err("SQLite has no default VFS".into());
            }
            let Some(set) = (*vfs).xSetSystemCall else {
                return Err("SQLite's VFS cannot replace system calls".into());
            };
            // SAFETY of the transmute: SQLite stores every system call as a
            // type-erased `void (*)(void)` and casts it back to
            // `int (*)(int, int, ...)` before calling `fcntl`; `fcntl_ofd` has that
            // calling convention for its callers (see its own comment).
            let ptr: unsafe extern "C" fn() = std::mem::transmute::<
                unsafe extern "C" fn(c_int, c_int, *mut c_void) -> c_int,
                unsafe extern "C" fn(),
            >(fcntl_ofd);
            match set(vfs, FCNTL.as_ptr(), Some(ptr)) {
                ffi::SQLITE_OK => Ok(()),
                rc => Err(format!("SQLite refused the fcntl override (code {rc})")),
            }
        }
    }

    /// SQLite's `fcntl`, with the locking commands turned into OFD ones.
    ///
    /// SQLite calls it as `int fcntl(int fd, int cmd, ...)` with one optional argument:
    /// a `struct flock *` for `F_SETLK`, `F_SETLKW` and `F_GETLK`, an `int` for
    /// `F_SETFD`, and `0` for `F_GETFD`. On the Linux ABIs (x86-64 System V, AAPCS64,
    /// and the 32-bit ones) a variadic argument travels in the same register or stack
    /// slot as a fixed one of its size, so declaring it as a pointer-sized fixed
    /// parameter reads it correctly. (Apple's arm64 ABI differs; this is compiled for
    /// Linux and Android only.)
    ///
    /// # Safety
    /// For the three locking commands `arg` must point to a valid, writable
    /// `struct flock`, as `fcntl` itself requires; SQLite always passes one.
    unsafe extern "C" fn fcntl_ofd(fd: c_int, cmd: c_int, arg: *mut c_void) -> c_int {
        let ofd_cmd = match cmd {
            libc::F_SETLK => libc::F_OFD_SETLK,
            libc::F_SETLKW => libc::F_OFD_SETLKW,
            libc::F_GETLK => libc::F_OFD_GETLK,
            // Any other command takes an int (or nothing): pass it on as one. Only the
            // low 32 bits of an int argument are defined, hence the truncation.
            _ => return libc::fcntl(fd, cmd, arg as usize as c_int),
        };
        if arg.is_null() {
            *libc::__errno_location() = libc::EINVAL;
            return -1;
        }
        let caller = arg.cast::<libc::flock>();
        // SAFETY: see the function's contract; the copy is ours to change.
        let mut lock = caller.read();
        // OFD commands require l_pid == 0 on input (EINVAL otherwise).
        lock.l_pid = 0;
        let rc = libc::fcntl(fd, ofd_cmd, &mut lock as *mut libc::flock);
        if cmd == libc::F_GETLK && rc != -1 {
            caller.write(lock);
        }
        rc
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::os::fd::AsRawFd;

        fn flock(kind: c_int) -> libc::flock {
            // SAFETY: `flock` is plain old data; all-zero is a valid value.
            let mut l: libc::flock = unsafe { std::mem::zeroed() };
            l.l_type = kind as _;
            l.l_whence = libc::SEEK_SET as _;
            l.l_start = 100;
            l.l_len = 1;
            l
        }

        /// The invariant the module exists for: a lock taken through `fcntl_ofd`
        /// conflicts with a POSIX lock of this same process (which a second SQLite
        /// copy would take), and survives the close of another descriptor.
        #[test]
        fn ofd_locks_conflict_with_this_processes_posix_locks() {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("f");
            std::fs::write(&path, [0u8; 200]).expect("write");
            let ours = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .expect("open");
            let theirs = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .expect("open");
            let mut write = flock(libc::F_WRLCK as c_int);
            // SAFETY: valid descriptors and a valid `flock` for each call.
            unsafe {
                let arg = (&mut write as *mut libc::flock).cast::<c_void>();
                assert_eq!(fcntl_ofd(ours.as_raw_fd(), libc::F_SETLK, arg), 0);
                // The "other copy": a classic POSIX lock from this process conflicts.
                let mut posix = flock(libc::F_WRLCK as c_int);
                assert_eq!(
                    libc::fcntl(theirs.as_raw_fd(), libc::F_SETLK, &mut posix),
                    -1
                );
                // F_GETLK through the redirect reports the conflict the other way too.
                let mut probe = flock(libc::F_WRLCK as c_int);
                let probe_arg = (&mut probe as *mut libc::flock).cast::<c_void>();
                assert_eq!(fcntl_ofd(theirs.as_raw_fd(), libc::F_GETLK, probe_arg), 0);
                assert_eq!(probe.l_type as c_int, libc::F_WRLCK as c_int);
                // Closing another descriptor of the file keeps our lock.
                drop(theirs);
                let again = std::fs::File::open(&path).expect("open");
                let mut posix = flock(libc::F_RDLCK as c_int);
                assert_eq!(
                    libc::fcntl(again.as_raw_fd(), libc::F_SETLK, &mut posix),
                    -1
                );
                // Non-locking commands pass straight through.
                let flags = fcntl_ofd(ours.as_raw_fd(), libc::F_GETFD, std::ptr::null_mut());
                assert!(flags >= 0);
                // A null lock is refused, not dereferenced.
                assert_eq!(
                    fcntl_ofd(ours.as_raw_fd(), libc::F_SETLK, std::ptr::null_mut()),
                    -1
                );
            }
        }

        #[test]
        fn installs_once_and_sqlite_keeps_working() {
            assert_eq!(super::super::install(), Ok(()));
            assert_eq!(super::super::install(), Ok(()));
            let conn = rusqlite::Connection::open_in_memory().expect("open");
            let n: i64 = conn.query_row("SELECT 1", [], |r| r.get(0)).expect("query");
            assert_eq!(n, 1);
        }
    }
}
