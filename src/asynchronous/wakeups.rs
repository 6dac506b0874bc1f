//! Waking an event loop from its own thread (the Python package's asyncio integration).
//!
//! A finished job normally wakes the task awaiting it from the worker thread, and UniFFI
//! then calls the host's continuation callback on that thread. For Python that callback
//! needs the GIL: every finished call makes a worker and the busy event loop take turns
//! on the GIL, and under CPU contention the loop waits for the worker to be scheduled
//! (several milliseconds per call on a loaded machine). With loop wake-ups, a worker
//! only queues the waker and writes one byte to a socket the event loop watches; the
//! loop then calls `run_loop_wakeups`, which wakes the queued tasks on the loop's own
//! thread, so no worker ever waits for, or holds, the GIL on the library's account.
//!
//! Unix only (a `UnixStream` pair, no `unsafe`); elsewhere the wake-ups stay direct.

use std::io::{self, ErrorKind, Read, Write};
use std::sync::OnceLock;
use std::task::Waker;

use parking_lot::Mutex;

/// The process-wide queue of wakers and the socket pair that signals it.
struct LoopWakeups {
    #[cfg(unix)]
    reader: std::os::unix::net::UnixStream,
    #[cfg(unix)]
    writer: std::os::unix::net::UnixStream,
    wakers: Mutex<Vec<Waker>>,
}

static LOOP_WAKEUPS: OnceLock<io::Result<LoopWakeups>> = OnceLock::new();

#[cfg(unix)]
fn create() -> io::Result<LoopWakeups> {
    let (reader, writer) = std::os::unix::net::UnixStream::pair()?;
    reader.set_nonblocking(true)?;
    writer.set_nonblocking(true)?;
    Ok(LoopWakeups {
        reader,
        writer,
        wakers: Mutex::new(Vec::new()),
    })
}

#[cfg(not(unix))]
fn create() -> io::Result<LoopWakeups> {
    Err(io::Error::new(
        ErrorKind::Unsupported,
        "loop wake-ups need Unix sockets",
    ))
}

fn shared() -> io::Result<&'static LoopWakeups> {
    LOOP_WAKEUPS
        .get_or_init(create)
        .as_ref()
        .map_err(|e| io::Error::new(e.kind(), e.to_string()))
}

/// The file descriptor an event loop watches for readability (created on first use);
/// when it is readable, the loop calls [`run`].
pub(crate) fn fd() -> io::Result<i32> {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        shared().map(|w| w.reader.as_raw_fd())
    }
    #[cfg(not(unix))]
    {
        shared().map(|_| -1)
    }
}

/// Queues `waker` for the loop's thread and signals the loop; wakes it directly if the
/// queue cannot exist (then it was never handed out either).
pub(crate) fn defer(waker: Waker) {
    let Ok(wakeups) = shared() else {
        return waker.wake();
    };
    wakeups.wakers.lock().push(waker);
    #[cfg(unix)]
    {
        // A full socket buffer already holds a signal the loop has not read: enough.
        let _ = (&wakeups.writer).write(&[1]);
    }
}

/// On the event loop's thread: reads the signals, then wakes every queued task. A waker
/// queued after the read left its own byte, so the loop is signalled again for it.
pub(crate) fn run() {
    let Ok(wakeups) = shared() else {
        return;
    };
    #[cfg(unix)]
    {
        let mut buffer = [0u8; 256];
        loop {
            match (&wakeups.reader).read(&mut buffer) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break, // WouldBlock: nothing more to read
            }
        }
    }
    let wakers = std::mem::take(&mut *wakeups.wakers.lock());
    for waker in wakers {
        waker.wake();
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn deferred_wakers_run_on_the_thread_that_runs_them_and_signal_the_fd() {
        let fd = fd().expect("a socket pair");
        assert!(fd >= 0);
        let count = Arc::new(Count(AtomicUsize::new(0)));
        std::thread::scope(|s| {
            for _ in 0..4 {
                let waker = Waker::from(Arc::clone(&count));
                s.spawn(move || defer(waker));
            }
        });
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            0,
            "nothing woken before run()"
        );
        let mut pending = [0u8; 1];
        let mut reader = &shared().expect("the socket pair").reader;
        assert_eq!(reader.read(&mut pending).expect("a signal byte"), 1);
        run();
        assert_eq!(count.0.load(Ordering::SeqCst), 4);
        run(); // nothing queued: nothing happens
        assert_eq!(count.0.load(Ordering::SeqCst), 4);
    }
}
